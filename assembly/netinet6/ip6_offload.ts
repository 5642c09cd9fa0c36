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

import { m_freem, m_pullup, in6_pseudo } from "../kmod/kapi";
import { Mbuf, M_PKTHDR, MHLEN, CSUM_DELAY_DATA_IPV6, CSUM_IP6_TSO, mtod } from "../sys/mbuf";
import { ETHER_HDR_LEN, ETHERTYPE_IPV6 } from "../sys/if";
import { IP6_HDR_LEN, IP6_SRC, IP6_DST, ip6_plen, ip6_set_plen, ip6_nxt } from "../sys/in6";
import { IP6STAT_INC, IP6STAT_ADD, IP6S_SWCSUM, IP6S_GSO, IP6S_ODROPPED } from "./ip6_var";
import { gso_write_cksum, gso_free, tcp_gso_cut, gso_wrote, gso_pieces, IPPROTO_TCP, TCP_HDR_MIN, TH_OFFX } from "../net/tcp_gso";

/**
 * in6_delayed_cksum: write the transport checksum the packet left to the interface (its
 * IPv6 header l3off bytes into m) and clear the request. Returns the packet (a private copy
 * when its storage was shared) or 0 when no copy could be made (m freed).
 */
export function in6_delayed_cksum(m: usize, l3off: u32): usize {
  m = gso_write_cksum(m, l3off, CSUM_DELAY_DATA_IPV6);
  if (gso_wrote) IP6STAT_INC(IP6S_SWCSUM);
  return m;
}

@inline function fail(m: usize): usize {
  gso_free(m, 0);
  IP6STAT_INC(IP6S_ODROPPED);
  return 0;
}

/** A piece's IPv6 header: its payload length; its pseudo-header sum. */
function ip6_gso_fix(ip: usize, i: u32, tlen: u32): u32 {
  ip6_set_plen(ip, tlen);
  return in6_pseudo(ip + IP6_SRC, ip + IP6_DST, IPPROTO_TCP, tlen);
}

/**
 * tcp6_gso: cut the large TCP segment m (IPv6 header l3off bytes in, TCP right after it;
 * a link header before it is copied into every piece) into segments of ph_tso_segsz data
 * bytes (net/tcp_gso.ts), each with its payload length. m is consumed; returns the pieces as
 * a list through m_nextpkt, or 0 (dropped and counted).
 */
export function tcp6_gso(m: usize, l3off: u32): usize {
  let mm = changetype<Mbuf>(m);
  const need0 = <i32>(l3off + IP6_HDR_LEN + TCP_HDR_MIN);
  if (mm.ph_len < need0) return fail(m);
  if (mm.m_len < need0) {
    m = m_pullup(m, need0);
    if (m == 0) return fail(0);
    mm = changetype<Mbuf>(m);
  }
  const ip = mtod(m) + l3off;
  if (ip6_nxt(ip) != <u8>IPPROTO_TCP) return fail(m); // extension headers: never made large here
  const thoff = (<u32>load<u8>(ip + IP6_HDR_LEN + TH_OFFX) >> 4) << 2;
  const hdrlen = l3off + IP6_HDR_LEN + thoff;
  const plen = ip6_plen(ip);
  const segsz = <u32>mm.ph_tso_segsz;
  if (thoff < TCP_HDR_MIN || hdrlen > MHLEN || plen < thoff || mm.ph_len < <i32>(l3off + IP6_HDR_LEN + plen) || segsz == 0) return fail(m);
  if (mm.m_len < <i32>hdrlen) {
    m = m_pullup(m, <i32>hdrlen);
    if (m == 0) return fail(0);
  }
  const head = tcp_gso_cut(m, l3off, IP6_HDR_LEN, hdrlen, plen - thoff, segsz, ip6_gso_fix);
  if (head == 0) return fail(0);
  IP6STAT_ADD(IP6S_GSO, gso_pieces);
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
