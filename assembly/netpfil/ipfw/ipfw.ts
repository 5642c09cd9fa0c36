// ipfw: the firewall as a loadable module (FreeBSD sys/netpfil/ipfw), per vnet, on the pfil
// heads of inet and inet6 (net/pfil.ts). The host compiles rule text (host/ipfw/) into the
// microinstructions of docs/ipfw_insn.md; this module checks every rule before it keeps it
// (ip_fw_rules.ts), walks the rules over each packet (ip_fw2.ts) and keeps the dynamic
// states of keep-state (ip_fw_dynamic.ts).
//
// Per vnet (a VNET_SYSINIT at SI_SUB_PROTO_FIREWALL, after inet and inet6): an empty rule
// list with the default rule 65535 (deny, or accept with default_to_accept), the dynamic
// table's knobs with FreeBSD's defaults, counters, a log ring, hooks on inet in/out and
// inet6 in/out (the heads whose owners are loaded when the vnet is made or ipfw loads:
// load ipfw after inet6), present exactly while the firewall can refuse something (a rule,
// or default deny): an empty accepting firewall is not on the packet path at all. The uninit unhooks and frees rules, states, the hash and log
// pages and stops the expiry callout, so a destroyed vnet, or every vnet on kldunload,
// keeps nothing. ipfw depends on inet (ICMP errors, RSTs, "me"); IPv6 is reached through
// the kernel's AF_INET6 table.
//
// Host entry points take a struct vnet pointer, check it (vnet_valid) and run in that
// vnet. Words travel through the module buffer ipfw_buf() (IPFW_BUF_WORDS words).

import {
  CURVNET_SET, CURVNET_RESTORE, vnet_valid, vnet_data_alloc, vnet_data_free, vnet_data_copy, vnet_master_base,
  vnet_sysinit_register, zone_create, zone_destroy, ZONE_CHARGE, callout_init, callout_drain, kmem_free, curvnet,
  MOD_LOAD, MOD_UNLOAD, MOD_QUIESCE, ENOMEM, EINVAL, ENOSPC, m_gethdr, m_append, m_freem, PFIL_DROPPED,
} from "../../kmod/kapi";
import { MT_DATA } from "../../sys/mbuf";
import { ESRCH } from "../../sys/errno";
import { SI_SUB_PROTO_FIREWALL, SI_ORDER_ANY } from "../../sys/kernel";
import {
  IpfwGlobals, VF, V_SIZE, V_RULES, V_NRULES, V_DEFACCEPT, V_DYNCOUNT, V_DEF_PKTS, V_DEF_BYTES, V_DEF_TS, V_DYNMAX,
  V_LOGRING, V_LOGSEQ, V_NAT, V_LT_SYN, V_LT_ACK, V_LT_FIN, V_LT_RST, V_LT_UDP, V_LT_SHORT, V_HOOKED, V_CALLOUT, V_STATS,
  ST_COUNT, DYN_MAX_DEFAULT, DYN_SYN_LIFETIME, DYN_ACK_LIFETIME, DYN_FIN_LIFETIME, DYN_RST_LIFETIME, DYN_UDP_LIFETIME,
  DYN_SHORT_LIFETIME, RL_NEXT, RL_NUM, RL_SET, RL_CMDLEN, RL_ACTOFS, RL_PKTS, RL_BYTES, RL_TS, RL_CMD, IPFW_DEFAULT_RULE,
  O_DENY, O_ACCEPT, R_WORDS, V_TABLES_MAX, V_TENT_MAX, V_NTABLES, V_NTENT, V_TENT_HPAGES,
} from "./ip_fw_var";
import {
  table_setzones, table_free_all, table_rule_refs, table_rule_undo, table_create, table_destroy, table_flush, table_add,
  table_del, table_lookup, table_list, table_info, table_numbers, table_find, TD_SIZE, TE_SIZE, TE_VALUE, TE_LEN, TE_ADDR, TABLES_MAX_DEFAULT,
  TENT_MAX_DEFAULT, TABLE_NUM_MAX,
} from "./ip_fw_table";
import {
  ruleZones, ipfw_check_rule, ipfw_insert, ipfw_delete, ipfw_flush_rules, ipfw_zero_rules, lastReason, lastWhere,
} from "./ip_fw_rules";
import { dyn_setzone, dyn_free_all, dyn_delete_rule, dyn_list, DYN_SIZE } from "./ip_fw_dynamic";
import { ipfw_hook_vnet, ipfw_unhook_vnet, ipfw_sync_hooks, ipfw_hook, LOG_RING } from "./ip_fw2";
import {
  NatGlobals, NV_MAX, NV_COUNT, NV_LT_TCP_TRANS, NV_LT_TCP_EST, NV_LT_UDP, NV_LT_ICMP, NV_LT_FRAG, NAT_MAX_DEFAULT,
  NAT_LT_TCP_TRANS, NAT_LT_TCP_EST, NAT_LT_UDP, NAT_LT_ICMP, NAT_LT_FRAG, NAT_ENT_SIZE, nat_config, nat_delete, nat_list,
  nat_free_all, nat_callout, natReason,
} from "./ip_fw_nat";
export { kmod_heap_top } from "../../kmod/kmod";

