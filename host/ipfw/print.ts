// A rule's words -> the text `ipfw list` and `ipfw show` print for it (show_static_rule in
// FreeBSD's sbin/ipfw/ipfw2.c): the number as %05u, for `show` the packet and byte counters in
// columns as wide as the widest of the listing, the action and its log modifier, then the body
// with ipfw's normalisations: `ip` when no protocol is matched, `any` when no address is,
// a port list printed beside its address only when it is the only one and outside an or-block,
// `setup` for syn,!ack, `out` for `not in`, `keep-state :default`, `{ a or b }` blocks. Every
// other match instruction follows in the order the rule holds it. The text reads back
// (compileRule) to the same words; docs/ipfw.md lists where it departs from FreeBSD's bytes.

import {
  O_ACCEPT, O_CHECK_STATE, O_COUNT, O_DENY, O_ESTAB, O_FRAG, O_ICMP6TYPE, O_ICMPCODE, O_ICMPTYPE, O_IN, O_IP4, O_IP6,
  O_IP6_DST_MASK, O_IP6_SRC_MASK, O_IPID, O_IPLEN, O_IPTTL, O_IP_DSTPORT, O_IP_DST_LOOKUP, O_IP_DST_MASK, O_IP_DST_ME,
  O_IP_SRCPORT, O_IP_SRC_LOOKUP, O_IP_SRC_MASK, O_IP_SRC_ME, O_KEEP_STATE, O_LAYER2, O_LOG, O_NAT, O_PROBE_STATE,
  O_PROTO, O_RECV, O_REJECT, O_RESET, O_SETUP, O_SKIPTO, O_DSCP, O_SETDSCP, O_REASS, O_TCPFLAGS, O_TCPOPTS, O_UNREACH6, O_VIA, O_XMIT, REJECT_RST,
  decodeRule, type Insn,
} from "./insn.js";
import { ICMP6_CODES, ICMP_CODES, TCP_FLAGS, TCP_OPTS, dscpText, protocolName } from "./names.js";

export interface FormatOptions {
  /** Packet and byte counters (`ipfw show`), printed in columns of these widths. */
  counters?: { packets: number | bigint; bytes: number | bigint; packetsWidth: number; bytesWidth: number };
  /** Print `set N` after the number (`ipfw -S`); a rule outside set 0 reads back to its set only with it. */
  sets?: boolean;
}

const SRC = new Set([O_IP_SRC_MASK, O_IP_SRC_ME, O_IP_SRC_LOOKUP, O_IP6_SRC_MASK]);
const DST = new Set([O_IP_DST_MASK, O_IP_DST_ME, O_IP_DST_LOOKUP, O_IP6_DST_MASK]);

/** One rule's line, without a newline. Throws IpfwDecodeError for words that break the layout. */
export function formatRule(words: Uint32Array, opts: FormatOptions = {}): string {
  const r = decodeRule(words);
  let out = String(r.rulenum).padStart(5, "0") + " ";
  if (opts.counters) {
    const c = opts.counters;
    out += String(c.packets).padStart(c.packetsWidth) + " " + String(c.bytes).padStart(c.bytesWidth) + " ";
  }
  if (opts.sets) out += `set ${r.set} `;
  const act = r.action[r.action.length - 1];
  out += act ? actionText(act) : "** no action";
  for (const m of r.action.slice(0, -1)) {
    if (m.opcode === O_LOG) out += m.arg1 > 0 ? ` log logamount ${m.arg1}` : " log";
    else out += ` [opcode ${m.opcode} len ${m.len}]`;
  }
  if (act?.opcode === O_CHECK_STATE && r.match.length === 0) return out;
  return out + new BodyPrinter(r.match).print();
}

/**
 * Lines of `ipfw list` (no counters) or `ipfw show` (counters, column widths from the widest
 * value of the listing, as ipfw computes them).
 */
export function formatRules(entries: { words: Uint32Array; packets?: number | bigint; bytes?: number | bigint }[], opts: { counters?: boolean; sets?: boolean } = {}): string[] {
  const pw = Math.max(0, ...entries.map((e) => String(e.packets ?? 0).length));
  const bw = Math.max(0, ...entries.map((e) => String(e.bytes ?? 0).length));
  return entries.map((e) => formatRule(e.words, {
    sets: opts.sets,
    counters: opts.counters ? { packets: e.packets ?? 0, bytes: e.bytes ?? 0, packetsWidth: pw, bytesWidth: bw } : undefined,
  }));
}

