// The IPv6 routes of a vnet (FreeBSD netinet6/in6_rmx.c): what is IPv6 about them. The
// longest-prefix match itself is the table both families share (net/route.ts, keyed by the
// 16 address bytes).
//
// Routes: on-link prefixes (added with an address, RTF_PINNED, removed with it; link-local
// fe80::/64 once per interface, since its scope is the link: the table holds one route per
// prefix, so the others of that prefix hang off it on rt_dup, in insertion order), static
// routes (via a gateway, which must be on-link or a link-local neighbour of the given
// interface, or out of an interface), and the default route (::/0). Link-local
// destinations never use the table for their interface: the caller names the link (its
// scope zone), and a lookup only matches routes of that interface. A lookup without a zone
// goes through a one-entry cache validated by the table's generation, as IPv4's does.
//
// Several paths (net.route.multipath; net/route_nhgrp.ts), as IPv4's (netinet/in_rmx.ts): a
// second static gateway route to a prefix joins it as another path; rt6_lookup answers with
// the first, rt6_lookup_any with the group, from which ip6_output picks by flow hash.

import {
  zone_alloc, zone_free, rtable_lookup, rtable_matches, rtable_find, rtable_insert, rtable_replace, rtable_delete, rtable_remove, rtable_append, rtable_gen,
  nhgrp_is, nhgrp_count, nhgrp_member, nhgrp_select,
} from "../kmod/kapi";
import { EEXIST, ENOENT, EINVAL, ENOMEM, EPERM, ESRCH } from "../sys/errno";
import { in6_copy, in6_zero, in6_eq, in6_mask, IN6_IS_ADDR_LINKLOCAL, IN6_IS_ADDR_UNSPECIFIED, IN6_IS_ADDR_MULTICAST } from "../sys/in6";
import {
  Rt6entry, Inet6Globals, Inet6Vnet, V6, rtab6, RTF_UP, RTF_GATEWAY, RTF_HOST, RTF_STATIC, RTF_PINNED, RTF_DYNAMIC, ENETUNREACH, rt6_dst, rt6_gw, ia6_addr,
} from "./ip6_var";
import { in6_ifaddr_first, in6_onlink, in6_selectsrc_ifp } from "./in6";
import { rtlist_append, rtlist_remove, rtlist_flush, rtlist_fill, rtlist_head } from "../net/route_list";

@inline function rt(p: usize): Rt6entry {
  return changetype<Rt6entry>(p);
}

/** The vnet's route list (rt_head, rt_tail: a struct rtlist, net/route_list.ts). */
@inline function rtl(): usize {
  return changetype<usize>(V6()) + offsetof<Inet6Vnet>("rt_head");
}

/** The table key of an address: its first and last 8 bytes as big-endian numbers. */
@inline function khi(a: usize): u64 {
  return bswap<u64>(load<u64>(a));
}
@inline function klo(a: usize): u64 {
  return bswap<u64>(load<u64>(a, 8));
}

const MATCH_MAX: u32 = 129;
const matches = memory.data(MATCH_MAX * 4, 4);

/**
 * Longest-prefix match for dst in the current vnet, or 0; of several paths, the first.
 * ifp != 0 restricts the match to routes out of ifp (link-local destinations: ifp is their zone).
 */
export function rt6_lookup(dst: usize, ifp: usize): usize {
  const p = rt6_lookup_any(dst, ifp);
  return nhgrp_is(p) ? nhgrp_member(p, 0) : p;
}

/** The path of group g (from rt6_lookup_any) that a flow with hash h takes. */
export function rt6_select(g: usize, h: u32): usize {
  return nhgrp_select(g, h);
}

/** rt6_lookup, but a prefix with several paths answers with their group (nhgrp_is) when ifp is 0. */
export function rt6_lookup_any(dst: usize, ifp: usize): usize {
  const t = rtab6();
  const hi = khi(dst);
  const lo = klo(dst);
  if (ifp == 0) {
    const vv = V6();
    const gen = rtable_gen(t);
    if (vv.rc_gen == gen && vv.rc_rt != 0 && vv.rc_dst0 == hi && vv.rc_dst1 == lo) return vv.rc_rt;
    const p = rtable_lookup(t, hi, lo);
    if (p != 0) {
      vv.rc_dst0 = hi;
      vv.rc_dst1 = lo;
      vv.rc_rt = p;
      vv.rc_gen = gen;
    }
    return p;
  }
  // Longest first, the first route of each prefix that goes out of ifp (of several paths, the first such).
  let k = rtable_matches(t, hi, lo, matches, MATCH_MAX);
  while (k > 0) {
    k--;
    const v = load<usize>(matches + (<usize>k << 2));
    if (nhgrp_is(v)) {
      for (let i: u32 = 0; i < nhgrp_count(v); i++) {
        if (rt(nhgrp_member(v, i)).rt_ifp == ifp) return nhgrp_member(v, i);
      }
      continue;
    }
    for (let p = v; p != 0; p = rt(p).rt_dup) {
      if (rt(p).rt_ifp == ifp) return p;
    }
  }
  return 0;
}

