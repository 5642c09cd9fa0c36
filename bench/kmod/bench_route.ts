// bench_route: the shared route table (net/route.ts) seen from a module, with no family
// around it. Two uses:
// - bench/groups/mvns.ts times loops that run inside Wasm (rb_fill*, rb_lookup*), so a
//   figure is a lookup as inet or inet6 pays for it (a direct call into the kernel), not a
//   JavaScript crossing per lookup; rb_lookup*_n ask rtable_lookup_n for BATCH keys a call;
// - tests/route_table.test.ts drives single operations (rb_insert, rb_lookup, ...) against
//   a naive reference, and the paths of a prefix (rb_append, rb_remove, rb_paths, ...:
//   net/route_nhgrp.ts) against the same reference holding a list of paths per prefix.
// The table lives in this module's static window; its nodes are charged to a vnet the
// module makes (rb_open) and destroys (rb_close), which reports what the vnet still held.
import {
  CURVNET_SET, CURVNET_RESTORE, MOD_UNLOAD, RTABLE_SIZE, rtable_init, rtable_insert, rtable_delete, rtable_lookup, rtable_lookup_n, rtable_find,
  rtable_flush, rtable_count, rtable_nodes, rtable_vnet_items, rtable_degraded, rtable_append, rtable_remove,
  nhgrp_is, nhgrp_count, nhgrp_member, nhgrp_weight, nhgrp_select,
} from "../../assembly/kmod/kapi";
export { kmod_heap_top } from "../../assembly/kmod/kmod";

@external("kernel", "vnet_alloc") declare function vnet_alloc(): usize;
@external("kernel", "vnet_destroy") declare function vnet_destroy(v: usize): i32;
@external("kernel", "vnet_bytes") declare function vnet_bytes(v: usize): f64;
@external("kernel", "vnet_set_memory_budget") declare function vnet_set_memory_budget(v: usize, bytes: u32): i32;

const T: usize = memory.data(<i32>RTABLE_SIZE, 8);
let vnet: usize = 0;

export function modevent(what: i32): i32 {
  if (what == MOD_UNLOAD && vnet != 0) rb_close();
  return 0;
}

/** Makes the vnet the nodes are charged to and an empty table. 0, or 12 (no vnet). */
export function rb_open(): i32 {
  if (vnet != 0) rb_close();
  vnet = vnet_alloc();
  if (vnet == 0) return 12;
  rtable_init(T);
  return 0;
}

/**
 * Destroys the vnet; returns the route table items (binary trie nodes, lookup trie arrays,
 * the head) it held just before vnet_destroy (0 after rb_flush).
 */
export function rb_close(): u32 {
  const old = CURVNET_SET(vnet);
  const held = rtable_vnet_items();
  CURVNET_RESTORE(old);
  vnet_destroy(vnet);
  vnet = 0;
  return held;
}

/** The table's vnet (struct vnet *), for its sysctls (net.route.multipath). */
export function rb_vnet(): u32 {
  return <u32>vnet;
}

/** Sets the table's vnet's byte budget (MiB, 0 = none); the default (64 MiB) holds no million IPv6 routes. */
export function rb_budget(mib: u32): i32 {
  return vnet_set_memory_budget(vnet, mib << 20);
}

export function rb_flush(): void {
  const old = CURVNET_SET(vnet);
  rtable_flush(T);
  CURVNET_RESTORE(old);
}

export function rb_bytes(): f64 {
  return vnet_bytes(vnet);
}

export function rb_count(): u32 {
  return rtable_count(T);
}

/** 0 while the table's lookup trie answers; else it was dropped for lack of memory (net/route.ts). */
export function rb_degraded(): u32 {
  return rtable_degraded(T);
}

/** Route table items the vnet holds now. */
export function rb_items(): u32 {
  const old = CURVNET_SET(vnet);
  const n = rtable_vnet_items();
  CURVNET_RESTORE(old);
  return n;
}

export function rb_nodes(): u32 {
  return rtable_nodes(T);
}

// Single operations; an address is four big-endian 32-bit words (IPv4: a, 0, 0, 0).
@inline function hi(a: u32, b: u32): u64 {
  return (<u64>a << 32) | <u64>b;
}

export function rb_insert(a: u32, b: u32, c: u32, d: u32, plen: u32, v: u32): i32 {
  const old = CURVNET_SET(vnet);
  const r = rtable_insert(T, hi(a, b), hi(c, d), plen, v);
  CURVNET_RESTORE(old);
  return r;
}

export function rb_delete(a: u32, b: u32, c: u32, d: u32, plen: u32): u32 {
  const old = CURVNET_SET(vnet);
  const r = rtable_delete(T, hi(a, b), hi(c, d), plen);
  CURVNET_RESTORE(old);
  return <u32>r;
}

