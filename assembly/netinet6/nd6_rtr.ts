// Router and prefix discovery (RFC 4861 6) and stateless address autoconfiguration (RFC
// 4862 5.5): the host side FreeBSD keeps in netinet6/nd6_rtr.c and the router side its
// rtadvd daemon does, both in the kernel here, per vnet.
//
// Per interface an NdIfinfo ("nd_ifinfo" zone, on the vnet's ndi list) holds the flags:
//   ACCEPT_RTADV (a host interface; net.inet6.ip6.accept_rtadv is the default for new ones):
//     when it comes up it sends up to MAX_RTR_SOLICITATIONS (3) solicitations to ff02::2,
//     RTR_SOLICITATION_INTERVAL (4 s) apart, the first after a random delay in [0,
//     MAX_RTR_SOLICITATION_DELAY = 1 s) (6.3.7); an accepted RA stops them. RAs are checked
//     (6.1.2: link-local source, hop limit 255, code 0, at least 16 bytes, every option's
//     length non-zero and inside; else counted in icmp6stat badra and dropped) and then:
//     the source's link-layer address goes in the neighbour cache (a router); the source
//     joins the default router list for the router lifetime (0: leaves it), and while the
//     vnet has no default route one goes in via the first listed router; an MTU option
//     (1280 up to the interface's MTU) sets the interface's IPv6 link MTU; each prefix
//     option (32 bytes, not link-local, preferred <= valid) updates the prefix list: on-link
//     (L) for its valid lifetime (an on-link route), autonomous (A) with a /64 prefix makes
//     prefix + the modified EUI-64 identifier of the MAC (RFC 4291 appendix A) an address
//     (flag autoconf; DAD after a random delay in [0, 1 s), RFC 4862 5.4.2), which is
//     deprecated at the end of its preferred lifetime (chosen as a source only when nothing
//     else fits) and removed at the end of its valid lifetime; a later RA renews both, with
//     the two-hour rule for the valid one (5.5.3 e). The lifetimes run on one callout per
//     prefix, the router lifetime on one per router: virtual time jumps to them.
//   ADVERTISE (a router interface, rtadvd's job): an RA to ff02::1 at a random interval in
//     [MinRtrAdvInterval, MaxRtrAdvInterval], the first MAX_INITIAL_RTR_ADVERTISEMENTS (3)
//     at most MAX_INITIAL_RTR_ADVERT_INTERVAL (16 s) apart (6.2.4), with our link-layer
//     address, the MTU option when configured, and up to ND6_ADV_PREFIX_MAX prefixes; a
//     valid RS (6.1.1) is answered by a multicast RA after a random delay in [0,
//     MAX_RA_DELAY_TIME = 0.5 s), never sooner than MIN_DELAY_BETWEEN_RAS (3 s) after the
//     last (6.2.6); ff02::2 is joined. Stopping sends a last RA with router lifetime 0
//     (6.2.5). Such an interface ignores RAs, and so does any interface of a vnet that
//     forwards (6.2.7 consistency checks are not made).
// Bounds: ND6_MAXDEFROUTERS routers and ND6_MAXPREFIXES prefixes per vnet (past them an RA's
// router or prefix is not listed, counted nd6 rtrfull): a flood of fake RAs stays small.
// Teardown: the interface leaving, or the vnet going, frees every item and stops every
// callout here (nd6_rtr_ifdetach, nd6_rtr_flush_all).

import {
  zone_alloc, zone_free, callout_init, callout_reset, callout_stop, ticks, m_gethdr, m_getcl, m_freem, ether_output,
  arc4random_uniform, in6_pseudo, in_cksum,
} from "../kmod/kapi";
import { Ifnet, ETHERTYPE_IPV6, IFF_UP, IFF_RUNNING, IFT_ETHER, if_lladdr } from "../sys/if";
import { Mbuf, MT_DATA, M_PKTHDR, MHLEN, mtod } from "../sys/mbuf";
import {
  IP6_HDR_LEN, IP6_SRC, IPPROTO_ICMPV6, ip6_fill, ip6_hlim, in6_copy, in6_zero, in6_eq, in6_mask, in6_mcast_mac,
  IN6_IS_ADDR_LINKLOCAL, IN6_IS_ADDR_UNSPECIFIED, IN6_IS_ADDR_MULTICAST, ICMP6_CKSUM, ND_ROUTER_SOLICIT, ND_ROUTER_ADVERT,
  ND_OPT_SOURCE_LINKADDR, ND_OPT_PREFIX_INFORMATION, ND_OPT_MTU, ND_OPT_PI_FLAG_ONLINK, ND_OPT_PI_FLAG_AUTO, ND_RS_LEN,
  ND_RA_LEN, ND_RA_CURHOPLIMIT, ND_RA_ROUTER_LIFETIME,
} from "../sys/in6";
import {
  V6, Inet6Globals, NdIfinfo, NdDefrouter, NdPrefix, In6Ifaddr, Rt6entry, NDI_PFX, NDI_RS_CALLOUT, NDI_RA_CALLOUT, DR_CALLOUT,
  PR_CALLOUT, dr_addr, pr_prefix, ia6_addr, rt6_gw, ND6_IFF_ACCEPT_RTADV, ND6_IFF_ADVERTISE, ND6_ADV_PREFIX_MAX, ND6_ADV_PFX_REC,
  ND6_MAXDEFROUTERS, ND6_MAXPREFIXES, ND6_IFF_NO_DAD, PR_ONLINK, PR_AUTO, PR_ROUTE, IN6_IFF_AUTOCONF, IN6_IFF_DEPRECATED, IN6_IFF_TENTATIVE,
  IN6_IFF_DUPLICATED, RTF_STATIC, RTF_PINNED, MAX_LINKHDR, ND6STAT_INC, ND6S_RSOUT, ND6S_RSIN, ND6S_RAOUT, ND6S_RAIN,
  ND6S_RTRFULL, ICMP6STAT_INC, ICP6S_BADRS, ICP6S_BADRA, ICP6S_NDHLIM, ICP6S_OUTHIST, icmp6_hist, IP6STAT_INC, IP6S_ODROPPED,
  IP6S_LOCALOUT,
} from "./ip6_var";
import { in6_control_add, in6_control_del, in6ifa_ifpwithaddr, in6_selectsrc_ifp, in6_ifaddr_first, in6_eui64_iid } from "./in6";
import { rt6_find, rt6_insert, rt6_remove } from "./in6_rmx";
import { nd6_options, nd6_cache_lladdr } from "./nd6";

