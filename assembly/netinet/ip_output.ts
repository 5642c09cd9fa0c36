// IPv4 output (FreeBSD netinet/ip_output.c): header, route and source selection, pfil
// hooks, ARP resolution, fragmentation.
//
// ip_output(m, src, dst, proto, ttl, tos, flags, ifp) is what upper protocols call: m is
// the upper-layer packet (packet header mbuf); the IP header is prepended here. src 0 =
// the address of the outgoing interface (the route's address). A destination that is one
// of our own addresses loops through lo0. ifp is a hint used for the limited broadcast
// (255.255.255.255) only; routing decides everything else. Returns 0 (sent or queued
// behind ARP) or a negative errno; m is consumed either way.
//
// The forwarding path comes in with IP_FORWARDING (header present, TTL and checksum
// already updated): no allocation, one cached route lookup, one ARP hash lookup, the
// Ethernet header prepended into the leading space the frame arrived with.
//
// Several paths to a destination (net.route.multipath, in_rmx.ts): the route lookup returns
// their group, and the packet's flow hash (ip_flowhash: addresses, protocol, and the ports of
// TCP and UDP) picks one, so a connection's packets, and a forwarded flow's, keep one path.
//
// Offload (docs/tcp.md "Offload between vnets"): a packet may ask for its transport checksum
// (CSUM_DELAY_DATA) and, from TCP, for segmentation (CSUM_TSO, larger than the MTU when its
// ph_tso_segsz pieces fit it). ether_output_frame does in software what the interface does
// not assist (ip_offload.ts); lo0 and fragmentation get complete packets from here.

import {
  m_gethdr, m_freem, m_copym, m_adj, M_PREPEND, m_pullup, ether_output, looutput, loif, pfil_hooked, pfil_run_hooks, PFIL_HEAD_INET, PFIL_OUT, PFIL_FWD,
  m_copydata, nhgrp_is,
} from "../kmod/kapi";
import { flowhash_mix, flowhash_fin } from "../net/flowhash";
import { Ifnet, IFF_UP, IFF_LOOPBACK, AF_INET, ETHERTYPE_IP } from "../sys/if";
import { Mbuf, M_PKTHDR, MT_DATA, CSUM_TSO, CSUM_OFFLOAD, mtod } from "../sys/mbuf";
import { EINVAL } from "../sys/errno";
import {
  IP_HDR_MIN, IP_MAXPACKET, IP_DF, IP_MF, IP_OFFMASK, INADDR_BROADCAST, ICMP_UNREACH, ICMP_UNREACH_NEEDFRAG,
  ip_fill, ip_hl, ip_len, ip_off, ip_src, ip_dst, ip_set_len, ip_set_off, ip_set_sum, ip_set_src,
} from "../sys/in";
import { in_cksum_buf } from "../kmod/kapi";
import {
  Rtentry, InIfaddr, V, IPSTAT_INC, IPSTAT_ADD, IPS_LOCALOUT, IPS_ODROPPED, IPS_NOROUTE, IPS_CANTFRAG, IPS_FRAGMENTED,
  IPS_OFRAGMENTS, IPS_RAWOUT, IP_FORWARDING, IP_RAWOUTPUT, IP_ROUTETOIF, IP_ALLOWBROADCAST, IP_DONTFRAG, MAX_LINKHDR,
  EACCES, EMSGSIZE, EADDRNOTAVAIL, ENETDOWN, ENETUNREACH, EHOSTUNREACH, ENOBUFS, RTF_GATEWAY, RTF_BLACKHOLE,
} from "./ip_var";
import { rt_lookup, rt_lookup_any, rt_select } from "./in_rmx";
import { in_localip, in_ifaddr_byaddr, in_broadcast, in_ifaddr_first } from "./in";
import { arpresolve, etherbroadcast } from "./if_ether";
import { icmp_error } from "./ip_icmp";
import { ip_offload_sw, in_delayed_cksum } from "./ip_offload";

/** Internal: a reply built from a received packet (icmp_reflect): header present, locally sent. */
export const IP_REFLECT: u32 = 0x1000;

// ---------------------------------------------------------------------------------------
// pfil: inet owns the kernel's PFIL_HEAD_INET (net/pfil.ts); the hooks are per vnet there.
// pfil_off is the kernel's VNET offset of the hook lists, read at MOD_LOAD, so the packet
// path's test is one load and a compare.
export let pfil_off: u32 = 0;
export function pfil_set_off(off: u32): void {
  pfil_off = off;
}

