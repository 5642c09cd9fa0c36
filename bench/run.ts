// npm run bench [-- group ...]: run benchmark groups, print a table per group and merge the
// figures into bench/results/latest.json (schema: bench/README.md, docs DESIGN "Bench
// results"). Running some groups keeps the other groups' metrics already in the file.
//
//   npm run bench                 every group
//   npm run bench -- kernel       one group (names: --list)
//   npm run bench -- --list       the groups and their metrics
//   npm run bench -- --out FILE   write somewhere else (default bench/results/latest.json)
//   npm run bench -- --no-write   print the tables only
import { fileURLToPath } from "node:url";
import { spawnSync } from "node:child_process";
import { groups } from "./groups/index.js";
import { runGroup, formatGroup, machine, readResults, mergeResults, writeResults, errMessage, type GroupResult } from "./lib.js";

const defaultOut = fileURLToPath(new URL("./results/latest.json", import.meta.url));

function usage(): string {
  return "usage: npm run bench [-- [--list] [--no-write] [--out FILE] [group ...]]\ngroups: " + groups.map((g) => g.name).join(", ");
}

async function main(argv: string[]): Promise<number> {
  let out = defaultOut;
  let write = true;
  const names: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--list") {
      for (const g of groups) {
        console.log(`${g.name}: ${g.description}`);
        for (const m of g.metrics) console.log(`  ${m.name} (${m.unit}): ${m.description}`);
      }
      return 0;
    } else if (a === "--no-write") write = false;
    else if (a === "--out") {
      const f = argv[++i];
      if (!f) {
        console.error(`--out needs a file\n${usage()}`);
        return 2;
      }
      out = f;
    } else if (a === "-h" || a === "--help") {
      console.log(usage());
      return 0;
    } else if (a.startsWith("-")) {
      console.error(`unknown option ${a}\n${usage()}`);
      return 2;
    } else names.push(a);
  }
  const unknown = names.filter((n) => !groups.some((g) => g.name === n));
  if (unknown.length) {
    console.error(`unknown bench group${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")}\n${usage()}`);
    return 2;
  }
  const selected = names.length ? groups.filter((g) => names.includes(g.name)) : groups;
  if (selected.length > 1) {
    // Each group in a process of its own: one group's memory (100,000 vnets) or JIT state
    // must not move another's figures. Each child merges its metrics into the file in turn.
    let code = 0;
    for (const g of selected) {
      const args = ["--import", "tsx", fileURLToPath(import.meta.url), g.name, "--out", out, ...(write ? [] : ["--no-write"])];
      const r = spawnSync(process.execPath, args, { stdio: "inherit" });
      if (r.status !== 0) code = 1;
    }
    return code;
  }
  const mach = machine();
  console.log(`wavnet bench: ${mach.cpu}, ${mach.cores} cores, ${(mach.memory_bytes / 2 ** 30).toFixed(1)} GiB, node ${mach.node}, ${mach.os}${mach.root ? ", root" : ""}`);
  const results: GroupResult[] = [];
  for (const g of selected) {
    const r = await runGroup(g, (s) => process.stderr.write(s + "\n"));
    results.push(r);
    console.log("\n" + formatGroup(r));
  }
  if (write) {
    const merged = mergeResults(readResults(out), results, mach);
    writeResults(out, merged);
    console.log(`\nwrote ${out} (${Object.keys(merged.metrics).length} metrics)`);
  }
  return results.some((r) => r.error) ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    console.error(`bench: ${errMessage(e)}`);
    if (e instanceof Error && e.stack) console.error(e.stack);
    process.exit(1);
  },
);
