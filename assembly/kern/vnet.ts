// The vnet allocator: many network stacks in one kernel (FreeBSD VIMAGE).
//
// A vnet is a struct vnet (from the kernel's "vnet" zone) plus a data block holding its
// copy of the VNET section, charged to the vnet itself. curvnet names the stack the kernel
// is working for; VNET(off) is the current data block's base plus off: one load, one add.
//
// vnet_alloc: allocate, copy the master copy, run the sysinits in ascending order.
// vnet_destroy, in the teardown checkpoints of docs/ARCHITECTURE.md:
//   1. stop accepting new work (state STOPPING, stop hooks in reverse order);
//   2. clean up (state CLEANUP, uninits in exactly the reverse of the init order);
//   3. really go away: check that the vnet owns nothing (charged zone items, its own zones,
//      pending callouts, pages beyond its data block), record each leftover as a named leak,
//      reclaim it, free the data block and the struct. Items of shared (ZONE_CHARGE) zones
//      cannot be taken back: another vnet may hold them (a cluster shared with a socket
//      buffer, a packet in a queue). Then the vnet becomes a zombie: off the live list, its
//      leaks reported, but its struct and data block stay until the last such item is freed,
//      so that free uncharges memory that is still this vnet's and nothing is corrupted.

import { KGLOBALS, KG_CURVNET, KG_CURVNET_BASE } from "./kglobals";
import { kmem_alloc, kmem_free, kmem_last_fresh, PAGE_SHIFT } from "./kmem";
import { zone_create, zone_alloc_in, zone_free_in, zone_destroy, zone_first, zone_next, zone_is_charged, zone_vnet_inuse, zone_name, Zone } from "./zone";
import { vnet_master_base, vnet_master, vnet_section_size, vnet_data_top, vnet_section_pages, vnet_data_boot, V_SELF, V_PINNED, V_PINLIMIT } from "./vnet_data";
import { sysinit_vnet_init, sysinit_vnet_stop, sysinit_vnet_uninit } from "./sysinit";
import { callout_vnet_purge } from "./kern_timeout";
import { leak_record, leak_record_str, leak_count, leak_dropped, LEAK_ITEMS, LEAK_PAGES, LEAK_CALLOUTS, LEAK_ZONE } from "./leak";
import { random_vnet_seed, random_set_vnet_offset } from "./random";
import { racct_vnet_init, racct_update, racct_sub, RACCT_VNET_DEFAULT } from "./kern_racct";
import { EINVAL, EPERM, ENOMEM } from "../sys/errno";

export const VNET_MAGIC: u32 = 0x564e4554; // "VNET"
export const VNET_ALIVE: u32 = 1;
export const VNET_STOPPING: u32 = 2;
export const VNET_CLEANUP: u32 = 3;
export const VNET_ZOMBIE: u32 = 4;



@unmanaged export class Vnet {
  pages: u32; // kmem page account: must stay the first field
  id: u32;
  magic: u32;
  state: u32;
  base: usize; // data block: this vnet's copy of the VNET section
  next: usize; // live vnets, in creation order
  prev: usize;
  zones: usize; // zones this vnet owns (ZONE_VNET)
  callouts: u32; // callouts pending for this vnet
  flags: u32;
  rnd0: u32; // this vnet's random stream (kern/random.ts): xoshiro128** state, 16 bytes
  rnd1: u32;
  rnd2: u32;
  rnd3: u32;
}

// Modules read these two fields directly (assembly/kmod/kapi.ts: VNET_VNET, vnet_alive).
if (offsetof<Vnet>("state") != 12 || offsetof<Vnet>("base") != 16) ERROR("struct vnet layout changed: update kmod/kapi.ts");

let vnetzone: usize = 0;
let vnet0: usize = 0;
let liveHead: usize = 0;
let liveTail: usize = 0;
let nlive: u32 = 0;
let nextId: u32 = 0;
let nzombies: u32 = 0;
let zombieHead: usize = 0; // zombies, linked through next/prev
let lastError: i32 = 0;
let nfresh: u32 = 0; // vnets whose data block came on fresh pages (vnet_fresh)

@inline export function curvnet(): usize {
  return load<usize>(KGLOBALS + KG_CURVNET);
}

/** CURVNET_SET: make v current; returns the previous vnet for CURVNET_RESTORE. */
@inline export function CURVNET_SET(v: usize): usize {
  const old = load<usize>(KGLOBALS + KG_CURVNET);
  store<usize>(KGLOBALS + KG_CURVNET, v);
  store<usize>(KGLOBALS + KG_CURVNET_BASE, v != 0 ? changetype<Vnet>(v).base : 0);
  return old;
}

@inline export function CURVNET_RESTORE(old: usize): void {
  CURVNET_SET(old);
}

/** Address of the per-vnet variable at offset off in the current vnet. */
@inline export function VNET(off: u32): usize {
  return load<usize>(KGLOBALS + KG_CURVNET_BASE) + off;
}

