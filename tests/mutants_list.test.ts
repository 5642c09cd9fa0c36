// scripts/mutants.json is read by `npm run mutants`, which takes minutes and runs outside
// npm test. A mutant whose `find` no longer matches its file (the code moved on) would only
// be found then; this checks every entry against the tree as it is, in milliseconds.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";

const root = new URL("../", import.meta.url);
interface Mutant { name: string; file: string; find: string; replace: string; tests: string[]; occurrence?: number }
const { mutants } = JSON.parse(readFileSync(new URL("scripts/mutants.json", root), "utf8")) as { mutants: Mutant[] };

test("every mutant applies to the tree as it is: its find occurs once (or at its occurrence), its tests exist", () => {
  assert.ok(mutants.length > 0);
  const names = new Set<string>();
  for (const m of mutants) {
    assert.ok(!names.has(m.name), `${m.name}: a second mutant of that name`);
    names.add(m.name);
    const text = readFileSync(new URL(m.file, root), "utf8");
    const n = text.split(m.find).length - 1;
    if (m.occurrence === undefined) assert.equal(n, 1, `${m.name}: ${JSON.stringify(m.find)} occurs ${n} times in ${m.file}`);
    else assert.ok(m.occurrence >= 1 && m.occurrence <= n, `${m.name}: occurrence ${m.occurrence} of ${JSON.stringify(m.find)}, which occurs ${n} times in ${m.file}`);
    assert.notEqual(m.find, m.replace, `${m.name}: replace changes nothing`);
    assert.ok(m.tests.length > 0, `${m.name}: no test named to catch it`);
    for (const t of m.tests) assert.ok(existsSync(new URL(t.split("::")[0]!, root)), `${m.name}: ${t} does not exist`);
  }
});
