// How much `wavnet run` says: -q (quiet) prints only what failed and how it ended, so a
// script or CI log shows nothing for a green run; -v (verbose) prints every step as it
// finishes, with its whole detail, its figures and where the file defines it, before the
// usual table. The default sits between: a progress line, the table, the accounting.

import type { StepResult } from "../topology/index.js";
import { fmtMs } from "../shell/results.js";

export type Verbosity = "quiet" | "normal" | "verbose";

/** A figure as the table would print it: integers as they are, others to 3 significant decimals. */
function figure(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Number(v.toFixed(3)));
}

/** -v: one finished step, every line of what is known about it. */
export function verboseStep(r: StepResult, total: number): string {
  const o = r.origin;
  const where = o ? ` at ${o.file}:${o.line}:${o.column}` : "";
  const figs = Object.entries(r.figures ?? {});
  return [
    `[${r.index + 1}/${total}] ${r.name}: ${r.ok ? "ok" : "FAIL"} (${r.action}${where}; ${fmtMs(r.durationMs)} on the lab's clock, ${fmtMs(r.wallMs)} wall)`,
    `    ${r.detail}`,
    ...(figs.length ? [`    ${figs.map(([k, v]) => `${k}=${figure(v)}`).join(" ")}`] : []),
  ].join("\n");
}

/**
 * -q: after the failure lines printed as they happened, the end in one line when something
 * went wrong (which steps failed, a leak, an interrupt) and nothing when all is well: the
 * exit status says it.
 */
export function quietEnd(steps: StepResult[], teardownOk: boolean, exitCode: number, interrupted: boolean): string | undefined {
  if (exitCode === 0) return undefined;
  const failed = steps.filter((s) => !s.ok).length;
  const why = [
    ...(failed ? [`${failed} of ${steps.length} step${steps.length === 1 ? "" : "s"} FAILED`] : []),
    ...(interrupted ? ["interrupted"] : []),
    ...(teardownOk ? [] : ["LEAK: the kernel did not get back everything the topology used"]),
  ];
  return `wavnet run: exit ${exitCode}: ${why.join("; ")}`;
}
