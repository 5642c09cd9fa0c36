// if_bridge: the Ethernet bridge (FreeBSD net/if_bridge.c, if_bridge(4)), as a loadable module.
//
// "ifconfig bridge create" makes an IFT_BRIDGE interface with its own MAC in curvnet. Ethernet
// interfaces of the same vnet join it as members (promiscuous while they are members). A
// frame a member receives reaches the bridge through ether_input's bridge hook:
//   - its source address is learned on that port (bridge_rtable.ts);
//   - to the bridge's own address: delivered on the bridge interface (ether_demux on it), as
//     FreeBSD does; to a member's address: delivered on that member;
//   - broadcast / multicast: flooded to every other member that is up, a copy delivered on
//     the bridge interface, and the frame returned so it is also delivered on the member;
//   - known unicast: sent out of its port only (dropped, and counted, if that is the port
//     it came in on); unknown unicast: flooded.
// Flooding hands out m_copym copies (clusters shared, read-only) and the last port gets the
// original. The bridge interface's own output (if_transmit) is forwarded the same way, as if
// from a port of its own, without learning.
//
// Counters: per bridge (BS_*), per port (BP_*), and on the bridge interface: every frame a
// member hands to the bridge counts as input, every frame the bridge puts on a member as
// output (the bridge's own transmissions are counted once, by ether_output_frame).
//
// Ownership: the softc, ports, address entries and the hash page are charged to the vnet the
// bridge was created in. A member that leaves the vnet or is destroyed is removed
// (EVENT_IFNET_DEPARTURE); a bridge that leaves its vnet loses all its members (FreeBSD's
// bridge_reassign). The VNET_SYSUNINIT destroys the bridges created in a dying vnet.
//
// pfil: the bridge owns the kernel's PFIL_HEAD_BRIDGE (net/pfil.ts): in, a member's frame
// after learning and before it is delivered or forwarded (ifp: the member); out, a frame
// the bridge puts on a member (bridge_enqueue). MOD_QUIESCE refuses while a vnet has hooks
// on it.

import {
  curvnet, VNET, VNET_VNET, vnet_valid, vnet_data_alloc, vnet_data_free, vnet_data_copy, vnet_master_base, ticks, zone_create, zone_alloc_in, zone_free_in, zone_destroy, ZONE_CHARGE, ZONE_ZERO,
  vnet_sysinit_register, callout_init, callout_stop, arc4random, ether_gen_addr,
  if_alloc, if_initname_unit, if_attach, if_detach, if_free, if_valid,
  if_clone_attach, if_clone_detach, if_clone_seterror, if_clone_of, if_clone_vnet_destroy,
  ether_demux, ether_output_frame, ether_set_bridge_input, bpf_mtap, if_capchanged,
  eventhandler_register, eventhandler_deregister, EVENT_IFNET_DEPARTURE, EVENTHANDLER_PRI_ANY,
  m_copym, m_dup, m_freem, m_pullup, CURVNET_SET, CURVNET_RESTORE,
  MOD_LOAD, MOD_UNLOAD, MOD_QUIESCE, EBUSY, ENOMEM, EINVAL, ENOSPC, pfil_vnet_off, pfil_hooked, pfil_run_hooks,
  pfil_head_register, pfil_head_unregister, pfil_head_hooks, PFIL_HEAD_BRIDGE, PFIL_IN, PFIL_OUT,
} from "../../kmod/kapi";
import { SI_SUB_PROTO_IFATTACHDOMAIN, SI_ORDER_ANY } from "../../sys/kernel";
import { EEXIST, ENOENT, EPERM } from "../../sys/errno";
import {
  Ifnet, IFT_BRIDGE, IFT_ETHER, IFF_UP, IFF_RUNNING, IFF_BROADCAST, IFF_SIMPLEX, IFF_MULTICAST, IFF_PROMISC,
  ETHER_HDR_LEN, ETHERMTU, IFCOUNTER_IPACKETS, IFCOUNTER_IBYTES, IFCOUNTER_OPACKETS, IFCOUNTER_OBYTES,
  IFCOUNTER_IERRORS, IFCOUNTER_OERRORS, IFCOUNTER_IMCASTS, BPF_D_IN, if_inc_counter, if_lladdr,
} from "../../sys/if";
import { Mbuf, M_PKTHDR, M_COPYALL, mtod } from "../../sys/mbuf";
import {
  BridgeSoftc, BridgePort, BRIDGE_MAGIC, BRIDGE_MAX_MEMBERS, BRIDGE_RTABLE_MAX, BRIDGE_RTABLE_LIMIT,
  BRIDGE_RTABLE_TIMEOUT_S, BRIDGE_AGEING_MAX_S, BRIDGE_MAX_DEPTH, BRIDGE_RTHASH_SIZE, BIF_WASPROMISC,
  SC_SIZE, SC_STATS_OFF, BP_SIZE, BP_STATS_OFF, RT_SIZE, BS_COUNT, BP_COUNT,
  BS_MLD_SNOOPED, MDB_SIZE, BS_FORWARDED, BS_FLOODED, BS_LOCAL, BS_DROP_SAMEPORT, BS_DROP_BAD, BS_DROP_NOMEM, BS_DROP_LOOP, BS_DROP_NOPORT,
  BP_IPACKETS, BP_IBYTES, BP_OPACKETS, BP_OBYTES, BP_FLOODED, BP_DROPPED, BP_OERRORS,
  sc_stat, sc_callout, bp_add,
} from "./if_bridgevar";
import {
  bridge_rtable_setzone, bridge_rthash_alloc, bridge_rthash_free, bridge_rtupdate, bridge_rtlookup,
  bridge_rtaddstatic, bridge_rtdaddr, bridge_rtdelete_port, bridge_rtflush, bridge_rtage, bridge_rttrim,
  bridge_rtlist, rtrecs,
} from "./bridge_rtable";
import { bridge_mdb_setzone, bridge_mdb_flush, bridge_mld_check, bridge_mld_wants, bridge_mdb_fill, MDB_REC } from "./bridge_mld";
export { kmod_heap_top } from "../../kmod/kmod";