/** May this route share its prefix with other paths? Static gateway routes only (FreeBSD's nhop_can_multipath). */
@inline function mpath_ok(flags: u32): bool {
  return (flags & RTF_GATEWAY) != 0 && (flags & (RTF_PINNED | RTF_DYNAMIC)) == 0;
}

/** Can route p join the paths of existing value cur (a route or a group)? Not if any of them cannot, nor twice via one gateway and interface. */
function joinable(cur: usize, p: usize): bool {
  if (!mpath_ok(rt(p).rt_flags)) return false;
  const n: u32 = nhgrp_is(cur) ? nhgrp_count(cur) : 1;
  for (let i: u32 = 0; i < n; i++) {
    const q = nhgrp_is(cur) ? nhgrp_member(cur, i) : cur;
    if (!mpath_ok(rt(q).rt_flags) || rt(q).rt_dup != 0) return false;
    if (in6_eq(rt6_gw(q), rt6_gw(p)) && rt(q).rt_ifp == rt(p).rt_ifp) return false;
  }
  return true;
}

/** The route with exactly this prefix (for link-local prefixes: out of ifp; a group when it has several paths), or 0. */
export function rt6_find(dst: usize, plen: u32, ifp: usize): usize {
  if (plen > 128) return 0;
  let p = rtable_find(rtab6(), khi(dst), klo(dst), plen);
  if (!IN6_IS_ADDR_LINKLOCAL(dst)) return p;
  while (p != 0 && rt(p).rt_ifp != ifp) p = rt(p).rt_dup;
  return p;
}

const tmp = memory.data(16, 8);

/**
 * Insert a route (gw 0: on-link; weight: its share when its prefix has several paths).
 * -EEXIST when the prefix has a route it cannot join as another path, -ENOSPC, -ENOMEM.
 */
export function rt6_insert(dst: usize, plen: u32, gw: usize, ifp: usize, ifa: usize, flags: u32, weight: u32 = 1): i32 {
  if (plen > 128) return -EINVAL;
  in6_copy(tmp, dst);
  in6_mask(tmp, plen);
  const cur = rt6_find(tmp, plen, ifp);
  if (cur != 0 && (gw == 0 || IN6_IS_ADDR_LINKLOCAL(tmp) || !mpath_ok(flags | RTF_GATEWAY))) return -EEXIST;
  const p = zone_alloc(Inet6Globals.rtZone);
  if (p == 0) return -ENOMEM;
  const r = rt(p);
  in6_copy(rt6_dst(p), tmp);
  if (gw != 0) in6_copy(rt6_gw(p), gw);
  else in6_zero(rt6_gw(p));
  r.rt_plen = plen;
  r.rt_flags = flags | RTF_UP | (plen == 128 ? RTF_HOST : 0) | (gw != 0 ? RTF_GATEWAY : 0);
  r.rt_ifp = ifp;
  r.rt_ifa = ifa;
  r.rt_use = 0;
  r.rt_dup = 0;
  r.rt_weight = weight;
  const t = rtab6();
  let head = rtable_find(t, khi(tmp), klo(tmp), plen);
  if (cur != 0) {
    // Another path of this prefix.
    const e = joinable(cur, p) ? rtable_append(t, khi(tmp), klo(tmp), plen, p, weight, nhgrp_is(cur) ? 1 : rt(cur).rt_weight) : -EEXIST;
    if (e != 0) {
      zone_free(Inet6Globals.rtZone, p);
      return e;
    }
  } else if (head != 0) {
    // Another zone's route of this (link-local) prefix: after the last of them.
    while (rt(head).rt_dup != 0) head = rt(head).rt_dup;
    rt(head).rt_dup = p;
  } else {
    const e = rtable_insert(t, khi(tmp), klo(tmp), plen, p);
    if (e != 0) {
      zone_free(Inet6Globals.rtZone, p);
      return e;
    }
  }
  rtlist_append(rtl(), p);
  V6().rt_count++;
  return 0;
}

/** Take route p out of the table (or its prefix's rt_dup chain) and the list, and free it. */
function unlinkFree(p: usize): void {
  const vv = V6();
  const r = rt(p);
  const t = rtab6();
  const hi = khi(rt6_dst(p));
  const lo = klo(rt6_dst(p));
  const head = rtable_find(t, hi, lo, r.rt_plen);
  if (nhgrp_is(head)) {
    rtable_remove(t, hi, lo, r.rt_plen, p); // one path of several
  } else if (head == p) {
    if (r.rt_dup != 0) rtable_replace(t, hi, lo, r.rt_plen, r.rt_dup);
    else rtable_delete(t, hi, lo, r.rt_plen);
  } else {
    let q = head;
    while (q != 0 && rt(q).rt_dup != p) q = rt(q).rt_dup;
    if (q != 0) rt(q).rt_dup = r.rt_dup;
  }
  rtlist_remove(rtl(), p);
  vv.rt_count--;
  zone_free(Inet6Globals.rtZone, p);
}

/**
 * route -6 add: dst/plen via gw (gw != 0: an on-link address, or a link-local address on
 * ifp, which is then required), or out of ifp (gw == 0). 0 or -errno.
 */
