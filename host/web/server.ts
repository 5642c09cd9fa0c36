// The worker's side of the page protocol (host/web/protocol.ts): requests in, responses and
// events out, one lab at a time. Runs wherever the core does: a Web Worker
// (web/src/worker.ts), a Node worker_threads worker (tests), or the page's own thread.
//
//   const server = new LabServer((m, transfer) => self.postMessage(m, transfer), { source });
//   self.onmessage = (e) => server.handle(e.data);

import { platform, setPlatform, type ModuleSource } from "../lib/platform.js";
import { Lab, check, problemsOf } from "./lab.js";
import { MemFs } from "./memfs.js";
import linkmap from "../kern/linkmap_data.js";
import { handedModuleSource, type HandedModuleSource } from "../kern/source.js";
import { isWasmHand } from "./early.js";
import { PROTOCOL_VERSION, type Event, type LabInfo, type Ops, type Request, type Response, type WireError } from "./protocol.js";

export interface ServeOptions {
  /** Kernel and module binaries (a browser: urlModuleSource of the page's wasm folder). Default: the platform's. */
  source?: ModuleSource;
  /**
   * Fetch and compile these binaries at once, while the page is still starting, so the
   * first load does not wait for them: the kernel and a configuration's modules (a name in
   * the link map) or a list of module names; false for none. Default: GENERIC's when a
   * source is given (urlModuleSource keeps what it compiled; a failure here is retried at
   * the boot that needs it, and reported there).
   */
  prefetch?: string | readonly string[] | false;
  /**
   * Binaries ("kernel", module names) the page compiles and posts as `{ wasm: name, module }`
   * messages (host/web/early.ts startLabWorker): they are waited for rather than fetched
   * from `source`, which serves the rest and any the page hands without a module.
   */
  handed?: readonly string[];
}

type Handler<K extends keyof Ops> = (args: Ops[K]["args"]) => Ops[K]["result"] | Promise<Ops[K]["result"]>;

export class LabServer {
  readonly fs = new MemFs();
  private lab: Lab | undefined;
  /** load/unload one after the other: a second load waits for the first. */
  private chain: Promise<unknown> = Promise.resolve();
  /** Shell lines running, by console (node name; "" for the shell's own), for interrupt. */
  readonly #running = new Map<string, Set<AbortController>>();

  /** Where this server's kernels take their binaries from (the handed ones first). */
  readonly source: ModuleSource | undefined;
  /** The binaries the page hands over (ServeOptions.handed), fed by handle(). */
  readonly #handed: HandedModuleSource | undefined;

