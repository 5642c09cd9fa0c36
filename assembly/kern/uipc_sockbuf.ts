// Socket buffers (FreeBSD uipc_sockbuf.c): the queue of data in one direction of a socket,
// with byte and storage limits.
//
// Datagram sockets keep records: an MT_SONAME mbuf holding the sender's sockaddr, then the
// data chain (m_next), records linked through the first mbuf's m_nextpkt. sb_cc counts the
// bytes of every mbuf, addresses included, as FreeBSD's sb_ccc does (sb_ctl the non-data
// part); sb_mbcnt counts storage (MSIZE per mbuf plus its cluster), capped by sb_mbmax =
// 8 x sb_hiwat, so a flood of tiny datagrams cannot pin more memory than the limit implies.
// Stream sockets keep one chain of data (sbappendstream / sbdrop) for TCP.
//
// A refused append is counted in sb_drops; the caller still owns (and frees) the mbufs.

import {
  Mbuf, MSIZE, M_EXT, M_PKTHDR, MT_DATA, MT_OOBDATA, MT_SONAME, MLEN, MCLBYTES, M_WRITABLE, M_TRAILINGSPACE,
} from "../sys/mbuf";
import {
  Sockbuf, Socket, SB_MAX_ADJ, SB_MAX, SB_MBCNT_FACTOR, SOCK_MAXADDRLEN, SS_CANTRCVMORE, SB_STREAM,
  sbspace, so_rcv, so_snd,
} from "../sys/socket";
import { ENOBUFS } from "../sys/errno";
import { m_get, m_free, m_freem, m_demote_pkthdr, m_length } from "./uipc_mbuf";
import { CURVNET_SET, CURVNET_RESTORE } from "./vnet";

// A sockaddr always fits one mbuf.
if (SOCK_MAXADDRLEN > MLEN) ERROR("SOCK_MAXADDRLEN must fit in an mbuf");

/** sballoc: account for mbuf m entering sb. */
@inline export function sballoc(sb: usize, m: usize): void {
  const s = changetype<Sockbuf>(sb);
  const mm = changetype<Mbuf>(m);
  s.sb_cc += <u32>mm.m_len;
  if (mm.m_type != MT_DATA && mm.m_type != MT_OOBDATA) s.sb_ctl += <u32>mm.m_len;
  s.sb_mbcnt += MSIZE;
  if (mm.m_flags & M_EXT) s.sb_mbcnt += mm.ext_size;
}

/** sbfree: account for mbuf m leaving sb. */
@inline export function sbfree(sb: usize, m: usize): void {
  const s = changetype<Sockbuf>(sb);
  const mm = changetype<Mbuf>(m);
  s.sb_cc -= <u32>mm.m_len;
  if (mm.m_type != MT_DATA && mm.m_type != MT_OOBDATA) s.sb_ctl -= <u32>mm.m_len;
  s.sb_mbcnt -= MSIZE;
  if (mm.m_flags & M_EXT) s.sb_mbcnt -= mm.ext_size;
}

/** sbreserve: set sb's limit to cc bytes (and its storage limit); false if cc is 0 or above sb_max_adj. */
export function sbreserve(sb: usize, cc: u32): bool {
  if (cc == 0 || cc > SB_MAX_ADJ) return false;
  const s = changetype<Sockbuf>(sb);
  s.sb_hiwat = cc;
  s.sb_mbmax = min<u32>(cc * SB_MBCNT_FACTOR, SB_MAX);
  if (s.sb_lowat > s.sb_hiwat) s.sb_lowat = s.sb_hiwat;
  return true;
}

