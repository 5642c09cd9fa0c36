import {
  Callout, CALLOUT_SIZE, callout_init, callout_reset, callout_reset_at, callout_schedule,
  callout_stop, callout_drain, callout_pending, callout_active, callout_deactivate,
  callout_time, callout_vnet, callout_tick, callout_next, callout_now, callout_pending_count,
  callout_vnet_purge, callout_module_purge, callout_check, callout_stat, callout_fired_total,
  CS_NESTED, CALLOUT_TIME_MAX,
} from "../kern/kern_timeout";
import { vnet_boot, vnet_alloc, vnet_destroy, vnet_vnet0, CURVNET_SET, CURVNET_RESTORE, curvnet, Vnet } from "../kern/vnet";
import { vnet_section_set_size } from "../kern/vnet_data";
import { leak_reset } from "../kern/leak";
import { KGLOBALS, KG_TICKS } from "../kern/kglobals";
import { EINVAL } from "../sys/errno";

// Every test shares one kernel instance: time only moves forward, so each test works
// relative to callout_now() and leaves nothing pending.

let booted = false;
function boot(): void {
  if (!booted) {
    booted = true;
    expect(vnet_section_set_size(8192)).toBe(0);
    expect(vnet_boot()).toBe(0);
  }
  // A failed test may leave callouts behind; do not let them fail the next one too.
  callout_module_purge(0, 0xffffffff);
}

const NC: u32 = 16;
const slots = memory.data(<i32>(NC * CALLOUT_SIZE), 8);

/** A fresh callout bound to the current vnet. */
function co(i: u32): usize {
  const c = slots + i * CALLOUT_SIZE;
  callout_init(c);
  return c;
}

// What the callouts did: argument, kernel time and curvnet at each call.
let logArg: u32[] = [];
let logTime: f64[] = [];
let logVnet: usize[] = [];

function resetLog(): void {
  logArg = [];
  logTime = [];
  logVnet = [];
}

function rec(arg: usize): void {
  logArg.push(<u32>arg);
  logTime.push(callout_now());
  logVnet.push(curvnet());
}

function rec2(arg: usize): void {
  rec(arg + 1000);
}

/** arg is the callout itself: re-arm with delta 0. */
function rearmZero(arg: usize): void {
  rec(arg);
  callout_reset(arg, 0, rearmZero.index, arg);
}

let periodicLeft: u32 = 0;
/** arg is the callout itself: re-arm 1000 us later while periodicLeft lasts. */
function periodic(arg: usize): void {
  rec(arg);
  if (--periodicLeft > 0) callout_schedule(arg, 1000);
}

let victim: usize = 0;
let victimStop: i32 = -1;
function stopper(arg: usize): void {
  rec(arg);
  victimStop = callout_stop(victim);
}

let nestedResult: u32 = 99;
function nested(arg: usize): void {
  rec(arg);
  nestedResult = callout_tick(callout_now() + 1000000);
}

function checkClean(): void {
  expect(callout_check()).toBe(0);
  expect(callout_pending_count()).toBe(0);
}

