// TCP over IPv6: the AF_INET6 half of TCP's per-family operations (TcpAfOps in tcp_var.ts)
// and the input entry inet6's protocol switch calls; the sibling of tcp_inet.ts. inet6's
// entry points are not imported (that would make tcp depend on inet6, and a NOINET6 kernel
// could not load tcp): tcp.ts finds inet6's entry table at MOD_LOAD through
// domain_af_api(AF_INET6) (sys/in6.ts IN6API_*) and calls through it. Addresses in the
// 16-byte pcb fields are the IPv6 addresses, network order.
//
// A queued segment carries its IPv6 header from stash to output (the 32 bytes of addresses
// do not fit the packet header's spare words): stash puts the pseudo-header sum in the
// checksum field (the checksum is mandatory, RFC 8200 8.1) and prepends the header; output
// hands it to ip6_output as built. Segments are never fragmented (IPV6_DONTFRAG): path MTU
// discovery (RFC 8201) lowers the MSS on ICMPv6 packet too big. Offload as over IPv4
// (docs/tcp.md "Offload between vnets"): the rest of the checksum is left to the interface
// (CSUM_TCP_IPV6; done in software where none assists), stash turns tcp_output's CSUM_TSO
// into CSUM_IP6_TSO, and af_tsomax asks inet6 whether the route's interface assists TSO6.
//
// Dual-stack sockets (docs/sockets.md "Dual-stack sockets"): a new pcb takes inet6's
// net.inet6.ip6.v6only (af_init); with IPV6_V6ONLY off (af_ctloutput, until bound) it is
// TF_DUAL while unbound or on :: and unconnected, and IPv4's lookups see it. A bind or
// connect to ::ffff:a.b.c.d (af_unmap) moves the pcb to IPv4's operations for good, and the
// socket shows its addresses as ::ffff:a.b.c.d (af_map_sa).

import { m_freem, m_pullup, m_adj, in_cksum, in6_pseudo } from "../../kmod/kapi";
import { AfApi, af_attach, af_detach, af_live, af_fn } from "../../kmod/af_api";
import { Mbuf, mtod, M_LEADINGSPACE, CSUM_TSO, CSUM_IP6_TSO, CSUM_TCP_IPV6, CSUM_L4_CALC, CSUM_L4_VALID } from "../../sys/mbuf";
import { AF_INET6, SOCKADDR_IN6_SIZE, SIN6_PORT, SIN6_ADDR, SIN6_FLOWINFO, SIN6_SCOPE_ID, sa_len, sa_family } from "../../sys/socket";
import {
  IP6_HDR_LEN, IP6_SRC, IP6_DST, ip6_fill, ip6_nxt, in6_copy, IN6API_OUTPUT, IN6API_SELECTSRC, IN6API_RTMTU, IN6API_LOCALIP,
  IN6API_PROTO_REGISTER, IN6API_PROTO_UNREGISTER, IN6_IS_ADDR_MULTICAST, IN6_IS_ADDR_UNSPECIFIED, IN6_IS_ADDR_V4MAPPED,
  ICMP6_DST_UNREACH, ICMP6_DST_UNREACH_NOPORT, ICMP6_DST_UNREACH_ADMIN, ICMP6_PACKET_TOO_BIG, ICMP6_TIME_EXCEEDED,
  ICMP6_TIME_EXCEED_TRANSIT, ICMP6_PARAM_PROB, IPV6_MMTU, IN6API_RTTSO,
} from "../../sys/in6";
import { EMSGSIZE, ECONNREFUSED, EHOSTUNREACH, ENOPROTOOPT, EINVAL } from "../../sys/errno";
import { AF_INET, SOPT_GET, SOPT_SET } from "../../sys/socket";
import { IN6API_V6ONLY } from "../../sys/in6";
import { TP, TF_V6ONLY, TF_DUAL, TCPS_CLOSED, TcpAfOps, TCPSTAT_INC, TCPS_RCVSHORT, TCPS_RCVBADSUM, TCPS_RCVTOTAL, TH_SUM, IPPROTO_TCP, TCP_HDR_MIN, th_sport, th_dport, th_seq } from "./tcp_var";
import { tcp_input } from "./tcp_input";
import { tcp_ctlerror } from "./tcp_subr";
import { in6_unzone, in6_zone, in6_zone_ifp, in6_zone_in, in6_zone_set, sa6_embedscope, sa6_recoverscope } from "../../netinet6/scope6";
import { Ifnet } from "../../sys/if";
import { ifnet_byindex_vnet, curvnet } from "../../kmod/kapi";

