// TCP over IPv4: the AF_INET half of TCP's per-family operations (TcpAfOps in tcp_var.ts)
// and the input entry the inet module's protocol switch calls. Everything IPv4-specific
// in TCP is in this file; tcp_inet6.ts is its sibling with the same shape. inet is not
// imported (tcp would depend on it, and a NOINET kernel could not load tcp): tcp.ts finds
// inet's entry table at MOD_LOAD through domain_af_api(AF_INET) (sys/in.ts INAPI_*) and
// calls through it.
//
// Addresses in the 16-byte pcb fields: the IPv4 address (u32, host order) in the first 4
// bytes, zeros after.

import { m_freem, m_pullup, m_adj, in_cksum, in_pseudo } from "../../kmod/kapi";
import { AfApi, af_attach, af_detach, af_live, af_fn } from "../../kmod/af_api";
import { Mbuf, CSUM_TCP, CSUM_L4_CALC, CSUM_L4_VALID, mtod } from "../../sys/mbuf";
import { AF_INET, SOCKADDR_IN_SIZE, sa_len, sa_family, sin_port, sin_addr, sockaddr_in_set } from "../../sys/socket";
import {
  ip_hl, ip_len, ip_src, ip_dst, IN_MULTICAST, INADDR_BROADCAST, ICMP_UNREACH, ICMP_UNREACH_NET, ICMP_UNREACH_NEEDFRAG, ICMP_UNREACH_PORT,
  ICMP_UNREACH_PROTOCOL, ICMP_UNREACH_FILTER_PROHIB, ICMP_TIMXCEED, ICMP_TIMXCEED_INTRANS, ICMP_PARAMPROB, INAPI_OUTPUT,
  INAPI_SELECTSRC, INAPI_RTMTU, INAPI_RTTSO, INAPI_LOCALIP, INAPI_PROTO_REGISTER, INAPI_PROTO_UNREGISTER,
} from "../../sys/in";
import { EMSGSIZE, ECONNREFUSED, ENETUNREACH, EHOSTUNREACH, ENOPROTOOPT } from "../../sys/errno";
import { TcpAfOps, TCPSTAT_INC, TCPS_RCVSHORT, TCPS_RCVBADSUM, TCPS_RCVTOTAL, TH_SUM, IPPROTO_TCP, TCP_HDR_MIN, th_sport, th_dport, th_seq } from "./tcp_var";
import { tcp_input } from "./tcp_input";
import { tcp_ctlerror } from "./tcp_subr";

const inet = changetype<AfApi>(memory.data(offsetof<AfApi>(), 4)); // inet's entry table while tcp serves AF_INET

@inline function live(): bool {
  return af_live(inet);
}

const IP_TTL_DEFAULT: u32 = 64;
const IP_DONTFRAG: u32 = 0x4000; // ip_output flag: set DF (netinet/ip_var.ts)
const IPV4_HDR: u32 = 20;

function inet_stash(m: usize, laddr: usize, faddr: usize): void {
  const mm = changetype<Mbuf>(m);
  const src = load<u32>(laddr);
  const dst = load<u32>(faddr);
  const len = <u32>mm.ph_len;
  // Delayed checksum (FreeBSD's convention): the pseudo-header sum now, the rest where the
  // packet leaves the kernel, or never when it only crosses an epair (docs/tcp.md).
  store<u16>(mtod(m) + TH_SUM, bswap<u16>(<u16>in_pseudo(src, dst, IPPROTO_TCP, len)));
  mm.ph_csum_flags |= CSUM_TCP;
  mm.ph_flowid = src;
  mm.ph_csum_data = dst;
}

function inet_output(m: usize): i32 {
  if (!live()) {
    m_freem(m);
    return -EHOSTUNREACH;
  }
  const mm = changetype<Mbuf>(m);
  const src = mm.ph_flowid;
  const dst = mm.ph_csum_data;
  mm.ph_csum_data = 0;
  const th = mtod(m);
  const sport = th_sport(th);
  const dport = th_dport(th);
  const seq = th_seq(th);
  // DF on every segment: path MTU discovery (RFC 1191), as FreeBSD's path_mtu_discovery=1.
  const r = call_indirect<i32>(af_fn(inet, INAPI_OUTPUT), m, src, dst, <u32>IPPROTO_TCP, IP_TTL_DEFAULT, 0, IP_DONTFRAG, 0);
  if (r == -EMSGSIZE) {
    // Our own interface's MTU went below the segment (FreeBSD tcp_output's EMSGSIZE case).
    const mss = inet_mss(storeAddr(faddrbuf, dst));
    if (mss != 0) tcp_ctlerror(changetype<usize>(ops), storeAddr(laddrbuf, src), sport, faddrbuf, dport, seq, EMSGSIZE, false, mss);
  }
  return r;
}

