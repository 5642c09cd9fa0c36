// udp: the User Datagram Protocol (RFC 768) as a loadable module (FreeBSD
// netinet/udp_usrreq.c). It imports no network module: each family in the kernel is found
// through its entry table (domain_af_api: inet's sys/in.ts INAPI_*, inet6's IN6API_*), so
// udp loads in GENERIC, NOINET6 and NOINET kernels and serves the families present (at
// least one; without any, MOD_LOAD fails with EAFNOSUPPORT). Over IPv4, datagrams come in
// through inet's protocol switch (udp_input, udp_ctlinput) and go out through its ip_output;
// sockets reach it through the socket layer's protocol switch (AF_INET, SOCK_DGRAM,
// IPPROTO_UDP; the default of (AF_INET, SOCK_DGRAM) when it is the first datagram protocol
// registered).
//
// Files: udp/udp_var.ts (PCB, per-vnet block, udpstat, knobs), udp/in_pcb.ts (PCB table:
// bind, ephemeral ports, lookups), udp/udp_hostapi.ts (counters, knobs and batched
// send/receive for the host), this file (module events, user requests, input, output,
// ICMP errors). UDP over IPv6 is netinet6/udp6_usrreq.ts, in this module, over the same PCBs.
//
// Input (udp_input) checks before it uses, in FreeBSD's order and with its counters: a
// whole header (udps_hdrops), the length field >= 8 and <= the IP payload (udps_badlen; a
// payload longer than the field is trimmed to it), the checksum over the pseudo-header
// unless it is zero (udps_badsum; zero = none, accepted and counted in udps_nosum). A
// unicast datagram goes to the best PCB (connected 4-tuple > bound address > wildcard);
// none: ICMP port unreachable (udps_noport). A broadcast or multicast one is copied to every
// matching PCB (udps_noportbcast if none; never an ICMP error). A full receive buffer drops
// the datagram (udps_fullsock and the socket's sb_drops).
//
// Output (udp_output): implicit bind to an ephemeral port, source address from the bound
// address or the route (inet's in_selectsrc), header and checksum over the pseudo-header
// (a computed 0 is sent as 0xffff; delayed, CSUM_UDP: the field holds the pseudo-header sum
// and the interface, or ip_output's software fallback, completes it, docs/tcp.md "Offload
// between vnets"; an epair peer vouches for the data instead), ip_output without DF (IP fragments up to 65507 bytes of
// data), SO_BROADCAST -> IP_ALLOWBROADCAST (else EACCES), SO_DONTROUTE -> IP_ROUTETOIF.
// IP_SENDSRCADDR (a control message of the send, udp_control) picks the source address of
// one datagram; IP_RECVDSTADDR (an option) notes each arriving datagram's destination in its
// packet header (ph_spare, read back by udp_hostapi.ts udp_recvmsg). docs/udp-cmsg.md.
// Errors come back to the sender. ICMP errors about a datagram reach the connected socket
// of its 4-tuple as so_error (port unreachable -> ECONNREFUSED), as FreeBSD does;
// unconnected sockets hear nothing (RFC 1122 4.1.3.3 leaves it to the application).
//
// Module life: MOD_QUIESCE refuses (EBUSY) while any UDP socket is open, so `kldunload udp`
// is refused (ModuleBusyError) until they close or it is forced (then the sockets are closed
// by the kernel: the host hears 'close'). `kldunload inet` (or inet6) is refused by the
// family's MOD_QUIESCE while udp is registered with its protocol switch, and the message
// names udp (kmod_busy_holder). So: close the sockets, kldunload udp, then kldunload inet.
// A forced unload of inet under udp leaves udp loaded: its IPv4 output then fails with
// ENETUNREACH (live() below), its IPv6 half goes on.

