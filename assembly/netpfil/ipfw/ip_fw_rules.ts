// ipfw rules: validation of a rule the host hands in, and the per-vnet sorted list
// (FreeBSD ip_fw_sockopt.c: check_ipfw_rule_body, add/delete/zero). The kernel trusts
// nothing in a rule: every length, opcode, offset and argument is checked before the rule
// is stored, and the interpreter (ip_fw2.ts) relies on exactly what is checked here.
//
// The list is singly linked, sorted by rule number; a new rule goes after the rules of
// the same number (ipfw's order). The default rule 65535 is not on the list: its
// counters and its action (deny, or accept with default_to_accept) live in the vnet block.

import { zone_alloc, zone_free, curvnet, ticks, kmem_alloc, kmem_free } from "../../kmod/kapi";
import {
  insn_op, insn_len, insn_arg, F_OR, F_NOT, O_IP4, O_IP6, O_PROTO, O_IP_SRC_MASK, O_IP_DST_MASK, O_IP_SRC_ME, O_IP_DST_ME,
  O_IP6_SRC_MASK, O_IP6_DST_MASK, O_IP_SRC_LOOKUP, O_IP_DST_LOOKUP, O_IP_SRCPORT, O_IP_DSTPORT, O_VIA, O_RECV, O_XMIT, O_IN,
  O_FRAG, O_TCPFLAGS, O_TCPOPTS, O_ESTAB, O_SETUP, O_ICMPTYPE, O_ICMP6TYPE, O_PROBE_STATE, O_KEEP_STATE, O_IPLEN, O_IPTTL,
  O_IPID, O_ICMPCODE, O_LAYER2, O_LOG, O_ACCEPT, O_DENY, O_REJECT, O_RESET, O_COUNT, O_SKIPTO, O_CHECK_STATE, O_NAT,
  O_UNREACH6, O_DSCP, O_SETDSCP, O_REASS, O_MATCH_LAST, O_ACTION_LAST, REJECT_RESET, IPFW_DEFAULT_RULE, R_RULENUM, R_SET, R_CMDLEN, R_ACTOFS, R_INSNLEN, R_OPCODE, R_OPLEN,
  R_ACTION_IN_MATCH, R_MATCH_IN_ACTION, R_NO_ACTION, R_SKIPTO, R_OR_OPEN, R_ARG, R_FLAGS, RL_NEXT, RL_NUM, RL_SET,
  RL_CMDLEN, RL_ACTOFS, RL_ZONE, RL_PKTS, RL_BYTES, RL_TS, RL_LOGGED, RL_CMD, RULE_MAX_WORDS, V_RULES, V_NRULES,
  RL_PRE_PROTO, RL_PRE_FLAGS, RL_PRE_DLO, RL_PRE_DHI, PRE_DPORT,
  V_DEF_PKTS, V_DEF_BYTES, V_DEF_TS, VF, RL_IDX, V_INDEX, V_IXPAGES, V_IXHASH, V_IXHPAGES, V_IXHMASK, IX_SIZE, IX_SHIFT,
  IX_RULE, IX_PRE, IX_FLAGS, IX_DLO, IX_DHI, IX_NEXT, IX_END, IX_RUN, IX_RUN_MIN, IX_MAX_PAGES, IX_MAX_RULES,
} from "./ip_fw_var";

/** The zones of the three size classes (created at MOD_LOAD). */
export const ruleZones = memory.data(12, 4);

/** The size class of a rule of cmdlen command words: items of 128, 512, 2048 bytes. */
@inline function classOf(cmdlen: u32): u32 {
  return cmdlen <= 20 ? 0 : cmdlen <= 116 ? 1 : 2;
}

export let lastReason: u32 = 0;
export let lastWhere: u32 = 0;

@inline function refuse(reason: u32, where: u32): i32 {
  lastReason = reason;
  lastWhere = where;
  return -22; // EINVAL
}

