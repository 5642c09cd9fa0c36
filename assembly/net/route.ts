// The route table both address families use (FreeBSD net/route.c and net/radix.c in idea;
// the family modules keep only address semantics: netinet/in_rmx.ts, netinet6/in6_rmx.ts).
//
// A longest-prefix-match table over 128-bit keys with a prefix length. The routes are held
// in a path-compressed binary trie (this file: exact find, insert, delete, every match);
// lookups are answered by a multibit trie built from it and kept in step with every change
// (net/route_pop.ts, poptrie-like, 6-bit strides; docs/route.md).
//
// The binary trie: every node holds a prefix (key, plen) and, if a route has exactly that
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
// Memory: nodes come from the charged zone "rtnode", the lookup trie's arrays from the
// "rtpop*" zones, and a table with routes has a 32-byte head (in "rtpop32"); all are charged
// to the vnet current at the change (the vnet byte budget counts routes); the table's owner
// flushes it before the vnet goes (rtable_flush), and a leak shows as items of those zones
// the vnet still holds. An insert that finds no memory for either structure fails with
// -ENOMEM and leaves the table as it was. A delete never fails: if the lookup trie cannot
// be rebuilt for lack of memory, it is dropped and lookups walk the binary trie until a
// rebuild succeeds (tried again after max(64, routes / 8) further changes).
//
// Several paths for one prefix (net/route_nhgrp.ts): a prefix's value is then a next-hop
// group, tagged by its low bit (rtable_append, rtable_remove); lookups return it as they
// return a route, and the family picks a member by the packet's flow hash.
//
// Generation: every change (insert, delete, replace, a path added or removed) bumps the table's generation, so a
// family's one-entry lookup cache stays valid exactly until the table changes: a hot flow
// costs one compare and no trie walk.
//
// struct rtable (RTABLE_SIZE bytes, embedded in the owner's memory, e.g. its VNET data):
//   0 binary trie root   4 routes   8 head (0 while the table is empty)   12 generation
// head (32 bytes, from "rtpop32"): 0 binary trie nodes   4 state (0: the lookup trie
//   answers; else changes left before a rebuild is tried)   8 lookup trie root node (PN_SIZE)

import { zone_create, zone_alloc_in, zone_free_in, zone_vnet_inuse, ZONE_CHARGE } from "../kern/zone";
import { EEXIST, EINVAL, ENOMEM, ENOENT, ENOSPC } from "../sys/errno";
import {
  RTNODE_SIZE, N_HI, N_LEFT, N_RIGHT, N_VAL, N_PLEN, N_LO, vbase, maskhi, masklo, nmatch, keybit, childslot,
} from "./route_var";
import { pop_boot, pop_vnet_items, pop_lookup, pop_lookup_n, pop_update, pop_replace, pop_build, pop_free, pop_head_alloc, pop_head_free } from "./route_pop";
import { nhgrp_boot, nhgrp_vnet_items, nhgrp_enabled, nhgrp_is, nhgrp_pair, nhgrp_append, nhgrp_remove, nhgrp_count, nhgrp_member, nhgrp_free, RT_MAX_WEIGHT } from "./route_nhgrp";

export { RTNODE_SIZE };
export const RTABLE_SIZE: u32 = 16;
const T_ROOT: usize = 0;
const T_ROUTES: usize = 4;
const T_HEAD: usize = 8;
const T_GEN: usize = 12;

const H_NODES: usize = 0;
const H_STATE: usize = 4; // 0: the lookup trie answers; else changes left before a rebuild is tried
const H_POP: usize = 8;

let nodezone: usize = 0;

/** Creates the node zones (kernel boot). 0 or -ENOMEM. */
export function route_boot(): i32 {
  if (nodezone != 0) return 0;
  nodezone = zone_create("rtnode", RTNODE_SIZE, 0, ZONE_CHARGE, 0);
  if (nodezone == 0) return -ENOMEM;
  const r = pop_boot();
  return r != 0 ? r : nhgrp_boot();
}

/** The node zone (tests and the bench read its per-vnet figures). */
export function rtable_zone(): usize {
  return nodezone;
}

/** Items of every route table zone (binary nodes, lookup trie arrays, heads, next-hop groups) the current vnet holds. */
export function rtable_vnet_items(): u32 {
  return zone_vnet_inuse(nodezone, vbase()) + pop_vnet_items(vbase()) + nhgrp_vnet_items(vbase());
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
  store<usize>(t, 0, T_HEAD);
  store<u32>(t, 1, T_GEN);
}

@inline function changed(t: usize): void {
  store<u32>(t, load<u32>(t, T_GEN) + 1, T_GEN);
}

