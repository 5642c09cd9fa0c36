// The result table of wavnet run fits the terminal (80 columns when unknown): the step name
// and the detail wrap, no line is wider, and the figures are not repeated beside the detail
// (they are in --json).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { PassThrough } from "node:stream";
import "../host/index.js";
import { parseTopology, Topology } from "../host/topology/index.js";
import { resultTableFit, wrap } from "../host/shell/results.js";
import { main } from "../host/cli/main.js";

test("wrap keeps words whole and cuts only a word longer than the width", () => {
  assert.deepEqual(wrap("a bb ccc dddd", 6), ["a bb", "ccc", "dddd"]);
  assert.deepEqual(wrap("0123456789", 4), ["0123", "4567", "89"]);
  assert.deepEqual(wrap("", 4), [""]);
});

test("the demo's results fit 80, 60 and 132 columns, every word of each detail kept, no FIGURES column", async () => {
  const topo = await Topology.up(parseTopology(readFileSync(new URL("../examples/demo.yaml", import.meta.url), "utf8"), "examples/demo.yaml"));
  let results;
  try {
    results = await topo.runSteps();
  } finally {
    await topo.down();
  }
  for (const width of [80, 60, 132]) {
    const t = resultTableFit(results, width);
    const lines = t.split("\n");
    for (const l of lines) assert.ok(l.length <= width, `${l.length} > ${width}: ${l}`);
    assert.match(lines[0]!, /^#\s+STEP\s+RESULT\s+TIME\s+DETAIL$/);
    const words = t.split(/\s+/);
    for (const r of results) for (const w of r.detail.split(/\s+/)) assert.ok(words.includes(w), `${width}: "${w}" of step ${r.index + 1}'s detail is in the table`);
    assert.doesNotMatch(t, /rttMinMs=|lossPct=/);
  }
});

test("wavnet run prints no line wider than 80 columns when the width is unknown", async () => {
  const out = new PassThrough();
  let stdout = "";
  out.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  const saved = process.env.COLUMNS;
  delete process.env.COLUMNS;
  try {
    const code = await main(["run", "examples/demo.yaml"], { stdin: new PassThrough(), stdout: out, stderr: new PassThrough(), stdoutTTY: false, stdinTTY: false });
    await new Promise((r) => setImmediate(r));
    assert.equal(code, 0, stdout);
  } finally {
    if (saved !== undefined) process.env.COLUMNS = saved;
  }
  const table = stdout.slice(stdout.indexOf("\n#"));
  assert.match(table, /DETAIL/);
  for (const l of table.split("\n")) assert.ok(l.length <= 80, `${l.length}: ${l}`);
});
