// MLD, the listener side (RFC 3810 MLDv2; RFC 2710 MLDv1 queries answered in kind;
// FreeBSD netinet6/mld6.c): an interface tells the routers of its link which groups it
// listens to, so a router (or a snooping bridge, modules/if_bridge) sends a group's
// traffic only where someone listens.
//
// Groups: one In6Multi per (interface, group) in the "in6_multi" zone, on the vnet's list,
// with a reference count: in6.ts joins the solicited-node group of every address it adds
// to an Ethernet interface and leaves it when the address goes, so two addresses that
// share a solicited-node group join it once. ff02::1 is never listed nor reported
// (RFC 3810 6: all-nodes is joined by every node and never reported); in6_ismember still
// answers for it, all-routers and the solicited-node groups on its own.
//
// Reports (type 143) go to ff02::16 (all MLDv2-capable routers) with hop limit 1 and a
// Router Alert hop-by-hop option (RFC 3810 5, RFC 2711), from the interface's link-local
// address, or from :: while that is still tentative (RFC 3810 5.2.13: during DAD), one
// multicast address record each with no sources (any-source listening: EXCLUDE {}):
//   join          CHANGE_TO_EXCLUDE_MODE {}, sent at once and again after a random wait of
//                 up to the Unsolicited Report Interval (1 s) until [Robustness Variable]
//                 (2) reports went out (RFC 3810 6.1);
//   leave         CHANGE_TO_INCLUDE_MODE {} the same way; the group is freed after the last;
//   answer        MODE_IS_EXCLUDE {} after a random wait of up to the query's Maximum
//                 Response Delay (RFC 3810 6.2); a general query schedules every group of
//                 the interface, a group-specific one that group; an answer already due
//                 sooner stays. An MLDv1 query is answered by an MLDv1 report (type 131)
//                 sent to the group (RFC 2710 4; no compatibility-mode timer: state
//                 changes stay MLDv2).
// Queries count only from a link-local source with hop limit 1 and a Router Alert
// (RFC 3810 5.1.14, 6.2); anything else is dropped and counted in mldstat (ip6_var.ts).
// Reports from other listeners are counted and ignored (MLDv2 listeners never suppress).
//
// Timers are the group's two callouts; an interface leaving the vnet (and the vnet going)
// frees its groups silently (mld_ifdetach), a group's callouts stopped first.

import { zone_alloc, zone_free, callout_init, callout_reset, callout_stop, callout_active, callout_time, ticks,
  arc4random_uniform, m_gethdr, m_freem, in_cksum, in6_pseudo, ether_output } from "../kmod/kapi";
import { Ifnet, IFT_ETHER, IFF_UP, IFF_RUNNING, IFF_LOOPBACK, ETHERTYPE_IPV6 } from "../sys/if";
import { Mbuf, MT_DATA, mtod } from "../sys/mbuf";
import {
  IP6_HDR_LEN, IP6_SRC, IP6_DST, IPPROTO_HOPOPTS, IPPROTO_ICMPV6, in6_copy, in6_eq, in6_zero, in6_mcast_mac, ip6_fill, ip6_nxt,
  ip6_hlim, IN6_IS_ADDR_LINKLOCAL, IN6_IS_ADDR_MULTICAST, IN6_IS_ADDR_UNSPECIFIED, IN6_IS_ALLNODES_LL, IN6_MC_SCOPE,
  IPV6_SCOPE_INTFACELOCAL, ICMP6_CKSUM,
} from "../sys/in6";
import {
  In6Multi, INM_SC_CALLOUT, INM_Q_CALLOUT, inm_addr, Inet6Globals, V6, MLDSTAT_INC, MLDS_RCV_TOTAL, MLDS_RCV_TOOSHORT,
  MLDS_RCV_BADTTL, MLDS_RCV_NORA, MLDS_RCV_V1_QUERIES, MLDS_RCV_V2_QUERIES, MLDS_RCV_BADQUERIES, MLDS_RCV_GEN_QUERIES,
  MLDS_RCV_GROUP_QUERIES, MLDS_RCV_REPORTS, MLDS_RCV_BADREPORTS, MLDS_SND_REPORTS, MLDS_SND_LEAVES, ICMP6STAT_INC,
  ICP6S_OUTHIST, icmp6_hist, IP6STAT_INC, IP6S_LOCALOUT, IP6S_ODROPPED, MAX_LINKHDR, ia6_addr, In6Ifaddr,
  IN6_IFF_TENTATIVE, IN6_IFF_DUPLICATED,
} from "./ip6_var";

