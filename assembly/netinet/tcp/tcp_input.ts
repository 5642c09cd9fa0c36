// TCP input (FreeBSD tcp_input.c, RFC 9293 3.10.7 "SEGMENT ARRIVES").
//
// tcp_input(m, ops, src, dst) is called by the family glue (tcp_inet.ts) with m starting at
// the TCP header, trimmed to the segment, its checksum already verified, and the addresses
// as 16-byte values. In order:
//   1. header checks: data offset (tcps_rcvbadoff), options whose lengths lie
//      (tcps_rcvbadopt), SYN+FIN (tcps_badsyn): dropped and counted before any lookup, so a
//      malformed segment cannot touch a connection;
//   2. lookup: the exact 4-tuple, else a listener; nothing (or CLOSED): RST (RFC 9293
//      3.10.7.1);
//   3. LISTEN: a SYN goes to the syncache (tcp_syncache.ts), and the ACK that completes
//      the handshake makes the connection (sonewconn; refused beyond 3/2 of the backlog:
//      tcps_listendrop) and goes on below in SYN_RECEIVED (tcp_input_syn.ts);
//   4. SYN_SENT (3.10.7.3), including simultaneous open (tcp_input_syn.ts);
//   5. every other state: header prediction for in-order bulk data and pure ACKs, PAWS
//      (RFC 7323 5), RST with RFC 5961 3 rules (exact sequence resets, in-window
//      challenge ACK), SYN in a synchronized state (RFC 5961 4: challenge ACK), trimming to
//      the window, ACK acceptability (RFC 5961 5), RTT, congestion control and fast
//      recovery (RFC 5681, RFC 6582), the send window, data (in order, or the reassembly
//      queue: tcp_reass.ts), FIN and the state transitions; TIME_WAIT last.

import {
  m_freem, m_adj, m_pullup, ticks, socantrcvmore, sorwakeup, sowwakeup, soisdisconnected,
  sbappendstream, sbdrop, ECONNREFUSED, ECONNRESET,
} from "../../kmod/kapi";
import { Mbuf, M_PKTHDR, M_BCAST, M_MCAST, mtod } from "../../sys/mbuf";
import { Socket, Sockbuf, SS_NOFDREF, so_rcv } from "../../sys/socket";
import {
  TcpOpt, TP, V, TCPSTAT_INC, TCPSTAT_ADD, tp_laddr, tp_faddr, TcpAfOps, TH_FIN, TH_SYN, TH_RST, TH_PUSH, TH_ACKF,
  TH_URG, TCP_HDR_MIN, th_sport, th_dport, th_seq, th_ack, th_off, th_flags, th_win, TCPOPT_EOL, TCPOPT_NOP,
  TCPOPT_MAXSEG, TCPOPT_WINDOW, TCPOPT_SACK_PERMITTED, TCPOPT_TIMESTAMP, TCPOPT_SACK, TOF_MSS, TOF_SCALE, TOF_SACKPERM,
  TOF_TS, TOF_SACK, TCP_MAX_WINSHIFT, TCPS_CLOSED, TCPS_LISTEN, TCPS_SYN_SENT, TCPS_SYN_RECEIVED, TCPS_ESTABLISHED,
  TCPS_CLOSE_WAIT, TCPS_FIN_WAIT_1, TCPS_CLOSING, TCPS_LAST_ACK, TCPS_FIN_WAIT_2, TCPS_TIME_WAIT, TCPS_HAVERCVDFIN,
  TF_ACKNOW, TF_DELACK, TF_NEEDOUTPUT, TF_SENTFIN, TF_RCVD_TSTMP, TF_SACK_PERMIT, TF_INRECOVERY,
  TF_PASSIVE, TF_CONGRECOVERY, TT_REXMT, TT_PERSIST, TT_2MSL, TT_DELACK, TCPTV_MSL, TCPTV_DELACK,
  TCPTV_FINWAIT2, TCPS_RCVTOTAL, TCPS_RCVBADOFF, TCPS_RCVBADOPT, TCPS_BADSYN, TCPS_ACCEPTS, TCPS_CONNECTS,
  TCPS_RCVPACK, TCPS_RCVBYTE, TCPS_RCVDUPPACK, TCPS_RCVDUPBYTE, TCPS_RCVPARTDUPPACK, TCPS_RCVPARTDUPBYTE,
  TCPS_RCVPACKAFTERWIN, TCPS_RCVBYTEAFTERWIN, TCPS_RCVAFTERCLOSE, TCPS_RCVWINPROBE, TCPS_RCVDUPACK, TCPS_RCVACKTOOMUCH,
  TCPS_RCVACKPACK, TCPS_RCVACKBYTE, TCPS_RCVWINUPD, TCPS_PAWSDROP, TCPS_PREDACK, TCPS_PREDDAT, TCPS_BADRST,
  TCPS_RTTUPDATED, TCPS_RCVMEMDROP, TCPS_TW_RECYCLES, TCPS_CONNDROPS, TCPS_SACK_RECOVERY_EPISODE,
} from "./tcp_var";
import { SEQ_LT, SEQ_LEQ, SEQ_GT, SEQ_GEQ, SEQ_MAX } from "./tcp_seq";
import { tcp_autorcvbuf } from "./tcp_autobuf";
import {
  tcp_enter, tcp_exit, tcp_lookup, tcp_lookup_listen, tcp_respond, tcp_rst_ok, tcp_close, tcp_drop, tcp_send_challenge_ack,
  tp_sndbuf, tcp_rcvspace, tcp_ts_now, addr_any,
} from "./tcp_subr";
import { tcp_output } from "./tcp_output";
import { tcp_timer_active, tcp_timer_activate, tcp_timer_only, tcp_xmit_timer } from "./tcp_timer";
import { cc_ack_received, cc_cong_signal, cc_post_recovery, CC_DUPACK } from "./cc_newreno";
import { tcp_sack_doack, tcp_sack_trim, tcp_sack_force_first } from "./tcp_sack";
import { tcp_listen_input, tcp_synsent_input, tcp_established } from "./tcp_input_syn";
import { syncache_expand } from "./tcp_syncache";
import { tcp_reass } from "./tcp_reass";

