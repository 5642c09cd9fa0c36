// TCP from the host: netstat -s -p tcp (FreeBSD's tcpstat counters and wording), netstat
// -an rows for TCP connections (state, queues), the TCP-level socket options
// (TCP_NODELAY, TCP_MAXSEG, TCP_KEEPIDLE/INTVL/CNT/INIT, TCP_CONGESTION), the
// net.inet.tcp knobs over the tcp module's exports (assembly/netinet/tcp/tcp.ts), and
// kern.ipc.maxsockets (the kernel's socket layer), the other cap on connections per vnet.

import { checkVnet, checkKernel, type Kernel, type Vnet } from "../kern/kernel.js";
import { ConfigError, KernelError, ModuleNotLoadedError } from "../lib/errors.js";
import { formatTable, show } from "../lib/format.js";
import { integerArg, booleanArg } from "../lib/check.js";
import { formatIPv4, formatIPv6 } from "../lib/addr.js";
import { Socket } from "../sockets/socket.js";

export interface TcpExports {
  tcp_stat(v: number, i: number): number;
  tcp_buf(): number;
  tcp_pcblist(v: number, skip: number): number;
  tcp_pcbcount(v: number): number;
  tcp_get(v: number, what: number): number;
  tcp_set(v: number, what: number, value: number): number;
}

export const IPPROTO_TCP = 6;
/** Level IPPROTO_TCP option names (FreeBSD netinet/tcp.h values; TCP_CONGESTION takes an int here). */
export const TCP = {
  NODELAY: 1, MAXSEG: 2, NOOPT: 8, CONGESTION: 64, KEEPINIT: 128, KEEPIDLE: 256, KEEPINTVL: 512, KEEPCNT: 1024,
  /** wavnet: get the connection's state (index into TCP_STATES). */
  STATE: 0x7f01,
} as const;
export const TCP_CC = { newreno: 0, cubic: 1 } as const;
export const TCP_STATES = [
  "CLOSED", "LISTEN", "SYN_SENT", "SYN_RCVD", "ESTABLISHED", "CLOSE_WAIT", "FIN_WAIT_1", "CLOSING", "LAST_ACK", "FIN_WAIT_2", "TIME_WAIT",
] as const;
export type TcpState = (typeof TCP_STATES)[number];

/** tcpstat field names, in the kernel's order (assembly/netinet/tcp/tcp_var.ts TCPS_*). */
export const TCPSTAT_NAMES = [
  "connattempt", "accepts", "connects", "drops", "conndrops", "closed", "segstimed", "rttupdated", "delack", "timeoutdrop",
  "rexmttimeo", "persisttimeo", "keeptimeo", "keepprobe", "keepdrops", "sndtotal", "sndpack", "sndbyte", "sndrexmitpack",
  "sndrexmitbyte", "sndacks", "sndprobe", "sndwinup", "sndctrl", "rcvtotal", "rcvpack", "rcvbyte", "rcvbadsum", "rcvbadoff",
  "rcvshort", "rcvduppack", "rcvdupbyte", "rcvpartduppack", "rcvpartdupbyte", "rcvoopack", "rcvoobyte", "rcvpackafterwin",
  "rcvbyteafterwin", "rcvafterclose", "rcvwinprobe", "rcvdupack", "rcvacktoomuch", "rcvackpack", "rcvackbyte", "rcvwinupd",
  "pawsdrop", "predack", "preddat", "persistdrop", "badsyn", "listendrop", "badrst", "sc_sendcookie", "sc_recvcookie",
  "sc_badcookie", "sack_recovery_episode", "sack_rexmits", "sack_rexmit_bytes", "sack_rcv_blocks", "sack_send_blocks",
  "finwait2_drops", "rcvmemdrop", "rcvreassfull", "challenge_acks", "challenge_acks_limited", "rcvbadopt", "ecn_shs",
  "sndrst", "tw_recycles", "rstlimited", "mturesent", "icmpsoft", "icmpignored", "icmpdrop",
  "sc_added", "sc_retransmitted", "sc_dupsyn", "sc_dropped", "sc_completed", "sc_bucketoverflow", "sc_cacheoverflow",
  "sc_reset", "sc_stale", "sc_badack", "sc_zonefail", "tablefail",
] as const;
export type TcpStats = Record<(typeof TCPSTAT_NAMES)[number], number>;

export function tcpModule(kernel: Kernel, what: string): TcpExports {
  checkKernel(kernel, what);
  if (!kernel.linker.isLoaded("tcp")) throw new ModuleNotLoadedError(`${what}: the tcp module is not loaded (kldload("tcp"), or boot the GENERIC configuration)`);
  return kernel.module<TcpExports>("tcp");
}

