// npm run mutants [-- --only NAME[,NAME...]] [--list] [--keep] [--no-baseline] [--timeout S]
//
// The mutation check of issue 14: applies, one at a time, the targeted mutations listed in
// scripts/mutants.json to security- and correctness-critical kernel code, rebuilds what the
// mutated file is compiled into, runs the tests named to catch it, and records each mutant
// as killed (a named test failed) or survived (every named test passed: a hole in the tests).
// Prints a table and the survivors; exits 1 if any mutant survived or could not be applied.
//
// The work tree is never edited. Everything happens in a scratch copy of it under the
// system's temp folder (sources, build/, tests; node_modules is a symlink): a mutant is
// applied there, the affected .wasm files are rebuilt there, the tests run there, and the
// file and the .wasm files are put back before the next mutant. Ctrl-C or a crash leaves at
// most a stale scratch folder, which the next run does not reuse. The tree's tracked files
// are hashed before and after, and the run fails loudly if they differ.
//
// A mutant: { name, file, find, replace, tests: [...], why, occurrence?, timeout? }. `find` must occur
// exactly once in `file` (or give `occurrence`, 1-based, when it occurs more often). Tests
// are node:test files (tests/*.test.ts, optionally "file::name pattern" to run only the
// matching tests) or as-pect specs (assembly/__tests__/*.spec.ts, compiled from source).
//
// Results: a table on stdout and bench/results/mutants.json, which the bench group
// "hardening" reports (mutants_total, mutants_survived).

import asc from "assemblyscript/asc";
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  readFileSync, writeFileSync, existsSync, mkdtempSync, openSync, closeSync, cpSync, rmSync, symlinkSync, mkdirSync, copyFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname, resolve, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const argv = process.argv.slice(2);
const flag = (n) => argv.includes(n);
const opt = (n) => {
  const i = argv.indexOf(n);
  if (i < 0) return undefined;
  const v = argv[i + 1];
  if (v === undefined || v.startsWith("--")) die(`${n} needs a value`);
  return v;
};
function die(msg) {
  process.stderr.write(`mutants: ${msg}\n`);
  process.exit(2);
}

const listFile = opt("--file") ?? join(root, "scripts/mutants.json");
const all = JSON.parse(readFileSync(listFile, "utf8")).mutants;
const timeoutS = Number(opt("--timeout") ?? 180);

// ---------------------------------------------------------------------------------------
// The list, checked before anything runs.

const names = new Set();
for (const m of all) {
  for (const k of ["name", "file", "find", "replace", "tests", "why"]) if (m[k] === undefined) die(`mutant ${m.name ?? "?"}: no "${k}"`);
  if (names.has(m.name)) die(`mutant ${m.name} is listed twice`);
  names.add(m.name);
  if (m.find === m.replace) die(`mutant ${m.name}: find and replace are the same`);
  const text = readFileSync(join(root, m.file), "utf8");
  const n = text.split(m.find).length - 1;
  if (n === 0) die(`mutant ${m.name}: the text to find is not in ${m.file} (the code moved: update scripts/mutants.json)`);
  if (n > 1 && m.occurrence === undefined) die(`mutant ${m.name}: the text occurs ${n} times in ${m.file}; give "occurrence"`);
  if (m.occurrence !== undefined && (m.occurrence < 1 || m.occurrence > n)) die(`mutant ${m.name}: occurrence ${m.occurrence} of ${n}`);
  for (const t of m.tests) {
    const f = t.split("::")[0];
    if (!existsSync(join(root, f))) die(`mutant ${m.name}: test file ${f} does not exist`);
  }
}

let chosen = all;
const only = opt("--only");
if (only) {
  const want = only.split(",");
  for (const w of want) if (!names.has(w)) die(`--only ${w}: no such mutant (npm run mutants -- --list)`);
  chosen = all.filter((m) => want.includes(m.name));
}

if (flag("--list")) {
  for (const m of chosen) {
    process.stdout.write(`${m.name}\n  ${m.file}: ${m.why}\n  tests: ${m.tests.join(", ")}\n`);
  }
  process.stdout.write(`${chosen.length} mutants\n`);
  process.exit(0);
}

