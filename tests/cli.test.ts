// The wavnet command end to end: bin/wavnet.mjs spawned as a user would run it, on small
// topology files, with stdout and stderr as pipes (no terminal): run's table, exit codes
// and --json, schema errors with file:line:col, and the shell driven by a script on stdin.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync, readFileSync, readdirSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createServer } from "node:net";
import { WebSocket } from "ws";
import { readPcap } from "../host/index.js";
import { cliMain } from "./helpers/cli.js";

const BIN = fileURLToPath(new URL("../bin/wavnet.mjs", import.meta.url));

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function wavnet(args: string[], stdin = ""): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [BIN, ...args], { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, WAVNET_DEBUG: "" } });
    let stdout = "";
    let stderr = "";
    p.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    p.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    p.on("error", reject);
    p.on("close", (code) => resolve({ code, stdout, stderr }));
    p.stdin.end(stdin);
  });
}

// Two hosts on one link, 5 ms each way.
const PAIR = `name: pair
kernel: GENERIC
nodes:
  - name: h1
    interfaces: [{ name: eth0, addresses: [10.0.0.1/24] }]
  - name: h2
    interfaces: [{ name: eth0, addresses: [10.0.0.2/24] }]
links:
  - endpoints: [h1:eth0, h2:eth0]
    conditions: { delay: 5ms }
steps:
  - ping: { from: h1, to: h2, count: 3 }
  - shell: { node: h1, cmd: "netstat -rn", contains: "10.0.0.0/24" }
`;

const inProcess = cliMain;

let dir: string;
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

