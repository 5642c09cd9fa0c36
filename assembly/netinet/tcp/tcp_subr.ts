// TCP control blocks and what every part of TCP shares (FreeBSD tcp_subr.c, in_pcb.c):
// allocation and freeing of tcpcbs, the per-vnet lookup tables, ISNs (RFC 6528), segments
// built without a connection (tcp_respond: RSTs, challenge ACKs, keepalive probes),
// closing and dropping, and the output queue.
//
// The output queue. Inside one kernel a segment's delivery runs to completion: epair and
// lo0 hand the packet to the receiver's input at once, and the receiver's reply comes back
// the same way. If tcp_output called the network layer directly, a connection's input
// could run while its own tcp_output is on the stack. So TCP never sends from inside
// itself: segments are queued (linked by m_nextpkt, with their vnet in ph_vnet and the
// family's addresses stashed in the packet) and sent when the outermost TCP entry
// (tcp_exit: user request, input, timer) returns. Replies produced while the queue is
// being sent join its end, so a whole handshake between two vnets is a loop, not a
// recursion, and no tcpcb is ever entered twice.
//
// Lookup tables, per vnet: a connection hash on the 4-tuple (TCP_HASH_SIZE buckets, one
// kmem page of heads) holding every connected pcb including TIME_WAIT ones, and a
// local-port hash holding every bound pcb (listeners, connections, TIME_WAIT): bind
// conflicts and listener lookup walk one bucket.

import {
  zone_alloc, zone_free, callout_init, callout_stop, m_gethdr, m_freem, kmem_alloc, kmem_free, curvnet,
  CURVNET_SET, CURVNET_RESTORE, ticks, VNET_VNET, soisdisconnected, soabort, soseterror, sbflush, ECONNRESET, ENOMEM, EINVAL,
} from "../../kmod/kapi";
import { Mbuf, MT_DATA, M_PKTHDR, mtod } from "../../sys/mbuf";
import { Socket, SO_REUSEPORT_LB, SS_NOFDREF, SOCKBUF_SIZE, so_snd, so_rcv, sbspace } from "../../sys/socket";
import {
  Tcpcb, TcpAfOps, TcpVnet, TP, TCPCB_SIZE, TcpGlobals, V, TCPSTAT_INC, tp_laddr, tp_faddr, tp_callout, TF_INHASH, TF_INPORT, TF_INLISTEN, TF_DUAL, TCP_LISTENHASH_SIZE,
  TCPS_CLOSED, TCPS_LISTEN, TCPS_SYN_RECEIVED, TCPS_HAVERCVDSYN, TCPS_TIME_WAIT, TCP_HASH_SIZE, TCP_HASH_MAX, TCP_PORTHASH_SIZE,
  TCP_EPH_FIRST, TCP_EPH_COUNT, TCP_PORTCNT_PAGES, TCP_PORTCNT_MANY, TCP_PORTCNT_MIN,
  TH_SPORT, TH_DPORT, TH_SEQ, TH_ACK, TH_OFFX, TH_FLAGSB, TH_WIN, TH_SUM, TH_URP, TH_RST, TH_ACKF, TCP_HDR_MIN,
  TCPS_DROPS, TCPS_CONNDROPS, TCPST_CLOSED, TCPS_SNDTOTAL, TCPS_SNDCTRL, TCPS_SNDRST, TCPS_RSTLIMITED, TCPS_SNDACKS,
  TCPS_CHALLENGEACK, TCPS_CHALLENGEACK_LIMITED, TCPS_TABLEFAIL, TF_INABORT, TF_RCVD_TSTMP, TCPOPT_NOP, TCPOPT_TIMESTAMP, TCPOLEN_TIMESTAMP,
  TCPTV_KEEP_IDLE, TCPTV_KEEPINTVL, TCPTV_KEEPCNT, TCPTV_KEEP_INIT, TCPTV_RTOBASE, TCP_MSS_DEFAULT,
} from "./tcp_var";

// ---------------------------------------------------------------------------------------
// Output queue

let depth: u32 = 0;
let qhead: usize = 0;
let qtail: usize = 0;
const LEADING: usize = 16 + 40; // room for the link header and the largest network header

/** Every TCP entry point (user request, input, timer) runs between tcp_enter and tcp_exit. */
@inline export function tcp_enter(): void {
  depth++;
}

export function tcp_exit(): void {
  if (depth > 1) {
    depth--;
    return;
  }
  // Outermost: send what was queued, including what the sends themselves cause.
  while (qhead != 0) {
    const m = qhead;
    const mm = changetype<Mbuf>(m);
    qhead = mm.m_nextpkt;
    if (qhead == 0) qtail = 0;
    mm.m_nextpkt = 0;
    const ops = mm.ph_rcvif;
    const v = mm.ph_vnet;
    mm.ph_rcvif = 0;
    const old = CURVNET_SET(v);
    call_indirect<i32>(changetype<TcpAfOps>(ops).af_output, m);
    CURVNET_RESTORE(old);
  }
  depth--;
}

/** Queue segment m (TCP header first) of family ops from laddr to faddr; sent at tcp_exit. */
export function tcp_queue(m: usize, ops: usize, laddr: usize, faddr: usize): void {
  call_indirect<void>(changetype<TcpAfOps>(ops).af_stash, m, laddr, faddr);
  const mm = changetype<Mbuf>(m);
  mm.ph_rcvif = ops;
  mm.ph_vnet = curvnet();
  mm.m_nextpkt = 0;
  if (qtail != 0) changetype<Mbuf>(qtail).m_nextpkt = m;
  else qhead = m;
  qtail = m;
  TCPSTAT_INC(TCPS_SNDTOTAL);
  if (depth == 0) {
    // Not inside TCP (cannot happen on the paths we have; be safe): send now.
    tcp_enter();
    tcp_exit();
  }
}