/** The operand length an opcode must have (words after the header), or -1 if it varies. */
function matchLenOk(op: u32, len: u32, arg: u32): bool {
  switch (op) {
    case O_IP_SRC_LOOKUP: case O_IP_DST_LOOKUP:
      return len == 1 || len == 2; // table(N), or table(N,value): one operand, the value
    case O_IP4: case O_IP6: case O_IP_SRC_ME: case O_IP_DST_ME:
    case O_IN: case O_FRAG: case O_TCPFLAGS: case O_TCPOPTS: case O_ESTAB: case O_SETUP: case O_PROBE_STATE:
    case O_KEEP_STATE: case O_LAYER2: case O_PROTO:
      return len == 1;
    case O_IP_SRC_MASK: case O_IP_DST_MASK:
      return arg >= 1 && len == 1 + 2 * arg;
    case O_IP6_SRC_MASK: case O_IP6_DST_MASK:
      return arg >= 1 && len == 1 + 8 * arg;
    case O_IP_SRCPORT: case O_IP_DSTPORT: case O_IPLEN: case O_IPTTL: case O_IPID:
      return arg >= 1 && len == 1 + arg;
    case O_VIA: case O_RECV: case O_XMIT:
      return len == 5;
    case O_DSCP:
      return arg == 0 && len == 3; // a bitmap of the 64 code points
    case O_ICMPTYPE: case O_ICMP6TYPE: case O_ICMPCODE:
      return len == 9;
  }
  return false;
}

/**
 * Check the rule of `words` words at p (a copy in module memory). 0, or -EINVAL with
 * lastReason / lastWhere (a command word index, or 0/1 for the two header words).
 */
export function ipfw_check_rule(p: usize, words: u32): i32 {
  lastReason = 0;
  lastWhere = 0;
  if (words < 3) return refuse(R_CMDLEN, 1);
  const w0 = load<u32>(p);
  const w1 = load<u32>(p, 4);
  const num = w0 & 0xffff;
  if (num == 0 || num >= IPFW_DEFAULT_RULE) return refuse(R_RULENUM, 0);
  if ((w0 >> 21) != 0) return refuse(R_SET, 0);
  const cmdlen = w1 & 0xffff;
  const actofs = w1 >> 16;
  if (cmdlen == 0 || cmdlen > RULE_MAX_WORDS || cmdlen != words - 2) return refuse(R_CMDLEN, 1);
  if (actofs >= cmdlen) return refuse(R_ACTOFS, 1);
  const cmd = p + 8;
  let i: u32 = 0;
  let sawAct = false;
  let lastMatchOr = false;
  while (i < cmdlen) {
    const h = load<u32>(cmd + (i << 2));
    const op = insn_op(h);
    const len = insn_len(h);
    const arg = insn_arg(h);
    if (len == 0 || i + len > cmdlen) return refuse(R_INSNLEN, i);
    if (i < actofs && i + len > actofs) return refuse(R_ACTOFS, i);
    if (i < actofs) {
      if (op >= O_LOG && op <= O_ACTION_LAST) return refuse(R_ACTION_IN_MATCH, i);
      if (op == 0 || op > O_MATCH_LAST) return refuse(R_OPCODE, i);
      if (!matchLenOk(op, len, arg)) return refuse(R_OPLEN, i);
      if (op == O_PROTO && arg > 255) return refuse(R_ARG, i);
      if (op == O_IP_SRCPORT || op == O_IP_DSTPORT || op == O_IPLEN || op == O_IPTTL || op == O_IPID) {
        for (let j: u32 = 1; j < len; j++) {
          const r = load<u32>(cmd + ((i + j) << 2));
          if ((r & 0xffff) > (r >> 16)) return refuse(R_ARG, i + j);
        }
      }
      lastMatchOr = (h & F_OR) != 0;
    } else {
      if (op >= 1 && op <= O_MATCH_LAST) return refuse(R_MATCH_IN_ACTION, i);
      if (op < O_LOG || op > O_ACTION_LAST) return refuse(R_OPCODE, i);
      if (len != 1) return refuse(R_OPLEN, i);
      if ((h & (F_OR | F_NOT)) != 0) return refuse(R_FLAGS, i);
      if (sawAct) return refuse(R_NO_ACTION, i); // something after the action
      if (op != O_LOG) {
        sawAct = true;
        if (op == O_SKIPTO && (arg <= num)) return refuse(R_SKIPTO, i);
        if (op == O_REJECT && arg > 15 && arg != REJECT_RESET) return refuse(R_ARG, i);
        if (op == O_UNREACH6 && arg > 255) return refuse(R_ARG, i);
        if (op == O_SETDSCP && arg > 63) return refuse(R_ARG, i); // a 6-bit code point
        if ((op == O_ACCEPT || op == O_DENY || op == O_RESET || op == O_COUNT || op == O_CHECK_STATE || op == O_REASS) && arg != 0) return refuse(R_ARG, i);
      }
    }
    i += len;
    if (i == actofs && lastMatchOr) return refuse(R_OR_OPEN, i - len);
  }
  if (!sawAct) return refuse(R_NO_ACTION, cmdlen - 1);
  return 0;
}

