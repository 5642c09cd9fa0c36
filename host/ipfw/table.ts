// `ipfw table ...` (FreeBSD sbin/ipfw/tables.c, the `addr` type only): the command's words
// parsed (errors name the 1-based column, so a topology's `firewall:` line points at the
// word), then run over an IpfwTableBackend with ipfw(8)'s output and messages:
//   table N create [type addr] [limit L] [missing] [or-flush]
//   table N add PREFIX [VALUE] [PREFIX [VALUE] ...]      "added: 10.0.0.0/8 0"
//   table N delete PREFIX [PREFIX ...]                    "deleted: 10.0.0.0/8 0"
//   table {N | all} {list | flush | destroy | info}
//   table N lookup ADDRESS
// A prefix is a.b.c.d[/0..32] or an IPv6 address[/0..128] (masked: 10.1.2.3/8 is
// 10.0.0.0/8); a value is a number 0..4294967295 (decimal, 0x hex or 0 octal, as strtoul
// base 0) or a dotted quad (FreeBSD's legacy value: the address as a number).

import { IpfwParseError, foundText } from "./errors.js";
import { parseIPv4Word, parseIPv6Bytes, tokenize } from "./parse.js";
import { ip6String } from "./print.js";

type MaybePromise<T> = T | Promise<T>;

/** A prefix of an `addr` table: family, length and the address's 16 bytes (IPv4 in the first 4), masked. */
export interface TableKey {
  family: 4 | 6;
  prefixLength: number;
  bytes: Uint8Array;
}

export interface TableEntry extends TableKey {
  value: number;
}

export interface TableInfo {
  table: number;
  entries: number;
  limit: number;
  references: number;
}

/**
 * What `ipfw table` needs from a vnet's firewall. Each call throws when the kernel refuses,
 * an error carrying the kernel's `errno` (KernelError): ESRCH no such table, EEXIST the
 * table or the entry exists, ENOENT no such entry, EFBIG the table's limit, ENOSPC the
 * vnet's bound, EBUSY a rule names the table, ENOMEM.
 */
export interface IpfwTableBackend {
  create(table: number, limit: number): MaybePromise<void>;
  destroy(table: number): MaybePromise<void>;
  flush(table: number): MaybePromise<number>;
  /** "added", or "updated" when update is set and the prefix was there. */
  add(table: number, key: TableKey, value: number, update: boolean): MaybePromise<"added" | "updated">;
  /** The deleted entry's value. */
  delete(table: number, key: TableKey): MaybePromise<number>;
  /** Entries in the order `list` prints them. */
  list(table: number): MaybePromise<TableEntry[]>;
  info(table: number): MaybePromise<TableInfo>;
  /** Table numbers, ascending. */
  tables(): MaybePromise<number[]>;
  lookup(table: number, key: TableKey): MaybePromise<TableEntry | undefined>;
}

// FreeBSD's errno numbers (host/lib/errors.ts Errno holds the same; this file stays free of host imports).
const ENOENT = 2;
const ESRCH = 3;
const ENOMEM = 12;
const EBUSY = 16;
const EEXIST = 17;
const EFBIG = 27;
const ENOSPC = 28;
/** strerror(3)'s text, as ipfw's err() prints it. */
const STRERROR: Record<number, string> = {
  [ENOENT]: "No such file or directory", [ESRCH]: "No such process", [ENOMEM]: "Cannot allocate memory",
  [EBUSY]: "Device busy", [EEXIST]: "File exists", [EFBIG]: "File too large", [ENOSPC]: "No space left on device",
};

/** A parsed `table` command. */
export type TableCommand =
  | { op: "create"; table: number; limit: number; missing: boolean; orFlush: boolean }
  | { op: "add"; table: number; entries: { key: TableKey; value: number; text: string }[] }
  | { op: "delete"; table: number; keys: { key: TableKey; text: string }[] }
  | { op: "list" | "flush" | "destroy" | "info"; table: number | "all" }
  | { op: "lookup"; table: number; key: TableKey; text: string };

