// wavnet run -q and -v: quiet prints only failures and how the run ended (nothing for a
// green run); verbose prints every step's whole detail, figures and origin as it finishes.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cliMain } from "./helpers/cli.js";

const wavnet = cliMain;

let dir: string;
let green: string;
let red: string;
const LAB = `name: pair
nodes:
  - name: h1
    interfaces: [{ name: eth0, addresses: [10.0.0.1/24] }]
  - name: h2
    interfaces: [{ name: eth0, addresses: [10.0.0.2/24] }]
links:
  - endpoints: [h1:eth0, h2:eth0]
steps:
  - ping: { from: h1, to: h2, count: 2 }
  - udp: { from: h1, to: h2, count: 5 }
`;
before(() => {
  dir = mkdtempSync(join(tmpdir(), "wavnet-verbosity-"));
  green = join(dir, "green.yaml");
  writeFileSync(green, LAB);
  red = join(dir, "red.yaml");
  // 10.0.9.9 is on no link: the second step fails.
  writeFileSync(red, LAB.replace("  - udp: { from: h1, to: h2, count: 5 }\n", "  - ping: { from: h1, to: 10.0.9.9, count: 1 }\n  - udp: { from: h1, to: h2, count: 5 }\n"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test("-q on a green run prints nothing and exits 0", async () => {
  for (const q of ["-q", "--quiet"]) {
    const r = await wavnet(["run", green, q]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "", q);
    assert.equal(r.stderr, "", q);
  }
});

test("-q on a failing run prints the failed step and the exit status, nothing about the steps that passed", async () => {
  const r = await wavnet(["run", red, "-q"]);
  assert.equal(r.code, 1);
  const lines = r.stdout.trim().split("\n");
  assert.equal(lines.length, 2, r.stdout);
  assert.match(lines[0]!, /^\[2\/3\] ping h1 -> 10\.0\.9\.9: FAIL \(/);
  assert.equal(lines[1], "wavnet run: exit 1: 1 of 3 steps FAILED");
  // The normal output has the header, the table and the accounting besides.
  const n = await wavnet(["run", red]);
  assert.match(n.stdout, /^pair \(.*\): 2 nodes, 1 links? up/m);
  assert.match(n.stdout, /^teardown: /m);
  assert.doesNotMatch(r.stdout, /teardown|steps passed|^pair /m);
});

test("-v prints every step with its whole detail, figures and where the file defines it", async () => {
  const r = await wavnet(["run", red, "-v"]);
  assert.equal(r.code, 1);
  const esc = red.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  const at = (n: number) => new RegExp(`^\\[${n}/3\\] [^\\n]*: (ok|FAIL) \\((ping|udp) at ${esc}:1[0-2]:5; [^\\n]* on the lab's clock, [^\\n]* wall\\)\\n    \\S[^\\n]*\\n    [^\\n]*=`, "m");
  for (const n of [1, 2, 3]) assert.match(r.stdout, at(n), `step ${n}`);
  assert.match(r.stdout, /^    sent=2 received=2 lossPct=0 /m);
  assert.match(r.stdout, /^    sent=5 received=5 lossPct=0$/m);
  // Then the usual table and accounting.
  assert.match(r.stdout, /^2 of 3 steps passed, 1 FAILED$/m);
  assert.match(r.stdout, /^teardown: /m);
  // The normal output does not have the figures lines.
  assert.doesNotMatch((await wavnet(["run", red])).stdout, /^    sent=/m);
});

test("-q and -v: refused together, with --json, and for shell", async () => {
  const cases: [string[], RegExp][] = [
    [["run", green, "-q", "-v"], /^wavnet run: -q and -v exclude each other$/],
    [["run", green, "-v", "--json"], /^wavnet run: --json and -v exclude each other/],
    [["run", green, "--quiet", "--json"], /^wavnet run: --json and -q exclude each other/],
    [["shell", green, "-q"], /^wavnet shell: -q is for wavnet run$/],
  ];
  for (const [argv, msg] of cases) {
    const r = await wavnet(argv);
    assert.equal(r.code, 2, argv.join(" "));
    assert.match(r.stderr.trim(), msg, argv.join(" "));
  }
});