/**
 * This module's VNET space: one u32, net.link.bridge.inherit_mac (FreeBSD's knob, per vnet
 * as there): a bridge takes the MAC of its first member when it gets one.
 */
let voff: u32 = 0;
const V_SIZE: u32 = 8;
@inline function inherit_mac(): bool {
  return load<u32>(VNET(voff)) != 0;
}

/** The kernel's VNET offset of the pfil lists (read at MOD_LOAD): pfil_hooked's load. */
let pfil_off: u32 = 0;

const SIOCSIFFLAGS: u32 = 1; // net/if.ts ioctl commands
const SIOCSIFMTU: u32 = 2;
const BRIDGE_NAME = memory.data<u8>([0x62, 0x72, 0x69, 0x64, 0x67, 0x65]); // "bridge"

let scZone: usize = 0;
let portZone: usize = 0;
let rtZone: usize = 0;
let mdbZone: usize = 0;
let cloner: usize = 0;
let bridges: usize = 0; // every softc, any vnet
let nbridges: u32 = 0;
let depth: u32 = 0; // nesting of bridge processing (loop guard)
let dropNoSoftc: u64 = 0;

// ---------------------------------------------------------------------------------------
// Helpers

@inline function eq6(a: usize, b: usize): bool {
  return load<u32>(a) == load<u32>(b) && load<u16>(a, 4) == load<u16>(b, 4);
}

@inline function running(ifp: usize): bool {
  return (changetype<Ifnet>(ifp).if_flags & (IFF_UP | IFF_RUNNING)) == (IFF_UP | IFF_RUNNING);
}

/** The softc of a bridge interface of ours, or 0. */
function softc_of(bifp: usize): usize {
  if (!if_valid(bifp)) return 0;
  const ii = changetype<Ifnet>(bifp);
  if (ii.if_type != IFT_BRIDGE || ii.if_cloner != cloner || cloner == 0) return 0;
  const sc = ii.if_softc;
  if (sc == 0 || changetype<BridgeSoftc>(sc).magic != BRIDGE_MAGIC || changetype<BridgeSoftc>(sc).ifp != bifp) return 0;
  return sc;
}

function port_of(sc: usize, ifp: usize): usize {
  for (let p = changetype<BridgeSoftc>(sc).members; p != 0; p = changetype<BridgePort>(p).next) {
    if (changetype<BridgePort>(p).ifp == ifp) return p;
  }
  return 0;
}

/** if_setpromisc for a module: flip IFF_PROMISC and tell the driver. */
function setpromisc(ifp: usize, on: bool): i32 {
  const ii = changetype<Ifnet>(ifp);
  const was = ii.if_flags;
  if (on) ii.if_flags |= IFF_PROMISC;
  else ii.if_flags &= ~IFF_PROMISC;
  if (ii.if_ioctl == 0) return 0;
  const r = call_indirect<i32>(ii.if_ioctl, ifp, SIOCSIFFLAGS, 0);
  if (r != 0) ii.if_flags = was;
  return r;
}

// ---------------------------------------------------------------------------------------
// Output

/** Put m on member bif (bridge_enqueue). The frame is consumed. */
function bridge_enqueue(sc: usize, bif: usize, m: usize, flooded: bool, local: bool): void {
  const s = changetype<BridgeSoftc>(sc);
  const ifp = changetype<BridgePort>(bif).ifp;
  if (pfil_hooked(pfil_off, PFIL_HEAD_BRIDGE, PFIL_OUT)) {
    m = pfil_run_hooks(PFIL_HEAD_BRIDGE, PFIL_OUT, m, ifp, 0);
    if (m == 0) return;
  }
  const len = <u64>changetype<Mbuf>(m).ph_len;
  bp_add(bif, BP_OPACKETS, 1);
  bp_add(bif, BP_OBYTES, len);
  if (flooded) bp_add(bif, BP_FLOODED, 1);
  if (!local) {
    if_inc_counter(s.ifp, IFCOUNTER_OPACKETS, 1);
    if_inc_counter(s.ifp, IFCOUNTER_OBYTES, len);
  }
  // Members are in the bridge's vnet, which is curvnet on every path here.
  if (ether_output_frame(ifp, m) != 0) bp_add(bif, BP_OERRORS, 1);
}

/** A member m may go out of: up, not src, and (group != 0, MLD snooping) listening to group or a router's. */
@inline function floodable(sc: usize, p: usize, src: usize, group: u32): bool {
  return p != src && running(changetype<BridgePort>(p).ifp) && (group == 0 || bridge_mld_wants(sc, p, group));
}

/**
 * Send m to every member that is up except src (0: from the bridge itself); with group != 0
 * (a multicast group MLD snooping learned, bridge_mld.ts) to its listeners and routers only.
 */
