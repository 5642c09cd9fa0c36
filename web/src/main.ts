// The page: a wavnet lab in a Web Worker (web/src/worker.ts, the page protocol of
// host/web/protocol.ts), and the views on it: the graph, the YAML editor, the inspector,
// consoles, packets, counters, steps, and the clock. See docs/web.md.

import "./style.css";
import { LabClient, LabError } from "../../host/web/client.js";
import type { ClockState, LabInfo, LinkConditions, Problem } from "../../host/web/protocol.js";
import { YamlEditor } from "./editor.js";
import { Graph } from "./graph.js";
import { Consoles } from "./consoles.js";
import { Packets } from "./packets.js";
import { Counters } from "./counters.js";
import { Steps } from "./steps.js";
import { Inspector } from "./inspect.js";
import { Model, ModelError, suggestAddresses, type Role } from "./model.js";
import { decodeFragment, encodeFragment } from "./share.js";
import { $, $in, download, fmtTime, h, status, tabs, toast } from "./util.js";

const EXAMPLES = import.meta.glob("../../examples/*.yaml", { query: "?raw", import: "default", eager: true }) as Record<string, string>;
const examples = new Map(Object.entries(EXAMPLES).map(([p, t]) => [p.split("/").pop()!, t]));

// ---- the worker

// The built page's head started it (head.ts, with the binaries compiled beside it); the dev server's page starts it here.
const wasmBase = new URL("wasm/", document.baseURI).href;
const worker = (window as unknown as { labWorker?: Worker }).labWorker ?? new Worker(new URL("./worker.ts", import.meta.url), { type: "module", name: wasmBase });
const client = new LabClient(worker);
worker.onmessage = (e) => client.receive(e.data);
worker.onerror = (e) => {
  status(`the worker failed: ${e.message}`, true);
  client.fail(`the worker failed: ${e.message}`);
};

// ---- state

type Selection = { kind: "node"; name: string } | { kind: "link"; index: number } | null;
let info: LabInfo | null = null;
let applied = "";
let fileName = "lab.yaml";
let selection: Selection = null;
let clockKind: "virtual" | "real" | undefined;
const time = { playing: true, speed: 1 };
let animateOn = false;
let loading: Promise<boolean> | null = null;
const current = (): LabInfo | null => info;

// ---- views

const showSide = tabs($("side").querySelector(".tabs")!);
let consoles!: Consoles;
const showDock = tabs($("dockTabs"), (panel) => {
  consoles.shown(panel);
  counters.visible = panel === "countersPane";
  if (counters.visible) counters.show();
  if (panel === "stepsPane" && info) void steps.files().catch(() => undefined);
});
consoles = new Consoles($("consoleTabs"), $("consoles"), $in<HTMLSelectElement>("newConsole"), client, showDock);
const packets = new Packets(client);
const counters = new Counters();
const steps = new Steps(client);

const editor = new YamlEditor(
  $("editor"),
  $("problems"),
  async (text) => (await client.request("check", { yaml: text, file: fileName })).problems,
  () => markDirty(),
  () => void apply(editor.text),
);

const graph = new Graph($("graph"), $in<HTMLCanvasElement>("anim"), {
  select: (s) => select(s),
  openConsole: (n) => openConsole(n),
  linkNodes: (a, b) => void linkNodes(a, b),
  toggleCut: (i) => void setCut(i, !(info?.links[i]?.cut ?? false)),
  deleteSelection: () => void deleteSelection(),
});

const inspector = new Inspector($("inspectPane"), {
  applyNode: (name, e) => void edit((m) => m.setNode(name, e), { kind: "node", name }),
  deleteNode: (name) => void deleteNode(name),
  addWebSocket: (node, e) => {
    // A peer in a Node process cannot share the page's virtual time: the file's default (real) then.
    if (clockKind === "virtual") {
      clockKind = undefined;
      toast("websocket interfaces run on the real clock: the lab comes up on it", "info");
    }
    void edit((m) => m.addWebSocket(node, e), { kind: "node", name: node });
  },
  removeInterface: (node, name) => void edit((m) => m.removeInterface(node, name), { kind: "node", name: node }),
  openConsole: (n) => openConsole(n),
  applyConditions: (i, f, r) => void setConditions(i, f, r),
  cut: (i, c) => void setCut(i, c),
  deleteLink: (i) => void deleteLink(i),
  capture: (ep) => {
    showDock("packetsPane");
    void packets.begin(ep);
  },
  chart: (i) => {
    counters.chooseLink(i);
    showDock("countersPane");
  },
  gotoLine: (line) => {
    showSide("yamlPane");
    editor.goto(line);
  },
});

function markDirty(): void {
  const s = $("yamlState");
  const dirty = editor.text !== applied;
  s.textContent = dirty ? "edited: Apply (Ctrl+Enter) brings it up" : info ? `running: ${info.name}` : "";
  s.classList.toggle("dirty", dirty);
}