/** The route of the longest prefix that contains (hi, lo), or 0. */
export function rtable_lookup(t: usize, hi: u64, lo: u64): usize {
  const h = load<usize>(t, T_HEAD);
  if (h == 0) return 0;
  if (load<u32>(h, H_STATE) == 0) return pop_lookup(h + H_POP, hi, lo);
  return blookup(t, hi, lo);
}

/**
 * rtable_lookup for n keys at once: keys holds n (hi, lo) pairs, 16 bytes each (the two u64
 * as rtable_lookup takes them, hi first), out gets n values (usize each, 0 for none: a route,
 * or a tagged next-hop group, as rtable_lookup returns them). The same answers as n calls; faster over a large table, whose cache misses the keys then
 * wait on together (net/route_pop.ts: pop_lookup_n).
 */
export function rtable_lookup_n(t: usize, keys: usize, out: usize, n: u32): void {
  const h = load<usize>(t, T_HEAD);
  if (h != 0 && load<u32>(h, H_STATE) == 0) {
    pop_lookup_n(h + H_POP, keys, out, n);
    return;
  }
  for (let i: u32 = 0; i < n; i++) {
    const k = keys + (<usize>i << 4);
    store<usize>(out + (<usize>i << alignof<usize>()), h == 0 ? 0 : blookup(t, load<u64>(k), load<u64>(k, 8)));
  }
}

