import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { parseTopology, Topology, routes, ping, type TopologySpec, type NodeSpec } from "../host/index.js";

// Generators expand into the right numbers of nodes, links, addresses and routes, and what
// they make works: every node reaches every other.

function gen(yaml: string): TopologySpec {
  return parseTopology(`generators:\n${yaml}`, "gen.yaml");
}

function addrs(spec: TopologySpec): string[] {
  return spec.nodes.flatMap((n) => n.interfaces.flatMap((i) => i.addresses));
}

function byName(spec: TopologySpec, name: string): NodeSpec {
  const n = spec.nodes.find((x) => x.name === name);
  assert.ok(n, `no node ${name}`);
  return n;
}

describe("generators: counts and addresses", () => {
  test("chain of 5: hosts at the ends, 3 routers, 4 /30 links in order, shortest-path routes", () => {
    const s = gen("  - { shape: chain, name: c, length: 5, subnet: 10.1.0.0/24 }\n");
    assert.deepEqual(s.nodes.map((n) => `${n.name}:${n.role}`), ["c1:host", "c2:router", "c3:router", "c4:router", "c5:host"]);
    assert.equal(s.links.length, 4);
    assert.deepEqual(addrs(s), ["10.1.0.1/30", "10.1.0.2/30", "10.1.0.5/30", "10.1.0.6/30", "10.1.0.9/30", "10.1.0.10/30", "10.1.0.13/30", "10.1.0.14/30"]);
    assert.deepEqual(byName(s, "c1").routes.map((r) => [r.to, r.via]), [["default", "10.1.0.2"]]);
    // c3 is on links 2 and 3; links 1 and 4 are one hop away on either side.
    assert.deepEqual(byName(s, "c3").routes.map((r) => [r.to, r.via]), [["10.1.0.0/30", "10.1.0.5"], ["10.1.0.12/30", "10.1.0.10"]]);
    assert.ok(byName(s, "c2").forwarding && !byName(s, "c1").forwarding);
  });

  test("star around a bridge: one subnet, every port a member of bridge0", () => {
    const s = gen("  - { shape: star, name: s, leaves: 6, subnet: 192.168.50.0/24 }\n");
    assert.equal(s.nodes.length, 7);
    const hub = byName(s, "s0");
    assert.equal(hub.role, "bridge");
    assert.deepEqual(hub.interfaces.find((i) => i.kind === "bridge")?.members, ["p1", "p2", "p3", "p4", "p5", "p6"]);
    // 6 leaves and network + broadcast fit in a /29.
    assert.deepEqual(addrs(s), ["192.168.50.1/29", "192.168.50.2/29", "192.168.50.3/29", "192.168.50.4/29", "192.168.50.5/29", "192.168.50.6/29"]);
    assert.equal(s.nodes.reduce((n, x) => n + x.routes.length, 0), 0);
  });

  test("star around a router: a /30 per leaf and a default route through the centre", () => {
    const s = gen("  - { shape: star, name: r, leaves: 3, center: router, subnet: 10.2.0.0/24 }\n");
    assert.equal(byName(s, "r0").role, "router");
    assert.deepEqual(s.nodes.slice(1).map((n) => n.routes.map((r) => `${r.to} via ${r.via}`)), [["default via 10.2.0.1"], ["default via 10.2.0.5"], ["default via 10.2.0.9"]]);
  });

  test("tree depth 3 fanout 10: 1,111 nodes, 1,110 links, unique addresses, one route per child subtree", () => {
    const s = gen("  - { shape: tree, name: t, depth: 3, fanout: 10, subnet: 10.0.0.0/16 }\n");
    assert.equal(s.nodes.length, 1111);
    assert.equal(s.links.length, 1110);
    assert.equal(s.nodes.filter((n) => n.role === "router").length, 111);
    assert.equal(s.nodes.filter((n) => n.role === "host").length, 1000);
    const a = addrs(s);
    assert.equal(a.length, 2220);
    assert.equal(new Set(a.map((x) => x.split("/")[0])).size, 2220);
    // Every non-root node: a default route up. Root and level-1 routers: one route per child
    // that has children (10 + 100); level-2 routers' children are hosts on connected /30s.
    const total = s.nodes.reduce((n, x) => n + x.routes.length, 0);
    assert.equal(total, 1110 + 10 + 100);
    assert.deepEqual(byName(s, "t").routes.length, 10);
    assert.equal(byName(s, "t-3-4-5").routes[0].to, "default");
    // The whole tree fits in 10.0.0.0/18 (root block: 10 blocks of 1,024 rounded up to 16,384).
    assert.ok(a.every((x) => x.startsWith("10.0.") && Number(x.split(".")[2]) < 64));
  });

  test("grid 3x4: 12 routers, 17 links, a route to every link a router is not on", () => {
    const s = gen("  - { shape: grid, name: g, rows: 3, cols: 4 }\n");
    assert.equal(s.nodes.length, 12);
    assert.equal(s.links.length, 17);
    for (const n of s.nodes) {
      const own = n.interfaces.length;
      assert.equal(n.routes.length, 17 - own, `${n.name}: ${n.routes.length} routes, ${own} links`);
    }
    // Default subnets: the first generator takes 172.16.0.0/16.
    assert.ok(addrs(s).every((x) => x.startsWith("172.16.")));
  });

  test("generators get separate default subnets and conditions on every link", () => {
    const s = gen("  - { shape: chain, length: 2 }\n  - { shape: chain, name: m, length: 2, conditions: { delay: 3ms } }\n");
    assert.deepEqual(addrs(s), ["172.16.0.1/30", "172.16.0.2/30", "172.17.0.1/30", "172.17.0.2/30"]);
    assert.deepEqual(s.links[1].forward, { delayUs: 3000 });
    assert.deepEqual(s.links[1].reverse, { delayUs: 3000 });
  });
});

describe("generators: what they make works", () => {
  test("tree depth 3 fanout 3: every leaf pings the farthest leaf, routes are in the kernel", async () => {
    const s = gen("  - { shape: tree, name: t, depth: 3, fanout: 3 }\n");
    const t = await Topology.up(s);
    try {
      const k = t.kernel;
      assert.equal(routes(k, t.node("t").vnet).filter((r) => !r.connected).length, 3 + 0);
      for (const leaf of ["t-1-1-1", "t-2-3-2", "t-3-3-3"]) {
        const r = await ping(k, t.node(leaf).vnet, t.addressOf("t-3-3-1"), { count: 1, timeoutMs: 500 });
        assert.equal(r.received, 1, `${leaf}: ${r.text}`);
      }
      // Across the root: 5 routers forward (ttl 64 - 5).
      const far = await ping(k, t.node("t-1-1-1").vnet, t.addressOf("t-3-3-3"), { count: 1 });
      assert.equal(far.replies[0].ttl, 59);
    } finally {
      const rep = await t.down();
      assert.ok(rep.ok, rep.text);
    }
  });

  test("grid 4x4: corner to corner and back, every router reachable from g-1-1", async () => {
    const s = gen("  - { shape: grid, name: g, rows: 4, cols: 4 }\n");
    const t = await Topology.up(s);
    try {
      for (const n of s.nodes) {
        if (n.name === "g-1-1") continue;
        const r = await ping(t.kernel, t.node("g-1-1").vnet, t.addressOf(n.name), { count: 1, timeoutMs: 200 });
        assert.equal(r.received, 1, `g-1-1 -> ${n.name}: ${r.text}`);
      }
    } finally {
      assert.ok((await t.down()).ok);
    }
  });
});
