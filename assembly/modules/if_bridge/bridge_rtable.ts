// The bridge's address table (FreeBSD if_bridge.c bridge_rt*): MAC -> member port.
//
// Layout: a hash of BRIDGE_RTHASH_SIZE chains in one kmem page per bridge, nodes from the
// shared "bridge_rtnode" zone, both charged to the vnet the bridge was created in. The hash
// is keyed per bridge (arc4random at create) so a sender cannot aim frames at one chain.
// The table holds at most rtmax entries (statics included); a full table learns nothing and
// counts it (BS_TABLEFULL), as FreeBSD's brtexceeded.
//
// Ageing: a node records when its address was last seen as a source (`used`); it is expired
// once now >= used + ageing. Lookups ignore expired nodes, so expiry is exact whatever the
// sweep does; the sweep callout only frees them. It is armed only while dynamic entries
// exist, at the earliest expiry (at most one sweep a second), so an idle bridge keeps no
// timer and a virtual clock can run to idle. Changing the ageing time applies to every
// entry at once (expiry is computed from `used`), like Linux and unlike FreeBSD, which keeps
// the old deadline until the next refresh. Static entries never age and never move port.

import {
  kmem_alloc, kmem_free, zone_alloc_in, zone_free_in, callout_init, callout_reset_at, callout_stop,
  callout_pending, ticks, ENOSPC, ENOMEM,
} from "../../kmod/kapi";
import { ENOENT } from "../../sys/errno";
import {
  BridgeSoftc, BridgePort, Rtnode, BRIDGE_MAGIC, BRIDGE_RTHASH_SIZE, BRIDGE_SWEEP_MIN_US, IFBAF_STATIC,
  BS_LEARNED, BS_MOVED, BS_TABLEFULL, BS_EXPIRED, BS_DROP_NOMEM, sc_stat, sc_callout,
} from "./if_bridgevar";

let rtzone: usize = 0;

export function bridge_rtable_setzone(z: usize): void {
  rtzone = z;
}

const NO_TIME: u64 = 0xffffffffffffffff;

@inline function rthash(key: u32, lo: u32, hi: u32): u32 {
  // murmur3's finaliser over the two halves: cheap, and every input bit moves every output bit.
  let h = key ^ lo;
  h = (h ^ (h >>> 16)) * 0x85ebca6b;
  h ^= (hi + 0x9e3779b9) * 0xc2b2ae35;
  h = (h ^ (h >>> 13)) * 0x27d4eb2f;
  h ^= h >>> 16;
  return h & (BRIDGE_RTHASH_SIZE - 1);
}

@inline function bucket(sc: usize, lo: u32, hi: u32): usize {
  const s = changetype<BridgeSoftc>(sc);
  return s.rthash + (<usize>rthash(s.rthash_key, lo, hi) << 2);
}

@inline function expired(s: BridgeSoftc, n: Rtnode, now: u64): bool {
  return (n.flags & IFBAF_STATIC) == 0 && (s.ageing_us == 0 || now >= n.used + s.ageing_us);
}

/** The bucket page for a new bridge; false when memory is short. */
export function bridge_rthash_alloc(sc: usize): bool {
  const s = changetype<BridgeSoftc>(sc);
  const p = kmem_alloc(1, s.vnet);
  if (p == 0) return false;
  memory.fill(p, 0, BRIDGE_RTHASH_SIZE << 2);
  s.rthash = p;
  return true;
}

/** Free every node and the bucket page (the bridge is going away). */
export function bridge_rthash_free(sc: usize): void {
  const s = changetype<BridgeSoftc>(sc);
  if (s.rthash == 0) return;
  bridge_rtflush(sc, true);
  callout_stop(sc_callout(sc));
  kmem_free(s.rthash, 1, s.vnet);
  s.rthash = 0;
}

function rtfree(sc: usize, n: usize): void {
  const s = changetype<BridgeSoftc>(sc);
  if (changetype<Rtnode>(n).flags & IFBAF_STATIC) s.nstatic--;
  s.rtcount--;
  zone_free_in(rtzone, n, s.vbase);
}

/** Arm the sweep for the earliest expiry if it is not armed (re-binding it to curvnet). */
function rtarm(sc: usize, when: u64): void {
  const c = sc_callout(sc);
  if (callout_pending(c)) return;
  const floor = ticks() + BRIDGE_SWEEP_MIN_US;
  callout_init(c); // the bridge may have moved since: run in the vnet it is in now
  callout_reset_at(c, when > floor ? when : floor, bridge_timer.index, sc);
}

