// Congestion control (FreeBSD cc(4) hooks): NewReno (RFC 5681, RFC 6582) here, CUBIC
// (RFC 9438) in cc_cubic.ts, chosen per connection by t_cc_algo (TCP_CONGESTION).
//
// Hooks: cc_conn_init (initial window, RFC 6928's 10 segments as FreeBSD), cc_ack_received
// (growth: slow start with appropriate byte counting L = 2 SMSS, RFC 3465; congestion
// avoidance one SMSS per cwnd of bytes acknowledged), cc_cong_signal (three duplicate ACKs
// or an RTO), cc_post_recovery (leaving fast recovery), cc_after_idle (RFC 5681 4.1 restart
// window).

import { ticks } from "../../kmod/kapi";
import { TP, TF_INRECOVERY, TF_CONGRECOVERY, TF_TSO, CC_CUBIC } from "./tcp_var";
import { cubic_ack_received, cubic_cong_signal, cubic_post_recovery, cubic_conn_init } from "./cc_cubic";

export const CC_ACK: u32 = 1;
export const CC_DUPACK: u32 = 2; // three duplicate ACKs: fast retransmit
export const CC_RTO: u32 = 3;
export const CC_SACK_LOSS: u32 = 4; // RFC 6675 loss detected by SACK

@inline export function tcp_flight(tp: usize): u32 {
  return TP(tp).snd_max - TP(tp).snd_una;
}

/** RFC 6928 / FreeBSD net.inet.tcp.initcwnd_segments = 10. */
export function cc_iw(tp: usize): u32 {
  const mss = TP(tp).t_maxseg;
  return min<u32>(10 * mss, max<u32>(2 * mss, 14600));
}

export function cc_conn_init(tp: usize): void {
  const t = TP(tp);
  t.snd_cwnd = cc_iw(tp);
  t.snd_ssthresh = 0x3fffffff;
  t.t_bytes_acked = 0;
  if (t.t_cc_algo == CC_CUBIC) cubic_conn_init(tp);
}

export function cc_ack_received(tp: usize, acked: u32): void {
  const t = TP(tp);
  if (t.t_flags & TF_INRECOVERY) return;
  const mss = t.t_maxseg;
  // Grow only a window that limits sending (RFC 7661, FreeBSD's CCF_CWND_LIMITED, Linux's
  // tcp_is_cwnd_limited): a connection held back by its send buffer or its application
  // would otherwise raise cwnd without bound and later burst far past what the path showed
  // it can take. Slow start may still double what is in flight.
  const flight = tcp_flight(tp); // before this ACK: snd_una has not moved yet
  const slowStart = t.snd_cwnd <= t.snd_ssthresh;
  if (slowStart ? <u64>flight * 2 < <u64>t.snd_cwnd : <u64>flight + mss < <u64>t.snd_cwnd) return;
  if (slowStart) {
    // Slow start, ABC with L = 2 SMSS (RFC 3465 2.2) per ACK. With large segments (TSO) the
    // peer ACKs each one at once and an ACK covers many SMSS sent as whole pieces: count
    // one SMSS per SMSS acknowledged, as L = 2 does for two per delayed ACK.
    t.snd_cwnd += (t.t_flags & TF_TSO) != 0 ? acked : min<u32>(acked, 2 * mss);
  } else if (t.t_cc_algo == CC_CUBIC) {
    cubic_ack_received(tp, acked);
  } else {
    // Congestion avoidance: one SMSS per window of bytes acknowledged (RFC 5681 3.1).
    t.t_bytes_acked += acked;
    if (t.t_bytes_acked >= t.snd_cwnd) {
      t.t_bytes_acked -= t.snd_cwnd;
      t.snd_cwnd += mss;
    }
  }
  if (t.snd_cwnd > 0x3fffffff) t.snd_cwnd = 0x3fffffff;
}

export function cc_cong_signal(tp: usize, type: u32): void {
  const t = TP(tp);
  const mss = t.t_maxseg;
  const flight = tcp_flight(tp);
  if (type == CC_RTO) {
    // RFC 5681 (4): ssthresh = max(FlightSize / 2, 2 SMSS); cwnd = loss window = 1 SMSS.
    if (t.t_cc_algo == CC_CUBIC) cubic_cong_signal(tp, type);
    else t.snd_ssthresh = max<u32>(flight >> 1, 2 * mss);
    t.snd_cwnd = mss;
    t.t_bytes_acked = 0;
    t.t_flags &= ~TF_INRECOVERY;
    t.t_flags |= TF_CONGRECOVERY;
    return;
  }
  // Fast retransmit (RFC 5681 3.2 (2), RFC 6582 3.2 (3)).
  if (t.t_cc_algo == CC_CUBIC) cubic_cong_signal(tp, type);
  else t.snd_ssthresh = max<u32>(flight >> 1, 2 * mss);
  t.snd_recover = t.snd_max;
  t.t_flags |= TF_INRECOVERY;
  t.t_bytes_acked = 0;
}

/** Full ACK of the recovery window (RFC 6582 3.2 (5)): cwnd = min(ssthresh, FlightSize + SMSS). */
export function cc_post_recovery(tp: usize): void {
  const t = TP(tp);
  const flight = tcp_flight(tp);
  if (t.t_cc_algo == CC_CUBIC) cubic_post_recovery(tp);
  t.snd_cwnd = flight < t.snd_ssthresh ? flight + t.t_maxseg : t.snd_ssthresh;
  t.t_flags &= ~TF_INRECOVERY;
}

/** RFC 5681 4.1: after an idle period longer than an RTO, restart from the initial window. */
export function cc_after_idle(tp: usize): void {
  const t = TP(tp);
  const rw = cc_iw(tp);
  if (t.snd_cwnd > rw) t.snd_cwnd = rw;
  if (t.t_cc_algo == CC_CUBIC) cubic_post_recovery(tp); // a new epoch
}

export { ticks };
