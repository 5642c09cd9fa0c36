import { vnet_section_set_size } from "../kern/vnet_data";
import { vnet_boot, vnet_alloc, vnet_destroy, vnet_vnet0, CURVNET_SET, CURVNET_RESTORE, curvnet, Vnet } from "../kern/vnet";
import { mbuf_boot, m_gethdr, m_get, m_append, m_length, m_freem, mbuf_vnet_inuse, m_copydata } from "../kern/uipc_mbuf";
import { Mbuf, MT_DATA, MT_SONAME, MSIZE, MBZ_MBUF } from "../sys/mbuf";
import {
  Socket, Sockbuf, AF_INET, AF_INET6, SOCK_DGRAM, SOCK_STREAM, SOCK_RAW, MSG_PEEK, MSG_TRUNC, SE_READABLE,
  SE_WRITABLE, SE_CONNECTED, SE_CLOSED, SE_ERROR, SB_SEL, SS_CANTRCVMORE, SS_CANTSENDMORE, SOL_SOCKET, SO_RCVBUF,
  SO_SNDBUF, SO_REUSEADDR, SO_ERROR, SO_TYPE, SO_LINGER, PRU_SIZE, PRU_ATTACH, PRU_DETACH, PRU_SEND, PRU_ABORT,
  PRU_RCVD, DGRAM_RECVSPACE, SB_MAX_ADJ, SOCKADDR_IN_SIZE, EVSLOT_LOST, so_rcv, so_snd, sbspace, sockaddr_in_set, sin_port, sin_addr,
} from "../sys/socket";
import {
  EAFNOSUPPORT, EPROTOTYPE, EPROTONOSUPPORT, EEXIST, EBUSY, EAGAIN, EDESTADDRREQ, EMSGSIZE, EPIPE, ENOBUFS,
  ECONNABORTED, ENOPROTOOPT, EINVAL,
} from "../sys/errno";
import { protosw_register, protosw_unregister, pffindproto, protosw_busy } from "../kern/uipc_domain";
import { sbappendaddr, sbappendstream, sbdrop, sbflush, sbreserve, sbrecords } from "../kern/uipc_sockbuf";
import {
  socket_boot, socket_zone, socreate, so_lasterror, soclose, sosend, soreceive, so_rcvflags, sosetopt, sogetopt,
  soisconnected, socantrcvmore, so_first_vnet,
} from "../kern/uipc_socket";
import { sowakeup, soevent_drain, soevent_out, soevent_set_ring_size, soevent_lost_closed, EVOUT_MAX } from "../kern/uipc_soevent";
import { Zone } from "../kern/zone";
import { vnet_sysinit_register } from "../kern/sysinit";
import { SI_SUB_PROTO_DOMAIN, SI_ORDER_MIDDLE } from "../sys/kernel";

// Unit tests of the socket buffers, the socket calls and the event ring, with a test
// protocol registered from here (its handlers are this module's table slots).

let booted = false;
function boot(): void {
  if (booted) return;
  booted = true;
  expect(vnet_section_set_size(8192)).toBe(0);
  expect(vnet_boot()).toBe(0);
  expect(mbuf_boot()).toBe(0);
  expect(socket_boot()).toBe(0);
  const t = usrreqs;
  memory.fill(t, 0, PRU_SIZE);
  store<u32>(t + PRU_ATTACH, t_attach.index);
  store<u32>(t + PRU_DETACH, t_detach.index);
  store<u32>(t + PRU_SEND, t_send.index);
  store<u32>(t + PRU_ABORT, t_abort.index);
  store<u32>(t + PRU_RCVD, t_rcvd.index);
  expect(protosw_register(AF_INET, SOCK_DGRAM, 200, t)).toBe(0);
  expect(protosw_register(AF_INET, SOCK_DGRAM, 201, t)).toBe(0);
  expect(protosw_register(AF_INET, SOCK_STREAM, 200, t)).toBe(0);
}

