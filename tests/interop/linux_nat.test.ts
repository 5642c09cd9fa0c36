// A Linux host behind a wavnet NAT router (needs root; issue 13, "interop"): a network
// namespace with a Linux vxlan device is the LAN side of a topology file's router gw, over its
// VXLAN port; gw's `nat:` and `100 nat 1 ip from any to any via wan` translate it to gw's one
// public address, and a wavnet server on the WAN side, with no route to the LAN, serves a page.
// curl and ping from Linux get through only because gw translates (the server could not answer
// a private address), and gw's NAT table shows the Linux host's mappings.
//
// .ci/run sets WAVNET_INTEROP=1: then a missing tool or no root is a failure.

import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import "../../host/index.js"; // the Node platform: binaries from disk, VXLAN ports on node:dgram
import { parseTopology, Topology } from "../../host/topology/index.js";
import { Commands } from "../../host/shell/commands.js";
import { linuxVxlan, interopSkip, nsExec, INTEROP_TOOLS, type LinuxVxlan } from "./netns.js";

const VNI = 4344;
const PORT = 4990 + (process.pid % 90);
const tag = `nat${process.pid % 10000}`;
// A page large enough to take many segments, each translated (checksums included) on its way in.
const BIG = "through the NAT ".repeat(8192);

let lx: LinuxVxlan | undefined;
let topo: Topology | undefined;
let cmds: Commands | undefined;

function file(remote: string): string {
  return `name: nat-interop
clock: real
nodes:
  - name: gw
    role: router
    interfaces:
      - { name: lan, kind: vxlan, vni: ${VNI}, remote: "${remote}:${PORT}", localPort: ${PORT}, addresses: [192.168.77.1/24] }
      - { name: wan, addresses: [203.0.113.1/24] }
    nat:
      - 1 config if wan
    firewall:
      - 100 nat 1 ip from any to any via wan
  - name: server
    interfaces: [{ name: eth0, addresses: [203.0.113.80/24] }]
    services:
      - { kind: http, body: "hello from the internet\\n" }
      - { kind: http, port: 8080, body: "${BIG}" }
links:
  - endpoints: [gw:wan, server:eth0]
`;
}

describe("a Linux host behind a wavnet NAT router, over VXLAN", { skip: interopSkip(INTEROP_TOOLS) }, () => {
  before(async () => {
    lx = linuxVxlan({ tag, vni: VNI, port: PORT, linuxAddr: "192.168.77.2/24" });
    const r = await nsExec(lx.ns, ["ip", "route", "add", "default", "via", "192.168.77.1"]);
    assert.equal(r.code, 0, r.stderr);
    topo = await Topology.up(parseTopology(file(lx.underlayLinux), "nat-interop.yaml"));
    cmds = new Commands(topo.kernel);
  });

  after(async () => {
    try {
      await cmds?.close();
      await topo?.down();
    } finally {
      lx?.destroy();
    }
  });

  test("curl from Linux fetches the server's pages through the NAT; ping gets out", async () => {
    const c = await nsExec(lx!.ns, ["curl", "-sS", "--max-time", "10", "http://203.0.113.80/"]);
    assert.equal(c.code, 0, c.stderr);
    assert.equal(c.stdout, "hello from the internet\n");
    const big = await nsExec(lx!.ns, ["curl", "-sS", "--max-time", "20", "http://203.0.113.80:8080/"]);
    assert.equal(big.code, 0, big.stderr);
    assert.equal(big.stdout.length, BIG.length);
    assert.equal(createHash("sha256").update(big.stdout).digest("hex"), createHash("sha256").update(BIG).digest("hex"));
    const p = await nsExec(lx!.ns, ["ping", "-c", "2", "-i", "0.2", "-W", "2", "203.0.113.80"]);
    assert.match(p.stdout, /2 packets transmitted, 2 received/, p.stderr);
  });

  test("gw's NAT table maps the Linux host to the public address", async () => {
    const shown = await cmds!.exec(topo!.node("gw"), "ipfw nat 1 show");
    assert.match(shown, /tcp 192\.168\.77\.2:\d+ -> 203\.0\.113\.1:\d+ \(last 203\.0\.113\.80:80\)/, shown);
    assert.match(shown, /tcp 192\.168\.77\.2:\d+ -> 203\.0\.113\.1:\d+ \(last 203\.0\.113\.80:8080\)/, shown);
    assert.match(shown, /icmp 192\.168\.77\.2:\d+ -> 203\.0\.113\.1:\d+ \(last 203\.0\.113\.80\)/, shown);
  });

  test("without the NAT rule the server cannot answer: the translation is what carries Linux out", async () => {
    await cmds!.exec(topo!.node("gw"), "ipfw delete 100");
    const c = await nsExec(lx!.ns, ["curl", "-sS", "--max-time", "3", "http://203.0.113.80/"]);
    assert.notEqual(c.code, 0, c.stdout);
  });
});
