// Sockets from the host: a BSD-style call surface over the kernel's socket layer
// (assembly/kern/uipc_*.ts), sockaddr helpers, event dispatch and sockstat.
//
// Events. The kernel queues a socket on its event ring when something happens to it (at
// most once between two drains, however many packets arrive); after every kernel entry
// and clock tick the Kernel drains the ring (SocketRegistry.drain: one Wasm call per 256
// sockets, none per packet), records the bits on each Socket and dispatches them as
// events (lib/events.ts, Node's EventEmitter semantics) in a microtask: 'connect', 'readable', 'writable', 'acceptable',
// 'error' (only if someone listens: an unheard 'error' must not throw out of an unrelated
// kernel call), 'close'. 'readable' is an edge: it fires again only after a read returned
// null (EAGAIN) or emptied the buffer, so a reader reads until null. With a 'message'
// listener the socket does that itself and emits ('message', data, rinfo) per datagram.

import { Emitter } from "../lib/events.js";
import { PORT_RANK, checkVnet, type HostPort, type Kernel, type Vnet } from "../kern/kernel.js";
import { KernelError, WavnetError, ConfigError, Errno, errnoName } from "../lib/errors.js";
import { formatTable, show } from "../lib/format.js";
import { integerArg } from "../lib/check.js";

import { parseIPv4, parseIPv6, formatIPv4, formatIPv6, isIPv6Text } from "../lib/addr.js";
export { formatIPv4 };

export const AF_INET = 2;
export const AF_INET6 = 28;
export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_RAW = 3;
export const SOL_SOCKET = 0xffff;
/** Level and name of IPV6_V6ONLY (FreeBSD's values): setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 0) before bind makes an AF_INET6 socket dual-stack. */
export const IPPROTO_IPV6 = 41;
export const IPV6_V6ONLY = 27;
/** Level SOL_SOCKET option names (sys/socket.ts SO_*). */
export const SO = {
  DEBUG: 0x1, ACCEPTCONN: 0x2, REUSEADDR: 0x4, KEEPALIVE: 0x8, DONTROUTE: 0x10, BROADCAST: 0x20, LINGER: 0x80,
  OOBINLINE: 0x100, REUSEPORT: 0x200, REUSEPORT_LB: 0x10000, SNDBUF: 0x1001, RCVBUF: 0x1002, SNDLOWAT: 0x1003, RCVLOWAT: 0x1004,
  ERROR: 0x1007, TYPE: 0x1008, PROTOCOL: 0x1016,
} as const;
/** Flags of send and receive calls (sys/socket.ts MSG_*). */
export const MSG = { OOB: 0x1, PEEK: 0x2, DONTROUTE: 0x4, TRUNC: 0x10, DONTWAIT: 0x80 } as const;
/** Socket state bits, soh_info state (sys/socket.ts SS_*). */
export const SS = {
  NOFDREF: 0x1, ISCONNECTED: 0x2, ISCONNECTING: 0x4, ISDISCONNECTING: 0x8, CANTSENDMORE: 0x10, CANTRCVMORE: 0x20,
  NBIO: 0x100, ISDISCONNECTED: 0x2000,
} as const;
/** Event bits in the kernel's event records (sys/socket.ts SE_*). */
export const SE = { READABLE: 1, WRITABLE: 2, CONNECTED: 4, CLOSED: 8, ERROR: 16, ACCEPTABLE: 32 } as const;
const SOCK_MAXADDRLEN = 128;
const IOBUF_SIZE = 65536;
const EV_BATCH = 256;

export interface SocketExports {
  kern_iobuf(): number;
  kern_sabuf(): number;
  soh_error(): number;
  soh_socket(v: number, domain: number, type: number, protocol: number): number;
  soh_bind(so: number, salen: number): number;
  soh_connect(so: number, salen: number): number;
  soh_listen(so: number, backlog: number): number;
  soh_accept(so: number): number;
  soh_sendto(so: number, len: number, salen: number, flags: number): number;
  soh_recvfrom(so: number, maxlen: number, flags: number): number;
  soh_recvflags(): number;
  soh_shutdown(so: number, how: number): number;
  soh_close(so: number): number;
  soh_setsockopt(so: number, level: number, name: number, val: number): number;
  soh_getsockopt(so: number, level: number, name: number): number;
  soh_sockname(so: number): number;
  soh_peername(so: number): number;
  soh_info(so: number, what: number): number;
  kern_statbuf(): number;
  soh_stat(so: number): number;
  soh_alive(so: number, serial: number): number;
  soh_first(v: number): number;
  soh_next(so: number): number;
  soh_count(v: number): number;
  soh_ev_drain(): number;
  soh_ev_out(): number;
  soh_ev_lost_closed(): number;
  soh_ev_stat(what: number): number;
  ifh_lookup(v: number, len: number): number;
  ifh_info(ifp: number, what: number): number;
  ifh_first(v: number): number;
  ifh_next(ifp: number): number;
  ifh_name(ifp: number): number;
}

const INFO = {
  serial: 0, vnet: 1, family: 2, type: 3, protocol: 4, state: 5, options: 6, error: 7, rcvBytes: 8, rcvLimit: 9,
  rcvDrops: 10, rcvRecords: 11, sndBytes: 12, sndLimit: 13, acceptQueue: 14, incompleteQueue: 15, backlog: 16,
  pendingEvents: 17, rcvStorage: 18, linger: 19, rcvStorageLimit: 20,
} as const;
export type SocketInfo = Record<keyof typeof INFO, number>;
const INFO_NAMES = Object.keys(INFO) as (keyof typeof INFO)[];

/** The fields soh_stat left in the stat window. */
function readInfo(w: KernelWindows): SocketInfo {
  const out = {} as SocketInfo;
  const f = w.stat >>> 3;
  for (const name of INFO_NAMES) out[name] = w.f64[f + INFO[name]];
  return out;
}

function x(kernel: Kernel): SocketExports {
  return kernel.k as unknown as SocketExports;
}

// ---------------------------------------------------------------------------------------
// Addresses

