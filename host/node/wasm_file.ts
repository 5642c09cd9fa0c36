// Kernel and module binaries from build/ on disk (Node). Compiled once per process.
import { readFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ModuleSource } from "../kern/linker.js";
import { UnknownModuleError } from "../lib/errors.js";

/** The package folder (host/node/ and dist/node/ sit two levels below it). */
export const packageRoot = fileURLToPath(new URL("../..", import.meta.url));

const cache = new Map<string, Promise<WebAssembly.Module>>();

function compileFile(file: string): Promise<WebAssembly.Module> {
  let p = cache.get(file);
  if (!p) {
    p = readFile(file).then((bytes) => WebAssembly.compile(bytes));
    cache.set(file, p);
  }
  return p;
}

export function nodeModuleSource(buildDir = join(packageRoot, "build")): ModuleSource {
  return {
    kernel() {
      const f = join(buildDir, "kernel.wasm");
      if (!existsSync(f)) throw new Error(`${f} is missing: run npm run build`);
      return compileFile(f);
    },
    module(name: string) {
      const f = join(buildDir, "modules", `${name}.wasm`);
      if (!existsSync(f)) return Promise.reject(new UnknownModuleError(`kldload ${name}: no module binary ${f}`));
      return compileFile(f);
    },
  };
}
