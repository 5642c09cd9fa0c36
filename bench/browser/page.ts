// The bench page's script (bench/browser/): starts the worker at once and, when the URL asks
// for a topology (?topology=NAME, a YAML the server knows), times page load to that topology
// up and one ping answered, through the page protocol (LabClient) as the real page does.
// performance.now() counts from the navigation's start, so the figure includes fetching
// this script, starting the worker, fetching and compiling the kernel and the modules, the
// topology brought up and the ping. The result lands in window.benchResult; the bench
// (bench/groups/browser.ts, through playwright) reads it, and calls window.bench.run for
// the throughput workloads.

import { LabClient } from "../../host/web/client.js";
import type { WorkerMarks } from "./worker.js";

interface Marks {
  script: number;
  hello: number;
  loaded: number;
  pinged: number;
}

// Started by the page's head (serve.ts), before this script ran.
const worker = (window as unknown as { benchWorker: Worker }).benchWorker;
const lab = new LabClient(worker);
const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
let nextBench = 1;
worker.onmessage = (e: MessageEvent) => {
  const m = e.data as { benchId?: number; ok: boolean; result?: unknown; error?: string };
  if (typeof m.benchId === "number") {
    const w = waiting.get(m.benchId);
    waiting.delete(m.benchId);
    if (m.ok) w?.resolve(m.result);
    else w?.reject(new Error(m.error));
    return;
  }
  lab.receive(e.data);
};
worker.onerror = (e) => {
  (window as unknown as { benchError: string }).benchError = `worker: ${e.message}`;
};

/** Run a workload in the worker: "tcp" with { xfer, runs, warmup }, or "epair". */
function run(bench: string, opts?: unknown): Promise<unknown> {
  const benchId = nextBench++;
  return new Promise((resolve, reject) => {
    waiting.set(benchId, { resolve, reject });
    worker.postMessage({ benchId, bench, opts });
  });
}

async function topology(name: string, from: string, to: string): Promise<unknown> {
  const marks: Partial<Marks> = { script: performance.now() };
  const res = await fetch(`topology/${name}.yaml`);
  if (!res.ok) throw new Error(`topology/${name}.yaml: ${res.status}`);
  const yaml = await res.text();
  await lab.request("hello");
  marks.hello = performance.now();
  const info = await lab.request("load", { yaml, file: `${name}.yaml` });
  marks.loaded = performance.now();
  // As fast as the work, as `wavnet run` and the page's "max" speed: the ping's virtual
  // round trip does not wait for wall time.
  await lab.request("time", { playing: true, speed: Infinity });
  const target = info.nodes.find((n) => n.name === to)?.interfaces.find((i) => i.addresses.length)?.addresses[0]?.split("/")[0];
  if (!target) throw new Error(`topology ${name}: node ${to} has no address`);
  const { out, error } = await lab.request("shell", { node: from, line: `ping -c 1 ${target}` });
  marks.pinged = performance.now();
  if (error || !/1 packets transmitted, 1 (packets )?received/.test(out)) throw new Error(`ping ${from} -> ${to} (${target}) failed: ${error ?? ""}\n${out}`);
  const nav = performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming | undefined;
  const navigation = nav ? { responseEnd: nav.responseEnd, domInteractive: nav.domInteractive } : undefined;
  // The worker's marks on this page's clock (both from their time origins, epoch ms).
  const wm = (await run("marks")) as WorkerMarks;
  const at = (t: number) => wm.origin + t - performance.timeOrigin;
  const op = (name: string) => wm.ops[name] ?? { in: NaN, post: NaN, posted: NaN };
  const worker = {
    created: at(0), evalStart: at(wm.evalStart), ready: at(wm.ready), helloIn: at(op("hello").in), loadIn: at(op("load").in),
    loadPost: at(op("load").post), loadPosted: at(op("load").posted), parseMs: info.parseMs, bootMs: info.bootMs, upMs: info.upMs,
  };
  return { totalMs: marks.pinged, marks, navigation, worker, upMs: info.upMs, nodes: info.nodes.length, links: info.links.length, ping: out, crossOriginIsolated };
}

const w = window as unknown as { bench: { run: typeof run }; benchDone?: Promise<void>; benchResult?: unknown; benchError?: string };
w.bench = { run };
const q = new URLSearchParams(location.search);
const topo = q.get("topology");
if (topo) {
  // benchDone settles with the run: the bench awaits it with one evaluate (no polling, which
  // would inject playwright's script into this page while it loads).
  w.benchDone = topology(topo, q.get("from") ?? "", q.get("to") ?? "").then(
    (r) => void (w.benchResult = r),
    (e: unknown) => void (w.benchError = e instanceof Error ? e.message : String(e)),
  );
}
