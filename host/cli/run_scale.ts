// wavnet run FILE --workers N: the lab over N kernels, each in a worker thread (host/scale/,
// docs/scale.md). The same progress, result table, --json and exit codes as wavnet run, plus
// which partition each node ran on, each partition's CPU time and what the synchronization
// cost. A worker that fails ends the run with its partition and nodes named (exit 1).

import { fmtMs } from "../shell/results.js";
import { loadTopology } from "../node/topology.js";
import type { StepResult, TeardownReport } from "../topology/index.js";
import { scaleUp } from "../scale/spawn_node.js";
import { ScaleError, type ScaleLab, type ScaleReport } from "../scale/lab.js";
import { planText } from "../scale/partition.js";
import { problemsText, problemsJson } from "./check.js";
import { quietEnd } from "./run_output.js";
import { Progress, stepsText, type RunFlags, type RunReport } from "./run.js";
import { EXIT, isTopologyError, write, type Io } from "./session.js";

export interface ScaledRunReport extends Omit<RunReport, "teardown" | "listen" | "captures"> {
  workers: number;
  /** Node name -> partition. */
  partitionOf: Record<string, number>;
  partitions: { partition: number; nodes: string[]; cpuMs: number; roundBusyMs: number; kmemPages: number; teardown: TeardownReport }[];
  /** Links that cross partitions ("a:eth1 - b:eth0"). */
  cutLinks: string[];
  sync: { rounds: number; roundsMs: number; overheadMs: number };
  teardown: { ok: boolean; text: string };
  /** Set when a worker failed: which partition, its nodes, why. */
  error?: string;
}

/**
 * Run a scaled lab's steps (the progress line unless --json), then take it down. A
 * ScaleError (a partition that failed) ends either part with its message; the steps so far
 * are kept. Shared by --workers and --hosts.
 */
export async function stepsThenDown(lab: ScaleLab, flags: RunFlags, io: Io): Promise<{ steps: StepResult[]; error?: string; report?: ScaleReport }> {
  const progress = new Progress(io, io.stdoutTTY, flags.verbosity);
  let steps: StepResult[] = [];
  let error: string | undefined;
  try {
    steps = await lab.runSteps(flags.json ? {} : { onEvent: (e) => progress.event(e) });
  } catch (e) {
    if (!(e instanceof ScaleError)) throw e;
    steps = e.partial;
    error = e.message;
  }
  progress.clear();
  let report: ScaleReport | undefined;
  if (!error) {
    try {
      report = await lab.down();
    } catch (e) {
      if (!(e instanceof ScaleError)) throw e;
      error = e.message;
    }
  }
  return { steps, error, report };
}

export async function runScaled(file: string, flags: RunFlags & { workers: number }, io: Io): Promise<number> {
  let lab: ScaleLab;
  try {
    const spec = loadTopology(file);
    lab = await scaleUp(spec, { workers: flags.workers, ...(flags.clock ? { clock: flags.clock } : {}), ...(flags.seed !== undefined ? { seed: flags.seed } : {}), ...(flags.pcapDir !== undefined ? { pcapDir: flags.pcapDir } : {}) });
  } catch (e) {
    if (isTopologyError(e)) {
      write(io.stderr, `wavnet run: ${problemsText(e)}`);
      if (flags.json) write(io.stdout, JSON.stringify({ file, ok: false, exitCode: EXIT.USAGE, errors: problemsJson(e) }, null, 2));
      return EXIT.USAGE;
    }
    throw e;
  }
  const spec = lab.spec;
  const quiet = flags.verbosity === "quiet";
  if (!flags.json && !quiet) {
    const pages = lab.ready.reduce((a, r) => a + r.kmemPages, 0);
    write(io.stdout, `${spec.name} (${file}): ${spec.nodes.length} nodes, ${spec.links.length} links up in ${fmtMs(lab.upMs)} over ${lab.plan.partitions} kernel${lab.plan.partitions === 1 ? "" : "s"} in worker threads; ` +
      `${lab.clock} clock, seed ${flags.seed ?? spec.seed ?? 1}; ${pages} kmem pages (${(pages * 4096 / (1 << 20)).toFixed(1)} MiB)`);
    write(io.stdout, planText(lab.plan).split("\n").map((l) => `  ${l}`).join("\n"));
  }
  const { steps, error, report } = await stepsThenDown(lab, flags, io);
  const ok = !error && steps.every((r) => r.ok) && report!.ok;
  const partitionOf: Record<string, number> = {};
  for (const [n, p] of lab.plan.partitionOf) partitionOf[n] = p;
  const doc: ScaledRunReport = {
    file, name: spec.name, clock: lab.clock, seed: flags.seed ?? spec.seed ?? 1,
    nodes: spec.nodes.length, links: spec.links.length, upMs: Math.round(lab.upMs * 1000) / 1000,
    kmemPages: lab.ready.reduce((a, r) => a + r.kmemPages, 0), memoryBytes: lab.ready.reduce((a, r) => a + r.memoryBytes, 0),
    steps, workers: lab.plan.partitions, partitionOf,
    partitions: lab.plan.nodesOf.map((nodes, p) => {
      const r = report?.partitions[p];
      return { partition: p, nodes, cpuMs: r?.cpuMs ?? 0, roundBusyMs: r?.roundBusyMs ?? 0, kmemPages: lab.ready[p]?.kmemPages ?? 0, teardown: r?.teardown ?? { vnets: 0, leaks: [], pagesLeaked: 0, itemsLeaked: {}, socketsLeft: 0, ok: false, text: "not torn down: the run failed" } };
    }),
    cutLinks: lab.plan.cut.map((c) => `${c.link.a.node}:${c.link.a.iface} - ${c.link.b.node}:${c.link.b.iface}`),
    sync: { rounds: report?.rounds ?? 0, roundsMs: report?.roundsMs ?? 0, overheadMs: report?.syncOverheadMs ?? 0 },
    teardown: { ok: report?.ok ?? false, text: report?.text ?? "" },
    ...(error ? { error } : {}),
    ok, exitCode: ok ? EXIT.OK : EXIT.FAILED,
  };
  if (flags.json) write(io.stdout, JSON.stringify(doc, null, 2));
  else if (quiet) {
    if (error) write(io.stdout, `wavnet run: ${error}`);
    const end = quietEnd(steps, report?.ok ?? false, doc.exitCode, false);
    if (end !== undefined) write(io.stdout, end);
  } else {
    if (steps.length) write(io.stdout, stepsText(steps));
    if (error) write(io.stderr, `wavnet run: ${error}`);
    else write(io.stdout, [partitionsText(doc), report!.text, ...(report!.ok ? [] : ["LEAK: a kernel did not get back everything the topology used"])].join("\n"));
  }
  return doc.exitCode;
}

/** One line per partition: its nodes, CPU time; then the synchronization's cost. */
function partitionsText(d: ScaledRunReport): string {
  const lines = d.partitions.map((p) => `p${p.partition}: ${p.nodes.length} node${p.nodes.length === 1 ? "" : "s"} (${p.nodes.slice(0, 8).join(", ")}${p.nodes.length > 8 ? ", ..." : ""}), CPU ${fmtMs(p.cpuMs)}`);
  if (d.clock === "virtual") lines.push(`virtual time: ${d.sync.rounds} synchronization rounds in ${fmtMs(d.sync.roundsMs)}, ${fmtMs(d.sync.overheadMs)} of it beyond the busiest partition's work`);
  return ["", ...lines].join("\n");
}
