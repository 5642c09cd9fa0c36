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

/** Words of text in lines of at most width characters (a longer word is cut). */
export function wrap(text: string, width: number): string[] {
  const w = Math.max(1, width);
  const lines: string[] = [];
  let cur = "";
  for (let word of text.split(/\s+/).filter((x) => x !== "")) {
    while (word.length > w) {
      if (cur) lines.push(cur);
      cur = "";
      lines.push(word.slice(0, w));
      word = word.slice(w);
    }
    if (cur === "") cur = word;
    else if (cur.length + 1 + word.length <= w) cur += ` ${word}`;
    else {
      lines.push(cur);
      cur = word;
    }
  }
  if (cur !== "" || lines.length === 0) lines.push(cur);
  return lines;
}

/**
 * The result table for a terminal of `width` columns (80 when unknown): step, result, time
 * and the detail in words, the step name and the detail wrapped to fit. The figures are not
 * a column here: the detail says them (and --json has every one as a number).
 */
export function resultTableFit(results: StepResult[], width = 80): string {
  const rows = results.map((r) => [String(r.index + 1), r.name, r.ok ? "ok" : "FAIL", fmtMs(r.durationMs), r.detail]);
  const head = ["#", "STEP", "RESULT", "TIME", "DETAIL"];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fixed = w[0]! + w[2]! + w[3]! + 8;
  // The step name gets up to 40% of what is left (no less than 10), the detail the rest (no less than 16).
  const rest = Math.max(26, width - fixed);
  w[1] = Math.min(w[1]!, Math.max(10, Math.floor(rest * 0.4)));
  w[4] = Math.max(16, rest - w[1]! - 2);
  const out: string[] = [];
  const line = (cells: string[]) => out.push(cells.map((c, i) => (i === 0 ? c.padStart(w[0]!) : i === 4 ? c : c.padEnd(w[i]!))).join("  ").trimEnd());
  line(head.map((h, i) => (i === 0 ? h.padEnd(w[0]!) : h)));
  for (const r of rows) {
    const step = wrap(r[1]!, w[1]!);
    const detail = wrap(r[4]!, w[4]!);
    for (let k = 0; k < Math.max(step.length, detail.length); k++) {
      line(k === 0 ? [r[0]!, step[0]!, r[2]!, r[3]!, detail[0]!] : ["", step[k] ?? "", "", "", detail[k] ?? ""]);
    }
  }
  return out.join("\n");
}
