// Neighbor Discovery: address resolution and neighbour unreachability detection (RFC 4861
// 7; FreeBSD netinet6/nd6.c, nd6_nbr.c), and redirects received (8). Router and prefix
// discovery (RS/RA) and SLAAC are nd6_rtr.ts.
//
// Cache: per vnet, a hash of ND_HASH_SIZE chains keyed by (interface, address); entries
// (Nd6entry, "nd6_entry" zone, charged to the vnet) move through RFC 4861 7.3.2's states,
// each state's timer one callout per entry:
//   INCOMPLETE  a multicast solicitation (to the solicited-node group) went out; packets
//               wait in a hold queue of ND6_MAXHOLD (the oldest goes when full); a
//               solicitation every RetransTimer (1 s), and after MAX_MULTICAST_SOLICIT (3)
//               the entry is given up: its packets are dropped, and each that was being
//               forwarded gets ICMPv6 address unreachable back (RFC 4861 7.2.2).
//   REACHABLE   confirmed by a solicited advertisement; after ReachableTime (30 s times a
//               random factor in [0.5, 1.5), RFC 4861 6.3.2) it becomes STALE.
//   STALE       usable but unconfirmed; the first packet sent moves it to DELAY. Collected
//               after net.inet6.ip6.gctimer (a day) unused.
//   DELAY       waits DELAY_FIRST_PROBE_TIME (5 s) for upper layers' confirmation (none
//               here yet), then PROBE.
//   PROBE       unicast solicitations to the cached address every RetransTimer; after
//               MAX_UNICAST_SOLICIT (3) unanswered the entry is deleted.
// Bound (sys/llatbl.ts, per vnet: net.inet6.icmp6.nd6_gc_thresh1/2/3): an entry made by a
// neighbour's NS (STALE, RFC 4861 7.2.3: only with a source link-layer option and for one
// of our addresses) is "unsolicited" until we use it; those are capped at gc_thresh2 by
// replacing the oldest of them, so a flood of spoofed NSs (which kept the table full for a
// day before) replaces itself and cannot stop a new resolution; our own resolutions make
// room up to gc_thresh3 by eviction (counted: evicted, tablefull). An unsolicited entry
// made past gc_thresh1 is collected after LLT_STALE_US (60 s) instead of gctimer.
// Messages are checked field by field (hop limit 255, code 0, lengths, option lengths,
// RFC 4861 7.1.1 and 7.1.2) and every drop is counted (icmp6stat badns/badna/ndhlim). ND
// packets are link-local business: they are built whole here and go straight to
// ether_output (multicast to 33:33:xx:xx:xx:xx), never through routing.

import {
  zone_alloc, zone_free, callout_init, callout_reset, callout_stop, ticks, m_gethdr, m_freem, ether_output, VNET,
  arc4random_uniform, in6_pseudo,
} from "../kmod/kapi";
import { Ifnet, ETHERTYPE_IPV6, IFF_UP, IFF_RUNNING, IFT_ETHER, if_lladdr } from "../sys/if";
import { Mbuf, MT_DATA, mtod } from "../sys/mbuf";
import { in_cksum } from "../kmod/kapi";
import {
  IP6_HDR_LEN, IP6_SRC, IP6_DST, IPPROTO_ICMPV6, ip6_fill, in6_copy, in6_zero, in6_eq, in6_prefix_match, in6_solicited,
  in6_mcast_mac, IN6_IS_ADDR_UNSPECIFIED, IN6_IS_ADDR_MULTICAST, ip6_hlim, ND_NEIGHBOR_SOLICIT, ND_NEIGHBOR_ADVERT,
  ND_MSG_LEN, ND_TARGET, ND_NA_FLAG_ROUTER, ND_NA_FLAG_SOLICITED, ND_NA_FLAG_OVERRIDE, ND_OPT_SOURCE_LINKADDR,
  ND_OPT_TARGET_LINKADDR, ICMP6_CKSUM, ICMP6_DST_UNREACH, ICMP6_DST_UNREACH_ADDR, IN6_IS_ADDR_LINKLOCAL,
} from "../sys/in6";
import { rt6_lookup, rt6_find, rt6_insert } from "./in6_rmx";
import {
  Nd6entry, Inet6Globals, V6, NDHASH_OFF, ND6_CALLOUT, ND6_LLINFO_INCOMPLETE, ND6_LLINFO_REACHABLE, ND6_LLINFO_STALE,
  ND6_LLINFO_DELAY, ND6_LLINFO_PROBE, ND6_LLINFO_PERMANENT, ND6_REACHABLE_US, ND6_RETRANS_US, ND6_DELAY_US, ND6_MMAXTRIES, ND6_UMAXTRIES,
  ND6_GCTIMER_US, ND6_MAXHOLD, MAX_LINKHDR, ln_addr, ln_mac, ia6_addr, ND6STAT_INC, ND6S_NSOUT, ND6S_NSIN, ND6S_NAOUT,
  ND6S_NAIN, ND6S_DROPPED, ND6S_GIVEUPS, ND6S_PROBEFAIL, ND6S_GC, ND6S_DADNS, ND6S_EVICTED, ND6S_TABLEFULL, ND6_LRU, NDLLT_OFF, ICMP6STAT_INC, ICP6S_BADNS, ICP6S_BADNA,
  ICP6S_NDHLIM, ICP6S_BADREDIRECT, Rt6entry, rt6_gw, RTF_GATEWAY, RTF_DYNAMIC, ICP6S_OUTHIST, IP6STAT_INC, IP6S_ODROPPED, IP6S_LOCALOUT, icmp6_hist, In6Ifaddr, IN6_IFF_TENTATIVE,
} from "./ip6_var";
import { in6ifa_ifpwithaddr, in6_selectsrc_ifp, nd6_dad_duplicated } from "./in6";
import { icmp6_error } from "./icmp6";
import {
  Llt, LLT_UNSOL, LLT_INCOMPLETE, LLT_ACTIVE, LLT_STATIC, LLT_FULL, LLT_STALE_US, llt_insert, llt_remove, llt_setclass, llt_use, llt_room,
  llt_class,
} from "../sys/llatbl";

