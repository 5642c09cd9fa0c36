// One partition of a topology split over several kernels: the worker side of host/scale/.
// Platform-neutral (a message channel in, a message channel out); host/scale/worker_node.ts
// starts it in a Node worker_threads worker, a page's Web Worker can start it the same way.
//
// It boots a kernel, brings up the partition's nodes with Topology.up (local links as
// epairs, the ends of cut links as XlinkEnds), and then does what the coordinator says.
// Under virtual time nothing here moves time by itself: the kernel's clock has a pacer, so
// the steps (and ping) that wait for time register a wake-up time and wait; each "round"
// message moves the clock to the time the coordinator chose (the earliest thing any
// partition has to do), wakes whoever waited for it, lets the host's work settle and reports
// this partition's next event. One-kernel and N-kernel runs then see the same sequence of
// times, so a seeded run gives the same results (docs/scale.md "Virtual time").
//
// Every link end gets a MAC from its link's index and no offload, in every partition and in
// a run of one: a cut link's end is a tap (no offload; the kernel would otherwise draw MACs
// from vnet0's random numbers, whose draws depend on how many epairs the kernel made), and
// node vnets get the ids they have in a one-kernel run (per-vnet random numbers follow the
// id), so what a vnet draws is the same wherever it runs.

import { Topology, type PartitionHooks } from "../topology/topology.js";
import { ScheduleClock } from "../topology/clock.js";
import { runStep, startSchedules } from "../topology/steps.js";
import type { Kernel } from "../kern/kernel.js";
import type { StepResult } from "../topology/types.js";
import type { Interface } from "../admin/ifnet.js";
import { Commands } from "../shell/commands.js";
import { platform } from "../lib/platform.js";
import { turn } from "../lib/turn.js";
import type { LiveCapture } from "../capture/tap.js";
import { XlinkEnd, linkSeed } from "./xlink.js";
import { epairRng } from "../admin/epair.js";
import type { ToWorker, FromWorker, InitMessage, ForeignEndInit, LinkEndCounters } from "./protocol.js";

export interface Channel {
  post(m: FromWorker): void;
  onMessage(fn: (m: ToWorker) => void): void;
}

/** Turns the host may stay busy before time moves anyway (something that queues work every turn). */
const BUSY_TURNS_MAX = 100_000;

/** A link end's MAC: locally administered, from the link's index in the file and the end. */
export function linkMac(link: number, end: 0 | 1): string {
  const b = [0x02, 0x5c, (link >> 16) & 0xff, (link >> 8) & 0xff, link & 0xff, end === 0 ? 0x0a : 0x0b];
  return b.map((x) => x.toString(16).padStart(2, "0")).join(":");
}

function busyNow(): number {
  const p = globalThis.performance as Performance & { eventLoopUtilization?: () => { active: number } };
  return p.eventLoopUtilization ? p.eventLoopUtilization().active : p.now();
}

export class PartitionWorker {
  private topo!: Topology;
  private commands!: Commands;
  private xends: XlinkEnd[] = [];
  private captures: LiveCapture[] = [];
  private waiters: { until: number; early: boolean; wake: () => void }[] = [];
  private clock: ScheduleClock | undefined;
  private result: StepResult | undefined;
  private crashAt = -1;
  private crashUncaught = false;
  private queue: Promise<void> = Promise.resolve();
  private readonly busy0 = busyNow();

  constructor(private readonly ch: Channel) {
    // One message at a time, in order: a round waits for the previous one to settle.
    ch.onMessage((m) => {
      this.queue = this.queue.then(() => this.handle(m)).catch((e: unknown) => this.fail(e));
    });
  }

  private fail(e: unknown): void {
    const err = e instanceof Error ? e : new Error(String(e));
    this.ch.post({ t: "error", message: err.message, stack: err.stack });
  }

