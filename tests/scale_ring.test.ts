import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { Worker } from "node:worker_threads";
import { FrameRing } from "../host/scale/ring.js";

// The cross-partition frame ring (host/scale/ring.ts): order, contents and times survive
// wrapping; a full ring refuses and counts instead of overwriting; across two threads
// every frame arrives once, in order, with the producer retrying when full.

const frame = (i: number, len: number) => Uint8Array.from({ length: len }, (_, j) => (i * 7 + j) & 255);

describe("FrameRing", () => {
  test("frames come out in order with their bytes and times across many wraps", () => {
    const ring = new FrameRing(FrameRing.create(4096));
    let next = 0;
    let got = 0;
    for (let round = 0; round < 400; round++) {
      // A batch of 1..5 frames of 1..700 bytes, then read everything.
      const batch = 1 + (round % 5);
      for (let k = 0; k < batch; k++) {
        const len = 1 + ((next * 131) % 700);
        assert.ok(ring.push(frame(next, len), next * 10), `push ${next}`);
        next++;
      }
      assert.equal(ring.pending(), false, "nothing visible before publish");
      ring.publish();
      assert.equal(ring.pending(), true);
      ring.pop((f, at) => {
        const len = 1 + ((got * 131) % 700);
        assert.equal(f.length, len);
        assert.deepEqual(f, frame(got, len));
        assert.equal(at, got * 10);
        got++;
      });
    }
    assert.equal(got, next);
    assert.deepEqual(ring.stats(), { pushed: next, full: 0, popped: next });
  });

  test("a full ring refuses and counts, and never overwrites what was not read", () => {
    const ring = new FrameRing(FrameRing.create(4096));
    let pushed = 0;
    while (ring.push(frame(pushed, 100), pushed)) pushed++;
    assert.ok(pushed >= 30 && pushed < 4096 / 116, `${pushed} frames of 100 bytes in 4 KiB`);
    assert.equal(ring.push(frame(99, 8), 0), false);
    ring.publish();
    const seen: number[] = [];
    ring.pop((f, at) => {
      assert.deepEqual(f, frame(at, 100));
      seen.push(at);
    });
    assert.deepEqual(seen, Array.from({ length: pushed }, (_, i) => i));
    assert.equal(ring.stats().full, 2);
    // Wrapped: read 10, write until full again (the writer now chases the reader's tail).
    for (let i = 0; i < pushed; i++) assert.ok(ring.push(frame(1000 + i, 100), 1000 + i) || i >= 10, `push ${i}`);
    ring.publish();
    const again: number[] = [];
    ring.pop((f, at) => {
      assert.deepEqual(f, frame(at, 100));
      again.push(at);
    });
    assert.ok(again.length >= 10 && again.length < pushed, `${again.length} after the wrap`);
    assert.deepEqual(again, Array.from({ length: again.length }, (_, i) => 1000 + i));
    const full = ring.stats().full;
    // A frame larger than half the ring is refused outright.
    assert.equal(ring.push(new Uint8Array(ring.maxFrame + 1), 0), false);
    assert.equal(ring.stats().full, full + 1);
  });

  test("two threads: 20,000 frames arrive once each, in order, intact", async () => {
    const sab = FrameRing.create(64 * 1024);
    const ring = new FrameRing(sab);
    const n = 20_000;
    const entry = new URL("./helpers/ring_producer.ts", import.meta.url).href;
    const w = new Worker(`import("tsx/esm/api").then((t) => { t.register(); return import(${JSON.stringify(entry)}); });`, { eval: true, workerData: { sab, n } });
    let done = false;
    w.on("message", () => (done = true));
    let got = 0;
    let bad = "";
    while (got < n) {
      const seq = ring.seq();
      const k = ring.pop((f, at) => {
        const len = 1 + ((got * 37) % 1500);
        if (at !== got || f.length !== len || f[0] !== (got & 255) || f[len - 1] !== ((got + len - 1) & 255)) bad ||= `frame ${got}: at ${at}, len ${f.length}`;
        got++;
      });
      if (k === 0) await ring.waitAsync(seq, done ? 0 : 200);
    }
    await w.terminate();
    assert.equal(bad, "");
    assert.equal(got, n);
    const st = ring.stats();
    assert.equal(st.pushed, n);
    assert.equal(st.popped, n);
  });
});
