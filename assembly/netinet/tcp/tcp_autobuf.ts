// Socket buffer autotuning (FreeBSD's autosndbuf in tcp_output.c and tcp_autorcvbuf in
// tcp_input.c): a connection's throughput is at most its buffers per RTT, so a fixed 32 KiB
// send buffer over a 40 ms path caps it at 6.5 Mbit/s. Buffers that still have SB_AUTOSIZE
// (set for stream sockets, cleared by SO_SNDBUF / SO_RCVBUF) grow toward
// net.inet.tcp.sendbuf_max / recvbuf_max while the connection fills them. They never shrink:
// the memory behind them is only what is queued (mbufs), so a big idle buffer costs nothing.
//
// The receive side measures bytes per RTT. Its state lives in room the socket already has,
// not in the tcpcb (every idle connection pays for each tcpcb byte): the receive buffer's
// sb_spare holds the start of the measurement in 1,024 µs units (16 bits: 67 s, far more
// than an RTT; 0 = none started) and the socket's so_proto_spare the bytes received since.

import { ticks, sbreserve } from "../../kmod/kapi";
import { Socket, Sockbuf, SB_AUTOSIZE, SB_MAX_ADJ, so_rcv } from "../../sys/socket";
import { TP, V, TCP_SENDBUF_INC } from "./tcp_var";

/**
 * Send side, from tcp_output with sb the socket's send buffer and sendwin what the peer's
 * window and cwnd allow: when the buffer is nearly full (7/8), the peer's window could take
 * more than it holds, and what is not yet sent fits the window, so the application rather
 * than the network is what limits, add sendbuf_inc (up to sendbuf_max).
 */
export function tcp_autosndbuf(tp: usize, sb: usize, sendwin: u32): void {
  const vv = V();
  if (vv.sendbuf_auto == 0) return;
  const t = TP(tp);
  const s = changetype<Sockbuf>(sb);
  const hiwat = s.sb_hiwat;
  const cc = s.sb_cc;
  const max = min<u32>(vv.sendbuf_max, SB_MAX_ADJ);
  if (hiwat >= max || cc < hiwat / 8 * 7 || t.snd_wnd / 4 * 5 < hiwat) return;
  const inflight = t.snd_nxt - t.snd_una;
  if (cc > inflight && sendwin < cc - inflight) return;
  if (!sbreserve(sb, min<u32>(hiwat + TCP_SENDBUF_INC, max))) s.sb_flags &= ~SB_AUTOSIZE;
}

/**
 * Receive side, from tcp_input for tlen bytes of in-order data queued on so: once per RTT
 * (smoothed; none before a sample), if more than 3/4 of half the buffer arrived in it and
 * the reader keeps up, the buffer may be what limits the sender: grow it by half (up to
 * recvbuf_max). The larger window goes out with the next ACK.
 */
export function tcp_autorcvbuf(tp: usize, so: usize, tlen: u32): void {
  const rb = so_rcv(so);
  const r = changetype<Sockbuf>(rb);
  if ((r.sb_flags & SB_AUTOSIZE) == 0) return;
  const vv = V();
  if (vv.recvbuf_auto == 0) return;
  const s = changetype<Socket>(so);
  let now = <u16>(ticks() >> 10);
  if (now == 0) now = 1;
  if (r.sb_spare == 0) {
    r.sb_spare = now;
    s.so_proto_spare = tlen;
    return;
  }
  const srtt = TP(tp).t_srtt;
  const elapsed = <u32>(<u16>(now - r.sb_spare)) << 10;
  if (srtt == 0 || elapsed < srtt) {
    s.so_proto_spare += tlen;
    return;
  }
  const hiwat = r.sb_hiwat;
  const max = min<u32>(vv.recvbuf_max, SB_MAX_ADJ);
  // Unlike FreeBSD, only while the application keeps up (at most half the buffer unread):
  // a reader that stopped gains nothing from a bigger buffer but more unread data (Linux
  // measures what the reader copied for the same reason).
  if (<u32>s.so_proto_spare > hiwat / 2 / 4 * 3 && hiwat < max && r.sb_cc <= hiwat / 2) {
    if (!sbreserve(rb, min<u32>(hiwat + hiwat / 2, max))) r.sb_flags &= ~SB_AUTOSIZE;
  }
  r.sb_spare = now;
  s.so_proto_spare = tlen;
}
