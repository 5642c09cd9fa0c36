// ping, ping6, traceroute -I and traceroute6 from the host, over the echo services of the
// inet and inet6 modules (no sockets):
// inet_ping_send sends an ICMP echo request from a vnet; the vnet logs echo replies and
// ICMP errors about its own echo requests with kernel receive times, and the host drains
// that log. Round-trip times are kernel times (receive time minus the kernel time at send),
// so under a virtual clock they are exact and repeatable; under a real clock a reply that
// comes back inside the send call (no link delay) is timed by the host around that call.
//
// Both work with either clock: with a virtual clock the host advances it (interval between
// sends, then in 1 ms steps until every probe is answered or the timeout passes), or waits
// for its pacer to (a paced clock: VirtualClock.pacer); with a real clock they wait on timers. Records for another concurrent ping of the same vnet (a
// different identifier) are ignored. A destination with a colon is IPv6 (ping6): the same
// prober drives the inet6 module's service (a link-scope destination names its link,
// "fe80::1%epair0a").
//
// Both take an AbortSignal (`signal`), as Node's own APIs do: aborting stops sending and
// waiting, clears the pending timer and listener, and rejects with an AbortError (name
// "AbortError", code "ABORT_ERR", cause = signal.reason) whose `partial` is the result so
// far (ping's statistics over the probes sent, as BSD ping prints them on ^C; traceroute's
// hops done). A signal already aborted rejects before anything is sent. Under a virtual
// clock the prober moves time itself and would otherwise run in microtasks to the end, so
// with a signal it lets the event loop turn (a 0 ms timer) every few ms of host time: a
// timer-driven abort (AbortSignal.timeout) gets its chance. Ping uses no socket: nothing
// is left open; replies to probes in flight land in the vnet's ping log and are skipped by
// the next ping (another identifier).

import { checkVnet, type Kernel, type Vnet } from "../kern/kernel.js";
import type { VirtualClock } from "../kern/clock.js";
import { ConfigError, KernelError, AbortError, abortError } from "../lib/errors.js";
import { show } from "../lib/format.js";
import { inet, parseIPv4, formatIPv4, inetErrnoName } from "./inet.js";
import { inet6, isIPv6Text, parseScoped, formatIPv6 } from "./inet6.js";

export interface PingOptions {
  /** Echo requests to send (default 4). */
  count?: number;
  /** Between sends, ms (default 1000). */
  intervalMs?: number;
  /** Data bytes per request (default 56, as BSD ping; up to 65507). */
  size?: number;
  /** IP TTL (default 64). */
  ttl?: number;
  /** How long to wait for replies after the last request, ms (default 2000). */
  timeoutMs?: number;
  /** Set DF (ping -D). */
  dontFragment?: boolean;
  /** Abort: stop sending and waiting, reject with an AbortError (`partial`: the result so far). */
  signal?: AbortSignal;
  /** Each line of the text as it happens (the header, each reply or error), not the statistics at the end. */
  onLine?: (line: string) => void;
}

export interface PingReply {
  seq: number;
  from: string;
  /** ICMP bytes (header + data), as ping prints them. */
  bytes: number;
  ttl: number;
  rttMs: number;
  /** The data came back byte for byte as sent. */
  payloadOk: boolean;
}

export interface PingError {
  seq: number;
  /** The router or host that reported it. */
  from: string;
  type: number;
  code: number;
  /** "Time to live exceeded", "Destination Host Unreachable", ... */
  message: string;
  /** Next-hop MTU of a "fragmentation needed" error. */
  mtu?: number;
}

export interface PingResult {
  dst: string;
  transmitted: number;
  received: number;
  lossPct: number;
  replies: PingReply[];
  errors: PingError[];
  /** Sends the kernel refused (errno name), by sequence number. */
  sendErrors: { seq: number; error: string }[];
  min: number;
  avg: number;
  max: number;
  stddev: number;
  /** The output, as BSD ping prints it. */
  text: string;
}

interface LogRecord {
  kind: number;
  type: number;
  code: number;
  ttl: number;
  id: number;
  seq: number;
  from: string;
  aux: number;
  timeUs: number;
  ok: boolean;
}

// Echo identifiers count per vnet (as a BSD ping's pid is its host's): what one vnet sends
// then does not depend on how many pings other vnets of its kernel ran (a topology split
// over several kernels sends the same packets as in one, host/scale/).
const ids = new WeakMap<Vnet, number>();

