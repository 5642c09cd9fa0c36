// inet: IPv4, ARP and ICMP as a loadable module (FreeBSD sys/netinet). The kernel knows no
// protocol; this module registers ETHERTYPE_IP and ETHERTYPE_ARP with netisr (lo0 maps
// AF_INET to the same handler), a VNET_SYSINIT that gives every vnet its IPv4 state and
// 127.0.0.1/8 on lo0, and an interface departure handler that drops a leaving
// interface's addresses, routes and ARP entries.
//
// Files: ip_var.ts (per-vnet block, counters, structures), in.ts (addresses), in_rmx.ts
// (routes), if_ether.ts (ARP), ip_input.ts (input, forwarding, protocol switch),
// ip_output.ts (output, fragmentation, the pfil out head), ip_reass.ts (reassembly), ip_icmp.ts
// (ICMP and the ping service).
//
// For upper protocols (udp, tcp): an entry table registered with the kernel as inet6 does
// (domain_af_register(AF_INET, ...), sys/in.ts INAPI_*: ip_output, source selection, route
// MTU and TSO, in_localip, in_broadcast, the protocol switch, icmp_error), so no transport
// imports inet and TCP and UDP load in a NOINET kernel. inet owns the kernel's pfil head
// PFIL_HEAD_INET (net/pfil.ts: firewalls hook it per vnet). MOD_QUIESCE refuses (EBUSY) while
// an upper protocol is registered or any vnet has a hook on that head; kmod_busy_holder names
// the modules holding the protocol switch, so `kldunload inet` says which transports to
// unload first.
//
// Host entry points (host/inet.ts wraps them) take a struct vnet or ifnet pointer and check
// it first (vnet_valid, if_valid): inet_addr_*, inet_route_*, inet_arp_*, inet_stat,
// inet_get / inet_set, inet_ping_send / inet_ping_read. Tables come back as fixed records
// in a module buffer (inet_buf).

import {
  VNET_VNET, vnet_data_alloc, vnet_data_free, vnet_data_copy, vnet_master_base, vnet_sysinit_register, vnet_valid,
  zone_create, zone_destroy, ZONE_CHARGE, ZONE_ZERO, netisr_register, netisr_unregister, eventhandler_register,
  eventhandler_deregister, EVENT_IFNET_DEPARTURE, EVENTHANDLER_PRI_ANY, CURVNET_SET, CURVNET_RESTORE, curvnet, if_valid,
  if_first, if_next, loif, arc4random, ticks, SI_SUB_PROTO_DOMAIN, SI_ORDER_FIRST, MOD_LOAD, MOD_UNLOAD, MOD_QUIESCE,
  EBUSY, ENOMEM, EINVAL, ether_set_offload_fixup, rtable_init, domain_af_register, domain_af_unregister,
  pfil_vnet_off, pfil_head_register, pfil_head_unregister, pfil_head_hooks, PFIL_HEAD_INET,
} from "../kmod/kapi";
import { rl_init } from "../net/ratelimit";
import { Ifnet, ETHERTYPE_IP, ETHERTYPE_ARP, IFF_UP, IF_HW_TSOMAX, AF_INET } from "../sys/if";
import { CSUM_TSO } from "../sys/mbuf";
import { ip_offload_fixup } from "./ip_offload";
import {
  IPPROTO_ICMP, INADDR_LOOPBACK, INAPI_OUTPUT, INAPI_SELECTSRC, INAPI_RTMTU, INAPI_RTTSO, INAPI_LOCALIP, INAPI_BROADCAST,
  INAPI_PROTO_REGISTER, INAPI_PROTO_UNREGISTER, INAPI_ERROR, INAPI_SIZE,
} from "../sys/in";
import {
  InetGlobals, InIfaddr, Rtentry, Llentry, V, VV, INET_VNET_SIZE, IPSTAT_OFF, ICMPSTAT_OFF, ARPSTAT_OFF, IPS_COUNT,
  ICPS_COUNT, ARPS_COUNT, LLE_SIZE, IPQ_SIZE, ICMPLIM_DEFAULT, InetVnet, ARPLLT_OFF, Vbase, IP_MAXFRAGPACKETS, IP_MAXFRAGSPERPACKET,
  IP_MAXFRAGQ_ZONE, rtab, IA_SIZE, GARP_REXMIT_MAX,
} from "./ip_var";
import { Llt, LLT_THRESH_MAX, llt_defaults } from "../sys/llatbl";
import { in_control_add, in_control_del, in_ifdetach, in_addr_fill, in_ifaddr_for, in_localip, in_broadcast, IA_REC } from "./in";
import { rt_add_static, rt_add_blackhole, rt_del, rt_fill, rt_flush_all, rt_lookup, RT_REC } from "./in_rmx";
import { arp_input, arp_flush_all, arp_fill, arp_delete, arp_set_static, LLE_REC } from "./if_ether";
import { ip_input, ipproto_reset, ipproto_register_internal, ipproto_upper_count, ipproto_holder, ipproto_register, ipproto_unregister } from "./ip_input";
import { ip_output, pfil_set_off } from "./ip_output";
import { ipq_flush_all, ipq_count } from "./ip_reass";
import { icmp_input, icmp_error, ping_send, ping_log_read, ping_log_dropped, ping_log_free, LOG_CAP, LOG_REC } from "./ip_icmp";
export { kmod_heap_top } from "../kmod/kmod";

