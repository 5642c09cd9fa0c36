// The bench page's head (serve.ts inlines it as a classic script, so it runs while the
// document is parsed, before page.js): the worker starts here, and the kernel and
// GENERIC's modules (HANDED, set by the build) are compiled beside it and handed to it
// (host/web/early.ts), so that the worker's start and the binaries' fetch and compile
// overlap. page.js takes the worker from window.benchWorker.
import { startLabWorker } from "../../host/web/early.js";

declare const HANDED: string[];

(window as unknown as { benchWorker: Worker }).benchWorker = startLabWorker("worker.js", { wasm: "wasm/", handed: HANDED });