/** soreserve: both limits of a socket (a protocol's pru_attach calls it). 0 or -ENOBUFS. */
export function soreserve(so: usize, sndcc: u32, rcvcc: u32): i32 {
  const snd = so_snd(so);
  const rcv = so_rcv(so);
  const oldHi = changetype<Sockbuf>(snd).sb_hiwat;
  const oldMax = changetype<Sockbuf>(snd).sb_mbmax;
  if (!sbreserve(snd, sndcc)) return -ENOBUFS;
  if (!sbreserve(rcv, rcvcc)) {
    changetype<Sockbuf>(snd).sb_hiwat = oldHi;
    changetype<Sockbuf>(snd).sb_mbmax = oldMax;
    return -ENOBUFS;
  }
  if (changetype<Sockbuf>(rcv).sb_lowat == 0) changetype<Sockbuf>(rcv).sb_lowat = 1;
  if (changetype<Sockbuf>(snd).sb_lowat == 0) changetype<Sockbuf>(snd).sb_lowat = min<u32>(2048, sndcc); // MCLBYTES
  return 0;
}

function lastOf(m: usize): usize {
  while (changetype<Mbuf>(m).m_next != 0) m = changetype<Mbuf>(m).m_next;
  return m;
}

/**
 * sbappendaddr: queue datagram m from sender sa (a sockaddr, sa_len bytes) on so's receive
 * buffer as one record. False, with sb_drops counted, when it does not fit (sa_len + data
 * bytes over sbspace, the smaller of bytes and storage left, as in FreeBSD), the socket can receive no more, or no mbuf is left for the address;
 * the caller then still owns m (and frees it). On success the buffer owns m. The caller
 * wakes the reader (sorwakeup) when it is done appending.
 */
export function sbappendaddr(so: usize, sa: usize, m: usize): bool {
  const sb = so_rcv(so);
  const s = changetype<Sockbuf>(sb);
  if (m == 0) return false;
  let salen: u32 = sa != 0 ? <u32>load<u8>(sa) : 0;
  if (salen > SOCK_MAXADDRLEN) salen = SOCK_MAXADDRLEN;
  const space = <i32>salen + m_length(m);
  if ((changetype<Socket>(so).so_state & SS_CANTRCVMORE) != 0 || space > sbspace(sb)) {
    s.sb_drops++;
    return false;
  }
  // The address is charged where the socket lives, whoever delivers the datagram.
  const old = CURVNET_SET(changetype<Socket>(so).so_vnet);
  const n = m_get(MT_SONAME);
  CURVNET_RESTORE(old);
  if (n == 0) {
    s.sb_drops++;
    return false;
  }
  const nn = changetype<Mbuf>(n);
  if (salen != 0) memory.copy(nn.m_data, sa, salen);
  nn.m_len = <i32>salen;
  nn.m_next = m;
  changetype<Mbuf>(m).m_nextpkt = 0;
  let last = n;
  for (let x = n; x != 0; x = changetype<Mbuf>(x).m_next) {
    sballoc(sb, x);
    last = x;
  }
  if (s.sb_lastrecord != 0) changetype<Mbuf>(s.sb_lastrecord).m_nextpkt = n;
  else s.sb_mb = n;
  s.sb_lastrecord = n;
  s.sb_mbtail = last;
  return true;
}

/**
 * sbappendstream: add chain m at the end of a stream buffer (no records, no addresses).
 * The buffer owns m. Small mbufs are copied into the tail's free space (sbcompress). The
 * caller (TCP) has checked the space; this does not refuse.
 */
export function sbappendstream(sb: usize, m: usize): void {
  const s = changetype<Sockbuf>(sb);
  s.sb_flags |= SB_STREAM;
  if (m == 0) return;
  changetype<Mbuf>(m).m_nextpkt = 0;
  if (changetype<Mbuf>(m).m_flags & M_PKTHDR) m_demote_pkthdr(m);
  while (m != 0) {
    const mm = changetype<Mbuf>(m);
    const next = mm.m_next;
    mm.m_next = 0;
    const t = s.sb_mbtail;
    if (mm.m_len == 0) {
      m_free(m);
    } else if (t != 0 && mm.m_len <= <i32>(MCLBYTES >> 2) && M_WRITABLE(t) && mm.m_len <= M_TRAILINGSPACE(t) &&
               changetype<Mbuf>(t).m_type == mm.m_type) {
      const tt = changetype<Mbuf>(t);
      memory.copy(tt.m_data + tt.m_len, mm.m_data, mm.m_len);
      tt.m_len += mm.m_len;
      s.sb_cc += <u32>mm.m_len;
      m_free(m);
    } else {
      if (mm.m_flags & M_PKTHDR) m_demote_pkthdr(m);
      if (t != 0) changetype<Mbuf>(t).m_next = m;
      else {
        s.sb_mb = m;
        s.sb_lastrecord = m;
      }
      s.sb_mbtail = m;
      sballoc(sb, m);
    }
    m = next;
  }
}