const usrreqs = memory.data(PRU_SIZE, 4);
let attaches: u32 = 0;
let detaches: u32 = 0;
let aborts: u32 = 0;
let rcvds: u32 = 0;
let sendTo: usize = 0; // t_send queues on this socket
function t_attach(so: usize, proto: i32): i32 { attaches++; return 0; }
function t_detach(so: usize): void { detaches++; }
function t_abort(so: usize): void { aborts++; }
function t_rcvd(so: usize, flags: i32): void { rcvds++; }
let stopSaw: u32 = 0;
let uninitSaw: u32 = 0;
function t_stop(): void {
  for (let so = so_first_vnet(curvnet()); so != 0; so = changetype<Socket>(so).so_next) {
    if ((changetype<Socket>(so).so_state & (SS_CANTRCVMORE | SS_CANTSENDMORE)) == (SS_CANTRCVMORE | SS_CANTSENDMORE)) stopSaw++;
  }
}
function t_uninit(): void {
  uninitSaw = 0;
  for (let so = so_first_vnet(curvnet()); so != 0; so = changetype<Socket>(so).so_next) uninitSaw++;
}
function t_send(so: usize, m: usize, sa: usize, control: usize, flags: i32): i32 {
  if (sendTo == 0 || !sbappendaddr(sendTo, sa, m)) m_freem(m);
  return 0;
}

const SA = memory.data(128, 8);
const BUF = memory.data(65536, 8);
const SRC = memory.data(16384, 8);

function sa(port: u16): usize {
  sockaddr_in_set(SA, 0x7f000001, port);
  return SA;
}

/** A packet of len bytes: byte i = (i + seed) & 255. */
function pkt(len: i32, seed: u32): usize {
  for (let i = 0; i < len; i++) store<u8>(SRC + <usize>i, <u8>((<u32>i + seed) & 255));
  const m = m_gethdr(MT_DATA);
  assert(m_append(m, len, SRC));
  return m;
}

function dgram(): usize {
  const so = socreate(AF_INET, SOCK_DGRAM, 200);
  assert(so != 0);
  return so;
}

function sb(so: usize, rcv: bool = true): Sockbuf {
  return changetype<Sockbuf>(rcv ? so_rcv(so) : so_snd(so));
}

function zoneInuse(): u32 {
  return changetype<Zone>(socket_zone()).inuse;
}

function drainAll(): void {
  while (soevent_drain() == EVOUT_MAX) {}
}

