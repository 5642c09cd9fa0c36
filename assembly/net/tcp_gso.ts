// The software fallback of output offload that both families share (docs/tcp.md "Offload
// between vnets"): writing a delayed transport checksum, and cutting a large TCP segment
// into ph_tso_segsz-byte pieces. Compiled into inet (netinet/ip_offload.ts) and inet6
// (netinet6/ip6_offload.ts), as tailq.ts is; each family keeps its header: it checks the
// packet, and for every piece fixes its own header and gives the pseudo-header sum.

import { m_gethdr, m_getjcl, m_freem, m_copydata, m_copyback, m_dup, in_cksum, in_delayed_cksum_value } from "../kmod/kapi";
import { Mbuf, M_PKTHDR, MT_DATA, MHLEN, CSUM_L4_CALC, CSUM_L4_VALID, mtod } from "../sys/mbuf";

export const IPPROTO_TCP: u32 = 6;
export const TCP_HDR_MIN: u32 = 20;
// TCP header fields this file touches (netinet/tcp/tcp_var.ts has the full view).
const TH_SEQ: usize = 4;
export const TH_OFFX: usize = 12;
const TH_FLAGS: usize = 13;
const TH_SUM: usize = 16;
const TH_FIN: u8 = 0x01;
const TH_PUSH: u8 = 0x08;
const TH_CWR: u8 = 0x80;

/** What a receiving epair added: the data is trusted (it never left the kernel). */
const CSUM_RX: u32 = CSUM_L4_CALC | CSUM_L4_VALID;

const sumbuf = memory.data(4, 4);

/** The last gso_write_cksum wrote a checksum (the family counts it: ipstat/ip6stat swcsum). */
export let gso_wrote = false;
/** Pieces the last tcp_gso_cut made (the family counts them: gso). */
export let gso_pieces: u32 = 0;

/**
 * Write the transport checksum packet m left to the interface (its network header l3off
 * bytes in) and clear the request bits `clear` and the receive marks. Returns the packet (a
 * private copy when its storage was shared) or 0 when no copy could be made (m freed).
 */
export function gso_write_cksum(m: usize, l3off: u32, clear: u32): usize {
  gso_wrote = false;
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
    gso_wrote = true;
  }
  changetype<Mbuf>(m).ph_csum_flags &= ~(clear | CSUM_RX);
  return m;
}

/** Free m (if any) and the packet list from head (m_nextpkt). */
export function gso_free(m: usize, head: usize): void {
  while (head != 0) {
    const next = changetype<Mbuf>(head).m_nextpkt;
    m_freem(head);
    head = next;
  }
  if (m != 0) m_freem(m);
}

/**
 * Cut the large TCP segment m into pieces of segsz data bytes. m is checked by the family
 * and pulled up: its first hdrlen bytes (link header, network header of l3len bytes at l3off,
 * TCP header) are contiguous; paylen data bytes follow. Each piece gets those headers, its
 * data, its sequence number, FIN and PSH on the last piece only, CWR on the first only (RFC
 * 3168 6.1.2), the family's header fix (fix(network header, piece index, TCP length) returns
 * the pseudo-header sum) and a complete TCP checksum. m is consumed; returns the pieces as a
 * list through m_nextpkt (gso_pieces of them), or 0 when a piece could not be had (all freed).
 */
export function tcp_gso_cut(m: usize, l3off: u32, l3len: u32, hdrlen: u32, paylen: u32, segsz: u32, fix: (ip: usize, i: u32, tlen: u32) => u32): usize {
  const thoff = hdrlen - l3off - l3len;
  const th = mtod(m) + l3off + l3len;
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
    if (s == 0) {
      gso_free(m, head);
      return 0;
    }
    const d = mtod(s);
    memory.copy(d, mtod(m), hdrlen);
    if (n > 0) m_copydata(m, <i32>(hdrlen + off), <i32>n, d + hdrlen);
    const ss = changetype<Mbuf>(s);
    ss.m_len = <i32>size;
    ss.ph_len = <i32>size;
    const sip = d + l3off;
    const sth = sip + l3len;
    const pseudo = fix(sip, i, thoff + n);
    store<u32>(sth + TH_SEQ, bswap<u32>(seq0 + off));
    let f = flags0;
    if (off + n < paylen) f &= ~(TH_FIN | TH_PUSH);
    if (i != 0) f &= ~TH_CWR;
    store<u8>(sth + TH_FLAGS, f);
    store<u16>(sth + TH_SUM, 0);
    const c = in_cksum(s, l3off + l3len, thoff + n, pseudo);
    store<u16>(sth + TH_SUM, bswap<u16>(<u16>c));
    if (tail != 0) changetype<Mbuf>(tail).m_nextpkt = s;
    else head = s;
    tail = s;
    off += n;
    i++;
  } while (off < paylen);
  gso_pieces = i;
  m_freem(m);
  return head;
}
