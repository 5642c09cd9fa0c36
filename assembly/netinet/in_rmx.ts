// The IPv4 routes of a vnet (FreeBSD netinet/in_rmx.c): what is IPv4 about them. The
// longest-prefix match itself is the table both families share (net/route.ts, a
// path-compressed trie over 128-bit keys; an IPv4 address is the top 32 bits).
//
// Here: a one-entry cache (last destination -> route) validated by the table's generation,
// which every change bumps, so a forwarding flow of one destination costs one compare and
// no call into the kernel; the list of every route (insertion order) that flushes and
// netstat walk; gateway validation; what rt_fill reports.
//
// Routes: connected (added with an address, RTF_PINNED, removed with it), static (route
// add: via a gateway on a connected network, or out of an interface), the default route
// (0.0.0.0/0). Every route records the address it depends on (rt_ifa): deleting that
// address, or the interface leaving, removes the route.
//
// Several paths (FreeBSD ROUTE_MPATH; net/route_nhgrp.ts): a second static gateway route to
// a prefix that has one joins it as another path while net.route.multipath is 1. Each path
// is a route entry of its own (in the list, so netstat shows it); the table holds their
// group. rt_lookup answers with the first path (source selection, MTU: FreeBSD asks with
// flowid 0); rt_lookup_any returns the group itself, and ip_output picks the path with the
// packet's flow hash (rt_select).

import {
  loif, zone_alloc, zone_free, rtable_lookup, rtable_find, rtable_insert, rtable_remove, rtable_append, rtable_gen,
  nhgrp_is, nhgrp_count, nhgrp_member, nhgrp_select,
} from "../kmod/kapi";
import { EEXIST, ENOENT, EINVAL, ENOMEM, EPERM, ESRCH } from "../sys/errno";
import { in_plen2mask } from "../sys/in";
import { Rtentry, InIfaddr, InetGlobals, InetVnet, V, rtab, RTF_UP, RTF_GATEWAY, RTF_HOST, RTF_STATIC, RTF_PINNED, RTF_BLACKHOLE, RTF_DYNAMIC, ENETUNREACH } from "./ip_var";
import { in_ifaddr_byaddr, in_ifaddr_first } from "./in";
import { rtlist_append, rtlist_remove, rtlist_flush, rtlist_fill, rtlist_head } from "../net/route_list";

@inline function rt(p: usize): Rtentry {
  return changetype<Rtentry>(p);
}

/** The vnet's route list (rt_head, rt_tail: a struct rtlist, net/route_list.ts). */
@inline function rtl(): usize {
  return changetype<usize>(V()) + offsetof<InetVnet>("rt_head");
}

/** The table key of an IPv4 address (host order): its 32 bits on top. */
@inline function key(a: u32): u64 {
  return <u64>a << 32;
}

/** Longest-prefix match for dst in the current vnet: a route, a group of paths (nhgrp_is), or 0. */
export function rt_lookup_any(dst: u32): usize {
  const vv = V();
  const t = rtab();
  const gen = rtable_gen(t);
  if (vv.rc_gen == gen && vv.rc_dst == dst && vv.rc_rt != 0) return vv.rc_rt;
  const p = rtable_lookup(t, key(dst), 0);
  if (p != 0) {
    vv.rc_dst = dst;
    vv.rc_rt = p;
    vv.rc_gen = gen;
  }
  return p;
}

/** Longest-prefix match for dst in the current vnet, or 0; of several paths, the first. */
export function rt_lookup(dst: u32): usize {
  const p = rt_lookup_any(dst);
  return nhgrp_is(p) ? nhgrp_member(p, 0) : p;
}

/** The path of group g (from rt_lookup_any) that a flow with hash h takes. */
export function rt_select(g: usize, h: u32): usize {
  return nhgrp_select(g, h);
}

/** May this route share its prefix with other paths? Static gateway routes only (FreeBSD's nhop_can_multipath). */
@inline function mpath_ok(flags: u32): bool {
  return (flags & RTF_GATEWAY) != 0 && (flags & (RTF_PINNED | RTF_DYNAMIC | RTF_BLACKHOLE)) == 0;
}