// The API for upper protocols and firewalls.
export { ip_output } from "./ip_output";
export { ipproto_register, ipproto_unregister } from "./ip_input";
export { icmp_error } from "./ip_icmp";
export { in_localip, in_broadcast } from "./in";
export { ip_reass } from "./ip_reass"; // ipfw's reass action

// The entry table transport modules find through domain_af_api(AF_INET) (sys/in.ts INAPI_*).
const api = memory.data(<i32>INAPI_SIZE, 4);

function fillApi(): void {
  store<u32>(api + INAPI_OUTPUT, ip_output.index);
  store<u32>(api + INAPI_SELECTSRC, in_selectsrc.index);
  store<u32>(api + INAPI_RTMTU, in_rtmtu.index);
  store<u32>(api + INAPI_RTTSO, in_rttso.index);
  store<u32>(api + INAPI_LOCALIP, in_localip.index);
  store<u32>(api + INAPI_BROADCAST, in_broadcast.index);
  store<u32>(api + INAPI_PROTO_REGISTER, ipproto_register.index);
  store<u32>(api + INAPI_PROTO_UNREGISTER, ipproto_unregister.index);
  store<u32>(api + INAPI_ERROR, icmp_error.index);
}

/** For kldunload's message: the id of the i-th module holding inet's protocol switch, 0 past the last. */
export function kmod_busy_holder(i: u32): u32 {
  return ipproto_holder(i);
}

/** The source address for a datagram to dst from the current vnet (route's address), or 0. */
export function in_selectsrc(dst: u32): u32 {
  const r = rt_lookup(dst);
  if (r == 0) return 0;
  const ia = changetype<Rtentry>(r).rt_ifa;
  if (ia == 0) return 0;
  if ((changetype<Rtentry>(r).rt_flags & 2) == 0) {
    const b = in_ifaddr_for(changetype<Rtentry>(r).rt_ifp, dst);
    if (b != 0) return changetype<InIfaddr>(b).ia_addr;
  }
  return changetype<InIfaddr>(ia).ia_addr;
}

/**
 * The largest packet (IP header included) TCP may hand ip_output for dst as one large
 * segment (CSUM_TSO): IF_HW_TSOMAX when the interface of the route assists TSO now, else 0
 * (our own addresses go through lo0, which does not). Asked per tcp_output call, so a
 * capture or link conditions that turn TSO off take effect at the next segment.
 */
export function in_rttso(dst: u32): u32 {
  if (in_localip(dst)) return 0;
  const r = rt_lookup(dst);
  if (r == 0) return 0;
  const ifp = changetype<Rtentry>(r).rt_ifp;
  if (ifp == 0) return 0;
  const ii = changetype<Ifnet>(ifp);
  return (ii.if_hwassist & CSUM_TSO) != 0 && (ii.if_flags & IFF_UP) != 0 ? IF_HW_TSOMAX : 0;
}

/**
 * The MTU of the interface a packet to dst would leave by in the current vnet (lo0's for
 * our own addresses), or 0 when there is no route. TCP derives its MSS from it.
 */