// RFC 4861 10 (host and router constants)
const MAX_RTR_SOLICITATION_DELAY_US: u32 = 1_000_000;
const RTR_SOLICITATION_INTERVAL_US: u64 = 4_000_000;
const MAX_RTR_SOLICITATIONS: u32 = 3;
const MAX_INITIAL_RTR_ADVERT_INTERVAL_US: u64 = 16_000_000;
const MAX_INITIAL_RTR_ADVERTISEMENTS: u32 = 3;
const MIN_DELAY_BETWEEN_RAS_US: u64 = 3_000_000;
const MAX_RA_DELAY_TIME_US: u32 = 500_000;
const TWO_HOURS_US: u64 = 7_200_000_000; // RFC 4862 5.5.3 e
const SLAAC_DAD_DELAY_US: u32 = 1_000_000; // RFC 4862 5.4.2: MAX_RTR_SOLICITATION_DELAY
const INFINITY: u32 = 0xffffffff; // a lifetime that never ends (RFC 4861 4.6.2)

@inline function ndi(p: usize): NdIfinfo {
  return changetype<NdIfinfo>(p);
}
@inline function dr(p: usize): NdDefrouter {
  return changetype<NdDefrouter>(p);
}
@inline function pr(p: usize): NdPrefix {
  return changetype<NdPrefix>(p);
}
@inline function ia(p: usize): In6Ifaddr {
  return changetype<In6Ifaddr>(p);
}

@inline function ifrunning(ifp: usize): bool {
  const ii = changetype<Ifnet>(ifp);
  return ii.if_type == IFT_ETHER && (ii.if_flags & (IFF_UP | IFF_RUNNING)) == (IFF_UP | IFF_RUNNING);
}

/** Seconds of a lifetime to microseconds from now (INFINITY: 0, never). */
@inline function expiry(now: u64, s: u32): u64 {
  return s == INFINITY ? 0 : now + <u64>s * 1_000_000;
}

// ---------------------------------------------------------------------------------------
// Per-interface state

export function ndi_lookup(ifp: usize): usize {
  for (let p = V6().ndi_head; p != 0; p = ndi(p).ndi_next) if (ndi(p).ndi_ifp == ifp) return p;
  return 0;
}

/** ifp's state, made with the vnet's defaults when it has none; 0 when out of memory. */
function ndi_get(ifp: usize): usize {
  let p = ndi_lookup(ifp);
  if (p != 0) return p;
  p = zone_alloc(Inet6Globals.ndiZone);
  if (p == 0) return 0;
  const n = ndi(p);
  n.ndi_ifp = ifp;
  n.ndi_flags = V6().accept_rtadv != 0 ? ND6_IFF_ACCEPT_RTADV : 0;
  n.ndi_linkmtu = 0;
  n.ndi_rs_count = 0;
  n.ndi_adv_count = 0;
  n.ndi_adv_last = 0;
  n.ndi_ra_at = 0;
  n.ndi_maxint = 600; // rtadvd's defaults (RFC 4861 6.2.1)
  n.ndi_minint = 198;
  n.ndi_lifetime = 1800;
  n.ndi_advmtu = 0;
  n.ndi_hlim = 64;
  n.ndi_npfx = 0;
  callout_init(p + NDI_RS_CALLOUT);
  callout_init(p + NDI_RA_CALLOUT);
  n.ndi_next = V6().ndi_head;
  V6().ndi_head = p;
  return p;
}

function ndi_free(p: usize): void {
  callout_stop(p + NDI_RS_CALLOUT);
  callout_stop(p + NDI_RA_CALLOUT);
  if (ndi(p).ndi_linkmtu != 0) V6().ndi_mtu--;
  const vv = V6();
  if (vv.ndi_head == p) vv.ndi_head = ndi(p).ndi_next;
  else {
    for (let q = vv.ndi_head; q != 0; q = ndi(q).ndi_next) {
      if (ndi(q).ndi_next == p) {
        ndi(q).ndi_next = ndi(p).ndi_next;
        break;
      }
    }
  }
  zone_free(Inet6Globals.ndiZone, p);
}

function linkmtu(ifp: usize, mtu: u32): u32 {
  const p = ndi_lookup(ifp);
  if (p == 0 || ndi(p).ndi_linkmtu == 0) return mtu;
  return min<u32>(ndi(p).ndi_linkmtu, mtu);
}

/**
 * IPv6's MTU of ifp: the interface's, or less when an RA's MTU option said so (RFC 4861
 * 6.3.4). One load while no interface of the vnet has such an MTU.
 */
@inline export function in6_ifmtu(ifp: usize): u32 {
  const mtu = changetype<Ifnet>(ifp).if_mtu;
  return V6().ndi_mtu == 0 ? mtu : linkmtu(ifp, mtu);
}

/** True when ifp acts as a router: it advertises, or the vnet forwards (it joins ff02::2). */
export function nd6_is_router_if(ifp: usize): bool {
  if (V6().forwarding != 0) return true;
  const p = ndi_lookup(ifp);
  return p != 0 && (ndi(p).ndi_flags & ND6_IFF_ADVERTISE) != 0;
}

