// Clocks drive the kernel's callouts. The kernel keeps time in microseconds and answers
// "when is the next deadline"; a clock decides when to tell it that time has passed.
//
// VirtualClock: time moves only when asked. advance() steps from deadline to deadline,
// so a run is exact and repeatable (with the kernel's seeded randomness) and as fast as
// the work, not the wall clock. RealClock: a timer set for the next deadline, re-armed
// after every kernel entry.

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
 * Paces a virtual clock: resolves once virtual time has reached untilUs. Whoever owns the
 * pace (a page's play/pause/speed, host/web/time.ts) moves the clock and resolves it.
 */
export type Pacer = (untilUs: number) => Promise<void>;

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

  /** Move time forward by us microseconds, firing every callout on the way in order. */
  advance(us: number): number {
    if (!(us >= 0) || !Number.isFinite(us)) throw new RangeError(`advance: microseconds must be a finite number >= 0, got ${us}`);
    return this.advanceTo(this.t + us);
  }

  /** Let us µs of virtual time pass: through the pacer if there is one, else advance now. */
  async waitFor(us: number): Promise<void> {
    if (!(us >= 0) || !Number.isFinite(us)) throw new RangeError(`waitFor: microseconds must be a finite number >= 0, got ${us}`);
    if (this.pacer) await this.pacer(this.t + us);
    else this.advance(us);
  }

  /** Move time forward to an absolute time (µs); returns callouts fired. */
  advanceTo(when: number): number {
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
    const target = this.target;
    if (!target) throw new Error("VirtualClock: not attached to a kernel");
    const end = this.t + limitUs;
    let fired = 0;
    for (;;) {
      const at = this.nextStep(target);
      if (at < 0 || at > end) break;
      fired += this.tickAt(target, at);
    }
    return fired;
  }

  private lastTick = -1;

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
