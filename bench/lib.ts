// The benchmark harness's shared parts: what a group is, how it reports, timing helpers,
// the machine description, and latest.json (read, merge, write).
//
// A group is a file in bench/groups that default-exports a Group and is listed once in
// bench/groups/index.ts. It declares every metric it owns (so a run of that group replaces
// exactly those in latest.json, and a metric it could not measure is listed with the reason)
// and reports figures through its context.

import os from "node:os";
import { readFileSync, writeFileSync, mkdirSync, existsSync, renameSync } from "node:fs";
import { dirname } from "node:path";
import { median, round } from "./workloads/common.js";

// Shared with the workloads that also run in a browser (bench/workloads/common.ts).
export { median, round };

export interface MetricSpec {
  /** snake_case, stable once published. */
  name: string;
  unit: string;
  /**
   * The bar, shown in the table and never asserted: value <= max, value >= min, or value >=
   * minPeerRatio x the peer's value measured in the same run.
   */
  target?: Target;
  /** One line: what the figure is. */
  description: string;
}

export interface Target {
  max?: number;
  min?: number;
  minPeerRatio?: number;
}

export interface Measured {
  name: string;
  value: number;
  unit: string;
  /** Name of a peer metric measured in the same run (written as a metric of its own too). */
  peer?: string;
  peer_value?: number;
  note?: string;
}

export interface GroupContext {
  /** Record a figure for a metric the group declared. */
  report(name: string, value: number, opts?: { peer?: string; peerValue?: number; note?: string }): void;
  /** A declared metric that cannot be measured here, and why; it is left out of the JSON. */
  skip(name: string, reason: string): void;
  /** A progress line on stderr (kept off stdout, which carries the tables). */
  log(msg: string): void;
}

export interface Group {
  name: string;
  description: string;
  metrics: MetricSpec[];
  /**
   * Metrics of other groups this one measures again, in its own run, only to compare with:
   * they may be named as a peer (with the value measured here) but stay the other group's
   * (not written as metrics by this group).
   */
  peers?: string[];
  run(ctx: GroupContext): Promise<void>;
}

export interface GroupResult {
  group: Group;
  measured: Measured[];
  skipped: { name: string; reason: string }[];
  seconds: number;
  error?: unknown;
}

export async function runGroup(group: Group, log: (s: string) => void): Promise<GroupResult> {
  const measured: Measured[] = [];
  const skipped: { name: string; reason: string }[] = [];
  const spec = new Map(group.metrics.map((m) => [m.name, m]));
  const must = (name: string) => {
    const m = spec.get(name);
    if (!m) throw new Error(`bench group ${group.name}: metric ${name} is not declared in its metrics list`);
    return m;
  };
  const ctx: GroupContext = {
    report(name, value, opts = {}) {
      const m = must(name);
      if (!Number.isFinite(value)) throw new Error(`bench group ${group.name}: metric ${name} is not a finite number (${value})`);
      const row: Measured = { name, value, unit: m.unit, note: opts.note };
      if (opts.peer !== undefined) {
        if (!group.peers?.includes(opts.peer)) must(opts.peer);
        row.peer = opts.peer;
        if (opts.peerValue !== undefined) row.peer_value = opts.peerValue;
      }
      const i = measured.findIndex((x) => x.name === name);
      if (i >= 0) measured[i] = row;
      else measured.push(row);
    },
    skip(name, reason) {
      must(name);
      skipped.push({ name, reason });
    },
    log(msg) {
      log(`[${group.name}] ${msg}`);
    },
  };
  const t0 = performance.now();
  let error: unknown;
  try {
    await group.run(ctx);
  } catch (e) {
    error = e;
  }
  // Whatever a failed group did not get to is reported as not measured, with the error.
  for (const m of group.metrics) {
    if (!measured.some((x) => x.name === m.name) && !skipped.some((x) => x.name === m.name)) {
      skipped.push({ name: m.name, reason: error ? `group failed: ${errMessage(error)}` : "not reported by the group" });
    }
  }
  return { group, measured, skipped, seconds: (performance.now() - t0) / 1000, error };
}

