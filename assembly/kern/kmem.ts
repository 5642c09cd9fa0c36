// kmem: the kernel page allocator.
//
// Linear memory grows in 64 KiB Wasm pages, here called chunks. kmem takes chunks with
// memory.grow (so it never assumes it owns memory it did not grow, and lives beside any
// other user of memory.grow) and carves each into 16 pages of 4 KiB. An allocation is 1 to
// 16 contiguous pages inside one chunk, 4 KiB aligned; a 16-page allocation is a whole,
// 64 KiB aligned chunk. Every allocation is charged to an account: a u32 page counter
// (the first field of struct vnet, or the kernel's own), so pages are owned and counted.
//
// Chunk descriptors (16 bytes each) live in descriptor tables of one chunk each, found
// through a 16-entry directory: descriptor(c) = dir[c >> 12] + (c & 4095) * 16.
//
// The kernel's memory budget (kmem_set_budget, Kernel.boot({ memoryBudget })) is enforced
// here, where memory grows: linear memory never grows past it, a growth that would is
// refused and counted, and the allocation that needed it returns 0 (never a trap). Memory
// in use (what kmem does not hand out, descriptor tables, pages in use) is compared with a
// high-water mark, 3/4 of the budget; above it kern_racct.ts refuses the vnets over their
// fair share first, and hears of every change so the share shrinks as memory runs out.
// Pages charged to a vnet (acct is a struct vnet) pass its budget first.

export const PAGE_SHIFT: u32 = 12;
export const PAGE_SIZE: u32 = 1 << PAGE_SHIFT;
export const CHUNK_SHIFT: u32 = 16;
export const CHUNK_SIZE: u32 = 1 << CHUNK_SHIFT;
export const PAGES_PER_CHUNK: u32 = 16;
const ALL_FREE: u32 = 0xffff;

// Chunk states.
const CS_NONE: u16 = 0; // not kmem's (kernel static data, someone else's memory)
const CS_FREE: u16 = 1; // on the free chunk list
const CS_PARTIAL: u16 = 2; // some pages in use, on the partial list
const CS_FULL: u16 = 3; // every page in use
const CS_META: u16 = 4; // a descriptor table

// Descriptor fields.
const D_MASK: usize = 0; // u16: bit i set = page i free
const D_STATE: usize = 2; // u8
const D_TOUCHED: usize = 3; // u8: pages at this index and above were never handed out since memory.grow (still zero)
const D_NEXT: usize = 4; // u32 chunk number + 1, 0 = none
const D_PREV: usize = 8;
const D_AUX: usize = 12; // u32 for the page's user (zone slab of a whole-chunk slab)
const DESC_SHIFT: u32 = 4;
const DESCS_PER_TABLE_SHIFT: u32 = CHUNK_SHIFT - DESC_SHIFT; // 4096 descriptors
const DIR: usize = memory.data(16 * 4, 4);

import { racct_kmem_base, racct_may_charge, racct_add, racct_sub, racct_level } from "./kern_racct";

/** The kernel's own page account. */
export const KMEM_KERNEL_ACCT: usize = memory.data(8, 8);

let freeHead: u32 = 0; // chunk number + 1
let partialHead: u32 = 0;
let chunksTotal: u32 = 0; // chunks kmem took from memory.grow (data and meta)
let chunksFree: u32 = 0;
let chunksMeta: u32 = 0;
let pagesInUse: u32 = 0;
let badFrees: u32 = 0;
let growFailures: u32 = 0;
let growStep: u32 = 16;
let lastFresh: bool = false; // kmem_last_fresh
let pageLimit: u32 = 0; // 0 = only memory's own maximum
let budgetChunks: u32 = 0; // linear memory never grows past this many chunks; 0 = memory's own maximum
let budgetRefusals: u32 = 0; // growths the budget refused
let hwPages: u32 = 0xffffffff; // pages in use at which the fair-share policy starts
let pressure = false; // pagesInUse >= hwPages
let peakPages: u32 = 0;

@inline function desc(c: u32): usize {
  return load<usize>(DIR + ((<usize>(c >> DESCS_PER_TABLE_SHIFT)) << 2)) +
    ((<usize>(c & ((1 << DESCS_PER_TABLE_SHIFT) - 1))) << DESC_SHIFT);
}

