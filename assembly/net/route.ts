// The route table both address families use (FreeBSD net/route.c and net/radix.c in idea;
// the family modules keep only address semantics: netinet/in_rmx.ts, netinet6/in6_rmx.ts).
//
// A longest-prefix-match table over 128-bit keys with a prefix length: a path-compressed
// binary trie. Every node holds a prefix (key, plen) and, if a route has exactly that
// prefix, the route (an opaque nonzero value: the family's route entry). A node's children
// continue its prefix with bit plen = 0 (left) or 1 (right); a node without a route exists
// only where two subtrees part (it has both children), so a table of N routes has at most
// 2N - 1 nodes and a lookup visits at most one node per distinct prefix length on its path.
// IPv4 keys are the address in the top 32 bits (plen <= 32); IPv6 keys the 16 address bytes
// in network order. A table is one family's: keys of two families never share one.
//
// Keys travel as two u64 (hi = first 8 address bytes, lo = last 8, each big-endian), so a
// prefix compare is two xors and shifts and the caller converts an address once.
//
// Memory: nodes come from the charged zone "rtnode": each is charged to the vnet current
// at insert (the vnet byte budget counts routes); the table's owner flushes it before the
// vnet goes (rtable_flush), and a leak shows as rtnode items the vnet still holds.
//
// Generation: every change (insert, delete, replace) bumps the table's generation, so a
// family's one-entry lookup cache stays valid exactly until the table changes: a hot flow
// costs one compare and no trie walk.
//
// struct rtable (RTABLE_SIZE bytes, embedded in the owner's memory, e.g. its VNET data):
//   0 root node   4 routes   8 nodes   12 generation

import { zone_create, zone_alloc_in, zone_free_in, ZONE_CHARGE } from "../kern/zone";
import { KGLOBALS, KG_CURVNET_BASE } from "../kern/kglobals";
import { EEXIST, EINVAL, ENOMEM, ENOENT } from "../sys/errno";

export const RTABLE_SIZE: u32 = 16;
const T_ROOT: usize = 0;
const T_ROUTES: usize = 4;
const T_NODES: usize = 8;
const T_GEN: usize = 12;

// Node: 0 key hi, 8 left, 12 right, 16 route, 20 plen, 24 key lo. What a lookup reads at
// a node with plen <= 64 (every IPv4 node) is in its first 24 bytes: the zone packs 32-byte
// items from offset 40 of a page, so every other node crosses a 64-byte line at byte 24,
// and this order keeps such a node at one cache miss instead of two.
export const RTNODE_SIZE: u32 = 32;
const N_HI: usize = 0;
const N_LEFT: usize = 8;
const N_RIGHT: usize = 12;
const N_VAL: usize = 16;
const N_PLEN: usize = 20;
const N_LO: usize = 24;

let nodezone: usize = 0;

/** Creates the node zone (kernel boot). 0 or -ENOMEM. */
export function route_boot(): i32 {
  if (nodezone != 0) return 0;
  nodezone = zone_create("rtnode", RTNODE_SIZE, 0, ZONE_CHARGE, 0);
  return nodezone == 0 ? -ENOMEM : 0;
}

/** The node zone (tests and the bench read its per-vnet figures). */
export function rtable_zone(): usize {
  return nodezone;
}

@inline function vbase(): usize {
  return load<usize>(KGLOBALS + KG_CURVNET_BASE);
}

/** The mask of the first plen bits of a 64-bit half (plen 0..64). */
@inline function himask(plen: u32): u64 {
  return plen == 0 ? 0 : ~(<u64>0) << (64 - <u64>plen);
}

/** Does key (hi, lo) lie inside the prefix of node n? */
@inline function nmatch(n: usize, hi: u64, lo: u64): bool {
  const p = load<u32>(n, N_PLEN);
  if (p <= 64) return p == 0 || ((hi ^ load<u64>(n, N_HI)) >> (64 - <u64>p)) == 0;
  return hi == load<u64>(n, N_HI) && ((lo ^ load<u64>(n, N_LO)) >> (128 - <u64>p)) == 0;
}

/** Bit p (0 = the most significant of hi) of the key: which child continues it. */
@inline function keybit(hi: u64, lo: u64, p: u32): u32 {
  return p < 64 ? <u32>(hi >> (63 - <u64>p)) & 1 : <u32>(lo >> (127 - <u64>p)) & 1;
}

/** Where node n keeps its child for bit b. */
@inline function childslot(n: usize, b: u32): usize {
  return n + (b != 0 ? N_RIGHT : N_LEFT);
}

/** The first bit where two keys differ (128: equal). */
@inline function firstdiff(ahi: u64, alo: u64, bhi: u64, blo: u64): u32 {
  const x = ahi ^ bhi;
  if (x != 0) return <u32>clz(x);
  return 64 + <u32>clz(alo ^ blo); // clz(0) = 64
}

