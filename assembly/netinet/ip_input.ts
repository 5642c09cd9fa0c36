// IPv4 input and forwarding (FreeBSD netinet/ip_input.c, ip_fastfwd.c), and the protocol
// switch upper protocols register with.
//
// ip_input checks every header field before it uses it (RFC 791, RFC 1122 3.2.1), in
// FreeBSD's order and with FreeBSD's counters: length >= 20 (ips_toosmall), version 4
// (ips_badvers), 20 <= IHL <= data (ips_badhlen), header checksum (ips_badsum), total
// length >= IHL (ips_badlen), total length <= frame (ips_tooshort; trailing link padding
// is trimmed), martian addresses (ips_badaddr: loopback on a non-loopback interface,
// source multicast/broadcast/zero/class E, one of our own addresses as the source from a
// wire), options walked with bounds checks
// (ips_badoptions; source routes are refused, FreeBSD's net.inet.ip.sourceroute=0). Then
// local delivery (one of our addresses, weak host model; the limited or a subnet
// broadcast), reassembly, and the protocol switch; or forwarding when
// net.inet.ip.forwarding is on (RFC 1812); else ips_cantforward.

import { m_freem, m_pullup, m_adj, m_dup, in_cksum_buf, in_cksum_update, curmod } from "../kmod/kapi";
import { Ifnet, IFF_LOOPBACK } from "../sys/if";
import { Mbuf, M_PKTHDR, M_BCAST, M_MCAST, M_WRITABLE, CSUM_IP_CHECKED, CSUM_IP_VALID, mtod } from "../sys/mbuf";
import { EINVAL, EEXIST, ENOENT } from "../sys/errno";
import {
  IP_HDR_MIN, IPVERSION, IP_MF, IP_OFFMASK, IPPROTO_ICMP, INADDR_BROADCAST, INADDR_ANY, IP_TTL, IP_SUM,
  IN_MULTICAST, IN_LOOPBACK, IN_EXPERIMENTAL, IN_ZERONET, IPOPT_EOL, IPOPT_NOP, IPOPT_LSRR, IPOPT_SSRR,
  ICMP_UNREACH, ICMP_UNREACH_HOST, ICMP_UNREACH_PROTOCOL, ICMP_UNREACH_SRCFAIL, ICMP_TIMXCEED, ICMP_TIMXCEED_INTRANS,
  ICMP_PARAMPROB, ICMP_PARAMPROB_ERRATPTR, ip_v, ip_hl, ip_len, ip_off, ip_ttl, ip_p, ip_src, ip_dst,
} from "../sys/in";
import {
  V, IPSTAT_INC, IPS_TOTAL, IPS_TOOSMALL, IPS_BADVERS, IPS_BADHLEN, IPS_BADSUM, IPS_BADLEN, IPS_TOOSHORT, IPS_BADADDR,
  IPS_BADOPTIONS, IPS_NOTMEMBER, IPS_CANTFORWARD, IPS_NOPROTO, IPS_DELIVERED, IPS_FORWARD, IPS_FASTFORWARD, IPS_NOROUTE, IP_FORWARDING, Rtentry, RTF_BLACKHOLE,
} from "./ip_var";
import { in_localip, in_broadcast } from "./in";
import { rt_lookup } from "./in_rmx";
import { ip_output, pfil_off } from "./ip_output";
import { pfil_hooked, pfil_run_hooks, PFIL_HEAD_INET, PFIL_IN } from "../kmod/kapi";
import { ip_reass } from "./ip_reass";
import { icmp_error } from "./ip_icmp";

// ---------------------------------------------------------------------------------------
// Protocol switch (inetsw): input(m, iphlen) and ctlinput(cmd, ip_quote, src) per protocol
// number, table slots. Global (protocols are code, their state is per vnet).
const protoInput = memory.data(256 * 4, 4);
const protoCtl = memory.data(256 * 4, 4);
const protoMod = memory.data(256 * 4, 4); // module id that registered each upper protocol (kmod_busy_holder)
let nUpper: u32 = 0; // protocols registered by other modules

export function ipproto_reset(): void {
  memory.fill(protoInput, 0, 256 * 4);
  memory.fill(protoCtl, 0, 256 * 4);
  memory.fill(protoMod, 0, 256 * 4);
  nUpper = 0;
}

