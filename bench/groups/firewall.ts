// Group "firewall": the cost of pfil and ipfw on the forwarding path of the ipv4 group's
// chain (A - R - B, bench_ipv4's in-Wasm generator in A and sink in B, 64-byte UDP/IPv4).
// Three kernels, measured in turn with a warm-up before each run: "ipfw not loaded",
// "ipfw loaded, no rules, default_to_accept" (an empty accepting firewall hooks nothing,
// docs/ipfw.md) and "100 rules in R". pfil_empty_overhead_pct = 100 * (1 - loaded / not
// loaded); fw_forward_pps_100rules: R holds 99 stateless rules that do not match the
// traffic (each `deny udp from any to any dst-port P`, P != 9) and rule 100 `allow udp from
// 10.0.1.0/24 to 10.0.2.0/24 dst-port 9`, walked at R's in and out heads for every packet.
// fw_forward_pps_stateful: R holds `check-state`, 98 such deny rules and rule 100 `allow
// udp from 10.0.1.0/24 to 10.0.2.0/24 keep-state`; A's frames cycle over 100,000 UDP flows
// (ports differ; bench_send_flows), the warm-up makes the 100,000 states, and every
// measured packet is let through by its state at check-state, at R's in and out heads.
// FW_CONTROL=1 makes the "loaded" kernel a second "not loaded" one: the spread between two
// identical kernels is the noise floor of pfil_empty_overhead_pct on this machine. A spare
// kernel is booted first and not measured (the first kernel of a process ran slower).
//
// NAT (ipfw nat, docs/ipfw_nat.md), in two more kernels of the same shape L - R - S:
// nat_tcp_gbps is one TCP connection L -> S through R doing `nat 1 ip from any to any via
// <ext>`, against the same transfer through R as a plain router (S routes back to L's net)
// in the same run: NAT_RUNS alternating runs of NAT_BYTES each, medians, every byte checked
// (a running sum both sides), virtual clock, wall time. nat_new_flows_per_s: bench_ipv4's
// in-Wasm generator sends one UDP frame per new source address from L (NAT_FLOWS of them, so
// each is a new mapping; all use port 9, so every one after the first probes for a port)
// through the NAT router; flows per second of wall time, against the same frames through the
// plain router. FW_NAT_ONLY=1 runs only the NAT part.
//
// fw_states_100k_bytes: R of a "stateful" kernel of its own, its charged memory (the pages
// and charged items Vnet.accounting().bytes counts) after the warm-up made the 100,000
// states, minus before it (the same rules, no state), over 100,000: the 48-byte state item
// plus its share of the open-addressed table (32-byte slots and a tag byte each; at this
// size 1024 pages of 131,072 slots, 32 pages of their tags and the two directory pages).
// FW_STATES_ONLY=1 runs only this figure. FW_FWD_ONLY=1 runs only the three forwarding
// figures (pfil_empty_overhead_pct, fw_forward_pps_100rules, fw_forward_pps_stateful).

import os from "node:os";
import { Kernel, type Vnet, type Interface } from "../../host/index.js";
import { addAddress, addRoute, setForwarding, ping } from "../../host/index.js";
import { ipfwAdd, ipfwList, ipfwSetDefault, ipfwSet, ipfwGauges, ipfwNatConfig, ipfwNatGet, ipfwNatSet } from "../../host/admin/ipfw.js";
import { socket } from "../../host/sockets/socket.js";
import type { VirtualClock } from "../../host/index.js";
import { median, nowNs, round, type Group } from "../lib.js";
import { chain as ipv4Chain, link } from "./ipv4.js";

interface BenchIpv4 {
  bench_send(ifp: number, nhIfp: number, src: number, dst: number, n: number): number;
  bench_send_flows(ifp: number, nhIfp: number, src: number, dst: number, n: number, flows: number, first: number): number;
  bench_received(): number;
}

const FLOWS = 100_000;

const BATCH = 50_000;
const RUNS = 7;
const PER_RUN = 500_000;

const I = (op: number, len = 1, arg = 0) => (op | (len << 8) | (arg << 16)) >>> 0;
function rule(num: number, cmds: number[], actofs: number): Uint32Array {
  return Uint32Array.from([num, cmds.length | (actofs << 16), ...cmds]);
}


export type What = "none" | "empty" | "rules" | "stateful";