function bridge_flood(sc: usize, src: usize, m: usize, local: bool, group: u32 = 0): void {
  const s = changetype<BridgeSoftc>(sc);
  let last: usize = 0;
  for (let p = s.members; p != 0; p = changetype<BridgePort>(p).next) {
    if (floodable(sc, p, src, group)) last = p;
  }
  if (last == 0) {
    if (src == 0 && group == 0) sc_stat(sc, BS_DROP_NOPORT);
    m_freem(m);
    return;
  }
  sc_stat(sc, group != 0 ? BS_MLD_SNOOPED : BS_FLOODED);
  for (let p = s.members; p != 0; ) {
    const next = changetype<BridgePort>(p).next;
    if (floodable(sc, p, src, group)) {
      if (p == last) {
        bridge_enqueue(sc, p, m, true, local);
        return;
      }
      const mc = m_copym(m, 0, M_COPYALL);
      if (mc == 0) sc_stat(sc, BS_DROP_NOMEM);
      else bridge_enqueue(sc, p, mc, true, local);
    }
    p = next;
  }
  m_freem(m); // not reached: last is on the list
}

/** Unicast: its port if known (and up), else flood. src is the input port (0: the bridge). */
function bridge_forward(sc: usize, src: usize, m: usize, local: bool): void {
  const dst = bridge_rtlookup(sc, mtod(m));
  if (dst == 0) {
    bridge_flood(sc, src, m, local);
    return;
  }
  if (dst == src) {
    sc_stat(sc, BS_DROP_SAMEPORT);
    bp_add(src, BP_DROPPED, 1);
    m_freem(m);
    return;
  }
  if (!running(changetype<BridgePort>(dst).ifp)) {
    bp_add(dst, BP_OERRORS, 1);
    m_freem(m);
    return;
  }
  sc_stat(sc, BS_FORWARDED);
  bridge_enqueue(sc, dst, m, false, local);
}

/** Deliver m on the bridge interface itself (its address, or a broadcast copy). */
function bridge_local(sc: usize, m: usize): void {
  const bifp = changetype<BridgeSoftc>(sc).ifp;
  const mm = changetype<Mbuf>(m);
  mm.ph_rcvif = bifp;
  if (changetype<Ifnet>(bifp).if_bpf != 0) bpf_mtap(bifp, m, BPF_D_IN);
  sc_stat(sc, BS_LOCAL);
  ether_demux(bifp, m);
}

/** The bridge interface's if_transmit: a frame the host stack sends on bridgeN. */
function bridge_transmit(bifp: usize, m: usize): i32 {
  const sc = softc_of(bifp);
  if (sc == 0) {
    dropNoSoftc++;
    m_freem(m);
    return -EINVAL;
  }
  if (changetype<Mbuf>(m).m_len < <i32>ETHER_HDR_LEN) {
    m = m_pullup(m, ETHER_HDR_LEN);
    if (m == 0) {
      sc_stat(sc, BS_DROP_NOMEM);
      return -ENOMEM;
    }
  }
  const eh = mtod(m);
  const src = eh + 6;
  if ((load<u32>(src) == 0 && load<u16>(src, 4) == 0) || (load<u8>(src) & 1) != 0) {
    sc_stat(sc, BS_DROP_BAD);
    if_inc_counter(bifp, IFCOUNTER_OERRORS, 1);
    m_freem(m);
    return -EINVAL;
  }
  if (depth >= BRIDGE_MAX_DEPTH) {
    sc_stat(sc, BS_DROP_LOOP);
    m_freem(m);
    return 0;
  }
  depth++;
  if ((load<u8>(eh) & 1) != 0) bridge_flood(sc, 0, m, true, changetype<BridgeSoftc>(sc).mld_snoop != 0 ? bridge_mld_check(sc, 0, m) : 0);
  else bridge_forward(sc, 0, m, true);
  depth--;
  return 0;
}

// ---------------------------------------------------------------------------------------
// Input: ether_input's bridge hook. Returns m to continue local delivery on ifp, or 0.

