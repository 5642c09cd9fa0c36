import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { VirtualClock, Kernel } from "../host/index.js";

/** A stand-in kernel: a sorted list of deadlines; firing one may arm another. */
function fakeTarget(deadlines: number[], onFire: (at: number) => number | undefined = () => undefined) {
  const pending = [...deadlines].sort((a, b) => a - b);
  const fired: number[] = [];
  return {
    fired,
    tick(now: number) {
      let n = 0;
      while (pending.length && pending[0] <= now) {
        const d = pending.shift()!;
        fired.push(now);
        n++;
        const again = onFire(now);
        if (again !== undefined) {
          pending.push(again);
          pending.sort((a, b) => a - b);
        }
        if (again !== undefined && again <= now) break; // re-armed for "now": next tick
      }
      return n;
    },
    next() {
      return pending.length ? pending[0] : -1;
    },
  };
}

describe("VirtualClock", () => {
  test("advance steps from deadline to deadline and fires each at its own time", () => {
    const c = new VirtualClock();
    const t = fakeTarget([30, 10, 20, 500]);
    c.attach(t);
    assert.equal(c.advance(100), 3);
    assert.deepEqual(t.fired, [10, 20, 30]);
    assert.equal(c.now(), 100);
    assert.equal(c.runUntilIdle(), 1);
    assert.equal(c.now(), 500);
  });

  test("a callout that re-arms itself with delay 0 moves time 1 µs per round instead of hanging", () => {
    const c = new VirtualClock();
    const t = fakeTarget([5], (at) => at);
    c.attach(t);
    c.advance(10);
    assert.equal(c.now(), 10);
    assert.deepEqual(t.fired, [5, 6, 7, 8, 9, 10]);
  });

  test("advance rejects negative and non-finite steps", () => {
    const c = new VirtualClock();
    c.attach(fakeTarget([]));
    assert.throws(() => c.advance(-1), RangeError);
    assert.throws(() => c.advance(Number.NaN), RangeError);
  });

  test("virtual time runs the kernel's callouts exactly and repeatably", async () => {
    const runs: number[][] = [];
    for (let r = 0; r < 2; r++) {
      const k = await Kernel.boot({ config: "DEMO", seed: 7 });
      const vs = [k.createVnet(), k.createVnet()];
      const clock = k.clock as VirtualClock;
      clock.advance(2_500_000);
      const demo = k.module<{ demo_ticks(v: number): number }>("vnet_demo");
      runs.push([...vs.map((v) => demo.demo_ticks(v.ptr)), k.k.callout_next(), k.k.arc4random()]);
      k.shutdown();
    }
    assert.deepEqual(runs[0], runs[1]);
    assert.equal(runs[0][0], 2);
    assert.equal(runs[0][2], 3_000_000, "next deadline is the next whole second");
  });
});

describe("RealClock", () => {
  test("fires a deadline from a Node timer and re-arms for the next", async () => {
    const { RealClock } = await import("../host/index.js");
    const c = new RealClock();
    const now = c.now();
    const t = fakeTarget([now + 10_000, now + 30_000]);
    c.attach(t);
    const deadline = Date.now() + 5000;
    while (t.fired.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    c.stop();
    assert.equal(t.fired.length, 2);
    assert.ok(t.fired[0] >= now + 10_000, "never early");
    assert.ok(t.fired[1] >= now + 30_000, "never early");
  });

  test("a kernel on the real clock runs its callouts in real time", async () => {
    const k = await Kernel.boot({ config: "DEMO", clock: "real" });
    const v = k.createVnet();
    const demo = k.module<{ demo_ticks(v: number): number }>("vnet_demo");
    const deadline = Date.now() + 5000;
    while (demo.demo_ticks(v.ptr) < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(demo.demo_ticks(v.ptr), 1);
    k.shutdown();
  });
});