/** The ipv4 group's chain in its own kernel, with ipfw as `what` says, and its generator. */
export async function chain(ctx: { log(s: string): void }, what: What) {
  const { k, a, r, b, a0, r0, r1, b0 } = await ipv4Chain("virtual");
  if ((await ping(k, a, "10.0.2.1", { count: 1, intervalMs: 1 })).received !== 1) throw new Error("ping through the router failed");
  k.kldunload("udp");
  await k.kldload("bench_ipv4");
  const bi = k.module<BenchIpv4>("bench_ipv4");
  if (what !== "none") {
    await k.kldload("ipfw");
    for (const v of [a, r, b]) ipfwSetDefault(k, v, true);
  }
  const net = (x: number[]) => (x[0] | (x[1] << 8) | (x[2] << 16) | (x[3] << 24)) >>> 0;
  const m24 = net([255, 255, 255, 0]);
  if (what === "stateful") {
    ipfwSet(k, r, "dyn_max", 2 * FLOWS);
    ipfwAdd(k, r, rule(1, [I(71)], 0));
    for (let n = 1, p = 1000; n < 99; p++, n++) ipfwAdd(k, r, rule(n + 1, [I(3, 1, 17), I(13, 2, 1), (p | (p << 16)) >>> 0, I(66)], 3));
    ipfwAdd(k, r, rule(100, [I(25), I(3, 1, 17), I(4, 3, 1), net([10, 0, 1, 0]), m24, I(5, 3, 1), net([10, 0, 2, 0]), m24, I(26), I(65)], 9));
  }
  if (what === "rules") {
    let n = 0;
    for (let p = 1000; n < 99; p++, n++) ipfwAdd(k, r, rule(n + 1, [I(3, 1, 17), I(13, 2, 1), (p | (p << 16)) >>> 0, I(66)], 3));
    ipfwAdd(k, r, rule(100, [I(3, 1, 17), I(4, 3, 1), net([10, 0, 1, 0]), m24, I(5, 3, 1), net([10, 0, 2, 0]), m24, I(13, 2, 1), (9 | (9 << 16)) >>> 0, I(65)], 9));
  }
  ctx.log(`kernel "${what}" up`);
  const src = 0x0a000101;
  const dst = 0x0a000201;
  let flow = 0; // the next flow the stateful kernel sends
  let cpuPps = 0; // the last measure(), per second of this process's CPU time
  const send = (n: number) => {
    if (what !== "stateful") return bi.bench_send(a0.ptr, r0.ptr, src, dst, n);
    const refused = bi.bench_send_flows(a0.ptr, r0.ptr, src, dst, n, FLOWS, flow);
    flow = (flow + n) % FLOWS;
    return refused;
  };
  return {
    k, what, r,
    warm() {
      for (let i = 0; i < 4; i++) send(BATCH);
    },
    hits(): number {
      return what === "rules" || what === "stateful" ? ipfwList(k, r).find((x) => x.rulenum === 100)!.packets : 0;
    },
    states(): number {
      return ipfwGauges(k, r).states;
    },
    /** Packets per second of the last measure() counted in this process's CPU time. */
    cpuRate(): number {
      return cpuPps;
    },
    measure(): number {
      const before = bi.bench_received();
      let ns = 0;
      let cpuUs = 0;
      for (let sent = 0; sent < PER_RUN; sent += BATCH) {
        const u0 = process.cpuUsage();
        const t0 = nowNs();
        const refused = send(BATCH);
        ns += nowNs() - t0;
        const u = process.cpuUsage(u0);
        cpuUs += u.user + u.system;
        if (refused) throw new Error(`${refused} frames refused`);
      }
      cpuPps = PER_RUN / (cpuUs / 1e6);
      const got = bi.bench_received() - before;
      if (got !== PER_RUN) throw new Error(`sent ${PER_RUN}, B received ${got}`);
      return PER_RUN / (ns / 1e9);
    },
  };
}

