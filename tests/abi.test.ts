// The kernel ABI checked from one source, the built Wasm (run `npm run build` first):
//  - every function the host declares in an `*Exports` interface (host/kern/abi.ts
//    KernelExports, host/admin/*.ts, host/sockets/socket.ts, ...) exists in the .wasm the
//    interface is bound to, with the same parameter count, results, and i64 <-> bigint;
//  - every `@external` in the AssemblyScript sources (assembly/kmod/kapi.ts and the modules'
//    own) and every import of every built module resolves to an export of the same type;
//  - host constants that name an AssemblyScript file in their doc comment have the values
//    that file gives the same names (`K.IPQ` <-> `K_IPQ`, `SO.REUSEADDR` <-> `SO_REUSEADDR`),
//    and no host call passes a bare number where the AssemblyScript side names the selector.
// The host's declarations are read from its TypeScript source with the compiler API and the
// binding of an interface to a .wasm from how the host obtains it (`kernel.module<T>("inet")`,
// `kernel.k as unknown as T`, the Kernel's `k: T`): there is no hand-kept list here.
// To see a module's ABI: node --import tsx tests/helpers/wasm_abi.ts build/modules/inet.wasm

import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { unsignedExports, unsignedView } from "../host/kern/abi.js";
import { readWasmAbi, readWasmAbiFile, formatFuncType, type FuncType, type ValType, type WasmAbi } from "./helpers/wasm_abi.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const rel = (p: string) => relative(root, p);

interface LinkMapModule {
  source: string;
  depends: string[];
}
const linkmap = JSON.parse(readFileSync(join(root, "assembly/linkmap.json"), "utf8")) as { modules: Record<string, LinkMapModule> };
const moduleNames = Object.keys(linkmap.modules);

function wasmPath(target: string): string {
  return target === "kernel" ? join(root, "build/kernel.wasm") : join(root, `build/modules/${target}.wasm`);
}
const abis = new Map<string, WasmAbi>();
/** The ABI of "kernel" or a link-map module, from build/. */
function abi(target: string): WasmAbi {
  let a = abis.get(target);
  if (!a) {
    const p = wasmPath(target);
    if (!existsSync(p)) throw new Error(`${rel(p)} is missing: run \`npm run build\` first`);
    a = readWasmAbiFile(p);
    abis.set(target, a);
  }
  return a;
}

function walk(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir).sort()) {
    const p = join(dir, e);
    if (e === "__tests__" || e === "node_modules") continue;
    if (statSync(p).isDirectory()) walk(p, out);
    else if (p.endsWith(".ts")) out.push(p);
  }
  return out;
}

/** Fails with every mismatch, one a line. */
function report(what: string, errors: string[]): void {
  if (errors.length) assert.fail(`${errors.length} ${what}:\n  ${errors.join("\n  ")}`);
}

function sameType(a: FuncType, b: FuncType): boolean {
  return a.params.join() === b.params.join() && a.results.join() === b.results.join();
}

// ---------------------------------------------------------------------------------------
// The host's declarations (TypeScript source)

const hostFiles = walk(join(root, "host")).map((p) => ts.createSourceFile(p, readFileSync(p, "utf8"), ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS));

function where(node: ts.Node): string {
  const sf = node.getSourceFile();
  return `${rel(sf.fileName)}:${sf.getLineAndCharacterOfPosition(node.getStart()).line + 1}`;
}

/** A set of declared members: an interface, or a type literal in a cast. */
interface Decl {
  name: string;
  node: ts.InterfaceDeclaration | ts.TypeLiteralNode;
}

const interfaces = new Map<string, ts.InterfaceDeclaration[]>();
for (const sf of hostFiles) {
  for (const st of sf.statements) {
    if (ts.isInterfaceDeclaration(st)) interfaces.set(st.name.text, [...(interfaces.get(st.name.text) ?? []), st]);
  }
}

