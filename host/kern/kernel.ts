// The host side of a wavnet kernel: instantiate the kernel module over one Memory and one
// Table, boot it, create and destroy vnets, load modules, report accounting.

import { VirtualClock, RealClock, type Clock } from "./clock.js";
import {
  KernelError, KernelPanic, VnetGoneError, LeakError, ConfigError, Errno, type LeakEntry,
} from "../lib/errors.js";
import { ModuleLinker, type ModuleSource, type KldStat, type KldStatVerbose, type KldUnloadOptions } from "./linker.js";
import { loadLinkMap, type LinkMap } from "./linkmap.js";
import { platform } from "../lib/platform.js";
import { urlModuleSource, packageBuildUrl } from "./source.js";
import { formatTable, show } from "../lib/format.js";
import { integerArg } from "../lib/check.js";
import { unsignedView, type KernelExports } from "./abi.js";
export type { KernelExports } from "./abi.js";

const ZS = { size: 0, limit: 1, inuse: 2, peak: 3, allocs: 4, frees: 5, fails: 6, slabs: 7, pagesPerSlab: 8, itemsPerSlab: 9, flags: 10, modid: 11, owner: 12, badfrees: 13 };
/** Figures of kmem_budget_stat, as assembly/kern/kmem.ts numbers them (KB_*). */
const KB = { BUDGET: 0, INUSE: 1, PEAK: 2, REFUSED: 3, HIGHWATER: 4 };
/** Figures of vnet_memory_stat, as assembly/kern/kern_racct.ts numbers them (RV_*). */
const RV = { PINNED: 0, LIMIT: 1, REFUSED_OWN: 2, REFUSED_FAIR: 3 };
/** Figures of racct_stat, as assembly/kern/kern_racct.ts numbers them (RS_*). */
const RS = { FAIR_SHARE: 0, REFUSED_OWN: 1, REFUSED_FAIR: 2 };
const ZONE_VNET = 1;
const ZONE_CHARGE = 2;
const LEAK_KINDS: LeakEntry["kind"][] = ["items", "pages", "callouts", "zone", "vnet data"];
/** For cstring's names that are not ASCII. */
const utf8 = new TextDecoder();
export const PAGE_SIZE = 4096;

/**
 * Something of the host's that kernel state feeds: captures (their rings), the socket
 * registry (the event ring), wires such as VXLAN sockets (output rings). Drained after
 * every kernel entry and clock tick, in rank order; closed when the kernel shuts down.
 * Features attach themselves, so the kernel names none of them.
 */
export interface HostPort {
  drain(): void;
  /** Stop for good (the kernel shuts down); must not enter the kernel. */
  close(): void;
}

/** Drain order: captures see frames first, then socket events, then wires send what was queued. */
export const PORT_RANK = { capture: 0, sockets: 1, wire: 2 } as const;

export interface BootOptions {
  /** A kernel configuration from the link map (BARE, GENERIC, DEMO, ...) or a module list. */
  config?: string | string[];
  /** "virtual" (default: deterministic, driven by advance()) or "real", or a Clock. */
  clock?: "virtual" | "real" | Clock;
  /** Seed of the kernel's random numbers (default 1). */
  seed?: number;
  /** Size of every vnet's data block (VNET section), 4 KiB multiple, default 8192. */
  vnetSectionBytes?: number;
  /**
   * The kernel's memory budget in bytes (default 2 GiB, at least 16 MiB, at most 4 GiB,
   * rounded down to 64 KiB): linear memory never grows past it, and from 3/4 of it on, a
   * vnet over its fair share (3/4 of the budget / live vnets) is refused memory first.
   */
  memoryBudget?: number;
  /** Byte budget of every vnet (pages plus buffers charged to it), default 64 MiB; 0 = none. Vnet.setMemoryBudget changes one. */
  vnetMemoryBudget?: number;
  /**
   * Where module and kernel binaries come from: bytesModuleSource, urlModuleSource, or Node's
   * nodeModuleSource. Default: build/ on disk in Node, the package's build/ by URL elsewhere.
   */
  source?: ModuleSource;
}