function vnetPtr(kernel: Kernel, vnet: Vnet, what: string): number {
  return checkVnet(kernel, vnet, what).ptr;
}

/** The tcpstat counters of a vnet. */
export function tcpStats(kernel: Kernel, vnet: Vnet): TcpStats {
  const t = tcpModule(kernel, "netstat -s -p tcp");
  const v = vnetPtr(kernel, vnet, "netstat -s -p tcp");
  const out = {} as TcpStats;
  TCPSTAT_NAMES.forEach((n, i) => (out[n] = t.tcp_stat(v, i)));
  return out;
}

/** netstat -s -p tcp, in FreeBSD's wording (the lines that have a counter here). */
export function netstatSTcp(kernel: Kernel, vnet: Vnet): string {
  const s = tcpStats(kernel, vnet);
  const l = (n: number, text: string) => `\t${n} ${text}`;
  const ll = (n: number, text: string) => `\t\t${n} ${text}`;
  return [
    "tcp:",
    l(s.sndtotal, "packets sent"),
    ll(s.sndpack, `data packets (${s.sndbyte} bytes)`),
    ll(s.sndrexmitpack, `data packets (${s.sndrexmitbyte} bytes) retransmitted`),
    ll(s.sndacks, "ack-only packets"),
    ll(s.sndprobe, "window probe packets"),
    ll(s.sndwinup, "window update packets"),
    ll(s.sndctrl, "control packets"),
    ll(s.sndrst, "resets"),
    ll(s.rstlimited, "resets not sent (over rst_limit)"),
    l(s.rcvtotal, "packets received"),
    ll(s.rcvackpack, `acks (for ${s.rcvackbyte} bytes)`),
    ll(s.rcvdupack, "duplicate acks"),
    ll(s.rcvacktoomuch, "acks for unsent data"),
    ll(s.rcvpack, `packets (${s.rcvbyte} bytes) received in-sequence`),
    ll(s.rcvduppack, `completely duplicate packets (${s.rcvdupbyte} bytes)`),
    ll(s.pawsdrop, "old duplicate packets"),
    ll(s.rcvpartduppack, `packets with some dup. data (${s.rcvpartdupbyte} bytes duped)`),
    ll(s.rcvoopack, `out-of-order packets (${s.rcvoobyte} bytes)`),
    ll(s.rcvpackafterwin, `packets (${s.rcvbyteafterwin} bytes) of data after window`),
    ll(s.rcvwinprobe, "window probes"),
    ll(s.rcvwinupd, "window update packets"),
    ll(s.rcvafterclose, "packets received after close"),
    ll(s.rcvbadsum, "discarded for bad checksums"),
    ll(s.rcvbadoff, "discarded for bad header offset fields"),
    ll(s.rcvshort, "discarded because packet too short"),
    ll(s.rcvbadopt, "discarded for options whose lengths lie"),
    ll(s.rcvreassfull, "discarded due to full reassembly queue"),
    l(s.connattempt, "connection requests"),
    l(s.accepts, "connection accepts"),
    l(s.badsyn, "bad connection attempts"),
    l(s.listendrop, "listen queue overflows"),
    l(s.sc_added, "syncache entries added"),
    ll(s.sc_retransmitted, "retransmitted"),
    ll(s.sc_dupsyn, "dupsyn"),
    ll(s.sc_dropped, "dropped"),
    ll(s.sc_completed, "completed"),
    ll(s.sc_bucketoverflow, "bucket overflow"),
    ll(s.sc_cacheoverflow, "cache overflow"),
    ll(s.sc_reset, "reset"),
    ll(s.sc_stale, "stale"),
    ll(s.sc_badack, "badack"),
    ll(s.sc_zonefail, "zone failures"),
    l(s.tablefail, "sockets refused for want of memory for the connection tables"),
    l(s.sc_sendcookie, "cookies sent"),
    l(s.sc_recvcookie, "cookies received"),
    l(s.connects, `connections established (including accepts)`),
    l(s.closed, `connections closed (including ${s.drops} drops)`),
    l(s.conndrops, "embryonic connections dropped"),
    l(s.segstimed, `segments updated rtt (of ${s.rttupdated} attempts)`.replace(/^/, "")),
    l(s.rexmttimeo, "retransmit timeouts"),
    ll(s.timeoutdrop, "connections dropped by rexmit timeout"),
    l(s.persisttimeo, "persist timeouts"),
    ll(s.persistdrop, "connections dropped by persist timeout"),
    l(s.finwait2_drops, "Connections (fin_wait_2) dropped because of timeout"),
    l(s.keeptimeo, "keepalive timeouts"),
    ll(s.keepprobe, "keepalive probes sent"),
    ll(s.keepdrops, "connections dropped by keepalive"),
    l(s.predack, "correct ACK header predictions"),
    l(s.preddat, "correct data packet header predictions"),
    l(s.sc_sendcookie, "cookies sent"),
    l(s.sc_recvcookie, "cookies received"),
    l(s.sc_badcookie, "bad cookies rejected"),
    l(s.badrst, "ignored RSTs in the window"),
    l(s.challenge_acks, `challenge ACKs sent (${s.challenge_acks_limited} suppressed by the rate limit)`),
    l(s.tw_recycles, "TIME_WAIT connections ended by a new SYN"),
    l(s.delack, "delayed acks sent"),
  ].join("\n");
}

