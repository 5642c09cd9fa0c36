// kern_mbuf: mbuf and cluster memory (FreeBSD kern_mbuf.c): the zones, allocation and
// free, refcounted external storage, per-vnet limits and statistics, and moving a packet's
// charge between vnets. The operations on chains are in uipc_mbuf.ts; layout, flags and
// inline accessors in sys/mbuf.ts.
//
// Memory. mbufs and clusters come from ZONE_CHARGE zones: every item is charged to one
// vnet, with a per-vnet limit, so one stack cannot starve the others. An mbuf records the
// vnet it is charged to (m_vnet) and m_free uncharges that vnet whoever frees it; an
// unshared cluster is charged to its mbuf's vnet, a shared one to ExtRef.vnet.
// m_get and friends charge curvnet; m_chargeto moves a packet's charge, e.g. when epair
// hands it to another vnet. Both pass the vnet's byte budget and, near the kernel's
// budget, its fair share (kern_racct.ts) as well as the item limits.
//
// Errors. Nothing here traps on bad input: a refused allocation or a bad free is counted
// in mbstat (mbuf_stat).

import {
  Mbuf, ExtRef, MSIZE, MCLBYTES, MJUMPAGESIZE, MJUM9BYTES, MJUM16BYTES, MLEN, MHLEN, M_PKTHDR_OFF,
  M_DAT_OFF, M_PKTDAT_OFF, M_EXT, M_PKTHDR, M_RDONLY, M_COPYFLAGS, MT_NOTMBUF, EXT_CLUSTER,
  EXT_JUMBOP, EXT_JUMBO9, EXT_JUMBO16, EXT_MAX, MBZ_MBUF, MBZ_CLUSTER, MBZ_JUMBOP, MBZ_JUMBO9,
  MBZ_JUMBO16, MBZ_EXTREF, MBZ_COUNT, MBUF_VNET_MBUFS, MBUF_VNET_CLUSTERS, MBUF_VNET_JUMBOP,
  MBUF_VNET_JUMBO9, MBUF_VNET_JUMBO16, MBS_DROPS, MBS_BADARGS, MBS_BADFREE, MBS_CHARGE_FAIL,
  MBS_ORPHANS, MBS_SHARED, MBS_COUNT,
} from "../sys/mbuf";
import {
  zone_create, zone_destroy, zone_alloc_in, zone_free_in, zone_set_vnet_limit, zone_vnet_inuse,
  Zone, ZONE_CHARGE, ZR_INUSE, ZR_LIMIT, ZR_FAILS, ZR_PEAK,
} from "./zone";
import { KGLOBALS, KG_CURVNET } from "./kglobals";
import { Vnet, VNET_MAGIC, vnet_valid, vnet_uncharged } from "./vnet";
import { vnet_master_base } from "./vnet_data";
import { racct_may_charge, racct_move } from "./kern_racct";
import { EINVAL, ENOMEM } from "../sys/errno";

// Zones by MBZ_* index, and by ext_type (0 for types that are not ours).
const zones = memory.data(MBZ_COUNT * 4, 4);
const extZones = memory.data(<i32>EXT_MAX * 4, 4);
let mbufZone: usize = 0; // zones[MBZ_MBUF], kept in a global for the hot path
let refZone: usize = 0;
const mbstat = memory.data(MBS_COUNT * 4, 4);
// m_chargeto's per-zone tally (single-threaded kernel: a static scratch is enough).
const need = memory.data(MBZ_COUNT * 4, 4);

@inline export function count(which: u32): void {
  const p = mbstat + (<usize>which << 2);
  store<u32>(p, load<u32>(p) + 1);
}

@inline function zoneOf(i: u32): usize {
  return load<usize>(zones + (<usize>i << 2));
}

@inline function extZone(t: u16): usize {
  return t < EXT_MAX ? load<usize>(extZones + (<usize>t << 2)) : 0;
}

@inline function extIndex(t: u16): u32 {
  return t == EXT_CLUSTER ? MBZ_CLUSTER : t == EXT_JUMBOP ? MBZ_JUMBOP : t == EXT_JUMBO9 ? MBZ_JUMBO9 : MBZ_JUMBO16;
}

@inline function vbase(v: usize): usize {
  return changetype<Vnet>(v).base;
}

@inline function alive(v: usize): bool {
  return v != 0 && changetype<Vnet>(v).magic == VNET_MAGIC;
}

