// IPv6 addresses of interfaces (FreeBSD netinet6/in6.c, in6_ifattach.c): several per
// interface, each with a prefix length and flags.
//
// Every address is an In6Ifaddr from the module's "in6_ifaddr" zone, charged to its vnet,
// on the interface's list (head in ifp.if_afdata1, the AF_INET6 slot) and the vnet's.
// Adding one adds its on-link prefix route (link-local prefixes are per interface) and, on
// an Ethernet interface that is up, starts duplicate address detection; deleting it
// removes the routes that depend on it and forgets the neighbours of its prefix.
//
// Link-local: when an Ethernet interface comes up (EVENT_IFNET_UP) or arrives up, it gets
// fe80::/64 with the modified EUI-64 interface identifier of its MAC (RFC 4291 2.5.1,
// appendix A). lo0 gets ::1/128 at vnet init.
//
// DAD is the optimistic form (RFC 4429, simplified): the address is usable at once; one
// solicitation from :: goes to its solicited-node group (DupAddrDetectTransmits = 1) and
// a callout clears TENTATIVE after RetransTimer. A solicitation from :: or an
// advertisement for the address heard meanwhile (or later) marks it DUPLICATED: it stays
// listed but is never chosen as a source again. No address is reconfigured afterwards.

import { zone_alloc, zone_free, callout_init, callout_reset, callout_stop } from "../kmod/kapi";
import { Ifnet, IFF_LOOPBACK, IFT_ETHER, IFF_UP, IFF_RUNNING, if_lladdr } from "../sys/if";
import { EEXIST, ENOENT, EINVAL, ENOMEM } from "../sys/errno";
import {
  in6_copy, in6_eq, in6_mask, in6_prefix_match, in6_matchlen, in6_is_solicited, in6_solicited, IN6_IS_ADDR_UNSPECIFIED, IN6_IS_ADDR_MULTICAST,
  IN6_IS_ADDR_LOOPBACK, IN6_IS_ADDR_LINKLOCAL, IN6_IS_ADDR_V4MAPPED, IN6_IS_ALLNODES_LL, IN6_IS_ALLNODES_IL, IN6_IS_ALLROUTERS_LL,
} from "../sys/in6";
import {
  In6Ifaddr, Inet6Vnet, IA6_MAGIC, IA6_CALLOUT, Inet6Globals, V6, RTF_PINNED, ia6_addr, ia6_prefix, IN6_IFF_TENTATIVE,
  IN6_IFF_DUPLICATED, IN6_IFF_AUTOCONF, IN6_IFF_OPTIMISTIC, IN6_IFF_DEPRECATED, ND6_RETRANS_US, ICMP6STAT_INC, ICP6S_DAD_DUP,
} from "./ip6_var";
import { nd6_is_router_if, nd6_rtr_ia_gone, nd6_rtr_ifdetach, nd6_no_dad } from "./nd6_rtr";
import { rt6_insert, rt6_flush, rt6_find } from "./in6_rmx";
import { sl_remove } from "../net/tailq";
import { nd6_dad_output, nd6_flush, nd6_na_unsolicited } from "./nd6";
import { mld_join, mld_leave, mld_ifdetach } from "./mld6";

@inline function ia(p: usize): In6Ifaddr {
  return changetype<In6Ifaddr>(p);
}

@inline export function in6_ifaddr_first(ifp: usize): usize {
  return changetype<Ifnet>(ifp).if_afdata1;
}

@inline function ifup(ifp: usize): bool {
  return (changetype<Ifnet>(ifp).if_flags & (IFF_UP | IFF_RUNNING)) == (IFF_UP | IFF_RUNNING);
}

/** Address a on ifp, or 0. */
export function in6ifa_ifpwithaddr(ifp: usize, a: usize): usize {
  for (let p = in6_ifaddr_first(ifp); p != 0; p = ia(p).ia_ifnext) if (in6_eq(ia6_addr(p), a)) return p;
  return 0;
}

/**
 * Our address a: link-local ones on ifp only (their scope is the link; ifp 0 = none
 * match), others on any interface of the vnet (weak host model). 0 when not ours.
 */