/** The interface a type name means in `from`'s file: the file's own, else the only one of that name. */
function resolveInterface(name: string, from: ts.Node): ts.InterfaceDeclaration | undefined {
  const all = interfaces.get(name) ?? [];
  return all.find((d) => d.getSourceFile() === from.getSourceFile()) ?? (all.length === 1 ? all[0] : undefined);
}

/** Interface or type-literal declarations bound to "kernel" or a module name, as the host binds them. */
const bindings = new Map<ts.Node, { decl: Decl; targets: Set<string>; via: string[] }>();
function bind(type: ts.TypeNode, target: string, via: ts.Node): void {
  let decl: Decl | undefined;
  if (ts.isTypeReferenceNode(type) && ts.isIdentifier(type.typeName)) {
    const d = resolveInterface(type.typeName.text, type);
    if (d) decl = { name: d.name.text, node: d };
  } else if (ts.isTypeLiteralNode(type)) {
    decl = { name: `{ ... } at ${where(type)}`, node: type };
  }
  if (decl) bindDecl(decl, target, via);
}
function bindDecl(decl: Decl, target: string, via: ts.Node): void {
  const b = bindings.get(decl.node) ?? { decl, targets: new Set<string>(), via: [] };
  b.targets.add(target);
  b.via.push(where(via));
  bindings.set(decl.node, b);
}

function stripCasts(e: ts.Expression): ts.Expression {
  while (ts.isParenthesizedExpression(e) || (ts.isAsExpression(e) && e.type.kind === ts.SyntaxKind.UnknownKeyword)) e = e.expression;
  return e;
}

for (const sf of hostFiles) {
  const visit = (node: ts.Node): void => {
    // kernel.module<T>("inet"): T is the inet module's exports.
    if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression) && node.expression.name.text === "module" &&
      node.typeArguments?.length === 1 && node.arguments.length === 1 && ts.isStringLiteral(node.arguments[0])) {
      bind(node.typeArguments[0], node.arguments[0].text, node);
    }
    // kernel.k as unknown as T: T is (part of) the kernel's exports.
    if (ts.isAsExpression(node) && node.type.kind !== ts.SyntaxKind.UnknownKeyword) {
      const e = stripCasts(node.expression);
      if (ts.isPropertyAccessExpression(e) && e.name.text === "k") bind(node.type, "kernel", node);
    }
    // class Kernel { readonly k: KernelExports }
    if (ts.isPropertyDeclaration(node) && ts.isIdentifier(node.name) && node.name.text === "k" && node.type && ts.isClassDeclaration(node.parent)) {
      bind(node.type, "kernel", node);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
}
// The linker's view of any loadable module (modevent, kmod_heap_top): every module has it.
const moduleExports = (interfaces.get("ModuleExports") ?? []).find((d) => rel(d.getSourceFile().fileName) === "host/kern/linker.ts");
if (moduleExports) for (const m of moduleNames) bindDecl({ name: "ModuleExports", node: moduleExports }, m, moduleExports);

/** Members of an interface, with those of the interfaces it extends. */
function membersOf(node: ts.InterfaceDeclaration | ts.TypeLiteralNode): ts.TypeElement[] {
  const own = [...node.members];
  if (ts.isInterfaceDeclaration(node)) {
    for (const h of node.heritageClauses ?? []) {
      for (const t of h.types) {
        const base = ts.isIdentifier(t.expression) ? resolveInterface(t.expression.text, node) : undefined;
        if (base) own.push(...membersOf(base));
      }
    }
  }
  return own;
}

/** The JavaScript type a Wasm value type crosses the boundary as. */
function jsType(t: ValType): string {
  return t === "i64" ? "bigint" : t === "funcref" || t === "externref" ? "unknown" : "number";
}

