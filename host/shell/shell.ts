// The shell's language, platform-neutral: a line is a shell word (help, nodes, links, sleep,
// pingall, quit) or `NODE COMMAND [ARGS]` (host/shell/commands.ts), and completion offers node names
// and shell words, then command names, then the node's interface names (and node names after ping, traceroute, route). `wavnet shell`
// (host/cli/shell.ts) reads lines from a terminal or a script and prints what this returns;
// the browser page's consoles (host/web/) send lines to a worker that runs them here, with
// the console's node standing in for the first word.

import type { Kernel } from "../kern/kernel.js";
import type { VirtualClock } from "../kern/clock.js";
import { TopologyError, TopologyErrors, type TopoLink, type TopoNode } from "../topology/index.js";
import { formatTable } from "../lib/format.js";
import { formatConditions } from "../admin/epair.js";
import { CommandError, CommandFailed, interfaceNames, type Commands } from "./commands.js";
import { tokenize, duration } from "./args.js";
import { pingall } from "./pingall.js";

/** What the shell runs on: a running topology (or anything shaped like one) and its command table. */
export interface ShellSession {
  topo: {
    readonly kernel: Kernel;
    nodes(): TopoNode[];
    node(name: string): TopoNode;
    links(): TopoLink[];
  };
  commands: Commands;
}

/** The shell's own words, with their one-line help. */
export const SHELL_WORDS: Record<string, string> = {
  help: "help [COMMAND]          this list, or one command's usage",
  nodes: "nodes                   the nodes, their roles and interfaces",
  links: "links                   the links and their conditions",
  sleep: "sleep T                 let time pass (10ms, 2s): virtual time moves, real time is waited",
  pingall: "pingall [-4|-6] [-W ms]  every host pings every host once: a row per host (X: no reply), the loss",
  quit: "quit                    tear the topology down and leave (also exit, or end of input)",
};

/** Commands where a node's name stands for an address (shell/resolve.ts), so completion offers node names. */
const ADDRESS_COMMANDS = new Set(["ping", "ping6", "traceroute", "traceroute6", "route"]);

/** What one line did: its output (possibly ""), its error line if it failed, and whether the shell should end. */
export interface LineResult {
  out: string;
  error?: string;
  quit: boolean;
}

function isTopologyError(e: unknown): boolean {
  return e instanceof TopologyError || e instanceof TopologyErrors;
}

export class ShellCore {
  constructor(readonly s: ShellSession) {}

  nodeNames(): string[] {
    return this.s.topo.nodes().map((n) => n.name);
  }

  help(cmd?: string): string {
    if (cmd !== undefined) return Object.hasOwn(SHELL_WORDS, cmd) ? SHELL_WORDS[cmd] : this.s.commands.help(cmd);
    return [
      "Shell:",
      ...Object.values(SHELL_WORDS).map((l) => `  ${l}`),
      "",
      "On a node: NODE COMMAND [ARGS], e.g. h1 ping -c 3 10.0.0.2",
      this.s.commands.help(),
    ].join("\n");
  }

  nodesText(): string {
    return formatTable(
      ["NODE", "ROLE", "INTERFACES"],
      this.s.topo.nodes().map((n) => [
        n.name,
        n.role,
        n.interfaces().map((i) => `${i.name}${i.iface.alive && i.iface.name !== i.name ? `(${i.iface.name})` : ""}${i.addresses.length ? ` ${i.addresses.join(",")}` : ""}`).join("; "),
      ]),
    );
  }

  linksText(): string {
    const links = this.s.topo.links();
    if (links.length === 0) return "no links";
    return formatTable(
      ["A", "B", "A->B", "B->A"],
      links.map((l) => {
        const c = l.conditions();
        return [l.a, l.b, formatConditions(c["a->b"]) || "-", formatConditions(c["b->a"]) || "-"];
      }),
    );
  }