@inline export function imin(a: i32, b: i32): i32 {
  return a < b ? a : b;
}

// ---------------------------------------------------------------------------------------
// Boot and knobs

function zcreate(i: u32, name: string, size: u32, vnlimit: u32): bool {
  const z = zone_create(name, size, 0, ZONE_CHARGE, vnlimit);
  store<usize>(zones + (<usize>i << 2), z);
  return z != 0;
}

/**
 * Create the mbuf zones. Call after vnet_boot (the zones keep per-vnet records in the VNET
 * section). Returns 0, -EINVAL before the VNET section exists, or -ENOMEM.
 */
export function mbuf_boot(): i32 {
  if (mbufZone != 0) return 0;
  if (vnet_master_base() == 0) return -EINVAL;
  if (!zcreate(MBZ_MBUF, "mbuf", MSIZE, MBUF_VNET_MBUFS) ||
      !zcreate(MBZ_CLUSTER, "mbuf_cluster", MCLBYTES, MBUF_VNET_CLUSTERS) ||
      !zcreate(MBZ_JUMBOP, "mbuf_jumbo_page", MJUMPAGESIZE, MBUF_VNET_JUMBOP) ||
      !zcreate(MBZ_JUMBO9, "mbuf_jumbo_9k", MJUM9BYTES, MBUF_VNET_JUMBO9) ||
      !zcreate(MBZ_JUMBO16, "mbuf_jumbo_16k", MJUM16BYTES, MBUF_VNET_JUMBO16) ||
      !zcreate(MBZ_EXTREF, "mbuf_ext_ref", offsetof<ExtRef>(), 0)) {
    for (let i: u32 = 0; i < MBZ_COUNT; i++) {
      const z = zoneOf(i);
      if (z != 0) zone_destroy(z, true);
      store<usize>(zones + (<usize>i << 2), 0);
    }
    return -ENOMEM;
  }
  memory.fill(extZones, 0, <usize>EXT_MAX * 4);
  store<usize>(extZones + (<usize>EXT_CLUSTER << 2), zoneOf(MBZ_CLUSTER));
  store<usize>(extZones + (<usize>EXT_JUMBOP << 2), zoneOf(MBZ_JUMBOP));
  store<usize>(extZones + (<usize>EXT_JUMBO9 << 2), zoneOf(MBZ_JUMBO9));
  store<usize>(extZones + (<usize>EXT_JUMBO16 << 2), zoneOf(MBZ_JUMBO16));
  mbufZone = zoneOf(MBZ_MBUF);
  refZone = zoneOf(MBZ_EXTREF);
  return 0;
}

/** The zone of index which (MBZ_*), 0 if out of range or before mbuf_boot. */
export function mbuf_zone(which: u32): usize {
  return which < MBZ_COUNT ? zoneOf(which) : 0;
}

/** Set vnet v's limit (items, 0 = none) in one mbuf zone. -EINVAL for a bad v or zone. */
export function mbuf_set_vnet_zlimit(v: usize, which: u32, limit: u32): i32 {
  if (!vnet_valid(v) || which >= MBZ_COUNT || zoneOf(which) == 0) return -EINVAL;
  zone_set_vnet_limit(zoneOf(which), vbase(v), limit);
  return 0;
}

/**
 * Set vnet v's limits: mbufs, and clusters in 2 KiB units; the jumbo zones get the same
 * byte budget as the clusters (0 = no limit anywhere).
 */
export function mbuf_set_vnet_limit(v: usize, mbufs: u32, clusters: u32): i32 {
  if (!vnet_valid(v) || mbufZone == 0) return -EINVAL;
  const b = vbase(v);
  zone_set_vnet_limit(zoneOf(MBZ_MBUF), b, mbufs);
  zone_set_vnet_limit(zoneOf(MBZ_CLUSTER), b, clusters);
  const bytes = <u64>clusters * MCLBYTES;
  zone_set_vnet_limit(zoneOf(MBZ_JUMBOP), b, clusters == 0 ? 0 : <u32>max<u64>(1, bytes / MJUMPAGESIZE));
  zone_set_vnet_limit(zoneOf(MBZ_JUMBO9), b, clusters == 0 ? 0 : <u32>max<u64>(1, bytes / MJUM9BYTES));
  zone_set_vnet_limit(zoneOf(MBZ_JUMBO16), b, clusters == 0 ? 0 : <u32>max<u64>(1, bytes / MJUM16BYTES));
  return 0;
}

