// Group "runner": the topology runner (host/topology). topology_1000_nodes_up_s: a tree
// generator (depth 3, fanout 10: 1 + 10 + 100 routers and 1,000 hosts = 1,111 vnets, 1,110
// epairs, every address and route set) parsed from its YAML, brought up in a freshly booted
// kernel, and one ping from the first leaf to the last (6 routers on the way, ARP on every
// hop) answered; wall time, median of RUNS, each run a new kernel. topology_1000_nodes_bytes:
// kmem pages in use once it is up (what the vnets, interfaces, addresses and routes hold).

import { parseTopology, Topology } from "../../host/index.js";
import { ping } from "../../host/index.js";
import { PAGE_SIZE } from "../../host/index.js";
import { median, round, type Group } from "../lib.js";
import { runVxlanBench, VXLAN_METRICS } from "../vxlan.js";

const RUNS = 7;
const TREE = "name: bench-tree\ngenerators:\n  - shape: tree\n    name: t\n    depth: 3\n    fanout: 10\n";

interface Run {
  upS: number;
  parseMs: number;
  bootUpMs: number;
  pingMs: number;
  nodes: number;
  bytes: number;
  memoryBytes: number;
}

async function once(): Promise<Run> {
  const t0 = performance.now();
  const spec = parseTopology(TREE, "bench-tree.yaml");
  const t1 = performance.now();
  const topo = await Topology.up(spec);
  const t2 = performance.now();
  const r = await ping(topo.kernel, topo.node("t-1-1-1").vnet, topo.addressOf("t-10-10-10"), { count: 1, timeoutMs: 1000 });
  const t3 = performance.now();
  if (r.received !== 1) throw new Error(`ping t-1-1-1 -> t-10-10-10 across the tree failed:\n${r.text}`);
  const a = topo.kernel.accounting();
  const rep = await topo.down();
  if (!rep.ok) throw new Error(`teardown of the tree leaked: ${rep.text}`);
  return { upS: (t3 - t0) / 1000, parseMs: t1 - t0, bootUpMs: t2 - t1, pingMs: t3 - t2, nodes: spec.nodes.length, bytes: a.pagesInUse * PAGE_SIZE, memoryBytes: a.memoryBytes };
}

const group: Group = {
  name: "runner",
  description: "The topology runner: a 1,000-node tree up and pinging",
  metrics: [
    { name: "topology_1000_nodes_up_s", unit: "s", target: { max: 1 }, description: "tree of 1,111 nodes (routers and hosts, routes set) parsed, booted, up, one end-to-end ping answered" },
    { name: "topology_1000_nodes_bytes", unit: "B", description: "kmem pages in use with the 1,111-node tree up" },
    ...VXLAN_METRICS,
  ],
  async run(ctx) {
    ctx.log("cold run (schema compiled, Wasm modules compiled)");
    const cold = await once();
    const runs: Run[] = [];
    for (let i = 0; i < RUNS; i++) runs.push(await once());
    const mid = (f: (r: Run) => number) => median(runs.map(f));
    ctx.report("topology_1000_nodes_up_s", round(mid((r) => r.upS)), {
      note: `${cold.nodes} nodes, median of ${RUNS}: parse ${mid((r) => r.parseMs).toFixed(1)} ms, boot + up ${mid((r) => r.bootUpMs).toFixed(1)} ms, ping ${mid((r) => r.pingMs).toFixed(1)} ms; runs ${runs.map((r) => r.upS.toFixed(3)).join(" ")} s; first (cold) run ${cold.upS.toFixed(3)} s`,
    });
    ctx.report("topology_1000_nodes_bytes", round(mid((r) => r.bytes)), {
      note: `${(mid((r) => r.bytes) / cold.nodes).toFixed(0)} B per node; Wasm memory ${(mid((r) => r.memoryBytes) / 2 ** 20).toFixed(1)} MiB`,
    });
    await runVxlanBench(ctx);
  },
};

export default group;
