// Topology files from disk (Node): read a file and parse it.
import { readFileSync } from "node:fs";
import { parseTopology } from "../topology/parse.js";
import { TopologyError } from "../topology/errors.js";
import type { TopologySpec } from "../topology/spec.js";

/** Read a file and parseTopology it. */
export function loadTopology(file: string): TopologySpec {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new TopologyError(`cannot read: ${(e as Error).message}`, file);
  }
  return parseTopology(text, file);
}
