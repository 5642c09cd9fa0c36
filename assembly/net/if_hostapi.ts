// What the host calls to manage interfaces: ifconfig-style operations on a vnet or an
// interface, raw frame injection (a BPF write, or a frame arriving from the wire) and
// capture. Strings and frames pass through the kernel's I/O buffer (kern_iobuf). Every
// pointer from the host is checked (vnet_valid, if_valid) before it is used.

import { Ifnet, IFT_LOOP, IFCOUNTERS, IFF_UP, if_name, if_lladdr, if_get_counter } from "../sys/if";
import { MT_DATA } from "../sys/mbuf";
import { EINVAL, ENOMEM, EPERM } from "../sys/errno";
import { m_gethdr, m_append, m_freem } from "../kern/uipc_mbuf";
import { kmem_alloc, KMEM_KERNEL_ACCT, PAGES_PER_CHUNK } from "../kern/kmem";
import { Vnet, vnet_valid, CURVNET_SET, CURVNET_RESTORE } from "../kern/vnet";
import { if_attach_log_begin, if_attach_log_end, if_attach_logged, if_valid, if_first, if_next, ifunit_vnet, if_setup, if_setpromisc, if_setmtu, if_setlladdr, if_vmove, if_setcapenable } from "./if";
import { if_clone_create, if_clone_error, if_clone_destroy_ifp } from "./if_clone";
import { ether_output_frame, etherstat } from "./if_ethersubr";
import { bpf_attach } from "./bpf";

export const IOBUF_SIZE: u32 = 65536;
let iobuf: usize = 0;

export function iobuf_boot(): i32 {
  if (iobuf == 0) iobuf = kmem_alloc(PAGES_PER_CHUNK, KMEM_KERNEL_ACCT);
  return iobuf != 0 ? 0 : -ENOMEM;
}

/** The host's 64 KiB window for names and frames. */
export function kern_iobuf(): usize {
  return iobuf;
}

/** ifconfig NAME create in vnet v (NAME in the I/O buffer). The interface, or 0 and ifh_error(). */
export function ifh_create(v: usize, len: u32): usize {
  if (!vnet_valid(v) || len == 0 || len > 15) return 0;
  const old = CURVNET_SET(v);
  if_attach_log_begin();
  const ifp = if_clone_create(iobuf, len);
  created = if_attach_log_end();
  CURVNET_RESTORE(old);
  return ifp;
}

let created: u32 = 0;

/** How many interfaces the last ifh_create attached, and the i-th of them (up to 8). */
export function ifh_created(): u32 {
  return created;
}

export function ifh_created_at(i: u32): usize {
  return if_attach_logged(i);
}

export function ifh_error(): i32 {
  return if_clone_error();
}

/** ifconfig IF destroy. -EPERM for an interface no cloner made (lo0). */
export function ifh_destroy(ifp: usize): i32 {
  if (!if_valid(ifp)) return -EINVAL;
  if (changetype<Ifnet>(ifp).if_cloner == 0) return -EPERM;
  const old = CURVNET_SET(changetype<Ifnet>(ifp).if_vnet);
  const r = if_clone_destroy_ifp(ifp);
  CURVNET_RESTORE(old);
  return r;
}

/** The interface named (I/O buffer, len bytes) in vnet v, or 0. */
export function ifh_lookup(v: usize, len: u32): usize {
  if (!vnet_valid(v)) return 0;
  return ifunit_vnet(v, iobuf, len);
}

export function ifh_first(v: usize): usize {
  return vnet_valid(v) ? if_first(v) : 0;
}

export function ifh_next(ifp: usize): usize {
  return if_valid(ifp) ? if_next(ifp) : 0;
}

export function ifh_valid(ifp: usize): bool {
  return if_valid(ifp);
}

export function ifh_name(ifp: usize): usize {
  return if_name(ifp);
}

export function ifh_lladdr(ifp: usize): usize {
  return if_lladdr(ifp);
}

/**
 * 0 index, 1 flags, 2 mtu, 3 type, 4 vnet, 5 home vnet, 6 bridge, 7 captures, 8 serial,
 * 9 capabilities, 10 capenable, 11 hwassist, 16+i counter i.
 */
