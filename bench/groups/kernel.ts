// Group "kernel": the cost of the kernel's own primitives, the things every network stack
// in it pays for: a vnet's life and idle footprint, 100,000 vnets in one kernel, zone and
// mbuf allocation, callouts, and kldload into a kernel with live vnets.
//
// Per-operation figures of kernel primitives are measured by loops inside Wasm (the
// bench_kern and bench_mbuf modules, bench/kmod/), so they are what a module pays for a
// direct call, not a JavaScript-to-Wasm crossing per operation. Whole-vnet figures are
// measured through the host API, and where the crossing dominates the in-kernel figure is
// reported instead, with the table saying which.

import { spawnSync } from "node:child_process";
import { writeFileSync, rmSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Kernel, PAGE_SIZE } from "../../host/index.js";
import { median, nowNs, perOpNs, round, fmtValue, type Group, type GroupContext } from "../lib.js";

interface BenchKern {
  bench_zone(n: number): number;
  bench_zone_pinned(n: number): number;
  bench_callout(n: number): number;
  bench_callout_rearm(n: number): number;
  bench_vnet(n: number): number;
  bench_vnet_batch(n: number, k: number): number;
}

interface BenchMbuf {
  bench_mbuf(n: number): number;
  bench_mbuf_hdr(n: number): number;
}

const NS_RUNS = 11; // runs of an in-Wasm loop; the median is reported
const VNETS_MANY = 100_000;
const MANY_RUNS = 3; // fresh kernels of 100,000 vnets; the median is reported
const LIVE_VNETS = 1_000;
const KLD_RUNS = 5;
const NETNS_PAIRS = 200;

/** Throw if an in-Wasm loop reported failures (its return value counts them). */
function checked(name: string, f: (n: number) => number): (n: number) => number {
  return (n) => {
    const bad = f(n);
    if (bad !== 0) throw new Error(`${name}(${n}) reported ${bad} failures`);
    return bad;
  };
}

async function benchKernel(): Promise<{ k: Kernel; bk: BenchKern }> {
  const k = await Kernel.boot({ config: "BARE" });
  await k.kldload("bench_kern");
  return { k, bk: k.module<BenchKern>("bench_kern") };
}

function pct(x: number): string {
  return `${Math.round(x * 100)}%`;
}

// ---------------------------------------------------------------------------------------
// vnet_create_destroy_us and its Linux peer

async function vnetCreateDestroy(ctx: GroupContext): Promise<void> {
  const { k, bk } = await benchKernel();
  const BATCH = 2000;
  const BATCHES = 21;
  // Host API: what a user of the library pays.
  const host = perOpNs((n) => {
    for (let i = 0; i < n; i++) k.createVnet().destroy();
  }, BATCH, BATCHES, 3);
  // The bare exports called from JS: kernel work + one crossing per call, no host bookkeeping.
  const alloc = k.k.vnet_alloc;
  const destroy = k.k.vnet_destroy;
  const raw = perOpNs((n) => {
    for (let i = 0; i < n; i++) {
      const v = alloc();
      if (v === 0 || destroy(v) !== 0) throw new Error("vnet_alloc/vnet_destroy failed");
    }
  }, BATCH, BATCHES, 3);
  // Inside Wasm: bench_kern calls the kernel's vnet_alloc/vnet_destroy directly.
  const wasm = perOpNs(checked("bench_vnet", (n) => bk.bench_vnet(n)), 20_000, NS_RUNS);
  // Many alive at once (4,096), then all destroyed: the same work with colder caches.
  const batched = perOpNs(checked("bench_vnet_batch", (n) => bk.bench_vnet_batch(n / 4096, 4096)), 4096 * 5, 5, 1);
  const hostUs = median(host) / 1000;
  const rawUs = median(raw) / 1000;
  const wasmUs = median(wasm) / 1000;
  const batchUs = median(batched) / 1000;
  const outside = (hostUs - wasmUs) / hostUs;
  const crossing = Math.max(0, rawUs - wasmUs) / hostUs;
  const bookkeeping = Math.max(0, hostUs - rawUs) / hostUs;
  const snapshotLeft = k.accounting().vnets;
  k.shutdown();
  if (snapshotLeft !== 1) throw new Error(`vnet_create_destroy: ${snapshotLeft - 1} vnets left behind`);

  const peer = linuxNetns(ctx);
  const split = `JS crossing ${pct(crossing)}, host bookkeeping ${pct(bookkeeping)}; bare exports called from JS ${fmtValue(round(rawUs))} µs`;
  const opts = peer.value !== undefined ? { peer: "linux_netns_add_del_us", peerValue: peer.value } : {};
  if (outside > 0.5) {
    ctx.report("vnet_create_destroy_us", round(wasmUs), {
      ...opts,
      note: `IN-KERNEL figure (bench_kern loop over vnet_alloc+vnet_destroy); host API k.createVnet().destroy() = ${fmtValue(round(hostUs))} µs, ${pct(outside)} of it outside the kernel (${split}); 4,096 alive then destroyed: ${fmtValue(round(batchUs))} µs`,
    });
  } else {
    ctx.report("vnet_create_destroy_us", round(hostUs), {
      ...opts,
      note: `host API k.createVnet().destroy(); in-kernel ${fmtValue(round(wasmUs))} µs (${split}); 4,096 alive then destroyed: ${fmtValue(round(batchUs))} µs`,
    });
  }
  if (peer.value !== undefined) {
    ctx.report("linux_netns_add_del_us", peer.value, { note: peer.note });
  } else {
    ctx.skip("linux_netns_add_del_us", peer.note);
  }
}