/** RAs are processed on ifp: it accepts them, does not advertise, and the vnet does not forward. */
function accepts_ra(p: usize): bool {
  return p != 0 && (ndi(p).ndi_flags & (ND6_IFF_ACCEPT_RTADV | ND6_IFF_ADVERTISE)) == ND6_IFF_ACCEPT_RTADV && V6().forwarding == 0;
}

/** EVENT_IFNET_UP / ARRIVAL (after the link-local address): solicit routers, or start advertising. */
export function nd6_rtr_ifup(ifp: usize): void {
  if (changetype<Ifnet>(ifp).if_type != IFT_ETHER) return;
  let p = ndi_lookup(ifp);
  if (p == 0 && V6().accept_rtadv != 0) p = ndi_get(ifp);
  if (p == 0) return;
  if ((ndi(p).ndi_flags & ND6_IFF_ADVERTISE) != 0) {
    ndi(p).ndi_adv_count = 0;
    ra_schedule(p, <u64>arc4random_uniform(MAX_RA_DELAY_TIME_US), true);
  } else if (accepts_ra(p)) {
    rs_start(p);
  }
}

function rs_start(p: usize): void {
  ndi(p).ndi_rs_count = 0;
  callout_reset(p + NDI_RS_CALLOUT, <u64>arc4random_uniform(MAX_RTR_SOLICITATION_DELAY_US), rs_timer.index, p);
}

function rs_timer(p: usize): void {
  const n = ndi(p);
  if (!accepts_ra(p) || n.ndi_rs_count >= MAX_RTR_SOLICITATIONS) return;
  n.ndi_rs_count++;
  if (n.ndi_rs_count < MAX_RTR_SOLICITATIONS) callout_reset(p + NDI_RS_CALLOUT, RTR_SOLICITATION_INTERVAL_US, rs_timer.index, p);
  nd6_rs_output(n.ndi_ifp);
}

// ---------------------------------------------------------------------------------------
// Sending RS and RA

const srcbuf = memory.data(16, 8);
const dstbuf = memory.data(16, 8);
const macbuf = memory.data(8, 4);
const abuf = memory.data(16, 8);
const llbuf = memory.data(8, 4);

/** An mbuf for an ND message of icmplen bytes after the IPv6 header; 0 when out of memory (counted). */
function nd6_rtr_mbuf(icmplen: u32): usize {
  const total = <u32>MAX_LINKHDR + IP6_HDR_LEN + icmplen;
  const m = total <= MHLEN ? m_gethdr(MT_DATA) : m_getcl(MT_DATA, M_PKTHDR);
  if (m == 0) {
    IP6STAT_INC(IP6S_ODROPPED);
    return 0;
  }
  const mm = changetype<Mbuf>(m);
  mm.m_data += MAX_LINKHDR;
  mm.m_len = <i32>(IP6_HDR_LEN + icmplen);
  mm.ph_len = mm.m_len;
  return m;
}

/** Finish (checksum) and send message m of type on ifp to the group in dstbuf (hop limit 255). */
function nd6_rtr_send(ifp: usize, m: usize, icmplen: u32, type: u8): void {
  const ip = mtod(m);
  ip6_fill(ip, icmplen, IPPROTO_ICMPV6, 255, srcbuf, dstbuf);
  const icp = ip + IP6_HDR_LEN;
  store<u8>(icp, type);
  store<u8>(icp + 1, 0);
  store<u16>(icp + ICMP6_CKSUM, 0);
  store<u16>(icp + ICMP6_CKSUM, bswap<u16>(<u16>in_cksum(m, IP6_HDR_LEN, icmplen, in6_pseudo(srcbuf, dstbuf, IPPROTO_ICMPV6, icmplen))));
  ICMP6STAT_INC(ICP6S_OUTHIST + icmp6_hist(type));
  IP6STAT_INC(IP6S_LOCALOUT);
  in6_mcast_mac(macbuf, dstbuf);
  if (ether_output(ifp, m, macbuf, ETHERTYPE_IPV6) != 0) IP6STAT_INC(IP6S_ODROPPED);
}

@inline function lla_option(o: usize, ifp: usize): void {
  store<u8>(o, ND_OPT_SOURCE_LINKADDR);
  store<u8>(o + 1, 1);
  memory.copy(o + 2, if_lladdr(ifp), 6);
}

/**
 * A router solicitation to ff02::2 (RFC 4861 4.1, 6.3.7): from our link-local address with
 * our link-layer address, or without it while that address is still optimistic (RFC 4429
 * 3.2), or from :: when there is no usable address.
 */
function nd6_rs_output(ifp: usize): void {
  if (!ifrunning(ifp)) return;
  store<u64>(dstbuf, 0x02ff);
  store<u64>(dstbuf, 0x0200000000000000, 8); // ff02::2
  const a = in6_selectsrc_ifp(ifp, dstbuf);
  const withlla = a != 0 && (ia(a).ia_flags & IN6_IFF_TENTATIVE) == 0;
  if (a != 0) in6_copy(srcbuf, ia6_addr(a));
  else in6_zero(srcbuf);
  const icmplen = ND_RS_LEN + (withlla ? 8 : 0);
  const m = nd6_rtr_mbuf(icmplen);
  if (m == 0) return;
  const icp = mtod(m) + IP6_HDR_LEN;
  store<u32>(icp, 0, 4);
  if (withlla) lla_option(icp + ND_RS_LEN, ifp);
  ND6STAT_INC(ND6S_RSOUT);
  nd6_rtr_send(ifp, m, icmplen, ND_ROUTER_SOLICIT);
}

