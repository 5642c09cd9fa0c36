// VXLAN figures for bench group "runner" (bench/groups/runner.ts calls runVxlanBench and
// lists VXLAN_METRICS among its metrics). Both need root (network namespaces).
//
// vxlan_tcp_gbps: one TCP connection from a wavnet node (real clock, MTU 1450) through its
// vxlan interface, the host's UDP socket and a veth into a namespace whose Linux vxlan
// device delivers to socat, which throws the bytes away. The client writes 1 MiB chunks
// with backpressure; the time is from connect until socat has read the last byte and exited.
// linux_vxlan_iperf3_gbps (peer): iperf3 between two namespaces, each with a vxlan device,
// over a veth: the same kind of link with Linux (and its offloads) at both ends.
//
// The note of vxlan_tcp_gbps also gives, measured in the same run and alternated with the
// metric's runs (so that a change in the machine's load hits all alike): the port with its
// socket in the VXLAN thread (rxThread: true, which sends with sendmmsg batches), and both
// over a jumbo underlay (veth MTU 9000, inner MTU 8950 at both ends), with iperf3's figure
// over the same jumbo underlay; the load average before and after.

import { spawn, spawnSync } from "node:child_process";
import { loadavg } from "node:os";
import { Kernel } from "../host/index.js";
import { addAddress } from "../host/index.js";
import { createVxlan } from "../host/index.js";
import { SOL_SOCKET, SO } from "../host/index.js";
import { linuxVxlan, linuxVxlanPair, pairAddress, interopMissing } from "../tests/interop/netns.js";
import { median, round, errMessage, type GroupContext, type MetricSpec } from "./lib.js";

export const VXLAN_METRICS: MetricSpec[] = [
  { name: "vxlan_tcp_gbps", unit: "Gbit/s", description: "TCP from a wavnet node to a Linux namespace over VXLAN (vxlan interface, host UDP socket, veth, Linux vxlan device, socat); root only" },
  { name: "linux_vxlan_iperf3_gbps", unit: "Gbit/s", description: "peer: iperf3 between two Linux network namespaces over the same kind of VXLAN link (vxlan devices over a veth); root only" },
];

const MiB = 1 << 20;
const RUNS = 3;
const VNI = 5151;
const PORT = 4790; // not 4789: the interop suite may run at the same time

/** Inner MTU over the jumbo underlay (9000 less outer IPv4, UDP, VXLAN and inner Ethernet headers). */
const JUMBO_MTU = 8950;

interface Variant {
  /** The port's socket in the VXLAN thread (rxThread: true). */
  thread?: boolean;
  /** Inner MTU at both ends, over an underlay of mtu + 50. */
  mtu?: number;
  /** SO_SNDBUF of the client (default: the kernel's), with a 32-segment ring. */
  sndbuf?: number;
}

/** One wavnet -> Linux transfer of `bytes`; Gbit/s of payload. */
async function wavnetToLinux(bytes: number, o: Variant = {}): Promise<number> {
  const tag = `b${process.pid % 10000}`;
  const lx = linuxVxlan({ tag, vni: VNI, port: PORT, linuxAddr: "10.204.0.2/24", mtu: o.mtu, underlayMtu: o.mtu !== undefined ? o.mtu + 50 : undefined });
  const sndbuf = o.sndbuf;
  const k = await Kernel.boot({ clock: "real" });
  try {
    const v = k.createVnet("bench");
    const vx = await createVxlan(k, v, { vni: VNI, remote: `${lx.underlayLinux}:${PORT}`, localAddress: lx.underlayHost, localPort: PORT, ringSegments: sndbuf !== undefined ? 32 : undefined, rxThread: o.thread ?? false, mtu: o.mtu });
    vx.setUp();
    addAddress(k, vx, "10.204.0.1/24");
    const sink = spawn("ip", ["netns", "exec", lx.ns, "socat", "-u", "TCP-LISTEN:5201,bind=10.204.0.2,reuseaddr", "OPEN:/dev/null"], { stdio: "ignore" });
    const done = new Promise<number | null>((r) => sink.on("close", (c) => r(c)));
    const chunk = Buffer.alloc(MiB, 0x5a);
    let t0 = 0n;
    for (let attempt = 0; ; attempt++) {
      const ok = await new Promise<boolean>((resolve) => {
        const c = v.net.connect(5201, "10.204.0.2");
        c.on("error", () => resolve(false));
        c.on("connect", () => {
          if (sndbuf !== undefined) c.raw!.setsockopt(SOL_SOCKET, SO.SNDBUF, sndbuf);
          t0 = process.hrtime.bigint();
          let left = bytes;
          const pump = () => {
            while (left > 0) {
              const n = Math.min(left, chunk.length);
              left -= n;
              if (!c.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
                c.once("drain", pump);
                return;
              }
            }
            c.end();
            resolve(true);
          };
          pump();
        });
        c.resume();
      });
      if (ok) break;
      if (attempt >= 50) throw new Error("could not connect to socat in the namespace");
      await new Promise((r) => setTimeout(r, 100));
    }
    const code = await done;
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    if (code !== 0) throw new Error(`socat exited ${code}`);
    const s = vx.vxlanStats();
    if (s.txRingDrops > 0) throw new Error(`ring drops: ${s.txRingDrops}`);
    if (s.txThreadDrops > 0) throw new Error(`drops in the ring to the thread: ${s.txThreadDrops}`);
    return (bytes * 8) / secs / 1e9;
  } finally {
    k.shutdown();
    lx.destroy();
  }
}

