// Group "browser" (issue 11): the kernel in a Web Worker of headless Chromium, driven by
// playwright-core (Debian's chromium; a browser is never downloaded). The page and worker
// are bench/browser/ (esbuild bundles served by a node:http server with COOP/COEP); the
// throughput workloads are the very loops the tcp and link groups run
// (bench/workloads/tcp_epair.ts, bench/workloads/epair_fps.ts), and each peer is measured
// again here, in this process, in the same run, alternating with the page so that both see
// the same machine: Node round, page round, Node round, page round.
//
// browser_tcp_epair_gbps: tcp_epair_gbps's workload (same sizes, same checks, same hash) in the worker.
// browser_topology_100_up_ms: a fresh page (navigation start) to a 10 x 10 grid of routers
//   up through the page protocol (LabClient -> LabServer in the worker) and one ping across
//   it answered.
// browser_epair_fps: epair_fps's workload in the worker.

import os from "node:os";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import "../../host/index.js"; // Node's platform for the shared workloads: binaries from build/ on disk
import { median, nowNs, round, type Group, type GroupContext } from "../lib.js";
import { tcpEpairBulk } from "../workloads/tcp_epair.js";
import { epairFps, epairSetup } from "../workloads/epair_fps.js";
import { topologySplit } from "../workloads/topology_split.js";
import { EPAIR_BULK } from "./tcp.js";
import { serveBenchPage, type BenchServer } from "../browser/serve.js";
import type { Browser, Page } from "playwright-core";

const CHROMIUM = process.env.CHROMIUM ?? ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => existsSync(p));
/** Node round + page round, this many times; each figure is the median of all its runs. */
const ROUNDS = 2;
const TOPO_RUNS = 5;
/** Second visits (scripts and binaries cached), after one that fills the cache. */
const WARM_RUNS = 3;

export const GRID = "name: grid100\ngenerators:\n  - shape: grid\n    name: g\n    rows: 10\n    cols: 10\n";
const STAR = "name: star100\ngenerators:\n  - shape: star\n    name: s\n    leaves: 99\n    center: router\n";

/** The issue's bar for the throughput figures: at least 0.8 x the peer of the same run. */
const RATIO = 0.8;
const ratio = (page: number, node: number) => `${(page / node).toFixed(2)} x Node's figure of this run`;

const OMNIBOX_WEBUI = ["WebUIOmniboxPopup", "WebUIOmniboxAimPopup", "WebUIOmniboxFullPopup", "PreloadTopChromeWebUI"];

const load = () => os.loadavg().map((x) => x.toFixed(2)).join(" ");

/** What the worker says of itself with each workload's result. */
interface WorkerEnv {
  crossOriginIsolated: boolean;
  userAgent: string;
}

export interface TopoResult {
  totalMs: number;
  marks: { script: number; hello: number; loaded: number; pinged: number };
  navigation?: { responseEnd: number; domInteractive: number };
  /** The worker's marks on the page's clock (ms from navigation start), and its phases of the load (ms). */
  worker: {
    created: number; evalStart: number; ready: number; helloIn: number; loadIn: number; loadPost: number; loadPosted: number;
    parseMs: number; bootMs: number; upMs: number;
  };
  upMs: number;
  nodes: number;
  links: number;
  crossOriginIsolated: boolean;
  /** CPU time of Chromium's processes over the load (from before the tab opened to the result read); of the renderers' threads by name. */
  cpu: { all: number; renderer: number; threads: Record<string, number> };
}

/**
 * CPU time (ms, utime + stime) of every live process below this one (Chromium's browser,
 * renderers, GPU and utility processes), by pid; empty without Linux's /proc (HAVE_PROC).
 * A page load's CPU time against its wall time says how much of the wall was waiting for
 * a core on a shared machine.
 */
const HAVE_PROC = existsSync("/proc/self/stat");

