// The VNET section: the talk's linker set of per-stack variables, done at run time.
//
// Every per-vnet variable has an offset in the section. The master copy holds each
// variable's initial value; vnet_alloc copies it into a new vnet's data block, so
// VNET(x) in any vnet is that vnet's base plus x's offset. The kernel declares its own
// variables at start-up (vnet_define); a module asks for space while it loads
// (vnet_data_alloc), writes its initial values into the master copy and copies them into
// every live vnet (vnet_data_copy); it frees the space on unload (vnet_data_free).

import { kmem_zalloc, kmem_free, KMEM_KERNEL_ACCT, PAGE_SIZE, PAGE_SHIFT, PAGES_PER_CHUNK } from "./kmem";
import { KGLOBALS, KG_CURMOD } from "./kglobals";
import { vnet_first, vnet_next, Vnet } from "./vnet";
import { leak_record_str, LEAK_VNET_DATA } from "./leak";
import { EINVAL, ENOSPC, EBUSY } from "../sys/errno";

export const VNET_SECTION_DEFAULT: u32 = 8192;
export const VNET_SECTION_MAX: u32 = PAGES_PER_CHUNK << PAGE_SHIFT;

// Regions in use, sorted by offset: off u32, size u32, modid u32.
const MAX_REGIONS: u32 = 512;
const REGION: u32 = 12;
const regions = memory.data(MAX_REGIONS * REGION, 4);
let nregions: u32 = 0;
let sectionSize: u32 = VNET_SECTION_DEFAULT;
let master: usize = 0;
let used: u32 = 0;

/**
 * Offset 0 of every data block holds the block's own struct vnet, so code that has only
 * a data block (a charged zone free) can find the vnet. Then the vnet's memory account
 * (kern/kern_racct.ts), at fixed offsets so a charge reaches it with one add. The header
 * is reserved before anything else.
 */
export const V_SELF: u32 = 0;
/** u32: bytes the vnet pins (its pages and its items in shared zones). */
export const V_PINNED: u32 = 4;
/** u32: its byte budget, 0 = none. */
export const V_PINLIMIT: u32 = 8;
/** u32: charges refused because of its own budget, and because it was over its fair share. */
export const V_REFUSED_OWN: u32 = 12;
export const V_REFUSED_FAIR: u32 = 16;
const V_HDR_SIZE: u32 = 24; // (20, rounded to 8)

@inline function reserveSelf(): void {
  if (nregions == 0) insertRegion(0, V_SELF, V_HDR_SIZE, 0);
}

@inline function rOff(i: u32): u32 { return load<u32>(regions + i * REGION); }
@inline function rSize(i: u32): u32 { return load<u32>(regions + i * REGION, 4); }
@inline function rMod(i: u32): u32 { return load<u32>(regions + i * REGION, 8); }

function insertRegion(at: u32, off: u32, size: u32, modid: u32): void {
  memory.copy(regions + (at + 1) * REGION, regions + at * REGION, (nregions - at) * REGION);
  store<u32>(regions + at * REGION, off);
  store<u32>(regions + at * REGION, size, 4);
  store<u32>(regions + at * REGION, modid, 8);
  nregions++;
  used += size;
}

function removeRegion(at: u32): void {
  used -= rSize(at);
  nregions--;
  memory.copy(regions + at * REGION, regions + (at + 1) * REGION, (nregions - at) * REGION);
}

/**
 * Reserve size bytes aligned to align (a power of two, at most 64) in the section, first fit.
 * Returns the offset or -ENOSPC / -EINVAL.
 */
export function vnet_data_alloc(size: u32, align: u32): i32 {
  if (size == 0 || align == 0 || align > 64 || (align & (align - 1)) != 0) return -EINVAL;
  reserveSelf();
  if (nregions >= MAX_REGIONS) return -ENOSPC;
  const limit = master != 0 ? sectionSize : VNET_SECTION_MAX;
  let prevEnd: u32 = 0;
  for (let i: u32 = 0; i <= nregions; i++) {
    const start = (prevEnd + align - 1) & ~(align - 1);
    const gapEnd = i < nregions ? rOff(i) : limit;
    if (start <= gapEnd && gapEnd - start >= size) {
      insertRegion(i, start, size, load<u32>(KGLOBALS + KG_CURMOD));
      zeroRegion(start, size);
      return <i32>start;
    }
    if (i < nregions) prevEnd = rOff(i) + rSize(i);
  }
  return -ENOSPC;
}

/**
 * vnet_data_alloc for a block whose initial value is all zeros (counters, say), placed as
 * high in the section as it fits (last fit) where vnet_data_alloc places first fit: what a
 * new vnet gets written at creation (knobs, list heads) packs into the section's low pages
 * and the zeros into its high ones, which a vnet made on fresh pages then does not touch
 * until it counts something. The region reads zero in every vnet; the caller writes
 * nothing into the master. Same results as vnet_data_alloc; freed with vnet_data_free.
 */
