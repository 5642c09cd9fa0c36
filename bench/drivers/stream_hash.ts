// What the tcp workload's verification costs per byte: StreamHash (bench/workloads/tcp_epair.ts,
// the hash both ends keep in Node and in the browser worker) against Node's native zlib.crc32
// (what the tcp group used before the workload became platform-neutral) and a CRC-32 written
// in TypeScript (slicing-by-8, the portable alternative not taken), each over 1 GiB fed in
// 64 KiB pieces like the workload's, alternating, wall and CPU time, medians.
//
//   node --import tsx bench/drivers/stream_hash.ts [rounds]

import os from "node:os";
import zlib from "node:zlib";
import { median, nowNs } from "../lib.js";
import { StreamHash, CHUNK } from "../workloads/tcp_epair.js";

const rounds = Number(process.argv[2] ?? 5);
const PIECES = 2 ** 30 / CHUNK;

/** CRC-32 (zlib's polynomial and values), eight tables, two words per step. */
const T = (() => {
  const t = new Int32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let j = 0; j < 8; j++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) for (let s = 1; s < 8; s++) t[s * 256 + n] = (t[(s - 1) * 256 + n] >>> 8) ^ t[t[(s - 1) * 256 + n] & 0xff];
  return t;
})();
function crc32Ts(b: Uint8Array, prev: number): number {
  let c = ~prev;
  const w = new Int32Array(b.buffer, b.byteOffset, b.length >> 2); // 64 KiB pieces at offset 0
  for (let j = 0; j < w.length; j += 2) {
    const a = w[j] ^ c;
    const d = w[j + 1];
    c = T[1792 + (a & 0xff)] ^ T[1536 + ((a >>> 8) & 0xff)] ^ T[1280 + ((a >>> 16) & 0xff)] ^ T[1024 + (a >>> 24)] ^
      T[768 + (d & 0xff)] ^ T[512 + ((d >>> 8) & 0xff)] ^ T[256 + ((d >>> 16) & 0xff)] ^ T[d >>> 24];
  }
  return ~c >>> 0;
}

const zcrc = (zlib as { crc32?: (b: Uint8Array, prev: number) => number }).crc32;
const src = new Uint8Array(CHUNK);
for (let i = 0; i < CHUNK; i++) src[i] = (i * 131 + 7) & 0xff;
const stamp = new DataView(src.buffer);
if (zcrc && crc32Ts(src, 0) !== zcrc(src, 0)) throw new Error("stream_hash: the TypeScript CRC-32 differs from zlib.crc32");

const hashes: Record<string, () => unknown> = {
  StreamHash: () => {
    const h = new StreamHash();
    for (let i = 0; i < PIECES; i++) {
      stamp.setUint32(0, i);
      h.update(src);
    }
    return h.digest();
  },
  ...(zcrc ? {
    "zlib.crc32": () => {
      let c = 0;
      for (let i = 0; i < PIECES; i++) {
        stamp.setUint32(0, i);
        c = zcrc(src, c);
      }
      return c;
    },
  } : {}),
  "CRC-32 in TypeScript": () => {
    let c = 0;
    for (let i = 0; i < PIECES; i++) {
      stamp.setUint32(0, i);
      c = crc32Ts(src, c);
    }
    return c;
  },
};

const wall: Record<string, number[]> = {};
const cpu: Record<string, number[]> = {};
for (const [name, f] of Object.entries(hashes)) {
  f(); // warm-up
  wall[name] = [];
  cpu[name] = [];
}
for (let r = 0; r < rounds; r++) {
  for (const [name, f] of Object.entries(hashes)) {
    const t0 = nowNs();
    const c0 = process.cpuUsage();
    f();
    const c = process.cpuUsage(c0);
    wall[name].push(1 / ((nowNs() - t0) / 1e9));
    cpu[name].push(1 / ((c.user + c.system) / 1e6));
  }
}
for (const name of Object.keys(hashes)) {
  console.log(`${name}: ${median(wall[name]).toFixed(2)} GiB/s wall, ${median(cpu[name]).toFixed(2)} GiB per CPU second (median of ${rounds} x 1 GiB in 64 KiB pieces; wall runs ${wall[name].map((x) => x.toFixed(2)).join(" ")})`);
}
console.log(`Node ${process.version}, load average ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}`);