function childCpuMs(): Map<number, { ms: number; renderer: boolean }> {
  const out = new Map<number, { ms: number; renderer: boolean }>();
  let entries: string[];
  try {
    entries = readdirSync("/proc").filter((d) => /^\d+$/.test(d));
  } catch {
    return out;
  }
  const parent = new Map<number, number>();
  const cpu = new Map<number, number>();
  for (const d of entries) {
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // fields from the 3rd (state) on
      parent.set(Number(d), Number(f[1]));
      cpu.set(Number(d), ((Number(f[11]) + Number(f[12])) * 1000) / 100); // utime, stime in ticks of 1/100 s
    } catch {
      // gone meanwhile
    }
  }
  const below = (pid: number): boolean => {
    for (let p = parent.get(pid), hops = 0; p !== undefined && hops < 64; p = parent.get(p), hops++) if (p === process.pid) return true;
    return false;
  };
  for (const [pid, ms] of cpu) {
    if (!below(pid)) continue;
    let cmd = "";
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    } catch {
      // gone meanwhile
    }
    out.set(pid, { ms, renderer: cmd.includes("--type=renderer") });
  }
  return out;
}

/**
 * CPU time (ms) of the renderers' threads by thread name ("main" is the page's main
 * thread, "DedicatedWorker" the worker's, "ThreadPoolForeg" V8's helpers: compiling, GC): the renderer of a page with COOP is
 * its own new process, so read before the page closes this is that page's alone. CPU time
 * holds still on a shared machine where wall time does not.
 */
function rendererThreadCpuMs(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [pid, t] of childCpuMs()) {
    if (!t.renderer) continue;
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      try {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
        const comm = tid === String(pid) ? "main" : stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
        const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        out[comm] = (out[comm] ?? 0) + ((Number(f[11]) + Number(f[12])) * 1000) / 100;
      } catch {
        // gone meanwhile
      }
    }
  }
  return out;
}

/** CPU ms spent between two childCpuMs snapshots by the processes alive at the second: all, and renderers only. */
function cpuSpent(before: ReturnType<typeof childCpuMs>, after: ReturnType<typeof childCpuMs>): { all: number; renderer: number } {
  const r = { all: 0, renderer: 0 };
  for (const [pid, t] of after) {
    const d = t.ms - (before.get(pid)?.ms ?? 0);
    r.all += d;
    if (t.renderer) r.renderer += d;
  }
  return r;
}

export async function launch(): Promise<Browser> {
  const { chromium } = await import("playwright-core");
  return await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-dev-shm-usage",
      // Headless Chromium otherwise starts a renderer of its own for the omnibox popup's
      // WebUI with every new tab (about 280 chrome:// fetches, seen in a trace), browser UI
      // that competes with the page for a 2-core machine; nobody sees it here.
      `--disable-features=${OMNIBOX_WEBUI.join(",")}`,
    ],
  });
}

/** A page of the bench that has its worker; errors on the page are collected. */
async function openPage(browser: Browser, url: string, errors: string[]): Promise<Page> {
  const page = await browser.newPage();
  page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`console: ${m.text()}`);
  });
  await page.goto(url);
  return page;
}

async function inPage<T>(page: Page, bench: string, opts?: unknown): Promise<T> {
  return (await page.evaluate(
    ({ b, o }) => (window as unknown as { bench: { run(b: string, o?: unknown): Promise<unknown> } }).bench.run(b, o),
    { b: bench, o: opts },
  )) as T;
}

export async function topologyOnce(browser: Browser, srv: BenchServer, name: string, from: string, to: string, errors: string[]): Promise<TopoResult> {
  const cpu0 = childCpuMs();
  const page = await openPage(browser, `${srv.url}?topology=${name}&from=${from}&to=${to}`, errors);
  try {
    // One evaluate that awaits the page's own promise: page.waitForFunction would poll from
    // playwright's injected script, ~100 KB that a trace showed parsed and run on the page's
    // main thread while the worker starts (20-30 ms of CPU that no visitor's page pays).
    const { result, error } = await page.evaluate(async () => {
      const w = window as unknown as { benchDone?: Promise<void>; benchResult?: unknown; benchError?: string };
      if (!w.benchDone) return { result: undefined, error: "the page set no window.benchDone (page.js did not run)" };
      await Promise.race([w.benchDone, new Promise<void>((resolve) => setTimeout(resolve, 30_000))]);
      return { result: w.benchResult, error: w.benchError ?? (w.benchResult === undefined ? "no result within 30 s" : undefined) };
    });
    if (error !== undefined) throw new Error(`browser_topology_100_up_ms: ${error}`);
    const threads = HAVE_PROC ? rendererThreadCpuMs() : {};
    return { ...(result as TopoResult), cpu: { ...cpuSpent(cpu0, childCpuMs()), threads } };
  } finally {
    await page.close();
  }
}

