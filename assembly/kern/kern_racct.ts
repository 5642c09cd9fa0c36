// racct: what each vnet pins in memory, its byte budget, and who is refused first when the
// kernel runs short (FreeBSD's racct(9)/rctl(8) count and limit what a jail uses; this is
// the memory part, for vnets).
//
// A vnet pins its own pages (data block, the zones it owns, tables its modules allocate
// for it: kmem charges them to its struct vnet) and the items of shared (ZONE_CHARGE)
// zones charged to it: mbufs, clusters, sockets, interfaces. Slabs of a shared zone hold
// items of many vnets, so their pages are the kernel's and a vnet's page count does not
// show its packets; the figure that does is V_PINNED, bytes = pages x 4 KiB + items x item
// size, kept in the vnet's data block at a fixed offset so a charge costs one add.
//
// Three defences, each refusing (a 0 from the allocator, a dropped packet), counted, never
// a trap:
// 1. the kernel budget: kmem never grows linear memory past it (kern/kmem.ts);
// 2. a vnet's own budget (V_PINLIMIT, default RACCT_VNET_DEFAULT, host-settable per vnet):
//    a charge that would take V_PINNED past it is refused;
// 3. the fair share: while memory in use is at or above the high-water mark (3/4 of the
//    kernel budget), a charge that would take a vnet past its fair share is refused. The
//    share is high water / live vnets at the mark and shrinks linearly to 0 as memory in
//    use approaches the budget, so at every level the biggest consumers are refused first
//    and a small vnet keeps working. (A vnet that grew big before the mark keeps what it
//    holds: nothing is taken back. The shrinking share makes the others that grow after
//    it stop earlier, and the last quarter of the budget stays for small vnets and the
//    kernel itself.)
// Every item-count limit of the zones still applies as well.

import { V_PINNED, V_PINLIMIT, V_REFUSED_OWN, V_REFUSED_FAIR, vnet_master } from "./vnet_data";
import { kmem_pressure, kmem_budget_stat, kmem_highwater, KB_BUDGET, PAGE_SHIFT } from "./kmem";
import { Vnet, VNET_MAGIC } from "./vnet";

/** Default byte budget of a new vnet (64 MiB: the mbuf and cluster item limits, 40 MiB, with room for its pages). */
export const RACCT_VNET_DEFAULT: u32 = 64 << 20;

let fairShare: u32 = 0xffffffff; // bytes, consulted only under pressure (kmem_pressure)
let nvnets: u32 = 1;
let level: f64 = 0; // memory in use (bytes) as kmem last reported it
let refusedOwn: u32 = 0; // kernel-wide totals of the per-vnet counters
let refusedFair: u32 = 0;

function refuse(vbase: usize, own: bool): bool {
  if (own) {
    store<u32>(vbase + V_REFUSED_OWN, load<u32>(vbase + V_REFUSED_OWN) + 1);
    refusedOwn++;
  } else {
    store<u32>(vbase + V_REFUSED_FAIR, load<u32>(vbase + V_REFUSED_FAIR) + 1);
    refusedFair++;
  }
  return false;
}

/**
 * May the vnet whose data block is vbase pin `bytes` more? False (counted against it) when
 * that passes its own budget, or its fair share while the kernel is above high water.
 */
@inline export function racct_may_charge(vbase: usize, bytes: u32): bool {
  const p = <u64>load<u32>(vbase + V_PINNED) + bytes;
  const lim = load<u32>(vbase + V_PINLIMIT);
  if (lim != 0 && p > <u64>lim) return refuse(vbase, true);
  if (kmem_pressure() && p > <u64>fairShare) return refuse(vbase, false);
  return true;
}

/** The vnet at vbase now pins `bytes` more (after racct_may_charge said yes, or a charge that cannot be refused). */
@inline export function racct_add(vbase: usize, bytes: u32): void {
  store<u32>(vbase + V_PINNED, load<u32>(vbase + V_PINNED) + bytes);
}

