// IPv6 input and forwarding (FreeBSD netinet6/ip6_input.c, ip6_forward.c, dest6.c,
// route6.c), and the protocol switch upper protocols register with.
//
// ip6_input checks every field of the fixed header before use (RFC 8200 3): at least 40
// bytes (ip6s_toosmall), version 6 (ip6s_badvers), payload length within the frame
// (ip6s_tooshort; link padding trimmed), no jumbo payload (hop-by-hop with length 0:
// ip6s_badoptions, RFC 2675 is not implemented), addresses in scope (ip6s_badscope: a
// multicast source, ::1 or a v4-mapped address on a wire, the unspecified or a reserved-
// or interface-scope multicast destination off loopback). Hop-by-hop options come first
// and only first (RFC 8200 4.1); their options are walked with bounds checks and unknown
// ones handled by their two high bits (4.2). Then: for us (one of our unicast addresses -
// link-local ones on the interface they belong to - or a group the interface is in:
// all-nodes, the solicited-node group of each of its addresses), or forwarded when
// net.inet6.ip6.forwarding is on.
//
// For us, the header chain is walked (at most IP6_HDR_NESTLIMIT headers, each length
// checked against the packet: ip6s_exthdrtoolong): destination options, routing (segments
// left 0 is skipped; any routing header with segments left is refused with a parameter
// problem, RH0 per RFC 5095), fragment (frag6.ts), no next header, or an upper protocol;
// an unknown next header gets ICMPv6 parameter problem code 1 at the byte that names it
// (ip6s_noproto). The pfil in head (PFIL_HEAD_INET6) runs after the fixed header's checks,
// before hop-by-hop options and the local/forward decision, so forwarded packets pass it
// and ip6_output's out head, as in FreeBSD.

import { m_freem, m_pullup, m_adj, m_dup, curmod, pfil_hooked, pfil_run_hooks, PFIL_HEAD_INET6, PFIL_IN } from "../kmod/kapi";
import { pfil6_off } from "./ip6_output";
import { Ifnet, IFF_LOOPBACK } from "../sys/if";
import { Mbuf, M_PKTHDR, M_BCAST, M_MCAST, M_WRITABLE, mtod } from "../sys/mbuf";
import { EINVAL, EEXIST, ENOENT } from "../sys/errno";
import {
  IP6_HDR_LEN, IP6_SRC, IP6_DST, IP6_HLIM, IP6_NXT, IPPROTO_HOPOPTS, IPPROTO_ROUTING, IPPROTO_FRAGMENT, IPPROTO_DSTOPTS,
  IPPROTO_NONE, IPPROTO_ICMPV6, ip6_v, ip6_plen, ip6_nxt, ip6_hlim, IN6_IS_ADDR_UNSPECIFIED, IN6_IS_ADDR_MULTICAST,
  IN6_IS_ADDR_LOOPBACK, IN6_IS_ADDR_LINKLOCAL, IN6_IS_ADDR_V4MAPPED, IN6_MC_SCOPE, IPV6_SCOPE_INTFACELOCAL,
  ICMP6_PARAM_PROB, ICMP6_PARAMPROB_HEADER, ICMP6_PARAMPROB_NEXTHEADER, ICMP6_PARAMPROB_OPTION, ICMP6_TIME_EXCEEDED,
  ICMP6_TIME_EXCEED_TRANSIT, ICMP6_DST_UNREACH, ICMP6_DST_UNREACH_NOROUTE, ICMP6_DST_UNREACH_BEYONDSCOPE,
} from "../sys/in6";
import {
  V6, IP6STAT_INC, IP6S_TOTAL, IP6S_TOOSMALL, IP6S_BADVERS, IP6S_TOOSHORT, IP6S_BADOPTIONS, IP6S_BADSCOPE, IP6S_NOTMEMBER,
  IP6S_CANTFORWARD, IP6S_DELIVERED, IP6S_FORWARD, IP6S_NOROUTE, IP6S_TOOMANYHDR, IP6S_EXTHDRTOOLONG, IP6S_NOPROTO,
  IP6S_BADROUTING, IP6S_HDRORDER, IP6S_HLIMEXCEED, IP6_HDR_NESTLIMIT, IPV6_FORWARDING,
} from "./ip6_var";
import { in6_localip, in6_localip_anyif, in6_ismember, in6_ownsrc } from "./in6";
import { rt6_lookup } from "./in6_rmx";
import { ip6_output } from "./ip6_output";
import { frag6_input, frag6_off, frag6_nxtoff } from "./frag6";
import { icmp6_error } from "./icmp6";

