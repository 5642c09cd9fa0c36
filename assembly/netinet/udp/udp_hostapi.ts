// The udp module's host entry points (host/udp.ts and host/dgram.ts wrap them): udpstat,
// knobs, and batched send and receive on a UDP socket, so the host moves many datagrams
// per Wasm call (the socket layer's soh_sendto/soh_recvfrom move one).
//
// Batches travel through the kernel's I/O buffer (kern_iobuf, 64 KiB) as packed records:
//   send:    [len u16][payload len bytes]                          (n records)
//   receive: [len u16][port u16][addr u32][payload len bytes]      (host order, little-endian)
// One datagram with control messages (sendmsg/recvmsg, docs/udp-cmsg.md): udp_sendmsg
// takes the payload at the I/O buffer's start and the control records after it;
// udp_recvmsg reads like recvfrom, and udp_rcvdstaddr then gives the IP_RECVDSTADDR address.
// Every pointer from the host is checked first (vnet_valid, so_valid and "a UDP socket").

import {
  VNET_VNET, CURVNET_SET, CURVNET_RESTORE, vnet_valid, protosw_busy, sosend, soreceive, m_gethdr, m_append, m_freem,
  m_length, m_get, EINVAL, EBADF, EMSGSIZE, ENOBUFS, EPROTOTYPE,
} from "../../kmod/kapi";
import { Socket, MSG_PEEK, so_rcv, sockbuf, sin_port, sin_addr } from "../../sys/socket";
import { Mbuf, MT_DATA, MT_SONAME, MT_CONTROL, MHLEN, MLEN, M_START, M_PKTHDR } from "../../sys/mbuf";
import { UdpGlobals, UdpVnet, VV, UDPSTAT_OFF, UDPS_COUNT, UDP_MAXPAYLOAD } from "./udp_var";

@external("kernel", "kern_iobuf") declare function kern_iobuf(): usize;
@external("kernel", "kern_sabuf") declare function kern_sabuf(): usize;
@external("kernel", "so_valid") declare function so_valid(so: usize): bool;

const IOBUF_SIZE: u32 = 65536;
const MAX_HDR: u32 = 96; // room for Ethernet + IP + UDP headers in front of the data (as soh_sendto)
const rsa = memory.data(128, 8);
let batchError: i32 = 0;

@inline function up(v: usize): bool {
  return vnet_valid(v) && changetype<UdpVnet>(VV(v)).up != 0;
}

/** Counter i of vnet v's udpstat (udp_var.ts order); -1 when out of range or v is not a vnet. */
export function udp_stat(v: usize, i: u32): f64 {
  if (!up(v) || i >= UDPS_COUNT) return -1;
  return <f64>load<u64>(VV(v) + UDPSTAT_OFF + (<usize>i << 3));
}

// Knobs and gauges for udp_get / udp_set.
const K_PORTFIRST: u32 = 0; // net.inet.ip.portrange.first (get/set)
const K_PORTLAST: u32 = 1; // net.inet.ip.portrange.last (get/set)
const K_PCBS: u32 = 2; // PCBs in the vnet
const K_HASHED: u32 = 3; // the port hash page exists

export function udp_get(v: usize, what: u32): f64 {
  if (!up(v)) return -1;
  const vv = changetype<UdpVnet>(VV(v));
  switch (what) {
    case K_PORTFIRST: return <f64>vv.portfirst;
    case K_PORTLAST: return <f64>vv.portlast;
    case K_PCBS: return <f64>vv.count;
    case K_HASHED: return vv.hash != 0 ? 1 : 0;
  }
  return -1;
}

/** Set the ephemeral port range: 1 <= first <= last <= 65535 (each end alone). */
export function udp_set(v: usize, what: u32, value: u32): i32 {
  if (!up(v)) return -EINVAL;
  const vv = changetype<UdpVnet>(VV(v));
  if (value == 0 || value > 65535) return -EINVAL;
  if (what == K_PORTFIRST) {
    if (value > vv.portlast) return -EINVAL;
    vv.portfirst = value;
    return 0;
  }
  if (what == K_PORTLAST) {
    if (value < vv.portfirst) return -EINVAL;
    vv.portlast = value;
    return 0;
  }
  return -EINVAL;
}