/** The module's own protocols (ICMP) register here; they do not make the module busy. */
export function ipproto_register_internal(proto: u32, input: u32, ctl: u32): void {
  store<u32>(protoInput + (proto << 2), input);
  store<u32>(protoCtl + (proto << 2), ctl);
}

/**
 * ipproto_register: the input handler (m, iphlen) => void (owns m; m starts at the IP
 * header, which is contiguous) and the control input (cmd, ip, src) => void for ICMP
 * errors about this protocol (cmd = type << 8 | code, plus next-hop MTU << 16 for
 * fragmentation needed; ip points at the quoted IP header, valid during the call, with at
 * least 8 bytes after its header; src is the reporter's address) of protocol proto.
 * ctlinput may be 0. 0, -EINVAL, or -EEXIST when the number is taken.
 */
export function ipproto_register(proto: u32, input: u32, ctlinput: u32): i32 {
  if (proto == 0 || proto >= 255 || input == 0) return -EINVAL;
  if (load<u32>(protoInput + (proto << 2)) != 0) return -EEXIST;
  ipproto_register_internal(proto, input, ctlinput);
  store<u32>(protoMod + (proto << 2), curmod());
  nUpper++;
  return 0;
}

export function ipproto_unregister(proto: u32): i32 {
  if (proto == 0 || proto >= 255 || proto == IPPROTO_ICMP) return -EINVAL;
  if (load<u32>(protoInput + (proto << 2)) == 0) return -ENOENT;
  ipproto_register_internal(proto, 0, 0);
  store<u32>(protoMod + (proto << 2), 0);
  nUpper--;
  return 0;
}

export function ipproto_upper_count(): u32 {
  return nUpper;
}

/** The module id that registered the i-th upper protocol (in protocol number order), 0 past the last. */
export function ipproto_holder(i: u32): u32 {
  for (let p: u32 = 1; p < 255; p++) {
    if (load<u32>(protoInput + (p << 2)) == 0 || load<u32>(protoMod + (p << 2)) == 0) continue;
    if (i == 0) return load<u32>(protoMod + (p << 2));
    i--;
  }
  return 0;
}

@inline export function ipproto_ctlinput(proto: u32): u32 {
  return load<u32>(protoCtl + ((proto & 0xff) << 2));
}

// ---------------------------------------------------------------------------------------

@inline function drop(m: usize, why: u32): void {
  IPSTAT_INC(why);
  m_freem(m);
}

/** Walk the options (hlen > 20). 0 = fine; otherwise m was consumed (error sent, counted). */
function ip_dooptions(m: usize, hlen: u32): i32 {
  const ip = mtod(m);
  let cp: u32 = IP_HDR_MIN;
  while (cp < hlen) {
    const opt = load<u8>(ip + cp);
    if (opt == IPOPT_EOL) break;
    let optlen: u32 = 1;
    if (opt != IPOPT_NOP) {
      if (cp + 1 >= hlen) return badopt(m, cp);
      optlen = load<u8>(ip + cp + 1);
      if (optlen < 2 || cp + optlen > hlen) return badopt(m, cp + 1);
      if (opt == IPOPT_LSRR || opt == IPOPT_SSRR) {
        // Source routing is refused (FreeBSD net.inet.ip.sourceroute=0).
        IPSTAT_INC(IPS_BADOPTIONS);
        icmp_error(m, ICMP_UNREACH, ICMP_UNREACH_SRCFAIL, 0);
        return 1;
      }
      // Record route and timestamp are carried, not updated.
    }
    cp += optlen;
  }
  return 0;
}

function badopt(m: usize, ptr: u32): i32 {
  IPSTAT_INC(IPS_BADOPTIONS);
  icmp_error(m, ICMP_PARAMPROB, ICMP_PARAMPROB_ERRATPTR, ptr);
  return 1;
}