function actionText(a: Insn): string {
  switch (a.opcode) {
    case O_ACCEPT: return "allow";
    case O_DENY: return "deny";
    case O_COUNT: return "count";
    case O_RESET: return "reset";
    case O_CHECK_STATE: return "check-state :default";
    case O_SKIPTO: return `skipto ${a.arg1}`;
    case O_NAT: return `nat ${a.arg1}`;
    case O_SETDSCP: return `setdscp ${dscpText(a.arg1)}`;
    case O_REASS: return "reass";
    case O_REJECT:
      if (a.arg1 === REJECT_RST) return "reset";
      if (a.arg1 === 1) return "reject";
      return `unreach ${ICMP_CODES.find(([, c]) => c === a.arg1)?.[0] ?? a.arg1}`;
    case O_UNREACH6: return `unreach6 ${ICMP6_CODES.find(([, c]) => c === a.arg1)?.[0] ?? a.arg1}`;
  }
  return `** unrecognized action ${a.opcode} len ${a.len}`;
}

/** The body after the action: ipfw's print_proto, print_address and the rest, in its order. */
class BodyPrinter {
  private readonly printed: boolean[];
  private out = "";
  private orBlock = false;
  private haveSrc = false;
  private haveDst = false;
  private haveProto = false;
  private probe = false;

  constructor(private readonly insns: Insn[]) {
    this.printed = insns.map(() => false);
  }

  print(): string {
    this.proto();
    this.out += " from";
    this.address(SRC, O_IP_SRCPORT);
    this.haveSrc = true;
    this.out += " to";
    this.address(DST, O_IP_DSTPORT);
    this.haveDst = true;
    for (let k = 0; k < this.insns.length; k++) this.one(k);
    return this.out;
  }

  /** The first unprinted instruction with this opcode, printed; its index or -1. */
  private byOpcode(op: number): number {
    const k = this.insns.findIndex((x, j) => !this.printed[j] && x.opcode === op);
    if (k >= 0) this.one(k);
    return k;
  }

  private proto(): void {
    let protos = 0;
    let ip4 = 0;
    let ip6 = 0;
    for (const x of this.insns) {
      if (x.opcode === O_PROTO) protos++;
      else if (x.opcode === O_IP4) ip4 = x.or ? 2 : 1;
      else if (x.opcode === O_IP6) ip6 = x.or ? 2 : 1;
    }
    if (protos === 0 && ip4 === 0 && ip6 === 0) {
      this.out += " ip";
      this.haveProto = true;
      return;
    }
    // An or-block of protocols prints in the order it is held. (ipfw prints ip4/ip6 first and
    // then the protocols, which reorders `{ ip6 or ip4 or tcp }` and, with ip4 last, leaves
    // the block unclosed; where ipfw's order is the held one the text is the same.)
    const first = this.insns.findIndex((x) => x.opcode === O_PROTO || x.opcode === O_IP4 || x.opcode === O_IP6);
    if (this.insns[first]!.or) {
      for (let j = first; j < this.insns.length; j++) {
        this.one(j);
        if (!this.insns[j]!.or) break;
      }
      this.haveProto = true;
      return;
    }
    let k = -1;
    if (ip4 || ip6) k = this.byOpcode(ip4 > ip6 ? O_IP4 : O_IP6);
    if (k >= 0 && this.insns[k]!.or) k = this.byOpcode(ip4 > ip6 ? O_IP6 : O_IP4);
    if (k < 0 || this.insns[k]!.or) {
      for (let n = protos; n > 0; n--) {
        k = this.byOpcode(O_PROTO);
        if (k < 0 || !this.insns[k]!.or) break;
      }
    }
    this.haveProto = true;
  }