// ---------------------------------------------------------------------------------------

/** Header checksum of hlen bytes at ip, written into the header. */
@inline export function ip_cksum_set(ip: usize, hlen: u32): void {
  store<u16>(ip + 10, 0);
  ip_set_sum(ip, in_cksum_buf(ip, hlen));
}

@inline function odrop(m: usize, err: i32): i32 {
  IPSTAT_INC(IPS_ODROPPED);
  m_freem(m);
  return -err;
}

/** Hand a finished packet to ifp for next hop nh (link broadcast when bcast). */
export function ip_send(ifp: usize, m: usize, nh: u32, bcast: bool): i32 {
  const ii = changetype<Ifnet>(ifp);
  if ((ii.if_flags & IFF_LOOPBACK) != 0) {
    // lo0 assists nothing: complete the packet (or its pieces) here.
    const need = changetype<Mbuf>(m).ph_csum_flags & CSUM_OFFLOAD;
    if (need == 0) return looutput(ifp, m, AF_INET);
    let l = ip_offload_sw(m, 0, need);
    if (l == 0) return -ENOBUFS;
    let err: i32 = 0;
    while (l != 0) {
      const next = changetype<Mbuf>(l).m_nextpkt;
      changetype<Mbuf>(l).m_nextpkt = 0;
      const r = looutput(ifp, l, AF_INET);
      if (err == 0) err = r;
      l = next;
    }
    return err;
  }
  let mac: usize;
  if (bcast) mac = etherbroadcast;
  else {
    mac = arpresolve(ifp, m, nh);
    if (mac == 0) return 0; // waiting for ARP (or dropped and counted there)
  }
  const r = ether_output(ifp, m, mac, ETHERTYPE_IP);
  if (r != 0) IPSTAT_INC(IPS_ODROPPED);
  return r;
}

/**
 * ip_output: see the file header. flags: IP_DONTFRAG, IP_ALLOWBROADCAST, IP_ROUTETOIF,
 * IP_RAWOUTPUT (the caller built the header), IP_FORWARDING (ip_forward).
 */
