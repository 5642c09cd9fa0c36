// A lab: one topology brought up in a worker for a page, with what the page works with:
// the shell (the same commands as `wavnet shell`), captures decoded into packet rows,
// counters, link conditions and cuts, the file's steps, time control (host/web/time.ts), and
// frames followed along links for the animation. Events go out through `emit`.

import "../vnet.js";
import { Topology, TopologyError, TopologyErrors, parseTopology, type TopologySpec, type TopoLink, type TeardownReport } from "../topology/index.js";
import type { Interface } from "../admin/ifnet.js";
import type { LinkConditions } from "../admin/epair.js";
import type { LiveCapture } from "../capture/tap.js";
import type { Frame } from "../capture/capture.js";
import type { ByteSink } from "../lib/platform.js";
import { Commands } from "../shell/commands.js";
import { WebSocketInterface } from "../wire/websocket.js";
import { ShellCore } from "../shell/shell.js";
import { resultTable, passedLine } from "../shell/results.js";
import { TimeController, type ClockState } from "./time.js";
import { decodeFrame, LINKTYPE_ETHERNET, LINKTYPE_NULL } from "./decode.js";
import { routeText } from "./protocol.js";
import type {
  CheckResult, Direction, Event, Flight, IfaceStats, LabInfo, LinkInfo, PacketRow, Problem, Stats, StepResult,
} from "./protocol.js";

/** Where capture steps write (in the worker's memory files). */
export const CAPTURE_DIR = "/captures";
/** Stats events while a lab is up, wall ms apart. */
const STATS_MS = 250;
/** Clock events at most this often, wall ms (and at once on play, pause, step, speed). */
const CLOCK_MS = 50;
/** Rows and flights are sent in batches at most this far apart, wall ms. */
const BATCH_MS = 30;
/** Flights per batch at most (more frames than an animation can show are left out). */
const FLIGHTS_PER_BATCH = 400;
/** Bytes of each frame the animation's captures keep (enough to tell frames apart). */
const ANIM_SNAPLEN = 128;

export function problemsOf(e: unknown): Problem[] | undefined {
  const one = (x: TopologyError): Problem => ({ file: x.file, line: x.line, column: x.column, path: x.path, reason: x.reason, message: x.message });
  if (e instanceof TopologyErrors) return e.errors.map(one);
  if (e instanceof TopologyError) return [one(e)];
  return undefined;
}

/** Parse and check only. */
export function check(yaml: string, file = "lab.yaml"): CheckResult {
  try {
    const spec = parseTopology(yaml, file);
    return { ok: true, problems: [], nodes: spec.nodes.length, links: spec.links.length, steps: spec.steps.length };
  } catch (e) {
    const problems = problemsOf(e);
    if (!problems) throw e;
    return { ok: false, problems };
  }
}

interface UserCapture {
  id: number;
  endpoint: string;
  live: LiveCapture;
  chunks: Uint8Array[];
  rows: number;
  pending: PacketRow[];
  linktype: number;
  ended: boolean;
}

interface Pending {
  id: number;
  key: string;
  etaUs: number;
}

/** A short key that tells captured frames apart (FNV-1a over the bytes kept, and the length). */
function frameKey(f: Frame): string {
  let h = 0x811c9dc5;
  const d = f.data;
  for (let i = 0; i < d.length; i++) h = Math.imul(h ^ d[i], 0x01000193);
  return `${(h >>> 0).toString(36)}:${f.origLen}`;
}

/** The protocol column for the animation, without a full decode. */
function protoOf(d: Uint8Array): string {
  if (d.length < 14) return "?";
  const et = (d[12] << 8) | d[13];
  if (et === 0x0806) return "ARP";
  if (et === 0x0800 && d.length >= 24) return ({ 1: "ICMP", 6: "TCP", 17: "UDP" } as Record<number, string>)[d[23]] ?? "IPv4";
  if (et === 0x86dd && d.length >= 21) return ({ 58: "ICMPv6", 6: "TCP", 17: "UDP" } as Record<number, string>)[d[20]] ?? "IPv6";
  return "Ethernet";
}

