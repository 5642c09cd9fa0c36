// The result table of a topology's steps, as `wavnet run` prints it and the browser page
// shows it: one row per step (number, name, ok/FAIL, time on the topology's clock, figures,
// detail).

import { formatTable } from "../lib/format.js";
import type { StepResult } from "../topology/index.js";

/** A duration in ms as the CLI writes it: "200.0 ms", "2.95 s", "1.50 ms". */
export const fmtMs = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms < 10 ? 2 : 1)} ms`);

/** A step's figures as "k=v" words (4 significant digits for fractions). */
export function figuresText(f: Record<string, number>): string {
  return Object.entries(f)
    .map(([k, v]) => `${k}=${Number.isInteger(v) ? v : Number(v.toPrecision(4))}`)
    .join(" ");
}

/** The result table: one row per step. */
export function resultTable(results: StepResult[]): string {
  return formatTable(
    ["#", "STEP", "RESULT", "TIME", "FIGURES", "DETAIL"],
    results.map((r) => [r.index + 1, r.name, r.ok ? "ok" : "FAIL", fmtMs(r.durationMs), figuresText(r.figures), r.detail]),
  );
}

/** The line under the table: "11 of 11 steps passed" (", N FAILED" when some did not). */
export function passedLine(results: StepResult[]): string {
  const failed = results.filter((s) => !s.ok).length;
  return `${results.length - failed} of ${results.length} steps passed${failed ? `, ${failed} FAILED` : ""}`;
}