/** A fresh page of the bench server's empty document (/blank): its navigation timing (ms from navigation start) and the CPU Chromium spent on it. */
export interface BlankResult {
  domInteractive: number;
  loadEnd: number;
  cpu: { all: number; renderer: number };
}

/**
 * What a fresh tab costs before any of our code, in the same run as the topology's pages:
 * the same server's empty document, same headers, a new page each time, read at its load
 * event's end (the empty page's whole load; the topology's page is parsed before its
 * worker starts, and its figure runs to the ping's answer).
 */
export async function blankOnce(browser: Browser, srv: BenchServer): Promise<BlankResult> {
  const cpu0 = childCpuMs();
  const page = await browser.newPage();
  try {
    await page.goto(`${srv.url}blank`, { waitUntil: "load" });
    const nav = await page.evaluate(() => {
      const n = performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming | undefined;
      return n ? { domInteractive: n.domInteractive, loadEnd: n.loadEventEnd } : undefined;
    });
    if (!nav || !(nav.loadEnd > 0)) throw new Error("blank page: no navigation timing with a load event's end");
    return { ...nav, cpu: cpuSpent(cpu0, childCpuMs()) };
  } finally {
    await page.close();
  }
}

function splitText(t: Record<string, number>): string {
  const ms = (x: number | undefined) => (x ?? NaN).toFixed(0);
  return `parse ${ms(t.parseFirst)} then ${ms(t.parse)} (validator alone ${ms(t.schemaCompile)}), boot ${ms(t.bootFirst)} then ${ms(t.boot)}, up ${ms(t.up)}, ping ${ms(t.ping)} ms`;
}

