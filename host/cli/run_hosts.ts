// wavnet run FILE --hosts hosts.yaml: the lab over one process per host entry, local children
// or through ssh, joined by VXLAN links (host/scale/hosts.ts, docs/scale.md). The same
// progress, result table, --json and exit codes as wavnet run --workers, with the host of
// every step and partition. A host whose process dies ends the run with the host entry, its
// partition and nodes named (exit 1); every other process is ended first.
// --emit-k8s DIR: write a Kubernetes manifest per partition instead (host/scale/k8s.ts).

import { readFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { fmtMs } from "../shell/results.js";
import { loadTopology } from "../node/topology.js";
import type { StepResult, TeardownReport } from "../topology/index.js";
import type { TopologySpec } from "../topology/spec.js";
import { ScaleError } from "../scale/lab.js";
import { planText } from "../scale/partition.js";
import { parseHosts, type HostsFile } from "../scale/hosts_file.js";
import { hostsUp, type HostsRun, type VxlanCut } from "../scale/hosts.js";
import { k8sManifests } from "../scale/k8s.js";
import { problemsText, problemsJson } from "./check.js";
import { quietEnd } from "./run_output.js";
import { stepsText, type RunFlags, type RunReport } from "./run.js";
import { stepsThenDown } from "./run_scale.js";
import { EXIT, UsageError, isTopologyError, write, type Io } from "./session.js";

export interface HostsRunReport extends Omit<RunReport, "teardown" | "listen" | "captures" | "steps"> {
  hostsFile: string;
  /** Each step's result, with the partition and host it ran on. */
  steps: (StepResult & { partition: number; host: string })[];
  partitionOf: Record<string, number>;
  hosts: { host: string; partition: number; kind: "local" | "ssh"; nodes: string[]; pid: number | null; ports: number[]; cpuMs: number; kmemPages: number; teardown: TeardownReport }[];
  /** Cut links as VXLAN links: VNI, each end's host, address and UDP port. */
  cutLinks: VxlanCut[];
  notes: string[];
  teardown: { ok: boolean; text: string };
  /** Set when a host failed: the host entry, its partition and nodes, why. */
  error?: string;
}

function loadHosts(path: string): HostsFile {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new UsageError(`wavnet run: --hosts ${path}: ${(e as Error).message}`);
  }
  return parseHosts(text, path);
}

/** What a --hosts run does differently from a one-process run, said before it starts. */
function notesOf(spec: TopologySpec, run: HostsRun, clockAsked: "virtual" | "real" | undefined): string[] {
  const notes: string[] = [];
  if ((clockAsked ?? spec.clock ?? "virtual") === "virtual") notes.push("one process would run this file in virtual time; --hosts runs in real time (processes do not share a virtual clock)");
  for (const c of run.lab.plan.cut) {
    const conds = [c.link.forward, c.link.reverse].some((x) => Object.keys(x).length);
    if (conds) notes.push(`link ${c.link.a.node}:${c.link.a.iface} - ${c.link.b.node}:${c.link.b.iface} (line ${c.link.origin.line}): its conditions are not applied across hosts; the network between them is the link`);
  }
  const unused = run.hosts.hosts.slice(run.lab.plan.partitions).map((h) => h.name);
  if (unused.length) notes.push(`host${unused.length === 1 ? "" : "s"} ${unused.join(", ")} not used: ${run.lab.plan.note ?? "fewer partitions than hosts"}`);
  return notes;
}

