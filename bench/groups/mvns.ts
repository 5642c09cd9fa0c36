// Group "mvns": the modular stack of issue 12. For now the shared route table
// (assembly/net/route.ts): 1,000,000 random prefixes in one table, then lookups, timed
// inside Wasm by bench_route (bench/kmod/), so a figure is what inet or inet6 pays per
// lookup (a direct call into the kernel) with the one-entry cache out of the way.
//
// Prefixes: IPv4 lengths shaped like a BGP table (55% /24, 35% /16-/23, 10% /8-/15),
// IPv6 under 2000::/3 (/48 most, /32-/64). Lookups aim inside the drawn prefixes with
// random host bits, in the order they were drawn (random), so every lookup finds a route
// and walks to a leaf: the harder case than uniform random addresses, most of which stop
// near the root. Bytes per route: what the vnet is charged (nodes, 32 B each, including
// the glue nodes where prefixes part) over the routes; a family adds its route entry.

import { Kernel } from "../../host/index.js";
import { median, nowNs, round, type Group } from "../lib.js";

interface BenchRoute {
  rb_open(): number;
  rb_close(): number;
  rb_flush(): void;
  rb_count(): number;
  rb_nodes(): number;
  rb_bytes(): number;
  rb_fill4(n: number, seed: number): number;
  rb_lookup4(n: number, seed: number): number;
  rb_fill6(n: number, seed: number): number;
  rb_lookup6(n: number, seed: number): number;
}

const N = 1_000_000;
const RUNS = 5;

/** Fills a fresh table; returns [routes, inserts/s, bytes/route, nodes]. */
function fill(rb: BenchRoute, f: (n: number, seed: number) => number, seed: number): [number, number, number, number] {
  if (rb.rb_open() !== 0) throw new Error("bench_route: vnet_alloc failed");
  const b0 = rb.rb_bytes();
  const t = nowNs();
  const added = f(N, seed);
  const s = (nowNs() - t) / 1e9;
  if (added < N * 0.8) throw new Error(`bench_route: only ${added} of ${N} prefixes went in (budget?)`);
  return [added, N / s, (rb.rb_bytes() - b0) / added, rb.rb_nodes()];
}

/** Median ns per lookup over RUNS passes of N lookups; every lookup must find its route. */
function lookups(rb: BenchRoute, f: (n: number, seed: number) => number, seed: number): number {
  const ns: number[] = [];
  f(N / 10, seed); // warm-up
  for (let r = 0; r < RUNS; r++) {
    const t = nowNs();
    const found = f(N, seed);
    ns.push((nowNs() - t) / N);
    if (found !== N) throw new Error(`bench_route: ${N - found} lookups found no route`);
  }
  return median(ns);
}

const group: Group = {
  name: "mvns",
  description: "the modular stack (issue 12): the route table both families share",
  metrics: [
    { name: "route_lookup_ns_1m", unit: "ns", target: { max: 60 }, description: "IPv4 longest-prefix match in a table of 1,000,000 random prefixes, random lookups, cache off (inside Wasm)" },
    { name: "route6_lookup_ns_1m", unit: "ns", target: { max: 100 }, description: "IPv6 longest-prefix match in a table of 1,000,000 random prefixes, random lookups, cache off (inside Wasm)" },
    { name: "route_insert_per_s_1m", unit: "routes/s", description: "IPv4 prefixes inserted per second while filling a table to 1,000,000 (inside Wasm)" },
    { name: "route_bytes_per_route", unit: "bytes", description: "memory charged to the vnet per IPv4 route in the 1,000,000-prefix table (trie nodes; the family's route entry is extra)" },
  ],
  async run(ctx) {
    const k = await Kernel.boot({ config: "BARE" });
    try {
      await k.kldload("bench_route");
      const rb = k.module<BenchRoute>("bench_route");
      ctx.log("IPv4: 1M prefixes");
      const [n4, ins4, bytes4, nodes4] = fill(rb, (n, s) => rb.rb_fill4(n, s), 7);
      const ns4 = lookups(rb, (n, s) => rb.rb_lookup4(n, s), 7);
      rb.rb_flush();
      if (rb.rb_close() !== 0) throw new Error("bench_route: nodes left after a flush");
      ctx.log("IPv6: 1M prefixes");
      const [n6, ins6, bytes6, nodes6] = fill(rb, (n, s) => rb.rb_fill6(n, s), 9);
      const ns6 = lookups(rb, (n, s) => rb.rb_lookup6(n, s), 9);
      rb.rb_flush();
      if (rb.rb_close() !== 0) throw new Error("bench_route: nodes left after a flush");
      const shape = "path-compressed binary trie (net/route.ts), default vnet memory budget";
      ctx.report("route_lookup_ns_1m", round(ns4), { note: `${n4} distinct prefixes (${nodes4} nodes), ${RUNS} x 1M lookups inside the drawn prefixes, median; ${shape}` });
      ctx.report("route6_lookup_ns_1m", round(ns6), { note: `${n6} distinct prefixes (${nodes6} nodes), ${RUNS} x 1M lookups, median; IPv6 insert ${round(ins6)}/s, ${round(bytes6)} B/route` });
      ctx.report("route_insert_per_s_1m", round(ins4), { note: `one fill of 1M random IPv4 prefixes (${N - n4} duplicates refused)` });
      ctx.report("route_bytes_per_route", round(bytes4), { note: `${nodes4} nodes x 32 B over ${n4} routes; IPv6: ${round(bytes6)} B` });
    } finally {
      k.shutdown();
    }
  },
};

export default group;
