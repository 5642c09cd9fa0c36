// Zones: UMA-like fixed-size item allocators over kmem pages.
//
// A zone hands out items of one size from slabs. Small items live in one-page slabs with
// the slab header at the start of the page (item & ~4095 finds it); large items live in
// whole-chunk slabs whose header sits off-page and is found through the chunk descriptor.
// alloc and free are O(1): a zone keeps partial, full and (at most one) empty slab lists.
//
// Ownership. A zone created with ZONE_VNET belongs to the current vnet: its slab pages are
// charged to that vnet and vnet_destroy reports it if it is still there. A zone created
// with ZONE_CHARGE is shared by all vnets but every item is charged to one vnet, with a
// per-vnet limit, through a small record in the VNET section (so one stack cannot starve
// the others, the weakness Zec's 2003 paper names for FreeBSD's global mbufs). A charged
// item also counts its size against the vnet's byte budget (kern_racct.ts): a shared
// zone's slab pages are the kernel's, so that is where a vnet's packets show.

import { kmem_alloc, kmem_free, kmem_chunk_aux, kmem_set_chunk_aux, KMEM_KERNEL_ACCT, PAGE_SIZE, CHUNK_SIZE, PAGES_PER_CHUNK } from "./kmem";
import { KGLOBALS, KG_CURVNET, KG_CURVNET_BASE, KG_CURMOD } from "./kglobals";
import { vnet_data_alloc, vnet_data_free, vnet_master, vnet_data_copy } from "./vnet_data";
import { leak_record } from "./leak";
import { Vnet, vnet_uncharged, vnet_charge_forget } from "./vnet";
import { racct_may_charge, racct_add, racct_sub, racct_move } from "./kern_racct";
import { EBUSY } from "../sys/errno";

export const ZONE_VNET: u32 = 1; // owned by the vnet current at creation
export const ZONE_CHARGE: u32 = 2; // shared; items charged to a vnet with a per-vnet limit
export const ZONE_ZERO: u32 = 4; // items are zeroed on allocation
const ZONE_OFFPAGE: u32 = 0x100; // whole-chunk slabs with off-page headers

// Slab header, then a bitmap with one bit per item (set = allocated), so a free of an
// item that is not allocated (a double free) is caught and counted, not applied.
const SLAB_MAP: u32 = 24;
const OFFPAGE_MAX_ITEMS: u32 = 256;
@inline function slabHdrSize(ipers: u32): u32 {
  return (SLAB_MAP + ((ipers + 7) >> 3) + 7) & ~7;
}
export const ZONE_NAME_MAX: u32 = 23;
export const ZONE_MAX_ITEM: u32 = CHUNK_SIZE;

@unmanaged export class Slab {
  zone: usize;
  freelist: usize;
  base: usize; // first item
  nfree: u32;
  next: usize;
  prev: usize;
}

@unmanaged export class Zone {
  size: u32; // item size, a multiple of 8
  ipers: u32; // items per slab
  magic: u32; // ceil(2^32 / size): item index = (offset * magic) >> 32, exact below 64 KiB
  ppera: u32; // pages per slab
  flags: u32;
  limit: u32; // items in the whole zone, 0 = none
  inuse: u32;
  peak: u32;
  fails: u32;
  badfrees: u32;
  nslabs: u32;
  vnoff: u32; // ZONE_CHARGE: the per-vnet record's offset in the VNET section
  modid: u32; // module that created it, 0 = kernel
  allocs: u64;
  frees: u64;
  owner: usize; // struct vnet * for ZONE_VNET, else 0
  acct: usize; // page account the slabs are charged to
  partial: usize;
  full: usize;
  empty: usize;
  next: usize; // zone list (kernel's, or the owner vnet's)
  prev: usize;
  // name: ZONE_NAME_MAX bytes + NUL follow at offsetof<Zone>()
}

/** Per-vnet charge record of a ZONE_CHARGE zone, in the VNET section. */
export const ZR_INUSE: usize = 0;
export const ZR_LIMIT: usize = 4;
export const ZR_FAILS: usize = 8;
export const ZR_PEAK: usize = 12;
export const ZR_SIZE: u32 = 16;

export const ZONE_STRUCT_SIZE: u32 = (offsetof<Zone>() + ZONE_NAME_MAX + 1 + 7) & ~7;

