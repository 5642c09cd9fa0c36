// The wire between the two ends of an epair: delivery into the peer's vnet and, per
// direction, link conditions in the manner of Linux netem (loss, duplication, a rate with a
// bounded queue, delay with jitter, reordering), deterministic under virtual time because
// every random draw comes from the kernel's seeded PRNG and every time is a kernel time.
// A direction may instead draw from its own stream (epair_set_rng: a mulberry32 state in
// the direction, seeded by the host), so that the same draws can be made outside this kernel:
// the end of a link cut between two kernels (host/scale/xlink.ts) makes them in the same
// order (loss, duplicate, then per copy jitter) and so loses the same frames.
//
// A frame sent with conditions goes through, in netem's order:
//   1. loss: dropped with probability loss (counted, no interface counter: the wire lost it);
//   2. duplicate: with probability duplicate a deep copy (m_dup, so no cluster is shared
//      across vnets) follows the frame through the rest, independently;
//   3. rate queue: with a rate, the frame waits for the link (FIFO) and occupies it for
//      len * 8 / rate (ns precision, so a 64-byte frame at 1 Gbit/s costs 512 ns, not 1 us);
//      the queue holds at most qlimit frames (and qbytes bytes): overflow is a queue drop
//      (ES_QDROPS, and if_oqdrops on the sender);
//   4. delay line: when it leaves the link (or at once without a rate) it arrives delay +
//      uniform[-jitter, +jitter] later, never before it left;
//   5. reorder: with probability reorder it skips the delay line and arrives as it leaves,
//      ahead of the frames still in the line.
// Times are fixed when a frame enters a stage, so changing conditions affects only frames
// sent (or leaving the link) afterwards.
//
// Queues and timer: two queues per direction linked through m_nextpkt, each frame's time in
// its packet header's ph_rcv_tstmp (us; cleared again before delivery): the rate queue in
// FIFO order of departure, the delay line in order of arrival (insertion walks from the
// head unless the frame goes last, the usual case; a list, as netem's tfifo was before it
// became an rbtree). One callout per direction is armed for the earlier of the two heads;
// it runs everything due, in time order, then re-arms. The callout is bound to the pair's
// home vnet, which outlives both ends (the pair dies with it).
//
// Delivery (at once or from the callout) checks the receiving end at that moment: it must
// be UP and RUNNING and its vnet alive, and the receiving vnet must accept the packet's
// charge (m_chargeto, within its mbuf limits); otherwise the frame is dropped and counted.
// While a frame is in flight it stays charged to the vnet that sent it; a vnet's teardown
// sweeps every in-flight frame charged to it (epair_sweep), so no vnet lingers as a zombie
// waiting for frames on a wire.

import {
  ticks, arc4random, arc4random_uniform, m_freem, m_dup, m_chargeto, ether_input, CURVNET_SET, CURVNET_RESTORE, vnet_alive,
  callout_reset_at, callout_stop,
} from "../../kmod/kapi";
import { Ifnet, IFF_UP, IFF_RUNNING, IFCOUNTER_OQDROPS, IFCOUNTER_OERRORS, if_inc_counter } from "../../sys/if";
import { Mbuf, ExtRef, M_EXT, M_TSTMP } from "../../sys/mbuf";
import { EpairDir, EPAIR_MAGIC, NO_TIME, DIR_CALLOUT, EPAIR_MAX_DEPTH, dir } from "./if_epairvar";


const UPRUN: u32 = IFF_UP | IFF_RUNNING;

/** Nesting of deliveries now (epair -> stack -> epair ...). */
let depth: u32 = 0;
/** epair_timer's table slot, set once by epair_link_init (keeps the inline path out of a compile cycle). */
let timerFn: u32 = 0;

export function epair_link_init(): void {
  timerFn = epair_timer.index;
}

@inline function tstmp(m: usize): u64 {
  return changetype<Mbuf>(m).ph_rcv_tstmp;
}

/** The next draw of d's own stream (mulberry32; host/scale/xlink.ts linkRandom is the same). */
function own_random(d: EpairDir): u32 {
  let t: u32 = d.rng + 0x6d2b79f5;
  d.rng = t;
  t = (t ^ (t >>> 15)) * (t | 1);
  t ^= t + (t ^ (t >>> 7)) * (t | 61);
  return t ^ (t >>> 14);
}

@inline function coin(d: EpairDir, p: u64): bool {
  return <u64>(d.own_rng != 0 ? own_random(d) : arc4random()) < p;
}

/** Uniform in [0, n): the own stream takes the remainder (exact on both sides; bias < n / 2^32). */
@inline function uniform(d: EpairDir, n: u32): u32 {
  return d.own_rng != 0 ? own_random(d) % n : arc4random_uniform(n);
}