// ---------------------------------------------------------------------------------------
// Protocol switch (inet6sw): input(m, off) and ctlinput(cmd, ip6, arg) per next header
// value, table slots. Global (protocols are code; their state is per vnet).
const protoInput = memory.data(256 * 4, 4);
const protoCtl = memory.data(256 * 4, 4);
const protoMod = memory.data(256 * 4, 4); // module id that registered each upper protocol (kmod_busy_holder)
let nUpper: u32 = 0;

export function ip6proto_reset(): void {
  memory.fill(protoInput, 0, 256 * 4);
  memory.fill(protoCtl, 0, 256 * 4);
  memory.fill(protoMod, 0, 256 * 4);
  nUpper = 0;
}

export function ip6proto_register_internal(proto: u32, input: u32, ctl: u32): void {
  store<u32>(protoInput + (proto << 2), input);
  store<u32>(protoCtl + (proto << 2), ctl);
}

@inline function isExtHdr(p: u32): bool {
  return p == IPPROTO_HOPOPTS || p == IPPROTO_ROUTING || p == IPPROTO_FRAGMENT || p == IPPROTO_DSTOPTS || p == IPPROTO_NONE;
}

/**
 * ip6proto_register: the input handler (m, off) => void (owns m; m starts at the IPv6
 * header, the upper-layer header is at off, the fixed header is contiguous) and the
 * control input (cmd, ip6, arg) => void for ICMPv6 errors about this protocol (cmd =
 * type << 8 | code; ip6 points at the quoted IPv6 header, contiguous with at least 8 bytes
 * after it, valid during the call; arg is
 * the MTU of a packet too big or the pointer of a parameter problem). ctlinput may be 0.
 * 0, -EINVAL (extension header numbers, ICMPv6), or -EEXIST.
 */
export function ip6proto_register(proto: u32, input: u32, ctlinput: u32): i32 {
  if (proto == 0 || proto >= 255 || input == 0 || isExtHdr(proto) || proto == IPPROTO_ICMPV6) return -EINVAL;
  if (load<u32>(protoInput + (proto << 2)) != 0) return -EEXIST;
  ip6proto_register_internal(proto, input, ctlinput);
  store<u32>(protoMod + (proto << 2), curmod());
  nUpper++;
  return 0;
}

export function ip6proto_unregister(proto: u32): i32 {
  if (proto == 0 || proto >= 255 || proto == IPPROTO_ICMPV6) return -EINVAL;
  if (load<u32>(protoInput + (proto << 2)) == 0) return -ENOENT;
  ip6proto_register_internal(proto, 0, 0);
  store<u32>(protoMod + (proto << 2), 0);
  nUpper--;
  return 0;
}

export function ip6proto_upper_count(): u32 {
  return nUpper;
}

/** The module id that registered the i-th upper protocol (in protocol number order), 0 past the last. */
export function ip6proto_holder(i: u32): u32 {
  for (let p: u32 = 1; p < 255; p++) {
    if (load<u32>(protoInput + (p << 2)) == 0 || load<u32>(protoMod + (p << 2)) == 0) continue;
    if (i == 0) return load<u32>(protoMod + (p << 2));
    i--;
  }
  return 0;
}

@inline export function ip6proto_ctlinput(proto: u32): u32 {
  return load<u32>(protoCtl + ((proto & 0xff) << 2));
}

// ---------------------------------------------------------------------------------------

@inline function drop(m: usize, why: u32): void {
  IP6STAT_INC(why);
  m_freem(m);
}

/**
 * Walk the options of a hop-by-hop or destination options header (RFC 8200 4.2) of hlen
 * bytes at off (contiguous). 0 = fine; otherwise m was consumed (counted, error sent).
 */
