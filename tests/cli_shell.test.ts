// The parts of `wavnet shell` and `wavnet run` that need a terminal, tested in-process: the
// live progress line, tab completion, and the shell words, on hand-built vnets.
import { test } from "node:test";
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { Kernel, addAddress } from "../host/index.js";
import { Commands } from "../host/cli/commands.js";
import { Shell } from "../host/cli/shell.js";
import { Progress } from "../host/cli/run.js";
import type { Io, Session } from "../host/cli/session.js";
import type { StepResult } from "../host/topology/index.js";

function io(tty: boolean): Io & { out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let o = "";
  let e = "";
  stdout.setEncoding("utf8").on("data", (d: string) => (o += d));
  stderr.setEncoding("utf8").on("data", (d: string) => (e += d));
  return { stdin: new PassThrough(), stdout, stderr, stdoutTTY: tty, stdinTTY: tty, out: () => o, err: () => e };
}

const result = (index: number, ok: boolean): StepResult => ({
  index, name: `step ${index + 1}`, action: "ping", ok, durationMs: 1.5, wallMs: 0.2, detail: ok ? "fine" : "no reply", figures: {},
  origin: { file: "t.yaml", line: 1, column: 1, path: `steps[${index}]` },
});

test("progress on a terminal rewrites one line and keeps failures; elsewhere it prints one line per step", async () => {
  const t = io(true);
  const p = new Progress(t, true);
  p.event({ type: "start", index: 0, name: "step 1", action: "ping", total: 2 });
  p.event({ type: "end", index: 0, result: result(0, true), total: 2 });
  p.event({ type: "start", index: 1, name: "step 2", action: "ping", total: 2 });
  p.event({ type: "end", index: 1, result: result(1, false), total: 2 });
  p.clear();
  await new Promise((r) => setImmediate(r));
  assert.equal(
    t.out(),
    "\r\x1b[K[1/2] step 1 ...\r\x1b[K[1/2] step 1: ok (1.50 ms)\r\x1b[K[2/2] step 2 ...\r\x1b[K[2/2] step 2: FAIL (1.50 ms) no reply\n",
  );
  const plain = io(false);
  const q = new Progress(plain, false);
  for (const i of [0, 1]) {
    q.event({ type: "start", index: i, name: `step ${i + 1}`, action: "ping", total: 2 });
    q.event({ type: "end", index: i, result: result(i, i === 0), total: 2 });
  }
  await new Promise((r) => setImmediate(r));
  assert.equal(plain.out(), "[1/2] step 1: ok (1.50 ms)\n[2/2] step 2: FAIL (1.50 ms) no reply\n");
});

test("completion: node names and shell words, then commands, then the node's interface names", async () => {
  const k = await Kernel.boot({ config: "GENERIC" });
  const h1 = k.createVnet("h1");
  const h2 = k.createVnet("h2");
  const [a, b] = k.epair(h1, h2);
  a.setUp();
  b.setUp();
  addAddress(k, a, "10.0.0.1/24");
  addAddress(k, b, "10.0.0.2/24");
  const node = (name: string, vnet: typeof h1, i: typeof a) => ({
    name, role: "host", vnet, interfaces: () => [{ name: "eth0", kind: "ether", iface: i, addresses: [] }],
  });
  const nodes = [node("h1", h1, a), node("h2", h2, b)];
  const fake = {
    spec: { name: "t" },
    topo: { kernel: k, nodes: () => nodes, node: (n: string) => nodes.find((x) => x.name === n)!, links: () => [] },
    commands: new Commands(k),
  } as unknown as Session;
  const t = io(false);
  const sh = new Shell(fake, t);
  assert.deepEqual(sh.complete("h"), [["h1", "h2", "help"], "h"]);
  assert.deepEqual(sh.complete("h1 p"), [["ping", "ping6"], "p"]);
  assert.deepEqual(sh.complete("h1 ifconfig e"), [["epair0a", "eth0"], "e"]);
  assert.deepEqual(sh.complete("h2 link "), [["epair0b", "eth0", "lo0"], ""]);
  assert.deepEqual(sh.complete("help kld"), [["kldload", "kldstat", "kldunload"], "kld"]);
  assert.deepEqual(sh.complete("zz"), [[], "zz"]);
  // A unique match ends its word (pi<Tab> then -c must not make "ping-c").
  assert.deepEqual(sh.complete("h1 ifc"), [["ifconfig "], "ifc"]);
  // After a command, node names too (they stand for addresses).
  assert.deepEqual(sh.complete("h1 ping -c 1 h"), [["h1", "h2"], "h"]);
  // The shell words.
  assert.equal(await sh.line("h1 ping -c 1 eth0"), true);
  assert.equal(await sh.line("sleep 2s"), true);
  assert.equal(await sh.line("links"), true);
  assert.equal(await sh.line("help sleep"), true);
  assert.equal(await sh.line("h1"), true);
  assert.equal(await sh.line("quit"), false);
  await new Promise((r) => setImmediate(r));
  assert.match(t.out(), /^sleep T\s+let time pass/m);
  assert.match(t.out(), /^no links$/m);
  assert.equal(k.clock.now(), 2_000_000);
  assert.deepEqual(t.err().trim().split("\n"), [
    `ping: "eth0" is neither an address nor a node (nodes: h1, h2)`,
    "h1: a command is needed after the node name (try: help)",
  ]);
  assert.equal(sh.failed, 2);
  a.destroy();
  k.shutdown();
});