export function rb_lookup(a: u32, b: u32, c: u32, d: u32): u32 {
  return <u32>rtable_lookup(T, hi(a, b), hi(c, d));
}

// A batch for rtable_lookup_n: keys (hi, lo u64) and the routes found.
const BATCH: u32 = 256;
const KEYS: usize = memory.data(<i32>BATCH * 16, 8);
const OUT: usize = memory.data(<i32>BATCH * 4, 4);

/** Sets key i (< 256) of the batch. */
export function rb_key(i: u32, a: u32, b: u32, c: u32, d: u32): void {
  if (i >= BATCH) return;
  store<u64>(KEYS + (<usize>i << 4), hi(a, b));
  store<u64>(KEYS + (<usize>i << 4), hi(c, d), 8);
}

/** rtable_lookup_n over the batch's first n keys (n <= 256); rb_result(i) reads the answers. */
export function rb_lookup_batch(n: u32): void {
  rtable_lookup_n(T, KEYS, OUT, min<u32>(n, BATCH));
}

export function rb_result(i: u32): u32 {
  return i < BATCH ? load<u32>(OUT + (<usize>i << 2)) : 0;
}

export function rb_find(a: u32, b: u32, c: u32, d: u32, plen: u32): u32 {
  return <u32>rtable_find(T, hi(a, b), hi(c, d), plen);
}

// Paths. A route value must be even (the table tags groups with the low bit), so these
// take and give v as the test's number and store v << 1.

/** rtable_append: path v (weight w) joins the prefix, whose single route has weight curw. */
export function rb_append(a: u32, b: u32, c: u32, d: u32, plen: u32, v: u32, w: u32, curw: u32): i32 {
  const old = CURVNET_SET(vnet);
  const r = rtable_append(T, hi(a, b), hi(c, d), plen, <usize>v << 1, w, curw);
  CURVNET_RESTORE(old);
  return r;
}

export function rb_insert2(a: u32, b: u32, c: u32, d: u32, plen: u32, v: u32): i32 {
  return rb_insert(a, b, c, d, plen, v << 1);
}

/** rtable_remove of path v: 0 or -ENOENT. */
export function rb_remove(a: u32, b: u32, c: u32, d: u32, plen: u32, v: u32): i32 {
  const old = CURVNET_SET(vnet);
  const r = rtable_remove(T, hi(a, b), hi(c, d), plen, <usize>v << 1);
  CURVNET_RESTORE(old);
  return r;
}

let lastv: usize = 0;

/** Looks (hi, lo) up (exact prefix when plen <= 128, else longest match): how many paths it has (0: no route). */
export function rb_paths(a: u32, b: u32, c: u32, d: u32, plen: u32): u32 {
  lastv = plen <= 128 ? rtable_find(T, hi(a, b), hi(c, d), plen) : rtable_lookup(T, hi(a, b), hi(c, d));
  if (lastv == 0) return 0;
  return nhgrp_is(lastv) ? nhgrp_count(lastv) : 1;
}

/** Path i of the last rb_paths answer (as the test's number). */
export function rb_path(i: u32): u32 {
  return <u32>(nhgrp_is(lastv) ? nhgrp_member(lastv, i) : lastv) >> 1;
}

/** Weight of path i of the last rb_paths answer (0 for a single route: the family keeps it). */
export function rb_weight(i: u32): u32 {
  return nhgrp_is(lastv) ? nhgrp_weight(lastv, i) : 0;
}

/** The path of the last rb_paths answer that flow hash h takes. */
export function rb_select(h: u32): u32 {
  return <u32>(nhgrp_is(lastv) ? nhgrp_select(lastv, h) : lastv) >> 1;
}

// Loops. Prefixes are drawn from a xorshift generator; the same seed draws the same
// prefixes, so a lookup loop can aim at the prefixes a fill loop inserted.
let s: u32 = 1;
@inline function rnd(): u32 {
  let x = s;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  s = x;
  return x;
}

/** An IPv4 prefix length shaped like a BGP table: most /24, then /16-/23, a few shorter. */
@inline function plen4(r: u32): u32 {
  const q = r % 100;
  if (q < 55) return 24;
  if (q < 90) return 16 + (q - 55) % 8; // /16-/23
  return 8 + (q - 90) % 8; // /8-/15
}

/** An IPv6 prefix length: /48 most, then /32, /40, /44, /56, /64. */
@inline function plen6(r: u32): u32 {
  const q = r % 100;
  if (q < 50) return 48;
  if (q < 65) return 32;
  if (q < 75) return 40;
  if (q < 85) return 44;
  if (q < 92) return 56;
  return 64;
}