async function run(ctx: GroupContext): Promise<void> {
  if (!CHROMIUM || !existsSync(CHROMIUM)) {
    const why = CHROMIUM
      ? `CHROMIUM=${CHROMIUM} does not exist`
      : "Chromium not installed (apt-get install chromium, or CHROMIUM=path); the bench never downloads a browser";
    for (const m of group.metrics) ctx.skip(m.name, why);
    return;
  }
  const errors: string[] = [];
  const srv = await serveBenchPage({ grid100: GRID, star100: STAR });
  const browser = await launch();
  try {
    // The topology's steps in Node first, while this process has parsed no topology and
    // booted no kernel (the same cold start as the page's worker), for the note.
    const nodeSplit = await topologySplit(GRID, "g-1-1", "g-10-10");
    const version = browser.version();
    ctx.log(`Chromium ${version}, page at ${srv.url} (page.js ${srv.sizes.page} B, worker.js ${srv.sizes.worker} B, the workloads${"'"} chunks ${srv.sizes.chunks} B)`);

    // Page load to a 100-node lab up and pinging: one cold load (the browser's first
    // worker and Wasm compile), then TOPO_RUNS, each a new page; no-store, so every load
    // fetches and compiles the binaries again.
    ctx.log("topology: cold page load");
    const cold = await topologyOnce(browser, srv, "grid100", "g-1-1", "g-10-10", errors);
    // Alternating with an empty page of the same server, so both see the same machine.
    const runs: TopoResult[] = [];
    const blanks: BlankResult[] = [];
    for (let i = 0; i < TOPO_RUNS; i++) {
      runs.push(await topologyOnce(browser, srv, "grid100", "g-1-1", "g-10-10", errors));
      blanks.push(await blankOnce(browser, srv));
    }
    const blankMs = median(blanks.map((b) => b.loadEnd));
    const totalMs = median(runs.map((r) => r.totalMs));
    // A second visit: the scripts and binaries from the HTTP cache (and with them the code
    // caches), from a server of their own (another origin, so the loads above never saw them).
    const warmSrv = await serveBenchPage({ grid100: GRID }, { cache: true });
    const warm: TopoResult[] = [];
    try {
      for (let i = 0; i < 1 + WARM_RUNS; i++) warm.push(await topologyOnce(browser, warmSrv, "grid100", "g-1-1", "g-10-10", errors));
    } finally {
      await warmSrv.close();
    }
    warm.shift(); // the visit that filled the cache
    const stars: TopoResult[] = [];
    for (let i = 0; i < 2; i++) stars.push(await topologyOnce(browser, srv, "star100", "s1", "s99", errors));
    // What a new tab costs with no page in it (the renderer's start, the browser's side), for the note.
    const cpuB = childCpuMs();
    const blankPage = await browser.newPage();
    await blankPage.goto("about:blank");
    await new Promise((r) => setTimeout(r, 300));
    const blank = cpuSpent(cpuB, childCpuMs());
    await blankPage.close();
    // Where the time goes, step by step, in the worker of one more fresh page.
    const splitPage = await openPage(browser, srv.url, errors);
    const split = await inPage<Record<string, number>>(splitPage, "topoSplit", { yaml: GRID, from: "g-1-1", to: "g-10-10" }).finally(() => splitPage.close());
    const mid = (rs: TopoResult[], f: (r: TopoResult) => number) => median(rs.map(f)).toFixed(0);
    const cpuNote = HAVE_PROC
      ? `CPU time Chromium spent on each (all its processes / the renderers: page and worker) ${runs.map((r) => `${r.cpu.all.toFixed(0)}/${r.cpu.renderer.toFixed(0)}`).join(" ")} ms, and on a blank tab ${blank.all.toFixed(0)}/${blank.renderer.toFixed(0)} ms; ` +
        `of it the page's main thread ${mid(runs, (r) => r.cpu.threads.main ?? NaN)} ms and the worker's ${mid(runs, (r) => r.cpu.threads.DedicatedWorker ?? NaN)} ms (medians); `
      : "";
    ctx.report("browser_topology_100_up_ms", round(totalMs), {
      note: `10 x 10 grid of routers (${cold.nodes} nodes, ${cold.links} links, shortest-path routes to every link), ping g-1-1 -> g-10-10 (18 hops) at max speed; median of ${TOPO_RUNS} fresh pages: ` +
        `${totalMs.toFixed(0)} ms, ${(totalMs - blankMs).toFixed(0)} ms over a blank page (the same server's empty document, a fresh page alternating with each run, loaded at ${blankMs.toFixed(0)} ms: ${blanks.map((b) => b.loadEnd.toFixed(0)).join(" ")}, parsed at ${median(blanks.map((b) => b.domInteractive)).toFixed(0)}); ` +
        `page answered at ${mid(runs, (r) => r.navigation?.responseEnd ?? NaN)} ms, parsed at ${mid(runs, (r) => r.navigation?.domInteractive ?? NaN)}, script running at ${mid(runs, (r) => r.marks.script)}, ` +
        `worker started (its script fetched) at ${mid(runs, (r) => r.worker.created)}, its code running at ${mid(runs, (r) => r.worker.evalStart)}, ready at ${mid(runs, (r) => r.worker.ready)}, answering at ${mid(runs, (r) => r.marks.hello)}, ` +
        `load in at ${mid(runs, (r) => r.worker.loadIn)} (parse ${mid(runs, (r) => r.worker.parseMs)}, boot ${mid(runs, (r) => r.worker.bootMs)}, rest of up ${mid(runs, (r) => r.worker.upMs - r.worker.bootMs)}), its answer posted at ${mid(runs, (r) => r.worker.loadPosted)} (clone ${mid(runs, (r) => r.worker.loadPosted - r.worker.loadPost)}), read by the page at ${mid(runs, (r) => r.marks.loaded)}, ping answered at ${mid(runs, (r) => r.marks.pinged)}; ` +
        `second visits (scripts and binaries from the HTTP cache, HTML and YAML not): ${warm.map((r) => r.totalMs.toFixed(0)).join(" ")} ms (worker's code running at ${mid(warm, (r) => r.worker.evalStart)}, CPU ${warm.map((r) => r.cpu.all.toFixed(0)).join(" ")} ms); ` +
        `runs ${runs.map((r) => r.totalMs.toFixed(0)).join(" ")} ms; ${cpuNote}first (cold) page ${cold.totalMs.toFixed(0)} ms; a star of 100 (router centre, 99 hosts): ${mid(stars, (r) => r.totalMs)} ms; ` +
        `step by step (first parse compiles the schema validator, first boot fetches and compiles the binaries) in one more page's worker: ${splitText(split)}; in Node (this process, as cold): ${splitText(nodeSplit)}; ` +
        `crossOriginIsolated ${cold.crossOriginIsolated}, Chromium ${version}, load average ${load()}`,
    });

    const page = await openPage(browser, srv.url, errors);
    try {
      // TCP: tcp_epair_gbps's sizes and verification (its StreamHash, both ends), without its unverified runs and recv() comparison.
      const opts = { ...EPAIR_BULK };
      const nodeRates: number[] = [];
      const pageRates: number[] = [];
      let pageNote = "";
      let env: WorkerEnv | undefined;
      for (let r = 0; r < ROUNDS; r++) {
        ctx.log(`tcp round ${r + 1}: node`);
        nodeRates.push(...(await tcpEpairBulk({ ...opts, recvXfer: 0, now: nowNs, log: (m) => ctx.log(m) })).rates);
        ctx.log(`tcp round ${r + 1}: page`);
        const b = await inPage<{ rates: number[]; note: string; env: WorkerEnv }>(page, "tcp", opts);
        env = b.env;
        ctx.log(`  ${b.rates.map((x) => x.toFixed(2)).join(" ")} Gbit/s`);
        pageRates.push(...b.rates);
        pageNote = b.note;
      }
      const nodeG = median(nodeRates);
      const pageG = median(pageRates);
      ctx.report("browser_tcp_epair_gbps", round(pageG), {
        peer: "tcp_epair_gbps",
        peerValue: round(nodeG),
        note: `${ratio(pageG, nodeG)}; ${ROUNDS} rounds alternating Node (this process) and the page's worker, median of ${ROUNDS * opts.runs} runs each; ` +
          `page runs ${pageRates.map((x) => x.toFixed(1)).join(" ")}, Node runs ${nodeRates.map((x) => x.toFixed(1)).join(" ")} Gbit/s; the page's last round: ${pageNote}; worker cross-origin isolated: ${env?.crossOriginIsolated}; load average ${load()}`,
      });

      // Frames: epair_fps's loop.
      const nodeFps: number[] = [];
      const pageFps: number[] = [];
      let fpsNote = "";
      for (let r = 0; r < ROUNDS; r++) {
        ctx.log(`epair round ${r + 1}: node, page`);
        const s = await epairSetup();
        try {
          nodeFps.push(...epairFps(s, nowNs).rates);
        } finally {
          s.k.shutdown();
        }
        const b = await inPage<{ rates: number[]; note: string }>(page, "epair");
        pageFps.push(...b.rates);
        fpsNote = b.note;
      }
      const nf = median(nodeFps);
      const pf = median(pageFps);
      ctx.report("browser_epair_fps", round(pf), {
        peer: "epair_fps",
        peerValue: round(nf),
        note: `${ratio(pf, nf)}; ${ROUNDS} rounds alternating Node and the page's worker, median of ${pageFps.length} runs each; page runs ${pageFps.map((x) => (x / 1e6).toFixed(1)).join(" ")}, Node runs ${nodeFps.map((x) => (x / 1e6).toFixed(1)).join(" ")} M frames/s; the page's last round: ${fpsNote}; load average ${load()}`,
      });
    } finally {
      await page.close();
    }
    if (errors.length) throw new Error(`the bench page reported errors: ${errors.join("; ")}`);
  } finally {
    await browser.close();
    await srv.close();
  }
}

const group: Group = {
  name: "browser",
  description: "the kernel in a Web Worker of headless Chromium (Debian's chromium through playwright-core)",
  metrics: [
    { name: "browser_tcp_epair_gbps", unit: "Gbit/s", target: { minPeerRatio: RATIO }, description: "tcp_epair_gbps's workload (3 x 4 GiB, send + recvInto, every byte verified) in a Web Worker; peer: the same loop in Node, same run" },
    { name: "browser_topology_100_up_ms", unit: "ms", target: { max: 500 }, description: "a fresh page to a 10 x 10 grid of routers up through the page protocol and one ping across it answered" },
    { name: "browser_epair_fps", unit: "frames/s", target: { minPeerRatio: RATIO }, description: "epair_fps's workload (64-byte frames made in Wasm, counted by the receiving vnet's sink) in a Web Worker; peer: the same loop in Node, same run" },
  ],
  peers: ["tcp_epair_gbps", "epair_fps"],
  run,
};

export default group;
