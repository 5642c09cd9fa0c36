// if_tap: an Ethernet interface whose wire is the host (FreeBSD tap(4): the other end of the
// device is a program, here the TypeScript host). The host decides what the wire is: a
// WebSocket (host/wire/websocket.ts) today; anything that moves whole Ethernet frames
// (a WebRTC data channel, a worker's MessagePort, a Linux tap device) can use it unchanged.
// "ifconfig tap create" in vnet V makes tap<unit> in V: IFT_ETHER,
// BROADCAST|SIMPLEX|MULTICAST, MTU 1500, a random locally administered MAC from the
// kernel's seeded random numbers (the host replaces it with one from the OS).
//
// Carrier: the interface is RUNNING only while it is UP and the host says its wire has a
// peer (tap_setcarrier, tap(4)'s "open"); without one ether_output_frame refuses frames
// (ENETDOWN, oerrors), as for a NIC with no cable. Carrier transitions are counted.
//
// Transmit copies the frame into the interface's output ring (if_ring.ts) and frees the
// mbuf; the host drains every ring after each kernel entry and clock tick and hands the
// frames to its transport, so there is no JavaScript call per frame inside the kernel. A
// full ring drops the frame and counts it (oqdrops), never overwrites.
//
// Receive: the host packs frames into the kernel's I/O buffer as records
//   0 u32 len   4 data[len] (an Ethernet frame, no FCS), padded to 4
// and calls tap_input once per batch. Each record is bounds-checked, then the frame's length
// (a runt: shorter than an Ethernet header; oversize: longer than MTU + header + an 802.1Q
// tag) before an mbuf is taken for it; both count as ierrors. Everything else (bad source,
// not for us, lying 802.3 length) is ether_input's to check and count. What the host drops
// before the kernel sees it (a transport message that is not a frame, a frame too long to
// be one, a transport that cannot take a frame) it reports with
// tap_drop, so every drop shows on the interface.
//
// No checksum or segmentation offload is advertised: what leaves is complete and MTU-sized,
// as it must be on a wire the kernel does not own. An interface is a clone of the vnet it is
// created in and dies with it (or with ifconfig destroy); its softc and ring pages are
// charged to that vnet. kldunload is refused while any tap interface exists.

import {
  curvnet, VNET, CURVNET_SET, CURVNET_RESTORE, zone_create, zone_alloc_in, zone_free_in, zone_destroy, ZONE_CHARGE, ZONE_ZERO,
  vnet_sysinit_register, if_alloc, if_initname, if_initname_unit, if_attach, if_detach, if_free, if_valid,
  ifunit, ifunit_vnet, if_clone_attach, if_clone_detach, if_clone_seterror, if_clone_of, if_clone_destroy_ifp, ether_input,
  ether_gen_addr, m_gethdr, m_append, m_freem, m_copydata,
  SI_SUB_PSEUDO, SI_ORDER_MIDDLE, MOD_LOAD, MOD_UNLOAD, MOD_QUIESCE, EBUSY, ENOMEM, EINVAL, EEXIST, ENOBUFS,
} from "../kmod/kapi";
import {
  Ifnet, IFT_ETHER, IFF_UP, IFF_RUNNING, IFF_BROADCAST, IFF_SIMPLEX, IFF_MULTICAST, ETHER_HDR_LEN, ETHER_VLAN_ENCAP_LEN, IFNAMSIZ,
  IFCOUNTER_IERRORS, IFCOUNTER_IQDROPS, IFCOUNTER_OQDROPS, if_inc_counter,
} from "../sys/if";
import { Mbuf, MT_DATA } from "../sys/mbuf";
import {
  IFRING_SIZE, RING_MAXSEG, RING_DEFSEG, ring_alloc, ring_free, ring_resize, ring_reserve, ring_readable, ring_read_ptr, ring_consume, ring_nseg,
} from "./if_ring";
export { kmod_heap_top } from "../kmod/kmod";

@external("kernel", "kern_iobuf") declare function kern_iobuf(): usize;

