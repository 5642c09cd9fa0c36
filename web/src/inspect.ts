// The inspector: the selected node (role, forwarding, interface addresses, routes: applied
// by editing the YAML and bringing the lab up again) or link (conditions per direction,
// applied live while traffic runs and written into the YAML; cut and restore; its counters).

import { parseRouteText, routeLines, type LabInfo, type LinkConditions, type LinkInfo, type NodeInfo, type Stats } from "../../host/web/protocol.js";
import { parseDuration, parseProbability, parseRate, parseIfAddress, parseWebSocketUrl } from "../../host/lib/units.js";
import { formatDuration, formatPct, formatRate } from "../../host/lib/units.js";
import type { Role, RouteEdit } from "./model.js";
import { h } from "./util.js";

export interface InspectActions {
  applyNode(name: string, e: { role: Role; forwarding: boolean; interfaces: { name: string; addresses: string[]; url?: string }[]; routes: RouteEdit[] }): void;
  /** A websocket interface joining a wavnet run --listen lab (checked here first). */
  addWebSocket(node: string, e: { name: string; url: string; addresses: string[] }): void;
  removeInterface(node: string, name: string): void;
  deleteNode(name: string): void;
  openConsole(name: string): void;
  applyConditions(index: number, forward: LinkConditions, reverse: LinkConditions): void;
  cut(index: number, cut: boolean): void;
  deleteLink(index: number): void;
  capture(endpoint: string): void;
  chart(index: number): void;
  gotoLine(line: number): void;
}

const FIELDS: { key: keyof LinkConditions; label: string; hint: string; fmt: (v: number) => string; parse: (s: string) => number }[] = [
  { key: "delayUs", label: "delay", hint: "20ms", fmt: (v) => (v ? formatDuration(v) : ""), parse: (s) => parseDuration(num(s)) },
  { key: "jitterUs", label: "jitter", hint: "1ms", fmt: (v) => (v ? formatDuration(v) : ""), parse: (s) => parseDuration(num(s)) },
  { key: "loss", label: "loss", hint: "1%", fmt: (v) => (v ? formatPct(v) : ""), parse: (s) => parseProbability(num(s)) },
  { key: "rateBps", label: "rate", hint: "50Mbit", fmt: (v) => (v ? formatRate(v) : ""), parse: (s) => parseRate(num(s)) },
  { key: "duplicate", label: "duplicate", hint: "0.5%", fmt: (v) => (v ? formatPct(v) : ""), parse: (s) => parseProbability(num(s)) },
  { key: "reorder", label: "reorder", hint: "1%", fmt: (v) => (v ? formatPct(v) : ""), parse: (s) => parseProbability(num(s)) },
  { key: "queueLimit", label: "queue", hint: "1000", fmt: (v) => (v && v !== 1000 ? String(v) : ""), parse: (s) => Number.parseInt(s, 10) },
];

/** Interface names as the topology check takes them. */
const IF_NAME = /^[A-Za-z][A-Za-z0-9_.]{0,14}$/;

/** Addresses typed in a field: "10.0.0.1/24, fd00::1/64". */
function addressList(s: string): string[] {
  return s.split(/[\s,]+/).filter((x) => x !== "");
}

/**
 * A new websocket interface as typed, checked as the topology check would (name, ws:// URL
 * without a fragment, addresses): the first problem as an Error naming the field.
 */
export function checkWebSocketForm(f: { name: string; url: string; addresses: string }, taken: string[]): { name: string; url: string; addresses: string[] } {
  const name = f.name.trim();
  if (!IF_NAME.test(name)) throw new Error(`name: ${JSON.stringify(name)} is not an interface name (1-15 of letters, digits, "_" and ".", starting with a letter)`);
  if (taken.includes(name)) throw new Error(`name: the node has an interface ${name} already`);
  const url = f.url.trim();
  try {
    parseWebSocketUrl(url);
  } catch (e) {
    throw new Error(`url: ${(e as Error).message}`);
  }
  const addresses = addressList(f.addresses);
  for (const a of addresses) {
    try {
      parseIfAddress(a);
    } catch (e) {
      throw new Error(`addresses: ${(e as Error).message}`);
    }
  }
  return { name, url, addresses };
}

function nodes(...xs: (Node | null)[]): Node[] {
  return xs.filter((x): x is Node => x !== null);
}

