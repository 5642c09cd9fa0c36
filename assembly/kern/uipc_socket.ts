// Sockets (FreeBSD uipc_socket.c): protocol-independent life of a socket and the calls on
// it. The protocol behind a socket is found through the protocol switch (uipc_domain.ts)
// and called through its pr_usrreqs table (sys/socket.ts), with curvnet = the socket's vnet.
// Buffers are in uipc_sockbuf.ts, events to the host in uipc_soevent.ts, the host's calls in
// uipc_syscalls.ts.
//
// Ownership. A socket comes from the "socket" zone (ZONE_CHARGE), charged to the vnet it is
// created in, and sits on that vnet's list (newest first). It dies with its vnet:
//   - stop hook (teardown checkpoint 1): every socket can send and receive no more;
//   - uninit (checkpoint 2) at (SI_SUB_PROTO_END, SI_ORDER_ANY): every socket left is
//     aborted (pru_abort, pru_detach) and freed, and the host hears SE_CLOSED|SE_ERROR with
//     so_error = ECONNABORTED. Protocols register their per-vnet state at
//     SI_SUB_PROTO_DOMAIN, a lower key, so their uninits run after this one: no pcb table is
//     freed under an open socket.
//
// The kernel never blocks: a call that would wait returns -EAGAIN (or -EINPROGRESS for a
// connect) and the host waits for the event.
//
// Where this differs from FreeBSD: no file descriptors, credentials, uio or control data
// (control mbufs are passed to pru_send as 0); SO_LINGER takes an int (seconds, < 0 = off);
// soclose never lingers; accept has one queue whose entries are marked complete or not.

import { Mbuf, MT_SONAME } from "../sys/mbuf";
import {
  Socket, Sockbuf, SO_MAGIC, SOCKET_SIZE, SOCK_STREAM, SOCK_SEQPACKET, SOCK_DGRAM,
  SS_NOFDREF, SS_ISCONNECTED, SS_ISCONNECTING, SS_ISDISCONNECTING, SS_CANTSENDMORE, SS_CANTRCVMORE, SS_NBIO,
  SS_ISCONFIRMING, SS_ISDISCONNECTED, SO_ACCEPTCONN, SO_LINGER, SO_BOOLOPTS, SO_SNDBUF, SO_RCVBUF, SO_SNDLOWAT,
  SO_RCVLOWAT, SO_ERROR, SO_TYPE, SO_PROTOCOL, SOL_SOCKET, SOPT_SET, SOPT_GET, MSG_PEEK, MSG_TRUNC,
  SHUT_RD, SHUT_WR, SHUT_RDWR, SE_READABLE, SE_WRITABLE, SE_CONNECTED, SE_CLOSED, SE_ERROR, SE_ACCEPTABLE,
  SB_SEL, SB_AUTOSIZE, SQ_INCOMP, SQ_COMP, SOMAXCONN, PR_ATOMIC, PR_ADDR, PR_CONNREQUIRED, PR_WANTRCVD, PR_IMPLOPCL, PR_STOPPING,
  DGRAM_SENDSPACE, DGRAM_RECVSPACE, STREAM_SENDSPACE, STREAM_RECVSPACE, SOCK_MAXADDRLEN,
  PRU_ATTACH, PRU_DETACH, PRU_BIND, PRU_CONNECT, PRU_DISCONNECT, PRU_LISTEN, PRU_ACCEPT, PRU_SEND, PRU_RCVD,
  PRU_SHUTDOWN, PRU_CTLOUTPUT, PRU_ABORT, so_rcv, so_snd,
} from "../sys/socket";
import {
  ENOMEM, EINVAL, EAFNOSUPPORT, EPROTOTYPE, EPROTONOSUPPORT, ENOBUFS, EOPNOTSUPP, EALREADY, EISCONN, ENOTCONN,
  EDESTADDRREQ, EMSGSIZE, EPIPE, EAGAIN, ENOPROTOOPT, ECONNABORTED,
} from "../sys/errno";
import { SI_SUB_PROTO_END, SI_ORDER_ANY } from "../sys/kernel";
import { zone_create, zone_alloc_in, zone_free_in, zone_set_vnet_limit, zone_vnet_stat, ZONE_CHARGE } from "./zone";
import { vnet_data_alloc, vnet_master, vnet_data_copy } from "./vnet_data";
import { vnet_sysinit_register } from "./sysinit";
import { Vnet, VNET, VNET_VNET, curvnet, CURVNET_SET, CURVNET_RESTORE, vnet_first, vnet_next, vnet_valid } from "./vnet";
import { m_freem, m_length, m_copydata } from "./uipc_mbuf";
import { pffindproto, pffinddomain, pr_req, pr_flags, pr_protocol, pr_ref, pr_unref } from "./uipc_domain";
import { sbreserve, sbflush, sbdrop, sbdroprecord } from "./uipc_sockbuf";
import { sowakeup, soevent_detach, soevent_boot } from "./uipc_soevent";

