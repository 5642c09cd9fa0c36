// Ethernet input and output (FreeBSD net/if_ethersubr.c). The kernel knows no protocol:
// a frame goes to whatever handler a module registered for its ethertype (netisr), or is
// counted and dropped. Every check happens before a field is used; bad frames are dropped
// and counted per interface (if_ierrors, if_noproto) and per vnet (etherstat below).
//
// Offload (docs/tcp.md "Offload between vnets"): ether_output_frame is the one door every
// Ethernet frame leaves by, so it is where a packet's offload requests (CSUM_DELAY_DATA,
// CSUM_TSO) meet the interface's if_hwassist: what the interface does not assist now is
// done in software (the hook inet registers, or inet6's for the IPv6 bits: checksum filled
// in, large segment cut to ph_tso_segsz) before the frame is tapped or handed to the driver.
// ether_input accepts a frame above the MTU only when it carries CSUM_TSO or CSUM_IP6_TSO,
// which only the kernel sets (a frame
// from the host is a fresh mbuf).

import {
  Ifnet, IFF_UP, IFF_RUNNING, IFF_PROMISC, ETHER_HDR_LEN, ETHER_VLAN_ENCAP_LEN, ETHERTYPE_VLAN, ETHERTYPE_MIN,
  IFCOUNTER_IPACKETS, IFCOUNTER_IERRORS, IFCOUNTER_OPACKETS, IFCOUNTER_OERRORS, IFCOUNTER_IBYTES, IFCOUNTER_OBYTES,
  IFCOUNTER_IMCASTS, IFCOUNTER_OMCASTS, IFCOUNTER_IQDROPS, IFCOUNTER_NOPROTO, BPF_D_IN, BPF_D_OUT,
  IF_HW_TSOMAX, if_inc_counter, if_lladdr,
} from "../sys/if";
import { Mbuf, M_PKTHDR, M_BCAST, M_MCAST, M_VLANTAG, CSUM_TSO_ANY, CSUM_OFFLOAD, CSUM_OFFLOAD6, mtod } from "../sys/mbuf";
import { m_freem, m_pullup, m_adj, M_PREPEND } from "../kern/uipc_mbuf";
import { vnet_data_alloc, vnet_master, vnet_data_copy } from "../kern/vnet_data";
import { VNET } from "../kern/vnet";
import { ENOMEM, EINVAL } from "../sys/errno";
import { bpf_mtap } from "./bpf";
import { netisr_lookup } from "./netisr";
import { pfil_hooked, pfil_run_hooks, PFIL_HEAD_ETHER, PFIL_IN, PFIL_OUT } from "./pfil";
import { arc4random } from "../kern/random";

// Per-vnet Ethernet drop counters (netstat -s style), u64 each.
export const ETHERSTAT_DOWN: u32 = 0; // arrived on an interface that is down
export const ETHERSTAT_RUNT: u32 = 1; // shorter than an Ethernet header
export const ETHERSTAT_OVERSIZE: u32 = 2; // longer than the MTU allows
export const ETHERSTAT_BADLEN: u32 = 3; // 802.3 length field larger than the frame
export const ETHERSTAT_BADSRC: u32 = 4; // source address all zeros, or multicast
export const ETHERSTAT_NOTFORUS: u32 = 5; // unicast to another station
export const ETHERSTAT_VLAN: u32 = 6; // 802.1Q tagged, and no VLAN interface here
export const ETHERSTAT_NOPROTO: u32 = 7; // no handler for the ethertype
export const ETHERSTAT_NOMEM: u32 = 8; // m_pullup failed
export const ETHERSTAT_OUTDOWN: u32 = 9; // output on an interface that is down
export const ETHERSTAT_OFFLOAD_SW: u32 = 10; // frames whose offload was done in software on output
export const ETHERSTAT_OFFLOAD_FAIL: u32 = 11; // ... and dropped because that failed (no hook, no mbufs)
export const ETHERSTAT_COUNT: u32 = 12;

let V_etherstat: u32 = 0;
let bridgeInput: u32 = 0; // if_bridge's input hook: (ifp, m) => usize (m to go on, 0 = taken)
/**
 * inet's software offload: (ifp, m, need) => usize, the frames (a list through m_nextpkt)
 * with the CSUM_* bits in need done and cleared, or 0 when m was dropped (counted there).
 */
