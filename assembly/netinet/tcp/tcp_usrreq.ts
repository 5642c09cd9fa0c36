// TCP's user requests (FreeBSD tcp_usrreq.c): the pr_usrreqs table the socket layer calls.
// Each runs between tcp_enter and tcp_exit, so what it sends goes when it returns.
//
// The socket layer frees a socket right after pru_detach, but a closed connection still
// has work to do (FIN_WAIT_1/2, CLOSING, LAST_ACK, TIME_WAIT). So detach keeps such a
// tcpcb alive without its socket: the unsent data moves into the tcpcb's own sockbuf
// (t_sb), the receive window becomes 0, and data that still arrives is answered with a
// RST (tcps_rcvafterclose). Closing with unread data, or with SO_LINGER 0, sends a RST
// instead of a FIN (RFC 9293 3.10.4, RFC 2525 2.17).

import {
  sbappendstream, soisconnecting, soisdisconnecting, sbflush, m_freem, arc4random, ticks, zone_alloc, EINVAL, EADDRINUSE,
  EADDRNOTAVAIL, EAFNOSUPPORT, EISCONN, ENOTCONN, ENOPROTOOPT, ENOBUFS, ENOMEM, ECONNABORTED, EOPNOTSUPP, ENETUNREACH,
} from "../../kmod/kapi";
import {
  Socket, Sockbuf, SB_AUTOSIZE, SOL_SOCKET, SO_KEEPALIVE, SO_LINGER, SO_REUSEADDR, SO_REUSEPORT, SO_REUSEPORT_LB, SOPT_SET, SOPT_GET, SOCKBUF_SIZE,
  so_rcv, so_snd, SS_ISDISCONNECTED,
} from "../../sys/socket";
import {
  TP, V, TcpAfOps, tp_laddr, tp_faddr, TcpGlobals, TCPS_RCVMEMDROP, TCPSTAT_INC, TCPS_CONNATTEMPT, TCPS_CLOSED, TCPS_LISTEN, TCPS_SYN_SENT,
  TCPS_SYN_RECEIVED, TCPS_ESTABLISHED, TCPS_CLOSE_WAIT, TCPS_FIN_WAIT_1, TCPS_FIN_WAIT_2, TCPS_LAST_ACK, TCPS_TIME_WAIT,
  TF_NODELAY, TF_NOOPT, TF_NEEDFIN, TF_INABORT, TF_REQ_SCALE, TF_REQ_TSTMP, TF_SACK_REQ, TF_DUAL, TT_KEEP, TT_2MSL,
  TCPTV_FINWAIT2, TCP_MSS_DEFAULT, TCP_MINMSS, TCP_MAX_WINSHIFT, IPPROTO_TCP, TCP_NODELAY, TCP_MAXSEG, TCP_NOOPT,
  TCP_INFO_STATE, TCP_CONGESTION, TCP_KEEPINIT, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT, CC_CUBIC, TCP_EPH_FIRST, TCP_EPH_COUNT,
} from "./tcp_var";
import {
  tcp_enter, tcp_exit, tcp_tables_create, tcp_alloc, tcp_free, tcp_close, tcp_drop, tcp_lookup, tcp_port_conflict, tcp_port_used,
  tcp_port_insert, tcp_hash_insert, tcp_new_isn, addr_any, tcp_port_usable, tcp_listen_insert, tcp_ts_offset,
} from "./tcp_subr";
import { tcp_cc_set } from "./cc_cubic";
import { tcp_output } from "./tcp_output";
import { tcp_timer_activate } from "./tcp_timer";
import { cc_conn_init } from "./cc_newreno";

// Families TCP serves: the glue of each registers its operations (tcp_inet.ts for AF_INET).
const afops = memory.data(4 * 32, 4);
export function tcp_af_register(af: u32, ops: usize): void {
  if (af < 32) store<usize>(afops + (<usize>af << 2), ops);
}
@inline function opsFor(af: u32): usize {
  return af < 32 ? load<usize>(afops + (<usize>af << 2)) : 0;
}

const abuf = memory.data(16, 8);
const ubuf = memory.data(16, 8);

