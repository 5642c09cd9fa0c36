// Linux scans a firewalled wavnet node (needs root; issue 13, "interop"): a network namespace
// with a Linux vxlan device reaches, over the VXLAN port of a topology file, a node whose
// `firewall:` list allows TCP 7 and 80 in (keep-state for the answers) and denies the rest.
// nmap from Linux then sees exactly those two ports open and every other one filtered, although
// the node listens on more; with the rules flushed (the shell's ipfw) it sees them all. curl
// fetches the page through the allowed port.
//
// .ci/run sets WAVNET_INTEROP=1: then a missing tool (nmap among them) or no root is a failure.

import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import "../../host/index.js"; // the Node platform: binaries from disk, VXLAN ports on node:dgram
import { parseTopology, Topology } from "../../host/topology/index.js";
import { Commands } from "../../host/shell/commands.js";
import { ipfwSetDefault } from "../../host/admin/ipfw.js";
import { linuxVxlan, interopSkip, nsExec, INTEROP_TOOLS, type LinuxVxlan } from "./netns.js";

const VNI = 4343;
const PORT = 4900 + (process.pid % 90);
const tag = `fw${process.pid % 10000}`;

let lx: LinuxVxlan | undefined;
let topo: Topology | undefined;
let cmds: Commands | undefined;

function file(remote: string): string {
  return `name: fw-interop
clock: real
nodes:
  - name: srv
    interfaces:
      - { name: vx0, kind: vxlan, vni: ${VNI}, remote: "${remote}:${PORT}", localPort: ${PORT}, addresses: [10.204.0.1/24] }
    services:
      - { kind: http, body: "through the firewall\\n" }
      - { kind: http, port: 443 }
      - { kind: http, port: 8080 }
      - { kind: tcp-echo }
      - { kind: tcp-discard }
    firewallDefault: deny
    firewall:
      - 100 check-state
      - 200 allow tcp from any to me 7,80 in via vx0 setup keep-state
      - 300 allow icmp from any to me icmptypes 8 keep-state
`;
}

/** The open TCP ports nmap's grepable output lists, and what it says about the rest. */
async function scan(): Promise<{ open: number[]; rest: string; raw: string }> {
  const r = await nsExec(lx!.ns, ["nmap", "-n", "-Pn", "-sT", "-T4", "--max-retries", "1", "-p", "1-100,443,8080", "-oG", "-", "10.204.0.1"], { timeoutMs: 120_000 });
  assert.equal(r.code, 0, `nmap: ${r.stderr}`);
  const ports = /Ports: ([^\t\n]*)/.exec(r.stdout)?.[1] ?? "";
  const open = ports.split(", ").filter((p) => /\/open\//.test(p)).map((p) => Number(p.split("/")[0])).sort((a, b) => a - b);
  const rest = /Ignored State: ([^\t\n]*)/.exec(r.stdout)?.[1] ?? "";
  return { open, rest, raw: r.stdout };
}

describe("nmap from Linux against a firewalled wavnet node over VXLAN", { skip: interopSkip([...INTEROP_TOOLS, "nmap"]) }, () => {
  before(async () => {
    lx = linuxVxlan({ tag, vni: VNI, port: PORT, linuxAddr: "10.204.0.2/24" });
    topo = await Topology.up(parseTopology(file(lx.underlayLinux), "fw-interop.yaml"));
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

  test("Linux pings the node and fetches its page through the allowed port", async () => {
    const p = await nsExec(lx!.ns, ["ping", "-c", "2", "-i", "0.2", "-W", "2", "10.204.0.1"]);
    assert.match(p.stdout, /2 packets transmitted, 2 received/, p.stderr);
    const c = await nsExec(lx!.ns, ["curl", "-sS", "--max-time", "10", "http://10.204.0.1/"]);
    assert.equal(c.code, 0, c.stderr);
    assert.equal(c.stdout, "through the firewall\n");
  });

  test("nmap sees only 7 and 80 open; the rest filtered (dropped, no RST)", async () => {
    const s = await scan();
    assert.deepEqual(s.open, [7, 80], s.raw);
    assert.match(s.rest, /^filtered \(100\)$/, s.raw);
    // The drops are the firewall's: rule 65535 counted the refused SYNs.
    const shown = await cmds!.exec(topo!.node("srv"), "ipfw show 65535");
    assert.match(shown, /^65535 +[1-9]\d* +[1-9]\d* deny ip from any to any$/, shown);
  });

  test("with the rules flushed and the default allowing, nmap sees every listener", async () => {
    const srv = topo!.node("srv");
    await cmds!.exec(srv, "ipfw flush");
    ipfwSetDefault(topo!.kernel, srv.vnet, true);
    const s = await scan();
    assert.deepEqual(s.open, [7, 9, 80, 443, 8080], s.raw);
    assert.match(s.rest, /^closed \(97\)$/, s.raw);
  });
});