/** Learn (or refresh) src as reachable through port bif. */
export function bridge_rtupdate(sc: usize, src: usize, bif: usize): void {
  const s = changetype<BridgeSoftc>(sc);
  const lo = load<u32>(src);
  const hi = <u32>load<u16>(src, 4);
  const b = bucket(sc, lo, hi);
  const now = ticks();
  for (let n = load<usize>(b); n != 0; n = changetype<Rtnode>(n).next) {
    const nn = changetype<Rtnode>(n);
    if (nn.addr_lo != lo || nn.addr_hi != hi) continue;
    if (nn.flags & IFBAF_STATIC) return; // a static entry stays on its port
    if (s.ageing_us == 0) return;
    if (nn.port != bif) {
      nn.port = bif;
      sc_stat(sc, BS_MOVED);
    }
    nn.used = now;
    return;
  }
  if (s.ageing_us == 0) return; // hub mode: nothing is learned
  if (s.rtcount >= s.rtmax) {
    sc_stat(sc, BS_TABLEFULL);
    return;
  }
  const n = zone_alloc_in(rtzone, s.vbase);
  if (n == 0) {
    sc_stat(sc, BS_TABLEFULL);
    return;
  }
  const nn = changetype<Rtnode>(n);
  nn.addr_lo = lo;
  nn.addr_hi = hi;
  nn.port = bif;
  nn.used = now;
  nn.flags = 0;
  nn.next = load<usize>(b);
  store<usize>(b, n);
  s.rtcount++;
  sc_stat(sc, BS_LEARNED);
  rtarm(sc, now + s.ageing_us);
}

/** The port dst was learned on, or 0 (unknown or expired). */
export function bridge_rtlookup(sc: usize, dst: usize): usize {
  const s = changetype<BridgeSoftc>(sc);
  const lo = load<u32>(dst);
  const hi = <u32>load<u16>(dst, 4);
  for (let n = load<usize>(bucket(sc, lo, hi)); n != 0; n = changetype<Rtnode>(n).next) {
    const nn = changetype<Rtnode>(n);
    if (nn.addr_lo != lo || nn.addr_hi != hi) continue;
    return expired(s, nn, ticks()) ? 0 : nn.port;
  }
  return 0;
}

/** Add (or make static) the entry mac -> bif. -ENOSPC when the table is full. */
export function bridge_rtaddstatic(sc: usize, mac: usize, bif: usize): i32 {
  const s = changetype<BridgeSoftc>(sc);
  const lo = load<u32>(mac);
  const hi = <u32>load<u16>(mac, 4);
  const b = bucket(sc, lo, hi);
  for (let n = load<usize>(b); n != 0; n = changetype<Rtnode>(n).next) {
    const nn = changetype<Rtnode>(n);
    if (nn.addr_lo != lo || nn.addr_hi != hi) continue;
    if ((nn.flags & IFBAF_STATIC) == 0) s.nstatic++;
    nn.flags |= IFBAF_STATIC;
    nn.port = bif;
    nn.used = ticks();
    return 0;
  }
  if (s.rtcount >= s.rtmax) return -ENOSPC;
  const n = zone_alloc_in(rtzone, s.vbase);
  if (n == 0) {
    sc_stat(sc, BS_DROP_NOMEM);
    return -ENOMEM;
  }
  const nn = changetype<Rtnode>(n);
  nn.addr_lo = lo;
  nn.addr_hi = hi;
  nn.port = bif;
  nn.used = ticks();
  nn.flags = IFBAF_STATIC;
  nn.next = load<usize>(b);
  store<usize>(b, n);
  s.rtcount++;
  s.nstatic++;
  return 0;
}

/** Remove the entry for mac (static or not). -ENOENT if there is none. */
export function bridge_rtdaddr(sc: usize, mac: usize): i32 {
  const lo = load<u32>(mac);
  const hi = <u32>load<u16>(mac, 4);
  let pp = bucket(sc, lo, hi);
  for (let n = load<usize>(pp); n != 0; n = load<usize>(pp)) {
    const nn = changetype<Rtnode>(n);
    if (nn.addr_lo == lo && nn.addr_hi == hi) {
      store<usize>(pp, nn.next);
      rtfree(sc, n);
      return 0;
    }
    pp = n; // next is the first field: a node is its own link slot
  }
  return -ENOENT;
}

/**
 * Walk the table removing nodes: of port bif (0 = any), dynamic only unless all, and with
 * onlyExpired only those past their time. Returns how many went; sets `earliest` to the
 * first expiry among dynamic nodes that stay.
 */
let earliest: u64 = NO_TIME;