/** Default per-vnet socket limit (kern.ipc.maxsockets per stack); zone_set_vnet_limit changes it. */
export const SO_VNET_LIMIT: u32 = 65536;

let sozone: usize = 0;
let V_so_head: u32 = 0; // VNET: first socket of the vnet (usize), then the count (u32)
let nextSerial: u32 = 1;
let lastError: i32 = 0;
let lastRcvFlags: i32 = 0;

export function socket_boot(): i32 {
  if (sozone != 0) return 0;
  sozone = zone_create("socket", SOCKET_SIZE, 0, ZONE_CHARGE, SO_VNET_LIMIT);
  if (sozone == 0) return -ENOMEM;
  const off = vnet_data_alloc(8, 4);
  if (off < 0) return off;
  V_so_head = <u32>off;
  store<u64>(vnet_master(V_so_head), 0);
  vnet_data_copy(V_so_head, 8);
  const r = soevent_boot();
  if (r != 0) return r;
  return vnet_sysinit_register(SI_SUB_PROTO_END, SI_ORDER_ANY, 0, so_vnet_stop.index, so_vnet_uninit.index);
}

export function socket_zone(): usize { return sozone; }

/**
 * kern.ipc.maxsockets of vnet v (one per stack here): with n > 0 set it to n; either way
 * return it. Sockets already open stay; past the limit socket() and a listener's new
 * connections fail with ENOBUFS, counted as the socket zone's failures. -EINVAL for a bad
 * vnet or before the socket layer is up.
 */
export function so_maxsockets(v: usize, n: u32): i32 {
  if (sozone == 0 || !vnet_valid(v)) return -EINVAL;
  if (n > 0x7fffffff) return -EINVAL;
  if (n != 0) zone_set_vnet_limit(sozone, vbase(v), n);
  return <i32>zone_vnet_stat(sozone, vbase(v), 1);
}

/** The error of the last socreate / soaccept / sonewconn that returned 0 (negative errno). */
export function so_lasterror(): i32 { return lastError; }
/** msg_flags of the last soreceive (MSG_TRUNC). */
export function so_rcvflags(): i32 { return lastRcvFlags; }

@inline function S(so: usize): Socket { return changetype<Socket>(so); }
@inline function SB(sb: usize): Sockbuf { return changetype<Sockbuf>(sb); }
@inline function vbase(v: usize): usize { return changetype<Vnet>(v).base; }

/** True if so is an allocated socket (checks pointers that come from the host). */
export function so_valid(so: usize): bool {
  return so != 0 && (so & 7) == 0 && so <= (<usize>memory.size() << 16) - SOCKET_SIZE && S(so).so_magic == SO_MAGIC;
}

/** First socket of vnet v (then so_next). */
export function so_first_vnet(v: usize): usize { return load<usize>(VNET_VNET(v, V_so_head)); }
export function so_count_vnet(v: usize): u32 { return load<u32>(VNET_VNET(v, V_so_head) + 4); }

// ---------------------------------------------------------------------------------------
// Life: create, free, close, abort

function soalloc(pr: usize, family: u32, type: u32, protocol: u32): usize {
  const v = curvnet();
  const so = zone_alloc_in(sozone, vbase(v));
  if (so == 0) return 0;
  memory.fill(so, 0, SOCKET_SIZE);
  const s = S(so);
  s.so_magic = SO_MAGIC;
  s.so_serial = nextSerial++;
  if (nextSerial == 0) nextSerial = 1;
  s.so_type = <u16>type;
  s.so_family = <u16>family;
  s.so_protocol = <u16>protocol;
  s.so_proto = pr;
  s.so_vnet = v;
  s.so_state = SS_NBIO;
  const stream = type == SOCK_STREAM || type == SOCK_SEQPACKET;
  sbreserve(so_snd(so), stream ? STREAM_SENDSPACE : DGRAM_SENDSPACE);
  sbreserve(so_rcv(so), stream ? STREAM_RECVSPACE : DGRAM_RECVSPACE);
  SB(so_rcv(so)).sb_lowat = 1;
  SB(so_snd(so)).sb_lowat = 2048;
  SB(so_rcv(so)).sb_flags = SB_SEL; // armed: the first data posts 'readable'
  // Stream buffers start at the defaults and may be grown by the protocol (TCP's
  // autotuning) until the user sets a size.
  if (stream) {
    SB(so_rcv(so)).sb_flags |= SB_AUTOSIZE;
    SB(so_snd(so)).sb_flags |= SB_AUTOSIZE;
  }
  // The vnet's list, newest first.
  const head = VNET(V_so_head);
  const first = load<usize>(head);
  s.so_next = first;
  if (first != 0) S(first).so_prev = so;
  store<usize>(head, so);
  store<u32>(head + 4, load<u32>(head + 4) + 1);
  pr_ref(pr);
  return so;
}

