// The host side of if_tap (assembly/modules/if_tap.ts): an Ethernet interface whose wire is
// a transport of the host's choosing. A transport (host/wire/websocket.ts is one) gives the
// port a Wire to send frames on, feeds it the frames that arrive (input), says when its
// peer comes and goes (setCarrier), and reports what it dropped before the kernel saw it.
// The port drains the interface's output ring after every kernel entry and clock tick
// (Kernel.attachPort) and packs arriving frames into the kernel's I/O buffer, one kernel
// call per batch. Platform-neutral: no Node built-in.

import type { Kernel, Vnet, HostPort } from "../kern/kernel.js";
import { Interface, InterfaceGoneError, createClone, putName } from "../admin/ifnet.js";
import { ConfigError, KernelError, Errno } from "../lib/errors.js";
import { drainRing, putRecord, recordFits, IOBUF_SIZE, type RingReader } from "./ring.js";

export const TAP_MTU = 1500;
export const TAP_MAXMTU = 16384;
/** Longest frame an interface may take: the largest MTU, the Ethernet header and an 802.1Q tag. */
export const TAP_MAXFRAME = TAP_MAXMTU + 14 + 4;
const RING_MAX = 64;
/** Frames queued for input beyond this many bytes go into the kernel at once, not at the end of the turn. */
const PENDING_MAX = 256 * 1024;

export interface TapExports {
  tap_setcarrier(ifp: number, on: number): number;
  tap_carrier(ifp: number): number;
  tap_drop(ifp: number, which: number, n: number): number;
  tap_setring(ifp: number, nseg: number): number;
  tap_ring(ifp: number): number;
  tap_setname(ifp: number, len: number): number;
  tap_stat(ifp: number, which: number): number;
  tap_destroyed(): number;
  tap_count(): number;
  tap_readable(ifp: number): number;
  tap_read_ptr(): number;
  tap_consume(ifp: number, n: number): void;
  tap_input(ifp: number, n: number): number;
}

/** The kernel's counters of one tap interface (if_tap.ts TS_*, same order). */
export const TAP_STATS = [
  "txFrames", "txRingDrops", "rxFrames", "rxRunt", "rxOversize", "rxNoMem", "rxBadRecord", "rxBadMessage", "txQueueDrops",
  "carrierUp", "carrierDown",
] as const;
export type TapStats = Record<(typeof TAP_STATS)[number], number>;

/** What the host may report with drop(): indexes of TAP_STATS. */
const DROP = { rxOversize: 4, rxBadMessage: 7, txQueueDrops: 8 } as const;
export type TapDrop = keyof typeof DROP;

/** Where a tap port sends frames: a transport with a peer. */
export interface Wire {
  /**
   * Send one frame (a view the port never writes again). False when the transport cannot
   * take it now (its buffer is full): the port counts it as txQueueDrops.
   */
  send(frame: Uint8Array): boolean;
  /** Called after a drain handed over its frames (a transport that batches sends them now). */
  flush?(): void;
}

export interface TapOptions {
  /** Interface name (default: the cloner's next, tap0, tap1, ...). */
  name?: string;
  /** Interface MAC (default: random, locally administered, from the platform's crypto, not the kernel's seed). */
  mac?: string;
  /** Interface MTU, 72 .. 16384 (default 1500). */
  mtu?: number;
  /** Output ring in 64 KiB segments, 1 .. 64 (default 16): frames one kernel entry may send. */
  ringSegments?: number;
}

export function tapExports(kernel: Kernel, what = "tap"): TapExports {
  if (!kernel.linker.isLoaded("if_tap")) throw new ConfigError(`${what}: the if_tap module is not loaded (boot GENERIC or kldload if_tap)`);
  return kernel.module<TapExports>("if_tap");
}

