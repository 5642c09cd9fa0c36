// bench_kern: loops over kernel primitives run inside Wasm, so a figure is the cost of
// the primitive as a module sees it (a direct Wasm call into the kernel), not of a
// JavaScript-to-Wasm crossing per operation.
import { zone_create, zone_alloc, zone_free, zone_destroy, MOD_LOAD, MOD_UNLOAD } from "../../assembly/kmod/kapi";
export { kmod_heap_top } from "../../assembly/kmod/kmod";

let z: usize = 0;

export function modevent(what: i32): i32 {
  if (what == MOD_LOAD) {
    z = zone_create("bench_item", 64, 0, 0, 0);
    return z != 0 ? 0 : 12;
  }
  if (what == MOD_UNLOAD) zone_destroy(z, false);
  return 0;
}

/** n zone_alloc + zone_free pairs; returns a checksum so nothing is optimised away. */
export function bench_zone(n: u32): usize {
  let sum: usize = 0;
  for (let i: u32 = 0; i < n; i++) {
    const p = zone_alloc(z);
    sum += p;
    zone_free(z, p);
  }
  return sum;
}