export const IPFW_BUF_WORDS: u32 = 16384;
const buf = memory.data(<i32>(IPFW_BUF_WORDS * 4), 8);
let dynZone: usize = 0;
let natZone: usize = 0;
let tdZone: usize = 0;
let teZone: usize = 0;
let badWords = false;

// ---------------------------------------------------------------------------------------
// Per-vnet life

function ipfw_vnet_init(): i32 {
  callout_init(VF(V_CALLOUT));
  callout_init(nat_callout());
  return ipfw_hook_vnet();
}

function ipfw_vnet_uninit(): void {
  ipfw_unhook_vnet();
  callout_drain(VF(V_CALLOUT));
  callout_drain(nat_callout());
  nat_free_all();
  dyn_free_all(false);
  ipfw_flush_rules();
  table_free_all();
  const ring = load<usize>(VF(V_LOGRING));
  if (ring != 0) {
    kmem_free(ring, 1, curvnet());
    store<usize>(VF(V_LOGRING), 0);
  }
}

function destroyZones(): void {
  for (let i: u32 = 0; i < 3; i++) {
    const z = load<usize>(ruleZones + (i << 2));
    if (z != 0) zone_destroy(z, false);
    store<usize>(ruleZones + (i << 2), 0);
  }
  if (dynZone != 0) zone_destroy(dynZone, false);
  dynZone = 0;
  if (natZone != 0) zone_destroy(natZone, false);
  natZone = 0;
  if (tdZone != 0) zone_destroy(tdZone, false);
  tdZone = 0;
  if (teZone != 0) zone_destroy(teZone, false);
  teZone = 0;
}

