// `NODE iperf -s` and `NODE iperf -c DEST`: throughput between two nodes, printed as iperf3
// prints it (interval lines, then the sender's and the receiver's summary; --json in
// iperf3's start/intervals/end shape). It is not iperf3's wire protocol: both ends run in
// this process, so the client reads the server's side of each stream (bytes, end time,
// UDP loss and jitter) from the server's record instead of a control connection.
//
// Time: the lab's clock. Under a virtual clock that is virtual time, the time link rates
// and delays are kept in: 10 s over a 50Mbit link report 50 Mbit/s however long the host
// took. A path with neither rate nor delay costs no virtual time at all, so when virtual
// time stands still while bytes move (under 1 ms of it in the first 250 ms of wall time)
// the run starts over on the wall clock and says so: there is nothing else to measure
// then but the host's own speed. Under a real clock it is the wall clock.
//
// TCP: every byte is verified: the sender hashes what send() accepted, the receiver what
// it read (StreamHash, host/lib/stream_hash.ts); a difference fails the command. UDP:
// datagrams carry iperf3's header (seconds, microseconds, sequence number); the receiver
// counts loss from the sequence numbers and keeps RFC 3550's jitter, as iperf3 does.

import type { Kernel, Vnet } from "../kern/kernel.js";
import { VirtualClock } from "../kern/clock.js";
import { ScheduleClock } from "../topology/clock.js";
import { socket, SocketError, SOL_SOCKET, SO, SS, type Socket } from "../sockets/socket.js";
import { listenStream, bindDgram, domainOf, sysError } from "../topology/sockets.js";
import { StreamHash } from "../lib/stream_hash.js";
import { turn } from "../lib/turn.js";
import { CommandError, getopt, number, rate as rateWord } from "./args.js";
import { CommandFailed } from "./commands.js";
import { resolveHost } from "./resolve.js";

export const IPERF_USAGE = "iperf -s [-p port] [--stop] | iperf -c host [-p port] [-t secs] [-u [-b rate] [-l len]] [-P n] [-R] [--json]";
const DEFAULT_PORT = 5201;
const CHUNK = 65536;
/** What a data connection starts with: magic, flags (1: reverse), seconds to send (reverse). */
const HELLO = 16;
const MAGIC = 0x57495046; // "WIPF"
const UDP_HEADER = 12;

interface IperfIo {
  kernel: Kernel;
  vnet: Vnet;
  node: string;
  argv: string[];
  signal?: AbortSignal;
}

// ---------------------------------------------------------------------------------------
// The lab's time, or the wall's when virtual time stands still.

class Clock {
  wall = false;
  constructor(readonly kernel: Kernel) {}
  get virtual(): boolean {
    return this.kernel.clock.kind === "virtual" && !this.wall;
  }
  /** µs. */
  now(): number {
    return this.wall ? performance.now() * 1000 : this.kernel.clock.now();
  }
  /**
   * Nothing could move: let the host's work run, then (virtual) jump to the next kernel
   * deadline, link schedule event or `until` (µs, lab time), whichever is first; (real, wall)
   * wait a little.
   */
  async idle(until: number): Promise<void> {
    await turn();
    const c = this.kernel.clock;
    if (!this.virtual) {
      await new Promise((r) => setTimeout(r, 1));
      return;
    }
    const vc = c as VirtualClock;
    const now = vc.now();
    if (until <= now) until = now + 100_000;
    const cand = [this.kernel.k.callout_next(), vc instanceof ScheduleClock ? vc.nextEvent() : -1, Math.ceil(until)].filter((x) => x >= 0);
    const next = Math.max(now, Math.min(...cand));
    if (vc.pacer) await vc.pacer(Math.max(next, now + 1));
    else vc.advanceTo(next);
  }
}

// ---------------------------------------------------------------------------------------
// The server: a TCP listener and a UDP socket on one port, in the background until --stop
// or the shell ends. Its records are what the client reads back.

interface TcpRecord {
  sock: Socket;
  hello: Uint8Array;
  helloLen: number;
  reverse: boolean;
  /** Receiving: bytes after the hello, hash, first and last byte's time; eof when the FIN came. */
  bytes: number;
  hash: StreamHash;
  eof: boolean;
  lastUs: number;
  /** Reverse: sending until this time (lab µs), then FIN. */
  sendUntil: number;
  sendDone: boolean;
  chunk: Uint8Array;
  off: number;
  counter: number;
  error?: string;
}

interface UdpRecord {
  packets: number;
  bytes: number;
  maxSeq: number;
  outOfOrder: number;
  jitterUs: number;
  prevTransit?: number;
  lastUs: number;
}

export class IperfServer {
  readonly tcp = new Map<string, TcpRecord>();
  readonly udp = new Map<string, UdpRecord>();
  /** Whose time the records are kept in: the running client's, so that both ends agree. */
  clock: Clock;
  private readonly buf = new Uint8Array(CHUNK);

