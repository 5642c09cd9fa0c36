import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadTopology } from "../host/index.js";
import { parseTopology, type TopologySpec } from "../host/topology/index.js";
import { partition } from "../host/scale/partition.js";
import { ScaleError } from "../host/scale/lab.js";
import { scaleUp, nodeSpawn, type NodeWorker } from "../host/scale/spawn_node.js";

// A topology over several kernels in worker threads (host/scale/, docs/scale.md): a seeded
// virtual-time run over 2 kernels equals the run over 1 (every step result, every link end's
// counters, every link end's capture byte for byte) on the shipped examples that split; a
// cross-partition link keeps the epair's delay and rate to the microsecond; a worker that
// fails ends the run naming its partition and nodes, and leaves no worker running.

async function run(spec: TopologySpec, workers: number) {
  const dir = mkdtempSync(join(tmpdir(), "wavnet-scale-"));
  try {
    const lab = await scaleUp(spec, { workers, captureLinksDir: dir });
    const results = await lab.runSteps();
    const report = await lab.down();
    assert.equal(lab.workersRunning, 0);
    const pcaps = Object.fromEntries(readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f))]));
    return {
      plan: lab.plan,
      results: results.map(({ wallMs: _, ...r }) => r),
      counters: report.counters.sort((a, b) => `${a.node}:${a.iface}`.localeCompare(`${b.node}:${b.iface}`)),
      pcaps,
      report,
    };
  }
  finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const EXAMPLES = ["chain", "demo", "dualstack", "firewall", "home_nat", "shapes", "star", "tree"];
const qualifying = EXAMPLES.filter((x) => partition(loadTopology(`examples/${x}.yaml`), 2).partitions === 2);

describe("scale-out: N kernels equal one", () => {
  test("the examples that split over 2 partitions are star, shapes and tree (two of them with cut links)", () => {
    assert.deepEqual(qualifying, ["shapes", "star", "tree"]);
  });

  for (const name of qualifying) {
    test(`examples/${name}.yaml: 2 workers give what 1 gives (results, counters, pcap bytes)`, async () => {
      const spec = loadTopology(`examples/${name}.yaml`);
      const one = await run(spec, 1);
      const two = await run(spec, 2);
      assert.equal(one.plan.partitions, 1);
      assert.equal(two.plan.partitions, 2);
      assert.ok(one.results.every((r) => r.ok), JSON.stringify(one.results.filter((r) => !r.ok)));
      assert.deepEqual(two.results, one.results);
      assert.deepEqual(two.counters, one.counters);
      assert.ok(one.counters.length >= 2 * spec.links.length);
      assert.deepEqual(Object.keys(two.pcaps), Object.keys(one.pcaps));
      for (const f of Object.keys(one.pcaps)) assert.ok(two.pcaps[f]!.equals(one.pcaps[f]!), `${f} differs`);
      assert.ok(one.report.ok && two.report.ok, `${one.report.text}\n${two.report.text}`);
      assert.equal(two.report.partitions.length, 2);
    });
  }
});

/** r0 - r1 over a link of the given conditions, each behind a host on a plain link. */
const PAIR = (cond: string, steps: string) => parseTopology(`name: pair
seed: 3
nodes:
  - name: h0
    interfaces: [{ name: eth0, addresses: [10.0.0.2/24] }]
    routes: [{ to: default, via: 10.0.0.1 }]
  - name: r0
    role: router
    interfaces: [{ name: eth0, addresses: [10.0.0.1/24] }, { name: eth1, addresses: [10.9.0.1/30] }]
    routes: [{ to: 10.1.0.0/24, via: 10.9.0.2 }]
  - name: r1
    role: router
    interfaces: [{ name: eth0, addresses: [10.1.0.1/24] }, { name: eth1, addresses: [10.9.0.2/30] }]
    routes: [{ to: 10.0.0.0/24, via: 10.9.0.1 }]
  - name: h1
    interfaces: [{ name: eth0, addresses: [10.1.0.2/24] }]
    routes: [{ to: default, via: 10.1.0.1 }]
    services: [{ kind: http, body: "far\\n" }]
links:
  - endpoints: [h0:eth0, r0:eth0]
  - endpoints: [r1:eth0, h1:eth0]
  - endpoints: [r0:eth1, r1:eth1]
    conditions: ${cond}
steps:
${steps}`, "pair.yaml");

