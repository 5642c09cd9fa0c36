// The scale group (issue 16, docs/scale.md): what running a lab over several kernels in
// worker threads buys and costs. This machine has 2 cores shared with other work, so the
// figures are ratios at 2 workers and move with the load (the notes say it).
import { Worker } from "node:worker_threads";
import os from "node:os";
import "../../host/index.js";
import { nowNs, round, median, type Group } from "../lib.js";
import { epairSetup, epairFps } from "../workloads/epair_fps.js";
import { parseTopology } from "../../host/topology/index.js";
import { scaleUp } from "../../host/scale/spawn_node.js";
import { FrameRing } from "../../host/scale/ring.js";

const entry = new URL("../workloads/scale_worker.ts", import.meta.url).href;

interface Started {
  results: Promise<Record<string, number>>[];
  go(): void;
  workers: Worker[];
}

/** Start one worker per job, wait until every one is ready, then give them all one start flag. */
async function startTogether(jobs: Record<string, unknown>[]): Promise<Started> {
  const start = new SharedArrayBuffer(4);
  const workers: Worker[] = [];
  const ready: Promise<void>[] = [];
  const results: Promise<Record<string, number>>[] = [];
  for (const j of jobs) {
    const w = new Worker(`import("tsx/esm/api").then((t) => { t.register(); return import(${JSON.stringify(entry)}); });`, { eval: true, workerData: { ...j, start } });
    workers.push(w);
    let onReady!: () => void;
    ready.push(new Promise((r) => (onReady = r)));
    results.push(new Promise((resolve, reject) => {
      w.on("message", (m: Record<string, unknown>) => {
        if (m.ready) onReady();
        else if (m.error) reject(new Error(String(m.error)));
        else resolve(m as Record<string, number>);
      });
      w.on("error", reject);
    }));
  }
  await Promise.all(ready);
  return {
    results, workers,
    go() {
      Atomics.store(new Int32Array(start), 0, 1);
      Atomics.notify(new Int32Array(start), 0);
    },
  };
}

async function finish(s: Started): Promise<Record<string, number>[]> {
  const r = await Promise.all(s.results);
  await Promise.all(s.workers.map((w) => w.terminate()));
  return r;
}

/** Datagrams per second through 2 halves of 8 routers: both in one worker, or one half per worker. */
async function forwardPps(workers: 1 | 2, ms: number): Promise<number> {
  const jobs = workers === 1 ? [{ kind: "forward", halves: [1, 2], ms }] : [{ kind: "forward", halves: [1], ms }, { kind: "forward", halves: [2], ms }];
  const s = await startTogether(jobs);
  s.go();
  const r = await finish(s);
  return r.reduce((a, x) => a + x.got! / x.secs!, 0);
}

/** 64-byte frames per second over a cross-partition link between two workers. */
async function xpartFps(frames: number): Promise<{ fps: number; note: string }> {
  const ab = FrameRing.create(8 << 20);
  const ba = FrameRing.create(8 << 20);
  const s = await startTogether([{ kind: "xdst", ab, ba, frames }, { kind: "xsrc", ab, ba, frames }]);
  s.go();
  const [dst, src] = await finish(s);
  return { fps: dst!.got! / dst!.secs!, note: `${dst!.got} of ${src!.sent} frames in ${dst!.secs!.toFixed(3)} s; ring full ${src!.ringFull}` };
}

const PAIR_1MS = parseTopology(`name: sync
seed: 1
nodes:
  - name: h0
    interfaces: [{ name: eth0, addresses: [10.0.0.2/24] }]
    routes: [{ to: default, via: 10.0.0.1 }]
  - name: r0
    role: router
    interfaces: [{ name: eth0, addresses: [10.0.0.1/24] }, { name: eth1, addresses: [10.9.0.1/30] }]
    routes: [{ to: 10.1.0.0/24, via: 10.9.0.2 }]
  - name: r1
    role: router
    interfaces: [{ name: eth0, addresses: [10.1.0.1/24] }, { name: eth1, addresses: [10.9.0.2/30] }]
    routes: [{ to: 10.0.0.0/24, via: 10.9.0.1 }]
  - name: h1
    interfaces: [{ name: eth0, addresses: [10.1.0.2/24] }]
    routes: [{ to: default, via: 10.1.0.1 }]
    services: [{ kind: http }]
links:
  - endpoints: [h0:eth0, r0:eth0]
  - endpoints: [r1:eth0, h1:eth0]
  - endpoints: [r0:eth1, r1:eth1]
    conditions: { delay: 1ms }
steps:
  - ping: { from: h0, to: h1, count: 200, interval: 10ms }
  - http: { from: h0, to: h1 }
  - ping: { from: h1, to: h0, count: 200, interval: 10ms }
`, "sync.yaml");

