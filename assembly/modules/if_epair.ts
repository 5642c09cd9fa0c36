// if_epair: pairs of Ethernet interfaces joined back to back (FreeBSD if_epair(4)), the
// virtual cable between vnets, with per-direction link conditions (if_epair/epair_link.ts).
//
// "ifconfig epair create" in vnet V makes epair<unit>a and epair<unit>b in V (the lowest
// unit free there), IFT_ETHER, BROADCAST|SIMPLEX|MULTICAST, MTU 1500 (up to 16384),
// RUNNING whenever UP, each with a locally administered MAC made from V's id and the unit
// (02:<vnet id>:<unit>:0a / :0b). A frame sent on one end is the other end's input: the
// mbuf pointer moves (zero copy) and its charge moves to the receiving vnet (m_chargeto).
//
// Offload between vnets (docs/tcp.md "Offload between vnets"): both ends advertise
// IFCAP_RXCSUM, IFCAP_TXCSUM and IFCAP_TSO4, and for IPv6 IFCAP_RXCSUM_IPV6,
// IFCAP_TXCSUM_IPV6 and IFCAP_TSO6 (all on at creation), as virtual NICs do. An end assists
// (if_hwassist) a family's transport checksums when it has that family's TXCSUM on and its
// peer the RXCSUM, and TSO when both ends also have TSO4 / TSO6 on (the peer takes the large frames), the peer's MTU is
// no smaller, no capture is on either end and no link conditions act on its direction
// (loss, delay, rate must see MTU-sized frames). Neither assists anything while either end
// is a bridge member: a bridge floods frames to members that may not offload. A frame
// handed over with offload bits keeps them and gains CSUM_DATA_VALID | CSUM_PSEUDO_HDR (the
// data never left the kernel); if_hwassist is recomputed for both ends whenever one of
// these inputs changes (flags, MTU, capabilities, captures and bridges through SIOCCAPCHG,
// link conditions).
//
// Life of a pair, as in FreeBSD:
//   - it is homed in the vnet it was created in; either end may be moved into any vnet;
//   - destroying either end destroys both, wherever each one is;
//   - it dies with its home vnet: this module's VNET_SYSUNINIT destroys the pairs created
//     in the dying vnet, wherever their ends are by then (even if neither is there);
//   - an end that was moved INTO a dying vnet from elsewhere is not destroyed: the kernel's
//     vnet_if_return, which runs before this uninit, sends it home (down), and its pair
//     lives on;
//   - frames in flight toward an end are checked when they arrive (end UP and RUNNING,
//     vnet alive), so nothing is delivered into a vnet that is going away, and a dying
//     vnet's uninit drops every in-flight frame charged to it, so nothing keeps it alive.
//
// The pairs are on a module-wide list (softcs from the module's "epair" zone), so a vnet's
// uninit finds its pairs even when both ends live elsewhere. kldunload is refused (EBUSY)
// while any pair exists.
//
// Host entry points (host/epair.ts wraps them): epair_set_conditions, epair_clear_conditions,
// epair_set_rng, epair_condition, epair_stat, epair_peer, epair_pairs.