/** Return so to its zone (nothing is attached to it any more). */
function sodealloc(so: usize): void {
  const s = S(so);
  const v = s.so_vnet;
  const head = VNET_VNET(v, V_so_head);
  if (s.so_prev != 0) S(s.so_prev).so_next = s.so_next;
  else store<usize>(head, s.so_next);
  if (s.so_next != 0) S(s.so_next).so_prev = s.so_prev;
  store<u32>(head + 4, load<u32>(head + 4) - 1);
  pr_unref(s.so_proto);
  s.so_magic = 0;
  zone_free_in(sozone, so, vbase(v));
}

/**
 * socreate: a socket of (domain, type, protocol) in curvnet, attached to its protocol.
 * Returns it, or 0 with so_lasterror(): -EAFNOSUPPORT (no such domain), -EPROTOTYPE (type
 * not served), -EPROTONOSUPPORT, -ENOBUFS (zone or vnet limit), or pru_attach's error.
 */
export function socreate(domain: u32, type: u32, protocol: u32): usize {
  const pr = pffindproto(domain, type, protocol);
  if (pr == 0) {
    lastError = !pffinddomain(domain) ? -EAFNOSUPPORT : protocol == 0 && type != 0 ? -EPROTOTYPE : -EPROTONOSUPPORT;
    return 0;
  }
  if (pr_flags(pr) & PR_STOPPING) {
    lastError = -EPROTONOSUPPORT; // its module is being unloaded
    return 0;
  }
  const pp = pr_protocol(pr);
  const so = soalloc(pr, domain, type, pp != 0 ? pp : protocol);
  if (so == 0) {
    lastError = -ENOBUFS;
    return 0;
  }
  const f = pr_req(pr, PRU_ATTACH);
  const r = f != 0 ? call_indirect<i32>(f, so, <i32>protocol) : -EOPNOTSUPP;
  if (r != 0) {
    sbflush(so_rcv(so)); // whatever the protocol may have queued
    sbflush(so_snd(so));
    sodealloc(so);
    lastError = r < 0 ? r : -r;
    return 0;
  }
  return so;
}

function qremove(so: usize): void {
  const s = S(so);
  const head = s.so_head;
  if (head == 0) return;
  const h = S(head);
  if (s.so_qprev != 0) S(s.so_qprev).so_qnext = s.so_qnext;
  else h.so_qnext = s.so_qnext;
  if (s.so_qnext != 0) S(s.so_qnext).so_qprev = s.so_qprev;
  else h.so_qtail = s.so_qprev;
  if (s.so_qstate == SQ_COMP) h.so_qlen--;
  else h.so_incqlen--;
  s.so_head = 0;
  s.so_qnext = 0;
  s.so_qprev = 0;
  s.so_qstate = 0;
}

function qinsert(head: usize, so: usize, state: u16): void {
  const h = S(head);
  const s = S(so);
  s.so_head = head;
  s.so_qstate = state;
  s.so_qnext = 0;
  s.so_qprev = h.so_qtail;
  if (h.so_qtail != 0) S(h.so_qtail).so_qnext = so;
  else h.so_qnext = so;
  h.so_qtail = so;
  if (state == SQ_COMP) h.so_qlen++;
  else h.so_incqlen++;
}

/**
 * sofree: detach so from its protocol and free it, with its buffers and any connections
 * still queued on it (aborted). finalbits: events the host must still hear (0 when the host
 * itself closed it).
 */
function sofree(so: usize, finalbits: u32): void {
  const s = S(so);
  const old = CURVNET_SET(s.so_vnet);
  while (s.so_qnext != 0) {
    const c = s.so_qnext;
    qremove(c);
    soabort(c);
  }
  qremove(so);
  const f = pr_req(s.so_proto, PRU_DETACH);
  if (f != 0) call_indirect<void>(f, so);
  soevent_detach(so, finalbits);
  sbflush(so_rcv(so));
  sbflush(so_snd(so));
  sodealloc(so);
  CURVNET_RESTORE(old);
}

