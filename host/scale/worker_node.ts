// The Node entry of a partition's worker (worker_threads): the Node platform (binaries from
// disk, files, timers) and a PartitionWorker on the parent port. host/scale/lab.ts starts it.
import { parentPort } from "node:worker_threads";
import "../index.js"; // the Node platform hooks and the facade
import { PartitionWorker } from "./partition_worker.js";
import type { ToWorker } from "./protocol.js";

const port = parentPort!;
new PartitionWorker({
  post: (m) => port.postMessage(m),
  onMessage: (fn) => port.on("message", (m: ToWorker) => fn(m)),
});
