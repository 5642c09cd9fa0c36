// IPv6 reassembly (RFC 8200 4.5, RFC 5722, RFC 6946; FreeBSD netinet6/frag6.c).
//
// Per vnet: a list of datagrams being reassembled (Ip6q, "ip6q" zone, charged to the
// vnet), keyed (source, destination, identification), least recently fed first. Each holds its
// fragments ordered by offset (m_nextpkt); per fragment, in its packet header: fragment
// offset (ph_flowid), end (ph_csum_data), the Fragment header's offset (ph_tso_segsz) and
// the offset of the next-header byte that names it plus its own next header (ph_spare).
// Limits: IP6_MAXFRAGPACKETS datagrams and 1 MiB held per vnet (over either, the least
// recently fed datagrams go to make room, so one still being fed survives a flood of
// fresh ids: netinet/ip_reass.ts says why), 64 fragments per datagram (over them:
// ip6s_fragoverflow), a reassembled payload of
// at most 65,535 bytes counting the first fragment's unfragmentable part, checked whichever
// fragment arrives last (parameter problem at the offset field, the datagram dropped). A datagram not complete
// 60 s after its first fragment is dropped, with ICMPv6 time exceeded (reassembly) when
// its first fragment is there.
//
// RFC 8200 rules: every fragment but the last carries a multiple of 8 bytes (else
// parameter problem pointing at the payload length); an atomic fragment (offset 0, M
// clear) is processed at once, outside any queue (RFC 6946); an overlap drops the whole
// datagram (RFC 5722); an exact duplicate is dropped alone. The unfragmentable part and
// the next header are the first fragment's.

import { zone_alloc, zone_free, callout_init, callout_reset, callout_stop, m_freem, m_adj, m_cat, m_pullup } from "../kmod/kapi";
import { Mbuf, mtod } from "../sys/mbuf";
import {
  IP6_HDR_LEN, IP6_SRC, IP6_DST, IP6F_LEN, IPV6_MAXPACKET, in6_copy, in6_eq, ip6_set_plen, ICMP6_TIME_EXCEEDED,
  ICMP6_TIME_EXCEED_REASSEMBLY, ICMP6_PARAM_PROB, ICMP6_PARAMPROB_HEADER,
} from "../sys/in6";
import {
  Ip6q, Inet6Globals, V6, IP6Q_CALLOUT, IP6_FRAGTTL_US, IP6_MAXFRAGPACKETS, IP6_MAXFRAGSPERPACKET, IP6_MAXFRAGBYTES,
  IP6STAT_INC, IP6STAT_ADD, IP6S_FRAGMENTS, IP6S_FRAGDROPPED, IP6S_FRAGTIMEOUT, IP6S_FRAGOVERFLOW, IP6S_REASSEMBLED,
  IP6S_ATOMICFRAGS, IP6S_TOOSMALL, q6_src, q6_dst,
} from "./ip6_var";
import { icmp6_error } from "./icmp6";

@inline function q(p: usize): Ip6q {
  return changetype<Ip6q>(p);
}

@inline function fm(m: usize): Mbuf {
  return changetype<Mbuf>(m);
}

/** Where the walk goes on after frag6_input returned a packet: the header offset and its next-header byte. */
export let frag6_off: u32 = 0;
export let frag6_nxtoff: u32 = 0;

/** p was just fed a fragment: to the tail, the last to make room. */
function q_touch(p: usize): void {
  const vv = V6();
  if (vv.q_tail == p) return;
  const x = q(p);
  if (x.q_prev != 0) q(x.q_prev).q_next = x.q_next;
  else vv.q_head = x.q_next;
  q(x.q_next).q_prev = x.q_prev; // not the tail: it has a next
  x.q_next = 0;
  x.q_prev = vv.q_tail;
  q(vv.q_tail).q_next = p;
  vv.q_tail = p;
}

function unlink(p: usize): void {
  const vv = V6();
  const x = q(p);
  if (x.q_prev != 0) q(x.q_prev).q_next = x.q_next;
  else vv.q_head = x.q_next;
  if (x.q_next != 0) q(x.q_next).q_prev = x.q_prev;
  else vv.q_tail = x.q_prev;
  vv.q_count--;
  vv.q_bytes -= x.q_bytes;
  callout_stop(p + IP6Q_CALLOUT);
}