// ---------------------------------------------------------------------------------------
// The tree's state, so we can prove it was not touched.

function treeDigest() {
  const h = createHash("sha256");
  const r = spawnSync("git", ["ls-files", "-z"], { cwd: root, encoding: "buffer" });
  if (r.status !== 0) return "no git";
  for (const f of r.stdout.toString().split("\0").filter(Boolean).sort()) {
    const p = join(root, f);
    h.update(f);
    if (existsSync(p)) h.update(readFileSync(p));
  }
  return h.digest("hex");
}
const digestBefore = treeDigest();

// The tree's own build first (stamped: nothing happens when it is fresh), so the scratch
// copy starts from a build/ that matches its sources.
{
  const r = spawnSync(process.execPath, [join(root, "scripts/build.mjs")], { cwd: root, stdio: "inherit" });
  if (r.status !== 0) die("npm run build fails on the unmutated tree");
}

// ---------------------------------------------------------------------------------------
// Scratch copy.

const scratch = mkdtempSync(join(tmpdir(), "wavnet-mutants-"));
const skip = new Set(["node_modules", ".git", "dist", "tmp"]);
cpSync(root, scratch, {
  recursive: true,
  filter: (src) => {
    const rel = relative(root, src);
    if (rel === "") return true;
    const top = rel.split(/[\\/]/)[0];
    return !skip.has(top) && !rel.endsWith(".wat");
  },
});
symlinkSync(join(root, "node_modules"), join(scratch, "node_modules"), "dir");

let child = null;
let cleaned = false;
function cleanup() {
  if (cleaned) return;
  cleaned = true;
  if (child) {
    try { process.kill(-child.pid, "SIGKILL"); } catch {}
  }
  if (!flag("--keep")) rmSync(scratch, { recursive: true, force: true });
}
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(sig, () => {
    cleanup();
    process.stderr.write(`\nmutants: stopped by ${sig}; the work tree was never edited (scratch copy removed)\n`);
    process.exit(130);
  });
}
process.on("exit", cleanup);

// ---------------------------------------------------------------------------------------
// What a source file is compiled into: the kernel and every module whose entry imports it,
// directly or not (an import graph of the AssemblyScript sources).

const linkmap = JSON.parse(readFileSync(join(root, "assembly/linkmap.json"), "utf8"));
const targets = [
  { name: "kernel", source: linkmap.kernel.source, memoryBase: linkmap.kernel.memoryBase, tableBase: linkmap.kernel.tableBase, out: "build/kernel.wasm" },
  ...Object.entries(linkmap.modules).map(([name, m]) => ({ name, source: m.source, memoryBase: m.memoryBase, tableBase: m.tableBase, out: `build/modules/${name}.wasm` })),
];
const depsCache = new Map();
function importsOf(file) {
  let d = depsCache.get(file);
  if (d) return d;
  d = [];
  const text = readFileSync(file, "utf8");
  for (const re of [/\bfrom\s+"([^"]+)"/g, /\bimport\s+"([^"]+)"/g]) {
    for (const m of text.matchAll(re)) {
      if (!m[1].startsWith(".")) continue;
      const base = resolve(dirname(file), m[1]);
      const f = [base + ".ts", join(base, "index.ts"), base].find((x) => existsSync(x) && x.endsWith(".ts"));
      if (f) d.push(f);
    }
  }
  depsCache.set(file, d);
  return d;
}
function closure(entry) {
  const seen = new Set();
  const stack = [entry];
  while (stack.length) {
    const f = stack.pop();
    if (seen.has(f)) continue;
    seen.add(f);
    stack.push(...importsOf(f));
  }
  return seen;
}
const closures = new Map(targets.map((t) => [t.name, closure(join(root, t.source))]));
function affected(file) {
  const abs = join(root, file);
  return targets.filter((t) => closures.get(t.name).has(abs));
}

