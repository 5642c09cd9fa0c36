// pingall (Mininet's rows and loss line) on examples/tree.yaml and on a lab with a host that
// has no route, and streaming: ping's replies and pingall's rows reach the shell's output as
// they happen (read on the virtual clock), not when the command ends.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import "../host/index.js"; // Node's platform: binaries from disk
import { parseTopology, Topology } from "../host/topology/index.js";
import { Commands } from "../host/shell/commands.js";
import { ShellCore } from "../host/shell/shell.js";

async function shellOn(text: string, file: string) {
  const topo = await Topology.up(parseTopology(text, file));
  return { topo, core: new ShellCore({ topo, commands: new Commands(topo.kernel) }) };
}

test("pingall on examples/tree.yaml: every host to every host, a row each, 0% dropped", async () => {
  const { topo, core } = await shellOn(readFileSync(new URL("../examples/tree.yaml", import.meta.url), "utf8"), "examples/tree.yaml");
  try {
    const r = await core.run("pingall");
    assert.equal(r.error, undefined, r.out);
    const lines = r.out.split("\n");
    const hosts = topo.nodes().filter((n) => n.role === "host").map((n) => n.name);
    assert.equal(hosts.length, 9);
    assert.equal(lines[0], "*** Ping: testing ping reachability");
    for (const [i, h] of hosts.entries()) assert.equal(lines[i + 1], `${h} -> ${hosts.filter((x) => x !== h).join(" ")}`);
    assert.equal(lines[hosts.length + 1], "*** Results: 0% dropped (72/72 received)");
  } finally {
    await topo.down();
  }
});

const NOROUTE = `nodes:
  - name: h1
    interfaces: [{ name: eth0, addresses: [10.0.0.1/24] }]
  - name: r
    role: router
    interfaces: [{ name: eth0, addresses: [10.0.0.254/24] }, { name: eth1, addresses: [10.0.1.254/24] }]
  - name: h2
    interfaces: [{ name: eth0, addresses: [10.0.1.2/24] }]
    routes: [{ to: default, via: 10.0.1.254 }]
  - name: h3
    interfaces: [{ name: eth0, addresses: [10.0.1.3/24] }]
    routes: [{ to: default, via: 10.0.1.254 }]
  - { name: sw, role: bridge, interfaces: [{ name: p1 }, { name: p2 }, { name: p3 }] }
links:
  - endpoints: [h1:eth0, r:eth0]
  - endpoints: [r:eth1, sw:p1]
  - endpoints: [h2:eth0, sw:p2]
  - endpoints: [h3:eth0, sw:p3]
`;

test("pingall: X where no reply came (h1 has no route), Mininet's loss line, and the line fails", async () => {
  const { topo, core } = await shellOn(NOROUTE, "noroute.yaml");
  try {
    const r = await core.run("pingall -W 200");
    assert.deepEqual(r.out.split("\n"), [
      "*** Ping: testing ping reachability",
      "h1 -> X X",
      "h2 -> X h3",
      "h3 -> X h2",
      "*** Results: 66% dropped (2/6 received)",
    ]);
    assert.equal(r.error, "pingall: 4 of 6 pings got no reply");
    assert.match((await core.run("pingall -4 -6")).error!, /-4 and -6 exclude each other/);
  } finally {
    await topo.down();
  }
});

test("streaming: ping's replies and pingall's rows are printed as they come, on the clock's time", async () => {
  const { topo, core } = await shellOn(NOROUTE.replace("links:\n  - endpoints: [h1:eth0, r:eth0]", "links:\n  - endpoints: [h1:eth0, r:eth0]\n    conditions: { delay: 50ms }"), "stream.yaml");
  try {
    const clock = topo.kernel.clock;
    const printed: { line: string; atUs: number }[] = [];
    const print = (line: string) => printed.push({ line, atUs: clock.now() });
    const t0 = clock.now();
    const r = await core.run("h2 ping -c 3 -i 1 h3", undefined, { print });
    const end = clock.now();
    assert.equal(r.error, undefined);
    // The header and each reply were printed before the command ended, a second apart;
    // what the line returns is only the statistics, not printed twice.
    assert.match(printed[0]!.line, /^PING h3 \(10\.0\.1\.3\)/);
    const replies = printed.filter((p) => /icmp_seq=/.test(p.line));
    assert.equal(replies.length, 3);
    assert.ok(replies[0]!.atUs - t0 < 100_000, `first reply printed at +${replies[0]!.atUs - t0} us`);
    assert.ok(end - replies[0]!.atUs >= 1_900_000, `the command went on ${end - replies[0]!.atUs} us after the first reply was printed`);
    assert.ok(!/icmp_seq=/.test(r.out) && /3 packets received/.test(r.out), r.out);
    // pingall: a row printed as its pings end.
    printed.length = 0;
    const p = await core.run("pingall -W 500", undefined, { print });
    assert.equal(p.out, "");
    assert.deepEqual(printed.map((x) => x.line.split(" ")[0]), ["***", "h1", "h2", "h3", "***"]);
    assert.ok(printed[2]!.atUs < printed[4]!.atUs, "rows come before the end");
  } finally {
    await topo.down();
  }
});

test("^C (the line's signal) stops pingall after the row it is on; the shell goes on", async () => {
  const { topo, core } = await shellOn(readFileSync(new URL("../examples/tree.yaml", import.meta.url), "utf8"), "examples/tree.yaml");
  try {
    const ac = new AbortController();
    const rows: string[] = [];
    // ^C as the second row is printed.
    const r = await core.run("pingall", undefined, { signal: ac.signal, print: (l) => {
      rows.push(l);
      if (rows.length === 3) ac.abort(new Error("^C"));
    } });
    assert.equal(rows.length, 4, rows.join("\n"));
    assert.match(rows[3]!, /^\*\*\* Results: 0% dropped \(16\/16 received\)$/);
    assert.equal(r.quit, false);
    assert.match((await core.run("t-1-1 ping -c 1 t-3-3")).out, /1 packets received/);
  } finally {
    await topo.down();
  }
});