  private async handle(m: ToWorker): Promise<void> {
    switch (m.t) {
      case "init":
        return this.init(m);
      case "round":
        return this.round(m.to, m.step);
      case "step": {
        const result = await runStep(this.topo, m.step, { exec: (node, cmd) => this.commands.exec(this.topo.node(node), cmd) });
        this.ch.post({ t: "result", result });
        return;
      }
      case "crash":
        this.crashAt = m.atUs;
        this.crashUncaught = m.uncaught === true;
        return;
      case "down":
        return this.down();
    }
  }

  private async init(m: InitMessage): Promise<void> {
    const t0 = performance.now();
    const linkOf = new Map<string, { link: number; end: 0 | 1 }>();
    m.spec.links.forEach((l, i) => {
      linkOf.set(`${l.a.node}:${l.a.iface}`, { link: m.linkIndex[i]!, end: 0 });
      linkOf.set(`${l.b.node}:${l.b.iface}`, { link: m.linkIndex[i]!, end: 1 });
    });
    const foreign = new Map<string, ForeignEndInit>();
    for (const f of m.foreign) foreign.set(`${f.node}:${f.iface}`, f);
    let base = -1;
    let nextId = -1;
    const hooks: PartitionHooks = {
      beforeNode: (k: Kernel, node) => {
        if (base < 0) {
          // The first id this kernel gives, burnt in every partition alike.
          const probe = k.createVnet();
          base = probe.id + 1;
          nextId = base;
          probe.destroy();
        }
        const want = base + m.nodeIndex[node.name]!;
        for (; nextId < want; nextId++) k.createVnet().destroy();
        nextId++;
      },
      foreign: m.foreign.map((f) => ({ node: f.node, iface: f.iface })),
      foreignEnd: (k, vnet, node, iface) => {
        const f = foreign.get(`${node}:${iface}`)!;
        const x = new XlinkEnd(k, vnet, { name: `xpart${f.link}${f.end === 0 ? "a" : "b"}`, mac: linkMac(f.link, f.end), out: f.out, in: f.in, seed: linkSeed(m.seed, f.link, f.end) });
        x.setConditions(f.conditions);
        x.peer = f.peer;
        this.xends.push(x);
        return x.iface;
      },
      linkEnd: (k, iface: Interface, node, ifaceName) => {
        const key = `${node}:${ifaceName}`;
        const local = linkOf.get(key);
        if (local) {
          iface.setMac(linkMac(local.link, local.end));
          iface.setCapEnable(0);
          // Loss, duplication and jitter from the link's own stream, as a cut end draws them.
          epairRng(k, iface, linkSeed(m.seed, local.link, local.end));
          // Conditions from the start, as a cut link's end has them: frames of the bring-up
          // (gratuitous ARP, ND) then take the same time over either.
          const l = m.spec.links[m.linkIndex.indexOf(local.link)]!;
          const c = local.end === 0 ? l.forward : l.reverse;
          if (Object.keys(c).length) iface.setConditions(c);
        }
      },
    };
    this.topo = await Topology.up(m.spec, { clock: m.clock, seed: m.seed, partition: hooks, ...(m.pcapDir !== undefined ? { pcapDir: m.pcapDir } : {}) });
    this.commands = new Commands(this.topo.kernel, m.pcapDir !== undefined ? { pcapDir: m.pcapDir } : {});
    const k = this.topo.kernel;
    if (k.clock instanceof ScheduleClock) {
      this.clock = k.clock;
      // Waiting for time is asking the coordinator's rounds for it.
      this.clock.pacer = (until, early = false) => new Promise<void>((wake) => this.waiters.push({ until, early, wake }));
    } else {
      // Real time: frames from other partitions are taken as they come.
      for (const x of this.xends) void this.pump(x);
    }
    if (m.captureLinksDir !== undefined) {
      const join = platform().joinPath!;
      for (const node of this.topo.nodes()) {
        for (const i of node.interfaces()) {
          if (i.kind !== "ether") continue;
          this.captures.push(i.iface.capture({ pcap: join(m.captureLinksDir, `${node.name}_${i.name}.pcap`) }));
        }
      }
    }
    startSchedules(this.topo, () => {});
    const acc = k.accounting();
    this.ch.post({ t: "ready", upMs: performance.now() - t0, nodes: this.topo.nodes().length, links: this.topo.links().length, kmemPages: acc.pagesInUse, memoryBytes: acc.memoryBytes });
  }