  /** lsns and dgrams: one of each per address family the kernel has. */
  constructor(readonly kernel: Kernel, readonly vnet: Vnet, readonly port: number, readonly lsns: Socket[], readonly dgrams: Socket[]) {
    this.clock = new Clock(kernel);
    for (const l of lsns) l.on("acceptable", () => this.accept(l));
    for (const d of dgrams) d.on("readable", () => this.pumpUdp());
  }

  private accept(lsn: Socket): void {
    for (;;) {
      let s: Socket | null;
      try {
        s = lsn.accept();
      } catch {
        return;
      }
      if (!s) return;
      const peer = s.remoteAddress() as { address: string; port: number } | undefined;
      const r: TcpRecord = {
        sock: s, hello: new Uint8Array(HELLO), helloLen: 0, reverse: false, bytes: 0, hash: new StreamHash(), eof: false, lastUs: 0,
        sendUntil: 0, sendDone: false, chunk: new Uint8Array(CHUNK), off: CHUNK, counter: 0,
      };
      this.tcp.set(`${peer?.address}:${peer?.port}`, r);
      const sock = s;
      sock.on("readable", () => this.pumpTcp(r));
      sock.on("writable", () => this.pumpTcp(r));
      sock.on("error", (e: Error) => (r.error ??= sysError("read", e).message));
      this.pumpTcp(r);
    }
  }

  /** Move what can move on one stream; the number of bytes moved. */
  pumpTcp(r: TcpRecord): number {
    if (r.sock.closed) return 0;
    let moved = 0;
    try {
      while (r.helloLen < HELLO) {
        const n = r.sock.recvInto(r.hello.subarray(r.helloLen));
        if (n === null || n === 0) return moved;
        r.helloLen += n;
        moved += n;
        if (r.helloLen === HELLO) {
          const dv = new DataView(r.hello.buffer);
          if (dv.getUint32(0) !== MAGIC) {
            // Not an iperf client (a curl to the port, say): drop it and forget it.
            r.sock.close();
            for (const [k, x] of this.tcp) if (x === r) this.tcp.delete(k);
            return moved;
          }
          r.reverse = (dv.getUint8(4) & 1) !== 0;
          r.sendUntil = this.clock.now() + dv.getFloat64(8) * 1e6;
        }
      }
      if (r.reverse) return moved + this.sendTcp(r);
      while (!r.eof) {
        const n = r.sock.recvInto(this.buf);
        if (n === null) break;
        if (n === 0) {
          r.eof = true;
          r.sock.shutdown("write");
          break;
        }
        r.hash.update(this.buf.subarray(0, n));
        r.bytes += n;
        r.lastUs = this.clock.now();
        moved += n;
      }
    } catch (e) {
      r.error ??= sysError("read", e).message;
    }
    return moved;
  }

  private sendTcp(r: TcpRecord): number {
    let moved = 0;
    if (r.sendDone) return 0;
    if (this.clock.now() >= r.sendUntil) {
      r.sendDone = true;
      r.lastUs = this.clock.now();
      r.sock.shutdown("write");
      return 0;
    }
    moved += fill(r);
    r.bytes += moved;
    return moved;
  }

  pumpUdp(): number {
    let moved = 0;
    for (const dgram of this.dgrams) moved += this.pumpDgram(dgram);
    return moved;
  }

  private pumpDgram(dgram: Socket): number {
    let moved = 0;
    for (;;) {
      let d;
      try {
        d = dgram.recvfrom(CHUNK);
      } catch {
        return moved;
      }
      if (!d) return moved;
      moved += d.data.length;
      const from = d.address as { address: string; port: number } | undefined;
      const key = `${from?.address}:${from?.port}`;
      let u = this.udp.get(key);
      if (!u) this.udp.set(key, (u = { packets: 0, bytes: 0, maxSeq: -1, outOfOrder: 0, jitterUs: 0, lastUs: 0 }));
      if (d.data.length < UDP_HEADER) continue;
      const dv = new DataView(d.data.buffer, d.data.byteOffset, UDP_HEADER);
      const sentUs = dv.getUint32(0) * 1e6 + dv.getUint32(4);
      const seq = dv.getUint32(8);
      const now = this.clock.now();
      u.packets++;
      u.bytes += d.data.length;
      u.lastUs = now;
      if (seq < u.maxSeq) u.outOfOrder++;
      else u.maxSeq = seq;
      // RFC 3550 6.4.1: J += (|D| - J) / 16, D the change in transit time.
      const transit = now - sentUs;
      if (u.prevTransit !== undefined) u.jitterUs += (Math.abs(transit - u.prevTransit) - u.jitterUs) / 16;
      u.prevTransit = transit;
    }
  }

  pumpAll(): number {
    let moved = this.pumpUdp();
    for (const r of this.tcp.values()) moved += this.pumpTcp(r);
    return moved;
  }

