// The interface layer (FreeBSD net/if.c): struct ifnet life, the per-vnet interface list,
// names and indices, flags, MTU and link-level address, arrival/departure events, and
// if_vmove with the teardown rules of a dying vnet.
//
// Teardown of a vnet, as FreeBSD does it:
//   - checkpoint 1 (stop hook of this layer): every interface in the vnet goes down, so
//     nothing more is received into it;
//   - vnet_if_return (uninit at SI_SUB_VNET_DONE, so among the first): interfaces that came
//     from another vnet go back to their home vnet (down);
//   - cloners' uninits (their modules) destroy what was cloned in this vnet; an epair made
//     here goes away with both ends, wherever the other end is;
//   - this layer's uninit (SI_SUB_INIT_IF, among the last): anything still attached is a
//     leak: it is recorded by interface name and detached and freed.

import { Ifnet, IFNET_MAGIC, IFNET_SIZE, IFNAMSIZ, IFF_UP, IFF_RUNNING, IFF_LOOPBACK, IFF_PROMISC, IF_MINMTU, IF_MAXMTU, if_name, if_lladdr } from "../sys/if";
import { SI_SUB_INIT_IF, SI_SUB_VNET_DONE, SI_ORDER_FIRST, SI_ORDER_ANY } from "../sys/kernel";
import { EINVAL, EEXIST, ENOMEM, EPERM, ENOENT, EBUSY } from "../sys/errno";
import { zone_create, zone_alloc_in, zone_free_in, zone_charge_move_in, ZONE_CHARGE, ZONE_ZERO } from "../kern/zone";
import { vnet_data_alloc, vnet_master, vnet_data_copy } from "../kern/vnet_data";
import { vnet_sysinit_register } from "../kern/sysinit";
import { Vnet, VNET, VNET_VNET, VNET_ALIVE, CURVNET_SET, CURVNET_RESTORE, curvnet, vnet_valid } from "../kern/vnet";
import { eventhandler_invoke, EVENT_IFNET_ARRIVAL, EVENT_IFNET_DEPARTURE, EVENT_IFNET_UP, EVENT_IFNET_LLADDR } from "../kern/kern_eventhandler";
import { leak_record, LEAK_ITEMS } from "../kern/leak";
import { bpf_ifdetach } from "./bpf";
import { if_clone_destroy_ifp } from "./if_clone";

// Per-vnet variables (VNET_DEFINE): the interface list, next index, count.
let V_ifnet_head: u32 = 0;
let V_ifnet_tail: u32 = 0;
let V_if_index: u32 = 0;
let V_if_count: u32 = 0;
const IF_VNET_SIZE: u32 = 16;

let ifnetzone: usize = 0;
// Interfaces attached during one host call (ifconfig create), so the host learns what a
// cloner made without scanning the vnet's list.
const ATTACH_LOG_MAX: u32 = 8;
const attachLog = memory.data(ATTACH_LOG_MAX * 4, 4);
let attachLogging = false;
let nattached: u32 = 0;
let serial: u32 = 0;

@inline function head(v: usize): usize { return load<usize>(VNET_VNET(v, V_ifnet_head)); }

export function if_boot(): i32 {
  if (ifnetzone != 0) return 0;
  ifnetzone = zone_create("ifnet", IFNET_SIZE, 0, ZONE_CHARGE | ZONE_ZERO, 4096);
  if (ifnetzone == 0) return -ENOMEM;
  const off = vnet_data_alloc(IF_VNET_SIZE, 4);
  if (off < 0) return off;
  V_ifnet_head = <u32>off;
  V_ifnet_tail = <u32>off + 4;
  V_if_index = <u32>off + 8;
  V_if_count = <u32>off + 12;
  memory.fill(vnet_master(<u32>off), 0, IF_VNET_SIZE);
  store<u32>(vnet_master(V_if_index), 1);
  vnet_data_copy(<u32>off, IF_VNET_SIZE);
  let r = vnet_sysinit_register(SI_SUB_INIT_IF, SI_ORDER_FIRST, 0, if_vnet_stop.index, if_vnet_uninit.index);
  if (r != 0) return r;
  r = vnet_sysinit_register(SI_SUB_VNET_DONE, SI_ORDER_ANY, 0, 0, vnet_if_return.index);
  return r;
}

/** if_alloc: a zeroed struct ifnet in curvnet, charged to it. 0 when out of memory/limit. */
export function if_alloc(type: u32): usize {
  const v = curvnet();
  const ifp = zone_alloc_in(ifnetzone, changetype<Vnet>(v).base);
  if (ifp == 0) return 0;
  const ii = changetype<Ifnet>(ifp);
  ii.if_magic = IFNET_MAGIC;
  ii.if_type = type;
  ii.if_mtu = 1500;
  ii.if_vnet = v;
  ii.if_home_vnet = v;
  ii.if_serial = ++serial;
  return ifp;
}