function bridge_input(ifp: usize, m: usize): usize {
  const sc = changetype<Ifnet>(ifp).if_bridge;
  if (sc == 0 || changetype<BridgeSoftc>(sc).magic != BRIDGE_MAGIC) return m;
  const s = changetype<BridgeSoftc>(sc);
  const bifp = s.ifp;
  const bif = port_of(sc, ifp);
  if (bif == 0 || !running(bifp)) return m; // a bridge that is down leaves its members alone
  let mm = changetype<Mbuf>(m);
  // ether_input has checked all of this; the bridge does not rely on it.
  if ((mm.m_flags & M_PKTHDR) == 0 || mm.ph_len < <i32>ETHER_HDR_LEN || mm.m_len < <i32>ETHER_HDR_LEN) {
    sc_stat(sc, BS_DROP_BAD);
    bp_add(bif, BP_DROPPED, 1);
    if_inc_counter(bifp, IFCOUNTER_IERRORS, 1);
    m_freem(m);
    return 0;
  }
  let eh = mtod(m);
  const src = eh + 6;
  if ((load<u32>(src) == 0 && load<u16>(src, 4) == 0) || (load<u8>(src) & 1) != 0) {
    sc_stat(sc, BS_DROP_BAD);
    bp_add(bif, BP_DROPPED, 1);
    if_inc_counter(bifp, IFCOUNTER_IERRORS, 1);
    m_freem(m);
    return 0;
  }
  // IEEE 802.1D 7.12.6: frames to the reserved group addresses 01:80:c2:00:00:00-0f
  // (BPDUs, LACP, LLDP, pause) are never relayed by a bridge; they are the receiving
  // member's own, as FreeBSD's bridge_input hands them back (tests/sys/net
  // if_bridge_test.sh:stp_validation).
  if (load<u32>(eh) == 0x00c28001 && load<u8>(eh, 4) == 0 && load<u8>(eh, 5) <= 0x0f) return m;
  const len = <u64>mm.ph_len;
  bp_add(bif, BP_IPACKETS, 1);
  bp_add(bif, BP_IBYTES, len);
  if_inc_counter(bifp, IFCOUNTER_IPACKETS, 1);
  if_inc_counter(bifp, IFCOUNTER_IBYTES, len);
  if (depth >= BRIDGE_MAX_DEPTH) {
    sc_stat(sc, BS_DROP_LOOP);
    bp_add(bif, BP_DROPPED, 1);
    m_freem(m);
    return 0;
  }
  // One of our own addresses as the source: our frame came back round a loop (FreeBSD drops
  // these too). The same walk finds the member a unicast frame is addressed to, if any.
  const ucast = (load<u8>(eh) & 1) == 0;
  let dstPort: usize = 0;
  let ours = eq6(src, if_lladdr(bifp));
  for (let p = s.members; p != 0 && !ours; p = changetype<BridgePort>(p).next) {
    const a = if_lladdr(changetype<BridgePort>(p).ifp);
    if (eq6(src, a)) ours = true;
    else if (ucast && dstPort == 0 && eq6(eh, a)) dstPort = p;
  }
  if (ours) {
    sc_stat(sc, BS_DROP_LOOP);
    bp_add(bif, BP_DROPPED, 1);
    m_freem(m);
    return 0;
  }
  if (changetype<Ifnet>(bifp).if_bpf != 0) bpf_mtap(bifp, m, BPF_D_IN);
  bridge_rtupdate(sc, src, bif);
  if (pfil_hooked(pfil_off, PFIL_HEAD_BRIDGE, PFIL_IN)) {
    // Learned first, filtered after (FreeBSD learns in bridge_input and filters later).
    m = pfil_run_hooks(PFIL_HEAD_BRIDGE, PFIL_IN, m, ifp, 0);
    if (m == 0) return 0;
    mm = changetype<Mbuf>(m);
    if ((mm.m_flags & M_PKTHDR) == 0 || mm.m_len < <i32>ETHER_HDR_LEN) {
      // A hook's replacement must still be a frame with its header in the first mbuf.
      sc_stat(sc, BS_DROP_BAD);
      bp_add(bif, BP_DROPPED, 1);
      m_freem(m);
      return 0;
    }
    eh = mtod(m);
  }

  if (!ucast) {
    // Broadcast or multicast: everyone else, the bridge interface, and this member.
    if_inc_counter(bifp, IFCOUNTER_IMCASTS, 1);
    depth++;
    const mc = m_copym(m, 0, M_COPYALL);
    if (mc == 0) sc_stat(sc, BS_DROP_NOMEM);
    else bridge_flood(sc, bif, mc, false, s.mld_snoop != 0 ? bridge_mld_check(sc, bif, m) : 0);
    const ml = m_dup(m); // writable: the local stack may reuse it in place
    if (ml == 0) sc_stat(sc, BS_DROP_NOMEM);
    else bridge_local(sc, ml);
    depth--;
    sc_stat(sc, BS_LOCAL);
    return m;
  }
  if (eq6(eh, if_lladdr(bifp))) {
    bridge_local(sc, m);
    return 0;
  }
  if (dstPort != 0) {
    // A member's own address: delivered on that member, as if it had arrived there.
    const pifp = changetype<BridgePort>(dstPort).ifp;
    sc_stat(sc, BS_LOCAL);
    if (pifp == ifp) return m;
    mm.ph_rcvif = pifp;
    ether_demux(pifp, m);
    return 0;
  }
  depth++;
  bridge_forward(sc, bif, m, false);
  depth--;
  return 0;
}

// ---------------------------------------------------------------------------------------
// Members

function bridge_delete_member(sc: usize, bif: usize): void {
  const s = changetype<BridgeSoftc>(sc);
  let pp = changetype<usize>(s) + offsetof<BridgeSoftc>("members");
  for (let p = load<usize>(pp); p != 0; p = load<usize>(pp)) {
    if (p == bif) {
      store<usize>(pp, changetype<BridgePort>(p).next);
      break;
    }
    pp = p + offsetof<BridgePort>("next");
  }
  s.nmembers--;
  bridge_rtdelete_port(sc, bif);
  bridge_mdb_flush(sc, bif);
  const ifp = changetype<BridgePort>(bif).ifp;
  if (s.ifaddr == ifp) {
    // The member whose MAC the bridge wore goes: the next member's, or the bridge's own
    // generated one when none is left (FreeBSD's bridge_delete_member).
    s.ifaddr = s.members != 0 ? changetype<BridgePort>(s.members).ifp : 0;
    if (s.ifaddr != 0) memory.copy(if_lladdr(s.ifp), if_lladdr(s.ifaddr), 6);
    else {
      store<u32>(if_lladdr(s.ifp), <u32>s.defaddr);
      store<u16>(if_lladdr(s.ifp), <u16>(s.defaddr >> 32), 4);
    }
  }
  changetype<Ifnet>(ifp).if_bridge = 0;
  if_capchanged(ifp); // its driver may offload again
  if ((changetype<BridgePort>(bif).flags & BIF_WASPROMISC) == 0) setpromisc(ifp, false);
  zone_free_in(portZone, bif, s.vbase);
}