  close(): void {
    for (const r of this.tcp.values()) r.sock.close();
    this.tcp.clear();
    for (const l of this.lsns) l.close();
    for (const d of this.dgrams) d.close();
  }
}

/** Send as much of the counter-stamped pattern as the socket takes; bytes sent (hashed by the caller's hash). */
function fill(r: { sock: Socket; chunk: Uint8Array; off: number; counter: number; hash: StreamHash }): number {
  let moved = 0;
  for (;;) {
    if (r.off >= r.chunk.length) {
      // Each chunk stamped with its number: the stream has no period a misplaced segment could hide in.
      new DataView(r.chunk.buffer).setFloat64(0, r.counter++);
      r.off = 0;
    }
    const part = r.off === 0 ? r.chunk : r.chunk.subarray(r.off);
    const n = r.sock.send(part);
    if (n <= 0) return moved;
    r.hash.update(part.subarray(0, n));
    r.off += n;
    moved += n;
  }
}

const servers = new WeakMap<Kernel, Map<string, IperfServer>>();

function serversOf(kernel: Kernel): Map<string, IperfServer> {
  let m = servers.get(kernel);
  if (!m) servers.set(kernel, (m = new Map()));
  return m;
}

/** Stop every iperf server of a kernel (the shell's teardown). */
export function closeIperfServers(kernel: Kernel): void {
  const m = servers.get(kernel);
  if (!m) return;
  for (const s of m.values()) s.close();
  m.clear();
}

// ---------------------------------------------------------------------------------------
// Numbers as iperf3 prints them: three significant figures, bytes in powers of 1024, bits
// in powers of 1000.

function num3(v: number): string {
  return v < 9.995 ? v.toFixed(2) : v < 99.95 ? v.toFixed(1) : v.toFixed(0);
}

export function bytesText(b: number): string {
  const [v, u] = b >= 2 ** 30 ? [b / 2 ** 30, "GBytes"] : b >= 2 ** 20 ? [b / 2 ** 20, "MBytes"] : b >= 1024 ? [b / 1024, "KBytes"] : [b, "Bytes"];
  return `${num3(v).padStart(4)} ${u}`;
}

export function bitsText(bps: number): string {
  const [v, u] = bps >= 1e9 ? [bps / 1e9, "Gbits/sec"] : bps >= 1e6 ? [bps / 1e6, "Mbits/sec"] : bps >= 1e3 ? [bps / 1e3, "Kbits/sec"] : [bps, "bits/sec"];
  return `${num3(v).padStart(4)} ${u}`;
}

function span(a: number, b: number): string {
  return `${a.toFixed(2).padStart(6)}-${b.toFixed(2).padEnd(6)} sec`;
}

function id(n: number | "SUM"): string {
  return n === "SUM" ? "[SUM]" : `[${String(n).padStart(3)}]`;
}

/** iperf's -b: a number with K, M, G or T (powers of 1000, bits), or a rate word (10Mbit). */
function bandwidth(word: string): number {
  const m = /^(\d+\.?\d*|\.\d+)([kKmMgGtT])?$/.exec(word);
  if (m) return Math.round(Number(m[1]) * ({ k: 1e3, m: 1e6, g: 1e9, t: 1e12 }[m[2]?.toLowerCase() as "k"] ?? 1));
  return rateWord("iperf", "-b (rate)", word);
}

// ---------------------------------------------------------------------------------------
// The client.

interface Interval {
  start: number;
  end: number;
  bytes: number[];
  packets: number[];
}

interface StreamEnd {
  sender: { seconds: number; bytes: number };
  receiver: { seconds: number; bytes: number };
  udp?: { jitterMs: number; lost: number; packets: number; outOfOrder: number };
  local: { host: string; port: number };
}

interface ClientStream {
  sock: Socket;
  /** This end's bytes (sent, or received with -R). */
  bytes: number;
  hash: StreamHash;
  chunk: Uint8Array;
  off: number;
  counter: number;
  eof: boolean;
  lastUs: number;
  key: string;
  local: { host: string; port: number };
  packets: number;
  error?: string;
}

