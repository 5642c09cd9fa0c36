// The kernel API as a loadable module sees it: functions imported from "kernel" (the
// kldload linker resolves them against the running kernel's exports) and the same inline
// accessors the kernel uses, reading curvnet through the imported kglobals address.
// Include this from a module; never from the kernel itself.

export { SI_SUB_PROTO_DOMAIN, SI_SUB_PROTO_IF, SI_SUB_PSEUDO, SI_ORDER_ANY, SI_ORDER_FIRST, SI_ORDER_MIDDLE, MOD_LOAD, MOD_UNLOAD, MOD_QUIESCE } from "../sys/kernel";
export { EBUSY, ENOMEM, ENOSPC, EINVAL, ENOENT, EEXIST, EPERM } from "../sys/errno";

// Offsets in the kernel globals block (assembly/kern/kglobals.ts).
const KG_CURVNET: usize = 0;
const KG_CURVNET_BASE: usize = 4;
const KG_TICKS: usize = 16;
const KG_CURMOD: usize = 8;

@external("kernel", "kglobals") export declare const kglobals: usize;

@inline export function curvnet(): usize {
  return load<usize>(kglobals + KG_CURVNET);
}

/** VNET(off): the current vnet's copy of the per-vnet variable at off. */
@inline export function VNET(off: u32): usize {
  return load<usize>(kglobals + KG_CURVNET_BASE) + off;
}

/** Id of the module whose modevent is running (the one registering something now), 0 outside one. */
@inline export function curmod(): u32 {
  return load<u32>(kglobals + KG_CURMOD);
}

/** Kernel time in microseconds. */
@inline export function ticks(): u64 {
  return load<u64>(kglobals + KG_TICKS);
}

// kmem and zones
@external("kernel", "kmem_alloc") export declare function kmem_alloc(npages: u32, acct: usize): usize;
@external("kernel", "kmem_free") export declare function kmem_free(addr: usize, npages: u32, acct: usize): void;
@external("kernel", "zone_create") export declare function zone_create(name: string, size: u32, limit: u32, flags: u32, vnlimit: u32): usize;
@external("kernel", "zone_alloc_in") export declare function zone_alloc_in(z: usize, vbase: usize): usize;
@external("kernel", "zone_free_in") export declare function zone_free_in(z: usize, item: usize, vbase: usize): void;
@external("kernel", "zone_destroy") export declare function zone_destroy(z: usize, force: bool): i32;
@external("kernel", "zone_set_vnet_limit") export declare function zone_set_vnet_limit(z: usize, vbase: usize, limit: u32): void;
export const ZONE_VNET: u32 = 1;
export const ZONE_CHARGE: u32 = 2;
export const ZONE_ZERO: u32 = 4;

@inline export function zone_alloc(z: usize): usize {
  return zone_alloc_in(z, load<usize>(kglobals + KG_CURVNET_BASE));
}

@inline export function zone_free(z: usize, item: usize): void {
  zone_free_in(z, item, load<usize>(kglobals + KG_CURVNET_BASE));
}

// VNET section
@external("kernel", "vnet_data_alloc") export declare function vnet_data_alloc(size: u32, align: u32): i32;
@external("kernel", "vnet_data_alloc_zero") export declare function vnet_data_alloc_zero(size: u32, align: u32): i32;
@external("kernel", "vnet_data_free") export declare function vnet_data_free(off: u32, size: u32): void;
@external("kernel", "vnet_data_copy") export declare function vnet_data_copy(off: u32, size: u32): void;
@external("kernel", "vnet_master_base") export declare function vnet_master_base(): usize;
@external("kernel", "vnet_sysinit_register") export declare function vnet_sysinit_register(sub: u32, order: u32, init: u32, stop: u32, uninit: u32): i32;

// callouts (struct callout is CALLOUT_SIZE bytes, embedded in the caller's memory)
export const CALLOUT_SIZE: u32 = 40; // = kern_timeout CALLOUT_SIZE (callout.spec.ts checks it)
@external("kernel", "callout_reset_at") export declare function callout_reset_at(c: usize, when_us: u64, func: u32, arg: usize): i32;
@external("kernel", "callout_schedule") export declare function callout_schedule(c: usize, delta_us: u64): i32;
@external("kernel", "callout_active") export declare function callout_active(c: usize): bool;
@external("kernel", "callout_deactivate") export declare function callout_deactivate(c: usize): void;
@external("kernel", "callout_time") export declare function callout_time(c: usize): u64;
@external("kernel", "callout_init") export declare function callout_init(c: usize): void;
@external("kernel", "callout_reset") export declare function callout_reset(c: usize, delta_us: u64, func: u32, arg: usize): i32;
@external("kernel", "callout_stop") export declare function callout_stop(c: usize): i32;
@external("kernel", "callout_drain") export declare function callout_drain(c: usize): i32;
@external("kernel", "callout_pending") export declare function callout_pending(c: usize): bool;

