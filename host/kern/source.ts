// Where kernel and module binaries come from, on any platform: bytes already in memory, or
// URLs fetched and compiled as they stream in. Node's file loader is host/node/wasm_file.ts.
// Each binary is compiled once per source and shared by every kernel booted from it.

import type { ModuleSource } from "./linker.js";
import { UnknownModuleError, ConfigError } from "../lib/errors.js";
import { show } from "../lib/format.js";

type Bytes = Uint8Array | ArrayBuffer;

/** Binaries given as bytes: `{ kernel, modules: { inet: bytes, ... } }`. */
export function bytesModuleSource(bins: { kernel: Bytes; modules: Record<string, Bytes> }): ModuleSource {
  const isBytes = (b: unknown) => b instanceof Uint8Array || b instanceof ArrayBuffer;
  if (bins === null || typeof bins !== "object" || !isBytes(bins.kernel) || bins.modules === null || typeof bins.modules !== "object") {
    throw new ConfigError(`bytesModuleSource: expected { kernel: bytes, modules: { name: bytes, ... } }, got ${show(bins)}`);
  }
  const notBytes = Object.keys(bins.modules).filter((n) => !isBytes(bins.modules[n]));
  if (notBytes.length) throw new ConfigError(`bytesModuleSource: modules ${notBytes.join(", ")} are not bytes (Uint8Array or ArrayBuffer)`);
  const compiled = new Map<string, Promise<WebAssembly.Module>>();
  const compile = (key: string, b: Bytes) => {
    let p = compiled.get(key);
    if (!p) compiled.set(key, (p = WebAssembly.compile((b instanceof Uint8Array ? copyIfShared(b) : b) as BufferSource)));
    return p;
  };
  return {
    kernel: () => compile("", bins.kernel),
    module(name) {
      const b = Object.hasOwn(bins.modules, name) ? bins.modules[name] : undefined;
      if (!b) return Promise.reject(new UnknownModuleError(`kldload ${name}: no binary given for it (have: ${Object.keys(bins.modules).join(", ") || "none"})`));
      return compile(name, b);
    },
  };
}

/**
 * Binaries fetched from a base URL laid out as build/ is: `kernel.wasm` and
 * `modules/<name>.wasm`. Uses WebAssembly.compileStreaming where the server sends
 * application/wasm, and compiles the bytes otherwise.
 */
export function urlModuleSource(base: string | URL, init?: RequestInit): ModuleSource {
  const root = new URL(base.toString().endsWith("/") ? base.toString() : `${base}/`);
  const compiled = new Map<string, Promise<WebAssembly.Module>>();
  const load = (path: string, what: string): Promise<WebAssembly.Module> => {
    let p = compiled.get(path);
    if (!p) {
      const url = new URL(path, root);
      if (url.protocol === "file:") {
        return Promise.reject(new ConfigError(`${what}: ${url.href} is a file: fetch cannot read files; in Node import "wavnet" or "wavnet/node" (binaries from disk) or pass Kernel.boot({ source })`));
      }
      p = fetchModule(url, what, init);
      compiled.set(path, p);
      p.catch(() => compiled.delete(path)); // a failed fetch may be retried
    }
    return p;
  };
  return {
    kernel: () => load("kernel.wasm", "kernel"),
    module: (name) => (/^[A-Za-z0-9_]+$/.test(name) ? load(`modules/${name}.wasm`, `kldload ${name}`) : Promise.reject(new UnknownModuleError(`kldload ${JSON.stringify(name)}: not a module name`))),
  };
}

async function fetchModule(url: URL, what: string, init: RequestInit | undefined): Promise<WebAssembly.Module> {
  let res: Response;
  try {
    res = await fetch(url, init);
  } catch (e) {
    throw new ConfigError(`${what}: cannot fetch ${url.href}: ${(e as Error).message}`);
  }
  if (res.status === 404) throw new UnknownModuleError(`${what}: no binary at ${url.href} (404)`);
  if (!res.ok) throw new ConfigError(`${what}: ${url.href} answered ${res.status} ${res.statusText}`);
  if (typeof WebAssembly.compileStreaming === "function" && res.headers.get("content-type")?.startsWith("application/wasm")) {
    return WebAssembly.compileStreaming(res);
  }
  return WebAssembly.compile(await res.arrayBuffer());
}

// WebAssembly.compile refuses views of a SharedArrayBuffer.
function copyIfShared(b: Uint8Array): Uint8Array {
  return typeof SharedArrayBuffer !== "undefined" && b.buffer instanceof SharedArrayBuffer ? b.slice() : b;
}

/** The package's build/ folder next to this file's (host/kern/ and dist/kern/ both sit two levels below it). */
export function packageBuildUrl(): URL {
  return new URL(/* @vite-ignore */ "../../build/", import.meta.url);
}

/** A ModuleSource whose binaries another thread compiles and hands over (handedModuleSource). */
export interface HandedModuleSource extends ModuleSource {
  /**
   * A binary arrived: "kernel" or a module's name, with its compiled module, or without one
   * (the other side could not compile it: it is then taken from the fallback source).
   * A name not announced, or handed twice, is ignored and counted in `ignored`.
   */
  hand(name: string, module?: WebAssembly.Module): void;
  readonly ignored: number;
}

/**
 * The binaries named (`"kernel"` and module names) come from `hand`, the rest from
 * `fallback`. A page's head compiles the kernel and its modules while its worker is still
 * starting, and posts the modules (a WebAssembly.Module is cloned to a worker of the same
 * page without compiling again); the worker's boot then waits for the handed modules
 * rather than fetching them. A name is waited for only once it is announced, so the page
 * must hand every one it announces (with no module if its compile failed).
 */
export function handedModuleSource(fallback: ModuleSource, names: readonly string[]): HandedModuleSource {
  const waiting = new Map<string, { promise: Promise<WebAssembly.Module>; resolve: (m: WebAssembly.Module | Promise<WebAssembly.Module>) => void }>();
  for (const n of names) {
    let resolve!: (m: WebAssembly.Module | Promise<WebAssembly.Module>) => void;
    const promise = new Promise<WebAssembly.Module>((r) => (resolve = r));
    waiting.set(n, { promise, resolve });
  }
  const handed = new Set<string>();
  let ignored = 0;
  const get = (name: string, fetch: () => Promise<WebAssembly.Module>) => waiting.get(name)?.promise ?? fetch();
  return {
    kernel: () => get("kernel", () => fallback.kernel()),
    module: (name) => get(name, () => fallback.module(name)),
    hand(name, module) {
      const w = typeof name === "string" && !handed.has(name) ? waiting.get(name) : undefined;
      if (!w) {
        ignored++;
        return;
      }
      handed.add(name);
      if (module instanceof WebAssembly.Module) w.resolve(module);
      else w.resolve(name === "kernel" ? fallback.kernel() : fallback.module(name));
    },
    get ignored() {
      return ignored;
    },
  };
}