function bridge_delete_all(sc: usize): void {
  const s = changetype<BridgeSoftc>(sc);
  while (s.members != 0) bridge_delete_member(sc, s.members);
  bridge_mdb_flush(sc, 0);
  bridge_rtflush(sc, true);
  callout_stop(sc_callout(sc));
}

function bridge_add_member(sc: usize, ifp: usize): i32 {
  const s = changetype<BridgeSoftc>(sc);
  const ii = changetype<Ifnet>(ifp);
  if (ifp == s.ifp || ii.if_type != IFT_ETHER) return -EINVAL;
  if (ii.if_vnet != changetype<Ifnet>(s.ifp).if_vnet) return -EPERM;
  if (ii.if_bridge == sc) return -EEXIST;
  if (ii.if_bridge != 0) return -EBUSY;
  if (s.nmembers >= BRIDGE_MAX_MEMBERS) return -ENOSPC;
  // FreeBSD: the first member gives the bridge its MTU; the others must match it.
  if (s.nmembers == 0) changetype<Ifnet>(s.ifp).if_mtu = ii.if_mtu;
  else if (ii.if_mtu != changetype<Ifnet>(s.ifp).if_mtu) return -EINVAL;
  const bif = zone_alloc_in(portZone, s.vbase);
  if (bif == 0) return -ENOMEM;
  const b = changetype<BridgePort>(bif);
  b.ifp = ifp;
  b.sc = sc;
  b.flags = (ii.if_flags & IFF_PROMISC) != 0 ? BIF_WASPROMISC : 0;
  if ((ii.if_flags & IFF_PROMISC) == 0) {
    const r = setpromisc(ifp, true);
    if (r != 0) {
      zone_free_in(portZone, bif, s.vbase);
      return r < 0 ? r : -r;
    }
  }
  // Append: flooding order is membership order.
  b.next = 0;
  let pp = changetype<usize>(s) + offsetof<BridgeSoftc>("members");
  while (load<usize>(pp) != 0) pp = load<usize>(pp) + offsetof<BridgePort>("next");
  store<usize>(pp, bif);
  s.nmembers++;
  ii.if_bridge = sc;
  if (inherit_mac() && s.ifaddr == 0) {
    // net.link.bridge.inherit_mac: the first member's MAC becomes the bridge's (FreeBSD's
    // bridge_ioctl_add; PR 216510 was a crash on this path with an address configured).
    memory.copy(if_lladdr(s.ifp), if_lladdr(ifp), 6);
    s.ifaddr = ifp;
  }
  // A member's frames may be flooded anywhere: its driver stops offloading (FreeBSD mutes
  // member capabilities the same way).
  if_capchanged(ifp);
  return 0;
}

// A member leaving its vnet or being destroyed; or a bridge leaving its vnet.
function bridge_ifdetach(ifp: usize): void {
  const ii = changetype<Ifnet>(ifp);
  const sc = ii.if_bridge;
  if (sc != 0 && changetype<BridgeSoftc>(sc).magic == BRIDGE_MAGIC) {
    const bif = port_of(sc, ifp);
    if (bif != 0) bridge_delete_member(sc, bif);
    else {
      ii.if_bridge = 0;
      if_capchanged(ifp);
    }
  }
  const bsc = softc_of(ifp);
  if (bsc != 0) bridge_delete_all(bsc);
}

// ---------------------------------------------------------------------------------------
// The bridge interface

function bridge_ioctl(ifp: usize, cmd: u32, arg: usize): i32 {
  const ii = changetype<Ifnet>(ifp);
  if (cmd == SIOCSIFFLAGS) {
    if (ii.if_flags & IFF_UP) ii.if_flags |= IFF_RUNNING;
    else ii.if_flags &= ~IFF_RUNNING;
    return 0;
  }
  if (cmd == SIOCSIFMTU) {
    // Members and bridge share one MTU (set by the first member).
    const sc = softc_of(ifp);
    if (sc == 0) return 0;
    for (let p = changetype<BridgeSoftc>(sc).members; p != 0; p = changetype<BridgePort>(p).next) {
      if (changetype<Ifnet>(changetype<BridgePort>(p).ifp).if_mtu != ii.if_mtu) return -EINVAL;
    }
  }
  return 0;
}

