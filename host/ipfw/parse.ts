// ipfw(8)'s rule language -> the instruction words of docs/ipfw_insn.md. The grammar and the
// order of the compiled instructions follow FreeBSD's /sbin/ipfw (compile_rule in
// sbin/ipfw/ipfw2.c): the optional number and set, the action with its log modifier, the
// mandatory `proto from src [ports] to dst [ports]`, then options. A keep-state rule starts
// with O_PROBE_STATE (its implicit check-state) and ends its match part with O_KEEP_STATE,
// as ipfw lays it out; O_LOG goes first in the action part.
//
// Where ipfw accepts text only by accident (a host name, an inet_aton short form, a value
// silently truncated to 16 bits, a dangling `not`, an abbreviated keyword it warns about as
// deprecated) this parser refuses it with an IpfwParseError naming the column; what it does
// accept compiles to the same matching as ipfw. docs/ipfw.md lists both.

import { IpfwParseError, foundText } from "./errors.js";
import {
  F_LEN_MAX, F_NOT, F_OR, O_ACCEPT, O_CHECK_STATE, O_COUNT, O_DENY, O_ESTAB, O_FRAG, O_ICMP6TYPE, O_ICMPTYPE, O_IN,
  O_IP4, O_IP6, O_IP6_DST_MASK, O_IP6_SRC_MASK, O_IPID, O_IPLEN, O_IPTTL, O_IP_DSTPORT, O_IP_DST_LOOKUP, O_IP_DST_MASK,
  O_IP_DST_ME, O_IP_SRCPORT, O_IP_SRC_LOOKUP, O_IP_SRC_MASK, O_IP_SRC_ME, O_KEEP_STATE, O_LAYER2, O_LOG, O_NAT,
  O_PROBE_STATE, O_PROTO, O_RECV, O_REJECT, O_RESET, O_SETUP, O_SKIPTO, O_TCPFLAGS, O_TCPOPTS, O_UNREACH6, O_VIA,
  O_XMIT, O_DSCP, O_SETDSCP, O_REASS, RESVD_SET, IPFW_DEFAULT_RULE, insnHeader,
} from "./insn.js";
import { DSCP_NAMES, ICMP6_CODES, ICMP6_MAXTYPE, ICMP_CODES, ICMP_MAXTYPE, TCP_FLAGS, TCP_OPTS, protocolNumber, servicePort } from "./names.js";

export interface CompileOptions {
  /** The rule's index in the list it came from (a topology's `firewall:` list, a file): named in errors of unnumbered rules. */
  index?: number;
}

/** A compiled rule: its number (0 = let `ipfw add` number it), set and words. */
export interface CompiledRule {
  rulenum: number;
  set: number;
  words: Uint32Array;
}

/**
 * Compiles one rule's text (what follows `ipfw add`: `[N] [set S] ACTION ...`) into its
 * words. Word 0 carries rule number 0 when the text has none; `ipfw add` numbers it.
 * Throws IpfwParseError, and nothing else, for any text it does not accept.
 */
export function compileRule(text: string, opts: CompileOptions = {}): Uint32Array {
  return parseRule(text, opts).words;
}

/** As compileRule, with the number and set apart. */
export function parseRule(text: string, opts: CompileOptions = {}): CompiledRule {
  return new RuleParser(String(text), opts.index).parse();
}

/**
 * A list of rules (a topology's `firewall:` list, a file of rules): each compiled, an error
 * naming the first bad one by its number or its index.
 */
export function compileRules(texts: readonly string[]): CompiledRule[] {
  return texts.map((t, index) => parseRule(t, { index }));
}

interface Token {
  text: string;
  /** 1-based column of the token's first character. */
  col: number;
}

/** Whitespace-separated words with their columns: the argv ipfw gets from a shell. */
export function tokenize(text: string): Token[] {
  const out: Token[] = [];
  const re = /\S+/g;
  for (let m = re.exec(text); m; m = re.exec(text)) out.push({ text: m[0], col: m.index + 1 });
  return out;
}

type Insn = number[];

const IPPROTO_IPV6 = 41;

/** ipfw actions wavnet's kernel does not have: named in the error instead of "expected an action". */
const UNSUPPORTED_ACTIONS = new Set([
  "abort", "abort6", "reset6", "pipe", "queue", "divert", "tee", "netgraph", "ngtee", "fwd", "forward", "//",
  "setfib", "call", "return", "eaction", "tcp-setmss", "nat64clat", "nat64lsn", "nat64stl", "nptv6",
]);

/** ipfw options wavnet does not compile. */
const UNSUPPORTED_OPTIONS = new Set([
  "tagged", "uid", "gid", "jail", "limit", "set-limit", "diverted", "diverted-loopback", "diverted-output", "fib",
  "ipoptions", "ipopts", "ipprecedence", "iptos", "ipversion", "ipver", "sockarg", "tcpdatalen", "tcpseq",
  "tcpack", "tcpwin", "dst-port", "src-port", "proto", "MAC", "mac", "mac-type", "verrevpath",
  "versrcreach", "antispoof", "ipsec", "ext6hdr", "flow-id", "ipv6", "ip6", "ipv4", "ip4", "flow", "defer-action", "defer-immediate-action", "//", "log", "altq", "tag", "untag",
]);

/** Words that end a port list in ipfw (f_reserved_keywords): never read as a service name. */
const RESERVED = new Set(["altq", "//", "diverted", "dst-port", "src-port", "established", "keep-state", "frag", "icmptypes", "in", "out", "ip6", "any", "to", "via", "{", "src-ip", "dst-ip", "lookup"]);

