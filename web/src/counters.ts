// Live counters per interface (from the worker's stats events, four a second) and a
// throughput chart per link (uPlot): bits per second of kernel time each way, so a slowed
// or paused clock shows the rates the lab itself sees.

import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { IfaceStats, LabInfo, Stats } from "../../host/web/protocol.js";
import { $in, fmtBytes, fmtRate, h } from "./util.js";

const POINTS = 600;

interface Series {
  t: number[];
  ab: number[];
  ba: number[];
}

export class Counters {
  private prev: Stats | null = null;
  private rates = new Map<string, { rx: number; tx: number }>();
  private series = new Map<number, Series>();
  private info: LabInfo | null = null;
  private plot: uPlot | null = null;
  private readonly table = $in<HTMLTableElement>("counters");
  private readonly pick = $in<HTMLSelectElement>("chartLink");
  private readonly box = $in<HTMLElement>("chart");
  visible = false;

  constructor() {
    this.pick.addEventListener("change", () => this.redrawChart());
    new ResizeObserver(() => this.resize()).observe(this.box);
  }

  setLab(info: LabInfo | null): void {
    this.info = info;
    this.prev = null;
    this.rates.clear();
    this.series.clear();
    const prev = this.pick.value;
    this.pick.replaceChildren(...(info?.links ?? []).map((l) => h("option", { value: String(l.index) }, `${l.a} – ${l.b}`)));
    if ([...this.pick.options].some((o) => o.value === prev)) this.pick.value = prev;
    this.table.replaceChildren();
    this.redrawChart();
  }

  chooseLink(index: number): void {
    if ([...this.pick.options].some((o) => o.value === String(index))) {
      this.pick.value = String(index);
      this.redrawChart();
    }
  }

  stats(s: Stats): void {
    const p = this.prev;
    const dt = p ? (s.nowUs - p.nowUs) / 1e6 : 0;
    if (p && dt > 0) {
      const before = new Map(p.ifaces.map((i) => [`${i.node}:${i.kname}`, i]));
      for (const i of s.ifaces) {
        const b = before.get(`${i.node}:${i.kname}`);
        if (b) this.rates.set(`${i.node}:${i.kname}`, { rx: ((i.ibytes - b.ibytes) * 8) / dt, tx: ((i.obytes - b.obytes) * 8) / dt });
      }
      if (this.info) {
        const byName = new Map(s.ifaces.map((i) => [`${i.node}:${i.name}`, i]));
        const old = new Map(p.ifaces.map((i) => [`${i.node}:${i.name}`, i]));
        for (const l of this.info.links) {
          const a = byName.get(l.a);
          const b = byName.get(l.b);
          const a0 = old.get(l.a);
          const b0 = old.get(l.b);
          if (!a || !b || !a0 || !b0) continue;
          let ser = this.series.get(l.index);
          if (!ser) this.series.set(l.index, (ser = { t: [], ab: [], ba: [] }));
          ser.t.push(s.nowUs / 1e6);
          ser.ab.push(((a.obytes - a0.obytes) * 8) / dt);
          ser.ba.push(((b.obytes - b0.obytes) * 8) / dt);
          if (ser.t.length > POINTS) for (const k of ["t", "ab", "ba"] as const) ser[k].splice(0, ser[k].length - POINTS);
        }
      }
    }
    if (!p || dt > 0) this.prev = s;
    if (this.visible) {
      this.drawTable(s.ifaces);
      this.updateChart();
    }
  }

  show(): void {
    this.visible = true;
    if (this.prev) this.drawTable(this.prev.ifaces);
    this.redrawChart();
  }

  private drawTable(ifaces: IfaceStats[]): void {
    const head = h("tr", {}, ...["Node", "Interface", "Kernel", "In pkts", "In bytes", "Out pkts", "Out bytes", "Errors", "Drops", "In rate", "Out rate"].map((x) => h("th", { scope: "col" }, x)));
    const rows = ifaces.map((i) => {
      const r = this.rates.get(`${i.node}:${i.kname}`);
      return h("tr", {},
        h("td", {}, i.node), h("td", {}, i.name), h("td", {}, i.kname),
        h("td", { class: "num" }, String(i.ipackets)), h("td", { class: "num" }, fmtBytes(i.ibytes)),
        h("td", { class: "num" }, String(i.opackets)), h("td", { class: "num" }, fmtBytes(i.obytes)),
        h("td", { class: "num" }, String(i.ierrors + i.oerrors)), h("td", { class: "num" }, String(i.iqdrops + i.oqdrops)),
        h("td", { class: "num" }, r ? fmtRate(r.rx) : "–"), h("td", { class: "num" }, r ? fmtRate(r.tx) : "–"),
      );
    });
    this.table.replaceChildren(h("thead", {}, head), h("tbody", {}, ...rows));
  }

  private data(): uPlot.AlignedData {
    const s = this.series.get(Number(this.pick.value));
    return s ? [s.t, s.ab, s.ba] : [[], [], []];
  }

  private redrawChart(): void {
    this.plot?.destroy();
    this.plot = null;
    if (!this.visible || !this.info || this.pick.value === "") return;
    const l = this.info.links[Number(this.pick.value)];
    if (!l) return;
    const r = this.box.getBoundingClientRect();
    const axis = { stroke: "#a9b6c4", grid: { stroke: "#263241" }, ticks: { stroke: "#334155" } };
    this.plot = new uPlot(
      {
        width: Math.max(200, r.width - 8),
        height: Math.max(120, r.height - 40),
        scales: { x: { time: false } },
        axes: [
          { ...axis, label: "kernel time (s)", labelSize: 14 },
          { ...axis, values: (_u, ticks) => ticks.map((v) => fmtRate(v).replace(/\/s$/, "")), size: 70 },
        ],
        series: [
          { label: "t (s)", value: (_u, v) => (v == null ? "–" : v.toFixed(3)) },
          { label: `${l.a} → ${l.b}`, stroke: "#5cc8ff", width: 2, value: (_u, v) => (v == null ? "–" : fmtRate(v)) },
          { label: `${l.b} → ${l.a}`, stroke: "#ffb454", width: 2, value: (_u, v) => (v == null ? "–" : fmtRate(v)) },
        ],
      },
      this.data(),
      this.box,
    );
  }

  private updateChart(): void {
    if (this.plot) this.plot.setData(this.data());
    else this.redrawChart();
  }

  private resize(): void {
    if (!this.plot) return;
    const r = this.box.getBoundingClientRect();
    this.plot.setSize({ width: Math.max(200, r.width - 8), height: Math.max(120, r.height - 40) });
  }
}
