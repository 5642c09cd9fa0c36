// if_vxlan: an Ethernet interface whose wire is a VXLAN tunnel (RFC 7348) through a UDP
// socket of the host (host/vxlan.ts owns the socket). "ifconfig vxlan create" in vnet V
// makes vxlan<unit> in V: IFT_ETHER, BROADCAST|SIMPLEX|MULTICAST, MTU 1450 (1500 less the
// 50 bytes of outer IPv4, UDP and VXLAN headers, as Linux does), a random locally
// administered MAC from the kernel's seeded random numbers.
//
// Transmit copies the frame, behind its 8-byte VXLAN header, into the interface's output
// ring (if_ring.ts; a record's data is the VXLAN header and the frame) and frees the mbuf;
// the host drains every ring after each kernel entry and clock tick and sends one datagram
// per record, so there is no JavaScript call per frame inside the kernel. A full ring drops
// the frame and counts it (oqdrops), never overwrites.
//
// Receive: the host packs datagrams into the kernel's I/O buffer as records
//   0 u32 len   4 data[len] (the UDP payload: VXLAN header, frame), padded to 4
// and calls vxlan_input once per batch. The header is checked before the frame is used
// (RFC 7348 5: the I flag must be set, the VNI must be ours; reserved bits are ignored); a
// bad one is dropped and counted on the interface (ierrors) and in the module's counters.
// Everything else (runts, oversize, bad source) is ether_input's to check and count.
//
// No remote-MAC learning and no flood groups: one remote per interface, whose address the
// host holds (Linux "vxlan ... remote"). No checksum or segmentation offload is advertised:
// what leaves is complete and MTU-sized, as it must be on a wire the kernel does not own.
//
// An interface is a clone of the vnet it is created in and dies with it (or with ifconfig
// destroy); its softc and ring pages are charged to that vnet. kldunload is refused while
// any vxlan interface exists.

