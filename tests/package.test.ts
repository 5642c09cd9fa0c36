// wavnet as a dependency: what `npm pack` puts in the tarball, and a consumer project that
// installs it and uses it the way users do: a plain .mjs boots a kernel, pings over an epair
// and fetches over HTTP between two vnets; a strict TypeScript file type-checks against the
// shipped .d.ts only; `wavnet run` works from the consumer's node_modules/.bin.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync, readFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
// The npm that came with this node: inside `npm test` the PATH starts with node_modules/.bin,
// where a dev dependency's own npm 6 (through @as-pect/cli) would answer instead.
const NPM = existsSync(join(dirname(process.execPath), "npm")) ? join(dirname(process.execPath), "npm") : "npm";
const npm = (args: string[], cwd: string) => execFileSync(NPM, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, npm_config_fund: "false", npm_config_audit: "false", npm_config_update_notifier: "false" } });

interface PackEntry { filename: string; size: number; unpackedSize: number; files: { path: string }[] }

function packList(): PackEntry {
  // --ignore-scripts: the tree was built by pretest; prepack would build again.
  return (JSON.parse(npm(["pack", "--dry-run", "--json", "--ignore-scripts"], root)) as PackEntry[])[0]!;
}

describe("npm pack", () => {
  test("the tarball holds the compiled package and nothing of the workshop", () => {
    const files = new Set(packList().files.map((f) => f.path));
    for (const must of [
      "package.json", "README.md", "LICENSE", "CHANGELOG.md", "SECURITY.md", "bin/wavnet.mjs",
      "dist/index.js", "dist/index.d.ts", "dist/core.js", "dist/core.d.ts", "dist/node/index.js", "dist/node/core_entry.js",
      "dist/node/topology_entry.js", "dist/topology/index.js", "dist/cli/main.js", "dist/kern/kernel.js.map",
      "build/kernel.wasm", "build/modules/inet.wasm", "build/modules/inet6.wasm", "build/modules/tcp.wasm", "build/modules/udp.wasm",
      "build/modules/if_epair.wasm", "build/modules/if_bridge.wasm", "build/modules/if_vxlan.wasm",
      // A topology with a firewall: loads it (examples/firewall.yaml).
      "build/modules/ipfw.wasm",
      "schema/topology.schema.json", "examples/demo.yaml", "docs/ARCHITECTURE.md",
    ]) {
      assert.ok(files.has(must), `${must} is in the tarball`);
    }
    for (const f of files) {
      assert.ok(!/^(tests|bench|host|assembly\/(?!linkmap\.json$)|scripts|demo)\//.test(f), `${f}: sources, tests and benchmarks stay out`);
      assert.ok(!/^build\/modules\/(kmod_|bench_|vnet_demo_dep)/.test(f), `${f}: test and bench modules stay out`);
      assert.ok(!/\.tsbuildinfo$|__tests__|\.spec\.ts$/.test(f), `${f}: build state and specs stay out`);
      assert.ok(!(f.endsWith(".ts") && !f.endsWith(".d.ts")), `${f}: no TypeScript source (a consumer's tsc would check it)`);
    }
    // Every configuration the link map names can be booted from the tarball but DEMO's test dependency.
    const map = JSON.parse(readFileSync(join(root, "assembly/linkmap.json"), "utf8")) as { configs: Record<string, string[]> };
    for (const c of ["GENERIC", "NOINET6", "NOINET"]) for (const m of map.configs[c]!) assert.ok(files.has(`build/modules/${m}.wasm`), `${c} needs ${m}.wasm`);
  });

  test("package.json: a public, versioned ESM package with typed entry points and caret ranges", () => {
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
    assert.equal(pkg.private, undefined);
    assert.match(pkg.version, /^\d+\.\d+\.\d+$/);
    assert.equal(pkg.type, "module");
    assert.equal(pkg.license, "BSD-2-Clause");
    for (const e of [".", "./core", "./node", "./topology"]) {
      assert.ok(pkg.exports[e].types, `${e} has types`);
      assert.equal(Object.keys(pkg.exports[e])[0], "types", `${e}: types first, as TypeScript reads conditions in order`);
    }
    for (const [name, range] of Object.entries(pkg.dependencies as Record<string, string>)) assert.match(range, /^\^/, `${name}: ${range}`);
    for (const dev of ["tsx", "esbuild", "typescript", "assemblyscript", "ajv"]) assert.ok(!(dev in pkg.dependencies), `${dev} is a dev dependency only`);
  });
});

describe("a consumer project", () => {
  let dir = "";
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "wavnet-consumer-"));
    const tgz = packList().filename;
    npm(["pack", "--ignore-scripts", "--pack-destination", dir], root);
    writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
    // The registry is reachable; --prefer-offline takes what npm's cache has (yaml, ws, @types/node).
    npm(["install", "--prefer-offline", "--no-package-lock", join(dir, tgz), "@types/node@20", "typescript@~5.9"], dir);
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("a plain .mjs boots a kernel, pings over an epair and fetches over HTTP between vnets", () => {
    writeFileSync(join(dir, "x.mjs"), `
import http from "node:http";
import { Kernel, addAddress, ping, vnetAgent } from "wavnet";
const k = await Kernel.boot({ clock: "real" });
const a = k.createVnet("a"), b = k.createVnet("b");
const [ea, eb] = k.epair(a, b);
ea.setUp(); eb.setUp();
addAddress(k, ea, "10.0.0.1/24");
addAddress(k, eb, "10.0.0.2/24");
const p = await ping(k, a, "10.0.0.2", { count: 2, intervalMs: 10 });
const server = http.createServer((req, res) => res.end("hello from b"));
const listener = b.net.createServer((s) => server.emit("connection", s));
await new Promise((r) => listener.listen(80, r));
const agent = vnetAgent(a);
const body = await new Promise((resolve, reject) => {
  http.get({ host: "10.0.0.2", port: 80, path: "/", agent }, (res) => {
    let s = ""; res.setEncoding("utf8"); res.on("data", (d) => (s += d)); res.on("end", () => resolve(s));
  }).on("error", reject);
});
agent.destroy();
await new Promise((r) => listener.close(r));
k.shutdown();
console.log(JSON.stringify({ received: p.received, body }));
`);
    const out = execFileSync(process.execPath, ["x.mjs"], { cwd: dir, encoding: "utf8", timeout: 30_000 });
    assert.deepEqual(JSON.parse(out.trim().split("\n").pop()!), { received: 2, body: "hello from b" });
  });

  test("a strict TypeScript consumer type-checks against the .d.ts (noUncheckedIndexedAccess, exactOptionalPropertyTypes)", () => {
    writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({
      compilerOptions: {
        target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, noEmit: true, skipLibCheck: false,
        noUncheckedIndexedAccess: true, exactOptionalPropertyTypes: true, noPropertyAccessFromIndexSignature: true, types: ["node"],
      },
      files: ["y.ts"],
    }));
    writeFileSync(join(dir, "y.ts"), `
import { Kernel, addAddress, ping, type PingResult, type Vnet } from "wavnet";
import { Kernel as CoreKernel, bytesModuleSource, parseTopology, type TopologySpec } from "wavnet/core";
import { loadTopology, Topology } from "wavnet/topology";
import { nodeModuleSource, createVxlan } from "wavnet/node";
const k: Kernel = await Kernel.boot({ config: "GENERIC", seed: 7 });
const v: Vnet = k.createVnet("a");
const [ea] = k.epair(v);
addAddress(k, ea, "10.0.0.1/24");
const r: PingResult = await ping(k, v, "10.0.0.1", { count: 1 });
const spec: TopologySpec = parseTopology("name: t\\nnodes: [{name: a}]\\n");
const t: Topology = await Topology.up(loadTopology("x.yaml"));
void [r, spec, t, CoreKernel, bytesModuleSource, nodeModuleSource, createVxlan];
`);
    let out = "";
    try {
      out = execFileSync(process.execPath, [join(dir, "node_modules/typescript/bin/tsc"), "-p", "."], { cwd: dir, encoding: "utf8" });
    } catch (e) {
      out = String((e as { stdout?: string }).stdout ?? e);
    }
    assert.equal(out.trim(), "", `tsc found errors:\n${out}`);
    assert.ok(!existsSync(join(dir, "node_modules/wavnet/host")), "no TypeScript sources in the installed package");
  });

  test("npx wavnet run examples/demo.yaml works from the consumer", () => {
    const out = execFileSync(join(dir, "node_modules/.bin/wavnet"), ["run", join(dir, "node_modules/wavnet/examples/demo.yaml")], { cwd: dir, encoding: "utf8", timeout: 60_000 });
    assert.match(out, /11 of 11 steps passed/);
    assert.match(out, /0 pages and 0 items leaked/);
  });
});
