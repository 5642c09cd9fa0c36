// kldload for Wasm: instantiate a module against the running kernel's memory and table,
// resolve its imports against the kernel's exports and the exports of the modules it
// depends on (MODULE_DEPEND, from the link map), and run its modevent().
//
// Every check that can fail without touching the kernel (unknown module, unresolvable
// import, dependency cycle) runs before anything is instantiated, so a failed kldload
// leaves the kernel as it was. A MOD_LOAD that fails is rolled back by the kernel
// (kld_purge) and the modules this call auto-loaded as dependencies are unloaded again.

import { readAsString, type Kernel } from "./kernel.js";
import type { ModuleEntry } from "./linkmap.js";
import { unsignedView, unsignedExports } from "./abi.js";
import {
  UnknownModuleError, UnresolvedImportError, ModuleLoadedError, ModuleNotLoadedError, VnetSpaceError,
  ModuleDependencyError, ModuleBusyError, LeakError, KernelError, KernelPanic, ConfigError, Errno, errnoName,
} from "../lib/errors.js";

export type { ModuleSource } from "../lib/platform.js";
import type { ModuleSource } from "../lib/platform.js";

export interface KldStat {
  id: number;
  name: string;
  /** Loaded modules that depend on this one. */
  refs: number;
  depends: string[];
  memoryBase: number;
  memorySize: number;
  tableBase: number;
  tableSlots: number;
  /** VNET_SYSINITs the module has registered. */
  sysinits: number;
}

/**
 * Where a module is in its life, kldstat -v's column: the talk's three teardown checkpoints.
 * loaded; quiescing (checkpoint 1 done: new sockets, connects and listens refused, listeners
 * gone from lookup, so SYNs get RST); cleaning (checkpoint 2 done: connections dropped with
 * RST, sockets told ECONNABORTED, per-vnet uninits run); gone (checkpoint 3: MOD_UNLOAD ran,
 * zones destroyed, sockets closed, table window nulled).
 */
export type KldState = "loaded" | "quiescing" | "cleaning" | "gone";

/** What a module still holds, counted at a checkpoint or by kldstat -v. */
export interface KldLeft {
  /** TCP connections neither listening nor closed (modules exporting kmod_teardown_count). */
  connections?: number;
  /** Listeners a SYN still reaches (idem). */
  listeners?: number;
  /** Sockets open on the protocols it registered. */
  sockets: number;
  /** Items allocated from the zones it created, in every vnet. */
  items: number;
  /** Zones it created that still exist. */
  zones: number;
  /** Callouts pending on functions in its table window. */
  callouts: number;
}

export interface KldCheckpoint extends KldLeft {
  name: string;
  state: KldState;
  /** At "gone": every slot of its table window is null (a stale function index traps). */
  tableNulled?: boolean;
}

/** A kldstat -v row: a loaded module, or one unloaded since (state "gone", its last counts). */
export interface KldStatVerbose extends KldStat, KldLeft {
  state: KldState;
  tableNulled?: boolean;
}

export interface KldUnloadOptions {
  /** Unload even if MOD_QUIESCE refuses: its sockets and connections are torn down. */
  force?: boolean;
  /**
   * With force: unload first, recursively, the modules that hold this one: those that
   * depend on it in the link map and those registered with its protocol switch (tcp and
   * udp for a network layer).
   */
  dependents?: boolean;
  /** Called at each checkpoint with what is left; it may read state (kldstat, a socket's info), not load or unload. */
  onCheckpoint?: (c: KldCheckpoint) => void;
}

const MOD_LOAD = 0;
const MOD_UNLOAD = 1;
const MOD_QUIESCE = 3;

interface ModuleExports {
  modevent(what: number): number;
  kmod_heap_top(): number;
  _start?: () => void;
  [name: string]: unknown;
}

interface Loaded {
  id: number;
  name: string;
  entry: ModuleEntry;
  /** What the host calls (unsigned results read unsigned, abi.ts unsignedView). */
  exports: ModuleExports;
  /** The instance's own exports: what modules that depend on this one link against. */
  raw: WebAssembly.Exports;
  dependents: Set<string>;
  state: KldState;
}

export class ModuleLinker {
  private readonly loaded = new Map<string, Loaded>();
  private readonly names = new Map<number, string>();
  /** Modules unloaded and not loaded again: their kldstat -v row at "gone". */
  private readonly gone = new Map<string, KldStatVerbose>();
  private nextId = 1;
  private kernelImports?: Record<string, unknown>;

  constructor(private readonly kernel: Kernel, private readonly source: ModuleSource) {}

  nameOf(id: number): string | undefined {
    return this.names.get(id);
  }

  exportsOf(name: string): ModuleExports {
    const m = this.loaded.get(name);
    if (!m) throw new ModuleNotLoadedError(`module ${name} is not loaded`);
    return m.exports;
  }