describe("callouts", () => {
  test("fire in deadline order, each at its exact deadline", () => {
    boot();
    resetLog();
    const base = callout_now();
    const deltas: u64[] = [500, 100, 300, 200, 400];
    for (let i = 0; i < 5; i++) expect(callout_reset(co(i), deltas[i], rec.index, i)).toBe(0);
    expect(callout_pending_count()).toBe(5);
    expect(callout_check()).toBe(0);
    expect(callout_tick(base + 1000)).toBe(5);
    expect(logArg).toStrictEqual([1, 3, 2, 4, 0]);
    expect(logTime).toStrictEqual([base + 100, base + 200, base + 300, base + 400, base + 500]);
    expect(callout_now()).toBe(base + 1000);
    checkClean();
  });

  test("equal deadlines fire in the order callout_reset was called (FIFO)", () => {
    boot();
    resetLog();
    const base = callout_now();
    callout_reset(co(2), 50, rec.index, 2);
    callout_reset(co(0), 50, rec.index, 0);
    callout_reset(co(1), 50, rec.index, 1);
    callout_reset(co(3), 49, rec.index, 3);
    expect(callout_tick(base + 50)).toBe(4);
    expect(logArg).toStrictEqual([3, 2, 0, 1]);
    checkClean();
  });

  test("FIFO holds between a callout armed far away that cascades down and one armed later near", () => {
    boot();
    resetLog();
    const base = <u64>callout_now();
    const D = base + 10000000 + 12345; // ~10 s: starts at level 3
    callout_reset_at(co(0), D, rec.index, 0);
    // Armed later for the same deadline while the far one is still high in the wheel.
    expect(callout_tick(<f64>(D - 300000))).toBe(0);
    callout_reset_at(co(1), D, rec.index, 1);
    expect(callout_check()).toBe(0);
    // Armed later still, near (the far one has cascaded to level 0 by now).
    expect(callout_tick(<f64>(D - 10))).toBe(0);
    expect(callout_check()).toBe(0);
    callout_reset(co(2), 10, rec.index, 2);
    // A nearer deadline armed last fires first.
    callout_reset(co(3), 9, rec.index, 3);
    expect(callout_tick(<f64>(D + 5))).toBe(4);
    expect(logArg).toStrictEqual([3, 0, 1, 2]);
    expect(logTime[1]).toBe(<f64>D);
    expect(logTime[3]).toBe(<f64>D);
    checkClean();
  });

  test("callout_reset of a pending callout moves it, returns 1 and fires it once", () => {
    boot();
    resetLog();
    const base = callout_now();
    const a = co(0);
    const b = co(1);
    expect(callout_reset(a, 100, rec.index, 0)).toBe(0);
    expect(callout_reset(b, 200, rec.index, 1)).toBe(0);
    expect(callout_reset(a, 300, rec.index, 7)).toBe(1);
    expect(callout_pending_count()).toBe(2);
    expect(callout_time(a)).toBe(<u64>base + 300);
    expect(callout_tick(base + 250)).toBe(1);
    expect(logArg).toStrictEqual([1]);
    // Moved earlier than now: due at the next tick.
    expect(callout_reset(a, 0, rec.index, 8)).toBe(1);
    expect(callout_tick(base + 400)).toBe(1);
    expect(logArg).toStrictEqual([1, 8]);
    expect(logTime[1]).toBe(base + 250);
    checkClean();
  });

  test("callout_stop and callout_drain prevent firing and return 1 only when pending", () => {
    boot();
    resetLog();
    const base = callout_now();
    const a = co(0);
    const b = co(1);
    const c = co(2);
    callout_reset(a, 10, rec.index, 0);
    callout_reset(b, 20, rec.index, 1);
    callout_reset(c, 30, rec.index, 2);
    expect(callout_stop(a)).toBe(1);
    expect(callout_stop(a)).toBe(0);
    expect(callout_drain(b)).toBe(1);
    expect(callout_drain(b)).toBe(0);
    expect(callout_pending_count()).toBe(1);
    expect(callout_tick(base + 100)).toBe(1);
    expect(logArg).toStrictEqual([2]);
    expect(callout_stop(c)).toBe(0); // already fired
    // A zeroed, never initialised callout is not pending and stopping it is harmless.
    const z = slots + 10 * CALLOUT_SIZE;
    memory.fill(z, 0, CALLOUT_SIZE);
    expect(callout_stop(z)).toBe(0);
    expect(callout_drain(z)).toBe(0);
    expect(callout_pending(z)).toBe(false);
    // Scribbled memory that claims to be pending is not trusted.
    memory.fill(z, 0x5a, CALLOUT_SIZE);
    expect(callout_stop(z)).toBe(0);
    expect(callout_stop(0)).toBe(0);
    checkClean();
  });

  test("resetting with func 0 or a null callout returns -EINVAL and changes nothing", () => {
    boot();
    resetLog();
    const a = co(0);
    expect(callout_reset(a, 10, 0, 0)).toBe(-EINVAL);
    expect(callout_pending(a)).toBe(false);
    expect(callout_active(a)).toBe(false);
    expect(callout_reset(0, 10, rec.index, 0)).toBe(-EINVAL);
    expect(callout_schedule(a, 10)).toBe(-EINVAL); // never had a function
    callout_reset(a, 10, rec.index, 0);
    expect(callout_reset(a, 10, 0, 0)).toBe(-EINVAL);
    expect(callout_pending(a)).toBe(true); // still armed as before
    expect(callout_stop(a)).toBe(1);
    checkClean();
  });

  test("pending and active flags follow FreeBSD: fire clears pending, stop and deactivate clear active", () => {
    boot();
    resetLog();
    const base = callout_now();
    const a = co(0);
    expect(callout_pending(a)).toBe(false);
    expect(callout_active(a)).toBe(false);
    callout_reset(a, 5, rec.index, 0);
    expect(callout_pending(a)).toBe(true);
    expect(callout_active(a)).toBe(true);
    expect(callout_time(a)).toBe(<u64>base + 5);
    callout_tick(base + 5);
    expect(callout_pending(a)).toBe(false);
    expect(callout_active(a)).toBe(true);
    callout_deactivate(a);
    expect(callout_active(a)).toBe(false);
    callout_reset(a, 5, rec.index, 0);
    callout_stop(a);
    expect(callout_pending(a)).toBe(false);
    expect(callout_active(a)).toBe(false);
    // A zeroed callout armed without callout_init is bound to curvnet.
    const z = slots + 11 * CALLOUT_SIZE;
    memory.fill(z, 0, CALLOUT_SIZE);
    callout_reset(z, 5, rec.index, 0);
    expect(callout_vnet(z)).toBe(curvnet());
    expect(callout_stop(z)).toBe(1);
    checkClean();
  });

  test("callout_next is exact for near, hours-away and years-away deadlines", () => {
    boot();
    resetLog();
    const base = <u64>callout_now();
    expect(callout_next()).toBe(-1);
    const HOUR: u64 = 3600000000;
    const near = co(0);
    const far1 = co(1);
    const far2 = co(2);
    const years = co(3);
    callout_reset_at(years, base + 20 * 365 * 24 * HOUR + 77, rec.index, 3); // past the wheel
    expect(callout_next()).toBe(<f64>(base + 20 * 365 * 24 * HOUR + 77));
    callout_reset_at(far1, base + 3 * HOUR + 12345, rec.index, 1);
    callout_reset_at(far2, base + 3 * HOUR + 5, rec.index, 2); // likely the same high slot
    callout_reset_at(near, base + 37, rec.index, 0);
    expect(callout_next()).toBe(<f64>(base + 37));
    expect(callout_stop(near)).toBe(1);
    expect(callout_next()).toBe(<f64>(base + 3 * HOUR + 5));
    expect(callout_tick(<f64>(base + 3 * HOUR + 4))).toBe(0);
    expect(callout_next()).toBe(<f64>(base + 3 * HOUR + 5));
    expect(callout_tick(<f64>(base + 3 * HOUR + 5))).toBe(1);
    expect(callout_next()).toBe(<f64>(base + 3 * HOUR + 12345));
    expect(callout_tick(<f64>(base + 4 * HOUR))).toBe(1);
    expect(logTime).toStrictEqual([<f64>(base + 3 * HOUR + 5), <f64>(base + 3 * HOUR + 12345)]);
    expect(callout_next()).toBe(<f64>(base + 20 * 365 * 24 * HOUR + 77));
    expect(callout_check()).toBe(0);
    // One jump of twenty years fires it at its exact time.
    expect(callout_tick(<f64>(base + 21 * 365 * 24 * HOUR))).toBe(1);
    expect(logTime[2]).toBe(<f64>(base + 20 * 365 * 24 * HOUR + 77));
    expect(callout_next()).toBe(-1);
    checkClean();
  });

  test("callout_next stays exact while the earliest callouts of a far slot are stopped, moved and added", () => {
    boot();
    resetLog();
    const base = <u64>callout_now();
    const SEC: u64 = 1000000;
    // All in one slot about a minute away (TIME_WAIT's case), then random moves.
    for (let j: u32 = 0; j < NC; j++) co(j);
    let x: u32 = 12345;
    for (let round = 0; round < 400; round++) {
      x ^= x << 13; x ^= x >> 17; x ^= x << 5;
      const i = x % NC;
      const c = slots + i * CALLOUT_SIZE;
      if ((x >> 8) % 3 == 0) callout_stop(c);
      else callout_reset_at(c, base + 60 * SEC + <u64>((x >> 12) % 50000), rec.index, i);
      let min: u64 = 0xffffffffffffffff;
      for (let j: u32 = 0; j < NC; j++) {
        const d = slots + j * CALLOUT_SIZE;
        if (callout_pending(d) && callout_time(d) < min) min = callout_time(d);
      }
      expect(callout_next()).toBe(min == 0xffffffffffffffff ? -1 : <f64>min);
      expect(callout_check()).toBe(0);
    }
    for (let j: u32 = 0; j < NC; j++) callout_stop(slots + j * CALLOUT_SIZE);
    expect(callout_next()).toBe(-1);
    checkClean();
  });

  test("a deadline at or before now fires at the next callout_tick", () => {
    boot();
    resetLog();
    const base = <u64>callout_now();
    const a = co(0);
    callout_reset_at(a, base - 100, rec.index, 0);
    expect(callout_time(a)).toBe(base); // clamped: never in the past
    expect(callout_next()).toBe(<f64>base);
    expect(callout_tick(<f64>base)).toBe(1);
    expect(logTime).toStrictEqual([<f64>base]);
    checkClean();
  });

  test("a callout that re-arms itself with delta 0 fires once per tick, not forever", () => {
    boot();
    resetLog();
    const base = callout_now();
    const a = co(0);
    callout_reset(a, 10, rearmZero.index, a);
    expect(callout_tick(base + 100)).toBe(1);
    expect(logTime[0]).toBe(base + 10);
    // Re-armed for its own deadline while firing: due, so it waits for the next tick.
    expect(callout_time(a)).toBe(<u64>(base + 10));
    expect(callout_pending(a)).toBe(true);
    expect(callout_tick(base + 100)).toBe(1);
    expect(callout_tick(base + 200)).toBe(1);
    expect(logArg.length).toBe(3);
    expect(logTime[2]).toBe(base + 100);
    expect(callout_stop(a)).toBe(1);
    checkClean();
  });

  test("a callout re-armed from its function runs at exact multiples within one long tick", () => {
    boot();
    resetLog();
    const base = callout_now();
    const a = co(0);
    periodicLeft = 10;
    callout_reset(a, 1000, periodic.index, a);
    expect(callout_tick(base + 10500)).toBe(10);
    for (let i = 0; i < 10; i++) expect(logTime[i]).toBe(base + 1000 * <f64>(i + 1));
    checkClean();
  });

  test("a callout stopped by another one due in the same tick does not fire", () => {
    boot();
    resetLog();
    const base = callout_now();
    const a = co(0);
    const b = co(1);
    const c = co(2);
    // Same deadline: b is behind a on the slot being fired.
    callout_reset(a, 40, stopper.index, 0);
    callout_reset(b, 40, rec.index, 1);
    callout_reset(c, 60, rec.index, 2);
    victim = b;
    victimStop = -1;
    expect(callout_tick(base + 100)).toBe(2);
    expect(victimStop).toBe(1);
    expect(logArg).toStrictEqual([0, 2]);
    // Later deadline in the same tick.
    resetLog();
    callout_reset(a, 10, stopper.index, 0);
    callout_reset(b, 20, rec.index, 1);
    victim = b;
    expect(callout_tick(base + 200)).toBe(1);
    expect(victimStop).toBe(1);
    expect(logArg).toStrictEqual([0]);
    // On the due list, which a tick fires first.
    resetLog();
    callout_reset(a, 0, stopper.index, 0);
    callout_reset(b, 0, rec.index, 1);
    victim = b;
    expect(callout_tick(base + 200)).toBe(1);
    expect(logArg).toStrictEqual([0]);
    checkClean();
  });

  test("a nested callout_tick from a callout function is ignored", () => {
    boot();
    resetLog();
    const base = callout_now();
    const a = co(0);
    const b = co(1);
    callout_reset(a, 10, nested.index, 0);
    callout_reset(b, 5000, rec.index, 1);
    const before = callout_stat(CS_NESTED);
    expect(callout_tick(base + 100)).toBe(1);
    expect(nestedResult).toBe(0);
    expect(callout_stat(CS_NESTED)).toBe(before + 1);
    expect(callout_now()).toBe(base + 100);
    expect(callout_pending(b)).toBe(true);
    expect(callout_stop(b)).toBe(1);
    checkClean();
  });

  test("time never goes backwards and is mirrored at KG_TICKS", () => {
    boot();
    resetLog();
    const base = callout_now();
    callout_tick(base + 100);
    expect(callout_now()).toBe(base + 100);
    expect(load<u64>(KGLOBALS + KG_TICKS)).toBe(<u64>(base + 100));
    expect(callout_tick(base + 50)).toBe(0);
    expect(callout_now()).toBe(base + 100);
    callout_tick(NaN);
    callout_tick(-5);
    expect(callout_now()).toBe(base + 100);
    expect(load<u64>(KGLOBALS + KG_TICKS)).toBe(<u64>(base + 100));
    // Deltas count from the kernel's now, not from the smaller time.
    const a = co(0);
    callout_reset(a, 10, rec.index, 0);
    expect(callout_time(a)).toBe(<u64>(base + 110));
    callout_tick(base + 110);
    expect(logTime).toStrictEqual([base + 110]);
    checkClean();
  });

  test("per-vnet pending counter, curvnet while firing, and callout_vnet_purge", () => {
    boot();
    resetLog();
    const base = callout_now();
    const v0 = vnet_vnet0();
    const v1 = vnet_alloc();
    expect(v1).not.toBe(0);
    const old = CURVNET_SET(v1);
    const a = co(0);
    const b = co(1);
    const c = co(2);
    CURVNET_RESTORE(old);
    const d = co(3);
    const e = co(4);
    expect(callout_vnet(a)).toBe(v1);
    expect(callout_vnet(d)).toBe(curvnet());
    const v0before = changetype<Vnet>(v0).callouts;
    callout_reset(a, 10, rec.index, 0);
    callout_reset(b, 2000, rec.index, 1);
    callout_reset(c, 3000, rec.index, 2);
    callout_reset(d, 20, rec.index, 3);
    callout_reset(e, 2500, rec.index, 4);
    expect(changetype<Vnet>(v1).callouts).toBe(3);
    expect(changetype<Vnet>(v0).callouts).toBe(v0before + 2);
    callout_reset(b, 2100, rec.index, 1); // re-arm: no change
    expect(changetype<Vnet>(v1).callouts).toBe(3);
    expect(callout_tick(base + 100)).toBe(2);
    expect(logVnet).toStrictEqual([v1, v0]);
    expect(curvnet()).toBe(v0); // restored after each
    expect(changetype<Vnet>(v1).callouts).toBe(2);
    expect(changetype<Vnet>(v0).callouts).toBe(v0before + 1);
    expect(callout_vnet_purge(v1)).toBe(2);
    expect(changetype<Vnet>(v1).callouts).toBe(0);
    expect(callout_pending(b)).toBe(false);
    expect(callout_tick(base + 5000)).toBe(1);
    expect(logArg).toStrictEqual([0, 3, 4]);
    expect(changetype<Vnet>(v0).callouts).toBe(v0before);
    // vnet_destroy reclaims a callout its vnet leaked (one leak recorded), and it never fires.
    CURVNET_SET(v1);
    const f = co(5);
    CURVNET_RESTORE(v0);
    callout_reset(f, 10, rec.index, 5);
    expect(vnet_destroy(v1)).toBe(1);
    leak_reset();
    expect(callout_pending(f)).toBe(false);
    expect(callout_tick(base + 6000)).toBe(0);
    checkClean();
  });

  test("callout_module_purge stops only callouts whose function is in the table range", () => {
    boot();
    resetLog();
    const base = callout_now();
    callout_reset(co(0), 10, rec.index, 0);
    callout_reset(co(1), 0, rec2.index, 1); // due list
    callout_reset(co(2), 30, rec.index, 2);
    callout_reset(co(3), 4000000000, rec2.index, 3); // far
    expect(callout_module_purge(rec2.index, rec2.index + 1)).toBe(2);
    expect(callout_module_purge(rec2.index, rec2.index)).toBe(0);
    expect(callout_pending_count()).toBe(2);
    expect(callout_check()).toBe(0);
    expect(callout_tick(base + 100)).toBe(2);
    expect(logArg).toStrictEqual([0, 2]);
    checkClean();
  });

  test("a deadline beyond CALLOUT_TIME_MAX is clamped, not wrapped", () => {
    boot();
    const a = co(0);
    callout_reset(a, 0xffffffffffffffff, rec.index, 0);
    expect(callout_time(a)).toBe(CALLOUT_TIME_MAX);
    expect(callout_next()).toBe(<f64>CALLOUT_TIME_MAX);
    expect(callout_check()).toBe(0);
    expect(callout_stop(a)).toBe(1);
    checkClean();
  });

  test("struct callout is 40 bytes (modules that embed one reserve CALLOUT_SIZE)", () => {
    expect(CALLOUT_SIZE).toBe(40);
    expect(offsetof<Callout>("time")).toBe(8);
  });

  test("callout_init of a pending callout stops it", () => {
    boot();
    const a = co(0);
    callout_reset(a, 10, rec.index, 0);
    callout_init(a);
    expect(callout_pending(a)).toBe(false);
    checkClean();
  });
});