/**
 * soabort: drop so now (pru_abort, then detach and free). Used for connections queued on a
 * closing listener and by vnet teardown; a socket the host holds hears SE_CLOSED|SE_ERROR.
 */
export function soabort(so: usize): void {
  const s = S(so);
  const old = CURVNET_SET(s.so_vnet);
  s.so_state |= SS_CANTRCVMORE | SS_CANTSENDMORE;
  if (s.so_error == 0) s.so_error = ECONNABORTED;
  const f = pr_req(s.so_proto, PRU_ABORT);
  if (f != 0) call_indirect<void>(f, so);
  sofree(so, (s.so_state & SS_NOFDREF) != 0 ? 0 : SE_CLOSED | SE_ERROR);
  CURVNET_RESTORE(old);
}

/** soclose: the host is done with so: disconnect a connection, then detach and free. */
export function soclose(so: usize): i32 {
  const s = S(so);
  const old = CURVNET_SET(s.so_vnet);
  if ((s.so_state & (SS_ISCONNECTED | SS_ISCONNECTING)) != 0 && (s.so_state & SS_ISDISCONNECTING) == 0 &&
      (pr_flags(s.so_proto) & PR_CONNREQUIRED) != 0) {
    const f = pr_req(s.so_proto, PRU_DISCONNECT);
    if (f != 0) call_indirect<i32>(f, so);
  }
  s.so_state |= SS_NOFDREF;
  sofree(so, 0);
  CURVNET_RESTORE(old);
  return 0;
}

/**
 * A protocol entry is going away with sockets still open (forced unload): free each without
 * calling the protocol (its table slots are already cleared), telling the host.
 */
export function so_orphan_protosw(pr: usize): u32 {
  let n: u32 = 0;
  for (let v = vnet_first(); v != 0; v = vnet_next(v)) {
    let so = so_first_vnet(v);
    while (so != 0) {
      if (S(so).so_proto != pr) {
        so = S(so).so_next;
        continue;
      }
      soabort(so);
      n++;
      so = so_first_vnet(v); // freeing a listener may free others: start again
    }
  }
  return n;
}

// Teardown hooks, with curvnet = the dying vnet.

function so_vnet_stop(): void {
  for (let so = load<usize>(VNET(V_so_head)); so != 0; so = S(so).so_next) {
    S(so).so_state |= SS_CANTRCVMORE | SS_CANTSENDMORE;
  }
}

function so_vnet_uninit(): void {
  let so = load<usize>(VNET(V_so_head));
  while (so != 0) {
    soabort(so);
    so = load<usize>(VNET(V_so_head));
  }
}

// ---------------------------------------------------------------------------------------
// Calls on a socket (curvnet = the socket's vnet; each returns 0 or a negative errno)

@inline function req(so: usize, which: usize): u32 {
  return pr_req(S(so).so_proto, which);
}

export function sobind(so: usize, sa: usize): i32 {
  const f = req(so, PRU_BIND);
  if (f == 0) return -EOPNOTSUPP;
  return neg(call_indirect<i32>(f, so, sa));
}

@inline function neg(r: i32): i32 { return r > 0 ? -r : r; }

/**
 * soconnect: a connection-based socket connects once (-EISCONN, -EALREADY); a datagram
 * socket that is connected is disconnected first. The protocol calls soisconnecting or
 * soisconnected.
 */
export function soconnect(so: usize, sa: usize): i32 {
  const s = S(so);
  if (s.so_options & SO_ACCEPTCONN) return -EOPNOTSUPP;
  if (pr_flags(s.so_proto) & PR_STOPPING) return -ECONNABORTED; // its module is being unloaded
  if (s.so_state & (SS_ISCONNECTED | SS_ISCONNECTING)) {
    if (pr_flags(s.so_proto) & PR_CONNREQUIRED) return s.so_state & SS_ISCONNECTING ? -EALREADY : -EISCONN;
    sodisconnect(so);
  }
  const f = req(so, PRU_CONNECT);
  if (f == 0) return -EOPNOTSUPP;
  s.so_error = 0;
  return neg(call_indirect<i32>(f, so, sa));
}

export function sodisconnect(so: usize): i32 {
  const s = S(so);
  if ((s.so_state & SS_ISCONNECTED) == 0) return -ENOTCONN;
  if (s.so_state & SS_ISDISCONNECTING) return -EALREADY;
  const f = req(so, PRU_DISCONNECT);
  if (f == 0) return -EOPNOTSUPP;
  return neg(call_indirect<i32>(f, so));
}

