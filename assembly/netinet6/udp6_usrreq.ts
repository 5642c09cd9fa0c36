// UDP over IPv6 (FreeBSD netinet6/udp6_usrreq.c), part of the udp module: the same PCBs,
// port space and counters as IPv4 (IPv6 PCBs are marked INP_IPV6, netinet6/in6_pcb.ts),
// sockets of (AF_INET6, SOCK_DGRAM, IPPROTO_UDP). inet6 is not imported (udp loads in
// NOINET6 kernels too): udp6_attach finds inet6's entry table through
// domain_af_api(AF_INET6) at MOD_LOAD and registers with inet6's protocol switch.
//
// Input checks the header, the length field against the payload, and the checksum, which
// is mandatory over IPv6 (RFC 8200 8.1: a zero checksum is dropped, counted in udps_nosum);
// a datagram goes to the best PCB (connected > bound address > wildcard; multicast to the
// first match only), none: ICMPv6 port unreachable (not for multicast). Output: implicit
// bind, source from the bound address or inet6's source selection, the checksum left to
// the interface (CSUM_UDP_IPV6, docs/tcp.md "Offload between vnets"; completed in software
// where no interface assists), ip6_output (fragmented at the source when
// larger than the link). ICMPv6 errors reach the connected socket of the 4-tuple.
//
// IPV6_V6ONLY (docs/sockets.md "Dual-stack sockets"): a new socket takes inet6's
// net.inet6.ip6.v6only (1, FreeBSD's default); the option may change until the socket is
// bound (EINVAL after, FreeBSD's rule). With it off the PCB is dual (INP_IPV4 too, udp_var.ts)
// and IPv4 goes through IPv4's code in udp_usrreq.ts with the addresses as sockaddr_in: a
// sendto or connect to ::ffff:a.b.c.d is udp_output/udp_connect to a.b.c.d, a bind to
// ::ffff:a.b.c.d is IPv4's bind, and IPv4 input delivers to the socket with the sender as
// ::ffff:a.b.c.d (udp_usrreq.ts udp_srcsa). A socket bound or connected to a v4-mapped
// address is IPv4 only from then on, one connected to an IPv6 address IPv6 only (FreeBSD).

import {
  sbappendaddr, sorwakeup, soisconnected, soseterror, m_freem, m_pullup, m_adj, m_length, M_PREPEND, in_cksum, in6_pseudo,
  protosw_register, protosw_unregister, pffindproto, protosw_busy,
} from "../kmod/kapi";
import {
  Socket, AF_INET6, AF_UNSPEC, SOCK_DGRAM, SS_ISCONNECTED, SOL_SOCKET, PRU_SIZE, PRU_ATTACH, PRU_DETACH, PRU_BIND,
  PRU_CONNECT, PRU_DISCONNECT, PRU_SEND, PRU_SHUTDOWN, PRU_SOCKADDR, PRU_PEERADDR, PRU_CTLOUTPUT, SOCKADDR_IN6_SIZE,
  SIN6_PORT, SIN6_FLOWINFO, SIN6_ADDR, SIN6_SCOPE_ID, SOPT_SET, SOPT_GET, sa_len, sa_family, sockaddr_in_set, sockaddr_in6_mapped,
} from "../sys/socket";
import { Mbuf, M_BCAST, M_MCAST, CSUM_L4_CALC, CSUM_L4_VALID, CSUM_UDP_IPV6, mtod } from "../sys/mbuf";
import {
  IP6_HDR_LEN, IP6_SRC, IP6_DST, in6_copy, in6_zero, ip6_nxt, IN6_IS_ADDR_UNSPECIFIED, IN6_IS_ADDR_MULTICAST,
  IN6_IS_ADDR_V4MAPPED, IN6API_OUTPUT, IN6API_SELECTSRC, IN6API_LOCALIP, IN6API_PROTO_REGISTER, IN6API_PROTO_UNREGISTER,
  IN6API_ERROR, IN6API_V6ONLY, ICMP6_DST_UNREACH, ICMP6_DST_UNREACH_NOPORT, ICMP6_DST_UNREACH_ADMIN, ICMP6_PACKET_TOO_BIG,
  ICMP6_TIME_EXCEEDED, ICMP6_TIME_EXCEED_TRANSIT, ICMP6_PARAM_PROB,
} from "../sys/in6";
import { IPPROTO_UDP, UDP_HDR_LEN, UH_SPORT, UH_DPORT, UH_ULEN, UH_SUM, INADDR_ANY } from "../sys/in";
import {
  inp, UDPSTAT_INC, UDPS_IPACKETS, UDPS_HDROPS, UDPS_BADSUM, UDPS_NOSUM, UDPS_BADLEN, UDPS_NOPORT, UDPS_NOPORTBCAST,
  UDPS_FULLSOCK, UDPS_OPACKETS, UDPS_DELIVERED, UDPS_ODROPPED, INP_BOUNDADDR, INP_IPV4, INP_IPV6, INP_IPV6PROTO,
  INP_IPV6_V6ONLY, IPPROTO_IPV6, IPV6_V6ONLY, in6p_laddr, in6p_faddr,
} from "../netinet/udp/udp_var";
import { in_pcballoc, in_pcbfree, in_pcbbind } from "../netinet/udp/in_pcb";
import { udp_output, udp_connect, udp_disconnect, bindable } from "../netinet/udp_usrreq";
import { AfApi, af_attach, af_detach, af_live, af_fn } from "../kmod/af_api";
import { in6_pcbbind, in6_pcblookup, in6_pcblookup_exact, in6_pcblookup_connected } from "./in6_pcb";
import { in6_unzone, in6_zone_in, in6_zone_set, sa6_embedscope, sa6_recoverscope } from "./scope6";
import { Ifnet } from "../sys/if";

