// wavnet run topo.yaml: bring the topology up, run its steps with a progress display, print
// the result table, tear down, print the accounting. Exit 0 only when every step passed
// and nothing leaked. --json prints one JSON document instead of all the text.
// With --listen the lab is for others to join: the URLs of its websocket interfaces are
// printed first, and after its steps it stays up until ^C or SIGTERM, then goes down
// cleanly (the exit status is still the steps' and the teardown's).

import { fmtMs, resultTableFit, passedLine } from "../shell/results.js";
import { parseTopology, type StepEvent, type StepResult, type TeardownReport, type TopologySpec } from "../topology/index.js";
import { AbortError } from "../lib/errors.js";
import { problemsText, problemsJson } from "./check.js";
import { captureLinks, linkFrames } from "./capture_links.js";
import { startControl } from "./control.js";
import { quietEnd, verboseStep, type Verbosity } from "./run_output.js";
import { EXIT, isTopologyError, openSession, closeSession, execFor, write, listenInterfaces, listenText, watchPeers, ListenError, type Io, type UpFlags, type Session } from "./session.js";

export { resultTable } from "../shell/results.js";

export interface RunFlags extends UpFlags {
  json?: boolean;
  /** --keep: after the steps, stay up for wavnet inspect/attach/exec/destroy (a control socket). */
  keep?: boolean;
  /** -q: only failures and how it ended; -v: every step's detail as it finishes (host/cli/run_output.ts). */
  verbosity?: Verbosity;
}

/** What --json prints (and what npm start's demo reads). */
export interface RunReport {
  file: string;
  name: string;
  clock: "virtual" | "real";
  seed?: number;
  nodes: number;
  links: number;
  upMs: number;
  /** Memory of the kernel with the topology up, before the steps. */
  kmemPages: number;
  memoryBytes: number;
  steps: StepResult[];
  /** --listen: where the websocket interfaces were served. */
  listen?: { host: string; port: number; endpoints: { node: string; iface: string; url: string }[] };
  /** Stopped by a signal while the steps ran (the results are those finished before). */
  interrupted?: boolean;
  /** --pcap with no capture steps: each link, the lab's one file, its ends' interface names there (pcapng if_name), frames of both ends. */
  captures?: { link: string; file: string; interfaces: [string, string]; frames: number }[];
  teardown: TeardownReport;
  ok: boolean;
  exitCode: number;
}

/**
 * Progress: on a terminal one line rewritten in place (the step running now); elsewhere one
 * plain line per finished step. Failures always get a line of their own that stays.
 */
export class Progress {
  #live = false;
  constructor(private readonly io: Io, private readonly tty: boolean, private readonly verbosity: Verbosity = "normal") {}

  event(e: StepEvent): void {
    const out = this.io.stdout;
    const quiet = this.verbosity === "quiet";
    if (e.type === "start") {
      if (this.tty && !quiet) this.live(`[${e.index + 1}/${e.total}] ${e.name} ...`);
      return;
    }
    if (e.type === "schedule") {
      if (quiet) return;
      this.clear();
      write(out, `  at ${fmtMs(e.atMs)}: link ${e.link} conditions changed`);
      return;
    }
    const r = e.result;
    if (this.verbosity === "verbose") {
      this.clear();
      write(out, verboseStep(r, e.total));
      return;
    }
    if (quiet && r.ok) return;
    const line = `[${e.index + 1}/${e.total}] ${r.name}: ${r.ok ? "ok" : "FAIL"} (${fmtMs(r.durationMs)})${r.ok ? "" : ` ${r.detail}`}`;
    if (this.tty && r.ok) this.live(line);
    else {
      this.clear();
      write(out, line);
    }
  }

  private live(text: string): void {
    // A terminal of unknown size (a pty without one) says 0 columns: assume 100.
    const reported = (this.io.stdout as { columns?: number }).columns ?? 0;
    const cols = reported >= 20 ? reported : 100;
    this.io.stdout.write(`\r\x1b[K${text.length >= cols ? `${text.slice(0, cols - 2)}…` : text}`);
    this.#live = true;
  }

