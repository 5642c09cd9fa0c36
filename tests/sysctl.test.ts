// sysctl: one table (host/admin/sysctl.ts) for topology files and the shell. `sysctl -a`
// lists every per-vnet knob the kernel has, `-w NAME=VALUE` and `NAME=VALUE` set, a file's
// `kernel.sysctl:` takes every name the shell knows, and a name the table lacks is refused
// by both with the same words.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Kernel } from "../host/index.js";
import { Commands } from "../host/shell/commands.js";
import { SYSCTLS } from "../host/admin/sysctl.js";
import { tcpKnob } from "../host/admin/tcp.js";
import { parseTopology, Topology } from "../host/topology/index.js";

test("sysctl -a lists every knob of the table with its value; -w and NAME=VALUE set; -d describes; a prefix lists its knobs", async () => {
  const k = await Kernel.boot({ config: "GENERIC" });
  const v = k.createVnet("a");
  const cmds = new Commands(k);
  const node = { name: "a", vnet: v };
  const all = (await cmds.exec(node, "sysctl -a")).split("\n");
  // GENERIC has every module: every knob of the table is listed, in order, each "name: value".
  assert.deepEqual(all.map((l) => l.split(": ")[0]), SYSCTLS.map((s) => s.name));
  assert.equal(all.length, 43, "every knob the kernel has: 2 kernel (maxsockets, net.route.multipath), 10 inet, 2 udp (portrange), 16 tcp, 12 inet6, 1 if_bridge");
  for (const l of all) assert.match(l, /^[a-z0-9_.]+: (-?\d+|newreno|cubic)$/, l);
  assert.ok(all.includes("net.inet.tcp.cc.algorithm: newreno"));
  assert.ok(all.includes("kern.ipc.maxsockets: 65536"));
  assert.ok(all.includes("net.route.multipath: 1"), "on by default, as in FreeBSD");
  assert.equal(await cmds.exec(node, "sysctl -w net.inet.tcp.rst_limit=50"), "net.inet.tcp.rst_limit: 200 -> 50");
  assert.equal(tcpKnob(k, v, "rst_limit"), 50);
  assert.equal(await cmds.exec(node, "sysctl net.inet.tcp.cc.algorithm=cubic net.inet.icmp.icmplim=7"), "net.inet.tcp.cc.algorithm: newreno -> cubic\nnet.inet.icmp.icmplim: 200 -> 7");
  assert.equal(await cmds.exec(node, "sysctl -n net.inet.icmp.icmplim"), "7");
  assert.match(await cmds.exec(node, "sysctl -d net.inet.tcp.sack.enable"), /^net\.inet\.tcp\.sack\.enable: selective acknowledgements/);
  assert.deepEqual((await cmds.exec(node, "sysctl net.inet.ip.portrange")).split("\n"), ["net.inet.ip.portrange.first: 10000", "net.inet.ip.portrange.last: 65535"]);
  await assert.rejects(cmds.exec(node, "sysctl -w net.inet.tcp.syncache.count=3"), /sysctl: net\.inet\.tcp\.syncache\.count is read only/);
  await assert.rejects(cmds.exec(node, "sysctl -w net.inet.tcp.sack.enable"), /-w wants NAME=VALUE/);
  await assert.rejects(cmds.exec(node, "sysctl net.inet.tcp.sack.enable=2"), /sysctl: net\.inet\.tcp\.sack\.enable must be 0 or 1 \(or true\/false\), got "2"/);
  await assert.rejects(cmds.exec(node, "sysctl net.inet.ip.ttl"), /sysctl: unknown oid 'net\.inet\.ip\.ttl' \(near it: net\.inet\.ip\.forwarding/);
  // A kernel without tcp has no net.inet.tcp knobs to list.
  const small = await Kernel.boot({ config: ["if_epair", "inet"] });
  const sv = small.createVnet("s");
  const some = (await new Commands(small).exec({ name: "s", vnet: sv }, "sysctl -a")).split("\n");
  assert.ok(some.length > 5 && some.every((l) => !l.startsWith("net.inet.tcp.") && !l.startsWith("net.inet6.")), some.join("\n"));
});

test("a topology file's kernel.sysctl takes every settable name of the table, and the node has the value after up", async () => {
  const k = await Kernel.boot({ config: "GENERIC" });
  const v = k.createVnet("probe");
  const cmds = new Commands(k);
  // Each knob set to the value it has by default (always valid), written as the shell reads it.
  const values: string[] = [];
  for (const s of SYSCTLS) {
    if (s.readOnly) continue;
    const cur = (await cmds.exec({ name: "probe", vnet: v }, `sysctl -n ${s.name}`)).trim();
    values.push(`        ${s.name}: ${cur}`);
  }
  // One changed, to see the file's value arrive.
  const text = values.join("\n").replace("net.inet.tcp.rst_limit: 200", "net.inet.tcp.rst_limit: 33");
  const spec = parseTopology(`nodes:\n  - name: a\n    kernel:\n      sysctl:\n${text}\n`, "t.yaml");
  assert.equal(Object.keys(spec.nodes[0]!.sysctl).length, SYSCTLS.filter((s) => !s.readOnly).length);
  const topo = await Topology.up(spec);
  try {
    assert.equal(tcpKnob(topo.kernel, topo.node("a").vnet, "rst_limit"), 33);
  } finally {
    await topo.down();
  }
  assert.throws(() => parseTopology(`nodes:\n  - name: a\n    kernel:\n      sysctl: { net.inet.tcp.syncache.count: 1 }\n`, "t.yaml"), /net\.inet\.tcp\.syncache\.count is read only/);
});
