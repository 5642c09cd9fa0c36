// ipfw from the host (the kernel side: assembly/netpfil/ipfw/, docs/ipfw.md): add rules
// already compiled to the words of docs/ipfw_insn.md, delete, flush, zero, list with
// counters, dynamic states, the default rule, the per-vnet knobs (FreeBSD's
// net.inet.ip.fw.* names), counters and the log ring. Typed functions over the ipfw
// module's exports; arguments are checked here, kernel refusals become typed errors.

import { checkVnet, checkKernel, type Kernel, type Vnet } from "../kern/kernel.js";
import { ConfigError, KernelError, ModuleNotLoadedError, Errno, errnoName } from "../lib/errors.js";
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6, mask4, mask6 } from "../lib/addr.js";
import { integerArg } from "../lib/check.js";
import { show } from "../lib/format.js";
import { parseNatConfig, natConfigWords, formatNatConfig, type NatConfig } from "../ipfw/nat.js";
import { interfacesOf } from "./ifnet.js";
import { addresses } from "./inet.js";

export interface IpfwExports {
  ipfw_buf(): number;
  ipfw_add(v: number, p: number, words: number): number;
  ipfw_add_reason(): number;
  ipfw_add_where(): number;
  ipfw_del(v: number, num: number, set: number): number;
  ipfw_flush(v: number): number;
  ipfw_zero(v: number, num: number): number;
  ipfw_list(v: number, p: number, cap: number): number;
  ipfw_states(v: number, p: number, max: number, skip: number): number;
  ipfw_set_default(v: number, accept: number): number;
  ipfw_get(v: number, what: number): number;
  ipfw_set(v: number, what: number, value: number): number;
  ipfw_stat(v: number, i: number): number;
  ipfw_log_read(v: number, seq: number, p: number): number;
  ipfw_nat_config(v: number, p: number, words: number): number;
  ipfw_nat_reason(): number;
  ipfw_nat_del(v: number, id: number): number;
  ipfw_nat_list(v: number, p: number, cap: number, skip: number): number;
  ipfw_nat_get(v: number, what: number): number;
  ipfw_nat_set(v: number, what: number, value: number): number;
  ipfw_table_create(v: number, num: number, limit: number): number;
  ipfw_table_destroy(v: number, num: number): number;
  ipfw_table_flush(v: number, num: number): number;
  ipfw_table_add(v: number, num: number, p: number): number;
  ipfw_table_del(v: number, num: number, p: number): number;
  ipfw_table_lookup(v: number, num: number, p: number): number;
  ipfw_table_list(v: number, num: number, p: number, max: number, skip: number): number;
  ipfw_table_info(v: number, num: number, p: number): number;
  ipfw_table_numbers(v: number, p: number, max: number, skip: number): number;
  ipfw_table_get(v: number, what: number): number;
  ipfw_table_set(v: number, what: number, value: number): number;
}

const BUF_WORDS = 16384;

/** Why the kernel refused a rule, by reason code (assembly/netpfil/ipfw/ip_fw_var.ts R_*; 0 unused). */
export const IPFW_REJECT_REASONS: readonly string[] = [
  "",
  "rule number not in 1..65534",
  "set not in 0..31 (or unused bits of word 0 set)",
  "cmd_len is 0, larger than the kernel keeps (500 words), or not the number of command words given",
  "act_ofs is not the start of an instruction inside the commands",
  "an instruction of length 0 or running past the end",
  "unknown opcode",
  "wrong length for the opcode (or its count)",
  "an action before act_ofs",
  "a match instruction after act_ofs",
  "no action, or an instruction after the action",
  "skipto not to a later rule number",
  "F_OR on the last match instruction",
  "an argument out of range",
  "F_OR or F_NOT on an action",
  "the words are not in the module's buffer",
];

/** The kernel refused a rule as malformed (EINVAL); reason and the command word it concerns. */
export class IpfwRuleError extends KernelError {
  readonly reason: number;
  readonly word: number;
  constructor(what: string, reason: number, word: number) {
    super(what, -Errno.EINVAL);
    this.reason = reason;
    this.word = word;
    this.message = `${what}: rule refused: ${IPFW_REJECT_REASONS[reason] ?? `reason ${reason}`} (command word ${word})`;
  }
}

function x(kernel: Kernel, what: string): IpfwExports {
  checkKernel(kernel, what);
  if (!kernel.linker.isLoaded("ipfw")) throw new ModuleNotLoadedError(`${what}: the ipfw module is not loaded (kldload("ipfw"))`);
  return kernel.module<IpfwExports>("ipfw");
}

function words(kernel: Kernel, e: IpfwExports): Uint32Array {
  return new Uint32Array(kernel.memory.buffer, e.ipfw_buf(), BUF_WORDS);
}

