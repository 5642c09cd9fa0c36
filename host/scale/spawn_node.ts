// Node's way to start a partition's worker (worker_threads), and ScaleLab.up with it. Run
// from TypeScript sources (tests, tsx), the worker registers tsx's loader first, as Node 20
// does not hand a worker's .ts entry to loaders given with --import.
import { Worker } from "node:worker_threads";
import { ScaleLab, type ScaleOptions, type Spawn, type WorkerLike } from "./lab.js";
import type { TopologySpec } from "../topology/spec.js";
import type { FromWorker } from "./protocol.js";

/** A worker as ScaleLab sees it, and the thread itself (tests kill it to play a crash). */
export type NodeWorker = WorkerLike & { worker: Worker };

export const nodeSpawn = (): NodeWorker => {
  const ts = import.meta.url.endsWith(".ts");
  const entry = new URL(ts ? "./worker_node.ts" : "./worker_node.js", import.meta.url);
  const w = ts
    ? new Worker(`import("tsx/esm/api").then((t) => { t.register(); return import(${JSON.stringify(entry.href)}); });`, { eval: true })
    : new Worker(entry);
  let ended = false;
  const lab: NodeWorker = {
    worker: w,
    post: (m) => w.postMessage(m),
    onMessage: (fn) => w.on("message", (m: FromWorker) => fn(m)),
    onFault: (fn) => {
      w.on("error", (e) => fn(e instanceof Error ? e.message : String(e)));
      w.on("exit", (code) => {
        if (!ended) fn(`its worker exited (code ${code})`);
      });
    },
    terminate: async () => {
      ended = true;
      await w.terminate();
    },
  };
  return lab;
};

/** ScaleLab.up with worker_threads workers. */
export function scaleUp(spec: TopologySpec, opts: Omit<ScaleOptions, "spawn"> & { spawn?: Spawn }): Promise<ScaleLab> {
  return ScaleLab.up(spec, { ...opts, spawn: opts.spawn ?? nodeSpawn });
}
