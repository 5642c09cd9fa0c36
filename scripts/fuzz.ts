// npm run fuzz -- [--minutes N | --seconds N] [--seed S] [--path NAME[,NAME]] [--no-save] [--replay]
//
// The long fuzz run of issue 14 (tests/fuzz/: generators in paths.ts, invariants in world.ts,
// runner in harness.ts): every input path round-robin until the time is up, each failing case
// shrunk and saved as tests/fuzz/corpus/regress-<path>-<id>.json (which `npm test` replays).
// Prints the figures and writes bench/results/fuzz.json (fuzz_cases_per_s, fuzz_failures),
// which the bench group "hardening" reports. Exit 1 if any case failed.

import { writeFileSync, mkdirSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { fuzzFor, regressionFiles, replay, WorldBox } from "../tests/fuzz/harness.js";
import { closeRawSocket, PATHS } from "../tests/fuzz/paths.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const argv = process.argv.slice(2);
const opt = (n: string) => {
  const i = argv.indexOf(n);
  return i >= 0 ? argv[i + 1] : undefined;
};
const seconds = opt("--seconds") !== undefined ? Number(opt("--seconds")) : Number(opt("--minutes") ?? 1) * 60;
const seed = Number(opt("--seed") ?? Date.now() % 1_000_000_000);
const paths = opt("--path")?.split(",");
if (!Number.isFinite(seconds) || seconds <= 0) {
  process.stderr.write("fuzz: --minutes N (or --seconds N) must be a positive number\n");
  process.exit(2);
}
const log = (s: string) => process.stderr.write(`fuzz: ${s}\n`);

if (argv.includes("--replay")) {
  const box = new WorldBox();
  let bad = 0;
  for (const f of regressionFiles()) {
    try {
      await replay(box, f);
      log(`ok   ${f}`);
    } catch (e) {
      bad++;
      log(`FAIL ${f}: ${(e as Error).message.split("\n")[0]}`);
    }
  }
  box.close();
  closeRawSocket();
  process.exit(bad ? 1 : 0);
}

log(`${seconds} s, seed ${seed}, paths ${(paths ?? PATHS.map((p) => p.name)).join(", ")}`);
const stats = await fuzzFor({ seconds, seed, paths, save: !argv.includes("--no-save"), log });
closeRawSocket();
const perS = stats.cases / stats.seconds;
process.stdout.write(`\nfuzz: ${stats.cases} cases in ${stats.seconds.toFixed(1)} s = ${perS.toFixed(0)} cases/s, ${stats.failures.length} failing cases, ${stats.distinct} distinct (seed ${seed})\n`);
for (const [p, n] of Object.entries(stats.byPath)) process.stdout.write(`  ${p.padEnd(10)} ${n}\n`);
for (const f of stats.failures) process.stdout.write(`FAIL ${f.path}: ${f.message.split("\n")[0]}${f.file ? `\n  saved ${f.file}` : ""}\n`);
const out = join(root, "bench/results/fuzz.json");
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify({
  date: new Date().toISOString(), seed, seconds: Math.round(stats.seconds), cases: stats.cases,
  fuzz_cases_per_s: Math.round(perS), fuzz_failures: stats.failures.length, distinct_failures: stats.distinct, by_path: stats.byPath,
  failures: stats.failures.map((f) => ({ path: f.path, seed: f.seed, message: f.message.split("\n")[0], file: f.file })),
}, null, 2) + "\n");
process.exit(stats.failures.length ? 1 : 0);
