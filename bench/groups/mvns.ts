// Group "mvns": the modular stack of issue 12. For now the shared route table
// (assembly/net/route.ts, lookups from net/route_pop.ts): 1,000,000 random prefixes in one
// table, then lookups, timed inside Wasm by bench_route (bench/kmod/), so a figure is the
// lookup's cost (a direct call into the kernel, no JavaScript crossing per lookup) with the
// one-entry cache out of the way. route_lookup_ns_1m and route6_lookup_ns_1m are one
// rtable_lookup call per key, what inet and inet6 pay per packet today; the _bulk_ metrics
// are rtable_lookup_n, 256 keys a call (its walks overlap their cache misses, 32 keys at a
// time), what a caller with many keys at once pays. The table's vnet has its byte budget lifted to 1 GiB: a million IPv6 routes
// take ~110 MB, past the default 64 MiB.
//
// Prefixes: IPv4 lengths shaped like a BGP table (55% /24, 35% /16-/23, 10% /8-/15),
// IPv6 under 2000::/3 (/48 most, /32-/64). Lookups aim inside the drawn prefixes with
// random host bits, in the order they were drawn (random), so every lookup finds a route
// and walks to a leaf: the harder case than uniform random addresses, most of which stop
// near the root. Bytes per route: what the vnet is charged (binary trie nodes, 32 B each,
// including the glue nodes where prefixes part; the lookup trie's arrays) over the routes;
// a family adds its route entry.

//
// And what a GENERIC vnet costs (the headline vnet figures use BARE vnets, lo0 only): the
// bytes one idle vnet owns, broken down by module (each module kldloaded in turn into a
// BARE kernel with a live vnet: its VNET section bytes, pages and items charged), and
// 100,000 of them created through the host API.

import { Kernel, PAGE_SIZE, TapInterface, createTap, type Vnet, type Socket, type SocketError, type VirtualClock } from "../../host/index.js";
import { addAddress } from "../../host/admin/inet.js";
import { addresses6, addAddress6, addRoute6, setForwarding6, ip6Stats, parseIPv6 } from "../../host/admin/inet6.js";
import { chain, link } from "./ipv4.js";
import { EPAIR_BULK } from "./tcp.js";
import { tcpEpairBulk } from "../workloads/tcp_epair.js";
import { ping, ping6 } from "../../host/admin/ping.js";
import { median, nowNs, round, fmtValue, type Group, type GroupContext } from "../lib.js";
import { linuxNetns } from "./kernel.js";
import os from "node:os";

interface BenchRoute {
  rb_open(): number;
  rb_close(): number;
  rb_flush(): void;
  rb_count(): number;
  rb_nodes(): number;
  rb_bytes(): number;
  rb_budget(mib: number): number;
  rb_items(): number;
  rb_fill4(n: number, seed: number): number;
  rb_lookup4(n: number, seed: number): number;
  rb_fill6(n: number, seed: number): number;
  rb_lookup6(n: number, seed: number): number;
  rb_lookup4_n(n: number, seed: number): number;
  rb_lookup6_n(n: number, seed: number): number;
}

const N = 1_000_000;
const RUNS = 5;

/** Fills a fresh table; returns [routes, inserts/s, bytes/route, nodes]. */
function fill(rb: BenchRoute, f: (n: number, seed: number) => number, seed: number): [number, number, number, number] {
  if (rb.rb_open() !== 0) throw new Error("bench_route: vnet_alloc failed");
  rb.rb_budget(1024);
  const b0 = rb.rb_bytes();
  const t = nowNs();
  const added = f(N, seed);
  const s = (nowNs() - t) / 1e9;
  if (added < N * 0.8) throw new Error(`bench_route: only ${added} of ${N} prefixes went in (budget?)`);
  return [added, N / s, (rb.rb_bytes() - b0) / added, rb.rb_nodes()];
}

/**
 * Median ns per lookup over RUNS passes of N lookups (wall clock, and this process's CPU
 * time, which a loaded machine inflates less); every lookup must find its route.
 */
