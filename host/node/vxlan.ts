// VXLAN ports (RFC 7348): an interface of the if_vxlan module whose wire is a UDP socket of
// this process, so a Linux `vxlan` device, or a wavnet kernel in another process or on
// another machine, is on the same Ethernet link. docs/vxlan.md says how to use it.
//
// Output: the kernel copies each frame, behind its VXLAN header, into the interface's ring;
// the kernel drains every port after each kernel entry and clock tick (Kernel.attachPort)
// and this file sends one datagram per record to the remote. The socket is a node:dgram
// socket of this thread by default (one sendmsg per datagram); with rxThread: true it lives
// in the process's VXLAN thread (host/node/vxlan_thread.ts), which reads it while this
// thread runs the kernel, passes datagrams through a shared ring, and sends the frames this
// file copies into a second ring with sendmmsg batches. Input: every datagram the
// socket reads goes into the port's receive queue (host/wire/rxqueue.ts: one FIFO per
// source, served round robin, bounded, drops counted); once per turn of the event loop the
// queue is packed into the kernel's I/O buffer and handed in with one call per batch
// (vxlan_input), which checks the VXLAN header and the VNI and counts what it drops. Read
// on this thread, the kernel gets at most as much of the event loop's time as reading the socket had since the
// last batch: when the kernel cannot keep up, the fair queue drops (a flooding source loses
// its own excess), not the OS socket (which drops blindly, a quiet TCP client's segments as
// readily as the flood's). docs/vxlan.md "Receive path" has the figures. The socket closes
// when the interface is destroyed (by the host, or with the vnet it was created in) or when
// the kernel shuts down.

import dgram from "node:dgram";
import { randomBytes } from "node:crypto";
import { checkVnet, checkKernel, type Kernel, type Vnet, type HostPort } from "../kern/kernel.js";
import { Interface, InterfaceGoneError, createClone, putName } from "../admin/ifnet.js";
import { ConfigError, KernelError, Errno } from "../lib/errors.js";
import { isIPv4, isIPv6, isIPv6Text, parseIPv4, formatIPv4, parseIPv6Zoned, formatIPv6 } from "../lib/addr.js";
import { show } from "../lib/format.js";
import { RxQueue, rxqBucket } from "../wire/rxqueue.js";
import { drainRing, putRecord, recordFits, IOBUF_SIZE, type RingReader } from "../wire/ring.js";
import { socketDrops } from "./udp_drops.js";
import { ThreadSocket } from "./vxlan_thread.js";

/** The IANA port for VXLAN (RFC 7348 5). */
export const VXLAN_PORT = 4789;
/** Default MTU: 1500 less outer IPv4, UDP and VXLAN headers and the inner Ethernet header, as Linux. */
export const VXLAN_MTU = 1450;
const VNI_MAX = 0xffffff;
const RING_MAX = 64;
/** Records per vxlan_input call at most; fewer when the kernel is slow per datagram (the time share is checked between calls). */
const BATCH_MAX = 256;
/** The kernel may always run this long per turn, however short the turn's reading was. */
const MIN_SLICE_MS = 0.1;
/**
 * And never longer, however long the rest of the turn was (timers that ran the kernel's
 * callouts count as "elsewhere" too): libuv reads at most 32 datagrams a turn, so a turn
 * must stay short for reading to keep up (32 in 0.5 ms plus the reading is some 45,000 a
 * second at the least).
 */
const MAX_SLICE_MS = 0.5;
const RXQ_DEFAULT = 4096;
const RXQ_BYTES_DEFAULT = 4 << 20;
const RCVBUF_DEFAULT = 16 << 20;
const RXRING_DEFAULT = 8 << 20;
/**
 * With the receive thread, reading costs the main thread nothing but the copy out of the
 * ring, so the kernel may run this long per turn (then the loop runs timers and other I/O).
 */
const THREAD_SLICE_MS = 2;
/** Default output ring of the if_vxlan module, segments of 64 KiB. */
const RING_DEFAULT = 16;