export interface ZoneRow {
  name: string;
  size: number;
  limit: number;
  used: number;
  peak: number;
  allocs: number;
  frees: number;
  fails: number;
  slabs: number;
  pages: number;
  owner: "kernel" | "vnet" | "charged";
  module: string;
}

export interface Accounting {
  /** kmem pages (4 KiB) in use in the whole kernel. */
  pagesInUse: number;
  /** The memory budget (bytes): linear memory never grows past it. */
  memoryBudget: number;
  /** Bytes in use: memory kmem does not hand out (static data, module windows, its tables) plus pages in use. */
  memoryInUse: number;
  /** The most memoryInUse has been. */
  memoryPeak: number;
  /** memoryInUse at which vnets over their fair share are refused first (3/4 of the budget). */
  memoryHighWater: number;
  /** Bytes a vnet may pin while memoryInUse is above high water: high water / live vnets. */
  fairShare: number;
  /** Refusals: growths past the budget, charges past a vnet's own budget, charges past a fair share under pressure. */
  memoryRefusals: { budget: number; vnetBudget: number; fairShare: number };
  /** Pages charged to the kernel itself (zone slabs of shared zones, master copy). */
  kernelPages: number;
  /** 64 KiB chunks kmem took from memory.grow, and how many are free. */
  chunks: number;
  chunksFree: number;
  memoryBytes: number;
  vnets: number;
  /** Destroyed vnets kept until items charged to them in shared zones come back. */
  zombies: number;
  vnetSectionBytes: number;
  vnetSectionUsed: number;
  sysinits: number;
}

/** What a vnet owns now: pages, bytes (pages, struct, charged items), items per charged zone. */
export interface VnetAccounting {
  /** Pages charged to it (data block, its own zones, its tables); not its packets. */
  pages: number;
  bytes: number;
  items: Record<string, number>;
  /** Bytes it pins: its pages and its items in shared zones (mbufs, clusters, sockets), as its budget counts them. */
  pinnedBytes: number;
  /** Its byte budget (0 = none). */
  memoryBudget: number;
  /** Charges refused: past its own budget, past its fair share while the kernel was above high water. */
  refusals: { budget: number; fairShare: number };
}

const GiB = 1024 * 1024 * 1024;
const MiB = 1024 * 1024;
/** Default kernel memory budget: half of wasm32's 4 GiB, so addresses stay below 2^31. */
export const DEFAULT_MEMORY_BUDGET = 2 * GiB;
export const DEFAULT_VNET_MEMORY_BUDGET = 64 * MiB;

export class Vnet {
  #alive = true;
  constructor(
    /** The kernel this vnet lives in. */
    readonly kernel: Kernel,
    /** struct vnet address in kernel memory. */
    readonly ptr: number,
    readonly id: number,
    readonly name: string,
  ) {}

  get alive(): boolean {
    return this.#alive;
  }

  /** Data block base (this vnet's copy of the VNET section). */
  get base(): number {
    this.check("base");
    return this.kernel.k.vnet_base(this.ptr);
  }