import {
  curvnet, CURVNET_SET, CURVNET_RESTORE, zone_create, zone_alloc_in, zone_free_in, zone_destroy, ZONE_ZERO,
  vnet_sysinit_register, if_alloc, if_initname_unit, if_attach, if_detach, if_free, if_valid, ifunit,
  if_clone_attach, if_clone_detach, if_clone_seterror, if_clone_of, if_clone_destroy_ifp, vnet_id, ether_input, callout_init,
  SI_SUB_PSEUDO, SI_ORDER_MIDDLE, MOD_LOAD, MOD_UNLOAD, MOD_QUIESCE, EBUSY, ENOMEM, EINVAL,
} from "../kmod/kapi";
import {
  Ifnet, IFT_ETHER, IFF_UP, IFF_RUNNING, IFF_BROADCAST, IFF_SIMPLEX, IFF_MULTICAST, ETHERMTU, ETHER_HDR_LEN, if_lladdr,
  IFCAP_RXCSUM, IFCAP_TXCSUM, IFCAP_TSO4, IFCAP_RXCSUM_IPV6, IFCAP_TXCSUM_IPV6, IFCAP_TSO6, IFCAP_OFFLOAD,
} from "../sys/if";
import { Mbuf, CSUM_TCP, CSUM_UDP, CSUM_TSO, CSUM_TCP_IPV6, CSUM_UDP_IPV6, CSUM_IP6_TSO, CSUM_OFFLOAD, CSUM_DATA_VALID, CSUM_PSEUDO_HDR } from "../sys/mbuf";
import {
  EpairSoftc, EpairDir, EPAIR_MAGIC, NO_TIME, SC_DIR_A, SC_DIR_B, SC_SIZE, DIR_CALLOUT, DIR_COUNTERS, EPAIR_MAXMTU,
  EPAIR_MAX_DELAY_US, EPAIR_MAX_RATE, EPAIR_QLIMIT_MAX, EC_LOSS, EC_DUP, EC_RATE, EC_DELAY, EC_REORDER,
  ES_DROPPED, ES_QUEUED, ES_BACKLOG, ES_BACKLOG_BYTES, EK_DELAY, EK_JITTER, EK_LOSS, EK_DUP, EK_REORDER, EK_RATE,
  EK_QLIMIT, EK_QBYTES, EPAIR_QLIMIT_DEFAULT, dir,
} from "./if_epair/if_epairvar";
import { epair_deliver_inline, epair_enqueue, epair_flush, epair_sweep, epair_link_init } from "./if_epair/epair_link";
export { kmod_heap_top } from "../kmod/kmod";

// Kernel exports that kapi.ts does not declare (yet).
/** ifconfig IF destroy through the cloner (keeps the cloner's count of clones right). */

// ioctl commands (net/if.ts)
const SIOCSIFFLAGS: u32 = 1;
const SIOCSIFMTU: u32 = 2;
const SIOCSIFCAP: u32 = 4;
const SIOCCAPCHG: u32 = 5;

const EEXIST: i32 = 17;
const EPAIR_PREFIX: usize = memory.data<u8>([0x65, 0x70, 0x61, 0x69, 0x72]); // "epair"
const EPAIR_PREFIX_LEN: u32 = 5;
const namebuf: usize = memory.data(16, 8);

let zone: usize = 0;
let cloner: usize = 0;
let pairs: usize = 0; // list of every pair, any vnet
let npairs: u32 = 0;

// Units held, by (home vnet, unit): the cloner asks for units 0, 1, 2, ... until one is
// free, so "is it held" must not walk every pair (that made creating N pairs O(N^3)).
const UNIT_BUCKETS: u32 = 1024;
const unitHash: usize = memory.data(<i32>(UNIT_BUCKETS * sizeof<usize>()), 8);

@inline function softc(p: usize): EpairSoftc {
  return changetype<EpairSoftc>(p);
}

@inline function bucketOf(home: usize, unit: u32): usize {
  const h = (<u32>home >> 3) ^ (unit * 0x9e3779b1);
  return unitHash + ((<usize>(h ^ (h >> 16)) & (UNIT_BUCKETS - 1)) << alignof<usize>());
}

function unitHeld(home: usize, unit: u32): bool {
  for (let sc = load<usize>(bucketOf(home, unit)); sc != 0; sc = softc(sc).hnext) {
    if (softc(sc).home == home && softc(sc).unit == unit) return true;
  }
  return false;
}

function unitHold(sc: usize): void {
  const b = bucketOf(softc(sc).home, softc(sc).unit);
  softc(sc).hnext = load<usize>(b);
  store<usize>(b, sc);
}

function unitRelease(sc: usize): void {
  let p = bucketOf(softc(sc).home, softc(sc).unit);
  for (let x = load<usize>(p); x != 0; x = softc(x).hnext) {
    if (x == sc) {
      store<usize>(p, softc(sc).hnext);
      return;
    }
    p = x + offsetof<EpairSoftc>("hnext");
  }
}

// ---------------------------------------------------------------------------------------
// Data path

