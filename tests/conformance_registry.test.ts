// The conformance suite's bookkeeping (tests/conformance, docs/conformance.md): the registry
// names each FreeBSD case once, every case that applies has its test, and the count the
// bench reports treats a known divergence (a todo) and a missing test as not passing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { CASES } from "./conformance/cases.js";
import { parseTap, countResults } from "./conformance/results.js";

const dir = join(import.meta.dirname, "conformance");

test("every registered case has one id, and every case that applies has exactly one test naming it", () => {
  const ids = CASES.map((c) => c.id);
  assert.equal(new Set(ids).size, ids.length, "ids are unique");
  const src = readdirSync(dir).filter((f) => f.endsWith(".test.ts")).map((f) => readFileSync(join(dir, f), "utf8")).join("\n");
  for (const c of CASES) {
    const n = src.split(`conformanceTest("${c.id}"`).length - 1;
    assert.equal(n, 1, `${c.id}: ${n} tests`);
    if (c.status !== "applicable") assert.ok(c.reason, `${c.id}: a ${c.status} case says why`);
  }
});

test("the count: a passing test passes; a failure, a todo (known divergence), a skip or no test at all do not", () => {
  const [a, b, c] = CASES.filter((x) => x.status === "applicable");
  const na = CASES.find((x) => x.status === "not-applicable")!;
  const tap = [
    "TAP version 13",
    `ok 1 - ${a.id}: something`,
    `not ok 2 - ${b.id}: something`,
    `ok 3 - ${c.id}: something # TODO a divergence`,
    `ok 4 - ${na.id}: something # SKIP why`,
  ].join("\n");
  const seen = parseTap(tap);
  assert.deepEqual([seen.get(a.id), seen.get(b.id), seen.get(c.id), seen.get(na.id)], ["ok", "fail", "todo", "skip"]);
  const r = countResults(tap);
  assert.equal(r.total, CASES.length);
  assert.equal(r.applicable, CASES.filter((x) => x.status !== "not-applicable").length);
  assert.equal(r.pass, 1, "only the plain pass counts");
  assert.equal(r.notPassing.length, r.applicable - 1, "the rest are named, missing ones included");
  assert.ok(r.notPassing.some((n) => n.id === CASES.filter((x) => x.status === "applicable")[3].id && n.why === "no test ran"));
});
