// wavnet check FILE: the three passes of a topology file (YAML, schema, meaning) and nothing
// else, for editors and CI: exit 0 when the file is good, 2 with every problem otherwise.
// Also what run and shell print for a bad file: each problem as FILE:LINE:COL: field: what,
// with the line of the file under it and a caret at the column; with --json one document
// ({ file, ok, errors: [{ file, line, column, path, message }] }).

import { readFileSync } from "node:fs";
import { TopologyError, TopologyErrors } from "../topology/index.js";
import { loadTopology } from "../node/topology.js";
import { EXIT, write, type Io } from "./io.js";

/** The problems of a TopologyError or TopologyErrors, one each. */
export function problems(e: TopologyError | TopologyErrors): TopologyError[] {
  return e instanceof TopologyErrors ? e.errors : [e];
}

/** The file's line under a message, and a caret at the column (tabs kept so the caret lines up). */
export function excerpt(text: string, line: number, column: number): string {
  const src = text.split(/\r?\n/)[line - 1];
  if (src === undefined) return "";
  const num = String(line).padStart(5);
  const pad = src.slice(0, Math.max(0, column - 1)).replace(/[^\t]/g, " ");
  return `${num} | ${src}\n${" ".repeat(num.length)} | ${pad}^`;
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

/** Every problem as text: its line, then the excerpt of the file where it is. */
export function problemsText(e: TopologyError | TopologyErrors): string {
  const all = problems(e);
  const texts = new Map<string, string | undefined>();
  const out: string[] = [all.length > 1 ? `${all.length} problems:` : ""];
  for (const p of all) {
    if (!texts.has(p.file)) texts.set(p.file, readText(p.file));
    const text = texts.get(p.file);
    out.push(`${all.length > 1 ? "  " : ""}${p.message}`);
    if (text !== undefined && p.line > 0) out.push(...excerpt(text, p.line, p.column).split("\n").map((l) => `${all.length > 1 ? "  " : ""}${l}`));
  }
  return out.filter((l, i) => i > 0 || l !== "").join("\n");
}

/** The problems as JSON objects (what --json prints). */
export function problemsJson(e: TopologyError | TopologyErrors): { file: string; line: number; column: number; path: string; message: string }[] {
  return problems(e).map((p) => ({ file: p.file, line: p.line, column: p.column, path: p.path, message: p.reason }));
}

/** wavnet check FILE [--json]. */
export function check(file: string, flags: { json: boolean }, io: Io): number {
  try {
    const spec = loadTopology(file);
    const counts = { nodes: spec.nodes.length, links: spec.links.length, steps: spec.steps.length };
    if (flags.json) write(io.stdout, JSON.stringify({ file, ok: true, ...counts, errors: [] }, null, 2));
    else write(io.stdout, `${file}: ok (${counts.nodes} nodes, ${counts.links} links, ${counts.steps} steps)`);
    return EXIT.OK;
  } catch (e) {
    if (!(e instanceof TopologyError || e instanceof TopologyErrors)) throw e;
    if (flags.json) write(io.stdout, JSON.stringify({ file, ok: false, errors: problemsJson(e) }, null, 2));
    else write(io.stderr, problemsText(e));
    return EXIT.USAGE;
  }
}