const NDOPT_LLA_LEN: u32 = 8; // an Ethernet link-layer address option

@inline function ln(p: usize): Nd6entry {
  return changetype<Nd6entry>(p);
}

@inline function bucket(ifp: usize, a: usize): usize {
  const h = (load<u32>(a + 12) ^ load<u32>(a + 8) ^ (<u32>ifp >> 3)) * 0x9e3779b1;
  return VNET(Inet6Globals.voff + NDHASH_OFF) + (<usize>(h >> 26) << 2); // ND_HASH_SIZE = 64
}

@inline function eq6mac(a: usize, b: usize): bool {
  return load<u32>(a) == load<u32>(b) && load<u16>(a, 4) == load<u16>(b, 4);
}

export function nd6_lookup(ifp: usize, a: usize): usize {
  for (let p = load<usize>(bucket(ifp, a)); p != 0; p = ln(p).ln_next) {
    if (ln(p).ln_ifp == ifp && in6_eq(ln_addr(p), a)) return p;
  }
  return 0;
}

/** The current vnet's table record (sys/llatbl.ts). */
@inline function llt(): usize {
  return VNET(Inet6Globals.voff + NDLLT_OFF);
}

/**
 * A new entry for (ifp, a), of class cls (LLT_INCOMPLETE: our resolution; LLT_UNSOL: made
 * by the neighbour's NS), after making room as sys/llatbl.ts says. 0 when the table may
 * not grow (counted) or there is no memory.
 */
function nd6_create(ifp: usize, a: usize, cls: u32): usize {
  const now = ticks();
  const victim = llt_room(llt(), ND6_LRU, cls != LLT_UNSOL, now);
  if (victim == LLT_FULL) {
    ND6STAT_INC(ND6S_TABLEFULL);
    return 0;
  }
  if (victim != 0) {
    ND6STAT_INC(ND6S_EVICTED);
    nd6_free(victim);
  }
  const p = zone_alloc(Inet6Globals.ndZone);
  if (p == 0) return 0;
  const e = ln(p);
  e.ln_ifp = ifp;
  e.ln_state = ND6_LLINFO_INCOMPLETE;
  e.ln_asked = 0;
  e.ln_mac_lo = 0;
  e.ln_mac_hi = 0;
  e.ln_numheld = 0;
  e.ln_router = 0;
  e.ln_hold = 0;
  e.ln_hold_tail = 0;
  e.ln_expire = 0;
  e.ln_hits = 0;
  in6_copy(ln_addr(p), a);
  callout_init(p + ND6_CALLOUT);
  const b = bucket(ifp, a);
  e.ln_next = load<usize>(b);
  store<usize>(b, p);
  llt_insert(llt(), p, ND6_LRU, cls, now);
  return p;
}

/** Drop the held packets; forwarded ones get ICMPv6 address unreachable when asked. */
function nd6_drop_held(p: usize, unreach: bool): void {
  let m = ln(p).ln_hold;
  ln(p).ln_hold = 0;
  ln(p).ln_hold_tail = 0;
  ln(p).ln_numheld = 0;
  while (m != 0) {
    const next = changetype<Mbuf>(m).m_nextpkt;
    changetype<Mbuf>(m).m_nextpkt = 0;
    ND6STAT_INC(ND6S_DROPPED);
    if (unreach && changetype<Mbuf>(m).ph_rcvif != 0) icmp6_error(m, ICMP6_DST_UNREACH, ICMP6_DST_UNREACH_ADDR, 0);
    else m_freem(m);
    m = next;
  }
}

