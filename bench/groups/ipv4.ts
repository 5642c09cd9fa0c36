// Group "ipv4": IPv4 through the inet module. ipv4_forward_pps: a generator in vnet A
// (inside Wasm, bench_ipv4) sends 64-byte UDP/IPv4 frames to B through router vnet R (two
// epairs, forwarding on, ARP resolved by a ping first); bench_ipv4's UDP-protocol sink in B
// counts them, so every hop is real: ether_input, ip_input's checks, ip_forward (TTL, RFC
// 1624 checksum update, route lookup), ARP, ether_output, epair. ping_rtt_us: BSD-style
// ping between two vnets on the real clock, median. udp_pps: a UDP socket in vnet A sends
// 64-byte datagrams to a socket in vnet B over an epair through the host API in batches
// (host/udp.ts sendBatch/recvBatch: the host writes every payload into the kernel's I/O
// buffer and copies every datagram out; one Wasm call per batch each way), every datagram
// counted and checked at B. linux_netns_forward_pps: ipv4_forward_pps's peer, the same frames
// through a Linux router namespace (bench/peers/linux_forward.ts; root and a C compiler).

import { Kernel, type Vnet } from "../../host/index.js";
import type { Interface } from "../../host/index.js";
import { addAddress, addRoute, setForwarding } from "../../host/index.js";
import { ping } from "../../host/index.js";
import { socket, SOL_SOCKET, SO } from "../../host/index.js";
import { sendBatch, recvBatch, udpStats } from "../../host/index.js";
import { median, nowNs, round, type Group } from "../lib.js";
import { linuxForwardPps } from "../peers/linux_forward.js";

interface BenchIpv4 {
  bench_send(ifp: number, nhIfp: number, src: number, dst: number, n: number): number;
  bench_received(): number;
}

const BATCH = 50_000;
const RUNS = 7;
const PER_RUN = 1_000_000;

/** An epair between vnets a and b, both ends up (the firewall group builds with it too). */
export function link(k: Kernel, a: Vnet, b: Vnet): [Interface, Interface] {
  const [x, y] = k.epair(a, b);
  x.setUp();
  y.setUp();
  return [x, y];
}

/** A -- R -- B: 10.0.1.0/24 and 10.0.2.0/24, R forwarding (the firewall group starts from it). */
export async function chain(clock: "virtual" | "real") {
  const k = await Kernel.boot({ config: "GENERIC", clock });
  const a = k.createVnet("a");
  const r = k.createVnet("r");
  const b = k.createVnet("b");
  const [a0, r0] = link(k, a, r);
  const [r1, b0] = link(k, r, b);
  addAddress(k, a0, "10.0.1.1/24");
  addAddress(k, r0, "10.0.1.254/24");
  addAddress(k, r1, "10.0.2.254/24");
  addAddress(k, b0, "10.0.2.1/24");
  addRoute(k, a, "default", { gateway: "10.0.1.254" });
  addRoute(k, b, "default", { gateway: "10.0.2.254" });
  setForwarding(k, r, true);
  return { k, a, r, b, a0, r0, r1, b0 };
}

const UDP_BATCH = 512;
const UDP_PER_RUN = 500_000;
const UDP_PAYLOAD = 64;

async function udpPps(): Promise<{ pps: number; note: string }> {
  const k = await Kernel.boot({ config: "GENERIC", clock: "virtual" });
  const a = k.createVnet("a");
  const b = k.createVnet("b");
  const [ea, eb] = link(k, a, b);
  addAddress(k, ea, "10.0.0.1/24");
  addAddress(k, eb, "10.0.0.2/24");
  const srv = socket(k, b, "inet", "dgram", 17).bind("10.0.0.2", 9);
  srv.setsockopt(SOL_SOCKET, SO.RCVBUF, 1 << 20); // a whole batch fits
  const cli = socket(k, a, "inet", "dgram", 17);
  cli.connect("10.0.0.2", 9);
  const payloads = Array.from({ length: UDP_BATCH }, (_, i) => {
    const p = new Uint8Array(UDP_PAYLOAD);
    p[0] = i & 0xff;
    return p;
  });
  const round1 = () => {
    const s = sendBatch(k, cli, payloads);
    if (s.sent !== UDP_BATCH) throw new Error(`udp_pps: sent ${s.sent} of ${UDP_BATCH} (${s.lastError})`);
    const got = recvBatch(k, srv, UDP_BATCH);
    if (got.length !== UDP_BATCH || got[UDP_BATCH - 1].data[0] !== ((UDP_BATCH - 1) & 0xff)) throw new Error(`udp_pps: B read ${got.length} of ${UDP_BATCH}`);
  };
  for (let i = 0; i < 50; i++) round1(); // ARP resolved, zones warm, JIT
  const rates: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const t0 = nowNs();
    for (let n = 0; n < UDP_PER_RUN; n += UDP_BATCH) round1();
    rates.push((Math.ceil(UDP_PER_RUN / UDP_BATCH) * UDP_BATCH) / ((nowNs() - t0) / 1e9));
  }
  const st = udpStats(k, b);
  if (st.fullsock !== 0 || st.delivered !== st.ipackets) throw new Error(`udp_pps: B dropped datagrams (${JSON.stringify(st)})`);
  const pps = median(rates);
  k.shutdown();
  return { pps, note: `${RUNS} x ${UDP_PER_RUN / 1000}k datagrams of ${UDP_PAYLOAD} bytes, batches of ${UDP_BATCH}, median; ${(1e9 / pps).toFixed(0)} ns per datagram for sosend, udp_output, ip_output, ARP, epair, ether_input, ip_input, udp_input, sbappendaddr, soreceive and both host copies` };
}

