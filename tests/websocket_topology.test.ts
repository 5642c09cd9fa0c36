import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import net from "node:net";
import dgram from "node:dgram";
import { Topology, parseTopology, TopologyError, TopologyErrors } from "../host/index.js";
import { setWebSocketListenerFactory, webSocketListenerFactory } from "../host/topology/ports.js";
import type { WebSocketInterface } from "../host/wire/websocket.js";

// websocket interfaces in topology files: a lab that listens (the CLI's, wavnet run --listen)
// and a lab that connects (what a browser page runs), joined in one process; the gateway
// story of docs/websocket.md (a page lab, through a CLI lab's bridge and VXLAN port, reaches
// a third lab standing in for a Linux host); and every error at its line.

function netHandles(): number {
  return process.getActiveResourcesInfo().filter((r) => r === "TCPSocketWrap" || r === "TCPServerWrap" || r === "UDPWrap").length;
}

function errorsOf(e: unknown): string[] {
  if (e instanceof TopologyErrors) return e.errors.map((x) => x.message);
  if (e instanceof TopologyError) return [e.message];
  throw e;
}

function parseErrors(text: string): string[] {
  try {
    parseTopology(text, "t.yaml");
  } catch (e) {
    return errorsOf(e);
  }
  return [];
}

async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket("udp4");
  await new Promise<void>((r) => s.bind(0, "127.0.0.1", () => r()));
  const p = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

const SERVER = `name: cli-lab
nodes:
  - name: gw
    interfaces:
      - { name: ws0, kind: websocket, listen: true, addresses: [10.80.0.1/24] }
    services: [{ kind: http, body: "from the CLI lab\\n" }]
`;

const client = (url: string) => `name: page-lab
nodes:
  - name: p
    interfaces:
      - { name: up0, kind: websocket, url: "${url}", addresses: [10.80.0.2/24] }
steps:
  - ping: { from: p, to: 10.80.0.1, count: 3 }
  - http: { from: p, to: 10.80.0.1, contains: "from the CLI lab" }
`;