import {
  vnet_data_alloc, vnet_data_free, vnet_data_copy, vnet_master_base, vnet_sysinit_register, zone_create, zone_destroy,
  ZONE_CHARGE, ZONE_ZERO, SI_SUB_PROTO_DOMAIN, SI_ORDER_MIDDLE, MOD_LOAD, MOD_UNLOAD, MOD_QUIESCE, ENOMEM, EBUSY, EINVAL,
  protosw_register, protosw_unregister, pffindproto, protosw_busy, sbappendaddr, sorwakeup, soisconnected, soseterror,
  m_freem, m_pullup, m_adj, m_copym, m_length, M_PREPEND, in_cksum, in_pseudo, curvnet, if_first, if_next,
  EAFNOSUPPORT, EADDRNOTAVAIL, EADDRINUSE, EISCONN, ENOTCONN, ENOPROTOOPT, ENOBUFS, EMSGSIZE, ENETUNREACH, ECONNREFUSED, EHOSTUNREACH,
  ECONNABORTED, vnet_first, vnet_next, CURVNET_SET, CURVNET_RESTORE,
} from "../kmod/kapi";
import {
  Socket, AF_INET, AF_UNSPEC, SOCK_DGRAM, SS_ISCONNECTED, SOPT_SET, SOPT_GET, SOL_SOCKET, SO_BROADCAST, SO_DONTROUTE, SO_REUSEADDR, SO_REUSEPORT,
  MSG_DONTROUTE, PRU_SIZE, PRU_ATTACH, PRU_DETACH, PRU_BIND, PRU_CONNECT, PRU_DISCONNECT, PRU_SEND, PRU_SHUTDOWN,
  PRU_SOCKADDR, PRU_PEERADDR, PRU_CTLOUTPUT, SOCKADDR_IN_SIZE, SOCKADDR_IN6_SIZE, sa_len, sa_family, sin_port, sin_addr,
  sockaddr_in_set, sockaddr_in6_mapped,
} from "../sys/socket";
import { Mbuf, M_BCAST, M_MCAST, CSUM_L4_CALC, CSUM_L4_VALID, CSUM_UDP, mtod } from "../sys/mbuf";
import {
  IPPROTO_UDP, UDP_HDR_LEN, UH_SPORT, UH_DPORT, UH_ULEN, UH_SUM, INADDR_ANY, INADDR_BROADCAST, INADDR_LOOPBACK,
  IN_MULTICAST, IN_LOOPBACK, ICMP_UNREACH, ICMP_UNREACH_PORT, ICMP_UNREACH_NEEDFRAG, ICMP_UNREACH_PROTOCOL,
  ICMP_UNREACH_FILTER_PROHIB, ICMP_TIMXCEED, ICMP_TIMXCEED_INTRANS, ICMP_PARAMPROB, ip_hl, ip_src, ip_dst, INAPI_OUTPUT,
  INAPI_SELECTSRC, INAPI_LOCALIP, INAPI_BROADCAST, INAPI_PROTO_REGISTER, INAPI_PROTO_UNREGISTER, INAPI_ERROR,
} from "../sys/in";
import {
  Inpcb, UdpGlobals, UdpVnet, V, VV, inp, UDPSTAT_INC, UDPS_IPACKETS, UDPS_HDROPS, UDPS_BADSUM, UDPS_NOSUM, UDPS_BADLEN,
  UDPS_NOPORT, UDPS_NOPORTBCAST, UDPS_FULLSOCK, UDPS_OPACKETS, UDPS_DELIVERED, UDPS_ODROPPED, UDP_VNET_SIZE,
  UDP_MAXPAYLOAD, UDP_PCB_VNET_LIMIT, IPPORT_EPHEMERALFIRST, IPPORT_EPHEMERALLAST, INP_BOUNDADDR, IPPROTO_IP, IP_TTL, IP_TOS,
  INP_RECVDSTADDR, IP_RECVDSTADDR, IP_SENDSRCADDR, INP_IPV4, INP_IPV6PROTO,
} from "./udp/udp_var";
import {
  in_pcballoc, in_pcbfree, in_pcbbind, in_pcblookup, in_pcblookup_exact, in_pcblookup_connected, in_pcbchain,
  in_pcbhash_free,
} from "./udp/in_pcb";
import { udp_busy } from "./udp/udp_hostapi";
import { AfApi, af_attach, af_detach, af_live, af_fn } from "../kmod/af_api";
import { udp6_attach_family, udp6_detach_family, udp6_busy, udp6_served } from "../netinet6/udp6_usrreq";
export { kmod_heap_top } from "../kmod/kmod";
export {
  udp_stat, udp_get, udp_set, udp_busy, udp_sendmmsg, udp_recvmmsg, udp_batch_error, udp_sendmsg, udp_recvmsg, udp_rcvdstaddr,
} from "./udp/udp_hostapi";

// inet's entry table (sys/in.ts INAPI_*) while udp serves AF_INET, found at MOD_LOAD.
const inet = changetype<AfApi>(memory.data(offsetof<AfApi>(), 4));

/** inet is still the one whose table udp attached to (a forced unload of inet clears it). */
@inline function live(): bool {
  return af_live(inet);
}

// inet's entry points, called through its table. Input paths call them without live():
// inet is the caller there. User requests check live() first.
@inline function in_localip(a: u32): bool {
  return call_indirect<bool>(af_fn(inet, INAPI_LOCALIP), a);
}
@inline function in_broadcast(a: u32, ifp: usize): bool {
  return call_indirect<bool>(af_fn(inet, INAPI_BROADCAST), a, ifp);
}
@inline function in_selectsrc(dst: u32): u32 {
  return call_indirect<u32>(af_fn(inet, INAPI_SELECTSRC), dst);
}
@inline function icmp_error(m: usize, type: u32, code: u32, arg: u32): void {
  call_indirect<void>(af_fn(inet, INAPI_ERROR), m, type, code, arg);
}

// ip_output flags (netinet/ip_var.ts values)
const IP_ROUTETOIF: u32 = 0x10;
const IP_ALLOWBROADCAST: u32 = 0x20;