export function modevent(what: i32): i32 {
  if (what == MOD_LOAD) {
    const off = vnet_data_alloc(V_SIZE, 8);
    if (off < 0) return -off;
    IpfwGlobals.voff = <u32>off;
    const m = vnet_master_base() + <usize>off;
    memory.fill(m, 0, V_SIZE);
    store<u32>(m + V_DYNMAX, DYN_MAX_DEFAULT);
    store<u32>(m + V_LT_SYN, DYN_SYN_LIFETIME);
    store<u32>(m + V_LT_ACK, DYN_ACK_LIFETIME);
    store<u32>(m + V_LT_FIN, DYN_FIN_LIFETIME);
    store<u32>(m + V_LT_RST, DYN_RST_LIFETIME);
    store<u32>(m + V_LT_UDP, DYN_UDP_LIFETIME);
    store<u32>(m + V_LT_SHORT, DYN_SHORT_LIFETIME);
    store<u32>(m + V_TABLES_MAX, TABLES_MAX_DEFAULT);
    store<u32>(m + V_TENT_MAX, TENT_MAX_DEFAULT);
    NatGlobals.base = V_NAT;
    store<u32>(m + V_NAT + NV_MAX, NAT_MAX_DEFAULT);
    store<u32>(m + V_NAT + NV_LT_TCP_TRANS, NAT_LT_TCP_TRANS);
    store<u32>(m + V_NAT + NV_LT_TCP_EST, NAT_LT_TCP_EST);
    store<u32>(m + V_NAT + NV_LT_UDP, NAT_LT_UDP);
    store<u32>(m + V_NAT + NV_LT_ICMP, NAT_LT_ICMP);
    store<u32>(m + V_NAT + NV_LT_FRAG, NAT_LT_FRAG);
    vnet_data_copy(<u32>off, V_SIZE);
    store<usize>(ruleZones, zone_create("ipfw_rule128", 128, 0, ZONE_CHARGE, 0));
    store<usize>(ruleZones + 4, zone_create("ipfw_rule512", 512, 0, ZONE_CHARGE, 0));
    store<usize>(ruleZones + 8, zone_create("ipfw_rule2k", 2048, 0, ZONE_CHARGE, 0));
    dynZone = zone_create("ipfw_dyn", DYN_SIZE, 0, ZONE_CHARGE, 0);
    natZone = zone_create("ipfw_nat", NAT_ENT_SIZE, 0, ZONE_CHARGE, 0);
    NatGlobals.zone = natZone;
    tdZone = zone_create("ipfw_table", TD_SIZE, 0, ZONE_CHARGE, 0);
    teZone = zone_create("ipfw_tentry", TE_SIZE, 0, ZONE_CHARGE, 0);
    table_setzones(tdZone, teZone);
    if (load<usize>(ruleZones) == 0 || load<usize>(ruleZones + 4) == 0 || load<usize>(ruleZones + 8) == 0 || dynZone == 0 || natZone == 0 ||
      tdZone == 0 || teZone == 0) {
      destroyZones();
      vnet_data_free(<u32>off, V_SIZE);
      return ENOMEM;
    }
    dyn_setzone(dynZone);
    const r = vnet_sysinit_register(SI_SUB_PROTO_FIREWALL, SI_ORDER_ANY, ipfw_vnet_init.index, 0, ipfw_vnet_uninit.index);
    if (r != 0) {
      destroyZones();
      vnet_data_free(<u32>off, V_SIZE);
      return r < 0 ? -r : r;
    }
    return 0;
  }
  if (what == MOD_QUIESCE) return 0; // rules and states go with it (the uninit in every vnet)
  if (what == MOD_UNLOAD) {
    destroyZones();
    vnet_data_free(IpfwGlobals.voff, V_SIZE);
    return 0;
  }
  return 0;
}

// ---------------------------------------------------------------------------------------
// Host entry points

export function ipfw_buf(): usize {
  return buf;
}

/** Is [p, p + words) inside the module buffer? (The host passes ipfw_buf().) */
function inBuf(p: usize, words: u32): bool {
  return p >= buf && words <= IPFW_BUF_WORDS && p + (<usize>words << 2) <= buf + (<usize>IPFW_BUF_WORDS << 2);
}

/**
 * ipfw add: the rule of `words` words at p. 0, or -EINVAL (ipfw_add_reason / ipfw_add_where
 * say why), -ENOMEM.
 */
export function ipfw_add(v: usize, p: usize, words: u32): i32 {
  badWords = false;
  if (!vnet_valid(v)) return -EINVAL;
  if (!inBuf(p, words)) {
    badWords = true;
    return -EINVAL;
  }
  const old = CURVNET_SET(v);
  let r = ipfw_check_rule(p, words);
  // Tables the rule names and that do not exist are created (FreeBSD), and go again if the
  // rule is not kept.
  if (r == 0) r = table_rule_refs(p + 8, load<u32>(p, 4) >> 16);
  if (r == 0) {
    r = ipfw_sync_hooks(true);
    if (r == 0) r = ipfw_insert(p, words);
    if (r != 0) {
      ipfw_sync_hooks(false);
      table_rule_undo();
    }
  }
  CURVNET_RESTORE(old);
  return r;
}

export function ipfw_add_reason(): u32 {
  return badWords ? R_WORDS : lastReason;
}

export function ipfw_add_where(): u32 {
  return lastWhere;
}

/** ipfw delete: rules numbered num (set < 0: any set; num 0 and set >= 0: the whole set). */
export function ipfw_del(v: usize, num: u32, set: i32): i32 {
  if (!vnet_valid(v) || num >= IPFW_DEFAULT_RULE || set > 31) return -EINVAL;
  const old = CURVNET_SET(v);
  const n = ipfw_delete(num, set, dyn_delete_rule.index);
  ipfw_sync_hooks(false);
  CURVNET_RESTORE(old);
  return <i32>n;
}

