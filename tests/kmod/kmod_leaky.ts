// Test fixture: a module whose per-vnet uninit "forgets" things, so teardown must find
// them and name them: an item of its charged zone and a pending callout in each vnet.
import {
  VNET, vnet_data_alloc, vnet_data_free, vnet_sysinit_register, zone_create, zone_alloc, zone_destroy,
  callout_init, callout_reset, CALLOUT_SIZE, ZONE_CHARGE, SI_SUB_PROTO_DOMAIN, SI_ORDER_MIDDLE, MOD_LOAD, MOD_UNLOAD, ENOMEM,
} from "../../assembly/kmod/kapi";
export { kmod_heap_top } from "../../assembly/kmod/kmod";

let zone: usize = 0;
let off: u32 = 0;

function never(arg: usize): void {}

function leaky_init(): i32 {
  if (zone_alloc(zone) == 0) return ENOMEM;
  callout_init(VNET(off));
  callout_reset(VNET(off), 60_000_000, never.index, 0);
  return 0;
}

function leaky_uninit(): void {
  // Deliberately frees nothing and leaves the callout armed.
}

export function modevent(what: i32): i32 {
  if (what == MOD_LOAD) {
    zone = zone_create("leaky_item", 32, 0, ZONE_CHARGE, 0);
    if (zone == 0) return ENOMEM;
    const o = vnet_data_alloc(CALLOUT_SIZE, 8);
    if (o < 0) return -o;
    off = <u32>o;
    return -vnet_sysinit_register(SI_SUB_PROTO_DOMAIN, SI_ORDER_MIDDLE, leaky_init.index, 0, leaky_uninit.index);
  }
  if (what == MOD_UNLOAD) {
    zone_destroy(zone, false); // refuses while items are out; the kernel reports them
    vnet_data_free(off, CALLOUT_SIZE);
  }
  return 0;
}
