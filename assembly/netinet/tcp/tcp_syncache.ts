// The syncache (FreeBSD tcp_syncache.c; RFC 4987 3.3 "SYN cache", 3.6 "SYN cookies"):
// embryonic connections are kept out of the socket layer until the handshake completes.
//
// A SYN to a listener makes an entry here (syncache_add), not a socket: about 100 bytes in
// the per-vnet "syncache" zone, in a hash of SC_HASHSIZE buckets (a bucket holds at most
// net.inet.tcp.syncache.bucketlimit entries, the cache net.inet.tcp.syncache.cachelimit;
// FreeBSD's 30 and 512 x 30), and the SYN-ACK goes from the entry. The socket and tcpcb
// are made only when the ACK that completes the handshake arrives (syncache_expand): the
// listen queue holds connections, never half-open ones, so spoofed SYNs cannot fill it.
// An entry that hears nothing has its SYN-ACK sent again after 1, 2 and 4 s and goes 8 s
// after the last (FreeBSD's SYNCACHE_MAXREXMTS 3: 15 s in all).
//
// With net.inet.tcp.syncookies on (the default) the ISS of every entry is a SYN cookie
// (tcp_syncookie.ts), as FreeBSD does. So when the cache is full, or a bucket overflows
// and its oldest entry goes, the SYN is still answered (by a cookie alone: no state), and
// an ACK whose entry was lost still completes if its cookie checks. As FreeBSD, a cookie
// without an entry is only honoured within 30 s (a cookie's life) of an overflow, or with
// net.inet.tcp.syncookies_only; otherwise such an ACK is a spurious one and gets a RST.
//
// Timers. Every entry of a vnet is on one of four FIFO queues by how often its SYN-ACK has
// gone (1 to 4 times); an entry joins the tail of a queue with a deadline of now + that
// queue's timeout, so each queue is sorted by deadline and one callout per vnet, armed for
// the earliest head, serves them all.
//
// Per vnet: the table (two kmem pages: the callout, the queues, the buckets) exists while
// the vnet has a listener; the last listener's going drops every entry with it (no
// listener could complete them), and so does the vnet's uninit.

import {
  zone_alloc, zone_free, kmem_alloc, kmem_free, callout_init, callout_reset_at, callout_stop, callout_pending,
  callout_time, ticks, CURVNET_SET, CURVNET_RESTORE, CALLOUT_SIZE,
} from "../../kmod/kapi";
import { mtod } from "../../sys/mbuf";
import { Sockbuf, so_rcv } from "../../sys/socket";
import {
  TP, V, TcpVnet, TcpGlobals, TCPSTAT_INC, TCP_HDR_MIN, TH_SYN, TH_ACKF, TCPOPT_MAXSEG, TCPOPT_NOP, TCPOPT_WINDOW,
  TCPOPT_SACK_PERMITTED, TCPOPT_TIMESTAMP, TF_REQ_SCALE, TF_SACK_REQ, TF_REQ_TSTMP, TOF_MSS, TOF_SCALE, TOF_SACKPERM, TOF_TS,
  TCP_MSS_DEFAULT, TCPTV_RTOBASE, TCPS_SNDCTRL, TCPS_SNDACKS, TCPS_LISTENDROP, TCPS_BADRST, TCPS_PAWSDROP,
  TCPS_SC_ADDED, TCPS_SC_RETRANSMITTED, TCPS_SC_DUPSYN, TCPS_SC_DROPPED, TCPS_SC_COMPLETED, TCPS_SC_BUCKETOVERFLOW,
  TCPS_SC_CACHEOVERFLOW, TCPS_SC_RESET, TCPS_SC_STALE, TCPS_SC_BADACK, TCPS_SC_ZONEFAIL, TCPS_SC_RECVCOOKIE,
  TCPS_SC_BADCOOKIE,
} from "./tcp_var";
import { SEQ_GT, SEQ_LEQ, SEQ_LT } from "./tcp_seq";
import { hash4, tcp_addr_eq, tcp_challenge_ok, tcp_enter, tcp_exit, tcp_fillhdr, tcp_gethdr, tcp_new_isn, tcp_queue, tcp_ts_offset } from "./tcp_subr";
import { SYNCOOKIE_NO_WSCALE, syncookie_check, syncookie_generate, syncookie_mss } from "./tcp_syncookie";
import { tcp_mss_for } from "./tcp_usrreq";
import { to } from "./tcp_input";
import { syncache_socket } from "./tcp_input_syn";