function lookups(rb: BenchRoute, f: (n: number, seed: number) => number, seed: number): [number, number] {
  const ns: number[] = [];
  const cpu: number[] = [];
  f(N / 10, seed); // warm-up
  for (let r = 0; r < RUNS; r++) {
    const c = process.cpuUsage();
    const t = nowNs();
    const found = f(N, seed);
    ns.push((nowNs() - t) / N);
    const used = process.cpuUsage(c);
    cpu.push(((used.user + used.system) * 1000) / N);
    if (found !== N) throw new Error(`bench_route: ${N - found} lookups found no route`);
  }
  return [median(ns), median(cpu)];
}

const VNETS_MANY = 100_000;
const MANY_RUNS = 3;

/** Bytes an idle vnet of each GENERIC module adds: VNET section, pages, charged items. */
async function genericBreakdown(): Promise<string> {
  const k = await Kernel.boot({ config: "BARE" });
  try {
    const v = k.createVnet();
    const parts: string[] = [];
    let used = k.accounting().vnetSectionUsed;
    let prev = v.accounting();
    const itemBytes = (vv: Vnet, names: string[]) => {
      const size = new Map(k.vmstatZ(vv).map((r) => [r.name, r.size]));
      return names.map((n) => `${n} ${size.get(n)} B`).join(", ");
    };
    parts.push(`kernel: section ${used} B, items ${itemBytes(v, Object.keys(prev.items))}`);
    for (const m of k.linkmap.configs.GENERIC!) {
      await k.kldload(m);
      const a = v.accounting();
      const u = k.accounting().vnetSectionUsed;
      const items = Object.keys(a.items).filter((n) => a.items[n] !== (prev.items[n] ?? 0));
      const pages = a.pages - prev.pages;
      parts.push(`${m}: section ${u - used} B${pages ? `, ${pages} pages` : ""}${items.length ? `, items ${itemBytes(v, items)}` : ""}`);
      used = u;
      prev = a;
    }
    v.destroy();
    return `section used ${used} of ${k.accounting().vnetSectionBytes} B; ${parts.join("; ")}`;
  } finally {
    k.shutdown();
  }
}

async function genericIdle(ctx: GroupContext): Promise<void> {
  const k = await Kernel.boot({ config: "GENERIC" });
  const v = k.createVnet();
  const a = v.accounting();
  const items = Object.entries(a.items).map(([n, c]) => `${n} ${c}`).join(", ");
  v.destroy();
  k.shutdown();
  const breakdown = await genericBreakdown();
  ctx.report("vnet_generic_idle_bytes", a.bytes, {
    note: `GENERIC kernel: ${a.pages} pages (${a.pages * PAGE_SIZE} B VNET data block) + ${a.bytes - a.pages * PAGE_SIZE} B struct vnet and charged items (${items}); per module, kldloaded in turn into a live vnet: ${breakdown}`,
  });
}

/** One GENERIC kernel, 100,000 vnets through the host API, all destroyed; pages must come back. */
async function genericManyOnce(ctx: GroupContext): Promise<{ createS: number; destroyS: number; bytes: number }> {
  const k = await Kernel.boot({ config: "GENERIC" });
  try {
    for (let r = 0; r < 3; r++) {
      const warm = Array.from({ length: 1000 }, () => k.createVnet());
      for (const v of warm.reverse()) v.destroy();
    }
    const base = k.accounting();
    const t0 = nowNs();
    const vs: Vnet[] = new Array(VNETS_MANY);
    for (let i = 0; i < VNETS_MANY; i++) vs[i] = k.createVnet();
    const createS = (nowNs() - t0) / 1e9;
    const bytes = (k.accounting().pagesInUse - base.pagesInUse) * PAGE_SIZE;
    const t1 = nowNs();
    for (let i = VNETS_MANY - 1; i >= 0; i--) vs[i].destroy();
    const destroyS = (nowNs() - t1) / 1e9;
    const after = k.accounting();
    const left = after.pagesInUse - base.pagesInUse;
    ctx.log(`100k GENERIC vnets: created in ${createS.toFixed(2)} s, destroyed in ${destroyS.toFixed(2)} s, ${left} pages left`);
    if (left !== 0 || after.vnets !== 1) throw new Error(`vnets_100k_generic: ${left} pages and ${after.vnets - 1} vnets left after destroying all`);
    return { createS, destroyS, bytes };
  } finally {
    k.shutdown();
  }
}