export const to = changetype<TcpOpt>(memory.data(offsetof<TcpOpt>(), 8));

/**
 * tcp_dooptions: parse cnt bytes of options at cp into `to`. False when an option's length
 * lies (shorter than 2, past the end, or wrong for its kind).
 */
function tcp_dooptions(cp: usize, cnt: u32, syn: bool): bool {
  to.to_flags = 0;
  let i: u32 = 0;
  while (i < cnt) {
    const opt = load<u8>(cp + i);
    if (opt == TCPOPT_EOL) break;
    if (opt == TCPOPT_NOP) {
      i++;
      continue;
    }
    if (i + 1 >= cnt) return false;
    const optlen = <u32>load<u8>(cp + i + 1);
    if (optlen < 2 || i + optlen > cnt) return false;
    const p = cp + i;
    if (opt == TCPOPT_MAXSEG) {
      if (optlen != 4) return false;
      if (syn) {
        to.to_flags |= TOF_MSS;
        to.to_mss = <u32>bswap<u16>(load<u16>(p + 2));
      }
    } else if (opt == TCPOPT_WINDOW) {
      if (optlen != 3) return false;
      if (syn) {
        to.to_flags |= TOF_SCALE;
        to.to_wscale = min<u32>(<u32>load<u8>(p + 2), TCP_MAX_WINSHIFT);
      }
    } else if (opt == TCPOPT_TIMESTAMP) {
      if (optlen != 10) return false;
      to.to_flags |= TOF_TS;
      to.to_tsval = bswap<u32>(load<u32>(p + 2));
      to.to_tsecr = bswap<u32>(load<u32>(p + 6));
    } else if (opt == TCPOPT_SACK_PERMITTED) {
      if (optlen != 2) return false;
      if (syn) to.to_flags |= TOF_SACKPERM;
    } else if (opt == TCPOPT_SACK) {
      if (optlen < 10 || ((optlen - 2) & 7) != 0) return false;
      to.to_flags |= TOF_SACK;
      to.to_nsacks = (optlen - 2) >> 3;
      to.to_sacks = p + 2;
    }
    i += optlen;
  }
  return true;
}

@inline export function drop(m: usize): void {
  m_freem(m);
}

/**
 * RST for a segment nobody wants (RFC 9293 3.10.7.1): never for a RST, nor toward a
 * broadcast or multicast, nor over net.inet.tcp.rst_limit a second (tcp_rst_ok). ACK set: <SEQ=SEG.ACK><CTL=RST>; else <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
 */
export function dropwithreset(m: usize, ops: usize, src: usize, dst: usize, th: usize, tlen: u32, tp: usize): void {
  const flags = th_flags(th);
  const bad = (changetype<Mbuf>(m).m_flags & (M_BCAST | M_MCAST)) != 0 ||
    call_indirect<bool>(changetype<TcpAfOps>(ops).af_badaddr, src) || call_indirect<bool>(changetype<TcpAfOps>(ops).af_badaddr, dst);
  if ((flags & TH_RST) == 0 && !bad && tcp_rst_ok()) {
    if (flags & TH_ACKF) {
      tcp_respond(0, ops, dst, src, th_dport(th), th_sport(th), th_ack(th), 0, TH_RST, 0);
    } else {
      let seglen = tlen;
      if (flags & TH_SYN) seglen++;
      if (flags & TH_FIN) seglen++;
      tcp_respond(0, ops, dst, src, th_dport(th), th_sport(th), 0, th_seq(th) + seglen, TH_RST | TH_ACKF, 0);
    }
  }
  m_freem(m);
}

/** The family glue's entry: see the file header. m, src and dst as described there. */
export function tcp_input(m: usize, ops: usize, src: usize, dst: usize): void {
  tcp_enter();
  tcp_input_locked(m, ops, src, dst);
  tcp_exit();
}

