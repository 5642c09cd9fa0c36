// Where a field of a topology file is: a field path ("nodes[2].interfaces[0]") mapped to
// line and column through the YAML document's node ranges, and the error bundling every pass
// shares (one TopologyError, or TopologyErrors in file order with repeats dropped).

import { isMap, isSeq, isPair, isScalar, type Document, type LineCounter } from "yaml";
import type { Origin } from "./spec.js";
import { TopologyError, TopologyErrors } from "./errors.js";

export type Path = (string | number)[];

export function pathText(path: Path): string {
  let s = "";
  for (const p of path) s += typeof p === "number" ? `[${p}]` : s ? `.${p}` : p;
  return s;
}

/** Maps a field path to its place in the file. */
export class Locator {
  constructor(readonly doc: Document | undefined, readonly lc: LineCounter, readonly file: string, readonly text?: string) {}

  /**
   * Line and column of the `column`th character (1-based) of the string value at path, counted
   * through its quotes, escapes and folded line breaks, so an error inside a string (an ipfw
   * rule's column) points at the character itself. Block scalars, or a column past the
   * string, give the value's start.
   */
  atChar(path: Path, column: number): { line: number; column: number } {
    let node: unknown = this.doc?.contents;
    for (const seg of path) {
      if (isMap(node)) node = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg))?.value;
      else if (isSeq(node) && typeof seg === "number") node = node.items[seg];
      else node = undefined;
    }
    const start = rangeStart(node);
    const end = (node as { range?: [number, number, number] } | undefined)?.range?.[1];
    if (this.text === undefined || !isScalar(node) || start === undefined || end === undefined) return this.at(path);
    const src = this.text;
    let i = start;
    if (node.type === "QUOTE_DOUBLE" || node.type === "QUOTE_SINGLE") i++;
    else if (node.type !== "PLAIN") return this.at(path);
    for (let c = 1; c < column && i < end; c++) {
      if (node.type === "QUOTE_DOUBLE" && src[i] === "\\") {
        const e = src[i + 1];
        i += e === "x" ? 4 : e === "u" ? 6 : e === "U" ? 10 : 2;
      } else if (node.type === "QUOTE_SINGLE" && src[i] === "'" && src[i + 1] === "'") i += 2;
      else if (/\s/.test(src[i]!) && /\n/.test(src.slice(i, i + src.slice(i).search(/\S|$/)))) i += src.slice(i).search(/\S|$/);
      else i++;
    }
    const lp = this.lc.linePos(Math.min(i, end));
    return { line: lp.line, column: lp.col };
  }

  /** A problem at the `column`th character of the string at path (see atChar). */
  errorAtChar(path: Path, column: number, reason: string): TopologyError {
    const { line, column: col } = this.atChar(path, column);
    return new TopologyError(reason, this.file, line, col, pathText(path));
  }

  /** Line and column of the value at path (or of its key, for a field that should not be there). */
  at(path: Path, key = false): { line: number; column: number } {
    let node: unknown = this.doc?.contents;
    let pos: number | undefined = rangeStart(node);
    for (let i = 0; i < path.length; i++) {
      const seg = path[i];
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
        if (!pair) break;
        if (key && i === path.length - 1) {
          pos = rangeStart(pair.key) ?? pos;
          break;
        }
        node = pair.value;
        pos = rangeStart(node) ?? rangeStart(pair.key) ?? pos;
      } else if (isSeq(node) && typeof seg === "number" && seg < node.items.length) {
        node = node.items[seg];
        pos = rangeStart(node) ?? pos;
      } else break;
    }
    if (pos === undefined) return { line: 1, column: 1 };
    const lp = this.lc.linePos(pos);
    return { line: lp.line, column: lp.col };
  }

  origin(path: Path): Origin {
    const { line, column } = this.at(path);
    return { file: this.file, line, column, path: pathText(path) };
  }

  error(path: Path, reason: string, key = false): TopologyError {
    const { line, column } = this.at(path, key);
    return new TopologyError(reason, this.file, line, column, pathText(path));
  }
}

function rangeStart(node: unknown): number | undefined {
  const r = (node as { range?: [number, number, number] } | null)?.range;
  return r ? r[0] : undefined;
}

export function bundle(errors: TopologyError[]): TopologyError | TopologyErrors {
  errors.sort((a, b) => a.line - b.line || a.column - b.column);
  return errors.length === 1 ? errors[0] : new TopologyErrors(errors);
}

export function dedupe(errors: TopologyError[]): TopologyError[] {
  const seen = new Set<string>();
  return errors.filter((e) => (seen.has(e.message) ? false : (seen.add(e.message), true)));
}

/** Edit distance, for "did you mean". */
export function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}