const usrreqs = memory.data(PRU_SIZE, 4);
const srcsa = memory.data(<i32>SOCKADDR_IN6_SIZE, 8); // the sender's sockaddr of the datagram being delivered

/** The sender's address as p's socket names it: sockaddr_in, or ::ffff:src for an AF_INET6 socket (dual or v4-mapped). */
@inline function udp_srcsa(p: usize, src: u32, sport: u16): usize {
  if ((inp(p).inp_vflag & INP_IPV6PROTO) != 0) sockaddr_in6_mapped(srcsa, src, sport);
  else sockaddr_in_set(srcsa, src, sport);
  return srcsa;
}

@inline function pcbOf(so: usize): usize {
  return changetype<Socket>(so).so_pcb;
}

// ---------------------------------------------------------------------------------------
// Input

/** Queue the datagram in m (IP header at the front, off = IP header length) on p's socket. */
function udp_append(p: usize, m: usize, off: u32, src: u32, sport: u16, dst: u32): void {
  m_adj(m, <i32>(off + UDP_HDR_LEN));
  const so = inp(p).inp_socket;
  // IP_RECVDSTADDR: the destination rides in the packet header to recvmsg (0: none asked;
  // never a real destination). Always written: the field is scratch elsewhere (frag6).
  changetype<Mbuf>(m).ph_spare = (inp(p).inp_flags & INP_RECVDSTADDR) != 0 ? dst : 0;
  if (sbappendaddr(so, udp_srcsa(p, src, sport), m)) {
    UDPSTAT_INC(UDPS_DELIVERED);
    sorwakeup(so);
  } else {
    m_freem(m); // counted in the socket's sb_drops by sbappendaddr
    UDPSTAT_INC(UDPS_FULLSOCK);
  }
}

/** A broadcast or multicast datagram: a copy for every matching PCB (FreeBSD's loop). */
function udp_input_bcast(m: usize, iphlen: u32, ulen: u32, src: u32, sport: u16, dst: u32, dport: u16): void {
  let last: usize = 0;
  for (let p = in_pcbchain(dport); p != 0; p = inp(p).inp_hnext) {
    const x = inp(p);
    if (x.inp_lport != dport || x.inp_socket == 0 || (x.inp_vflag & INP_IPV4) == 0) continue;
    if (x.inp_laddr != INADDR_ANY && x.inp_laddr != dst) continue;
    if (x.inp_faddr != INADDR_ANY && (x.inp_faddr != src || x.inp_fport != sport)) continue;
    if (last != 0) {
      if ((inp(last).inp_flags & INP_RECVDSTADDR) != 0) {
        // From the front: the copy needs a packet header to carry the destination.
        const n = m_copym(m, 0, <i32>(iphlen + ulen));
        if (n != 0) udp_append(last, n, iphlen, src, sport, dst);
      } else {
        // The data only: the copy needs no headers.
        const n = m_copym(m, <i32>(iphlen + UDP_HDR_LEN), <i32>(ulen - UDP_HDR_LEN));
        if (n != 0) udp_append_data(last, n, src, sport);
      }
    }
    last = p;
    // A socket that does not share its port ends the search (FreeBSD's heuristic).
    if ((changetype<Socket>(x.inp_socket).so_options & <u32>(SO_REUSEADDR | SO_REUSEPORT)) == 0) break;
  }
  if (last == 0) {
    UDPSTAT_INC(UDPS_NOPORTBCAST);
    m_freem(m);
    return;
  }
  udp_append(last, m, iphlen, src, sport, dst);
}

function udp_append_data(p: usize, n: usize, src: u32, sport: u16): void {
  const so = inp(p).inp_socket;
  if (sbappendaddr(so, udp_srcsa(p, src, sport), n)) {
    UDPSTAT_INC(UDPS_DELIVERED);
    sorwakeup(so);
  } else {
    m_freem(n);
    UDPSTAT_INC(UDPS_FULLSOCK);
  }
}