function nextId(vnet: Vnet): number {
  const id = ids.get(vnet) ?? 0x5750; // "WP"
  ids.set(vnet, (id + 1) & 0xffff);
  return id;
}

/** One address family's echo service: send a probe, drain the log. */
interface EchoService {
  v6: boolean;
  /** 0 or a negative errno. */
  send(id: number, seq: number, size: number, ttl: number, df: boolean): number;
  read(): LogRecord[];
}

/** Where a family's ping log record keeps its fields after the common 8-byte head. */
interface LogLayout {
  size: number;
  from(dv: DataView, o: number): string;
  aux: number;
  time: number;
  ok: number;
}

/** The n log records at buf (head: kind, type, code, ttl, id, seq; then the family's layout). */
function readLog(kernel: Kernel, n: number, buf: number, l: LogLayout): LogRecord[] {
  const out: LogRecord[] = [];
  const dv = kernel.dv();
  for (let i = 0; i < n; i++) {
    const o = buf + i * l.size;
    out.push({
      kind: dv.getUint8(o),
      type: dv.getUint8(o + 1),
      code: dv.getUint8(o + 2),
      ttl: dv.getUint8(o + 3),
      id: dv.getUint16(o + 4, true),
      seq: dv.getUint16(o + 6, true),
      from: l.from(dv, o),
      aux: dv.getUint32(o + l.aux, true),
      timeUs: dv.getFloat64(o + l.time, true),
      ok: dv.getUint32(o + l.ok, true) === 1,
    });
  }
  return out;
}

const LOG4: LogLayout = { size: 32, from: (dv, o) => formatIPv4(dv.getUint32(o + 8, true)), aux: 12, time: 16, ok: 24 };
const LOG6: LogLayout = { size: 48, from: (dv, o) => formatIPv6(new Uint8Array(dv.buffer, o + 8, 16).slice()), aux: 24, time: 32, ok: 28 };

function echo4(kernel: Kernel, vnet: Vnet, dst: number): EchoService {
  const x = inet(kernel, "ping");
  return {
    v6: false,
    send: (id, seq, size, ttl, df) => x.inet_ping_send(vnet.ptr, dst, id, seq, size, ttl, df ? 1 : 0),
    read: () => readLog(kernel, kernel.enter(() => x.inet_ping_read(vnet.ptr)), x.inet_buf(), LOG4),
  };
}

function echo6(kernel: Kernel, vnet: Vnet, dst: Uint8Array, ifp: number): EchoService {
  const x = inet6(kernel, "ping6");
  return {
    v6: true,
    send: (id, seq, size, hlim, df) => {
      new Uint8Array(kernel.memory.buffer, x.inet6_buf(), 16).set(dst);
      return x.inet6_ping_send(vnet.ptr, ifp, id, seq, size, hlim, df ? 1 : 0);
    },
    read: () => readLog(kernel, kernel.enter(() => x.inet6_ping_read(vnet.ptr)), x.inet6_buf(), LOG6),
  };
}

/** The echo service for dst: IPv6 when it has a colon (with its zone if link-scope), else IPv4. */
function echoFor(kernel: Kernel, vnet: Vnet, dst: string, what: string): EchoService {
  if (isIPv6Text(dst)) {
    const s = parseScoped(kernel, vnet, dst, `${what}: destination`);
    return echo6(kernel, vnet, s.addr, s.iface?.ptr ?? 0);
  }
  return echo4(kernel, vnet, parseIPv4(dst, `${what}: destination`));
}

const UNREACH = [
  "Destination Net Unreachable", "Destination Host Unreachable", "Destination Protocol Unreachable",
  "Destination Port Unreachable", "Frag needed and DF set", "Source Route Failed", "Destination Net Unknown",
  "Destination Host Unknown",
];

const UNREACH6 = [
  "No Route to Destination", "Administratively Prohibited", "Beyond Scope of Source Address", "Address Unreachable",
  "Port Unreachable", "Source Address Failed Policy", "Reject Route to Destination",
];