function select(s: Selection): void {
  selection = s;
  graph.select(s);
  inspector.set(info, s);
  if (s) showSide("inspectPane");
  if (s?.kind === "link" && info?.links[s.index]) {
    packets.choose(info.links[s.index]!.a);
    counters.chooseLink(s.index);
  }
}

function openConsole(node: string): void {
  consoles.open(node);
}

// ---- loading a lab

/** Bring a topology up; on a bad file its problems show at their lines and the old lab stays. */
async function apply(text: string, opts: { file?: string } = {}): Promise<boolean> {
  if (loading) await loading.catch(() => undefined);
  if (opts.file) fileName = opts.file;
  if (editor.text !== text) editor.setText(text);
  status("bringing the lab up…");
  const p = (async () => {
    try {
      const t0 = performance.now();
      const next = await client.request("load", { yaml: text, file: fileName, ...(clockKind ? { clock: clockKind } : {}) });
      applied = text;
      installLab(next);
      status(`${next.name}: ${next.nodes.length} nodes, ${next.links.length} links up in ${next.upMs.toFixed(0)} ms (page ${(performance.now() - t0).toFixed(0)} ms); ${next.clock} clock, seed ${next.seed}`);
      try {
        localStorage.setItem("wavnet.yaml", text);
        localStorage.setItem("wavnet.file", fileName);
      } catch {
        // storage denied: nothing to keep
      }
      return true;
    } catch (e) {
      const problems: Problem[] = e instanceof LabError ? e.problems : [];
      if (problems.length) {
        editor.showList(problems);
        showSide("yamlPane");
        status(`${fileName}: ${problems.length} problem${problems.length > 1 ? "s" : ""}; the lab running is the last good one`, true);
      } else {
        status(`load failed: ${(e as Error).message}`, true);
        toast((e as Error).message);
      }
      return false;
    } finally {
      markDirty();
    }
  })();
  loading = p;
  return p;
}

function installLab(next: LabInfo): void {
  const wasSel = selection;
  info = next;
  graph.show(next);
  graph.clearFlights();
  consoles.setNodes(next.nodes.map((n) => n.name));
  consoles.notice(`-- lab ${next.name} brought up (${next.clock} clock); kernel time starts at 0 --`);
  packets.setLab(next);
  counters.setLab(next);
  steps.setLab(next);
  const keep = wasSel && (wasSel.kind === "node" ? next.nodes.some((n) => n.name === wasSel.name) : next.links[wasSel.index] !== undefined) ? wasSel : null;
  selection = keep;
  graph.select(keep);
  inspector.set(next, keep);
  $in<HTMLSelectElement>("clockKind").value = next.clock;
  void client.request("time", next.clock === "virtual" ? { playing: time.playing, speed: time.speed } : {}).then(showClock, () => undefined);
  if (animateOn) void client.request("animate", { on: true });
}

client.on("clock", (e) => showClock(e.state));
client.on("stats", (e) => {
  counters.stats(e.stats);
  inspector.stats(e.stats);
});
client.on("flights", (e) => graph.flights(e.flights));

function showClock(s: ClockState): void {
  graph.setClock(s);
  $("now").textContent = fmtTime(s.nowUs);
  const play = $in<HTMLButtonElement>("play");
  const virtual = s.kind === "virtual";
  play.disabled = !virtual;
  $in<HTMLButtonElement>("step").disabled = !virtual;
  $in<HTMLSelectElement>("speed").disabled = !virtual;
  $("playIcon").setAttribute("d", s.playing ? "M4 2h3v12H4zM9 2h3v12H9z" : "M3 2l11 6-11 6z");
  play.setAttribute("aria-label", s.playing ? "Pause" : "Play");
  $("now").title = `${s.kind} clock${s.lagging ? " (behind the speed asked: a lot of work per tick)" : ""}${s.waiting ? `; ${s.waiting} waiting for time` : ""}`;
}

// ---- edits

/**
 * Edit the YAML and bring the change up. Added nodes and links (grow) come up in the running
 * lab when the file was the running one; anything else brings the lab up again.
 */
async function edit(f: (m: Model) => void, sel?: Selection, opts: { grow?: boolean } = {}): Promise<void> {
  let m: Model;
  try {
    m = new Model(editor.text);
    f(m);
  } catch (e) {
    toast((e as Error).message);
    return;
  }
  const ok = opts.grow && editor.text === applied && info ? await grow(m.text()) || await apply(m.text()) : await apply(m.text());
  if (ok && sel !== undefined) select(sel);
}

