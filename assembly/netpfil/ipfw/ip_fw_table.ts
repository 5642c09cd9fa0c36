// ipfw lookup tables (FreeBSD netpfil/ipfw/ip_fw_table.c with the `addr` type): per vnet,
// numbered 0..65535, each a set of IPv4 and IPv6 prefixes with a 32-bit value, matched by
// longest prefix from a rule's `table(N)` (O_IP_SRC_LOOKUP / O_IP_DST_LOOKUP, ip_fw2.ts).
//
// Per vnet, all on its account: table descriptors from the charged zone "ipfw_table", named
// from a directory page of 1024 chains (made with the first table, freed with the last);
// entries from the charged zone "ipfw_tentry", in one hash per vnet keyed by (table,
// family, prefix length, masked address): 1024 chains per kmem page, one page with the
// first entry, doubled whenever the entries outnumber the chains, up to 16 pages (kmem's
// largest allocation; past that the chains grow longer), freed with the last entry.
// Longest-prefix match is a probe per prefix length the table holds for the family, longest
// first: each descriptor keeps a bitmap of the lengths present and a count per length, so
// a table of /24s and /32s costs at most two probes (FreeBSD's radix walks the tree; the
// answer is the same).
//
// Bounds (ENOSPC): tables_max tables per vnet (FreeBSD's net.inet.ip.fw.tables_max,
// default 128) and table_entries_max entries per vnet over all its tables (default 65536);
// a table's own `limit` (EFBIG, FreeBSD's "limit hit"); a zone or page the vnet cannot
// have: ENOMEM. A table a rule names cannot be destroyed (EBUSY); a rule naming a table
// that does not exist creates it (FreeBSD does, for compatibility), and the rule's add
// undoes those creations when the rule is not kept.
//
// Nothing here allocates on the packet path: a lookup reads the directory, the bitmap and
// the chains.

import { zone_alloc, zone_free, kmem_alloc, kmem_free, curvnet } from "../../kmod/kapi";
import {
  VF, V_RULES, V_TBLDIR, V_NTABLES, V_TABLES_MAX, V_TENT_HASH, V_TENT_HPAGES, V_NTENT, V_TENT_MAX, RL_NEXT, RL_ACTOFS,
  RL_CMD, O_IP_SRC_LOOKUP, O_IP_DST_LOOKUP, insn_op, insn_len, insn_arg,
} from "./ip_fw_var";
import { ENOENT, ESRCH, ENOMEM, EBUSY, EEXIST, EINVAL, EFBIG, ENOSPC } from "../../sys/errno";

export const TABLES_MAX_DEFAULT: u32 = 128;
export const TENT_MAX_DEFAULT: u32 = 65536;
export const TABLE_NUM_MAX: u32 = 65535;

// Table descriptor.
const TD_NEXT: usize = 0; // directory chain
const TD_NUM: usize = 4;
const TD_COUNT: usize = 8; // entries
const TD_LIMIT: usize = 12; // 0: none
const TD_HEAD: usize = 16; // the table's entries (TE_TNEXT / TE_TPREV)
const TD_LEN4: usize = 20; // 2 words: bit L set while the table holds an IPv4 /L
const TD_LEN6: usize = 28; // 5 words: the same for IPv6 /0../128
const TD_CNT4: usize = 48; // 33 u32: IPv4 entries per length
const TD_CNT6: usize = 180; // 129 u32
export const TD_SIZE: u32 = 696;

// Entry.
const TE_HNEXT: usize = 0; // hash chain
const TE_TNEXT: usize = 4; // the table's list
const TE_TPREV: usize = 8; // 0: first of the list
const TE_HASH: usize = 12;
const TE_TABLE: usize = 16;
const TE_AF: usize = 20; // u8: 4 or 6
export const TE_LEN: usize = 21; // u8
export const TE_VALUE: usize = 24;
export const TE_ADDR: usize = 28; // 16 bytes, masked; IPv4 in the first 4 (header byte order)
export const TE_SIZE: u32 = 48;

const DIR_CHAINS: u32 = 1024; // one page
const HASH_PER_PAGE: u32 = 1024;
const HASH_MAX_PAGES: u32 = 16;

let tdZone: usize = 0;
let teZone: usize = 0;

export function table_setzones(td: usize, te: usize): void {
  tdZone = td;
  teZone = te;
}

const key = memory.data(16, 8); // a masked address being looked for

// ---------------------------------------------------------------------------------------
// Descriptors

@inline function dirChain(num: u32): usize {
  return load<usize>(VF(V_TBLDIR)) + ((<usize>num & (DIR_CHAINS - 1)) << 2);
}