  /** @internal throws VnetGoneError once the vnet was destroyed. */
  check(what: string): void {
    if (!this.#alive) throw new VnetGoneError(`${what}: vnet ${this.id} ("${this.name}") was destroyed`);
  }

  /** Tear the vnet down (checkpoints: stop, clean up, go away). Throws LeakError if it owned anything at the end. */
  destroy(): void {
    this.check("destroy");
    this.kernel.destroyVnet(this);
  }

  /** @internal */
  markGone(): void {
    this.#alive = false;
  }

  accounting(): VnetAccounting {
    this.check("accounting");
    return this.kernel.vnetAccounting(this);
  }

  /** Its byte budget: pages plus buffers charged to it (0 = none); a charge past it is refused and counted. */
  setMemoryBudget(bytes: number): void {
    this.check("setMemoryBudget");
    integerArg("setMemoryBudget: bytes", bytes, 0, 0xffffffff);
    const r = this.kernel.k.vnet_set_memory_budget(this.ptr, bytes);
    if (r !== 0) throw new KernelError("setMemoryBudget", r);
  }

  vmstatZ(): ZoneRow[] {
    this.check("vmstat -z");
    return this.kernel.vmstatZ(this);
  }
}

/** @internal k as the first argument of a function of the host API: a Kernel, or a ConfigError that says so. */
export function checkKernel(k: unknown, what: string): Kernel {
  if (!(k instanceof Kernel)) throw new ConfigError(`${what}: expected a Kernel, got ${show(k)}`);
  return k;
}

/**
 * @internal v as an argument of a call on `kernel`, checked before anything changes: a Vnet
 * (ConfigError otherwise), of this kernel (a handle from another kernel names another
 * memory's vnet: ConfigError), alive (VnetGoneError).
 */
export function checkVnet(kernel: Kernel, v: unknown, what: string): Vnet {
  checkKernel(kernel, what);
  if (!(v instanceof Vnet)) throw new ConfigError(`${what}: expected a Vnet, got ${show(v)}`);
  if (v.kernel !== kernel) throw new ConfigError(`${what}: vnet "${v.name}" belongs to another kernel`);
  v.check(what);
  return v;
}

export class Kernel {
  readonly memory: WebAssembly.Memory;
  readonly table: WebAssembly.Table;
  /** The kernel's exports as the host calls them: unsigned results read unsigned (abi.ts unsignedView). */
  readonly k: KernelExports;
  /** @internal the instance's own exports, what modules link against (host calls use k). */
  readonly raw: WebAssembly.Exports;
  readonly clock: Clock;
  readonly linkmap: LinkMap;
  readonly linker: ModuleLinker;
  readonly vnet0: Vnet;
  readonly config: string[];
  private readonly byPtr = new Map<number, Vnet>();
  private readonly names = new Set<string>();
  private nextName = 1;
  private view: DataView;
  private shut = false;
  private readonly bootWallUs = Math.round(Date.now() * 1000);
  /** Host ports in drain order (PORT_RANK), and the rank of each. */
  private ports: HostPort[] = [];
  private readonly portRanks = new Map<HostPort, number>();

  private constructor(inst: WebAssembly.Instance, k: KernelExports, memory: WebAssembly.Memory, table: WebAssembly.Table, clock: Clock, linkmap: LinkMap, source: ModuleSource, config: string[]) {
    this.memory = memory;
    this.table = table;
    this.k = k;
    this.raw = inst.exports;
    this.clock = clock;
    this.linkmap = linkmap;
    this.config = config;
    this.view = new DataView(memory.buffer);
    this.linker = new ModuleLinker(this, source);
    this.vnet0 = new Vnet(this, this.k.vnet_vnet0(), 0, "vnet0");
    this.byPtr.set(this.vnet0.ptr, this.vnet0);
    this.names.add("vnet0");
  }

