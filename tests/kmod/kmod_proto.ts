// Test fixture: two toy protocols behind the socket layer, so sockets can be tested with no
// real protocol module loaded. Both are (AF_INET, protocol 253) and live on 127.0.0.1 only:
//
//   SOCK_DGRAM  "loopback echo": a datagram sent to port P is queued (sbappendaddr) on the
//               socket of this vnet bound to P, with the sender's 127.0.0.1:port as address.
//   SOCK_STREAM "pipe": connect to a listening port makes a connection (sonewconn, complete
//               at once); bytes sent are appended to the peer's receive buffer.
//
// Ports are per vnet (a table in the VNET section). The per-vnet uninit counts sockets it
// still finds bound: the socket layer must have closed them all before it runs.

import {
  VNET, CURVNET_SET, CURVNET_RESTORE, vnet_data_alloc, vnet_data_free, vnet_data_copy, vnet_master_base,
  vnet_sysinit_register, zone_create, zone_alloc, zone_free, zone_destroy, ZONE_CHARGE,
  SI_SUB_PROTO_DOMAIN, SI_ORDER_MIDDLE, MOD_LOAD, MOD_UNLOAD, MOD_QUIESCE, ENOMEM, EBUSY, EINVAL,
  protosw_register, protosw_unregister, pffindproto, protosw_busy, sbappendaddr, sbappendstream, sorwakeup,
  soisconnected, soisdisconnected, socantrcvmore, sonewconn, sosend, m_gethdr, m_append, m_freem,
  EAFNOSUPPORT, EADDRINUSE, EADDRNOTAVAIL, ECONNREFUSED, EISCONN, ENOTCONN, ENOPROTOOPT, ENOBUFS,
} from "../../assembly/kmod/kapi";
import {
  Socket, AF_INET, SOCK_DGRAM, SOCK_STREAM, SS_ISCONNECTED, SOPT_GET, PRU_SIZE, PRU_ATTACH, PRU_DETACH, PRU_BIND,
  PRU_CONNECT, PRU_DISCONNECT, PRU_LISTEN, PRU_ACCEPT, PRU_SEND, PRU_RCVD, PRU_SHUTDOWN, PRU_SOCKADDR, PRU_PEERADDR,
  PRU_CTLOUTPUT, PRU_ABORT, SOCKADDR_IN_SIZE, SO_REUSEPORT, sa_len, sa_family, sin_port, sin_addr, sockaddr_in_set, so_rcv,
} from "../../assembly/sys/socket";
import { MT_DATA } from "../../assembly/sys/mbuf";
export { kmod_heap_top } from "../../assembly/kmod/kmod";

const IPPROTO_TOY: u32 = 253;
const LOOPBACK: u32 = 0x7f000001;
const NPORTS: u32 = 64;
const PORT_FIRST_EPHEMERAL: u32 = 49152;

// pcb: the socket, local and foreign port, stream peer socket
const P_SO: usize = 0;
const P_LPORT: usize = 4;
const P_FPORT: usize = 8;
const P_PEER: usize = 12;
const PCB_SIZE: u32 = 16;

let pcbzone: usize = 0;
let V_ports: u32 = 0; // VNET: NPORTS entries of (key u32 = type << 16 | port, pcb usize)
const TABLE_BYTES: u32 = NPORTS * 8;
const dgramReqs = memory.data(PRU_SIZE, 4);
const streamReqs = memory.data(PRU_SIZE, 4);
const srcsa = memory.data(16, 8);
const blastsa = memory.data(16, 8);
const payload = memory.data(2048, 8);

// counters (exported): attaches, detaches, aborts, rcvd calls, sockets found by uninit, sends
const counters = memory.data(8 * 4, 4);
@inline function bump(i: u32): void { store<u32>(counters + (<usize>i << 2), load<u32>(counters + (<usize>i << 2)) + 1); }
export function proto_counter(i: u32): u32 { return load<u32>(counters + (<usize>i << 2)); }

@inline function pcbOf(so: usize): usize { return changetype<Socket>(so).so_pcb; }
@inline function key(so: usize, port: u32): u32 { return (<u32>changetype<Socket>(so).so_type << 16) | port; }