/** Can route p join the paths of existing value cur (a route or a group)? Not if any of them cannot, nor twice via one gateway. */
function joinable(cur: usize, p: usize): bool {
  if (!mpath_ok(rt(p).rt_flags)) return false;
  const n: u32 = nhgrp_is(cur) ? nhgrp_count(cur) : 1;
  for (let i: u32 = 0; i < n; i++) {
    const q = nhgrp_is(cur) ? nhgrp_member(cur, i) : cur;
    if (!mpath_ok(rt(q).rt_flags) || rt(q).rt_gateway == rt(p).rt_gateway) return false;
  }
  return true;
}

/** The route with exactly this prefix (a group when it has several paths: nhgrp_is), or 0. */
export function rt_find(dst: u32, plen: u32): usize {
  if (plen > 32) return 0;
  return rtable_find(rtab(), key(dst), 0, plen);
}

/**
 * Insert a route (weight 1 .. 2^24 - 1: its share when its prefix has several paths).
 * -EEXIST when the prefix has a route it cannot join as another path (net.route.multipath 0,
 * not both gateway routes, the same gateway), -ENOSPC (a full group), -ENOMEM.
 */
export function rt_insert(dst: u32, plen: u32, gw: u32, ifp: usize, ifa: usize, flags: u32, weight: u32 = 1): i32 {
  if (plen > 32) return -EINVAL;
  const mask = in_plen2mask(plen);
  dst &= mask;
  const cur = rt_find(dst, plen);
  if (cur != 0 && (gw == 0 || !mpath_ok(flags | RTF_GATEWAY))) return -EEXIST;
  const p = zone_alloc(InetGlobals.rtZone);
  if (p == 0) return -ENOMEM;
  const r = rt(p);
  r.rt_dst = dst;
  r.rt_mask = mask;
  r.rt_plen = plen;
  r.rt_gateway = gw;
  r.rt_flags = flags | RTF_UP | (plen == 32 ? RTF_HOST : 0) | (gw != 0 ? RTF_GATEWAY : 0);
  r.rt_ifp = ifp;
  r.rt_ifa = ifa;
  r.rt_use = 0;
  r.rt_weight = weight;
  let e: i32;
  if (cur == 0) e = rtable_insert(rtab(), key(dst), 0, plen, p);
  else if (!joinable(cur, p)) e = -EEXIST;
  else e = rtable_append(rtab(), key(dst), 0, plen, p, weight, nhgrp_is(cur) ? 1 : rt(cur).rt_weight);
  if (e != 0) {
    zone_free(InetGlobals.rtZone, p);
    return e;
  }
  rtlist_append(rtl(), p);
  V().rt_count++;
  return 0;
}

/** Take route p out of the table (the prefix, or its group of paths) and the list, and free it. */
function unlinkFree(p: usize): void {
  rtable_remove(rtab(), key(rt(p).rt_dst), 0, rt(p).rt_plen, p);
  rtlist_remove(rtl(), p);
  V().rt_count--;
  zone_free(InetGlobals.rtZone, p);
}

/**
 * route add: dst/plen via gateway gw (gw != 0; it must be on a connected network, or be one
 * of our addresses: then an interface route), or out of ifp (gw == 0). 0 or -errno.
 */
export function rt_add_static(dst: u32, plen: u32, gw: u32, ifp: usize, weight: u32 = 1): i32 {
  if (plen > 32 || (dst & ~in_plen2mask(plen)) != 0 || weight == 0 || weight > RT_MAX_WEIGHT) return -EINVAL;
  let ifa: usize = 0;
  if (gw != 0) {
    const own = in_ifaddr_byaddr(gw);
    if (own != 0) {
      ifp = changetype<InIfaddr>(own).ia_ifp;
      ifa = own;
      gw = 0;
    } else {
      const via = rt_lookup(gw);
      if (via == 0 || (rt(via).rt_flags & RTF_GATEWAY) != 0) return -ENETUNREACH;
      if (ifp != 0 && ifp != rt(via).rt_ifp) return -ENETUNREACH;
      ifp = rt(via).rt_ifp;
      ifa = rt(via).rt_ifa;
    }
  } else {
    if (ifp == 0) return -EINVAL;
    ifa = in_ifaddr_first(ifp);
    if (ifa == 0) return -ENETUNREACH; // no address there to send from
  }
  return rt_insert(dst, plen, gw, ifp, ifa, RTF_STATIC, weight);
}

