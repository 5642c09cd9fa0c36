// Values as people write them in topology files, shell commands and API calls: durations
// ("10ms"), rates ("10Mbit"), probabilities ("1%"), byte counts ("1MiB"), IPv4/IPv6
// prefixes. This is the one unit grammar of wavnet (docs/cli.md "Units"): the shell's words
// and the browser page's fields call these parsers too. Each returns the value or throws a
// plain Error whose message names the value and what is accepted; the caller adds the file,
// line and field (or the command and its word).
//
// Rates are bits per second unless a unit says B (bytes): Mbit, Mbit/s, Mbps and a bare
// 100M (iperf's -b) are all 10^6 bit/s. tc(8) reads "kbps" as kilobytes per second; wavnet
// does not (the 8x trap the docs warn about): bytes per second are written B/s, kB/s, MB/s,
// KiB/s, MiB/s.

import { parseIPv4, formatIPv4, mask4, isIPv6Text, parseIPv6, parseAddress, bytesToIPv4, scanPrefixLength, type ParsedAddress } from "./addr.js";
import { show } from "./format.js";

/** A decimal number as the grammar takes it: 10, 1.5, .5 (no sign, no exponent). */
const NUM = String.raw`(\d+(?:\.\d*)?|\.\d+)`;

const DURATION = new RegExp(`^${NUM}\\s*(us|µs|ms|s|m)?$`);
const UNIT_US: Record<string, number> = { us: 1, µs: 1, ms: 1000, s: 1_000_000, m: 60_000_000 };
/** What a duration may be, for error messages. */
export const DURATION_FORMS = `a time in us, ms, s or m ("250us", "10ms", "1.5s", "2m"; a bare number is milliseconds)`;

/** "250us", "10ms", "1.5s", "2m" or a bare number of milliseconds -> integer µs. */
export function parseDuration(v: unknown): number {
  let us: number;
  if (typeof v === "number") us = v * 1000;
  else if (typeof v === "string") {
    const m = DURATION.exec(v.trim());
    if (!m) throw new Error(`${show(v)} is not a duration: write ${DURATION_FORMS}`);
    us = Number(m[1]) * UNIT_US[m[2] ?? "ms"];
  } else throw new Error(`expected a duration, got ${show(v)}`);
  if (!Number.isFinite(us) || us < 0) throw new Error(`a duration must be a number >= 0, got ${show(v)}`);
  if (us > 0x7fffffff * 1000) throw new Error(`duration ${show(v)} is too long`);
  return Math.round(us);
}

/** What a probability may be, for error messages. */
export const PROBABILITY_FORMS = `a percentage ("1%", "0.5%") or a fraction from 0 to 1 (0.01)`;

/** "1.5%", a fraction 0..1, or its text "0.015" -> fraction. */
export function parseProbability(v: unknown): number {
  let p: number;
  const t = typeof v === "string" ? v.trim() : "";
  const m = new RegExp(`^${NUM}\\s*(%)?$`).exec(t);
  if (typeof v === "number") p = v;
  else if (m) p = Number(m[1]) / (m[2] ? 100 : 1);
  else throw new Error(`${show(v)} is not a probability: write ${PROBABILITY_FORMS}`);
  if (!Number.isFinite(p) || p < 0 || p > 1) throw new Error(`${show(v)} is not between 0 and 1 (0% and 100%): write ${PROBABILITY_FORMS}`);
  return p;
}

const SI: Record<string, number> = { "": 1, k: 1e3, m: 1e6, g: 1e9, t: 1e12 };
const BIN: Record<string, number> = { ki: 1024, mi: 1 << 20, gi: 1 << 30, ti: 2 ** 40 };
/** Bits: bit, kbit, Mbit, Gbit (the prefix in either case: tc's "mbit" too; the unit in lower case, so B stays bytes), with an optional "/s"; bps, kbps, Mbps, Gbps; a bare 100M. */
const RATE_BITS = new RegExp(`^${NUM}\\s*([kKmMgGtT]?)(bit(?:/s)?|bps)?$`);
/** Bytes per second, only where a capital B says so: B/s, kB/s, KB/s, MB/s, GB/s, KiB/s, MiB/s, GiB/s. */
const RATE_BYTES = new RegExp(`^${NUM}\\s*(k|K|M|G|T|Ki|Mi|Gi|Ti)?B/s$`);
/** What a rate may be, for error messages. */
export const RATE_FORMS = `bits per second as bit, kbit, Mbit, Gbit (also Mbit/s, or kbps, Mbps, Gbps: bits, not tc's kilobytes), a bare 100M (bits, as iperf's -b), or bytes per second spelt with B: kB/s, MB/s, KiB/s, MiB/s`;