/** `ip -batch` adding then deleting NETNS_PAIRS namespaces: µs per add+del pair. */
export function linuxNetns(ctx: GroupContext): { value?: number; note: string } {
  if (process.platform !== "linux") return { note: "not Linux" };
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return { note: "needs root (ip netns add)" };
  const ver = spawnSync("ip", ["-V"], { encoding: "utf8" });
  if (ver.error || ver.status !== 0) return { note: "iproute2 `ip` not found" };
  const names = Array.from({ length: NETNS_PAIRS }, (_, i) => `wvbench${i}`);
  const dir = mkdtempSync(join(tmpdir(), "wvbench-"));
  const file = join(dir, "netns.batch");
  writeFileSync(file, [...names.map((n) => `netns add ${n}`), ...names.map((n) => `netns del ${n}`)].join("\n") + "\n");
  const cleanup = () => {
    const list = spawnSync("ip", ["netns", "list"], { encoding: "utf8" });
    for (const line of (list.stdout ?? "").split("\n")) {
      const n = line.split(/\s+/)[0];
      if (/^wvbench\d+$/.test(n)) spawnSync("ip", ["netns", "del", n]);
    }
  };
  const runs: number[] = [];
  try {
    cleanup();
    for (let r = 0; r < 3; r++) {
      const t0 = nowNs();
      const res = spawnSync("ip", ["-batch", file], { encoding: "utf8" });
      const dt = nowNs() - t0;
      if (res.error || res.status !== 0) {
        return { note: `ip -batch netns add/del failed: ${(res.stderr || String(res.error ?? "")).trim().split("\n")[0]}` };
      }
      runs.push(dt / NETNS_PAIRS / 1000);
    }
  } finally {
    cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
  ctx.log(`linux netns add+del: ${runs.map((x) => x.toFixed(0)).join(", ")} µs per pair`);
  return { value: round(median(runs)), note: `ip -batch: ${NETNS_PAIRS} netns add + ${NETNS_PAIRS} netns del, per pair, median of ${runs.length}; includes one ip process start per batch` };
}

// ---------------------------------------------------------------------------------------
// vnet_idle_bytes

async function vnetIdleBytes(ctx: GroupContext): Promise<void> {
  const k = await Kernel.boot({ config: "BARE" });
  const v = k.createVnet();
  const a = v.accounting();
  const items = Object.entries(a.items).map(([n, c]) => `${n} ${c}`).join(", ");
  ctx.report("vnet_idle_bytes", a.bytes, {
    note: `bare kernel: ${a.pages} pages (${a.pages * PAGE_SIZE} B VNET data block) + ${a.bytes - a.pages * PAGE_SIZE} B struct vnet and charged items${items ? ` (${items})` : ""}`,
  });
  v.destroy();
  k.shutdown();
}

// ---------------------------------------------------------------------------------------
// vnets_100k_create_s, vnets_100k_bytes

interface ManyRun {
  createS: number;
  destroyS: number;
  bytes: number;
  accounted: number;
  memoryBytes: number;
  chunks: number;
  chunksFree: number;
  left: number;
}

/** One kernel, 100,000 vnets through the host API, then all destroyed. */
async function vnetsManyOnce(ctx: GroupContext): Promise<ManyRun> {
  const k = await Kernel.boot({ config: "BARE" });
  // Warm-up, and the baseline in its steady state: the vnet zone keeps one empty slab
  // cached once it has had more than one, so fill a few slabs and empty them first.
  for (let r = 0; r < 3; r++) {
    const warm = Array.from({ length: 1000 }, () => k.createVnet());
    for (const v of warm.reverse()) v.destroy();
  }
  const base = k.accounting();
  const t0 = nowNs();
  const vs = new Array(VNETS_MANY);
  for (let i = 0; i < VNETS_MANY; i++) vs[i] = k.createVnet();
  const createS = (nowNs() - t0) / 1e9;
  const a = k.accounting();
  let accounted = 0;
  for (const v of vs) accounted += k.k.vnet_bytes(v.ptr);
  const t1 = nowNs();
  for (let i = VNETS_MANY - 1; i >= 0; i--) vs[i].destroy();
  const destroyS = (nowNs() - t1) / 1e9;
  const after = k.accounting();
  const left = after.pagesInUse - base.pagesInUse;
  const msg = `100k created in ${createS.toFixed(2)} s, destroyed in ${destroyS.toFixed(2)} s; pages left after destroy: ${left} (${after.pagesInUse} in use, ${base.pagesInUse} before)`;
  ctx.log(msg);
  k.shutdown();
  if (left !== 0 || after.vnets !== 1) throw new Error(`vnets_100k: ${msg}, ${after.vnets - 1} vnets still alive`);
  return {
    createS, destroyS, left, accounted,
    bytes: (a.pagesInUse - base.pagesInUse) * PAGE_SIZE,
    memoryBytes: a.memoryBytes, chunks: a.chunks, chunksFree: a.chunksFree,
  };
}

async function vnetsMany(ctx: GroupContext): Promise<void> {
  const runs: ManyRun[] = [];
  for (let r = 0; r < MANY_RUNS; r++) runs.push(await vnetsManyOnce(ctx));
  const createS = median(runs.map((r) => r.createS));
  const destroyS = median(runs.map((r) => r.destroyS));
  const a = runs[runs.length - 1];
  const mib = (x: number) => `${(x / 2 ** 20).toFixed(0)} MiB`;
  const range = runs.map((r) => r.createS.toFixed(2)).join(", ");
  ctx.report("vnets_100k_create_s", round(createS), {
    note: `host API k.createVnet() x 100,000 in a fresh kernel (${fmtValue(round((createS * 1e6) / VNETS_MANY))} µs each, runs ${range} s, median); destroy all: ${destroyS.toFixed(2)} s, then ${a.left} pages left`,
  });
  ctx.report("vnets_100k_bytes", a.bytes, {
    note: `kmem pages in use x 4096 (data blocks + struct vnet slabs) = ${mib(a.bytes)}, ${fmtValue(round(a.bytes / VNETS_MANY))} B/vnet; per-vnet accounting sums to ${mib(a.accounted)}; Wasm memory ${mib(a.memoryBytes)} (${a.chunks} chunks, ${a.chunksFree} free)`,
  });
}

// ---------------------------------------------------------------------------------------
// zone_alloc_free_ns, callout_reset_stop_ns, mbuf_get_free_ns

async function primitives(ctx: GroupContext): Promise<void> {
  const { k, bk } = await benchKernel();
  const zone = perOpNs((n) => bk.bench_zone_pinned(n), 2_000_000, NS_RUNS);
  const zoneEmpty = perOpNs((n) => bk.bench_zone(n), 2_000_000, NS_RUNS);
  ctx.report("zone_alloc_free_ns", round(median(zone)), {
    note: `bench_kern loop, 64 B items, kernel zone with another item in use (slab stays partial); median of ${NS_RUNS} x 2M pairs (min ${fmtValue(round(Math.min(...zone)))}); in an otherwise empty zone (its only slab empties and refills every pair): ${fmtValue(round(median(zoneEmpty)))} ns`,
  });
  const callout = perOpNs(checked("bench_callout", (n) => bk.bench_callout(n)), 1_000_000, NS_RUNS);
  const rearm = perOpNs(checked("bench_callout_rearm", (n) => bk.bench_callout_rearm(n)), 1_000_000, NS_RUNS);
  ctx.report("callout_reset_stop_ns", round(median(callout)), {
    note: `bench_kern loop, deltas 1-65 ms; median of ${NS_RUNS} x 1M pairs (min ${fmtValue(round(Math.min(...callout)))}); re-arming a pending callout: ${fmtValue(round(median(rearm)))} ns per reset`,
  });
  if (k.k.callout_pending_count() !== 0) throw new Error("bench_callout left callouts pending");
  k.kldunload("bench_kern");

  await k.kldload("bench_mbuf");
  const bm = k.module<BenchMbuf>("bench_mbuf");
  const mb = perOpNs(checked("bench_mbuf", (n) => bm.bench_mbuf(n)), 1_000_000, NS_RUNS);
  const hdr = perOpNs(checked("bench_mbuf_hdr", (n) => bm.bench_mbuf_hdr(n)), 1_000_000, NS_RUNS);
  ctx.report("mbuf_get_free_ns", round(median(mb)), {
    note: `bench_mbuf loop, m_get(MT_DATA)+m_free charged to vnet0, one other mbuf in use; median of ${NS_RUNS} x 1M pairs; m_gethdr+m_free: ${fmtValue(round(median(hdr)))} ns`,
  });
  k.kldunload("bench_mbuf");
  k.shutdown();
}

// ---------------------------------------------------------------------------------------
// kldload_live_vnets_ms

async function kldloadLive(ctx: GroupContext): Promise<void> {
  const k = await Kernel.boot({ config: "BARE" });
  const vs = Array.from({ length: LIVE_VNETS }, () => k.createVnet());
  // Warm-up: compiles the module (cached per process) and warms the paths.
  await k.kldload("vnet_demo");
  k.kldunload("vnet_demo");
  const load: number[] = [];
  const unload: number[] = [];
  for (let r = 0; r < KLD_RUNS; r++) {
    const t0 = nowNs();
    await k.kldload("vnet_demo");
    const t1 = nowNs();
    k.kldunload("vnet_demo");
    const t2 = nowNs();
    load.push((t1 - t0) / 1e6);
    unload.push((t2 - t1) / 1e6);
  }
  for (const v of vs) v.destroy();
  k.shutdown();
  ctx.report("kldload_live_vnets_ms", round(median(load)), {
    note: `vnet_demo (per vnet: VNET data, a zone, an item, a callout) into ${LIVE_VNETS.toLocaleString("en")} live vnets; median of ${KLD_RUNS}; kldunload ${fmtValue(round(median(unload)))} ms`,
  });
}

const group: Group = {
  name: "kernel",
  description: "kernel primitives: vnet life and footprint, zones, mbufs, callouts, kldload",
  metrics: [
    { name: "vnet_create_destroy_us", unit: "µs", target: { max: 10 }, description: "one vnet created and destroyed in a bare kernel (median per pair over many batches)" },
    { name: "linux_netns_add_del_us", unit: "µs", description: "peer: `ip -batch` netns add + netns del on this Linux host, per pair (root only)" },
    { name: "vnet_idle_bytes", unit: "B", target: { max: 16384 }, description: "kernel memory one idle vnet owns, bare kernel (accounting().bytes)" },
    { name: "vnets_100k_create_s", unit: "s", target: { max: 2 }, description: "100,000 vnets created in one kernel through the host API" },
    { name: "vnets_100k_bytes", unit: "B", target: { max: 2 * 2 ** 30 }, description: "kmem pages (x 4096) those 100,000 vnets take" },
    { name: "zone_alloc_free_ns", unit: "ns", target: { max: 20 }, description: "zone_alloc + zone_free pair, loop inside Wasm" },
    { name: "mbuf_get_free_ns", unit: "ns", target: { max: 30 }, description: "m_get + m_free pair, loop inside Wasm" },
    { name: "callout_reset_stop_ns", unit: "ns", target: { max: 50 }, description: "callout_reset + callout_stop pair, loop inside Wasm" },
    { name: "kldload_live_vnets_ms", unit: "ms", description: "kldload of vnet_demo into a kernel with 1,000 live vnets" },
  ],
  async run(ctx) {
    ctx.log("vnet create/destroy");
    await vnetCreateDestroy(ctx);
    ctx.log("idle vnet");
    await vnetIdleBytes(ctx);
    ctx.log("zone, callout, mbuf loops");
    await primitives(ctx);
    ctx.log("kldload with live vnets");
    await kldloadLive(ctx);
    ctx.log("100,000 vnets");
    await vnetsMany(ctx);
  },
};

export default group;
