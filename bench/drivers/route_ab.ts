// An A/B of the route path between two checkouts of wavnet, alternated in one process so both
// see the same load (docs/route.md "Several paths", cost):
//   node --import tsx bench/drivers/route_ab.ts /path/to/base /path/to/branch [rounds]
// Each checkout must be built (node scripts/build.mjs). Per round and checkout: 3 x 1M frames
// forwarded A -> R -> B by bench_ipv4 (ipv4_forward_pps's chain), 3 x 300k lookups by
// bench_route's rb_lookup4 over 300k random IPv4 prefixes; for the second checkout also the
// forwarding through a prefix with two paths (R reaches 10.9.0.0/16 via B on two epairs), if
// it has multipath. Prints CPU time (process.cpuUsage) and wall time per packet and lookup,
// median and minimum: on a loaded machine the CPU figure is the steadier one.
import { resolve } from "node:path";

if (process.argv.length < 4) throw new Error("usage: route_ab.ts BASE_CHECKOUT BRANCH_CHECKOUT [rounds]");
const trees = [resolve(process.argv[2]), resolve(process.argv[3])];
const mods = await Promise.all(trees.map(async (t) => ({
  t,
  ipv4: await import(`${t}/bench/groups/ipv4.ts`),
  host: await import(`${t}/host/index.ts`),
  inet: await import(`${t}/host/admin/inet.ts`),
})));
const res: Record<string, { fwdCpu: number[]; fwdWall: number[]; lkCpu: number[]; lkWall: number[] }> = {};
for (const m of mods) res[m.t] = { fwdCpu: [], fwdWall: [], lkCpu: [], lkWall: [] };
res["two paths (second checkout)"] = { fwdCpu: [], fwdWall: [], lkCpu: [], lkWall: [] };
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) * 1000; };
const now = () => Number(process.hrtime.bigint());
const ROUNDS = Number(process.argv[4] ?? 4);
for (let round = 0; round < ROUNDS; round++) {
  for (const m of round % 2 ? [...mods].reverse() : mods) {
    // Forwarding
    const c = await m.ipv4.chain("virtual");
    const { ping } = m.host;
    await ping(c.k, c.a, "10.0.2.1", { count: 1, intervalMs: 1 });
    c.k.kldunload("udp");
    await c.k.kldload("bench_ipv4");
    const bi = c.k.module("bench_ipv4");
    const src = 0x0a000101, dst = 0x0a000201;
    bi.bench_send(c.a0.ptr, c.r0.ptr, src, dst, 50_000);
    const N = 1_000_000;
    for (let run = 0; run < 3; run++) {
      const before = bi.bench_received();
      const c0 = cpu(), w0 = now();
      for (let n = 0; n < N; n += 50_000) bi.bench_send(c.a0.ptr, c.r0.ptr, src, dst, 50_000);
      const w = now() - w0, cc = cpu() - c0;
      if (bi.bench_received() - before !== N) throw new Error("lost frames");
      res[m.t].fwdCpu.push(cc / N);
      res[m.t].fwdWall.push(w / N);
    }
    c.k.kldunload("bench_ipv4");
    c.k.shutdown();
    if (m.t === trees[1] && typeof m.inet.routeMultipath === "function") {
      // The same through two paths: R reaches 10.9.0.0/16 via B on two epairs, one flow (one path), hashed per packet.
      const d = await m.ipv4.chain("virtual");
      const [r2, b2] = m.ipv4.link(d.k, d.r, d.b);
      m.inet.addAddress(d.k, r2, "10.0.3.254/24");
      m.inet.addAddress(d.k, b2, "10.0.3.1/24");
      m.inet.addAddress(d.k, d.b.interfaces()[0], "10.9.0.1/32");
      m.inet.addRoute(d.k, d.r, "10.9.0.0/16", { gateway: "10.0.2.1" });
      m.inet.addRoute(d.k, d.r, "10.9.0.0/16", { gateway: "10.0.3.1" });
      await m.host.ping(d.k, d.a, "10.9.0.1", { count: 1, intervalMs: 1 });
      d.k.kldunload("udp");
      await d.k.kldload("bench_ipv4");
      const bj = d.k.module("bench_ipv4");
      const dst2 = 0x0a090001;
      bj.bench_send(d.a0.ptr, d.r0.ptr, src, dst2, 50_000);
      for (let run = 0; run < 3; run++) {
        const before = bj.bench_received();
        const c0 = cpu(), w0 = now();
        for (let n = 0; n < N; n += 50_000) bj.bench_send(d.a0.ptr, d.r0.ptr, src, dst2, 50_000);
        const w = now() - w0, cc = cpu() - c0;
        if (bj.bench_received() - before !== N) throw new Error(`lost frames (2 paths): ${bj.bench_received() - before}`);
        res["two paths (second checkout)"].fwdCpu.push(cc / N);
        res["two paths (second checkout)"].fwdWall.push(w / N);
      }
      d.k.kldunload("bench_ipv4");
      d.k.shutdown();
    }
    // Lookups
    const k = await m.host.Kernel.boot({ config: "BARE" });
    await k.kldload("bench_route");
    const rb = k.module("bench_route");
    rb.rb_open();
    rb.rb_budget(1024);
    const P = 300_000;
    rb.rb_fill4(P, 12345);
    for (let run = 0; run < 3; run++) {
      const c0 = cpu(), w0 = now();
      const found = rb.rb_lookup4(P, 12345);
      const w = now() - w0, cc = cpu() - c0;
      if (found !== P) throw new Error(`lookups found ${found}`);
      res[m.t].lkCpu.push(cc / P);
      res[m.t].lkWall.push(w / P);
    }
    rb.rb_flush();
    rb.rb_close();
    k.shutdown();
  }
  console.log(`round ${round} load ${(await import("node:os")).loadavg().map((x) => x.toFixed(1)).join(" ")}`);
}
const med = (a: number[]) => { const s = [...a].sort((x, y) => x - y); return s[s.length >> 1]; };
for (const [t, r] of Object.entries(res)) {
  if (r.lkCpu.length === 0) {
    if (r.fwdCpu.length) console.log(`${t}: forward ns/pkt CPU median ${med(r.fwdCpu).toFixed(1)} (min ${Math.min(...r.fwdCpu).toFixed(1)}), wall median ${med(r.fwdWall).toFixed(1)}`);
    continue;
  }
  console.log(`${t}: forward ns/pkt CPU median ${med(r.fwdCpu).toFixed(1)} (min ${Math.min(...r.fwdCpu).toFixed(1)}), wall median ${med(r.fwdWall).toFixed(1)} (min ${Math.min(...r.fwdWall).toFixed(1)}); lookup ns CPU median ${med(r.lkCpu).toFixed(1)} (min ${Math.min(...r.lkCpu).toFixed(1)}), wall median ${med(r.lkWall).toFixed(1)}`);
}