export function vnet_data_alloc_zero(size: u32, align: u32): i32 {
  if (master == 0) return vnet_data_alloc(size, align); // start-up: the section's end is not fixed yet
  if (size == 0 || align == 0 || align > 64 || (align & (align - 1)) != 0) return -EINVAL;
  if (nregions >= MAX_REGIONS) return -ENOSPC;
  for (let i = nregions; ; i--) {
    const gapStart = i > 0 ? rOff(i - 1) + rSize(i - 1) : 0;
    const gapEnd = i < nregions ? rOff(i) : sectionSize;
    if (gapEnd >= size) {
      const start = (gapEnd - size) & ~(align - 1);
      if (start >= gapStart) {
        insertRegion(i, start, size, load<u32>(KGLOBALS + KG_CURMOD));
        zeroRegion(start, size);
        return <i32>start;
      }
    }
    if (i == 0) break;
  }
  return -ENOSPC;
}

/**
 * A region handed out reads zero in the master copy and in every live vnet until its
 * owner writes it: vnet_alloc copies only up to vnet_data_top(), so a block's bytes past
 * the top at its creation hold whatever its pages held before (a destroyed vnet's data),
 * and a freed region keeps its last owner's bytes in the master.
 */
function zeroRegion(off: u32, size: u32): void {
  if (master == 0) return; // start-up: the master is zeroed when made, no vnet exists
  memory.fill(master + off, 0, size);
  for (let v = vnet_first(); v != 0; v = vnet_next(v)) memory.fill(changetype<Vnet>(v).base + off, 0, size);
}

/** Free a region that vnet_data_alloc returned. */
export function vnet_data_free(off: u32, size: u32): void {
  for (let i: u32 = 0; i < nregions; i++) {
    if (rOff(i) == off && rSize(i) == size) {
      removeRegion(i);
      return;
    }
  }
}

/**
 * VNET_DEFINE for the kernel itself: reserve a variable at start-up. The kernel cannot
 * run without its own variables, so running out here is a build error, not a runtime one.
 */
export function vnet_define(size: u32, align: u32): u32 {
  const off = vnet_data_alloc(size, align);
  assert(off >= 0, "kernel VNET section overflow");
  return <u32>off;
}

/** Address of offset off in the master copy (valid after boot). */
@inline export function vnet_master(off: u32): usize {
  return master + off;
}

/** Copy [off, off + size) of the master copy into every live vnet. */
export function vnet_data_copy(off: u32, size: u32): void {
  for (let v = vnet_first(); v != 0; v = vnet_next(v)) {
    memory.copy(changetype<Vnet>(v).base + off, master + off, size);
  }
}

/** Choose the section size (4 KiB multiple, at most 64 KiB); only before boot. */
export function vnet_section_set_size(bytes: u32): i32 {
  if (master != 0) return -EBUSY;
  if (bytes < PAGE_SIZE || bytes > VNET_SECTION_MAX || (bytes & (PAGE_SIZE - 1)) != 0) return -EINVAL;
  let end: u32 = 0;
  if (nregions > 0) end = rOff(nregions - 1) + rSize(nregions - 1);
  if (end > bytes) return -ENOSPC;
  sectionSize = bytes;
  return 0;
}

export function vnet_data_boot(): i32 {
  if (master != 0) return 0;
  reserveSelf();
  master = kmem_zalloc(sectionSize >> PAGE_SHIFT, KMEM_KERNEL_ACCT);
  return master != 0 ? 0 : -ENOSPC;
}

/** Free what a module left in the section; each leftover region is a recorded leak. */
export function vnet_data_purge_module(modid: u32): u32 {
  let n: u32 = 0;
  for (let i: u32 = 0; i < nregions; ) {
    if (rMod(i) == modid) {
      leak_record_str("vnet data", rSize(i), LEAK_VNET_DATA);
      removeRegion(i);
      n++;
    } else {
      i++;
    }
  }
  return n;
}

/**
 * End of the highest region in use: what vnet_alloc copies from the master copy. The bytes
 * past it in a data block are never read before a vnet_data_alloc hands them out, and
 * vnet_data_alloc writes the master's bytes into them in every live vnet (below), so a
 * new vnet leaves them alone: a page of its block nobody uses is never touched, which
 * matters where first touching memory is the dearest part of creating a vnet.
 */
export function vnet_data_top(): u32 {
  return nregions > 0 ? rOff(nregions - 1) + rSize(nregions - 1) : 0;
}

@inline export function vnet_section_size(): u32 { return sectionSize; }
@inline export function vnet_section_pages(): u32 { return sectionSize >> PAGE_SHIFT; }
export function vnet_data_used(): u32 { return used; }
export function vnet_data_regions(): u32 { return nregions; }
export function vnet_master_base(): usize { return master; }