class RuleParser {
  private readonly toks: Token[];
  private i = 0;
  private rulenum = 0;
  private set = 0;
  private proto = 0;
  /** Match instructions in order (without the keep-state pair). */
  private readonly match: Insn[] = [];
  private log: Insn | null = null;
  private action: Insn = [];
  private state: { insn: Insn; record: boolean } | null = null;
  /** A pending `not` and where it was written. */
  private not: Token | null = null;

  constructor(private readonly text: string, private readonly index: number | undefined) {
    this.toks = tokenize(text);
  }

  // -- errors ----------------------------------------------------------------------------

  private get endCol(): number { return this.text.length + 1; }

  private err(col: number, reason: string, expected?: string, found?: string): IpfwParseError {
    return new IpfwParseError({ rule: this.rulenum, index: this.index, column: col }, reason, expected, found);
  }

  /** "expected X, found Y" at the current token (or the end). */
  private expected(what: string, tok: Token | undefined): IpfwParseError {
    return this.err(tok?.col ?? this.endCol, `expected ${what}, found ${foundText(tok?.text)}`, what, tok?.text);
  }

  private peek(k = 0): Token | undefined { return this.toks[this.i + k]; }
  private next(): Token | undefined { return this.toks[this.i++]; }

  /** The argument of a keyword: the next token, or an error naming the keyword. */
  private arg(keyword: Token, what: string): Token {
    const t = this.next();
    if (!t) throw this.expected(`${what} after ${JSON.stringify(keyword.text)}`, undefined);
    return t;
  }

  // -- instructions ----------------------------------------------------------------------

  /** An instruction with the pending `not` folded in. */
  private insn(opcode: number, arg1 = 0, ops: number[] = []): Insn {
    const len = 1 + ops.length;
    let flags = 0;
    if (this.not) {
      flags = F_NOT;
      this.not = null;
    }
    return [insnHeader(opcode, len, arg1, flags), ...ops.map((w) => w >>> 0)];
  }

  private takeNot(t: Token): void {
    if (this.not) throw this.err(t.col, `a second "not" after the one at column ${this.not.col}: double "not" is not allowed`);
    this.not = t;
  }

  /** A `not` that would apply to something matching every packet. */
  private refuseNot(what: string): void {
    if (this.not) throw this.err(this.not.col, `"not" before ${what} never matches`);
  }

  // -- the rule --------------------------------------------------------------------------

  parse(): { rulenum: number; set: number; words: Uint32Array } {
    let t = this.peek();
    if (t && /^\d/.test(t.text)) {
      this.next();
      if (!/^\d+$/.test(t.text)) throw this.err(t.col, `rule number ${JSON.stringify(t.text)} is not a number`, "a rule number", t.text);
      const n = Number(t.text);
      if (n >= IPFW_DEFAULT_RULE) throw this.err(t.col, `rule number ${t.text} is out of range 1..65534 (65535 is the default rule)`);
      this.rulenum = n;
    }
    t = this.peek();
    if (t && t.text === "set" && this.peek(1)) {
      this.next();
      const s = this.next()!;
      if (!/^\d+$/.test(s.text) || Number(s.text) > RESVD_SET) throw this.err(s.col, `expected a set number 0..31 after "set", found ${foundText(s.text)}`, "a set number 0..31", s.text);
      this.set = Number(s.text);
    }
    this.parseAction();
    this.parseModifiers();
    if (opcodeOf(this.action) === O_CHECK_STATE) {
      // ipfw reads nothing after check-state's name and log; it ignores what follows, wavnet refuses it.
      const rest = this.peek();
      if (rest) throw this.expected("the end of the rule after check-state", rest);
    } else {
      this.parseBody();
      this.parseOptions();
    }
    return { rulenum: this.rulenum, set: this.set, words: this.assemble() };
  }