function bridge_clone_create(unit: u32): usize {
  const v = curvnet();
  const vbase = VNET(0);
  const sc = zone_alloc_in(scZone, vbase);
  if (sc == 0) {
    if_clone_seterror(-ENOMEM);
    return 0;
  }
  const s = changetype<BridgeSoftc>(sc);
  s.vnet = v;
  s.vbase = vbase;
  s.rtmax = BRIDGE_RTABLE_MAX;
  s.ageing_us = <u64>BRIDGE_RTABLE_TIMEOUT_S * 1_000_000;
  s.rthash_key = arc4random();
  const ifp = if_alloc(IFT_BRIDGE);
  if (ifp == 0 || !bridge_rthash_alloc(sc)) {
    if (ifp != 0) if_free(ifp);
    zone_free_in(scZone, sc, vbase);
    if_clone_seterror(-ENOMEM);
    return 0;
  }
  if_initname_unit(ifp, BRIDGE_NAME, 6, unit, 0);
  const ii = changetype<Ifnet>(ifp);
  ii.if_flags = IFF_BROADCAST | IFF_SIMPLEX | IFF_MULTICAST;
  ii.if_mtu = ETHERMTU;
  ii.if_hdrlen = ETHER_HDR_LEN;
  ii.if_softc = sc;
  ii.if_transmit = bridge_transmit.index;
  ii.if_ioctl = bridge_ioctl.index;
  ii.if_cloner = cloner;
  // A locally administered unicast address from the kernel's seeded random numbers.
  ether_gen_addr(ifp);
  s.defaddr = <u64>load<u32>(if_lladdr(ifp)) | (<u64>load<u16>(if_lladdr(ifp), 4) << 32);
  s.ifaddr = 0;
  s.ifp = ifp;
  callout_init(sc_callout(sc));
  s.magic = BRIDGE_MAGIC;
  const r = if_attach(ifp);
  if (r != 0) {
    s.magic = 0;
    bridge_rthash_free(sc);
    if_free(ifp);
    zone_free_in(scZone, sc, vbase);
    if_clone_seterror(r);
    return 0;
  }
  s.prev = 0;
  s.next = bridges;
  if (bridges != 0) changetype<BridgeSoftc>(bridges).prev = sc;
  bridges = sc;
  nbridges++;
  return ifp;
}

function bridge_clone_destroy(ifp: usize): i32 {
  const sc = softc_of(ifp);
  if (sc == 0) return -EINVAL;
  const s = changetype<BridgeSoftc>(sc);
  bridge_delete_all(sc);
  if_detach(ifp);
  bridge_rthash_free(sc);
  callout_stop(sc_callout(sc));
  s.magic = 0;
  if (s.prev != 0) changetype<BridgeSoftc>(s.prev).next = s.next;
  else bridges = s.next;
  if (s.next != 0) changetype<BridgeSoftc>(s.next).prev = s.prev;
  nbridges--;
  if_free(ifp);
  zone_free_in(scZone, sc, s.vbase);
  return 0;
}

// VNET_SYSUNINIT: the bridges created in the dying vnet go (members were let go by their
// own departures, or are let go here).
function vnet_bridge_uninit(): void {
  const v = curvnet();
  // The cloner's sweep walks every interface of every vnet: only a vnet that made a bridge
  // asks for it (otherwise destroying n vnets costs n^2: 100,000 idle GENERIC vnets took
  // minutes). The list of bridges is short and says which vnet made each.
  let made = false;
  for (let b = bridges; b != 0 && !made; b = changetype<BridgeSoftc>(b).next) made = changetype<BridgeSoftc>(b).vnet == v;
  if (made && cloner != 0) if_clone_vnet_destroy(cloner);
  // A bridge made here but sitting in another vnet (only while the module unloads: a dying
  // vnet gets its interfaces back first) is destroyed directly.
  let sc = bridges;
  while (sc != 0) {
    const next = changetype<BridgeSoftc>(sc).next;
    if (changetype<BridgeSoftc>(sc).vnet == v) bridge_clone_destroy(changetype<BridgeSoftc>(sc).ifp);
    sc = next;
  }
}

export function modevent(what: i32): i32 {
  if (what == MOD_LOAD) {
    const off = vnet_data_alloc(V_SIZE, 8);
    if (off < 0) return -off;
    voff = <u32>off;
    memory.fill(vnet_master_base() + <usize>off, 0, V_SIZE); // inherit_mac 0, as FreeBSD
    vnet_data_copy(voff, V_SIZE);
    scZone = zone_create("bridge_softc", SC_SIZE, 0, ZONE_CHARGE | ZONE_ZERO, 0);
    portZone = zone_create("bridge_port", BP_SIZE, 0, ZONE_CHARGE | ZONE_ZERO, 0);
    rtZone = zone_create("bridge_rtnode", RT_SIZE, 0, ZONE_CHARGE | ZONE_ZERO, 0);
    mdbZone = zone_create("bridge_mdb", MDB_SIZE, 0, ZONE_CHARGE | ZONE_ZERO, 0);
    if (scZone == 0 || portZone == 0 || rtZone == 0 || mdbZone == 0) return ENOMEM; // kld_purge takes what was made
    bridge_rtable_setzone(rtZone);
    bridge_mdb_setzone(mdbZone);
    let r = if_clone_attach("bridge", bridge_clone_create.index, bridge_clone_destroy.index);
    if (r != 0) return -r;
    cloner = if_clone_of("bridge");
    r = eventhandler_register(EVENT_IFNET_DEPARTURE, bridge_ifdetach.index, EVENTHANDLER_PRI_ANY);
    if (r != 0) return -r;
    r = vnet_sysinit_register(SI_SUB_PROTO_IFATTACHDOMAIN, SI_ORDER_ANY, 0, 0, vnet_bridge_uninit.index);
    if (r != 0) return -r;
    ether_set_bridge_input(bridge_input.index);
    pfil_off = pfil_vnet_off();
    pfil_head_register(PFIL_HEAD_BRIDGE);
    return 0;
  }
  if (what == MOD_QUIESCE) return nbridges != 0 || pfil_head_hooks(PFIL_HEAD_BRIDGE) != 0 ? EBUSY : 0;
  if (what == MOD_UNLOAD) {
    ether_set_bridge_input(0);
    pfil_head_unregister(PFIL_HEAD_BRIDGE); // forced: hooks still on the head go too
    // Forced: whatever the per-vnet uninits left (nothing, normally).
    while (bridges != 0) bridge_clone_destroy(changetype<BridgeSoftc>(bridges).ifp);
    eventhandler_deregister(EVENT_IFNET_DEPARTURE, bridge_ifdetach.index);
    if_clone_detach("bridge");
    cloner = 0;
    zone_destroy(rtZone, false);
    zone_destroy(mdbZone, false);
    mdbZone = 0;
    zone_destroy(portZone, false);
    zone_destroy(scZone, false);
    rtZone = portZone = scZone = 0;
    vnet_data_free(voff, V_SIZE);
    return 0;
  }
  return 0;
}

