// Software fallback of output offload (docs/tcp.md "Offload between vnets"): what an IPv4
// packet asked the interface to do (CSUM_TCP / CSUM_UDP: fill in the transport checksum;
// CSUM_TSO: cut a large TCP segment into ph_tso_segsz-byte segments) done here when the
// interface it leaves by does not assist it (now). FreeBSD's in_delayed_cksum, and the
// software GSO Linux runs for a device without the feature.
//
// The kernel's ether_output_frame calls ip_offload_fixup (registered at load) for every
// Ethernet frame it is about to tap or transmit; ip_output calls ip_offload_sw itself before
// lo0 and before fragmenting. Segments cut here carry complete checksums and no offload bits:
// they are exactly what a wire would carry.

import { m_freem, m_pullup, in_cksum_buf, in_pseudo } from "../kmod/kapi";
import { Mbuf, M_PKTHDR, MHLEN, CSUM_DELAY_DATA, CSUM_TSO, mtod } from "../sys/mbuf";
import { ETHER_HDR_LEN, ETHERTYPE_IP } from "../sys/if";
import { IP_HDR_MIN, IP_SUM, ip_hl, ip_len, ip_id, ip_p, ip_src, ip_dst, ip_set_len, ip_set_id, ip_set_sum } from "../sys/in";
import { IPSTAT_INC, IPSTAT_ADD, IPS_SWCSUM, IPS_GSO, IPS_ODROPPED } from "./ip_var";
import { gso_write_cksum, gso_free, tcp_gso_cut, gso_wrote, gso_pieces, IPPROTO_TCP, TCP_HDR_MIN, TH_OFFX } from "../net/tcp_gso";

/**
 * in_delayed_cksum: write the transport checksum the packet left to the interface (its IP
 * header l3off bytes in m) and clear the request. Returns the packet (a private copy when
 * its header storage was shared) or 0 when no copy could be made (m freed).
 */
export function in_delayed_cksum(m: usize, l3off: u32): usize {
  m = gso_write_cksum(m, l3off, CSUM_DELAY_DATA);
  if (gso_wrote) IPSTAT_INC(IPS_SWCSUM);
  return m;
}

@inline function fail(m: usize): usize {
  gso_free(m, 0);
  IPSTAT_INC(IPS_ODROPPED);
  return 0;
}

/** A piece's IPv4 header: length, ID (+1 a piece), header checksum; its pseudo-header sum. */
function ip_gso_fix(ip: usize, i: u32, tlen: u32): u32 {
  const hlen = ip_hl(ip);
  ip_set_len(ip, hlen + tlen);
  ip_set_id(ip, <u16>(ip_id(ip) + <u16>i));
  store<u16>(ip + IP_SUM, 0);
  ip_set_sum(ip, in_cksum_buf(ip, hlen));
  return in_pseudo(ip_src(ip), ip_dst(ip), IPPROTO_TCP, tlen);
}

/**
 * tcp_gso: cut the large TCP segment m (IP header l3off bytes in, whatever link header
 * before it is copied into every piece) into segments of ph_tso_segsz data bytes
 * (net/tcp_gso.ts), each with its IP length, ID (+1 per piece) and header checksum. m is
 * consumed; returns the pieces as a list through m_nextpkt, or 0 (dropped and counted).
 */
export function tcp_gso(m: usize, l3off: u32): usize {
  let mm = changetype<Mbuf>(m);
  if (mm.m_len < <i32>(l3off + IP_HDR_MIN)) {
    m = m_pullup(m, <i32>(l3off + IP_HDR_MIN));
    if (m == 0) return fail(0);
    mm = changetype<Mbuf>(m);
  }
  let ip = mtod(m) + l3off;
  const hlen = ip_hl(ip);
  if (ip_p(ip) != <u8>IPPROTO_TCP || hlen < IP_HDR_MIN || mm.ph_len < <i32>(l3off + hlen + TCP_HDR_MIN)) return fail(m);
  if (mm.m_len < <i32>(l3off + hlen + TCP_HDR_MIN)) {
    m = m_pullup(m, <i32>(l3off + hlen + TCP_HDR_MIN));
    if (m == 0) return fail(0);
    mm = changetype<Mbuf>(m);
    ip = mtod(m) + l3off;
  }
  const thoff = (<u32>load<u8>(ip + hlen + TH_OFFX) >> 4) << 2;
  const hdrlen = l3off + hlen + thoff;
  const total = ip_len(ip);
  const segsz = <u32>mm.ph_tso_segsz;
  if (thoff < TCP_HDR_MIN || hdrlen > MHLEN || total < hlen + thoff || mm.ph_len < <i32>(l3off + total) || segsz == 0) return fail(m);
  if (mm.m_len < <i32>hdrlen) {
    m = m_pullup(m, <i32>hdrlen);
    if (m == 0) return fail(0);
  }
  const head = tcp_gso_cut(m, l3off, hlen, hdrlen, total - hlen - thoff, segsz, ip_gso_fix);
  if (head == 0) return fail(0);
  IPSTAT_ADD(IPS_GSO, gso_pieces);
  return head;
}

/**
 * Do in software the offload bits need of packet m (IP header l3off bytes in). Returns the
 * packet, or the list of pieces a large segment became (m_nextpkt), or 0 (dropped, counted).
 */
export function ip_offload_sw(m: usize, l3off: u32, need: u32): usize {
  if ((need & CSUM_TSO) != 0) return tcp_gso(m, l3off);
  m = in_delayed_cksum(m, l3off);
  if (m == 0) IPSTAT_INC(IPS_ODROPPED);
  return m;
}

/** The kernel's hook (ether_set_offload_fixup): an Ethernet frame leaving ifp. */
export function ip_offload_fixup(ifp: usize, m: usize, need: u32): usize {
  const mm = changetype<Mbuf>(m);
  // Only IPv4 asks for offload; anything else with the bits set is a bug: drop it.
  if ((mm.m_flags & M_PKTHDR) == 0 || mm.m_len < <i32>ETHER_HDR_LEN || load<u16>(mtod(m), 12) != bswap<u16>(ETHERTYPE_IP)) {
    IPSTAT_INC(IPS_ODROPPED);
    m_freem(m);
    return 0;
  }
  return ip_offload_sw(m, ETHER_HDR_LEN, need);
}