/** inet's protocol switch entry for IPPROTO_UDP: m starts at the (contiguous) IP header. */
export function udp_input(m: usize, iphlen: u32): void {
  UDPSTAT_INC(UDPS_IPACKETS);
  let mm = changetype<Mbuf>(m);
  const iplen = <u32>mm.ph_len; // ip_input trimmed the packet to ip_len
  if (iplen < iphlen + UDP_HDR_LEN) {
    UDPSTAT_INC(UDPS_HDROPS);
    m_freem(m);
    return;
  }
  if (<u32>mm.m_len < iphlen + UDP_HDR_LEN) {
    m = m_pullup(m, <i32>(iphlen + UDP_HDR_LEN));
    if (m == 0) {
      UDPSTAT_INC(UDPS_HDROPS);
      return;
    }
    mm = changetype<Mbuf>(m);
  }
  const ip = mtod(m);
  const uh = ip + iphlen;
  const src = ip_src(ip);
  const dst = ip_dst(ip);
  const sport = bswap<u16>(load<u16>(uh + UH_SPORT));
  const dport = bswap<u16>(load<u16>(uh + UH_DPORT));
  const ulen = <u32>bswap<u16>(load<u16>(uh + UH_ULEN));
  const plen = iplen - iphlen;
  if (ulen != plen) {
    if (ulen > plen || ulen < UDP_HDR_LEN) {
      UDPSTAT_INC(UDPS_BADLEN);
      m_freem(m);
      return;
    }
    m_adj(m, <i32>ulen - <i32>plen); // the IP payload is longer than the datagram: trim (FreeBSD)
  }
  // RFC 768: a zero checksum means none was computed.
  if (load<u16>(uh + UH_SUM) != 0) {
    const cf = mm.ph_csum_flags;
    const bad = (cf & CSUM_L4_CALC) != 0 ? (cf & CSUM_L4_VALID) == 0 :
      in_cksum(m, iphlen, ulen, in_pseudo(src, dst, IPPROTO_UDP, ulen)) != 0;
    if (bad) {
      UDPSTAT_INC(UDPS_BADSUM);
      m_freem(m);
      return;
    }
  } else {
    UDPSTAT_INC(UDPS_NOSUM);
  }
  // inet delivers a datagram only when it is for one of our addresses or a broadcast, and
  // marks a broadcast M_BCAST (sys/in.ts INAPI_*): without the mark the destination is ours
  // and a unicast datagram costs no call into inet here (it was one, through inet's table,
  // per datagram: measurable, bench/drivers/ab_transport.ts).
  if (IN_MULTICAST(dst) || ((mm.m_flags & M_BCAST) != 0 && (dst == INADDR_BROADCAST || (!in_localip(dst) && in_broadcast(dst, mm.ph_rcvif))))) {
    udp_input_bcast(m, iphlen, ulen, src, sport, dst, dport);
    return;
  }
  const p = in_pcblookup(src, sport, dst, dport);
  if (p == 0 || inp(p).inp_socket == 0) {
    UDPSTAT_INC(UDPS_NOPORT);
    if ((mm.m_flags & (M_BCAST | M_MCAST)) != 0) {
      UDPSTAT_INC(UDPS_NOPORTBCAST);
      m_freem(m);
      return;
    }
    icmp_error(m, ICMP_UNREACH, ICMP_UNREACH_PORT, 0);
    return;
  }
  udp_append(p, m, iphlen, src, sport, dst);
}

/** The errno an ICMP error reports to a connected socket (FreeBSD inetctlerrmap), 0 = none. */
function icmp2errno(type: u32, code: u32): i32 {
  if (type == ICMP_UNREACH) {
    if (code == ICMP_UNREACH_PORT || code == ICMP_UNREACH_PROTOCOL || code == ICMP_UNREACH_FILTER_PROHIB) return ECONNREFUSED;
    if (code == ICMP_UNREACH_NEEDFRAG) return EMSGSIZE;
    return EHOSTUNREACH;
  }
  if (type == ICMP_TIMXCEED) return code == ICMP_TIMXCEED_INTRANS ? EHOSTUNREACH : 0;
  if (type == ICMP_PARAMPROB) return ENOPROTOOPT;
  return 0; // source quench: ignored
}

/**
 * inet's control input for IPPROTO_UDP: an ICMP error quoting one of our datagrams (ip: the
 * quoted IP header, 8 bytes of UDP after it). The connected socket of that 4-tuple gets
 * the error.
 */
export function udp_ctlinput(cmd: u32, ip: usize, reporter: u32): void {
  const err = icmp2errno((cmd >> 8) & 0xff, cmd & 0xff);
  if (err == 0) return;
  const uh = ip + ip_hl(ip);
  const lport = <u32>bswap<u16>(load<u16>(uh + UH_SPORT));
  const fport = <u32>bswap<u16>(load<u16>(uh + UH_DPORT));
  const p = in_pcblookup_connected(ip_dst(ip), fport, ip_src(ip), lport);
  if (p != 0 && inp(p).inp_socket != 0) soseterror(inp(p).inp_socket, err);
}

// ---------------------------------------------------------------------------------------
// Output

/** The source address for a datagram to dst from an unbound socket, or 0 (no route). */
function udp_selectsrc(dst: u32): u32 {
  if (!live()) return 0;
  if (in_localip(dst)) return dst;
  if (IN_LOOPBACK(dst)) return INADDR_LOOPBACK;
  return in_selectsrc(dst);
}

// Control messages of a send, as the host lays them out (docs/udp-cmsg.md): records of
// [cmsg_len u32][cmsg_level i32][cmsg_type i32][data], each starting 4-byte aligned,
// cmsg_len = 12 + the data's length (FreeBSD's cmsghdr with 4-byte CMSG_ALIGN).
const CMSG_HDR: u32 = 12;
let ctlSrc: u32 = 0; // udp_control's IP_SENDSRCADDR address (host order)

