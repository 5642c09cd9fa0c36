// ipfw's dynamic states (FreeBSD netpfil/ipfw/ip_fw_dynamic.c): keep-state makes one per
// flow, check-state (and keep-state's own probe) finds it for packets of either direction.
//
// Per vnet: a hash of 1024 chains in one kmem page charged to the vnet (allocated with the
// first state), states from the charged zone "ipfw_dyn" (64 bytes), at most dyn_max of
// them (net.inet.ip.fw.dyn_max; a keep-state past it is refused and the packet denied, as
// FreeBSD does). The hash is symmetric in the two ends, so both directions meet in one
// chain. A state lives until its expiry, refreshed by every packet that hits it:
//   TCP (FreeBSD's dyn_update_tcp_state): SYN one way dyn_syn_lifetime; SYN both ways (and
//   a FIN one way) dyn_ack_lifetime; FIN both ways dyn_fin_lifetime; anything else (RST)
//   dyn_rst_lifetime. UDP dyn_udp_lifetime; other protocols dyn_short_lifetime.
// One callout per vnet, every second while states exist, frees the expired ones; lookups
// ignore an expired state, so expiry is exact in virtual time.
//
// A state points at the rule that made it; deleting that rule deletes its states.

import {
  zone_alloc, zone_free, kmem_alloc, kmem_free, curvnet, ticks, callout_reset, callout_pending,
} from "../../kmod/kapi";
import { Args, srcAddr, dstAddr } from "./ip_fw_args";
import {
  VF, FWSTAT_INC, V_DYNHASH, V_DYNCOUNT, V_DYNMAX, V_CALLOUT, V_LT_SYN, V_LT_ACK, V_LT_FIN, V_LT_RST, V_LT_UDP,
  V_LT_SHORT, ST_DYN_CREATED, ST_DYN_FULL, ST_DYN_EXPIRED, RL_NUM,
} from "./ip_fw_var";

export const DYN_SIZE: u32 = 64;
const D_NEXT: usize = 0;
const D_AF: usize = 4;
const D_PROTO: usize = 5;
const D_STATE: usize = 6; // u16: TH_SYN/FIN/RST seen forward (low byte) and back (high byte)
const D_SPORT: usize = 8;
const D_DPORT: usize = 10;
const D_RULE: usize = 12;
const D_EXPIRE: usize = 16; // u64 µs
const D_RULENUM: usize = 24;
const D_PKTS: usize = 28;
const D_SRC: usize = 32;
const D_DST: usize = 48;

const NBUCKETS: u32 = 1024;
const TH_FIN: u32 = 1;
const TH_SYN: u32 = 2;
const TH_RST: u32 = 4;
const BOTH_SYN: u32 = TH_SYN | (TH_SYN << 8);
const BOTH_FIN: u32 = TH_FIN | (TH_FIN << 8);
const S: u64 = 1_000_000;

export let dynZone: usize = 0;
export function dyn_setzone(z: usize): void {
  dynZone = z;
}

/** Direction of the last lookup's hit: false = as the state was made, true = the reply. */
export let dynReverse = false;

@inline function eq16(a: usize, b: usize): bool {
  return load<u64>(a) == load<u64>(b) && load<u64>(a, 8) == load<u64>(b, 8);
}

@inline function hashOf(): u32 {
  let h = load<u32>(srcAddr) ^ load<u32>(dstAddr);
  h ^= load<u32>(srcAddr, 4) ^ load<u32>(dstAddr, 4) ^ load<u32>(srcAddr, 8) ^ load<u32>(dstAddr, 8);
  h ^= load<u32>(srcAddr, 12) ^ load<u32>(dstAddr, 12);
  h ^= (Args.sport ^ Args.dport) | (Args.proto << 16);
  h ^= h >> 16;
  h *= 0x45d9f3b;
  h ^= h >> 16;
  return h & (NBUCKETS - 1);
}