export interface TcpConnection {
  family: "inet" | "inet6";
  local: string;
  localPort: number;
  foreign: string;
  foreignPort: number;
  state: TcpState;
  recvQ: number;
  sendQ: number;
  /** Serial of the socket, 0 when the connection has outlived it (closing, TIME_WAIT). */
  socket: number;
  cwnd: number;
  srttUs: number;
  /** SND.UNA and SND.MAX (the ISS + 1 once the SYN is acknowledged; ISS .. ISS + 1 in SYN_SENT). */
  sndUna: number;
  sndMax: number;
  /** Largest segment sent (TCP payload and options); path MTU discovery lowers it. */
  maxseg: number;
  /** An AF_INET6 socket IPv4 also reaches (IPV6_V6ONLY off, on :: and unconnected): netstat's tcp46. */
  dual: boolean;
}

/** netstat's protocol column: tcp4, tcp6, or tcp46 for a dual-stack pcb (FreeBSD's). */
export function tcpProto(c: TcpConnection): string {
  return c.dual ? "tcp46" : c.family === "inet6" ? "tcp6" : "tcp4";
}

/** The TCP connections of a vnet (every tcpcb, with or without its socket). */
export function tcpConnections(kernel: Kernel, vnet: Vnet): TcpConnection[] {
  const t = tcpModule(kernel, "netstat -an");
  const v = vnetPtr(kernel, vnet, "netstat -an");
  const out: TcpConnection[] = [];
  for (let skip = 0; ; ) {
    const n = t.tcp_pcblist(v, skip);
    if (n < 0) throw new KernelError("netstat -an", -22);
    const dv = kernel.dv();
    const b = t.tcp_buf();
    for (let i = 0; i < n; i++) {
      const r = b + i * 80;
      // The family (offset 52) says how to read the 16-byte address fields.
      const six = dv.getUint32(r + 52, true) === 28;
      const addr = (o: number) => (six ? formatIPv6(new Uint8Array(kernel.memory.buffer, o, 16).slice()) : formatIPv4(dv.getUint32(o, true)));
      out.push({
        family: six ? "inet6" : "inet",
        local: addr(r),
        foreign: addr(r + 16),
        localPort: dv.getUint16(r + 32, true),
        foreignPort: dv.getUint16(r + 34, true),
        state: TCP_STATES[dv.getUint32(r + 36, true)] ?? "CLOSED",
        recvQ: dv.getUint32(r + 40, true),
        sendQ: dv.getUint32(r + 44, true),
        socket: dv.getUint32(r + 48, true),
        cwnd: dv.getUint32(r + 56, true),
        srttUs: dv.getUint32(r + 60, true),
        sndUna: dv.getUint32(r + 64, true),
        sndMax: dv.getUint32(r + 68, true),
        maxseg: dv.getUint32(r + 72, true),
        dual: (dv.getUint32(r + 76, true) & 1) !== 0,
      });
    }
    if (n < 128) break;
    skip += n;
  }
  return out;
}

/** netstat -an -p tcp as text (FreeBSD's columns). */
export function netstatAnTcp(kernel: Kernel, vnet: Vnet): string {
  // FreeBSD prints a wildcard address or port as "*" and names the row's family (tcp4, tcp6, tcp46).
  const addr = (a: string, p: number) => `${a === "0.0.0.0" || a === "::" ? "*" : a}.${p === 0 ? "*" : p}`;
  return "Active Internet connections (including servers)\n" + formatTable(
    ["Proto", "Recv-Q", "Send-Q", "Local Address", "Foreign Address", "(state)"],
    tcpConnections(kernel, vnet).map((c) => [tcpProto(c), c.recvQ, c.sendQ, addr(c.local, c.localPort), addr(c.foreign, c.foreignPort), c.state]),
  );
}