  private parseAction(): void {
    const t = this.next();
    if (!t) throw this.expected("an action", undefined);
    switch (t.text) {
      case "allow": case "accept": case "pass": case "permit":
        this.action = this.insn(O_ACCEPT); return;
      case "deny": case "drop":
        this.action = this.insn(O_DENY); return;
      case "reject":
        this.action = this.insn(O_REJECT, 1); return; // ICMP host unreachable, as ipfw
      case "reset":
        this.action = this.insn(O_RESET); return;
      case "count":
        this.action = this.insn(O_COUNT); return;
      case "reass":
        this.action = this.insn(O_REASS); return;
      case "setdscp": {
        const c = this.arg(t, "a DSCP code point (0..63 or a name: af11, cs1, ef, ...)");
        if (c.text === "tablearg") throw this.err(c.col, `"setdscp tablearg" is not supported (wavnet's tables give no argument to actions)`);
        this.action = this.insn(O_SETDSCP, this.dscpCode(c, "setdscp")); return;
      }
      case "unreach": {
        const c = this.arg(t, "an ICMP unreachable code");
        const code = codeOf(c.text, ICMP_CODES);
        if (code === undefined) throw this.err(c.col, `unknown ICMP unreachable code ${foundText(c.text)}`, "an ICMP unreachable code", c.text);
        if (code > 15) throw this.err(c.col, `ICMP unreachable code ${code} is out of range 0..15 (the codes wavnet's kernel sends)`);
        this.action = this.insn(O_REJECT, code); return;
      }
      case "unreach6": {
        const c = this.arg(t, "an ICMPv6 unreachable code");
        const code = codeOf(c.text, ICMP6_CODES);
        if (code === undefined) throw this.err(c.col, `unknown ICMPv6 unreachable code ${foundText(c.text)}`, "an ICMPv6 unreachable code", c.text);
        this.action = this.insn(O_UNREACH6, code); return;
      }
      case "skipto": {
        const n = this.ruleArg(t, "a rule number");
        if (this.rulenum !== 0 && n.value <= this.rulenum) throw this.err(n.tok.col, `skipto ${n.value} from rule ${this.rulenum} does not go forward (the target must be above the rule's own number)`);
        this.action = this.insn(O_SKIPTO, n.value); return;
      }
      case "nat": {
        const n = this.ruleArg(t, "a nat instance number");
        this.action = this.insn(O_NAT, n.value); return;
      }
      case "check-state": {
        // As ipfw: nothing, or a state name and then the log modifier ("check-state log" is refused).
        const n = this.peek();
        if (n && !n.text.startsWith(":")) throw this.expected(`a state name (:default) or the end of the rule after "check-state"`, n);
        if (n) {
          this.next();
          if (n.text !== ":default" && n.text !== ":any") throw this.err(n.col, `named states are not supported: only :default (or :any) after check-state, found ${foundText(n.text)}`);
        }
        this.action = this.insn(O_CHECK_STATE); return;
      }
    }
    if (UNSUPPORTED_ACTIONS.has(t.text)) throw this.err(t.col, `the action ${JSON.stringify(t.text)} is not supported by wavnet's ipfw`, "an action", t.text);
    throw this.expected("an action", t);
  }

  /** skipto's and nat's argument: a decimal number 1..65534 (ipfw's "tablearg" is not supported). */
  private ruleArg(keyword: Token, what: string): { tok: Token; value: number } {
    const n = this.arg(keyword, what);
    if (!/^\d+$/.test(n.text)) throw this.expected(`${what} after ${JSON.stringify(keyword.text)}`, n);
    const v = Number(n.text);
    if (v < 1 || v >= IPFW_DEFAULT_RULE) throw this.err(n.col, `${keyword.text} ${n.text} is out of range 1..65534`);
    return { tok: n, value: v };
  }

  /** `log [logamount N]` right after the action. */
  private parseModifiers(): void {
    for (let t = this.peek(); t && t.text === "log"; t = this.peek()) {
      this.next();
      if (this.log) throw this.err(t.col, `"log" given twice`);
      let amount = 0;
      if (this.peek()?.text === "logamount") {
        const k = this.next()!;
        const n = this.arg(k, "a number");
        if (!/^\d+$/.test(n.text) || Number(n.text) > 65535) throw this.expected(`a number 0..65535 after "logamount"`, n);
        amount = Number(n.text);
      }
      this.log = this.insn(O_LOG, amount);
    }
  }

  // -- proto from src [ports] to dst [ports] ------------------------------------------------

  private parseBody(): void {
    this.alternatives("a protocol", () => this.protoOne());
    let t = this.next();
    if (!t || t.text !== "from") throw this.expected(`"from" after the protocol`, t);
    this.alternatives(`an address after "from"`, () => this.addrOne(true, t!));
    this.ports(O_IP_SRCPORT);
    t = this.next();
    if (!t || t.text !== "to") throw this.expected(`ports or "to" after the source address`, t);
    this.alternatives(`an address after "to"`, () => this.addrOne(false, t!));
    this.ports(O_IP_DSTPORT);
  }

  /**
   * One field that may be an or-block, `{ a or b or c }` (or `( ... )`): ipfw's OR_START /
   * OR_BLOCK. The opening brace may be glued to the first word ("{tcp"); the closing one is a
   * word of its own. one() reads one member (after its optional `not`) and returns its
   * instruction, or null when the member matches everything (ip, any).
   */
  private alternatives(what: string, one: () => Insn | null): void {
    let open: Token | null = null;
    const first = this.peek();
    if (first && (first.text[0] === "{" || first.text[0] === "(")) {
      open = first;
      if (first.text.length === 1) this.next();
      else this.toks[this.i] = { text: first.text.slice(1), col: first.col + 1 };
    }
    for (;;) {
      const t = this.peek();
      if (t?.text === "not") {
        this.next();
        this.takeNot(t);
      }
      const at = this.peek();
      if (!at) throw this.expected(what, undefined);
      const insn = one();
      if (insn) this.match.push(insn);
      else if (open) throw this.err(at.col, `${JSON.stringify(at.text)} matches every packet and cannot be part of an or-block`);
      const o = this.peek();
      if (o?.text === "or") {
        if (!open) throw this.err(o.col, `"or" outside an or-block ({ a or b })`);
        this.next();
        this.match[this.match.length - 1]![0]! |= F_OR;
        continue;
      }
      break;
    }
    if (open) {
      const c = this.next();
      if (!c || (c.text !== "}" && c.text !== ")")) throw this.expected(`"}" closing the or-block opened at column ${open.col}`, c);
    }
  }