/** Name an interface from ASCII bytes (at most IFNAMSIZ - 1). */
export function if_initname(ifp: usize, name: usize, len: u32): void {
  const dst = if_name(ifp);
  const n = min<u32>(len, IFNAMSIZ - 1);
  memory.copy(dst, name, n);
  memory.fill(dst + n, 0, IFNAMSIZ - n);
}

/** Name an interface prefix + unit, e.g. "epair" 3 "a" -> epair3a. suffix may be 0. */
export function if_initname_unit(ifp: usize, prefix: usize, plen: u32, unit: u32, suffix: u8): void {
  const dst = if_name(ifp);
  memory.fill(dst, 0, IFNAMSIZ);
  let n = min<u32>(plen, IFNAMSIZ - 8);
  memory.copy(dst, prefix, n);
  // unit in decimal
  let digits: u32 = 1;
  for (let u = unit; u >= 10; u /= 10) digits++;
  for (let i: u32 = 0, u = unit; i < digits; i++, u /= 10) store<u8>(dst + n + digits - 1 - i, <u8>(0x30 + u % 10));
  n += digits;
  if (suffix != 0) store<u8>(dst + n, suffix);
  changetype<Ifnet>(ifp).if_unit = unit;
}

function nameEq(a: usize, b: usize, blen: u32): bool {
  if (blen >= IFNAMSIZ) return false;
  for (let i: u32 = 0; i < blen; i++) if (load<u8>(a + i) != load<u8>(b + i)) return false;
  return load<u8>(a + blen) == 0;
}

function cstrlen(p: usize, max: u32): u32 {
  let n: u32 = 0;
  while (n < max && load<u8>(p + n) != 0) n++;
  return n;
}

/** ifunit: the interface called name (len bytes) in vnet v, or 0. */
export function ifunit_vnet(v: usize, name: usize, len: u32): usize {
  for (let ifp = head(v); ifp != 0; ifp = changetype<Ifnet>(ifp).if_next) {
    if (nameEq(if_name(ifp), name, len)) return ifp;
  }
  return 0;
}

export function ifunit(name: usize, len: u32): usize {
  return ifunit_vnet(curvnet(), name, len);
}

/** The interface with index idx in vnet v, or 0. */
export function ifnet_byindex_vnet(v: usize, idx: u32): usize {
  for (let ifp = head(v); ifp != 0; ifp = changetype<Ifnet>(ifp).if_next) {
    if (changetype<Ifnet>(ifp).if_index == idx) return ifp;
  }
  return 0;
}

export function if_attach_log_begin(): void {
  attachLogging = true;
  nattached = 0;
}

/** Stop logging; returns how many interfaces were attached (at most ATTACH_LOG_MAX kept). */
export function if_attach_log_end(): u32 {
  attachLogging = false;
  return nattached;
}

export function if_attach_logged(i: u32): usize {
  return i < nattached && i < ATTACH_LOG_MAX ? load<usize>(attachLog + (<usize>i << 2)) : 0;
}

function link(ifp: usize, v: usize): void {
  const ii = changetype<Ifnet>(ifp);
  if (attachLogging) {
    if (nattached < ATTACH_LOG_MAX) store<usize>(attachLog + (<usize>nattached << 2), ifp);
    nattached++;
  }
  const tailp = VNET_VNET(v, V_ifnet_tail);
  const tail = load<usize>(tailp);
  ii.if_prev = tail;
  ii.if_next = 0;
  if (tail != 0) changetype<Ifnet>(tail).if_next = ifp;
  else store<usize>(VNET_VNET(v, V_ifnet_head), ifp);
  store<usize>(tailp, ifp);
  const idxp = VNET_VNET(v, V_if_index);
  ii.if_index = load<u32>(idxp);
  store<u32>(idxp, ii.if_index + 1);
  store<u32>(VNET_VNET(v, V_if_count), load<u32>(VNET_VNET(v, V_if_count)) + 1);
}

function unlink(ifp: usize, v: usize): void {
  const ii = changetype<Ifnet>(ifp);
  if (ii.if_prev != 0) changetype<Ifnet>(ii.if_prev).if_next = ii.if_next;
  else store<usize>(VNET_VNET(v, V_ifnet_head), ii.if_next);
  if (ii.if_next != 0) changetype<Ifnet>(ii.if_next).if_prev = ii.if_prev;
  else store<usize>(VNET_VNET(v, V_ifnet_tail), ii.if_prev);
  ii.if_next = 0;
  ii.if_prev = 0;
  store<u32>(VNET_VNET(v, V_if_count), load<u32>(VNET_VNET(v, V_if_count)) - 1);
}

