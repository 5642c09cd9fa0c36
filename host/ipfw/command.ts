// The `ipfw` command: add, delete, set N delete/flush/list/show, list, show, zero, flush, and
// the -q -S -d -f -a flags, over an IpfwBackend (the kernel's host API implements it; the tests
// use one in memory). Messages follow ipfw(8): `add` prints the rule as the kernel numbered
// it, `flush` prints "Flushed all rules.", `zero` "Accounting cleared." or "Entry N cleared.".

import { IpfwParseError } from "./errors.js";
import {
  IPFW_DEFAULT_RULE, IpfwDecodeError, O_ACCEPT, O_CHECK_STATE, O_COUNT, O_DENY, O_NAT, O_REJECT, O_RESET, O_SKIPTO,
  O_UNREACH6, O_SETDSCP, O_REASS, RESVD_SET, decodeRule,
} from "./insn.js";
import { protocolName } from "./names.js";
import { parseRule, tokenize } from "./parse.js";
import { formatRule, formatRules } from "./print.js";
import { parseTableCommand, runTableCommand, type IpfwTableBackend } from "./table.js";

/** One static rule as the kernel lists it (ipfw_list: the words, then the counters). */
export interface IpfwRuleEntry {
  words: Uint32Array;
  packets: number | bigint;
  bytes: number | bigint;
  /** Seconds of the last match (0: never). */
  lastMatch?: number;
}

/** One dynamic state (keep-state), as `ipfw -d list` prints it. */
export interface IpfwStateEntry {
  /** The rule that created it. */
  rule: number;
  proto: number;
  src: string;
  srcPort: number;
  dst: string;
  dstPort: number;
  packets: number | bigint;
  /** Printed as 0 when the kernel does not count them. */
  bytes?: number | bigint;
  /** Seconds left before it expires. */
  expire: number;
}

/** One record of the log ring (a rule with `log` matched), as `ipfw log` prints it. */
export interface IpfwLogLine {
  seq: number;
  rule: number;
  /** The rule's action opcode (docs/ipfw_insn.md). */
  action: number;
  direction: "in" | "out";
  proto: number;
  src: string;
  srcPort: number;
  dst: string;
  dstPort: number;
}

type MaybePromise<T> = T | Promise<T>;

/**
 * ipfw_list's output (docs/ipfw_insn.md): per rule its words, then packets lo, hi, bytes lo,
 * hi and the last-match seconds. Throws IpfwDecodeError when a rule's length runs past the end.
 */
export function decodeRuleList(buf: Uint32Array): IpfwRuleEntry[] {
  const out: IpfwRuleEntry[] = [];
  let at = 0;
  while (at < buf.length) {
    if (at + 2 > buf.length) throw new IpfwDecodeError(`rule list: a rule header at word ${at} runs past the end (${buf.length} words)`);
    const len = 2 + (buf[at + 1]! & 0xffff);
    if (at + len + 5 > buf.length) throw new IpfwDecodeError(`rule list: the rule at word ${at} (${len} words and 5 of counters) runs past the end (${buf.length} words)`);
    const words = buf.slice(at, at + len);
    decodeRule(words);
    const c = at + len;
    out.push({ words, packets: u64(buf[c]!, buf[c + 1]!), bytes: u64(buf[c + 2]!, buf[c + 3]!), lastMatch: buf[c + 4]! });
    at = c + 5;
  }
  return out;
}

/** lo, hi -> a number, or a bigint past 2^53. */
function u64(lo: number, hi: number): number | bigint {
  const n = hi * 2 ** 32 + lo;
  return Number.isSafeInteger(n) ? n : (BigInt(hi) << 32n) | BigInt(lo);
}

/**
 * What `ipfw` needs from a vnet's firewall: the calls of docs/ipfw_insn.md ("Host ↔ kernel
 * calls"). Each throws (a KernelError) when the kernel refuses.
 */