const USAGE = "table {N | all} {create [type addr] [limit L] | add PREFIX [VALUE] ... | delete PREFIX ... | list | flush | destroy | info | lookup ADDRESS}";

/**
 * Parses the words of `table ...` (from "table" on, as ipfw gets them). Throws an
 * IpfwParseError naming the column (1-based, in `text`) of the word that is wrong.
 */
export function parseTableCommand(text: string): TableCommand {
  const toks = tokenize(text);
  const err = (col: number, msg: string, expected?: string, found?: string) => {
    // Not a rule: the message names the column alone ("column 13: bad IPv4 mask width ...").
    const e = new IpfwParseError({ column: col }, msg, expected, found);
    e.message = `column ${col}: ${msg}`;
    return e;
  };
  const end = text.length + 1;
  let i = 0;
  if (toks[i]?.text === "table") i++;
  const nt = toks[i++];
  if (!nt) throw err(end, `table needs a table number 0..65535 or "all"; ${USAGE}`, "a table number");
  let table: number | "all";
  if (nt.text === "all") table = "all";
  else if (/^\d+$/.test(nt.text) && Number(nt.text) <= 65535) table = Number(nt.text);
  else if (/^\d+$/.test(nt.text)) throw err(nt.col, `table number ${nt.text} is out of range 0..65535`);
  else throw err(nt.col, `expected a table number 0..65535 or "all", found ${foundText(nt.text)} (table names are not supported)`, "a table number", nt.text);
  const ct = toks[i++];
  if (!ct) throw err(end, `table needs a command; ${USAGE}`, "a table command");
  const rest = toks.slice(i);
  const num = (): number => {
    if (table === "all") throw err(nt.col, `"table all" takes only list, flush, destroy or info; ${ct.text} needs a table number`);
    return table;
  };
  const noArgs = () => {
    if (rest.length) throw err(rest[0]!.col, `${ct.text} takes no arguments, found ${foundText(rest[0]!.text)}`);
  };
  switch (ct.text) {
    case "create": {
      const t = num();
      let limit = 0;
      let missing = false;
      let orFlush = false;
      for (let k = 0; k < rest.length; k++) {
        const o = rest[k]!;
        if (o.text === "type") {
          const v = rest[++k];
          if (!v) throw err(end, `expected a table type after "type"`, "a table type");
          if (v.text !== "addr") throw err(v.col, `table type ${foundText(v.text)} is not supported: wavnet's tables are of type addr`, "addr", v.text);
        } else if (o.text === "limit") {
          const v = rest[++k];
          if (!v || !/^\d+$/.test(v.text) || Number(v.text) > 0xffffffff) throw err(v?.col ?? end, `expected a limit 0..4294967295 after "limit", found ${foundText(v?.text)}`, "a number", v?.text);
          limit = Number(v.text);
        } else if (o.text === "missing") missing = true;
        else if (o.text === "or-flush") orFlush = missing = true;
        else if (["valtype", "algo", "locked"].includes(o.text)) throw err(o.col, `the create option ${JSON.stringify(o.text)} is not supported by wavnet's ipfw`);
        else throw err(o.col, `expected a create option (type, limit, missing, or-flush), found ${foundText(o.text)}`, "an option", o.text);
      }
      return { op: "create", table: t, limit, missing, orFlush };
    }
    case "add": {
      const t = num();
      if (rest.length === 0) throw err(end, "address required", "a prefix");
      const entries: { key: TableKey; value: number; text: string }[] = [];
      for (let k = 0; k < rest.length; k += 2) {
        const kt = rest[k]!;
        const vt = rest[k + 1];
        entries.push({ key: tableKey(kt.text, kt.col, err, true), value: vt ? tableValue(vt.text, vt.col, err) : 0, text: kt.text });
      }
      return { op: "add", table: t, entries };
    }
    case "delete": {
      const t = num();
      if (rest.length === 0) throw err(end, "address required", "a prefix");
      return { op: "delete", table: t, keys: rest.map((kt) => ({ key: tableKey(kt.text, kt.col, err, true), text: kt.text })) };
    }
    case "lookup": {
      const t = num();
      const a = rest[0];
      if (!a) throw err(end, "address required", "an address");
      if (rest[1]) throw err(rest[1].col, `lookup takes one address, found ${foundText(rest[1].text)}`);
      return { op: "lookup", table: t, key: tableKey(a.text, a.col, err, false), text: a.text };
    }
    case "list": case "flush": case "destroy": case "info":
      noArgs();
      return { op: ct.text, table };
    case "detail": case "modify": case "swap": case "lock": case "unlock": case "atomic":
      throw err(ct.col, `the table command ${JSON.stringify(ct.text)} is not supported by wavnet's ipfw`);
  }
  throw err(ct.col, `expected a table command (create, add, delete, list, flush, destroy, info, lookup), found ${foundText(ct.text)}`, "a table command", ct.text);
}