/** Address of the per-vnet variable at offset off in vnet v. */
@inline export function VNET_VNET(v: usize, off: u32): usize {
  return changetype<Vnet>(v).base + off;
}

export function vnet_first(): usize { return liveHead; }
export function vnet_next(v: usize): usize { return changetype<Vnet>(v).next; }
export function vnet_count(): u32 { return nlive; }
export function vnet_vnet0(): usize { return vnet0; }
export function vnet_lasterror(): i32 { return lastError; }

/** True if v is a live vnet (guards calls that take a vnet from the host). */
export function vnet_valid(v: usize): bool {
  // (v <= end - size, not v + size <= end: a pointer near 4 GiB must not wrap around)
  if (v == 0 || (v & 7) != 0 || v > (<usize>memory.size() << 16) - offsetof<Vnet>()) return false;
  const vv = changetype<Vnet>(v);
  return vv.magic == VNET_MAGIC && vv.state == VNET_ALIVE;
}

export function vnet_boot(): i32 {
  if (vnetzone != 0) return 0;
  let r = vnet_data_boot();
  if (r != 0) return r;
  store<u32>(vnet_master(V_PINLIMIT), RACCT_VNET_DEFAULT);
  random_set_vnet_offset(offsetof<Vnet>("rnd0"));
  vnetzone = zone_create("vnet", offsetof<Vnet>(), 0, 0, 0);
  if (vnetzone == 0) return -ENOMEM;
  vnet0 = vnet_alloc();
  if (vnet0 == 0) return lastError;
  CURVNET_SET(vnet0);
  return 0;
}

/**
 * Copy the master's [0, n) into a data block that is all zeros (fresh pages): only the
 * 16-byte pieces holding something, so a page of the block whose master bytes are all zero
 * (counters, empty lists) is not touched until the vnet first writes it. Reads up to 15
 * bytes past n, inside the master (a whole section).
 */
function copyNonzero(dst: usize, src: usize, n: u32): void {
  for (let o: usize = 0; o < <usize>n; o += 16) {
    const x = v128.load(src + o);
    if (v128.any_true(x)) v128.store(dst + o, x);
  }
}

/** Create a vnet. Returns it, or 0 with vnet_lasterror() set (negative errno). */
export function vnet_alloc(): usize {
  const v = zone_alloc_in(vnetzone, 0);
  if (v == 0) {
    lastError = -ENOMEM;
    return 0;
  }
  const vv = changetype<Vnet>(v);
  memory.fill(v, 0, offsetof<Vnet>());
  const base = kmem_alloc(vnet_section_pages(), v);
  if (base == 0) {
    zone_free_in(vnetzone, v, 0);
    lastError = -ENOMEM;
    return 0;
  }
  // Only up to the top of the regions in use (vnet_data_top); on fresh pages, which hold
  // zeros, only the pieces of the master that are not zero, so a page of the block whose
  // initial bytes are all zero stays untouched (on a VM that backs memory on first touch,
  // each page touched cost more than all the rest of making a GENERIC vnet). A block on a
  // destroyed vnet's pages gets the master's bytes whole.
  if (kmem_last_fresh()) {
    copyNonzero(base, vnet_master_base(), vnet_data_top());
    nfresh++;
  } else {
    memory.copy(base, vnet_master_base(), vnet_data_top());
  }
  store<usize>(base + V_SELF, v);
  racct_vnet_init(base, vnet_section_pages());
  vv.base = base;
  vv.id = nextId++;
  // Its own random stream before any init draws from it (TCP's keys, the first IP ID).
  random_vnet_seed(v + offsetof<Vnet>("rnd0"), vv.id);
  vv.magic = VNET_MAGIC;
  vv.state = VNET_ALIVE;
  const old = CURVNET_SET(v);
  const r = sysinit_vnet_init();
  CURVNET_RESTORE(old);
  if (r != 0) {
    // Every init that ran was undone; whatever is still charged is that subsystem's leak.
    reclaim(v);
    lastError = r;
    return 0;
  }
  vv.prev = liveTail;
  if (liveTail != 0) changetype<Vnet>(liveTail).next = v;
  else liveHead = v;
  liveTail = v;
  nlive++;
  racct_update(nlive);
  return v;
}

/** Items v still has in shared (ZONE_CHARGE) zones. */
function chargedItems(v: usize): u32 {
  let n: u32 = 0;
  const base = changetype<Vnet>(v).base;
  for (let z = zone_first(); z != 0; z = zone_next(z)) {
    if (zone_is_charged(z)) n += zone_vnet_inuse(z, base);
  }
  return n;
}

