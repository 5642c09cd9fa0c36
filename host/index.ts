// wavnet: many network stacks in one WebAssembly kernel. The package's main entry, for Node:
// the platform-neutral core (wavnet/core), Node's extras (wavnet/node), and the command
// table of the `wavnet` shell (Commands) for scripting it.
export * from "./core.js";
export * from "./node/index.js";
export { Commands, CommandError, CommandFailed, type CommandNode, type CommandsOptions } from "./cli/commands.js";