const HLIM_DEFAULT: u32 = 64; // net.inet6.ip6.hlim
const IPV6_REFLECT: u32 = 0x2; // ip6_output: the header is built (netinet6/ip6_var.ts)
const IPV6_DONTFRAG: u32 = 0x4;

const inet6 = changetype<AfApi>(memory.data(offsetof<AfApi>(), 4)); // inet6's entry table while tcp serves AF_INET6

@inline function live(): bool {
  return af_live(inet6);
}

// Marks a segment whose IPv6 header stash put in front of it (in ph_csum_data's low 16
// bits, as tcp_inet.ts keeps its addresses in the packet header); the high 16 bits carry
// the zone of a link-local peer (scope6.ts), the interface the segment leaves by.
const HDR_BUILT: u32 = 0x86dd;

function inet6_stash(m: usize, laddr: usize, faddr: usize): void {
  const mm = changetype<Mbuf>(m);
  const len = <u32>mm.ph_len;
  const th = mtod(m);
  // pcb addresses carry their zone embedded; the header and checksum take the wire forms.
  const zone = in6_zone(faddr);
  in6_unzone(stashl, laddr); // own buffers: laddr and faddr may be input's srcbuf/dstbuf
  in6_unzone(stashf, faddr);
  laddr = stashl;
  faddr = stashf;
  // Delayed checksum (FreeBSD's convention): the pseudo-header sum now, the rest where the
  // packet leaves the kernel, or never when it only crosses an epair.
  store<u16>(th + TH_SUM, bswap<u16>(<u16>in6_pseudo(laddr, faddr, IPPROTO_TCP, len)));
  let cf = mm.ph_csum_flags | CSUM_TCP_IPV6;
  if ((cf & CSUM_TSO) != 0) cf = (cf & ~CSUM_TSO) | CSUM_IP6_TSO; // tcp_output names no family
  mm.ph_csum_flags = cf;
  // The header goes into the room TCP leaves in front (tcp_subr.ts LEADING), in place: the
  // queue holds this mbuf, so it may not change.
  if (M_LEADINGSPACE(m) < <i32>IP6_HDR_LEN) {
    mm.ph_csum_data = 0; // inet6_output drops it (never happens: TCP always leaves the room)
    return;
  }
  mm.m_data -= IP6_HDR_LEN;
  mm.m_len += <i32>IP6_HDR_LEN;
  mm.ph_len += <i32>IP6_HDR_LEN;
  ip6_fill(mtod(m), len, <u8>IPPROTO_TCP, <u8>HLIM_DEFAULT, laddr, faddr);
  mm.ph_csum_data = HDR_BUILT | zone << 16;
}

function inet6_output(m: usize): i32 {
  const mm = changetype<Mbuf>(m);
  if (!live() || (mm.ph_csum_data & 0xffff) != HDR_BUILT) {
    m_freem(m);
    return -EHOSTUNREACH;
  }
  const ip = mtod(m);
  const th = ip + IP6_HDR_LEN;
  const sport = th_sport(th);
  const dport = th_dport(th);
  const seq = th_seq(th);
  const zone = mm.ph_csum_data >>> 16;
  const oif = zone != 0 ? ifnet_byindex_vnet(curvnet(), zone) : 0;
  in6_copy(laddrbuf, ip + IP6_SRC);
  in6_copy(faddrbuf, ip + IP6_DST);
  in6_zone_set(laddrbuf, zone); // tcp_ctlerror looks the pcb up by its zoned addresses
  in6_zone_set(faddrbuf, zone);
  mm.ph_csum_data = 0;
  const r = call_indirect<i32>(af_fn(inet6, IN6API_OUTPUT), m, 0, 0, 0, 0, IPV6_REFLECT | IPV6_DONTFRAG, oif);
  if (r == -EMSGSIZE) {
    // Our own link's MTU went below the segment.
    const mss = inet6_mss(faddrbuf);
    if (mss != 0) tcp_ctlerror(changetype<usize>(ops), laddrbuf, sport, faddrbuf, dport, seq, EMSGSIZE, false, mss);
  }
  return r;
}