/** ping6's words for an ICMPv6 error. */
export function icmp6ErrorText(type: number, code: number, arg?: number): string {
  if (type === 1) return `Destination Unreachable: ${UNREACH6[code] ?? `code ${code}`}`;
  if (type === 2) return `Packet too big mtu = ${arg}`;
  if (type === 3) return code === 0 ? "Time to live exceeded" : "Frag reassembly time exceeded";
  if (type === 4) return `Parameter problem: ${["Erroneous Header Field", "Unknown Nextheader", "Unrecognized Option", "Incomplete Header Chain"][code] ?? `code ${code}`} pointer = ${arg}`;
  return `ICMPv6 type ${type} code ${code}`;
}

export function icmpErrorText(type: number, code: number, mtu?: number): string {
  if (type === 3) return code === 4 ? `Frag needed and DF set (MTU ${mtu})` : UNREACH[code] ?? `Destination Unreachable, code ${code}`;
  if (type === 11) return code === 0 ? "Time to live exceeded" : "Frag reassembly time exceeded";
  if (type === 12) return "Parameter problem";
  if (type === 4) return "Source Quench";
  return `ICMP type ${type} code ${code}`;
}

function checkInt(v: number | undefined, def: number, lo: number, hi: number, what: string): number {
  if (v === undefined) return def;
  if (!Number.isInteger(v) || v < lo || v > hi) throw new ConfigError(`${what} must be an integer from ${lo} to ${hi}, got ${show(v)}`);
  return v;
}

/** A wait in milliseconds: 0 up to setTimeout's limit (2^31 - 1 ms, about 24.8 days; Node fires a longer one at once). */
function checkMs(v: unknown, what: string): void {
  if (typeof v !== "number" || !(v >= 0) || v > 0x7fffffff) throw new ConfigError(`${what} must be a number of milliseconds from 0 to 2147483647, got ${show(v)}`);
}

/** p, or earlier when signal aborts (never rejects for the abort: the caller checks). */
function untilAbort(p: Promise<void>, signal?: AbortSignal): Promise<void> {
  if (!signal) return p;
  if (signal.aborted) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const done = () => resolve();
    signal.addEventListener("abort", done, { once: true });
    p.then(() => {
      signal.removeEventListener("abort", done);
      resolve();
    }, (e) => {
      signal.removeEventListener("abort", done);
      reject(e);
    });
  });
}

/** A timer of ms that ends early, cleared, when signal aborts (it never rejects). */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** Host time a virtual-clock prober with a signal runs before it lets the event loop turn, ms. */
const YIELD_EVERY_MS = 4;

/** One probe in flight: its kernel send time and the host's timing of the send call. */
interface Probe {
  seq: number;
  sentUs: number;
  callMs: number;
}

/** Sends echo requests and collects what comes back, with either clock. */
class Prober {
  readonly virtual: boolean;
  readonly probes = new Map<number, Probe>();
  readonly answers = new Map<number, LogRecord>();

  #lastYield = performance.now();

  constructor(readonly kernel: Kernel, readonly vnet: Vnet, readonly svc: EchoService, readonly id: number, readonly signal?: AbortSignal, readonly what = "ping") {
    this.virtual = kernel.clock.kind === "virtual";
  }

  /** Throw the AbortError if the signal has aborted. */
  check(): void {
    if (this.signal?.aborted) throw abortError(this.signal, this.what);
  }

  /** 0 or a negative errno. */
  send(seq: number, size: number, ttl: number, df: boolean): number {
    if (!this.virtual) this.kernel.enter(() => this.kernel.k.callout_tick(this.kernel.clock.now()));
    const sentUs = this.kernel.k.callout_now();
    const t0 = performance.now();
    const r = this.kernel.enter(() => this.svc.send(this.id, seq, size, ttl, df));
    const callMs = performance.now() - t0;
    this.probes.set(seq, { seq, sentUs, callMs });
    this.drain(seq);
    return r;
  }

  /** Take what the log holds; justSent: the probe whose send call just returned. */
  drain(justSent = -1): void {
    for (const rec of this.svc.read()) {
      if (rec.id !== this.id || !this.probes.has(rec.seq) || this.answers.has(rec.seq)) continue;
      const p = this.probes.get(rec.seq)!;
      let rtt = (rec.timeUs - p.sentUs) / 1000;
      // Kernel time stands still inside one kernel call; a reply that came back inside the
      // send call is timed by the host around that call.
      if (!this.virtual && rec.seq === justSent) rtt = p.callMs;
      (rec as LogRecord & { rttMs: number }).rttMs = rtt;
      this.answers.set(rec.seq, rec);
    }
  }

