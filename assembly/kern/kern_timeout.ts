// Callouts: run a function at a given kernel time (FreeBSD callout(9) in spirit).
//
// Kernel time is an unsigned count of microseconds (u64) that only the host moves, through
// callout_tick(now). It is mirrored at KGLOBALS + KG_TICKS (u64) so modules read it in one load.
//
// A struct callout is embedded by its user (a PCB, a VNET section variable, a zone item) and
// bound to a vnet by callout_init; its function runs with curvnet set to that vnet. A
// function is a Wasm table index (`fn.index`) of a `(arg: usize) => void` function.
//
// Data structure: a hierarchical timing wheel of 8 levels x 64 slots (6 bits a level, 1 us
// at level 0, 2^48 us = 8.9 years in all) plus an overflow list beyond that. A callout with
// deadline d sits at the level of the highest 6-bit digit in which d differs from `now`, in
// the slot given by d's digit at that level; so everything at level L is in slots above
// now's digit L, and when now reaches a slot's start that slot is cascaded to lower levels.
// Two consequences: callouts with the same deadline always share one slot list (so list
// order = arming order = FIFO, and cascades keep it), and the earliest deadline is found
// from the lowest non-empty level's bitmap (exact at level 0, a scan of one slot above).
// Time never advances past a deadline without firing it: callout_tick jumps from event to
// event (a level-0 slot, or a slot start needing a cascade), so a jump of hours costs only
// the events in between.
//
// Rules:
// - A deadline at or before `now` (delta 0, or reset_at a past time) is "due": it goes on
//   the due list and fires at the start of the next callout_tick call, never inside the
//   tick that armed it. A callout that re-arms itself with delta 0 therefore fires once per
//   callout_tick, not forever. callout_next() then returns that deadline (<= now).
// - During a tick, `now` is the deadline being fired, so a callout re-armed from its own
//   function with delta X fires exactly X later, whatever steps the host ticks in.
// - Single-threaded kernel: a callout's function is never running while another call could
//   wait for it, so callout_drain is callout_stop.
// - Misuse does not trap: a zeroed (never initialised) callout is not pending (stop returns
//   0); reset of one binds it to curvnet; func 0 is -EINVAL; a nested callout_tick from a
//   callout function is ignored. The func must be a valid table index of the right type.

import { KGLOBALS, KG_CURVNET, KG_TICKS } from "./kglobals";
import { Vnet, CURVNET_SET, CURVNET_RESTORE } from "./vnet";
import { EINVAL } from "../sys/errno";

/** struct callout. Embed CALLOUT_SIZE bytes; touch it only through the callout_* calls. */
@unmanaged export class Callout {
  next: usize; // slot list links
  prev: usize;
  time: u64; // deadline, us (kept after firing: the last deadline)
  func: u32; // table index of (arg: usize) => void
  arg: usize;
  vnet: usize; // struct vnet * it runs in and is counted against
  bucket: u32; // list it is on + 1, 0 = none
  flags: u32; // CALLOUT_*
  seq: u32; // arming sequence number: orders equal deadlines (checked by callout_check)
}

export const CALLOUT_SIZE: u32 = offsetof<Callout>();

export const CALLOUT_PENDING: u32 = 1; // armed, on a list
export const CALLOUT_ACTIVE: u32 = 2; // set by reset, cleared by stop/drain/deactivate
export const CALLOUT_INIT: u32 = 4; // callout_init ran (vnet is bound)

// Wheel geometry.
const LEVEL_BITS: u32 = 6;
const SLOTS: u32 = 1 << LEVEL_BITS;
const SLOT_MASK: u64 = <u64>SLOTS - 1;
const LEVELS: u32 = 8;
const SPAN_BITS: u64 = <u64>(LEVEL_BITS * LEVELS); // 48
const NWHEEL: u32 = LEVELS * SLOTS; // buckets 0..511: level L slot s is L * 64 + s
const B_OVERFLOW: u32 = NWHEEL; // deadlines 2^48 us or more past now's top block
const B_DUE: u32 = NWHEEL + 1; // deadline <= now: fire at the next tick
const B_FIRING: u32 = NWHEEL + 2; // the due list being fired by this tick
const NBUCKETS: u32 = NWHEEL + 3;
const NO_TIME: u64 = 0xffffffffffffffff; // "none"; never a deadline
/** Latest time and deadline (2^63 - 1 us); later ones are clamped to it. */
export const CALLOUT_TIME_MAX: u64 = 0x7fffffffffffffff;
const BUCKET_SHIFT: usize = sizeof<usize>() == 8 ? 4 : 3; // head, tail

