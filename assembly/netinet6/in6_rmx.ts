// The IPv6 route table of a vnet (FreeBSD netinet6/in6_rmx.c and net/route.c, in small;
// the same shape as inet's in_rmx.ts).
//
// One list per vnet sorted by prefix length, longest first, so the first match is the
// longest-prefix match. Routes: on-link prefixes (added with an address, RTF_PINNED,
// removed with it; link-local fe80::/64 once per interface, since its scope is the link),
// static routes (via a gateway, which must be on-link or a link-local neighbour of the
// given interface, or out of an interface), and the default route (::/0). Link-local
// destinations never use the table for their interface: the caller names the link (its
// scope zone), and a lookup only matches routes of that interface.

import { zone_alloc, zone_free } from "../kmod/kapi";
import { EEXIST, ENOENT, EINVAL, ENOMEM, EPERM } from "../sys/errno";
import { in6_copy, in6_zero, in6_eq, in6_mask, in6_prefix_match, IN6_IS_ADDR_LINKLOCAL, IN6_IS_ADDR_UNSPECIFIED, IN6_IS_ADDR_MULTICAST } from "../sys/in6";
import {
  Rt6entry, Inet6Globals, V6, RTF_UP, RTF_GATEWAY, RTF_HOST, RTF_STATIC, RTF_PINNED, ENETUNREACH, rt6_dst, rt6_gw, ia6_addr,
} from "./ip6_var";
import { in6_ifaddr_first, in6_onlink, in6_selectsrc_ifp } from "./in6";

@inline function rt(p: usize): Rt6entry {
  return changetype<Rt6entry>(p);
}

/**
 * Longest-prefix match for dst in the current vnet, or 0. ifp != 0 restricts the match
 * to routes out of ifp (link-local destinations: ifp is their zone).
 */
export function rt6_lookup(dst: usize, ifp: usize): usize {
  for (let p = V6().rt_head; p != 0; p = rt(p).rt_next) {
    if (ifp != 0 && rt(p).rt_ifp != ifp) continue;
    if (in6_prefix_match(rt6_dst(p), dst, rt(p).rt_plen)) return p;
  }
  return 0;
}

/** The route with exactly this prefix (for link-local prefixes: out of ifp), or 0. */
export function rt6_find(dst: usize, plen: u32, ifp: usize): usize {
  const ll = IN6_IS_ADDR_LINKLOCAL(dst);
  for (let p = V6().rt_head; p != 0; p = rt(p).rt_next) {
    if (rt(p).rt_plen == plen && in6_eq(rt6_dst(p), dst) && (!ll || rt(p).rt_ifp == ifp)) return p;
  }
  return 0;
}

const tmp = memory.data(16, 8);

/** Insert a route (sorted); -EEXIST when the prefix is there, -ENOMEM. gw 0: on-link. */
export function rt6_insert(dst: usize, plen: u32, gw: usize, ifp: usize, ifa: usize, flags: u32): i32 {
  if (plen > 128) return -EINVAL;
  in6_copy(tmp, dst);
  in6_mask(tmp, plen);
  if (rt6_find(tmp, plen, ifp) != 0) return -EEXIST;
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
  const vv = V6();
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
  return 0;
}

function unlinkFree(prev: usize, p: usize): void {
  const vv = V6();
  if (prev == 0) vv.rt_head = rt(p).rt_next;
  else rt(prev).rt_next = rt(p).rt_next;
  vv.rt_count--;
  zone_free(Inet6Globals.rtZone, p);
}

/**
 * route -6 add: dst/plen via gw (gw != 0: an on-link address, or a link-local address on
 * ifp, which is then required), or out of ifp (gw == 0). 0 or -errno.
 */
export function rt6_add_static(dst: usize, plen: u32, gw: usize, ifp: usize): i32 {
  if (plen > 128 || IN6_IS_ADDR_MULTICAST(dst)) return -EINVAL;
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
  return rt6_insert(dst, plen, gw, ifp, 0, RTF_STATIC);
}

/** route -6 delete dst/plen. On-link prefixes go with their address (-EPERM here). */
export function rt6_del(dst: usize, plen: u32): i32 {
  if (plen > 128) return -EINVAL;
  in6_copy(tmp, dst);
  in6_mask(tmp, plen);
  let prev: usize = 0;
  for (let p = V6().rt_head; p != 0; p = rt(p).rt_next) {
    if (rt(p).rt_plen == plen && in6_eq(rt6_dst(p), tmp)) {
      if ((rt(p).rt_flags & RTF_PINNED) != 0) return -EPERM;
      unlinkFree(prev, p);
      return 0;
    }
    prev = p;
  }
  return -ENOENT;
}

/** Remove every route that depends on address ia, or goes out of ifp (either may be 0). */
export function rt6_flush(ia: usize, ifp: usize): u32 {
  let n: u32 = 0;
  let prev: usize = 0;
  let p = V6().rt_head;
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

export function rt6_flush_all(): void {
  while (V6().rt_head != 0) unlinkFree(0, V6().rt_head);
}

// Route records for the host (netstat -rn -f inet6): 64 bytes each.
//   0 dst (16), 16 gateway (16), 32 plen, 36 flags, 40 ifp, 44 spare, 48 use f64, 56 source
//   address index: 0 (the host asks route get for it)
export const RT6_REC: u32 = 64;

export function rt6_fill(buf: usize, skip: u32, max: u32): u32 {
  let i: u32 = 0;
  let n: u32 = 0;
  for (let p = V6().rt_head; p != 0 && n < max; p = rt(p).rt_next, i++) {
    if (i < skip) continue;
    rt6_record(p, buf + n * RT6_REC);
    n++;
  }
  return n;
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
