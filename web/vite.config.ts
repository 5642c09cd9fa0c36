// The browser page (docs/web.md): `npm run web` serves it, `npm run build:web` writes static
// files to web/dist. The kernel and module binaries are the package's build/ (the same set
// the npm package ships), served at wasm/ next to the page; the examples come in as text.
// Cross-origin isolated (COOP/COEP), so the page may use SharedArrayBuffer and precise timers.
import { defineConfig, type Plugin } from "vite";
import { readFileSync, readdirSync, existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";

const root = fileURLToPath(new URL("..", import.meta.url));
const build = join(root, "build");

/** The binaries the page boots: kernel.wasm and the modules the package ships. */
function wasmFiles(): string[] {
  if (!existsSync(join(build, "kernel.wasm"))) throw new Error(`${build}/kernel.wasm is missing: run "npm run build" first`);
  const mods = readdirSync(join(build, "modules")).filter((f) => /^(if_[a-z0-9_]+|inet|inet6|ipfw|tcp|udp|vnet_demo)\.wasm$/.test(f));
  return ["kernel.wasm", ...mods.map((m) => `modules/${m}`)];
}

/**
 * The built page's head starts the lab's worker (web/src/head.ts, inlined as a classic
 * script): vite names the worker's file only when it bundles the page, so the head is
 * written into index.html after that, with the file's name and the binaries to hand
 * (the kernel and GENERIC's modules). Under the dev server main.ts starts the worker.
 */
function earlyWorker(): Plugin {
  return {
    name: "wavnet-early-worker",
    apply: "build",
    transformIndexHtml: {
      order: "post",
      async handler(html, ctx) {
        const names = Object.keys(ctx.bundle ?? {}).filter((f) => /(^|\/)worker-[\w-]+\.js$/.test(f));
        if (names.length !== 1) throw new Error(`wavnet-early-worker: expected one worker file in the bundle, found ${names.length ? names.join(", ") : "none"}`);
        const { build: esbuild } = await import("esbuild");
        const { default: linkmap } = await import("../host/kern/linkmap_data.js");
        const handed = ["kernel", ...(linkmap.configs.GENERIC ?? [])];
        const out = await esbuild({
          entryPoints: [join(root, "web/src/head.ts")], bundle: true, format: "iife", platform: "browser", target: "es2022", write: false, minify: true, logLevel: "silent",
          define: { WORKER_URL: JSON.stringify(`./${names[0]}`), HANDED: JSON.stringify(handed) },
        });
        const js = new TextDecoder().decode(out.outputFiles[0]!.contents).trim();
        // Right after the charset (which must stay in the first 1024 bytes), before the
        // stylesheet and the page's bundle vite writes into the head: an inline script after
        // a stylesheet waits for that stylesheet to arrive, and the worker's start with it.
        const charset = /<meta charset="[^"]*"\s*\/?>/i.exec(html);
        if (!charset) throw new Error("wavnet-early-worker: web/index.html has no <meta charset> to put the worker's start after");
        const at = charset.index + charset[0].length;
        return `${html.slice(0, at)}\n    <script>${js.replace(/<\/script/gi, "<\\/script")}</script>${html.slice(at)}`;
      },
    },
  };
}

const isolation = {
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "require-corp",
};

function wavnetWasm(): Plugin {
  return {
    name: "wavnet-wasm",
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const m = /^\/wasm\/([A-Za-z0-9_/]+\.wasm)(\?.*)?$/.exec(req.url ?? "");
        if (!m || !wasmFiles().includes(m[1]!)) return next();
        res.setHeader("Content-Type", "application/wasm");
        res.setHeader("Cache-Control", "no-cache");
        for (const [k, v] of Object.entries(isolation)) res.setHeader(k, v);
        res.end(readFileSync(join(build, m[1]!)));
      });
    },
    generateBundle() {
      for (const f of wasmFiles()) this.emitFile({ type: "asset", fileName: `wasm/${f}`, source: readFileSync(join(build, f)) });
    },
  };
}

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "./",
  plugins: [wavnetWasm(), earlyWorker()],
  server: { headers: isolation, fs: { allow: [root] } },
  preview: { headers: isolation },
  worker: { format: "es" },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    chunkSizeWarningLimit: 2000,
  },
});
