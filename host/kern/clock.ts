// Clocks drive the kernel's callouts. The kernel keeps time in microseconds and answers
// "when is the next deadline"; a clock decides when to tell it that time has passed.
//
// VirtualClock: time moves only when asked. advance() steps from deadline to deadline,
// so a run is exact and repeatable (with the kernel's seeded randomness) and as fast as
// the work, not the wall clock. RealClock: a timer set for the next deadline, re-armed
// after every kernel entry.

import { show } from "../lib/format.js";

export interface ClockTarget {
  /** Fire callouts due at or before now (µs); returns how many fired. */
  tick(nowUs: number): number;
  /** Earliest pending deadline in µs, or -1. */
  next(): number;
}

export interface Clock {
  readonly kind: "virtual" | "real";
  /** Current time in µs since boot. */
  now(): number;
  attach(target: ClockTarget): void;
  /** Called after every kernel entry that may have armed a callout. */
  kick(): void;
  stop(): void;
}

/**
 * The latest time a VirtualClock reaches, µs: 2^53 - 1 (about 285 years), the last integer
 * a JavaScript number holds exactly. The kernel's own clock goes further (2^63 - 1), but a
 * host time past this would no longer be the kernel's time to the microsecond.
 */
export const VIRTUAL_TIME_MAX_US = Number.MAX_SAFE_INTEGER;

/**
 * Paces a virtual clock: resolves once virtual time has reached untilUs. Whoever owns the
 * pace (a page's play/pause/speed, host/web/time.ts) moves the clock and resolves it.
 * wakeEarly: the caller only wants to look again when anything may have changed (the
 * topology's time driver), so a pacer may resolve it at any moment time moved, before
 * untilUs (the scale-out runner does, host/scale/partition_worker.ts); others may ignore it.
 */
export type Pacer = (untilUs: number, wakeEarly?: boolean) => Promise<void>;

export class VirtualClock implements Clock {
  readonly kind = "virtual" as const;
  private t = 0;
  private target?: ClockTarget;
  /**
   * When set, host code that waits for virtual time (ping, the topology's time driver, the
   * shell's sleep) asks the pacer instead of advancing the clock itself: time then moves at
   * the pacer's speed, stops while it is paused, and can be stepped event by event. Unset
   * (the default), waiting for time is advancing it: as fast as the work.
   */
  pacer?: Pacer;

  now(): number {
    return this.t;
  }

  attach(target: ClockTarget): void {
    this.target = target;
  }

  kick(): void {}

  stop(): void {}

  /**
   * Move time forward by us microseconds (an integer, 0 up to what is left before
   * VIRTUAL_TIME_MAX_US), firing every callout on the way in order. RangeError otherwise.
   */
  advance(us: number): number {
    if (typeof us !== "number" || !Number.isInteger(us) || us < 0) throw new RangeError(`advance: microseconds must be an integer >= 0, got ${show(us)}`);
    if (us > VIRTUAL_TIME_MAX_US - this.t) {
      throw new RangeError(`advance: ${us} µs from ${this.t} µs is past the end of virtual time (${VIRTUAL_TIME_MAX_US} µs, 2^53 - 1: the last microsecond a number holds exactly)`);
    }
    return this.advanceTo(this.t + us);
  }

  /** Let us µs of virtual time pass: through the pacer if there is one, else advance now. */
  async waitFor(us: number): Promise<void> {
    if (!(us >= 0) || !Number.isFinite(us)) throw new RangeError(`waitFor: microseconds must be a finite number >= 0, got ${us}`);
    const whole = Math.ceil(us); // advance() takes whole microseconds
    if (this.pacer) await this.pacer(this.t + whole);
    else this.advance(whole);
  }

  /**
   * Move time forward to an absolute time (µs, an integer from now() to VIRTUAL_TIME_MAX_US);
   * returns callouts fired. Time never goes back: a time before now() is a RangeError, as a
   * negative advance() is (now() itself is allowed and fires what is due).
   */
  advanceTo(when: number): number {
    this.checkTarget(when, "advanceTo");
    const target = this.target;
    if (!target) throw new Error("VirtualClock: not attached to a kernel");
    let fired = 0;
    for (;;) {
      const at = this.nextStep(target);
      if (at < 0 || at > when) break;
      fired += this.tickAt(target, at);
    }
    if (when > this.lastTick) fired += this.tickAt(target, Math.max(this.t, when));
    this.t = Math.max(this.t, when);
    return fired;
  }

  /**
   * Jump from deadline to deadline until nothing is pending or `limitUs` of virtual time
   * has passed (periodic callouts never go idle). Returns callouts fired.
   */
  runUntilIdle(limitUs = 3_600_000_000): number {
    if (typeof limitUs !== "number" || !(limitUs >= 0)) throw new RangeError(`runUntilIdle: limitUs must be a number >= 0 (Infinity: no limit), got ${show(limitUs)}`);
    const target = this.target;
    if (!target) throw new Error("VirtualClock: not attached to a kernel");
    const end = Math.min(this.t + limitUs, VIRTUAL_TIME_MAX_US);
    let fired = 0;
    for (;;) {
      const at = this.nextStep(target);
      if (at < 0 || at > end) break;
      fired += this.tickAt(target, at);
    }
    return fired;
  }

  private lastTick = -1;

  /** @internal RangeError unless `when` is an integer time from now() to VIRTUAL_TIME_MAX_US. */
  protected checkTarget(when: number, what: string): void {
    if (typeof when !== "number" || !Number.isInteger(when)) throw new RangeError(`${what}: time must be an integer number of µs, got ${show(when)}`);
    if (when < this.t) throw new RangeError(`${what}: ${when} µs is before now (${this.t} µs); virtual time does not go back`);
    if (when > VIRTUAL_TIME_MAX_US) throw new RangeError(`${what}: ${when} µs is past the end of virtual time (${VIRTUAL_TIME_MAX_US} µs, 2^53 - 1: the last microsecond a number holds exactly)`);
  }

  /**
   * When to tick next: the next deadline, but never the same instant twice, so a callout
   * that re-arms itself with delta 0 makes time move by 1 µs (one kernel tick) per round
   * instead of spinning here.
   */
  private nextStep(target: ClockTarget): number {
    const next = target.next();
    if (next < 0) return -1;
    const at = Math.max(this.t, next);
    return at <= this.lastTick ? this.lastTick + 1 : at;
  }

  private tickAt(target: ClockTarget, at: number): number {
    this.t = at;
    this.lastTick = at;
    return target.tick(at);
  }
}

export class RealClock implements Clock {
  readonly kind = "real" as const;
  private readonly start = performance.now();
  private target?: ClockTarget;
  private timer?: ReturnType<typeof setTimeout>;
  private armedFor = -1;
  private stopped = false;

  now(): number {
    return Math.floor((performance.now() - this.start) * 1000);
  }

  attach(target: ClockTarget): void {
    this.target = target;
    this.kick();
  }

  kick(): void {
    if (this.stopped || !this.target) return;
    const next = this.target.next();
    if (next < 0) return;
    if (this.timer && this.armedFor <= next) return;
    if (this.timer) clearTimeout(this.timer);
    this.armedFor = next;
    this.timer = setTimeout(() => this.fire(), Math.max(0, (next - this.now()) / 1000));
    // A kernel with only timers pending does not keep Node alive by itself.
    this.timer.unref?.();
  }

  private fire(): void {
    this.timer = undefined;
    this.armedFor = -1;
    if (this.stopped || !this.target) return;
    this.target.tick(this.now());
    this.kick();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