/** A packet header mbuf with room for every header in front and len bytes of header after. */
export function tcp_gethdr(hlen: u32): usize {
  const m = m_gethdr(MT_DATA);
  if (m == 0) return 0;
  const mm = changetype<Mbuf>(m);
  mm.m_data += LEADING;
  mm.m_len = <i32>hlen;
  mm.ph_len = <i32>hlen;
  return m;
}
export const TCP_HDRSPACE: u32 = 176 - 56; // MHLEN minus link and network headers: TCP header + small data

/** Write a TCP header at th. */
export function tcp_fillhdr(th: usize, sport: u16, dport: u16, seq: u32, ack: u32, off: u32, flags: u32, win: u32): void {
  store<u16>(th + TH_SPORT, bswap<u16>(sport));
  store<u16>(th + TH_DPORT, bswap<u16>(dport));
  store<u32>(th + TH_SEQ, bswap<u32>(seq));
  store<u32>(th + TH_ACK, bswap<u32>(ack));
  store<u8>(th + TH_OFFX, <u8>((off >> 2) << 4));
  store<u8>(th + TH_FLAGSB, <u8>flags);
  store<u16>(th + TH_WIN, bswap<u16>(<u16>min<u32>(win, 65535)));
  store<u16>(th + TH_SUM, 0);
  store<u16>(th + TH_URP, 0);
}

/**
 * tcp_respond: a segment with no data and no connection state behind it (RST, challenge
 * ACK, keepalive probe). tp gives the timestamp option when the connection uses them.
 */
export function tcp_respond(tp: usize, ops: usize, laddr: usize, faddr: usize, lport: u16, fport: u16, seq: u32, ack: u32, flags: u32, win: u32): void {
  let optlen: u32 = 0;
  if (tp != 0 && (TP(tp).t_flags & TF_RCVD_TSTMP) != 0 && (flags & TH_RST) == 0) optlen = 12;
  const m = tcp_gethdr(TCP_HDR_MIN + optlen);
  if (m == 0) return;
  const th = mtod(m);
  tcp_fillhdr(th, lport, fport, seq, ack, TCP_HDR_MIN + optlen, flags, win);
  if (optlen != 0) {
    const t = TP(tp);
    store<u8>(th + 20, TCPOPT_NOP);
    store<u8>(th + 21, TCPOPT_NOP);
    store<u8>(th + 22, TCPOPT_TIMESTAMP);
    store<u8>(th + 23, <u8>TCPOLEN_TIMESTAMP);
    store<u32>(th + 24, bswap<u32>(tcp_ts_now(tp)));
    store<u32>(th + 28, bswap<u32>(t.ts_recent));
  }
  if (flags & TH_RST) {
    TCPSTAT_INC(TCPS_SNDRST);
    TCPSTAT_INC(TCPS_SNDCTRL);
  } else TCPSTAT_INC(TCPS_SNDACKS);
  tcp_queue(m, ops, laddr, faddr);
}

/** Our timestamp clock (RFC 7323 5.4): milliseconds, offset per connection. */
@inline export function tcp_ts_now(tp: usize): u32 {
  return <u32>(ticks() / 1000) + TP(tp).ts_offset;
}

/**
 * One more this second? A per-vnet budget kept as TcpVnet's (second u64, count u32, limit
 * u32) at p: the count starts again each second of kernel time.
 */
function persec_take(p: usize): bool {
  const sec = ticks() / 1_000_000;
  if (load<u64>(p) != sec) {
    store<u64>(p, sec);
    store<u32>(p, 0, 8);
  }
  const n = load<u32>(p, 8);
  if (n >= load<u32>(p, 12)) return false;
  store<u32>(p, n + 1, 8);
  return true;
}

/**
 * May a challenge ACK go now? At most ack_limit a second per vnet (RFC 5961 7), counted
 * (tcps_challenge_acks, or _limited when not).
 */
export function tcp_challenge_ok(): bool {
  if (!persec_take(changetype<usize>(V()) + offsetof<TcpVnet>("ack_second"))) {
    TCPSTAT_INC(TCPS_CHALLENGEACK_LIMITED);
    return false;
  }
  TCPSTAT_INC(TCPS_CHALLENGEACK);
  return true;
}

/**
 * May a RST for a segment nobody wants go now? At most rst_limit a second per vnet (0: no
 * limit), as FreeBSD's badport_bandlim (BANDLIM_RST_CLOSEDPORT, _OPENPORT): a flood of
 * segments to closed ports must not become a flood of RSTs, each of which costs the host a
 * datagram on a VXLAN or WebSocket port. Counted (tcps_rstlimited) when not.
 */
export function tcp_rst_ok(): bool {
  const vv = V();
  if (vv.rst_limit == 0) return true;
  if (!persec_take(changetype<usize>(vv) + offsetof<TcpVnet>("rst_second"))) {
    TCPSTAT_INC(TCPS_RSTLIMITED);
    return false;
  }
  return true;
}

/**
 * RFC 5961 challenge ACK: ACK the peer's view with our current one, at most ack_limit a
 * second per vnet (RFC 5961 7).
 */
export function tcp_send_challenge_ack(tp: usize): void {
  if (!tcp_challenge_ok()) return;
  const t = TP(tp);
  tcp_respond(tp, t.t_af, tp_laddr(tp), tp_faddr(tp), t.t_lport, t.t_fport, t.snd_nxt, t.rcv_nxt, TH_ACKF, tcp_rcvwin_adv(tp));
}

/**
 * The window field we would advertise now (scaled), for ACKs sent outside tcp_output:
 * never less than what we offered (RFC 9293 3.8.6) but for the rounding down to the
 * scale's unit (RFC 7323 2.4), and
 * remembered in rcv_adv so the input side accepts what the peer is now allowed to send.
 */
