// wavnet: many network stacks in one WebAssembly kernel. The package's main entry, for Node:
// the platform-neutral core (wavnet/core, which has the command table of the `wavnet`
// shell, Commands, for scripting it) and Node's extras (wavnet/node).
export * from "./core.js";
export * from "./node/index.js";
