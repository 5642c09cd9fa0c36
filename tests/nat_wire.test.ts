// ipfw NAT in topology files: a node's `nat:` list (configs as `ipfw nat` takes them, parse
// errors at file:line:col inside the string, `if NAME` in the file's interface names, configured
// at bring-up before the rules) and examples/home_nat.yaml, whose steps pass only because the NAT
// router translates, forwards the redirected port and refuses the private addresses.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import "../host/index.js"; // the Node platform (binaries from disk)
import { parseTopology, Topology, TopologyError, type TopologySpec } from "../host/topology/index.js";
import { Commands } from "../host/shell/commands.js";
import { ipfwList, ipfwNatShow, ipfwStats } from "../host/admin/ipfw.js";

const EXAMPLE = readFileSync(new URL("../examples/home_nat.yaml", import.meta.url), "utf8");
const NAT_LINE = "      - 1 config if wan redirect_port tcp 192.168.1.10:80 8080";

/** The problem a file must be refused with. */
function refused(text: string): TopologyError {
  try {
    parseTopology(text, "nat.yaml");
  } catch (e) {
    assert.ok(e instanceof TopologyError, String(e));
    return e;
  }
  assert.fail("the file was accepted");
}

/** 1-based line and column of `needle` in the text. */
function where(text: string, needle: string): [number, number] {
  const lines = text.split("\n");
  const i = lines.findIndex((l) => l.includes(needle));
  assert.ok(i >= 0, needle);
  return [i + 1, lines[i]!.indexOf(needle) + 1];
}

describe("topology nat: lists", () => {
  test("a good config is parsed with its line; the node gets a firewall with the NAT", () => {
    const spec = parseTopology(EXAMPLE, "examples/home_nat.yaml");
    const gw = spec.nodes.find((n) => n.name === "gw")!;
    const [line] = where(EXAMPLE, NAT_LINE.trim());
    assert.deepEqual(gw.firewall!.nat.map((n) => [n.text, n.origin.line, n.config.id, n.config.iface, n.config.redirects.length]), [
      ["1 config if wan redirect_port tcp 192.168.1.10:80 8080", line, 1, "wan", 1],
    ]);
    // A node with only `nat:` has a firewall too (the module is loaded for it).
    const only = parseTopology(EXAMPLE.replace(/    firewall:\n(      - .*\n)+/, ""), "nat.yaml");
    assert.equal(only.nodes.find((n) => n.name === "gw")!.firewall!.rules.length, 0);
    assert.equal(only.nodes.find((n) => n.name === "gw")!.firewall!.nat.length, 1);
    assert.equal(spec.nodes.find((n) => n.name === "h1")!.firewall, undefined);
  });

  test("a bad config is named at file:line:col of the character inside the string", () => {
    // A port out of range: column 36 of the config.
    let text = EXAMPLE.replace(NAT_LINE, NAT_LINE.replace(":80 ", ":70000 "));
    let e = refused(text);
    let [line, col] = where(text, "70000");
    assert.equal(e.line, line, e.message);
    assert.equal(e.path, "nodes[3].nat[0]");
    // The error's column points at the word the parser names.
    const [, start] = where(text, "1 config if wan");
    assert.ok(e.column >= start && e.column <= col, `${e.column} in ${start}..${col}: ${e.message}`);
    assert.match(e.message, /^nat\.yaml:\d+:\d+: nodes\[3\]\.nat\[0\]: bad nat config: /);
    // The column inside the string the message names, moved by where the string starts.
    const inside = Number(/column (\d+)/.exec(e.message)![1]);
    assert.equal(e.column, start + inside - 1, e.message);
    // An unsupported keyword, in a flow list: the column of the keyword itself.
    text = EXAMPLE.replace(`    nat:\n${NAT_LINE}`, "    nat: [1 config if wan deny_in]");
    e = refused(text);
    [line, col] = where(text, "deny_in");
    assert.equal(e.line, line);
    assert.equal(e.column, col, e.message);
    assert.match(e.message, /bad nat config: .*deny_in/);
    // An interface the node does not have: the column of its name.
    text = EXAMPLE.replace(NAT_LINE, NAT_LINE.replace("if wan", "if wan9"));
    e = refused(text);
    [line, col] = where(text, "wan9");
    assert.equal(e.line, line);
    assert.equal(e.column, col, e.message);
    assert.match(e.message, /bad nat config: node gw has no interface "wan9"/);
    // Strings only (schema).
    assert.match(refused(EXAMPLE.replace(NAT_LINE, "      - { id: 1 }")).message, /nodes\[3\]\.nat\[0\]: must be a string/);
  });

  test("a config the kernel refuses at bring-up names its line; nothing is left", async () => {
    // Parsed fine, but 127.0.0.1 may not be a public address: ipfw_nat_config refuses it.
    const text = EXAMPLE.replace(NAT_LINE, "      - 1 config ip 127.0.0.1");
    await assert.rejects(Topology.up(parseTopology(text, "examples/home_nat.yaml")), (e: unknown) => {
      assert.ok(e instanceof TopologyError, String(e));
      assert.equal(e.line, where(text, "1 config ip 127.0.0.1")[0], e.message);
      assert.match(e.message, /gw nat: ipfw nat 1 config ip 127\.0\.0\.1: .*loopback/);
      return true;
    });
  });
});

