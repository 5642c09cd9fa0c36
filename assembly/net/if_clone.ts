// Interface cloners (FreeBSD net/if_clone.c): a driver module registers a name prefix with
// create and destroy handlers; "ifconfig epair create" finds the cloner by prefix and asks
// it for the lowest free unit. Clones belong to the vnet they are created in: a dying vnet
// destroys its own (the driver's VNET_SYSUNINIT does it; if_clone_vnet_destroy helps).
//
// Handlers (table slots): create(unit: u32) => usize (the first interface made, attached to
// curvnet, or 0 with if_clone_error set), destroy(ifp) => i32.

import { Ifnet, IFNAMSIZ, if_name } from "../sys/if";
import { KGLOBALS, KG_CURMOD } from "../kern/kglobals";
import { EINVAL, EEXIST, ENOSPC, ENOENT, EPERM, EBUSY } from "../sys/errno";
import { tbl_remove, tbl_purge } from "../kern/kern_table";
import { curvnet, vnet_first, vnet_next } from "../kern/vnet";
import { if_first, if_next, ifunit } from "./if";

const MAX_CLONERS: u32 = 16;
const C_PREFIX: usize = 0; // IFNAMSIZ bytes
const C_PLEN: usize = 16;
const C_CREATE: usize = 20;
const C_DESTROY: usize = 24;
const C_MOD: usize = 28;
const C_COUNT: usize = 32; // clones alive
const CSIZE: u32 = 40;
const MAX_UNIT: u32 = 32767;
const cloners = memory.data(MAX_CLONERS * CSIZE, 8);
let ncloners: u32 = 0;
let lastError: i32 = 0;

@inline function cl(i: u32): usize { return cloners + i * CSIZE; }

/** if_clone_attach: register a cloner for prefix (a string literal). */
export function if_clone_attach(prefix: string, create: u32, destroy: u32): i32 {
  const p = changetype<usize>(prefix);
  const plen = load<u32>(p - 4) >> 1;
  if (plen == 0 || plen > IFNAMSIZ - 8 || create == 0 || destroy == 0) return -EINVAL;
  if (ncloners >= MAX_CLONERS) return -ENOSPC;
  const c = cl(ncloners);
  memory.fill(c, 0, CSIZE);
  for (let i: u32 = 0; i < plen; i++) store<u8>(c + i, <u8>load<u16>(p + (<usize>i << 1)));
  if (findCloner(c, plen) != 0) return -EEXIST;
  store<u32>(c, plen, C_PLEN);
  store<u32>(c, create, C_CREATE);
  store<u32>(c, destroy, C_DESTROY);
  store<u32>(c, load<u32>(KGLOBALS + KG_CURMOD), C_MOD);
  ncloners++;
  return 0;
}

function findCloner(name: usize, plen: u32): usize {
  for (let i: u32 = 0; i < ncloners; i++) {
    const c = cl(i);
    if (load<u32>(c, C_PLEN) != plen) continue;
    let same = true;
    for (let j: u32 = 0; j < plen; j++) if (load<u8>(c + j) != load<u8>(name + j)) same = false;
    if (same) return c;
  }
  return 0;
}

/** Remove a cloner; -EBUSY while it has clones. */
export function if_clone_detach(prefix: string): i32 {
  const p = changetype<usize>(prefix);
  const plen = load<u32>(p - 4) >> 1;
  const tmp = memory.data(16);
  for (let i: u32 = 0; i < plen && i < 16; i++) store<u8>(tmp + i, <u8>load<u16>(p + (<usize>i << 1)));
  const c = findCloner(tmp, plen);
  if (c == 0) return -ENOENT;
  if (load<u32>(c, C_COUNT) != 0) return -EBUSY;
  ncloners = tbl_remove(cloners, ncloners, CSIZE, <u32>((c - cloners) / CSIZE));
  return 0;
}

/** Drop a module's cloners (its clones must be gone); returns how many. */
export function if_clone_purge_module(modid: u32): u32 {
  const before = ncloners;
  ncloners = tbl_purge(cloners, ncloners, CSIZE, C_MOD, modid);
  return before - ncloners;
}