// 100,000 callouts with random deadlines, some moved and some stopped before they fire.
const N: u32 = 100000;
let fireCount = new StaticArray<u32>(N);
let deadline = new StaticArray<u64>(N);
let armOrder = new StaticArray<u32>(N);
let lastT: f64 = 0;
let lastOrder: u32 = 0;
let badOrder: u32 = 0;
let badFifo: u32 = 0;
let badTime: u32 = 0;

function bigFire(arg: usize): void {
  const i = <u32>arg;
  fireCount[i]++;
  const t = callout_now();
  if (t < lastT) badOrder++;
  if (t == lastT && armOrder[i] < lastOrder) badFifo++;
  if (<u64>t != deadline[i]) badTime++;
  lastT = t;
  lastOrder = armOrder[i];
}

let rng: u32 = 0x9e3779b9;
function rnd(): u32 {
  rng ^= rng << 13;
  rng ^= rng >> 17;
  rng ^= rng << 5;
  return rng;
}

function range(): u64 {
  const k = rnd() % 4;
  if (k == 0) return <u64>(rnd() % 4096);
  if (k == 1) return <u64>(rnd() % 10000000);
  if (k == 2) return <u64>rnd() * 23; // up to ~27 hours
  return <u64>(rnd() % 300);
}

describe("callouts at scale", () => {
  test("100,000 random callouts fire exactly once each, in deadline order, FIFO on ties", () => {
    boot();
    const mem = heap.alloc(<usize>N * CALLOUT_SIZE);
    const base = <u64>callout_now();
    const firedBefore = callout_fired_total();
    let order: u32 = 0;
    for (let i: u32 = 0; i < N; i++) {
      const c = mem + <usize>i * CALLOUT_SIZE;
      callout_init(c);
      deadline[i] = base + range();
      armOrder[i] = order++;
      callout_reset_at(c, deadline[i], bigFire.index, i);
    }
    expect(callout_pending_count()).toBe(N);
    expect(callout_check()).toBe(0);
    // Move 10% and stop 5% before they fire.
    let stopped: u32 = 0;
    for (let i: u32 = 0; i < N; i++) {
      const c = mem + <usize>i * CALLOUT_SIZE;
      const r = rnd() % 100;
      if (r < 10) {
        deadline[i] = base + range();
        armOrder[i] = order++;
        expect(callout_reset_at(c, deadline[i], bigFire.index, i)).toBe(1);
      } else if (r < 15) {
        expect(callout_stop(c)).toBe(1);
        deadline[i] = 0;
        stopped++;
      }
    }
    expect(callout_check()).toBe(0);
    lastT = <f64>base;
    lastOrder = 0;
    let fired: u32 = 0;
    let ticks: u32 = 0;
    // Small steps first, then larger ones, checking the wheel as time moves.
    while (callout_pending_count() != 0) {
      const el = <u64>callout_now() - base;
      const step: u64 = el < 20000 ? <u64>(rnd() % 50) : el < 20000000 ? <u64>(rnd() % 1000000) : <u64>(rnd() % 1000000000);
      fired += callout_tick(<f64>(<u64>callout_now() + step));
      if ((++ticks & 255) == 0) expect(callout_check()).toBe(0);
    }
    expect(fired).toBe(N - stopped);
    expect(callout_fired_total() - firedBefore).toBe(<f64>(N - stopped));
    let once: u32 = 0;
    let never: u32 = 0;
    for (let i: u32 = 0; i < N; i++) {
      if (deadline[i] == 0) {
        if (fireCount[i] == 0) never++;
      } else if (fireCount[i] == 1) {
        once++;
      }
    }
    expect(once).toBe(N - stopped);
    expect(never).toBe(stopped);
    expect(badOrder).toBe(0);
    expect(badFifo).toBe(0);
    expect(badTime).toBe(0);
    expect(callout_next()).toBe(-1);
    checkClean();
    heap.free(mem);
  });
});
