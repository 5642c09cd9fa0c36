// TCP reassembly (FreeBSD tcp_reass.c): out-of-order segments wait in a queue linked
// through m_nextpkt (sequence number in ph_flowid, FIN in ph_csum_data), trimmed against
// their neighbours, and move to the socket once in order. The queue's counts live in the
// tcpcb's on-demand TcpSackBlk (tcp_sack.ts), taken with the first segment queued and
// returned when the queue empties. Called from tcp_input.ts.

import { m_adj, m_freem, sbappendstream, sorwakeup } from "../../kmod/kapi";
import { Mbuf } from "../../sys/mbuf";
import { so_rcv } from "../../sys/socket";
import {
  TCPSTAT_ADD, TCPSTAT_INC, TCPS_RCVBYTE, TCPS_RCVMEMDROP, TCPS_RCVOOBYTE, TCPS_RCVOOPACK, TCPS_RCVPACK,
  TCPS_RCVREASSFULL, TP, TcpSackBlk,
} from "./tcp_var";
import { SEQ_GT, SEQ_LT } from "./tcp_seq";
import { tcp_sack_blk, tcp_sack_reass_done } from "./tcp_sack";
import { TCPS_HAVEESTABLISHED_ } from "./tcp_input";

/**
 * tcp_reass: queue an out-of-order segment (seq in ph_flowid, its FIN in ph_csum_data),
 * trimmed against its neighbours; then move whatever is now in order to the socket.
 * Returns true when a FIN was reached in order.
 */
export function tcp_reass(tp: usize, m: usize, seq: u32, tlen: u32, fin: bool): bool {
  const t = TP(tp);
  const so = t.t_socket;
  if (tlen != 0 || fin) {
    // The queue's bookkeeping lives in the tcpcb's TcpSackBlk, taken when first needed.
    const blk = tcp_sack_blk(tp);
    if (blk == 0) {
      TCPSTAT_INC(TCPS_RCVMEMDROP);
      m_freem(m);
      return false;
    }
    const b = changetype<TcpSackBlk>(blk);
    if (seq != t.rcv_nxt) {
      b.sb_last = seq;
      TCPSTAT_INC(TCPS_RCVOOPACK);
      TCPSTAT_ADD(TCPS_RCVOOBYTE, tlen);
    }
    // A full queue takes no more out-of-order segments, but always the one at RCV.NXT
    // (FreeBSD tcp_reass): dropping the segment that fills the hole would leave the queue
    // full for ever and the connection would time out.
    if (b.sb_segqn >= 512 && seq != t.rcv_nxt) {
      TCPSTAT_INC(TCPS_RCVREASSFULL);
      m_freem(m);
      return false;
    }
    const mm = changetype<Mbuf>(m);
    mm.ph_flowid = seq;
    mm.ph_csum_data = fin ? 1 : 0;
    mm.ph_len = <i32>tlen;
    // Find the place: after every segment starting before seq.
    let prev: usize = 0;
    let q = t.t_segq;
    while (q != 0 && SEQ_LT(changetype<Mbuf>(q).ph_flowid, seq)) {
      prev = q;
      q = changetype<Mbuf>(q).m_nextpkt;
    }
    let s = seq;
    let l = tlen;
    let ok = true;
    if (prev != 0) {
      const p = changetype<Mbuf>(prev);
      const pend = p.ph_flowid + <u32>p.ph_len;
      if (SEQ_GT(pend, s)) {
        const i = <i32>(pend - s);
        if (i >= <i32>l && !fin) {
          m_freem(m); // wholly inside the previous one
          ok = false;
        } else {
          const cut = min<i32>(i, <i32>l);
          m_adj(m, cut);
          s += <u32>cut;
          l -= <u32>cut;
        }
      }
    }
    if (ok) {
      // Trim or remove the following segments it covers.
      while (q != 0) {
        const qq = changetype<Mbuf>(q);
        const i = <i32>(s + l - qq.ph_flowid);
        if (i <= 0) break;
        if (i < qq.ph_len) {
          m_adj(q, i); // takes ph_len down by i
          qq.ph_flowid += <u32>i;
          b.sb_segqlen -= <u32>i;
          break;
        }
        const next = qq.m_nextpkt;
        b.sb_segqlen -= <u32>qq.ph_len;
        b.sb_segqn--;
        if (qq.ph_csum_data != 0) mm.ph_csum_data = 1;
        m_freem(q);
        q = next;
      }
      mm.ph_flowid = s;
      mm.ph_len = <i32>l;
      mm.m_nextpkt = q;
      if (prev != 0) changetype<Mbuf>(prev).m_nextpkt = m;
      else t.t_segq = m;
      b.sb_segqlen += l;
      b.sb_segqn++;
    }
  }
  // Present what is in order.
  if (!TCPS_HAVEESTABLISHED_(t.t_state)) return false;
  let q = t.t_segq;
  let gotfin = false;
  let delivered = false;
  while (q != 0 && changetype<Mbuf>(q).ph_flowid == t.rcv_nxt) {
    const qq = changetype<Mbuf>(q);
    const next = qq.m_nextpkt;
    qq.m_nextpkt = 0;
    const l = <u32>qq.ph_len;
    t.rcv_nxt += l;
    const b = changetype<TcpSackBlk>(t.t_sack);
    b.sb_segqlen -= l;
    b.sb_segqn--;
    if (qq.ph_csum_data != 0) gotfin = true;
    TCPSTAT_INC(TCPS_RCVPACK);
    TCPSTAT_ADD(TCPS_RCVBYTE, l);
    t.t_segq = next;
    if (so != 0 && l != 0) {
      sbappendstream(so_rcv(so), q);
      delivered = true;
    } else m_freem(q);
    q = next;
    if (gotfin) break;
  }
  if (t.t_segq == 0) tcp_sack_reass_done(tp);
  if (delivered) sorwakeup(so);
  return gotfin;
}