/**
 * inet6's control input for IPPROTO_TCP: an ICMPv6 error quoting one of our segments. cmd
 * is type << 8 | code; ip6 the quoted IPv6 header with at least 8 bytes of TCP after it;
 * arg the MTU of a packet too big (RFC 8201 4: never taken below 1280 by inet6).
 */
export function tcp_inet6_ctlinput(cmd: u32, ip6: usize, arg: u32): void {
  if (ip6_nxt(ip6) != IPPROTO_TCP) return; // extension headers in the quote: not ours to parse
  const type = <u8>((cmd >> 8) & 0xff);
  const code = <u8>(cmd & 0xff);
  let err: i32 = 0;
  let hard = false;
  let mss: u32 = 0;
  if (type == ICMP6_PACKET_TOO_BIG) {
    const mtu = arg < IPV6_MMTU ? IPV6_MMTU : arg;
    mss = mtu - IP6_HDR_LEN - TCP_HDR_MIN;
    err = EMSGSIZE;
  } else if (type == ICMP6_DST_UNREACH) {
    if (code == ICMP6_DST_UNREACH_NOPORT || code == ICMP6_DST_UNREACH_ADMIN) {
      err = ECONNREFUSED;
      hard = true;
    } else err = EHOSTUNREACH;
  } else if (type == ICMP6_TIME_EXCEEDED) {
    if (code == ICMP6_TIME_EXCEED_TRANSIT) err = EHOSTUNREACH;
  } else if (type == ICMP6_PARAM_PROB) err = ENOPROTOOPT;
  if (err == 0) return;
  const th = ip6 + IP6_HDR_LEN;
  in6_copy(laddrbuf, ip6 + IP6_SRC);
  in6_copy(faddrbuf, ip6 + IP6_DST);
  tcp_ctlerror(changetype<usize>(ops), laddrbuf, th_sport(th), faddrbuf, th_dport(th), th_seq(th), err, hard, mss);
}

function inet6_mss(faddr: usize): u32 {
  if (!live()) return 0;
  const ifp = in6_unzone(zbuf, faddr);
  const mtu = call_indirect<u32>(af_fn(inet6, IN6API_RTMTU), zbuf, ifp);
  return mtu > IP6_HDR_LEN + TCP_HDR_MIN ? mtu - IP6_HDR_LEN - TCP_HDR_MIN : 0;
}

/** The largest TSO6 segment toward faddr (zoned; the route is asked with the wire form), 0: none. */
function inet6_tsomax(faddr: usize): u32 {
  if (!live()) return 0;
  in6_unzone(zbuf, faddr);
  const max = call_indirect<u32>(af_fn(inet6, IN6API_RTTSO), zbuf);
  return max > IP6_HDR_LEN ? max - IP6_HDR_LEN : 0;
}

/** The source toward faddr (zoned: a link-local peer is reached by its link), zoned itself. */
function inet6_selectsrc(faddr: usize, out: usize): i32 {
  if (!live()) return -51; // ENETUNREACH
  const ifp = in6_unzone(zbuf, faddr);
  const e = call_indirect<i32>(af_fn(inet6, IN6API_SELECTSRC), zbuf, ifp, out);
  if (e == 0 && ifp != 0) in6_zone_set(out, changetype<Ifnet>(ifp).if_index);
  return e;
}

