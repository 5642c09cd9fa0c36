// inet6: IPv6, Neighbor Discovery and ICMPv6 as a loadable module (FreeBSD sys/netinet6),
// next to inet and independent of it (a kernel can have either, both or neither: the
// configurations GENERIC, NOINET6, NOINET). It registers ETHERTYPE_IPV6 with netisr (lo0
// maps AF_INET6 to the same handler), a VNET_SYSINIT that gives every vnet its IPv6 state
// and ::1 on lo0, and interface event handlers: an Ethernet interface that comes up (or
// arrives up) gets its link-local address; one that leaves loses its addresses, routes
// and neighbours.
//
// Files: ip6_var.ts (per-vnet block, counters, structures), in6.ts (addresses, link-local,
// DAD, source selection), in6_rmx.ts (routes), nd6.ts (Neighbor Discovery), nd6_rtr.ts
// (router discovery, SLAAC, advertising), mld6.ts (MLD listener), ip6_input.ts
// (input, extension headers, forwarding, protocol switch), ip6_output.ts (output,
// fragmentation), frag6.ts (reassembly), icmp6.ts (ICMPv6 and the ping6 service). Wire
// formats are in sys/in6.ts; checksums (in6_pseudo) are the kernel's, shared with IPv4.
//
// For upper protocols: ip6proto_register/unregister, ip6_output, icmp6_error,
// in6_localip, in6_selectsrc, in6_rtmtu. inet6 owns the kernel's pfil head PFIL_HEAD_INET6
// (net/pfil.ts). MOD_QUIESCE refuses (EBUSY) while an upper protocol is registered or any
// vnet has a hook on that head.
//
// Host entry points (host/inet6.ts wraps them) take a struct vnet or ifnet pointer and
// check it first; addresses travel through the module buffer (inet6_buf): the host writes
// them at offset 0 (and 16) before the call, tables come back as fixed records there.

import {
  vnet_data_alloc, vnet_data_free, vnet_data_copy, vnet_master_base, vnet_sysinit_register, vnet_valid, zone_create,
  zone_destroy, ZONE_CHARGE, ZONE_ZERO, netisr_register, netisr_unregister, eventhandler_register, eventhandler_deregister,
  EVENT_IFNET_ARRIVAL, EVENT_IFNET_DEPARTURE, EVENT_IFNET_UP, EVENT_IFNET_LLADDR, EVENTHANDLER_PRI_ANY, CURVNET_SET, CURVNET_RESTORE, curvnet,
  if_valid, if_first, if_next, loif, SI_SUB_PROTO_DOMAIN, SI_ORDER_MIDDLE, MOD_LOAD, MOD_UNLOAD, MOD_QUIESCE, EBUSY,
  ENOMEM, EINVAL, domain_af_register, domain_af_unregister, rtable_init, pfil_vnet_off, pfil_head_register,
  pfil_head_unregister, pfil_head_hooks, PFIL_HEAD_INET6, ether_set_offload_fixup6, ticks,
} from "../kmod/kapi";
import { ip6_offload_fixup } from "./ip6_offload";
import { rl_init } from "../net/ratelimit";
import { Ifnet, ETHERTYPE_IPV6, AF_INET6 } from "../sys/if";
import {
  IPPROTO_ICMPV6, in6_copy, IN6_IS_ADDR_LINKLOCAL, IN6_IS_ADDR_MULTICAST, IN6API_OUTPUT, IN6API_SELECTSRC, IN6API_RTMTU,
  IN6API_LOCALIP, IN6API_PROTO_REGISTER, IN6API_PROTO_UNREGISTER, IN6API_ERROR, IN6API_V6ONLY, IN6API_RTTSO, IN6API_SIZE,
} from "../sys/in6";
import {
  Inet6Globals, Inet6Vnet, VV6, V6, INET6_VNET_SIZE, IA6_SIZE, ND6_SIZE, IP6Q_SIZE, IP6STAT_OFF, ICMP6STAT_OFF, ND6STAT_OFF,
  IP6S_COUNT, ICP6S_COUNT, ND6S_COUNT, MLDSTAT_OFF, MLDS_COUNT, INM_SIZE, ICMP6_ERRPPSLIMIT, Rt6entry, rt6_dst, NDLLT_OFF, IP6_MAXFRAGS, IP6_MAXFRAGPACKETS,
  IP6_MAXFRAGSPERPACKET, IP6_MAXFRAGQ_ZONE, rtab6, NDI_SIZE, DR_SIZE, PR_SIZE, ND6_ADV_PFX_REC, ND6_ADV_PREFIX_MAX,
} from "./ip6_var";
import {
  nd6_rtr_ifup, nd6_rtr_flush_all, nd6_set_flag, nd6_set_advertise, nd6_ifinfo_record, nd6_dr_fill, nd6_pr_fill, DR_REC, PR_REC,
} from "./nd6_rtr";
import { Llt, LLT_THRESH_MAX, llt_defaults } from "../sys/llatbl";
import { in6_control_add, in6_control_del, in6_ifdetach, in6_ifattach, in6_lladdr_changed, in6_addr_fill, IA6_REC } from "./in6";
import { rt6_add_static, rt6_del, rt6_fill, rt6_flush_all, rt6_lookup, rt6_record, rt6_src, RT6_REC } from "./in6_rmx";
import { nd6_flush_all, nd6_fill, nd6_delete, nd6_add_static, ND6_REC } from "./nd6";
import { ip6_input, ip6proto_reset, ip6proto_register_internal, ip6proto_upper_count, ip6proto_register, ip6proto_unregister, ip6proto_holder } from "./ip6_input";
import { in6_linkscope, ip6_output, in6_selectsrc, in6_rtmtu, in6_rttso, pfil6_set_off } from "./ip6_output";
import { in6_localip } from "./in6";
import { mld_ifup, mld_ifdetach, mld_fill, INM_REC } from "./mld6";
import { frag6_flush_all, frag6_set_maxfragpackets } from "./frag6";
import { icmp6_input, icmp6_error, ping6_send, ping6_log_read, ping6_log_dropped, ping6_log_free, LOG6_CAP, LOG6_REC } from "./icmp6";
export { kmod_heap_top } from "../kmod/kmod";

