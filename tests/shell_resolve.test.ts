// Node names where an address is expected (ping, traceroute, route), resolved to the
// node's address on the path in either family (-4/-6 force one), and the hint a host with
// no route gets instead of a bare EHOSTUNREACH.
import { test } from "node:test";
import assert from "node:assert/strict";
import "../host/index.js"; // Node's platform: binaries from disk
import { parseTopology, Topology } from "../host/topology/index.js";
import { Commands, CommandError, CommandFailed } from "../host/shell/commands.js";

const ROUTED = `nodes:
  - name: h1
    interfaces: [{ name: eth0, addresses: [10.0.0.1/24, "fd00:0::1/64"] }]
  - name: r
    role: router
    interfaces:
      - { name: eth0, addresses: [10.0.0.254/24, "fd00:0::fe/64"] }
      - { name: eth1, addresses: [10.0.1.254/24, "fd00:1::fe/64"] }
  - name: h2
    interfaces: [{ name: eth0, addresses: [10.0.1.2/24, "fd00:1::2/64"] }]
    routes: [{ to: default, via: 10.0.1.254 }, { to: "::/0", via: "fd00:1::fe" }]
  - name: v6only
    interfaces: [{ name: eth0, addresses: ["fd00:1::6/64"] }]
    routes: [{ to: "::/0", via: "fd00:1::fe" }]
links:
  - endpoints: [h1:eth0, r:eth0]
  - endpoints: [r:eth1, sw:p1]
  - endpoints: [h2:eth0, sw:p2]
  - endpoints: [v6only:eth0, sw:p3]
`;
const FILE = ROUTED.replace("links:", `  - name: sw
    role: bridge
    interfaces: [{ name: p1 }, { name: p2 }, { name: p3 }]
links:`);

async function lab() {
  const topo = await Topology.up(parseTopology(FILE, "routed.yaml"));
  const cmds = new Commands(topo.kernel);
  const on = (n: string, line: string) => cmds.exec(topo.node(n), line);
  const failure = async (n: string, line: string): Promise<CommandError> => {
    try {
      await on(n, line);
    } catch (e) {
      assert.ok(e instanceof CommandError, String(e));
      return e;
    }
    assert.fail(`${n} ${line}: expected a failure`);
  };
  return { topo, on, failure };
}

test("a node's name where an address goes: the address on the path, IPv4 first, -6 and ping6 for IPv6, route add/get", async () => {
  const { topo, on, failure } = await lab();
  try {
    // The router is reached at its near interface from each side.
    assert.match(await on("h2", "ping -c 1 r"), /^PING r \(10\.0\.1\.254\): 56 data bytes\n64 bytes from 10\.0\.1\.254:/);
    // h1 has no route yet: after adding one through the router by name, h2 is reachable by name.
    assert.equal(await on("h1", "route add default r"), "add net default: gateway 10.0.0.254");
    assert.match(await on("h1", "ping -c 1 h2"), /^PING h2 \(10\.0\.1\.2\)[^]*1 packets received/);
    assert.match(await on("h1", "route get h2"), /route to: 10\.0\.1\.2\n[^]*gateway: 10\.0\.0\.254/);
    assert.match(await on("h2", "ping -c 1 h1"), /1 packets received/);
    assert.match(await on("h2", "ping -6 -c 1 r"), /^PING6\(.*--> fd00:1::fe\n.* bytes from fd00:1::fe/);
    assert.match(await on("h2", "ping6 -c 1 r"), /--> fd00:1::fe\n/);
    assert.match(await on("h2", "traceroute -6 r"), /fd00:1::fe/);
    // A node with IPv6 only is reached over IPv6 without -6; -4 finds nothing.
    assert.match(await on("h2", "ping -c 1 v6only"), /--> fd00:1::6\n/);
    assert.match((await failure("h2", "ping -4 -c 1 v6only")).message, /^ping: node v6only has no IPv4 address to reach it at$/);
    assert.match((await failure("h2", "ping -4 -6 h1")).message, /-4 and -6 exclude each other/);
    assert.match((await failure("h2", "ping -c 1 nosuch")).message, /^ping: "nosuch" is neither an address nor a node \(nodes: h1, r, h2, v6only, sw\)$/);
  } finally {
    await topo.down();
  }
});

test("no route: ping and traceroute say what to add (routes: [{to: default, via: ...}]) naming the router on the link", async () => {
  const { topo, failure } = await lab();
  try {
    const e = await failure("h1", "ping -c 1 h2");
    assert.ok(e instanceof CommandFailed);
    assert.equal(e.message, "ping: no route to 10.0.1.2 from h1: add routes: [{to: default, via: 10.0.0.254}] to node h1, or now: h1 route add default 10.0.0.254");
    assert.match(e.output, /sendto: EHOSTUNREACH/);
    assert.match((await failure("h1", "traceroute 10.0.1.2")).message, /^traceroute: no route to 10\.0\.1\.2 from h1: add routes: \[\{to: default, via: 10\.0\.0\.254\}\]/);
    assert.match((await failure("h1", "ping6 -c 1 fd00:1::2")).message, /^ping6: no route to fd00:1::2 from h1: add routes: \[\{to: default, via: fd00::fe\}\] to node h1, or now: h1 route add -6 default fd00::fe$/);
    // A route that exists but leads nowhere: no hint, the plain failure.
    assert.match((await failure("h2", "ping -c 1 -W 100 10.0.9.9")).message, /^ping: no reply from 10\.0\.9\.9 \(1 sent\)$/);
  } finally {
    await topo.down();
  }
});