  static async boot(opts: BootOptions = {}): Promise<Kernel> {
    const linkmap = loadLinkMap();
    // Default: the platform's (Node: build/ on disk), else the package's build/ by URL.
    const source = opts.source ?? platform().defaultModuleSource?.() ?? urlModuleSource(packageBuildUrl());
    const config = resolveConfig(linkmap, opts.config ?? "GENERIC");
    const section = opts.vnetSectionBytes ?? 8192;
    const seed = opts.seed ?? 1;
    if (!Number.isSafeInteger(seed) || seed < 0) throw new ConfigError(`boot: seed must be a non-negative integer, got ${seed}`);
    const clock = typeof opts.clock === "object" ? opts.clock : opts.clock === "real" ? new RealClock() : new VirtualClock();
    if (opts.clock !== undefined && typeof opts.clock !== "object" && opts.clock !== "real" && opts.clock !== "virtual") {
      throw new ConfigError(`boot: clock must be "virtual", "real" or a Clock, got ${show(opts.clock)}`);
    }
    const budget = integerArg("boot: memoryBudget", opts.memoryBudget ?? DEFAULT_MEMORY_BUDGET, 16 * MiB, 4 * GiB, " bytes (16 MiB to 4 GiB)");
    const vnetBudget = integerArg("boot: vnetMemoryBudget", opts.vnetMemoryBudget ?? DEFAULT_VNET_MEMORY_BUDGET, 0, 0xffffffff, " bytes");
    const memory = new WebAssembly.Memory({ initial: linkmap.initialPages });
    const table = new WebAssembly.Table({ initial: linkmap.tableSlots, element: "anyfunc" });
    let self: Kernel | undefined;
    const abort = (msg: number, file: number, line: number, col: number) => {
      // Wasm passes i32 arguments signed too: addresses are read unsigned.
      const m = readAsString(memory, msg >>> 0);
      const f = readAsString(memory, file >>> 0);
      throw new KernelPanic(`kernel abort: ${m} at ${f}:${line}:${col}`);
    };
    const mod = await source.kernel();
    const inst = await WebAssembly.instantiate(mod, { env: { memory, table, abort } });
    const k = unsignedView<KernelExports>(mod, inst.exports, "kernel");
    k._start();
    k.kmem_set_budget(Math.floor(budget / 65536));
    const r = k.kern_boot(section, seed);
    if (r !== 0) {
      if (-r === Errno.EINVAL || -r === Errno.ENOSPC) throw new ConfigError(`boot: vnetSectionBytes ${section} is not a 4 KiB multiple between 4096 and 65536 that holds the kernel's own per-vnet variables`);
      throw new KernelError("boot", r);
    }
    const top = k.kern_heap_top();
    if (top >= linkmap.kernel.staticLimit) throw new KernelPanic(`kernel static data ends at ${top}, past its link-map limit ${linkmap.kernel.staticLimit}`);
    k.racct_set_default(vnetBudget);
    k.vnet_set_memory_budget(k.vnet_vnet0(), vnetBudget);
    self = new Kernel(inst, k, memory, table, clock, linkmap, source, config);
    clock.attach({
      tick: (now) => {
        const n = self!.k.callout_tick(now);
        self!.drainPorts();
        return n;
      },
      next: () => self!.k.callout_next(),
    });
    for (const name of config) await self.kldload(name);
    return self;
  }

  /** A DataView over kernel memory, re-made when memory has grown. */
  dv(): DataView {
    if (this.view.buffer !== this.memory.buffer) this.view = new DataView(this.memory.buffer);
    return this.view;
  }

  /** Run a kernel entry: traps become KernelPanic, and the clock hears of new deadlines. */
  enter<T>(fn: () => T): T {
    if (this.shut) throw new KernelError("kernel was shut down", Errno.EINVAL);
    try {
      // On a real clock the kernel learns the time at every entry (timestamps, timers due).
      if (this.clock.kind === "real") this.k.callout_tick(this.clock.now());
      return fn();
    } catch (e) {
      if (e instanceof WebAssembly.RuntimeError) throw new KernelPanic(`kernel trap: ${e.message}`);
      throw e;
    } finally {
      this.leave();
    }
  }

  /**
   * enter() for one exported kernel function with number arguments, without a closure per
   * call (a closure per call cost the socket calls' hot path about a seventh of a TCP
   * connect-accept-close loop): the same checks, trap conversion, drains and clock kick.
   */
  call(fn: (a: number, b: number, c: number, d: number) => number, a = 0, b = 0, c = 0, d = 0): number {
    if (this.shut) throw new KernelError("kernel was shut down", Errno.EINVAL);
    try {
      if (this.clock.kind === "real") this.k.callout_tick(this.clock.now());
      return fn(a, b, c, d);
    } catch (e) {
      if (e instanceof WebAssembly.RuntimeError) throw new KernelPanic(`kernel trap: ${e.message}`);
      throw e;
    } finally {
      this.leave();
    }
  }

  /**
   * After every kernel entry: captures, socket events and host ports drained (a send() may
   * have put frames in a VXLAN ring: they leave now, not at the next entry or clock tick),
   * and the clock told of new deadlines.
   */
  private leave(): void {
    this.drainPorts();
    this.clock.kick();
  }

  /** @internal */
  drainPorts(): void {
    const ps = this.ports; // an array, not a Set: no iterator on every kernel entry
    for (let i = 0; i < ps.length; i++) ps[i].drain();
  }

