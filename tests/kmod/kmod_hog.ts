// Test fixture: registers a sysinit, takes some VNET space and a zone, then asks for more
// VNET space than any section has and fails MOD_LOAD without undoing anything itself. The
// kernel's rollback must leave the kernel exactly as it was.
import {
  vnet_data_alloc, vnet_sysinit_register, zone_create, VNET, SI_SUB_PSEUDO, SI_ORDER_FIRST, MOD_LOAD,
} from "../../assembly/kmod/kapi";
export { kmod_heap_top } from "../../assembly/kmod/kmod";

let small: i32 = 0;
let inits: u32 = 0;

function hog_init(): i32 {
  store<u32>(VNET(<u32>small), 7);
  inits++;
  return 0;
}

function hog_uninit(): void {
  store<u32>(VNET(<u32>small), 0);
}

export function modevent(what: i32): i32 {
  if (what != MOD_LOAD) return 0;
  small = vnet_data_alloc(64, 8);
  if (small < 0) return -small;
  vnet_sysinit_register(SI_SUB_PSEUDO, SI_ORDER_FIRST, hog_init.index, 0, hog_uninit.index);
  zone_create("hog", 128, 0, 0, 0);
  const big = vnet_data_alloc(1 << 20, 8);
  return big < 0 ? -big : 0;
}

export function hog_inits(): u32 { return inits; }
