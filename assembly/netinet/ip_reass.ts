// IPv4 reassembly (RFC 791 3.2, RFC 815; FreeBSD netinet/ip_reass.c).
//
// Per vnet: a list of datagrams being reassembled (Ipq, "ipq" zone, charged to the vnet),
// keyed (src, dst, id, protocol), least recently fed first (a datagram moves to the tail
// whenever a fragment of it is queued). Each holds its fragments ordered by
// offset (linked through m_nextpkt; a fragment's payload offset and end are kept in its
// packet header's ph_flowid / ph_csum_data, its header length in ph_l3hlen). Limits, per
// vnet, FreeBSD's sysctls: net.inet.ip.maxfragpackets and maxfragbucketsize datagrams (one
// list per vnet is one bucket; 0 refuses every fragment), net.inet.ip.maxfragsperpacket
// fragments per datagram (over it: the datagram is dropped), IP_MAXFRAGBYTES payload bytes
// held (over either limit the least recently fed datagrams are dropped to make room), and
// 65,535 bytes per datagram (ips_toolong). A datagram's size is the first fragment's header
// length plus its payload's end, and only the first fragment says what that header length
// is: a fragment alone is checked against the smallest header it could belong to (20 bytes,
// its own if it is the first), and the datagram as a whole whenever its first fragment is
// held, whichever of the two arrives last (FreeBSD checks the same at completion; checking
// early frees the memory at once). Each datagram has a callout: IPFRAGTTL_US
// (30 s) after its first fragment it is dropped, with an ICMP time exceeded (reassembly)
// when the first fragment is there (RFC 792, RFC 1122 3.3.2).
//
// Who makes room under a flood: FreeBSD drops the oldest created (ipq_reuse takes the
// tail of the bucket, and a queue is never moved on a new fragment), so a flood of
// fragments with fresh ids pushes out a real datagram unless it completes within the next
// maxfragpackets new ones; and over its fragment limit it drops every new fragment,
// real ones too, until the flood's time out. Here a datagram still being fed stays: it
// survives a flood as long as no more than maxfragpackets - 1 new datagrams arrive
// between two of its fragments, and the byte limit evicts too rather than shutting the
// door for 30 s. A per-source quota would add nothing against spoofed random sources.
//
// Overlaps: a fragment that overlaps one already held drops the whole datagram (RFC 5722's
// rule for IPv6, applied to IPv4: overlapping fragments are an attack, never a
// retransmission); an exact duplicate is dropped alone. A fragment that contradicts the
// last fragment held (a second last one elsewhere, data past the end) is dropped alone and
// counted, the datagram kept (FreeBSD, ip_reass_test multiple_last_fragments). A fragment
// of no bytes is toosmall (ip_reass_test zero_length_fragment). Fragments that mix
// not-ECT with CE are dropped; a CE fragment makes the datagram CE (RFC 3168 5.3).

import { zone_alloc, zone_free, callout_init, callout_reset, callout_stop, m_freem, m_adj, m_cat } from "../kmod/kapi";
import { Mbuf, mtod } from "../sys/mbuf";
import { tq_insert_tail, tq_remove, tq_move_tail } from "../net/tailq";
import {
  IP_MF, IP_OFFMASK, IP_MAXPACKET, IP_HDR_MIN, ICMP_TIMXCEED, ICMP_TIMXCEED_REASS, ip_hl, ip_len, ip_off, ip_id, ip_p, ip_src, ip_dst,
  ip_set_len, ip_set_off,
} from "../sys/in";
import {
  Ipq, InetVnet, InetGlobals, V, IPQ_CALLOUT, IPFRAGTTL_US, IP_MAXFRAGQ_ZONE, IP_MAXFRAGBYTES,
  IPSTAT_INC, IPSTAT_ADD, IPS_FRAGMENTS, IPS_FRAGDROPPED, IPS_FRAGTIMEOUT, IPS_TOOSMALL, IPS_TOOLONG, IPS_REASSEMBLED,
} from "./ip_var";
import { ip_cksum_set } from "./ip_output";
import { icmp_error } from "./ip_icmp";