/** ipfw flush: every rule but 65535, and every dynamic state. Rules deleted. */
export function ipfw_flush(v: usize): i32 {
  if (!vnet_valid(v)) return -EINVAL;
  const old = CURVNET_SET(v);
  dyn_free_all(true);
  const n = ipfw_flush_rules();
  ipfw_sync_hooks(false);
  CURVNET_RESTORE(old);
  return <i32>n;
}

/** ipfw zero [num]: counters of rule num, or of all (0). Rules zeroed. */
export function ipfw_zero(v: usize, num: u32): i32 {
  if (!vnet_valid(v) || num > IPFW_DEFAULT_RULE) return -EINVAL;
  const old = CURVNET_SET(v);
  const n = ipfw_zero_rules(num);
  CURVNET_RESTORE(old);
  return <i32>n;
}

/**
 * ipfw list: every rule (the default last) as [rule words][packets lo, hi][bytes lo, hi]
 * [last match s] into the module buffer at p, at most cap words. Words written, or
 * -ENOSPC when they do not fit.
 */
export function ipfw_list(v: usize, p: usize, cap: u32): i32 {
  if (!vnet_valid(v) || !inBuf(p, cap)) return -EINVAL;
  const old = CURVNET_SET(v);
  let n: u32 = 0;
  let r = load<usize>(VF(V_RULES));
  let err: i32 = 0;
  while (r != 0) {
    const cl = <u32>load<u16>(r + RL_CMDLEN);
    if (n + 2 + cl + 5 > cap) {
      err = -ENOSPC;
      break;
    }
    const o = p + (<usize>n << 2);
    store<u32>(o, <u32>load<u16>(r + RL_NUM) | (<u32>load<u8>(r + RL_SET) << 16));
    store<u32>(o, cl | (<u32>load<u16>(r + RL_ACTOFS) << 16), 4);
    memory.copy(o + 8, r + RL_CMD, cl << 2);
    const t = o + 8 + (cl << 2);
    store<u64>(t, load<u64>(r + RL_PKTS));
    store<u64>(t, load<u64>(r + RL_BYTES), 8);
    store<u32>(t, load<u32>(r + RL_TS), 16);
    n += 2 + cl + 5;
    r = load<usize>(r + RL_NEXT);
  }
  if (err == 0) {
    if (n + 8 > cap) {
      err = -ENOSPC;
    } else {
      const o = p + (<usize>n << 2);
      store<u32>(o, IPFW_DEFAULT_RULE | (31 << 16));
      store<u32>(o, 1, 4);
      store<u32>(o, (load<u32>(VF(V_DEFACCEPT)) != 0 ? O_ACCEPT : O_DENY) | (1 << 8), 8);
      store<u64>(o, load<u64>(VF(V_DEF_PKTS)), 12);
      store<u64>(o, load<u64>(VF(V_DEF_BYTES)), 20);
      store<u32>(o, load<u32>(VF(V_DEF_TS)), 28);
      n += 8;
    }
  }
  CURVNET_RESTORE(old);
  return err != 0 ? err : <i32>n;
}

/** Dynamic states: up to max 16-word records (ip_fw_dynamic.ts dyn_list) after `skip`. */
export function ipfw_states(v: usize, p: usize, max: u32, skip: u32): i32 {
  if (!vnet_valid(v) || !inBuf(p, max * 16)) return -EINVAL;
  const old = CURVNET_SET(v);
  const n = dyn_list(p, max, skip);
  CURVNET_RESTORE(old);
  return <i32>n;
}

export function ipfw_set_default(v: usize, accept: u32): i32 {
  return ipfw_set(v, 0, accept != 0 ? 1 : 0);
}

// Knobs: 0 default_to_accept, 1 dyn_max, 2-7 dyn_{syn,ack,fin,rst,udp,short}_lifetime (s);
// read only: 8 dynamic states, 9 rules, 10 hooks (bit 0 inet, bit 1 inet6), 11 log records.
const KNOB_OFF: StaticArray<u32> = [V_DEFACCEPT, V_DYNMAX, V_LT_SYN, V_LT_ACK, V_LT_FIN, V_LT_RST, V_LT_UDP, V_LT_SHORT, V_DYNCOUNT, V_NRULES, V_HOOKED, V_LOGSEQ];
const KNOBS_RW: u32 = 8;

export function ipfw_get(v: usize, what: u32): f64 {
  if (!vnet_valid(v) || what >= <u32>KNOB_OFF.length) return -1;
  const old = CURVNET_SET(v);
  const x = load<u32>(VF(KNOB_OFF[what]));
  CURVNET_RESTORE(old);
  return <f64>x;
}

