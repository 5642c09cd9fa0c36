// wavnet graph: every shipped example in every format. dot is read back by Graphviz (the
// library that draws the SVG), mermaid by Mermaid's own parser, the SVG and the page are
// checked as well-formed XML; every node, link end, address and condition must appear as
// a label. A bad file is refused with the very messages `wavnet run` gives.
import { test, describe, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { instance } from "@viz-js/viz";
import { loadTopology } from "../host/node/topology.js";
import { parseTopology } from "../host/topology/parse.js";
import { labGraph, toDot, toMermaid } from "../host/topology/graph.js";
import { formatConditions } from "../host/admin/epair.js";
import type { TopologySpec } from "../host/topology/spec.js";
import { cliMain } from "./helpers/cli.js";

const EXAMPLES = fileURLToPath(new URL("../examples/", import.meta.url));
const FILES = readdirSync(EXAMPLES).filter((f) => f.endsWith(".yaml")).sort();

const wavnet = cliMain;

/** Mermaid's parser, run in Node: DOMPurify (its label sanitiser, not its parser) needs a DOM, so it is stubbed. */
async function mermaidParse(text: string): Promise<unknown> {
  const { default: DOMPurify } = (await import("dompurify")) as unknown as { default: Record<string, unknown> };
  Object.assign(DOMPurify, { addHook: () => {}, removeHook: () => {}, removeHooks: () => {}, sanitize: (s: string) => s });
  const { default: mermaid } = await import("mermaid");
  return mermaid.parse(text);
}

/**
 * A strict well-formedness check of XML (no DTD beyond skipping a DOCTYPE): every tag closed
 * in order, attributes quoted and not repeated, entities known, nothing outside the root.
 * Throws with the offset of the first problem.
 */
function checkXml(xml: string): string {
  let i = 0;
  const stack: string[] = [];
  let root: string | undefined;
  const fail = (why: string): never => {
    throw new Error(`not well-formed XML at ${i}: ${why} (${JSON.stringify(xml.slice(i, i + 40))})`);
  };
  const text = (s: string) => {
    for (const m of s.matchAll(/&([^;\s]*);?/g)) {
      if (!/^(lt|gt|amp|quot|apos|#\d+|#x[0-9a-fA-F]+)$/.test(m[1]) || !m[0].endsWith(";")) fail(`bad entity ${m[0]}`);
    }
    if (s.includes("<")) fail("< in text");
  };
  while (i < xml.length) {
    const lt = xml.indexOf("<", i);
    const chunk = xml.slice(i, lt < 0 ? xml.length : lt);
    if (stack.length === 0 && chunk.trim() !== "") fail("text outside the root element");
    text(chunk);
    if (lt < 0) break;
    i = lt;
    if (xml.startsWith("<?", i)) i = xml.indexOf("?>", i) + 2 || fail("unclosed <?");
    else if (xml.startsWith("<!--", i)) i = xml.indexOf("-->", i) + 3 || fail("unclosed comment");
    else if (xml.startsWith("<!DOCTYPE", i)) i = xml.indexOf(">", i) + 1 || fail("unclosed DOCTYPE");
    else if (xml.startsWith("<![CDATA[", i)) i = xml.indexOf("]]>", i) + 3 || fail("unclosed CDATA");
    else if (xml.startsWith("</", i)) {
      const m = /^<\/([A-Za-z_][\w.:-]*)\s*>/.exec(xml.slice(i)) ?? fail("bad end tag");
      if (stack.pop() !== m[1]) fail(`</${m[1]}> does not close the open element`);
      i += m[0].length;
    } else {
      const m = /^<([A-Za-z_][\w.:-]*)((?:\s+[A-Za-z_][\w.:-]*\s*=\s*(?:"[^"<]*"|'[^'<]*'))*)\s*(\/?)>/.exec(xml.slice(i)) ?? fail("bad start tag");
      const names = [...m[2].matchAll(/([A-Za-z_][\w.:-]*)\s*=\s*("[^"]*"|'[^']*')/g)];
      const seen = new Set<string>();
      for (const [, n, v] of names) {
        if (seen.has(n)) fail(`attribute ${n} twice`);
        seen.add(n);
        text(v.slice(1, -1));
      }
      if (stack.length === 0) {
        if (root !== undefined) fail("a second root element");
        root = m[1];
      }
      if (!m[3]) stack.push(m[1]);
      i += m[0].length;
    }
  }
  if (stack.length) throw new Error(`not well-formed XML: <${stack.at(-1)}> never closed`);
  return root ?? fail("no root element");
}

/** What must be in every picture of a spec: names, link ends, addresses, conditions. */
function labels(spec: TopologySpec): string[] {
  const want = spec.nodes.map((n) => n.name);
  for (const l of spec.links) {
    for (const e of [l.a, l.b]) {
      want.push(e.iface);
      want.push(...spec.nodes.find((n) => n.name === e.node)!.interfaces.find((i) => i.name === e.iface)!.addresses);
    }
    for (const c of [l.forward, l.reverse]) if (formatConditions(c)) want.push(formatConditions(c));
  }
  return want;
}

/** Text as it reads in each output (entities decoded). */
function decodeXml(s: string): string {
  return s.replace(/&#45;/g, "-").replace(/&gt;/g, ">").replace(/&lt;/g, "<").replace(/&quot;/g, '"').replace(/&#160;/g, " ").replace(/&amp;/g, "&");
}

describe("wavnet graph", () => {
  const dir = mkdtempSync(join(tmpdir(), "wavnet-graph-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const f of FILES) {
    test(`${f}: dot is a graph Graphviz reads, with every node, link end, address and condition`, async () => {
      const spec = loadTopology(join(EXAMPLES, f));
      const r = await wavnet(["graph", join(EXAMPLES, f), "--format", "dot"]);
      assert.equal(r.code, 0, r.stderr);
      const viz = await instance();
      // Graphviz's own reading of the text: its JSON has the nodes and edges it understood.
      const parsed = viz.render(r.stdout, { format: "json0" });
      assert.equal(parsed.status, "success", JSON.stringify(parsed.errors));
      const g = JSON.parse(parsed.output) as { objects?: { name: string; label: string }[]; edges?: { tail: number; head: number; label?: string; taillabel?: string; headlabel?: string }[] };
      assert.equal(g.objects?.length, spec.nodes.length, "one Graphviz node per topology node");
      assert.equal(g.edges?.length ?? 0, spec.links.length, "one Graphviz edge per link");
      const nodeName = (k: number) => g.objects![k].label.split("\\n")[0];
      for (const l of spec.links) {
        assert.ok(g.edges!.some((e) => nodeName(e.tail) === l.a.node && nodeName(e.head) === l.b.node), `edge ${l.a.node} -- ${l.b.node}`);
      }
      const all = JSON.stringify(g);
      for (const w of labels(spec)) assert.ok(all.includes(w), `${w} in the dot labels`);
    });

    test(`${f}: svg is well-formed XML drawn by Graphviz, labels included`, async () => {
      const spec = loadTopology(join(EXAMPLES, f));
      const out = join(dir, `${f}.svg`);
      const r = await wavnet(["graph", join(EXAMPLES, f), "-o", out]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /svg of .* written to/);
      const svg = readFileSync(out, "utf8");
      assert.equal(checkXml(svg), "svg");
      assert.match(svg, /Generated by graphviz/);
      const text = decodeXml([...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]).join("\n"));
      for (const w of labels(spec)) {
        // Graphviz writes each line of a label as one <text>: look for each word of it.
        for (const part of w.split(" ")) assert.ok(text.includes(part), `${part} (of ${w}) drawn in the SVG`);
      }
      // Laid out, not stacked: no two nodes share a centre.
      const centres = [...svg.matchAll(/<g id="node\d+" class="node">[\s\S]*?<text[^>]*x="([\d.-]+)" y="([\d.-]+)"/g)].map((m) => `${m[1]},${m[2]}`);
      assert.equal(centres.length, spec.nodes.length);
      assert.equal(new Set(centres).size, centres.length, "every node at its own place");
    });

    test(`${f}: mermaid is accepted by Mermaid's parser, with every label`, async () => {
      const spec = loadTopology(join(EXAMPLES, f));
      const r = await wavnet(["graph", join(EXAMPLES, f), "--format", "mermaid"]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(await mermaidParse(r.stdout), { diagramType: "flowchart-v2", config: {} });
      const text = r.stdout.replace(/#gt;/g, ">").replace(/#lt;/g, "<").replace(/#quot;/g, '"').replace(/#amp;/g, "&");
      for (const w of labels(spec)) assert.ok(text.includes(w), `${w} in the mermaid text`);
      assert.equal(text.match(/^ {2}n\d+ -[-.]-\|/gm)?.length ?? 0, spec.links.length, "one edge per link");
    });

    test(`${f}: html is one page with the SVG inline and nothing fetched`, async () => {
      const out = join(dir, `${f}.html`);
      const r = await wavnet(["graph", join(EXAMPLES, f), "-o", out]);
      assert.equal(r.code, 0, r.stderr);
      const html = readFileSync(out, "utf8");
      assert.match(html, /^<!doctype html>/);
      const svg = /<svg[\s\S]*<\/svg>/.exec(html)?.[0] ?? "";
      assert.equal(checkXml(svg), "svg");
      assert.doesNotMatch(html, /\b(src|href)\s*=\s*"(https?:)?\/\//, "no external resource");
      assert.doesNotMatch(html, /<script/, "no script needed");
    });
  }

  test("roles get their own shapes and outside ports their own node (vxlan, websocket)", () => {
    const spec = parseTopology(`name: ports
nodes:
  - name: r
    role: router
    interfaces:
      - { name: eth0, addresses: [10.0.0.1/24] }
      - { name: vx0, kind: vxlan, vni: 42, remote: "198.51.100.7:4789", addresses: [10.9.0.1/24] }
      - { name: ws0, kind: websocket, url: "ws://127.0.0.1:9/x/y" }
  - name: h
    interfaces: [{ name: eth0, addresses: [10.0.0.2/24] }]
links:
  - endpoints: [h:eth0, r:eth0]
    conditions: { loss: 2% }
`, "ports.yaml");
    const g = labGraph(spec);
    assert.deepEqual(g.nodes.map((n) => `${n.name}/${n.kind}`), ["r/router", "h/host", "r:vx0/external", "r:ws0/external"]);
    const dot = toDot(g);
    assert.match(dot, /label="r:vx0\\nvxlan VNI 42 -> 198.51.100.7:4789", shape=cds/);
    assert.match(dot, /n0 -- n2 \[taillabel="vx0\\n10.9.0.1\/24", style=dashed\]/);
    assert.match(dot, /label="r\\nrouter", shape=ellipse/);
    assert.match(dot, /label="h\\nhost", shape=box,/);
    assert.match(dot, /label="loss 2%"/);
    assert.match(toMermaid(g), /n0 -\.-\|"vx0 10\.9\.0\.1\/24"\| n2/);
  });

  test("labels that would end a quoted string are escaped in dot and mermaid", async () => {
    const g = labGraph(parseTopology(`name: 'q"uote'\nnodes:\n  - name: a\n    interfaces: [{ name: eth0 }]\n  - name: b\n    interfaces: [{ name: eth0 }]\nlinks:\n  - endpoints: [a:eth0, b:eth0]\n`, "q.yaml"));
    const viz = await instance();
    const r = viz.render(toDot(g), { format: "json0" });
    assert.equal(r.status, "success", JSON.stringify(r.errors));
    assert.equal((JSON.parse(r.output) as { name: string }).name, 'q"uote');
    await mermaidParse(toMermaid(g));
  });

  test("a bad file gets the messages wavnet run gives, exit 2", async () => {
    const bad = {
      "syntax.yaml": "name: x\nnodes: [\n",
      "schema.yaml": "name: x\nnodes:\n  - name: a\n    colour: red\n",
      "meaning.yaml": "name: x\nnodes:\n  - name: a\n    interfaces: [{ name: eth0 }]\nlinks:\n  - endpoints: [a:eth0, b:eth0]\n",
    };
    for (const [name, text] of Object.entries(bad)) {
      const file = join(dir, name);
      writeFileSync(file, text);
      const run = await wavnet(["run", file]);
      const graph = await wavnet(["graph", file]);
      assert.equal(run.code, 2, name);
      assert.equal(graph.code, 2, name);
      assert.equal(graph.stdout, "");
      assert.match(graph.stderr, /^wavnet graph: /);
      assert.equal(graph.stderr.replace(/^wavnet graph: /, ""), run.stderr.replace(/^wavnet run: /, ""), name);
      assert.match(graph.stderr, new RegExp(`${name}:\\d+`), "the file and line are named");
    }
    const missing = await wavnet(["graph", join(dir, "nope.yaml")]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read/);
  });

  test("bad command lines: unknown format, no file, two files", async () => {
    const f = join(EXAMPLES, "star.yaml");
    for (const [argv, re] of [
      [["graph", f, "--format", "png"], /--format must be one of svg, mermaid, dot, html, got "png"/],
      [["graph"], /a topology file is needed/],
      [["graph", f, f], /one topology file only/],
      [["graph", f, "--colour"], /Unknown option '--colour'/],
    ] as [string[], RegExp][]) {
      const r = await wavnet(argv);
      assert.equal(r.code, 2, argv.join(" "));
      assert.match(r.stderr, re);
    }
  });
});