// Kernel static memory: list heads and per-level occupancy bitmaps (bit s = slot s non-empty).
const BUCKETS: usize = memory.data(<i32>(NBUCKETS << <u32>BUCKET_SHIFT), 8);
const BITMAPS: usize = memory.data(<i32>(LEVELS * 8), 8);
// Per list, its minimum deadline, or NO_TIME when not known (then callout_next walks the
// list and remembers it). Kept by append (a new minimum) and unlink (the minimum leaves:
// unknown). Thousands of callouts with one deadline (TIME_WAIT) share a slot of a high
// level, and the host asks callout_next before every step of its clock: one walk, not one
// per step.
const MINS: usize = memory.data(<i32>(NBUCKETS * 8), 8);

// Counters (callout_stat).
export const CS_FIRED: u32 = 0; // functions run
export const CS_RESETS: u32 = 1; // callout_reset*/schedule calls that armed
export const CS_STOPS: u32 = 2; // stop/drain calls that cancelled a pending callout
export const CS_CASCADED: u32 = 3; // callouts moved to a lower level
export const CS_LATE: u32 = 4; // fired from the due list (armed for now or the past)
export const CS_PURGED: u32 = 5; // stopped by callout_vnet_purge / callout_module_purge
export const CS_TICKS: u32 = 6; // callout_tick calls
export const CS_NESTED: u32 = 7; // callout_tick calls from a callout function (ignored)
export const CS_INVAL: u32 = 8; // calls refused (func 0, bad pointer)
const NSTATS: u32 = 9;
const STATS: usize = memory.data(<i32>(NSTATS * 8), 8);

let now: u64 = 0;
let npending: u32 = 0;
let seqNext: u32 = 0;
let ovMin: u64 = NO_TIME; // lower bound of the overflow list's deadlines
let inTick: bool = false;
let evLevel: u32 = 0; // set by nextEvent: level of the event, LEVELS = overflow

@inline function stat(i: u32): void {
  const p = STATS + (<usize>i << 3);
  store<u64>(p, load<u64>(p) + 1);
}

@inline function bucketAt(b: u32): usize {
  return BUCKETS + (<usize>b << BUCKET_SHIFT);
}

@inline function headOf(b: u32): usize {
  return load<usize>(bucketAt(b));
}

@inline function setNow(t: u64): void {
  now = t;
  store<u64>(KGLOBALS + KG_TICKS, t);
}

/** The callout fits in memory (guards every pointer the caller hands in). */
@inline function inMemory(c: usize): bool {
  return c != 0 && c + <usize>CALLOUT_SIZE <= (<usize>memory.size() << 16);
}

/** Bucket of a deadline d > now (d == now gives now's level-0 slot, used by a cascade). */
@inline function wheelIndex(d: u64): u32 {
  const x = d ^ now;
  if (x < <u64>SLOTS) return <u32>(d & SLOT_MASK);
  const level: u32 = (<u32>63 - <u32>clz(x)) / LEVEL_BITS;
  if (level >= LEVELS) return B_OVERFLOW;
  return (level << LEVEL_BITS) | <u32>((d >> <u64>(level * LEVEL_BITS)) & SLOT_MASK);
}

@inline function minAt(b: u32): usize {
  return MINS + (<usize>b << 3);
}

function append(b: u32, c: usize): void {
  const h = bucketAt(b);
  const cc = changetype<Callout>(c);
  const tail = load<usize>(h, sizeof<usize>());
  cc.next = 0;
  cc.prev = tail;
  const mp = minAt(b);
  if (tail != 0) {
    changetype<Callout>(tail).next = c;
    const m = load<u64>(mp);
    if (m != NO_TIME && cc.time < m) store<u64>(mp, cc.time);
  } else {
    store<u64>(mp, cc.time);
    store<usize>(h, c);
    if (b < NWHEEL) {
      const m = BITMAPS + (<usize>(b >> LEVEL_BITS) << 3);
      store<u64>(m, load<u64>(m) | (<u64>1 << <u64>(b & (SLOTS - 1))));
    }
  }
  store<usize>(h, c, sizeof<usize>());
  cc.bucket = b + 1;
}