function checkMember(m: ts.TypeElement, owner: string, target: string, errors: string[]): void {
  if (!m.name || !(ts.isIdentifier(m.name) || ts.isStringLiteral(m.name))) return; // index signatures
  const name = m.name.text;
  const optional = !!m.questionToken;
  let sig: ts.SignatureDeclarationBase | undefined;
  if (ts.isMethodSignature(m)) sig = m;
  else if (ts.isPropertySignature(m) && m.type && ts.isFunctionTypeNode(m.type)) sig = m.type;
  const a = abi(target);
  const file = target === "kernel" ? "kernel.wasm" : `${target}.wasm`;
  const at = `${where(m)} ${owner}.${name}`;
  if (!sig) {
    if (!optional && !a.exports.some((e) => e.name === name)) errors.push(`${at}: ${file} has no export ${name}`);
    return;
  }
  const t = a.funcs.get(name);
  if (!t) {
    if (!optional) errors.push(`${at}: ${file} exports no function ${name}`);
    return;
  }
  const params = sig.parameters;
  if (params.some((p) => p.dotDotDotToken)) {
    errors.push(`${at}: a rest parameter cannot be checked against ${file} ${name}${formatFuncType(t)}`);
    return;
  }
  if (params.length !== t.params.length) {
    errors.push(`${at}: the host declares ${params.length} parameter(s), ${file} ${name} takes ${t.params.length} ${formatFuncType(t)}`);
  } else {
    params.forEach((p, i) => {
      const want = jsType(t.params[i]);
      const got = p.type?.getText();
      if (got && want !== "unknown" && got !== want && !(want === "number" && got === "boolean")) {
        errors.push(`${at}: parameter ${i + 1} (${p.name.getText()}) is ${got}, ${file} ${name} takes ${t.params[i]} (a ${want} from JavaScript)`);
      }
    });
  }
  const ret = sig.type?.getText();
  if (ret !== undefined) {
    if (t.results.length === 0 && ret !== "void") errors.push(`${at}: the host expects ${ret}, ${file} ${name} returns nothing`);
    else if (t.results.length === 1 && ret !== jsType(t.results[0])) errors.push(`${at}: the host expects ${ret}, ${file} ${name} returns ${t.results[0]} (a ${jsType(t.results[0])})`);
    else if (t.results.length > 1) errors.push(`${at}: ${file} ${name} returns ${t.results.length} values ${formatFuncType(t)}`);
  }
}

// ---------------------------------------------------------------------------------------
// The AssemblyScript side (source text)

const asFiles = [join(root, "assembly"), join(root, "tests/kmod"), join(root, "bench/kmod")].filter(existsSync).flatMap((d) => walk(d));
const asText = new Map(asFiles.map((p) => [p, readFileSync(p, "utf8")]));

/** Wasm value type of an AssemblyScript type in a signature (wasm32: references are i32); undefined for void. */
function asValType(t: string): ValType | undefined {
  t = t.trim();
  if (t === "void") return undefined;
  if (t === "i64" || t === "u64") return "i64";
  if (t === "f32") return "f32";
  if (t === "f64") return "f64";
  if (t === "v128") return "v128";
  return "i32"; // i32 u32 i16 u16 i8 u8 bool usize isize, and every reference type
}