/**
 * The control messages of one send (FreeBSD udp_output's loop): 1 with an IP_SENDSRCADDR
 * (the address in ctlSrc), 0 without, or -errno: a record shorter than its header or longer
 * than what is left, or an IP_SENDSRCADDR whose data is not 4 bytes: EINVAL; another
 * IPPROTO_IP type: ENOPROTOOPT. Other levels are skipped. Takes control.
 */
function udp_control(control: usize): i32 {
  const c = changetype<Mbuf>(control);
  const base = c.m_data;
  const clen = <u32>max<i32>(c.m_len, 0);
  let r: i32 = c.m_next != 0 ? -EINVAL : 0; // one mbuf (the host's control is at most MLEN)
  let off: u32 = 0;
  while (r >= 0 && off < clen) {
    // cl >= 12 and <= what is left: the header is inside the record, and each step moves on.
    // (The first u32 may lie past a short tail; the check fails it then, still in the mbuf.)
    const cl = load<u32>(base + off);
    if (cl < CMSG_HDR || cl > clen - off) {
      r = -EINVAL;
      break;
    }
    if (load<i32>(base + off + 4) == IPPROTO_IP) {
      if (load<i32>(base + off + 8) != IP_SENDSRCADDR) r = -ENOPROTOOPT;
      else if (cl != CMSG_HDR + 4) r = -EINVAL;
      else {
        ctlSrc = bswap<u32>(load<u32>(base + off + CMSG_HDR)); // struct in_addr: network order
        r = 1;
      }
    }
    off += (cl + 3) & ~3;
  }
  m_freem(control);
  return r;
}

/**
 * PRU_SEND of AF_INET sockets, and of AF_INET6 ones for a v4-mapped destination or peer
 * (udp6_output passes sa as a sockaddr_in). Takes m and control.
 */
export function udp_output(so: usize, m: usize, sa: usize, control: usize, flags: i32): i32 {
  const p = pcbOf(so);
  if (p == 0 || !live()) {
    m_freem(m);
    m_freem(control);
    return p == 0 ? -EINVAL : -ENETUNREACH;
  }
  const x = inp(p);
  const len = <u32>m_length(m);
  if (len > UDP_MAXPAYLOAD) {
    m_freem(m);
    m_freem(control);
    return -EMSGSIZE;
  }
  const withSrc = control != 0 ? udp_control(control) : 0;
  if (withSrc < 0) {
    m_freem(m);
    return withSrc;
  }
  let dst: u32;
  let dport: u32;
  if (sa != 0) {
    let e: i32 = 0;
    if (sa_family(sa) != AF_INET) e = EAFNOSUPPORT;
    else if (sa_len(sa) != SOCKADDR_IN_SIZE) e = EINVAL;
    if (e != 0) {
      m_freem(m);
      return -e;
    }
  }
  let src = x.inp_laddr;
  if (withSrc != 0) {
    // FreeBSD: IP_SENDSRCADDR needs a bound port, and some address (the socket's or the
    // message's); the address must be one that bind() would take. Checked before the
    // destination, so an unbound socket gets EINVAL whatever the destination.
    if (x.inp_lport == 0 || (x.inp_laddr == INADDR_ANY && ctlSrc == INADDR_ANY)) {
      m_freem(m);
      return -EINVAL;
    }
    if (!bindable(ctlSrc)) {
      m_freem(m);
      return -EADDRNOTAVAIL;
    }
    src = ctlSrc;
  }
  if (sa != 0) {
    let e: i32 = 0;
    if (x.inp_faddr != INADDR_ANY) e = EISCONN;
    else if (sin_port(sa) == 0) e = EADDRNOTAVAIL;
    if (e != 0) {
      m_freem(m);
      return -e;
    }
    dst = sin_addr(sa);
    dport = <u32>sin_port(sa);
    if (dst == INADDR_ANY) dst = INADDR_LOOPBACK; // "this host" (FreeBSD: the primary address)
  } else {
    if (x.inp_faddr == INADDR_ANY) {
      m_freem(m);
      return -ENOTCONN;
    }
    dst = x.inp_faddr;
    dport = <u32>x.inp_fport;
  }
  if (src == INADDR_ANY || IN_MULTICAST(src)) {
    src = udp_selectsrc(dst);
    if (src == 0) {
      m_freem(m);
      return -ENETUNREACH;
    }
  }
  if (x.inp_lport == 0) {
    const r = in_pcbbind(p, INADDR_ANY, 0);
    if (r != 0) {
      m_freem(m);
      return r;
    }
  }
  m = M_PREPEND(m, <i32>UDP_HDR_LEN);
  if (m == 0) return -ENOBUFS;
  const uh = mtod(m);
  const ulen = len + UDP_HDR_LEN;
  store<u16>(uh + UH_SPORT, bswap<u16>(x.inp_lport));
  store<u16>(uh + UH_DPORT, bswap<u16>(<u16>dport));
  store<u16>(uh + UH_ULEN, bswap<u16>(<u16>ulen));
  // Delayed checksum: the pseudo-header sum now (never 0: the protocol number is in it).
  store<u16>(uh + UH_SUM, bswap<u16>(<u16>in_pseudo(src, dst, IPPROTO_UDP, ulen)));
  changetype<Mbuf>(m).ph_csum_flags |= CSUM_UDP;
  const opts = changetype<Socket>(so).so_options;
  let ipflags: u32 = 0;
  if (opts & <u32>SO_BROADCAST) ipflags |= IP_ALLOWBROADCAST;
  if ((opts & <u32>SO_DONTROUTE) != 0 || (flags & MSG_DONTROUTE) != 0) ipflags |= IP_ROUTETOIF;
  UDPSTAT_INC(UDPS_OPACKETS);
  const r = call_indirect<i32>(af_fn(inet, INAPI_OUTPUT), m, src, dst, <u32>IPPROTO_UDP, <u32>x.inp_ttl, <u32>x.inp_tos, ipflags, 0);
  if (r != 0) UDPSTAT_INC(UDPS_ODROPPED);
  return r;
}

