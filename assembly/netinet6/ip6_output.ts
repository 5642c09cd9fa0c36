// IPv6 output (FreeBSD netinet6/ip6_output.c): header, source selection, route, neighbour
// resolution, source fragmentation.
//
// ip6_output(m, src, dst, nxt, hlim, flags, ifp) is what upper protocols call: m is the
// upper-layer packet (packet header mbuf); the 40-byte header is prepended here. src and
// dst point at 16-byte addresses; src 0 = chosen here (in6_selectsrc). ifp names the zone
// of a link-local or link-scope multicast destination (required for those) and is
// otherwise ignored: routing decides. A destination that is one of our own addresses
// loops through lo0. Returns 0 (sent, or queued behind ND) or a negative errno; m is
// consumed either way.
//
// Routers never fragment (RFC 8200 5): a forwarded packet too big for the next link gets
// ICMPv6 packet too big with that link's MTU. A packet of ours that is too big is cut
// into fragments (a Fragment header after the fixed header, 8-byte aligned pieces)
// unless IPV6_DONTFRAG (ping6 -D; -EMSGSIZE). ICMPv6 errors are never larger than 1280.
//
// Offload (docs/tcp.md "Offload between vnets"): TCP and UDP leave their checksum to the
// interface (CSUM_TCP_IPV6, CSUM_UDP_IPV6) and TCP may hand over one large segment
// (CSUM_IP6_TSO, larger than the MTU when its ph_tso_segsz pieces fit it; never fragmented).
// ether_output_frame does in software what the interface does not assist; here, lo0 (which
// assists nothing) and fragmentation get complete packets. A forwarded packet keeps its
// bits, so a router between two offloading epairs passes them on untouched.
//
// pfil: inet6 owns the kernel's PFIL_HEAD_INET6 (net/pfil.ts); the out hooks run after
// routing, before fragmentation (forwarded packets too, with PFIL_FWD).

/** The kernel's VNET offset of the pfil lists (read at MOD_LOAD): pfil_hooked's load. */
export let pfil6_off: u32 = 0;
export function pfil6_set_off(off: u32): void {
  pfil6_off = off;
}

import {
  m_gethdr, m_freem, m_copym, M_PREPEND, m_pullup, ether_output, looutput, loif, arc4random, pfil_hooked, pfil_run_hooks,
  PFIL_HEAD_INET6, PFIL_OUT, PFIL_FWD, m_copydata, nhgrp_is,
} from "../kmod/kapi";
import { Ifnet, IFF_UP, IFF_LOOPBACK, AF_INET6, ETHERTYPE_IPV6, IF_HW_TSOMAX } from "../sys/if";
import { Mbuf, M_PKTHDR, MT_DATA, CSUM_IP6_TSO, CSUM_OFFLOAD6, mtod } from "../sys/mbuf";
import { EINVAL } from "../sys/errno";
import {
  IP6_HDR_LEN, IP6_SRC, IP6_DST, IP6_NXT, IP6F_LEN, IPV6_MAXPACKET, IPV6_MMTU, IPPROTO_FRAGMENT, ip6_fill, ip6_plen,
  ip6_set_plen, ip6_nxt, in6_copy, in6_mcast_mac, IN6_IS_ADDR_MULTICAST, IN6_IS_ADDR_LINKLOCAL, IN6_IS_ADDR_UNSPECIFIED,
  IN6_MC_SCOPE, IPV6_SCOPE_LINKLOCAL, ICMP6_PACKET_TOO_BIG,
} from "../sys/in6";
import {
  Rt6entry, V6, IP6STAT_INC, IP6STAT_ADD, IP6S_LOCALOUT, IP6S_ODROPPED, IP6S_NOROUTE, IP6S_CANTFRAG, IP6S_FRAGMENTED,
  IP6S_OFRAGMENTS, IP6S_TOOBIG, IPV6_FORWARDING, IPV6_REFLECT, IPV6_DONTFRAG, IPV6_UNSPECSRC, IPV6_MINMTU, MAX_LINKHDR,
  EMSGSIZE, EADDRNOTAVAIL, ENETDOWN, ENETUNREACH, EHOSTUNREACH, ENOBUFS, RTF_GATEWAY, rt6_gw, ia6_addr,
} from "./ip6_var";
import { rt6_lookup, rt6_lookup_any, rt6_select } from "./in6_rmx";
import { flowhash_mix, flowhash_fin } from "../net/flowhash";
import { in6_localip, in6_selectsrc_ifp } from "./in6";
import { nd6_resolve } from "./nd6";
import { in6_ifmtu } from "./nd6_rtr";
import { icmp6_error } from "./icmp6";
import { ip6_offload_sw, in6_delayed_cksum } from "./ip6_offload";