// The zone of zones and the zone of off-page slab headers are static, so zones can exist
// before any zone does.
const zonezone = memory.data(ZONE_STRUCT_SIZE, 8);
const slabzone = memory.data(ZONE_STRUCT_SIZE, 8);
let kernZones: usize = 0; // list of kernel (non-vnet) zones
let booted = false;

@inline export function zone_name(z: usize): usize {
  return z + offsetof<Zone>();
}

function setName(z: usize, name: usize): void {
  // `name` is an AssemblyScript string: UTF-16 code units, byte length at name - 4.
  const dst = zone_name(z);
  let n: u32 = 0;
  if (name != 0) {
    const len = load<u32>(name - 4) >> 1;
    for (; n < len && n < ZONE_NAME_MAX; n++) {
      const ch = load<u16>(name + (<usize>n << 1));
      store<u8>(dst + n, ch < 0x20 || ch > 0x7e ? 0x3f : <u8>ch);
    }
  }
  for (; n <= ZONE_NAME_MAX; n++) store<u8>(dst + n, 0);
}

function setup(z: usize, name: usize, size: u32, limit: u32, flags: u32): bool {
  const zz = changetype<Zone>(z);
  if (size == 0 || size > ZONE_MAX_ITEM) return false;
  memory.fill(z, 0, offsetof<Zone>()); // counters, lists, links
  size = (size + 7) & ~7;
  zz.size = size;
  zz.flags = flags;
  // One-page slabs unless the items waste more than 1/8 of a page there and less in a chunk.
  let perPage: u32 = size <= PAGE_SIZE - SLAB_MAP - 8 ? (PAGE_SIZE - SLAB_MAP) / size : 0;
  while (perPage > 0 && slabHdrSize(perPage) + perPage * size > PAGE_SIZE) perPage--;
  const perChunk: u32 = min<u32>(CHUNK_SIZE / size, OFFPAGE_MAX_ITEMS);
  const wastePage: u32 = perPage > 0 ? PAGE_SIZE - slabHdrSize(perPage) - perPage * size : PAGE_SIZE;
  const wasteChunk: u32 = CHUNK_SIZE - perChunk * size;
  zz.magic = <u32>((<u64>0x100000000 + size - 1) / size);
  if (perPage > 0 && (size < 256 || wastePage * 8 <= PAGE_SIZE || wastePage * PAGES_PER_CHUNK <= wasteChunk)) {
    zz.ipers = perPage;
    zz.ppera = 1;
  } else {
    zz.ipers = perChunk;
    zz.ppera = PAGES_PER_CHUNK;
    zz.flags |= ZONE_OFFPAGE;
  }
  zz.limit = limit;
  zz.modid = load<u32>(KGLOBALS + KG_CURMOD);
  if (flags & ZONE_VNET) {
    zz.owner = load<usize>(KGLOBALS + KG_CURVNET);
    zz.acct = zz.owner; // struct vnet begins with its page account
  } else {
    zz.owner = 0;
    zz.acct = KMEM_KERNEL_ACCT;
  }
  setName(z, name);
  return true;
}

function zone_boot(): void {
  if (booted) return;
  booted = true;
  setup(zonezone, changetype<usize>("zones"), ZONE_STRUCT_SIZE, 0, 0);
  setup(slabzone, changetype<usize>("slabs"), SLAB_MAP + (OFFPAGE_MAX_ITEMS >> 3), 0, 0);
  kernZones = 0;
  listInsertZone(zonezone);
  listInsertZone(slabzone);
}

function headOf(z: usize): usize {
  const owner = changetype<Zone>(z).owner;
  return owner != 0 ? changetype<Vnet>(owner).zones : kernZones;
}

function setHead(z: usize, h: usize): void {
  const owner = changetype<Zone>(z).owner;
  if (owner != 0) changetype<Vnet>(owner).zones = h;
  else kernZones = h;
}

function listInsertZone(z: usize): void {
  const zz = changetype<Zone>(z);
  const h = headOf(z);
  zz.prev = 0;
  zz.next = h;
  if (h != 0) changetype<Zone>(h).prev = z;
  setHead(z, z);
}

function listRemoveZone(z: usize): void {
  const zz = changetype<Zone>(z);
  if (zz.prev != 0) changetype<Zone>(zz.prev).next = zz.next;
  else setHead(z, zz.next);
  if (zz.next != 0) changetype<Zone>(zz.next).prev = zz.prev;
  zz.next = 0;
  zz.prev = 0;
}

