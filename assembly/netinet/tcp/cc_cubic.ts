// CUBIC congestion avoidance (RFC 9438), selected per connection with TCP_CONGESTION = 1.
// Slow start, fast recovery and RTO handling are NewReno's (cc_newreno.ts); CUBIC changes
// the window growth in congestion avoidance and the multiplicative decrease (beta 0.7).
//
// W_cubic(t) = C (t - K)^3 + W_max, C = 0.4, K = cbrt(W_max (1 - beta) / C), windows in
// segments, t in seconds since the epoch (the first ACK after a congestion event). The
// Reno-friendly estimate W_est (RFC 9438 4.3) keeps CUBIC at least as fast as Reno.
// Floating point is fine here: it is per ACK, not per byte.

import { ticks } from "../../kmod/kapi";
import { zone_alloc, zone_free } from "../../kmod/kapi";
import { TP, CubicData, CUBIC_SIZE, CC_CUBIC, TcpGlobals } from "./tcp_var";

const C: f64 = 0.4;

// The state lives in its own zone item (t_ccdata), so a NewReno connection does not carry it.
@inline function CD(tp: usize): CubicData { return changetype<CubicData>(TP(tp).t_ccdata); }

/**
 * TCP_CONGESTION: switch tp to algorithm algo (CC_*), taking or returning CUBIC's state
 * (zeroed: a new epoch). False, with nothing changed, when the state cannot be had.
 */
export function tcp_cc_set(tp: usize, algo: u32): bool {
  const t = TP(tp);
  if (algo == CC_CUBIC) {
    if (t.t_ccdata == 0) {
      const d = zone_alloc(TcpGlobals.cczone);
      if (d == 0) return false;
      t.t_ccdata = d;
    }
    memory.fill(t.t_ccdata, 0, CUBIC_SIZE);
  } else if (t.t_ccdata != 0) {
    zone_free(TcpGlobals.cczone, t.t_ccdata);
    t.t_ccdata = 0;
  }
  t.t_cc_algo = algo;
  return true;
}
const BETA: f64 = 0.7;

export function cubic_conn_init(tp: usize): void {
  const t = TP(tp);
  const c = CD(tp);
  c.cc_wmax = 0;
  c.cc_epoch = 0;
  c.cc_k_us = 0;
  c.cc_wtcp = 0;
}

export function cubic_ack_received(tp: usize, acked: u32): void {
  const t = TP(tp);
  const c = CD(tp);
  const mss = <f64>t.t_maxseg;
  const now = ticks();
  if (c.cc_epoch == 0) {
    c.cc_epoch = now;
    const cwndSeg = <f64>t.snd_cwnd / mss;
    const wmax = <f64>c.cc_wmax / mss;
    if (wmax <= cwndSeg) {
      c.cc_k_us = 0;
      c.cc_wmax = t.snd_cwnd;
    } else {
      c.cc_k_us = <u32>(Math.cbrt((wmax - cwndSeg) / C) * 1e6);
    }
    c.cc_wtcp = t.snd_cwnd;
  }
  const rtt = t.t_srtt != 0 ? <f64>t.t_srtt : 100_000.0;
  const tsec = (<f64>(now - c.cc_epoch) + rtt) / 1e6 - <f64>c.cc_k_us / 1e6;
  const target = (C * tsec * tsec * tsec + <f64>c.cc_wmax / mss) * mss;
  // Reno-friendly region (RFC 9438 4.3): W_est grows by alpha = 3 (1 - beta) / (1 + beta) per RTT.
  const alpha = 3.0 * (1.0 - BETA) / (1.0 + BETA);
  c.cc_wtcp += <u32>(alpha * mss * <f64>acked / <f64>t.snd_cwnd);
  const cwnd = <f64>t.snd_cwnd;
  let next = cwnd;
  if (target > cwnd) {
    // RFC 9438 4.4: increase by (target - cwnd) / cwnd per acked SMSS, at most 1.5x per RTT.
    const lim = cwnd * 1.5;
    const tgt = target > lim ? lim : target;
    next = cwnd + (tgt - cwnd) / cwnd * <f64>acked;
  }
  if (<f64>c.cc_wtcp > next) next = <f64>c.cc_wtcp;
  if (next > cwnd) t.snd_cwnd = <u32>next;
}

export function cubic_cong_signal(tp: usize, type: u32): void {
  const t = TP(tp);
  const c = CD(tp);
  const cwnd = t.snd_cwnd;
  // Fast convergence (RFC 9438 4.7).
  c.cc_wmax = cwnd < c.cc_wmax ? <u32>(<f64>cwnd * (1.0 + BETA) / 2.0) : cwnd;
  t.snd_ssthresh = max<u32>(<u32>(<f64>cwnd * BETA), 2 * t.t_maxseg);
  c.cc_epoch = 0;
}

export function cubic_post_recovery(tp: usize): void {
  CD(tp).cc_epoch = 0;
}
