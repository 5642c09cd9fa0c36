// Time for a lab in a page: play, pause, single-step and a speed factor on a virtual clock.
//
// The controller owns the clock's pace (VirtualClock.pacer): ping, the topology's steps and
// the shell's sleep wait for virtual time instead of moving it. While playing at speed s,
// each tick moves virtual time by s x the wall time since the last one, stopping exactly at
// every waiter's time (a ping's next send, a step's next deadline) to let it run before
// going on, so what they see is exact. Paused, nothing moves; `step()` moves to the next
// event (a kernel deadline, a link schedule change, a waiter) and stops. At speed Infinity
// ("as fast as the work", the CLI's behaviour) and playing, the pacer is removed: waiting
// is advancing, as without a page. A real clock cannot be paused or stepped: the
// controller only reports its time.

import { VirtualClock } from "../kern/clock.js";
import type { Kernel } from "../kern/kernel.js";
import { ScheduleClock } from "../topology/clock.js";
import { turn } from "../lib/turn.js";

export interface ClockState {
  kind: "virtual" | "real";
  /** Kernel time, µs since boot. */
  nowUs: number;
  playing: boolean;
  /** Virtual seconds per wall second; Infinity: as fast as the work. */
  speed: number;
  /** The next event's time (kernel deadline, schedule change or waiter), µs; -1 if none. */
  nextUs: number;
  /** Things waiting for time (a ping, a step). */
  waiting: number;
  /** Playing but behind the speed asked for (too much work per tick). */
  lagging: boolean;
}

interface Waiter {
  at: number;
  resolve: () => void;
}

/** Wall ms per tick while playing. */
const TICK_MS = 16;
/** Wall ms a tick may spend stopping at waiters before it leaves the rest to the next one. */
const TICK_BUDGET_MS = 40;
/** Wall time a tick makes up for at most (a stalled tab does not make virtual time jump). */
const MAX_CATCHUP_MS = 100;

export class TimeController {
  playing = true;
  speed = 1;
  lagging = false;
  private waiters: Waiter[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private lastWall = 0;
  private running = false;
  private closed = false;
  private readonly pacer = (until: number): Promise<void> => {
    if (until <= this.clock.now()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const w = { at: Math.ceil(until), resolve };
      const i = this.waiters.findIndex((x) => x.at > w.at);
      if (i < 0) this.waiters.push(w);
      else this.waiters.splice(i, 0, w);
      this.changed();
    });
  };

  constructor(readonly kernel: Kernel, private readonly onChange: (s: ClockState) => void = () => {}) {
    this.apply();
  }

  get virtual(): boolean {
    return this.kernel.clock.kind === "virtual";
  }

  private get clock(): VirtualClock {
    return this.kernel.clock as VirtualClock;
  }

  state(): ClockState {
    const now = this.kernel.clock.now();
    return {
      kind: this.kernel.clock.kind,
      nowUs: now,
      playing: this.virtual ? this.playing : true,
      speed: this.virtual ? this.speed : 1,
      nextUs: this.virtual ? this.nextEvent() : -1,
      waiting: this.waiters.length,
      lagging: this.lagging,
    };
  }

  /** Play or pause, and/or set the speed (virtual seconds per wall second, > 0; Infinity: as fast as the work). */
  set(opts: { playing?: boolean; speed?: number }): ClockState {
    if (!this.virtual) {
      if (opts.playing === false || (opts.speed !== undefined && opts.speed !== 1)) throw new Error("a real clock runs with the wall clock: it cannot be paused, stepped or sped up (load the lab with virtual time)");
      return this.state();
    }
    if (opts.speed !== undefined) {
      if (!(opts.speed > 0)) throw new RangeError(`speed must be > 0 (Infinity: as fast as the work), got ${opts.speed}`);
      this.speed = opts.speed;
    }
    if (opts.playing !== undefined) this.playing = opts.playing;
    this.apply();
    this.changed();
    return this.state();
  }

  /** The next event on the virtual time line, µs (-1: nothing pending). */
  nextEvent(): number {
    const clock = this.clock;
    const k = this.closed ? -1 : this.kernel.k.callout_next();
    const ev = clock instanceof ScheduleClock ? clock.nextEvent() : -1;
    const w = this.waiters.length ? this.waiters[0].at : -1;
    const all = [k, ev, w].filter((x) => x >= 0);
    return all.length ? Math.min(...all) : -1;
  }

  /** Paused: move to the next event and run it (pauses first if playing). */
  async step(): Promise<ClockState> {
    if (!this.virtual) throw new Error("a real clock cannot be stepped (load the lab with virtual time)");
    if (this.playing) this.set({ playing: false });
    const next = this.nextEvent();
    if (next >= 0) {
      const now = this.clock.now();
      // Never the same instant twice: a deadline due now that already ticked fires 1 µs on.
      this.clock.advanceTo(next > now ? next : now + 1);
      await this.release();
    }
    this.changed();
    return this.state();
  }

  /** Stop: wake everything waiting (time jumps to each in turn) and leave the clock unpaced. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.virtual) {
      this.clock.pacer = undefined;
      while (this.waiters.length) {
        this.clock.advanceTo(Math.max(this.waiters[0].at, this.clock.now()));
        await this.release();
      }
    }
    for (const w of this.waiters.splice(0)) w.resolve();
  }

  /** Install or remove the pacer and start or stop the ticks, for the state asked for. */
  private apply(): void {
    if (!this.virtual || this.closed) return;
    const paced = !this.playing || Number.isFinite(this.speed);
    if (paced) this.clock.pacer = this.pacer;
    else {
      this.clock.pacer = undefined;
      // Whoever waits now gets its time at once, in order (as fast as the work).
      if (this.waiters.length) void this.drain();
    }
    if (this.playing && !this.timer) {
      this.lastWall = performance.now();
      this.timer = setTimeout(() => void this.tick(), TICK_MS);
    }
  }

  private async drain(): Promise<void> {
    while (this.waiters.length && !this.clock.pacer && !this.closed) {
      this.clock.advanceTo(Math.max(this.waiters[0].at, this.clock.now()));
      await this.release();
    }
    this.changed();
  }

  /** Resolve the waiters whose time has come, then let their work run (a turn). */
  private async release(): Promise<void> {
    const now = this.clock.now();
    let n = 0;
    while (this.waiters.length && this.waiters[0].at <= now) {
      this.waiters.shift()!.resolve();
      n++;
    }
    if (n) await turn();
  }

  private async tick(): Promise<void> {
    this.timer = undefined;
    if (this.closed || !this.playing) return;
    if (this.running) return;
    this.running = true;
    try {
      const wall = performance.now();
      const dt = Math.min(wall - this.lastWall, MAX_CATCHUP_MS);
      this.lastWall = wall;
      if (Number.isFinite(this.speed)) {
        const target = this.clock.now() + Math.max(1, Math.round(dt * 1000 * this.speed));
        this.lagging = false;
        for (;;) {
          const w = this.waiters[0];
          if (w && w.at <= target) {
            if (w.at > this.clock.now()) this.clock.advanceTo(w.at);
            await this.release();
            if (!this.playing || this.closed) break;
            if (performance.now() - wall > TICK_BUDGET_MS) {
              this.lagging = true;
              break;
            }
            continue;
          }
          this.clock.advanceTo(target);
          break;
        }
      }
      this.changed();
    } finally {
      this.running = false;
    }
    if (this.playing && !this.closed && !this.timer) this.timer = setTimeout(() => void this.tick(), TICK_MS);
  }

  private changed(): void {
    if (this.closed) return;
    this.onChange(this.state());
  }
}
