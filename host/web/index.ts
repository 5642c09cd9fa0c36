// wavnet/web: the page protocol (docs/web.md), platform-neutral. The worker's side
// (LabServer: a lab and its controls behind requests and events), the page's side
// (LabClient), the message types, time control for a lab (TimeController), the packet
// decoder and filter the packet list uses, and files in memory. The browser page (web/)
// is built on it; a Node worker_threads worker can serve it too.
export { LabServer, type ServeOptions } from "./server.js";
export { startLabWorker, labWorkerName, readLabWorkerName, isWasmHand, type WasmHand } from "./early.js";
export { LabClient, LabError, type ClientPort } from "./client.js";
export { Lab, check, problemsOf, CAPTURE_DIR } from "./lab.js";
export { TimeController, type ClockState } from "./time.js";
export { MemFs, type MemFile } from "./memfs.js";
export { decodeFrame, tcpFlagNames, macText, ipv4Text, ipv6Text, LINKTYPE_ETHERNET, LINKTYPE_NULL, type Decoded, type Layer, type Field, type Summary } from "./decode.js";
export { compileFilter, FilterError, type RowTest } from "./filter.js";
export * from "./protocol.js";