/** Items of zone which (MBZ_*) charged to vnet v. */
export function mbuf_vnet_inuse(v: usize, which: u32): u32 {
  if (!vnet_valid(v) || which >= MBZ_COUNT || zoneOf(which) == 0) return 0;
  return zone_vnet_inuse(zoneOf(which), vbase(v));
}

/** Allocations of zone which refused to vnet v because of its limit. */
export function mbuf_vnet_fails(v: usize, which: u32): u32 {
  if (!vnet_valid(v) || which >= MBZ_COUNT || zoneOf(which) == 0) return 0;
  return load<u32>(vbase(v) + changetype<Zone>(zoneOf(which)).vnoff, ZR_FAILS);
}

/** mbstat counter which (MBS_*). */
export function mbuf_stat(which: u32): f64 {
  return which < MBS_COUNT ? <f64>load<u32>(mbstat + (<usize>which << 2)) : 0;
}

export function mbuf_stat_reset(): void {
  memory.fill(mbstat, 0, MBS_COUNT * 4);
}

// ---------------------------------------------------------------------------------------
// Allocation and free

/** An mbuf charged to v; with M_PKTHDR in flags, with a zeroed packet header. */
@inline export function mbAlloc(v: usize, type: u16, flags: u32): usize {
  if (v == 0 || mbufZone == 0) {
    count(MBS_DROPS);
    return 0;
  }
  const m = zone_alloc_in(mbufZone, changetype<Vnet>(v).base);
  if (m == 0) {
    count(MBS_DROPS);
    return 0;
  }
  const mm = changetype<Mbuf>(m);
  mm.m_next = 0;
  mm.m_nextpkt = 0;
  mm.m_len = 0;
  mm.m_flags = flags;
  mm.m_type = type;
  mm.m_vnet = v;
  if (flags & M_PKTHDR) {
    mm.m_data = m + M_PKTDAT_OFF;
    const h = m + M_PKTHDR_OFF;
    store<u64>(h, 0, 0);
    store<u64>(h, 0, 8);
    store<u64>(h, 0, 16);
    store<u64>(h, 0, 24);
    store<u64>(h, 0, 32);
    store<u64>(h, 0, 40);
    mm.ph_vnet = v;
  } else {
    mm.m_data = m + M_DAT_OFF;
  }
  return m;
}

/** ext_type of the smallest cluster holding size bytes, 0 if none does. */
@inline function extTypeFor(size: u32): u16 {
  return size <= MCLBYTES ? EXT_CLUSTER : size <= MJUMPAGESIZE ? EXT_JUMBOP :
    size <= MJUM9BYTES ? EXT_JUMBO9 : size <= MJUM16BYTES ? EXT_JUMBO16 : 0;
}

@inline function extSize(t: u16): u32 {
  return t == EXT_CLUSTER ? MCLBYTES : t == EXT_JUMBOP ? MJUMPAGESIZE : t == EXT_JUMBO9 ? MJUM9BYTES : MJUM16BYTES;
}

/** Attach a fresh cluster of type t, charged to m's vnet. */
function clAttach(m: usize, t: u16): bool {
  const mm = changetype<Mbuf>(m);
  const buf = zone_alloc_in(extZone(t), vbase(mm.m_vnet));
  if (buf == 0) {
    count(MBS_DROPS);
    return false;
  }
  mm.ext_buf = buf;
  mm.ext_size = extSize(t);
  mm.ext_type = t;
  mm.ext_flags = 0;
  mm.ext_ref = 0;
  mm.m_data = buf;
  mm.m_flags |= M_EXT;
  return true;
}

function getjcl(v: usize, type: u16, flags: u32, size: u32): usize {
  const t = extTypeFor(size);
  if (t == 0) {
    count(MBS_BADARGS);
    return 0;
  }
  const m = mbAlloc(v, type, flags & M_COPYFLAGS);
  if (m == 0) return 0;
  if (!clAttach(m, t)) {
    changetype<Mbuf>(m).m_type = MT_NOTMBUF;
    zone_free_in(mbufZone, m, vbase(v));
    return 0;
  }
  return m;
}

/** An mbuf, or one with a cluster, holding size bytes (up to MJUM16BYTES) for v. */
export function mbAllocSize(v: usize, type: u16, flags: u32, size: i32): usize {
  const room = flags & M_PKTHDR ? <i32>MHLEN : <i32>MLEN;
  if (size <= room) return mbAlloc(v, type, flags);
  return getjcl(v, type, flags, <u32>imin(size, <i32>MJUM16BYTES));
}