async function compile(t) {
  const args = [
    join(scratch, t.source), "--config", join(scratch, "asconfig.json"), "--target", "release",
    "--memoryBase", String(t.memoryBase), "--tableBase", String(t.tableBase), "-o", join(scratch, t.out),
  ];
  let stderr = "";
  const { error } = await asc.main(args, { stdout: { write() {} }, stderr: { write(s) { stderr += s; } } });
  return error ? stderr || String(error) : null;
}

// ---------------------------------------------------------------------------------------
// Running tests in the scratch copy.

// Output goes to a file, not a pipe: binaryen (inside as-pect) writes with writeSync, which
// fails with EAGAIN on a full non-blocking pipe and kills the run.
function runCmd(cmd, args, limitS) {
  return new Promise((res) => {
    const t0 = Date.now();
    const log = join(scratch, ".mutant-run.log");
    const fd = openSync(log, "w");
    child = spawn(cmd, args, { cwd: scratch, detached: true, stdio: ["ignore", fd, fd], env: { ...process.env, NODE_ENV: "test", FORCE_COLOR: "0" } });
    closeSync(fd);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try { process.kill(-child.pid, "SIGKILL"); } catch {}
    }, limitS * 1000);
    child.on("close", (code) => {
      clearTimeout(timer);
      child = null;
      let out = readFileSync(log, "utf8");
      if (out.length > 200_000) out = out.slice(-200_000);
      res({ code: timedOut ? -1 : code, timedOut, out, s: (Date.now() - t0) / 1000 });
    });
  });
}

function runTest(spec, limitS = timeoutS) {
  const [file, pattern] = spec.split("::");
  if (file.endsWith(".spec.ts")) {
    const cfg = join(scratch, `as-pect.mutant.config.js`);
    writeFileSync(cfg, `import base from "./as-pect.config.js";\nexport default { ...base, entries: [${JSON.stringify(file)}] };\n`);
    // A relative config path: as-pect 8 fails (exit 7) on an absolute one.
    return runCmd(process.execPath, [join(scratch, "node_modules/@as-pect/cli/bin/asp.js"), "--summary", "-c", relative(scratch, cfg)], limitS);
  }
  const args = ["--import", "tsx", "--test", "--test-reporter=tap"];
  if (pattern) args.push("--test-name-pattern", pattern);
  args.push(file);
  return runCmd(process.execPath, args, limitS);
}

