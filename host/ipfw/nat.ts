// `ipfw nat N config ...` and `ipfw nat N show|delete` (FreeBSD ipfw(8), NETWORK ADDRESS
// TRANSLATION) as text -> a NatConfig, and a NatConfig -> the kernel's config words
// (assembly/netpfil/ipfw/ip_fw_nat.ts nat_config). The subset supported is docs/ipfw_nat.md's;
// any other FreeBSD keyword is refused by name. Errors are IpfwParseErrors naming the column.

import { IpfwParseError, foundText } from "./errors.js";

export interface NatRedirectPort {
  proto: "tcp" | "udp";
  /** The inside target address and first port. */
  localAddress: string;
  localPort: number;
  /** How many ports (a range LPORT-LPORT2 and aliasPORT-aliasPORT2 of the same length). */
  count: number;
  /** The first public port. */
  publicPort: number;
  /** Only from this remote address (and port, 0 any). */
  remoteAddress?: string;
  remotePort?: number;
}

export interface NatConfig {
  id: number;
  /** `ip ADDR`, or the interface `if IFNAME` whose first IPv4 address is used (read at config time). */
  ip?: string;
  iface?: string;
  samePorts: boolean;
  unregOnly: boolean;
  reset: boolean;
  redirects: NatRedirectPort[];
}

export type NatCommand =
  | { op: "config"; config: NatConfig }
  | { op: "show"; id?: number }
  | { op: "delete"; id: number };

const UNSUPPORTED = new Set([
  "deny_in", "log", "reverse", "proxy_only", "redirect_addr", "redirect_proto", "skip_global", "unreg_cgn", "port_range",
  "udp_eim",
]);

interface Tok { w: string; col: number }

function toks(text: string): Tok[] {
  const out: Tok[] = [];
  const re = /\S+/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) out.push({ w: m[0], col: m.index + 1 });
  return out;
}

const V4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
function isAddr(s: string): boolean {
  const m = V4.exec(s);
  return m !== null && m.slice(1).every((x) => Number(x) <= 255);
}
function portOf(s: string): number | undefined {
  if (!/^\d{1,5}$/.test(s)) return undefined;
  const n = Number(s);
  return n >= 1 && n <= 65535 ? n : undefined;
}
/** "P" or "P-Q" -> [first, count]. */
function portRange(s: string): [number, number] | undefined {
  const [a, b, ...rest] = s.split("-");
  if (rest.length) return undefined;
  const lo = portOf(a!);
  const hi = b === undefined ? lo : portOf(b);
  if (lo === undefined || hi === undefined || hi < lo) return undefined;
  return [lo, hi - lo + 1];
}

/**
 * The words after `ipfw`: "nat N config ...", "nat N show", "nat show", "nat N delete".
 * The leading "nat" may be left out of text given to parseNatConfig.
 */
export function parseNatCommand(text: string): NatCommand {
  const t = toks(text);
  let i = 0;
  const end = text.length + 1;
  const err = (at: Tok | undefined, reason: string, expected?: string): never => {
    throw new IpfwParseError({ column: at?.col ?? end }, reason + (expected ? `: expected ${expected}, found ${foundText(at?.w)}` : ""), expected, at?.w);
  };
  if (t[i]?.w === "nat") i++;
  if (t[i]?.w === "show" && i + 1 === t.length) return { op: "show" };
  const idt = t[i];
  const id = idt !== undefined && /^\d+$/.test(idt.w) ? Number(idt.w) : NaN;
  if (!(id >= 1 && id <= 65534)) err(idt, "a nat instance number", "a number 1..65534");
  i++;
  const verb = t[i];
  if (verb?.w === "show" || verb?.w === "delete") {
    if (t[i + 1] !== undefined) err(t[i + 1], `nothing may follow "${verb.w}"`, "the end of the command");
    return verb.w === "show" ? { op: "show", id } : { op: "delete", id };
  }
  if (verb?.w !== "config") err(verb, "after the instance number", `"config", "show" or "delete"`);
  i++;
  const cfg: NatConfig = { id, samePorts: false, unregOnly: false, reset: false, redirects: [] };
  while (i < t.length) {
    const k = t[i]!;
    i++;
    switch (k.w) {
      case "ip": {
        const a = t[i];
        if (a === undefined || !isAddr(a.w)) err(a, `after "ip"`, "an IPv4 address");
        if (cfg.ip !== undefined || cfg.iface !== undefined) err(k, `"ip" or "if" given twice`);
        cfg.ip = a!.w;
        i++;
        break;
      }
      case "if": {
        const a = t[i];
        if (a === undefined || !/^[A-Za-z][A-Za-z0-9_.]{0,14}$/.test(a.w)) err(a, `after "if"`, "an interface name (at most 15 characters)");
        if (cfg.ip !== undefined || cfg.iface !== undefined) err(k, `"ip" or "if" given twice`);
        cfg.iface = a!.w;
        i++;
        break;
      }
      case "same_ports": cfg.samePorts = true; break;
      case "unreg_only": cfg.unregOnly = true; break;
      case "reset": cfg.reset = true; break;
      case "redirect_port": {
        // redirect_port proto targetIP:targetPORT[-targetPORT] [aliasIP:]aliasPORT[-aliasPORT] [remoteIP[:remotePORT]]
        const p = t[i];
        if (p?.w !== "tcp" && p?.w !== "udp") err(p, `after "redirect_port"`, `"tcp" or "udp"`);
        const tg = t[i + 1];
        const tm = tg === undefined ? null : /^([^:]+):(.+)$/.exec(tg.w);
        const tr = tm ? portRange(tm[2]!) : undefined;
        if (!tm || !isAddr(tm[1]!) || tr === undefined) err(tg, "redirect_port target", "ADDR:PORT[-PORT]");
        const al = t[i + 2];
        const am = al === undefined ? null : /^(?:([^:]+):)?(.+)$/.exec(al.w);
        const ar = am ? portRange(am[2]!) : undefined;
        if (!am || ar === undefined || (am[1] !== undefined && !isAddr(am[1]))) err(al, "redirect_port public side", "[ADDR:]PORT[-PORT]");
        if (ar![1] !== tr![1]) err(al, `the public port range must be as long as the target's (${tr![1]})`);
        if (am![1] !== undefined) {
          if (cfg.ip === undefined) err(al, "redirect_port with an alias address needs \"ip\" given before it");
          else if (am![1] !== cfg.ip) err(al, `the alias address must be the instance's (${cfg.ip}): one address per instance here`);
        }
        i += 3;
        const r: NatRedirectPort = { proto: p!.w as "tcp" | "udp", localAddress: tm![1]!, localPort: tr![0], count: tr![1], publicPort: ar![0] };
        const rem = t[i];
        if (rem !== undefined && /^\d/.test(rem.w)) {
          const rm = /^([^:]+)(?::(.+))?$/.exec(rem.w)!;
          if (!isAddr(rm[1]!)) err(rem, "redirect_port remote", "ADDR[:PORT]");
          const rp = rm[2] === undefined ? 0 : portOf(rm[2]);
          if (rp === undefined) err(rem, "redirect_port remote port", "one port 1..65535 (ranges are not supported)");
          r.remoteAddress = rm[1]!;
          r.remotePort = rp!;
          i++;
        }
        if (cfg.redirects.length === 8) err(p, "at most 8 redirect_port per instance");
        cfg.redirects.push(r);
        break;
      }
      default:
        if (UNSUPPORTED.has(k.w)) err(k, `"${k.w}" is FreeBSD's but not supported here (docs/ipfw_nat.md)`);
        err(k, "in nat config", `"ip", "if", "same_ports", "unreg_only", "reset" or "redirect_port"`);
    }
  }
  if (cfg.ip === undefined && cfg.iface === undefined) err(undefined, "nat config needs an address", `"ip ADDR" or "if IFNAME"`);
  return { op: "config", config: cfg };
}