export async function iperf(c: IperfIo): Promise<string> {
  const json = c.argv.includes("--json") || c.argv.includes("-J");
  const stop = c.argv.includes("--stop");
  const argv = c.argv.filter((w) => w !== "--json" && w !== "-J" && w !== "--stop");
  const { opts, args } = getopt("iperf", argv, "sc:p:t:ub:l:P:R", IPERF_USAGE);
  if (args.length) throw new CommandError(`iperf: unexpected ${JSON.stringify(args[0])}; usage: ${IPERF_USAGE}`);
  const o = (k: string) => opts.get(k) as string | undefined;
  const port = o("p") !== undefined ? number("iperf", "-p (port)", o("p")!, 1, 65535) : DEFAULT_PORT;
  if (opts.has("s") === opts.has("c")) throw new CommandError(`iperf: say -s (server) or -c HOST (client); usage: ${IPERF_USAGE}`);
  if (opts.has("s")) {
    for (const k of ["t", "u", "b", "l", "P", "R"]) if (opts.has(k)) throw new CommandError(`iperf: -${k} is a client option; usage: ${IPERF_USAGE}`);
    return server(c, port, stop);
  }
  if (stop) throw new CommandError("iperf: --stop is for a server (iperf -s --stop)");
  const udp = opts.has("u");
  if (!udp && (opts.has("b") || opts.has("l"))) throw new CommandError("iperf: -b and -l are for UDP (-u)");
  if (udp && opts.has("R")) throw new CommandError("iperf: -R with -u is not supported here (TCP only)");
  const seconds = o("t") !== undefined ? number("iperf", "-t (seconds)", o("t")!, 0.1, 86400, false) : 10;
  const streams = o("P") !== undefined ? number("iperf", "-P (parallel streams)", o("P")!, 1, 128) : 1;
  const dst = resolveHost({ kernel: c.kernel, vnet: c.vnet, cmd: "iperf" }, o("c")!).address;
  const bps = udp ? (o("b") !== undefined ? bandwidth(o("b")!) : 1e6) : 0;
  if (udp && bps <= 0) throw new CommandError("iperf: -b must be above 0");
  const len = udp ? (o("l") !== undefined ? number("iperf", "-l (datagram bytes)", o("l")!, UDP_HEADER, 65507) : dst.includes(":") ? 1440 : 1460) : CHUNK;
  const srv = [...serversOf(c.kernel).values()].find((s) => s.port === port && s.vnet.alive && ownsAddress(s, dst));
  if (!srv) throw new CommandError(`iperf: connect ECONNREFUSED ${dst}:${port}: no iperf server there (start one: NODE iperf -s${port === DEFAULT_PORT ? "" : ` -p ${port}`})`);
  return client(c, { dst, port, seconds, streams, udp, bps, len, reverse: opts.has("R"), json }, srv);
}

function ownsAddress(s: IperfServer, address: string): boolean {
  // The server listens on any address of its node: is `address` one of them?
  try {
    const probe = socket(s.kernel, s.vnet, domainOf(address), "dgram");
    try {
      probe.bind(address, 0);
      return true;
    } finally {
      probe.close();
    }
  } catch {
    return false;
  }
}

function server(c: IperfIo, port: number, stop: boolean): string {
  const key = `${c.node}:${port}`;
  const all = serversOf(c.kernel);
  const had = all.get(key);
  if (stop) {
    if (!had) throw new CommandError(`iperf: no server on ${c.node} port ${port}`);
    had.close();
    all.delete(key);
    return `iperf server on ${c.node} port ${port} stopped`;
  }
  if (had) throw new CommandError(`iperf: a server is already listening on ${c.node} port ${port} (stop it: iperf -s --stop${port === DEFAULT_PORT ? "" : ` -p ${port}`})`);
  const anys = [["inet", "0.0.0.0"], ["inet6", "::"]].filter(([m]) => c.kernel.kldstat().some((x) => x.name === m)).map(([, a]) => a);
  const lsns: Socket[] = [];
  const dgrams: Socket[] = [];
  try {
    for (const any of anys) {
      lsns.push(listenStream(c.kernel, c.vnet, any, port));
      dgrams.push(bindDgram(c.kernel, c.vnet, any, port));
    }
  } catch (e) {
    for (const x of [...lsns, ...dgrams]) x.close();
    throw new CommandError(`iperf: ${(e as Error).message}`);
  }
  all.set(key, new IperfServer(c.kernel, c.vnet, port, lsns, dgrams));
  return `-----------------------------------------------------------\nServer listening on ${port} (TCP and UDP, in the background; iperf -s --stop ends it)\n-----------------------------------------------------------`;
}

interface ClientOpts {
  dst: string;
  port: number;
  seconds: number;
  streams: number;
  udp: boolean;
  bps: number;
  len: number;
  reverse: boolean;
  json: boolean;
}

