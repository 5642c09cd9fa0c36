// A small WebAssembly binary reader for ABI checks: the type, import, function and export
// sections of a module, enough to list every exported function with its parameter and
// result types, and every import (functions with their types). Nothing else is decoded.
//
// As a script: node --import tsx tests/helpers/wasm_abi.ts build/kernel.wasm [more.wasm...]
// prints each module's exports and imports.

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export type ValType = "i32" | "i64" | "f32" | "f64" | "v128" | "funcref" | "externref";

export interface FuncType {
  params: ValType[];
  results: ValType[];
}

export interface WasmImport {
  module: string;
  name: string;
  kind: "func" | "table" | "memory" | "global" | "tag";
  /** Functions (and tags): their type. */
  type?: FuncType;
  /** Globals: the value type and mutability. */
  global?: { type: ValType; mutable: boolean };
}

export interface WasmExport {
  name: string;
  kind: "func" | "table" | "memory" | "global" | "tag";
  /** Functions: their type. */
  type?: FuncType;
}

export interface WasmAbi {
  imports: WasmImport[];
  exports: WasmExport[];
  /** Exported functions by name. */
  funcs: Map<string, FuncType>;
}

const VALTYPES: Record<number, ValType> = {
  0x7f: "i32", 0x7e: "i64", 0x7d: "f32", 0x7c: "f64", 0x7b: "v128", 0x70: "funcref", 0x6f: "externref",
};
const KINDS = ["func", "table", "memory", "global", "tag"] as const;

class Reader {
  pos = 0;
  constructor(private readonly b: Uint8Array, readonly what: string) {}
  get done(): boolean {
    return this.pos >= this.b.length;
  }
  fail(why: string): never {
    throw new Error(`${this.what}: ${why} at byte ${this.pos}`);
  }
  byte(): number {
    if (this.pos >= this.b.length) this.fail("unexpected end");
    return this.b[this.pos++];
  }
  /** Unsigned LEB128 (up to 64 bits; returned as a number, exact below 2^53). */
  uleb(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      const x = this.byte();
      result += (x & 0x7f) * mul;
      if ((x & 0x80) === 0) return result;
      mul *= 128;
    }
    return this.fail("LEB128 too long");
  }
  bytes(n: number): Uint8Array {
    if (this.pos + n > this.b.length) this.fail("unexpected end");
    const out = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  name(): string {
    return new TextDecoder("utf-8", { fatal: true }).decode(this.bytes(this.uleb()));
  }
  valtype(): ValType {
    const t = this.byte();
    return VALTYPES[t] ?? this.fail(`unknown value type 0x${t.toString(16)}`);
  }
  limits(): void {
    const flags = this.byte();
    this.uleb();
    if (flags & 1) this.uleb();
  }
}

/** The ABI of a WebAssembly binary: imports, exports, exported functions' types. */
export function readWasmAbi(bytes: Uint8Array, what = "wasm"): WasmAbi {
  const r = new Reader(bytes, what);
  const magic = r.bytes(4);
  if (magic[0] !== 0 || magic[1] !== 0x61 || magic[2] !== 0x73 || magic[3] !== 0x6d) r.fail("not a WebAssembly binary");
  const version = r.bytes(4);
  if (version[0] !== 1 || version[1] !== 0 || version[2] !== 0 || version[3] !== 0) r.fail("not WebAssembly version 1");

  const types: FuncType[] = [];
  const imports: WasmImport[] = [];
  const funcTypes: FuncType[] = []; // the function index space: imported functions, then defined ones
  const exports: WasmExport[] = [];
  const typeAt = (s: Reader, i: number): FuncType => types[i] ?? s.fail(`type index ${i} out of range`);

  while (!r.done) {
    const id = r.byte();
    const size = r.uleb();
    const body = new Reader(r.bytes(size), `${what} section ${id}`);
    if (id === 1) {
      for (let n = body.uleb(); n > 0; n--) {
        const form = body.byte();
        if (form !== 0x60) body.fail(`type form 0x${form.toString(16)} (only function types are read)`);
        const params: ValType[] = [];
        for (let p = body.uleb(); p > 0; p--) params.push(body.valtype());
        const results: ValType[] = [];
        for (let q = body.uleb(); q > 0; q--) results.push(body.valtype());
        types.push({ params, results });
      }
    } else if (id === 2) {
      for (let n = body.uleb(); n > 0; n--) {
        const module = body.name();
        const name = body.name();
        const k = body.byte();
        const kind = KINDS[k] ?? body.fail(`import kind ${k}`);
        const imp: WasmImport = { module, name, kind };
        if (kind === "func") {
          imp.type = typeAt(body, body.uleb());
          funcTypes.push(imp.type);
        } else if (kind === "table") {
          body.valtype();
          body.limits();
        } else if (kind === "memory") {
          body.limits();
        } else if (kind === "global") {
          imp.global = { type: body.valtype(), mutable: body.byte() === 1 };
        } else {
          body.byte(); // tag attribute
          imp.type = typeAt(body, body.uleb());
        }
        imports.push(imp);
      }
    } else if (id === 3) {
      for (let n = body.uleb(); n > 0; n--) funcTypes.push(typeAt(body, body.uleb()));
    } else if (id === 7) {
      for (let n = body.uleb(); n > 0; n--) {
        const name = body.name();
        const k = body.byte();
        const kind = KINDS[k] ?? body.fail(`export kind ${k}`);
        const index = body.uleb();
        const exp: WasmExport = { name, kind };
        if (kind === "func") exp.type = funcTypes[index] ?? body.fail(`function index ${index} out of range`);
        exports.push(exp);
      }
    }
    // Every other section (custom, table, memory, global, start, element, code, data...) is skipped.
  }
  const funcs = new Map<string, FuncType>();
  for (const e of exports) if (e.type && e.kind === "func") funcs.set(e.name, e.type);
  return { imports, exports, funcs };
}

export function readWasmAbiFile(path: string): WasmAbi {
  return readWasmAbi(readFileSync(path), path);
}

/** "(i32, i32) -> f64" */
export function formatFuncType(t: FuncType): string {
  return `(${t.params.join(", ")}) -> ${t.results.length === 0 ? "void" : t.results.join(", ")}`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const path of process.argv.slice(2)) {
    const abi = readWasmAbiFile(path);
    process.stdout.write(`${path}\n  exports:\n`);
    for (const e of abi.exports) {
      process.stdout.write(`    ${e.kind} ${e.name}${e.type ? ` ${formatFuncType(e.type)} [${e.type.params.length} params, ${e.type.results.length} results]` : ""}\n`);
    }
    process.stdout.write(`  imports:\n`);
    for (const i of abi.imports) {
      const t = i.type ? ` ${formatFuncType(i.type)}` : i.global ? ` ${i.global.mutable ? "mut " : ""}${i.global.type}` : "";
      process.stdout.write(`    ${i.kind} ${i.module}.${i.name}${t}\n`);
    }
  }
}
