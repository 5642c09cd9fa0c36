// pfil: packet filter hooks (FreeBSD net/pfil.c), per vnet and per address family.
//
// A head is a place on a packet path where side code (a firewall, NAT, a test) may look
// at, change, keep or drop a packet. The heads are fixed (PFIL_HEAD_*), each with an in
// and an out direction, and each is registered by the code that owns that path:
//   inet    IPv4, netinet/ip_input.ts (in: every datagram that passed the header checks,
//           before the local/forward decision; forwarded packets pass in and out, as in
//           FreeBSD) and ip_output.ts (out: after routing, before fragmentation)
//   inet6   IPv6, netinet6/ip6_input.ts and ip6_output.ts, in the same places
//   ether   layer 2 (the kernel): net/if_ethersubr.ts, every frame an Ethernet interface
//           takes in (after ether_input's checks and tap, before a bridge sees it) and every
//           frame one sends (ether_output_frame, before offload and tap)
//   bridge  if_bridge, a member's frame as the bridge takes it in (after learning) and as
//           the bridge puts it out on a member (bridge_enqueue)
// A hook on a head whose owner is not loaded cannot be added (ENOENT), and an owner's
// MOD_QUIESCE refuses while any vnet has hooks on its head (pfil_head_hooks).
//
// Hooks live in the vnet: each vnet has its own list per head and direction, so a
// firewall hooks every vnet from its VNET_SYSINIT and unhooks from its VNET_SYSUNINIT.
// Order: ascending priority, then insertion (a new hook goes after those of equal
// priority); the out direction runs in the same order as in.
//
// A hook is a table slot hook(m, ifp, dir, arg) => usize, run with the packet's vnet as
// curvnet; m is a packet header mbuf (at the IP header on the inet/inet6 heads, at the
// Ethernet header on ether/bridge), ifp the interface it arrived on (in) or leaves by
// (out), dir PFIL_IN or PFIL_OUT (| PFIL_FWD on inet/inet6 out for a forwarded packet).
// The hook returns:
//   the packet to go on with  (pass; the same m, or a replacement: the hook freed or
//                              kept the old one)
//   PFIL_DROPPED (0)          the hook freed the packet
//   PFIL_CONSUMED (1)         the hook kept the packet (it will send or free it later)
// Either stop ends the walk; the head counts drops and consumptions per vnet. A hook must
// not add or remove hooks of the list it is running on.
//
// Cost when nothing is hooked: the caller tests pfil_hooked(head, dir), one load of the
// list's first entry from the vnet's data block and a compare with zero.
//
// Memory: an entry is an item of the charged zone "pfil_hook" (charged to its vnet, at
// most PFIL_VNET_MAX per vnet). pfil's own VNET_SYSUNINIT runs after every module's and
// frees what is left, so a destroyed vnet holds no entry; a module's unload removes the
// hooks pointing into its table window from every vnet (pfil_purge_range, kld_purge).

import { zone_create, zone_alloc_in, zone_free_in, ZONE_CHARGE } from "../kern/zone";
import { vnet_data_alloc, vnet_master, vnet_data_copy } from "../kern/vnet_data";
import { vnet_first, vnet_next, vnet_valid, VNET, VNET_VNET } from "../kern/vnet";
import { KGLOBALS, KG_CURVNET_BASE } from "../kern/kglobals";
import { vnet_sysinit_register } from "../kern/sysinit";
import { SI_SUB_INIT_IF, SI_ORDER_MIDDLE } from "../sys/kernel";
import { EINVAL, ENOENT, EEXIST, ENOMEM } from "../sys/errno";

export const PFIL_HEAD_INET: u32 = 0;
export const PFIL_HEAD_INET6: u32 = 1;
export const PFIL_HEAD_ETHER: u32 = 2;
export const PFIL_HEAD_BRIDGE: u32 = 3;
export const PFIL_NHEADS: u32 = 4;

export const PFIL_IN: u32 = 1;
export const PFIL_OUT: u32 = 2;
/** Or'ed into dir on the inet/inet6 out heads for a packet being forwarded. */
export const PFIL_FWD: u32 = 4;

export const PFIL_DROPPED: usize = 0;
export const PFIL_CONSUMED: usize = 1;

/** Hooks one vnet may hold in all, over every head and direction. */
export const PFIL_VNET_MAX: u32 = 64;

// Per vnet: 8 list heads (head * 2 + dir - 1), then 8 drop and 8 consumed counters (u32).
const NLISTS: u32 = PFIL_NHEADS * 2;
const V_SIZE: u32 = NLISTS * 12;
const V_DROPS: u32 = NLISTS * 4;
const V_CONSUMED: u32 = NLISTS * 8;

// Entry: 0 next, 4 fn (table slot), 8 arg, 12 priority (i32).
const HOOK_SIZE: u32 = 16;
const H_NEXT: usize = 0;
const H_FN: usize = 4;
const H_ARG: usize = 8;
const H_PRIO: usize = 12;

