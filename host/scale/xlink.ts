// One end of a cross-partition link: in this kernel a tap interface (if_tap: an Ethernet
// interface whose wire is the host), joined to the far end's kernel by two FrameRings, one
// per direction. Frames the kernel sends leave through the tap's output ring (drained after
// every kernel entry and clock tick), get their arrival time from this direction's
// conditions, and are copied into the outgoing FrameRing, a batch per drain. Frames from the
// incoming ring are handed to the kernel at their arrival time: under virtual time as an
// event of the ScheduleClock (so they land at the exact microsecond, between the kernel's own
// callouts), under a real clock by a timer.
//
// Conditions: delay and rate, with the epair's arithmetic (assembly/modules/if_epair/
// epair_link.ts): a frame waits for the link (FIFO, at most queueLimit frames and queueBytes
// bytes waiting, else a queue drop), occupies it for len * 8 / rate at nanosecond precision,
// leaves at the next whole microsecond and arrives delay later. Loss, jitter, duplication and
// reordering draw from the kernel's per-vnet random numbers, which the host does not share:
// the partitioner never cuts such a link (host/scale/partition.ts).

import type { Kernel, Vnet } from "../kern/kernel.js";
import type { LinkConditions } from "../admin/epair.js";
import { TapInterface, createTap } from "../wire/tap.js";
import { ScheduleClock } from "../topology/clock.js";
import { FrameRing } from "./ring.js";

const DEFAULT_QUEUE_LIMIT = 1000;

/** Counters of one end, beside the interface's own (ifconfig) and the tap's. */
export interface XlinkStats {
  /** Frames handed to the far end (into the ring). */
  txFrames: number;
  txBytes: number;
  /** Frames the rate queue refused (counted as the interface's oqdrops too). */
  txQueueDrops: number;
  /** Frames the ring refused (full): counted as oqdrops too. */
  txRingFull: number;
  /** Frames taken from the far end and handed to the kernel. */
  rxFrames: number;
  rxBytes: number;
}

/** a * 8e9 / b as the epair computes it: integer division of exact integers. */
function serializationNs(len: number, rateBps: number): number {
  const a = len * 8_000_000_000; // < 2^53 for any frame a link takes
  let q = Math.floor(a / rateBps);
  if (q * rateBps > a) q--;
  else if ((q + 1) * rateBps <= a) q++;
  return q;
}

export class XlinkEnd {
  readonly iface: TapInterface;
  /** The far end's partition (the coordinator's bookkeeping of frames in flight). */
  peer = -1;
  readonly stats: XlinkStats = { txFrames: 0, txBytes: 0, txQueueDrops: 0, txRingFull: 0, rxFrames: 0, rxBytes: 0 };
  private cond: LinkConditions = {};
  private linkFreeNs = 0;
  /** Departure times (µs) and lengths of frames still waiting for the link (rate queue). */
  private waiting: { depart: number; len: number }[] = [];
  private waitingBytes = 0;
  /** Earliest arrival time of the frames pushed since the last takeSentMin(). */
  private sentMin = Infinity;
  private readonly out: FrameRing;
  private readonly inRing: FrameRing;
  private readonly clock: ScheduleClock | undefined;
  private timers = new Set<ReturnType<typeof setTimeout>>();

  constructor(readonly kernel: Kernel, vnet: Vnet, opts: { name: string; mac: string; out: SharedArrayBuffer; in: SharedArrayBuffer; mtu?: number }) {
    this.out = new FrameRing(opts.out);
    this.inRing = new FrameRing(opts.in);
    this.clock = kernel.clock instanceof ScheduleClock ? kernel.clock : undefined;
    // Made in vnet0 and moved into the node's vnet, as Kernel.epair makes a local link's
    // ends: the tap draws its MAC (overwritten below by the link's) from the vnet it is made
    // in, and an epair end draws nothing from its node's random numbers. Made in the node's
    // vnet it shifted every later draw there (MLD report delays, ports) against a run of one.
    this.iface = createTap(kernel, kernel.vnet0, { name: opts.name, mac: opts.mac, ...(opts.mtu !== undefined ? { mtu: opts.mtu } : {}) }, (ptr) => new TapInterface(kernel, ptr), "cross-partition link");
    if (vnet !== kernel.vnet0) this.iface.moveTo(vnet);
    this.iface.port.wire = { send: (f) => this.send(f), flush: () => this.out.publish() };
    this.iface.port.setCarrier(true);
  }

  /** Conditions of the frames this end sends (delay and rate only: see the file header). */
  setConditions(c: LinkConditions): void {
    this.cond = { ...c };
  }

  conditions(): LinkConditions {
    return { ...this.cond };
  }

  private send(frame: Uint8Array): boolean {
    const now = this.kernel.clock.now();
    const c = this.cond;
    let depart = now;
    if (c.rateBps) {
      while (this.waiting.length && this.waiting[0]!.depart <= now) this.waitingBytes -= this.waiting.shift()!.len;
      const limit = c.queueLimit ?? DEFAULT_QUEUE_LIMIT;
      if (this.waiting.length >= limit || (c.queueBytes && this.waitingBytes + frame.length > c.queueBytes)) {
        this.stats.txQueueDrops++;
        return false;
      }
      const start = Math.max(this.linkFreeNs, now * 1000);
      const end = start + serializationNs(frame.length, c.rateBps);
      this.linkFreeNs = end;
      depart = Math.ceil(end / 1000);
      this.waiting.push({ depart, len: frame.length });
      this.waitingBytes += frame.length;
    }
    const at = depart + (c.delayUs ?? 0);
    if (!this.out.push(frame, at)) {
      this.stats.txRingFull++;
      return false;
    }
    this.stats.txFrames++;
    this.stats.txBytes += frame.length;
    if (at < this.sentMin) this.sentMin = at;
    return true;
  }

  /** The earliest arrival time pushed since the last call (Infinity: none), for the synchronization. */
  takeSentMin(): number {
    const m = this.sentMin;
    this.sentMin = Infinity;
    return m;
  }

  /**
   * Take what the far end published: each frame is copied out of the ring and handed to the
   * kernel at its arrival time (frames of one time in one batch). Returns frames taken.
   */
  receive(): number {
    const byTime = new Map<number, Uint8Array[]>();
    const n = this.inRing.pop((f, at) => {
      const list = byTime.get(at);
      if (list) list.push(f.slice());
      else byTime.set(at, [f.slice()]);
    });
    for (const [at, frames] of byTime) {
      const fire = () => this.deliver(frames);
      if (at <= this.kernel.clock.now()) fire();
      else if (this.clock) this.clock.at(at, fire);
      else {
        const t = setTimeout(() => {
          this.timers.delete(t);
          fire();
        }, Math.max(0, (at - this.kernel.clock.now()) / 1000));
        this.timers.add(t);
      }
    }
    return n;
  }

  private deliver(frames: Uint8Array[]): void {
    const port = this.iface.port;
    if (port.closed) return;
    for (const f of frames) {
      this.stats.rxFrames++;
      this.stats.rxBytes += f.length;
      port.input(f);
    }
    port.flush(); // now, at this time: not at the end of the turn
  }

  /** Records waiting in the incoming ring. */
  pending(): boolean {
    return this.inRing.pending();
  }

  /** The incoming ring's sequence and a wait on it (real clock: the worker sleeps until frames come). */
  get incoming(): FrameRing {
    return this.inRing;
  }

  close(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.out.close();
    // Its home is vnet0 (made there, see the constructor): it would go back there when its
    // node's vnet goes, and stay. Destroyed here, as the topology destroys its epairs first.
    if (this.iface.alive) this.iface.destroy();
  }
}