function tcp_input_locked(m: usize, ops: usize, src: usize, dst: usize): void {
  TCPSTAT_INC(TCPS_RCVTOTAL);
  let mm = changetype<Mbuf>(m);
  const total = <u32>mm.ph_len;
  if (mm.m_len < <i32>TCP_HDR_MIN) {
    m = m_pullup(m, <i32>TCP_HDR_MIN);
    if (m == 0) return;
    mm = changetype<Mbuf>(m);
  }
  let th = mtod(m);
  const off = th_off(th);
  if (off < TCP_HDR_MIN || off > total) {
    TCPSTAT_INC(TCPS_RCVBADOFF);
    drop(m);
    return;
  }
  if (<u32>mm.m_len < off) {
    m = m_pullup(m, <i32>off);
    if (m == 0) return;
    mm = changetype<Mbuf>(m);
    th = mtod(m);
  }
  let thflags = th_flags(th);
  if ((thflags & (TH_SYN | TH_FIN)) == (TH_SYN | TH_FIN)) {
    TCPSTAT_INC(TCPS_BADSYN);
    drop(m);
    return;
  }
  if (!tcp_dooptions(th + TCP_HDR_MIN, off - TCP_HDR_MIN, (thflags & TH_SYN) != 0)) {
    TCPSTAT_INC(TCPS_RCVBADOPT);
    drop(m);
    return;
  }
  let tlen = total - off;
  const seq0 = th_seq(th);
  const ack = th_ack(th);
  const sport = th_sport(th);
  const dport = th_dport(th);
  const tiwin0 = th_win(th);

  let tp = tcp_lookup(ops, dst, dport, src, sport);
  if (tp == 0) tp = tcp_lookup_listen(ops, dst, dport, src, sport);
  if (tp == 0 || TP(tp).t_state == TCPS_CLOSED) {
    dropwithreset(m, ops, src, dst, th, tlen, 0);
    return;
  }
  let t = TP(tp);

  if (t.t_state == TCPS_TIME_WAIT) {
    if (tcp_twcheck(tp, m, th, tlen, thflags, seq0, ack)) return;
    // A new SYN ended the TIME_WAIT connection (RFC 6191 spirit): look for a listener.
    tp = tcp_lookup_listen(ops, dst, dport, src, sport);
    if (tp == 0) {
      dropwithreset(m, ops, src, dst, th, tlen, 0);
      return;
    }
    t = TP(tp);
  }

  if (t.t_state == TCPS_LISTEN) {
    if ((thflags & (TH_SYN | TH_RST | TH_ACKF)) != TH_ACKF) {
      tcp_listen_input(tp, m, ops, src, dst, th, tlen, thflags, seq0, tiwin0);
      return;
    }
    // The ACK that completes a handshake: the syncache's entry (or a SYN cookie) becomes a
    // connection in SYN_RECEIVED, and the segment goes on as for any connection.
    const ntp = syncache_expand(tp, ops, src, dst, sport, seq0, ack, tiwin0);
    if (ntp == <usize>-1) {
      drop(m);
      return;
    }
    if (ntp == 0) {
      dropwithreset(m, ops, src, dst, th, tlen, 0);
      return;
    }
    tp = ntp;
    t = TP(tp);
  }

  // From here on the segment belongs to a connection.
  const now = ticks();
  t.t_rcvtime = now;
  t.t_keepsent = 0;
  const so = t.t_socket;
  // The receive window as of now (never less than what we offered).
  t.rcv_wnd = <u32>max<i32>(max<i32>(tcp_rcvspace(tp), 0), <i32>(t.rcv_adv - t.rcv_nxt));
  // Window in the segment: scaled except in a SYN (RFC 7323 2.2).
  let tiwin = (thflags & TH_SYN) != 0 ? tiwin0 : tiwin0 << t.snd_scale;

  if (t.t_state == TCPS_SYN_SENT) {
    tcp_synsent_input(tp, m, th, tlen, thflags, seq0, ack, tiwin0);
    return;
  }

  // Header prediction (FreeBSD tcp_input "fast path"): ESTABLISHED, only ACK (maybe PSH),
  // in-order, no window change, nothing special pending.
  if (t.t_state == TCPS_ESTABLISHED && (thflags & (TH_SYN | TH_FIN | TH_RST | TH_URG | TH_ACKF)) == TH_ACKF &&
      seq0 == t.rcv_nxt && tiwin != 0 && tiwin == t.snd_wnd && t.snd_nxt == t.snd_max && (t.t_flags & TF_INRECOVERY) == 0 &&
      t.t_sackn == 0 && (to.to_flags & TOF_SACK) == 0 &&
      ((to.to_flags & TOF_TS) == 0 || (t.t_flags & TF_RCVD_TSTMP) == 0 || !SEQ_LT(to.to_tsval, t.ts_recent))) {
    if ((to.to_flags & TOF_TS) != 0 && (t.t_flags & TF_RCVD_TSTMP) != 0 && SEQ_LEQ(seq0, t.last_ack_sent)) {
      t.ts_recent = to.to_tsval;
      t.ts_recent_age = <u32>(now / 1_000_000);
    }
    if (tlen == 0) {
      if (SEQ_GT(ack, t.snd_una) && SEQ_LEQ(ack, t.snd_max) && t.snd_cwnd >= t.snd_wnd && t.t_dupacks == 0) {
        // Pure ACK for outstanding data.
        TCPSTAT_INC(TCPS_PREDACK);
        const acked = ack - t.snd_una;
        rtt_sample(tp, ack);
        TCPSTAT_INC(TCPS_RCVACKPACK);
        TCPSTAT_ADD(TCPS_RCVACKBYTE, acked);
        cc_ack_received(tp, acked);
        sbdrop(tp_sndbuf(tp), <i32>acked);
        t.snd_una = ack;
        t.snd_wl2 = ack;
        if (t.snd_una == t.snd_max) tcp_timer_activate(tp, TT_REXMT, 0);
        else if (!tcp_timer_active(tp, TT_PERSIST)) tcp_timer_activate(tp, TT_REXMT, <u64>t.t_rxtcur);
        if (so != 0) sowwakeup(so);
        drop(m);
        if (changetype<Sockbuf>(tp_sndbuf(tp)).sb_cc != 0) tcp_output(tp);
        return;
      }
    } else if (ack == t.snd_una && t.t_segq == 0 && so != 0 && tlen <= <u32>tcp_rcvspace(tp)) {
      // Pure in-order data.
      TCPSTAT_INC(TCPS_PREDDAT);
      t.rcv_nxt += tlen;
      t.snd_wl1 = seq0;
      TCPSTAT_INC(TCPS_RCVPACK);
      TCPSTAT_ADD(TCPS_RCVBYTE, tlen);
      m_adj(m, <i32>off);
      sbappendstream(so_rcv(so), m);
      tcp_autorcvbuf(tp, so, tlen);
      sorwakeup(so);
      delack(tp, tlen);
      if (t.t_flags & TF_ACKNOW) tcp_output(tp);
      return;
    }
  }

  // Options on a synchronized connection: PAWS (RFC 7323 5.3).
  if ((to.to_flags & TOF_TS) != 0 && (t.t_flags & TF_RCVD_TSTMP) != 0 && (thflags & TH_RST) == 0 && t.ts_recent != 0 &&
      SEQ_LT(to.to_tsval, t.ts_recent)) {
    if (<u32>(now / 1_000_000) - t.ts_recent_age > 24 * 24 * 3600) {
      t.ts_recent = 0; // 24 days idle: the old timestamp is invalid (RFC 7323 5.5)
    } else {
      TCPSTAT_INC(TCPS_RCVDUPPACK);
      TCPSTAT_ADD(TCPS_RCVDUPBYTE, tlen);
      TCPSTAT_INC(TCPS_PAWSDROP);
      dropafterack(tp, m, thflags);
      return;
    }
  }

  let seq = seq0;
  // RFC 5961 3.2: a RST is acted on only at exactly rcv_nxt; in the window it earns a
  // challenge ACK; outside it is ignored.
  if (thflags & TH_RST) {
    const wnd = max<u32>(t.rcv_wnd, 1);
    if (seq == t.rcv_nxt) {
      if (t.t_state == TCPS_SYN_RECEIVED) {
        // 3.10.7.4: a passive open goes away (the host never saw it); an active one
        // (simultaneous open) is refused.
        TCPSTAT_INC(TCPS_CONNDROPS);
        if ((t.t_flags & TF_PASSIVE) == 0) tcp_drop_noreset(tp, ECONNREFUSED);
        else tcp_close(tp);
      } else if (t.t_state <= TCPS_CLOSE_WAIT || t.t_state == TCPS_FIN_WAIT_1 || t.t_state == TCPS_FIN_WAIT_2) {
        tcp_drop_noreset(tp, ECONNRESET);
      } else {
        tcp_close(tp);
      }
    } else if (SEQ_GEQ(seq, t.rcv_nxt) && SEQ_LT(seq, t.rcv_nxt + wnd)) {
      TCPSTAT_INC(TCPS_BADRST);
      tcp_send_challenge_ack(tp);
    } else {
      TCPSTAT_INC(TCPS_BADRST);
    }
    drop(m);
    return;
  }

  // RFC 5961 4.2: a SYN on a synchronized connection gets a challenge ACK. In
  // SYN_RECEIVED a retransmitted SYN means our SYN-ACK was lost: send it again.
  if ((thflags & TH_SYN) != 0 && t.t_state == TCPS_SYN_RECEIVED && seq == t.irs && (thflags & TH_ACKF) != 0) {
    // Simultaneous open: the peer's SYN-ACK. Its SYN is old news; its ACK is what counts.
    thflags &= ~TH_SYN;
    seq++;
  }
  if (thflags & TH_SYN) {
    if (t.t_state == TCPS_SYN_RECEIVED && seq == t.irs) {
      t.snd_nxt = t.snd_una;
      t.t_flags |= TF_ACKNOW;
      drop(m);
      tcp_output(tp);
      return;
    }
    TCPSTAT_INC(TCPS_BADSYN);
    tcp_send_challenge_ack(tp);
    drop(m);
    return;
  }

  // Trim what we already have (RFC 9293 3.10.7.4 first check).
  let todrop = <i32>(t.rcv_nxt - seq);
  if (todrop > 0) {
    if (todrop > <i32>tlen || (todrop == <i32>tlen && (thflags & TH_FIN) == 0)) {
      // All of it is old: a duplicate. ACK it (the peer may have missed our ACK).
      thflags &= ~TH_FIN;
      t.t_flags |= TF_ACKNOW;
      todrop = <i32>tlen;
      TCPSTAT_INC(TCPS_RCVDUPPACK);
      TCPSTAT_ADD(TCPS_RCVDUPBYTE, <u64>todrop);
    } else {
      TCPSTAT_INC(TCPS_RCVPARTDUPPACK);
      TCPSTAT_ADD(TCPS_RCVPARTDUPBYTE, <u64>todrop);
    }
    m_adj(m, <i32>off + todrop);
    seq += <u32>todrop;
    tlen -= <u32>todrop;
  } else {
    m_adj(m, <i32>off);
  }

  // Data for a socket that is gone: the peer is told (RFC 9293 3.10.7.4; FreeBSD tcps_rcvafterclose).
  if (so == 0 && t.t_state > TCPS_CLOSE_WAIT && tlen > 0) {
    TCPSTAT_INC(TCPS_RCVAFTERCLOSE);
    tcp_drop(tp, 0);
    drop(m);
    return;
  }

  // Trim what is beyond the window.
  const rwnd = t.rcv_wnd;
  todrop = <i32>(seq + tlen - (t.rcv_nxt + rwnd));
  if (todrop > 0) {
    TCPSTAT_INC(TCPS_RCVPACKAFTERWIN);
    if (todrop >= <i32>tlen) {
      TCPSTAT_ADD(TCPS_RCVBYTEAFTERWIN, tlen);
      if (rwnd == 0 && seq == t.rcv_nxt) {
        // A window probe: answer with an ACK carrying the window.
        t.t_flags |= TF_ACKNOW;
        TCPSTAT_INC(TCPS_RCVWINPROBE);
      }
      dropafterack(tp, m, thflags);
      return;
    }
    TCPSTAT_ADD(TCPS_RCVBYTEAFTERWIN, <u64>todrop);
    m_adj(m, -todrop);
    tlen -= <u32>todrop;
    thflags &= ~(TH_PUSH | TH_FIN);
  }

  // RFC 7323 4.3: remember the peer's timestamp when the segment covers last_ack_sent.
  if ((to.to_flags & TOF_TS) != 0 && (t.t_flags & TF_RCVD_TSTMP) != 0 && SEQ_LEQ(seq, t.last_ack_sent) &&
      SEQ_LEQ(t.last_ack_sent, seq + tlen + ((thflags & (TH_SYN | TH_FIN)) != 0 ? 1 : 0))) {
    t.ts_recent = to.to_tsval;
    t.ts_recent_age = <u32>(now / 1_000_000);
  }

  if ((thflags & TH_ACKF) == 0) {
    if (t.t_state == TCPS_SYN_RECEIVED || (t.t_flags & TF_ACKNOW) != 0) dropafterack(tp, m, thflags);
    else drop(m);
    return;
  }

  // ACK processing (3.10.7.4 fifth check).
  if (t.t_state == TCPS_SYN_RECEIVED) {
    if (SEQ_GT(ack, t.snd_una) && SEQ_LEQ(ack, t.snd_max)) {
      TCPSTAT_INC(TCPS_CONNECTS);
      if (t.t_flags & TF_PASSIVE) TCPSTAT_INC(TCPS_ACCEPTS);
      tcp_established(tp);
      t.snd_wl1 = seq - 1;
    } else {
      // An unacceptable ACK in SYN_RECEIVED: <SEQ=SEG.ACK><CTL=RST>.
      tcp_respond(0, t.t_af, tp_laddr(tp), tp_faddr(tp), t.t_lport, t.t_fport, ack, 0, TH_RST, 0);
      drop(m);
      return;
    }
  }

  // RFC 5961 5.2: acceptable ACKs are in [snd_una - max_sndwnd, snd_max].
  if (SEQ_GT(ack, t.snd_max)) {
    TCPSTAT_INC(TCPS_RCVACKTOOMUCH);
    tcp_send_challenge_ack(tp);
    drop(m);
    return;
  }
  if (SEQ_LT(ack, t.snd_una - t.max_sndwnd)) {
    tcp_send_challenge_ack(tp);
    drop(m);
    return;
  }

  // RFC 2018: take the peer's SACK blocks into the scoreboard.
  const sackon = (t.t_flags & TF_SACK_PERMIT) != 0;
  if (sackon && (to.to_flags & TOF_SACK) != 0) tcp_sack_doack(tp, to.to_sacks, to.to_nsacks, ack);
  let ourfinisacked = false;
  if (SEQ_LEQ(ack, t.snd_una)) {
    // Duplicate ACK (RFC 5681 2: no data, no window change, outstanding data, same ACK).
    if (tlen == 0 && tiwin == t.snd_wnd && ack == t.snd_una && t.snd_max != t.snd_una && (thflags & TH_FIN) == 0) {
      TCPSTAT_INC(TCPS_RCVDUPACK);
      if (t.t_dupacks != 0xffff) t.t_dupacks++; // a u16
      if (!tcp_timer_active(tp, TT_REXMT)) {
        t.t_dupacks = 0;
      } else if (t.t_flags & TF_INRECOVERY) {
        // RFC 6582 3.2 (4): inflate for each further duplicate. With SACK, pipe does
        // that job (RFC 6675 5 (C)).
        if (!sackon) t.snd_cwnd += t.t_maxseg;
        drop(m);
        tcp_output(tp);
        return;
      } else if (t.t_dupacks == 3) {
        // RFC 6582 3.2 (2): only if this loss is after the last recovery point.
        if (SEQ_GT(ack, t.snd_recover) && sackon) {
          // RFC 6675 5 (4): recovery point, ssthresh, cwnd = ssthresh; retransmit the
          // first unSACKed segment whatever pipe says, then send what pipe allows.
          cc_cong_signal(tp, CC_DUPACK);
          TCPSTAT_INC(TCPS_SACK_RECOVERY_EPISODE);
          tcp_timer_activate(tp, TT_REXMT, 0);
          t.t_rtttime = 0;
          t.t_sack_rxt = t.snd_una;
          if (t.t_sackn == 0) t.t_sack_fack = t.snd_una;
          t.snd_cwnd = t.snd_ssthresh;
          tcp_sack_force_first(true);
          tcp_output(tp);
          tcp_sack_force_first(false);
          drop(m);
          return;
        }
        if (SEQ_GT(ack, t.snd_recover)) {
          cc_cong_signal(tp, CC_DUPACK);
          tcp_timer_activate(tp, TT_REXMT, 0);
          t.t_rtttime = 0;
          const onxt = t.snd_nxt;
          t.snd_nxt = ack;
          t.snd_cwnd = t.t_maxseg;
          tcp_output(tp);
          t.snd_cwnd = t.snd_ssthresh + t.t_maxseg * t.t_dupacks;
          if (SEQ_GT(onxt, t.snd_nxt)) t.snd_nxt = onxt;
          drop(m);
          return;
        }
        t.t_dupacks = 0;
      } else if (t.t_dupacks < 3) {
        // RFC 3042 limited transmit: a new segment for each of the first two duplicates.
        const oldcwnd = t.snd_cwnd;
        t.snd_cwnd = (t.snd_nxt - t.snd_una) + t.t_maxseg * t.t_dupacks;
        tcp_output(tp);
        t.snd_cwnd = oldcwnd;
        drop(m);
        return;
      }
      drop(m);
      return;
    }
    if (ack != t.snd_una || tlen != 0 || tiwin != t.snd_wnd) t.t_dupacks = 0;
  } else {
    // New data acknowledged.
    if ((t.t_flags & TF_INRECOVERY) != 0 && sackon && SEQ_LT(ack, t.snd_recover)) {
      // RFC 6675 partial ACK: no deflation; pipe shrinks, tcp_output sends the next hole.
      const acked0 = ack - t.snd_una;
      tcp_timer_activate(tp, TT_REXMT, <u64>t.t_rxtcur);
      sbdrop(tp_sndbuf(tp), <i32>acked0);
      t.snd_una = ack;
      tcp_sack_trim(tp);
      t.t_dupacks = 0;
      TCPSTAT_INC(TCPS_RCVACKPACK);
      TCPSTAT_ADD(TCPS_RCVACKBYTE, acked0);
      if (so != 0) sowwakeup(so);
      if (t.t_sackn == 0 && t.t_sack_rxt == t.snd_una) {
        // Nothing SACKed above the new SND.UNA: the scoreboard cannot see the next loss,
        // so do as RFC 6582 3.2 (5) and resend SND.UNA's segment now, not at the RTO.
        tcp_sack_force_first(true);
        tcp_output(tp);
        tcp_sack_force_first(false);
      }
      t.t_flags |= TF_NEEDOUTPUT;
      goto_step6(tp, m, seq, ack, tiwin, tlen, thflags);
      return;
    }
    if (t.t_flags & TF_INRECOVERY) {
      if (SEQ_LT(ack, t.snd_recover)) {
        // RFC 6582 3.2 (5) partial ACK: retransmit the next hole, deflate.
        const acked0 = ack - t.snd_una;
        tcp_timer_activate(tp, TT_REXMT, 0);
        t.t_rtttime = 0;
        const onxt = t.snd_nxt;
        const ocwnd = t.snd_cwnd;
        t.snd_nxt = ack;
        t.snd_cwnd = t.t_maxseg + acked0;
        sbdrop(tp_sndbuf(tp), <i32>acked0);
        t.snd_una = ack;
        tcp_output(tp);
        t.snd_cwnd = ocwnd > acked0 ? ocwnd - acked0 + t.t_maxseg : t.t_maxseg;
        if (SEQ_GT(onxt, t.snd_nxt)) t.snd_nxt = onxt;
        t.t_dupacks = 0;
        TCPSTAT_INC(TCPS_RCVACKPACK);
        TCPSTAT_ADD(TCPS_RCVACKBYTE, acked0);
        if (so != 0) sowwakeup(so);
        goto_step6(tp, m, seq, ack, tiwin, tlen, thflags);
        return;
      }
      t.t_dupacks = 0;
      cc_post_recovery(tp);
    }
    t.t_dupacks = 0;
    t.t_flags &= ~TF_CONGRECOVERY;
    const acked = ack - t.snd_una;
    TCPSTAT_INC(TCPS_RCVACKPACK);
    TCPSTAT_ADD(TCPS_RCVACKBYTE, acked);
    rtt_sample(tp, ack);
    if (ack == t.snd_max) {
      tcp_timer_activate(tp, TT_REXMT, 0);
      t.t_flags |= TF_NEEDOUTPUT;
    } else if (!tcp_timer_active(tp, TT_PERSIST)) {
      tcp_timer_activate(tp, TT_REXMT, <u64>t.t_rxtcur);
    }
    cc_ack_received(tp, acked);
    const sb = tp_sndbuf(tp);
    const cc = changetype<Sockbuf>(sb).sb_cc;
    if (acked > cc) {
      t.snd_wnd -= min<u32>(t.snd_wnd, cc);
      sbdrop(sb, <i32>cc);
      ourfinisacked = true;
    } else {
      sbdrop(sb, <i32>acked);
      t.snd_wnd -= min<u32>(t.snd_wnd, acked);
    }
    if (so != 0) sowwakeup(so);
    t.snd_una = ack;
    if (SEQ_LT(t.snd_nxt, t.snd_una)) t.snd_nxt = t.snd_una;
    if (sackon) tcp_sack_trim(tp);
    // Keep the recovery point within reach of sequence comparisons on long transfers.
    if (SEQ_LT(t.snd_recover, t.snd_una - 0x10000000)) t.snd_recover = t.snd_una - 0x10000000;

    // State changes our FIN's acknowledgment makes.
    if (t.t_state == TCPS_FIN_WAIT_1 && ourfinisacked) {
      t.t_state = TCPS_FIN_WAIT_2;
      if (so == 0) tcp_timer_activate(tp, TT_2MSL, TCPTV_FINWAIT2);
      else if (changetype<Socket>(so).so_state & 0x20 /* SS_CANTRCVMORE */) {
        soisdisconnected(so);
        tcp_timer_activate(tp, TT_2MSL, TCPTV_FINWAIT2);
      }
    } else if (t.t_state == TCPS_CLOSING && ourfinisacked) {
      tcp_twstart(tp);
      drop(m);
      return;
    } else if (t.t_state == TCPS_LAST_ACK && ourfinisacked) {
      tcp_close(tp);
      drop(m);
      return;
    }
  }
  goto_step6(tp, m, seq, ack, tiwin, tlen, thflags);
}

