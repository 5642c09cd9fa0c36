// What the platform-neutral core needs from the platform it runs on, beyond ECMAScript,
// WebAssembly and the web's timers. Every hook is optional: a browser has no files and no
// UDP sockets, and the core says so with a clear error when one is asked for. Node's entry
// (host/node/platform.ts, loaded by `wavnet` and `wavnet/node`) installs the Node hooks.

import { WavnetError } from "./errors.js";

/** Where a kernel's binaries come from (host/kern/source.ts, host/node/wasm_file.ts): compiled modules by name. */
export interface ModuleSource {
  kernel(): Promise<WebAssembly.Module>;
  module(name: string): Promise<WebAssembly.Module>;
}

/** Where bytes go: a Node Writable fits, and so does toByteSink(WritableStream). */
export interface ByteSink {
  write(chunk: Uint8Array): unknown;
  end(cb?: () => void): unknown;
  /** Node streams report failures as 'error' events; sinks that can fail should offer it. */
  on?(event: "error", listener: (e: Error) => void): unknown;
}

export interface Platform {
  /** "node", "browser", ... (for messages). */
  readonly name: string;
  /** Kernel and module binaries when Kernel.boot() is given no source. */
  defaultModuleSource?(): ModuleSource;
  /** Open a file for writing (a capture to a path). */
  openFile?(path: string): ByteSink;
  /** A file's path inside a folder. */
  joinPath?(dir: string, file: string): string;
  /**
   * Whether host callbacks are queued behind the current turn (I/O done, immediates): the
   * virtual-time driver does not move time while the host still has work of its own.
   */
  hostBusy?(): boolean;
  /**
   * Queue cb for the next turn of the event loop, behind the host callbacks already queued
   * (Node: an immediate, the kind hostBusy counts). Without it: a MessageChannel task, else
   * a 0 ms timer (host/lib/turn.ts).
   */
  nextTurn?(cb: () => void): void;
}

/** Web platforms: nothing beyond the web's own APIs. */
const web: Platform = { name: "web" };
let current: Platform = web;

export function platform(): Platform {
  return current;
}

/** Install a platform's hooks (Node's entry does this once when it is imported). */
export function setPlatform(p: Platform): void {
  current = p;
}

/** A hook the platform lacks: a clear error naming what would provide it. */
export function unsupported(what: string): WavnetError {
  return new WavnetError(`${what} needs Node (import "wavnet" or "wavnet/node"); this platform (${current.name}) has no such support`);
}

/** Adapt a web WritableStream<Uint8Array> to a ByteSink (captures in a browser). */
export function toByteSink(stream: WritableStream<Uint8Array>): ByteSink {
  const w = stream.getWriter();
  const listeners: ((e: Error) => void)[] = [];
  const fail = (e: unknown) => {
    for (const l of listeners) l(e instanceof Error ? e : new Error(String(e)));
  };
  return {
    write(chunk) {
      w.write(chunk).catch(fail);
      return true;
    },
    end(cb) {
      w.close().then(() => cb?.(), (e) => {
        fail(e);
        cb?.();
      });
    },
    on(_event, listener) {
      listeners.push(listener);
    },
  };
}