/** The state of the current packet's flow (either direction), or 0; sets dynReverse. */
export function dyn_lookup(): usize {
  const tab = load<usize>(VF(V_DYNHASH));
  if (tab == 0) return 0;
  const now = ticks();
  for (let d = load<usize>(tab + (hashOf() << 2)); d != 0; d = load<usize>(d + D_NEXT)) {
    if (<u32>load<u8>(d + D_PROTO) != Args.proto || <u32>load<u8>(d + D_AF) != Args.af || load<u64>(d + D_EXPIRE) <= now) continue;
    const sp = <u32>load<u16>(d + D_SPORT);
    const dp = <u32>load<u16>(d + D_DPORT);
    if (sp == Args.sport && dp == Args.dport && eq16(d + D_SRC, srcAddr) && eq16(d + D_DST, dstAddr)) {
      dynReverse = false;
      return d;
    }
    if (sp == Args.dport && dp == Args.sport && eq16(d + D_SRC, dstAddr) && eq16(d + D_DST, srcAddr)) {
      dynReverse = true;
      return d;
    }
  }
  return 0;
}

/** The rule a state belongs to. */
@inline export function dyn_rule(d: usize): usize {
  return load<usize>(d + D_RULE);
}

/** A packet hit state d (in direction dynReverse): count it and move its expiry. */
export function dyn_update(d: usize): void {
  store<u32>(d + D_PKTS, load<u32>(d + D_PKTS) + 1);
  let life: u32;
  if (Args.proto == 6) {
    let st = <u32>load<u16>(d + D_STATE);
    if (Args.ulp) {
      const f = Args.tcpflags & (TH_SYN | TH_FIN | TH_RST);
      st |= dynReverse ? f << 8 : f;
      store<u16>(d + D_STATE, <u16>st);
    }
    const k = st & (BOTH_SYN | BOTH_FIN | TH_RST | (TH_RST << 8));
    if (k == TH_SYN) life = load<u32>(VF(V_LT_SYN));
    else if (k == BOTH_SYN || k == (BOTH_SYN | TH_FIN) || k == (BOTH_SYN | (TH_FIN << 8))) life = load<u32>(VF(V_LT_ACK));
    else if (k == (BOTH_SYN | BOTH_FIN)) life = load<u32>(VF(V_LT_FIN));
    else life = load<u32>(VF(V_LT_RST));
  } else if (Args.proto == 17) {
    life = load<u32>(VF(V_LT_UDP));
  } else {
    life = load<u32>(VF(V_LT_SHORT));
  }
  store<u64>(d + D_EXPIRE, ticks() + <u64>life * S);
}

/**
 * keep-state: a state for the current packet's flow, made by rule r. Returns it, or 0 when
 * the vnet's table is full (counted) or memory is short.
 */
export function dyn_install(r: usize): usize {
  if (load<u32>(VF(V_DYNCOUNT)) >= load<u32>(VF(V_DYNMAX))) {
    FWSTAT_INC(ST_DYN_FULL);
    return 0;
  }
  let tab = load<usize>(VF(V_DYNHASH));
  if (tab == 0) {
    tab = kmem_alloc(1, curvnet());
    if (tab == 0) return 0;
    memory.fill(tab, 0, NBUCKETS << 2);
    store<usize>(VF(V_DYNHASH), tab);
  }
  const d = zone_alloc(dynZone);
  if (d == 0) {
    FWSTAT_INC(ST_DYN_FULL);
    return 0;
  }
  store<u8>(d + D_AF, <u8>Args.af);
  store<u8>(d + D_PROTO, <u8>Args.proto);
  store<u16>(d + D_STATE, 0);
  store<u16>(d + D_SPORT, <u16>Args.sport);
  store<u16>(d + D_DPORT, <u16>Args.dport);
  store<usize>(d + D_RULE, r);
  store<u32>(d + D_RULENUM, <u32>load<u16>(r + RL_NUM));
  store<u32>(d + D_PKTS, 0);
  memory.copy(d + D_SRC, srcAddr, 16);
  memory.copy(d + D_DST, dstAddr, 16);
  const b = tab + (hashOf() << 2);
  store<usize>(d + D_NEXT, load<usize>(b));
  store<usize>(b, d);
  store<u32>(VF(V_DYNCOUNT), load<u32>(VF(V_DYNCOUNT)) + 1);
  FWSTAT_INC(ST_DYN_CREATED);
  dynReverse = false;
  dyn_update(d);
  if (!callout_pending(VF(V_CALLOUT))) callout_reset(VF(V_CALLOUT), S, dyn_tick.index, 0);
  return d;
}

