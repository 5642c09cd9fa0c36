// What the host calls to use sockets (FreeBSD uipc_syscalls.c): socket, bind, connect,
// listen, accept, sendto, recvfrom, shutdown, close, setsockopt, getsockopt, names, and the
// event drain. Data passes through the kernel's I/O buffer (kern_iobuf, 64 KiB), sockaddrs
// through kern_sabuf (SOCK_MAXADDRLEN bytes). Every socket pointer from the host is checked
// (so_valid: -EBADF otherwise) and curvnet is set to the socket's vnet for the call.

import { Mbuf, MT_DATA, MHLEN } from "../sys/mbuf";
import {
  Socket, Sockbuf, SOCK_MAXADDRLEN, SB_SEL, SS_ISCONNECTING, SS_ISCONNECTED, SS_CANTSENDMORE, PR_ATOMIC,
  PRU_SOCKADDR, PRU_PEERADDR, so_rcv, so_snd, sbspace,
} from "../sys/socket";
import { EBADF, EINVAL, ENOBUFS, EAGAIN, EINPROGRESS, EOPNOTSUPP, EMSGSIZE } from "../sys/errno";
import { vnet_valid, CURVNET_SET, CURVNET_RESTORE } from "./vnet";
import { m_gethdr, m_append, m_freem, m_align } from "./uipc_mbuf";
import { kern_iobuf, IOBUF_SIZE } from "../net/if_hostapi";
import { pr_req, pr_flags } from "./uipc_domain";
import {
  so_valid, socreate, so_lasterror, so_rcvflags, sobind, soconnect, solisten, soaccept, sosend, soreceive,
  soshutdown, soclose, sosetopt, sogetopt, so_first_vnet, so_count_vnet,
} from "./uipc_socket";
import { sbrecords } from "./uipc_sockbuf";
import { soevent_drain, soevent_out, soevent_lost_closed, soevent_stat } from "./uipc_soevent";

/** Room kept in front of the data of a packet the host sends: link + network + transport headers. */
export const SO_MAX_HDR: i32 = 96;

const sabuf = memory.data(SOCK_MAXADDRLEN, 8);
let soherr: i32 = 0;

/** The host's sockaddr window (SOCK_MAXADDRLEN bytes). */
export function kern_sabuf(): usize {
  return sabuf;
}

/** The error of the last soh_socket / soh_accept that returned 0. */
export function soh_error(): i32 {
  return soherr;
}

@inline function S(so: usize): Socket { return changetype<Socket>(so); }

/** The sockaddr the host put in sabuf is salen bytes and says so. */
@inline function saOk(salen: u32): bool {
  return salen >= 2 && salen <= SOCK_MAXADDRLEN && <u32>load<u8>(sabuf) == salen;
}

/** socket(2) in vnet v. The socket, or 0 and soh_error(). */
export function soh_socket(v: usize, domain: u32, type: u32, protocol: u32): usize {
  if (!vnet_valid(v)) {
    soherr = -EINVAL;
    return 0;
  }
  const old = CURVNET_SET(v);
  const so = socreate(domain, type, protocol);
  CURVNET_RESTORE(old);
  soherr = so == 0 ? so_lasterror() : 0;
  return so;
}

/** bind(2) to the sockaddr (salen bytes) in sabuf. */
export function soh_bind(so: usize, salen: u32): i32 {
  if (!so_valid(so)) return -EBADF;
  if (!saOk(salen)) return -EINVAL;
  const old = CURVNET_SET(S(so).so_vnet);
  const r = sobind(so, sabuf);
  CURVNET_RESTORE(old);
  return r;
}

/** connect(2): 0 when connected now, -EINPROGRESS when the host must wait for SE_CONNECTED. */
export function soh_connect(so: usize, salen: u32): i32 {
  if (!so_valid(so)) return -EBADF;
  if (!saOk(salen)) return -EINVAL;
  const old = CURVNET_SET(S(so).so_vnet);
  let r = soconnect(so, sabuf);
  if (r == 0 && (S(so).so_state & (SS_ISCONNECTING | SS_ISCONNECTED)) == SS_ISCONNECTING) r = -EINPROGRESS;
  CURVNET_RESTORE(old);
  return r;
}

