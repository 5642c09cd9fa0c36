// The bench page's Web Worker (bench/browser/): the page protocol's LabServer, as the real
// page's worker (web/src/worker.ts) runs it, plus two benchmark requests that run the
// shared workloads (bench/workloads/) here, inside Chromium's worker:
//   { benchId, bench: "tcp", opts: { offload, xfer, runs, warmup } }  -> tcpEpairBulk
//   { benchId, bench: "epair" }                              -> epairFps
//   { benchId, bench: "topoSplit", opts: { yaml, from, to } }  -> topologySplit
// answered { benchId, ok, result | error }. Timing is performance.now (5 µs steps in a
// cross-origin isolated worker, which the bench server's COOP/COEP headers make this).
// The worker's name is the absolute URL of the binaries' folder, with the binaries the page's
// head hands over (host/web/early.ts labWorkerName).
//   { benchId, bench: "marks" }  -> WorkerMarks (where the worker's own time went)

import { evalStart } from "./worker_start.js"; // first: its time is the bundle's start
import { LabServer } from "../../host/web/server.js";
import { urlModuleSource } from "../../host/kern/source.js";
import { readLabWorkerName } from "../../host/web/early.js";
import { perfNowNs } from "../workloads/common.js";
// The workloads are bundles of their own (serve.ts: wl_NAME.js beside this file, with their
// own copy of the core), imported when first asked for: a page load that only brings a lab
// up fetches one file, what the real page's worker loads, and no chunk after it (a chunk
// shared with the workloads was a second fetch, ~90 ms of a loaded machine's wall time
// between the worker's script compiled and its code running); topologySplit alone brings
// ajv, ~125 KB.
type Workloads = {
  tcp_epair: typeof import("../workloads/tcp_epair.js");
  epair_fps: typeof import("../workloads/epair_fps.js");
  topology_split: typeof import("../workloads/topology_split.js");
};
/** A workload's bundle; the URL is not a literal, so the worker's own bundle leaves it out. */
const workload = <K extends keyof Workloads>(name: K): Promise<Workloads[K]> => import(/* @vite-ignore */ new URL(`wl_${name}.js`, import.meta.url).href);

interface WorkerScope {
  name: string;
  crossOriginIsolated: boolean;
  postMessage(m: unknown, transfer?: Transferable[]): void;
  onmessage: ((e: MessageEvent) => void) | null;
}
const scope = self as unknown as WorkerScope;
// The name: the binaries' folder and those the page's head compiles and hands over (head.ts).
const named = readLabWorkerName(scope.name);
if (!named.base) throw new Error(`bench worker: its name ${JSON.stringify(scope.name)} is not the binaries' folder (an http URL)`);

/**
 * The worker's marks for the page load's breakdown, in ms of the worker's clock, with its
 * time origin (performance.timeOrigin, epoch ms) so the page can put them on its own:
 * the bundle started and finished evaluating; per request op, when its first one came in,
 * and when its response was posted (before and after postMessage: the difference is the
 * structured clone of the result).
 */
export interface WorkerMarks {
  origin: number;
  evalStart: number;
  ready: number;
  ops: Record<string, { in: number; post: number; posted: number }>;
}
const marks: WorkerMarks = { origin: performance.timeOrigin, evalStart, ready: 0, ops: {} };
const opOf = new Map<number, string>();
const server = new LabServer((m, transfer) => {
  const id = (m as { id?: number }).id;
  const op = id !== undefined ? opOf.get(id) : undefined;
  if (op) opOf.delete(id!);
  const post = performance.now();
  scope.postMessage(m, transfer ?? []);
  if (op && marks.ops[op] && !marks.ops[op].posted) Object.assign(marks.ops[op], { post, posted: performance.now() });
}, { source: urlModuleSource(named.base), handed: named.handed });
/** The server's binaries (the handed ones first), for the workloads too. */
const source = server.source!;
marks.ready = performance.now();

interface BenchRequest {
  benchId: number;
  bench: "tcp" | "epair" | "topoSplit" | "marks";
  opts?: { offload: boolean; xfer: number; runs: number; warmup: number } | { yaml: string; from: string; to: string };
}

async function bench(req: BenchRequest): Promise<unknown> {
  const env = { crossOriginIsolated: scope.crossOriginIsolated, userAgent: navigator.userAgent };
  if (req.bench === "tcp") {
    const { tcpEpairBulk } = await workload("tcp_epair");
    const o = req.opts as { offload: boolean; xfer: number; runs: number; warmup: number } | undefined;
    if (!o) throw new Error("bench tcp: opts { offload, xfer, runs, warmup } missing");
    const r = await tcpEpairBulk({ ...o, recvXfer: 0, now: perfNowNs, source });
    return { ...r, env };
  }
  if (req.bench === "epair") {
    const { epairFps, epairSetup } = await workload("epair_fps");
    const s = await epairSetup(source);
    try {
      return { ...epairFps(s, perfNowNs), env };
    } finally {
      s.k.shutdown();
    }
  }
  if (req.bench === "marks") return marks;
  if (req.bench === "topoSplit") {
    const o = req.opts as { yaml: string; from: string; to: string };
    const { topologySplit } = await workload("topology_split");
    return await topologySplit(o.yaml, o.from, o.to, source);
  }
  throw new Error(`unknown bench ${JSON.stringify((req as { bench: unknown }).bench)} (known: tcp, epair, topoSplit, marks)`);
}

scope.onmessage = (e: MessageEvent) => {
  const m = e.data as BenchRequest | undefined;
  if (m && typeof m === "object" && typeof m.benchId === "number") {
    bench(m).then(
      (result) => scope.postMessage({ benchId: m.benchId, ok: true, result }),
      (err: unknown) => scope.postMessage({ benchId: m.benchId, ok: false, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) }),
    );
    return;
  }
  const r = e.data as { id?: unknown; op?: unknown } | undefined;
  if (r && typeof r.id === "number" && typeof r.op === "string") {
    opOf.set(r.id, r.op);
    marks.ops[r.op] ??= { in: performance.now(), post: 0, posted: 0 };
  }
  void server.handle(e.data);
};