export class Lab {
  readonly commands: Commands;
  readonly shell: ShellCore;
  readonly time: TimeController;
  readonly upMs: number;
  /** Wall ms the file's parse and check took (0 once grown: the first file's). */
  parseMs = 0;
  private captures = new Map<number, UserCapture>();
  private nextCapture = 1;
  private cutSaved = new Map<number, { "a->b": LinkConditions; "b->a": LinkConditions }>();
  private statsTimer: ReturnType<typeof setInterval> | undefined;
  private clockTimer: ReturnType<typeof setTimeout> | undefined;
  private clockSent = 0;
  private batchTimer: ReturnType<typeof setTimeout> | undefined;
  private anim: { caps: LiveCapture[]; pending: Map<string, Pending[]>; early: Map<string, { key: string; atUs: number }[]>; out: Flight[]; nextId: number; skipped: number } | undefined;
  private stepsRunning = false;
  private closed = false;

  private constructor(readonly topo: Topology, public spec: TopologySpec, upMs: number, private readonly emit: (e: Event) => void) {
    this.upMs = upMs;
    this.commands = new Commands(topo.kernel, { pcapDir: "/tmp" });
    this.shell = new ShellCore({ topo, commands: this.commands });
    this.time = new TimeController(topo.kernel, (s) => this.clockChanged(s));
    this.statsTimer = setInterval(() => {
      if (!this.closed) this.emit({ event: "stats", stats: this.stats() });
      this.sweepFlights();
    }, STATS_MS);
  }

  /** Parse, bring up (capture steps write under CAPTURE_DIR, through the platform's files); TopologyError(s) for a bad file. */
  static async load(yaml: string, opts: { file?: string; clock?: "virtual" | "real"; seed?: number; emit: (e: Event) => void }): Promise<Lab> {
    const tp = performance.now();
    const spec = parseTopology(yaml, opts.file ?? "lab.yaml");
    const t0 = performance.now();
    // No clock asked for: Topology.up's default (virtual; real with websocket interfaces, whose peers cannot share virtual time).
    const topo = await Topology.up(spec, { clock: opts.clock ?? spec.clock, seed: opts.seed ?? spec.seed, pcapDir: CAPTURE_DIR });
    const lab = new Lab(topo, spec, performance.now() - t0, opts.emit);
    lab.parseMs = t0 - tp;
    return lab;
  }

  /**
   * The file grown by nodes and links (Topology.grow): they come up in the running lab (time,
   * captures and connections go on). { why } when the change is not a growth: load it.
   */
  async grow(yaml: string, file?: string): Promise<{ grown: true; info: LabInfo; nodes: string[]; links: number } | { grown: false; why: string }> {
    const spec = parseTopology(yaml, file ?? this.spec.file);
    const r = await this.topo.grow(spec);
    if (!r.grown) return r;
    this.spec = spec;
    return { grown: true, info: this.info(), nodes: r.nodes, links: r.links };
  }

  info(): LabInfo {
    const t = this.topo;
    return {
      name: this.spec.name,
      clock: t.kernel.clock.kind,
      seed: this.spec.seed ?? 1,
      parseMs: this.parseMs,
      upMs: this.upMs,
      bootMs: this.topo.bootMs,
      nodes: t.nodes().map((n) => ({
        name: n.name,
        role: n.role,
        forwarding: n.spec.forwarding,
        interfaces: n.interfaces().map((i) => {
          const is = n.spec.interfaces.find((x) => x.name === i.name);
          // One liveness check for the three fields (a gone interface: empty ones).
          const d = i.iface.describe();
          return {
            name: i.name,
            kname: d?.name ?? "",
            kind: i.kind,
            addresses: i.addresses,
            mac: d?.mac ?? "",
            mtu: d?.mtu ?? 0,
            ...(is?.url !== undefined ? { url: is.url } : {}),
            ...(is?.listen ? { listen: true } : {}),
            ...(i.iface instanceof WebSocketInterface ? { connected: i.iface.connected } : {}),
          };
        }),
        routes: n.spec.routes.map(routeText).join("\n"),
        services: n.spec.services.map((s) => ({ kind: s.kind, port: s.port })),
        line: n.spec.origin.line,
        generated: n.spec.generator !== undefined || n.spec.origin.path.startsWith("generators"),
      })),
      links: t.links().map((l, i) => this.linkInfo(l, i)),
      steps: this.spec.steps.map((s, index) => ({ index, name: s.name, action: s.action, line: s.origin.line })),
    };
  }