/** ipfw add: one compiled rule (a Uint32Array in the encoding of docs/ipfw_insn.md). */
export function ipfwAdd(kernel: Kernel, vnet: Vnet, rule: Uint32Array | readonly number[]): void {
  checkVnet(kernel, vnet, "ipfw add");
  const e = x(kernel, "ipfw add");
  if (!(rule instanceof Uint32Array) && !Array.isArray(rule)) throw new ConfigError(`ipfw add: rule must be a Uint32Array, got ${show(rule)}`);
  if (rule.length < 1 || rule.length > BUF_WORDS) throw new ConfigError(`ipfw add: a rule is 1 to ${BUF_WORDS} words, got ${rule.length}`);
  const w = words(kernel, e);
  for (let i = 0; i < rule.length; i++) w[i] = Number(rule[i]) >>> 0;
  const r = e.ipfw_add(vnet.ptr, e.ipfw_buf(), rule.length);
  if (r === -Errno.EINVAL) throw new IpfwRuleError("ipfw add", e.ipfw_add_reason(), e.ipfw_add_where());
  if (r < 0) throw new KernelError("ipfw add", r);
}

/** ipfw delete N [set S]: how many rules went (their dynamic states with them). */
export function ipfwDelete(kernel: Kernel, vnet: Vnet, rulenum: number, set = -1): number {
  checkVnet(kernel, vnet, "ipfw delete");
  integerArg("ipfw delete: rule number", rulenum, 0, 65534);
  integerArg("ipfw delete: set", set, -1, 31);
  const r = x(kernel, "ipfw delete").ipfw_del(vnet.ptr, rulenum, set);
  if (r < 0) throw new KernelError("ipfw delete", r);
  return r;
}

/** ipfw flush: every rule but 65535, and every dynamic state. */
export function ipfwFlush(kernel: Kernel, vnet: Vnet): number {
  checkVnet(kernel, vnet, "ipfw flush");
  return x(kernel, "ipfw flush").ipfw_flush(vnet.ptr);
}

/** ipfw zero [N]: counters back to 0 (0 = every rule, the default's too). */
export function ipfwZero(kernel: Kernel, vnet: Vnet, rulenum = 0): number {
  checkVnet(kernel, vnet, "ipfw zero");
  integerArg("ipfw zero: rule number", rulenum, 0, 65535);
  return x(kernel, "ipfw zero").ipfw_zero(vnet.ptr, rulenum);
}

export interface IpfwRule {
  rulenum: number;
  set: number;
  /** The rule's words as the kernel keeps them (header and commands). */
  words: Uint32Array;
  packets: number;
  bytes: number;
  /** Kernel time in seconds of the last match (0 = never). */
  lastMatchS: number;
}

/** ipfw list / show: every rule with its counters, the default rule 65535 last. */
export function ipfwList(kernel: Kernel, vnet: Vnet): IpfwRule[] {
  checkVnet(kernel, vnet, "ipfw list");
  const e = x(kernel, "ipfw list");
  const n = e.ipfw_list(vnet.ptr, e.ipfw_buf(), BUF_WORDS);
  if (n < 0) throw new KernelError("ipfw list", n);
  const w = words(kernel, e).slice(0, n);
  const out: IpfwRule[] = [];
  for (let i = 0; i < n; ) {
    const cl = w[i + 1] & 0xffff;
    const t = i + 2 + cl;
    out.push({
      rulenum: w[i] & 0xffff,
      set: (w[i] >>> 16) & 31,
      words: w.slice(i, t),
      packets: w[t] + w[t + 1] * 2 ** 32,
      bytes: w[t + 2] + w[t + 3] * 2 ** 32,
      lastMatchS: w[t + 4],
    });
    i = t + 5;
  }
  return out;
}

export interface IpfwState {
  family: 4 | 6;
  proto: number;
  rulenum: number;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  /** ms until it expires. */
  expiresInMs: number;
  packets: number;
  /** TCP: SYN/FIN/RST seen as made (low byte) and back (high byte). */
  tcpState: number;
}

/** The vnet's dynamic states (ipfw -d show). */
export function ipfwStates(kernel: Kernel, vnet: Vnet): IpfwState[] {
  checkVnet(kernel, vnet, "ipfw states");
  const e = x(kernel, "ipfw states");
  const out: IpfwState[] = [];
  const per = Math.floor(BUF_WORDS / 16);
  for (let skip = 0; ; skip += per) {
    const n = e.ipfw_states(vnet.ptr, e.ipfw_buf(), per, skip);
    if (n < 0) throw new KernelError("ipfw states", n);
    const w = words(kernel, e);
    const b = new Uint8Array(kernel.memory.buffer, e.ipfw_buf(), n * 64).slice();
    for (let i = 0; i < n; i++) {
      const o = i * 16;
      const af = (w[o] & 0xff) === 6 ? 6 : 4;
      const addr = (at: number) => (af === 4 ? formatIPv4(b.slice(at, at + 4)) : formatIPv6(b.slice(at, at + 16)));
      out.push({
        family: af, proto: (w[o] >>> 8) & 0xff, tcpState: w[o] >>> 16, rulenum: w[o + 1],
        src: addr(i * 64 + 8), dst: addr(i * 64 + 24), sport: w[o + 10] & 0xffff, dport: w[o + 10] >>> 16,
        expiresInMs: w[o + 11], packets: w[o + 12],
      });
    }
    if (n < per) return out;
  }
}

/** The default rule: accept (net.inet.ip.fw.default_to_accept=1) or deny. */
export function ipfwSetDefault(kernel: Kernel, vnet: Vnet, accept: boolean): void {
  checkVnet(kernel, vnet, "ipfw default");
  if (typeof accept !== "boolean") throw new ConfigError(`ipfw default: accept must be a boolean, got ${show(accept)}`);
  const r = x(kernel, "ipfw default").ipfw_set_default(vnet.ptr, accept ? 1 : 0);
  if (r < 0) throw new KernelError("ipfw default", r);
}