export function in_rtmtu(dst: u32): u32 {
  if (in_localip(dst)) {
    const lo = loif();
    return lo != 0 ? changetype<Ifnet>(lo).if_mtu : 0;
  }
  const r = rt_lookup(dst);
  if (r == 0) return 0;
  const ifp = changetype<Rtentry>(r).rt_ifp;
  return ifp != 0 ? changetype<Ifnet>(ifp).if_mtu : 0;
}

// ---------------------------------------------------------------------------------------
// Per-vnet life

function inet_vnet_init(): i32 {
  const vv = V();
  vv.ip_id = arc4random() & 0xffff;
  vv.icmplim = ICMPLIM_DEFAULT;
  vv.tstamprepl = 1;
  ipreass_defaults(vv);
  llt_defaults(Vbase() + ARPLLT_OFF);
  rl_init(changetype<usize>(vv) + offsetof<InetVnet>("icmp_credit"), ticks());
  rtable_init(rtab());
  vv.up = 1;
  const lo = loif();
  if (lo != 0) {
    const r = in_control_add(lo, INADDR_LOOPBACK, 8, 0);
    if (r != 0) {
      inet_vnet_uninit();
      return -r;
    }
  }
  return 0;
}

function inet_vnet_uninit(): void {
  const v = curvnet();
  for (let ifp = if_first(v); ifp != 0; ifp = if_next(ifp)) in_ifdetach(ifp);
  rt_flush_all();
  arp_flush_all();
  ipq_flush_all();
  ping_log_free();
  V().up = 0;
}

/** EVENT_IFNET_DEPARTURE (curvnet = the vnet ifp leaves). */
function inet_ifdeparture(ifp: usize): void {
  if (V().up != 0) in_ifdetach(ifp);
  else changetype<Ifnet>(ifp).if_afdata0 = 0;
}

function destroyZones(): void {
  if (InetGlobals.iaZone != 0) zone_destroy(InetGlobals.iaZone, false);
  if (InetGlobals.rtZone != 0) zone_destroy(InetGlobals.rtZone, false);
  if (InetGlobals.lleZone != 0) zone_destroy(InetGlobals.lleZone, false);
  if (InetGlobals.ipqZone != 0) zone_destroy(InetGlobals.ipqZone, false);
  InetGlobals.iaZone = 0;
  InetGlobals.rtZone = 0;
  InetGlobals.lleZone = 0;
  InetGlobals.ipqZone = 0;
}

