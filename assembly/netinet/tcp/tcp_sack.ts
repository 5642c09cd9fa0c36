// SACK (RFC 2018) and SACK-based loss recovery (RFC 6675), FreeBSD tcp_sack.c's job.
//
// Receiver: tcp_sack_fill describes the reassembly queue as SACK blocks, the block holding
// the segment that arrived last first (RFC 2018 4), the others from the highest down.
//
// Sender: the scoreboard is up to TCP_SACK_HOLES sorted, disjoint ranges [start, end) the
// peer said it holds (in the tcpcb's TcpSackBlk, t_sack), all above snd_una; t_sack_fack is the highest SACKed
// sequence. A full scoreboard forgets its lowest range (that only costs a needless
// retransmission). Loss: a byte below t_sack_fack that is not SACKed is taken as lost (the
// FACK simplification of RFC 6675 IsLost, used only once recovery has started on three
// duplicate ACKs). pipe (RFC 6675 4) = bytes above fack + retransmitted bytes not yet
// SACKed or acknowledged. NextSeg (RFC 6675 4 (1)) is the first lost byte at or after
// t_sack_rxt; (3) is new data, sent by tcp_output within cwnd - pipe. No rescue
// retransmission (RFC 6675 4 (4) is optional): the RTO covers a lost last segment.

import { zone_alloc, zone_free } from "../../kmod/kapi";
import { TP, TSB_HOLES, TCPSACK_SIZE, TcpGlobals, TCP_SACK_HOLES, TCPSTAT_INC, TCPSTAT_ADD, TCPS_SACK_RCV_BLOCKS, TcpSackBlk } from "./tcp_var";
import { SEQ_LT, SEQ_GT, SEQ_LEQ, SEQ_GEQ } from "./tcp_seq";
import { Mbuf } from "../../sys/mbuf";

// The scoreboard's ranges (valid while t_sackn > 0, so the block is there).
@inline function holes(tp: usize): usize { return TP(tp).t_sack + TSB_HOLES; }
@inline function sk_start(tp: usize, i: u32): u32 { return load<u32>(holes(tp) + (<usize>i << 3)); }
@inline function sk_end(tp: usize, i: u32): u32 { return load<u32>(holes(tp) + (<usize>i << 3) + 4); }
@inline function sk_set(tp: usize, i: u32, s: u32, e: u32): void {
  store<u32>(holes(tp) + (<usize>i << 3), s);
  store<u32>(holes(tp) + (<usize>i << 3) + 4, e);
}

/**
 * tp's TcpSackBlk (scoreboard ranges, reassembly counts), taken from the "tcpsack" zone
 * when first needed; 0 when the zone has none (the caller does without and counts).
 */
export function tcp_sack_blk(tp: usize): usize {
  const t = TP(tp);
  if (t.t_sack == 0) {
    const b = zone_alloc(TcpGlobals.sackzone);
    if (b == 0) return 0;
    memory.fill(b, 0, TCPSACK_SIZE);
    t.t_sack = b;
  }
  return t.t_sack;
}

/** Give the block back once neither the scoreboard nor the reassembly queue holds anything. */
function sack_blk_idle(tp: usize): void {
  const t = TP(tp);
  if (t.t_sack != 0 && t.t_sackn == 0 && t.t_segq == 0) tcp_sack_release(tp);
}

/** Free tp's block whatever it holds (the tcpcb is going away or was flushed). */
export function tcp_sack_release(tp: usize): void {
  const t = TP(tp);
  if (t.t_sack == 0) return;
  zone_free(TcpGlobals.sackzone, t.t_sack);
  t.t_sack = 0;
  t.t_sackn = 0;
}

/** The reassembly queue became empty: its counts are zero; the block may go. */
export function tcp_sack_reass_done(tp: usize): void {
  const t = TP(tp);
  if (t.t_sack == 0) return;
  const b = changetype<TcpSackBlk>(t.t_sack);
  b.sb_segqlen = 0;
  b.sb_segqn = 0;
  sack_blk_idle(tp);
}

class SackGlobals {
  static force_first: bool = false;
}

/** The next tcp_output retransmits snd_una's segment first (entering recovery). */
export function tcp_sack_force_first(on: bool): void {
  SackGlobals.force_first = on;
}

/** Forget the scoreboard (after an RTO the peer may renege, RFC 2018 8; FreeBSD does the same). */
export function tcp_sack_reset(tp: usize): void {
  const t = TP(tp);
  t.t_sackn = 0;
  t.t_sack_fack = t.snd_una;
  t.t_sack_rxt = t.snd_una;
  sack_blk_idle(tp);
}