/** The state of a TCP socket's connection. */
export function tcpState(s: Socket): TcpState {
  return TCP_STATES[tcpSocket(s, "tcp state").getsockopt(IPPROTO_TCP, TCP.STATE)] ?? "CLOSED";
}

interface IpcExports {
  so_maxsockets(v: number, n: number): number;
}

/**
 * sysctl kern.ipc.maxsockets, per vnet here (FreeBSD's is per system): the most sockets of
 * any kind the vnet may hold (default 65,536). With a value, set it first; returns the
 * limit. Sockets already open stay open; past the limit socket() fails with ENOBUFS and a
 * listener drops new connections (counted in tcpstat listendrop and the socket zone's
 * failures).
 */
export function maxSockets(kernel: Kernel, vnet: Vnet, value?: number): number {
  const v = vnetPtr(kernel, vnet, "sysctl kern.ipc.maxsockets");
  if (value !== undefined) integerArg("sysctl kern.ipc.maxsockets:", value, 1, I32_MAX);
  const r = kernel.enter(() => (kernel.k as unknown as IpcExports).so_maxsockets(v, value ?? 0));
  if (r < 0) throw new KernelError(`sysctl kern.ipc.maxsockets`, r);
  return r;
}

/** s, checked: a Socket (what TCP's option calls take). */
function tcpSocket(s: Socket, what: string): Socket {
  if (!(s instanceof Socket)) throw new ConfigError(`${what}: expected a Socket, got ${show(s)}`);
  return s;
}

/** TCP_NODELAY on or off. */
export function setNoDelay(s: Socket, on = true): void {
  tcpSocket(s, "TCP_NODELAY").setsockopt(IPPROTO_TCP, TCP.NODELAY, on);
}

/** The longest keepalive time the kernel takes, seconds (its timers count milliseconds in an i32). */
const KEEP_MAX_S = Math.floor(0x7fffffff / 1000);

/** SO_KEEPALIVE with optional idle / interval (seconds) and probe count. */
export function setKeepAlive(s: Socket, on: boolean, opts: { idle?: number; interval?: number; count?: number } = {}): void {
  // Checked together first (the kernel's ranges: seconds up to 2147483, 1-255 probes), so a bad one changes nothing.
  tcpSocket(s, "SO_KEEPALIVE");
  booleanArg("SO_KEEPALIVE: on", on);
  if (opts === null || typeof opts !== "object") throw new ConfigError(`SO_KEEPALIVE: options must be an object, got ${show(opts)}`);
  if (opts.idle !== undefined) integerArg("TCP_KEEPIDLE: idle", opts.idle, 1, KEEP_MAX_S, " seconds");
  if (opts.interval !== undefined) integerArg("TCP_KEEPINTVL: interval", opts.interval, 1, KEEP_MAX_S, " seconds");
  if (opts.count !== undefined) integerArg("TCP_KEEPCNT: count", opts.count, 1, 255, " probes");
  if (opts.idle !== undefined) s.setsockopt(IPPROTO_TCP, TCP.KEEPIDLE, opts.idle);
  if (opts.interval !== undefined) s.setsockopt(IPPROTO_TCP, TCP.KEEPINTVL, opts.interval);
  if (opts.count !== undefined) s.setsockopt(IPPROTO_TCP, TCP.KEEPCNT, opts.count);
  s.setsockopt(0xffff, 0x8, on);
}

/** TCP_CONGESTION: "newreno" or "cubic". */
export function setCongestion(s: Socket, algo: keyof typeof TCP_CC): void {
  tcpSocket(s, "TCP_CONGESTION");
  const v = typeof algo === "string" && Object.hasOwn(TCP_CC, algo) ? TCP_CC[algo] : undefined;
  if (v === undefined) throw new ConfigError(`TCP_CONGESTION: expected "newreno" or "cubic", got ${show(algo)}`);
  s.setsockopt(IPPROTO_TCP, TCP.CONGESTION, v);
}

/** The connection hash's default and largest size (assembly/netinet/tcp/tcp_var.ts). */
const TCP_HASH_SIZE = 1024;
/** assembly/netinet/tcp/tcp_var.ts */
const TCP_HASH_MAX = 16384;
/** kern.ipc.maxsockbuf, the most a buffer may grow to (assembly/sys/socket.ts). */
const SB_MAX = 2097152;
const I32_MAX = 0x7fffffff;