export function modevent(what: i32): i32 {
  if (what == MOD_LOAD) {
    ipproto_reset();
    const off = vnet_data_alloc(INET_VNET_SIZE, 8);
    if (off < 0) return -off;
    InetGlobals.voff = <u32>off;
    const master = vnet_master_base() + <usize>off;
    memory.fill(master, 0, INET_VNET_SIZE);
    changetype<InetVnet>(master).icmplim = ICMPLIM_DEFAULT;
    changetype<InetVnet>(master).tstamprepl = 1;
    ipreass_defaults(changetype<InetVnet>(master));
    llt_defaults(master + ARPLLT_OFF);
    vnet_data_copy(<u32>off, INET_VNET_SIZE);
    InetGlobals.iaZone = zone_create("in_ifaddr", IA_SIZE, 0, ZONE_CHARGE | ZONE_ZERO, 4096);
    InetGlobals.rtZone = zone_create("rtentry", <u32>offsetof<Rtentry>(), 0, ZONE_CHARGE | ZONE_ZERO, 16384);
    InetGlobals.lleZone = zone_create("llentry", LLE_SIZE, 0, ZONE_CHARGE | ZONE_ZERO, 16384);
    InetGlobals.ipqZone = zone_create("ipq", IPQ_SIZE, 0, ZONE_CHARGE | ZONE_ZERO, 1024);
    if (InetGlobals.iaZone == 0 || InetGlobals.rtZone == 0 || InetGlobals.lleZone == 0 || InetGlobals.ipqZone == 0) {
      destroyZones();
      vnet_data_free(<u32>off, INET_VNET_SIZE);
      return ENOMEM;
    }
    ipproto_register_internal(IPPROTO_ICMP, icmp_input.index, 0);
    let r = netisr_register(ETHERTYPE_IP, ip_input.index);
    if (r == 0) {
      r = netisr_register(ETHERTYPE_ARP, arp_input.index);
      if (r != 0) netisr_unregister(ETHERTYPE_IP);
    }
    if (r == 0) {
      r = eventhandler_register(EVENT_IFNET_DEPARTURE, inet_ifdeparture.index, EVENTHANDLER_PRI_ANY);
      if (r != 0) {
        netisr_unregister(ETHERTYPE_IP);
        netisr_unregister(ETHERTYPE_ARP);
      }
    }
    if (r == 0) {
      // After lo0 (SI_SUB_PSEUDO); torn down before it.
      r = vnet_sysinit_register(SI_SUB_PROTO_DOMAIN, SI_ORDER_FIRST, inet_vnet_init.index, 0, inet_vnet_uninit.index);
      if (r != 0) {
        eventhandler_deregister(EVENT_IFNET_DEPARTURE, inet_ifdeparture.index);
        netisr_unregister(ETHERTYPE_IP);
        netisr_unregister(ETHERTYPE_ARP);
      }
    }
    if (r == 0) {
      fillApi();
      r = domain_af_register(AF_INET, api);
      if (r != 0) {
        eventhandler_deregister(EVENT_IFNET_DEPARTURE, inet_ifdeparture.index);
        netisr_unregister(ETHERTYPE_IP);
        netisr_unregister(ETHERTYPE_ARP);
      }
    }
    if (r != 0) {
      destroyZones();
      vnet_data_free(<u32>off, INET_VNET_SIZE);
      return r < 0 ? -r : r;
    }
    ether_set_offload_fixup(ip_offload_fixup.index);
    pfil_set_off(pfil_vnet_off());
    pfil_head_register(PFIL_HEAD_INET);
    return 0;
  }
  if (what == MOD_QUIESCE) {
    return ipproto_upper_count() != 0 || pfil_head_hooks(PFIL_HEAD_INET) != 0 ? EBUSY : 0;
  }
  if (what == MOD_UNLOAD) {
    // The uninit ran in every vnet (kld_sysuninit): nothing is left in the zones.
    ether_set_offload_fixup(0);
    domain_af_unregister(AF_INET);
    eventhandler_deregister(EVENT_IFNET_DEPARTURE, inet_ifdeparture.index);
    netisr_unregister(ETHERTYPE_IP);
    netisr_unregister(ETHERTYPE_ARP);
    ipproto_reset();
    pfil_head_unregister(PFIL_HEAD_INET); // forced: hooks still on the head go too
    destroyZones();
    vnet_data_free(InetGlobals.voff, INET_VNET_SIZE);
    return 0;
  }
  return 0;
}

// ---------------------------------------------------------------------------------------
// Host entry points

const BUF_BYTES: u32 = 8192;
const tbuf = memory.data(<i32>BUF_BYTES, 8);

/** The module buffer the *_fill and ping_read calls write records into. */
export function inet_buf(): usize {
  return tbuf;
}

@inline function ifpOk(ifp: usize): bool {
  return if_valid(ifp) && V_up(changetype<Ifnet>(ifp).if_vnet);
}

@inline function V_up(v: usize): bool {
  return vnet_valid(v) && changetype<InetVnet>(VV(v)).up != 0;
}

/** ifconfig IF inet addr/plen [broadcast b]. */
export function inet_addr_add(ifp: usize, addr: u32, plen: u32, bcast: u32): i32 {
  if (!ifpOk(ifp)) return -EINVAL;
  const old = CURVNET_SET(changetype<Ifnet>(ifp).if_vnet);
  const r = in_control_add(ifp, addr, plen, bcast);
  CURVNET_RESTORE(old);
  return r;
}

export function inet_addr_del(ifp: usize, addr: u32): i32 {
  if (!ifpOk(ifp)) return -EINVAL;
  const old = CURVNET_SET(changetype<Ifnet>(ifp).if_vnet);
  const r = in_control_del(ifp, addr);
  CURVNET_RESTORE(old);
  return r;
}

/** ifp's addresses as 16-byte records (addr, plen, broadcast, 0); returns how many (-1: bad ifp). */
export function inet_addr_fill(ifp: usize): i32 {
  if (!ifpOk(ifp)) return -1;
  return <i32>in_addr_fill(ifp, tbuf, BUF_BYTES / IA_REC);
}