describe("websocket interfaces in topologies", () => {
  test("a lab that connects joins a lab that listens: ping and http steps pass, both tear down clean", async () => {
    const handles = netHandles();
    const S = await Topology.up(parseTopology(SERVER, "server.yaml"), { listen: { port: 0 } });
    assert.equal(S.kernel.clock.kind, "real", "websocket interfaces make the default clock real");
    const url = S.listener!.url("/gw/ws0");
    assert.match(url, /^ws:\/\/127\.0\.0\.1:\d+\/gw\/ws0$/);
    const C = await Topology.up(parseTopology(client(url), "page.yaml"));
    try {
      const gw = S.node("gw").iface("ws0") as WebSocketInterface;
      assert.equal(gw.name, "ws0", "the kernel interface carries the file's name");
      assert.ok(gw.connected && gw.running);
      assert.deepEqual(S.node("gw").interfaces().map((i) => i.kind), ["websocket"]);
      const r = await C.runSteps();
      for (const x of r) assert.ok(x.ok, `${x.name}: ${x.detail}`);
    } finally {
      const rc = await C.down();
      const rs = await S.down();
      assert.ok(rc.ok, rc.text);
      assert.ok(rs.ok, rs.text);
    }
    for (let i = 0; i < 100 && netHandles() > handles; i++) await sleep(10);
    assert.equal(netHandles(), handles, "every socket and the server closed");
  });

  test("a page lab reaches a host behind a CLI lab's bridge of its websocket and VXLAN ports (the Linux host's place)", async () => {
    const [pg, px] = [await freeUdpPort(), await freeUdpPort()];
    // The CLI lab: gw bridges ws0 (the page) and vx0 (the far host); MTUs must match.
    const S = await Topology.up(parseTopology(`name: gateway
nodes:
  - name: gw
    interfaces:
      - { name: ws0, kind: websocket, listen: true, mtu: 1450 }
      - { name: vx0, kind: vxlan, vni: 42, remote: "127.0.0.1:${px}", localPort: ${pg} }
      - { name: br0, kind: bridge, members: [ws0, vx0] }
`, "gateway.yaml"), { listen: { port: 0 } });
    // Standing in for Linux: a vxlan port with the same VNI and an HTTP server.
    const X = await Topology.up(parseTopology(`name: far
clock: real
nodes:
  - name: linux
    interfaces:
      - { name: vx0, kind: vxlan, vni: 42, remote: "127.0.0.1:${pg}", localPort: ${px}, addresses: [10.42.0.7/24] }
    services: [{ kind: http, body: "far host\\n" }]
`, "far.yaml"));
    const C = await Topology.up(parseTopology(`name: page
nodes:
  - name: p
    interfaces:
      - { name: up0, kind: websocket, url: "${S.listener!.url("/gw/ws0")}", mtu: 1450, addresses: [10.42.0.2/24] }
steps:
  - ping: { from: p, to: 10.42.0.7, count: 3 }
  - http: { from: p, to: 10.42.0.7, contains: far host }
`, "page.yaml"));
    try {
      const r = await C.runSteps();
      for (const x of r) assert.ok(x.ok, `${x.name}: ${x.detail}`);
    } finally {
      for (const t of [C, X, S]) {
        const rep = await t.down();
        assert.ok(rep.ok, rep.text);
      }
    }
  });

  test("up-time errors at their lines, with nothing left behind", async () => {
    const handles = netHandles();
    const spec = parseTopology(SERVER, "server.yaml");
    await assert.rejects(Topology.up(spec), (e: unknown) => errorsOf(e)[0] === "server.yaml:5:9: nodes[0].interfaces[0]: gw:ws0: listen: true needs a listener (wavnet run --listen PORT, or Topology.up(spec, { listen: { port } }))");
    await assert.rejects(Topology.up(spec, { clock: "virtual", listen: { port: 0 } }), (e: unknown) => /^server\.yaml:5:9: .*gw:ws0: websocket interfaces need a real clock \(clock: real, or --real-time\)/.test(errorsOf(e)[0]));
    const plain = parseTopology("name: plain\nnodes:\n  - name: a\n", "plain.yaml");
    await assert.rejects(Topology.up(plain, { listen: { port: 0 } }), /plain\.yaml: listen: plain has no websocket interface with listen: true to serve/);
    // A port in use: the listener's error, at the first listening interface.
    const hold = net.createServer();
    await new Promise<void>((r) => hold.listen(0, "127.0.0.1", () => r()));
    const port = (hold.address() as net.AddressInfo).port;
    await assert.rejects(Topology.up(spec, { listen: { port } }), (e: unknown) => new RegExp(`^server\\.yaml:5:9: .*gw:ws0: websocket listen: cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`).test(errorsOf(e)[0]));
    // Nobody there: the client's interface line, and the kernel it booted is gone.
    await new Promise<void>((r) => hold.close(() => r()));
    await assert.rejects(Topology.up(parseTopology(client(`ws://127.0.0.1:${port}/gw/ws0`), "page.yaml")), (e: unknown) => /^page\.yaml:5:9: .*websocket up0 ws:\/\/127\.0\.0\.1:\d+\/gw\/ws0: .*(ECONNREFUSED|connection failed)/.test(errorsOf(e)[0]));
    for (let i = 0; i < 100 && netHandles() > handles; i++) await sleep(10);
    assert.equal(netHandles(), handles);
  });

  test("without Node's listener maker (a browser), listen: true fails at its line saying what it needs", async () => {
    const f = webSocketListenerFactory();
    assert.ok(f, "importing wavnet registers Node's maker");
    setWebSocketListenerFactory(undefined);
    try {
      await assert.rejects(Topology.up(parseTopology(SERVER, "server.yaml"), { listen: { port: 0 } }),
        (e: unknown) => /^server\.yaml:5:9: .*need a server, which only Node has \(import wavnet or wavnet\/node\)/.test(errorsOf(e)[0]));
    } finally {
      setWebSocketListenerFactory(f);
    }
  });
});