  private linkInfo(l: TopoLink, index: number): LinkInfo {
    // A cut link's conditions are those a restore brings back (the cut itself is `cut`).
    const saved = this.cutSaved.get(index);
    const full = (c: LinkConditions): Required<LinkConditions> => ({ delayUs: 0, jitterUs: 0, loss: 0, duplicate: 0, reorder: 0, rateBps: 0, queueLimit: 1000, queueBytes: 0, ...c });
    const conditions = saved ? { "a->b": full(saved["a->b"]), "b->a": full(saved["b->a"]) } : l.conditions();
    return { index, a: l.a, b: l.b, conditions, cut: saved !== undefined, line: l.spec.origin.line, generated: l.spec.origin.path.startsWith("generators") };
  }

  /** A link by either endpoint ("ra:wan"), both ("ra:wan|rb:wan") or its index ("#3"). */
  private link(ref: string): { l: TopoLink; index: number } {
    const links = this.topo.links();
    let i = -1;
    if (/^#\d+$/.test(ref)) i = Number(ref.slice(1));
    else {
      const [x, y] = ref.split("|");
      i = links.findIndex((l) => y === undefined ? l.a === x || l.b === x : (l.a === x && l.b === y) || (l.a === y && l.b === x));
    }
    const l = links[i];
    if (!l) throw new Error(`no link ${JSON.stringify(ref)} (links: ${links.map((k) => `${k.a}|${k.b}`).join(", ") || "none"})`);
    return { l, index: i };
  }

  /** An interface by "node:if" (topology name or kernel name). */
  private iface(endpoint: string): Interface {
    const at = endpoint.indexOf(":");
    if (at < 0) throw new Error(`capture: say "node:interface", got ${JSON.stringify(endpoint)}`);
    const node = this.topo.node(endpoint.slice(0, at));
    const name = endpoint.slice(at + 1);
    const byTopo = node.interfaces().find((i) => i.name === name);
    if (byTopo) return byTopo.iface;
    const byKernel = node.vnet.interfaces().find((i) => i.name === name);
    if (!byKernel) throw new Error(`node ${node.name} has no interface ${name} (it has ${[...node.interfaces().map((i) => i.name), ...node.vnet.interfaces().map((i) => i.name)].join(", ")})`);
    return byKernel;
  }

  stats(): Stats {
    const ifaces: IfaceStats[] = [];
    for (const n of this.topo.nodes()) {
      if (!n.vnet.alive) continue;
      const names = new Map(n.interfaces().filter((i) => i.iface.alive).map((i) => [i.iface.name, i.name]));
      for (const i of n.vnet.interfaces()) {
        const c = i.counters();
        ifaces.push({
          node: n.name, name: names.get(i.name) ?? i.name, kname: i.name,
          ipackets: c.ipackets, ibytes: c.ibytes, opackets: c.opackets, obytes: c.obytes,
          ierrors: c.ierrors, oerrors: c.oerrors, iqdrops: c.iqdrops, oqdrops: c.oqdrops,
        });
      }
    }
    const links = this.topo.links().flatMap((l, index) => (l.ends[0].alive ? [{ index, a: l.a, b: l.b, "a->b": l.ends[0].linkStats(), "b->a": l.ends[1].linkStats() }] : []));
    return { nowUs: this.topo.kernel.clock.now(), wallMs: performance.now(), ifaces, links };
  }

  // ---- link conditions

  setConditions(ref: string, dir: Direction, c: LinkConditions): LinkInfo {
    const { l, index } = this.link(ref);
    // A change to a cut link applies when it is restored; the cut stays.
    const saved = this.cutSaved.get(index);
    if (saved) {
      if (dir !== "b->a") saved["a->b"] = { ...c };
      if (dir !== "a->b") saved["b->a"] = { ...c };
    } else l.setConditions(dir, c);
    return this.linkInfo(l, index);
  }

  cut(ref: string, cut: boolean): LinkInfo {
    const { l, index } = this.link(ref);
    const saved = this.cutSaved.get(index);
    if (cut && !saved) {
      const c = l.conditions();
      this.cutSaved.set(index, { "a->b": c["a->b"], "b->a": c["b->a"] });
      l.setConditions("a->b", { ...c["a->b"], loss: 1 });
      l.setConditions("b->a", { ...c["b->a"], loss: 1 });
    } else if (!cut && saved) {
      this.cutSaved.delete(index);
      l.setConditions("a->b", saved["a->b"]);
      l.setConditions("b->a", saved["b->a"]);
    }
    return this.linkInfo(l, index);
  }

  // ---- captures

  captureStart(endpoint: string): { capture: number; endpoint: string; ifName: string } {
    const iface = this.iface(endpoint);
    const chunks: Uint8Array[] = [];
    const sink: ByteSink = {
      write: (b: Uint8Array) => chunks.push(b.slice()),
      end: (cb?: () => void) => cb?.(),
    };
    const live = iface.capture({ pcapng: sink });
    const id = this.nextCapture++;
    const c: UserCapture = { id, endpoint, live, chunks, rows: 0, pending: [], linktype: iface.type === "loopback" ? LINKTYPE_NULL : LINKTYPE_ETHERNET, ended: false };
    this.captures.set(id, c);
    void (async () => {
      for await (const f of live) {
        c.pending.push({ no: ++c.rows, tsUs: f.kernelTsUs, dir: f.dir, len: f.origLen, summary: decodeFrame(f.data, c.linktype, f.origLen).summary, data: f.data, linktype: c.linktype });
        this.batchSoon();
      }
      this.flush();
      c.ended = true;
      this.emit({ event: "captureEnded", capture: id, frames: live.frames, drops: live.drops });
    })();
    return { capture: id, endpoint, ifName: live.ifName };
  }

  private capture(id: number): UserCapture {
    const c = this.captures.get(id);
    if (!c) throw new Error(`no capture ${id}`);
    return c;
  }

  async captureStop(id: number): Promise<{ frames: number; drops: number }> {
    const c = this.capture(id);
    await c.live.stop();
    return { frames: c.live.frames, drops: c.live.drops };
  }

  capturePcapng(id: number): { bytes: Uint8Array; name: string } {
    const c = this.capture(id);
    const size = c.chunks.reduce((a, b) => a + b.length, 0);
    const bytes = new Uint8Array(size);
    let at = 0;
    for (const b of c.chunks) {
      bytes.set(b, at);
      at += b.length;
    }
    return { bytes, name: `wavnet-${c.endpoint.replace(/[^A-Za-z0-9_.-]+/g, "-")}.pcapng` };
  }

  // ---- animation: every link end captured; a frame out of one end departs, the same frame in at the other arrives

  animate(on: boolean): boolean {
    if (on && !this.anim) {
      const anim = { caps: [] as LiveCapture[], pending: new Map<string, Pending[]>(), early: new Map<string, { key: string; atUs: number }[]>(), out: [] as Flight[], nextId: 1, skipped: 0 };
      this.anim = anim;
      this.topo.links().forEach((l, index) => {
        if (!l.ends[0].alive) return;
        l.ends.forEach((end, e) => {
          const live = end.capture({ snaplen: ANIM_SNAPLEN, ringSegments: 4 });
          anim.caps.push(live);
          void (async () => {
            for await (const f of live) this.flight(l, index, e, f);
          })();
        });
      });
    } else if (!on && this.anim) {
      const caps = this.anim.caps;
      this.anim = undefined;
      for (const c of caps) void c.stop();
    }
    return this.anim !== undefined;
  }

  private flight(l: TopoLink, index: number, end: number, f: Frame): void {
    const anim = this.anim;
    if (!anim) return;
    // Frames a end sends travel a->b from end 0, b->a from end 1; frames it receives came the other way.
    const dir = (f.dir === "out") === (end === 0) ? "a->b" : "b->a";
    const key = `${index}${dir}`;
    const fk = frameKey(f);
    // Each end's capture is read on its own, so a frame's arrival may be seen before its departure.
    if (f.dir === "out") {
      const c = l.conditions()[dir];
      const eta = f.kernelTsUs + c.delayUs + (c.rateBps > 0 ? Math.round((f.origLen * 8 * 1e6) / c.rateBps) : 0);
      const id = anim.nextId++;
      const early = anim.early.get(key);
      const e = early ? early.findIndex((x) => x.key === fk) : -1;
      const room = anim.out.length < FLIGHTS_PER_BATCH;
      if (room) anim.out.push({ kind: "depart", id, link: index, dir, atUs: f.kernelTsUs, etaUs: eta, len: f.origLen, proto: protoOf(f.data) });
      else anim.skipped++;
      if (early && e >= 0) {
        const arrived = early.splice(e, 1)[0]!;
        if (room) anim.out.push({ kind: "arrive", id, atUs: arrived.atUs });
      } else {
        let q = anim.pending.get(key);
        if (!q) anim.pending.set(key, (q = []));
        q.push({ id, key: fk, etaUs: eta });
        if (q.length > 2000) q.shift();
      }
    } else {
      const q = anim.pending.get(key);
      const i = q ? q.findIndex((p) => p.key === fk) : -1;
      if (q && i >= 0) {
        const p = q.splice(i, 1)[0]!;
        if (anim.out.length < FLIGHTS_PER_BATCH * 2) anim.out.push({ kind: "arrive", id: p.id, atUs: f.kernelTsUs });
      } else {
        let early = anim.early.get(key);
        if (!early) anim.early.set(key, (early = []));
        early.push({ key: fk, atUs: f.kernelTsUs });
        if (early.length > 2000) early.shift();
      }
    }
    this.batchSoon();
  }

  /** Frames that should have arrived long ago: lost (loss, queue drop, a cut link). */
  private sweepFlights(): void {
    const anim = this.anim;
    if (!anim || this.closed) return;
    const now = this.topo.kernel.clock.now();
    for (const q of anim.early.values()) while (q.length && q[0]!.atUs + 1_000_000 < now) q.shift();
    for (const q of anim.pending.values()) {
      while (q.length && q[0].etaUs + 200_000 < now) {
        const p = q.shift()!;
        anim.out.push({ kind: "lost", id: p.id, atUs: now });
      }
    }
    this.batchSoon();
  }

  private batchSoon(): void {
    if (this.batchTimer || this.closed) return;
    this.batchTimer = setTimeout(() => this.flush(), BATCH_MS);
  }

  private flush(): void {
    if (this.batchTimer) clearTimeout(this.batchTimer);
    this.batchTimer = undefined;
    if (this.closed) return;
    for (const c of this.captures.values()) {
      if (c.pending.length) this.emit({ event: "rows", capture: c.id, rows: c.pending.splice(0) });
    }
    if (this.anim && this.anim.out.length) this.emit({ event: "flights", flights: this.anim.out.splice(0) });
  }

  // ---- steps

  async runSteps(): Promise<{ results: StepResult[]; table: string; passed: string }> {
    if (this.stepsRunning) throw new Error("the steps are running already");
    this.stepsRunning = true;
    try {
      const results = await this.topo.runSteps({
        onEvent: (e) => this.emit({ event: "step", step: e }),
        exec: (node, cmd) => this.commands.exec(this.topo.node(node), cmd),
      });
      return { results, table: resultTable(results), passed: passedLine(results) };
    } finally {
      this.stepsRunning = false;
    }
  }

  // ---- clock events, throttled

  private clockChanged(s: ClockState): void {
    if (this.closed) return;
    const now = performance.now();
    if (now - this.clockSent >= CLOCK_MS) {
      this.clockSent = now;
      this.emit({ event: "clock", state: s });
      return;
    }
    if (!this.clockTimer) {
      this.clockTimer = setTimeout(() => {
        this.clockTimer = undefined;
        if (this.closed) return;
        this.clockSent = performance.now();
        this.emit({ event: "clock", state: this.time.state() });
      }, CLOCK_MS);
    }
  }

  /** Tear down: time stops being paced, captures end, then the topology goes (with its accounting). */
  async close(): Promise<TeardownReport> {
    this.flush();
    this.closed = true;
    if (this.statsTimer) clearInterval(this.statsTimer);
    if (this.clockTimer) clearTimeout(this.clockTimer);
    if (this.batchTimer) clearTimeout(this.batchTimer);
    await this.time.close();
    if (this.anim) for (const c of this.anim.caps) await c.stop().catch(() => {});
    this.anim = undefined;
    for (const c of this.captures.values()) await c.live.stop().catch(() => {});
    await this.commands.close().catch(() => {});
    return this.topo.down();
  }
}