/** The per-vnet knobs, FreeBSD's names under net.inet.ip.fw. */
export const IPFW_KNOBS = [
  "default_to_accept", "dyn_max", "dyn_syn_lifetime", "dyn_ack_lifetime", "dyn_fin_lifetime", "dyn_rst_lifetime",
  "dyn_udp_lifetime", "dyn_short_lifetime", "tables_max", "table_entries_max",
] as const;
export type IpfwKnob = (typeof IPFW_KNOBS)[number];
const KNOB_RANGE: Record<IpfwKnob, [number, number]> = {
  default_to_accept: [0, 1], dyn_max: [0, 1048576], dyn_syn_lifetime: [1, 86400], dyn_ack_lifetime: [1, 86400],
  dyn_fin_lifetime: [1, 86400], dyn_rst_lifetime: [1, 86400], dyn_udp_lifetime: [1, 86400], dyn_short_lifetime: [1, 86400],
  tables_max: [1, 65536], table_entries_max: [0, 1048576],
};
/** The table knobs are the kernel's ipfw_table_get/set 0 and 1, after the eight of ipfw_get/set. */
const TABLE_KNOB0 = 8;

export function ipfwGet(kernel: Kernel, vnet: Vnet, knob: IpfwKnob): number {
  checkVnet(kernel, vnet, "sysctl net.inet.ip.fw");
  const i = IPFW_KNOBS.indexOf(knob);
  if (i < 0) throw new ConfigError(`sysctl net.inet.ip.fw: knob must be one of ${IPFW_KNOBS.join(", ")}, got ${show(knob)}`);
  const e = x(kernel, "sysctl net.inet.ip.fw");
  return i >= TABLE_KNOB0 ? e.ipfw_table_get(vnet.ptr, i - TABLE_KNOB0) : e.ipfw_get(vnet.ptr, i);
}

export function ipfwSet(kernel: Kernel, vnet: Vnet, knob: IpfwKnob, value: number): void {
  checkVnet(kernel, vnet, "sysctl net.inet.ip.fw");
  const i = IPFW_KNOBS.indexOf(knob);
  if (i < 0) throw new ConfigError(`sysctl net.inet.ip.fw: knob must be one of ${IPFW_KNOBS.join(", ")}, got ${show(knob)}`);
  const [lo, hi] = KNOB_RANGE[knob];
  integerArg(`sysctl net.inet.ip.fw.${knob}`, value, lo, hi);
  const e = x(kernel, "sysctl net.inet.ip.fw");
  const r = i >= TABLE_KNOB0 ? e.ipfw_table_set(vnet.ptr, i - TABLE_KNOB0, value) : e.ipfw_set(vnet.ptr, i, value);
  if (r < 0) throw new KernelError(`sysctl net.inet.ip.fw.${knob}`, r);
}

/** What ipfw keeps per vnet: dynamic states, rules (without 65535), hooked families, tables, their entries and the entry hash's pages. */
export function ipfwGauges(kernel: Kernel, vnet: Vnet): { states: number; rules: number; hookedInet: boolean; hookedInet6: boolean; logged: number; tables: number; tableEntries: number; tableHashPages: number } {
  checkVnet(kernel, vnet, "ipfw");
  const e = x(kernel, "ipfw");
  const h = e.ipfw_get(vnet.ptr, 10);
  return {
    states: e.ipfw_get(vnet.ptr, 8), rules: e.ipfw_get(vnet.ptr, 9), hookedInet: (h & 1) !== 0, hookedInet6: (h & 2) !== 0, logged: e.ipfw_get(vnet.ptr, 11),
    tables: e.ipfw_table_get(vnet.ptr, 2), tableEntries: e.ipfw_table_get(vnet.ptr, 3), tableHashPages: e.ipfw_table_get(vnet.ptr, 4),
  };
}

export const IPFW_STATS = [
  "badpkt", "denied", "accepted", "dynCreated", "dynFull", "dynExpired", "logged", "rejects", "resets", "nat", "default",
] as const;
export type IpfwStats = Record<(typeof IPFW_STATS)[number], number>;

export function ipfwStats(kernel: Kernel, vnet: Vnet): IpfwStats {
  checkVnet(kernel, vnet, "ipfw stats");
  const e = x(kernel, "ipfw stats");
  const out = {} as IpfwStats;
  IPFW_STATS.forEach((n, i) => (out[n] = e.ipfw_stat(vnet.ptr, i)));
  return out;
}

export interface IpfwLogEntry {
  seq: number;
  timeMs: number;
  rulenum: number;
  /** The rule's action opcode (docs/ipfw_insn.md). */
  action: number;
  direction: "in" | "out";
  forwarded: boolean;
  family: 4 | 6;
  proto: number;
  tcpFlags: number;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  bytes: number;
}

/**
 * The log ring from record `from` on: the entries still held (the ring keeps the last 64)
 * and the sequence number to ask from next time.
 */