// Dual-stack sockets (docs/sockets.md "Dual-stack sockets"). A pcb of a socket whose family
// serves another one too (af_dual: IPv6's serves IPv4) is TF_DUAL while IPV6_V6ONLY is off and
// it is unbound or on the wildcard; a bind or connect to an address that stands for the other
// family (af_unmap: ::ffff:a.b.c.d) moves the pcb to that family's operations, and the
// socket's family writes its addresses (af_map_sa). TCP still names no family.

/** The operations of the family tp's dual-stack socket also serves, or 0. */
@inline function dualOps(tp: usize): usize {
  return (TP(tp).t_flags & TF_DUAL) != 0 ? opsFor(OPS(TP(tp).t_af).af_dual) : 0;
}

/**
 * abuf (an address parse() read) stands for another family's (::ffff:a.b.c.d): the pcb
 * moves to that family's operations with abuf rewritten in its form. 0 when it does not
 * (nothing changed) or it did; -EINVAL when the socket may not (IPV6_V6ONLY, or bound to an
 * address of its own family); -ENETUNREACH when that family is not in the kernel.
 */
function unmap(tp: usize): i32 {
  const t = TP(tp);
  const af = call_indirect<u32>(OPS(t.t_af).af_unmap, abuf, ubuf);
  if (af == 0) return 0;
  if ((t.t_flags & TF_DUAL) == 0) return -EINVAL;
  const o = opsFor(af);
  if (o == 0) return -ENETUNREACH;
  memory.copy(abuf, ubuf, 16);
  t.t_af = o;
  t.t_flags &= ~TF_DUAL;
  return 0;
}

/** The socket's sockaddr for addr:port of tp: its family's own form, or the mapped one when the pcb went over to another family. */
function to_sa(so: usize, tp: usize, sa_out: usize, addr: usize, port: u16): void {
  const own = opsFor(S(so).so_family);
  if (own != 0 && own != TP(tp).t_af) call_indirect<void>(OPS(own).af_map_sa, sa_out, addr, port);
  else call_indirect<void>(OPS(TP(tp).t_af).af_to_sa, sa_out, addr, port);
}

@inline function S(so: usize): Socket { return changetype<Socket>(so); }
@inline function OPS(ops: usize): TcpAfOps { return changetype<TcpAfOps>(ops); }
@inline function neg(e: i32): i32 { return e > 0 ? -e : e; }

/** The MSS to offer for tp's foreign address: the route's MTU less headers, or 536. */
export function tcp_mss_from(tp: usize): u32 {
  const t = TP(tp);
  return tcp_mss_for(t.t_af, tp_faddr(tp), t.t_maxseg_user);
}

/** The MSS to offer to faddr of family ops: the route's, capped by TCP_MAXSEG (user, 0 = none). */
export function tcp_mss_for(ops: usize, faddr: usize, user: u32): u32 {
  let mss = call_indirect<u32>(OPS(ops).af_mss, faddr);
  if (mss == 0) mss = TCP_MSS_DEFAULT;
  if (user != 0 && mss > user) mss = user;
  if (mss < TCP_MINMSS) mss = TCP_MINMSS;
  return mss;
}

/**
 * Window scale to ask for: the smallest that covers the receive buffer (RFC 7323 2.3), or,
 * while the buffer may still grow (autotuning), the most it may grow to, as FreeBSD sizes
 * it from sb_max: the scale is fixed by the handshake, and one too small would cap the
 * window the buffer can offer later.
 */
function request_scale(tp: usize): void {
  const t = TP(tp);
  const so = t.t_socket;
  let hiwat: u32 = 65535;
  if (so != 0) {
    const rb = changetype<Sockbuf>(so_rcv(so));
    hiwat = rb.sb_hiwat;
    const vv = V();
    if ((rb.sb_flags & SB_AUTOSIZE) != 0 && vv.recvbuf_auto != 0 && vv.recvbuf_max > hiwat) hiwat = vv.recvbuf_max;
  }
  let s: u32 = 0;
  while (s < TCP_MAX_WINSHIFT && (<u32>65535 << s) < hiwat) s++;
  t.request_r_scale = <u8>s;
}

