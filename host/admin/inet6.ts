// IPv6 from the host: addresses (ifconfig inet6), routes (route -6, netstat -rn -f inet6),
// the forwarding knob, the neighbour cache (ndp -an), and the netstat -s counters of ip6
// and icmp6. Typed functions over the inet6 module's exports (assembly/netinet6/inet6.ts);
// every argument is checked here first (ConfigError naming the field and value), kernel
// errnos become KernelErrors saying which call failed and why. Addresses travel to the
// kernel through the module's buffer (16 bytes, network order).
//
// Link-local addresses need their link: "fe80::1%epair0a" (RFC 4007 11 zone index, here
// an interface name of the vnet) or an explicit interface.

import { checkVnet, checkKernel, type Kernel, type Vnet } from "../kern/kernel.js";
import { ConfigError, KernelError, ModuleNotLoadedError, errnoName } from "../lib/errors.js";
import { Interface, checkInterface, formatMac, parseMac } from "./ifnet.js";
import { formatTable, show } from "../lib/format.js";
import { parseIPv6, parseIPv6Zoned, splitZone, formatIPv6, isLinkLocal, isLinkScope, mask6, parsePrefix6 } from "../lib/addr.js";
import { gcThresh, routeWeight as routeWeight6, type GcThresh } from "./inet.js";

/** The inet6 module's host exports. */
export interface Inet6Exports {
  inet6_buf(): number;
  inet6_addr_add(ifp: number, plen: number): number;
  inet6_addr_del(ifp: number): number;
  inet6_addr_fill(ifp: number): number;
  inet6_route_add(v: number, plen: number, hasgw: number, ifp: number, weight: number): number;
  inet6_route_del(v: number, plen: number, hasgw: number): number;
  inet6_route_fill(v: number, skip: number): number;
  inet6_route_get(v: number, ifp: number): number;
  inet6_nd_fill(v: number, skip: number): number;
  inet6_nd_del(ifp: number): number;
  inet6_nd_add(ifp: number): number;
  inet6_stat(v: number, group: number, i: number): number;
  inet6_get(v: number, what: number): number;
  inet6_set(v: number, what: number, value: number): number;
  inet6_ping_send(v: number, ifp: number, id: number, seq: number, size: number, hlim: number, df: number): number;
  inet6_ping_read(v: number): number;
  inet6_nd_flag(ifp: number, flag: number, on: number): number;
  inet6_advertise(ifp: number, on: number, npfx: number, maxint: number, minint: number, lifetime: number, mtu: number, hlim: number): number;
  inet6_nd_ifinfo(ifp: number): number;
  inet6_rtr_fill(v: number, what: number): number;
  inet6_mld_fill(ifp: number): number;
}

function fail(what: string, r: number, why?: string): never {
  throw new KernelError(`${what}: ${why ?? errnoName(r)}`, r);
}

/** True when the kernel has the inet6 module loaded. */
export function hasInet6(kernel: Kernel): boolean {
  return kernel.linker.isLoaded("inet6");
}

/** The inet6 exports; ModuleNotLoadedError when inet6 is not loaded. */
export function inet6(kernel: Kernel, what: string): Inet6Exports {
  checkKernel(kernel, what);
  if (!hasInet6(kernel)) {
    throw new ModuleNotLoadedError(`${what}: the inet6 module is not loaded (kldload("inet6"), or boot GENERIC; NOINET6 has no IPv6)`);
  }
  return kernel.module<Inet6Exports>("inet6");
}

// ---------------------------------------------------------------------------------------
// Addresses as text: lib/addr.ts (re-exported here, where callers and tests found them).

export { isIPv6Text, parseIPv6, formatIPv6, isLinkLocal, isLinkScope, parsePrefix6 } from "../lib/addr.js";

/**
 * "fe80::1%epair0a" -> the address and the interface of vnet its zone names; a link-scope
 * address without a zone is an error naming what is missing.
 */
export function parseScoped(kernel: Kernel, vnet: Vnet, s: string, what: string, iface?: Interface): { addr: Uint8Array; iface?: Interface } {
  const { bytes: addr, zone } = parseIPv6Zoned(s, what);
  const text = splitZone(s).address;
  let ifc = iface;
  if (zone !== undefined) {
    if (!isLinkScope(addr)) throw new ConfigError(`${what}: ${JSON.stringify(s)}: a zone (%${zone}) belongs to link-local or link-scope multicast addresses only`);
    let found: Interface | undefined;
    try {
      found = vnet.interface(zone);
    } catch {
      found = undefined;
    }
    if (!found) throw new ConfigError(`${what}: zone %${zone}: vnet "${vnet.name}" has no interface ${zone}`);
    ifc = found;
  }
  if (isLinkScope(addr) && !ifc) throw new ConfigError(`${what}: ${JSON.stringify(s)} is link-scope: name its link, as in "${text}%epair0a"`);
  return { addr, iface: ifc };
}

function put(kernel: Kernel, x: Inet6Exports, a: Uint8Array, at = 0): void {
  new Uint8Array(kernel.memory.buffer, x.inet6_buf() + at, 16).set(a);
}

function bytesAt(kernel: Kernel, p: number): Uint8Array {
  return new Uint8Array(kernel.memory.buffer, p, 16).slice();
}



function badHost(b: Uint8Array): string | undefined {
  if (b.every((x) => x === 0)) return "the unspecified address";
  if (b[0] === 0xff) return "a multicast address";
  if (b.slice(0, 15).every((x) => x === 0) && b[15] === 1) return "the loopback address (lo0 has it)";
  if (b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) return "an IPv4-mapped address";
  return undefined;
}