/** m_get: an mbuf for curvnet; 0 when out of memory or over curvnet's limit. */
export function m_get(type: u16): usize {
  return mbAlloc(load<usize>(KGLOBALS + KG_CURVNET), type, 0);
}

/** m_gethdr: an mbuf with a packet header (ph_vnet = curvnet). */
export function m_gethdr(type: u16): usize {
  return mbAlloc(load<usize>(KGLOBALS + KG_CURVNET), type, M_PKTHDR);
}

/** m_getcl: an mbuf with a 2 KiB cluster; flags may hold M_PKTHDR (and packet flags). */
export function m_getcl(type: u16, flags: u32): usize {
  return getjcl(load<usize>(KGLOBALS + KG_CURVNET), type, flags, MCLBYTES);
}

/** m_getjcl: an mbuf with the smallest cluster of at least size bytes (<= MJUM16BYTES). */
export function m_getjcl(type: u16, flags: u32, size: u32): usize {
  return getjcl(load<usize>(KGLOBALS + KG_CURVNET), type, flags, size);
}

/** m_cljget: attach a cluster of at least size bytes to an mbuf without storage. */
export function m_cljget(m: usize, size: u32): bool {
  const t = extTypeFor(size);
  if (m == 0 || t == 0 || (changetype<Mbuf>(m).m_flags & M_EXT) != 0) {
    count(MBS_BADARGS);
    return false;
  }
  return clAttach(m, t);
}

/** Release m's reference to its external storage. */
function extFree(m: usize): void {
  const mm = changetype<Mbuf>(m);
  const z = extZone(mm.ext_type);
  if (z == 0) {
    count(MBS_BADFREE);
    return;
  }
  const r = mm.ext_ref;
  if (r == 0) {
    zone_free_in(z, mm.ext_buf, vbase(mm.m_vnet)); // m_free checked m_vnet is alive
    return;
  }
  const rr = changetype<ExtRef>(r);
  if (--rr.refcnt != 0) {
    const holder = mm.m_vnet;
    if (holder != rr.vnet) {
      if (rr.nalt != 0) rr.nalt--;
    } else if (rr.nalt != 0 && rr.refcnt <= rr.nalt && alive(rr.alt) && alive(holder)) {
      // The charged vnet let go of its last reference; the rest are other vnets': the
      // storage follows them, so the vnet that let go owns nothing of it any more.
      const to = rr.alt;
      nfrom = 0;
      chargeMove(z, holder, to);
      chargeMove(refZone, holder, to);
      rr.vnet = to;
      rr.nalt = 0; // (a third vnet's sharers, if any, now count as to's)
      vnet_uncharged(vbase(holder));
    }
    return;
  }
  const cv = rr.vnet;
  if (!alive(cv)) {
    count(MBS_ORPHANS);
    return;
  }
  zone_free_in(z, mm.ext_buf, vbase(cv));
  zone_free_in(refZone, r, vbase(cv));
}

/** m_free: free one mbuf (and its reference to external storage); returns m_next. */
export function m_free(m: usize): usize {
  if (m == 0) return 0;
  const mm = changetype<Mbuf>(m);
  if (mm.m_type == MT_NOTMBUF) {
    count(MBS_BADFREE);
    return 0;
  }
  const n = mm.m_next;
  const v = mm.m_vnet;
  mm.m_type = MT_NOTMBUF;
  // A vnet destroyed while its mbufs are still out stays a zombie (magic intact) until the
  // last one comes back, so this only catches an m_vnet that was never a vnet: leave the
  // mbuf allocated and count it rather than write through a wild pointer.
  if (changetype<Vnet>(v).magic != VNET_MAGIC) {
    count(MBS_ORPHANS);
    return n;
  }
  if (mm.m_flags & M_EXT) extFree(m);
  zone_free_in(mbufZone, m, changetype<Vnet>(v).base);
  return n;
}

/** m_freem: free a whole chain (m_next links; not m_nextpkt). */
export function m_freem(m: usize): void {
  while (m != 0) m = m_free(m);
}

