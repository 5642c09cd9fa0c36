// The epair_fps workload: 64-byte frames from one vnet to another over an epair, made and
// sent inside Wasm by bench_link (bench/kmod/bench_link.ts) and counted by its sink, the
// netisr handler of their ethertype in the receiving vnet. Platform-neutral (wavnet/core
// only): the link group runs it in Node, the browser group in a Web Worker of Chromium.

import { Kernel, type Interface, type ModuleSource } from "../../host/core.js";
import { median, type NowNs } from "./common.js";

export interface BenchLink {
  bench_send(ifp: number, dstIfp: number, n: number): number;
  bench_received(): number;
}

export const BATCH = 50_000;
export const RUNS = 9;
export const FRAMES_PER_RUN = 1_000_000;

/** A BARE kernel with these modules loaded. */
export async function bootWith(modules: string[], source?: ModuleSource): Promise<Kernel> {
  const k = await Kernel.boot({ config: "BARE", ...(source ? { source } : {}) });
  for (const m of modules) await k.kldload(m);
  return k;
}

/**
 * Frames per second from src to dst: the median of RUNS runs of FRAMES_PER_RUN, each sent
 * in batches (one JS -> Wasm call per batch, timed around the call), optionally draining a
 * capture between batches (not timed). Every run checks the sink saw every frame.
 */
export function measureFps(k: Kernel, src: Interface, dst: Interface, now: NowNs, drain?: () => void, batch = BATCH): { fps: number; drainMs: number; rates: number[] } {
  const bl = k.module<BenchLink>("bench_link");
  const rates: number[] = [];
  let drainNs = 0;
  bl.bench_send(src.ptr, dst.ptr, batch); // warm up
  drain?.();
  for (let r = 0; r < RUNS; r++) {
    let sendNs = 0;
    const before = bl.bench_received();
    for (let sent = 0; sent < FRAMES_PER_RUN; sent += batch) {
      const t0 = now();
      const refused = bl.bench_send(src.ptr, dst.ptr, batch);
      sendNs += now() - t0;
      if (refused !== 0) throw new Error(`bench_send: ${refused} frames refused`);
      if (drain) {
        const t1 = now();
        drain();
        drainNs += now() - t1;
      }
    }
    const got = bl.bench_received() - before;
    if (got !== FRAMES_PER_RUN) throw new Error(`sent ${FRAMES_PER_RUN} frames, the sink saw ${got}`);
    rates.push(FRAMES_PER_RUN / (sendNs / 1e9));
  }
  return { fps: median(rates), drainMs: drainNs / RUNS / 1e6, rates };
}

/** Two vnets a and b on an epair, both ends up, in a BARE kernel with bench_link loaded. */
export async function epairSetup(source?: ModuleSource): Promise<{ k: Kernel; ea: Interface; eb: Interface }> {
  const k = await bootWith(["if_epair", "bench_link"], source);
  const [ea, eb] = k.epair(k.createVnet("a"), k.createVnet("b"));
  ea.setUp();
  eb.setUp();
  return { k, ea, eb };
}

/** epair_fps on a setup from epairSetup: a -> b; the note also gives the receiving end's input counter. */
export function epairFps(s: { k: Kernel; ea: Interface; eb: Interface }, now: NowNs): { fps: number; rates: number[]; note: string } {
  const in0 = s.eb.counters().ipackets;
  const m = measureFps(s.k, s.ea, s.eb, now);
  const got = s.eb.counters().ipackets - in0;
  return { fps: m.fps, rates: m.rates, note: `1M frames x ${RUNS} runs in batches of ${BATCH}, median; ${(1e9 / m.fps).toFixed(1)} ns per frame end to end; b's end counted ${got} frames in (the runs and a ${BATCH}-frame warm-up)` };
}