/** The running lab grows by the file's new nodes and links; false (nothing changed) when the worker says it is not a growth. */
async function grow(text: string): Promise<boolean> {
  if (loading) await loading.catch(() => undefined);
  try {
    const r = await client.request("grow", { yaml: text, file: fileName });
    if (!r.grown) return false;
    editor.setText(text);
    applied = text;
    refreshLab(r.info);
    const what = [r.nodes.length ? `node${r.nodes.length > 1 ? "s" : ""} ${r.nodes.join(", ")}` : "", r.links ? `${r.links} link${r.links > 1 ? "s" : ""}` : ""].filter((x) => x).join(" and ");
    status(`${r.info.name}: ${r.info.nodes.length} nodes, ${r.info.links.length} links; ${what} added to the running lab`);
    try {
      localStorage.setItem("wavnet.yaml", text);
    } catch {
      // storage denied
    }
    markDirty();
    return true;
  } catch {
    // a bad file: apply() shows its problems at their lines
    return false;
  }
}

/** The views of a lab that grew (no reload: captures, consoles, counters and time go on). */
function refreshLab(next: LabInfo): void {
  const wasSel = selection;
  info = next;
  graph.show(next);
  consoles.setNodes(next.nodes.map((n) => n.name));
  packets.setLab(next, { keepCapture: true });
  counters.setLab(next);
  steps.setLab(next);
  inspector.set(next, wasSel);
  // The animation watches the links it found when it started: start it again to see the new ones.
  if (animateOn) void client.request("animate", { on: false }).then(() => client.request("animate", { on: true }));
}

function addNode(): void {
  const role = $in<HTMLSelectElement>("addRole").value as Role;
  let name = "";
  void edit((m) => {
    name = m.freeNodeName(role === "router" ? "r" : role === "bridge" ? "sw" : "n", info?.nodes.map((n) => n.name) ?? []);
    m.addNode(name, role);
  }, undefined, { grow: true }).then(() => {
    if (info?.nodes.some((n) => n.name === name)) select({ kind: "node", name });
  });
}

async function linkNodes(a: string, b: string): Promise<void> {
  setMode("select");
  const auto = $in<HTMLInputElement>("autoAddr").checked;
  let ends: { a: string; b: string } | undefined;
  await edit((m) => {
    const na = info?.nodes.find((n) => n.name === a);
    const nb = info?.nodes.find((n) => n.name === b);
    const addr = auto && na && nb ? suggestAddresses(na, nb, info!.nodes, info!.links) : {};
    ends = m.addLink(a, b, addr);
  }, undefined, { grow: true });
  const l = ends && info?.links.find((x) => x.a === ends!.a && x.b === ends!.b);
  if (l) select({ kind: "link", index: l.index });
}

async function deleteNode(name: string): Promise<void> {
  let gone = { links: 0, steps: 0 };
  await edit((m) => (gone = m.removeNode(name)), null);
  if (gone.steps) toast(`node ${name} removed, with ${gone.links} link(s) and ${gone.steps} step(s) that named it`, "info");
}

async function deleteLink(index: number): Promise<void> {
  const l = info?.links[index];
  if (!l) return;
  await edit((m) => m.removeLink(l.a, l.b), null);
}

async function deleteSelection(): Promise<void> {
  if (selection?.kind === "node") await deleteNode(selection.name);
  else if (selection?.kind === "link") await deleteLink(selection.index);
}

async function setConditions(index: number, forward: LinkConditions, reverse: LinkConditions): Promise<void> {
  const l = info?.links[index];
  if (!l) return;
  try {
    await client.request("setConditions", { link: `#${index}`, dir: "a->b", conditions: forward });
    const li = await client.request("setConditions", { link: `#${index}`, dir: "b->a", conditions: reverse });
    info!.links[index] = li;
    graph.updateLink(li);
    inspector.link(li);
  } catch (e) {
    toast((e as Error).message);
    return;
  }
  // The file says the same (no reload: the lab already has them).
  if (l.generated) return;
  try {
    const m = new Model(editor.text);
    if (m.hasLink(l.a, l.b)) {
      const dirty = editor.text !== applied;
      m.setLinkConditions(l.a, l.b, forward, reverse);
      editor.setText(m.text());
      if (!dirty) applied = editor.text;
      markDirty();
    }
  } catch (e) {
    if (!(e instanceof ModelError)) throw e;
  }
}

async function setCut(index: number, cut: boolean): Promise<void> {
  try {
    const li = await client.request("cut", { link: `#${index}`, cut });
    if (info) info.links[index] = li;
    graph.updateLink(li);
    inspector.link(li);
    status(`${li.a} – ${li.b}: ${li.cut ? "cut (100% loss both ways)" : "restored"}`);
  } catch (e) {
    toast((e as Error).message);
  }
}

function setMode(mode: "select" | "link" | "cut"): void {
  graph.mode = mode;
  graph.setLinkFrom(null);
  $("addLink").setAttribute("aria-pressed", String(mode === "link"));
  $("cutMode").setAttribute("aria-pressed", String(mode === "cut"));
  $("graphHint").textContent = mode === "link" ? "click two nodes to join them (Esc: cancel)" : mode === "cut" ? "click a link to cut or restore it" : "";
}