// ---------------------------------------------------------------------------------------
// User requests (curvnet = the socket's vnet)

function udp_attach(so: usize, proto: i32): i32 {
  if (pcbOf(so) != 0) return -EINVAL;
  const p = in_pcballoc(so);
  if (p == 0) return -ENOBUFS;
  inp(p).inp_vflag = INP_IPV4;
  return 0;
}

function udp_detach(so: usize): void {
  const p = pcbOf(so);
  if (p != 0) in_pcbfree(p);
}

/** laddr may be bound: ours, a broadcast address of one of our interfaces, or multicast. */
export function bindable(a: u32): bool {
  if (a == INADDR_ANY || IN_MULTICAST(a)) return true;
  if (a == INADDR_BROADCAST || !live()) return false;
  if (in_localip(a)) return true;
  for (let ifp = if_first(curvnet()); ifp != 0; ifp = if_next(ifp)) if (in_broadcast(a, ifp)) return true;
  return false;
}

function udp_bind(so: usize, sa: usize): i32 {
  const p = pcbOf(so);
  if (p == 0) return -EINVAL;
  // AF_UNSPEC with the wildcard address binds as AF_INET: old programs pass a bzero'd
  // sockaddr_in (FreeBSD's udp_bind; tests/sys/netinet/socket_afinet.c bind_zero).
  if (sa_family(sa) != AF_INET && (sa_family(sa) != AF_UNSPEC || sa_len(sa) < SOCKADDR_IN_SIZE || sin_addr(sa) != INADDR_ANY)) return -EAFNOSUPPORT;
  if (sa_len(sa) != SOCKADDR_IN_SIZE) return -EINVAL;
  const x = inp(p);
  if (x.inp_lport != 0 || x.inp_laddr != INADDR_ANY) return -EINVAL; // bound already
  const a = sin_addr(sa);
  if (!bindable(a)) return -EADDRNOTAVAIL;
  const r = in_pcbbind(p, a, <u32>sin_port(sa));
  if (r == 0 && a != INADDR_ANY) x.inp_flags |= INP_BOUNDADDR;
  return r;
}

export function udp_disconnect(so: usize): i32 {
  const p = pcbOf(so);
  if (p == 0) return -EINVAL;
  const x = inp(p);
  if (x.inp_faddr == INADDR_ANY) return -ENOTCONN;
  x.inp_faddr = INADDR_ANY;
  x.inp_fport = 0;
  // FreeBSD forgets the local address connect chose; one given to bind() stays (as Linux).
  if ((x.inp_flags & INP_BOUNDADDR) == 0) x.inp_laddr = INADDR_ANY;
  changetype<Socket>(so).so_state &= ~SS_ISCONNECTED;
  return 0;
}

/**
 * connect: fixes the peer (send() needs no address; only its datagrams are received) and
 * the local address. AF_UNSPEC disconnects (the socket layer already did).
 */