/**
 * Hand m to d's receiving end now, in its vnet. The hot path: no division, no callout, no
 * host call. Counts a drop when the end is down, its vnet is going away or over its limit.
 */
@inline export function epair_deliver_inline(d: EpairDir, m: usize): void {
  const peer = d.peer;
  const pv = changetype<Ifnet>(peer).if_vnet;
  if ((changetype<Ifnet>(peer).if_flags & UPRUN) != UPRUN || !vnet_alive(pv)) {
    d.c_dropped++;
    if_inc_counter(d.ifp, IFCOUNTER_OERRORS, 1);
    m_freem(m);
    return;
  }
  if (depth >= EPAIR_MAX_DEPTH) {
    defer(d, m);
    return;
  }
  if (!m_chargeto(m, pv)) {
    d.c_dropped++;
    if_inc_counter(d.ifp, IFCOUNTER_OQDROPS, 1);
    m_freem(m);
    return;
  }
  d.c_delivered++;
  depth++;
  const old = CURVNET_SET(pv);
  ether_input(peer, m);
  CURVNET_RESTORE(old);
  depth--;
}

function deliver(d: EpairDir, m: usize): void {
  const mm = changetype<Mbuf>(m);
  mm.m_nextpkt = 0;
  mm.ph_rcv_tstmp = 0;
  mm.m_flags &= ~M_TSTMP;
  epair_deliver_inline(d, m);
}

/**
 * Too deeply nested: arrive 1 us later instead, from the callout. Not "now": a loop of
 * forwarders would then spin inside one tick; this way it is paced by time.
 */
function defer(d: EpairDir, m: usize): void {
  dq_insert(d, m, ticks() + 1);
  arm(d);
}

// ---------------------------------------------------------------------------------------
// Queues

function dq_insert(d: EpairDir, m: usize, t: u64): void {
  const mm = changetype<Mbuf>(m);
  mm.ph_rcv_tstmp = t;
  mm.m_nextpkt = 0;
  const tail = d.dq_tail;
  if (tail == 0) {
    d.dq_head = m;
    d.dq_tail = m;
  } else if (tstmp(tail) <= t) {
    changetype<Mbuf>(tail).m_nextpkt = m;
    d.dq_tail = m;
  } else if (t < tstmp(d.dq_head)) {
    mm.m_nextpkt = d.dq_head;
    d.dq_head = m;
  } else {
    let p = d.dq_head;
    for (;;) {
      const n = changetype<Mbuf>(p).m_nextpkt;
      if (n == 0 || tstmp(n) > t) break;
      p = n;
    }
    mm.m_nextpkt = changetype<Mbuf>(p).m_nextpkt;
    changetype<Mbuf>(p).m_nextpkt = m;
  }
  d.dq_len++;
}

function dq_pop(d: EpairDir): usize {
  const m = d.dq_head;
  d.dq_head = changetype<Mbuf>(m).m_nextpkt;
  if (d.dq_head == 0) d.dq_tail = 0;
  d.dq_len--;
  return m;
}

function rq_pop(d: EpairDir): usize {
  const m = d.rq_head;
  d.rq_head = changetype<Mbuf>(m).m_nextpkt;
  if (d.rq_head == 0) d.rq_tail = 0;
  d.rq_len--;
  d.rq_bytes -= <u32>changetype<Mbuf>(m).ph_len;
  return m;
}

/** Arm d's callout for its earliest event (or stop it when nothing is queued). */
function arm(d: EpairDir): void {
  const rt = d.rq_head != 0 ? tstmp(d.rq_head) : NO_TIME;
  const dt = d.dq_head != 0 ? tstmp(d.dq_head) : NO_TIME;
  const t = rt < dt ? rt : dt;
  if (t == d.armed) return;
  const c = changetype<usize>(d) + DIR_CALLOUT;
  if (t == NO_TIME) callout_stop(c);
  else callout_reset_at(c, t, timerFn, changetype<usize>(d));
  d.armed = t;
}

// ---------------------------------------------------------------------------------------
// Stages

/** Stage 4-5: m left the link (or skipped it) at time t: reorder, or into the delay line. */
function propagate(d: EpairDir, m: usize, t: u64): void {
  if (d.reorder != 0 && coin(d, d.reorder)) {
    d.c_reordered++;
    deliver(d, m);
    return;
  }
  let when = t + d.delay_us;
  const j = d.jitter_us;
  if (j != 0) {
    // uniform in [-j, +j], never before the frame left
    const u = <u64>uniform(d, <u32>(2 * j + 1));
    when = when + u >= j ? when + u - j : t;
  }
  if (when <= ticks()) {
    deliver(d, m);
    return;
  }
  dq_insert(d, m, when);
  arm(d);
}

