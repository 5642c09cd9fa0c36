// The packet list: capture one interface (a link's end), rows as frames arrive (time,
// direction, source, destination, protocol, length, info), a filter, the selected packet
// decoded layer by layer with its bytes, and the capture as a pcapng file.

import type { LabClient } from "../../host/web/client.js";
import type { LabInfo, PacketRow } from "../../host/web/protocol.js";
import { decodeFrame } from "../../host/web/decode.js";
import { compileFilter, FilterError, type RowTest } from "../../host/web/filter.js";
import { $in, download, h, toast } from "./util.js";

/** Rows kept per capture in the page (older ones are dropped from the list, not from the pcapng). */
const KEEP = 20000;
/** Rows drawn at most (the newest that pass the filter). */
const SHOW = 3000;

export class Packets {
  private capture: number | null = null;
  private rows: PacketRow[] = [];
  private firstUs: number | null = null;
  private test: RowTest = () => true;
  private selected: PacketRow | null = null;
  private shown = 0;
  private readonly tbody: HTMLTableSectionElement;
  private readonly iface = $in<HTMLSelectElement>("capIface");
  private readonly start = $in<HTMLButtonElement>("capStart");
  private readonly stop = $in<HTMLButtonElement>("capStop");
  private readonly dl = $in<HTMLButtonElement>("capDownload");
  private readonly filter = $in<HTMLInputElement>("capFilter");
  private readonly count = $in<HTMLElement>("capCount");
  private readonly detail = $in<HTMLElement>("packetDetail");
  private pendingDraw = false;

  constructor(private readonly client: LabClient) {
    this.tbody = ($in<HTMLTableElement>("packets")).tBodies[0]!;
    client.on("rows", (e) => {
      if (e.capture !== this.capture) return;
      if (this.firstUs === null && e.rows.length) this.firstUs = e.rows[0]!.tsUs;
      this.rows.push(...e.rows);
      if (this.rows.length > KEEP) this.rows.splice(0, this.rows.length - KEEP);
      this.drawSoon();
    });
    client.on("captureEnded", (e) => {
      if (e.capture === this.capture) this.setRunning(false);
    });
    this.start.addEventListener("click", () => void this.begin());
    this.stop.addEventListener("click", () => void this.end());
    this.dl.addEventListener("click", () => void this.save());
    this.filter.addEventListener("input", () => this.setFilter());
    this.tbody.addEventListener("click", (e) => {
      const tr = (e.target as HTMLElement).closest("tr");
      if (tr) this.select(Number(tr.dataset.i));
    });
    $in<HTMLElement>("packetList").addEventListener("keydown", (e) => this.key(e));
  }

  /** The interfaces to choose from: every node's, link ends first ("ra:wan  (ra:wan - rb:wan)"). */
  setLab(info: LabInfo | null, how: { keepCapture?: boolean } = {}): void {
    const prev = this.iface.value;
    const opts: HTMLOptionElement[] = [];
    if (info) {
      for (const l of info.links) opts.push(h("option", { value: l.a }, `${l.a}  (link to ${l.b})`), h("option", { value: l.b }, `${l.b}  (link to ${l.a})`));
      for (const n of info.nodes) for (const i of n.interfaces) if (i.kind !== "ether") opts.push(h("option", { value: `${n.name}:${i.name}` }, `${n.name}:${i.name}  (${i.kind})`));
      for (const n of info.nodes) opts.push(h("option", { value: `${n.name}:lo0` }, `${n.name}:lo0`));
    }
    this.iface.replaceChildren(...opts);
    if ([...this.iface.options].some((o) => o.value === prev)) this.iface.value = prev;
    // A reload ends the capture the worker had (a lab that grew keeps it).
    if (how.keepCapture) return;
    this.capture = null;
    this.setRunning(false);
    this.dl.disabled = true;
  }

  /** Pick the interface (e.g. the selected link's end) before starting. */
  choose(endpoint: string): void {
    if ([...this.iface.options].some((o) => o.value === endpoint)) this.iface.value = endpoint;
  }

  private setRunning(on: boolean): void {
    this.start.disabled = on;
    this.stop.disabled = !on;
    this.iface.disabled = on;
  }

  async begin(endpoint = this.iface.value): Promise<void> {
    if (!endpoint) return;
    this.choose(endpoint);
    this.rows = [];
    this.firstUs = null;
    this.selected = null;
    this.detail.replaceChildren();
    try {
      const r = await this.client.request("captureStart", { endpoint });
      this.capture = r.capture;
      this.setRunning(true);
      this.dl.disabled = false;
      this.draw();
    } catch (e) {
      toast(`capture ${endpoint}: ${(e as Error).message}`);
    }
  }