/** The tx ring to the receive thread: room for what two full kernel output rings hold, at least 2 MiB. */
function txRingBytes(ringSegments = RING_DEFAULT): number {
  return Math.max(2 << 20, 2 * ringSegments * 65536);
}
/** Datagrams moved from the ring into the fair queue per look at most (then the kernel gets a batch). */
const TAKE_MAX = 1024;

export interface VxlanExports {
  vxlan_setvni(ifp: number, vni: number): number;
  vxlan_vni(ifp: number): number;
  vxlan_setring(ifp: number, nseg: number): number;
  vxlan_ring(ifp: number): number;
  vxlan_setname(ifp: number, len: number): number;
  vxlan_stat(ifp: number, which: number): number;
  vxlan_destroyed(): number;
  vxlan_count(): number;
  vxlan_readable(ifp: number): number;
  vxlan_read_ptr(): number;
  vxlan_consume(ifp: number, n: number): void;
  vxlan_input(ifp: number, n: number): number;
}

export interface VxlanOptions {
  /** Interface name (default: the cloner's next, vxlan0, vxlan1, ...). */
  name?: string;
  /** VXLAN network identifier, 0 .. 16777215. */
  vni: number;
  /** Where frames go: "192.0.2.7:4789" or "[2001:db8::7]:4789" (an IP literal and a port). */
  remote: string;
  /** UDP port to bind and receive on (default 4789; 0 = any free port, see localPort on the result). */
  localPort?: number;
  /** Address to bind (default 0.0.0.0, or :: for an IPv6 remote). */
  localAddress?: string;
  /** Interface MAC (default: random, locally administered; not from the kernel's seed, so two processes never pick the same). */
  mac?: string;
  /** Interface MTU (default 1450). */
  mtu?: number;
  /** Output ring size in 64 KiB segments, 1 .. 64 (default 16, more for an mtu above 1450: as many frames): frames one kernel entry may send. */
  ringSegments?: number;
  /** Socket receive buffer to ask the OS for, bytes (default 16 MiB; the OS caps it at net.core.rmem_max). */
  recvBufferSize?: number;
  /** Datagrams the port's receive queue holds for the kernel at most (default 4096); beyond, the longest source's oldest go. */
  rxQueue?: number;
  /** Bytes the receive queue holds at most (default 4 MiB), the same way. */
  rxQueueBytes?: number;
  /** Datagrams handed to the kernel per turn of the event loop at most (default: no limit but the time share). */
  rxBurst?: number;
  /**
   * Read the socket in the process's VXLAN receive thread (docs/vxlan.md "Receive path"):
   * a burst that comes while the main thread is busy (a big lab, a long kernel entry) is
   * kept in the thread's ring instead of dropped by the OS. Default false: it costs about a
   * third more CPU per datagram, 1-2 ms more per port made, and a ring of up to rxRing bytes
   * per port; on 2 cores it did not bring a full-rate flood's OS drops to 0.
   */
  rxThread?: boolean;
  /** Bytes of the ring between the receive thread and the port (default 8 MiB; about 100,000 small datagrams). */
  rxRing?: number;
  /** With rxThread: bytes of the ring from the port to the thread's socket (default: twice the output ring, at least 2 MiB); a frame that finds it full is dropped and counted (txThreadDrops). */
  txRing?: number;
}

/** Counters of one VXLAN port: the kernel's (frames and drops) and the socket's. */
export interface VxlanStats {
  /** Frames the interface put in its output ring. */
  txFrames: number;
  /** Frames dropped because the ring was full (the interface's oqdrops too). */
  txRingDrops: number;
  /** Datagrams handed to the kernel. */
  rxDatagrams: number;
  /** Frames passed on to Ethernet input. */
  rxFrames: number;
  /** Datagrams shorter than the 8-byte VXLAN header. */
  rxShort: number;
  /** Datagrams without the I flag (RFC 7348 5). */
  rxBadFlags: number;
  /** Datagrams for another VNI. */
  rxBadVni: number;
  /** Frames dropped for want of an mbuf. */
  rxNoMem: number;
  /** Records of a batch that ran past the I/O buffer (a host bug; never expected). */
  rxBadRecord: number;
  /** Datagrams given to the socket, and send errors it reported. */
  sent: number;
  sendErrors: number;
  /** Datagrams read from the socket (each goes to the receive queue). */
  rxRead: number;
  /** Datagrams the receive queue dropped: it was full (the longest source's oldest went). */
  rxQueueDrops: number;
  /** Datagrams the receive thread dropped because its ring to the port was full (0 without the thread). */
  rxRingDrops: number;
  /** Frames the port dropped because its ring to the thread's socket was full (0 without the thread). */
  txThreadDrops: number;
  /** Datagrams waiting in the receive queue now, and the most that ever waited. */
  rxQueued: number;
  rxQueuePeak: number;
  /** Datagrams the OS dropped on the socket (its buffer was full): Linux's /proc/net/udp; -1 where not known. */
  rxSocketDrops: number;
  /** The socket's receive buffer as the OS gave it, bytes (Linux reports twice what was set). */
  recvBufferSize: number;
}

