// Group "shell": the shell's own tools measured as a user runs them. shell_iperf_gbps:
// `h2 iperf -c h1 -t 3 --json` in `wavnet shell`'s command table on a two-host topology
// with no link rate or delay (so iperf measures wall time, and says so), read from
// end.sum_received; every byte verified by iperf itself. Its peer is tcp_epair_gbps's
// workload (bench/workloads/tcp_epair.ts: the tcp group's loop, sizes cut to 3 x 1 GiB),
// measured again here, in runs alternating with iperf's, so load on the machine hits both.

import "../../host/index.js";
import { Topology, parseTopology } from "../../host/topology/index.js";
import { Commands } from "../../host/shell/commands.js";
import { ShellCore } from "../../host/shell/shell.js";
import { tcpEpairBulk } from "../workloads/tcp_epair.js";
import { median, round, nowNs, type Group } from "../lib.js";

const RUNS = 3;
const SECONDS = 3;
const PAIR = `name: bench-pair
nodes:
  - name: h1
    interfaces: [{ name: eth0, addresses: [10.0.0.1/24] }]
  - name: h2
    interfaces: [{ name: eth0, addresses: [10.0.0.2/24] }]
links:
  - endpoints: [h1:eth0, h2:eth0]
`;

interface IperfJson {
  end: { sum_received: { bits_per_second: number; bytes: number }; sum_sent: { bytes: number } };
  wavnet: { clock: string; verified: boolean };
}

async function iperfOnce(): Promise<{ gbps: number; bytes: number }> {
  const topo = await Topology.up(parseTopology(PAIR, "bench-pair.yaml"));
  const commands = new Commands(topo.kernel);
  const shell = new ShellCore({ topo, commands });
  try {
    const s = await shell.run("h1 iperf -s");
    if (s.error) throw new Error(s.error);
    const r = await shell.run(`h2 iperf -c h1 -t ${SECONDS} --json`);
    if (r.error) throw new Error(`iperf failed: ${r.error}`);
    const j = JSON.parse(r.out) as IperfJson;
    if (!j.wavnet.verified) throw new Error("iperf did not verify its bytes");
    if (j.wavnet.clock !== "wall") throw new Error(`iperf measured on the ${j.wavnet.clock} clock, expected wall (no rate or delay on the link)`);
    if (j.end.sum_received.bytes !== j.end.sum_sent.bytes) throw new Error("iperf: bytes sent and received differ");
    return { gbps: j.end.sum_received.bits_per_second / 1e9, bytes: j.end.sum_received.bytes };
  } finally {
    await commands.close();
    const t = await topo.down();
    if (!t.ok) throw new Error(`teardown leaked: ${t.text}`);
  }
}

const group: Group = {
  name: "shell",
  description: "The shell's tools as a user runs them: iperf between two nodes",
  metrics: [
    { name: "shell_iperf_gbps", unit: "Gbit/s", target: { minPeerRatio: 0.8 }, description: `h2 iperf -c h1 -t ${SECONDS} --json in the shell's command table, two hosts on an epair with no conditions (wall time), end.sum_received, every byte verified` },
  ],
  peers: ["tcp_epair_gbps"],
  async run(ctx) {
    const ip: number[] = [];
    const ep: number[] = [];
    await iperfOnce(); // warm-up: JIT, Wasm tier-up
    for (let i = 0; i < RUNS; i++) {
      ctx.log(`round ${i + 1}/${RUNS}: iperf, then the tcp_epair workload`);
      ip.push((await iperfOnce()).gbps);
      const b = await tcpEpairBulk({ offload: true, runs: 1, xfer: 2 ** 30, warmup: 32 * 2 ** 20, recvXfer: 0, now: nowNs });
      ep.push(b.gbps);
    }
    ctx.report("shell_iperf_gbps", round(median(ip)), {
      peer: "tcp_epair_gbps",
      peerValue: round(median(ep)),
      note: `median of ${RUNS} runs of ${SECONDS} s each (${ip.map((x) => x.toFixed(2)).join(", ")} Gbit/s), alternating with the tcp_epair workload at 1 GiB a run (${ep.map((x) => x.toFixed(2)).join(", ")} Gbit/s; the tcp group's own figure uses 3 x 4 GiB); iperf's socket buffers are the kernel's defaults, the workload's receiver has SO_RCVBUF 1 MiB`,
    });
  },
};

export default group;