@inline function storeAddr(buf: usize, a: u32): usize {
  memory.fill(buf, 0, 16);
  store<u32>(buf, a);
  return buf;
}

/** RFC 1191 7: the plateau below a datagram of len bytes, for routers that send no MTU. */
function mtu_plateau(len: u32): u32 {
  if (len > 32000) return 32000;
  if (len > 17914) return 17914;
  if (len > 8166) return 8166;
  if (len > 4352) return 4352;
  if (len > 2002) return 2002;
  if (len > 1492) return 1492;
  if (len > 1006) return 1006;
  if (len > 508) return 508;
  if (len > 296) return 296;
  return 68;
}

/**
 * inet's control input for IPPROTO_TCP (FreeBSD tcp_ctlinput): an ICMP error quoting one of
 * our segments. cmd is type << 8 | code, with the next-hop MTU << 16 for fragmentation
 * needed; ip is the quoted IP header with at least 8 bytes of TCP after it.
 */
export function tcp_inet_ctlinput(cmd: u32, ip: usize, reporter: u32): void {
  const type = <u8>((cmd >> 8) & 0xff);
  const code = <u8>(cmd & 0xff);
  let err: i32 = 0;
  let hard = false;
  let mss: u32 = 0;
  if (type == ICMP_UNREACH) {
    if (code == ICMP_UNREACH_NEEDFRAG) {
      let mtu = cmd >> 16;
      if (mtu < 68) mtu = mtu_plateau(ip_len(ip)); // RFC 1191 5: an old router that sends none
      mss = mtu > IPV4_HDR + TCP_HDR_MIN ? mtu - IPV4_HDR - TCP_HDR_MIN : 1;
      err = EMSGSIZE;
    } else if (code == ICMP_UNREACH_PORT || code == ICMP_UNREACH_PROTOCOL || code == ICMP_UNREACH_FILTER_PROHIB) {
      err = ECONNREFUSED;
      hard = true;
    } else if (code == ICMP_UNREACH_NET) err = ENETUNREACH;
    else err = EHOSTUNREACH;
  } else if (type == ICMP_TIMXCEED) {
    if (code == ICMP_TIMXCEED_INTRANS) err = EHOSTUNREACH;
  } else if (type == ICMP_PARAMPROB) err = ENOPROTOOPT;
  if (err == 0) return; // source quench (RFC 6633) and reassembly timeouts: ignored
  const th = ip + ip_hl(ip);
  tcp_ctlerror(changetype<usize>(ops), storeAddr(laddrbuf, ip_src(ip)), th_sport(th), storeAddr(faddrbuf, ip_dst(ip)), th_dport(th), th_seq(th), err, hard, mss);
}

function inet_tsomax(faddr: usize): u32 {
  if (!live()) return 0;
  const max = call_indirect<u32>(af_fn(inet, INAPI_RTTSO), load<u32>(faddr));
  return max > IPV4_HDR ? max - IPV4_HDR : 0;
}

function inet_mss(faddr: usize): u32 {
  if (!live()) return 0;
  const mtu = call_indirect<u32>(af_fn(inet, INAPI_RTMTU), load<u32>(faddr));
  return mtu > IPV4_HDR + TCP_HDR_MIN ? mtu - IPV4_HDR - TCP_HDR_MIN : 0;
}

function inet_selectsrc(faddr: usize, out: usize): i32 {
  if (!live()) return -51; // ENETUNREACH
  const a = call_indirect<u32>(af_fn(inet, INAPI_SELECTSRC), load<u32>(faddr));
  if (a == 0) return -51; // ENETUNREACH
  memory.fill(out, 0, 16);
  store<u32>(out, a);
  return 0;
}

function inet_localip(a: usize): bool {
  return live() && call_indirect<bool>(af_fn(inet, INAPI_LOCALIP), load<u32>(a));
}

function inet_badaddr(a: usize): bool {
  const x = load<u32>(a);
  return x == 0 || x == INADDR_BROADCAST || IN_MULTICAST(x);
}

function inet_sa_to(sa: usize, out: usize): u32 {
  if (sa_family(sa) != AF_INET || sa_len(sa) < SOCKADDR_IN_SIZE) return 0xffffffff;
  memory.fill(out, 0, 16);
  store<u32>(out, sin_addr(sa));
  return <u32>sin_port(sa);
}

