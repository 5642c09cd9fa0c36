// TCP timers (FreeBSD tcp_timer.c): retransmission (RFC 6298), persist (zero-window
// probes), keepalive / connection establishment, 2MSL (TIME_WAIT, and FIN_WAIT_2 of a
// closed socket) and delayed ACK.
//
// One callout per tcpcb serves all five. Each timer is a deadline in the tcpcb (µs, 0 =
// off; four of them as 32-bit offsets, below); the callout is armed for the earliest, and
// its own deadline (callout_time) says which, so the tcpcb keeps no copy. Arming a later
// deadline or stopping a timer does not touch the callout: it fires, finds nothing due,
// and re-arms for what is left. So the per-segment work (restart the retransmit timer on
// every ACK) is a store and a look at the callout.

import { callout_reset_at, callout_stop, callout_pending, callout_time, ticks, ETIMEDOUT } from "../../kmod/kapi";
import { Socket, SO_KEEPALIVE } from "../../sys/socket";
import {
  TP, Tcpcb, tp_callout, tp_laddr, tp_faddr, TT_REXMT, TT_PERSIST, TT_KEEP, TT_2MSL, TT_DELACK, TT_COUNT,
  TCPS_SYN_SENT, TCPS_ESTABLISHED, TCPS_CLOSING, TCPS_TIME_WAIT, TCPS_FIN_WAIT_2, TCP_MAXRXTSHIFT, TCPTV_MIN,
  TCPTV_REXMTMAX, TCPTV_RTOBASE, TCPTV_PERSMIN, TCPTV_PERSMAX, TCPTV_FINWAIT2, TCP_MAXPERSISTIDLE, TF_ACKNOW,
  TF_FORCEDATA, TF_INRECOVERY, TH_ACKF, TCPSTAT_INC, TCPS_TIMEOUTDROP, TCPS_REXMTTIMEO, TCPS_PERSISTTIMEO,
  TCPS_KEEPTIMEO, TCPS_KEEPPROBE, TCPS_KEEPDROPS, TCPS_PERSISTDROP, TCPS_DELACK, TCPS_FINWAIT2_DROPS,
} from "./tcp_var";
import { tcp_enter, tcp_exit, tcp_close, tcp_drop, tcp_respond, tcp_rcvwin_adv } from "./tcp_subr";
import { tcp_output } from "./tcp_output";
import { cc_cong_signal, CC_RTO } from "./cc_newreno";
import { tcp_sack_reset } from "./tcp_sack";

/** tcp_backoff (FreeBSD): RTO multipliers by retransmission count. */
const backoff = memory.data<u16>([1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 512, 512, 512]);
@inline function backoffOf(shift: u32): u64 {
  return <u64>load<u16>(backoff + (<usize>min<u32>(shift, TCP_MAXRXTSHIFT) << 1));
}

/** RTO from the RTT estimate (RFC 6298 2.2-2.3), floor TCPTV_MIN, ceiling TCPTV_REXMTMAX. */
export function tcp_rto(tp: usize): u64 {
  const t = TP(tp);
  if (t.t_srtt == 0) return TCPTV_RTOBASE;
  let rto = <u64>t.t_srtt + max<u64>(1000, <u64>t.t_rttvar << 2); // G = 1 ms
  if (rto < TCPTV_MIN) rto = TCPTV_MIN;
  if (rto > TCPTV_REXMTMAX) rto = TCPTV_REXMTMAX;
  return rto;
}