function unlink(c: usize): void {
  const cc = changetype<Callout>(c);
  const b = cc.bucket - 1;
  const h = bucketAt(b);
  const next = cc.next;
  const prev = cc.prev;
  if (prev != 0) changetype<Callout>(prev).next = next;
  else store<usize>(h, next);
  if (next != 0) changetype<Callout>(next).prev = prev;
  else store<usize>(h, prev, sizeof<usize>());
  if (cc.time == load<u64>(minAt(b))) store<u64>(minAt(b), NO_TIME);
  if (prev == 0 && next == 0 && b < NWHEEL) {
    const m = BITMAPS + (<usize>(b >> LEVEL_BITS) << 3);
    store<u64>(m, load<u64>(m) & ~(<u64>1 << <u64>(b & (SLOTS - 1))));
  }
  cc.next = 0;
  cc.prev = 0;
  cc.bucket = 0;
}

/** Put c on the list for deadline d (its time and seq already set). */
@inline function place(c: usize, d: u64): void {
  if (d <= now) {
    append(B_DUE, c);
  } else {
    const b = wheelIndex(d);
    if (b == B_OVERFLOW && d < ovMin) ovMin = d;
    append(b, c);
  }
}

/**
 * c is really on the list its fields name. A PENDING flag alone is not trusted, so stop or
 * reset of a zeroed or scribbled struct cannot corrupt a list.
 */
function isLinked(c: usize): bool {
  const cc = changetype<Callout>(c);
  if ((cc.flags & CALLOUT_PENDING) == 0) return false;
  const b = cc.bucket;
  if (b == 0 || b > NBUCKETS) return false;
  const p = cc.prev;
  if (p == 0) return headOf(b - 1) == c;
  return inMemory(p) && changetype<Callout>(p).next == c;
}

@inline function uncount(cc: Callout): void {
  npending--;
  const v = cc.vnet;
  if (v != 0) changetype<Vnet>(v).callouts--;
}

/** Take a pending callout off its list and count it as no longer pending. */
function dequeue(c: usize): void {
  unlink(c);
  const cc = changetype<Callout>(c);
  cc.flags &= ~CALLOUT_PENDING;
  uncount(cc);
}

/** Bind c to the current vnet; a pending c is stopped first. */
export function callout_init(c: usize): void {
  if (!inMemory(c)) return;
  if (isLinked(c)) dequeue(c);
  memory.fill(c, 0, CALLOUT_SIZE);
  const cc = changetype<Callout>(c);
  cc.vnet = load<usize>(KGLOBALS + KG_CURVNET);
  cc.flags = CALLOUT_INIT;
}

/**
 * Arm c to run func(arg) at time when_us (a time at or before now is due: it runs at the
 * next callout_tick). Returns 1 if c was pending (it is moved), 0 if not, -EINVAL for
 * func 0 or a bad pointer (nothing changes).
 */
export function callout_reset_at(c: usize, when_us: u64, func: u32, arg: usize): i32 {
  if (func == 0 || !inMemory(c)) {
    stat(CS_INVAL);
    return -EINVAL;
  }
  const cc = changetype<Callout>(c);
  let r: i32 = 0;
  if (isLinked(c)) {
    unlink(c);
    r = 1;
  } else {
    let f = cc.flags;
    if ((f & CALLOUT_INIT) == 0) {
      cc.vnet = load<usize>(KGLOBALS + KG_CURVNET);
      f |= CALLOUT_INIT;
    }
    cc.flags = f | CALLOUT_PENDING;
    npending++;
    const v = cc.vnet;
    if (v != 0) changetype<Vnet>(v).callouts++;
  }
  cc.flags |= CALLOUT_ACTIVE;
  cc.func = func;
  cc.arg = arg;
  const d = when_us > now ? (when_us < CALLOUT_TIME_MAX ? when_us : CALLOUT_TIME_MAX) : now;
  cc.time = d;
  cc.seq = seqNext++;
  place(c, d);
  stat(CS_RESETS);
  return r;
}