export function tcp_rcvwin_adv(tp: usize): u32 {
  const t = TP(tp);
  let win = tcp_rcvspace(tp);
  if (win < 0) win = 0;
  const maxwin = <i32>(65535 << t.rcv_scale);
  if (win > maxwin) win = maxwin;
  const offered = <i32>(t.rcv_adv - t.rcv_nxt);
  if (win < offered) win = offered;
  const unit = <u32>1 << t.rcv_scale;
  const w = <u32>win & ~(unit - 1); // whole units, rounded down (tcp_output says why)
  if (w > 0 && SEQ_GT(t.rcv_nxt + w, t.rcv_adv)) t.rcv_adv = t.rcv_nxt + w;
  return w >> t.rcv_scale;
}

/** Receive space of tp's socket (0 once the socket is gone). */
export function tcp_rcvspace(tp: usize): i32 {
  const so = TP(tp).t_socket;
  return so != 0 ? sbspace(so_rcv(so)) : 0;
}

/**
 * An empty send buffer shared by every socketless connection that left nothing unsent
 * (most of them: TIME_WAIT, a FIN after the last byte was acknowledged). Nothing is ever
 * appended to it, and dropping from an empty buffer only writes the zeros it holds.
 */
const tcp_empty_sb = memory.data(SOCKBUF_SIZE, 8);

/** The send buffer of tp: its socket's, or once the socket is gone its own (t_sb) or none. */
@inline export function tp_sndbuf(tp: usize): usize {
  const t = TP(tp);
  const so = t.t_socket;
  return so != 0 ? so_snd(so) : t.t_sb != 0 ? t.t_sb : tcp_empty_sb;
}

// ---------------------------------------------------------------------------------------
// ISN (RFC 6528): ISN = M + F(localip, localport, remoteip, remoteport, secretkey), M a
// 4 µs clock, F SipHash-2-4 keyed with a per-vnet secret from arc4random.

@inline function rotl64(x: u64, b: u64): u64 { return (x << b) | (x >> (64 - b)); }

/**
 * SipHash-2-4 of (laddr, faddr, lport, fport, extra) under key (k0, k1): six message words
 * (the two addresses, the ports and extra, the length), two rounds each, four to finish.
 * The state is four locals, not memory, so the rounds stay in registers.
 */
export function tcp_siphash(k0: u64, k1: u64, laddr: usize, faddr: usize, lport: u16, fport: u16, extra: u32): u64 {
  let v0 = k0 ^ 0x736f6d6570736575;
  let v1 = k1 ^ 0x646f72616e646f6d;
  let v2 = k0 ^ 0x6c7967656e657261;
  let v3 = k1 ^ 0x7465646279746573;
  for (let w = 0; w < 6; w++) {
    const m: u64 = w == 0 ? load<u64>(laddr) : w == 1 ? load<u64>(laddr, 8) : w == 2 ? load<u64>(faddr) : w == 3 ? load<u64>(faddr, 8) :
      w == 4 ? (<u64>lport << 48) | (<u64>fport << 32) | <u64>extra : <u64>48 << 56;
    v3 ^= m;
    for (let r = 0; r < 2; r++) {
      v0 += v1; v1 = rotl64(v1, 13); v1 ^= v0; v0 = rotl64(v0, 32);
      v2 += v3; v3 = rotl64(v3, 16); v3 ^= v2;
      v0 += v3; v3 = rotl64(v3, 21); v3 ^= v0;
      v2 += v1; v1 = rotl64(v1, 17); v1 ^= v2; v2 = rotl64(v2, 32);
    }
    v0 ^= m;
  }
  v2 ^= 0xff;
  for (let r = 0; r < 4; r++) {
    v0 += v1; v1 = rotl64(v1, 13); v1 ^= v0; v0 = rotl64(v0, 32);
    v2 += v3; v3 = rotl64(v3, 16); v3 ^= v2;
    v0 += v3; v3 = rotl64(v3, 21); v3 ^= v0;
    v2 += v1; v1 = rotl64(v1, 17); v1 ^= v2; v2 = rotl64(v2, 32);
  }
  return v0 ^ v1 ^ v2 ^ v3;
}

/**
 * The timestamp clock's offset for a connection (RFC 7323 7.1, FreeBSD tcp_new_ts_offset):
 * a keyed hash of its 4-tuple, so the clock tells nothing of our uptime, yet runs on from
 * one incarnation of a 4-tuple to the next (a TIME_WAIT end recognises the new SYN by it,
 * tcp_twcheck), and a SYN cookie's connection gets it back without carrying it.
 */
export function tcp_ts_offset(laddr: usize, faddr: usize, lport: u16, fport: u16): u32 {
  const vv = V();
  return <u32>tcp_siphash(vv.isn_key0, vv.isn_key1, laddr, faddr, lport, fport, 1);
}

export function tcp_new_isn(laddr: usize, faddr: usize, lport: u16, fport: u16): u32 {
  const vv = V();
  const f = <u32>tcp_siphash(vv.isn_key0, vv.isn_key1, laddr, faddr, lport, fport, 0);
  return f + <u32>(ticks() >> 2);
}

// ---------------------------------------------------------------------------------------
// Lookup tables

@inline function addr_eq(a: usize, b: usize): bool {
  return load<u64>(a) == load<u64>(b) && load<u64>(a, 8) == load<u64>(b, 8);
}
@inline export function addr_any(a: usize): bool {
  return (load<u64>(a) | load<u64>(a, 8)) == 0;
}
export { addr_eq as tcp_addr_eq };

