// The topology as a graph (Cytoscape.js): nodes by role, links with their conditions, a cut
// link dashed red; selection, link drawing, cut by a click; and frames animated along the
// links on a canvas above it, on the lab's clock (slowed down, a frame crossing a 20 ms
// link takes 2 s at 0.01x; frames too quick to see are shown for a moment anyway).

import cytoscape, { type Core, type EdgeSingular, type NodeSingular } from "cytoscape";
import type { ClockState, Flight, LabInfo, LinkInfo } from "../../host/web/protocol.js";
import { formatConditions } from "./units.js";

export interface GraphEvents {
  select(sel: { kind: "node"; name: string } | { kind: "link"; index: number } | null): void;
  openConsole(node: string): void;
  linkNodes(a: string, b: string): void;
  toggleCut(index: number): void;
  deleteSelection(): void;
}

const ROLE_STYLE: Record<string, { shape: string; color: string }> = {
  host: { shape: "round-rectangle", color: "#2f6f9f" },
  router: { shape: "ellipse", color: "#b5651d" },
  bridge: { shape: "barrel", color: "#6b4fa0" },
};

const PROTO_COLOR: Record<string, string> = { ICMP: "#ffb454", ICMPv6: "#ffd166", TCP: "#5cc8ff", UDP: "#6ee7a0", ARP: "#d29bff" };

function linkLabel(l: LinkInfo): string {
  if (l.cut) return "✂ cut";
  const a = formatConditions(l.conditions["a->b"]).replace(/(delay|rate|loss|jitter|duplicate|reorder|limit|queueBytes) /g, "");
  const b = formatConditions(l.conditions["b->a"]).replace(/(delay|rate|loss|jitter|duplicate|reorder|limit|queueBytes) /g, "");
  if (a === b) return a;
  return [a && `→ ${a}`, b && `← ${b}`].filter(Boolean).join("\n");
}

interface Dot {
  id: number;
  link: number;
  dir: "a->b" | "b->a";
  departUs: number;
  arriveUs: number;
  arrived: boolean;
  lostAt?: number;
  proto: string;
  seenWall: number;
}

/** Frames quicker than this (wall ms at the current speed) are drawn over this long instead. */
const MIN_VISIBLE_MS = 350;
const MAX_DOTS = 400;

export class Graph {
  readonly cy: Core;
  private positions = new Map<string, { x: number; y: number }>();
  private info: LabInfo | null = null;
  private linkFrom: string | null = null;
  mode: "select" | "link" | "cut" = "select";
  private dots = new Map<number, Dot>();
  /** Fit the graph when the view changes size, until the user pans or zooms. */
  private autoFit = true;
  private clock: ClockState | null = null;
  private clockWall = 0;
  private raf = 0;
  private readonly ctx: CanvasRenderingContext2D;

  constructor(private readonly el: HTMLElement, private readonly canvas: HTMLCanvasElement, private readonly ev: GraphEvents) {
    this.cy = cytoscape({
      container: el,
      minZoom: 0.2,
      maxZoom: 3,
      boxSelectionEnabled: false,
      style: [
        {
          selector: "node",
          style: {
            label: "data(label)",
            "text-wrap": "wrap",
            "text-valign": "bottom",
            "text-margin-y": 4,
            color: "#e8edf2",
            "font-size": 12,
            "text-outline-color": "#11161c",
            "text-outline-width": 2,
            width: 44,
            height: 34,
            shape: "data(shape)" as never,
            "background-color": "data(color)",
            "border-width": 2,
            "border-color": "#0b0f14",
          },
        },
        { selector: "node.generated", style: { "border-style": "dotted", "border-color": "#8796a8" } },
        { selector: "node:selected", style: { "border-color": "#ffd166", "border-width": 3 } },
        { selector: "node.linkFrom", style: { "border-color": "#5cc8ff", "border-width": 4 } },
        {
          selector: "edge",
          style: {
            width: 3,
            "line-color": "#64748b",
            "curve-style": "bezier",
            label: "data(label)",
            "text-wrap": "wrap",
            "font-size": 10,
            color: "#cbd5e1",
            "text-background-color": "#11161c",
            "text-background-opacity": 0.85,
            "text-background-padding": "2px",
            "text-rotation": "autorotate",
            "text-margin-y": -8,
          },
        },
        { selector: "edge:selected", style: { "line-color": "#ffd166", width: 4 } },
        { selector: "edge.cut", style: { "line-color": "#ff8585", "line-style": "dashed", color: "#ff8585" } },
      ],
    });
    this.cy.on("tap", "node", (e) => this.tapNode(e.target as NodeSingular));
    this.cy.on("tap", "edge", (e) => this.tapEdge(e.target as EdgeSingular));
    this.cy.on("tap", (e) => {
      if (e.target === this.cy) {
        this.setLinkFrom(null);
        this.ev.select(null);
      }
    });
    // Two quick taps on two nodes while drawing a link are not a double tap.
    this.cy.on("dbltap", "node", (e) => {
      if (this.mode === "select") this.ev.openConsole((e.target as NodeSingular).id());
    });
    this.cy.on("dbltap", "edge", (e) => {
      if (this.mode === "select") this.ev.toggleCut(Number((e.target as EdgeSingular).data("index")));
    });
    this.cy.on("position", "node", (e) => {
      const n = e.target as NodeSingular;
      this.positions.set(n.id(), { ...n.position() });
    });
    el.addEventListener("keydown", (e) => this.key(e));
    this.cy.on("viewport", () => {
      if (!this.fitting) this.autoFit = false;
    });
    this.ctx = canvas.getContext("2d")!;
    new ResizeObserver(() => this.resize()).observe(el);
    this.resize();
  }