/** route add dst/plen gw (gw 0: out of ifp) [-weight w] (0: the default, 1). A second gateway route to dst/plen is another path (net.route.multipath). */
export function inet_route_add(v: usize, dst: u32, plen: u32, gw: u32, ifp: usize, weight: u32): i32 {
  if (!V_up(v)) return -EINVAL;
  if (ifp != 0 && (!if_valid(ifp) || changetype<Ifnet>(ifp).if_vnet != v)) return -EINVAL;
  const old = CURVNET_SET(v);
  const r = rt_add_static(dst, plen, gw, ifp, weight != 0 ? weight : 1);
  CURVNET_RESTORE(old);
  return r;
}

/** route add dst/plen -blackhole. */
export function inet_route_add_blackhole(v: usize, dst: u32, plen: u32): i32 {
  if (!V_up(v)) return -EINVAL;
  const old = CURVNET_SET(v);
  const r = rt_add_blackhole(dst, plen);
  CURVNET_RESTORE(old);
  return r;
}

/** Records of inet_route_add_many in tbuf: dst, plen, gateway, ifp (u32 each). */
const RA_REC: u32 = 16;

/**
 * inet_route_add for n records the host wrote into tbuf (at most BUF_BYTES / RA_REC), in
 * order, in one entry: a topology's routes (a 100-router grid has 17,640) cost one host
 * crossing per buffer instead of one each. Stops at the first refused: returns how many
 * were added, and when that is less than n, the refused record's error (negative errno)
 * is stored at tbuf. -EINVAL for a bad vnet or n.
 */
export function inet_route_add_many(v: usize, n: u32): i32 {
  if (!V_up(v) || n > BUF_BYTES / RA_REC) return -EINVAL;
  const old = CURVNET_SET(v);
  let i: u32 = 0;
  let r: i32 = 0;
  for (; i < n; i++) {
    const rec = tbuf + i * RA_REC;
    const ifp = <usize>load<u32>(rec, 12);
    if (ifp != 0 && (!if_valid(ifp) || changetype<Ifnet>(ifp).if_vnet != v)) {
      r = -EINVAL;
      break;
    }
    r = rt_add_static(load<u32>(rec), load<u32>(rec, 4), load<u32>(rec, 8), ifp);
    if (r != 0) break;
  }
  CURVNET_RESTORE(old);
  if (i < n) store<i32>(tbuf, r);
  return <i32>i;
}

/** route delete dst/plen [gw] (gw 0: the prefix's only route; else its path via gw). */
export function inet_route_del(v: usize, dst: u32, plen: u32, gw: u32): i32 {
  if (!V_up(v)) return -EINVAL;
  const old = CURVNET_SET(v);
  const r = rt_del(dst, plen, false, gw);
  CURVNET_RESTORE(old);
  return r;
}

/** Routes from index skip as 32-byte records (see in_rmx.ts); returns how many (-1: bad vnet). */
export function inet_route_fill(v: usize, skip: u32): i32 {
  if (!V_up(v)) return -1;
  const old = CURVNET_SET(v);
  const n = rt_fill(tbuf, skip, BUF_BYTES / RT_REC);
  CURVNET_RESTORE(old);
  return <i32>n;
}

/** route get: the route dst would take: fills one record; 0 = none, 1 = found, -1 bad vnet. */
export function inet_route_get(v: usize, dst: u32): i32 {
  if (!V_up(v)) return -1;
  const old = CURVNET_SET(v);
  const r = rt_lookup(dst);
  let n: i32 = 0;
  if (r != 0) {
    const x = changetype<Rtentry>(r);
    store<u32>(tbuf, x.rt_dst);
    store<u32>(tbuf, x.rt_plen, 4);
    store<u32>(tbuf, x.rt_gateway, 8);
    store<u32>(tbuf, x.rt_flags, 12);
    store<u32>(tbuf, <u32>x.rt_ifp, 16);
    store<u32>(tbuf, x.rt_ifa != 0 ? changetype<InIfaddr>(x.rt_ifa).ia_addr : 0, 20);
    store<f64>(tbuf, <f64>x.rt_use, 24);
    n = 1;
  }
  CURVNET_RESTORE(old);
  return n;
}