let V_pfil: u32 = 0;
let hookZone: usize = 0;
let registered: u32 = 0; // bit per head: its owner is loaded
const nhooks = memory.data(PFIL_NHEADS * 4, 4); // per head, over every vnet

export function pfil_boot(): i32 {
  const off = vnet_data_alloc(V_SIZE, 8);
  if (off < 0) return off;
  V_pfil = <u32>off;
  memory.fill(vnet_master(V_pfil), 0, V_SIZE);
  vnet_data_copy(V_pfil, V_SIZE);
  hookZone = zone_create("pfil_hook", HOOK_SIZE, 0, ZONE_CHARGE, PFIL_VNET_MAX);
  if (hookZone == 0) return -ENOMEM;
  // Registered once here, low in the order: its uninit runs after every module's.
  registered = 1 << PFIL_HEAD_ETHER; // layer 2 belongs to the kernel
  return vnet_sysinit_register(SI_SUB_INIT_IF, SI_ORDER_MIDDLE, 0, 0, pfil_vnet_uninit.index);
}

/** The VNET offset of the list heads, for modules: pfil_hooked reads it plus 4 * list. */
export function pfil_vnet_off(): u32 {
  return V_pfil;
}

@inline function listOf(head: u32, dir: u32): u32 {
  return head * 2 + dir - 1;
}

@inline function valid(head: u32, dir: u32): bool {
  return head < PFIL_NHEADS && (dir == PFIL_IN || dir == PFIL_OUT);
}

/** Does the current vnet have a hook on (head, dir)? The packet path's one test. */
@inline export function pfil_hooked(head: u32, dir: u32): bool {
  return load<usize>(VNET(V_pfil) + (<usize>listOf(head, dir) << 2)) != 0;
}

/** The owner of a head declares it (MOD_LOAD). 0, -EINVAL, -EEXIST. */
export function pfil_head_register(head: u32): i32 {
  if (head >= PFIL_NHEADS) return -EINVAL;
  if ((registered & (1 << head)) != 0) return -EEXIST;
  registered |= 1 << head;
  return 0;
}

/**
 * The owner withdraws its head (MOD_UNLOAD). Hooks still on it (a forced unload) are
 * removed from every vnet first; returns how many, or -EINVAL.
 */
export function pfil_head_unregister(head: u32): i32 {
  if (head >= PFIL_NHEADS) return -EINVAL;
  let n: i32 = 0;
  for (let v = vnet_first(); v != 0; v = vnet_next(v)) {
    const base = VNET_VNET(v, V_pfil);
    n += freeList(base, listOf(head, PFIL_IN), 0, 0xffffffff);
    n += freeList(base, listOf(head, PFIL_OUT), 0, 0xffffffff);
  }
  registered &= ~(1 << head);
  return n;
}

/** Hooks on head in all vnets (an owner's MOD_QUIESCE refuses while this is not zero). */
export function pfil_head_hooks(head: u32): u32 {
  return head < PFIL_NHEADS ? load<u32>(nhooks + (head << 2)) : 0;
}

/** Is head's owner loaded? */
export function pfil_head_registered(head: u32): bool {
  return head < PFIL_NHEADS && (registered & (1 << head)) != 0;
}

/**
 * pfil_add_hook: in the current vnet, run fn(m, ifp, dir, arg) on (head, dir) at priority
 * prio. 0, or -EINVAL (bad head, dir or fn), -ENOENT (the head's owner is not loaded),
 * -EEXIST (fn with arg is already there), -ENOMEM (the vnet's PFIL_VNET_MAX is reached).
 */
export function pfil_add_hook(head: u32, dir: u32, fn: u32, arg: usize, prio: i32): i32 {
  if (!valid(head, dir) || fn == 0) return -EINVAL;
  if ((registered & (1 << head)) == 0) return -ENOENT;
  const vbase = load<usize>(KGLOBALS + KG_CURVNET_BASE);
  let prev = VNET(V_pfil) + (<usize>listOf(head, dir) << 2);
  for (let h = load<usize>(prev); h != 0; h = load<usize>(h, H_NEXT)) {
    if (load<u32>(h, H_FN) == fn && load<usize>(h, H_ARG) == arg) return -EEXIST;
  }
  const e = zone_alloc_in(hookZone, vbase);
  if (e == 0) return -ENOMEM;
  store<u32>(e, fn, H_FN);
  store<usize>(e, arg, H_ARG);
  store<i32>(e, prio, H_PRIO);
  // After every hook of priority <= prio.
  let h = load<usize>(prev);
  while (h != 0 && load<i32>(h, H_PRIO) <= prio) {
    prev = h + H_NEXT;
    h = load<usize>(h, H_NEXT);
  }
  store<usize>(e, h, H_NEXT);
  store<usize>(prev, e);
  store<u32>(nhooks + (head << 2), load<u32>(nhooks + (head << 2)) + 1);
  return 0;
}