interface External {
  file: string;
  line: number;
  module: string;
  name: string;
  kind: "function" | "const";
  type?: FuncType;
  constType?: ValType;
}
function parseExternals(file: string, text: string): { externals: External[]; unread: number[] } {
  const externals: External[] = [];
  const unread: number[] = [];
  const lineAt = (i: number) => text.slice(0, i).split("\n").length;
  const re = /@external\(\s*"([^"]+)"\s*,\s*"([^"]+)"\s*\)\s*(?:export\s+)?declare\s+(?:function\s+\w+\s*\(([^)]*)\)\s*:\s*([\w.<>[\]]+)|const\s+\w+\s*:\s*(\w+))/y;
  for (let i = text.indexOf("@external("); i >= 0; i = text.indexOf("@external(", i + 1)) {
    const before = text.lastIndexOf("\n", i);
    if (/^\s*\/\//.test(text.slice(before + 1, i))) continue; // in a // comment
    re.lastIndex = i;
    const m = re.exec(text);
    if (!m) {
      unread.push(lineAt(i));
      continue;
    }
    const [, module, name, params, ret, constType] = m;
    if (constType !== undefined) {
      externals.push({ file, line: lineAt(i), module, name, kind: "const", constType: asValType(constType) });
    } else {
      const ps = params.split(",").map((p) => p.trim()).filter(Boolean).map((p) => asValType(p.slice(p.indexOf(":") + 1))!);
      const r = asValType(ret);
      externals.push({ file, line: lineAt(i), module, name, kind: "function", type: { params: ps, results: r ? [r] : [] } });
    }
  }
  return { externals, unread };
}

/** `const NAME[: type] = value;` at the top level of an AssemblyScript file, evaluated where it is numeric. */
function asConstants(file: string): Map<string, number> {
  const out = new Map<string, number>();
  const text = asText.get(file) ?? readFileSync(file, "utf8");
  for (const m of text.matchAll(/^(?:export\s+)?const\s+([A-Za-z_]\w*)\s*(?::\s*\w+)?\s*=\s*([^;]+);/gm)) {
    let expr = m[2].replace(/\/\/.*$/, "").trim().replace(/<\w+>/g, "").replace(/(\d)_(?=\d)/g, "$1");
    expr = expr.replace(/\b[A-Za-z_]\w*\b/g, (n) => (out.has(n) ? `(${out.get(n)})` : n));
    if (!/^[\s\dxXa-fA-F()|&^~<>+\-*/%]+$/.test(expr)) continue;
    try {
      const v = Function(`"use strict"; return (${expr});`)() as unknown;
      if (typeof v === "number" && Number.isFinite(v)) out.set(m[1], v);
    } catch {
      // not a constant expression this reader understands
    }
  }
  return out;
}

/** AssemblyScript files a host comment names: "assembly/netinet/inet.ts", or "sys/socket.ts" (under assembly/). */
function asFilesNamedIn(comment: string): string[] {
  const out: string[] = [];
  for (const m of comment.matchAll(/\b((?:[\w-]+\/)+[\w-]+\.ts)\b/g)) {
    const p = m[1].startsWith("assembly/") ? join(root, m[1]) : join(root, "assembly", m[1]);
    if (existsSync(p) && !out.includes(p)) out.push(p);
  }
  return out;
}

function leadingComments(st: ts.Statement): string {
  const sf = st.getSourceFile();
  return (ts.getLeadingCommentRanges(sf.text, st.pos) ?? []).map((c) => sf.text.slice(c.pos, c.end)).join("\n");
}

/** A numeric literal value (with a leading minus), or undefined. */
function numberOf(e: ts.Expression): number | undefined {
  e = ts.isAsExpression(e) || ts.isParenthesizedExpression(e) ? e.expression : e;
  if (ts.isNumericLiteral(e)) return Number(e.text);
  if (ts.isPrefixUnaryExpression(e) && e.operator === ts.SyntaxKind.MinusToken && ts.isNumericLiteral(e.operand)) return -Number(e.operand.text);
  return undefined;
}

// ---------------------------------------------------------------------------------------

