// TCP input for segments that open a connection (FreeBSD tcp_input.c and syncache_socket):
// LISTEN (RFC 9293 3.10.7.2: a SYN goes to the syncache, tcp_syncache.ts, which makes the
// connection here when the handshake completes), SYN_SENT (3.10.7.3, simultaneous open
// included), and the option negotiation both share. Called from tcp_input.ts, whose option
// parse (`to`) and drop helpers these use.

import { ECONNREFUSED, m_adj, soisconnected, sonewconn, ticks } from "../../kmod/kapi";
import { M_BCAST, M_MCAST, Mbuf } from "../../sys/mbuf";
import { SO_KEEPALIVE, Sockbuf, Socket, so_rcv } from "../../sys/socket";
import {
  TCPSTAT_INC, TCPS_ACCEPTS, TCPS_BADSYN, TCPS_CONNECTS, TCPS_ESTABLISHED, TCPS_FIN_WAIT_1, TCPS_LISTENDROP, TCPS_SC_BADCOOKIE,
  TCPS_SC_RECVCOOKIE, TCPS_SYN_RECEIVED, TCP_MINMSS, TF_ACKNOW, TF_NEEDFIN, TF_NODELAY, TF_PASSIVE, TF_DUAL, TF_V6ONLY, TF_RCVD_SCALE,
  TF_RCVD_TSTMP, TF_REQ_SCALE, TF_REQ_TSTMP, TF_SACK_PERMIT, TF_SACK_REQ, TH_ACKF, TH_RST, TH_SYN, TOF_MSS,
  TOF_SACKPERM, TOF_SCALE, TOF_TS, TP, TT_KEEP, TT_REXMT, TcpAfOps, V, th_off, th_sport, tp_faddr, tp_laddr,
} from "./tcp_var";
import { SEQ_GT, SEQ_LEQ, SEQ_LT } from "./tcp_seq";
import { tcp_addr_eq, tcp_hash_insert, tcp_new_isn, tcp_port_insert, tcp_rcvspace } from "./tcp_subr";
import { tcp_output } from "./tcp_output";
import { tcp_timer_activate } from "./tcp_timer";
import { cc_conn_init } from "./cc_newreno";
import { tcp_cc_set } from "./cc_cubic";
import { syncache_add, syncache_chkrst } from "./tcp_syncache";
import { tcp_mss_from } from "./tcp_usrreq";
import { drop, dropwithreset, goto_step6, rtt_sample, tcp_drop_noreset, to } from "./tcp_input";

/**
 * What a SYN (from the syncache, a SYN cookie, or the peer's SYN-ACK) negotiates into tp:
 * window scaling and timestamps (RFC 7323: both ways or neither; tsrecent the peer's
 * timestamp to echo), SACK permitted, and the MSS (the peer's offer capped by our route's
 * and the user's). wscale < 0: the peer sent none.
 */
function syn_negotiate(tp: usize, wscale: i32, ts: bool, tsrecent: u32, sack: bool, peerMss: u32): void {
  const t = TP(tp);
  if (wscale >= 0 && (t.t_flags & TF_REQ_SCALE) != 0) {
    t.t_flags |= TF_RCVD_SCALE;
    t.snd_scale = <u8>wscale;
  } else {
    t.t_flags &= ~TF_REQ_SCALE;
    t.request_r_scale = 0;
  }
  // Our window field is shifted by what we asked for (RFC 7323 2.3), both ways or neither.
  t.rcv_scale = t.request_r_scale;
  if (ts && (t.t_flags & TF_REQ_TSTMP) != 0) {
    t.t_flags |= TF_RCVD_TSTMP;
    t.ts_recent = tsrecent;
    t.ts_recent_age = <u32>(ticks() / 1_000_000);
  } else t.t_flags &= ~TF_REQ_TSTMP;
  if (sack && (t.t_flags & TF_SACK_REQ) != 0) t.t_flags |= TF_SACK_PERMIT;
  let mss = peerMss;
  if (mss > t.t_rcvmss) mss = t.t_rcvmss;
  if (t.t_maxseg_user != 0 && mss > t.t_maxseg_user) mss = t.t_maxseg_user;
  if (mss < TCP_MINMSS) mss = TCP_MINMSS;
  t.t_maxseg = mss;
}

/** Negotiate options from a SYN into tp (MSS, window scale, timestamps, SACK). */
function syn_options(tp: usize, tiwin: u32): void {
  syn_negotiate(tp, (to.to_flags & TOF_SCALE) != 0 ? <i32>to.to_wscale : -1, (to.to_flags & TOF_TS) != 0, to.to_tsval,
    (to.to_flags & TOF_SACKPERM) != 0, (to.to_flags & TOF_MSS) != 0 ? to.to_mss : 536);
  const t = TP(tp);
  t.snd_wnd = tiwin;
  t.max_sndwnd = tiwin;
}