function tcp_attach(so: usize, proto: i32): i32 {
  const ops = opsFor(S(so).so_family);
  if (ops == 0) return -EAFNOSUPPORT;
  tcp_enter();
  // The vnet's first socket makes its connection tables; no memory for them is ENOMEM
  // (counted, tablefail), as a full tcpcb zone is ENOBUFS.
  const tables = tcp_tables_create();
  const tp = tables ? tcp_alloc(so, ops) : 0;
  let r = 0;
  if (tp == 0) r = tables ? -ENOBUFS : -ENOMEM;
  else {
    call_indirect<void>(OPS(ops).af_init, tp); // IPV6_V6ONLY's default
    const vv = V();
    if (vv.use_rfc1323 != 0) TP(tp).t_flags |= TF_REQ_SCALE | TF_REQ_TSTMP;
    if (vv.use_sack != 0) TP(tp).t_flags |= TF_SACK_REQ;
  }
  tcp_exit();
  return r;
}

function tcp_detach(so: usize): void {
  const tp = S(so).so_pcb;
  if (tp == 0) return;
  tcp_enter();
  const t = TP(tp);
  const st = t.t_state;
  if (st == TCPS_FIN_WAIT_1 || st == TCPS_FIN_WAIT_2 || st == TCPS_LAST_ACK || st == 7 /* CLOSING */ || st == TCPS_TIME_WAIT) {
    // The connection outlives its socket: take the unsent data along, into a sockbuf of
    // its own (the "tcpsb" zone: only closing connections with data unsent pay for it;
    // the others share an empty one, tp_sndbuf). Without one the connection cannot
    // finish: reset it.
    const sb = changetype<Sockbuf>(so_snd(so));
    if (sb.sb_mb != 0 || sb.sb_cc != 0) {
      const own = zone_alloc(TcpGlobals.sbzone);
      if (own == 0) {
        TCPSTAT_INC(TCPS_RCVMEMDROP);
        t.t_flags |= TF_INABORT;
        tcp_drop(tp, 0);
        tcp_free(tp);
        tcp_exit();
        return;
      }
      memory.copy(own, so_snd(so), SOCKBUF_SIZE);
      t.t_sb = own;
      sb.sb_mb = 0;
      sb.sb_mbtail = 0;
      sb.sb_lastrecord = 0;
      sb.sb_cc = 0;
      sb.sb_ctl = 0;
      sb.sb_mbcnt = 0;
    }
    t.t_socket = 0;
    S(so).so_pcb = 0;
    if (st == TCPS_FIN_WAIT_2) tcp_timer_activate(tp, TT_2MSL, TCPTV_FINWAIT2);
  } else {
    if (st == TCPS_ESTABLISHED || st == TCPS_CLOSE_WAIT) {
      t.t_flags |= TF_INABORT;
      tcp_drop(tp, 0);
    }
    tcp_free(tp);
  }
  tcp_exit();
}

/** The address and port of sa into abuf; the port, -1 for the wrong family, or -errno - 1 for a bad scope id (af_sa_to). */
function parse(tp: usize, sa: usize): i32 {
  const r = call_indirect<u32>(OPS(TP(tp).t_af).af_sa_to, sa, abuf);
  if (r == 0xffffffff) return -1;
  return r > 0xffff ? -<i32>(r & 0xffff) - 1 : <i32>r;
}

function ephemeral(tp: usize): i32 {
  const t = TP(tp);
  const vv = V();
  const first = TCP_EPH_FIRST;
  const n = TCP_EPH_COUNT; // net.inet.ip.portrange.hifirst .. hilast
  let p = vv.lastport;
  for (let i: u32 = 0; i < n; i++) {
    p = p + 1;
    if (p < first || p > 65535) p = first;
    const d = dualOps(tp);
    if (!tcp_port_used(t.t_af, <u16>p) && (d == 0 || !tcp_port_used(d, <u16>p))) {
      vv.lastport = p;
      t.t_lport = <u16>p;
      tcp_port_insert(tp);
      return 0;
    }
  }
  return -EADDRINUSE;
}

/**
 * The ephemeral port of a connect() to faddr:fport (the pcb's local address is chosen):
 * chosen per 4-tuple as FreeBSD and Linux do, so a port already serving other
 * destinations is taken again as long as the 4-tuple is new and nobody bound or listens
 * on it (tcp_port_usable). -EADDRNOTAVAIL when all of them are taken for this destination
 * (FreeBSD's in_pcb_lport_dest and Linux's connect() both say so).
 */