export function ip_output(m: usize, src: u32, dst: u32, proto: u32, ttl: u32, tos: u32, flags: u32, hint: usize): i32 {
  if (m == 0) return -EINVAL;
  let mm = changetype<Mbuf>(m);
  if ((mm.m_flags & M_PKTHDR) == 0) return odrop(m, EINVAL);
  let ip: usize;
  let hlen: u32;
  if ((flags & (IP_FORWARDING | IP_RAWOUTPUT | IP_REFLECT)) == 0) {
    const len = <u32>mm.ph_len + IP_HDR_MIN;
    if (len > IP_MAXPACKET) return odrop(m, EMSGSIZE);
    m = M_PREPEND(m, <i32>IP_HDR_MIN);
    if (m == 0) {
      IPSTAT_INC(IPS_ODROPPED);
      return -ENOBUFS;
    }
    mm = changetype<Mbuf>(m);
    ip = mtod(m);
    const vv = V();
    const id = <u16>vv.ip_id;
    vv.ip_id = (vv.ip_id + 1) & 0xffff;
    ip_fill(ip, <u8>tos, len, id, <u16>(flags & IP_DONTFRAG), <u8>ttl, <u8>proto, src, dst);
    hlen = IP_HDR_MIN;
    mm.ph_rcvif = 0;
    IPSTAT_INC(IPS_LOCALOUT);
  } else {
    if (mm.m_len < <i32>IP_HDR_MIN) {
      m = m_pullup(m, <i32>IP_HDR_MIN);
      if (m == 0) {
        IPSTAT_INC(IPS_ODROPPED);
        return -ENOBUFS;
      }
      mm = changetype<Mbuf>(m);
    }
    ip = mtod(m);
    hlen = ip_hl(ip);
    dst = ip_dst(ip);
    src = ip_src(ip);
    if ((flags & IP_FORWARDING) == 0) {
      mm.ph_rcvif = 0;
      IPSTAT_INC(IPS_LOCALOUT);
      if (flags & IP_RAWOUTPUT) IPSTAT_INC(IPS_RAWOUT);
    }
  }

  // Route: where it goes (ifp), the next hop (nh) and the address it leaves from (ifa).
  let ifp: usize = 0;
  let nh = dst;
  let ifa: usize = 0;
  let bcast = false;
  if (dst == INADDR_BROADCAST) {
    if ((flags & IP_ALLOWBROADCAST) == 0) return odrop(m, EACCES);
    ifp = hint;
    if (ifp == 0) {
      // The interface of the default route, as a route lookup for 255.255.255.255 would give.
      const r = rt_lookup(dst);
      if (r != 0) ifp = changetype<Rtentry>(r).rt_ifp;
    }
    if (ifp == 0) {
      IPSTAT_INC(IPS_NOROUTE);
      return odrop(m, ENETUNREACH);
    }
    ifa = in_ifaddr_first(ifp);
    bcast = true;
  } else if ((flags & IP_FORWARDING) == 0 && in_localip(dst)) {
    ifp = loif();
    ifa = in_ifaddr_byaddr(dst);
  } else {
    let r = rt_lookup_any(dst);
    if (r == 0) {
      IPSTAT_INC(IPS_NOROUTE);
      return odrop(m, EHOSTUNREACH);
    }
    if (nhgrp_is(r)) r = rt_select(r, ip_flowhash(m, ip, hlen));
    const rt = changetype<Rtentry>(r);
    if ((rt.rt_flags & RTF_BLACKHOLE) != 0) {
      // Discarded, and the sender is told nothing (FreeBSD: lo0 drops RTF_BLACKHOLE).
      rt.rt_use++;
      m_freem(m);
      return 0;
    }
    if ((rt.rt_flags & RTF_GATEWAY) != 0) {
      if ((flags & IP_ROUTETOIF) != 0) return odrop(m, ENETUNREACH);
      nh = rt.rt_gateway;
    } else {
      bcast = in_broadcast(dst, rt.rt_ifp);
      if (bcast && (flags & IP_ALLOWBROADCAST) == 0) return odrop(m, EACCES);
    }
    rt.rt_use++;
    ifp = rt.rt_ifp;
    ifa = rt.rt_ifa;
  }
  const ii = changetype<Ifnet>(ifp);
  if ((ii.if_flags & IFF_UP) == 0) return odrop(m, ENETDOWN);
  if (src == 0) {
    if ((flags & IP_FORWARDING) != 0 || ifa == 0) return odrop(m, EADDRNOTAVAIL);
    src = changetype<InIfaddr>(ifa).ia_addr;
    ip_set_src(ip, src);
  }

  if (pfil_hooked(pfil_off, PFIL_HEAD_INET, PFIL_OUT)) {
    m = pfil_run_hooks(PFIL_HEAD_INET, PFIL_OUT, m, ifp, (flags & IP_FORWARDING) != 0 ? PFIL_FWD : 0);
    if (m == 0) return -EACCES;
    mm = changetype<Mbuf>(m);
    // A hook's replacement must still hold the header it had.
    if ((mm.m_flags & M_PKTHDR) == 0 || mm.m_len < <i32>hlen) return odrop(m, EINVAL);
    ip = mtod(m);
  }

  const len = ip_len(ip);
  const mtu = ii.if_mtu;
  if (len <= mtu || tso_fits(m, ip, hlen, mtu)) {
    if ((flags & IP_FORWARDING) == 0) ip_cksum_set(ip, hlen);
    return ip_send(ifp, m, nh, bcast);
  }
  // Too big for the link.
  if ((ip_off(ip) & IP_DF) != 0) {
    IPSTAT_INC(IPS_CANTFRAG);
    if ((flags & IP_FORWARDING) != 0) icmp_error(m, ICMP_UNREACH, ICMP_UNREACH_NEEDFRAG, mtu); // RFC 1191
    else m_freem(m);
    return -EMSGSIZE;
  }
  if ((mm.ph_csum_flags & CSUM_OFFLOAD) != 0) {
    // Fragments carry the checksum of the whole datagram: complete it first.
    m = in_delayed_cksum(m, 0);
    if (m == 0) {
      IPSTAT_INC(IPS_ODROPPED);
      return -ENOBUFS;
    }
    changetype<Mbuf>(m).ph_csum_flags &= ~CSUM_TSO;
  }
  return ip_fragment(m, ifp, mtu, nh, bcast, hlen);
}

const portbuf = memory.data(4, 4);

/**
 * The flow hash of the packet whose IPv4 header (hlen bytes) is at ip: source, destination
 * and protocol, and for TCP and UDP the two ports, unless the packet is a fragment (later
 * fragments carry no ports; all of a datagram's fragments then hash alike). Fixed for a
 * connection's life: its addresses and ports are.
 */
