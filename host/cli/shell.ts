// wavnet shell topo.yaml: a console on a running topology. Each line is `<node> <command>`
// (host/cli/commands.ts) or a shell word: help, nodes, links, sleep, quit. On a terminal it
// prompts, keeps history (optionally in a file) and completes node names, commands and
// interface names; otherwise it reads stdin line by line, echoes each line before its
// output, and exits 1 if any command failed, so a script can drive it.

import { createInterface, type Interface as Readline } from "node:readline";
import { appendFileSync, readFileSync, existsSync } from "node:fs";
import type { VirtualClock } from "../kern/clock.js";
import { formatTable } from "../lib/format.js";
import { CommandError, CommandFailed, interfaceNames } from "./commands.js";
import { formatConditions } from "../admin/epair.js";
import { tokenize, duration } from "./args.js";
import { EXIT, isTopologyError, openSession, closeSession, write, type Io, type UpFlags, type Session } from "./session.js";

export interface ShellFlags extends UpFlags {
  /** Keep history in this file (read at start, one line appended per command). */
  history?: string;
}

const BUILTINS: Record<string, string> = {
  help: "help [COMMAND]          this list, or one command's usage",
  nodes: "nodes                   the nodes, their roles and interfaces",
  links: "links                   the links and their conditions",
  sleep: "sleep T                 let time pass (10ms, 2s): virtual time moves, real time is waited",
  quit: "quit                    tear the topology down and leave (also exit, or end of input)",
};

const PROMPT = "wavnet> ";

/** One shell: its session and what each line does. */
export class Shell {
  failed = 0;
  constructor(readonly s: Session, private readonly io: Io) {}

  nodeNames(): string[] {
    return this.s.topo.nodes().map((n) => n.name);
  }

  help(cmd?: string): string {
    if (cmd !== undefined) return Object.hasOwn(BUILTINS, cmd) ? BUILTINS[cmd] : this.s.commands.help(cmd);
    return [
      "Shell:",
      ...Object.values(BUILTINS).map((l) => `  ${l}`),
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

  /** Run one line; returns false when the shell should end. */
  async line(raw: string): Promise<boolean> {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return true;
    let words: string[];
    try {
      words = tokenize(line);
    } catch (e) {
      this.fail((e as Error).message);
      return true;
    }
    const [first, ...rest] = words;
    try {
      switch (first) {
        case "quit":
        case "exit":
          return false;
        case "help":
          if (rest.length > 1) throw new CommandError("help: usage: help [COMMAND]");
          write(this.io.stdout, this.help(rest[0]));
          return true;
        case "nodes":
          write(this.io.stdout, this.nodesText());
          return true;
        case "links":
          write(this.io.stdout, this.linksText());
          return true;
        case "sleep": {
          if (rest.length !== 1) throw new CommandError("sleep: usage: sleep T (10ms, 2s)");
          const us = duration("sleep", "T", rest[0]);
          const clock = this.s.topo.kernel.clock;
          if (clock.kind === "virtual") (clock as VirtualClock).advance(us);
          else await new Promise((r) => setTimeout(r, us / 1000));
          return true;
        }
      }
      if (!this.nodeNames().includes(first)) {
        throw new CommandError(`${first}: no such node or shell command (nodes: ${this.nodeNames().join(", ")}; shell: ${Object.keys(BUILTINS).join(", ")})`);
      }
      if (rest.length === 0) throw new CommandError(`${first}: a command is needed after the node name (try: help)`);
      // Pass the rest of the line as typed, so the command sees the user's quoting.
      const out = await this.s.commands.exec(this.s.topo.node(first), line.slice(line.indexOf(first) + first.length));
      if (out !== "") write(this.io.stdout, out);
    } catch (e) {
      if (e instanceof CommandFailed && e.output) write(this.io.stdout, e.output);
      if (e instanceof CommandError || isTopologyError(e)) this.fail(e.message);
      else this.fail(`internal error: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`);
    }
    return true;
  }

  private fail(message: string): void {
    this.failed++;
    write(this.io.stderr, message);
  }

  /** readline's completer: node names and shell words, then commands, then interface names. */
  complete(line: string): [string[], string] {
    const words = line.trimStart().split(/\s+/);
    const last = words[words.length - 1];
    let cands: string[] = [];
    if (words.length === 1) cands = [...this.nodeNames(), ...Object.keys(BUILTINS)];
    else if (words[0] === "help" && words.length === 2) cands = this.s.commands.names();
    else if (this.nodeNames().includes(words[0])) {
      const node = this.s.topo.node(words[0]);
      cands = words.length === 2 ? this.s.commands.names() : [...new Set(interfaceNames(node))];
    }
    return [cands.filter((c) => c.startsWith(last)).sort(), last];
  }
}

function readHistory(file: string): string[] {
  if (!existsSync(file)) return [];
  // readline wants the newest first.
  return readFileSync(file, "utf8").split("\n").filter((l) => l.trim() !== "").reverse().slice(0, 1000);
}

export async function shell(file: string, flags: ShellFlags, io: Io): Promise<number> {
  let s: Session;
  try {
    s = await openSession(file, flags);
  } catch (e) {
    if (isTopologyError(e)) {
      write(io.stderr, `wavnet shell: ${e.message}`);
      return EXIT.USAGE;
    }
    throw e;
  }
  const sh = new Shell(s, io);
  const interactive = io.stdinTTY;
  let rl: Readline;
  if (interactive) {
    rl = createInterface({
      input: io.stdin,
      output: io.stdout,
      terminal: true,
      history: flags.history ? readHistory(flags.history) : [],
      historySize: 1000,
      completer: (line: string) => sh.complete(line),
    });
    rl.on("SIGINT", () => {
      if (rl.line === "") write(io.stdout, "\n(quit, exit or ^D to leave)");
      else io.stdout.write("\n");
      rl.prompt();
    });
    write(io.stdout, `wavnet shell: ${s.spec.name}, ${sh.nodeNames().length} nodes (${sh.nodeNames().slice(0, 8).join(", ")}${sh.nodeNames().length > 8 ? ", ..." : ""}), ${s.topo.kernel.clock.kind} clock. Type help.`);
  } else {
    rl = createInterface({ input: io.stdin, terminal: false });
  }
  const lines = rl[Symbol.asyncIterator]();
  if (interactive) {
    rl.setPrompt(PROMPT);
    rl.prompt();
  }
  for (;;) {
    const next = await lines.next();
    if (next.done) break;
    const line: string = next.value;
    if (!interactive && line.trim() !== "") write(io.stdout, `${PROMPT}${line}`);
    if (interactive && flags.history && line.trim() !== "") appendFileSync(flags.history, `${line}\n`);
    if (!(await sh.line(line))) break;
    if (interactive) rl.prompt();
  }
  rl.close();
  const report = await closeSession(s);
  write(io.stdout, report.text);
  if (!report.ok) write(io.stderr, "LEAK: the kernel did not get back everything the topology used");
  if (!report.ok) return EXIT.FAILED;
  return !interactive && sh.failed > 0 ? EXIT.FAILED : EXIT.OK;
}
