import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { parseTopology, TopologyError, TopologyErrors } from "../host/topology/index.js";
import { loadTopology } from "../host/index.js";
import { TOPOLOGY_SCHEMA } from "../host/topology/parse.js";
import { readFileSync } from "node:fs";

// Topology files: every kind of mistake gives exactly one message, naming the file, the line
// and column, and the field path; a file with several mistakes lists each once.

/** The single TopologyError parseTopology throws for text. */
function only(text: string, file = "t.yaml"): TopologyError {
  try {
    parseTopology(text, file);
  } catch (e) {
    if (e instanceof TopologyErrors) assert.fail(`expected one problem, got ${e.errors.length}:\n${e.message}`);
    assert.ok(e instanceof TopologyError, `expected a TopologyError, got ${String(e)}`);
    return e;
  }
  assert.fail("parseTopology accepted the file");
}

const HOSTS = `nodes:
  - name: a
    interfaces:
      - { name: eth0, addresses: [10.0.0.1/24] }
  - name: b
    interfaces:
      - { name: eth0, addresses: [10.0.0.2/24] }
links:
  - endpoints: [a:eth0, b:eth0]
`;

describe("topology files: a valid file", () => {
  test("two hosts on a link: nodes, interfaces, link, defaults filled in", () => {
    const s = parseTopology(HOSTS, "two.yaml");
    assert.equal(s.name, "two");
    assert.equal(s.kernel, "GENERIC");
    assert.deepEqual(s.nodes.map((n) => [n.name, n.role, n.forwarding]), [["a", "host", false], ["b", "host", false]]);
    assert.deepEqual(s.links.map((l) => [l.a, l.b]), [[{ node: "a", iface: "eth0" }, { node: "b", iface: "eth0" }]]);
    assert.equal(s.nodes[1].origin.line, 5);
  });

  test("conditions in file units become the epair's units, forward and reverse over the shared ones", () => {
    const s = parseTopology(HOSTS.replace("links:\n  - endpoints: [a:eth0, b:eth0]\n", `links:
  - endpoints: [a:eth0, b:eth0]
    conditions: { delay: 10ms, jitter: 500us, rate: 1.5Mbit, loss: 1% }
    forward: { loss: 0.2, duplicate: "0.5%" }
    reverse: { delay: 1s, reorder: 10% }
    schedule:
      - { at: 2s, conditions: { loss: 0 } }
      - { at: 500ms, forward: { rate: 1Gbit/s } }
`));
    const l = s.links[0];
    assert.deepEqual(l.forward, { delayUs: 10000, jitterUs: 500, rateBps: 1_500_000, loss: 0.2, duplicate: 0.005 });
    assert.deepEqual(l.reverse, { delayUs: 1_000_000, jitterUs: 500, rateBps: 1_500_000, loss: 0.01, reorder: 0.1 });
    assert.deepEqual(l.schedule.map((x) => [x.atUs, x.forward, x.reverse]), [
      [500_000, { rateBps: 1e9 }, undefined],
      [2_000_000, { loss: 0 }, { loss: 0 }],
    ]);
  });

  test("steps: defaults, names, expectations", () => {
    const s = parseTopology(`${HOSTS}steps:
  - ping: { from: a, to: b }
  - ping: { from: a, to: 10.0.0.2, count: 10, expect: "loss <= 20%" }
  - tcp: { from: a, to: b, bytes: 64KiB, within: 2s }
  - name: quiet
    sleep: 1.5s
  - link: { endpoint: b:eth0, forward: { loss: 100% } }
  - capture: { on: a:eth0 }
  - capture: { off: a:eth0 }
  - shell: { node: a, cmd: netstat -rn, contains: "10.0.0" }
`);
    const st = s.steps;
    assert.deepEqual(st.map((x) => x.action), ["ping", "ping", "tcp", "sleep", "link", "capture", "capture", "shell"]);
    assert.equal(st[0].name, "ping a -> b");
    assert.deepEqual((st[1] as { expect: unknown }).expect, { kind: "loss", maxPct: 20, strict: false });
    assert.equal((st[2] as { bytes: number }).bytes, 65536);
    assert.equal((st[2] as { withinUs: number }).withinUs, 2_000_000);
    assert.equal(st[3].name, "quiet");
    // A link step names the link by either end; directions are the link's own (a -> b).
    assert.deepEqual([(st[4] as { endpoint: string }).endpoint, (st[4] as { forward: unknown }).forward], ["a:eth0", { loss: 1 }]);
    assert.equal((st[5] as { file: string }).file, "a-eth0.pcapng");
  });

  test("the schema shipped in schema/ is JSON Schema draft-07, names every top-level field, and is the one the parser uses", () => {
    const schema = JSON.parse(readFileSync(new URL("../schema/topology.schema.json", import.meta.url), "utf8"));
    assert.deepEqual(TOPOLOGY_SCHEMA, schema);
    assert.equal(schema.$schema, "http://json-schema.org/draft-07/schema#");
    assert.deepEqual(Object.keys(schema.properties).sort(), ["clock", "description", "generators", "kernel", "links", "name", "nodes", "seed", "steps"]);
  });

  test("loadTopology names an unreadable file", () => {
    assert.throws(() => loadTopology("/nonexistent/x.yaml"), (e: unknown) => e instanceof TopologyError && /\/nonexistent\/x\.yaml: cannot read/.test((e as Error).message));
  });
});

