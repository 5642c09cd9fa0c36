import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cliMain } from "./helpers/cli.js";

// wavnet run FILE --workers N (host/cli/run_scale.ts): the report says where each node ran,
// each partition's CPU time and the synchronization's cost; bad values and combinations are
// usage errors; a partition hint that cannot hold is the file's error at its line.

describe("wavnet run --workers", () => {
  test("--json: steps, partition per node, per-partition CPU time and the synchronization", async () => {
    const r = await cliMain(["run", "examples/star.yaml", "--workers", "2", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.ok, true);
    assert.equal(doc.workers, 2);
    assert.deepEqual(doc.partitionOf, { sw: 0, a: 0, b: 0, c: 0, d: 1 });
    assert.deepEqual(doc.cutLinks, ["d:eth0 - sw:p4"]);
    assert.equal(doc.steps.length, 5);
    assert.ok(doc.steps.every((s: { ok: boolean }) => s.ok));
    assert.deepEqual(doc.partitions.map((p: { nodes: string[] }) => p.nodes), [["sw", "a", "b", "c"], ["d"]]);
    for (const p of doc.partitions) {
      assert.ok(p.cpuMs > 0 && p.roundBusyMs > 0 && p.roundBusyMs <= p.cpuMs, JSON.stringify(p));
      assert.equal(p.teardown.ok, true);
    }
    assert.ok(doc.sync.rounds > 10 && doc.sync.roundsMs > 0 && doc.sync.overheadMs >= 0 && doc.sync.overheadMs <= doc.sync.roundsMs, JSON.stringify(doc.sync));
  });

  test("text: the plan before the steps, the partitions and the teardown after the table", async () => {
    const r = await cliMain(["run", "examples/star.yaml", "--workers", "2"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /5 nodes, 4 links up in .* over 2 kernels in worker threads; virtual clock, seed 2/);
    assert.match(r.stdout, /^ {2}p1: 1 node \(d\), load /m);
    assert.match(r.stdout, /5 of 5 steps passed/);
    assert.match(r.stdout, /^p0: 4 nodes \(sw, a, b, c\), CPU [\d.]+ ms$/m);
    assert.match(r.stdout, /^virtual time: \d+ synchronization rounds in/m);
    assert.match(r.stdout, /^p1: teardown: 1 vnets destroyed, 0 pages and 0 items leaked$/m);
  });

  for (const [args, msg] of [
    [["--workers", "0"], /--workers must be an integer from 1 to 256, got "0"/],
    [["--workers", "two"], /--workers must be an integer from 1 to 256, got "two"/],
    [["--workers", "2", "--keep"], /--workers and --keep exclude each other/],
    [["--workers", "2", "--listen", "0"], /--workers and --listen exclude each other/],
  ] as const) {
    test(`usage: ${args.join(" ")}`, async () => {
      const r = await cliMain(["run", "examples/star.yaml", ...args]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, msg);
    });
  }

  test("a hint that cannot hold: exit 2, the file's line", async () => {
    const dir = mkdtempSync(join(tmpdir(), "wavnet-scale-cli-"));
    try {
      const f = join(dir, "h.yaml");
      writeFileSync(f, `nodes:
  - name: a
    partition: 0
    interfaces: [{ name: eth0, addresses: [10.0.0.1/24] }]
  - name: b
    partition: 1
    interfaces: [{ name: eth0, addresses: [10.0.0.2/24] }]
links:
  - endpoints: [a:eth0, b:eth0]
`);
      const r = await cliMain(["run", f, "--workers", "2"]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /h\.yaml:6:16: nodes\[1\]\.partition: node b: partition 1, but it must share a kernel with a \(partition 0\); link a:eth0 - b:eth0 \(line 9\) cannot cross partitions: it has no delay/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
