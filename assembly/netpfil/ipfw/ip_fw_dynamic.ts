// ipfw's dynamic states (FreeBSD netpfil/ipfw/ip_fw_dynamic.c): keep-state makes one per
// flow, check-state (and keep-state's own probe) finds it for packets of either direction.
//
// Per vnet: an open-addressed table (linear probing) of 32-byte slots, one per state, that
// holds everything a packet hitting its state reads and writes: the flow's compact key
// (both ends' addresses, IPv6 ones folded to 32 bits, ports, protocol, family), the TCP
// flags seen, the expiry, the rule and the packets counted since the last carry. Beside
// the slots, one tag byte per slot (0: empty, else the top byte of the flow's hash) is what
// a probe walks: a slot is read only when its tag is the packet's, so a hit reads its one
// slot, one cache line of the big table, and the tags' line, 32 times denser and so far
// more often cached (without tags a hit also read every slot before it in its probe run,
// 1.6 on average with 100,000 states in 131,072 slots, often on a second line; with
// chains, the chain head and every state before the hit were each a miss at 100,000
// flows). The rest of a state, read only
// to list it (and for IPv6 to compare whole addresses), is a 48-byte item of the charged
// zone "ipfw_dyn": the packet count carried from the slot every 65,536 packets, the rule
// number, the addresses. The table lives in kmem chunks charged to the vnet (16 pages, kmem's largest
// allocation, or fewer for a small table), its tags in chunks of up to 16 pages (65,536
// tags), both named by a directory of two pages (V_DYNHASH); it starts
// at one page (128 slots) and doubles (rehashed) before the states would fill more than
// 4/5 of it, up to 16,384 pages (2,097,152 slots: dyn_max's ceiling of 1,048,576 fits at
// half load). At most dyn_max states per vnet (net.inet.ip.fw.dyn_max); a keep-state past
// it, or past a table that cannot grow, is refused and the packet denied, as FreeBSD does.
// The slot of a flow is a hash of its two ends taken in a fixed order (the smaller first),
// so both directions probe from the same slot.
//
// A state lives until its expiry, refreshed by every packet that hits it:
//   TCP (FreeBSD's dyn_update_tcp_state): SYN one way dyn_syn_lifetime; SYN both ways (and
//   a FIN one way) dyn_ack_lifetime; FIN both ways dyn_fin_lifetime; anything else (RST)
//   dyn_rst_lifetime. UDP dyn_udp_lifetime; other protocols dyn_short_lifetime.
// One callout per vnet, every second while states exist, frees the expired ones (a slot
// freed pulls later slots of its probe run back, so no tombstones); lookups ignore an
// expired state, so expiry is exact in virtual time.
//
// A state points at the rule that made it; deleting that rule deletes its states.
// A slot pointer is good until the next install or sweep (either may move slots): the
// walk uses the one it got within the packet and keeps none.

import {
  zone_alloc, zone_free, kmem_alloc, kmem_free, curvnet, ticks, callout_reset, callout_pending,
} from "../../kmod/kapi";
import { Args, srcAddr, dstAddr } from "./ip_fw_args";
import {
  VF, FWSTAT_INC, V_DYNHASH, V_DYNCOUNT, V_DYNMAX, V_CALLOUT, V_LT_SYN, V_LT_ACK, V_LT_FIN, V_LT_RST, V_LT_UDP,
  V_LT_SHORT, ST_DYN_CREATED, ST_DYN_FULL, ST_DYN_EXPIRED, RL_NUM, V_DYNHPAGES, V_DYNDIR,
} from "./ip_fw_var";

// A slot. Empty: all zero (K_USED clear). The key is the flow as its state was made (forward).
const SLOT_SHIFT: u32 = 5;
const S_A: usize = 0; // u32: source address (IPv6: folded)
const S_B: usize = 4; // u32: destination address (IPv6: folded)
const S_PORTS: usize = 8; // u32: sport | dport << 16
const S_KEY: usize = 12; // u16: protocol | K_V6 | K_USED | TCP flags seen << K_TCP_SHIFT
const S_PKTS: usize = 14; // u16: packets not yet carried into the item
const S_EXPIRE: usize = 16; // u64 µs
const S_RULE: usize = 24; // u32
const S_ITEM: usize = 28; // u32: the zone item