function nd6_free(p: usize): void {
  callout_stop(p + ND6_CALLOUT);
  nd6_drop_held(p, false);
  let b = bucket(ln(p).ln_ifp, ln_addr(p));
  for (let q = load<usize>(b); q != 0; q = ln(q).ln_next) {
    if (q == p) {
      store<usize>(b, ln(p).ln_next);
      break;
    }
    b = q + offsetof<Nd6entry>("ln_next");
  }
  llt_remove(llt(), p, ND6_LRU);
  zone_free(Inet6Globals.ndZone, p);
}

function settimer(p: usize, us: u64): void {
  ln(p).ln_expire = ticks() + us;
  callout_reset(p + ND6_CALLOUT, us, nd6_timer.index, p);
}

/** ReachableTime: REACHABLE_TIME times a uniform factor in [0.5, 1.5) (RFC 4861 6.3.2). */
function reachable_time(): u64 {
  return ND6_REACHABLE_US / 2 + <u64>arc4random_uniform(<u32>ND6_REACHABLE_US);
}

// ---------------------------------------------------------------------------------------
// Building and sending ND messages

const macbuf = memory.data(8, 4);
const srcbuf = memory.data(16, 8);
const dstbuf = memory.data(16, 8);
const replybuf = memory.data(16, 8);

/**
 * Send an NS or NA on ifp: IPv6 header src -> dst (hop limit 255), the message with
 * target and, when lla is set, our link-layer address option of type lla; to link
 * address mac. The ICMPv6 checksum covers the pseudo-header.
 */
function nd6_send(ifp: usize, type: u8, flags: u8, src: usize, dst: usize, target: usize, lla: u8, mac: usize): void {
  const m = m_gethdr(MT_DATA);
  if (m == 0) {
    IP6STAT_INC(IP6S_ODROPPED);
    return;
  }
  const mm = changetype<Mbuf>(m);
  const icmplen = ND_MSG_LEN + (lla != 0 ? NDOPT_LLA_LEN : 0);
  mm.m_data += MAX_LINKHDR;
  mm.m_len = <i32>(IP6_HDR_LEN + icmplen);
  mm.ph_len = mm.m_len;
  const ip = mtod(m);
  ip6_fill(ip, icmplen, IPPROTO_ICMPV6, 255, src, dst);
  const icp = ip + IP6_HDR_LEN;
  store<u8>(icp, type);
  store<u8>(icp + 1, 0);
  store<u16>(icp + ICMP6_CKSUM, 0);
  store<u32>(icp + 4, 0);
  store<u8>(icp + 4, flags);
  in6_copy(icp + ND_TARGET, target);
  if (lla != 0) {
    store<u8>(icp + ND_MSG_LEN, lla);
    store<u8>(icp + ND_MSG_LEN + 1, 1); // 8 bytes
    memory.copy(icp + ND_MSG_LEN + 2, if_lladdr(ifp), 6);
  }
  const init = in6_pseudo(ip + IP6_SRC, ip + IP6_DST, IPPROTO_ICMPV6, icmplen);
  store<u16>(icp + ICMP6_CKSUM, bswap<u16>(<u16>in_cksum(m, IP6_HDR_LEN, icmplen, init)));
  ICMP6STAT_INC(ICP6S_OUTHIST + icmp6_hist(type));
  IP6STAT_INC(IP6S_LOCALOUT);
  if (ether_output(ifp, m, mac, ETHERTYPE_IPV6) != 0) IP6STAT_INC(IP6S_ODROPPED);
}

@inline function ifrunning(ifp: usize): bool {
  const ii = changetype<Ifnet>(ifp);
  return ii.if_type == IFT_ETHER && (ii.if_flags & (IFF_UP | IFF_RUNNING)) == (IFF_UP | IFF_RUNNING);
}

/** A solicitation for target: multicast to its solicited-node group, or unicast to umac (probe). */
function nd6_ns_output(ifp: usize, target: usize, umac: usize): void {
  if (!ifrunning(ifp)) return;
  const a = in6_selectsrc_ifp(ifp, target);
  if (a == 0) return; // nothing to send from (RFC 4861 7.2.2 wants a source address)
  in6_copy(srcbuf, ia6_addr(a));
  let mac: usize;
  if (umac != 0) {
    in6_copy(dstbuf, target);
    memory.copy(macbuf, umac, 6);
  } else {
    in6_solicited(dstbuf, target);
    in6_mcast_mac(macbuf, dstbuf);
  }
  mac = macbuf;
  ND6STAT_INC(ND6S_NSOUT);
  nd6_send(ifp, ND_NEIGHBOR_SOLICIT, 0, srcbuf, dstbuf, target, ND_OPT_SOURCE_LINKADDR, mac);
}

/** DAD probe for a new address: from ::, to its solicited-node group, no link-layer option. */
export function nd6_dad_output(ifp: usize, a: usize): void {
  if (!ifrunning(ifp)) return;
  in6_zero(srcbuf);
  in6_solicited(dstbuf, a);
  in6_mcast_mac(macbuf, dstbuf);
  ND6STAT_INC(ND6S_DADNS);
  ND6STAT_INC(ND6S_NSOUT);
  nd6_send(ifp, ND_NEIGHBOR_SOLICIT, 0, srcbuf, dstbuf, a, 0, macbuf);
}