export function ipfwLog(kernel: Kernel, vnet: Vnet, from = 0): { entries: IpfwLogEntry[]; next: number; lost: number } {
  checkVnet(kernel, vnet, "ipfw log");
  integerArg("ipfw log: from", from, 0, 0xffffffff);
  const e = x(kernel, "ipfw log");
  const total = e.ipfw_get(vnet.ptr, 11);
  const entries: IpfwLogEntry[] = [];
  let lost = 0;
  for (let s = from; s < total; s++) {
    if (e.ipfw_log_read(vnet.ptr, s, e.ipfw_buf()) !== 1) {
      lost++;
      continue;
    }
    const w = words(kernel, e).slice(0, 16);
    const b = new Uint8Array(kernel.memory.buffer, e.ipfw_buf(), 64).slice();
    const af = (w[3] & 0xff) === 6 ? 6 : 4;
    const addr = (at: number) => (af === 4 ? formatIPv4(b.slice(at, at + 4)) : formatIPv6(b.slice(at, at + 16)));
    entries.push({
      seq: w[0], timeMs: w[1], rulenum: w[2] & 0xffff, action: (w[2] >>> 16) & 0xff, direction: ((w[2] >>> 24) & 1) !== 0 ? "in" : "out",
      forwarded: ((w[2] >>> 24) & 4) !== 0, family: af, proto: (w[3] >>> 8) & 0xff, tcpFlags: (w[3] >>> 16) & 0xff,
      sport: w[4] & 0xffff, dport: w[4] >>> 16, bytes: w[5], src: addr(24), dst: addr(40),
    });
  }
  return { entries, next: Math.max(from, total), lost };
}

// ---------------------------------------------------------------------------------------
// ipfw nat (docs/ipfw_nat.md; the kernel side assembly/netpfil/ipfw/ip_fw_nat.ts)

/** Why the kernel refused a nat config, by reason code (ip_fw_nat.ts NR_*). */
export const IPFW_NAT_REASONS: readonly string[] = [
  "", "instance number not in 1..65534", "unknown flag bits", "the address is 0, broadcast, multicast, class E or loopback",
  "the interface name is not NUL-terminated in 16 bytes", "the redirect count does not match the words (at most 8)",
  "a redirect_port is malformed (protocol, ports or addresses)", "two redirect_port public ranges overlap",
  "16 nat instances already exist in this vnet",
];

/**
 * ipfw nat N config: a NatConfig or its text ("nat 1 config ip 192.0.2.1 redirect_port ...").
 * `if IFNAME` takes that interface's first IPv4 address now (FreeBSD follows later changes;
 * this does not: configure again). With `ip ADDR` the interface holding ADDR, if any, is the
 * external one (for hairpinning).
 */
export function ipfwNatConfig(kernel: Kernel, vnet: Vnet, config: NatConfig | string): void {
  checkVnet(kernel, vnet, "ipfw nat config");
  const e = x(kernel, "ipfw nat config");
  const cfg = typeof config === "string" ? parseNatConfig(config) : config;
  if (cfg === null || typeof cfg !== "object") throw new ConfigError(`ipfw nat config: a NatConfig or its text, got ${show(config)}`);
  const ifs = interfacesOf(kernel, vnet);
  let address = cfg.ip;
  let extIf = "";
  if (cfg.iface !== undefined) {
    const i = ifs.find((f) => f.name === cfg.iface);
    if (!i) throw new ConfigError(`ipfw nat ${cfg.id} config: no interface ${cfg.iface} in vnet ${vnet.name}`);
    const a = addresses(kernel, i)[0];
    if (!a) throw new ConfigError(`ipfw nat ${cfg.id} config: ${cfg.iface} has no IPv4 address`);
    address = a.address;
    extIf = i.name;
  } else if (address !== undefined) {
    extIf = ifs.find((f) => addresses(kernel, f).some((a) => a.address === address))?.name ?? "";
  }
  if (address === undefined) throw new ConfigError(`ipfw nat ${cfg.id} config: needs ip ADDR or if IFNAME`);
  const w = natConfigWords(cfg, address, extIf);
  words(kernel, e).set(w);
  const r = e.ipfw_nat_config(vnet.ptr, e.ipfw_buf(), w.length);
  if (r === -Errno.EINVAL) {
    const why = e.ipfw_nat_reason();
    throw new KernelError(`ipfw nat ${cfg.id} config: refused: ${IPFW_NAT_REASONS[why] ?? `reason ${why}`}`, r);
  }
  if (r < 0) throw new KernelError(`ipfw nat ${cfg.id} config`, r);
}

/** ipfw nat N delete: the instance and its mappings. */
export function ipfwNatDelete(kernel: Kernel, vnet: Vnet, id: number): void {
  checkVnet(kernel, vnet, "ipfw nat delete");
  integerArg("ipfw nat delete: instance", id, 1, 65534);
  const r = x(kernel, "ipfw nat delete").ipfw_nat_del(vnet.ptr, id);
  if (r === -Errno.ENOENT) throw new KernelError(`ipfw nat delete: no instance ${id}`, r);
  if (r < 0) throw new KernelError("ipfw nat delete", r);
}

export const IPFW_NAT_STATS = ["out", "in", "inIgnored", "newMappings", "full", "hairpin", "icmpErrors", "fragDropped"] as const;