// The item.
export const DYN_SIZE: u32 = 48;
const D_PKTS: usize = 0; // u32: packets carried from the slot
const D_RULENUM: usize = 4;
const D_SRC: usize = 8;
const D_DST: usize = 24;

const SLOTS_PER_PAGE_SHIFT: u32 = 12 - SLOT_SHIFT; // 128
const CHUNK_PAGES: u32 = 16;
const HASH_MAX_PAGES: u32 = 16384; // 1024 chunks: the directory's first page
// The tags: one byte per slot, 0 for an empty slot, else tagOf(the flow's hash). Tag i is
// byte i & 0xffff of tag chunk i >> 16 (16 pages, or one allocation of slots / 4096 pages
// for a smaller table), named by the directory's second page (32 words at most).
const TAG_DIR: usize = 4096;
const TAG_CHUNK_SHIFT: u32 = 16;
// V_DYNDIR's words (the per-vnet table geometry, read by every lookup).
const V_DYN_CSHIFT: u32 = V_DYNDIR; // log2 of slots per chunk
const V_DYN_MASK: u32 = V_DYNDIR + 4; // slots - 1

const K_V6: u32 = 0x100;
const K_USED: u32 = 0x200;
const K_MATCH: u32 = 0x3ff; // what a packet's key must equal: protocol, family, used
// TCP flags seen: TH_FIN, TH_SYN, TH_RST forward in bits 0-2, the same back in bits 3-5.
const K_TCP_SHIFT: u32 = 10;
const TH_FIN: u32 = 1;
const TH_SYN: u32 = 2;
const TH_RST: u32 = 4;
const BACK: u32 = 3;
const BOTH_SYN: u32 = TH_SYN | (TH_SYN << BACK);
const BOTH_FIN: u32 = TH_FIN | (TH_FIN << BACK);
const S: u64 = 1_000_000;

export let dynZone: usize = 0;
export function dyn_setzone(z: usize): void {
  dynZone = z;
}

/** Direction of the last lookup's hit: false = as the state was made, true = the reply. */
export let dynReverse = false;

/** Slot i of the table whose directory is dir, with chunks of 1 << cshift slots. */
@inline function slotAt(dir: usize, cshift: u32, i: u32): usize {
  return load<usize>(dir + ((<usize>i >> cshift) << 2)) + ((<usize>i & ((1 << cshift) - 1)) << SLOT_SHIFT);
}

/** The address of slot i's tag in the table whose directory is dir. */
@inline function tagAt(dir: usize, i: u32): usize {
  return load<usize>(dir + TAG_DIR + ((<usize>i >> TAG_CHUNK_SHIFT) << 2)) + (<usize>i & ((1 << TAG_CHUNK_SHIFT) - 1));
}

/** The tag of a flow whose hash is h: its top byte (the slot index is taken from the low bits), never 0. */
@inline function tagOf(h: u32): u32 {
  const t = h >> 24;
  return t == 0 ? 1 : t;
}

@inline function eq16(a: usize, b: usize): bool {
  return load<u64>(a) == load<u64>(b) && load<u64>(a, 8) == load<u64>(b, 8);
}

/** An address as the key holds it: IPv4 itself, IPv6 its 128 bits mixed down to 32. */
@inline function fold(a: usize, af: u32): u32 {
  if (af == 4) return load<u32>(a);
  let x = (load<u64>(a) * 0x9e3779b97f4a7c15) ^ load<u64>(a, 8);
  x *= 0xbf58476d1ce4e5b9;
  return <u32>(x >> 32);
}

/**
 * The hash of a flow: its two ends (address << 16 | port) in a fixed order, the smaller
 * first, so both directions hash alike, then two multiply-xorshift rounds.
 */
@inline function flowHash(a: u32, b: u32, ports: u32, pa: u32): u32 {
  const e1 = (<u64>a << 16) | <u64>(ports & 0xffff);
  const e2 = (<u64>b << 16) | <u64>(ports >> 16);
  const lo = e1 < e2 ? e1 : e2;
  const hi = e1 < e2 ? e2 : e1;
  let x = (lo ^ (<u64>pa << 48)) * 0x9e3779b97f4a7c15;
  x = (x ^ hi) * 0xbf58476d1ce4e5b9;
  return <u32>(x ^ (x >> 32));
}