export interface SockAddrIn {
  family: "inet";
  address: string;
  port: number;
}
export interface SockAddrIn6 {
  family: "inet6";
  /**
   * RFC 5952 text, "::" for the unspecified address. A link-local peer's carries its zone
   * as Node prints it, "fe80::1%epair0b" (the interface name; given, a number is taken too).
   */
  address: string;
  port: number;
  /** sin6_scope_id: the interface index of a link-local address's link (0 or absent: none). */
  scopeId?: number;
}
/** A sockaddr of a family the host does not decode: its bytes (sa_len, sa_family, ...). */
export interface SockAddrRaw {
  family: number;
  bytes: Uint8Array;
}
export type SockAddr = SockAddrIn | SockAddrIn6 | SockAddrRaw;
/** What the calls taking an address accept: "10.0.0.1" or "fd00::1" with a port, a SockAddr, or sockaddr bytes. */
export type AddressLike = string | SockAddr | Uint8Array;

/** struct sockaddr_in (BSD, 16 bytes): sin_len 16, AF_INET, port and address in network order, 8 zeros. */
export function sockaddrIn(address: string, port: number): Uint8Array {
  checkPort(port);
  const b = new Uint8Array(16);
  const dv = new DataView(b.buffer);
  b[0] = 16;
  b[1] = AF_INET;
  dv.setUint16(2, port, false);
  dv.setUint32(4, parseIPv4(address, "address"), false);
  return b;
}

/**
 * The zones of one vnet's link-local addresses: interface name <-> index (sin6_scope_id).
 * Without one (a bare sockaddrIn6) a zone must be a number.
 */
export interface ZoneNames {
  index(name: string): number;
  name(index: number): string | undefined;
}

/** The ZoneNames of vnet: its interfaces by name (an unknown name is a ConfigError naming the vnet). */
export function zoneNames(kernel: Kernel, vnet: Vnet): ZoneNames {
  const k = x(kernel);
  return {
    index(name: string): number {
      if (!/^[A-Za-z][A-Za-z0-9_.]{0,14}$/.test(name)) throw new ConfigError(`zone %${name}: not an interface name or index`);
      const buf = new Uint8Array(kernel.memory.buffer, k.kern_iobuf(), name.length);
      for (let i = 0; i < name.length; i++) buf[i] = name.charCodeAt(i);
      const ifp = k.ifh_lookup(vnet.ptr, name.length);
      if (ifp === 0) throw new ConfigError(`zone %${name}: vnet "${vnet.name}" has no interface ${name}`);
      return k.ifh_info(ifp, 0);
    },
    name(index: number): string | undefined {
      for (let p = k.ifh_first(vnet.ptr); p !== 0; p = k.ifh_next(p)) {
        if (k.ifh_info(p, 0) === index) return kernel.cstring(k.ifh_name(p), 16);
      }
      return undefined;
    },
  };
}

/** A zone's text ("epair0b" or "3") as a scope id. */
function zoneId(zone: string, zones: ZoneNames | undefined, address: string): number {
  if (/^[0-9]+$/.test(zone)) {
    const n = Number(zone);
    if (n > 0xffffffff) throw new ConfigError(`address ${show(address)}: scope id ${zone} is more than 32 bits`);
    return n;
  }
  if (!zones) throw new ConfigError(`address ${show(address)}: zone %${zone} is a name; only a socket knows its vnet's interfaces (give the index)`);
  return zones.index(zone);
}

/**
 * struct sockaddr_in6 (BSD, 28 bytes): sin6_len 28, AF_INET6, port, flow info 0, address,
 * scope id (host order, as FreeBSD's): scopeId, or the zone of "fe80::1%epair0b" / "fe80::1%2".
 */
export function sockaddrIn6(address: string, port: number, scopeId?: number, zones?: ZoneNames): Uint8Array {
  checkPort(port);
  const b = new Uint8Array(28);
  b[0] = 28;
  b[1] = AF_INET6;
  const dv = new DataView(b.buffer);
  dv.setUint16(2, port, false);
  const pct = typeof address === "string" ? address.indexOf("%") : -1;
  b.set(parseIPv6(pct < 0 ? address : address.slice(0, pct), "address"), 8);
  let id = 0;
  if (pct >= 0) {
    if (pct === address.length - 1) throw new ConfigError(`address ${show(address)}: the zone after "%" is empty`);
    id = zoneId(address.slice(pct + 1), zones, address);
  }
  if (scopeId !== undefined && scopeId !== 0) {
    if (!Number.isInteger(scopeId) || scopeId < 0 || scopeId > 0xffffffff) throw new ConfigError(`scopeId: must be an interface index (an integer 0-4294967295), got ${show(scopeId)}`);
    if (id !== 0 && id !== scopeId) throw new ConfigError(`address ${show(address)}: its zone and scopeId ${scopeId} differ`);
    id = scopeId;
  }
  dv.setUint32(24, id, true);
  return b;
}

/** Decode sockaddr bytes (undefined for sa_len 0: no address); zones name a scope id's interface. */
export function parseSockaddr(b: Uint8Array, zones?: ZoneNames): SockAddr | undefined {
  if (!(b instanceof Uint8Array)) throw new ConfigError(`parseSockaddr: expected sockaddr bytes (a Uint8Array), got ${show(b)}`);
  if (b.length < 2 || b[0] === 0) return undefined;
  const len = Math.min(b[0], b.length);
  if (b[1] === AF_INET && len >= 16) {
    const dv = new DataView(b.buffer, b.byteOffset, len);
    return { family: "inet", address: formatIPv4(dv.getUint32(4, false)), port: dv.getUint16(2, false) };
  }
  if (b[1] === AF_INET6 && len >= 28) {
    const dv = new DataView(b.buffer, b.byteOffset, len);
    const scopeId = dv.getUint32(24, true);
    const address = formatSockIPv6(b.subarray(8, 24));
    if (scopeId === 0) return { family: "inet6", address, port: dv.getUint16(2, false) };
    return { family: "inet6", address: `${address}%${zones?.name(scopeId) ?? scopeId}`, port: dv.getUint16(2, false), scopeId };
  }
  return { family: b[1], bytes: b.slice(0, len) };
}

/**
 * A socket's IPv6 address as text: RFC 5952, but a v4-mapped one (a dual-stack socket's IPv4
 * peer) in the mixed form of RFC 5952 5, ::ffff:192.0.2.1, as inet_ntop and Node print it.
 */