const group: Group = {
  name: "firewall",
  description: "pfil and ipfw on the IPv4 forwarding path: the module loaded with no rules, 100 stateless rules, 100,000 keep-state flows",
  metrics: [
    { name: "pfil_empty_overhead_pct", unit: "%", target: { max: 2 }, description: "ipv4 forwarding pps lost with ipfw loaded and no rules, against not loaded, same run" },
    { name: "fw_forward_pps_100rules", unit: "packets/s", target: { minPeerRatio: 0.6 }, description: "ipv4 forwarding through R with 100 stateless ipfw rules, the match at the last (peer: ipv4_forward_pps of this run)" },
    { name: "fw_forward_pps_stateful", unit: "packets/s", target: { minPeerRatio: 0.7 }, description: "ipv4 forwarding through R over 100,000 UDP flows, each let through by its keep-state state (check-state first, 100 rules) (peer: ipv4_forward_pps of this run)" },
    { name: "fw_states_100k_bytes", unit: "B", description: "memory charged to R per keep-state state with 100,000 UDP states: R's bytes with them minus without, over 100,000 (the state and its share of the hash table)" },
    { name: "nat_tcp_gbps", unit: "Gbit/s", target: { minPeerRatio: 0.7 }, description: "one TCP connection L -> S through a NAT router vnet (ipfw nat), every byte checked (peer: tcp_epair_gbps, here the same transfer through a plain router vnet in this run)" },
    { name: "nat_new_flows_per_s", unit: "flows/s", description: "new UDP flows (one frame each, a new mapping each) through a NAT router vnet, frames made in Wasm (peer: the same frames through a plain router, as ipv4_forward_pps)" },
  ],
  peers: ["ipv4_forward_pps", "tcp_epair_gbps"],
  async run(ctx) {
    if (process.env.FW_NAT_ONLY) return natBench(ctx);
    if (process.env.FW_STATES_ONLY) return statesBench(ctx);
    // Three kernels, one per configuration, measured in turn: loading and unloading ipfw
    // between runs in one kernel upset the figures more than anything measured (a control
    // of two identical configurations differed by 20-70% under load).
    // The first kernel a process boots forwarded 25-27% slower than the next ones in every
    // run here (a spare one first made two identical configurations agree within 1%): boot
    // one, measure nothing on it.
    const spare = await chain(ctx, "none");
    const plain = await chain(ctx, "none");
    const empty = await chain(ctx, process.env.FW_CONTROL ? "none" : "empty");
    if (process.env.FW_CONTROL) (empty as { what: What }).what = "empty"; // counted as "loaded"
    const full = await chain(ctx, "rules");
    const stf = await chain(ctx, "stateful");
    const rates = { none: [] as number[], empty: [] as number[], rules: [] as number[], stateful: [] as number[] };
    // The same runs counted in CPU time: on a shared machine the wall clock also holds the
    // time other processes had the core, which moves the ratios by tens of percent.
    const cpu = { none: [] as number[], empty: [] as number[], rules: [] as number[], stateful: [] as number[] };
    const kernels = [plain, empty, full, stf];
    for (const c of kernels) c.warm();
    if (stf.states() !== FLOWS) throw new Error(`${stf.states()} states after the warm-up, expected ${FLOWS}`);
    const hits = { rules: 0, stateful: 0 };
    for (let run = 0; run < RUNS; run++) {
      ctx.log(`run ${run + 1}/${RUNS}`);
      for (let i = 0; i < kernels.length; i++) {
        const c = kernels[(run + i) % kernels.length];
        c.warm();
        const h0 = c.hits();
        rates[c.what].push(c.measure());
        cpu[c.what].push(c.cpuRate());
        if (c.what === "rules" || c.what === "stateful") hits[c.what] += c.hits() - h0;
      }
    }
    const mb = median(rates.none);
    const me = median(rates.empty);
    const mf = median(rates.rules);
    const ms = median(rates.stateful);
    const cpuRatio = (w: "rules" | "stateful") => (median(cpu[w]) / median(cpu.none)).toFixed(2);
    const load = os.loadavg()[0]!.toFixed(1);
    for (const w of ["rules", "stateful"] as const) {
      if (hits[w] !== RUNS * PER_RUN * 2) throw new Error(`${w}: rule 100 matched ${hits[w]} times, expected ${RUNS * PER_RUN * 2} (in and out)`);
    }
    if (stf.states() !== FLOWS) throw new Error(`${stf.states()} states after the runs, expected ${FLOWS}`);
    ctx.report("pfil_empty_overhead_pct", Number((100 * (1 - me / mb)).toFixed(2)), {
      note: `${RUNS} rotating runs of ${PER_RUN / 1000}k frames, medians: ${round(mb)} pps without ipfw, ${round(me)} with it loaded (no rules, default accept: no vnet hooked)`,
    });
    ctx.report("fw_forward_pps_100rules", round(mf), {
      peer: "ipv4_forward_pps", peerValue: round(mb),
      note: `${(mf / mb).toFixed(2)} x; ${(1e9 / mf - 1e9 / mb).toFixed(0)} ns more per packet for 2 walks of 100 rules at R; in CPU time ${cpuRatio("rules")} x; load ${load}`,
    });
    ctx.report("fw_forward_pps_stateful", round(ms), {
      peer: "ipv4_forward_pps", peerValue: round(mb),
      note: `${(ms / mb).toFixed(2)} x; ${FLOWS} flows, ${(1e9 / ms - 1e9 / mb).toFixed(0)} ns more per packet for 2 state lookups at R; in CPU time ${cpuRatio("stateful")} x; load ${load}`,
    });
    for (const c of [spare, ...kernels]) c.k.shutdown();
    if (process.env.FW_FWD_ONLY) return;
    // After the forwarding figures, so its kernels do not run before theirs.
    await statesBench(ctx);
    await natBench(ctx);
  },
};