// Message types (RFC 2710 3, RFC 3810 5)
export const MLD_LISTENER_QUERY: u8 = 130;
export const MLD_LISTENER_REPORT: u8 = 131; // MLDv1
export const MLD_LISTENER_DONE: u8 = 132; // MLDv1
export const MLDV2_LISTENER_REPORT: u8 = 143;
// Multicast address record types (RFC 3810 5.2.12)
export const MLD_MODE_IS_EXCLUDE: u8 = 2;
export const MLD_CHANGE_TO_INCLUDE: u8 = 3;
export const MLD_CHANGE_TO_EXCLUDE: u8 = 4;

export const MLD_ROBUSTNESS: u32 = 2; // RFC 3810 9.1 [Robustness Variable]
export const MLD_UNSOL_INTERVAL_US: u64 = 1_000_000; // RFC 3810 9.11 [Unsolicited Report Interval]
const MLD_V1_LEN: u32 = 24; // an MLDv1 message (RFC 2710 3)
const MLD_V2Q_LEN: u32 = 28; // an MLDv2 query without sources (RFC 3810 5.1)
const MLD_HBH_LEN: u32 = 8; // the hop-by-hop header: next header, length 0, Router Alert (4), PadN (2)

const allrouters2 = memory.data<u8>([0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x16]); // ff02::16
const srcbuf = memory.data(16, 8);
const dstbuf = memory.data(16, 8);
const macbuf = memory.data(8, 4);

@inline function inm(p: usize): In6Multi {
  return changetype<In6Multi>(p);
}

/** The group g of ifp (leaving ones too), or 0. */
export function in6m_lookup(ifp: usize, g: usize): usize {
  for (let p = V6().inm_head; p != 0; p = inm(p).inm_next) if (inm(p).inm_ifp == ifp && in6_eq(inm_addr(p), g)) return p;
  return 0;
}

/** True when g is reported at all: never ff02::1 nor an interface-local group (RFC 3810 6). */
@inline function reportable(g: usize): bool {
  return !IN6_IS_ALLNODES_LL(g) && IN6_MC_SCOPE(g) > IPV6_SCOPE_INTFACELOCAL;
}

@inline function ifrunning(ifp: usize): bool {
  const ii = changetype<Ifnet>(ifp);
  return ii.if_type == IFT_ETHER && (ii.if_flags & (IFF_UP | IFF_RUNNING | IFF_LOOPBACK)) == (IFF_UP | IFF_RUNNING);
}

/**
 * Send one report about group g on ifp: an MLDv2 report with one record of type rtype, or
 * (v1) an MLDv1 report to the group. Counted; nothing when ifp is not up.
 */
