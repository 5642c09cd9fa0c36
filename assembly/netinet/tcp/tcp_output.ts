// TCP output (FreeBSD tcp_output.c): decide whether a segment should go now and build it.
//
// What goes: data the send window and cwnd allow (MSS-sized segments; Nagle, RFC 9293
// 3.7.4, unless TCP_NODELAY), SYN and FIN by state, window updates that matter (two
// segments or half the buffer, receiver SWS avoidance RFC 9293 3.8.6.2.2), pending ACKs,
// and a one-byte probe past a zero window when the persist timer says so. Every segment is
// at most t_maxseg bytes of data plus options, except that when the route's interface
// assists segmentation now (af_tsomax, an epair between vnets) new data goes as one large
// segment (TSO, FreeBSD's conditions: no SYN, no SACK retransmission or blocks, no persist
// probe) of whole (t_maxseg - options)-byte pieces, marked CSUM_TSO with ph_tso_segsz. The
// interface, or the software fallback where it cannot, cuts it (ip_offload.ts), so what
// leaves the kernel still matches the MTU. Counters count pieces (MSS units).
//
// The segment is queued (tcp_queue) after every state change it implies is done; it is
// sent when the outermost TCP entry returns (tcp_subr.ts).

import { m_copym, m_freem, m_copydata, ticks } from "../../kmod/kapi";
import { Mbuf, CSUM_TSO, mtod } from "../../sys/mbuf";
import { Sockbuf, SB_AUTOSIZE, so_rcv } from "../../sys/socket";
import { tcp_autosndbuf } from "./tcp_autobuf";
import {
  TP, tp_laddr, tp_faddr, V, TCPSTAT_INC, TCPSTAT_ADD, TCPS_CLOSED, TCPS_LISTEN, TCPS_SYN_SENT, TCPS_SYN_RECEIVED,
  TCPS_ESTABLISHED, TCPS_CLOSE_WAIT, TCPS_FIN_WAIT_1, TCPS_CLOSING, TCPS_LAST_ACK, TCPS_FIN_WAIT_2, TCPS_TIME_WAIT,
  TH_FIN, TH_SYN, TH_RST, TH_PUSH, TH_ACKF, TCP_HDR_MIN, TF_ACKNOW, TF_DELACK, TF_NODELAY, TF_SENTFIN, TF_FORCEDATA,
  TF_REQ_SCALE, TF_RCVD_SCALE, TF_REQ_TSTMP, TF_RCVD_TSTMP, TF_SACK_PERMIT, TF_NOOPT, TF_SACK_REQ, TT_REXMT, TT_PERSIST,
  TT_DELACK, TCPOPT_MAXSEG, TCPOPT_WINDOW, TCPOPT_NOP, TCPOPT_TIMESTAMP, TCPOPT_SACK_PERMITTED, TCPOPT_SACK,
  TCPS_SNDPACK, TCPS_SNDBYTE, TCPS_SNDREXMITPACK, TCPS_SNDREXMITBYTE, TCPS_SNDACKS, TCPS_SNDCTRL, TCPS_SNDWINUP,
  TCPS_SNDPROBE, TCPS_SEGSTIMED, TCPS_SACK_SEND_BLOCKS, TCPS_SACK_REXMITS, TCPS_SACK_REXMIT_BYTES, TF_INRECOVERY,
  TF_TSO, TcpAfOps,
} from "./tcp_var";
import { SEQ_LT, SEQ_GT, SEQ_GEQ } from "./tcp_seq";
import { tcp_queue, tcp_gethdr, tcp_fillhdr, tp_sndbuf, tcp_rcvspace, tcp_ts_now, TCP_HDRSPACE } from "./tcp_subr";
import { tcp_timer_active, tcp_timer_activate, tcp_setpersist, tcp_rto } from "./tcp_timer";
import { cc_after_idle } from "./cc_newreno";
import { tcp_sack_output, tcp_sack_fill, tcp_sack_nblocks, tcp_sack_pipe, tcp_sack_skip } from "./tcp_sack";

/** Flags each state sends (FreeBSD tcp_outflags). */
const outflags = memory.data<u8>([
  <u8>(TH_RST | TH_ACKF), // CLOSED
  0, // LISTEN
  <u8>TH_SYN, // SYN_SENT
  <u8>(TH_SYN | TH_ACKF), // SYN_RECEIVED
  <u8>TH_ACKF, // ESTABLISHED
  <u8>TH_ACKF, // CLOSE_WAIT
  <u8>(TH_FIN | TH_ACKF), // FIN_WAIT_1
  <u8>(TH_FIN | TH_ACKF), // CLOSING
  <u8>(TH_FIN | TH_ACKF), // LAST_ACK
  <u8>TH_ACKF, // FIN_WAIT_2
  <u8>TH_ACKF, // TIME_WAIT
]);

