// Socket events to the host (what sowakeup/selwakeup/kqueue are in FreeBSD), without a
// JavaScript call per packet.
//
// sowakeup(so, bits) ORs bits into the socket's so_evbits; only when the socket had none
// pending is it put on a kernel-wide ring of (socket, serial). So a socket appears at most
// once however many packets arrive between two drains. After every kernel entry the host
// calls soevent_drain() (export soh_ev_drain) until it returns less than a full batch: each
// call moves up to EVOUT_MAX records (socket, serial, bits, so_error) into a static output
// area, clearing so_evbits as it reads them.
//
// Readable and writable are edge events, armed by the host: SE_READABLE is posted only while
// the receive buffer's SB_SEL is set, i.e. when the host has read until EAGAIN (and at
// creation); SE_WRITABLE only after a send returned EAGAIN. The host reads until EAGAIN
// after 'readable', as with EPOLLET; everything else is always posted.
//
// A freed socket's last event (SE_CLOSED, from teardown or an abort) must outlive it: the
// record carries its final bits, written at free time (into its queued record, or a new one).
//
// Overflow never loses a socket. A socket that finds the ring full keeps its bits and is
// marked EVSLOT_LOST; the drain, once it has emptied the ring, walks every vnet's sockets and
// queues the lost ones again (as many rounds as it takes). A final close that finds the ring
// full cannot wait on its socket (it is gone): it is counted in lostClosed, and the host,
// seeing soevent_lost_closed() > 0, checks each socket it holds (soh_alive) instead.

import { kmem_alloc, KMEM_KERNEL_ACCT, PAGES_PER_CHUNK, CHUNK_SIZE } from "./kmem";
import { Socket, Sockbuf, SE_READABLE, SE_WRITABLE, SB_SEL, EVSLOT_LOST, so_rcv, so_snd } from "../sys/socket";
import { ENOMEM } from "../sys/errno";
import { vnet_first, vnet_next } from "./vnet";
import { so_first_vnet } from "./uipc_socket";

const ER_SO: usize = 0;
const ER_SERIAL: usize = 4;
const ER_BITS: usize = 8; // nonzero only for a freed socket's final record
const ER_ERROR: usize = 12;
const ER_SIZE: u32 = 16;
export const EV_RING: u32 = CHUNK_SIZE / ER_SIZE; // 4096 sockets with events pending
export const EVOUT_MAX: u32 = 256;

let ring: usize = 0;
let ringSize: u32 = EV_RING;
let evhead: u32 = 0; // next to read
let evcount: u32 = 0;
let overflow = false;
let lostClosed: u32 = 0;
let posted: u64 = 0; // socket records queued
let wakeups: u64 = 0; // sowakeup calls that added bits
let nlost: u64 = 0; // records that did not fit
const evout = memory.data(EVOUT_MAX * ER_SIZE, 8);

export function soevent_boot(): i32 {
  if (ring == 0) ring = kmem_alloc(PAGES_PER_CHUNK, KMEM_KERNEL_ACCT);
  return ring != 0 ? 0 : -ENOMEM;
}

/** Tests: use only n slots of the ring (to exercise overflow); 0 = all. Only while it is empty. */
export function soevent_set_ring_size(n: u32): bool {
  if (evcount != 0) return false;
  ringSize = n == 0 || n > EV_RING ? EV_RING : n;
  evhead = 0;
  return true;
}

@inline function rec(i: u32): usize { return ring + <usize>(i % ringSize) * ER_SIZE; }

/** Put a record on the ring; false if it is full. */
function push(so: usize, bits: u32): bool {
  if (evcount >= ringSize) {
    overflow = true;
    nlost++;
    return false;
  }
  const slot = (evhead + evcount) % ringSize;
  const e = rec(slot);
  store<usize>(e, so, ER_SO);
  store<u32>(e, changetype<Socket>(so).so_serial, ER_SERIAL);
  store<u32>(e, bits, ER_BITS);
  store<i32>(e, 0, ER_ERROR);
  evcount++;
  posted++;
  if (bits == 0) changetype<Socket>(so).so_evslot = slot + 1;
  return true;
}

/**
 * sowakeup: tell the host about so (SE_* bits). Readable and writable are posted only when
 * the host armed them (SB_SEL); the socket is queued once until the host drains it.
 */