function mld_send(ifp: usize, g: usize, rtype: u8, v1: bool): void {
  if (!ifrunning(ifp)) return;
  // RFC 3810 5.2.13: the link-local address, or :: while it is not yet valid (DAD).
  in6_zero(srcbuf);
  for (let a = changetype<Ifnet>(ifp).if_afdata1; a != 0; a = changetype<In6Ifaddr>(a).ia_ifnext) {
    if (IN6_IS_ADDR_LINKLOCAL(ia6_addr(a)) && (changetype<In6Ifaddr>(a).ia_flags & (IN6_IFF_TENTATIVE | IN6_IFF_DUPLICATED)) == 0) {
      in6_copy(srcbuf, ia6_addr(a));
      break;
    }
  }
  in6_copy(dstbuf, v1 ? g : allrouters2);
  const m = m_gethdr(MT_DATA);
  if (m == 0) {
    IP6STAT_INC(IP6S_ODROPPED);
    return;
  }
  const mm = changetype<Mbuf>(m);
  const icmplen: u32 = v1 ? MLD_V1_LEN : 8 + 20;
  mm.m_data += MAX_LINKHDR;
  mm.m_len = <i32>(IP6_HDR_LEN + MLD_HBH_LEN + icmplen);
  mm.ph_len = mm.m_len;
  const ip = mtod(m);
  ip6_fill(ip, MLD_HBH_LEN + icmplen, IPPROTO_HOPOPTS, 1, srcbuf, dstbuf);
  const h = ip + IP6_HDR_LEN;
  store<u8>(h, IPPROTO_ICMPV6);
  store<u8>(h + 1, 0);
  store<u32>(h + 2, 0x00000205); // Router Alert (type 5, length 2), value 0: MLD (RFC 2711)
  store<u16>(h + 6, 0x0001); // PadN, length 0
  const icp = h + MLD_HBH_LEN;
  memory.fill(icp, 0, icmplen);
  const type = v1 ? MLD_LISTENER_REPORT : MLDV2_LISTENER_REPORT;
  store<u8>(icp, type);
  if (v1) in6_copy(icp + 8, g);
  else {
    store<u16>(icp + 6, bswap<u16>(1)); // one record
    store<u8>(icp + 8, rtype);
    in6_copy(icp + 12, g); // aux data length 0, no sources
  }
  const init = in6_pseudo(ip + IP6_SRC, ip + IP6_DST, IPPROTO_ICMPV6, icmplen);
  store<u16>(icp + ICMP6_CKSUM, bswap<u16>(<u16>in_cksum(m, <i32>(IP6_HDR_LEN + MLD_HBH_LEN), <i32>icmplen, init)));
  MLDSTAT_INC(MLDS_SND_REPORTS);
  if (rtype == MLD_CHANGE_TO_INCLUDE) MLDSTAT_INC(MLDS_SND_LEAVES);
  ICMP6STAT_INC(ICP6S_OUTHIST + icmp6_hist(type));
  IP6STAT_INC(IP6S_LOCALOUT);
  in6_mcast_mac(macbuf, dstbuf);
  if (ether_output(ifp, m, macbuf, ETHERTYPE_IPV6) != 0) IP6STAT_INC(IP6S_ODROPPED);
}

function in6m_free(p: usize): void {
  callout_stop(p + INM_SC_CALLOUT);
  callout_stop(p + INM_Q_CALLOUT);
  const vv = V6();
  if (vv.inm_head == p) vv.inm_head = inm(p).inm_next;
  else {
    for (let q = vv.inm_head; q != 0; q = inm(q).inm_next) {
      if (inm(q).inm_next == p) {
        inm(q).inm_next = inm(p).inm_next;
        break;
      }
    }
  }
  vv.inm_count--;
  zone_free(Inet6Globals.inmZone, p);
}

/** The state-change callout: the next report of the pending change; a finished leave frees the group. */
function mld_sc_timer(p: usize): void {
  const x = inm(p);
  if (x.inm_scrv == 0) return;
  mld_send(x.inm_ifp, inm_addr(p), <u8>x.inm_sctype, false);
  x.inm_scrv--;
  if (x.inm_scrv > 0) callout_reset(p + INM_SC_CALLOUT, mld_random(MLD_UNSOL_INTERVAL_US), mld_sc_timer.index, p);
  else if (x.inm_refcount == 0) in6m_free(p);
}

/** A wait in [0, max] microseconds. */
function mld_random(max: u64): u64 {
  if (max == 0) return 0;
  return <u64>arc4random_uniform(<u32>min<u64>(max + 1, 0xffffffff));
}

/** Start a state change of g (rtype): the first report now, the rest from the callout (RFC 3810 6.1). */
function mld_state_change(p: usize, rtype: u8): void {
  const x = inm(p);
  x.inm_sctype = rtype;
  x.inm_scrv = MLD_ROBUSTNESS;
  callout_stop(p + INM_SC_CALLOUT);
  if (!ifrunning(x.inm_ifp)) {
    x.inm_scrv = 0; // a later EVENT_IFNET_UP reports what is joined (mld_ifup)
    if (x.inm_refcount == 0) in6m_free(p);
    return;
  }
  mld_sc_timer(p);
}