function listRemove(head: u32, c: u32): u32 {
  const d = desc(c);
  const next = load<u32>(d, D_NEXT);
  const prev = load<u32>(d, D_PREV);
  if (prev != 0) store<u32>(desc(prev - 1), next, D_NEXT);
  else head = next;
  if (next != 0) store<u32>(desc(next - 1), prev, D_PREV);
  store<u32>(d, 0, D_NEXT);
  store<u32>(d, 0, D_PREV);
  return head;
}

function listPush(head: u32, c: u32): u32 {
  const d = desc(c);
  store<u32>(d, head, D_NEXT);
  store<u32>(d, 0, D_PREV);
  if (head != 0) store<u32>(desc(head - 1), c + 1, D_PREV);
  return c + 1;
}

/** Grow memory by at least one chunk; false when memory cannot grow. */
function kmemGrow(): bool {
  let n = growStep;
  if (budgetChunks != 0) {
    const have = <u32>memory.size();
    if (have >= budgetChunks) {
      budgetRefusals++;
      return false;
    }
    if (n > budgetChunks - have) n = budgetChunks - have;
  }
  let old = memory.grow(<i32>n);
  if (old < 0) {
    n = 1;
    old = memory.grow(1);
    if (old < 0) {
      growFailures++;
      return false;
    }
  }
  if (growStep < 256) growStep <<= 1;
  let first = <u32>old;
  const end = first + n;
  chunksTotal += n;
  // Every new chunk needs a descriptor table; a missing table takes the lowest new chunk
  // not yet claimed (fresh memory is zero, so its descriptors all start as CS_NONE).
  let claim = first;
  for (let c = first; c < end; c++) {
    const slot = DIR + ((<usize>(c >> DESCS_PER_TABLE_SHIFT)) << 2);
    if (load<usize>(slot) != 0) continue;
    store<usize>(slot, <usize>claim << CHUNK_SHIFT);
    store<u8>(desc(claim), <u8>CS_META, D_STATE);
    chunksMeta++;
    claim++;
  }
  for (let c = first; c < end; c++) {
    const d = desc(c);
    if (load<u8>(d, D_STATE) == CS_META) continue;
    store<u16>(d, <u16>ALL_FREE, D_MASK);
    store<u8>(d, <u8>CS_FREE, D_STATE);
    store<u8>(d, 0, D_TOUCHED);
    store<u32>(d, 0, D_AUX);
    freeHead = listPush(freeHead, c);
    chunksFree++;
  }
  setHighWater(); // the memory kmem does not hand out may have grown (a descriptor table)
  return true;
}

/** Bytes of linear memory that are not kmem pages to hand out: static data, module windows, descriptor tables. */
@inline function overheadBytes(): u64 {
  return (<u64>(<u32>memory.size() - chunksTotal + chunksMeta)) << CHUNK_SHIFT;
}

@inline function inUseBytes(): f64 {
  return <f64>(overheadBytes() + (<u64>pagesInUse << PAGE_SHIFT));
}

/** hwPages: pages in use at which memory in use reaches 3/4 of the budget. */
function setHighWater(): void {
  if (budgetChunks == 0) {
    hwPages = 0xffffffff;
  } else {
    const hw = <u64>kmem_highwater();
    const over = overheadBytes();
    hwPages = hw > over ? <u32>((hw - over) >> PAGE_SHIFT) : 0;
  }
  pressure = pagesInUse >= hwPages;
  racct_level(inUseBytes());
}

function takeFreeChunk(): i64 {
  while (freeHead == 0) {
    if (!kmemGrow()) return -1;
  }
  const c = freeHead - 1;
  freeHead = listRemove(freeHead, c);
  chunksFree--;
  return c;
}

/** First page index of a run of n free pages in mask, or -1. */
@inline function findRun(mask: u32, n: u32): i32 {
  const want: u32 = ((1 << n) - 1);
  for (let i: u32 = 0; i + n <= PAGES_PER_CHUNK; i++) {
    if (((mask >> i) & want) == want) return <i32>i;
  }
  return -1;
}

/**
 * Allocate npages (1..16) contiguous 4 KiB pages charged to acct. Returns the address,
 * or 0 when npages is out of range, the page limit is reached, or memory cannot grow.
 */