/** The current vnet's table num, or 0. */
export function table_find(num: u32): usize {
  if (load<usize>(VF(V_TBLDIR)) == 0) return 0;
  let d = load<usize>(dirChain(num));
  while (d != 0 && load<u32>(d + TD_NUM) != num) d = load<usize>(d + TD_NEXT);
  return d;
}

/** Create table num (limit 0: none). 0, -EEXIST, -ENOSPC (tables_max), -ENOMEM, -EINVAL. */
export function table_create(num: u32, limit: u32): i32 {
  if (num > TABLE_NUM_MAX) return -EINVAL;
  if (table_find(num) != 0) return -EEXIST;
  if (load<u32>(VF(V_NTABLES)) >= load<u32>(VF(V_TABLES_MAX))) return -ENOSPC;
  if (load<usize>(VF(V_TBLDIR)) == 0) {
    const dir = kmem_alloc(1, curvnet());
    if (dir == 0) return -ENOMEM;
    memory.fill(dir, 0, DIR_CHAINS << 2);
    store<usize>(VF(V_TBLDIR), dir);
  }
  const d = zone_alloc(tdZone);
  if (d == 0) {
    dirRelease();
    return -ENOMEM;
  }
  memory.fill(d, 0, TD_SIZE);
  store<u32>(d + TD_NUM, num);
  store<u32>(d + TD_LIMIT, limit);
  const c = dirChain(num);
  store<usize>(d + TD_NEXT, load<usize>(c));
  store<usize>(c, d);
  store<u32>(VF(V_NTABLES), load<u32>(VF(V_NTABLES)) + 1);
  return 0;
}

/** The directory page goes with the last table. */
function dirRelease(): void {
  const dir = load<usize>(VF(V_TBLDIR));
  if (dir != 0 && load<u32>(VF(V_NTABLES)) == 0) {
    kmem_free(dir, 1, curvnet());
    store<usize>(VF(V_TBLDIR), 0);
  }
}

/** Rules of the current vnet whose match part names table num. */
export function table_refs(num: u32): u32 {
  let n: u32 = 0;
  let r = load<usize>(VF(V_RULES));
  while (r != 0) {
    const actofs = <u32>load<u16>(r + RL_ACTOFS);
    let i: u32 = 0;
    while (i < actofs) {
      const h = load<u32>(r + RL_CMD + (i << 2));
      const op = insn_op(h);
      if ((op == O_IP_SRC_LOOKUP || op == O_IP_DST_LOOKUP) && insn_arg(h) == num) n++;
      i += insn_len(h);
    }
    r = load<usize>(r + RL_NEXT);
  }
  return n;
}

/** Destroy table num and its entries. 0, -ESRCH, -EBUSY (a rule names it). */
export function table_destroy(num: u32): i32 {
  const d = table_find(num);
  if (d == 0) return -ESRCH;
  if (table_refs(num) != 0) return -EBUSY;
  destroyOne(d);
  return 0;
}

function destroyOne(d: usize): void {
  flushOne(d);
  let p = dirChain(load<u32>(d + TD_NUM));
  while (load<usize>(p) != d) p = load<usize>(p) + TD_NEXT;
  store<usize>(p, load<usize>(d + TD_NEXT));
  zone_free(tdZone, d);
  store<u32>(VF(V_NTABLES), load<u32>(VF(V_NTABLES)) - 1);
  dirRelease();
}

/** Remove every entry of table num. Entries removed, or -ESRCH. */
export function table_flush(num: u32): i32 {
  const d = table_find(num);
  if (d == 0) return -ESRCH;
  const n = load<u32>(d + TD_COUNT);
  flushOne(d);
  return <i32>n;
}

function flushOne(d: usize): void {
  let e = load<usize>(d + TD_HEAD);
  while (e != 0) {
    const nx = load<usize>(e + TE_TNEXT);
    hashUnlink(e);
    zone_free(teZone, e);
    e = nx;
  }
  const n = load<u32>(d + TD_COUNT);
  memory.fill(d + TD_HEAD, 0, TD_SIZE - <u32>TD_HEAD);
  store<u32>(d + TD_COUNT, 0);
  store<u32>(VF(V_NTENT), load<u32>(VF(V_NTENT)) - n);
  hashRelease();
}