// randomness (seeded by the host: repeatable runs)
@external("kernel", "arc4random") export declare function arc4random(): u32;
@external("kernel", "arc4random_uniform") export declare function arc4random_uniform(n: u32): u32;
@external("kernel", "vnet_id") export declare function vnet_id(v: usize): u32;

// struct vnet (assembly/kern/vnet.ts): the data block base is at offset 16.
const VNET_BASE: usize = 16;

/** VNET_VNET(v, off): vnet v's copy of the per-vnet variable at off. */
@inline export function VNET_VNET(v: usize, off: u32): usize {
  return load<usize>(v + VNET_BASE) + off;
}

// mbufs (layout, flags and inline accessors: ../sys/mbuf.ts)
@external("kernel", "m_get") export declare function m_get(type: u16): usize;
@external("kernel", "m_gethdr") export declare function m_gethdr(type: u16): usize;
@external("kernel", "m_getcl") export declare function m_getcl(type: u16, flags: u32): usize;
@external("kernel", "m_getjcl") export declare function m_getjcl(type: u16, flags: u32, size: u32): usize;
@external("kernel", "m_free") export declare function m_free(m: usize): usize;
@external("kernel", "m_freem") export declare function m_freem(m: usize): void;
@external("kernel", "m_pullup") export declare function m_pullup(m: usize, len: i32): usize;
@external("kernel", "m_prepend") export declare function m_prepend(m: usize, len: i32): usize;
@external("kernel", "M_PREPEND") export declare function M_PREPEND(m: usize, len: i32): usize;
@external("kernel", "m_adj") export declare function m_adj(m: usize, len: i32): void;
@external("kernel", "m_split") export declare function m_split(m0: usize, len0: i32): usize;
@external("kernel", "m_copym") export declare function m_copym(m: usize, off: i32, len: i32): usize;
@external("kernel", "m_copydata") export declare function m_copydata(m: usize, off: i32, len: i32, dst: usize): bool;
@external("kernel", "m_copyback") export declare function m_copyback(m0: usize, off: i32, len: i32, src: usize): bool;
@external("kernel", "m_append") export declare function m_append(m0: usize, len: i32, src: usize): bool;
@external("kernel", "m_cat") export declare function m_cat(m: usize, n: usize): void;
@external("kernel", "m_length") export declare function m_length(m: usize): i32;
@external("kernel", "m_dup") export declare function m_dup(m: usize): usize;
@external("kernel", "m_chargeto") export declare function m_chargeto(m: usize, v: usize): bool;

