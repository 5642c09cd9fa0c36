// The node commands moved to host/shell/commands.ts (platform-neutral: the browser page's
// consoles run them too); the CLI keeps its old module names.
export * from "../shell/commands.js";