export function in6ifa_byaddr(a: usize, ifp: usize): usize {
  if (IN6_IS_ADDR_LINKLOCAL(a)) return ifp != 0 ? in6ifa_ifpwithaddr(ifp, a) : 0;
  for (let p = V6().ia_head; p != 0; p = ia(p).ia_next) if (in6_eq(ia6_addr(p), a)) return p;
  return 0;
}

/** True if a is one of this vnet's unicast addresses (link-local: of ifp). */
export function in6_localip(a: usize, ifp: usize): bool {
  return in6ifa_byaddr(a, ifp) != 0;
}

/**
 * True if a is one of this vnet's addresses in use (link-local: of ifp), not tentative or
 * duplicated: a packet from a wire with such a source is forged (ip6_input).
 */
export function in6_ownsrc(a: usize, ifp: usize): bool {
  const p = in6ifa_byaddr(a, ifp);
  return p != 0 && (ia(p).ia_flags & (IN6_IFF_TENTATIVE | IN6_IFF_DUPLICATED)) == 0;
}

/** True if a is an address of any interface of the vnet, link-local ones included. */
export function in6_localip_anyif(a: usize): bool {
  for (let p = V6().ia_head; p != 0; p = ia(p).ia_next) if (in6_eq(ia6_addr(p), a)) return true;
  return false;
}

/**
 * True if ifp listens to multicast group g: all-nodes, all-routers on a router's interface
 * (nd6_rtr.ts), and the solicited-node group of each of its addresses.
 */
export function in6_ismember(ifp: usize, g: usize): bool {
  if (IN6_IS_ALLNODES_LL(g)) return true;
  if (IN6_IS_ALLROUTERS_LL(g)) return nd6_is_router_if(ifp);
  if (IN6_IS_ALLNODES_IL(g)) return (changetype<Ifnet>(ifp).if_flags & IFF_LOOPBACK) != 0;
  for (let p = in6_ifaddr_first(ifp); p != 0; p = ia(p).ia_ifnext) if (in6_is_solicited(g, ia6_addr(p))) return true;
  return false;
}

@inline function usable(p: usize): bool {
  return (ia(p).ia_flags & IN6_IFF_DUPLICATED) == 0;
}

/**
 * Source address selection (RFC 6724, in small): among ifp's usable addresses, one of
 * the destination's scope (link-local for a link-local or link-scope multicast
 * destination, else a global one when there is one: rules 2 and 8), the longest match
 * to dst first. When ifp has no global address for a global destination, the best global
 * address of another interface (rule 2, the scope, ranks above rule 5, the outgoing
 * interface: a router's loopback address, or a host whose paths leave by interfaces with
 * link-local addresses only). 0 when there is none at all.
 */
export function in6_selectsrc_ifp(ifp: usize, dst: usize): usize {
  const wantll = IN6_IS_ADDR_LINKLOCAL(dst) || (IN6_IS_ADDR_MULTICAST(dst) && (load<u8>(dst + 1) & 0xf) <= 2);
  let best: usize = 0;
  let bestScore: i32 = -1;
  for (let p = in6_ifaddr_first(ifp); p != 0; p = ia(p).ia_ifnext) {
    if (!usable(p)) continue;
    const ll = IN6_IS_ADDR_LINKLOCAL(ia6_addr(p));
    let score = <i32>in6_matchlen(ia6_addr(p), dst);
    if (ll == wantll) score += 1000;
    if ((ia(p).ia_flags & IN6_IFF_DEPRECATED) == 0) score += 400; // rule 3: avoid deprecated addresses
    if ((ia(p).ia_flags & IN6_IFF_TENTATIVE) == 0) score += 200; // prefer a preferred address over an optimistic one
    if (score > bestScore) {
      best = p;
      bestScore = score;
    }
  }
  if (!wantll && (best == 0 || IN6_IS_ADDR_LINKLOCAL(ia6_addr(best)))) {
    let other: usize = 0;
    let otherScore: i32 = -1;
    for (let p = V6().ia_head; p != 0; p = ia(p).ia_next) {
      if (!usable(p) || IN6_IS_ADDR_LINKLOCAL(ia6_addr(p)) || IN6_IS_ADDR_LOOPBACK(ia6_addr(p))) continue;
      let score = <i32>in6_matchlen(ia6_addr(p), dst);
      if ((ia(p).ia_flags & IN6_IFF_TENTATIVE) == 0) score += 200;
      if (score > otherScore) {
        other = p;
        otherScore = score;
      }
    }
    if (other != 0) return other;
  }
  return best;
}