/** Set knob what (0 .. 7). 0 or -EINVAL (lifetimes 1 .. 86400 s, dyn_max up to 1,048,576). */
export function ipfw_set(v: usize, what: u32, value: u32): i32 {
  if (!vnet_valid(v) || what >= KNOBS_RW) return -EINVAL;
  if (what == 0 && value > 1) return -EINVAL;
  if (what == 1 && value > 1048576) return -EINVAL;
  if (what >= 2 && (value == 0 || value > 86400)) return -EINVAL;
  const old = CURVNET_SET(v);
  const was = load<u32>(VF(KNOB_OFF[what]));
  store<u32>(VF(KNOB_OFF[what]), value);
  let r: i32 = 0;
  if (what == 0) {
    r = ipfw_sync_hooks(false);
    if (r != 0) store<u32>(VF(KNOB_OFF[what]), was); // could not hook: the default stays
  }
  CURVNET_RESTORE(old);
  return r;
}

export function ipfw_stat(v: usize, i: u32): f64 {
  if (!vnet_valid(v) || i >= ST_COUNT) return -1;
  const old = CURVNET_SET(v);
  const x = load<u32>(VF(V_STATS + (i << 2)));
  CURVNET_RESTORE(old);
  return <f64>x;
}

/**
 * Log record seq (0-based, of ipfw_get(v, 11) written) into the buffer at p (16 words):
 * [seq][ms][rulenum | action << 16 | dir << 24][af | proto << 8 | tcpflags << 16]
 * [sport | dport << 16][bytes][src 4][dst 4][0 0]. 1 if copied, 0 if it was overwritten
 * (the ring keeps the last LOG_RING) or not written yet, -EINVAL.
 */
export function ipfw_log_read(v: usize, seq: u32, p: usize): i32 {
  if (!vnet_valid(v) || !inBuf(p, 16)) return -EINVAL;
  const old = CURVNET_SET(v);
  const total = load<u32>(VF(V_LOGSEQ));
  const ring = load<usize>(VF(V_LOGRING));
  let r: i32 = 0;
  if (ring != 0 && seq < total && total - seq <= LOG_RING) {
    memory.copy(p, ring + ((seq & (LOG_RING - 1)) << 6), 64);
    r = 1;
  }
  CURVNET_RESTORE(old);
  return r;
}

// ---------------------------------------------------------------------------------------
// ipfw nat (ip_fw_nat.ts)

/** ipfw nat N config: the config of `words` words at p. 0, -EINVAL (ipfw_nat_reason), -ENOMEM, -ENOSPC. */
export function ipfw_nat_config(v: usize, p: usize, words: u32): i32 {
  badWords = false;
  if (!vnet_valid(v)) return -EINVAL;
  if (!inBuf(p, words)) return -EINVAL;
  const old = CURVNET_SET(v);
  const r = nat_config(p, words);
  CURVNET_RESTORE(old);
  return r;
}

export function ipfw_nat_reason(): u32 {
  return natReason;
}

/** ipfw nat N delete. 0 or -ENOENT, -EINVAL. */
export function ipfw_nat_del(v: usize, id: u32): i32 {
  if (!vnet_valid(v)) return -EINVAL;
  const old = CURVNET_SET(v);
  const r = nat_delete(id);
  CURVNET_RESTORE(old);
  return r;
}

/** ipfw nat show: instances and entries (ip_fw_nat.ts nat_list). Words written. */
export function ipfw_nat_list(v: usize, p: usize, cap: u32, skip: u32): i32 {
  if (!vnet_valid(v) || !inBuf(p, cap)) return -EINVAL;
  const old = CURVNET_SET(v);
  const n = nat_list(p, cap, skip);
  CURVNET_RESTORE(old);
  return <i32>n;
}

// NAT knobs: 0 nat_max, 1-5 lifetimes (s) tcp transitory, tcp established, udp, icmp,
// fragment; read only: 6 entries.
const NAT_KNOB: StaticArray<u32> = [NV_MAX, NV_LT_TCP_TRANS, NV_LT_TCP_EST, NV_LT_UDP, NV_LT_ICMP, NV_LT_FRAG, NV_COUNT];