/** "20" means 20 (ms for a delay, a fraction for a probability), as in the file. */
function num(s: string): string | number {
  return /^\d+(\.\d+)?$/.test(s.trim()) ? Number(s.trim()) : s.trim();
}

export class Inspector {
  private sel: { kind: "node"; name: string } | { kind: "link"; index: number } | null = null;
  private info: LabInfo | null = null;
  private statsEl: HTMLElement | null = null;

  constructor(private readonly el: HTMLElement, private readonly act: InspectActions) {
    this.render();
  }

  set(info: LabInfo | null, sel: { kind: "node"; name: string } | { kind: "link"; index: number } | null): void {
    this.info = info;
    this.sel = sel;
    this.render();
  }

  /** A link changed (conditions, cut) without a reload. */
  link(l: LinkInfo): void {
    if (this.info) this.info.links[l.index] = l;
    if (this.sel?.kind === "link" && this.sel.index === l.index) this.render();
  }

  stats(s: Stats): void {
    if (!this.statsEl || this.sel?.kind !== "link") return;
    const l = s.links.find((x) => x.index === (this.sel as { index: number }).index);
    if (!l) return;
    const row = (d: "a->b" | "b->a") => {
      const x = l[d];
      return h("tr", {}, h("td", {}, d === "a->b" ? "→" : "←"), ...[x.sent, x.delivered, x.lost, x.queueDrops, x.duplicated, x.queued].map((v) => h("td", { class: "num" }, String(v))));
    };
    this.statsEl.replaceChildren(
      h("table", {},
        h("thead", {}, h("tr", {}, ...["", "sent", "delivered", "lost", "q drops", "dup", "on link"].map((x) => h("th", {}, x)))),
        h("tbody", {}, row("a->b"), row("b->a")),
      ),
    );
  }

  private render(): void {
    this.statsEl = null;
    const sel = this.sel;
    if (!this.info || !sel) {
      this.el.replaceChildren(
        h("h2", {}, "Nothing selected"),
        h("p", { class: "note" }, "Click a node or a link in the graph (or Tab to the graph and use the arrow keys). Double-click a node for its console, a link to cut or restore it."),
        h("p", { class: "note" }, "+ Node adds a node; + Link then two clicks joins two nodes (new interfaces, and addresses when “addresses” is ticked)."),
      );
      return;
    }
    if (sel.kind === "node") {
      const n = this.info.nodes.find((x) => x.name === sel.name);
      if (n) this.node(n);
      else this.el.replaceChildren(h("p", { class: "note" }, `no node ${sel.name} in the lab`));
    } else {
      const l = this.info.links[sel.index];
      if (l) this.linkForm(l);
      else this.el.replaceChildren(h("p", { class: "note" }, `no link #${sel.index}`));
    }
  }