// Defaults (FreeBSD's TCP_SYNCACHE_HASHSIZE, TCP_SYNCACHE_BUCKETLIMIT, SYNCACHE_MAXREXMTS).
export const SC_HASHSIZE: u32 = 512;
export const SC_BUCKETLIMIT: u32 = 30;
export const SC_CACHELIMIT: u32 = SC_HASHSIZE * SC_BUCKETLIMIT;
const SC_MAXREXMTS: u32 = 3;
const SC_COOKIE_LIFE: u64 = 30_000_000; // a cookie checks for 15 to 30 s (tcp_syncookie.ts)

// sc_flags: what both SYNs agreed on
const SCF_WINSCALE: u8 = 1;
const SCF_TIMESTAMP: u8 = 2;
const SCF_SACK: u8 = 4;

/** One embryonic connection ("syncache" zone item); its addresses follow at SC_LADDR, SC_FADDR. */
@unmanaged class Syncache {
  sc_hnext: usize; // bucket: newer, older
  sc_hprev: usize;
  sc_tnext: usize; // timer queue of its retransmission count: later, earlier
  sc_tprev: usize;
  sc_af: usize; // TcpAfOps
  sc_rxttime: u64; // when its SYN-ACK goes again (or, after the last, it goes)
  sc_iss: u32;
  sc_irs: u32;
  sc_tsoff: u32; // our timestamp clock's offset
  sc_tsreflect: u32; // the peer's last timestamp (TS.Recent)
  sc_wnd: u32; // the window the SYN-ACK offers (unscaled, as in any SYN)
  sc_lport: u16;
  sc_fport: u16;
  sc_peermss: u16;
  sc_ourmss: u16;
  sc_bucket: u16;
  sc_flags: u8;
  sc_rxmits: u8; // retransmissions so far: the timer queue it is on
  sc_wscale: u8; // the peer's window shift (SCF_WINSCALE)
  sc_rscale: u8; // ours
}
const SC_LADDR: usize = (offsetof<Syncache>() + 7) & ~7;
const SC_FADDR: usize = SC_LADDR + 16;
export const SYNCACHE_SIZE: u32 = <u32>(SC_FADDR + 16);
@inline function S(sc: usize): Syncache { return changetype<Syncache>(sc); }

// The per-vnet table (TcpVnet.sc_tbl): the callout, the four timer queues (head, tail),
// then the buckets (newest, oldest, length).
const TBL_CALLOUT: usize = 0;
const TBL_TQ: usize = (<usize>CALLOUT_SIZE + 7) & ~7;
const TBL_BUCKETS: usize = TBL_TQ + (<usize>(SC_MAXREXMTS + 1) << 3);
const BUCKET_SIZE: usize = 12;
const TBL_PAGES: u32 = <u32>((TBL_BUCKETS + <usize>SC_HASHSIZE * BUCKET_SIZE + 4095) >> 12);
@inline function bucket(tbl: usize, b: u32): usize { return tbl + TBL_BUCKETS + <usize>b * BUCKET_SIZE; }
@inline function tq(tbl: usize, n: u32): usize { return tbl + TBL_TQ + (<usize>n << 3); }

/** A SYN-ACK's worth of state for a SYN answered by a cookie alone (FreeBSD's `scs` on the stack). */
const scratch = memory.data(<i32>SYNCACHE_SIZE, 8);

/** Retransmission timeout after the SYN-ACK's (n + 1)th sending: 1, 2, 4, 8 s (RFC 6298 backoff). */
@inline function sc_timeout(n: u32): u64 { return TCPTV_RTOBASE << n; }

// ---------------------------------------------------------------------------------------
// The table

/** The vnet's table (curvnet = v), with its first listener. False: no pages. */
export function syncache_tbl_create(vv: TcpVnet, v: usize): bool {
  if (vv.sc_tbl != 0) return true;
  const tbl = kmem_alloc(TBL_PAGES, v);
  if (tbl == 0) return false;
  memory.fill(tbl, 0, <usize>TBL_PAGES << 12);
  callout_init(tbl + TBL_CALLOUT);
  vv.sc_tbl = tbl;
  return true;
}