/** A destination whose scope is a link: link-local unicast, or multicast of interface/link scope. */
@inline export function in6_linkscope(dst: usize): bool {
  return IN6_IS_ADDR_LINKLOCAL(dst) || (IN6_IS_ADDR_MULTICAST(dst) && IN6_MC_SCOPE(dst) <= IPV6_SCOPE_LINKLOCAL);
}

/**
 * in6_selectsrc: the source for a packet to dst (ifp: the zone of a link-scope dst) into
 * out. Our own address answers itself; otherwise the outgoing interface's best address
 * (in6_selectsrc_ifp). 0 or -EHOSTUNREACH (no route, or a link-scope dst without ifp),
 * -EADDRNOTAVAIL (the interface has no usable address).
 */
export function in6_selectsrc(dst: usize, ifp: usize, out: usize): i32 {
  if (!IN6_IS_ADDR_MULTICAST(dst) && in6_localip(dst, ifp)) {
    in6_copy(out, dst);
    return 0;
  }
  let oif = ifp;
  if (!in6_linkscope(dst) || oif == 0) {
    if (in6_linkscope(dst)) return -EHOSTUNREACH;
    const r = rt6_lookup(dst, 0);
    if (r == 0) return -EHOSTUNREACH;
    oif = changetype<Rt6entry>(r).rt_ifp;
  }
  const a = in6_selectsrc_ifp(oif, dst);
  if (a == 0) return -EADDRNOTAVAIL;
  in6_copy(out, ia6_addr(a));
  return 0;
}

/**
 * The MTU toward dst from the current vnet (lo0's for our own addresses), or 0 when there
 * is no route. TCP derives its MSS from it.
 */
export function in6_rtmtu(dst: usize, ifp: usize): u32 {
  if (in6_localip(dst, ifp)) {
    const lo = loif();
    return lo != 0 ? changetype<Ifnet>(lo).if_mtu : 0;
  }
  if (in6_linkscope(dst)) return ifp != 0 ? in6_ifmtu(ifp) : 0;
  const r = rt6_lookup(dst, 0);
  return r != 0 ? in6_ifmtu(changetype<Rt6entry>(r).rt_ifp) : 0;
}

/**
 * The largest packet (IPv6 header included) TCP may hand ip6_output for dst as one large
 * segment (CSUM_IP6_TSO): IF_HW_TSOMAX when the interface of the route assists TSO6 now,
 * else 0 (our own addresses go through lo0, which does not; link-scope destinations have
 * no route to ask). Asked per tcp_output call, as inet's in_rttso.
 */
export function in6_rttso(dst: usize): u32 {
  if (in6_linkscope(dst) || in6_localip(dst, 0)) return 0;
  const r = rt6_lookup(dst, 0);
  if (r == 0) return 0;
  const ifp = changetype<Rt6entry>(r).rt_ifp;
  if (ifp == 0) return 0;
  const ii = changetype<Ifnet>(ifp);
  return (ii.if_hwassist & CSUM_IP6_TSO) != 0 && (ii.if_flags & IFF_UP) != 0 ? IF_HW_TSOMAX : 0;
}

const portbuf = memory.data(4, 4);

/**
 * The flow hash of the packet whose IPv6 header is at ip (net.route.multipath): both
 * addresses and the next header, and the ports when that is TCP or UDP (a packet with
 * extension headers hashes by addresses alone, as do all its fragments). Fixed for a
 * connection's life.
 */
export function ip6_flowhash(m: usize, ip: usize): u32 {
  const nxt = <u32>load<u8>(ip + 6);
  let h = nxt;
  for (let o: usize = 8; o < 40; o += 4) h = flowhash_mix(h, load<u32>(ip + o));
  if (nxt == 6 || nxt == 17) {
    let ports: u32 = 0;
    if (changetype<Mbuf>(m).m_len >= 44) ports = load<u32>(ip + 40);
    else if (m_copydata(m, 40, 4, portbuf)) ports = load<u32>(portbuf);
    h = flowhash_mix(h, ports);
  }
  return flowhash_fin(h);
}