export function kmem_alloc(npages: u32, acct: usize): usize {
  if (npages == 0 || npages > PAGES_PER_CHUNK) return 0;
  if (pageLimit != 0 && pagesInUse + npages > pageLimit) return 0;
  // A vnet's pages count against its budget (and its fair share under pressure).
  const vb = acct != KMEM_KERNEL_ACCT ? racct_kmem_base(acct) : 0;
  if (vb != 0 && !racct_may_charge(vb, npages << PAGE_SHIFT)) return 0;
  let c: u32 = 0;
  let first: i32 = -1;
  if (npages < PAGES_PER_CHUNK) {
    // A bounded look at partially used chunks keeps this O(1).
    let p = partialHead;
    for (let tries = 0; p != 0 && tries < 8; tries++) {
      const d = desc(p - 1);
      first = findRun(<u32>load<u16>(d, D_MASK), npages);
      if (first >= 0) {
        c = p - 1;
        break;
      }
      p = load<u32>(d, D_NEXT);
    }
  }
  if (first < 0) {
    const got = takeFreeChunk();
    if (got < 0) return 0;
    c = <u32>got;
    first = 0;
    if (npages < PAGES_PER_CHUNK) {
      store<u8>(desc(c), <u8>CS_PARTIAL, D_STATE);
      partialHead = listPush(partialHead, c);
    } else {
      store<u8>(desc(c), <u8>CS_FULL, D_STATE);
    }
  }
  const d = desc(c);
  const touched = <u32>load<u8>(d, D_TOUCHED);
  lastFresh = <u32>first >= touched;
  if (<u32>first + npages > touched) store<u8>(d, <u8>(<u32>first + npages), D_TOUCHED);
  const bits: u32 = ((1 << npages) - 1) << <u32>first;
  const mask = (<u32>load<u16>(d, D_MASK)) & ~bits;
  store<u16>(d, <u16>mask, D_MASK);
  if (mask == 0 && load<u8>(d, D_STATE) == CS_PARTIAL) {
    partialHead = listRemove(partialHead, c);
    store<u8>(d, <u8>CS_FULL, D_STATE);
  }
  pagesInUse += npages;
  if (pagesInUse > peakPages) peakPages = pagesInUse;
  if (pagesInUse >= hwPages) {
    pressure = true;
    racct_level(inUseBytes());
  }
  store<u32>(acct, load<u32>(acct) + npages);
  if (vb != 0) racct_add(vb, npages << PAGE_SHIFT);
  return (<usize>c << CHUNK_SHIFT) + ((<usize>first) << PAGE_SHIFT);
}

/**
 * True if the pages the last successful kmem_alloc returned were never handed out before
 * since memory.grow made them, so they still hold zeros. Pages first touched are the dear
 * part of making a vnet where the host backs memory lazily (a VM faulting each new page in):
 * a caller that only needs zeros can then skip writing them.
 */
@inline export function kmem_last_fresh(): bool { return lastFresh; }

/** Allocate and zero (pages fresh from memory.grow are zero already and stay untouched). */
export function kmem_zalloc(npages: u32, acct: usize): usize {
  const p = kmem_alloc(npages, acct);
  if (p != 0 && !lastFresh) memory.fill(p, 0, <usize>npages << PAGE_SHIFT);
  return p;
}

/**
 * Return npages at addr to kmem and uncharge acct. A free that does not match an
 * allocation (wrong alignment, pages already free, not kmem's memory) is counted and ignored.
 */
export function kmem_free(addr: usize, npages: u32, acct: usize): void {
  if (npages == 0 || npages > PAGES_PER_CHUNK || (addr & (PAGE_SIZE - 1)) != 0) {
    badFrees++;
    return;
  }
  const c = <u32>(addr >> CHUNK_SHIFT);
  const first = <u32>((addr >> PAGE_SHIFT) & (PAGES_PER_CHUNK - 1));
  if (first + npages > PAGES_PER_CHUNK || load<usize>(DIR + ((<usize>(c >> DESCS_PER_TABLE_SHIFT)) << 2)) == 0) {
    badFrees++;
    return;
  }
  const d = desc(c);
  const state = load<u8>(d, D_STATE);
  const bits: u32 = ((1 << npages) - 1) << first;
  const mask = <u32>load<u16>(d, D_MASK);
  if ((state != CS_PARTIAL && state != CS_FULL) || (mask & bits) != 0) {
    badFrees++;
    return;
  }
  const nmask = mask | bits;
  store<u16>(d, <u16>nmask, D_MASK);
  pagesInUse -= npages;
  if (pressure) {
    pressure = pagesInUse >= hwPages;
    racct_level(inUseBytes());
  }
  store<u32>(acct, load<u32>(acct) - npages);
  if (acct != KMEM_KERNEL_ACCT) {
    const vb = racct_kmem_base(acct);
    if (vb != 0) racct_sub(vb, npages << PAGE_SHIFT);
  }
  if (nmask == ALL_FREE) {
    if (state == CS_PARTIAL) partialHead = listRemove(partialHead, c);
    store<u8>(d, <u8>CS_FREE, D_STATE);
    store<u32>(d, 0, D_AUX);
    freeHead = listPush(freeHead, c);
    chunksFree++;
  } else if (state == CS_FULL) {
    store<u8>(d, <u8>CS_PARTIAL, D_STATE);
    partialHead = listPush(partialHead, c);
  }
}