async function connectAll(c: IperfIo, o: ClientOpts, clock: Clock): Promise<ClientStream[]> {
  const out: ClientStream[] = [];
  for (let i = 0; i < o.streams; i++) {
    const s = socket(c.kernel, c.vnet, domainOf(o.dst), o.udp ? "dgram" : "stream");
    try {
      s.connect(o.dst, o.port);
    } catch (e) {
      for (const x of out) x.sock.close();
      s.close();
      throw new CommandError(`iperf: ${sysError("connect", e, o.dst, o.port).message}`);
    }
    out.push({ sock: s, bytes: 0, hash: new StreamHash(), chunk: new Uint8Array(o.udp ? o.len : CHUNK), off: o.udp ? 0 : CHUNK, counter: 0, eof: false, lastUs: 0, key: "", local: { host: "", port: 0 }, packets: 0 });
  }
  if (o.udp) {
    for (const x of out) setLocal(x);
    return out;
  }
  // Wait for every connection (3 s of lab time at most, as a connect's first SYN timeout).
  const deadline = clock.now() + 3_000_000;
  for (;;) {
    const states = out.map((x) => connState(x.sock));
    const bad = states.findIndex((st) => st !== "connecting" && st !== "connected");
    if (bad >= 0) {
      for (const x of out) x.sock.close();
      throw new CommandError(`iperf: connect ${states[bad]} ${o.dst}:${o.port}`);
    }
    if (states.every((st) => st === "connected")) break;
    if (clock.now() >= deadline) {
      for (const x of out) x.sock.close();
      throw new CommandError(`iperf: connect ETIMEDOUT ${o.dst}:${o.port} (no answer in 3 s)`);
    }
    if (c.signal?.aborted) {
      for (const x of out) x.sock.close();
      throw new CommandError("iperf: interrupted while connecting");
    }
    await clock.idle(deadline);
  }
  for (const x of out) {
    setLocal(x);
    const hello = new Uint8Array(HELLO);
    const dv = new DataView(hello.buffer);
    dv.setUint32(0, MAGIC);
    dv.setUint8(4, o.reverse ? 1 : 0);
    dv.setFloat64(8, o.seconds);
    if (x.sock.send(hello) !== HELLO) throw new CommandError("iperf: the connection took less than its 16-byte hello");
  }
  return out;
}

function setLocal(x: ClientStream): void {
  const a = x.sock.address() as { address: string; port: number };
  x.local = { host: a.address, port: a.port };
  x.key = `${a.address}:${a.port}`;
}

/** "connected", "connecting", or the errno name of a connect that failed. */
function connState(s: Socket): string {
  if (s.closed) return "ECONNABORTED";
  const st = s.info().state;
  if (st & SS.ISCONNECTED) return "connected";
  if (st & SS.ISCONNECTING) return "connecting";
  const err = s.getsockopt(SOL_SOCKET, SO.ERROR);
  return err ? new SocketError("connect", -err).code : "ECONNREFUSED";
}

