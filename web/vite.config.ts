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
  plugins: [wavnetWasm()],
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