describe("kernel ABI", () => {
  test("the Wasm reader lists what WebAssembly.Module lists", () => {
    const errors: string[] = [];
    for (const target of ["kernel", ...moduleNames]) {
      const bytes = readFileSync(wasmPath(target));
      const a = readWasmAbi(bytes, target);
      const mod = new WebAssembly.Module(bytes);
      const kind = (k: string) => (k === "func" ? "function" : k);
      const exps = WebAssembly.Module.exports(mod).map((e) => `${e.kind} ${e.name}`);
      const imps = WebAssembly.Module.imports(mod).map((i) => `${i.kind} ${i.module}.${i.name}`);
      if (exps.join() !== a.exports.map((e) => `${kind(e.kind)} ${e.name}`).join()) errors.push(`${target}: exports differ`);
      if (imps.join() !== a.imports.map((i) => `${kind(i.kind)} ${i.module}.${i.name}`).join()) errors.push(`${target}: imports differ`);
    }
    report("reader disagreements", errors);
    assert.ok(abi("kernel").funcs.size > 100, "the kernel exports its API");
  });

  test("every host *Exports interface is bound to the kernel or a module", () => {
    const errors: string[] = [];
    for (const [name, decls] of interfaces) {
      if (!name.endsWith("Exports")) continue;
      for (const d of decls) {
        const b = bindings.get(d);
        if (!b) errors.push(`${where(d)} ${name}: not bound to the kernel or a module (reached neither by kernel.module<${name}>("name") nor by kernel.k as unknown as ${name}), so it cannot be checked`);
        else for (const t of b.targets) if (t !== "kernel" && !moduleNames.includes(t)) errors.push(`${where(d)} ${name}: bound to "${t}" (${b.via.join(", ")}), which is not in assembly/linkmap.json`);
      }
    }
    report("unbound host interfaces", errors);
    assert.ok(bindings.get(resolveInterface("KernelExports", hostFiles[0])!)?.targets.has("kernel"), "KernelExports is the Kernel's k");
  });

  test("every function the host declares exists in its .wasm with the same parameters and results", () => {
    const errors: string[] = [];
    let checked = 0;
    for (const { decl, targets } of bindings.values()) {
      for (const target of targets) {
        if (target !== "kernel" && !moduleNames.includes(target)) continue;
        for (const m of membersOf(decl.node)) {
          checkMember(m, decl.name, target, errors);
          checked++;
        }
      }
    }
    report("host declarations that do not match the built Wasm", errors);
    assert.ok(checked > 200, `checked ${checked} members`);
  });

  test("the host calls no kernel export KernelExports does not declare", () => {
    // kernel.k.NAME where KernelExports has no NAME only type-checks through its index
    // signature (as unknown), so nothing above would check NAME: declare it in host/kern/abi.ts.
    const k = resolveInterface("KernelExports", hostFiles[0])!;
    const declared = new Set(membersOf(k).map((m) => (m.name && ts.isIdentifier(m.name) ? m.name.text : "")));
    const errors: string[] = [];
    for (const sf of hostFiles) {
      const visit = (node: ts.Node): void => {
        if (ts.isPropertyAccessExpression(node) && ts.isPropertyAccessExpression(node.expression) && node.expression.name.text === "k" &&
          !declared.has(node.name.text)) {
          const t = abi("kernel").funcs.get(node.name.text);
          errors.push(`${where(node)} ${node.getText()}: not declared in KernelExports (host/kern/abi.ts)${t ? `; kernel.wasm has ${node.name.text}${formatFuncType(t)}` : ", and kernel.wasm does not export it"}`);
        }
        ts.forEachChild(node, visit);
      };
      visit(sf);
    }
    report("undeclared kernel exports the host uses", errors);
  });

  test("every @external in the AssemblyScript sources matches the export it imports", () => {
    const errors: string[] = [];
    const hostGlobals = kernelGlobals();
    let kapi = 0;
    for (const [file, text] of asText) {
      const { externals, unread } = parseExternals(file, text);
      for (const line of unread) errors.push(`${rel(file)}:${line}: an @external this test cannot read (write it on one line: @external("kernel", "name") export declare function name(a: T): R;)`);
      for (const x of externals) {
        if (rel(file) === "assembly/kmod/kapi.ts") kapi++;
        const at = `${rel(file)}:${x.line} @external("${x.module}", "${x.name}")`;
        if (x.module === "kernel" && x.name === "no_such_kernel_function" && rel(file) === "tests/kmod/kmod_badimport.ts") continue; // the fixture for UnresolvedImportError
        if (x.module !== "kernel" && !moduleNames.includes(x.module)) {
          if (x.module !== "env") errors.push(`${at}: "${x.module}" is neither the kernel nor a module of assembly/linkmap.json`);
          continue;
        }
        if (x.kind === "const") {
          const g = x.module === "kernel" ? hostGlobals.get(x.name) : undefined;
          if (!g) errors.push(`${at}: no global of that name is given to modules (host/kern/linker.ts kernelNamespace)`);
          else if (g.type !== x.constType) errors.push(`${at}: declared ${x.constType}, the host gives ${g.type}`);
          continue;
        }
        const t = abi(x.module).funcs.get(x.name);
        if (!t) errors.push(`${at}: ${x.module}.wasm exports no function ${x.name}`);
        else if (!sameType(t, x.type!)) errors.push(`${at}: declared ${formatFuncType(x.type!)}, ${x.module}.wasm ${x.name} is ${formatFuncType(t)}`);
      }
    }
    report("@external declarations that do not match", errors);
    assert.ok(kapi > 100, `read ${kapi} @externals in assembly/kmod/kapi.ts`);
  });

  test("every import of every built module resolves to an export of the same type", () => {
    const errors: string[] = [];
    const hostGlobals = kernelGlobals();
    let badimport = false;
    for (const name of moduleNames) {
      const m = linkmap.modules[name];
      for (const imp of abi(name).imports) {
        const at = `${name}.wasm imports ${imp.kind} ${imp.module}.${imp.name}`;
        if (imp.module === "env") continue; // memory, table and abort: the linker's own (host/kern/linker.ts)
        if (imp.module === "kernel" && imp.kind === "global") {
          const g = hostGlobals.get(imp.name);
          if (!g) errors.push(`${at}: the host gives modules no such global`);
          else if (g.type !== imp.global!.type || g.mutable !== imp.global!.mutable) errors.push(`${at}: ${imp.global!.mutable ? "mut " : ""}${imp.global!.type}, the host gives ${g.mutable ? "mut " : ""}${g.type}`);
          continue;
        }
        if (imp.kind !== "func") {
          errors.push(`${at}: only functions (and kglobals) are imported from the kernel and modules`);
          continue;
        }
        if (imp.module !== "kernel" && !m.depends.includes(imp.module)) {
          errors.push(`${at}: ${imp.module} is not in ${name}'s depends (assembly/linkmap.json)`);
          continue;
        }
        const t = abi(imp.module).funcs.get(imp.name);
        if (name === "kmod_badimport" && imp.module === "kernel" && imp.name === "no_such_kernel_function") {
          badimport = !t; // the fixture for UnresolvedImportError: it must stay unresolved
          continue;
        }
        if (!t) errors.push(`${at}: ${imp.module}.wasm exports no function ${imp.name}`);
        else if (!sameType(t, imp.type!)) errors.push(`${at}${formatFuncType(imp.type!)}: ${imp.module}.wasm exports ${formatFuncType(t)}`);
      }
    }
    report("module imports that do not resolve", errors);
    assert.ok(badimport, "kmod_badimport still imports a kernel function that does not exist");
  });

  test("host constants equal the AssemblyScript constants they mirror", () => {
    const errors: string[] = [];
    let checked = 0;
    for (const sf of hostFiles) {
      for (const st of sf.statements) {
        if (!ts.isVariableStatement(st) || !(st.declarationList.flags & ts.NodeFlags.Const)) continue;
        const files = asFilesNamedIn(leadingComments(st));
        if (files.length === 0) continue;
        const tables = files.map((f) => ({ f, c: asConstants(f) }));
        const check = (name: string, shown: string, value: number | undefined, node: ts.Node) => {
          const at = `${where(node)} ${shown}`;
          if (value === undefined) return errors.push(`${at}: not a number (the comment names ${files.map(rel).join(", ")}, so its values are checked)`);
          const hit = tables.find((t) => t.c.has(name));
          if (!hit) return errors.push(`${at}: ${files.map(rel).join(", ")} define${files.length > 1 ? "" : "s"} no constant ${name}`);
          checked++;
          if (hit.c.get(name) !== value) errors.push(`${at} = ${value}, but ${rel(hit.f)} has ${name} = ${hit.c.get(name)}`);
        };
        for (const d of st.declarationList.declarations) {
          if (!ts.isIdentifier(d.name) || !d.initializer) continue;
          let init: ts.Expression = d.initializer;
          while (ts.isAsExpression(init) || ts.isParenthesizedExpression(init)) init = init.expression;
          // Numbers, and objects of numbers (`SO = { REUSEADDR: 4 }` mirrors SO_REUSEADDR); other
          // constants (tables of names in the kernel's order) are not values to compare.
          if (ts.isObjectLiteralExpression(init)) {
            for (const p of init.properties) {
              if (ts.isPropertyAssignment(p) && (ts.isIdentifier(p.name) || ts.isStringLiteral(p.name))) check(`${d.name.text}_${p.name.text}`, `${d.name.text}.${p.name.text}`, numberOf(p.initializer), p);
              else errors.push(`${where(p)}: a member of ${d.name.text} this test cannot read`);
            }
          } else if (numberOf(init) !== undefined || ts.isIdentifier(init) || ts.isBinaryExpression(init)) {
            check(d.name.text, d.name.text, numberOf(init), d);
          }
        }
      }
    }
    report("host constants that differ from the AssemblyScript side", errors);
    assert.ok(checked > 30, `checked ${checked} constants`);
  });

  test("every binary names its unsigned results (wavnet.unsigned), and the host's view reads them unsigned", () => {
    const errors: string[] = [];
    for (const target of ["kernel", ...moduleNames]) {
      const names = unsignedExports(new WebAssembly.Module(readFileSync(wasmPath(target))), target);
      for (const n of names) {
        const f = abi(target).funcs.get(n);
        if (!f || f.results.join() !== "i32") errors.push(`${target}: ${n} is listed unsigned but ${f ? `returns ${f.results.join() || "nothing"}` : "is not an exported function"}`);
      }
    }
    report("unsigned-section mismatches", errors);
    const kernel = unsignedExports(new WebAssembly.Module(readFileSync(wasmPath("kernel"))), "kernel");
    // Addresses the host takes from the kernel; errno results stay signed.
    for (const n of ["vnet_alloc", "vnet_first", "vnet_base", "ifh_create", "ifh_first", "soh_socket", "soh_accept", "soh_ev_out", "bpfh_attach", "bpf_read_ptr", "kern_iobuf", "leak_entry", "zone_first", "zone_name_ptr"]) {
      assert.ok(kernel.has(n), `${n} is read unsigned`);
    }
    for (const n of ["vnet_destroy", "soh_bind", "ifh_vmove", "kern_boot"]) assert.ok(!kernel.has(n), `${n} returns an errno`);
    const epair = unsignedExports(new WebAssembly.Module(readFileSync(wasmPath("if_epair"))), "if_epair");
    assert.ok(epair.has("epair_peer"));

    // The view: a function returning 0x80000000 gives 2147483648, not -2147483648.
    const bytes = Uint8Array.from([
      0, 0x61, 0x73, 0x6d, 1, 0, 0, 0,
      1, 5, 1, 0x60, 0, 1, 0x7f, // type: () -> i32
      3, 3, 2, 0, 0, // two functions
      7, 9, 2, 1, 0x61, 0, 0, 1, 0x62, 0, 1, // exports a, b
      10, 19, 2, 8, 0, 0x41, 0x80, 0x80, 0x80, 0x80, 0x78, 0x0b, 8, 0, 0x41, 0x80, 0x80, 0x80, 0x80, 0x78, 0x0b, // both i32.const 0x80000000
      0, 17, 15, ...new TextEncoder().encode("wavnet.unsigned"), 0x61, // custom section: "a"
    ]);
    const mod = new WebAssembly.Module(bytes);
    const view = unsignedView<{ a(): number; b(): number }>(mod, new WebAssembly.Instance(mod).exports, "test");
    assert.equal(view.a(), 0x80000000);
    assert.equal(view.b(), -0x80000000, "a result not listed stays signed (an errno)");
    assert.throws(() => unsignedExports(new WebAssembly.Module(bytes.subarray(0, bytes.length - 19)), "plain"), /no "wavnet.unsigned" section/);
  });

  test("no host call passes a bare number where the AssemblyScript side names the selector", () => {
    // Exported functions whose parameter is compared against named constants (`case K_IPQ:`,
    // `what == K_FORWARDING`): the host must pass a named constant there too.
    const selectors = new Map<string, { index: number; param: string; names: string[]; file: string }[]>();
    for (const [file, text] of asText) {
      for (const m of text.matchAll(/^export function (\w+)\s*\(([^)]*)\)[^{]*\{([\s\S]*?)\n\}/gm)) {
        const params = m[2].split(",").map((p) => p.split(":")[0].trim()).filter(Boolean);
        const body = m[3];
        params.forEach((p, index) => {
          const names = new Set<string>();
          if (new RegExp(`switch \\(${p}\\)`).test(body)) for (const c of body.matchAll(/\bcase ([A-Z][A-Z0-9_]*):/g)) names.add(c[1]);
          for (const c of body.matchAll(new RegExp(`\\b${p} ===? ([A-Z][A-Z0-9_]*)\\b`, "g"))) names.add(c[1]);
          if (names.size) selectors.set(m[1], [...(selectors.get(m[1]) ?? []), { index, param: p, names: [...names], file }]);
        });
      }
    }
    assert.ok(selectors.has("inet_get"), "inet_get's selector is named on the AssemblyScript side");
    const errors: string[] = [];
    for (const sf of hostFiles) {
      const visit = (node: ts.Node): void => {
        if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression)) {
          for (const s of selectors.get(node.expression.name.text) ?? []) {
            const arg = node.arguments[s.index];
            if (arg && numberOf(arg) !== undefined) {
              errors.push(`${where(arg)} ${node.expression.name.text}(... ${arg.getText()} ...): ${rel(s.file)} names its \`${s.param}\` values (${s.names.join(", ")}); use a host constant of the same name`);
            }
          }
        }
        ts.forEachChild(node, visit);
      };
      visit(sf);
    }
    report("bare selector numbers", errors);
  });
});

/** The globals host/kern/linker.ts gives modules under "kernel" besides the kernel's exports. */
function kernelGlobals(): Map<string, { type: ValType; mutable: boolean }> {
  const out = new Map<string, { type: ValType; mutable: boolean }>();
  const sf = hostFiles.find((f) => rel(f.fileName) === "host/kern/linker.ts");
  const visit = (node: ts.Node): void => {
    if (ts.isPropertyAssignment(node) && ts.isIdentifier(node.name) && ts.isNewExpression(node.initializer) &&
      node.initializer.expression.getText() === "WebAssembly.Global" && node.initializer.arguments?.[0] && ts.isObjectLiteralExpression(node.initializer.arguments[0])) {
      const o: Record<string, string> = {};
      for (const p of node.initializer.arguments[0].properties) if (ts.isPropertyAssignment(p)) o[p.name.getText()] = p.initializer.getText().replace(/"/g, "");
      out.set(node.name.text, { type: o.value as ValType, mutable: o.mutable === "true" });
    }
    ts.forEachChild(node, visit);
  };
  if (sf) visit(sf);
  return out;
}