/**
 * sbdrop: remove len bytes from the front of sb (a stream buffer, or whole records and the
 * front of the next one). Dropping more than sb_cc empties it.
 */
export function sbdrop(sb: usize, len: i32): void {
  const s = changetype<Sockbuf>(sb);
  let m = s.sb_mb;
  let nextrec = m != 0 ? changetype<Mbuf>(m).m_nextpkt : 0;
  while (len > 0 || (m != 0 && changetype<Mbuf>(m).m_len == 0)) {
    if (m == 0) {
      if (nextrec == 0) break;
      m = nextrec;
      nextrec = changetype<Mbuf>(m).m_nextpkt;
      continue;
    }
    const mm = changetype<Mbuf>(m);
    if (mm.m_len > len) {
      mm.m_data += <usize>len;
      mm.m_len -= len;
      s.sb_cc -= <u32>len;
      if (mm.m_type != MT_DATA && mm.m_type != MT_OOBDATA) s.sb_ctl -= <u32>len;
      if (mm.m_flags & M_PKTHDR) mm.ph_len -= len;
      len = 0;
      break;
    }
    len -= mm.m_len;
    sbfree(sb, m);
    m = m_free(m);
  }
  if (m != 0) {
    changetype<Mbuf>(m).m_nextpkt = nextrec;
    s.sb_mb = m;
  } else {
    s.sb_mb = nextrec;
  }
  fixTail(s);
}

/** After the front changed: sb_lastrecord and sb_mbtail follow. */
function fixTail(s: Sockbuf): void {
  let rec = s.sb_mb;
  if (rec == 0) {
    s.sb_lastrecord = 0;
    s.sb_mbtail = 0;
    return;
  }
  if (s.sb_lastrecord == 0 || (s.sb_flags & SB_STREAM) != 0) {
    // Stream: one record; datagram: walk to the last record only when it was the first.
    while (changetype<Mbuf>(rec).m_nextpkt != 0) rec = changetype<Mbuf>(rec).m_nextpkt;
    s.sb_lastrecord = rec;
    s.sb_mbtail = lastOf(rec);
    return;
  }
  // Records: the last record is unchanged unless it was partly dropped from the front.
  if (changetype<Mbuf>(s.sb_mb).m_nextpkt == 0) {
    s.sb_lastrecord = s.sb_mb;
    s.sb_mbtail = lastOf(s.sb_mb);
  }
}

/** sbdroprecord: free the first record. */
export function sbdroprecord(sb: usize): void {
  const s = changetype<Sockbuf>(sb);
  let m = s.sb_mb;
  if (m == 0) return;
  s.sb_mb = changetype<Mbuf>(m).m_nextpkt;
  while (m != 0) {
    sbfree(sb, m);
    m = m_free(m);
  }
  if (s.sb_mb == 0) {
    s.sb_lastrecord = 0;
    s.sb_mbtail = 0;
  }
}

/** sbflush: free everything in sb. */
export function sbflush(sb: usize): void {
  const s = changetype<Sockbuf>(sb);
  let rec = s.sb_mb;
  while (rec != 0) {
    const next = changetype<Mbuf>(rec).m_nextpkt;
    m_freem(rec);
    rec = next;
  }
  s.sb_mb = 0;
  s.sb_mbtail = 0;
  s.sb_lastrecord = 0;
  s.sb_cc = 0;
  s.sb_ctl = 0;
  s.sb_mbcnt = 0;
}

/** Records queued in sb (datagrams waiting). */
export function sbrecords(sb: usize): u32 {
  let n: u32 = 0;
  for (let r = changetype<Sockbuf>(sb).sb_mb; r != 0; r = changetype<Mbuf>(r).m_nextpkt) n++;
  return n;
}