/** Join group g on ifp (one more reference). 0 or -ENOMEM. */
export function mld_join(ifp: usize, g: usize): i32 {
  let p = in6m_lookup(ifp, g);
  if (p != 0) {
    const x = inm(p);
    x.inm_refcount++;
    // Rejoined while its leave was going out: the leave is replaced by a join.
    if (x.inm_refcount == 1 && reportable(g)) mld_state_change(p, MLD_CHANGE_TO_EXCLUDE);
    return 0;
  }
  p = zone_alloc(Inet6Globals.inmZone);
  if (p == 0) return -12;
  const x = inm(p);
  x.inm_ifp = ifp;
  x.inm_refcount = 1;
  x.inm_scrv = 0;
  x.inm_sctype = 0;
  x.inm_qver = 0;
  in6_copy(inm_addr(p), g);
  callout_init(p + INM_SC_CALLOUT);
  callout_init(p + INM_Q_CALLOUT);
  const vv = V6();
  x.inm_next = vv.inm_head;
  vv.inm_head = p;
  vv.inm_count++;
  if (reportable(g)) mld_state_change(p, MLD_CHANGE_TO_EXCLUDE);
  return 0;
}

/** Drop one reference to group g of ifp; the last sends the leave reports and frees the group after them. */
export function mld_leave(ifp: usize, g: usize): void {
  const p = in6m_lookup(ifp, g);
  if (p == 0 || inm(p).inm_refcount == 0) return;
  const x = inm(p);
  x.inm_refcount--;
  if (x.inm_refcount != 0) return;
  callout_stop(p + INM_Q_CALLOUT);
  x.inm_qver = 0;
  if (reportable(g)) mld_state_change(p, MLD_CHANGE_TO_INCLUDE);
  else in6m_free(p);
}

/** EVENT_IFNET_UP: the groups joined while ifp was down are reported now. */
export function mld_ifup(ifp: usize): void {
  for (let p = V6().inm_head; p != 0; p = inm(p).inm_next) {
    if (inm(p).inm_ifp == ifp && inm(p).inm_refcount != 0 && inm(p).inm_scrv == 0 && reportable(inm_addr(p))) {
      mld_state_change(p, MLD_CHANGE_TO_EXCLUDE);
    }
  }
}

/** ifp leaves the vnet (or the vnet goes; ifp 0: every interface): its groups go, silently. */
export function mld_ifdetach(ifp: usize): void {
  let p = V6().inm_head;
  while (p != 0) {
    const n = inm(p).inm_next;
    if (ifp == 0 || inm(p).inm_ifp == ifp) in6m_free(p);
    p = n;
  }
}

/** The query-answer callout: the group's current state (RFC 3810 6.3), in the query's version. */
function mld_q_timer(p: usize): void {
  const x = inm(p);
  const v = x.inm_qver;
  x.inm_qver = 0;
  if (v == 0 || x.inm_refcount == 0) return;
  mld_send(x.inm_ifp, inm_addr(p), MLD_MODE_IS_EXCLUDE, v == 1);
}

/** Schedule the answer of group p within delay_max us; one due sooner stays (RFC 3810 6.2 rule 1). */
function mld_schedule(p: usize, delay_max: u64, ver: u32): void {
  const x = inm(p);
  if (x.inm_refcount == 0 || !reportable(inm_addr(p))) return;
  const d = mld_random(delay_max);
  const c = p + INM_Q_CALLOUT;
  if (x.inm_qver != 0 && callout_active(c) && callout_time(c) <= ticks() + d) return;
  x.inm_qver = ver;
  callout_reset(c, d, mld_q_timer.index, p);
}

/** True when the hop-by-hop header between the fixed header and off carries an MLD Router Alert. */
function mld_has_ra(ip: usize, off: u32): bool {
  if (ip6_nxt(ip) != IPPROTO_HOPOPTS || off < IP6_HDR_LEN + 8) return false;
  const end = IP6_HDR_LEN + ((<u32>load<u8>(ip + IP6_HDR_LEN + 1) + 1) << 3);
  if (end > off) return false;
  let cp = IP6_HDR_LEN + 2;
  while (cp < end) {
    const t = load<u8>(ip + cp);
    if (t == 0) {
      cp++;
      continue;
    }
    if (cp + 2 > end) return false;
    const olen = <u32>load<u8>(ip + cp + 1);
    if (t == 5 && olen == 2 && cp + 4 <= end) return load<u16>(ip + cp + 2) == 0; // value 0: MLD
    cp += olen + 2;
  }
  return false;
}

@inline function drop(m: usize, why: u32): void {
  MLDSTAT_INC(why);
  m_freem(m);
}

