// wavnet/core as Node resolves it (the "node" condition of package.json's exports): the same
// core, with Node's platform hooks installed, so Kernel.boot() finds the binaries on disk.
import "./platform.js";

export * from "../core.js";
