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

import { loif, zone_alloc, zone_free, rtable_lookup, rtable_find, rtable_insert, rtable_delete, rtable_gen } from "../kmod/kapi";
import { EEXIST, ENOENT, EINVAL, ENOMEM, EPERM } from "../sys/errno";
import { in_plen2mask } from "../sys/in";
import { Rtentry, InIfaddr, InetGlobals, InetVnet, V, rtab, RTF_UP, RTF_GATEWAY, RTF_HOST, RTF_STATIC, RTF_PINNED, RTF_BLACKHOLE, ENETUNREACH } from "./ip_var";
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

/** Longest-prefix match for dst in the current vnet, or 0. */
export function rt_lookup(dst: u32): usize {
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

/** The route with exactly this prefix, or 0. */
export function rt_find(dst: u32, plen: u32): usize {
  if (plen > 32) return 0;
  return rtable_find(rtab(), key(dst), 0, plen);
}

/** Insert a route; -EEXIST when the prefix is there, -ENOMEM. */
export function rt_insert(dst: u32, plen: u32, gw: u32, ifp: usize, ifa: usize, flags: u32): i32 {
  if (plen > 32) return -EINVAL;
  const mask = in_plen2mask(plen);
  dst &= mask;
  if (rt_find(dst, plen) != 0) return -EEXIST;
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
  const e = rtable_insert(rtab(), key(dst), 0, plen, p);
  if (e != 0) {
    zone_free(InetGlobals.rtZone, p);
    return e;
  }
  rtlist_append(rtl(), p);
  V().rt_count++;
  return 0;
}

/** Take route p out of the table and the list, and free it. */
function unlinkFree(p: usize): void {
  rtable_delete(rtab(), key(rt(p).rt_dst), 0, rt(p).rt_plen);
  rtlist_remove(rtl(), p);
  V().rt_count--;
  zone_free(InetGlobals.rtZone, p);
}

/**
 * route add: dst/plen via gateway gw (gw != 0; it must be on a connected network, or be one
 * of our addresses: then an interface route), or out of ifp (gw == 0). 0 or -errno.
 */
export function rt_add_static(dst: u32, plen: u32, gw: u32, ifp: usize): i32 {
  if (plen > 32 || (dst & ~in_plen2mask(plen)) != 0) return -EINVAL;
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
  return rt_insert(dst, plen, gw, ifp, ifa, RTF_STATIC);
}

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

/** route delete dst/plen. Connected routes go with their address (-EPERM here). */
export function rt_del(dst: u32, plen: u32, force: bool): i32 {
  if (plen > 32) return -EINVAL;
  dst &= in_plen2mask(plen);
  const p = rt_find(dst, plen);
  if (p == 0) return -ENOENT;
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
