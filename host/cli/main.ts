// The wavnet command: the commands of host/cli/command_table.ts (run, shell, check, graph,
// inspect, attach, exec, destroy, relay, completion, help, version).
// main() returns the exit code (docs/cli.md); bin/wavnet.mjs calls it. Errors reach the
// user as one line; WAVNET_DEBUG=1 adds the stack of an internal error.

import { parseArgs } from "node:util";
import { mkdirSync, readFileSync } from "node:fs";
import { EXIT, UsageError, processIo, write, type Io } from "./io.js";
import { COMMANDS, command, commandHelp, parseArgsOptions, usageText } from "./command_table.js";

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

interface Parsed {
  cmd: "run" | "shell";
  file: string;
  clock?: "virtual" | "real";
  seed?: number;
  pcapDir?: string;
  json: boolean;
  history?: string;
  keep?: boolean;
  verbosity: "quiet" | "normal" | "verbose";
  listen?: { host?: string; port: number; allowOrigins?: string[] };
}

/** wavnet relay's options: --listen (needed), --ports, --allow-origin. */
function parseRelay(argv: string[]): { ports: number; listen: { host?: string; port: number; allowOrigins?: string[] } } {
  let p: ReturnType<typeof parseArgs<{ options: typeof RELAY_OPTIONS; allowPositionals: true; strict: true }>>;
  try {
    p = parseArgs({ args: argv, options: RELAY_OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    const m = (e as Error).message.split("\n")[0];
    const opt = /^Option '(--[a-z-]+)[^']*' argument (is ambiguous|missing)/.exec(m);
    throw new UsageError(`wavnet relay: ${opt ? `${opt[1]} needs a value` : m.replace(/\. .*$/, "").replace(/\.$/, "")}`);
  }
  if (p.positionals.length) throw new UsageError(`wavnet relay: no file: the relay is its own lab (got ${JSON.stringify(p.positionals[0])})`);
  if (p.values.listen === undefined) throw new UsageError("wavnet relay: --listen [HOST:]PORT is needed");
  const ports = p.values.ports === undefined ? 8 : /^\d+$/.test(p.values.ports) ? Number(p.values.ports) : NaN;
  if (!(ports >= 1 && ports <= 64)) throw new UsageError(`wavnet relay: --ports must be 1 to 64, got ${JSON.stringify(p.values.ports)}`);
  const origins = p.values["allow-origin"];
  for (const o of origins ?? []) checkOrigin("relay", o);
  return { ports, listen: { ...parseListen("relay", p.values.listen), ...(origins ? { allowOrigins: origins } : {}) } };
}

const RELAY_OPTIONS = parseArgsOptions(command("relay")!.options) as {
  listen: { type: "string" };
  ports: { type: "string" };
  "allow-origin": { type: "string"; multiple: true };
};

/** An Origin header is scheme://host[:port], nothing more (anything else would never match), or "*". */
function checkOrigin(cmd: string, o: string): void {
  if (o === "*") return;
  let u: URL | undefined;
  try {
    u = new URL(o);
  } catch {
    // not a URL: refused below
  }
  if (!u || !/^https?:$/.test(u.protocol) || u.origin !== o) throw new UsageError(`wavnet ${cmd}: --allow-origin takes an origin such as https://lab.example.org or http://10.0.0.5:5173 (scheme, host, port; no path), or *; got ${JSON.stringify(o)}`);
}

/** --listen's value: PORT, HOST:PORT or [IPV6]:PORT. */
export function parseListen(cmd: string, v: string): { host?: string; port: number } {
  const m = /^(?:\[([^\]]+)\]:|([^:\[\]]+):)?(\d+)$/.exec(v);
  if (!m) throw new UsageError(`wavnet ${cmd}: --listen takes PORT or HOST:PORT ([ADDR]:PORT for IPv6), got ${JSON.stringify(v)}`);
  const port = Number(m[3]);
  if (port > 65535) throw new UsageError(`wavnet ${cmd}: --listen: port ${m[3]} is out of range (0 to 65535; 0: any free port)`);
  const host = m[1] ?? m[2];
  return host === undefined ? { port } : { host, port };
}

