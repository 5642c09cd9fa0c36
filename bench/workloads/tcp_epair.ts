// The tcp_epair_gbps workload: one TCP connection A -> B over an epair, every byte written
// into the kernel by the host (Socket.send, 64 KiB per call) and read out by it
// (Socket.recvInto into one reused 64 KiB buffer; or Socket.recv, a new array per call),
// the virtual clock stepped only when neither side can move, and every byte checked: a
// hash of everything send() accepted against one of everything read, a difference
// throwing. Platform-neutral (wavnet/core only, no Node built-in: the hash is computed
// here), so the tcp group runs it in Node and the browser group in a Web Worker of
// Chromium, and both figures come from the same loop, sizes, checks and hash.

import { Kernel, socket, SOL_SOCKET, SO, addAddress, tcpStats, type Interface, type Socket, type Vnet, type VirtualClock, type ModuleSource } from "../../host/core.js";
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

// ---------------------------------------------------------------------------------------
// The hash both ends keep of the stream. Written here rather than taken from node:zlib
// (crc32) so that a browser worker verifies with the very same code as Node. A CRC-32 in
// TypeScript (slicing-by-8) hashes about 1.2 GiB per CPU second here, a quarter of native
// zlib.crc32, and at tens of Gbit/s that would be most of the figure; this word hash is about
// as fast as zlib.crc32 (bench/drivers/stream_hash.ts; bench/README.md gives the figures).
//
// The stream is cut into 16-byte blocks (four 32-bit words, native byte order: both ends
// are in one process) at fixed stream offsets, however send() and recv() split it, and word
// i of each block feeds lane i: x = imul(rotl(x ^ w, 13), M), M odd. Every step is a
// bijection of x for a given word and of the word for a given x, so a stream differing in
// one 32-bit word (any flipped byte) leaves that lane's state different from then on: always
// caught. The lanes are sequential, so reordered chunks change them too; that, and any
// wider damage, escapes only by a digest collision: about 2^-32 for damage confined to one
// lane's words (like a CRC-32), about 2^-128 for damage reaching all four if the lanes mix
// well (a design estimate, not a proof). tests/bench_verify.test.ts checks all three. Four lanes rather than one let the
// CPU run four multiply chains side by side.

const M = [0x9e3779b1 | 0, 0x85ebca77 | 0, 0xc2b2ae3d | 0, 0x27d4eb2f | 0];
const [M0, M1, M2, M3] = M;

/** murmur3's 32-bit finaliser: a bijection, so it loses nothing. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

export class StreamHash {
  private readonly lane = new Int32Array([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344]);
  private len = 0;
  /** Bytes of the block not complete yet (a piece's length need not be a multiple of 16). */
  private readonly pend = new Uint8Array(16);
  private npend = 0;
  /** Where a piece whose blocks do not start 4-aligned in memory is copied to be read as words. */
  private scratch: Uint8Array | undefined;

  /** Hash the next piece of the stream. */
  update(b: Uint8Array): this {
    const n = b.length;
    let i = 0;
    this.len += n;
    if (this.npend > 0) {
      i = Math.min(16 - this.npend, n);
      this.pend.set(b.subarray(0, i), this.npend);
      this.npend += i;
      if (this.npend < 16) return this;
      this.blocks(this.pend, 0, 16);
      this.npend = 0;
    }
    const whole = (n - i) & ~15;
    if (((b.byteOffset + i) & 3) === 0) {
      if (whole > 0) this.blocks(b, i, whole);
      i += whole;
    } else {
      const s = (this.scratch ??= new Uint8Array(65536));
      for (const end = i + whole; i < end; ) {
        const m = Math.min(s.length, end - i);
        s.set(b.subarray(i, i + m));
        this.blocks(s, 0, m);
        i += m;
      }
    }
    if (i < n) {
      this.pend.set(b.subarray(i), 0);
      this.npend = n - i;
    }
    return this;
  }

  private blocks(b: Uint8Array, off: number, bytes: number): void {
    const w = new Int32Array(b.buffer, b.byteOffset + off, bytes >> 2);
    const l = this.lane;
    let a = l[0];
    let c = l[1];
    let d = l[2];
    let e = l[3];
    for (let j = 0; j < w.length; j += 4) {
      a ^= w[j];
      a = Math.imul((a << 13) | (a >>> 19), M0);
      c ^= w[j + 1];
      c = Math.imul((c << 13) | (c >>> 19), M1);
      d ^= w[j + 2];
      d = Math.imul((d << 13) | (d >>> 19), M2);
      e ^= w[j + 3];
      e = Math.imul((e << 13) | (e >>> 19), M3);
    }
    l[0] = a;
    l[1] = c;
    l[2] = d;
    l[3] = e;
  }

  /** The digest of everything so far (32 hex digits); the hash goes on unchanged. */
  digest(): string {
    const l = Int32Array.from(this.lane);
    if (this.npend > 0) {
      const last = new Uint8Array(16); // the tail block, zero-padded; the length tells it apart
      last.set(this.pend.subarray(0, this.npend));
      const w = new Int32Array(last.buffer);
      for (let k = 0; k < 4; k++) {
        const x = l[k] ^ w[k];
        l[k] = Math.imul((x << 13) | (x >>> 19), M[k]);
      }
    }
    l[0] ^= this.len >>> 0;
    l[1] ^= Math.floor(this.len / 2 ** 32);
    return Array.from(l, (x) => fmix32(x).toString(16).padStart(8, "0")).join("");
  }
}

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
export async function bulkPair(o: { offload: boolean; corruptAt?: number; seed?: number; source?: ModuleSource }): Promise<BulkPair> {
  const { k, A, B, ea, eb } = await hosts(o.seed ?? 1, o.source);
  if (!o.offload) for (const e of [ea, eb]) e.setCapEnable(0);
  const lsn = socket(k, B, "inet", "stream").bind("0.0.0.0", 5001).listen(8);
  lsn.setsockopt(SOL_SOCKET, SO.RCVBUF, MiB);
  const cli = socket(k, A, "inet", "stream");
  cli.connect("10.0.0.2", 5001);
  const srv = acceptOne(k, lsn);
  const src = new Uint8Array(CHUNK);
  for (let i = 0; i < CHUNK; i++) src[i] = (i * 131 + 7) & 0xff;
  const stamp = new DataView(src.buffer);
  const dst = new Uint8Array(CHUNK);
  const counters: BulkCounters = { steps: 0, sendCalls: 0, recvCalls: 0 };
  const what = `tcp bulk${o.offload ? "" : " (offload off)"}`;
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
  const p = await bulkPair({ offload: o.offload, ...(o.source ? { source: o.source } : {}) });
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
  const how = o.offload
    ? "checksum offload and TSO on between the vnets (epair default: large segments, checksums marked verified)"
    : "offloads OFF on both epair ends (setCapEnable(0): no TSO, MTU-sized segments, every checksum computed and checked in software)";
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