// ---------------------------------------------------------------------------------------
// Timers and resolution

function nd6_timer(p: usize): void {
  const e = ln(p);
  switch (e.ln_state) {
    case ND6_LLINFO_INCOMPLETE: {
      if (e.ln_asked < ND6_MMAXTRIES) {
        e.ln_asked++;
        settimer(p, ND6_RETRANS_US);
        nd6_ns_output(e.ln_ifp, ln_addr(p), 0);
        return;
      }
      ND6STAT_INC(ND6S_GIVEUPS);
      nd6_drop_held(p, true);
      nd6_free(p);
      return;
    }
    case ND6_LLINFO_REACHABLE: {
      e.ln_state = ND6_LLINFO_STALE;
      settimer(p, ND6_GCTIMER_US);
      return;
    }
    case ND6_LLINFO_DELAY: {
      e.ln_state = ND6_LLINFO_PROBE;
      e.ln_asked = 1;
      settimer(p, ND6_RETRANS_US);
      nd6_ns_output(e.ln_ifp, ln_addr(p), ln_mac(p));
      return;
    }
    case ND6_LLINFO_PROBE: {
      if (e.ln_asked < ND6_UMAXTRIES) {
        e.ln_asked++;
        settimer(p, ND6_RETRANS_US);
        nd6_ns_output(e.ln_ifp, ln_addr(p), ln_mac(p));
        return;
      }
      ND6STAT_INC(ND6S_PROBEFAIL);
      nd6_free(p);
      return;
    }
    default: {
      ND6STAT_INC(ND6S_GC); // STALE, unused for gctimer
      nd6_free(p);
    }
  }
}

/**
 * nd6_resolve: the MAC to send an IPv6 packet for next hop nh out of ifp. Returns its
 * address, or 0 when m was queued behind a resolution (or dropped): m is consumed then.
 */
export function nd6_resolve(ifp: usize, m: usize, nh: usize): usize {
  let p = nd6_lookup(ifp, nh);
  if (p != 0 && ln(p).ln_state != ND6_LLINFO_INCOMPLETE) {
    ln(p).ln_hits++;
    llt_use(llt(), p, ND6_LRU, ticks());
    if (ln(p).ln_state == ND6_LLINFO_STALE) {
      // RFC 4861 7.3.3: sending to a STALE neighbour starts the delay before probing.
      ln(p).ln_state = ND6_LLINFO_DELAY;
      ln(p).ln_asked = 0;
      settimer(p, ND6_DELAY_US);
    }
    return ln_mac(p);
  }
  if (p == 0) {
    p = nd6_create(ifp, nh, LLT_INCOMPLETE);
    if (p == 0) {
      ND6STAT_INC(ND6S_DROPPED);
      IP6STAT_INC(IP6S_ODROPPED);
      m_freem(m);
      return 0;
    }
  }
  const e = ln(p);
  if (e.ln_numheld >= ND6_MAXHOLD) {
    const old = e.ln_hold;
    e.ln_hold = changetype<Mbuf>(old).m_nextpkt;
    changetype<Mbuf>(old).m_nextpkt = 0;
    e.ln_numheld--;
    ND6STAT_INC(ND6S_DROPPED);
    m_freem(old);
    if (e.ln_hold == 0) e.ln_hold_tail = 0;
  }
  changetype<Mbuf>(m).m_nextpkt = 0;
  if (e.ln_hold_tail != 0) changetype<Mbuf>(e.ln_hold_tail).m_nextpkt = m;
  else e.ln_hold = m;
  e.ln_hold_tail = m;
  e.ln_numheld++;
  if (e.ln_asked == 0) {
    e.ln_asked = 1;
    settimer(p, ND6_RETRANS_US);
    nd6_ns_output(ifp, nh, 0);
  }
  return 0;
}

/** Record a link address for p, move it to state st, and send what waited for it. */
function nd6_update(p: usize, mac: usize, st: u32): void {
  const e = ln(p);
  if (mac != 0) memory.copy(ln_mac(p), mac, 6);
  const was = e.ln_state;
  e.ln_state = st;
  e.ln_asked = 0;
  if (st == ND6_LLINFO_REACHABLE) settimer(p, reachable_time());
  else if (st == ND6_LLINFO_STALE) settimer(p, ND6_GCTIMER_US);
  if (was != ND6_LLINFO_INCOMPLETE) return;
  // Our resolution answered: the entry is active (one made by an NS stays unsolicited).
  if (llt_class(p, ND6_LRU) == LLT_INCOMPLETE) llt_setclass(llt(), p, ND6_LRU, LLT_ACTIVE, ticks());
  let m = e.ln_hold;
  e.ln_hold = 0;
  e.ln_hold_tail = 0;
  e.ln_numheld = 0;
  const ifp = e.ln_ifp;
  if (st == ND6_LLINFO_STALE && m != 0) {
    // Sending to a STALE entry starts DELAY (RFC 4861 7.3.3).
    e.ln_state = ND6_LLINFO_DELAY;
    settimer(p, ND6_DELAY_US);
  }
  // Sending can re-enter this module and even evict p to make room for another entry: the
  // MAC is kept here and copied out before each send (ether_output copies it into the
  // header before it transmits), and p is not touched again.
  const lm = <u64>load<u32>(ln_mac(p)) | (<u64>load<u16>(ln_mac(p) + 4) << 32);
  while (m != 0) {
    const next = changetype<Mbuf>(m).m_nextpkt;
    changetype<Mbuf>(m).m_nextpkt = 0;
    store<u32>(flushMac, <u32>lm);
    store<u16>(flushMac + 4, <u16>(lm >> 32));
    if (ether_output(ifp, m, flushMac, ETHERTYPE_IPV6) != 0) IP6STAT_INC(IP6S_ODROPPED);
    m = next;
  }
}

