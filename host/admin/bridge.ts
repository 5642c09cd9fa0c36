// if_bridge from the host: members, the address table, ageing, counters, and the text of
// `ifconfig bridge0` / `ifconfig bridge0 addr`. Typed functions over the exports of the
// if_bridge module; every argument is checked here first so a mistake gets a ConfigError
// that says what is wrong, and kernel errnos become KernelErrors that say which call failed.

import { checkKernel, checkVnet, type Kernel, type Vnet } from "../kern/kernel.js";
import { ConfigError, KernelError, Errno, ModuleNotLoadedError } from "../lib/errors.js";
import { show } from "../lib/format.js";
import { Interface, checkInterface, parseMac, formatMac, flagNames } from "./ifnet.js";

/** The if_bridge module's exports (assembly/modules/if_bridge/if_bridge.ts). */
export interface BridgeExports {
  bridge_is(bifp: number): number;
  bridge_addm(bifp: number, ifp: number): number;
  bridge_delm(bifp: number, ifp: number): number;
  bridge_member_of(ifp: number): number;
  bridge_member(bifp: number, i: number): number;
  bridge_param(bifp: number, what: number): number;
  bridge_stat(bifp: number, which: number): number;
  bridge_port_stat(bifp: number, ifp: number, which: number): number;
  bridge_set_ageing(bifp: number, seconds: number): number;
  bridge_set_maxaddr(bifp: number, n: number): number;
  bridge_addstatic(bifp: number, ifp: number, machi: number, maclo: number): number;
  bridge_deladdr(bifp: number, machi: number, maclo: number): number;
  bridge_flush(bifp: number, all: number): number;
  bridge_rtlist_fill(bifp: number, skip: number): number;
  bridge_rtbuf(): number;
  bridge_count(): number;
  bridge_now(): number;
  bridge_inherit_mac(v: number, value: number): number;
  bridge_mldsnoop(bifp: number, on: number): number;
  bridge_mdb_list(bifp: number): number;
}

/** One entry of a bridge's address table. */
export interface BridgeAddr {
  mac: string;
  /** Name of the member the address was learned on (or set static on). */
  port: string;
  /** The member interface itself. */
  iface: Interface;
  /** Seconds until it ages out (rounded up); 0 for a static entry. */
  expiresInS: number;
  static: boolean;
}

export const BRIDGE_STATS = [
  "forwarded", "flooded", "local", "dropSamePort", "dropBad", "dropNoMem", "dropLoop", "dropNoPort",
  "learned", "moved", "tableFull", "expired", "mldSnooped", "mldLearned",
] as const;
export type BridgeCounters = Record<(typeof BRIDGE_STATS)[number], number>;

export const BRIDGE_PORT_STATS = ["ipackets", "ibytes", "opackets", "obytes", "flooded", "dropped", "oerrors"] as const;
export type BridgePortCounters = Record<(typeof BRIDGE_PORT_STATS)[number], number>;

export interface BridgeStats extends BridgeCounters {
  members: number;
  addresses: number;
  staticAddresses: number;
  maxAddresses: number;
  ageingS: number;
  ports: Record<string, BridgePortCounters>;
}

const RTREC = 24;
const RTREC_MAX = 256;
export const BRIDGE_AGEING_MAX_S = 1_000_000;
export const BRIDGE_MAXADDR_LIMIT = 65536;

function x(kernel: Kernel, what: string): BridgeExports {
  checkKernel(kernel, what);
  if (!kernel.linker.isLoaded("if_bridge")) {
    throw new ModuleNotLoadedError(`${what}: the if_bridge module is not loaded (kldload("if_bridge"), or boot the GENERIC configuration)`);
  }
  return kernel.module<BridgeExports>("if_bridge");
}

function alive(kernel: Kernel, i: Interface, what: string): void {
  checkInterface(kernel, i, what);
}