@inline function odrop(m: usize, err: i32): i32 {
  IP6STAT_INC(IP6S_ODROPPED);
  m_freem(m);
  return -err;
}

const macbuf = memory.data(8, 4);
const nhbuf = memory.data(16, 8);

/** Hand a finished packet to ifp for next hop nh (a group's MAC for multicast). */
export function ip6_send(ifp: usize, m: usize, nh: usize): i32 {
  const ii = changetype<Ifnet>(ifp);
  if ((ii.if_flags & IFF_LOOPBACK) != 0) {
    // lo0 assists nothing: complete the packet (or its pieces) here.
    const need = changetype<Mbuf>(m).ph_csum_flags & CSUM_OFFLOAD6;
    if (need == 0) return looutput(ifp, m, AF_INET6);
    let l = ip6_offload_sw(m, 0, need);
    if (l == 0) return -ENOBUFS;
    let err: i32 = 0;
    while (l != 0) {
      const next = changetype<Mbuf>(l).m_nextpkt;
      changetype<Mbuf>(l).m_nextpkt = 0;
      const r = looutput(ifp, l, AF_INET6);
      if (err == 0) err = r;
      l = next;
    }
    return err;
  }
  let mac: usize;
  if (IN6_IS_ADDR_MULTICAST(nh)) {
    in6_mcast_mac(macbuf, nh);
    mac = macbuf;
  } else {
    mac = nd6_resolve(ifp, m, nh);
    if (mac == 0) return 0; // waiting for ND (or dropped and counted there)
  }
  const r = ether_output(ifp, m, mac, ETHERTYPE_IPV6);
  if (r != 0) IP6STAT_INC(IP6S_ODROPPED);
  return r;
}

