// The kernel side of kldload/kldunload. The host instantiates a module against the
// kernel's memory and table and calls its modevent(); around that call the kernel tags
// everything the module registers (sysinits, VNET space, zones) with the module's id, so
// a failed load can be rolled back and an unload can prove the module left nothing.

import { KGLOBALS, KG_CURMOD } from "./kglobals";
import { sysinit_purge_module, sysinit_count_module } from "./sysinit";
import { vnet_data_purge_module } from "./vnet_data";
import { zone_first, zone_next, zone_destroy, zone_name, Zone } from "./zone";
import { vnet_first, vnet_next, Vnet } from "./vnet";
import { callout_module_purge, callout_module_count } from "./kern_timeout";
import { leak_record, leak_record_str, LEAK_ZONE, LEAK_CALLOUTS, LEAK_ITEMS } from "./leak";
import { eventhandler_purge_module } from "./kern_eventhandler";
import { netisr_purge_module } from "../net/netisr";
import { if_clone_purge_module } from "../net/if_clone";
import { protosw_purge_module, protosw_stop_module, protosw_sockets_module } from "./uipc_domain";
import { pfil_purge_range } from "../net/pfil";

/** Begin MOD_LOAD or MOD_UNLOAD of module modid: what it registers now is its own. */
export function kld_begin(modid: u32): void {
  store<u32>(KGLOBALS + KG_CURMOD, modid);
}

export function kld_end(): void {
  store<u32>(KGLOBALS + KG_CURMOD, 0);
}

function purgeZones(head: usize, modid: u32): u32 {
  let n: u32 = 0;
  let z = head;
  while (z != 0) {
    const next = zone_next(z);
    if (changetype<Zone>(z).modid == modid) {
      leak_record(zone_name(z), changetype<Zone>(z).inuse, LEAK_ZONE);
      zone_destroy(z, true);
      n++;
    }
    z = next;
  }
  return n;
}

/**
 * Remove everything module modid still has in the kernel: its sysinits (their stop and
 * uninit hooks run in every live vnet), and, each recorded as a leak: zones it created,
 * VNET space it did not free, callouts pending on functions in its table window
 * [tableLo, tableHi). Used to roll back a failed MOD_LOAD (where the sysinit part is the
 * normal undo) and after MOD_UNLOAD. Returns the number of leaks recorded.
 */
export function kld_purge(modid: u32, tableLo: u32, tableHi: u32): u32 {
  sysinit_purge_module(modid);
  // Registrations that only point at the module's code go quietly: the module may rely on
  // unload to drop them, as FreeBSD's linker drops a module's SYSUNINITs and event handlers.
  eventhandler_purge_module(modid);
  netisr_purge_module(modid);
  if_clone_purge_module(modid);
  protosw_purge_module(modid); // sockets left on its protocols (forced unload) are closed
  pfil_purge_range(tableLo, tableHi); // its packet filter hooks, in every vnet
  let leaks = purgeZones(zone_first(), modid);
  for (let v = vnet_first(); v != 0; v = vnet_next(v)) {
    leaks += purgeZones(changetype<Vnet>(v).zones, modid);
  }
  leaks += vnet_data_purge_module(modid);
  const c = callout_module_purge(tableLo, tableHi);
  if (c != 0) {
    leak_record_str("callouts", c, LEAK_CALLOUTS);
    leaks++;
  }
  return leaks;
}

/** Run only the module's VNET_SYSUNINITs in every live vnet (first step of an unload). */
export function kld_sysuninit(modid: u32): u32 {
  return sysinit_purge_module(modid);
}

export function kld_sysinit_count(modid: u32): u32 {
  return sysinit_count_module(modid);
}

// ---------------------------------------------------------------------------------------
// kldunload's checkpoints, made visible (kldstat -v): what a module still holds, counted
// without changing anything, and its first step, "stop new work".

/** Checkpoint 1 of an unload: the module's protocol-switch entries refuse new sockets, connects and listens. */
export function kld_stop(modid: u32): u32 {
  return protosw_stop_module(modid);
}

function zoneCount(head: usize, modid: u32, items: bool): u32 {
  let n: u32 = 0;
  for (let z = head; z != 0; z = zone_next(z)) {
    if (changetype<Zone>(z).modid == modid) n += items ? changetype<Zone>(z).inuse : 1;
  }
  return n;
}

/** Zones module modid created that still exist (the kernel's and every vnet's). */
export function kld_zones(modid: u32): u32 {
  let n = zoneCount(zone_first(), modid, false);
  for (let v = vnet_first(); v != 0; v = vnet_next(v)) n += zoneCount(changetype<Vnet>(v).zones, modid, false);
  return n;
}

/** Items allocated from the zones module modid created. */
export function kld_items(modid: u32): u32 {
  let n = zoneCount(zone_first(), modid, true);
  for (let v = vnet_first(); v != 0; v = vnet_next(v)) n += zoneCount(changetype<Vnet>(v).zones, modid, true);
  return n;
}

/** Callouts pending on functions in the table window [lo, hi) (a module's timers). */
export function kld_callouts(lo: u32, hi: u32): u32 {
  return callout_module_count(lo, hi);
}

/** Sockets open on the protocols module modid registered. */
export function kld_sockets(modid: u32): u32 {
  return protosw_sockets_module(modid);
}