async function client(c: IperfIo, o: ClientOpts, srv: IperfServer): Promise<string> {
  const clock = new Clock(c.kernel);
  srv.clock = clock;
  const lines: string[] = [`Connecting to host ${o.dst}, port ${o.port}`];
  if (o.reverse) lines.push(`Reverse mode, remote host ${o.dst} is sending`);
  const streams = await connectAll(c, o, clock);
  streams.forEach((x, i) => lines.push(`${id(i + 1)} local ${x.local.host} port ${x.local.port} connected to ${o.dst} port ${o.port}`));
  const recordOf = (x: ClientStream) => srv.tcp.get(x.key);
  const udpOf = (x: ClientStream) => srv.udp.get(x.key);
  const buf = new Uint8Array(CHUNK);

  let start = clock.now();
  const wallStart = performance.now();
  let intervals: Interval[] = [];
  let cur: Interval = { start: 0, end: 0, bytes: streams.map(() => 0), packets: streams.map(() => 0) };
  let nextReport = start + 1e6;
  let endAt = start + o.seconds * 1e6;
  let sending = true;
  let drainUntil = Infinity;
  let interrupted = false;
  let note: string | undefined;
  // A restart on the wall clock: each stream's figures count from the sender's offset then
  // (so that bytes in flight at that moment count at neither end).
  const offset = new Map<string, number>();

  const pump = (): number => {
    let moved = 0;
    const now = clock.now();
    streams.forEach((x, i) => {
      if (x.sock.closed) return;
      try {
        if (o.udp) {
          if (!sending) return;
          // Paced: datagram k leaves at start + k * len * 8 / rate.
          const due = Math.floor(((now - start) * o.bps) / (o.len * 8 * 1e6)) + 1;
          while (x.packets < due) {
            const dv = new DataView(x.chunk.buffer);
            const t = c.kernel.clock.now();
            dv.setUint32(0, Math.floor(t / 1e6));
            dv.setUint32(4, Math.floor(t % 1e6));
            dv.setUint32(8, x.packets);
            try {
              x.sock.send(x.chunk);
            } catch {
              // ENOBUFS and the like: the datagram is lost, as iperf3 counts it
            }
            x.packets++;
            x.bytes += o.len;
            cur.bytes[i] += o.len;
            cur.packets[i]++;
            moved += o.len;
          }
        } else if (!o.reverse) {
          if (!sending || x.eof) return;
          const n = fill(x);
          x.bytes += n;
          cur.bytes[i] += n;
          moved += n;
        } else {
          while (!x.eof) {
            const n = x.sock.recvInto(buf);
            if (n === null) break;
            if (n === 0) {
              x.eof = true;
              x.lastUs = clock.now();
              break;
            }
            x.hash.update(buf.subarray(0, n));
            x.bytes += n;
            cur.bytes[i] += n;
            moved += n;
          }
        }
      } catch (e) {
        x.error ??= sysError(o.reverse ? "read" : "write", e).message;
        x.eof = true;
      }
    });
    moved += srv.pumpAll();
    return moved;
  };

  const done = (): boolean => {
    if (sending) return false;
    if (o.udp) return streams.every((x) => (udpOf(x)?.packets ?? 0) >= x.packets) || clock.now() >= drainUntil;
    if (o.reverse) return streams.every((x) => x.eof || x.sock.closed);
    return streams.every((x) => x.error !== undefined || recordOf(x)?.eof === true || recordOf(x)?.error !== undefined);
  };

  const stopSending = () => {
    sending = false;
    drainUntil = clock.now() + 1_000_000;
    if (!o.udp && !o.reverse) for (const x of streams) if (!x.sock.closed) x.sock.shutdown("write");
  };

  let lastTurn = performance.now();
  for (;;) {
    const moved = pump();
    const now = clock.now();
    while (now >= nextReport && sending) {
      cur.start = intervals.length;
      cur.end = cur.start + 1;
      intervals.push(cur);
      cur = { start: 0, end: 0, bytes: streams.map(() => 0), packets: streams.map(() => 0) };
      nextReport += 1e6;
    }
    // Virtual time that stands still while bytes move: start over on the wall clock.
    if (!o.udp && clock.virtual && performance.now() - wallStart > 250 && now - start < 1000 && streams.some((x) => x.bytes > 0)) {
      clock.wall = true;
      note = "virtual time stood still while the bytes moved (no link rate or delay on the path): these figures are wall time, the host's own speed";
      start = clock.now();
      nextReport = start + 1e6;
      endAt = start + o.seconds * 1e6;
      intervals = [];
      cur = { start: 0, end: 0, bytes: streams.map(() => 0), packets: streams.map(() => 0) };
      for (const x of streams) {
        const r = recordOf(x);
        offset.set(x.key, o.reverse ? (r?.bytes ?? 0) : x.bytes);
        if (r?.reverse) r.sendUntil = endAt;
      }
      continue;
    }
    if (sending && (now >= endAt || c.signal?.aborted || streams.every((x) => x.eof))) {
      if (c.signal?.aborted) interrupted = true;
      // A last interval shorter than a second (-t 2.5, or ^C), reported as iperf3 does.
      const last = (Math.min(now, endAt) - start) / 1e6;
      if (last > intervals.length + 1e-6) {
        cur.start = intervals.length;
        cur.end = last;
        intervals.push(cur);
      }
      stopSending();
    }
    if (done()) break;
    if (!sending && clock.now() > drainUntil + 30_000_000) break;
    if (moved === 0) await clock.idle(Math.min(sending ? Math.min(nextReport, endAt, o.udp ? nextUdp(streams, start, o) : Infinity) : drainUntil));
    else if (performance.now() - lastTurn > 5) {
      await turn();
      lastTurn = performance.now();
    }
  }
  const senderEnd = Math.min(clock.now(), endAt);
  const seconds = (senderEnd - start) / 1e6;

  // Summaries: this end's and the other end's record.
  const ends: StreamEnd[] = streams.map((x) => {
    const r = recordOf(x);
    const u = udpOf(x);
    const b0 = offset.get(x.key) ?? 0;
    if (o.udp) {
      const got = (u?.packets ?? 0);
      return {
        sender: { seconds, bytes: x.bytes },
        receiver: { seconds: Math.max(0, ((u?.lastUs ?? start) - start) / 1e6), bytes: (u?.bytes ?? 0) - b0 },
        udp: { jitterMs: (u?.jitterUs ?? 0) / 1000, lost: Math.max(0, x.packets - got), packets: x.packets, outOfOrder: u?.outOfOrder ?? 0 },
        local: x.local,
      };
    }
    if (o.reverse) {
      return {
        sender: { seconds: Math.max(0, ((r?.lastUs ?? senderEnd) - start) / 1e6), bytes: (r?.bytes ?? 0) - b0 },
        receiver: { seconds: Math.max(0, ((x.lastUs || clock.now()) - start) / 1e6), bytes: x.bytes - b0 },
        local: x.local,
      };
    }
    return {
      sender: { seconds, bytes: x.bytes - b0 },
      receiver: { seconds: Math.max(0, ((r?.lastUs ?? start) - start) / 1e6), bytes: (r?.bytes ?? 0) - b0 },
      local: x.local,
    };
  });

  // Verification: the whole stream of each connection, hashed at both ends.
  const problems: string[] = [];
  streams.forEach((x, i) => {
    if (x.error) problems.push(`stream ${i + 1}: ${x.error}`);
    if (o.udp) return;
    const r = recordOf(x);
    if (!r) return void problems.push(`stream ${i + 1}: the server never saw the connection`);
    if (r.error) problems.push(`stream ${i + 1}: server: ${r.error}`);
    const [tx, rx] = o.reverse ? [r.hash, x.hash] : [x.hash, r.hash];
    const complete = o.reverse ? x.eof : r.eof;
    if (!complete) problems.push(`stream ${i + 1}: the receiver did not see the end of the stream`);
    else if (tx.digest() !== rx.digest()) problems.push(`stream ${i + 1}: the bytes received differ from the bytes sent (hash ${rx.digest()} != ${tx.digest()})`);
  });
  for (const x of streams) {
    srv.tcp.get(x.key)?.sock.close();
    srv.tcp.delete(x.key);
    srv.udp.delete(x.key);
    x.sock.close();
  }

  srv.clock = new Clock(c.kernel);

  const clockName = clock.wall || c.kernel.clock.kind === "real" ? "wall" : "virtual";
  let text: string;
  if (o.json) text = JSON.stringify(jsonReport(c, o, streams, intervals, ends, clockName, note, problems, interrupted), null, 2);
  else {
    lines.push(...textReport(o, intervals, ends, interrupted));
    if (note) lines.push(`note: ${note}`);
    lines.push(`(${clockName} time${problems.length || o.udp ? "" : "; every byte verified"})`);
    if (!problems.length) lines.push("", "iperf Done.");
    text = lines.join("\n");
  }
  if (problems.length) throw new CommandFailed(`iperf: ${problems[0]}`, text);
  return text;
}