// ---- header and toolbars

const exSel = $in<HTMLSelectElement>("examples");
exSel.replaceChildren(h("option", { value: "" }, "—"), ...[...examples.keys()].sort().map((n) => h("option", { value: n }, n)));
exSel.addEventListener("change", () => {
  const t = examples.get(exSel.value);
  if (t !== undefined) void apply(t, { file: exSel.value });
});
$("open").addEventListener("click", () => $in<HTMLInputElement>("file").click());
$in<HTMLInputElement>("file").addEventListener("change", async (e) => {
  const f = (e.target as HTMLInputElement).files?.[0];
  if (!f) return;
  exSel.value = "";
  await apply(await f.text(), { file: f.name });
  (e.target as HTMLInputElement).value = "";
});
$("save").addEventListener("click", () => download(fileName.replace(/\.(json|yml)$/, ".yaml"), editor.text, "text/yaml"));
$("share").addEventListener("click", async () => {
  const frag = await encodeFragment(editor.text);
  history.replaceState(null, "", frag);
  try {
    await navigator.clipboard.writeText(location.href);
    toast("link copied: it holds the whole topology", "info");
  } catch {
    toast("the link is in the address bar (the clipboard was not available)", "info");
  }
});
$("apply").addEventListener("click", () => void apply(editor.text));
$in<HTMLSelectElement>("clockKind").addEventListener("change", (e) => {
  clockKind = (e.target as HTMLSelectElement).value as "virtual" | "real";
  void apply(applied || editor.text);
});
const togglePlay = async () => {
  time.playing = !time.playing;
  try {
    showClock(await client.request("time", { playing: time.playing }));
  } catch (e) {
    toast((e as Error).message);
  }
};
$("play").addEventListener("click", () => void togglePlay());
const stepTime = async () => {
  time.playing = false;
  try {
    showClock(await client.request("stepTime"));
  } catch (e) {
    toast((e as Error).message);
  }
};
$("step").addEventListener("click", () => void stepTime());
$in<HTMLSelectElement>("speed").addEventListener("change", async (e) => {
  time.speed = Number((e.target as HTMLSelectElement).value);
  try {
    showClock(await client.request("time", { speed: time.speed }));
  } catch (err) {
    toast((err as Error).message);
  }
});
$in<HTMLInputElement>("animate").addEventListener("change", async (e) => {
  animateOn = (e.target as HTMLInputElement).checked;
  if (!animateOn) graph.clearFlights();
  if (info) await client.request("animate", { on: animateOn }).catch((err: Error) => toast(err.message));
});
$("addNode").addEventListener("click", addNode);
$("addLink").addEventListener("click", () => setMode(graph.mode === "link" ? "select" : "link"));
$("cutMode").addEventListener("click", () => setMode(graph.mode === "cut" ? "select" : "cut"));
$("delete").addEventListener("click", () => void deleteSelection());
$("fit").addEventListener("click", () => graph.fit());
document.addEventListener("keydown", (e) => {
  if (e.altKey && (e.key === "p" || e.key === "P")) {
    e.preventDefault();
    void togglePlay();
  } else if (e.altKey && (e.key === "n" || e.key === "N")) {
    e.preventDefault();
    void stepTime();
  } else if (e.key === "Escape" && graph.mode !== "select") setMode("select");
});

// ---- start: a lab from the link, else the last one, else the demo

(async () => {
  try {
    await client.request("hello");
  } catch (e) {
    status(`the worker did not start: ${(e as Error).message}`, true);
    return;
  }
  let text: string | undefined;
  let file = "demo.yaml";
  try {
    text = await decodeFragment(location.hash);
    if (text !== undefined) file = "shared.yaml";
  } catch (e) {
    toast(`the link's topology could not be read: ${(e as Error).message}`);
  }
  if (text === undefined) {
    const last = localStorage.getItem("wavnet.yaml");
    if (last && !new URLSearchParams(location.search).has("fresh")) {
      text = last;
      file = localStorage.getItem("wavnet.file") ?? "lab.yaml";
    }
  }
  if (text === undefined) text = examples.get("demo.yaml") ?? "";
  if (examples.get(file) === text) exSel.value = file;
  showDock("consoles");
  const ok = await apply(text, { file });
  const lab = current();
  if (ok && lab) openConsole(lab.nodes.find((n) => n.role === "host")?.name ?? lab.nodes[0]!.name);
  document.body.dataset.ready = "true";
})();

// For the browser tests and the curious: the client and views.
(window as unknown as { wavnet: unknown }).wavnet = { client, consoles, graph, editor, apply: (t: string) => apply(t) };
