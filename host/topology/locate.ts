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
  constructor(readonly doc: Document | undefined, readonly lc: LineCounter, readonly file: string) {}

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