@inline export function racct_sub(vbase: usize, bytes: u32): void {
  store<u32>(vbase + V_PINNED, load<u32>(vbase + V_PINNED) - bytes);
}

/** Move `bytes` of pinning from one vnet to another (no check: callers checked, or must not fail). */
@inline export function racct_move(fromBase: usize, toBase: usize, bytes: u32): void {
  racct_sub(fromBase, bytes);
  racct_add(toBase, bytes);
}

/**
 * The data block of a kmem page account if it is a vnet's and the vnet has one yet (kmem
 * accounts are a struct vnet or the kernel's; a unit test's counter is not budgeted). kmem
 * passes a vnet's pages through racct_may_charge / racct_add / racct_sub with it.
 */
@inline export function racct_kmem_base(acct: usize): usize {
  return load<u32>(acct + offsetof<Vnet>("magic")) == VNET_MAGIC ? changetype<Vnet>(acct).base : 0;
}

/** A new vnet's data block (allocated before it had one, so not yet counted) is its first pinned memory. */
export function racct_vnet_init(vbase: usize, pages: u32): void {
  store<u32>(vbase + V_PINNED, 0);
  store<u32>(vbase + V_REFUSED_OWN, 0);
  store<u32>(vbase + V_REFUSED_FAIR, 0);
  racct_add(vbase, pages << PAGE_SHIFT);
}

/** The number of live vnets changed. */
export function racct_update(live: u32): void {
  if (live != 0) nvnets = live;
  racct_level(level);
}

/**
 * kmem: memory in use is now `inUse` bytes (called at the high-water mark and above, and
 * when the budget changes). The share: (high water / live vnets) x (budget - in use) /
 * (budget - high water), i.e. high water / live vnets at the mark, 0 at the budget.
 */
export function racct_level(inUse: f64): void {
  level = inUse;
  const budget = kmem_budget_stat(KB_BUDGET);
  if (budget == 0) {
    fairShare = 0xffffffff;
    return;
  }
  const hw = kmem_highwater();
  let share = hw / <f64>nvnets;
  if (inUse > hw) share *= max<f64>(0, budget - inUse) / (budget - hw);
  fairShare = share >= 4294967295.0 ? 0xffffffff : <u32>share;
}

/** Default budget of vnets created from now on (bytes, 0 = none). */
export function racct_set_default(bytes: u32): void {
  store<u32>(vnet_master(V_PINLIMIT), bytes);
}

/** Set the byte budget of the vnet whose data block is vbase (0 = none). */
export function racct_set_limit(vbase: usize, bytes: u32): void {
  store<u32>(vbase + V_PINLIMIT, bytes);
}

// Field numbers of racct_vnet_stat / racct_stat, mirrored by host/kern/kernel.ts.
export const RV_PINNED: u32 = 0;
export const RV_LIMIT: u32 = 1;
export const RV_REFUSED_OWN: u32 = 2;
export const RV_REFUSED_FAIR: u32 = 3;

/** One figure of the vnet whose data block is vbase (RV_*). */
export function racct_vnet_stat(vbase: usize, what: u32): f64 {
  switch (what) {
    case RV_PINNED: return <f64>load<u32>(vbase + V_PINNED);
    case RV_LIMIT: return <f64>load<u32>(vbase + V_PINLIMIT);
    case RV_REFUSED_OWN: return <f64>load<u32>(vbase + V_REFUSED_OWN);
    case RV_REFUSED_FAIR: return <f64>load<u32>(vbase + V_REFUSED_FAIR);
  }
  return -1;
}

export const RS_FAIR_SHARE: u32 = 0; // bytes, 0xffffffff = none
export const RS_REFUSED_OWN: u32 = 1;
export const RS_REFUSED_FAIR: u32 = 2;

/** One kernel-wide figure (RS_*). */
export function racct_stat(what: u32): f64 {
  switch (what) {
    case RS_FAIR_SHARE: return <f64>fairShare;
    case RS_REFUSED_OWN: return <f64>refusedOwn;
    case RS_REFUSED_FAIR: return <f64>refusedFair;
  }
  return -1;
}