let offloadFixup: u32 = 0;
/** inet6's, the same for packets that asked with the IPv6 bits (CSUM_OFFLOAD6). */
let offloadFixup6: u32 = 0;

export function ether_boot(): i32 {
  const off = vnet_data_alloc(ETHERSTAT_COUNT * 8, 8);
  if (off < 0) return off;
  V_etherstat = <u32>off;
  memory.fill(vnet_master(V_etherstat), 0, ETHERSTAT_COUNT * 8);
  vnet_data_copy(V_etherstat, ETHERSTAT_COUNT * 8);
  return 0;
}

@inline function stat(which: u32): void {
  const p = VNET(V_etherstat) + (<usize>which << 3);
  store<u64>(p, load<u64>(p) + 1);
}

/** One of the current vnet's Ethernet drop counters. */
export function etherstat(which: u32): f64 {
  if (which >= ETHERSTAT_COUNT) return -1;
  return <f64>load<u64>(VNET(V_etherstat) + (<usize>which << 3));
}

/** inet sets (and on unload clears) the software fallback of output offload. */
export function ether_set_offload_fixup(fn: u32): void {
  offloadFixup = fn;
}

/** inet6 sets (and on unload clears) the software fallback of IPv6 output offload. */
export function ether_set_offload_fixup6(fn: u32): void {
  offloadFixup6 = fn;
}

/** if_bridge sets (and on unload clears) the hook member interfaces' frames go through. */
export function ether_set_bridge_input(fn: u32): void {
  bridgeInput = fn;
}

@inline function drop(ifp: usize, m: usize, why: u32, counter: u32): void {
  stat(why);
  if_inc_counter(ifp, counter, 1);
  m_freem(m);
}

@inline function isZero6(p: usize): bool {
  return load<u32>(p) == 0 && load<u16>(p, 4) == 0;
}

@inline function isBcast6(p: usize): bool {
  return load<u32>(p) == 0xffffffff && load<u16>(p, 4) == 0xffff;
}

@inline function eq6(a: usize, b: usize): bool {
  return load<u32>(a) == load<u32>(b) && load<u16>(a, 4) == load<u16>(b, 4);
}

/**
 * ether_input: a frame (with its Ethernet header, no FCS) arrived on ifp; curvnet is
 * ifp's vnet. Validates, counts, taps, offers it to a bridge, then demultiplexes.
 */
export function ether_input(ifp: usize, m: usize): void {
  const ii = changetype<Ifnet>(ifp);
  let mm = changetype<Mbuf>(m);
  if ((ii.if_flags & IFF_UP) == 0) {
    drop(ifp, m, ETHERSTAT_DOWN, IFCOUNTER_IQDROPS);
    return;
  }
  if ((mm.m_flags & M_PKTHDR) == 0 || mm.ph_len < <i32>ETHER_HDR_LEN) {
    drop(ifp, m, ETHERSTAT_RUNT, IFCOUNTER_IERRORS);
    return;
  }
  const len = mm.ph_len;
  if (mm.m_len < <i32>ETHER_HDR_LEN) {
    m = m_pullup(m, ETHER_HDR_LEN);
    if (m == 0) {
      stat(ETHERSTAT_NOMEM);
      if_inc_counter(ifp, IFCOUNTER_IQDROPS, 1);
      return;
    }
    mm = changetype<Mbuf>(m);
  }
  let eh = mtod(m);
  let etype: u32 = bswap<u16>(load<u16>(eh, 12));
  let maxlen = <i32>(ii.if_mtu + ETHER_HDR_LEN);
  if (etype == ETHERTYPE_VLAN) maxlen += <i32>ETHER_VLAN_ENCAP_LEN;
  // A large segment made inside this kernel (CSUM_TSO) is the one exception to the MTU.
  if (len > maxlen && ((mm.ph_csum_flags & CSUM_TSO_ANY) == 0 || len > <i32>(IF_HW_TSOMAX + ETHER_HDR_LEN))) {
    drop(ifp, m, ETHERSTAT_OVERSIZE, IFCOUNTER_IERRORS);
    return;
  }
  const src = eh + 6;
  if (isZero6(src) || (load<u8>(src) & 1) != 0) {
    drop(ifp, m, ETHERSTAT_BADSRC, IFCOUNTER_IERRORS);
    return;
  }
  if_inc_counter(ifp, IFCOUNTER_IPACKETS, 1);
  if_inc_counter(ifp, IFCOUNTER_IBYTES, <u64>len);
  if ((load<u8>(eh) & 1) != 0) {
    mm.m_flags |= isBcast6(eh) ? M_BCAST : M_MCAST;
    if_inc_counter(ifp, IFCOUNTER_IMCASTS, 1);
  }
  mm.ph_rcvif = ifp;
  if (ii.if_bpf != 0) bpf_mtap(ifp, m, BPF_D_IN);
  if (pfil_hooked(PFIL_HEAD_ETHER, PFIL_IN)) {
    m = pfil_run_hooks(PFIL_HEAD_ETHER, PFIL_IN, m, ifp, 0);
    if (m == 0) return;
    mm = changetype<Mbuf>(m);
    if ((mm.m_flags & M_PKTHDR) == 0 || mm.m_len < <i32>ETHER_HDR_LEN) {
      // A hook's replacement must still be a frame with its header in the first mbuf.
      drop(ifp, m, ETHERSTAT_RUNT, IFCOUNTER_IERRORS);
      return;
    }
    eh = mtod(m);
  }
  if (ii.if_bridge != 0 && bridgeInput != 0) {
    m = call_indirect<usize>(bridgeInput, ifp, m);
    if (m == 0) return;
    mm = changetype<Mbuf>(m);
    eh = mtod(m);
  }
  ether_demux(ifp, m);
}

