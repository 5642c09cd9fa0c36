// wavnet shell topo.yaml: a console on a running topology. Each line is `<node> <command>`
// (host/shell/commands.ts) or a shell word: help, nodes, links, sleep, quit (the language is
// host/shell/shell.ts, shared with the browser page's consoles). On a terminal it
// prompts, keeps history (optionally in a file) and completes node names, commands and
// interface names; otherwise it reads stdin line by line, echoes each line before its
// output, and exits 1 if any command failed, so a script can drive it.

import { createInterface, type Interface as Readline } from "node:readline";
import { appendFileSync, readFileSync, existsSync } from "node:fs";
import { ShellCore } from "../shell/shell.js";
import { problemsText } from "./check.js";
import { EXIT, isTopologyError, openSession, closeSession, write, listenText, watchPeers, ListenError, type Io, type UpFlags, type Session } from "./session.js";

export interface ShellFlags extends UpFlags {
  /** Keep history in this file (read at start, one line appended per command). */
  history?: string;
}

const PROMPT = "wavnet> ";

/** One shell: its session and what each line does (the words are host/shell/shell.ts's). */
export class Shell {
  failed = 0;
  readonly core: ShellCore;
  constructor(readonly s: Session, private readonly io: Io) {
    this.core = new ShellCore(s);
  }

  nodeNames(): string[] {
    return this.core.nodeNames();
  }

  help(cmd?: string): string {
    return this.core.help(cmd);
  }

  nodesText(): string {
    return this.core.nodesText();
  }

  linksText(): string {
    return this.core.linksText();
  }

  /** Run one line; returns false when the shell should end. */
  async line(raw: string, signal?: AbortSignal): Promise<boolean> {
    // Long commands (ping, traceroute, pingall) print each line as it comes.
    const r = await this.core.run(raw, undefined, { ...(signal ? { signal } : {}), print: (l) => write(this.io.stdout, l) });
    if (r.quit) return false;
    if (r.out !== "") write(this.io.stdout, r.out);
    if (r.error !== undefined) this.fail(r.error);
    return true;
  }

  private fail(message: string): void {
    this.failed++;
    write(this.io.stderr, message);
  }

  /** readline's completer: node names and shell words, then commands, then interface names. */
  complete(line: string): [string[], string] {
    // A unique match ends its word, as bash does: "pi<Tab>" gives "ping " (then "-c" stays a word of its own).
    const [cands, word] = this.core.complete(line);
    return [cands.length === 1 ? [`${cands[0]} `] : cands, word];
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
    if (isTopologyError(e) || e instanceof ListenError) {
      write(io.stderr, `wavnet shell: ${e instanceof ListenError ? `--listen: ${e.message}` : problemsText(e)}`);
      return EXIT.USAGE;
    }
    throw e;
  }
  const sh = new Shell(s, io);
  // --listen: the URLs peers join at, and peers coming and going, on stderr (stdout is the script's output).
  const stopWatch = s.topo.listener ? watchPeers(s, (l) => write(io.stderr, l)) : undefined;
  if (s.topo.listener) write(io.stderr, listenText(s));
  const interactive = io.stdinTTY;
  let running: AbortController | undefined;
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
      // ^C while a line runs stops it (ping and traceroute print what they have), as in a shell.
      if (running) {
        running.abort(new Error("^C"));
        io.stdout.write("^C\n");
        return;
      }
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
    if (interactive && flags.history && line.trim() !== "") appendFileSync(flags.history, `${line.trimEnd()}\n`);
    running = new AbortController();
    let more: boolean;
    try {
      more = await sh.line(line, running.signal);
    } finally {
      running = undefined;
    }
    if (!more) break;
    if (interactive) rl.prompt();
  }
  rl.close();
  stopWatch?.();
  const report = await closeSession(s);
  write(io.stdout, report.text);
  if (!report.ok) write(io.stderr, "LEAK: the kernel did not get back everything the topology used");
  if (!report.ok) return EXIT.FAILED;
  return !interactive && sh.failed > 0 ? EXIT.FAILED : EXIT.OK;
}