function rtwalk(sc: usize, bif: usize, all: bool, onlyExpired: bool, limit: u32): u32 {
  const s = changetype<BridgeSoftc>(sc);
  const now = ticks();
  earliest = NO_TIME;
  let removed: u32 = 0;
  if (s.rthash == 0) return 0;
  for (let i: u32 = 0; i < BRIDGE_RTHASH_SIZE; i++) {
    let pp = s.rthash + (<usize>i << 2);
    for (let n = load<usize>(pp); n != 0; n = load<usize>(pp)) {
      const nn = changetype<Rtnode>(n);
      const isStatic = (nn.flags & IFBAF_STATIC) != 0;
      let go = (bif == 0 || nn.port == bif) && (all || !isStatic) && removed < limit;
      if (go && onlyExpired) go = expired(s, nn, now);
      if (go) {
        store<usize>(pp, nn.next);
        rtfree(sc, n);
        removed++;
        continue;
      }
      if (!isStatic && s.ageing_us != 0) {
        const e = nn.used + s.ageing_us;
        if (e < earliest) earliest = e;
      }
      pp = n;
    }
  }
  return removed;
}

/** ifconfig bridge flush (dynamic entries) / flushall (static too). Returns entries removed. */
export function bridge_rtflush(sc: usize, all: bool): u32 {
  const n = rtwalk(sc, 0, all, false, 0xffffffff);
  if (changetype<BridgeSoftc>(sc).rtcount == changetype<BridgeSoftc>(sc).nstatic) callout_stop(sc_callout(sc));
  return n;
}

/** Every entry pointing at port bif (a member leaving), static ones included. */
export function bridge_rtdelete_port(sc: usize, bif: usize): u32 {
  return rtwalk(sc, bif, true, false, 0xffffffff);
}

/** Free expired entries; re-arm for the next expiry if dynamic entries remain. */
export function bridge_rtage(sc: usize): u32 {
  const c = sc_callout(sc);
  callout_stop(c);
  const n = rtwalk(sc, 0, false, true, 0xffffffff);
  for (let i: u32 = 0; i < n; i++) sc_stat(sc, BS_EXPIRED);
  if (earliest != NO_TIME) rtarm(sc, earliest);
  return n;
}

/** Bring the table down to rtmax: expired entries first, then dynamic ones in table order. */
export function bridge_rttrim(sc: usize): void {
  const s = changetype<BridgeSoftc>(sc);
  if (s.rtcount <= s.rtmax) return;
  bridge_rtage(sc);
  if (s.rtcount <= s.rtmax) return;
  rtwalk(sc, 0, false, false, s.rtcount - s.rtmax);
  if (s.rtcount == s.nstatic) callout_stop(sc_callout(sc));
}

// The sweep callout (arg: the softc). Runs in the vnet the bridge was in when it was armed.
function bridge_timer(sc: usize): void {
  if (sc == 0 || changetype<BridgeSoftc>(sc).magic != BRIDGE_MAGIC) return;
  bridge_rtage(sc);
}

// Listing: fixed records in this module's static window, filled a page at a time.
export const RTREC_SIZE: u32 = 24; // mac[6] flags:u16 port ifp:u32 pad:u32 expire:u64 (0 = static)
export const RTREC_MAX: u32 = 256;
export const rtrecs: usize = memory.data(<i32>(RTREC_SIZE * RTREC_MAX), 8);

/**
 * Fill rtrecs with up to RTREC_MAX live entries, skipping the first `skip` (table order is
 * stable while nothing changes). Returns how many were written.
 */
export function bridge_rtlist(sc: usize, skip: u32): u32 {
  const s = changetype<BridgeSoftc>(sc);
  if (s.rthash == 0) return 0;
  const now = ticks();
  let seen: u32 = 0;
  let out: u32 = 0;
  for (let i: u32 = 0; i < BRIDGE_RTHASH_SIZE && out < RTREC_MAX; i++) {
    for (let n = load<usize>(s.rthash + (<usize>i << 2)); n != 0 && out < RTREC_MAX; n = changetype<Rtnode>(n).next) {
      const nn = changetype<Rtnode>(n);
      if (expired(s, nn, now)) continue;
      if (seen++ < skip) continue;
      const r = rtrecs + <usize>out * RTREC_SIZE;
      store<u32>(r, nn.addr_lo);
      store<u16>(r, <u16>nn.addr_hi, 4);
      store<u16>(r, <u16>nn.flags, 6);
      store<u32>(r, changetype<BridgePort>(nn.port).ifp, 8);
      store<u32>(r, 0, 12);
      store<u64>(r, (nn.flags & IFBAF_STATIC) != 0 ? 0 : nn.used + s.ageing_us, 16);
      out++;
    }
  }
  return out;
}