export interface IpfwNatRedirect { proto: "tcp" | "udp"; localAddress: string; localPort: number; count: number; publicPort: number; remoteAddress?: string; remotePort?: number }
export interface IpfwNatInstance {
  id: number;
  address: string;
  /** The external interface ('' none known). */
  iface: string;
  flags: { samePorts: boolean; unregOnly: boolean; reset: boolean; fromInterface: boolean };
  entries: number;
  stats: Record<(typeof IPFW_NAT_STATS)[number], number>;
  redirects: IpfwNatRedirect[];
}
export interface IpfwNatEntry {
  instance: number;
  proto: number;
  /** map: a port (or echo id) mapping; frag-out / frag-in: a datagram's fragments. */
  kind: "map" | "frag-out" | "frag-in";
  /** TCP: SYN out 1, SYN in 2, FIN out 4, FIN in 8, RST 16. */
  tcpSeen: number;
  localAddress: string;
  localPort: number;
  publicPort: number;
  remoteAddress: string;
  remotePort: number;
  expiresInMs: number;
  packetsOut: number;
  packetsIn: number;
  bytesOut: number;
  bytesIn: number;
}

const rawV4 = (w: number) => formatIPv4(Uint8Array.of(w & 255, (w >>> 8) & 255, (w >>> 16) & 255, w >>> 24));

/** ipfw nat show: the vnet's instances with counters and redirects, and every live entry. */
export function ipfwNatShow(kernel: Kernel, vnet: Vnet): { instances: IpfwNatInstance[]; entries: IpfwNatEntry[] } {
  checkVnet(kernel, vnet, "ipfw nat show");
  const e = x(kernel, "ipfw nat show");
  const instances: IpfwNatInstance[] = [];
  const entries: IpfwNatEntry[] = [];
  let skip = 0;
  for (let first = true; ; first = false) {
    const n = e.ipfw_nat_list(vnet.ptr, e.ipfw_buf(), BUF_WORDS, skip);
    if (n < 0) throw new KernelError("ipfw nat show", n);
    const w = words(kernel, e).slice(0, n);
    let i = 0;
    while (i < n && w[i] !== 0xffffffff) {
      const nb = new Uint8Array(w.slice(i + 3, i + 7).buffer);
      const name = new TextDecoder().decode(nb.subarray(0, nb.indexOf(0) < 0 ? 16 : nb.indexOf(0)));
      const stats = {} as IpfwNatInstance["stats"];
      IPFW_NAT_STATS.forEach((s, j) => (stats[s] = w[i + 9 + j]!));
      const redirects: IpfwNatRedirect[] = [];
      for (let r = 0; r < w[i + 7]!; r++) {
        const o = i + 17 + r * 5;
        const rd: IpfwNatRedirect = {
          proto: (w[o]! & 0xffff) === 6 ? "tcp" : "udp", count: w[o]! >>> 16, localPort: w[o + 1]! & 0xffff, publicPort: w[o + 1]! >>> 16,
          localAddress: rawV4(w[o + 2]!),
        };
        if (w[o + 3]) rd.remoteAddress = rawV4(w[o + 3]!);
        if (w[o + 4]) rd.remotePort = w[o + 4]!;
        redirects.push(rd);
      }
      const f = w[i + 1]!;
      if (first) {
        instances.push({
          id: w[i]!, address: rawV4(w[i + 2]!), iface: name, entries: w[i + 8]!, stats, redirects,
          flags: { samePorts: (f & 1) !== 0, unregOnly: (f & 2) !== 0, reset: (f & 4) !== 0, fromInterface: (f & 8) !== 0 },
        });
      }
      i += 57;
    }
    i++; // the separator
    let got = 0;
    for (; i + 16 <= n; i += 16, got++) {
      const k = (w[i + 1]! >>> 8) & 255;
      entries.push({
        instance: w[i]!, proto: w[i + 1]! & 255, kind: k === 0 ? "map" : k === 1 ? "frag-out" : "frag-in", tcpSeen: w[i + 1]! >>> 16,
        localAddress: rawV4(w[i + 2]!), localPort: w[i + 3]! & 0xffff, publicPort: w[i + 3]! >>> 16, remoteAddress: rawV4(w[i + 4]!),
        remotePort: w[i + 5]!, expiresInMs: w[i + 6]!, packetsOut: w[i + 7]!, packetsIn: w[i + 8]!,
        bytesOut: w[i + 9]! + w[i + 10]! * 2 ** 32, bytesIn: w[i + 11]! + w[i + 12]! * 2 ** 32,
      });
    }
    skip += got;
    if (n + 16 <= BUF_WORDS) return { instances, entries };
  }
}

export const IPFW_NAT_KNOBS = ["nat_max", "nat_tcp_transitory_lifetime", "nat_tcp_established_lifetime", "nat_udp_lifetime", "nat_icmp_lifetime", "nat_frag_lifetime"] as const;
export type IpfwNatKnob = (typeof IPFW_NAT_KNOBS)[number];