export interface IpfwBackend {
  /** ipfw_add: a rule whose number is already set (1..65534). */
  add(words: Uint32Array): MaybePromise<void>;
  /** ipfw_del: the rules numbered rulenum, in set `set` or (-1) any set; how many went. */
  delete(rulenum: number, set: number): MaybePromise<number>;
  /** ipfw_flush: every rule but 65535, and every dynamic state. */
  flush(): MaybePromise<void>;
  /** ipfw_zero: the counters of the rules numbered rulenum, or of all rules (0). */
  zero(rulenum: number): MaybePromise<void>;
  /** ipfw_list: every rule in order, the default rule 65535 last. */
  list(): MaybePromise<IpfwRuleEntry[]>;
  /** ipfw_states: the dynamic states; a backend without them lists none. */
  states?(): MaybePromise<IpfwStateEntry[]>;
  /** The log ring's records still held, oldest first, and how many were overwritten before them. */
  log?(): MaybePromise<{ lines: IpfwLogLine[]; lost: number }>;
  /**
   * `ipfw nat N ...` (config, show, delete): its words after "nat", and what it prints. A
   * backend without NAT leaves it out or throws an IpfwCommandError saying so.
   */
  nat?(args: string[]): MaybePromise<string>;
  /** `ipfw table ...` (host/ipfw/table.ts); a backend without tables leaves it out. */
  table?: IpfwTableBackend;
}

export interface IpfwCommandOptions {
  /** net.inet.ip.fw.autoinc_step: the gap `add` leaves after the last rule (1..1000, default 100). */
  autoincStep?: number;
}

/** A command the `ipfw` grammar does not have, or one the rules present refuse. */
export class IpfwCommandError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "IpfwCommandError";
  }
}

const USAGE = "usage: ipfw [-adfqS] {add [N] RULE | delete [set] N[-M] ... | [set N] {list|show} [N[-M] ...] | zero [N ...] | flush | set N {delete [N ...] | flush} | log | nat N ... | table {N | all} ...}";

/**
 * Runs one `ipfw` command line (a string, with or without the leading "ipfw", or its words)
 * and returns what ipfw prints on standard output, lines ending in "\n". Rule text errors are
 * IpfwParseErrors whose columns count from the first character of the rule (after "add").
 */
export async function ipfwCommand(backend: IpfwBackend, command: string | string[], opts: IpfwCommandOptions = {}): Promise<string> {
  const text = Array.isArray(command) ? command.join(" ") : command;
  const toks = tokenize(text);
  let i = 0;
  if (toks[0]?.text === "ipfw") i++;
  const flags = new Set<string>();
  for (; i < toks.length && /^-[a-zA-Z]+$/.test(toks[i]!.text); i++) {
    for (const c of toks[i]!.text.slice(1)) {
      if (!"adfqS".includes(c)) throw new IpfwCommandError(`unknown flag -${c}; ${USAGE}`);
      flags.add(c);
    }
  }
  let useSet = -1;
  if (toks[i]?.text === "set" && toks[i + 1] && /^\d+$/.test(toks[i + 1]!.text)) {
    useSet = setNumber(toks[i + 1]!.text);
    i += 2;
  }
  const cmd = toks[i];
  if (!cmd) throw new IpfwCommandError(USAGE);
  const args = toks.slice(i + 1).map((t) => t.text);
  const quiet = flags.has("q");
  switch (cmd.text) {
    case "add": {
      if (useSet >= 0) throw new IpfwCommandError(`"set N add" is not ipfw syntax: write "add [N] set S RULE"`);
      const rest = toks[i + 1];
      return add(backend, rest ? text.slice(rest.col - 1) : "", quiet, opts.autoincStep ?? 100);
    }
    case "delete": return del(backend, args, useSet, flags.has("f"));
    case "flush":
      if (useSet >= 0) return del(backend, ["set", String(useSet)], -1, true);
      await backend.flush();
      return quiet ? "" : "Flushed all rules.\n";
    case "list": case "show":
      return list(backend, args, useSet, cmd.text === "show" || flags.has("a"), flags.has("S"), flags.has("d"));
    case "zero": return zero(backend, args, quiet);
    case "log": {
      if (args.length) throw new IpfwCommandError(`log takes no arguments; ${USAGE}`);
      if (!backend.log) throw new IpfwCommandError("log: this backend keeps no log");
      return formatLog(await backend.log());
    }
    case "nat":
      if (!backend.nat) throw new IpfwCommandError("nat: not supported by this backend");
      return backend.nat(args);
    case "table": {
      if (useSet >= 0) throw new IpfwCommandError(`"set N table" is not supported: wavnet's tables are all in set 0`);
      if (!backend.table) throw new IpfwCommandError("table: not supported by this backend");
      // Columns of errors count in the whole line, as for rules.
      return runTableCommand(backend.table, parseTableCommand(" ".repeat(cmd.col - 1) + text.slice(cmd.col - 1)), quiet);
    }
  }
  throw new IpfwCommandError(`unknown command ${JSON.stringify(cmd.text)}; ${USAGE}`);
}

