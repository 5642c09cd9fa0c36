// The page protocol (host/web/protocol.ts) end to end over a Node worker_threads worker, as
// the browser page speaks it to its Web Worker: load a topology, shell lines on a node's
// console, time control (max speed, paced, paused and stepped), captures with decoded rows
// and a pcapng, counters, link conditions and cuts, the animation's flights, the file's
// steps with the CLI's table, files written by the shell's capture, and teardown.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { Worker } from "node:worker_threads";
import { readFileSync, writeFileSync, mkdtempSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { LabClient, LabError } from "../host/web/client.js";
import { routeText, routeLines, parseRouteText } from "../host/web/protocol.js";
import { readPcapng } from "../host/capture/pcap.js";
import { decodeFrame } from "../host/web/decode.js";
import { tsharkCheck, tsharkSkip } from "./helpers/tshark.js";

const demo = readFileSync(new URL("../examples/demo.yaml", import.meta.url), "utf8");
// The worker runs TypeScript as the test does: tsx's loader registered first (Node 20 does
// not hand a worker's .ts entry to loaders given with --import).
const entry = new URL("./helpers/lab_worker.ts", import.meta.url).href;
const worker = new Worker(`import("tsx/esm/api").then((t) => { t.register(); return import(${JSON.stringify(entry)}); });`, { eval: true });
const lab = new LabClient(worker);
worker.on("message", (m) => lab.receive(m));
worker.on("error", (e) => lab.fail(String(e)));
after(async () => {
  await worker.terminate();
});

const wall = async <T>(p: Promise<T>): Promise<[T, number]> => {
  const t0 = performance.now();
  const v = await p;
  return [v, performance.now() - t0];
};

test("hello, and a bad file's problems come back at their lines without loading anything", async () => {
  const h = await lab.request("hello");
  assert.equal(h.version, 3);
  assert.match(h.platform, /worker/);
  const bad = "nodes:\n  - name: a\n    interfaces: [{ name: eth0, addresses: [10.0.0.300/24] }]\n  - name: b\n    colour: red\n";
  const c = await lab.request("check", { yaml: bad, file: "bad.yaml" });
  assert.equal(c.ok, false);
  assert.equal(c.problems[0]!.line, 5);
  assert.match(c.problems[0]!.reason, /unknown field "colour"/);
  await assert.rejects(lab.request("load", { yaml: bad, file: "bad.yaml" }), (e: LabError) => {
    assert.equal(e.kind, "TopologyError");
    assert.equal(e.problems[0]!.line, 5);
    return true;
  });
  assert.equal(await lab.request("info"), null);
});

test("load demo.yaml; a node's console runs the shell's commands at full speed", async () => {
  const loaded = lab.next("loaded");
  const info = await lab.request("load", { yaml: demo, file: "demo.yaml" });
  assert.deepEqual(await loaded, { event: "loaded", name: "demo", nodes: 6, links: 5 });
  assert.equal(info.nodes.length, 6);
  assert.deepEqual(info.links.map((l) => `${l.a}|${l.b}`), ["c1:eth0|sw:p1", "c2:eth0|sw:p2", "ra:eth0|sw:p3", "ra:wan|rb:wan", "rb:eth0|web:eth0"]);
  assert.equal(info.links[3]!.conditions["a->b"].delayUs, 20_000);
  assert.equal(info.nodes.find((n) => n.name === "ra")!.role, "router");
  assert.equal(info.nodes.find((n) => n.name === "ra")!.routes, "10.2.0.0/24 via 192.0.2.2");
  assert.deepEqual(routeLines(info.nodes.find((n) => n.name === "ra")!.routes), ["10.2.0.0/24 via 192.0.2.2"]);
  assert.deepEqual(routeLines(info.nodes.find((n) => n.name === "c1")!.routes), ["default via 10.1.0.1"]);
  assert.deepEqual(routeLines(info.nodes.find((n) => n.name === "sw")!.routes), [], "a node without routes has none, not one empty line");
  for (const r of [{ to: "default", via: "10.1.0.1" }, { to: "10.9.0.0/16", dev: "eth0" }, { to: "fd00:9::/64", via: "fe80::1%eth0", dev: "eth0" }]) {
    assert.deepEqual(parseRouteText(routeText(r)), r, "a route's text reads back to its fields");
  }
  assert.equal(info.steps.length, 11);
  await lab.request("time", { speed: Infinity, playing: true });
  const r = await lab.request("shell", { node: "c1", line: "ping -c 2 -i 0.1 10.1.0.12" });
  assert.equal(r.error, undefined);
  assert.match(r.out, /2 packets transmitted, 2 packets received, 0.0% packet loss/);
  assert.match((await lab.request("shell", { node: "ra", line: "ifconfig wan" })).out, /inet 192\.0\.2\.1 netmask 0xfffffffc/);
  // Shell words, and the wavnet shell form "NODE COMMAND" without a console node.
  assert.match((await lab.request("shell", { line: "nodes" })).out, /^NODE\s+ROLE/);
  assert.match((await lab.request("shell", { line: "rb netstat -rn -f inet" })).out, /10\.1\.0\.0\/24\s+192\.0\.2\.1/);
  const e = await lab.request("shell", { node: "c1", line: "frob" });
  assert.match(e.error!, /^frob: unknown command/);
  assert.deepEqual(await lab.request("complete", { node: "c1", line: "pi" }), { candidates: ["ping", "ping6", "pingall"], word: "pi" });
  assert.deepEqual((await lab.request("complete", { node: "ra", line: "ifconfig w" })).candidates, ["wan"]);
});

test("paced virtual time: speed 1 takes the wall time the pings span; paused holds them; a step moves to the next event", async () => {
  await lab.request("time", { speed: 1, playing: true });
  const [r, ms] = await wall(lab.request("shell", { node: "c1", line: "ping -c 3 -i 0.2 10.1.0.12" }));
  assert.match(r.out, /3 packets received/);
  assert.ok(ms >= 350 && ms < 3000, `3 pings 0.2 s apart at speed 1 took ${ms.toFixed(0)} ms of wall time`);
  // Speed 10: ten times faster.
  await lab.request("time", { speed: 10 });
  const [, fast] = await wall(lab.request("shell", { node: "c1", line: "ping -c 3 -i 0.5 10.1.0.12" }));
  assert.ok(fast >= 80 && fast < 2500, `1 s of pings at speed 10 took ${fast.toFixed(0)} ms`);
  // Paused: the ping waits; steps move time event by event; play lets it finish.
  const paused = await lab.request("time", { playing: false });
  assert.equal(paused.playing, false);
  let done = false;
  const p = lab.request("shell", { node: "c1", line: "ping -c 3 -i 1 10.2.0.80" }).then((x) => ((done = true), x));
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(done, false, "a paused clock holds the ping");
  const s1 = await lab.request("stepTime");
  assert.ok(s1.waiting >= 1, "the ping waits for time");
  const s2 = await lab.request("stepTime");
  assert.ok(s2.nowUs > s1.nowUs, `a step moves time to the next event (${s1.nowUs} -> ${s2.nowUs})`);
  assert.ok(s2.nowUs - s1.nowUs <= 1_000_000, "no further than the next event");
  assert.equal(done, false);
  await lab.request("time", { playing: true, speed: Infinity });
  const out = await p;
  assert.match(out.out, /3 packets received/);
});

test("^C (interrupt) stops a console's ping at once, with the statistics of the probes sent; paused too; other consoles go on", { timeout: 30_000 }, async () => {
  await lab.request("time", { speed: 1, playing: true });
  const t0 = performance.now();
  const p = lab.request("shell", { node: "c1", line: "ping -c 100 -i 0.1 10.1.0.12" });
  const other = lab.request("shell", { node: "c2", line: "ping -c 2 -i 0.1 10.1.0.11" });
  await new Promise((r) => setTimeout(r, 450));
  assert.deepEqual(await lab.request("interrupt", { node: "c1" }), { interrupted: 1 });
  const r = await p;
  const ms = performance.now() - t0;
  assert.equal(r.interrupted, true);
  const sent = Number(/(\d+) packets transmitted, (\d+) packets received/.exec(r.out)?.[1]);
  assert.ok(sent >= 2 && sent < 20, `a few of the 100 were sent before ^C (${sent}):\n${r.out}`);
  assert.match(r.out, /round-trip min\/avg\/max/);
  assert.ok(ms < 3000, `the ping ended at ^C, not after 10 s (${ms.toFixed(0)} ms)`);
  assert.match((await other).out, /2 packets received/, "c2's ping is not c1's to stop");
  // Paused, a waiting ping still ends at ^C; nothing to stop is 0.
  await lab.request("time", { playing: false });
  const q = lab.request("shell", { node: "c1", line: "ping -c 5 -i 1 10.1.0.12" });
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(await lab.request("interrupt", { node: "c1" }), { interrupted: 1 });
  const held = await q;
  assert.equal(held.interrupted, true);
  assert.match(held.out + (held.error ?? ""), /1 packets transmitted/);
  assert.deepEqual(await lab.request("interrupt", { node: "c1" }), { interrupted: 0 });
  // sleep stops at ^C too.
  await lab.request("time", { playing: true, speed: 1 });
  const z = lab.request("shell", { node: "c1", line: "sleep 30s" });
  await new Promise((r) => setTimeout(r, 100));
  await lab.request("interrupt", { node: "c1" });
  assert.equal((await z).interrupted, true);
  await lab.request("time", { playing: true, speed: Infinity });
});

test("a capture streams decoded ICMP rows and its pcapng reads back (and tshark reads it cleanly)", async () => {
  const { capture, ifName } = await lab.request("captureStart", { endpoint: "ra:wan" });
  assert.match(ifName, /^ra:epair\d+a$/);
  const rows: import("../host/web/protocol.js").PacketRow[] = [];
  const off = lab.on("rows", (e) => {
    if (e.capture === capture) rows.push(...e.rows);
  });
  const r = await lab.request("shell", { node: "c1", line: "ping -c 2 -i 0.1 10.2.0.80" });
  assert.match(r.out, /2 packets received/);
  await lab.request("captureStop", { capture });
  await new Promise((r) => setTimeout(r, 100));
  off();
  const req = rows.filter((x) => x.summary.proto === "ICMP" && /Echo \(ping\) request/.test(x.summary.info));
  const rep = rows.filter((x) => x.summary.proto === "ICMP" && /Echo \(ping\) reply/.test(x.summary.info));
  assert.equal(req.length, 2);
  assert.equal(rep.length, 2);
  assert.equal(req[0]!.summary.src, "10.1.0.11");
  assert.equal(req[0]!.summary.dst, "10.2.0.80");
  assert.equal(req[0]!.dir, "out");
  assert.match(req[0]!.summary.info, /id=0x[0-9a-f]{4}, seq=0, ttl=63/);
  const layers = decodeFrame(req[0]!.data).layers.map((l) => l.name);
  assert.deepEqual(layers, ["Frame", "Ethernet II", "Internet Protocol Version 4", "Internet Control Message Protocol"]);
  const { bytes, name } = await lab.request("capturePcapng", { capture });
  assert.equal(name, "wavnet-ra-wan.pcapng");
  const file = readPcapng(bytes);
  assert.equal(file.packets.length, rows.length);
  if (!tsharkSkip) {
    const dir = mkdtempSync(join(tmpdir(), "wavnet-web-"));
    writeFileSync(join(dir, name), bytes);
    const t = tsharkCheck(join(dir, name), ["icmp.type"]);
    assert.deepEqual(t.errors, []);
    assert.equal(t.rows.filter((x) => x[0] === "8").length, 2);
  }
});

test("counters, link conditions and a cut, while pings cross", async () => {
  const st = await lab.request("counters");
  const wan = st.ifaces.find((i) => i.node === "ra" && i.name === "wan")!;
  assert.ok(wan.opackets > 0 && wan.obytes > 0, "ra's WAN has sent");
  assert.ok(st.links[3]!["a->b"].sent > 0);
  const stats = await lab.next("stats");
  assert.ok(stats.stats.ifaces.length >= 12);
  const li = await lab.request("setConditions", { link: "ra:wan", dir: "both", conditions: { loss: 1 } });
  assert.equal(li.conditions["a->b"].loss, 1);
  assert.equal(li.conditions["a->b"].delayUs, 0, "conditions are replaced");
  const f = await lab.request("shell", { node: "c1", line: "ping -c 2 -i 0.1 -t 1 10.2.0.80" });
  assert.match(f.error ?? "", /no reply|100\.0% packet loss|ping:/);
  await lab.request("setConditions", { link: "ra:wan|rb:wan", dir: "both", conditions: { delayUs: 5000 } });
  assert.match((await lab.request("shell", { node: "c1", line: "ping -c 1 10.2.0.80" })).out, /1 packets received/);
  const cut = await lab.request("cut", { link: "#3", cut: true });
  assert.equal(cut.cut, true);
  assert.ok((await lab.request("shell", { node: "c1", line: "ping -c 1 -t 1 10.2.0.80" })).error);
  const back = await lab.request("cut", { link: "#3", cut: false });
  assert.equal(back.cut, false);
  assert.equal(back.conditions["a->b"].delayUs, 5000, "restored as it was before the cut");
  assert.match((await lab.request("shell", { node: "c1", line: "ping -c 1 10.2.0.80" })).out, /1 packets received/);
});

test("the animation's flights: frames depart one end of a link and arrive at the other", async () => {
  assert.deepEqual(await lab.request("animate", { on: true }), { on: true });
  const flights: import("../host/web/protocol.js").Flight[] = [];
  const off = lab.on("flights", (e) => flights.push(...e.flights));
  await lab.request("shell", { node: "c1", line: "ping -c 1 10.2.0.80" });
  // Flights come as events from the worker, after the reply: wait for the WAN crossing's
  // arrival (a busy machine delays them), at most 5 s.
  const wanArrived = () => flights.some((a) => a.kind === "arrive" && flights.some((d) => d.kind === "depart" && d.proto === "ICMP" && d.link === 3 && d.dir === "a->b" && d.id === a.id));
  for (const t0 = Date.now(); !wanArrived() && Date.now() - t0 < 5000; ) await new Promise((r) => setTimeout(r, 20));
  off();
  await lab.request("animate", { on: false });
  const departs = flights.filter((f) => f.kind === "depart" && f.proto === "ICMP");
  const wanOut = departs.find((f) => f.kind === "depart" && f.link === 3 && f.dir === "a->b")!;
  assert.ok(wanOut, `an ICMP frame crosses the WAN a->b: ${JSON.stringify(departs.slice(0, 4))}`);
  const arrived = flights.find((f) => f.kind === "arrive" && f.id === wanOut.id)!;
  assert.ok(arrived, "and arrives");
  assert.equal(arrived.atUs - (wanOut as { atUs: number }).atUs, 5000, "5 ms later: the link's delay");
});

test("the shell's capture writes a file in the worker's memory; steps run with the CLI's table; unload accounts", async () => {
  assert.match((await lab.request("shell", { node: "c1", line: "capture eth0 on" })).out, /^capturing on epair\d+a to \/tmp\/wavnet-c1-epair\d+a\.pcap$/);
  await lab.request("shell", { node: "c1", line: "ping -c 1 10.1.0.12" });
  assert.match((await lab.request("shell", { node: "c1", line: "capture eth0 off" })).out, /frames captured, 0 dropped, written to \/tmp\//);
  const { files } = await lab.request("files");
  const f = files.find((x) => x.path.startsWith("/tmp/wavnet-c1-"))!;
  assert.ok(f && f.bytes > 24 && !f.open);
  const { bytes } = await lab.request("readFile", { path: f.path });
  assert.equal(new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true), 0xa1b2c3d4);
  // The file's steps: a fresh lab, as fast as the work.
  await lab.request("load", { yaml: demo, file: "demo.yaml" });
  await lab.request("time", { speed: Infinity });
  const events: string[] = [];
  const off = lab.on("step", (e) => events.push(e.step.type));
  const res = await lab.request("runSteps");
  off();
  assert.equal(res.results.length, 11);
  assert.ok(res.results.every((x) => x.ok), res.table);
  assert.match(res.table, /^#\s+STEP\s+RESULT\s+TIME\s+FIGURES\s+DETAIL/);
  assert.equal(res.passed, "11 of 11 steps passed");
  assert.equal(events.filter((x) => x === "end").length, 11);
  assert.ok((await lab.request("files")).files.some((x) => x.path === "/captures/demo-wan.pcapng"), "the capture step wrote its file");
  const { teardown } = await lab.request("unload");
  assert.equal(teardown!.ok, true, teardown!.text);
  assert.equal(await lab.request("info"), null);
});

test("grow: nodes and links added to the file come up in the running lab (time, captures and other nodes go on); anything else is refused with why", async () => {
  const base = `name: grow
nodes:
  - name: sw
    role: bridge
    interfaces: [{ name: p1 }, { name: p2 }]
  - name: a
    interfaces: [{ name: eth0, addresses: [10.7.0.1/24] }]
  - name: b
    interfaces: [{ name: eth0, addresses: [10.7.0.2/24] }]
links:
  - endpoints: [sw:p1, a:eth0]
  - endpoints: [sw:p2, b:eth0]
`;
  await lab.request("load", { yaml: base, file: "grow.yaml" });
  await lab.request("time", { speed: Infinity, playing: true });
  assert.match((await lab.request("shell", { node: "a", line: "ping -c 1 10.7.0.2" })).out, /1 packets received/);
  const cap = await lab.request("captureStart", { endpoint: "a:eth0" });
  const t0 = (await lab.request("counters")).nowUs;
  // A node c on the bridge (a new port p3: the bridge's members grow) and a node d linked to c, a comment above them.
  const grown = base.replace("  - name: a\n", "  # added\n  - name: c\n    interfaces: [{ name: eth0, addresses: [10.7.0.3/24] }, { name: eth1, addresses: [10.8.0.1/24] }]\n  - name: d\n    interfaces: [{ name: eth0, addresses: [10.8.0.2/24] }]\n  - name: a\n")
    .replace("interfaces: [{ name: p1 }, { name: p2 }]", "interfaces: [{ name: p1 }, { name: p2 }, { name: p3 }]")
    + "  - endpoints: [sw:p3, c:eth0]\n  - endpoints: [c:eth1, d:eth0]\n    conditions: { delay: 5ms }\n";
  const r = await lab.request("grow", { yaml: grown, file: "grow.yaml" });
  assert.equal(r.grown, true, JSON.stringify(r));
  if (!r.grown) return;
  assert.deepEqual([r.nodes, r.links], [["c", "d"], 2]);
  assert.deepEqual(r.info.nodes.map((n) => n.name), ["sw", "a", "b", "c", "d"], "new nodes after the old ones");
  assert.equal(r.info.nodes.find((n) => n.name === "a")!.line, 11, "old nodes have their new lines");
  assert.equal(r.info.links[3]!.conditions["a->b"].delayUs, 5000);
  // Kernel time went on (no restart); a reaches c through the bridge's new port; c reaches d over the delayed link.
  assert.ok((await lab.request("counters")).nowUs >= t0);
  assert.match((await lab.request("shell", { node: "a", line: "ping -c 2 10.7.0.3" })).out, /2 packets received/);
  assert.match((await lab.request("shell", { node: "c", line: "ping -c 2 10.8.0.2" })).out, /icmp_seq=1 ttl=64 time=10\.000 ms/, "5 ms each way (the first waits for ARP)");
  // The capture started before the growth is still running and saw a's pings to c.
  const stop = await lab.request("captureStop", { capture: cap.capture });
  assert.ok(stop.frames >= 6, `a:eth0's capture went on: ${stop.frames} frames`);
  // Not growths: a changed address, a removed link, a new interface on an old node that is no new link's end.
  for (const [yaml, why] of [
    [grown.replace("10.7.0.1/24", "10.7.0.9/24"), /a:eth0 changed/],
    [grown.replace("delay: 5ms", "delay: 6ms"), /link c:eth1 - d:eth0 changed/],
    [grown.replace(", { name: eth1, addresses: [10.8.0.1/24] }", "").replace("  - name: d\n    interfaces: [{ name: eth0, addresses: [10.8.0.2/24] }]\n", "").replace("  - endpoints: [c:eth1, d:eth0]\n    conditions: { delay: 5ms }\n", ""), /a link was removed/],
    [grown.replace("[{ name: eth0, addresses: [10.7.0.2/24] }]", "[{ name: eth0, addresses: [10.7.0.2/24] }, { name: br9, kind: bridge }]"), /b:br9 is new and not the end of a new link/],
    [`${grown.replace("nodes:\n", "nodes:\n  - name: e\n    interfaces: [{ name: ws0, kind: websocket, url: \"ws://127.0.0.1:9/x\" }]\n")}`, /new node e has a websocket interface \(ws0\)/],
  ] as const) {
    const no = await lab.request("grow", { yaml, file: "grow.yaml" });
    assert.equal(no.grown, false);
    if (!no.grown) assert.match(no.why, why);
  }
  // Everything grown goes with the lab.
  const { teardown } = await lab.request("unload");
  assert.equal(teardown!.ok, true, teardown!.text);
  assert.equal(teardown!.vnets, 5);
});

test("the page's consoles run ipfw: examples/firewall.yaml's router filters, its counters show it, unload accounts", async () => {
  const fw = readFileSync(new URL("../examples/firewall.yaml", import.meta.url), "utf8");
  const info = await lab.request("load", { yaml: fw, file: "firewall.yaml" });
  assert.equal(info.nodes.length, 5);
  await lab.request("time", { speed: Infinity, playing: true });
  // h2 pings out (h1 would open the way back: an ICMP state has no ports, as in FreeBSD, so it passes any ICMP between the pair).
  assert.match((await lab.request("shell", { node: "h2", line: "ping -c 1 198.51.100.80" })).out, /1 packets received/);
  const refused = await lab.request("shell", { node: "server", line: "ping -c 1 -t 1 10.0.1.10" });
  assert.match(`${refused.out}\n${refused.error ?? ""}`, /1 packets transmitted, 0 packets received/, `nobody outside pings in: ${JSON.stringify(refused)}`);
  // One echo through gw: request in on lan and out on wan, reply in on wan and out on lan, 84 bytes each.
  assert.match((await lab.request("shell", { node: "gw", line: "ipfw show 300" })).out, /^00300 4 336 allow icmp from 10\.0\.1\.0\/24 to any icmptypes 8 keep-state :default$/);
  assert.match((await lab.request("shell", { line: "gw ipfw show 65000" })).out, /^65000 [1-9]\d* +\d+ deny log ip from any to any$/);
  const { teardown } = await lab.request("unload");
  assert.equal(teardown!.ok, true, teardown!.text);
});