export async function runHosts(file: string, flags: RunFlags & { hosts: string; emitK8s?: string }, io: Io): Promise<number> {
  let spec: TopologySpec;
  let hosts: HostsFile;
  try {
    spec = loadTopology(file);
    hosts = loadHosts(flags.hosts);
    if (flags.emitK8s !== undefined) return await emitK8s(spec, hosts, flags.emitK8s, flags, io);
  } catch (e) {
    if (isTopologyError(e)) {
      write(io.stderr, `wavnet run: ${problemsText(e)}`);
      if (flags.json) write(io.stdout, JSON.stringify({ file, ok: false, exitCode: EXIT.USAGE, errors: problemsJson(e) }, null, 2));
      return EXIT.USAGE;
    }
    throw e;
  }
  let run: HostsRun;
  try {
    run = await hostsUp(spec, hosts, {
      ...(flags.seed !== undefined ? { seed: flags.seed } : {}),
      ...(flags.pcapDir !== undefined ? { pcapDir: flags.pcapDir } : {}),
      log: (h, line) => write(io.stderr, `[${h}] ${line}`),
    });
  } catch (e) {
    if (isTopologyError(e)) {
      write(io.stderr, `wavnet run: ${problemsText(e)}`);
      if (flags.json) write(io.stdout, JSON.stringify({ file, ok: false, exitCode: EXIT.USAGE, errors: problemsJson(e) }, null, 2));
      return EXIT.USAGE;
    }
    if (e instanceof ScaleError) {
      write(io.stderr, `wavnet run: ${e.message}`);
      if (flags.json) write(io.stdout, JSON.stringify({ file, ok: false, exitCode: EXIT.FAILED, error: e.message }, null, 2));
      return EXIT.FAILED;
    }
    throw e;
  }
  const lab = run.lab;
  const plan = lab.plan;
  const hostOf = (p: number) => run.hosts.hosts[p]!.name;
  const notes = notesOf(spec, run, flags.clock);
  const quiet = flags.verbosity === "quiet";
  const seed = flags.seed ?? spec.seed ?? 1;
  if (!flags.json && !quiet) {
    const pages = lab.ready.reduce((a, r) => a + r.kmemPages, 0);
    write(io.stdout, `${spec.name} (${file}): ${spec.nodes.length} nodes, ${spec.links.length} links up in ${fmtMs(lab.upMs)} over ${plan.partitions} process${plan.partitions === 1 ? "" : "es"} (${flags.hosts}); ` +
      `real clock, seed ${seed}; ${pages} kmem pages (${(pages * 4096 / (1 << 20)).toFixed(1)} MiB)`);
    write(io.stdout, planText(plan).split("\n").map((l) => `  ${l.replace(/^p(\d+):/, (_, p: string) => `p${p} on ${hostOf(Number(p))}:`)}`).join("\n"));
    for (const c of run.cuts) write(io.stdout, `  ${c.name}: VXLAN VNI ${c.vni}, ${c.a.host} ${c.a.address}:${c.a.port} <-> ${c.b.host} ${c.b.address}:${c.b.port}`);
    for (const n of notes) write(io.stdout, `  note: ${n}`);
  }
  const ownerOf = (i: number) => {
    const s = spec.steps[i]!;
    const n = "from" in s ? s.from : "node" in s ? s.node : "endpoint" in s ? s.endpoint.split(":")[0]! : undefined;
    return n === undefined ? 0 : plan.partitionOf.get(n) ?? 0;
  };
  const { steps, error, report } = await stepsThenDown(lab, flags, io);
  await run.closed();
  const ok = !error && steps.every((r) => r.ok) && report!.ok;
  const partitionOf: Record<string, number> = {};
  for (const [n, p] of plan.partitionOf) partitionOf[n] = p;
  const doc: HostsRunReport = {
    file, hostsFile: flags.hosts, name: spec.name, clock: "real", seed,
    nodes: spec.nodes.length, links: spec.links.length, upMs: Math.round(lab.upMs * 1000) / 1000,
    kmemPages: lab.ready.reduce((a, r) => a + r.kmemPages, 0), memoryBytes: lab.ready.reduce((a, r) => a + r.memoryBytes, 0),
    steps: steps.map((r) => ({ ...r, partition: ownerOf(r.index), host: hostOf(ownerOf(r.index)) })),
    partitionOf,
    hosts: plan.nodesOf.map((nodes, p) => {
      const r = report?.partitions[p];
      const c = run.children[p]!;
      return {
        host: c.host.name, partition: p, kind: c.host.kind, nodes, pid: c.remotePid ?? c.pid ?? null, ports: c.ports,
        cpuMs: r?.cpuMs ?? 0, kmemPages: lab.ready[p]?.kmemPages ?? 0,
        teardown: r?.teardown ?? { vnets: 0, leaks: [], pagesLeaked: 0, itemsLeaked: {}, socketsLeft: 0, ok: false, text: "not torn down: the run failed" },
      };
    }),
    cutLinks: run.cuts, notes,
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
    // The host column: each step's name says where it ran.
    if (steps.length) write(io.stdout, stepsText(doc.steps.map((r) => ({ ...r, name: `${r.name} [${r.host}]` }))));
    if (error) write(io.stderr, `wavnet run: ${error}`);
    else {
      const lines = doc.hosts.map((h) => `${h.host} (p${h.partition}, ${h.kind}, pid ${h.pid}): ${h.nodes.length} node${h.nodes.length === 1 ? "" : "s"} (${h.nodes.slice(0, 8).join(", ")}${h.nodes.length > 8 ? ", ..." : ""}), CPU ${fmtMs(h.cpuMs)}`);
      write(io.stdout, ["", ...lines, report!.text, ...(report!.ok ? [] : ["LEAK: a kernel did not get back everything the topology used"])].join("\n"));
    }
  }
  return doc.exitCode;
}

/** --emit-k8s DIR: one file per partition (ConfigMap, headless Service, Deployment). */
async function emitK8s(spec: TopologySpec, hosts: HostsFile, dir: string, flags: RunFlags, io: Io): Promise<number> {
  const parts = await k8sManifests(spec, hosts, { ...(hosts.image !== undefined ? { image: hosts.image } : {}), ...(flags.seed !== undefined ? { seed: flags.seed } : {}) });
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new UsageError(`wavnet run: --emit-k8s ${dir}: ${(e as Error).message}`);
  }
  const files: string[] = [];
  for (const p of parts) {
    const path = join(dir, p.file);
    writeFileSync(path, p.objects.map((o) => stringify(o, { lineWidth: 0 })).join("---\n"));
    files.push(path);
  }
  if (flags.json) write(io.stdout, JSON.stringify({ file: spec.file, ok: true, exitCode: EXIT.OK, manifests: parts.map((p, i) => ({ host: p.host, partition: p.partition, file: files[i], kinds: p.objects.map((o) => o.kind) })) }, null, 2));
  else write(io.stdout, parts.map((p, i) => `${files[i]}: partition ${p.partition} on ${p.host} (ConfigMap, Service, Deployment)`).join("\n"));
  return EXIT.OK;
}