// ---------------------------------------------------------------------------------------
// ifconfig IF inet6

export interface Inet6Address {
  /** "fd00::1" (link-local ones with their zone: "fe80::1%epair0a") */
  address: string;
  prefixLength: number;
  /** "fd00::1/64" */
  cidr: string;
  /** "tentative" (DAD running), "duplicated", "deprecated" (past its preferred lifetime), "autoconf" (made by the kernel: link-local, SLAAC) */
  flags: string[];
  linkLocal: boolean;
  /** Seconds left of the preferred lifetime (0 once deprecated); absent: infinite. */
  pltime?: number;
  /** Seconds left of the valid lifetime (the address goes after it); absent: infinite. */
  vltime?: number;
}

/** ifconfig IF inet6 fd00::1/64 alias: add an address (and its on-link prefix route). */
export function addAddress6(kernel: Kernel, iface: Interface, cidr: string): void {
  const what = `ifconfig ${iface?.alive ? iface.name : "?"} inet6 ${cidr}`;
  const x = inet6(kernel, what);
  checkInterface(kernel, iface, what);
  const [addr, plen] = parsePrefix6(cidr, `${what}: address`, false);
  const bad = badHost(addr);
  if (bad) throw new ConfigError(`${what}: ${formatIPv6(addr)} is ${bad}, not an interface address`);
  if (plen === 0) throw new ConfigError(`${what}: prefix length 0 is not an interface prefix`);
  if (isLinkLocal(addr) && plen !== 64) throw new ConfigError(`${what}: a link-local address is fe80::/64 (RFC 4291 2.5.6), not /${plen}`);
  put(kernel, x, addr);
  const r = kernel.enter(() => x.inet6_addr_add(iface.ptr, plen));
  if (r === -17) fail(what, r, `${formatIPv6(addr)} is already an address of vnet "${iface.vnet.name}"`);
  if (r !== 0) fail(what, r);
}

/** ifconfig IF inet6 ADDR -alias. */
export function delAddress6(kernel: Kernel, iface: Interface, address: string): void {
  const what = `ifconfig ${iface?.alive ? iface.name : "?"} inet6 ${address} -alias`;
  const x = inet6(kernel, what);
  checkInterface(kernel, iface, what);
  const a = parseIPv6(splitZone(address.replace(/\/\d+$/, "")).address, `${what}: address`);
  put(kernel, x, a);
  const r = kernel.enter(() => x.inet6_addr_del(iface.ptr));
  if (r === -2) fail(what, r, `${iface.name} has no address ${formatIPv6(a)}`);
  if (r !== 0) fail(what, r);
}

const IA6_FLAGS: [number, string][] = [[0x02, "tentative"], [0x04, "duplicated"], [0x10, "deprecated"], [0x40, "autoconf"]];
const IA6_REC = 40; // assembly/netinet6/in6.ts

/** The IPv6 addresses of an interface, in the order they were added. */
export function addresses6(kernel: Kernel, iface: Interface): Inet6Address[] {
  const x = inet6(kernel, "addresses6");
  checkInterface(kernel, iface, "addresses6");
  const n = x.inet6_addr_fill(iface.ptr);
  if (n < 0) fail(`addresses6 of ${iface.name}`, -22);
  const dv = kernel.dv();
  const buf = x.inet6_buf();
  const out: Inet6Address[] = [];
  const now = kernel.k.callout_now();
  const left = (t: number) => Math.max(0, Math.floor((t - now) / 1e6));
  for (let i = 0; i < n; i++) {
    const o = buf + i * IA6_REC;
    const a = bytesAt(kernel, o);
    const plen = dv.getUint32(o + 16, true);
    const fl = dv.getUint32(o + 20, true);
    const pexp = dv.getFloat64(o + 24, true);
    const vexp = dv.getFloat64(o + 32, true);
    const ll = isLinkLocal(a);
    const text = formatIPv6(a) + (ll ? `%${iface.name}` : "");
    const e: Inet6Address = { address: text, prefixLength: plen, cidr: `${formatIPv6(a)}/${plen}`, flags: IA6_FLAGS.filter(([b]) => fl & b).map(([, s]) => s), linkLocal: ll };
    if (pexp !== 0) e.pltime = left(pexp);
    if (vexp !== 0) e.vltime = left(vexp);
    out.push(e);
  }
  return out;
}

/** ifconfig's inet6 lines for an interface, FreeBSD's layout ("inet6 fe80::1%lo0 prefixlen 64 scopeid 0x1"). */
export function ifconfigInet6Lines(kernel: Kernel, iface: Interface): string[] {
  if (!hasInet6(kernel)) return [];
  // FreeBSD marks SLAAC addresses "autoconf" and shows finite lifetimes ("pltime 5 vltime 10");
  // the link-local address, made by the kernel too, is not marked there.
  return addresses6(kernel, iface).map((a) => {
    const fl = a.flags.filter((f) => f !== "autoconf" || !a.linkLocal);
    const life = a.vltime !== undefined ? ` pltime ${a.pltime ?? "infty"} vltime ${a.vltime}` : "";
    return `\tinet6 ${a.address} prefixlen ${a.prefixLength}${a.linkLocal ? ` scopeid 0x${iface.index.toString(16)}` : ""}${fl.length ? ` ${fl.join(" ")}` : ""}${life}`;
  });
}

// ---------------------------------------------------------------------------------------
// Routes

/** Where an IPv6 route goes; weight as RouteVia's (a path's share when the prefix has several). */
export type Route6Via = { gateway: string; iface?: Interface; weight?: number } | { iface: Interface; gateway?: undefined; weight?: number };