function formatSockIPv6(a: Uint8Array): string {
  for (let i = 0; i < 10; i++) if (a[i] !== 0) return formatIPv6(a.slice());
  if (a[10] !== 0xff || a[11] !== 0xff) return formatIPv6(a.slice());
  return `::ffff:${a[12]}.${a[13]}.${a[14]}.${a[15]}`;
}

export function formatSockaddr(sa: SockAddr | undefined): string {
  if (!sa) return "*:*";
  if (typeof sa !== "object" || (sa.family !== "inet" && sa.family !== "inet6" && !((sa as SockAddrRaw).bytes instanceof Uint8Array))) {
    throw new ConfigError(`formatSockaddr: expected a SockAddr ({ family, address, port } or { family, bytes }), got ${show(sa)}`);
  }
  if (sa.family === "inet") return `${sa.address === "0.0.0.0" ? "*" : sa.address}:${sa.port === 0 ? "*" : sa.port}`;
  if (sa.family === "inet6") return `${sa.address === "::" ? "*" : `[${sa.address}]`}:${sa.port === 0 ? "*" : sa.port}`;
  return `af${sa.family}:${[...sa.bytes.subarray(2)].map((v) => v.toString(16).padStart(2, "0")).join("")}`;
}

function toSockaddr(a: AddressLike, port: number | undefined, what: string, zones?: ZoneNames): Uint8Array {
  if (a instanceof Uint8Array) {
    // sa_len 0 takes the length of the bytes, as FreeBSD's getsockaddr takes the call's
    // length argument (a bzero'd sockaddr_in binds: socket_afinet.c bind_zero).
    if (a.length >= 2 && a.length <= SOCK_MAXADDRLEN && a[0] === 0) {
      const b = a.slice();
      b[0] = a.length;
      return b;
    }
    if (a.length < 2 || a.length > SOCK_MAXADDRLEN || a[0] !== a.length) throw new ConfigError(`${what}: sockaddr bytes must start with their length (2-128), got ${a.length} bytes with sa_len ${a[0]}`);
    return a;
  }
  if (typeof a === "string") {
    if (port === undefined) throw new ConfigError(`${what}: a port is needed with address ${a}`);
    return isIPv6Text(a) ? sockaddrIn6(a, port, undefined, zones) : sockaddrIn(a, port);
  }
  if (a === null || typeof a !== "object") throw new ConfigError(`${what}: an address is "10.0.0.1" (with a port), { family, address, port } or sockaddr bytes, got ${show(a)}`);
  if (a.family === "inet") return sockaddrIn(a.address, a.port);
  if (a.family === "inet6") return sockaddrIn6(a.address, a.port, a.scopeId, zones);
  if (!((a as SockAddrRaw).bytes instanceof Uint8Array)) throw new ConfigError(`${what}: an address of family ${show(a.family)} needs its sockaddr bytes`);
  return toSockaddr(a.bytes, undefined, what);
}

function addrText(sa: Uint8Array, zones?: ZoneNames): string {
  return formatSockaddr(parseSockaddr(sa, zones));
}

/** Dotted addresses already parsed (a program talks to few): connect/sendto skip the regex. */
const ipCache = new Map<string, number>();
const IP_CACHE_MAX = 4096;

function cachedIPv4(address: string): number {
  let a = ipCache.get(address);
  if (a === undefined) {
    a = parseIPv4(address, "address");
    if (ipCache.size >= IP_CACHE_MAX) ipCache.clear();
    ipCache.set(address, a);
  }
  return a;
}

function checkPort(port: number): void {
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`port must be an integer from 0 to 65535, got ${show(port)}`);
}

const ENCODER = new TextEncoder();

// ---------------------------------------------------------------------------------------
// Errors

/** A socket call failed: `code` is the errno's name (EADDRINUSE, ...), as Node's errors have. */
export class SocketError extends KernelError {
  readonly code: string;
  constructor(readonly call: string, errno: number) {
    super(call, errno);
    this.code = errnoName(errno);
  }
}

/** A call on a Socket that is closed (by close(), or by the kernel: vnet gone, protocol unloaded). */
export class SocketClosedError extends WavnetError {}

// ---------------------------------------------------------------------------------------
// Views of kernel memory

/**
 * The windows the socket calls use (I/O buffer, sockaddr buffer, soh_stat's fields) as
 * views made once, and again only when memory has grown (a grown Memory detaches the old
 * ArrayBuffer); the calls copy through these instead of making a view per call.
 */
class KernelWindows {
  readonly u8: Uint8Array;
  readonly u32: Uint32Array;
  readonly f64: Float64Array;
  constructor(readonly buf: ArrayBuffer, readonly iobuf: number, readonly sabuf: number, readonly stat: number) {
    this.u8 = new Uint8Array(buf);
    this.u32 = new Uint32Array(buf, 0, buf.byteLength >>> 2);
    this.f64 = new Float64Array(buf, 0, buf.byteLength >>> 3);
  }
}

// ---------------------------------------------------------------------------------------
// Event drain and dispatch

/**
 * The open sockets by serial: a hash table chained through Socket._hnext (no allocation per
 * entry). Not a Map: a Map that gains and loses an entry per socket rehashes into a new
 * backing table every few operations, and V8 links each retired table to its successor
 * (for live iterators) with its entries still in it, so one retired table that survives a
 * scavenge keeps every later one, and the sockets in them, alive until the next full GC:
 * in a connect/accept/close loop that promoted megabytes per scavenge and cost about a
 * fifth of the loop's time. Buckets double when the table holds more sockets than
 * buckets; serials are handed out in sequence, so the low bits spread them.
 */
class SocketTable {
  #buckets: (Socket | null)[] = new Array<Socket | null>(64).fill(null);
  #mask = 63;
  size = 0;