async function genericMany(ctx: GroupContext): Promise<void> {
  const runs = [];
  for (let r = 0; r < MANY_RUNS; r++) runs.push(await genericManyOnce(ctx));
  const createS = median(runs.map((r) => r.createS));
  const peer = linuxNetns(ctx);
  const opts = peer.value !== undefined ? { peer: "linux_netns_add_del_us", peerValue: peer.value } : {};
  const b = runs[runs.length - 1].bytes;
  ctx.report("vnets_100k_generic_create_s", round(createS), {
    ...opts,
    note: `host API k.createVnet() x 100,000 in a fresh GENERIC kernel (${fmtValue(round((createS * 1e6) / VNETS_MANY))} µs each, runs ${runs.map((r) => r.createS.toFixed(2)).join(", ")} s, median); destroy all ${median(runs.map((r) => r.destroyS)).toFixed(2)} s, 0 pages left; kmem ${(b / 2 ** 20).toFixed(0)} MiB (${fmtValue(round(b / VNETS_MANY))} B/vnet)${peer.value === undefined ? `; peer not measured: ${peer.note}` : ""}`,
  });
}

// ---------------------------------------------------------------------------------------
// Live unload and load (docs/ARCHITECTURE.md "Modules", the teardown checkpoints).

const KLD_RUNS = 5;
const KLD_CONNS = 1000;

/** Frames cross (microtasks, an event-loop turn) and each clock moves to its next deadline, at most stepUs. */
async function settleKernels(ks: Kernel[], rounds: number, stepUs: number): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    await new Promise((r) => setImmediate(r));
    for (const k of ks) {
      const c = k.clock as VirtualClock;
      const next = k.k.callout_next();
      c.advance(next < 0 ? stepUs : Math.max(1, Math.min(stepUs, next - c.now())));
    }
  }
}

/**
 * Two kernels joined by a tap cable (tests/helpers/cable.ts does the same), KLD_CONNS TCP
 * connections from A (kernel ka) to B (kernel kb); then `kldunload tcp` with force in ka.
 * Returns [ms from the call until every peer socket in kb has seen the RST, ms of the call].
 */