function q_drop(p: usize, counter: u32): void {
  unlink(p);
  IP6STAT_ADD(counter, q(p).q_nfrags);
  let m = q(p).q_frags;
  while (m != 0) {
    const next = fm(m).m_nextpkt;
    fm(m).m_nextpkt = 0;
    m_freem(m);
    m = next;
  }
  zone_free(Inet6Globals.qZone, p);
}

function frag6_timeout(p: usize): void {
  const first = q(p).q_frags;
  if (first != 0 && fm(first).ph_flowid == 0) {
    q(p).q_frags = fm(first).m_nextpkt;
    fm(first).m_nextpkt = 0;
    q(p).q_nfrags--;
    IP6STAT_INC(IP6S_FRAGTIMEOUT);
    q_drop(p, IP6S_FRAGTIMEOUT);
    icmp6_error(first, ICMP6_TIME_EXCEEDED, ICMP6_TIME_EXCEED_REASSEMBLY, 0);
    return;
  }
  q_drop(p, IP6S_FRAGTIMEOUT);
}

export function frag6_flush_all(): void {
  while (V6().q_head != 0) q_drop(V6().q_head, IP6S_FRAGDROPPED);
}

@inline function dropfrag(m: usize, why: u32): usize {
  if (why != IP6S_FRAGDROPPED) IP6STAT_INC(why);
  IP6STAT_INC(IP6S_FRAGDROPPED);
  m_freem(m);
  return 0;
}

/** Remove the 8-byte Fragment header at off (the bytes before it contiguous) and name fnxt at nxtoff. */
function strip_fraghdr(m: usize, off: u32, nxtoff: u32, fnxt: u8): void {
  const ip = mtod(m);
  memory.copy(ip + IP6F_LEN, ip, off);
  m_adj(m, <i32>IP6F_LEN);
  store<u8>(mtod(m) + nxtoff, fnxt);
}

/**
 * Take a packet with a Fragment header at off (nxtoff: the byte that names it). Returns a
 * whole packet to go on with (an atomic fragment, or the datagram this fragment
 * completed) with frag6_off/frag6_nxtoff set, else 0 (m held, or dropped and counted).
 */
