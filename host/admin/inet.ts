// IPv4 from the host: addresses (ifconfig inet), routes (route add/delete, netstat -rn),
// the forwarding knob, the ARP table (arp -an), and the netstat -s counters of ip, icmp and
// arp. Typed functions over the inet module's exports (assembly/netinet/inet.ts); every
// argument is checked here first (ConfigError naming the bad field and value), and kernel
// errnos become KernelErrors that say which call failed and why. addAddress, delAddress,
// addRoute and delRoute also take IPv6 text (a colon) and hand it to host/inet6.ts.

import { checkVnet, checkKernel, type Kernel, type Vnet } from "../kern/kernel.js";
import { ConfigError, KernelError, ModuleNotLoadedError, errnoName } from "../lib/errors.js";
import { parseIPv4, formatIPv4, parsePrefix, mask4 as maskOf, isIPv6Text } from "../lib/addr.js";
import { Interface, checkInterface, formatMac, parseMac } from "./ifnet.js";
import { formatTable, show } from "../lib/format.js";
import { netstatUdp } from "./udp.js";
import { addAddress6, delAddress6, addRoute6, delRoute6 } from "./inet6.js";

/** The inet module's host exports. */
export interface InetExports {
  inet_buf(): number;
  inet_addr_add(ifp: number, addr: number, plen: number, bcast: number): number;
  inet_addr_del(ifp: number, addr: number): number;
  inet_addr_fill(ifp: number): number;
  inet_route_add(v: number, dst: number, plen: number, gw: number, ifp: number, weight: number): number;
  inet_route_add_many(v: number, n: number): number;
  inet_route_add_blackhole(v: number, dst: number, plen: number): number;
  inet_route_del(v: number, dst: number, plen: number, gw: number): number;
  inet_route_fill(v: number, skip: number): number;
  inet_route_get(v: number, dst: number): number;
  inet_arp_fill(v: number, skip: number): number;
  inet_arp_del(ifp: number, addr: number): number;
  inet_arp_set(ifp: number, addr: number): number;
  inet_stat(v: number, group: number, i: number): number;
  inet_get(v: number, what: number): number;
  inet_set(v: number, what: number, value: number): number;
  inet_ping_send(v: number, dst: number, id: number, seq: number, size: number, ttl: number, df: number): number;
  inet_ping_read(v: number): number;
}

/** The errno's name (lib/errors.ts errnoName; kept under this name for ping and inet6). */
export const inetErrnoName = errnoName;

function fail(what: string, r: number, why?: string): never {
  throw new KernelError(`${what}: ${why ?? errnoName(r)}`, r);
}

/** The inet exports; ModuleNotLoadedError when inet is not loaded. */
export function inet(kernel: Kernel, what: string): InetExports {
  checkKernel(kernel, what);
  if (!kernel.linker.isLoaded("inet")) throw new ModuleNotLoadedError(`${what}: the inet module is not loaded (kldload("inet"), or boot the GENERIC configuration)`);
  return kernel.module<InetExports>("inet");
}

// ---------------------------------------------------------------------------------------
// Addresses as text: lib/addr.ts (re-exported here, where callers and tests found them).

export { parseIPv4, formatIPv4, parsePrefix, mask4 as maskOf } from "../lib/addr.js";



function isMartianHost(a: number): string | undefined {
  if (a === 0) return "the unspecified address";
  if (a === 0xffffffff) return "the limited broadcast address";
  if (a >>> 28 === 0xe) return "a multicast address";
  if (a >>> 28 === 0xf) return "a class E address";
  if (a >>> 24 === 0) return "in 0.0.0.0/8";
  return undefined;
}

// ---------------------------------------------------------------------------------------
// ifconfig IF inet

export interface InetAddress {
  /** "10.0.0.1" */
  address: string;
  prefixLength: number;
  /** "10.0.0.255"; absent on interfaces without broadcast (lo0) and /31, /32. */
  broadcast?: string;
  /** "10.0.0.1/24" */
  cidr: string;
}

/** ifconfig IF inet 10.0.0.1/24 [broadcast B] alias: add an address (and its connected route). */
export function addAddress(kernel: Kernel, iface: Interface, cidr: string, opts: { broadcast?: string } = {}): void {
  if (isIPv6Text(cidr)) return addAddress6(kernel, iface, cidr);
  const what = `ifconfig ${iface?.alive ? iface.name : "?"} inet ${cidr}`;
  const x = inet(kernel, what);
  checkInterface(kernel, iface, what);
  const [addr, plen] = parsePrefix(cidr, `${what}: address`, false);
  const bad = isMartianHost(addr);
  if (bad) throw new ConfigError(`${what}: ${formatIPv4(addr)} is ${bad}, not an interface address`);
  if (plen < 31 && plen > 0) {
    const host = addr & ~maskOf(plen);
    if (host === 0) throw new ConfigError(`${what}: ${formatIPv4(addr)} is the network address of /${plen}`);
    if ((host >>> 0) === (~maskOf(plen) >>> 0)) throw new ConfigError(`${what}: ${formatIPv4(addr)} is the broadcast address of /${plen}`);
  }
  if (plen === 0) throw new ConfigError(`${what}: prefix length 0 is not an interface prefix`);
  const b = opts.broadcast !== undefined ? parseIPv4(opts.broadcast, `${what}: broadcast`) : 0;
  const r = kernel.enter(() => x.inet_addr_add(iface.ptr, addr, plen, b));
  if (r === -17) fail(what, r, `${formatIPv4(addr)} is already an address of vnet "${iface.vnet.name}"`);
  if (r !== 0) fail(what, r);
}