/** Weights of paths: 1 .. RT_MAX_WEIGHT (FreeBSD's limit). */
export const RT_MAX_WEIGHT: u32 = 0xffffff;

/**
 * route add dst/plen -blackhole: packets to it are discarded without an error (FreeBSD
 * points such a route at lo0, as here: it leaves from lo0's 127.0.0.1). 0 or -errno.
 */
export function rt_add_blackhole(dst: u32, plen: u32): i32 {
  if (plen > 32 || (dst & ~in_plen2mask(plen)) != 0) return -EINVAL;
  const lo = loif();
  const ifa = in_ifaddr_first(lo);
  if (ifa == 0) return -ENETUNREACH;
  return rt_insert(dst, plen, 0, lo, ifa, RTF_STATIC | RTF_BLACKHOLE);
}

/**
 * route delete dst/plen [gw]. Connected routes go with their address (-EPERM here). With
 * gw != 0 only the path via gw goes (-ESRCH if none); a prefix with several paths needs it
 * (-ESRCH without, as FreeBSD's rib_del_route refuses a group without a gateway filter).
 */
export function rt_del(dst: u32, plen: u32, force: bool, gw: u32 = 0): i32 {
  if (plen > 32) return -EINVAL;
  dst &= in_plen2mask(plen);
  const v = rt_find(dst, plen);
  if (v == 0) return -ENOENT;
  let p = v;
  if (nhgrp_is(v)) {
    if (gw == 0) return -ESRCH;
    p = 0;
    for (let i: u32 = 0; i < nhgrp_count(v) && p == 0; i++) {
      if (rt(nhgrp_member(v, i)).rt_gateway == gw) p = nhgrp_member(v, i);
    }
    if (p == 0) return -ESRCH;
  } else if (gw != 0 && rt(p).rt_gateway != gw) return -ESRCH;
  if ((rt(p).rt_flags & RTF_PINNED) != 0 && !force) return -EPERM;
  unlinkFree(p);
  return 0;
}

/** Remove every route that depends on address ia (ia == 0: none) or goes out of ifp (ifp == 0: none). */
export function rt_flush(ia: usize, ifp: usize): u32 {
  return rtlist_flush(rtl(), offsetof<Rtentry>("rt_ifa"), offsetof<Rtentry>("rt_ifp"), ia, ifp, unlinkFree);
}

/** Remove every route of the vnet (uninit): the table's nodes go with them. */
export function rt_flush_all(): void {
  while (rtlist_head(rtl()) != 0) unlinkFree(rtlist_head(rtl()));
}

// Route records for the host (netstat -rn): 32 bytes each.
//   0 dst u32, 4 plen u32, 8 gateway u32, 12 flags u32, 16 ifp u32, 20 ifa address u32, 24 use f64
export const RT_REC: u32 = 32;

let fillBuf: usize = 0;

function fillOne(p: usize, n: u32): void {
  const r = rt(p);
  const o = fillBuf + n * RT_REC;
  store<u32>(o, r.rt_dst);
  store<u32>(o, r.rt_plen, 4);
  store<u32>(o, r.rt_gateway, 8);
  store<u32>(o, r.rt_flags, 12);
  store<u32>(o, <u32>r.rt_ifp, 16);
  store<u32>(o, r.rt_ifa != 0 ? changetype<InIfaddr>(r.rt_ifa).ia_addr : 0, 20);
  store<f64>(o, <f64>r.rt_use, 24);
}

/** Write up to max records, skipping the first skip routes (longest prefix first); returns how many. */
export function rt_fill(buf: usize, skip: u32, max: u32): u32 {
  fillBuf = buf;
  return rtlist_fill(rtl(), offsetof<Rtentry>("rt_plen"), 32, skip, max, fillOne);
}

export { EPERM };