export function hash4(key: u64, laddr: usize, faddr: usize, lport: u16, fport: u16): u32 {
  let x = load<u32>(laddr) ^ load<u32>(laddr, 4) ^ load<u32>(laddr, 8) ^ load<u32>(laddr, 12);
  x = x * 0x9e3779b1 ^ load<u32>(faddr) ^ load<u32>(faddr, 4) ^ load<u32>(faddr, 8) ^ load<u32>(faddr, 12);
  x = x * 0x85ebca6b ^ ((<u32>lport << 16) | <u32>fport) ^ <u32>key;
  x = (x ^ (x >> 15)) * 0xc2b2ae35;
  return x ^ (x >> 13); // the caller masks with the vnet's hashmask
}

@inline function porthash(lport: u16): u32 {
  return (<u32>lport * 0x9e3779b1 >> 22) & (TCP_PORTHASH_SIZE - 1);
}
@inline function listenhash(lport: u16): u32 {
  return (<u32>lport * 0x9e3779b1 >> 24) & (TCP_LISTENHASH_SIZE - 1);
}

/** Head of tp's connection hash chain (or, for a listener, its listen hash chain) in tp's vnet. */
function hheadOf(tp: usize): usize {
  const t = TP(tp);
  const vv = changetype<TcpVnet>(VNET_VNET(t.t_vnet, TcpGlobals.voff));
  if ((t.t_flags & TF_INLISTEN) != 0) return vv.listhash + (<usize>listenhash(t.t_lport) << 2);
  return vv.hashtbl + (<usize>(hash4(vv.isn_key0, tp_laddr(tp), tp_faddr(tp), t.t_lport, t.t_fport) & vv.hashmask) << 2);
}

/** Push tp on the chain at head through its h links. */
function hpush(tp: usize, head: usize): void {
  const t = TP(tp);
  const first = load<usize>(head);
  t.t_hnext = first;
  t.t_hprev = 0;
  if (first != 0) TP(first).t_hprev = tp;
  store<usize>(head, tp);
}

/**
 * net.inet.tcp.tcbhashsize of the current vnet: a new connection hash of `buckets` heads (a
 * power of two, TCP_HASH_SIZE to TCP_HASH_MAX), every connection moved into it, the old one
 * freed. FreeBSD sizes its hash once at boot; here a vnet that will hold many connections
 * asks for more buckets (each page of heads is charged to it) and one that holds few keeps
 * one page. -EINVAL for a bad size, -ENOMEM when the pages cannot be had (nothing changes).
 */
export function tcp_hash_resize(buckets: u32): i32 {
  if (buckets < TCP_HASH_SIZE || buckets > TCP_HASH_MAX || (buckets & (buckets - 1)) != 0) return -EINVAL;
  const vv = V();
  if (buckets == vv.hashmask + 1) return 0;
  if (vv.hashtbl == 0) {
    vv.hashmask = buckets - 1; // no table yet: the first tcpcb's has this size
    return 0;
  }
  const v = curvnet();
  const pages = buckets >> 10;
  const tbl = kmem_alloc(pages, v);
  if (tbl == 0) return -ENOMEM;
  memory.fill(tbl, 0, <usize>pages << 12);
  const old = vv.hashtbl;
  const oldn = vv.hashmask + 1;
  vv.hashtbl = tbl;
  vv.hashmask = buckets - 1;
  for (let i: u32 = 0; i < oldn; i++) {
    let tp = load<usize>(old + (<usize>i << 2));
    while (tp != 0) {
      const next = TP(tp).t_hnext;
      const t = TP(tp);
      hpush(tp, tbl + (<usize>(hash4(vv.isn_key0, tp_laddr(tp), tp_faddr(tp), t.t_lport, t.t_fport) & vv.hashmask) << 2));
      tp = next;
    }
  }
  kmem_free(old, oldn >> 10, v);
  return 0;
}

/**
 * The connection hash (hashmask + 1 heads) and the port hash of the current vnet, made
 * with its first tcpcb and freed with its last (tcp_free) or with the vnet (tcp.ts
 * tcp_vnet_uninit): a vnet without TCP holds no TCP pages, like the listen hash without
 * listeners. Every table user runs with a tcpcb of the vnet in hand, except the input
 * lookup (tcp_lookup), which finds nothing while there is no table. False, counted
 * (tablefail), when the pages cannot be had; nothing is kept then.
 */
export function tcp_tables_create(): bool {
  const vv = V();
  if (vv.hashtbl != 0) return true;
  const v = curvnet();
  const pages = (vv.hashmask + 1) >> 10;
  const tbl = kmem_alloc(pages, v);
  const ph = tbl != 0 ? kmem_alloc(1, v) : 0;
  if (ph == 0) {
    if (tbl != 0) kmem_free(tbl, pages, v);
    TCPSTAT_INC(TCPS_TABLEFAIL);
    return false;
  }
  memory.fill(tbl, 0, <usize>pages << 12);
  memory.fill(ph, 0, 4096);
  vv.hashtbl = tbl;
  vv.porthash = ph;
  return true;
}

/** Free vnet v's connection and port hashes (its last tcpcb is gone, or its uninit). */
export function tcp_tables_destroy(vv: TcpVnet, v: usize): void {
  if (vv.hashtbl != 0) kmem_free(vv.hashtbl, (vv.hashmask + 1) >> 10, v);
  if (vv.porthash != 0) kmem_free(vv.porthash, 1, v);
  vv.hashtbl = 0;
  vv.porthash = 0;
}

/** Put tp in the connection hash (its 4-tuple is set). */
export function tcp_hash_insert(tp: usize): void {
  const t = TP(tp);
  if ((t.t_flags & (TF_INHASH | TF_INLISTEN)) != 0) tcp_hash_remove(tp);
  const vv = V();
  hpush(tp, vv.hashtbl + (<usize>(hash4(vv.isn_key0, tp_laddr(tp), tp_faddr(tp), t.t_lport, t.t_fport) & vv.hashmask) << 2));
  t.t_flags |= TF_INHASH;
}