function parse(cmd: "run" | "shell", argv: string[]): Parsed {
  let p: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; strict: true }>>;
  try {
    p = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    // Node's messages run on with advice for programmers: keep the first sentence.
    const m = (e as Error).message.split("\n")[0];
    const opt = /^Option '(--[a-z-]+)[^']*' argument (is ambiguous|missing)/.exec(m);
    throw new UsageError(`wavnet ${cmd}: ${opt ? `${opt[1]} needs a value` : m.replace(/\. .*$/, "").replace(/\.$/, "")}`);
  }
  const v = p.values;
  if (p.positionals.length !== 1) throw new UsageError(`wavnet ${cmd}: ${p.positionals.length ? "one topology file only" : "a topology file is needed"}`);
  if (v["virtual-time"] && v["real-time"]) throw new UsageError(`wavnet ${cmd}: --virtual-time and --real-time exclude each other`);
  if (v.listen !== undefined && v["virtual-time"]) throw new UsageError(`wavnet ${cmd}: --listen and --virtual-time exclude each other (a peer in another process or page cannot share virtual time)`);
  const origins = v["allow-origin"];
  if (origins && v.listen === undefined) throw new UsageError(`wavnet ${cmd}: --allow-origin is for --listen`);
  for (const o of origins ?? []) checkOrigin(cmd, o);
  if (cmd === "shell" && v.json) throw new UsageError("wavnet shell: --json is for wavnet run");
  if (cmd === "run" && v.history !== undefined) throw new UsageError("wavnet run: --history is for wavnet shell");
  if (v.quiet && v.verbose) throw new UsageError(`wavnet ${cmd}: -q and -v exclude each other`);
  if (cmd === "shell" && (v.quiet || v.verbose)) throw new UsageError(`wavnet shell: ${v.quiet ? "-q" : "-v"} is for wavnet run`);
  if (v.json && (v.quiet || v.verbose)) throw new UsageError(`wavnet run: --json and ${v.quiet ? "-q" : "-v"} exclude each other (the document has every detail)`);
  if (cmd === "shell" && v.keep) throw new UsageError("wavnet shell: --keep is for wavnet run (wavnet attach then gives a shell on the kept lab)");
  let seed: number | undefined;
  if (v.seed !== undefined) {
    seed = /^\d+$/.test(v.seed) ? Number(v.seed) : NaN;
    if (!Number.isSafeInteger(seed)) throw new UsageError(`wavnet ${cmd}: --seed must be a non-negative integer, got ${JSON.stringify(v.seed)}`);
  }
  if (v.pcap !== undefined) {
    try {
      mkdirSync(v.pcap, { recursive: true });
    } catch (e) {
      throw new UsageError(`wavnet ${cmd}: --pcap ${v.pcap}: ${(e as Error).message}`);
    }
  }
  return {
    cmd,
    file: p.positionals[0],
    clock: v["virtual-time"] ? "virtual" : v["real-time"] ? "real" : undefined,
    seed,
    pcapDir: v.pcap,
    json: v.json === true,
    history: v.history,
    keep: v.keep === true,
    verbosity: v.quiet ? "quiet" : v.verbose ? "verbose" : "normal",
    ...(v.listen !== undefined ? { listen: { ...parseListen(cmd, v.listen), ...(origins ? { allowOrigins: origins } : {}) } } : {}),
  };
}

// run and shell share one parser (the union of their options in the table), so that an
// option of the other one gets a message that says whose it is.
const OPTIONS = parseArgsOptions([...new Set([...command("run")!.options, ...command("shell")!.options])]) as {
  "virtual-time": { type: "boolean" };
  "real-time": { type: "boolean" };
  seed: { type: "string" };
  pcap: { type: "string" };
  json: { type: "boolean" };
  history: { type: "string" };
  keep: { type: "boolean" };
  quiet: { type: "boolean"; short: "q" };
  verbose: { type: "boolean"; short: "v" };
  listen: { type: "string" };
  "allow-origin": { type: "string"; multiple: true };
};

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
        const p = parseRelay(rest);
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
        const p = parse(cmd, rest);
        const flags = { clock: p.clock, seed: p.seed, pcapDir: p.pcapDir, listen: p.listen };
        // The stack is loaded only now (help and version stay fast): Node's platform hooks
        // (binaries and capture files on disk), vnet.net, VXLAN ports, then the command.
        await import("../node/index.js");
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
