// wavnet graph FILE [--format svg|mermaid|dot|html] [-o OUT]: a picture of a lab from its
// topology file, without bringing it up. dot and mermaid are text (host/topology/graph.ts);
// svg is Graphviz's layout and drawing of the dot text (@viz-js/viz: Graphviz compiled to
// Wasm, no browser, no network); html is that SVG in a page of its own. docs/cli.md says
// why Graphviz.

import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { command, parseArgsOptions, usageLine } from "./command_table.js";
import { loadTopology } from "../node/topology.js";
import { labGraph, toDot, toMermaid } from "../topology/graph.js";
import { EXIT, UsageError, write, type Io } from "./io.js";
import { isTopologyError } from "./session.js";
import { problemsText } from "./check.js";

export const GRAPH_USAGE = usageLine(command("graph")!);
const FORMATS = ["svg", "mermaid", "dot", "html"] as const;
type Format = (typeof FORMATS)[number];

/** The format OUT's extension names, when --format does not say. */
function formatOf(out: string | undefined): Format | undefined {
  const ext = /\.([a-z]+)$/i.exec(out ?? "")?.[1]?.toLowerCase();
  return ext === "svg" ? "svg" : ext === "mmd" || ext === "mermaid" ? "mermaid" : ext === "dot" || ext === "gv" ? "dot" : ext === "html" || ext === "htm" ? "html" : undefined;
}

interface GraphArgs {
  file: string;
  format: Format;
  out?: string;
}

function parse(argv: string[]): GraphArgs {
  let p;
  try {
    p = parseArgs({ args: argv, options: parseArgsOptions(command("graph")!.options) as { format: { type: "string"; short: "f" }; output: { type: "string"; short: "o" } }, allowPositionals: true, strict: true });
  } catch (e) {
    const m = (e as Error).message.split("\n")[0];
    const opt = /^Option '((?:-\w, )?--[a-z-]+)[^']*' argument (is ambiguous|missing)/.exec(m);
    throw new UsageError(`wavnet graph: ${opt ? `${opt[1]} needs a value` : m.replace(/\. .*$/, "").replace(/\.$/, "")}; usage: ${GRAPH_USAGE}`);
  }
  if (p.positionals.length !== 1) throw new UsageError(`wavnet graph: ${p.positionals.length ? "one topology file only" : "a topology file is needed"}; usage: ${GRAPH_USAGE}`);
  const f = p.values.format;
  if (f !== undefined && !(FORMATS as readonly string[]).includes(f)) throw new UsageError(`wavnet graph: --format must be one of ${FORMATS.join(", ")}, got ${JSON.stringify(f)}`);
  return { file: p.positionals[0], format: (f as Format | undefined) ?? formatOf(p.values.output) ?? "svg", out: p.values.output };
}

/** Graphviz's drawing of a dot text (throws with Graphviz's own message on a bad graph). */
export async function renderSvg(dot: string, inline = false): Promise<string> {
  const { instance } = await import("@viz-js/viz");
  const viz = await instance();
  const r = viz.render(dot, { format: inline ? "svg_inline" : "svg", engine: "dot" });
  if (r.status !== "success") throw new Error(`graphviz: ${r.errors.map((e) => e.message).join("; ")}`);
  return r.output;
}

/** One page, nothing fetched: the SVG inline and a little CSS. */
function page(title: string, svg: string): string {
  const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${esc(title)} (wavnet graph)</title>
<style>
  body { margin: 0; font-family: Helvetica, Arial, sans-serif; background: #f9fafb; color: #111827; }
  header { padding: 0.6rem 1rem; border-bottom: 1px solid #e5e7eb; background: #fff; }
  header small { color: #6b7280; }
  main { padding: 1rem; overflow: auto; }
  main svg { max-width: 100%; height: auto; background: #fff; border: 1px solid #e5e7eb; border-radius: 6px; }
</style>
</head>
<body>
<header><strong>${esc(title)}</strong> <small>hosts: rounded boxes, routers: ellipses, switches: boxes, outside ports: dashed; interface and addresses at each link end, conditions in red</small></header>
<main>
${svg.trim()}
</main>
</body>
</html>
`;
}

/** The picture of a spec in one format. */
export async function graphText(spec: Parameters<typeof labGraph>[0], format: Format): Promise<string> {
  const g = labGraph(spec);
  if (format === "mermaid") return toMermaid(g);
  const dot = toDot(g);
  if (format === "dot") return dot;
  if (format === "svg") return renderSvg(dot);
  return page(g.name, await renderSvg(dot, true));
}

/** wavnet graph: exit 0, 2 for a bad command line or file (the messages of wavnet run). */
export async function graph(argv: string[], io: Io): Promise<number> {
  const a = parse(argv);
  let spec;
  try {
    spec = loadTopology(a.file);
  } catch (e) {
    if (isTopologyError(e)) {
      write(io.stderr, `wavnet graph: ${problemsText(e)}`);
      return EXIT.USAGE;
    }
    throw e;
  }
  const text = await graphText(spec, a.format);
  if (a.out === undefined || a.out === "-") {
    io.stdout.write(text);
    return EXIT.OK;
  }
  try {
    writeFileSync(a.out, text);
  } catch (e) {
    throw new UsageError(`wavnet graph: -o ${a.out}: ${(e as Error).message}`);
  }
  write(io.stdout, `wavnet graph: ${a.format} of ${spec.name} (${spec.nodes.length} nodes, ${spec.links.length} links) written to ${a.out}`);
  return EXIT.OK;
}
