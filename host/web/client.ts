// The page's side of the protocol (host/web/protocol.ts): typed requests that resolve with
// their results (or reject with a LabError carrying the file's problems), and listeners for
// the pushed events. Works over anything that posts messages: a Worker, a MessagePort, a
// Node worker_threads Worker (its 'message' events carry the data itself).

import type { Event, Ops, Problem, Response } from "./protocol.js";

export class LabError extends Error {
  constructor(message: string, readonly kind: string, readonly problems: Problem[] = []) {
    super(message);
    this.name = "LabError";
  }
}

type EventName = Event["event"];
type EventOf<N extends EventName> = Extract<Event, { event: N }>;

export interface ClientPort {
  postMessage(m: unknown): void;
}

export class LabClient {
  private nextId = 1;
  private waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private listeners = new Map<EventName, Set<(e: Event) => void>>();

  /** Give every message from the worker to `receive` (a Worker's onmessage: `e.data`). */
  constructor(private readonly port: ClientPort) {}

  receive(m: Response | Event): void {
    if ("event" in m) {
      for (const l of this.listeners.get(m.event) ?? []) l(m);
      return;
    }
    const w = this.waiting.get(m.id);
    if (!w) return;
    this.waiting.delete(m.id);
    if (m.ok) w.resolve(m.result);
    else w.reject(new LabError(m.error.message, m.error.name, m.error.problems));
  }

  request<K extends keyof Ops>(op: K, ...args: Ops[K]["args"] extends Record<string, never> ? [] | [Ops[K]["args"]] : [Ops[K]["args"]]): Promise<Ops[K]["result"]> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.port.postMessage({ id, op, ...(args[0] ?? {}) });
    });
  }

  on<N extends EventName>(event: N, listener: (e: EventOf<N>) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    const l = listener as (e: Event) => void;
    set.add(l);
    return () => set!.delete(l);
  }

  /** The next event of that kind that passes the test. */
  next<N extends EventName>(event: N, test: (e: EventOf<N>) => boolean = () => true): Promise<EventOf<N>> {
    return new Promise((resolve) => {
      const off = this.on(event, (e) => {
        if (!test(e)) return;
        off();
        resolve(e);
      });
    });
  }

  /** Reject every request still waiting (the worker is gone). */
  fail(why: string): void {
    for (const w of this.waiting.values()) w.reject(new LabError(why, "WorkerError"));
    this.waiting.clear();
  }
}