/** Checkpoint 3: find what v still owns, record it as leaks, reclaim it, free v. */
function reclaim(v: usize): u32 {
  const vv = changetype<Vnet>(v);
  let leaks: u32 = 0;
  let held: u32 = 0;
  for (let z = zone_first(); z != 0; z = zone_next(z)) {
    if (!zone_is_charged(z)) continue;
    const n = zone_vnet_inuse(z, vv.base);
    if (n != 0) {
      leak_record(zone_name(z), n, LEAK_ITEMS);
      leaks++;
      held += n;
    }
  }
  while (vv.zones != 0) {
    const z = vv.zones;
    leak_record(zone_name(z), changetype<Zone>(z).inuse, LEAK_ZONE);
    leaks++;
    zone_destroy(z, true);
  }
  if (vv.callouts != 0) {
    leak_record_str("callouts", vv.callouts, LEAK_CALLOUTS);
    leaks++;
    callout_vnet_purge(v);
  }
  if (vv.pages != vnet_section_pages()) {
    leak_record_str("kmem pages", vv.pages - vnet_section_pages(), LEAK_PAGES);
    leaks++;
  }
  if (held != 0) {
    vv.state = VNET_ZOMBIE;
    vv.prev = 0;
    vv.next = zombieHead;
    if (zombieHead != 0) changetype<Vnet>(zombieHead).prev = v;
    zombieHead = v;
    nzombies++;
    return leaks;
  }
  free(v);
  return leaks;
}

function free(v: usize): void {
  const vv = changetype<Vnet>(v);
  kmem_free(vv.base, vnet_section_pages(), v);
  vv.magic = 0;
  vv.state = 0;
  zone_free_in(vnetzone, v, 0);
}

/**
 * Called by zone_free_in after uncharging an item from the vnet whose data block is vbase:
 * a zombie goes away with its last item.
 */
@inline export function vnet_uncharged(vbase: usize): void {
  const v = load<usize>(vbase + V_SELF);
  if (changetype<Vnet>(v).state == VNET_ZOMBIE) reapZombie(v);
}

function reapZombie(v: usize): void {
  if (chargedItems(v) != 0) return;
  const vv = changetype<Vnet>(v);
  if (vv.prev != 0) changetype<Vnet>(vv.prev).next = vv.next;
  else zombieHead = vv.next;
  if (vv.next != 0) changetype<Vnet>(vv.next).prev = vv.prev;
  nzombies--;
  free(v);
}

/**
 * A shared zone was destroyed with items out (force): those items are gone, so no vnet
 * is charged for them any more. Clears the record at off in every vnet and zombie and
 * lets zombies that were waiting only for them go.
 */
export function vnet_charge_forget(off: u32, size: u32): void {
  for (let v = liveHead; v != 0; v = changetype<Vnet>(v).next) forget(changetype<Vnet>(v).base, off, size);
  let z = zombieHead;
  while (z != 0) {
    const next = changetype<Vnet>(z).next;
    forget(changetype<Vnet>(z).base, off, size);
    reapZombie(z);
    z = next;
  }
}

function forget(base: usize, off: u32, size: u32): void {
  racct_sub(base, load<u32>(base + off) * size);
  store<u32>(base + off, 0);
}

/** How many vnets were made on fresh pages (their block copied piecewise); for tests. */
export function vnet_fresh(): u32 { return nfresh; }

/** Destroyed vnets still waiting for shared items to come back. */
export function vnet_zombies(): u32 { return nzombies; }

/**
 * Destroy a vnet. Returns -EINVAL if v is not a live vnet, -EPERM for vnet0, otherwise the
 * number of leaks recorded (0 = it owned nothing at the end, as it must). The vnet is gone
 * in both of the latter cases.
 */
export function vnet_destroy(v: usize): i32 {
  if (!vnet_valid(v)) return -EINVAL;
  if (v == vnet0) return -EPERM;
  const vv = changetype<Vnet>(v);
  // Leaks found by the uninits themselves (an interface left behind) count as well.
  const before = leak_count() + leak_dropped();
  const old = CURVNET_SET(v);
  vv.state = VNET_STOPPING;
  sysinit_vnet_stop();
  vv.state = VNET_CLEANUP;
  sysinit_vnet_uninit();
  CURVNET_RESTORE(old == v ? vnet0 : old);
  if (vv.prev != 0) changetype<Vnet>(vv.prev).next = vv.next;
  else liveHead = vv.next;
  if (vv.next != 0) changetype<Vnet>(vv.next).prev = vv.prev;
  else liveTail = vv.prev;
  nlive--;
  racct_update(nlive);
  reclaim(v);
  return <i32>(leak_count() + leak_dropped() - before);
}

/** Bytes a vnet owns: its pages, its struct, and its items in charged zones. */
export function vnet_bytes(v: usize): f64 {
  const vv = changetype<Vnet>(v);
  let b = <f64>(<u64>vv.pages << PAGE_SHIFT) + <f64>offsetof<Vnet>();
  for (let z = zone_first(); z != 0; z = zone_next(z)) {
    if (zone_is_charged(z)) b += <f64>zone_vnet_inuse(z, vv.base) * <f64>changetype<Zone>(z).size;
  }
  return b;
}

/** Bytes v pins now (kern_racct.ts): its pages and its items in charged zones, kept as they change. */
export function vnet_pinned(v: usize): f64 {
  return <f64>load<u32>(changetype<Vnet>(v).base + V_PINNED);
}

export function vnet_zone(): usize { return vnetzone; }