describe("topology files: one clear message per mistake, at its line", () => {
  test("unknown field: the key's line and column, the field path, the known fields", () => {
    const e = only(`nodes:
  - name: a
    colour: red
`);
    assert.equal(e.file, "t.yaml");
    assert.equal(e.line, 3);
    assert.equal(e.column, 5);
    assert.equal(e.path, "nodes[0].colour");
    assert.match(e.message, /^t\.yaml:3:5: nodes\[0\]\.colour: unknown field "colour" \(known: name, role, kernel, forwarding, partition, interfaces, routes, services, firewall, nat, firewallDefault\)$/);
  });

  test("a misspelt required field is one mistake: the unknown field says what was meant", () => {
    let e = only(`nodes:\n  - nmae: a\n`);
    assert.equal(e.path, "nodes[0].nmae");
    assert.match(e.message, /unknown field "nmae" \(did you mean "name"\?\)$/);
    e = only(`${HOSTS}steps:\n  - ping: { form: a, to: b }\n`);
    assert.equal(e.line, 11);
    assert.match(e.message, /steps\[0\]\.ping\.form: unknown field "form" \(did you mean "from"\?\)$/);
  });

  test("a capture file is a name inside the pcap folder, never a path out of it", () => {
    for (const bad of ["../x.pcapng", "/etc/cron.d/x", "sub/x.pcapng", "..\\\\x", "C:x", "..", "a\\u0000b"]) {
      const e = only(`${HOSTS}steps:\n  - capture: { on: a:eth0, file: ${JSON.stringify(bad)} }\n`);
      assert.equal(e.line, 11, bad);
      assert.equal(e.path, "steps[0].capture.file", bad);
      assert.match(e.message, /bad capture file .*: a file name inside the pcap folder, not a path/, bad);
    }
    const s = parseTopology(`${HOSTS}steps:\n  - capture: { on: a:eth0, file: "run 1.a-eth0.pcapng" }\n`);
    assert.equal((s.steps[0] as { file: string }).file, "run 1.a-eth0.pcapng");
  });

  test("duplicate node: the second one, pointing at the first", () => {
    const e = only(`nodes:
  - name: a
  - name: b
  - name: a
`);
    assert.equal(e.line, 4);
    assert.equal(e.path, "nodes[2]");
    assert.match(e.message, /duplicate node "a" \(first at line 2\)/);
  });

  test("a generated node that clashes with a declared one", () => {
    const e = only(`nodes:
  - name: c1
generators:
  - { shape: chain, name: c, length: 3 }
`);
    assert.equal(e.line, 4);
    assert.match(e.message, /generators\[0\]: duplicate node "c1" \(first at line 2\)/);
  });

  test("link to a missing node", () => {
    const e = only(HOSTS.replace("[a:eth0, b:eth0]", "[a:eth0, bb:eth0]"));
    assert.equal(e.line, 9);
    assert.equal(e.path, "links[0].endpoints[1]");
    assert.match(e.message, /link to a missing node "bb" \(did you mean "b"\?\)/);
  });

  test("link to a missing interface names the ones there are", () => {
    const e = only(HOSTS.replace("[a:eth0, b:eth0]", "[a:eth0, b:eth1]"));
    assert.equal(e.line, 9);
    assert.equal(e.path, "links[0].endpoints[1]");
    assert.match(e.message, /link to a missing interface: node b has no interface "eth1" \(it has eth0\)/);
  });

  test("an interface used by two links", () => {
    const e = only(`${HOSTS}  - endpoints: [b:eth0, a:eth0]\n`);
    assert.equal(e.line, 10);
    assert.match(e.message, /b:eth0 is already on the link at line 9/);
  });

  test("bad address: a part over 255", () => {
    const e = only(HOSTS.replace("10.0.0.2/24", "10.0.0.256/24"));
    assert.equal(e.line, 7);
    assert.equal(e.path, "nodes[1].interfaces[0].addresses[0]");
    assert.match(e.message, /bad address: "10\.0\.0\.256" is not an IPv4 address: 256 is over 255/);
  });

  test("bad address: the network address of its prefix", () => {
    const e = only(HOSTS.replace("10.0.0.2/24", "10.0.0.0/24"));
    assert.equal(e.line, 7);
    assert.match(e.message, /bad address: 10\.0\.0\.0 is the network address of \/24/);
  });

  test("bad address: the same address twice", () => {
    const e = only(HOSTS.replace("10.0.0.2/24", "10.0.0.1/24"));
    assert.equal(e.line, 7);
    assert.match(e.message, /bad address: 10\.0\.0\.1 is also on a:eth0 \(line 4\)/);
  });

  test("bad address: IPv6 text that is not IPv6", () => {
    const e = only(HOSTS.replace("10.0.0.2/24", "fd00::1::2/64"));
    assert.match(e.message, /bad address: "fd00::1::2" is not an IPv6 address: "::" appears more than once/);
  });

  test("bad prefix: length over 32, and a missing length", () => {
    let e = only(HOSTS.replace("10.0.0.2/24", "10.0.0.2/33"));
    assert.equal(e.line, 7);
    assert.match(e.message, /bad prefix: length "33" in "10\.0\.0\.2\/33" is not 0-32/);
    e = only(HOSTS.replace("10.0.0.2/24", "10.0.0.2"));
    assert.match(e.message, /bad prefix: "10\.0\.0\.2" needs a prefix length/);
  });

  test("bad route: host bits beyond the prefix, with the network it probably meant", () => {
    const e = only(HOSTS.replace("      - { name: eth0, addresses: [10.0.0.2/24] }\n", "      - { name: eth0, addresses: [10.0.0.2/24] }\n    routes:\n      - { to: 10.9.0.1/16, via: 10.0.0.1 }\n"));
    assert.equal(e.line, 9);
    assert.equal(e.path, "nodes[1].routes[0].to");
    assert.match(e.message, /bad route: 10\.9\.0\.1\/16 has host bits set beyond \/16 \(did you mean 10\.9\.0\.0\/16\?\)/);
  });

  test("bad route: a gateway that is not on any network of the node", () => {
    const e = only(HOSTS.replace("      - { name: eth0, addresses: [10.0.0.2/24] }\n", "      - { name: eth0, addresses: [10.0.0.2/24] }\n    routes:\n      - { to: default, via: 10.1.0.1 }\n"));
    assert.equal(e.line, 9);
    assert.equal(e.path, "nodes[1].routes[0].via");
    assert.match(e.message, /bad route: gateway 10\.1\.0\.1 is not on a network of b \(its networks: 10\.0\.0\.0\/24\)/);
  });

  test("bad route: neither via nor dev", () => {
    const e = only(`nodes:\n  - name: a\n    routes:\n      - to: default\n`);
    assert.equal(e.line, 4);
    assert.match(e.message, /bad route: to default needs "via" \(a next-hop address\) or "dev" \(an interface\)/);
  });

  test("bad condition value: a probability over 100%", () => {
    const e = only(HOSTS.replace("[a:eth0, b:eth0]\n", "[a:eth0, b:eth0]\n    conditions: { loss: 150% }\n"));
    assert.equal(e.line, 10);
    assert.equal(e.path, "links[0].conditions.loss");
    assert.match(e.message, /bad condition value: loss: "150%" is not between 0 and 1/);
  });

  test("bad condition value: a duration without a unit it knows", () => {
    const e = only(HOSTS.replace("[a:eth0, b:eth0]\n", "[a:eth0, b:eth0]\n    forward: { delay: 10 parsecs }\n"));
    assert.equal(e.path, "links[0].forward.delay");
    assert.match(e.message, /bad condition value: delay: "10 parsecs" is not a duration/);
  });

  test("bad condition value: reorder without a delay", () => {
    const e = only(HOSTS.replace("[a:eth0, b:eth0]\n", "[a:eth0, b:eth0]\n    conditions: { reorder: 5% }\n"));
    assert.match(e.message, /bad condition value: reorder needs a delay/);
  });

  test("unknown generator parameter: one no shape takes", () => {
    const e = only(`generators:\n  - shape: tree\n    depth: 2\n    fanout: 2\n    width: 3\n`);
    assert.equal(e.line, 5);
    assert.equal(e.path, "generators[0].width");
    assert.match(e.message, /unknown generator parameter "width"/);
  });

  test("unknown generator parameter: one another shape takes", () => {
    const e = only(`generators:\n  - shape: chain\n    length: 3\n    fanout: 2\n`);
    assert.equal(e.line, 4);
    assert.match(e.message, /unknown generator parameter "fanout" for shape chain \(it takes: name, subnet, conditions, length\)/);
  });

  test("a generator's missing parameter and a subnet too small for its shape", () => {
    let e = only(`generators:\n  - shape: grid\n    rows: 2\n`);
    assert.match(e.message, /a grid generator needs "cols"/);
    e = only(`generators:\n  - shape: tree\n    depth: 3\n    fanout: 10\n    subnet: 10.0.0.0/24\n`);
    assert.equal(e.line, 5);
    assert.match(e.message, /subnet 10\.0\.0\.0\/24 has 256 addresses; this tree needs more/);
  });

  test("wrong type and wrong enum value, from the schema", () => {
    let e = only(`nodes:\n  - name: a\n    role: switch\n`);
    assert.equal(e.line, 3);
    assert.match(e.message, /nodes\[0\]\.role: must be one of "host", "router", "bridge"; got "switch"/);
    e = only(`nodes:\n  - name: a\n    interfaces: eth0\n`);
    assert.match(e.message, /nodes\[0\]\.interfaces: must be a list, got string "eth0"/);
  });

  test("YAML syntax and duplicate keys are reported at their line", () => {
    let e = only(`nodes:\n  - name: a\n    role: host\n    role: router\n`);
    assert.equal(e.line, 4);
    assert.match(e.message, /YAML: Map keys must be unique/);
    e = only(`nodes: [ { name: a }\nlinks: []\n`);
    assert.ok(e.line >= 1);
    assert.match(e.message, /^t\.yaml:\d+:\d+: YAML: /);
  });

  test("step mistakes: two actions, a missing node, a bad expectation", () => {
    let e = only(`${HOSTS}steps:\n  - ping: { from: a, to: b }\n    sleep: 1s\n`);
    assert.equal(e.line, 11);
    assert.match(e.message, /a step has one action; this one has ping and sleep/);
    e = only(`${HOSTS}steps:\n  - ping: { from: z, to: b }\n`);
    assert.equal(e.path, "steps[0].ping.from");
    assert.match(e.message, /no node "z"/);
    e = only(`${HOSTS}steps:\n  - ping: { from: a, to: b, expect: mostly }\n`);
    assert.match(e.message, /bad expectation "mostly"/);
  });

  test("kernel configuration: unknown modules, unknown sysctls and bad sysctl values", () => {
    let e = only(`kernel: MINIMAL\nnodes:\n  - name: a\n`);
    assert.equal(e.line, 1);
    assert.match(e.message, /unknown kernel configuration "MINIMAL" \(known: .*GENERIC/);
    e = only(`nodes:\n  - name: a\n    kernel:\n      modules: [pf]\n`);
    assert.equal(e.path, "nodes[0].kernel.modules[0]");
    assert.match(e.message, /unknown module "pf" \(known: .*if_epair.*tcp/);
    e = only(`nodes:\n  - name: a\n    kernel:\n      sysctl: { net.inet.ip.ttl: 3 }\n`);
    assert.equal(e.line, 4);
    assert.match(e.message, /unknown sysctl "net\.inet\.ip\.ttl" \(near it: net\.inet\.ip\.forwarding, .*sysctl -a lists them\)/);
    e = only(`nodes:\n  - name: a\n    kernel:\n      sysctl: { net.inet.tcp.cc.algorithm: vegas }\n`);
    assert.match(e.message, /net\.inet\.tcp\.cc\.algorithm must be "newreno" or "cubic", got "vegas"/);
  });

  test("services: a port taken twice in one node, a body on a non-http service", () => {
    let e = only(`nodes:\n  - name: a\n    services:\n      - { kind: tcp-echo, port: 80 }\n      - { kind: http }\n`);
    assert.equal(e.line, 5);
    assert.match(e.message, /a already has a tcp service on port 80 \(line 4\)/);
    e = only(`nodes:\n  - name: a\n    services:\n      - { kind: udp-echo, body: hi }\n`);
    assert.match(e.message, /"body" is for http services; this one is udp-echo/);
  });

  test("several mistakes: each once, in file order", () => {
    try {
      parseTopology(`nodes:\n  - name: a\n    interfaces:\n      - { name: eth0, addresses: [10.0.0.1/40] }\n  - name: a\n`, "multi.yaml");
      assert.fail("accepted");
    } catch (e) {
      assert.ok(e instanceof TopologyErrors);
      assert.deepEqual(e.errors.map((x) => x.line), [4, 4, 5]);
      assert.match(e.errors[0].message, /multi\.yaml:4:9: nodes\[0\]\.interfaces\[0\]: interface a:eth0 is on no link/);
      assert.match(e.errors[1].message, /bad prefix/);
      assert.match(e.errors[2].message, /duplicate node "a"/);
      assert.match(e.message, /^3 problems:/);
    }
  });
});