/** RTT sample from an ACK (RFC 6298 3, Karn: only segments timed and never retransmitted). */
export function rtt_sample(tp: usize, ack: u32): void {
  const t = TP(tp);
  const now = ticks();
  if ((to.to_flags & TOF_TS) != 0 && (t.t_flags & TF_RCVD_TSTMP) != 0 && to.to_tsecr != 0) {
    const ms = tcp_ts_now(tp) - to.to_tsecr;
    if (<i32>ms >= 0) {
      tcp_xmit_timer(tp, <u64>ms * 1000 + 500);
      TCPSTAT_INC(TCPS_RTTUPDATED);
    }
  } else if (t.t_rtttime != 0 && SEQ_GT(ack, t.t_rtseq)) {
    tcp_xmit_timer(tp, <u64>(<u32>now - t.t_rtttime)); // exact below 71 minutes
    t.t_rtttime = 0;
    TCPSTAT_INC(TCPS_RTTUPDATED);
  }
}

/** Window update, data, FIN (3.10.7.4 from the sixth check on). */
export function goto_step6(tp: usize, m: usize, seq: u32, ack: u32, tiwin: u32, tlen: u32, thflags: u32): void {
  const t = TP(tp);
  const so = t.t_socket;
  // Send window update (RFC 9293 3.10.7.4): newer segment, or same one with a newer ACK.
  if ((thflags & TH_ACKF) != 0 &&
      (SEQ_LT(t.snd_wl1, seq) || (t.snd_wl1 == seq && (SEQ_LT(t.snd_wl2, ack) || (t.snd_wl2 == ack && tiwin > t.snd_wnd))))) {
    if (tlen == 0 && t.snd_wl2 == ack && tiwin > t.snd_wnd) TCPSTAT_INC(TCPS_RCVWINUPD);
    t.snd_wnd = tiwin;
    t.snd_wl1 = seq;
    t.snd_wl2 = ack;
    if (t.snd_wnd > t.max_sndwnd) t.max_sndwnd = t.snd_wnd;
    t.t_flags |= TF_NEEDOUTPUT;
  }

  // Data (urgent data is treated as ordinary data: no OOB).
  let fin = (thflags & TH_FIN) != 0;
  if ((tlen != 0 || fin) && !TCPS_HAVERCVDFIN(t.t_state)) {
    if (seq == t.rcv_nxt && t.t_segq == 0 && TCPS_HAVEESTABLISHED_(t.t_state)) {
      if (tlen != 0) {
        t.rcv_nxt += tlen;
        TCPSTAT_INC(TCPS_RCVPACK);
        TCPSTAT_ADD(TCPS_RCVBYTE, tlen);
        if (so != 0) {
          sbappendstream(so_rcv(so), m);
          tcp_autorcvbuf(tp, so, tlen);
          sorwakeup(so);
        } else m_freem(m);
        delack(tp, tlen);
      } else m_freem(m);
    } else if (tlen != 0 || fin) {
      fin = tcp_reass(tp, m, seq, tlen, fin);
      t.t_flags |= TF_ACKNOW;
    } else m_freem(m);
  } else {
    m_freem(m);
  }

  // FIN (3.10.7.4 eighth check).
  if (fin) {
    if (!TCPS_HAVERCVDFIN(t.t_state)) {
      if (so != 0) socantrcvmore(so);
      t.t_flags |= TF_ACKNOW;
      t.rcv_nxt++;
    }
    const st = t.t_state;
    if (st == TCPS_SYN_RECEIVED || st == TCPS_ESTABLISHED) {
      t.t_state = TCPS_CLOSE_WAIT;
    } else if (st == TCPS_FIN_WAIT_1) {
      t.t_state = TCPS_CLOSING;
    } else if (st == TCPS_FIN_WAIT_2) {
      tcp_twstart(tp);
      return;
    } else if (st == TCPS_TIME_WAIT) {
      tcp_timer_activate(tp, TT_2MSL, 2 * TCPTV_MSL);
    }
  }
  if ((t.t_flags & (TF_NEEDOUTPUT | TF_ACKNOW)) != 0) {
    t.t_flags &= ~TF_NEEDOUTPUT;
    tcp_output(tp);
  }
}