/** ifconfig IF inet 10.0.0.1 -alias: delete an address (and every route that depends on it). */
export function delAddress(kernel: Kernel, iface: Interface, address: string): void {
  if (isIPv6Text(address)) return delAddress6(kernel, iface, address);
  const what = `ifconfig ${iface?.alive ? iface.name : "?"} inet ${address} -alias`;
  const x = inet(kernel, what);
  checkInterface(kernel, iface, what);
  const a = parseIPv4(address.replace(/\/\d+$/, ""), `${what}: address`);
  const r = kernel.enter(() => x.inet_addr_del(iface.ptr, a));
  if (r === -2) fail(what, r, `${iface.name} has no address ${formatIPv4(a)}`);
  if (r !== 0) fail(what, r);
}

/** The IPv4 addresses of an interface, primary first. */
export function addresses(kernel: Kernel, iface: Interface): InetAddress[] {
  const x = inet(kernel, "addresses");
  checkInterface(kernel, iface, "addresses");
  const n = x.inet_addr_fill(iface.ptr);
  if (n < 0) fail(`addresses of ${iface.name}`, -22);
  const dv = kernel.dv();
  const buf = x.inet_buf();
  const out: InetAddress[] = [];
  for (let i = 0; i < n; i++) {
    const o = buf + i * 16;
    const a = dv.getUint32(o, true);
    const plen = dv.getUint32(o + 4, true);
    const bc = dv.getUint32(o + 8, true);
    const e: InetAddress = { address: formatIPv4(a), prefixLength: plen, cidr: `${formatIPv4(a)}/${plen}` };
    if (bc !== 0) e.broadcast = formatIPv4(bc);
    out.push(e);
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Routes

/**
 * Where a route goes. A second gateway route to a prefix that has one adds another path
 * (net.route.multipath, docs/route.md "Several paths"); weight (1 to 16777215, default 1)
 * is the path's share of the prefix's flows.
 */
export type RouteVia = { gateway: string; iface?: Interface; weight?: number } | { iface: Interface; gateway?: undefined; weight?: number };

export interface RouteEntry {
  /** "10.1.0.0/16", "default", or a host "10.0.0.5". */
  destination: string;
  prefixLength: number;
  /** The next hop for gateway routes. */
  gateway?: string;
  /** netstat flags: U up, G gateway, H host, D dynamic (an ICMP redirect made it), S static, B blackhole. */
  flags: string;
  iface: Interface;
  /** The address packets through this route leave from. */
  source?: string;
  /** Packets sent through the route. */
  use: number;
  /** Connected route of an address (goes with it). */
  connected: boolean;
}

function flagText(f: number): string {
  return (f & 1 ? "U" : "") + (f & 2 ? "G" : "") + (f & 4 ? "H" : "") + (f & 0x10 ? "D" : "") + (f & 0x800 ? "S" : "") + (f & 0x1000 ? "B" : "");
}

/** route add DST/PLEN GATEWAY, or route add DST/PLEN -interface IF ("default" for 0.0.0.0/0). */
export function addRoute(kernel: Kernel, vnet: Vnet, destination: string, via: RouteVia): void {
  if (isIPv6Text(destination) || isIPv6Text(via?.gateway ?? "")) return addRoute6(kernel, vnet, destination, via);
  const what = `route add ${destination}`;
  const x = inet(kernel, what);
  checkVnet(kernel, vnet, what);
  const [dst, plen, gw, ifp] = routeArgs(kernel, vnet, destination, via, what);
  const weight = routeWeight(via, what);
  const r = kernel.enter(() => x.inet_route_add(vnet.ptr, dst, plen, gw, ifp, weight));
  if (r !== 0) routeRefused(vnet, destination, via, r);
}

/** A route's weight (RouteVia.weight): 1 to 16777215 (FreeBSD's RT_MAX_WEIGHT), 1 when not given. */
export function routeWeight(via: RouteVia, what: string): number {
  const w = via?.weight;
  if (w === undefined) return 1;
  if (typeof w !== "number" || !Number.isInteger(w) || w < 1 || w > 0xffffff) throw new ConfigError(`${what}: weight must be an integer from 1 to 16777215, got ${show(w)}`);
  return w;
}

/**
 * route add DESTINATION -blackhole: packets to it are discarded, with no ICMP error; those
 * forwarded are counted as not forwardable (ipstat cantforward). The route leaves by lo0.
 */
export function addBlackholeRoute(kernel: Kernel, vnet: Vnet, destination: string): void {
  const what = `route add ${destination} -blackhole`;
  const x = inet(kernel, what);
  checkVnet(kernel, vnet, what);
  const [dst, plen] = parsePrefix(destination, `${what}: destination`);
  if ((dst & ~maskOf(plen)) >>> 0 !== 0) throw new ConfigError(`${what}: destination has host bits set beyond /${plen}`);
  const r = kernel.enter(() => x.inet_route_add_blackhole(vnet.ptr, dst, plen));
  if (r === -17) fail(what, r, `vnet "${vnet.name}" already has a route to ${destination}`);
  if (r !== 0) fail(what, r);
}

/** One route of addRoutes: addRoute's destination and via. */
export interface RouteAdd {
  to: string;
  via: RouteVia;
}

/** Records one inet_route_add_many call takes (the inet module's 8 KiB buffer / 16 bytes). */
const ROUTES_PER_CALL = 512;

/**
 * addRoute for many routes of one vnet, in order, each checked as addRoute checks it, the
 * IPv4 ones handed to the kernel 512 to a crossing (inet_route_add_many) instead of one
 * crossing each: a 100-router grid's 17,640 routes cost ~350 ms one by one in a cold
 * worker. Stops at the first route refused: those before it stay added, and the error is
 * addRoute's for that route, given to `refused` with its index when given (which throws;
 * the topology puts its line on it), else thrown.
 */
export function addRoutes(kernel: Kernel, vnet: Vnet, routes: readonly RouteAdd[], refused?: (index: number, e: unknown) => never): void {
  const x = inet(kernel, "route add");
  checkVnet(kernel, vnet, "route add");
  const fail = (i: number, e: unknown): never => {
    if (refused) refused(i, e);
    throw e;
  };
  const buf = x.inet_buf();
  let first = 0; // index of the first route in the buffer
  let n = 0;
  const flush = () => {
    if (n === 0) return;
    const added = kernel.enter(() => x.inet_route_add_many(vnet.ptr, n));
    if (added < 0) fail(first, new KernelError(`route add ${routes[first]!.to}`, added));
    if (added < n) {
      const r = routes[first + added]!;
      try {
        routeRefused(vnet, r.to, r.via, kernel.dv().getInt32(buf, true));
      } catch (e) {
        fail(first + added, e);
      }
    }
    n = 0;
  };
  for (let i = 0; i < routes.length; i++) {
    const { to, via } = routes[i]!;
    if (isIPv6Text(to) || isIPv6Text(via?.gateway ?? "")) {
      flush();
      try {
        addRoute6(kernel, vnet, to, via);
      } catch (e) {
        fail(i, e);
      }
      continue;
    }
    let args: [number, number, number, number];
    try {
      args = routeArgs(kernel, vnet, to, via, `route add ${to}`);
      if (routeWeight(via, `route add ${to}`) !== 1) {
        // The batch's records have no weight: this one goes alone.
        flush();
        addRoute(kernel, vnet, to, via);
        continue;
      }
    } catch (e) {
      flush(); // the routes before it are added, as one by one
      fail(i, e);
    }
    if (n === 0) first = i;
    const dv = kernel.dv(); // after any call that may have grown memory
    const o = buf + n * 16;
    dv.setUint32(o, args![0], true);
    dv.setUint32(o + 4, args![1], true);
    dv.setUint32(o + 8, args![2], true);
    dv.setUint32(o + 12, args![3], true);
    if (++n === ROUTES_PER_CALL) flush();
  }
  flush();
}

/** An IPv4 route's kernel arguments [dst, plen, gateway, ifp], or the ConfigError addRoute throws. */
function routeArgs(kernel: Kernel, vnet: Vnet, destination: string, via: RouteVia, what: string): [number, number, number, number] {
  const [dst, plen] = parsePrefix(destination, `${what}: destination`);
  if ((dst & ~maskOf(plen)) >>> 0 !== 0) {
    throw new ConfigError(`${what}: destination has host bits set beyond /${plen} (did you mean ${formatIPv4((dst & maskOf(plen)) >>> 0)}/${plen}?)`);
  }
  if (!via || typeof via !== "object" || (via.gateway === undefined && via.iface === undefined)) {
    throw new ConfigError(`${what}: give { gateway: "a.b.c.d" } or { iface: Interface }`);
  }
  let gw = 0;
  if (via.gateway !== undefined) {
    gw = parseIPv4(via.gateway, `${what}: gateway`);
    const bad = isMartianHost(gw);
    if (bad) throw new ConfigError(`${what}: gateway ${via.gateway} is ${bad}`);
  }
  let ifp = 0;
  if (via.iface !== undefined) {
    checkInterface(kernel, via.iface, `${what}: iface`);
    if (via.iface.vnet !== vnet) throw new ConfigError(`${what}: iface ${via.iface.name} is in vnet "${via.iface.vnet.name}", not "${vnet.name}"`);
    ifp = via.iface.ptr;
  }
  return [dst, plen, gw, ifp];
}

/** The kernel refused an IPv4 route (r, a negative errno): the KernelError addRoute throws. */
function routeRefused(vnet: Vnet, destination: string, via: RouteVia, r: number): never {
  const what = `route add ${destination}`;
  if (r === -17) fail(what, r, `vnet "${vnet.name}" already has a route to ${destination}${via.gateway !== undefined ? " (another path is only added via a new gateway, when both are gateway routes and net.route.multipath is 1)" : ""}`);
  if (r === -28) fail(what, r, `${destination} already has 32 paths (ENOSPC)`);
  if (r === -51) fail(what, r, via.gateway !== undefined ? `gateway ${via.gateway} is not on a connected network${via.iface ? ` of ${via.iface.name}` : ""} (ENETUNREACH)` : `${via.iface!.name} has no IPv4 address to send from (ENETUNREACH)`);
  fail(what, r);
}

/**
 * route delete DST/PLEN [GATEWAY]. Connected routes go with their address (EPERM here). With
 * a gateway only the path via it goes; a prefix with several paths needs one (ESRCH without,
 * as FreeBSD).
 */
export function delRoute(kernel: Kernel, vnet: Vnet, destination: string, gateway?: string): void {
  if (isIPv6Text(destination) || isIPv6Text(gateway ?? "")) return delRoute6(kernel, vnet, destination, gateway);
  const what = `route delete ${destination}${gateway !== undefined ? ` ${gateway}` : ""}`;
  const x = inet(kernel, what);
  checkVnet(kernel, vnet, what);
  const [dst, plen] = parsePrefix(destination, `${what}: destination`);
  const gw = gateway !== undefined ? parseIPv4(gateway, `${what}: gateway`) : 0;
  const r = kernel.enter(() => x.inet_route_del(vnet.ptr, (dst & maskOf(plen)) >>> 0, plen, gw));
  if (r === -2) fail(what, r, `vnet "${vnet.name}" has no route to ${destination}`);
  if (r === -3) fail(what, r, gateway === undefined ? `${destination} has several paths; name the gateway of the one to delete (ESRCH)` : `${destination} has no path via ${gateway} (ESRCH)`);
  if (r === -1) fail(what, r, `${destination} is the connected route of an address; delete the address instead (EPERM)`);
  if (r !== 0) fail(what, r);
}

function readRoute(kernel: Kernel, o: number): RouteEntry {
  const dv = kernel.dv();
  const dst = dv.getUint32(o, true);
  const plen = dv.getUint32(o + 4, true);
  const gw = dv.getUint32(o + 8, true);
  const flags = dv.getUint32(o + 12, true);
  const ifp = dv.getUint32(o + 16, true);
  const src = dv.getUint32(o + 20, true);
  const e: RouteEntry = {
    destination: plen === 0 ? "default" : plen === 32 ? formatIPv4(dst) : `${formatIPv4(dst)}/${plen}`,
    prefixLength: plen,
    flags: flagText(flags),
    iface: new Interface(kernel, ifp),
    use: dv.getFloat64(o + 24, true),
    connected: (flags & 0x100000) !== 0,
  };
  if (gw !== 0) e.gateway = formatIPv4(gw);
  if (src !== 0) e.source = formatIPv4(src);
  return e;
}

/** The vnet's IPv4 routes, longest prefix first. */
export function routes(kernel: Kernel, vnet: Vnet): RouteEntry[] {
  const x = inet(kernel, "routes");
  checkVnet(kernel, vnet, "routes");
  const out: RouteEntry[] = [];
  for (;;) {
    const n = x.inet_route_fill(vnet.ptr, out.length);
    if (n < 0) fail(`routes of vnet "${vnet.name}"`, -22);
    const buf = x.inet_buf();
    for (let i = 0; i < n; i++) out.push(readRoute(kernel, buf + i * 32));
    if (n < 256) return out;
  }
}

/**
 * sysctl net.route.multipath of a vnet (FreeBSD's knob, 1 by default): while 1, a second
 * gateway route to a prefix becomes another path of it (IPv4 and IPv6); 0 refuses it with
 * EEXIST. Paths already there stay. Sets it when `on` is given; returns it.
 */
export function routeMultipath(kernel: Kernel, vnet: Vnet, on?: boolean): boolean {
  const what = "sysctl net.route.multipath";
  checkVnet(kernel, vnet, what);
  if (on !== undefined && typeof on !== "boolean") throw new ConfigError(`${what}: expected true or false, got ${show(on)}`);
  const r = kernel.enter(() => kernel.k.net_route_multipath(vnet.ptr, on === undefined ? -1 : on ? 1 : 0));
  if (r < 0) fail(what, r);
  return r === 1;
}

/** route get DST: the route a packet to dst takes, or undefined. */
export function routeGet(kernel: Kernel, vnet: Vnet, dst: string): RouteEntry | undefined {
  const x = inet(kernel, "route get");
  checkVnet(kernel, vnet, "route get");
  const a = parseIPv4(dst, `route get ${dst}`);
  return x.inet_route_get(vnet.ptr, a) === 1 ? readRoute(kernel, x.inet_buf()) : undefined;
}

/** netstat -rn -f inet, FreeBSD's layout. */
export function netstatRn(kernel: Kernel, vnet: Vnet): string {
  const rows = routes(kernel, vnet).map((r) => [r.destination, r.gateway ?? `link#${r.iface.index}`, r.flags, r.iface.name, r.use]);
  return `Routing tables\n\nInternet:\n${formatTable(["Destination", "Gateway", "Flags", "Netif", "Use"], rows)}`;
}

// ---------------------------------------------------------------------------------------
// Knobs

/** inet_get / inet_set selectors, named as assembly/netinet/inet.ts names them (K_*). */
const K = { FORWARDING: 0, ICMPLIM: 1, IPQ: 2, LLE: 3, ROUTES: 4, ADDRS: 5, PINGDROPS: 6, TSTAMPREPL: 7, GC_THRESH1: 8, GC_THRESH3: 10,
  MAXFRAGPACKETS: 11, MAXFRAGBUCKETSIZE: 12, MAXFRAGSPERPACKET: 13, GARP_REXMIT: 14 } as const;

/** sysctl net.inet.ip.forwarding=0|1 for a vnet (routers turn it on). */
export function setForwarding(kernel: Kernel, vnet: Vnet, on: boolean): void {
  const x = inet(kernel, "net.inet.ip.forwarding");
  checkVnet(kernel, vnet, "net.inet.ip.forwarding");
  if (typeof on !== "boolean") throw new ConfigError(`net.inet.ip.forwarding: expected true or false, got ${String(on)}`);
  const r = x.inet_set(vnet.ptr, K.FORWARDING, on ? 1 : 0);
  if (r !== 0) fail("net.inet.ip.forwarding", r);
}

export function forwarding(kernel: Kernel, vnet: Vnet): boolean {
  checkVnet(kernel, vnet, "net.inet.ip.forwarding");
  return inet(kernel, "net.inet.ip.forwarding").inet_get(vnet.ptr, K.FORWARDING) === 1;
}

/** sysctl net.inet.icmp.icmplim: ICMP errors per second a vnet may send (0 = no limit). */
export function setIcmpLimit(kernel: Kernel, vnet: Vnet, perSecond: number): void {
  checkVnet(kernel, vnet, "net.inet.icmp.icmplim");
  if (!Number.isInteger(perSecond) || perSecond < 0 || perSecond > 1_000_000) throw new ConfigError(`net.inet.icmp.icmplim: must be an integer 0-1000000, got ${perSecond}`);
  const r = inet(kernel, "net.inet.icmp.icmplim").inet_set(vnet.ptr, K.ICMPLIM, perSecond);
  if (r !== 0) fail("net.inet.icmp.icmplim", r);
}

export function icmpLimit(kernel: Kernel, vnet: Vnet): number {
  checkVnet(kernel, vnet, "net.inet.icmp.icmplim");
  return inet(kernel, "net.inet.icmp.icmplim").inet_get(vnet.ptr, K.ICMPLIM);
}

/** sysctl net.inet.icmp.tstamprepl: answer ICMP timestamp requests (RFC 792; on by default, as FreeBSD). */
export function setIcmpTstampRepl(kernel: Kernel, vnet: Vnet, on: boolean): void {
  checkVnet(kernel, vnet, "net.inet.icmp.tstamprepl");
  if (typeof on !== "boolean") throw new ConfigError(`net.inet.icmp.tstamprepl: expected true or false, got ${String(on)}`);
  const r = inet(kernel, "net.inet.icmp.tstamprepl").inet_set(vnet.ptr, K.TSTAMPREPL, on ? 1 : 0);
  if (r !== 0) fail("net.inet.icmp.tstamprepl", r);
}

export function icmpTstampRepl(kernel: Kernel, vnet: Vnet): boolean {
  checkVnet(kernel, vnet, "net.inet.icmp.tstamprepl");
  return inet(kernel, "net.inet.icmp.tstamprepl").inet_get(vnet.ptr, K.TSTAMPREPL) === 1;
}

/**
 * sysctl net.link.ether.inet.garp_rexmit_count (0 to 16, default 0): a new address's
 * gratuitous ARP is sent again this many times, after 1 s, 2 s, 4 s ... (FreeBSD's).
 * Omit `count` to read it.
 */
export function garpRexmitCount(kernel: Kernel, vnet: Vnet, count?: number): number {
  const what = "net.link.ether.inet.garp_rexmit_count";
  checkVnet(kernel, vnet, what);
  const x = inet(kernel, what);
  if (count !== undefined) {
    if (!Number.isInteger(count) || count < 0 || count > 16) throw new ConfigError(`${what}: must be an integer from 0 to 16, got ${String(count)}`);
    const r = x.inet_set(vnet.ptr, K.GARP_REXMIT, count);
    if (r !== 0) fail(what, r);
  }
  return x.inet_get(vnet.ptr, K.GARP_REXMIT);
}

/** Reassembly knobs of a vnet by FreeBSD's net.inet.ip.* names, and their selectors. */
const REASS_KNOBS = { maxfragpackets: K.MAXFRAGPACKETS, maxfragbucketsize: K.MAXFRAGBUCKETSIZE, maxfragsperpacket: K.MAXFRAGSPERPACKET } as const;
export type IpReassKnob = keyof typeof REASS_KNOBS;

/**
 * sysctl net.inet.ip.<knob> of a vnet: `maxfragpackets` (default 512, at most 1,024)
 * datagrams being reassembled (setting it sets `maxfragbucketsize` too: a vnet keeps one
 * list, one bucket; when full the oldest datagram makes room), `maxfragsperpacket` (64)
 * fragments per datagram; -1 means no limit, 0 accepts no fragment. Returns the value
 * (after setting it, when one is given).
 */
export function ipReassKnob(kernel: Kernel, vnet: Vnet, knob: IpReassKnob, value?: number): number {
  const name = `net.inet.ip.${String(knob)}`;
  if (typeof knob !== "string" || !Object.hasOwn(REASS_KNOBS, knob)) throw new ConfigError(`sysctl: unknown knob ${name} (known: ${Object.keys(REASS_KNOBS).map((k) => `net.inet.ip.${k}`).join(", ")})`);
  checkVnet(kernel, vnet, name);
  const x = inet(kernel, name);
  const id = REASS_KNOBS[knob];
  if (value !== undefined) {
    const max = knob === "maxfragsperpacket" ? 0x7fffffff : 1024;
    if (!Number.isInteger(value) || value < -1 || value > max) throw new ConfigError(`sysctl ${name}: must be an integer from -1 (no limit) to ${max}, got ${value}`);
    const r = x.inet_set(vnet.ptr, id, value);
    if (r !== 0) fail(`${name}=${value}`, r);
  }
  return x.inet_get(vnet.ptr, id);
}

/** Neighbour cache bounds (Linux's gc_thresh1/2/3; assembly/sys/llatbl.ts says what each does). */
export interface GcThresh { thresh1: number; thresh2: number; thresh3: number }

/** Read a vnet's gc_thresh1/2/3 (knob ids k..k+2), or set those given (1 <= thresh3, thresh1 <= thresh2 <= thresh3 <= 16384). */
export function gcThresh(name: string, get: (i: number) => number, put: (i: number, v: number) => number, set: Partial<GcThresh>): GcThresh {
  const cur = { thresh1: get(0), thresh2: get(1), thresh3: get(2) };
  const want = { ...cur, ...set };
  for (const [k, v] of Object.entries(set)) {
    if (!(k in cur)) throw new ConfigError(`${name}: unknown threshold ${JSON.stringify(k)} (thresh1, thresh2, thresh3)`);
    if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > 16384) throw new ConfigError(`${name}.${k}: must be an integer 0-16384, got ${v}`);
  }
  if (want.thresh3 < 1 || want.thresh1 > want.thresh2 || want.thresh2 > want.thresh3) {
    throw new ConfigError(`${name}: want 1 <= thresh3 and thresh1 <= thresh2 <= thresh3, got ${want.thresh1}/${want.thresh2}/${want.thresh3}`);
  }
  // Raise the hard bound first, lower it last: the kernel copes with any order; this keeps the steps sane.
  for (const i of want.thresh3 >= cur.thresh3 ? [2, 1, 0] : [0, 1, 2]) {
    const v = [want.thresh1, want.thresh2, want.thresh3][i];
    const r = put(i, v);
    if (r !== 0) fail(`${name}${i + 1}=${v}`, r);
  }
  return want;
}

/** sysctl net.link.ether.inet.gc_thresh1/2/3: the ARP cache's bounds for a vnet (read, or set those given). */
export function arpGcThresh(kernel: Kernel, vnet: Vnet, set: Partial<GcThresh> = {}): GcThresh {
  const name = "net.link.ether.inet.gc_thresh";
  checkVnet(kernel, vnet, name);
  const x = inet(kernel, name);
  return gcThresh(name, (i) => x.inet_get(vnet.ptr, K.GC_THRESH1 + i), (i, v) => x.inet_set(vnet.ptr, K.GC_THRESH1 + i, v), set);
}

/** Gauges: datagrams being reassembled, ARP entries, routes, addresses. */
export function inetGauges(kernel: Kernel, vnet: Vnet): { reassembling: number; arpEntries: number; routes: number; addresses: number; pingLogDrops: number } {
  checkVnet(kernel, vnet, "inet gauges");
  const x = inet(kernel, "inet gauges");
  return {
    reassembling: x.inet_get(vnet.ptr, K.IPQ),
    arpEntries: x.inet_get(vnet.ptr, K.LLE),
    routes: x.inet_get(vnet.ptr, K.ROUTES),
    addresses: x.inet_get(vnet.ptr, K.ADDRS),
    pingLogDrops: x.inet_get(vnet.ptr, K.PINGDROPS),
  };
}

// ---------------------------------------------------------------------------------------
// ARP

export interface ArpEntry {
  address: string;
  /** "02:00:01:00:00:0b", or undefined while incomplete. */
  mac?: string;
  iface: Interface;
  /** permanent: made by arpSet (arp -s), never expires nor changes by what arrives. */
  state: "incomplete" | "reachable" | "permanent";
  /** Seconds left (reachable entries). */
  expiresInS?: number;
  /** Packets waiting for resolution. */
  held: number;
}

export function arpTable(kernel: Kernel, vnet: Vnet): ArpEntry[] {
  const x = inet(kernel, "arp -an");
  checkVnet(kernel, vnet, "arp -an");
  const out: ArpEntry[] = [];
  const now = kernel.k.callout_now();
  for (;;) {
    const n = x.inet_arp_fill(vnet.ptr, out.length);
    if (n < 0) fail(`arp table of vnet "${vnet.name}"`, -22);
    const dv = kernel.dv();
    const buf = x.inet_buf();
    for (let i = 0; i < n; i++) {
      const o = buf + i * 32;
      const st = dv.getUint32(o + 8, true);
      const state = st === 3 ? "permanent" : st === 2 ? "reachable" : "incomplete";
      const e: ArpEntry = {
        address: formatIPv4(dv.getUint32(o + 4, true)),
        iface: new Interface(kernel, dv.getUint32(o, true)),
        state,
        held: dv.getUint32(o + 20, true),
      };
      if (state !== "incomplete") e.mac = formatMac(new Uint8Array(kernel.memory.buffer, o + 12, 6).slice());
      if (state === "reachable") e.expiresInS = Math.max(0, Math.ceil((dv.getFloat64(o + 24, true) - now) / 1e6));
      out.push(e);
    }
    if (n < 256) break;
  }
  return out.sort((a, b) => parseIPv4(a.address) - parseIPv4(b.address));
}

/** arp -an, FreeBSD's layout. */
export function arpAn(kernel: Kernel, vnet: Vnet): string {
  return arpTable(kernel, vnet)
    .map((e) => `? (${e.address}) at ${e.mac ?? "(incomplete)"} on ${e.iface.name}${e.state === "reachable" ? ` expires in ${e.expiresInS} seconds` : e.state === "permanent" ? " permanent" : ""} [ethernet]`)
    .join("\n");
}

/**
 * arp -s ADDRESS MAC on iface: a permanent entry (it replaces one there, as arp -S does;
 * packets waiting for the address go out to MAC). arpDelete removes it.
 */
export function arpSet(kernel: Kernel, iface: Interface, address: string, mac: string): void {
  const what = `arp -s ${address} ${mac}`;
  const x = inet(kernel, what);
  checkInterface(kernel, iface, what);
  const a = parseIPv4(address, what);
  const b = parseMac(mac);
  const r = kernel.enter(() => {
    new Uint8Array(kernel.memory.buffer, x.inet_buf(), 6).set(b);
    return x.inet_arp_set(iface.ptr, a);
  });
  if (r !== 0) fail(what, r);
}

/** arp -d ADDRESS on iface. */
export function arpDelete(kernel: Kernel, iface: Interface, address: string): void {
  const what = `arp -d ${address}`;
  const x = inet(kernel, what);
  checkInterface(kernel, iface, what);
  const a = parseIPv4(address, what);
  const r = kernel.enter(() => x.inet_arp_del(iface.ptr, a));
  if (r === -2) fail(what, r, `no ARP entry for ${address} on ${iface.name}`);
  if (r !== 0) fail(what, r);
}

// ---------------------------------------------------------------------------------------
// netstat -s

export const IPSTATS = [
  "total", "badsum", "tooshort", "toosmall", "badhlen", "badlen", "fragments", "fragdropped", "fragtimeout", "forward",
  "cantforward", "noproto", "delivered", "localout", "odropped", "reassembled", "fragmented", "ofragments", "cantfrag",
  "badoptions", "noroute", "badvers", "rawout", "toolong", "notmember", "badaddr", "swcsum", "gso", "fastforward",
] as const;
export type IpStats = Record<(typeof IPSTATS)[number], number>;

export const ICMPTYPES = [
  "echo reply", "#1", "#2", "destination unreachable", "source quench", "routing redirect", "#6", "#7", "echo",
  "router advertisement", "router solicitation", "time exceeded", "parameter problem", "time stamp", "time stamp reply",
  "information request", "information request reply", "address mask request", "address mask reply",
] as const;
const ICMPFIXED = ["error", "oldicmp", "badcode", "tooshort", "checksum", "badlen", "reflect", "bmcastecho", "badaddr", "noroute", "ratelimited", "noerror", "bmcasttstamp"] as const;
export type IcmpStats = Record<(typeof ICMPFIXED)[number], number> & { inhist: number[]; outhist: number[] };

export const ARPSTATS = [
  "txrequests", "txreplies", "rxrequests", "rxreplies", "received", "dropped", "timeouts", "dupips", "tooshort", "badhrd",
  "badpro", "badlen", "badop", "badsender", "looped", "giveups", "evicted", "tablefull",
] as const;
export type ArpStats = Record<(typeof ARPSTATS)[number], number>;

export function ipStats(kernel: Kernel, vnet: Vnet): IpStats {
  checkVnet(kernel, vnet, "netstat -s -p ip");
  const x = inet(kernel, "netstat -s -p ip");
  const out = {} as IpStats;
  IPSTATS.forEach((n, i) => (out[n] = x.inet_stat(vnet.ptr, 0, i)));
  return out;
}

export function icmpStats(kernel: Kernel, vnet: Vnet): IcmpStats {
  checkVnet(kernel, vnet, "netstat -s -p icmp");
  const x = inet(kernel, "netstat -s -p icmp");
  const out = { inhist: [] as number[], outhist: [] as number[] } as IcmpStats;
  ICMPFIXED.forEach((n, i) => (out[n] = x.inet_stat(vnet.ptr, 1, i)));
  for (let t = 0; t < 19; t++) {
    out.inhist.push(x.inet_stat(vnet.ptr, 1, ICMPFIXED.length + t));
    out.outhist.push(x.inet_stat(vnet.ptr, 1, ICMPFIXED.length + 19 + t));
  }
  return out;
}

export function arpStats(kernel: Kernel, vnet: Vnet): ArpStats {
  checkVnet(kernel, vnet, "netstat -s -p arp");
  const x = inet(kernel, "netstat -s -p arp");
  const out = {} as ArpStats;
  ARPSTATS.forEach((n, i) => (out[n] = x.inet_stat(vnet.ptr, 2, i)));
  return out;
}

/** netstat -s -p ip|icmp|arp, in FreeBSD's wording. */
export function netstatS(kernel: Kernel, vnet: Vnet, proto: "ip" | "icmp" | "arp" | "udp"): string {
  if (proto === "udp") return netstatUdp(kernel, vnet);
  if (proto === "ip") {
    const s = ipStats(kernel, vnet);
    return [
      "ip:",
      `\t${s.total} total packets received`,
      `\t${s.badsum} bad header checksums`,
      `\t${s.toosmall} with size smaller than minimum`,
      `\t${s.tooshort} with data size < data length`,
      `\t${s.toolong} with ip length > max ip packet size`,
      `\t${s.badhlen} with header length < data size`,
      `\t${s.badlen} with data length < header length`,
      `\t${s.badoptions} with bad options`,
      `\t${s.badvers} with incorrect version number`,
      `\t${s.badaddr} with martian addresses`,
      `\t${s.fragments} fragments received`,
      `\t${s.fragdropped} fragments dropped (dup or out of space)`,
      `\t${s.fragtimeout} fragments dropped after timeout`,
      `\t${s.reassembled} packets reassembled ok`,
      `\t${s.delivered} packets for this host`,
      `\t${s.noproto} packets for unknown/unsupported protocol`,
      `\t${s.forward} packet${s.forward === 1 ? "" : "s"} forwarded (${s.fastforward} packet${s.fastforward === 1 ? "" : "s"} fast forwarded)`,
      `\t${s.cantforward} packets not forwardable`,
      `\t${s.notmember} packets received for unknown multicast group`,
      `\t${s.localout} packets sent from this host`,
      `\t${s.rawout} packets sent with fabricated ip header`,
      `\t${s.odropped} output packets dropped due to no bufs, etc.`,
      `\t${s.noroute} output packets discarded due to no route`,
      `\t${s.fragmented} output datagrams fragmented`,
      `\t${s.ofragments} fragments created`,
      `\t${s.cantfrag} datagrams that can't be fragmented`,
    ].join("\n");
  }
  if (proto === "icmp") {
    const s = icmpStats(kernel, vnet);
    const hist = (h: number[]) => h.flatMap((n, t) => (n ? [`\t\t${ICMPTYPES[t]}: ${n}`] : []));
    return [
      "icmp:",
      `\t${s.error} calls to icmp_error`,
      `\t${s.oldicmp} errors not generated in response to an icmp message`,
      `\t${s.noerror} errors not generated (fragment, broadcast or bad source)`,
      `\t${s.ratelimited} errors suppressed by the rate limit (icmplim)`,
      ...(s.outhist.some((n) => n) ? ["\tOutput histogram:", ...hist(s.outhist)] : []),
      `\t${s.badcode} messages with bad code fields`,
      `\t${s.tooshort} messages less than the minimum length`,
      `\t${s.checksum} messages with bad checksum`,
      `\t${s.badlen} messages with bad length`,
      `\t${s.bmcastecho} multicast echo requests ignored`,
      `\t${s.bmcasttstamp} multicast timestamp requests ignored`,
      ...(s.inhist.some((n) => n) ? ["\tInput histogram:", ...hist(s.inhist)] : []),
      `\t${s.reflect} message responses generated`,
    ].join("\n");
  }
  if (proto === "arp") {
    const s = arpStats(kernel, vnet);
    return [
      "arp:",
      `\t${s.txrequests} ARP requests sent`,
      `\t${s.txreplies} ARP replies sent`,
      `\t${s.rxrequests} ARP requests received`,
      `\t${s.rxreplies} ARP replies received`,
      `\t${s.received} ARP packets received`,
      `\t${s.dropped} total packets dropped due to no ARP entry`,
      `\t${s.timeouts} ARP entries timed out`,
      `\t${s.giveups} resolutions given up`,
      `\t${s.evicted} entries evicted to make room`,
      `\t${s.tablefull} entries not made: table full`,
      `\t${s.dupips} Duplicate IPs seen`,
      `\t${s.tooshort + s.badhrd + s.badpro + s.badlen + s.badop + s.badsender + s.looped} malformed or looped packets dropped`,
    ].join("\n");
  }
  throw new ConfigError(`netstat -s -p: protocol must be "ip", "icmp" or "arp", got ${show(proto)}`);
}
