// CUBIC congestion avoidance (RFC 9438), selected per connection with TCP_CONGESTION = 1.
// Slow start, fast recovery and RTO handling are NewReno's (cc_newreno.ts); CUBIC changes
// the window growth in congestion avoidance and the multiplicative decrease (beta 0.7).
//
// W_cubic(t) = C (t - K)^3 + W_max, C = 0.4, K = cbrt(W_max (1 - beta) / C), windows in
// segments, t in seconds since the epoch (the first ACK after a congestion event). The
// Reno-friendly estimate W_est (RFC 9438 4.3) keeps CUBIC at least as fast as Reno.
// Floating point is fine here: it is per ACK, not per byte.

import { ticks } from "../../kmod/kapi";
import { TP } from "./tcp_var";

const C: f64 = 0.4;
const BETA: f64 = 0.7;

export function cubic_conn_init(tp: usize): void {
  const t = TP(tp);
  t.cc_wmax = 0;
  t.cc_epoch = 0;
  t.cc_k_us = 0;
  t.cc_wtcp = 0;
}

export function cubic_ack_received(tp: usize, acked: u32): void {
  const t = TP(tp);
  const mss = <f64>t.t_maxseg;
  const now = ticks();
  if (t.cc_epoch == 0) {
    t.cc_epoch = now;
    const cwndSeg = <f64>t.snd_cwnd / mss;
    const wmax = <f64>t.cc_wmax / mss;
    if (wmax <= cwndSeg) {
      t.cc_k_us = 0;
      t.cc_wmax = t.snd_cwnd;
    } else {
      t.cc_k_us = <u32>(Math.cbrt((wmax - cwndSeg) / C) * 1e6);
    }
    t.cc_wtcp = t.snd_cwnd;
  }
  const rtt = t.t_srtt != 0 ? <f64>t.t_srtt : 100_000.0;
  const tsec = (<f64>(now - t.cc_epoch) + rtt) / 1e6 - <f64>t.cc_k_us / 1e6;
  const target = (C * tsec * tsec * tsec + <f64>t.cc_wmax / mss) * mss;
  // Reno-friendly region (RFC 9438 4.3): W_est grows by alpha = 3 (1 - beta) / (1 + beta) per RTT.
  const alpha = 3.0 * (1.0 - BETA) / (1.0 + BETA);
  t.cc_wtcp += <u32>(alpha * mss * <f64>acked / <f64>t.snd_cwnd);
  const cwnd = <f64>t.snd_cwnd;
  let next = cwnd;
  if (target > cwnd) {
    // RFC 9438 4.4: increase by (target - cwnd) / cwnd per acked SMSS, at most 1.5x per RTT.
    const lim = cwnd * 1.5;
    const tgt = target > lim ? lim : target;
    next = cwnd + (tgt - cwnd) / cwnd * <f64>acked;
  }
  if (<f64>t.cc_wtcp > next) next = <f64>t.cc_wtcp;
  if (next > cwnd) t.snd_cwnd = <u32>next;
}

export function cubic_cong_signal(tp: usize, type: u32): void {
  const t = TP(tp);
  const cwnd = t.snd_cwnd;
  // Fast convergence (RFC 9438 4.7).
  t.cc_wmax = cwnd < t.cc_wmax ? <u32>(<f64>cwnd * (1.0 + BETA) / 2.0) : cwnd;
  t.snd_ssthresh = max<u32>(<u32>(<f64>cwnd * BETA), 2 * t.t_maxseg);
  t.cc_epoch = 0;
}

export function cubic_post_recovery(tp: usize): void {
  TP(tp).cc_epoch = 0;
}