/** A per-vnet NAT knob (or "entries", read only). */
export function ipfwNatGet(kernel: Kernel, vnet: Vnet, knob: IpfwNatKnob | "entries"): number {
  checkVnet(kernel, vnet, "ipfw nat");
  const i = knob === "entries" ? 6 : IPFW_NAT_KNOBS.indexOf(knob);
  if (i < 0) throw new ConfigError(`ipfw nat: knob must be one of ${IPFW_NAT_KNOBS.join(", ")}, entries; got ${show(knob)}`);
  return x(kernel, "ipfw nat").ipfw_nat_get(vnet.ptr, i);
}

export function ipfwNatSet(kernel: Kernel, vnet: Vnet, knob: IpfwNatKnob, value: number): void {
  checkVnet(kernel, vnet, "ipfw nat");
  const i = IPFW_NAT_KNOBS.indexOf(knob);
  if (i < 0) throw new ConfigError(`ipfw nat: knob must be one of ${IPFW_NAT_KNOBS.join(", ")}, got ${show(knob)}`);
  integerArg(`ipfw nat ${knob}`, value, i === 0 ? 0 : 1, i === 0 ? 1048576 : 86400);
  const r = x(kernel, "ipfw nat").ipfw_nat_set(vnet.ptr, i, value);
  if (r < 0) throw new KernelError(`ipfw nat ${knob}`, r);
}

const PROTO_NAME: Record<number, string> = { 1: "icmp", 6: "tcp", 17: "udp" };

/** `ipfw nat show` as text: per instance its config and counters, then its entries. */
export function formatNatShow(s: { instances: IpfwNatInstance[]; entries: IpfwNatEntry[] }, id?: number): string {
  const out: string[] = [];
  for (const i of s.instances) {
    if (id !== undefined && i.id !== id) continue;
    const st = i.stats;
    const cfg = formatNatConfig({
      id: i.id, ...(i.flags.fromInterface ? { iface: i.iface } : { ip: i.address }), samePorts: i.flags.samePorts,
      unregOnly: i.flags.unregOnly, reset: i.flags.reset, redirects: i.redirects,
    });
    out.push(`nat ${i.id}: ${i.address}${i.iface ? ` (${i.iface})` : ""}, ${i.entries} entries; out ${st.out}, in ${st.in}, in ignored ${st.inIgnored}, new ${st.newMappings}, full ${st.full}, hairpin ${st.hairpin}, icmp errors ${st.icmpErrors}, fragments dropped ${st.fragDropped}`);
    out.push(`  ${cfg}`);
    for (const e of s.entries) {
      if (e.instance !== i.id) continue;
      const p = PROTO_NAME[e.proto] ?? String(e.proto);
      const what = e.kind === "map" ? `${p} ${e.localAddress}:${e.localPort} -> ${i.address}:${e.publicPort} (last ${e.remoteAddress}${e.proto === 1 ? "" : `:${e.remotePort}`})` : `${p} fragments ${e.kind === "frag-out" ? "from" : "to"} ${e.localAddress} id ${e.localPort}`;
      out.push(`  ${what} out ${e.packetsOut}/${e.bytesOut} in ${e.packetsIn}/${e.bytesIn} expires ${Math.ceil(e.expiresInMs / 1000)} s`);
    }
  }
  return out.join("\n");
}

// ---------------------------------------------------------------------------------------
// Lookup tables (docs/ipfw.md "Tables"; the kernel side assembly/netpfil/ipfw/ip_fw_table.ts)

/** One entry of an `addr` table: a prefix and its 32-bit value. */
export interface IpfwTableEntry {
  family: 4 | 6;
  /** The prefix's address, masked ("10.0.0.0", "2001:db8::"). */
  address: string;
  prefixLength: number;
  value: number;
}

export interface IpfwTableInfo {
  table: number;
  entries: number;
  /** The table's own limit (0: none). */
  limit: number;
  /** Rules of the vnet that name the table (it cannot be destroyed while any do). */
  references: number;
}

/** A table call the kernel refused: errno plus what was wrong, named. */
export class IpfwTableError extends KernelError {
  readonly table: number;
  constructor(what: string, table: number, errno: number, why: string) {
    super(what, errno);
    this.table = table;
    this.message = `${what}: ${why} (${errnoName(errno)})`;
  }
}

function tableArg(what: string, table: number): void {
  integerArg(`${what}: table number`, table, 0, 65535);
}

/** "10.0.0.0/8", "10.1.2.3" (/32), "2001:db8::/32", "::1" (/128) -> family, length and the 16 bytes (masked). */
export function parseTablePrefix(what: string, text: string): { family: 4 | 6; prefixLength: number; bytes: Uint8Array } {
  if (typeof text !== "string") throw new ConfigError(`${what}: a prefix must be a string ("10.0.0.0/8", "2001:db8::/32"), got ${show(text)}`);
  const slash = text.indexOf("/");
  const addr = slash < 0 ? text : text.slice(0, slash);
  const v6 = addr.includes(":");
  const max = v6 ? 128 : 32;
  let len = max;
  if (slash >= 0) {
    const l = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(l) || Number(l) > max) throw new ConfigError(`${what}: bad ${v6 ? "IPv6" : "IPv4"} mask width in ${JSON.stringify(text)}: expected 0..${max}`);
    len = Number(l);
  }
  const bytes = new Uint8Array(16);
  if (v6) bytes.set(mask6(parseIPv6(addr, `${what}: the address of ${JSON.stringify(text)}`), len));
  else {
    const a = (parseIPv4(addr, `${what}: the address of ${JSON.stringify(text)}`) & mask4(len)) >>> 0;
    bytes.set([a >>> 24, (a >>> 16) & 255, (a >>> 8) & 255, a & 255]);
  }
  return { family: v6 ? 6 : 4, prefixLength: len, bytes };
}