/** solisten: backlog < 0 or > SOMAXCONN means SOMAXCONN. */
export function solisten(so: usize, backlog: i32): i32 {
  const s = S(so);
  if (s.so_state & (SS_ISCONNECTED | SS_ISCONNECTING | SS_ISDISCONNECTING)) return -EINVAL;
  if (pr_flags(s.so_proto) & PR_STOPPING) return -ECONNABORTED; // its module is being unloaded
  const f = req(so, PRU_LISTEN);
  if (f == 0) return -EOPNOTSUPP;
  const r = neg(call_indirect<i32>(f, so, backlog));
  if (r != 0) return r;
  s.so_options |= SO_ACCEPTCONN;
  s.so_qlimit = backlog < 0 || backlog > <i32>SOMAXCONN ? SOMAXCONN : <u32>backlog;
  return 0;
}

/**
 * soaccept: the first complete connection queued on listener head, taken off the queue;
 * its peer's address in sa_out (sa_len 0 if the protocol gives none). 0 with so_lasterror()
 * -EAGAIN when none waits, -EINVAL when head is not listening.
 */
export function soaccept(head: usize, sa_out: usize): usize {
  const h = S(head);
  if ((h.so_options & SO_ACCEPTCONN) == 0) {
    lastError = -EINVAL;
    return 0;
  }
  let so = h.so_qnext;
  while (so != 0 && S(so).so_qstate != SQ_COMP) so = S(so).so_qnext;
  if (so == 0) {
    lastError = h.so_state & SS_CANTRCVMORE ? -ECONNABORTED : -EAGAIN;
    return 0;
  }
  qremove(so);
  S(so).so_state &= ~SS_NOFDREF;
  if (sa_out != 0) store<u8>(sa_out, 0);
  const f = req(so, PRU_ACCEPT);
  if (f != 0) {
    const r = neg(call_indirect<i32>(f, so, sa_out));
    if (r != 0) {
      S(so).so_state |= SS_NOFDREF;
      sofree(so, 0);
      lastError = r;
      return 0;
    }
  }
  return so;
}

/**
 * sonewconn: a connection arrives for listener head (the protocol's input, curvnet = head's
 * vnet): a new socket like head, attached to the protocol, queued on head (complete when
 * connstatus is SS_ISCONNECTED, else incomplete until soisconnected). 0 when head is not
 * listening or its queue is full (counted in head's receive drops).
 */
export function sonewconn(head: usize, connstatus: u32): usize {
  const h = S(head);
  if ((h.so_options & SO_ACCEPTCONN) == 0 || (h.so_state & SS_CANTRCVMORE) != 0) return 0;
  if (h.so_qlen + h.so_incqlen > 3 * h.so_qlimit / 2) {
    SB(so_rcv(head)).sb_drops++;
    lastError = -ENOBUFS;
    return 0;
  }
  const old = CURVNET_SET(h.so_vnet);
  const so = soalloc(h.so_proto, h.so_family, h.so_type, h.so_protocol);
  if (so == 0) {
    CURVNET_RESTORE(old);
    lastError = -ENOBUFS;
    return 0;
  }
  const s = S(so);
  s.so_options = h.so_options & ~SO_ACCEPTCONN;
  s.so_linger = h.so_linger;
  s.so_state = h.so_state | SS_NOFDREF;
  sbreserve(so_snd(so), SB(so_snd(head)).sb_hiwat);
  sbreserve(so_rcv(so), SB(so_rcv(head)).sb_hiwat);
  SB(so_rcv(so)).sb_lowat = SB(so_rcv(head)).sb_lowat;
  SB(so_snd(so)).sb_lowat = SB(so_snd(head)).sb_lowat;
  // A size the user set on the listener holds for its connections too (FreeBSD sonewconn).
  SB(so_snd(so)).sb_flags = (SB(so_snd(so)).sb_flags & ~SB_AUTOSIZE) | (SB(so_snd(head)).sb_flags & SB_AUTOSIZE);
  SB(so_rcv(so)).sb_flags = (SB(so_rcv(so)).sb_flags & ~SB_AUTOSIZE) | (SB(so_rcv(head)).sb_flags & SB_AUTOSIZE);
  const f = req(so, PRU_ATTACH);
  const r = f != 0 ? call_indirect<i32>(f, so, <i32>h.so_protocol) : -EOPNOTSUPP;
  if (r != 0) {
    sbflush(so_rcv(so));
    sbflush(so_snd(so));
    sodealloc(so);
    CURVNET_RESTORE(old);
    lastError = neg(r);
    return 0;
  }
  if (connstatus & SS_ISCONNECTED) {
    s.so_state |= SS_ISCONNECTED;
    qinsert(head, so, SQ_COMP);
    sowakeup(head, SE_ACCEPTABLE);
  } else {
    qinsert(head, so, SQ_INCOMP);
  }
  CURVNET_RESTORE(old);
  return so;
}