  clear(): void {
    if (this.#live) this.io.stdout.write("\r\x1b[K");
    this.#live = false;
  }
}

export interface SessionRunOptions {
  /** Abandons the steps (the report has those finished, interrupted: true) and skips hold. */
  signal?: AbortSignal;
  /** After the steps, before the teardown: what keeps the lab up (--listen: until a signal). */
  hold?: (steps: StepResult[]) => Promise<void>;
}

/** Run a session's steps, tear down; the report (nothing printed). */
export async function runSession(s: Session, onEvent?: (e: StepEvent) => void, opts: SessionRunOptions = {}): Promise<RunReport> {
  const acc = s.topo.kernel.accounting();
  const l = s.topo.listener;
  const listen = l ? { host: l.host, port: l.port, endpoints: listenInterfaces(s.spec).map((x) => ({ node: x.node, iface: x.iface, url: l.url(x.path) })) } : undefined;
  let steps: StepResult[];
  let interrupted = false;
  try {
    steps = await s.topo.runSteps({ onEvent, exec: execFor(s), ...(opts.signal ? { signal: opts.signal } : {}) });
  } catch (e) {
    if (opts.signal?.aborted && e instanceof AbortError) {
      steps = (e as { partial?: StepResult[] }).partial ?? [];
      interrupted = true;
    } else {
      await closeSession(s).catch(() => undefined);
      throw e;
    }
  }
  try {
    if (!interrupted && opts.hold) await opts.hold(steps);
  } catch (e) {
    await closeSession(s).catch(() => undefined);
    throw e;
  }
  const teardown = await closeSession(s);
  const ok = !interrupted && steps.every((r) => r.ok) && teardown.ok;
  return {
    file: s.spec.file,
    name: s.spec.name,
    clock: s.topo.kernel.clock.kind,
    seed: s.seed,
    nodes: s.topo.nodes().length,
    links: s.topo.links().length,
    upMs: s.upMs,
    kmemPages: acc.pagesInUse,
    memoryBytes: acc.memoryBytes,
    steps,
    ...(listen ? { listen } : {}),
    ...(interrupted ? { interrupted } : {}),
    ...(s.linkCaptures ? { captures: s.linkCaptures.links.map((c) => ({ link: c.link, file: c.file, interfaces: [c.ends[0].ifName, c.ends[1].ifName] as [string, string], frames: linkFrames(c) })) } : {}),
    teardown,
    ok,
    exitCode: interrupted ? EXIT.INTERRUPTED : ok ? EXIT.OK : EXIT.FAILED,
  };
}

/** Columns for the result table: the terminal's, else $COLUMNS, else 80. */
function tableWidth(): number {
  const tty = process.stdout.isTTY ? process.stdout.columns : 0;
  const env = Number(process.env.COLUMNS);
  return tty > 0 ? tty : Number.isInteger(env) && env > 0 ? env : 80;
}

/** The text of a finished run (after the progress lines). */
export function reportText(r: RunReport): string {
  const c = r.captures;
  const caps = c?.length ? [`captured ${c.length} link${c.length === 1 ? "" : "s"} to ${c[0]!.file} (an interface per link end, named NODE:IFACE; ${c.reduce((n, x) => n + x.frames, 0)} frames)`] : [];
  return [stepsText(r.steps), ...caps, teardownText(r.teardown)].join("\n");
}

/** The result table and the line under it. */
export function stepsText(steps: StepResult[], width = tableWidth()): string {
  return ["", resultTableFit(steps, width), "", passedLine(steps)].join("\n");
}

function teardownText(t: TeardownReport): string {
  return [t.text, ...(t.ok ? [] : ["LEAK: the kernel did not get back everything the topology used"])].join("\n");
}

/** wavnet run FILE (spec: a topology made by the command instead of read from FILE, as wavnet relay's). */
export async function run(file: string, flags: RunFlags, io: Io, spec?: TopologySpec): Promise<number> {
  let s: Session;
  try {
    s = await openSession(file, flags, spec);
  } catch (e) {
    if (isTopologyError(e) || e instanceof ListenError) {
      write(io.stderr, `wavnet run: ${e instanceof ListenError ? `--listen: ${e.message}` : problemsText(e)}`);
      // --json: the document is the problems (file:line:col each), so a tool need not parse stderr.
      if (flags.json) write(io.stdout, JSON.stringify({ file, ok: false, exitCode: EXIT.USAGE, errors: e instanceof ListenError ? [{ file, line: 0, column: 0, path: "--listen", message: e.message }] : problemsJson(e) }, null, 2));
      return EXIT.USAGE;
    }
    throw e;
  }
  // --pcap and no capture step: every link is captured (one file, an interface per link end), not an empty folder.
  if (flags.pcapDir !== undefined && !s.spec.steps.some((x) => x.action === "capture")) s.linkCaptures = captureLinks(s.topo, flags.pcapDir, s.spec.name);
  const quiet = flags.verbosity === "quiet";
  if (!flags.json && !quiet) {
    const acc = s.topo.kernel.accounting();
    write(io.stdout, `${s.spec.name} (${file}): ${s.topo.nodes().length} nodes, ${s.topo.links().length} links up in ${fmtMs(s.upMs)}; ` +
      `${s.topo.kernel.clock.kind} clock${s.seed !== undefined ? `, seed ${s.seed}` : ""}; ` +
      `${acc.pagesInUse} kmem pages (${(acc.pagesInUse * 4096 / (1 << 20)).toFixed(1)} MiB)`);
  }
  const progress = new Progress(io, io.stdoutTTY, flags.verbosity);
  if (s.topo.listener || flags.keep) return serve(s, flags, io, progress);
  // ^C: leave the terminal tidy (the live line cleared) and say so; the kernel goes with the process.
  const interrupted = () => {
    progress.clear();
    write(io.stderr, "wavnet run: interrupted");
    process.exit(EXIT.INTERRUPTED);
  };
  process.once("SIGINT", interrupted);
  let report: RunReport;
  try {
    report = await runSession(s, flags.json ? undefined : (e) => progress.event(e));
  } finally {
    process.off("SIGINT", interrupted);
  }
  progress.clear();
  if (flags.json) write(io.stdout, JSON.stringify(report, jsonSafe, 2));
  else if (quiet) quietReport(report, io);
  else write(io.stdout, reportText(report));
  return report.exitCode;
}

/**
 * --listen: the URLs, the steps, then up until ^C or SIGTERM; the lab is brought down on
 * the signal (during the steps too: they are abandoned). A second ^C ends the process at once.
 * Text goes to stdout; with --json the document is the only thing there and the rest is on stderr.
 */
async function serve(s: Session, flags: RunFlags, io: Io, progress: Progress): Promise<number> {
  const quiet = flags.verbosity === "quiet";
  const say = (line: string) => {
    progress.clear(); // a peer may come while a step runs: not in the middle of its live line
    write(flags.json ? io.stderr : io.stdout, line);
  };
  if (s.topo.listener) say(listenText(s));
  const abort = new AbortController();
  let wake = () => {};
  const signalled = new Promise<void>((r) => (wake = r));
  const onSignal = (sig: NodeJS.Signals) => {
    progress.clear();
    write(io.stderr, `wavnet run: ${sig}: bringing the lab down`);
    abort.abort(new Error(sig));
    wake();
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const stopWatch = watchPeers(s, say);
  let control: { close(): Promise<void> } | undefined;
  let report: RunReport;
  try {
    // --keep: other terminals reach the lab through its control socket; destroy ends the hold.
    if (flags.keep) {
      control = await startControl(s, () => wake()).catch(async (e: Error) => {
        await closeSession(s).catch(() => undefined);
        throw e;
      });
    }
    report = await runSession(s, flags.json ? undefined : (e) => progress.event(e), {
      signal: abort.signal,
      hold: async (steps) => {
        progress.clear();
        if (steps.length && !flags.json && !quiet) say(stepsText(steps));
        say(flags.keep
          ? `kept up as ${s.spec.name} until wavnet destroy ${s.spec.name}, ^C or SIGTERM (wavnet attach ${s.spec.name}, wavnet exec ${s.spec.name} NODE CMD, wavnet inspect)`
          : `up until ^C or SIGTERM (the lab stays up for its peers)`);
        await signalled;
        // No command from another terminal while the lab goes down.
        await control?.close();
        control = undefined;
      },
    });
  } finally {
    await control?.close();
    stopWatch();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  progress.clear();
  if (flags.json) write(io.stdout, JSON.stringify(report, jsonSafe, 2));
  else if (quiet) quietReport(report, io);
  else write(io.stdout, report.interrupted ? reportText(report) : teardownText(report.teardown));
  return report.exitCode;
}

/** -q's end: one line when the run did not succeed, nothing when it did. */
function quietReport(r: RunReport, io: Io): void {
  const end = quietEnd(r.steps, r.teardown.ok, r.exitCode, r.interrupted === true);
  if (end !== undefined) write(io.stdout, end);
}

/** JSON has no NaN, Infinity or bigint: a figure that is one is written as a string or number. */
function jsonSafe(_key: string, v: unknown): unknown {
  if (typeof v === "number" && !Number.isFinite(v)) return String(v);
  if (typeof v === "bigint") return Number(v);
  return v;
}

/**
 * wavnet relay: a lab of one bridge whose ports are listen interfaces (/relay/p1 ... /relay/pN),
 * so pages and other wavnets that connect to them share one Ethernet segment; up until a signal.
 */
export async function relay(ports: number, flags: RunFlags, io: Io): Promise<number> {
  const ifaces = Array.from({ length: ports }, (_, i) => `      - { name: p${i + 1}, kind: websocket, listen: true }`).join("\n");
  const yaml = `name: relay\nclock: real\nnodes:\n  - name: relay\n    role: bridge\n    interfaces:\n${ifaces}\n`;
  return run("relay", flags, io, parseTopology(yaml, "relay"));
}
