// The route table's shared definitions (net/route.ts, the binary trie that holds the
// routes; net/route_pop.ts, the multibit trie that answers lookups from it).
//
// Keys are 128 bits with a prefix length, passed as two u64 (hi = first 8 address bytes,
// lo = last 8, each big-endian); IPv4 keys are the address in the top 32 bits.

import { KGLOBALS, KG_CURVNET_BASE } from "../kern/kglobals";

// Binary trie node: 0 key hi, 8 left, 12 right, 16 route, 20 plen, 24 key lo. What a lookup
// reads at a node with plen <= 64 (every IPv4 node) is in its first 24 bytes: the zone packs
// 32-byte items from offset 40 of a page, so every other node crosses a 64-byte line at
// byte 24, and this order keeps such a node at one cache miss instead of two.
export const RTNODE_SIZE: u32 = 32;
export const N_HI: usize = 0;
export const N_LEFT: usize = 8;
export const N_RIGHT: usize = 12;
export const N_VAL: usize = 16;
export const N_PLEN: usize = 20;
export const N_LO: usize = 24;

@inline export function vbase(): usize {
  return load<usize>(KGLOBALS + KG_CURVNET_BASE);
}

/** The mask of the first plen bits of a 64-bit half (plen 0..64). */
@inline export function himask(plen: u32): u64 {
  return plen == 0 ? 0 : ~(<u64>0) << (64 - <u64>plen);
}

@inline export function maskhi(hi: u64, plen: u32): u64 {
  return plen >= 64 ? hi : hi & himask(plen);
}

@inline export function masklo(lo: u64, plen: u32): u64 {
  return plen <= 64 ? 0 : lo & himask(plen - 64);
}

/** Does key (hi, lo) lie inside the prefix of node n? */
@inline export function nmatch(n: usize, hi: u64, lo: u64): bool {
  const p = load<u32>(n, N_PLEN);
  if (p <= 64) return p == 0 || ((hi ^ load<u64>(n, N_HI)) >> (64 - <u64>p)) == 0;
  return hi == load<u64>(n, N_HI) && ((lo ^ load<u64>(n, N_LO)) >> (128 - <u64>p)) == 0;
}

/** Do the first len bits of node n's key equal those of (hi, lo)? */
@inline export function nsame(n: usize, hi: u64, lo: u64, len: u32): bool {
  return maskhi(load<u64>(n, N_HI) ^ hi, len) == 0 && masklo(load<u64>(n, N_LO) ^ lo, len) == 0;
}

/** Bit p (0 = the most significant of hi) of the key: which child continues it. */
@inline export function keybit(hi: u64, lo: u64, p: u32): u32 {
  return p < 64 ? <u32>(hi >> (63 - <u64>p)) & 1 : <u32>(lo >> (127 - <u64>p)) & 1;
}

/** Where node n keeps its child for bit b. */
@inline export function childslot(n: usize, b: u32): usize {
  return n + (b != 0 ? N_RIGHT : N_LEFT);
}