/**
 * ether_demux: a frame for this host (or a bridge's own address) goes to its protocol. The
 * Ethernet header is stripped before the handler sees it.
 */
export function ether_demux(ifp: usize, m: usize): void {
  const mm = changetype<Mbuf>(m);
  const eh = mtod(m);
  if ((mm.m_flags & (M_BCAST | M_MCAST)) == 0 && !eq6(eh, if_lladdr(ifp))) {
    // Unicast to another station: seen by captures (and bridges) above, not for us.
    drop(ifp, m, ETHERSTAT_NOTFORUS, IFCOUNTER_IQDROPS);
    return;
  }
  let etype: u32 = bswap<u16>(load<u16>(eh, 12));
  if (etype == ETHERTYPE_VLAN) {
    // 802.1Q: the tag is parsed so the frame is dropped cleanly; there are no VLAN interfaces yet.
    if (mm.ph_len < <i32>(ETHER_HDR_LEN + ETHER_VLAN_ENCAP_LEN)) {
      drop(ifp, m, ETHERSTAT_RUNT, IFCOUNTER_IERRORS);
      return;
    }
    drop(ifp, m, ETHERSTAT_VLAN, IFCOUNTER_NOPROTO);
    return;
  }
  if (etype < ETHERTYPE_MIN) {
    // An 802.3 length field: it must not claim more than the frame holds (no LLC handler).
    if (<i32>etype > mm.ph_len - <i32>ETHER_HDR_LEN) drop(ifp, m, ETHERSTAT_BADLEN, IFCOUNTER_IERRORS);
    else drop(ifp, m, ETHERSTAT_NOPROTO, IFCOUNTER_NOPROTO);
    return;
  }
  const fn = netisr_lookup(etype);
  if (fn == 0) {
    drop(ifp, m, ETHERSTAT_NOPROTO, IFCOUNTER_NOPROTO);
    return;
  }
  m_adj(m, ETHER_HDR_LEN);
  call_indirect<void>(fn, ifp, m);
}

/**
 * ether_output_frame: send a complete frame out of ifp (the driver owns m after).
 * Returns 0 or a negative errno (the frame is freed either way).
 */
export function ether_output_frame(ifp: usize, m: usize): i32 {
  const ii = changetype<Ifnet>(ifp);
  if ((ii.if_flags & (IFF_UP | IFF_RUNNING)) != (IFF_UP | IFF_RUNNING) || ii.if_transmit == 0) {
    stat(ETHERSTAT_OUTDOWN);
    if_inc_counter(ifp, IFCOUNTER_OERRORS, 1);
    m_freem(m);
    return -50; // ENETDOWN
  }
  if (pfil_hooked(PFIL_HEAD_ETHER, PFIL_OUT)) {
    m = pfil_run_hooks(PFIL_HEAD_ETHER, PFIL_OUT, m, ifp, 0);
    if (m == 0) return -13; // EACCES: a filter took it
  }
  const mm = changetype<Mbuf>(m);
  const need = mm.ph_csum_flags & CSUM_OFFLOAD & ~ii.if_hwassist;
  if (need != 0 && (mm.m_flags & M_PKTHDR) != 0) return ether_output_sw(ifp, m, need);
  return ether_output_one(ifp, m);
}