/**
 * ifconfig NAME create in curvnet: NAME is a cloner prefix, optionally with a unit
 * ("epair", "bridge3"). Returns the first interface created, or 0 with if_clone_error().
 */
export function if_clone_create(name: usize, len: u32): usize {
  let plen = len;
  while (plen > 0 && load<u8>(name + plen - 1) >= 0x30 && load<u8>(name + plen - 1) <= 0x39) plen--;
  const c = findCloner(name, plen);
  if (c == 0) {
    lastError = -ENOENT;
    return 0;
  }
  let unit: i32 = -1;
  if (plen < len) {
    if (len - plen > 5) {
      lastError = -EINVAL;
      return 0;
    }
    unit = 0;
    for (let i = plen; i < len; i++) unit = unit * 10 + <i32>(load<u8>(name + i) - 0x30);
    if (<u32>unit > MAX_UNIT) {
      lastError = -EINVAL;
      return 0;
    }
  }
  const first: u32 = unit >= 0 ? <u32>unit : 0;
  const last: u32 = unit >= 0 ? <u32>unit : MAX_UNIT;
  for (let u = first; u <= last; u++) {
    lastError = 0;
    const ifp = call_indirect<usize>(load<u32>(c, C_CREATE), u);
    if (ifp != 0) {
      store<u32>(c, load<u32>(c, C_COUNT) + 1, C_COUNT);
      return ifp;
    }
    if (lastError != -EEXIST) return 0;
  }
  return 0;
}

/** A cloner's create handler reports why it made nothing (-EEXIST: try the next unit). */
export function if_clone_seterror(e: i32): void {
  lastError = e;
}

export function if_clone_error(): i32 {
  return lastError;
}

/** The cloner whose prefix is that of ifp's name (for marking clones). */
export function if_clone_of(prefix: string): usize {
  const p = changetype<usize>(prefix);
  const plen = load<u32>(p - 4) >> 1;
  const tmp = memory.data(16);
  for (let i: u32 = 0; i < plen && i < 16; i++) store<u8>(tmp + i, <u8>load<u16>(p + (<usize>i << 1)));
  return findCloner(tmp, plen);
}

/** ifconfig NAME destroy: the named clone in curvnet. -EPERM for interfaces not cloned (lo0). */
export function if_clone_destroy(name: usize, len: u32): i32 {
  const ifp = ifunit(name, len);
  if (ifp == 0) return -ENOENT;
  if (changetype<Ifnet>(ifp).if_cloner == 0) return -EPERM;
  return if_clone_destroy_ifp(ifp);
}

export function if_clone_destroy_ifp(ifp: usize): i32 {
  const c = changetype<Ifnet>(ifp).if_cloner;
  const r = call_indirect<i32>(load<u32>(c, C_DESTROY), ifp);
  if (r == 0) store<u32>(c, load<u32>(c, C_COUNT) - 1, C_COUNT);
  return r;
}

/**
 * Destroy every clone of cloner c that was created in curvnet, wherever it is now (a
 * driver's VNET_SYSUNINIT: clones die with their home vnet).
 */
export function if_clone_vnet_destroy(c: usize): u32 {
  if (load<u32>(c, C_COUNT) == 0) return 0; // no clone anywhere: no walk over every vnet
  // (The dying vnet is still on the live list while its uninits run.)
  const home = curvnet();
  let n: u32 = 0;
  for (let v = vnet_first(); v != 0; v = vnet_next(v)) {
    let ifp = if_first(v);
    while (ifp != 0) {
      const ii = changetype<Ifnet>(ifp);
      if (ii.if_cloner == c && ii.if_home_vnet == home && if_clone_destroy_ifp(ifp) == 0) {
        n++;
        ifp = if_first(v); // the destroy may have taken more than one interface
        continue;
      }
      ifp = if_next(ifp);
    }
  }
  return n;
}

export function if_clone_count(c: usize): u32 {
  return load<u32>(c, C_COUNT);
}