/**
 * Store a checked rule (words at p) in the current vnet's list. 0, -ENOMEM, or -ENOSPC
 * (the vnet holds IX_MAX_RULES rules already).
 */
export function ipfw_insert(p: usize, words: u32): i32 {
  if (load<u32>(VF(V_NRULES)) >= IX_MAX_RULES) return -28; // ENOSPC
  const cmdlen = words - 2;
  const c = classOf(cmdlen);
  const r = zone_alloc(load<usize>(ruleZones + (c << 2)));
  if (r == 0) return -12; // ENOMEM
  const w0 = load<u32>(p);
  const w1 = load<u32>(p, 4);
  const num = w0 & 0xffff;
  store<u16>(r + RL_NUM, <u16>num);
  store<u8>(r + RL_SET, <u8>(w0 >> 16));
  store<u16>(r + RL_CMDLEN, <u16>cmdlen);
  store<u16>(r + RL_ACTOFS, <u16>(w1 >> 16));
  store<u16>(r + RL_ZONE, <u16>c);
  store<u64>(r + RL_PKTS, 0);
  store<u64>(r + RL_BYTES, 0);
  store<u32>(r + RL_TS, 0);
  store<u32>(r + RL_LOGGED, 0);
  memory.copy(r + RL_CMD, p + 8, cmdlen << 2);
  rule_prefilter(r);
  let prev = VF(V_RULES);
  let q = load<usize>(prev);
  while (q != 0 && <u32>load<u16>(q + RL_NUM) <= num) {
    prev = q + RL_NEXT;
    q = load<usize>(q + RL_NEXT);
  }
  store<usize>(r + RL_NEXT, q);
  store<usize>(prev, r);
  store<u32>(VF(V_NRULES), load<u32>(VF(V_NRULES)) + 1);
  if (ipfw_reindex() != 0) {
    // No memory for the larger index: the rule is not kept (the old index still holds).
    store<usize>(prev, q);
    freeRule(r);
    return -12; // ENOMEM
  }
  return 0;
}

@inline function ixHash(key: u32, end: u32): u32 {
  let h = key ^ (end * 0x9e3779b1);
  h ^= h >> 16;
  h *= 0x85ebca6b;
  h ^= h >> 13;
  return h;
}

/** Does entry e start or continue an exact-port run (one protocol, one exact dport)? */
@inline function ixExact(e: usize): bool {
  return load<u16>(e + IX_PRE) != 0 && (<u32>load<u16>(e + IX_FLAGS) & PRE_DPORT) != 0 &&
    load<u16>(e + IX_DLO) == load<u16>(e + IX_DHI);
}

/** Replace an allocation of `have` pages at *slot by one of `need` (0: none). false: no memory. */
function ixRealloc(slot: u32, pslot: u32, need: u32): bool {
  const have = load<u32>(VF(pslot));
  if (need == have) return true;
  const old = load<usize>(VF(slot));
  let nw: usize = 0;
  if (need != 0) {
    nw = kmem_alloc(need, curvnet());
    if (nw == 0) return false;
  }
  if (old != 0) kmem_free(old, have, curvnet());
  store<usize>(VF(slot), nw);
  store<u32>(VF(pslot), need);
  return true;
}

/**
 * Rebuild the current vnet's walk index (ip_fw_var.ts, IX_*) from the rule list: after
 * every change of the list. 0, or -ENOMEM when a larger index cannot be had (the old one
 * is left as it was). Without memory for the run hash the index has no runs, which the
 * walk handles (every rule is then tried on its prefilter).
 */
