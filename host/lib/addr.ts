// Addresses as text: the one IPv4 parser and formatter (dotted quad <-> u32 or 4 bytes), the
// one IPv6 parser and formatter (RFC 4291 2.2 text forms, the embedded dotted IPv4 tail
// included; RFC 5952 output), zone ids ("fe80::1%epair0a", RFC 4007 11) split off where a
// caller takes them, and prefixes of both families. Everything else in the host (admin,
// sockets, Node look-alikes, topology units) calls these.
//
// Errors are ConfigErrors whose message names the input, e.g.
//   `"10.0.0.256" is not an IPv4 address: 256 is over 255`
// prefixed with `what: ` when the caller says what the text was. The boolean checks
// (isIPv4, isIPv6) build no error.
//
// IPv4 parts are 1-3 decimal digits, each 0-255. A leading zero is read as decimal
// ("010.0.0.1" is 10.0.0.1), never octal as inet_aton(3) reads it: the parsers this file
// replaces all decided it that way, and every caller hands the kernel a number (or, for
// Node's own sockets, the formatted text), so nothing downstream reads the text again.

import { ConfigError } from "./errors.js";
import { show } from "./format.js";

export type Family = 4 | 6;

function fail(what: string | undefined, msg: string): never {
  throw new ConfigError(what ? `${what}: ${msg}` : msg);
}

// ---------------------------------------------------------------------------------------
// IPv4

const DOTTED = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/**
 * The dotted quad in s[from, to) as a host-order u32, or -1 when it is not one: the same
 * texts DOTTED and the 0-255 check take, read without a regex or a slice (a topology's
 * thousands of routes are parsed in a worker whose code is still cold).
 */
function quad(s: string, from: number, to: number): number {
  let a = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || dots === 3) return -1;
      a = a * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      if (++digits > 3) return -1;
      part = part * 10 + (c - 48);
      if (part > 255) return -1;
    } else return -1;
  }
  return digits === 0 || dots !== 3 ? -1 : a * 256 + part;
}

/** The address as a host-order u32, or why the text is not one. */
function scan4(s: unknown): number | string {
  if (typeof s === "string") {
    const a = quad(s, 0, s.length);
    if (a >= 0) return a;
  }
  const m = typeof s === "string" ? DOTTED.exec(s) : null;
  if (!m) return `${show(s)} is not an IPv4 address (a.b.c.d)`;
  let a = 0;
  for (let i = 1; i <= 4; i++) {
    const part = Number(m[i]);
    if (part > 255) return `${show(s)} is not an IPv4 address: ${part} is over 255`;
    a = a * 256 + part;
  }
  return a;
}

/** "10.0.0.1" -> 0x0a000001 (host order); ConfigError naming the input (and `what`). */
export function parseIPv4(s: string, what?: string): number {
  const r = scan4(s);
  if (typeof r === "string") fail(what, r);
  return r;
}

/** "10.0.0.1" -> its 4 bytes in network order. */
export function parseIPv4Bytes(s: string, what?: string): Uint8Array {
  const a = parseIPv4(s, what);
  return Uint8Array.of(a >>> 24, (a >>> 16) & 255, (a >>> 8) & 255, a & 255);
}

/** True for dotted-quad text parseIPv4 takes. */
export function isIPv4(s: unknown): boolean {
  return typeof scan4(s) === "number";
}

/** A host-order u32 (or 4 bytes in network order) -> "10.0.0.1". */
export function formatIPv4(a: number | Uint8Array): string {
  if (typeof a !== "number") {
    if (!(a instanceof Uint8Array)) throw new ConfigError(`an IPv4 address is a 32-bit number or 4 bytes, got ${show(a)}`);
    if (a.length !== 4) throw new ConfigError(`an IPv4 address is 4 bytes, got ${a.length}`);
    return `${a[0]}.${a[1]}.${a[2]}.${a[3]}`;
  }
  if (!Number.isInteger(a) || a < -0x80000000 || a > 0xffffffff) throw new ConfigError(`an IPv4 address is a 32-bit number or 4 bytes, got ${show(a)}`);
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
}

/** The netmask of an IPv4 prefix length, host order: 24 -> 0xffffff00. */
export function mask4(plen: number): number {
  return plen === 0 ? 0 : (0xffffffff << (32 - plen)) >>> 0;
}

// ---------------------------------------------------------------------------------------
// IPv6