// ioctl commands (net/if.ts)
const SIOCSIFFLAGS: u32 = 1;
const SIOCSIFMTU: u32 = 2;

export const TAP_MTU: u32 = 1500;
/** A frame must fit one ring segment and one I/O buffer record. */
export const TAP_MAXMTU: u32 = 16384;
const IOBUF_SIZE: u32 = 65536;
export const TAP_MAXSEG: u32 = RING_MAXSEG;
const TAP_MAGIC: u32 = 0x54415030; // "TAP0"

// Counters per interface (host/wire/tap.ts TAP_STATS has the same order).
const TS_TXFRAMES: u32 = 0; // frames put in the ring
const TS_TXRINGDROPS: u32 = 1; // frames dropped because the ring was full
const TS_RXFRAMES: u32 = 2; // frames passed to ether_input
const TS_RXRUNT: u32 = 3; // shorter than an Ethernet header
const TS_RXOVERSIZE: u32 = 4; // longer than MTU + header + 802.1Q tag (here or reported by the host)
const TS_RXNOMEM: u32 = 5; // no mbuf for the frame
const TS_RXBADREC: u32 = 6; // a batch record running past the I/O buffer (a host bug)
const TS_RXBADMSG: u32 = 7; // host-reported: a transport message that is not a frame
const TS_TXQDROPS: u32 = 8; // host-reported: the transport could not take a frame
const TS_CARRIERUP: u32 = 9; // carrier came
const TS_CARRIERDOWN: u32 = 10; // carrier went
const TS_COUNT: u32 = 11;

@unmanaged class TapSoftc {
  magic: u32;
  ifp: usize;
  vnet: usize; // home vnet: the softc and ring are charged to it
  vbase: usize;
  next: usize; // every tap interface, any vnet
  prev: usize;
  carrier: u32;
  // then counters: TS_COUNT x u64, then the output ring (if_ring.ts)
}

const SC_COUNTERS: usize = (offsetof<TapSoftc>() + 7) & ~7;
const SC_RING: usize = SC_COUNTERS + TS_COUNT * 8;
const SC_SIZE: u32 = <u32>SC_RING + IFRING_SIZE;

const TAP_PREFIX: usize = memory.data<u8>([0x74, 0x61, 0x70]); // "tap"
const TAP_PREFIX_LEN: u32 = 3;
const namebuf: usize = memory.data(16, 8);

let zone: usize = 0;
let cloner: usize = 0;
let softcs: usize = 0; // list of every tap softc
let nsoftc: u32 = 0;
let destroyed: u32 = 0; // interfaces destroyed since load: the host rechecks its ports when it moves

@inline function sc_(p: usize): TapSoftc {
  return changetype<TapSoftc>(p);
}

@inline function ring(sc: usize): usize {
  return sc + SC_RING;
}

@inline function stat(sc: usize, which: u32, n: u64 = 1): void {
  const p = sc + SC_COUNTERS + (<usize>which << 3);
  store<u64>(p, load<u64>(p) + n);
}

/** The softc of ifp if it is a live tap interface, else 0 (guards host pointers). */
function softcOf(ifp: usize): usize {
  if (cloner == 0 || !if_valid(ifp)) return 0;
  const ii = changetype<Ifnet>(ifp);
  if (ii.if_cloner != cloner || ii.if_softc == 0) return 0;
  const sc = ii.if_softc;
  return sc_(sc).magic == TAP_MAGIC && sc_(sc).ifp == ifp ? sc : 0;
}

/** RUNNING follows UP and the carrier. */
function setRunning(ifp: usize, sc: usize): void {
  const ii = changetype<Ifnet>(ifp);
  if ((ii.if_flags & IFF_UP) != 0 && sc_(sc).carrier != 0) ii.if_flags |= IFF_RUNNING;
  else ii.if_flags &= ~IFF_RUNNING;
}

// ---------------------------------------------------------------------------------------
// Output ring