  private protoOne(): Insn | null {
    const t = this.next()!;
    const p = t.text;
    if (p === "ip" || p === "all") {
      this.refuseNot(JSON.stringify(p));
      this.proto = 0;
      return null;
    }
    if (p === "ip4" || p === "ipv4") { this.proto = 0; return this.insn(O_IP4); }
    if (p === "ip6" || p === "ipv6") { this.proto = IPPROTO_IPV6; return this.insn(O_IP6); }
    let n: number | undefined;
    if (/^\d+$/.test(p)) {
      n = Number(p);
      if (n === 0) n = undefined;
      else if (n > 255) throw this.err(t.col, `protocol number ${p} is out of range 1..255`);
    } else n = protocolNumber(p);
    if (n === undefined) throw this.expected("a protocol", t);
    this.proto = n;
    return this.insn(O_PROTO, n);
  }

  /** One address specification after from/to: any, me, table(N), an IPv4 or IPv6 list. */
  private addrOne(src: boolean, kw: Token): Insn | null {
    const t = this.next()!;
    const a = t.text;
    const what = `an address after ${JSON.stringify(kw.text)}`;
    if (a === "any") { this.refuseNot(`"any"`); return null; }
    if (a === "me") return this.insn(src ? O_IP_SRC_ME : O_IP_DST_ME);
    if (a === "me6") throw this.err(t.col, `"me6" is not supported (the kernel's me opcodes match both families; write "ip6 from me")`);
    if (a.startsWith("table(")) {
      // ipfw's fill_table: table(N) or table(N,value), the value as strtoul base 0 reads it.
      const m = /^table\((\d+)(?:,([^)]*))?\)$/.exec(a);
      if (!m) throw this.err(t.col, `expected table(N) or table(N,value) with a table number 0..65535, found ${foundText(a)} (table names are not supported)`, "table(N)", a);
      const n = Number(m[1]);
      if (n > 65535) throw this.err(t.col + 6, `table number ${m[1]} is out of range 0..65535`);
      if (m[2] === undefined) return this.insn(src ? O_IP_SRC_LOOKUP : O_IP_DST_LOOKUP, n);
      const v = /^0[xX][0-9a-fA-F]+$/.test(m[2]) ? parseInt(m[2].slice(2), 16) : /^0[0-7]+$/.test(m[2]) ? parseInt(m[2].slice(1), 8) : /^\d+$/.test(m[2]) ? Number(m[2]) : NaN;
      if (!(v <= 0xffffffff)) throw this.err(t.col + 7 + m[1]!.length, `expected a table value 0..4294967295, found ${foundText(m[2])}`, "a table value", m[2]);
      return this.insn(src ? O_IP_SRC_LOOKUP : O_IP_DST_LOOKUP, n, [v]);
    }
    const host = a.split(/[/,]/)[0]!;
    if (this.proto === IPPROTO_IPV6 || parseIPv6Bytes(host)) return this.ip6List(t, src, what);
    return this.ip4List(t, src, what);
  }

  /** ipfw's fill_ip: a,b,... each a.b.c.d[/len|:mask]; any /0 entry makes the whole list match all. */
  private ip4List(t: Token, src: boolean, what: string): Insn | null {
    const ops: number[] = [];
    let any = false;
    let off = 0;
    for (const item of t.text.split(",")) {
      const col = t.col + off;
      off += item.length + 1;
      if (item.includes("{")) throw this.err(col, `address sets (a.b.c.d/nn{x,y}) are not supported; write a list a,b or an or-block`);
      const m = /^([^/:]*)(?:([/:])(.*))?$/.exec(item)!;
      const addr = parseIPv4Word(m[1]!);
      if (addr === undefined) {
        if (col === t.col) throw this.expected(what, t);
        throw this.err(col, `expected an IPv4 address in the list, found ${foundText(item)}`, "an IPv4 address", item);
      }
      let mask = 0xffffffff;
      if (m[2] === "/") {
        if (!/^\d{1,2}$/.test(m[3]!) || Number(m[3]) > 32) throw this.err(col + m[1]!.length + 1, `expected a prefix length 0..32, found ${foundText(m[3])}`, "a prefix length 0..32", m[3]);
        const len = Number(m[3]);
        mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
        mask = swap32(mask);
      } else if (m[2] === ":") {
        const mk = parseIPv4Word(m[3]!);
        if (mk === undefined) throw this.err(col + m[1]!.length + 1, `expected a netmask a.b.c.d, found ${foundText(m[3])}`, "a netmask", m[3]);
        mask = mk;
      }
      if (mask === 0) { any = true; continue; }
      ops.push((addr & mask) >>> 0, mask);
    }
    if (any) {
      this.refuseNot("a list holding any (a /0 entry)");
      return null;
    }
    if (1 + ops.length > F_LEN_MAX) throw this.err(t.col, `address list too long: ${ops.length / 2} entries, at most ${(F_LEN_MAX - 1) / 2}`);
    return this.insn(src ? O_IP_SRC_MASK : O_IP_DST_MASK, ops.length / 2, ops);
  }

  /** ipfw's fill_ip6: a,b,... each addr[/len|/mask]; /0 entries are dropped from the list. */
  private ip6List(t: Token, src: boolean, what: string): Insn | null {
    const ops: number[] = [];
    let dropped = false;
    let off = 0;
    for (const item of t.text.split(",")) {
      const col = t.col + off;
      off += item.length + 1;
      const slash = item.indexOf("/");
      const addrText = slash < 0 ? item : item.slice(0, slash);
      const addr = parseIPv6Bytes(addrText);
      if (!addr) {
        if (col === t.col) throw this.expected(what, t);
        throw this.err(col, `expected an IPv6 address in the list, found ${foundText(item)}`, "an IPv6 address", item);
      }
      let mask: Uint8Array;
      if (slash < 0) mask = new Uint8Array(16).fill(0xff);
      else {
        const mt = item.slice(slash + 1);
        const mcol = col + slash + 1;
        if (mt.includes(":")) {
          const mk = parseIPv6Bytes(mt);
          if (!mk) throw this.err(mcol, `expected an IPv6 mask, found ${foundText(mt)}`, "an IPv6 mask", mt);
          mask = mk;
        } else {
          if (!/^\d{1,3}$/.test(mt) || Number(mt) > 128) throw this.err(mcol, `expected a prefix length 0..128, found ${foundText(mt)}`, "a prefix length 0..128", mt);
          mask = prefixMask6(Number(mt));
        }
      }
      if (mask.every((b) => b === 0)) { dropped = true; continue; }
      const a = addr.map((b, k) => b & mask[k]!);
      ops.push(...bytesToWords(a), ...bytesToWords(mask));
    }
    if (ops.length === 0) {
      if (dropped) this.refuseNot("an IPv6 list of only ::/0");
      return null;
    }
    if (1 + ops.length > F_LEN_MAX) throw this.err(t.col, `IPv6 address list too long: ${ops.length / 8} entries, at most ${Math.floor((F_LEN_MAX - 1) / 8)}`);
    return this.insn(src ? O_IP6_SRC_MASK : O_IP6_DST_MASK, ops.length / 8, ops);
  }

  /** The optional `[not] ports` after an address. */
  private ports(opcode: number): void {
    let t = this.peek();
    if (!t) return;
    let notTok: Token | null = null;
    if (t.text === "not") {
      notTok = t;
      t = this.peek(1);
    }
    if (t?.text === "any" && !notTok) { this.next(); return; }
    const ranges = t && !RESERVED.has(t.text) ? this.portList(t, this.proto, true) : null;
    if (!ranges) {
      // After the destination a `not` that is not followed by ports belongs to the first option.
      if (notTok && opcode === O_IP_SRCPORT) throw this.expected(`ports after "not"`, t);
      return;
    }
    if (notTok) {
      this.next();
      this.takeNot(notTok);
    }
    this.next();
    this.match.push(this.insn(opcode, ranges.length, ranges.map(([lo, hi]) => lo | (hi << 16))));
  }

  /**
   * ipfw's fill_newports: a,b-c,... of numbers (strtol base 0: 0x hex, leading-0 octal) or
   * service names (for the rule's protocol). Null when the word does not start like a port
   * list (so the caller reads it as the next field); an error when it starts like one and then
   * goes wrong.
   */
  private portList(t: Token, proto: number, names: boolean, max = 65535): [number, number][] | null {
    const s = t.text;
    const out: [number, number][] = [];
    let pos = 0;
    for (;;) {
      const a = scanPortAtom(s, pos, names ? proto : -1);
      if (!a) {
        if (out.length === 0 && pos === 0) return null;
        throw this.err(t.col + pos, `expected a ${names ? "port or service name" : "number"} in the list, found ${foundText(s.slice(pos) || undefined)}`);
      }
      let b = a;
      if (s[a.end] === "-") {
        const bb = scanPortAtom(s, a.end + 1, names ? proto : -1);
        if (!bb) throw this.err(t.col + a.end + 1, `expected the end of the range after "-", found ${foundText(s.slice(a.end + 1) || undefined)}`);
        b = bb;
      }
      const sep = s[b.end];
      if (sep !== undefined && sep !== ",") throw this.err(t.col + b.end, `invalid separator ${JSON.stringify(sep)} in ${JSON.stringify(s)}`);
      for (const x of [a, b]) if (x.value > max) throw this.err(t.col + x.start, `${x.value} is out of range 0..${max}`);
      if (a.value > b.value) throw this.err(t.col + a.start, `the range ${a.value}-${b.value} is empty`);
      out.push([a.value, b.value]);
      if (out.length + 1 > F_LEN_MAX) throw this.err(t.col, `too many ranges: at most ${F_LEN_MAX - 1}`);
      if (sep === undefined) return out;
      pos = b.end + 1;
    }
  }

  // -- options ----------------------------------------------------------------------------

  private parseOptions(): void {
    let open: Token | null = null;
    /** The last instruction of the open block, the one an `or` extends. */
    let prev: Insn | null = null;
    let orTok: Token | null = null;
    for (let t = this.next(); t; t = this.next()) {
      let word = t;
      if (t.text.length > 1 && t.text.startsWith("!")) {
        this.takeNot(t);
        word = { text: t.text.slice(1), col: t.col + 1 };
      }
      const k = word.text;
      if (k === "not") { this.takeNot(word); continue; }
      if (k === "or") {
        if (!open || !prev) throw this.err(word.col, `"or" outside an or-block ({ a or b })`);
        if (this.not) throw this.expected(`an option after "not"`, word);
        prev[0]! |= F_OR;
        orTok = word;
        continue;
      }
      if (k === "{" || k === "(") {
        if (open) throw this.err(word.col, `nested "{" is not allowed (the block opened at column ${open.col} is still open)`);
        if (this.not) throw this.err(this.not.col, `"not" before an or-block is not supported; negate its members`);
        open = word;
        prev = null;
        continue;
      }
      if (k === "}" || k === ")") {
        if (!open) throw this.err(word.col, `"${k}" closes no or-block`);
        if (this.not) throw this.expected(`an option after "not"`, word);
        if (orTok) throw this.expected(`an option after "or"`, word);
        open = null;
        prev = null;
        continue;
      }
      const insn = this.option(word, open);
      if (insn) {
        this.match.push(insn);
        prev = open ? insn : null;
        orTok = null;
      }
    }
    if (this.not) throw this.expected(`an option after "not"`, undefined);
    if (orTok) throw this.expected(`an option after "or"`, undefined);
    if (open) throw this.expected(`"}" closing the or-block opened at column ${open.col}`, undefined);
  }

  /** One option; null when it compiles to nothing (via any) or to the keep-state pair. */
  private option(t: Token, open: Token | null): Insn | null {
    switch (t.text) {
      case "in": return this.insn(O_IN);
      case "out":
        this.not = this.not ? null : t; // out is `not in`; `not out` is in
        return this.insn(O_IN);
      case "frag": case "fragment": return this.insn(O_FRAG);
      case "layer2": case "bridged": return this.insn(O_LAYER2);
      case "established": case "estab": return this.insn(O_ESTAB);
      case "setup": return this.insn(O_SETUP);
      case "tcpflags": case "tcpflgs": {
        const a = this.arg(t, "TCP flags");
        const { set, clear } = this.flags(a, TCP_FLAGS, "TCP flag");
        // ipfw prints syn,!ack as "setup" and reads "setup" as those flags: one encoding for both.
        if (set === 2 && clear === 16) return this.insn(O_SETUP);
        return this.insn(O_TCPFLAGS, set | (clear << 8));
      }
      case "tcpoptions": case "tcpopts": {
        const a = this.arg(t, "TCP options");
        const { set, clear } = this.flags(a, TCP_OPTS, "TCP option");
        return this.insn(O_TCPOPTS, set | (clear << 8));
      }
      case "icmptypes": case "icmptype": return this.insn(O_ICMPTYPE, 0, this.typeBitmap(this.arg(t, "a list of ICMP types"), ICMP_MAXTYPE, "ICMP"));
      case "icmp6types": case "icmp6type": return this.insn(O_ICMP6TYPE, 0, this.typeBitmap(this.arg(t, "a list of ICMPv6 types"), ICMP6_MAXTYPE, "ICMPv6"));
      case "ipttl": return this.rangeOption(t, O_IPTTL, 255, "a TTL");
      case "dscp": {
        // ipfw: a comma-separated list of code points (numbers or names), any of them matches.
        const a = this.arg(t, "a list of DSCP code points");
        const bm = [0, 0];
        let col = a.col;
        for (const item of a.text.split(",")) {
          const v = this.dscpCode({ text: item, col } as Token, "dscp");
          bm[v >>> 5] = (bm[v >>> 5]! | (1 << (v & 31))) >>> 0;
          col += item.length + 1;
        }
        return this.insn(O_DSCP, 0, bm);
      }
      case "iplen": return this.rangeOption(t, O_IPLEN, 65535, "a length");
      case "ipid": return this.rangeOption(t, O_IPID, 65535, "an IP id");
      case "via": case "recv": case "xmit": return this.iface(t, open);
      case "src-ip": case "dst-ip": {
        // ipfw's src-ip / dst-ip options: an address as after from / to (tables too).
        if (!this.peek()) throw this.expected(`an address after ${JSON.stringify(t.text)}`, undefined);
        const insn = this.addrOne(t.text === "src-ip", t);
        if (!insn && open) throw this.err(t.col, `${t.text} any matches every packet and cannot be part of an or-block`);
        return insn;
      }
      case "src-ip6": case "dst-ip6": case "src-ipv6": case "dst-ipv6": {
        const a = this.next();
        if (!a) throw this.expected(`an IPv6 address after ${JSON.stringify(t.text)}`, undefined);
        const insn = this.ip6List(a, t.text.startsWith("src"), `an IPv6 address after ${JSON.stringify(t.text)}`);
        if (!insn && open) throw this.err(t.col, `${t.text} ::/0 matches every packet and cannot be part of an or-block`);
        return insn;
      }
      case "lookup": {
        // lookup {src-ip | dst-ip} N is table(N) on that address; the other keys need tables of
        // ports, uids or jails, which wavnet does not have.
        const k = this.arg(t, "a lookup key");
        if (k.text !== "src-ip" && k.text !== "dst-ip") throw this.err(k.col, `lookup ${k.text} is not supported: wavnet's tables hold addresses (lookup src-ip N or lookup dst-ip N)`, "src-ip or dst-ip", k.text);
        const n = this.arg(k, "a table number");
        if (!/^\d+$/.test(n.text) || Number(n.text) > 65535) throw this.expected(`a table number 0..65535 after "lookup ${k.text}"`, n);
        return this.insn(k.text === "src-ip" ? O_IP_SRC_LOOKUP : O_IP_DST_LOOKUP, Number(n.text));
      }
      case "keep-state": case "record-state": {
        if (open) throw this.err(t.col, `${t.text} cannot be part of an or-block`);
        if (this.state) throw this.err(t.col, `only one keep-state or record-state per rule`);
        if (this.not) throw this.err(this.not.col, `"not" cannot apply to ${t.text}`);
        const n = this.peek();
        if (n && n.text.startsWith(":")) {
          this.next();
          if (n.text !== ":default") throw this.err(n.col, `named states are not supported: only :default after ${t.text}, found ${foundText(n.text)}`);
        }
        this.state = { insn: this.insn(O_KEEP_STATE), record: t.text === "record-state" };
        return null;
      }
    }
    if (UNSUPPORTED_OPTIONS.has(t.text)) throw this.err(t.col, `the option ${JSON.stringify(t.text)} is not supported by wavnet's ipfw`, "an option", t.text);
    throw this.expected("an option", t);
  }

  /** ipfw's fill_flags: name,!name,... into set and clear bits. */
  private flags(a: Token, table: [string, number][], what: string): { set: number; clear: number } {
    let set = 0;
    let clear = 0;
    let off = 0;
    for (const item of a.text.split(",")) {
      const col = a.col + off;
      off += item.length + 1;
      const neg = item.startsWith("!");
      const name = neg ? item.slice(1) : item;
      const bit = table.find(([n]) => n === name)?.[1];
      if (bit === undefined) throw this.err(col, `expected a ${what} (${[...new Set(table.map(([n]) => n))].join(", ")}), found ${foundText(item || undefined)}`, `a ${what}`, item);
      if (neg) clear |= bit;
      else set |= bit;
    }
    return { set, clear };
  }

  /** icmptypes / icmp6types: numbers (strtoul base 0) into the 8-word bitmap. */
  private typeBitmap(a: Token, max: number, family: string): number[] {
    const bm = new Array<number>(8).fill(0);
    let off = 0;
    for (const item of a.text.split(",")) {
      const col = a.col + off;
      off += item.length + 1;
      const v = base0Number(item);
      if (v === undefined) throw this.err(col, `expected an ${family} type number, found ${foundText(item || undefined)}`, `an ${family} type`, item);
      if (v > max) throw this.err(col, `${family} type ${v} is out of range 0..${max}`);
      bm[v >>> 5] = (bm[v >>> 5]! | (1 << (v & 31))) >>> 0;
    }
    return bm;
  }

  /** A DSCP code point: a number 0..63 or one of ipfw's names (names.ts DSCP_NAMES). */
  private dscpCode(c: Token, keyword: string): number {
    const named = DSCP_NAMES.find(([n]) => n === c.text);
    if (named) return named[1];
    const v = base0Number(c.text);
    if (v === undefined) throw this.err(c.col, `expected a DSCP code point (0..63 or a name such as af11, cs1, ef) after "${keyword}", found ${foundText(c.text || undefined)}`, "a DSCP code point", c.text);
    if (v > 63) throw this.err(c.col, `DSCP code point ${v} is out of range 0..63`);
    return v;
  }

  /** ipttl/iplen/ipid: one number, or (with - or ,) a list of ranges. */
  private rangeOption(t: Token, opcode: number, max: number, what: string): Insn {
    const a = this.arg(t, what);
    let ranges: [number, number][];
    if (/[-,]/.test(a.text)) {
      const r = this.portList(a, 0, false, max);
      if (!r) throw this.expected(`${what} or a list of ranges after ${JSON.stringify(t.text)}`, a);
      ranges = r;
    } else {
      const v = base0Number(a.text);
      if (v === undefined) throw this.expected(`${what} after ${JSON.stringify(t.text)}`, a);
      if (v > max) throw this.err(a.col, `${t.text} ${v} is out of range 0..${max}`);
      ranges = [[v, v]];
    }
    return this.insn(opcode, ranges.length, ranges.map(([lo, hi]) => lo | (hi << 16)));
  }

  /** via/recv/xmit NAME: a name of up to 15 characters, a trailing * for a prefix, or any. */
  private iface(t: Token, open: Token | null): Insn | null {
    const a = this.arg(t, "an interface name");
    const name = a.text;
    const op = t.text === "via" ? O_VIA : t.text === "recv" ? O_RECV : O_XMIT;
    if (name === "any") {
      // ipfw drops `via any` from the rule: it matches every packet.
      this.refuseNot(`"${t.text} any"`);
      if (open) throw this.err(a.col, `"${t.text} any" matches every packet and cannot be part of an or-block`);
      return null;
    }
    if (/^\d/.test(name)) throw this.err(a.col, `interface addresses (${t.text} ${name}) are not supported; name the interface`);
    if (name.startsWith("table(")) throw this.err(a.col, `interface tables are not supported`);
    if (/[?[]/.test(name) || name.slice(0, -1).includes("*")) throw this.err(a.col, `only a trailing "*" is supported in interface names, found ${foundText(name)}`);
    if (!/^[\x21-\x7e]+$/.test(name)) throw this.err(a.col, `interface name ${foundText(name)} has characters other than printable ASCII`);
    if (name.length > 15) throw this.err(a.col, `interface name ${foundText(name)} is longer than 15 characters`);
    const ops = [0, 0, 0, 0];
    for (let k = 0; k < name.length; k++) ops[k >> 2] = (ops[k >> 2]! | (name.charCodeAt(k) << ((k & 3) * 8))) >>> 0;
    return this.insn(op, 0, ops);
  }

  // -- words ------------------------------------------------------------------------------

  private assemble(): Uint32Array {
    const match: Insn[] = [];
    if (this.state && !this.state.record) match.push([insnHeader(O_PROBE_STATE, 1)]);
    match.push(...this.match);
    if (this.state) match.push(this.state.insn);
    const act: Insn[] = [];
    if (this.log) act.push(this.log);
    act.push(this.action);
    const actOfs = match.reduce((n, x) => n + x.length, 0);
    const cmdLen = actOfs + act.reduce((n, x) => n + x.length, 0);
    const out = new Uint32Array(2 + cmdLen);
    out[0] = (this.rulenum | (this.set << 16)) >>> 0;
    out[1] = (cmdLen | (actOfs << 16)) >>> 0;
    let k = 2;
    for (const x of [...match, ...act]) for (const w of x) out[k++] = w;
    return out;
  }
}