function ephemeral_connect(tp: usize, fport: u16): i32 {
  const t = TP(tp);
  const vv = V();
  const first = TCP_EPH_FIRST;
  const n = TCP_EPH_COUNT;
  let p = vv.lastport;
  for (let i: u32 = 0; i < n; i++) {
    p = p + 1;
    if (p < first || p > 65535) p = first;
    if (tcp_port_usable(t.t_af, tp_laddr(tp), <u16>p, tp_faddr(tp), fport)) {
      vv.lastport = p;
      t.t_lport = <u16>p;
      tcp_port_insert(tp);
      return 0;
    }
  }
  return -EADDRNOTAVAIL;
}

function tcp_bind(so: usize, sa: usize): i32 {
  const tp = S(so).so_pcb;
  if (tp == 0) return -EINVAL;
  const t = TP(tp);
  const port = parse(tp, sa);
  if (port == -1) return -EAFNOSUPPORT;
  if (port < 0) return port + 1;
  if (t.t_lport != 0 || t.t_state != TCPS_CLOSED) return -EINVAL;
  const ops0 = t.t_af;
  const flags0 = t.t_flags;
  let e = unmap(tp);
  if (e == -ENETUNREACH) e = -EADDRNOTAVAIL; // no such address here
  if (e != 0) return e;
  if (!addr_any(abuf)) t.t_flags &= ~TF_DUAL; // an address of its own family: that family only
  if (!addr_any(abuf) && !call_indirect<bool>(OPS(t.t_af).af_localip, abuf)) e = -EADDRNOTAVAIL;
  else {
    memory.copy(tp_laddr(tp), abuf, 16);
    if (port == 0) e = ephemeral(tp);
    else {
      const opts = S(so).so_options;
      const ra = (opts & <u32>SO_REUSEADDR) != 0, rp = (opts & <u32>SO_REUSEPORT) != 0, rl = (opts & <u32>SO_REUSEPORT_LB) != 0;
      const d = dualOps(tp); // a dual wildcard bind takes the other family's wildcard too
      if (tcp_port_conflict(tp, t.t_af, abuf, <u16>port, ra, rp, rl) || (d != 0 && tcp_port_conflict(tp, d, abuf, <u16>port, ra, rp, rl))) e = -EADDRINUSE;
      else {
        t.t_lport = <u16>port;
        tcp_port_insert(tp);
      }
    }
  }
  if (e != 0) {
    memory.fill(tp_laddr(tp), 0, 16);
    t.t_af = ops0;
    t.t_flags = flags0;
  }
  return e;
}

function tcp_connect(so: usize, sa: usize): i32 {
  const tp = S(so).so_pcb;
  if (tp == 0) return -EINVAL;
  const t = TP(tp);
  const port = parse(tp, sa);
  if (port == -1) return -EAFNOSUPPORT;
  if (port < 0) return port + 1;
  if (t.t_state != TCPS_CLOSED) return -EISCONN;
  const ops0 = t.t_af;
  const flags0 = t.t_flags;
  const u = unmap(tp); // ::ffff:a.b.c.d: an IPv4 connection from now on
  if (u != 0) return u;
  // A connection is of one family: the pcb is no longer dual (restored if this fails).
  t.t_flags &= ~TF_DUAL;
  if (port == 0 || addr_any(abuf) || call_indirect<bool>(OPS(t.t_af).af_badaddr, abuf)) {
    t.t_af = ops0;
    t.t_flags = flags0;
    return -EADDRNOTAVAIL;
  }
  memory.copy(tp_faddr(tp), abuf, 16);
  if (addr_any(tp_laddr(tp))) {
    const r = call_indirect<i32>(OPS(t.t_af).af_selectsrc, tp_faddr(tp), tp_laddr(tp));
    if (r != 0) {
      memory.fill(tp_faddr(tp), 0, 16);
      memory.fill(tp_laddr(tp), 0, 16);
      t.t_af = ops0;
      t.t_flags = flags0;
      return neg(r);
    }
  }
  tcp_enter();
  let r = 0;
  // An ephemeral port is chosen with its 4-tuple free (tcp_port_usable); a bound one is
  // checked here.
  if (t.t_lport == 0) r = ephemeral_connect(tp, <u16>port);
  else if (tcp_lookup(t.t_af, tp_laddr(tp), t.t_lport, tp_faddr(tp), <u16>port) != 0) r = -EADDRINUSE;
  if (r != 0) {
    memory.fill(tp_faddr(tp), 0, 16);
    if (t.t_af != ops0) memory.fill(tp_laddr(tp), 0, 16); // the other family's source: back to ::
    t.t_af = ops0;
    t.t_flags = flags0;
    tcp_exit();
    return r;
  }
  t.t_fport = <u16>port;
  tcp_hash_insert(tp);
  t.t_rcvmss = tcp_mss_from(tp);
  t.t_maxseg = t.t_rcvmss;
  request_scale(tp);
  t.iss = tcp_new_isn(tp_laddr(tp), tp_faddr(tp), t.t_lport, t.t_fport);
  t.snd_una = t.iss;
  t.snd_nxt = t.iss;
  t.snd_max = t.iss;
  t.snd_recover = t.iss;
  t.ts_offset = tcp_ts_offset(tp_laddr(tp), tp_faddr(tp), t.t_lport, t.t_fport);
  t.t_state = TCPS_SYN_SENT;
  t.t_rcvtime = ticks();
  TCPSTAT_INC(TCPS_CONNATTEMPT);
  soisconnecting(so);
  tcp_timer_activate(tp, TT_KEEP, <u64>t.t_keepinit * 1_000_000);
  tcp_output(tp);
  tcp_exit();
  // Inside one kernel the answer may already be here: a RST refused us.
  const s = S(so);
  if (s.so_pcb != 0 && TP(s.so_pcb).t_state == TCPS_CLOSED && s.so_error != 0) {
    const e = s.so_error;
    s.so_error = 0;
    return -e;
  }
  return 0;
}