function lookup(type: u32, port: u32): usize {
  const t = VNET(V_ports);
  const k = (type << 16) | port;
  for (let i: u32 = 0; i < NPORTS; i++) if (load<u32>(t + i * 8) == k) return load<usize>(t + i * 8 + 4);
  return 0;
}

function insert(so: usize, port: u32): bool {
  const t = VNET(V_ports);
  for (let i: u32 = 0; i < NPORTS; i++) {
    if (load<u32>(t + i * 8) == 0) {
      store<u32>(t + i * 8, key(so, port));
      store<usize>(t + i * 8 + 4, pcbOf(so));
      store<u32>(pcbOf(so) + P_LPORT, port);
      return true;
    }
  }
  return false;
}

function remove(pcb: usize): void {
  const t = VNET(V_ports);
  for (let i: u32 = 0; i < NPORTS; i++) {
    if (load<usize>(t + i * 8 + 4) == pcb && load<u32>(t + i * 8) != 0) {
      store<u32>(t + i * 8, 0);
      store<usize>(t + i * 8 + 4, 0);
    }
  }
}

function autobind(so: usize): i32 {
  const pcb = pcbOf(so);
  if (load<u32>(pcb + P_LPORT) != 0) return 0;
  const type = <u32>changetype<Socket>(so).so_type;
  for (let p = PORT_FIRST_EPHEMERAL; p < 65536; p++) {
    if (lookup(type, p) == 0) return insert(so, p) ? 0 : -ENOBUFS;
  }
  return -EADDRINUSE;
}

function toy_attach(so: usize, proto: i32): i32 {
  const pcb = zone_alloc(pcbzone);
  if (pcb == 0) return -ENOBUFS;
  memory.fill(pcb, 0, PCB_SIZE);
  store<usize>(pcb + P_SO, so);
  changetype<Socket>(so).so_pcb = pcb;
  bump(0);
  return 0;
}

function unpeer(pcb: usize): void {
  const peer = load<usize>(pcb + P_PEER);
  if (peer == 0) return;
  store<usize>(pcb + P_PEER, 0);
  const ppcb = pcbOf(peer);
  if (ppcb != 0) store<usize>(ppcb + P_PEER, 0);
  socantrcvmore(peer); // the peer reads to the end, then sees EOF
  soisdisconnected(peer);
}

function toy_detach(so: usize): void {
  const pcb = pcbOf(so);
  if (pcb == 0) return;
  unpeer(pcb);
  remove(pcb);
  changetype<Socket>(so).so_pcb = 0;
  zone_free(pcbzone, pcb);
  bump(1);
}

function toy_bind(so: usize, sa: usize): i32 {
  if (sa_family(sa) != AF_INET) return -EAFNOSUPPORT;
  if (sa_len(sa) != SOCKADDR_IN_SIZE) return -EINVAL;
  const pcb = pcbOf(so);
  if (load<u32>(pcb + P_LPORT) != 0) return -EINVAL;
  const a = sin_addr(sa);
  if (a != 0 && a != LOOPBACK) return -EADDRNOTAVAIL;
  const port = <u32>sin_port(sa);
  if (port == 0) return autobind(so);
  const other = lookup(<u32>changetype<Socket>(so).so_type, port);
  if (other != 0) {
    const both = (changetype<Socket>(so).so_options & changetype<Socket>(load<usize>(other + P_SO)).so_options & <u32>SO_REUSEPORT) != 0;
    if (!both) return -EADDRINUSE;
  }
  return insert(so, port) ? 0 : -ENOBUFS;
}

function toy_connect(so: usize, sa: usize): i32 {
  if (sa_family(sa) != AF_INET) return -EAFNOSUPPORT;
  if (sa_len(sa) != SOCKADDR_IN_SIZE) return -EINVAL;
  const pcb = pcbOf(so);
  const r = autobind(so);
  if (r != 0) return r;
  const port = <u32>sin_port(sa);
  if (changetype<Socket>(so).so_type == <u16>SOCK_DGRAM) {
    store<u32>(pcb + P_FPORT, port);
    soisconnected(so);
    return 0;
  }
  const lpcb = lookup(SOCK_STREAM, port);
  if (lpcb == 0) return -ECONNREFUSED;
  const child = sonewconn(load<usize>(lpcb + P_SO), SS_ISCONNECTED);
  if (child == 0) return -ECONNREFUSED;
  const cpcb = pcbOf(child);
  store<u32>(cpcb + P_LPORT, port);
  store<u32>(cpcb + P_FPORT, load<u32>(pcb + P_LPORT));
  store<usize>(cpcb + P_PEER, so);
  store<u32>(pcb + P_FPORT, port);
  store<usize>(pcb + P_PEER, child);
  soisconnected(so);
  return 0;
}