export interface Route6Entry {
  /** "fd00:1::/64", "default", or a host "fd00::5". */
  destination: string;
  prefixLength: number;
  gateway?: string;
  /** netstat flags: U up, G gateway, H host, S static, D dynamic (made by a redirect). */
  flags: string;
  iface: Interface;
  use: number;
  /** On-link prefix of an address (goes with it). */
  connected: boolean;
  /** route get: the source address packets through this route leave with. */
  source?: string;
}

function flagText(f: number): string {
  return (f & 1 ? "U" : "") + (f & 2 ? "G" : "") + (f & 4 ? "H" : "") + (f & 0x800 ? "S" : "") + (f & 0x10 ? "D" : "");
}

/** route -6 add DST/PLEN GATEWAY [-ifp IF], or route -6 add DST/PLEN -interface IF ("default" = ::/0). */
export function addRoute6(kernel: Kernel, vnet: Vnet, destination: string, via: Route6Via): void {
  const what = `route -6 add ${destination}`;
  const x = inet6(kernel, what);
  checkVnet(kernel, vnet, what);
  const [dst, plen] = parsePrefix6(destination, `${what}: destination`);
  const masked = mask6(dst, plen);
  if (!masked.every((b, i) => b === dst[i])) throw new ConfigError(`${what}: destination has host bits set beyond /${plen} (did you mean ${formatIPv6(masked)}/${plen}?)`);
  if (dst[0] === 0xff) throw new ConfigError(`${what}: a multicast destination is not routed`);
  if (isLinkLocal(dst) && plen > 0) throw new ConfigError(`${what}: link-local prefixes come with their addresses`);
  if (!via || typeof via !== "object" || (via.gateway === undefined && via.iface === undefined)) {
    throw new ConfigError(`${what}: give { gateway: "fd00::1" } or { iface: Interface }`);
  }
  let ifp = 0;
  if (via.iface !== undefined) {
    checkInterface(kernel, via.iface, `${what}: iface`);
    if (via.iface.vnet !== vnet) throw new ConfigError(`${what}: iface ${via.iface.name} is in vnet "${via.iface.vnet.name}", not "${vnet.name}"`);
    ifp = via.iface.ptr;
  }
  let gw: Uint8Array | undefined;
  if (via.gateway !== undefined) {
    const s = parseScoped(kernel, vnet, via.gateway, `${what}: gateway`, via.iface);
    gw = s.addr;
    if (s.iface) ifp = s.iface.ptr;
    const bad = badHost(gw);
    if (bad) throw new ConfigError(`${what}: gateway ${via.gateway} is ${bad}`);
  }
  put(kernel, x, dst);
  if (gw) put(kernel, x, gw, 16);
  const weight = routeWeight6(via, what);
  const r = kernel.enter(() => x.inet6_route_add(vnet.ptr, plen, gw ? 1 : 0, ifp, weight));
  if (r === -17) fail(what, r, `vnet "${vnet.name}" already has a route to ${destination}${gw ? " (another path is only added via a new gateway, when both are gateway routes and net.route.multipath is 1)" : ""}`);
  if (r === -28) fail(what, r, `${destination} already has 32 paths (ENOSPC)`);
  if (r === -51) fail(what, r, gw ? `gateway ${via.gateway} is not on a connected prefix (ENETUNREACH)` : `${via.iface!.name} has no IPv6 address to send from (ENETUNREACH)`);
  if (r !== 0) fail(what, r);
}

/** route -6 delete DST/PLEN. On-link prefixes go with their address (EPERM here). */
/**
 * route -6 delete DST/PLEN [GATEWAY]: with a gateway only the path via it goes; a prefix with
 * several paths needs one (ESRCH without).
 */
export function delRoute6(kernel: Kernel, vnet: Vnet, destination: string, gateway?: string): void {
  const what = `route -6 delete ${destination}${gateway !== undefined ? ` ${gateway}` : ""}`;
  const x = inet6(kernel, what);
  checkVnet(kernel, vnet, what);
  const [dst, plen] = parsePrefix6(destination, `${what}: destination`);
  const gw = gateway !== undefined ? parseScoped(kernel, vnet, gateway, `${what}: gateway`).addr : undefined;
  put(kernel, x, mask6(dst, plen));
  if (gw) put(kernel, x, gw, 16);
  const r = kernel.enter(() => x.inet6_route_del(vnet.ptr, plen, gw ? 1 : 0));
  if (r === -2) fail(what, r, `vnet "${vnet.name}" has no route to ${destination}`);
  if (r === -3) fail(what, r, gateway === undefined ? `${destination} has several paths; name the gateway of the one to delete (ESRCH)` : `${destination} has no path via ${gateway} (ESRCH)`);
  if (r === -1) fail(what, r, `${destination} is the on-link prefix of an address; delete the address instead (EPERM)`);
  if (r !== 0) fail(what, r);
}

function readRoute(kernel: Kernel, o: number): Route6Entry {
  const dv = kernel.dv();
  const dst = bytesAt(kernel, o);
  const gw = bytesAt(kernel, o + 16);
  const plen = dv.getUint32(o + 32, true);
  const flags = dv.getUint32(o + 36, true);
  const iface = new Interface(kernel, dv.getUint32(o + 40, true));
  const zone = isLinkLocal(dst) ? `%${iface.name}` : "";
  const e: Route6Entry = {
    destination: plen === 0 ? "default" : plen === 128 ? formatIPv6(dst) : `${formatIPv6(dst)}${zone}/${plen}`,
    prefixLength: plen,
    flags: flagText(flags),
    iface,
    use: dv.getFloat64(o + 48, true),
    connected: (flags & 0x100000) !== 0,
  };
  if (flags & 2) e.gateway = formatIPv6(gw) + (isLinkLocal(gw) ? `%${iface.name}` : "");
  return e;
}