describe("socket buffers", () => {
  test("sbappendaddr queues a record: MT_SONAME with the sender, then the data; sb_cc counts both", () => {
    boot();
    const so = dgram();
    const m1 = pkt(100, 1);
    expect(sbappendaddr(so, sa(1000), m1)).toBe(true);
    const m2 = pkt(300, 2);
    expect(sbappendaddr(so, sa(2000), m2)).toBe(true);
    const b = sb(so);
    expect(b.sb_cc).toBe(16 + 100 + 16 + 300);
    expect(b.sb_ctl).toBe(32);
    expect(sbrecords(so_rcv(so))).toBe(2);
    const r1 = b.sb_mb;
    expect(changetype<Mbuf>(r1).m_type).toBe(MT_SONAME);
    expect(changetype<Mbuf>(r1).m_len).toBe(16);
    expect(changetype<Mbuf>(r1).m_next).toBe(m1);
    expect(changetype<Mbuf>(r1).m_nextpkt).toBe(b.sb_lastrecord);
    expect(changetype<Mbuf>(b.sb_lastrecord).m_next).toBe(m2);
    expect(b.sb_mbcnt).toBeGreaterThanOrEqual(4 * MSIZE);
    // Records come out in order with their senders.
    expect(soreceive(so, BUF, 65536, SA, 0)).toBe(100);
    expect(sin_port(SA)).toBe(1000);
    expect(sin_addr(SA)).toBe(0x7f000001);
    expect(load<u8>(BUF + 99)).toBe(<u8>100);
    expect(soreceive(so, BUF, 65536, SA, 0)).toBe(300);
    expect(sin_port(SA)).toBe(2000);
    expect(b.sb_cc).toBe(0);
    expect(b.sb_mbcnt).toBe(0);
    expect(b.sb_mb).toBe(0);
    expect(b.sb_lastrecord).toBe(0);
    expect(soreceive(so, BUF, 65536, SA, 0)).toBe(-EAGAIN);
    expect(soclose(so)).toBe(0);
    expect(mbuf_vnet_inuse(vnet_vnet0(), MBZ_MBUF)).toBe(0);
  });

  test("a datagram that does not fit is refused and counted in sb_drops; the caller keeps it", () => {
    boot();
    const so = dgram();
    expect(sbreserve(so_rcv(so), 100)).toBe(true);
    expect(sbappendaddr(so, sa(1), pkt(50, 0))).toBe(true); // 66 of 100
    const m = pkt(50, 0);
    expect(sbappendaddr(so, sa(1), m)).toBe(false); // 66 more > 34 left
    expect(sb(so).sb_drops).toBe(1);
    expect(changetype<Mbuf>(m).m_type).toBe(MT_DATA); // still ours
    m_freem(m);
    expect(sbappendaddr(so, sa(1), pkt(18, 0))).toBe(true); // exactly the 34 bytes left: fits
    expect(sb(so).sb_cc).toBe(100);
    expect(sbspace(so_rcv(so))).toBeLessThanOrEqual(0);
    soclose(so);
    expect(mbuf_vnet_inuse(vnet_vnet0(), MBZ_MBUF)).toBe(0);
  });

  test("storage is limited too: tiny datagrams stop at sb_mbmax = 8 x sb_hiwat", () => {
    boot();
    const so = dgram();
    expect(sbreserve(so_rcv(so), 4096)).toBe(true);
    expect(sb(so).sb_mbmax).toBe(32768);
    let ok = 0;
    for (let i = 0; i < 100; i++) {
      const m = pkt(1, 0);
      if (sbappendaddr(so, sa(1), m)) ok++;
      else m_freem(m);
    }
    expect(ok).toBe(32768 / (2 * MSIZE)); // two mbufs a record
    expect(sb(so).sb_drops).toBe(100 - ok);
    expect(sb(so).sb_cc).toBeLessThan(4096);
    soclose(so);
  });

  test("sbreserve refuses 0 and more than sb_max_adj; SO_RCVBUF says ENOBUFS then", () => {
    boot();
    const so = dgram();
    expect(sb(so).sb_hiwat).toBe(DGRAM_RECVSPACE);
    expect(sbreserve(so_rcv(so), 0)).toBe(false);
    expect(sbreserve(so_rcv(so), SB_MAX_ADJ + 1)).toBe(false);
    expect(sosetopt(so, SOL_SOCKET, SO_RCVBUF, <i32>SB_MAX_ADJ + 1)).toBe(-ENOBUFS);
    expect(sosetopt(so, SOL_SOCKET, SO_RCVBUF, 0)).toBe(-EINVAL);
    expect(sosetopt(so, SOL_SOCKET, SO_RCVBUF, 1000)).toBe(0);
    expect(sogetopt(so, SOL_SOCKET, SO_RCVBUF, BUF)).toBe(0);
    expect(load<i32>(BUF)).toBe(1000);
    expect(sosetopt(so, SOL_SOCKET, SO_SNDBUF, 500)).toBe(0);
    expect(sb(so, false).sb_hiwat).toBe(500);
    soclose(so);
  });

  test("sbappendstream keeps one chain (small pieces copied into the tail); sbdrop takes bytes from the front", () => {
    boot();
    const so = socreate(AF_INET, SOCK_STREAM, 200);
    const rb = so_rcv(so);
    sbappendstream(rb, pkt(100, 0));
    sbappendstream(rb, pkt(50, 100)); // fits in the first mbuf's trailing space: compressed
    sbappendstream(rb, pkt(3000, 150)); // a cluster chain, linked
    const b = sb(so);
    expect(b.sb_cc).toBe(3150);
    expect(b.sb_ctl).toBe(0);
    expect(changetype<Mbuf>(b.sb_mb).m_len).toBe(150);
    expect(changetype<Mbuf>(b.sb_mb).m_nextpkt).toBe(0);
    expect(m_length(b.sb_mb)).toBe(3150);
    sbdrop(rb, 120); // part of the first mbuf
    expect(b.sb_cc).toBe(3030);
    expect(load<u8>(changetype<Mbuf>(b.sb_mb).m_data)).toBe(<u8>120);
    sbdrop(rb, 1000); // the rest of the first mbuf and into the next
    expect(b.sb_cc).toBe(2030);
    expect(m_copydata(b.sb_mb, 0, 1, BUF)).toBe(true);
    expect(load<u8>(BUF)).toBe(<u8>((1120) & 255));
    // soreceive on a stream: bytes, then pru_rcvd (PR_WANTRCVD)
    const before = rcvds;
    expect(soreceive(so, BUF, 30, SA, 0)).toBe(30);
    expect(rcvds).toBe(before + 1);
    expect(load<u8>(SA)).toBe(0); // no address on a stream
    expect(soreceive(so, BUF, 65536, SA, MSG_PEEK)).toBe(2000);
    expect(b.sb_cc).toBe(2000);
    sbdrop(rb, 5000); // more than there is: empties it
    expect(b.sb_cc).toBe(0);
    expect(b.sb_mbcnt).toBe(0);
    expect(b.sb_mb).toBe(0);
    expect(b.sb_mbtail).toBe(0);
    sbappendstream(rb, pkt(10, 0));
    sbflush(rb);
    expect(b.sb_cc).toBe(0);
    socantrcvmore(so);
    expect(soreceive(so, BUF, 100, SA, 0)).toBe(0); // end of stream
    soclose(so);
    expect(mbuf_vnet_inuse(vnet_vnet0(), MBZ_MBUF)).toBe(0);
  });
});