// The API for upper protocols.
export { ip6_output, in6_selectsrc, in6_rtmtu } from "./ip6_output";
export { ip6proto_register, ip6proto_unregister } from "./ip6_input";
export { icmp6_error } from "./icmp6";
export { in6_localip } from "./in6";

const loopback6 = memory.data<u8>([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);

// The entry table transport modules find through domain_af_api(AF_INET6) (sys/in6.ts IN6API_*).
const api = memory.data(<i32>IN6API_SIZE, 4);

function fillApi(): void {
  store<u32>(api + IN6API_OUTPUT, ip6_output.index);
  store<u32>(api + IN6API_SELECTSRC, in6_selectsrc.index);
  store<u32>(api + IN6API_RTMTU, in6_rtmtu.index);
  store<u32>(api + IN6API_LOCALIP, in6_localip.index);
  store<u32>(api + IN6API_PROTO_REGISTER, ip6proto_register.index);
  store<u32>(api + IN6API_PROTO_UNREGISTER, ip6proto_unregister.index);
  store<u32>(api + IN6API_ERROR, icmp6_error.index);
  store<u32>(api + IN6API_V6ONLY, in6_v6only.index);
  store<u32>(api + IN6API_RTTSO, in6_rttso.index);
}

/** net.inet6.ip6.v6only of the current vnet: the IPV6_V6ONLY a transport gives a new AF_INET6 socket. */
function in6_v6only(): bool {
  return V6().v6only != 0;
}

/** For kldunload's message: the id of the i-th module holding inet6's protocol switch, 0 past the last. */
export function kmod_busy_holder(i: u32): u32 {
  return ip6proto_holder(i);
}

// ---------------------------------------------------------------------------------------
// Per-vnet life

function inet6_vnet_init(): i32 {
  const vv = V6();
  vv.errppslimit = ICMP6_ERRPPSLIMIT;
  vv.v6only = 1;
  frag6_defaults(vv);
  llt_defaults(changetype<usize>(vv) + NDLLT_OFF);
  rl_init(changetype<usize>(vv) + offsetof<Inet6Vnet>("icmp6_credit"), ticks());
  rtable_init(rtab6());
  vv.up = 1;
  const lo = loif();
  if (lo != 0) {
    const r = in6_control_add(lo, loopback6, 128, 0);
    if (r != 0) {
      inet6_vnet_uninit();
      return -r;
    }
  }
  // Interfaces already up when the module arrives get their link-local address now.
  for (let ifp = if_first(curvnet()); ifp != 0; ifp = if_next(ifp)) in6_ifattach(ifp);
  return 0;
}

function inet6_vnet_uninit(): void {
  const v = curvnet();
  for (let ifp = if_first(v); ifp != 0; ifp = if_next(ifp)) in6_ifdetach(ifp);
  nd6_rtr_flush_all();
  rt6_flush_all();
  nd6_flush_all();
  frag6_flush_all();
  mld_ifdetach(0);
  ping6_log_free();
  V6().up = 0;
}

/** EVENT_IFNET_DEPARTURE (curvnet = the vnet ifp leaves). */
function inet6_ifdeparture(ifp: usize): void {
  if (V6().up != 0) in6_ifdetach(ifp);
  else changetype<Ifnet>(ifp).if_afdata1 = 0;
}

/** EVENT_IFNET_ARRIVAL and EVENT_IFNET_UP: an Ethernet interface that is up gets its link-local address. */
function inet6_ifup(ifp: usize): void {
  if (V6().up == 0) return;
  mld_ifup(ifp); // groups joined while it was down are reported now (before the link-local's own join)
  in6_ifattach(ifp);
  nd6_rtr_ifup(ifp); // solicit routers (a host) or start advertising (a router)
}

/** EVENT_IFNET_LLADDR: the interface's addresses announce its new MAC. */
function inet6_iflladdr(ifp: usize): void {
  if (V6().up != 0) in6_lladdr_changed(ifp);
}

function destroyZones(): void {
  if (Inet6Globals.iaZone != 0) zone_destroy(Inet6Globals.iaZone, false);
  if (Inet6Globals.rtZone != 0) zone_destroy(Inet6Globals.rtZone, false);
  if (Inet6Globals.ndZone != 0) zone_destroy(Inet6Globals.ndZone, false);
  if (Inet6Globals.qZone != 0) zone_destroy(Inet6Globals.qZone, false);
  if (Inet6Globals.ndiZone != 0) zone_destroy(Inet6Globals.ndiZone, false);
  if (Inet6Globals.drZone != 0) zone_destroy(Inet6Globals.drZone, false);
  if (Inet6Globals.prZone != 0) zone_destroy(Inet6Globals.prZone, false);
  if (Inet6Globals.inmZone != 0) zone_destroy(Inet6Globals.inmZone, false);
  Inet6Globals.inmZone = 0;
  Inet6Globals.ndiZone = 0;
  Inet6Globals.drZone = 0;
  Inet6Globals.prZone = 0;
  Inet6Globals.iaZone = 0;
  Inet6Globals.rtZone = 0;
  Inet6Globals.ndZone = 0;
  Inet6Globals.qZone = 0;
}

function unregisterHooks(): void {
  eventhandler_deregister(EVENT_IFNET_DEPARTURE, inet6_ifdeparture.index);
  eventhandler_deregister(EVENT_IFNET_ARRIVAL, inet6_ifup.index);
  eventhandler_deregister(EVENT_IFNET_UP, inet6_ifup.index);
  eventhandler_deregister(EVENT_IFNET_LLADDR, inet6_iflladdr.index);
  netisr_unregister(ETHERTYPE_IPV6);
  domain_af_unregister(AF_INET6);
}

export function modevent(what: i32): i32 {
  if (what == MOD_LOAD) {
    ip6proto_reset();
    const off = vnet_data_alloc(INET6_VNET_SIZE, 8);
    if (off < 0) return -off;
    Inet6Globals.voff = <u32>off;
    const master = vnet_master_base() + <usize>off;
    memory.fill(master, 0, INET6_VNET_SIZE);
    changetype<Inet6Vnet>(master).errppslimit = ICMP6_ERRPPSLIMIT;
    changetype<Inet6Vnet>(master).v6only = 1;
    frag6_defaults(changetype<Inet6Vnet>(master));
    llt_defaults(master + NDLLT_OFF);
    vnet_data_copy(<u32>off, INET6_VNET_SIZE);
    Inet6Globals.iaZone = zone_create("in6_ifaddr", IA6_SIZE, 0, ZONE_CHARGE | ZONE_ZERO, 4096);
    Inet6Globals.rtZone = zone_create("rt6entry", <u32>offsetof<Rt6entry>(), 0, ZONE_CHARGE | ZONE_ZERO, 16384);
    Inet6Globals.ndZone = zone_create("nd6_entry", ND6_SIZE, 0, ZONE_CHARGE | ZONE_ZERO, 16384);
    Inet6Globals.qZone = zone_create("ip6q", IP6Q_SIZE, 0, ZONE_CHARGE | ZONE_ZERO, 1024);
    Inet6Globals.ndiZone = zone_create("nd_ifinfo", NDI_SIZE, 0, ZONE_CHARGE | ZONE_ZERO, 1024);
    Inet6Globals.drZone = zone_create("nd_defrouter", DR_SIZE, 0, ZONE_CHARGE | ZONE_ZERO, 64);
    Inet6Globals.prZone = zone_create("nd_prefix", PR_SIZE, 0, ZONE_CHARGE | ZONE_ZERO, 256);
    Inet6Globals.inmZone = zone_create("in6_multi", INM_SIZE, 0, ZONE_CHARGE | ZONE_ZERO, 4096);
    if (Inet6Globals.iaZone == 0 || Inet6Globals.rtZone == 0 || Inet6Globals.ndZone == 0 || Inet6Globals.qZone == 0 ||
        Inet6Globals.ndiZone == 0 || Inet6Globals.drZone == 0 || Inet6Globals.prZone == 0 || Inet6Globals.inmZone == 0) {
      destroyZones();
      vnet_data_free(<u32>off, INET6_VNET_SIZE);
      return ENOMEM;
    }
    ip6proto_register_internal(IPPROTO_ICMPV6, icmp6_input.index, 0);
    let r = netisr_register(ETHERTYPE_IPV6, ip6_input.index);
    if (r == 0) r = eventhandler_register(EVENT_IFNET_DEPARTURE, inet6_ifdeparture.index, EVENTHANDLER_PRI_ANY);
    if (r == 0) r = eventhandler_register(EVENT_IFNET_ARRIVAL, inet6_ifup.index, EVENTHANDLER_PRI_ANY);
    if (r == 0) r = eventhandler_register(EVENT_IFNET_UP, inet6_ifup.index, EVENTHANDLER_PRI_ANY);
    if (r == 0) r = eventhandler_register(EVENT_IFNET_LLADDR, inet6_iflladdr.index, EVENTHANDLER_PRI_ANY);
    // After lo0 (SI_SUB_PSEUDO) and inet (SI_ORDER_FIRST); torn down before both.
    if (r == 0) r = vnet_sysinit_register(SI_SUB_PROTO_DOMAIN, SI_ORDER_MIDDLE, inet6_vnet_init.index, 0, inet6_vnet_uninit.index);
    if (r == 0) {
      fillApi();
      r = domain_af_register(AF_INET6, api);
    }
    if (r != 0) {
      unregisterHooks();
      destroyZones();
      vnet_data_free(<u32>off, INET6_VNET_SIZE);
      return r < 0 ? -r : r;
    }
    ether_set_offload_fixup6(ip6_offload_fixup.index);
    pfil6_set_off(pfil_vnet_off());
    pfil_head_register(PFIL_HEAD_INET6);
    return 0;
  }
  if (what == MOD_QUIESCE) {
    return ip6proto_upper_count() != 0 || pfil_head_hooks(PFIL_HEAD_INET6) != 0 ? EBUSY : 0;
  }
  if (what == MOD_UNLOAD) {
    ether_set_offload_fixup6(0);
    pfil_head_unregister(PFIL_HEAD_INET6); // forced: hooks still on the head go too
    unregisterHooks();
    ip6proto_reset();
    destroyZones();
    vnet_data_free(Inet6Globals.voff, INET6_VNET_SIZE);
    return 0;
  }
  return 0;
}

// ---------------------------------------------------------------------------------------
// Host entry points

const BUF_BYTES: u32 = 8192;
const tbuf = memory.data(<i32>BUF_BYTES, 8);
const abuf = memory.data(32, 8); // the call's addresses, copied out of tbuf before anything writes it

export function inet6_buf(): usize {
  return tbuf;
}

@inline function V_up(v: usize): bool {
  return vnet_valid(v) && changetype<Inet6Vnet>(VV6(v)).up != 0;
}

@inline function ifpOk(ifp: usize): bool {
  return if_valid(ifp) && V_up(changetype<Ifnet>(ifp).if_vnet);
}

@inline function args(): void {
  in6_copy(abuf, tbuf);
  in6_copy(abuf + 16, tbuf + 16);
}

/** ifconfig IF inet6 A/plen (A at buf 0). */
export function inet6_addr_add(ifp: usize, plen: u32): i32 {
  if (!ifpOk(ifp)) return -EINVAL;
  args();
  const old = CURVNET_SET(changetype<Ifnet>(ifp).if_vnet);
  const r = in6_control_add(ifp, abuf, plen, 0);
  CURVNET_RESTORE(old);
  return r;
}

/** ifconfig IF inet6 A -alias (A at buf 0). */
export function inet6_addr_del(ifp: usize): i32 {
  if (!ifpOk(ifp)) return -EINVAL;
  args();
  const old = CURVNET_SET(changetype<Ifnet>(ifp).if_vnet);
  const r = in6_control_del(ifp, abuf);
  CURVNET_RESTORE(old);
  return r;
}

/** ifp's addresses as IA6_REC-byte records; returns how many (-1: bad ifp). */
export function inet6_addr_fill(ifp: usize): i32 {
  if (!ifpOk(ifp)) return -1;
  return <i32>in6_addr_fill(ifp, tbuf, BUF_BYTES / IA6_REC);
}

/** route -6 add dst/plen [gw] [-interface ifp] (dst at buf 0, gw at buf 16; gw unused when hasgw = 0). */
/** route -6 add (destination at abuf, gateway at abuf + 16 when hasgw) [-weight w] (0: the default, 1). */
export function inet6_route_add(v: usize, plen: u32, hasgw: u32, ifp: usize, weight: u32): i32 {
  if (!V_up(v)) return -EINVAL;
  if (ifp != 0 && (!if_valid(ifp) || changetype<Ifnet>(ifp).if_vnet != v)) return -EINVAL;
  args();
  const old = CURVNET_SET(v);
  const r = rt6_add_static(abuf, plen, hasgw != 0 ? abuf + 16 : 0, ifp, weight != 0 ? weight : 1);
  CURVNET_RESTORE(old);
  return r;
}

/** route -6 delete (destination at abuf) [gateway at abuf + 16 when hasgw: that path only]. */
export function inet6_route_del(v: usize, plen: u32, hasgw: u32): i32 {
  if (!V_up(v)) return -EINVAL;
  args();
  const old = CURVNET_SET(v);
  const r = rt6_del(abuf, plen, hasgw != 0 ? abuf + 16 : 0);
  CURVNET_RESTORE(old);
  return r;
}

export function inet6_route_fill(v: usize, skip: u32): i32 {
  if (!V_up(v)) return -1;
  const old = CURVNET_SET(v);
  const n = rt6_fill(tbuf, skip, BUF_BYTES / RT6_REC);
  CURVNET_RESTORE(old);
  return <i32>n;
}

/** route -6 get dst (at buf 0; ifp: zone of a link-scope dst): one record, then the source address at RT6_REC; 0 none, 1 found. */
export function inet6_route_get(v: usize, ifp: usize): i32 {
  if (!V_up(v)) return -1;
  if (ifp != 0 && (!if_valid(ifp) || changetype<Ifnet>(ifp).if_vnet != v)) return -1;
  args();
  const old = CURVNET_SET(v);
  const r = rt6_lookup(abuf, in6_linkscope(abuf) ? ifp : 0);
  let n: i32 = 0;
  if (r != 0) {
    rt6_record(r, tbuf);
    if (!rt6_src(r, abuf, tbuf + RT6_REC)) memory.fill(tbuf + RT6_REC, 0, 16);
    n = 1;
  }
  CURVNET_RESTORE(old);
  return n;
}

export function inet6_nd_fill(v: usize, skip: u32): i32 {
  if (!V_up(v)) return -1;
  const old = CURVNET_SET(v);
  const n = nd6_fill(tbuf, skip, BUF_BYTES / ND6_REC);
  CURVNET_RESTORE(old);
  return <i32>n;
}

/** ndp -d A (at buf 0) on ifp. */
export function inet6_nd_del(ifp: usize): i32 {
  if (!ifpOk(ifp)) return -EINVAL;
  args();
  const old = CURVNET_SET(changetype<Ifnet>(ifp).if_vnet);
  const r = nd6_delete(ifp, abuf);
  CURVNET_RESTORE(old);
  return r;
}

/** ndp -s A MAC (A at buf 0, the MAC's 6 bytes at buf 16) on ifp. */
export function inet6_nd_add(ifp: usize): i32 {
  if (!ifpOk(ifp)) return -EINVAL;
  args();
  const old = CURVNET_SET(changetype<Ifnet>(ifp).if_vnet);
  const r = nd6_add_static(ifp, abuf, abuf + 16);
  CURVNET_RESTORE(old);
  return r;
}

/** ifconfig IF inet6 [-]accept_rtadv (flag 0x2) or [-]no_dad (0x100): FreeBSD's ND6_IFF_* values. */
export function inet6_nd_flag(ifp: usize, flag: u32, on: u32): i32 {
  if (!ifpOk(ifp)) return -EINVAL;
  const old = CURVNET_SET(changetype<Ifnet>(ifp).if_vnet);
  const r = nd6_set_flag(ifp, flag, on != 0);
  CURVNET_RESTORE(old);
  return r;
}

/**
 * Advertise on ifp (rtadvd): npfx prefix records (ND6_ADV_PFX_REC bytes) at buf 0, the
 * intervals and router lifetime in seconds, the MTU option (0: none), the hop limit; on 0 stops.
 */
export function inet6_advertise(ifp: usize, on: u32, npfx: u32, maxint: u32, minint: u32, lifetime: u32, mtu: u32, hlim: u32): i32 {
  if (!ifpOk(ifp) || npfx > ND6_ADV_PREFIX_MAX) return -EINVAL;
  memory.copy(tbuf + 4096, tbuf, npfx * ND6_ADV_PFX_REC); // out of the way of anything the call writes
  const old = CURVNET_SET(changetype<Ifnet>(ifp).if_vnet);
  const r = nd6_set_advertise(ifp, on != 0, tbuf + 4096, npfx, maxint, minint, lifetime, mtu, hlim);
  CURVNET_RESTORE(old);
  return r;
}

/** ifp's router-discovery state (16 bytes at buf 0: flags, link MTU, RSs sent, RAs sent); 0 none, 1 written. */
export function inet6_nd_ifinfo(ifp: usize): i32 {
  if (!ifpOk(ifp)) return -1;
  const old = CURVNET_SET(changetype<Ifnet>(ifp).if_vnet);
  const r = nd6_ifinfo_record(ifp, tbuf) ? 1 : 0;
  CURVNET_RESTORE(old);
  return r;
}

/** ndp -r (what 0) or ndp -p (what 1): records at buf 0; how many (-1: bad vnet). */
export function inet6_rtr_fill(v: usize, what: u32): i32 {
  if (!V_up(v)) return -1;
  const old = CURVNET_SET(v);
  const n = what == 0 ? nd6_dr_fill(tbuf, BUF_BYTES / DR_REC) : nd6_pr_fill(tbuf, BUF_BYTES / PR_REC);
  CURVNET_RESTORE(old);
  return <i32>n;
}

/** ifmcstat: ifp's MLD groups as INM_REC-byte records at buf 0 (mld6.ts); how many (-1: bad ifp). */
export function inet6_mld_fill(ifp: usize): i32 {
  if (!ifpOk(ifp)) return -1;
  const old = CURVNET_SET(changetype<Ifnet>(ifp).if_vnet);
  const n = mld_fill(ifp, tbuf, BUF_BYTES / INM_REC);
  CURVNET_RESTORE(old);
  return <i32>n;
}

/** Counter i of group (0 ip6stat, 1 icmp6stat, 2 nd6, 3 mld); -1 when out of range. */
export function inet6_stat(v: usize, group: u32, i: u32): f64 {
  if (!V_up(v)) return -1;
  let off: u32;
  let n: u32;
  if (group == 0) {
    off = IP6STAT_OFF;
    n = IP6S_COUNT;
  } else if (group == 1) {
    off = ICMP6STAT_OFF;
    n = ICP6S_COUNT;
  } else if (group == 2) {
    off = ND6STAT_OFF;
    n = ND6S_COUNT;
  } else if (group == 3) {
    off = MLDSTAT_OFF;
    n = MLDS_COUNT;
  } else return -1;
  if (i >= n) return -1;
  return <f64>load<u64>(VV6(v) + off + (<usize>i << 3));
}

const K_FORWARDING: u32 = 0; // net.inet6.ip6.forwarding (get/set)
const K_ERRPPSLIMIT: u32 = 1; // net.inet6.icmp6.errppslimit (get/set)
const K_FRAGQ: u32 = 2; // datagrams being reassembled
const K_ND: u32 = 3; // neighbour cache entries
const K_ROUTES: u32 = 4;
const K_ADDRS: u32 = 5;
const K_PINGDROPS: u32 = 6;
const K_GC_THRESH1: u32 = 7; // net.inet6.icmp6.nd6_gc_thresh1..3 (get/set; sys/llatbl.ts)
const K_GC_THRESH3: u32 = 9;
const K_MAXFRAGS: u32 = 10; // net.inet6.ip6.maxfrags (get/set; frag6.ts)
const K_MAXFRAGPACKETS: u32 = 11; // net.inet6.ip6.maxfragpackets
const K_MAXFRAGBUCKETSIZE: u32 = 12; // net.inet6.ip6.maxfragbucketsize
const K_MAXFRAGSPERPACKET: u32 = 13; // net.inet6.ip6.maxfragsperpacket
const K_V6ONLY: u32 = 15; // net.inet6.ip6.v6only (get/set; read by udp and tcp at socket())
const K_FRAG6_NFRAGS: u32 = 14; // fragments held (read only; FreeBSD's frag6_nfrags, per vnet here)
const K_ACCEPT_RTADV: u32 = 16; // net.inet6.ip6.accept_rtadv (get/set): the default for interfaces (nd6_rtr.ts)
const K_DEFROUTERS: u32 = 17; // default routers listed (read only)
const K_PREFIXES: u32 = 18; // prefixes listed (read only)

/** Reassembly knobs at their defaults (ip6_var.ts says why these). */
function frag6_defaults(vv: Inet6Vnet): void {
  vv.maxfrags = IP6_MAXFRAGS;
  vv.maxfragpackets = IP6_MAXFRAGPACKETS;
  vv.maxfragbucketsize = IP6_MAXFRAGPACKETS;
  vv.maxfragsperpacket = IP6_MAXFRAGSPERPACKET;
}

export function inet6_get(v: usize, what: u32): f64 {
  if (!V_up(v)) return -1;
  const vv = changetype<Inet6Vnet>(VV6(v));
  switch (what) {
    case K_FORWARDING: return <f64>vv.forwarding;
    case K_ERRPPSLIMIT: return <f64>vv.errppslimit;
    case K_FRAGQ: return <f64>vv.q_count;
    case K_MAXFRAGS: return <f64>vv.maxfrags;
    case K_MAXFRAGPACKETS: return <f64>vv.maxfragpackets;
    case K_MAXFRAGBUCKETSIZE: return <f64>vv.maxfragbucketsize;
    case K_MAXFRAGSPERPACKET: return <f64>vv.maxfragsperpacket;
    case K_FRAG6_NFRAGS: return <f64>vv.q_nfrags;
    case K_V6ONLY: return <f64>vv.v6only;
    case K_ACCEPT_RTADV: return <f64>vv.accept_rtadv;
    case K_DEFROUTERS: return <f64>vv.dr_count;
    case K_PREFIXES: return <f64>vv.pr_count;
    case K_ND: return <f64>changetype<Llt>(VV6(v) + NDLLT_OFF).count;
    case K_ROUTES: return <f64>vv.rt_count;
    case K_ADDRS: return <f64>vv.ia_count;
    case K_GC_THRESH1:
    case K_GC_THRESH1 + 1:
    case K_GC_THRESH3: return <f64>load<u32>(VV6(v) + NDLLT_OFF + offsetof<Llt>("thresh1") + ((what - K_GC_THRESH1) << 2));
    case K_PINGDROPS: {
      const old = CURVNET_SET(v);
      const n = ping6_log_dropped();
      CURVNET_RESTORE(old);
      return <f64>n;
    }
  }
  return -1;
}

export function inet6_set(v: usize, what: u32, value: u32): i32 {
  if (!V_up(v)) return -EINVAL;
  const vv = changetype<Inet6Vnet>(VV6(v));
  if (what == K_FORWARDING) {
    if (value > 1) return -EINVAL;
    vv.forwarding = value;
    return 0;
  }
  if (what == K_V6ONLY) {
    if (value > 1) return -EINVAL;
    vv.v6only = value; // sockets already open keep theirs
    return 0;
  }
  if (what == K_ACCEPT_RTADV) {
    if (value > 1) return -EINVAL;
    vv.accept_rtadv = value; // FreeBSD's rule: interfaces that get their state from now on start with it
    return 0;
  }
  if (what == K_ERRPPSLIMIT) {
    if (value > 1_000_000) return -EINVAL;
    vv.errppslimit = value;
    return 0;
  }
  if (what >= K_MAXFRAGS && what <= K_MAXFRAGSPERPACKET) {
    // FreeBSD's ints: -1 (0xffffffff here) is no limit, 0 accepts no fragment. Lowering a
    // limit frees nothing at once: what is held completes or times out.
    const n = <i32>value;
    if (n < -1 || (what == K_MAXFRAGPACKETS && n > <i32>IP6_MAXFRAGQ_ZONE) || (what == K_MAXFRAGBUCKETSIZE && n > <i32>IP6_MAXFRAGQ_ZONE)) return -EINVAL;
    if (what == K_MAXFRAGS) vv.maxfrags = n;
    else if (what == K_MAXFRAGPACKETS) {
      const old = CURVNET_SET(v);
      frag6_set_maxfragpackets(n);
      CURVNET_RESTORE(old);
    } else if (what == K_MAXFRAGBUCKETSIZE) vv.maxfragbucketsize = n;
    else vv.maxfragsperpacket = n;
    return 0;
  }
  if (what >= K_GC_THRESH1 && what <= K_GC_THRESH3) {
    // As net.link.ether.inet.gc_thresh*: any order works; bounded by the nd6_entry zone's
    // per-vnet limit; lowering one evicts nothing at once.
    if (value > LLT_THRESH_MAX || (what == K_GC_THRESH3 && value == 0)) return -EINVAL;
    store<u32>(VV6(v) + NDLLT_OFF + offsetof<Llt>("thresh1") + ((what - K_GC_THRESH1) << 2), value);
    return 0;
  }
  return -EINVAL;
}

/** Send an ICMPv6 echo request from vnet v to the address at buf 0 (ifp: its zone if link-scope). */
export function inet6_ping_send(v: usize, ifp: usize, id: u32, seq: u32, size: u32, hlim: u32, df: u32): i32 {
  if (!V_up(v) || id > 0xffff || seq > 0xffff || hlim == 0 || hlim > 255) return -EINVAL;
  if (ifp != 0 && (!if_valid(ifp) || changetype<Ifnet>(ifp).if_vnet != v)) return -EINVAL;
  args();
  const old = CURVNET_SET(v);
  const r = ping6_send(abuf, ifp, id, seq, size, hlim, df != 0);
  CURVNET_RESTORE(old);
  return r;
}

/** Move vnet v's ping6 log into the buffer (LOG6_REC-byte records); how many (-1: bad vnet). */
export function inet6_ping_read(v: usize): i32 {
  if (!V_up(v)) return -1;
  const old = CURVNET_SET(v);
  const n = ping6_log_read(tbuf);
  CURVNET_RESTORE(old);
  return <i32>n;
}

if (LOG6_CAP * LOG6_REC > BUF_BYTES || INET6_VNET_SIZE > 2048) ERROR("inet6 buffer or VNET block size");

export { IN6_IS_ADDR_LINKLOCAL, IN6_IS_ADDR_MULTICAST, rt6_dst };