const group: Group = {
  name: "ipv4",
  description: "IPv4 forwarding through a router vnet, ping round trips, UDP through sockets",
  metrics: [
    { name: "ipv4_forward_pps", unit: "packets/s", target: { min: 5_000_000, minPeerRatio: 2 }, description: "64-byte UDP/IPv4 frames from vnet A through router vnet R to vnet B, single thread, counted at B (peer: linux_netns_forward_pps of this run)" },
    { name: "linux_netns_forward_pps", unit: "packets/s", description: "Peer: the same 64-byte UDP/IPv4 frames from namespace A through router namespace R to B over veths, sendmmsg senders one per core, counted at B's veth (root and cc only)" },
    { name: "udp_pps", unit: "datagrams/s", description: "UDP datagrams from a socket in A to a socket in B through the host API, in batches" },
    { name: "ping_rtt_us", unit: "µs", description: "median ping round trip between two vnets on the real clock" },
  ],
  async run(ctx) {
    ctx.log("forwarding");
    const t = await chain("virtual");
    const res = await ping(t.k, t.a, "10.0.2.1", { count: 1, intervalMs: 1 });
    if (res.received !== 1) throw new Error("ping through the router failed; cannot measure forwarding");
    // bench_ipv4's sink is inet's handler for protocol 17: the udp module (GENERIC) makes way.
    t.k.kldunload("udp");
    await t.k.kldload("bench_ipv4");
    const bi = t.k.module<BenchIpv4>("bench_ipv4");
    const src = 0x0a000101;
    const dst = 0x0a000201;
    bi.bench_send(t.a0.ptr, t.r0.ptr, src, dst, BATCH);
    const rates: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      const before = bi.bench_received();
      let ns = 0;
      for (let sent = 0; sent < PER_RUN; sent += BATCH) {
        const t0 = nowNs();
        const refused = bi.bench_send(t.a0.ptr, t.r0.ptr, src, dst, BATCH);
        ns += nowNs() - t0;
        if (refused) throw new Error(`${refused} frames refused`);
      }
      const got = bi.bench_received() - before;
      if (got !== PER_RUN) throw new Error(`sent ${PER_RUN}, B received ${got}`);
      rates.push(PER_RUN / (ns / 1e9));
    }
    const fwd = t.r1.counters().opackets;
    t.k.kldunload("bench_ipv4");
    t.k.shutdown();
    ctx.log("linux forwarding (peer)");
    const peer = await linuxForwardPps((s) => ctx.log(s));
    const peerOpts = peer.value !== undefined ? { peer: "linux_netns_forward_pps", peerValue: peer.value } : {};
    ctx.report("ipv4_forward_pps", round(median(rates)), { ...peerOpts, note: `${RUNS} x 1M frames, median; R forwarded ${fwd} in all; ${(1e9 / median(rates)).toFixed(1)} ns per packet for 2 epair hops, ip_input x2, ip_forward, ARP lookup` });
    if (peer.value !== undefined) ctx.report("linux_netns_forward_pps", peer.value, { note: peer.note });
    else ctx.skip("linux_netns_forward_pps", peer.note);

    ctx.log("udp through sockets");
    const u = await udpPps();
    ctx.report("udp_pps", round(u.pps), { note: u.note });

    ctx.log("ping (real clock)");
    const p = await chain("real");
    await ping(p.k, p.a, "10.0.2.1", { count: 3, intervalMs: 1, timeoutMs: 500 });
    const pr = await ping(p.k, p.a, "10.0.2.1", { count: 50, intervalMs: 2, timeoutMs: 1000 });
    if (pr.received !== 50) throw new Error(`ping: ${pr.received}/50 replies`);
    const rtts = pr.replies.map((r) => r.rttMs * 1000).sort((x, y) => x - y);
    ctx.report("ping_rtt_us", round(median(rtts)), { note: `50 pings A -> R -> B, real clock; min ${round(rtts[0])} max ${round(rtts[rtts.length - 1])} µs (the whole round trip runs inside one kernel call: no link delay set)` });
    p.k.shutdown();
  },
};

export default group;
