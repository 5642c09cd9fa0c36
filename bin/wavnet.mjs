#!/usr/bin/env node
// The wavnet command: the compiled CLI in dist/ (see docs/cli.md). A git checkout makes
// dist/ and build/ with `npm run build` (npm ci does it through "prepare"); a packed package
// ships both.
import { existsSync } from "node:fs";
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

const { main } = await import("../dist/cli/main.js");
const code = await main(process.argv.slice(2));
// Leave even if something (a service socket, a timer) still holds the event loop.
process.stdout.write("", () => process.exit(code));
