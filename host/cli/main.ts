// The wavnet command: the commands of host/cli/command_table.ts (run, shell, check, graph,
// inspect, attach, exec, destroy, relay, completion, help, version).
// main() returns the exit code (docs/cli.md); bin/wavnet.mjs calls it. Errors reach the
// user as one line; WAVNET_DEBUG=1 adds the stack of an internal error.

import { readFileSync } from "node:fs";
import { EXIT, UsageError, processIo, write, type Io } from "./io.js";
import { COMMANDS, command, commandHelp, usageText } from "./command_table.js";

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case undefined:
        write(io.stderr, usageText());
        return EXIT.USAGE;
      case "-h":
      case "--help":
      case "help": {
        if (rest.length === 0) {
          write(io.stdout, usageText());
          return EXIT.OK;
        }
        const c = rest.length === 1 ? command(rest[0]!) : undefined;
        if (!c) throw new UsageError(`wavnet help: ${rest.length === 1 ? `no command ${JSON.stringify(rest[0])}` : "one command only"} (${COMMANDS.map((x) => x.name).join(", ")})`);
        write(io.stdout, commandHelp(c));
        return EXIT.OK;
      }
      case "completion":
        return (await import("./completion.js")).completion(rest, io);
      case "version":
      case "--version":
      case "-V":
        write(io.stdout, `wavnet ${version()} (node ${process.version})`);
        return EXIT.OK;
      case "relay": {
        if (rest.includes("--help") || rest.includes("-h")) {
          write(io.stdout, commandHelp(command(cmd)!));
          return EXIT.OK;
        }
        const p = (await import("./parse.js")).parseRelay(rest);
        await import("../node/index.js");
        return await (await import("./run.js")).relay(p.ports, { listen: p.listen }, io);
      }
      case "graph":
        if (rest.includes("--help") || rest.includes("-h")) {
          write(io.stdout, commandHelp(command(cmd)!));
          return EXIT.OK;
        }
        return await (await import("./graph.js")).graph(rest, io);
      case "check": {
        if (rest.includes("--help") || rest.includes("-h")) {
          write(io.stdout, commandHelp(command(cmd)!));
          return EXIT.OK;
        }
        const files = rest.filter((a) => a !== "--json");
        const bad = files.find((a) => a.startsWith("-"));
        if (bad !== undefined) throw new UsageError(`wavnet check: unknown option ${bad} (only --json)`);
        if (files.length !== 1) throw new UsageError(`wavnet check: ${files.length ? "one topology file only" : "a topology file is needed"}`);
        return (await import("./check.js")).check(files[0]!, { json: rest.includes("--json") }, io);
      }
      case "inspect":
      case "attach":
      case "exec":
      case "destroy": {
        if (rest.includes("--help") || rest.includes("-h")) {
          write(io.stdout, commandHelp(command(cmd)!));
          return EXIT.OK;
        }
        return await (await import("./labs.js"))[cmd](rest, io);
      }
      case "run":
      case "shell": {
        if (rest.includes("--help") || rest.includes("-h")) {
          write(io.stdout, commandHelp(command(cmd)!));
          return EXIT.OK;
        }
        const p = (await import("./parse.js")).parse(cmd, rest);
        const flags = { clock: p.clock, seed: p.seed, pcapDir: p.pcapDir, listen: p.listen };
        // The stack is loaded only now (help and version stay fast): Node's platform hooks
        // (binaries and capture files on disk), vnet.net, VXLAN ports, then the command.
        await import("../node/index.js");
        if (cmd === "run" && p.hosts !== undefined) return await (await import("./run_hosts.js")).runHosts(p.file, { ...flags, json: p.json, verbosity: p.verbosity, hosts: p.hosts, ...(p.emitK8s !== undefined ? { emitK8s: p.emitK8s } : {}) }, io);
        if (cmd === "run" && p.workers !== undefined) return await (await import("./run_scale.js")).runScaled(p.file, { ...flags, json: p.json, verbosity: p.verbosity, workers: p.workers }, io);
        if (cmd === "run") return await (await import("./run.js")).run(p.file, { ...flags, json: p.json, keep: p.keep, verbosity: p.verbosity }, io);
        return await (await import("./shell.js")).shell(p.file, { ...flags, history: p.history }, io);
      }
      default:
        throw new UsageError(`wavnet: unknown command ${JSON.stringify(cmd)} (${COMMANDS.map((c) => c.name).join(", ")})`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      write(io.stderr, e.message);
      return EXIT.USAGE;
    }
    const err = e as Error;
    write(io.stderr, `wavnet ${cmd}: ${err?.name && err.name !== "Error" ? `${err.name}: ` : ""}${String(err?.message ?? e).split("\n")[0]}`);
    if (process.env.WAVNET_DEBUG) write(io.stderr, String(err?.stack ?? ""));
    return EXIT.FAILED;
  }
}
