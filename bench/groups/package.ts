// Group "package": wavnet as a dependency. What the tarball weighs, what installing it into an
// empty project adds to node_modules, the browser-safe core bundled and minified with the
// GENERIC kernel's Wasm (gzip, as a page would serve it), and how long `wavnet --help` takes
// next to a bare `node -e 0` measured in the same run.

import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, readFileSync, readdirSync, lstatSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";
import { median, nowNs, round, type Group, type GroupContext } from "../lib.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
// The npm that came with this node: inside `npm test` the PATH starts with node_modules/.bin,
// where a dev dependency's own npm 6 (through @as-pect/cli) would answer instead.
const NPM = existsSync(join(dirname(process.execPath), "npm")) ? join(dirname(process.execPath), "npm") : "npm";
const HELP_RUNS = 15;

function npm(args: string[], cwd: string): string {
  return execFileSync(NPM, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, npm_config_fund: "false", npm_config_audit: "false", npm_config_update_notifier: "false" } });
}

function treeBytes(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    const st = lstatSync(p);
    n += st.isDirectory() ? treeBytes(p) : st.size;
  }
  return n;
}

function wallMs(cmd: string, args: string[]): number {
  const t = nowNs();
  const r = spawnSync(cmd, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return (nowNs() - t) / 1e6;
}

async function run(ctx: GroupContext): Promise<void> {
  const pack = (JSON.parse(npm(["pack", "--dry-run", "--json", "--ignore-scripts"], root)) as { filename: string; size: number }[])[0]!;
  ctx.report("package_tarball_bytes", pack.size);

  const dir = mkdtempSync(join(tmpdir(), "wavnet-bench-pkg-"));
  try {
    npm(["pack", "--ignore-scripts", "--pack-destination", dir], root);
    writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
    npm(["install", "--prefer-offline", "--no-package-lock", join(dir, pack.filename)], dir);
    ctx.report("package_install_bytes", treeBytes(join(dir, "node_modules")), { note: "node_modules of an empty project after npm install of the tarball" });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const b = await build({
    stdin: { contents: `export * from "wavnet/core";`, resolveDir: root, sourcefile: "page.js" },
    bundle: true, platform: "browser", format: "esm", minify: true, write: false, logLevel: "silent",
  });
  const js = gzipSync(b.outputFiles[0]!.contents, { level: 9 }).length;
  const map = JSON.parse(readFileSync(join(root, "assembly/linkmap.json"), "utf8")) as { configs: Record<string, string[]> };
  let wasm = gzipSync(readFileSync(join(root, "build/kernel.wasm")), { level: 9 }).length;
  for (const m of map.configs.GENERIC!) wasm += gzipSync(readFileSync(join(root, `build/modules/${m}.wasm`)), { level: 9 }).length;
  ctx.report("core_bundle_min_gzip_bytes", js + wasm, { note: `JS ${js} B + GENERIC Wasm ${wasm} B, gzip -9` });

  // The floor has two parts: Node itself (`node -e 0`) and Node starting any script file (a
  // one-line CommonJS file that prints a line): what no command written as a file can beat.
  const scriptDir = mkdtempSync(join(tmpdir(), "wavnet-startup-"));
  const script = join(scriptDir, "hello.cjs");
  writeFileSync(script, 'process.stdout.write("hello\\n");\n');
  const help: number[] = [];
  const bare: number[] = [];
  const file: number[] = [];
  try {
    for (let i = 0; i < HELP_RUNS; i++) {
      bare.push(wallMs(process.execPath, ["-e", "0"]));
      file.push(wallMs(process.execPath, [script]));
      help.push(wallMs(process.execPath, [join(root, "bin/wavnet.mjs"), "--help"]));
    }
  } finally {
    rmSync(scriptDir, { recursive: true, force: true });
  }
  const nodeMs = round(median(bare));
  const fileMs = round(median(file));
  ctx.report("node_startup_ms", nodeMs);
  ctx.report("node_script_startup_ms", fileMs, { peer: "node_startup_ms", peerValue: nodeMs });
  ctx.report("cli_help_ms", round(median(help)), {
    peer: "node_script_startup_ms", peerValue: fileMs,
    note: `median of ${HELP_RUNS}, alternated with node -e 0 (${nodeMs} ms) and a one-line script file (${fileMs} ms)`,
  });
}

const group: Group = {
  name: "package",
  description: "wavnet as a dependency: tarball, install, browser bundle, CLI start-up",
  metrics: [
    { name: "package_tarball_bytes", unit: "B", description: "npm pack tarball (gzip)" },
    { name: "package_install_bytes", unit: "B", description: "node_modules of an empty project after installing the tarball" },
    { name: "core_bundle_min_gzip_bytes", unit: "B", description: "wavnet/core bundled for the browser, minified, + GENERIC Wasm, gzip -9" },
    { name: "cli_help_ms", unit: "ms", target: { max: 150 }, description: "wall time of `wavnet --help` (median)" },
    { name: "node_startup_ms", unit: "ms", description: "wall time of `node -e 0` (median)" },
    { name: "node_script_startup_ms", unit: "ms", description: "wall time of node running a one-line script file (median): the floor for cli_help_ms" },
  ],
  run,
};

export default group;
