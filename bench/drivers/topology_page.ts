// browser_topology_100_up_ms alone, many times, with its marks: where a page load's time
// goes, without the group's throughput rounds. Each load is a fresh page, as in the group.
//
//   node --import tsx bench/drivers/topology_page.ts [loads] [--cache]

import os from "node:os";
import { launch, topologyOnce, blankOnce, GRID, type TopoResult } from "../groups/browser.js";
import { serveBenchPage } from "../browser/serve.js";
import { median } from "../lib.js";

const loads = Number(process.argv[2] ?? 7);
// --cache: scripts and binaries cacheable (a second visit's conditions after the first load).
const srv = await serveBenchPage({ grid100: GRID }, { cache: process.argv.includes("--cache") });
const browser = await launch();
const errors: string[] = [];
const rs: TopoResult[] = [];
const blanks: number[] = [];
try {
  console.log(`page.js ${srv.sizes.page} B, worker.js ${srv.sizes.worker} B, chunks ${srv.sizes.chunks} B; load average ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}`);
  for (let i = 0; i < loads; i++) {
    const r = await topologyOnce(browser, srv, "grid100", "g-1-1", "g-10-10", errors);
    if (i > 0) rs.push(r);
    // An empty page of the same server after each, for the figure over a blank page.
    const b = await blankOnce(browser, srv);
    if (i > 0) blanks.push(b.loadEnd);
    const m = r.marks as Record<string, number>;
    console.log(`${i === 0 ? "cold " : "     "}total ${r.totalMs.toFixed(0)} (blank ${b.loadEnd.toFixed(0)}) | html ${r.navigation?.responseEnd.toFixed(0)} parsed ${r.navigation?.domInteractive.toFixed(0)} | ` +
      Object.entries(m).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(" ") + ` | worker ${Object.entries(r.worker).map(([k, v]) => `${k} ${(v ?? NaN).toFixed(0)}`).join(" ")} | cpu ${r.cpu.all.toFixed(0)}/${r.cpu.renderer.toFixed(0)} main ${r.cpu.threads.main} worker ${r.cpu.threads.DedicatedWorker} pool ${r.cpu.threads.ThreadPoolForeg}`);
  }
  const mid = (f: (r: TopoResult) => number) => median(rs.map(f)).toFixed(0);
  console.log(`median of ${rs.length} (after the cold one): total ${mid((r) => r.totalMs)}, blank page ${median(blanks).toFixed(0)}, over it ${(median(rs.map((r) => r.totalMs)) - median(blanks)).toFixed(0)}, up ${mid((r) => r.upMs)}, cpu ${mid((r) => r.cpu.all)}/${mid((r) => r.cpu.renderer)}, main thread ${mid((r) => r.cpu.threads.main ?? NaN)}, worker ${mid((r) => r.cpu.threads.DedicatedWorker ?? NaN)}; load average ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}`);
  if (errors.length) console.log(`errors: ${errors.join("; ")}`);
} finally {
  await browser.close();
  await srv.close();
}