// ---------------------------------------------------------------------------------------
// Host entry points. Every pointer is checked; calls run in the bridge's vnet.

const macbuf = memory.data(8, 8);

/** MAC from two numbers: bytes 0-2 and bytes 3-5, big-endian each. */
function putmac(hi: u32, lo: u32): usize {
  store<u8>(macbuf, <u8>(hi >> 16));
  store<u8>(macbuf, <u8>(hi >> 8), 1);
  store<u8>(macbuf, <u8>hi, 2);
  store<u8>(macbuf, <u8>(lo >> 16), 3);
  store<u8>(macbuf, <u8>(lo >> 8), 4);
  store<u8>(macbuf, <u8>lo, 5);
  return macbuf;
}

/** net.link.bridge.inherit_mac of vnet v: set to value (0 or 1), or read (value < 0). -1 for a bad vnet. */
export function bridge_inherit_mac(v: usize, value: i32): i32 {
  if (!vnet_valid(v) || value > 1) return -1;
  const p = VNET_VNET(v, voff);
  if (value >= 0) store<u32>(p, <u32>value);
  return <i32>load<u32>(p);
}

/** True if ifp is a bridge this module made. */
export function bridge_is(bifp: usize): bool {
  return softc_of(bifp) != 0;
}

/** ifconfig bridgeN addm IF. -EINVAL not Ethernet / MTU differs, -EPERM other vnet, -EEXIST already here, -EBUSY in another bridge, -ENOSPC full. */
export function bridge_addm(bifp: usize, ifp: usize): i32 {
  const sc = softc_of(bifp);
  if (sc == 0 || !if_valid(ifp)) return -EINVAL;
  const old = CURVNET_SET(changetype<Ifnet>(bifp).if_vnet);
  const r = bridge_add_member(sc, ifp);
  CURVNET_RESTORE(old);
  return r;
}

/** ifconfig bridgeN deletem IF. -ENOENT if it is not a member. */
export function bridge_delm(bifp: usize, ifp: usize): i32 {
  const sc = softc_of(bifp);
  if (sc == 0 || !if_valid(ifp)) return -EINVAL;
  const bif = port_of(sc, ifp);
  if (bif == 0) return -ENOENT;
  const old = CURVNET_SET(changetype<Ifnet>(bifp).if_vnet);
  bridge_delete_member(sc, bif);
  CURVNET_RESTORE(old);
  return 0;
}

/** The bridge interface ifp is a member of, or 0. */
export function bridge_member_of(ifp: usize): usize {
  if (!if_valid(ifp)) return 0;
  const sc = changetype<Ifnet>(ifp).if_bridge;
  if (sc == 0 || changetype<BridgeSoftc>(sc).magic != BRIDGE_MAGIC) return 0;
  return changetype<BridgeSoftc>(sc).ifp;
}

/** Member i (in membership order) of the bridge, or 0. */
export function bridge_member(bifp: usize, i: u32): usize {
  const sc = softc_of(bifp);
  if (sc == 0) return 0;
  let p = changetype<BridgeSoftc>(sc).members;
  for (let j: u32 = 0; p != 0 && j < i; j++) p = changetype<BridgePort>(p).next;
  return p != 0 ? changetype<BridgePort>(p).ifp : 0;
}

/** Parameters: 0 members, 1 entries, 2 maxaddr, 3 ageing s, 4 static entries, 5 hash buckets, 6 max members. */
export function bridge_param(bifp: usize, what: u32): f64 {
  const sc = softc_of(bifp);
  if (sc == 0) return -1;
  const s = changetype<BridgeSoftc>(sc);
  switch (what) {
    case 0: return <f64>s.nmembers;
    case 1: return <f64>s.rtcount;
    case 2: return <f64>s.rtmax;
    case 3: return <f64>(s.ageing_us / 1_000_000);
    case 4: return <f64>s.nstatic;
    case 5: return <f64>BRIDGE_RTHASH_SIZE;
    case 6: return <f64>BRIDGE_MAX_MEMBERS;
  }
  return -1;
}

/** Bridge counter BS_*. */
export function bridge_stat(bifp: usize, which: u32): f64 {
  const sc = softc_of(bifp);
  if (sc == 0 || which >= BS_COUNT) return -1;
  return <f64>load<u64>(sc + SC_STATS_OFF + (<usize>which << 3));
}

/** Port counter BP_* of member ifp. */
export function bridge_port_stat(bifp: usize, ifp: usize, which: u32): f64 {
  const sc = softc_of(bifp);
  if (sc == 0 || which >= BP_COUNT) return -1;
  const bif = port_of(sc, ifp);
  if (bif == 0) return -1;
  return <f64>load<u64>(bif + BP_STATS_OFF + (<usize>which << 3));
}