/** if_attach: put ifp on its vnet's list (new index) and announce it. -EEXIST if the name is taken. */
export function if_attach(ifp: usize): i32 {
  const ii = changetype<Ifnet>(ifp);
  const v = ii.if_vnet;
  const nlen = cstrlen(if_name(ifp), IFNAMSIZ);
  if (nlen == 0) return -EINVAL;
  if (ifunit_vnet(v, if_name(ifp), nlen) != 0) return -EEXIST;
  link(ifp, v);
  const old = CURVNET_SET(v);
  eventhandler_invoke(EVENT_IFNET_ARRIVAL, ifp);
  CURVNET_RESTORE(old);
  return 0;
}

/** if_detach: announce the departure, stop captures, take ifp off its vnet's list. */
export function if_detach(ifp: usize): void {
  const ii = changetype<Ifnet>(ifp);
  const v = ii.if_vnet;
  ii.if_flags &= ~(IFF_UP | IFF_RUNNING);
  const old = CURVNET_SET(v);
  eventhandler_invoke(EVENT_IFNET_DEPARTURE, ifp);
  CURVNET_RESTORE(old);
  bpf_ifdetach(ifp);
  unlink(ifp, v);
}

/** if_free: return a detached interface's memory (uncharging the vnet it is in). */
export function if_free(ifp: usize): void {
  const ii = changetype<Ifnet>(ifp);
  ii.if_magic = 0;
  zone_free_in(ifnetzone, ifp, changetype<Vnet>(ii.if_vnet).base);
}

/** True if ifp is a live interface (guards pointers that come from the host). */
export function if_valid(ifp: usize): bool {
  if (ifp == 0 || (ifp & 7) != 0 || ifp > (<usize>memory.size() << 16) - IFNET_SIZE) return false;
  return changetype<Ifnet>(ifp).if_magic == IFNET_MAGIC;
}

@inline function ioctl(ifp: usize, cmd: u32, arg: usize): i32 {
  const f = changetype<Ifnet>(ifp).if_ioctl;
  if (f == 0) return 0;
  const r = call_indirect<i32>(f, ifp, cmd, arg);
  return r;
}

export const SIOCSIFFLAGS: u32 = 1;
export const SIOCSIFMTU: u32 = 2;
export const SIOCSIFLLADDR: u32 = 3;
/** if_capenable changed (the driver recomputes if_hwassist). */
export const SIOCSIFCAP: u32 = 4;
/**
 * Something an offload decision depends on changed outside the driver: a capture attached
 * or detached, bridge membership. The driver recomputes if_hwassist (epair: of both ends).
 */
export const SIOCCAPCHG: u32 = 5;

/** Tell ifp's driver that a capture or a bridge came or went (see SIOCCAPCHG). */
export function if_capchanged(ifp: usize): void {
  ioctl(ifp, SIOCCAPCHG, 0);
}

/**
 * ifconfig [-]txcsum/rxcsum/tso: turn offload capabilities on or off (IFCAP_*; bits the
 * driver lacks are ignored). 0 or the driver's -errno.
 */
export function if_setcapenable(ifp: usize, caps: u32): i32 {
  const ii = changetype<Ifnet>(ifp);
  const was = ii.if_capenable;
  ii.if_capenable = caps & ii.if_capabilities;
  const r = ioctl(ifp, SIOCSIFCAP, 0);
  if (r != 0) ii.if_capenable = was;
  return r;
}

/** Bring an interface up or down (IFF_UP; the driver sets IFF_RUNNING). */
export function if_setup(ifp: usize, up: bool): i32 {
  const ii = changetype<Ifnet>(ifp);
  const was = ii.if_flags;
  if (up) ii.if_flags |= IFF_UP;
  else ii.if_flags &= ~IFF_UP;
  const r = ioctl(ifp, SIOCSIFFLAGS, 0);
  if (r != 0) ii.if_flags = was;
  else if (up && (was & IFF_UP) == 0) {
    const old = CURVNET_SET(ii.if_vnet);
    eventhandler_invoke(EVENT_IFNET_UP, ifp);
    CURVNET_RESTORE(old);
  }
  return r;
}

/** Set or clear IFF_PROMISC. */
export function if_setpromisc(ifp: usize, on: bool): i32 {
  const ii = changetype<Ifnet>(ifp);
  const was = ii.if_flags;
  if (on) ii.if_flags |= IFF_PROMISC;
  else ii.if_flags &= ~IFF_PROMISC;
  const r = ioctl(ifp, SIOCSIFFLAGS, 0);
  if (r != 0) ii.if_flags = was;
  return r;
}