function opcodeOf(insn: Insn): number { return insn[0]! & 0xff; }

/** An unreachable code: a number below 256 (strtoul base 0) or a name from the table. */
function codeOf(text: string, table: [string, number][]): number | undefined {
  const n = base0Number(text);
  if (n !== undefined && n < 256) return n;
  return table.find(([name]) => name === text)?.[1];
}

/** A whole word read as strtoul(..., 0) reads it: 0x hex, leading-0 octal, else decimal. */
export function base0Number(s: string): number | undefined {
  let v: number;
  if (/^0[xX][0-9a-fA-F]+$/.test(s)) v = parseInt(s.slice(2), 16);
  else if (/^0[0-7]*$/.test(s)) v = s.length > 1 ? parseInt(s.slice(1), 8) : 0;
  else if (/^[1-9]\d*$/.test(s)) v = Number(s);
  else return undefined;
  return Number.isSafeInteger(v) ? v : Number.MAX_SAFE_INTEGER;
}

/**
 * One element of a port list at pos: a number (strtol base 0, as long as digits last) or a
 * service name ([A-Za-z0-9_.], "\" escaping the next character), looked up for proto (-1: no
 * names). Null when there is neither.
 */
function scanPortAtom(s: string, pos: number, proto: number): { value: number; start: number; end: number } | null {
  const rest = s.slice(pos);
  if (/^\d/.test(rest)) {
    const m = /^0[xX][0-9a-fA-F]+/.exec(rest) ?? /^0[0-7]*/.exec(rest) ?? /^\d+/.exec(rest)!;
    const text = m[0];
    const v = /^0[xX]/.test(text) ? parseInt(text.slice(2), 16) : text.length > 1 && text[0] === "0" ? parseInt(text.slice(1), 8) : Number(text);
    return { value: Number.isSafeInteger(v) ? v : Number.MAX_SAFE_INTEGER, start: pos, end: pos + text.length };
  }
  if (proto < 0) return null;
  let end = pos;
  let name = "";
  while (end < s.length) {
    const c = s[end]!;
    if (c === "\\" && end + 1 < s.length) { name += s[end + 1]; end += 2; continue; }
    if (!/[A-Za-z0-9_.]/.test(c)) break;
    name += c;
    end++;
  }
  if (!name || RESERVED.has(name)) return null;
  const port = servicePort(name, proto);
  return port === undefined ? null : { value: port, start: pos, end };
}