  rtt(rec: LogRecord): number {
    return (rec as LogRecord & { rttMs: number }).rttMs;
  }

  /** Let time pass: ms of virtual time, or real time; then throw if aborted. */
  async wait(ms: number): Promise<void> {
    if (this.virtual) {
      const clock = this.kernel.clock as VirtualClock;
      // A paced clock (a page's play/pause): time passes at the pacer's speed.
      // A paused page clock would hold the wait forever: an abort ends it (the pacer's waiter
      // stays until time moves, then finds nobody).
      if (clock.pacer) await untilAbort(clock.pacer(clock.now() + Math.round(ms * 1000)), this.signal);
      else clock.advance(Math.round(ms * 1000));
      if (this.signal && performance.now() - this.#lastYield >= YIELD_EVERY_MS) {
        await sleep(0, this.signal);
        this.#lastYield = performance.now();
      }
    } else await sleep(ms, this.signal);
    this.drain();
    this.check();
  }

  /** Wait until every seq in seqs is answered or timeoutMs passed. */
  async settle(seqs: number[], timeoutMs: number): Promise<void> {
    let waited = 0;
    const step = this.virtual ? 1 : 5;
    while (waited < timeoutMs && seqs.some((s) => !this.answers.has(s))) {
      const d = Math.min(step, timeoutMs - waited);
      await this.wait(d);
      waited += d;
    }
  }
}

/** ping6: ping to an IPv6 destination ("fd00::2", "fe80::1%epair0a"). */
export async function ping6(kernel: Kernel, vnet: Vnet, dst: string, opts: PingOptions = {}): Promise<PingResult> {
  if (!isIPv6Text(dst)) throw new ConfigError(`ping6: destination ${JSON.stringify(dst)} is not an IPv6 address`);
  return ping(kernel, vnet, dst, opts);
}

/** traceroute6: traceroute to an IPv6 destination. */
export async function traceroute6(kernel: Kernel, vnet: Vnet, dst: string, opts: TracerouteOptions = {}): Promise<TracerouteResult> {
  if (!isIPv6Text(dst)) throw new ConfigError(`traceroute6: destination ${JSON.stringify(dst)} is not an IPv6 address`);
  return traceroute(kernel, vnet, dst, opts);
}

/**
 * ping: ICMP echo requests from vnet to dst; resolves with every reply and error and BSD
 * ping's text ("64 bytes from 10.0.0.2: icmp_seq=0 ttl=64 time=0.031 ms", statistics).
 */
export async function ping(kernel: Kernel, vnet: Vnet, dst: string, opts: PingOptions = {}): Promise<PingResult> {
  checkVnet(kernel, vnet, "ping");
  if (opts === null || typeof opts !== "object") throw new ConfigError(`ping: options must be an object, got ${show(opts)}`);
  const svc = echoFor(kernel, vnet, dst, isIPv6Text(dst) ? "ping6" : "ping");
  const six = svc.v6;
  const count = checkInt(opts.count, 4, 1, 65536, "ping: count");
  const intervalMs = opts.intervalMs ?? 1000;
  checkMs(intervalMs, "ping: intervalMs");
  const size = checkInt(opts.size, 56, 0, six ? 65527 : 65507, "ping: size");
  const ttl = checkInt(opts.ttl, 64, 1, 255, "ping: ttl");
  const timeoutMs = opts.timeoutMs ?? 2000;
  checkMs(timeoutMs, "ping: timeoutMs");
  const what = `ping${six ? "6" : ""} ${dst}`;
  const p = new Prober(kernel, vnet, svc, nextId(vnet), opts.signal, what);
  p.check();
  const errText = six ? icmp6ErrorText : icmpErrorText;
  const lines: string[] = [];
  const emit = (l: string) => {
    lines.push(l);
    opts.onLine?.(l);
  };
  emit(six ? `PING6(${size + 48}=40+8+${size} bytes) --> ${dst}` : `PING ${dst} (${dst}): ${size} data bytes`);
  const sendErrors: { seq: number; error: string }[] = [];
  const printed = new Set<number>();
  const print = () => {
    for (const [seq, rec] of [...p.answers].sort((a, b) => a[0] - b[0])) {
      if (printed.has(seq)) continue;
      printed.add(seq);
      if (rec.kind === 1 && six) emit(`${rec.aux + 8} bytes from ${rec.from}, icmp_seq=${seq} hlim=${rec.ttl} time=${p.rtt(rec).toFixed(3)} ms${rec.ok ? "" : " (wrong data)"}`);
      else if (rec.kind === 1) emit(`${rec.aux + 8} bytes from ${rec.from}: icmp_seq=${seq} ttl=${rec.ttl} time=${p.rtt(rec).toFixed(3)} ms${rec.ok ? "" : " (wrong data)"}`);
      else emit(`${rec.from}: ${errText(rec.type, rec.code, rec.aux)} (icmp_seq=${seq})`);
    }
  };
  let sent = 0;
  try {
    for (let seq = 0; seq < count; seq++) {
      const r = p.send(seq & 0xffff, size, ttl, opts.dontFragment === true);
      sent++;
      if (r !== 0) {
        sendErrors.push({ seq, error: inetErrnoName(r) });
        emit(`ping: sendto: ${inetErrnoName(r)} (icmp_seq=${seq})`);
      }
      print();
      if (seq < count - 1) {
        await p.wait(intervalMs);
        print();
      }
    }
    await p.settle([...p.probes.keys()], timeoutMs);
  } catch (e) {
    if (e instanceof AbortError) {
      print();
      (e as AbortError<PingResult>).partial = pingResult(dst, six, sent, p, lines, sendErrors, errText);
    }
    throw e;
  }
  print();
  return pingResult(dst, six, count, p, lines, sendErrors, errText);
}