function setNumber(s: string): number {
  const n = Number(s);
  if (!/^\d+$/.test(s) || n > RESVD_SET) throw new IpfwCommandError(`invalid set number ${s} (0..31)`);
  return n;
}

/** ipfw's autonumbering (the kernel's, in FreeBSD): the last rule's number + step, unless that would reach 65535. */
export function nextRuleNumber(entries: IpfwRuleEntry[], step = 100): number {
  const st = Math.min(1000, Math.max(1, step));
  let last = 0;
  for (const e of entries) {
    const n = e.words[0]! & 0xffff;
    if (n !== IPFW_DEFAULT_RULE && n > last) last = n;
  }
  return last < IPFW_DEFAULT_RULE - st ? last + st : last;
}

async function add(backend: IpfwBackend, ruleText: string, quiet: boolean, step: number): Promise<string> {
  const rule = parseRule(ruleText);
  const words = rule.words;
  if (rule.rulenum === 0) {
    const n = nextRuleNumber(await backend.list(), step);
    if (n === 0) throw new IpfwCommandError("no rule number is free below the default rule");
    words[0] = (n | (rule.set << 16)) >>> 0;
    const r = decodeRule(words);
    const act = r.action[r.action.length - 1]!;
    if (act.opcode === O_SKIPTO && act.arg1 <= n) {
      throw new IpfwParseError({ rule: n, column: 1 }, `skipto ${act.arg1} from rule ${n} (numbered by add) does not go forward`);
    }
  }
  await backend.add(words);
  return quiet ? "" : formatRule(words) + "\n";
}

/** N or N-M -> [lo, hi]. */
function range(s: string, what: string): [number, number] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(s);
  if (!m) throw new IpfwCommandError(`invalid ${what} ${JSON.stringify(s)}`);
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  if (lo > 65535 || hi > 65535 || lo > hi) throw new IpfwCommandError(`invalid ${what} ${JSON.stringify(s)}`);
  return [lo, hi];
}

async function del(backend: IpfwBackend, args: string[], useSet: number, force: boolean): Promise<string> {
  if (args.length === 0 && useSet < 0) throw new IpfwCommandError("delete: missing rule specification");
  const entries = await backend.list();
  const rules = entries.map((e) => ({ num: e.words[0]! & 0xffff, set: (e.words[0]! >>> 16) & 0x1f }));
  const missing: string[] = [];
  // `delete set N` (and `set N delete` with no numbers): every rule of the set.
  if (args[0] === "set" || args.length === 0) {
    const sets = args.length === 0 ? [useSet] : args.slice(1).map(setNumber);
    if (sets.length === 0) throw new IpfwCommandError("delete set: missing set number");
    for (const s of sets) {
      const nums = [...new Set(rules.filter((r) => r.set === s && r.num !== IPFW_DEFAULT_RULE).map((r) => r.num))];
      for (const n of nums) await backend.delete(n, s);
    }
    return "";
  }
  for (const a of args) {
    const [lo, hi] = range(a, "rule number");
    if (lo <= IPFW_DEFAULT_RULE && hi >= IPFW_DEFAULT_RULE) throw new IpfwCommandError("rule 65535 (the default rule) cannot be deleted");
    const nums = [...new Set(rules.filter((r) => r.num >= lo && r.num <= hi && (useSet < 0 || r.set === useSet)).map((r) => r.num))];
    if (nums.length === 0) missing.push(lo === hi ? `rule ${lo} not found` : `no rules in the range ${lo}-${hi}`);
    for (const n of nums) await backend.delete(n, useSet);
  }
  if (missing.length > 0 && !force) throw new IpfwCommandError(missing.join("; "));
  return "";
}