export function soh_listen(so: usize, backlog: i32): i32 {
  if (!so_valid(so)) return -EBADF;
  const old = CURVNET_SET(S(so).so_vnet);
  const r = solisten(so, backlog);
  CURVNET_RESTORE(old);
  return r;
}

/** accept(2): the new socket (peer's address in sabuf), or 0 and soh_error() (-EAGAIN: none waiting). */
export function soh_accept(so: usize): usize {
  if (!so_valid(so)) {
    soherr = -EBADF;
    return 0;
  }
  const old = CURVNET_SET(S(so).so_vnet);
  const c = soaccept(so, sabuf);
  CURVNET_RESTORE(old);
  soherr = c == 0 ? so_lasterror() : 0;
  return c;
}

/** A packet holding len bytes of the I/O buffer from off, with room in front for headers; 0 if out of mbufs. */
function packetFromIobuf(off: u32, len: i32): usize {
  const m = m_gethdr(MT_DATA);
  if (m == 0) return 0;
  const mm = changetype<Mbuf>(m);
  if (len <= <i32>MHLEN - SO_MAX_HDR) m_align(m, len);
  else mm.m_data += <usize>SO_MAX_HDR;
  if (!m_append(m, len, kern_iobuf() + <usize>off)) {
    m_freem(m);
    return 0;
  }
  return m;
}

/**
 * sendto(2): len bytes of the I/O buffer, to the sockaddr in sabuf (salen 0 = none). Returns
 * the bytes taken or a negative errno. A datagram goes whole or not at all. A stream socket
 * takes what fits in its send buffer, and goes on taking while room opens again inside the
 * call (the peer's ACKs come back before sosend returns when it is a vnet of this kernel),
 * so one call moves the whole I/O buffer when the receiver keeps up; -EAGAIN if nothing
 * fits (the host then waits for SE_WRITABLE).
 */
export function soh_sendto(so: usize, len: u32, salen: u32, flags: i32): i32 {
  if (!so_valid(so)) return -EBADF;
  if (len > IOBUF_SIZE) return -EMSGSIZE;
  if (salen != 0 && !saOk(salen)) return -EINVAL;
  const s = S(so);
  const old = CURVNET_SET(s.so_vnet);
  const sa = salen != 0 ? sabuf : 0;
  let r: i32 = 0;
  if ((pr_flags(s.so_proto) & PR_ATOMIC) == 0) {
    const snd = so_snd(so);
    let off: u32 = 0;
    do {
      const space = sbspace(snd);
      if (space <= 0 && len > 0) {
        if (off == 0) {
          changetype<Sockbuf>(snd).sb_flags |= SB_SEL;
          r = -EAGAIN;
        }
        break;
      }
      const n = min<i32>(<i32>(len - off), max<i32>(space, 0));
      const m = packetFromIobuf(off, n);
      const e = m == 0 ? -ENOBUFS : sosend(so, sa, m, 0, flags);
      if (e != 0) {
        if (off == 0) r = e; // after progress the error shows on the next call
        break;
      }
      off += <u32>n;
      // A reset or shutdown that came in during sosend is the next call's to report: sosend
      // would consume so_error here and the host, holding a count, could not show it.
      if (s.so_error != 0 || (s.so_state & SS_CANTSENDMORE) != 0) break;
    } while (off < len);
    if (r == 0) r = <i32>off;
  } else if (len > changetype<Sockbuf>(so_snd(so)).sb_hiwat) {
    r = -EMSGSIZE;
  } else {
    const m = packetFromIobuf(0, <i32>len);
    r = m == 0 ? -ENOBUFS : sosend(so, sa, m, 0, flags);
    if (r == 0) r = <i32>len;
  }
  CURVNET_RESTORE(old);
  return r;
}