/** ip6_output: see the file header. flags: IPV6_DONTFRAG, IPV6_MINMTU, IPV6_UNSPECSRC, IPV6_REFLECT, IPV6_FORWARDING. */
export function ip6_output(m: usize, src: usize, dst: usize, nxt: u32, hlim: u32, flags: u32, ifp: usize): i32 {
  if (m == 0) return -EINVAL;
  let mm = changetype<Mbuf>(m);
  if ((mm.m_flags & M_PKTHDR) == 0) return odrop(m, EINVAL);
  let ip: usize;
  if ((flags & (IPV6_FORWARDING | IPV6_REFLECT)) == 0) {
    if (<u32>mm.ph_len > IPV6_MAXPACKET) return odrop(m, EMSGSIZE);
    if (dst == 0) return odrop(m, EINVAL);
    const plen = <u32>mm.ph_len;
    m = M_PREPEND(m, <i32>IP6_HDR_LEN);
    if (m == 0) {
      IP6STAT_INC(IP6S_ODROPPED);
      return -ENOBUFS;
    }
    mm = changetype<Mbuf>(m);
    ip = mtod(m);
    // The header is filled before the source is known; dst is copied first (src may be 0).
    ip6_fill(ip, plen, <u8>nxt, <u8>hlim, dst, dst);
    if (src != 0) in6_copy(ip + IP6_SRC, src);
    else if ((flags & IPV6_UNSPECSRC) == 0) {
      const e = in6_selectsrc(ip + IP6_DST, ifp, ip + IP6_SRC);
      if (e != 0) {
        if (e == -EHOSTUNREACH) IP6STAT_INC(IP6S_NOROUTE);
        return odrop(m, -e);
      }
    } else {
      store<u64>(ip + IP6_SRC, 0);
      store<u64>(ip + IP6_SRC + 8, 0);
    }
    mm.ph_rcvif = 0;
    IP6STAT_INC(IP6S_LOCALOUT);
  } else {
    if (mm.m_len < <i32>IP6_HDR_LEN) {
      m = m_pullup(m, <i32>IP6_HDR_LEN);
      if (m == 0) {
        IP6STAT_INC(IP6S_ODROPPED);
        return -ENOBUFS;
      }
      mm = changetype<Mbuf>(m);
    }
    ip = mtod(m);
    if ((flags & IPV6_FORWARDING) == 0) {
      mm.ph_rcvif = 0;
      IP6STAT_INC(IP6S_LOCALOUT);
    }
  }
  const d = ip + IP6_DST;

  // Route: the interface and the next hop.
  let oif: usize = 0;
  in6_copy(nhbuf, d);
  if (IN6_IS_ADDR_MULTICAST(d)) {
    oif = ifp;
    if (oif == 0 && IN6_MC_SCOPE(d) > IPV6_SCOPE_LINKLOCAL) {
      const r = rt6_lookup(d, 0);
      if (r != 0) oif = changetype<Rt6entry>(r).rt_ifp;
    }
    if (oif == 0) {
      IP6STAT_INC(IP6S_NOROUTE);
      return odrop(m, ENETUNREACH);
    }
  } else if ((flags & IPV6_FORWARDING) == 0 && in6_localip(d, ifp)) {
    oif = loif();
  } else if (IN6_IS_ADDR_LINKLOCAL(d)) {
    oif = (flags & IPV6_FORWARDING) != 0 ? 0 : ifp; // never forwarded off its link (ip6_forward checks)
    if (oif == 0) {
      IP6STAT_INC(IP6S_NOROUTE);
      return odrop(m, EHOSTUNREACH);
    }
  } else {
    let r = rt6_lookup_any(d, 0);
    if (r == 0) {
      IP6STAT_INC(IP6S_NOROUTE);
      return odrop(m, EHOSTUNREACH);
    }
    if (nhgrp_is(r)) r = rt6_select(r, ip6_flowhash(m, ip)); // several paths: the flow's
    const rt = changetype<Rt6entry>(r);
    if ((rt.rt_flags & RTF_GATEWAY) != 0) in6_copy(nhbuf, rt6_gw(r));
    rt.rt_use++;
    oif = rt.rt_ifp;
  }
  const ii = changetype<Ifnet>(oif);
  if ((ii.if_flags & IFF_UP) == 0) return odrop(m, ENETDOWN);
  if (pfil_hooked(pfil6_off, PFIL_HEAD_INET6, PFIL_OUT)) {
    m = pfil_run_hooks(PFIL_HEAD_INET6, PFIL_OUT, m, oif, (flags & IPV6_FORWARDING) != 0 ? PFIL_FWD : 0);
    if (m == 0) return -13; // EACCES: a filter took it
    // A hook's replacement must still hold the fixed header.
    if ((changetype<Mbuf>(m).m_flags & M_PKTHDR) == 0 || changetype<Mbuf>(m).m_len < <i32>IP6_HDR_LEN) return odrop(m, EINVAL);
    ip = mtod(m);
  }

  const len = IP6_HDR_LEN + ip6_plen(ip);
  let mtu = in6_ifmtu(oif);
  if (len <= mtu || tso6_fits(m, ip, mtu)) return ip6_send(oif, m, nhbuf);
  if ((flags & IPV6_FORWARDING) != 0) {
    // RFC 8200 5, RFC 4443 3.2: routers do not fragment.
    IP6STAT_INC(IP6S_TOOBIG);
    icmp6_error(m, ICMP6_PACKET_TOO_BIG, 0, mtu);
    return -EMSGSIZE;
  }
  if ((flags & IPV6_DONTFRAG) != 0) {
    IP6STAT_INC(IP6S_CANTFRAG);
    m_freem(m);
    return -EMSGSIZE;
  }
  if ((flags & IPV6_MINMTU) != 0 && mtu > IPV6_MMTU) mtu = IPV6_MMTU;
  if (len <= mtu) return ip6_send(oif, m, nhbuf);
  if ((changetype<Mbuf>(m).ph_csum_flags & CSUM_OFFLOAD6) != 0) {
    // Fragments carry the checksum of the whole datagram: complete it first (never TSO).
    m = in6_delayed_cksum(m, 0);
    if (m == 0) {
      IP6STAT_INC(IP6S_ODROPPED);
      return -ENOBUFS;
    }
    changetype<Mbuf>(m).ph_csum_flags &= ~CSUM_IP6_TSO;
  }
  return ip6_fragment(m, oif, mtu, load<u64>(nhbuf), load<u64>(nhbuf, 8));
}