import {
  curvnet, VNET, CURVNET_SET, CURVNET_RESTORE, zone_create, zone_alloc_in, zone_free_in, zone_destroy, ZONE_CHARGE, ZONE_ZERO,
  vnet_sysinit_register, if_alloc, if_initname, if_initname_unit, if_attach, if_detach, if_free, if_valid,
  ifunit, ifunit_vnet, if_clone_attach, if_clone_detach, if_clone_seterror, if_clone_of, if_clone_destroy_ifp, ether_input,
  ether_gen_addr, m_gethdr, m_append, m_freem, m_copydata,
  SI_SUB_PSEUDO, SI_ORDER_MIDDLE, MOD_LOAD, MOD_UNLOAD, MOD_QUIESCE, EBUSY, ENOMEM, EINVAL, EEXIST, ENOBUFS,
} from "../kmod/kapi";
import {
  Ifnet, IFT_ETHER, IFF_UP, IFF_RUNNING, IFF_BROADCAST, IFF_SIMPLEX, IFF_MULTICAST, ETHER_HDR_LEN, IFNAMSIZ,
  IFCOUNTER_IERRORS, IFCOUNTER_IQDROPS, IFCOUNTER_OQDROPS, if_lladdr, if_inc_counter,
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

export const VXLAN_HDR_LEN: u32 = 8; // RFC 7348 5: flags(8) reserved(24) VNI(24) reserved(8)
const VXLAN_I_FLAG: u8 = 0x08;
const VXLAN_VNI_MAX: u32 = 0xffffff;
/** 1500 less outer IPv4 (20), UDP (8), VXLAN (8) and inner Ethernet (14) headers. */
export const VXLAN_MTU: u32 = 1450;
/** A frame and its VXLAN header must fit one UDP datagram and one ring segment. */
export const VXLAN_MAXMTU: u32 = 16384;
const IOBUF_SIZE: u32 = 65536;
export const VXLAN_MAXSEG: u32 = RING_MAXSEG;
const VXLAN_MAGIC: u32 = 0x56584c4e; // "VXLN"

// Module counters per interface (host/vxlan.ts VXLAN_STATS has the same order).
const VS_TXFRAMES: u32 = 0; // frames put in the ring
const VS_TXRINGDROPS: u32 = 1; // frames dropped because the ring was full
const VS_RXDATAGRAMS: u32 = 2; // datagrams handed in by the host
const VS_RXFRAMES: u32 = 3; // frames passed to ether_input
const VS_RXSHORT: u32 = 4; // datagram shorter than the VXLAN header
const VS_RXBADFLAGS: u32 = 5; // I flag clear
const VS_RXBADVNI: u32 = 6; // another VNI
const VS_RXNOMEM: u32 = 7; // no mbuf for the frame
const VS_RXBADREC: u32 = 8; // a batch record running past the I/O buffer (a host bug)
const VS_COUNT: u32 = 9;

@unmanaged class VxlanSoftc {
  magic: u32;
  ifp: usize;
  vnet: usize; // home vnet: the softc and ring are charged to it
  vbase: usize;
  next: usize; // every vxlan interface, any vnet
  prev: usize;
  vni: u32;
  // then counters: VS_COUNT x u64, then the output ring (if_ring.ts)
}

const SC_COUNTERS: usize = (offsetof<VxlanSoftc>() + 7) & ~7;
const SC_RING: usize = SC_COUNTERS + VS_COUNT * 8;
const SC_SIZE: u32 = <u32>SC_RING + IFRING_SIZE;

const VXLAN_PREFIX: usize = memory.data<u8>([0x76, 0x78, 0x6c, 0x61, 0x6e]); // "vxlan"
const VXLAN_PREFIX_LEN: u32 = 5;
const namebuf: usize = memory.data(16, 8);

let zone: usize = 0;
let cloner: usize = 0;
let softcs: usize = 0; // list of every vxlan softc
let nsoftc: u32 = 0;
let destroyed: u32 = 0; // interfaces destroyed since load: the host rechecks its ports when it moves

@inline function sc_(p: usize): VxlanSoftc {
  return changetype<VxlanSoftc>(p);
}

@inline function ring(sc: usize): usize {
  return sc + SC_RING;
}

@inline function stat(sc: usize, which: u32): void {
  const p = sc + SC_COUNTERS + (<usize>which << 3);
  store<u64>(p, load<u64>(p) + 1);
}

/** The softc of ifp if it is a live vxlan interface, else 0 (guards host pointers). */
function softcOf(ifp: usize): usize {
  if (cloner == 0 || !if_valid(ifp)) return 0;
  const ii = changetype<Ifnet>(ifp);
  if (ii.if_cloner != cloner || ii.if_softc == 0) return 0;
  const sc = ii.if_softc;
  return sc_(sc).magic == VXLAN_MAGIC && sc_(sc).ifp == ifp ? sc : 0;
}

// ---------------------------------------------------------------------------------------
// Output ring

/** if_transmit: the frame, behind its VXLAN header, into the ring; the mbuf is freed. */
function vxlan_transmit(ifp: usize, m: usize): i32 {
  const sc = changetype<Ifnet>(ifp).if_softc;
  const len: u32 = <u32>changetype<Mbuf>(m).ph_len;
  const p = ring_reserve(ring(sc), VXLAN_HDR_LEN + len);
  if (p == 0) {
    stat(sc, VS_TXRINGDROPS);
    if_inc_counter(ifp, IFCOUNTER_OQDROPS, 1);
    m_freem(m);
    return -ENOBUFS;
  }
  // RFC 7348 5: flags with I set, 24 reserved bits, the VNI, 8 reserved bits.
  store<u32>(p, <u32>VXLAN_I_FLAG);
  store<u32>(p, bswap<u32>(sc_(sc).vni << 8), 4);
  m_copydata(m, 0, <i32>len, p + VXLAN_HDR_LEN);
  m_freem(m);
  stat(sc, VS_TXFRAMES);
  return 0;
}

function vxlan_input_if(ifp: usize, m: usize): void {
  ether_input(ifp, m);
}

function vxlan_ioctl(ifp: usize, cmd: u32, arg: usize): i32 {
  const ii = changetype<Ifnet>(ifp);
  if (cmd == SIOCSIFFLAGS) {
    // The host's socket is the hardware: the driver runs whenever the interface is up.
    if (ii.if_flags & IFF_UP) ii.if_flags |= IFF_RUNNING;
    else ii.if_flags &= ~IFF_RUNNING;
    return 0;
  }
  if (cmd == SIOCSIFMTU) return ii.if_mtu <= VXLAN_MAXMTU ? 0 : -EINVAL;
  return 0;
}

// ---------------------------------------------------------------------------------------
// Cloner

function unitName(unit: u32): u32 {
  memory.copy(namebuf, VXLAN_PREFIX, VXLAN_PREFIX_LEN);
  let digits: u32 = 1;
  for (let u = unit; u >= 10; u /= 10) digits++;
  for (let i: u32 = 0, u = unit; i < digits; i++, u /= 10) {
    store<u8>(namebuf + VXLAN_PREFIX_LEN + digits - 1 - i, <u8>(0x30 + u % 10));
  }
  return VXLAN_PREFIX_LEN + digits;
}

function vxlan_clone_create(unit: u32): usize {
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
  if_initname_unit(ifp, VXLAN_PREFIX, VXLAN_PREFIX_LEN, unit, 0);
  const ii = changetype<Ifnet>(ifp);
  ii.if_flags = IFF_BROADCAST | IFF_SIMPLEX | IFF_MULTICAST;
  ii.if_mtu = VXLAN_MTU;
  ii.if_hdrlen = ETHER_HDR_LEN;
  ii.if_softc = sc;
  ii.if_transmit = vxlan_transmit.index;
  ii.if_input = vxlan_input_if.index;
  ii.if_ioctl = vxlan_ioctl.index;
  ii.if_cloner = cloner;
  // A random locally administered unicast address, as Linux gives a vxlan device.
  ether_gen_addr(ifp);
  s.ifp = ifp;
  s.magic = VXLAN_MAGIC;
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

function vxlan_clone_destroy(ifp: usize): i32 {
  const sc = softcOf(ifp);
  if (sc == 0) return -EINVAL;
  destroySoftc(sc);
  return 0;
}

// VNET_SYSUNINIT: the interfaces created in the dying vnet go with it (wherever they are).
// The module's own list, not a walk over every vnet's interfaces: teardown of many vnets
// stays linear.
function vxlan_vnet_uninit(): void {
  const v = curvnet();
  let sc = softcs;
  while (sc != 0) {
    const next = sc_(sc).next;
    if (sc_(sc).vnet == v) {
      // Through the cloner so its count of clones stays right; directly if that fails.
      if (if_clone_destroy_ifp(sc_(sc).ifp) != 0 && sc_(sc).magic == VXLAN_MAGIC) destroySoftc(sc);
    }
    sc = next;
  }
}

export function modevent(what: i32): i32 {
  if (what == MOD_LOAD) {
    softcs = 0;
    nsoftc = 0;
    zone = zone_create("vxlan_softc", SC_SIZE, 0, ZONE_CHARGE | ZONE_ZERO, 0);
    if (zone == 0) return ENOMEM;
    let r = if_clone_attach("vxlan", vxlan_clone_create.index, vxlan_clone_destroy.index);
    if (r != 0) return -r; // kld_purge takes the zone
    cloner = if_clone_of("vxlan");
    r = vnet_sysinit_register(SI_SUB_PSEUDO, SI_ORDER_MIDDLE, 0, 0, vxlan_vnet_uninit.index);
    if (r != 0) return -r;
    return 0;
  }
  if (what == MOD_QUIESCE) return nsoftc != 0 ? EBUSY : 0;
  if (what == MOD_UNLOAD) {
    // Forced: whatever the per-vnet uninits left (nothing, normally).
    while (softcs != 0) destroySoftc(softcs);
    if_clone_detach("vxlan");
    cloner = 0;
    zone_destroy(zone, false);
    zone = 0;
    return 0;
  }
  return 0;
}

// ---------------------------------------------------------------------------------------
// Host entry points. Every ifp is checked (a live vxlan interface) before use.

/** Set the VNI (0 .. 2^24 - 1) of ifp. 0 or -EINVAL. */
export function vxlan_setvni(ifp: usize, vni: u32): i32 {
  const sc = softcOf(ifp);
  if (sc == 0 || vni > VXLAN_VNI_MAX) return -EINVAL;
  sc_(sc).vni = vni;
  return 0;
}

export function vxlan_vni(ifp: usize): i32 {
  const sc = softcOf(ifp);
  return sc == 0 ? -EINVAL : <i32>sc_(sc).vni;
}

/** Resize the output ring (1 .. 64 segments of 64 KiB); what it holds is dropped. */
export function vxlan_setring(ifp: usize, nseg: u32): i32 {
  const sc = softcOf(ifp);
  return sc == 0 ? -EINVAL : ring_resize(ring(sc), nseg);
}

/** Rename ifp to the len bytes in the I/O buffer (ifconfig vxlan0 name NAME). */
export function vxlan_setname(ifp: usize, len: u32): i32 {
  const sc = softcOf(ifp);
  if (sc == 0 || len == 0 || len >= IFNAMSIZ) return -EINVAL;
  const buf = kern_iobuf();
  const other = ifunit_vnet(changetype<Ifnet>(ifp).if_vnet, buf, len);
  if (other == ifp) return 0;
  if (other != 0) return -EEXIST;
  if_initname(ifp, buf, len);
  return 0;
}

/** Counter which (VS_*) of ifp; -1 for a bad ifp or index. */
export function vxlan_stat(ifp: usize, which: u32): f64 {
  const sc = softcOf(ifp);
  if (sc == 0 || which >= VS_COUNT) return -1;
  return <f64>load<u64>(sc + SC_COUNTERS + (<usize>which << 3));
}

/** Interfaces destroyed since the module loaded (the host rechecks its ports when this moves). */
export function vxlan_destroyed(): u32 {
  return destroyed;
}

export function vxlan_count(): u32 {
  return nsoftc;
}

/** Ring segments of ifp, or -EINVAL. */
export function vxlan_ring(ifp: usize): i32 {
  const sc = softcOf(ifp);
  return sc == 0 ? -EINVAL : <i32>ring_nseg(ring(sc));
}

/**
 * Bytes of records readable now in the segment being read (0 = nothing, -1 = bad ifp);
 * vxlan_read_ptr() is where they start. The host sends them and calls vxlan_consume.
 */
export function vxlan_readable(ifp: usize): i32 {
  const sc = softcOf(ifp);
  return sc == 0 ? -1 : ring_readable(ring(sc));
}

export function vxlan_read_ptr(): usize {
  return ring_read_ptr();
}

export function vxlan_consume(ifp: usize, n: u32): void {
  const sc = softcOf(ifp);
  if (sc != 0) ring_consume(ring(sc), n);
}

/**
 * n datagrams (records in the I/O buffer, see the file header) arrived for ifp: check each
 * VXLAN header and hand the frame to ether_input in ifp's vnet. Returns frames passed on,
 * or -EINVAL for a bad ifp.
 */
export function vxlan_input(ifp: usize, n: u32): i32 {
  const sc = softcOf(ifp);
  if (sc == 0) return -EINVAL;
  const buf = kern_iobuf();
  const vni = sc_(sc).vni;
  const old = CURVNET_SET(changetype<Ifnet>(ifp).if_vnet);
  let off: u32 = 0;
  let passed: i32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    stat(sc, VS_RXDATAGRAMS);
    if (off + 4 > IOBUF_SIZE || load<u32>(buf + off) > IOBUF_SIZE - off - 4) {
      stat(sc, VS_RXBADREC);
      if_inc_counter(ifp, IFCOUNTER_IERRORS, 1);
      break;
    }
    const len = load<u32>(buf + off);
    const p = buf + off + 4;
    off += (4 + len + 3) & ~3;
    // RFC 7348 5: the header before anything else is read.
    if (len < VXLAN_HDR_LEN) {
      stat(sc, VS_RXSHORT);
      if_inc_counter(ifp, IFCOUNTER_IERRORS, 1);
      continue;
    }
    if ((load<u8>(p) & VXLAN_I_FLAG) == 0) {
      stat(sc, VS_RXBADFLAGS);
      if_inc_counter(ifp, IFCOUNTER_IERRORS, 1);
      continue;
    }
    if ((bswap<u32>(load<u32>(p, 4)) >> 8) != vni) {
      stat(sc, VS_RXBADVNI);
      if_inc_counter(ifp, IFCOUNTER_IERRORS, 1);
      continue;
    }
    const m = m_gethdr(MT_DATA);
    if (m == 0 || !m_append(m, <i32>(len - VXLAN_HDR_LEN), p + VXLAN_HDR_LEN)) {
      if (m != 0) m_freem(m);
      stat(sc, VS_RXNOMEM);
      if_inc_counter(ifp, IFCOUNTER_IQDROPS, 1);
      continue;
    }
    changetype<Mbuf>(m).ph_rcvif = ifp;
    stat(sc, VS_RXFRAMES);
    passed++;
    ether_input(ifp, m);
  }
  CURVNET_RESTORE(old);
  return passed;
}