export function errMessage(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

// ---------------------------------------------------------------------------------------
// Timing

/** Nanoseconds since an arbitrary origin, as a float (process.hrtime.bigint). */
export function nowNs(): number {
  return Number(process.hrtime.bigint());
}

export function min(xs: number[]): number {
  return Math.min(...xs);
}

/**
 * Time `fn(n)` (n operations) `runs` times after `warmup` calls and return the ns per
 * operation of every run. fn may return a check value; a non-zero `bad` result throws.
 */
export function perOpNs(fn: (n: number) => unknown, n: number, runs: number, warmup = 2): number[] {
  for (let i = 0; i < warmup; i++) fn(n);
  const out: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = nowNs();
    fn(n);
    out.push((nowNs() - t0) / n);
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// The machine and latest.json

export interface Machine {
  cpu: string;
  cores: number;
  memory_bytes: number;
  node: string;
  v8: string;
  os: string;
  arch: string;
  root: boolean;
  date: string;
}

export function machine(): Machine {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model?.trim() ?? "unknown",
    cores: cpus.length,
    memory_bytes: os.totalmem(),
    node: process.version,
    v8: process.versions.v8,
    os: `${os.type()} ${os.release()}`,
    arch: process.arch,
    root: typeof process.getuid === "function" && process.getuid() === 0,
    date: new Date().toISOString(),
  };
}

export interface ResultMetric {
  value: number;
  unit: string;
  peer?: string;
  peer_value?: number;
}

export interface Results {
  machine: Machine | Record<string, unknown>;
  metrics: Record<string, ResultMetric>;
}

export function readResults(file: string): Results | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const r = JSON.parse(readFileSync(file, "utf8"));
    if (r && typeof r === "object" && r.metrics && typeof r.metrics === "object") return r as Results;
  } catch {
    // A broken file is replaced.
  }
  return undefined;
}

/**
 * Merge a run into the previous results: every metric a group that ran owns is replaced
 * (or removed if it was not measured this time); other groups' metrics are kept.
 */
export function mergeResults(prev: Results | undefined, results: GroupResult[], mach: Machine): Results {
  const owned = new Set(results.flatMap((r) => r.group.metrics.map((m) => m.name)));
  const metrics: Record<string, ResultMetric> = {};
  for (const [name, m] of Object.entries(prev?.metrics ?? {})) if (!owned.has(name)) metrics[name] = m;
  for (const r of results) {
    // In the order the group declares its metrics, so the file diffs cleanly run to run.
    const order = r.group.metrics.map((m) => m.name);
    const sorted = [...r.measured].sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
    for (const m of sorted) {
      const out: ResultMetric = { value: m.value, unit: m.unit };
      if (m.peer !== undefined) out.peer = m.peer;
      if (m.peer_value !== undefined) out.peer_value = m.peer_value;
      metrics[m.name] = out;
    }
  }
  return { machine: mach, metrics };
}

export function writeResults(file: string, results: Results): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, JSON.stringify(results, null, 2) + "\n");
  renameSync(tmp, file);
}

// ---------------------------------------------------------------------------------------
// The table

function targetText(spec: Target | undefined): string {
  if (!spec) return "";
  const bars: string[] = [];
  if (spec.max !== undefined) bars.push(`<= ${spec.max}`);
  if (spec.min !== undefined) bars.push(`>= ${spec.min}`);
  if (spec.minPeerRatio !== undefined) bars.push(`>= ${spec.minPeerRatio} x peer`);
  return bars.join(" and ");
}

function meets(spec: Target | undefined, m: Measured): boolean | undefined {
  if (!spec) return undefined;
  const v = m.value;
  if (spec.max !== undefined && v > spec.max) return false;
  if (spec.min !== undefined && v < spec.min) return false;
  // A ratio bar without the peer's value in this run is not met: there is nothing to compare with.
  if (spec.minPeerRatio !== undefined && !(v >= spec.minPeerRatio * (m.peer_value ?? NaN))) return false;
  return true;
}

export function fmtValue(v: number): string {
  if (Number.isInteger(v)) return String(v);
  return String(round(v));
}

/** The human table of one group: metric, value, unit, target, peer, note. */
export function formatGroup(r: GroupResult): string {
  const header = ["metric", "value", "unit", "target", "peer", "note"];
  const rows: string[][] = [];
  for (const spec of r.group.metrics) {
    const m = r.measured.find((x) => x.name === spec.name);
    if (m) {
      const ok = meets(spec.target, m);
      const target = spec.target ? `${targetText(spec.target)} ${ok ? "ok" : "MISSED"}` : "";
      const peer = m.peer ? `${m.peer} ${m.peer_value !== undefined ? fmtValue(m.peer_value) : "?"}` : "";
      rows.push([spec.name, fmtValue(m.value), spec.unit, target, peer, m.note ?? ""]);
    } else {
      const s = r.skipped.find((x) => x.name === spec.name);
      rows.push([spec.name, "-", spec.unit, targetText(spec.target), "", `not measured: ${s?.reason ?? "?"}`]);
    }
  }
  const widths = header.map((_, i) => (i === header.length - 1 ? 0 : Math.max(...[header, ...rows].map((row) => row[i].length))));
  const line = (row: string[]) => row.map((c, i) => (i === 1 ? c.padStart(widths[i]) : i === row.length - 1 ? c : c.padEnd(widths[i]))).join("  ").trimEnd();
  const title = `== ${r.group.name}: ${r.group.description} (${r.seconds.toFixed(1)} s)`;
  const err = r.error ? `\n!! group ${r.group.name} failed: ${errMessage(r.error)}` : "";
  return [title, line(header), ...rows.map(line)].join("\n") + err;
}