async function kldunloadTcpOnce(seed: number): Promise<[number, number]> {
  const cfg = ["if_tap", "if_epair", "inet", "tcp"];
  const ka = await Kernel.boot({ config: cfg, seed });
  const kb = await Kernel.boot({ config: cfg, seed: seed + 100 });
  try {
    const A = ka.createVnet("A");
    const B = kb.createVnet("B");
    const ta = createTap(ka, A, { name: "cable0" }, (p) => new TapInterface(ka, p));
    const tb = createTap(kb, B, { name: "cable0" }, (p) => new TapInterface(kb, p));
    ta.port.wire = { send: (f) => (tb.port.input(f.slice()), true) };
    tb.port.wire = { send: (f) => (ta.port.input(f.slice()), true) };
    for (const t of [ta, tb]) {
      t.setUp();
      t.port.setCarrier(true);
    }
    addAddress(ka, ta, "10.0.0.1/24");
    addAddress(kb, tb, "10.0.0.2/24");
    const lsn = B.socket("inet", "stream").bind("0.0.0.0", 80).listen(-1);
    const srv: Socket[] = [];
    for (let i = 0; i < KLD_CONNS; i++) {
      A.socket("inet", "stream").connect("10.0.0.2", 80);
      if (i % 64 === 63) {
        await settleKernels([ka, kb], 4, 1000);
        for (let s = lsn.accept(); s; s = lsn.accept()) srv.push(s);
      }
    }
    for (let r = 0; r < 40 && srv.length < KLD_CONNS; r++) {
      await settleKernels([ka, kb], 4, 500_000); // SYNs past ARP's hold queue go again after their RTO
      for (let s = lsn.accept(); s; s = lsn.accept()) srv.push(s);
    }
    if (srv.length !== KLD_CONNS) throw new Error(`kldunload_tcp_1k_conns_ms: only ${srv.length} of ${KLD_CONNS} connections were accepted`);
    let reset = 0;
    let done: () => void = () => {};
    const all = new Promise<void>((r) => (done = r));
    for (const s of srv) {
      s.on("error", (e) => {
        if ((e as SocketError).code === "ECONNRESET" && ++reset === KLD_CONNS) done();
      });
    }
    const t0 = nowNs();
    ka.kldunload("tcp", { force: true });
    const callMs = (nowNs() - t0) / 1e6;
    const timeout = setTimeout(done, 10_000);
    await all;
    const ms = (nowNs() - t0) / 1e6;
    clearTimeout(timeout);
    if (reset !== KLD_CONNS) throw new Error(`kldunload_tcp_1k_conns_ms: ${reset} of ${KLD_CONNS} peers saw a RST`);
    return [ms, callMs];
  } finally {
    ka.shutdown();
    kb.shutdown();
  }
}

async function kldunloadTcp(ctx: GroupContext): Promise<void> {
  const runs: [number, number][] = [];
  for (let r = 0; r < KLD_RUNS; r++) runs.push(await kldunloadTcpOnce(11 + r));
  const load = os.loadavg()[0].toFixed(1);
  ctx.report("kldunload_tcp_1k_conns_ms", round(median(runs.map((r) => r[0]))), {
    note: `kldunload tcp with force in a kernel with ${KLD_CONNS} established connections to a second kernel joined by a tap cable, from the call until all ${KLD_CONNS} peer sockets have seen the RST (ECONNRESET); the call alone (stop, drop with RST, uninit, MOD_UNLOAD, purge) ${round(median(runs.map((r) => r[1])))} ms; median of ${KLD_RUNS} kernel pairs (${runs.map((r) => r[0].toFixed(1)).join(", ")} ms); load average ${load}`,
  });
}

/** 1,000 vnets (500 pairs on epairs, IPv4 addresses, interfaces up) in a kernel without inet6; kldload inet6, KLD_RUNS times. */
async function kldloadInet6(ctx: GroupContext): Promise<void> {
  const k = await Kernel.boot({ config: ["if_epair", "inet", "udp"], seed: 3 });
  try {
    const ends: [Vnet, ReturnType<Kernel["epair"]>][] = [];
    for (let i = 0; i < 500; i++) {
      const A = k.createVnet(`a${i}`);
      const B = k.createVnet(`b${i}`);
      const e = k.epair(A, B);
      for (const x of e) x.setUp();
      addAddress(k, e[0], "10.0.0.1/24");
      addAddress(k, e[1], "10.0.0.2/24");
      ends.push([A, e]);
    }
    const loads: number[] = [];
    const unloads: number[] = [];
    for (let r = 0; r < KLD_RUNS + 1; r++) {
      const t0 = nowNs();
      await k.kldload("inet6");
      const ms = (nowNs() - t0) / 1e6;
      if (r > 0) loads.push(ms); // the first also compiles the module
      const ll = addresses6(k, ends[499][1][1])[0]?.address ?? "";
      if (!ll.startsWith("fe80::")) throw new Error(`kldload_inet6_1k_vnets_ms: no link-local address on the last vnet's interface after the load (${ll})`);
      const [ea, eb] = ends[0][1];
      const peer = `${addresses6(k, eb)[0].address.split("%")[0]}%${ea.name}`; // B's link-local, reached out of A's interface
      const p = await ping6(k, ends[0][0], peer, { count: 1, timeoutMs: 100 });
      if (p.received !== 1) throw new Error("kldload_inet6_1k_vnets_ms: ping6 over link-local failed after the load");
      const t1 = nowNs();
      k.kldunload("inet6");
      unloads.push((nowNs() - t1) / 1e6);
    }
    const load = os.loadavg()[0].toFixed(1);
    ctx.report("kldload_inet6_1k_vnets_ms", round(median(loads)), {
      note: `kldload inet6 (compiled already) into a kernel with 1,000 live vnets (500 epair pairs, IPv4 up): VNET space copied into each, each vnet's init (::1 on lo0, link-local on the interfaces already up); ping6 over link-local in one pair checked after each load; median of ${KLD_RUNS} (${loads.map((x) => x.toFixed(1)).join(", ")} ms); kldunload inet6 ${round(median(unloads))} ms; load average ${load}`,
    });
  } finally {
    k.shutdown();
  }
}

