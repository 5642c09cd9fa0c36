// The kernel's ABI as the host sees it: the exports of build/kernel.wasm the host calls.
// tests/abi.test.ts checks every member against the built Wasm (and that the host calls
// kernel.k.NAME only for a NAME declared here).

import { ConfigError } from "../lib/errors.js";

/** The kernel's exports as the host uses them (all numbers: wasm32 pointers are u32). */
export interface KernelExports {
  _start(): void;
  kern_boot(sectionBytes: number, seed: number): number;
  kern_globals(): number;
  kern_heap_top(): number;
  /** The host I/O window (frames, datagrams, addresses in and out). */
  kern_iobuf(): number;
  kmem_pages_inuse(): number;
  kmem_chunks_total(): number;
  kmem_chunks_free(): number;
  kmem_chunks_meta(): number;
  kmem_kernel_pages(): number;
  kmem_bad_frees(): number;
  /** The memory budget in 64 KiB chunks (0 = memory's own maximum). */
  kmem_set_budget(chunks: number): number;
  kmem_budget_stat(what: number): number;
  racct_set_default(bytes: number): void;
  racct_stat(what: number): number;
  vnet_set_memory_budget(v: number, bytes: number): number;
  /** sysctl net.route.multipath of vnet v: value 0 or 1 sets it, -1 reads it; returns it or -EINVAL. */
  net_route_multipath(v: number, value: number): number;
  vnet_memory_stat(v: number, what: number): number;
  vnet_pinned(v: number): number;
  zone_drain_all(): number;
  zone_first(): number;
  zone_next(z: number): number;
  zone_first_vnet(v: number): number;
  zone_stat(z: number, what: number): number;
  zone_vnet_stat(z: number, vbase: number, what: number): number;
  zone_name_ptr(z: number): number;
  vnet_alloc(): number;
  vnet_destroy(v: number): number;
  vnet_valid(v: number): number;
  vnet_count(): number;
  vnet_first(): number;
  vnet_next(v: number): number;
  vnet_vnet0(): number;
  vnet_lasterror(): number;
  vnet_bytes(v: number): number;
  vnet_zombies(): number;
  /** vnets made so far whose data block came on pages fresh from memory.grow (only the pieces holding something written). */
  vnet_fresh(): number;
  /** Where vnet v's random stream lives (16 bytes), to save and put back around draws the host undoes. */
  random_vnet_state(v: number): number;
  vnet_id(v: number): number;
  vnet_pages(v: number): number;
  vnet_base(v: number): number;
  vnet_section_size(): number;
  vnet_data_used(): number;
  sysinit_count(): number;
  kld_begin(modid: number): void;
  kld_end(): void;
  kld_purge(modid: number, lo: number, hi: number): number;
  kld_sysuninit(modid: number): number;
  kld_sysinit_count(modid: number): number;
  kld_stop(modid: number): number;
  kld_zones(modid: number): number;
  kld_items(modid: number): number;
  kld_callouts(lo: number, hi: number): number;
  kld_sockets(modid: number): number;
  leak_count(): number;
  leak_dropped(): number;
  leak_entry(i: number): number;
  leak_reset(): void;
  callout_tick(nowUs: number): number;
  callout_next(): number;
  callout_pending_count(): number;
  callout_now(): number;
  callout_stat(i: number): number;
  callout_fired_total(): number;
  callout_check(): number;
  arc4random(): number;
  /** pfil (net/pfil.ts): hooks on (head, dir) of vnet v, -1 if v is not live. */
  pfilh_count(v: number, head: number, dir: number): number;
  /** Drops (what 0) or consumptions (1) on (head, dir) of vnet v. */
  pfilh_stat(v: number, head: number, dir: number, what: number): number;
  pfil_head_registered(head: number): number;
  [name: string]: unknown;
}

/**
 * The custom section scripts/unsigned_exports.mjs writes into every binary the build makes:
 * the names, one a line, of the exported functions whose result is u32, usize or a class
 * reference in the AssemblyScript source.
 */
export const UNSIGNED_SECTION = "wavnet.unsigned";

/** The exports of `mod` whose results are unsigned (from its UNSIGNED_SECTION). */
export function unsignedExports(mod: WebAssembly.Module, what: string): Set<string> {
  const s = WebAssembly.Module.customSections(mod, UNSIGNED_SECTION);
  if (s.length !== 1) throw new ConfigError(`${what}: the binary has no "${UNSIGNED_SECTION}" section; it was not built by scripts/build.mjs (npm run build)`);
  const text = new TextDecoder().decode(s[0]);
  return new Set(text === "" ? [] : text.split("\n"));
}

/**
 * What the host calls: an instance's exports with every unsigned result read unsigned.
 * Wasm has no unsigned i32, so JavaScript receives every i32 result signed, and once kernel
 * memory passes 2 GiB an address comes back negative (a RangeError as a typed-array offset,
 * a miss as a map key, "an error" to a `< 0` test). Every function the compiler knows to be
 * unsigned is wrapped here, once per instance, so no call site has to remember `>>> 0`.
 * Modules link against the raw exports (a wrapper would put JavaScript between two Wasm
 * functions); only the host's calls go through this view.
 */
export function unsignedView<T>(mod: WebAssembly.Module, exports: WebAssembly.Exports, what: string): T {
  const names = unsignedExports(mod, what);
  const view: Record<string, unknown> = { ...exports };
  for (const name of names) {
    const f = exports[name];
    if (typeof f === "function") view[name] = unsigned(f as (...a: number[]) => number);
  }
  return Object.freeze(view) as T;
}

/** f with its result taken `>>> 0`, at f's own arity (a Wasm function's length is its parameter count). */
function unsigned(f: (...a: number[]) => number): (...a: number[]) => number {
  switch (f.length) {
    case 0: return () => f() >>> 0;
    case 1: return (a) => f(a) >>> 0;
    case 2: return (a, b) => f(a, b) >>> 0;
    case 3: return (a, b, c) => f(a, b, c) >>> 0;
    case 4: return (a, b, c, d) => f(a, b, c, d) >>> 0;
    default: return (...a) => f(...a) >>> 0;
  }
}
