// IPv6 reassembly (RFC 8200 4.5, RFC 5722, RFC 6946, RFC 3168 5.3; FreeBSD netinet6/frag6.c).
//
// Per vnet: a list of datagrams being reassembled (Ip6q, "ip6q" zone, charged to the
// vnet), keyed (source, destination, identification), least recently fed first. Each holds its
// fragments ordered by offset (m_nextpkt); per fragment, in its packet header: fragment
// offset (ph_flowid), end (ph_csum_data), the Fragment header's offset (ph_tso_segsz) and
// the offset of the next-header byte that names it plus its own next header (ph_spare).
//
// Limits, per vnet, FreeBSD's sysctls (ip6_var.ts has the defaults): maxfrags fragments
// held (over it the fragment is dropped), maxfragpackets and maxfragbucketsize datagrams
// (one list per vnet is one bucket; at the limit the least recently fed datagram goes to
// make room, counted fragoverflow: FreeBSD's IPv4 ipq_reuse takes the oldest created, its
// IPv6 refuses the newcomer, netinet/ip_reass.ts says why we differ; 0 refuses every
// fragment), maxfragsperpacket fragments per datagram (over it the datagram
// is dropped, its fragments counted fragdropped), and IP6_MAXFRAGBYTES held (fragoverflow).
//
// The rules and their counters follow FreeBSD's frag6_input (docs/conformance.md, the
// frag6_* cases): a fragment with M set that is not a multiple of 8 bytes gets a parameter
// problem at the payload length before it counts as a fragment; a fragment of no bytes
// gets one too (fragdropped); an atomic fragment (offset 0, M clear) is processed at once,
// outside any queue (RFC 6946). A fragment that would make the reassembled packet longer
// than 65,535 bytes (the first fragment's unfragmentable part + offset + length) gets a
// parameter problem at its offset field and the datagram stays; when the first fragment
// arrives after others, each held fragment it pushes past 65,535 gets one and leaves the
// queue. Fragments that mix not-ECT with CE are dropped (RFC 3168 5.3); a CE fragment makes
// the datagram CE. An overlap drops the whole datagram (RFC 5722), an exact duplicate only
// itself. A datagram freed whole (overlap, too many fragments, timeout, room for another)
// sends ICMPv6 time exceeded (reassembly) for its first fragment if it holds it. A datagram
// not complete 60 s after its first fragment is dropped (fragtimeout). The unfragmentable
// part and the next header are the first fragment's.

import { zone_alloc, zone_free, callout_init, callout_reset, callout_stop, m_freem, m_adj, m_cat, m_pullup } from "../kmod/kapi";
import { Mbuf, mtod } from "../sys/mbuf";
import { tq_insert_tail, tq_remove, tq_move_tail } from "../net/tailq";
import {
  IP6_HDR_LEN, IP6_SRC, IP6_DST, IP6F_LEN, IPV6_MAXPACKET, in6_copy, in6_eq, ip6_set_plen, ICMP6_TIME_EXCEEDED,
  ICMP6_TIME_EXCEED_REASSEMBLY, ICMP6_PARAM_PROB, ICMP6_PARAMPROB_HEADER,
} from "../sys/in6";
import {
  Ip6q, Inet6Vnet, Inet6Globals, V6, IP6Q_CALLOUT, IP6_FRAGTTL_US, IP6_MAXFRAGQ_ZONE, IP6_MAXFRAGBYTES,
  IP6STAT_INC, IP6STAT_ADD, IP6S_FRAGMENTS, IP6S_FRAGDROPPED, IP6S_FRAGTIMEOUT, IP6S_FRAGOVERFLOW, IP6S_REASSEMBLED,
  IP6S_ATOMICFRAGS, IP6S_TOOSMALL, q6_src, q6_dst,
} from "./ip6_var";
import { icmp6_error } from "./icmp6";

// RFC 3168 5.3 codepoints (the low two bits of the traffic class).
const ECN_NOTECT: u32 = 0;
const ECN_CE: u32 = 3;

/** The ECN codepoint of an IPv6 header: traffic class bits 0-1 sit in byte 1, bits 4-5. */
@inline function ip6_ecn(ip: usize): u32 {
  return (<u32>load<u8>(ip + 1) >> 4) & 3;
}

@inline function q(p: usize): Ip6q {
  return changetype<Ip6q>(p);
}

@inline function fm(m: usize): Mbuf {
  return changetype<Mbuf>(m);
}

/** Where the walk goes on after frag6_input returned a packet: the header offset and its next-header byte. */
export let frag6_off: u32 = 0;
export let frag6_nxtoff: u32 = 0;

