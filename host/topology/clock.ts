// Time for a running topology. Under a virtual clock nothing moves unless the runner moves
// it: `until` lets the host's own work run (a turn of the event loop: stream callbacks,
// servers answering), then jumps to the kernel's next deadline, and so on until the
// condition holds or the time limit passes, so a step costs the work it does, not the
// virtual seconds it spans. Link schedules are events on the same time line: ScheduleClock
// stops at each one, whoever advances it (the runner, or ping's own waiting). A paced clock
// (VirtualClock.pacer: the browser page's play/pause/speed) moves at its pacer's speed and
// the runner waits for it instead.

import { VirtualClock } from "../kern/clock.js";
import type { Kernel } from "../kern/kernel.js";
import { platform } from "../lib/platform.js";
import { turn } from "../lib/turn.js";

interface TimedEvent {
  atUs: number;
  fire: () => void;
}

/** A VirtualClock that runs host events (link schedule changes) at their exact times. */
export class ScheduleClock extends VirtualClock {
  private events: TimedEvent[] = [];

  at(atUs: number, fire: () => void): void {
    this.events.push({ atUs, fire });
    this.events.sort((a, b) => a.atUs - b.atUs);
  }

  clearEvents(): void {
    this.events = [];
  }

  nextEvent(): number {
    return this.events.length ? this.events[0].atUs : -1;
  }

  override advanceTo(when: number): number {
    this.checkTarget(when, "advanceTo"); // before any event runs
    let fired = 0;
    while (this.events.length && this.events[0].atUs <= when) {
      const e = this.events.shift()!;
      if (e.atUs > this.now()) fired += super.advanceTo(e.atUs);
      e.fire();
    }
    return fired + super.advanceTo(when);
  }
}

const BUSY_TURNS = 1000;
const BUSY_TURNS_MAX = 100_000;

/** The platform says host callbacks are queued behind this turn (Node: immediates pending). */
function hostBusy(): boolean {
  return platform().hostBusy?.() ?? false;
}

/** A timer that does not keep Node alive on its own (browsers' timers are numbers: nothing to do). */
function unref(t: ReturnType<typeof setTimeout>): void {
  (t as { unref?: () => void }).unref?.();
}
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class TimeDriver {
  readonly virtual: boolean;
  private timers = new Set<ReturnType<typeof setTimeout>>();

  constructor(readonly kernel: Kernel) {
    this.virtual = kernel.clock.kind === "virtual";
  }

  /** Kernel time, µs since boot. */
  now(): number {
    return this.kernel.clock.now();
  }

  private get vclock(): VirtualClock {
    return this.kernel.clock as VirtualClock;
  }

  /**
   * Let time pass until done() is true or limitUs has passed; true if done. Virtual: turn the
   * event loop, then jump to the next kernel deadline (or schedule event), repeatedly.
   */
  async until(done: () => boolean, limitUs: number): Promise<boolean> {
    const end = this.now() + limitUs;
    if (!this.virtual) {
      for (;;) {
        if (done()) return true;
        if (this.now() >= end) return false;
        await sleep(Math.min(2, Math.max(0, (end - this.now()) / 1000)));
      }
    }
    if (this.vclock.pacer) return this.paced(done, end);
    let busy = 0;
    for (;;) {
      await turn();
      if (done()) return true;
      if (this.now() >= end) return false;
      // Time stands still while the host has work queued (Node's dgram look-alike emits one
      // message per turn, a Node stream flushes in several): moving it then would let a
      // timer fire before the work it races with. Bounded, in case something else in the
      // process queues a task every turn: then time moves one deadline per BUSY_TURNS turns,
      // and jumps to the limit only after BUSY_TURNS_MAX.
      const busyNow = hostBusy();
      busy = busyNow ? busy + 1 : 0;
      const clock = this.vclock;
      const k = this.kernel.k.callout_next();
      const ev = clock instanceof ScheduleClock ? clock.nextEvent() : -1;
      const next = [k, ev].filter((x) => x >= 0).reduce((a, b) => Math.min(a, b), Infinity);
      if (next === Infinity || next > end) {
        if (busyNow && busy < BUSY_TURNS_MAX) continue;
        // Nothing is due before the limit and the host is idle: nothing more can happen.
        clock.advanceTo(end);
        await turn();
        return done();
      }
      if (busyNow && busy < BUSY_TURNS) continue;
      busy = 0;
      clock.advanceTo(Math.max(next, this.now()));
    }
  }

  /**
   * until() on a paced clock (VirtualClock.pacer: a page's play/pause/speed): the pacer moves
   * time; this wakes at the next kernel deadline or schedule event (the first moment anything
   * can change), lets the host's work run, and checks again.
   */
  private async paced(done: () => boolean, end: number): Promise<boolean> {
    const clock = this.vclock;
    for (;;) {
      await turn();
      if (done()) return true;
      if (this.now() >= end) return false;
      const k = this.kernel.k.callout_next();
      const ev = clock instanceof ScheduleClock ? clock.nextEvent() : -1;
      const next = [k, ev, end].filter((x) => x >= 0).reduce((a, b) => Math.min(a, b), Infinity);
      await clock.pacer!(Math.max(next, this.now() + 1), true);
    }
  }

  /** Let us µs pass (the host's work runs meanwhile). */
  async sleep(us: number): Promise<void> {
    const end = this.now() + us;
    await this.until(() => this.now() >= end, us);
  }

  /** Run fire at kernel time atUs (virtual: exactly; real: by a timer). */
  at(atUs: number, fire: () => void): void {
    const clock = this.kernel.clock;
    if (clock instanceof ScheduleClock) return clock.at(atUs, fire);
    if (this.virtual) {
      // A plain VirtualClock (a kernel the caller booted): the change lands when the runner
      // next moves time past it.
      const t = setInterval(() => {
        if (this.now() >= atUs) {
          clearInterval(t);
          this.timers.delete(t);
          fire();
        }
      }, 1);
      unref(t);
      this.timers.add(t);
      return;
    }
    const t = setTimeout(() => {
      this.timers.delete(t);
      fire();
    }, Math.max(0, (atUs - this.now()) / 1000));
    unref(t); // a schedule alone does not keep the process alive
    this.timers.add(t);
  }

  cancel(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    if (this.kernel.clock instanceof ScheduleClock) this.kernel.clock.clearEvents();
  }
}