type ErrAt = (col: number, msg: string, expected?: string, found?: string) => IpfwParseError;

/** A prefix (prefix: true) or an address: ipfw's tentry_fill_key_type for IPFW_TABLE_ADDR, without host names. */
function tableKey(text: string, col: number, err: ErrAt, prefix: boolean): TableKey {
  const slash = text.indexOf("/");
  const a = slash < 0 ? text : text.slice(0, slash);
  const l = slash < 0 ? undefined : text.slice(slash + 1);
  if (l !== undefined && !prefix) throw err(col, `expected an address without a prefix length, found ${foundText(text)}`, "an address", text);
  const bytes = new Uint8Array(16);
  const w = parseIPv4Word(a);
  if (w !== undefined) {
    let len = 32;
    if (l !== undefined) {
      if (!/^\d{1,2}$/.test(l) || Number(l) > 32) throw err(col + slash + 1, `bad IPv4 mask width: ${foundText(l)} (0..32)`, "a prefix length 0..32", l);
      len = Number(l);
    }
    for (let k = 0; k < 4; k++) bytes[k] = (w >>> (8 * k)) & 0xff;
    return { family: 4, prefixLength: len, bytes: maskBytes(bytes, len) };
  }
  const b6 = parseIPv6Bytes(a);
  if (b6) {
    if (b6.subarray(0, 12).every((x) => x === 0) && !b6.subarray(12).every((x) => x === 0) && !(b6[15] === 1 && b6.subarray(12, 15).every((x) => x === 0))) {
      throw err(col, `use IPv4 instead of v4-compatible ${foundText(a)}`);
    }
    let len = 128;
    if (l !== undefined) {
      if (!/^\d{1,3}$/.test(l) || Number(l) > 128) throw err(col + slash + 1, `bad IPv6 mask width: ${foundText(l)} (0..128)`, "a prefix length 0..128", l);
      len = Number(l);
    }
    return { family: 6, prefixLength: len, bytes: maskBytes(b6, len) };
  }
  throw err(col, `expected an IPv4 or IPv6 ${prefix ? "prefix" : "address"}, found ${foundText(text)} (host names are not supported)`, prefix ? "a prefix" : "an address", text);
}

function maskBytes(b: Uint8Array, len: number): Uint8Array {
  const out = new Uint8Array(16);
  for (let k = 0; k < 16; k++) {
    const bits = Math.max(0, Math.min(8, len - 8 * k));
    out[k] = b[k]! & (bits === 0 ? 0 : (0xff << (8 - bits)) & 0xff);
  }
  return out;
}

/** ipfw's legacy value: strtoul base 0, or a dotted quad as its number. */
function tableValue(text: string, col: number, err: ErrAt): number {
  let v: number | undefined;
  if (/^0[xX][0-9a-fA-F]+$/.test(text)) v = parseInt(text.slice(2), 16);
  else if (/^0[0-7]+$/.test(text)) v = parseInt(text.slice(1), 8);
  else if (/^\d+$/.test(text)) v = Number(text);
  else {
    const w = parseIPv4Word(text);
    if (w !== undefined) v = (((w & 0xff) << 24) | ((w >>> 8 & 0xff) << 16) | ((w >>> 16 & 0xff) << 8) | (w >>> 24)) >>> 0;
  }
  if (v === undefined || v > 0xffffffff) {
    throw err(col, `unable to parse value ${foundText(text)}: a number 0..4294967295 or an IPv4 address`, "a value", text);
  }
  return v;
}