const optbuf = memory.data(40, 4);
const TSOMAX_UNASKED: u32 = 0xffffffff;

/** Send what should be sent on tp now. 0, or -ENOBUFS when no mbuf was left. */
export function tcp_output(tp: usize): i32 {
  const t = TP(tp);
  if (t.t_state == TCPS_CLOSED || t.t_state == TCPS_LISTEN) return 0;
  const sb = changetype<Sockbuf>(tp_sndbuf(tp));
  const so = t.t_socket;
  const now = ticks();
  let idle = t.snd_max == t.snd_una;
  if (idle && t.t_sndtime != 0 && t.t_state >= TCPS_ESTABLISHED && now - t.t_sndtime >= tcp_rto(tp)) cc_after_idle(tp);
  const mss = t.t_maxseg;
  // Largest TCP header + data one segment may carry (0 = no TSO now): asked (a route
  // lookup) at most once per call, and only when there is more than one segment's worth to
  // send, not for every ACK and small write.
  let tsomax: u32 = TSOMAX_UNASKED;
  for (;;) {
    let sendalot = false;
    if (t.t_sackn != 0 && SEQ_LT(t.snd_nxt, t.snd_max) && (t.t_flags & TF_INRECOVERY) == 0) tcp_sack_skip(tp);
    let off = <i32>(t.snd_nxt - t.snd_una);
    let sendwin = min<u32>(t.snd_wnd, t.snd_cwnd);
    let flags = <u32>load<u8>(outflags + t.t_state);
    const sbcc = <i32>sb.sb_cc;
    let sackrxt = false;
    // SACK loss recovery (RFC 6675): retransmit a hole the scoreboard says is lost first.
    let sackoff: i32 = -1;
    let sacklen: i32 = 0;
    if ((t.t_flags & (TF_SACK_PERMIT | TF_INRECOVERY)) == (TF_SACK_PERMIT | TF_INRECOVERY)) {
      const r = tcp_sack_output(tp);
      if (r >= 0) {
        sackoff = <i32>(r & 0xffffffff);
        sacklen = <i32>(r >> 32);
      } else {
        // RFC 6675 4 (3): new data only within cwnd - pipe.
        const pipe = tcp_sack_pipe(tp);
        const avail = t.snd_cwnd > pipe ? t.snd_cwnd - pipe : 0;
        sendwin = min<u32>(t.snd_wnd, <u32>off + avail);
      }
    }
    if (t.t_flags & TF_FORCEDATA) {
      if (sendwin == 0) {
        if (off < sbcc) flags &= ~TH_FIN;
        sendwin = 1;
      } else {
        tcp_timer_activate(tp, TT_PERSIST, 0);
        t.t_rxtshift = 0;
      }
    }
    // A SYN already sent is not sent again, except in SYN_RECEIVED (every segment there is a SYN-ACK).
    if ((flags & TH_SYN) != 0 && t.snd_nxt != t.iss && t.t_state != TCPS_SYN_RECEIVED) flags &= ~TH_SYN;
    let len: i32 = <i32>min<u32>(<u32>sbcc, sendwin) - off;
    if (t.t_state < TCPS_ESTABLISHED) len = 0; // no data on SYNs
    if (so != 0 && (sb.sb_flags & SB_AUTOSIZE) != 0 && t.t_state == TCPS_ESTABLISHED) {
      tcp_autosndbuf(tp, changetype<usize>(sb), min<u32>(t.snd_wnd, t.snd_cwnd));
    }
    if (sackoff >= 0) {
      len = sacklen;
      sackrxt = true;
      sendalot = true; // then the next hole or new data, while pipe allows
    }
    if (len < 0) {
      len = 0;
      if (sendwin == 0) {
        // The window closed: pull back and probe (persist).
        tcp_timer_activate(tp, TT_REXMT, 0);
        t.t_rxtshift = 0;
        t.snd_nxt = t.snd_una;
        off = 0;
        if (!tcp_timer_active(tp, TT_PERSIST)) tcp_setpersist(tp);
      }
    }
    let tso = false;
    if (len > <i32>mss) {
      if (tsomax == TSOMAX_UNASKED) {
        tsomax = t.t_state == TCPS_ESTABLISHED || t.t_state == TCPS_CLOSE_WAIT ?
          call_indirect<u32>(changetype<TcpAfOps>(t.t_af).af_tsomax, tp_faddr(tp)) : 0;
      }
      if (tsomax != 0 && !sackrxt && (t.t_flags & TF_FORCEDATA) == 0 && t.t_segq == 0) tso = true;
      else {
        len = <i32>mss;
        sendalot = true;
      }
    }
    const dataoff = sackrxt ? sackoff : off;
    if (!sackrxt && (flags & TH_FIN) != 0 && SEQ_LT(t.snd_nxt + <u32>len, t.snd_una + <u32>sbcc)) flags &= ~TH_FIN;
    if (sackrxt) flags &= ~TH_FIN;

    // The receive window: what the buffer can take, never shrinking what we offered.
    let recwin: i32 = tcp_rcvspace(tp);
    let rcvhiwat: i32 = so != 0 ? <i32>changetype<Sockbuf>(so_rcv(so)).sb_hiwat : 0;
    if (recwin < rcvhiwat / 4 && recwin < <i32>mss) recwin = 0; // receiver SWS avoidance
    const maxwin = <i32>(65535 << t.rcv_scale);
    if (recwin > maxwin) recwin = maxwin;
    const offered = <i32>(t.rcv_adv - t.rcv_nxt);
    if (recwin < offered) recwin = offered;

    let send = false;
    if (len > 0) {
      if (len >= <i32>mss) send = true;
      else if ((idle || (t.t_flags & TF_NODELAY) != 0) && len + dataoff >= sbcc) send = true;
      else if (t.t_flags & TF_FORCEDATA) send = true;
      else if (t.max_sndwnd > 0 && <u32>len >= t.max_sndwnd >> 1) send = true;
      else if (SEQ_LT(t.snd_nxt, t.snd_max) || sackrxt) send = true;
    }
    let winup = false;
    if (!send && recwin > 0 && t.t_state >= TCPS_ESTABLISHED && so != 0) {
      const adv = recwin - offered;
      if (adv >= <i32>(2 * t.t_rcvmss) || 2 * adv >= rcvhiwat) {
        send = true;
        winup = true;
      }
    }
    if (t.t_flags & TF_ACKNOW) send = true;
    if (flags & (TH_SYN | TH_RST)) send = true;
    if ((flags & TH_FIN) != 0 && ((t.t_flags & TF_SENTFIN) == 0 || t.snd_nxt == t.snd_una)) send = true;
    if (!send) {
      if (sbcc > 0 && !tcp_timer_active(tp, TT_REXMT) && !tcp_timer_active(tp, TT_PERSIST)) {
        t.t_rxtshift = 0;
        tcp_setpersist(tp);
      }
      return 0;
    }

    // Options.
    let optlen: u32 = 0;
    const o = optbuf;
    if ((t.t_flags & TF_NOOPT) == 0) {
      if (flags & TH_SYN) {
        store<u8>(o, TCPOPT_MAXSEG);
        store<u8>(o + 1, 4);
        store<u16>(o + 2, bswap<u16>(<u16>t.t_rcvmss));
        optlen = 4;
        if ((t.t_flags & TF_REQ_SCALE) != 0 && (t.t_state == TCPS_SYN_SENT || (t.t_flags & TF_RCVD_SCALE) != 0)) {
          store<u8>(o + optlen, TCPOPT_NOP);
          store<u8>(o + optlen + 1, TCPOPT_WINDOW);
          store<u8>(o + optlen + 2, 3);
          store<u8>(o + optlen + 3, t.request_r_scale);
          optlen += 4;
        }
        if ((t.t_flags & TF_SACK_REQ) != 0 && (t.t_state == TCPS_SYN_SENT || (t.t_flags & TF_SACK_PERMIT) != 0)) {
          store<u8>(o + optlen, TCPOPT_NOP);
          store<u8>(o + optlen + 1, TCPOPT_NOP);
          store<u8>(o + optlen + 2, TCPOPT_SACK_PERMITTED);
          store<u8>(o + optlen + 3, 2);
          optlen += 4;
        }
      }
      if ((t.t_flags & TF_REQ_TSTMP) != 0 && (t.t_state == TCPS_SYN_SENT || (t.t_flags & TF_RCVD_TSTMP) != 0) && (flags & TH_RST) == 0) {
        store<u8>(o + optlen, TCPOPT_NOP);
        store<u8>(o + optlen + 1, TCPOPT_NOP);
        store<u8>(o + optlen + 2, TCPOPT_TIMESTAMP);
        store<u8>(o + optlen + 3, 10);
        store<u32>(o + optlen + 4, bswap<u32>(tcp_ts_now(tp)));
        store<u32>(o + optlen + 8, bswap<u32>(t.ts_recent));
        optlen += 12;
      }
      // SACK blocks (RFC 2018 4) while out-of-order data is queued.
      if ((t.t_flags & TF_SACK_PERMIT) != 0 && t.t_segq != 0 && (flags & TH_SYN) == 0) {
        const room = (40 - optlen - 4) >> 3;
        const n = tcp_sack_fill(tp, o + optlen + 4, room);
        if (n > 0) {
          store<u8>(o + optlen, TCPOPT_NOP);
          store<u8>(o + optlen + 1, TCPOPT_NOP);
          store<u8>(o + optlen + 2, TCPOPT_SACK);
          store<u8>(o + optlen + 3, <u8>(2 + n * 8));
          optlen += 4 + n * 8;
          TCPSTAT_ADD(TCPS_SACK_SEND_BLOCKS, n);
        }
      }
    }
    const segsz = <i32>mss - <i32>optlen; // data per wire segment
    if (tso) {
      // Whole pieces only, within tsomax, unless this empties the buffer (FreeBSD).
      const max = <i32>tsomax - <i32>(TCP_HDR_MIN + optlen);
      if (len > max) {
        len = max - max % segsz;
        sendalot = true;
      } else if (len % segsz != 0 && dataoff + len < sbcc) {
        len -= len % segsz;
        sendalot = true;
      }
      if (len <= segsz) tso = false;
      if (!sackrxt && (flags & TH_FIN) != 0 && SEQ_LT(t.snd_nxt + <u32>len, t.snd_una + <u32>sbcc)) flags &= ~TH_FIN;
    }
    if (!tso && len + <i32>optlen > <i32>mss) {
      len = <i32>mss - <i32>optlen;
      sendalot = true;
      if (!sackrxt && (flags & TH_FIN) != 0 && SEQ_LT(t.snd_nxt + <u32>len, t.snd_una + <u32>sbcc)) flags &= ~TH_FIN;
    }
    const hdrlen = TCP_HDR_MIN + optlen;

    // Build the segment.
    const m = tcp_gethdr(hdrlen);
    if (m == 0) {
      if (!tcp_timer_active(tp, TT_REXMT) && !tcp_timer_active(tp, TT_PERSIST)) tcp_timer_activate(tp, TT_REXMT, <u64>t.t_rxtcur);
      return -55; // ENOBUFS
    }
    const mm = changetype<Mbuf>(m);
    const th = mtod(m);
    if (len > 0) {
      if (hdrlen + <u32>len <= TCP_HDRSPACE) {
        m_copydata(sb.sb_mb, dataoff, len, th + hdrlen);
        mm.m_len += len;
      } else {
        // The send buffer's clusters are shared by refcount, not copied (FreeBSD m_copym).
        const n = m_copym(sb.sb_mb, dataoff, len);
        if (n == 0) {
          m_freem(m);
          if (!tcp_timer_active(tp, TT_REXMT) && !tcp_timer_active(tp, TT_PERSIST)) tcp_timer_activate(tp, TT_REXMT, <u64>t.t_rxtcur);
          return -55;
        }
        mm.m_next = n;
      }
      mm.ph_len += len;
      // Counted in wire segments, as the pieces will be.
      const pieces: u64 = tso ? <u64>((len + segsz - 1) / segsz) : 1;
      if (tso) {
        mm.ph_csum_flags |= CSUM_TSO;
        mm.ph_tso_segsz = <u16>segsz;
        t.t_flags |= TF_TSO;
      }
      if (t.t_flags & TF_FORCEDATA && len == 1) TCPSTAT_INC(TCPS_SNDPROBE);
      if (sackrxt) {
        TCPSTAT_INC(TCPS_SACK_REXMITS);
        TCPSTAT_ADD(TCPS_SACK_REXMIT_BYTES, <u64>len);
        TCPSTAT_INC(TCPS_SNDREXMITPACK);
        TCPSTAT_ADD(TCPS_SNDREXMITBYTE, <u64>len);
      } else if (SEQ_LT(t.snd_nxt, t.snd_max)) {
        TCPSTAT_ADD(TCPS_SNDREXMITPACK, pieces);
        TCPSTAT_ADD(TCPS_SNDREXMITBYTE, <u64>len);
      } else {
        TCPSTAT_ADD(TCPS_SNDPACK, pieces);
        TCPSTAT_ADD(TCPS_SNDBYTE, <u64>len);
      }
      if (dataoff + len == sbcc) flags |= TH_PUSH;
    } else if (t.t_flags & TF_ACKNOW) TCPSTAT_INC(TCPS_SNDACKS);
    else if (flags & (TH_SYN | TH_FIN | TH_RST)) TCPSTAT_INC(TCPS_SNDCTRL);
    else if (winup) TCPSTAT_INC(TCPS_SNDWINUP);

    // Sequence number: a retransmitted FIN reuses its number; SYNs start at iss.
    if ((flags & TH_FIN) != 0 && (t.t_flags & TF_SENTFIN) != 0 && t.snd_nxt == t.snd_max) t.snd_nxt--;
    if (flags & TH_SYN) t.snd_nxt = t.iss;
    let seq: u32;
    if (sackrxt) seq = t.snd_una + <u32>sackoff;
    else if (len != 0 || (flags & (TH_SYN | TH_FIN)) != 0 || tcp_timer_active(tp, TT_PERSIST)) seq = t.snd_nxt;
    else seq = t.snd_max;
    // A SYN's window is never scaled (RFC 7323 2.2); otherwise the field holds whole units
    // of the scale: round down. Rounding up offered up to a unit the buffer does not have,
    // and re-rounding what was left of such a window moved the edge on by a unit with every
    // ACK (with scale 6, a "zero" window that kept taking data). The right edge the peer
    // computes may fall short of rcv_adv by less than a unit (RFC 7323 2.4); rcv_adv is not
    // lowered, so what the peer was allowed before is still accepted.
    if (flags & TH_SYN) {
      if (recwin > 65535) recwin = 65535;
    } else if (t.rcv_scale != 0) {
      recwin = <i32>(<u32>recwin & ~((<u32>1 << t.rcv_scale) - 1));
    }
    const win = (flags & TH_SYN) != 0 ? <u32>recwin : <u32>recwin >> t.rcv_scale;
    tcp_fillhdr(th, t.t_lport, t.t_fport, seq, (flags & TH_ACKF) != 0 ? t.rcv_nxt : 0, hdrlen, flags, win);
    if (optlen != 0) memory.copy(th + TCP_HDR_MIN, o, optlen);

    // State changes the segment implies, before it goes.
    if (sackrxt) {
      const end = seq + <u32>len;
      if (SEQ_GT(end, t.t_sack_rxt)) t.t_sack_rxt = end;
      if (!tcp_timer_active(tp, TT_REXMT)) tcp_timer_activate(tp, TT_REXMT, <u64>t.t_rxtcur);
    } else if ((t.t_flags & TF_FORCEDATA) == 0 || !tcp_timer_active(tp, TT_PERSIST)) {
      const startseq = t.snd_nxt;
      if (flags & TH_SYN) t.snd_nxt++;
      if (flags & TH_FIN) {
        t.snd_nxt++;
        t.t_flags |= TF_SENTFIN;
      }
      t.snd_nxt += <u32>len;
      if (SEQ_GT(t.snd_nxt, t.snd_max)) {
        t.snd_max = t.snd_nxt;
        if (t.t_rtttime == 0 && (t.t_flags & TF_RCVD_TSTMP) == 0) {
          t.t_rtttime = <u32>now;
          t.t_rtseq = startseq;
          TCPSTAT_INC(TCPS_SEGSTIMED);
        }
      }
      if (!tcp_timer_active(tp, TT_REXMT) && t.snd_nxt != t.snd_una) {
        if (tcp_timer_active(tp, TT_PERSIST)) {
          tcp_timer_activate(tp, TT_PERSIST, 0);
          t.t_rxtshift = 0;
        }
        tcp_timer_activate(tp, TT_REXMT, <u64>t.t_rxtcur);
      }
    } else if (SEQ_GT(t.snd_nxt + <u32>len, t.snd_max)) {
      t.snd_max = t.snd_nxt + <u32>len;
    }
    if (len > 0) t.t_sndtime = now;
    if (recwin > 0 && SEQ_GT(t.rcv_nxt + <u32>recwin, t.rcv_adv)) t.rcv_adv = t.rcv_nxt + <u32>recwin;
    t.last_ack_sent = t.rcv_nxt;
    t.t_flags &= ~(TF_ACKNOW | TF_DELACK);
    t.t_delack_segs = 0;
    tcp_timer_activate(tp, TT_DELACK, 0);
    idle = false;
    tcp_queue(m, t.t_af, tp_laddr(tp), tp_faddr(tp));
    if (!sendalot) break;
  }
  return 0;
}

export { SEQ_GEQ, V, TCPS_SYN_RECEIVED, TCPS_CLOSE_WAIT, TCPS_FIN_WAIT_1, TCPS_CLOSING, TCPS_LAST_ACK, TCPS_FIN_WAIT_2, TCPS_TIME_WAIT, TH_PUSH, TCPS_ESTABLISHED, tcp_sack_nblocks };