describe("soreceive and sosend", () => {
  test("a datagram longer than the buffer is cut: MSG_TRUNC, and the rest is gone (not with MSG_PEEK)", () => {
    boot();
    const so = dgram();
    sbappendaddr(so, sa(9), pkt(1000, 0));
    sbappendaddr(so, sa(9), pkt(10, 0));
    expect(soreceive(so, BUF, 100, SA, MSG_PEEK)).toBe(100);
    expect(so_rcvflags() & MSG_TRUNC).toBe(MSG_TRUNC);
    expect(sbrecords(so_rcv(so))).toBe(2);
    expect(soreceive(so, BUF, 100, SA, 0)).toBe(100);
    expect(so_rcvflags() & MSG_TRUNC).toBe(MSG_TRUNC);
    expect(sbrecords(so_rcv(so))).toBe(1);
    expect(soreceive(so, BUF, 100, SA, 0)).toBe(10);
    expect(so_rcvflags()).toBe(0);
    soclose(so);
  });

  test("sosend checks in BSD order and always takes the packet", () => {
    boot();
    const a = dgram();
    const b = dgram();
    sendTo = b;
    expect(sosend(a, 0, pkt(10, 0), 0, 0)).toBe(-EDESTADDRREQ);
    expect(sosend(a, sa(5), pkt(9217, 0), 0, 0)).toBe(-EMSGSIZE); // > 9216 send space
    expect(sosend(a, sa(5), pkt(9216, 0), 0, 0)).toBe(0);
    expect(sb(b).sb_cc).toBe(16 + 9216);
    changetype<Socket>(a).so_error = 61;
    expect(sosend(a, sa(5), pkt(1, 0), 0, 0)).toBe(-61); // reported once
    expect(sosend(a, sa(5), pkt(1, 0), 0, 0)).toBe(0);
    changetype<Socket>(a).so_state |= SS_CANTSENDMORE;
    expect(sosend(a, sa(5), pkt(1, 0), 0, 0)).toBe(-EPIPE);
    sendTo = 0;
    soclose(a);
    soclose(b);
    expect(mbuf_vnet_inuse(vnet_vnet0(), MBZ_MBUF)).toBe(0);
  });

  test("socket options: booleans, linger, SO_ERROR clears, SO_TYPE, unknown levels", () => {
    boot();
    const so = dgram();
    expect(sosetopt(so, SOL_SOCKET, SO_REUSEADDR, 1)).toBe(0);
    expect(sogetopt(so, SOL_SOCKET, SO_REUSEADDR, BUF)).toBe(0);
    expect(load<i32>(BUF)).toBe(1);
    expect(sosetopt(so, SOL_SOCKET, SO_LINGER, 5)).toBe(0);
    sogetopt(so, SOL_SOCKET, SO_LINGER, BUF);
    expect(load<i32>(BUF)).toBe(5);
    changetype<Socket>(so).so_error = 54;
    sogetopt(so, SOL_SOCKET, SO_ERROR, BUF);
    expect(load<i32>(BUF)).toBe(54);
    sogetopt(so, SOL_SOCKET, SO_ERROR, BUF);
    expect(load<i32>(BUF)).toBe(0);
    sogetopt(so, SOL_SOCKET, SO_TYPE, BUF);
    expect(load<i32>(BUF)).toBe(SOCK_DGRAM);
    expect(sosetopt(so, 0, 1, 1)).toBe(-ENOPROTOOPT); // no pru_ctloutput
    expect(sosetopt(so, SOL_SOCKET, 0x7777, 1)).toBe(-ENOPROTOOPT);
    soclose(so);
  });
});