/** soshutdown: SHUT_RD flushes and ends receiving, SHUT_WR ends sending (pru_shutdown). */
export function soshutdown(so: usize, how: i32): i32 {
  const s = S(so);
  if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR) return -EINVAL;
  let r: i32 = 0;
  if ((s.so_state & (SS_ISCONNECTED | SS_ISCONNECTING | SS_ISDISCONNECTING)) == 0) {
    if (s.so_type != <u16>SOCK_DGRAM && (s.so_options & SO_ACCEPTCONN) == 0) return -ENOTCONN;
    r = -ENOTCONN; // POSIX: a datagram socket is shut down all the same, and told
  }
  if (how != SHUT_WR) {
    socantrcvmore(so);
    sbflush(so_rcv(so));
  }
  if (how != SHUT_RD) {
    socantsendmore(so);
    const f = req(so, PRU_SHUTDOWN);
    if (f != 0) {
      const e = neg(call_indirect<i32>(f, so));
      if (e != 0) r = e;
    }
  }
  return r;
}

/**
 * sosend: hand packet m (M_PKTHDR chain) to the protocol, to sa (0 = the connected peer),
 * control an MT_CONTROL mbuf or 0 (UDP reads IP_SENDSRCADDR from it). Always takes m.
 * Checks in BSD order: can't send (-EPIPE), a pending error (reported once), not connected (-ENOTCONN, -EDESTADDRREQ), too big for an atomic
 * protocol (-EMSGSIZE). Stream space is the caller's to check (sbspace(so_snd(so))).
 */
export function sosend(so: usize, sa: usize, m: usize, control: usize, flags: i32): i32 {
  const s = S(so);
  const old = CURVNET_SET(s.so_vnet);
  const r = sosendChecked(so, sa, m, control, flags);
  CURVNET_RESTORE(old);
  return r;
}

function sosendChecked(so: usize, sa: usize, m: usize, control: usize, flags: i32): i32 {
  const s = S(so);
  const pflags = pr_flags(s.so_proto);
  let e: i32 = 0;
  if (s.so_state & SS_CANTSENDMORE) e = EPIPE;
  else if (s.so_error != 0) {
    e = s.so_error;
    s.so_error = 0;
  } else if ((s.so_state & SS_ISCONNECTED) == 0) {
    if (pflags & PR_CONNREQUIRED) {
      // PR_IMPLOPCL (TCP): a send with an address connects first (FreeBSD's implied
      // connect; tests/sys/netinet/tcp_socket.c implied_connect).
      if ((s.so_state & SS_ISCONFIRMING) == 0 && ((pflags & PR_IMPLOPCL) == 0 || sa == 0)) e = ENOTCONN;
    } else if (sa == 0) {
      e = EDESTADDRREQ;
    }
  }
  if (e == 0 && (pflags & PR_ATOMIC) != 0 && <u32>m_length(m) > SB(so_snd(so)).sb_hiwat) e = EMSGSIZE;
  const f = req(so, PRU_SEND);
  if (e == 0 && f == 0) e = EOPNOTSUPP;
  if (e != 0) {
    m_freem(m);
    m_freem(control);
    return -e;
  }
  return neg(call_indirect<i32>(f, so, m, sa, control, flags));
}

/**
 * soreceive: copy what is queued into dst (at most maxlen bytes). Datagram sockets: one
 * record, its sender's sockaddr into sa_out (SOCK_MAXADDRLEN bytes; sa_len 0 if none), the
 * rest of a longer datagram discarded and MSG_TRUNC set in so_rcvflags() (unless MSG_PEEK,
 * which leaves the record). Stream sockets: bytes, then pru_rcvd. Returns bytes, 0 at end of
 * stream (or a zero-length datagram), or -EAGAIN (and the host's 'readable' is armed),
 * a pending error once, -ENOTCONN.
 */