export function frag6_input(m: usize, off: u32, nxtoff: u32): usize {
  IP6STAT_INC(IP6S_FRAGMENTS);
  if (fm(m).m_len < <i32>(off + IP6F_LEN)) {
    m = m_pullup(m, <i32>(off + IP6F_LEN));
    if (m == 0) {
      IP6STAT_INC(IP6S_TOOSMALL);
      IP6STAT_INC(IP6S_FRAGDROPPED);
      return 0;
    }
  }
  let ip = mtod(m);
  const fh = ip + off;
  const fnxt = load<u8>(fh);
  const offlg = bswap<u16>(load<u16>(fh + 2));
  const foff = <u32>(offlg & 0xfff8);
  const more = (offlg & 1) != 0;
  const ident = bswap<u32>(load<u32>(fh + 4));
  const flen = <u32>fm(m).ph_len - off - IP6F_LEN;
  if (foff == 0 && !more) {
    // RFC 6946: an atomic fragment is a whole packet.
    IP6STAT_INC(IP6S_ATOMICFRAGS);
    strip_fraghdr(m, off, nxtoff, fnxt);
    ip6_set_plen(mtod(m), <u32>fm(m).ph_len - IP6_HDR_LEN);
    frag6_off = off;
    frag6_nxtoff = nxtoff;
    return m;
  }
  if (more && (flen == 0 || (flen & 7) != 0)) {
    // RFC 8200 4.5: not a multiple of 8: parameter problem at the payload length.
    IP6STAT_INC(IP6S_FRAGDROPPED);
    icmp6_error(m, ICMP6_PARAM_PROB, ICMP6_PARAMPROB_HEADER, 4);
    return 0;
  }
  const end = foff + flen;
  const src = ip + IP6_SRC;
  const dst = ip + IP6_DST;
  const vv = V6();
  let p = vv.q_head;
  while (p != 0) {
    if (q(p).q_ident == ident && in6_eq(q6_src(p), src) && in6_eq(q6_dst(p), dst)) break;
    p = q(p).q_next;
  }
  // RFC 8200 4.5: a fragment that would make the reassembled payload longer than 65,535
  // bytes is discarded with a parameter problem at its Fragment Offset field. The
  // reassembled packet's unfragmentable part is the first fragment's (FreeBSD frag6's
  // ip6q_unfrglen): this one's if it is the first, the held first's, else none known yet.
  // The datagram can never be whole, so it goes with it.
  const first: usize = p != 0 ? q(p).q_frags : 0;
  const unfrag: u32 = foff == 0 ? off - IP6_HDR_LEN : first != 0 && fm(first).ph_flowid == 0 ? <u32>fm(first).ph_tso_segsz - IP6_HDR_LEN : 0;
  if (unfrag + end > IPV6_MAXPACKET) {
    if (p != 0) q_drop(p, IP6S_FRAGDROPPED);
    IP6STAT_INC(IP6S_FRAGDROPPED);
    icmp6_error(m, ICMP6_PARAM_PROB, ICMP6_PARAMPROB_HEADER, off + 2);
    return 0;
  }
  // The first fragment arriving after the others: the fragments held were checked with no
  // unfragmentable part; check them again with this one's. The furthest of them is the one
  // the limit is about; it gets the parameter problem (one per datagram: an error per
  // fragment would let one packet draw up to 64), the rest go silently.
  if (foff == 0 && p != 0 && unfrag + lastEnd(q(p)) > IPV6_MAXPACKET) return frag6_toolong(p, m);
  if (p == 0) {
    if (vv.q_count >= IP6_MAXFRAGPACKETS) q_drop(vv.q_head, IP6S_FRAGOVERFLOW);
    p = zone_alloc(Inet6Globals.qZone);
    if (p == 0) return dropfrag(m, IP6S_FRAGOVERFLOW);
    const x = q(p);
    x.q_ident = ident;
    in6_copy(q6_src(p), src);
    in6_copy(q6_dst(p), dst);
    x.q_nfrags = 0;
    x.q_bytes = 0;
    x.q_total = 0;
    x.q_frags = 0;
    x.q_next = 0;
    x.q_prev = vv.q_tail;
    if (vv.q_tail != 0) q(vv.q_tail).q_next = p;
    else vv.q_head = p;
    vv.q_tail = p;
    vv.q_count++;
    callout_init(p + IP6Q_CALLOUT);
    callout_reset(p + IP6Q_CALLOUT, IP6_FRAGTTL_US, frag6_timeout.index, p);
  }
  const x = q(p);
  if (x.q_nfrags >= IP6_MAXFRAGSPERPACKET) {
    q_drop(p, IP6S_FRAGOVERFLOW);
    return dropfrag(m, IP6S_FRAGOVERFLOW);
  }
  if ((!more && x.q_total != 0 && x.q_total != end) || (x.q_total != 0 && end > x.q_total) || (!more && end < lastEnd(x))) {
    q_drop(p, IP6S_FRAGDROPPED);
    return dropfrag(m, IP6S_FRAGDROPPED);
  }
  let prev: usize = 0;
  let cur = x.q_frags;
  while (cur != 0 && fm(cur).ph_flowid < foff) {
    prev = cur;
    cur = fm(cur).m_nextpkt;
  }
  if (cur != 0 && fm(cur).ph_flowid == foff && fm(cur).ph_csum_data == end) return dropfrag(m, IP6S_FRAGDROPPED); // duplicate
  if ((prev != 0 && fm(prev).ph_csum_data > foff) || (cur != 0 && fm(cur).ph_flowid < end)) {
    q_drop(p, IP6S_FRAGDROPPED); // RFC 5722: overlapping fragments drop the whole datagram
    return dropfrag(m, IP6S_FRAGDROPPED);
  }
  // Over the byte limit the least recently fed datagrams (never this one) make room.
  while (vv.q_bytes + flen > IP6_MAXFRAGBYTES) {
    const victim = vv.q_head != p ? vv.q_head : x.q_next;
    if (victim == 0) return dropfrag(m, IP6S_FRAGOVERFLOW);
    q_drop(victim, IP6S_FRAGOVERFLOW);
  }
  const mm = fm(m);
  mm.ph_flowid = foff;
  mm.ph_csum_data = end;
  mm.ph_tso_segsz = <u16>off;
  mm.ph_spare = nxtoff | (<u32>fnxt << 16);
  mm.m_nextpkt = cur;
  if (prev != 0) fm(prev).m_nextpkt = m;
  else x.q_frags = m;
  x.q_nfrags++;
  x.q_bytes += flen;
  vv.q_bytes += flen;
  q_touch(p);
  if (!more) x.q_total = end;
  if (x.q_total == 0) return 0;
  let expect: u32 = 0;
  for (let f = x.q_frags; f != 0; f = fm(f).m_nextpkt) {
    if (fm(f).ph_flowid != expect) return 0;
    expect = fm(f).ph_csum_data;
  }
  if (expect != x.q_total) return 0;

  const total = x.q_total;
  const m0 = x.q_frags;
  x.q_frags = 0;
  x.q_nfrags = 0;
  unlink(p);
  zone_free(Inet6Globals.qZone, p);
  let f = fm(m0).m_nextpkt;
  fm(m0).m_nextpkt = 0;
  const off0 = <u32>fm(m0).ph_tso_segsz;
  const nxtoff0 = fm(m0).ph_spare & 0xffff;
  const fnxt0 = <u8>(fm(m0).ph_spare >> 16);
  strip_fraghdr(m0, off0, nxtoff0, fnxt0);
  while (f != 0) {
    const next = fm(f).m_nextpkt;
    fm(f).m_nextpkt = 0;
    m_adj(f, <i32>(<u32>fm(f).ph_tso_segsz + IP6F_LEN));
    fm(f).ph_flowid = 0;
    fm(f).ph_csum_data = 0;
    fm(f).ph_tso_segsz = 0;
    fm(f).ph_spare = 0;
    m_cat(m0, f);
    f = next;
  }
  fm(m0).ph_len = <i32>(off0 + total);
  fm(m0).ph_flowid = 0;
  fm(m0).ph_csum_data = 0;
  fm(m0).ph_tso_segsz = 0;
  fm(m0).ph_spare = 0;
  ip = mtod(m0);
  ip6_set_plen(ip, off0 - IP6_HDR_LEN + total);
  IP6STAT_INC(IP6S_REASSEMBLED);
  frag6_off = off0;
  frag6_nxtoff = nxtoff0;
  return m0;
}

