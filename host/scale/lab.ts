// ScaleLab: one topology over several kernels, each in its own worker, driven by one
// coordinator (this file, platform-neutral: the caller gives it a way to start workers;
// host/scale/spawn_node.ts is Node's). It partitions the file (partition.ts), makes a pair of
// FrameRings for every cut link, starts a worker per partition with its part of the file,
// runs the steps and tears everything down.
//
// Virtual time, conservative synchronization: a round moves to a time T the partitions that
// have something due by T (their own next event, or a frame from another partition arriving)
// and the one running the step, starts the next step in its partition if one is due, lets
// each one's host work settle, and collects each one's next event (kernel callouts, schedule
// changes, host code waiting for a time) and the earliest arrival of the frames it sent to
// each other partition. The next T is the earliest of all these. A partition left out of a
// round has nothing that could happen in it at T. A frame sent at T
// arrives no earlier than T + the link's delay (> 0: the partitioner never cuts a link
// without delay), so no partition ever receives a frame in its past. Each partition thus
// advances to min(its next event, the others' next event, the earliest frame in flight),
// a window never larger than the lookahead of the links into it. A step's end is a host
// condition that any partition may reach, so the window is not widened past the next event
// of the others: that is what keeps an N-kernel run equal to the one-kernel run, and it is
// where the synchronization cost goes (docs/scale.md).
//
// Faults: a worker that throws, exits or reports an error ends the run with a ScaleError
// naming the partition and its nodes; every worker is terminated.

import type { TopologySpec, StepSpec } from "../topology/spec.js";
import type { StepEvent, StepResult, TeardownReport } from "../topology/types.js";
import { WavnetError } from "../lib/errors.js";
import { partition, type PartitionPlan } from "./partition.js";
import { FrameRing, RING_DEFAULT_BYTES } from "./ring.js";
import type { ToWorker, FromWorker, InitMessage, ForeignEndInit, ReportMessage, DownReply, LinkEndCounters, ReadyMessage } from "./protocol.js";

/** A worker as the coordinator sees it (Node worker_threads, a Web Worker). */
export interface WorkerLike {
  post(m: ToWorker): void;
  onMessage(fn: (m: FromWorker) => void): void;
  /** An uncaught exception in the worker, or its exit: the run ends. */
  onFault(fn: (why: string) => void): void;
  terminate(): Promise<void>;
}

export type Spawn = (partition: number) => WorkerLike;

export interface ScaleOptions {
  /** Partitions (kernels, workers) asked for; fewer are used when the file has fewer groups. */
  workers: number;
  spawn: Spawn;
  clock?: "virtual" | "real";
  seed?: number;
  /** Folder for the files of capture steps. */
  pcapDir?: string;
  /** Capture every link end into DIR/NODE_IFACE.pcap (equality tests). */
  captureLinksDir?: string;
  /** Bytes of each cross-partition ring (default 1 MiB). */
  ringBytes?: number;
  /** Partition p throws when its virtual time reaches atUs (fault tests). */
  crash?: { partition: number; atUs: number; uncaught?: boolean };
}

export class ScaleError extends WavnetError {
  constructor(message: string, readonly partition: number, readonly nodes: string[], readonly partial: StepResult[] = []) {
    super(message);
  }
}

export interface PartitionReport {
  partition: number;
  nodes: string[];
  /** CPU time of the partition's thread over the run (event-loop active time), ms. */
  cpuMs: number;
  /** Of it, in synchronization rounds (virtual time), ms. */
  roundBusyMs: number;
  teardown: TeardownReport;
}

export interface ScaleReport {
  partitions: PartitionReport[];
  /** Virtual time: rounds run, and the wall time of the rounds beyond the busiest partition's work in each (the cost of synchronizing), ms. */
  rounds: number;
  roundsMs: number;
  syncOverheadMs: number;
  counters: LinkEndCounters[];
  ok: boolean;
  text: string;
}

/** The node a step runs on (ping, tcp, udp, http: from; link, capture: the endpoint's node; shell: its node; sleep: the first partition). */
export function stepNode(s: StepSpec): string | undefined {
  switch (s.action) {
    case "ping":
    case "tcp":
    case "udp":
    case "http":
      return s.from;
    case "link":
    case "capture":
      return s.endpoint.split(":")[0];
    case "shell":
      return s.node;
    default:
      return undefined;
  }
}

/** A node name as a step's target: its first IPv4 address (or global IPv6 with v6ok), as Topology.addressOf says. */
function addressOf(spec: TopologySpec, target: string, v6ok: boolean): string {
  const n = spec.nodes.find((x) => x.name === target);
  if (!n) return target;
  for (const i of n.interfaces) for (const a of i.addresses) if (!a.includes(":")) return a.split("/")[0]!;
  if (v6ok) for (const i of n.interfaces) for (const a of i.addresses) if (a.includes(":") && !/^fe80:/i.test(a)) return a.split("/")[0]!;
  return target;
}