export function rtable_init(t: usize): void {
  store<usize>(t, 0, T_ROOT);
  store<u32>(t, 0, T_ROUTES);
  store<u32>(t, 0, T_NODES);
  store<u32>(t, 1, T_GEN);
}

@inline function changed(t: usize): void {
  store<u32>(t, load<u32>(t, T_GEN) + 1, T_GEN);
}

/** The route of the longest prefix that contains (hi, lo), or 0. */
export function rtable_lookup(t: usize, hi: u64, lo: u64): usize {
  let n = load<usize>(t, T_ROOT);
  let best: usize = 0;
  while (n != 0) {
    if (!nmatch(n, hi, lo)) break;
    const v = load<usize>(n, N_VAL);
    if (v != 0) best = v;
    const p = load<u32>(n, N_PLEN);
    if (p >= 128) break;
    n = load<usize>(childslot(n, keybit(hi, lo, p)));
  }
  return best;
}

/**
 * The routes of every prefix that contains (hi, lo), shortest first, into out (max usize
 * slots; 129 is always enough); returns how many. For lookups the family filters (a zone).
 */
export function rtable_matches(t: usize, hi: u64, lo: u64, out: usize, max: u32): u32 {
  let n = load<usize>(t, T_ROOT);
  let k: u32 = 0;
  while (n != 0 && k < max) {
    if (!nmatch(n, hi, lo)) break;
    const v = load<usize>(n, N_VAL);
    if (v != 0) {
      store<usize>(out + (<usize>k << alignof<usize>()), v);
      k++;
    }
    const p = load<u32>(n, N_PLEN);
    if (p >= 128) break;
    n = load<usize>(childslot(n, keybit(hi, lo, p)));
  }
  return k;
}

/** The node of exactly (hi, lo)/plen (key already masked), or 0. */
function findnode(t: usize, hi: u64, lo: u64, plen: u32): usize {
  let n = load<usize>(t, T_ROOT);
  while (n != 0) {
    const p = load<u32>(n, N_PLEN);
    if (p > plen || !nmatch(n, hi, lo)) return 0;
    if (p == plen) return n;
    n = load<usize>(childslot(n, keybit(hi, lo, p)));
  }
  return 0;
}

@inline function maskhi(hi: u64, plen: u32): u64 {
  return plen >= 64 ? hi : hi & himask(plen);
}

@inline function masklo(lo: u64, plen: u32): u64 {
  return plen <= 64 ? 0 : lo & himask(plen - 64);
}

/** The route of exactly this prefix, or 0. */
export function rtable_find(t: usize, hi: u64, lo: u64, plen: u32): usize {
  if (plen > 128) return 0;
  const n = findnode(t, maskhi(hi, plen), masklo(lo, plen), plen);
  return n != 0 ? load<usize>(n, N_VAL) : 0;
}

function newnode(hi: u64, lo: u64, plen: u32, v: usize): usize {
  const n = zone_alloc_in(nodezone, vbase());
  if (n == 0) return 0;
  store<u64>(n, hi, N_HI);
  store<u64>(n, lo, N_LO);
  store<usize>(n, 0, N_LEFT);
  store<usize>(n, 0, N_RIGHT);
  store<usize>(n, v, N_VAL);
  store<u32>(n, plen, N_PLEN);
  return n;
}

/**
 * Adds route v (nonzero) for (hi, lo)/plen; bits past plen are ignored. 0, -EEXIST when
 * the prefix has a route, -EINVAL (plen > 128, v == 0), -ENOMEM (node zone or budget).
 */