export function sowakeup(so: usize, bits: u32): void {
  const s = changetype<Socket>(so);
  if (bits & SE_READABLE) {
    const rb = changetype<Sockbuf>(so_rcv(so));
    if (rb.sb_flags & SB_SEL) rb.sb_flags &= ~SB_SEL;
    else bits &= ~SE_READABLE;
  }
  if (bits & SE_WRITABLE) {
    const sb = changetype<Sockbuf>(so_snd(so));
    if (sb.sb_flags & SB_SEL) sb.sb_flags &= ~SB_SEL;
    else bits &= ~SE_WRITABLE;
  }
  if (bits == 0) return;
  wakeups++;
  const had = s.so_evbits;
  s.so_evbits = had | bits;
  if (had != 0) return;
  if (!push(so, 0)) s.so_evslot = EVSLOT_LOST;
}

/**
 * The socket is being freed. finalbits != 0: the host must hear them (with so_error), even
 * though the socket is gone; 0: the host closed it and wants nothing more.
 */
export function soevent_detach(so: usize, finalbits: u32): void {
  const s = changetype<Socket>(so);
  const slot = s.so_evslot;
  const bits = finalbits != 0 ? s.so_evbits | finalbits : 0;
  if (slot != 0 && slot != EVSLOT_LOST) {
    const e = rec(slot - 1);
    if (bits == 0) store<usize>(e, 0, ER_SO); // skipped by the drain
    else {
      store<u32>(e, bits, ER_BITS);
      store<i32>(e, s.so_error, ER_ERROR);
    }
  } else if (bits != 0) {
    const at = (evhead + evcount) % ringSize;
    if (push(so, bits)) store<i32>(rec(at), s.so_error, ER_ERROR);
    else lostClosed++;
  }
  s.so_evslot = 0;
  s.so_evbits = 0;
}

/** Re-queue every socket whose record did not fit (the ring is empty when this runs). */
function rescan(): void {
  overflow = false;
  for (let v = vnet_first(); v != 0; v = vnet_next(v)) {
    for (let so = so_first_vnet(v); so != 0; so = changetype<Socket>(so).so_next) {
      const s = changetype<Socket>(so);
      if (s.so_evslot != EVSLOT_LOST) continue;
      s.so_evslot = 0;
      if (!push(so, 0)) {
        s.so_evslot = EVSLOT_LOST;
        return; // overflow is set again: the next drain goes on
      }
    }
  }
}

/**
 * Move up to EVOUT_MAX records into the output area (soevent_out): per record the socket,
 * its serial, its SE_* bits and so_error (16 bytes). Returns how many. Call again while it
 * returns EVOUT_MAX.
 */
export function soevent_drain(): u32 {
  let n: u32 = 0;
  while (n < EVOUT_MAX) {
    if (evcount == 0) {
      if (!overflow) break;
      rescan();
      if (evcount == 0) break;
    }
    const e = rec(evhead);
    evhead = (evhead + 1) % ringSize;
    evcount--;
    const so = load<usize>(e, ER_SO);
    if (so == 0) continue;
    let bits = load<u32>(e, ER_BITS);
    let err = load<i32>(e, ER_ERROR);
    if (bits == 0) {
      const s = changetype<Socket>(so);
      bits = s.so_evbits;
      err = s.so_error;
      s.so_evbits = 0;
      s.so_evslot = 0;
      if (bits == 0) continue;
    }
    const o = evout + <usize>n * ER_SIZE;
    store<usize>(o, so, ER_SO);
    store<u32>(o, load<u32>(e, ER_SERIAL), ER_SERIAL);
    store<u32>(o, bits, ER_BITS);
    store<i32>(o, err, ER_ERROR);
    n++;
  }
  return n;
}

export function soevent_out(): usize { return evout; }

/** Final closes that found the ring full since the last call (the host must rescan). */
export function soevent_lost_closed(): u32 {
  const n = lostClosed;
  lostClosed = 0;
  return n;
}

/** 0 records queued, 1 sockets queued in total, 2 wakeups, 3 records that did not fit, 4 ring size. */
export function soevent_stat(what: u32): f64 {
  switch (what) {
    case 0: return <f64>evcount;
    case 1: return <f64>posted;
    case 2: return <f64>wakeups;
    case 3: return <f64>nlost;
    case 4: return <f64>ringSize;
  }
  return -1;
}
