// Moved to host/shell/args.ts (platform-neutral); the CLI keeps its old module name.
export * from "../shell/args.js";