/** A router advertisement to ff02::1 (RFC 4861 4.2, 6.2.3) from ifp's link-local address. */
function nd6_ra_output(p: usize, lifetime: u32): void {
  const n = ndi(p);
  const ifp = n.ndi_ifp;
  if (!ifrunning(ifp)) return;
  store<u64>(dstbuf, 0x02ff);
  store<u64>(dstbuf, 0x0100000000000000, 8); // ff02::1
  const a = in6_selectsrc_ifp(ifp, dstbuf);
  if (a == 0 || !IN6_IS_ADDR_LINKLOCAL(ia6_addr(a))) return; // RAs come from a link-local address (6.1.2)
  in6_copy(srcbuf, ia6_addr(a));
  const icmplen = ND_RA_LEN + 8 + (n.ndi_advmtu != 0 ? 8 : 0) + n.ndi_npfx * 32;
  const m = nd6_rtr_mbuf(icmplen);
  if (m == 0) return;
  const icp = mtod(m) + IP6_HDR_LEN;
  store<u8>(icp + ND_RA_CURHOPLIMIT, <u8>n.ndi_hlim);
  store<u8>(icp + ND_RA_CURHOPLIMIT + 1, 0); // M, O: no DHCPv6
  store<u16>(icp + ND_RA_ROUTER_LIFETIME, bswap<u16>(<u16>lifetime));
  store<u64>(icp + 8, 0); // reachable time, retrans timer: unspecified
  let o = icp + ND_RA_LEN;
  lla_option(o, ifp);
  o += 8;
  if (n.ndi_advmtu != 0) {
    store<u8>(o, ND_OPT_MTU);
    store<u8>(o + 1, 1);
    store<u16>(o + 2, 0);
    store<u32>(o + 4, bswap<u32>(n.ndi_advmtu));
    o += 8;
  }
  for (let i: u32 = 0; i < n.ndi_npfx; i++) {
    const r = p + NDI_PFX + i * ND6_ADV_PFX_REC;
    store<u8>(o, ND_OPT_PREFIX_INFORMATION);
    store<u8>(o + 1, 4);
    store<u8>(o + 2, load<u8>(r + 16));
    store<u8>(o + 3, load<u8>(r + 17));
    store<u32>(o + 4, bswap<u32>(load<u32>(r + 20)));
    store<u32>(o + 8, bswap<u32>(load<u32>(r + 24)));
    store<u32>(o + 12, 0);
    in6_copy(o + 16, r);
    o += 32;
  }
  n.ndi_adv_last = ticks();
  ND6STAT_INC(ND6S_RAOUT);
  nd6_rtr_send(ifp, m, icmplen, ND_ROUTER_ADVERT);
}

/** Fire the RA callout in delay us (forward: only if that is sooner than it would). */
function ra_schedule(p: usize, delay: u64, force: bool): void {
  const at = ticks() + delay;
  if (!force && ndi(p).ndi_ra_at != 0 && ndi(p).ndi_ra_at <= at) return;
  ndi(p).ndi_ra_at = at;
  callout_reset(p + NDI_RA_CALLOUT, delay, ra_timer.index, p);
}

/** Periodic advertisement (RFC 4861 6.2.4): the next one at a random interval. */
function ra_timer(p: usize): void {
  const n = ndi(p);
  n.ndi_ra_at = 0;
  if ((n.ndi_flags & ND6_IFF_ADVERTISE) == 0) return;
  nd6_ra_output(p, n.ndi_lifetime);
  n.ndi_adv_count++;
  const lo = <u64>n.ndi_minint * 1_000_000;
  let next = lo + <u64>arc4random_uniform(<u32>(<u64>n.ndi_maxint * 1_000_000 - lo) + 1);
  if (n.ndi_adv_count < MAX_INITIAL_RTR_ADVERTISEMENTS && next > MAX_INITIAL_RTR_ADVERT_INTERVAL_US) next = MAX_INITIAL_RTR_ADVERT_INTERVAL_US;
  ra_schedule(p, next, true);
}

// ---------------------------------------------------------------------------------------
// Input (icmp6_input hands RS/RA over: m at the IPv6 header, the message contiguous at off,
// checksum verified; m is consumed)

@inline function bad(m: usize, why: u32): void {
  ICMP6STAT_INC(why);
  m_freem(m);
}

/** A router solicitation (RFC 4861 6.1.1, 6.2.6): hosts discard them; a router answers with an RA. */
export function nd6_rs_input(ifp: usize, m: usize, off: u32, icmplen: u32): void {
  const p = ndi_lookup(ifp);
  if (p == 0 || (ndi(p).ndi_flags & ND6_IFF_ADVERTISE) == 0) {
    m_freem(m);
    return;
  }
  const ip = mtod(m);
  const icp = ip + off;
  if (ip6_hlim(ip) != 255) return bad(m, ICP6S_NDHLIM);
  if (load<u8>(icp + 1) != 0 || icmplen < ND_RS_LEN) return bad(m, ICP6S_BADRS);
  const sll = nd6_options(icp + ND_RS_LEN, icmplen - ND_RS_LEN, ND_OPT_SOURCE_LINKADDR);
  if (sll == 1) return bad(m, ICP6S_BADRS);
  const unspec = IN6_IS_ADDR_UNSPECIFIED(ip + IP6_SRC);
  if (unspec && sll != 0) return bad(m, ICP6S_BADRS); // 6.1.1: from :: never with a link-layer option
  ND6STAT_INC(ND6S_RSIN);
  if (sll != 0) {
    in6_copy(abuf, ip + IP6_SRC);
    memory.copy(llbuf, sll, 6);
    m_freem(m);
    nd6_cache_lladdr(ifp, abuf, llbuf, false);
  } else m_freem(m);
  // 6.2.6: a multicast answer after a random delay, never sooner than MIN_DELAY_BETWEEN_RAS after the last.
  const now = ticks();
  let at = now + <u64>arc4random_uniform(MAX_RA_DELAY_TIME_US);
  const n = ndi(p);
  if (n.ndi_adv_last != 0 && at < n.ndi_adv_last + MIN_DELAY_BETWEEN_RAS_US) at = n.ndi_adv_last + MIN_DELAY_BETWEEN_RAS_US;
  ra_schedule(p, at - now, false);
}

