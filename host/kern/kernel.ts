// The host side of a wavnet kernel: instantiate the kernel module over one Memory and one
// Table, boot it, create and destroy vnets, load modules, report accounting.

import { VirtualClock, RealClock, type Clock } from "./clock.js";
import {
  KernelError, KernelPanic, VnetGoneError, LeakError, ConfigError, Errno, type LeakEntry,
} from "../lib/errors.js";
import { ModuleLinker, type ModuleSource, type KldStat } from "./linker.js";
import { loadLinkMap, type LinkMap } from "./linkmap.js";
import { nodeModuleSource } from "../node/wasm_file.js";
import { formatTable } from "../lib/format.js";
import type { KernelExports } from "./abi.js";
export type { KernelExports } from "./abi.js";
import { startCapture, type LiveCapture, type CaptureStartOptions } from "../capture/tap.js";
import { Interface, interfacesOf, lookup, createClone, ifconfigText, netstatI, etherStats, type EtherStats } from "../admin/ifnet.js";
import { createSocket as createDgram } from "../sockets/dgram.js";
import { netFor, type VnetNet } from "../sockets/net.js";
import { SocketRegistry, socket as newSocket, sockstat, formatSockstat, type Socket } from "../sockets/socket.js";

const ZS = { size: 0, limit: 1, inuse: 2, peak: 3, allocs: 4, frees: 5, fails: 6, slabs: 7, pagesPerSlab: 8, itemsPerSlab: 9, flags: 10, modid: 11, owner: 12, badfrees: 13 };
const ZONE_VNET = 1;
const ZONE_CHARGE = 2;
const LEAK_KINDS: LeakEntry["kind"][] = ["items", "pages", "callouts", "zone", "vnet data"];
export const PAGE_SIZE = 4096;

/** Something outside the kernel that kernel rings feed (host/vxlan.ts): drained after every kernel entry and clock tick. */
export interface HostPort {
  drain(): void;
  /** Stop for good (the kernel shuts down); must not enter the kernel. */
  close(): void;
}

export interface BootOptions {
  /** A kernel configuration from the link map (BARE, GENERIC, DEMO, ...) or a module list. */
  config?: string | string[];
  /** "virtual" (default: deterministic, driven by advance()) or "real", or a Clock. */
  clock?: "virtual" | "real" | Clock;
  /** Seed of the kernel's random numbers (default 1). */
  seed?: number;
  /** Size of every vnet's data block (VNET section), 4 KiB multiple, default 8192. */
  vnetSectionBytes?: number;
  /** Where module and kernel binaries come from (default: build/ on disk, Node). */
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
  pages: number;
  bytes: number;
  items: Record<string, number>;
}