// Interfaces (struct ifnet and constants: ../sys/if.ts)
@external("kernel", "if_alloc") export declare function if_alloc(type: u32): usize;
@external("kernel", "if_initname") export declare function if_initname(ifp: usize, name: usize, len: u32): void;
@external("kernel", "if_initname_unit") export declare function if_initname_unit(ifp: usize, prefix: usize, plen: u32, unit: u32, suffix: u8): void;
@external("kernel", "if_attach") export declare function if_attach(ifp: usize): i32;
@external("kernel", "if_detach") export declare function if_detach(ifp: usize): void;
@external("kernel", "if_free") export declare function if_free(ifp: usize): void;
@external("kernel", "if_valid") export declare function if_valid(ifp: usize): bool;
@external("kernel", "ifunit") export declare function ifunit(name: usize, len: u32): usize;
@external("kernel", "ifunit_vnet") export declare function ifunit_vnet(v: usize, name: usize, len: u32): usize;
@external("kernel", "ifnet_byindex_vnet") export declare function ifnet_byindex_vnet(v: usize, idx: u32): usize;
@external("kernel", "if_setup") export declare function if_setup(ifp: usize, up: bool): i32;
@external("kernel", "if_setpromisc") export declare function if_setpromisc(ifp: usize, on: bool): i32;
@external("kernel", "if_capchanged") export declare function if_capchanged(ifp: usize): void;
@external("kernel", "if_clone_destroy_ifp") export declare function if_clone_destroy_ifp(ifp: usize): i32;
@external("kernel", "if_first") export declare function if_first(v: usize): usize;
@external("kernel", "if_next") export declare function if_next(ifp: usize): usize;
@external("kernel", "if_clone_attach") export declare function if_clone_attach(prefix: string, create: u32, destroy: u32): i32;
@external("kernel", "if_clone_detach") export declare function if_clone_detach(prefix: string): i32;
@external("kernel", "if_clone_seterror") export declare function if_clone_seterror(e: i32): void;
@external("kernel", "if_clone_of") export declare function if_clone_of(prefix: string): usize;
@external("kernel", "if_clone_vnet_destroy") export declare function if_clone_vnet_destroy(c: usize): u32;
@external("kernel", "if_clone_count") export declare function if_clone_count(c: usize): u32;
@external("kernel", "ether_input") export declare function ether_input(ifp: usize, m: usize): void;
@external("kernel", "ether_demux") export declare function ether_demux(ifp: usize, m: usize): void;
@external("kernel", "ether_output") export declare function ether_output(ifp: usize, m: usize, dst: usize, etype: u16): i32;
@external("kernel", "ether_output_frame") export declare function ether_output_frame(ifp: usize, m: usize): i32;
@external("kernel", "ether_gen_addr") export declare function ether_gen_addr(ifp: usize): void;
@external("kernel", "ether_set_offload_fixup") export declare function ether_set_offload_fixup(fn: u32): void;
@external("kernel", "ether_set_offload_fixup6") export declare function ether_set_offload_fixup6(fn: u32): void;
@external("kernel", "ether_set_bridge_input") export declare function ether_set_bridge_input(fn: u32): void;
@external("kernel", "netisr_register") export declare function netisr_register(etype: u32, fn: u32): i32;
@external("kernel", "netisr_unregister") export declare function netisr_unregister(etype: u32): i32;
// pfil (net/pfil.ts): heads, hooks, and the packet path's one test. A module reads the
// VNET offset once (pfil_vnet_off) and keeps it; pfil_hooked is then a load and a compare.
export const PFIL_HEAD_INET: u32 = 0;
export const PFIL_HEAD_INET6: u32 = 1;
export const PFIL_HEAD_ETHER: u32 = 2;
export const PFIL_HEAD_BRIDGE: u32 = 3;
export const PFIL_IN: u32 = 1;
export const PFIL_OUT: u32 = 2;
export const PFIL_FWD: u32 = 4;
export const PFIL_DROPPED: usize = 0;
export const PFIL_CONSUMED: usize = 1;
@external("kernel", "pfil_vnet_off") export declare function pfil_vnet_off(): u32;
@external("kernel", "pfil_head_register") export declare function pfil_head_register(head: u32): i32;
@external("kernel", "pfil_head_unregister") export declare function pfil_head_unregister(head: u32): i32;
@external("kernel", "pfil_head_hooks") export declare function pfil_head_hooks(head: u32): u32;
@external("kernel", "pfil_head_registered") export declare function pfil_head_registered(head: u32): bool;
@external("kernel", "pfil_add_hook") export declare function pfil_add_hook(head: u32, dir: u32, fn: u32, arg: usize, prio: i32): i32;
@external("kernel", "pfil_remove_hook") export declare function pfil_remove_hook(head: u32, dir: u32, fn: u32, arg: usize): i32;
@external("kernel", "pfil_run_hooks") export declare function pfil_run_hooks(head: u32, dir: u32, m: usize, ifp: usize, flags: u32): usize;
/** Does the current vnet have a hook on (head, dir)? off = pfil_vnet_off(). */
@inline export function pfil_hooked(off: u32, head: u32, dir: u32): bool {
  return load<usize>(load<usize>(kglobals + KG_CURVNET_BASE) + off + ((<usize>head * 2 + dir - 1) << 2)) != 0;
}
@external("kernel", "bpf_mtap") export declare function bpf_mtap(ifp: usize, m: usize, dir: u16): void;
@external("kernel", "eventhandler_register") export declare function eventhandler_register(event: u32, fn: u32, pri: u32): i32;
@external("kernel", "eventhandler_deregister") export declare function eventhandler_deregister(event: u32, fn: u32): void;
@external("kernel", "zone_charge_move") export declare function zone_charge_move(z: usize, fromBase: usize, toBase: usize): bool;
export const EVENT_IFNET_ARRIVAL: u32 = 1;
export const EVENT_IFNET_DEPARTURE: u32 = 2;
export const EVENT_IFNET_UP: u32 = 3;
export const EVENT_IFNET_LLADDR: u32 = 4;
export const EVENTHANDLER_PRI_ANY: u32 = 10000;