/** Stage 3: wait for the link, or a queue drop. */
function stage(d: EpairDir, m: usize): void {
  if (d.rate_bps == 0) {
    propagate(d, m, ticks());
    return;
  }
  const mm = changetype<Mbuf>(m);
  const len = <u32>mm.ph_len;
  if (d.rq_len >= d.qlimit || (d.qbytes != 0 && d.rq_bytes + len > d.qbytes)) {
    d.c_qdrops++;
    if_inc_counter(d.ifp, IFCOUNTER_OQDROPS, 1);
    m_freem(m);
    return;
  }
  const now_ns = ticks() * 1000;
  const start = d.link_free_ns > now_ns ? d.link_free_ns : now_ns;
  const end = start + (<u64>len * 8_000_000_000) / d.rate_bps;
  d.link_free_ns = end;
  mm.ph_rcv_tstmp = (end + 999) / 1000;
  mm.m_nextpkt = 0;
  if (d.rq_tail != 0) changetype<Mbuf>(d.rq_tail).m_nextpkt = m;
  else d.rq_head = m;
  d.rq_tail = m;
  d.rq_len++;
  d.rq_bytes += len;
  arm(d);
}

/** A frame sent on a direction with conditions (stages 1-2, then the rest). */
export function epair_enqueue(d: EpairDir, m: usize): void {
  if (d.loss != 0 && coin(d, d.loss)) {
    d.c_lost++;
    m_freem(m);
    return;
  }
  let copy: usize = 0;
  if (d.dup != 0 && coin(d, d.dup)) {
    copy = m_dup(m);
    if (copy != 0) d.c_duplicated++;
  }
  stage(d, m);
  if (copy != 0) stage(d, copy);
}

/** The direction's callout: run every event due now, in time order, then re-arm. */
function epair_timer(arg: usize): void {
  const d = dir(arg);
  d.armed = NO_TIME;
  const now = ticks();
  for (;;) {
    // A delivery may have set off the pair's destruction.
    if (d.magic != EPAIR_MAGIC) return;
    const rt = d.rq_head != 0 ? tstmp(d.rq_head) : NO_TIME;
    const dt = d.dq_head != 0 ? tstmp(d.dq_head) : NO_TIME;
    if (dt <= rt) {
      if (dt > now) break;
      deliver(d, dq_pop(d));
    } else {
      if (rt > now) break;
      propagate(d, rq_pop(d), rt);
    }
  }
  arm(d);
}

// ---------------------------------------------------------------------------------------
// Teardown

/** Drop everything d holds (the pair is being destroyed) and stop its callout. */
export function epair_flush(d: EpairDir): void {
  callout_stop(changetype<usize>(d) + DIR_CALLOUT);
  d.armed = NO_TIME;
  while (d.rq_head != 0) {
    m_freem(rq_pop(d));
    d.c_dropped++;
  }
  while (d.dq_head != 0) {
    m_freem(dq_pop(d));
    d.c_dropped++;
  }
  d.link_free_ns = 0;
}

/** True if any part of packet m is charged to vnet v (an mbuf, or a shared cluster). */
function chargedTo(m: usize, v: usize): bool {
  for (let n = m; n != 0; n = changetype<Mbuf>(n).m_next) {
    const nn = changetype<Mbuf>(n);
    if (nn.m_vnet == v) return true;
    if ((nn.m_flags & M_EXT) != 0 && nn.ext_ref != 0 && changetype<ExtRef>(nn.ext_ref).vnet == v) return true;
  }
  return false;
}

/** Filter d's rate queue or delay line, freeing the frames charged to v. Returns frames freed. */
function sweepQueue(d: EpairDir, v: usize, rate: bool): u32 {
  let n: u32 = 0;
  let prev: usize = 0;
  let m = rate ? d.rq_head : d.dq_head;
  while (m != 0) {
    const next = changetype<Mbuf>(m).m_nextpkt;
    if (chargedTo(m, v)) {
      if (prev != 0) changetype<Mbuf>(prev).m_nextpkt = next;
      else if (rate) d.rq_head = next;
      else d.dq_head = next;
      if (rate) {
        d.rq_len--;
        d.rq_bytes -= <u32>changetype<Mbuf>(m).ph_len;
      } else {
        d.dq_len--;
      }
      m_freem(m);
      n++;
    } else {
      prev = m;
    }
    m = next;
  }
  if (rate) d.rq_tail = prev;
  else d.dq_tail = prev;
  return n;
}

/** Vnet v is going away: drop the frames in flight on d that are charged to it. */
export function epair_sweep(d: EpairDir, v: usize): void {
  const n = sweepQueue(d, v, true) + sweepQueue(d, v, false);
  if (n == 0) return;
  d.c_dropped += n;
  arm(d);
}