@inline function q(p: usize): Ipq {
  return changetype<Ipq>(p);
}

@inline function fm(m: usize): Mbuf {
  return changetype<Mbuf>(m);
}

/** The vnet's list of datagrams (head, tail, count: net/tailq.ts). */
@inline function ipq_list(): usize {
  return changetype<usize>(V()) + offsetof<InetVnet>("ipq_head");
}

/** p was just fed a fragment: to the tail, the last to make room. */
function ipq_touch(p: usize): void {
  tq_move_tail(ipq_list(), p);
}

function unlink(p: usize): void {
  tq_remove(ipq_list(), p);
  V().ipq_bytes -= q(p).ipq_bytes;
  callout_stop(p + IPQ_CALLOUT);
}

/** Drop a datagram and its fragments, counting them as counter. */
function ipq_drop(p: usize, counter: u32): void {
  unlink(p);
  IPSTAT_ADD(counter, q(p).ipq_nfrags);
  let m = q(p).ipq_frags;
  while (m != 0) {
    const next = fm(m).m_nextpkt;
    fm(m).m_nextpkt = 0;
    m_freem(m);
    m = next;
  }
  zone_free(InetGlobals.ipqZone, p);
}

/** Reassembly timeout (callout): ICMP time exceeded for the first fragment, if held. */
function ipq_timeout(p: usize): void {
  const first = q(p).ipq_frags;
  if (first != 0 && fm(first).ph_flowid == 0) {
    q(p).ipq_frags = fm(first).m_nextpkt;
    fm(first).m_nextpkt = 0;
    IPSTAT_INC(IPS_FRAGTIMEOUT);
    q(p).ipq_nfrags--;
    ipq_drop(p, IPS_FRAGTIMEOUT);
    icmp_error(first, ICMP_TIMXCEED, ICMP_TIMXCEED_REASS, 0);
    return;
  }
  ipq_drop(p, IPS_FRAGTIMEOUT);
}

/** Every queue of the vnet goes (uninit). */
export function ipq_flush_all(): void {
  while (V().ipq_head != 0) ipq_drop(V().ipq_head, IPS_FRAGDROPPED);
}

// RFC 3168 5.3 codepoints (the low two bits of the TOS byte).
const ECN_NOTECT: u32 = 0;
const ECN_CE: u32 = 3;

@inline function ip_ecn(ip: usize): u32 {
  return <u32>load<u8>(ip + 1) & 3;
}

@inline function dropfrag(m: usize, why: u32): usize {
  if (why != IPS_FRAGDROPPED) IPSTAT_INC(why);
  IPSTAT_INC(IPS_FRAGDROPPED);
  m_freem(m);
  return 0;
}

/**
 * Take a fragment addressed to us (m starts at its validated header). Returns the whole
 * datagram when this fragment completed it (header of the first fragment, ip_len and
 * ip_off fixed), else 0 (m is held or was dropped).
 */