/** Steps whose target lives in another partition name it by address (the worker knows only its own nodes). */
export function resolveSteps(spec: TopologySpec): StepSpec[] {
  return spec.steps.map((s) => {
    if (s.action === "ping") return { ...s, to: addressOf(spec, s.to, true) };
    if (s.action === "http") return { ...s, to: addressOf(spec, s.to, false) };
    return s;
  });
}

export class ScaleLab {
  private workers: WorkerLike[] = [];
  private waiting = new Map<number, { resolve: (m: FromWorker) => void; reject: (e: ScaleError) => void }>();
  private fault: ScaleError | undefined;
  private results: StepResult[] = [];
  private rounds = 0;
  private roundsMs = 0;
  private syncMs = 0;
  private roundBusy: number[] = [];
  private downDone = false;
  /** Virtual time of all partitions between rounds, µs. */
  private now = 0;
  readonly ready: ReadyMessage[] = [];
  upMs = 0;

  private constructor(readonly spec: TopologySpec, readonly plan: PartitionPlan, private readonly opts: ScaleOptions) {}

  get clock(): "virtual" | "real" {
    return this.opts.clock ?? this.spec.clock ?? "virtual";
  }

  /** Partition the file, start a worker per partition and bring each part up. */
  static async up(spec: TopologySpec, opts: ScaleOptions): Promise<ScaleLab> {
    const t0 = performance.now();
    const plan = partition(spec, opts.workers);
    const lab = new ScaleLab(spec, plan, opts);
    const steps = resolveSteps(spec);
    const nodeIndex: Record<string, number> = {};
    spec.nodes.forEach((n, i) => (nodeIndex[n.name] = i));
    const foreign: ForeignEndInit[][] = Array.from({ length: plan.partitions }, () => []);
    for (const c of plan.cut) {
      const ab = FrameRing.create(opts.ringBytes ?? RING_DEFAULT_BYTES);
      const ba = FrameRing.create(opts.ringBytes ?? RING_DEFAULT_BYTES);
      foreign[c.pa]!.push({ node: c.link.a.node, iface: c.link.a.iface, link: c.index, end: 0, peer: c.pb, out: ab, in: ba, conditions: c.link.forward });
      foreign[c.pb]!.push({ node: c.link.b.node, iface: c.link.b.iface, link: c.index, end: 1, peer: c.pa, out: ba, in: ab, conditions: c.link.reverse });
    }
    try {
      const inits: InitMessage[] = plan.nodesOf.map((names, p) => {
        const mine = new Set(names);
        const links: number[] = [];
        spec.links.forEach((l, i) => {
          if (mine.has(l.a.node) && mine.has(l.b.node)) links.push(i);
        });
        return {
          t: "init", partition: p,
          spec: { ...spec, nodes: spec.nodes.filter((n) => mine.has(n.name)), links: links.map((i) => spec.links[i]!), steps },
          nodeIndex, linkIndex: links, foreign: foreign[p]!,
          clock: lab.clock, seed: opts.seed ?? spec.seed ?? 1,
          ...(opts.pcapDir !== undefined ? { pcapDir: opts.pcapDir } : {}),
          ...(opts.captureLinksDir !== undefined ? { captureLinksDir: opts.captureLinksDir } : {}),
        };
      });
      for (let p = 0; p < plan.partitions; p++) lab.start(p);
      const ready = await Promise.all(inits.map((m, p) => lab.ask(p, m)));
      for (const r of ready) lab.ready.push(r as ReadyMessage);
      if (opts.crash) lab.workers[opts.crash.partition]!.post({ t: "crash", atUs: opts.crash.atUs, uncaught: opts.crash.uncaught === true });
    } catch (e) {
      await lab.kill();
      throw e;
    }
    lab.upMs = performance.now() - t0;
    return lab;
  }

  private start(p: number): void {
    const w = this.opts.spawn(p);
    this.workers[p] = w;
    w.onMessage((m) => {
      if (m.t === "error") return this.failed(p, m.message);
      const wait = this.waiting.get(p);
      if (!wait) return;
      this.waiting.delete(p);
      wait.resolve(m);
    });
    w.onFault((why) => this.failed(p, why));
  }

  private failed(p: number, why: string): void {
    if (this.fault || this.downDone) return;
    const nodes = this.plan.nodesOf[p] ?? [];
    this.fault = new ScaleError(`partition ${p} (nodes ${nodes.join(", ")}) failed: ${why}`, p, nodes, [...this.results]);
    for (const w of this.waiting.values()) w.reject(this.fault);
    this.waiting.clear();
    void this.kill();
  }

  /** Send m to partition p and wait for its answer (or the run's fault). */
  private ask(p: number, m: ToWorker): Promise<FromWorker> {
    if (this.fault) return Promise.reject(this.fault);
    return new Promise<FromWorker>((resolve, reject) => {
      this.waiting.set(p, { resolve, reject });
      this.workers[p]!.post(m);
    });
  }

  /** Terminate every worker (nothing left running). */
  private async kill(): Promise<void> {
    const ws = this.workers.splice(0);
    await Promise.all(ws.map((w) => w.terminate().catch(() => undefined)));
  }

