// AbortSignal on Topology.up and runSteps: an abort leaves nothing behind that down() (or up()
// itself) does not take away, and says what was done before it.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { Kernel, Topology, parseTopology, AbortError, type StepResult } from "../host/index.js";

const FILE = `
name: abort
nodes:
  - { name: a, interfaces: [{ name: eth0, addresses: [10.0.0.1/24] }] }
  - { name: b, interfaces: [{ name: eth0, addresses: [10.0.0.2/24] }], services: [{ kind: tcp-echo }] }
links:
  - { endpoints: [a:eth0, b:eth0] }
steps:
  - { ping: { from: a, to: b, count: 2 } }
  - { sleep: 5s }
  - { ping: { from: a, to: b, count: 2 } }
`;

describe("AbortSignal on a topology", () => {
  test("up() with an aborted signal rejects with AbortError and boots nothing", async () => {
    const c = new AbortController();
    c.abort(new Error("no thanks"));
    const k = await Kernel.boot();
    await assert.rejects(Topology.up(parseTopology(FILE), { kernel: k, signal: c.signal }), (e: unknown) => {
      assert.ok(e instanceof AbortError, String(e));
      assert.equal((e as AbortError).cause, c.signal.reason);
      return true;
    });
    assert.equal(k.vnets().length, 1, "only vnet0");
    k.shutdown();
  });

  test("an abort while up() builds tears down what was made", async () => {
    const k = await Kernel.boot();
    const before = k.accounting().pagesInUse;
    const c = new AbortController();
    // Abort as soon as the first vnet exists: up() is between phases then.
    const made = k.createVnet.bind(k);
    k.createVnet = (name?: string) => {
      const v = made(name);
      c.abort();
      return v;
    };
    await assert.rejects(Topology.up(parseTopology(FILE), { kernel: k, signal: c.signal }), AbortError);
    assert.equal(k.vnets().length, 1, "the vnets made before the abort are gone");
    k.reclaim();
    assert.equal(k.accounting().pagesInUse, before, "no pages left");
    k.shutdown();
  });

  test("runSteps stops between steps and in the middle of one, with the results so far; down() is clean", async () => {
    const t = await Topology.up(parseTopology(FILE), { clock: "real" });
    const c = new AbortController();
    const started: number[] = [];
    const t0 = Date.now();
    // The first ping runs; the 5 s sleep is cut short 100 ms in.
    const p = t.runSteps({ signal: c.signal, onEvent: (e) => {
      if (e.type === "start") started.push(e.index);
      if (e.type === "start" && e.index === 1) setTimeout(() => c.abort(), 100);
    } });
    await assert.rejects(p, (e: unknown) => {
      assert.ok(e instanceof AbortError, String(e));
      const partial = (e as AbortError<StepResult[]>).partial!;
      assert.equal(partial.length, 1, "the first step's result");
      assert.ok(partial[0]!.ok, partial[0]!.detail);
      return true;
    });
    assert.ok(Date.now() - t0 < 3000, `returned before the sleep would end (${Date.now() - t0} ms)`);
    assert.deepEqual(started, [0, 1], "the third step never started");
    const report = await t.down();
    assert.ok(report.ok, report.text);
    assert.equal(report.pagesLeaked, 0, report.text);
    assert.deepEqual(report.itemsLeaked, {}, report.text);
    assert.equal(report.socketsLeft, 0, report.text);
  });
});