/** "10.0.0.0/8", "2001:db8::/32": the key as ipfw prints it. */
export function formatTableKey(k: TableKey): string {
  const a = k.family === 4 ? `${k.bytes[0]}.${k.bytes[1]}.${k.bytes[2]}.${k.bytes[3]}` : ip6String(k.bytes);
  return `${a}/${k.prefixLength}`;
}

/** One entry as `table N list` prints it (table_show_entry): "10.0.0.0/8 0". */
export function formatTableEntry(e: TableEntry): string {
  return `${formatTableKey(e)} ${e.value >>> 0}`;
}

/** The errno a backend's error carries, or undefined. */
function errnoOf(e: unknown): number | undefined {
  const n = (e as { errno?: unknown } | null)?.errno;
  return typeof n === "number" ? Math.abs(n) : undefined;
}

/** ipfw's err(): "WHAT: strerror", with wavnet's reason after it when the backend gave one. */
function sysErr(what: string, e: unknown): string {
  const n = errnoOf(e);
  const text = n !== undefined ? STRERROR[n] ?? `errno ${n}` : (e as Error).message;
  const why = n !== undefined && e instanceof Error && e.message ? ` (${e.message.replace(/ \([A-Z]+\)$/, "")})` : "";
  return `${what}: ${text}${why}`;
}

/** ipfw's error exit of a table command: one line; what it had printed before is `output`. */
export class IpfwTableCommandError extends Error {
  /** The kernel's errno, when the kernel refused. */
  readonly errno: number | undefined;
  /** The lines printed before the error ("added: ...", "exists: ..."). */
  readonly output: string;
  constructor(message: string, errno?: number, output = "") {
    super(message);
    this.name = "IpfwTableCommandError";
    this.errno = errno;
    this.output = output;
  }
}

/**
 * Runs a parsed `table` command and returns what ipfw prints (lines ending in "\n"); an
 * IpfwTableCommandError with ipfw's message (and any result lines before it) when ipfw
 * would exit with an error. quiet (-q): no result lines; add updates existing prefixes and
 * delete ignores missing ones, as ipfw's -q does.
 */
