// wavnet/web as Node resolves it (the "node" condition): the page protocol with Node's
// platform hooks, so a LabServer in a worker_threads worker boots from the binaries on disk.
import "./platform.js";

export * from "../web/index.js";