export function ipfw_reindex(): i32 {
  const n = load<u32>(VF(V_NRULES));
  const need: u32 = n == 0 ? 0 : (((n << IX_SHIFT) + 4095) >> 12);
  if (need > load<u32>(VF(V_IXPAGES))) {
    if (!ixRealloc(V_INDEX, V_IXPAGES, need)) return -12;
  } else if (need < load<u32>(VF(V_IXPAGES))) {
    ixRealloc(V_INDEX, V_IXPAGES, need); // shrinking: on failure the larger one serves
  }
  const ix = load<usize>(VF(V_INDEX));
  let i: u32 = 0;
  for (let q = load<usize>(VF(V_RULES)); q != 0; q = load<usize>(q + RL_NEXT)) {
    const e = ix + (<usize>i << IX_SHIFT);
    store<u32>(e + IX_RULE, <u32>q);
    store<u16>(e + IX_PRE, load<u16>(q + RL_PRE_PROTO));
    store<u16>(e + IX_FLAGS, load<u16>(q + RL_PRE_FLAGS));
    store<u16>(e + IX_DLO, load<u16>(q + RL_PRE_DLO));
    store<u16>(e + IX_DHI, load<u16>(q + RL_PRE_DHI));
    store<u16>(e + IX_END, 0);
    store<u16>(q + RL_IDX, <u16>i);
    i++;
  }
  // Skip steps on the prefilter protocol, from the back: the first later rule whose
  // protocol differs (pf's skip[PF_SKIP_PROTO]).
  let bound: u32 = n;
  for (let k = <i32>n - 1; k >= 0; k--) {
    const e = ix + (<usize>k << IX_SHIFT);
    if (<u32>k + 1 < n && load<u16>(e + IX_PRE) != load<u16>(e + IX_SIZE + IX_PRE)) bound = <u32>k + 1;
    store<u16>(e + IX_NEXT, <u16>(load<u16>(e + IX_PRE) != 0 ? bound : <u32>k + 1));
  }
  // Exact-port runs: count their members, size the hash (load at most 1/2), fill it.
  let members: u32 = 0;
  for (let s: u32 = 0; s < n;) {
    let t = s;
    while (t < n && ixExact(ix + (<usize>t << IX_SHIFT))) t++;
    if (t - s >= IX_RUN_MIN) members += t - s;
    s = t == s ? s + 1 : t;
  }
  let slots: u32 = 16;
  while (slots < members * 2) slots <<= 1;
  let hpages: u32 = members == 0 ? 0 : ((slots << 3) + 4095) >> 12;
  if (hpages > IX_MAX_PAGES || !ixRealloc(V_IXHASH, V_IXHPAGES, hpages)) {
    ixRealloc(V_IXHASH, V_IXHPAGES, 0);
    return 0; // no runs: correct, only slower
  }
  if (hpages == 0) return 0;
  const tab = load<usize>(VF(V_IXHASH));
  slots = (hpages << 12) >> 3;
  const mask = slots - 1;
  store<u32>(VF(V_IXHMASK), mask);
  memory.fill(tab, 0, hpages << 12);
  for (let s: u32 = 0; s < n;) {
    let t = s;
    while (t < n && ixExact(ix + (<usize>t << IX_SHIFT))) t++;
    if (t - s >= IX_RUN_MIN) {
      // From the back, so each key's slot ends holding its first member and each member
      // links to the next one with its key.
      for (let k = <i32>t - 1; k >= <i32>s; k--) {
        const e = ix + (<usize>k << IX_SHIFT);
        store<u16>(e + IX_FLAGS, <u16>(<u32>load<u16>(e + IX_FLAGS) | IX_RUN));
        store<u16>(e + IX_END, <u16>t);
        const key = (<u32>load<u16>(e + IX_PRE) << 16) | <u32>load<u16>(e + IX_DLO);
        let h = ixHash(key, t) & mask;
        while (true) {
          const sl = tab + (<usize>h << 3);
          const w0 = load<u32>(sl);
          if (w0 == 0) {
            store<u32>(sl, key);
            store<u32>(sl + 4, (t << 16) | <u32>k);
            store<u16>(e + IX_NEXT, <u16>t);
            break;
          }
          const w1 = load<u32>(sl + 4);
          if (w0 == key && (w1 >> 16) == t) {
            store<u16>(e + IX_NEXT, <u16>(w1 & 0xffff));
            store<u32>(sl + 4, (t << 16) | <u32>k);
            break;
          }
          h = (h + 1) & mask;
        }
      }
    }
    s = t == s ? s + 1 : t;
  }
  return 0;
}

/**
 * The prefilter of a checked rule: the protocol of a stand-alone O_PROTO and the range of a
 * stand-alone one-range O_IP_DSTPORT (neither negated nor in an or-block). Only for rules
 * without O_PROBE_STATE / O_KEEP_STATE, whose instructions have no side effects: passing
 * such a rule on a prefilter miss is exactly what the interpreter would decide.
 */