function toy_disconnect(so: usize): i32 {
  const pcb = pcbOf(so);
  if (changetype<Socket>(so).so_type == <u16>SOCK_DGRAM) {
    store<u32>(pcb + P_FPORT, 0);
    changetype<Socket>(so).so_state &= ~SS_ISCONNECTED; // as udp_disconnect does
    return 0;
  }
  unpeer(pcb);
  soisdisconnected(so);
  return 0;
}

function toy_listen(so: usize, backlog: i32): i32 {
  return autobind(so);
}

function toy_accept(so: usize, sa_out: usize): i32 {
  sockaddr_in_set(sa_out, LOOPBACK, <u16>load<u32>(pcbOf(so) + P_FPORT));
  return 0;
}

function toy_send(so: usize, m: usize, sa: usize, control: usize, flags: i32): i32 {
  const pcb = pcbOf(so);
  bump(5);
  if (changetype<Socket>(so).so_type == <u16>SOCK_STREAM) {
    const peer = load<usize>(pcb + P_PEER);
    if (peer == 0) {
      m_freem(m);
      return -ENOTCONN;
    }
    sbappendstream(so_rcv(peer), m);
    sorwakeup(peer);
    return 0;
  }
  let port = load<u32>(pcb + P_FPORT);
  if (sa != 0) {
    if (port != 0) {
      m_freem(m);
      return -EISCONN;
    }
    if (sa_family(sa) != AF_INET || sa_len(sa) != SOCKADDR_IN_SIZE) {
      m_freem(m);
      return -EAFNOSUPPORT;
    }
    port = <u32>sin_port(sa);
  }
  const r = autobind(so);
  if (r != 0) {
    m_freem(m);
    return r;
  }
  const dpcb = lookup(SOCK_DGRAM, port);
  if (dpcb == 0) {
    m_freem(m);
    return -ECONNREFUSED;
  }
  const dst = load<usize>(dpcb + P_SO);
  sockaddr_in_set(srcsa, LOOPBACK, <u16>load<u32>(pcb + P_LPORT));
  if (sbappendaddr(dst, srcsa, m)) sorwakeup(dst);
  else m_freem(m); // full: counted in the receiver's sb_drops
  return 0;
}

function toy_rcvd(so: usize, flags: i32): void {
  bump(3);
}

function toy_shutdown(so: usize): i32 {
  const peer = load<usize>(pcbOf(so) + P_PEER);
  if (peer != 0) socantrcvmore(peer);
  return 0;
}

function toy_sockaddr(so: usize, sa_out: usize): i32 {
  sockaddr_in_set(sa_out, load<u32>(pcbOf(so) + P_LPORT) != 0 ? LOOPBACK : 0, <u16>load<u32>(pcbOf(so) + P_LPORT));
  return 0;
}

function toy_peeraddr(so: usize, sa_out: usize): i32 {
  const port = load<u32>(pcbOf(so) + P_FPORT);
  if (port == 0) return -ENOTCONN;
  sockaddr_in_set(sa_out, LOOPBACK, <u16>port);
  return 0;
}

/** Level IPPROTO_TOY, option 1 (get): sends so far. */
function toy_ctloutput(so: usize, dir: i32, level: i32, name: i32, valp: usize): i32 {
  if (level == <i32>IPPROTO_TOY && name == 1 && dir == SOPT_GET) {
    store<i32>(valp, <i32>proto_counter(5));
    return 0;
  }
  return level == 0xffff ? 0 : -ENOPROTOOPT;
}

function toy_abort(so: usize): void {
  bump(2);
}

/**
 * Per-vnet teardown. Normally the socket layer has closed every socket by now (its uninit
 * runs first); after a forced unload with sockets open it has not, and, like a real
 * protocol destroying its pcb table, this frees what is left (the socket layer then frees
 * the sockets without calling us).
 */