export function rtable_insert(t: usize, hi: u64, lo: u64, plen: u32, v: usize): i32 {
  if (plen > 128 || v == 0) return -EINVAL;
  hi = maskhi(hi, plen);
  lo = masklo(lo, plen);
  let link = t + T_ROOT;
  let n = load<usize>(link);
  while (n != 0) {
    const p = load<u32>(n, N_PLEN);
    if (p <= plen && nmatch(n, hi, lo)) {
      if (p == plen) {
        if (load<usize>(n, N_VAL) != 0) return -EEXIST;
        store<usize>(n, v, N_VAL); // a glue node becomes a route
        store<u32>(t, load<u32>(t, T_ROUTES) + 1, T_ROUTES);
        changed(t);
        return 0;
      }
      link = childslot(n, keybit(hi, lo, p));
      n = load<usize>(link);
      continue;
    }
    // n parts from the new prefix at bit c (or the new prefix is a prefix of n's).
    let c = firstdiff(hi, lo, load<u64>(n, N_HI), load<u64>(n, N_LO));
    if (c > plen) c = plen;
    if (c > p) c = p;
    const x = newnode(hi, lo, plen, v);
    if (x == 0) return -ENOMEM;
    if (c == plen) {
      store<usize>(childslot(x, keybit(load<u64>(n, N_HI), load<u64>(n, N_LO), plen)), n);
      store<usize>(link, x);
      store<u32>(t, load<u32>(t, T_NODES) + 1, T_NODES);
    } else {
      const g = newnode(maskhi(hi, c), masklo(lo, c), c, 0);
      if (g == 0) {
        zone_free_in(nodezone, x, vbase());
        return -ENOMEM;
      }
      store<usize>(childslot(g, keybit(hi, lo, c)), x);
      store<usize>(childslot(g, keybit(load<u64>(n, N_HI), load<u64>(n, N_LO), c)), n);
      store<usize>(link, g);
      store<u32>(t, load<u32>(t, T_NODES) + 2, T_NODES);
    }
    store<u32>(t, load<u32>(t, T_ROUTES) + 1, T_ROUTES);
    changed(t);
    return 0;
  }
  const x = newnode(hi, lo, plen, v);
  if (x == 0) return -ENOMEM;
  store<usize>(link, x);
  store<u32>(t, load<u32>(t, T_NODES) + 1, T_NODES);
  store<u32>(t, load<u32>(t, T_ROUTES) + 1, T_ROUTES);
  changed(t);
  return 0;
}

/** Replaces the route of exactly this prefix with v (nonzero). 0, -ENOENT, -EINVAL. */
export function rtable_replace(t: usize, hi: u64, lo: u64, plen: u32, v: usize): i32 {
  if (plen > 128 || v == 0) return -EINVAL;
  const n = findnode(t, maskhi(hi, plen), masklo(lo, plen), plen);
  if (n == 0 || load<usize>(n, N_VAL) == 0) return -ENOENT;
  store<usize>(n, v, N_VAL);
  changed(t);
  return 0;
}

function freenode(t: usize, n: usize): void {
  zone_free_in(nodezone, n, vbase());
  store<u32>(t, load<u32>(t, T_NODES) - 1, T_NODES);
}

/** Removes the route of exactly this prefix; returns it (the caller frees it), or 0 if none. */
export function rtable_delete(t: usize, hi: u64, lo: u64, plen: u32): usize {
  if (plen > 128) return 0;
  hi = maskhi(hi, plen);
  lo = masklo(lo, plen);
  let plink: usize = 0; // the slot that points at the parent
  let link = t + T_ROOT;
  let n = load<usize>(link);
  while (n != 0) {
    const p = load<u32>(n, N_PLEN);
    if (p > plen || !nmatch(n, hi, lo)) return 0;
    if (p == plen) break;
    plink = link;
    link = childslot(n, keybit(hi, lo, p));
    n = load<usize>(link);
  }
  if (n == 0) return 0;
  const v = load<usize>(n, N_VAL);
  if (v == 0) return 0;
  store<usize>(n, 0, N_VAL);
  store<u32>(t, load<u32>(t, T_ROUTES) - 1, T_ROUTES);
  changed(t);
  const l = load<usize>(n, N_LEFT);
  const r = load<usize>(n, N_RIGHT);
  if (l != 0 && r != 0) return v; // still where two subtrees part: stays as glue
  store<usize>(link, l != 0 ? l : r);
  freenode(t, n);
  if (l == 0 && r == 0 && plink != 0) {
    // The parent lost a child; a parent without a route is glue with one child left: splice it out.
    const par = load<usize>(plink);
    if (load<usize>(par, N_VAL) == 0) {
      const other = load<usize>(par, N_LEFT) != 0 ? load<usize>(par, N_LEFT) : load<usize>(par, N_RIGHT);
      store<usize>(plink, other);
      freenode(t, par);
    }
  }
  return v;
}

/** Frees every node (the routes are the owner's, freed by it). O(nodes), no recursion. */
export function rtable_flush(t: usize): void {
  let n = load<usize>(t, T_ROOT);
  while (n != 0) {
    const l = load<usize>(n, N_LEFT);
    if (l != 0) {
      // Rotate right, so the left subtree is consumed before n.
      store<usize>(n, load<usize>(l, N_RIGHT), N_LEFT);
      store<usize>(l, n, N_RIGHT);
      n = l;
    } else {
      const next = load<usize>(n, N_RIGHT);
      freenode(t, n);
      n = next;
    }
  }
  store<usize>(t, 0, T_ROOT);
  if (load<u32>(t, T_ROUTES) != 0) {
    store<u32>(t, 0, T_ROUTES);
    changed(t);
  }
}

export function rtable_count(t: usize): u32 {
  return load<u32>(t, T_ROUTES);
}

export function rtable_nodes(t: usize): u32 {
  return load<u32>(t, T_NODES);
}

export function rtable_gen(t: usize): u32 {
  return load<u32>(t, T_GEN);
}

export { ENOENT, EEXIST };