/** VNET uninit: every table and entry, the directory and the hash. */
export function table_free_all(): void {
  const dir = load<usize>(VF(V_TBLDIR));
  if (dir == 0) return;
  for (let c: u32 = 0; c < DIR_CHAINS && load<usize>(VF(V_TBLDIR)) != 0; c++) {
    let d = load<usize>(dir + (c << 2));
    while (d != 0) {
      const nx = load<usize>(d + TD_NEXT);
      destroyOne(d);
      d = nx;
    }
  }
}

/**
 * The current vnet's table numbers after the first `skip` (directory order: the host
 * sorts), at most max, as u32 at p. Numbers written.
 */
export function table_numbers(p: usize, max: u32, skip: u32): u32 {
  const dir = load<usize>(VF(V_TBLDIR));
  if (dir == 0) return 0;
  let seen: u32 = 0;
  let n: u32 = 0;
  for (let c: u32 = 0; c < DIR_CHAINS && n < max; c++) {
    let d = load<usize>(dir + (c << 2));
    while (d != 0 && n < max) {
      if (seen >= skip) {
        store<u32>(p + (<usize>n << 2), load<u32>(d + TD_NUM));
        n++;
      }
      seen++;
      d = load<usize>(d + TD_NEXT);
    }
  }
  return n;
}

/** [num, entries, limit, rules naming it] of table num at p. 0 or -ESRCH. */
export function table_info(num: u32, p: usize): i32 {
  const d = table_find(num);
  if (d == 0) return -ESRCH;
  store<u32>(p, num);
  store<u32>(p, load<u32>(d + TD_COUNT), 4);
  store<u32>(p, load<u32>(d + TD_LIMIT), 8);
  store<u32>(p, table_refs(num), 12);
  return 0;
}

// Tables a rule being added created (ipfw.ts undoes them when the rule is not kept).
const created = memory.data(2 * 512, 4);
let ncreated: u32 = 0;

/**
 * A rule being added names tables in its `actofs` match words at cmd: create those that do
 * not exist (FreeBSD's compatibility). 0 or -errno (nothing created is kept then).
 */
export function table_rule_refs(cmd: usize, actofs: u32): i32 {
  ncreated = 0;
  let i: u32 = 0;
  while (i < actofs) {
    const h = load<u32>(cmd + (i << 2));
    const op = insn_op(h);
    if ((op == O_IP_SRC_LOOKUP || op == O_IP_DST_LOOKUP) && table_find(insn_arg(h)) == 0) {
      const r = table_create(insn_arg(h), 0);
      if (r != 0) {
        table_rule_undo();
        return r;
      }
      store<u16>(created + (ncreated << 1), <u16>insn_arg(h));
      ncreated++;
    }
    i += insn_len(h);
  }
  return 0;
}

/** Destroy the tables the last table_rule_refs created. */
export function table_rule_undo(): void {
  for (let j: u32 = 0; j < ncreated; j++) {
    const d = table_find(<u32>load<u16>(created + (j << 1)));
    if (d != 0) destroyOne(d);
  }
  ncreated = 0;
}

// ---------------------------------------------------------------------------------------
// Entries

/** Mask the af address at a to len bits into dst (16 bytes, the rest zero). */
@inline function maskInto(af: u32, len: u32, a: usize, dst: usize): void {
  const words: u32 = af == 4 ? 1 : 4;
  for (let w: u32 = 0; w < 4; w++) {
    let m: u32 = 0;
    if (w < words) {
      const bits = len > (w << 5) ? len - (w << 5) : 0;
      // Header byte order loaded little-endian: the mask is built big-endian and swapped.
      m = bits >= 32 ? 0xffffffff : bits == 0 ? 0 : bswap<u32>(0xffffffff << (32 - bits));
    }
    store<u32>(dst + (w << 2), load<u32>(a + (w << 2)) & m);
  }
}

@inline function fmix(h: u32): u32 {
  h ^= h >> 16;
  h *= 0x85ebca6b;
  h ^= h >> 13;
  h *= 0xc2b2ae35;
  h ^= h >> 16;
  return h;
}

@inline function hashOf(num: u32, af: u32, len: u32, a: usize): u32 {
  let h = fmix((num << 16) ^ (af << 8) ^ len ^ 0x9e3779b9) ^ load<u32>(a);
  if (af == 6) {
    h = fmix(h) ^ load<u32>(a, 4);
    h = fmix(h) ^ load<u32>(a, 8);
    h = fmix(h) ^ load<u32>(a, 12);
  }
  return fmix(h);
}

@inline function chainOf(h: u32): usize {
  const pages = load<u32>(VF(V_TENT_HPAGES));
  return load<usize>(VF(V_TENT_HASH)) + ((<usize>h & (pages * HASH_PER_PAGE - 1)) << 2);
}