/** The per-chunk word a page user may keep (a whole-chunk slab's header). */
export function kmem_chunk_aux(addr: usize): u32 {
  const c = <u32>(addr >> CHUNK_SHIFT);
  // Any address may come here (a bad free): no descriptor table means no aux word.
  if (load<usize>(DIR + ((<usize>(c >> DESCS_PER_TABLE_SHIFT)) << 2)) == 0) return 0;
  return load<u32>(desc(c), D_AUX);
}

export function kmem_set_chunk_aux(addr: usize, v: u32): void {
  store<u32>(desc(<u32>(addr >> CHUNK_SHIFT)), v, D_AUX);
}

/** Cap the pages kmem hands out (0 = no cap but memory's own). */
export function kmem_set_limit(pages: u32): void {
  pageLimit = pages;
}

/**
 * The kernel's memory budget in 64 KiB chunks of linear memory (0 = memory's own maximum,
 * 4 GiB). Memory already grown stays; kmem only stops growing past it.
 */
export function kmem_set_budget(chunks: u32): i32 {
  if (chunks > 65536) return -22; // EINVAL: wasm32 has 65536 pages
  budgetChunks = chunks;
  setHighWater();
  return 0;
}

/** The high-water mark in bytes of memory in use: 3/4 of the budget (0 without one). */
@inline export function kmem_highwater(): f64 {
  return <f64>((<u64>budgetChunks << CHUNK_SHIFT) >> 2) * 3;
}

/** True while memory in use is at or above the high-water mark. */
@inline export function kmem_pressure(): bool {
  return pressure;
}

// Field numbers of kmem_budget_stat, mirrored by host/kern/kernel.ts.
export const KB_BUDGET: u32 = 0; // bytes, 0 = none
export const KB_INUSE: u32 = 1; // bytes: overhead + pages in use
export const KB_PEAK: u32 = 2; // bytes: overhead + the most pages ever in use
export const KB_REFUSED: u32 = 3; // growths the budget refused
export const KB_HIGHWATER: u32 = 4; // bytes in use at which the fair-share policy starts, 0 = none
export const KB_PRESSURE: u32 = 5; // 1 while at or above it

/** One figure of the memory budget (KB_*), in bytes or counts. */
export function kmem_budget_stat(what: u32): f64 {
  const over = <f64>overheadBytes();
  switch (what) {
    case KB_BUDGET: return <f64>(<u64>budgetChunks << CHUNK_SHIFT);
    case KB_INUSE: return over + <f64>(<u64>pagesInUse << PAGE_SHIFT);
    case KB_PEAK: return over + <f64>(<u64>peakPages << PAGE_SHIFT);
    case KB_REFUSED: return <f64>budgetRefusals;
    case KB_HIGHWATER: return budgetChunks == 0 ? 0 : over + <f64>(<u64>hwPages << PAGE_SHIFT);
    case KB_PRESSURE: return pressure ? 1 : 0;
  }
  return -1;
}

// Figures for vmstat-like reports.
export function kmem_pages_inuse(): u32 { return pagesInUse; }
export function kmem_chunks_total(): u32 { return chunksTotal; }
export function kmem_chunks_free(): u32 { return chunksFree; }
export function kmem_chunks_meta(): u32 { return chunksMeta; }
export function kmem_bad_frees(): u32 { return badFrees; }
export function kmem_grow_failures(): u32 { return growFailures; }