function nextUdp(streams: ClientStream[], start: number, o: ClientOpts): number {
  const k = Math.min(...streams.map((x) => x.packets));
  return start + (k * o.len * 8 * 1e6) / o.bps;
}

const SEPARATOR = "- - - - - - - - - - - - - - - - - - - - - - - - -";

function textReport(o: ClientOpts, intervals: Interval[], ends: StreamEnd[], interrupted: boolean): string[] {
  const out: string[] = [];
  const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);
  const many = ends.length > 1;
  out.push(o.udp && !o.reverse ? "[ ID] Interval           Transfer     Bitrate         Total Datagrams" : "[ ID] Interval           Transfer     Bitrate");
  for (const iv of intervals) {
    const secs = iv.end - iv.start;
    iv.bytes.forEach((b, i) => {
      const base = `${id(i + 1)} ${span(iv.start, iv.end)}  ${bytesText(b)}  ${bitsText(secs > 0 ? (b * 8) / secs : 0)}`;
      out.push(o.udp ? `${base}  ${iv.packets[i]}` : base);
    });
    if (many) {
      const b = sum(iv.bytes);
      const base = `${id("SUM")} ${span(iv.start, iv.end)}  ${bytesText(b)}  ${bitsText(secs > 0 ? (b * 8) / secs : 0)}`;
      out.push(o.udp ? `${base}  ${sum(iv.packets)}` : base);
      out.push(SEPARATOR);
    }
  }
  if (out[out.length - 1] !== SEPARATOR) out.push(SEPARATOR);
  if (interrupted) out.push("(interrupted: the summary covers the time until ^C)");
  const rateOf = (b: number, s: number) => bitsText(s > 0 ? (b * 8) / s : 0);
  if (o.udp) {
    out.push("[ ID] Interval           Transfer     Bitrate         Jitter    Lost/Total Datagrams");
    ends.forEach((e, i) => {
      const u = e.udp!;
      const pct = u.packets ? (100 * u.lost) / u.packets : 0;
      out.push(`${id(i + 1)} ${span(0, e.sender.seconds)}  ${bytesText(e.sender.bytes)}  ${rateOf(e.sender.bytes, e.sender.seconds)}  ${(0).toFixed(3)} ms  0/${u.packets} (0%)  sender`);
      out.push(`${id(i + 1)} ${span(0, e.receiver.seconds)}  ${bytesText(e.receiver.bytes)}  ${rateOf(e.receiver.bytes, e.receiver.seconds)}  ${u.jitterMs.toFixed(3)} ms  ${u.lost}/${u.packets} (${pctText(pct)}%)  receiver`);
    });
    if (many) {
      const s = ends.reduce((a, e) => ({ b: a.b + e.receiver.bytes, l: a.l + e.udp!.lost, p: a.p + e.udp!.packets, j: a.j + e.udp!.jitterMs / ends.length, sec: Math.max(a.sec, e.receiver.seconds) }), { b: 0, l: 0, p: 0, j: 0, sec: 0 });
      out.push(`${id("SUM")} ${span(0, s.sec)}  ${bytesText(s.b)}  ${rateOf(s.b, s.sec)}  ${s.j.toFixed(3)} ms  ${s.l}/${s.p} (${pctText(s.p ? (100 * s.l) / s.p : 0)}%)  receiver`);
    }
    return out;
  }
  out.push("[ ID] Interval           Transfer     Bitrate");
  ends.forEach((e, i) => {
    out.push(`${id(i + 1)} ${span(0, e.sender.seconds)}  ${bytesText(e.sender.bytes)}  ${rateOf(e.sender.bytes, e.sender.seconds)}                  sender`);
    out.push(`${id(i + 1)} ${span(0, e.receiver.seconds)}  ${bytesText(e.receiver.bytes)}  ${rateOf(e.receiver.bytes, e.receiver.seconds)}                  receiver`);
  });
  if (many) {
    const tx = ends.reduce((a, e) => ({ b: a.b + e.sender.bytes, s: Math.max(a.s, e.sender.seconds) }), { b: 0, s: 0 });
    const rx = ends.reduce((a, e) => ({ b: a.b + e.receiver.bytes, s: Math.max(a.s, e.receiver.seconds) }), { b: 0, s: 0 });
    out.push(`${id("SUM")} ${span(0, tx.s)}  ${bytesText(tx.b)}  ${rateOf(tx.b, tx.s)}                  sender`);
    out.push(`${id("SUM")} ${span(0, rx.s)}  ${bytesText(rx.b)}  ${rateOf(rx.b, rx.s)}                  receiver`);
  }
  return out;
}