/** An RTT sample of rtt µs (RFC 6298 2.2-2.3); the backoff ends (5.7 after a new sample). */
export function tcp_xmit_timer(tp: usize, rtt: u64): void {
  const t = TP(tp);
  if (rtt == 0) rtt = 1;
  if (rtt > 0xffffffff) rtt = 0xffffffff;
  const r = <u32>rtt;
  if (t.t_srtt == 0) {
    t.t_srtt = r;
    t.t_rttvar = r >> 1;
  } else {
    const delta = <i64>r - <i64>t.t_srtt;
    const ad = delta < 0 ? -delta : delta;
    t.t_rttvar = <u32>(<i64>t.t_rttvar + ((ad - <i64>t.t_rttvar) >> 2)); // beta = 1/4
    t.t_srtt = <u32>(<i64>t.t_srtt + (delta >> 3)); // alpha = 1/8
    if (t.t_srtt == 0) t.t_srtt = 1;
  }
  t.t_rxtshift = 0;
  t.t_rxtcur = <u32>tcp_rto(tp);
}

// Where the deadlines live. Keepalive's may be hours away, so it is absolute (t_tkeep);
// the other four are at most minutes away and are kept as u32 offsets + 1 from t_tbase,
// which moves to now whenever an offset would not fit (rebase), so each stays exact.
@inline function shortp(tp: usize, which: u32): usize {
  // TT_REXMT 0, TT_PERSIST 1, TT_2MSL 3, TT_DELACK 4 -> slots 0, 1, 2, 3
  return tp + offsetof<Tcpcb>("t_trexmt") + (<usize>(which < TT_KEEP ? which : which - 1) << 2);
}

/** Deadline of timer which (µs), 0 = off. */
function deadline(tp: usize, which: u32): u64 {
  if (which == TT_KEEP) return TP(tp).t_tkeep;
  const off = load<u32>(shortp(tp, which));
  return off == 0 ? 0 : TP(tp).t_tbase + <u64>off - 1;
}

function setDeadline(tp: usize, which: u32, when: u64): void {
  const t = TP(tp);
  if (which == TT_KEEP) {
    t.t_tkeep = when;
    return;
  }
  if (when == 0) {
    store<u32>(shortp(tp, which), 0);
    return;
  }
  if (when < t.t_tbase || when - t.t_tbase >= 0xffffffff) rebase(tp, when);
  store<u32>(shortp(tp, which), <u32>(when - t.t_tbase) + 1);
}

/** Move t_tbase to now (or to `when` if that is earlier), keeping every short deadline. */
function rebase(tp: usize, when: u64): void {
  const t = TP(tp);
  let nb = ticks();
  if (when < nb) nb = when;
  for (let i: u32 = 0; i < TT_COUNT; i++) {
    if (i == TT_KEEP) continue;
    const d = deadline(tp, i);
    if (d == 0) continue;
    // A deadline already past stays due: run at once, as it would have been.
    const off = d <= nb ? <u64>1 : d - nb + 1;
    store<u32>(shortp(tp, i), off > 0xffffffff ? 0xffffffff : <u32>off);
  }
  t.t_tbase = nb;
}

/** The deadline the callout is armed for, 0 = not armed. */
@inline function armed(tp: usize): u64 {
  return callout_pending(tp_callout(tp)) ? callout_time(tp_callout(tp)) : 0;
}

@inline export function tcp_timer_active(tp: usize, which: u32): bool {
  return which == TT_KEEP ? TP(tp).t_tkeep != 0 : load<u32>(shortp(tp, which)) != 0;
}

/** Start timer `which` to fire delta µs from now (0 = stop it). */
export function tcp_timer_activate(tp: usize, which: u32, delta: u64): void {
  if (delta == 0) {
    setDeadline(tp, which, 0);
    return;
  }
  tcp_timer_activate_at(tp, which, ticks() + delta);
}

export function tcp_timer_activate_at(tp: usize, which: u32, when: u64): void {
  setDeadline(tp, which, when);
  const a = armed(tp);
  if (a == 0 || when < a) callout_reset_at(tp_callout(tp), when, tcp_timer_fn.index, tp);
}