/** The modified EUI-64 link-local address of a MAC into d (RFC 4291 2.5.1, appendix A). */
function in6_ll_from_mac(d: usize, mac: usize): void {
  store<u64>(d, 0x80fe); // fe80::
  in6_eui64_iid(d, mac);
}

/** The modified EUI-64 interface identifier of a MAC into d's last 8 bytes (RFC 4291 2.5.1, appendix A); SLAAC puts it after a /64 too. */
export function in6_eui64_iid(d: usize, mac: usize): void {
  store<u8>(d + 8, load<u8>(mac) ^ 0x02);
  store<u8>(d + 9, load<u8>(mac + 1));
  store<u8>(d + 10, load<u8>(mac + 2));
  store<u8>(d + 11, 0xff);
  store<u8>(d + 12, 0xfe);
  store<u8>(d + 13, load<u8>(mac + 3));
  store<u8>(d + 14, load<u8>(mac + 4));
  store<u8>(d + 15, load<u8>(mac + 5));
}

const lltmp = memory.data(16, 8);
const soltmp = memory.data(16, 8); // a solicited-node group (a may be lltmp)

/** in6_ifattach: an Ethernet interface that is up gets its link-local address (once). */
export function in6_ifattach(ifp: usize): void {
  const ii = changetype<Ifnet>(ifp);
  if (ii.if_type != IFT_ETHER || !ifup(ifp)) return;
  for (let p = in6_ifaddr_first(ifp); p != 0; p = ia(p).ia_ifnext) if (IN6_IS_ADDR_LINKLOCAL(ia6_addr(p))) return;
  in6_ll_from_mac(lltmp, if_lladdr(ifp));
  in6_control_add(ifp, lltmp, 64, IN6_IFF_AUTOCONF);
}

/** DAD timer: no one objected within RetransTimer: the address is preferred now. */
function nd6_dad_timer(p: usize): void {
  ia(p).ia_flags &= ~(IN6_IFF_TENTATIVE | IN6_IFF_OPTIMISTIC);
}

/** The delayed start of DAD (RFC 4862 5.4.2): the probe now, the verdict after RetransTimer. */
function nd6_dad_start(p: usize): void {
  callout_reset(p + IA6_CALLOUT, ND6_RETRANS_US, nd6_dad_timer.index, p);
  nd6_dad_output(ia(p).ia_ifp, ia6_addr(p));
}

/** A solicitation from :: or an advertisement for our address a on ifp: someone else has it. */
export function nd6_dad_duplicated(ifp: usize, a: usize): bool {
  const p = in6ifa_ifpwithaddr(ifp, a);
  if (p == 0) return false;
  if ((ia(p).ia_flags & IN6_IFF_DUPLICATED) == 0) {
    ia(p).ia_flags = (ia(p).ia_flags | IN6_IFF_DUPLICATED) & ~(IN6_IFF_TENTATIVE | IN6_IFF_OPTIMISTIC);
    callout_stop(p + IA6_CALLOUT);
    ICMP6STAT_INC(ICP6S_DAD_DUP);
  }
  return true;
}

/**
 * EVENT_IFNET_LLADDR: ifp's MAC changed. Each of its addresses in use is announced by an
 * unsolicited advertisement, one RetransTimer after the other in list order, the link-local
 * address first (RFC 4861 7.2.6 spaces them by RetransTimer; FreeBSD's nd6 does the same).
 * A tentative address is left to its DAD probe, which carries the new MAC already.
 */
export function in6_lladdr_changed(ifp: usize): void {
  let delay: u64 = 0;
  for (let q = in6_ifaddr_first(ifp); q != 0; q = ia(q).ia_ifnext) {
    if ((ia(q).ia_flags & (IN6_IFF_TENTATIVE | IN6_IFF_DUPLICATED)) != 0) continue;
    callout_reset(q + IA6_CALLOUT, delay, in6_grand_timer.index, q);
    delay += ND6_RETRANS_US;
  }
}