/** Drop every entry and free the table of vnet v (its last listener went, or its uninit). */
export function syncache_tbl_destroy(vv: TcpVnet, v: usize): void {
  const tbl = vv.sc_tbl;
  if (tbl == 0) return;
  const old = CURVNET_SET(v);
  callout_stop(tbl + TBL_CALLOUT);
  for (let n: u32 = 0; n <= SC_MAXREXMTS; n++) {
    while (load<usize>(tq(tbl, n)) != 0) sc_drop(vv, tbl, load<usize>(tq(tbl, n)));
  }
  kmem_free(tbl, TBL_PAGES, v);
  vv.sc_tbl = 0;
  CURVNET_RESTORE(old);
}

@inline function sc_hash(vv: TcpVnet, laddr: usize, faddr: usize, lport: u16, fport: u16): u32 {
  // A key of its own, so the buckets do not line up with the connection hash's chains.
  return hash4(vv.isn_key1, laddr, faddr, lport, fport) & (SC_HASHSIZE - 1);
}

function sc_lookup(tbl: usize, b: u32, ops: usize, laddr: usize, faddr: usize, lport: u16, fport: u16): usize {
  for (let sc = load<usize>(bucket(tbl, b)); sc != 0; sc = S(sc).sc_hnext) {
    const s = S(sc);
    if (s.sc_lport == lport && s.sc_fport == fport && s.sc_af == ops && tcp_addr_eq(sc + SC_FADDR, faddr) && tcp_addr_eq(sc + SC_LADDR, laddr)) return sc;
  }
  return 0;
}

/** Append sc to the timer queue of its retransmission count, due `delta` from now. */
function tq_append(tbl: usize, sc: usize, now: u64): void {
  const s = S(sc);
  const n = <u32>s.sc_rxmits;
  s.sc_rxttime = now + sc_timeout(n);
  const q = tq(tbl, n);
  const tail = load<usize>(q, 4);
  s.sc_tnext = 0;
  s.sc_tprev = tail;
  if (tail != 0) S(tail).sc_tnext = sc;
  else store<usize>(q, sc);
  store<usize>(q, sc, 4);
  const c = tbl + TBL_CALLOUT;
  if (!callout_pending(c) || callout_time(c) > s.sc_rxttime) callout_reset_at(c, s.sc_rxttime, syncache_timer.index, 0);
}

function tq_remove(tbl: usize, sc: usize): void {
  const s = S(sc);
  const q = tq(tbl, <u32>s.sc_rxmits);
  if (s.sc_tprev != 0) S(s.sc_tprev).sc_tnext = s.sc_tnext;
  else store<usize>(q, s.sc_tnext);
  if (s.sc_tnext != 0) S(s.sc_tnext).sc_tprev = s.sc_tprev;
  else store<usize>(q, s.sc_tprev, 4);
  s.sc_tnext = 0;
  s.sc_tprev = 0;
}

/** Take sc off its bucket and timer queue and free it. */
function sc_drop(vv: TcpVnet, tbl: usize, sc: usize): void {
  const s = S(sc);
  const bk = bucket(tbl, <u32>s.sc_bucket);
  if (s.sc_hprev != 0) S(s.sc_hprev).sc_hnext = s.sc_hnext;
  else store<usize>(bk, s.sc_hnext);
  if (s.sc_hnext != 0) S(s.sc_hnext).sc_hprev = s.sc_hprev;
  else store<usize>(bk, s.sc_hprev, 4);
  store<u32>(bk, load<u32>(bk, 8) - 1, 8);
  tq_remove(tbl, sc);
  zone_free(TcpGlobals.sczone, sc);
  vv.sc_count--;
}

/**
 * An entry for a new SYN in bucket b: the bucket's oldest goes when the bucket is full
 * (sc_bucketoverflow); at the cache limit (sc_cacheoverflow) or without memory
 * (sc_zonefail) the bucket's oldest makes room, or there is none (0). Every overflow is
 * remembered: cookies without an entry are honoured for a while after.
 */