/** The hash of the flow in slot s. */
@inline function slotHash(s: usize): u32 {
  return flowHash(load<u32>(s + S_A), load<u32>(s + S_B), load<u32>(s + S_PORTS), <u32>load<u16>(s + S_KEY) & K_MATCH);
}

@inline function used(s: usize): bool {
  return (<u32>load<u16>(s + S_KEY) & K_USED) != 0;
}

/** The current packet's key bits: protocol, family, used. */
@inline function packetKey(): u32 {
  return Args.proto | (Args.af == 6 ? K_V6 : 0) | K_USED;
}

/** Pages of one tag chunk of a table of `pages`. */
@inline function tagChunkPages(pages: u32): u32 {
  const all = (pages << SLOTS_PER_PAGE_SHIFT) >> 12; // one byte per slot
  return all == 0 ? 1 : all < CHUNK_PAGES ? all : CHUNK_PAGES;
}

/** Tag chunks of a table of `pages`. */
@inline function tagChunks(pages: u32): u32 {
  const all = (pages << SLOTS_PER_PAGE_SHIFT) >> 12;
  return all <= CHUNK_PAGES ? 1 : all / CHUNK_PAGES;
}

/**
 * Allocate a zeroed table of `pages` (a directory of two pages, its slot chunks and its tag
 * chunks). 0: no memory.
 */
function tableAlloc(pages: u32): usize {
  const dir = kmem_alloc(2, curvnet());
  if (dir == 0) return 0;
  memory.fill(dir, 0, 8192);
  const per = pages < CHUNK_PAGES ? pages : CHUNK_PAGES;
  const n = pages / per;
  for (let c: u32 = 0; c < n; c++) {
    const t = kmem_alloc(per, curvnet());
    if (t == 0) {
      tableRelease(dir, pages);
      return 0;
    }
    memory.fill(t, 0, per << 12);
    store<usize>(dir + (c << 2), t);
  }
  const tper = tagChunkPages(pages);
  const tn = tagChunks(pages);
  for (let c: u32 = 0; c < tn; c++) {
    const t = kmem_alloc(tper, curvnet());
    if (t == 0) {
      tableRelease(dir, pages);
      return 0;
    }
    memory.fill(t, 0, tper << 12);
    store<usize>(dir + TAG_DIR + (c << 2), t);
  }
  return dir;
}

/** Free a table of `pages` named by directory dir (chunks not yet made are 0). */
function tableRelease(dir: usize, pages: u32): void {
  const per = pages < CHUNK_PAGES ? pages : CHUNK_PAGES;
  for (let c: u32 = 0; c < pages / per; c++) {
    const t = load<usize>(dir + (c << 2));
    if (t != 0) kmem_free(t, per, curvnet());
  }
  const tper = tagChunkPages(pages);
  const tn = tagChunks(pages);
  for (let c: u32 = 0; c < tn; c++) {
    const t = load<usize>(dir + TAG_DIR + (c << 2));
    if (t != 0) kmem_free(t, tper, curvnet());
  }
  kmem_free(dir, 2, curvnet());
}

/** Make the table of `pages` at dir the current vnet's. */
function tableUse(dir: usize, pages: u32): void {
  const per = pages < CHUNK_PAGES ? pages : CHUNK_PAGES;
  store<usize>(VF(V_DYNHASH), dir);
  store<u32>(VF(V_DYNHPAGES), pages);
  store<u32>(VF(V_DYN_CSHIFT), SLOTS_PER_PAGE_SHIFT + <u32>ctz(per));
  store<u32>(VF(V_DYN_MASK), (pages << SLOTS_PER_PAGE_SHIFT) - 1);
}

/** Free the current vnet's table. */
function tableFree(): void {
  const dir = load<usize>(VF(V_DYNHASH));
  if (dir == 0) return;
  tableRelease(dir, load<u32>(VF(V_DYNHPAGES)));
  store<usize>(VF(V_DYNHASH), 0);
  store<u32>(VF(V_DYNHPAGES), 0);
}