/**
 * tcp_usrclosed: no more data from us. CLOSED/LISTEN/SYN_SENT end at once; SYN_RECEIVED
 * sends its FIN after the handshake; ESTABLISHED -> FIN_WAIT_1; CLOSE_WAIT -> LAST_ACK.
 * Returns 0 when tp went away.
 */
function tcp_usrclosed(tp: usize): usize {
  const t = TP(tp);
  const st = t.t_state;
  if (st == TCPS_CLOSED || st == TCPS_LISTEN || st == TCPS_SYN_SENT) {
    tcp_close(tp);
    return 0;
  }
  if (st == TCPS_SYN_RECEIVED) t.t_flags |= TF_NEEDFIN;
  else if (st == TCPS_ESTABLISHED) t.t_state = TCPS_FIN_WAIT_1;
  else if (st == TCPS_CLOSE_WAIT) t.t_state = TCPS_LAST_ACK;
  return tp;
}

function tcp_disconnect(so: usize): i32 {
  const tp = S(so).so_pcb;
  if (tp == 0) return -ENOTCONN;
  tcp_enter();
  const t = TP(tp);
  const s = S(so);
  if (t.t_state < TCPS_ESTABLISHED) {
    tcp_close(tp);
  } else if (((s.so_options & <u32>SO_LINGER) != 0 && s.so_linger == 0) || changetype<Sockbuf>(so_rcv(so)).sb_cc != 0) {
    // SO_LINGER 0, or data the application never read: abort with a RST.
    tcp_drop(tp, 0);
  } else {
    soisdisconnecting(so);
    sbflush(so_rcv(so));
    if (tcp_usrclosed(tp) != 0) tcp_output(tp);
  }
  tcp_exit();
  return 0;
}

function tcp_listen(so: usize, backlog: i32): i32 {
  const tp = S(so).so_pcb;
  if (tp == 0) return -EINVAL;
  const t = TP(tp);
  if (t.t_state != TCPS_CLOSED && t.t_state != TCPS_LISTEN) return -EINVAL;
  tcp_enter();
  let r = 0;
  if (t.t_lport == 0) r = ephemeral(tp);
  if (r == 0 && t.t_state != TCPS_LISTEN) r = tcp_listen_insert(tp);
  if (r == 0) {
    t.t_state = TCPS_LISTEN;
    request_scale(tp);
  }
  tcp_exit();
  return r;
}

function tcp_accept(so: usize, sa_out: usize): i32 {
  const tp = S(so).so_pcb;
  if (tp == 0) return -ECONNABORTED;
  to_sa(so, tp, sa_out, tp_faddr(tp), TP(tp).t_fport);
  return 0;
}