export function ip_reass(m: usize, hlen: u32): usize {
  IPSTAT_INC(IPS_FRAGMENTS);
  const ip = mtod(m);
  const offw = ip_off(ip);
  const mf = (offw & IP_MF) != 0;
  const off: u32 = <u32>(offw & IP_OFFMASK) << 3;
  const len = ip_len(ip) - hlen;
  // Every fragment carries bytes, and all but the last a multiple of 8 (RFC 791).
  if (len == 0 || (mf && (len & 7) != 0)) return dropfrag(m, IPS_TOOSMALL);
  const end = off + len;
  // A later fragment may carry a longer header (copied options) than the first; only the
  // first fragment's counts, so the smallest possible header bounds a fragment alone.
  if ((off == 0 ? hlen : IP_HDR_MIN) + end > IP_MAXPACKET) return dropfrag(m, IPS_TOOLONG);
  const src = ip_src(ip);
  const dst = ip_dst(ip);
  const id = <u32>ip_id(ip);
  const proto = <u32>ip_p(ip);
  const vv = V();
  let p = vv.ipq_head;
  while (p != 0) {
    const x = q(p);
    if (x.ipq_id == id && x.ipq_src == src && x.ipq_dst == dst && x.ipq_p == proto) break;
    p = x.ipq_next;
  }
  if (p == 0) {
    const lim = maxdatagrams();
    if (lim == 0) return dropfrag(m, IPS_FRAGDROPPED);
    while (vv.ipq_count >= lim && vv.ipq_head != 0) ipq_drop(vv.ipq_head, IPS_FRAGDROPPED);
    p = zone_alloc(InetGlobals.ipqZone);
    if (p == 0) return dropfrag(m, IPS_FRAGDROPPED);
    const x = q(p);
    x.ipq_src = src;
    x.ipq_dst = dst;
    x.ipq_id = id;
    x.ipq_p = proto;
    x.ipq_nfrags = 0;
    x.ipq_bytes = 0;
    x.ipq_total = 0;
    x.ipq_frags = 0;
    x.ipq_ecn = ip_ecn(ip);
    tq_insert_tail(ipq_list(), p);
    callout_init(p + IPQ_CALLOUT);
    callout_reset(p + IPQ_CALLOUT, IPFRAGTTL_US, ipq_timeout.index, p);
  } else {
    // RFC 3168 5.3: not-ECT and CE fragments of one datagram may not be mixed; CE is kept.
    const ecn = ip_ecn(ip);
    const ecn0 = q(p).ipq_ecn;
    if (ecn == ECN_CE) {
      if (ecn0 == ECN_NOTECT) return dropfrag(m, IPS_FRAGDROPPED);
      q(p).ipq_ecn = ECN_CE;
    } else if (ecn == ECN_NOTECT && ecn0 != ECN_NOTECT) return dropfrag(m, IPS_FRAGDROPPED);
  }
  const x = q(p);
  const maxper = vv.maxfragsperpacket;
  if (maxper >= 0 && x.ipq_nfrags >= <u32>maxper) {
    ipq_drop(p, IPS_FRAGDROPPED);
    return dropfrag(m, IPS_FRAGDROPPED);
  }
  // The last fragment fixes the length: a fragment that says otherwise (a second last one
  // elsewhere, data past the end) is dropped alone; the datagram keeps what it holds.
  if ((!mf && x.ipq_total != 0 && x.ipq_total != end) || (x.ipq_total != 0 && end > x.ipq_total) || (!mf && end < lastEnd(x))) {
    return dropfrag(m, IPS_FRAGDROPPED);
  }
  // RFC 791: a datagram is at most 65,535 bytes, and its header is the first fragment's.
  // Every end already held was checked against the first fragment if it was there, so a
  // first fragment arriving now is checked against the furthest end held, a later fragment
  // against the first fragment held.
  const first = x.ipq_frags;
  const far: u32 = off == 0 ? max<u32>(end, lastEnd(x)) : end;
  const hfirst: u32 = off == 0 ? hlen : first != 0 && fm(first).ph_flowid == 0 ? <u32>fm(first).ph_l3hlen : IP_HDR_MIN;
  if (hfirst + far > IP_MAXPACKET) {
    IPSTAT_INC(IPS_TOOLONG);
    ipq_drop(p, IPS_FRAGDROPPED);
    return dropfrag(m, IPS_FRAGDROPPED);
  }
  // Find the place by offset and check both neighbours for overlap.
  let prev: usize = 0;
  let cur = x.ipq_frags;
  while (cur != 0 && fm(cur).ph_flowid < off) {
    prev = cur;
    cur = fm(cur).m_nextpkt;
  }
  if (cur != 0 && fm(cur).ph_flowid == off && fm(cur).ph_csum_data == end) return dropfrag(m, IPS_FRAGDROPPED); // duplicate
  if ((prev != 0 && fm(prev).ph_csum_data > off) || (cur != 0 && fm(cur).ph_flowid < end)) {
    ipq_drop(p, IPS_FRAGDROPPED);
    return dropfrag(m, IPS_FRAGDROPPED);
  }
  // Over the byte limit the least recently fed datagrams (never this one) make room.
  while (vv.ipq_bytes + len > IP_MAXFRAGBYTES) {
    const victim = vv.ipq_head != p ? vv.ipq_head : x.ipq_next;
    if (victim == 0) return dropfrag(m, IPS_FRAGDROPPED);
    ipq_drop(victim, IPS_FRAGDROPPED);
  }
  const mm = fm(m);
  mm.ph_flowid = off;
  mm.ph_csum_data = end;
  mm.ph_l3hlen = <u8>hlen;
  mm.m_nextpkt = cur;
  if (prev != 0) fm(prev).m_nextpkt = m;
  else x.ipq_frags = m;
  x.ipq_nfrags++;
  x.ipq_bytes += len;
  vv.ipq_bytes += len;
  ipq_touch(p);
  if (!mf) x.ipq_total = end;
  if (x.ipq_total == 0) return 0;
  // Complete when the fragments tile [0, total).
  let expect: u32 = 0;
  for (let f = x.ipq_frags; f != 0; f = fm(f).m_nextpkt) {
    if (fm(f).ph_flowid != expect) return 0;
    expect = fm(f).ph_csum_data;
  }
  if (expect != x.ipq_total) return 0;

  const total = x.ipq_total;
  const ce = x.ipq_ecn == ECN_CE;
  const m0 = x.ipq_frags;
  x.ipq_frags = 0;
  x.ipq_nfrags = 0;
  unlink(p);
  zone_free(InetGlobals.ipqZone, p);
  let f = fm(m0).m_nextpkt;
  fm(m0).m_nextpkt = 0;
  const h0 = <u32>fm(m0).ph_l3hlen;
  while (f != 0) {
    const next = fm(f).m_nextpkt;
    fm(f).m_nextpkt = 0;
    m_adj(f, <i32>fm(f).ph_l3hlen);
    m_cat(m0, f);
    f = next;
  }
  const ip0 = mtod(m0);
  fm(m0).ph_len = <i32>(h0 + total);
  fm(m0).ph_flowid = 0;
  fm(m0).ph_csum_data = 0;
  ip_set_len(ip0, h0 + total);
  if (ce) store<u8>(ip0 + 1, load<u8>(ip0 + 1) | <u8>ECN_CE); // RFC 3168 5.3: CE is not lost
  ip_set_off(ip0, 0);
  ip_cksum_set(ip0, h0);
  IPSTAT_INC(IPS_REASSEMBLED);
  return m0;
}

/** How many datagrams the vnet may reassemble at once: maxfragpackets and the one bucket's size. */
function maxdatagrams(): u32 {
  const vv = V();
  if (vv.maxfragpackets < 0) return IP_MAXFRAGQ_ZONE; // -1: no limit but the zone's
  let n = <u32>vv.maxfragpackets;
  if (vv.maxfragbucketsize >= 0 && <u32>vv.maxfragbucketsize < n) n = <u32>vv.maxfragbucketsize;
  return n;
}

/** End of the furthest fragment held. */
function lastEnd(x: Ipq): u32 {
  let e: u32 = 0;
  for (let f = x.ipq_frags; f != 0; f = fm(f).m_nextpkt) if (fm(f).ph_csum_data > e) e = fm(f).ph_csum_data;
  return e;
}

/** Datagrams being reassembled in the current vnet. */
export function ipq_count(): u32 {
  return V().ipq_count;
}