describe("protocol switch", () => {
  test("socreate errors as FreeBSD's: no domain, no type, no protocol; protocol 0 = first registered", () => {
    boot();
    expect(socreate(AF_INET6, SOCK_DGRAM, 0)).toBe(0);
    expect(so_lasterror()).toBe(-EAFNOSUPPORT);
    expect(socreate(AF_INET, SOCK_RAW, 0)).toBe(0);
    expect(so_lasterror()).toBe(-EPROTOTYPE);
    expect(socreate(AF_INET, SOCK_DGRAM, 99)).toBe(0);
    expect(so_lasterror()).toBe(-EPROTONOSUPPORT);
    const so = socreate(AF_INET, SOCK_DGRAM, 0);
    expect(changetype<Socket>(so).so_protocol).toBe(200);
    expect(protosw_register(AF_INET, SOCK_DGRAM, 200, usrreqs)).toBe(-EEXIST);
    const pr = pffindproto(AF_INET, SOCK_DGRAM, 200);
    expect(protosw_busy(pr)).toBe(1);
    expect(protosw_unregister(AF_INET, SOCK_DGRAM, 200)).toBe(-EBUSY);
    soclose(so);
    expect(protosw_busy(pr)).toBe(0);
  });

  test("create and close call pru_attach and pru_detach once each; the zone gets every socket back", () => {
    boot();
    const a0 = attaches;
    const d0 = detaches;
    const inuse = zoneInuse();
    for (let i = 0; i < 100; i++) soclose(dgram());
    expect(attaches - a0).toBe(100);
    expect(detaches - d0).toBe(100);
    expect(zoneInuse()).toBe(inuse);
  });
});