export function ipfw_nat_get(v: usize, what: u32): f64 {
  if (!vnet_valid(v) || what >= <u32>NAT_KNOB.length) return -1;
  const old = CURVNET_SET(v);
  const x = load<u32>(VF(V_NAT + NAT_KNOB[what]));
  CURVNET_RESTORE(old);
  return <f64>x;
}

/** Set NAT knob what (0 .. 5): nat_max up to 1,048,576, lifetimes 1 .. 86400 s. 0 or -EINVAL. */
export function ipfw_nat_set(v: usize, what: u32, value: u32): i32 {
  if (!vnet_valid(v) || what > 5) return -EINVAL;
  if (what == 0 && value > 1048576) return -EINVAL;
  if (what > 0 && (value == 0 || value > 86400)) return -EINVAL;
  const old = CURVNET_SET(v);
  store<u32>(VF(V_NAT + NAT_KNOB[what]), value);
  CURVNET_RESTORE(old);
  return 0;
}

export { EINVAL };

/**
 * Run vnet v's rules over the len-byte IPv4 (af 4) or IPv6 (af 6) packet at p in the module
 * buffer, as its pfil hook at direction dir with no interface, as if it were hooked: for
 * tests that compare verdicts and counters with a reference. Meant for rules whose actions
 * send nothing (accept, deny, count, skipto, check-state). 1 passed, 0 dropped, -EINVAL,
 * -ENOMEM.
 */
export function ipfw_inject(v: usize, p: usize, len: u32, af: u32, dir: u32): i32 {
  if (!vnet_valid(v) || len == 0 || !inBuf(p, (len + 3) >> 2) || (af != 4 && af != 6)) return -EINVAL;
  const old = CURVNET_SET(v);
  let r: i32 = -ENOMEM;
  const m = m_gethdr(MT_DATA);
  if (m != 0) {
    if (!m_append(m, len, p)) {
      m_freem(m);
    } else {
      const out = ipfw_hook(m, 0, dir, af);
      r = out == PFIL_DROPPED ? 0 : 1;
      if (out != PFIL_DROPPED) m_freem(out);
    }
  }
  CURVNET_RESTORE(old);
  return r;
}

// ---------------------------------------------------------------------------------------
// Lookup tables (ip_fw_table.ts): ipfw table N create|destroy|flush|add|delete|list|info|lookup

/** ipfw table N create [limit L]. 0, -EEXIST, -ENOSPC (tables_max), -ENOMEM, -EINVAL. */
export function ipfw_table_create(v: usize, num: u32, limit: u32): i32 {
  if (!vnet_valid(v) || num > TABLE_NUM_MAX) return -EINVAL;
  const old = CURVNET_SET(v);
  const r = table_create(num, limit);
  CURVNET_RESTORE(old);
  return r;
}

/** ipfw table N destroy. 0, -ESRCH (no such table), -EBUSY (a rule names it), -EINVAL. */
export function ipfw_table_destroy(v: usize, num: u32): i32 {
  if (!vnet_valid(v) || num > TABLE_NUM_MAX) return -EINVAL;
  const old = CURVNET_SET(v);
  const r = table_destroy(num);
  CURVNET_RESTORE(old);
  return r;
}

/** ipfw table N flush. Entries removed, -ESRCH, -EINVAL. */
export function ipfw_table_flush(v: usize, num: u32): i32 {
  if (!vnet_valid(v) || num > TABLE_NUM_MAX) return -EINVAL;
  const old = CURVNET_SET(v);
  const r = table_flush(num);
  CURVNET_RESTORE(old);
  return r;
}

/**
 * ipfw table N add: the key at p (6 words: [af | len << 8 | update << 16][value][address,
 * header byte order]). 0 added, 1 updated, -ESRCH, -EEXIST, -EFBIG (the table's limit),
 * -ENOSPC (table_entries_max), -ENOMEM, -EINVAL.
 */
export function ipfw_table_add(v: usize, num: u32, p: usize): i32 {
  if (!vnet_valid(v) || num > TABLE_NUM_MAX || !inBuf(p, 6)) return -EINVAL;
  const w = load<u32>(p);
  if ((w >> 17) != 0) return -EINVAL;
  const old = CURVNET_SET(v);
  const r = table_add(num, w & 0xff, (w >> 8) & 0xff, p + 8, load<u32>(p, 4), (w & 0x10000) != 0);
  CURVNET_RESTORE(old);
  return r;
}