const KERNEL_STATS: (keyof VxlanStats)[] = ["txFrames", "txRingDrops", "rxDatagrams", "rxFrames", "rxShort", "rxBadFlags", "rxBadVni", "rxNoMem", "rxBadRecord"];

function exportsOf(kernel: Kernel): VxlanExports {
  checkKernel(kernel, "vxlan");
  if (!kernel.kldstat().some((m) => m.name === "if_vxlan")) {
    throw new ConfigError("vxlan: the if_vxlan module is not loaded (boot GENERIC or kldload if_vxlan)");
  }
  return kernel.module<VxlanExports>("if_vxlan");
}

/**
 * An underlay address (the host's own, for node:dgram) in the one text form Node reads as
 * we do: "010.0.0.1" would reach getaddrinfo, which reads 010 as octal.
 */
function underlayText(address: string, family: 4 | 6): string {
  if (family === 4) return formatIPv4(parseIPv4(address));
  const { bytes, zone } = parseIPv6Zoned(address);
  return formatIPv6(bytes, zone);
}

/** "a.b.c.d:port" or "[v6]:port" (a link-local one with its zone, "[fe80::1%eth0]:4789") -> address, port, family. */
export function parseRemote(remote: string, what = "vxlan"): { address: string; port: number; family: 4 | 6 } {
  if (typeof remote !== "string") throw new ConfigError(`${what}: remote must be "address:port", got ${show(remote)}`);
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(remote) ?? /^([^:\[\]]+):(\d{1,5})$/.exec(remote);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port >= 1 && port <= 65535)) {
    throw new ConfigError(`${what}: remote must be "address:port" (e.g. "10.0.0.2:4789" or "[2001:db8::2]:4789"), got ${show(remote)}`);
  }
  const address = m[1];
  if (isIPv4(address) && !remote.startsWith("[")) return { address: underlayText(address, 4), port, family: 4 };
  if (isIPv6(address, { zone: true }) && remote.startsWith("[")) return { address: underlayText(address, 6), port, family: 6 };
  throw new ConfigError(`${what}: remote address must be an IPv4 literal, or an IPv6 literal in brackets, got ${show(remote)}`);
}

function integer(what: string, field: string, v: unknown, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new ConfigError(`${what}: ${field} must be an integer from ${min} to ${max}, got ${show(v)}`);
  }
  return v;
}

/** A locally administered unicast MAC from the OS's randomness (the kernel's is seeded: equal in every process). */
function randomMac(): string {
  const b = randomBytes(6);
  b[0] = (b[0] & 0xfc) | 0x02;
  return [...b].map((v) => v.toString(16).padStart(2, "0")).join(":");
}

const ports = new WeakMap<Kernel, Set<VxlanPort>>();

/** The kernel-fed side of one VXLAN interface: its socket, drained ring and input batches. */
class VxlanPort implements HostPort {
  closed = false;
  sent = 0;
  sendErrors = 0;
  rxRead = 0;
  readonly rxq: RxQueue;
  private scheduled = false;
  private lastFlushEnd = 0;
  /** Kernel time per datagram handed in, ms (a moving average): sizes batches to the time share. */
  private costMs = 0.001;
  private readonly flushNow = () => this.flush();
  private readonly sendOne: (d: Uint8Array) => void;
  private readonly toQueue = (b: number, d: Uint8Array) => this.rxq.push(b, d);
  private readonly reader: RingReader;
  private destroyedSeen: number;
  private readonly x: VxlanExports;
  private readonly burst: number;
  private closeWaiters: (() => void)[] = [];
  private sockClosed = false;