before(() => {
  dir = mkdtempSync(join(tmpdir(), "wavnet-cli-"));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("wavnet run", () => {
  test("runs the steps, prints plain progress lines, the table and the accounting; exit 0", async () => {
    const r = await wavnet(["run", file("pair.yaml", PAIR), "--virtual-time", "--seed", "7"]);
    assert.equal(r.stderr, "");
    assert.equal(r.code, 0, r.stdout);
    assert.match(r.stdout, /^pair \(.*pair\.yaml\): 2 nodes, 1 links up in [\d.]+ m?s; virtual clock, seed 7; \d+ kmem pages/m);
    // Not a terminal: one plain line per step, no carriage returns.
    assert.match(r.stdout, /^\[1\/2\] .*: ok \(/m);
    assert.match(r.stdout, /^\[2\/2\] .*: ok \(/m);
    assert.doesNotMatch(r.stdout, /\r/);
    assert.match(r.stdout, /^#\s+STEP\s+RESULT\s+TIME\s+DETAIL$/m);
    assert.match(r.stdout, /^1\s+.*\s+ok\s+/m);
    assert.match(r.stdout, /^2 of 2 steps passed$/m);
  });

  test("a failing step makes the exit status 1 and is named", async () => {
    const failing = PAIR.replace("count: 3 }", "count: 2 }\n  - ping: { from: h1, to: 10.0.0.99, count: 1, timeout: 100ms }");
    const r = await wavnet(["run", file("fail.yaml", failing), "--virtual-time"]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /^\[2\/3\] .*10\.0\.0\.99.*: FAIL/m);
    assert.match(r.stdout, /^2\s+.*FAIL/m);
    assert.match(r.stdout, /^2 of 3 steps passed, 1 FAILED$/m);
  });

  test("a schema error prints file:line:col and the field, exits 2, boots nothing", async () => {
    const bad = PAIR.replace("  - name: h2\n", "  - name: h2\n    colour: red\n");
    const f = file("bad.yaml", bad);
    const r = await wavnet(["run", f, "--virtual-time"]);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, new RegExp(`${f.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:7:5: .*colour`));
    assert.equal(r.stderr.trim().split("\n").length >= 1, true);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });

  test("--json prints one document: steps with figures, teardown with nothing leaked", async () => {
    const r = await wavnet(["run", file("pair.yaml", PAIR), "--virtual-time", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.ok, true);
    assert.equal(doc.exitCode, 0);
    assert.equal(doc.clock, "virtual");
    assert.deepEqual([doc.nodes, doc.links], [2, 1]);
    assert.equal(doc.steps.length, 2);
    assert.deepEqual(doc.steps.map((s: { ok: boolean }) => s.ok), [true, true]);
    assert.equal(doc.steps[0].action, "ping");
    // 5 ms each way on virtual time: the round trip is at least 10 ms.
    assert.ok(doc.steps[0].durationMs >= 10, JSON.stringify(doc.steps[0]));
    assert.equal(doc.teardown.ok, true);
    assert.equal(doc.teardown.pagesLeaked, 0);
    assert.deepEqual(doc.teardown.itemsLeaked, {});
    assert.equal(doc.teardown.socketsLeft, 0);
    assert.equal(doc.teardown.vnets, 2);
  });

  test("the clock: the command line wins over the file, the file over the default (virtual)", async () => {
    const real = file("real.yaml", `clock: real\n${PAIR}`);
    const clock = async (argv: string[]) => JSON.parse((await inProcess(["run", ...argv, "--json"])).stdout).clock;
    assert.equal(await clock([file("pair.yaml", PAIR)]), "virtual");
    assert.equal(await clock([real]), "real");
    assert.equal(await clock([real, "--virtual-time"]), "virtual");
    assert.equal(await clock([file("pair.yaml", PAIR), "--real-time"]), "real");
  });

  test("a reader that goes away (| head -1) ends it quietly with status 141, no stack", async () => {
    const p = spawn(process.execPath, [BIN, "run", file("pair.yaml", PAIR), "--virtual-time"], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    p.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    // The reader is gone before the first line: waiting for a line first raced with a run
    // whose whole output fits one write (it could end before the reader went: status 0).
    p.stdout.destroy();
    const code = await new Promise((r) => p.on("close", r));
    assert.equal(code, 141);
    assert.equal(stderr, "");
  });

  test("usage errors exit 2 with one line; --help and version exit 0", async () => {
    // Through the bin once (the exit status reaches the shell), the rest in-process.
    const [u, h] = await Promise.all([wavnet(["run"]), wavnet(["--help"])]);
    assert.deepEqual([u.code, u.stderr.trim(), u.stdout], [2, "wavnet run: a topology file is needed", ""]);
    assert.equal(h.code, 0);
    assert.match(h.stdout, /^usage: wavnet run FILE/);
    const o = await inProcess(["run", "x.yaml", "--frob"]);
    assert.deepEqual([o.code, o.stderr.trim()], [2, "wavnet run: Unknown option '--frob'"]);
    const m = await inProcess(["run", join(dir, "missing.yaml")]);
    assert.equal(m.code, 2);
    assert.match(m.stderr, /^wavnet run: .*missing\.yaml: cannot read/);
    assert.deepEqual((await inProcess(["shell", "a.yaml", "--json"])).stderr.trim(), "wavnet shell: --json is for wavnet run");
    assert.deepEqual((await inProcess(["run", "a.yaml", "--seed=-1"])).stderr.trim(), "wavnet run: --seed must be a non-negative integer, got \"-1\"");
    assert.deepEqual((await inProcess(["run", "a.yaml", "--seed"])).stderr.trim(), "wavnet run: --seed needs a value");
    assert.deepEqual((await inProcess(["run", "a.yaml", "b.yaml"])).stderr.trim(), "wavnet run: one topology file only");
    assert.deepEqual((await inProcess(["run", "a.yaml", "--virtual-time", "--real-time"])).code, 2);
    const v = await inProcess(["version"]);
    assert.equal(v.code, 0);
    assert.match(v.stdout, /^wavnet \d+\.\d+\.\d+ \(node v\d+/);
    const x = await inProcess(["frob"]);
    assert.deepEqual([x.code, x.stderr.trim()], [2, `wavnet: unknown command "frob" (run, shell, check, graph, inspect, attach, exec, destroy, relay, completion, help, version)`]);
  });
});

// A lab for others to join: gw serves ws0 and routes to h1 behind it.
const GW = `name: gw
nodes:
  - name: gw
    role: router
    interfaces:
      - { name: ws0, kind: websocket, listen: true, addresses: [10.9.0.1/24] }
      - { name: eth0, addresses: [10.1.0.1/24] }
  - name: h1
    interfaces: [{ name: eth0, addresses: [10.1.0.2/24] }]
    routes: [{ to: default, via: 10.1.0.1 }]
links:
  - endpoints: [gw:eth0, h1:eth0]
steps:
  - ping: { from: gw, to: h1, count: 1 }
`;
const edge = (url: string) => `name: edge
nodes:
  - name: edge
    interfaces:
      - { name: ws0, kind: websocket, url: "${url}", addresses: [10.9.0.2/24] }
    routes: [{ to: 10.1.0.0/24, via: 10.9.0.1 }]
steps:
  - ping: { from: edge, to: 10.1.0.2, count: 2 }
`;

/** A long-running wavnet: its output so far, and a wait for a line of it. */
function started(args: string[]) {
  const p = spawn(process.execPath, [BIN, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, WAVNET_DEBUG: "" } });
  const o = { stdout: "", stderr: "" };
  p.stdout.setEncoding("utf8").on("data", (d: string) => (o.stdout += d));
  p.stderr.setEncoding("utf8").on("data", (d: string) => (o.stderr += d));
  const closed = new Promise<number | null>((r) => p.on("close", r));
  const waitFor = async (re: RegExp, ms = 30_000): Promise<RegExpMatchArray> => {
    const t0 = Date.now();
    for (;;) {
      const m = re.exec(o.stdout);
      if (m) return m;
      if (p.exitCode !== null || Date.now() - t0 > ms) throw new Error(`no ${re} in:\n${o.stdout}\n${o.stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return { p, o, closed, waitFor };
}

describe("wavnet run --listen", () => {
  test("prints the URL of each listen interface, runs the steps, stays up for a peer that pings through it, and goes down on SIGTERM", async () => {
    const gw = started(["run", file("gw.yaml", GW), "--listen", "0"]);
    try {
      const url = (await gw.waitFor(/^ {2}gw:ws0 +(ws:\/\/127\.0\.0\.1:\d+\/gw\/ws0)$/m))[1]!;
      await gw.waitFor(/1 of 1 steps passed\nup until \^C or SIGTERM/);
      // Another wavnet joins it and pings h1 through gw.
      const r = await wavnet(["run", file("edge.yaml", edge(url))]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /2\/2 replies from 10\.1\.0\.2/);
      await gw.waitFor(/gw:ws0: peer 127\.0\.0\.1:\d+ joined\ngw:ws0: peer 127\.0\.0\.1:\d+ left/);
      // Still up after the peer left and the steps ended: a second peer is served too.
      assert.equal(gw.p.exitCode, null);
      assert.equal((await wavnet(["run", join(dir, "edge.yaml")])).code, 0);
    } finally {
      gw.p.kill("SIGTERM");
    }
    assert.equal(await gw.closed, 0);
    assert.match(gw.o.stderr, /wavnet run: SIGTERM: bringing the lab down/);
    assert.match(gw.o.stdout, /teardown: 2 vnets destroyed, 0 pages and 0 items leaked\n$/);
  });

  test("^C while the steps run abandons them, brings the lab down and exits 130", async () => {
    const slow = GW.replace("count: 1 }", "count: 50, interval: 1s }");
    const gw = started(["run", file("gw-slow.yaml", slow), "--listen", "127.0.0.1:0", "--json"]);
    // --json: the URLs go to stderr, stdout is the one document.
    const t0 = Date.now();
    while (!/ws:\/\/127\.0\.0\.1:\d+\/gw\/ws0/.test(gw.o.stderr) && Date.now() - t0 < 30_000) await new Promise((r) => setTimeout(r, 50));
    gw.p.kill("SIGINT");
    assert.equal(await gw.closed, 130);
    const doc = JSON.parse(gw.o.stdout);
    assert.equal(doc.interrupted, true);
    assert.equal(doc.ok, false);
    assert.match(doc.listen.endpoints[0].url, /^ws:\/\/127\.0\.0\.1:\d+\/gw\/ws0$/);
    assert.equal(doc.teardown.ok, true);
  });

  test("errors: a busy port, a file with nothing to serve, a file that needs --listen, bad values", async () => {
    const gwFile = file("gw.yaml", GW);
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, "127.0.0.1", () => r()));
    const port = (busy.address() as { port: number }).port;
    try {
      const b = await inProcess(["run", gwFile, "--listen", `127.0.0.1:${port}`]);
      assert.equal(b.code, 2);
      assert.equal(b.stderr.trim(), `wavnet run: --listen: cannot listen on 127.0.0.1:${port}: listen EADDRINUSE: address already in use 127.0.0.1:${port} (another program has it: pick another port, or 0 for any free one)`);
    } finally {
      busy.close();
    }
    const none = await inProcess(["run", file("pair.yaml", PAIR), "--listen", "0"]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /^wavnet run: --listen: .*pair\.yaml has no websocket interface with listen: true to serve; add one to a node/);
    const needs = await inProcess(["run", gwFile]);
    assert.equal(needs.code, 2);
    assert.match(needs.stderr, /gw\.yaml:6:9: nodes\[0\]\.interfaces\[0\]: gw:ws0: listen: true needs a listener \(wavnet run --listen PORT/);
    for (const [v, msg] of [
      ["70000", "wavnet run: --listen: port 70000 is out of range (0 to 65535; 0: any free port)"],
      ["x:y", `wavnet run: --listen takes PORT or HOST:PORT ([ADDR]:PORT for IPv6), got "x:y"`],
      ["::1:80", `wavnet run: --listen takes PORT or HOST:PORT ([ADDR]:PORT for IPv6), got "::1:80"`],
    ]) assert.deepEqual((await inProcess(["run", gwFile, "--listen", v!])).stderr.trim(), msg);
    assert.equal((await inProcess(["run", gwFile, "--listen"])).stderr.trim(), "wavnet run: --listen needs a value");
    assert.equal((await inProcess(["run", gwFile, "--listen", "0", "--virtual-time"])).stderr.trim(), "wavnet run: --listen and --virtual-time exclude each other (a peer in another process or page cannot share virtual time)");
    assert.match((await inProcess(["--help"])).stdout, /--listen \[HOST:\]PORT\n\s+serve the file's websocket interfaces/);
  });

  test("--allow-origin: browser pages from that origin join, others are refused (4403); bad values are usage errors", async () => {
    const gw = started(["run", file("gw.yaml", GW), "--listen", "0", "--allow-origin", "http://lab.example", "--allow-origin", "https://other.example:8443"]);
    try {
      const url = (await gw.waitFor(/^ {2}gw:ws0 +(ws:\/\/127\.0\.0\.1:\d+\/gw\/ws0)$/m))[1]!;
      const closeOf = (origin: string) => new Promise<number | "open">((resolve, reject) => {
        const ws = new WebSocket(url, { origin });
        ws.on("open", () => setTimeout(() => (ws.readyState === WebSocket.OPEN ? (ws.close(), resolve("open")) : undefined), 200));
        ws.on("close", (code) => resolve(code));
        ws.on("error", reject);
      });
      assert.equal(await closeOf("http://evil.example"), 4403);
      assert.equal(await closeOf("http://lab.example"), "open");
    } finally {
      gw.p.kill("SIGTERM");
    }
    assert.equal(await gw.closed, 0);
    const gwFile = join(dir, "gw.yaml");
    assert.equal((await inProcess(["run", gwFile, "--allow-origin", "http://lab.example"])).stderr.trim(), "wavnet run: --allow-origin is for --listen");
    assert.match((await inProcess(["run", gwFile, "--listen", "0", "--allow-origin", "http://lab.example/page"])).stderr, /^wavnet run: --allow-origin takes an origin such as https:\/\/lab\.example\.org .*got "http:\/\/lab\.example\/page"\n$/);
  });

  test("wavnet relay: two labs joined on its ports share one segment; its errors", async () => {
    const relay = started(["relay", "--listen", "127.0.0.1:0", "--ports", "2"]);
    const host = (name: string, url: string, addr: string, steps = "") => `name: ${name}\nnodes:\n  - name: ${name}\n    interfaces:\n      - { name: ws0, kind: websocket, url: "${url}", addresses: [${addr}] }\n${steps}`;
    let a: ReturnType<typeof spawn> | undefined;
    try {
      const p1 = (await relay.waitFor(/^ {2}relay:p1 +(ws:\/\/127\.0\.0\.1:\d+\/relay\/p1)$/m))[1]!;
      const p2 = (await relay.waitFor(/^ {2}relay:p2 +(ws:\/\/127\.0\.0\.1:\d+\/relay\/p2)$/m))[1]!;
      await relay.waitFor(/up until \^C or SIGTERM/);
      // a stays up (a shell waiting on its script); b pings it through the relay's bridge.
      a = spawn(process.execPath, [BIN, "shell", file("a.yaml", host("a", p1, "10.9.0.1/24"))], { stdio: ["pipe", "ignore", "pipe"] });
      await relay.waitFor(/relay:p1: peer 127\.0\.0\.1:\d+ joined/);
      const b = await wavnet(["run", file("b.yaml", host("b", p2, "10.9.0.2/24", "steps:\n  - ping: { from: b, to: 10.9.0.1, count: 2 }\n"))]);
      assert.equal(b.code, 0, b.stdout + b.stderr);
      assert.match(b.stdout, /2\/2 replies from 10\.9\.0\.1/);
    } finally {
      a?.stdin!.end();
      relay.p.kill("SIGTERM");
    }
    if (a) assert.equal(await new Promise((r) => (a!.exitCode !== null ? r(a!.exitCode) : a!.on("close", r))), 0, "a's shell ended with its script");
    assert.equal(await relay.closed, 0, relay.o.stdout + relay.o.stderr);
    assert.match(relay.o.stdout, /^relay \(relay\): 1 nodes, 0 links up/);
    assert.match(relay.o.stdout, /teardown: 1 vnets destroyed, 0 pages and 0 items leaked/);
    assert.equal((await inProcess(["relay"])).stderr.trim(), "wavnet relay: --listen [HOST:]PORT is needed");
    assert.equal((await inProcess(["relay", "--listen", "0", "--ports", "0"])).stderr.trim(), `wavnet relay: --ports must be 1 to 64, got "0"`);
    assert.equal((await inProcess(["relay", "x.yaml", "--listen", "0"])).stderr.trim(), `wavnet relay: no file: the relay is its own lab (got "x.yaml")`);
  });

  test("[::1]:PORT listens on IPv6 loopback; wavnet shell --listen serves too", async () => {
    const r = started(["shell", file("gw.yaml", GW), "--listen", "[::1]:0"]);
    // The shell reads its script from stdin (ignored: at once at its end), so it prints the URLs and goes down.
    assert.equal(await r.closed, 0);
    assert.match(r.o.stderr, /^listening on \[::1\]:\d+: websocket interfaces/m);
    assert.match(r.o.stderr, /gw:ws0 +ws:\/\/\[::1\]:\d+\/gw\/ws0/);
  });
});

test("every example topology in examples/ runs green under wavnet run (virtual time, --json)", async () => {
  const examples = fileURLToPath(new URL("../examples/", import.meta.url));
  const files = readdirSync(examples).filter((f) => /\.ya?ml$/.test(f));
  assert.ok(files.length >= 1);
  for (const f of files) {
    const pcap = join(dir, `pcap-${f}`);
    const r = await inProcess(["run", join(examples, f), "--virtual-time", "--json", "--pcap", pcap]);
    assert.equal(r.stderr, "", f);
    const doc = JSON.parse(r.stdout);
    const failed = doc.steps.filter((s: { ok: boolean }) => !s.ok).map((s: { name: string; detail: string }) => `${s.name}: ${s.detail}`);
    assert.deepEqual(failed, [], f);
    assert.equal(r.code, 0, f);
    assert.deepEqual([doc.teardown.ok, doc.teardown.pagesLeaked, doc.teardown.socketsLeft], [true, 0, 0], f);
    // --pcap reaches the runner: every capture step left a file in that folder (made by main).
    const captures = doc.steps.filter((s: { action: string; name: string }) => s.action === "capture" && /^capture off/.test(s.name)).length;
    assert.equal(readdirSync(pcap).filter((x) => /\.pcap(ng)?$/.test(x)).length >= Math.min(captures, 1), true, f);
  }
});

describe("wavnet shell", () => {
  test("a script on stdin: ifconfig, ping, netstat, vmstat -z, a link change, capture on/off", async () => {
    const pcap = join(dir, "h1.pcap");
    const script = [
      "# comments and blank lines are skipped",
      "",
      "nodes",
      "h1 ifconfig eth0",
      "h1 ping -c 2 10.0.0.2",
      "h1 link eth0 delay 20ms both",
      "links",
      "h1 ping -c 1 10.0.0.2",
      "h2 netstat -s -p icmp",
      "h1 vmstat -z",
      `h1 capture eth0 on ${pcap}`,
      "h1 ping -c 1 -s 200 10.0.0.2",
      "h1 capture eth0 off",
      "quit",
      "h1 ifconfig",
    ].join("\n");
    const r = await wavnet(["shell", file("pair.yaml", PAIR), "--virtual-time"], script);
    assert.equal(r.stderr, "");
    assert.equal(r.code, 0, r.stdout);
    // Each line is echoed before its output.
    assert.match(r.stdout, /^wavnet> h1 ifconfig eth0\nepair\d+a: flags=8843<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST> mtu 1500/m);
    assert.match(r.stdout, /\tdescription: eth0\n/);
    assert.match(r.stdout, /\tinet 10\.0\.0\.1 netmask 0xffffff00 broadcast 10\.0\.0\.255/);
    assert.match(r.stdout, /^NODE\s+ROLE\s+INTERFACES\nh1\s+host\s+eth0\(epair\d+a\) 10\.0\.0\.1\/24$/m);
    assert.match(r.stdout, /2 packets transmitted, 2 packets received, 0\.0% packet loss/);
    assert.match(r.stdout, /^h1:eth0\s+h2:eth0\s+delay 20ms\s+delay 20ms$/m);
    // 20 ms each way now: the round trip is exactly 40 ms on virtual time, plus kernel time.
    const rtt = [...r.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
    assert.equal(rtt.length, 4);
    assert.ok(rtt[2] >= 40 && rtt[2] < 41, `rtt ${rtt[2]}`);
    assert.match(r.stdout, /^wavnet> h2 netstat -s -p icmp\nicmp:\n[\s\S]*?Input histogram:\n\t\techo: 3\n/m);
    assert.match(r.stdout, /^wavnet> h1 vmstat -z\nITEM\s+SIZE\s+LIMIT\s+USED/m);
    assert.match(r.stdout, /^epair\d+a: 2 frames captured, 0 dropped, written to .*h1\.pcap$/m);
    const frames = readPcap(readFileSync(pcap)).packets;
    assert.deepEqual(frames.map((f) => f.origLen), [14 + 20 + 8 + 200, 14 + 20 + 8 + 200]);
    // quit ends the script: the last line never ran; teardown is printed.
    assert.doesNotMatch(r.stdout, /wavnet> h1 ifconfig\n/);
    assert.match(r.stdout, /teardown/i);
  });

  test("a failed command is one line on stderr, the script goes on, and the exit status is 1", async () => {
    const script = ["h1 frobnicate", "h9 ifconfig", "h1 ping -c 1 -W 50 10.0.0.77", "h1 ping6 -c 1 -W 50 fd00::77", "h1 link eth0 loss 200%", "h2 ifconfig -l"].join("\n");
    const r = await wavnet(["shell", file("pair.yaml", PAIR), "--virtual-time"], script);
    assert.equal(r.code, 1);
    const errs = r.stderr.trim().split("\n");
    assert.equal(errs.length, 5, r.stderr);
    assert.match(errs[0], /^frobnicate: unknown command \(commands: arp, capture, /);
    assert.match(errs[1], /^h9: no such node or shell command \(nodes: h1, h2; shell: help, nodes, links, sleep, pingall, quit\)$/);
    assert.equal(errs[2], "ping: no reply from 10.0.0.77 (1 sent)");
    // No IPv6 route at all (the pair has IPv4 only): the hint, with no router to name.
    assert.equal(errs[3], "ping6: no route to fd00::77 from h1: add routes: [{to: default, via: ...}] to node h1");
    assert.match(errs[4], /^link: loss: "200%" is not between 0 and 1 \(0% and 100%\): write a percentage/);
    // ping's own statistics still reach stdout; the last command ran.
    assert.match(r.stdout, /1 packets transmitted, 0 packets received, 100\.0% packet loss/);
    assert.match(r.stdout, /^wavnet> h2 ifconfig -l\nlo0 epair\d+b$/m);
  });

  test("a schema error exits 2 before the shell starts", async () => {
    const r = await wavnet(["shell", file("dup.yaml", PAIR.replace("name: h2", "name: h1"))], "h1 ifconfig\n");
    assert.equal(r.code, 2);
    assert.match(r.stderr, /dup\.yaml:\d+:\d+: .*h1/);
    assert.equal(r.stdout, "");
    assert.ok(!existsSync(join(dir, "never")));
  });
});