// Switching vnets (CURVNET_SET / CURVNET_RESTORE): writes the kernel globals block.
@inline export function CURVNET_SET(v: usize): usize {
  const old = load<usize>(kglobals + KG_CURVNET);
  store<usize>(kglobals + KG_CURVNET, v);
  store<usize>(kglobals + KG_CURVNET_BASE, v != 0 ? load<usize>(v + VNET_BASE) : 0);
  return old;
}

@inline export function CURVNET_RESTORE(old: usize): void {
  CURVNET_SET(old);
}

/** struct vnet's state field (VNET_ALIVE = 1 while it may receive). */
@inline export function vnet_alive(v: usize): bool {
  return v != 0 && load<u32>(v + 12) == 1;
}

// Internet checksum (net/in_cksum.ts): host-order 16-bit results; 0x10000 = chain too short.
@external("kernel", "in_cksum") export declare function in_cksum(m: usize, off: u32, len: u32, init: u32): u32;
@external("kernel", "in_cksum_buf") export declare function in_cksum_buf(p: usize, len: u32): u16;
@external("kernel", "in_pseudo") export declare function in_pseudo(src: u32, dst: u32, proto: u32, len: u32): u32;
@external("kernel", "in6_pseudo") export declare function in6_pseudo(src: usize, dst: usize, nxt: u32, len: u32): u32;
@external("kernel", "in_cksum_update") export declare function in_cksum_update(hc: u16, old: u16, nw: u16): u16;
@external("kernel", "in_delayed_cksum_value") export declare function in_delayed_cksum_value(m: usize, l3off: u32, flags: u32): u32;

// The route table both families use (net/route.ts; struct rtable is RTABLE_SIZE bytes in the
// caller's memory, its generation at offset 12 bumps on every change). Keys: hi/lo u64 halves.
export const RTABLE_SIZE: u32 = 16; // = net/route.ts RTABLE_SIZE
@inline export function rtable_gen(t: usize): u32 {
  return load<u32>(t, 12);
}
@external("kernel", "rtable_init") export declare function rtable_init(t: usize): void;
@external("kernel", "rtable_lookup") export declare function rtable_lookup(t: usize, hi: u64, lo: u64): usize;
// n keys (16 bytes each: hi u64, lo u64) at keys, n routes (usize) into out: the cache misses of many keys overlap.
@external("kernel", "rtable_lookup_n") export declare function rtable_lookup_n(t: usize, keys: usize, out: usize, n: u32): void;
@external("kernel", "rtable_matches") export declare function rtable_matches(t: usize, hi: u64, lo: u64, out: usize, max: u32): u32;
@external("kernel", "rtable_find") export declare function rtable_find(t: usize, hi: u64, lo: u64, plen: u32): usize;
@external("kernel", "rtable_insert") export declare function rtable_insert(t: usize, hi: u64, lo: u64, plen: u32, v: usize): i32;
@external("kernel", "rtable_replace") export declare function rtable_replace(t: usize, hi: u64, lo: u64, plen: u32, v: usize): i32;
@external("kernel", "rtable_delete") export declare function rtable_delete(t: usize, hi: u64, lo: u64, plen: u32): usize;
@external("kernel", "rtable_flush") export declare function rtable_flush(t: usize): void;
@external("kernel", "rtable_count") export declare function rtable_count(t: usize): u32;
@external("kernel", "rtable_nodes") export declare function rtable_nodes(t: usize): u32;
@external("kernel", "rtable_zone") export declare function rtable_zone(): usize;
@external("kernel", "rtable_vnet_items") export declare function rtable_vnet_items(): u32;
@external("kernel", "rtable_degraded") export declare function rtable_degraded(t: usize): u32;
// Several paths for one prefix (net/route_nhgrp.ts): a value with its low bit set is a
// next-hop group; nhgrp_select picks the member for a flow hash.
@external("kernel", "rtable_append") export declare function rtable_append(t: usize, hi: u64, lo: u64, plen: u32, v: usize, w: u32, curw: u32): i32;
@external("kernel", "rtable_remove") export declare function rtable_remove(t: usize, hi: u64, lo: u64, plen: u32, v: usize): i32;
@external("kernel", "nhgrp_select") export declare function nhgrp_select(g: usize, hash: u32): usize;
@external("kernel", "nhgrp_count") export declare function nhgrp_count(g: usize): u32;
@external("kernel", "nhgrp_member") export declare function nhgrp_member(g: usize, i: u32): usize;
@external("kernel", "nhgrp_weight") export declare function nhgrp_weight(g: usize, i: u32): u32;
@inline export function nhgrp_is(v: usize): bool {
  return (v & 1) != 0;
}

