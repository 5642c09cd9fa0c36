// The tcp bench's transfer checks what it moves (bench/workloads/tcp_epair.ts bulkPair, issue
// 14 "benchmarks that state their honesty"): a hash of every byte sent against every byte
// read, the same code in Node and in the browser group's worker. These prove the check can
// fail: one flipped byte in what B reads throws, with offloads on and off; that the
// offload-off pair really sends MTU-sized segments; and that the hash itself does not depend
// on how the stream is cut or where it lies in memory, while any flipped byte, swapped
// chunks or a missing byte change it.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import "../host/index.js"; // Node's platform for the shared workload
import { bulkPair, StreamHash, CHUNK } from "../bench/workloads/tcp_epair.js";

const MiB = 2 ** 20;

/** A deterministic pseudo-random byte stream (xorshift32). */
function bytes(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed | 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

const digest = (...pieces: Uint8Array[]) => pieces.reduce((h, p) => h.update(p), new StreamHash()).digest();

describe("tcp bench: the stream hash", () => {
  test("the digest does not depend on how the stream is cut or where each piece lies in memory", () => {
    const data = bytes(200_003, 7);
    const whole = digest(data);
    assert.match(whole, /^[0-9a-f]{32}$/);
    let rnd = 12345;
    const next = (m: number) => {
      rnd = (Math.imul(rnd, 1103515245) + 12345) >>> 0;
      return rnd % m;
    };
    for (let trial = 0; trial < 40; trial++) {
      const h = new StreamHash();
      for (let i = 0; i < data.length; ) {
        const m = Math.min(data.length - i, trial < 20 ? 1 + next(20) : 1 + next(70_000));
        // A copy at a random offset of a bigger buffer: pieces 4-aligned in memory or not.
        const off = next(8);
        const buf = new Uint8Array(off + m);
        buf.set(data.subarray(i, i + m), off);
        h.update(buf.subarray(off));
        i += m;
      }
      assert.equal(h.digest(), whole, `trial ${trial}`);
    }
  });

  test("every flipped byte changes the digest (in every word of the blocks and in the tail)", () => {
    const data = bytes(4096 + 5, 9);
    const good = digest(data);
    for (let i = 0; i < data.length; i++) {
      for (const bit of [0x01, 0x80, 0x5a]) {
        data[i] ^= bit;
        assert.notEqual(digest(data), good, `byte ${i} ^ 0x${bit.toString(16)}`);
        data[i] ^= bit;
      }
    }
    assert.equal(digest(data), good);
  });

  test("swapped or repeated 64 KiB chunks and a missing byte change the digest", () => {
    // Chunks as bulkPair sends them: one pattern, a counter stamped at 0 and at CHUNK / 2.
    const chunk = (seq: number) => {
      const c = new Uint8Array(CHUNK);
      for (let i = 0; i < CHUNK; i++) c[i] = (i * 131 + 7) & 0xff;
      const v = new DataView(c.buffer);
      v.setUint32(0, seq);
      v.setUint32(CHUNK >> 1, seq);
      return c;
    };
    const [c1, c2, c3] = [chunk(1), chunk(2), chunk(3)];
    const good = digest(c1, c2, c3);
    assert.notEqual(digest(c2, c1, c3), good, "first two swapped");
    assert.notEqual(digest(c1, c3, c2), good, "last two swapped");
    assert.notEqual(digest(c1, c1, c3), good, "a chunk repeated in place of the next");
    const all = new Uint8Array(3 * CHUNK);
    all.set(c1);
    all.set(c2, CHUNK);
    all.set(c3, 2 * CHUNK);
    assert.equal(digest(all), good);
    assert.notEqual(digest(all.subarray(0, all.length - 1)), good, "last byte missing");
    // A segment's worth (1448 bytes) moved later in the stream, everything else in place.
    const moved = new Uint8Array(all.length);
    moved.set(all.subarray(0, 1000));
    moved.set(all.subarray(1000 + 1448, 100_000), 1000);
    moved.set(all.subarray(1000, 1000 + 1448), 100_000 - 1448);
    moved.set(all.subarray(100_000), 100_000);
    assert.notEqual(digest(moved), good, "a segment delivered late");
  });
});

describe("tcp bench: the bulk transfer verifies its bytes", () => {
  for (const offload of [true, false]) {
    const what = offload ? "offloads on" : "offloads off";
    test(`${what}: 8 MiB moved and verified; one flipped byte in what B reads throws`, async () => {
      const good = await bulkPair({ offload });
      const c0 = good.ea.counters();
      good.move(8 * MiB);
      const c1 = good.ea.counters();
      const frames = c1.opackets - c0.opackets;
      const avg = (c1.obytes - c0.obytes) / frames; // A sends data; B the ACKs
      if (offload) assert.ok(avg > 4000, `large frames with TSO: ${Math.round(avg)} B on average`);
      else assert.ok(avg <= 1514 && avg > 1400 && frames >= (8 * MiB) / 1460, `MTU-sized frames without TSO: ${frames} of ${Math.round(avg)} B on average`);
      good.move(3 * MiB + 17, { copyOut: true }); // recv() and an odd length too
      good.close();

      const bad = await bulkPair({ offload, corruptAt: 5 * MiB + 3 });
      assert.throws(() => bad.move(8 * MiB), /the 8388608 bytes read are not the bytes sent: stream hash/);
      bad.close();
    });
  }
});