  async end(): Promise<void> {
    if (this.capture === null) return;
    try {
      await this.client.request("captureStop", { capture: this.capture });
    } catch (e) {
      toast((e as Error).message);
    }
    this.setRunning(false);
  }

  async save(): Promise<void> {
    if (this.capture === null) return;
    try {
      const { bytes, name } = await this.client.request("capturePcapng", { capture: this.capture });
      download(name, bytes as BlobPart, "application/x-pcapng");
    } catch (e) {
      toast((e as Error).message);
    }
  }

  private setFilter(): void {
    try {
      this.test = compileFilter(this.filter.value);
      this.filter.classList.remove("bad");
      this.filter.title = "";
    } catch (e) {
      if (!(e instanceof FilterError)) throw e;
      this.filter.classList.add("bad");
      this.filter.title = e.message;
      return;
    }
    this.draw();
  }

  private drawSoon(): void {
    if (this.pendingDraw) return;
    this.pendingDraw = true;
    requestAnimationFrame(() => {
      this.pendingDraw = false;
      this.draw();
    });
  }

  private rowEl(r: PacketRow, i: number): HTMLTableRowElement {
    const t = this.firstUs === null ? 0 : (r.tsUs - this.firstUs) / 1e6;
    const tr = h("tr", { class: `p-${r.summary.proto}`, "data-i": i, "aria-selected": r === this.selected ? "true" : "false" },
      h("td", { class: "num" }, String(r.no)),
      h("td", { class: "num" }, t.toFixed(6)),
      h("td", {}, r.dir === "out" ? "→ out" : "← in"),
      h("td", {}, r.summary.src),
      h("td", {}, r.summary.dst),
      h("td", {}, r.summary.proto),
      h("td", { class: "num" }, String(r.len)),
      h("td", {}, r.summary.info),
    );
    return tr;
  }

  private draw(): void {
    const list = $in<HTMLElement>("packetList");
    const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 4;
    const pass: number[] = [];
    for (let i = this.rows.length - 1; i >= 0 && pass.length < SHOW; i--) if (this.test(this.rows[i]!.summary)) pass.push(i);
    pass.reverse();
    this.tbody.replaceChildren(...pass.map((i) => this.rowEl(this.rows[i]!, i)));
    this.shown = pass.length;
    this.count.textContent = `${this.shown} of ${this.rows.length} shown`;
    if (atBottom) list.scrollTop = list.scrollHeight;
  }

  private key(e: KeyboardEvent): void {
    if (e.key !== "ArrowDown" && e.key !== "ArrowUp") return;
    const trs = [...this.tbody.rows];
    if (trs.length === 0) return;
    const cur = trs.findIndex((t) => t.getAttribute("aria-selected") === "true");
    const next = trs[Math.min(Math.max(cur + (e.key === "ArrowDown" ? 1 : -1), 0), trs.length - 1)]!;
    this.select(Number(next.dataset.i));
    next.scrollIntoView({ block: "nearest" });
    e.preventDefault();
  }

  private select(i: number): void {
    const r = this.rows[i];
    if (!r) return;
    this.selected = r;
    for (const tr of this.tbody.rows) tr.setAttribute("aria-selected", String(Number(tr.dataset.i) === i));
    const d = decodeFrame(r.data, r.linktype, r.len);
    this.detail.replaceChildren(
      ...d.layers.map((l, k) =>
        h("details", { open: k > 0, "data-layer": l.name },
          h("summary", {}, l.title),
          h("dl", {}, ...l.fields.flatMap((f) => [h("dt", {}, f.name), h("dd", {}, f.value)])),
        ),
      ),
      h("pre", { "aria-label": "Bytes" }, hexdump(r.data)),
    );
  }
}

function hexdump(b: Uint8Array): string {
  const lines: string[] = [];
  for (let i = 0; i < b.length; i += 16) {
    const row = b.subarray(i, i + 16);
    const hex = [...row].map((x) => x.toString(16).padStart(2, "0")).join(" ");
    const asc = [...row].map((x) => (x >= 32 && x < 127 ? String.fromCharCode(x) : ".")).join("");
    lines.push(`${i.toString(16).padStart(4, "0")}  ${hex.padEnd(47)}  ${asc}`);
  }
  return lines.join("\n");
}