/** The vnet's IPv6 routes, longest prefix first. */
export function routes6(kernel: Kernel, vnet: Vnet): Route6Entry[] {
  const x = inet6(kernel, "routes6");
  checkVnet(kernel, vnet, "routes6");
  const out: Route6Entry[] = [];
  for (;;) {
    const n = x.inet6_route_fill(vnet.ptr, out.length);
    if (n < 0) fail(`routes6 of vnet "${vnet.name}"`, -22);
    const buf = x.inet6_buf();
    for (let i = 0; i < n; i++) out.push(readRoute(kernel, buf + i * 64));
    if (n < 128) return out;
  }
}

/** route -6 get DST: the route a packet to dst takes (and the source it would carry), or undefined. */
export function routeGet6(kernel: Kernel, vnet: Vnet, dst: string): Route6Entry | undefined {
  const x = inet6(kernel, "route -6 get");
  checkVnet(kernel, vnet, "route -6 get");
  const s = parseScoped(kernel, vnet, dst, `route -6 get ${dst}`);
  put(kernel, x, s.addr);
  if (x.inet6_route_get(vnet.ptr, s.iface?.ptr ?? 0) !== 1) return undefined;
  const e = readRoute(kernel, x.inet6_buf());
  const src = bytesAt(kernel, x.inet6_buf() + 64);
  if (src.some((b) => b !== 0)) e.source = formatIPv6(src);
  return e;
}

/** netstat -rn -f inet6, FreeBSD's layout. */
export function netstatRn6(kernel: Kernel, vnet: Vnet): string {
  const rows = routes6(kernel, vnet).map((r) => [r.destination, r.gateway ?? `link#${r.iface.index}`, r.flags, r.iface.name, r.use]);
  return `Routing tables\n\nInternet6:\n${formatTable(["Destination", "Gateway", "Flags", "Netif", "Use"], rows)}`;
}

// ---------------------------------------------------------------------------------------
// Knobs

/** inet6_get / inet6_set selectors, named as assembly/netinet6/inet6.ts names them (K_*). */
export const K = {
  FORWARDING: 0, ERRPPSLIMIT: 1, FRAGQ: 2, ND: 3, ROUTES: 4, ADDRS: 5, PINGDROPS: 6,
  MAXFRAGS: 10, MAXFRAGPACKETS: 11, MAXFRAGBUCKETSIZE: 12, MAXFRAGSPERPACKET: 13, FRAG6_NFRAGS: 14, V6ONLY: 15,
  ACCEPT_RTADV: 16, DEFROUTERS: 17, PREFIXES: 18,
} as const;

/**
 * sysctl net.inet6.ip6.v6only for a vnet: the IPV6_V6ONLY new AF_INET6 sockets start with
 * (true, FreeBSD's default: IPv6 only; false: dual-stack, IPv4 as ::ffff:a.b.c.d, as Linux's
 * net.ipv6.bindv6only=0). Sockets already open keep theirs. docs/sockets.md "Dual-stack sockets".
 */
export function setV6only(kernel: Kernel, vnet: Vnet, on: boolean): void {
  const x = inet6(kernel, "net.inet6.ip6.v6only");
  checkVnet(kernel, vnet, "net.inet6.ip6.v6only");
  if (typeof on !== "boolean") throw new ConfigError(`net.inet6.ip6.v6only: expected true or false, got ${String(on)}`);
  const r = x.inet6_set(vnet.ptr, K.V6ONLY, on ? 1 : 0);
  if (r !== 0) fail("net.inet6.ip6.v6only", r);
}

export function v6only(kernel: Kernel, vnet: Vnet): boolean {
  checkVnet(kernel, vnet, "net.inet6.ip6.v6only");
  return inet6(kernel, "net.inet6.ip6.v6only").inet6_get(vnet.ptr, K.V6ONLY) === 1;
}

/** sysctl net.inet6.ip6.forwarding=0|1 for a vnet. */
export function setForwarding6(kernel: Kernel, vnet: Vnet, on: boolean): void {
  const x = inet6(kernel, "net.inet6.ip6.forwarding");
  checkVnet(kernel, vnet, "net.inet6.ip6.forwarding");
  if (typeof on !== "boolean") throw new ConfigError(`net.inet6.ip6.forwarding: expected true or false, got ${String(on)}`);
  const r = x.inet6_set(vnet.ptr, K.FORWARDING, on ? 1 : 0);
  if (r !== 0) fail("net.inet6.ip6.forwarding", r);
}

export function forwarding6(kernel: Kernel, vnet: Vnet): boolean {
  checkVnet(kernel, vnet, "net.inet6.ip6.forwarding");
  return inet6(kernel, "net.inet6.ip6.forwarding").inet6_get(vnet.ptr, K.FORWARDING) === 1;
}

/** sysctl net.inet6.icmp6.errppslimit: ICMPv6 errors per second a vnet may send (0 = no limit). */
export function setIcmp6Limit(kernel: Kernel, vnet: Vnet, perSecond: number): void {
  checkVnet(kernel, vnet, "net.inet6.icmp6.errppslimit");
  if (!Number.isInteger(perSecond) || perSecond < 0 || perSecond > 1_000_000) throw new ConfigError(`net.inet6.icmp6.errppslimit: must be an integer 0-1000000, got ${perSecond}`);
  const r = inet6(kernel, "net.inet6.icmp6.errppslimit").inet6_set(vnet.ptr, K.ERRPPSLIMIT, perSecond);
  if (r !== 0) fail("net.inet6.icmp6.errppslimit", r);
}

