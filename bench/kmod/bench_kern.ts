// bench_kern: loops over kernel primitives run inside Wasm, so a figure is the cost of
// the primitive as a module sees it (a direct Wasm call into the kernel), not of a
// JavaScript-to-Wasm crossing per operation. bench/groups/kernel.ts drives it.
//
// Every loop returns a value that depends on each iteration (a checksum, or a failure
// count) so that nothing is optimised away; the host checks it.
import {
  zone_create, zone_alloc, zone_free, zone_destroy, callout_init, callout_reset, callout_stop,
  MOD_LOAD, MOD_UNLOAD,
} from "../../assembly/kmod/kapi";
export { kmod_heap_top } from "../../assembly/kmod/kmod";

// Kernel exports kapi.ts does not declare (the host normally calls them).
@external("kernel", "vnet_alloc") declare function vnet_alloc(): usize;
@external("kernel", "vnet_destroy") declare function vnet_destroy(v: usize): i32;

let z: usize = 0;

// One struct callout in the module's static window (CALLOUT_SIZE is 40 on wasm32; room for growth).
const CALLOUT: usize = memory.data(128, 16);

function bench_noop(arg: usize): void {}

export function modevent(what: i32): i32 {
  if (what == MOD_LOAD) {
    z = zone_create("bench_item", 64, 0, 0, 0);
    return z != 0 ? 0 : 12;
  }
  if (what == MOD_UNLOAD) {
    callout_stop(CALLOUT);
    zone_destroy(z, false);
  }
  return 0;
}

/**
 * n zone_alloc + zone_free pairs in an otherwise empty zone; returns a checksum so nothing
 * is optimised away. Every free empties the slab and every alloc takes it back from the
 * zone's empty list, so this is the slab-boundary worst case, not the steady state.
 */
export function bench_zone(n: u32): usize {
  let sum: usize = 0;
  for (let i: u32 = 0; i < n; i++) {
    const p = zone_alloc(z);
    sum += p;
    zone_free(z, p);
  }
  return sum;
}

/**
 * n zone_alloc + zone_free pairs while another item of the zone stays allocated, so the
 * slab stays partial: the steady state of a zone in use (mbufs under traffic, PCBs).
 * Returns a checksum.
 */
export function bench_zone_pinned(n: u32): usize {
  const pin = zone_alloc(z);
  let sum: usize = pin;
  for (let i: u32 = 0; i < n; i++) {
    const p = zone_alloc(z);
    sum += p;
    zone_free(z, p);
  }
  zone_free(z, pin);
  return sum;
}

/**
 * n callout_reset + callout_stop pairs on one callout (bound to the current vnet). The
 * delta cycles through 64 values from 1 ms to ~64 ms so the callout lands in different
 * wheel slots and levels, as a TCP retransmit timer being re-armed would. Returns the
 * number of pairs where reset or stop did not report what it should (0 = all good).
 */
export function bench_callout(n: u32): u32 {
  callout_init(CALLOUT);
  let bad: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    const delta: u64 = 1000 + (<u64>(i & 63) << 10);
    if (callout_reset(CALLOUT, delta, bench_noop.index, i) != 0) bad++;
    if (callout_stop(CALLOUT) != 1) bad++;
  }
  return bad;
}

/**
 * n callout_reset calls on a callout that is already pending (the common TCP case: the
 * timer is re-armed on every ACK), then one stop. Returns the failures (0 = all good).
 */
export function bench_callout_rearm(n: u32): u32 {
  callout_init(CALLOUT);
  let bad: u32 = 0;
  callout_reset(CALLOUT, 1000, bench_noop.index, 0);
  for (let i: u32 = 0; i < n; i++) {
    const delta: u64 = 1000 + (<u64>(i & 63) << 10);
    if (callout_reset(CALLOUT, delta, bench_noop.index, i) != 1) bad++;
  }
  if (callout_stop(CALLOUT) != 1) bad++;
  return bad;
}

/**
 * n vnet_alloc + vnet_destroy pairs (a vnet made and torn down in full: data block copied,
 * sysinits and uninits run, leak check). Returns the failures + leaks (0 = all good).
 */
export function bench_vnet(n: u32): u32 {
  let bad: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    const v = vnet_alloc();
    if (v == 0) return bad + n - i;
    if (vnet_destroy(v) != 0) bad++;
  }
  return bad;
}

/**
 * Batch form: k vnets alive at once, then all destroyed (LIFO), n times over. Shows what
 * creating many costs apart from the host API. Returns failures + leaks.
 */
const VSTACK: usize = memory.data(4096 * 4, 4);
export function bench_vnet_batch(n: u32, k: u32): u32 {
  if (k > 4096) k = 4096;
  let bad: u32 = 0;
  for (let r: u32 = 0; r < n; r++) {
    let made: u32 = 0;
    for (; made < k; made++) {
      const v = vnet_alloc();
      if (v == 0) {
        bad++;
        break;
      }
      store<usize>(VSTACK + (<usize>made << 2), v);
    }
    while (made > 0) {
      made--;
      if (vnet_destroy(load<usize>(VSTACK + (<usize>made << 2))) != 0) bad++;
    }
  }
  return bad;
}
