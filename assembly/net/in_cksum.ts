// The Internet checksum (RFC 1071) over memory and over mbuf chains, and the incremental
// update of RFC 1624. Shared by IPv4, ICMP, UDP and TCP (and IPv6's upper layers); kept in
// the kernel so every module uses one implementation.
//
// Sums are kept in network byte order as read from memory (little-endian loads of
// big-endian data); the one's-complement sum commutes with the byte swap, so the result is
// swapped once at the end.

import { Mbuf, CSUM_TCP, CSUM_UDP, CSUM_TCP_IPV6, CSUM_DELAY_DATA_IPV6 } from "../sys/mbuf";
import { m_copydata } from "../kern/uipc_mbuf";

/** 64-bit accumulate of len bytes at p (little-endian loads), not folded. */
function sumBytes(p: usize, len: u32, acc: u64): u64 {
  while (len >= 8) {
    const v = load<u64>(p);
    acc += (v & 0xffffffff) + (v >> 32);
    p += 8;
    len -= 8;
  }
  if (len >= 4) {
    acc += <u64>load<u32>(p);
    p += 4;
    len -= 4;
  }
  if (len >= 2) {
    acc += <u64>load<u16>(p);
    p += 2;
    len -= 2;
  }
  if (len == 1) acc += <u64>load<u8>(p);
  return acc;
}

/** Fold a 64-bit sum of little-endian loads to 16 bits, in network order (as a u16 value). */
@inline function fold(acc: u64): u32 {
  acc = (acc & 0xffffffff) + (acc >> 32);
  acc = (acc & 0xffffffff) + (acc >> 32);
  let s = <u32>acc;
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  return <u32>bswap<u16>(<u16>s);
}

/** The checksum (complemented) of len contiguous bytes at p, as a host-order u16. */
export function in_cksum_buf(p: usize, len: u32): u16 {
  return <u16>(~fold(sumBytes(p, len, 0)) & 0xffff);
}

/**
 * Sum (not complemented) of len bytes of chain m from offset off, plus init (a host-order
 * partial sum, e.g. the pseudo-header). Returns the folded host-order 16-bit sum, or
 * 0x10000 when the chain is shorter than off + len.
 */
export function in_cksum_sum(m: usize, off: u32, len: u32, init: u32): u32 {
  // Skip to the mbuf holding off.
  while (m != 0 && off >= <u32>changetype<Mbuf>(m).m_len) {
    off -= <u32>changetype<Mbuf>(m).m_len;
    m = changetype<Mbuf>(m).m_next;
  }
  let acc: u64 = 0;
  let odd = false; // bytes summed so far is odd: the next mbuf's bytes are swapped
  while (len > 0) {
    if (m == 0) return 0x10000;
    const mm = changetype<Mbuf>(m);
    const avail = <u32>mm.m_len - off;
    const n = min<u32>(avail, len);
    const part = sumBytes(mm.m_data + off, n, 0);
    if (odd) {
      // Shift by one byte: swap the bytes of each 16-bit lane of the partial sum.
      let f = (part & 0xffffffff) + (part >> 32);
      f = (f & 0xffffffff) + (f >> 32);
      let s = <u32>f;
      s = (s & 0xffff) + (s >> 16);
      s = (s & 0xffff) + (s >> 16);
      acc += <u64>(((s & 0xff) << 8) | (s >> 8));
    } else {
      acc += part;
    }
    if (n & 1) odd = !odd;
    len -= n;
    off = 0;
    m = mm.m_next;
  }
  let s = fold(acc) + init;
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  return s;
}

/** The complemented checksum over chain bytes [off, off + len) plus init; 0x10000 if short. */
export function in_cksum(m: usize, off: u32, len: u32, init: u32): u32 {
  const s = in_cksum_sum(m, off, len, init);
  return s == 0x10000 ? s : (~s & 0xffff);
}

/** The IPv4 pseudo-header sum (host-order addresses, protocol, upper-layer length). */
export function in_pseudo(src: u32, dst: u32, proto: u32, len: u32): u32 {
  let s: u64 = <u64>(src >> 16) + <u64>(src & 0xffff) + <u64>(dst >> 16) + <u64>(dst & 0xffff) + <u64>proto + <u64>(len >> 16) + <u64>(len & 0xffff);
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  return <u32>s;
}

/**
 * The IPv6 pseudo-header sum (RFC 8200 8.1): the 16-byte addresses at src and dst
 * (network order in memory), the upper-layer length and next header. Host order, folded.
 */