const EINVAL: i32 = 22;
const EAFNOSUPPORT: i32 = 47;
const EADDRNOTAVAIL: i32 = 49;
const EADDRINUSE: i32 = 48;
const EISCONN: i32 = 56;
const ENOTCONN: i32 = 57;
const ENOPROTOOPT: i32 = 42;
const ENOBUFS: i32 = 55;
const EMSGSIZE: i32 = 40;
const ECONNREFUSED: i32 = 61;
const EHOSTUNREACH: i32 = 65;
const ENETUNREACH: i32 = 51;
const UDP6_MAXPAYLOAD: u32 = 65535 - 8; // the payload length field less the UDP header

const inet6 = changetype<AfApi>(memory.data(offsetof<AfApi>(), 4)); // inet6's entry table while udp serves AF_INET6
const usrreqs6 = memory.data(PRU_SIZE, 4);
const srcsa = memory.data(<i32>SOCKADDR_IN6_SIZE, 8);
const abuf = memory.data(16, 8);
const sinbuf = memory.data(16, 8); // a v4-mapped address as the sockaddr_in IPv4's code takes
const sbuf = memory.data(16, 8);
const zsrc = memory.data(16, 8); // wire forms (zones cleared) and input's zoned copies
const zdst = memory.data(16, 8);
const loopback6 = memory.data<u8>([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);

@inline function live(): bool {
  return af_live(inet6);
}

@inline function pcbOf(so: usize): usize {
  return changetype<Socket>(so).so_pcb;
}

function sockaddr6_set(sa: usize, a: usize, port: u16): void {
  store<u8>(sa, <u8>SOCKADDR_IN6_SIZE);
  store<u8>(sa + 1, <u8>AF_INET6);
  store<u16>(sa + SIN6_PORT, bswap<u16>(port));
  store<u32>(sa + SIN6_FLOWINFO, 0);
  in6_copy(sa + SIN6_ADDR, a);
  store<u32>(sa + SIN6_SCOPE_ID, 0);
  sa6_recoverscope(sa); // a pcb address's embedded zone goes up as sin6_scope_id
}

/**
 * An AF_INET6 sockaddr of the right length: its address into out (a link-scope one with
 * its zone embedded, scope6.ts), its port; -EAFNOSUPPORT, -EINVAL (also: link scope
 * without a scope id) or -ENXIO (a scope id naming no interface) otherwise.
 */
function sa6(sa: usize, out: usize): i32 {
  if (sa_family(sa) != AF_INET6) return -EAFNOSUPPORT;
  if (sa_len(sa) < SOCKADDR_IN6_SIZE) return -EINVAL;
  const e = sa6_embedscope(sa, out);
  if (e != 0) return e;
  return <i32>bswap<u16>(load<u16>(sa + SIN6_PORT));
}

/** The IPv4 address (host order) in the v4-mapped address at a. */
@inline function mapped4(a: usize): u32 {
  return bswap<u32>(load<u32>(a, 12));
}

/** sinbuf as the sockaddr_in of the v4-mapped address at a and port (IPv4's code takes that). */
function sin_of_mapped(a: usize, port: u32): usize {
  sockaddr_in_set(sinbuf, mapped4(a), <u16>port);
  return sinbuf;
}

/** p may carry IPv4: IPV6_V6ONLY off and not bound to a real IPv6 address (or already IPv4). */
@inline function takes4(p: usize): bool {
  return (inp(p).inp_flags & INP_IPV6_V6ONLY) == 0 && (inp(p).inp_vflag & INP_IPV4) != 0;
}

/** p is an IPv4 PCB now (bound or connected to a v4-mapped address): its addresses are inp_laddr/inp_faddr. */
@inline function is4(p: usize): bool {
  return (inp(p).inp_vflag & INP_IPV6) == 0;
}

/** p has a peer, IPv6 or v4-mapped. */
@inline function connected(p: usize): bool {
  return !IN6_IS_ADDR_UNSPECIFIED(in6p_faddr(p)) || inp(p).inp_faddr != INADDR_ANY;
}

// ---------------------------------------------------------------------------------------
// Input

/** inet6's protocol switch entry for IPPROTO_UDP: m starts at the IPv6 header, UDP at off. */
export function udp6_input(m: usize, off: u32): void {
  UDPSTAT_INC(UDPS_IPACKETS);
  let mm = changetype<Mbuf>(m);
  const plen = <u32>mm.ph_len - off;
  if (<u32>mm.ph_len < off + UDP_HDR_LEN) {
    UDPSTAT_INC(UDPS_HDROPS);
    m_freem(m);
    return;
  }
  if (<u32>mm.m_len < off + UDP_HDR_LEN) {
    m = m_pullup(m, <i32>(off + UDP_HDR_LEN));
    if (m == 0) {
      UDPSTAT_INC(UDPS_HDROPS);
      return;
    }
    mm = changetype<Mbuf>(m);
  }
  const ip = mtod(m);
  const uh = ip + off;
  const sport = bswap<u16>(load<u16>(uh + UH_SPORT));
  const dport = bswap<u16>(load<u16>(uh + UH_DPORT));
  const ulen = <u32>bswap<u16>(load<u16>(uh + UH_ULEN));
  if (ulen != plen) {
    if (ulen > plen || ulen < UDP_HDR_LEN) {
      UDPSTAT_INC(UDPS_BADLEN);
      m_freem(m);
      return;
    }
    m_adj(m, <i32>ulen - <i32>plen);
  }
  if (load<u16>(uh + UH_SUM) == 0) {
    UDPSTAT_INC(UDPS_NOSUM); // RFC 8200 8.1: IPv6 has no "no checksum"
    m_freem(m);
    return;
  }
  const cf = mm.ph_csum_flags;
  // An epair between vnets vouches for data that never left the kernel (CSUM_DATA_VALID).
  if ((cf & CSUM_L4_CALC) != 0 ? (cf & CSUM_L4_VALID) == 0 : in_cksum(m, off, ulen, in6_pseudo(ip + IP6_SRC, ip + IP6_DST, IPPROTO_UDP, ulen)) != 0) {
    UDPSTAT_INC(UDPS_BADSUM);
    m_freem(m);
    return;
  }
  const mcast = IN6_IS_ADDR_MULTICAST(ip + IP6_DST) || (mm.m_flags & (M_BCAST | M_MCAST)) != 0;
  // The lookups see link-scope addresses with the receiving link's zone (scope6.ts).
  in6_copy(zsrc, ip + IP6_SRC);
  in6_zone_in(zsrc, mm.ph_rcvif);
  in6_copy(zdst, ip + IP6_DST);
  in6_zone_in(zdst, mm.ph_rcvif);
  const p = in6_pcblookup(zsrc, <u32>sport, zdst, <u32>dport);
  if (p == 0 || inp(p).inp_socket == 0) {
    UDPSTAT_INC(UDPS_NOPORT);
    if (mcast || !live()) {
      UDPSTAT_INC(UDPS_NOPORTBCAST);
      m_freem(m);
      return;
    }
    call_indirect<void>(af_fn(inet6, IN6API_ERROR), m, ICMP6_DST_UNREACH, ICMP6_DST_UNREACH_NOPORT, 0);
    return;
  }
  sockaddr6_set(srcsa, zsrc, sport);
  m_adj(m, <i32>(off + UDP_HDR_LEN));
  const so = inp(p).inp_socket;
  if (sbappendaddr(so, srcsa, m)) {
    UDPSTAT_INC(UDPS_DELIVERED);
    sorwakeup(so);
  } else {
    m_freem(m);
    UDPSTAT_INC(UDPS_FULLSOCK);
  }
}

/** inet6's control input for IPPROTO_UDP: the connected socket of the quoted 4-tuple gets the error. */
export function udp6_ctlinput(cmd: u32, ip6: usize, arg: u32): void {
  if (ip6_nxt(ip6) != IPPROTO_UDP) return;
  const type = <u8>((cmd >> 8) & 0xff);
  const code = <u8>(cmd & 0xff);
  let err: i32 = 0;
  if (type == ICMP6_DST_UNREACH) err = code == ICMP6_DST_UNREACH_NOPORT || code == ICMP6_DST_UNREACH_ADMIN ? ECONNREFUSED : EHOSTUNREACH;
  else if (type == ICMP6_PACKET_TOO_BIG) err = EMSGSIZE;
  else if (type == ICMP6_TIME_EXCEEDED) err = code == ICMP6_TIME_EXCEED_TRANSIT ? EHOSTUNREACH : 0;
  else if (type == ICMP6_PARAM_PROB) err = ENOPROTOOPT;
  if (err == 0) return;
  const uh = ip6 + IP6_HDR_LEN;
  const lport = <u32>bswap<u16>(load<u16>(uh + UH_SPORT));
  const fport = <u32>bswap<u16>(load<u16>(uh + UH_DPORT));
  const p = in6_pcblookup_connected(ip6 + IP6_DST, fport, ip6 + IP6_SRC, lport);
  if (p != 0 && inp(p).inp_socket != 0) soseterror(inp(p).inp_socket, err);
}

// ---------------------------------------------------------------------------------------
// Output and user requests (curvnet = the socket's vnet)

/**
 * The source for a datagram to dst (zoned) from p (bound address, else inet6's selection
 * on dst's zone: a link-local destination leaves by its link, never by the route table)
 * into out, zoned; 0 or -errno.
 */
function selectsrc(p: usize, dst: usize, out: usize): i32 {
  const la = in6p_laddr(p);
  if (!IN6_IS_ADDR_UNSPECIFIED(la) && !IN6_IS_ADDR_MULTICAST(la)) {
    in6_copy(out, la);
    return 0;
  }
  if (!live()) return -ENETUNREACH;
  const ifp = in6_unzone(zdst, dst);
  const e = call_indirect<i32>(af_fn(inet6, IN6API_SELECTSRC), zdst, ifp, out);
  if (e == 0 && ifp != 0) in6_zone_set(out, changetype<Ifnet>(ifp).if_index);
  return e;
}

function udp6_output(so: usize, m: usize, sa: usize, control: usize, flags: i32): i32 {
  const p = pcbOf(so);
  if (p != 0 && (sa != 0 ? sa_family(sa) == AF_INET6 && sa_len(sa) >= SOCKADDR_IN6_SIZE && IN6_IS_ADDR_V4MAPPED(sa + SIN6_ADDR) : is4(p))) {
    // IPv4 through this socket: to a v4-mapped destination, or to the v4-mapped peer.
    let e: i32 = 0;
    if (connected(p) && sa != 0) e = EISCONN;
    else if (sa != 0 && !takes4(p)) e = EINVAL; // IPV6_V6ONLY, or bound to an IPv6 address
    if (e != 0) {
      m_freem(m);
      if (control != 0) m_freem(control);
      return -e;
    }
    return udp_output(so, m, sa != 0 ? sin_of_mapped(sa + SIN6_ADDR, <u32>bswap<u16>(load<u16>(sa + SIN6_PORT))) : 0, control, flags);
  }
  if (control != 0) m_freem(control);
  if (p == 0 || !live()) {
    m_freem(m);
    return p == 0 ? -EINVAL : -ENETUNREACH;
  }
  const x = inp(p);
  const len = <u32>m_length(m);
  if (len > UDP6_MAXPAYLOAD) {
    m_freem(m);
    return -EMSGSIZE;
  }
  let dport: u32;
  if (sa != 0) {
    let e: i32 = 0;
    const r = sa6(sa, abuf);
    if (connected(p)) e = EISCONN;
    else if (r < 0) e = -r;
    else if (r == 0) e = EADDRNOTAVAIL;
    else if (is4(p)) e = EINVAL; // bound to a v4-mapped address: no IPv6 destination
    if (e != 0) {
      m_freem(m);
      return -e;
    }
    dport = <u32>r;
    if (IN6_IS_ADDR_UNSPECIFIED(abuf)) in6_copy(abuf, loopback6); // "this host"
  } else {
    if (IN6_IS_ADDR_UNSPECIFIED(in6p_faddr(p))) {
      m_freem(m);
      return -ENOTCONN;
    }
    in6_copy(abuf, in6p_faddr(p));
    dport = <u32>x.inp_fport;
  }
  const e = selectsrc(p, abuf, sbuf);
  if (e != 0) {
    m_freem(m);
    return e;
  }
  if (x.inp_lport == 0) {
    in6_zero(srcsa); // (scratch) the wildcard
    const r = in6_pcbbind(p, srcsa, 0);
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
  store<u16>(uh + UH_SUM, 0);
  // The wire forms, and the destination's zone as the interface it leaves by (scope6.ts).
  in6_unzone(zsrc, sbuf);
  const oif = in6_unzone(zdst, abuf);
  // Delayed checksum (as udp_output): the pseudo-header sum now, never 0 (the next header
  // is in it); the rest where the packet leaves the kernel (a computed 0 is sent as 0xffff,
  // RFC 8200 8.1), or never when it only crosses an epair.
  store<u16>(uh + UH_SUM, bswap<u16>(<u16>in6_pseudo(zsrc, zdst, IPPROTO_UDP, ulen)));
  changetype<Mbuf>(m).ph_csum_flags |= CSUM_UDP_IPV6;
  UDPSTAT_INC(UDPS_OPACKETS);
  const r = call_indirect<i32>(af_fn(inet6, IN6API_OUTPUT), m, zsrc, zdst, IPPROTO_UDP, <u32>x.inp_ttl, 0, oif);
  if (r != 0) UDPSTAT_INC(UDPS_ODROPPED);
  return r;
}

function udp6_attach(so: usize, proto: i32): i32 {
  if (pcbOf(so) != 0) return -EINVAL;
  const p = in_pcballoc(so);
  if (p == 0) return -ENOBUFS;
  const x = inp(p);
  x.inp_vflag = INP_IPV6 | INP_IPV6PROTO;
  // net.inet6.ip6.v6only of the vnet (on when inet6 has gone: nothing to read it from).
  if (!live() || call_indirect<bool>(af_fn(inet6, IN6API_V6ONLY))) x.inp_flags |= INP_IPV6_V6ONLY;
  else x.inp_vflag |= INP_IPV4;
  return 0;
}

function udp6_detach(so: usize): void {
  const p = pcbOf(so);
  if (p != 0) in_pcbfree(p);
}

function udp6_bind(so: usize, sa: usize): i32 {
  const p = pcbOf(so);
  if (p == 0) return -EINVAL;
  const r = sa6(sa, abuf);
  if (r < 0) return r;
  const x = inp(p);
  if (x.inp_lport != 0 || !IN6_IS_ADDR_UNSPECIFIED(in6p_laddr(p)) || x.inp_laddr != INADDR_ANY) return -EINVAL;
  const vflag = x.inp_vflag;
  if (IN6_IS_ADDR_V4MAPPED(abuf)) {
    // IPv4's bind, and the socket is IPv4 only from now on (EINVAL with IPV6_V6ONLY, as Linux).
    if (!takes4(p)) return -EINVAL;
    const a = mapped4(abuf);
    if (!bindable(a)) return -EADDRNOTAVAIL;
    x.inp_vflag = INP_IPV4 | INP_IPV6PROTO;
    const e = in_pcbbind(p, a, <u32>r);
    if (e != 0) x.inp_vflag = vflag;
    else if (a != INADDR_ANY) x.inp_flags |= INP_BOUNDADDR;
    return e;
  }
  if (!IN6_IS_ADDR_UNSPECIFIED(abuf) && !IN6_IS_ADDR_MULTICAST(abuf) &&
      !(live() && call_indirect<bool>(af_fn(inet6, IN6API_LOCALIP), zdst, in6_unzone(zdst, abuf)))) return -EADDRNOTAVAIL;
  if (!IN6_IS_ADDR_UNSPECIFIED(abuf)) x.inp_vflag &= ~INP_IPV4; // an IPv6 address: IPv6 only (FreeBSD)
  const e = in6_pcbbind(p, abuf, <u32>r);
  if (e != 0) x.inp_vflag = vflag;
  else if (!IN6_IS_ADDR_UNSPECIFIED(abuf)) x.inp_flags |= INP_BOUNDADDR;
  return e;
}

function udp6_disconnect(so: usize): i32 {
  const p = pcbOf(so);
  if (p == 0) return -EINVAL;
  if (is4(p)) return udp_disconnect(so); // it stays IPv4 (FreeBSD)
  if (IN6_IS_ADDR_UNSPECIFIED(in6p_faddr(p))) return -ENOTCONN;
  in6_zero(in6p_faddr(p));
  inp(p).inp_fport = 0;
  if ((inp(p).inp_flags & INP_BOUNDADDR) == 0) in6_zero(in6p_laddr(p));
  changetype<Socket>(so).so_state &= ~SS_ISCONNECTED;
  return 0;
}

function udp6_connect(so: usize, sa: usize): i32 {
  const p = pcbOf(so);
  if (p == 0) return -EINVAL;
  if (sa_family(sa) == AF_UNSPEC) {
    if (connected(p)) udp6_disconnect(so);
    return 0;
  }
  const r = sa6(sa, abuf);
  if (r < 0) return r;
  if (connected(p)) return -EISCONN;
  const x = inp(p);
  if (IN6_IS_ADDR_V4MAPPED(abuf)) {
    // IPv4's connect; on success the socket is IPv4 only (it leaves IPv6's lookups).
    if (!takes4(p)) return -EINVAL;
    const e = udp_connect(so, sin_of_mapped(abuf, <u32>r));
    if (e == 0 && x.inp_faddr != INADDR_ANY) x.inp_vflag = INP_IPV4 | INP_IPV6PROTO;
    return e;
  }
  if (is4(p)) return -EINVAL; // bound to a v4-mapped address: no IPv6 peer
  // Port 0 is no peer; :: with a port is "this host", ::1, as sendto takes it (FreeBSD's
  // in6_pcbladdr). [::]:0 ends disconnected with the error (the socket layer disconnected it).
  if (r == 0) return -EADDRNOTAVAIL;
  if (IN6_IS_ADDR_UNSPECIFIED(abuf)) in6_copy(abuf, loopback6);
  const e = selectsrc(p, abuf, sbuf);
  if (e != 0) return e;
  if (x.inp_lport != 0) {
    if (in6_pcblookup_exact(abuf, <u32>r, sbuf, <u32>x.inp_lport, p) != 0) return -EADDRINUSE;
  } else {
    in6_zero(srcsa);
    const b = in6_pcbbind(p, srcsa, 0);
    if (b != 0) return b;
  }
  in6_copy(in6p_laddr(p), sbuf);
  in6_copy(in6p_faddr(p), abuf);
  x.inp_fport = <u16>r;
  x.inp_vflag &= ~INP_IPV4; // connected over IPv6: IPv6 only (FreeBSD)
  soisconnected(so);
  return 0;
}

function udp6_shutdown(so: usize): i32 {
  return 0;
}

function udp6_sockaddr(so: usize, sa_out: usize): i32 {
  const p = pcbOf(so);
  if (p == 0) return -EINVAL;
  if (is4(p)) sockaddr_in6_mapped(sa_out, inp(p).inp_laddr, inp(p).inp_lport);
  else sockaddr6_set(sa_out, in6p_laddr(p), inp(p).inp_lport);
  return 0;
}

function udp6_peeraddr(so: usize, sa_out: usize): i32 {
  const p = pcbOf(so);
  if (p == 0) return -EINVAL;
  if (!connected(p)) return -ENOTCONN;
  if (is4(p)) sockaddr_in6_mapped(sa_out, inp(p).inp_faddr, inp(p).inp_fport);
  else sockaddr6_set(sa_out, in6p_faddr(p), inp(p).inp_fport);
  return 0;
}

/**
 * Socket-level options need nothing here. IPPROTO_IPV6: IPV6_V6ONLY (on when non-zero),
 * settable until the socket has a port or an address (then EINVAL, FreeBSD's ip6_ctloutput);
 * other IPv6-level options (hop limit, ...) are not implemented.
 */
function udp6_ctloutput(so: usize, dir: i32, level: i32, name: i32, valp: usize): i32 {
  if (level == SOL_SOCKET) return 0;
  if (level != IPPROTO_IPV6 || name != IPV6_V6ONLY) return -ENOPROTOOPT;
  const p = pcbOf(so);
  if (p == 0) return -EINVAL;
  const x = inp(p);
  if (dir == SOPT_GET) {
    store<i32>(valp, (x.inp_flags & INP_IPV6_V6ONLY) != 0 ? 1 : 0);
    return 0;
  }
  if (dir != SOPT_SET) return -EINVAL;
  if (x.inp_lport != 0 || !IN6_IS_ADDR_UNSPECIFIED(in6p_laddr(p)) || is4(p)) return -EINVAL; // bound already
  if (load<i32>(valp) != 0) {
    x.inp_flags |= INP_IPV6_V6ONLY;
    x.inp_vflag &= ~INP_IPV4;
  } else {
    x.inp_flags &= ~INP_IPV6_V6ONLY;
    x.inp_vflag |= INP_IPV4;
  }
  return 0;
}

// ---------------------------------------------------------------------------------------

/** MOD_LOAD: serve AF_INET6 when inet6 is in the kernel. 0 (also when it is not) or -errno. */
export function udp6_attach_family(): i32 {
  if (!af_attach(inet6, AF_INET6)) return 0;
  memory.fill(usrreqs6, 0, PRU_SIZE);
  store<u32>(usrreqs6 + PRU_ATTACH, udp6_attach.index);
  store<u32>(usrreqs6 + PRU_DETACH, udp6_detach.index);
  store<u32>(usrreqs6 + PRU_BIND, udp6_bind.index);
  store<u32>(usrreqs6 + PRU_CONNECT, udp6_connect.index);
  store<u32>(usrreqs6 + PRU_DISCONNECT, udp6_disconnect.index);
  store<u32>(usrreqs6 + PRU_SEND, udp6_output.index);
  store<u32>(usrreqs6 + PRU_SHUTDOWN, udp6_shutdown.index);
  store<u32>(usrreqs6 + PRU_SOCKADDR, udp6_sockaddr.index);
  store<u32>(usrreqs6 + PRU_PEERADDR, udp6_peeraddr.index);
  store<u32>(usrreqs6 + PRU_CTLOUTPUT, udp6_ctloutput.index);
  let r = call_indirect<i32>(af_fn(inet6, IN6API_PROTO_REGISTER), IPPROTO_UDP, udp6_input.index, udp6_ctlinput.index);
  if (r == 0) {
    r = protosw_register(AF_INET6, SOCK_DGRAM, IPPROTO_UDP, usrreqs6);
    if (r != 0) call_indirect<i32>(af_fn(inet6, IN6API_PROTO_UNREGISTER), IPPROTO_UDP);
  }
  if (r != 0) af_detach(inet6);
  return r;
}

/** udp serves AF_INET6 (inet6 was in the kernel at MOD_LOAD). */
export function udp6_served(): bool {
  return inet6.api != 0;
}

/** Sockets open on UDP over IPv6 (MOD_QUIESCE). */
export function udp6_busy(): u32 {
  return inet6.api != 0 ? protosw_busy(pffindproto(AF_INET6, SOCK_DGRAM, IPPROTO_UDP)) : 0;
}

export function udp6_detach_family(): void {
  if (inet6.api == 0) return;
  protosw_unregister(AF_INET6, SOCK_DGRAM, IPPROTO_UDP);
  if (live()) call_indirect<i32>(af_fn(inet6, IN6API_PROTO_UNREGISTER), IPPROTO_UDP);
  af_detach(inet6);
}

export { UDPS_NOPORTBCAST };
