// Topology files: YAML text -> TopologySpec. (skeleton: filled in by the next commits)
import { readFileSync } from "node:fs";
import type { TopologySpec } from "./spec.js";
import { TopologyError } from "./errors.js";

/** Parse and check a topology; throws TopologyError (one problem) or TopologyErrors (several). */
export function parseTopology(text: string, file = "<string>"): TopologySpec {
  void text;
  throw new TopologyError("not implemented yet", file);
}

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