function in6_grand_timer(p: usize): void {
  nd6_na_unsolicited(ia(p).ia_ifp, ia6_addr(p));
}

/**
 * ifconfig IF inet6 addr/plen [flags]. daddelay (us, 0: none): the wait before the DAD probe
 * (SLAAC's random delay, RFC 4862 5.4.2); the address is optimistic meanwhile. 0 or -errno.
 */
export function in6_control_add(ifp: usize, a: usize, plen: u32, flags: u32, daddelay: u64 = 0): i32 {
  const loop = (changetype<Ifnet>(ifp).if_flags & IFF_LOOPBACK) != 0;
  if (plen == 0 || plen > 128 || IN6_IS_ADDR_UNSPECIFIED(a) || IN6_IS_ADDR_MULTICAST(a) || IN6_IS_ADDR_V4MAPPED(a)) return -EINVAL;
  if (IN6_IS_ADDR_LOOPBACK(a) && !loop) return -EINVAL;
  if (IN6_IS_ADDR_LINKLOCAL(a) && plen != 64) return -EINVAL; // fe80::/64 only (RFC 4291 2.5.6)
  if (in6ifa_byaddr(a, ifp) != 0) return -EEXIST;
  const p = zone_alloc(Inet6Globals.iaZone);
  if (p == 0) return -ENOMEM;
  const x = ia(p);
  x.ia_magic = IA6_MAGIC;
  x.ia_ifp = ifp;
  x.ia_plen = plen;
  x.ia_flags = flags;
  x.ia_vexpire = 0;
  x.ia_pexpire = 0;
  in6_copy(ia6_addr(p), a);
  in6_copy(ia6_prefix(p), a);
  in6_mask(ia6_prefix(p), plen);
  callout_init(p + IA6_CALLOUT);
  // Tail of the interface's list, head of the vnet's.
  const ii = changetype<Ifnet>(ifp);
  x.ia_ifnext = 0;
  let tail = ii.if_afdata1;
  if (tail == 0) ii.if_afdata1 = p;
  else {
    while (ia(tail).ia_ifnext != 0) tail = ia(tail).ia_ifnext;
    ia(tail).ia_ifnext = p;
  }
  const vv = V6();
  x.ia_next = vv.ia_head;
  vv.ia_head = p;
  vv.ia_count++;
  // The on-link prefix route (a prefix already routed by another address keeps its route).
  if (plen < 128 && !loop) {
    const r = rt6_insert(ia6_prefix(p), plen, 0, ifp, p, RTF_PINNED);
    if (r != 0 && r != -EEXIST) {
      unlinkAddr(p);
      zone_free(Inet6Globals.iaZone, p);
      return r;
    }
  }
  const dad = ii.if_type == IFT_ETHER && ifup(ifp) && !nd6_no_dad(ifp);
  if (dad) x.ia_flags |= IN6_IFF_TENTATIVE | IN6_IFF_OPTIMISTIC; // before the join: its report goes from :: then (mld6.ts)
  // RFC 4862 5.4.2: the solicited-node group is joined (and reported, mld6.ts) before the DAD probe.
  if (ii.if_type == IFT_ETHER && !loop) {
    in6_solicited(soltmp, a);
    if (mld_join(ifp, soltmp) != 0) {
      rt6_flush(p, 0);
      unlinkAddr(p);
      zone_free(Inet6Globals.iaZone, p);
      return -ENOMEM;
    }
  }
  if (dad) {
    if (daddelay != 0) callout_reset(p + IA6_CALLOUT, daddelay, nd6_dad_start.index, p);
    else {
      callout_reset(p + IA6_CALLOUT, ND6_RETRANS_US, nd6_dad_timer.index, p);
      nd6_dad_output(ifp, ia6_addr(p));
    }
  }
  return 0;
}

function unlinkAddr(p: usize): void {
  sl_remove(ia(p).ia_ifp + offsetof<Ifnet>("if_afdata1"), p, offsetof<In6Ifaddr>("ia_ifnext"));
  const vv = V6();
  sl_remove(changetype<usize>(vv) + offsetof<Inet6Vnet>("ia_head"), p, offsetof<In6Ifaddr>("ia_next"));
  vv.ia_count--;
}