  private tapNode(n: NodeSingular): void {
    if (this.mode === "link") {
      if (!this.linkFrom) {
        this.setLinkFrom(n.id());
        return;
      }
      if (this.linkFrom !== n.id()) {
        const a = this.linkFrom;
        this.setLinkFrom(null);
        this.ev.linkNodes(a, n.id());
      }
      return;
    }
    this.ev.select({ kind: "node", name: n.id() });
  }

  private tapEdge(e: EdgeSingular): void {
    const index = Number(e.data("index"));
    if (this.mode === "cut") {
      this.ev.toggleCut(index);
      return;
    }
    this.ev.select({ kind: "link", index });
  }

  setLinkFrom(name: string | null): void {
    this.cy.nodes().removeClass("linkFrom");
    this.linkFrom = name;
    if (name) this.cy.getElementById(name).addClass("linkFrom");
  }

  /** Keyboard: arrows move the selection between nodes, Enter opens a console, Delete deletes. */
  private key(e: KeyboardEvent): void {
    const nodes = this.cy.nodes().toArray().sort((a, b) => a.id().localeCompare(b.id()));
    if (nodes.length === 0) return;
    const sel = this.cy.$("node:selected");
    const i = sel.length ? nodes.findIndex((n) => n.id() === sel[0]!.id()) : -1;
    if (e.key === "ArrowRight" || e.key === "ArrowDown" || e.key === "ArrowLeft" || e.key === "ArrowUp") {
      const step = e.key === "ArrowRight" || e.key === "ArrowDown" ? 1 : -1;
      const next = nodes[(i + step + nodes.length) % nodes.length] as NodeSingular;
      this.ev.select({ kind: "node", name: next.id() });
      e.preventDefault();
    } else if (e.key === "Enter" && i >= 0) {
      this.ev.openConsole((nodes[i] as NodeSingular).id());
      e.preventDefault();
    } else if (e.key === "Delete" || e.key === "Backspace") {
      this.ev.deleteSelection();
      e.preventDefault();
    } else if (e.key === "Escape") {
      this.setLinkFrom(null);
      this.ev.select(null);
    }
  }

