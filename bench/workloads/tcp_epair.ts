// The tcp_epair_gbps workload: one TCP connection A -> B over an epair, every byte written
// into the kernel by the host (Socket.send, 64 KiB per call) and read out by it
// (Socket.recvInto into one reused 64 KiB buffer; or Socket.recv, a new array per call),
// the virtual clock stepped only when neither side can move. Platform-neutral (wavnet/core
// only), so the tcp group runs it in Node and the browser group in a Web Worker of
// Chromium, and both figures come from the same loop, sizes and checks.

import { Kernel, socket, SOL_SOCKET, SO, addAddress, tcpStats, type Socket, type VirtualClock, type ModuleSource } from "../../host/core.js";
import { median, round, type NowNs } from "./common.js";

const GiB = 2 ** 30;
const MiB = 2 ** 20;
export const CHUNK = 65536;

/** Two vnets A (10.0.0.1) and B (10.0.0.2) on an epair, virtual clock. */
export async function hosts(seed = 1, source?: ModuleSource) {
  const k = await Kernel.boot({ config: ["if_epair", "inet", "tcp"], clock: "virtual", seed, ...(source ? { source } : {}) });
  const A = k.createVnet("A");
  const B = k.createVnet("B");
  const [ea, eb] = k.epair(A, B);
  ea.setUp();
  eb.setUp();
  addAddress(k, ea, "10.0.0.1/24");
  addAddress(k, eb, "10.0.0.2/24");
  return { k, A, B, ea, eb };
}

function clock(k: Kernel): VirtualClock {
  return k.clock as VirtualClock;
}

/** Advance virtual time to the next kernel deadline (at most maxUs). */
export function step(k: Kernel, maxUs = 1_000_000): void {
  const next = k.k.callout_next();
  const now = clock(k).now();
  clock(k).advance(next < 0 ? maxUs : Math.max(1, Math.min(maxUs, next - now)));
}

export function acceptOne(k: Kernel, lsn: Socket): Socket {
  for (let i = 0; i < 1000; i++) {
    const s = lsn.accept();
    if (s) return s;
    step(k);
  }
  throw new Error("tcp: no connection to accept");
}

export interface BulkOptions {
  /** Bytes per timed run. */
  xfer: number;
  runs: number;
  /** Bytes moved first, untimed (JIT and Wasm tier-up, zones, cwnd open). */
  warmup: number;
  /** Bytes per run of the comparison read with recv() (0: none). */
  recvXfer: number;
  now: NowNs;
  log?: (msg: string) => void;
  source?: ModuleSource;
}

export interface BulkResult {
  /** Median Gbit/s of the timed runs (send + recvInto). */
  gbps: number;
  rates: number[];
  /** Median Gbit/s of the recv() runs, if any. */
  recvGbps?: number;
  /** Everything the tcp group's note says. */
  note: string;
}