  private node(n: NodeInfo): void {
    const role = h("select", { id: "insRole", "aria-label": "Role" }, ...["host", "router", "bridge"].map((r) => h("option", { value: r, selected: r === n.role }, r)));
    const fwd = h("input", { type: "checkbox", id: "insFwd", checked: n.forwarding });
    const addrInputs = n.interfaces.map((i) =>
      h("input", { type: "text", id: `insAddr-${i.name}`, value: i.addresses.join(", "), placeholder: i.kind === "ether" ? "10.0.0.1/24, fd00::1/64" : "", "aria-label": `Addresses of ${i.name}`, "data-if": i.name }),
    );
    const routes = h("div", {});
    const routeRow = (r: RouteEdit) => {
      const row = h("div", { class: "row route" },
        h("input", { type: "text", value: r.to, placeholder: "to: default, 10.9.0.0/16", "aria-label": "Route destination", "data-k": "to" }),
        h("input", { type: "text", value: r.via ?? "", placeholder: "via", "aria-label": "Gateway", "data-k": "via" }),
        h("input", { type: "text", value: r.dev ?? "", placeholder: "dev", "aria-label": "Interface", "data-k": "dev", size: 5 }),
        h("button", { type: "button", title: "Remove this route", "aria-label": "Remove this route", onclick: () => row.remove() }, "×"),
      );
      routes.append(row);
    };
    for (const t of routeLines(n.routes)) routeRow(parseRouteText(t));
    const urlInputs = new Map(n.interfaces.filter((i) => i.kind === "websocket" && i.url !== undefined).map((i) =>
      [i.name, h("input", { type: "text", id: `insUrl-${i.name}`, value: i.url ?? "", placeholder: "ws://127.0.0.1:8080/gw/ws0", "aria-label": `Peer URL of ${i.name}` })]));
    const err = h("p", { class: "note", role: "alert", id: "insNodeError" });
    const ro = n.generated;
    const apply = () => {
      err.textContent = "";
      for (const [name, i] of urlInputs) {
        try {
          parseWebSocketUrl(i.value.trim());
        } catch (e) {
          err.textContent = `${name}: url: ${(e as Error).message}`;
          i.focus();
          return;
        }
      }
      const rs: RouteEdit[] = [...routes.querySelectorAll<HTMLElement>(".route")].map((r) => {
        const get = (k: string) => (r.querySelector<HTMLInputElement>(`[data-k="${k}"]`)!.value.trim());
        return { to: get("to"), ...(get("via") ? { via: get("via") } : {}), ...(get("dev") ? { dev: get("dev") } : {}) };
      }).filter((r) => r.to !== "");
      this.act.applyNode(n.name, {
        role: role.value as Role,
        forwarding: fwd.checked,
        interfaces: addrInputs.map((i) => ({ name: i.dataset.if!, addresses: addressList(i.value), ...(urlInputs.has(i.dataset.if!) ? { url: urlInputs.get(i.dataset.if!)!.value.trim() } : {}) })),
        routes: rs,
      });
    };
    this.el.replaceChildren(...nodes(
      h("h2", {}, `Node ${n.name}`),
      ro ? h("p", { class: "note" }, "Made by a generator: change the generator in the YAML.") : null,
      h("div", { class: "row" }, h("label", { for: "insRole" }, "Role"), role),
      h("div", { class: "row" }, h("label", { for: "insFwd" }, "IP forwarding"), fwd),
      h("h3", {}, "Interfaces"),
      ...n.interfaces.flatMap((i, k) => nodes(
        h("div", { class: "row" }, h("label", { for: `insAddr-${i.name}`, title: `kernel: ${i.kname} ${i.mac}` }, `${i.name}${i.kind !== "ether" ? ` (${i.kind})` : ""}`), addrInputs[k]!),
        urlInputs.has(i.name) ? h("div", { class: "row" },
          h("label", { for: `insUrl-${i.name}`, title: i.connected ? "connected when the lab came up" : "not connected" }, `${i.connected ? "●" : "○"} peer`),
          urlInputs.get(i.name)!,
          h("button", { type: "button", id: `insRemove-${i.name}`, disabled: ro, title: `Remove ${i.name}`, "aria-label": `Remove ${i.name}`, onclick: () => this.act.removeInterface(n.name, i.name) }, "×"),
        ) : null,
        i.listen ? h("p", { class: "note" }, `${i.name} waits for a peer (listen: true): only wavnet run --listen serves that, not a page.`) : null,
      )),
      n.interfaces.length === 0 ? h("p", { class: "note" }, "No interfaces yet: + Link joins it to another node; a WebSocket interface joins a wavnet run --listen lab.") : null,
      h("h3", {}, "Routes"),
      routes,
      h("button", { type: "button", onclick: () => routeRow({ to: "" }) }, "+ route"),
      n.services.length ? h("p", { class: "note" }, `Services: ${n.services.map((s) => `${s.kind}/${s.port}`).join(", ")}`) : null,
      err,
      ro ? null : this.wsForm(n),
      h("div", { class: "actions" },
        h("button", { type: "button", id: "insApply", disabled: ro, onclick: apply, title: "Write into the YAML and bring the lab up again" }, "Apply"),
        h("button", { type: "button", onclick: () => this.act.openConsole(n.name) }, "Console"),
        h("button", { type: "button", onclick: () => this.act.gotoLine(n.line) }, "Show in YAML"),
        h("button", { type: "button", id: "insDelete", disabled: ro, onclick: () => this.act.deleteNode(n.name) }, "Delete node"),
      ),
    ));
  }

