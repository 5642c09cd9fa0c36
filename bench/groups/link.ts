// Group "link": frames between vnets. A generator in bench_link (inside Wasm) builds 64-byte
// Ethernet frames and sends them out of one end of an epair; the sink, the netisr handler
// of their ethertype in the receiving vnet, counts them. Everything between is the real
// path: ether_output_frame, if_epair's transmit (zero copy, charge moved to the receiver),
// ether_input's checks and counters, demux, and for bridge_fps if_bridge's learning and
// forwarding. Single thread; every frame is checked to have arrived.

import "../../host/index.js"; // Node's platform for the shared workloads: binaries from build/ on disk
import { nowNs, round, type Group } from "../lib.js";
import { bootWith as boot, epairFps, epairSetup, measureFps as measure, type BenchLink } from "../workloads/epair_fps.js";

interface Bpf {
  bpfh_attach(ifp: number, snaplen: number, nseg: number): number;
  bpf_readable(d: number): number;
  bpf_consume(d: number, n: number): void;
  bpf_close(d: number): void;
  bpf_stat(d: number, what: number): number;
}

const group: Group = {
  name: "link",
  description: "frames between vnets over epair and through a bridge, with and without capture",
  metrics: [
    { name: "epair_fps", unit: "frames/s", target: { min: 10_000_000 }, description: "64-byte frames from one vnet to another over an epair, single thread, counted at the receiver" },
    { name: "bridge_fps", unit: "frames/s", target: { min: 5_000_000 }, description: "64-byte frames through a 4-member bridge with learned addresses" },
    { name: "capture_overhead_pct", unit: "%", description: "epair_fps lost with a capture running on the receiving end" },
  ],
  async run(ctx) {
    // epair
    // (the shared workload, bench/workloads/epair_fps.ts: the browser group runs it in a Web Worker)
    const setup = await epairSetup();
    const { k, ea, eb } = setup;
    ctx.log("epair");
    const plain = epairFps(setup, nowNs);
    ctx.report("epair_fps", round(plain.fps), { note: plain.note });

    // the same with a capture on the receiving end, drained between batches
    ctx.log("epair with capture");
    const x = k.k as unknown as Bpf;
    const d = x.bpfh_attach(eb.ptr, 65535, 64);
    if (d === 0) throw new Error("capture attach failed");
    const drain = () => {
      for (let n = x.bpf_readable(d); n > 0; n = x.bpf_readable(d)) x.bpf_consume(d, n);
    };
    // 20,000 frames of 88 ring bytes each fit the 4 MiB ring between drains.
    const cap = measure(k, ea, eb, nowNs, drain, 20_000);
    const drops = x.bpf_stat(d, 2);
    const frames = x.bpf_stat(d, 0);
    x.bpf_close(d);
    const overhead = (1 - cap.fps / plain.fps) * 100;
    ctx.report("capture_overhead_pct", round(overhead), {
      note: `${round(cap.fps)} frames/s with the tap copying every frame into a 4 MiB ring drained every 20,000 frames (${frames} captured, ${drops} dropped); host drain time (${cap.drainMs.toFixed(1)} ms per run) not included`,
    });
    k.shutdown();

    // bridge: H1 -- R(bridge0: 4 members) -- H2..H4
    ctx.log("bridge");
    const kb = await boot(["if_epair", "if_bridge", "bench_link"]);
    const r = kb.createVnet("r");
    const hosts = [1, 2, 3, 4].map((i) => kb.createVnet(`h${i}`));
    const ends = hosts.map((h) => kb.epair(h, r));
    const [br] = r.ifcreate("bridge");
    const { bridgeAdd } = await import("../../host/admin/bridge.js");
    for (const [he, re] of ends) {
      he.setUp();
      re.setUp();
      bridgeAdd(kb, br, re);
    }
    br.setUp();
    const bl = kb.module<BenchLink>("bench_link");
    // Teach the bridge both MACs: one frame each way.
    bl.bench_send(ends[1][0].ptr, ends[0][0].ptr, 1);
    bl.bench_send(ends[0][0].ptr, ends[1][0].ptr, 1);
    const fwd = measure(kb, ends[0][0], ends[1][0], nowNs);
    const flooded = ends.slice(2).map(([he]) => he.counters().ipackets);
    ctx.report("bridge_fps", round(fwd.fps), {
      note: `H1 -> bridge0 in R (4 members, addresses learned) -> H2; hosts on the other ports received ${flooded.join("/")} frames (flooding would show millions)`,
    });
    kb.shutdown();
  },
};

export default group;