export function soreceive(so: usize, dst: usize, maxlen: i32, sa_out: usize, flags: i32): i32 {
  const s = S(so);
  const sb = so_rcv(so);
  const b = SB(sb);
  lastRcvFlags = 0;
  if (sa_out != 0) store<u8>(sa_out, 0);
  if (maxlen < 0) return -EINVAL;
  if (b.sb_mb == 0) {
    if (s.so_error != 0) {
      const e = s.so_error;
      if ((flags & MSG_PEEK) == 0) s.so_error = 0;
      return -e;
    }
    if (s.so_state & SS_CANTRCVMORE) return 0;
    const pflags = pr_flags(s.so_proto);
    if ((pflags & PR_CONNREQUIRED) != 0 && (s.so_state & (SS_ISCONNECTED | SS_ISCONNECTING)) == 0 &&
        (s.so_options & SO_ACCEPTCONN) == 0) return -ENOTCONN;
    b.sb_flags |= SB_SEL;
    return -EAGAIN;
  }
  const pflags = pr_flags(s.so_proto);
  const peek = (flags & MSG_PEEK) != 0;
  let n: i32 = 0;
  if (pflags & PR_ADDR) {
    let m = b.sb_mb;
    if (changetype<Mbuf>(m).m_type == MT_SONAME) {
      const mm = changetype<Mbuf>(m);
      if (sa_out != 0) memory.copy(sa_out, mm.m_data, <usize>min<u32>(<u32>mm.m_len, SOCK_MAXADDRLEN));
      m = mm.m_next;
    }
    let total: i32 = 0;
    for (; m != 0; m = changetype<Mbuf>(m).m_next) {
      const mm = changetype<Mbuf>(m);
      const c = min<i32>(mm.m_len, maxlen - n);
      if (c > 0) {
        memory.copy(dst + <usize>n, mm.m_data, <usize>c);
        n += c;
      }
      total += mm.m_len;
    }
    if (total > n) lastRcvFlags |= MSG_TRUNC;
    if (!peek) sbdroprecord(sb);
  } else {
    n = min<i32>(maxlen, <i32>b.sb_cc);
    if (n > 0) m_copydata(b.sb_mb, 0, n, dst);
    if (!peek) {
      sbdrop(sb, n);
      if (pflags & PR_WANTRCVD) {
        const f = req(so, PRU_RCVD);
        if (f != 0) call_indirect<void>(f, so, flags);
      }
    }
  }
  if (!peek && b.sb_mb == 0) b.sb_flags |= SB_SEL; // emptied: the next arrival is news
  return n;
}

// ---------------------------------------------------------------------------------------
// Options (int values; the value of a get is written at valp)

export function sosetopt(so: usize, level: i32, name: i32, val: i32): i32 {
  const s = S(so);
  const f = req(so, PRU_CTLOUTPUT);
  const valp = optval;
  store<i32>(valp, val);
  if (level != SOL_SOCKET) {
    if (f == 0) return -ENOPROTOOPT;
    return neg(call_indirect<i32>(f, so, SOPT_SET, level, name, valp));
  }
  if (name > 0 && (<u32>name & SO_BOOLOPTS) == <u32>name && popcnt<u32>(<u32>name) == 1) {
    if (val != 0) s.so_options |= <u32>name;
    else s.so_options &= ~<u32>name;
  } else if (name == SO_LINGER) {
    if (val >= 0) {
      s.so_options |= <u32>SO_LINGER;
      s.so_linger = val;
    } else {
      s.so_options &= ~<u32>SO_LINGER;
      s.so_linger = 0;
    }
  } else if (name == SO_SNDBUF || name == SO_RCVBUF) {
    if (val < 1) return -EINVAL;
    const b = name == SO_SNDBUF ? so_snd(so) : so_rcv(so);
    if (!sbreserve(b, <u32>val)) return -ENOBUFS;
    SB(b).sb_flags &= ~SB_AUTOSIZE; // the user chose a size: the protocol no longer tunes it
  } else if (name == SO_SNDLOWAT || name == SO_RCVLOWAT) {
    if (val < 0) return -EINVAL;
    const b = SB(name == SO_SNDLOWAT ? so_snd(so) : so_rcv(so));
    b.sb_lowat = min<u32>(<u32>val, b.sb_hiwat);
    if (name == SO_RCVLOWAT && b.sb_lowat == 0) b.sb_lowat = 1;
  } else {
    return -ENOPROTOOPT;
  }
  // The protocol hears of socket-level changes (FreeBSD sosetopt); its answer does not matter.
  if (f != 0) call_indirect<i32>(f, so, SOPT_SET, level, name, valp);
  return 0;
}

const optval = memory.data(8, 8);