/** The bridge's name for a message, before it is checked. */
function nameOf(i: unknown): string {
  return i instanceof Interface && i.alive ? i.name : "bridge";
}

/** The exports, after checking that `bridge` is a live bridge interface of the module. */
function bridgeOf(kernel: Kernel, bridge: Interface, what: string): BridgeExports {
  const b = x(kernel, what);
  alive(kernel, bridge, what);
  if (!b.bridge_is(bridge.ptr)) throw new ConfigError(`${what}: ${bridge.name} is not a bridge (type ${bridge.type})`);
  return b;
}

function macArgs(mac: string, what: string): [number, number] {
  let b: Uint8Array;
  try {
    b = parseMac(mac);
  } catch (e) {
    throw new ConfigError(`${what}: ${(e as Error).message}`);
  }
  if (b[0] & 1) throw new ConfigError(`${what}: ${mac} is a multicast address; only unicast addresses go in the table`);
  if (b.every((v) => v === 0)) throw new ConfigError(`${what}: the all-zero address cannot be a table entry`);
  return [(b[0] << 16) | (b[1] << 8) | b[2], (b[3] << 16) | (b[4] << 8) | b[5]];
}

/**
 * sysctl net.link.bridge.inherit_mac of a vnet (FreeBSD's knob, off by default): a bridge
 * that gets its first member takes that member's MAC, and the next member's when it leaves
 * (its own generated MAC when none is left). Sets it when `on` is given; returns the value.
 */
export function bridgeInheritMac(kernel: Kernel, vnet: Vnet, on?: boolean): boolean {
  const what = "sysctl net.link.bridge.inherit_mac";
  const b = x(kernel, what);
  checkVnet(kernel, vnet, what);
  if (on !== undefined && typeof on !== "boolean") throw new ConfigError(`${what}: on must be a boolean, got ${show(on)}`);
  const r = kernel.enter(() => b.bridge_inherit_mac(vnet.ptr, on === undefined ? -1 : on ? 1 : 0));
  if (r < 0) throw new KernelError(`${what} in vnet "${vnet.name}"`, -Errno.EINVAL);
  return r === 1;
}

/** ifconfig BRIDGE addm MEMBER: an Ethernet interface of the bridge's vnet joins (and goes promiscuous). */
export function bridgeAdd(kernel: Kernel, bridge: Interface, member: Interface): void {
  const what = `ifconfig ${nameOf(bridge)} addm`;
  const b = bridgeOf(kernel, bridge, what);
  alive(kernel, member, what);
  const w = `${what} ${member.name}`;
  if (member.type !== "ether") throw new ConfigError(`${w}: only Ethernet interfaces can be members (it is ${member.type})`);
  if (member.vnet !== bridge.vnet) throw new ConfigError(`${w}: ${member.name} is in vnet "${member.vnet.name}", the bridge in "${bridge.vnet.name}"; move it first`);
  const other = b.bridge_member_of(member.ptr);
  if (other === bridge.ptr) throw new ConfigError(`${w}: already a member of ${bridge.name}`);
  if (other !== 0) throw new ConfigError(`${w}: already a member of ${new Interface(kernel, other).name}`);
  const n = b.bridge_param(bridge.ptr, 0);
  if (n >= b.bridge_param(bridge.ptr, 6)) throw new ConfigError(`${w}: ${bridge.name} has the most members it can (${n})`);
  if (n > 0 && member.mtu !== bridge.mtu) throw new ConfigError(`${w}: MTU ${member.mtu} differs from the bridge's ${bridge.mtu}`);
  const r = kernel.enter(() => b.bridge_addm(bridge.ptr, member.ptr));
  if (r !== 0) throw new KernelError(w, r);
}

