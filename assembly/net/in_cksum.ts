// The Internet checksum (RFC 1071) over memory and over mbuf chains, and the incremental
// update of RFC 1624. Shared by IPv4, ICMP, UDP and TCP (and IPv6's upper layers); kept in
// the kernel so every module uses one implementation.
//
// Sums are kept in network byte order as read from memory (little-endian loads of
// big-endian data); the one's-complement sum commutes with the byte swap, so the result is
// swapped once at the end.

import { Mbuf } from "../sys/mbuf";

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
