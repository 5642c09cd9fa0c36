import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseTopology, type TopologySpec } from "../host/topology/index.js";
import { partition } from "../host/scale/partition.js";
import { scaleUp } from "../host/scale/spawn_node.js";

// The scale-out equality at size (docs/scale.md "Equality"): a generated tree of 1,111 nodes
// (depth 3, fanout 10) whose 1,110 links each get a delay drawn from a seeded generator, and
// a few with loss, duplication and jitter, run under virtual time over 1 kernel and over 2:
// every step result, every link end's counters and the bytes of a few captured link ends are
// the same. The plan must actually cut links, loss among them, and the tcp step's ends must
// land with a cut link on the path, or the equality would prove little.

/** A seeded xorshift32 for the delays (the test's own, not the kernel's). */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

function bigTree(hints: boolean): TopologySpec {
  const spec = parseTopology(`name: tree1000
seed: 7
generators:
  - shape: tree
    name: t
    depth: 3
    fanout: 10
    subnet: 10.64.0.0/16
    conditions: { delay: 1ms }
steps:
  - capture: { on: t-1:eth0, file: t-1.pcapng }
  - capture: { on: t-10-10:eth0, file: t-10-10.pcapng }
  - capture: { on: t-3-3-3:eth0, file: t-3-3-3.pcapng }
  - name: leaf to leaf across the root
    ping: { from: t-1-1-1, to: t-10-10-10, count: 5, interval: 20ms }
  - ping: { from: t-3-3-3, to: t-7-2-9, count: 8, interval: 5ms, expect: 'loss<=100%' }
  - ping: { from: t-5-5-5, to: t-5-6-1, count: 3 }
  - tcp: { from: t-2-4-6, to: t-9-1-1, bytes: 96KiB, within: 20s }
  - udp: { from: t-4-4-4, to: t-6-6-6, count: 20, size: 200, interval: 2ms }
  - capture: { off: t-1:eth0 }
  - capture: { off: t-10-10:eth0 }
  - capture: { off: t-3-3-3:eth0 }
`, "tree1000.yaml");
  const r = rng(20261207);
  for (const l of spec.links) {
    const d = 200 + Math.floor(r() * 4800);
    l.forward = { delayUs: d };
    l.reverse = { delayUs: d + Math.floor(r() * 300) };
  }
  // Rough links on the way of the second ping (t-3-3-3 to its parent and t-3 to the root).
  for (const l of spec.links) {
    const ends = `${l.a.node} ${l.b.node}`;
    if (ends === "t-3-3 t-3-3-3" || ends === "t t-3") {
      l.forward = { ...l.forward, loss: 0.2, duplicate: 0.1, jitterUs: 150 };
      l.reverse = { ...l.reverse, loss: 0.1 };
    }
  }
  if (!hints) return spec;
  // Hints (2 workers) that make the plan cut a lossy link and put the first ping's ends apart.
  const hint = (name: string, p: number) => (spec.nodes.find((n) => n.name === name)!.partition = p);
  hint("t-3-3-3", 0);
  hint("t-3-3", 1);
  hint("t-1-1-1", 0);
  hint("t-10-10-10", 1);
  return spec;
}

/** The packet blocks (EPB, type 6) of a pcapng file: what was captured and when, not the interface's kernel name. */
function packets(f: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 0; off + 12 <= f.length;) {
    const type = f.readUInt32LE(off);
    const len = f.readUInt32LE(off + 4);
    assert.ok(len >= 12 && off + len <= f.length, `a pcapng block at ${off} of length ${len}`);
    if (type === 6) out.push(f.subarray(off, off + len));
    off += len;
  }
  return out;
}

async function run(spec: TopologySpec, workers: number) {
  const dir = mkdtempSync(join(tmpdir(), "wavnet-scale1000-"));
  try {
    const t0 = performance.now();
    const lab = await scaleUp(spec, { workers, pcapDir: dir });
    const results = await lab.runSteps();
    const report = await lab.down();
    const ms = performance.now() - t0;
    assert.equal(lab.workersRunning, 0);
    const pcaps = Object.fromEntries(readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f))]));
    return {
      plan: lab.plan, ms, report, pcaps,
      // A capture step names the kernel's interface (an epair or a cut link's tap) and the folder.
      results: results.map(({ wallMs: _, ...r }) => ({ ...r, detail: r.detail.replace(/ \((epair|xpart)\d+[ab]\) to .*/, "") })),
      counters: report.counters.sort((a, b) => `${a.node}:${a.iface}`.localeCompare(`${b.node}:${b.iface}`)),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("a 1,111-node tree with seeded delays and lossy links: 2 workers give what 1 gives (results, counters, pcap bytes)", async () => {
  const spec = bigTree(true);
  assert.equal(spec.nodes.length, 1111);
  const plan = partition(spec, 2);
  assert.equal(plan.partitions, 2);
  assert.ok(plan.cut.some((c) => c.link.forward.loss && c.link.forward.jitterUs), "a lossy link with jitter is cut");
  const one = await run(bigTree(false), 1);
  const two = await run(spec, 2);
  console.log(`# 1 worker ${Math.round(one.ms)} ms, 2 workers ${Math.round(two.ms)} ms; plan ${two.plan.nodesOf.map((n) => n.length).join(" + ")} nodes, ${two.plan.cut.length} links cut, ${two.report.rounds} rounds`);
  assert.equal(one.plan.partitions, 1);
  assert.deepEqual(two.plan.nodesOf, plan.nodesOf);
  // The steps worked (the lossy ping may lose some) and crossed the cut.
  const [, , , p1, p2, p3, tcp, udp] = one.results;
  for (const r of [p1, p3, tcp, udp]) assert.ok(r!.ok, r!.detail);
  assert.ok(p2!.figures.received! < 8, p2!.detail);
  const side = (n: string) => plan.partitionOf.get(n);
  assert.notEqual(side("t-1-1-1"), side("t-10-10-10"), "the first ping crosses partitions");
  assert.deepEqual(two.results, one.results);
  assert.equal(one.counters.length, 2 * spec.links.length);
  assert.deepEqual(two.counters, one.counters);
  assert.deepEqual(Object.keys(one.pcaps), ["t-1.pcapng", "t-10-10.pcapng", "t-3-3-3.pcapng"]);
  for (const f of Object.keys(one.pcaps)) {
    const a = packets(one.pcaps[f]!);
    assert.ok(a.length >= 10, `${f}: ${a.length} packets`);
    assert.deepEqual(packets(two.pcaps[f]!), a, `${f} differs`);
  }
  assert.ok(one.report.ok && two.report.ok, `${one.report.text}\n${two.report.text}`);
});