/** a (zoned) is ours: a link-local one on its zone's interface only. */
function inet6_localip(a: usize): bool {
  if (!live()) return false;
  const ifp = in6_unzone(zbuf, a);
  return call_indirect<bool>(af_fn(inet6, IN6API_LOCALIP), zbuf, ifp);
}

function inet6_badaddr(a: usize): bool {
  return IN6_IS_ADDR_UNSPECIFIED(a) || IN6_IS_ADDR_MULTICAST(a) || IN6_IS_ADDR_V4MAPPED(a);
}

/**
 * sockaddr_in6 -> address (16 bytes; a link-local one with its scope id embedded as its
 * zone, scope6.ts) and port; 0xffffffff when sa is not one, 0xffff0000 | errno when its
 * scope is wrong (EINVAL: link scope without a scope id; ENXIO: no such interface).
 */
function inet6_sa_to(sa: usize, out: usize): u32 {
  if (sa_family(sa) != AF_INET6 || sa_len(sa) < SOCKADDR_IN6_SIZE) return 0xffffffff;
  const e = sa6_embedscope(sa, out);
  if (e != 0) return 0xffff0000 | <u32>(-e);
  return <u32>bswap<u16>(load<u16>(sa + SIN6_PORT));
}

function inet6_to_sa(sa: usize, a: usize, port: u16): void {
  store<u8>(sa, <u8>SOCKADDR_IN6_SIZE);
  store<u8>(sa + 1, <u8>AF_INET6);
  store<u16>(sa + SIN6_PORT, bswap<u16>(port));
  store<u32>(sa + SIN6_FLOWINFO, 0);
  in6_copy(sa + SIN6_ADDR, a);
  store<u32>(sa + SIN6_SCOPE_ID, 0);
  sa6_recoverscope(sa); // the embedded zone goes up as sin6_scope_id
}

const IPPROTO_IPV6: i32 = 41;
const IPV6_V6ONLY: i32 = 27;

/** A new pcb of an AF_INET6 socket: IPV6_V6ONLY from net.inet6.ip6.v6only (on when inet6 has gone). */
function inet6_init(tp: usize): void {
  if (!live() || call_indirect<bool>(af_fn(inet6, IN6API_V6ONLY))) TP(tp).t_flags |= TF_V6ONLY;
  else TP(tp).t_flags |= TF_DUAL;
}

/** IPPROTO_IPV6 options: IPV6_V6ONLY, settable until the socket is bound (EINVAL after, FreeBSD). */
function inet6_ctloutput(tp: usize, dir: i32, level: i32, name: i32, valp: usize): i32 {
  if (level != IPPROTO_IPV6 || name != IPV6_V6ONLY) return -ENOPROTOOPT;
  const t = TP(tp);
  if (dir == SOPT_GET) {
    store<i32>(valp, (t.t_flags & TF_V6ONLY) != 0 ? 1 : 0);
    return 0;
  }
  if (dir != SOPT_SET || t.t_lport != 0 || t.t_state != TCPS_CLOSED || t.t_af != changetype<usize>(ops)) return -EINVAL;
  if (load<i32>(valp) != 0) t.t_flags = (t.t_flags | TF_V6ONLY) & ~TF_DUAL;
  else t.t_flags = (t.t_flags | TF_DUAL) & ~TF_V6ONLY;
  return 0;
}

/** ::ffff:a.b.c.d is IPv4's a.b.c.d (the pcb form: host order in the first 4 bytes). */
function inet6_unmap(a: usize, out: usize): u32 {
  if (!IN6_IS_ADDR_V4MAPPED(a)) return 0;
  const v4 = bswap<u32>(load<u32>(a, 12));
  memory.fill(out, 0, 16);
  store<u32>(out, v4);
  return AF_INET;
}

/** The sockaddr_in6 ::ffff:a.b.c.d of IPv4 pcb address a. */
function inet6_map_sa(sa: usize, a: usize, port: u16): void {
  memory.fill(mapbuf, 0, 16);
  store<u32>(mapbuf, 0xffff0000, 8);
  store<u32>(mapbuf, bswap<u32>(load<u32>(a)), 12);
  inet6_to_sa(sa, mapbuf, port);
}

