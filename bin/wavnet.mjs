#!/usr/bin/env node
// The wavnet command. The host is TypeScript run through tsx's loader (a dependency of the
// package, as for `import "wavnet"`); the Wasm kernel is built on first use if the package
// came without build/ (a git checkout). See docs/cli.md.
import { existsSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
if (!existsSync(`${root}build/kernel.wasm`)) {
  // A packed package ships build/; only a checkout (sources, test modules, dev dependencies) can make it.
  let compiler = true;
  try {
    import.meta.resolve("assemblyscript/asc");
  } catch {
    compiler = false;
  }
  if (!compiler || !existsSync(`${root}tests/kmod`)) {
    process.stderr.write(`wavnet: ${root}build/ is missing and this copy cannot build it (that needs a checkout with its dev dependencies); reinstall the package\n`);
    process.exit(1);
  }
  process.stderr.write("wavnet: building the Wasm kernel and modules (first run) ...\n");
  const r = spawnSync(process.execPath, [`${root}scripts/build.mjs`], { stdio: ["ignore", "inherit", "inherit"] });
  if (r.status !== 0) {
    process.stderr.write(`wavnet: the build failed (status ${r.status}); "npm run build" in ${root} shows why\n`);
    process.exit(1);
  }
}

// A reader that goes away (`wavnet run x.yaml | head`) ends us quietly, with the status a
// shell gives a process killed by SIGPIPE.
for (const s of [process.stdout, process.stderr]) {
  s.on("error", (e) => process.exit(e.code === "EPIPE" ? 141 : 1));
}

const { register } = await import("tsx/esm/api");
register();
const { main } = await import("../host/cli/main.ts");
const code = await main(process.argv.slice(2));
// Leave even if something (a service socket, a timer) still holds the event loop.
process.stdout.write("", () => process.exit(code));