/** The same answer from the binary trie (while the lookup trie is dropped for lack of memory). */
function blookup(t: usize, hi: u64, lo: u64): usize {
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

/** The binary trie's half of an insert (key masked): 0, -EEXIST, -ENOMEM. */
function binsert(t: usize, h: usize, hi: u64, lo: u64, plen: u32, v: usize): i32 {
  let link = t + T_ROOT;
  let n = load<usize>(link);
  while (n != 0) {
    const p = load<u32>(n, N_PLEN);
    if (p <= plen && nmatch(n, hi, lo)) {
      if (p == plen) {
        if (load<usize>(n, N_VAL) != 0) return -EEXIST;
        store<usize>(n, v, N_VAL); // a glue node becomes a route
        store<u32>(t, load<u32>(t, T_ROUTES) + 1, T_ROUTES);
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
      store<u32>(h, load<u32>(h, H_NODES) + 1, H_NODES);
    } else {
      const g = newnode(maskhi(hi, c), masklo(lo, c), c, 0);
      if (g == 0) {
        zone_free_in(nodezone, x, vbase());
        return -ENOMEM;
      }
      store<usize>(childslot(g, keybit(hi, lo, c)), x);
      store<usize>(childslot(g, keybit(load<u64>(n, N_HI), load<u64>(n, N_LO), c)), n);
      store<usize>(link, g);
      store<u32>(h, load<u32>(h, H_NODES) + 2, H_NODES);
    }
    store<u32>(t, load<u32>(t, T_ROUTES) + 1, T_ROUTES);
    return 0;
  }
  const x = newnode(hi, lo, plen, v);
  if (x == 0) return -ENOMEM;
  store<usize>(link, x);
  store<u32>(h, load<u32>(h, H_NODES) + 1, H_NODES);
  store<u32>(t, load<u32>(t, T_ROUTES) + 1, T_ROUTES);
  return 0;
}

/**
 * Adds route v (nonzero) for (hi, lo)/plen; bits past plen are ignored. 0, -EEXIST when
 * the prefix has a route, -EINVAL (plen > 128, v == 0), -ENOMEM (zones or budget; the
 * table is left as it was).
 */
export function rtable_insert(t: usize, hi: u64, lo: u64, plen: u32, v: usize): i32 {
  if (plen > 128 || v == 0) return -EINVAL;
  hi = maskhi(hi, plen);
  lo = masklo(lo, plen);
  let h = load<usize>(t, T_HEAD);
  if (h == 0) {
    h = pop_head_alloc(); // state 0 and an empty root node: the first update builds the root
    if (h == 0) return -ENOMEM;
    store<usize>(t, h, T_HEAD);
  }
  let r = binsert(t, h, hi, lo, plen, v);
  if (r == 0) {
    if (load<u32>(h, H_STATE) == 0) {
      r = pop_update(h + H_POP, load<usize>(t, T_ROOT), hi, lo, plen, cover(t, hi, lo, plen), v);
      if (r < 0) bdelete(t, h, hi, lo, plen); // the lookup trie is as before: so is the table
    } else {
      retry(t, h);
    }
  }
  if (r == 0) changed(t);
  else release(t, h);
  return r;
}

/** The route of the longest prefix shorter than plen that contains (hi, lo)/plen, or 0. */
function cover(t: usize, hi: u64, lo: u64, plen: u32): usize {
  let n = load<usize>(t, T_ROOT);
  let best: usize = 0;
  while (n != 0) {
    const p = load<u32>(n, N_PLEN);
    if (p >= plen || !nmatch(n, hi, lo)) break;
    const v = load<usize>(n, N_VAL);
    if (v != 0) best = v;
    n = load<usize>(childslot(n, keybit(hi, lo, p)));
  }
  return best;
}

/** Frees the head of a table left without routes. */
function release(t: usize, h: usize): void {
  if (load<u32>(t, T_ROUTES) != 0 || load<u32>(h, H_NODES) != 0) return;
  if (load<u32>(h, H_STATE) == 0) pop_free(h + H_POP);
  pop_head_free(h);
  store<usize>(t, 0, T_HEAD);
}

/** After a change made while the lookup trie is dropped: rebuild it when the countdown ends. */
function retry(t: usize, h: usize): void {
  const left = load<u32>(h, H_STATE) - 1;
  if (left != 0) {
    store<u32>(h, left, H_STATE);
    return;
  }
  if (pop_build(h + H_POP, load<usize>(t, T_ROOT)) == 0) store<u32>(h, 0, H_STATE);
  else store<u32>(h, max<u32>(64, load<u32>(t, T_ROUTES) >> 3), H_STATE);
}

/** The lookup trie could not follow a change (no memory): drop it, lookups walk the binary trie. */
function drop(t: usize, h: usize): void {
  pop_free(h + H_POP);
  store<u32>(h, max<u32>(64, load<u32>(t, T_ROUTES) >> 3), H_STATE);
}

/** Replaces the route of exactly this prefix with v (nonzero). 0, -ENOENT, -EINVAL. */
export function rtable_replace(t: usize, hi: u64, lo: u64, plen: u32, v: usize): i32 {
  if (plen > 128 || v == 0) return -EINVAL;
  hi = maskhi(hi, plen);
  lo = masklo(lo, plen);
  const n = findnode(t, hi, lo, plen);
  if (n == 0 || load<usize>(n, N_VAL) == 0) return -ENOENT;
  const was = load<usize>(n, N_VAL);
  store<usize>(n, v, N_VAL);
  const h = load<usize>(t, T_HEAD);
  if (load<u32>(h, H_STATE) == 0) pop_replace(h + H_POP, hi, lo, plen, was, v);
  changed(t);
  return 0;
}

function freenode(h: usize, n: usize): void {
  zone_free_in(nodezone, n, vbase());
  store<u32>(h, load<u32>(h, H_NODES) - 1, H_NODES);
}

/** The binary trie's half of a delete (key masked): the route, or 0 if none. */
function bdelete(t: usize, h: usize, hi: u64, lo: u64, plen: u32): usize {
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
  const l = load<usize>(n, N_LEFT);
  const r = load<usize>(n, N_RIGHT);
  if (l != 0 && r != 0) return v; // still where two subtrees part: stays as glue
  store<usize>(link, l != 0 ? l : r);
  freenode(h, n);
  if (l == 0 && r == 0 && plink != 0) {
    // The parent lost a child; a parent without a route is glue with one child left: splice it out.
    const par = load<usize>(plink);
    if (load<usize>(par, N_VAL) == 0) {
      const other = load<usize>(par, N_LEFT) != 0 ? load<usize>(par, N_LEFT) : load<usize>(par, N_RIGHT);
      store<usize>(plink, other);
      freenode(h, par);
    }
  }
  return v;
}

/**
 * Removes the route of exactly this prefix; returns it (the caller frees it), or 0 if none.
 * Never fails. A next-hop group goes with it (the returned value is then its tagged
 * address, no longer valid; its members are the caller's).
 */
export function rtable_delete(t: usize, hi: u64, lo: u64, plen: u32): usize {
  const h = load<usize>(t, T_HEAD);
  if (plen > 128 || h == 0) return 0;
  hi = maskhi(hi, plen);
  lo = masklo(lo, plen);
  const v = bdelete(t, h, hi, lo, plen);
  if (v == 0) return 0;
  if (load<u32>(h, H_STATE) == 0) {
    if (pop_update(h + H_POP, load<usize>(t, T_ROOT), hi, lo, plen, v, cover(t, hi, lo, plen)) < 0) drop(t, h);
  } else {
    retry(t, h);
  }
  changed(t);
  release(t, h);
  if (nhgrp_is(v)) nhgrp_free(v);
  return v;
}

/** Frees every node (the routes are the owner's, freed by it). O(nodes), no recursion. */
export function rtable_flush(t: usize): void {
  const h = load<usize>(t, T_HEAD);
  if (h == 0) return;
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
      if (nhgrp_is(load<usize>(n, N_VAL))) nhgrp_free(load<usize>(n, N_VAL));
      freenode(h, n);
      n = next;
    }
  }
  store<usize>(t, 0, T_ROOT);
  store<u32>(t, 0, T_ROUTES);
  changed(t);
  release(t, h);
}