function tcp_send(so: usize, m: usize, sa: usize, control: usize, flags: i32): i32 {
  if (control != 0) m_freem(control);
  const tp = S(so).so_pcb;
  // Implied connect (FreeBSD's tcp_usr_send): sendto() with an address on a socket that
  // never connected connects it, and the data waits in the send buffer for the handshake.
  if (tp != 0 && sa != 0 && TP(tp).t_state == TCPS_CLOSED && (S(so).so_state & SS_ISDISCONNECTED) == 0) {
    const r = tcp_connect(so, sa);
    if (r != 0) {
      m_freem(m);
      return r;
    }
    if (S(so).so_pcb != tp || TP(tp).t_state < TCPS_SYN_SENT) {
      m_freem(m);
      return -ENOTCONN;
    }
    tcp_enter();
    sbappendstream(so_snd(so), m);
    tcp_output(tp);
    tcp_exit();
    return 0;
  }
  if (tp == 0 || TP(tp).t_state < TCPS_SYN_SENT) {
    m_freem(m);
    return -ENOTCONN;
  }
  // An address given to sendto() on a connection that is already under way is ignored, as
  // FreeBSD's tcp_usr_send (and Linux's tcp_sendmsg) ignore it: the data goes to the peer.
  tcp_enter();
  sbappendstream(so_snd(so), m);
  tcp_output(tp);
  tcp_exit();
  return 0;
}

function tcp_rcvd(so: usize, flags: i32): void {
  const tp = S(so).so_pcb;
  if (tp == 0 || TP(tp).t_state < TCPS_ESTABLISHED) return;
  tcp_enter();
  tcp_output(tp); // a window update if the window opened enough
  tcp_exit();
}

function tcp_shutdown(so: usize): i32 {
  const tp = S(so).so_pcb;
  if (tp == 0) return -ENOTCONN;
  tcp_enter();
  if (tcp_usrclosed(tp) != 0) tcp_output(tp);
  tcp_exit();
  return 0;
}

function tcp_sockaddr(so: usize, sa_out: usize): i32 {
  const tp = S(so).so_pcb;
  if (tp == 0) return -EINVAL;
  to_sa(so, tp, sa_out, tp_laddr(tp), TP(tp).t_lport);
  return 0;
}

function tcp_peeraddr(so: usize, sa_out: usize): i32 {
  const tp = S(so).so_pcb;
  if (tp == 0 || TP(tp).t_fport == 0) return -ENOTCONN;
  to_sa(so, tp, sa_out, tp_faddr(tp), TP(tp).t_fport);
  return 0;
}