/** What ifp (sending to peer over direction d) assists now: see the file header. */
function hwassist(d: EpairDir): u32 {
  const a = changetype<Ifnet>(d.ifp);
  const b = changetype<Ifnet>(d.peer);
  if (a.if_bridge != 0 || b.if_bridge != 0) return 0;
  // Large segments only where every frame may be one: no capture, no conditions, no smaller MTU.
  const big = b.if_mtu >= a.if_mtu && a.if_bpf == 0 && b.if_bpf == 0 && d.cond == 0;
  let hw: u32 = 0;
  if ((a.if_capenable & IFCAP_TXCSUM) != 0 && (b.if_capenable & IFCAP_RXCSUM) != 0) {
    hw |= CSUM_TCP | CSUM_UDP;
    if (big && (a.if_capenable & b.if_capenable & IFCAP_TSO4) != 0) hw |= CSUM_TSO;
  }
  // IPv6 on its own capabilities (FreeBSD IFCAP_TXCSUM_IPV6, IFCAP_RXCSUM_IPV6, IFCAP_TSO6).
  if ((a.if_capenable & IFCAP_TXCSUM_IPV6) != 0 && (b.if_capenable & IFCAP_RXCSUM_IPV6) != 0) {
    hw |= CSUM_TCP_IPV6 | CSUM_UDP_IPV6;
    if (big && (a.if_capenable & b.if_capenable & IFCAP_TSO6) != 0) hw |= CSUM_IP6_TSO;
  }
  return hw;
}

/** Recompute if_hwassist of both ends of the pair d belongs to. */
function epair_caps_update(d: EpairDir): void {
  const sc = d.sc;
  const da = dir(sc + SC_DIR_A);
  const db = dir(sc + SC_DIR_B);
  changetype<Ifnet>(da.ifp).if_hwassist = hwassist(da);
  changetype<Ifnet>(db.ifp).if_hwassist = hwassist(db);
}

/** if_transmit: frames sent by ifp go to its peer, at once or through the link conditions. */
function epair_transmit(ifp: usize, m: usize): i32 {
  const d = dir(changetype<Ifnet>(ifp).if_softc);
  d.c_sent++;
  const mm = changetype<Mbuf>(m);
  if ((mm.ph_csum_flags & CSUM_OFFLOAD) != 0) {
    // Left to us: the receiver trusts the data; the request bits stay (the field is unfinished).
    mm.ph_csum_flags |= CSUM_DATA_VALID | CSUM_PSEUDO_HDR;
    mm.ph_csum_data = 0xffff;
  }
  if (d.cond == 0) epair_deliver_inline(d, m);
  else epair_enqueue(d, m);
  return 0;
}

/** if_input: a frame arriving on an end (from its peer, or injected by the host). */
function epair_input(ifp: usize, m: usize): void {
  ether_input(ifp, m);
}

function epair_ioctl(ifp: usize, cmd: u32, arg: usize): i32 {
  const ii = changetype<Ifnet>(ifp);
  if (cmd == SIOCSIFFLAGS) {
    // No hardware to wait for: the driver is running whenever the interface is up.
    if (ii.if_flags & IFF_UP) ii.if_flags |= IFF_RUNNING;
    else ii.if_flags &= ~IFF_RUNNING;
    epair_caps_update(dir(ii.if_softc));
    return 0;
  }
  if (cmd == SIOCSIFMTU) {
    if (ii.if_mtu > EPAIR_MAXMTU) return -EINVAL;
    epair_caps_update(dir(ii.if_softc));
    return 0;
  }
  if (cmd == SIOCSIFCAP || cmd == SIOCCAPCHG) epair_caps_update(dir(ii.if_softc));
  return 0;
}

// ---------------------------------------------------------------------------------------
// Cloner

/** "epair<unit><suffix>" into namebuf; returns its length. */
function unitName(unit: u32, suffix: u8): u32 {
  memory.copy(namebuf, EPAIR_PREFIX, EPAIR_PREFIX_LEN);
  let digits: u32 = 1;
  for (let u = unit; u >= 10; u /= 10) digits++;
  for (let i: u32 = 0, u = unit; i < digits; i++, u /= 10) {
    store<u8>(namebuf + EPAIR_PREFIX_LEN + digits - 1 - i, <u8>(0x30 + u % 10));
  }
  store<u8>(namebuf + EPAIR_PREFIX_LEN + digits, suffix);
  return EPAIR_PREFIX_LEN + digits + 1;
}

function setupDir(d: usize, ifp: usize, peer: usize, sc: usize): void {
  const dd = dir(d);
  dd.magic = EPAIR_MAGIC;
  dd.ifp = ifp;
  dd.peer = peer;
  dd.sc = sc;
  dd.qlimit = EPAIR_QLIMIT_DEFAULT;
  dd.armed = NO_TIME;
  callout_init(d + DIR_CALLOUT); // bound to curvnet, the home vnet, which outlives the pair
}