/** ifconfig bridgeN timeout S (0: learn nothing). Applies to every entry at once. */
export function bridge_set_ageing(bifp: usize, seconds: u32): i32 {
  const sc = softc_of(bifp);
  if (sc == 0 || seconds > BRIDGE_AGEING_MAX_S) return -EINVAL;
  const old = CURVNET_SET(changetype<Ifnet>(bifp).if_vnet);
  changetype<BridgeSoftc>(sc).ageing_us = <u64>seconds * 1_000_000;
  bridge_rtage(sc); // frees what is now expired and re-arms for the new deadlines
  CURVNET_RESTORE(old);
  return 0;
}

/** ifconfig bridgeN maxaddr N (1..BRIDGE_RTABLE_LIMIT); trims dynamic entries over it. */
export function bridge_set_maxaddr(bifp: usize, n: u32): i32 {
  const sc = softc_of(bifp);
  if (sc == 0 || n == 0 || n > BRIDGE_RTABLE_LIMIT) return -EINVAL;
  const old = CURVNET_SET(changetype<Ifnet>(bifp).if_vnet);
  changetype<BridgeSoftc>(sc).rtmax = n;
  bridge_rttrim(sc);
  CURVNET_RESTORE(old);
  return 0;
}

/** ifconfig bridgeN static IF MAC. -ENOENT if IF is not a member, -ENOSPC table full. */
export function bridge_addstatic(bifp: usize, ifp: usize, machi: u32, maclo: u32): i32 {
  const sc = softc_of(bifp);
  if (sc == 0 || !if_valid(ifp)) return -EINVAL;
  const bif = port_of(sc, ifp);
  if (bif == 0) return -ENOENT;
  const mac = putmac(machi, maclo);
  if ((load<u8>(mac) & 1) != 0 || (load<u32>(mac) == 0 && load<u16>(mac, 4) == 0)) return -EINVAL;
  const old = CURVNET_SET(changetype<Ifnet>(bifp).if_vnet);
  const r = bridge_rtaddstatic(sc, mac, bif);
  CURVNET_RESTORE(old);
  return r;
}

/** ifconfig bridgeN deladdr MAC. */
export function bridge_deladdr(bifp: usize, machi: u32, maclo: u32): i32 {
  const sc = softc_of(bifp);
  if (sc == 0) return -EINVAL;
  const old = CURVNET_SET(changetype<Ifnet>(bifp).if_vnet);
  const r = bridge_rtdaddr(sc, putmac(machi, maclo));
  CURVNET_RESTORE(old);
  return r;
}

/** ifconfig bridgeN flush (all = 0) / flushall (all = 1). Returns entries removed, or -EINVAL. */
export function bridge_flush(bifp: usize, all: u32): i32 {
  const sc = softc_of(bifp);
  if (sc == 0) return -EINVAL;
  const old = CURVNET_SET(changetype<Ifnet>(bifp).if_vnet);
  const n = bridge_rtflush(sc, all != 0);
  CURVNET_RESTORE(old);
  return <i32>n;
}

/** ifconfig bridgeN [-]mldsnoop (on 0 or 1; on < 0 reads): MLD snooping (bridge_mld.ts). The value, or -1. */
export function bridge_mldsnoop(bifp: usize, on: i32): i32 {
  const sc = softc_of(bifp);
  if (sc == 0 || on > 1) return -1;
  const s = changetype<BridgeSoftc>(sc);
  if (on >= 0 && <u32>on != s.mld_snoop) {
    s.mld_snoop = <u32>on;
    const old = CURVNET_SET(changetype<Ifnet>(bifp).if_vnet);
    bridge_mdb_flush(sc, 0); // what was learned before is stale once off; learning starts afresh when on
    for (let p = s.members; p != 0; p = changetype<BridgePort>(p).next) changetype<BridgePort>(p).mrouter_until = 0;
    CURVNET_RESTORE(old);
  }
  return <i32>s.mld_snoop;
}

/** The groups MLD snooping learned, MDB_REC-byte records in bridge_rtbuf() (at most 384); how many, or -1. */
export function bridge_mdb_list(bifp: usize): i32 {
  const sc = softc_of(bifp);
  if (sc == 0) return -1;
  const old = CURVNET_SET(changetype<Ifnet>(bifp).if_vnet);
  const n = bridge_mdb_fill(sc, rtrecs, 6144 / MDB_REC);
  CURVNET_RESTORE(old);
  return <i32>n;
}

/** Fill bridge_rtbuf() with up to 256 entries after the first `skip`; returns how many (or -1). */
export function bridge_rtlist_fill(bifp: usize, skip: u32): i32 {
  const sc = softc_of(bifp);
  if (sc == 0) return -1;
  return <i32>bridge_rtlist(sc, skip);
}

/** Address of the listing records (24 bytes each: mac[6], flags u16, port ifp u32, pad, expiry us u64). */
export function bridge_rtbuf(): usize {
  return rtrecs;
}

/** Bridges alive (any vnet), and frames sent to a bridge interface with no softc. */
export function bridge_count(): u32 {
  return nbridges;
}

export function bridge_nosoftc_drops(): f64 {
  return <f64>dropNoSoftc;
}

/** Kernel time now, us (for expiries). */
export function bridge_now(): f64 {
  return <f64>ticks();
}
