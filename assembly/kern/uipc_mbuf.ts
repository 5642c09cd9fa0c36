// mbufs: packet buffers and the BSD operations on chains of them (FreeBSD kern_mbuf.c and
// uipc_mbuf.c). Layout, flags and inline accessors are in sys/mbuf.ts.
//
// Memory. mbufs and clusters come from ZONE_CHARGE zones: every item is charged to one
// vnet, with a per-vnet limit, so one stack cannot starve the others. An mbuf records the
// vnet it is charged to (m_vnet) and m_free uncharges that vnet whoever frees it; an
// unshared cluster is charged to its mbuf's vnet, a shared one to ExtRef.vnet.
// m_get and friends charge curvnet; operations that grow an existing chain (m_pullup,
// m_prepend, m_append, m_copyback, m_split) charge the vnet of the chain's first mbuf;
// m_copym and m_dup make a new packet for curvnet. m_chargeto moves a packet's charge,
// e.g. when epair hands it to another vnet.
//
// Where this differs from FreeBSD: m_prepend updates the packet header length; a negative
// m_adj frees the mbufs it empties instead of keeping them at length 0; M_COPYFLAGS leaves
// out M_RDONLY (it describes storage, not the packet); m_copyback refuses to write into
// shared or read-only storage; m_pullup and m_prepend take a cluster when len > MHLEN; a
// zero-length m_copym returns one empty mbuf; m_free of a freed mbuf is counted, not applied.
//
// Errors. Nothing here traps on bad input: an offset or length outside the chain returns
// 0 / false and is counted in mbstat (mbuf_stat), as is every refused allocation.

import {
  Mbuf, ExtRef, MSIZE, MCLBYTES, MJUMPAGESIZE, MJUM9BYTES, MJUM16BYTES, MLEN, MHLEN,
  M_PKTHDR_OFF, M_PKTHDR_SIZE, M_DAT_OFF, M_PKTDAT_OFF, M_EXT, M_PKTHDR, M_EOR, M_RDONLY, M_COPYFLAGS,
  MT_NOTMBUF, EXT_CLUSTER, EXT_JUMBOP, EXT_JUMBO9, EXT_JUMBO16, EXT_MAX,
  M_START, M_SIZE, M_WRITABLE, M_LEADINGSPACE, M_TRAILINGSPACE, M_COPYALL,
  MBZ_MBUF, MBZ_CLUSTER, MBZ_JUMBOP, MBZ_JUMBO9, MBZ_JUMBO16, MBZ_EXTREF, MBZ_COUNT,
  MBUF_VNET_MBUFS, MBUF_VNET_CLUSTERS, MBUF_VNET_JUMBOP, MBUF_VNET_JUMBO9, MBUF_VNET_JUMBO16,
  MBS_DROPS, MBS_BADARGS, MBS_BADFREE, MBS_PULLUP_FAIL, MBS_COPY_FAIL, MBS_CHARGE_FAIL,
  MBS_ORPHANS, MBS_NOTWRITABLE, MBS_SHARED, MBS_COUNT,
} from "../sys/mbuf";
import { zone_create, zone_destroy, zone_alloc_in, zone_free_in, zone_set_vnet_limit, zone_vnet_inuse, Zone, ZONE_CHARGE, ZR_INUSE, ZR_LIMIT, ZR_FAILS, ZR_PEAK } from "./zone";
import { KGLOBALS, KG_CURVNET } from "./kglobals";
import { Vnet, VNET_MAGIC, vnet_valid, vnet_uncharged } from "./vnet";
import { vnet_master_base } from "./vnet_data";
import { EINVAL, ENOMEM } from "../sys/errno";