/** ARP entries from index skip as 32-byte records (see if_ether.ts); -1: bad vnet. */
export function inet_arp_fill(v: usize, skip: u32): i32 {
  if (!V_up(v)) return -1;
  const old = CURVNET_SET(v);
  const n = arp_fill(tbuf, skip, BUF_BYTES / LLE_REC);
  CURVNET_RESTORE(old);
  return <i32>n;
}

/** arp -d addr on ifp. */
export function inet_arp_del(ifp: usize, addr: u32): i32 {
  if (!ifpOk(ifp)) return -EINVAL;
  const old = CURVNET_SET(changetype<Ifnet>(ifp).if_vnet);
  const r = arp_delete(ifp, addr);
  CURVNET_RESTORE(old);
  return r;
}

/** arp -s addr MAC on ifp: the MAC's 6 bytes at inet_buf(). */
export function inet_arp_set(ifp: usize, addr: u32): i32 {
  if (!ifpOk(ifp)) return -EINVAL;
  if (addr == 0 || addr == 0xffffffff) return -EINVAL;
  const old = CURVNET_SET(changetype<Ifnet>(ifp).if_vnet);
  const r = arp_set_static(ifp, addr, tbuf);
  CURVNET_RESTORE(old);
  return r;
}

/** Counter i of group (0 ipstat, 1 icmpstat, 2 arpstat); -1 when out of range. */
export function inet_stat(v: usize, group: u32, i: u32): f64 {
  if (!V_up(v)) return -1;
  let off: u32;
  let n: u32;
  if (group == 0) {
    off = IPSTAT_OFF;
    n = IPS_COUNT;
  } else if (group == 1) {
    off = ICMPSTAT_OFF;
    n = ICPS_COUNT;
  } else if (group == 2) {
    off = ARPSTAT_OFF;
    n = ARPS_COUNT;
  } else return -1;
  if (i >= n) return -1;
  return <f64>load<u64>(VV(v) + off + (<usize>i << 3));
}

// Knobs and gauges for inet_get / inet_set.
const K_FORWARDING: u32 = 0; // net.inet.ip.forwarding (get/set)
const K_ICMPLIM: u32 = 1; // net.inet.icmp.icmplim (get/set)
const K_IPQ: u32 = 2; // datagrams being reassembled
const K_LLE: u32 = 3; // ARP entries
const K_ROUTES: u32 = 4;
const K_ADDRS: u32 = 5;
const K_PINGDROPS: u32 = 6; // ping log records lost (log full)
const K_TSTAMPREPL: u32 = 7; // net.inet.icmp.tstamprepl (get/set)
const K_GC_THRESH1: u32 = 8; // net.link.ether.inet.gc_thresh1..3 (get/set; sys/llatbl.ts)
const K_GC_THRESH3: u32 = 10;
const K_MAXFRAGPACKETS: u32 = 11; // net.inet.ip.maxfragpackets (get/set; ip_reass.ts)
const K_MAXFRAGBUCKETSIZE: u32 = 12; // net.inet.ip.maxfragbucketsize
const K_MAXFRAGSPERPACKET: u32 = 13; // net.inet.ip.maxfragsperpacket
const K_GARP_REXMIT: u32 = 14; // net.link.ether.inet.garp_rexmit_count (get/set)

/** Reassembly knobs at their defaults (ip_var.ts says why these). */
function ipreass_defaults(vv: InetVnet): void {
  vv.maxfragpackets = IP_MAXFRAGPACKETS;
  vv.maxfragbucketsize = IP_MAXFRAGPACKETS;
  vv.maxfragsperpacket = IP_MAXFRAGSPERPACKET;
}

