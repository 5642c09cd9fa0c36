// The rule encoding of docs/ipfw_insn.md, host side: opcode numbers, the header word of a rule
// and of an instruction, and a walk over a rule's instructions. The kernel module (AssemblyScript)
// keeps its own copy of these numbers; the contract file is the one both follow.

/** Match opcodes (docs/ipfw_insn.md, "Opcodes"). */
export const O_IP4 = 1;
export const O_IP6 = 2;
export const O_PROTO = 3;
export const O_IP_SRC_MASK = 4;
export const O_IP_DST_MASK = 5;
export const O_IP_SRC_ME = 6;
export const O_IP_DST_ME = 7;
export const O_IP6_SRC_MASK = 8;
export const O_IP6_DST_MASK = 9;
export const O_IP_SRC_LOOKUP = 10;
export const O_IP_DST_LOOKUP = 11;
export const O_IP_SRCPORT = 12;
export const O_IP_DSTPORT = 13;
export const O_VIA = 14;
export const O_RECV = 15;
export const O_XMIT = 16;
export const O_IN = 17;
export const O_FRAG = 18;
export const O_TCPFLAGS = 19;
export const O_TCPOPTS = 20;
export const O_ESTAB = 21;
export const O_SETUP = 22;
export const O_ICMPTYPE = 23;
export const O_ICMP6TYPE = 24;
export const O_PROBE_STATE = 25;
export const O_KEEP_STATE = 26;
export const O_IPLEN = 27;
export const O_IPTTL = 28;
export const O_IPID = 29;
export const O_ICMPCODE = 30;
export const O_LAYER2 = 31;
/** ipfw's `dscp`: 2 operand words, a bitmap of code points 0..63 (bit v of word v >> 5). */
export const O_DSCP = 32;

/** Action part. */
export const O_LOG = 64;
export const O_ACCEPT = 65;
export const O_DENY = 66;
export const O_REJECT = 67;
export const O_RESET = 68;
export const O_COUNT = 69;
export const O_SKIPTO = 70;
export const O_CHECK_STATE = 71;
export const O_NAT = 72;
export const O_UNREACH6 = 73;
/** `setdscp N`: arg1 the code point 0..63; the walk goes on with the next rule. */
export const O_SETDSCP = 74;
/** `reass`: IPv4 fragments to reassembly, the whole datagram on with the next rule. */
export const O_REASS = 75;

/** O_REJECT's arg1 for a TCP reset (FreeBSD's ICMP_REJECT_RST); `reset` itself compiles to O_RESET. */
export const REJECT_RST = 256;

export const F_OR = 1 << 14;
export const F_NOT = 1 << 15;
/** Words an instruction may have, its header included (6 bits of length). */
export const F_LEN_MAX = 63;

export const IPFW_DEFAULT_RULE = 65535;
/** Sets 0..31; 31 holds the default rule and is kept by `flush`. */
export const RESVD_SET = 31;

/** An instruction header: opcode | len << 8 | flags | arg1 << 16. */
export function insnHeader(opcode: number, len: number, arg1 = 0, flags = 0): number {
  return (opcode | (len << 8) | flags | (arg1 << 16)) >>> 0;
}

export function insnOpcode(h: number): number { return h & 0xff; }
export function insnLen(h: number): number { return (h >>> 8) & 0x3f; }
export function insnArg1(h: number): number { return h >>> 16; }
export function insnNot(h: number): boolean { return (h & F_NOT) !== 0; }
export function insnOr(h: number): boolean { return (h & F_OR) !== 0; }

/** One instruction of a rule: where it starts in the command words and its header fields. */
export interface Insn {
  /** Offset in words from the first command word. */
  at: number;
  opcode: number;
  len: number;
  arg1: number;
  not: boolean;
  or: boolean;
  /** The operand words (len - 1 of them). */
  ops: Uint32Array;
}

/** The parts of a rule's words (docs/ipfw_insn.md, "Rule"). */
export interface RuleWords {
  rulenum: number;
  set: number;
  /** Match instructions, in order. */
  match: Insn[];
  /** Modifiers (O_LOG) then the action, in order. */
  action: Insn[];
}

/** A rule's words that do not follow the contract's layout. */
export class IpfwDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "IpfwDecodeError";
  }
}

/** Splits a rule's words into its instructions; throws IpfwDecodeError on any length or offset that does not fit. */
export function decodeRule(words: Uint32Array): RuleWords {
  if (words.length < 2) throw new IpfwDecodeError(`a rule has at least 2 words, got ${words.length}`);
  const rulenum = words[0]! & 0xffff;
  const set = (words[0]! >>> 16) & 0x1f;
  const cmdLen = words[1]! & 0xffff;
  const actOfs = words[1]! >>> 16;
  if (cmdLen + 2 !== words.length) throw new IpfwDecodeError(`cmd_len ${cmdLen} does not match the ${words.length - 2} command words`);
  if (actOfs >= cmdLen) throw new IpfwDecodeError(`act_ofs ${actOfs} leaves no action in ${cmdLen} command words`);
  const cmds = words.subarray(2);
  const match: Insn[] = [];
  const action: Insn[] = [];
  let at = 0;
  while (at < cmdLen) {
    const h = cmds[at]!;
    const len = insnLen(h);
    if (len === 0 || at + len > cmdLen) throw new IpfwDecodeError(`instruction at word ${at} has length ${len}, past the end (${cmdLen})`);
    if (at < actOfs && at + len > actOfs) throw new IpfwDecodeError(`instruction at word ${at} crosses act_ofs ${actOfs}`);
    const insn: Insn = { at, opcode: insnOpcode(h), len, arg1: insnArg1(h), not: insnNot(h), or: insnOr(h), ops: cmds.subarray(at + 1, at + len) };
    (at < actOfs ? match : action).push(insn);
    at += len;
  }
  return { rulenum, set, match, action };
}