/** if_transmit: the frame into the ring; the mbuf is freed. */
function tap_transmit(ifp: usize, m: usize): i32 {
  const sc = changetype<Ifnet>(ifp).if_softc;
  const len: u32 = <u32>changetype<Mbuf>(m).ph_len;
  const p = ring_reserve(ring(sc), len);
  if (p == 0) {
    stat(sc, TS_TXRINGDROPS);
    if_inc_counter(ifp, IFCOUNTER_OQDROPS, 1);
    m_freem(m);
    return -ENOBUFS;
  }
  m_copydata(m, 0, <i32>len, p);
  m_freem(m);
  stat(sc, TS_TXFRAMES);
  return 0;
}

function tap_input_if(ifp: usize, m: usize): void {
  ether_input(ifp, m);
}

function tap_ioctl(ifp: usize, cmd: u32, arg: usize): i32 {
  const ii = changetype<Ifnet>(ifp);
  if (cmd == SIOCSIFFLAGS) {
    setRunning(ifp, ii.if_softc);
    return 0;
  }
  if (cmd == SIOCSIFMTU) return ii.if_mtu <= TAP_MAXMTU ? 0 : -EINVAL;
  return 0;
}

// ---------------------------------------------------------------------------------------
// Cloner

function unitName(unit: u32): u32 {
  memory.copy(namebuf, TAP_PREFIX, TAP_PREFIX_LEN);
  let digits: u32 = 1;
  for (let u = unit; u >= 10; u /= 10) digits++;
  for (let i: u32 = 0, u = unit; i < digits; i++, u /= 10) {
    store<u8>(namebuf + TAP_PREFIX_LEN + digits - 1 - i, <u8>(0x30 + u % 10));
  }
  return TAP_PREFIX_LEN + digits;
}

function tap_clone_create(unit: u32): usize {
  const v = curvnet();
  if (ifunit(namebuf, unitName(unit)) != 0) {
    if_clone_seterror(-EEXIST);
    return 0;
  }
  const vbase = VNET(0);
  const sc = zone_alloc_in(zone, vbase);
  if (sc == 0) {
    if_clone_seterror(-ENOMEM);
    return 0;
  }
  const s = sc_(sc);
  s.vnet = v;
  s.vbase = vbase;
  const ifp = if_alloc(IFT_ETHER);
  if (ifp == 0 || !ring_alloc(ring(sc), v, RING_DEFSEG)) {
    if (ifp != 0) if_free(ifp);
    zone_free_in(zone, sc, vbase);
    if_clone_seterror(-ENOMEM);
    return 0;
  }
  if_initname_unit(ifp, TAP_PREFIX, TAP_PREFIX_LEN, unit, 0);
  const ii = changetype<Ifnet>(ifp);
  ii.if_flags = IFF_BROADCAST | IFF_SIMPLEX | IFF_MULTICAST;
  ii.if_mtu = TAP_MTU;
  ii.if_hdrlen = ETHER_HDR_LEN;
  ii.if_softc = sc;
  ii.if_transmit = tap_transmit.index;
  ii.if_input = tap_input_if.index;
  ii.if_ioctl = tap_ioctl.index;
  ii.if_cloner = cloner;
  ether_gen_addr(ifp);
  s.ifp = ifp;
  s.magic = TAP_MAGIC;
  const r = if_attach(ifp);
  if (r != 0) {
    s.magic = 0;
    ring_free(ring(sc));
    if_free(ifp);
    zone_free_in(zone, sc, vbase);
    if_clone_seterror(r);
    return 0;
  }
  s.prev = 0;
  s.next = softcs;
  if (softcs != 0) sc_(softcs).prev = sc;
  softcs = sc;
  nsoftc++;
  return ifp;
}

