// Group "tcp": TCP through the tcp module and the host socket API, two vnets A and B on an
// epair at MTU 1500, virtual clock (bench/README.md "Group tcp" says how each figure is made).
//
// tcp_epair_gbps: one connection A -> B; the host writes every byte into the kernel
// (Socket.send, 64 KiB per call: the I/O buffer's size) and reads every byte out
// (Socket.recvInto, into one reused 64 KiB Uint8Array: the public no-allocation read, as
// Node's onread buffer; docs/sockets.md "Moving bytes fast"), and checks them: a hash of
// everything sent against everything read (a figure for bytes nobody looked at proves
// nothing about the stack; the loop and its hash are bench/workloads/tcp_epair.ts, which
// the browser group runs in Chromium too). The note gives the same runs unverified, and
// the read with Socket.recv (a new Uint8Array per call). tcp_epair_nooffload_gbps: the same
// with checksum offload and TSO off on both epair ends. Peers in the same run: Node's own node:net over
// 127.0.0.1 (server and client in this process, 1 MiB writes), and iperf3 between two Linux
// network namespaces over a veth, once with its offloads on and once off (root and iperf3 only).
// tcp_connections_per_s: connect, accept, 1 byte each way, close, in a loop.
// tcp_idle_conn_bytes / tcp_100k_conns_bytes: growth of A + B vnet accounting
// (v.accounting().bytes) over N established idle connections.

import net from "node:net";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { Kernel, type Vnet } from "../../host/index.js";
import type { VirtualClock } from "../../host/index.js";
import { socket, type Socket } from "../../host/index.js";
import { tcpStats, tcpKnob, maxSockets } from "../../host/index.js";
import { median, nowNs, round, type Group, type GroupContext } from "../lib.js";
import { hosts, tcpEpairBulk } from "../workloads/tcp_epair.js";

const GiB = 2 ** 30;
const MiB = 2 ** 20;
/** Bytes moved per throughput run (the issue asks 4 GiB; see the note). */
const XFER = 4 * GiB;
/** Per run with offloads off: every segment MTU-sized and checksummed in software, so fewer bytes for a similar time. */
const XFER_NOOFFLOAD = 1 * GiB;
const XFER_RUNS = 3;

function clock(k: Kernel): VirtualClock {
  return k.clock as VirtualClock;
}

// ---------------------------------------------------------------------------------------
// Throughput: the shared workload (bench/workloads/tcp_epair.ts), which the browser group
// also runs inside a Web Worker of Chromium.

/** tcp_epair_gbps's sizes (3 x 4 GiB after 32 MiB), which the browser group runs too. */
export const EPAIR_BULK = { offload: true, xfer: XFER, runs: XFER_RUNS, warmup: 32 * MiB };

/** tcp_epair_gbps (offload on) or tcp_epair_nooffload_gbps, verified runs alternating with unverified ones. */
async function epairGbps(ctx: GroupContext, o: { offload: boolean; xfer: number }): Promise<{ gbps: number; note: string }> {
  return await tcpEpairBulk({ ...EPAIR_BULK, offload: o.offload, xfer: o.xfer, recvXfer: o.xfer / 8, unverified: true, now: nowNs, log: (m) => ctx.log(m) });
}

/** Node's node:net over 127.0.0.1 in this process: server reads, client writes 1 MiB chunks. */
async function nodeLoopbackGbps(total: number): Promise<number> {
  const chunk = Buffer.alloc(MiB, 0x5a);
  return await new Promise<number>((resolve, reject) => {
    let t0 = 0;
    const server = net.createServer((s) => {
      let got = 0;
      s.on("data", (d: Buffer) => {
        got += d.length;
        if (got >= total) {
          const sec = (nowNs() - t0) / 1e9;
          s.destroy();
          server.close();
          resolve((total * 8) / sec / 1e9);
        }
      });
      s.on("error", reject);
    });
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port;
      const c = net.connect(port, "127.0.0.1", () => {
        t0 = nowNs();
        let sent = 0;
        const pump = () => {
          while (sent < total) {
            sent += chunk.length;
            if (!c.write(chunk)) {
              c.once("drain", pump);
              return;
            }
          }
          c.end();
        };
        pump();
      });
      c.on("error", () => {});
    });
  });
}