function sc_alloc(vv: TcpVnet, tbl: usize, b: u32, now: u64): usize {
  const bk = bucket(tbl, b);
  if (load<u32>(bk, 8) >= vv.sc_bucketlimit && load<usize>(bk, 4) != 0) {
    TCPSTAT_INC(TCPS_SC_BUCKETOVERFLOW);
    vv.sc_overflow = now + 1;
    sc_drop(vv, tbl, load<usize>(bk, 4));
  }
  if (vv.sc_count >= vv.sc_cachelimit) {
    TCPSTAT_INC(TCPS_SC_CACHEOVERFLOW);
    vv.sc_overflow = now + 1;
    if (load<usize>(bk, 4) == 0) return 0;
    sc_drop(vv, tbl, load<usize>(bk, 4));
  }
  let sc = zone_alloc(TcpGlobals.sczone);
  if (sc == 0) {
    TCPSTAT_INC(TCPS_SC_ZONEFAIL);
    vv.sc_overflow = now + 1;
    if (load<usize>(bk, 4) == 0) return 0;
    sc_drop(vv, tbl, load<usize>(bk, 4));
    sc = zone_alloc(TcpGlobals.sczone);
  }
  return sc;
}

// ---------------------------------------------------------------------------------------
// SYN-ACKs

/**
 * Send the SYN-ACK of entry sc (flags TH_SYN | TH_ACKF), or with TH_ACKF alone an ACK of its
 * state (RFC 5961 challenge ACK). The options are what both SYNs agreed on. False when no
 * mbuf was left.
 */
function syncache_respond(sc: usize, flags: u32): bool {
  const s = S(sc);
  const syn = (flags & TH_SYN) != 0;
  let optlen: u32 = 0;
  if (syn) {
    optlen = 4;
    if (s.sc_flags & SCF_WINSCALE) optlen += 4;
    if (s.sc_flags & SCF_SACK) optlen += 4;
  }
  if (s.sc_flags & SCF_TIMESTAMP) optlen += 12;
  const m = tcp_gethdr(TCP_HDR_MIN + optlen);
  if (m == 0) return false;
  const th = mtod(m);
  tcp_fillhdr(th, s.sc_lport, s.sc_fport, syn ? s.sc_iss : s.sc_iss + 1, s.sc_irs + 1, TCP_HDR_MIN + optlen, flags, s.sc_wnd);
  let o = th + TCP_HDR_MIN;
  if (syn) {
    store<u8>(o, TCPOPT_MAXSEG);
    store<u8>(o + 1, 4);
    store<u16>(o + 2, bswap<u16>(s.sc_ourmss));
    o += 4;
    if (s.sc_flags & SCF_WINSCALE) {
      store<u8>(o, TCPOPT_NOP);
      store<u8>(o + 1, TCPOPT_WINDOW);
      store<u8>(o + 2, 3);
      store<u8>(o + 3, s.sc_rscale);
      o += 4;
    }
    if (s.sc_flags & SCF_SACK) {
      store<u8>(o, TCPOPT_NOP);
      store<u8>(o + 1, TCPOPT_NOP);
      store<u8>(o + 2, TCPOPT_SACK_PERMITTED);
      store<u8>(o + 3, 2);
      o += 4;
    }
  }
  if (s.sc_flags & SCF_TIMESTAMP) {
    store<u8>(o, TCPOPT_NOP);
    store<u8>(o + 1, TCPOPT_NOP);
    store<u8>(o + 2, TCPOPT_TIMESTAMP);
    store<u8>(o + 3, 10);
    store<u32>(o + 4, bswap<u32>(<u32>(ticks() / 1000) + s.sc_tsoff));
    store<u32>(o + 8, bswap<u32>(s.sc_tsreflect));
  }
  TCPSTAT_INC(syn ? TCPS_SNDCTRL : TCPS_SNDACKS);
  tcp_queue(m, s.sc_af, sc + SC_LADDR, sc + SC_FADDR);
  return true;
}