/**
 * Free the states for which keep(d) is false: what = 0 expired ones, 1 all, 2 those of
 * rule `rule`. Returns how many.
 */
function sweep(what: u32, rule: usize): u32 {
  const tab = load<usize>(VF(V_DYNHASH));
  if (tab == 0) return 0;
  const now = ticks();
  let n: u32 = 0;
  for (let i: u32 = 0; i < NBUCKETS; i++) {
    let prev = tab + (i << 2);
    let d = load<usize>(prev);
    while (d != 0) {
      const next = load<usize>(d + D_NEXT);
      const go = what == 1 || (what == 0 ? load<u64>(d + D_EXPIRE) <= now : load<usize>(d + D_RULE) == rule);
      if (go) {
        store<usize>(prev, next);
        zone_free(dynZone, d);
        n++;
      } else {
        prev = d + D_NEXT;
      }
      d = next;
    }
  }
  store<u32>(VF(V_DYNCOUNT), load<u32>(VF(V_DYNCOUNT)) - n);
  return n;
}

/** The per-vnet callout (curvnet is its vnet): expired states go; rearmed while any remain. */
function dyn_tick(arg: usize): void {
  const n = sweep(0, 0);
  for (let i: u32 = 0; i < n; i++) FWSTAT_INC(ST_DYN_EXPIRED);
  if (load<u32>(VF(V_DYNCOUNT)) != 0) callout_reset(VF(V_CALLOUT), S, dyn_tick.index, 0);
}

/** Every state of the current vnet, and the hash page (flush, uninit). */
export function dyn_free_all(keepTable: bool): u32 {
  const n = sweep(1, 0);
  const tab = load<usize>(VF(V_DYNHASH));
  if (!keepTable && tab != 0) {
    kmem_free(tab, 1, curvnet());
    store<usize>(VF(V_DYNHASH), 0);
  }
  return n;
}

/** The states rule r made (r is being deleted). */
export function dyn_delete_rule(r: usize): void {
  if (load<u32>(VF(V_DYNCOUNT)) != 0) sweep(2, r);
}

/**
 * Copy up to max state records of 16 words, skipping the first `skip`, to out:
 * [af | proto << 8 | tcpstate << 16][rulenum][src 4][dst 4][sport | dport << 16]
 * [ms to expiry][packets][0 0]. Returns how many were written.
 */
export function dyn_list(out: usize, max: u32, skip: u32): u32 {
  const tab = load<usize>(VF(V_DYNHASH));
  if (tab == 0) return 0;
  const now = ticks();
  let seen: u32 = 0;
  let n: u32 = 0;
  for (let i: u32 = 0; i < NBUCKETS && n < max; i++) {
    for (let d = load<usize>(tab + (i << 2)); d != 0 && n < max; d = load<usize>(d + D_NEXT)) {
      const exp = load<u64>(d + D_EXPIRE);
      if (exp <= now) continue;
      if (seen++ < skip) continue;
      const o = out + <usize>n * 64;
      store<u32>(o, <u32>load<u8>(d + D_AF) | (<u32>load<u8>(d + D_PROTO) << 8) | (<u32>load<u16>(d + D_STATE) << 16));
      store<u32>(o, load<u32>(d + D_RULENUM), 4);
      memory.copy(o + 8, d + D_SRC, 16);
      memory.copy(o + 24, d + D_DST, 16);
      store<u32>(o, <u32>load<u16>(d + D_SPORT) | (<u32>load<u16>(d + D_DPORT) << 16), 40);
      store<u32>(o, <u32>((exp - now + 999) / 1000), 44);
      store<u32>(o, load<u32>(d + D_PKTS), 48);
      store<u32>(o, 0, 52);
      store<u64>(o, 0, 56);
      n++;
    }
  }
  return n;
}