  /** Workers still running (0 after down() or a fault). */
  get workersRunning(): number {
    return this.workers.length;
  }

  /** Run the file's steps in order; a worker's fault rejects with a ScaleError (partial: the results so far). */
  async runSteps(opts: { onEvent?: (e: StepEvent) => void } = {}): Promise<StepResult[]> {
    const emit = opts.onEvent ?? (() => {});
    const steps = this.spec.steps;
    const owner = (s: StepSpec) => {
      const n = stepNode(s);
      return n === undefined ? 0 : this.plan.partitionOf.get(n) ?? 0;
    };
    this.roundBusy = new Array<number>(this.plan.partitions).fill(0);
    for (let index = 0; index < steps.length; index++) {
      const step = steps[index]!;
      emit({ type: "start", index, name: step.name, action: step.action, total: steps.length });
      const p = owner(step);
      const result = this.clock === "virtual" ? await this.virtualStep(index, p) : await this.realStep(index, p);
      this.results.push(result);
      emit({ type: "end", index, result, total: steps.length });
    }
    return [...this.results];
  }

  private async realStep(index: number, p: number): Promise<StepResult> {
    const m = await this.ask(p, { t: "step", step: index });
    return (m as { result: StepResult }).result;
  }

  /** Each partition's own next event (-1: none) and the earliest frame in flight to it. */
  private nextOf: number[] = [];
  private inbound: number[] = [];

  /**
   * Rounds until partition p reports the step's result. A round at T takes the step's
   * partition (its time driver looks at every T, as a one-kernel run's does) and those with
   * something due by T (own events, frames arriving); the others have nothing to do then and
   * are left out (their kernel does not tick at T: nothing would happen in it).
   */
  private async virtualStep(index: number, p: number): Promise<StepResult> {
    let start: number | undefined = index;
    const n = this.workers.length;
    if (this.nextOf.length !== n) {
      this.nextOf = new Array<number>(n).fill(0);
      this.inbound = new Array<number>(n).fill(Infinity);
    }
    for (;;) {
      const w0 = performance.now();
      const T = this.now;
      const takes = this.workers.map((_, q) => q === p || (this.nextOf[q]! >= 0 && this.nextOf[q]! <= T) || this.inbound[q]! <= T);
      const asked = this.workers.map((_, q) => (takes[q] ? this.ask(q, { t: "round", to: T, ...(q === p && start !== undefined ? { step: start } : {}) }) : undefined));
      // All at once: a fault rejects every question out, and each rejection must be handled
      // (awaiting them one by one left the second one unhandled when the first threw).
      const reports = (await Promise.all(asked)) as (ReportMessage | undefined)[];
      const wall = performance.now() - w0;
      start = undefined;
      this.rounds++;
      this.roundsMs += wall;
      let busiest = 0;
      reports.forEach((r, q) => {
        if (!r) return;
        this.roundBusy[q]! += r.busyMs;
        busiest = Math.max(busiest, r.busyMs);
        this.nextOf[q] = r.next;
        this.inbound[q] = Infinity; // it took its frames in: they are its own events now
      });
      for (const r of reports) for (const [q, at] of Object.entries(r?.sent ?? {})) this.inbound[Number(q)] = Math.min(this.inbound[Number(q)]!, at);
      this.syncMs += Math.max(0, wall - busiest);
      const done = reports[p]!.result;
      if (done) return done;
      let next = Infinity;
      for (let q = 0; q < n; q++) {
        if (this.nextOf[q]! >= 0 && this.nextOf[q]! < next) next = this.nextOf[q]!;
        if (this.inbound[q]! < next) next = this.inbound[q]!;
      }
      if (next === Infinity) throw new ScaleError(`step ${index + 1} waits, and no partition has anything left to do (a bug: a step always waits for a time)`, p, this.plan.nodesOf[p] ?? [], [...this.results]);
      this.now = Math.max(this.now, next);
    }
  }

  /** Tear every partition down and stop the workers. */
  async down(): Promise<ScaleReport> {
    if (this.downDone) throw new WavnetError("ScaleLab.down: already down");
    let replies: DownReply[];
    try {
      replies = (await Promise.all(this.workers.map((_, p) => this.ask(p, { t: "down" })))) as DownReply[];
    } finally {
      this.downDone = true;
      await this.kill();
    }
    const partitions = replies.map((r, p) => ({ partition: p, nodes: this.plan.nodesOf[p]!, cpuMs: round3(r.cpuMs), roundBusyMs: round3(this.roundBusy[p] ?? 0), teardown: r.teardown }));
    const ok = partitions.every((x) => x.teardown.ok);
    const text = partitions.map((x) => `p${x.partition}: ${x.teardown.text}`).join("\n");
    return {
      partitions, rounds: this.rounds, roundsMs: round3(this.roundsMs), syncOverheadMs: round3(this.syncMs),
      counters: replies.flatMap((r) => r.counters), ok, text,
    };
  }
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;