// ---------------------------------------------------------------------------------------
// IPv6 against IPv4 in one run (docs/tcp.md "Offload between vnets"): tcp6_epair_gbps is
// tcp_epair_gbps's workload (bench/workloads/tcp_epair.ts: send + recvInto, every byte
// hashed at both ends) over IPv6, checksum offload and TSO6 on; ipv6_forward_pps is
// ipv4_forward_pps's (64-byte UDP frames made in Wasm from A through router R to a sink in
// B) with bench_ipv6. Each is measured alternating with its IPv4 figure, run by run, so
// the machine's load hits both alike; the IPv4 figure is the peer.

const FAM_RUNS = 5;
const FAM_XFER = 1 * 2 ** 30;

async function tcp6VsTcp(ctx: GroupContext): Promise<void> {
  const v4: number[] = [];
  const v6: number[] = [];
  let note6 = "";
  for (let r = 0; r < FAM_RUNS; r++) {
    const o = { ...EPAIR_BULK, xfer: FAM_XFER, runs: 1, recvXfer: 0, now: nowNs, log: (m: string) => ctx.log(m) };
    v4.push((await tcpEpairBulk({ ...o, six: false })).gbps);
    const t6 = await tcpEpairBulk({ ...o, six: true });
    v6.push(t6.gbps);
    note6 = t6.note;
  }
  const load = os.loadavg()[0].toFixed(1);
  ctx.report("tcp6_epair_gbps", round(median(v6)), {
    peer: "tcp_epair_gbps",
    peerValue: round(median(v4)),
    note: `OFFLOAD ON (checksums and TSO6 between the vnets), both families; ${FAM_RUNS} x ${FAM_XFER / 2 ** 30} GiB per family after a 32 MiB warm-up each, a fresh kernel per run, IPv4 and IPv6 alternating; IPv6 runs ${v6.map((x) => x.toFixed(2)).join(", ")}, IPv4 runs ${v4.map((x) => x.toFixed(2)).join(", ")} Gbit/s (medians); load average ${load}; last IPv6 run: ${note6}`,
  });
}

interface BenchIp {
  bench_received(): number;
}
interface BenchIpv4 extends BenchIp {
  bench_send(ifp: number, nhIfp: number, src: number, dst: number, n: number): number;
}
interface BenchIpv6 extends BenchIp {
  bench_send6(ifp: number, nhIfp: number, n: number): number;
  bench_addr6(): number;
}

const FWD_BATCH = 50_000;
const FWD_RUNS = 5;
const FWD_PER_RUN = 1_000_000;

