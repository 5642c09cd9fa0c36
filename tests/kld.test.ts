import { test, describe } from "node:test";
import assert from "node:assert/strict";
import {
  Kernel, VirtualClock, UnknownModuleError, UnresolvedImportError, VnetSpaceError, ModuleDependencyError,
  ModuleBusyError, ModuleLoadedError, ModuleNotLoadedError,
} from "../host/index.js";
import { snapshot } from "./helpers/snapshot.js";

interface Demo {
  demo_answer(v: number): number;
  demo_set_answer(v: number, x: number): void;
  demo_ticks(v: number): number;
  demo_set_busy(b: number): void;
  demo_init_calls(): number;
  demo_uninit_calls(): number;
}

describe("kldload / kldunload", () => {
  test("a module loaded into live vnets gets its VNET data, sysinit and callout in each", async () => {
    const k = await Kernel.boot({ config: "BARE" });
    const clock = k.clock as VirtualClock;
    const vs = [k.createVnet("a"), k.createVnet("b"), k.createVnet("c")];
    await k.kldload("vnet_demo");
    const demo = k.module<Demo>("vnet_demo");
    // vnet0 plus the three live vnets ran the init at load time.
    assert.equal(demo.demo_init_calls(), 4);
    for (const v of [k.vnet0, ...vs]) assert.equal(demo.demo_answer(v.ptr), 42);
    demo.demo_set_answer(vs[0].ptr, 7);
    assert.equal(demo.demo_answer(vs[1].ptr), 42, "per-vnet variables are separate");
    clock.advance(3_000_000);
    for (const v of vs) assert.equal(demo.demo_ticks(v.ptr), 3);
    // A vnet created after the load gets the module's initial values and init.
    const d = k.createVnet("d");
    assert.equal(demo.demo_answer(d.ptr), 42);
    clock.advance(2_000_000);
    assert.equal(demo.demo_ticks(d.ptr), 2);
    assert.equal(demo.demo_ticks(vs[1].ptr), 5);
    // The module's per-vnet zone is charged to each vnet.
    assert.ok(d.vmstatZ().some((z) => z.name === "demo_vnet" && z.used === 1 && z.owner === "vnet"));
    d.destroy();
    assert.equal(demo.demo_uninit_calls(), 1);
    k.kldunload("vnet_demo");
    assert.equal(k.k.callout_pending_count(), 0);
    k.shutdown();
  });

  test("1,000 load/unload round-trips with live vnets leave the kernel exactly as before", async () => {
    const k = await Kernel.boot({ config: "BARE" });
    const vs = [k.createVnet(), k.createVnet()];
    await k.kldload("vnet_demo");
    k.kldunload("vnet_demo");
    const before = snapshot(k);
    for (let i = 0; i < 1000; i++) {
      await k.kldload("vnet_demo");
      k.kldunload("vnet_demo");
    }
    assert.deepEqual(snapshot(k), before);
    for (const v of vs) v.destroy();
    k.shutdown();
  });

  test("an unknown module is refused by name", async () => {
    const k = await Kernel.boot({ config: "BARE" });
    await assert.rejects(k.kldload("if_nosuch"), (e: unknown) => e instanceof UnknownModuleError && /if_nosuch.*known: vnet_demo/.test(e.message));
    k.shutdown();
  });

  test("a module whose import cannot be resolved is refused before anything changes", async () => {
    const k = await Kernel.boot({ config: "BARE" });
    const before = snapshot(k);
    await assert.rejects(k.kldload("kmod_badimport"), (e: unknown) => e instanceof UnresolvedImportError && /kernel\.no_such_kernel_function/.test(e.message));
    assert.deepEqual(snapshot(k), before);
    assert.deepEqual(k.kldstat(), []);
    k.shutdown();
  });

  test("a module asking for more VNET space than is left fails and is rolled back completely", async () => {
    const k = await Kernel.boot({ config: "BARE" });
    const v = k.createVnet();
    const before = snapshot(k);
    await assert.rejects(k.kldload("kmod_hog"), (e: unknown) => e instanceof VnetSpaceError && /kmod_hog.*more VNET section space/.test(e.message));
    assert.deepEqual(snapshot(k), before);
    assert.deepEqual(k.kldstat(), []);
    v.destroy();
    k.shutdown();
  });

  test("dependencies load first, resolve across modules, and block unloading", async () => {
    const k = await Kernel.boot({ config: "BARE" });
    const v = k.createVnet();
    await k.kldload("vnet_demo_dep");
    assert.deepEqual(k.kldstat().map((m) => m.name), ["vnet_demo", "vnet_demo_dep"]);
    assert.equal(k.kldstat()[0].refs, 1);
    const dep = k.module<{ dep_answer_plus_one(v: number): number }>("vnet_demo_dep");
    assert.equal(dep.dep_answer_plus_one(v.ptr), 43);
    assert.throws(() => k.kldunload("vnet_demo"), (e: unknown) => e instanceof ModuleDependencyError && /vnet_demo_dep depends on it/.test(e.message));
    assert.throws(() => k.kldunload("vnet_demo", { force: true }), ModuleDependencyError);
    k.kldunload("vnet_demo_dep");
    k.kldunload("vnet_demo");
    assert.deepEqual(k.kldstat(), []);
    v.destroy();
    k.shutdown();
  });

  test("a busy module refuses to unload unless forced", async () => {
    const k = await Kernel.boot({ config: "BARE" });
    const before = snapshot(k);
    await k.kldload("vnet_demo");
    k.module<Demo>("vnet_demo").demo_set_busy(1);
    assert.throws(() => k.kldunload("vnet_demo"), (e: unknown) => e instanceof ModuleBusyError && /busy: EBUSY/.test(e.message));
    assert.equal(k.kldstat().length, 1);
    k.kldunload("vnet_demo", { force: true });
    assert.deepEqual(snapshot(k), before);
    k.shutdown();
  });

  test("loading twice and unloading what is not loaded are refused", async () => {
    const k = await Kernel.boot({ config: "DEMO" });
    assert.deepEqual(k.kldstat().map((m) => m.name), ["vnet_demo"]);
    await assert.rejects(k.kldload("vnet_demo"), ModuleLoadedError);
    assert.throws(() => k.kldunload("kmod_hog"), ModuleNotLoadedError);
    assert.throws(() => k.kldunload("nosuch"), UnknownModuleError);
    k.shutdown();
  });

  test("kldstat reports windows and sysinits", async () => {
    const k = await Kernel.boot({ config: "DEMO" });
    const [m] = k.kldstat();
    assert.equal(m.name, "vnet_demo");
    assert.equal(m.sysinits, 1);
    assert.equal(m.memoryBase, k.linkmap.modules.vnet_demo.memoryBase);
    k.shutdown();
  });
});

