// ipfw's constants, the per-vnet block and the rule layout (FreeBSD netinet/ip_fw.h and
// netpfil/ipfw/ip_fw_private.h in idea). The rule encoding itself is docs/ipfw_insn.md.

import { VNET } from "../../kmod/kapi";

// Instruction header word: opcode (0-7) | len (8-13) | F_OR (14) | F_NOT (15) | arg1 (16-31).
@inline export function insn_op(h: u32): u32 { return h & 0xff; }
@inline export function insn_len(h: u32): u32 { return (h >> 8) & 0x3f; }
@inline export function insn_arg(h: u32): u32 { return h >> 16; }
export const F_OR: u32 = 1 << 14;
export const F_NOT: u32 = 1 << 15;

// Match opcodes.
export const O_IP4: u32 = 1;
export const O_IP6: u32 = 2;
export const O_PROTO: u32 = 3;
export const O_IP_SRC_MASK: u32 = 4;
export const O_IP_DST_MASK: u32 = 5;
export const O_IP_SRC_ME: u32 = 6;
export const O_IP_DST_ME: u32 = 7;
export const O_IP6_SRC_MASK: u32 = 8;
export const O_IP6_DST_MASK: u32 = 9;
export const O_IP_SRC_LOOKUP: u32 = 10;
export const O_IP_DST_LOOKUP: u32 = 11;
export const O_IP_SRCPORT: u32 = 12;
export const O_IP_DSTPORT: u32 = 13;
export const O_VIA: u32 = 14;
export const O_RECV: u32 = 15;
export const O_XMIT: u32 = 16;
export const O_IN: u32 = 17;
export const O_FRAG: u32 = 18;
export const O_TCPFLAGS: u32 = 19;
export const O_TCPOPTS: u32 = 20;
export const O_ESTAB: u32 = 21;
export const O_SETUP: u32 = 22;
export const O_ICMPTYPE: u32 = 23;
export const O_ICMP6TYPE: u32 = 24;
export const O_PROBE_STATE: u32 = 25;
export const O_KEEP_STATE: u32 = 26;
export const O_IPLEN: u32 = 27;
export const O_IPTTL: u32 = 28;
export const O_IPID: u32 = 29;
export const O_ICMPCODE: u32 = 30;
export const O_LAYER2: u32 = 31;
export const O_DSCP: u32 = 32;
export const O_MATCH_LAST: u32 = 32;

// Action part.
export const O_LOG: u32 = 64;
export const O_ACCEPT: u32 = 65;
export const O_DENY: u32 = 66;
export const O_REJECT: u32 = 67;
export const O_RESET: u32 = 68;
export const O_COUNT: u32 = 69;
export const O_SKIPTO: u32 = 70;
export const O_CHECK_STATE: u32 = 71;
export const O_NAT: u32 = 72;
export const O_UNREACH6: u32 = 73;
export const O_SETDSCP: u32 = 74;
export const O_REASS: u32 = 75;
export const O_ACTION_LAST: u32 = 75;

/** O_REJECT's arg1 that means "reset" rather than an ICMP code. */
export const REJECT_RESET: u32 = 256;

export const IPFW_DEFAULT_RULE: u32 = 65535;

// Why a rule was refused (ipfw_add returns -EINVAL; ipfw_add_reason() says which, and
// ipfw_add_where() the command word it concerns). host/admin/ipfw.ts has the texts.
export const R_RULENUM: u32 = 1; // rule number not in 1..65534
export const R_SET: u32 = 2; // set not in 0..31, or unused bits of word 0 set
export const R_CMDLEN: u32 = 3; // cmd_len 0, larger than the kernel keeps, or not the words given
export const R_ACTOFS: u32 = 4; // act_ofs not the start of an instruction inside the commands
export const R_INSNLEN: u32 = 5; // an instruction of length 0 or running past the end
export const R_OPCODE: u32 = 6; // unknown opcode
export const R_OPLEN: u32 = 7; // wrong length for the opcode (or its count)
export const R_ACTION_IN_MATCH: u32 = 8; // an action before act_ofs
export const R_MATCH_IN_ACTION: u32 = 9; // a match instruction after act_ofs
export const R_NO_ACTION: u32 = 10; // no action, or something after the action
export const R_SKIPTO: u32 = 11; // skipto not to a later rule number
export const R_OR_OPEN: u32 = 12; // F_OR on the last match instruction
export const R_ARG: u32 = 13; // an argument out of range
export const R_FLAGS: u32 = 14; // F_OR / F_NOT on an action
export const R_WORDS: u32 = 15; // the word buffer itself is not where the kernel reads