/** A -- R -- B over IPv6: fd00:1::/64 and fd00:2::/64, R forwarding; neighbours resolved by a ping6. */
async function chain6() {
  const k = await Kernel.boot({ config: "GENERIC", clock: "virtual" });
  const a = k.createVnet("a");
  const r = k.createVnet("r");
  const b = k.createVnet("b");
  const [a0, r0] = link(k, a, r);
  const [r1, b0] = link(k, r, b);
  addAddress6(k, a0, "fd00:1::1/64");
  addAddress6(k, r0, "fd00:1::fe/64");
  addAddress6(k, r1, "fd00:2::fe/64");
  addAddress6(k, b0, "fd00:2::1/64");
  addRoute6(k, a, "default", { gateway: "fd00:1::fe" });
  addRoute6(k, b, "default", { gateway: "fd00:2::fe" });
  setForwarding6(k, r, true);
  (k.clock as VirtualClock).advance(5_000_000); // duplicate address detection over
  const p = await ping6(k, a, "fd00:2::1", { count: 1, timeoutMs: 1000 });
  if (p.received !== 1) throw new Error("ipv6_forward_pps: ping6 through the router failed; cannot measure forwarding");
  return { k, a, r, b, a0, r0, r1, b0 };
}

/**
 * One run of FWD_PER_RUN frames through send(n), every frame counted at B: packets per
 * second of wall time spent sending, and this process's CPU ns per packet (which a loaded
 * machine inflates less than wall time).
 */
function fwdRun(bi: BenchIp, send: (n: number) => number, what: string): { pps: number; cpuNs: number } {
  const before = bi.bench_received();
  let ns = 0;
  const c0 = process.cpuUsage();
  for (let sent = 0; sent < FWD_PER_RUN; sent += FWD_BATCH) {
    const t0 = nowNs();
    const refused = send(FWD_BATCH);
    ns += nowNs() - t0;
    if (refused) throw new Error(`${what}: ${refused} frames refused`);
  }
  const c = process.cpuUsage(c0);
  const got = bi.bench_received() - before;
  if (got !== FWD_PER_RUN) throw new Error(`${what}: sent ${FWD_PER_RUN}, B received ${got}`);
  return { pps: FWD_PER_RUN / (ns / 1e9), cpuNs: ((c.user + c.system) * 1000) / FWD_PER_RUN };
}

async function ipv6VsIpv4Forward(ctx: GroupContext): Promise<void> {
  const t4 = await chain("virtual");
  const t6 = await chain6();
  try {
    const res = await ping(t4.k, t4.a, "10.0.2.1", { count: 1, intervalMs: 1 });
    if (res.received !== 1) throw new Error("ipv4_forward_pps: ping through the router failed");
    // The bench sinks are the families' UDP handlers: the udp module (GENERIC) makes way.
    t4.k.kldunload("udp");
    await t4.k.kldload("bench_ipv4");
    t6.k.kldunload("udp");
    await t6.k.kldload("bench_ipv6");
    const b4 = t4.k.module<BenchIpv4>("bench_ipv4");
    const b6 = t6.k.module<BenchIpv6>("bench_ipv6");
    const mem = new Uint8Array(t6.k.memory.buffer, b6.bench_addr6(), 32);
    mem.set(parseIPv6("fd00:1::1"), 0);
    mem.set(parseIPv6("fd00:2::1"), 16);
    const send4 = (n: number) => b4.bench_send(t4.a0.ptr, t4.r0.ptr, 0x0a000101, 0x0a000201, n);
    const send6 = (n: number) => b6.bench_send6(t6.a0.ptr, t6.r0.ptr, n);
    send4(FWD_BATCH); // warm-up: JIT, zones
    send6(FWD_BATCH);
    const r4: number[] = [];
    const r6: number[] = [];
    const c4: number[] = [];
    const c6: number[] = [];
    for (let r = 0; r < FWD_RUNS; r++) {
      const x4 = fwdRun(b4, send4, "ipv4_forward_pps");
      const x6 = fwdRun(b6, send6, "ipv6_forward_pps");
      r4.push(x4.pps);
      c4.push(x4.cpuNs);
      r6.push(x6.pps);
      c6.push(x6.cpuNs);
    }
    const fwd6 = ip6Stats(t6.k, t6.r).forward;
    const load = os.loadavg()[0].toFixed(1);
    ctx.report("ipv6_forward_pps", round(median(r6)), {
      peer: "ipv4_forward_pps",
      peerValue: round(median(r4)),
      note: `${FWD_RUNS} x 1M 64-byte UDP/IPv6 frames (UDP checksum right, no offload marks: frames from a generator, as on a wire), median, alternating run by run with ipv4_forward_pps's frames in a second kernel; R forwarded ${fwd6} (ip6stat forward); ${(1e9 / median(r6)).toFixed(1)} ns per packet (IPv4 ${(1e9 / median(r4)).toFixed(1)}) for 2 epair hops, ip6_input x2, ip6_forward, ND lookup; IPv6 runs ${r6.map((x) => Math.round(x / 1e3)).join(", ")}k, IPv4 ${r4.map((x) => Math.round(x / 1e3)).join(", ")}k; CPU time per packet (median) IPv6 ${median(c6).toFixed(0)} ns, IPv4 ${median(c4).toFixed(0)} ns; load average ${load}`,
    });
    t4.k.kldunload("bench_ipv4");
    t6.k.kldunload("bench_ipv6");
  } finally {
    t4.k.shutdown();
    t6.k.shutdown();
  }
}

