// A picture of a lab, as text: the topology's nodes (by role), its links (interface names
// and addresses at each end, conditions in the middle) and its ports to the outside (VXLAN,
// websocket) as Graphviz dot and as Mermaid. Platform-neutral and free of any library: the
// CLI (host/cli/graph.ts) hands the dot text to Graphviz for the layout and the SVG.
//
// One model (labGraph) feeds both writers, so the two formats say the same things; tests
// read the model's labels back out of each output.

import { formatConditions, type LinkConditions } from "../admin/epair.js";
import type { InterfaceSpec, NodeSpec, Role, TopologySpec } from "./spec.js";

export type GraphNodeKind = Role | "external";

export interface GraphNode {
  /** A stable id for the writers ("n0"...): node names may hold characters neither format takes bare. */
  id: string;
  /** The topology's node name, or for an external port "NODE:IFACE". */
  name: string;
  kind: GraphNodeKind;
  /** Second line under the name: the role, or what the port reaches (vxlan VNI 42 -> 198.51.100.7:4789). */
  detail: string;
}

export interface GraphEnd {
  node: string;
  iface: string;
  addresses: string[];
}

export interface GraphEdge {
  from: string;
  to: string;
  a: GraphEnd;
  b: GraphEnd;
  /** Conditions, one line per direction when they differ ("c1 -> sw: delay 20ms"), "" for none. */
  conditions: string[];
  /** A link to an external port (dashed). */
  external: boolean;
}

export interface LabGraph {
  name: string;
  nodes: GraphNode[];
  edges: GraphEdge[];
}

/** The picture's content: every node, every link, every port to the outside. */
export function labGraph(spec: TopologySpec): LabGraph {
  const nodes: GraphNode[] = [];
  const idOf = new Map<string, string>();
  for (const n of spec.nodes) {
    const id = `n${nodes.length}`;
    idOf.set(n.name, id);
    nodes.push({ id, name: n.name, kind: n.role, detail: roleText(n) });
  }
  const ifaceOf = (node: string, name: string): InterfaceSpec | undefined =>
    spec.nodes.find((n) => n.name === node)?.interfaces.find((i) => i.name === name);
  const end = (node: string, iface: string): GraphEnd => ({ node, iface, addresses: ifaceOf(node, iface)?.addresses ?? [] });
  const edges: GraphEdge[] = spec.links.map((l) => ({
    from: idOf.get(l.a.node)!,
    to: idOf.get(l.b.node)!,
    a: end(l.a.node, l.a.iface),
    b: end(l.b.node, l.b.iface),
    conditions: conditionLines(l.a.node, l.b.node, l.forward, l.reverse, l.schedule.length),
    external: false,
  }));
  // Ports to the outside: one node each, joined to their owner by a dashed edge.
  for (const n of spec.nodes) {
    for (const i of n.interfaces) {
      if (i.kind !== "vxlan" && i.kind !== "websocket") continue;
      const id = `n${nodes.length}`;
      nodes.push({ id, name: `${n.name}:${i.name}`, kind: "external", detail: portText(i) });
      edges.push({ from: idOf.get(n.name)!, to: id, a: end(n.name, i.name), b: { node: `${n.name}:${i.name}`, iface: "", addresses: [] }, conditions: [], external: true });
    }
  }
  return { name: spec.name, nodes, edges };
}

function roleText(n: NodeSpec): string {
  return n.role === "bridge" ? "switch (bridge)" : n.role;
}

function portText(i: InterfaceSpec): string {
  if (i.kind === "vxlan") return `vxlan VNI ${i.vni ?? "?"}${i.remote ? ` -> ${i.remote}` : ""}`;
  return i.listen ? "websocket (listens)" : `websocket -> ${i.url ?? "?"}`;
}

/** Conditions of a link: one line when both directions are alike, else one per direction. */
function conditionLines(a: string, b: string, fwd: LinkConditions, rev: LinkConditions, scheduled: number): string[] {
  const f = formatConditions(fwd);
  const r = formatConditions(rev);
  const lines = f === r ? (f ? [f] : []) : [...(f ? [`${a} -> ${b}: ${f}`] : []), ...(r ? [`${b} -> ${a}: ${r}`] : [])];
  if (scheduled) lines.push(`${scheduled} scheduled change${scheduled === 1 ? "" : "s"}`);
  return lines;
}

function endLines(e: GraphEnd): string[] {
  return [e.iface, ...e.addresses].filter((s) => s !== "");
}

