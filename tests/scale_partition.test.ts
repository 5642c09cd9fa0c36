import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { parseTopology, TopologyError } from "../host/topology/index.js";
import { loadTopology } from "../host/index.js";
import { partition, uncuttable } from "../host/scale/partition.js";

// The partitioner (host/scale/partition.ts, docs/scale.md): links that cannot be cut stay
// inside a partition, hints are honoured or refused at their line, groups are balanced.

/** Two routers r0 - r1 joined by a link of the given conditions, each with a host behind a plain link. */
function pair(conditions: string, hints: [number?, number?] = []): string {
  const hint = (i: number) => (hints[i] !== undefined ? `\n    partition: ${hints[i]}` : "");
  return `name: pair
nodes:
  - name: h0
    interfaces: [{ name: eth0, addresses: [10.0.0.2/24] }]
  - name: r0
    role: router${hint(0)}
    interfaces: [{ name: eth0, addresses: [10.0.0.1/24] }, { name: eth1, addresses: [10.9.0.1/30] }]
  - name: r1
    role: router${hint(1)}
    interfaces: [{ name: eth0, addresses: [10.1.0.1/24] }, { name: eth1, addresses: [10.9.0.2/30] }]
  - name: h1
    interfaces: [{ name: eth0, addresses: [10.1.0.2/24] }]
links:
  - endpoints: [h0:eth0, r0:eth0]
  - endpoints: [r1:eth0, h1:eth0]
  - endpoints: [r0:eth1, r1:eth1]
    conditions: ${conditions}
`;
}

describe("partitioner", () => {
  test("a link with delay is cut between the two halves; plain links stay inside", () => {
    const plan = partition(parseTopology(pair("{ delay: 2ms }"), "p.yaml"), 2);
    assert.equal(plan.partitions, 2);
    assert.equal(plan.partitionOf.get("h0"), plan.partitionOf.get("r0"));
    assert.equal(plan.partitionOf.get("h1"), plan.partitionOf.get("r1"));
    assert.notEqual(plan.partitionOf.get("r0"), plan.partitionOf.get("r1"));
    assert.equal(plan.cut.length, 1);
    assert.equal(plan.cut[0]!.index, 2);
    assert.equal(plan.cut[0]!.lookaheadAB, 2000);
    assert.deepEqual(plan.load, [2, 2]);
  });

  for (const [cond, why] of [
    ["{}", /no delay/],
    ["{ delay: 2ms, reorder: 10% }", /reorders/],
    ["{ delay: 2ms, jitter: 1ms, rate: 10Mbit }", /jitter and a rate/],
    ["{ delay: 2ms, jitter: 2ms }", /jitter is not below its delay/],
    ["{}\n    forward: { delay: 2ms }", /no delay in both directions/],
  ] as const) {
    test(`a link with ${cond} is never cut (${why.source})`, () => {
      const spec = parseTopology(pair(cond), "p.yaml");
      assert.match(uncuttable(spec.links[2]!), why);
      const plan = partition(spec, 2);
      assert.equal(plan.partitions, 1);
      assert.equal(plan.cut.length, 0);
      assert.match(plan.note!, /2 partitions asked, 1 used/);
    });
  }

  test("loss, duplication and jitter below the delay are cut; the lookahead is delay - jitter", () => {
    const spec = parseTopology(pair("{ delay: 2ms, jitter: 500us, loss: 5%, duplicate: 1% }"), "p.yaml");
    assert.equal(uncuttable(spec.links[2]!), "");
    const plan = partition(spec, 2);
    assert.equal(plan.partitions, 2);
    assert.equal(plan.cut.length, 1);
    assert.equal(plan.cut[0]!.lookaheadAB, 1500);
    assert.equal(plan.cut[0]!.lookaheadBA, 1500);
  });

  test("hints are honoured", () => {
    const plan = partition(parseTopology(pair("{ delay: 2ms }", [1, 0]), "p.yaml"), 2);
    assert.equal(plan.partitionOf.get("r0"), 1);
    assert.equal(plan.partitionOf.get("h0"), 1);
    assert.equal(plan.partitionOf.get("r1"), 0);
    assert.deepEqual(plan.nodesOf, [["r1", "h1"], ["h0", "r0"]]);
  });

  test("two hints in a group that cannot be cut: an error at the second node's partition line, naming the link", () => {
    const spec = parseTopology(pair("{ delay: 2ms, reorder: 1% }", [0, 1]), "p.yaml");
    assert.throws(() => partition(spec, 2), (e: unknown) => {
      assert.ok(e instanceof TopologyError);
      assert.equal(e.line, 11);
      assert.equal(e.path, "nodes[2].partition");
      assert.match(e.message, /^p\.yaml:11:\d+: nodes\[2\]\.partition: node r1: partition 1, but it must share a kernel with r0 \(partition 0\); link .* cannot cross partitions: it reorders/);
      return true;
    });
  });

  test("a hint past the partitions of the run is refused at its line", () => {
    const spec = parseTopology(pair("{ delay: 2ms }", [3]), "p.yaml");
    assert.throws(() => partition(spec, 2), /p\.yaml:7:\d+: nodes\[1\]\.partition: node r0: partition 3, but the run has 2 partitions/);
  });

  test("the schema refuses a partition that is not a small integer", () => {
    assert.throws(() => parseTopology(pair("{ delay: 2ms }").replace("role: router\n", "role: router\n    partition: -1\n"), "p.yaml"), /p\.yaml:7:\d+: nodes\[1\]\.partition: must be >= 0/);
  });

  test("tcp and udp steps keep their two ends in one partition", () => {
    const text = `${pair("{ delay: 2ms }")}steps:\n  - tcp: { from: h0, to: h1, bytes: 1000 }\n`;
    const plan = partition(parseTopology(text, "p.yaml"), 2);
    assert.equal(plan.partitions, 1);
  });

  test("balance: separate networks spread over the partitions, traffic counted on the path", () => {
    const spec = loadTopology("examples/shapes.yaml");
    const plan = partition(spec, 2);
    assert.equal(plan.partitions, 2);
    assert.equal(plan.cut.length, 0);
    const [a, b] = plan.load;
    assert.ok(Math.abs(a! - b!) / (a! + b!) < 0.25, `loads ${plan.load}`);
  });

  test("star: the 1 ms link to d is the one cut", () => {
    const plan = partition(loadTopology("examples/star.yaml"), 2);
    assert.deepEqual(plan.nodesOf, [["sw", "a", "b", "c"], ["d"]]);
    assert.deepEqual(plan.cut.map((c) => [c.index, c.lookaheadAB, c.lookaheadBA]), [[3, 1000, 1000]]);
  });
});