/** "10Mbit", "1.5 Gbit/s", "512kbps", "100M", "10MB/s" (bytes: 80 Mbit/s) or a number -> integer bit/s. */
export function parseRate(v: unknown): number {
  let r: number;
  if (typeof v === "number") r = v;
  else if (typeof v === "string") {
    const t = v.trim();
    const b = RATE_BITS.exec(t);
    const B = b ? null : RATE_BYTES.exec(t);
    // A bare number in text is bit/s, as the number is; a bare prefix (100M) needs no unit.
    if (b) r = Number(b[1]) * SI[b[2].toLowerCase()];
    else if (B) {
      const p = B[2] ?? "";
      r = Number(B[1]) * 8 * (p.endsWith("i") ? BIN[p.toLowerCase()] : SI[p.toLowerCase()]);
    } else if (/^[\d.]+\s*[kKmMgGtT]?B(ps)?$/.test(t)) {
      throw new Error(`${show(v)} is not a rate: a capital B means bytes, and bytes per second are written with /s (${t.replace(/ps$/, "").replace(/B$/, "B/s")}), or in bits (${t.replace(/B(ps)?$/, "bit")} is 8 times less); accepted: ${RATE_FORMS}`);
    } else throw new Error(`${show(v)} is not a rate: write ${RATE_FORMS}`);
  } else throw new Error(`expected a rate, got ${show(v)}`);
  if (!Number.isFinite(r) || r < 0 || r > 1e12) throw new Error(`rate ${show(v)} must be from 0 to 1 Tbit/s`);
  return Math.round(r);
}

const BYTES = new RegExp(`^${NUM}\\s*(B|kB|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?$`);
const BYTE_MUL: Record<string, number> = { B: 1, kB: 1e3, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12, KiB: 1024, MiB: 1 << 20, GiB: 1 << 30, TiB: 2 ** 40 };
/** What a byte count may be, for error messages. */
export const BYTES_FORMS = `a number of bytes, or one with B, kB, MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024): 4096, "64KiB", "1MB"`;

/** 4096, "64KiB", "1MB", "10 MiB" -> integer bytes. Bytes only where a B says so: "1M" and "1Mbit" are refused. */
export function parseBytes(v: unknown): number {
  let n: number;
  if (typeof v === "number") n = v;
  else if (typeof v === "string") {
    const m = BYTES.exec(v.trim());
    if (!m) throw new Error(`${show(v)} is not a byte count: write ${BYTES_FORMS}`);
    n = Number(m[1]) * BYTE_MUL[m[2] ?? "B"];
  } else throw new Error(`expected a byte count, got ${show(v)}`);
  if (!Number.isSafeInteger(Math.round(n)) || n < 1) throw new Error(`byte count ${show(v)} must be a whole number >= 1`);
  return Math.round(n);
}

// ---------------------------------------------------------------------------------------
// Addresses: parsed by lib/addr.ts. v4, v4text, mask, isV6 and v6 are the names
// host/topology imports; they stay here as thin aliases.

/** Dotted quad -> host-order u32 (lib/addr.ts parseIPv4). */
export function v4(s: string): number {
  return parseIPv4(s);
}

/** Host-order u32 -> dotted quad (lib/addr.ts formatIPv4). */
export function v4text(a: number): string {
  return formatIPv4(a);
}

/** The IPv4 netmask of a prefix length (lib/addr.ts mask4). */
export const mask = mask4;

/** True for text meant as IPv6 (it has a colon; lib/addr.ts isIPv6Text); checked by v6(). */
export function isV6(s: string): boolean {
  return isIPv6Text(s);
}

/** Checks IPv6 text (lib/addr.ts parseIPv6); returns its 8 groups. */
export function v6(s: string): number[] {
  const b = parseIPv6(s);
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push((b[i] << 8) | b[i + 1]);
  return g;
}

export interface Prefix {
  family: 4 | 6;
  /** IPv4 address as a number (family 4). */
  addr: number;
  plen: number;
  text: string;
}

/**
 * "10.0.0.1/24" or "fd00::1/64" (an interface address with its prefix): checks the address
 * and the prefix length. Errors say "bad address" or "bad prefix" so a reader knows which.
 */
