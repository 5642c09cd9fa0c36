// The hash both ends of a verified stream keep (the tcp_epair bench, the shell's iperf).
// Written here rather than taken from node:zlib
// (crc32) so that a browser worker verifies with the very same code as Node. A CRC-32 in
// TypeScript (slicing-by-8) hashes about 1.2 GiB per CPU second here, a quarter of native
// zlib.crc32, and at tens of Gbit/s that would be most of the figure; this word hash is about
// as fast as zlib.crc32 (bench/drivers/stream_hash.ts; bench/README.md gives the figures).
//
// The stream is cut into 16-byte blocks (four 32-bit words, native byte order: both ends
// are in one process) at fixed stream offsets, however send() and recv() split it, and word
// i of each block feeds lane i: x = imul(rotl(x ^ w, 13), M), M odd. Every step is a
// bijection of x for a given word and of the word for a given x, so a stream differing in
// one 32-bit word (any flipped byte) leaves that lane's state different from then on: always
// caught. The lanes are sequential, so reordered chunks change them too; that, and any
// wider damage, escapes only by a digest collision: about 2^-32 for damage confined to one
// lane's words (like a CRC-32), about 2^-128 for damage reaching all four if the lanes mix
// well (a design estimate, not a proof). tests/bench_verify.test.ts checks all three;
// bench/README.md gives its speed. Four lanes rather than one let the
// CPU run four multiply chains side by side.

const M = [0x9e3779b1 | 0, 0x85ebca77 | 0, 0xc2b2ae3d | 0, 0x27d4eb2f | 0];
const [M0, M1, M2, M3] = M;

/** murmur3's 32-bit finaliser: a bijection, so it loses nothing. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

export class StreamHash {
  private readonly lane = new Int32Array([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344]);
  private len = 0;
  /** Bytes of the block not complete yet (a piece's length need not be a multiple of 16). */
  private readonly pend = new Uint8Array(16);
  private npend = 0;
  /** Where a piece whose blocks do not start 4-aligned in memory is copied to be read as words. */
  private scratch: Uint8Array | undefined;

  /** Hash the next piece of the stream. */
  update(b: Uint8Array): this {
    const n = b.length;
    let i = 0;
    this.len += n;
    if (this.npend > 0) {
      i = Math.min(16 - this.npend, n);
      this.pend.set(b.subarray(0, i), this.npend);
      this.npend += i;
      if (this.npend < 16) return this;
      this.blocks(this.pend, 0, 16);
      this.npend = 0;
    }
    const whole = (n - i) & ~15;
    if (((b.byteOffset + i) & 3) === 0) {
      if (whole > 0) this.blocks(b, i, whole);
      i += whole;
    } else {
      const s = (this.scratch ??= new Uint8Array(65536));
      for (const end = i + whole; i < end; ) {
        const m = Math.min(s.length, end - i);
        s.set(b.subarray(i, i + m));
        this.blocks(s, 0, m);
        i += m;
      }
    }
    if (i < n) {
      this.pend.set(b.subarray(i), 0);
      this.npend = n - i;
    }
    return this;
  }

  private blocks(b: Uint8Array, off: number, bytes: number): void {
    const w = new Int32Array(b.buffer, b.byteOffset + off, bytes >> 2);
    const l = this.lane;
    let a = l[0];
    let c = l[1];
    let d = l[2];
    let e = l[3];
    for (let j = 0; j < w.length; j += 4) {
      a ^= w[j];
      a = Math.imul((a << 13) | (a >>> 19), M0);
      c ^= w[j + 1];
      c = Math.imul((c << 13) | (c >>> 19), M1);
      d ^= w[j + 2];
      d = Math.imul((d << 13) | (d >>> 19), M2);
      e ^= w[j + 3];
      e = Math.imul((e << 13) | (e >>> 19), M3);
    }
    l[0] = a;
    l[1] = c;
    l[2] = d;
    l[3] = e;
  }

  /** The digest of everything so far (32 hex digits); the hash goes on unchanged. */
  digest(): string {
    const l = Int32Array.from(this.lane);
    if (this.npend > 0) {
      const last = new Uint8Array(16); // the tail block, zero-padded; the length tells it apart
      last.set(this.pend.subarray(0, this.npend));
      const w = new Int32Array(last.buffer);
      for (let k = 0; k < 4; k++) {
        const x = l[k] ^ w[k];
        l[k] = Math.imul((x << 13) | (x >>> 19), M[k]);
      }
    }
    l[0] ^= this.len >>> 0;
    l[1] ^= Math.floor(this.len / 2 ** 32);
    return Array.from(l, (x) => fmix32(x).toString(16).padStart(8, "0")).join("");
  }
}