export function icmp6Limit(kernel: Kernel, vnet: Vnet): number {
  checkVnet(kernel, vnet, "net.inet6.icmp6.errppslimit");
  return inet6(kernel, "net.inet6.icmp6.errppslimit").inet6_get(vnet.ptr, K.ERRPPSLIMIT);
}

/** sysctl net.inet6.icmp6.nd6_gc_thresh1/2/3: the neighbour cache's bounds for a vnet (read, or set those given). */
export function nd6GcThresh(kernel: Kernel, vnet: Vnet, set: Partial<GcThresh> = {}): GcThresh {
  const name = "net.inet6.icmp6.nd6_gc_thresh";
  checkVnet(kernel, vnet, name);
  const x = inet6(kernel, name);
  return gcThresh(name, (i) => x.inet6_get(vnet.ptr, 7 + i), (i, v) => x.inet6_set(vnet.ptr, 7 + i, v), set);
}

/** Reassembly knobs of a vnet by FreeBSD's net.inet6.ip6.* names, and their selectors. */
const FRAG6_KNOBS = {
  maxfrags: K.MAXFRAGS, maxfragpackets: K.MAXFRAGPACKETS, maxfragbucketsize: K.MAXFRAGBUCKETSIZE, maxfragsperpacket: K.MAXFRAGSPERPACKET, frag6_nfrags: K.FRAG6_NFRAGS,
} as const;
export type Frag6Knob = keyof typeof FRAG6_KNOBS;

/**
 * sysctl net.inet6.ip6.<knob> of a vnet: `maxfrags` (default 512) fragments held at once,
 * `maxfragpackets` (512, at most 1,024) datagrams being reassembled (setting it sets
 * `maxfragbucketsize` too: a vnet keeps one list, one bucket), `maxfragsperpacket` (64)
 * fragments per datagram; -1 means no limit, 0 accepts no fragment. FreeBSD's maxfrags is
 * one for the whole system; here each vnet has its own. `frag6_nfrags` (read only) is how
 * many fragments the vnet holds. Returns the value (after setting it, when one is given).
 */
export function frag6Knob(kernel: Kernel, vnet: Vnet, knob: Frag6Knob, value?: number): number {
  const name = `net.inet6.ip6.${String(knob)}`;
  if (typeof knob !== "string" || !Object.hasOwn(FRAG6_KNOBS, knob)) throw new ConfigError(`sysctl: unknown knob ${name} (known: ${Object.keys(FRAG6_KNOBS).map((k) => `net.inet6.ip6.${k}`).join(", ")})`);
  checkVnet(kernel, vnet, name);
  const x = inet6(kernel, name);
  const id = FRAG6_KNOBS[knob];
  if (value !== undefined) {
    if (knob === "frag6_nfrags") throw new ConfigError(`sysctl ${name} is read only`);
    const max = knob === "maxfragpackets" || knob === "maxfragbucketsize" ? 1024 : 0x7fffffff;
    if (!Number.isInteger(value) || value < -1 || value > max) throw new ConfigError(`sysctl ${name}: must be an integer from -1 (no limit) to ${max}, got ${value}`);
    const r = x.inet6_set(vnet.ptr, id, value);
    if (r !== 0) fail(`${name}=${value}`, r);
  }
  return x.inet6_get(vnet.ptr, id);
}

/** Gauges: datagrams being reassembled, neighbour entries, routes, addresses. */
export function inet6Gauges(kernel: Kernel, vnet: Vnet): { reassembling: number; neighbors: number; routes: number; addresses: number; pingLogDrops: number } {
  checkVnet(kernel, vnet, "inet6 gauges");
  const x = inet6(kernel, "inet6 gauges");
  return {
    reassembling: x.inet6_get(vnet.ptr, K.FRAGQ),
    neighbors: x.inet6_get(vnet.ptr, K.ND),
    routes: x.inet6_get(vnet.ptr, K.ROUTES),
    addresses: x.inet6_get(vnet.ptr, K.ADDRS),
    pingLogDrops: x.inet6_get(vnet.ptr, K.PINGDROPS),
  };
}

// ---------------------------------------------------------------------------------------
// Neighbour cache (ndp)

/** "permanent": added by ndp -s, never aged or changed by Neighbor Discovery. */
export type NdState = "incomplete" | "reachable" | "stale" | "delay" | "probe" | "permanent";
const ND_STATES: NdState[] = ["incomplete", "reachable", "stale", "delay", "probe", "permanent"];

export interface NdEntry {
  /** "fe80::1%epair0a", "fd00::2" */
  address: string;
  mac?: string;
  iface: Interface;
  state: NdState;
  /** Seconds until the state's timer fires. */
  expiresInS: number;
  /** Packets waiting for resolution. */
  held: number;
  /** The neighbour said it is a router. */
  router: boolean;
}