export function udp_connect(so: usize, sa: usize): i32 {
  const p = pcbOf(so);
  if (p == 0) return -EINVAL;
  const x = inp(p);
  if (sa_family(sa) == AF_UNSPEC) {
    if (x.inp_faddr != INADDR_ANY) udp_disconnect(so);
    return 0;
  }
  if (sa_family(sa) != AF_INET) return -EAFNOSUPPORT;
  if (sa_len(sa) != SOCKADDR_IN_SIZE) return -EINVAL;
  if (x.inp_faddr != INADDR_ANY) return -EISCONN;
  let dst = sin_addr(sa);
  const dport = <u32>sin_port(sa);
  // Port 0 is no peer (in_pcbconnect_setup); 0.0.0.0:0 included: the socket layer has
  // disconnected it already, so it ends disconnected with the error, as on FreeBSD.
  if (dport == 0) return -EADDRNOTAVAIL;
  // 0.0.0.0 with a port is "this host", as sendto takes it (FreeBSD's
  // in_pcbconnect_setup: the primary address; tests/sys/netinet/udp_io.c connects so).
  if (dst == INADDR_ANY) dst = INADDR_LOOPBACK;
  let laddr = x.inp_laddr;
  if (laddr == INADDR_ANY || IN_MULTICAST(laddr)) {
    laddr = udp_selectsrc(dst);
    if (laddr == 0) return -ENETUNREACH;
  }
  if (x.inp_lport != 0) {
    if (in_pcblookup_exact(dst, dport, laddr, <u32>x.inp_lport, p) != 0) return -EADDRINUSE;
  } else {
    const r = in_pcbbind(p, INADDR_ANY, 0);
    if (r != 0) return r;
  }
  x.inp_laddr = laddr;
  x.inp_faddr = dst;
  x.inp_fport = <u16>dport;
  soisconnected(so);
  return 0;
}

function udp_shutdown(so: usize): i32 {
  return 0;
}

function udp_sockaddr(so: usize, sa_out: usize): i32 {
  const p = pcbOf(so);
  if (p == 0) return -EINVAL;
  sockaddr_in_set(sa_out, inp(p).inp_laddr, inp(p).inp_lport);
  return 0;
}

function udp_peeraddr(so: usize, sa_out: usize): i32 {
  const p = pcbOf(so);
  if (p == 0) return -EINVAL;
  if (inp(p).inp_faddr == INADDR_ANY) return -ENOTCONN;
  sockaddr_in_set(sa_out, inp(p).inp_faddr, inp(p).inp_fport);
  return 0;
}

/**
 * IPPROTO_IP options: IP_TTL and IP_TOS (0-255), IP_RECVDSTADDR (on when non-zero).
 * Socket-level changes need nothing here.
 */
function udp_ctloutput(so: usize, dir: i32, level: i32, name: i32, valp: usize): i32 {
  if (level == SOL_SOCKET) return 0;
  const p = pcbOf(so);
  if (p == 0) return -EINVAL;
  if (level != IPPROTO_IP || (name != IP_TTL && name != IP_TOS && name != IP_RECVDSTADDR)) return -ENOPROTOOPT;
  const x = inp(p);
  if (name == IP_RECVDSTADDR) {
    if (dir == SOPT_SET) {
      if (load<i32>(valp) != 0) x.inp_flags |= INP_RECVDSTADDR;
      else x.inp_flags &= ~INP_RECVDSTADDR;
      return 0;
    }
    if (dir == SOPT_GET) {
      store<i32>(valp, (x.inp_flags & INP_RECVDSTADDR) != 0 ? 1 : 0);
      return 0;
    }
    return -EINVAL;
  }
  if (dir == SOPT_SET) {
    const v = load<i32>(valp);
    if (v < 0 || v > 255) return -EINVAL;
    if (name == IP_TTL) x.inp_ttl = <u8>v;
    else x.inp_tos = <u8>v;
    return 0;
  }
  if (dir == SOPT_GET) {
    store<i32>(valp, name == IP_TTL ? <i32>x.inp_ttl : <i32>x.inp_tos);
    return 0;
  }
  return -EINVAL;
}

// ---------------------------------------------------------------------------------------
// Per-vnet life and module events

/**
 * Per-vnet teardown (and kldunload). The socket layer's uninit ran first and closed every
 * socket, so normally no PCB is left; after a forced unload they are, and go here, as
 * in_pcbinfo_destroy does (the socket layer then frees the sockets without calling us).
 */
function udp_vnet_uninit(): void {
  const vv = V();
  while (vv.list != 0) in_pcbfree(vv.list);
  in_pcbhash_free();
}

