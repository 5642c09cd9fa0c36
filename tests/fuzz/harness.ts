// Running the paths of tests/fuzz/paths.ts: seeded fast-check runs against one World, with
// shrinking of a failing case (each attempt after a failure gets a fresh World, since a
// broken invariant may leave the old one broken too), saving of the minimized case as a
// regression file in tests/fuzz/corpus/, and replay of those files.

import fc from "fast-check";
import { createHash } from "node:crypto";
import { readFileSync, readdirSync, writeFileSync, mkdirSync, existsSync } from "node:fs";
import { join } from "node:path";
import { World, FuzzFailure } from "./world.js";
import { PATHS, CORPUS_DIR, pathByName, type Path } from "./paths.js";

/** JSON with byte arrays as hex strings ({"$hex": "..."}), so cases save and load whole. */
export function toJson(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (x instanceof Uint8Array ? { $hex: Buffer.from(x).toString("hex") } : x), 2);
}
export function fromJson(s: string): any {
  return JSON.parse(s, (_k, x) => (x && typeof x === "object" && typeof x.$hex === "string" ? new Uint8Array(Buffer.from(x.$hex, "hex")) : x));
}

export interface Failure {
  path: string;
  seed: number;
  message: string;
  case: unknown;
  file?: string;
}

export interface RunStats {
  cases: number;
  seconds: number;
  /** Failing cases found (the same bug may be found again by later seeds: see distinct). */
  failures: Failure[];
  /** Failures with distinct signatures (signature()): the bugs found. */
  distinct: number;
  byPath: Record<string, number>;
}

/** A World that is replaced after a failure. */
export class WorldBox {
  world: World | undefined;
  dirty = false;
  constructor(private readonly seed = 1) {}
  async get(): Promise<World> {
    if (!this.world || this.dirty) {
      if (this.world) {
        try {
          this.world.shutdown();
        } catch {
          // a broken world may not shut down cleanly; it is dropped either way
        }
      }
      this.world = await World.create(this.seed);
      this.dirty = false;
    }
    return this.world;
  }
  close(): void {
    try {
      this.world?.shutdown();
    } catch {
      // see get()
    }
    this.world = undefined;
  }
}

/** Whether a case runs against a forwarding target: half of them, fixed by the case itself (so a replay is the same). */
function routerFor(c: unknown): boolean {
  return (createHash("sha256").update(toJson(c)).digest()[0] & 1) === 1;
}

/** Run one case of a path; a broken invariant throws FuzzFailure (and marks the world dirty). */
export async function runCase(box: WorldBox, path: Path, c: unknown): Promise<void> {
  const w = await box.get();
  try {
    await w.run((t) => path.run(w, t, c), { bridge: path.bridge, router: path.router === true && routerFor(c) });
  } catch (e) {
    box.dirty = true;
    if (e instanceof FuzzFailure) throw e;
    throw new FuzzFailure("host exception", e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e));
  }
}

/** Save a minimized failing case as a regression file; returns its path. */
export function saveRegression(f: Failure): string {
  mkdirSync(CORPUS_DIR, { recursive: true });
  const body = toJson({ path: f.path, seed: f.seed, message: f.message.split("\n")[0], case: f.case });
  const id = createHash("sha256").update(toJson(f.case)).digest("hex").slice(0, 10);
  const file = join(CORPUS_DIR, `regress-${f.path}-${id}.json`);
  writeFileSync(file, body + "\n");
  return file;
}

export function regressionFiles(): string[] {
  if (!existsSync(CORPUS_DIR)) return [];
  return readdirSync(CORPUS_DIR).filter((n) => n.startsWith("regress-") && n.endsWith(".json")).sort().map((n) => join(CORPUS_DIR, n));
}

/** Replay one saved regression: resolves if it passes now, throws FuzzFailure if it still fails. */
export async function replay(box: WorldBox, file: string): Promise<void> {
  const r = fromJson(readFileSync(file, "utf8"));
  await runCase(box, pathByName(r.path), r.case);
}

/** What makes two failures the same bug: the path and the message with numbers blanked. */
export function signature(path: string, message: string): string {
  return `${path}: ${message.split("\n")[0].replace(/\d+/g, "N")}`;
}

/**
 * One seeded fast-check run of a path: numRuns cases (or until timeMs). A failure is then
 * shrunk from where it was found (fast-check's replay path) for at most shrinkMs, unless
 * `seen` already holds its signature (the same bug found again: not worth the time), and
 * returned (and saved when save is set).
 */
export async function fuzzPath(box: WorldBox, path: Path, opts: { seed: number; numRuns: number; timeMs?: number; shrinkMs?: number; save?: boolean; seen?: Set<string> }): Promise<{ cases: number; failure?: Failure }> {
  let cases = 0;
  const prop = fc.asyncProperty(path.arb, async (c) => {
    cases++;
    await runCase(box, path, c);
  });
  const found = await fc.check(prop, { seed: opts.seed, numRuns: opts.numRuns, interruptAfterTimeLimit: opts.timeMs, markInterruptAsFailure: false, endOnFailure: true });
  if (!found.failed || !found.counterexample) return { cases };
  const msg = (d: typeof found) => (d.errorInstance instanceof Error ? d.errorInstance.message : String(d.errorInstance));
  let f: Failure = { path: path.name, seed: opts.seed, message: msg(found), case: found.counterexample[0] };
  const sig = signature(path.name, f.message);
  if (opts.seen?.has(sig)) return { cases, failure: f };
  opts.seen?.add(sig);
  const shrunk = await fc.check(prop, { seed: opts.seed, path: found.counterexamplePath ?? undefined, interruptAfterTimeLimit: opts.shrinkMs ?? 60_000, markInterruptAsFailure: false });
  if (shrunk.failed && shrunk.counterexample) f = { ...f, message: msg(shrunk), case: shrunk.counterexample[0] };
  if (opts.save) f.file = saveRegression(f);
  return { cases, failure: f };
}

/** Every path (or the named ones) round-robin until `seconds` pass; seeds follow from `seed`. */
export async function fuzzFor(opts: { seconds: number; seed: number; paths?: string[]; save?: boolean; chunk?: number; log?: (s: string) => void }): Promise<RunStats> {
  const box = new WorldBox(1);
  const paths = opts.paths ? opts.paths.map(pathByName) : PATHS;
  const t0 = performance.now();
  const end = t0 + opts.seconds * 1000;
  const stats: RunStats = { cases: 0, seconds: 0, failures: [], distinct: 0, byPath: {} };
  const seen = new Set<string>();
  let seed = opts.seed;
  try {
    while (performance.now() < end) {
      for (const p of paths) {
        const left = end - performance.now();
        if (left <= 0) break;
        const numRuns = Math.max(1, Math.round((opts.chunk ?? 200) * p.weight));
        const r = await fuzzPath(box, p, { seed: seed++, numRuns, timeMs: left, save: opts.save, seen });
        stats.cases += r.cases;
        stats.byPath[p.name] = (stats.byPath[p.name] ?? 0) + r.cases;
        if (r.failure) {
          stats.failures.push(r.failure);
          opts.log?.(`FAIL ${p.name} (seed ${r.failure.seed}): ${r.failure.message.split("\n")[0]}${r.failure.file ? `\n  saved ${r.failure.file}` : ""}`);
        }
      }
      opts.log?.(`${stats.cases} cases, ${stats.failures.length} failures, ${Math.round((performance.now() - t0) / 1000)} s`);
    }
  } finally {
    box.close();
  }
  stats.seconds = (performance.now() - t0) / 1000;
  stats.distinct = seen.size;
  return stats;
}
