// The scale group's worker (bench/groups/scale.ts): jobs that run in a worker thread each,
// started at once through a shared start flag so that two of them overlap.
//   forward: bring up one or more halves (a host, 8 routers in a chain, a host; links without
//     delay) in this worker's kernel, then flood UDP from each half's first host to its last
//     for `ms`, round robin over the halves, and count the datagrams that reached the last
//     host's interface (each forwarded by the 8 routers).
//   xsrc / xdst: the two ends of a cross-partition link (host/scale/xlink.ts) in two kernels;
//     xsrc sends 64-byte frames (bench_link, inside Wasm, batches) into it, xdst counts what its
//     sink receives, until `frames` arrived.
import { workerData, parentPort } from "node:worker_threads";
import "../../host/index.js";
import { Kernel } from "../../host/core.js";
import { parseTopology } from "../../host/topology/index.js";
import { Topology } from "../../host/topology/topology.js";
import { socket } from "../../host/sockets/socket.js";
import { XlinkEnd } from "../../host/scale/xlink.js";
import { FrameRing } from "../../host/scale/ring.js";
import { createTap, TapInterface } from "../../host/wire/tap.js";
import type { BenchLink } from "./epair_fps.js";

const job = workerData as {
  kind: "forward" | "xsrc" | "xdst";
  start: SharedArrayBuffer;
  halves?: number[];
  ms?: number;
  ab?: SharedArrayBuffer;
  ba?: SharedArrayBuffer;
  frames?: number;
};
const flag = new Int32Array(job.start);
const post = (m: unknown) => parentPort!.postMessage(m);

/** Wait (blocking this thread) until the group raises the start flag. */
function waitStart(): void {
  while (Atomics.load(flag, 0) === 0) Atomics.wait(flag, 0, 0, 100);
}

/** One half: h{n}s - r{n}-1 ... r{n}-8 - h{n}d, subnets 10.n.i.0/24. */
export function halfYaml(n: number): string {
  const R = 8;
  const nodes: string[] = [];
  const links: string[] = [];
  nodes.push(`  - name: h${n}s\n    interfaces: [{ name: eth0, addresses: [10.${n}.0.2/24] }]\n    routes: [{ to: default, via: 10.${n}.0.1 }]`);
  for (let i = 1; i <= R; i++) {
    // r_i: eth0 on subnet i-1 (.1 for r_1, the first host's gateway; .2 after), eth1 on subnet i (.1).
    const routes = [`{ to: 10.${n}.${R}.0/24, via: 10.${n}.${i}.2 }`, `{ to: 10.${n}.0.0/24, via: 10.${n}.${i - 1}.1 }`]
      .filter((_, k) => (k === 0 ? i < R : i > 1));
    nodes.push(`  - name: r${n}-${i}\n    role: router\n    interfaces: [{ name: eth0, addresses: [10.${n}.${i - 1}.${i === 1 ? 1 : 2}/24] }, { name: eth1, addresses: [10.${n}.${i}.1/24] }]\n    routes: [${routes.join(", ")}]`);
    links.push(`  - endpoints: [${i === 1 ? `h${n}s` : `r${n}-${i - 1}`}:${i === 1 ? "eth0" : "eth1"}, r${n}-${i}:eth0]`);
  }
  nodes.push(`  - name: h${n}d\n    interfaces: [{ name: eth0, addresses: [10.${n}.${R}.2/24] }]\n    routes: [{ to: default, via: 10.${n}.${R}.1 }]`);
  links.push(`  - endpoints: [r${n}-${R}:eth1, h${n}d:eth0]`);
  return `nodes:\n${nodes.join("\n")}\nlinks:\n${links.join("\n")}\n`;
}

