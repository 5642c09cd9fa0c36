// Topology files: YAML text -> TopologySpec. Three passes, each reporting every problem it
// finds with file, line, column and field path: (1) YAML syntax, (2) the JSON Schema in
// schema/topology.schema.json (ajv: unknown fields, types, enums, ranges), (3) meaning:
// names, addresses, prefixes, routes, condition values, generator parameters, references
// between nodes, links and steps. A later pass runs only when the earlier ones found
// nothing, so every message is about the file as written, never a consequence of another.

import { parseDocument, LineCounter, Parser } from "yaml";
import type { ErrorObject, ValidateFunction } from "ajv";
import validateSchema from "./schema_validate.js";
import type { TopologySpec } from "./spec.js";
import { TopologyError } from "./errors.js";
import { Locator, bundle, dedupe, distance, type Path } from "./locate.js";
import { Checker } from "./check.js";
import schemaData from "./schema_data.js";
import { show } from "../lib/format.js";

type Obj = Record<string, unknown>;

/** The JSON Schema of topology files (schema/topology.schema.json, taken as data). */
export const TOPOLOGY_SCHEMA: object = schemaData;
/** Its validator, compiled by ajv at build time (scripts/build.mjs). */
const schemaValidator = validateSchema as unknown as ValidateFunction;