/** MOD_LOAD: serve AF_INET when inet is in the kernel. 0 (also when it is not) or -errno. */
function udp_inet_attach(): i32 {
  if (!af_attach(inet, AF_INET)) return 0;
  let r = protosw_register(AF_INET, SOCK_DGRAM, IPPROTO_UDP, usrreqs);
  if (r != 0) {
    af_detach(inet);
    return r;
  }
  UdpGlobals.protosw = pffindproto(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
  r = call_indirect<i32>(af_fn(inet, INAPI_PROTO_REGISTER), <u32>IPPROTO_UDP, udp_input.index, udp_ctlinput.index);
  if (r != 0) {
    protosw_unregister(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
    UdpGlobals.protosw = 0;
    af_detach(inet);
    return r;
  }
  return 0;
}

function udp_inet_detach(): void {
  if (inet.api == 0) return;
  if (live()) call_indirect<i32>(af_fn(inet, INAPI_PROTO_UNREGISTER), <u32>IPPROTO_UDP);
  protosw_unregister(AF_INET, SOCK_DGRAM, IPPROTO_UDP); // EBUSY after a forced unload: kld_purge orphans the sockets
  UdpGlobals.protosw = 0;
  af_detach(inet);
}

/**
 * What keeps the module busy, for the host's kldunload message ("2 sockets open"): UDP
 * sockets of both families.
 */
export function kmod_busy_count(): u32 {
  return udp_busy() + udp6_busy();
}

/**
 * A forced kldunload's second checkpoint, "clean up" (host/kern/linker.ts; the first, no new
 * sockets, is the kernel's PR_STOPPING): every UDP socket of both families hears
 * ECONNABORTED (an error, not silence) and loses its PCB, so nothing more is delivered to it
 * or sent from it (EINVAL); kld_purge closes the sockets at the third. Returns the PCBs freed.
 */
export function kmod_teardown(step: i32): u32 {
  if (step != 2) return 0;
  let n: u32 = 0;
  for (let v = vnet_first(); v != 0; v = vnet_next(v)) {
    const vv = changetype<UdpVnet>(VV(v));
    if (vv.list == 0) continue;
    const old = CURVNET_SET(v);
    while (vv.list != 0) {
      const so = inp(vv.list).inp_socket;
      if (so != 0) soseterror(so, ECONNABORTED);
      in_pcbfree(vv.list);
      n++;
    }
    CURVNET_RESTORE(old);
  }
  return n;
}

export function modevent(what: i32): i32 {
  if (what == MOD_LOAD) {
    UdpGlobals.pcbZone = zone_create("udp_inpcb", <u32>offsetof<Inpcb>(), 0, ZONE_CHARGE | ZONE_ZERO, UDP_PCB_VNET_LIMIT);
    if (UdpGlobals.pcbZone == 0) return ENOMEM;
    const off = vnet_data_alloc(UDP_VNET_SIZE, 8);
    if (off < 0) return -off; // kld_purge takes the zone
    UdpGlobals.voff = <u32>off;
    const master = vnet_master_base() + <usize>off;
    memory.fill(master, 0, UDP_VNET_SIZE);
    const mv = changetype<UdpVnet>(master);
    mv.portfirst = IPPORT_EPHEMERALFIRST;
    mv.portlast = IPPORT_EPHEMERALLAST;
    mv.up = 1;
    vnet_data_copy(<u32>off, UDP_VNET_SIZE);
    memory.fill(usrreqs, 0, PRU_SIZE);
    store<u32>(usrreqs + PRU_ATTACH, udp_attach.index);
    store<u32>(usrreqs + PRU_DETACH, udp_detach.index);
    store<u32>(usrreqs + PRU_BIND, udp_bind.index);
    store<u32>(usrreqs + PRU_CONNECT, udp_connect.index);
    store<u32>(usrreqs + PRU_DISCONNECT, udp_disconnect.index);
    store<u32>(usrreqs + PRU_SEND, udp_output.index);
    store<u32>(usrreqs + PRU_SHUTDOWN, udp_shutdown.index);
    store<u32>(usrreqs + PRU_SOCKADDR, udp_sockaddr.index);
    store<u32>(usrreqs + PRU_PEERADDR, udp_peeraddr.index);
    store<u32>(usrreqs + PRU_CTLOUTPUT, udp_ctloutput.index);
    // After inet's init (SI_ORDER_FIRST), torn down before it. Everything tagged with the
    // module (zone, VNET space, sysinit, protosw entry) goes with kld_purge if a step fails.
    let r = vnet_sysinit_register(SI_SUB_PROTO_DOMAIN, SI_ORDER_MIDDLE, 0, 0, udp_vnet_uninit.index);
    // Each family in the kernel, the same way (UDP over IPv6: netinet6/udp6_usrreq.ts).
    if (r == 0) r = udp_inet_attach();
    if (r == 0) {
      r = udp6_attach_family();
      if (r != 0) udp_inet_detach(); // a family's switch is not the module's to purge
    }
    if (r == 0 && inet.api == 0 && !udp6_served()) r = -EAFNOSUPPORT; // no network layer to serve: load inet or inet6 first
    if (r != 0) return r < 0 ? -r : r;
    return 0;
  }
  if (what == MOD_QUIESCE) {
    return protosw_busy(UdpGlobals.protosw) != 0 || udp6_busy() != 0 ? EBUSY : 0;
  }
  if (what == MOD_UNLOAD) {
    udp6_detach_family();
    // The per-vnet uninit ran everywhere (kld_sysuninit): no PCB, no hash page is left.
    udp_inet_detach();
    zone_destroy(UdpGlobals.pcbZone, false);
    UdpGlobals.pcbZone = 0;
    vnet_data_free(UdpGlobals.voff, UDP_VNET_SIZE);
    return 0;
  }
  return 0;
}

