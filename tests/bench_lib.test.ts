// The bench harness (bench/lib.ts): a group may name as a peer only a metric it declares,
// or one of another group's it lists in `peers` (measured again in its own run only to
// compare; the figure stays that group's and is not written by this one). A bar relative to
// the peer (minPeerRatio) is judged against the peer's value of the same run.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { runGroup, mergeResults, machine, formatGroup, type Group } from "../bench/lib.js";

function group(peer: string, peers?: string[]): Group {
  return {
    name: "g",
    description: "test group",
    metrics: [{ name: "g_metric", unit: "x", description: "a figure" }],
    ...(peers ? { peers } : {}),
    async run(ctx) {
      ctx.report("g_metric", 2, { peer, peerValue: 1 });
    },
  };
}

describe("bench groups and peers", () => {
  test("a peer listed in the group's peers is reported with its value and not written as this group's metric", async () => {
    const r = await runGroup(group("other_metric", ["other_metric"]), () => {});
    assert.equal(r.error, undefined);
    assert.deepEqual(r.measured.map((m) => [m.name, m.peer, m.peer_value]), [["g_metric", "other_metric", 1]]);
    const prev = { machine: {}, metrics: { other_metric: { value: 7, unit: "x" } } };
    const merged = mergeResults(prev, [r], machine());
    assert.deepEqual(merged.metrics.other_metric, { value: 7, unit: "x" }, "the other group's own figure is kept");
    assert.deepEqual(merged.metrics.g_metric, { value: 2, unit: "x", peer: "other_metric", peer_value: 1 });
  });

  test("a peer neither declared nor listed in peers fails the group (a misspelt name is caught)", async () => {
    const r = await runGroup(group("othr_metric", ["other_metric"]), () => {});
    assert.match(String(r.error), /metric othr_metric is not declared/);
    assert.equal(r.measured.length, 0);
  });

  test("a target of a ratio to the peer says ok or MISSED against the peer's value of the same run", async () => {
    const ratioGroup = (value: number, peerValue?: number): Group => ({
      name: "r",
      description: "ratio",
      metrics: [{ name: "r_metric", unit: "x", target: { minPeerRatio: 0.8 }, description: "a figure" }],
      peers: ["p_metric"],
      async run(ctx) {
        ctx.report("r_metric", value, { peer: "p_metric", ...(peerValue !== undefined ? { peerValue } : {}) });
      },
    });
    const row = async (v: number, p?: number) => formatGroup(await runGroup(ratioGroup(v, p), () => {})).split("\n").find((l) => l.startsWith("r_metric"))!;
    assert.match(await row(8, 10), />= 0\.8 x peer ok/);
    assert.match(await row(7.9, 10), />= 0\.8 x peer MISSED/);
    assert.match(await row(8), />= 0\.8 x peer MISSED/, "no peer value: nothing shows the bar met");
  });
});