/** Make n share m's external storage (FreeBSD mb_dupcl); false if no ExtRef could be had. */
export function extShare(n: usize, m: usize): bool {
  const mm = changetype<Mbuf>(m);
  let r = mm.ext_ref;
  if (r == 0) {
    // The cluster is charged to m's vnet; its refcount record is charged there too.
    r = zone_alloc_in(refZone, vbase(mm.m_vnet));
    if (r == 0) {
      count(MBS_DROPS);
      return false;
    }
    changetype<ExtRef>(r).refcnt = 1;
    changetype<ExtRef>(r).vnet = mm.m_vnet;
    changetype<ExtRef>(r).alt = 0;
    changetype<ExtRef>(r).nalt = 0;
    mm.ext_ref = r;
    count(MBS_SHARED);
  }
  const rr = changetype<ExtRef>(r);
  rr.refcnt++;
  const nn = changetype<Mbuf>(n);
  if (nn.m_vnet != rr.vnet) {
    rr.nalt++;
    rr.alt = nn.m_vnet;
  }
  nn.ext_buf = mm.ext_buf;
  nn.ext_size = mm.ext_size;
  nn.ext_type = mm.ext_type;
  nn.ext_flags = mm.ext_flags;
  nn.ext_ref = r;
  nn.m_flags |= M_EXT | (mm.m_flags & M_RDONLY);
  return true;
}

// ---------------------------------------------------------------------------------------
// Moving a packet's charge between vnets

@inline function tally(i: u32): void {
  const p = need + (<usize>i << 2);
  store<u32>(p, load<u32>(p) + 1);
}

// Vnets m_chargeto took charges from: a zombie among them may go once the move is done.
const MAX_FROM: u32 = 16;
const fromList = memory.data(MAX_FROM * 4, 4);
let nfrom: u32 = 0;

@inline function noteFrom(v: usize): void {
  for (let i: u32 = 0; i < nfrom; i++) if (load<usize>(fromList + (<usize>i << 2)) == v) return;
  if (nfrom < MAX_FROM) {
    store<usize>(fromList + (<usize>nfrom << 2), v);
    nfrom++;
  }
}

/** Move one item's charge in zone z from vnet `from` to vnet `to` (both alive). */
@inline function chargeMove(z: usize, from: usize, to: usize): void {
  noteFrom(from);
  const off = changetype<Zone>(z).vnoff;
  const a = vbase(from) + off;
  store<u32>(a, load<u32>(a, ZR_INUSE) - 1, ZR_INUSE);
  const b = vbase(to) + off;
  const r = load<u32>(b, ZR_INUSE) + 1;
  store<u32>(b, r, ZR_INUSE);
  if (r > load<u32>(b, ZR_PEAK)) store<u32>(b, r, ZR_PEAK);
  racct_move(vbase(from), vbase(to), changetype<Zone>(z).size);
}

/**
 * m_chargeto: charge a packet (the m_next chain) to vnet v: each mbuf, each cluster it
 * alone uses, and the packet header's ph_vnet. A cluster still shared stays charged to the
 * vnet that holds it (e.g. a sender's socket buffer), unless this packet takes that vnet's
 * last reference (the last fragment of a datagram to cross): then the cluster moves to v
 * too, as extFree moves it when that vnet frees its last one. Returns false, with nothing changed,
 * when v would go over its limit in any mbuf zone (counted there and in mbstat).
 */
