// Next-hop groups: several paths for one prefix (FreeBSD net/route/nhgrp.c, ROUTE_MPATH).
//
// The route table (net/route.ts) holds one opaque value per prefix. With one path that is
// the family's route entry, as it always was; with two or more it is a group of entries,
// tagged by its low bit (route entries are zone items, so even): a lookup that finds an
// untagged value pays nothing for multipath, one that finds a tag picks a member with the
// packet's flow hash (nhgrp_select). Each member is a whole route entry of its family
// (gateway, interface, source address, use count), so `netstat -rn` lists every path.
//
// Selection: hash mod the sum of the members' weights, then the member whose share of that
// sum holds it (FreeBSD spreads each member over weight slots and takes flowid mod slots:
// the same split). A flow's hash is fixed (its addresses and ports), so a flow keeps its
// path while the group is unchanged.
//
// struct nhgrp (NHGRP_SIZE bytes, zone "nhgrp", charged to the vnet current at the change):
//   0 members u32   4 sum of weights u32   8 + 8i: member i's route entry, then its weight u32
//
// net.route.multipath (per vnet, default 1 as in FreeBSD): 0 refuses a second path with
// EEXIST, as the table did before groups existed.

import { zone_create, zone_alloc_in, zone_free_in, zone_vnet_inuse, ZONE_CHARGE } from "../kern/zone";
import { vnet_data_alloc, vnet_master, vnet_data_copy } from "../kern/vnet_data";
import { Vnet, vnet_valid } from "../kern/vnet";
import { ENOMEM, EINVAL } from "../sys/errno";
import { vbase } from "./route_var";

/** Members a group holds at most (FreeBSD's RIB_MAX_MPATH_WIDTH is 64; a route add past it gets ENOSPC). */
export const NHGRP_MAX: u32 = 32;
export const NHGRP_SIZE: u32 = 8 + 8 * NHGRP_MAX;
/** Weights are 1 .. RT_MAX_WEIGHT (FreeBSD's limit, 2^24 - 1); 32 of them still sum within a u32. */
export const RT_MAX_WEIGHT: u32 = 0xffffff;

const G_N: usize = 0;
const G_SUM: usize = 4;
const G_M: usize = 8;

let grpzone: usize = 0;
let V_multipath: u32 = 0; // VNET offset of net.route.multipath (u32)

/** The zone and the per-vnet knob (kernel boot, from route_boot). 0 or -errno. */
export function nhgrp_boot(): i32 {
  if (grpzone != 0) return 0;
  grpzone = zone_create("nhgrp", NHGRP_SIZE, 0, ZONE_CHARGE, 0);
  if (grpzone == 0) return -ENOMEM;
  const off = vnet_data_alloc(4, 4);
  if (off < 0) return off;
  V_multipath = <u32>off;
  store<u32>(vnet_master(V_multipath), 1);
  vnet_data_copy(V_multipath, 4);
  return 0;
}

/** Groups the vnet whose data block starts at vb holds. */
export function nhgrp_vnet_items(vb: usize): u32 {
  return grpzone != 0 ? zone_vnet_inuse(grpzone, vb) : 0;
}

/** net.route.multipath of the current vnet. */
@inline export function nhgrp_enabled(): bool {
  return load<u32>(vbase() + <usize>V_multipath) != 0;
}

/** sysctl net.route.multipath of vnet v: value 0 or 1 sets it, value < 0 reads it. Returns it, or -EINVAL. */
export function net_route_multipath(v: usize, value: i32): i32 {
  if (grpzone == 0 || !vnet_valid(v) || value > 1) return -EINVAL;
  const p = changetype<Vnet>(v).base + <usize>V_multipath;
  if (value >= 0) store<u32>(p, <u32>value);
  return <i32>load<u32>(p);
}

@inline export function nhgrp_is(v: usize): bool {
  return (v & 1) != 0;
}

@inline function G(v: usize): usize {
  return v & ~(<usize>1);
}

/** A tagged group of two members (a with weight wa, b with wb), or 0 for lack of memory. */
export function nhgrp_pair(a: usize, wa: u32, b: usize, wb: u32): usize {
  const g = zone_alloc_in(grpzone, vbase());
  if (g == 0) return 0;
  store<u32>(g, 2, G_N);
  store<u32>(g, wa + wb, G_SUM);
  store<usize>(g, a, G_M);
  store<u32>(g, wa, G_M + 4);
  store<usize>(g, b, G_M + 8);
  store<u32>(g, wb, G_M + 12);
  return g | 1;
}

/** Frees a tagged group (its members are the family's). */
export function nhgrp_free(v: usize): void {
  zone_free_in(grpzone, G(v), vbase());
}

/** Members of tagged group v. */
export function nhgrp_count(v: usize): u32 {
  return load<u32>(G(v), G_N);
}

/** Member i (0 .. count - 1) of tagged group v. */
export function nhgrp_member(v: usize, i: u32): usize {
  return load<usize>(G(v) + G_M + (<usize>i << 3));
}

export function nhgrp_weight(v: usize, i: u32): u32 {
  return load<u32>(G(v) + G_M + (<usize>i << 3), 4);
}

/** Adds member e (weight w) to tagged group v: 0, or -1 when the group is full. */
export function nhgrp_append(v: usize, e: usize, w: u32): i32 {
  const g = G(v);
  const n = load<u32>(g, G_N);
  if (n >= NHGRP_MAX) return -1;
  store<usize>(g + G_M + (<usize>n << 3), e);
  store<u32>(g + G_M + (<usize>n << 3), w, 4);
  store<u32>(g, n + 1, G_N);
  store<u32>(g, load<u32>(g, G_SUM) + w, G_SUM);
  return 0;
}

/** Takes member e out of tagged group v, keeping the others' order: true if it was one. */
export function nhgrp_remove(v: usize, e: usize): bool {
  const g = G(v);
  const n = load<u32>(g, G_N);
  for (let i: u32 = 0; i < n; i++) {
    const p = g + G_M + (<usize>i << 3);
    if (load<usize>(p) != e) continue;
    store<u32>(g, load<u32>(g, G_SUM) - load<u32>(p, 4), G_SUM);
    memory.copy(p, p + 8, <usize>(n - 1 - i) << 3);
    store<u32>(g, n - 1, G_N);
    return true;
  }
  return false;
}

/** The member of tagged group v that carries flow hash h. */
export function nhgrp_select(v: usize, h: u32): usize {
  const g = G(v);
  let x = h % load<u32>(g, G_SUM);
  let p = g + G_M;
  while (x >= load<u32>(p, 4)) {
    x -= load<u32>(p, 4);
    p += 8;
  }
  return load<usize>(p);
}