function integer(what: string, field: string, v: unknown, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new ConfigError(`${what}: ${field} must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** A locally administered unicast MAC from the platform's randomness (the kernel's is seeded: equal in every process). */
export function randomMac(): string {
  const b = new Uint8Array(6);
  const c = (globalThis as { crypto?: { getRandomValues(a: Uint8Array): Uint8Array } }).crypto;
  if (c) c.getRandomValues(b);
  else for (let i = 0; i < 6; i++) b[i] = Math.floor(Math.random() * 256);
  b[0] = (b[0] & 0xfc) | 0x02;
  return [...b].map((v) => v.toString(16).padStart(2, "0")).join(":");
}

/**
 * The kernel-fed side of one tap interface: drains its ring into the wire, batches input,
 * sets the carrier. One per interface; closed with the interface or the kernel.
 */
export class TapPort implements HostPort {
  closed = false;
  /** The transport frames go to; none: frames drained are dropped and counted (txQueueDrops). */
  wire: Wire | undefined;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private scheduled = false;
  private destroyedSeen: number;
  private readonly x: TapExports;
  private readonly reader: RingReader;
  /** Called once when the port closes (the interface is gone, or the kernel shut down); must not enter the kernel. */
  onGone: (() => void) | undefined;

  constructor(readonly kernel: Kernel, readonly iface: Interface) {
    this.x = tapExports(kernel);
    this.reader = { readable: this.x.tap_readable, readPtr: this.x.tap_read_ptr, consume: this.x.tap_consume };
    this.destroyedSeen = this.x.tap_destroyed();
  }

  /** After every kernel entry: has the interface gone? Then hand what its ring holds to the wire. */
  drain(): void {
    if (this.closed) return;
    const d = this.x.tap_destroyed();
    if (d !== this.destroyedSeen) {
      this.destroyedSeen = d;
      if (!this.iface.alive) {
        this.close();
        return;
      }
    }
    const ifp = this.iface.ptr;
    let dropped = 0;
    const wire = this.wire;
    const records = drainRing(this.kernel.memory, this.reader, ifp, (frame) => {
      if (!wire || !wire.send(frame)) dropped++;
    });
    if (records === 0) return;
    wire?.flush?.();
    // Inside a kernel entry's drain: a plain call, not enter() (that would drain again).
    if (dropped) this.x.tap_drop(ifp, DROP.txQueueDrops, dropped);
  }

  /** A frame arrived from the wire. Frames that arrive in one turn go in together. */
  input(frame: Uint8Array): void {
    if (this.closed) return;
    this.pending.push(frame);
    this.pendingBytes += frame.length;
    if (this.pendingBytes > PENDING_MAX) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => this.flush());
    }
  }

  /** The transport dropped n messages or frames before the kernel saw them (counted on the interface). */
  drop(which: TapDrop, n = 1): void {
    if (this.closed || !this.iface.alive) return;
    this.x.tap_drop(this.iface.ptr, DROP[which], n);
  }

  /** Hand the queued frames to the kernel, 64 KiB of I/O buffer per call. */
  flush(): void {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    if (this.closed || batch.length === 0) return;
    let i = 0;
    while (i < batch.length) {
      if (!this.iface.alive) {
        this.close();
        return;
      }
      const iobuf = new Uint8Array(this.kernel.memory.buffer, this.kernel.k.kern_iobuf() >>> 0, IOBUF_SIZE);
      let off = 0;
      let n = 0;
      while (i < batch.length && recordFits(off, batch[i].length)) {
        off = putRecord(iobuf, off, batch[i++]);
        n++;
      }
      if (n === 0) {
        // Larger than the buffer: no frame is (transports drop these first); counted, not passed.
        i++;
        this.x.tap_drop(this.iface.ptr, DROP.rxOversize, 1);
        continue;
      }
      const ifp = this.iface.ptr;
      this.kernel.enter(() => this.x.tap_input(ifp, n));
      if (this.closed) return;
    }
  }

  /** The wire has a peer (true) or lost it (false): the interface is RUNNING only with one. */
  setCarrier(on: boolean): void {
    if (this.closed || !this.iface.alive) return;
    const ifp = this.iface.ptr;
    this.kernel.enter(() => this.x.tap_setcarrier(ifp, on ? 1 : 0));
  }

  /** Stop: no more sends or input. Never enters the kernel. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pending = [];
    this.pendingBytes = 0;
    this.wire = undefined;
    this.kernel.detachPort(this);
    this.onGone?.();
  }
}

/** An Interface of kind tap: carrier, counters and the port that feeds it. */
export class TapInterface extends Interface {
  /** @internal the host port; transports use it. */
  readonly port: TapPort;

  /** @internal use createTap */
  constructor(kernel: Kernel, ptr: number) {
    super(kernel, ptr);
    this.port = new TapPort(kernel, this);
  }

  /** True while the wire has a peer (the interface is RUNNING if it is also up). */
  get carrier(): boolean {
    this.check("carrier");
    return tapExports(this.kernel).tap_carrier(this.ptr) === 1;
  }

  tapStats(): TapStats {
    if (!this.alive) throw new InterfaceGoneError(`tap stats: interface #${this.serial} no longer exists`);
    const x = tapExports(this.kernel);
    const out = {} as TapStats;
    TAP_STATS.forEach((name, i) => (out[name] = x.tap_stat(this.ptr, i)));
    return out;
  }
}

/**
 * Make a tap interface in `vnet` (down, no carrier) and attach its port to the kernel. A
 * transport then sets port.wire, feeds port.input and sets the carrier. `make` builds the
 * handle (a subclass such as WebSocketInterface) from the kernel pointer.
 */
export function createTap<T extends TapInterface>(
  kernel: Kernel, vnet: Vnet, opts: TapOptions, make: (ptr: number) => T, what = "tap create",
): T {
  if (opts === null || typeof opts !== "object") throw new ConfigError(`${what}: options must be an object`);
  if (opts.name !== undefined) what = `${what} ${opts.name}`;
  const mtu = opts.mtu === undefined ? undefined : integer(what, "mtu", opts.mtu, 72, TAP_MAXMTU);
  const ring = opts.ringSegments === undefined ? undefined : integer(what, "ringSegments", opts.ringSegments, 1, RING_MAX);
  if (!vnet.alive) throw new ConfigError(`${what}: vnet "${vnet.name}" was destroyed`);
  const x = tapExports(kernel, what);
  const custom = opts.name !== undefined && !/^tap\d{1,5}$/.test(opts.name);
  if (custom) putName(kernel, opts.name!, what); // checks the name before anything is made
  const made = createClone(kernel, vnet, custom || opts.name === undefined ? "tap" : opts.name!)[0];
  try {
    if (custom) {
      const len = putName(kernel, opts.name!, what);
      const r = kernel.enter(() => x.tap_setname(made.ptr, len));
      if (r === -Errno.EEXIST) throw new KernelError(`${what}: vnet "${vnet.name}" has an interface called ${opts.name}`, r);
      if (r !== 0) throw new KernelError(what, r);
    }
    if (ring !== undefined) {
      const r = kernel.enter(() => x.tap_setring(made.ptr, ring));
      if (r !== 0) throw new KernelError(`${what}: no memory for a ${ring}-segment ring`, r);
    }
    if (mtu !== undefined) made.setMtu(mtu);
    made.setMac(opts.mac ?? randomMac());
  } catch (e) {
    if (made.alive) made.destroy();
    throw e;
  }
  const t = make(made.ptr);
  kernel.attachPort(t.port);
  return t;
}

/** tap interfaces alive in the kernel (any vnet, any transport, or none). */
export function tapCount(kernel: Kernel): number {
  return tapExports(kernel).tap_count();
}