/** Drop what snd_una has passed (call after snd_una moved). */
export function tcp_sack_trim(tp: usize): void {
  const t = TP(tp);
  const una = t.snd_una;
  let j: u32 = 0;
  for (let i: u32 = 0; i < t.t_sackn; i++) {
    let s = sk_start(tp, i);
    const e = sk_end(tp, i);
    if (SEQ_LEQ(e, una)) continue;
    if (SEQ_LT(s, una)) s = una;
    sk_set(tp, j++, s, e);
  }
  t.t_sackn = j;
  if (SEQ_LT(t.t_sack_fack, una)) t.t_sack_fack = una;
  if (SEQ_LT(t.t_sack_rxt, una)) t.t_sack_rxt = una;
  if (j == 0) sack_blk_idle(tp);
}

/** Insert [s, e) into the sorted scoreboard, merging what it touches. */
function sack_insert(tp: usize, s: u32, e: u32): void {
  const t = TP(tp);
  if (tcp_sack_blk(tp) == 0) return; // no memory: the range is not kept (a needless retransmission at worst)
  // Find the first range that ends at or after s.
  let i: u32 = 0;
  while (i < t.t_sackn && SEQ_LT(sk_end(tp, i), s)) i++;
  // Merge every range that starts at or before e.
  let j = i;
  while (j < t.t_sackn && SEQ_LEQ(sk_start(tp, j), e)) {
    if (SEQ_LT(sk_start(tp, j), s)) s = sk_start(tp, j);
    if (SEQ_GT(sk_end(tp, j), e)) e = sk_end(tp, j);
    j++;
  }
  // Ranges i..j-1 become one; shift the rest.
  const removed = j - i;
  if (removed == 0) {
    if (t.t_sackn == TCP_SACK_HOLES) {
      if (i == 0) return; // lower than everything we keep: forget the new one
      // Forget the lowest range to make room.
      memory.copy(holes(tp), holes(tp) + 8, <usize>(t.t_sackn - 1) << 3);
      t.t_sackn--;
      i--;
    }
    memory.copy(holes(tp) + (<usize>(i + 1) << 3), holes(tp) + (<usize>i << 3), <usize>(t.t_sackn - i) << 3);
    t.t_sackn++;
  } else if (removed > 1) {
    memory.copy(holes(tp) + (<usize>(i + 1) << 3), holes(tp) + (<usize>j << 3), <usize>(t.t_sackn - j) << 3);
    t.t_sackn -= removed - 1;
  }
  sk_set(tp, i, s, e);
}

/**
 * Take the SACK blocks of an ACK (network order, n blocks at p) into the scoreboard.
 * Blocks outside (ack, snd_max] or empty are ignored (RFC 2018 says nothing of lies; FreeBSD
 * ignores them too). Returns true when the scoreboard learned something.
 */
export function tcp_sack_doack(tp: usize, p: usize, n: u32, ack: u32): bool {
  const t = TP(tp);
  if (t.t_sackn == 0) t.t_sack_fack = ack;
  const before = t.t_sack_fack;
  let changed = false;
  for (let k: u32 = 0; k < n; k++) {
    let s = bswap<u32>(load<u32>(p + (<usize>k << 3)));
    const e = bswap<u32>(load<u32>(p + (<usize>k << 3) + 4));
    if (SEQ_LEQ(e, s) || SEQ_LEQ(e, ack) || SEQ_GT(e, t.snd_max)) continue; // D-SACK or nonsense
    if (SEQ_LT(s, ack)) s = ack;
    TCPSTAT_INC(TCPS_SACK_RCV_BLOCKS);
    sack_insert(tp, s, e);
    changed = true;
    if (SEQ_GT(e, t.t_sack_fack)) t.t_sack_fack = e;
  }
  if (SEQ_LT(t.t_sack_fack, ack)) t.t_sack_fack = ack;
  return changed || before != t.t_sack_fack;
}

/** Bytes SACKed in [a, b). */
function sacked_in(tp: usize, a: u32, b: u32): u32 {
  const t = TP(tp);
  let n: u32 = 0;
  for (let i: u32 = 0; i < t.t_sackn; i++) {
    let s = sk_start(tp, i);
    let e = sk_end(tp, i);
    if (SEQ_LT(s, a)) s = a;
    if (SEQ_GT(e, b)) e = b;
    if (SEQ_LT(s, e)) n += e - s;
  }
  return n;
}

/** RFC 6675 pipe: bytes above the highest SACK plus retransmissions still in flight. */
export function tcp_sack_pipe(tp: usize): u32 {
  const t = TP(tp);
  let fack = t.t_sack_fack;
  if (SEQ_LT(fack, t.snd_una)) fack = t.snd_una;
  let pipe: u32 = SEQ_GT(t.snd_max, fack) ? t.snd_max - fack : 0;
  let rxt = t.t_sack_rxt;
  if (SEQ_GT(rxt, t.snd_una)) pipe += (rxt - t.snd_una) - sacked_in(tp, t.snd_una, rxt);
  return pipe;
}

