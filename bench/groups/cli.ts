// Group "cli": the wavnet command's tools at the scale of a big lab. pingall_1000_hosts_s:
// `pingall` in the shell's command table (as `wavnet shell` runs it) on examples/tree.yaml's
// generator made 1000 hosts wide (depth 3, fanout 10: 1 root, 10 + 100 routers, 1000 hosts,
// 2 ms per link), on virtual time: the wall time of the 999,000 pings, one at a time as
// Mininet's pingall sends them; every one must be answered. Bringing the lab up and down is
// not in the figure (the note says how long each took).

import "../../host/index.js";
import { Topology, parseTopology } from "../../host/topology/index.js";
import { Commands } from "../../host/shell/commands.js";
import { ShellCore } from "../../host/shell/shell.js";
import { round, nowNs, type Group } from "../lib.js";

const DEPTH = 3;
const FANOUT = 10;
const HOSTS = FANOUT ** DEPTH;
const TREE = `name: tree1000
generators:
  - shape: tree
    name: t
    depth: ${DEPTH}
    fanout: ${FANOUT}
    subnet: 10.0.0.0/8
    conditions: { delay: 2ms }
`;

const group: Group = {
  name: "cli",
  description: "The wavnet command's tools on a big lab: pingall over 1000 hosts",
  metrics: [
    { name: "pingall_1000_hosts_s", unit: "s", description: `pingall in the shell on a generated tree of ${HOSTS} hosts (depth ${DEPTH}, fanout ${FANOUT}, 2 ms links), virtual time: wall seconds for ${HOSTS * (HOSTS - 1)} pings, all answered` },
  ],
  async run(ctx) {
    let t = nowNs();
    const topo = await Topology.up(parseTopology(TREE, "tree1000.yaml"));
    const upMs = (nowNs() - t) / 1e6;
    const hosts = topo.nodes().filter((n) => n.role === "host").length;
    if (hosts !== HOSTS) throw new Error(`the tree has ${hosts} hosts, expected ${HOSTS}`);
    if (topo.kernel.clock.kind !== "virtual") throw new Error(`the lab runs on the ${topo.kernel.clock.kind} clock, expected virtual`);
    const commands = new Commands(topo.kernel);
    const shell = new ShellCore({ topo, commands });
    let pingMs: number;
    let line: string;
    try {
      ctx.log(`${topo.nodes().length} nodes up in ${(upMs / 1000).toFixed(1)} s; pingall: ${HOSTS * (HOSTS - 1)} pings`);
      t = nowNs();
      const r = await shell.run("pingall");
      pingMs = (nowNs() - t) / 1e6;
      if (r.error) throw new Error(`pingall failed: ${r.error}`);
      line = r.out.trim().split("\n").pop()!;
      const want = `*** Results: 0% dropped (${HOSTS * (HOSTS - 1)}/${HOSTS * (HOSTS - 1)} received)`;
      if (line !== want) throw new Error(`pingall: ${JSON.stringify(line)}, expected ${JSON.stringify(want)}`);
    } finally {
      await commands.close();
    }
    t = nowNs();
    const down = await topo.down();
    const downMs = (nowNs() - t) / 1e6;
    if (!down.ok) throw new Error(`teardown leaked: ${down.text}`);
    ctx.report("pingall_1000_hosts_s", round(pingMs / 1000), {
      note: `${topo.nodes().length} nodes; ${(HOSTS * (HOSTS - 1) / (pingMs / 1000) / 1000).toFixed(1)}k pings/s wall; up ${(upMs / 1000).toFixed(1)} s, down ${(downMs / 1000).toFixed(1)} s (not counted); ${line}`,
    });
  },
};

export default group;