/**
 * Create a zone. `name` is a string literal (copied, at most 23 characters), `limit` caps
 * items in the whole zone (0 = none), `flags` is ZONE_VNET / ZONE_CHARGE / ZONE_ZERO, and
 * `vnlimit` is the default per-vnet item limit of a ZONE_CHARGE zone (0 = none).
 * Returns 0 when the size is out of range, memory is short or the VNET section is full.
 */
export function zone_create(name: string, size: u32, limit: u32, flags: u32, vnlimit: u32): usize {
  zone_boot();
  const z = zone_alloc_in(zonezone, 0);
  if (z == 0) return 0;
  if (!setup(z, changetype<usize>(name), size, limit, flags & ~ZONE_OFFPAGE)) {
    zone_free_in(zonezone, z, 0);
    return 0;
  }
  if (flags & ZONE_CHARGE) {
    // The per-vnet records live in the VNET section: not before it exists.
    if (vnet_master(0) == 0) {
      zone_free_in(zonezone, z, 0);
      return 0;
    }
    const off = vnet_data_alloc(ZR_SIZE, 4);
    if (off < 0) {
      zone_free_in(zonezone, z, 0);
      return 0;
    }
    changetype<Zone>(z).vnoff = <u32>off;
    const m = vnet_master(<u32>off);
    memory.fill(m, 0, ZR_SIZE);
    store<u32>(m, vnlimit, ZR_LIMIT);
    vnet_data_copy(<u32>off, ZR_SIZE);
  }
  listInsertZone(z);
  return z;
}

function slabOf(zz: Zone, item: usize): usize {
  if (zz.flags & ZONE_OFFPAGE) return <usize>kmem_chunk_aux(item);
  // An inline slab's header is the page's first bytes; only a slab of this zone names it.
  return item & ~(<usize>PAGE_SIZE - 1);
}

function slabUnlink(zz: Zone, s: Slab, which: i32): void {
  if (s.prev != 0) changetype<Slab>(s.prev).next = s.next;
  else if (which == 0) zz.partial = s.next;
  else if (which == 1) zz.full = s.next;
  else zz.empty = s.next;
  if (s.next != 0) changetype<Slab>(s.next).prev = s.prev;
  s.next = 0;
  s.prev = 0;
}

function slabPush(zz: Zone, s: Slab, which: i32): void {
  const h = which == 0 ? zz.partial : which == 1 ? zz.full : zz.empty;
  s.prev = 0;
  s.next = h;
  if (h != 0) changetype<Slab>(h).prev = changetype<usize>(s);
  if (which == 0) zz.partial = changetype<usize>(s);
  else if (which == 1) zz.full = changetype<usize>(s);
  else zz.empty = changetype<usize>(s);
}

function slabNew(zz: Zone): usize {
  const pages = kmem_alloc(zz.ppera, zz.acct);
  if (pages == 0) return 0;
  let s: usize;
  let base: usize;
  if (zz.flags & ZONE_OFFPAGE) {
    s = zone_alloc_in(slabzone, 0);
    if (s == 0) {
      kmem_free(pages, zz.ppera, zz.acct);
      return 0;
    }
    base = pages;
    kmem_set_chunk_aux(pages, <u32>s);
  } else {
    s = pages;
    base = pages + slabHdrSize(zz.ipers);
  }
  memory.fill(s + SLAB_MAP, 0, (zz.ipers + 7) >> 3);
  const ss = changetype<Slab>(s);
  ss.zone = changetype<usize>(zz);
  ss.base = base;
  ss.nfree = zz.ipers;
  // Thread the free list through the items, lowest address first.
  const size = <usize>zz.size;
  let p = base;
  for (let i: u32 = 1; i < zz.ipers; i++) {
    store<usize>(p, p + size);
    p += size;
  }
  store<usize>(p, 0);
  ss.freelist = base;
  zz.nslabs++;
  slabPush(zz, ss, 0);
  return s;
}

function slabRelease(zz: Zone, s: usize): void {
  const ss = changetype<Slab>(s);
  const base = ss.base;
  if (zz.flags & ZONE_OFFPAGE) {
    kmem_set_chunk_aux(base, 0);
    zone_free_in(slabzone, s, 0);
    kmem_free(base, zz.ppera, zz.acct);
  } else {
    kmem_free(s, zz.ppera, zz.acct);
  }
  zz.nslabs--;
}