/** ifconfig BRIDGE deletem MEMBER: it leaves (its promiscuous mode is restored, its addresses forgotten). */
export function bridgeDel(kernel: Kernel, bridge: Interface, member: Interface): void {
  const what = `ifconfig ${nameOf(bridge)} deletem`;
  const b = bridgeOf(kernel, bridge, what);
  alive(kernel, member, what);
  const r = kernel.enter(() => b.bridge_delm(bridge.ptr, member.ptr));
  if (r === -Errno.ENOENT) throw new ConfigError(`${what} ${member.name}: not a member of ${bridge.name}`);
  if (r !== 0) throw new KernelError(`${what} ${member.name}`, r);
}

/** The members, in membership (flooding) order. */
export function bridgeMembers(kernel: Kernel, bridge: Interface): Interface[] {
  const b = bridgeOf(kernel, bridge, "bridge members");
  const out: Interface[] = [];
  for (let i = 0; ; i++) {
    const p = b.bridge_member(bridge.ptr, i);
    if (p === 0) break;
    out.push(new Interface(kernel, p));
  }
  return out;
}

/** ifconfig BRIDGE addr: the address table, live entries only. */
export function bridgeAddrs(kernel: Kernel, bridge: Interface): BridgeAddr[] {
  const b = bridgeOf(kernel, bridge, `ifconfig ${nameOf(bridge)} addr`);
  const now = b.bridge_now();
  const out: BridgeAddr[] = [];
  const names = new Map<number, Interface>();
  for (let skip = 0; ; skip += RTREC_MAX) {
    const n = kernel.enter(() => b.bridge_rtlist_fill(bridge.ptr, skip));
    const dv = kernel.dv();
    const base = b.bridge_rtbuf();
    for (let i = 0; i < n; i++) {
      const r = base + i * RTREC;
      const mac = formatMac(new Uint8Array(kernel.memory.buffer, r, 6).slice());
      const flags = dv.getUint16(r + 6, true);
      const ifp = dv.getUint32(r + 8, true);
      const expire = Number(dv.getBigUint64(r + 16, true));
      let iface = names.get(ifp);
      if (!iface) names.set(ifp, (iface = new Interface(kernel, ifp)));
      const isStatic = (flags & 1) !== 0;
      out.push({ mac, port: iface.name, iface, expiresInS: isStatic ? 0 : Math.max(0, Math.ceil((expire - now) / 1e6)), static: isStatic });
    }
    if (n < RTREC_MAX) break;
  }
  return out;
}

/** ifconfig BRIDGE static MEMBER MAC: an entry that never ages or moves. */
export function bridgeAddStatic(kernel: Kernel, bridge: Interface, member: Interface, mac: string): void {
  const what = `ifconfig ${nameOf(bridge)} static`;
  const b = bridgeOf(kernel, bridge, what);
  alive(kernel, member, what);
  const [hi, lo] = macArgs(mac, `${what} ${member.name}`);
  const r = kernel.enter(() => b.bridge_addstatic(bridge.ptr, member.ptr, hi, lo));
  if (r === -Errno.ENOENT) throw new ConfigError(`${what} ${member.name} ${mac}: ${member.name} is not a member of ${bridge.name}`);
  if (r === -Errno.ENOSPC) throw new KernelError(`${what} ${member.name} ${mac}: the table is full (maxaddr ${b.bridge_param(bridge.ptr, 2)})`, r);
  if (r !== 0) throw new KernelError(`${what} ${member.name} ${mac}`, r);
}

/** ifconfig BRIDGE deladdr MAC. */
export function bridgeDelAddr(kernel: Kernel, bridge: Interface, mac: string): void {
  const what = `ifconfig ${nameOf(bridge)} deladdr ${mac}`;
  const b = bridgeOf(kernel, bridge, what);
  const [hi, lo] = macArgs(mac, what);
  const r = kernel.enter(() => b.bridge_deladdr(bridge.ptr, hi, lo));
  if (r === -Errno.ENOENT) throw new ConfigError(`${what}: no such entry in ${bridge.name}`);
  if (r !== 0) throw new KernelError(what, r);
}

