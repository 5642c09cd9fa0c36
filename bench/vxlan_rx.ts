// VXLAN receive figures for bench group "hardening" (issue 14 item 11; bench/groups/hardening.ts
// lists VXLAN_RX_METRICS and calls runVxlanRxBench).
//
// The port as a user gets it (rxThread false, the default).
// vxlan_rx_pps: a sender in another process (tests/helpers/vxlan_blast.ts: node:dgram, one
// socket, bursts of 256, as fast as it can) sends VXLAN datagrams carrying 64-byte frames
// (IPv4 UDP to a closed port, every 100th datagram junk without the I flag) over 127.0.0.1 to
// a wavnet VXLAN port for SECONDS; frames passed to Ethernet input, counted by the kernel
// (vxlanStats().rxFrames), per second of sending. Median of RUNS.
// vxlan_rx_host_socket_drops: in those runs, datagrams the OS dropped on the port's socket
// because it was full (Linux's /proc/net/udp drops; vxlanStats().rxSocketDrops), median.
// The goal is none: what the port cannot take should be dropped, counted and fairly, in its
// own queue (also in the note).
// linux_vxlan_rx_pps (peer; root): the same sender, run in one network namespace, sends
// the same datagrams to the Linux vxlan device of another (linuxVxlanPair, over a veth):
// that device's rx_packets per second of sending.
// vxlan_rx_lossless_pps: the same sender at a set rate, stepped up until something is lost:
// the highest rate the port took whole (runVxlanLosslessBench).

import { spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { loadavg, cpus } from "node:os";
import { Kernel, addAddress, createVxlan } from "../host/index.js";
import { linuxVxlanPair, pairAddress, interopMissing } from "../tests/interop/netns.js";
import { median, round, errMessage, type GroupContext, type MetricSpec } from "./lib.js";

export const VXLAN_RX_METRICS: MetricSpec[] = [
  { name: "vxlan_rx_pps", unit: "frames/s", description: "64-byte frames into a VXLAN port from another process (node:dgram sender over 127.0.0.1, as fast as it sends), counted at the kernel" },
  { name: "vxlan_rx_host_socket_drops", unit: "datagrams", target: { max: 0 }, description: "in those runs, datagrams the OS dropped on the port's full socket (/proc/net/udp), median" },
  { name: "linux_vxlan_rx_pps", unit: "frames/s", description: "peer: the same sender in one network namespace into a Linux vxlan device in another (over a veth), its rx_packets; root only" },
  { name: "vxlan_rx_lossless_pps", unit: "frames/s", description: "the highest offered rate of 64-byte frames into a VXLAN port from another process at which nothing was dropped, in the OS socket or the port (rates stepped up by 1.25x, 2 s each)" },
];

const SECONDS = 3;
const RUNS = 3;
const VNI = 7878;
const JUNK_EVERY = 100;
const blaster = fileURLToPath(new URL("../tests/helpers/vxlan_blast.ts", import.meta.url));

export interface RxRun {
  sent: number;
  sendSeconds: number;
  frames: number;
  pps: number;
  socketDrops: number;
  queueDrops: number;
  ringDrops: number;
  badFlags: number;
  cpuSeconds: number;
}

function runBlaster(args: string[], prefix: string[] = []): Promise<{ sent: number; seconds: number }> {
  return new Promise((resolve, reject) => {
    const cmd = prefix.length ? prefix[0] : process.execPath;
    const argv = prefix.length ? [...prefix.slice(1), process.execPath, "--import", "tsx", blaster, ...args] : ["--import", "tsx", blaster, ...args];
    const p = spawn(cmd, argv, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (err += d));
    p.on("close", (code) => {
      const last = out.split("\n").filter((l) => l.startsWith("{")).pop();
      if (code !== 0 || !last) reject(new Error(`sender exited ${code}: ${err.slice(0, 300)}`));
      else resolve(JSON.parse(last));
    });
  });
}

/** One blast into a fresh kernel's VXLAN port over 127.0.0.1. */
export async function wavnetRxOnce(seconds = SECONDS, rxThread = false, pps = 0): Promise<RxRun> {
  const k = await Kernel.boot({ clock: "real" });
  try {
    const v = k.createVnet("rx");
    const vx = await createVxlan(k, v, { vni: VNI, remote: "127.0.0.1:9", localAddress: "127.0.0.1", localPort: 0, rxThread });
    vx.setUp();
    addAddress(k, vx, "10.98.0.1/24");
    const s0 = vx.vxlanStats();
    const c0 = process.cpuUsage();
    const r = await runBlaster(["127.0.0.1", String(vx.localPort), String(VNI), vx.mac, "10.98.0.1", String(seconds), String(JUNK_EVERY), "0", String(pps)]);
    await new Promise((res) => setTimeout(res, 300)); // what the socket still holds
    const c = process.cpuUsage(c0);
    const s1 = vx.vxlanStats();
    const frames = s1.rxFrames - s0.rxFrames;
    if (s1.rxRead !== s1.rxDatagrams + s1.rxQueueDrops + s1.rxQueued) throw new Error(`vxlan_rx: datagrams read (${s1.rxRead}) != handed in + dropped + queued`);
    return {
      sent: r.sent, sendSeconds: r.seconds, frames, pps: frames / r.seconds,
      socketDrops: s1.rxSocketDrops - s0.rxSocketDrops, queueDrops: s1.rxQueueDrops - s0.rxQueueDrops, ringDrops: s1.rxRingDrops - s0.rxRingDrops,
      badFlags: s1.rxBadFlags - s0.rxBadFlags, cpuSeconds: (c.user + c.system) / 1e6,
    };
  } finally {
    k.shutdown();
  }
}

/** The same blast from one namespace into a Linux vxlan device in another: its rx_packets per second. */
async function linuxRxOnce(seconds = SECONDS): Promise<{ pps: number; sentPps: number; took: number }> {
  const tag = `r${process.pid % 10000}`;
  const port = 4793;
  const pair = linuxVxlanPair({ tag, vni: VNI, port });
  try {
    const show = () => JSON.parse(spawnSync("ip", ["-n", pair.ns[1], "-s", "-j", "link", "show", "vx0"], { encoding: "utf8" }).stdout)[0];
    const mac: string = show().address;
    const rx0: number = show().stats64.rx.packets;
    const underlay = pairAddress(tag, 2).replace(/^10\.203\./, "10.202.");
    const r = await runBlaster([underlay, String(port), String(VNI), mac, pairAddress(tag, 2), String(seconds), String(JUNK_EVERY)], ["ip", "netns", "exec", pair.ns[0]]);
    await new Promise((res) => setTimeout(res, 300));
    const rx = show().stats64.rx.packets - rx0;
    // Every JUNK_EVERY-th datagram is junk the device drops before rx_packets.
    return { pps: rx / r.seconds, sentPps: r.sent / r.seconds, took: rx / (r.sent - Math.ceil(r.sent / JUNK_EVERY)) };
  } finally {
    pair.destroy();
  }
}

const k1 = (x: number) => `${(x / 1000).toFixed(1)}k`;

/**
 * Measure the three metrics and report them, or say why not. The wavnet and Linux runs
 * alternate, so both see the same load on a shared machine.
 */
export async function runVxlanRxBench(ctx: GroupContext): Promise<void> {
  const missing = interopMissing(["ip"]);
  let linuxFailed: string | undefined = missing;
  const lruns: { pps: number; sentPps: number; took: number }[] = [];
  const runs: RxRun[] = [];
  try {
    await wavnetRxOnce(1); // warm-up: JIT, socket buffers
    for (let i = 0; i < RUNS; i++) {
      runs.push(await wavnetRxOnce());
      if (linuxFailed === undefined) {
        try {
          lruns.push(await linuxRxOnce());
        } catch (e) {
          // The peer is Linux's own figure: when its setup fails here the table says why.
          linuxFailed = `failed: ${errMessage(e)}`;
        }
      }
    }
  } catch (e) {
    throw new Error(`vxlan_rx_pps: ${errMessage(e)}`);
  }
  let peer: number | undefined;
  if (linuxFailed !== undefined) ctx.skip("linux_vxlan_rx_pps", linuxFailed);
  else {
    peer = Math.round(median(lruns.map((r) => r.pps)));
    ctx.report("linux_vxlan_rx_pps", peer, {
      note: `median of ${RUNS} (${lruns.map((r) => k1(r.pps)).join(", ")}), sender ${lruns.map((r) => k1(r.sentPps)).join(", ")}/s, of its valid frames Linux counted ${lruns.map((r) => (r.took * 100).toFixed(1) + "%").join(", ")}; ${SECONDS} s each, alternating with vxlan_rx_pps's runs, junk every ${JUNK_EVERY}th (rx_packets counts only decapsulated frames)`,
    });
  }
  const pps = Math.round(median(runs.map((r) => r.pps)));
  const load = loadavg()[0].toFixed(1);
  const note =
    `median of ${RUNS} (${runs.map((r) => k1(r.pps)).join(", ")}); sender ${runs.map((r) => k1(r.sent / r.sendSeconds)).join(", ")}/s; ` +
    `dropped in the port's queue ${runs.map((r) => r.queueDrops).join(", ")}, in its ring ${runs.map((r) => r.ringDrops).join(", ")}; port CPU ${runs.map((r) => ((r.cpuSeconds / r.sendSeconds) * 100).toFixed(0) + "%").join(", ")}; ` +
    `junk counted by the kernel ${runs.map((r) => r.badFlags).join(", ")}; load average ${load} on ${cpus().length} cores`;
  ctx.report("vxlan_rx_pps", pps, peer !== undefined ? { peer: "linux_vxlan_rx_pps", peerValue: peer, note } : { note });
  const drops = runs.map((r) => r.socketDrops);
  if (drops.some((d) => d < 0)) ctx.skip("vxlan_rx_host_socket_drops", "the OS does not say (no /proc/net/udp)");
  else ctx.report("vxlan_rx_host_socket_drops", Math.round(median(drops)), { note: `runs: ${drops.join(", ")} of ${runs.map((r) => r.sent).join(", ")} sent` });
}

/**
 * vxlan_rx_lossless_pps: the offered rate steps up from 10k/s by 1.25x, 2 s a step, until a
 * step loses a datagram (the OS socket, the ring or the queue) or the sender cannot reach the
 * rate; the figure is the last rate delivered whole (what the sender sent, per second). Two
 * losing steps in a row end it, so one unlucky scheduling hiccup does not.
 */
export async function runVxlanLosslessBench(ctx: GroupContext, rxThread = false): Promise<void> {
  let best = 0;
  let misses = 0;
  const steps: string[] = [];
  for (let rate = 10_000; rate <= 2_000_000 && misses < 2; rate = Math.round(rate * 1.25)) {
    const r = await wavnetRxOnce(2, rxThread, rate);
    const sentPps = r.sent / r.sendSeconds;
    const lost = Math.max(0, r.socketDrops) + r.queueDrops + r.ringDrops;
    steps.push(`${k1(rate)}: ${lost ? `${lost} lost` : "0 lost"}`);
    if (sentPps < rate * 0.9) {
      steps.push("sender could not keep up");
      break;
    }
    if (lost === 0) {
      best = Math.max(best, sentPps);
      misses = 0;
    } else misses++;
  }
  if (r0Unknown()) return ctx.skip("vxlan_rx_lossless_pps", "the OS does not say what it dropped (no /proc/net/udp)");
  ctx.report("vxlan_rx_lossless_pps", Math.round(best), {
    note: `${rxThread ? "receive thread" : "main thread"}; steps ${steps.join(", ")}; load average ${loadavg()[0].toFixed(1)} on ${cpus().length} cores`,
  });
}

function r0Unknown(): boolean {
  return spawnSync("test", ["-r", "/proc/net/udp"]).status !== 0;
}