  /** Draw the lab: nodes keep their places across reloads; new ones go near a neighbour. */
  show(info: LabInfo): void {
    const first = this.info === null || this.positions.size === 0;
    this.info = info;
    this.dots.clear();
    const sel = this.cy.$(":selected").map((x) => x.id());
    const els: cytoscape.ElementDefinition[] = [];
    for (const n of info.nodes) {
      const st = ROLE_STYLE[n.role] ?? ROLE_STYLE.host!;
      const addrs = n.interfaces.flatMap((i) => i.addresses.filter((a) => !a.includes(":")).map((a) => a.split("/")[0]));
      els.push({
        group: "nodes",
        data: { id: n.name, label: `${n.name}${addrs.length ? `\n${addrs.slice(0, 2).join(" ")}${addrs.length > 2 ? " …" : ""}` : ""}`, shape: st.shape, color: st.color, role: n.role },
        classes: n.generated ? "generated" : "",
        position: this.positions.get(n.name),
      });
    }
    for (const l of info.links) {
      els.push({ group: "edges", data: { id: `l${l.index}`, index: l.index, source: l.a.split(":")[0], target: l.b.split(":")[0], label: linkLabel(l) }, classes: l.cut ? "cut" : "" });
    }
    this.cy.batch(() => {
      this.cy.elements().remove();
      this.cy.add(els);
    });
    const unplaced = this.cy.nodes().filter((n) => !this.positions.has(n.id()));
    if (first || unplaced.length === this.cy.nodes().length) {
      this.cy.resize();
      if (info.nodes.length > 80) this.cy.layout({ name: "grid", animate: false, fit: false, padding: 30 }).run();
      else this.layered();
      for (const n of this.cy.nodes()) this.positions.set(n.id(), { ...n.position() });
      this.fitting = true;
      this.fit();
      this.fitting = false;
      this.autoFit = true;
    } else {
      for (const n of unplaced) {
        const nb = n.neighborhood("node").filter((x) => this.positions.has(x.id()));
        const ext = this.cy.extent();
        const p = nb.length ? { ...nb[0]!.position() } : { x: (ext.x1 + ext.x2) / 2, y: (ext.y1 + ext.y2) / 2 };
        n.position({ x: p.x + 70 + Math.random() * 30, y: p.y + 50 + Math.random() * 30 });
      }
    }
    for (const n of this.cy.nodes()) this.positions.set(n.id(), { ...n.position() });
    for (const id of sel) this.cy.getElementById(id).select();
  }

  /**
   * Layers from the best connected node of each component (a bridge, a core router): one
   * column per hop, each column ordered by where its neighbours in the last one are.
   */
  private layered(): void {
    let top = 0;
    for (const comp of this.cy.elements().components()) {
      const nodes = comp.nodes().toArray().sort((a, b) => b.degree(false) - a.degree(false) || a.id().localeCompare(b.id()));
      const depth = new Map<string, number>([[nodes[0]!.id(), 0]]);
      const queue: NodeSingular[] = [nodes[0]!];
      while (queue.length) {
        const n = queue.shift()!;
        for (const m of n.neighborhood("node").toArray().sort((a, b) => a.id().localeCompare(b.id()))) {
          if (depth.has(m.id())) continue;
          depth.set(m.id(), depth.get(n.id())! + 1);
          queue.push(m as NodeSingular);
        }
      }
      const cols: NodeSingular[][] = [];
      for (const n of nodes) (cols[depth.get(n.id())!] ??= []).push(n);
      const y = new Map<string, number>();
      const tallest = Math.max(...cols.map((c) => c.length));
      cols.forEach((col, d) => {
        if (d > 0) {
          const at = (n: NodeSingular) => {
            const ys = n.neighborhood("node").toArray().filter((m) => depth.get(m.id()) === d - 1).map((m) => y.get(m.id()) ?? 0);
            return ys.length ? ys.reduce((a, b) => a + b, 0) / ys.length : 0;
          };
          col.sort((a, b) => at(a) - at(b) || a.id().localeCompare(b.id()));
        }
        col.forEach((n, i) => {
          const py = top + (i - (col.length - 1) / 2) * 110 + ((tallest - 1) / 2) * 110;
          y.set(n.id(), py);
          n.position({ x: d * 200, y: py });
        });
      });
      top += tallest * 110 + 60;
    }
  }

  updateLink(l: LinkInfo): void {
    if (!this.info) return;
    this.info.links[l.index] = l;
    const e = this.cy.getElementById(`l${l.index}`);
    e.data("label", linkLabel(l));
    e.toggleClass("cut", l.cut);
  }

  select(sel: { kind: "node"; name: string } | { kind: "link"; index: number } | null): void {
    this.cy.$(":selected").unselect();
    if (sel?.kind === "node") this.cy.getElementById(sel.name).select();
    if (sel?.kind === "link") this.cy.getElementById(`l${sel.index}`).select();
  }

  fit(): void {
    this.cy.resize();
    this.cy.fit(undefined, 40);
    if (this.cy.zoom() > 1.6) {
      this.cy.zoom(1.6);
      this.cy.center();
    }
  }

  // ---- animation

  setClock(s: ClockState): void {
    this.clock = s;
    this.clockWall = performance.now();
  }

