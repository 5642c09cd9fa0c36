// A driver for profiling the host side of TCP (node --cpu-prof): the loops of
// tcp_connections_per_s and tcp_epair_gbps alone, with wall-clock and CPU-time medians (CPU
// time of this process is steadier than wall time on a machine other work shares).
//
//   node --import tsx bench/drivers/tcp_host.ts conns [runs]        connect, accept, 1 byte each way, close
//   node --import tsx bench/drivers/tcp_host.ts bulk [runs] [MiB]   send + recvInto, 64 KiB per call
//   node --import tsx bench/drivers/tcp_host.ts bulk-recv [runs] [MiB]   the same read with recv()
//   node --import tsx --cpu-prof --cpu-prof-dir=/tmp/prof bench/drivers/tcp_host.ts conns 10

import type { VirtualClock } from "../../host/index.js";
import { socket, SOL_SOCKET, SO, type Socket } from "../../host/index.js";
import { median, nowNs } from "../lib.js";
import { hosts } from "../groups/tcp.js";

const MiB = 2 ** 20;
const CHUNK = 65536;
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

async function bulk(copyOut: boolean): Promise<void> {
  const { k, A, B, clock } = await hostsWithClock(1);
  const lsn = socket(k, B, "inet", "stream").bind("0.0.0.0", 5001).listen(8);
  lsn.setsockopt(SOL_SOCKET, SO.RCVBUF, MiB);
  const cli = socket(k, A, "inet", "stream");
  cli.connect("10.0.0.2", 5001);
  let srv: Socket | null = null;
  for (let i = 0; i < 1000 && !srv; i++) {
    srv = lsn.accept();
    if (!srv) clock.advance(1000);
  }
  if (!srv) throw new Error("no connection");
  const src = new Uint8Array(CHUNK).map((_, i) => (i * 131 + 7) & 0xff);
  const dst = new Uint8Array(CHUNK);
  const move = (total: number) => {
    let sent = 0;
    let got = 0;
    while (got < total) {
      const before = sent + got;
      for (let n = 1; sent < total && n > 0; sent += n) n = cli.send(sent + CHUNK <= total ? src : src.subarray(0, total - sent));
      if (copyOut) {
        for (let r = srv!.recv(CHUNK); r !== null && r.length > 0; r = srv!.recv(CHUNK)) got += r.length;
      } else {
        for (let n = srv!.recvInto(dst); n !== null && n > 0; n = srv!.recvInto(dst)) got += n;
      }
      if (sent + got === before) clock.advance(1000); // neither side could move: let timers run
    }
  };
  const xfer = Number(process.argv[4] ?? 512) * MiB;
  move(32 * MiB);
  const m = measure(xfer * 8, () => move(xfer));
  console.log(`${mode}: ${(m.wall / 1e9).toFixed(2)} Gbit/s wall, ${(m.cpu / 1e9).toFixed(2)} per CPU second (median of ${runs} x ${xfer / MiB} MiB)`);
  cli.close();
  srv.close();
  lsn.close();
  k.shutdown();
}

if (mode === "conns") await conns();
else if (mode === "bulk" || mode === "bulk-recv") await bulk(mode === "bulk-recv");
else throw new Error(`mode must be conns, bulk or bulk-recv, got ${JSON.stringify(mode)}`);