// Loopback and vnet checks (net/if_loop.ts, kern/vnet.ts), for protocol modules (inet).
@external("kernel", "looutput") export declare function looutput(ifp: usize, m: usize, af: u32): i32;
@external("kernel", "loif") export declare function loif(): usize;
@external("kernel", "vnet_valid") export declare function vnet_valid(v: usize): bool;
// Every live vnet, for a module's unload checkpoints (tcp's "stop" and "clean up").
@external("kernel", "vnet_first") export declare function vnet_first(): usize;
@external("kernel", "vnet_next") export declare function vnet_next(v: usize): usize;

// Sockets (layouts, constants and sockaddr accessors: ../sys/socket.ts). A protocol
// registers a pr_usrreqs table (PRU_COUNT table slots in its memory) per (domain, type,
// protocol) at MOD_LOAD, returns EBUSY from MOD_QUIESCE while protosw_busy(pffindproto(...))
// is nonzero, and queues received data with sbappendaddr / sbappendstream, then sorwakeup.
export {
  EAGAIN, EWOULDBLOCK, EPIPE, EBADF, EINPROGRESS, EALREADY, EDESTADDRREQ, EMSGSIZE, EPROTOTYPE, ENOPROTOOPT, EPROTONOSUPPORT,
  EOPNOTSUPP, EAFNOSUPPORT, EADDRINUSE, EADDRNOTAVAIL, ENETDOWN, ENETUNREACH, ECONNABORTED, ECONNRESET, ENOBUFS,
  EISCONN, ENOTCONN, ETIMEDOUT, ECONNREFUSED, EHOSTUNREACH,
} from "../sys/errno";
@external("kernel", "protosw_register") export declare function protosw_register(domain: u32, type: u32, protocol: u32, usrreqs: usize): i32;
@external("kernel", "protosw_unregister") export declare function protosw_unregister(domain: u32, type: u32, protocol: u32): i32;
@external("kernel", "pffindproto") export declare function pffindproto(domain: u32, type: u32, protocol: u32): usize;
@external("kernel", "protosw_busy") export declare function protosw_busy(pr: usize): u32;
@external("kernel", "domain_af_register") export declare function domain_af_register(af: u32, api: usize): i32;
@external("kernel", "domain_af_unregister") export declare function domain_af_unregister(af: u32): void;
@external("kernel", "domain_af_api") export declare function domain_af_api(af: u32): usize;
@external("kernel", "sbappendaddr") export declare function sbappendaddr(so: usize, sa: usize, m: usize): bool;
@external("kernel", "sbappendstream") export declare function sbappendstream(sb: usize, m: usize): void;
@external("kernel", "sbdrop") export declare function sbdrop(sb: usize, len: i32): void;
@external("kernel", "sbdroprecord") export declare function sbdroprecord(sb: usize): void;
@external("kernel", "sbflush") export declare function sbflush(sb: usize): void;
@external("kernel", "sbreserve") export declare function sbreserve(sb: usize, cc: u32): bool;
@external("kernel", "soreserve") export declare function soreserve(so: usize, sndcc: u32, rcvcc: u32): i32;
@external("kernel", "sowakeup") export declare function sowakeup(so: usize, bits: u32): void;
@external("kernel", "sorwakeup") export declare function sorwakeup(so: usize): void;
@external("kernel", "sowwakeup") export declare function sowwakeup(so: usize): void;
@external("kernel", "soseterror") export declare function soseterror(so: usize, err: i32): void;
@external("kernel", "soisconnecting") export declare function soisconnecting(so: usize): void;
@external("kernel", "soisconnected") export declare function soisconnected(so: usize): void;
@external("kernel", "soisdisconnecting") export declare function soisdisconnecting(so: usize): void;
@external("kernel", "soisdisconnected") export declare function soisdisconnected(so: usize): void;
@external("kernel", "socantsendmore") export declare function socantsendmore(so: usize): void;
@external("kernel", "socantrcvmore") export declare function socantrcvmore(so: usize): void;
@external("kernel", "sonewconn") export declare function sonewconn(head: usize, connstatus: u32): usize;
@external("kernel", "soabort") export declare function soabort(so: usize): void;
@external("kernel", "socreate") export declare function socreate(domain: u32, type: u32, protocol: u32): usize;
@external("kernel", "soclose") export declare function soclose(so: usize): i32;
@external("kernel", "sosend") export declare function sosend(so: usize, sa: usize, m: usize, control: usize, flags: i32): i32;
@external("kernel", "soreceive") export declare function soreceive(so: usize, dst: usize, maxlen: i32, sa_out: usize, flags: i32): i32;
@external("kernel", "so_lasterror") export declare function so_lasterror(): i32;