/** ipfw table N delete: the key at p as for add; the entry's value is written at p + 4. 0, -ESRCH, -ENOENT, -EINVAL. */
export function ipfw_table_del(v: usize, num: u32, p: usize): i32 {
  if (!vnet_valid(v) || num > TABLE_NUM_MAX || !inBuf(p, 6)) return -EINVAL;
  const w = load<u32>(p);
  const old = CURVNET_SET(v);
  const r = table_del(num, w & 0xff, (w >> 8) & 0xff, p + 8, p + 4);
  CURVNET_RESTORE(old);
  return r;
}

/**
 * ipfw table N lookup: the af (word 0) address at p + 8 by longest prefix; the entry found
 * is written over p as list writes it. 1 found, 0 not, -ESRCH, -EINVAL.
 */
export function ipfw_table_lookup(v: usize, num: u32, p: usize): i32 {
  if (!vnet_valid(v) || num > TABLE_NUM_MAX || !inBuf(p, 6)) return -EINVAL;
  const af = load<u32>(p);
  if (af != 4 && af != 6) return -EINVAL;
  const old = CURVNET_SET(v);
  let r: i32 = 0;
  if (table_find(num) == 0) {
    r = -ESRCH;
  } else {
    const e = table_lookup(num, af, p + 8);
    if (e != 0) {
      store<u32>(p, af | (<u32>load<u8>(e + TE_LEN) << 8));
      store<u32>(p, load<u32>(e + TE_VALUE), 4);
      memory.copy(p + 8, e + TE_ADDR, 16);
      r = 1;
    }
  }
  CURVNET_RESTORE(old);
  return r;
}

/** Entries of table N after skip, at most max, 6 words each (ip_fw_table.ts table_list). */
export function ipfw_table_list(v: usize, num: u32, p: usize, max: u32, skip: u32): i32 {
  if (!vnet_valid(v) || num > TABLE_NUM_MAX || !inBuf(p, max * 6)) return -EINVAL;
  const old = CURVNET_SET(v);
  const r = table_list(num, p, max, skip);
  CURVNET_RESTORE(old);
  return r;
}

/** [num, entries, limit, rules naming it] at p. 0, -ESRCH, -EINVAL. */
export function ipfw_table_info(v: usize, num: u32, p: usize): i32 {
  if (!vnet_valid(v) || num > TABLE_NUM_MAX || !inBuf(p, 4)) return -EINVAL;
  const old = CURVNET_SET(v);
  const r = table_info(num, p);
  CURVNET_RESTORE(old);
  return r;
}

/** The vnet's table numbers after `skip`, at most max, at p (unsorted). Numbers written, or -EINVAL. */
export function ipfw_table_numbers(v: usize, p: usize, max: u32, skip: u32): i32 {
  if (!vnet_valid(v) || !inBuf(p, max)) return -EINVAL;
  const old = CURVNET_SET(v);
  const r = table_numbers(p, max, skip);
  CURVNET_RESTORE(old);
  return <i32>r;
}

// Table knobs: 0 tables_max (1..65536), 1 table_entries_max (0..1,048,576); read only: 2
// tables, 3 entries, 4 pages of the entry hash.
const TABLE_KNOB: StaticArray<u32> = [V_TABLES_MAX, V_TENT_MAX, V_NTABLES, V_NTENT, V_TENT_HPAGES];

export function ipfw_table_get(v: usize, what: u32): f64 {
  if (!vnet_valid(v) || what >= <u32>TABLE_KNOB.length) return -1;
  const old = CURVNET_SET(v);
  const x = load<u32>(VF(TABLE_KNOB[what]));
  CURVNET_RESTORE(old);
  return <f64>x;
}

/** Set table knob what (0, 1). Lowering a limit keeps what exists and refuses more. 0 or -EINVAL. */
export function ipfw_table_set(v: usize, what: u32, value: u32): i32 {
  if (!vnet_valid(v) || what > 1) return -EINVAL;
  if (what == 0 && (value == 0 || value > 65536)) return -EINVAL;
  if (what == 1 && value > 1048576) return -EINVAL;
  const old = CURVNET_SET(v);
  store<u32>(VF(TABLE_KNOB[what]), value);
  CURVNET_RESTORE(old);
  return 0;
}