/** True for text that is meant as IPv6 (it has a colon): which family's parser to call. */
export function isIPv6Text(s: unknown): boolean {
  return typeof s === "string" && s.includes(":");
}

/** The 16 bytes, or why the text (no zone) is not an IPv6 address. */
function scan6(s: unknown): Uint8Array | string {
  if (typeof s !== "string") return `expected an IPv6 address, got ${show(s)}`;
  const bad = (why: string) => `${show(s)} is not an IPv6 address: ${why}`;
  if (!s.includes(":")) return `${show(s)} is not an IPv6 address (like "fd00::1")`;
  const pct = s.indexOf("%");
  if (pct >= 0) return bad(`a zone (${s.slice(pct)}) is not taken here`);
  if (s.includes(":::")) return bad(`":::" is not a separator`);
  if (s.startsWith(":") && !s.startsWith("::")) return bad(`it starts with a single ":"`);
  if (s.endsWith(":") && !s.endsWith("::")) return bad(`it ends with a single ":"`);
  const dbl = s.split("::");
  if (dbl.length > 2) return bad(`"::" appears more than once`);
  const part = (t: string) => (t === "" ? [] : t.split(":"));
  const head = part(dbl[0]);
  const tail = dbl.length === 2 ? part(dbl[1]) : [];
  const groups: number[] = [];
  // RFC 4291 2.2 form 3: the last 32 bits as a dotted IPv4 address (two groups).
  const last = dbl.length === 2 ? tail : head;
  let v4: number | undefined;
  if (last.length > 0 && last[last.length - 1].includes(".")) {
    const r = scan4(last.pop());
    if (typeof r === "string") return bad(r);
    v4 = r;
  }
  for (const g of [...head, ...tail]) if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return bad(`group ${JSON.stringify(g)} is not 1-4 hex digits`);
  const n = head.length + tail.length + (v4 !== undefined ? 2 : 0);
  if (dbl.length === 1 && n !== 8) return bad(`${n} groups, not 8`);
  if (dbl.length === 2 && n > 7) return bad(`too many groups for "::"`);
  groups.push(...head.map((g) => parseInt(g, 16)));
  if (dbl.length === 2) for (let i = n; i < 8; i++) groups.push(0);
  groups.push(...tail.map((g) => parseInt(g, 16)));
  if (v4 !== undefined) groups.push(v4 >>> 16, v4 & 0xffff);
  const b = new Uint8Array(16);
  groups.forEach((x, i) => {
    b[2 * i] = x >> 8;
    b[2 * i + 1] = x & 0xff;
  });
  return b;
}

/** "fd00::1" -> 16 bytes, network order; ConfigError naming the input (and `what`). No zone: see parseIPv6Zoned. */
export function parseIPv6(s: string, what?: string): Uint8Array {
  const r = scan6(s);
  if (typeof r === "string") fail(what, r);
  return r;
}

/**
 * "fe80::1%epair0a" -> the bytes and the zone (RFC 4007 11: text after the first "%", not
 * empty); plain text has no zone. Which zones an address may carry is the caller's rule.
 */
export function parseIPv6Zoned(s: string, what?: string): { bytes: Uint8Array; zone?: string } {
  const { address, zone } = splitZone(s);
  if (zone === "") fail(what, `${show(s)} is not an IPv6 address: the zone after "%" is empty`);
  const bytes = parseIPv6(address, what);
  return zone === undefined ? { bytes } : { bytes, zone };
}

/** "fe80::1%eth0" -> { address: "fe80::1", zone: "eth0" }; the text unchanged when it has no "%". */
export function splitZone(s: string): { address: string; zone?: string } {
  const pct = typeof s === "string" ? s.indexOf("%") : -1;
  return pct < 0 ? { address: s } : { address: s.slice(0, pct), zone: s.slice(pct + 1) };
}

/** True for IPv6 text parseIPv6 takes (with `zone`, parseIPv6Zoned). */
export function isIPv6(s: unknown, opts: { zone?: boolean } = {}): boolean {
  if (typeof s !== "string") return false;
  if (!opts.zone) return typeof scan6(s) !== "string";
  const { address, zone } = splitZone(s);
  return zone !== "" && typeof scan6(address) !== "string";
}

/**
 * RFC 5952 text: lower case, no leading zeros in a group, the longest run of two or more
 * zero groups as "::" (the first on a tie). IPv4-mapped and -compatible addresses stay in
 * hex ("::ffff:a00:1"), as the kernel's own output does. `zone` is appended as "%zone".
 */