  /** Attach a host port: drained after every kernel entry (in rank order), closed at shutdown. */
  attachPort(p: HostPort, rank: number = PORT_RANK.wire): void {
    if (this.portRanks.has(p)) return;
    this.portRanks.set(p, rank);
    // A new array, so a drain in progress keeps the list it started with.
    const next = [...this.ports, p];
    next.sort((a, b) => this.portRanks.get(a)! - this.portRanks.get(b)!);
    this.ports = next;
  }

  detachPort(p: HostPort): void {
    if (!this.portRanks.delete(p)) return;
    this.ports = this.ports.filter((q) => q !== p);
  }

  /**
   * µs to add to kernel time for wall-clock timestamps: the boot time for a real clock; a
   * fixed 2000-01-01 for a virtual one, so captures of a seeded run are identical.
   */
  epochUs(): number {
    return this.clock.kind === "real" ? this.bootWallUs : 946_684_800_000_000;
  }

  /** Create a vnet: allocate, copy the VNET section, run every sysinit. */
  createVnet(name?: string): Vnet {
    if (name !== undefined) {
      if (typeof name !== "string" || !/^[A-Za-z0-9_.-]{1,64}$/.test(name)) throw new ConfigError(`createVnet: name must be 1-64 of [A-Za-z0-9_.-], got ${show(name)}`);
      if (this.names.has(name)) throw new ConfigError(`createVnet: a vnet named "${name}" exists`);
    }
    const ptr = this.enter(() => this.k.vnet_alloc());
    if (ptr === 0) throw new KernelError("createVnet", this.k.vnet_lasterror());
    const id = this.k.vnet_id(ptr);
    let n = name;
    while (n === undefined || this.names.has(n)) n = `vnet${this.nextName++}`;
    const v = new Vnet(this, ptr, id, n);
    this.byPtr.set(ptr, v);
    this.names.add(n);
    return v;
  }

  /** @internal use Vnet.destroy() */
  destroyVnet(v: Vnet): void {
    if (v === this.vnet0) throw new KernelError("destroy vnet0: the base system vnet lives as long as the kernel", Errno.EPERM);
    this.k.leak_reset();
    const r = this.enter(() => this.k.vnet_destroy(v.ptr));
    if (r < 0) throw new KernelError(`destroy vnet ${v.id} ("${v.name}")`, r);
    v.markGone();
    this.byPtr.delete(v.ptr);
    this.names.delete(v.name);
    if (r > 0) throw new LeakError(`vnet ${v.id} ("${v.name}")`, this.readLeaks());
  }

  /** @internal the handle of a live vnet by struct vnet address. */
  vnetByPtr(ptr: number): Vnet {
    const v = this.byPtr.get(ptr);
    if (!v) throw new KernelError(`no live vnet at 0x${ptr.toString(16)}`, Errno.EINVAL);
    return v;
  }

  vnetByPtrOrUndefined(ptr: number): Vnet | undefined {
    return this.byPtr.get(ptr);
  }

  vnets(): Vnet[] {
    const out: Vnet[] = [];
    for (let p = this.k.vnet_first(); p !== 0; p = this.k.vnet_next(p)) {
      const v = this.byPtr.get(p);
      if (v) out.push(v);
    }
    return out;
  }

  /** @internal the leak table the last teardown filled. */
  readLeaks(): LeakEntry[] {
    const out: LeakEntry[] = [];
    const n = this.k.leak_count();
    const dv = this.dv();
    for (let i = 0; i < n; i++) {
      const e = this.k.leak_entry(i);
      out.push({ name: this.cstring(e, 24), count: dv.getUint32(e + 24, true), kind: LEAK_KINDS[dv.getUint32(e + 28, true)] ?? "items" });
    }
    const dropped = this.k.leak_dropped();
    if (dropped > 0) out.push({ name: `(${dropped} more not recorded)`, count: dropped, kind: "items" });
    return out;
  }

