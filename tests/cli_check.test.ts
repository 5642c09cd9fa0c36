// wavnet check FILE (validate only: exit 0 or 2, --json errors with file:line:col), YAML
// syntax errors at the right line with the line and a caret under it, and --json on a bad
// file printing the problems as JSON (run too). main() in-process; one spawn of the bin.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { main } from "../host/cli/main.js";
import { cliMain } from "./helpers/cli.js";

const BIN = fileURLToPath(new URL("../bin/wavnet.mjs", import.meta.url));

const wavnet = cliMain;

let dir: string;
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
before(() => (dir = mkdtempSync(join(tmpdir(), "wavnet-check-"))));
after(() => rmSync(dir, { recursive: true, force: true }));

const GOOD = `name: pair
nodes:
  - name: h1
    interfaces: [{ name: eth0, addresses: [10.0.0.1/24] }]
  - name: h2
    interfaces: [{ name: eth0, addresses: [10.0.0.2/24] }]
links:
  - endpoints: [h1:eth0, h2:eth0]
steps:
  - ping: { from: h1, to: h2 }
`;

test("check: a good file exits 0 and says what it holds; --json too; nothing is brought up", async () => {
  const f = file("good.yaml", GOOD);
  let r = await wavnet(["check", f]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${f}: ok (2 nodes, 1 links, 1 steps)\n`);
  r = await wavnet(["check", f, "--json"]);
  assert.deepEqual(JSON.parse(r.stdout), { file: f, ok: true, nodes: 2, links: 1, steps: 1, errors: [] });
  r = await wavnet(["check"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^wavnet check: a topology file is needed$/m);
  r = await wavnet(["check", f, "--pcap", "x"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown option --pcap \(only --json\)/);
});

test("YAML: a missing ] is reported on its own line (not the next), with the line and a caret where it goes", async () => {
  // Line 4 lacks the ] that closes interfaces: the yaml library says line 5, column 1.
  const f = file("bracket.yaml", GOOD.replace("addresses: [10.0.0.1/24] }]", "addresses: [10.0.0.1/24] }"));
  const r = await wavnet(["check", f]);
  assert.equal(r.code, 2);
  const line4 = "    interfaces: [{ name: eth0, addresses: [10.0.0.1/24] }";
  assert.equal(r.stderr, [
    `${f}:4:${line4.length + 1}: YAML: Flow sequence in block collection must be sufficiently indented and end with a ] (the [ opened at line 4, column 17 is not closed: a ] is missing)`,
    `    4 | ${line4}`,
    `      | ${" ".repeat(line4.length)}^`,
    "",
  ].join("\n"));
});

test("YAML: an unclosed quote points at the quote, not the end of the file", async () => {
  const f = file("quote.yaml", GOOD.replace("  - name: h2\n", '  - name: "h2\n'));
  const r = await wavnet(["check", f]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, new RegExp(`^${f.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:5:11: YAML: missing closing " \\(the quote opened here is never closed\\)\\n    5 \\|   - name: "h2\\n      \\|           \\^\\n$`));
});

test("--json on a bad file: check and run print the problems as JSON on stdout (file, line, column, path, message)", async () => {
  const f = file("schema.yaml", GOOD.replace("  - name: h2\n", "  - name: h2\n    colour: red\n"));
  let r = await wavnet(["check", f, "--json"]);
  assert.equal(r.code, 2);
  const doc = JSON.parse(r.stdout) as { ok: boolean; errors: { file: string; line: number; column: number; path: string; message: string }[] };
  assert.equal(doc.ok, false);
  assert.deepEqual(doc.errors, [{ file: f, line: 6, column: 5, path: "nodes[1].colour", message: doc.errors[0]!.message }]);
  assert.match(doc.errors[0]!.message, /unknown field "colour"/);
  r = await wavnet(["run", f, "--json"]);
  assert.equal(r.code, 2);
  const run = JSON.parse(r.stdout) as { ok: boolean; exitCode: number; errors: unknown[] };
  assert.equal(run.ok, false);
  assert.equal(run.exitCode, 2);
  assert.deepEqual(run.errors, doc.errors);
  // Text: the problem, the line, a caret.
  r = await wavnet(["run", f]);
  assert.match(r.stderr, /schema\.yaml:6:5: nodes\[1\]\.colour: unknown field "colour".*\n    6 \|     colour: red\n      \|     \^\n/);
});

test("the bin: wavnet check exits 2 on a bad file and 0 on a good one", () => {
  const bad = spawnSync(process.execPath, [BIN, "check", file("b.yaml", "nodes: [")], { encoding: "utf8" });
  assert.equal(bad.status, 2, bad.stderr);
  assert.match(bad.stderr, /b\.yaml:1:\d+: YAML: /);
  const good = spawnSync(process.execPath, [BIN, "check", file("g.yaml", GOOD)], { encoding: "utf8" });
  assert.equal(good.status, 0, good.stderr);
});
