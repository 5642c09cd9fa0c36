// The command line of wavnet run, shell and relay: their options as the command table says
// (host/cli/command_table.ts), checked for what the table cannot say (options that exclude
// each other, values). Loaded only for those commands, so that --help and version stay small.

import { parseArgs } from "node:util";
import { mkdirSync } from "node:fs";
import { UsageError } from "./io.js";
import { command, parseArgsOptions } from "./command_table.js";

export interface Parsed {
  cmd: "run" | "shell";
  file: string;
  clock?: "virtual" | "real";
  seed?: number;
  pcapDir?: string;
  json: boolean;
  history?: string;
  keep?: boolean;
  /** --workers N: the lab over N kernels in worker threads (host/scale/). */
  workers?: number;
  /** --hosts FILE: one process per entry of hosts.yaml (host/scale/hosts.ts); --emit-k8s DIR: manifests instead. */
  hosts?: string;
  emitK8s?: string;
  verbosity: "quiet" | "normal" | "verbose";
  listen?: { host?: string; port: number; allowOrigins?: string[] };
}

/** wavnet relay's options: --listen (needed), --ports, --allow-origin. */
export function parseRelay(argv: string[]): { ports: number; listen: { host?: string; port: number; allowOrigins?: string[] } } {
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

export function parse(cmd: "run" | "shell", argv: string[]): Parsed {
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
  let workers: number | undefined;
  if (v.workers !== undefined) {
    workers = /^\d+$/.test(v.workers) ? Number(v.workers) : NaN;
    if (!(workers >= 1 && workers <= 256)) throw new UsageError(`wavnet run: --workers must be an integer from 1 to 256, got ${JSON.stringify(v.workers)}`);
    // Not yet over several kernels: a lab for others to join, or kept for other terminals.
    if (v.listen !== undefined) throw new UsageError("wavnet run: --workers and --listen exclude each other (for now)");
    if (v.keep) throw new UsageError("wavnet run: --workers and --keep exclude each other (for now)");
  }
  if (v.hosts !== undefined) {
    if (workers !== undefined) throw new UsageError("wavnet run: --hosts and --workers exclude each other (a host runs one partition)");
    if (v.listen !== undefined) throw new UsageError("wavnet run: --hosts and --listen exclude each other (for now)");
    if (v.keep) throw new UsageError("wavnet run: --hosts and --keep exclude each other (for now)");
    if (v["virtual-time"]) throw new UsageError("wavnet run: --hosts runs in real time: processes on several machines do not share virtual time (--workers does)");
  }
  if (v["emit-k8s"] !== undefined && v.hosts === undefined) throw new UsageError("wavnet run: --emit-k8s is for --hosts (the manifests have one partition per host entry)");
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
    ...(workers !== undefined ? { workers } : {}),
    ...(v.hosts !== undefined ? { hosts: v.hosts } : {}),
    ...(v["emit-k8s"] !== undefined ? { emitK8s: v["emit-k8s"] } : {}),
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
  workers: { type: "string" };
  hosts: { type: "string" };
  "emit-k8s": { type: "string" };
  quiet: { type: "boolean"; short: "q" };
  verbose: { type: "boolean"; short: "v" };
  listen: { type: "string" };
  "allow-origin": { type: "string"; multiple: true };
};