/**
 * Stop every timer but `which`, started to fire delta µs from now, and arm the callout for
 * exactly that. For TIME_WAIT: the callout would otherwise stay armed for the retransmit
 * or keepalive deadline it had, fire there for nothing and re-arm, and with thousands of
 * connections in TIME_WAIT that lap is most of the work of expiring them.
 */
export function tcp_timer_only(tp: usize, which: u32, delta: u64): void {
  const t = TP(tp);
  t.t_tkeep = 0;
  store<u64>(tp + offsetof<Tcpcb>("t_trexmt"), 0);
  store<u64>(tp + offsetof<Tcpcb>("t_t2msl"), 0);
  const when = ticks() + delta;
  setDeadline(tp, which, when);
  if (armed(tp) != when) callout_reset_at(tp_callout(tp), when, tcp_timer_fn.index, tp);
}

/** Stop every timer (the callout too). */
export function tcp_timer_stopall(tp: usize): void {
  const t = TP(tp);
  t.t_tkeep = 0;
  store<u64>(tp + offsetof<Tcpcb>("t_trexmt"), 0);
  store<u64>(tp + offsetof<Tcpcb>("t_t2msl"), 0);
  callout_stop(tp_callout(tp));
}

function rearm(tp: usize): void {
  let earliest: u64 = 0;
  for (let i: u32 = 0; i < TT_COUNT; i++) {
    const d = deadline(tp, i);
    if (d != 0 && (earliest == 0 || d < earliest)) earliest = d;
  }
  const a = armed(tp);
  if (earliest == 0) {
    if (a != 0) callout_stop(tp_callout(tp));
    return;
  }
  if (a == 0 || earliest < a) callout_reset_at(tp_callout(tp), earliest, tcp_timer_fn.index, tp);
}

/** The callout: run every timer that is due, in order, then re-arm. */
export function tcp_timer_fn(tp: usize): void {
  tcp_enter();
  const now = ticks();
  let gone = false;
  for (let i: u32 = 0; i < TT_COUNT && !gone; i++) {
    const d = deadline(tp, i);
    if (d == 0 || d > now) continue;
    setDeadline(tp, i, 0);
    if (i == TT_DELACK) gone = timer_delack(tp);
    else if (i == TT_REXMT) gone = timer_rexmt(tp);
    else if (i == TT_PERSIST) gone = timer_persist(tp);
    else if (i == TT_KEEP) gone = timer_keep(tp);
    else gone = timer_2msl(tp);
  }
  if (!gone) rearm(tp);
  tcp_exit();
}

function timer_delack(tp: usize): bool {
  TP(tp).t_flags |= TF_ACKNOW;
  TCPSTAT_INC(TCPS_DELACK);
  tcp_output(tp);
  return false;
}

/** RFC 6298 5.4-5.7 and RFC 5681 3.1: back off, retransmit from snd_una, collapse cwnd. */
function timer_rexmt(tp: usize): bool {
  const t = TP(tp);
  if (++t.t_rxtshift > TCP_MAXRXTSHIFT) {
    t.t_rxtshift = TCP_MAXRXTSHIFT;
    TCPSTAT_INC(TCPS_TIMEOUTDROP);
    tcp_drop(tp, t.t_softerror != 0 ? t.t_softerror : ETIMEDOUT);
    return true;
  }
  TCPSTAT_INC(TCPS_REXMTTIMEO);
  let rto = (t.t_state == TCPS_SYN_SENT && t.t_srtt == 0 ? TCPTV_RTOBASE : tcp_rto(tp)) * backoffOf(t.t_rxtshift);
  if (rto > TCPTV_REXMTMAX) rto = TCPTV_REXMTMAX;
  t.t_rxtcur = <u32>rto;
  t.snd_nxt = t.snd_una;
  t.t_rtttime = 0; // Karn: never time a retransmitted segment
  t.snd_recover = t.snd_max;
  t.t_dupacks = 0;
  cc_cong_signal(tp, CC_RTO);
  tcp_sack_reset(tp);
  tcp_output(tp);
  return false;
}