export async function runTableCommand(b: IpfwTableBackend, c: TableCommand, quiet = false): Promise<string> {
  switch (c.op) {
    case "create": {
      try {
        await b.create(c.table, c.limit);
        return "";
      } catch (e) {
        if (errnoOf(e) !== EEXIST || !c.missing) throw new IpfwTableCommandError(sysErr("Table creation failed", e), errnoOf(e));
        const i = await b.info(c.table);
        if (i.limit !== c.limit) throw new IpfwTableCommandError("The existing table is not compatible with one you are creating.", EEXIST);
        if (c.orFlush) await b.flush(c.table);
        return "";
      }
    }
    case "add": {
      let out = "";
      const tables = await b.tables();
      if (!tables.includes(c.table)) {
        // ipfw's compatibility layer: a table that does not exist is made, with a warning.
        if (!quiet) out += `ipfw: DEPRECATED: inserting data into non-existent table ${c.table}. (auto-created)\n`;
        try {
          await b.create(c.table, 0);
        } catch (e) {
          throw new IpfwTableCommandError(sysErr("Table creation failed", e), errnoOf(e), out);
        }
      }
      let fail: { e: unknown; n: number | undefined } | undefined;
      for (const en of c.entries) {
        const shown = formatTableEntry({ ...en.key, value: en.value });
        try {
          const r = await b.add(c.table, en.key, en.value, quiet);
          if (!quiet) out += `${r}: ${shown}\n`;
        } catch (e) {
          const n = errnoOf(e);
          out += `${n === EEXIST ? "exists" : n === EFBIG ? "limit" : "error"}: ${shown}\n`;
          fail ??= { e, n };
        }
      }
      if (fail) throw new IpfwTableCommandError(addFailure("Adding record failed", fail.e, fail.n), fail.n, out);
      return out;
    }
    case "delete": {
      let out = "";
      if (!(await b.tables()).includes(c.table)) throw new IpfwTableCommandError(`Table ${c.table} does not exist`, ESRCH);
      let fail: { e: unknown; n: number | undefined } | undefined;
      for (const k of c.keys) {
        try {
          const v = await b.delete(c.table, k.key);
          if (!quiet) out += `deleted: ${formatTableEntry({ ...k.key, value: v })}\n`;
        } catch (e) {
          const n = errnoOf(e);
          if (quiet && n === ENOENT) continue;
          out += `${n === ENOENT ? "notfound" : "error"}: ${formatTableEntry({ ...k.key, value: 0 })}\n`;
          fail ??= { e, n };
        }
      }
      if (fail) throw new IpfwTableCommandError(addFailure("Deleting record failed", fail.e, fail.n), fail.n, out);
      return out;
    }
    case "lookup": {
      const tables = await b.tables();
      if (!tables.includes(c.table)) throw new IpfwTableCommandError(`Table ${c.table} not found`, ESRCH);
      const e = await b.lookup(c.table, c.key);
      if (!e) throw new IpfwTableCommandError(`Entry ${c.text} not found`, ENOENT);
      return formatTableEntry(e) + "\n";
    }
    case "list": case "info": {
      const nums = c.table === "all" ? await b.tables() : [c.table];
      let out = "";
      for (const n of nums) {
        let info: TableInfo;
        try {
          info = await b.info(n);
        } catch (e) {
          throw new IpfwTableCommandError(sysErr("failed to request table info", e), errnoOf(e), out);
        }
        if (c.op === "info") {
          out += formatTableInfo(info);
          continue;
        }
        // ipfw prints the header for `table all list` only.
        if (c.table === "all") out += `--- table(${n}), set(0) ---\n`;
        for (const e of await b.list(n)) out += formatTableEntry(e) + "\n";
      }
      return out;
    }
    case "flush": case "destroy": {
      const nums = c.table === "all" ? await b.tables() : [c.table];
      let out = "";
      for (const n of nums) {
        try {
          if (c.op === "flush") await b.flush(n);
          else await b.destroy(n);
        } catch (e) {
          const what = c.op === "flush" ? `failed to flush table ${n} info` : `failed to destroy table ${n}`;
          // ipfw: a table that does not exist is a warning, anything else an error.
          if (errnoOf(e) === ESRCH && c.table !== "all") {
            if (!quiet) out += `ipfw: ${sysErr(what, e)}\n`;
            continue;
          }
          throw new IpfwTableCommandError(sysErr(what, e), errnoOf(e), out);
        }
      }
      return out;
    }
  }
}

function addFailure(what: string, e: unknown, n: number | undefined): string {
  const text = n === EEXIST ? "record already exists" : n === EFBIG ? "limit hit" : n === ESRCH ? "table not found" : n === ENOENT ? "record not found"
    : n !== undefined ? STRERROR[n] ?? `errno ${n}` : (e as Error).message;
  const why = n !== undefined && e instanceof Error && e.message ? ` (${e.message.replace(/ \([A-Z]+\)$/, "")})` : "";
  return `${what}: ${text}${why}`;
}

/**
 * `table N info`, in ipfw's shape: kindex is the table number, the algorithm wavnet's
 * (a hash per prefix length), and size the bytes the table holds in its vnet.
 */
export function formatTableInfo(i: TableInfo): string {
  let s = `--- table(${i.table}), set(0) ---\n`;
  s += ` kindex: ${i.table}, type: addr\n`;
  s += ` references: ${i.references}, valtype: legacy\n`;
  s += ` algorithm: addr:hash-lpm\n`;
  s += ` items: ${i.entries}, size: ${TABLE_BYTES + i.entries * ENTRY_BYTES}\n`;
  if (i.limit > 0) s += ` limit: ${i.limit}\n`;
  return s;
}

/** The kernel's table descriptor and entry sizes (ip_fw_table.ts TD_SIZE, TE_SIZE). */
const TABLE_BYTES = 696;
const ENTRY_BYTES = 48;