const flushMac: usize = memory.data(8, 4);

// ---------------------------------------------------------------------------------------
// Input (icmp6_input hands over NS/NA: m starts at the IPv6 header, contiguous through
// the whole ICMPv6 message, checksum already verified)

/**
 * Walk the options of an ND message (RFC 4861 4.6): every option's length is non-zero and
 * inside the message. Returns the link-layer address in an option of type want (0: none),
 * or 1 when the options are malformed.
 */
export function nd6_options(opt: usize, len: u32, want: u8): usize {
  let found: usize = 0;
  let off: u32 = 0;
  while (off < len) {
    if (len - off < 2) return 1;
    const olen = <u32>load<u8>(opt + off + 1) << 3;
    if (olen == 0 || off + olen > len) return 1;
    if (load<u8>(opt + off) == want) {
      if (olen < 8) return 1;
      found = opt + off + 2;
    }
    off += olen;
  }
  return found;
}

@inline function baddrop(m: usize, why: u32): void {
  ICMP6STAT_INC(why);
  m_freem(m);
}

export function nd6_ns_input(ifp: usize, m: usize, off: u32, icmplen: u32): void {
  ND6STAT_INC(ND6S_NSIN);
  const ip = mtod(m);
  const icp = ip + off;
  if (ip6_hlim(ip) != 255) return baddrop(m, ICP6S_NDHLIM);
  if (load<u8>(icp + 1) != 0 || icmplen < ND_MSG_LEN) return baddrop(m, ICP6S_BADNS);
  const target = icp + ND_TARGET;
  const src = ip + IP6_SRC;
  const dst = ip + IP6_DST;
  if (IN6_IS_ADDR_MULTICAST(target)) return baddrop(m, ICP6S_BADNS);
  const sll = nd6_options(icp + ND_MSG_LEN, icmplen - ND_MSG_LEN, ND_OPT_SOURCE_LINKADDR);
  if (sll == 1) return baddrop(m, ICP6S_BADNS);
  const dad = IN6_IS_ADDR_UNSPECIFIED(src);
  if (dad) {
    // RFC 4861 7.1.1: from :: only to a solicited-node group, and without a link-layer option.
    if (!IN6_IS_ADDR_MULTICAST(dst) || sll != 0) return baddrop(m, ICP6S_BADNS);
  }
  if (!ifrunning(ifp)) {
    m_freem(m);
    return;
  }
  const ia = in6ifa_ifpwithaddr(ifp, target);
  if (ia == 0) {
    m_freem(m); // not for one of our addresses (we do no proxy ND)
    return;
  }
  // Sending can re-enter this module (a synchronous link), so what is needed after a send
  // lives in locals, and the shared buffers are filled right before each use.
  const t0 = load<u64>(target);
  const t1 = load<u64>(target, 8);
  const s0 = load<u64>(src);
  const s1 = load<u64>(src, 8);
  const tentative = (changetype<In6Ifaddr>(ia).ia_flags & IN6_IFF_TENTATIVE) != 0;
  let mac: u64 = 0;
  let hasmac = sll != 0;
  if (hasmac) mac = <u64>load<u32>(sll) | (<u64>load<u16>(sll + 4) << 32);
  m_freem(m);
  if (dad) {
    // Someone else probes our address. While ours is still tentative we lose (RFC 4862
    // 5.4.3); once preferred we defend it with an advertisement to all nodes.
    put(dstbuf, t0, t1);
    if (tentative) {
      nd6_dad_duplicated(ifp, dstbuf);
      return;
    }
    put(replybuf, 0x02ff, 0x0100000000000000); // ff02::1
    in6_mcast_mac(macbuf, replybuf);
    ND6STAT_INC(ND6S_NAOUT);
    nd6_send(ifp, ND_NEIGHBOR_ADVERT, ND_NA_FLAG_OVERRIDE, dstbuf, replybuf, dstbuf, ND_OPT_TARGET_LINKADDR, macbuf);
    return;
  }
  // The solicitor's link address: create or refresh its entry (RFC 4861 7.2.3).
  put(replybuf, s0, s1);
  if (hasmac) {
    putmac(mac);
    let p = nd6_lookup(ifp, replybuf);
    if (p == 0) {
      const short = changetype<Llt>(llt()).count >= changetype<Llt>(llt()).thresh1;
      p = nd6_create(ifp, replybuf, LLT_UNSOL);
      if (p != 0) {
        nd6_update(p, macbuf, ND6_LLINFO_STALE);
        if (short) settimer(p, LLT_STALE_US); // past gc_thresh1: collected in a minute unless used
      }
    } else if (ln(p).ln_state != ND6_LLINFO_PERMANENT && (ln(p).ln_state == ND6_LLINFO_INCOMPLETE || !eq6mac(ln_mac(p), macbuf))) {
      nd6_update(p, macbuf, ND6_LLINFO_STALE);
    }
  } else {
    const p = nd6_lookup(ifp, replybuf);
    if (p != 0 && ln(p).ln_state != ND6_LLINFO_INCOMPLETE) {
      mac = <u64>load<u32>(ln_mac(p)) | (<u64>load<u16>(ln_mac(p) + 4) << 32);
      hasmac = true;
    }
  }
  if (!hasmac) return; // no way to reach the solicitor without resolving it first
  put(replybuf, s0, s1);
  put(dstbuf, t0, t1);
  putmac(mac);
  ND6STAT_INC(ND6S_NAOUT);
  const fl = ND_NA_FLAG_SOLICITED | ND_NA_FLAG_OVERRIDE | (V6().forwarding != 0 ? ND_NA_FLAG_ROUTER : 0);
  nd6_send(ifp, ND_NEIGHBOR_ADVERT, fl, dstbuf, replybuf, dstbuf, ND_OPT_TARGET_LINKADDR, macbuf);
}