/** Allocate an item, charged to the vnet whose data block starts at vbase (ZONE_CHARGE). */
export function zone_alloc_in(z: usize, vbase: usize): usize {
  const zz = changetype<Zone>(z);
  if (zz.limit != 0 && zz.inuse >= zz.limit) {
    zz.fails++;
    return 0;
  }
  let rec: usize = 0;
  if (zz.flags & ZONE_CHARGE) {
    if (vbase == 0) {
      zz.fails++; // a charged item needs a vnet to charge
      return 0;
    }
    rec = vbase + zz.vnoff;
    const lim = load<u32>(rec, ZR_LIMIT);
    if (lim != 0 && load<u32>(rec, ZR_INUSE) >= lim) {
      store<u32>(rec, load<u32>(rec, ZR_FAILS) + 1, ZR_FAILS);
      zz.fails++;
      return 0;
    }
    if (!racct_may_charge(vbase, zz.size)) {
      store<u32>(rec, load<u32>(rec, ZR_FAILS) + 1, ZR_FAILS);
      zz.fails++;
      return 0;
    }
  }
  let s = zz.partial;
  if (s == 0) {
    s = zz.empty;
    if (s != 0) {
      slabUnlink(zz, changetype<Slab>(s), 2);
      slabPush(zz, changetype<Slab>(s), 0);
    } else {
      s = slabNew(zz);
      if (s == 0) {
        zz.fails++;
        return 0;
      }
    }
  }
  const ss = changetype<Slab>(s);
  const item = ss.freelist;
  ss.freelist = load<usize>(item);
  const idx = <u32>((<u64>(item - ss.base) * zz.magic) >> 32);
  const bm = s + SLAB_MAP + (idx >> 3);
  store<u8>(bm, load<u8>(bm) | (<u8>1 << <u8>(idx & 7)));
  if (--ss.nfree == 0) {
    slabUnlink(zz, ss, 0);
    slabPush(zz, ss, 1);
  }
  const n = ++zz.inuse;
  if (n > zz.peak) zz.peak = n;
  zz.allocs++;
  if (rec != 0) {
    const r = load<u32>(rec, ZR_INUSE) + 1;
    store<u32>(rec, r, ZR_INUSE);
    if (r > load<u32>(rec, ZR_PEAK)) store<u32>(rec, r, ZR_PEAK);
    racct_add(vbase, zz.size);
  }
  if (zz.flags & ZONE_ZERO) memory.fill(item, 0, zz.size);
  return item;
}

/** Return an item, uncharging the vnet whose data block starts at vbase (ZONE_CHARGE). */
export function zone_free_in(z: usize, item: usize, vbase: usize): void {
  const zz = changetype<Zone>(z);
  if (item == 0) return;
  if ((zz.flags & ZONE_CHARGE) && vbase == 0) {
    zz.badfrees++; // cannot uncharge: refuse rather than write to low memory
    return;
  }
  const s = item < (<usize>memory.size() << 16) ? slabOf(zz, item) : 0;
  const ss = changetype<Slab>(s);
  const size = <usize>zz.size;
  if (s == 0 || ss.zone != z || item < ss.base || item >= ss.base + size * zz.ipers) {
    zz.badfrees++;
    return;
  }
  const off = item - ss.base;
  const idx = <u32>((<u64>off * zz.magic) >> 32);
  const bm = s + SLAB_MAP + (idx >> 3);
  const bit: u8 = <u8>1 << <u8>(idx & 7);
  if (<usize>idx * size != off || (load<u8>(bm) & bit) == 0) {
    zz.badfrees++; // not an item boundary, or not allocated (double free)
    return;
  }
  store<u8>(bm, load<u8>(bm) & ~bit);
  store<usize>(item, ss.freelist);
  ss.freelist = item;
  if (ss.nfree++ == 0) {
    slabUnlink(zz, ss, 1);
    slabPush(zz, ss, 0);
  }
  // An all-free slab that is the zone's only partial slab stays there: the next alloc
  // takes it back with no list work. Otherwise one empty slab is cached (so alloc/free at
  // a slab boundary does not thrash kmem) and the rest go back to kmem.
  if (ss.nfree == zz.ipers && !(zz.partial == s && ss.next == 0)) {
    slabUnlink(zz, ss, 0);
    if (zz.empty == 0) slabPush(zz, ss, 2);
    else slabRelease(zz, s);
  }
  zz.inuse--;
  zz.frees++;
  if (zz.flags & ZONE_CHARGE) {
    const rec = vbase + zz.vnoff;
    store<u32>(rec, load<u32>(rec, ZR_INUSE) - 1, ZR_INUSE);
    racct_sub(vbase, zz.size);
    vnet_uncharged(vbase);
  }
}