/** The interface does not assist what the packet asks (now): software, before any tap. */
function ether_output_sw(ifp: usize, m: usize, need: u32): i32 {
  stat(ETHERSTAT_OFFLOAD_SW);
  // A packet asks with one family's bits only: that family's module completes it.
  const fn = (need & CSUM_OFFLOAD6) != 0 ? offloadFixup6 : offloadFixup;
  let l = fn != 0 ? call_indirect<usize>(fn, ifp, m, need) : 0;
  if (l == 0) {
    if (fn == 0) m_freem(m);
    stat(ETHERSTAT_OFFLOAD_FAIL);
    if_inc_counter(ifp, IFCOUNTER_OERRORS, 1);
    return -55; // ENOBUFS
  }
  let err: i32 = 0;
  while (l != 0) {
    const next = changetype<Mbuf>(l).m_nextpkt;
    changetype<Mbuf>(l).m_nextpkt = 0;
    const r = ether_output_one(ifp, l);
    if (err == 0) err = r;
    l = next;
  }
  return err;
}

/** One frame the interface can take as it is: check its size, count, tap, transmit. */
@inline function ether_output_one(ifp: usize, m: usize): i32 {
  const ii = changetype<Ifnet>(ifp);
  const mm = changetype<Mbuf>(m);
  let max = <i32>(ii.if_mtu + ETHER_HDR_LEN + ETHER_VLAN_ENCAP_LEN);
  if (mm.ph_len > max && (mm.ph_csum_flags & ii.if_hwassist & CSUM_TSO_ANY) != 0) max = <i32>(IF_HW_TSOMAX + ETHER_HDR_LEN);
  if ((mm.m_flags & M_PKTHDR) == 0 || mm.ph_len < <i32>ETHER_HDR_LEN || mm.ph_len > max) {
    if_inc_counter(ifp, IFCOUNTER_OERRORS, 1);
    m_freem(m);
    return -EINVAL;
  }
  const len = <u64>mm.ph_len;
  const mcast = (load<u8>(mtod(m)) & 1) != 0;
  if (ii.if_bpf != 0) bpf_mtap(ifp, m, BPF_D_OUT);
  // The driver owns m now; count what it took (a refusal is the driver's to count).
  const r = call_indirect<i32>(ii.if_transmit, ifp, m);
  if (r == 0) {
    if_inc_counter(ifp, IFCOUNTER_OPACKETS, 1);
    if_inc_counter(ifp, IFCOUNTER_OBYTES, len);
    if (mcast) if_inc_counter(ifp, IFCOUNTER_OMCASTS, 1);
  }
  return r;
}

/**
 * ether_output: prepend an Ethernet header (destination dst, 6 bytes; source ifp's address;
 * type etype) and send. Returns 0 or a negative errno.
 */
export function ether_output(ifp: usize, m: usize, dst: usize, etype: u16): i32 {
  m = M_PREPEND(m, ETHER_HDR_LEN);
  if (m == 0) {
    if_inc_counter(ifp, IFCOUNTER_OERRORS, 1);
    return -ENOMEM;
  }
  const eh = mtod(m);
  memory.copy(eh, dst, 6);
  memory.copy(eh + 6, if_lladdr(ifp), 6);
  store<u16>(eh, bswap<u16>(etype), 12);
  return ether_output_frame(ifp, m);
}

export { ETHER_HDR_LEN };

/**
 * A random locally administered unicast MAC for ifp (FreeBSD's ether_gen_addr, Linux's
 * eth_hw_addr_random), from the kernel's seeded random numbers: repeatable with a seed.
 */
export function ether_gen_addr(ifp: usize): void {
  const r0 = arc4random();
  const r1 = arc4random();
  const mac = if_lladdr(ifp);
  store<u8>(mac, 0x02);
  store<u8>(mac, <u8>r0, 1);
  store<u8>(mac, <u8>(r0 >> 8), 2);
  store<u8>(mac, <u8>(r0 >> 16), 3);
  store<u8>(mac, <u8>(r0 >> 24), 4);
  store<u8>(mac, <u8>r1, 5);
}