export function if_setmtu(ifp: usize, mtu: u32): i32 {
  if (mtu < IF_MINMTU || mtu > IF_MAXMTU) return -EINVAL;
  const ii = changetype<Ifnet>(ifp);
  const was = ii.if_mtu;
  ii.if_mtu = mtu;
  const r = ioctl(ifp, SIOCSIFMTU, 0);
  if (r != 0) ii.if_mtu = was;
  return r;
}

/** Set the MAC (6 bytes at addr). Multicast or all-zero addresses are refused. */
export function if_setlladdr(ifp: usize, addr: usize): i32 {
  if ((load<u8>(addr) & 1) != 0) return -EINVAL;
  let zero = true;
  for (let i: usize = 0; i < 6; i++) if (load<u8>(addr + i) != 0) zero = false;
  if (zero) return -EINVAL;
  const dst = if_lladdr(ifp);
  const save = load<u64>(dst);
  memory.copy(dst, addr, 6);
  const r = ioctl(ifp, SIOCSIFLLADDR, 0);
  if (r != 0) store<u64>(dst, save);
  else if ((save & 0xffffffffffff) != (load<u64>(dst) & 0xffffffffffff)) {
    const old = CURVNET_SET(changetype<Ifnet>(ifp).if_vnet);
    eventhandler_invoke(EVENT_IFNET_LLADDR, ifp);
    CURVNET_RESTORE(old);
  }
  return r;
}

/**
 * if_vmove: move ifp into vnet to. Refused for loopback interfaces (-EPERM), when the name
 * is taken there (-EEXIST) or when to is at its interface limit or memory budget (-ENOMEM).
 */
export function if_vmove(ifp: usize, to: usize): i32 {
  return vmove(ifp, to, false);
}

/** if_vmove; home: an interface going back to its home vnet, which takes it whatever its limits. */
function vmove(ifp: usize, to: usize, home: bool): i32 {
  const ii = changetype<Ifnet>(ifp);
  const from = ii.if_vnet;
  if (!vnet_valid(to)) return -EINVAL;
  if (to == from) return 0;
  if (ii.if_flags & IFF_LOOPBACK) return -EPERM;
  const nlen = cstrlen(if_name(ifp), IFNAMSIZ);
  if (ifunit_vnet(to, if_name(ifp), nlen) != 0) return -EEXIST;
  if (!zone_charge_move_in(ifnetzone, changetype<Vnet>(from).base, changetype<Vnet>(to).base, home)) return -ENOMEM;
  // Leave: departure event in the old vnet (protocols and bridges let go of it).
  ii.if_flags &= ~(IFF_UP | IFF_RUNNING);
  let old = CURVNET_SET(from);
  eventhandler_invoke(EVENT_IFNET_DEPARTURE, ifp);
  CURVNET_RESTORE(old);
  unlink(ifp, from);
  // Arrive: new index in the new vnet.
  ii.if_vnet = to;
  link(ifp, to);
  old = CURVNET_SET(to);
  eventhandler_invoke(EVENT_IFNET_ARRIVAL, ifp);
  CURVNET_RESTORE(old);
  return 0;
}

// Checkpoint 1: every interface of the dying vnet goes down; nothing is received any more.
function if_vnet_stop(): void {
  for (let ifp = head(curvnet()); ifp != 0; ifp = changetype<Ifnet>(ifp).if_next) {
    changetype<Ifnet>(ifp).if_flags &= ~(IFF_UP | IFF_RUNNING);
  }
}

// vnet_if_return: interfaces that came from elsewhere go home.
function vnet_if_return(): void {
  const v = curvnet();
  let ifp = head(v);
  while (ifp != 0) {
    const next = changetype<Ifnet>(ifp).if_next;
    const home = changetype<Ifnet>(ifp).if_home_vnet;
    if (home != v && vnet_valid(home)) {
      if (vmove(ifp, home, true) != 0) {
        // The name is taken at home: FreeBSD renames; we leave it here for the cloner or the
        // leak check below, which is at least visible.
      }
    }
    ifp = next;
  }
}

// Last: what is still attached was left behind by someone; name it, free it.
function if_vnet_uninit(): void {
  const v = curvnet();
  let ifp = head(v);
  while (ifp != 0) {
    const next = changetype<Ifnet>(ifp).if_next;
    leak_record(if_name(ifp), 1, LEAK_ITEMS);
    if (changetype<Ifnet>(ifp).if_cloner != 0) {
      if_clone_destroy_ifp(ifp);
    } else {
      if_detach(ifp);
      if_free(ifp);
    }
    ifp = next;
  }
}

export function if_first(v: usize): usize { return head(v); }
export function if_next(ifp: usize): usize { return changetype<Ifnet>(ifp).if_next; }
export function if_count(v: usize): u32 { return load<u32>(VNET_VNET(v, V_if_count)); }
export function if_zone(): usize { return ifnetzone; }