export function ip_flowhash(m: usize, ip: usize, hlen: u32): u32 {
  const p = <u32>load<u8>(ip + 9);
  let h = flowhash_mix(flowhash_mix(p, load<u32>(ip + 12)), load<u32>(ip + 16));
  if ((p == 6 || p == 17) && (ip_off(ip) & (IP_MF | IP_OFFMASK)) == 0) {
    let ports: u32 = 0;
    if (changetype<Mbuf>(m).m_len >= <i32>(hlen + 4)) ports = load<u32>(ip + hlen);
    else if (m_copydata(m, <i32>hlen, 4, portbuf)) ports = load<u32>(portbuf);
    h = flowhash_mix(h, ports);
  }
  return flowhash_fin(h);
}

/**
 * A large TCP segment (CSUM_TSO) fits a link when each of its pieces does: IP and TCP
 * headers plus ph_tso_segsz bytes within mtu. (Forwarded, it keeps the sender's piece size;
 * pieces too big for the next link are refused like any packet with DF: RFC 1191.)
 */
function tso_fits(m: usize, ip: usize, hlen: u32, mtu: u32): bool {
  const mm = changetype<Mbuf>(m);
  if ((mm.ph_csum_flags & CSUM_TSO) == 0 || mm.ph_tso_segsz == 0 || mm.m_len < <i32>(hlen + 20)) return false;
  const thoff = (<u32>load<u8>(ip + hlen + 12) >> 4) << 2;
  return hlen + thoff + <u32>mm.ph_tso_segsz <= mtu;
}

/**
 * Cut m (a whole datagram, or a fragment being forwarded) into fragments that fit mtu and
 * send them in order. Later fragments carry a 20-byte header: options are not copied
 * (the only "copied" options are source routes, refused on input, and the obsolete
 * security option).
 */
function ip_fragment(m: usize, ifp: usize, mtu: u32, nh: u32, bcast: bool, hlen: u32): i32 {
  const mm = changetype<Mbuf>(m);
  const ip = mtod(m);
  const total = ip_len(ip);
  const datalen = total - hlen;
  const firstlen = (mtu - hlen) & ~7;
  const otherlen = (mtu - IP_HDR_MIN) & ~7;
  if (mtu < hlen + 8 || firstlen == 0 || otherlen == 0) {
    IPSTAT_INC(IPS_CANTFRAG);
    m_freem(m);
    return -EMSGSIZE;
  }
  const off0 = ip_off(ip);
  const baseoff: u32 = <u32>(off0 & IP_OFFMASK) << 3;
  const lastmf = off0 & IP_MF; // a fragment being re-fragmented keeps its MF on its last piece
  let head: usize = 0;
  let tail: usize = 0;
  let nfrags: u32 = 1;
  for (let off = firstlen; off < datalen; off += otherlen) {
    const len = min<u32>(otherlen, datalen - off);
    const last = off + len >= datalen;
    const h = m_gethdr(MT_DATA);
    const n = h != 0 ? m_copym(m, <i32>(hlen + off), <i32>len) : 0;
    if (n == 0) {
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
    memory.copy(fip, ip, IP_HDR_MIN);
    store<u8>(fip, 0x45);
    ip_set_len(fip, IP_HDR_MIN + len);
    ip_set_off(fip, <u16>(((baseoff + off) >> 3) | (last ? lastmf : IP_MF)));
    ip_cksum_set(fip, IP_HDR_MIN);
    hh.m_len = <i32>IP_HDR_MIN;
    hh.m_next = n;
    hh.ph_len = <i32>(IP_HDR_MIN + len);
    hh.ph_rcvif = mm.ph_rcvif;
    hh.m_nextpkt = 0;
    if (tail != 0) changetype<Mbuf>(tail).m_nextpkt = h;
    else head = h;
    tail = h;
    nfrags++;
  }
  // The original becomes the first fragment.
  m_adj(m, -<i32>(datalen - firstlen));
  ip_set_len(ip, hlen + firstlen);
  ip_set_off(ip, <u16>((baseoff >> 3) | IP_MF));
  ip_cksum_set(ip, hlen);
  IPSTAT_INC(IPS_FRAGMENTED);
  IPSTAT_ADD(IPS_OFRAGMENTS, nfrags);
  let err = ip_send(ifp, m, nh, bcast);
  while (head != 0) {
    const next = changetype<Mbuf>(head).m_nextpkt;
    changetype<Mbuf>(head).m_nextpkt = 0;
    const r = ip_send(ifp, head, nh, bcast);
    if (err == 0) err = r;
    head = next;
  }
  return err;
}

export { IP_DF, IP_FORWARDING, IP_RAWOUTPUT };