/** uma_zalloc: an item charged to the current vnet. */
@inline export function zone_alloc(z: usize): usize {
  return zone_alloc_in(z, load<usize>(KGLOBALS + KG_CURVNET_BASE));
}

/** uma_zfree: return an item charged to the current vnet. */
@inline export function zone_free(z: usize, item: usize): void {
  zone_free_in(z, item, load<usize>(KGLOBALS + KG_CURVNET_BASE));
}

function releaseAll(zz: Zone): void {
  while (zz.partial != 0) {
    const s = zz.partial;
    slabUnlink(zz, changetype<Slab>(s), 0);
    slabRelease(zz, s);
  }
  while (zz.full != 0) {
    const s = zz.full;
    slabUnlink(zz, changetype<Slab>(s), 1);
    slabRelease(zz, s);
  }
  while (zz.empty != 0) {
    const s = zz.empty;
    slabUnlink(zz, changetype<Slab>(s), 2);
    slabRelease(zz, s);
  }
}

/**
 * Destroy a zone. With items still out it refuses (-EBUSY) and records the zone's name and
 * count in the leak report, unless `force`, which records the same and frees the slabs anyway.
 */
export function zone_destroy(z: usize, force: bool): i32 {
  const zz = changetype<Zone>(z);
  if (zz.inuse != 0) {
    leak_record(zone_name(z), zz.inuse, 0);
    if (!force) return -EBUSY;
  }
  releaseAll(zz);
  listRemoveZone(z);
  if (zz.flags & ZONE_CHARGE) {
    if (zz.inuse != 0) vnet_charge_forget(zz.vnoff + <u32>ZR_INUSE, zz.size);
    vnet_data_free(zz.vnoff, ZR_SIZE);
  }
  zz.flags = 0;
  zone_free_in(zonezone, z, 0);
  return 0;
}

/** Per-vnet limit of a ZONE_CHARGE zone in the vnet whose data block is vbase (0 = none). */
export function zone_set_vnet_limit(z: usize, vbase: usize, limit: u32): void {
  const zz = changetype<Zone>(z);
  if (zz.flags & ZONE_CHARGE) store<u32>(vbase + zz.vnoff, limit, ZR_LIMIT);
}

/** Items of a ZONE_CHARGE zone charged to the vnet whose data block is vbase. */
export function zone_vnet_inuse(z: usize, vbase: usize): u32 {
  const zz = changetype<Zone>(z);
  return zz.flags & ZONE_CHARGE ? load<u32>(vbase + zz.vnoff, ZR_INUSE) : 0;
}

export function zone_first(): usize {
  zone_boot();
  return kernZones;
}

export function zone_next(z: usize): usize {
  return changetype<Zone>(z).next;
}

export function zone_is_charged(z: usize): bool {
  return (changetype<Zone>(z).flags & ZONE_CHARGE) != 0;
}

export function zone_item_size(z: usize): u32 {
  return changetype<Zone>(z).size;
}

// Field numbers of zone_stat, mirrored by host/kernel.ts.
export const ZS_SIZE: u32 = 0;
export const ZS_LIMIT: u32 = 1;
export const ZS_INUSE: u32 = 2;
export const ZS_PEAK: u32 = 3;
export const ZS_ALLOCS: u32 = 4;
export const ZS_FREES: u32 = 5;
export const ZS_FAILS: u32 = 6;
export const ZS_SLABS: u32 = 7;
export const ZS_PAGES_PER_SLAB: u32 = 8;
export const ZS_ITEMS_PER_SLAB: u32 = 9;
export const ZS_FLAGS: u32 = 10;
export const ZS_MODID: u32 = 11;
export const ZS_OWNER: u32 = 12;
export const ZS_BADFREES: u32 = 13;