/** The retransmission callout of the current vnet: SYN-ACKs due go again, entries past the last go. */
function syncache_timer(arg: usize): void {
  const vv = V();
  const tbl = vv.sc_tbl;
  if (tbl == 0) return;
  tcp_enter();
  const now = ticks();
  // From the last queue down, so an entry moved on in this pass is not seen twice.
  for (let n: i32 = <i32>SC_MAXREXMTS; n >= 0; n--) {
    const q = tq(tbl, <u32>n);
    for (let sc = load<usize>(q); sc != 0 && S(sc).sc_rxttime <= now; sc = load<usize>(q)) {
      if (<u32>n == SC_MAXREXMTS) {
        TCPSTAT_INC(TCPS_SC_STALE);
        sc_drop(vv, tbl, sc);
        continue;
      }
      if (!syncache_respond(sc, TH_SYN | TH_ACKF)) {
        TCPSTAT_INC(TCPS_SC_DROPPED);
        sc_drop(vv, tbl, sc);
        continue;
      }
      TCPSTAT_INC(TCPS_SC_RETRANSMITTED);
      tq_remove(tbl, sc);
      S(sc).sc_rxmits++;
      tq_append(tbl, sc, now);
    }
  }
  // Re-arm for the earliest head left (tq_append may have armed it already).
  let next: u64 = 0;
  for (let n: u32 = 0; n <= SC_MAXREXMTS; n++) {
    const h = load<usize>(tq(tbl, n));
    if (h != 0 && (next == 0 || S(h).sc_rxttime < next)) next = S(h).sc_rxttime;
  }
  const c = tbl + TBL_CALLOUT;
  if (next != 0 && (!callout_pending(c) || callout_time(c) != next)) callout_reset_at(c, next, syncache_timer.index, 0);
  tcp_exit();
}

// ---------------------------------------------------------------------------------------
// SYN, RST and ACK for a listener

@inline function cookies_only(vv: TcpVnet): bool {
  return vv.syncookies != 0 && vv.syncookies_only != 0;
}

/**
 * A SYN from faddr:fport (ISN irs, its options in `to`) for listener lp on laddr: an entry
 * and a SYN-ACK (RFC 9293 3.10.7.2), the SYN-ACK again for a SYN we already hold (the peer
 * did not hear ours), or a cookie alone when there is no room. Without room and without
 * cookies the SYN is dropped (tcps_listendrop) and the peer tries again.
 */