  isLoaded(name: string): boolean {
    return this.loaded.has(name);
  }

  kldstat(): KldStat[] {
    return [...this.loaded.values()].sort((a, b) => a.id - b.id).map((m) => this.row(m));
  }

  /** kldstat -v: every loaded module with its state and what it holds, then the modules gone since. */
  kldstatVerbose(): KldStatVerbose[] {
    const live = [...this.loaded.values()].sort((a, b) => a.id - b.id).map((m) => ({ ...this.row(m), state: m.state, ...this.left(m) }));
    return [...live, ...[...this.gone.values()].sort((a, b) => a.id - b.id)];
  }

  /**
   * What module m holds now: the kernel's counts, and the module's own (kmod_teardown_count)
   * unless its MOD_UNLOAD has run (its VNET space is freed: nothing of its own to count).
   */
  private left(m: Loaded, own = true): KldLeft {
    const k = this.kernel.k;
    const out: KldLeft = {
      sockets: k.kld_sockets(m.id),
      items: k.kld_items(m.id),
      zones: k.kld_zones(m.id),
      callouts: k.kld_callouts(m.entry.tableBase, m.entry.tableBase + m.entry.tableSlots),
    };
    const f = m.exports.kmod_teardown_count;
    if (own && typeof f === "function") {
      out.connections = (f as (w: number) => number)(0);
      out.listeners = (f as (w: number) => number)(1);
    }
    return out;
  }

  private row(m: Loaded): KldStat {
    return {
      id: m.id,
      name: m.name,
      refs: m.dependents.size,
      depends: [...m.entry.depends],
      memoryBase: m.entry.memoryBase,
      memorySize: m.entry.memorySize,
      tableBase: m.entry.tableBase,
      tableSlots: m.entry.tableSlots,
      sysinits: this.kernel.k.kld_sysinit_count(m.id),
    };
  }

  private entry(name: string, by?: string): ModuleEntry {
    const e = this.kernel.linkmap.modules[name];
    if (!e) {
      const known = Object.keys(this.kernel.linkmap.modules).join(", ");
      throw new UnknownModuleError(`kldload ${name}${by ? ` (needed by ${by})` : ""}: no such module in the link map (known: ${known})`);
    }
    return e;
  }

  /** Modules to load for `name`, dependencies first; throws on unknown names and cycles. */
  private plan(name: string): string[] {
    const order: string[] = [];
    const visit = (n: string, chain: string[]) => {
      if (chain.includes(n)) throw new ConfigError(`kldload ${name}: dependency cycle ${[...chain, n].join(" -> ")}`);
      if (this.loaded.has(n) || order.includes(n)) return;
      const e = this.entry(n, chain[chain.length - 1]);
      for (const d of e.depends) visit(d, [...chain, n]);
      order.push(n);
    };
    visit(name, []);
    return order;
  }

  private kernelNamespace(): Record<string, unknown> {
    if (!this.kernelImports) {
      // The raw exports: a module's calls into the kernel stay Wasm to Wasm.
      this.kernelImports = {
        ...this.kernel.raw,
        kglobals: new WebAssembly.Global({ value: "i32", mutable: false }, this.kernel.k.kern_globals()),
      };
    }
    return this.kernelImports;
  }

  async kldload(name: string): Promise<void> {
    if (this.loaded.has(name)) throw new ModuleLoadedError(`kldload ${name}: module is already loaded`);
    const order = this.plan(name);
    const compiled = new Map<string, WebAssembly.Module>();
    for (const n of order) compiled.set(n, await this.source.module(n));
    // Resolve every import of every module statically before anything runs.
    const kernelNs = this.kernelNamespace();
    for (const n of order) {
      const e = this.entry(n);
      const missing: string[] = [];
      for (const imp of WebAssembly.Module.imports(compiled.get(n)!)) {
        if (imp.module === "env") {
          if (!["memory", "table", "abort"].includes(imp.name)) missing.push(`env.${imp.name}`);
        } else if (imp.module === "kernel") {
          if (!(imp.name in kernelNs)) missing.push(`kernel.${imp.name}`);
        } else if (e.depends.includes(imp.module)) {
          const dep = this.loaded.get(imp.module);
          const exported = dep ? imp.name in dep.exports : WebAssembly.Module.exports(compiled.get(imp.module)!).some((x) => x.name === imp.name);
          if (!exported) missing.push(`${imp.module}.${imp.name}`);
        } else {
          missing.push(`${imp.module}.${imp.name} (${imp.module} is not a dependency of ${n})`);
        }
      }
      if (missing.length) throw new UnresolvedImportError(n, missing);
      const exps = WebAssembly.Module.exports(compiled.get(n)!).map((x) => x.name);
      if (!exps.includes("modevent") || !exps.includes("kmod_heap_top")) {
        throw new UnresolvedImportError(n, [`${n} does not export modevent and kmod_heap_top`]);
      }
      unsignedExports(compiled.get(n)!, `kldload ${n}`);
    }
    const done: string[] = [];
    try {
      for (const n of order) {
        await this.loadOne(n, compiled.get(n)!);
        done.push(n);
      }
    } catch (err) {
      for (const n of done.reverse()) this.kldunload(n, { force: true });
      throw err;
    }
  }