  /** Kernel time to draw now: the last clock state, moved on at its speed (never far ahead of it). */
  private displayUs(): number {
    const c = this.clock;
    if (!c) return 0;
    if (!c.playing || !Number.isFinite(c.speed)) return c.nowUs;
    const ahead = Math.min(performance.now() - this.clockWall, 120) * 1000 * c.speed;
    return c.nowUs + ahead;
  }

  flights(fs: Flight[]): void {
    const now = performance.now();
    for (const f of fs) {
      if (f.kind === "depart") {
        this.dots.set(f.id, { id: f.id, link: f.link, dir: f.dir, departUs: f.atUs, arriveUs: Math.max(f.etaUs, f.atUs), arrived: false, proto: f.proto, seenWall: now });
      } else {
        const d = this.dots.get(f.id);
        if (!d) continue;
        if (f.kind === "arrive") {
          d.arrived = true;
          d.arriveUs = f.atUs;
        } else d.lostAt = now;
      }
    }
    while (this.dots.size > MAX_DOTS) this.dots.delete(this.dots.keys().next().value!);
    if (!this.raf && this.dots.size) this.raf = requestAnimationFrame(() => this.draw());
  }

  clearFlights(): void {
    this.dots.clear();
    this.ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
  }

  private fitting = false;

  private resize(): void {
    if (this.autoFit && this.cy) {
      this.fitting = true;
      this.fit();
      this.fitting = false;
    }
    const r = this.el.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    this.canvas.width = Math.max(1, Math.round(r.width * dpr));
    this.canvas.height = Math.max(1, Math.round(r.height * dpr));
    this.canvas.style.width = `${r.width}px`;
    this.canvas.style.height = `${r.height}px`;
    this.ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  }

  private draw(): void {
    this.raf = 0;
    const ctx = this.ctx;
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    const wall = performance.now();
    const display = this.displayUs();
    const speed = this.clock && Number.isFinite(this.clock.speed) && this.clock.playing ? this.clock.speed : Infinity;
    const zoom = this.cy.zoom();
    const pan = this.cy.pan();
    for (const d of this.dots.values()) {
      const e = this.cy.getElementById(`l${d.link}`) as EdgeSingular;
      if (e.empty()) {
        this.dots.delete(d.id);
        continue;
      }
      let s = e.sourceEndpoint();
      let t = e.targetEndpoint();
      if (d.dir === "b->a") [s, t] = [t, s];
      const durUs = Math.max(0, d.arriveUs - d.departUs);
      const wallMs = Number.isFinite(speed) ? durUs / 1000 / speed : 0;
      let p: number;
      if (wallMs < MIN_VISIBLE_MS) p = (wall - d.seenWall) / MIN_VISIBLE_MS;
      else p = (display - d.departUs) / durUs;
      if (d.lostAt !== undefined) {
        const age = wall - d.lostAt;
        if (age > 700) {
          this.dots.delete(d.id);
          continue;
        }
        const q = Math.min(Math.max(p, 0.5), 1);
        const x = (s.x + (t.x - s.x) * q) * zoom + pan.x;
        const y = (s.y + (t.y - s.y) * q) * zoom + pan.y;
        ctx.globalAlpha = 1 - age / 700;
        ctx.strokeStyle = "#ff5c5c";
        ctx.lineWidth = 2.5;
        ctx.beginPath();
        ctx.moveTo(x - 5, y - 5);
        ctx.lineTo(x + 5, y + 5);
        ctx.moveTo(x + 5, y - 5);
        ctx.lineTo(x - 5, y + 5);
        ctx.stroke();
        ctx.globalAlpha = 1;
        continue;
      }
      if (p < 0) continue;
      if (p >= 1) {
        if (d.arrived || wall - d.seenWall > 30_000) {
          this.dots.delete(d.id);
          continue;
        }
        p = 1;
      }
      const x = (s.x + (t.x - s.x) * p) * zoom + pan.x;
      const y = (s.y + (t.y - s.y) * p) * zoom + pan.y;
      ctx.fillStyle = PROTO_COLOR[d.proto] ?? "#cbd5e1";
      ctx.beginPath();
      ctx.arc(x, y, 4.5, 0, Math.PI * 2);
      ctx.fill();
      ctx.strokeStyle = "#0b0f14";
      ctx.lineWidth = 1;
      ctx.stroke();
    }
    if (this.dots.size) this.raf = requestAnimationFrame(() => this.draw());
  }
}