describe("teardown finds what a module left behind", () => {
  test("vnet_destroy and kldunload name every leak (zone, kind, count) and still reclaim it", async () => {
    const k = await Kernel.boot({ config: "BARE" });
    const before = snapshot(k);
    const { LeakError } = await import("../host/index.js");
    await k.kldload("kmod_leaky");
    const v = k.createVnet("leaky");
    assert.equal(v.accounting().items["leaky_item"], 1);
    assert.throws(() => v.destroy(), (e: unknown) => {
      if (!(e instanceof LeakError)) return false;
      assert.deepEqual(e.leaks.map((l) => [l.name, l.kind, l.count]), [["leaky_item", "items", 1], ["callouts", "callouts", 1]]);
      assert.match(e.message, /vnet \d+ \("leaky"\) leaked: leaky_item \(items\) x1, callouts \(callouts\) x1/);
      return true;
    });
    assert.equal(v.alive, false);
    // Its item in the shared zone cannot be taken back, so the vnet waits as a zombie.
    assert.equal(k.accounting().zombies, 1);
    // vnet0 still holds its item and callout: the unload reports and reclaims them.
    assert.throws(() => k.kldunload("kmod_leaky"), (e: unknown) => e instanceof LeakError && /leaky_item/.test(e.message) && /callouts/.test(e.message));
    assert.deepEqual(k.kldstat(), []);
    k.reclaim();
    const after = snapshot(k);
    assert.equal(after.zombies, 0, "destroying the zone with force released the zombie");
    assert.equal(after.callouts, 0);
    assert.equal(after.sysinits, before.sysinits);
    assert.equal(after.vnetSectionUsed, before.vnetSectionUsed);
    assert.deepEqual(after.zones, before.zones);
    k.shutdown();
  });
});