/**
 * A large TCP segment (CSUM_IP6_TSO) fits a link when each of its pieces does: the IPv6 and
 * TCP headers plus ph_tso_segsz bytes within mtu. Only a segment with TCP right after the
 * fixed header qualifies (ours never carry extension headers). Forwarded, it keeps the
 * sender's piece size; pieces too big for the next link get packet too big (RFC 8201).
 */
function tso6_fits(m: usize, ip: usize, mtu: u32): bool {
  const mm = changetype<Mbuf>(m);
  if ((mm.ph_csum_flags & CSUM_IP6_TSO) == 0 || mm.ph_tso_segsz == 0 || mm.m_len < <i32>(IP6_HDR_LEN + 20) || ip6_nxt(ip) != 6) return false;
  const thoff = (<u32>load<u8>(ip + IP6_HDR_LEN + 12) >> 4) << 2;
  return IP6_HDR_LEN + thoff + <u32>mm.ph_tso_segsz <= mtu;
}

/**
 * Cut a packet of ours (fixed header, no extension headers) into fragments that fit mtu
 * (RFC 8200 4.5) and send them in order. The original is freed.
 */
function ip6_fragment(m: usize, ifp: usize, mtu: u32, nh0: u64, nh1: u64): i32 {
  const ip = mtod(m);
  const plen = ip6_plen(ip);
  const chunk = (mtu - IP6_HDR_LEN - IP6F_LEN) & ~7;
  if (mtu < IP6_HDR_LEN + IP6F_LEN + 8 || chunk == 0) {
    IP6STAT_INC(IP6S_CANTFRAG);
    m_freem(m);
    return -EMSGSIZE;
  }
  const vv = V6();
  if (vv.frag_ident == 0) vv.frag_ident = arc4random() | 1;
  const ident = vv.frag_ident;
  vv.frag_ident++;
  const nxt = ip6_nxt(ip);
  let head: usize = 0;
  let tail: usize = 0;
  let n: u32 = 0;
  for (let off: u32 = 0; off < plen; off += chunk) {
    const l = min<u32>(chunk, plen - off);
    const last = off + l >= plen;
    const h = m_gethdr(MT_DATA);
    const body = h != 0 ? m_copym(m, <i32>(IP6_HDR_LEN + off), <i32>l) : 0;
    if (body == 0) {
      if (h != 0) m_freem(h);
      while (head != 0) {
        const next = changetype<Mbuf>(head).m_nextpkt;
        m_freem(head);
        head = next;
      }
      return odrop(m, ENOBUFS);
    }
    const hh = changetype<Mbuf>(h);
    hh.m_data += MAX_LINKHDR;
    const fip = mtod(h);
    memory.copy(fip, ip, IP6_HDR_LEN);
    store<u8>(fip + IP6_NXT, IPPROTO_FRAGMENT);
    ip6_set_plen(fip, IP6F_LEN + l);
    const fh = fip + IP6_HDR_LEN;
    store<u8>(fh, nxt);
    store<u8>(fh + 1, 0);
    store<u16>(fh + 2, bswap<u16>(<u16>(off | (last ? 0 : 1))));
    store<u32>(fh + 4, bswap<u32>(ident));
    hh.m_len = <i32>(IP6_HDR_LEN + IP6F_LEN);
    hh.m_next = body;
    hh.ph_len = <i32>(IP6_HDR_LEN + IP6F_LEN + l);
    hh.m_nextpkt = 0;
    if (tail != 0) changetype<Mbuf>(tail).m_nextpkt = h;
    else head = h;
    tail = h;
    n++;
  }
  m_freem(m);
  IP6STAT_INC(IP6S_FRAGMENTED);
  IP6STAT_ADD(IP6S_OFRAGMENTS, n);
  let err: i32 = 0;
  while (head != 0) {
    const next = changetype<Mbuf>(head).m_nextpkt;
    changetype<Mbuf>(head).m_nextpkt = 0;
    // Sending can re-enter this module (a synchronous link): the next hop is a local until used.
    store<u64>(nhbuf, nh0);
    store<u64>(nhbuf, nh1, 8);
    const r = ip6_send(ifp, head, nhbuf);
    if (err == 0) err = r;
    head = next;
  }
  return err;
}


export { IN6_IS_ADDR_UNSPECIFIED, IPV6_FORWARDING, IPV6_REFLECT };