function destroySoftc(sc: usize): void {
  const s = sc_(sc);
  const ifp = s.ifp;
  const old = CURVNET_SET(changetype<Ifnet>(ifp).if_vnet);
  if_detach(ifp);
  if_free(ifp);
  CURVNET_RESTORE(old);
  s.magic = 0;
  if (s.prev != 0) sc_(s.prev).next = s.next;
  else softcs = s.next;
  if (s.next != 0) sc_(s.next).prev = s.prev;
  nsoftc--;
  destroyed++;
  ring_free(ring(sc));
  zone_free_in(zone, sc, s.vbase);
}

function tap_clone_destroy(ifp: usize): i32 {
  const sc = softcOf(ifp);
  if (sc == 0) return -EINVAL;
  destroySoftc(sc);
  return 0;
}

// VNET_SYSUNINIT: the interfaces created in the dying vnet go with it (wherever they are).
function tap_vnet_uninit(): void {
  const v = curvnet();
  let sc = softcs;
  while (sc != 0) {
    const next = sc_(sc).next;
    if (sc_(sc).vnet == v) {
      if (if_clone_destroy_ifp(sc_(sc).ifp) != 0 && sc_(sc).magic == TAP_MAGIC) destroySoftc(sc);
    }
    sc = next;
  }
}

export function modevent(what: i32): i32 {
  if (what == MOD_LOAD) {
    softcs = 0;
    nsoftc = 0;
    zone = zone_create("tap_softc", SC_SIZE, 0, ZONE_CHARGE | ZONE_ZERO, 0);
    if (zone == 0) return ENOMEM;
    let r = if_clone_attach("tap", tap_clone_create.index, tap_clone_destroy.index);
    if (r != 0) return -r; // kld_purge takes the zone
    cloner = if_clone_of("tap");
    r = vnet_sysinit_register(SI_SUB_PSEUDO, SI_ORDER_MIDDLE, 0, 0, tap_vnet_uninit.index);
    if (r != 0) return -r;
    return 0;
  }
  if (what == MOD_QUIESCE) return nsoftc != 0 ? EBUSY : 0;
  if (what == MOD_UNLOAD) {
    while (softcs != 0) destroySoftc(softcs);
    if_clone_detach("tap");
    cloner = 0;
    zone_destroy(zone, false);
    zone = 0;
    return 0;
  }
  return 0;
}

// ---------------------------------------------------------------------------------------
// Host entry points. Every ifp is checked (a live tap interface) before use.

/** The host's wire has a peer (on != 0) or not: RUNNING follows UP and this. 0 or -EINVAL. */
export function tap_setcarrier(ifp: usize, on: u32): i32 {
  const sc = softcOf(ifp);
  if (sc == 0) return -EINVAL;
  const was = sc_(sc).carrier;
  const now: u32 = on != 0 ? 1 : 0;
  if (was != now) stat(sc, now != 0 ? TS_CARRIERUP : TS_CARRIERDOWN);
  sc_(sc).carrier = now;
  setRunning(ifp, sc);
  return 0;
}

/** 1 with a carrier, 0 without, -EINVAL for a bad ifp. */
export function tap_carrier(ifp: usize): i32 {
  const sc = softcOf(ifp);
  return sc == 0 ? -EINVAL : <i32>sc_(sc).carrier;
}

/**
 * The host dropped n frames or messages before the kernel saw them (or could not send n):
 * which is TS_RXOVERSIZE or TS_RXBADMSG (ierrors) or TS_TXQDROPS (oqdrops). 0 or -EINVAL.
 */
export function tap_drop(ifp: usize, which: u32, n: u32): i32 {
  const sc = softcOf(ifp);
  if (sc == 0) return -EINVAL;
  if (which == TS_RXOVERSIZE || which == TS_RXBADMSG) if_inc_counter(ifp, IFCOUNTER_IERRORS, <u64>n);
  else if (which == TS_TXQDROPS) if_inc_counter(ifp, IFCOUNTER_OQDROPS, <u64>n);
  else return -EINVAL;
  stat(sc, which, <u64>n);
  return 0;
}

/** Resize the output ring (1 .. 64 segments of 64 KiB); what it holds is dropped. */
export function tap_setring(ifp: usize, nseg: u32): i32 {
  const sc = softcOf(ifp);
  return sc == 0 ? -EINVAL : ring_resize(ring(sc), nseg);
}