  constructor(private readonly post: (m: Response | Event, transfer?: Transferable[]) => void, opts: ServeOptions = {}) {
    // Files in memory (shell captures, capture steps) and the binaries: over the platform in force.
    const base = platform();
    const given = opts.source ?? base.defaultModuleSource?.();
    if (opts.handed?.length && !given) throw new Error("LabServer: handed binaries need a source to fall back on (ServeOptions.source)");
    this.#handed = opts.handed?.length ? handedModuleSource(given!, opts.handed) : undefined;
    const source = (this.source = this.#handed ?? given);
    setPlatform({
      ...base,
      name: `${base.name} worker`,
      ...(source ? { defaultModuleSource: () => source } : {}),
      ...this.fs.hooks(),
    });
    const pre = opts.prefetch ?? (opts.source ? "GENERIC" : false);
    if (source && pre !== false) {
      const names = typeof pre === "string" ? linkmap.configs[pre] ?? [] : pre;
      const quiet = (p: Promise<unknown>) => void p.catch(() => undefined);
      quiet(source.kernel());
      for (const n of names) quiet(source.module(n));
    }
  }

  private emit = (e: Event): void => {
    this.post(e);
  };

  private need(): Lab {
    if (!this.lab) throw new Error("no lab is loaded (load a topology first)");
    return this.lab;
  }

  private serial<T>(f: () => Promise<T>): Promise<T> {
    const p = this.chain.then(f, f);
    this.chain = p.catch(() => undefined);
    return p;
  }

  private readonly ops: { [K in keyof Ops]: Handler<K> } = {
    hello: () => ({ version: PROTOCOL_VERSION, platform: platform().name }),
    check: (a) => check(a.yaml, a.file),
    load: (a) => this.serial(async () => {
      if (this.lab) {
        const old = this.lab;
        this.lab = undefined;
        await old.close().catch(() => undefined);
        this.emit({ event: "unloaded" });
      }
      this.fs.clear();
      const lab = await Lab.load(a.yaml, { file: a.file, clock: a.clock, seed: a.seed, emit: this.emit });
      this.lab = lab;
      const info = lab.info();
      this.emit(loadedEvent(info));
      this.emit({ event: "clock", state: lab.time.state() });
      return info;
    }),
    grow: (a) => this.serial(async () => {
      if (!this.lab) return { grown: false as const, why: "no lab is up" };
      const r = await this.lab.grow(a.yaml, a.file);
      if (r.grown) this.emit(loadedEvent(r.info));
      return r;
    }),
    unload: () => this.serial(async () => {
      const lab = this.lab;
      if (!lab) return { teardown: null };
      this.lab = undefined;
      const teardown = await lab.close();
      this.emit({ event: "unloaded" });
      return { teardown };
    }),
    info: () => this.lab?.info() ?? null,
    shell: async (a) => {
      // Each line has its own abort, found by its console (the node) for ^C.
      const lab = this.need();
      const key = a.node ?? "";
      const ac = new AbortController();
      let set = this.#running.get(key);
      if (!set) this.#running.set(key, (set = new Set()));
      set.add(ac);
      try {
        const r = await lab.shell.run(a.line, a.node, { signal: ac.signal });
        const stopped = ac.signal.aborted ? { interrupted: true } : {};
        return r.error !== undefined ? { out: r.out, error: r.error, ...stopped } : { out: r.out, ...stopped };
      } finally {
        set.delete(ac);
        if (!set.size) this.#running.delete(key);
      }
    },
    interrupt: (a) => {
      const set = this.#running.get(a.node ?? "");
      let n = 0;
      for (const ac of set ?? []) {
        if (ac.signal.aborted) continue;
        ac.abort(new Error("^C"));
        n++;
      }
      return { interrupted: n };
    },
    complete: (a) => {
      const [candidates, word] = this.need().shell.complete(a.line, a.node);
      return { candidates, word };
    },
    captureStart: (a) => this.need().captureStart(a.endpoint),
    captureStop: (a) => this.need().captureStop(a.capture),
    capturePcapng: (a) => this.need().capturePcapng(a.capture),
    counters: () => this.need().stats(),
    setConditions: (a) => this.need().setConditions(a.link, a.dir, a.conditions),
    cut: (a) => this.need().cut(a.link, a.cut),
    runSteps: () => this.need().runSteps(),
    time: (a) => this.need().time.set(a),
    stepTime: () => this.need().time.step(),
    animate: (a) => ({ on: this.need().animate(a.on) }),
    files: () => ({ files: this.fs.list() }),
    readFile: (a) => {
      const bytes = this.fs.read(a.path);
      if (!bytes) throw new Error(`no file ${a.path}`);
      return { bytes };
    },
  };

  /** One message from the page: a request, or a binary the page compiled (ServeOptions.handed). */
  async handle(msg: unknown): Promise<void> {
    if (isWasmHand(msg)) {
      if (this.#handed) this.#handed.hand(msg.wasm, msg.module);
      return;
    }
    const req = msg as Request;
    if (!req || typeof req !== "object" || typeof req.id !== "number" || typeof req.op !== "string") return;
    const op = Object.hasOwn(this.ops, req.op) ? (this.ops as Record<string, Handler<keyof Ops>>)[req.op] : undefined;
    try {
      if (!op) throw new Error(`unknown request ${JSON.stringify(req.op)} (known: ${Object.keys(this.ops).join(", ")})`);
      const result = await op(req as never);
      this.post({ id: req.id, ok: true, result }, transfers(result));
    } catch (e) {
      this.post({ id: req.id, ok: false, error: wireError(e) });
    }
  }
}

function loadedEvent(info: LabInfo): Event {
  return { event: "loaded", name: info.name, nodes: info.nodes.length, links: info.links.length };
}

function wireError(e: unknown): WireError {
  const problems = problemsOf(e);
  if (e instanceof Error) return { name: e.name === "Error" ? e.constructor.name : e.name, message: e.message, ...(problems ? { problems } : {}) };
  return { name: "Error", message: String(e) };
}

/** Byte results move to the page rather than being copied. */
function transfers(result: unknown): Transferable[] {
  const r = result as { bytes?: unknown } | null;
  if (r && r.bytes instanceof Uint8Array && r.bytes.byteOffset === 0 && r.bytes.byteLength === r.bytes.buffer.byteLength && !(r.bytes.buffer instanceof SharedArrayBuffer)) return [r.bytes.buffer];
  return [];
}