/**
 * recvfrom(2): up to maxlen bytes into the I/O buffer, the sender's sockaddr into sabuf
 * (sa_len 0 if none). Bytes, 0 at end of stream, or a negative errno (-EAGAIN: nothing yet).
 * soh_recvflags() then says MSG_TRUNC if a datagram was cut.
 */
export function soh_recvfrom(so: usize, maxlen: u32, flags: i32): i32 {
  if (!so_valid(so)) return -EBADF;
  const old = CURVNET_SET(S(so).so_vnet);
  const r = soreceive(so, kern_iobuf(), <i32>min<u32>(maxlen, IOBUF_SIZE), sabuf, flags);
  CURVNET_RESTORE(old);
  return r;
}

export function soh_recvflags(): i32 {
  return so_rcvflags();
}

export function soh_shutdown(so: usize, how: i32): i32 {
  if (!so_valid(so)) return -EBADF;
  const old = CURVNET_SET(S(so).so_vnet);
  const r = soshutdown(so, how);
  CURVNET_RESTORE(old);
  return r;
}

/** close(2): the socket is gone after this (no event follows). */
export function soh_close(so: usize): i32 {
  if (!so_valid(so)) return -EBADF;
  return soclose(so);
}

export function soh_setsockopt(so: usize, level: i32, name: i32, val: i32): i32 {
  if (!so_valid(so)) return -EBADF;
  const old = CURVNET_SET(S(so).so_vnet);
  const r = sosetopt(so, level, name, val);
  CURVNET_RESTORE(old);
  return r;
}

/** getsockopt(2) of an int option: 0 and the value in sabuf's first 4 bytes, or a negative errno. */
export function soh_getsockopt(so: usize, level: i32, name: i32): i32 {
  if (!so_valid(so)) return -EBADF;
  const old = CURVNET_SET(S(so).so_vnet);
  const r = sogetopt(so, level, name, sabuf);
  CURVNET_RESTORE(old);
  return r;
}

function addr(so: usize, which: usize): i32 {
  if (!so_valid(so)) return -EBADF;
  memory.fill(sabuf, 0, SOCK_MAXADDRLEN);
  const f = pr_req(S(so).so_proto, which);
  if (f == 0) return -EOPNOTSUPP;
  const old = CURVNET_SET(S(so).so_vnet);
  const r = call_indirect<i32>(f, so, sabuf);
  CURVNET_RESTORE(old);
  return r > 0 ? -r : r;
}

/** getsockname(2) into sabuf. */
export function soh_sockname(so: usize): i32 {
  return addr(so, PRU_SOCKADDR);
}

/** getpeername(2) into sabuf. */
export function soh_peername(so: usize): i32 {
  return addr(so, PRU_PEERADDR);
}

/**
 * Socket state for the host, sockstat and tests: 0 serial, 1 vnet, 2 family, 3 type,
 * 4 protocol, 5 state, 6 options, 7 error, 8 rcv bytes, 9 rcv limit, 10 rcv drops, 11 rcv
 * records, 12 snd bytes, 13 snd limit, 14 accept queue (complete), 15 incomplete, 16
 * backlog, 17 pending events, 18 rcv storage, 19 linger, 20 rcv storage limit. -1 if so is
 * not a socket.
 */
export function soh_info(so: usize, what: u32): f64 {
  if (!so_valid(so)) return -1;
  const s = S(so);
  const r = changetype<Sockbuf>(so_rcv(so));
  const w = changetype<Sockbuf>(so_snd(so));
  switch (what) {
    case 0: return <f64>s.so_serial;
    case 1: return <f64>s.so_vnet;
    case 2: return <f64>s.so_family;
    case 3: return <f64>s.so_type;
    case 4: return <f64>s.so_protocol;
    case 5: return <f64>s.so_state;
    case 6: return <f64>s.so_options;
    case 7: return <f64>s.so_error;
    case 8: return <f64>r.sb_cc;
    case 9: return <f64>r.sb_hiwat;
    case 10: return <f64>r.sb_drops;
    case 11: return <f64>sbrecords(so_rcv(so));
    case 12: return <f64>w.sb_cc;
    case 13: return <f64>w.sb_hiwat;
    case 14: return <f64>s.so_qlen;
    case 15: return <f64>s.so_incqlen;
    case 16: return <f64>s.so_qlimit;
    case 17: return <f64>s.so_evbits;
    case 18: return <f64>r.sb_mbcnt;
    case 19: return <f64>s.so_linger;
    case 20: return <f64>r.sb_mbmax;
  }
  return -1;
}