/** The vnet's list of datagrams (head, tail, count: net/tailq.ts). */
@inline function q_list(): usize {
  return changetype<usize>(V6()) + offsetof<Inet6Vnet>("q_head");
}

/** p was just fed a fragment: to the tail, the last to make room. */
function q_touch(p: usize): void {
  tq_move_tail(q_list(), p);
}

function unlink(p: usize): void {
  const vv = V6();
  tq_remove(q_list(), p);
  vv.q_bytes -= q(p).q_bytes;
  vv.q_nfrags -= q(p).q_nfrags;
  callout_stop(p + IP6Q_CALLOUT);
}

/** Drop a datagram silently, its fragments counted as counter (the vnet going away). */
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

/**
 * Free a datagram whole (FreeBSD frag6_freef; the caller counted): its first fragment, if
 * held, goes back to the source as ICMPv6 time exceeded (reassembly), the rest is freed.
 */
function frag6_freef(p: usize): void {
  unlink(p);
  let first: usize = 0;
  let m = q(p).q_frags;
  while (m != 0) {
    const next = fm(m).m_nextpkt;
    fm(m).m_nextpkt = 0;
    if (fm(m).ph_flowid == 0) first = m;
    else m_freem(m);
    m = next;
  }
  zone_free(Inet6Globals.qZone, p);
  if (first != 0) {
    clear_meta(first);
    icmp6_error(first, ICMP6_TIME_EXCEEDED, ICMP6_TIME_EXCEED_REASSEMBLY, 0);
  }
}