/**
 * A router advertisement (RFC 4861 6.1.2 checks, 6.3.4 processing; RFC 4862 5.5.3 for its
 * prefixes). Every malformed one is counted in badra (FreeBSD counts a bad code or a short
 * message under badcode and badlen; one counter here says what an RA did wrong).
 */
export function nd6_ra_input(ifp: usize, m: usize, off: u32, icmplen: u32): void {
  const ip = mtod(m);
  const icp = ip + off;
  if (ip6_hlim(ip) != 255 || !IN6_IS_ADDR_LINKLOCAL(ip + IP6_SRC) || load<u8>(icp + 1) != 0 || icmplen < ND_RA_LEN) {
    return bad(m, ICP6S_BADRA);
  }
  const opt = icp + ND_RA_LEN;
  const olen = icmplen - ND_RA_LEN;
  const sll = nd6_options(opt, olen, ND_OPT_SOURCE_LINKADDR);
  if (sll == 1) return bad(m, ICP6S_BADRA);
  let p = ndi_lookup(ifp);
  if (p == 0 && V6().accept_rtadv != 0) p = ndi_get(ifp);
  if (!accepts_ra(p) || !ifrunning(ifp)) {
    m_freem(m);
    return;
  }
  ND6STAT_INC(ND6S_RAIN);
  callout_stop(p + NDI_RS_CALLOUT); // a router answered: no more solicitations
  // Processing adds addresses and sends (DAD probes, packets that waited for the router's
  // MAC); nothing it sends comes back as an RA at once, so m is read in place and freed last.
  in6_copy(abuf, ip + IP6_SRC);
  if (sll != 0) {
    memory.copy(llbuf, sll, 6);
    nd6_cache_lladdr(ifp, abuf, llbuf, true);
  }
  const now = ticks();
  defrouter_update(ifp, abuf, <u32>bswap<u16>(load<u16>(icp + ND_RA_ROUTER_LIFETIME)), now);
  let o: u32 = 0;
  while (o + 2 <= olen) {
    const t = load<u8>(opt + o);
    const len = <u32>load<u8>(opt + o + 1) << 3; // nd6_options checked: non-zero, inside
    if (len == 0 || o + len > olen) break; // never reached after that check; a loop never spins on it
    if (t == ND_OPT_MTU && len == 8) {
      const mtu = bswap<u32>(load<u32>(opt + o + 4));
      // 6.3.4: at least the IPv6 minimum and at most the link's; anything else is ignored.
      if (mtu >= 1280 && mtu <= changetype<Ifnet>(ifp).if_mtu) {
        if (ndi(p).ndi_linkmtu == 0) V6().ndi_mtu++;
        ndi(p).ndi_linkmtu = mtu;
      }
    } else if (t == ND_OPT_PREFIX_INFORMATION && len == 32) {
      prelist_update(ifp, opt + o, now);
    }
    o += len;
  }
  m_freem(m);
}

// ---------------------------------------------------------------------------------------
// Default router list (RFC 4861 6.3.4, 6.3.5)

const zero6 = memory.data(16, 8);

function dr_lookup(ifp: usize, a: usize): usize {
  for (let p = V6().dr_head; p != 0; p = dr(p).dr_next) if (dr(p).dr_ifp == ifp && in6_eq(dr_addr(p), a)) return p;
  return 0;
}

function defrouter_update(ifp: usize, a: usize, lifetime: u32, now: u64): void {
  let p = dr_lookup(ifp, a);
  if (lifetime == 0) {
    if (p != 0) dr_free(p); // 6.3.4: a router lifetime of 0 takes it off the list at once
    return;
  }
  if (p == 0) {
    if (V6().dr_count >= ND6_MAXDEFROUTERS) {
      ND6STAT_INC(ND6S_RTRFULL);
      return;
    }
    p = zone_alloc(Inet6Globals.drZone);
    if (p == 0) return;
    dr(p).dr_ifp = ifp;
    in6_copy(dr_addr(p), a);
    callout_init(p + DR_CALLOUT);
    // Tail of the list: the first router heard stays the one the default route uses.
    dr(p).dr_next = 0;
    const vv = V6();
    if (vv.dr_head == 0) vv.dr_head = p;
    else {
      let q = vv.dr_head;
      while (dr(q).dr_next != 0) q = dr(q).dr_next;
      dr(q).dr_next = p;
    }
    vv.dr_count++;
  }
  dr(p).dr_expire = now + <u64>lifetime * 1_000_000;
  callout_reset(p + DR_CALLOUT, <u64>lifetime * 1_000_000, dr_timer.index, p);
  defrouter_select();
}

/** While the vnet has no default route, one via the first listed router (a route set by hand stays). */
function defrouter_select(): void {
  if (rt6_find(zero6, 0, 0) != 0) return;
  const p = V6().dr_head;
  if (p != 0) rt6_insert(zero6, 0, dr_addr(p), dr(p).dr_ifp, 0, 0);
}

function dr_timer(p: usize): void {
  dr_free(p);
}

/** Take router p off the list; the default route via it goes, and another listed router's comes in. */
function dr_free(p: usize): void {
  callout_stop(p + DR_CALLOUT);
  const vv = V6();
  if (vv.dr_head == p) vv.dr_head = dr(p).dr_next;
  else {
    for (let q = vv.dr_head; q != 0; q = dr(q).dr_next) {
      if (dr(q).dr_next == p) {
        dr(q).dr_next = dr(p).dr_next;
        break;
      }
    }
  }
  vv.dr_count--;
  const r = rt6_find(zero6, 0, 0);
  if (r != 0) {
    const rr = changetype<Rt6entry>(r);
    if ((rr.rt_flags & RTF_STATIC) == 0 && rr.rt_ifp == dr(p).dr_ifp && in6_eq(rt6_gw(r), dr_addr(p))) rt6_remove(r);
  }
  zone_free(Inet6Globals.drZone, p);
  defrouter_select();
}