function pctText(p: number): string {
  // iperf3's %.2g
  return p === 0 ? "0" : Number(p.toPrecision(2)).toString();
}

function jsonReport(c: IperfIo, o: ClientOpts, streams: ClientStream[], intervals: Interval[], ends: StreamEnd[], clock: string, note: string | undefined, problems: string[], interrupted: boolean): unknown {
  const rec = (socket: number, start: number, end: number, bytes: number, sender: boolean, extra: Record<string, unknown> = {}) => ({
    socket, start, end, seconds: end - start, bytes, bits_per_second: end > start ? (bytes * 8) / (end - start) : 0, ...extra, omitted: false, sender,
  });
  const senderHere = !o.reverse;
  const sumOf = (list: ReturnType<typeof rec>[], extra: Record<string, unknown> = {}) => {
    const bytes = list.reduce((a, x) => a + x.bytes, 0);
    const end = list.reduce((a, x) => Math.max(a, x.end), 0);
    const start = list.length ? list[0].start : 0;
    return { start, end, seconds: end - start, bytes, bits_per_second: end > start ? (bytes * 8) / (end - start) : 0, ...extra, sender: list[0]?.sender ?? senderHere };
  };
  const ivs = intervals.map((iv) => {
    const ss = iv.bytes.map((b, i) => rec(i + 1, iv.start, iv.end, b, senderHere, o.udp ? { packets: iv.packets[i] } : {}));
    return { streams: ss, sum: sumOf(ss, o.udp ? { packets: iv.packets.reduce((a, b) => a + b, 0) } : {}) };
  });
  const endStreams = ends.map((e, i) => {
    if (o.udp) {
      const u = e.udp!;
      return {
        udp: rec(i + 1, 0, e.receiver.seconds, e.receiver.bytes, true, {
          jitter_ms: u.jitterMs, lost_packets: u.lost, packets: u.packets, lost_percent: u.packets ? (100 * u.lost) / u.packets : 0, out_of_order: u.outOfOrder,
        }),
      };
    }
    return { sender: rec(i + 1, 0, e.sender.seconds, e.sender.bytes, true), receiver: rec(i + 1, 0, e.receiver.seconds, e.receiver.bytes, false) };
  });
  const sent = ends.map((e, i) => rec(i + 1, 0, e.sender.seconds, e.sender.bytes, true));
  const got = ends.map((e, i) => rec(i + 1, 0, e.receiver.seconds, e.receiver.bytes, false));
  const end: Record<string, unknown> = { streams: endStreams, sum_sent: sumOf(sent), sum_received: sumOf(got) };
  if (o.udp) {
    const lost = ends.reduce((a, e) => a + e.udp!.lost, 0);
    const packets = ends.reduce((a, e) => a + e.udp!.packets, 0);
    end.sum = { ...sumOf(got), jitter_ms: ends.reduce((a, e) => a + e.udp!.jitterMs, 0) / ends.length, lost_packets: lost, packets, lost_percent: packets ? (100 * lost) / packets : 0 };
  }
  return {
    start: {
      connected: streams.map((x, i) => ({ socket: i + 1, local_host: x.local.host, local_port: x.local.port, remote_host: o.dst, remote_port: o.port })),
      version: "wavnet iperf",
      system_info: `wavnet node ${c.node}`,
      connecting_to: { host: o.dst, port: o.port },
      test_start: { protocol: o.udp ? "UDP" : "TCP", num_streams: o.streams, blksize: o.udp ? o.len : CHUNK, omit: 0, duration: o.seconds, bytes: 0, blocks: 0, reverse: o.reverse ? 1 : 0 },
    },
    intervals: ivs,
    end,
    wavnet: { clock, verified: !o.udp && problems.length === 0, ...(note ? { note } : {}), ...(interrupted ? { interrupted: true } : {}) },
    ...(problems.length ? { error: problems.join("; ") } : {}),
  };
}
