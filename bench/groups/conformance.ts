// Group "conformance": FreeBSD's own network regression cases re-created in
// tests/conformance (issue 17; docs/conformance.md). Runs the suite in a child process and
// counts its results against the registry (tests/conformance/cases.ts): every case,
// those that apply to wavnet, and those that pass (a known divergence runs as a todo and
// does not count as passing).
import type { Group, GroupContext } from "../lib.js";
import { runConformance } from "../../tests/conformance/results.js";

async function run(ctx: GroupContext): Promise<void> {
  const r = runConformance();
  for (const n of r.notPassing) ctx.log(`conformance: ${n.id} not passing (${n.why})`);
  const note = r.notPassing.length ? `not passing: ${r.notPassing.map((n) => n.id).join(", ")}` : undefined;
  ctx.report("freebsd_cases_total", r.total);
  ctx.report("freebsd_cases_applicable", r.applicable);
  ctx.report("freebsd_cases_pass", r.pass, { note });
}

const group: Group = {
  name: "conformance",
  description: "FreeBSD regression cases re-created (tests/conformance): how many, how many apply, how many pass",
  metrics: [
    { name: "freebsd_cases_total", unit: "cases", description: "FreeBSD test cases in the registry (tests/conformance/cases.ts)" },
    { name: "freebsd_cases_applicable", unit: "cases", description: "of them, those that apply to wavnet" },
    { name: "freebsd_cases_pass", unit: "cases", description: "applicable cases whose test passes (known divergences do not)" },
  ],
  run,
};

export default group;