/** How many fields soh_stat writes: every soh_info field, in soh_info's order. */
export const SOH_STAT_FIELDS: u32 = 21;
const statbuf = memory.data(SOH_STAT_FIELDS << 3, 8);

/** soh_stat's window: SOH_STAT_FIELDS f64 values. */
export function kern_statbuf(): usize {
  return statbuf;
}

/**
 * Every soh_info field of so at once (same numbering), as f64 into kern_statbuf: one call
 * instead of one per field where the host wants several (a new Socket's identity, accept,
 * info()). 0, or -EBADF if so is not a socket.
 */
export function soh_stat(so: usize): i32 {
  if (!so_valid(so)) return -EBADF;
  const s = S(so);
  const r = changetype<Sockbuf>(so_rcv(so));
  const w = changetype<Sockbuf>(so_snd(so));
  const o = statbuf;
  store<f64>(o, <f64>s.so_serial, 0 << 3);
  store<f64>(o, <f64>s.so_vnet, 1 << 3);
  store<f64>(o, <f64>s.so_family, 2 << 3);
  store<f64>(o, <f64>s.so_type, 3 << 3);
  store<f64>(o, <f64>s.so_protocol, 4 << 3);
  store<f64>(o, <f64>s.so_state, 5 << 3);
  store<f64>(o, <f64>s.so_options, 6 << 3);
  store<f64>(o, <f64>s.so_error, 7 << 3);
  store<f64>(o, <f64>r.sb_cc, 8 << 3);
  store<f64>(o, <f64>r.sb_hiwat, 9 << 3);
  store<f64>(o, <f64>r.sb_drops, 10 << 3);
  store<f64>(o, <f64>sbrecords(so_rcv(so)), 11 << 3);
  store<f64>(o, <f64>w.sb_cc, 12 << 3);
  store<f64>(o, <f64>w.sb_hiwat, 13 << 3);
  store<f64>(o, <f64>s.so_qlen, 14 << 3);
  store<f64>(o, <f64>s.so_incqlen, 15 << 3);
  store<f64>(o, <f64>s.so_qlimit, 16 << 3);
  store<f64>(o, <f64>s.so_evbits, 17 << 3);
  store<f64>(o, <f64>r.sb_mbcnt, 18 << 3);
  store<f64>(o, <f64>s.so_linger, 19 << 3);
  store<f64>(o, <f64>r.sb_mbmax, 20 << 3);
  return 0;
}

/** True if so is still the socket with this serial (the host's handle is not stale). */
export function soh_alive(so: usize, serial: u32): bool {
  return so_valid(so) && S(so).so_serial == serial;
}

/** sockstat: vnet v's sockets, newest first (soh_next), and how many there are. */
export function soh_first(v: usize): usize {
  return vnet_valid(v) ? so_first_vnet(v) : 0;
}

export function soh_next(so: usize): usize {
  return so_valid(so) ? S(so).so_next : 0;
}

export function soh_count(v: usize): u32 {
  return vnet_valid(v) ? so_count_vnet(v) : 0;
}

/** Event drain (uipc_soevent.ts): records moved to soh_ev_out(), 16 bytes each. */
export function soh_ev_drain(): u32 {
  return soevent_drain();
}

export function soh_ev_out(): usize {
  return soevent_out();
}

export function soh_ev_lost_closed(): u32 {
  return soevent_lost_closed();
}

export function soh_ev_stat(what: u32): f64 {
  return soevent_stat(what);
}