export function in6_pseudo(src: usize, dst: usize, nxt: u32, len: u32): u32 {
  let s: u64 = sumBytes(src, 16, 0);
  s = sumBytes(dst, 16, s);
  let f = fold(s) + (len >> 16) + (len & 0xffff) + nxt;
  f = (f & 0xffff) + (f >> 16);
  f = (f & 0xffff) + (f >> 16);
  return f;
}

/**
 * RFC 1624 eqn. 3: the new checksum (host order) after a 16-bit field changed from old to
 * new: HC' = ~(~HC + ~m + m').
 */
export function in_cksum_update(hc: u16, old: u16, nw: u16): u16 {
  let s: u32 = <u32>(~hc & 0xffff) + <u32>(~old & 0xffff) + <u32>nw;
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  return <u16>(~s & 0xffff);
}

const hdrbuf = memory.data(40, 8);

/**
 * The transport checksum an IPv4 packet left to the interface (CSUM_TCP or CSUM_UDP in
 * flags: its checksum field holds the pseudo-header sum only, FreeBSD's convention), for the
 * packet whose IP header starts l3off bytes into chain m. Returns the field's offset in the
 * chain << 16 | the checksum to store there (host order; a UDP zero is sent as 0xffff), or
 * 0 when m holds no such IPv4 packet (not version 4, a fragment, shorter than it says).
 * Nothing is written: the caller puts the value in the packet (ip_output's software
 * fallback) or only in a capture's copy (bpf).
 */
export function in_delayed_cksum_value(m: usize, l3off: u32, flags: u32): u32 {
  if ((flags & CSUM_DELAY_DATA_IPV6) != 0) return in6_delayed_cksum_value(m, l3off, flags);
  if ((flags & (CSUM_TCP | CSUM_UDP)) == 0) return 0;
  if (!m_copydata(m, <i32>l3off, 20, hdrbuf)) return 0;
  const vhl = load<u8>(hdrbuf);
  const hlen = (<u32>vhl & 0xf) << 2;
  const iplen = <u32>bswap<u16>(load<u16>(hdrbuf, 2));
  if ((vhl >> 4) != 4 || hlen < 20 || iplen < hlen + 8 || (bswap<u16>(load<u16>(hdrbuf, 6)) & 0x3fff) != 0) return 0;
  const tcp = (flags & CSUM_TCP) != 0;
  const l4len = iplen - hlen;
  if (tcp && l4len < 20) return 0;
  const field = l3off + hlen + (tcp ? 16 : 6);
  const s = in_cksum(m, l3off + hlen, l4len, 0);
  if (s == 0x10000) return 0;
  return (field << 16) | (!tcp && s == 0 ? 0xffff : s);
}

/**
 * The same for an IPv6 packet (CSUM_TCP_IPV6 or CSUM_UDP_IPV6 in flags; the fixed header
 * l3off bytes into m). The transport header is found after any hop-by-hop, routing or
 * destination options headers (RFC 8200 4.1 order); a fragment header, an unknown one or
 * a transport other than the one flags name gives 0: the value cannot be right there.
 */
export function in6_delayed_cksum_value(m: usize, l3off: u32, flags: u32): u32 {
  if (!m_copydata(m, <i32>l3off, 40, hdrbuf)) return 0;
  if ((load<u8>(hdrbuf) >> 4) != 6) return 0;
  const end: u32 = 40 + <u32>bswap<u16>(load<u16>(hdrbuf, 4)); // past the payload, from the header
  let nxt = <u32>load<u8>(hdrbuf, 6);
  let off: u32 = 40;
  // Hop-by-hop (0), routing (43), destination options (60): 8 * (1 + length) bytes each.
  for (let i = 0; i < 8 && (nxt == 0 || nxt == 43 || nxt == 60); i++) {
    if (off + 8 > end || !m_copydata(m, <i32>(l3off + off), 2, hdrbuf)) return 0;
    nxt = <u32>load<u8>(hdrbuf);
    off += (<u32>load<u8>(hdrbuf, 1) + 1) << 3;
  }
  const tcp = (flags & CSUM_TCP_IPV6) != 0;
  if (nxt != (tcp ? 6 : 17) || off + (tcp ? <u32>20 : <u32>8) > end) return 0;
  const s = in_cksum(m, l3off + off, end - off, 0);
  if (s == 0x10000) return 0;
  return ((l3off + off + (tcp ? 16 : 6)) << 16) | (!tcp && s == 0 ? 0xffff : s);
}
