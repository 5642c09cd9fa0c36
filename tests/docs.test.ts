// Every import the README and docs/ show resolves: each name a code example imports from a
// public entry point ("wavnet", "wavnet/core", ...) is exported there, checked twice: by tsc
// against the shipped .d.ts (types and values) and by importing the built entry (values).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync, mkdirSync, writeFileSync, rmSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { join } from "node:path";

const root = fileURLToPath(new URL("..", import.meta.url));

interface DocImport { file: string; line: number; names: { name: string; type: boolean }[]; from: string }

function docImports(): DocImport[] {
  const out: DocImport[] = [];
  const files = ["README.md", ...readdirSync(join(root, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];
  for (const file of files) {
    const lines = readFileSync(join(root, file), "utf8").split("\n");
    let inCode = false;
    lines.forEach((text, i) => {
      if (/^\s*```/.test(text)) inCode = !inCode;
      if (!inCode) return;
      const m = /^\s*import\s+(type\s+)?\{([^}]*)\}\s+from\s+"(wavnet(?:\/[a-z]+)?)"/.exec(text);
      if (!m) return;
      const names = m[2]!.split(",").map((s) => s.trim()).filter((s) => s && s !== "...").map((s) => {
        const type = Boolean(m[1]) || s.startsWith("type ");
        return { name: s.replace(/^type\s+/, "").split(/\s+as\s+/)[0]!, type };
      });
      out.push({ file, line: i + 1, names, from: m[3]! });
    });
  }
  return out;
}

test("every import shown in README.md and docs/ names an export of a public entry point", async () => {
  const imports = docImports();
  assert.ok(imports.length >= 10, `found the docs' imports (${imports.length})`);
  // Values: the built entry has them.
  for (const imp of imports) {
    const mod = (await import(imp.from)) as Record<string, unknown>;
    for (const n of imp.names) {
      if (!n.type) assert.ok(n.name in mod, `${imp.file}:${imp.line}: "${imp.from}" exports no ${n.name}`);
    }
  }
  // Types and values: tsc against the .d.ts, one alias per import so each line is checked.
  const dir = join(root, "tmp", "docs-imports");
  mkdirSync(dir, { recursive: true });
  try {
    const src = imports.map((imp, i) => `import ${imp.names.every((n) => n.type) ? "type " : ""}{ ${imp.names.map((n, j) => `${n.type ? "type " : ""}${n.name} as _${i}_${j}`).join(", ")} } from "${imp.from}"; // ${imp.file}:${imp.line}`);
    writeFileSync(join(dir, "imports.ts"), `${src.join("\n")}\nexport {};\n`);
    writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({
      compilerOptions: { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, noEmit: true, noUnusedLocals: false, types: ["node"], typeRoots: [join(root, "node_modules/@types")] },
      files: ["imports.ts"],
    }));
    let out = "";
    try {
      execFileSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", dir], { encoding: "utf8" });
    } catch (e) {
      out = String((e as { stdout?: string }).stdout ?? e);
    }
    // Map tsc's line numbers back to the docs.
    const lines = readFileSync(join(dir, "imports.ts"), "utf8").split("\n");
    const where = out.replace(/imports\.ts\((\d+),\d+\)/g, (_, l: string) => lines[Number(l) - 1]!.split("// ")[1] ?? `line ${l}`);
    assert.equal(where.trim(), "", `the docs import what the package does not export:\n${where}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