/** Each knob's selector (tcp_get / tcp_set) and the values it takes (the kernel's own checks, said first). */
const KNOBS = {
  "cc.algorithm": { id: 0, min: 0, max: 1, unit: " (0 newreno, 1 cubic)" },
  "sack.enable": { id: 1, min: 0, max: 1, unit: "" },
  rfc1323: { id: 2, min: 0, max: 1, unit: "" },
  syncookies: { id: 3, min: 0, max: 1, unit: "" },
  ack_limit: { id: 4, min: 0, max: I32_MAX, unit: " challenge ACKs per second" },
  maxtcpcb: { id: 5, min: 1, max: I32_MAX, unit: " tcpcbs" },
  tcbhashsize: { id: 6, min: TCP_HASH_SIZE, max: TCP_HASH_MAX, unit: ", a power of two" },
  sendbuf_auto: { id: 7, min: 0, max: 1, unit: "" },
  recvbuf_auto: { id: 8, min: 0, max: 1, unit: "" },
  sendbuf_max: { id: 9, min: 1, max: SB_MAX, unit: " bytes" },
  recvbuf_max: { id: 10, min: 1, max: SB_MAX, unit: " bytes" },
  "syncache.bucketlimit": { id: 11, min: 1, max: 65535, unit: " entries per bucket" },
  "syncache.cachelimit": { id: 12, min: 1, max: 1 << 20, unit: " entries" },
  syncookies_only: { id: 13, min: 0, max: 1, unit: "" },
  /** Read only: the entries the syncache holds. */
  "syncache.count": { id: 14, min: 0, max: -1, unit: "" },
  rst_limit: { id: 15, min: 0, max: I32_MAX, unit: " RSTs per second (0: no limit)" },
} as const;
export type TcpKnob = keyof typeof KNOBS;

/**
 * sysctl net.inet.tcp.<knob> of a vnet. `maxtcpcb` (default 65,536) is the most tcpcbs the
 * vnet may hold: listeners, connections and TIME_WAIT alike; past it socket() fails with
 * ENOBUFS and a listener drops the SYN (listendrop), and vmstat -z counts the failure.
 * `tcbhashsize` (default 1,024) is the number of connection hash buckets, a power of two
 * up to 16,384 (a 4 KiB page per 1,024, charged to the vnet); changing it rehashes the
 * connections the vnet holds. A vnet meant for tens of thousands of connections raises it.
 * `sendbuf_auto` / `recvbuf_auto` (default 1) let TCP grow a connection's send / receive
 * buffer while the connection fills it, up to `sendbuf_max` / `recvbuf_max` bytes (default
 * 2 MiB, at most kern.ipc.maxsockbuf 2 MiB; a buffer stops at sb_max_adj, 1,864,135 bytes);
 * SO_SNDBUF / SO_RCVBUF turn it off for that buffer (docs/tcp.md "Buffer autotuning").
 * `syncache.bucketlimit` (30) and `syncache.cachelimit` (15,360) bound the syncache's
 * embryonic connections per hash bucket and per vnet; `syncookies_only` (0) answers every
 * SYN with a cookie and keeps nothing; `syncache.count` (read only) is how many it holds.
 * `rst_limit` (200, FreeBSD's icmplim) is the most RSTs a second the vnet sends to segments
 * no connection wants (closed ports, bad ACKs to a listener); the rest are dropped and
 * counted (`tcpStats().rstlimited`). 0 removes the limit.
 */
export function tcpKnob(kernel: Kernel, vnet: Vnet, knob: TcpKnob, value?: number): number {
  const t = tcpModule(kernel, `sysctl net.inet.tcp.${String(knob)}`);
  if (typeof knob !== "string" || !Object.hasOwn(KNOBS, knob)) throw new ConfigError(`sysctl: unknown knob net.inet.tcp.${String(knob)} (known: ${Object.keys(KNOBS).join(", ")})`);
  const v = vnetPtr(kernel, vnet, `sysctl net.inet.tcp.${knob}`);
  const k = KNOBS[knob];
  if (value !== undefined) {
    if (k.max < k.min) throw new ConfigError(`sysctl net.inet.tcp.${knob} is read only`);
    integerArg(`sysctl net.inet.tcp.${knob}:`, value, k.min, k.max, k.unit);
    if (knob === "tcbhashsize" && (value & (value - 1)) !== 0) throw new ConfigError(`sysctl net.inet.tcp.tcbhashsize: must be a power of two from ${TCP_HASH_SIZE} to ${TCP_HASH_MAX}, got ${value}`);
    const r = kernel.enter(() => t.tcp_set(v, k.id, value));
    if (r !== 0) throw new KernelError(`sysctl net.inet.tcp.${knob}=${value}`, r);
  }
  return t.tcp_get(v, k.id);
}