/** Arm c to run func(arg) delta_us from now (clamped to CALLOUT_TIME_MAX). As callout_reset_at. */
export function callout_reset(c: usize, delta_us: u64, func: u32, arg: usize): i32 {
  let d = now + delta_us;
  if (d < now) d = CALLOUT_TIME_MAX;
  return callout_reset_at(c, d, func, arg);
}

/** Re-arm c with the func and arg of its last reset. -EINVAL if it never had one. */
export function callout_schedule(c: usize, delta_us: u64): i32 {
  if (!inMemory(c)) {
    stat(CS_INVAL);
    return -EINVAL;
  }
  const cc = changetype<Callout>(c);
  return callout_reset(c, delta_us, cc.func, cc.arg);
}

/** Cancel c. Returns 1 if it was pending (it will not run), else 0. Clears ACTIVE. */
export function callout_stop(c: usize): i32 {
  if (!inMemory(c)) return 0;
  const cc = changetype<Callout>(c);
  if (!isLinked(c)) {
    cc.flags &= ~(CALLOUT_ACTIVE | CALLOUT_PENDING);
    return 0;
  }
  dequeue(c);
  cc.flags &= ~CALLOUT_ACTIVE;
  stat(CS_STOPS);
  return 1;
}

/**
 * callout_stop that also waits for a running function to return. The kernel is one
 * thread, so nothing can be running concurrently: it is exactly callout_stop.
 */
export function callout_drain(c: usize): i32 {
  return callout_stop(c);
}

/** Armed and not yet fired or stopped. */
export function callout_pending(c: usize): bool {
  return inMemory(c) && isLinked(c);
}

/** Set by reset, kept after firing, cleared by stop/drain/deactivate (FreeBSD semantics). */
export function callout_active(c: usize): bool {
  return inMemory(c) && (changetype<Callout>(c).flags & CALLOUT_ACTIVE) != 0;
}

export function callout_deactivate(c: usize): void {
  if (inMemory(c)) changetype<Callout>(c).flags &= ~CALLOUT_ACTIVE;
}

/** Deadline of c in us: of the pending arming, else of the last one (0 if never armed). */
export function callout_time(c: usize): u64 {
  return inMemory(c) ? changetype<Callout>(c).time : 0;
}

/** The vnet c runs in. */
export function callout_vnet(c: usize): usize {
  return inMemory(c) ? changetype<Callout>(c).vnet : 0;
}

/** Run the callout at the head of bucket b (it is pending): dequeue, then call in its vnet. */
function fireHead(b: u32): void {
  const c = headOf(b);
  dequeue(c);
  const cc = changetype<Callout>(c);
  stat(CS_FIRED);
  const old = CURVNET_SET(cc.vnet);
  call_indirect<void>(cc.func, cc.arg);
  CURVNET_RESTORE(old);
}

/** Time of the next wheel event after now (sets evLevel), or NO_TIME. */
function nextEvent(): u64 {
  let bm = load<u64>(BITMAPS);
  if (bm != 0) {
    evLevel = 0;
    return (now & ~SLOT_MASK) | ctz(bm);
  }
  for (let l: u32 = 1; l < LEVELS; l++) {
    bm = load<u64>(BITMAPS + (<usize>l << 3));
    if (bm != 0) {
      evLevel = l;
      const sh = <u64>(l * LEVEL_BITS);
      const up = sh + <u64>LEVEL_BITS;
      return ((now >> up) << up) | (ctz(bm) << sh);
    }
  }
  if (headOf(B_OVERFLOW) != 0) {
    evLevel = LEVELS;
    const t = (ovMin >> SPAN_BITS) << SPAN_BITS;
    return t > now ? t : now;
  }
  return NO_TIME;
}

/** now reached the start of level l's lowest occupied slot: move its callouts down. */
function cascade(l: u32): void {
  const b = (l << LEVEL_BITS) | <u32>ctz(load<u64>(BITMAPS + (<usize>l << 3)));
  const h = bucketAt(b);
  let c = load<usize>(h);
  store<usize>(h, 0);
  store<usize>(h, 0, sizeof<usize>());
  store<u64>(minAt(b), NO_TIME);
  const m = BITMAPS + (<usize>l << 3);
  store<u64>(m, load<u64>(m) & ~(<u64>1 << <u64>(b & (SLOTS - 1))));
  while (c != 0) {
    const next = changetype<Callout>(c).next;
    append(wheelIndex(changetype<Callout>(c).time), c);
    stat(CS_CASCADED);
    c = next;
  }
}