function freeAddr(p: usize): void {
  const x = ia(p);
  const ifp = x.ia_ifp;
  callout_stop(p + IA6_CALLOUT);
  if (changetype<Ifnet>(ifp).if_type == IFT_ETHER && (changetype<Ifnet>(ifp).if_flags & IFF_LOOPBACK) == 0) {
    in6_solicited(soltmp, ia6_addr(p));
    mld_leave(ifp, soltmp);
  }
  unlinkAddr(p);
  rt6_flush(p, 0);
  // Neighbours of the prefix go unless another address of ifp still covers them.
  let covered = false;
  for (let q = in6_ifaddr_first(ifp); q != 0; q = ia(q).ia_ifnext) {
    if (ia(q).ia_plen == x.ia_plen && in6_eq(ia6_prefix(q), ia6_prefix(p))) covered = true;
  }
  if (!covered) nd6_flush(ifp, ia6_prefix(p), x.ia_plen);
  // Another address of the same prefix takes the prefix route over (in6 scrub, as inet).
  if (x.ia_plen < 128 && (changetype<Ifnet>(ifp).if_flags & IFF_LOOPBACK) == 0) {
    for (let q = V6().ia_head; q != 0; q = ia(q).ia_next) {
      if (ia(q).ia_plen == x.ia_plen && in6_eq(ia6_prefix(q), ia6_prefix(p)) &&
          (!IN6_IS_ADDR_LINKLOCAL(ia6_prefix(p)) || ia(q).ia_ifp == ifp) && rt6_find(ia6_prefix(p), x.ia_plen, ia(q).ia_ifp) == 0) {
        rt6_insert(ia6_prefix(q), ia(q).ia_plen, 0, ia(q).ia_ifp, q, RTF_PINNED);
        break;
      }
    }
  }
  nd6_rtr_ia_gone(p); // a prefix that made it forgets it
  x.ia_magic = 0;
  zone_free(Inet6Globals.iaZone, p);
}

/** ifconfig IF inet6 addr -alias. 0 or -ENOENT. */
export function in6_control_del(ifp: usize, a: usize): i32 {
  const p = in6ifa_ifpwithaddr(ifp, a);
  if (p == 0) return -ENOENT;
  freeAddr(p);
  return 0;
}

/** The interface is leaving the vnet (or going away): its addresses, routes and neighbours go. */
export function in6_ifdetach(ifp: usize): void {
  nd6_rtr_ifdetach(ifp);
  mld_ifdetach(ifp); // its groups go silently first: the addresses' leaves below find none

  while (in6_ifaddr_first(ifp) != 0) freeAddr(in6_ifaddr_first(ifp));
  rt6_flush(0, ifp);
  nd6_flush(ifp, 0, 0);
  changetype<Ifnet>(ifp).if_afdata1 = 0;
}

/** True when dst is on a prefix of one of ifp's addresses. */
export function in6_onlink(ifp: usize, dst: usize): bool {
  for (let p = in6_ifaddr_first(ifp); p != 0; p = ia(p).ia_ifnext) if (in6_prefix_match(ia6_addr(p), dst, ia(p).ia_plen)) return true;
  return false;
}

// Address records for the host: 40 bytes: address (16), plen u32, flags u32, then the
// kernel times (f64, 0: never) the address is deprecated (24) and goes (32).
export const IA6_REC: u32 = 40;

export function in6_addr_fill(ifp: usize, buf: usize, max: u32): u32 {
  let n: u32 = 0;
  for (let p = in6_ifaddr_first(ifp); p != 0 && n < max; p = ia(p).ia_ifnext) {
    const o = buf + n * IA6_REC;
    in6_copy(o, ia6_addr(p));
    store<u32>(o, ia(p).ia_plen, 16);
    store<u32>(o, ia(p).ia_flags, 20);
    store<f64>(o, <f64>ia(p).ia_pexpire, 24);
    store<f64>(o, <f64>ia(p).ia_vexpire, 32);
    n++;
  }
  return n;
}

export { EINVAL };
