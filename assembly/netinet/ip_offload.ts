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

import {
  m_gethdr, m_getjcl, m_freem, m_pullup, m_copydata, m_copyback, m_dup, in_cksum, in_cksum_buf, in_pseudo,
  in_delayed_cksum_value,
} from "../kmod/kapi";
import { Mbuf, M_PKTHDR, MT_DATA, MHLEN, CSUM_DELAY_DATA, CSUM_TSO, CSUM_L4_CALC, CSUM_L4_VALID, mtod } from "../sys/mbuf";
import { ETHER_HDR_LEN, ETHERTYPE_IP } from "../sys/if";
import { IP_HDR_MIN, IP_SUM, ip_hl, ip_len, ip_id, ip_p, ip_src, ip_dst, ip_set_len, ip_set_id, ip_set_sum } from "../sys/in";
import { IPSTAT_INC, IPSTAT_ADD, IPS_SWCSUM, IPS_GSO, IPS_ODROPPED } from "./ip_var";

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
 * in_delayed_cksum: write the transport checksum the packet left to the interface (its IP
 * header l3off bytes into m) and clear the request. Returns the packet (a private copy when
 * its header storage was shared) or 0 when no copy could be made (m freed).
 */
export function in_delayed_cksum(m: usize, l3off: u32): usize {
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
    IPSTAT_INC(IPS_SWCSUM);
  }
  changetype<Mbuf>(m).ph_csum_flags &= ~(CSUM_DELAY_DATA | CSUM_RX);
  return m;
}

@inline function fail(m: usize, head: usize): usize {
  while (head != 0) {
    const next = changetype<Mbuf>(head).m_nextpkt;
    m_freem(head);
    head = next;
  }
  if (m != 0) m_freem(m);
  IPSTAT_INC(IPS_ODROPPED);
  return 0;
}

/**
 * tcp_gso: cut the large TCP segment m (IP header l3off bytes in, whatever link header
 * before it is copied into every piece) into segments of ph_tso_segsz data bytes: IP length,
 * ID (+1 per piece) and header checksum, sequence numbers, FIN and PSH on the last piece only,
 * CWR on the first only (RFC 3168 6.1.2), and a complete TCP checksum each. m is consumed;
 * returns the pieces as a list through m_nextpkt, or 0 (dropped and counted).
 */
export function tcp_gso(m: usize, l3off: u32): usize {
  let mm = changetype<Mbuf>(m);
  if (mm.m_len < <i32>(l3off + IP_HDR_MIN)) {
    m = m_pullup(m, <i32>(l3off + IP_HDR_MIN));
    if (m == 0) return fail(0, 0);
    mm = changetype<Mbuf>(m);
  }
  let ip = mtod(m) + l3off;
  const hlen = ip_hl(ip);
  if (ip_p(ip) != <u8>IPPROTO_TCP || hlen < IP_HDR_MIN || mm.ph_len < <i32>(l3off + hlen + TCP_HDR_MIN)) return fail(m, 0);
  if (mm.m_len < <i32>(l3off + hlen + TCP_HDR_MIN)) {
    m = m_pullup(m, <i32>(l3off + hlen + TCP_HDR_MIN));
    if (m == 0) return fail(0, 0);
    mm = changetype<Mbuf>(m);
    ip = mtod(m) + l3off;
  }
  const thoff = (<u32>load<u8>(ip + hlen + TH_OFFX) >> 4) << 2;
  const hdrlen = l3off + hlen + thoff;
  const total = ip_len(ip);
  const segsz = <u32>mm.ph_tso_segsz;
  if (thoff < TCP_HDR_MIN || hdrlen > MHLEN || total < hlen + thoff || mm.ph_len < <i32>(l3off + total) || segsz == 0) return fail(m, 0);
  if (mm.m_len < <i32>hdrlen) {
    m = m_pullup(m, <i32>hdrlen);
    if (m == 0) return fail(0, 0);
    mm = changetype<Mbuf>(m);
    ip = mtod(m) + l3off;
  }
  const th = ip + hlen;
  const paylen = total - hlen - thoff;
  const src = ip_src(ip);
  const dst = ip_dst(ip);
  const id0 = ip_id(ip);
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
    const sth = sip + hlen;
    ip_set_len(sip, hlen + thoff + n);
    ip_set_id(sip, <u16>(id0 + <u16>i));
    store<u16>(sip + IP_SUM, 0);
    ip_set_sum(sip, in_cksum_buf(sip, hlen));
    store<u32>(sth + TH_SEQ, bswap<u32>(seq0 + off));
    let f = flags0;
    if (off + n < paylen) f &= ~(TH_FIN | TH_PUSH);
    if (i != 0) f &= ~TH_CWR;
    store<u8>(sth + TH_FLAGS, f);
    store<u16>(sth + TH_SUM, 0);
    const c = in_cksum(s, l3off + hlen, thoff + n, in_pseudo(src, dst, IPPROTO_TCP, thoff + n));
    store<u16>(sth + TH_SUM, bswap<u16>(<u16>c));
    if (tail != 0) changetype<Mbuf>(tail).m_nextpkt = s;
    else head = s;
    tail = s;
    off += n;
    i++;
  } while (off < paylen);
  IPSTAT_ADD(IPS_GSO, i);
  m_freem(m);
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