function toy_vnet_uninit(): void {
  const t = VNET(V_ports);
  for (let i: u32 = 0; i < NPORTS; i++) {
    if (load<u32>(t + i * 8) == 0) continue;
    bump(4);
    const pcb = load<usize>(t + i * 8 + 4);
    store<u32>(t + i * 8, 0);
    changetype<Socket>(load<usize>(pcb + P_SO)).so_pcb = 0;
    zone_free(pcbzone, pcb);
  }
}

/** Send n datagrams of len bytes from so to 127.0.0.1:port inside Wasm; returns how many were taken. */
export function proto_blast(so: usize, port: u32, n: u32, len: u32): u32 {
  const old = CURVNET_SET(changetype<Socket>(so).so_vnet);
  const sa = blastsa;
  sockaddr_in_set(sa, LOOPBACK, <u16>port);
  let ok: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    const m = m_gethdr(MT_DATA);
    if (m == 0) break;
    store<u32>(payload, i); // payload: the sequence number, then zeros
    if (!m_append(m, <i32>min<u32>(len, 2048), payload)) {
      m_freem(m);
      break;
    }
    if (sosend(so, sa, m, 0, 0) == 0) ok++;
  }
  CURVNET_RESTORE(old);
  return ok;
}

export function modevent(what: i32): i32 {
  if (what == MOD_LOAD) {
    pcbzone = zone_create("toy_pcb", PCB_SIZE, 0, ZONE_CHARGE, 0);
    if (pcbzone == 0) return ENOMEM;
    const o = vnet_data_alloc(TABLE_BYTES, 4);
    if (o < 0) return -o;
    V_ports = <u32>o;
    memory.fill(vnet_master_base() + V_ports, 0, TABLE_BYTES);
    vnet_data_copy(V_ports, TABLE_BYTES);
    memory.fill(dgramReqs, 0, PRU_SIZE);
    memory.fill(streamReqs, 0, PRU_SIZE);
    for (let i: u32 = 0; i < 2; i++) {
      const t = i == 0 ? dgramReqs : streamReqs;
      store<u32>(t + PRU_ATTACH, toy_attach.index);
      store<u32>(t + PRU_DETACH, toy_detach.index);
      store<u32>(t + PRU_BIND, toy_bind.index);
      store<u32>(t + PRU_CONNECT, toy_connect.index);
      store<u32>(t + PRU_DISCONNECT, toy_disconnect.index);
      store<u32>(t + PRU_SEND, toy_send.index);
      store<u32>(t + PRU_SOCKADDR, toy_sockaddr.index);
      store<u32>(t + PRU_PEERADDR, toy_peeraddr.index);
      store<u32>(t + PRU_CTLOUTPUT, toy_ctloutput.index);
      store<u32>(t + PRU_ABORT, toy_abort.index);
    }
    // Only the stream protocol listens, accepts, shuts down and wants pru_rcvd.
    store<u32>(streamReqs + PRU_LISTEN, toy_listen.index);
    store<u32>(streamReqs + PRU_ACCEPT, toy_accept.index);
    store<u32>(streamReqs + PRU_RCVD, toy_rcvd.index);
    store<u32>(streamReqs + PRU_SHUTDOWN, toy_shutdown.index);
    let r = protosw_register(AF_INET, SOCK_DGRAM, IPPROTO_TOY, dgramReqs);
    if (r == 0) r = protosw_register(AF_INET, SOCK_STREAM, IPPROTO_TOY, streamReqs);
    if (r == 0) r = vnet_sysinit_register(SI_SUB_PROTO_DOMAIN, SI_ORDER_MIDDLE, 0, 0, toy_vnet_uninit.index);
    return r < 0 ? -r : r; // on failure kld_purge drops what was registered
  }
  if (what == MOD_QUIESCE) {
    const busy = protosw_busy(pffindproto(AF_INET, SOCK_DGRAM, IPPROTO_TOY)) + protosw_busy(pffindproto(AF_INET, SOCK_STREAM, IPPROTO_TOY));
    return busy != 0 ? EBUSY : 0;
  }
  if (what == MOD_UNLOAD) {
    protosw_unregister(AF_INET, SOCK_DGRAM, IPPROTO_TOY);
    protosw_unregister(AF_INET, SOCK_STREAM, IPPROTO_TOY);
    zone_destroy(pcbzone, false);
    vnet_data_free(V_ports, TABLE_BYTES);
  }
  return 0;
}