const ops = changetype<TcpAfOps>(memory.data(offsetof<TcpAfOps>(), 4));
const mapbuf = memory.data(16, 8);
const srcbuf = memory.data(16, 8);
const dstbuf = memory.data(16, 8);
const laddrbuf = memory.data(16, 8);
const faddrbuf = memory.data(16, 8);
const zbuf = memory.data(16, 8); // an address's wire form for inet6
const stashl = memory.data(16, 8);
const stashf = memory.data(16, 8);

export function tcp_inet6_ops(): usize {
  ops.af = AF_INET6;
  ops.af_stash = inet6_stash.index;
  ops.af_output = inet6_output.index;
  ops.af_mss = inet6_mss.index;
  ops.af_selectsrc = inet6_selectsrc.index;
  ops.af_localip = inet6_localip.index;
  ops.af_badaddr = inet6_badaddr.index;
  ops.af_salen = SOCKADDR_IN6_SIZE;
  ops.af_sa_to = inet6_sa_to.index;
  ops.af_to_sa = inet6_to_sa.index;
  ops.af_tsomax = inet6_tsomax.index;
  ops.af_init = inet6_init.index;
  ops.af_ctloutput = inet6_ctloutput.index;
  ops.af_unmap = inet6_unmap.index;
  ops.af_map_sa = inet6_map_sa.index;
  ops.af_dual = AF_INET;
  return changetype<usize>(ops);
}

/**
 * Attach to inet6 when it is in the kernel: register IPPROTO_TCP with its protocol switch.
 * Returns true when tcp now serves AF_INET6 (false: no inet6, or it refused).
 */
export function tcp_inet6_attach(): bool {
  if (!af_attach(inet6, AF_INET6)) return false;
  if (call_indirect<i32>(af_fn(inet6, IN6API_PROTO_REGISTER), IPPROTO_TCP, tcp_inet6_input.index, tcp_inet6_ctlinput.index) != 0) {
    af_detach(inet6);
    return false;
  }
  return true;
}

export function tcp_inet6_detach(): void {
  if (live()) call_indirect<i32>(af_fn(inet6, IN6API_PROTO_UNREGISTER), IPPROTO_TCP);
  af_detach(inet6);
}

/** inet6's protocol switch input for IPPROTO_TCP: m starts at the IPv6 header, TCP at off. */
export function tcp_inet6_input(m: usize, off: u32): void {
  let mm = changetype<Mbuf>(m);
  const need = <i32>(off + TCP_HDR_MIN);
  if (mm.ph_len < need) {
    TCPSTAT_INC(TCPS_RCVTOTAL);
    TCPSTAT_INC(TCPS_RCVSHORT);
    m_freem(m);
    return;
  }
  if (mm.m_len < need) {
    m = m_pullup(m, need);
    if (m == 0) return;
    mm = changetype<Mbuf>(m);
  }
  const ip = mtod(m);
  const tlen = <u32>mm.ph_len - off;
  const cf = mm.ph_csum_flags;
  // An epair between vnets vouches for data that never left the kernel (CSUM_DATA_VALID).
  if ((cf & CSUM_L4_CALC) != 0 ? (cf & CSUM_L4_VALID) == 0 : in_cksum(m, off, tlen, in6_pseudo(ip + IP6_SRC, ip + IP6_DST, IPPROTO_TCP, tlen)) != 0) {
    TCPSTAT_INC(TCPS_RCVTOTAL);
    TCPSTAT_INC(TCPS_RCVBADSUM);
    m_freem(m);
    return;
  }
  // The lookups see link-scope addresses with the receiving link's zone (scope6.ts).
  in6_copy(srcbuf, ip + IP6_SRC);
  in6_zone_in(srcbuf, mm.ph_rcvif);
  in6_copy(dstbuf, ip + IP6_DST);
  in6_zone_in(dstbuf, mm.ph_rcvif);
  m_adj(m, <i32>off);
  tcp_input(m, changetype<usize>(ops), srcbuf, dstbuf);
}