describe("events", () => {
  test("readable is posted once per arming, and a socket is queued once however many wakeups", () => {
    boot();
    drainAll();
    const so = dgram();
    const serial = changetype<Socket>(so).so_serial;
    for (let i = 0; i < 50; i++) {
      sbappendaddr(so, sa(1), pkt(1, 0));
      sowakeup(so, SE_READABLE);
    }
    sowakeup(so, SE_CONNECTED);
    expect(soevent_drain()).toBe(1);
    const o = soevent_out();
    expect(load<usize>(o)).toBe(so);
    expect(load<u32>(o + 4)).toBe(serial);
    expect(load<u32>(o + 8)).toBe(SE_READABLE | SE_CONNECTED);
    // Not re-armed (the reader has not emptied the buffer): no new readable.
    sowakeup(so, SE_READABLE);
    expect(soevent_drain()).toBe(0);
    // Writable is posted only after a send found no space (SB_SEL on the send buffer).
    sowakeup(so, SE_WRITABLE);
    expect(soevent_drain()).toBe(0);
    sb(so, false).sb_flags |= SB_SEL;
    sowakeup(so, SE_WRITABLE);
    expect(soevent_drain()).toBe(1);
    // Reading to EAGAIN re-arms.
    while (soreceive(so, BUF, 100, SA, 0) >= 0) {}
    expect(sb(so).sb_flags & SB_SEL).toBe(SB_SEL);
    sbappendaddr(so, sa(1), pkt(1, 0));
    sowakeup(so, SE_READABLE);
    expect(soevent_drain()).toBe(1);
    soclose(so);
    expect(soevent_drain()).toBe(0);
  });

  test("a socket closed by the host with events queued drops its record", () => {
    boot();
    drainAll();
    const so = dgram();
    soisconnected(so);
    soclose(so);
    expect(soevent_drain()).toBe(0);
  });

  test("a full ring loses no socket: the overflowed are queued again once it drains", () => {
    boot();
    drainAll();
    expect(soevent_set_ring_size(8)).toBe(true);
    const socks = new StaticArray<usize>(20);
    for (let i = 0; i < 20; i++) {
      socks[i] = dgram();
      sowakeup(socks[i], SE_CONNECTED);
    }
    expect(changetype<Socket>(socks[19]).so_evslot).toBe(EVSLOT_LOST);
    let seen = 0;
    for (let round = 0; round < 10; round++) {
      const n = soevent_drain();
      for (let i: u32 = 0; i < n; i++) expect(load<u32>(soevent_out() + i * 16 + 8)).toBe(SE_CONNECTED);
      seen += n;
      if (n == 0) break;
    }
    expect(seen).toBe(20);
    for (let i = 0; i < 20; i++) soclose(socks[i]);
    drainAll();
    expect(soevent_set_ring_size(0)).toBe(true);
  });

  test("a final close that finds the ring full is counted for the host to rescan", () => {
    boot();
    drainAll();
    expect(soevent_set_ring_size(2)).toBe(true);
    const v = vnet_alloc();
    const old = CURVNET_SET(v);
    const a = dgram();
    const b = dgram();
    dgram();
    CURVNET_RESTORE(old);
    sowakeup(a, SE_CONNECTED);
    sowakeup(b, SE_CONNECTED); // the ring is full
    expect(vnet_destroy(v)).toBe(0);
    expect(soevent_lost_closed()).toBe(1);
    expect(soevent_lost_closed()).toBe(0); // read and reset
    expect(soevent_drain()).toBe(2); // a and b: their queued records carry the close
    expect(load<u32>(soevent_out() + 8)).toBe(SE_CONNECTED | SE_CLOSED | SE_ERROR);
    expect(soevent_set_ring_size(0)).toBe(true);
  });
});

describe("vnet teardown", () => {
  test("a destroyed vnet's sockets are aborted, detached and freed, and the host hears SE_CLOSED with ECONNABORTED", () => {
    boot();
    drainAll();
    const v = vnet_alloc();
    const old = CURVNET_SET(v);
    const a = dgram();
    const b = dgram();
    sbappendaddr(a, sa(1), pkt(500, 0));
    const sa2 = changetype<Socket>(b).so_serial;
    CURVNET_RESTORE(old);
    expect(so_first_vnet(v)).toBe(b); // newest first
    const ab0 = aborts;
    const d0 = detaches;
    const inuse = zoneInuse();
    expect(vnet_destroy(v)).toBe(0); // nothing left: no leak, no zombie
    expect(aborts - ab0).toBe(2);
    expect(detaches - d0).toBe(2);
    expect(zoneInuse()).toBe(inuse - 2);
    const n = soevent_drain();
    expect(n).toBe(2);
    let found = false;
    for (let i: u32 = 0; i < n; i++) {
      const o = soevent_out() + i * 16;
      expect(load<u32>(o + 8) & (SE_CLOSED | SE_ERROR)).toBe(SE_CLOSED | SE_ERROR);
      expect(load<i32>(o + 12)).toBe(ECONNABORTED);
      if (load<u32>(o + 4) == sa2) found = true;
    }
    expect(found).toBe(true);
  });

  test("the stop hook ends sending and receiving before protocols' stop hooks and uninits run", () => {
    boot();
    expect(vnet_sysinit_register(SI_SUB_PROTO_DOMAIN, SI_ORDER_MIDDLE, 0, t_stop.index, t_uninit.index)).toBe(0);
    const v = vnet_alloc();
    const old = CURVNET_SET(v);
    dgram();
    dgram();
    CURVNET_RESTORE(old);
    stopSaw = 0;
    uninitSaw = 99;
    expect(vnet_destroy(v)).toBe(0);
    expect(stopSaw).toBe(2); // both sockets already could neither send nor receive
    expect(uninitSaw).toBe(0); // and were gone when the protocol's uninit ran
    drainAll();
  });
});