/** The entry (num, af, len, masked address at k) in the hash, or 0. */
function findExact(num: u32, af: u32, len: u32, k: usize): usize {
  if (load<usize>(VF(V_TENT_HASH)) == 0) return 0;
  const h = hashOf(num, af, len, k);
  let e = load<usize>(chainOf(h));
  while (e != 0) {
    if (load<u32>(e + TE_HASH) == h && load<u32>(e + TE_TABLE) == num && <u32>load<u8>(e + TE_AF) == af &&
      <u32>load<u8>(e + TE_LEN) == len && load<u64>(e + TE_ADDR) == load<u64>(k) && load<u64>(e + TE_ADDR + 8) == load<u64>(k, 8)) return e;
    e = load<usize>(e + TE_HNEXT);
  }
  return 0;
}

function hashUnlink(e: usize): void {
  let p = chainOf(load<u32>(e + TE_HASH));
  while (load<usize>(p) != e) p = load<usize>(p) + TE_HNEXT;
  store<usize>(p, load<usize>(e + TE_HNEXT));
}

/** The hash's pages go with the last entry. */
function hashRelease(): void {
  const t = load<usize>(VF(V_TENT_HASH));
  if (t != 0 && load<u32>(VF(V_NTENT)) == 0) {
    kmem_free(t, load<u32>(VF(V_TENT_HPAGES)), curvnet());
    store<usize>(VF(V_TENT_HASH), 0);
    store<u32>(VF(V_TENT_HPAGES), 0);
  }
}

/**
 * Room for one more entry: the first page, or twice the pages when the entries outnumber
 * the chains (every entry rehashed from its kept hash). false only when there is no hash
 * at all; a hash that cannot grow keeps its size.
 */
function hashGrow(): bool {
  const pages = load<u32>(VF(V_TENT_HPAGES));
  const n = load<u32>(VF(V_NTENT));
  if (pages != 0 && (n < pages * HASH_PER_PAGE || pages >= HASH_MAX_PAGES)) return true;
  const np = pages == 0 ? 1 : pages << 1;
  const t = kmem_alloc(np, curvnet());
  if (t == 0) return pages != 0;
  memory.fill(t, 0, np << 12);
  const old = load<usize>(VF(V_TENT_HASH));
  const mask = np * HASH_PER_PAGE - 1;
  for (let c: u32 = 0; c < pages * HASH_PER_PAGE; c++) {
    let e = load<usize>(old + (c << 2));
    while (e != 0) {
      const nx = load<usize>(e + TE_HNEXT);
      const s = t + ((<usize>load<u32>(e + TE_HASH) & mask) << 2);
      store<usize>(e + TE_HNEXT, load<usize>(s));
      store<usize>(s, e);
      e = nx;
    }
  }
  if (old != 0) kmem_free(old, pages, curvnet());
  store<usize>(VF(V_TENT_HASH), t);
  store<u32>(VF(V_TENT_HPAGES), np);
  return true;
}

@inline function lenBit(d: usize, af: u32, len: u32, set: bool): void {
  const w = d + (af == 4 ? TD_LEN4 : TD_LEN6) + ((<usize>len >> 5) << 2);
  const b: u32 = 1 << (len & 31);
  store<u32>(w, set ? load<u32>(w) | b : load<u32>(w) & ~b);
}

@inline function lenCount(d: usize, af: u32, len: u32): usize {
  return d + (af == 4 ? TD_CNT4 : TD_CNT6) + (<usize>len << 2);
}

/**
 * Add (af, len, address at a, value) to table num; with update an existing key takes the
 * value. 0 added, 1 updated, or -ESRCH, -EEXIST, -EFBIG (the table's limit), -ENOSPC
 * (table_entries_max), -ENOMEM, -EINVAL (family or length).
 */