/**
 * NextSeg (RFC 6675 4 (1)): the first byte at or after t_sack_rxt that is below fack and
 * not SACKed, as (len << 32 | offset from snd_una), len at most t_maxseg; -1 for none or
 * when pipe leaves no room in cwnd.
 */
export function tcp_sack_output(tp: usize): i64 {
  const t = TP(tp);
  let s = SEQ_LT(t.t_sack_rxt, t.snd_una) ? t.snd_una : t.t_sack_rxt;
  if (SackGlobals.force_first) {
    // Entering recovery (RFC 6675 5 (4.3)): snd_una's segment goes whatever pipe says.
    SackGlobals.force_first = false;
    let e = t.snd_max;
    if (t.t_sackn != 0 && SEQ_LT(sk_start(tp, 0), e)) e = sk_start(tp, 0);
    if (s == t.snd_una && SEQ_LT(s, e)) return (<i64>min<u32>(e - s, t.t_maxseg) << 32);
  }
  if (tcp_sack_pipe(tp) + t.t_maxseg > t.snd_cwnd) return -1;
  for (let i: u32 = 0; i < t.t_sackn; i++) {
    const bs = sk_start(tp, i);
    const be = sk_end(tp, i);
    if (SEQ_LEQ(be, s)) continue;
    if (SEQ_LEQ(bs, s)) {
      s = be; // inside a SACKed range: skip it
      continue;
    }
    // [s, bs) is a hole below a SACKed range: lost.
    const len = min<u32>(bs - s, t.t_maxseg);
    return (<i64>len << 32) | <i64>(s - t.snd_una);
  }
  return -1;
}

/** Write up to room SACK blocks describing the reassembly queue at p; returns how many. */
export function tcp_sack_fill(tp: usize, p: usize, room: u32): u32 {
  const t = TP(tp);
  if (room == 0 || t.t_segq == 0) return 0;
  const last = changetype<TcpSackBlk>(t.t_sack).sb_last; // the queue is not empty, so the block is there
  let n: u32 = 0;
  // The block holding the last arrival first.
  let firsts: u32 = 0;
  let firste: u32 = 0;
  let have = false;
  let q = t.t_segq;
  while (q != 0) {
    const qq = changetype<Mbuf>(q);
    let s = qq.ph_flowid;
    let e = s + <u32>qq.ph_len;
    q = qq.m_nextpkt;
    while (q != 0 && changetype<Mbuf>(q).ph_flowid == e) {
      e += <u32>changetype<Mbuf>(q).ph_len;
      q = changetype<Mbuf>(q).m_nextpkt;
    }
    if (SEQ_LEQ(s, last) && SEQ_LT(last, e) && SEQ_LT(s, e)) {
      firsts = s;
      firste = e;
      have = true;
    }
  }
  if (have) {
    store<u32>(p, bswap<u32>(firsts));
    store<u32>(p + 4, bswap<u32>(firste));
    n = 1;
  }
  // The others from the highest down: walk the queue once per block (at most 4 blocks).
  let below: u32 = 0;
  let bounded = false;
  while (n < room) {
    let bests: u32 = 0;
    let beste: u32 = 0;
    let found = false;
    q = t.t_segq;
    while (q != 0) {
      const qq = changetype<Mbuf>(q);
      let s = qq.ph_flowid;
      let e = s + <u32>qq.ph_len;
      q = qq.m_nextpkt;
      while (q != 0 && changetype<Mbuf>(q).ph_flowid == e) {
        e += <u32>changetype<Mbuf>(q).ph_len;
        q = changetype<Mbuf>(q).m_nextpkt;
      }
      if (!SEQ_LT(s, e)) continue; // a lone FIN
      if (bounded && !SEQ_LT(s, below)) continue;
      if (have && s == firsts) continue;
      if (!found || SEQ_GT(s, bests)) {
        bests = s;
        beste = e;
        found = true;
      }
    }
    if (!found) break;
    store<u32>(p + (<usize>n << 3), bswap<u32>(bests));
    store<u32>(p + (<usize>n << 3) + 4, bswap<u32>(beste));
    n++;
    below = bests;
    bounded = true;
  }
  return n;
}

/** Resending from SND.NXT after an RTO: step over what the peer has SACKed since. */
export function tcp_sack_skip(tp: usize): void {
  const t = TP(tp);
  for (let i: u32 = 0; i < t.t_sackn; i++) {
    const s = sk_start(tp, i);
    const e = sk_end(tp, i);
    if (SEQ_LEQ(s, t.snd_nxt) && SEQ_LT(t.snd_nxt, e)) t.snd_nxt = SEQ_LT(e, t.snd_max) ? e : t.snd_max;
  }
}

export function tcp_sack_nblocks(tp: usize): u32 {
  return <u32>TP(tp).t_sackn;
}

export { SEQ_GEQ, TCPSTAT_ADD };