  private async loadOne(name: string, mod: WebAssembly.Module): Promise<void> {
    const kernel = this.kernel;
    const k = kernel.k;
    const e = this.entry(name);
    const imports: WebAssembly.Imports = {
      env: {
        memory: kernel.memory,
        table: kernel.table,
        abort: (m: number, _f: number, line: number, col: number) => {
          // m: the module's message, a static string (e.g. its runtime heap leaving its window).
          throw new KernelPanic(`module ${name} aborted at line ${line}:${col}: ${readAsString(kernel.memory, m)}`);
        },
      },
      kernel: this.kernelNamespace() as WebAssembly.ModuleImports,
    };
    for (const d of e.depends) imports[d] = this.loaded.get(d)!.raw as WebAssembly.ModuleImports;
    const inst = await WebAssembly.instantiate(mod, imports);
    const exports = unsignedView<ModuleExports>(mod, inst.exports, `kldload ${name}`);
    // Top-level initialisers run before anything else of the module (asconfig exportStart).
    exports._start?.();
    const top = exports.kmod_heap_top();
    if (top < e.memoryBase || top > e.memoryBase + e.memorySize) {
      this.clearTable(e);
      throw new ConfigError(`kldload ${name}: static data ends at ${top}, outside its link-map window [${e.memoryBase}, ${e.memoryBase + e.memorySize})`);
    }
    const id = this.nextId++;
    let r: number;
    k.leak_reset();
    k.kld_begin(id);
    try {
      r = kernel.enter(() => exports.modevent(MOD_LOAD));
    } finally {
      k.kld_end();
    }
    if (r !== 0) {
      const used = k.vnet_data_used();
      k.kld_purge(id, e.tableBase, e.tableBase + e.tableSlots);
      k.leak_reset();
      this.clearTable(e);
      if (Math.abs(r) === Errno.ENOSPC) {
        throw new VnetSpaceError(`kldload ${name}: asks for more VNET section space than is left (${used} of ${k.vnet_section_size()} bytes were in use); boot with a larger vnetSectionBytes`);
      }
      if (Math.abs(r) === Errno.EAFNOSUPPORT) {
        throw new KernelError(`kldload ${name}: no address family to serve: load inet or inet6 before ${name}`, r);
      }
      throw new KernelError(`kldload ${name}: MOD_LOAD failed`, r);
    }
    this.loaded.set(name, { id, name, entry: e, exports, raw: inst.exports, dependents: new Set(), state: "loaded" });
    this.gone.delete(name);
    this.names.set(id, name);
    for (const d of e.depends) this.loaded.get(d)!.dependents.add(name);
  }

  /**
   * Checkpoint 1 alone ("stop new work"), leaving the module loaded in state "quiescing":
   * its protocols refuse new sockets, connects and listens, its listeners leave lookup
   * (SYNs to them get RST); open connections go on. kldunload (with force if they are
   * still open) finishes the unload; there is no way back short of that.
   */
  kldstop(name: string): void {
    const m = this.unloadable(name, "kldstop");
    if (m.state === "loaded") this.stop(m);
  }