/**
 * A segment for a listening socket (RFC 9293 3.10.7.2) other than the ACK that completes
 * a handshake (tcp_input.ts gives that to syncache_expand): a RST is checked against the
 * syncache, an ACK with SYN is answered with a RST, a good SYN goes to the syncache.
 */
export function tcp_listen_input(lp: usize, m: usize, ops: usize, src: usize, dst: usize, th: usize, tlen: u32, thflags: u32, seq: u32, tiwin: u32): void {
  if (thflags & TH_RST) {
    syncache_chkrst(lp, ops, src, dst, th_sport(th), seq);
    drop(m);
    return;
  }
  if (thflags & TH_ACKF) {
    dropwithreset(m, ops, src, dst, th, tlen, 0);
    return;
  }
  if ((thflags & TH_SYN) == 0) {
    drop(m);
    return;
  }
  const lt = TP(lp);
  const bad = (changetype<Mbuf>(m).m_flags & (M_BCAST | M_MCAST)) != 0 ||
    call_indirect<bool>(changetype<TcpAfOps>(ops).af_badaddr, src) || call_indirect<bool>(changetype<TcpAfOps>(ops).af_badaddr, dst);
  if (bad) {
    drop(m);
    return;
  }
  // A SYN from the listener's own address and port (the land attack; FreeBSD tcp_input
  // "it must be forged"): answering it makes a connection talk to itself.
  if (th_sport(th) == lt.t_lport && tcp_addr_eq(src, dst)) {
    TCPSTAT_INC(TCPS_BADSYN);
    drop(m);
    return;
  }
  syncache_add(lp, ops, src, dst, th_sport(th), seq);
  drop(m); // data on a SYN is not kept: the peer sends it again (FreeBSD syncache_add says why)
}

/** A new connection's tcpcb under listener lp (socket so from sonewconn), in the hashes. */
function listen_child(lp: usize, ops: usize, so: usize, src: usize, dst: usize, fport: u16): usize {
  const lt = TP(lp);
  const tp = changetype<Socket>(so).so_pcb;
  const t = TP(tp);
  // The segment's family: an IPv4 connection accepted by a dual-stack (AF_INET6) listener
  // is an IPv4 pcb, whose socket shows ::ffff: addresses; a connection is never dual, and
  // keeps the listener's IPV6_V6ONLY (FreeBSD copies the inp flags).
  t.t_af = ops;
  t.t_flags = (t.t_flags & ~(TF_DUAL | TF_V6ONLY)) | (lt.t_flags & TF_V6ONLY);
  memory.copy(tp_laddr(tp), dst, 16);
  memory.copy(tp_faddr(tp), src, 16);
  t.t_lport = lt.t_lport;
  t.t_fport = fport;
  t.t_flags |= TF_PASSIVE | (lt.t_flags & (TF_NODELAY | TF_REQ_SCALE | TF_REQ_TSTMP | TF_SACK_REQ));
  t.request_r_scale = lt.request_r_scale;
  t.t_keepidle = lt.t_keepidle;
  t.t_keepintvl = lt.t_keepintvl;
  t.t_keepcnt = lt.t_keepcnt;
  t.t_keepinit = lt.t_keepinit;
  t.t_maxseg_user = lt.t_maxseg_user;
  // The listener's algorithm; if CUBIC's state cannot be had, the default stays.
  if (t.t_cc_algo != lt.t_cc_algo) tcp_cc_set(tp, lt.t_cc_algo);
  tcp_hash_insert(tp);
  tcp_port_insert(tp);
  t.t_rcvmss = tcp_mss_from(tp);
  return tp;
}

/**
 * FreeBSD's syncache_socket: the connection of a completed handshake under listener lp, from
 * faddr:fport to laddr, in SYN-RECEIVED with our SYN-ACK sent (ISS iss, the peer's ISN
 * irs) and what the SYNs agreed (wscale < 0: no scaling; timestamps with tsrecent to echo
 * and our offset tsoff; SACK; the peer's MSS; the window wnd the SYN-ACK offered and our
 * shift rscale); tiwin0 the window of the ACK. Its socket is queued, incomplete, on the
 * listener until the ACK is processed. 0 when the listener cannot take it (its queue is at
 * 3/2 x backlog, or a limit: tcps_listendrop).
 */
