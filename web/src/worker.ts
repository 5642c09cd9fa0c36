// The Web Worker that runs the lab: the core, the kernel and its vnets, behind the page
// protocol (host/web/server.ts). The page names the folder of the binaries as the worker's
// name (an absolute URL), so a static copy of the page works under any path, with the
// binaries its head compiles and hands over (host/web/early.ts labWorkerName).
import { LabServer } from "../../host/web/server.js";
import { urlModuleSource } from "../../host/kern/source.js";
import { readLabWorkerName } from "../../host/web/early.js";

interface WorkerScope {
  name: string;
  location: { href: string };
  postMessage(m: unknown, transfer: Transferable[]): void;
  onmessage: ((e: MessageEvent) => void) | null;
}
const scope = self as unknown as WorkerScope;
const named = readLabWorkerName(scope.name ?? "");
const wasmBase = named.base ?? new URL("../wasm/", scope.location.href).href;
const server = new LabServer((m, transfer) => scope.postMessage(m, transfer ?? []), { source: urlModuleSource(wasmBase), handed: named.handed });
scope.onmessage = (e: MessageEvent) => void server.handle(e.data);