/** The first empty slot of hash h's probe run in the current table; its tag is set to h's. */
function emptySlot(h: u32): usize {
  const dir = load<usize>(VF(V_DYNHASH));
  const cs = load<u32>(VF(V_DYN_CSHIFT));
  const mask = load<u32>(VF(V_DYN_MASK));
  let i = h & mask;
  while (true) {
    const t = tagAt(dir, i);
    if (load<u8>(t) == 0) {
      store<u8>(t, <u8>tagOf(h));
      return slotAt(dir, cs, i);
    }
    i = (i + 1) & mask;
  }
}

/** Rehash every state into a table of twice the pages, when kmem has them. */
function dyn_grow(): void {
  const pages = load<u32>(VF(V_DYNHPAGES));
  const dir = tableAlloc(pages << 1);
  if (dir == 0) return; // longer probe runs, still correct while a slot is free
  const odir = load<usize>(VF(V_DYNHASH));
  const ocs = load<u32>(VF(V_DYN_CSHIFT));
  const nslots = pages << SLOTS_PER_PAGE_SHIFT;
  tableUse(dir, pages << 1);
  for (let i: u32 = 0; i < nslots; i++) {
    if (load<u8>(tagAt(odir, i)) == 0) continue;
    const s = slotAt(odir, ocs, i);
    const t = emptySlot(slotHash(s));
    store<u64>(t, load<u64>(s));
    store<u64>(t, load<u64>(s, 8), 8);
    store<u64>(t, load<u64>(s, 16), 16);
    store<u64>(t, load<u64>(s, 24), 24);
  }
  tableRelease(odir, pages);
}

/** The state of the current packet's flow (either direction), or 0; sets dynReverse. */
export function dyn_lookup(): usize {
  const dir = load<usize>(VF(V_DYNHASH));
  if (dir == 0) return 0;
  const cs = load<u32>(VF(V_DYN_CSHIFT));
  const mask = load<u32>(VF(V_DYN_MASK));
  const af = Args.af;
  const a = fold(srcAddr, af);
  const b = fold(dstAddr, af);
  const ports = Args.sport | (Args.dport << 16);
  const pa = packetKey();
  const fwd = <u64>a | (<u64>b << 32);
  const rev = <u64>b | (<u64>a << 32);
  const rports = (ports >> 16) | (ports << 16);
  const now = ticks();
  const h = flowHash(a, b, ports, pa);
  const tag = tagOf(h);
  let i = h & mask;
  while (true) {
    // The tags first: a slot is read only when its tag is the flow's (1 in 255 of the
    // others), so a hit reads one slot of the big table, not every slot of its probe run.
    const t = <u32>load<u8>(tagAt(dir, i));
    if (t == 0) return 0; // an empty slot ends the probe run
    if (t != tag) {
      i = (i + 1) & mask;
      continue;
    }
    const s = slotAt(dir, cs, i);
    const k = <u32>load<u16>(s + S_KEY);
    if ((k & K_MATCH) == pa && load<u64>(s + S_EXPIRE) > now) {
      const ab = load<u64>(s + S_A);
      const sp = load<u32>(s + S_PORTS);
      if (ab == fwd && sp == ports && (af == 4 || fwdAddrs(s))) {
        dynReverse = false;
        return s;
      }
      if (ab == rev && sp == rports && (af == 4 || revAddrs(s))) {
        dynReverse = true;
        return s;
      }
    }
    i = (i + 1) & mask;
  }
}

/** IPv6: the packet's addresses are the state's whole ones, forward / reversed. */
function fwdAddrs(s: usize): bool {
  const d = <usize>load<u32>(s + S_ITEM);
  return eq16(d + D_SRC, srcAddr) && eq16(d + D_DST, dstAddr);
}
function revAddrs(s: usize): bool {
  const d = <usize>load<u32>(s + S_ITEM);
  return eq16(d + D_SRC, dstAddr) && eq16(d + D_DST, srcAddr);
}

/** The rule a state belongs to. */
@inline export function dyn_rule(s: usize): usize {
  return <usize>load<u32>(s + S_RULE);
}