  /** Real clock: take a foreign end's frames whenever its ring is published to. */
  private async pump(x: XlinkEnd): Promise<void> {
    const ring = x.incoming;
    while (!ring.closed && !x.iface.port.closed) {
      const seq = ring.seq();
      if (x.receive() === 0) await ring.waitAsync(seq, 50);
      else await turn();
    }
  }

  /** Virtual time: one synchronization round. */
  private async round(to: number, step: number | undefined): Promise<void> {
    const b0 = busyNow();
    const clock = this.clock!;
    for (const x of this.xends) x.receive();
    if (to > clock.now()) clock.advanceTo(to);
    if (this.crashAt >= 0 && clock.now() >= this.crashAt) {
      const e = new Error(`injected fault at ${clock.now()} µs`);
      this.crashAt = -1;
      // Thrown where nothing catches it (the thread's uncaught exception), or from the round.
      if (this.crashUncaught) setTimeout(() => {
        throw e;
      });
      else throw e;
    }
    // Wake whoever waited for this time, in the order they asked, and the time driver's
    // loops (wakeEarly) at every round: a one-kernel run's driver wakes at every kernel
    // deadline, and the deadlines of all partitions together are the rounds' times.
    const due = this.waiters.filter((w) => w.until <= clock.now() || w.early);
    this.waiters = this.waiters.filter((w) => !due.includes(w));
    for (const w of due) w.wake();
    if (step !== undefined) {
      const running = runStep(this.topo, step, { exec: (node, cmd) => this.commands.exec(this.topo.node(node), cmd) }).then((r) => (this.result = r));
      // A capture step takes no virtual time but may wait on the host's files (closing a
      // pcap): wait for it here, or the rounds would move time on meanwhile (as far as the
      // next event anywhere) and its duration would depend on how fast the disk is.
      if (this.topo.spec.steps[step]!.action === "capture") await running;
    }
    // Let the host's work settle: time does not move while any is queued.
    const hostBusy = platform().hostBusy;
    let n = 0;
    do await turn();
    while (hostBusy?.() && ++n < BUSY_TURNS_MAX);
    const result = this.result;
    this.result = undefined;
    const k = this.topo.kernel;
    const cands = [k.k.callout_next(), clock.nextEvent(), ...this.waiters.map((w) => w.until)];
    let next = Infinity;
    for (const c of cands) if (c >= 0 && c < next) next = c;
    // Frames sent to other partitions: the earliest arrival per partition (it must take part then).
    const sent: Record<number, number> = {};
    for (const x of this.xends) {
      const at = x.takeSentMin();
      if (at < (sent[x.peer] ?? Infinity)) sent[x.peer] = at;
    }
    this.ch.post({
      t: "report", now: clock.now(), next: next === Infinity ? -1 : next, sent,
      ...(result ? { result } : {}),
      busyMs: busyNow() - b0,
    });
  }

  private async down(): Promise<void> {
    const counters: LinkEndCounters[] = [];
    for (const node of this.topo.nodes()) {
      for (const i of node.interfaces()) if (i.kind === "ether" && i.iface.alive) counters.push({ node: node.name, iface: i.name, counters: i.iface.counters() });
    }
    for (const c of this.captures) await c.stop().catch(() => undefined);
    for (const w of this.waiters.splice(0)) w.wake();
    await this.commands.close();
    for (const x of this.xends) x.close();
    const teardown = await this.topo.down();
    this.ch.post({ t: "down", teardown, counters, cpuMs: busyNow() - this.busy0 });
  }
}
