// IPv6 router discovery and SLAAC from the host (assembly/netinet6/nd6_rtr.ts): a host
// interface that accepts router advertisements (FreeBSD's `ifconfig IF inet6 accept_rtadv`,
// sysctl net.inet6.ip6.accept_rtadv), a router interface that sends them (what FreeBSD's
// rtadvd does, here in the kernel), and the lists they make: default routers (ndp -r) and
// prefixes (ndp -p). Every argument is checked here first (ConfigError naming the field).

import { checkVnet, type Kernel, type Vnet } from "../kern/kernel.js";
import { ConfigError, KernelError, errnoName } from "../lib/errors.js";
import { Interface, checkInterface } from "./ifnet.js";
import { formatTable } from "../lib/format.js";
import { formatIPv6, isLinkLocal, mask6, parsePrefix6 } from "../lib/addr.js";
import { inet6, K } from "./inet6.js";

// ndi_flags bits (assembly/netinet6/ip6_var.ts; FreeBSD's ND6_IFF_* values)
const ND6_IFF_ACCEPT_RTADV = 0x2;
const ND6_IFF_NO_DAD = 0x100;
const ND6_IFF_ADVERTISE = 0x10000;

function fail(what: string, r: number): never {
  throw new KernelError(`${what}: ${errnoName(r)}`, r);
}

/** ifconfig IF inet6 accept_rtadv (on) / -accept_rtadv: process RAs on a host interface; solicits routers at once when it is up. */
export function setAcceptRtadv(kernel: Kernel, iface: Interface, on = true): void {
  const what = `ifconfig ${iface?.alive ? iface.name : "?"} inet6 ${on ? "" : "-"}accept_rtadv`;
  const x = inet6(kernel, what);
  checkInterface(kernel, iface, what);
  if (typeof on !== "boolean") throw new ConfigError(`${what}: on must be true or false, got ${String(on)}`);
  const r = kernel.enter(() => x.inet6_nd_flag(iface.ptr, ND6_IFF_ACCEPT_RTADV, on ? 1 : 0));
  if (r !== 0) fail(what, r);
}

/** ifconfig IF inet6 no_dad (on) / -no_dad: addresses added on the interface from now on skip duplicate address detection. */
export function setNoDad(kernel: Kernel, iface: Interface, on = true): void {
  const what = `ifconfig ${iface?.alive ? iface.name : "?"} inet6 ${on ? "" : "-"}no_dad`;
  const x = inet6(kernel, what);
  checkInterface(kernel, iface, what);
  if (typeof on !== "boolean") throw new ConfigError(`${what}: on must be true or false, got ${String(on)}`);
  const r = kernel.enter(() => x.inet6_nd_flag(iface.ptr, ND6_IFF_NO_DAD, on ? 1 : 0));
  if (r !== 0) fail(what, r);
}

/** sysctl net.inet6.ip6.accept_rtadv: the default for interfaces of the vnet that come up from now on. Returns the value. */
export function acceptRtadvDefault(kernel: Kernel, vnet: Vnet, on?: boolean): boolean {
  const what = "sysctl net.inet6.ip6.accept_rtadv";
  const x = inet6(kernel, what);
  checkVnet(kernel, vnet, what);
  if (on !== undefined) {
    if (typeof on !== "boolean") throw new ConfigError(`${what}: must be true or false, got ${String(on)}`);
    const r = x.inet6_set(vnet.ptr, K.ACCEPT_RTADV, on ? 1 : 0);
    if (r !== 0) fail(what, r);
  }
  return x.inet6_get(vnet.ptr, K.ACCEPT_RTADV) === 1;
}

export interface AdvPrefix {
  /** "fd00:1::/64": a /64 lets hosts form addresses from it (SLAAC). */
  prefix: string;
  /** L flag: hosts treat the prefix as on-link (default true). */
  onLink?: boolean;
  /** A flag: hosts form an address from it (default true). */
  autonomous?: boolean;
  /** Seconds (default 2592000, 30 days; Infinity: never ends). */
  validLifetime?: number;
  /** Seconds (default 604800, 7 days; Infinity: never ends); at most validLifetime. */
  preferredLifetime?: number;
}

export interface AdvertiseOptions {
  prefixes?: AdvPrefix[];
  /** MaxRtrAdvInterval, seconds, 4..1800 (default 600). */
  maxInterval?: number;
  /** MinRtrAdvInterval, seconds, 3..0.75 x maxInterval (default a third of maxInterval, at least 3). */
  minInterval?: number;
  /** AdvDefaultLifetime, seconds: 0 (not a default router) or maxInterval..9000 (default 3 x maxInterval). */
  routerLifetime?: number;
  /** AdvLinkMTU: an MTU option (1280 up to the interface's MTU); absent: none. */
  mtu?: number;
  /** AdvCurHopLimit (default 64). */
  hopLimit?: number;
}

const PFX_REC = 32; // assembly/netinet6/ip6_var.ts ND6_ADV_PFX_REC
const PFX_MAX = 8; // ND6_ADV_PREFIX_MAX
const INF = 0xffffffff;