/** Take tp off the connection hash or the listen hash, whichever it is on. */
export function tcp_hash_remove(tp: usize): void {
  const t = TP(tp);
  if ((t.t_flags & (TF_INHASH | TF_INLISTEN)) == 0) return;
  if (t.t_hprev != 0) TP(t.t_hprev).t_hnext = t.t_hnext;
  else store<usize>(hheadOf(tp), t.t_hnext);
  if (t.t_hnext != 0) TP(t.t_hnext).t_hprev = t.t_hprev;
  t.t_hnext = 0;
  t.t_hprev = 0;
  if ((t.t_flags & TF_INLISTEN) != 0) {
    // The last listener gone, the table's page goes too (a vnet with none holds none).
    const vv = changetype<TcpVnet>(VNET_VNET(t.t_vnet, TcpGlobals.voff));
    if (--vv.nlisten == 0) {
      kmem_free(vv.listhash, 1, t.t_vnet);
      vv.listhash = 0;
      syncache_tbl_destroy(vv, t.t_vnet); // no listener can complete its entries
    }
  }
  t.t_flags &= ~(TF_INHASH | TF_INLISTEN);
}

/**
 * Put listener tp in the listen hash (FreeBSD's listen hash: a SYN's lookup walks only
 * listeners, never the connections accepted on the same port). A listener has no foreign
 * address, so it uses the connection hash's links. The table's page is allocated with the
 * vnet's first listener and freed with its last, and so is the syncache's table
 * (tcp_syncache.ts). -ENOMEM when they cannot be had.
 */
export function tcp_listen_insert(tp: usize): i32 {
  const t = TP(tp);
  if ((t.t_flags & TF_INLISTEN) != 0) return 0;
  const vv = V();
  if (vv.listhash == 0) {
    const pg = kmem_alloc(1, curvnet());
    if (pg == 0) return -ENOMEM;
    if (!syncache_tbl_create(vv, curvnet())) {
      kmem_free(pg, 1, curvnet());
      return -ENOMEM;
    }
    memory.fill(pg, 0, 4096);
    vv.listhash = pg;
  }
  if ((t.t_flags & TF_INHASH) != 0) tcp_hash_remove(tp);
  hpush(tp, vv.listhash + (<usize>listenhash(t.t_lport) << 2));
  t.t_flags |= TF_INLISTEN;
  vv.nlisten++;
  return 0;
}

// Per-port counts. Choosing an ephemeral port asks of each candidate whether anyone is on
// it, which walks the port hash bucket (and, for a connect, the connection hash bucket of
// the 4-tuple); with thousands of connections in TIME_WAIT those chains are long and their
// tcpcbs cold. So a vnet with many pcbs on ephemeral ports (TCP_PORTCNT_MIN) also counts
// the pcbs on every one (a u8 each, 4 pages, freed when the last such pcb goes): a port
// whose count is 0 is free for any use without a walk. Counts at TCP_PORTCNT_MANY stay
// there (the port hash is asked instead). The answers are exactly the walks' answers.

/** The count of lport in vnet vv, or 0 (no table, or not an ephemeral port). */
@inline function portcnt_of(vv: TcpVnet, lport: u16): usize {
  return vv.portcnt != 0 && <u32>lport >= TCP_EPH_FIRST ? vv.portcnt + (<usize>lport - TCP_EPH_FIRST) : 0;
}

/** Nobody is on lport (an ephemeral port with a count of 0); false: ask the port hash. */
@inline function port_free(lport: u16): bool {
  const c = portcnt_of(V(), lport);
  return c != 0 && load<u8>(c) == 0;
}

/** The table of vnet vv (curvnet), counted from its pcbs; false when no pages could be had. */
function portcnt_create(vv: TcpVnet): bool {
  const tbl = kmem_alloc(TCP_PORTCNT_PAGES, curvnet());
  if (tbl == 0) return false;
  memory.fill(tbl, 0, <usize>TCP_EPH_COUNT);
  vv.portcnt = tbl;
  for (let tp = vv.pcblist; tp != 0; tp = TP(tp).t_lnext) {
    const t = TP(tp);
    const c = portcnt_of(vv, t.t_lport);
    if ((t.t_flags & TF_INPORT) != 0 && c != 0 && load<u8>(c) < TCP_PORTCNT_MANY) store<u8>(c, load<u8>(c) + 1);
  }
  return true;
}

/** Free vnet vv's table (no pcb left on an ephemeral port, or its uninit). */
export function tcp_portcnt_destroy(vv: TcpVnet, v: usize): void {
  if (vv.portcnt != 0) kmem_free(vv.portcnt, TCP_PORTCNT_PAGES, v);
  vv.portcnt = 0;
}

/** Put tp in the port hash (t_lport is set). */
export function tcp_port_insert(tp: usize): void {
  const t = TP(tp);
  if ((t.t_flags & TF_INPORT) != 0) return;
  const vv = V();
  const head = vv.porthash + (<usize>porthash(t.t_lport) << 2);
  const first = load<usize>(head);
  t.t_pnext = first;
  t.t_pprev = 0;
  if (first != 0) TP(first).t_pprev = tp;
  store<usize>(head, tp);
  t.t_flags |= TF_INPORT;
  if (<u32>t.t_lport < TCP_EPH_FIRST) return;
  vv.neph++;
  if (vv.portcnt == 0) {
    if (vv.neph >= TCP_PORTCNT_MIN) portcnt_create(vv); // counts tp too; without pages the walks answer alone
    return;
  }
  const c = portcnt_of(vv, t.t_lport);
  const n = load<u8>(c);
  if (n < TCP_PORTCNT_MANY) store<u8>(c, n + 1);
}