export function rt6_add_static(dst: usize, plen: u32, gw: usize, ifp: usize, weight: u32 = 1): i32 {
  if (plen > 128 || IN6_IS_ADDR_MULTICAST(dst) || weight == 0 || weight > 0xffffff) return -EINVAL;
  in6_copy(tmp, dst);
  in6_mask(tmp, plen);
  if (!in6_eq(tmp, dst)) return -EINVAL;
  if (IN6_IS_ADDR_LINKLOCAL(dst)) return -EINVAL; // link-local prefixes come with their addresses
  if (gw != 0) {
    if (IN6_IS_ADDR_UNSPECIFIED(gw) || IN6_IS_ADDR_MULTICAST(gw)) return -EINVAL;
    if (IN6_IS_ADDR_LINKLOCAL(gw)) {
      if (ifp == 0) return -EINVAL; // a link-local next hop needs its interface
    } else {
      const via = rt6_lookup(gw, ifp);
      if (via == 0 || (rt(via).rt_flags & RTF_GATEWAY) != 0) return -ENETUNREACH;
      ifp = rt(via).rt_ifp;
    }
    if (!in6_onlink(ifp, gw) && !IN6_IS_ADDR_LINKLOCAL(gw)) return -ENETUNREACH;
  } else if (ifp == 0) return -EINVAL;
  if (in6_ifaddr_first(ifp) == 0) return -ENETUNREACH; // no address there to send from
  return rt6_insert(dst, plen, gw, ifp, 0, RTF_STATIC, weight);
}

/**
 * route -6 delete dst/plen [gw]. On-link prefixes go with their address (-EPERM here). With
 * gw != 0 only the path via gw goes (-ESRCH if none); a prefix with several paths needs it.
 */
export function rt6_del(dst: usize, plen: u32, gw: usize = 0): i32 {
  if (plen > 128) return -EINVAL;
  in6_copy(tmp, dst);
  in6_mask(tmp, plen);
  const v = rtable_find(rtab6(), khi(tmp), klo(tmp), plen);
  if (v == 0) return -ENOENT;
  let p = v;
  if (nhgrp_is(v)) {
    if (gw == 0) return -ESRCH;
    p = 0;
    for (let i: u32 = 0; i < nhgrp_count(v) && p == 0; i++) {
      if (in6_eq(rt6_gw(nhgrp_member(v, i)), gw)) p = nhgrp_member(v, i);
    }
    if (p == 0) return -ESRCH;
  } else if (gw != 0 && !in6_eq(rt6_gw(p), gw)) return -ESRCH;
  if ((rt(p).rt_flags & RTF_PINNED) != 0) return -EPERM;
  unlinkFree(p);
  return 0;
}

/** Remove route p (router discovery's default and prefix routes, nd6_rtr.ts). */
export function rt6_remove(p: usize): void {
  unlinkFree(p);
}

/** Remove every route that depends on address ia, or goes out of ifp (either may be 0). */
export function rt6_flush(ia: usize, ifp: usize): u32 {
  return rtlist_flush(rtl(), offsetof<Rt6entry>("rt_ifa"), offsetof<Rt6entry>("rt_ifp"), ia, ifp, unlinkFree);
}

/** Remove every route of the vnet (uninit): the table's nodes go with them. */
export function rt6_flush_all(): void {
  while (rtlist_head(rtl()) != 0) unlinkFree(rtlist_head(rtl()));
}

// Route records for the host (netstat -rn -f inet6): 64 bytes each.
//   0 dst (16), 16 gateway (16), 32 plen, 36 flags, 40 ifp, 44 spare, 48 use f64, 56 source
//   address index: 0 (the host asks route get for it)
export const RT6_REC: u32 = 64;

let fillBuf: usize = 0;

function fillOne(p: usize, n: u32): void {
  rt6_record(p, fillBuf + n * RT6_REC);
}

/** Write up to max records, skipping the first skip routes (longest prefix first); returns how many. */
export function rt6_fill(buf: usize, skip: u32, max: u32): u32 {
  fillBuf = buf;
  return rtlist_fill(rtl(), offsetof<Rt6entry>("rt_plen"), 128, skip, max, fillOne);
}

export function rt6_record(p: usize, o: usize): void {
  const r = rt(p);
  in6_copy(o, rt6_dst(p));
  in6_copy(o + 16, rt6_gw(p));
  store<u32>(o, r.rt_plen, 32);
  store<u32>(o, r.rt_flags, 36);
  store<u32>(o, <u32>r.rt_ifp, 40);
  store<u32>(o, 0, 44);
  store<f64>(o, <f64>r.rt_use, 48);
  store<u64>(o, 0, 56);
}

/** The source address a packet to dst through route p would carry, into out; false if none. */
export function rt6_src(p: usize, dst: usize, out: usize): bool {
  const a = in6_selectsrc_ifp(rt(p).rt_ifp, dst);
  if (a == 0) return false;
  in6_copy(out, ia6_addr(a));
  return true;
}

export { EPERM };