function seconds(v: number | undefined, def: number, what: string): number {
  if (v === undefined) return def;
  if (v === Infinity) return INF;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v >= INF) throw new ConfigError(`${what}: a lifetime is whole seconds from 0 to ${INF - 1}, or Infinity; got ${String(v)}`);
  return v;
}

function intIn(v: number | undefined, def: number, lo: number, hi: number, what: string): number {
  if (v === undefined) return def;
  if (typeof v !== "number" || !Number.isInteger(v) || v < lo || v > hi) throw new ConfigError(`${what}: must be a whole number from ${lo} to ${hi}, got ${String(v)}`);
  return v;
}

/**
 * Advertise on a router interface (rtadvd; RFC 4861 6.2): periodic RAs at a random interval
 * in [minInterval, maxInterval], answers to router solicitations, the given prefixes and
 * MTU. `false` stops, with a last RA whose router lifetime is 0 (6.2.5). The interface's
 * vnet should forward (setForwarding6) for the hosts' packets to go anywhere.
 */
export function advertise(kernel: Kernel, iface: Interface, opts: AdvertiseOptions | false): void {
  const what = `rtadvd ${iface?.alive ? iface.name : "?"}`;
  const x = inet6(kernel, what);
  checkInterface(kernel, iface, what);
  if (opts === false) {
    const r = kernel.enter(() => x.inet6_advertise(iface.ptr, 0, 0, 0, 0, 0, 0, 0));
    if (r !== 0) fail(what, r);
    return;
  }
  if (!opts || typeof opts !== "object") throw new ConfigError(`${what}: give options ({ prefixes: [...] }) or false to stop`);
  const prefixes = opts.prefixes ?? [];
  if (!Array.isArray(prefixes) || prefixes.length > PFX_MAX) throw new ConfigError(`${what}: prefixes must be an array of at most ${PFX_MAX}`);
  const maxint = intIn(opts.maxInterval, 600, 4, 1800, `${what}: maxInterval`);
  const minint = intIn(opts.minInterval, Math.max(3, Math.floor(maxint / 3)), 3, Math.floor((maxint * 3) / 4), `${what}: minInterval`);
  const lifetime = opts.routerLifetime ?? Math.min(9000, 3 * maxint);
  if (lifetime !== 0) intIn(lifetime, 0, maxint, 9000, `${what}: routerLifetime (0, or maxInterval ${maxint} to 9000)`);
  const mtu = opts.mtu === undefined ? 0 : intIn(opts.mtu, 0, 1280, iface.mtu, `${what}: mtu (1280 up to ${iface.name}'s MTU)`);
  const hlim = intIn(opts.hopLimit, 64, 0, 255, `${what}: hopLimit`);
  const buf = x.inet6_buf();
  const recs = new Uint8Array(PFX_REC * prefixes.length);
  const dv = new DataView(recs.buffer);
  prefixes.forEach((p, i) => {
    const w = `${what}: prefixes[${i}]`;
    if (!p || typeof p !== "object") throw new ConfigError(`${w}: must be { prefix: "fd00:1::/64", ... }`);
    const [a, plen] = parsePrefix6(p.prefix, `${w}.prefix`);
    const m = mask6(a, plen);
    if (!m.every((b, j) => b === a[j])) throw new ConfigError(`${w}.prefix: host bits set beyond /${plen} (did you mean ${formatIPv6(m)}/${plen}?)`);
    if (isLinkLocal(a) || a[0] === 0xff) throw new ConfigError(`${w}.prefix: ${p.prefix} is link-local or multicast: not advertised (RFC 4861 4.6.2)`);
    const valid = seconds(p.validLifetime, 2592000, `${w}.validLifetime`);
    const pref = seconds(p.preferredLifetime, 604800, `${w}.preferredLifetime`);
    if (pref > valid) throw new ConfigError(`${w}: preferredLifetime ${p.preferredLifetime ?? 604800} is past validLifetime ${p.validLifetime ?? 2592000}`);
    const o = i * PFX_REC;
    recs.set(a, o);
    recs[o + 16] = plen;
    recs[o + 17] = (p.onLink ?? true ? 0x80 : 0) | (p.autonomous ?? true ? 0x40 : 0);
    dv.setUint32(o + 20, valid, true);
    dv.setUint32(o + 24, pref, true);
  });
  new Uint8Array(kernel.memory.buffer, buf, recs.length).set(recs);
  const r = kernel.enter(() => x.inet6_advertise(iface.ptr, 1, prefixes.length, maxint, minint, lifetime, mtu, hlim));
  if (r !== 0) fail(what, r);
}

export interface NdIfinfo {
  acceptRtadv: boolean;
  noDad: boolean;
  advertise: boolean;
  /** IPv6 MTU an RA's MTU option set (absent: the interface's own). */
  linkMtu?: number;
  solicitationsSent: number;
  advertisementsSent: number;
}

