// VNET_SYSINIT / VNET_SYSUNINIT: per-vnet init and teardown, ordered by (subsystem, order).
//
// vnet_alloc runs every init in ascending key order (registration order breaks ties);
// vnet_destroy runs the stop hooks (teardown checkpoint 1: stop accepting new work) and
// then the uninits, both in exactly the reverse order. A handler registered while vnets
// are alive runs in each of them at once, as FreeBSD's vnet_register_sysinit does.
// Handlers are table indices (Function#index): init is () => i32 (0 = ok, else an errno),
// stop and uninit are () => void; curvnet is the vnet being set up or torn down.

import { KGLOBALS, KG_CURMOD } from "./kglobals";
import { vnet_first, vnet_next, CURVNET_SET, CURVNET_RESTORE } from "./vnet";
import { ENOSPC, EINVAL } from "../sys/errno";

const MAX_SYSINITS: u32 = 256;
const E_SUB: usize = 0;
const E_ORDER: usize = 4;
const E_SEQ: usize = 8;
const E_INIT: usize = 12;
const E_STOP: usize = 16;
const E_UNINIT: usize = 20;
const E_MOD: usize = 24;
const ENTRY: u32 = 32;
const entries = memory.data(MAX_SYSINITS * ENTRY, 8);
let nentries: u32 = 0;
let seq: u32 = 0;

@inline function ent(i: u32): usize { return entries + i * ENTRY; }

@inline function runInit(e: usize): i32 {
  const f = load<u32>(e, E_INIT);
  if (f == 0) return 0;
  const r = call_indirect<i32>(f);
  return r;
}

@inline function runUninit(e: usize): void {
  const f = load<u32>(e, E_UNINIT);
  if (f != 0) call_indirect<void>(f);
}

function removeAt(i: u32): void {
  nentries--;
  memory.copy(ent(i), ent(i + 1), (nentries - i) * ENTRY);
}

/**
 * Register per-vnet handlers under key (sub, order). Any of init/stop/uninit may be 0.
 * Runs init in every live vnet now; if one fails, the vnets already done get their uninit,
 * the entry is dropped and the error is returned (negative errno). Returns 0 on success.
 */
export function vnet_sysinit_register(sub: u32, order: u32, init: u32, stop: u32, uninit: u32): i32 {
  if (nentries >= MAX_SYSINITS) return -ENOSPC;
  if (init == 0 && stop == 0 && uninit == 0) return -EINVAL;
  let at = nentries;
  while (at > 0) {
    const p = ent(at - 1);
    const ps = load<u32>(p, E_SUB);
    if (ps < sub || (ps == sub && load<u32>(p, E_ORDER) <= order)) break;
    at--;
  }
  memory.copy(ent(at + 1), ent(at), (nentries - at) * ENTRY);
  const e = ent(at);
  store<u32>(e, sub, E_SUB);
  store<u32>(e, order, E_ORDER);
  store<u32>(e, seq++, E_SEQ);
  store<u32>(e, init, E_INIT);
  store<u32>(e, stop, E_STOP);
  store<u32>(e, uninit, E_UNINIT);
  store<u32>(e, load<u32>(KGLOBALS + KG_CURMOD), E_MOD);
  nentries++;
  if (init == 0) return 0;
  for (let v = vnet_first(); v != 0; v = vnet_next(v)) {
    const old = CURVNET_SET(v);
    const r = runInit(e);
    CURVNET_RESTORE(old);
    if (r != 0) {
      for (let u = vnet_first(); u != v; u = vnet_next(u)) {
        const o = CURVNET_SET(u);
        runUninit(e);
        CURVNET_RESTORE(o);
      }
      removeAt(at);
      return r < 0 ? r : -r;
    }
  }
  return 0;
}

/** Run every init in ascending order in curvnet; on failure undo the ones that ran. */
export function sysinit_vnet_init(): i32 {
  for (let i: u32 = 0; i < nentries; i++) {
    const r = runInit(ent(i));
    if (r != 0) {
      for (let j = i; j > 0; j--) runUninit(ent(j - 1));
      return r < 0 ? r : -r;
    }
  }
  return 0;
}

/** Teardown checkpoint 1 in curvnet: stop hooks, reverse order. */
export function sysinit_vnet_stop(): void {
  for (let i = nentries; i > 0; i--) {
    const f = load<u32>(ent(i - 1), E_STOP);
    if (f != 0) call_indirect<void>(f);
  }
}

/** Teardown checkpoint 2 in curvnet: uninits, exactly the reverse of the init order. */
export function sysinit_vnet_uninit(): void {
  for (let i = nentries; i > 0; i--) runUninit(ent(i - 1));
}

/**
 * Unregister every entry of a module, running its stop and uninit hooks in each live vnet
 * (entries in reverse order). Returns how many entries were removed.
 */
export function sysinit_purge_module(modid: u32): u32 {
  let n: u32 = 0;
  for (let i = nentries; i > 0; i--) {
    const e = ent(i - 1);
    if (load<u32>(e, E_MOD) != modid) continue;
    const stop = load<u32>(e, E_STOP);
    for (let v = vnet_first(); v != 0; v = vnet_next(v)) {
      const old = CURVNET_SET(v);
      if (stop != 0) call_indirect<void>(stop);
      runUninit(e);
      CURVNET_RESTORE(old);
    }
    removeAt(i - 1);
    n++;
  }
  return n;
}

export function sysinit_count(): u32 { return nentries; }
export function sysinit_count_module(modid: u32): u32 {
  let n: u32 = 0;
  for (let i: u32 = 0; i < nentries; i++) if (load<u32>(ent(i), E_MOD) == modid) n++;
  return n;
}