/** A packet hit state s (in direction dynReverse): count it and move its expiry. */
export function dyn_update(s: usize): void {
  const pk = <u32>load<u16>(s + S_PKTS) + 1;
  if (pk > 0xffff) {
    const d = <usize>load<u32>(s + S_ITEM);
    store<u32>(d + D_PKTS, load<u32>(d + D_PKTS) + pk);
    store<u16>(s + S_PKTS, 0);
  } else {
    store<u16>(s + S_PKTS, <u16>pk);
  }
  let life: u32;
  const p = Args.proto;
  if (p == 17) {
    life = load<u32>(VF(V_LT_UDP));
  } else if (p == 6) {
    const key = <u32>load<u16>(s + S_KEY);
    let st = key >> K_TCP_SHIFT;
    if (Args.ulp) {
      const f = Args.tcpflags & (TH_SYN | TH_FIN | TH_RST);
      st |= dynReverse ? f << BACK : f;
      store<u16>(s + S_KEY, <u16>((key & K_MATCH) | (st << K_TCP_SHIFT)));
    }
    const k = st;
    if (k == TH_SYN) life = load<u32>(VF(V_LT_SYN));
    else if (k == BOTH_SYN || k == (BOTH_SYN | TH_FIN) || k == (BOTH_SYN | (TH_FIN << BACK))) life = load<u32>(VF(V_LT_ACK));
    else if (k == (BOTH_SYN | BOTH_FIN)) life = load<u32>(VF(V_LT_FIN));
    else life = load<u32>(VF(V_LT_RST));
  } else {
    life = load<u32>(VF(V_LT_SHORT));
  }
  store<u64>(s + S_EXPIRE, ticks() + <u64>life * S);
}

/**
 * keep-state: a state for the current packet's flow, made by rule r. Returns its slot, or
 * 0 when the vnet holds dyn_max states or its table is full and cannot grow (both counted
 * as dynFull), or memory is short.
 */
export function dyn_install(r: usize): usize {
  const count = load<u32>(VF(V_DYNCOUNT));
  if (count >= load<u32>(VF(V_DYNMAX))) {
    FWSTAT_INC(ST_DYN_FULL);
    return 0;
  }
  if (load<usize>(VF(V_DYNHASH)) == 0) {
    const dir = tableAlloc(1);
    if (dir == 0) return 0;
    tableUse(dir, 1);
  }
  let pages = load<u32>(VF(V_DYNHPAGES));
  // Grow before the table is more than 4/5 full (probe runs stay short).
  if (pages < HASH_MAX_PAGES && (count + 1) * 5 > (pages << SLOTS_PER_PAGE_SHIFT) * 4) {
    dyn_grow();
    pages = load<u32>(VF(V_DYNHPAGES));
  }
  if (count + 1 >= (pages << SLOTS_PER_PAGE_SHIFT)) {
    // One slot always stays empty: it ends every probe run.
    FWSTAT_INC(ST_DYN_FULL);
    return 0;
  }
  const d = zone_alloc(dynZone);
  if (d == 0) {
    FWSTAT_INC(ST_DYN_FULL);
    return 0;
  }
  store<u32>(d + D_PKTS, 0);
  store<u32>(d + D_RULENUM, <u32>load<u16>(r + RL_NUM));
  memory.copy(d + D_SRC, srcAddr, 16);
  memory.copy(d + D_DST, dstAddr, 16);
  const af = Args.af;
  const a = fold(srcAddr, af);
  const b = fold(dstAddr, af);
  const ports = Args.sport | (Args.dport << 16);
  const pa = packetKey();
  const s = emptySlot(flowHash(a, b, ports, pa));
  store<u32>(s + S_A, a);
  store<u32>(s + S_B, b);
  store<u32>(s + S_PORTS, ports);
  store<u16>(s + S_KEY, <u16>pa);
  store<u16>(s + S_PKTS, 0);
  store<u32>(s + S_RULE, <u32>r);
  store<u32>(s + S_ITEM, <u32>d);
  store<u32>(VF(V_DYNCOUNT), count + 1);
  FWSTAT_INC(ST_DYN_CREATED);
  dynReverse = false;
  dyn_update(s);
  if (!callout_pending(VF(V_CALLOUT))) callout_reset(VF(V_CALLOUT), S, dyn_tick.index, 0);
  return s;
}

