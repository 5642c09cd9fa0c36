// The `wavnet` command run in this process (main() with pipes for stdio): no process start-up
// and no kernel build check, so a test of a command line costs what the command does.
import { PassThrough } from "node:stream";
import { main } from "../../host/cli/main.js";

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** main(argv) with nothing on stdin and both outputs collected; neither is a terminal. */
export async function cliMain(argv: string[]): Promise<Ran> {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = "";
  let stderr = "";
  out.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  err.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const code = await main(argv, { stdin: new PassThrough(), stdout: out, stderr: err, stdoutTTY: false, stdinTTY: false });
  await new Promise((r) => setImmediate(r));
  return { code, stdout, stderr };
}