  /**
   * The socket: a node:dgram one read on this thread, or one in the receive thread
   * (host/node/vxlan_thread.ts) whose datagrams wait in a shared ring.
   */
  constructor(
    private readonly kernel: Kernel,
    readonly iface: Interface,
    readonly sock: dgram.Socket | ThreadSocket,
    public remote: { address: string; port: number; family: 4 | 6 },
    rx: { queue: number; queueBytes: number; burst: number },
  ) {
    this.x = exportsOf(kernel);
    this.reader = { readable: this.x.vxlan_readable, readPtr: this.x.vxlan_read_ptr, consume: this.x.vxlan_consume };
    this.destroyedSeen = this.x.vxlan_destroyed();
    this.rxq = new RxQueue(rx.queue, rx.queueBytes);
    this.burst = rx.burst;
    const onClosed = () => {
      this.sockClosed = true;
      for (const w of this.closeWaiters.splice(0)) w();
    };
    if (sock instanceof ThreadSocket) {
      this.sendOne = (d) => sock.send(d);
      sock.events = {
        rx: () => this.schedule(),
        error: () => this.sendErrors++,
        closed: () => {
          onClosed();
          // The receive thread died: the port cannot work any more.
          this.close();
        },
      };
      // Whatever arrived between the bind and now.
      this.schedule();
    } else {
      this.sendOne = (d) => sock.send(d, this.remote.port, this.remote.address);
      sock.on("message", (msg, rinfo) => this.onMessage(msg, rinfo));
      sock.on("error", () => this.sendErrors++);
      sock.on("close", onClosed);
    }
  }

  private schedule(): void {
    if (this.scheduled || this.closed) return;
    this.scheduled = true;
    setImmediate(this.flushNow);
  }

  /** Datagrams the receive thread dropped because the ring was full. */
  get ringDrops(): number {
    return this.sock instanceof ThreadSocket ? this.sock.ringDrops : 0;
  }

  /** Move what the receive thread wrote into the fair queue (nothing without the thread). */
  private takeRing(): void {
    if (this.sock instanceof ThreadSocket) this.rxRead += this.sock.take(TAKE_MAX, this.toQueue);
  }

  /** After every kernel entry: has the interface gone? Then send what its ring holds. */
  drain(): void {
    if (this.closed) return;
    const d = this.x.vxlan_destroyed();
    if (d !== this.destroyedSeen) {
      this.destroyedSeen = d;
      if (!this.iface.alive) {
        this.close();
        return;
      }
    }
    if (this.sock instanceof ThreadSocket) {
      // Straight from kernel memory into the thread's tx ring (one copy), then one ping at most.
      const drops = this.sock.txDrops;
      const n = drainRing(this.kernel.memory, this.reader, this.iface.ptr, this.sendOne, false);
      this.sent += n - (this.sock.txDrops - drops);
      if (n > 0) this.sock.sendFlush();
      return;
    }
    this.sent += drainRing(this.kernel.memory, this.reader, this.iface.ptr, this.sendOne);
  }

