// vnet_demo: the smallest module that uses every part of the kldload path. It declares
// per-vnet variables (one with an initial value), registers a VNET_SYSINIT that gives each
// vnet its own zone, an item from it and a callout ticking once a second, and tears all
// of it down again in the stop and uninit hooks. Tests and the demo load it into kernels
// with live vnets and count its ticks per vnet.

import {
  VNET, VNET_VNET, vnet_data_alloc, vnet_data_free, vnet_data_copy, vnet_master_base,
  vnet_sysinit_register, zone_create, zone_alloc, zone_free, zone_destroy, ZONE_VNET,
  callout_init, callout_reset, callout_stop, callout_drain, CALLOUT_SIZE,
  SI_SUB_PROTO_DOMAIN, SI_ORDER_ANY, MOD_LOAD, MOD_UNLOAD, MOD_QUIESCE, EBUSY, ENOMEM,
} from "../kmod/kapi";
export { kmod_heap_top } from "../kmod/kmod";

const TICK_US: u64 = 1_000_000;

// VNET_DEFINE(u32, demo_answer) = 42; VNET_DEFINE(u32, demo_ticks);
// VNET_DEFINE(struct callout, demo_callout); VNET_DEFINE(uma_zone_t, demo_zone); ...
let dataOff: u32 = 0;
let V_answer: u32 = 0;
let V_ticks: u32 = 0;
let V_zone: u32 = 0;
let V_item: u32 = 0;
let V_callout: u32 = 0;
const DATA_SIZE: u32 = 16 + CALLOUT_SIZE;

let busy = false;
let initCalls: u32 = 0;
let uninitCalls: u32 = 0;

function demo_tick(arg: usize): void {
  store<u32>(VNET(V_ticks), load<u32>(VNET(V_ticks)) + 1);
  callout_reset(VNET(V_callout), TICK_US, demo_tick.index, 0);
}

function demo_vnet_init(): i32 {
  const z = zone_create("demo_vnet", 48, 0, ZONE_VNET, 0);
  if (z == 0) return ENOMEM;
  const item = zone_alloc(z);
  if (item == 0) {
    zone_destroy(z, true);
    return ENOMEM;
  }
  store<usize>(VNET(V_zone), z);
  store<usize>(VNET(V_item), item);
  callout_init(VNET(V_callout));
  callout_reset(VNET(V_callout), TICK_US, demo_tick.index, 0);
  initCalls++;
  return 0;
}

// Teardown checkpoint 1: no new work, so the timer stops.
function demo_vnet_stop(): void {
  callout_stop(VNET(V_callout));
}

function demo_vnet_uninit(): void {
  callout_drain(VNET(V_callout));
  const z = load<usize>(VNET(V_zone));
  zone_free(z, load<usize>(VNET(V_item)));
  zone_destroy(z, false);
  store<usize>(VNET(V_zone), 0);
  store<usize>(VNET(V_item), 0);
  uninitCalls++;
}

export function modevent(what: i32): i32 {
  if (what == MOD_LOAD) {
    const off = vnet_data_alloc(DATA_SIZE, 8);
    if (off < 0) return -off;
    dataOff = <u32>off;
    V_answer = dataOff;
    V_ticks = dataOff + 4;
    V_zone = dataOff + 8;
    V_item = dataOff + 12;
    V_callout = dataOff + 16;
    const master = vnet_master_base();
    memory.fill(master + dataOff, 0, DATA_SIZE);
    store<u32>(master + V_answer, 42);
    vnet_data_copy(dataOff, DATA_SIZE);
    const r = vnet_sysinit_register(SI_SUB_PROTO_DOMAIN, SI_ORDER_ANY, demo_vnet_init.index, demo_vnet_stop.index, demo_vnet_uninit.index);
    if (r != 0) {
      vnet_data_free(dataOff, DATA_SIZE);
      return -r;
    }
    return 0;
  }
  if (what == MOD_QUIESCE) return busy ? EBUSY : 0;
  if (what == MOD_UNLOAD) {
    vnet_data_free(dataOff, DATA_SIZE);
    return 0;
  }
  return 0;
}

/** demo_answer in vnet v (42 unless changed). */
export function demo_answer(v: usize): u32 {
  return load<u32>(VNET_VNET(v, V_answer));
}

export function demo_set_answer(v: usize, x: u32): void {
  store<u32>(VNET_VNET(v, V_answer), x);
}

/** Seconds the demo callout has ticked in vnet v. */
export function demo_ticks(v: usize): u32 {
  return load<u32>(VNET_VNET(v, V_ticks));
}

/** Make MOD_QUIESCE refuse (EBUSY), as a module with open sockets would. */
export function demo_set_busy(b: bool): void {
  busy = b;
}

export function demo_init_calls(): u32 { return initCalls; }
export function demo_uninit_calls(): u32 { return uninitCalls; }
