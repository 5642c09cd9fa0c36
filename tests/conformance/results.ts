// Running the conformance suite in a child process and counting it against the registry
// (bench/groups/conformance.ts reports the figures). A case passes when its test ran and
// passed, not as a todo (a known divergence) nor skipped (not applicable); an applicable
// case with no test at all counts as not passing and is named.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CASES } from "./cases.js";

const here = fileURLToPath(new URL(".", import.meta.url));
const root = join(here, "../..");

export interface ConformanceResults {
  total: number;
  applicable: number;
  pass: number;
  /** Applicable cases that did not pass, with what happened (failed, todo, missing). */
  notPassing: { id: string; why: string }[];
}

/** Parse the TAP of a run: test name's id (before the first ':') -> ok / not ok / todo / skip. */
export function parseTap(tap: string): Map<string, "ok" | "fail" | "todo" | "skip"> {
  const out = new Map<string, "ok" | "fail" | "todo" | "skip">();
  for (const line of tap.split("\n")) {
    const m = /^(not ok|ok) \d+ - ([A-Za-z0-9_]+): .*?(?: # (TODO|SKIP)\b.*)?$/.exec(line);
    if (!m) continue;
    const id = m[2];
    const r = m[3] === "TODO" ? "todo" : m[3] === "SKIP" ? "skip" : m[1] === "ok" ? "ok" : "fail";
    // A case run twice counts by its worst outcome.
    if (out.get(id) === undefined || r !== "ok") out.set(id, r);
  }
  return out;
}

export function countResults(tap: string): ConformanceResults {
  const seen = parseTap(tap);
  const applicable = CASES.filter((c) => c.status !== "not-applicable");
  const notPassing: { id: string; why: string }[] = [];
  let pass = 0;
  for (const c of applicable) {
    const r = seen.get(c.id);
    if (r === "ok" && c.status === "applicable") pass++;
    else notPassing.push({ id: c.id, why: r === undefined ? "no test ran" : r === "todo" ? `known divergence: ${c.reason}` : r === "skip" ? "skipped" : "failed" });
  }
  return { total: CASES.length, applicable: applicable.length, pass, notPassing };
}

/** Run tests/conformance/*.test.ts with node's test runner (TAP) and count. */
export function runConformance(): ConformanceResults & { exitCode: number | null } {
  const files = readdirSync(here).filter((f) => f.endsWith(".test.ts")).sort().map((f) => join("tests/conformance", f));
  const r = spawnSync(process.execPath, ["--import", "tsx", "--test", "--test-reporter=tap", ...files], { cwd: root, encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.error) throw new Error(`tests/conformance: could not run the suite: ${r.error.message}`);
  return { ...countResults(r.stdout), exitCode: r.status };
}