export function tcp_port_remove(tp: usize): void {
  const t = TP(tp);
  if ((t.t_flags & TF_INPORT) == 0) return;
  const vv = changetype<TcpVnet>(VNET_VNET(t.t_vnet, TcpGlobals.voff));
  const head = vv.porthash + (<usize>porthash(t.t_lport) << 2);
  if (t.t_pprev != 0) TP(t.t_pprev).t_pnext = t.t_pnext;
  else store<usize>(head, t.t_pnext);
  if (t.t_pnext != 0) TP(t.t_pnext).t_pprev = t.t_pprev;
  t.t_pnext = 0;
  t.t_pprev = 0;
  t.t_flags &= ~TF_INPORT;
  if (<u32>t.t_lport < TCP_EPH_FIRST) return;
  if (--vv.neph == 0) {
    tcp_portcnt_destroy(vv, t.t_vnet);
    return;
  }
  const c = portcnt_of(vv, t.t_lport);
  if (c != 0) {
    const n = load<u8>(c);
    if (n < TCP_PORTCNT_MANY) store<u8>(c, n - 1);
  }
}


/** The connection for a segment from faddr:fport to laddr:lport (exact 4-tuple), or 0. */
export function tcp_lookup(ops: usize, laddr: usize, lport: u16, faddr: usize, fport: u16): usize {
  const vv = V();
  if (vv.hashtbl == 0) return 0; // no tcpcb yet (tcp_tables_create)
  const b = hash4(vv.isn_key0, laddr, faddr, lport, fport) & vv.hashmask;
  for (let tp = load<usize>(vv.hashtbl + (<usize>b << 2)); tp != 0; tp = TP(tp).t_hnext) {
    const t = TP(tp);
    if (t.t_lport == lport && t.t_fport == fport && t.t_af == ops && addr_eq(tp_faddr(tp), faddr) && addr_eq(tp_laddr(tp), laddr)) return tp;
  }
  return 0;
}

/**
 * t is seen by the lookups of family ops: a pcb of that family, or a dual-stack one (TF_DUAL:
 * an AF_INET6 socket with IPV6_V6ONLY off, unbound or on the wildcard, unconnected), which
 * the other family's lookups take for their own wildcard (its address, all zeros, is that
 * family's wildcard too). Only IPv6's glue sets TF_DUAL, so "the other family" is IPv4.
 */
@inline function af_sees(t: Tcpcb, ops: usize): bool {
  return t.t_af == ops || (t.t_flags & TF_DUAL) != 0;
}

/** A listener in a load-balancing group (SO_REUSEPORT_LB). */
@inline function lb_member(tp: usize): bool {
  const so = TP(tp).t_socket;
  return so != 0 && (changetype<Socket>(so).so_options & <u32>SO_REUSEPORT_LB) != 0;
}

/**
 * The listener for laddr:lport, for a SYN from faddr:fport: bound to laddr exactly, else to
 * the wildcard; or 0. Listeners with SO_REUSEPORT_LB on the same address form a group, and
 * the connection's hash picks one of them (FreeBSD's in_pcblookup_lbgroup), so a group's
 * members share the connections; it is looked at before the others, as FreeBSD does.
 * Among several plain SO_REUSEPORT listeners the one that listened last wins, as the first
 * on FreeBSD's chain.
 */
export function tcp_lookup_listen(ops: usize, laddr: usize, lport: u16, faddr: usize, fport: u16): usize {
  const vv = V();
  if (vv.listhash == 0) return 0;
  const head = load<usize>(vv.listhash + (<usize>listenhash(lport) << 2));
  // The groups first: exact address, then wildcard (count, then take the hash's member).
  for (let pass = 0; pass < 2; pass++) {
    let n: u32 = 0;
    for (let tp = head; tp != 0; tp = TP(tp).t_hnext) {
      const t = TP(tp);
      if (t.t_lport != lport || !af_sees(t, ops) || !lb_member(tp)) continue;
      if (pass == 0 ? addr_eq(tp_laddr(tp), laddr) : addr_any(tp_laddr(tp))) n++;
    }
    if (n == 0) continue;
    let i = hash4(vv.isn_key1, laddr, faddr, lport, fport) % n;
    for (let tp = head; tp != 0; tp = TP(tp).t_hnext) {
      const t = TP(tp);
      if (t.t_lport != lport || !af_sees(t, ops) || !lb_member(tp)) continue;
      if (!(pass == 0 ? addr_eq(tp_laddr(tp), laddr) : addr_any(tp_laddr(tp)))) continue;
      if (i == 0) return tp;
      i--;
    }
  }
  let wild: usize = 0;
  for (let tp = head; tp != 0; tp = TP(tp).t_hnext) {
    const t = TP(tp);
    if (t.t_lport != lport || !af_sees(t, ops)) continue;
    if (addr_eq(tp_laddr(tp), laddr)) return tp;
    // The wildcard: one of the family's own before a dual one (FreeBSD's local_wild first).
    if (addr_any(tp_laddr(tp)) && (wild == 0 || (TP(wild).t_af != ops && t.t_af == ops))) wild = tp;
  }
  return wild;
}

/**
 * Is laddr:lport taken for a bind by `me`? FreeBSD's rules, simplified: another pcb on the
 * port whose address overlaps (equal or either wildcard) conflicts unless both have
 * SO_REUSEPORT, or `me` has SO_REUSEADDR and the other is not listening and not merely
 * bound (a connection, or TIME_WAIT).
 */
export function tcp_port_conflict(me: usize, ops: usize, laddr: usize, lport: u16, reuseaddr: bool, reuseport: bool, reuselb: bool = false): bool {
  for (let tp = load<usize>(V().porthash + (<usize>porthash(lport) << 2)); tp != 0; tp = TP(tp).t_pnext) {
    const t = TP(tp);
    if (tp == me || t.t_lport != lport || !af_sees(t, ops)) continue;
    if (!addr_eq(tp_laddr(tp), laddr) && !addr_any(tp_laddr(tp)) && !addr_any(laddr)) continue;
    const so = t.t_socket;
    const theirs = so != 0 ? changetype<Socket>(so).so_options : 0;
    if (reuseport && (theirs & 0x200) != 0) continue;
    if (reuselb && (theirs & <u32>SO_REUSEPORT_LB) != 0) continue; // one load-balancing group
    const connected = (t.t_flags & TF_INHASH) != 0; // has a foreign address (connection or TIME_WAIT)
    if (reuseaddr && connected) continue;
    return true;
  }
  return false;
}