function rule_prefilter(r: usize): void {
  store<u16>(r + RL_PRE_PROTO, 0);
  store<u16>(r + RL_PRE_FLAGS, 0);
  const cmd = r + RL_CMD;
  const actofs = <u32>load<u16>(r + RL_ACTOFS);
  let i: u32 = 0;
  let inOr = false;
  let proto: u32 = 0;
  let flags: u32 = 0;
  while (i < actofs) {
    const h = load<u32>(cmd + (i << 2));
    const op = insn_op(h);
    if (op == O_PROBE_STATE || op == O_KEEP_STATE) return;
    const alone = !inOr && (h & (F_OR | F_NOT)) == 0;
    if (alone && op == O_PROTO) proto = insn_arg(h) + 1;
    if (alone && op == O_IP_DSTPORT && insn_arg(h) == 1 && (flags & PRE_DPORT) == 0) {
      const rg = load<u32>(cmd + ((i + 1) << 2));
      store<u16>(r + RL_PRE_DLO, <u16>rg);
      store<u16>(r + RL_PRE_DHI, <u16>(rg >> 16));
      flags |= PRE_DPORT;
    }
    inOr = (h & F_OR) != 0;
    i += insn_len(h);
  }
  store<u16>(r + RL_PRE_PROTO, <u16>proto);
  store<u16>(r + RL_PRE_FLAGS, <u16>flags);
}

function freeRule(r: usize): void {
  zone_free(load<usize>(ruleZones + (<u32>load<u16>(r + RL_ZONE) << 2)), r);
  store<u32>(VF(V_NRULES), load<u32>(VF(V_NRULES)) - 1);
}

/**
 * Delete the rules numbered num (all sets, or only set `set` when set >= 0); num 0 with
 * set >= 0 deletes the whole set. onDelete(rule) runs first (the states it made go).
 * Returns how many.
 */
export function ipfw_delete(num: u32, set: i32, onDelete: u32): u32 {
  let n: u32 = 0;
  let prev = VF(V_RULES);
  let q = load<usize>(prev);
  while (q != 0) {
    const next = load<usize>(q + RL_NEXT);
    const qn = <u32>load<u16>(q + RL_NUM);
    const qs = <i32>load<u8>(q + RL_SET);
    if ((num == 0 || qn == num) && (set < 0 || qs == set) && !(num == 0 && set < 0)) {
      store<usize>(prev, next);
      call_indirect<void>(onDelete, q);
      freeRule(q);
      n++;
    } else {
      prev = q + RL_NEXT;
    }
    q = next;
  }
  if (n != 0) ipfw_reindex(); // smaller: cannot fail
  return n;
}

/** Every rule but the default. */
export function ipfw_flush_rules(): u32 {
  let n: u32 = 0;
  let q = load<usize>(VF(V_RULES));
  store<usize>(VF(V_RULES), 0);
  while (q != 0) {
    const next = load<usize>(q + RL_NEXT);
    freeRule(q);
    n++;
    q = next;
  }
  ipfw_reindex(); // no rules: frees the index and its hash
  return n;
}

/** Zero the counters of rule num (0: every rule and the default). How many. */
export function ipfw_zero_rules(num: u32): u32 {
  let n: u32 = 0;
  for (let q = load<usize>(VF(V_RULES)); q != 0; q = load<usize>(q + RL_NEXT)) {
    if (num == 0 || <u32>load<u16>(q + RL_NUM) == num) {
      store<u64>(q + RL_PKTS, 0);
      store<u64>(q + RL_BYTES, 0);
      store<u32>(q + RL_TS, 0);
      store<u32>(q + RL_LOGGED, 0);
      n++;
    }
  }
  if (num == 0 || num == IPFW_DEFAULT_RULE) {
    store<u64>(VF(V_DEF_PKTS), 0);
    store<u64>(VF(V_DEF_BYTES), 0);
    store<u32>(VF(V_DEF_TS), 0);
    n++;
  }
  return n;
}

// The second of kernel time last computed and where it began: a 64-bit division per
// counted packet cost more than the rest of counting it.
let secNow: u32 = 0;
let secBase: u64 = 0;

/** Seconds of kernel time. */
@inline function seconds(): u32 {
  const t = ticks();
  if (t < secBase || t - secBase >= 1_000_000) {
    secNow = <u32>(t / 1_000_000);
    secBase = <u64>secNow * 1_000_000;
  }
  return secNow;
}

/** Count a match of rule r (0: the default rule) for a packet of len bytes. */
@inline export function rule_count(r: usize, len: u32): void {
  const s = seconds();
  if (r == 0) {
    store<u64>(VF(V_DEF_PKTS), load<u64>(VF(V_DEF_PKTS)) + 1);
    store<u64>(VF(V_DEF_BYTES), load<u64>(VF(V_DEF_BYTES)) + len);
    store<u32>(VF(V_DEF_TS), s);
    return;
  }
  store<u64>(r + RL_PKTS, load<u64>(r + RL_PKTS) + 1);
  store<u64>(r + RL_BYTES, load<u64>(r + RL_BYTES) + len);
  store<u32>(r + RL_TS, s);
}

export { curvnet };