// Zones by MBZ_* index, and by ext_type (0 for types that are not ours).
const zones = memory.data(MBZ_COUNT * 4, 4);
const extZones = memory.data(<i32>EXT_MAX * 4, 4);
let mbufZone: usize = 0; // zones[MBZ_MBUF], kept in a global for the hot path
let refZone: usize = 0;
const mbstat = memory.data(MBS_COUNT * 4, 4);
// m_chargeto's per-zone tally (single-threaded kernel: a static scratch is enough).
const need = memory.data(MBZ_COUNT * 4, 4);

@inline function count(which: u32): void {
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

@inline function imin(a: i32, b: i32): i32 {
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
@inline function mbAlloc(v: usize, type: u16, flags: u32): usize {
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
function mbAllocSize(v: usize, type: u16, flags: u32, size: i32): usize {
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
  if (--rr.refcnt != 0) return;
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
function extShare(n: usize, m: usize): bool {
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
    mm.ext_ref = r;
    count(MBS_SHARED);
  }
  changetype<ExtRef>(r).refcnt++;
  const nn = changetype<Mbuf>(n);
  nn.ext_buf = mm.ext_buf;
  nn.ext_size = mm.ext_size;
  nn.ext_type = mm.ext_type;
  nn.ext_flags = mm.ext_flags;
  nn.ext_ref = r;
  nn.m_flags |= M_EXT | (mm.m_flags & M_RDONLY);
  return true;
}

// ---------------------------------------------------------------------------------------
// Packet headers and alignment

/** m_align: place the data so that len bytes end at the end of the buffer (4-byte aligned). */
export function m_align(m: usize, len: i32): void {
  if (m == 0) return;
  const size = <i32>M_SIZE(m);
  const lead = len >= 0 && len <= size ? (size - len) & ~3 : 0;
  changetype<Mbuf>(m).m_data = M_START(m) + lead;
}

/** Copy from's packet header into to (an empty mbuf), with the packet flags. */
function copyPkthdr(to: usize, from: usize): void {
  const tt = changetype<Mbuf>(to);
  const wasHdr = tt.m_flags & M_PKTHDR;
  memory.copy(to + M_PKTHDR_OFF, from + M_PKTHDR_OFF, M_PKTHDR_SIZE);
  tt.m_flags = (tt.m_flags & (M_EXT | M_RDONLY)) | (changetype<Mbuf>(from).m_flags & M_COPYFLAGS);
  if (!wasHdr && (tt.m_flags & M_EXT) == 0) tt.m_data = to + M_PKTDAT_OFF;
}

/** m_move_pkthdr: move from's packet header to to (an empty mbuf); from loses M_PKTHDR. */
export function m_move_pkthdr(to: usize, from: usize): void {
  if (to == 0 || from == 0 || (changetype<Mbuf>(from).m_flags & M_PKTHDR) == 0) {
    count(MBS_BADARGS);
    return;
  }
  copyPkthdr(to, from);
  changetype<Mbuf>(from).m_flags &= ~M_PKTHDR;
}

/** m_dup_pkthdr: copy from's packet header to to (an empty mbuf). */
export function m_dup_pkthdr(to: usize, from: usize): void {
  if (to == 0 || from == 0 || (changetype<Mbuf>(from).m_flags & M_PKTHDR) == 0) {
    count(MBS_BADARGS);
    return;
  }
  copyPkthdr(to, from);
}

/** m_demote_pkthdr: m is no longer the first mbuf of a packet (its data stays in place). */
export function m_demote_pkthdr(m: usize): void {
  if (m != 0) changetype<Mbuf>(m).m_flags &= ~M_PKTHDR;
}

/** m_length: bytes in the chain. */
export function m_length(m: usize): i32 {
  let n: i32 = 0;
  while (m != 0) {
    n += changetype<Mbuf>(m).m_len;
    m = changetype<Mbuf>(m).m_next;
  }
  return n;
}

/** m_fixhdr: set the packet header's length to the chain's; returns it. */
export function m_fixhdr(m: usize): i32 {
  const n = m_length(m);
  if (m != 0 && (changetype<Mbuf>(m).m_flags & M_PKTHDR) != 0) changetype<Mbuf>(m).ph_len = n;
  return n;
}

/** Last mbuf of a chain. */
@inline function lastOf(m: usize): usize {
  while (changetype<Mbuf>(m).m_next != 0) m = changetype<Mbuf>(m).m_next;
  return m;
}

// ---------------------------------------------------------------------------------------
// Chain operations

/**
 * m_pullup: make the first len bytes contiguous in the first mbuf. Returns the (possibly
 * new) head, or 0 after freeing the chain when it holds fewer than len bytes, len is over
 * MJUM16BYTES, or memory is short (as BSD). A cluster serves when len exceeds MHLEN.
 */
export function m_pullup(m: usize, len: i32): usize {
  if (m == 0) return 0;
  const mm = changetype<Mbuf>(m);
  if (mm.m_len >= len) return m;
  if (len > <i32>MJUM16BYTES || m_length(m) < len) {
    count(MBS_BADARGS);
    count(MBS_PULLUP_FAIL);
    m_freem(m);
    return 0;
  }
  let n: usize;
  let s: usize;
  if (M_TRAILINGSPACE(m) >= len - mm.m_len) {
    n = m; // room in place (writable, since M_TRAILINGSPACE is 0 otherwise)
    s = mm.m_next;
  } else {
    const hdr = mm.m_flags & M_PKTHDR;
    n = mbAllocSize(mm.m_vnet, mm.m_type, hdr, len);
    if (n == 0) {
      count(MBS_PULLUP_FAIL);
      m_freem(m);
      return 0;
    }
    if (hdr) m_move_pkthdr(n, m);
    s = m;
  }
  const nn = changetype<Mbuf>(n);
  let want = len - nn.m_len;
  let dst = nn.m_data + nn.m_len;
  while (want > 0 && s != 0) {
    const ss = changetype<Mbuf>(s);
    const c = imin(want, ss.m_len);
    memory.copy(dst, ss.m_data, c);
    dst += c;
    want -= c;
    nn.m_len += c;
    ss.m_len -= c;
    ss.m_data += c;
    if (ss.m_len == 0) s = m_free(s);
  }
  nn.m_next = s;
  return n;
}

/**
 * m_prepend: put a new mbuf of len bytes (data uninitialised) in front of m, moving the
 * packet header to it and adding len to the packet length (BSD leaves that to M_PREPEND).
 * Returns the new head, or 0 after freeing the chain.
 */
export function m_prepend(m: usize, len: i32): usize {
  if (m == 0) return 0;
  if (len < 0 || len > <i32>MJUM16BYTES) {
    count(MBS_BADARGS);
    m_freem(m);
    return 0;
  }
  const mm = changetype<Mbuf>(m);
  const hdr = mm.m_flags & M_PKTHDR;
  const n = mbAllocSize(mm.m_vnet, mm.m_type, hdr, len);
  if (n == 0) {
    m_freem(m);
    return 0;
  }
  const nn = changetype<Mbuf>(n);
  if (hdr) m_move_pkthdr(n, m);
  nn.m_next = m;
  m_align(n, len);
  nn.m_len = len;
  if (hdr) nn.ph_len += len;
  return n;
}

/**
 * M_PREPEND: len more bytes at the front of the packet, in m's leading space when it has
 * room, else in a new mbuf (m_prepend). Returns the head, or 0 after freeing the chain.
 */
export function M_PREPEND(m: usize, len: i32): usize {
  if (m == 0) return 0;
  if (len >= 0 && M_LEADINGSPACE(m) >= len) {
    const mm = changetype<Mbuf>(m);
    mm.m_data -= len;
    mm.m_len += len;
    if (mm.m_flags & M_PKTHDR) mm.ph_len += len;
    return m;
  }
  return m_prepend(m, len);
}

/**
 * m_adj: trim len bytes from the head (len > 0) or -len bytes from the tail (len < 0) and
 * fix the packet length. Head trimming leaves emptied mbufs in the chain (the head pointer
 * stays valid, as BSD); tail trimming frees the mbufs it empties.
 */
export function m_adj(m: usize, len: i32): void {
  if (m == 0 || len == 0) return;
  const mm = changetype<Mbuf>(m);
  if (len > 0) {
    let left = len;
    let n = m;
    while (n != 0 && left > 0) {
      const nn = changetype<Mbuf>(n);
      if (nn.m_len <= left) {
        left -= nn.m_len;
        nn.m_data += nn.m_len;
        nn.m_len = 0;
        n = nn.m_next;
      } else {
        nn.m_len -= left;
        nn.m_data += left;
        left = 0;
      }
    }
    if (mm.m_flags & M_PKTHDR) mm.ph_len -= len - left;
    return;
  }
  const trim: i64 = -<i64>len;
  const total = m_length(m);
  let keep: i32 = trim >= <i64>total ? 0 : total - <i32>trim;
  if (mm.m_flags & M_PKTHDR) mm.ph_len = keep;
  let n = m;
  while (true) {
    const nn = changetype<Mbuf>(n);
    if (nn.m_len >= keep || nn.m_next == 0) {
      nn.m_len = keep;
      const rest = nn.m_next;
      nn.m_next = 0;
      m_freem(rest);
      return;
    }
    keep -= nn.m_len;
    n = nn.m_next;
  }
}

/**
 * m_split: cut the chain after len0 bytes; returns the tail (with a copy of the packet
 * header when m0 has one), or 0 when len0 is past the end or memory is short, the chain
 * unchanged. A cluster cut in the middle is shared by both halves (refcount), not copied.
 * Cutting a chain with no packet header exactly at its end returns 0 as well (no tail).
 */
export function m_split(m0: usize, len0: i32): usize {
  if (m0 == 0 || len0 < 0) {
    count(MBS_BADARGS);
    return 0;
  }
  let len = len0;
  let m = m0;
  while (m != 0 && len > changetype<Mbuf>(m).m_len) {
    len -= changetype<Mbuf>(m).m_len;
    m = changetype<Mbuf>(m).m_next;
  }
  if (m == 0) {
    count(MBS_BADARGS);
    return 0;
  }
  const mm = changetype<Mbuf>(m);
  const m0m = changetype<Mbuf>(m0);
  const remain = mm.m_len - len;
  const hdr = m0m.m_flags & M_PKTHDR;
  let n: usize;
  if (hdr) {
    if (m == m0 && (mm.m_flags & M_EXT) == 0 && remain > <i32>MHLEN) {
      count(MBS_BADARGS); // a header mbuf holding more than MHLEN: not built by us
      return 0;
    }
    n = mbAlloc(m0m.m_vnet, m0m.m_type, M_PKTHDR);
    if (n == 0) return 0;
    const nn = changetype<Mbuf>(n);
    if (remain == 0 || ((mm.m_flags & M_EXT) == 0 && remain > <i32>MHLEN)) {
      // The header mbuf stays empty: the tail is m's successors, or m's own tail split off.
      let tail = mm.m_next;
      if (remain != 0) {
        tail = m_split(m, len); // m is not m0 (checked above), so this does not recurse again
        if (tail == 0) {
          m_free(n);
          return 0;
        }
      } else {
        mm.m_next = 0;
      }
      splitHdr(n, m0, len0);
      nn.m_next = tail;
      return n;
    }
  } else {
    if (remain == 0) {
      n = mm.m_next;
      mm.m_next = 0;
      return n;
    }
    n = mbAlloc(mm.m_vnet, mm.m_type, 0);
    if (n == 0) return 0;
  }
  const nn = changetype<Mbuf>(n);
  if (mm.m_flags & M_EXT) {
    if (!extShare(n, m)) {
      m_free(n);
      return 0;
    }
    nn.m_data = mm.m_data + len;
  } else {
    m_align(n, remain);
    memory.copy(nn.m_data, mm.m_data + len, remain);
  }
  if (hdr) splitHdr(n, m0, len0);
  nn.m_len = remain;
  mm.m_len = len;
  nn.m_next = mm.m_next;
  mm.m_next = 0;
  return n;
}

/** The tail's packet header after m_split: a copy, with its own length and no checksums. */
function splitHdr(n: usize, m0: usize, len0: i32): void {
  const nn = changetype<Mbuf>(n);
  const m0m = changetype<Mbuf>(m0);
  const data = nn.m_data;
  copyPkthdr(n, m0);
  nn.m_data = data;
  nn.m_flags &= ~M_EOR;
  nn.ph_csum_flags = 0;
  nn.ph_csum_data = 0;
  nn.ph_len = m0m.ph_len - len0;
  m0m.ph_len = len0;
}

/**
 * m_copym: a copy of len bytes (M_COPYALL: to the end) from offset off. Clusters are shared
 * by refcount, internal data is copied. The copy has a packet header when off is 0 and m
 * has one; it is charged to curvnet. Returns 0 (counted) when the range is outside the
 * chain or memory is short. A zero-length copy is one empty mbuf.
 */
export function m_copym(m: usize, off: i32, len: i32): usize {
  if (m == 0 || off < 0 || len < 0) {
    count(MBS_BADARGS);
    return 0;
  }
  const head = m;
  const copyhdr = off == 0 && (changetype<Mbuf>(m).m_flags & M_PKTHDR) != 0;
  while (m != 0 && off >= changetype<Mbuf>(m).m_len) {
    if (off == 0) break;
    off -= changetype<Mbuf>(m).m_len;
    m = changetype<Mbuf>(m).m_next;
  }
  if (m == 0 && off > 0) {
    count(MBS_BADARGS);
    count(MBS_COPY_FAIL);
    return 0;
  }
  const v = load<usize>(KGLOBALS + KG_CURVNET);
  const all = len == M_COPYALL;
  let top: usize = 0;
  let tail: usize = 0;
  let copied: i32 = 0;
  let failed = false;
  while (m != 0 && (all || len > 0)) {
    const mm = changetype<Mbuf>(m);
    let c = mm.m_len - off;
    if (!all) c = imin(c, len);
    if (c <= 0) {
      m = mm.m_next;
      off = 0;
      continue;
    }
    const n = mbAlloc(v, mm.m_type, top == 0 && copyhdr ? M_PKTHDR : 0);
    if (n == 0) {
      failed = true;
      break;
    }
    const nn = changetype<Mbuf>(n);
    if (top == 0) {
      if (copyhdr) copyPkthdr(n, head);
      top = n;
    } else {
      changetype<Mbuf>(tail).m_next = n;
    }
    tail = n;
    if (mm.m_flags & M_EXT) {
      if (!extShare(n, m)) {
        failed = true;
        break;
      }
      nn.m_data = mm.m_data + off;
    } else {
      c = imin(c, <i32>M_SIZE(n)); // a header mbuf holds less than a plain one
      memory.copy(nn.m_data, mm.m_data + off, c);
    }
    nn.m_len = c;
    copied += c;
    if (!all) len -= c;
    off += c;
    if (off >= mm.m_len) {
      m = mm.m_next;
      off = 0;
    }
  }
  if (failed || (!all && len > 0)) {
    if (!failed) count(MBS_BADARGS); // the chain is shorter than off + len
    count(MBS_COPY_FAIL);
    m_freem(top);
    return 0;
  }
  if (top == 0) {
    top = mbAlloc(v, changetype<Mbuf>(head).m_type, copyhdr ? M_PKTHDR : 0);
    if (top == 0) {
      count(MBS_COPY_FAIL);
      return 0;
    }
    if (copyhdr) copyPkthdr(top, head);
  }
  if (copyhdr) changetype<Mbuf>(top).ph_len = copied;
  return top;
}

/**
 * m_copydata: copy len bytes from offset off of the chain to dst. Returns false (counted),
 * with whatever fitted copied, when the range runs past the chain.
 */
export function m_copydata(m: usize, off: i32, len: i32, dst: usize): bool {
  if (off < 0 || len < 0) {
    count(MBS_BADARGS);
    return false;
  }
  if (len == 0) return true;
  while (m != 0 && off >= changetype<Mbuf>(m).m_len) {
    off -= changetype<Mbuf>(m).m_len;
    m = changetype<Mbuf>(m).m_next;
  }
  while (len > 0) {
    if (m == 0) {
      count(MBS_BADARGS);
      return false;
    }
    const mm = changetype<Mbuf>(m);
    const c = imin(mm.m_len - off, len);
    memory.copy(dst, mm.m_data + off, c);
    dst += c;
    len -= c;
    off = 0;
    m = mm.m_next;
  }
  return true;
}

/**
 * Fill the chain's end: `gap` zero bytes then len bytes from src, in the last mbuf's
 * trailing space and then in new mbufs (clusters for large amounts) charged to v.
 * Returns the bytes of src written.
 */
function extend(last: usize, gap: i32, src: usize, len: i32, v: usize): i32 {
  let m = last;
  let done: i32 = 0;
  let ts = M_TRAILINGSPACE(m);
  while (true) {
    const mm = changetype<Mbuf>(m);
    if (ts > 0) {
      const g = imin(gap, ts);
      if (g > 0) memory.fill(mm.m_data + mm.m_len, 0, g);
      mm.m_len += g;
      gap -= g;
      const c = imin(len - done, ts - g);
      if (c > 0) memory.copy(mm.m_data + mm.m_len, src + done, c);
      mm.m_len += c;
      done += c;
    }
    if (gap == 0 && done == len) return done;
    const n = mbAllocSize(v, mm.m_type, 0, gap + len - done);
    if (n == 0) return done;
    mm.m_next = n;
    m = n;
    ts = <i32>M_SIZE(n);
  }
}

/**
 * m_copyback: write len bytes from src at offset off, extending the chain (zero-filling any
 * gap) when the range runs past its end; the packet length grows to match. Refuses
 * (false, nothing written) when the range covers shared or read-only storage; false with
 * a partial write when memory runs short.
 */
export function m_copyback(m0: usize, off: i32, len: i32, src: usize): bool {
  if (m0 == 0 || off < 0 || len < 0 || <i64>off + len > <i64>i32.MAX_VALUE) {
    count(MBS_BADARGS);
    return false;
  }
  if (len == 0) return true;
  // Pass 1: every mbuf whose data the range covers must be writable.
  let o = off;
  let l = len;
  for (let m = m0; m != 0 && l > 0; m = changetype<Mbuf>(m).m_next) {
    const ml = changetype<Mbuf>(m).m_len;
    if (o < ml) {
      if (!M_WRITABLE(m)) {
        count(MBS_NOTWRITABLE);
        return false;
      }
      l -= imin(l, ml - o);
      o = 0;
    } else {
      o -= ml;
    }
  }
  // Pass 2: write over existing data, then extend.
  let m = m0;
  o = off;
  let done: i32 = 0;
  let ok = true;
  while (true) {
    const mm = changetype<Mbuf>(m);
    if (o < mm.m_len) {
      const c = imin(len - done, mm.m_len - o);
      memory.copy(mm.m_data + o, src + done, c);
      done += c;
      o = 0;
    } else {
      o -= mm.m_len;
    }
    if (done == len) break;
    if (mm.m_next == 0) {
      ok = extend(m, o, src + done, len - done, changetype<Mbuf>(m0).m_vnet) == len - done;
      break;
    }
    m = mm.m_next;
  }
  const h = changetype<Mbuf>(m0);
  if (h.m_flags & M_PKTHDR) {
    const t = m_length(m0);
    if (t > h.ph_len) h.ph_len = t;
  }
  return ok;
}

/**
 * m_append: add len bytes from src at the end of the chain (packet length included).
 * false when memory runs short; what was appended stays.
 */
export function m_append(m0: usize, len: i32, src: usize): bool {
  if (m0 == 0 || len < 0) {
    count(MBS_BADARGS);
    return false;
  }
  if (len == 0) return true;
  const h = changetype<Mbuf>(m0);
  const done = extend(lastOf(m0), 0, src, len, h.m_vnet);
  if (h.m_flags & M_PKTHDR) h.ph_len += done;
  return done == len;
}

/**
 * m_cat: append chain n to chain m. n's data is copied into m's last mbuf while it fits
 * (and n's mbufs freed), the rest is linked. Packet lengths are not touched (m_catpkt).
 */
export function m_cat(m: usize, n: usize): void {
  if (m == 0) {
    if (n != 0) count(MBS_BADARGS);
    return;
  }
  if (n == 0) return;
  m = lastOf(m);
  while (n != 0) {
    const nn = changetype<Mbuf>(n);
    if (M_TRAILINGSPACE(m) < nn.m_len) {
      nn.m_flags &= ~M_PKTHDR; // n is no longer a packet of its own
      changetype<Mbuf>(m).m_next = n;
      return;
    }
    const mm = changetype<Mbuf>(m);
    memory.copy(mm.m_data + mm.m_len, nn.m_data, nn.m_len);
    mm.m_len += nn.m_len;
    mm.m_flags |= nn.m_flags & M_EOR;
    n = m_free(n);
  }
}

/** m_catpkt: append packet n to packet m, adding its length to m's packet header. */
export function m_catpkt(m: usize, n: usize): void {
  if (m == 0 || n == 0) {
    if (n != 0) count(MBS_BADARGS);
    return;
  }
  const mm = changetype<Mbuf>(m);
  if (mm.m_flags & M_PKTHDR) {
    mm.ph_len += changetype<Mbuf>(n).m_flags & M_PKTHDR ? changetype<Mbuf>(n).ph_len : m_length(n);
  }
  m_cat(m, n);
}

/**
 * m_dup: a deep, writable copy of a chain (packet header included), charged to curvnet and
 * packed into as few buffers as fit. 0 (counted) when memory is short.
 */
export function m_dup(m: usize): usize {
  if (m == 0) return 0;
  const mm = changetype<Mbuf>(m);
  const hdr = mm.m_flags & M_PKTHDR;
  const total = m_length(m);
  const n = mbAllocSize(load<usize>(KGLOBALS + KG_CURVNET), mm.m_type, hdr, total);
  if (n == 0) {
    count(MBS_COPY_FAIL);
    return 0;
  }
  const nn = changetype<Mbuf>(n);
  if (hdr) {
    const data = nn.m_data;
    copyPkthdr(n, m);
    nn.m_data = data;
  }
  let last = n;
  for (let s = m; s != 0; s = changetype<Mbuf>(s).m_next) {
    const ss = changetype<Mbuf>(s);
    if (ss.m_len == 0) continue;
    if (extend(last, 0, ss.m_data, ss.m_len, nn.m_vnet) != ss.m_len) {
      count(MBS_COPY_FAIL);
      m_freem(n);
      return 0;
    }
    last = lastOf(last);
  }
  if (hdr) nn.ph_len = total;
  return n;
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
}

/**
 * m_chargeto: charge a packet (the m_next chain) to vnet v: each mbuf, each cluster it
 * alone uses, and the packet header's ph_vnet. A cluster still shared stays charged to the
 * vnet that holds it (e.g. a sender's socket buffer). Returns false, with nothing changed,
 * when v would go over its limit in any mbuf zone (counted there and in mbstat).
 */
export function m_chargeto(m: usize, v: usize): bool {
  if (m == 0) return true;
  if (!alive(v)) {
    count(MBS_BADARGS);
    return false;
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
      }
    }
  }
  const b = vbase(v);
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