// Rule: a header then the command words; items of one of three charged zones by size.
export const RL_NEXT: usize = 0;
export const RL_NUM: usize = 4; // u16 rulenum, u8 set at 6
export const RL_SET: usize = 6;
export const RL_CMDLEN: usize = 8; // u16
export const RL_ACTOFS: usize = 10; // u16
export const RL_ZONE: usize = 12; // u16: which size class
export const RL_IDX: usize = 14; // u16: the rule's position in the walk index (V_INDEX)
export const RL_PKTS: usize = 16; // u64
export const RL_BYTES: usize = 24; // u64
export const RL_TS: usize = 32; // u32: seconds of kernel time at the last match
export const RL_LOGGED: usize = 36; // u32: logged by this rule (O_LOG's limit)
// Prefilter (ip_fw_rules.ts rule_prefilter): what a packet must have for the rule to be
// worth interpreting, read from its stand-alone instructions when the rule has no side
// effects (no probe or keep-state), so the walk can pass it with a few compares.
export const RL_PRE_PROTO: usize = 40; // u16: protocol + 1, 0 = any
export const RL_PRE_FLAGS: usize = 42; // u16: PRE_DPORT
export const RL_PRE_DLO: usize = 44; // u16
export const RL_PRE_DHI: usize = 46; // u16
export const PRE_DPORT: u32 = 1;
export const RL_CMD: usize = 48;
export const RULE_CLASSES: u32 = 3;
export const RULE_MAX_WORDS: u32 = 500; // (2048 - 48) / 4

// Per-vnet block (VNET space).
export const V_RULES: u32 = 0;
export const V_NRULES: u32 = 4;
export const V_DEFACCEPT: u32 = 8;
export const V_DYNCOUNT: u32 = 12;
export const V_DEF_PKTS: u32 = 16; // u64
export const V_DEF_BYTES: u32 = 24; // u64
export const V_DEF_TS: u32 = 32;
export const V_DYNMAX: u32 = 36;
export const V_DYNHASH: u32 = 40; // the state table's directory page (its chunks), or 0
export const V_LOGRING: u32 = 44; // kmem page of log records, or 0
export const V_LOGSEQ: u32 = 48; // records written (ever)
export const V_LT_SYN: u32 = 52; // lifetimes, seconds
export const V_LT_ACK: u32 = 56;
export const V_LT_FIN: u32 = 60;
export const V_LT_RST: u32 = 64;
export const V_LT_UDP: u32 = 68;
export const V_LT_SHORT: u32 = 72;
export const V_HOOKED: u32 = 76; // bit 0 inet, bit 1 inet6
export const V_CALLOUT: u32 = 80; // CALLOUT_SIZE (40)
export const V_STATS: u32 = 120;
export const V_INDEX: u32 = 168; // kmem pages: the walk index, IX_SIZE bytes per rule, or 0
export const V_IXPAGES: u32 = 172;
export const V_IXHASH: u32 = 176; // kmem pages: the exact-port hash of the index's runs, or 0
export const V_IXHPAGES: u32 = 180;
export const V_IXHMASK: u32 = 184; // slots - 1
export const V_DYNHPAGES: u32 = 188; // pages of the state table: 128 slots each
export const V_DYNDIR: u32 = 192; // 16 words of ip_fw_dynamic.ts (the table's geometry)
export const V_NAT: u32 = 256; // ip_fw_nat.ts's words (NV_SIZE)
// Lookup tables (ip_fw_table.ts).
export const V_TBLDIR: u32 = 336; // kmem page: 1024 chains of table descriptors, or 0
export const V_NTABLES: u32 = 340;
export const V_TABLES_MAX: u32 = 344; // net.inet.ip.fw.tables_max
export const V_TENT_HASH: u32 = 348; // kmem pages: the entry hash, or 0
export const V_TENT_HPAGES: u32 = 352;
export const V_NTENT: u32 = 356; // entries over all tables
export const V_TENT_MAX: u32 = 360; // table_entries_max
export const V_SIZE: u32 = 256 + 80 + 32;

