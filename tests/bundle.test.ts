// wavnet/core is browser-safe: bundled by esbuild for `platform: "browser"` from the package's
// own exports (dist/, as a consumer's bundler sees it), no Node built-in may be reached, and
// the bundle boots a kernel, pings between vnets and runs a topology file in a realm that has
// only web globals (no process, Buffer, setImmediate, require).
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import vm from "node:vm";
import { build, type Plugin } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));

// Every Node built-in, with and without the node: prefix.
const BUILTINS = new Set((await import("node:module")).builtinModules);
const refuseNode: Plugin = {
  name: "refuse-node-builtins",
  setup(b) {
    b.onResolve({ filter: /.*/ }, (args) => {
      const bare = args.path.replace(/^node:/, "");
      if (args.path.startsWith("node:") || BUILTINS.has(bare) || BUILTINS.has(bare.split("/")[0]!)) {
        return { errors: [{ text: `Node built-in "${args.path}" imported by ${args.importer.replace(root, "")}` }] };
      }
      return undefined;
    });
  },
};

async function bundle(entry: string, format: "esm" | "iife") {
  return build({
    stdin: { contents: entry, resolveDir: root, sourcefile: "consumer.js" },
    bundle: true,
    platform: "browser",
    format,
    globalName: format === "iife" ? "wavnet" : undefined,
    write: false,
    logLevel: "silent",
    metafile: true,
    plugins: [refuseNode],
  });
}

/** A realm with the web's globals only. */
function webRealm(): vm.Context {
  const g = globalThis as Record<string, unknown>;
  const web: Record<string, unknown> = {};
  for (const name of [
    "console", "TextEncoder", "TextDecoder", "URL", "URLSearchParams", "queueMicrotask", "setTimeout", "clearTimeout",
    "setInterval", "clearInterval", "MessageChannel", "structuredClone", "ReadableStream", "WritableStream",
    "TransformStream", "performance", "crypto", "fetch", "Request", "Response", "Headers", "AbortController", "AbortSignal", "Event", "EventTarget",
  ]) {
    if (g[name] !== undefined) web[name] = g[name];
  }
  const ctx = vm.createContext(web);
  for (const name of ["process", "Buffer", "setImmediate", "require", "global"]) {
    assert.equal(vm.runInContext(`typeof ${name}`, ctx), "undefined", `the web realm has no ${name}`);
  }
  return ctx;
}

describe("wavnet/core in a browser bundle", () => {
  test("bundles for the browser from the package's exports with no Node built-in, and says which module would bring one", async () => {
    const r = await bundle(`export * from "wavnet/core";`, "esm");
    const inputs = Object.keys(r.metafile!.inputs);
    assert.ok(inputs.some((f) => f.startsWith("dist/kern/kernel.js")), `the bundle is built from dist/: ${inputs.slice(0, 5)}`);
    assert.ok(!inputs.some((f) => f.startsWith("dist/node/") || f.startsWith("dist/cli/")), `no Node-only module in the core bundle: ${inputs.filter((f) => /dist\/(node|cli)\//.test(f))}`);
    // The check itself: the Node entry does reach built-ins, and the plugin names them.
    await assert.rejects(bundle(`export * from "wavnet/node";`, "esm"), (e: Error & { errors?: { text: string }[] }) => {
      assert.ok(e.errors?.some((x) => /Node built-in "node:(fs|dgram|net|stream|events)"/.test(x.text)), String(e.errors?.map((x) => x.text)));
      return true;
    });
  });

  test("the bundle boots a kernel from bytes, pings over an epair and runs a topology file with web globals only", async () => {
    const r = await bundle(`export * from "wavnet/core";`, "iife");
    const code = r.outputFiles![0]!.text;
    const ctx = webRealm();
    vm.runInContext(code, ctx, { filename: "wavnet-core.js" });
    const mods: Record<string, Uint8Array> = {};
    for (const f of readdirSync(`${root}build/modules`)) if (f.endsWith(".wasm")) mods[f.slice(0, -5)] = readFileSync(`${root}build/modules/${f}`);
    ctx.KERNEL = readFileSync(`${root}build/kernel.wasm`);
    ctx.MODULES = mods;
    ctx.TOPOLOGY = readFileSync(`${root}examples/chain.yaml`, "utf8");
    const run = vm.runInContext(
      `(async () => {
        const w = wavnet;
        const copy = (b) => new Uint8Array(b);
        const modules = {};
        for (const [n, b] of Object.entries(MODULES)) modules[n] = copy(b);
        const source = w.bytesModuleSource({ kernel: copy(KERNEL), modules });
        const k = await w.Kernel.boot({ source, config: "GENERIC" });
        const a = k.createVnet("a"), b = k.createVnet("b");
        const [ea, eb] = k.epair(a, b);
        ea.setUp(); eb.setUp();
        w.addAddress(k, ea, "10.0.0.1/24");
        w.addAddress(k, eb, "10.0.0.2/24");
        const p = await w.ping(k, a, "10.0.0.2", { count: 3, intervalMs: 10 });
        k.shutdown();
        const k2 = await w.Kernel.boot({ source, config: "GENERIC" });
        const t = await w.Topology.up(w.parseTopology(TOPOLOGY, "chain.yaml"), { kernel: k2 });
        const steps = await t.runSteps();
        const report = await t.down();
        k2.shutdown();
        return { received: p.received, steps: steps.map((s) => [s.ok, s.title ?? s.kind ?? ""]), leaked: report };
      })()`,
      ctx,
    ) as Promise<{ received: number; steps: [boolean, string][]; leaked: unknown }>;
    const out = await run;
    assert.equal(out.received, 3, "3 echo replies");
    assert.ok(out.steps.length >= 3, `the chain example's steps ran: ${JSON.stringify(out.steps)}`);
    assert.ok(out.steps.every(([ok]) => ok), `every step passed: ${JSON.stringify(out.steps)}`);
  });

  test("wavnet/web (the page protocol) bundles for the browser with no Node built-in too", async () => {
    const r = await bundle(`export * from "wavnet/web";`, "esm");
    const inputs = Object.keys(r.metafile!.inputs);
    assert.ok(inputs.some((f) => f.startsWith("dist/web/server.js")), `built from dist/web: ${inputs.slice(0, 5)}`);
    assert.ok(!inputs.some((f) => f.startsWith("dist/node/") || f.startsWith("dist/cli/")), "no Node-only module");
  });
});