export function table_add(num: u32, af: u32, len: u32, a: usize, value: u32, update: bool): i32 {
  if ((af != 4 && af != 6) || len > (af == 4 ? 32 : 128)) return -EINVAL;
  const d = table_find(num);
  if (d == 0) return -ESRCH;
  maskInto(af, len, a, key);
  const old = findExact(num, af, len, key);
  if (old != 0) {
    if (!update) return -EEXIST;
    store<u32>(old + TE_VALUE, value);
    return 1;
  }
  const lim = load<u32>(d + TD_LIMIT);
  if (lim != 0 && load<u32>(d + TD_COUNT) >= lim) return -EFBIG;
  if (load<u32>(VF(V_NTENT)) >= load<u32>(VF(V_TENT_MAX))) return -ENOSPC;
  if (!hashGrow()) return -ENOMEM;
  const e = zone_alloc(teZone);
  if (e == 0) {
    hashRelease();
    return -ENOMEM;
  }
  const h = hashOf(num, af, len, key);
  store<u32>(e + TE_HASH, h);
  store<u32>(e + TE_TABLE, num);
  store<u8>(e + TE_AF, <u8>af);
  store<u8>(e + TE_LEN, <u8>len);
  store<u32>(e + TE_VALUE, value);
  memory.copy(e + TE_ADDR, key, 16);
  const c = chainOf(h);
  store<usize>(e + TE_HNEXT, load<usize>(c));
  store<usize>(c, e);
  const first = load<usize>(d + TD_HEAD);
  store<usize>(e + TE_TNEXT, first);
  store<usize>(e + TE_TPREV, 0);
  if (first != 0) store<usize>(first + TE_TPREV, e);
  store<usize>(d + TD_HEAD, e);
  const cnt = lenCount(d, af, len);
  store<u32>(cnt, load<u32>(cnt) + 1);
  lenBit(d, af, len, true);
  store<u32>(d + TD_COUNT, load<u32>(d + TD_COUNT) + 1);
  store<u32>(VF(V_NTENT), load<u32>(VF(V_NTENT)) + 1);
  return 0;
}

/** Delete (af, len, address at a) from table num; its value at *valueOut. 0, -ESRCH, -ENOENT, -EINVAL. */
export function table_del(num: u32, af: u32, len: u32, a: usize, valueOut: usize): i32 {
  if ((af != 4 && af != 6) || len > (af == 4 ? 32 : 128)) return -EINVAL;
  const d = table_find(num);
  if (d == 0) return -ESRCH;
  maskInto(af, len, a, key);
  const e = findExact(num, af, len, key);
  if (e == 0) return -ENOENT;
  store<u32>(valueOut, load<u32>(e + TE_VALUE));
  hashUnlink(e);
  const nx = load<usize>(e + TE_TNEXT);
  const pv = load<usize>(e + TE_TPREV);
  if (pv != 0) store<usize>(pv + TE_TNEXT, nx);
  else store<usize>(d + TD_HEAD, nx);
  if (nx != 0) store<usize>(nx + TE_TPREV, pv);
  const cnt = lenCount(d, af, len);
  const left = load<u32>(cnt) - 1;
  store<u32>(cnt, left);
  if (left == 0) lenBit(d, af, len, false);
  store<u32>(d + TD_COUNT, load<u32>(d + TD_COUNT) - 1);
  zone_free(teZone, e);
  store<u32>(VF(V_NTENT), load<u32>(VF(V_NTENT)) - 1);
  hashRelease();
  return 0;
}

/**
 * Longest-prefix match of the af address at a in table num: the entry, or 0 (also when
 * the table does not exist). The packet path's call.
 */
export function table_lookup(num: u32, af: u32, a: usize): usize {
  const d = table_find(num);
  if (d == 0) return 0;
  const bm = d + (af == 4 ? TD_LEN4 : TD_LEN6);
  for (let w: i32 = af == 4 ? 1 : 4; w >= 0; w--) {
    let bits = load<u32>(bm + (<usize>w << 2));
    while (bits != 0) {
      const b = 31 - clz<u32>(bits);
      bits &= ~(<u32>1 << b);
      const len = (<u32>w << 5) + b;
      maskInto(af, len, a, key);
      const e = findExact(num, af, len, key);
      if (e != 0) return e;
    }
  }
  return 0;
}

/**
 * Entries of table num after `skip`, at most max, as 6 words each at p: [af | len << 8]
 * [value][address 4 words]. Entries written, or -ESRCH.
 */
export function table_list(num: u32, p: usize, max: u32, skip: u32): i32 {
  const d = table_find(num);
  if (d == 0) return -ESRCH;
  let e = load<usize>(d + TD_HEAD);
  for (let s: u32 = 0; s < skip && e != 0; s++) e = load<usize>(e + TE_TNEXT);
  let n: u32 = 0;
  while (e != 0 && n < max) {
    const o = p + n * 24;
    store<u32>(o, <u32>load<u8>(e + TE_AF) | (<u32>load<u8>(e + TE_LEN) << 8));
    store<u32>(o, load<u32>(e + TE_VALUE), 4);
    memory.copy(o + 8, e + TE_ADDR, 16);
    n++;
    e = load<usize>(e + TE_TNEXT);
  }
  return <i32>n;
}
