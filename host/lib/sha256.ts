// SHA-256 (FIPS 180-4, sections 4.1.2, 4.2.2, 5.1.1, 5.3.3 and 6.2), incremental: update()
// with any number of chunks, then digest(). Plain ECMAScript, so the core checks a TCP
// transfer's bytes in a browser too (Web Crypto's digest takes the whole message at once
// and is asynchronous; Node's crypto module is Node's alone).

/** FIPS 180-4 4.2.2: the first 32 bits of the fractional parts of the cube roots of the first 64 primes. */
const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

/** FIPS 180-4 5.3.3: the initial hash value (square roots of the first 8 primes). */
const H0 = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

const ENCODER = new TextEncoder();

export class Sha256 {
  readonly #h = new Uint32Array(H0);
  /** The message schedule W0..W63 (6.2.2 step 1). */
  readonly #w = new Uint32Array(64);
  /** A partial 64-byte block waiting for more input. */
  readonly #block = new Uint8Array(64);
  #blockLen = 0;
  /** Message length in bytes (a double: exact up to 2^53, far beyond anything hashed here). */
  #length = 0;
  #done = false;

  /** Add bytes (a string is hashed as its UTF-8). */
  update(data: Uint8Array | string): this {
    if (this.#done) throw new Error("Sha256: update after digest");
    const bytes = typeof data === "string" ? ENCODER.encode(data) : data;
    this.#length += bytes.length;
    let off = 0;
    if (this.#blockLen > 0) {
      const take = Math.min(64 - this.#blockLen, bytes.length);
      this.#block.set(bytes.subarray(0, take), this.#blockLen);
      this.#blockLen += take;
      off = take;
      if (this.#blockLen < 64) return this;
      this.#compress(this.#block, 0);
      this.#blockLen = 0;
    }
    for (; off + 64 <= bytes.length; off += 64) this.#compress(bytes, off);
    if (off < bytes.length) {
      this.#block.set(bytes.subarray(off), 0);
      this.#blockLen = bytes.length - off;
    }
    return this;
  }

  /** The 32-byte digest; the hash takes no more input afterwards. */
  digestBytes(): Uint8Array {
    if (!this.#done) this.#finish();
    const out = new Uint8Array(32);
    const dv = new DataView(out.buffer);
    for (let i = 0; i < 8; i++) dv.setUint32(i * 4, this.#h[i], false);
    return out;
  }

  /** The digest as 64 lowercase hex digits. */
  digest(encoding: "hex" = "hex"): string {
    if (encoding !== "hex") throw new Error(`Sha256: digest encoding must be "hex", got ${JSON.stringify(encoding)}`);
    let s = "";
    for (const b of this.digestBytes()) s += b.toString(16).padStart(2, "0");
    return s;
  }

  /** 5.1.1 padding: a 1 bit, zeros to 56 bytes mod 64, the length in bits as 64 bits big-endian. */
  #finish(): void {
    const bits = this.#length * 8;
    const b = this.#block;
    b[this.#blockLen++] = 0x80;
    if (this.#blockLen > 56) {
      b.fill(0, this.#blockLen);
      this.#compress(b, 0);
      this.#blockLen = 0;
    }
    b.fill(0, this.#blockLen, 56);
    const dv = new DataView(b.buffer, b.byteOffset, 64);
    dv.setUint32(56, Math.floor(bits / 0x1_0000_0000), false);
    dv.setUint32(60, bits >>> 0, false);
    this.#compress(b, 0);
    this.#done = true;
  }

  /** 6.2.2: one 512-bit block at m[off..off+64]. */
  #compress(m: Uint8Array, off: number): void {
    const w = this.#w;
    for (let t = 0; t < 16; t++) {
      const i = off + t * 4;
      w[t] = (m[i] << 24) | (m[i + 1] << 16) | (m[i + 2] << 8) | m[i + 3];
    }
    for (let t = 16; t < 64; t++) {
      const x = w[t - 15];
      const y = w[t - 2];
      // 4.1.2 (4.6), (4.7): sigma0, sigma1
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      w[t] = (s1 + w[t - 7] + s0 + w[t - 16]) | 0;
    }
    const h = this.#h;
    let a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (let t = 0; t < 64; t++) {
      // 4.1.2 (4.4), (4.5): Sigma1, Sigma0; (4.2) Ch, (4.3) Maj
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const ch = (e & f) ^ (~e & g);
      const t1 = (hh + S1 + ch + K[t] + w[t]) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const maj = (a & b) ^ (a & c) ^ (b & c);
      const t2 = (S0 + maj) | 0;
      hh = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += hh;
  }
}

/** SHA-256 of data as hex. */
export function sha256Hex(data: Uint8Array | string): string {
  return new Sha256().update(data).digest();
}