export function syncache_add(lp: usize, ops: usize, faddr: usize, laddr: usize, fport: u16, irs: u32): void {
  const vv = V();
  const lt = TP(lp);
  const head = lt.t_socket;
  if (head == 0) return;
  const now = ticks();
  const tbl = vv.sc_tbl;
  const lport = lt.t_lport;
  const b = sc_hash(vv, laddr, faddr, lport, fport);
  const useTbl = tbl != 0 && !cookies_only(vv);
  if (useTbl) {
    const old = sc_lookup(tbl, b, ops, laddr, faddr, lport, fport);
    if (old != 0) {
      // FreeBSD: a retransmitted SYN; answer again and start the timer over. Timestamps
      // stay only if this SYN still has one.
      TCPSTAT_INC(TCPS_SC_DUPSYN);
      const s = S(old);
      if ((s.sc_flags & SCF_TIMESTAMP) != 0 && (to.to_flags & TOF_TS) != 0) s.sc_tsreflect = to.to_tsval;
      else s.sc_flags &= ~SCF_TIMESTAMP;
      if (!syncache_respond(old, TH_SYN | TH_ACKF)) {
        TCPSTAT_INC(TCPS_SC_DROPPED);
        sc_drop(vv, tbl, old);
        return;
      }
      tq_remove(tbl, old);
      s.sc_rxmits = 0;
      tq_append(tbl, old, now);
      return;
    }
  }
  const sc = useTbl ? sc_alloc(vv, tbl, b, now) : 0;
  if (sc == 0 && vv.syncookies == 0) {
    TCPSTAT_INC(TCPS_LISTENDROP);
    return;
  }
  const p = sc != 0 ? sc : scratch;
  memory.fill(p, 0, SYNCACHE_SIZE);
  const s = S(p);
  s.sc_af = ops;
  memory.copy(p + SC_LADDR, laddr, 16);
  memory.copy(p + SC_FADDR, faddr, 16);
  s.sc_lport = lport;
  s.sc_fport = fport;
  s.sc_irs = irs;
  s.sc_wnd = min<u32>(changetype<Sockbuf>(so_rcv(head)).sb_hiwat, 65535);
  s.sc_peermss = <u16>((to.to_flags & TOF_MSS) != 0 ? to.to_mss : TCP_MSS_DEFAULT);
  s.sc_ourmss = <u16>tcp_mss_for(ops, faddr, lt.t_maxseg_user);
  s.sc_rscale = lt.request_r_scale;
  // RFC 7323: scaling and timestamps only if both ask; SACK likewise (RFC 2018).
  if ((to.to_flags & TOF_SCALE) != 0 && (lt.t_flags & TF_REQ_SCALE) != 0) {
    s.sc_flags |= SCF_WINSCALE;
    s.sc_wscale = <u8>to.to_wscale;
  }
  if ((to.to_flags & TOF_SACKPERM) != 0 && (lt.t_flags & TF_SACK_REQ) != 0) s.sc_flags |= SCF_SACK;
  if ((to.to_flags & TOF_TS) != 0 && (lt.t_flags & TF_REQ_TSTMP) != 0) {
    s.sc_flags |= SCF_TIMESTAMP;
    s.sc_tsreflect = to.to_tsval;
  }
  if (vv.syncookies != 0) {
    const c = syncookie_generate(laddr, faddr, lport, fport, irs, <u32>s.sc_peermss, (s.sc_flags & SCF_SACK) != 0,
      (s.sc_flags & SCF_WINSCALE) != 0 ? <u32>s.sc_wscale : SYNCOOKIE_NO_WSCALE);
    s.sc_iss = <u32>c;
  } else {
    s.sc_iss = tcp_new_isn(laddr, faddr, lport, fport);
  }
  s.sc_tsoff = tcp_ts_offset(laddr, faddr, lport, fport);
  if (sc == 0) {
    syncache_respond(p, TH_SYN | TH_ACKF); // a cookie alone; nothing kept
    return;
  }
  s.sc_bucket = <u16>b;
  const bk = bucket(tbl, b);
  const first = load<usize>(bk);
  s.sc_hnext = first;
  s.sc_hprev = 0;
  if (first != 0) S(first).sc_hprev = sc;
  else store<usize>(bk, sc, 4);
  store<usize>(bk, sc);
  store<u32>(bk, load<u32>(bk, 8) + 1, 8);
  vv.sc_count++;
  tq_append(tbl, sc, now);
  TCPSTAT_INC(TCPS_SC_ADDED);
  if (!syncache_respond(sc, TH_SYN | TH_ACKF)) {
    TCPSTAT_INC(TCPS_SC_DROPPED);
    sc_drop(vv, tbl, sc);
  }
}

/**
 * A RST from faddr:fport (sequence seq) for listener lp: RFC 5961 3.2 for an entry, as for
 * a connection in SYN-RECEIVED: at IRS + 1 exactly the entry goes (sc_reset), elsewhere in
 * its window a challenge ACK, else nothing (tcps_badrst either way).
 */
export function syncache_chkrst(lp: usize, ops: usize, faddr: usize, laddr: usize, fport: u16, seq: u32): void {
  const vv = V();
  const tbl = vv.sc_tbl;
  if (tbl == 0 || cookies_only(vv)) return;
  const lport = TP(lp).t_lport;
  const sc = sc_lookup(tbl, sc_hash(vv, laddr, faddr, lport, fport), ops, laddr, faddr, lport, fport);
  if (sc == 0) {
    TCPSTAT_INC(TCPS_BADRST);
    return;
  }
  const s = S(sc);
  const nxt = s.sc_irs + 1;
  if (seq == nxt) {
    TCPSTAT_INC(TCPS_SC_RESET);
    sc_drop(vv, tbl, sc);
    return;
  }
  TCPSTAT_INC(TCPS_BADRST);
  if (SEQ_GT(seq, nxt) && SEQ_LT(seq, nxt + max<u32>(s.sc_wnd, 1)) && tcp_challenge_ok()) syncache_respond(sc, TH_ACKF);
}

