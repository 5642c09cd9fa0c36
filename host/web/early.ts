// A lab's worker started from the page's head, with its binaries compiled beside it: the page
// runs this before its own code (a classic script in the HTML, or its first import), so the
// worker's start (a new thread, its script fetched and compiled) and the binaries' fetch and
// compile overlap instead of following one another. The worker learns from its name where
// the binaries are and which ones the page compiles (labWorkerName / readLabWorkerName); the
// page posts each compiled WebAssembly.Module as `{ wasm: name, module }` (a Module is cloned
// to a worker of the same page without compiling again) and LabServer's `handed` option
// waits for those instead of fetching them.
//
//   const worker = startLabWorker(new URL("worker.js", import.meta.url), { wasm: "wasm/", handed: ["kernel", ...GENERIC] });

/** The message that hands the worker one binary ("kernel" or a module name); no module: the page could not compile it. */
export interface WasmHand {
  wasm: string;
  module?: WebAssembly.Module;
}

export function isWasmHand(m: unknown): m is WasmHand {
  return typeof m === "object" && m !== null && typeof (m as { wasm?: unknown }).wasm === "string" && !("id" in m);
}

/** The worker's name: the binaries' folder (an absolute URL) and, after "#handed=", the binaries the page hands it. */
export function labWorkerName(wasmBase: string, handed: readonly string[] = []): string {
  return handed.length ? `${wasmBase}#handed=${handed.join(",")}` : wasmBase;
}

/** labWorkerName's parts back; a name that is not an http(s) URL gives no base (the worker picks its own). */
export function readLabWorkerName(name: string): { base?: string; handed: string[] } {
  const [base = "", frag = ""] = name.split("#", 2);
  const handed = frag.startsWith("handed=") ? frag.slice("handed=".length).split(",").filter((n) => /^[A-Za-z0-9_]+$/.test(n)) : [];
  return /^https?:/.test(base) ? { base, handed } : { handed };
}

/** The URL of one binary under the binaries' folder (build/'s layout: kernel.wasm, modules/NAME.wasm). */
function wasmUrl(base: string, name: string): string {
  return name === "kernel" ? `${base}kernel.wasm` : `${base}modules/${name}.wasm`;
}

/**
 * Start the lab's worker (a module worker of `script`) and compile `handed` ("kernel" and
 * module names) from `wasm` (the binaries' folder, relative to the page) at once, posting
 * each to the worker as it is ready. A binary the page cannot compile (a fetch error, no
 * application/wasm type, no compileStreaming) is handed without a module: the worker then
 * fetches it itself, and says what is wrong when that fails too.
 */
export function startLabWorker(script: string | URL, opts: { wasm: string | URL; handed?: readonly string[] }): Worker {
  const base = new URL(opts.wasm, location.href).href.replace(/\/?$/, "/");
  const handed = typeof WebAssembly.compileStreaming === "function" ? opts.handed ?? [] : [];
  const worker = new Worker(script, { type: "module", name: labWorkerName(base, handed) });
  for (const name of handed) {
    WebAssembly.compileStreaming(fetch(wasmUrl(base, name))).then(
      (module) => worker.postMessage({ wasm: name, module } satisfies WasmHand),
      () => worker.postMessage({ wasm: name } satisfies WasmHand),
    );
  }
  return worker;
}