export class Vnet {
  #alive = true;
  constructor(
    private readonly kernel: Kernel,
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

  private check(what: string): void {
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

  vmstatZ(): ZoneRow[] {
    this.check("vmstat -z");
    return this.kernel.vmstatZ(this);
  }

  /** The vnet's interfaces, in index order (lo0 first). */
  interfaces(): Interface[] {
    this.check("interfaces");
    return interfacesOf(this.kernel, this);
  }

  /** The interface called name; throws if there is none. */
  interface(name: string): Interface {
    this.check("interface");
    const i = lookup(this.kernel, this, name);
    if (!i) throw new ConfigError(`vnet "${this.name}" has no interface ${JSON.stringify(name)} (it has ${this.interfaces().map((x) => x.name).join(", ")})`);
    return i;
  }

  /** ifconfig NAME create here: every interface made (an epair: both ends). */
  ifcreate(name: string): Interface[] {
    this.check("ifconfig create");
    return createClone(this.kernel, this, name);
  }

  /** ifconfig's text for this vnet. */
  ifconfig(): string {
    this.check("ifconfig");
    return ifconfigText(this.kernel, this);
  }

  /** netstat -i for this vnet. */
  netstatI(): string {
    this.check("netstat -i");
    return netstatI(this.kernel, this);
  }

  /** socket(2) in this vnet: e.g. socket("inet", "dgram"). */
  socket(domain: "inet" | "inet6" | number, type: "stream" | "dgram" | "raw" | number, protocol = 0): Socket {
    this.check("socket");
    return newSocket(this.kernel, this, domain, type, protocol);
  }

  #net?: VnetNet;

  /** Node's net module for this vnet (TCP): createServer, connect, createConnection, Socket. */
  get net(): VnetNet {
    this.check("net");
    return (this.#net ??= netFor(this.kernel, this));
  }

  /** A Node dgram-compatible UDP socket in this vnet (host/dgram.ts). */
  dgram(type: "udp4" | "udp6" | import("../sockets/dgram.js").SocketOptions = "udp4"): import("../sockets/dgram.js").DgramSocket {
    this.check("dgram.createSocket");
    return createDgram(this.kernel, this, type);
  }

  /** sockstat for this vnet. */
  sockstat(): string {
    this.check("sockstat");
    return formatSockstat(sockstat(this.kernel, this));
  }

  /** Ethernet frames this vnet dropped, by reason. */
  etherStats(): EtherStats {
    this.check("netstat -s");
    return etherStats(this.kernel, this);
  }
}

export class Kernel {
  readonly memory: WebAssembly.Memory;
  readonly table: WebAssembly.Table;
  readonly k: KernelExports;
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
  private readonly captures = new Set<LiveCapture>();
  private readonly bootWallUs = Math.round(Date.now() * 1000);
  /** Sockets handed out (host/socket.ts); drained after every kernel entry. */
  readonly sockets = new SocketRegistry();
  private readonly ports = new Set<HostPort>();

  private constructor(inst: WebAssembly.Instance, memory: WebAssembly.Memory, table: WebAssembly.Table, clock: Clock, linkmap: LinkMap, source: ModuleSource, config: string[]) {
    this.memory = memory;
    this.table = table;
    this.k = inst.exports as unknown as KernelExports;
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
    const source = opts.source ?? nodeModuleSource();
    const config = resolveConfig(linkmap, opts.config ?? "GENERIC");
    const section = opts.vnetSectionBytes ?? 8192;
    const seed = opts.seed ?? 1;
    if (!Number.isSafeInteger(seed) || seed < 0) throw new ConfigError(`boot: seed must be a non-negative integer, got ${seed}`);
    const clock = typeof opts.clock === "object" ? opts.clock : opts.clock === "real" ? new RealClock() : new VirtualClock();
    if (opts.clock !== undefined && typeof opts.clock !== "object" && opts.clock !== "real" && opts.clock !== "virtual") {
      throw new ConfigError(`boot: clock must be "virtual", "real" or a Clock, got ${JSON.stringify(opts.clock)}`);
    }
    const memory = new WebAssembly.Memory({ initial: linkmap.initialPages });
    const table = new WebAssembly.Table({ initial: linkmap.tableSlots, element: "anyfunc" });
    let self: Kernel | undefined;
    const abort = (msg: number, file: number, line: number, col: number) => {
      const m = readAsString(memory, msg);
      const f = readAsString(memory, file);
      throw new KernelPanic(`kernel abort: ${m} at ${f}:${line}:${col}`);
    };
    const mod = await source.kernel();
    const inst = await WebAssembly.instantiate(mod, { env: { memory, table, abort } });
    const k = inst.exports as unknown as KernelExports;
    k._start();
    const r = k.kern_boot(section, seed);
    if (r !== 0) {
      if (-r === Errno.EINVAL || -r === Errno.ENOSPC) throw new ConfigError(`boot: vnetSectionBytes ${section} is not a 4 KiB multiple between 4096 and 65536 that holds the kernel's own per-vnet variables`);
      throw new KernelError("boot", r);
    }
    const top = k.kern_heap_top();
    if (top >= linkmap.kernel.staticLimit) throw new KernelPanic(`kernel static data ends at ${top}, past its link-map limit ${linkmap.kernel.staticLimit}`);
    self = new Kernel(inst, memory, table, clock, linkmap, source, config);
    clock.attach({
      tick: (now) => {
        const n = self!.k.callout_tick(now);
        self!.drainCaptures();
        self!.sockets.drain(self!);
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
    this.drainCaptures();
    this.sockets.drain(this);
    if (this.ports.size !== 0) this.drainPorts(); // most kernels have none: no iterator then
    this.clock.kick();
  }

  /** @internal */
  drainCaptures(): void {
    for (const c of this.captures) c.drain();
  }

  /** @internal */
  drainPorts(): void {
    for (const p of this.ports) p.drain();
  }

  /** @internal a host port (a VXLAN socket) fed from kernel rings: drained after every entry, closed at shutdown. */
  attachPort(p: HostPort): void {
    this.ports.add(p);
  }

  /** @internal */
  detachPort(p: HostPort): void {
    this.ports.delete(p);
  }

  /** @internal */
  rememberCapture(c: LiveCapture): void {
    this.captures.add(c);
  }

  /** @internal */
  forgetCapture(c: LiveCapture): void {
    this.captures.delete(c);
  }

  /**
   * µs to add to kernel time for wall-clock timestamps: the boot time for a real clock; a
   * fixed 2000-01-01 for a virtual one, so captures of a seeded run are identical.
   */
  epochUs(): number {
    return this.clock.kind === "real" ? this.bootWallUs : 946_684_800_000_000;
  }

  /** Capture every frame in and out of an interface (pcap/pcapng sinks, async iteration). */
  capture(iface: Interface, opts: CaptureStartOptions = {}): LiveCapture {
    return startCapture(this, iface, opts);
  }

  /** Create a vnet: allocate, copy the VNET section, run every sysinit. */
  createVnet(name?: string): Vnet {
    if (name !== undefined) {
      if (typeof name !== "string" || !/^[A-Za-z0-9_.-]{1,64}$/.test(name)) throw new ConfigError(`createVnet: name must be 1-64 of [A-Za-z0-9_.-], got ${JSON.stringify(name)}`);
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

  /**
   * An epair: both ends created in vnet0, then a moved into `a` and b into `b` (each
   * optional). Returns [a end, b end].
   */
  epair(a?: Vnet, b?: Vnet): [Interface, Interface] {
    const made = this.vnet0.ifcreate("epair");
    if (made.length !== 2) throw new KernelError(`ifconfig epair create made ${made.length} interfaces`, Errno.EINVAL);
    const [ea, eb] = made[0].name.endsWith("a") ? [made[0], made[1]] : [made[1], made[0]];
    if (a && a !== this.vnet0) ea.moveTo(a);
    if (b && b !== this.vnet0) eb.moveTo(b);
    return [ea, eb];
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
    const bytes = new Uint8Array(this.memory.buffer, ptr, max);
    let end = bytes.indexOf(0);
    if (end < 0) end = max;
    return new TextDecoder().decode(bytes.subarray(0, end));
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
    return { pages: this.k.vnet_pages(v.ptr), bytes: this.k.vnet_bytes(v.ptr), items };
  }

  accounting(): Accounting {
    return {
      pagesInUse: this.k.kmem_pages_inuse(),
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

  kldunload(name: string, opts: { force?: boolean } = {}): void {
    this.linker.kldunload(name, opts);
  }

  kldstat(): KldStat[] {
    return this.linker.kldstat();
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
    for (const c of [...this.captures]) void c.stop();
    for (const p of [...this.ports]) p.close();
    // vnet0 is never destroyed: close its sockets here (the others go with their vnets).
    for (const so of this.sockets.all()) if (so.vnet === this.vnet0) so.close();
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