/** Key words at the module buffer: [af | len << 8 | flags << 16][value][16 bytes]. */
function putKey(kernel: Kernel, e: IpfwExports, k: { family: 4 | 6; prefixLength: number; bytes: Uint8Array }, value: number, flags: number): void {
  const w = words(kernel, e);
  w[0] = k.family | (k.prefixLength << 8) | (flags << 16);
  w[1] = value >>> 0;
  new Uint8Array(kernel.memory.buffer, e.ipfw_buf() + 8, 16).set(k.bytes);
}

function entryAt(kernel: Kernel, e: IpfwExports, i: number): IpfwTableEntry {
  const w = words(kernel, e);
  const o = i * 6;
  const family = (w[o] & 0xff) === 6 ? 6 : 4;
  const b = new Uint8Array(kernel.memory.buffer, e.ipfw_buf() + o * 4 + 8, 16).slice();
  return { family, prefixLength: (w[o] >>> 8) & 0xff, value: w[o + 1], address: family === 4 ? formatIPv4(b.slice(0, 4)) : formatIPv6(b) };
}

/** ipfw table N create [limit L]: an empty `addr` table (limit 0: none but the vnet's). */
export function ipfwTableCreate(kernel: Kernel, vnet: Vnet, table: number, opts: { limit?: number } = {}): void {
  const what = `ipfw table ${table} create`;
  checkVnet(kernel, vnet, what);
  tableArg(what, table);
  const limit = opts.limit ?? 0;
  integerArg(`${what}: limit`, limit, 0, 0xffffffff);
  const e = x(kernel, what);
  const r = e.ipfw_table_create(vnet.ptr, table, limit);
  if (r === -Errno.EEXIST) throw new IpfwTableError(what, table, r, `table ${table} already exists`);
  if (r === -Errno.ENOSPC) throw new IpfwTableError(what, table, r, `vnet ${vnet.name} has tables_max (${e.ipfw_table_get(vnet.ptr, 0)}) tables already`);
  if (r === -Errno.ENOMEM) throw new IpfwTableError(what, table, r, `no memory for the table in vnet ${vnet.name}`);
  if (r < 0) throw new KernelError(what, r);
}

/** ipfw table N destroy: the table and its entries (refused while a rule names it). */
export function ipfwTableDestroy(kernel: Kernel, vnet: Vnet, table: number): void {
  const what = `ipfw table ${table} destroy`;
  checkVnet(kernel, vnet, what);
  tableArg(what, table);
  const r = x(kernel, what).ipfw_table_destroy(vnet.ptr, table);
  if (r === -Errno.ESRCH) throw new IpfwTableError(what, table, r, `no table ${table} in vnet ${vnet.name}`);
  if (r === -Errno.EBUSY) throw new IpfwTableError(what, table, r, `rules of vnet ${vnet.name} name table(${table}); delete them first`);
  if (r < 0) throw new KernelError(what, r);
}

/** ipfw table N flush: every entry; how many went. */
export function ipfwTableFlush(kernel: Kernel, vnet: Vnet, table: number): number {
  const what = `ipfw table ${table} flush`;
  checkVnet(kernel, vnet, what);
  tableArg(what, table);
  const r = x(kernel, what).ipfw_table_flush(vnet.ptr, table);
  if (r === -Errno.ESRCH) throw new IpfwTableError(what, table, r, `no table ${table} in vnet ${vnet.name}`);
  if (r < 0) throw new KernelError(what, r);
  return r;
}

/**
 * ipfw table N add PREFIX [VALUE]: "added", or "updated" when the prefix was there and
 * `update` is set (ipfw's -q); without it an existing prefix is an error (EEXIST).
 */
export function ipfwTableAdd(kernel: Kernel, vnet: Vnet, table: number, prefix: string, value = 0, opts: { update?: boolean } = {}): "added" | "updated" {
  const what = `ipfw table ${table} add ${prefix}`;
  checkVnet(kernel, vnet, what);
  tableArg(what, table);
  integerArg(`${what}: value`, value, 0, 0xffffffff);
  const k = parseTablePrefix(what, prefix);
  const e = x(kernel, what);
  putKey(kernel, e, k, value, opts.update ? 1 : 0);
  const r = e.ipfw_table_add(vnet.ptr, table, e.ipfw_buf());
  if (r === 0) return "added";
  if (r === 1) return "updated";
  if (r === -Errno.ESRCH) throw new IpfwTableError(what, table, r, `no table ${table} in vnet ${vnet.name}`);
  if (r === -Errno.EEXIST) throw new IpfwTableError(what, table, r, `table ${table} already holds ${prefix}`);
  if (r === -Errno.EFBIG) throw new IpfwTableError(what, table, r, `table ${table} is at its limit (${ipfwTableInfo(kernel, vnet, table).limit} entries)`);
  if (r === -Errno.ENOSPC) throw new IpfwTableError(what, table, r, `vnet ${vnet.name} holds table_entries_max (${e.ipfw_table_get(vnet.ptr, 1)}) table entries already`);
  if (r === -Errno.ENOMEM) throw new IpfwTableError(what, table, r, `no memory for the entry in vnet ${vnet.name}`);
  throw new KernelError(what, r);
}