  set(s: Socket): void {
    const i = s.serial & this.#mask;
    s._hnext = this.#buckets[i];
    this.#buckets[i] = s;
    if (++this.size > this.#buckets.length) this.#grow();
  }

  get(serial: number): Socket | undefined {
    for (let s = this.#buckets[serial & this.#mask]; s !== null; s = s._hnext) if (s.serial === serial) return s;
    return undefined;
  }

  delete(serial: number): void {
    const i = serial & this.#mask;
    let prev: Socket | null = null;
    for (let s = this.#buckets[i]; s !== null; prev = s, s = s._hnext) {
      if (s.serial !== serial) continue;
      if (prev === null) this.#buckets[i] = s._hnext;
      else prev._hnext = s._hnext;
      s._hnext = null;
      this.size--;
      return;
    }
  }

  /** Every socket, oldest (lowest serial) first, as a Map would have listed them. */
  values(): Socket[] {
    const out: Socket[] = [];
    for (const head of this.#buckets) for (let s = head; s !== null; s = s._hnext) out.push(s);
    return out.sort((a, b) => a.serial - b.serial);
  }

  #grow(): void {
    const old = this.#buckets;
    this.#buckets = new Array<Socket | null>(old.length * 2).fill(null);
    this.#mask = this.#buckets.length - 1;
    for (let head of old) {
      while (head !== null) {
        const next = head._hnext;
        const i = head.serial & this.#mask;
        head._hnext = this.#buckets[i];
        this.#buckets[i] = head;
        head = next;
      }
    }
  }
}

const registries = new WeakMap<Kernel, SocketRegistry>();

/**
 * The kernel's socket registry, made on first use and attached to the kernel as a host port:
 * drained after every kernel entry and clock tick, closed (vnet0's sockets) at shutdown.
 */
export function registryOf(kernel: Kernel): SocketRegistry {
  let r = registries.get(kernel);
  if (r === undefined) {
    r = new SocketRegistry(kernel);
    registries.set(kernel, r);
    kernel.attachPort(r, PORT_RANK.sockets);
  }
  return r;
}

/** The sockets a Kernel has handed out, by serial; drains the kernel's event ring. */
export class SocketRegistry implements HostPort {
  readonly #bySerial = new SocketTable();
  /** Sockets with events to dispatch; their bits wait in Socket._evbits (no map per drain). */
  #queue: (Socket | null)[] = [];
  #spare: (Socket | null)[] | undefined = [];
  #scheduled = false;
  #draining = false;
  readonly #flushLater = (): void => this.flush();
  #win?: KernelWindows;
  /** Counters: drain calls that found records, records read, events emitted. */
  readonly stats = { drains: 0, records: 0, dispatches: 0, rescans: 0 };

  constructor(private readonly kernel: Kernel) {}

  /** @internal HostPort: after every kernel entry. */
  drain(): void {
    this.drainEvents(this.kernel);
  }

  /** @internal HostPort: the kernel shuts down; vnet0 is never destroyed, so its sockets are closed here (the others go with their vnets). */
  close(): void {
    for (const so of this.all()) if (so.vnet === this.kernel.vnet0) so.close();
  }

  /** @internal */
  add(s: Socket): void {
    this.#bySerial.set(s);
  }

  /** @internal */
  remove(s: Socket): void {
    this.#bySerial.delete(s.serial);
  }

  /**
   * @internal the host closed s: what was still to be dispatched is dropped, and the queue
   * lets go of it now (a loop that opens and closes many sockets without yielding would
   * otherwise keep every one alive until the next microtask).
   */
  forget(s: Socket): void {
    this.#bySerial.delete(s.serial);
    if (s._evbits !== 0) {
      const q = s._evq;
      if (q !== null && q[s._evslot] === s) q[s._evslot] = null;
      s._evbits = 0;
      s._evq = null;
    }
  }

  get size(): number {
    return this.#bySerial.size;
  }

  /** Every open Socket the host holds (a copy). */
  all(): Socket[] {
    return this.#bySerial.values();
  }

  /** The open Socket with this serial, if the host holds one. */
  get(serial: number): Socket | undefined {
    return this.#bySerial.get(serial);
  }

  /** @internal the memory windows of this kernel, current after any growth. */
  windows(kernel: Kernel): KernelWindows {
    const w = this.#win;
    // Growing memory detaches the old buffer, whose views then have length 0: a cheaper
    // test than asking the Memory for its buffer on every call.
    if (w !== undefined && w.u8.length !== 0) return w;
    const buf = kernel.memory.buffer;
    const k = x(kernel);
    return (this.#win = new KernelWindows(buf, w?.iobuf ?? k.kern_iobuf(), w?.sabuf ?? k.kern_sabuf(), w?.stat ?? k.kern_statbuf()));
  }

  /** @internal after every kernel entry: read the kernel's event records. */
  drainEvents(kernel: Kernel): void {
    if (this.#draining) return;
    this.#draining = true;
    try {
      const k = x(kernel);
      for (;;) {
        const n = k.soh_ev_drain();
        if (n === 0) break;
        this.stats.drains++;
        this.stats.records += n;
        const u32 = this.windows(kernel).u32;
        // Records are 16 bytes, 4-aligned: socket, serial, bits, error (i32).
        const out = k.soh_ev_out() >>> 2;
        for (let i = 0; i < n; i++) {
          const e = out + i * 4;
          const s = this.#bySerial.get(u32[e + 1]);
          if (!s || s.ptr !== u32[e]) continue; // not ours (queued for accept) or stale
          this.#note(s, u32[e + 2], u32[e + 3] | 0);
        }
        if (n < EV_BATCH) break;
      }
      // Closes that found the ring full: ask about every socket we hold.
      if (k.soh_ev_lost_closed() > 0) {
        this.stats.rescans++;
        for (const s of this.#bySerial.values()) {
          if (!k.soh_alive(s.ptr, s.serial)) this.#note(s, SE.CLOSED | SE.ERROR, Errno.ECONNABORTED);
        }
      }
    } finally {
      this.#draining = false;
    }
  }

  #note(s: Socket, bits: number, err: number): void {
    if (bits & SE.CLOSED) {
      s._closedByKernel(err);
      this.remove(s);
    }
    if (s._evbits === 0) {
      s._evq = this.#queue;
      s._evslot = this.#queue.length;
      this.#queue.push(s);
    }
    s._evbits |= bits;
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(this.#flushLater);
    }
  }

  /** Dispatch what the drains recorded (runs in a microtask; callable to dispatch now). */
  flush(): void {
    this.#scheduled = false;
    // Swap the queue out first: a listener's kernel call notes into the fresh one.
    const batch = this.#queue;
    this.#queue = this.#spare ?? [];
    this.#spare = undefined; // a flush from inside a listener takes a fresh array
    for (let i = 0; i < batch.length; i++) {
      const s = batch[i];
      if (s === null) continue;
      const bits = s._evbits;
      s._evbits = 0;
      s._evq = null;
      if (bits !== 0) this.stats.dispatches += s._dispatch(bits);
    }
    batch.length = 0;
    this.#spare = batch;
  }
}

// ---------------------------------------------------------------------------------------
// The socket

export interface Datagram {
  data: Uint8Array;
  /** The sender (undefined if the protocol gives none, as on a stream). */
  address?: SockAddr;
  /** The datagram was longer than maxlen: the rest was discarded (MSG_TRUNC). */
  truncated: boolean;
}

const FAMILY_NAMES: Record<number, string> = { [AF_INET]: "inet", [AF_INET6]: "inet6" };
const TYPE_NAMES: Record<number, string> = { [SOCK_STREAM]: "stream", [SOCK_DGRAM]: "dgram", [SOCK_RAW]: "raw" };

export class Socket extends Emitter {
  readonly serial: number;
  readonly family: number;
  readonly type: number;
  readonly protocol: number;
  /** @internal event bits noted by the registry and not yet dispatched, and where it queued them. */
  _evbits = 0;
  _evq: (Socket | null)[] | null = null;
  _evslot = 0;
  /** @internal the next socket on the registry's hash chain. */
  _hnext: Socket | null = null;
  #closed: "" | "host" | "kernel" = "";
  #closeErrno = 0;
  #reading = false;
  #truncated = false;
  /** An error the kernel reported after recvInto had already read bytes: thrown by the next read. */
  #deferredErr = 0;
  /** The same for a stream send that had already handed bytes over: thrown by the next send. */
  #deferredSendErr = 0;

  readonly #reg: SocketRegistry;
  #zoneNames: ZoneNames | undefined;
  /** Interface names <-> scope ids in this socket's vnet ("fe80::1%epair0b"), made on first use. */
  get #zones(): ZoneNames {
    return (this.#zoneNames ??= zoneNames(this.kernel, this.vnet));
  }

  /** @internal use socket() or accept() */
  constructor(private readonly kernel: Kernel, readonly vnet: Vnet, readonly ptr: number) {
    super();
    this.#reg = registryOf(kernel);
    // One call for the identity (soh_stat: every field into the stat window), not one per field.
    if (x(kernel).soh_stat(ptr) !== 0) throw new SocketError(`socket #? in vnet ${vnet.name}`, -Errno.EBADF);
    const w = this.#reg.windows(kernel);
    const f = w.stat >>> 3;
    this.serial = w.f64[f + INFO.serial];
    this.family = w.f64[f + INFO.family];
    this.type = w.f64[f + INFO.type];
    this.protocol = w.f64[f + INFO.protocol];
    this.#reg.add(this);
  }

  get closed(): boolean {
    return this.#closed !== "";
  }

  /** The last recvInto on a datagram socket cut the datagram to the buffer's length (MSG_TRUNC). */
  get recvTruncated(): boolean {
    return this.#truncated;
  }

  /** "dgram socket #3 in vnet a" */
  toString(): string {
    return `${TYPE_NAMES[this.type] ?? `type ${this.type}`} socket #${this.serial} in vnet ${this.vnet.name}`;
  }

  #check(call: string): SocketExports {
    if (this.#closed === "host") throw new SocketClosedError(`${call}: ${this} is closed`);
    if (this.#closed === "kernel") {
      throw new SocketClosedError(`${call}: ${this} was closed by the kernel (${errnoName(this.#closeErrno || Errno.ECONNABORTED)}: its vnet was destroyed or its protocol unloaded)`);
    }
    return x(this.kernel);
  }

  /** Put an address into the kernel's sockaddr window; its length. A dotted string is written in place (no sockaddr object). */
  #putAddress(a: AddressLike, port: number | undefined, what: string): number {
    const w = this.#reg.windows(this.kernel);
    const u8 = w.u8;
    const p = w.sabuf;
    if (typeof a === "string" && !isIPv6Text(a)) {
      if (port === undefined) throw new ConfigError(`${what}: a port is needed with address ${a}`);
      checkPort(port);
      const ip = cachedIPv4(a);
      u8[p] = 16;
      u8[p + 1] = AF_INET;
      u8[p + 2] = port >>> 8;
      u8[p + 3] = port & 0xff;
      u8[p + 4] = ip >>> 24;
      u8[p + 5] = (ip >>> 16) & 0xff;
      u8[p + 6] = (ip >>> 8) & 0xff;
      u8[p + 7] = ip & 0xff;
      u8.fill(0, p + 8, p + 16);
      return 16;
    }
    const sa = toSockaddr(a, port, what, this.#zones);
    u8.set(sa, p);
    return sa.length;
  }

  #readSabuf(): Uint8Array {
    const w = this.#reg.windows(this.kernel);
    return w.u8.slice(w.sabuf, w.sabuf + Math.min(w.u8[w.sabuf], SOCK_MAXADDRLEN));
  }

  #fail(call: string, r: number): never {
    throw new SocketError(`${call} (${this})`, r);
  }

  /** bind(2): bind("127.0.0.1", 7), bind({ family: "inet", address, port }), or sockaddr bytes. */
  bind(address: AddressLike, port?: number): this {
    const k = this.#check("bind");
    const salen = this.#putAddress(address, port, "bind");
    const r = this.kernel.call(k.soh_bind, this.ptr, salen);
    if (r !== 0) this.#fail(`bind ${addrText(toSockaddr(address, port, "bind", this.#zones), this.#zones)}`, r);
    return this;
  }

  /** connect(2): true when connected now; false when in progress ('connect' follows). */
  connect(address: AddressLike, port?: number): boolean {
    const k = this.#check("connect");
    const salen = this.#putAddress(address, port, "connect");
    const r = this.kernel.call(k.soh_connect, this.ptr, salen);
    if (r === -Errno.EINPROGRESS) return false;
    if (r !== 0) this.#fail(`connect ${addrText(toSockaddr(address, port, "connect", this.#zones), this.#zones)}`, r);
    return true;
  }

  /** listen(2); backlog defaults to SOMAXCONN. */
  listen(backlog = -1): this {
    const k = this.#check("listen");
    integerArg(`listen (${this}): backlog`, backlog, -1, 0x7fffffff, " (-1: SOMAXCONN)");
    const r = this.kernel.call(k.soh_listen, this.ptr, backlog);
    if (r !== 0) this.#fail("listen", r);
    return this;
  }

  /** accept(2): the next connection, or null if none waits ('acceptable' says when one does). */
  accept(): Socket | null {
    const k = this.#check("accept");
    const c = this.kernel.call(k.soh_accept, this.ptr);
    if (c === 0) {
      const e = k.soh_error();
      if (e === -Errno.EAGAIN) return null;
      this.#fail("accept", e);
    }
    const s = new Socket(this.kernel, this.vnet, c);
    // The constructor's soh_stat left every field in the window: data or EOF that arrived
    // while the connection was queued was announced to nobody, so announce it now.
    const w = this.#reg.windows(this.kernel);
    const f = w.stat >>> 3;
    if (w.f64[f + INFO.rcvBytes] > 0 || (w.f64[f + INFO.state] & SS.CANTRCVMORE) !== 0) s._announce(SE.READABLE);
    return s;
  }

  /**
   * sendto(2): bytes taken. A datagram goes whole or not at all (at most 64 KiB, the I/O
   * buffer). A stream socket takes what fits in its send buffer, from any length of data:
   * more than the 64 KiB I/O buffer goes in several kernel calls until the kernel takes less
   * than it was offered; 0 (and 'writable' later) when nothing fits.
   */
  sendto(data: Uint8Array | string, address?: AddressLike, port?: number, flags = 0): number {
    const k = this.#check("sendto");
    if (this.#deferredSendErr !== 0) {
      const e = this.#deferredSendErr;
      this.#deferredSendErr = 0;
      this.#fail(address !== undefined ? "sendto" : "send", e);
    }
    if (typeof data !== "string" && !(data instanceof Uint8Array)) throw new ConfigError(`sendto (${this}): data must be a Uint8Array or a string, got ${show(data)}`);
    checkFlags(flags, `sendto (${this})`);
    const bytes = typeof data === "string" ? ENCODER.encode(data) : data;
    const stream = this.type === SOCK_STREAM;
    if (!stream && bytes.length > IOBUF_SIZE) throw new SocketError(`sendto (${this}): ${bytes.length} bytes is more than one call carries (${IOBUF_SIZE})`, -Errno.EMSGSIZE);
    const kernel = this.kernel;
    const ptr = this.ptr;
    let off = 0;
    for (;;) {
      const len = Math.min(bytes.length - off, IOBUF_SIZE);
      const salen = address === undefined ? 0 : this.#putAddress(address, port, "sendto");
      const w = registryOf(kernel).windows(kernel);
      w.u8.set(len === bytes.length ? bytes : bytes.subarray(off, off + len), w.iobuf);
      const r = kernel.call(k.soh_sendto, ptr, len, salen, flags);
      if (r < 0) {
        if (off > 0) {
          // The kernel reports so_error once: keep it for the next send.
          if (r !== -Errno.EAGAIN) this.#deferredSendErr = r;
          return off;
        }
        if (r === -Errno.EAGAIN && stream) return 0;
        this.#fail(address !== undefined ? `sendto ${addrText(toSockaddr(address, port, "sendto", this.#zones), this.#zones)}` : "send", r);
      }
      off += r;
      if (!stream || r < len || off >= bytes.length) return off;
    }
  }

  /** send(2) on a connected socket. */
  send(data: Uint8Array | string, flags = 0): number {
    return this.sendto(data, undefined, undefined, flags);
  }

  /** One soh_recvfrom of up to maxlen bytes into the I/O buffer: bytes, or a negative errno. */
  #recvIo(k: SocketExports, maxlen: number, flags: number): number {
    const ptr = this.ptr;
    return this.kernel.call(k.soh_recvfrom, ptr, maxlen, flags);
  }