async function linuxIperf3(mtu?: number): Promise<number> {
  const tag = `i${process.pid % 10000}`;
  const pair = linuxVxlanPair({ tag, vni: VNI, port: PORT, mtu });
  try {
    const srv = spawn("ip", ["netns", "exec", pair.ns[1], "iperf3", "-s", "-1", "-B", pairAddress(tag, 2)], { stdio: "ignore" });
    await new Promise((r) => setTimeout(r, 500));
    const out = spawnSync("ip", ["netns", "exec", pair.ns[0], "iperf3", "-c", pairAddress(tag, 2), "-t", "4", "-J"], { encoding: "utf8", timeout: 30_000 });
    srv.kill();
    if (out.status !== 0) throw new Error(`iperf3 -c failed: ${(out.stderr || out.stdout || "").slice(0, 200)}`);
    const bps = JSON.parse(out.stdout)?.end?.sum_received?.bits_per_second;
    if (typeof bps !== "number") throw new Error("iperf3 JSON had no end.sum_received.bits_per_second");
    return bps / 1e9;
  } finally {
    pair.destroy();
  }
}

/** Measure both metrics (median of 3 runs each) and report them, or say why not. */
export async function runVxlanBench(ctx: GroupContext, opts: { bytes?: number } = {}): Promise<void> {
  const bytes = opts.bytes ?? 256 * MiB;
  const missing = interopMissing(["ip", "socat", "ethtool"]);
  let peer: number | undefined;
  const missingIperf = interopMissing(["ip", "iperf3"]);
  if (missingIperf) {
    ctx.skip("linux_vxlan_iperf3_gbps", missingIperf);
  } else {
    try {
      const runs: number[] = [];
      for (let i = 0; i < RUNS; i++) runs.push(await linuxIperf3());
      peer = round(median(runs));
      ctx.report("linux_vxlan_iperf3_gbps", peer, { note: `iperf3 -t 4, median of ${RUNS} (${runs.map(round).join(", ")}); two netns, vxlan devices (MTU 1450) over a veth, offloads on` });
    } catch (e) {
      // The peer is Linux's own figure: when its setup fails here the table says why.
      ctx.skip("linux_vxlan_iperf3_gbps", `failed: ${errMessage(e)}`);
    }
  }
  if (missing) {
    ctx.skip("vxlan_tcp_gbps", missing);
    return;
  }
  try {
    const load0 = loadavg()[0];
    await wavnetToLinux(32 * MiB); // warm-up: JIT, ARP, socket buffers
    await wavnetToLinux(32 * MiB, { thread: true });
    // The variants in the note, alternated with the metric's runs.
    const variants: { name: string; o: Variant }[] = [
      { name: "main", o: {} },
      { name: "thread", o: { thread: true } },
      { name: "main, jumbo", o: { mtu: JUMBO_MTU } },
      { name: "thread, jumbo", o: { thread: true, mtu: JUMBO_MTU } },
    ];
    const runs = new Map<string, number[]>(variants.map((x) => [x.name, []]));
    for (let i = 0; i < RUNS; i++) for (const x of variants) runs.get(x.name)!.push(await wavnetToLinux(bytes, x.o));
    let jumboPeer = "";
    if (!missingIperf) {
      try {
        const j: number[] = [];
        for (let i = 0; i < RUNS; i++) j.push(await linuxIperf3(JUMBO_MTU));
        jumboPeer = `; iperf3 over the jumbo underlay ${round(median(j))} (${j.map(round).join(", ")})`;
      } catch (e) {
        jumboPeer = `; iperf3 over the jumbo underlay failed: ${errMessage(e)}`;
      }
    }
    const show = (name: string) => `${round(median(runs.get(name)!))} (${runs.get(name)!.map(round).join(", ")})`;
    const main = runs.get("main")!;
    const note =
      `${bytes / MiB} MiB, median of ${RUNS} (${main.map(round).join(", ")}); wavnet vnet (real clock, MTU 1450, 1 MiB writes, default SO_SNDBUF: 32 KiB, autotuned) -> vxlan ring -> node:dgram on the main thread (the default) -> veth -> Linux vxlan -> socat; ` +
      `with the socket in the VXLAN thread (rxThread: true; sendmmsg batches): ${show("thread")}; ` +
      `over a jumbo underlay (veth MTU 9000, inner MTU ${JUMBO_MTU}): main thread ${show("main, jumbo")}, thread ${show("thread, jumbo")}${jumboPeer}; ` +
      `load average ${load0.toFixed(1)} before, ${loadavg()[0].toFixed(1)} after`;
    ctx.report("vxlan_tcp_gbps", round(median(main)), peer !== undefined ? { peer: "linux_vxlan_iperf3_gbps", peerValue: peer, note } : { note });
  } catch (e) {
    // wavnet's own side failing is a bug, not a missing tool: the bench fails with it.
    throw new Error(`vxlan_tcp_gbps: ${errMessage(e)}`);
  }
}