/** The result over the probes sent (transmitted: count, or fewer when aborted). */
function pingResult(dst: string, six: boolean, count: number, p: Prober, lines: string[], sendErrors: { seq: number; error: string }[], errText: (type: number, code: number, arg?: number) => string): PingResult {
  const replies: PingReply[] = [];
  const errors: PingError[] = [];
  for (const [seq, rec] of [...p.answers].sort((a, b) => a[0] - b[0])) {
    if (rec.kind === 1) replies.push({ seq, from: rec.from, bytes: rec.aux + 8, ttl: rec.ttl, rttMs: p.rtt(rec), payloadOk: rec.ok });
    else {
      const e: PingError = { seq, from: rec.from, type: rec.type, code: rec.code, message: errText(rec.type, rec.code, rec.aux) };
      if (!six && rec.type === 3 && rec.code === 4) e.mtu = rec.aux;
      if (six && rec.type === 2) e.mtu = rec.aux;
      errors.push(e);
    }
  }
  const rtts = replies.map((r) => r.rttMs);
  const n = rtts.length;
  const min = n ? Math.min(...rtts) : 0;
  const max = n ? Math.max(...rtts) : 0;
  const avg = n ? rtts.reduce((a, b) => a + b, 0) / n : 0;
  const stddev = n ? Math.sqrt(Math.max(0, rtts.reduce((a, b) => a + b * b, 0) / n - avg * avg)) : 0;
  const lossPct = count ? ((count - n) / count) * 100 : 0;
  lines.push("", `--- ${dst} ping${six ? "6" : ""} statistics ---`, `${count} packets transmitted, ${n} packets received, ${lossPct.toFixed(1)}% packet loss`);
  if (n) lines.push(`round-trip min/avg/max/stddev = ${min.toFixed(3)}/${avg.toFixed(3)}/${max.toFixed(3)}/${stddev.toFixed(3)} ms`);
  return { dst, transmitted: count, received: n, lossPct, replies, errors, sendErrors, min, avg, max, stddev, text: lines.join("\n") };
}

export interface TracerouteOptions {
  /** Largest TTL tried (default 30). */
  maxHops?: number;
  /** Wait for each probe, ms (default 5000, traceroute -w). */
  timeoutMs?: number;
  /** Probes per hop (default 3). */
  queries?: number;
  /** Data bytes per probe (default 32: 60-byte packets, as traceroute -I). */
  size?: number;
  /** Abort: stop probing, reject with an AbortError (`partial`: the hops done so far). */
  signal?: AbortSignal;
  /** Each line of the text as it happens (the header, then each hop). */
  onLine?: (line: string) => void;
}

export interface TraceProbe {
  from?: string;
  rttMs?: number;
  /** "!H", "!N", "!P", "!F" ... for unreachables; absent otherwise. */
  note?: string;
}