/** WAVNET_BENCH_MVNS=family: only the IPv6-against-IPv4 figures (the rest of the group takes minutes). */
const ONLY_FAMILY = process.env.WAVNET_BENCH_MVNS === "family";

const group: Group = {
  name: "mvns",
  description: "the modular stack (issue 12): the route table both families share, the GENERIC vnet's footprint, live unload and load",
  peers: ["linux_netns_add_del_us", "tcp_epair_gbps", "ipv4_forward_pps"],
  metrics: [
    { name: "vnet_generic_idle_bytes", unit: "B", target: { max: 12288 }, description: "kernel memory one idle vnet owns in a GENERIC kernel (accounting().bytes), with the per-module breakdown in the note" },
    { name: "vnets_100k_generic_create_s", unit: "s", target: { max: 2 }, description: "100,000 vnets created in one GENERIC kernel through the host API" },
    { name: "route_lookup_ns_1m", unit: "ns", target: { max: 60 }, description: "IPv4 longest-prefix match in a table of 1,000,000 random prefixes, random lookups, cache off (inside Wasm, one rtable_lookup call per key)" },
    { name: "route6_lookup_ns_1m", unit: "ns", target: { max: 100 }, description: "IPv6 longest-prefix match in a table of 1,000,000 random prefixes, random lookups, cache off (inside Wasm, one rtable_lookup call per key)" },
    { name: "route_lookup_bulk_ns_1m", unit: "ns", description: "route_lookup_ns_1m's lookups through rtable_lookup_n, 256 keys a call (32 walking together)" },
    { name: "route6_lookup_bulk_ns_1m", unit: "ns", description: "route6_lookup_ns_1m's lookups through rtable_lookup_n, 256 keys a call (32 walking together)" },
    { name: "route_insert_per_s_1m", unit: "routes/s", description: "IPv4 prefixes inserted per second while filling a table to 1,000,000 (inside Wasm)" },
    { name: "kldunload_tcp_1k_conns_ms", unit: "ms", description: "kldunload tcp with force under 1,000 established connections to a second kernel, until every peer has seen the RST" },
    { name: "kldload_inet6_1k_vnets_ms", unit: "ms", description: "kldload inet6 into a kernel with 1,000 live vnets (IPv4 up on an epair each)" },
    { name: "tcp6_epair_gbps", unit: "Gbit/s", target: { minPeerRatio: 0.9 }, description: "tcp_epair_gbps's transfer over IPv6 (offload on: checksums and TSO6), every byte verified (peer: tcp_epair_gbps, measured alternating in this run)" },
    { name: "ipv6_forward_pps", unit: "packets/s", target: { minPeerRatio: 0.9 }, description: "64-byte UDP/IPv6 frames from vnet A through router vnet R to vnet B, single thread, counted at B (peer: ipv4_forward_pps, measured alternating in this run)" },
    { name: "route_bytes_per_route", unit: "bytes", description: "memory charged to the vnet per IPv4 route in the 1,000,000-prefix table (trie nodes; the family's route entry is extra)" },
  ],
  async run(ctx) {
    ctx.log("TCP over IPv6 against IPv4 (offload on)");
    await tcp6VsTcp(ctx);
    ctx.log("IPv6 forwarding against IPv4");
    await ipv6VsIpv4Forward(ctx);
    if (ONLY_FAMILY) return;
    ctx.log("kldunload tcp under 1,000 connections");
    await kldunloadTcp(ctx);
    ctx.log("kldload inet6 into 1,000 vnets");
    await kldloadInet6(ctx);
    ctx.log("GENERIC vnet footprint");
    await genericIdle(ctx);
    ctx.log("100k GENERIC vnets");
    await genericMany(ctx);
    const k = await Kernel.boot({ config: "BARE" });
    try {
      await k.kldload("bench_route");
      const rb = k.module<BenchRoute>("bench_route");
      ctx.log("IPv4: 1M prefixes");
      const [n4, ins4, bytes4, nodes4] = fill(rb, (n, s) => rb.rb_fill4(n, s), 7);
      const [one4, onecpu4] = lookups(rb, (n, s) => rb.rb_lookup4(n, s), 7);
      const [ns4, cpu4] = lookups(rb, (n, s) => rb.rb_lookup4_n(n, s), 7);
      rb.rb_flush();
      if (rb.rb_close() !== 0) throw new Error("bench_route: route table items left after a flush");
      ctx.log("IPv6: 1M prefixes");
      const [n6, ins6, bytes6, nodes6] = fill(rb, (n, s) => rb.rb_fill6(n, s), 9);
      const [one6, onecpu6] = lookups(rb, (n, s) => rb.rb_lookup6(n, s), 9);
      const [ns6, cpu6] = lookups(rb, (n, s) => rb.rb_lookup6_n(n, s), 9);
      rb.rb_flush();
      if (rb.rb_close() !== 0) throw new Error("bench_route: route table items left after a flush");
      const load = os.loadavg()[0].toFixed(1);
      const shape = `multibit trie (net/route_pop.ts: 6-bit strides, popcount-compressed nodes) built beside the binary trie (net/route.ts); load average ${load}`;
      ctx.report("route_lookup_ns_1m", round(one4), { note: `${n4} distinct prefixes, ${RUNS} x 1M lookups inside the drawn prefixes, one rtable_lookup call per key, median wall clock (CPU time ${round(onecpu4)} ns); ${shape}` });
      ctx.report("route6_lookup_ns_1m", round(one6), { note: `${n6} distinct prefixes, ${RUNS} x 1M lookups, one rtable_lookup call per key, median wall clock (CPU time ${round(onecpu6)} ns); IPv6 insert ${round(ins6)}/s, ${round(bytes6)} B/route (${nodes6} binary trie nodes); load average ${load}` });
      ctx.report("route_lookup_bulk_ns_1m", round(ns4), { note: `the same lookups through rtable_lookup_n (256 keys a call), median wall clock (CPU time ${round(cpu4)} ns); load average ${load}` });
      ctx.report("route6_lookup_bulk_ns_1m", round(ns6), { note: `the same lookups through rtable_lookup_n (256 keys a call), median wall clock (CPU time ${round(cpu6)} ns); load average ${load}` });
      ctx.report("route_insert_per_s_1m", round(ins4), { note: `one fill of 1M random IPv4 prefixes (${N - n4} duplicates refused), both tries kept in step on every insert; load average ${load}` });
      ctx.report("route_bytes_per_route", round(bytes4), { note: `charged to the vnet over ${n4} routes: ${nodes4} binary trie nodes x 32 B (${round((nodes4 * 32) / n4)} B/route) and the lookup trie's arrays; IPv6: ${round(bytes6)} B` });
    } finally {
      k.shutdown();
    }
  },
};

export default group;