/**
 * Delayed ACK (RFC 9293 3.8.6.3, RFC 5681 4.2): every second full segment ACKed at once. A
 * large segment from an offloading peer (TSO) holds two or more: ACKed at once too.
 */
function delack(tp: usize, tlen: u32): void {
  const t = TP(tp);
  if ((t.t_flags & TF_DELACK) != 0 || tlen >= 2 * t.t_rcvmss) {
    t.t_flags |= TF_ACKNOW;
  } else {
    t.t_flags |= TF_DELACK;
    tcp_timer_activate(tp, TT_DELACK, TCPTV_DELACK);
  }
  // Room for the window to open by enough: tcp_output decides.
}

@inline export function TCPS_HAVEESTABLISHED_(s: u32): bool { return s >= TCPS_ESTABLISHED; }

/** dropafterack: an ACK for a segment we do not accept (never for a RST). */
function dropafterack(tp: usize, m: usize, thflags: u32): void {
  m_freem(m);
  if (thflags & TH_RST) return;
  TP(tp).t_flags |= TF_ACKNOW;
  tcp_output(tp);
}

/** Drop the connection without sending a RST (we are answering one). */
export function tcp_drop_noreset(tp: usize, err: i32): void {
  const so = TP(tp).t_socket;
  if (so != 0) soseterror(so, err);
  tcp_close(tp);
}

