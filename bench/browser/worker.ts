// The bench page's Web Worker (bench/browser/): the page protocol's LabServer, as the real
// page's worker (web/src/worker.ts) runs it, plus two benchmark requests that run the
// shared workloads (bench/workloads/) here, inside Chromium's worker:
//   { benchId, bench: "tcp", opts: { xfer, runs, warmup } }  -> tcpEpairBulk
//   { benchId, bench: "epair" }                              -> epairFps
//   { benchId, bench: "topoSplit", opts: { yaml, from, to } }  -> where a topology's time goes
// answered { benchId, ok, result | error }. Timing is performance.now (5 µs steps in a
// cross-origin isolated worker, which the bench server's COOP/COEP headers make this).
// The worker's name is the absolute URL of the binaries' folder.

import { LabServer } from "../../host/web/server.js";
import { urlModuleSource } from "../../host/kern/source.js";
import { tcpEpairBulk } from "../workloads/tcp_epair.js";
import { epairFps, epairSetup } from "../workloads/epair_fps.js";
import { perfNowNs } from "../workloads/common.js";
import { Kernel, parseTopology, Topology, ping, TOPOLOGY_SCHEMA } from "../../host/core.js";
import AjvModule from "ajv";

// ajv is CommonJS (as in host/topology/parse.ts).
const Ajv = ((AjvModule as unknown as { default?: typeof AjvModule }).default ?? AjvModule) as unknown as new (o: object) => { compile(s: object): unknown };

interface WorkerScope {
  name: string;
  crossOriginIsolated: boolean;
  postMessage(m: unknown, transfer?: Transferable[]): void;
  onmessage: ((e: MessageEvent) => void) | null;
}
const scope = self as unknown as WorkerScope;
const source = urlModuleSource(scope.name);
const server = new LabServer((m, transfer) => scope.postMessage(m, transfer ?? []), { source });

interface BenchRequest {
  benchId: number;
  bench: "tcp" | "epair" | "topoSplit";
  opts?: { xfer: number; runs: number; warmup: number } | { yaml: string; from: string; to: string };
}

/**
 * The steps of a lab's load timed one by one (this worker's first lab, so the first parse
 * compiles the schema validator and the first boot fetches and compiles the kernel): parse
 * and check, the schema validator compiled again alone, parse and check again, a kernel booted twice (the second from compiled modules), the
 * topology up, one ping. For the note of browser_topology_100_up_ms.
 */
async function topoSplit(o: { yaml: string; from: string; to: string }): Promise<Record<string, number>> {
  const t: Record<string, number> = {};
  let t0 = performance.now();
  const lap = (name: string) => {
    const t1 = performance.now();
    t[name] = t1 - t0;
    t0 = t1;
  };
  parseTopology(o.yaml, "split.yaml");
  lap("parseFirst");
  // The schema validator alone, compiled again as parse.ts compiles it (ajv's own code warm by now).
  new Ajv({ allErrors: true, strict: true, allowUnionTypes: true, verbose: true }).compile(structuredClone(TOPOLOGY_SCHEMA));
  lap("schemaCompile");
  const spec = parseTopology(o.yaml, "split.yaml");
  lap("parse");
  (await Kernel.boot({ source, config: "GENERIC" })).shutdown();
  lap("bootFirst");
  (await Kernel.boot({ source, config: "GENERIC" })).shutdown();
  lap("boot");
  const topo = await Topology.up(spec);
  lap("up");
  const r = await ping(topo.kernel, topo.node(o.from).vnet, topo.addressOf(o.to), { count: 1, timeoutMs: 1000 });
  lap("ping");
  if (r.received !== 1) throw new Error(`topoSplit: ping ${o.from} -> ${o.to} failed:\n${r.text}`);
  await topo.down();
  return t;
}

async function bench(req: BenchRequest): Promise<unknown> {
  const env = { crossOriginIsolated: scope.crossOriginIsolated, userAgent: navigator.userAgent };
  if (req.bench === "tcp") {
    const o = req.opts as { xfer: number; runs: number; warmup: number } | undefined;
    if (!o) throw new Error("bench tcp: opts { xfer, runs, warmup } missing");
    const r = await tcpEpairBulk({ ...o, recvXfer: 0, now: perfNowNs, source });
    return { ...r, env };
  }
  if (req.bench === "epair") {
    const s = await epairSetup(source);
    try {
      return { ...epairFps(s, perfNowNs), env };
    } finally {
      s.k.shutdown();
    }
  }
  if (req.bench === "topoSplit") return await topoSplit(req.opts as { yaml: string; from: string; to: string });
  throw new Error(`unknown bench ${JSON.stringify((req as { bench: unknown }).bench)} (known: tcp, epair, topoSplit)`);
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
  void server.handle(e.data);
};