/** The interface's router-discovery state (ndp -i). */
export function ndIfinfo(kernel: Kernel, iface: Interface): NdIfinfo {
  const x = inet6(kernel, "ndp -i");
  checkInterface(kernel, iface, "ndp -i");
  const r = x.inet6_nd_ifinfo(iface.ptr);
  if (r < 0) fail(`ndp -i ${iface.name}`, -22);
  if (r === 0) return { acceptRtadv: acceptRtadvDefault(kernel, iface.vnet), noDad: false, advertise: false, solicitationsSent: 0, advertisementsSent: 0 };
  const dv = kernel.dv();
  const b = x.inet6_buf();
  const fl = dv.getUint32(b, true);
  const out: NdIfinfo = { acceptRtadv: (fl & ND6_IFF_ACCEPT_RTADV) !== 0, noDad: (fl & ND6_IFF_NO_DAD) !== 0, advertise: (fl & ND6_IFF_ADVERTISE) !== 0, solicitationsSent: dv.getUint32(b + 8, true), advertisementsSent: dv.getUint32(b + 12, true) };
  const mtu = dv.getUint32(b + 4, true);
  if (mtu) out.linkMtu = mtu;
  return out;
}

export interface DefaultRouter {
  /** "fe80::1%epair0a" */
  address: string;
  iface: Interface;
  /** Seconds left of its router lifetime. */
  expiresInS: number;
}

/** The default router list (ndp -r), in the order heard: the first is the one the default route uses. */
export function defaultRouters(kernel: Kernel, vnet: Vnet): DefaultRouter[] {
  const x = inet6(kernel, "ndp -r");
  checkVnet(kernel, vnet, "ndp -r");
  const n = x.inet6_rtr_fill(vnet.ptr, 0);
  if (n < 0) fail(`ndp -r of vnet "${vnet.name}"`, -22);
  const dv = kernel.dv();
  const b = x.inet6_buf();
  const now = kernel.k.callout_now();
  const out: DefaultRouter[] = [];
  for (let i = 0; i < n; i++) {
    const o = b + i * 32;
    const iface = new Interface(kernel, dv.getUint32(o + 16, true));
    const a = new Uint8Array(kernel.memory.buffer, o, 16).slice();
    out.push({ address: `${formatIPv6(a)}%${iface.name}`, iface, expiresInS: Math.max(0, Math.ceil((dv.getFloat64(o + 24, true) - now) / 1e6)) });
  }
  return out;
}

export interface PrefixEntry {
  /** "fd00:1::/64" */
  prefix: string;
  iface: Interface;
  onLink: boolean;
  autonomous: boolean;
  /** An address was formed from it and is still there. */
  hasAddress: boolean;
  /** Seconds left on-link; absent: infinite (or not on-link). */
  validS?: number;
  /** Seconds left of the preferred lifetime last advertised; absent: infinite. */
  preferredS?: number;
}

/** The prefix list (ndp -p). */
export function prefixList6(kernel: Kernel, vnet: Vnet): PrefixEntry[] {
  const x = inet6(kernel, "ndp -p");
  checkVnet(kernel, vnet, "ndp -p");
  const n = x.inet6_rtr_fill(vnet.ptr, 1);
  if (n < 0) fail(`ndp -p of vnet "${vnet.name}"`, -22);
  const dv = kernel.dv();
  const b = x.inet6_buf();
  const now = kernel.k.callout_now();
  const left = (t: number) => Math.max(0, Math.ceil((t - now) / 1e6));
  const out: PrefixEntry[] = [];
  for (let i = 0; i < n; i++) {
    const o = b + i * 48;
    const fl = dv.getUint32(o + 24, true);
    const e: PrefixEntry = {
      prefix: `${formatIPv6(new Uint8Array(kernel.memory.buffer, o, 16).slice())}/${dv.getUint32(o + 16, true)}`,
      iface: new Interface(kernel, dv.getUint32(o + 20, true)),
      onLink: (fl & 0x80) !== 0,
      autonomous: (fl & 0x40) !== 0,
      hasAddress: dv.getUint32(o + 28, true) !== 0,
    };
    const v = dv.getFloat64(o + 32, true);
    const p = dv.getFloat64(o + 40, true);
    if (e.onLink && v !== 0) e.validS = left(v);
    if (p !== 0) e.preferredS = left(p);
    out.push(e);
  }
  return out;
}

/** ndp -r as text. */
export function ndpR(kernel: Kernel, vnet: Vnet): string {
  return defaultRouters(kernel, vnet).map((r) => `${r.address} if=${r.iface.name}, expire=${r.expiresInS}s`).join("\n");
}

/** ndp -p as text. */
export function ndpP(kernel: Kernel, vnet: Vnet): string {
  const rows = prefixList6(kernel, vnet).map((p) => [
    p.prefix, p.iface.name, (p.onLink ? "L" : "") + (p.autonomous ? "A" : ""), p.validS === undefined ? "infinity" : `${p.validS}s`,
    p.preferredS === undefined ? "infinity" : `${p.preferredS}s`, p.hasAddress ? "yes" : "no",
  ]);
  return formatTable(["Prefix", "Netif", "Flags", "Vltime", "Pltime", "Address"], rows);
}