/**
 * May a connection from laddr:lport to faddr:fport take lport as its ephemeral port
 * (FreeBSD in_pcb_lport_dest, Linux __inet_hash_connect)? Yes unless a pcb on the port
 * that is not a connection (a listener, or merely bound: someone bind()s it) overlaps
 * laddr, or a connection (TIME_WAIT included) already has this 4-tuple. So one local port
 * serves many destinations.
 */
export function tcp_port_usable(ops: usize, laddr: usize, lport: u16, faddr: usize, fport: u16): bool {
  if (port_free(lport)) return true;
  for (let tp = load<usize>(V().porthash + (<usize>porthash(lport) << 2)); tp != 0; tp = TP(tp).t_pnext) {
    const t = TP(tp);
    if (t.t_lport != lport || !af_sees(t, ops)) continue;
    if ((t.t_flags & TF_INHASH) != 0) continue; // a connection: only its 4-tuple matters (below)
    if (addr_eq(tp_laddr(tp), laddr) || addr_any(tp_laddr(tp)) || addr_any(laddr)) return false;
  }
  return tcp_lookup(ops, laddr, lport, faddr, fport) == 0;
}

/** Any pcb bound to lport (ephemeral port of a bind or listen with no destination). */
export function tcp_port_used(ops: usize, lport: u16): bool {
  if (port_free(lport)) return false;
  for (let tp = load<usize>(V().porthash + (<usize>porthash(lport) << 2)); tp != 0; tp = TP(tp).t_pnext) {
    if (TP(tp).t_lport == lport && af_sees(TP(tp), ops)) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------
// Life of a tcpcb

import { tcp_timer_stopall } from "./tcp_timer";
import { tcp_cc_set } from "./cc_cubic";

/** A tcpcb for socket so (0: none yet) of family ops, in curvnet. */
export function tcp_alloc(so: usize, ops: usize): usize {
  if (!tcp_tables_create()) return 0;
  const tp = zone_alloc(TcpGlobals.zone);
  if (tp == 0) {
    if (V().pcbcount == 0) tcp_tables_destroy(V(), curvnet()); // made for this tcpcb alone
    return 0;
  }
  memory.fill(tp, 0, TCPCB_SIZE);
  const t = TP(tp);
  t.t_socket = so;
  t.t_af = ops;
  t.t_vnet = curvnet();
  t.t_state = TCPS_CLOSED;
  t.t_maxseg = TCP_MSS_DEFAULT;
  t.t_rxtcur = <u32>TCPTV_RTOBASE;
  t.t_keepidle = <u32>(TCPTV_KEEP_IDLE / 1_000_000);
  t.t_keepintvl = <u32>(TCPTV_KEEPINTVL / 1_000_000);
  t.t_keepcnt = TCPTV_KEEPCNT;
  t.t_keepinit = <u32>(TCPTV_KEEP_INIT / 1_000_000);
  t.snd_cwnd = 0x7fffffff;
  t.snd_ssthresh = 0x7fffffff;
  if (!tcp_cc_set(tp, V().cc_default)) {
    zone_free(TcpGlobals.zone, tp);
    if (V().pcbcount == 0) tcp_tables_destroy(V(), curvnet());
    return 0;
  }
  callout_init(tp_callout(tp));
  const vv = V();
  t.t_lnext = vv.pcblist;
  if (vv.pcblist != 0) TP(vv.pcblist).t_lprev = tp;
  vv.pcblist = tp;
  vv.pcbcount++;
  if (so != 0) changetype<Socket>(so).so_pcb = tp;
  return tp;
}

/** Free tp: off every list, timers stopped, queues freed. curvnet = tp's vnet. */
export function tcp_free(tp: usize): void {
  const t = TP(tp);
  callout_stop(tp_callout(tp));
  tcp_hash_remove(tp);
  tcp_port_remove(tp);
  tcp_reass_flush(tp);
  tcp_sack_release(tp);
  tcp_cc_set(tp, 0);
  if (t.t_sb != 0) {
    sbflush(t.t_sb);
    zone_free(TcpGlobals.sbzone, t.t_sb);
    t.t_sb = 0;
  }
  const vv = changetype<TcpVnet>(VNET_VNET(t.t_vnet, TcpGlobals.voff));
  if (t.t_lprev != 0) TP(t.t_lprev).t_lnext = t.t_lnext;
  else vv.pcblist = t.t_lnext;
  if (t.t_lnext != 0) TP(t.t_lnext).t_lprev = t.t_lprev;
  vv.pcbcount--;
  if (t.t_socket != 0) changetype<Socket>(t.t_socket).so_pcb = 0;
  zone_free(TcpGlobals.zone, tp);
  if (vv.pcbcount == 0) tcp_tables_destroy(vv, t.t_vnet); // tp was off both hashes already
}

export function tcp_reass_flush(tp: usize): void {
  const t = TP(tp);
  let m = t.t_segq;
  while (m != 0) {
    const n = changetype<Mbuf>(m).m_nextpkt;
    m_freem(m);
    m = n;
  }
  t.t_segq = 0;
  tcp_sack_reass_done(tp);
}

/**
 * tcp_close: the connection is over. Off the lookup tables, timers stopped. A tcpcb whose
 * socket is gone is freed; one whose socket waits on a listener's queue is aborted with
 * it (the host never saw it); otherwise the socket hears it is disconnected and the tcpcb
 * stays CLOSED until the host closes the socket. Returns 0: tp must not be used after.
 */
export function tcp_close(tp: usize): usize {
  const t = TP(tp);
  const wasSynced = TCPS_HAVERCVDSYN(t.t_state);
  t.t_state = TCPS_CLOSED;
  TCPSTAT_INC(TCPST_CLOSED);
  tcp_timer_stopall(tp);
  tcp_hash_remove(tp);
  tcp_port_remove(tp);
  tcp_reass_flush(tp);
  const so = t.t_socket;
  if (so == 0) {
    tcp_free(tp);
    return 0;
  }
  const s = changetype<Socket>(so);
  if ((s.so_state & SS_NOFDREF) != 0 && (t.t_flags & TF_INABORT) == 0) {
    // Queued on a listener, never accepted: it goes with its socket.
    t.t_flags |= TF_INABORT;
    soabort(so); // pru_abort, pru_detach (frees tp), frees the socket
    return 0;
  }
  soisdisconnected(so);
  return 0;
}

/** tcp_drop: abort the connection with error err: RST to the peer if synchronized. */
export function tcp_drop(tp: usize, err: i32): usize {
  const t = TP(tp);
  if (TCPS_HAVERCVDSYN(t.t_state)) {
    tcp_respond(tp, t.t_af, tp_laddr(tp), tp_faddr(tp), t.t_lport, t.t_fport, t.snd_nxt, t.rcv_nxt, TH_RST | TH_ACKF, 0);
    TCPSTAT_INC(TCPS_DROPS);
  } else if (t.t_state != TCPS_CLOSED && t.t_state != TCPS_LISTEN) {
    TCPSTAT_INC(TCPS_CONNDROPS);
  }
  if (err == ETIMEDOUT && t.t_softerror != 0) err = t.t_softerror; // FreeBSD: say why it timed out
  if (err != 0 && t.t_socket != 0) soseterror(t.t_socket, err);
  return tcp_close(tp);
}

export { ECONNRESET };

// ---------------------------------------------------------------------------------------
// ICMP errors (FreeBSD tcp_ctlinput, tcp_notify, tcp_mtudisc), family-neutral: the family
// glue parses its ICMP message and calls tcp_ctlerror with the quoted segment's 4-tuple.

/**
 * An ICMP error about the segment (laddr:lport -> faddr:fport, seq). mss != 0: the path
 * takes at most mss bytes of TCP (fragmentation needed, RFC 1191). Otherwise err is the
 * errno; hard: the peer's host said no (port/protocol unreachable, administratively
 * prohibited), which ends a connection in SYN_SENT (FreeBSD icmp_may_rst). Everything
 * else is a soft error (RFC 1122 4.2.3.9): kept, and reported if the connection times out.
 */
export function tcp_ctlerror(ops: usize, laddr: usize, lport: u16, faddr: usize, fport: u16, seq: u32, err: i32, hard: bool, mss: u32): void {
  tcp_enter();
  const tp = tcp_lookup(ops, laddr, lport, faddr, fport);
  const t = TP(tp);
  // RFC 5927 4.1: only errors quoting a sequence number in flight count (blind attacks).
  if (tp == 0 || t.t_state < TCPS_SYN_SENT || t.t_state == TCPS_TIME_WAIT || SEQ_LT(seq, t.snd_una) || !SEQ_LT(seq, t.snd_max)) {
    TCPSTAT_INC(TCPS_ICMPIGNORED);
  } else if (mss != 0) {
    tcp_mtudisc(tp, mss);
  } else if (hard && t.t_state == TCPS_SYN_SENT) {
    TCPSTAT_INC(TCPS_ICMPDROP);
    tcp_drop(tp, err);
  } else if (t.t_state == TCPS_ESTABLISHED && (err == EHOSTUNREACH || err == ENETUNREACH)) {
    TCPSTAT_INC(TCPS_ICMPIGNORED); // FreeBSD tcp_notify: routing may come back
  } else if (t.t_state < TCPS_ESTABLISHED && t.t_rxtshift > 3 && t.t_softerror != 0) {
    TCPSTAT_INC(TCPS_ICMPDROP);
    tcp_drop(tp, err);
  } else {
    TCPSTAT_INC(TCPS_ICMPSOFT);
    t.t_softerror = err;
  }
  tcp_exit();
}

/** The path takes at most mss bytes of TCP: lower t_maxseg and resend from SND.UNA. */
export function tcp_mtudisc(tp: usize, mss: u32): void {
  const t = TP(tp);
  if (mss < TCP_MINMSS) mss = TCP_MINMSS;
  if (mss >= t.t_maxseg) {
    TCPSTAT_INC(TCPS_ICMPIGNORED); // stale or bogus: we already send no more than that
    return;
  }
  t.t_maxseg = mss;
  if (t.t_state < TCPS_ESTABLISHED) return; // the SYN fits; data will use the new size
  TCPSTAT_INC(TCPS_MTURESENT);
  t.snd_nxt = t.snd_una;
  t.t_rtttime = 0;
  t.snd_recover = t.snd_max;
  t.t_flags &= ~TF_INRECOVERY;
  tcp_sack_reset(tp);
  tcp_output(tp);
}

import { tcp_output } from "./tcp_output";
import { syncache_tbl_create, syncache_tbl_destroy } from "./tcp_syncache";
import { tcp_sack_reset, tcp_sack_release, tcp_sack_reass_done } from "./tcp_sack";
import {
  TCPS_MTURESENT, TCPS_ICMPSOFT, TCPS_ICMPIGNORED, TCPS_ICMPDROP, TCPS_SYN_SENT, TCPS_ESTABLISHED,
  TCP_MINMSS, TF_INRECOVERY,
} from "./tcp_var";
import { SEQ_LT, SEQ_GT } from "./tcp_seq";
import { EHOSTUNREACH, ENETUNREACH, ETIMEDOUT } from "../../sys/errno";
