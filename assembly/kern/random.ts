// The kernel's random numbers: xoshiro128** seeded by the host, so a run under virtual
// time with a given seed repeats exactly. (Not for secrets: a seeded emulator wants
// repeatability; ISNs and the like mix in their own keys on top of it.)
//
// One stream per vnet (issue 14 item 7): arc4random() draws from the current vnet's own
// state, derived at vnet_alloc from the kernel seed and the vnet's id, so what a vnet draws
// (ISN keys, ephemeral ports, IP IDs, timestamps offsets, link-condition dice) depends on
// the seed, its id and its own history only: a neighbour's traffic cannot shift it. With no
// current vnet (boot, before vnet0) the kernel's own stream is used.

import { curvnet } from "./vnet";

/** Bytes of one stream's state (four u32: s0..s3). */
export const RANDOM_STATE_SIZE: u32 = 16;

const kstate = memory.data(16, 8);
let kseed: u64 = 0;

/** Where curvnet keeps its stream; set by vnet.ts (offsetof<Vnet>("rnd")). */
let vnetStateOff: usize = 0;

export function random_set_vnet_offset(off: usize): void {
  vnetStateOff = off;
}

/**
 * Where vnet v keeps its stream (RANDOM_STATE_SIZE bytes): the host saves and puts back a
 * stream around work whose draws it then undoes (a cut link's tap: its drawn MAC is replaced
 * by the link's, and the draw must not shift the node's later numbers; host/scale/xlink.ts).
 */
export function random_vnet_state(v: usize): usize {
  return v + vnetStateOff;
}

function splitmix(x: u64): u64 {
  x += 0x9e3779b97f4a7c15;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9;
  x = (x ^ (x >> 27)) * 0x94d049bb133111eb;
  return x ^ (x >> 31);
}

/** Fill a stream's state from a 64-bit key (never all zero: xoshiro's one fixed point). */
function seed_state(p: usize, key: u64): void {
  const a = splitmix(key);
  const b = splitmix(a);
  store<u32>(p, <u32>a);
  store<u32>(p, <u32>(a >> 32), 4);
  store<u32>(p, <u32>b, 8);
  store<u32>(p, <u32>(b >> 32), 12);
  if ((load<u64>(p) | load<u64>(p, 8)) == 0) store<u32>(p, 1);
}

export function kern_srandom(seed: f64): void {
  kseed = <u64>seed;
  seed_state(kstate, kseed);
}

/**
 * The stream of the vnet with this id, at p: a key from the kernel seed and the id through
 * splitmix64 (distinct ids give unrelated streams; the same seed and id, the same stream).
 */
export function random_vnet_seed(p: usize, id: u32): void {
  seed_state(p, splitmix(kseed) ^ splitmix((<u64>0x76737472 << 32) | <u64>id));
}

@inline function next(p: usize): u32 {
  let s0 = load<u32>(p);
  let s1 = load<u32>(p, 4);
  let s2 = load<u32>(p, 8);
  let s3 = load<u32>(p, 12);
  const result = rotl<u32>(s1 * 5, 7) * 9;
  const t = s1 << 9;
  s2 ^= s0;
  s3 ^= s1;
  s1 ^= s2;
  s0 ^= s3;
  s2 ^= t;
  s3 = rotl<u32>(s3, 11);
  store<u32>(p, s0);
  store<u32>(p, s1, 4);
  store<u32>(p, s2, 8);
  store<u32>(p, s3, 12);
  return result;
}

export function arc4random(): u32 {
  const v = curvnet();
  return next(v != 0 ? v + vnetStateOff : kstate);
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