/** ifconfig BRIDGE flush (dynamic entries) or, with all, flushall. Returns entries removed. */
export function bridgeFlush(kernel: Kernel, bridge: Interface, opts: { all?: boolean } = {}): number {
  const b = bridgeOf(kernel, bridge, `ifconfig ${nameOf(bridge)} flush`);
  if (opts === null || typeof opts !== "object" || (opts.all !== undefined && typeof opts.all !== "boolean")) throw new ConfigError(`ifconfig ${nameOf(bridge)} flush: options are { all?: boolean }, got ${show(opts)}`);
  return kernel.enter(() => b.bridge_flush(bridge.ptr, opts.all ? 1 : 0));
}

/** ifconfig BRIDGE timeout SECONDS (default 1200; 0 learns nothing). Applies to current entries too. */
export function bridgeSetAgeing(kernel: Kernel, bridge: Interface, seconds: number): void {
  const what = `ifconfig ${nameOf(bridge)} timeout`;
  const b = bridgeOf(kernel, bridge, what);
  if (!Number.isInteger(seconds) || seconds < 0 || seconds > BRIDGE_AGEING_MAX_S) {
    throw new ConfigError(`${what}: seconds must be an integer from 0 to ${BRIDGE_AGEING_MAX_S}, got ${seconds}`);
  }
  const r = kernel.enter(() => b.bridge_set_ageing(bridge.ptr, seconds));
  if (r !== 0) throw new KernelError(what, r);
}

/** ifconfig BRIDGE maxaddr N (default 4096): dynamic entries over it are removed. */
export function bridgeSetMaxAddr(kernel: Kernel, bridge: Interface, n: number): void {
  const what = `ifconfig ${nameOf(bridge)} maxaddr`;
  const b = bridgeOf(kernel, bridge, what);
  if (!Number.isInteger(n) || n < 1 || n > BRIDGE_MAXADDR_LIMIT) {
    throw new ConfigError(`${what}: must be an integer from 1 to ${BRIDGE_MAXADDR_LIMIT}, got ${n}`);
  }
  const r = kernel.enter(() => b.bridge_set_maxaddr(bridge.ptr, n));
  if (r !== 0) throw new KernelError(what, r);
}

/** Bridge counters, parameters, and per-member counters keyed by member name. */
export function bridgeStats(kernel: Kernel, bridge: Interface): BridgeStats {
  const b = bridgeOf(kernel, bridge, `bridge stats ${nameOf(bridge)}`);
  const out = {} as BridgeStats;
  BRIDGE_STATS.forEach((n, i) => (out[n] = b.bridge_stat(bridge.ptr, i)));
  out.members = b.bridge_param(bridge.ptr, 0);
  out.addresses = b.bridge_param(bridge.ptr, 1);
  out.maxAddresses = b.bridge_param(bridge.ptr, 2);
  out.ageingS = b.bridge_param(bridge.ptr, 3);
  out.staticAddresses = b.bridge_param(bridge.ptr, 4);
  out.ports = {};
  for (const m of bridgeMembers(kernel, bridge)) {
    const p = {} as BridgePortCounters;
    BRIDGE_PORT_STATS.forEach((n, i) => (p[n] = b.bridge_port_stat(bridge.ptr, m.ptr, i)));
    out.ports[m.name] = p;
  }
  return out;
}

/**
 * ifconfig BRIDGE [-]mldsnoop: MLD snooping (assembly/modules/if_bridge/bridge_mld.ts; docs/mld.md).
 * Off by default, as FreeBSD's if_bridge: every multicast frame is flooded. On, IPv6
 * multicast to a group some member reported goes to that group's listeners and to members
 * where a querier was heard only. Sets it when `on` is given; returns the value.
 */