// ---------------------------------------------------------------------------------------
// Several paths for one prefix (net/route_nhgrp.ts): the prefix's value becomes a tagged
// group; the lookup trie's leaves are rewritten in place (pop_replace), nothing else moves.

/**
 * Adds path v (a route entry, even, nonzero) with weight w to the prefix, which has a route:
 * a single route cur becomes a group {cur with weight curw, v}; a group gains a member.
 * 0, -ENOENT (no route of exactly this prefix), -EEXIST (net.route.multipath is 0 in the
 * current vnet), -ENOSPC (NHGRP_MAX members), -ENOMEM, -EINVAL (bad weight or value).
 * Whether two routes may share a prefix (gateway routes only, a gateway not twice) is the
 * family's to decide before it calls.
 */
export function rtable_append(t: usize, hi: u64, lo: u64, plen: u32, v: usize, w: u32, curw: u32): i32 {
  if (plen > 128 || v == 0 || nhgrp_is(v) || w == 0 || w > RT_MAX_WEIGHT || curw == 0 || curw > RT_MAX_WEIGHT) return -EINVAL;
  hi = maskhi(hi, plen);
  lo = masklo(lo, plen);
  const n = findnode(t, hi, lo, plen);
  if (n == 0 || load<usize>(n, N_VAL) == 0) return -ENOENT;
  if (!nhgrp_enabled()) return -EEXIST;
  const cur = load<usize>(n, N_VAL);
  if (nhgrp_is(cur)) {
    if (nhgrp_append(cur, v, w) < 0) return -ENOSPC;
  } else {
    const g = nhgrp_pair(cur, curw, v, w);
    if (g == 0) return -ENOMEM;
    setval(t, n, hi, lo, plen, cur, g);
  }
  changed(t);
  return 0;
}

/** Node n's route (prefix hi, lo / plen) changes from `was` to v: both structures follow (no allocation). */
function setval(t: usize, n: usize, hi: u64, lo: u64, plen: u32, was: usize, v: usize): void {
  store<usize>(n, v, N_VAL);
  const h = load<usize>(t, T_HEAD);
  if (load<u32>(h, H_STATE) == 0) pop_replace(h + H_POP, hi, lo, plen, was, v);
}

/**
 * Removes path v of the prefix: its only route (the prefix goes, as rtable_delete), or a
 * member of its group (the group keeps the others in order; left with one, the prefix
 * holds that route again and the group is freed). 0, or -ENOENT when v is not a path of
 * exactly this prefix. Never fails for lack of memory.
 */
export function rtable_remove(t: usize, hi: u64, lo: u64, plen: u32, v: usize): i32 {
  if (plen > 128 || v == 0) return -ENOENT;
  hi = maskhi(hi, plen);
  lo = masklo(lo, plen);
  const n = findnode(t, hi, lo, plen);
  if (n == 0) return -ENOENT;
  const cur = load<usize>(n, N_VAL);
  if (cur == 0) return -ENOENT;
  if (cur == v) {
    rtable_delete(t, hi, lo, plen);
    return 0;
  }
  if (!nhgrp_is(cur) || !nhgrp_remove(cur, v)) return -ENOENT;
  if (nhgrp_count(cur) == 1) {
    setval(t, n, hi, lo, plen, cur, nhgrp_member(cur, 0));
    nhgrp_free(cur);
  }
  changed(t);
  return 0;
}

export function rtable_count(t: usize): u32 {
  return load<u32>(t, T_ROUTES);
}

/** Nodes of the binary trie (at most 2 * routes - 1). */
export function rtable_nodes(t: usize): u32 {
  const h = load<usize>(t, T_HEAD);
  return h != 0 ? load<u32>(h, H_NODES) : 0;
}

/** 0 while the lookup trie answers; else the changes left before it is rebuilt (it was dropped for lack of memory). */
export function rtable_degraded(t: usize): u32 {
  const h = load<usize>(t, T_HEAD);
  return h != 0 ? load<u32>(h, H_STATE) : 0;
}

export function rtable_gen(t: usize): u32 {
  return load<u32>(t, T_GEN);
}

export { ENOENT, EEXIST };