// The walk index (ip_fw_rules.ts ipfw_reindex, FreeBSD's chain->map with pf's skip steps):
// the rules in order as an array, each entry its rule and prefilter, rebuilt after every
// add, delete and flush. A run of at least IX_RUN_MIN consecutive rules that each match
// one protocol and one exact destination port (from their prefilters) is hashed by
// (protocol, port): a packet enters the run at the first member with its key, and a
// member that fails goes on to the next member with the same key (IX_NEXT) or past the
// run (IX_END). Any other rule with a protocol prefilter has as IX_NEXT the next rule of a
// different prefilter protocol (a skip step): a packet of another protocol skips the lot.
export const IX_SIZE: u32 = 16;
export const IX_SHIFT: u32 = 4;
export const IX_RULE: usize = 0; // u32: the rule
export const IX_PRE: usize = 4; // u16: prefilter protocol + 1, 0 = any
export const IX_FLAGS: usize = 6; // u16: PRE_DPORT | IX_RUN
export const IX_DLO: usize = 8; // u16
export const IX_DHI: usize = 10; // u16
export const IX_NEXT: usize = 12; // u16: see above
export const IX_END: usize = 14; // u16: run members: the index after the run
export const IX_RUN: u32 = 2;
export const IX_RUN_MIN: u32 = 4;
export const IX_MAX_PAGES: u32 = 16; // kmem's largest allocation
/** Rules a vnet may hold: the index fits one kmem allocation. */
export const IX_MAX_RULES: u32 = (IX_MAX_PAGES << 12) >> IX_SHIFT;

// Counters (V_STATS + 4 * i), shown by the host as ipfw's.
export const ST_BADPKT: u32 = 0; // malformed packets dropped before any rule
export const ST_DENIED: u32 = 1; // dropped by deny, reject, reset, unreach6, nat
export const ST_ACCEPTED: u32 = 2;
export const ST_DYN_CREATED: u32 = 3;
export const ST_DYN_FULL: u32 = 4; // keep-state refused: the table held dyn_max states
export const ST_DYN_EXPIRED: u32 = 5;
export const ST_LOGGED: u32 = 6;
export const ST_REJECTS: u32 = 7; // ICMP / ICMPv6 unreachables sent
export const ST_RESETS: u32 = 8; // TCP RSTs sent
export const ST_NAT: u32 = 9; // dropped by nat: no such instance, table full, a lone fragment, a bad quote
export const ST_DEFAULT: u32 = 10; // decided by the default rule
export const ST_COUNT: u32 = 12;

// FreeBSD's defaults (ip_fw_dynamic.c): net.inet.ip.fw.dyn_*.
export const DYN_MAX_DEFAULT: u32 = 16384;
export const DYN_SYN_LIFETIME: u32 = 20;
export const DYN_ACK_LIFETIME: u32 = 300;
export const DYN_FIN_LIFETIME: u32 = 1;
export const DYN_RST_LIFETIME: u32 = 1;
export const DYN_UDP_LIFETIME: u32 = 10;
export const DYN_SHORT_LIFETIME: u32 = 5;

export class IpfwGlobals {
  static voff: u32 = 0;
}

@inline export function VF(off: u32): usize {
  return VNET(IpfwGlobals.voff + off);
}

@inline export function FWSTAT_INC(i: u32): void {
  const p = VF(V_STATS + (i << 2));
  store<u32>(p, load<u32>(p) + 1);
}