@inline function put(b: usize, a0: u64, a1: u64): void {
  store<u64>(b, a0);
  store<u64>(b, a1, 8);
}

@inline function putmac(mac: u64): void {
  store<u32>(macbuf, <u32>mac);
  store<u16>(macbuf + 4, <u16>(mac >> 32));
}

export function nd6_na_input(ifp: usize, m: usize, off: u32, icmplen: u32): void {
  ND6STAT_INC(ND6S_NAIN);
  const ip = mtod(m);
  const icp = ip + off;
  if (ip6_hlim(ip) != 255) return baddrop(m, ICP6S_NDHLIM);
  if (load<u8>(icp + 1) != 0 || icmplen < ND_MSG_LEN) return baddrop(m, ICP6S_BADNA);
  const target = icp + ND_TARGET;
  const flags = load<u8>(icp + 4);
  if (IN6_IS_ADDR_MULTICAST(target)) return baddrop(m, ICP6S_BADNA);
  // RFC 4861 7.1.2: a solicited advertisement is never sent to a multicast address.
  if (IN6_IS_ADDR_MULTICAST(ip + IP6_DST) && (flags & ND_NA_FLAG_SOLICITED) != 0) return baddrop(m, ICP6S_BADNA);
  const tll = nd6_options(icp + ND_MSG_LEN, icmplen - ND_MSG_LEN, ND_OPT_TARGET_LINKADDR);
  if (tll == 1) return baddrop(m, ICP6S_BADNA);
  if (in6ifa_ifpwithaddr(ifp, target) != 0) {
    nd6_dad_duplicated(ifp, target); // someone else advertises our address
    m_freem(m);
    return;
  }
  const p = nd6_lookup(ifp, target);
  if (p == 0 || !ifrunning(ifp)) {
    m_freem(m); // no entry: unsolicited advertisements create none (RFC 4861 7.2.5)
    return;
  }
  let mac: usize = 0;
  if (tll != 0) {
    memory.copy(macbuf, tll, 6);
    mac = macbuf;
  }
  m_freem(m);
  const e = ln(p);
  if (e.ln_state == ND6_LLINFO_PERMANENT) return; // ndp -s: what the administrator said stands
  e.ln_router = (flags & ND_NA_FLAG_ROUTER) != 0 ? 1 : 0;
  const solicited = (flags & ND_NA_FLAG_SOLICITED) != 0;
  if (e.ln_state == ND6_LLINFO_INCOMPLETE) {
    if (mac == 0) return; // RFC 4861 7.2.5: nothing to resolve with
    nd6_update(p, mac, solicited ? ND6_LLINFO_REACHABLE : ND6_LLINFO_STALE);
    return;
  }
  const changed = mac != 0 && !eq6mac(ln_mac(p), mac);
  if ((flags & ND_NA_FLAG_OVERRIDE) == 0 && changed) {
    // Not allowed to override: a REACHABLE entry only becomes suspect.
    if (e.ln_state == ND6_LLINFO_REACHABLE) {
      e.ln_state = ND6_LLINFO_STALE;
      settimer(p, ND6_GCTIMER_US);
    }
    return;
  }
  if (solicited) nd6_update(p, mac, ND6_LLINFO_REACHABLE);
  else if (changed) nd6_update(p, mac, ND6_LLINFO_STALE);
}