export function syncache_socket(lp: usize, ops: usize, faddr: usize, laddr: usize, fport: u16, iss: u32, irs: u32, wscale: i32, ts: bool,
  tsrecent: u32, tsoff: u32, sack: bool, peermss: u32, wnd: u32, rscale: u32, tiwin0: u32): usize {
  const lt = TP(lp);
  const head = lt.t_socket;
  const so = head != 0 ? sonewconn(head, 0) : 0;
  if (so == 0) {
    TCPSTAT_INC(TCPS_LISTENDROP);
    return 0;
  }
  const tp = listen_child(lp, ops, so, faddr, laddr, fport);
  const t = TP(tp);
  t.request_r_scale = <u8>rscale;
  t.iss = iss;
  t.snd_una = iss;
  t.snd_nxt = iss + 1;
  t.snd_max = iss + 1;
  t.snd_recover = iss;
  t.irs = irs;
  t.rcv_nxt = irs + 1;
  t.rcv_adv = t.rcv_nxt + wnd; // what the SYN-ACK offered: never shrink it
  t.last_ack_sent = t.rcv_nxt;
  t.snd_wl1 = irs;
  t.ts_offset = tsoff;
  syn_negotiate(tp, wscale, ts, tsrecent, sack, peermss);
  t.snd_wnd = tiwin0 << t.snd_scale;
  t.max_sndwnd = t.snd_wnd;
  t.rcv_wnd = <u32>max<i32>(tcp_rcvspace(tp), 0);
  t.t_state = TCPS_SYN_RECEIVED;
  t.t_rcvtime = ticks();
  tcp_timer_activate(tp, TT_KEEP, <u64>t.t_keepinit * 1_000_000);
  return tp;
}

/** A segment for a connection in SYN_SENT (RFC 9293 3.10.7.3). */
export function tcp_synsent_input(tp: usize, m: usize, th: usize, tlen: u32, thflags: u32, seq: u32, ack: u32, tiwin: u32): void {
  const t = TP(tp);
  if ((thflags & TH_ACKF) != 0 && (SEQ_LEQ(ack, t.iss) || SEQ_GT(ack, t.snd_max))) {
    if (thflags & TH_RST) drop(m);
    else dropwithreset(m, t.t_af, tp_faddr(tp), tp_laddr(tp), th, tlen, tp);
    return;
  }
  if (thflags & TH_RST) {
    if (thflags & TH_ACKF) {
      // "error: connection refused" (the ACK acknowledged our SYN).
      tcp_drop_noreset(tp, ECONNREFUSED);
    }
    drop(m);
    return;
  }
  if ((thflags & TH_SYN) == 0) {
    drop(m);
    return;
  }
  t.irs = seq;
  t.rcv_nxt = seq + 1;
  t.rcv_adv = t.rcv_nxt;
  syn_options(tp, tiwin);
  t.rcv_wnd = <u32>max<i32>(tcp_rcvspace(tp), 0);
  const off = th_off(th);
  if (thflags & TH_ACKF) {
    // Our SYN is acknowledged: ESTABLISHED.
    TCPSTAT_INC(TCPS_CONNECTS);
    rtt_sample(tp, ack);
    t.snd_una = ack;
    if (SEQ_LT(t.snd_nxt, t.snd_una)) t.snd_nxt = t.snd_una;
    tcp_timer_activate(tp, TT_REXMT, 0);
    tcp_established(tp);
    t.snd_wl1 = seq;
    t.snd_wl2 = ack;
    t.snd_wnd = tiwin << t.snd_scale;
    if (t.snd_wnd > t.max_sndwnd) t.max_sndwnd = t.snd_wnd;
    t.t_flags |= TF_ACKNOW;
    // Data on the SYN-ACK (rare) is taken if it is in order.
    m_adj(m, <i32>off);
    goto_step6(tp, m, seq + 1, ack, t.snd_wnd, tlen, thflags & ~TH_SYN);
    return;
  }
  // Simultaneous open (3.10.7.3): SYN_RECEIVED, send SYN-ACK.
  t.t_state = TCPS_SYN_RECEIVED;
  tcp_timer_activate(tp, TT_REXMT, 0);
  t.snd_nxt = t.iss;
  t.t_flags |= TF_ACKNOW;
  drop(m);
  tcp_output(tp);
}

/**
 * The handshake is done (SYN_SENT got its SYN-ACK, or SYN_RECEIVED its ACK): ESTABLISHED,
 * congestion control starts, the socket hears 'connected', keepalive is armed if asked,
 * and a close that came early (TF_NEEDFIN) moves on to FIN_WAIT_1.
 */
export function tcp_established(tp: usize): void {
  const t = TP(tp);
  t.t_state = TCPS_ESTABLISHED;
  cc_conn_init(tp);
  const so = t.t_socket;
  if (so != 0) {
    soisconnected(so);
    if ((changetype<Socket>(so).so_options & <u32>SO_KEEPALIVE) != 0) tcp_timer_activate(tp, TT_KEEP, <u64>t.t_keepidle * 1_000_000);
    else tcp_timer_activate(tp, TT_KEEP, 0);
  }
  if (t.t_flags & TF_NEEDFIN) {
    t.t_flags &= ~TF_NEEDFIN;
    t.t_state = TCPS_FIN_WAIT_1;
  }
}