export function parseCidr(s: unknown, opts: { bare?: boolean } = {}): Prefix {
  if (typeof s !== "string") throw new Error(`bad address: expected a string like "10.0.0.1/24", got ${show(s)}`);
  const i = s.indexOf("/");
  const a = i < 0 ? s : s.slice(0, i);
  const six = isIPv6Text(a);
  if (i < 0 && !opts.bare) throw new Error(`bad prefix: ${JSON.stringify(s)} needs a prefix length (like "/24"${six ? ' or "/64"' : ""})`);
  let parsed: ParsedAddress;
  try {
    parsed = parseAddress(a);
  } catch (e) {
    throw new Error(`bad address: ${(e as Error).message}`);
  }
  let plen = parsed.family === 6 ? 128 : 32;
  if (i >= 0) {
    const p = scanPrefixLength(s.slice(i + 1), plen, s);
    if (typeof p === "string") throw new Error(`bad prefix: ${p}`);
    plen = p;
  }
  return { family: parsed.family, addr: parsed.family === 4 ? bytesToIPv4(parsed.bytes) : 0, plen, text: s };
}

/** An interface address: parseCidr plus the IPv4 host-part rules (not the network or broadcast address). */
export function parseIfAddress(s: unknown): Prefix {
  const p = parseCidr(s);
  if (p.family === 4) {
    if (p.plen === 0) throw new Error(`bad prefix: /0 is not an interface prefix in ${JSON.stringify(s)}`);
    const a = p.addr;
    if (a === 0 || a >>> 24 === 0 || a >>> 28 >= 0xe || a === 0xffffffff) throw new Error(`bad address: ${v4text(a)} cannot be an interface address`);
    if (p.plen < 31) {
      const host = (a & ~mask(p.plen)) >>> 0;
      if (host === 0) throw new Error(`bad address: ${v4text(a)} is the network address of /${p.plen}`);
      if (host === (~mask(p.plen) >>> 0)) throw new Error(`bad address: ${v4text(a)} is the broadcast address of /${p.plen}`);
    }
  }
  return p;
}

/** "host:port" / "[v6]:port" -> parts, checked. */
export function parseHostPort(s: unknown): { host: string; port: number } {
  if (typeof s !== "string") throw new Error(`expected "address:port", got ${show(s)}`);
  const m = /^(?:\[([^\]]+)\]|([^:\s]+)):(\d{1,5})$/.exec(s);
  if (!m) throw new Error(`${JSON.stringify(s)} is not "address:port"`);
  const host = m[1] ?? m[2];
  const port = Number(m[3]);
  if (port < 1 || port > 65535) throw new Error(`port ${port} in ${JSON.stringify(s)} is not 1-65535`);
  if (m[1] !== undefined) parseIPv6(host);
  else if (/^\d+\.\d+\.\d+\.\d+$/.test(host)) parseIPv4(host);
  return { host, port };
}

/** A websocket interface's peer: ws:// or wss://, no fragment (what the topology check and the page's inspector accept). */
export function parseWebSocketUrl(s: unknown): URL {
  if (typeof s !== "string") throw new Error(`expected a ws:// URL, got ${show(s)}`);
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new Error(`${JSON.stringify(s)} is not a URL (ws://host:port/path)`);
  }
  if (u.protocol !== "ws:" && u.protocol !== "wss:") throw new Error(`${JSON.stringify(s)} is not ws:// or wss://`);
  if (u.hash) throw new Error(`${JSON.stringify(s)} has a fragment; a WebSocket URL has none`);
  return u;
}

/** Microseconds as the shortest exact unit: 10ms, 250us, 2s. */
export function formatDuration(us: number): string {
  if (us % 1_000_000 === 0 && us !== 0) return `${us / 1_000_000}s`;
  if (us % 1000 === 0) return `${us / 1000}ms`;
  return `${us}us`;
}

/** bit/s as the largest exact SI unit: 50Mbit, 1Gbit, 64kbit. */
export function formatRate(bps: number): string {
  for (const [u, f] of [["Gbit", 1e9], ["Mbit", 1e6], ["kbit", 1e3]] as const) if (bps >= f && bps % f === 0) return `${bps / f}${u}`;
  return `${bps}bit`;
}

/** A probability as a percentage: 0.01 -> 1%. */
export function formatPct(p: number): string {
  return `${Number((p * 100).toPrecision(6))}%`;
}