  private onMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.closed) return;
    this.rxRead++;
    this.rxq.push(rxqBucket(rinfo.address, rinfo.port), msg);
    if (!this.scheduled) {
      this.scheduled = true;
      // Everything the socket read in this turn of the event loop goes in together.
      setImmediate(this.flushNow);
    }
  }

  /**
   * Hand the queue to the kernel in batches, in the queue's fair order, for at most as long
   * as the event loop spent elsewhere (reading the socket, mostly) since the last flush,
   * within MIN_SLICE_MS .. MAX_SLICE_MS, or rxBurst datagrams; what is left waits for the
   * next turn, after the socket was read again.
   */
  private flush(): void {
    this.scheduled = false;
    if (this.closed) return;
    const threaded = this.sock instanceof ThreadSocket;
    const t0 = performance.now();
    const slice = threaded ? THREAD_SLICE_MS : Math.min(MAX_SLICE_MS, Math.max(MIN_SLICE_MS, t0 - this.lastFlushEnd));
    const q = this.rxq;
    let budget = this.burst;
    this.takeRing();
    for (let now = t0; q.length > 0 && budget > 0 && now - t0 < slice; this.takeRing()) {
      if (!this.iface.alive) {
        this.close();
        return;
      }
      const iobuf = new Uint8Array(this.kernel.memory.buffer, this.kernel.k.kern_iobuf() >>> 0, IOBUF_SIZE);
      let off = 0;
      let n = 0;
      // A datagram is at most 65507 bytes, so one always fits an empty buffer.
      // As many as the rest of the slice holds at the kernel's recent pace (at least one).
      const most = Math.min(BATCH_MAX, budget, Math.max(1, Math.floor((slice - (now - t0)) / this.costMs)));
      for (let len = q.peekLength(); len >= 0 && recordFits(off, len) && n < most; len = q.peekLength()) {
        off = putRecord(iobuf, off, q.shift()!);
        n++;
      }
      budget -= n;
      this.kernel.call(this.x.vxlan_input, this.iface.ptr, n);
      if (this.closed) return;
      const after = performance.now();
      this.costMs = Math.max(0.0001, 0.75 * this.costMs + 0.25 * ((after - now) / n));
      now = after;
    }
    this.lastFlushEnd = performance.now();
    // With the thread: the ring is looked at again next turn while the queue holds anything
    // (take() asked for a ping when it found the ring empty).
    if (q.length > 0) this.schedule();
  }

  /** Stop: no more sends or input; the socket closes. Never enters the kernel. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.rxq.clear();
    this.kernel.detachPort(this);
    ports.get(this.kernel)?.delete(this);
    try {
      this.sock.close();
    } catch {
      // already closed
    }
  }

  /** The socket's receive buffer as the OS gave it (0 once closed). */
  recvBufferSize(): number {
    if (this.sock instanceof ThreadSocket) return this.sock.recvBufferSize();
    try {
      return this.sock.getRecvBufferSize();
    } catch {
      return 0;
    }
  }

  /** Resolves once the OS socket is closed. */
  whenClosed(): Promise<void> {
    if (this.sockClosed) return Promise.resolve();
    return new Promise((r) => this.closeWaiters.push(r));
  }
}

/** An Interface of kind vxlan: its VNI, remote, bound port and counters. */
export class VxlanInterface extends Interface {
  readonly #port: VxlanPort;
  readonly #kernel: Kernel;
  /** The VNI frames are sent with and must arrive with. */
  readonly vni: number;
  /** The socket's bound address and port (the port is the real one when 0 was asked). */
  readonly localAddress: string;
  readonly localPort: number;

  /** @internal use createVxlan */
  constructor(kernel: Kernel, ptr: number, port: VxlanPort, vni: number, local: { address: string; port: number }) {
    super(kernel, ptr);
    this.#kernel = kernel;
    this.#port = port;
    this.vni = vni;
    this.localAddress = local.address;
    this.localPort = local.port;
  }

  /** Where datagrams go. */
  get remote(): { address: string; port: number } {
    const { address, port } = this.#port.remote;
    return { address, port };
  }

