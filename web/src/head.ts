// The page's head, in the built page (vite.config.ts inlines it as a classic script): the
// lab's worker starts here, while the document is still parsed, not after the page's own
// bundle (graph, editor, consoles: most of the page's code) is fetched, parsed and run; the
// kernel and GENERIC's modules are compiled beside it and handed to it (host/web/early.ts).
// main.ts takes the worker from window.labWorker (and starts one itself under the dev server).
import { startLabWorker } from "../../host/web/early.js";

/** Set by the build: the worker's file and the binaries handed. */
declare const WORKER_URL: string;
declare const HANDED: string[];

(window as unknown as { labWorker: Worker }).labWorker = startLabWorker(new URL(WORKER_URL, document.baseURI), { wasm: new URL("wasm/", document.baseURI), handed: HANDED });