// ---------------------------------------------------------------------------------------
// Graphviz dot

/** Shapes and colours by role; a legend is not needed: the role is written under each name. */
const DOT_STYLE: Record<GraphNodeKind, string> = {
  host: `shape=box, style="rounded,filled", fillcolor="#dbeafe", color="#1d4ed8"`,
  router: `shape=ellipse, style=filled, fillcolor="#fde68a", color="#b45309"`,
  bridge: `shape=box3d, style=filled, fillcolor="#e5e7eb", color="#374151"`,
  external: `shape=cds, style="filled,dashed", fillcolor="#fce7f3", color="#be185d"`,
};

/** A dot double-quoted string: quotes and backslashes escaped, lines joined with \n. */
function dq(lines: string | string[]): string {
  const one = (s: string) => s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\r?\n/g, "\\n");
  return `"${(Array.isArray(lines) ? lines : [lines]).map(one).join("\\n")}"`;
}

/** The lab as a Graphviz graph (undirected; links left to right). */
export function toDot(g: LabGraph): string {
  const out = [
    `graph ${dq(g.name)} {`,
    `  graph [rankdir=LR, label=${dq(g.name)}, labelloc=t, fontname="Helvetica", fontsize=16, nodesep=0.6, ranksep=1.4, pad=0.3];`,
    `  node [fontname="Helvetica", fontsize=12, margin="0.15,0.06"];`,
    `  edge [fontname="Helvetica", fontsize=10, color="#4b5563", labelfontsize=9, labelfontcolor="#1f2937", labeldistance=2.2];`,
  ];
  for (const n of g.nodes) out.push(`  ${n.id} [label=${dq([n.name, n.detail])}, ${DOT_STYLE[n.kind]}];`);
  for (const e of g.edges) {
    const attrs = [`taillabel=${dq(endLines(e.a))}`];
    if (!e.external) attrs.push(`headlabel=${dq(endLines(e.b))}`);
    if (e.conditions.length) attrs.push(`label=${dq(e.conditions)}`, `fontcolor="#b91c1c"`);
    if (e.external) attrs.push(`style=dashed`);
    out.push(`  ${e.from} -- ${e.to} [${attrs.join(", ")}];`);
  }
  out.push("}");
  return `${out.join("\n")}\n`;
}

// ---------------------------------------------------------------------------------------
// Mermaid

/** Mermaid text in a quoted label: its entity codes for the characters that end or break one. */
function mq(s: string): string {
  return s.replace(/&/g, "#amp;").replace(/"/g, "#quot;").replace(/</g, "#lt;").replace(/>/g, "#gt;").replace(/\|/g, "#124;");
}

const MERMAID_SHAPE: Record<GraphNodeKind, [string, string]> = {
  host: ["(", ")"], // rounded box
  router: ["((", "))"], // circle
  bridge: ["[", "]"], // box
  external: ["[/", "/]"], // parallelogram
};

const MERMAID_CLASS: Record<GraphNodeKind, string> = {
  host: "fill:#dbeafe,stroke:#1d4ed8",
  router: "fill:#fde68a,stroke:#b45309",
  bridge: "fill:#e5e7eb,stroke:#374151",
  external: "fill:#fce7f3,stroke:#be185d,stroke-dasharray:4 3",
};

/** The lab as a Mermaid flowchart: one label per edge, so both ends and the conditions share it. */
export function toMermaid(g: LabGraph): string {
  const out = ["---", `title: ${JSON.stringify(g.name)}`, "---", "flowchart LR"];
  for (const n of g.nodes) {
    const [open, close] = MERMAID_SHAPE[n.kind];
    out.push(`  ${n.id}${open}"${mq(n.name)}<br/>${mq(n.detail)}"${close}`);
  }
  for (const e of g.edges) {
    const ends = e.external ? endLines(e.a).join(" ") : `${endLines(e.a).join(" ")} — ${endLines(e.b).join(" ")}`;
    const label = [ends, ...e.conditions].map(mq).join("<br/>");
    out.push(`  ${e.from} ${e.external ? "-.-" : "---"}|"${label}"| ${e.to}`);
  }
  for (const k of Object.keys(MERMAID_CLASS) as GraphNodeKind[]) {
    const ids = g.nodes.filter((n) => n.kind === k).map((n) => n.id);
    if (ids.length) out.push(`  classDef ${k} ${MERMAID_CLASS[k]}`, `  class ${ids.join(",")} ${k}`);
  }
  return `${out.join("\n")}\n`;
}