type Ctx = { log(s: string): void; report: Group["run"] extends (c: infer C) => unknown ? C extends { report: infer R } ? R : never : never };

/** fw_states_100k_bytes: R's charged bytes with the warm-up's 100,000 states, minus before. */
async function statesBench(ctx: Ctx): Promise<void> {
  const c = await chain(ctx, "stateful");
  const before = c.r.accounting();
  c.warm();
  const after = c.r.accounting();
  const states = c.states();
  if (states !== FLOWS) throw new Error(`${states} states after the warm-up, expected ${FLOWS}`);
  const items = (after.items["ipfw_dyn"] ?? 0) - (before.items["ipfw_dyn"] ?? 0);
  if (items !== FLOWS) throw new Error(`${items} ipfw_dyn items charged to R, expected ${FLOWS}`);
  const per = (after.bytes - before.bytes) / FLOWS;
  const hashPages = after.pages - before.pages;
  const itemBytes = (after.bytes - before.bytes - hashPages * 4096) / FLOWS;
  ctx.report("fw_states_100k_bytes", Number(per.toFixed(2)), {
    note: `${FLOWS} UDP keep-state states in R (dyn_max ${2 * FLOWS}): ${after.bytes - before.bytes} B more charged to R; ${itemBytes.toFixed(2)} B the state item (zone ipfw_dyn), ${((hashPages * 4096) / FLOWS).toFixed(2)} B its share of the state table (${hashPages} pages: the slots, 128 a page, their tags, 4,096 a page, and the two directory pages)`,
  });
  c.k.shutdown();
}

const NAT_RUNS = 5;
const NAT_BYTES = 64 * 1024 * 1024;
const NAT_FLOWS = 20_000;

/** L (10.0.1.1) - R - S (203.0.113.2); R NATs to 203.0.113.1, or routes plainly. */
async function natChain(nat: boolean) {
  const k = await Kernel.boot({ config: "GENERIC", clock: "virtual" });
  const [l, r, s] = ["l", "r", "s"].map((n) => k.createVnet(n)) as [Vnet, Vnet, Vnet];
  const [l0, r0] = link(k, l, r);
  const [r1, s0] = link(k, r, s);
  addAddress(k, l0, "10.0.1.1/24");
  addAddress(k, r0, "10.0.1.254/24");
  addAddress(k, r1, "203.0.113.1/24");
  addAddress(k, s0, "203.0.113.2/24");
  addRoute(k, l, "default", { gateway: "10.0.1.254" });
  setForwarding(k, r, true);
  if (nat) {
    await k.kldload("ipfw");
    for (const v of [l, r, s]) ipfwSetDefault(k, v, true);
    ipfwNatSet(k, r, "nat_max", 1048576);
    ipfwNatConfig(k, r, "nat 1 config ip 203.0.113.1");
    // nat 1 ip from any to any via <R's outside interface>
    const name = new Uint8Array(16);
    name.set(new TextEncoder().encode(r1.name).subarray(0, 15));
    ipfwAdd(k, r, rule(100, [I(14, 5), ...new Uint32Array(name.buffer), I(72, 1, 1)], 5));
  } else {
    addRoute(k, s, "10.0.1.0/24", { gateway: "203.0.113.1" });
  }
  if ((await ping(k, l, "203.0.113.2", { count: 1, intervalMs: 1 })).received !== 1) throw new Error(`ping through the ${nat ? "NAT" : "plain"} router failed`);
  const clock = k.clock as VirtualClock;
  const lsn = socket(k, s, "inet", "stream").bind("0.0.0.0", 5001).listen(8);
  const cli = socket(k, l, "inet", "stream");
  try { cli.connect("203.0.113.2", 5001); } catch { /* in progress */ }
  let srv = null;
  for (let i = 0; i < 100 && !srv; i++) {
    clock.advance(10_000);
    srv = lsn.accept();
  }
  if (!srv) throw new Error("no connection");
  const step = () => {
    const next = k.k.callout_next();
    const now = clock.now();
    clock.advance(next < 0 ? 1000 : Math.max(1, Math.min(1_000_000, next - now)));
  };
  const chunk = new Uint8Array(65536);
  for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 131 + 7) & 255;
  const rbuf = new Uint8Array(65536);
  return {
    k, l, r, l0, r0, nat,
    /** Bytes L -> S; Gbit/s of wall time. Every byte summed both sides. */
    transfer(bytes: number): number {
      let sent = 0;
      let got = 0;
      let sumTx = 0;
      let sumRx = 0;
      const t0 = nowNs();
      while (got < bytes) {
        let progress = false;
        while (sent < bytes) {
          const n = cli.send(chunk.subarray(0, Math.min(chunk.length, bytes - sent)));
          if (n <= 0) break;
          for (let i = 0; i < n; i++) sumTx = (sumTx + chunk[i]!) | 0;
          sent += n;
          progress = true;
        }
        for (let n = srv!.recvInto(rbuf) ?? 0; n > 0; n = srv!.recvInto(rbuf) ?? 0) {
          for (let i = 0; i < n; i++) sumRx = (sumRx + rbuf[i]!) | 0;
          got += n;
          progress = true;
        }
        if (!progress) step();
      }
      const ns = nowNs() - t0;
      if (sumTx !== sumRx) throw new Error("bytes changed on the way");
      return (bytes * 8) / ns;
    },
    close() {
      cli.close();
      srv!.close();
      lsn.close();
      k.shutdown();
    },
  };
}