/** Ring segments of ifp, or -EINVAL. */
export function tap_ring(ifp: usize): i32 {
  const sc = softcOf(ifp);
  return sc == 0 ? -EINVAL : <i32>ring_nseg(ring(sc));
}

/** Rename ifp to the len bytes in the I/O buffer. */
export function tap_setname(ifp: usize, len: u32): i32 {
  const sc = softcOf(ifp);
  if (sc == 0 || len == 0 || len >= IFNAMSIZ) return -EINVAL;
  const buf = kern_iobuf();
  const other = ifunit_vnet(changetype<Ifnet>(ifp).if_vnet, buf, len);
  if (other == ifp) return 0;
  if (other != 0) return -EEXIST;
  if_initname(ifp, buf, len);
  return 0;
}

/** Counter which (TS_*) of ifp; -1 for a bad ifp or index. */
export function tap_stat(ifp: usize, which: u32): f64 {
  const sc = softcOf(ifp);
  if (sc == 0 || which >= TS_COUNT) return -1;
  return <f64>load<u64>(sc + SC_COUNTERS + (<usize>which << 3));
}

/** Interfaces destroyed since the module loaded (the host rechecks its ports when this moves). */
export function tap_destroyed(): u32 {
  return destroyed;
}

export function tap_count(): u32 {
  return nsoftc;
}

/**
 * Bytes of records readable now in the segment being read (0 = nothing, -1 = bad ifp);
 * tap_read_ptr() is where they start. The host takes them and calls tap_consume.
 */
export function tap_readable(ifp: usize): i32 {
  const sc = softcOf(ifp);
  return sc == 0 ? -1 : ring_readable(ring(sc));
}

export function tap_read_ptr(): usize {
  return ring_read_ptr();
}

export function tap_consume(ifp: usize, n: u32): void {
  const sc = softcOf(ifp);
  if (sc != 0) ring_consume(ring(sc), n);
}

/**
 * n frames (records in the I/O buffer, see the file header) arrived for ifp: check each
 * record and length and hand the frame to ether_input in ifp's vnet. Returns frames passed
 * on, or -EINVAL for a bad ifp.
 */
export function tap_input(ifp: usize, n: u32): i32 {
  const sc = softcOf(ifp);
  if (sc == 0) return -EINVAL;
  const buf = kern_iobuf();
  const ii = changetype<Ifnet>(ifp);
  const old = CURVNET_SET(ii.if_vnet);
  let off: u32 = 0;
  let passed: i32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    if (off + 4 > IOBUF_SIZE || load<u32>(buf + off) > IOBUF_SIZE - off - 4) {
      stat(sc, TS_RXBADREC);
      if_inc_counter(ifp, IFCOUNTER_IERRORS, 1);
      break;
    }
    const len = load<u32>(buf + off);
    const p = buf + off + 4;
    off += (4 + len + 3) & ~3;
    if (len < ETHER_HDR_LEN) {
      stat(sc, TS_RXRUNT);
      if_inc_counter(ifp, IFCOUNTER_IERRORS, 1);
      continue;
    }
    if (len > ii.if_mtu + ETHER_HDR_LEN + ETHER_VLAN_ENCAP_LEN) {
      stat(sc, TS_RXOVERSIZE);
      if_inc_counter(ifp, IFCOUNTER_IERRORS, 1);
      continue;
    }
    const m = m_gethdr(MT_DATA);
    if (m == 0 || !m_append(m, <i32>len, p)) {
      if (m != 0) m_freem(m);
      stat(sc, TS_RXNOMEM);
      if_inc_counter(ifp, IFCOUNTER_IQDROPS, 1);
      continue;
    }
    changetype<Mbuf>(m).ph_rcvif = ifp;
    stat(sc, TS_RXFRAMES);
    passed++;
    ether_input(ifp, m);
  }
  CURVNET_RESTORE(old);
  return passed;
}