describe("scale-out: the cross-partition link", () => {
  test("delay and rate as an epair's: a 1000-byte ping's RTT to the microsecond, and the same over 1 kernel", async () => {
    const spec = PAIR("{ delay: 5ms, rate: 3Mbit }", "  - ping: { from: h0, to: h1, count: 3, size: 1000 }\n  - http: { from: h0, to: h1, contains: far }\n");
    const two = await run(spec, 2);
    assert.deepEqual(two.plan.nodesOf, [["h0", "r0"], ["r1", "h1"]]);
    assert.equal(two.plan.cut.length, 1);
    const ping = two.results[0]!;
    assert.ok(ping.ok, ping.detail);
    // A 1042-byte frame (1000 + ICMP 8 + IP 20 + Ethernet 14) holds a 3 Mbit/s link 2778.666 µs
    // (2778666 ns), leaves at the next whole µs (2779), then 5 ms of delay, each way.
    assert.equal(ping.figures.rttMinMs, (2 * (2779 + 5000)) / 1000);
    const one = await run(spec, 1);
    assert.deepEqual(two.results, one.results);
    assert.deepEqual(two.counters, one.counters);
    for (const f of Object.keys(one.pcaps)) assert.ok(two.pcaps[f]!.equals(one.pcaps[f]!), `${f} differs`);
  });

  test("loss, duplication and jitter from the link's own stream: the cut link drops, copies and delays the frames the epair does", async () => {
    const spec = PAIR("{ delay: 3ms, jitter: 1ms, loss: 15%, duplicate: 10% }",
      "  - ping: { from: h0, to: h1, count: 40, interval: 10ms, expect: 'loss<=100%' }\n  - http: { from: h0, to: h1, contains: far }\n");
    const two = await run(spec, 2);
    assert.equal(two.plan.cut.length, 1);
    assert.equal(two.plan.cut[0]!.lookaheadAB, 2000);
    const one = await run(spec, 1);
    assert.equal(one.plan.cut.length, 0);
    const ping = one.results[0]!;
    // The conditions acted (so equality below is not that of a clean link): some echoes lost,
    // and RTTs spread by the jitter.
    assert.ok(ping.figures.received! < 40 && ping.figures.received! > 20, JSON.stringify(ping.figures));
    assert.ok(ping.figures.rttMaxMs! - ping.figures.rttMinMs! > 0.5, JSON.stringify(ping.figures));
    assert.ok(one.results[1]!.ok, one.results[1]!.detail);
    assert.deepEqual(two.results, one.results);
    assert.deepEqual(two.counters, one.counters);
    assert.deepEqual(Object.keys(two.pcaps), Object.keys(one.pcaps));
    for (const f of Object.keys(one.pcaps)) assert.ok(two.pcaps[f]!.equals(one.pcaps[f]!), `${f} differs`);
  });
});

describe("scale-out: faults", () => {
  for (const uncaught of [false, true]) {
    test(`a worker that throws ${uncaught ? "(uncaught, in a timer)" : "(in a round)"} ends the run naming its partition and nodes; no worker left`, async () => {
      const spec = PAIR("{ delay: 5ms }", "  - ping: { from: h0, to: h1, count: 2 }\n  - sleep: 5s\n  - ping: { from: h0, to: h1, count: 5 }\n");
      const lab = await scaleUp(spec, { workers: 2, crash: { partition: 1, atUs: 3_000_000, uncaught } });
      await assert.rejects(lab.runSteps(), (e: unknown) => {
        assert.ok(e instanceof ScaleError, String(e));
        assert.equal(e.partition, 1);
        assert.deepEqual(e.nodes, ["r1", "h1"]);
        assert.match(e.message, /^partition 1 \(nodes r1, h1\) failed: .*injected fault at 5115000 µs/); // its first round at or past 3 s: the first echo request after the sleep arrives
        // The steps finished before (the sleep's end may be reported before an uncaught throw arrives).
        assert.ok(e.partial.length >= 1 && e.partial.length <= 2 && e.partial.every((r) => r.ok), JSON.stringify(e.partial));
        return true;
      });
      assert.equal(lab.workersRunning, 0);
    });
  }

  test("a worker killed mid-run ends it too, and the other worker is stopped", async () => {
    const spec = PAIR("{ delay: 5ms }", "  - ping: { from: h0, to: h1, count: 5 }\n  - sleep: 10s\n  - ping: { from: h0, to: h1, count: 1 }\n");
    const spawned: NodeWorker[] = [];
    const lab = await scaleUp(spec, { workers: 2, spawn: () => {
      const w = nodeSpawn();
      spawned.push(w);
      return w;
    } });
    const exits = spawned.map((w) => new Promise((r) => w.worker.once("exit", r)));
    const steps = lab.runSteps({ onEvent: (e) => {
      if (e.type === "end" && e.index === 0) void spawned[0]!.worker.terminate();
    } });
    await assert.rejects(steps, /^ScaleError: partition 0 \(nodes h0, r0\) failed: its worker exited \(code 1\)/);
    await Promise.all(exits);
    assert.equal(lab.workersRunning, 0);
  });
});

describe("scale-out: real time", () => {
  test("star over 2 workers on the wall clock: every step passes, frames cross as they come", async () => {
    const lab = await scaleUp(loadTopology("examples/star.yaml"), { workers: 2, clock: "real" });
    const results = await lab.runSteps();
    const report = await lab.down();
    assert.ok(results.every((r) => r.ok), JSON.stringify(results.filter((r) => !r.ok)));
    assert.equal(results.length, 5);
    assert.equal(report.rounds, 0);
    assert.ok(report.ok, report.text);
    assert.equal(lab.workersRunning, 0);
    // d is alone in partition 1: everything it received came over the cut link.
    const d = report.counters.find((c) => c.node === "d")!;
    assert.ok(d.counters.ipackets > 10, JSON.stringify(d));
  });
});
