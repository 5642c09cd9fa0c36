// The kernel's ABI as the host sees it: the exports of build/kernel.wasm the host calls.
// tests/abi.test.ts checks every member against the built Wasm (and that the host calls
// kernel.k.NAME only for a NAME declared here).

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
  [name: string]: unknown;
}