async function forward(): Promise<void> {
  const halves = job.halves!;
  const k = await Kernel.boot({ config: "GENERIC" });
  const topos: Topology[] = [];
  for (const n of halves) topos.push(await Topology.up(parseTopology(halfYaml(n), `half${n}.yaml`), { kernel: k }));
  const flows = topos.map((t, i) => {
    const n = halves[i]!;
    const rx = socket(k, t.node(`h${n}d`).vnet, "inet", "dgram");
    rx.bind(`10.${n}.8.2`, 9); // never read: datagrams past its buffer are dropped there, after forwarding
    const tx = socket(k, t.node(`h${n}s`).vnet, "inet", "dgram");
    const sink = t.node(`h${n}d`).iface("eth0");
    return { rx, tx, sink, dst: `10.${n}.8.2` };
  });
  const payload = new Uint8Array(18); // 64-byte frames: 14 + 20 + 8 + 18 + 4 of padding
  for (const f of flows) for (let i = 0; i < 100; i++) f.tx.sendto(payload, f.dst, 9); // ARP, warm up
  const base = flows.map((f) => f.sink.counters().ipackets);
  post({ ready: true });
  waitStart();
  const t0 = performance.now();
  const end = t0 + job.ms!;
  let sent = 0;
  while (performance.now() < end) {
    for (const f of flows) {
      for (let i = 0; i < 256; i++) f.tx.sendto(payload, f.dst, 9);
      sent += 256;
    }
  }
  const secs = (performance.now() - t0) / 1000;
  const got = flows.reduce((a, f, i) => a + f.sink.counters().ipackets - base[i]!, 0);
  post({ sent, got, secs });
  for (const f of flows) {
    f.tx.close();
    f.rx.close();
  }
  for (const t of topos) await t.down();
  k.shutdown();
}

async function xlinkEnd(send: boolean): Promise<void> {
  const k = await Kernel.boot({ config: "BARE" });
  for (const m of ["if_tap", "bench_link"]) await k.kldload(m);
  const v = k.createVnet(send ? "a" : "b");
  const x = new XlinkEnd(k, v, { name: "xpart0", mac: send ? "02:00:00:00:00:0a" : "02:00:00:00:00:0b", out: send ? job.ab! : job.ba!, in: send ? job.ba! : job.ab! });
  x.iface.setUp();
  const bl = k.module<BenchLink>("bench_link");
  const frames = job.frames!;
  if (!send) {
    const ring = x.incoming;
    post({ ready: true });
    waitStart();
    const before = bl.bench_received();
    const t0 = performance.now();
    let last = performance.now();
    while (bl.bench_received() - before < frames) {
      const seq = ring.seq();
      if (x.receive() === 0) {
        if (performance.now() - last > 3000) break; // nothing for 3 s: report what came
        ring.wait(seq, 100); // this thread has nothing else to do: block
      } else last = performance.now();
    }
    const secs = (last - t0) / 1000;
    post({ got: bl.bench_received() - before, secs, rx: x.stats.rxFrames, ipackets: x.iface.counters().ipackets, ierrors: x.iface.counters().ierrors, iqdrops: x.iface.counters().iqdrops });
    return;
  }
  // bench_send takes the destination MAC from an interface of this kernel: a stand-in with the far end's.
  const peer = createTap(k, v, { name: "peer0", mac: "02:00:00:00:00:0b" }, (ptr) => new TapInterface(k, ptr));
  const out = new FrameRing(job.ab!);
  post({ ready: true });
  waitStart();
  const BATCH = 2000;
  let sent = 0;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  while (sent < frames) {
    // Keep at most ~64k frames in flight: the ring holds them, the receiver catches up.
    while (out.stats().pushed - out.stats().popped > 64_000) Atomics.wait(pause, 0, 0, 0.05);
    k.enter(() => bl.bench_send(x.iface.ptr, peer.ptr, BATCH));
    sent += BATCH;
  }
  post({ sent, ringFull: x.stats.txRingFull, queueDrops: x.stats.txQueueDrops });
}

const run = job.kind === "forward" ? forward() : xlinkEnd(job.kind === "xsrc");
run.catch((e: unknown) => post({ error: e instanceof Error ? e.stack ?? e.message : String(e) }));