function tcp_ctloutput(so: usize, dir: i32, level: i32, name: i32, valp: usize): i32 {
  const tp = S(so).so_pcb;
  if (tp == 0) return -ECONNABORTED;
  const t = TP(tp);
  if (level == SOL_SOCKET) {
    if (dir == SOPT_SET && name == SO_KEEPALIVE && t.t_state >= TCPS_ESTABLISHED && t.t_state <= TCPS_CLOSE_WAIT) {
      tcp_enter();
      if (load<i32>(valp) != 0) tcp_timer_activate(tp, TT_KEEP, <u64>t.t_keepidle * 1_000_000);
      tcp_exit();
    }
    return 0;
  }
  if (level != <i32>IPPROTO_TCP) {
    // The family's own level (IPPROTO_IPV6: IPV6_V6ONLY), by the socket's family.
    const own = opsFor(S(so).so_family);
    return own != 0 ? call_indirect<i32>(OPS(own).af_ctloutput, tp, dir, level, name, valp) : -ENOPROTOOPT;
  }
  const v = load<i32>(valp);
  if (dir == SOPT_GET) {
    let out: i32 = 0;
    if (name == TCP_NODELAY) out = (t.t_flags & TF_NODELAY) != 0 ? 1 : 0;
    else if (name == TCP_MAXSEG) out = <i32>t.t_maxseg;
    else if (name == TCP_NOOPT) out = (t.t_flags & TF_NOOPT) != 0 ? 1 : 0;
    else if (name == TCP_KEEPIDLE) out = <i32>t.t_keepidle;
    else if (name == TCP_KEEPINTVL) out = <i32>t.t_keepintvl;
    else if (name == TCP_KEEPCNT) out = <i32>t.t_keepcnt;
    else if (name == TCP_KEEPINIT) out = <i32>t.t_keepinit;
    else if (name == TCP_CONGESTION) out = <i32>t.t_cc_algo;
    else if (name == TCP_INFO_STATE) out = <i32>t.t_state;
    else return -ENOPROTOOPT;
    store<i32>(valp, out);
    return 0;
  }
  if (name == TCP_NODELAY) {
    if (v != 0) t.t_flags |= TF_NODELAY;
    else t.t_flags &= ~TF_NODELAY;
    if (v != 0 && t.t_state >= TCPS_ESTABLISHED) {
      tcp_enter();
      tcp_output(tp);
      tcp_exit();
    }
  } else if (name == TCP_MAXSEG) {
    if (v < <i32>TCP_MINMSS || v > 65535) return -EINVAL;
    t.t_maxseg_user = v;
    if (t.t_state >= TCPS_ESTABLISHED && <u32>t.t_maxseg > <u32>v) t.t_maxseg = v;
  } else if (name == TCP_NOOPT) {
    if (v != 0) t.t_flags |= TF_NOOPT;
    else t.t_flags &= ~TF_NOOPT;
  } else if (name == TCP_KEEPIDLE || name == TCP_KEEPINTVL || name == TCP_KEEPCNT || name == TCP_KEEPINIT) {
    if (v <= 0 || v > 0x7fffffff / 1000 || (name == TCP_KEEPCNT && v > 255)) return -EINVAL;
    if (name == TCP_KEEPIDLE) {
      t.t_keepidle = <u32>v;
      if ((S(so).so_options & <u32>SO_KEEPALIVE) != 0 && t.t_state >= TCPS_ESTABLISHED && t.t_state <= TCPS_CLOSE_WAIT) {
        tcp_enter();
        tcp_timer_activate(tp, TT_KEEP, <u64>v * 1_000_000);
        tcp_exit();
      }
    } else if (name == TCP_KEEPINTVL) t.t_keepintvl = <u32>v;
    else if (name == TCP_KEEPCNT) t.t_keepcnt = v;
    else t.t_keepinit = <u32>v;
  } else if (name == TCP_CONGESTION) {
    if (v < 0 || v > <i32>CC_CUBIC) return -EINVAL;
    if (<u32>t.t_cc_algo != <u32>v && !tcp_cc_set(tp, <u32>v)) return -ENOBUFS;
  } else {
    return -ENOPROTOOPT;
  }
  return 0;
}

function tcp_abort(so: usize): void {
  const tp = S(so).so_pcb;
  if (tp == 0) return;
  tcp_enter();
  TP(tp).t_flags |= TF_INABORT;
  if (TP(tp).t_state != TCPS_CLOSED) tcp_drop(tp, ECONNABORTED);
  tcp_exit();
}

import { PRU_SIZE, PRU_ATTACH, PRU_DETACH, PRU_BIND, PRU_CONNECT, PRU_DISCONNECT, PRU_LISTEN, PRU_ACCEPT, PRU_SEND, PRU_RCVD, PRU_SHUTDOWN, PRU_SOCKADDR, PRU_PEERADDR, PRU_CTLOUTPUT, PRU_ABORT } from "../../sys/socket";

export const tcp_usrreqs = memory.data(PRU_SIZE, 4);

export function tcp_usrreqs_init(): void {
  const t = tcp_usrreqs;
  store<u32>(t + PRU_ATTACH, tcp_attach.index);
  store<u32>(t + PRU_DETACH, tcp_detach.index);
  store<u32>(t + PRU_BIND, tcp_bind.index);
  store<u32>(t + PRU_CONNECT, tcp_connect.index);
  store<u32>(t + PRU_DISCONNECT, tcp_disconnect.index);
  store<u32>(t + PRU_LISTEN, tcp_listen.index);
  store<u32>(t + PRU_ACCEPT, tcp_accept.index);
  store<u32>(t + PRU_SEND, tcp_send.index);
  store<u32>(t + PRU_RCVD, tcp_rcvd.index);
  store<u32>(t + PRU_SHUTDOWN, tcp_shutdown.index);
  store<u32>(t + PRU_SOCKADDR, tcp_sockaddr.index);
  store<u32>(t + PRU_PEERADDR, tcp_peeraddr.index);
  store<u32>(t + PRU_CTLOUTPUT, tcp_ctloutput.index);
  store<u32>(t + PRU_ABORT, tcp_abort.index);
}

export { cc_conn_init, EOPNOTSUPP };