export function bridgeMldSnoop(kernel: Kernel, bridge: Interface, on?: boolean): boolean {
  const what = `ifconfig ${nameOf(bridge)} ${on === false ? "-" : ""}mldsnoop`;
  const b = bridgeOf(kernel, bridge, what);
  if (on !== undefined && typeof on !== "boolean") throw new ConfigError(`${what}: on must be a boolean, got ${show(on)}`);
  const r = kernel.enter(() => b.bridge_mldsnoop(bridge.ptr, on === undefined ? -1 : on ? 1 : 0));
  if (r < 0) throw new KernelError(what, -Errno.EINVAL);
  return r === 1;
}

/** One membership MLD snooping learned: a member listens to the groups with this Ethernet address. */
export interface BridgeMdbEntry {
  /** The groups' Ethernet address (33:33 and the group's low 32 bits, RFC 2464 7). */
  mac: string;
  port: string;
  iface: Interface;
  /** Seconds until it times out (the Multicast Address Listening Interval, 260 s, from the last report). */
  expiresInS: number;
}

/** The groups MLD snooping learned (bridge mdb), at most 384. */
export function bridgeMdb(kernel: Kernel, bridge: Interface): BridgeMdbEntry[] {
  const b = bridgeOf(kernel, bridge, `bridge mdb ${nameOf(bridge)}`);
  const n = kernel.enter(() => b.bridge_mdb_list(bridge.ptr));
  const dv = kernel.dv();
  const base = b.bridge_rtbuf();
  const out: BridgeMdbEntry[] = [];
  for (let i = 0; i < n; i++) {
    const r = base + i * 16;
    const g = new Uint8Array(kernel.memory.buffer, r, 4).slice();
    const iface = new Interface(kernel, dv.getUint32(r + 4, true));
    out.push({ mac: formatMac(new Uint8Array([0x33, 0x33, ...g])), port: iface.name, iface, expiresInS: Math.ceil(dv.getFloat64(r + 8, true)) });
  }
  return out.reverse(); // oldest first
}

/** `ifconfig bridge0 addr`: one line per entry, as FreeBSD prints it. */
export function bridgeAddrText(kernel: Kernel, bridge: Interface): string {
  return bridgeAddrs(kernel, bridge)
    .map((a) => `${a.mac} Vlan1 ${a.port} ${a.expiresInS} flags=${a.static ? "1<STATIC>" : "0<>"}`)
    .join("\n");
}

const b = (kernel: Kernel, bridge: Interface) => bridgeMldSnoop(kernel, bridge);

/** `ifconfig bridge0`: the interface, its table parameters and members, and the counters. */
export function bridgeText(kernel: Kernel, bridge: Interface): string {
  const s = bridgeStats(kernel, bridge);
  const lines = [
    `${bridge.name}: flags=${bridge.flags.toString(16)}<${flagNames(bridge.flags)}> mtu ${bridge.mtu}`,
    `\tether ${bridge.mac}`,
    `\tmaxaddr ${s.maxAddresses} timeout ${s.ageingS} addresses ${s.addresses} (${s.staticAddresses} static)`,
  ];
  for (const m of bridgeMembers(kernel, bridge)) {
    const p = s.ports[m.name];
    lines.push(`\tmember: ${m.name} flags=3<LEARNING,DISCOVER>`);
    lines.push(`\t        in ${p.ipackets} packets ${p.ibytes} bytes ${p.dropped} dropped, out ${p.opackets} packets ${p.obytes} bytes ${p.flooded} flooded ${p.oerrors} errors`);
  }
  lines.push(`\tforwarded ${s.forwarded} flooded ${s.flooded} local ${s.local} learned ${s.learned} moved ${s.moved} expired ${s.expired}`);
  if (b(kernel, bridge)) lines.push(`\tmldsnoop: ${s.mldLearned} memberships learned, ${s.mldSnooped} frames sent to listeners only`);
  lines.push(`\tdropped: same port ${s.dropSamePort} bad ${s.dropBad} no memory ${s.dropNoMem} loop ${s.dropLoop} no port ${s.dropNoPort} table full ${s.tableFull}`);
  return lines.join("\n");
}
