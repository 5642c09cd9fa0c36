// A small event emitter for the platform-neutral core: the part of Node's EventEmitter the
// core's objects use (on/once/off/emit, 'error' with no listener throws), so core objects
// behave as Node users expect without importing node:events.

type Listener = (...args: any[]) => void;

/** Node's check: a listener that is not a function is refused when added, not when the event comes. */
function checkListener(l: unknown): void {
  if (typeof l !== "function") {
    const got = l === null || l === undefined ? String(l) : typeof l === "object" ? `an instance of ${(l as object).constructor?.name ?? "Object"}` : `type ${typeof l} (${String(l)})`;
    throw Object.assign(new TypeError(`The "listener" argument must be of type function. Received ${got}`), { code: "ERR_INVALID_ARG_TYPE" });
  }
}

export class Emitter {
  #listeners = new Map<string | symbol, Listener[]>();

  on(event: string | symbol, listener: Listener): this {
    checkListener(listener);
    const list = this.#listeners.get(event);
    if (list) list.push(listener);
    else this.#listeners.set(event, [listener]);
    return this;
  }

  addListener(event: string | symbol, listener: Listener): this {
    return this.on(event, listener);
  }

  once(event: string | symbol, listener: Listener): this {
    checkListener(listener);
    const wrapper: Listener & { listener?: Listener } = (...args) => {
      this.off(event, wrapper);
      listener.apply(this, args);
    };
    wrapper.listener = listener;
    return this.on(event, wrapper);
  }

  off(event: string | symbol, listener: Listener): this {
    const list = this.#listeners.get(event);
    if (!list) return this;
    const i = list.findIndex((l) => l === listener || (l as { listener?: Listener }).listener === listener);
    if (i >= 0) {
      // Copy on write: an emit in progress keeps the list it started with.
      const next = list.slice();
      next.splice(i, 1);
      if (next.length) this.#listeners.set(event, next);
      else this.#listeners.delete(event);
    }
    return this;
  }

  removeListener(event: string | symbol, listener: Listener): this {
    return this.off(event, listener);
  }

  removeAllListeners(event?: string | symbol): this {
    if (event === undefined) this.#listeners.clear();
    else this.#listeners.delete(event);
    return this;
  }

  listenerCount(event: string | symbol): number {
    return this.#listeners.get(event)?.length ?? 0;
  }

  listeners(event: string | symbol): Listener[] {
    return (this.#listeners.get(event) ?? []).map((l) => (l as { listener?: Listener }).listener ?? l);
  }

  /** Call every listener in order; an 'error' nobody listens for is thrown, as Node does. */
  emit(event: string | symbol, ...args: unknown[]): boolean {
    const list = this.#listeners.get(event);
    if (!list || list.length === 0) {
      if (event === "error") throw args[0] instanceof Error ? args[0] : new Error(`unhandled 'error' event: ${String(args[0])}`);
      return false;
    }
    for (const l of list) l.apply(this, args);
    return true;
  }
}