export async function tcpEpairBulk(o: BulkOptions): Promise<BulkResult> {
  const { k, A, B, ea } = await hosts(1, o.source);
  const lsn = socket(k, B, "inet", "stream").bind("0.0.0.0", 5001).listen(8);
  lsn.setsockopt(SOL_SOCKET, SO.RCVBUF, MiB); // inherited by the accepted socket
  // The sender keeps the default SO_SNDBUF (32 KiB); a 1 MiB one measures about the same.
  // The note shows segments beyond B's window (rcvpackafterwin): 0 since the window-scale fix.
  const cli = socket(k, A, "inet", "stream");
  cli.connect("10.0.0.2", 5001);
  const srv = acceptOne(k, lsn);
  const src = new Uint8Array(CHUNK);
  for (let i = 0; i < CHUNK; i++) src[i] = (i * 131 + 7) & 0xff;
  const dst = new Uint8Array(CHUNK);
  let steps = 0;
  let sendCalls = 0;
  let recvCalls = 0;
  let copyOut = false; // true: read with recv() (a new array per call) instead of recvInto()
  const move = (total: number): number => {
    let sent = 0;
    let got = 0;
    let sum = 0;
    while (got < total) {
      let progress = false;
      while (sent < total) {
        const n = cli.send(sent + CHUNK <= total ? src : src.subarray(0, total - sent));
        sendCalls++;
        if (n <= 0) break;
        sent += n;
        progress = true;
      }
      if (copyOut) {
        for (let r = srv.recv(CHUNK); r !== null && r.length > 0; r = srv.recv(CHUNK)) {
          recvCalls++;
          got += r.length;
          sum = (sum + r[r.length - 1]) | 0; // touch what was read
          progress = true;
        }
      } else {
        for (let n = srv.recvInto(dst); n !== null && n > 0; n = srv.recvInto(dst)) {
          recvCalls++;
          got += n;
          sum = (sum + dst[n - 1]) | 0; // touch what was read
          progress = true;
        }
      }
      if (!progress) {
        step(k);
        steps++;
      }
    }
    // Every byte written came out at B, and no more: the figure is bytes that moved.
    if (sent !== total || got !== total) throw new Error(`tcp bulk: wrote ${sent} and read ${got} bytes of ${total}`);
    return sum;
  };
  move(o.warmup);
  const rates: number[] = [];
  const vt: number[] = [];
  const st0 = tcpStats(k, A);
  const sbBefore = tcpStats(k, B);
  steps = sendCalls = recvCalls = 0;
  for (let r = 0; r < o.runs; r++) {
    const v0 = clock(k).now();
    const t0 = o.now();
    move(o.xfer);
    const s = (o.now() - t0) / 1e9;
    rates.push((o.xfer * 8) / s / 1e9);
    vt.push(clock(k).now() - v0);
    o.log?.(`  ${o.xfer / MiB} MiB in ${s.toFixed(2)} s: ${rates[r].toFixed(2)} Gbit/s`);
  }
  const st1 = tcpStats(k, A);
  const sb0 = tcpStats(k, B);
  const calls = { steps, sendCalls, recvCalls };
  // The same transfer read with recv() (a new Uint8Array per call), for comparison.
  copyOut = true;
  const recvRates: number[] = [];
  for (let r = 0; o.recvXfer > 0 && r < o.runs; r++) {
    const t0 = o.now();
    move(o.recvXfer);
    recvRates.push((o.recvXfer * 8) / ((o.now() - t0) / 1e9) / 1e9);
  }
  const segs = st1.sndpack - st0.sndpack;
  const rexmt = st1.sndrexmitpack - st0.sndrexmitpack;
  const afterWin = sb0.rcvpackafterwin - sbBefore.rcvpackafterwin;
  const acks = sb0.sndacks - sbBefore.sndacks;
  const mtu = ea.mtu ?? 1500;
  const gbps = median(rates);
  const bytes = o.xfer * o.runs;
  const size = (b: number) => (b >= GiB ? `${b / GiB} GiB` : `${b / MiB} MiB`);
  const recvNote = recvRates.length ? ` (read with recv(), a new array per call: ${round(median(recvRates))} Gbit/s, ${o.runs} x ${size(o.recvXfer)})` : "";
  const note = `${o.runs} x ${size(o.xfer)} after a ${size(o.warmup)} warm-up, median; send 64 KiB per call, recvInto a reused 64 KiB buffer${recvNote}, SO_RCVBUF 1 MiB at B, default SO_SNDBUF 32 KiB at A, MTU ${mtu}, virtual clock; ` +
    `${segs} new data segments (${Math.round(bytes / segs)} B each) + ${rexmt} retransmitted (B dropped ${afterWin} as beyond its window: rcvpackafterwin), ${round(((o.xfer * 8) / (gbps * 1e9) / (segs / o.runs)) * 1e6)} µs per segment all included; ` +
    `${acks} ACKs from B, ${calls.steps} clock steps, ${calls.sendCalls} send + ${calls.recvCalls} recvInto calls; virtual time ${(median(vt) / 1e3).toFixed(0)} ms/run`;
  cli.close();
  srv.close();
  lsn.close();
  k.shutdown();
  return { gbps, rates, ...(recvRates.length ? { recvGbps: median(recvRates) } : {}), note };
}
