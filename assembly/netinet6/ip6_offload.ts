// Software fallback of IPv6 output offload (docs/tcp.md "Offload between vnets"), the
// sibling of netinet/ip_offload.ts: what an IPv6 packet asked the interface to do
// (CSUM_TCP_IPV6 / CSUM_UDP_IPV6: fill in the transport checksum; CSUM_IP6_TSO: cut a large
// TCP segment into ph_tso_segsz-byte segments) done here when the interface it leaves by
// does not assist it now. FreeBSD's in6_delayed_cksum, and the software GSO Linux runs for
// a device without the feature.
//
// The kernel's ether_output_frame calls ip6_offload_fixup (registered at load) for a frame
// whose request bits are IPv6's; ip6_output calls ip6_offload_sw itself before lo0 and
// before fragmenting. Segments cut here carry complete checksums and no offload bits.
//
// Extension headers: the checksum is found after hop-by-hop, routing and destination
// options headers (in6_delayed_cksum_value). A large segment is only ever made by our TCP,
// which sends no extension headers; one with any (next header not TCP) is dropped and
// counted rather than cut wrong.

import {
  m_gethdr, m_getjcl, m_freem, m_pullup, m_copydata, m_copyback, m_dup, in_cksum, in6_pseudo, in_delayed_cksum_value,
} from "../kmod/kapi";
import { Mbuf, M_PKTHDR, MT_DATA, MHLEN, CSUM_DELAY_DATA_IPV6, CSUM_IP6_TSO, CSUM_L4_CALC, CSUM_L4_VALID, mtod } from "../sys/mbuf";
import { ETHER_HDR_LEN, ETHERTYPE_IPV6 } from "../sys/if";
import { IP6_HDR_LEN, IP6_SRC, IP6_DST, ip6_plen, ip6_set_plen, ip6_nxt } from "../sys/in6";
import { IP6STAT_INC, IP6STAT_ADD, IP6S_SWCSUM, IP6S_GSO, IP6S_ODROPPED } from "./ip6_var";

const IPPROTO_TCP: u32 = 6;
const TCP_HDR_MIN: u32 = 20;
// TCP header fields this file touches (netinet/tcp/tcp_var.ts has the full view).
const TH_SEQ: usize = 4;
const TH_OFFX: usize = 12;
const TH_FLAGS: usize = 13;
const TH_SUM: usize = 16;
const TH_FIN: u8 = 0x01;
const TH_PUSH: u8 = 0x08;
const TH_CWR: u8 = 0x80;

/** What a receiving epair added: the data is trusted (it never left the kernel). */
const CSUM_RX: u32 = CSUM_L4_CALC | CSUM_L4_VALID;

const sumbuf = memory.data(4, 4);

/**
 * in6_delayed_cksum: write the transport checksum the packet left to the interface (its
 * IPv6 header l3off bytes into m) and clear the request. Returns the packet (a private copy
 * when its storage was shared) or 0 when no copy could be made (m freed).
 */
export function in6_delayed_cksum(m: usize, l3off: u32): usize {
  const v = in_delayed_cksum_value(m, l3off, changetype<Mbuf>(m).ph_csum_flags);
  if (v != 0) {
    store<u16>(sumbuf, bswap<u16>(<u16>v));
    if (!m_copyback(m, <i32>(v >> 16), 2, sumbuf)) {
      // Shared or read-only storage (a flooded copy): write into our own.
      const n = m_dup(m);
      m_freem(m);
      if (n == 0) return 0;
      m = n;
      m_copyback(m, <i32>(v >> 16), 2, sumbuf);
    }
    IP6STAT_INC(IP6S_SWCSUM);
  }
  changetype<Mbuf>(m).ph_csum_flags &= ~(CSUM_DELAY_DATA_IPV6 | CSUM_RX);
  return m;
}

@inline function fail(m: usize, head: usize): usize {
  while (head != 0) {
    const next = changetype<Mbuf>(head).m_nextpkt;
    m_freem(head);
    head = next;
  }
  if (m != 0) m_freem(m);
  IP6STAT_INC(IP6S_ODROPPED);
  return 0;
}

/**
 * tcp6_gso: cut the large TCP segment m (IPv6 header l3off bytes in, TCP right after it;
 * a link header before it is copied into every piece) into segments of ph_tso_segsz data
 * bytes: payload length, sequence numbers, FIN and PSH on the last piece only, CWR on the
 * first only (RFC 3168 6.1.2), and a complete TCP checksum each. m is consumed; returns the
 * pieces as a list through m_nextpkt, or 0 (dropped and counted).
 */