/** `nat N config ...` text -> its NatConfig (throws IpfwParseError). */
export function parseNatConfig(text: string): NatConfig {
  const c = parseNatCommand(text);
  if (c.op !== "config") throw new IpfwParseError({ column: 1 }, `expected "nat N config ...", found a ${c.op} command`);
  return c.config;
}

const NATF_SAME_PORTS = 1;
const NATF_UNREG_ONLY = 2;
const NATF_RESET = 4;
const NATF_IF = 8;

/** Network-order bytes of a.b.c.d read as the kernel's little-endian word. */
function rawAddr(s: string): number {
  const b = s.split(".").map(Number);
  return (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
}
function nameWords(n: string): number[] {
  const b = new Uint8Array(16);
  b.set(new TextEncoder().encode(n).subarray(0, 15));
  const v = new DataView(b.buffer);
  return [0, 4, 8, 12].map((o) => v.getUint32(o, true));
}

/**
 * The kernel's words: [id][flags][addr][external ifname 4][nredir][redirects 5 each:
 * proto | count << 16, lport | pport << 16, laddr, raddr (0 any), rport (0 any)].
 * address: the public address (cfg.ip, or the interface's read by the caller); extIf: the
 * external interface's name (cfg.iface, or the one holding cfg.ip; '' when none).
 */
export function natConfigWords(cfg: NatConfig, address: string, extIf: string): Uint32Array {
  let flags = 0;
  if (cfg.samePorts) flags |= NATF_SAME_PORTS;
  if (cfg.unregOnly) flags |= NATF_UNREG_ONLY;
  if (cfg.reset) flags |= NATF_RESET;
  if (cfg.iface !== undefined) flags |= NATF_IF;
  const w = [cfg.id, flags, rawAddr(address), ...nameWords(extIf), cfg.redirects.length];
  for (const r of cfg.redirects) {
    w.push(((r.proto === "tcp" ? 6 : 17) | (r.count << 16)) >>> 0, (r.localPort | (r.publicPort << 16)) >>> 0, rawAddr(r.localAddress),
      r.remoteAddress ? rawAddr(r.remoteAddress) : 0, r.remotePort ?? 0);
  }
  return Uint32Array.from(w);
}

/** The config as `ipfw nat N show config` prints it. */
export function formatNatConfig(cfg: NatConfig): string {
  const p = [`ipfw nat ${cfg.id} config`, cfg.iface !== undefined ? `if ${cfg.iface}` : `ip ${cfg.ip}`];
  if (cfg.samePorts) p.push("same_ports");
  if (cfg.unregOnly) p.push("unreg_only");
  if (cfg.reset) p.push("reset");
  for (const r of cfg.redirects) {
    const rng = (a: number) => (r.count > 1 ? `${a}-${a + r.count - 1}` : `${a}`);
    p.push(`redirect_port ${r.proto} ${r.localAddress}:${rng(r.localPort)} ${rng(r.publicPort)}`);
    if (r.remoteAddress) p.push(r.remotePort ? `${r.remoteAddress}:${r.remotePort}` : r.remoteAddress);
  }
  return p.join(" ");
}