/** One counter of a zone, for vmstat -z. */
export function zone_stat(z: usize, what: u32): f64 {
  const zz = changetype<Zone>(z);
  switch (what) {
    case ZS_SIZE: return <f64>zz.size;
    case ZS_LIMIT: return <f64>zz.limit;
    case ZS_INUSE: return <f64>zz.inuse;
    case ZS_PEAK: return <f64>zz.peak;
    case ZS_ALLOCS: return <f64>zz.allocs;
    case ZS_FREES: return <f64>zz.frees;
    case ZS_FAILS: return <f64>zz.fails;
    case ZS_SLABS: return <f64>zz.nslabs;
    case ZS_PAGES_PER_SLAB: return <f64>zz.ppera;
    case ZS_ITEMS_PER_SLAB: return <f64>zz.ipers;
    case ZS_FLAGS: return <f64>(zz.flags & 0xff);
    case ZS_MODID: return <f64>zz.modid;
    case ZS_OWNER: return <f64>zz.owner;
    case ZS_BADFREES: return <f64>zz.badfrees;
  }
  return -1;
}

/** A ZONE_CHARGE zone's record for the vnet whose data block is vbase: 0 inuse, 1 limit, 2 fails, 3 peak. */
export function zone_vnet_stat(z: usize, vbase: usize, what: u32): f64 {
  const zz = changetype<Zone>(z);
  if (!(zz.flags & ZONE_CHARGE) || what > 3) return -1;
  return <f64>load<u32>(vbase + zz.vnoff + (<usize>what << 2));
}

/** Head of the list of zones vnet v owns. */
export function zone_first_vnet(v: usize): usize {
  return changetype<Vnet>(v).zones;
}

export function zone_name_ptr(z: usize): usize {
  return zone_name(z);
}

/** uma_zone_reclaim: give a zone's cached all-free slabs back to kmem. Returns pages freed. */
export function zone_drain(z: usize): u32 {
  const zz = changetype<Zone>(z);
  let pages: u32 = 0;
  // An all-free slab can also sit on the partial list (see zone_free_in).
  let p = zz.partial;
  while (p != 0) {
    const next = changetype<Slab>(p).next;
    if (changetype<Slab>(p).nfree == zz.ipers) {
      slabUnlink(zz, changetype<Slab>(p), 0);
      slabRelease(zz, p);
      pages += zz.ppera;
    }
    p = next;
  }
  while (zz.empty != 0) {
    const s = zz.empty;
    slabUnlink(zz, changetype<Slab>(s), 2);
    slabRelease(zz, s);
    pages += zz.ppera;
  }
  return pages;
}

/** uma_reclaim: drain every kernel zone. Returns pages freed. */
export function zone_drain_all(): u32 {
  let pages: u32 = 0;
  for (let z = zone_first(); z != 0; z = zone_next(z)) pages += zone_drain(z);
  return pages;
}

/**
 * Move one item's charge in a ZONE_CHARGE zone from the vnet whose data block is fromBase
 * to the one at toBase (an interface moving, a packet crossing). False, with nothing
 * changed, when the target is at its limit or its byte budget (kern_racct.ts).
 */
export function zone_charge_move(z: usize, fromBase: usize, toBase: usize): bool {
  return zone_charge_move_in(z, fromBase, toBase, false);
}

/** zone_charge_move; with force, past the target's limits (teardown sending something home must not fail). */
export function zone_charge_move_in(z: usize, fromBase: usize, toBase: usize, force: bool): bool {
  const zz = changetype<Zone>(z);
  if (!(zz.flags & ZONE_CHARGE) || fromBase == 0 || toBase == 0) return false;
  if (fromBase == toBase) return true;
  const to = toBase + zz.vnoff;
  const lim = load<u32>(to, ZR_LIMIT);
  const n = load<u32>(to, ZR_INUSE);
  if (!force && ((lim != 0 && n >= lim) || !racct_may_charge(toBase, zz.size))) {
    store<u32>(to, load<u32>(to, ZR_FAILS) + 1, ZR_FAILS);
    return false;
  }
  store<u32>(to, n + 1, ZR_INUSE);
  if (n + 1 > load<u32>(to, ZR_PEAK)) store<u32>(to, n + 1, ZR_PEAK);
  const from = fromBase + zz.vnoff;
  store<u32>(from, load<u32>(from, ZR_INUSE) - 1, ZR_INUSE);
  racct_move(fromBase, toBase, zz.size);
  vnet_uncharged(fromBase);
  return true;
}
