// A driver for profiling the host side of TCP (node --cpu-prof): the loops of
// tcp_connections_per_s and tcp_epair_gbps alone, with wall-clock and CPU-time medians (CPU
// time of this process is steadier than wall time on a machine other work shares).
//
//   node --import tsx bench/drivers/tcp_host.ts conns [runs]        connect, accept, 1 byte each way, close
//   node --import tsx bench/drivers/tcp_host.ts bulk [runs] [MiB]   send + recvInto, 64 KiB per call
//   node --import tsx bench/drivers/tcp_host.ts bulk-recv [runs] [MiB]   the same read with recv()
//   node --import tsx bench/drivers/tcp_host.ts bulk-nooffload [runs] [MiB]   offloads off on the epair
//   ... bulk [runs] [MiB] --no-verify   without the hash of every byte (what checking costs)
//   ... bulk [runs] [MiB] --corrupt     flip one byte B reads: the check must throw
//   node --import tsx --cpu-prof --cpu-prof-dir=/tmp/prof bench/drivers/tcp_host.ts conns 10

import type { VirtualClock } from "../../host/index.js";
import { socket } from "../../host/index.js";
import { median, nowNs } from "../lib.js";
import { hosts, bulkPair } from "../workloads/tcp_epair.js";

const MiB = 2 ** 20;
const mode = process.argv[2] ?? "conns";
const runs = Number(process.argv[3] ?? 5);

async function hostsWithClock(seed: number) {
  const h = await hosts(seed);
  return { ...h, clock: h.k.clock as VirtualClock };
}

/** Run fn runs times; per run the units done per wall second and per CPU second. */
function measure(n: number, fn: () => void): { wall: number; cpu: number } {
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = nowNs();
    const c0 = process.cpuUsage();
    fn();
    const c = process.cpuUsage(c0);
    wall.push(n / ((nowNs() - t0) / 1e9));
    cpu.push(n / ((c.user + c.system) / 1e6));
  }
  return { wall: median(wall), cpu: median(cpu) };
}

async function conns(): Promise<void> {
  const { k, A, B, clock } = await hostsWithClock(2);
  const jumpUs: number[] = []; // CPU time of each batch's clock jump (TIME_WAIT expiry)
  const lsn = socket(k, B, "inet", "stream").bind("0.0.0.0", 80).listen(128);
  const one = new Uint8Array([42]);
  const batch = (n: number) => {
    for (let i = 0; i < n; i++) {
      const c = socket(k, A, "inet", "stream");
      c.connect("10.0.0.2", 80);
      const s = lsn.accept();
      if (!s) throw new Error("connection not acceptable at once");
      c.send(one);
      if (s.recv(16)?.length !== 1) throw new Error("byte did not arrive");
      s.send(one);
      if (c.recv(16)?.length !== 1) throw new Error("reply did not arrive");
      c.close();
      s.close();
    }
    const c0 = process.cpuUsage();
    clock.advance(61_000_000); // expire the TIME_WAITs (A's ephemeral ports)
    const c = process.cpuUsage(c0);
    jumpUs.push(c.user + c.system);
  };
  batch(2_000);
  const m = measure(10_000, () => batch(10_000));
  console.log(`conns: ${Math.round(m.wall)} connections/s wall, ${Math.round(m.cpu)} per CPU second (median of ${runs} x 10k)`);
  console.log(`  of which the 61 s clock jump expiring 10k TIME_WAITs: ${Math.round(median(jumpUs.slice(1)))} µs CPU per batch (median)`);
  lsn.close();
  k.shutdown();
}

/** The tcp group's transfer (the shared workload's bulkPair), runs x MiB, verified unless --no-verify; --corrupt flips one received byte. */
async function bulk(copyOut: boolean, offload: boolean): Promise<void> {
  const verify = !process.argv.includes("--no-verify");
  const corrupt = process.argv.includes("--corrupt");
  const p = await bulkPair({ offload, corruptAt: corrupt ? 40 * MiB + 12345 : undefined });
  const xfer = Number(process.argv[4] ?? 512) * MiB;
  p.move(32 * MiB, { copyOut, verify });
  const m = measure(xfer * 8, () => p.move(xfer, { copyOut, verify }));
  console.log(`${mode}${verify ? " (verified: StreamHash of every byte, both ends)" : " (NOT verified)"}: ${(m.wall / 1e9).toFixed(2)} Gbit/s wall, ${(m.cpu / 1e9).toFixed(2)} per CPU second (median of ${runs} x ${xfer / MiB} MiB)`);
  p.close();
}

if (mode === "conns") await conns();
else if (mode === "bulk" || mode === "bulk-recv" || mode === "bulk-nooffload") await bulk(mode === "bulk-recv", mode !== "bulk-nooffload");
else throw new Error(`mode must be conns, bulk, bulk-recv or bulk-nooffload, got ${JSON.stringify(mode)}`);