/** tcp_setpersist: the next zero-window probe, backed off within [5 s, 60 s]. */
export function tcp_setpersist(tp: usize): void {
  const t = TP(tp);
  let tt = tcp_rto(tp) * backoffOf(t.t_rxtshift);
  if (tt < TCPTV_PERSMIN) tt = TCPTV_PERSMIN;
  if (tt > TCPTV_PERSMAX) tt = TCPTV_PERSMAX;
  tcp_timer_activate(tp, TT_PERSIST, tt);
  if (t.t_rxtshift < TCP_MAXRXTSHIFT) t.t_rxtshift++;
}

function timer_persist(tp: usize): bool {
  const t = TP(tp);
  TCPSTAT_INC(TCPS_PERSISTTIMEO);
  // A peer that keeps its window shut and answers nothing for too long is dropped.
  if (t.t_rxtshift >= TCP_MAXRXTSHIFT && ticks() - t.t_rcvtime >= TCP_MAXPERSISTIDLE) {
    TCPSTAT_INC(TCPS_PERSISTDROP);
    tcp_drop(tp, ETIMEDOUT);
    return true;
  }
  tcp_setpersist(tp);
  t.t_flags |= TF_FORCEDATA;
  tcp_output(tp);
  t.t_flags &= ~TF_FORCEDATA;
  return false;
}

/** Connection-establishment timeout, or keepalive (RFC 9293 3.8.4 / RFC 1122 4.2.3.6). */
function timer_keep(tp: usize): bool {
  const t = TP(tp);
  TCPSTAT_INC(TCPS_KEEPTIMEO);
  if (t.t_state < TCPS_ESTABLISHED) {
    TCPSTAT_INC(TCPS_KEEPDROPS);
    tcp_drop(tp, ETIMEDOUT);
    return true;
  }
  const so = t.t_socket;
  if (so == 0 || (changetype<Socket>(so).so_options & <u32>SO_KEEPALIVE) == 0 || t.t_state > TCPS_CLOSING) return false;
  const now = ticks();
  const idle = now - t.t_rcvtime;
  const kidle = <u64>t.t_keepidle * 1_000_000;
  const kintvl = <u64>t.t_keepintvl * 1_000_000;
  if (idle < kidle) {
    // Heard from the peer since: wait for the rest of the idle time.
    t.t_keepsent = 0;
    tcp_timer_activate_at(tp, TT_KEEP, t.t_rcvtime + kidle);
    return false;
  }
  if (idle >= kidle + <u64>t.t_keepcnt * kintvl) {
    TCPSTAT_INC(TCPS_KEEPDROPS);
    tcp_drop(tp, ETIMEDOUT);
    return true;
  }
  // Probe: an old sequence number makes the peer answer with an ACK (RFC 1122 4.2.3.6).
  TCPSTAT_INC(TCPS_KEEPPROBE);
  t.t_keepsent++;
  tcp_respond(tp, t.t_af, tp_laddr(tp), tp_faddr(tp), t.t_lport, t.t_fport, t.snd_una - 1, t.rcv_nxt, TH_ACKF, tcp_rcvwin_adv(tp));
  tcp_timer_activate(tp, TT_KEEP, kintvl);
  return false;
}

function timer_2msl(tp: usize): bool {
  const t = TP(tp);
  if (t.t_state == TCPS_FIN_WAIT_2 && t.t_socket == 0) {
    const idle = ticks() - t.t_rcvtime;
    if (idle < TCPTV_FINWAIT2) {
      tcp_timer_activate_at(tp, TT_2MSL, t.t_rcvtime + TCPTV_FINWAIT2);
      return false;
    }
    TCPSTAT_INC(TCPS_FINWAIT2_DROPS);
  }
  tcp_close(tp);
  return true;
}

export { TF_INRECOVERY, TCPS_TIME_WAIT, Tcpcb };