  private address(ops: Set<number>, portOp: number): void {
    let ports = 0;
    for (const x of this.insns) if (x.opcode === portOp) ports++;
    // The first address instruction, with its or-block when every member is an address of
    // this side; one in a block mixed with other options (src-ip X or dst-ip Y) stays an
    // option, printed with its keyword.
    let start = -1;
    for (let k = 0; k < this.insns.length && start < 0; k++) {
      if (!ops.has(this.insns[k]!.opcode)) continue;
      let a = k;
      while (a > 0 && this.insns[a - 1]!.or) a--;
      let z = a;
      while (this.insns[z]!.or && z + 1 < this.insns.length) z++;
      let pure = true;
      for (let j = a; j <= z; j++) if (!ops.has(this.insns[j]!.opcode)) pure = false;
      // Only where ipfw compiles the field: after what is printed already (an address given
      // as an option, after ports or other options, stays one, so the words keep their order).
      for (let j = 0; j < a; j++) if (!this.printed[j] && this.insns[j]!.opcode !== O_PROBE_STATE) pure = false;
      if (pure) start = a;
      else k = z;
    }
    if (start < 0) this.out += " any";
    for (let k = start; k >= 0 && k < this.insns.length; k++) {
      this.one(k);
      if (!this.insns[k]!.or) break;
    }
    // One port list beside its address, unless it sits in an or-block; else with the options.
    if (ports === 1) {
      let prevOr = false;
      for (let k = 0; k < this.insns.length; k++) {
        const x = this.insns[k]!;
        if (x.opcode !== portOp) { prevOr = x.or; continue; }
        if (!prevOr && !x.or) this.one(k);
        break;
      }
    }
  }

  /** ipfw's print_instruction: braces, not, the instruction, or. */
  private one(k: number): void {
    if (this.printed[k]) return;
    const x = this.insns[k]!;
    if (x.or && !this.orBlock) this.out += " {";
    if (x.opcode !== O_IN && x.not) this.out += " not";
    this.out += this.body(x);
    if (x.or) {
      this.out += " or";
      this.orBlock = true;
    } else if (this.orBlock) {
      this.out += " }";
      this.orBlock = false;
    }
    this.printed[k] = true;
  }

  private body(x: Insn): string {
    switch (x.opcode) {
      case O_PROBE_STATE: this.probe = true; return "";
      case O_IP_SRC_MASK: case O_IP_SRC_ME: case O_IP_SRC_LOOKUP:
        return (this.haveSrc ? " src-ip" : "") + " " + ip4Text(x);
      case O_IP_DST_MASK: case O_IP_DST_ME: case O_IP_DST_LOOKUP:
        return (this.haveDst ? " dst-ip" : "") + " " + ip4Text(x);
      case O_IP6_SRC_MASK: return (this.haveSrc ? " src-ip6" : "") + " " + ip6Text(x);
      case O_IP6_DST_MASK: return (this.haveDst ? " dst-ip6" : "") + " " + ip6Text(x);
      case O_IP_SRCPORT: case O_IP_DSTPORT: {
        const name = this.haveSrc && this.haveDst ? (x.opcode === O_IP_SRCPORT ? " src-port" : " dst-port") : "";
        return name + " " + rangesText(x);
      }
      case O_PROTO: return (this.haveProto ? " proto" : "") + " " + protocolName(x.arg1);
      case O_IP4: return " ip4";
      case O_IP6: return " ip6";
      case O_IN: return x.not ? " out" : " in";
      case O_FRAG: return " frag";
      case O_LAYER2: return " layer2";
      case O_ESTAB: return " established";
      case O_SETUP: return " setup";
      case O_TCPFLAGS: return flagsText("tcpflags", x.arg1, TCP_FLAGS, true);
      case O_TCPOPTS: return flagsText("tcpoptions", x.arg1, TCP_OPTS, false);
      case O_ICMPTYPE: return " icmptypes " + bitmapText(x.ops);
      case O_ICMP6TYPE: return " icmp6types " + bitmapText(x.ops);
      case O_ICMPCODE: return " icmpcodes " + bitmapText(x.ops);
      case O_IPTTL: return " ipttl " + rangesText(x);
      case O_IPLEN: return " iplen " + rangesText(x);
      case O_IPID: return " ipid " + rangesText(x);
      case O_DSCP: {
        const vs: string[] = [];
        for (let v = 0; v < 64; v++) if ((x.ops[v >>> 5]! >>> (v & 31)) & 1) vs.push(dscpText(v));
        return " dscp " + vs.join(",");
      }
      case O_VIA: case O_RECV: case O_XMIT: {
        const kw = x.opcode === O_VIA ? "via" : x.opcode === O_RECV ? "recv" : "xmit";
        return ` ${kw} ${ifName(x.ops) || "any"}`;
      }
      case O_KEEP_STATE: return (this.probe ? " keep-state" : " record-state") + " :default";
    }
    return ` [opcode ${x.opcode} len ${x.len}]`;
  }
}

/** Word of 4 header bytes (loaded little-endian) -> dotted quad. */
function quad(w: number): string {
  return `${w & 0xff}.${(w >>> 8) & 0xff}.${(w >>> 16) & 0xff}.${w >>> 24}`;
}