/**
 * A redirect (RFC 4861 8): the router we send dst's packets to says target is a better first
 * hop (or, target == dst, that dst is on-link). Checked as 8.1 says (link-local source, hop
 * limit 255, code 0, length, dst not multicast, target link-local or dst, options well
 * formed, and the source is our current first hop for dst on this interface); then a host
 * route for dst via target, flagged DYNAMIC, goes in (an earlier redirect's is updated; a
 * route set by hand is left alone), and a target link-layer option makes or updates the
 * target's neighbour entry, STALE (8.3). Routers ignore redirects. Refusals are counted
 * (badredirect). Such routes do not expire (FreeBSD's net.inet6.icmp6.redirtimeout).
 */
export function nd6_redirect_input(ifp: usize, m: usize, off: u32, icmplen: u32): void {
  const ip = mtod(m);
  const icp = ip + off;
  const src = ip + IP6_SRC;
  if (V6().forwarding != 0) {
    m_freem(m);
    return;
  }
  if (ip6_hlim(ip) != 255) return baddrop(m, ICP6S_NDHLIM);
  if (load<u8>(icp + 1) != 0 || icmplen < 40 || !IN6_IS_ADDR_LINKLOCAL(src)) return baddrop(m, ICP6S_BADREDIRECT);
  const target = icp + 8;
  const dst = icp + 24;
  const onlink = in6_eq(target, dst);
  if (IN6_IS_ADDR_MULTICAST(dst) || (!onlink && !IN6_IS_ADDR_LINKLOCAL(target))) return baddrop(m, ICP6S_BADREDIRECT);
  const rt = rt6_lookup(dst, ifp);
  if (rt == 0 || (changetype<Rt6entry>(rt).rt_flags & RTF_GATEWAY) == 0 || changetype<Rt6entry>(rt).rt_ifp != ifp || !in6_eq(rt6_gw(rt), src)) {
    return baddrop(m, ICP6S_BADREDIRECT); // not from our first hop for dst
  }
  const tll = nd6_options(icp + 40, icmplen - 40, ND_OPT_TARGET_LINKADDR);
  if (tll == 1) return baddrop(m, ICP6S_BADREDIRECT);
  in6_copy(dstbuf, dst);
  in6_copy(replybuf, target);
  if (tll != 0) memory.copy(macbuf, tll, 6);
  m_freem(m);
  const have = rt6_find(dstbuf, 128, ifp);
  if (have != 0) {
    const h = changetype<Rt6entry>(have);
    if ((h.rt_flags & RTF_DYNAMIC) == 0) return; // a route set by hand stands
    if (onlink) {
      in6_zero(rt6_gw(have));
      h.rt_flags &= ~RTF_GATEWAY;
    } else {
      in6_copy(rt6_gw(have), replybuf);
      h.rt_flags |= RTF_GATEWAY;
    }
  } else if (rt6_insert(dstbuf, 128, onlink ? 0 : replybuf, ifp, 0, RTF_DYNAMIC) != 0) {
    return; // no memory: the old route keeps working
  }
  if (tll == 0) return;
  let p = nd6_lookup(ifp, replybuf);
  if (p == 0) {
    p = nd6_create(ifp, replybuf, LLT_UNSOL);
    if (p != 0) nd6_update(p, macbuf, ND6_LLINFO_STALE);
  } else if (ln(p).ln_state != ND6_LLINFO_PERMANENT && (ln(p).ln_state == ND6_LLINFO_INCOMPLETE || !eq6mac(ln_mac(p), macbuf))) {
    nd6_update(p, macbuf, ND6_LLINFO_STALE);
  }
}

/**
 * nd6_cache_lladdr: a router solicitation or advertisement from a (on ifp) carried its
 * link-layer address mac (RFC 4861 6.2.6, 6.3.4): make or refresh a's entry, STALE when
 * new or changed; an RA also marks it a router. A static entry stands.
 */
export function nd6_cache_lladdr(ifp: usize, a: usize, mac: usize, router: bool): void {
  let p = nd6_lookup(ifp, a);
  if (p == 0) {
    p = nd6_create(ifp, a, LLT_UNSOL);
    if (p == 0) return;
    ln(p).ln_router = router ? 1 : 0;
    nd6_update(p, mac, ND6_LLINFO_STALE);
    return;
  }
  if (ln(p).ln_state == ND6_LLINFO_PERMANENT) return;
  if (router) ln(p).ln_router = 1;
  // Set before nd6_update: sending what waited can re-enter and even free p.
  if (ln(p).ln_state == ND6_LLINFO_INCOMPLETE || !eq6mac(ln_mac(p), mac)) nd6_update(p, mac, ND6_LLINFO_STALE);
}

// ---------------------------------------------------------------------------------------
// Flushes and the host's view