async function natBench(ctx: Ctx): Promise<void> {
  const spare = await natChain(false);
  spare.transfer(8 * 1024 * 1024);
  const plain = await natChain(false);
  const nat = await natChain(true);
  const rates = { plain: [] as number[], nat: [] as number[] };
  for (let run = 0; run < NAT_RUNS; run++) {
    ctx.log(`nat tcp run ${run + 1}/${NAT_RUNS}`);
    for (const c of run % 2 ? [nat, plain] : [plain, nat]) rates[c.nat ? "nat" : "plain"].push(c.transfer(NAT_BYTES));
  }
  const mp = median(rates.plain);
  const mn = median(rates.nat);
  ctx.report("nat_tcp_gbps", round(mn), {
    peer: "tcp_epair_gbps", peerValue: round(mp),
    note: `${(mn / mp).toFixed(2)} x; ${NAT_RUNS} alternating runs of ${NAT_BYTES >> 20} MiB, medians; peer = the same transfer through a plain router vnet in this run (not the tcp group's direct epair); runs nat ${rates.nat.map((x) => x.toFixed(2)).join(" ")}, plain ${rates.plain.map((x) => x.toFixed(2)).join(" ")}`,
  });
  // New flows: the udp module gives way to bench_ipv4's sink in S.
  const flows = async (c: Awaited<ReturnType<typeof natChain>>): Promise<number> => {
    c.k.kldunload("udp");
    await c.k.kldload("bench_ipv4");
    const bi = c.k.module<BenchIpv4>("bench_ipv4");
    const before = bi.bench_received();
    const t0 = nowNs();
    for (let i = 0; i < NAT_FLOWS; i++) bi.bench_send(c.l0.ptr, c.r0.ptr, 0x0a010000 + i + 1, 0xcb007102, 1);
    const ns = nowNs() - t0;
    const got = bi.bench_received() - before;
    if (got !== NAT_FLOWS) throw new Error(`${c.nat ? "nat" : "plain"}: sent ${NAT_FLOWS} flows, S received ${got}`);
    if (c.nat && ipfwNatGet(c.k, c.r, "entries") < NAT_FLOWS) throw new Error(`only ${ipfwNatGet(c.k, c.r, "entries")} mappings made`);
    return NAT_FLOWS / (ns / 1e9);
  };
  const fp = await flows(plain);
  const fn = await flows(nat);
  ctx.report("nat_new_flows_per_s", round(fn), {
    peer: "ipv4_forward_pps", peerValue: round(fp),
    note: `${NAT_FLOWS} flows (one frame each, one host call each) into an empty table; peer: the same frames through the plain router (one host call per frame, so not the ipv4 group's batched figure)`,
  });
  for (const c of [spare, plain, nat]) c.close();
}

export default group;
