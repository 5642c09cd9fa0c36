// ipfw's dynamic states (FreeBSD netpfil/ipfw/ip_fw_dynamic.c): keep-state makes one per
// flow, check-state (and keep-state's own probe) finds it for packets of either direction.
//
// Per vnet: a hash of 1024 chains per kmem page charged to the vnet (one page allocated
// with the first state, doubled whenever the states outnumber the chains, up to 256 pages:
// 262,144 chains, in chunks of 16 pages, kmem's largest allocation, named by V_DYNHASH
// and V_DYNDIR), states from the charged zone "ipfw_dyn" (64 bytes), at most dyn_max of
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
  V_LT_SHORT, ST_DYN_CREATED, ST_DYN_FULL, ST_DYN_EXPIRED, RL_NUM, V_DYNHPAGES, V_DYNDIR,
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

const NBUCKETS: u32 = 1024; // per page
const HASH_MAX_PAGES: u32 = 256;
const CHUNK_PAGES: u32 = 16;
const CHUNK_SHIFT: u32 = 14; // chains per chunk: 16 pages of 1024

/** Where chunk c of the state hash is named. */
@inline function dirSlot(c: u32): usize {
  return c == 0 ? VF(V_DYNHASH) : VF(V_DYNDIR + (c << 2));
}

/** The chain head of hash value h (already masked). */
@inline function bucket(h: u32): usize {
  return load<usize>(dirSlot(h >> CHUNK_SHIFT)) + ((<usize>h & ((1 << CHUNK_SHIFT) - 1)) << 2);
}

/** Allocate a zeroed table of `pages` into dir (16 words). false: no memory (nothing kept). */
function tableAlloc(dir: usize, pages: u32): bool {
  const per = pages < CHUNK_PAGES ? pages : CHUNK_PAGES;
  const n = pages / per;
  for (let c: u32 = 0; c < n; c++) {
    const t = kmem_alloc(per, curvnet());
    if (t == 0) {
      for (let j: u32 = 0; j < c; j++) kmem_free(load<usize>(dir + (j << 2)), per, curvnet());
      return false;
    }
    memory.fill(t, 0, per << 12);
    store<usize>(dir + (c << 2), t);
  }
  return true;
}

/** Free the current vnet's table. */
function tableFree(): void {
  const pages = load<u32>(VF(V_DYNHPAGES));
  if (pages == 0) return;
  const per = pages < CHUNK_PAGES ? pages : CHUNK_PAGES;
  for (let c: u32 = 0; c < pages / per; c++) {
    kmem_free(load<usize>(dirSlot(c)), per, curvnet());
    store<usize>(dirSlot(c), 0);
  }
  store<u32>(VF(V_DYNHPAGES), 0);
}

const newDir = memory.data(64, 4);
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

/** One end of a flow (address, port), mixed. */
@inline function endHash(a: usize, port: u32): u32 {
  let h = load<u32>(a) * 0x9e3779b1 ^ load<u32>(a, 4) * 0x85ebca6b ^ load<u32>(a, 8) * 0xc2b2ae35;
  h ^= load<u32>(a, 12) * 0x27d4eb2f ^ (port + 1) * 0x165667b1;
  h ^= h >> 15;
  h *= 0x2c1b3c6d;
  h ^= h >> 12;
  return h;
}

/**
 * The chain of a flow: the sum of its two ends' hashes, so both directions meet in one
 * chain (an xor of the raw fields, as before, put flows that differ in both ports or in
 * address and port into one chain).
 */
@inline function flowHash(src: usize, sport: u32, dst: usize, dport: u32, proto: u32): u32 {
  const h = endHash(src, sport) + endHash(dst, dport) + proto * 0x9e3779b1;
  return (h ^ (h >> 16)) & ((load<u32>(VF(V_DYNHPAGES)) << 10) - 1);
}

@inline function hashOf(): u32 {
  return flowHash(srcAddr, Args.sport, dstAddr, Args.dport, Args.proto);
}

/** Rehash every state into a table of twice the pages, when kmem has them. */
function dyn_grow(): void {
  const pages = load<u32>(VF(V_DYNHPAGES));
  if (!tableAlloc(newDir, pages << 1)) return; // longer chains, still correct
  const nb = pages << 10;
  // Unlink every state from the old table onto one list, then switch tables and rehash.
  let all: usize = 0;
  for (let i: u32 = 0; i < nb; i++) {
    const b = bucket(i);
    let d = load<usize>(b);
    while (d != 0) {
      const next = load<usize>(d + D_NEXT);
      store<usize>(d + D_NEXT, all);
      all = d;
      d = next;
    }
  }
  tableFree();
  const per = (pages << 1) < CHUNK_PAGES ? pages << 1 : CHUNK_PAGES;
  for (let c: u32 = 0; c < (pages << 1) / per; c++) store<usize>(dirSlot(c), load<usize>(newDir + (c << 2)));
  store<u32>(VF(V_DYNHPAGES), pages << 1);
  while (all != 0) {
    const next = load<usize>(all + D_NEXT);
    const b = bucket(flowHash(all + D_SRC, <u32>load<u16>(all + D_SPORT), all + D_DST, <u32>load<u16>(all + D_DPORT), <u32>load<u8>(all + D_PROTO)));
    store<usize>(all + D_NEXT, load<usize>(b));
    store<usize>(b, all);
    all = next;
  }
}

/** The state of the current packet's flow (either direction), or 0; sets dynReverse. */
export function dyn_lookup(): usize {
  const tab = load<usize>(VF(V_DYNHASH));
  if (tab == 0) return 0;
  const now = ticks();
  for (let d = load<usize>(bucket(hashOf())); d != 0; d = load<usize>(d + D_NEXT)) {
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
    if (!tableAlloc(VF(V_DYNHASH), 1)) return 0;
    store<u32>(VF(V_DYNHPAGES), 1);
  } else {
    const pages = load<u32>(VF(V_DYNHPAGES));
    if (pages < HASH_MAX_PAGES && load<u32>(VF(V_DYNCOUNT)) >= (pages << 10)) dyn_grow();
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
  const b = bucket(hashOf());
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
  const nb = load<u32>(VF(V_DYNHPAGES)) << 10;
  for (let i: u32 = 0; i < nb; i++) {
    let prev = bucket(i);
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
  if (!keepTable) {
    tableFree();
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
  const nb = load<u32>(VF(V_DYNHPAGES)) << 10;
  for (let i: u32 = 0; i < nb && n < max; i++) {
    for (let d = load<usize>(bucket(i)); d != 0 && n < max; d = load<usize>(d + D_NEXT)) {
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