/** UDP sockets open in every vnet (MOD_QUIESCE refuses while nonzero). */
export function udp_busy(): u32 {
  return UdpGlobals.protosw != 0 ? protosw_busy(UdpGlobals.protosw) : 0;
}

/** 0, or the error that stopped the last batch after it had moved something. */
export function udp_batch_error(): i32 {
  return batchError;
}

@inline function udpSocket(so: usize): i32 {
  if (!so_valid(so)) return -EBADF;
  if (UdpGlobals.protosw == 0 || changetype<Socket>(so).so_proto != UdpGlobals.protosw) return -EPROTOTYPE;
  return 0;
}

/** A packet of len bytes from p with room in front for the headers (soh_sendto's layout). */
function packet(p: usize, len: u32): usize {
  const m = m_gethdr(MT_DATA);
  if (m == 0) return 0;
  const mm = changetype<Mbuf>(m);
  if (len <= MHLEN - MAX_HDR) mm.m_data = M_START(m) + ((MHLEN - len) & ~3);
  else mm.m_data += MAX_HDR;
  if (!m_append(m, <i32>len, p)) {
    m_freem(m);
    return 0;
  }
  return m;
}

/**
 * sendmmsg: n records from the I/O buffer, each to the sockaddr in kern_sabuf (salen 0: the
 * connected peer). Returns how many datagrams went (each through sosend: the same checks
 * and errors as sendto), or the first one's negative errno; an error after some went stops
 * the batch and is kept for udp_batch_error().
 */
export function udp_sendmmsg(so: usize, n: u32, salen: u32, flags: i32): i32 {
  const bad = udpSocket(so);
  if (bad != 0) return bad;
  const sa = kern_sabuf();
  if (salen != 0 && (salen > 128 || <u32>load<u8>(sa) != salen)) return -EINVAL;
  batchError = 0;
  const buf = kern_iobuf();
  const old = CURVNET_SET(changetype<Socket>(so).so_vnet);
  let off: u32 = 0;
  let sent: u32 = 0;
  let err: i32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    if (off + 2 > IOBUF_SIZE) {
      err = -EINVAL;
      break;
    }
    const len = <u32>load<u16>(buf + off);
    if (off + 2 + len > IOBUF_SIZE) {
      err = -EINVAL;
      break;
    }
    if (len > UDP_MAXPAYLOAD) {
      err = -EMSGSIZE;
      break;
    }
    const m = packet(buf + off + 2, len);
    if (m == 0) {
      err = -ENOBUFS;
      break;
    }
    const r = sosend(so, salen != 0 ? sa : 0, m, 0, flags);
    if (r != 0) {
      err = r;
      break;
    }
    off += 2 + len;
    sent++;
  }
  CURVNET_RESTORE(old);
  if (sent == 0 && err != 0) return err;
  batchError = err;
  return <i32>sent;
}

/**
 * recvmmsg: up to max datagrams into the I/O buffer as records (whole datagrams; the batch
 * ends before one that does not fit, which stays queued). Returns how many, 0 when the
 * socket can receive no more, or a negative errno: -EAGAIN when nothing is queued (the
 * host's 'readable' is armed, as recvfrom does), a pending error (ICMP) once (keepError:
 * reported but left pending, for a caller that already holds datagrams of this read).
 */