/**
 * Empty slot i of the current table and pull back the slots after it that its emptying
 * would cut off from their home (linear probing's deletion; no tombstones).
 */
function slotRemove(dir: usize, cs: u32, mask: u32, i: u32): void {
  let hole = i;
  let j = i;
  while (true) {
    j = (j + 1) & mask;
    const tj = tagAt(dir, j);
    if (load<u8>(tj) == 0) break;
    const s = slotAt(dir, cs, j);
    const home = slotHash(s) & mask;
    // s may move to the hole unless its home lies cyclically in (hole, j].
    const stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
    if (stays) continue;
    const h = slotAt(dir, cs, hole);
    store<u64>(h, load<u64>(s));
    store<u64>(h, load<u64>(s, 8), 8);
    store<u64>(h, load<u64>(s, 16), 16);
    store<u64>(h, load<u64>(s, 24), 24);
    store<u8>(tagAt(dir, hole), load<u8>(tj));
    hole = j;
  }
  const h = slotAt(dir, cs, hole);
  store<u64>(h, 0);
  store<u64>(h, 0, 8);
  store<u64>(h, 0, 16);
  store<u64>(h, 0, 24);
  store<u8>(tagAt(dir, hole), 0);
}

/**
 * Free the states for which the test holds: what = 0 expired ones, 1 all, 2 those of rule
 * `rule`. Returns how many.
 */
function sweep(what: u32, rule: usize): u32 {
  const dir = load<usize>(VF(V_DYNHASH));
  if (dir == 0) return 0;
  const cs = load<u32>(VF(V_DYN_CSHIFT));
  const mask = load<u32>(VF(V_DYN_MASK));
  const now = ticks();
  let n: u32 = 0;
  // A removal may pull a later slot into slot i (looked at again) or move a slot from the
  // front of the table to its end (looked at twice: harmless); none escapes the scan.
  for (let i: u32 = 0; i <= mask;) {
    const s = slotAt(dir, cs, i);
    if (used(s) &&
      (what == 1 || (what == 0 ? load<u64>(s + S_EXPIRE) <= now : <usize>load<u32>(s + S_RULE) == rule))) {
      zone_free(dynZone, <usize>load<u32>(s + S_ITEM));
      slotRemove(dir, cs, mask, i);
      n++;
      continue;
    }
    i++;
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

/** Every state of the current vnet, and the table unless keepTable (flush, uninit). */
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
  const dir = load<usize>(VF(V_DYNHASH));
  if (dir == 0) return 0;
  const cs = load<u32>(VF(V_DYN_CSHIFT));
  const mask = load<u32>(VF(V_DYN_MASK));
  const now = ticks();
  let seen: u32 = 0;
  let n: u32 = 0;
  for (let i: u32 = 0; i <= mask && n < max; i++) {
    const s = slotAt(dir, cs, i);
    if (!used(s)) continue;
    const exp = load<u64>(s + S_EXPIRE);
    if (exp <= now) continue;
    if (seen++ < skip) continue;
    const d = <usize>load<u32>(s + S_ITEM);
    const o = out + <usize>n * 64;
    const k = <u32>load<u16>(s + S_KEY);
    const st = k >> K_TCP_SHIFT; // forward flags in the low byte, back in the high one
    store<u32>(o, ((k & K_V6) != 0 ? 6 : 4) | ((k & 0xff) << 8) | (((st & 7) | ((st >> BACK) << 8)) << 16));
    store<u32>(o, load<u32>(d + D_RULENUM), 4);
    memory.copy(o + 8, d + D_SRC, 16);
    memory.copy(o + 24, d + D_DST, 16);
    store<u32>(o, load<u32>(s + S_PORTS), 40);
    store<u32>(o, <u32>((exp - now + 999) / 1000), 44);
    store<u32>(o, load<u32>(d + D_PKTS) + <u32>load<u16>(s + S_PKTS), 48);
    store<u32>(o, 0, 52);
    store<u64>(o, 0, 56);
    n++;
  }
  return n;
}