/** ipfw table N delete PREFIX: the value the entry had. */
export function ipfwTableDelete(kernel: Kernel, vnet: Vnet, table: number, prefix: string): number {
  const what = `ipfw table ${table} delete ${prefix}`;
  checkVnet(kernel, vnet, what);
  tableArg(what, table);
  const k = parseTablePrefix(what, prefix);
  const e = x(kernel, what);
  putKey(kernel, e, k, 0, 0);
  const r = e.ipfw_table_del(vnet.ptr, table, e.ipfw_buf());
  if (r === -Errno.ESRCH) throw new IpfwTableError(what, table, r, `no table ${table} in vnet ${vnet.name}`);
  if (r === -Errno.ENOENT) throw new IpfwTableError(what, table, r, `table ${table} has no entry ${prefix}`);
  if (r < 0) throw new KernelError(what, r);
  return words(kernel, e)[1];
}

/** ipfw table N list: every entry, IPv4 first, each family in address order then by length. */
export function ipfwTableList(kernel: Kernel, vnet: Vnet, table: number): IpfwTableEntry[] {
  const what = `ipfw table ${table} list`;
  checkVnet(kernel, vnet, what);
  tableArg(what, table);
  const e = x(kernel, what);
  const per = Math.floor(BUF_WORDS / 6);
  const out: IpfwTableEntry[] = [];
  const keys: Uint8Array[] = [];
  for (let skip = 0; ; skip += per) {
    const n = e.ipfw_table_list(vnet.ptr, table, e.ipfw_buf(), per, skip);
    if (n === -Errno.ESRCH) throw new IpfwTableError(what, table, n, `no table ${table} in vnet ${vnet.name}`);
    if (n < 0) throw new KernelError(what, n);
    for (let i = 0; i < n; i++) {
      out.push(entryAt(kernel, e, i));
      keys.push(new Uint8Array(kernel.memory.buffer, e.ipfw_buf() + i * 24 + 8, 16).slice());
    }
    if (n < per) break;
  }
  const order = out.map((_, i) => i).sort((a, b) => {
    const ea = out[a]!;
    const eb = out[b]!;
    if (ea.family !== eb.family) return ea.family - eb.family;
    const ka = keys[a]!;
    const kb = keys[b]!;
    for (let j = 0; j < 16; j++) if (ka[j] !== kb[j]) return ka[j]! - kb[j]!;
    return ea.prefixLength - eb.prefixLength;
  });
  return order.map((i) => out[i]!);
}

/** ipfw table N info: entries, limit, the rules naming it. */
export function ipfwTableInfo(kernel: Kernel, vnet: Vnet, table: number): IpfwTableInfo {
  const what = `ipfw table ${table} info`;
  checkVnet(kernel, vnet, what);
  tableArg(what, table);
  const e = x(kernel, what);
  const r = e.ipfw_table_info(vnet.ptr, table, e.ipfw_buf());
  if (r === -Errno.ESRCH) throw new IpfwTableError(what, table, r, `no table ${table} in vnet ${vnet.name}`);
  if (r < 0) throw new KernelError(what, r);
  const w = words(kernel, e);
  return { table: w[0], entries: w[1], limit: w[2], references: w[3] };
}

/** The vnet's table numbers, ascending (ipfw table all ...). */
export function ipfwTables(kernel: Kernel, vnet: Vnet): number[] {
  checkVnet(kernel, vnet, "ipfw table all");
  const e = x(kernel, "ipfw table all");
  const out: number[] = [];
  for (let skip = 0; ; skip += BUF_WORDS) {
    const n = e.ipfw_table_numbers(vnet.ptr, e.ipfw_buf(), BUF_WORDS, skip);
    if (n < 0) throw new KernelError("ipfw table all", n);
    out.push(...words(kernel, e).slice(0, n));
    if (n < BUF_WORDS) break;
  }
  return out.sort((a, b) => a - b);
}

/** ipfw table N lookup ADDR: the entry a packet from or to ADDR would match (longest prefix), or undefined. */
export function ipfwTableLookup(kernel: Kernel, vnet: Vnet, table: number, address: string): IpfwTableEntry | undefined {
  const what = `ipfw table ${table} lookup ${address}`;
  checkVnet(kernel, vnet, what);
  tableArg(what, table);
  if (typeof address !== "string" || address.includes("/")) throw new ConfigError(`${what}: an address without a prefix length, got ${show(address)}`);
  const k = parseTablePrefix(what, address);
  const e = x(kernel, what);
  putKey(kernel, e, k, 0, 0);
  words(kernel, e)[0] = k.family;
  const r = e.ipfw_table_lookup(vnet.ptr, table, e.ipfw_buf());
  if (r === -Errno.ESRCH) throw new IpfwTableError(what, table, r, `no table ${table} in vnet ${vnet.name}`);
  if (r < 0) throw new KernelError(what, r);
  return r === 1 ? entryAt(kernel, e, 0) : undefined;
}