/** Inserts n random IPv4 prefixes (seed); returns how many were new (the rest: -EEXIST). */
export function rb_fill4(n: u32, seed: u32): u32 {
  s = seed | 1;
  const old = CURVNET_SET(vnet);
  let added: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    const a = rnd();
    const p = plen4(rnd());
    if (rtable_insert(T, <u64>a << 32, 0, p, i + 1) == 0) added++;
  }
  CURVNET_RESTORE(old);
  return added;
}

/**
 * n lookups of IPv4 addresses inside the prefixes rb_fill4(n, seed) drew (random host
 * bits), with no cache; returns how many found a route (all of them, if the fill ran).
 */
export function rb_lookup4(n: u32, seed: u32): u32 {
  s = seed | 1;
  let found: u32 = 0;
  let h: u32 = seed * 0x9e3779b9;
  for (let i: u32 = 0; i < n; i++) {
    const a = rnd();
    rnd(); // the length draw
    h ^= h << 13;
    h ^= h >> 17;
    h ^= h << 5;
    const dst = (a & 0xffffff00) | (h & 0xff); // every drawn prefix is /24 or shorter
    if (rtable_lookup(T, <u64>dst << 32, 0) != 0) found++;
  }
  return found;
}

/** Counts the routes found for the batch's first g keys (rtable_lookup_n). */
function batch(g: u32): u32 {
  rtable_lookup_n(T, KEYS, OUT, g);
  let found: u32 = 0;
  for (let j: u32 = 0; j < g; j++) if (load<u32>(OUT + (<usize>j << 2)) != 0) found++;
  return found;
}

/** rb_lookup4's addresses, BATCH per call of rtable_lookup_n. */
export function rb_lookup4_n(n: u32, seed: u32): u32 {
  s = seed | 1;
  let found: u32 = 0;
  let h: u32 = seed * 0x9e3779b9;
  let g: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    const a = rnd();
    rnd();
    h ^= h << 13;
    h ^= h >> 17;
    h ^= h << 5;
    store<u64>(KEYS + (<usize>g << 4), <u64>((a & 0xffffff00) | (h & 0xff)) << 32);
    store<u64>(KEYS + (<usize>g << 4), 0, 8);
    if (++g == BATCH) {
      found += batch(g);
      g = 0;
    }
  }
  return g != 0 ? found + batch(g) : found;
}

/** Inserts n random IPv6 prefixes under 2000::/3 (seed); returns how many were new. */
export function rb_fill6(n: u32, seed: u32): u32 {
  s = seed | 1;
  const old = CURVNET_SET(vnet);
  let added: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    const kh = (<u64>((rnd() & 0x1fffffff) | 0x20000000) << 32) | <u64>rnd();
    const p = plen6(rnd());
    if (rtable_insert(T, kh, 0, p, i + 1) == 0) added++;
  }
  CURVNET_RESTORE(old);
  return added;
}

/** n lookups of IPv6 addresses inside the prefixes rb_fill6(n, seed) drew; returns how many found a route. */
export function rb_lookup6(n: u32, seed: u32): u32 {
  s = seed | 1;
  let found: u32 = 0;
  let h: u32 = seed * 0x9e3779b9;
  for (let i: u32 = 0; i < n; i++) {
    const kh = (<u64>((rnd() & 0x1fffffff) | 0x20000000) << 32) | <u64>rnd();
    rnd();
    h ^= h << 13;
    h ^= h >> 17;
    h ^= h << 5;
    // Every drawn prefix is /64 or shorter: the drawn upper half, random host bits below it.
    if (rtable_lookup(T, kh, (<u64>h << 32) | <u64>(h * 31)) != 0) found++;
  }
  return found;
}

/** rb_lookup6's addresses, BATCH per call of rtable_lookup_n. */
export function rb_lookup6_n(n: u32, seed: u32): u32 {
  s = seed | 1;
  let found: u32 = 0;
  let h: u32 = seed * 0x9e3779b9;
  let g: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    const kh = (<u64>((rnd() & 0x1fffffff) | 0x20000000) << 32) | <u64>rnd();
    rnd();
    h ^= h << 13;
    h ^= h >> 17;
    h ^= h << 5;
    store<u64>(KEYS + (<usize>g << 4), kh);
    store<u64>(KEYS + (<usize>g << 4), (<u64>h << 32) | <u64>(h * 31), 8);
    if (++g == BATCH) {
      found += batch(g);
      g = 0;
    }
  }
  return g != 0 ? found + batch(g) : found;
}