export function udp_recvmmsg(so: usize, max: u32, keepError: u32): i32 {
  const bad = udpSocket(so);
  if (bad != 0) return bad;
  const buf = kern_iobuf();
  const sb = so_rcv(so);
  const old = CURVNET_SET(changetype<Socket>(so).so_vnet);
  let off: u32 = 0;
  let n: u32 = 0;
  let r: i32 = 0;
  while (n < max) {
    const rec = sockbuf(sb).sb_mb;
    if (rec == 0) break;
    const data = changetype<Mbuf>(rec).m_type == MT_SONAME ? changetype<Mbuf>(rec).m_next : rec;
    const len = data != 0 ? <u32>m_length(data) : 0;
    if (off + 8 + len > IOBUF_SIZE) break;
    r = soreceive(so, buf + off + 8, <i32>len, rsa, 0);
    if (r < 0) break;
    store<u16>(buf + off, <u16>r);
    store<u16>(buf + off + 2, load<u8>(rsa) != 0 ? sin_port(rsa) : 0);
    store<u32>(buf + off + 4, load<u8>(rsa) != 0 ? sin_addr(rsa) : 0);
    off += 8 + <u32>r;
    n++;
  }
  if (n == 0 && max > 0 && r >= 0) r = soreceive(so, buf, 0, 0, keepError != 0 ? MSG_PEEK : 0); // -EAGAIN (arms 'readable'), an error, or 0 at the end
  CURVNET_RESTORE(old);
  if (n == 0) return r;
  return <i32>n;
}

/**
 * sendmsg(2): len bytes at the I/O buffer's start, to the sockaddr in kern_sabuf (salen 0:
 * the connected peer), with clen bytes of control messages at offset len (the udp_usrreq.ts
 * record layout; at most MLEN bytes, as FreeBSD's sockargs, else EINVAL). The bytes sent,
 * or a negative errno (control errors: udp_usrreq.ts udp_control).
 */
export function udp_sendmsg(so: usize, len: u32, salen: u32, clen: u32, flags: i32): i32 {
  const bad = udpSocket(so);
  if (bad != 0) return bad;
  const sa = kern_sabuf();
  if (salen != 0 && (salen > 128 || <u32>load<u8>(sa) != salen)) return -EINVAL;
  if (len > UDP_MAXPAYLOAD) return -EMSGSIZE;
  if (clen > MLEN || len + clen > IOBUF_SIZE) return -EINVAL;
  const buf = kern_iobuf();
  const old = CURVNET_SET(changetype<Socket>(so).so_vnet);
  let r: i32 = -ENOBUFS;
  const m = packet(buf, len);
  let control: usize = 0;
  if (m != 0 && clen != 0) {
    control = m_get(MT_CONTROL);
    if (control == 0) m_freem(m);
    else {
      memory.copy(changetype<Mbuf>(control).m_data, buf + len, clen);
      changetype<Mbuf>(control).m_len = <i32>clen;
    }
  }
  if (m != 0 && (clen == 0 || control != 0)) {
    r = sosend(so, salen != 0 ? sa : 0, m, control, flags);
    if (r == 0) r = <i32>len;
  }
  CURVNET_RESTORE(old);
  return r;
}

let rcvdst: f64 = -1;

/**
 * recvmsg(2): as recvfrom (soh_recvfrom): up to maxlen bytes of one datagram into the I/O
 * buffer, the sender into kern_sabuf; bytes or a negative errno. The datagram's
 * IP_RECVDSTADDR destination, if it came with one, is then udp_rcvdstaddr().
 */
export function udp_recvmsg(so: usize, maxlen: u32, flags: i32): i32 {
  const bad = udpSocket(so);
  if (bad != 0) return bad;
  rcvdst = -1;
  const old = CURVNET_SET(changetype<Socket>(so).so_vnet);
  const rec = sockbuf(so_rcv(so)).sb_mb;
  const data = rec != 0 && changetype<Mbuf>(rec).m_type == MT_SONAME ? changetype<Mbuf>(rec).m_next : rec;
  // udp_append wrote the destination (or 0) into the packet header of every datagram.
  const dst: u32 = data != 0 && (changetype<Mbuf>(data).m_flags & M_PKTHDR) != 0 ? changetype<Mbuf>(data).ph_spare : 0;
  const r = soreceive(so, kern_iobuf(), <i32>min<u32>(maxlen, IOBUF_SIZE), kern_sabuf(), flags);
  if (r >= 0 && dst != 0) rcvdst = <f64>dst;
  CURVNET_RESTORE(old);
  return r;
}

/** The IP_RECVDSTADDR address (host order) of the datagram the last udp_recvmsg read, or -1: none. */
export function udp_rcvdstaddr(): f64 {
  return rcvdst;
}