import { soseterror } from "../../kmod/kapi";

/** Enter TIME_WAIT (RFC 9293 3.10.7.4): 2MSL timer; the socket is disconnected. */
export function tcp_twstart(tp: usize): void {
  const t = TP(tp);
  t.t_state = TCPS_TIME_WAIT;
  tcp_timer_only(tp, TT_2MSL, 2 * TCPTV_MSL); // every other timer off
  if (t.t_flags & TF_ACKNOW) tcp_output(tp);
  if (t.t_socket != 0) soisdisconnected(t.t_socket);
}

/**
 * A segment for a connection in TIME_WAIT (FreeBSD tcp_twcheck). True when it was handled
 * (m consumed); false for a SYN with a timestamp or else a sequence number above the old
 * connection's (RFC 6191, RFC 1122 4.2.2.13): the old connection is closed and the SYN goes
 * to a listener.
 */
function tcp_twcheck(tp: usize, m: usize, th: usize, tlen: u32, thflags: u32, seq: u32, ack: u32): bool {
  const t = TP(tp);
  if (thflags & TH_RST) {
    // RFC 1337: ignore RSTs in TIME_WAIT.
    m_freem(m);
    return true;
  }
  // FreeBSD: a newer timestamp (the clock runs on per 4-tuple, tcp_ts_offset) or, without
  // timestamps, a higher sequence number says it is a new incarnation, not an old duplicate.
  if ((thflags & TH_SYN) != 0 && (thflags & TH_ACKF) == 0 &&
      (((to.to_flags & TOF_TS) != 0 && (t.t_flags & TF_RCVD_TSTMP) != 0 && t.ts_recent != 0 && SEQ_GT(to.to_tsval, t.ts_recent)) ||
       SEQ_GT(seq, t.rcv_nxt))) {
    TCPSTAT_INC(TCPS_TW_RECYCLES);
    tcp_close(tp);
    return false;
  }
  if ((thflags & TH_ACKF) == 0) {
    m_freem(m);
    return true;
  }
  // A retransmitted FIN restarts 2MSL and is ACKed, as is anything carrying data or not
  // exactly at our edges; a pure duplicate ACK is dropped silently (FreeBSD tcp_twcheck).
  // Answering those too makes two TIME_WAIT ends after a simultaneous close ACK each
  // other's ACKs for ever.
  if ((thflags & TH_FIN) != 0 && seq + tlen + 1 == t.rcv_nxt) tcp_timer_activate(tp, TT_2MSL, 2 * TCPTV_MSL);
  m_freem(m);
  if ((thflags & (TH_SYN | TH_FIN | TH_RST | TH_ACKF)) == TH_ACKF && tlen == 0 && seq == t.rcv_nxt && ack == t.snd_nxt) return true;
  t.t_flags |= TF_ACKNOW;
  tcp_output(tp);
  return true;
}

export { TH_URG, addr_any, SEQ_MAX, TCPS_LAST_ACK, TT_DELACK, TCPS_RCVMEMDROP, TF_SENTFIN, TF_DELACK, M_PKTHDR, TCPS_CLOSING, TCPS_LISTEN, TCPS_CLOSED, TCPS_SYN_SENT, TCPS_CLOSE_WAIT, TCPS_FIN_WAIT_2, TCPTV_FINWAIT2, V, SS_NOFDREF, ECONNRESET };