describe("websocket interfaces: the file's checks", () => {
  test("url or listen, one of them; ws:// or wss://; the fields only on their kind", () => {
    const node = (iface: string) => `nodes:\n  - name: a\n    interfaces:\n      - ${iface}\n`;
    assert.deepEqual(parseErrors(node("{ name: ws0, kind: websocket }")), [
      `t.yaml:4:9: nodes[0].interfaces[0]: a websocket interface needs "url" (ws://... of its peer) or "listen: true" (served at /a/ws0 by wavnet run --listen)`,
    ]);
    assert.deepEqual(parseErrors(node(`{ name: ws0, kind: websocket, url: "ws://h:1/x", listen: true }`)), [
      `t.yaml:4:66: nodes[0].interfaces[0].listen: a websocket interface either connects ("url") or accepts a connection ("listen: true"), not both`,
    ]);
    assert.deepEqual(parseErrors(node(`{ name: ws0, kind: websocket, url: "http://h:1/x" }`)), [
      `t.yaml:4:44: nodes[0].interfaces[0].url: bad url: "http://h:1/x" is not ws:// or wss://`,
    ]);
    assert.deepEqual(parseErrors(node(`{ name: ws0, kind: websocket, url: "ws://h:1/x#frag" }`)), [
      `t.yaml:4:44: nodes[0].interfaces[0].url: bad url: "ws://h:1/x#frag" has a fragment; a WebSocket URL has none`,
    ]);
    assert.deepEqual(parseErrors(node(`{ name: ws0, kind: websocket, url: "not a url" }`)), [
      `t.yaml:4:44: nodes[0].interfaces[0].url: bad url: "not a url" is not a URL (ws://host:port/path)`,
    ]);
    assert.ok(parseErrors(node(`{ name: e0, url: "ws://h:1/x" }`)).includes(
      `t.yaml:4:21: nodes[0].interfaces[0].url: "url" is for interfaces of kind websocket; this one is ether`,
    ));
    assert.deepEqual(parseErrors(node(`{ name: ws0, kind: websocket, listen: "yes" }`)), [
      `t.yaml:4:47: nodes[0].interfaces[0].listen: must be a boolean, got string "yes"`,
    ]);
    assert.deepEqual(parseErrors(node(`{ name: ws0, kind: websokcet, listen: true }`)).length, 1);
  });

  test("websocket and vxlan interfaces join bridges; a role bridge takes its websocket interfaces too", () => {
    const spec = parseTopology(`nodes:
  - name: sw
    role: bridge
    interfaces:
      - { name: ws0, kind: websocket, listen: true }
      - { name: p1 }
  - name: gw
    interfaces:
      - { name: ws0, kind: websocket, url: "wss://lab.example/sw/ws0" }
      - { name: vx0, kind: vxlan, vni: 1, remote: "127.0.0.1:4789" }
      - { name: br0, kind: bridge, members: [ws0, vx0] }
  - name: h
    interfaces: [{ name: eth0 }]
links:
  - endpoints: [sw:p1, h:eth0]
`, "t.yaml");
    assert.deepEqual(spec.nodes[0].interfaces.find((i) => i.name === "bridge0")!.members, ["ws0", "p1"]);
    assert.equal(spec.nodes[1].interfaces[0].url, "wss://lab.example/sw/ws0");
    assert.equal(spec.nodes[0].interfaces[0].listen, true);
    assert.deepEqual(parseErrors(`nodes:
  - name: gw
    interfaces:
      - { name: b1, kind: bridge }
      - { name: b2, kind: bridge, members: [b1] }
`), [`t.yaml:5:45: nodes[0].interfaces[1].members[0]: bridge b2: member b1 is of kind bridge; ether, vxlan and websocket interfaces join a bridge`]);
  });
});