export function sogetopt(so: usize, level: i32, name: i32, valp: usize): i32 {
  const s = S(so);
  if (level != SOL_SOCKET) {
    const f = req(so, PRU_CTLOUTPUT);
    if (f == 0) return -ENOPROTOOPT;
    return neg(call_indirect<i32>(f, so, SOPT_GET, level, name, valp));
  }
  let v: i32 = 0;
  if (name > 0 && ((<u32>name & (SO_BOOLOPTS | <u32>SO_ACCEPTCONN)) == <u32>name) && popcnt<u32>(<u32>name) == 1) {
    v = (s.so_options & <u32>name) != 0 ? 1 : 0;
  } else if (name == SO_LINGER) {
    v = (s.so_options & <u32>SO_LINGER) != 0 ? s.so_linger : -1;
  } else if (name == SO_SNDBUF) {
    v = <i32>SB(so_snd(so)).sb_hiwat;
  } else if (name == SO_RCVBUF) {
    v = <i32>SB(so_rcv(so)).sb_hiwat;
  } else if (name == SO_SNDLOWAT) {
    v = <i32>SB(so_snd(so)).sb_lowat;
  } else if (name == SO_RCVLOWAT) {
    v = <i32>SB(so_rcv(so)).sb_lowat;
  } else if (name == SO_ERROR) {
    v = s.so_error;
    s.so_error = 0;
  } else if (name == SO_TYPE) {
    v = <i32>s.so_type;
  } else if (name == SO_PROTOCOL) {
    v = <i32>s.so_protocol;
  } else {
    return -ENOPROTOOPT;
  }
  store<i32>(valp, v);
  return 0;
}

// ---------------------------------------------------------------------------------------
// State changes protocols report (FreeBSD soisconnected & co.), each waking the host

export function soisconnecting(so: usize): void {
  const s = S(so);
  s.so_state &= ~(SS_ISCONNECTED | SS_ISDISCONNECTING);
  s.so_state |= SS_ISCONNECTING;
}

/** Connected: a socket queued incomplete on a listener becomes acceptable; others wake 'connect'. */
export function soisconnected(so: usize): void {
  const s = S(so);
  s.so_state &= ~(SS_ISCONNECTING | SS_ISDISCONNECTING | SS_ISCONFIRMING | SS_ISDISCONNECTED);
  s.so_state |= SS_ISCONNECTED;
  const head = s.so_head;
  if (head != 0 && s.so_qstate == SQ_INCOMP) {
    qremove(so);
    qinsert(head, so, SQ_COMP);
    sowakeup(head, SE_ACCEPTABLE);
    return;
  }
  sowakeup(so, SE_CONNECTED);
}

export function soisdisconnecting(so: usize): void {
  const s = S(so);
  s.so_state &= ~SS_ISCONNECTING;
  s.so_state |= SS_ISDISCONNECTING | SS_CANTRCVMORE | SS_CANTSENDMORE;
  sowakeup(so, SE_READABLE | SE_WRITABLE);
}

/** Disconnected (a connection-based socket): no more data either way; unsent data goes. */
export function soisdisconnected(so: usize): void {
  const s = S(so);
  s.so_state &= ~(SS_ISCONNECTING | SS_ISCONNECTED | SS_ISDISCONNECTING);
  s.so_state |= SS_ISDISCONNECTED | SS_CANTRCVMORE | SS_CANTSENDMORE;
  sbdrop(so_snd(so), <i32>SB(so_snd(so)).sb_cc);
  sowakeup(so, SE_READABLE | SE_WRITABLE);
}

/** No more sends (shutdown, or the peer will take no more). */
export function socantsendmore(so: usize): void {
  S(so).so_state |= SS_CANTSENDMORE;
  sowakeup(so, SE_WRITABLE);
}

/** No more data will arrive (the peer's FIN): the reader sees end of stream. */
export function socantrcvmore(so: usize): void {
  S(so).so_state |= SS_CANTRCVMORE;
  sowakeup(so, SE_READABLE);
}

/** sorwakeup / sowwakeup: data arrived / send space opened. */
export function sorwakeup(so: usize): void {
  sowakeup(so, SE_READABLE);
}

export function sowwakeup(so: usize): void {
  sowakeup(so, SE_WRITABLE);
}

/** A protocol's asynchronous error (ICMP unreachable, RST): so_error set, the host told. */
export function soseterror(so: usize, err: i32): void {
  S(so).so_error = err < 0 ? -err : err;
  sowakeup(so, SE_ERROR | SE_READABLE);
}

/** pr_flags of so's protocol (PR_ATOMIC, PR_ADDR, PR_CONNREQUIRED, PR_WANTRCVD). */
export function so_pflags(so: usize): u32 {
  return pr_flags(S(so).so_proto);
}