  cstring(ptr: number, max: number): string {
    // Names are short and ASCII (interfaces, zones): read byte by byte, without a
    // TextDecoder made per call (3x the cost in cold code; a 100-node lab reads ~1,500).
    const bytes = new Uint8Array(this.memory.buffer, ptr, max);
    let s = "";
    for (let i = 0; i < max; i++) {
      const c = bytes[i]!;
      if (c === 0) return s;
      if (c >= 0x80) {
        const end = bytes.indexOf(0, i);
        return utf8.decode(bytes.subarray(0, end < 0 ? max : end));
      }
      s += String.fromCharCode(c);
    }
    return s;
  }

  private zoneRow(z: number, owner: ZoneRow["owner"]): ZoneRow {
    const s = (w: number) => this.k.zone_stat(z, w);
    const modid = s(ZS.modid);
    return {
      name: this.cstring(this.k.zone_name_ptr(z), 24),
      size: s(ZS.size),
      limit: s(ZS.limit),
      used: s(ZS.inuse),
      peak: s(ZS.peak),
      allocs: s(ZS.allocs),
      frees: s(ZS.frees),
      fails: s(ZS.fails),
      slabs: s(ZS.slabs),
      pages: s(ZS.slabs) * s(ZS.pagesPerSlab),
      owner,
      module: modid === 0 ? "kernel" : this.linker.nameOf(modid) ?? `module ${modid}`,
    };
  }

  /**
   * vmstat -z: the kernel's zones, or with a vnet, the zones that vnet owns plus its share
   * (items charged, its limit and failures) of every charged zone.
   */
  vmstatZ(vnet?: Vnet): ZoneRow[] {
    const rows: ZoneRow[] = [];
    if (vnet !== undefined) checkVnet(this, vnet, "vmstat -z");
    if (!vnet) {
      for (let z = this.k.zone_first(); z !== 0; z = this.k.zone_next(z)) {
        rows.push(this.zoneRow(z, this.k.zone_stat(z, ZS.flags) & ZONE_CHARGE ? "charged" : "kernel"));
      }
      return rows;
    }
    const base = this.k.vnet_base(vnet.ptr);
    for (let z = this.k.zone_first(); z !== 0; z = this.k.zone_next(z)) {
      if (!(this.k.zone_stat(z, ZS.flags) & ZONE_CHARGE)) continue;
      const row = this.zoneRow(z, "charged");
      row.used = this.k.zone_vnet_stat(z, base, 0);
      row.limit = this.k.zone_vnet_stat(z, base, 1);
      row.fails = this.k.zone_vnet_stat(z, base, 2);
      row.peak = this.k.zone_vnet_stat(z, base, 3);
      row.allocs = row.frees = row.slabs = row.pages = 0;
      rows.push(row);
    }
    for (let z = this.k.zone_first_vnet(vnet.ptr); z !== 0; z = this.k.zone_next(z)) {
      if (this.k.zone_stat(z, ZS.flags) & ZONE_VNET) rows.push(this.zoneRow(z, "vnet"));
    }
    return rows;
  }

  vnetAccounting(v: Vnet): VnetAccounting {
    const items: Record<string, number> = {};
    for (const row of this.vmstatZ(v)) if (row.used > 0) items[row.name] = (items[row.name] ?? 0) + row.used;
    const m = (w: number) => this.k.vnet_memory_stat(v.ptr, w);
    return {
      pages: this.k.vnet_pages(v.ptr), bytes: this.k.vnet_bytes(v.ptr), items,
      pinnedBytes: m(RV.PINNED), memoryBudget: m(RV.LIMIT),
      refusals: { budget: m(RV.REFUSED_OWN), fairShare: m(RV.REFUSED_FAIR) },
    };
  }

  accounting(): Accounting {
    const b = (w: number) => this.k.kmem_budget_stat(w);
    const share = this.k.racct_stat(RS.FAIR_SHARE);
    return {
      pagesInUse: this.k.kmem_pages_inuse(),
      memoryBudget: b(KB.BUDGET),
      memoryInUse: b(KB.INUSE),
      memoryPeak: b(KB.PEAK),
      memoryHighWater: b(KB.HIGHWATER),
      fairShare: share === 0xffffffff ? Infinity : share,
      memoryRefusals: { budget: b(KB.REFUSED), vnetBudget: this.k.racct_stat(RS.REFUSED_OWN), fairShare: this.k.racct_stat(RS.REFUSED_FAIR) },
      kernelPages: this.k.kmem_kernel_pages(),
      chunks: this.k.kmem_chunks_total(),
      chunksFree: this.k.kmem_chunks_free(),
      memoryBytes: this.memory.buffer.byteLength,
      vnets: this.k.vnet_count(),
      zombies: this.k.vnet_zombies(),
      vnetSectionBytes: this.k.vnet_section_size(),
      vnetSectionUsed: this.k.vnet_data_used(),
      sysinits: this.k.sysinit_count(),
    };
  }