/** netisr handler for ETHERTYPE_IP (and lo0's AF_INET): m starts at the IP header. */
export function ip_input(ifp: usize, m: usize): void {
  IPSTAT_INC(IPS_TOTAL);
  let mm = changetype<Mbuf>(m);
  if ((mm.m_flags & M_PKTHDR) == 0 || mm.ph_len < <i32>IP_HDR_MIN) {
    drop(m, IPS_TOOSMALL);
    return;
  }
  if (mm.m_len < <i32>IP_HDR_MIN) {
    m = m_pullup(m, <i32>IP_HDR_MIN);
    if (m == 0) {
      IPSTAT_INC(IPS_TOOSMALL);
      return;
    }
    mm = changetype<Mbuf>(m);
  }
  let ip = mtod(m);
  if (ip_v(ip) != IPVERSION) {
    drop(m, IPS_BADVERS);
    return;
  }
  const hlen = ip_hl(ip);
  if (hlen < IP_HDR_MIN || <i32>hlen > mm.ph_len) {
    drop(m, IPS_BADHLEN);
    return;
  }
  if (<i32>hlen > mm.m_len) {
    m = m_pullup(m, <i32>hlen);
    if (m == 0) {
      IPSTAT_INC(IPS_BADHLEN);
      return;
    }
    mm = changetype<Mbuf>(m);
    ip = mtod(m);
  }
  const cf = mm.ph_csum_flags;
  if ((cf & CSUM_IP_CHECKED) != 0 ? (cf & CSUM_IP_VALID) == 0 : in_cksum_buf(ip, hlen) != 0) {
    drop(m, IPS_BADSUM);
    return;
  }
  const len = ip_len(ip);
  if (len < hlen) {
    drop(m, IPS_BADLEN);
    return;
  }
  if (mm.ph_len < <i32>len) {
    drop(m, IPS_TOOSHORT);
    return;
  }
  if (mm.ph_len > <i32>len) m_adj(m, <i32>len - mm.ph_len); // link-layer padding
  const src = ip_src(ip);
  let dst = ip_dst(ip);
  const loop = (changetype<Ifnet>(ifp).if_flags & IFF_LOOPBACK) != 0;
  // RFC 1122 3.2.1.3: martians. 127/8 never on a wire; a source is never a broadcast,
  // multicast, class E or zero address.
  if (!loop && (IN_LOOPBACK(src) || IN_LOOPBACK(dst))) {
    drop(m, IPS_BADADDR);
    return;
  }
  if (src == INADDR_ANY || src == INADDR_BROADCAST || IN_MULTICAST(src) || IN_EXPERIMENTAL(src) || (!loop && in_broadcast(src, ifp))) {
    drop(m, IPS_BADADDR);
    return;
  }
  // One of our own addresses as the source, from a wire: what we send to ourselves goes
  // through lo0, so this is forged (a land attack: src = dst makes a connection talk to
  // itself). Linux drops it as a martian source (ip_route_input, accept_local 0).
  if (!loop && in_localip(src)) {
    drop(m, IPS_BADADDR);
    return;
  }
  if (hlen > IP_HDR_MIN && ip_dooptions(m, hlen) != 0) return;
  if (pfil_hooked(pfil_off, PFIL_HEAD_INET, PFIL_IN)) {
    m = pfil_run_hooks(PFIL_HEAD_INET, PFIL_IN, m, ifp, 0);
    if (m == 0) return;
    mm = changetype<Mbuf>(m);
    // A hook's replacement must still hold the header it had.
    if ((mm.m_flags & M_PKTHDR) == 0 || mm.m_len < <i32>hlen) {
      drop(m, IPS_BADHLEN);
      return;
    }
    ip = mtod(m);
    // A hook may have rewritten the destination (ipfw nat): route by the new one, as
    // FreeBSD's ip_input does after pfil (its dchg).
    dst = ip_dst(ip);
  }

  if (!in_localip(dst)) {
    if (dst == INADDR_BROADCAST || in_broadcast(dst, ifp)) {
      mm.m_flags |= M_BCAST;
    } else if (IN_MULTICAST(dst)) {
      drop(m, IPS_NOTMEMBER); // no multicast groups yet
      return;
    } else {
      if (V().forwarding == 0 || loop) drop(m, IPS_CANTFORWARD);
      else ip_forward(m, ifp);
      return;
    }
  }

  // Ours.
  if ((ip_off(ip) & (IP_MF | IP_OFFMASK)) != 0) {
    m = ip_reass(m, hlen);
    if (m == 0) return;
    ip = mtod(m);
  }
  ip_deliver(m, ip_hl(ip));
}