export function ndpTable(kernel: Kernel, vnet: Vnet): NdEntry[] {
  const x = inet6(kernel, "ndp -an");
  checkVnet(kernel, vnet, "ndp -an");
  const out: NdEntry[] = [];
  const now = kernel.k.callout_now();
  for (;;) {
    const n = x.inet6_nd_fill(vnet.ptr, out.length);
    if (n < 0) fail(`neighbour cache of vnet "${vnet.name}"`, -22);
    const dv = kernel.dv();
    const buf = x.inet6_buf();
    for (let i = 0; i < n; i++) {
      const o = buf + i * 48;
      const a = bytesAt(kernel, o);
      const iface = new Interface(kernel, dv.getUint32(o + 16, true));
      const state = ND_STATES[dv.getUint32(o + 20, true)] ?? "incomplete";
      const e: NdEntry = {
        address: formatIPv6(a) + (isLinkLocal(a) ? `%${iface.name}` : ""),
        iface,
        state,
        expiresInS: Math.max(0, Math.ceil((dv.getFloat64(o + 40, true) - now) / 1e6)),
        held: dv.getUint32(o + 32, true),
        router: dv.getUint32(o + 36, true) !== 0,
      };
      if (state !== "incomplete") e.mac = formatMac(new Uint8Array(kernel.memory.buffer, o + 24, 6).slice());
      out.push(e);
    }
    if (n < 170) break;
  }
  return out.sort((p, q) => (p.address < q.address ? -1 : p.address > q.address ? 1 : 0));
}

function hms(s: number): string {
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return `${h ? `${h}h` : ""}${h || m ? `${m}m` : ""}${sec}s`;
}

/** ndp -an, FreeBSD's layout (state letters I R S D P; flag R for routers). */
export function ndpAn(kernel: Kernel, vnet: Vnet): string {
  // A static entry shows "permanent" for its expiry and R for its state, as FreeBSD's ndp does.
  const letter: Record<NdState, string> = { incomplete: "I", reachable: "R", stale: "S", delay: "D", probe: "P", permanent: "R" };
  const rows = ndpTable(kernel, vnet).map((e) => [e.address, e.mac ?? "(incomplete)", e.iface.name, e.state === "permanent" ? "permanent" : hms(e.expiresInS), letter[e.state], e.router ? "R" : ""]);
  return formatTable(["Neighbor", "Linklayer Address", "Netif", "Expire", "S", "Flags"], rows);
}

/**
 * ndp -s ADDRESS MAC: a static neighbour entry (link-local: with its zone, or on iface; a
 * global address: on the interface whose on-link prefix holds it, unless iface says).
 */
export function ndpAdd(kernel: Kernel, vnet: Vnet, address: string, mac: string, iface?: Interface): void {
  const what = `ndp -s ${address} ${mac}`;
  const x = inet6(kernel, what);
  checkVnet(kernel, vnet, what);
  const s = parseScoped(kernel, vnet, address, what, iface);
  const b = parseMac(mac);
  if (b[0] & 1) throw new ConfigError(`${what}: ${mac} is a multicast address, not a neighbour's`);
  if (badHost(s.addr)) throw new ConfigError(`${what}: ${formatIPv6(s.addr)} is ${badHost(s.addr)}, not a neighbour's address`);
  let target = s.iface;
  if (!target) {
    const r = routeGet6(kernel, vnet, formatIPv6(s.addr));
    // FreeBSD's ndp: "cannot intuit interface index and type" for an address on no link of ours.
    if (!r || !r.connected) throw new ConfigError(`${what}: ${formatIPv6(s.addr)} is on no connected prefix of vnet "${vnet.name}": name the interface`);
    target = r.iface;
  }
  put(kernel, x, s.addr);
  new Uint8Array(kernel.memory.buffer, x.inet6_buf() + 16, 6).set(b);
  const r = kernel.enter(() => x.inet6_nd_add(target!.ptr));
  if (r === -12) fail(what, r, `the neighbour cache of vnet "${vnet.name}" is full (net.inet6.icmp6.nd6_gc_thresh3)`);
  if (r !== 0) fail(what, r);
}

/** ndp -d ADDRESS (link-local: with its zone, or on iface). */
export function ndpDelete(kernel: Kernel, vnet: Vnet, address: string, iface?: Interface): void {
  const what = `ndp -d ${address}`;
  const x = inet6(kernel, what);
  checkVnet(kernel, vnet, what);
  const s = parseScoped(kernel, vnet, address, what, iface);
  let target = s.iface;
  if (!target) {
    const hit = ndpTable(kernel, vnet).find((e) => e.address === formatIPv6(s.addr));
    if (!hit) fail(what, -2, `no neighbour entry for ${address}`);
    target = hit.iface;
  }
  put(kernel, x, s.addr);
  const r = kernel.enter(() => x.inet6_nd_del(target!.ptr));
  if (r === -2) fail(what, r, `no neighbour entry for ${address} on ${target.name}`);
  if (r !== 0) fail(what, r);
}

// ---------------------------------------------------------------------------------------
// netstat -s -p ip6 / icmp6

export const IP6STATS = [
  "total", "tooshort", "toosmall", "fragments", "fragdropped", "fragtimeout", "fragoverflow", "forward", "cantforward",
  "delivered", "localout", "odropped", "reassembled", "atomicfrags", "fragmented", "ofragments", "cantfrag", "badoptions",
  "noroute", "badvers", "badscope", "notmember", "toomanyhdr", "exthdrtoolong", "noproto", "badrouting", "hdrorder",
  "hlimexceed", "toobig", "swcsum", "gso",
] as const;
export type Ip6Stats = Record<(typeof IP6STATS)[number], number>;

const ICMP6FIXED = ["error", "canterror", "toofreq", "badcode", "tooshort", "checksum", "badlen", "reflect", "badns", "badna", "ndhlim", "dadDup", "noroute", "badredirect", "badrs", "badra"] as const;
export const ICMP6TYPES = [
  "destination unreachable", "packet too big", "time exceeded", "parameter problem", "echo", "echo reply",
  "router solicitation", "router advertisement", "neighbor solicitation", "neighbor advertisement", "redirect", "other",
] as const;
export type Icmp6Stats = Record<(typeof ICMP6FIXED)[number], number> & { inhist: number[]; outhist: number[] };