function setupIf(ifp: usize, unit: u32, suffix: u8, d: usize, v: usize): void {
  if_initname_unit(ifp, EPAIR_PREFIX, EPAIR_PREFIX_LEN, unit, suffix);
  const ii = changetype<Ifnet>(ifp);
  ii.if_flags = IFF_BROADCAST | IFF_SIMPLEX | IFF_MULTICAST;
  ii.if_mtu = ETHERMTU;
  ii.if_hdrlen = ETHER_HDR_LEN;
  ii.if_softc = d;
  ii.if_transmit = epair_transmit.index;
  ii.if_input = epair_input.index;
  ii.if_ioctl = epair_ioctl.index;
  ii.if_cloner = cloner;
  ii.if_capabilities = IFCAP_OFFLOAD;
  ii.if_capenable = IFCAP_OFFLOAD;
  // 02:<home vnet id>:<unit>:0a|0b, locally administered unicast.
  const id = vnet_id(v);
  const mac = if_lladdr(ifp);
  store<u8>(mac, 0x02);
  store<u8>(mac + 1, <u8>(id >> 8));
  store<u8>(mac + 2, <u8>id);
  store<u8>(mac + 3, <u8>(unit >> 8));
  store<u8>(mac + 4, <u8>unit);
  store<u8>(mac + 5, suffix == 0x61 ? 0x0a : 0x0b);
}

/** Cloner create: epair<unit>a and epair<unit>b in curvnet; returns the a end. */
function epair_clone_create(unit: u32): usize {
  const v = curvnet();
  // The unit is taken if its names are used here, or by a pair made here whose ends are
  // elsewhere now (they come home by these names when their vnets go away).
  if (unitHeld(v, unit) || ifunit(namebuf, unitName(unit, 0x61)) != 0 || ifunit(namebuf, unitName(unit, 0x62)) != 0) {
    if_clone_seterror(-EEXIST);
    return 0;
  }
  const sc = zone_alloc_in(zone, 0);
  if (sc == 0) {
    if_clone_seterror(-ENOMEM);
    return 0;
  }
  const a = if_alloc(IFT_ETHER);
  const b = a != 0 ? if_alloc(IFT_ETHER) : 0;
  if (b == 0) {
    if (a != 0) if_free(a);
    zone_free_in(zone, sc, 0);
    if_clone_seterror(-ENOMEM);
    return 0;
  }
  const s = softc(sc);
  s.home = v;
  s.unit = unit;
  s.magic = EPAIR_MAGIC;
  setupDir(sc + SC_DIR_A, a, b, sc);
  setupDir(sc + SC_DIR_B, b, a, sc);
  setupIf(a, unit, 0x61, sc + SC_DIR_A, v);
  setupIf(b, unit, 0x62, sc + SC_DIR_B, v);
  epair_caps_update(dir(sc + SC_DIR_A));
  let r = if_attach(a);
  if (r == 0) {
    r = if_attach(b);
    if (r != 0) if_detach(a);
  }
  if (r != 0) {
    if_free(a);
    if_free(b);
    zone_free_in(zone, sc, 0);
    if_clone_seterror(r);
    return 0;
  }
  s.prev = 0;
  s.next = pairs;
  if (pairs != 0) softc(pairs).prev = sc;
  pairs = sc;
  npairs++;
  unitHold(sc);
  return a;
}

/** The pair ifp is an end of, or 0 if ifp is not a live epair end. */
function softcOf(ifp: usize): usize {
  if (cloner == 0 || !if_valid(ifp)) return 0;
  const ii = changetype<Ifnet>(ifp);
  if (ii.if_cloner != cloner || ii.if_softc == 0) return 0;
  const d = dir(ii.if_softc);
  return d.magic == EPAIR_MAGIC && d.ifp == ifp ? d.sc : 0;
}

function detachEnd(ifp: usize): void {
  const old = CURVNET_SET(changetype<Ifnet>(ifp).if_vnet);
  if_detach(ifp);
  CURVNET_RESTORE(old);
}

function freeEnd(ifp: usize): void {
  const old = CURVNET_SET(changetype<Ifnet>(ifp).if_vnet);
  if_free(ifp);
  CURVNET_RESTORE(old);
}

