// The kernel's random numbers: xoshiro128** seeded by the host, so a run under virtual
// time with a given seed repeats exactly. (Not for secrets: a seeded emulator wants
// repeatability; ISNs and the like mix in their own keys on top of it.)

let s0: u32 = 0x9e3779b9;
let s1: u32 = 0x243f6a88;
let s2: u32 = 0xb7e15162;
let s3: u32 = 0x85a308d3;

function splitmix(x: u64): u64 {
  x += 0x9e3779b97f4a7c15;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9;
  x = (x ^ (x >> 27)) * 0x94d049bb133111eb;
  return x ^ (x >> 31);
}

export function kern_srandom(seed: f64): void {
  const a = splitmix(<u64>seed);
  const b = splitmix(a);
  s0 = <u32>a;
  s1 = <u32>(a >> 32);
  s2 = <u32>b;
  s3 = <u32>(b >> 32);
  if ((s0 | s1 | s2 | s3) == 0) s0 = 1;
}

export function arc4random(): u32 {
  const result = rotl<u32>(s1 * 5, 7) * 9;
  const t = s1 << 9;
  s2 ^= s0;
  s3 ^= s1;
  s1 ^= s2;
  s0 ^= s3;
  s2 ^= t;
  s3 = rotl<u32>(s3, 11);
  return result;
}

/** Uniform in [0, n) without modulo bias (Lemire). */
export function arc4random_uniform(n: u32): u32 {
  if (n <= 1) return 0;
  let m = <u64>arc4random() * <u64>n;
  let l = <u32>m;
  if (l < n) {
    const t: u32 = (<u32>0 - n) % n;
    while (l < t) {
      m = <u64>arc4random() * <u64>n;
      l = <u32>m;
    }
  }
  return <u32>(m >> 32);
}