  #throwDeferred(call: string): void {
    const e = this.#deferredErr;
    this.#deferredErr = 0;
    this.#fail(call, e);
  }

  /**
   * recvfrom(2): one datagram (or up to maxlen stream bytes) with its sender, or null when
   * nothing is queued (EAGAIN: 'readable' will say when). A zero-length result on a stream
   * socket is the end of the stream.
   */
  recvfrom(maxlen = IOBUF_SIZE, flags = 0): Datagram | null {
    const k = this.#check("recvfrom");
    if (!Number.isInteger(maxlen) || maxlen < 0 || maxlen > IOBUF_SIZE) throw new ConfigError(`recvfrom: maxlen must be an integer from 0 to ${IOBUF_SIZE}, got ${show(maxlen)}`);
    checkFlags(flags, `recvfrom (${this})`);
    if (this.#deferredErr !== 0) this.#throwDeferred("recvfrom");
    const r = this.#recvIo(k, maxlen, flags);
    if (r === -Errno.EAGAIN) return null;
    if (r < 0) this.#fail("recvfrom", r);
    const w = this.#reg.windows(this.kernel);
    const data = w.u8.slice(w.iobuf, w.iobuf + r);
    return { data, address: parseSockaddr(this.#readSabuf(), this.#zones), truncated: (k.soh_recvflags() & MSG.TRUNC) !== 0 };
  }

  /** recv(2): the data only (a new Uint8Array), or null when nothing is queued. */
  recv(maxlen = IOBUF_SIZE, flags = 0): Uint8Array | null {
    const k = this.#check("recv");
    if (!Number.isInteger(maxlen) || maxlen < 0 || maxlen > IOBUF_SIZE) throw new ConfigError(`recv: maxlen must be an integer from 0 to ${IOBUF_SIZE}, got ${show(maxlen)}`);
    checkFlags(flags, `recv (${this})`);
    if (this.#deferredErr !== 0) this.#throwDeferred("recv");
    const r = this.#recvIo(k, maxlen, flags);
    if (r === -Errno.EAGAIN) return null;
    if (r < 0) this.#fail("recv", r);
    const w = this.#reg.windows(this.kernel);
    return w.u8.slice(w.iobuf, w.iobuf + r);
  }

  /**
   * recv(2) into the caller's buffer (no allocation, one copy out of the kernel): the number
   * of bytes written at buf[0..], null when nothing is queued (EAGAIN), 0 at the end of a
   * stream. A stream socket fills buf as far as the receive buffer goes, in 64 KiB kernel
   * calls if buf is larger; a datagram socket reads one datagram, cut to buf's length
   * (recvTruncated says so). An error the kernel reports after some bytes were read is
   * thrown by the next read.
   */
  recvInto(buf: Uint8Array, flags = 0): number | null {
    const k = this.#check("recvInto");
    if (!(buf instanceof Uint8Array) || buf.length === 0) throw new ConfigError(`recvInto: buf must be a non-empty Uint8Array, got ${buf instanceof Uint8Array ? "an empty one" : show(buf)}`);
    checkFlags(flags, `recvInto (${this})`);
    if (this.#deferredErr !== 0) this.#throwDeferred("recvInto");
    const stream = this.type === SOCK_STREAM;
    const once = !stream || (flags & MSG.PEEK) !== 0;
    const kernel = this.kernel;
    let got = 0;
    for (;;) {
      const want = Math.min(buf.length - got, IOBUF_SIZE);
      const r = this.#recvIo(k, want, flags);
      if (r < 0) {
        if (got > 0) {
          if (r !== -Errno.EAGAIN) this.#deferredErr = r;
          return got;
        }
        if (r === -Errno.EAGAIN) return null;
        this.#fail("recvInto", r);
      }
      const w = registryOf(kernel).windows(kernel);
      buf.set(w.u8.subarray(w.iobuf, w.iobuf + r), got);
      got += r;
      if (once) {
        this.#truncated = !stream && (k.soh_recvflags() & MSG.TRUNC) !== 0;
        return got;
      }
      // Less than asked: the buffer is empty (or at EOF); don't pay for an EAGAIN call.
      if (r < want || got === buf.length) return got;
    }
  }

  /** shutdown(2): "read", "write" or "both" (or SHUT_RD 0, SHUT_WR 1, SHUT_RDWR 2). */
  shutdown(how: "read" | "write" | "both" | 0 | 1 | 2 = "both"): void {
    const k = this.#check("shutdown");
    const h = how === "read" ? 0 : how === "write" ? 1 : how === "both" ? 2 : how;
    if (h !== 0 && h !== 1 && h !== 2) throw new ConfigError(`shutdown (${this}): how must be "read", "write", "both" or 0, 1, 2, got ${show(how)}`);
    const r = this.kernel.call(k.soh_shutdown, this.ptr, h);
    if (r !== 0) this.#fail(`shutdown ${how}`, r);
  }

  /** close(2). Closing twice is a no-op; any other call afterwards throws SocketClosedError. */
  close(): void {
    if (this.#closed) return;
    const k = x(this.kernel);
    this.#closed = "host";
    this.#reg.forget(this);
    this.kernel.call(k.soh_close, this.ptr);
  }

  setsockopt(level: number, name: number, value: number | boolean): void {
    const k = this.#check("setsockopt");
    checkOpt(level, name, `setsockopt (${this})`);
    const v = typeof value === "boolean" ? (value ? 1 : 0) : value;
    if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) throw new ConfigError(`setsockopt ${optName(level, name)}: value must be a 32-bit integer or boolean, got ${show(value)}`);
    const r = this.kernel.call(k.soh_setsockopt, this.ptr, level, name, v);
    if (r !== 0) this.#fail(`setsockopt ${optName(level, name)}=${v}`, r);
  }

  getsockopt(level: number, name: number): number {
    const k = this.#check("getsockopt");
    checkOpt(level, name, `getsockopt (${this})`);
    const r = this.kernel.call(k.soh_getsockopt, this.ptr, level, name);
    if (r !== 0) this.#fail(`getsockopt ${optName(level, name)}`, r);
    return this.kernel.dv().getInt32(k.kern_sabuf(), true);
  }

  /** getsockname(2). */
  address(): SockAddr | undefined {
    const k = this.#check("getsockname");
    const r = this.kernel.call(k.soh_sockname, this.ptr);
    if (r !== 0) this.#fail("getsockname", r);
    return parseSockaddr(this.#readSabuf(), this.#zones);
  }

  /** getpeername(2); undefined when not connected. */
  remoteAddress(): SockAddr | undefined {
    const k = this.#check("getpeername");
    const r = this.kernel.call(k.soh_peername, this.ptr);
    if (r === -Errno.ENOTCONN) return undefined;
    if (r !== 0) this.#fail("getpeername", r);
    return parseSockaddr(this.#readSabuf(), this.#zones);
  }

  /** Socket state: buffers, drops, queues, state bits. */
  info(): SocketInfo {
    const k = this.#check("info");
    const r = k.soh_stat(this.ptr);
    if (r !== 0) this.#fail("info", r);
    return readInfo(this.#reg.windows(this.kernel));
  }

  /** @internal the kernel freed the socket. */
  _closedByKernel(errno: number): void {
    if (this.#closed) return;
    this.#closed = "kernel";
    this.#closeErrno = errno;
  }

  /** @internal queue an event as if the kernel had posted it. */
  _announce(bits: number): void {
    queueMicrotask(() => {
      if (!this.#closed) this._dispatch(bits);
    });
  }

  /** @internal emit the events of bits; returns how many were emitted. */
  _dispatch(bits: number): number {
    let n = 0;
    if (bits & SE.CONNECTED) {
      n++;
      this.emit("connect");
    }
    if (bits & SE.READABLE && this.#closed === "") {
      if (this.listenerCount("message") > 0) this.#readMessages();
      else {
        n++;
        this.emit("readable");
      }
    }
    if (bits & SE.WRITABLE && this.#closed === "") {
      n++;
      this.emit("writable");
    }
    if (bits & SE.ACCEPTABLE && this.#closed === "") {
      n++;
      this.emit("acceptable");
    }
    if (bits & SE.ERROR && this.listenerCount("error") > 0) {
      const e = this.#closed === "kernel" ? this.#closeErrno : this.#closed === "" ? this.#peekError() : 0;
      if (e) {
        n++;
        this.emit("error", new SocketError(`${this}`, -e));
      }
    }
    if (bits & SE.CLOSED) {
      n++;
      this.emit("close");
    }
    return n;
  }

  /** The pending error without clearing it (SO_ERROR would clear it: a later call must still see it). */
  #peekError(): number {
    try {
      return this.info().error;
    } catch {
      return 0;
    }
  }

  /** 'message' mode: read every queued datagram and emit each. */
  #readMessages(): void {
    if (this.#reading) return;
    this.#reading = true;
    try {
      for (let d = this.recvfrom(); d !== null && !this.closed; d = this.closed ? null : this.recvfrom()) {
        this.emit("message", d.data, { address: d.address, truncated: d.truncated, size: d.data.length });
        if (this.type === SOCK_STREAM && d.data.length === 0) break;
      }
    } finally {
      this.#reading = false;
    }
  }
}

/** MSG_* flags: a non-negative 32-bit integer (NaN would reach the kernel as 0). */
function checkFlags(flags: unknown, what: string): void {
  integerArg(`${what}: flags`, flags, 0, 0x7fffffff, " (MSG_* bits)");
}

/** An option's level and name: 32-bit integers (SOL_SOCKET is 0xffff). */
function checkOpt(level: unknown, name: unknown, what: string): void {
  integerArg(`${what}: level`, level, 0, 0x7fffffff);
  integerArg(`${what}: name`, name, 0, 0x7fffffff);
}

function optName(level: number, name: number): string {
  if (level === SOL_SOCKET) {
    const e = Object.entries(SO).find(([, v]) => v === name);
    if (e) return `SO_${e[0]}`;
  }
  if (level === IPPROTO_IPV6 && name === IPV6_V6ONLY) return "IPV6_V6ONLY";
  return `${level === SOL_SOCKET ? "SOL_SOCKET" : `level ${level}`}/${name}`;
}

function familyNumber(d: string | number): number {
  if (typeof d === "number") return integerArg("socket: domain", d, 0, 255, " (an AF_ number)");
  if (d === "inet") return AF_INET;
  if (d === "inet6") return AF_INET6;
  throw new ConfigError(`socket: domain must be "inet", "inet6" or an AF_ number, got ${show(d)}`);
}

const TYPE_NUMBERS: Record<string, number> = { stream: SOCK_STREAM, dgram: SOCK_DGRAM, raw: SOCK_RAW };

function typeNumber(t: string | number): number {
  if (typeof t === "number") return integerArg("socket: type", t, 0, 255, " (a SOCK_ number)");
  const n = Object.hasOwn(TYPE_NUMBERS, t) ? TYPE_NUMBERS[t] : undefined;
  if (n === undefined) throw new ConfigError(`socket: type must be "stream", "dgram", "raw" or a SOCK_ number, got ${show(t)}`);
  return n;
}

/** socket(2) in vnet: socket(k, v, "inet", "dgram", 17). Throws SocketError (EAFNOSUPPORT, EPROTONOSUPPORT, ...). */
export function socket(kernel: Kernel, vnet: Vnet, domain: "inet" | "inet6" | number, type: "stream" | "dgram" | "raw" | number, protocol = 0): Socket {
  checkVnet(kernel, vnet, "socket");
  const d = familyNumber(domain);
  const t = typeNumber(type);
  integerArg("socket: protocol", protocol, 0, 255, " (0: the type's default)");
  const k = x(kernel);
  const so = kernel.call(k.soh_socket, vnet.ptr, d, t, protocol);
  if (so === 0) {
    throw new SocketError(`socket(${FAMILY_NAMES[d] ?? d}, ${TYPE_NAMES[t] ?? t}, ${protocol}) in vnet ${vnet.name}`, k.soh_error() || -Errno.EINVAL);
  }
  return new Socket(kernel, vnet, so);
}

// ---------------------------------------------------------------------------------------
// sockstat

export interface SockstatRow {
  serial: number;
  family: string;
  type: string;
  protocol: number;
  local?: SockAddr;
  foreign?: SockAddr;
  recvQ: number;
  sendQ: number;
  drops: number;
  state: string[];
  /** The host's Socket for it, if it was handed out. */
  socket?: Socket;
}

const STATE_NAMES: [number, string][] = [
  [SS.ISCONNECTED, "CONNECTED"], [SS.ISCONNECTING, "CONNECTING"], [SS.ISDISCONNECTING, "DISCONNECTING"],
  [SS.CANTSENDMORE, "CANTSENDMORE"], [SS.CANTRCVMORE, "CANTRCVMORE"], [SS.NOFDREF, "NOFDREF"],
];

/** The sockets of a vnet, newest first (sockstat -4/-6 style rows). */
export function sockstat(kernel: Kernel, vnet: Vnet): SockstatRow[] {
  checkVnet(kernel, vnet, "sockstat");
  const k = x(kernel);
  const rows: SockstatRow[] = [];
  kernel.enter(() => {
    const sab = k.kern_sabuf();
    const zones = zoneNames(kernel, vnet);
    const readSa = (r: number) => (r === 0 ? parseSockaddr(new Uint8Array(kernel.memory.buffer, sab, SOCK_MAXADDRLEN).slice(0, new Uint8Array(kernel.memory.buffer, sab, 1)[0]), zones) : undefined);
    for (let so = k.soh_first(vnet.ptr); so !== 0; so = k.soh_next(so)) {
      const st = k.soh_info(so, INFO.state);
      const opts = k.soh_info(so, INFO.options);
      const fam = k.soh_info(so, INFO.family);
      const typ = k.soh_info(so, INFO.type);
      const state = STATE_NAMES.filter(([b]) => st & b).map(([, n]) => n);
      if (opts & SO.ACCEPTCONN) state.unshift("LISTEN");
      rows.push({
        serial: k.soh_info(so, INFO.serial),
        family: FAMILY_NAMES[fam] ?? `af${fam}`,
        type: TYPE_NAMES[typ] ?? `type${typ}`,
        protocol: k.soh_info(so, INFO.protocol),
        local: readSa(k.soh_sockname(so)),
        foreign: readSa(k.soh_peername(so)),
        recvQ: k.soh_info(so, INFO.rcvBytes),
        sendQ: k.soh_info(so, INFO.sndBytes),
        drops: k.soh_info(so, INFO.rcvDrops),
        state,
      });
    }
    return 0;
  });
  for (const r of rows) r.socket = registryOf(kernel).get(r.serial);
  return rows;
}

/** sockstat as text. */
export function formatSockstat(rows: SockstatRow[]): string {
  return formatTable(
    ["SERIAL", "PROTO", "LOCAL ADDRESS", "FOREIGN ADDRESS", "RECV-Q", "SEND-Q", "DROPS", "STATE"],
    rows.map((r) => [r.serial, `${r.family === "inet" ? "" : r.family + "/"}${r.type}/${r.protocol}`, formatSockaddr(r.local), formatSockaddr(r.foreign), r.recvQ, r.sendQ, r.drops, r.state.join(",")]),
  );
}