/** Parse and check a topology; throws TopologyError (one problem) or TopologyErrors (several). */
export function parseTopology(text: string, file = "<string>"): TopologySpec {
  if (typeof text !== "string") throw new TopologyError(`expected the file's text as a string, got ${typeof text}`, file);
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const loc = new Locator(doc, lc, file, text);
  const errors: TopologyError[] = [];
  const seen = new Set<number>();
  const placed = doc.errors.map((e) => ({ e, at: yamlPlace(text, e.pos[0], e.message) }));
  // What follows an unclosed quote or bracket is read as part of it: errors there are its echo.
  const opened = Math.min(...placed.map((p) => p.at.opened ?? Infinity));
  for (const { e, at } of placed) {
    if (at.opened === undefined && e.pos[0] > opened) continue;
    const lp = lc.linePos(at.offset);
    // One error a line: the library often says the same thing twice, or once more on the next line.
    if (seen.has(lp.line)) continue;
    seen.add(lp.line);
    const what = e.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "").replace(/^Missing closing (["'])quote$/, "missing closing $1");
    errors.push(new TopologyError(`YAML: ${what}${at.note ? ` (${at.note})` : ""}`, file, lp.line, lp.col));
  }
  if (errors.length) throw bundle(errors);
  const data = doc.toJS({ maxAliasCount: 1000 }) as unknown;
  if (data === null || data === undefined) throw new TopologyError("the file is empty: a topology has at least nodes or generators", file, 1, 1);
  if (typeof data !== "object" || Array.isArray(data)) throw new TopologyError("a topology file is a mapping (name:, nodes:, links:, ...) at the top", file, 1, 1);

  const validate = schemaValidator;
  if (!validate(data)) {
    for (const e of typos(validate.errors ?? [])) errors.push(schemaError(loc, e));
    throw bundle(dedupe(errors));
  }
  const spec = new Checker(loc, data as Obj).run();
  return spec;
}

/** A CST token as yaml's Parser gives it (only what yamlPlace reads). */
interface Token {
  type: string;
  offset: number;
  source?: string;
  start?: { offset: number; source: string };
  end?: { source: string }[];
}

/** Every token of the concrete syntax tree, in document order. */
function* tokens(t: unknown): Generator<Token> {
  if (!t || typeof t !== "object") return;
  if ("type" in t && "offset" in t) yield t as Token;
  for (const v of Object.values(t)) {
    if (Array.isArray(v)) for (const x of v) yield* tokens(x);
    else if (v && typeof v === "object") yield* tokens(v);
  }
}

/** The offset just after the last non-blank character before `off` (the end of the line where something was left open). */
function endOfContentBefore(text: string, off: number): number {
  let i = Math.min(off, text.length) - 1;
  while (i >= 0 && /\s/.test(text[i]!)) i--;
  // A comment at the end of that line is not where the closer goes: before it.
  const lineStart = text.lastIndexOf("\n", i) + 1;
  const hash = text.slice(lineStart, i + 1).search(/\s#/);
  return hash >= 0 ? lineStart + hash : i + 1;
}

/**
 * Where a YAML syntax error really is. The yaml library reports an unclosed quote at the end
 * of the file and an unclosed [ or { at the start of the next line (one line late, or more):
 * a quote is placed at its opening, a bracket at the end of the line that should close it,
 * with a note saying where it opened. Other errors stay where the library puts them.
 */
function yamlPlace(text: string, off: number, message: string): { offset: number; note?: string; opened?: number } {
  const lineStart = text.lastIndexOf("\n", off - 1) + 1;
  const atLineStart = off >= text.length || text.slice(lineStart, off).trim() === "";
  const all = [...tokens([...new Parser().parse(text)])];
  const where = (o: number) => {
    const before = text.slice(0, o);
    return `line ${before.split("\n").length}, column ${o - before.lastIndexOf("\n")}`;
  };
  if (/closing ["']?quote/i.test(message)) {
    const open = all.filter((t) => t.offset <= off && ((t.type === "double-quoted-scalar" && !/^"(?:[^"\\]|\\.)*"$/s.test(t.source ?? "")) ||
      (t.type === "single-quoted-scalar" && !/^'(?:[^']|'')*'$/s.test(t.source ?? ""))));
    const q = open[open.length - 1];
    if (q) return { offset: q.offset, note: "the quote opened here is never closed", opened: q.offset };
  }
  if (/^Flow (sequence|map)|flow collection/i.test(message) && atLineStart) {
    const open = all.filter((t) => t.type === "flow-collection" && t.offset < off && t.start &&
      !(t.end ?? []).some((x) => x.source === (t.start!.source === "[" ? "]" : "}")));
    const f = open[open.length - 1];
    if (f) return { offset: endOfContentBefore(text, lineStart), note: `the ${f.start!.source} opened at ${where(f.start!.offset)} is not closed: a ${f.start!.source === "[" ? "]" : "}"} is missing`, opened: f.start!.offset };
  }
  if (off >= text.length) return { offset: endOfContentBefore(text, off) };
  return { offset: off };
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  return `${typeof v} ${JSON.stringify(v)}`;
}

/**
 * A misspelt required field is one mistake, not two ("unknown field nmae" and "missing
 * field name"): the unknown one says what was meant and the missing one is dropped.
 */
function typos(errors: ErrorObject[]): ErrorObject[] {
  const out = [...errors];
  for (const req of errors) {
    if (req.keyword !== "required") continue;
    const missing = String((req.params as { missingProperty: string }).missingProperty);
    const extra = out.find((e) => e.keyword === "additionalProperties" && e.instancePath === req.instancePath &&
      distance(String((e.params as { additionalProperty: string }).additionalProperty), missing) <= 2);
    if (!extra) continue;
    (extra.params as { meant?: string }).meant = missing;
    out.splice(out.indexOf(req), 1);
  }
  return out;
}

/** One ajv error as one clear sentence at the right line. */
function schemaError(loc: Locator, e: ErrorObject): TopologyError {
  const path: Path = e.instancePath.split("/").slice(1).map((s) => (/^\d+$/.test(s) ? Number(s) : s.replace(/~1/g, "/").replace(/~0/g, "~")));
  const p = e.params as Record<string, unknown>;
  const value = path.reduce<unknown>((o, k) => (o as Record<string | number, unknown> | undefined)?.[k], loc.doc?.toJS());
  switch (e.keyword) {
    case "additionalProperties": {
      const field = String(p.additionalProperty);
      const known = Object.keys(((e.parentSchema as Obj | undefined)?.properties as Obj | undefined) ?? {});
      const inGenerator = path[0] === "generators" && path.length === 2;
      const what = inGenerator ? "unknown generator parameter" : "unknown field";
      const meant = (p.meant as string | undefined) ?? known.find((k) => distance(k, field) <= Math.min(2, k.length - 1));
      const hint = meant ? ` (did you mean "${meant}"?)` : known.length ? ` (known: ${known.join(", ")})` : "";
      return loc.error([...path, field], `${what} "${field}"${hint}`, true);
    }
    case "required":
      return loc.error(path, `missing field "${p.missingProperty}"`);
    case "type": {
      const t = Array.isArray(p.type) ? (p.type as string[]).join(" or ") : String(p.type);
      return loc.error(path, `must be ${t === "object" ? "a mapping" : t === "array" ? "a list" : `a${/^[aeiou]/.test(t) ? "n" : ""} ${t}`}, got ${describe(value)}`);
    }
    case "enum":
      return loc.error(path, `must be one of ${(p.allowedValues as unknown[]).map((x) => JSON.stringify(x)).join(", ")}; got ${show(value)}`);
    case "minimum":
    case "maximum":
      return loc.error(path, `must be ${e.keyword === "minimum" ? ">=" : "<="} ${p.limit}, got ${show(value)}`);
    case "minItems":
    case "maxItems":
      return loc.error(path, path[path.length - 1] === "endpoints" ? `a link has exactly 2 endpoints, got ${(value as unknown[]).length}` : `${e.message}`);
    default:
      return loc.error(path, e.message ?? e.keyword);
  }
}