/** Destroy both ends, wherever each is, and everything the pair holds. */
function destroyPair(sc: usize): void {
  const s = softc(sc);
  if (s.prev != 0) softc(s.prev).next = s.next;
  else pairs = s.next;
  if (s.next != 0) softc(s.next).prev = s.prev;
  npairs--;
  unitRelease(sc);
  const da = dir(sc + SC_DIR_A);
  const db = dir(sc + SC_DIR_B);
  const a = da.ifp;
  const b = db.ifp;
  // Both ends leave first (down, departure events): nothing can be sent on them after,
  // so the flush below is the last word on their queues.
  detachEnd(a);
  detachEnd(b);
  epair_flush(da);
  epair_flush(db);
  da.magic = 0;
  db.magic = 0;
  s.magic = 0;
  freeEnd(a);
  freeEnd(b);
  zone_free_in(zone, sc, 0);
}

/** Cloner destroy (ifconfig epairNa destroy, or either end through the kernel). */
function epair_clone_destroy(ifp: usize): i32 {
  const sc = softcOf(ifp);
  if (sc == 0) return -EINVAL;
  destroyPair(sc);
  return 0;
}

/**
 * VNET_SYSUNINIT: the pairs made in the dying vnet go with it, wherever their ends are;
 * then every frame in flight that is charged to it is dropped. (Ends moved in from
 * elsewhere were sent home by vnet_if_return before this runs.)
 */
function epair_vnet_uninit(): void {
  const v = curvnet();
  let sc = pairs;
  while (sc != 0) {
    const next = softc(sc).next;
    if (softc(sc).home == v) {
      const a = dir(sc + SC_DIR_A).ifp;
      // Through the cloner so its count of clones stays right; directly if that fails.
      if (if_clone_destroy_ifp(a) != 0 && softc(sc).magic == EPAIR_MAGIC) destroyPair(sc);
    }
    sc = next;
  }
  for (sc = pairs; sc != 0; sc = softc(sc).next) {
    epair_sweep(dir(sc + SC_DIR_A), v);
    epair_sweep(dir(sc + SC_DIR_B), v);
  }
}

export function modevent(what: i32): i32 {
  if (what == MOD_LOAD) {
    epair_link_init();
    // The window may hold a previous load's bytes: static data is not re-zeroed for us.
    memory.fill(unitHash, 0, UNIT_BUCKETS * sizeof<usize>());
    zone = zone_create("epair", SC_SIZE, 0, ZONE_ZERO, 0);
    if (zone == 0) return ENOMEM;
    let r = if_clone_attach("epair", epair_clone_create.index, epair_clone_destroy.index);
    if (r == 0) {
      cloner = if_clone_of("epair");
      r = vnet_sysinit_register(SI_SUB_PSEUDO, SI_ORDER_MIDDLE, 0, 0, epair_vnet_uninit.index);
      if (r != 0) if_clone_detach("epair");
    }
    if (r != 0) {
      cloner = 0;
      zone_destroy(zone, true);
      zone = 0;
      return r < 0 ? -r : r;
    }
    return 0;
  }
  if (what == MOD_QUIESCE) return npairs != 0 ? EBUSY : 0;
  if (what == MOD_UNLOAD) {
    // The uninit ran in every vnet first (kld_sysuninit), and every pair has a home vnet,
    // so none is left; a forced unload gets here the same way.
    while (pairs != 0) destroyPair(pairs);
    if_clone_detach("epair");
    cloner = 0;
    zone_destroy(zone, false);
    zone = 0;
    return 0;
  }
  return 0;
}

// ---------------------------------------------------------------------------------------
// Host entry points. Every ifp is checked (a live epair end) before use.

/** The direction of frames sent by ifp, or 0. */
function dirOf(ifp: usize): usize {
  return softcOf(ifp) != 0 ? changetype<Ifnet>(ifp).if_softc : 0;
}

@inline function probability(p: f64): u64 {
  return <u64>Math.round(p * 4294967296.0);
}

@inline function inRange(x: f64, max: f64): bool {
  return x >= 0 && x <= max && Math.floor(x) == x;
}

/**
 * Set the link conditions of frames sent by ifp (all of them: a zero is "off"). Frames
 * already on the link keep their times. 0, or -EINVAL for a bad ifp or value.
 */