  /** Let us µs pass: a virtual clock moves (at its pacer's speed if it has one), a real one is waited for; ^C (signal) ends it early. */
  async sleep(us: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return;
    const clock = this.s.topo.kernel.clock;
    let stop = () => {};
    const aborted = new Promise<void>((r) => (stop = r));
    signal?.addEventListener("abort", stop, { once: true });
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      if (clock.kind === "virtual") await Promise.race([(clock as VirtualClock).waitFor(us), aborted]);
      else await Promise.race([new Promise((r) => (timer = setTimeout(r, us / 1000))), aborted]);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", stop);
    }
  }

  /**
   * Run one line. With `node`, the line is run on that node (a console of its own): a first
   * word that is not a shell word is a command of the node's.
   */
  async run(raw: string, node?: string, opts: { signal?: AbortSignal; print?: (line: string) => void } = {}): Promise<LineResult> {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return { out: "", quit: false };
    let words: string[];
    try {
      words = tokenize(line);
    } catch (e) {
      return { out: "", error: (e as Error).message, quit: false };
    }
    const [first, ...rest] = words;
    let out = "";
    try {
      switch (first) {
        case "quit":
        case "exit":
          return { out: "", quit: true };
        case "help":
          if (rest.length > 1) throw new CommandError("help: usage: help [COMMAND]");
          return { out: this.help(rest[0]), quit: false };
        case "nodes":
          return { out: this.nodesText(), quit: false };
        case "links":
          return { out: this.linksText(), quit: false };
        case "pingall": {
          const r = await pingall(this.s, rest, opts);
          const out = opts.print ? "" : r.text;
          if (r.received < r.sent) return { out, error: `pingall: ${r.sent - r.received} of ${r.sent} pings got no reply`, quit: false };
          return { out, quit: false };
        }
        case "sleep": {
          if (rest.length !== 1) throw new CommandError("sleep: usage: sleep T (10ms, 2s)");
          await this.sleep(duration("sleep", "T", rest[0]), opts.signal);
          return { out: "", quit: false };
        }
      }
      let target: string;
      let cmdLine: string;
      if (node !== undefined) {
        if (!this.nodeNames().includes(node)) throw new CommandError(`${node}: no such node (nodes: ${this.nodeNames().join(", ")})`);
        target = node;
        cmdLine = line;
      } else {
        if (!this.nodeNames().includes(first)) {
          throw new CommandError(`${first}: no such node or shell command (nodes: ${this.nodeNames().join(", ")}; shell: ${Object.keys(SHELL_WORDS).join(", ")})`);
        }
        if (rest.length === 0) throw new CommandError(`${first}: a command is needed after the node name (try: help)`);
        target = first;
        // Pass the rest of the line as typed, so the command sees the user's quoting.
        cmdLine = line.slice(line.indexOf(first) + first.length);
      }
      out = await this.s.commands.exec(this.s.topo.node(target), cmdLine, opts);
      return { out, quit: false };
    } catch (e) {
      const shown = e instanceof CommandFailed && e.output ? e.output : out;
      if (e instanceof CommandError || isTopologyError(e)) return { out: shown, error: (e as Error).message, quit: false };
      return { out: shown, error: `internal error: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`, quit: false };
    }
  }

  /**
   * Completion (readline's shape: candidates and the word they complete): node names and
   * shell words, then commands, then interface names. With `node`, the line is on that node.
   */
  complete(line: string, node?: string): [string[], string] {
    const words = line.trimStart().split(/\s+/);
    const last = words[words.length - 1];
    let cands: string[] = [];
    if (node !== undefined && this.nodeNames().includes(node)) {
      if (words.length === 1) cands = [...this.s.commands.names(), ...Object.keys(SHELL_WORDS)];
      else if (words[0] === "help" && words.length === 2) cands = this.s.commands.names();
      else if (!Object.hasOwn(SHELL_WORDS, words[0])) cands = [...new Set([...interfaceNames(this.s.topo.node(node)), ...(ADDRESS_COMMANDS.has(words[0]!) ? this.nodeNames() : [])])];
    } else if (words.length === 1) cands = [...this.nodeNames(), ...Object.keys(SHELL_WORDS)];
    else if (words[0] === "help" && words.length === 2) cands = this.s.commands.names();
    else if (this.nodeNames().includes(words[0])) {
      const n = this.s.topo.node(words[0]);
      // Node names too after a command that takes an address (h1 ping h2).
      cands = words.length === 2 ? this.s.commands.names() : [...new Set([...interfaceNames(n), ...(ADDRESS_COMMANDS.has(words[1]!) ? this.nodeNames() : [])])];
    }
    return [cands.filter((c) => c.startsWith(last)).sort(), last];
  }
}