/** now reached the top block of the overflow list's minimum: re-place what now fits. */
function cascadeOverflow(): void {
  let min = NO_TIME;
  let c = headOf(B_OVERFLOW);
  while (c != 0) {
    const cc = changetype<Callout>(c);
    const next = cc.next;
    const b = wheelIndex(cc.time);
    if (b != B_OVERFLOW) {
      unlink(c);
      append(b, c);
      stat(CS_CASCADED);
    } else if (cc.time < min) {
      min = cc.time;
    }
    c = next;
  }
  ovMin = min;
}

/** Host time (f64 us) to kernel time; NaN and negatives are 0. */
@inline function toTime(t: f64): u64 {
  if (!(t > 0)) return 0;
  if (t >= <f64>CALLOUT_TIME_MAX) return CALLOUT_TIME_MAX;
  return <u64>t;
}

/**
 * Advance kernel time to now_us and run every callout due by then: first the due list
 * (armed for a time at or before the previous now), then the wheel in deadline order,
 * equal deadlines in arming order, each in its own vnet with `now` at its deadline.
 * A time before the current one is taken as the current one (time never goes back).
 * Returns the number of functions run.
 */
export function callout_tick(now_us: f64): u32 {
  if (inTick) {
    stat(CS_NESTED);
    return 0;
  }
  stat(CS_TICKS);
  let target = toTime(now_us);
  if (target < now) target = now;
  inTick = true;
  let n: u32 = 0;
  // The due list moves to the firing list, so what its functions arm for now waits a tick.
  let c = headOf(B_DUE);
  if (c != 0) {
    const h = bucketAt(B_DUE);
    const f = bucketAt(B_FIRING);
    store<usize>(f, c);
    store<usize>(f, load<usize>(h, sizeof<usize>()), sizeof<usize>());
    store<usize>(h, 0);
    store<usize>(h, 0, sizeof<usize>());
    for (; c != 0; c = changetype<Callout>(c).next) changetype<Callout>(c).bucket = B_FIRING + 1;
    while (headOf(B_FIRING) != 0) {
      fireHead(B_FIRING);
      stat(CS_LATE);
      n++;
    }
  }
  for (;;) {
    const e = nextEvent();
    if (e == NO_TIME || e > target) break;
    setNow(e);
    if (evLevel == LEVELS) cascadeOverflow();
    else if (evLevel != 0) cascade(evLevel);
    // Level 0, slot of e: exactly the callouts due at e. Nothing can join it while it
    // fires (a deadline <= now goes to the due list), so this loop ends.
    const b = <u32>(e & SLOT_MASK);
    while (headOf(b) != 0) {
      fireHead(b);
      n++;
    }
  }
  setNow(target);
  inTick = false;
  return n;
}

/** Minimum deadline on bucket b's list (remembered until it leaves; see MINS). */
function listMin(b: u32): u64 {
  let min = load<u64>(minAt(b));
  if (min != NO_TIME) return min;
  for (let c = headOf(b); c != 0; c = changetype<Callout>(c).next) {
    const t = changetype<Callout>(c).time;
    if (t < min) min = t;
  }
  store<u64>(minAt(b), min);
  return min;
}

/** Earliest pending deadline in us (exact; <= now when something is due), or -1. */
export function callout_next(): f64 {
  if (headOf(B_FIRING) != 0) return <f64>now;
  const d = headOf(B_DUE);
  if (d != 0) return <f64>changetype<Callout>(d).time; // due list is in deadline order
  let bm = load<u64>(BITMAPS);
  if (bm != 0) return <f64>((now & ~SLOT_MASK) | ctz(bm));
  for (let l: u32 = 1; l < LEVELS; l++) {
    bm = load<u64>(BITMAPS + (<usize>l << 3));
    if (bm != 0) return <f64>listMin((l << LEVEL_BITS) | <u32>ctz(bm));
  }
  if (headOf(B_OVERFLOW) != 0) return <f64>listMin(B_OVERFLOW);
  return -1;
}