/**
 * The ACK that completes a handshake, from faddr:fport to listener lp (seq, ack, its
 * window and options in `to`): the entry's (or, without one, a SYN cookie's) connection,
 * made now (tcp_input_syn.ts syncache_socket) in SYN-RECEIVED, for the caller to go on
 * with the segment as it would for any connection (it becomes ESTABLISHED and acceptable
 * there, and any data on it is kept). Returns the tcpcb; 0: not ours (the caller answers
 * with a RST); -1: drop the segment silently (the listen queue or a limit is full:
 * tcps_listendrop, and the entry stays, so our SYN-ACK retransmission or the peer's next
 * segment tries again; or PAWS).
 */
export function syncache_expand(lp: usize, ops: usize, faddr: usize, laddr: usize, fport: u16, seq: u32, ack: u32, tiwin0: u32): usize {
  const vv = V();
  const lt = TP(lp);
  const lport = lt.t_lport;
  const tbl = vv.sc_tbl;
  if (tbl != 0 && !cookies_only(vv)) {
    const sc = sc_lookup(tbl, sc_hash(vv, laddr, faddr, lport, fport), ops, laddr, faddr, lport, fport);
    if (sc != 0) {
      const s = S(sc);
      // RFC 9293 3.10.7.4: the ACK must acknowledge our SYN and the segment start in the
      // window we offered; else a RST, and the entry stays as SYN-RECEIVED would.
      if (ack != s.sc_iss + 1 || SEQ_LEQ(seq, s.sc_irs) || SEQ_GT(seq, s.sc_irs + 1 + s.sc_wnd)) {
        TCPSTAT_INC(TCPS_SC_BADACK);
        return 0;
      }
      const ts = (s.sc_flags & SCF_TIMESTAMP) != 0;
      if (ts && (to.to_flags & TOF_TS) != 0 && SEQ_LT(to.to_tsval, s.sc_tsreflect)) {
        TCPSTAT_INC(TCPS_PAWSDROP); // RFC 7323 5.3
        return <usize>-1;
      }
      const tp = syncache_socket(lp, ops, faddr, laddr, fport, s.sc_iss, s.sc_irs, (s.sc_flags & SCF_WINSCALE) != 0 ? <i32>s.sc_wscale : -1,
        ts, s.sc_tsreflect, s.sc_tsoff, (s.sc_flags & SCF_SACK) != 0, <u32>s.sc_peermss, s.sc_wnd, <u32>s.sc_rscale, tiwin0);
      if (tp == 0) return <usize>-1;
      sc_drop(vv, tbl, sc);
      TCPSTAT_INC(TCPS_SC_COMPLETED);
      return tp;
    }
  }
  // No entry: a SYN cookie, if cookies are on and the cache overflowed lately (or cookies
  // are all there is). FreeBSD: otherwise an ACK for nothing we sent is spurious.
  if (vv.syncookies == 0) return 0;
  if (!cookies_only(vv) && (vv.sc_overflow == 0 || ticks() + 1 - vv.sc_overflow > SC_COOKIE_LIFE)) return 0;
  const c = syncookie_check(laddr, faddr, lport, fport, seq, ack);
  if (c == 0) {
    TCPSTAT_INC(TCPS_SC_BADCOOKIE);
    return 0;
  }
  const low = <u32>c;
  const ws = (low >> 4) & 15;
  // Timestamps were offered if the SYN had them; the ACK has them if they were agreed.
  const ts = (to.to_flags & TOF_TS) != 0 && (lt.t_flags & TF_REQ_TSTMP) != 0;
  const head = lt.t_socket;
  const wnd = head != 0 ? min<u32>(changetype<Sockbuf>(so_rcv(head)).sb_hiwat, 65535) : 0;
  const tp = syncache_socket(lp, ops, faddr, laddr, fport, ack - 1, seq - 1, ws != SYNCOOKIE_NO_WSCALE ? <i32>ws : -1, ts, to.to_tsval,
    tcp_ts_offset(laddr, faddr, lport, fport), (low & 8) != 0, syncookie_mss(low & 7), wnd, <u32>lt.request_r_scale, tiwin0);
  if (tp == 0) return <usize>-1;
  TCPSTAT_INC(TCPS_SC_RECVCOOKIE);
  return tp;
}