/** Wall ms of the steps of PAIR_1MS over n workers (bring-up not counted), and the rounds. */
async function syncRun(n: number): Promise<{ ms: number; rounds: number; overheadMs: number }> {
  const lab = await scaleUp(PAIR_1MS, { workers: n });
  const t0 = performance.now();
  const res = await lab.runSteps();
  const ms = performance.now() - t0;
  const rep = await lab.down();
  if (!res.every((r) => r.ok) || !rep.ok) throw new Error(`sync run over ${n} workers failed: ${JSON.stringify(res.filter((r) => !r.ok))} ${rep.text}`);
  return { ms, rounds: rep.rounds, overheadMs: rep.syncOverheadMs };
}

const load = () => os.loadavg()[0]!.toFixed(1);

const group: Group = {
  name: "scale",
  description: "a lab over several kernels in worker threads: forwarding in parallel, the cross-partition link, the cost of synchronizing virtual time",
  metrics: [
    { name: "forward_pps_2workers_ratio", unit: "x", target: { min: 1.7 }, description: "datagrams/s through 2 halves of 8 routers each (64-byte frames, UDP flood in both halves), one half per worker vs both in one worker" },
    { name: "xpart_epair_fps", unit: "frames/s", target: { minPeerRatio: 0.5 }, description: "64-byte frames over a cross-partition link (tap + SharedArrayBuffer ring) between two workers, counted by the receiver's sink; peer: epair_fps in this run" },
    { name: "virtual_time_sync_overhead_pct", unit: "%", target: { max: 20 }, description: "wall time of a seeded virtual-time run (pings and an HTTP GET over a 1 ms cross-partition link) over 2 workers vs 1, steps only" },
  ],
  peers: ["epair_fps"],
  async run(ctx) {
    ctx.log(`forwarding, 1 and 2 workers alternately (load ${load()})`);
    const ones: number[] = [];
    const twos: number[] = [];
    for (let i = 0; i < 3; i++) {
      ones.push(await forwardPps(1, 1500));
      twos.push(await forwardPps(2, 1500));
    }
    const one = median(ones);
    const two = median(twos);
    ctx.report("forward_pps_2workers_ratio", round(two / one), { note: `${round(two)} vs ${round(one)} datagrams/s (medians of 3 alternating 1.5 s floods; each datagram forwarded by 8 routers); ${os.cpus().length} cores, load ${load()}` });

    ctx.log("epair_fps (peer) and the cross-partition link");
    const setup = await epairSetup();
    const ep = epairFps(setup, nowNs);
    setup.k.shutdown();
    const xs: { fps: number; note: string }[] = [];
    for (let i = 0; i < 3; i++) xs.push(await xpartFps(500_000));
    xs.sort((a, b) => a.fps - b.fps);
    const x = xs[1]!;
    ctx.report("xpart_epair_fps", round(x.fps), { peer: "epair_fps", peerValue: round(ep.fps), note: `median of 3 runs of 500k frames; ${x.note}; load ${load()}` });

    ctx.log("virtual time over 1 and 2 workers, alternately");
    const w1: number[] = [];
    const w2: number[] = [];
    let rounds = 0;
    let over = 0;
    for (let i = 0; i < 3; i++) {
      w1.push((await syncRun(1)).ms);
      const r = await syncRun(2);
      w2.push(r.ms);
      rounds = r.rounds;
      over = r.overheadMs;
    }
    const a = median(w1);
    const b = median(w2);
    ctx.report("virtual_time_sync_overhead_pct", round(((b - a) / a) * 100), { note: `steps took ${round(b)} ms over 2 workers vs ${round(a)} ms over 1 (medians of 3, alternating); ${rounds} rounds, ${round(over)} ms of the last 2-worker run beyond the busiest partition's work; load ${load()}` });
  },
};

export default group;
