// EVENTHANDLER(9) in small: named events with ordered handler lists. Handlers are table
// slots taking one usize argument, tagged with the module that registered them so a module
// unload removes them.

import { KGLOBALS, KG_CURMOD } from "./kglobals";
import { ENOSPC, EINVAL } from "../sys/errno";
import { tbl_remove, tbl_purge } from "./kern_table";

export const EVENT_IFNET_ARRIVAL: u32 = 1; // (ifp): an interface attached to curvnet
export const EVENT_IFNET_DEPARTURE: u32 = 2; // (ifp): an interface is leaving curvnet
export const EVENT_IFNET_UP: u32 = 3; // (ifp): IFF_UP was just set (inet6 makes its link-local address)
export const EVENT_IFNET_LLADDR: u32 = 4; // (ifp): its MAC changed (FreeBSD's iflladdr_event; inet6 announces it)
export const EVENT_MAX: u32 = 8;

export const EVENTHANDLER_PRI_FIRST: u32 = 0;
export const EVENTHANDLER_PRI_ANY: u32 = 10000;
export const EVENTHANDLER_PRI_LAST: u32 = 20000;

const MAX_HANDLERS: u32 = 128;
const H_EVENT: usize = 0;
const H_PRI: usize = 4;
const H_FN: usize = 8;
const H_MOD: usize = 12;
const HSIZE: u32 = 16;
const handlers = memory.data(MAX_HANDLERS * HSIZE, 4);
let nhandlers: u32 = 0;

@inline function h(i: u32): usize { return handlers + i * HSIZE; }

/** Register fn for event at priority (lower runs first; ties in registration order). */
export function eventhandler_register(event: u32, fn: u32, pri: u32): i32 {
  if (event == 0 || event >= EVENT_MAX || fn == 0) return -EINVAL;
  if (nhandlers >= MAX_HANDLERS) return -ENOSPC;
  let at = nhandlers;
  while (at > 0 && load<u32>(h(at - 1), H_PRI) > pri) at--;
  memory.copy(h(at + 1), h(at), (nhandlers - at) * HSIZE);
  store<u32>(h(at), event, H_EVENT);
  store<u32>(h(at), pri, H_PRI);
  store<u32>(h(at), fn, H_FN);
  store<u32>(h(at), load<u32>(KGLOBALS + KG_CURMOD), H_MOD);
  nhandlers++;
  return 0;
}

export function eventhandler_deregister(event: u32, fn: u32): void {
  for (let i: u32 = 0; i < nhandlers; i++) {
    if (load<u32>(h(i), H_EVENT) == event && load<u32>(h(i), H_FN) == fn) {
      nhandlers = tbl_remove(handlers, nhandlers, HSIZE, i);
      return;
    }
  }
}

/** EVENTHANDLER_INVOKE: run every handler of event with arg, in priority order. */
export function eventhandler_invoke(event: u32, arg: usize): void {
  for (let i: u32 = 0; i < nhandlers; i++) {
    if (load<u32>(h(i), H_EVENT) == event) call_indirect<void>(load<u32>(h(i), H_FN), arg);
  }
}

/** Drop every handler a module registered; returns how many. */
export function eventhandler_purge_module(modid: u32): u32 {
  const before = nhandlers;
  nhandlers = tbl_purge(handlers, nhandlers, HSIZE, H_MOD, modid);
  return before - nhandlers;
}

export function eventhandler_count(): u32 { return nhandlers; }