function frag6_timeout(p: usize): void {
  IP6STAT_ADD(IP6S_FRAGTIMEOUT, q(p).q_nfrags);
  frag6_freef(p);
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

/** Forget the reassembly bookkeeping a fragment carries in its packet header. */
function clear_meta(m: usize): void {
  const mm = fm(m);
  mm.ph_flowid = 0;
  mm.ph_csum_data = 0;
  mm.ph_tso_segsz = 0;
  mm.ph_spare = 0;
}

/** Remove the 8-byte Fragment header at off (the bytes before it contiguous) and name fnxt at nxtoff. */
function strip_fraghdr(m: usize, off: u32, nxtoff: u32, fnxt: u8): void {
  const ip = mtod(m);
  memory.copy(ip + IP6F_LEN, ip, off);
  m_adj(m, <i32>IP6F_LEN);
  store<u8>(mtod(m) + nxtoff, fnxt);
}

/** How many datagrams the vnet may reassemble at once: maxfragpackets and the one bucket's size. */
function maxdatagrams(): u32 {
  const vv = V6();
  if (vv.maxfragpackets < 0) return IP6_MAXFRAGQ_ZONE; // FreeBSD: -1 is no limit (and no bucket limit)
  let n = <u32>vv.maxfragpackets;
  if (vv.maxfragbucketsize >= 0 && <u32>vv.maxfragbucketsize < n) n = <u32>vv.maxfragbucketsize;
  return n;
}

/**
 * Take a packet with a Fragment header at off (nxtoff: the byte that names it). Returns a
 * whole packet to go on with (an atomic fragment, or the datagram this fragment
 * completed) with frag6_off/frag6_nxtoff set, else 0 (m held, or dropped and counted).
 */
export function frag6_input(m: usize, off: u32, nxtoff: u32): usize {
  if (fm(m).m_len < <i32>(off + IP6F_LEN)) {
    m = m_pullup(m, <i32>(off + IP6F_LEN));
    if (m == 0) {
      IP6STAT_INC(IP6S_FRAGMENTS);
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
  if (more && (flen & 7) != 0) {
    // RFC 8200 4.5: not a multiple of 8: parameter problem at the payload length. FreeBSD
    // answers before it counts the fragment (frag6_02): the error is the only count.
    icmp6_error(m, ICMP6_PARAM_PROB, ICMP6_PARAMPROB_HEADER, 4);
    return 0;
  }
  IP6STAT_INC(IP6S_FRAGMENTS);
  if (foff == 0 && !more) {
    // RFC 6946: an atomic fragment is a whole packet.
    IP6STAT_INC(IP6S_ATOMICFRAGS);
    strip_fraghdr(m, off, nxtoff, fnxt);
    ip6_set_plen(mtod(m), <u32>fm(m).ph_len - IP6_HDR_LEN);
    frag6_off = off;
    frag6_nxtoff = nxtoff;
    return m;
  }
  if (flen == 0) {
    // A fragment of no bytes (frag6_04): parameter problem at the payload length.
    IP6STAT_INC(IP6S_FRAGDROPPED);
    icmp6_error(m, ICMP6_PARAM_PROB, ICMP6_PARAMPROB_HEADER, 4);
    return 0;
  }
  const vv = V6();
  if (vv.maxfrags >= 0 && vv.q_nfrags >= <u32>vv.maxfrags) return dropfrag(m, IP6S_FRAGDROPPED);
  const end = foff + flen;
  const src = ip + IP6_SRC;
  const dst = ip + IP6_DST;
  let p = vv.q_head;
  while (p != 0) {
    if (q(p).q_ident == ident && in6_eq(q6_src(p), src) && in6_eq(q6_dst(p), dst)) break;
    p = q(p).q_next;
  }
  // RFC 8200 4.5: a fragment that would make the reassembled packet longer than 65,535
  // bytes is discarded with a parameter problem at its Fragment Offset field. The
  // unfragmentable part is the first fragment's (FreeBSD's ip6q_unfrglen): the one held if
  // any, else this one's if it is a first, else unknown (0 bytes then). The datagram stays
  // (frag6_07: its first fragment still times out with a time exceeded).
  const first: usize = p != 0 ? q(p).q_frags : 0;
  const heldFirst = first != 0 && fm(first).ph_flowid == 0;
  const unfrag: u32 = heldFirst ? <u32>fm(first).ph_tso_segsz - IP6_HDR_LEN : foff == 0 ? off - IP6_HDR_LEN : 0;
  if (unfrag + end > IPV6_MAXPACKET) {
    icmp6_error(m, ICMP6_PARAM_PROB, ICMP6_PARAMPROB_HEADER, off + 2);
    return 0;
  }
  // The first fragment arriving after others: they were checked with no unfragmentable
  // part; each one this one's pushes past 65,535 gets its parameter problem and leaves the
  // queue (frag6_08), the rest stay with the first.
  if (foff == 0 && p != 0 && !heldFirst) frag6_recheck(p, unfrag, m);
  if (p == 0) {
    const lim = maxdatagrams();
    if (lim == 0) return dropfrag(m, IP6S_FRAGDROPPED);
    // Room for a new datagram: the least recently fed goes (FreeBSD's IPv4 ipq_reuse takes
    // the oldest created; docs/conformance.md, netinet/ip_reass.ts).
    while (vv.q_count >= lim && vv.q_head != 0) {
      IP6STAT_ADD(IP6S_FRAGOVERFLOW, q(vv.q_head).q_nfrags);
      frag6_freef(vv.q_head);
    }
    p = zone_alloc(Inet6Globals.qZone);
    if (p == 0) return dropfrag(m, IP6S_FRAGDROPPED);
    const x = q(p);
    x.q_ident = ident;
    in6_copy(q6_src(p), src);
    in6_copy(q6_dst(p), dst);
    x.q_nfrags = 0;
    x.q_bytes = 0;
    x.q_total = 0;
    x.q_frags = 0;
    x.q_ecn = ip6_ecn(ip);
    tq_insert_tail(q_list(), p);
    callout_init(p + IP6Q_CALLOUT);
    callout_reset(p + IP6Q_CALLOUT, IP6_FRAGTTL_US, frag6_timeout.index, p);
  } else {
    // RFC 3168 5.3: not-ECT and CE fragments of one datagram may not be mixed; CE is kept.
    const ecn = ip6_ecn(ip);
    const ecn0 = q(p).q_ecn;
    if (ecn == ECN_CE) {
      if (ecn0 == ECN_NOTECT) return dropfrag(m, IP6S_FRAGDROPPED);
      q(p).q_ecn = ECN_CE;
    } else if (ecn == ECN_NOTECT && ecn0 != ECN_NOTECT) return dropfrag(m, IP6S_FRAGDROPPED);
  }
  const x = q(p);
  let prev: usize = 0;
  let cur = x.q_frags;
  while (cur != 0 && fm(cur).ph_flowid < foff) {
    prev = cur;
    cur = fm(cur).m_nextpkt;
  }
  if (cur != 0 && fm(cur).ph_flowid == foff && fm(cur).ph_csum_data == end) return dropfrag(m, IP6S_FRAGDROPPED); // duplicate
  if ((prev != 0 && fm(prev).ph_csum_data > foff) || (cur != 0 && fm(cur).ph_flowid < end)) {
    // RFC 5722: overlapping fragments drop the whole datagram. As FreeBSD, only the
    // fragment that overlapped is counted (frag6_14).
    frag6_freef(p);
    return dropfrag(m, IP6S_FRAGDROPPED);
  }
  // A last fragment fixes the length: a second one elsewhere, or data past it, is dropped
  // alone (the datagram keeps what it has, as for IPv4).
  if ((!more && x.q_total != 0 && x.q_total != end) || (x.q_total != 0 && end > x.q_total) || (!more && end < lastEnd(x))) {
    return dropfrag(m, IP6S_FRAGDROPPED);
  }
  // Over the byte limit the least recently fed datagrams (never this one) make room.
  while (vv.q_bytes + flen > IP6_MAXFRAGBYTES) {
    const victim = vv.q_head != p ? vv.q_head : x.q_next;
    if (victim == 0) return dropfrag(m, IP6S_FRAGOVERFLOW);
    IP6STAT_ADD(IP6S_FRAGOVERFLOW, q(victim).q_nfrags);
    frag6_freef(victim);
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
  vv.q_nfrags++;
  x.q_bytes += flen;
  vv.q_bytes += flen;
  q_touch(p);
  if (!more) x.q_total = end;
  if (!complete(x)) {
    // Too many fragments for one datagram (FreeBSD checks once this one is in): all of
    // them are counted dropped and the datagram goes, with a time exceeded if its first
    // fragment is here (frag6_15).
    if (vv.maxfragsperpacket >= 0 && x.q_nfrags > <u32>vv.maxfragsperpacket) {
      IP6STAT_ADD(IP6S_FRAGDROPPED, x.q_nfrags);
      frag6_freef(p);
    }
    return 0;
  }

  const total = x.q_total;
  const ce = x.q_ecn == ECN_CE;
  const m0 = x.q_frags;
  unlink(p);
  x.q_frags = 0;
  x.q_nfrags = 0;
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
    clear_meta(f);
    m_cat(m0, f);
    f = next;
  }
  fm(m0).ph_len = <i32>(off0 + total);
  clear_meta(m0);
  ip = mtod(m0);
  ip6_set_plen(ip, off0 - IP6_HDR_LEN + total);
  if (ce) store<u8>(ip + 1, load<u8>(ip + 1) | <u8>(ECN_CE << 4)); // RFC 3168 5.3: CE is not lost
  IP6STAT_INC(IP6S_REASSEMBLED);
  frag6_off = off0;
  frag6_nxtoff = nxtoff0;
  return m0;
}

/** Do the fragments held tile [0, total) with the last one in? */
function complete(x: Ip6q): bool {
  if (x.q_total == 0) return false;
  let expect: u32 = 0;
  for (let f = x.q_frags; f != 0; f = fm(f).m_nextpkt) {
    if (fm(f).ph_flowid != expect) return false;
    expect = fm(f).ph_csum_data;
  }
  return expect == x.q_total;
}

/**
 * The first fragment m (not queued yet) says the unfragmentable part is unfrag bytes: each
 * fragment held that now ends past 65,535 leaves the queue with a parameter problem at its
 * Fragment Offset field (FreeBSD frag6_input; uncounted in ip6stat, as there).
 */
function frag6_recheck(p: usize, unfrag: u32, m: usize): void {
  const x = q(p);
  const vv = V6();
  let prev: usize = 0;
  let f = x.q_frags;
  while (f != 0) {
    const next = fm(f).m_nextpkt;
    const ff = fm(f);
    if (unfrag + ff.ph_csum_data <= IPV6_MAXPACKET) {
      prev = f;
      f = next;
      continue;
    }
    if (prev != 0) fm(prev).m_nextpkt = next;
    else x.q_frags = next;
    ff.m_nextpkt = 0;
    const len = ff.ph_csum_data - ff.ph_flowid;
    if (x.q_total == ff.ph_csum_data) x.q_total = 0; // the last fragment left
    x.q_nfrags--;
    vv.q_nfrags--;
    x.q_bytes -= len;
    vv.q_bytes -= len;
    // Its receiving interface may have gone since it was queued; the first fragment's is live.
    ff.ph_rcvif = fm(m).ph_rcvif;
    const foff = <u32>ff.ph_tso_segsz;
    clear_meta(f);
    icmp6_error(f, ICMP6_PARAM_PROB, ICMP6_PARAMPROB_HEADER, foff + 2);
    f = next;
  }
}

function lastEnd(x: Ip6q): u32 {
  let e: u32 = 0;
  for (let f = x.q_frags; f != 0; f = fm(f).m_nextpkt) if (fm(f).ph_csum_data > e) e = fm(f).ph_csum_data;
  return e;
}

/** sysctl net.inet6.ip6.maxfragpackets set: the one bucket follows it (FreeBSD frag6_set_bucketsize). */
export function frag6_set_maxfragpackets(n: i32): void {
  const vv = V6();
  vv.maxfragpackets = n;
  if (n > 0) vv.maxfragbucketsize = n;
}

export { ICMP6_PARAM_PROB };