/** Forget ifp's entries inside prefix/plen (prefix 0: all of ifp's). */
export function nd6_flush(ifp: usize, prefix: usize, plen: u32): void {
  const base = VNET(Inet6Globals.voff + NDHASH_OFF);
  for (let i: u32 = 0; i < 64; i++) {
    let p = load<usize>(base + (<usize>i << 2));
    while (p != 0) {
      const next = ln(p).ln_next;
      // An address going takes the dynamic entries of its prefix; static ones stay (FreeBSD's
      // lltable_prefix_free leaves LLE_STATIC entries to ndp -d). The interface going takes all.
      const keep = prefix != 0 && ln(p).ln_state == ND6_LLINFO_PERMANENT;
      if (ln(p).ln_ifp == ifp && !keep && (prefix == 0 || in6_prefix_match(ln_addr(p), prefix, plen))) nd6_free(p);
      p = next;
    }
  }
}

export function nd6_flush_all(): void {
  const base = VNET(Inet6Globals.voff + NDHASH_OFF);
  for (let i: u32 = 0; i < 64; i++) {
    while (load<usize>(base + (<usize>i << 2)) != 0) nd6_free(load<usize>(base + (<usize>i << 2)));
  }
}

/** ndp -d: delete the entry of (ifp, a); 0 or -ENOENT. */
export function nd6_delete(ifp: usize, a: usize): i32 {
  const p = nd6_lookup(ifp, a);
  if (p == 0) return -2;
  nd6_free(p);
  return 0;
}

/**
 * An unsolicited advertisement of our address a on ifp to all nodes, with our (new) MAC and
 * the override flag (RFC 4861 7.2.6): a changed link-layer address reaches the neighbours'
 * caches without waiting for them to probe (RFC 9131's GRAND; FreeBSD's nd6 does it).
 */
export function nd6_na_unsolicited(ifp: usize, a: usize): void {
  if (!ifrunning(ifp)) return;
  in6_copy(dstbuf, a);
  put(replybuf, 0x02ff, 0x0100000000000000); // ff02::1
  in6_mcast_mac(macbuf, replybuf);
  ND6STAT_INC(ND6S_NAOUT);
  nd6_send(ifp, ND_NEIGHBOR_ADVERT, ND_NA_FLAG_OVERRIDE | (V6().forwarding != 0 ? ND_NA_FLAG_ROUTER : 0), dstbuf, replybuf, dstbuf, ND_OPT_TARGET_LINKADDR, macbuf);
}

/**
 * ndp -s: a static entry for (ifp, a) with MAC mac: never aged, probed or changed by
 * Neighbor Discovery, never evicted to make room (LLT_STATIC), gone only by ndp -d or with
 * its interface. An entry already there becomes static (packets it held leave now). 0 or
 * -ENOMEM.
 */
export function nd6_add_static(ifp: usize, a: usize, mac: usize): i32 {
  let p = nd6_lookup(ifp, a);
  if (p == 0) {
    const t = changetype<Llt>(llt());
    if (t.count >= t.thresh3) {
      ND6STAT_INC(ND6S_TABLEFULL);
      return -12;
    }
    p = nd6_create(ifp, a, LLT_ACTIVE);
    if (p == 0) return -12;
  }
  callout_stop(p + ND6_CALLOUT);
  llt_setclass(llt(), p, ND6_LRU, LLT_STATIC, ticks());
  memory.copy(ln_mac(p), mac, 6);
  ln(p).ln_expire = 0;
  if (ln(p).ln_state == ND6_LLINFO_INCOMPLETE) {
    nd6_update(p, mac, ND6_LLINFO_PERMANENT); // sends what waited (no timer for this state)
    return 0;
  }
  ln(p).ln_state = ND6_LLINFO_PERMANENT;
  return 0;
}

// Neighbour records for the host: 48 bytes: 0 address (16), 16 ifp, 20 state, 24 MAC
// bytes 0-3, 28 MAC bytes 4-5, 32 packets held, 36 router, 40 timer expiry (kernel us, f64).
export const ND6_REC: u32 = 48;

export function nd6_fill(buf: usize, skip: u32, max: u32): u32 {
  const base = VNET(Inet6Globals.voff + NDHASH_OFF);
  let i: u32 = 0;
  let n: u32 = 0;
  for (let b: u32 = 0; b < 64 && n < max; b++) {
    for (let p = load<usize>(base + (<usize>b << 2)); p != 0 && n < max; p = ln(p).ln_next, i++) {
      if (i < skip) continue;
      const o = buf + n * ND6_REC;
      const e = ln(p);
      in6_copy(o, ln_addr(p));
      store<u32>(o, <u32>e.ln_ifp, 16);
      store<u32>(o, e.ln_state, 20);
      store<u32>(o, e.ln_mac_lo, 24);
      store<u32>(o, e.ln_mac_hi, 28);
      store<u32>(o, e.ln_numheld, 32);
      store<u32>(o, e.ln_router, 36);
      store<f64>(o, <f64>e.ln_expire, 40);
      n++;
    }
  }
  return n;
}
