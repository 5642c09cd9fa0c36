// TCP over IPv4: the AF_INET half of TCP's per-family operations (TcpAfOps in tcp_var.ts)
// and the input entry the inet module's protocol switch calls. Everything IPv4-specific
// in TCP is in this file; an IPv6 glue would be a sibling with the same shape.
//
// Addresses in the 16-byte pcb fields: the IPv4 address (u32, host order) in the first 4
// bytes, zeros after.

import { m_freem, m_pullup, m_adj, in_cksum, in_pseudo } from "../../kmod/kapi";
import { Mbuf, mtod } from "../../sys/mbuf";
import { AF_INET, SOCKADDR_IN_SIZE, sa_len, sa_family, sin_port, sin_addr, sockaddr_in_set } from "../../sys/socket";
import { ip_hl, ip_len, ip_src, ip_dst, IN_MULTICAST, INADDR_BROADCAST } from "../../sys/in";
import { TcpAfOps, TCPSTAT_INC, TCPS_RCVSHORT, TCPS_RCVBADSUM, TCPS_RCVTOTAL, TH_SUM, IPPROTO_TCP, TCP_HDR_MIN } from "./tcp_var";
import { tcp_input } from "./tcp_input";

@external("inet", "ip_output") declare function ip_output(m: usize, src: u32, dst: u32, proto: u32, ttl: u32, tos: u32, flags: u32, ifp: usize): i32;
@external("inet", "in_selectsrc") declare function in_selectsrc(dst: u32): u32;
@external("inet", "in_localip") declare function in_localip(a: u32): bool;
@external("inet", "in_rtmtu") declare function in_rtmtu(dst: u32): u32;
@external("inet", "ipproto_register") export declare function ipproto_register(proto: u32, input: u32, ctlinput: u32): i32;
@external("inet", "ipproto_unregister") export declare function ipproto_unregister(proto: u32): i32;

const IP_TTL_DEFAULT: u32 = 64;
const IPV4_HDR: u32 = 20;

function inet_stash(m: usize, laddr: usize, faddr: usize): void {
  const mm = changetype<Mbuf>(m);
  const src = load<u32>(laddr);
  const dst = load<u32>(faddr);
  const len = <u32>mm.ph_len;
  const th = mtod(m);
  store<u16>(th + TH_SUM, 0);
  const sum = in_cksum(m, 0, len, in_pseudo(src, dst, IPPROTO_TCP, len));
  store<u16>(th + TH_SUM, bswap<u16>(<u16>sum));
  mm.ph_flowid = src;
  mm.ph_csum_data = dst;
}

function inet_output(m: usize): i32 {
  const mm = changetype<Mbuf>(m);
  return ip_output(m, mm.ph_flowid, mm.ph_csum_data, IPPROTO_TCP, IP_TTL_DEFAULT, 0, 0, 0);
}

function inet_mss(faddr: usize): u32 {
  const mtu = in_rtmtu(load<u32>(faddr));
  return mtu > IPV4_HDR + TCP_HDR_MIN ? mtu - IPV4_HDR - TCP_HDR_MIN : 0;
}

function inet_selectsrc(faddr: usize, out: usize): i32 {
  const a = in_selectsrc(load<u32>(faddr));
  if (a == 0) return -51; // ENETUNREACH
  memory.fill(out, 0, 16);
  store<u32>(out, a);
  return 0;
}

function inet_localip(a: usize): bool {
  return in_localip(load<u32>(a));
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

const ops = changetype<TcpAfOps>(memory.data(offsetof<TcpAfOps>(), 4));
const srcbuf = memory.data(16, 8);
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
  return changetype<usize>(ops);
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
  if (in_cksum(m, iphlen, tlen, in_pseudo(src, dst, IPPROTO_TCP, tlen)) != 0) {
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
