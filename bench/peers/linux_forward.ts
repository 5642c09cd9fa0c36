// linux_netns_forward_pps: the Linux peer of ipv4_forward_pps. Three namespaces A -- R -- B
// joined by veth pairs (10.99.1.0/24 and 10.99.2.0/24), R forwarding, the same 64-byte
// UDP/IPv4 frames as bench_ipv4's, counted as B's veth receives them (rx_packets). The
// senders are udp_blast.c (sendmmsg batches of 256 from a connected UDP socket), one per
// core, built with the machine's cc. A veth hands a frame to the next namespace on the
// sending CPU, so the senders' cores also do R's forwarding: the figure is what two cores
// forward when they also make the traffic, as wavnet's single thread does. Needs root.

import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const NS = ["wvfwd-a", "wvfwd-r", "wvfwd-b"] as const;
const SECONDS = 3;
const RUNS = 3;

function ip(...args: string[]): void {
  const r = spawnSync("ip", args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`ip ${args.join(" ")}: ${(r.stderr || String(r.error ?? "")).trim()}`);
}

function rxPackets(ns: string, dev: string): number {
  const r = spawnSync("ip", ["-n", ns, "-s", "-j", "link", "show", dev], { encoding: "utf8" });
  return JSON.parse(r.stdout)[0].stats64.rx.packets as number;
}

function cleanup(): void {
  for (const n of NS) spawnSync("ip", ["netns", "del", n], { stdio: "ignore" });
}

function blast(bin: string, seconds: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const p = spawn("ip", ["netns", "exec", NS[0], bin, "10.99.2.1", "9", String(seconds)], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (err += d));
    p.on("close", (code) => {
      const m = /sent (\d+)/.exec(out);
      if (code !== 0 || !m) reject(new Error(`udp_blast exited ${code}: ${err.trim()}`));
      else resolve(Number(m[1]));
    });
  });
}

/** The median of RUNS runs, or why it could not be measured. */
export async function linuxForwardPps(log: (s: string) => void): Promise<{ value?: number; note: string }> {
  if (process.platform !== "linux") return { note: "not Linux" };
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return { note: "needs root (ip netns add)" };
  if (spawnSync("cc", ["--version"], { stdio: "ignore" }).status !== 0) return { note: "no C compiler (cc) to build the sender" };
  const dir = mkdtempSync(join(tmpdir(), "wvfwd-"));
  const bin = join(dir, "udp_blast");
  const src = fileURLToPath(new URL("./udp_blast.c", import.meta.url));
  try {
    const cc = spawnSync("cc", ["-O2", "-o", bin, src], { encoding: "utf8" });
    if (cc.status !== 0) return { note: `cc failed: ${cc.stderr.trim().split("\n")[0]}` };
    cleanup();
    for (const n of NS) ip("netns", "add", n);
    ip("link", "add", "wvfa", "netns", NS[0], "type", "veth", "peer", "name", "wvfr0", "netns", NS[1]);
    ip("link", "add", "wvfr1", "netns", NS[1], "type", "veth", "peer", "name", "wvfb", "netns", NS[2]);
    ip("-n", NS[0], "addr", "add", "10.99.1.1/24", "dev", "wvfa");
    ip("-n", NS[1], "addr", "add", "10.99.1.254/24", "dev", "wvfr0");
    ip("-n", NS[1], "addr", "add", "10.99.2.254/24", "dev", "wvfr1");
    ip("-n", NS[2], "addr", "add", "10.99.2.1/24", "dev", "wvfb");
    for (const [n, d] of [[NS[0], "wvfa"], [NS[1], "wvfr0"], [NS[1], "wvfr1"], [NS[2], "wvfb"]] as const) ip("-n", n, "link", "set", d, "up");
    for (const n of NS) ip("-n", n, "link", "set", "lo", "up");
    ip("-n", NS[0], "route", "add", "default", "via", "10.99.1.254");
    ip("-n", NS[2], "route", "add", "default", "via", "10.99.2.254");
    const fw = spawnSync("ip", ["netns", "exec", NS[1], "sysctl", "-qw", "net.ipv4.ip_forward=1"], { encoding: "utf8" });
    if (fw.status !== 0) return { note: `sysctl net.ipv4.ip_forward=1 in R failed: ${fw.stderr.trim()}` };
    // ARP resolved on both hops before the clock starts.
    const ping = spawnSync("ip", ["netns", "exec", NS[0], "ping", "-c", "1", "-W", "2", "10.99.2.1"], { encoding: "utf8" });
    if (ping.status !== 0) return { note: "ping A -> B through R failed" };
    const senders = Math.max(1, availableParallelism());
    const rates: number[] = [];
    let took = 1;
    for (let r = 0; r < RUNS; r++) {
      const rx0 = rxPackets(NS[2], "wvfb");
      const t0 = performance.now();
      const sent = (await Promise.all(Array.from({ length: senders }, () => blast(bin, SECONDS)))).reduce((a, b) => a + b, 0);
      const secs = (performance.now() - t0) / 1000;
      await new Promise((res) => setTimeout(res, 100));
      const rx = rxPackets(NS[2], "wvfb") - rx0;
      took = rx / sent;
      rates.push(rx / secs);
      log(`linux forward: ${Math.round(rx / secs)} packets/s at B (${sent} sent by ${senders} senders, ${(took * 100).toFixed(1)}% arrived)`);
    }
    rates.sort((a, b) => a - b);
    const value = Math.round(rates[Math.floor(rates.length / 2)]);
    return { value, note: `Linux ${spawnSync("uname", ["-r"], { encoding: "utf8" }).stdout.trim()}: A -> R -> B over two veth pairs, R forwarding, 64-byte UDP frames from ${senders} udp_blast senders (sendmmsg, one per core; the veth forwards on the sender's CPU), counted at B's veth; median of ${RUNS} x ${SECONDS} s; ${(took * 100).toFixed(1)}% of what was sent arrived in the last run` };
  } finally {
    cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}