/**
 * The datagram p is over 65,535 bytes with its first fragment m (not queued): the last
 * fragment held is answered with a parameter problem, everything else is dropped.
 */
function frag6_toolong(p: usize, m: usize): usize {
  const x = q(p);
  let prev: usize = 0;
  let last = x.q_frags;
  while (fm(last).m_nextpkt != 0) {
    prev = last;
    last = fm(last).m_nextpkt;
  }
  if (prev != 0) fm(prev).m_nextpkt = 0;
  else x.q_frags = 0;
  const lm = fm(last);
  const llen = lm.ph_csum_data - lm.ph_flowid;
  x.q_nfrags--;
  x.q_bytes -= llen;
  V6().q_bytes -= llen;
  // Its receiving interface may have gone since it was queued; the first fragment's is live.
  lm.ph_rcvif = fm(m).ph_rcvif;
  q_drop(p, IP6S_FRAGDROPPED);
  dropfrag(m, IP6S_FRAGDROPPED);
  const loff = <u32>lm.ph_tso_segsz;
  lm.ph_flowid = 0;
  lm.ph_csum_data = 0;
  lm.ph_tso_segsz = 0;
  lm.ph_spare = 0;
  IP6STAT_INC(IP6S_FRAGDROPPED);
  icmp6_error(last, ICMP6_PARAM_PROB, ICMP6_PARAMPROB_HEADER, loff + 2);
  return 0;
}

function lastEnd(x: Ip6q): u32 {
  let e: u32 = 0;
  for (let f = x.q_frags; f != 0; f = fm(f).m_nextpkt) if (fm(f).ph_csum_data > e) e = fm(f).ph_csum_data;
  return e;
}

export { ICMP6_PARAM_PROB };