export function tcp6_gso(m: usize, l3off: u32): usize {
  let mm = changetype<Mbuf>(m);
  const need0 = <i32>(l3off + IP6_HDR_LEN + TCP_HDR_MIN);
  if (mm.ph_len < need0) return fail(m, 0);
  if (mm.m_len < need0) {
    m = m_pullup(m, need0);
    if (m == 0) return fail(0, 0);
    mm = changetype<Mbuf>(m);
  }
  let ip = mtod(m) + l3off;
  if (ip6_nxt(ip) != <u8>IPPROTO_TCP) return fail(m, 0); // extension headers: never made large here
  const thoff = (<u32>load<u8>(ip + IP6_HDR_LEN + TH_OFFX) >> 4) << 2;
  const hdrlen = l3off + IP6_HDR_LEN + thoff;
  const plen = ip6_plen(ip);
  const segsz = <u32>mm.ph_tso_segsz;
  if (thoff < TCP_HDR_MIN || hdrlen > MHLEN || plen < thoff || mm.ph_len < <i32>(l3off + IP6_HDR_LEN + plen) || segsz == 0) return fail(m, 0);
  if (mm.m_len < <i32>hdrlen) {
    m = m_pullup(m, <i32>hdrlen);
    if (m == 0) return fail(0, 0);
    mm = changetype<Mbuf>(m);
    ip = mtod(m) + l3off;
  }
  const th = ip + IP6_HDR_LEN;
  const paylen = plen - thoff;
  const seq0 = bswap<u32>(load<u32>(th + TH_SEQ));
  const flags0 = load<u8>(th + TH_FLAGS);
  let head: usize = 0;
  let tail: usize = 0;
  let i: u32 = 0;
  let off: u32 = 0;
  do {
    const n = min<u32>(segsz, paylen - off);
    const size = hdrlen + n;
    const s = size <= MHLEN ? m_gethdr(MT_DATA) : m_getjcl(MT_DATA, M_PKTHDR, size);
    if (s == 0) return fail(m, head);
    const d = mtod(s);
    memory.copy(d, mtod(m), hdrlen);
    if (n > 0) m_copydata(m, <i32>(hdrlen + off), <i32>n, d + hdrlen);
    const ss = changetype<Mbuf>(s);
    ss.m_len = <i32>size;
    ss.ph_len = <i32>size;
    const sip = d + l3off;
    const sth = sip + IP6_HDR_LEN;
    ip6_set_plen(sip, thoff + n);
    store<u32>(sth + TH_SEQ, bswap<u32>(seq0 + off));
    let f = flags0;
    if (off + n < paylen) f &= ~(TH_FIN | TH_PUSH);
    if (i != 0) f &= ~TH_CWR;
    store<u8>(sth + TH_FLAGS, f);
    store<u16>(sth + TH_SUM, 0);
    const c = in_cksum(s, l3off + IP6_HDR_LEN, thoff + n, in6_pseudo(sip + IP6_SRC, sip + IP6_DST, IPPROTO_TCP, thoff + n));
    store<u16>(sth + TH_SUM, bswap<u16>(<u16>c));
    if (tail != 0) changetype<Mbuf>(tail).m_nextpkt = s;
    else head = s;
    tail = s;
    off += n;
    i++;
  } while (off < paylen);
  IP6STAT_ADD(IP6S_GSO, i);
  m_freem(m);
  return head;
}

/**
 * Do in software what the IPv6 offload bits in need ask of packet m (IPv6 header l3off
 * bytes in). Returns the packet, or the list of pieces a large segment became (m_nextpkt),
 * or 0 (dropped, counted).
 */
export function ip6_offload_sw(m: usize, l3off: u32, need: u32): usize {
  if ((need & CSUM_IP6_TSO) != 0) return tcp6_gso(m, l3off);
  m = in6_delayed_cksum(m, l3off);
  if (m == 0) IP6STAT_INC(IP6S_ODROPPED);
  return m;
}

/** The kernel's hook (ether_set_offload_fixup6): an Ethernet frame leaving ifp. */
export function ip6_offload_fixup(ifp: usize, m: usize, need: u32): usize {
  const mm = changetype<Mbuf>(m);
  // Only IPv6 asks with these bits; anything else carrying them is a bug: drop it.
  if ((mm.m_flags & M_PKTHDR) == 0 || mm.m_len < <i32>ETHER_HDR_LEN || load<u16>(mtod(m), 12) != bswap<u16>(ETHERTYPE_IPV6)) {
    IP6STAT_INC(IP6S_ODROPPED);
    m_freem(m);
    return 0;
  }
  return ip6_offload_sw(m, ETHER_HDR_LEN, need);
}
