// Errors of topology files: each names the file, the line and column, and the field path
// ("nodes[2].interfaces[0].addresses[1]"), so the message alone says where to look.

import { WavnetError } from "../lib/errors.js";

export class TopologyError extends WavnetError {
  constructor(
    readonly reason: string,
    readonly file = "<string>",
    readonly line = 0,
    readonly column = 0,
    readonly path = "",
  ) {
    super(`${file}${line ? `:${line}:${column}` : ""}: ${path ? `${path}: ` : ""}${reason}`);
  }
}

/** Several problems found in one file, one TopologyError each, in file order. */
export class TopologyErrors extends WavnetError {
  constructor(readonly errors: TopologyError[]) {
    super(`${errors.length} problems:\n${errors.map((e) => `  ${e.message}`).join("\n")}`);
  }
}
