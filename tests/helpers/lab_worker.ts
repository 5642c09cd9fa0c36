// A Node worker_threads worker running the page protocol's server (host/web/server.ts), as a
// Web Worker runs it for the page: binaries from build/ (Node's platform), files in memory.
import { parentPort } from "node:worker_threads";
import "../../host/node/platform.js";
import { LabServer } from "../../host/web/server.js";

const port = parentPort!;
const server = new LabServer((m, transfer) => port.postMessage(m, transfer as never));
port.on("message", (m) => void server.handle(m));
