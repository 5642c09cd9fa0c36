// The CLI's I/O and exit codes: small on purpose, so that `wavnet --help` and `wavnet version`
// load nothing else (the stack, YAML and the schema checker come with run and shell).

import type { Readable, Writable } from "node:stream";

/** Exit codes (docs/cli.md). */
export const EXIT = { OK: 0, FAILED: 1, USAGE: 2, INTERRUPTED: 130 } as const;

/** Where the CLI reads and writes; process.* by default, streams in tests. */
export interface Io {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  /** stdout is a terminal (live progress line, colours off otherwise). */
  stdoutTTY: boolean;
  /** stdin is a terminal (interactive shell with prompt, history, completion). */
  stdinTTY: boolean;
}

export function processIo(): Io {
  return {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    stdoutTTY: process.stdout.isTTY === true,
    stdinTTY: process.stdin.isTTY === true,
  };
}

/** A problem with the command line itself (exit 2). */
export class UsageError extends Error {}

/** Write a line (a newline added unless the text has one). */
export function write(w: Writable, text: string): void {
  w.write(text.endsWith("\n") || text === "" ? text : `${text}\n`);
}
