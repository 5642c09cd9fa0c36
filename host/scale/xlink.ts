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
// leaves at the next whole microsecond and arrives delay later. Loss, duplication and jitter
// draw from the link direction's own seeded stream (linkRandom, the same mulberry32 the
// epair runs when the host gives a direction its own stream: epair_set_rng), in the epair's
// order: loss, duplicate, then jitter for the frame and for its copy. The partition worker
// gives every local link of a scale run the same streams, so a cut link loses, duplicates
// and delays exactly the frames the uncut one does. Jitter is drawn when the frame leaves
// the link, so with a rate it would interleave with later frames' loss draws: a link with
// both stays inside a partition, as does reordering (a reordered frame arrives as it leaves:
// no lookahead); see uncuttable() in host/scale/partition.ts.

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
  /** Frames the loss condition dropped (the wire lost them: no interface counter). */
  txLost: number;
  /** Copies the duplicate condition made (each also counted in txFrames). */
  txDuplicated: number;
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

/**
 * The seed of one direction's own stream: link `link` of the file (its index), end 0 (a -> b)
 * or 1 (b -> a), in a run seeded with `seed`. Local and cut links take theirs from here.
 */
export function linkSeed(seed: number, link: number, end: 0 | 1): number {
  let h = Math.imul((seed >>> 0) ^ 0x5bd1e995, 0x9e3779b1) ^ Math.imul(link * 2 + end + 1, 0x85ebca6b);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  return h >>> 0;
}

/** The next draw (0 .. 2^32-1) of a direction's stream: mulberry32, as the epair's own_random. */
export function linkRandom(s: { rng: number }): number {
  const t0 = (s.rng + 0x6d2b79f5) >>> 0;
  s.rng = t0;
  let t = Math.imul(t0 ^ (t0 >>> 15), t0 | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return (t ^ (t >>> 14)) >>> 0;
}

/** A probability as the epair keeps it: a fraction of 2^32, rounded. */
const fixed = (p: number | undefined) => Math.round((p ?? 0) * 4294967296);

export class XlinkEnd {
  readonly iface: TapInterface;
  /** The far end's partition (the coordinator's bookkeeping of frames in flight). */
  peer = -1;
  readonly stats: XlinkStats = { txFrames: 0, txBytes: 0, txQueueDrops: 0, txRingFull: 0, txLost: 0, txDuplicated: 0, rxFrames: 0, rxBytes: 0 };
  private cond: LinkConditions = {};
  private loss = 0;
  private dup = 0;
  /** This direction's own stream (linkSeed): the state of linkRandom. */
  private readonly stream = { rng: 0 };
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

  constructor(readonly kernel: Kernel, vnet: Vnet, opts: { name: string; mac: string; out: SharedArrayBuffer; in: SharedArrayBuffer; mtu?: number; seed?: number }) {
    this.stream.rng = (opts.seed ?? 0) >>> 0;
    this.out = new FrameRing(opts.out);
    this.inRing = new FrameRing(opts.in);
    this.clock = kernel.clock instanceof ScheduleClock ? kernel.clock : undefined;
    // The tap draws a MAC from its vnet's random stream when it is made, and the link's MAC
    // replaces it; a local link's epair end draws nothing from its node's stream. So the
    // node's stream is put back after the tap is made: else every later draw there (MLD
    // report delays, ports) is shifted against a run of one worker. (Made in vnet0 and moved
    // instead, its ring would stay charged to vnet0, which a 600-link cut fills.)
    const rnd = kernel.k.random_vnet_state(vnet.ptr);
    const saved = kernel.memory.buffer.slice(rnd, rnd + 16);
    this.iface = createTap(kernel, vnet, { name: opts.name, mac: opts.mac, ...(opts.mtu !== undefined ? { mtu: opts.mtu } : {}) }, (ptr) => new TapInterface(kernel, ptr), "cross-partition link");
    new Uint8Array(kernel.memory.buffer, rnd, 16).set(new Uint8Array(saved));
    this.iface.port.wire = { send: (f) => this.send(f), flush: () => this.out.publish() };
    this.iface.port.setCarrier(true);
  }

  /** Conditions of the frames this end sends (no reordering, no jitter with a rate: see the file header). */
  setConditions(c: LinkConditions): void {
    if (c.reorder) throw new RangeError(`${this.iface.name}: a cross-partition link cannot reorder (a reordered frame has no delay, so no lookahead)`);
    if (c.jitterUs && c.rateBps) throw new RangeError(`${this.iface.name}: a cross-partition link cannot have both jitter and a rate (the jitter draw would come at another time than on an epair)`);
    if (c.jitterUs && c.jitterUs >= (c.delayUs ?? 0)) throw new RangeError(`${this.iface.name}: a cross-partition link needs jitter (${c.jitterUs} µs) below its delay (${c.delayUs ?? 0} µs): delay - jitter is its lookahead`);
    this.cond = { ...c };
    this.loss = fixed(c.loss);
    this.dup = fixed(c.duplicate);
  }

  conditions(): LinkConditions {
    return { ...this.cond };
  }

  /** A frame the kernel sent: loss and duplicate as the epair draws them, then each copy on its way. */
  private send(frame: Uint8Array): boolean {
    if (this.loss && linkRandom(this.stream) < this.loss) {
      this.stats.txLost++;
      return true; // the wire lost it: no interface counter, as on an epair
    }
    const copy = this.dup !== 0 && linkRandom(this.stream) < this.dup;
    const ok = this.stage(frame);
    if (!copy) return ok;
    this.stats.txDuplicated++;
    // Each refused copy is an oqdrop on an epair: the frame's own refusal is counted by the
    // tap port when send returns false, a second one here.
    if (this.stage(frame)) return ok;
    if (!ok) this.iface.port.drop("txQueueDrops");
    return false;
  }

  /** Rate queue, delay and jitter for one copy; false when the queue or the ring refuses it. */
  private stage(frame: Uint8Array): boolean {
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
    let at = depart + (c.delayUs ?? 0);
    const j = c.jitterUs ?? 0;
    if (j) {
      // uniform in [-j, +j] as the epair's own stream draws it (jitter < delay: never before it left)
      const u = linkRandom(this.stream) % (2 * j + 1);
      at = at + u - j;
    }
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
    // Destroyed with the link, as the topology destroys its epairs before the vnets.
    if (this.iface.alive) this.iface.destroy();
  }
}