function inet_to_sa(sa: usize, a: usize, port: u16): void {
  sockaddr_in_set(sa, load<u32>(a), port);
}

// IPv4 has no dual-stack sockets: no options of its level here, nothing mapped.
function inet_init(tp: usize): void {}

function inet_ctloutput(tp: usize, dir: i32, level: i32, name: i32, valp: usize): i32 {
  return -ENOPROTOOPT;
}

function inet_unmap(a: usize, out: usize): u32 {
  return 0;
}

const ops = changetype<TcpAfOps>(memory.data(offsetof<TcpAfOps>(), 4));
const srcbuf = memory.data(16, 8);
const laddrbuf = memory.data(16, 8);
const faddrbuf = memory.data(16, 8);
const dstbuf = memory.data(16, 8);

export function tcp_inet_ops(): usize {
  ops.af = AF_INET;
  ops.af_stash = inet_stash.index;
  ops.af_output = inet_output.index;
  ops.af_mss = inet_mss.index;
  ops.af_selectsrc = inet_selectsrc.index;
  ops.af_localip = inet_localip.index;
  ops.af_badaddr = inet_badaddr.index;
  ops.af_salen = SOCKADDR_IN_SIZE;
  ops.af_sa_to = inet_sa_to.index;
  ops.af_to_sa = inet_to_sa.index;
  ops.af_tsomax = inet_tsomax.index;
  ops.af_init = inet_init.index;
  ops.af_ctloutput = inet_ctloutput.index;
  ops.af_unmap = inet_unmap.index;
  ops.af_map_sa = inet_to_sa.index; // never called: nothing maps into IPv4
  ops.af_dual = 0;
  return changetype<usize>(ops);
}

/**
 * Attach to inet when it is in the kernel: register IPPROTO_TCP with its protocol switch.
 * Returns true when tcp now serves AF_INET (false: no inet, or it refused).
 */
export function tcp_inet_attach(): bool {
  if (!af_attach(inet, AF_INET)) return false;
  if (call_indirect<i32>(af_fn(inet, INAPI_PROTO_REGISTER), <u32>IPPROTO_TCP, tcp_inet_input.index, tcp_inet_ctlinput.index) != 0) {
    af_detach(inet);
    return false;
  }
  return true;
}

export function tcp_inet_detach(): void {
  if (live()) call_indirect<i32>(af_fn(inet, INAPI_PROTO_UNREGISTER), <u32>IPPROTO_TCP);
  af_detach(inet);
}

/** ipproto input for IPPROTO_TCP: m starts at the IP header (contiguous), iphlen long. */
export function tcp_inet_input(m: usize, iphlen: u32): void {
  let mm = changetype<Mbuf>(m);
  const need = <i32>(iphlen + TCP_HDR_MIN);
  if (mm.m_len < need) {
    if (mm.ph_len < need) {
      TCPSTAT_INC(TCPS_RCVTOTAL);
      TCPSTAT_INC(TCPS_RCVSHORT);
      m_freem(m);
      return;
    }
    m = m_pullup(m, need);
    if (m == 0) return;
    mm = changetype<Mbuf>(m);
  }
  const ip = mtod(m);
  const iplen = ip_len(ip);
  if (iplen < iphlen + TCP_HDR_MIN || <u32>mm.ph_len < iplen) {
    TCPSTAT_INC(TCPS_RCVTOTAL);
    TCPSTAT_INC(TCPS_RCVSHORT);
    m_freem(m);
    return;
  }
  const tlen = iplen - iphlen;
  const src = ip_src(ip);
  const dst = ip_dst(ip);
  // An epair peer that left the checksum to the interface vouches for the data instead.
  const cf = mm.ph_csum_flags;
  if ((cf & CSUM_L4_CALC) != 0 ? (cf & CSUM_L4_VALID) == 0 : in_cksum(m, iphlen, tlen, in_pseudo(src, dst, IPPROTO_TCP, tlen)) != 0) {
    TCPSTAT_INC(TCPS_RCVTOTAL);
    TCPSTAT_INC(TCPS_RCVBADSUM);
    m_freem(m);
    return;
  }
  m_adj(m, <i32>iphlen);
  if (<u32>mm.ph_len > tlen) m_adj(m, <i32>tlen - mm.ph_len);
  memory.fill(srcbuf, 0, 16);
  memory.fill(dstbuf, 0, 16);
  store<u32>(srcbuf, src);
  store<u32>(dstbuf, dst);
  tcp_input(m, changetype<usize>(ops), srcbuf, dstbuf);
}

export { ip_hl };