export function inet_get(v: usize, what: u32): f64 {
  if (!V_up(v)) return -1;
  const vv = changetype<InetVnet>(VV(v));
  switch (what) {
    case K_FORWARDING: return <f64>vv.forwarding;
    case K_ICMPLIM: return <f64>vv.icmplim;
    case K_TSTAMPREPL: return <f64>vv.tstamprepl;
    case K_GARP_REXMIT: return <f64>vv.garp_rexmit_count;
    case K_GC_THRESH1:
    case K_GC_THRESH1 + 1:
    case K_GC_THRESH3: return <f64>load<u32>(VV(v) + ARPLLT_OFF + offsetof<Llt>("thresh1") + ((what - K_GC_THRESH1) << 2));
    case K_IPQ: return <f64>vv.ipq_count;
    case K_MAXFRAGPACKETS: return <f64>vv.maxfragpackets;
    case K_MAXFRAGBUCKETSIZE: return <f64>vv.maxfragbucketsize;
    case K_MAXFRAGSPERPACKET: return <f64>vv.maxfragsperpacket;
    case K_LLE: return <f64>changetype<Llt>(VV(v) + ARPLLT_OFF).count;
    case K_ROUTES: return <f64>vv.rt_count;
    case K_ADDRS: return <f64>vv.ia_count;
    case K_PINGDROPS: {
      const old = CURVNET_SET(v);
      const n = ping_log_dropped();
      CURVNET_RESTORE(old);
      return <f64>n;
    }
  }
  return -1;
}

export function inet_set(v: usize, what: u32, value: u32): i32 {
  if (!V_up(v)) return -EINVAL;
  const vv = changetype<InetVnet>(VV(v));
  if (what == K_FORWARDING) {
    if (value > 1) return -EINVAL;
    vv.forwarding = value;
    return 0;
  }
  if (what == K_ICMPLIM) {
    if (value > 1_000_000) return -EINVAL;
    vv.icmplim = value;
    return 0;
  }
  if (what == K_GARP_REXMIT) {
    if (value > GARP_REXMIT_MAX) return -EINVAL;
    vv.garp_rexmit_count = value;
    return 0;
  }
  if (what == K_TSTAMPREPL) {
    if (value > 1) return -EINVAL;
    vv.tstamprepl = value;
    return 0;
  }
  if (what >= K_MAXFRAGPACKETS && what <= K_MAXFRAGSPERPACKET) {
    // FreeBSD's ints: -1 (0xffffffff here) is no limit, 0 accepts no fragment. Lowering a
    // limit frees nothing at once: what is held completes or times out.
    const n = <i32>value;
    if (n < -1 || (what != K_MAXFRAGSPERPACKET && n > <i32>IP_MAXFRAGQ_ZONE)) return -EINVAL;
    if (what == K_MAXFRAGPACKETS) {
      vv.maxfragpackets = n;
      if (n > 0) vv.maxfragbucketsize = n; // one bucket per vnet follows it (FreeBSD ipreass_zone_change)
    } else if (what == K_MAXFRAGBUCKETSIZE) vv.maxfragbucketsize = n;
    else vv.maxfragsperpacket = n;
    return 0;
  }
  if (what >= K_GC_THRESH1 && what <= K_GC_THRESH3) {
    // Any order of the three works (sys/llatbl.ts takes min(thresh2, thresh3)); the bound is
    // the llentry zone's per-vnet limit. Lowering one evicts nothing at once: the table
    // shrinks as entries come and go.
    if (value > LLT_THRESH_MAX || (what == K_GC_THRESH3 && value == 0)) return -EINVAL;
    store<u32>(VV(v) + ARPLLT_OFF + offsetof<Llt>("thresh1") + ((what - K_GC_THRESH1) << 2), value);
    return 0;
  }
  return -EINVAL;
}

/** Send an ICMP echo request from vnet v (see ping_send). */
export function inet_ping_send(v: usize, dst: u32, id: u32, seq: u32, size: u32, ttl: u32, df: u32): i32 {
  if (!V_up(v) || id > 0xffff || seq > 0xffff || ttl == 0 || ttl > 255) return -EINVAL;
  const old = CURVNET_SET(v);
  const r = ping_send(dst, id, seq, size, ttl, df != 0);
  CURVNET_RESTORE(old);
  return r;
}

/** Move vnet v's ping log into the buffer (LOG_REC-byte records); returns how many (-1: bad vnet). */
export function inet_ping_read(v: usize): i32 {
  if (!V_up(v)) return -1;
  const old = CURVNET_SET(v);
  const n = ping_log_read(tbuf);
  CURVNET_RESTORE(old);
  return <i32>n;
}

// Compile-time checks: the buffer holds a whole ping log, and the per-vnet block is small.
if (LOG_CAP * LOG_REC > BUF_BYTES || INET_VNET_SIZE > 2048) ERROR("inet buffer or VNET block size");