// ---------------------------------------------------------------------------------------
// Prefix list and SLAAC (RFC 4861 6.3.4, RFC 4862 5.5.3, 5.5.4)

const pfxbuf = memory.data(16, 8);

function pr_lookup(ifp: usize, a: usize, plen: u32): usize {
  for (let p = V6().pr_head; p != 0; p = pr(p).pr_next) {
    if (pr(p).pr_ifp == ifp && pr(p).pr_plen == plen && in6_eq(pr_prefix(p), a)) return p;
  }
  return 0;
}

/** The prefix's on-link route: ours while it is on-link and no address of ifp holds one. */
function pr_route_sync(p: usize): void {
  const x = pr(p);
  const r = rt6_find(pr_prefix(p), x.pr_plen, x.pr_ifp);
  if ((x.pr_flags & PR_ONLINK) != 0) {
    if (r == 0 && rt6_insert(pr_prefix(p), x.pr_plen, 0, x.pr_ifp, 0, RTF_PINNED) == 0) x.pr_flags |= PR_ROUTE;
    return;
  }
  if ((x.pr_flags & PR_ROUTE) == 0) return;
  x.pr_flags &= ~PR_ROUTE;
  if (r == 0 || changetype<Rt6entry>(r).rt_ifa != 0) return;
  rt6_remove(r);
  // An address of the prefix put in by hand keeps its prefix routed (as in6.ts does when one goes).
  for (let q = in6_ifaddr_first(x.pr_ifp); q != 0; q = ia(q).ia_ifnext) {
    if (ia(q).ia_plen == x.pr_plen && in6_eq(q + offsetof<In6Ifaddr>("ia_prefix0"), pr_prefix(p))) {
      rt6_insert(pr_prefix(p), x.pr_plen, 0, x.pr_ifp, q, RTF_PINNED);
      break;
    }
  }
}

/** One prefix information option (32 bytes at o) from an RA on ifp. */
function prelist_update(ifp: usize, o: usize, now: u64): void {
  const plen = <u32>load<u8>(o + 2);
  const flags = <u32>load<u8>(o + 3);
  const vltime = bswap<u32>(load<u32>(o + 4));
  const pltime = bswap<u32>(load<u32>(o + 8));
  if (plen > 128 || (flags & (ND_OPT_PI_FLAG_ONLINK | ND_OPT_PI_FLAG_AUTO)) == 0) return;
  in6_copy(pfxbuf, o + 16);
  in6_mask(pfxbuf, plen);
  // 6.3.4 and 5.5.3 a, c: never the link-local prefix; a preferred lifetime past the valid one is refused.
  if (IN6_IS_ADDR_LINKLOCAL(pfxbuf) || IN6_IS_ADDR_MULTICAST(pfxbuf) || pltime > vltime) return;
  let p = pr_lookup(ifp, pfxbuf, plen);
  if (p == 0) {
    if (vltime == 0) return;
    if (V6().pr_count >= ND6_MAXPREFIXES) {
      ND6STAT_INC(ND6S_RTRFULL);
      return;
    }
    p = zone_alloc(Inet6Globals.prZone);
    if (p == 0) return;
    const x = pr(p);
    x.pr_ifp = ifp;
    x.pr_ia = 0;
    x.pr_plen = plen;
    x.pr_flags = 0;
    x.pr_vexpire = 0;
    x.pr_pexpire = 0;
    in6_copy(pr_prefix(p), pfxbuf);
    callout_init(p + PR_CALLOUT);
    x.pr_next = V6().pr_head;
    V6().pr_head = p;
    V6().pr_count++;
  }
  const x = pr(p);
  x.pr_pexpire = expiry(now, pltime);
  // The address first: its prefix route is then its own, not the prefix list's.
  if ((flags & ND_OPT_PI_FLAG_AUTO) != 0) {
    x.pr_flags |= PR_AUTO;
    slaac_update(p, vltime, pltime, now);
  }
  if ((flags & ND_OPT_PI_FLAG_ONLINK) != 0) {
    x.pr_flags |= PR_ONLINK;
    x.pr_vexpire = vltime == 0 ? now : expiry(now, vltime); // 0: on-link no more (the timer runs at once)
    pr_route_sync(p);
  }
  // Neither on-link nor the source of an address (A on a prefix that is not a /64): nothing to keep.
  if ((x.pr_flags & PR_ONLINK) == 0 && x.pr_ia == 0) {
    pr_free(p);
    return;
  }
  pr_schedule(p);
}


/** RFC 4862 5.5.3 d, e: form the prefix's address, or renew its lifetimes. */
function slaac_update(p: usize, vltime: u32, pltime: u32, now: u64): void {
  const x = pr(p);
  // d: the interface identifier is 64 bits on Ethernet (RFC 2464 4), so only /64 prefixes form addresses.
  if (x.pr_plen != 64) return;
  let a = x.pr_ia;
  if (a == 0) {
    if (vltime == 0) return;
    in6_copy(abuf, pr_prefix(p));
    in6_eui64_iid(abuf, if_lladdr(x.pr_ifp)); // after the /64
    if (in6ifa_ifpwithaddr(x.pr_ifp, abuf) != 0) return; // configured by hand: not ours to age
    if (in6_control_add(x.pr_ifp, abuf, 64, IN6_IFF_AUTOCONF, 1 + <u64>arc4random_uniform(SLAAC_DAD_DELAY_US)) != 0) return;
    a = in6ifa_ifpwithaddr(x.pr_ifp, abuf);
    if (a == 0) return;
    x.pr_ia = a;
    ia(a).ia_vexpire = expiry(now, vltime);
  } else {
    // e: a valid lifetime over two hours, or past the remaining one, is taken; else the
    // remaining one stands if it is two hours or less, and becomes two hours if it is more.
    const left: u64 = ia(a).ia_vexpire == 0 ? u64.MAX_VALUE : (ia(a).ia_vexpire > now ? ia(a).ia_vexpire - now : 0);
    const want: u64 = vltime == INFINITY ? u64.MAX_VALUE : <u64>vltime * 1_000_000;
    if (want > TWO_HOURS_US || want > left) ia(a).ia_vexpire = expiry(now, vltime);
    else if (left > TWO_HOURS_US) ia(a).ia_vexpire = now + TWO_HOURS_US;
  }
  ia(a).ia_pexpire = pltime == 0 ? now : expiry(now, pltime);
  if (pltime != 0) ia(a).ia_flags &= ~IN6_IFF_DEPRECATED;
  else ia(a).ia_flags |= IN6_IFF_DEPRECATED;
}