export const ND6STATS = ["nsout", "nsin", "naout", "nain", "dropped", "giveups", "probefail", "gc", "dadns", "evicted", "tablefull", "rsout", "rsin", "raout", "rain", "rtrfull"] as const;
export type Nd6Stats = Record<(typeof ND6STATS)[number], number>;

export function ip6Stats(kernel: Kernel, vnet: Vnet): Ip6Stats {
  checkVnet(kernel, vnet, "netstat -s -p ip6");
  const x = inet6(kernel, "netstat -s -p ip6");
  const out = {} as Ip6Stats;
  IP6STATS.forEach((n, i) => (out[n] = x.inet6_stat(vnet.ptr, 0, i)));
  return out;
}

export function icmp6Stats(kernel: Kernel, vnet: Vnet): Icmp6Stats {
  checkVnet(kernel, vnet, "netstat -s -p icmp6");
  const x = inet6(kernel, "netstat -s -p icmp6");
  const out = { inhist: [] as number[], outhist: [] as number[] } as Icmp6Stats;
  ICMP6FIXED.forEach((n, i) => (out[n] = x.inet6_stat(vnet.ptr, 1, i)));
  for (let t = 0; t < ICMP6TYPES.length; t++) {
    out.inhist.push(x.inet6_stat(vnet.ptr, 1, ICMP6FIXED.length + t));
    out.outhist.push(x.inet6_stat(vnet.ptr, 1, ICMP6FIXED.length + ICMP6TYPES.length + t));
  }
  return out;
}

export function nd6Stats(kernel: Kernel, vnet: Vnet): Nd6Stats {
  checkVnet(kernel, vnet, "netstat -s -p nd6");
  const x = inet6(kernel, "netstat -s -p nd6");
  const out = {} as Nd6Stats;
  ND6STATS.forEach((n, i) => (out[n] = x.inet6_stat(vnet.ptr, 2, i)));
  return out;
}

// ---------------------------------------------------------------------------------------
// MLD (assembly/netinet6/mld6.ts): netstat -s -p mld, ifmcstat

export const MLDSTATS = [
  "rcvTotal", "rcvTooshort", "rcvBadttl", "rcvNora", "rcvV1Queries", "rcvV2Queries", "rcvBadqueries", "rcvGenQueries",
  "rcvGroupQueries", "rcvReports", "rcvBadreports", "sndReports", "sndLeaves",
] as const;
export type MldStats = Record<(typeof MLDSTATS)[number], number>;

export function mldStats(kernel: Kernel, vnet: Vnet): MldStats {
  checkVnet(kernel, vnet, "netstat -s -p mld");
  const x = inet6(kernel, "netstat -s -p mld");
  const out = {} as MldStats;
  MLDSTATS.forEach((n, i) => (out[n] = x.inet6_stat(vnet.ptr, 3, i)));
  return out;
}

/** One multicast group an interface listens to (ifmcstat). */
export interface MldGroup {
  group: string;
  /** Addresses that want it; 0 while its leave reports are still going out. */
  refs: number;
  /** State-change reports (join or leave) still to send. */
  pending: number;
  /** An answer to a query is due: "v1", "v2", or undefined. */
  answerDue?: "v1" | "v2";
}

const INM_REC = 32;

/** The groups iface listens to by MLD (ff02::1, joined by every node and never reported, is not listed). */
export function mldGroups(kernel: Kernel, iface: Interface): MldGroup[] {
  checkInterface(kernel, iface, "ifmcstat");
  const x = inet6(kernel, "ifmcstat");
  const n = x.inet6_mld_fill(iface.ptr);
  if (n < 0) fail(`ifmcstat -i ${iface.name}`, -22, "the interface is not in a vnet with IPv6 up");
  const b = new Uint8Array(kernel.memory.buffer, x.inet6_buf(), n * INM_REC).slice();
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out: MldGroup[] = [];
  for (let i = 0; i < n; i++) {
    const o = i * INM_REC;
    const q = dv.getUint32(o + 28, true);
    out.push({ group: formatIPv6(b.slice(o, o + 16)), refs: dv.getUint32(o + 20, true), pending: dv.getUint32(o + 24, true), ...(q ? { answerDue: q === 1 ? "v1" as const : "v2" as const } : {}) });
  }
  return out.reverse(); // oldest first
}

/** ifmcstat [-i IF] in FreeBSD's shape: per interface its inet6 groups, MLD version and references. */
export function ifmcstat(kernel: Kernel, vnet: Vnet, only?: string): string {
  const lines: string[] = [];
  for (const ifc of vnet.interfaces()) {
    if (only !== undefined && ifc.name !== only) continue;
    const g = mldGroups(kernel, ifc);
    if (g.length === 0) continue;
    lines.push(`${ifc.name}:`, "\tmldv2 flags=0 rv 2 qi 125 qri 10 uri 1");
    for (const e of g) lines.push(`\t\tgroup ${e.group}${e.refs === 0 ? " leaving" : ""} refcnt ${e.refs} mode exclude${e.pending ? ` pending ${e.pending}` : ""}`, `\t\t\tmcast-macaddr 33:33:${[...parseIPv6(e.group, "group").subarray(12)].map((v) => v.toString(16).padStart(2, "0")).join(":")}`);
  }
  return lines.join("\n");
}

