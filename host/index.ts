// wavnet: many network stacks in one WebAssembly kernel. The package's main entry, for Node:
// the platform-neutral core (wavnet/core) and Node's extras (wavnet/node) together.
export * from "./core.js";
export * from "./node/index.js";