/** Kernel time in us. */
export function callout_now(): f64 {
  return <f64>now;
}

/** Kernel time in us, for kernel code and modules (also at KGLOBALS + KG_TICKS). */
@inline export function callout_ticks(): u64 {
  return now;
}

/** Callouts pending in all vnets. */
export function callout_pending_count(): u32 {
  return npending;
}

/** Counter i (CS_*), or 0 for an unknown one. */
export function callout_stat(i: u32): f64 {
  return i < NSTATS ? <f64>load<u64>(STATS + (<usize>i << 3)) : 0;
}

export function callout_fired_total(): f64 {
  return callout_stat(CS_FIRED);
}

/** Stop every pending callout for which match(c, a, b) holds; returns how many. */
function purge(kind: u32, a: usize, b: u32): u32 {
  let n: u32 = 0;
  for (let i: u32 = 0; i < NBUCKETS; i++) {
    let c = headOf(i);
    while (c != 0) {
      const cc = changetype<Callout>(c);
      const next = cc.next;
      const hit = kind == 0 ? cc.vnet == a : cc.func >= <u32>a && cc.func < b;
      if (hit) {
        dequeue(c);
        cc.flags &= ~CALLOUT_ACTIVE;
        stat(CS_PURGED);
        n++;
      }
      c = next;
    }
  }
  return n;
}

/** Stop every pending callout of vnet v (vnet_destroy's reclaim); returns how many. */
export function callout_vnet_purge(v: usize): u32 {
  return purge(0, v, 0);
}

/** Stop every pending callout whose func is in [lo, hi) (module unload); returns how many. */
export function callout_module_purge(lo: u32, hi: u32): u32 {
  return lo < hi ? purge(1, <usize>lo, hi) : 0;
}

/** Pending callouts whose func is in [lo, hi), counted, none stopped (kldstat -v). */
export function callout_module_count(lo: u32, hi: u32): u32 {
  let n: u32 = 0;
  for (let i: u32 = 0; i < NBUCKETS; i++) {
    for (let c = headOf(i); c != 0; c = changetype<Callout>(c).next) {
      const f = changetype<Callout>(c).func;
      if (f >= lo && f < hi) n++;
    }
  }
  return n;
}

/**
 * Check every invariant of the wheel; 0 if all hold, else the number of the first broken
 * one. For tests and for a host that wants to verify a kernel after a fault.
 */
export function callout_check(): i32 {
  let total: u32 = 0;
  for (let i: u32 = 0; i < NBUCKETS; i++) {
    const h = bucketAt(i);
    let prev: usize = 0;
    let c = load<usize>(h);
    let min = NO_TIME;
    while (c != 0) {
      const cc = changetype<Callout>(c);
      if (cc.prev != prev) return 1;
      if (cc.bucket != i + 1) return 2;
      if ((cc.flags & CALLOUT_PENDING) == 0) return 3;
      if (i < NWHEEL || i == B_OVERFLOW) {
        if (!inTick && cc.time <= now) return 4;
        if (cc.time > now && wheelIndex(cc.time) != i) return 5;
        if (i == B_OVERFLOW && cc.time < ovMin) return 6;
      } else if (cc.time > now) {
        return 7;
      }
      // Equal deadlines on one list are in arming order (FIFO).
      if (prev != 0 && changetype<Callout>(prev).time == cc.time &&
          <i32>(cc.seq - changetype<Callout>(prev).seq) <= 0) return 8;
      if (i == B_DUE && prev != 0 && changetype<Callout>(prev).time > cc.time) return 9;
      if (cc.time < min) min = cc.time;
      total++;
      prev = c;
      c = cc.next;
    }
    if (load<usize>(h, sizeof<usize>()) != prev) return 10;
    // A remembered minimum is the list's (the due and firing lists keep none).
    const known = load<u64>(minAt(i));
    if ((i < NWHEEL || i == B_OVERFLOW) && prev != 0 && known != NO_TIME && known != min) return 13;
    if (i < NWHEEL) {
      const bit = (load<u64>(BITMAPS + (<usize>(i >> LEVEL_BITS) << 3)) >> <u64>(i & (SLOTS - 1))) & 1;
      if ((bit != 0) != (prev != 0)) return 11;
    }
  }
  if (total != npending) return 12;
  return 0;
}