/** Dotted quad -> the word of its 4 bytes loaded little-endian; undefined for anything else (no inet_aton short forms, no leading zeros). */
export function parseIPv4Word(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  let w = 0;
  for (let k = 0; k < 4; k++) {
    const part = m[k + 1]!;
    if (part.length > 1 && part[0] === "0") return undefined; // inet_aton would read it as octal
    const b = Number(part);
    if (b > 255) return undefined;
    w |= b << (8 * k);
  }
  return w >>> 0;
}

function swap32(x: number): number {
  return (((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24)) >>> 0;
}

/** RFC 4291 2.2 text (the embedded dotted IPv4 tail too) -> 16 bytes; null for anything else, zones included. */
export function parseIPv6Bytes(s: string): Uint8Array | null {
  if (!s.includes(":") || !/^[0-9A-Fa-f:.]+$/.test(s)) return null;
  let head = s;
  let v4: number | undefined;
  const lastColon = s.lastIndexOf(":");
  if (s.includes(".")) {
    v4 = parseIPv4Word(s.slice(lastColon + 1));
    if (v4 === undefined) return null;
    head = s.slice(0, lastColon + 1) + "0:0";
  }
  const dbl = head.indexOf("::");
  if (dbl !== head.lastIndexOf("::")) return null;
  const parse = (part: string): number[] | null => {
    if (part === "") return [];
    const groups = part.split(":");
    const out: number[] = [];
    for (const g of groups) {
      if (!/^[0-9A-Fa-f]{1,4}$/.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  let groups: number[];
  if (dbl >= 0) {
    const l = parse(head.slice(0, dbl));
    const r = parse(head.slice(dbl + 2));
    if (!l || !r || l.length + r.length > 7) return null;
    groups = [...l, ...new Array<number>(8 - l.length - r.length).fill(0), ...r];
  } else {
    const g = parse(head);
    if (!g || g.length !== 8) return null;
    groups = g;
  }
  const b = new Uint8Array(16);
  groups.forEach((g, k) => { b[2 * k] = g >> 8; b[2 * k + 1] = g & 0xff; });
  if (v4 !== undefined) for (let k = 0; k < 4; k++) b[12 + k] = (v4 >>> (8 * k)) & 0xff;
  return b;
}

function prefixMask6(len: number): Uint8Array {
  const m = new Uint8Array(16);
  for (let k = 0; k < 16; k++) {
    const bits = Math.max(0, Math.min(8, len - 8 * k));
    m[k] = bits === 0 ? 0 : (0xff << (8 - bits)) & 0xff;
  }
  return m;
}

/** 16 header bytes -> 4 words, each 4 bytes loaded little-endian (the contract's byte order). */
function bytesToWords(b: Uint8Array | number[]): number[] {
  const out: number[] = [];
  for (let k = 0; k < 16; k += 4) out.push((b[k]! | (b[k + 1]! << 8) | (b[k + 2]! << 16) | (b[k + 3]! << 24)) >>> 0);
  return out;
}