/** The prefix's callout at its next deadline: its on-link end, its address's deprecation or end. */
function pr_schedule(p: usize): void {
  const x = pr(p);
  let next: u64 = u64.MAX_VALUE;
  if ((x.pr_flags & PR_ONLINK) != 0 && x.pr_vexpire != 0) next = x.pr_vexpire;
  const a = x.pr_ia;
  if (a != 0) {
    if ((ia(a).ia_flags & IN6_IFF_DEPRECATED) == 0 && ia(a).ia_pexpire != 0 && ia(a).ia_pexpire < next) next = ia(a).ia_pexpire;
    if (ia(a).ia_vexpire != 0 && ia(a).ia_vexpire < next) next = ia(a).ia_vexpire;
  }
  if (next == u64.MAX_VALUE) {
    callout_stop(p + PR_CALLOUT);
    return;
  }
  const now = ticks();
  callout_reset(p + PR_CALLOUT, next > now ? next - now : 0, pr_timer.index, p);
}

function pr_timer(p: usize): void {
  const x = pr(p);
  const now = ticks();
  const a = x.pr_ia;
  if (a != 0) {
    if (ia(a).ia_pexpire != 0 && now >= ia(a).ia_pexpire) ia(a).ia_flags |= IN6_IFF_DEPRECATED; // 5.5.4
    if (ia(a).ia_vexpire != 0 && now >= ia(a).ia_vexpire) {
      x.pr_ia = 0; // before the delete, so nd6_rtr_ia_gone leaves p alone
      in6_copy(abuf, ia6_addr(a));
      in6_control_del(x.pr_ifp, abuf);
    }
  }
  if ((x.pr_flags & PR_ONLINK) != 0 && x.pr_vexpire != 0 && now >= x.pr_vexpire) x.pr_flags &= ~PR_ONLINK;
  pr_route_sync(p);
  if ((x.pr_flags & PR_ONLINK) == 0 && x.pr_ia == 0) pr_free(p);
  else pr_schedule(p);
}

function pr_free(p: usize): void {
  callout_stop(p + PR_CALLOUT);
  const vv = V6();
  if (vv.pr_head == p) vv.pr_head = pr(p).pr_next;
  else {
    for (let q = vv.pr_head; q != 0; q = pr(q).pr_next) {
      if (pr(q).pr_next == p) {
        pr(q).pr_next = pr(p).pr_next;
        break;
      }
    }
  }
  vv.pr_count--;
  zone_free(Inet6Globals.prZone, p);
}

/** in6.ts: address a is going (deleted by hand): the prefix that made it forgets it, or goes. */
export function nd6_rtr_ia_gone(a: usize): void {
  for (let p = V6().pr_head; p != 0; p = pr(p).pr_next) {
    if (pr(p).pr_ia != a) continue;
    pr(p).pr_ia = 0;
    if ((pr(p).pr_flags & PR_ONLINK) == 0) pr_free(p);
    else {
      pr_route_sync(p);
      pr_schedule(p);
    }
    return;
  }
}

// ---------------------------------------------------------------------------------------
// Teardown

/** ifp leaves the vnet (or the vnet goes): its routers, prefixes and state go first, then in6.ts takes its addresses. */
export function nd6_rtr_ifdetach(ifp: usize): void {
  let p = V6().pr_head;
  while (p != 0) {
    const next = pr(p).pr_next;
    if (pr(p).pr_ifp == ifp) pr_free(p); // its address and route go with the interface's
    p = next;
  }
  p = V6().dr_head;
  while (p != 0) {
    const next = dr(p).dr_next;
    if (dr(p).dr_ifp == ifp) dr_free(p);
    p = next;
  }
  const n = ndi_lookup(ifp);
  if (n != 0) ndi_free(n);
}

/** Vnet uninit, after every interface detached: anything left goes (nothing should be). */
export function nd6_rtr_flush_all(): void {
  while (V6().pr_head != 0) pr_free(V6().pr_head);
  while (V6().dr_head != 0) dr_free(V6().dr_head);
  while (V6().ndi_head != 0) ndi_free(V6().ndi_head);
}

// ---------------------------------------------------------------------------------------
// Configuration and the host's view

/** True when addresses added on ifp skip DAD (ifconfig IF inet6 no_dad). */
export function nd6_no_dad(ifp: usize): bool {
  const p = ndi_lookup(ifp);
  return p != 0 && (ndi(p).ndi_flags & ND6_IFF_NO_DAD) != 0;
}

/**
 * ifconfig IF inet6 [-]accept_rtadv (flag ND6_IFF_ACCEPT_RTADV) or [-]no_dad
 * (ND6_IFF_NO_DAD). 0 or -errno. Turning accept_rtadv on while up solicits at once.
 */