  kldunload(name: string, opts: KldUnloadOptions = {}): void {
    if (opts.dependents && opts.force) {
      const m = this.loaded.get(name);
      if (m) {
        // Holders first, each torn down the same way (a transport before its network layer).
        for (const d of [...m.dependents, ...this.busyHolders(m)]) {
          if (this.loaded.has(d)) this.kldunload(d, opts);
        }
      }
    }
    const m = this.unloadable(name, "kldunload");
    const q = this.kernel.enter(() => m.exports.modevent(MOD_QUIESCE));
    if (q !== 0 && !opts.force) {
      // A network layer names the modules registered with its protocol switch (kmod_busy_holder):
      // no link-map dependency holds it, so the message says which to unload first.
      const holders = this.busyHolders(m);
      if (holders.length) {
        throw new ModuleBusyError(`kldunload ${name}: module is busy: ${holders.join(", ")} ${holders.length === 1 ? "is" : "are"} registered with its protocol switch; unload ${holders.length === 1 ? "it" : "them"} first, or unload with force`);
      }
      throw new ModuleBusyError(`kldunload ${name}: module is busy: ${this.busyWhy(m, q)}; close what uses it or unload with force`);
    }
    const k = this.kernel.k;
    const lo = m.entry.tableBase;
    const hi = lo + m.entry.tableSlots;
    const report = (state: KldState, extra: Partial<KldCheckpoint> = {}) => {
      m.state = state;
      opts.onCheckpoint?.({ name, state, ...this.left(m), ...extra });
    };
    // 1. stop new work.
    if (m.state === "loaded") this.stop(m);
    report("quiescing");
    k.leak_reset();
    k.kld_begin(m.id);
    try {
      // 2. clean up: the module drops what is live (RSTs leave inside this entry), then its
      // per-vnet uninits run in every vnet.
      this.kernel.enter(() => {
        this.teardown(m, 2);
        k.kld_sysuninit(m.id);
      });
      report("cleaning");
      // 3. really go away: the module's global teardown; its zones must be empty now.
      this.kernel.enter(() => m.exports.modevent(MOD_UNLOAD));
    } finally {
      k.kld_end();
    }
    const before = this.left(m, false); // what MOD_UNLOAD left: purged below and reported as leaks
    // Inside a kernel entry, so what the purge closes (sockets) reaches the host at once.
    const leaks = this.kernel.enter(() => k.kld_purge(m.id, lo, hi));
    this.clearTable(m.entry);
    let nulled = true;
    for (let i = lo; i < hi; i++) if (this.kernel.table.get(i) !== null) nulled = false;
    const last: KldLeft = { ...before, sockets: k.kld_sockets(m.id) };
    m.state = "gone";
    const row: KldStatVerbose = { ...this.row(m), sysinits: 0, refs: 0, state: "gone", ...last, tableNulled: nulled };
    this.loaded.delete(name);
    this.names.delete(m.id);
    for (const d of m.entry.depends) this.loaded.get(d)?.dependents.delete(name);
    this.gone.set(name, row);
    opts.onCheckpoint?.({ name, state: "gone", ...last, tableNulled: nulled });
    if (leaks > 0) throw new LeakError(`kldunload ${name}`, this.kernel.readLeaks());
  }

  /** The loaded module `name`, if nothing that depends on it in the link map is loaded. */
  private unloadable(name: string, what: string): Loaded {
    const m = this.loaded.get(name);
    if (!m) {
      if (!this.kernel.linkmap.modules[name]) this.entry(name);
      throw new ModuleNotLoadedError(`${what} ${name}: module is not loaded`);
    }
    if (m.dependents.size) throw new ModuleDependencyError(name, [...m.dependents]);
    return m;
  }

  /** Checkpoint 1: the kernel marks the module's protocol-switch entries, then the module's own step. */
  private stop(m: Loaded): void {
    this.kernel.enter(() => {
      this.kernel.k.kld_stop(m.id);
      this.teardown(m, 1);
    });
    m.state = "quiescing";
  }

  /** kmod_teardown(step) of a module that has one (tcp, udp); a plain call inside an entry. */
  private teardown(m: Loaded, step: number): void {
    const f = m.exports.kmod_teardown;
    if (typeof f === "function") (f as (s: number) => number)(step);
  }

  /** Why MOD_QUIESCE said no, in counts: "3 connections, 1 listener, 4 sockets open". */
  private busyWhy(m: Loaded, q: number): string {
    if (typeof m.exports.kmod_teardown_count === "function") {
      const l = this.left(m);
      const parts: string[] = [];
      const n = (x: number, one: string) => `${x} ${one}${x === 1 ? "" : "s"}`;
      if (l.connections) parts.push(n(l.connections, "connection"));
      if (l.listeners) parts.push(n(l.listeners, "listener"));
      parts.push(`${n(l.sockets, "socket")} open`);
      return parts.join(", ");
    }
    // A module may say how much is using it (kmod_busy_count: open sockets, pairs...).
    const n = typeof m.exports.kmod_busy_count === "function" ? (m.exports.kmod_busy_count as () => number)() : -1;
    return n > 0 ? `${n} ${n === 1 ? "user" : "users"} (open sockets, interfaces or hooks)` : errnoName(q);
  }

  /** Names of the loaded modules m says hold it (kmod_busy_holder(i): module id, 0 past the last). */
  private busyHolders(m: Loaded): string[] {
    const f = m.exports.kmod_busy_holder;
    if (typeof f !== "function") return [];
    const out: string[] = [];
    for (let i = 0; i < 256; i++) {
      const id = (f as (i: number) => number)(i);
      if (id === 0) break;
      const n = this.names.get(id) ?? `module id ${id}`;
      if (!out.includes(n)) out.push(n);
    }
    return out;
  }

  /** Null the module's table window so a stale function index traps instead of running old code. */
  private clearTable(e: ModuleEntry): void {
    for (let i = e.tableBase; i < e.tableBase + e.tableSlots; i++) this.kernel.table.set(i, null);
  }
}