/** A node:test run whose TAP summary says no test passed (a name pattern matching nothing). */
function ranNone(spec, out) {
  if (spec.split("::")[0].endsWith(".spec.ts")) return false;
  const m = out.match(/^# pass (\d+)/m);
  return !m || Number(m[1]) === 0;
}

function firstFailure(out) {
  const lines = out.split("\n");
  const i = lines.findIndex((l) => /not ok|AssertionError|✖|FAIL|Error:/.test(l));
  return i < 0 ? "" : lines[i].trim().slice(0, 140);
}

// ---------------------------------------------------------------------------------------

const results = [];
const t0 = Date.now();
let failedSetup = false;
try {
  if (!flag("--no-baseline")) {
    const specs = [...new Set(chosen.flatMap((m) => m.tests))];
    process.stderr.write(`mutants: baseline: ${specs.length} test runs on the unmutated code\n`);
    for (const s of specs) {
      const r = await runTest(s);
      if (r.code !== 0 || ranNone(s, r.out)) {
        process.stderr.write(`mutants: baseline: ${s} ${r.code !== 0 ? "fails without any mutation; fix that first" : "runs no test (a name pattern that matches nothing?)"}\n${r.out.slice(-3000)}\n`);
        failedSetup = true;
        break;
      }
    }
  }
  for (const m of failedSetup ? [] : chosen) {
    const file = join(scratch, m.file);
    const orig = readFileSync(file, "utf8");
    const parts = orig.split(m.find);
    const occ = m.occurrence ?? 1;
    const mutated = parts.slice(0, occ).join(m.find) + m.replace + parts.slice(occ).join(m.find);
    // Host tests load build/; as-pect specs compile the sources themselves.
    const hostTests = m.tests.some((t) => !t.split("::")[0].endsWith(".spec.ts"));
    const wasm = hostTests && (m.file.startsWith("assembly/") || m.file.startsWith("tests/kmod/")) ? affected(m.file) : [];
    const saved = wasm.map((t) => [t, readFileSync(join(scratch, t.out))]);
    const started = Date.now();
    const row = { name: m.name, file: m.file, status: "survived", by: "", seconds: 0, note: "" };
    process.stderr.write(`mutants: ${m.name} (${m.file}; rebuild ${wasm.map((t) => t.name).join(", ") || "nothing"}) ... `);
    try {
      writeFileSync(file, mutated);
      for (const t of wasm) {
        const err = await compile(t);
        if (err) {
          row.status = "error";
          row.note = `does not compile (${t.name}): ${err.split("\n").find((l) => /ERROR/.test(l)) ?? err.split("\n")[0]}`;
          break;
        }
      }
      if (row.status !== "error") {
        for (const s of m.tests) {
          const r = await runTest(s, m.timeout ?? timeoutS);
          if (r.code !== 0) {
            row.status = "killed";
            row.by = s;
            row.note = r.timedOut ? `timed out after ${m.timeout ?? timeoutS} s (the mutant makes the test hang)` : firstFailure(r.out);
            break;
          }
        }
      }
    } finally {
      writeFileSync(file, orig);
      for (const [t, bytes] of saved) writeFileSync(join(scratch, t.out), bytes);
    }
    row.seconds = Math.round((Date.now() - started) / 100) / 10;
    results.push(row);
    process.stderr.write(`${row.status}${row.by ? ` by ${row.by}` : ""} (${row.seconds} s)\n`);
  }
} finally {
  cleanup();
}

const digestAfter = treeDigest();
if (digestAfter !== digestBefore) {
  process.stderr.write("mutants: the work tree's tracked files changed during the run (not by this script, which edits only its scratch copy): check git diff\n");
}
if (failedSetup) process.exit(2);

// ---------------------------------------------------------------------------------------
// Report.

const w = (s, n) => String(s).padEnd(n);
const nameW = Math.max(6, ...results.map((r) => r.name.length)) + 2;
process.stdout.write(`\n${w("MUTANT", nameW)}${w("STATUS", 10)}${w("SECONDS", 9)}KILLED BY / NOTE\n`);
for (const r of results) {
  process.stdout.write(`${w(r.name, nameW)}${w(r.status, 10)}${w(r.seconds, 9)}${r.by}${r.by && r.note ? "  " : ""}${r.note}\n`);
}
const survived = results.filter((r) => r.status === "survived");
const errors = results.filter((r) => r.status === "error");
const killed = results.filter((r) => r.status === "killed");
process.stdout.write(`\n${results.length} mutants: ${killed.length} killed, ${survived.length} survived, ${errors.length} could not be applied; ${Math.round((Date.now() - t0) / 1000)} s\n`);
if (survived.length) {
  process.stdout.write("\nSurvivors (no named test failed; sharpen a test until one does):\n");
  for (const r of survived) {
    const m = chosen.find((x) => x.name === r.name);
    process.stdout.write(`  ${r.name}  ${m.file}\n    ${m.why}\n    named tests: ${m.tests.join(", ")}\n`);
  }
}

// The figures the bench reads. A partial run (--only) is written beside, not over, the full one.
const commit = spawnSync("git", ["rev-parse", "--short", "HEAD"], { cwd: root, encoding: "utf8" }).stdout.trim();
const outFile = join(root, only ? "bench/results/mutants-partial.json" : "bench/results/mutants.json");
mkdirSync(dirname(outFile), { recursive: true });
writeFileSync(outFile, JSON.stringify({
  date: new Date().toISOString(),
  commit,
  tree_clean: digestAfter === digestBefore,
  mutants_total: results.length,
  mutants_killed: killed.length,
  mutants_survived: survived.length,
  mutants_errors: errors.length,
  seconds: Math.round((Date.now() - t0) / 1000),
  results,
}, null, 2) + "\n");
process.stdout.write(`written ${relative(root, outFile)}\n`);
process.exit(survived.length || errors.length || digestAfter !== digestBefore ? 1 : 0);
