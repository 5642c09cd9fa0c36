// Builds build/kernel.wasm and build/modules/<name>.wasm from the link map. Skips the work
// when no source, the link map or asconfig changed since the last build (build/.stamp).
import asc from "assemblyscript/asc";
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync, mkdirSync, readdirSync, statSync, existsSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const linkmap = JSON.parse(readFileSync(join(root, "assembly/linkmap.json"), "utf8"));

function sources(dir, out = []) {
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (e === "__tests__" || e === "node_modules") continue;
    if (statSync(p).isDirectory()) sources(p, out);
    else if (p.endsWith(".ts") || p.endsWith(".json")) out.push(p);
  }
  return out;
}

const inputs = [
  ...sources(join(root, "assembly")),
  ...sources(join(root, "tests/kmod")),
  ...sources(join(root, "bench/kmod")),
  join(root, "asconfig.json"),
].filter(existsSync).sort();
const hash = createHash("sha256");
for (const f of inputs) hash.update(f).update(readFileSync(f));
const digest = hash.digest("hex");
const stampFile = join(root, "build/.stamp");
const force = process.argv.includes("--force");
if (!force && existsSync(stampFile) && readFileSync(stampFile, "utf8") === digest) {
  process.exit(0);
}

mkdirSync(join(root, "build/modules"), { recursive: true });

async function compile(label, source, out, memoryBase, tableBase) {
  const args = [
    join(root, source), "--config", join(root, "asconfig.json"), "--target", "release",
    "--memoryBase", String(memoryBase), "--tableBase", String(tableBase), "-o", out,
  ];
  let stderr = "";
  const { error } = await asc.main(args, {
    stdout: { write() {} },
    stderr: { write(s) { stderr += s; } },
  });
  if (error) {
    process.stderr.write(`build: ${label} (${source}) failed\n${stderr}`);
    process.exit(1);
  }
}

const t0 = Date.now();
const k = linkmap.kernel;
await compile("kernel", k.source, join(root, "build/kernel.wasm"), k.memoryBase, k.tableBase);
for (const [name, m] of Object.entries(linkmap.modules)) {
  if (!existsSync(join(root, m.source))) {
    process.stderr.write(`build: module ${name}: source ${m.source} is missing\n`);
    process.exit(1);
  }
  await compile(name, m.source, join(root, `build/modules/${name}.wasm`), m.memoryBase, m.tableBase);
}
writeFileSync(stampFile, digest);
process.stdout.write(`build: kernel and ${Object.keys(linkmap.modules).length} modules in ${Date.now() - t0} ms\n`);