  /** + WebSocket interface: name, peer URL (a wavnet run --listen endpoint) and addresses. */
  private wsForm(n: NodeInfo): HTMLElement {
    const taken = n.interfaces.map((i) => i.name);
    let free = 0;
    while (taken.includes(`ws${free}`)) free++;
    const name = h("input", { type: "text", id: "insWsName", value: `ws${free}`, size: 5, "aria-label": "Name of the new WebSocket interface" });
    const url = h("input", { type: "text", id: "insWsUrl", placeholder: "ws://127.0.0.1:8080/gw/ws0", "aria-label": "URL of the peer (wavnet run FILE --listen PORT prints it)" });
    const addr = h("input", { type: "text", id: "insWsAddr", placeholder: "10.9.0.2/24", "aria-label": "Addresses of the new WebSocket interface" });
    const err = h("p", { class: "note", role: "alert", id: "insWsError" });
    const add = () => {
      try {
        err.textContent = "";
        this.act.addWebSocket(n.name, checkWebSocketForm({ name: name.value, url: url.value, addresses: addr.value }, taken));
      } catch (e) {
        err.textContent = (e as Error).message;
      }
    };
    return h("details", { id: "insWs" },
      h("summary", {}, "+ WebSocket interface (join a wavnet run --listen lab)"),
      h("div", { class: "row" }, h("label", { for: "insWsName" }, "name"), name),
      h("div", { class: "row" }, h("label", { for: "insWsUrl" }, "peer URL"), url),
      h("div", { class: "row" }, h("label", { for: "insWsAddr" }, "addresses"), addr),
      err,
      h("div", { class: "actions" }, h("button", { type: "button", id: "insWsAdd", onclick: add, title: "Write it into the YAML and bring the lab up again (real clock)" }, "Add interface")),
    );
  }

  private linkForm(l: LinkInfo): void {
    const inputs: Record<"a->b" | "b->a", Map<keyof LinkConditions, HTMLInputElement>> = { "a->b": new Map(), "b->a": new Map() };
    const grid = h("div", { class: "grid" }, h("span", {}), h("strong", {}, `${l.a} →`), h("strong", {}, `← ${l.b}`));
    for (const f of FIELDS) {
      grid.append(h("label", { for: `insC-ab-${f.label}` }, f.label));
      for (const d of ["a->b", "b->a"] as const) {
        const i = h("input", { type: "text", id: `insC-${d === "a->b" ? "ab" : "ba"}-${f.label}`, value: f.fmt(l.conditions[d][f.key] ?? 0), placeholder: "–", title: `e.g. ${f.hint}; empty: none`, "aria-label": `${f.label} ${d === "a->b" ? `${l.a} to ${l.b}` : `${l.b} to ${l.a}`}` });
        inputs[d].set(f.key, i);
        grid.append(i);
      }
    }
    const err = h("p", { class: "note", role: "alert" });
    const read = (d: "a->b" | "b->a"): LinkConditions => {
      const c: LinkConditions = {};
      for (const f of FIELDS) {
        const v = inputs[d].get(f.key)!.value.trim();
        if (v === "") continue;
        c[f.key] = f.parse(v);
      }
      return c;
    };
    const apply = () => {
      try {
        err.textContent = "";
        this.act.applyConditions(l.index, read("a->b"), read("b->a"));
      } catch (e) {
        err.textContent = (e as Error).message;
      }
    };
    const same = () => {
      for (const f of FIELDS) inputs["b->a"].get(f.key)!.value = inputs["a->b"].get(f.key)!.value;
    };
    this.statsEl = h("div", { "aria-label": "Link counters" });
    this.el.replaceChildren(...nodes(
      h("h2", {}, `Link ${l.a} – ${l.b}`),
      l.generated ? h("p", { class: "note" }, "Made by a generator: conditions change live; the YAML keeps the generator's.") : null,
      l.cut ? h("p", { class: "cut" }, "✂ cut: 100% loss both ways (restore brings back the conditions below)") : null,
      grid,
      err,
      h("div", { class: "actions" },
        h("button", { type: "button", id: "insApplyLink", onclick: apply, title: "Set these conditions now (traffic keeps running) and write them into the YAML" }, "Apply live"),
        h("button", { type: "button", onclick: same, title: "Copy → into ←" }, "Same both ways"),
        h("button", { type: "button", id: "insCut", onclick: () => this.act.cut(l.index, !l.cut) }, l.cut ? "Restore link" : "✂ Cut link"),
      ),
      h("div", { class: "actions" },
        h("button", { type: "button", onclick: () => this.act.capture(l.a) }, `Capture ${l.a}`),
        h("button", { type: "button", onclick: () => this.act.chart(l.index) }, "Throughput chart"),
        h("button", { type: "button", onclick: () => this.act.gotoLine(l.line) }, "Show in YAML"),
        h("button", { type: "button", id: "insDeleteLink", disabled: l.generated, onclick: () => this.act.deleteLink(l.index) }, "Delete link"),
      ),
      h("h3", {}, "Frames on the link"),
      this.statsEl,
    ));
  }
}