export function ifh_info(ifp: usize, what: u32): f64 {
  if (!if_valid(ifp)) return -1;
  const ii = changetype<Ifnet>(ifp);
  switch (what) {
    case 0: return <f64>ii.if_index;
    case 1: return <f64>ii.if_flags;
    case 2: return <f64>ii.if_mtu;
    case 3: return <f64>ii.if_type;
    case 4: return <f64>ii.if_vnet;
    case 5: return <f64>ii.if_home_vnet;
    case 6: return <f64>ii.if_bridge;
    case 7: return ii.if_bpf != 0 ? 1 : 0;
    case 8: return <f64>ii.if_serial;
    case 9: return <f64>ii.if_capabilities;
    case 10: return <f64>ii.if_capenable;
    case 11: return <f64>ii.if_hwassist;
  }
  if (what >= 16 && what < 16 + IFCOUNTERS) return <f64>if_get_counter(ifp, what - 16);
  return -1;
}

/** up: 1 up, 0 down, -1 unchanged; promisc likewise. */
export function ifh_setflags(ifp: usize, up: i32, promisc: i32): i32 {
  if (!if_valid(ifp)) return -EINVAL;
  const old = CURVNET_SET(changetype<Ifnet>(ifp).if_vnet);
  let r: i32 = 0;
  if (up >= 0) r = if_setup(ifp, up != 0);
  if (r == 0 && promisc >= 0) r = if_setpromisc(ifp, promisc != 0);
  CURVNET_RESTORE(old);
  return r;
}

/** ifconfig [-]rxcsum/txcsum/tso: the IFCAP_* bits to have on. */
export function ifh_setcap(ifp: usize, caps: u32): i32 {
  if (!if_valid(ifp)) return -EINVAL;
  const old = CURVNET_SET(changetype<Ifnet>(ifp).if_vnet);
  const r = if_setcapenable(ifp, caps);
  CURVNET_RESTORE(old);
  return r;
}

export function ifh_setmtu(ifp: usize, mtu: u32): i32 {
  if (!if_valid(ifp)) return -EINVAL;
  const old = CURVNET_SET(changetype<Ifnet>(ifp).if_vnet);
  const r = if_setmtu(ifp, mtu);
  CURVNET_RESTORE(old);
  return r;
}

/** Set the MAC from the first 6 bytes of the I/O buffer. */
export function ifh_setlladdr(ifp: usize): i32 {
  if (!if_valid(ifp)) return -EINVAL;
  const old = CURVNET_SET(changetype<Ifnet>(ifp).if_vnet);
  const r = if_setlladdr(ifp, iobuf);
  CURVNET_RESTORE(old);
  return r;
}

export function ifh_vmove(ifp: usize, v: usize): i32 {
  if (!if_valid(ifp)) return -EINVAL;
  return if_vmove(ifp, v);
}

function frame(len: u32): usize {
  const m = m_gethdr(MT_DATA);
  if (m == 0) return 0;
  if (!m_append(m, <i32>len, iobuf)) {
    m_freem(m);
    return 0;
  }
  return m;
}

/** Send len bytes from the I/O buffer out of ifp as a complete frame (a BPF write). */
export function ifh_send(ifp: usize, len: u32): i32 {
  if (!if_valid(ifp) || len > IOBUF_SIZE) return -EINVAL;
  const ii = changetype<Ifnet>(ifp);
  const old = CURVNET_SET(ii.if_vnet);
  const m = frame(len);
  let r: i32 = -ENOMEM;
  if (m != 0) {
    if (ii.if_type == IFT_LOOP) r = call_indirect<i32>(ii.if_transmit, ifp, m);
    else r = ether_output_frame(ifp, m);
  }
  CURVNET_RESTORE(old);
  return r;
}

/** Hand len bytes from the I/O buffer to ifp as if they had arrived from the wire. */
export function ifh_input(ifp: usize, len: u32): i32 {
  if (!if_valid(ifp) || len > IOBUF_SIZE) return -EINVAL;
  const ii = changetype<Ifnet>(ifp);
  if (ii.if_input == 0) return -EPERM;
  const old = CURVNET_SET(ii.if_vnet);
  const m = frame(len);
  if (m != 0) call_indirect<void>(ii.if_input, ifp, m);
  CURVNET_RESTORE(old);
  return m != 0 ? 0 : -ENOMEM;
}

/** Start a capture on ifp (loopback frames get a 4-byte family header, DLT_NULL). */
export function bpfh_attach(ifp: usize, snaplen: u32, nseg: u32): usize {
  if (!if_valid(ifp)) return 0;
  return bpf_attach(ifp, snaplen, nseg, changetype<Ifnet>(ifp).if_type == IFT_LOOP);
}

/** One of vnet v's Ethernet drop counters (ETHERSTAT_*). */
export function etherh_stat(v: usize, which: u32): f64 {
  if (!vnet_valid(v)) return -1;
  const old = CURVNET_SET(v);
  const r = etherstat(which);
  CURVNET_RESTORE(old);
  return r;
}