function ip6_dooptions(m: usize, off: u32, hlen: u32): i32 {
  const ip = mtod(m);
  const mcast = IN6_IS_ADDR_MULTICAST(ip + IP6_DST);
  let cp = off + 2;
  const end = off + hlen;
  while (cp < end) {
    const t = load<u8>(ip + cp);
    if (t == 0) {
      cp++; // Pad1
      continue;
    }
    if (cp + 2 > end) return badopt(m, cp);
    const olen = <u32>load<u8>(ip + cp + 1) + 2;
    if (cp + olen > end) return badopt(m, cp + 1);
    if (t == 1 || (t == 5 && olen == 4)) {
      cp += olen; // PadN, router alert
      continue;
    }
    // Unknown (and the jumbo payload option, not implemented): the two high bits say what to do.
    const action = t >> 6;
    if (action == 0) {
      cp += olen;
      continue;
    }
    IP6STAT_INC(IP6S_BADOPTIONS);
    if (action == 1 || (action == 3 && mcast)) m_freem(m);
    else icmp6_error(m, ICMP6_PARAM_PROB, ICMP6_PARAMPROB_OPTION, cp);
    return 1;
  }
  return 0;
}

function badopt(m: usize, ptr: u32): i32 {
  IP6STAT_INC(IP6S_BADOPTIONS);
  icmp6_error(m, ICMP6_PARAM_PROB, ICMP6_PARAMPROB_HEADER, ptr);
  return 1;
}

/** netisr handler for ETHERTYPE_IPV6 (and lo0's AF_INET6): m starts at the IPv6 header. */
export function ip6_input(ifp: usize, m: usize): void {
  IP6STAT_INC(IP6S_TOTAL);
  let mm = changetype<Mbuf>(m);
  if ((mm.m_flags & M_PKTHDR) == 0 || mm.ph_len < <i32>IP6_HDR_LEN) {
    drop(m, IP6S_TOOSMALL);
    return;
  }
  if (mm.m_len < <i32>IP6_HDR_LEN) {
    m = m_pullup(m, <i32>IP6_HDR_LEN);
    if (m == 0) {
      IP6STAT_INC(IP6S_TOOSMALL);
      return;
    }
    mm = changetype<Mbuf>(m);
  }
  let ip = mtod(m);
  if (ip6_v(ip) != 6) {
    drop(m, IP6S_BADVERS);
    return;
  }
  const plen = ip6_plen(ip);
  let nxt = <u32>ip6_nxt(ip);
  if (plen == 0 && nxt == IPPROTO_HOPOPTS) {
    drop(m, IP6S_BADOPTIONS); // a jumbogram (RFC 2675): not implemented
    return;
  }
  if (mm.ph_len < <i32>(IP6_HDR_LEN + plen)) {
    drop(m, IP6S_TOOSHORT);
    return;
  }
  if (mm.ph_len > <i32>(IP6_HDR_LEN + plen)) m_adj(m, <i32>(IP6_HDR_LEN + plen) - mm.ph_len); // link padding
  const src = ip + IP6_SRC;
  const dst = ip + IP6_DST;
  const loop = (changetype<Ifnet>(ifp).if_flags & IFF_LOOPBACK) != 0;
  // RFC 4291 2.5.2, 2.5.3, 2.7; RFC 4038: addresses that never arrive from a wire.
  if (IN6_IS_ADDR_MULTICAST(src) || IN6_IS_ADDR_UNSPECIFIED(dst) || IN6_IS_ADDR_V4MAPPED(src) || IN6_IS_ADDR_V4MAPPED(dst) ||
      (!loop && (IN6_IS_ADDR_LOOPBACK(src) || IN6_IS_ADDR_LOOPBACK(dst))) ||
      (IN6_IS_ADDR_MULTICAST(dst) && (IN6_MC_SCOPE(dst) == 0 || (!loop && IN6_MC_SCOPE(dst) == IPV6_SCOPE_INTFACELOCAL)))) {
    drop(m, IP6S_BADSCOPE);
    return;
  }
  // One of our own addresses as the source, from a wire: forged (a land attack makes a
  // connection talk to itself; our own traffic to ourselves goes through lo0). A tentative
  // address is not ours yet: a neighbour defending it answers from it (RFC 4862 5.4).
  if (!loop && in6_ownsrc(src, ifp)) {
    drop(m, IP6S_BADSCOPE);
    return;
  }
  if (pfil_hooked(pfil6_off, PFIL_HEAD_INET6, PFIL_IN)) {
    m = pfil_run_hooks(PFIL_HEAD_INET6, PFIL_IN, m, ifp, 0);
    if (m == 0) return;
    mm = changetype<Mbuf>(m);
    // A hook's replacement must still hold the fixed header.
    if ((mm.m_flags & M_PKTHDR) == 0 || mm.m_len < <i32>IP6_HDR_LEN) {
      drop(m, IP6S_TOOSMALL);
      return;
    }
    ip = mtod(m);
    nxt = <u32>ip6_nxt(ip);
  }
  let off = IP6_HDR_LEN;
  let nxtoff = <u32>IP6_NXT;
  if (nxt == IPPROTO_HOPOPTS) {
    // RFC 8200 4.3: examined by every node on the path, so before the forwarding decision.
    if (mm.ph_len >= <i32>(off + 2) && mm.m_len < <i32>(off + 2)) {
      m = m_pullup(m, <i32>(off + 2));
      if (m == 0) {
        IP6STAT_INC(IP6S_EXTHDRTOOLONG);
        return;
      }
    }
    const hl = exthdr_len(m, off);
    if (hl == 0) return;
    m = m_pullup(m, <i32>(off + hl));
    if (m == 0) {
      IP6STAT_INC(IP6S_EXTHDRTOOLONG);
      return;
    }
    if (ip6_dooptions(m, off, hl) != 0) return;
    mm = changetype<Mbuf>(m);
    ip = mtod(m);
    nxtoff = off;
    nxt = load<u8>(ip + off);
    off += hl;
  }

  const d = mtod(m) + IP6_DST;
  if (IN6_IS_ADDR_MULTICAST(d)) {
    if (!in6_ismember(ifp, d)) {
      drop(m, IP6S_NOTMEMBER);
      return;
    }
    mm.m_flags |= M_MCAST;
  } else if (!(loop ? in6_localip_anyif(d) : in6_localip(d, ifp))) {
    if (V6().forwarding == 0 || loop) drop(m, IP6S_CANTFORWARD);
    else ip6_forward(m, ifp);
    return;
  }
  ip6_deliver(m, off, nxt, nxtoff);
}