async function list(backend: IpfwBackend, args: string[], useSet: number, counters: boolean, sets: boolean, dynamic: boolean): Promise<string> {
  const entries = (await backend.list()).filter((e) => useSet < 0 || ((e.words[0]! >>> 16) & 0x1f) === useSet);
  const ranges = args.map((a) => range(a, "rule number"));
  const num = (e: IpfwRuleEntry) => e.words[0]! & 0xffff;
  const shown = ranges.length === 0 ? entries : entries.filter((e) => ranges.some(([lo, hi]) => num(e) >= lo && num(e) <= hi));
  for (const [lo, hi] of ranges) {
    if (!entries.some((e) => num(e) >= lo && num(e) <= hi)) throw new IpfwCommandError(lo === hi ? `rule ${lo} does not exist` : `no rules in range ${lo}-${hi}`);
  }
  const lines = formatRules(shown, { counters, sets });
  if (dynamic && backend.states) {
    const states = (await backend.states()).filter((s) => ranges.length === 0 || ranges.some(([lo, hi]) => s.rule >= lo && s.rule <= hi));
    if (states.length > 0) {
      lines.push(`## Dynamic rules (${states.length}):`);
      const pw = Math.max(...states.map((s) => String(s.packets).length));
      const bw = Math.max(...states.map((s) => String(s.bytes ?? 0).length));
      for (const s of states) {
        let line = String(s.rule).padStart(5, "0");
        if (counters) line += ` ${String(s.packets).padStart(pw)} ${String(s.bytes ?? 0).padStart(bw)} (${s.expire}s)`;
        line += ` STATE ${protocolName(s.proto)} ${s.src} ${s.srcPort} <-> ${s.dst} ${s.dstPort}`;
        lines.push(line);
      }
    }
  }
  return lines.map((l) => l + "\n").join("");
}

const LOG_ACTIONS: Record<number, string> = {
  [O_ACCEPT]: "Accept", [O_DENY]: "Deny", [O_REJECT]: "Unreach", [O_RESET]: "Reset", [O_COUNT]: "Count",
  [O_SKIPTO]: "SkipTo", [O_CHECK_STATE]: "Check-state", [O_NAT]: "Nat", [O_UNREACH6]: "Unreach6", [O_SETDSCP]: "SetDscp", [O_REASS]: "Reass",
};

/**
 * The log ring as FreeBSD's ipfw_log writes it to syslog ("ipfw: 500 Deny TCP
 * 10.0.2.10:49152 10.0.1.10:5001 in"), one line a record; the ring keeps no interface, so
 * no "via IF", and no ICMP type. A first line says how many records were overwritten.
 */
export function formatLog(log: { lines: IpfwLogLine[]; lost: number }): string {
  let out = log.lost > 0 ? `ipfw: ${log.lost} earlier records were overwritten (the ring keeps the last 64)\n` : "";
  for (const l of log.lines) {
    const v6 = l.src.includes(":");
    const ep = (a: string, p: number) => (v6 ? `[${a}]:${p}` : `${a}:${p}`);
    const what = l.proto === 6 ? `TCP ${ep(l.src, l.srcPort)} ${ep(l.dst, l.dstPort)}`
      : l.proto === 17 ? `UDP ${ep(l.src, l.srcPort)} ${ep(l.dst, l.dstPort)}`
      : l.proto === 1 ? `ICMP ${l.src} ${l.dst}`
      : l.proto === 58 ? `ICMPv6 ${l.src} ${l.dst}`
      : `P:${l.proto} ${l.src} ${l.dst}`;
    out += `ipfw: ${l.rule} ${LOG_ACTIONS[l.action] ?? `action ${l.action}`} ${what} ${l.direction}\n`;
  }
  return out;
}

async function zero(backend: IpfwBackend, args: string[], quiet: boolean): Promise<string> {
  if (args.length === 0) {
    await backend.zero(0);
    return quiet ? "" : "Accounting cleared.\n";
  }
  const entries = await backend.list();
  let out = "";
  const missing: number[] = [];
  for (const a of args) {
    if (!/^\d+$/.test(a) || Number(a) > 65535) throw new IpfwCommandError(`invalid rule number ${JSON.stringify(a)}`);
    const n = Number(a);
    if (!entries.some((e) => (e.words[0]! & 0xffff) === n)) {
      out += `Entry ${n} not found\n`;
      missing.push(n);
      continue;
    }
    await backend.zero(n);
    if (!quiet) out += `Entry ${n} cleared.\n`;
  }
  if (missing.length > 0) throw new IpfwCommandError(out.trimEnd());
  return out;
}