export interface TraceHop {
  ttl: number;
  probes: TraceProbe[];
  /** The first address that answered at this hop. */
  address?: string;
}

export interface TracerouteResult {
  dst: string;
  hops: TraceHop[];
  reached: boolean;
  text: string;
}

const UNREACH_NOTE: Record<number, string> = { 0: "!N", 1: "!H", 2: "!P", 3: "", 4: "!F", 5: "!S", 13: "!X" };
// traceroute6's notes (FreeBSD): no route !N, prohibited !P, beyond scope !S, address unreachable !A, port !
const UNREACH6_NOTE: Record<number, string> = { 0: "!N", 1: "!P", 2: "!S", 3: "!A", 4: "" };

/** traceroute -I: echo requests with TTL 1, 2, ... until dst answers (or maxHops). */
export async function traceroute(kernel: Kernel, vnet: Vnet, dst: string, opts: TracerouteOptions = {}): Promise<TracerouteResult> {
  checkVnet(kernel, vnet, "traceroute");
  if (opts === null || typeof opts !== "object") throw new ConfigError(`traceroute: options must be an object, got ${show(opts)}`);
  const svc = echoFor(kernel, vnet, dst, isIPv6Text(dst) ? "traceroute6" : "traceroute");
  const six = svc.v6;
  const maxHops = checkInt(opts.maxHops, 30, 1, 255, "traceroute: maxHops");
  const queries = checkInt(opts.queries, 3, 1, 10, "traceroute: queries");
  const size = checkInt(opts.size, 32, 0, 65507, "traceroute: size");
  const timeoutMs = opts.timeoutMs ?? 5000;
  checkMs(timeoutMs, "traceroute: timeoutMs");
  const p = new Prober(kernel, vnet, svc, nextId(vnet), opts.signal, `traceroute${six ? "6" : ""} ${dst}`);
  p.check();
  const lines = [`traceroute${six ? "6" : ""} to ${dst} (${dst}), ${maxHops} hops max, ${size + (six ? 48 : 28)} byte packets`];
  opts.onLine?.(lines[0]!);
  const hops: TraceHop[] = [];
  let reached = false;
  let seq = 0;
  try {
    for (let ttl = 1; ttl <= maxHops && !reached; ttl++) {
      const hop: TraceHop = { ttl, probes: [] };
      let stop = false;
      for (let q = 0; q < queries; q++) {
        const s = seq++ & 0xffff;
        const r = p.send(s, size, ttl, false);
        if (r !== 0) throw new KernelError(`traceroute: sendto (ttl ${ttl})`, r);
        await p.settle([s], timeoutMs);
        p.check();
        const rec = p.answers.get(s);
        if (!rec) {
          hop.probes.push({});
          continue;
        }
        const probe: TraceProbe = { from: rec.from, rttMs: p.rtt(rec) };
        if (rec.kind === 1) reached = true;
        else if (!six && rec.type === 3) {
          probe.note = UNREACH_NOTE[rec.code] ?? `!<${rec.code}>`;
          stop = true;
          if (rec.from === dst) reached = true;
        } else if (six && rec.type === 1) {
          probe.note = UNREACH6_NOTE[rec.code] ?? `!<${rec.code}>`;
          stop = true;
        }
        hop.address ??= probe.from;
        hop.probes.push(probe);
      }
      hops.push(hop);
      lines.push(hopLine(hop));
      opts.onLine?.(lines[lines.length - 1]!);
      if (stop) break;
    }
  } catch (e) {
    if (e instanceof AbortError) (e as AbortError<TracerouteResult>).partial = { dst, hops, reached, text: lines.join("\n") };
    throw e;
  }
  return { dst, hops, reached, text: lines.join("\n") };
}

/** A hop as traceroute prints it: " 2  10.0.2.2  0.031 ms  0.029 ms *". */
function hopLine(hop: TraceHop): string {
  let line = `${String(hop.ttl).padStart(2)} `;
  let last: string | undefined;
  for (const pr of hop.probes) {
    if (pr.from === undefined) {
      line += " *";
      continue;
    }
    if (pr.from !== last) line += ` ${pr.from}`;
    last = pr.from;
    line += `  ${pr.rttMs!.toFixed(3)} ms${pr.note ? ` ${pr.note}` : ""}`;
  }
  return line;
}
