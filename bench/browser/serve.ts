// The bench page, built and served for the browser group: esbuild bundles page.ts and
// worker.ts (the core, the page protocol and the shared workloads) into memory, and a tiny
// node:http server on 127.0.0.1 serves them with the kernel and module binaries of build/
// at wasm/, loaded by URL (urlModuleSource) as the real page loads them. Every answer
// carries COOP/COEP (cross-origin isolation: precise timers, SharedArrayBuffer) and
// Cache-Control: no-store, so each page load fetches and compiles the Wasm afresh (no code
// cache from an earlier load: every load is a first visit).

import http from "node:http";
import { readFileSync, existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import type { AddressInfo } from "node:net";

const root = fileURLToPath(new URL("../../", import.meta.url));

// The worker starts from the head (head.ts, inlined), while the document is still being
// parsed, rather than from page.js (a module script runs only after parsing, and after its
// own fetch), and the head compiles the binaries beside it; page.js takes the worker from
// window.benchWorker. The worker's name is the binaries' folder and the binaries handed
// (worker.ts).
const pageHtml = (head: string) => `<!doctype html><html><head><meta charset="utf-8"><title>wavnet bench</title>
<link rel="icon" href="data:,"><script>${head}</script>
<script type="module" src="page.js"></script></head><body>wavnet bench</body></html>`;

// The same server's empty page (/blank): what a fresh tab of this origin costs before any
// of our code, measured beside the topology's pages (browser_topology_100_up_ms's note
// gives the figure over it). Same headers (COOP/COEP, no-store), so the same new renderer.
const blankHtml = `<!doctype html><html><head><meta charset="utf-8"><title>blank</title><link rel="icon" href="data:,"></head><body></body></html>`;

export interface BenchServer {
  url: string;
  /** Bytes of the two bundles (page.js, worker.js) and of the chunks loaded when asked for (the workloads). */
  sizes: { page: number; worker: number; chunks: number };
  close(): Promise<void>;
}

/**
 * Build the bundles and listen; `topologies` are served at topology/NAME.yaml. With
 * `cache`, the scripts and binaries may be kept (Cache-Control: max-age=3600, as a static
 * host serves them), so a second visit finds them in the HTTP cache, and with them
 * Chromium's code cache for scripts and compiled Wasm; the HTML and the YAML are no-store
 * either way.
 */
export async function serveBenchPage(topologies: Record<string, string>, opts: { cache?: boolean; handed?: boolean } = {}): Promise<BenchServer> {
  const { build } = await import("esbuild");
  const { default: linkmap } = await import("../../host/kern/linkmap_data.js");
  // The binaries the head compiles and hands to the worker: the kernel and GENERIC's modules
  // (what a topology boots); handed: false leaves them all to the worker (to compare).
  const handed = opts.handed === false ? [] : ["kernel", ...(linkmap.configs.GENERIC ?? [])];
  const head = await build({ entryPoints: [join(root, "bench/browser/head.ts")], bundle: true, format: "iife", platform: "browser", target: "es2022", write: false, minify: true, logLevel: "silent", define: { HANDED: JSON.stringify(handed) } });
  const headJs = new TextDecoder().decode(head.outputFiles[0]!.contents).trim();
  const esb = { bundle: true, format: "esm", platform: "browser", target: "es2022", write: false, outdir: "/out", minify: true, logLevel: "silent" } as const;
  // Three builds, so that the page and the worker are one file each (no chunk to fetch after
  // them) and share nothing; the workloads (wl_NAME.js, sharing chunks among themselves,
  // with their own copy of the core) are fetched by the worker when asked for.
  const page = await build({ ...esb, entryPoints: { page: join(root, "bench/browser/page.ts") } });
  const worker = await build({ ...esb, entryPoints: { worker: join(root, "bench/browser/worker.ts") } });
  const wl = (name: string) => [`wl_${name}`, join(root, `bench/workloads/${name}.ts`)];
  const workloads = await build({ ...esb, entryPoints: Object.fromEntries(["tcp_epair", "epair_fps", "topology_split"].map(wl)), splitting: true, chunkNames: "wl_chunk-[hash]" });
  const out = { outputFiles: [...page.outputFiles, ...worker.outputFiles, ...workloads.outputFiles] };
  const files = new Map<string, { type: string; body: Uint8Array }>();
  for (const f of out.outputFiles) files.set(`/${f.path.split("/").pop()}`, { type: "text/javascript", body: f.contents });
  const chunks = out.outputFiles.filter((f) => !/\/(page|worker)\.js$/.test(f.path)).reduce((n, f) => n + f.contents.length, 0);
  files.set("/", { type: "text/html", body: new TextEncoder().encode(pageHtml(headJs)) });
  files.set("/blank", { type: "text/html", body: new TextEncoder().encode(blankHtml) });
  for (const [name, yaml] of Object.entries(topologies)) files.set(`/topology/${name}.yaml`, { type: "text/yaml", body: new TextEncoder().encode(yaml) });
  if (!existsSync(join(root, "build/kernel.wasm"))) throw new Error(`${root}build/kernel.wasm is missing: run "npm run build" first`);
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0]!;
    const headers = {
      "Cross-Origin-Opener-Policy": "same-origin",
      "Cross-Origin-Embedder-Policy": "require-corp",
      "Cache-Control": opts.cache && /\.(js|wasm)$/.test(path) ? "public, max-age=3600" : "no-store",
    };
    const m = /^\/wasm\/((?:modules\/)?[A-Za-z0-9_]+\.wasm)$/.exec(path);
    if (m && existsSync(join(root, "build", m[1]!))) {
      res.writeHead(200, { ...headers, "Content-Type": "application/wasm" });
      res.end(readFileSync(join(root, "build", m[1]!)));
      return;
    }
    const f = files.get(path);
    if (!f) {
      res.writeHead(404, headers);
      res.end(`no ${path}`);
      return;
    }
    res.writeHead(200, { ...headers, "Content-Type": f.type });
    res.end(f.body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    sizes: { page: files.get("/page.js")!.body.length, worker: files.get("/worker.js")!.body.length, chunks },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
