#!/usr/bin/env node
// The wavnet command: the compiled CLI in dist/ (see docs/cli.md). A git checkout makes
// dist/ and build/ with `npm run build` (npm ci does it through "prepare"); a packed package
// ships both.
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
for (const need of ["dist/cli/main.js", "build/kernel.wasm"]) {
  if (!existsSync(`${root}${need}`)) {
    process.stderr.write(`wavnet: ${root}${need} is missing: run "npm run build" in ${root} (a checkout), or reinstall the package\n`);
    process.exit(1);
  }
}

// A reader that goes away (`wavnet run x.yaml | head`) ends us quietly, with the status a
// shell gives a process killed by SIGPIPE.
for (const s of [process.stdout, process.stderr]) {
  s.on("error", (e) => process.exit(e.code === "EPIPE" ? 141 : 1));
}

// --help alone: the text the build wrote from the command table (scripts/cli_help.mjs), so
// asking for help does not wait for the CLI's modules to load.
const args = process.argv.slice(2);
let help;
if (args.length === 1 && (args[0] === "--help" || args[0] === "-h")) {
  try {
    help = readFileSync(`${root}dist/cli/help.txt`, "utf8");
  } catch {
    // an older build without the file: main() prints the same text
  }
}
if (help !== undefined) {
  process.stdout.write(help, () => process.exit(0));
} else {
  const { main } = await import("../dist/cli/main.js");
  const code = await main(args);
  // Leave even if something (a service socket, a timer) still holds the event loop.
  process.stdout.write("", () => process.exit(code));
}