/** Hand a whole datagram for us to its protocol. */
export function ip_deliver(m: usize, hlen: u32): void {
  const ip = mtod(m);
  const fn = load<u32>(protoInput + (<usize>ip_p(ip) << 2));
  if (fn == 0) {
    IPSTAT_INC(IPS_NOPROTO);
    if ((changetype<Mbuf>(m).m_flags & (M_BCAST | M_MCAST)) == 0) icmp_error(m, ICMP_UNREACH, ICMP_UNREACH_PROTOCOL, 0);
    else m_freem(m);
    return;
  }
  IPSTAT_INC(IPS_DELIVERED);
  call_indirect<void>(fn, m, hlen);
}

/**
 * ip_forward (RFC 1812 5.2, 5.3): never broadcasts, multicasts or martians; TTL expiry ->
 * time exceeded; no route -> host unreachable (FreeBSD's code); TTL decremented with the
 * checksum updated incrementally (RFC 1624); fragmentation needed -> ip_output reports it.
 */
function ip_forward(m: usize, ifp: usize): void {
  let mm = changetype<Mbuf>(m);
  let ip = mtod(m);
  const dst = ip_dst(ip);
  const src = ip_src(ip);
  if ((mm.m_flags & (M_BCAST | M_MCAST)) != 0 || IN_EXPERIMENTAL(dst) || IN_ZERONET(dst) ||
      (dst & 0xffff0000) == 0xa9fe0000 || (src & 0xffff0000) == 0xa9fe0000) {
    // Link-level broadcast, class E, 0/8, and link-local 169.254/16 (RFC 3927 2.7) stay on their link.
    drop(m, IPS_CANTFORWARD);
    return;
  }
  if (ip_ttl(ip) <= 1) {
    icmp_error(m, ICMP_TIMXCEED, ICMP_TIMXCEED_INTRANS, 0);
    return;
  }
  const rt = rt_lookup(dst);
  if (rt == 0) {
    IPSTAT_INC(IPS_NOROUTE);
    IPSTAT_INC(IPS_CANTFORWARD);
    icmp_error(m, ICMP_UNREACH, ICMP_UNREACH_HOST, 0);
    return;
  }
  if ((changetype<Rtentry>(rt).rt_flags & RTF_BLACKHOLE) != 0) {
    // A blackhole route: discarded without an ICMP error, counted (FreeBSD's ip_tryforward).
    drop(m, IPS_CANTFORWARD);
    return;
  }
  if (!M_WRITABLE(m)) {
    // A shared (flooded) buffer: the header we change must be our own.
    const n = m_dup(m);
    m_freem(m);
    if (n == 0) {
      IPSTAT_INC(IPS_CANTFORWARD);
      return;
    }
    m = n;
    mm = changetype<Mbuf>(m);
    ip = mtod(m);
  }
  // TTL - 1; the TTL shares a 16-bit word with the protocol (RFC 1624 eqn. 3).
  const ttl = ip_ttl(ip);
  const oldw = (<u16>ttl << 8) | <u16>ip_p(ip);
  store<u8>(ip + IP_TTL, ttl - 1);
  const sum = in_cksum_update(bswap<u16>(load<u16>(ip + IP_SUM)), oldw, oldw - 0x100);
  store<u16>(ip + IP_SUM, bswap<u16>(sum));
  const fast = ip_hl(ip) == IP_HDR_MIN;
  const r = ip_output(m, 0, dst, 0, 0, 0, IP_FORWARDING, 0);
  IPSTAT_INC(r == 0 ? IPS_FORWARD : IPS_CANTFORWARD);
  // FreeBSD forwards a packet without options on its fast path (ip_tryforward) and counts
  // it again there; wavnet has one path, so the count says which packets FreeBSD's would
  // have taken (it sends no redirects, which would send them to the slow path).
  if (r == 0 && fast) IPSTAT_INC(IPS_FASTFORWARD);
}

export { ICMP_UNREACH_HOST, EINVAL };