export function m_chargeto(m: usize, v: usize): bool {
  if (m == 0) return true;
  if (!alive(v)) {
    count(MBS_BADARGS);
    return false;
  }
  // Fast path: one mbuf with its data inside (every small frame crossing an epair).
  const mm0 = changetype<Mbuf>(m);
  if (mm0.m_next == 0 && (mm0.m_flags & M_EXT) == 0) {
    const from = mm0.m_vnet;
    if (from != v) {
      if (!alive(from)) {
        count(MBS_BADARGS);
        return false;
      }
      const rec = vbase(v) + changetype<Zone>(mbufZone).vnoff;
      const lim = load<u32>(rec, ZR_LIMIT);
      if ((lim != 0 && load<u32>(rec, ZR_INUSE) >= lim) || !racct_may_charge(vbase(v), MSIZE)) {
        store<u32>(rec, load<u32>(rec, ZR_FAILS) + 1, ZR_FAILS);
        count(MBS_CHARGE_FAIL);
        return false;
      }
      nfrom = 0;
      chargeMove(mbufZone, from, v);
      mm0.m_vnet = v;
      vnet_uncharged(vbase(from));
    }
    if (mm0.m_flags & M_PKTHDR) mm0.ph_vnet = v;
    return true;
  }
  memory.fill(need, 0, MBZ_COUNT * 4);
  for (let n = m; n != 0; n = changetype<Mbuf>(n).m_next) {
    const nn = changetype<Mbuf>(n);
    if (!alive(nn.m_vnet)) {
      count(MBS_BADARGS);
      return false;
    }
    if (nn.m_vnet != v) tally(MBZ_MBUF);
    if (nn.m_flags & M_EXT) {
      const r = nn.ext_ref;
      if (extZone(nn.ext_type) == 0) {
        count(MBS_BADARGS);
        return false;
      }
      if (r == 0) {
        if (nn.m_vnet != v) tally(extIndex(nn.ext_type));
      } else if (changetype<ExtRef>(r).refcnt == 1 && changetype<ExtRef>(r).vnet != v) {
        if (!alive(changetype<ExtRef>(r).vnet)) {
          count(MBS_BADARGS);
          return false;
        }
        tally(extIndex(nn.ext_type));
        tally(MBZ_EXTREF);
      } else if (nn.m_vnet == changetype<ExtRef>(r).vnet && changetype<ExtRef>(r).nalt + 1 >= changetype<ExtRef>(r).refcnt) {
        // The charged vnet's last reference leaves with this packet: the storage follows it
        // (below), so v must have room for it too.
        tally(extIndex(nn.ext_type));
        tally(MBZ_EXTREF);
      }
    }
  }
  const b = vbase(v);
  let bytes: u64 = 0;
  for (let i: u32 = 0; i < MBZ_COUNT; i++) {
    const k = load<u32>(need + (<usize>i << 2));
    if (k == 0) continue;
    const z = zoneOf(i);
    const rec = b + changetype<Zone>(z).vnoff;
    const lim = load<u32>(rec, ZR_LIMIT);
    if (lim != 0 && <u64>load<u32>(rec, ZR_INUSE) + k > lim) {
      store<u32>(rec, load<u32>(rec, ZR_FAILS) + 1, ZR_FAILS);
      count(MBS_CHARGE_FAIL);
      return false;
    }
    bytes += <u64>k * changetype<Zone>(z).size;
  }
  // The byte budget and fair share (kern_racct.ts) for the whole packet at once.
  if (bytes != 0 && !racct_may_charge(b, <u32>min<u64>(bytes, 0xffffffff))) {
    count(MBS_CHARGE_FAIL);
    return false;
  }
  nfrom = 0;
  for (let n = m; n != 0; n = changetype<Mbuf>(n).m_next) {
    const nn = changetype<Mbuf>(n);
    const old = nn.m_vnet;
    if (nn.m_flags & M_EXT) {
      const r = nn.ext_ref;
      const z = extZone(nn.ext_type);
      if (r == 0) {
        if (old != v) chargeMove(z, old, v);
      } else {
        const rr = changetype<ExtRef>(r);
        if (rr.refcnt == 1 && rr.vnet != v) {
          chargeMove(z, rr.vnet, v);
          chargeMove(refZone, rr.vnet, v);
          rr.vnet = v;
          rr.nalt = 0;
        } else if (old != v) {
          // Still shared: count sharers charged away from the cluster's vnet.
          if (old == rr.vnet) rr.nalt++;
          else if (v == rr.vnet && rr.nalt != 0) rr.nalt--;
          if (v != rr.vnet) rr.alt = v;
          if (rr.vnet != v && rr.nalt >= rr.refcnt) {
            // Every reference is now charged away from the cluster's vnet (the fragments of
            // one datagram, each crossing an epair after the sender freed the original):
            // the storage follows them, as it does when the last reference is freed
            // (extFree), so the sender owns nothing of it and can be destroyed.
            chargeMove(z, rr.vnet, v);
            chargeMove(refZone, rr.vnet, v);
            rr.vnet = v;
            rr.nalt = 0; // (sharers in a third vnet, if any, now count as v's, as in extFree)
          }
        }
      }
    }
    if (old != v) {
      chargeMove(mbufZone, old, v);
      nn.m_vnet = v;
    }
  }
  const mm = changetype<Mbuf>(m);
  if (mm.m_flags & M_PKTHDR) mm.ph_vnet = v;
  // A destroyed vnet waiting for its items (a zombie) goes when the last one leaves it.
  for (let i: u32 = 0; i < nfrom; i++) vnet_uncharged(vbase(load<usize>(fromList + (<usize>i << 2))));
  return true;
}