/** Leading one bits of a mask given as header bytes, or -1 when they are not contiguous (ipfw's contigmask). */
function contig(bytes: number[]): number {
  const bits = bytes.length * 8;
  let i = 0;
  while (i < bits && bytes[i >> 3]! & (0x80 >> (i & 7))) i++;
  for (let n = i + 1; n < bits; n++) if (bytes[n >> 3]! & (0x80 >> (n & 7))) return -1;
  return i;
}

function wordBytes(ws: ArrayLike<number>): number[] {
  const out: number[] = [];
  for (let k = 0; k < ws.length; k++) { const w = ws[k]!; out.push(w & 0xff, (w >>> 8) & 0xff, (w >>> 16) & 0xff, w >>> 24); }
  return out;
}

function ip4Text(x: Insn): string {
  if (x.opcode === O_IP_SRC_ME || x.opcode === O_IP_DST_ME) return "me";
  if (x.opcode === O_IP_SRC_LOOKUP || x.opcode === O_IP_DST_LOOKUP) return x.ops.length ? `table(${x.arg1},${x.ops[0]})` : `table(${x.arg1})`;
  const parts: string[] = [];
  for (let k = 0; k + 1 < x.ops.length; k += 2) {
    const addr = x.ops[k]!;
    const mask = x.ops[k + 1]!;
    const mb = contig(wordBytes([mask]));
    if (mb === 0) parts.push("any");
    else if (mb < 0) parts.push(`${quad(addr)}:${quad(mask)}`);
    else parts.push(mb < 32 ? `${quad(addr)}/${mb}` : quad(addr));
  }
  return parts.join(",");
}

function ip6Text(x: Insn): string {
  const parts: string[] = [];
  for (let k = 0; k + 7 < x.ops.length; k += 8) {
    const addr = wordBytes(x.ops.subarray(k, k + 4));
    const mask = wordBytes(x.ops.subarray(k + 4, k + 8));
    const mb = contig(mask);
    if (mb === 0) parts.push("any");
    else if (mb < 0) parts.push(`${ip6String(addr)}/${ip6String(mask)}`);
    else parts.push(mb < 128 ? `${ip6String(addr)}/${mb}` : ip6String(addr));
  }
  return parts.join(",");
}

/** RFC 5952 text, the form inet_ntop(3) prints (the longest run of two or more zero groups as ::). */
export function ip6String(b: number[] | Uint8Array): string {
  const g: number[] = [];
  for (let k = 0; k < 16; k += 2) g.push((b[k]! << 8) | b[k + 1]!);
  let best = -1;
  let bestLen = 1;
  for (let k = 0; k < 8;) {
    if (g[k] !== 0) { k++; continue; }
    let n = k;
    while (n < 8 && g[n] === 0) n++;
    if (n - k > bestLen) { best = k; bestLen = n - k; }
    k = n;
  }
  const hex = (a: number[]) => a.map((v) => v.toString(16)).join(":");
  // inet_ntop writes an IPv4-mapped or -compatible tail as a dotted quad.
  if (best === 0 && (bestLen === 6 || (bestLen === 7 && g[7] !== 1) || (bestLen === 5 && g[5] === 0xffff))) {
    const tail = `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
    return bestLen === 5 ? `::ffff:${tail}` : `::${tail}`;
  }
  if (best < 0) return hex(g);
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

function rangesText(x: Insn): string {
  const parts: string[] = [];
  for (const w of x.ops) {
    const lo = w & 0xffff;
    const hi = w >>> 16;
    parts.push(lo === hi ? String(lo) : `${lo}-${hi}`);
  }
  return parts.join(",");
}

function flagsText(name: string, arg1: number, table: [string, number][], tcp: boolean): string {
  let set = arg1 & 0xff;
  let clear = (arg1 >>> 8) & 0xff;
  if (tcp && set === 2 && clear === 16) return " setup";
  const parts: string[] = [];
  for (const [n, bit] of table) {
    if (set & bit) { set &= ~bit; parts.push(n); }
    if (clear & bit) { clear &= ~bit; parts.push("!" + n); }
  }
  return ` ${name} ${parts.join(",")}`;
}

function bitmapText(ops: Uint32Array): string {
  const out: number[] = [];
  for (let t = 0; t < ops.length * 32; t++) if (ops[t >>> 5]! & (1 << (t & 31))) out.push(t);
  return out.join(",");
}

function ifName(ops: Uint32Array): string {
  let s = "";
  for (const b of wordBytes(ops)) {
    if (b === 0) break;
    s += String.fromCharCode(b);
  }
  return s;
}