  /** uma_reclaim: return every zone's cached empty slabs to kmem; returns pages freed. */
  reclaim(): number {
    return this.enter(() => this.k.zone_drain_all());
  }

  /** The runtime heap's top; it must never move after boot (no managed allocation). */
  heapTop(): number {
    return this.k.kern_heap_top();
  }

  kldload(name: string): Promise<void> {
    return this.linker.kldload(name);
  }

  /**
   * Unload a module (docs/ARCHITECTURE.md "Modules"): refused while a loaded module depends
   * on it, or while it is in use unless `force`; a forced unload passes the three teardown
   * checkpoints (stop new work, clean up, go away), each reported to `onCheckpoint`.
   */
  kldunload(name: string, opts: KldUnloadOptions = {}): void {
    this.linker.kldunload(name, opts);
  }

  /** The first teardown checkpoint alone: the module stays loaded, "quiescing" (refuses new work). */
  kldstop(name: string): void {
    this.linker.kldstop(name);
  }

  kldstat(): KldStat[];
  kldstat(opts: { verbose: true }): KldStatVerbose[];
  kldstat(opts: { verbose?: boolean }): KldStat[] | KldStatVerbose[];
  kldstat(opts: { verbose?: boolean } = {}): KldStat[] | KldStatVerbose[] {
    return opts.verbose ? this.linker.kldstatVerbose() : this.linker.kldstat();
  }

  /** The exports of a loaded module (for its own entry points). */
  module<T = Record<string, unknown>>(name: string): T {
    return this.linker.exportsOf(name) as T;
  }

  /** vmstat -z as text. */
  formatVmstatZ(vnet?: Vnet): string {
    const rows = this.vmstatZ(vnet);
    return formatTable(
      ["ITEM", "SIZE", "LIMIT", "USED", "PEAK", "REQ", "FAIL", "SLABS", "PAGES", "OWNER"],
      rows.map((r) => [r.name, r.size, r.limit, r.used, r.peak, r.allocs, r.fails, r.slabs, r.pages, r.module === "kernel" ? r.owner : `${r.owner}/${r.module}`]),
    );
  }

  /** Destroy every vnet but vnet0 and stop the clock. Throws LeakError listing every leak found. */
  shutdown(): void {
    if (this.shut) return;
    for (const p of this.ports) p.close();
    const leaks: LeakEntry[] = [];
    for (const v of this.vnets().reverse()) {
      if (v === this.vnet0) continue;
      try {
        v.destroy();
      } catch (e) {
        if (e instanceof LeakError) leaks.push(...e.leaks);
        else throw e;
      }
    }
    this.clock.stop();
    this.shut = true;
    if (leaks.length) throw new LeakError("shutdown", leaks);
  }
}

function resolveConfig(linkmap: LinkMap, config: string | string[]): string[] {
  if (Array.isArray(config)) return config;
  const list = linkmap.configs[config];
  if (!list) throw new ConfigError(`boot: unknown kernel configuration "${config}" (known: ${Object.keys(linkmap.configs).join(", ")})`);
  return list;
}

/** Read an AssemblyScript string (UTF-16, byte length at ptr - 4) from memory. */
export function readAsString(memory: WebAssembly.Memory, ptr: number): string {
  if (!ptr || ptr < 4 || ptr >= memory.buffer.byteLength) return "?";
  const len = new DataView(memory.buffer).getUint32(ptr - 4, true);
  if (len > 4096 || ptr + len > memory.buffer.byteLength) return "?";
  return String.fromCharCode(...new Uint16Array(memory.buffer.slice(ptr, ptr + len)));
}
