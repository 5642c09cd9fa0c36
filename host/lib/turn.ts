// One turn of the host's event loop: a promise that resolves after the work already queued
// (I/O callbacks, other tasks) has had its chance to run, where a microtask would resolve
// before it. The platform's nextTurn where it has one (Node: an immediate), else a
// MessageChannel message (browsers, workers: a task, without the 4 ms clamp that nested
// timers get), else setTimeout 0.

import { platform } from "./platform.js";

type Task = () => void;

interface Port {
  onmessage: ((ev: unknown) => void) | null;
  postMessage(m: unknown): void;
  /** Node's ports keep the process alive while ref'd; web ports have no such methods. */
  ref?(): void;
  unref?(): void;
}
const Channel = (globalThis as unknown as { MessageChannel?: new () => { port1: Port; port2: Port } }).MessageChannel;

let channel: { port1: Port; port2: Port } | undefined;
const waiting: Task[] = [];

function viaChannel(cb: Task): void {
  if (!channel) {
    channel = new Channel!();
    // One message per task, delivered in order; the port holds the process only while a
    // task waits.
    const port = channel.port1;
    port.onmessage = () => {
      const task = waiting.shift();
      if (waiting.length === 0) port.unref?.();
      task?.();
    };
  }
  if (waiting.length === 0) channel.port1.ref?.();
  waiting.push(cb);
  channel.port2.postMessage(0);
}

/** Queue cb for the next turn. */
export function nextTurn(cb: Task): void {
  const hook = platform().nextTurn;
  if (hook) hook(cb);
  else if (Channel) viaChannel(cb);
  else setTimeout(cb, 0);
}

/** Resolves on the next turn of the event loop. */
export function turn(): Promise<void> {
  return new Promise<void>((resolve) => nextTurn(resolve));
}