export function epair_set_conditions(ifp: usize, delay_us: f64, jitter_us: f64, loss: f64, dup: f64, reorder: f64, rate_bps: f64, qlimit: f64, qbytes: f64): i32 {
  const p = dirOf(ifp);
  if (p == 0) return -EINVAL;
  if (!inRange(delay_us, <f64>EPAIR_MAX_DELAY_US) || !inRange(jitter_us, <f64>EPAIR_MAX_DELAY_US)) return -EINVAL;
  if (!(loss >= 0 && loss <= 1) || !(dup >= 0 && dup <= 1) || !(reorder >= 0 && reorder <= 1)) return -EINVAL;
  if (!inRange(rate_bps, <f64>EPAIR_MAX_RATE) || !inRange(qlimit, <f64>EPAIR_QLIMIT_MAX) || qlimit < 1) return -EINVAL;
  if (!inRange(qbytes, 4294967295.0)) return -EINVAL;
  const d = dir(p);
  d.delay_us = <u64>delay_us;
  d.jitter_us = <u64>jitter_us;
  d.loss = probability(loss);
  d.dup = probability(dup);
  d.reorder = probability(reorder);
  d.rate_bps = <u64>rate_bps;
  d.qlimit = <u32>qlimit;
  d.qbytes = <u32>qbytes;
  let c: u32 = 0;
  if (d.loss != 0) c |= EC_LOSS;
  if (d.dup != 0) c |= EC_DUP;
  if (d.rate_bps != 0) c |= EC_RATE;
  if (d.delay_us != 0 || d.jitter_us != 0) c |= EC_DELAY;
  if (d.reorder != 0) c |= EC_REORDER;
  d.cond = c;
  epair_caps_update(d); // TSO only without conditions: they act on MTU-sized frames
  return 0;
}

/** No link conditions on frames sent by ifp (what is on the link still arrives on time). */
export function epair_clear_conditions(ifp: usize): i32 {
  return epair_set_conditions(ifp, 0, 0, 0, 0, 0, 0, <f64>EPAIR_QLIMIT_DEFAULT, 0);
}

/**
 * The random draws of frames sent by ifp (loss, duplicate, jitter, reorder) come from the
 * direction's own stream seeded with seed (an integer 0 .. 2^32-1) instead of the kernel's
 * arc4random: a link cut between kernels draws the same (host/scale/xlink.ts). 0, or -EINVAL.
 */
export function epair_set_rng(ifp: usize, seed: f64): i32 {
  const p = dirOf(ifp);
  if (p == 0 || !inRange(seed, 4294967295.0)) return -EINVAL;
  const d = dir(p);
  d.own_rng = 1;
  d.rng = <u32>seed;
  return 0;
}

/** One condition (EK_*) of frames sent by ifp; -1 for a bad ifp or index. */
export function epair_condition(ifp: usize, which: u32): f64 {
  const p = dirOf(ifp);
  if (p == 0) return -1;
  const d = dir(p);
  switch (which) {
    case EK_DELAY: return <f64>d.delay_us;
    case EK_JITTER: return <f64>d.jitter_us;
    case EK_LOSS: return <f64>d.loss / 4294967296.0;
    case EK_DUP: return <f64>d.dup / 4294967296.0;
    case EK_REORDER: return <f64>d.reorder / 4294967296.0;
    case EK_RATE: return <f64>d.rate_bps;
    case EK_QLIMIT: return <f64>d.qlimit;
    case EK_QBYTES: return <f64>d.qbytes;
  }
  return -1;
}

/** Counter which (ES_*) of frames sent by ifp; -1 for a bad ifp or index. */
export function epair_stat(ifp: usize, which: u32): f64 {
  const p = dirOf(ifp);
  if (p == 0) return -1;
  const d = dir(p);
  if (which <= ES_DROPPED) return <f64>load<u64>(p + DIR_COUNTERS + (<usize>which << 3));
  if (which == ES_QUEUED) return <f64>(d.rq_len + d.dq_len);
  if (which == ES_BACKLOG) return <f64>d.rq_len;
  if (which == ES_BACKLOG_BYTES) return <f64>d.rq_bytes;
  return -1;
}

/** The other end of ifp's pair, or 0. */
export function epair_peer(ifp: usize): usize {
  const p = dirOf(ifp);
  return p != 0 ? dir(p).peer : 0;
}

/** Pairs alive (all vnets). */
export function epair_pairs(): u32 {
  return npairs;
}
