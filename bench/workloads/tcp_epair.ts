// The tcp_epair_gbps workload: one TCP connection A -> B over an epair, every byte written
// into the kernel by the host (Socket.send, 64 KiB per call) and read out by it
// (Socket.recvInto into one reused 64 KiB buffer; or Socket.recv, a new array per call),
// the virtual clock stepped only when neither side can move, and every byte checked: a
// hash of everything send() accepted against one of everything read, a difference
// throwing. Platform-neutral (wavnet/core only, no Node built-in: the hash is computed
// here), so the tcp group runs it in Node and the browser group in a Web Worker of
// Chromium, and both figures come from the same loop, sizes, checks and hash.

import { Kernel, socket, SOL_SOCKET, SO, addAddress, addAddress6, tcpStats, type Interface, type Socket, type Vnet, type VirtualClock, type ModuleSource } from "../../host/core.js";
import { median, round, type NowNs } from "./common.js";

const GiB = 2 ** 30;
const MiB = 2 ** 20;
export const CHUNK = 65536;

/** Two vnets A (10.0.0.1, or fd00::1 with six) and B (10.0.0.2, fd00::2) on an epair, virtual clock. */
export async function hosts(seed = 1, source?: ModuleSource, six = false) {
  const k = await Kernel.boot({ config: ["if_epair", six ? "inet6" : "inet", "tcp"], clock: "virtual", seed, ...(source ? { source } : {}) });
  const A = k.createVnet("A");
  const B = k.createVnet("B");
  const [ea, eb] = k.epair(A, B);
  ea.setUp();
  eb.setUp();
  if (six) {
    addAddress6(k, ea, "fd00::1/64");
    addAddress6(k, eb, "fd00::2/64");
  } else {
    addAddress(k, ea, "10.0.0.1/24");
    addAddress(k, eb, "10.0.0.2/24");
  }
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

// The hash both ends keep of the stream: StreamHash, in host/lib/stream_hash.ts since the
// shell's iperf verifies its bytes with it too (re-exported here for the bench drivers and tests).
export { StreamHash } from "../../host/lib/stream_hash.js";
import { StreamHash } from "../../host/lib/stream_hash.js";

// ---------------------------------------------------------------------------------------
// The connection and its verified transfer.

export interface BulkCounters {
  /** Clock steps taken because neither side could move, send and read calls. */
  steps: number;
  sendCalls: number;
  recvCalls: number;
}

export interface BulkPair {
  k: Kernel;
  A: Vnet;
  B: Vnet;
  /** A's end of the epair (its counters show the frames' sizes). */
  ea: Interface;
  mtu: number;
  offload: boolean;
  counters: BulkCounters;
  /**
   * Move total bytes A -> B: send 64 KiB per call, read with recvInto (a reused buffer) or,
   * with copyOut, recv (a new array per call). With verify (the default) the sender's StreamHash
   * of every byte send() accepted is compared with the receiver's of every byte read, and a
   * difference throws; the sender stamps a counter into each chunk so the stream has no
   * period a misplaced segment could hide in.
   */
  move(total: number, o?: { copyOut?: boolean; verify?: boolean }): void;
  close(): void;
}

/**
 * One connection A -> B:5001 over the epair, B's SO_RCVBUF 1 MiB (set on the listener,
 * inherited), A's SO_SNDBUF the default 32 KiB (1 MiB measures about the same). offload
 * false turns checksum offload and TSO off on both epair ends first (ifconfig -rxcsum
 * -txcsum -tso): MTU-sized segments, checksums made and checked in software. corruptAt (for
 * proving the check) flips one byte of what B reads at that offset of the first move that reaches it.
 */
export async function bulkPair(o: { offload: boolean; corruptAt?: number; seed?: number; source?: ModuleSource; six?: boolean }): Promise<BulkPair> {
  const six = o.six ?? false;
  const { k, A, B, ea, eb } = await hosts(o.seed ?? 1, o.source, six);
  if (!o.offload) for (const e of [ea, eb]) e.setCapEnable(0);
  const fam = six ? "inet6" : "inet";
  const lsn = socket(k, B, fam, "stream").bind(six ? "::" : "0.0.0.0", 5001).listen(8);
  lsn.setsockopt(SOL_SOCKET, SO.RCVBUF, MiB);
  const cli = socket(k, A, fam, "stream");
  cli.connect(six ? "fd00::2" : "10.0.0.2", 5001);
  const srv = acceptOne(k, lsn);
  const src = new Uint8Array(CHUNK);
  for (let i = 0; i < CHUNK; i++) src[i] = (i * 131 + 7) & 0xff;
  const stamp = new DataView(src.buffer);
  const dst = new Uint8Array(CHUNK);
  const counters: BulkCounters = { steps: 0, sendCalls: 0, recvCalls: 0 };
  const what = `tcp${six ? "6" : ""} bulk${o.offload ? "" : " (offload off)"}`;
  let corruptAt = o.corruptAt ?? -1;
  const move = (total: number, mo: { copyOut?: boolean; verify?: boolean } = {}): void => {
    const verify = mo.verify ?? true;
    let sent = 0;
    let got = 0;
    const sendHash = verify ? new StreamHash() : undefined;
    const recvHash = verify ? new StreamHash() : undefined;
    let seq = 0;
    const read = (b: Uint8Array): void => {
      if (corruptAt >= got && corruptAt < got + b.length) {
        b[corruptAt - got] ^= 0x20; // the deliberate fault of bulkPair's corruptAt option
        corruptAt = -1;
      }
      recvHash?.update(b);
      got += b.length;
    };
    while (got < total) {
      let progress = false;
      while (sent < total) {
        stamp.setUint32(0, ++seq);
        stamp.setUint32(CHUNK >> 1, seq);
        const piece = sent + CHUNK <= total ? src : src.subarray(0, total - sent);
        const n = cli.send(piece);
        counters.sendCalls++;
        if (n <= 0) break;
        sendHash?.update(n === piece.length ? piece : piece.subarray(0, n));
        sent += n;
        progress = true;
      }
      if (mo.copyOut) {
        for (let r = srv.recv(CHUNK); r !== null && r.length > 0; r = srv.recv(CHUNK)) {
          counters.recvCalls++;
          read(r);
          progress = true;
        }
      } else {
        for (let n = srv.recvInto(dst); n !== null && n > 0; n = srv.recvInto(dst)) {
          counters.recvCalls++;
          read(n === CHUNK ? dst : dst.subarray(0, n));
          progress = true;
        }
      }
      if (!progress) {
        step(k);
        counters.steps++;
      }
    }
    if (got !== sent) throw new Error(`${what}: read ${got} bytes of the ${sent} sent`);
    if (sendHash && recvHash) {
      const r = recvHash.digest();
      const s = sendHash.digest();
      if (r !== s) throw new Error(`${what}: the ${got} bytes read are not the bytes sent: stream hash read ${r}, sent ${s}`);
    }
  };
  return {
    k, A, B, ea, mtu: ea.mtu ?? 1500, offload: o.offload, counters, move,
    close() {
      cli.close();
      srv.close();
      lsn.close();
      k.shutdown();
    },
  };
}

// ---------------------------------------------------------------------------------------
// The measurement both groups make.

export interface BulkOptions {
  /** Checksum offload and TSO on both epair ends (tcp_epair_gbps) or off (tcp_epair_nooffload_gbps). */
  offload: boolean;
  /** Bytes per timed run. */
  xfer: number;
  runs: number;
  /** Bytes moved first, untimed (JIT and Wasm tier-up, zones, cwnd open). */
  warmup: number;
  /** Bytes per run of the comparison read with recv(), verified too (0: none). */
  recvXfer: number;
  /** After each verified run the same run unverified, for what checking costs (the tcp group). */
  unverified?: boolean;
  now: NowNs;
  log?: (msg: string) => void;
  source?: ModuleSource;
  /** TCP over IPv6 (fd00::1 -> fd00::2, a kernel of if_epair, inet6, tcp): tcp6_epair_gbps. */
  six?: boolean;
}

export interface BulkResult {
  /** Median Gbit/s of the timed, verified runs (send + recvInto): the figure. */
  gbps: number;
  rates: number[];
  /** Median Gbit/s of the unverified runs, if any. */
  bareGbps?: number;
  /** Median Gbit/s of the recv() runs, if any. */
  recvGbps?: number;
  /** Everything the tcp group's note says. */
  note: string;
}

/**
 * o.runs verified runs of o.xfer bytes (with o.unverified each followed by the same run
 * unverified, alternating so load on the machine hits both alike): the figure is the
 * verified median. Then o.runs reads with recv() of o.recvXfer bytes, verified.
 */
export async function tcpEpairBulk(o: BulkOptions): Promise<BulkResult> {
  const p = await bulkPair({ offload: o.offload, six: o.six ?? false, ...(o.source ? { source: o.source } : {}) });
  const { k, A, B, counters } = p;
  const size = (b: number) => (b >= GiB ? `${b / GiB} GiB` : `${b / MiB} MiB`);
  p.move(o.warmup); // warm-up: JIT, zones, cwnd open
  const rates: number[] = [];
  const bare: number[] = [];
  const vt: number[] = [];
  const st0 = tcpStats(k, A);
  const sbBefore = tcpStats(k, B);
  const if0 = p.ea.counters();
  const calls: BulkCounters = { steps: 0, sendCalls: 0, recvCalls: 0 }; // of the verified runs
  for (let r = 0; r < o.runs; r++) {
    const c0 = { ...counters };
    const v0 = clock(k).now();
    const t0 = o.now();
    p.move(o.xfer);
    const s = (o.now() - t0) / 1e9;
    rates.push((o.xfer * 8) / s / 1e9);
    vt.push(clock(k).now() - v0);
    for (const c of ["steps", "sendCalls", "recvCalls"] as const) calls[c] += counters[c] - c0[c];
    let line = `  ${size(o.xfer)} verified in ${s.toFixed(2)} s: ${rates[r].toFixed(2)} Gbit/s`;
    if (o.unverified) {
      const t1 = o.now();
      p.move(o.xfer, { verify: false });
      bare.push((o.xfer * 8) / ((o.now() - t1) / 1e9) / 1e9);
      line += `; unverified ${bare[r].toFixed(2)} Gbit/s`;
    }
    o.log?.(line);
  }
  const st1 = tcpStats(k, A);
  const sb0 = tcpStats(k, B);
  const if1 = p.ea.counters();
  // The same transfer read with recv() (a new Uint8Array per call), verified too.
  const recvRates: number[] = [];
  for (let r = 0; o.recvXfer > 0 && r < o.runs; r++) {
    const t0 = o.now();
    p.move(o.recvXfer, { copyOut: true });
    recvRates.push((o.recvXfer * 8) / ((o.now() - t0) / 1e9) / 1e9);
  }
  // Segment counts cover the verified and the unverified runs alike.
  const transfers = o.runs * (o.unverified ? 2 : 1);
  const moved = transfers * o.xfer;
  const segs = st1.sndpack - st0.sndpack;
  const rexmt = st1.sndrexmitpack - st0.sndrexmitpack;
  const afterWin = sb0.rcvpackafterwin - sbBefore.rcvpackafterwin;
  const acks = sb0.sndacks - sbBefore.sndacks;
  const badsum = sb0.rcvbadsum - sbBefore.rcvbadsum;
  const gbps = median(rates);
  const how = (o.six ? "TCP over IPv6; " : "") + (o.offload
    ? "checksum offload and TSO on between the vnets (epair default: large segments, checksums marked verified)"
    : "offloads OFF on both epair ends (setCapEnable(0): no TSO, MTU-sized segments, every checksum computed and checked in software)");
  const verified = "VERIFIED: a hash (StreamHash, bench/workloads/tcp_epair.ts: four 32-bit multiply-rotate lanes, in TypeScript) of every byte sent against every byte read, per run";
  const cost = bare.length ? `; unverified the same runs measure ${round(median(bare))} Gbit/s, so checking costs ${Math.round((1 - gbps / median(bare)) * 100)}%` : "";
  const recvNote = recvRates.length ? ` (read with recv(), a new array per call, verified: ${round(median(recvRates))} Gbit/s, ${o.runs} x ${size(o.recvXfer)})` : "";
  const note = `${verified}${cost}; ` +
    `${o.runs} x ${size(o.xfer)} after a ${size(o.warmup)} warm-up, median${bare.length ? ", alternating with the unverified runs" : ""}; ${how}; send 64 KiB per call, recvInto a reused 64 KiB buffer${recvNote}, SO_RCVBUF 1 MiB at B, default SO_SNDBUF 32 KiB at A, MTU ${p.mtu}, virtual clock; ` +
    `A's epair end sent ${if1.opackets - if0.opackets} frames of ${Math.round((if1.obytes - if0.obytes) / (if1.opackets - if0.opackets))} B on average; ${segs} new data segments as tcpstat counts them (${Math.round(moved / segs)} B each) + ${rexmt} retransmitted (B dropped ${afterWin} as beyond its window: rcvpackafterwin; ${badsum} with a bad checksum), ${round(((o.xfer * 8) / (gbps * 1e9) / (segs / transfers)) * 1e6)} µs per segment all included; ` +
    `${acks} ACKs from B; per verified run ${Math.round(calls.steps / o.runs)} clock steps, ${Math.round(calls.sendCalls / o.runs)} send + ${Math.round(calls.recvCalls / o.runs)} recvInto calls; virtual time ${(median(vt) / 1e3).toFixed(0)} ms/run`;
  p.close();
  return { gbps, rates, ...(bare.length ? { bareGbps: median(bare) } : {}), ...(recvRates.length ? { recvGbps: median(recvRates) } : {}), note };
}