  /** Send to another remote from now on ("address:port", same address family as before). */
  setRemote(remote: string): void {
    const what = `vxlan ${this.alive ? this.name : "?"} remote`;
    const r = parseRemote(remote, what);
    if (r.family !== this.#port.remote.family) throw new ConfigError(`${what}: the socket is IPv${this.#port.remote.family}, ${remote} is not`);
    this.#port.remote = r;
    if (this.#port.sock instanceof ThreadSocket) this.#port.sock.setRemote(r.port, r.address);
  }

  /** False once the interface is gone or the kernel shut down (the socket is closed then). */
  get open(): boolean {
    return !this.#port.closed;
  }

  vxlanStats(): VxlanStats {
    if (!this.alive) throw new InterfaceGoneError(`vxlan stats: interface #${this.serial} no longer exists`);
    const x = exportsOf(this.#kernel);
    const out = {} as VxlanStats;
    KERNEL_STATS.forEach((name, i) => (out[name] = x.vxlan_stat(this.ptr, i)));
    const p = this.#port;
    out.sent = p.sent;
    out.sendErrors = p.sendErrors;
    out.rxRead = p.rxRead;
    out.rxQueueDrops = p.rxq.drops;
    out.rxRingDrops = p.ringDrops;
    out.txThreadDrops = p.sock instanceof ThreadSocket ? p.sock.txDrops : 0;
    out.rxQueued = p.rxq.length;
    out.rxQueuePeak = p.rxq.peak;
    out.rxSocketDrops = socketDrops(p.remote.family, this.localAddress, this.localPort);
    out.recvBufferSize = p.recvBufferSize();
    return out;
  }

  /** Resolves when the socket is closed (after destroy(), the vnet's teardown or kernel shutdown). */
  whenClosed(): Promise<void> {
    return this.#port.whenClosed();
  }
}

function bind(sock: dgram.Socket, port: number, address: string, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => {
      sock.off("listening", onListening);
      reject(new ConfigError(`${what}: cannot bind UDP ${isIPv6Text(address) ? `[${address}]` : address}:${port}: ${e.message}`));
    };
    const onListening = () => {
      sock.off("error", onError);
      resolve();
    };
    sock.once("error", onError);
    sock.once("listening", onListening);
    sock.bind(port, address);
  });
}

/**
 * Create a VXLAN interface in `vnet` joined to `opts.remote` through a UDP socket bound to
 * localAddress:localPort. The interface starts down, like any new interface: setUp() it.
 */
export async function createVxlan(kernel: Kernel, vnet: Vnet, opts: VxlanOptions): Promise<VxlanInterface> {
  let what = "vxlan create";
  if (opts === null || typeof opts !== "object") throw new ConfigError(`${what}: options must be an object`);
  const known = ["name", "vni", "remote", "localPort", "localAddress", "mac", "mtu", "ringSegments", "recvBufferSize", "rxQueue", "rxQueueBytes", "rxBurst", "rxThread", "rxRing", "txRing"];
  for (const key of Object.keys(opts)) {
    if (!known.includes(key)) throw new ConfigError(`${what}: unknown option "${key}" (known: ${known.join(", ")})`);
  }
  if (opts.name !== undefined) what = `vxlan create ${opts.name}`;
  const vni = integer(what, "vni", opts.vni, 0, VNI_MAX);
  const remote = parseRemote(opts.remote, what);
  const localPort = integer(what, "localPort", opts.localPort ?? VXLAN_PORT, 0, 65535);
  const localText = opts.localAddress ?? (remote.family === 6 ? "::" : "0.0.0.0");
  if (typeof localText !== "string" || !(remote.family === 4 ? isIPv4(localText) : isIPv6(localText, { zone: true }))) {
    throw new ConfigError(`${what}: localAddress must be an IPv${remote.family} literal like the remote's, got ${show(opts.localAddress)}`);
  }
  const localAddress = underlayText(localText, remote.family);
  const mtu = opts.mtu === undefined ? undefined : integer(what, "mtu", opts.mtu, 72, 16384);
  // A larger MTU makes larger records: by default the ring grows with it, so that it holds as
  // many frames as the default ring does at MTU 1450 (64 segments at most: about 450 frames
  // at MTU 8950, more than a 2 MiB window's burst from one kernel entry).
  const ring =
    opts.ringSegments !== undefined
      ? integer(what, "ringSegments", opts.ringSegments, 1, RING_MAX)
      : mtu !== undefined && mtu > VXLAN_MTU
        ? Math.min(RING_MAX, Math.ceil((RING_DEFAULT * (mtu + 30)) / (VXLAN_MTU + 30)))
        : undefined;
  const rcvbuf = integer(what, "recvBufferSize", opts.recvBufferSize ?? RCVBUF_DEFAULT, 65536, 1 << 30);
  const rx = {
    queue: integer(what, "rxQueue", opts.rxQueue ?? RXQ_DEFAULT, 1, 1 << 20),
    queueBytes: integer(what, "rxQueueBytes", opts.rxQueueBytes ?? RXQ_BYTES_DEFAULT, 65536, 1 << 30),
    burst: opts.rxBurst === undefined ? Infinity : integer(what, "rxBurst", opts.rxBurst, 1, 1 << 20),
  };
  const rxThread = opts.rxThread ?? false;
  if (typeof rxThread !== "boolean") throw new ConfigError(`${what}: rxThread must be true or false, got ${show(opts.rxThread)}`);
  const rxRing = integer(what, "rxRing", opts.rxRing ?? RXRING_DEFAULT, 65536 + 64, 1 << 30) & ~3;
  const txRing = integer(what, "txRing", opts.txRing ?? txRingBytes(ring), 65536 + 64, 1 << 30) & ~3;
  checkVnet(kernel, vnet, what);
  const x = exportsOf(kernel);

  const custom = opts.name !== undefined && !/^vxlan\d{1,5}$/.test(opts.name);
  if (custom) putName(kernel, opts.name!, what); // checks the name before anything is made
  const made = createClone(kernel, vnet, custom || opts.name === undefined ? "vxlan" : opts.name!);
  const iface = made[0];
  const undo = (e: unknown): never => {
    if (iface.alive) iface.destroy();
    throw e;
  };
  try {
    if (custom) {
      const len = putName(kernel, opts.name!, what);
      const r = kernel.enter(() => x.vxlan_setname(iface.ptr, len));
      if (r === -Errno.EEXIST) throw new KernelError(`${what}: vnet "${vnet.name}" has an interface called ${opts.name}`, r);
      if (r !== 0) throw new KernelError(what, r);
    }
    const r = kernel.enter(() => x.vxlan_setvni(iface.ptr, vni));
    if (r !== 0) throw new KernelError(`${what}: vni`, r);
    if (ring !== undefined) {
      const rr = kernel.enter(() => x.vxlan_setring(iface.ptr, ring));
      if (rr !== 0) throw new KernelError(`${what}: no memory for a ${ring}-segment ring`, rr);
    }
    if (mtu !== undefined) iface.setMtu(mtu);
    iface.setMac(opts.mac ?? randomMac());
  } catch (e) {
    undo(e);
  }

  const type = remote.family === 6 ? "udp6" : "udp4";
  let sock: dgram.Socket | ThreadSocket;
  let addr: { address: string; port: number };
  if (rxThread) {
    const ts = new ThreadSocket(rxRing, txRing, remote);
    sock = ts;
    try {
      // The worker sets the buffer sizes once bound (the OS caps them at net.core.rmem_max).
      addr = await ts.bind(type, localPort, localAddress, rcvbuf);
    } catch (e) {
      ts.close();
      return undo(new ConfigError(`${what}: cannot bind UDP ${isIPv6Text(localAddress) ? `[${localAddress}]` : localAddress}:${localPort}: ${(e as Error).message}`));
    }
  } else {
    const ds = dgram.createSocket({ type });
    sock = ds;
    try {
      await bind(ds, localPort, localAddress, what);
    } catch (e) {
      ds.close();
      undo(e);
    }
    try {
      ds.setRecvBufferSize(rcvbuf);
      ds.setSendBufferSize(rcvbuf);
    } catch {
      // The OS caps buffer sizes (net.core.rmem_max); what it gave is what we have.
    }
    addr = ds.address();
  }
  if (!iface.alive) {
    // The vnet went away while the socket was binding.
    sock.close();
    throw new InterfaceGoneError(`${what}: the interface was destroyed while its socket was binding`);
  }
  const port = new VxlanPort(kernel, iface, sock, remote, rx);
  const vx = new VxlanInterface(kernel, iface.ptr, port, vni, { address: addr.address, port: addr.port });
  let set = ports.get(kernel);
  if (!set) ports.set(kernel, (set = new Set()));
  set.add(port);
  kernel.attachPort(port);
  return vx;
}

/** VXLAN sockets of this kernel still open. */
export function vxlanSocketsOpen(kernel: Kernel): number {
  return ports.get(kernel)?.size ?? 0;
}

/** vxlan interfaces alive in the kernel (any vnet; also those made by `ifconfig vxlan create` with no socket). */
export function vxlanCount(kernel: Kernel): number {
  return exportsOf(kernel).vxlan_count();
}