/** The example with rule 50 removed: the server's leaked route reaches the private addresses. */
function withoutRule50(spec: TopologySpec): TopologySpec {
  return {
    ...spec,
    nodes: spec.nodes.map((n) => (n.firewall ? { ...n, firewall: { ...n.firewall, rules: n.firewall.rules.filter((r) => !r.text.startsWith("50 ")) } } : n)),
  };
}

/** The example with no NAT instance: `nat 1` then names nothing and drops. */
function withoutNat(spec: TopologySpec): TopologySpec {
  return { ...spec, nodes: spec.nodes.map((n) => (n.firewall ? { ...n, firewall: { ...n.firewall, nat: [] } } : n)) };
}

async function run(spec: TopologySpec, check?: (t: Topology) => void) {
  const t = await Topology.up(spec);
  const cmds = new Commands(t.kernel);
  try {
    check?.(t);
    return await t.runSteps({ exec: (node, cmd) => cmds.exec(t.node(node), cmd) });
  } finally {
    await cmds.close();
    const report = await t.down();
    assert.ok(report.ok, report.text);
  }
}

describe("examples/home_nat.yaml", () => {
  test("every step passes: out through the NAT, private addresses refused, the port-forward in; no leaks", async () => {
    let t!: Topology;
    const results = await run(parseTopology(EXAMPLE, "examples/home_nat.yaml"), (x) => {
      t = x;
      const gw = x.node("gw");
      assert.deepEqual(ipfwList(x.kernel, gw.vnet).map((r) => r.rulenum), [50, 100, 65535]);
      const nat = ipfwNatShow(x.kernel, gw.vnet);
      // `if wan` reached the kernel as the kernel's name for gw's wan, with its address.
      assert.equal(nat.instances.length, 1);
      assert.equal(nat.instances[0]!.address, "203.0.113.1");
      assert.equal(nat.instances[0]!.iface, gw.iface("wan").name);
      assert.notEqual(gw.iface("wan").name, "wan");
      for (const n of x.nodes()) assert.equal(ipfwStats(x.kernel, n.vnet).denied, 0, `${n.name} denied during bring-up`);
    });
    assert.ok(t);
    assert.deepEqual(results.filter((r) => !r.ok).map((r) => `${r.index + 1} ${r.name}: ${r.detail}`), []);
    assert.equal(results.length, 8);
  });

  test("without rule 50 the server pings a private address: the router is what refuses it", async () => {
    const results = await run(withoutRule50(parseTopology(EXAMPLE, "examples/home_nat.yaml")));
    // The ping gets in and its replies out (step 5 now fails its expectation). The TCP step still
    // fails: the SYN gets in untranslated, but h2's SYN-ACK leaves through `nat 1` from the public
    // address, which the server's connection does not know (as with libalias).
    assert.deepEqual(results.filter((r) => !r.ok).map((r) => r.index + 1), [5]);
  });

  test("without the NAT instance nothing crosses the router: the NAT is what carries the LAN out and the forward in", async () => {
    const results = await run(withoutNat(parseTopology(EXAMPLE, "examples/home_nat.yaml")));
    // 1-4 and 7 need the translation; 5, 6 and 8 expected failure and still fail.
    assert.deepEqual(results.filter((r) => !r.ok).map((r) => r.index + 1), [1, 2, 3, 4, 7]);
  });
});