export function nd6_set_flag(ifp: usize, flag: u32, on: bool): i32 {
  if (flag != ND6_IFF_ACCEPT_RTADV && flag != ND6_IFF_NO_DAD) return -22;
  const p = ndi_get(ifp);
  if (p == 0) return -12;
  if (flag == ND6_IFF_NO_DAD) {
    if (on) ndi(p).ndi_flags |= ND6_IFF_NO_DAD;
    else ndi(p).ndi_flags &= ~ND6_IFF_NO_DAD;
    return 0;
  }
  if (on) {
    const was = (ndi(p).ndi_flags & ND6_IFF_ACCEPT_RTADV) != 0;
    ndi(p).ndi_flags |= ND6_IFF_ACCEPT_RTADV;
    if (!was && accepts_ra(p) && ifrunning(ifp)) rs_start(p);
  } else {
    ndi(p).ndi_flags &= ~ND6_IFF_ACCEPT_RTADV;
    callout_stop(p + NDI_RS_CALLOUT); // what was learned stays until its lifetimes end, as FreeBSD
  }
  return 0;
}

/**
 * Advertise on ifp (on = 1) with npfx prefix records at recs (ND6_ADV_PFX_REC bytes each)
 * and the given intervals, router lifetime, MTU option (0: none) and hop limit; or stop
 * (on = 0: a last RA with router lifetime 0, RFC 4861 6.2.5). 0 or -errno.
 */
export function nd6_set_advertise(ifp: usize, on: bool, recs: usize, npfx: u32, maxint: u32, minint: u32, lifetime: u32, mtu: u32, hlim: u32): i32 {
  if (on) {
    // RFC 4861 6.2.1's ranges.
    if (npfx > ND6_ADV_PREFIX_MAX || maxint < 4 || maxint > 1800 || minint < 3 || minint * 4 > maxint * 3 || hlim > 255) return -22;
    if (lifetime != 0 && (lifetime < maxint || lifetime > 9000)) return -22;
    if (mtu != 0 && (mtu < 1280 || mtu > changetype<Ifnet>(ifp).if_mtu)) return -22;
    for (let i: u32 = 0; i < npfx; i++) {
      const r = recs + i * ND6_ADV_PFX_REC;
      if (load<u8>(r + 16) > 128 || IN6_IS_ADDR_LINKLOCAL(r) || IN6_IS_ADDR_MULTICAST(r) || load<u32>(r + 24) > load<u32>(r + 20)) return -22;
    }
  }
  const p = on ? ndi_get(ifp) : ndi_lookup(ifp);
  if (p == 0) return on ? -12 : 0;
  const n = ndi(p);
  if (!on) {
    if ((n.ndi_flags & ND6_IFF_ADVERTISE) != 0) nd6_ra_output(p, 0);
    n.ndi_flags &= ~ND6_IFF_ADVERTISE;
    callout_stop(p + NDI_RA_CALLOUT);
    n.ndi_ra_at = 0;
    return 0;
  }
  memory.copy(p + NDI_PFX, recs, npfx * ND6_ADV_PFX_REC);
  n.ndi_npfx = npfx;
  n.ndi_maxint = maxint;
  n.ndi_minint = minint;
  n.ndi_lifetime = lifetime;
  n.ndi_advmtu = mtu;
  n.ndi_hlim = hlim;
  const was = (n.ndi_flags & ND6_IFF_ADVERTISE) != 0;
  n.ndi_flags |= ND6_IFF_ADVERTISE;
  callout_stop(p + NDI_RS_CALLOUT);
  if (!was) n.ndi_adv_count = 0;
  // A changed configuration goes out soon (6.2.4 allows it), within the RS answer delay.
  if (ifrunning(ifp)) ra_schedule(p, <u64>arc4random_uniform(MAX_RA_DELAY_TIME_US), true);
  return 0;
}

/** ifp's flags, link MTU, solicitations and advertisements sent, into o (16 bytes); false when it has no state. */
export function nd6_ifinfo_record(ifp: usize, o: usize): bool {
  const p = ndi_lookup(ifp);
  if (p == 0) return false;
  store<u32>(o, ndi(p).ndi_flags);
  store<u32>(o, ndi(p).ndi_linkmtu, 4);
  store<u32>(o, ndi(p).ndi_rs_count, 8);
  store<u32>(o, ndi(p).ndi_adv_count, 12);
  return true;
}

// ndp -r records, 32 bytes: 0 address (16), 16 ifp, 20 spare, 24 expiry (kernel us, f64).
export const DR_REC: u32 = 32;

export function nd6_dr_fill(buf: usize, max: u32): u32 {
  let n: u32 = 0;
  for (let p = V6().dr_head; p != 0 && n < max; p = dr(p).dr_next) {
    const o = buf + n * DR_REC;
    in6_copy(o, dr_addr(p));
    store<u32>(o, <u32>dr(p).dr_ifp, 16);
    store<u32>(o, 0, 20);
    store<f64>(o, <f64>dr(p).dr_expire, 24);
    n++;
  }
  return n;
}

// ndp -p records, 48 bytes: 0 prefix (16), 16 plen, 20 ifp, 24 flags (PR_*), 28 has an
// address, 32 on-link end (f64, 0 never), 40 preferred end (f64, 0 never).
export const PR_REC: u32 = 48;

export function nd6_pr_fill(buf: usize, max: u32): u32 {
  let n: u32 = 0;
  for (let p = V6().pr_head; p != 0 && n < max; p = pr(p).pr_next) {
    const o = buf + n * PR_REC;
    const x = pr(p);
    in6_copy(o, pr_prefix(p));
    store<u32>(o, x.pr_plen, 16);
    store<u32>(o, <u32>x.pr_ifp, 20);
    store<u32>(o, x.pr_flags, 24);
    store<u32>(o, x.pr_ia != 0 ? 1 : 0, 28);
    store<f64>(o, <f64>x.pr_vexpire, 32);
    store<f64>(o, <f64>x.pr_pexpire, 40);
    n++;
  }
  return n;
}