function haveCmd(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

/** The offloads linux_veth_iperf3_nooffload_gbps turns off on both veth ends. */
const ETHTOOL_OFF = ["tso", "off", "gso", "off", "gro", "off", "tx", "off", "rx", "off"];

/**
 * iperf3 between two network namespaces over a veth (MTU 1500); with offload false, first
 * `ethtool -K <dev> tso off gso off gro off tx off rx off` on both ends (MTU-sized segments,
 * checksums in software: the like-for-like peer of tcp_epair_nooffload_gbps). The result or
 * the reason it cannot be measured; `features` lists what ethtool reports on after setup.
 */
async function linuxVethIperf3(o: { offload: boolean }): Promise<{ gbps: number; features: string } | { gbps?: undefined; reason: string }> {
  const root = typeof process.getuid === "function" && process.getuid() === 0;
  if (!root) return { reason: "needs root (ip netns)" };
  if (!haveCmd("ip")) return { reason: "iproute2 (ip) not installed" };
  if (!haveCmd("iperf3")) return { reason: "iperf3 not installed (the bench does not install it)" };
  if (!o.offload && !haveCmd("ethtool")) return { reason: "ethtool not installed (needed to turn the veth's offloads off)" };
  const ns = ["wvbtcpA", "wvbtcpB"];
  const devs = ["wvbtA", "wvbtB"];
  const cleanup = () => {
    for (const n of ns) spawnSync("ip", ["netns", "del", n], { stdio: "ignore" });
  };
  cleanup();
  try {
    const ip = (...a: string[]) => execFileSync("ip", a, { stdio: "pipe" });
    ip("netns", "add", ns[0]);
    ip("netns", "add", ns[1]);
    ip("link", "add", devs[0], "netns", ns[0], "type", "veth", "peer", "name", devs[1], "netns", ns[1]);
    ip("-n", ns[0], "addr", "add", "10.99.0.1/24", "dev", devs[0]);
    ip("-n", ns[1], "addr", "add", "10.99.0.2/24", "dev", devs[1]);
    for (let i = 0; i < 2; i++) {
      if (!o.offload) ip("netns", "exec", ns[i], "ethtool", "-K", devs[i], ...ETHTOOL_OFF);
      ip("-n", ns[i], "link", "set", devs[i], "up");
      ip("-n", ns[i], "link", "set", "lo", "up");
    }
    // What is on, as ethtool says (A's end; B's is set the same way).
    const feat = execFileSync("ip", ["netns", "exec", ns[0], "ethtool", "-k", devs[0]], { encoding: "utf8" });
    const on = ["tcp-segmentation-offload", "generic-segmentation-offload", "generic-receive-offload", "tx-checksumming", "rx-checksumming"]
      .map((f) => `${f.replace(/-offload$|-checksumming$/, "")} ${/: on/.test(feat.split("\n").find((l) => l.startsWith(f + ":")) ?? "") ? "on" : "off"}`).join(", ");
    const srv = spawn("ip", ["netns", "exec", ns[1], "iperf3", "-s", "-1", "-B", "10.99.0.2"], { stdio: "ignore" });
    await new Promise((r) => setTimeout(r, 500));
    const out = spawnSync("ip", ["netns", "exec", ns[0], "iperf3", "-c", "10.99.0.2", "-t", "4", "-J"], { encoding: "utf8", timeout: 20_000 });
    srv.kill();
    if (out.status !== 0) return { reason: `iperf3 -c failed: ${(out.stderr || out.stdout || "").slice(0, 200)}` };
    const j = JSON.parse(out.stdout);
    const bps = j?.end?.sum_received?.bits_per_second;
    if (typeof bps !== "number") return { reason: "iperf3 JSON had no end.sum_received.bits_per_second" };
    return { gbps: bps / 1e9, features: on };
  } catch (e) {
    return { reason: `veth/netns setup failed: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}` };
  } finally {
    cleanup();
  }
}

// ---------------------------------------------------------------------------------------
// Connections per second

async function connectionsPerS(ctx: GroupContext): Promise<{ cps: number; note: string }> {
  const { k, A, B } = await hosts(2);
  const lsn = socket(k, B, "inet", "stream").bind("0.0.0.0", 80).listen(128);
  const one = new Uint8Array([42]);
  // Client in A closes first, so A keeps each TIME_WAIT (60 s) and its ephemeral port
  // (16,384 of them): every BATCH connections the virtual clock jumps 61 s to expire them.
  const BATCH = 10_000;
  const conn = () => {
    const c = socket(k, A, "inet", "stream");
    c.connect("10.0.0.2", 80);
    const s = lsn.accept();
    if (!s) throw new Error("tcp_connections_per_s: connection not acceptable at once");
    c.send(one);
    const r = s.recv(16);
    if (!r || r.length !== 1) throw new Error("tcp_connections_per_s: byte did not arrive");
    s.send(one);
    const r2 = c.recv(16);
    if (!r2 || r2.length !== 1) throw new Error("tcp_connections_per_s: reply did not arrive");
    c.close();
    s.close();
  };
  const batch = (n: number) => {
    for (let i = 0; i < n; i++) conn();
    clock(k).advance(61_000_000);
  };
  batch(2_000); // warm-up
  const rates: number[] = [];
  const RUNS = 5;
  for (let r = 0; r < RUNS; r++) {
    const t0 = nowNs();
    batch(BATCH);
    rates.push(BATCH / ((nowNs() - t0) / 1e9));
  }
  const cps = median(rates);
  // Where the time goes: the same loop without the byte exchange.
  const bare = () => {
    const c = socket(k, A, "inet", "stream");
    c.connect("10.0.0.2", 80);
    const s = lsn.accept();
    if (!s) throw new Error("tcp_connections_per_s: connection not acceptable at once");
    c.close();
    s.close();
  };
  const bareRates: number[] = [];
  for (let r = 0; r < 3; r++) {
    const t0 = nowNs();
    for (let i = 0; i < BATCH; i++) bare();
    clock(k).advance(61_000_000);
    bareRates.push(BATCH / ((nowNs() - t0) / 1e9));
  }
  const bareUs = 1e6 / median(bareRates);
  const ts = nowNs();
  for (let i = 0; i < BATCH; i++) socket(k, A, "inet", "stream").close();
  const sockUs = (nowNs() - ts) / 1e3 / BATCH;
  const sa = tcpStats(k, A);
  const left = A.accounting().items;
  const note = `${RUNS} x ${BATCH / 1000}k, median; each: socket+connect in A (handshake done inside the call), accept in B, 1 byte each way, close both (client first: TIME_WAIT in A), plus a 61 s virtual-clock jump per ${BATCH / 1000}k to expire TIME_WAITs (A's 16,384 ephemeral ports); ` +
    `${round(1e6 / cps)} µs per connection, of which connect+accept+close without the bytes ${round(bareUs)} µs (socket()+close() alone ${round(sockUs)} µs); A: ${sa.connects} connects, ${sa.closed} closed; tcpcb left in A after the run ${left["tcpcb"] ?? 0}`;
  lsn.close();
  k.shutdown();
  ctx.log(`  ${round(cps)} connections/s`);
  return { cps, note };
}

// ---------------------------------------------------------------------------------------
// Memory of idle connections

interface Held {
  cli: Socket[];
  srv: Socket[];
}

/**
 * Listeners on B at LPORT0.. . A SYN's listener lookup walks only listeners (the listen
 * hash); spreading connections over several ports keeps the 4-tuples distinct with fewer
 * ephemeral ports on A.
 */
const LPORT0 = 1000;
function listeners(k: Kernel, B: Vnet, n: number): Socket[] {
  return Array.from({ length: n }, (_, i) => socket(k, B, "inet", "stream").bind("0.0.0.0", LPORT0 + i).listen(128));
}

/**
 * Open n idle established connections from A to B:80: each client binds an explicit local
 * port (A has only 16,384 ephemeral ports; explicit binds reach 1024-65535) on one of A's
 * addresses. Returns the sockets.
 */
function openIdle(k: Kernel, A: Vnet, lsn: Socket[], n: number, firstPort: number): Held {
  const held: Held = { cli: [], srv: [] };
  let port = firstPort;
  for (let i = 0; i < n; i++) {
    if (port > 65535) throw new Error(`tcp: out of local ports after ${i} connections`);
    const l = lsn[i % lsn.length];
    const c = socket(k, A, "inet", "stream");
    c.bind("10.0.0.1", port++);
    c.connect("10.0.0.2", LPORT0 + (i % lsn.length));
    held.cli.push(c);
    const s = l.accept();
    if (!s) throw new Error(`tcp: connection ${i} not acceptable at once`);
    held.srv.push(s);
  }
  return held;
}

function bytesOf(...vs: Vnet[]): number {
  return vs.reduce((a, v) => a + v.accounting().bytes, 0);
}

function itemsOf(...vs: Vnet[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of vs) for (const [z, n] of Object.entries(v.accounting().items)) out[z] = (out[z] ?? 0) + n;
  return out;
}

// Exported for quick runs of the memory figures alone (a script importing this file).
export async function idleConnBytes(n: number): Promise<{ per: number; note: string }> {
  const { k, A, B } = await hosts(3);
  const lsn = listeners(k, B, 16);
  // Warm: one connection made and closed (zones created, hash heads allocated), then the
  // baseline.
  const w = openIdle(k, A, lsn, 1, 65535);
  w.cli[0].close();
  w.srv[0].close();
  clock(k).advance(61_000_000);
  const before = bytesOf(A, B);
  const it0 = itemsOf(A, B);
  const pagesBefore = k.accounting().pagesInUse;
  const h = openIdle(k, A, lsn, n, 1);
  // Let every delayed ACK and handshake timer settle: the connections are idle.
  clock(k).advance(1_000_000);
  const after = bytesOf(A, B);
  const it1 = itemsOf(A, B);
  const pagesAfter = k.accounting().pagesInUse;
  const per = (after - before) / n;
  const sizes = new Map(A.vmstatZ().map((r) => [r.name, r.size]));
  const items = Object.keys(it1).filter((z) => (it1[z] ?? 0) !== (it0[z] ?? 0)).map((z) => `${z} +${(it1[z] ?? 0) - (it0[z] ?? 0)} x ${sizes.get(z) ?? "?"} B`).join(", ");
  for (const s of [...h.cli, ...h.srv]) s.close();
  for (const l of lsn) l.close();
  k.shutdown();
  return { per, note: `(bytes after - before) / ${n} of A + B accounting().bytes, ${n} established idle connections (clock advanced 1 s after); items: ${items}; accounting().bytes counts charged items at their item size (the timers are a callout inside the tcpcb), so slab overhead is not in it: kmem pages grew ${pagesAfter - pagesBefore} x 4096 = ${round(((pagesAfter - pagesBefore) * 4096) / n)} B per connection` };
}

/** Per-vnet caps for the 100k run: sockets and tcpcbs (both default to 65,536 per vnet). */
const BIG_CAP = 131_072;
/** Connection hash buckets for it (default 1,024: chains of ~100 at 100k connections). */
const BIG_HASH = 16_384;

export async function manyConns(ctx: GroupContext, want: number): Promise<{ n: number; bytes: number; note: string }> {
  const { k, A, B } = await hosts(4);
  for (const v of [A, B]) {
    maxSockets(k, v, BIG_CAP);
    tcpKnob(k, v, "maxtcpcb", BIG_CAP);
    tcpKnob(k, v, "tcbhashsize", BIG_HASH);
  }
  const L = 64;
  const lsn = listeners(k, B, L);
  const before = bytesOf(A, B);
  const pagesBefore = k.accounting().pagesInUse;
  // Open until `want` or the first connection that does not complete. A client takes an
  // ephemeral port (49152-65535, chosen per 4-tuple, so one port serves several of the L
  // listener ports) and connects to one of the L listeners; B accepts.
  const held: Held = { cli: [], srv: [] };
  let stop = "";
  const t0 = nowNs();
  for (let i = 0; i < want; i++) {
    let c: Socket | undefined;
    try {
      c = socket(k, A, "inet", "stream");
      c.connect("10.0.0.2", LPORT0 + (i % L));
    } catch (e) {
      stop = `connection ${i + 1}: ${e instanceof Error ? e.message : String(e)}`;
      c?.close();
      break;
    }
    const s = lsn[i % L].accept();
    if (!s) {
      const st = tcpStats(k, B);
      stop = `connection ${i + 1} did not complete: B dropped the SYN (listendrop ${st.listendrop}, B socket items ${B.accounting().items["socket"] ?? 0})`;
      c.close();
      break;
    }
    held.cli.push(c);
    held.srv.push(s);
    if ((i + 1) % 20_000 === 0) ctx.log(`  ${i + 1} connections, ${((nowNs() - t0) / 1e9).toFixed(1)} s`);
  }
  const n = held.cli.length;
  const sec = (nowNs() - t0) / 1e9;
  clock(k).advance(1_000_000);
  const after = bytesOf(A, B);
  const items = itemsOf(A, B);
  const pagesAfter = k.accounting().pagesInUse;
  const bytes = after - before;
  const mem = k.accounting().memoryBytes;
  const ports = new Set(held.cli.map((c) => { const a = c.address(); return a && a.family === "inet" ? a.port : 0; })).size;
  const tc = nowNs();
  for (const s of [...held.cli, ...held.srv]) s.close();
  for (const l of lsn) l.close();
  const closeSec = (nowNs() - tc) / 1e9;
  k.shutdown();
  ctx.log(`  ${n} connections in ${sec.toFixed(1)} s, closed in ${closeSec.toFixed(1)} s`);
  const head = n >= want
    ? `${n} connections`
    : `NOT ${want.toLocaleString("en")}: stopped at ${n} (${stop})`;
  return {
    n,
    bytes,
    note: `${head}; kern.ipc.maxsockets and net.inet.tcp.maxtcpcb set to ${BIG_CAP} in A and B (default 65,536), net.inet.tcp.tcbhashsize ${BIG_HASH} (default 1,024), both before the baseline like the listeners, so the hash's 2 x 60 KiB of extra heads are not in the value; clients on ${ports} distinct ephemeral ports (chosen per 4-tuple) to ${L} listener ports; value = growth of A + B accounting().bytes for ${n} established idle connections: ${round(bytes / n)} B per connection; items ${items["socket"] ?? 0} sockets, ${items["tcpcb"] ?? 0} tcpcbs; kmem pages +${pagesAfter - pagesBefore} (${round(((pagesAfter - pagesBefore) * 4096) / MiB)} MiB); Wasm memory ${round(mem / MiB)} MiB; opened in ${sec.toFixed(1)} s, closed in ${closeSec.toFixed(1)} s`,
  };
}

const group: Group = {
  name: "tcp",
  description: "TCP between two vnets over an epair through the host socket API: bulk, connection rate, memory",
  metrics: [
    { name: "tcp_epair_gbps", unit: "Gbit/s", description: "one connection A -> B over an epair at MTU 1500 with offloads on (TSO, checksums), the host writing and reading every byte through Socket send/recvInto, every byte verified (CRC-32 both sides)" },
    { name: "tcp_epair_nooffload_gbps", unit: "Gbit/s", description: "the same with offloads off on both epair ends: MTU-sized segments, software checksums, every byte verified" },
    { name: "node_net_loopback_gbps", unit: "Gbit/s", description: "peer: Node's node:net over 127.0.0.1 in this process, 1 MiB writes" },
    { name: "linux_veth_iperf3_gbps", unit: "Gbit/s", description: "peer, offloads on: iperf3 between two Linux network namespaces over veth with its default offloads (root and iperf3 only)" },
    { name: "linux_veth_iperf3_nooffload_gbps", unit: "Gbit/s", description: "peer, offloads off: the same with ethtool -K tso off gso off gro off tx off rx off on both veth ends (root, iperf3, ethtool)" },
    { name: "tcp_connections_per_s", unit: "connections/s", target: { min: 100_000 }, description: "connect, accept, 1 byte each way, close, in a loop through the host socket API" },
    { name: "tcp_idle_conn_bytes", unit: "B", target: { max: 1024 }, description: "kernel memory per established idle connection, both ends (vnet accounting)" },
    { name: "tcp_100k_conns_bytes", unit: "B", description: "kernel memory of 100,000 established idle connections between two vnets (or the largest N possible)" },
  ],
  async run(ctx) {
    const g0 = nowNs();
    const phase = (what: string) => ctx.log(`${what} (${((nowNs() - g0) / 1e9).toFixed(1)} s into the group)`);
    phase("bulk transfer over epair (offloads on)");
    const t = await epairGbps(ctx, { offload: true, xfer: XFER });
    phase("bulk transfer over epair (offloads off)");
    const tNo = await epairGbps(ctx, { offload: false, xfer: XFER_NOOFFLOAD });
    phase("node:net loopback peer");
    await nodeLoopbackGbps(64 * MiB); // warm-up
    const nodeRuns: number[] = [];
    for (let i = 0; i < 3; i++) nodeRuns.push(await nodeLoopbackGbps(1 * GiB));
    const nodeGbps = median(nodeRuns);
    ctx.report("node_net_loopback_gbps", round(nodeGbps), { note: `3 x 1 GiB, median; server and client in this process (one event loop, so both ends share a core), 1 MiB writes; bytes counted, not verified` });
    phase("linux veth iperf3 peers (offloads on, then off)");
    const iperfNote = (features: string) => `iperf3 -c -t 4 -J, netns over a veth at MTU 1500, end.sum_received; ethtool -k: ${features}; iperf3 counts bytes, it does not verify them`;
    const lin = await linuxVethIperf3({ offload: true });
    // A peer only: when Linux, root or iperf3 is missing here the table says why.
    if (lin.gbps !== undefined) ctx.report("linux_veth_iperf3_gbps", round(lin.gbps), { note: `OFFLOADS ON (the veth's defaults); ${iperfNote(lin.features)}` });
    else ctx.skip("linux_veth_iperf3_gbps", lin.reason);
    const lin0 = await linuxVethIperf3({ offload: false });
    if (lin0.gbps !== undefined) ctx.report("linux_veth_iperf3_nooffload_gbps", round(lin0.gbps), { note: `OFFLOADS OFF (ethtool -K tso off gso off gro off tx off rx off, both ends); ${iperfNote(lin0.features)}` });
    else ctx.skip("linux_veth_iperf3_nooffload_gbps", lin0.reason);
    const peer = lin.gbps !== undefined ? { peer: "linux_veth_iperf3_gbps", peerValue: round(lin.gbps) } : { peer: "node_net_loopback_gbps", peerValue: round(nodeGbps) };
    ctx.report("tcp_epair_gbps", round(t.gbps), { ...peer, note: t.note + (lin.gbps !== undefined ? `; node_net_loopback_gbps ${round(nodeGbps)}` : "") });
    const peer0 = lin0.gbps !== undefined ? { peer: "linux_veth_iperf3_nooffload_gbps", peerValue: round(lin0.gbps) } : {};
    ctx.report("tcp_epair_nooffload_gbps", round(tNo.gbps), { ...peer0, note: tNo.note });

    phase("connections per second");
    const c = await connectionsPerS(ctx);
    ctx.report("tcp_connections_per_s", round(c.cps), { note: c.note });

    phase("idle connection memory");
    const m = await idleConnBytes(10_000);
    ctx.report("tcp_idle_conn_bytes", round(m.per), { note: m.note });

    phase("100k connections");
    const big = await manyConns(ctx, 100_000);
    ctx.report("tcp_100k_conns_bytes", big.bytes, { note: big.note });
  },
};

export default group;