/**
 * The length of the extension header at off (8 + 8 * its length byte), checked against
 * the packet; 0 when it runs past the end (m consumed, counted).
 */
function exthdr_len(m: usize, off: u32): u32 {
  const len = <u32>changetype<Mbuf>(m).ph_len;
  if (off + 8 > len) {
    drop(m, IP6S_EXTHDRTOOLONG);
    return 0;
  }
  if (changetype<Mbuf>(m).m_len < <i32>(off + 2)) {
    drop(m, IP6S_EXTHDRTOOLONG); // callers pull up the first two bytes first
    return 0;
  }
  const hl = (<u32>load<u8>(mtod(m) + off + 1) + 1) << 3;
  if (off + hl > len) {
    drop(m, IP6S_EXTHDRTOOLONG);
    return 0;
  }
  return hl;
}

/** Walk the header chain of a packet for us from off (nxt named at nxtoff) and deliver it. */
export function ip6_deliver(m: usize, off: u32, nxt: u32, nxtoff: u32): void {
  for (let n: u32 = 0; ; n++) {
    if (n > IP6_HDR_NESTLIMIT) {
      drop(m, IP6S_TOOMANYHDR);
      return;
    }
    if (nxt == IPPROTO_DSTOPTS || nxt == IPPROTO_ROUTING) {
      if (changetype<Mbuf>(m).ph_len >= <i32>(off + 2) && changetype<Mbuf>(m).m_len < <i32>(off + 2)) {
        m = m_pullup(m, <i32>(off + 2));
        if (m == 0) {
          IP6STAT_INC(IP6S_EXTHDRTOOLONG);
          return;
        }
      }
      const hl = exthdr_len(m, off);
      if (hl == 0) return;
      m = m_pullup(m, <i32>(off + hl));
      if (m == 0) {
        IP6STAT_INC(IP6S_EXTHDRTOOLONG);
        return;
      }
      const h = mtod(m) + off;
      if (nxt == IPPROTO_DSTOPTS) {
        if (ip6_dooptions(m, off, hl) != 0) return;
      } else if (load<u8>(h + 3) != 0) {
        // RFC 8200 4.4: a routing type we do not know (RH0 included, RFC 5095) with segments left.
        IP6STAT_INC(IP6S_BADROUTING);
        icmp6_error(m, ICMP6_PARAM_PROB, ICMP6_PARAMPROB_HEADER, off + 2);
        return;
      }
      nxtoff = off;
      nxt = load<u8>(h);
      off += hl;
      continue;
    }
    if (nxt == IPPROTO_FRAGMENT) {
      if (off + 8 > <u32>changetype<Mbuf>(m).ph_len) {
        drop(m, IP6S_EXTHDRTOOLONG);
        return;
      }
      m = frag6_input(m, off, nxtoff);
      if (m == 0) return;
      off = frag6_off;
      nxtoff = frag6_nxtoff;
      nxt = load<u8>(mtod(m) + nxtoff);
      continue;
    }
    if (nxt == IPPROTO_HOPOPTS) {
      // RFC 8200 4.1: only right after the fixed header.
      IP6STAT_INC(IP6S_HDRORDER);
      icmp6_error(m, ICMP6_PARAM_PROB, ICMP6_PARAMPROB_NEXTHEADER, nxtoff);
      return;
    }
    if (nxt == IPPROTO_NONE) {
      m_freem(m);
      return;
    }
    const fn = load<u32>(protoInput + (nxt << 2));
    if (fn == 0) {
      IP6STAT_INC(IP6S_NOPROTO);
      icmp6_error(m, ICMP6_PARAM_PROB, ICMP6_PARAMPROB_NEXTHEADER, nxtoff);
      return;
    }
    IP6STAT_INC(IP6S_DELIVERED);
    call_indirect<void>(fn, m, off);
    return;
  }
}