export function formatIPv6(b: Uint8Array, zone?: string): string {
  if (b.length !== 16) throw new ConfigError(`an IPv6 address is 16 bytes, got ${b.length}`);
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push((b[i] << 8) | b[i + 1]);
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (a: number[]) => a.map((x) => x.toString(16)).join(":");
  const text = best < 0 ? hex(g) : `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
  return zone === undefined ? text : `${text}%${zone}`;
}

/** fe80::/10. */
export function isLinkLocal(b: Uint8Array): boolean {
  return b[0] === 0xfe && (b[1] & 0xc0) === 0x80;
}

/** Link-scope destination: link-local unicast, or interface/link-scope multicast (RFC 4007). */
export function isLinkScope(b: Uint8Array): boolean {
  return isLinkLocal(b) || (b[0] === 0xff && (b[1] & 0xf) <= 2);
}

/** The address with the bits beyond plen cleared (a copy). */
export function mask6(b: Uint8Array, plen: number): Uint8Array {
  const out = b.slice();
  for (let i = 0; i < 16; i++) {
    const keep = Math.max(0, Math.min(8, plen - i * 8));
    out[i] &= keep === 0 ? 0 : (0xff << (8 - keep)) & 0xff;
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Either family

export interface ParsedAddress {
  family: Family;
  /** 4 or 16 bytes, network order. */
  bytes: Uint8Array;
}

/** IPv4 or IPv6 text (the family by a colon, as isIPv6Text) -> family and bytes in network order. */
export function parseAddress(s: string, what?: string): ParsedAddress {
  return isIPv6Text(s) ? { family: 6, bytes: parseIPv6(s, what) } : { family: 4, bytes: parseIPv4Bytes(s, what) };
}

/** A host-order u32 from 4 network-order bytes. */
export function bytesToIPv4(b: Uint8Array): number {
  return ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
}

// ---------------------------------------------------------------------------------------
// Prefixes

/** The length after "/" (0-max), or why not; `whole` is the text it came from. */
export function scanPrefixLength(p: string, max: number, whole: string): number | string {
  if (!/^\d{1,3}$/.test(p) || Number(p) > max) return `length ${JSON.stringify(p)} in ${JSON.stringify(whole)} is not 0-${max}`;
  return Number(p);
}

function prefixOf<A>(s: string, what: string | undefined, allowBare: boolean, family: Family, parse: (t: string) => A, zero: A): [A, number] {
  const max = family === 4 ? 32 : 128;
  const like = family === 4 ? "10.0.0.0/24" : "fd00:1::/64";
  if (s === "default") return [zero, 0];
  if (typeof s !== "string") fail(what, `expected a prefix like "${like}", got ${show(s)}`);
  const i = s.indexOf("/");
  if (i < 0) {
    if (!allowBare) fail(what, `${JSON.stringify(s)} needs a prefix length ("/${family === 4 ? 24 : 64}")`);
    return [parse(s), max];
  }
  const a = parse(s.slice(0, i));
  const plen = scanPrefixLength(s.slice(i + 1), max, s);
  if (typeof plen === "string") fail(what, `prefix ${plen}`);
  return [a, plen];
}

/** "10.0.0.0/24" (or "default", or a bare address: /32 unless !allowBare) -> [host-order address, plen]. */
export function parsePrefix(s: string, what?: string, allowBare = true): [number, number] {
  // The common "a.b.c.d/n" read in place; anything else (and every error) as prefixOf reads it.
  if (typeof s === "string") {
    const i = s.indexOf("/");
    const digits = s.length - i - 1;
    if (i > 0 && digits >= 1 && digits <= 3) {
      let plen = 0;
      for (let j = i + 1; j < s.length; j++) {
        const c = s.charCodeAt(j);
        plen = c >= 48 && c <= 57 ? plen * 10 + (c - 48) : 99;
      }
      const a = plen <= 32 ? quad(s, 0, i) : -1;
      if (a >= 0) return [a, plen];
    }
  }
  return prefixOf(s, what, allowBare, 4, (t) => parseIPv4(t, what), 0);
}

/** "fd00::/64" (or "default", or a bare address: /128 unless !allowBare) -> [address, plen]. */
export function parsePrefix6(s: string, what?: string, allowBare = true): [Uint8Array, number] {
  return prefixOf(s, what, allowBare, 6, (t) => parseIPv6(t, what), new Uint8Array(16));
}
