// The IPv4 route table of a vnet (FreeBSD netinet/in_rmx.c and net/route.c, in small).
//
// Structure: one singly linked list per vnet, kept sorted by prefix length, longest first
// (ties: insertion order), so the first entry that matches is the longest-prefix match;
// plus a one-entry cache (last destination -> route) validated by a generation number
// that every change bumps. A forwarding flow of one destination costs one compare; a miss
// costs a walk of the table, which is fine for the tables an emulated node has (tens of
// routes). A larger table would swap this file for a radix/poptrie behind the same calls.
//
// Routes: connected (added with an address, RTF_PINNED, removed with it), static (route
// add: via a gateway on a connected network, or out of an interface), the default route
// (0.0.0.0/0). Every route records the address it depends on (rt_ifa): deleting that
// address, or the interface leaving, removes the route.

import { zone_alloc, zone_free } from "../kmod/kapi";
import { EEXIST, ENOENT, EINVAL, ENOMEM, EPERM } from "../sys/errno";
import { in_plen2mask } from "../sys/in";
import { Rtentry, InIfaddr, InetGlobals, V, RTF_UP, RTF_GATEWAY, RTF_HOST, RTF_STATIC, RTF_PINNED, ENETUNREACH } from "./ip_var";
import { in_ifaddr_byaddr, in_ifaddr_first } from "./in";

@inline function rt(p: usize): Rtentry {
  return changetype<Rtentry>(p);
}

@inline function changed(): void {
  const vv = V();
  vv.rt_gen++;
  vv.rc_rt = 0;
}

/** Longest-prefix match for dst in the current vnet, or 0. */
export function rt_lookup(dst: u32): usize {
  const vv = V();
  if (vv.rc_gen == vv.rt_gen && vv.rc_dst == dst && vv.rc_rt != 0) return vv.rc_rt;
  let p = vv.rt_head;
  while (p != 0) {
    const r = rt(p);
    if ((dst & r.rt_mask) == r.rt_dst) break;
    p = r.rt_next;
  }
  if (p != 0) {
    vv.rc_dst = dst;
    vv.rc_rt = p;
    vv.rc_gen = vv.rt_gen;
  }
  return p;
}

/** The route with exactly this prefix, or 0. */
export function rt_find(dst: u32, plen: u32): usize {
  for (let p = V().rt_head; p != 0; p = rt(p).rt_next) {
    if (rt(p).rt_dst == dst && rt(p).rt_plen == plen) return p;
  }
  return 0;
}

/** Insert a route (sorted); -EEXIST when the prefix is there, -ENOMEM. */
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
  // After every entry at least as long (ties keep insertion order).
  const vv = V();
  let prev: usize = 0;
  let cur = vv.rt_head;
  while (cur != 0 && rt(cur).rt_plen >= plen) {
    prev = cur;
    cur = rt(cur).rt_next;
  }
  r.rt_next = cur;
  if (prev == 0) vv.rt_head = p;
  else rt(prev).rt_next = p;
  vv.rt_count++;
  changed();
  return 0;
}

function unlinkFree(prev: usize, p: usize): void {
  const vv = V();
  if (prev == 0) vv.rt_head = rt(p).rt_next;
  else rt(prev).rt_next = rt(p).rt_next;
  vv.rt_count--;
  zone_free(InetGlobals.rtZone, p);
  changed();
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

/** route delete dst/plen. Connected routes go with their address (-EPERM here). */
export function rt_del(dst: u32, plen: u32, force: bool): i32 {
  if (plen > 32) return -EINVAL;
  dst &= in_plen2mask(plen);
  let prev: usize = 0;
  for (let p = V().rt_head; p != 0; p = rt(p).rt_next) {
    if (rt(p).rt_dst == dst && rt(p).rt_plen == plen) {
      if ((rt(p).rt_flags & RTF_PINNED) != 0 && !force) return -EPERM;
      unlinkFree(prev, p);
      return 0;
    }
    prev = p;
  }
  return -ENOENT;
}

/** Remove every route that depends on address ia (ia == 0: none) or goes out of ifp (ifp == 0: none). */
export function rt_flush(ia: usize, ifp: usize): u32 {
  let n: u32 = 0;
  let prev: usize = 0;
  let p = V().rt_head;
  while (p != 0) {
    const next = rt(p).rt_next;
    if ((ia != 0 && rt(p).rt_ifa == ia) || (ifp != 0 && rt(p).rt_ifp == ifp)) {
      unlinkFree(prev, p);
      n++;
    } else {
      prev = p;
    }
    p = next;
  }
  return n;
}

/** Remove every route of the vnet (uninit). */
export function rt_flush_all(): void {
  while (V().rt_head != 0) unlinkFree(0, V().rt_head);
}

// Route records for the host (netstat -rn): 32 bytes each.
//   0 dst u32, 4 plen u32, 8 gateway u32, 12 flags u32, 16 ifp u32, 20 ifa address u32, 24 use f64
export const RT_REC: u32 = 32;

/** Write up to max records, skipping the first skip routes; returns how many were written. */
export function rt_fill(buf: usize, skip: u32, max: u32): u32 {
  let i: u32 = 0;
  let n: u32 = 0;
  for (let p = V().rt_head; p != 0 && n < max; p = rt(p).rt_next, i++) {
    if (i < skip) continue;
    const r = rt(p);
    const o = buf + n * RT_REC;
    store<u32>(o, r.rt_dst);
    store<u32>(o, r.rt_plen, 4);
    store<u32>(o, r.rt_gateway, 8);
    store<u32>(o, r.rt_flags, 12);
    store<u32>(o, <u32>r.rt_ifp, 16);
    store<u32>(o, r.rt_ifa != 0 ? changetype<InIfaddr>(r.rt_ifa).ia_addr : 0, 20);
    store<f64>(o, <f64>r.rt_use, 24);
    n++;
  }
  return n;
}

export { EPERM };