/**
 * ip6_forward (RFC 8200, RFC 4443 3): link-local addresses stay on their link (RFC 4291
 * 2.5.6: beyond scope back to a link-local source), hop limit 1 -> time exceeded, no
 * route -> no route to destination; the hop limit drops by one (no header checksum in
 * IPv6); packet too big is ip6_output's.
 */
function ip6_forward(m: usize, ifp: usize): void {
  let mm = changetype<Mbuf>(m);
  let ip = mtod(m);
  if ((mm.m_flags & (M_BCAST | M_MCAST)) != 0 || IN6_IS_ADDR_UNSPECIFIED(ip + IP6_SRC)) {
    drop(m, IP6S_CANTFORWARD);
    return;
  }
  if (IN6_IS_ADDR_LINKLOCAL(ip + IP6_DST)) {
    IP6STAT_INC(IP6S_CANTFORWARD);
    drop(m, IP6S_BADSCOPE);
    return;
  }
  if (IN6_IS_ADDR_LINKLOCAL(ip + IP6_SRC)) {
    IP6STAT_INC(IP6S_CANTFORWARD);
    IP6STAT_INC(IP6S_BADSCOPE);
    icmp6_error(m, ICMP6_DST_UNREACH, ICMP6_DST_UNREACH_BEYONDSCOPE, 0);
    return;
  }
  if (ip6_hlim(ip) <= 1) {
    IP6STAT_INC(IP6S_HLIMEXCEED);
    icmp6_error(m, ICMP6_TIME_EXCEEDED, ICMP6_TIME_EXCEED_TRANSIT, 0);
    return;
  }
  if (rt6_lookup(ip + IP6_DST, 0) == 0) {
    IP6STAT_INC(IP6S_NOROUTE);
    IP6STAT_INC(IP6S_CANTFORWARD);
    icmp6_error(m, ICMP6_DST_UNREACH, ICMP6_DST_UNREACH_NOROUTE, 0);
    return;
  }
  if (!M_WRITABLE(m)) {
    const n = m_dup(m);
    m_freem(m);
    if (n == 0) {
      IP6STAT_INC(IP6S_CANTFORWARD);
      return;
    }
    m = n;
    mm = changetype<Mbuf>(m);
    ip = mtod(m);
  }
  store<u8>(ip + IP6_HLIM, ip6_hlim(ip) - 1);
  const r = ip6_output(m, 0, 0, 0, 0, IPV6_FORWARDING, 0);
  IP6STAT_INC(r == 0 ? IP6S_FORWARD : IP6S_CANTFORWARD);
}

export { EINVAL, in6_localip };
