// netisr: where a received packet goes next, by protocol. Ethernet demultiplexes by
// ethertype; loopback maps its address family to the same ethertype, so one registry
// serves both. Input runs to completion (FreeBSD's direct dispatch): the handler is called
// right away. Handlers are table slots (ifp, m) => void that own m.

import { KGLOBALS, KG_CURMOD } from "../kern/kglobals";
import { EEXIST, ENOSPC, EINVAL, ENOENT } from "../sys/errno";
import { tbl_remove, tbl_purge } from "../kern/kern_table";

const MAX: u32 = 16;
const E_TYPE: usize = 0; // u32 (ethertype)
const E_FN: usize = 4;
const E_MOD: usize = 8;
const ESIZE: u32 = 12;
const table = memory.data(MAX * ESIZE, 4);
let n: u32 = 0;

@inline function e(i: u32): usize { return table + i * ESIZE; }

/** Register the input handler of a protocol (ethertype). */
export function netisr_register(etype: u32, fn: u32): i32 {
  if (fn == 0 || etype == 0 || etype > 0xffff) return -EINVAL;
  for (let i: u32 = 0; i < n; i++) if (load<u32>(e(i), E_TYPE) == etype) return -EEXIST;
  if (n >= MAX) return -ENOSPC;
  store<u32>(e(n), etype, E_TYPE);
  store<u32>(e(n), fn, E_FN);
  store<u32>(e(n), load<u32>(KGLOBALS + KG_CURMOD), E_MOD);
  n++;
  return 0;
}

export function netisr_unregister(etype: u32): i32 {
  for (let i: u32 = 0; i < n; i++) {
    if (load<u32>(e(i), E_TYPE) == etype) {
      n = tbl_remove(table, n, ESIZE, i);
      return 0;
    }
  }
  return -ENOENT;
}

export function netisr_purge_module(modid: u32): u32 {
  const before = n;
  n = tbl_purge(table, n, ESIZE, E_MOD, modid);
  return before - n;
}

/** The handler for etype, or 0. */
@inline export function netisr_lookup(etype: u32): u32 {
  for (let i: u32 = 0; i < n; i++) if (load<u32>(e(i), E_TYPE) == etype) return load<u32>(e(i), E_FN);
  return 0;
}