/** pfil_remove_hook: in the current vnet. 0, -EINVAL or -ENOENT. */
export function pfil_remove_hook(head: u32, dir: u32, fn: u32, arg: usize): i32 {
  if (!valid(head, dir)) return -EINVAL;
  let prev = VNET(V_pfil) + (<usize>listOf(head, dir) << 2);
  for (let h = load<usize>(prev); h != 0; h = load<usize>(h, H_NEXT)) {
    if (load<u32>(h, H_FN) == fn && load<usize>(h, H_ARG) == arg) {
      store<usize>(prev, load<usize>(h, H_NEXT));
      zone_free_in(hookZone, h, load<usize>(KGLOBALS + KG_CURVNET_BASE));
      store<u32>(nhooks + (head << 2), load<u32>(nhooks + (head << 2)) - 1);
      return 0;
    }
    prev = h + H_NEXT;
  }
  return -ENOENT;
}

/** Hooks on (head, dir) in the current vnet. */
export function pfil_hook_count(head: u32, dir: u32): u32 {
  if (!valid(head, dir)) return 0;
  let n: u32 = 0;
  for (let h = load<usize>(VNET(V_pfil) + (<usize>listOf(head, dir) << 2)); h != 0; h = load<usize>(h, H_NEXT)) n++;
  return n;
}

/** Host: hooks on (head, dir) in live vnet v, or -1 when v is not live. */
export function pfilh_count(v: usize, head: u32, dir: u32): i32 {
  if (!vnet_valid(v) || !valid(head, dir)) return -1;
  let n: i32 = 0;
  for (let h = load<usize>(VNET_VNET(v, V_pfil) + (<usize>listOf(head, dir) << 2)); h != 0; h = load<usize>(h, H_NEXT)) n++;
  return n;
}

/** Host: drops (what 0) or consumptions (1) on (head, dir) in live vnet v, -1 if v is not live. */
export function pfilh_stat(v: usize, head: u32, dir: u32, what: u32): i32 {
  if (!vnet_valid(v) || !valid(head, dir) || what > 1) return -1;
  return <i32>load<u32>(VNET_VNET(v, V_pfil) + (what == 0 ? V_DROPS : V_CONSUMED) + (listOf(head, dir) << 2));
}

/** Drops (what = 0) or consumptions (1) on (head, dir) in the current vnet. */
export function pfil_stat(head: u32, dir: u32, what: u32): u32 {
  if (!valid(head, dir) || what > 1) return 0;
  return load<u32>(VNET(V_pfil) + (what == 0 ? V_DROPS : V_CONSUMED) + (listOf(head, dir) << 2));
}

/**
 * Run the hooks of (head, dir) in the current vnet over m. Returns the packet to go on
 * with, or 0 when a hook dropped or kept it (the caller must not touch m then).
 */
export function pfil_run_hooks(head: u32, dir: u32, m: usize, ifp: usize, flags: u32): usize {
  const l = listOf(head, dir);
  const base = VNET(V_pfil);
  let h = load<usize>(base + (<usize>l << 2));
  while (h != 0) {
    const next = load<usize>(h, H_NEXT);
    const r = call_indirect<usize>(load<u32>(h, H_FN), m, ifp, dir | flags, load<usize>(h, H_ARG));
    if (r <= PFIL_CONSUMED) {
      const p = base + (r == PFIL_DROPPED ? V_DROPS : V_CONSUMED) + (l << 2);
      store<u32>(p, load<u32>(p) + 1);
      return 0;
    }
    m = r;
    h = next;
  }
  return m;
}

/** Free the entries of one list of the vnet whose pfil block is base, fn in [lo, hi). */
function freeList(base: usize, l: u32, lo: u32, hi: u32): i32 {
  const vbase = base - V_pfil;
  let n: i32 = 0;
  let prev = base + (<usize>l << 2);
  let h = load<usize>(prev);
  while (h != 0) {
    const next = load<usize>(h, H_NEXT);
    const fn = load<u32>(h, H_FN);
    if (fn >= lo && fn < hi) {
      store<usize>(prev, next);
      zone_free_in(hookZone, h, vbase);
      const c = nhooks + ((l >> 1) << 2);
      store<u32>(c, load<u32>(c) - 1);
      n++;
    } else {
      prev = h + H_NEXT;
    }
    h = next;
  }
  return n;
}

/** Remove every hook whose function is in the table window [lo, hi) from every vnet. */
export function pfil_purge_range(lo: u32, hi: u32): u32 {
  let n: u32 = 0;
  for (let v = vnet_first(); v != 0; v = vnet_next(v)) {
    const base = VNET_VNET(v, V_pfil);
    for (let l: u32 = 0; l < NLISTS; l++) n += <u32>freeList(base, l, lo, hi);
  }
  return n;
}

// VNET_SYSUNINIT: whatever hooks the vnet still has (their modules' uninits normally took
// them) go with it.
function pfil_vnet_uninit(): void {
  const base = VNET(V_pfil);
  for (let l: u32 = 0; l < NLISTS; l++) freeList(base, l, 0, 0xffffffff);
}