/** netstat -s -p mld, in FreeBSD's wording where it has one. */
export function netstatSMld(kernel: Kernel, vnet: Vnet): string {
  const s = mldStats(kernel, vnet);
  return [
    "mld:",
    `\t${s.rcvTotal} messages received`,
    `\t${s.rcvTooshort} messages received with too few bytes`,
    `\t${s.rcvBadttl} messages received with wrong TTL`,
    `\t${s.rcvNora} messages received without Router Alert`,
    `\t${s.rcvV1Queries} V1 listener queries received`,
    `\t${s.rcvV2Queries} V2 listener queries received`,
    `\t${s.rcvBadqueries} messages received with invalid queries`,
    `\t${s.rcvGenQueries} general queries received`,
    `\t${s.rcvGroupQueries} group queries received`,
    `\t${s.rcvReports} membership reports received`,
    `\t${s.rcvBadreports} membership reports received with invalid source`,
    `\t${s.sndReports} membership reports sent`,
    `\t${s.sndLeaves} of them leaves (TO_IN {})`,
  ].join("\n");
}

/** netstat -s -p ip6|icmp6, in FreeBSD's wording. */
export function netstatS6(kernel: Kernel, vnet: Vnet, proto: "ip6" | "icmp6"): string {
  if (proto === "ip6") {
    const s = ip6Stats(kernel, vnet);
    return [
      "ip6:",
      `\t${s.total} total packets received`,
      `\t${s.toosmall} with size smaller than minimum`,
      `\t${s.tooshort} with data size < data length`,
      `\t${s.badoptions} with bad options`,
      `\t${s.badvers} with incorrect version number`,
      `\t${s.badscope} packets that violated scope rules`,
      `\t${s.exthdrtoolong} with an extension header past the packet`,
      `\t${s.toomanyhdr} with too many extension headers`,
      `\t${s.hdrorder} with hop-by-hop options out of place`,
      `\t${s.badrouting} with a routing header refused`,
      `\t${s.fragments} fragments received`,
      `\t${s.fragdropped} fragments dropped (dup or out of space)`,
      `\t${s.fragtimeout} fragments dropped after timeout`,
      `\t${s.fragoverflow} fragments that exceeded limit`,
      `\t${s.atomicfrags} atomic fragments`,
      `\t${s.reassembled} packets reassembled ok`,
      `\t${s.delivered} packets for this host`,
      `\t${s.noproto} packets for unknown next header`,
      `\t${s.forward} packets forwarded`,
      `\t${s.cantforward} packets not forwardable`,
      `\t${s.hlimexceed} packets whose hop limit ran out`,
      `\t${s.toobig} packets too big for the next link`,
      `\t${s.notmember} packets received for unknown multicast group`,
      `\t${s.localout} packets sent from this host`,
      `\t${s.odropped} output packets dropped due to no bufs, etc.`,
      `\t${s.noroute} output packets discarded due to no route`,
      `\t${s.fragmented} output datagrams fragmented`,
      `\t${s.ofragments} fragments created`,
      `\t${s.cantfrag} datagrams that can't be fragmented`,
      `\t${s.swcsum} transport checksums completed in software (offload fallback)`,
      `\t${s.gso} segments cut in software from large (TSO) packets`,
    ].join("\n");
  }
  if (proto === "icmp6") {
    const s = icmp6Stats(kernel, vnet);
    const nd = nd6Stats(kernel, vnet);
    const hist = (h: number[]) => h.flatMap((n, t) => (n ? [`\t\t${ICMP6TYPES[t]}: ${n}`] : []));
    return [
      "icmp6:",
      `\t${s.error} calls to icmp6_error`,
      `\t${s.canterror} errors not generated in response to an icmp6 message, multicast or bad source`,
      `\t${s.toofreq} errors not generated because of rate limitation`,
      ...(s.outhist.some((n) => n) ? ["\tOutput histogram:", ...hist(s.outhist)] : []),
      `\t${s.badcode} messages with bad code fields`,
      `\t${s.tooshort} messages < minimum length`,
      `\t${s.checksum} bad checksums`,
      `\t${s.badlen} messages with bad length`,
      ...(s.inhist.some((n) => n) ? ["\tInput histogram:", ...hist(s.inhist)] : []),
      `\t${s.reflect} message responses generated`,
      `\t${s.ndhlim} ND messages with a hop limit other than 255`,
      `\t${s.badns} bad neighbor solicitation messages`,
      `\t${s.badna} bad neighbor advertisement messages`,
      `\t${s.badredirect} bad redirect messages`,
      `\t${s.badrs} bad router solicitation messages`,
      `\t${s.badra} bad router advertisement messages`,
      `\t${s.dadDup} duplicate addresses detected`,
      `\t${nd.nsout} neighbor solicitations sent (${nd.dadns} for DAD), ${nd.nsin} received`,
      `\t${nd.naout} neighbor advertisements sent, ${nd.nain} received`,
      `\t${nd.dropped} packets dropped waiting for resolution, ${nd.giveups} resolutions given up, ${nd.probefail} neighbours lost`,
      `\t${nd.evicted} neighbour entries evicted to make room, ${nd.tablefull} not made: table full`,
      `\t${nd.rsout} router solicitations sent, ${nd.rsin} answered; ${nd.raout} router advertisements sent, ${nd.rain} accepted`,
      `\t${nd.rtrfull} routers or prefixes not listed: list full`,
    ].join("\n");
  }
  throw new ConfigError(`netstat -s -p: protocol must be "ip6" or "icmp6", got ${show(proto)}`);
}