/**
 * From icmp6_input, types 130, 131, 132, 143: m starts at the IPv6 header, the message
 * (icmplen bytes, checksum checked) at off, contiguous. m is consumed.
 */
export function mld_input(ifp: usize, m: usize, off: u32, icmplen: u32): void {
  MLDSTAT_INC(MLDS_RCV_TOTAL);
  const ip = mtod(m);
  const icp = ip + off;
  const type = load<u8>(icp);
  if (ip6_hlim(ip) != 1) return drop(m, MLDS_RCV_BADTTL);
  if (!mld_has_ra(ip, off)) return drop(m, MLDS_RCV_NORA);
  const src = ip + IP6_SRC;
  if (type != MLD_LISTENER_QUERY) {
    // RFC 3810 5.2.13: a report's source is link-local, or :: from a node still in DAD.
    if (!IN6_IS_ADDR_LINKLOCAL(src) && !IN6_IS_ADDR_UNSPECIFIED(src)) return drop(m, MLDS_RCV_BADREPORTS);
    if (icmplen < (type == MLDV2_LISTENER_REPORT ? 8 : MLD_V1_LEN)) return drop(m, MLDS_RCV_TOOSHORT);
    return drop(m, MLDS_RCV_REPORTS);
  }
  if (icmplen != MLD_V1_LEN && icmplen < MLD_V2Q_LEN) return drop(m, MLDS_RCV_TOOSHORT);
  if (!IN6_IS_ADDR_LINKLOCAL(src)) return drop(m, MLDS_RCV_BADQUERIES); // RFC 3810 6.2, RFC 2710 5
  const g = icp + 8;
  const general = IN6_IS_ADDR_UNSPECIFIED(g);
  if (!general && !IN6_IS_ADDR_MULTICAST(g)) return drop(m, MLDS_RCV_BADQUERIES);
  const v1 = icmplen == MLD_V1_LEN;
  let ms: u64;
  const code = <u32>bswap<u16>(load<u16>(icp + 4));
  if (v1) ms = code;
  else {
    const nsrc = <u32>bswap<u16>(load<u16>(icp + 26));
    if (icmplen < MLD_V2Q_LEN + nsrc * 16) return drop(m, MLDS_RCV_TOOSHORT);
    // RFC 3810 5.1.3: from 32768 up the code is a floating-point value.
    ms = code < 32768 ? code : <u64>((code & 0xfff) | 0x1000) << (((code >> 12) & 7) + 3);
  }
  MLDSTAT_INC(v1 ? MLDS_RCV_V1_QUERIES : MLDS_RCV_V2_QUERIES);
  MLDSTAT_INC(general ? MLDS_RCV_GEN_QUERIES : MLDS_RCV_GROUP_QUERIES);
  const maxd = ms * 1000;
  const ver: u32 = v1 ? 1 : 2;
  if (general) {
    for (let p = V6().inm_head; p != 0; p = inm(p).inm_next) if (inm(p).inm_ifp == ifp) mld_schedule(p, maxd, ver);
  } else {
    const p = in6m_lookup(ifp, g);
    if (p != 0) mld_schedule(p, maxd, ver);
  }
  m_freem(m);
}

// Group records for the host (ifmcstat): 32 bytes: group (16), interface index u32 (16),
// references u32 (20: 0 = leaving), state-change reports still to send u32 (24), answer
// due u32 (28: 0 none, 1 MLDv1, 2 MLDv2).
export const INM_REC: u32 = 32;

/** ifp's groups (every interface's when ifp is 0) as INM_REC-byte records; how many. */
export function mld_fill(ifp: usize, buf: usize, max: u32): u32 {
  let n: u32 = 0;
  for (let p = V6().inm_head; p != 0 && n < max; p = inm(p).inm_next) {
    const x = inm(p);
    if (ifp != 0 && x.inm_ifp != ifp) continue;
    const o = buf + n * INM_REC;
    in6_copy(o, inm_addr(p));
    store<u32>(o, changetype<Ifnet>(x.inm_ifp).if_index, 16);
    store<u32>(o, x.inm_refcount, 20);
    store<u32>(o, x.inm_scrv, 24);
    store<u32>(o, x.inm_qver, 28);
    n++;
  }
  return n;
}
