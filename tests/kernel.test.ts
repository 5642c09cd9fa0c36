import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { Kernel, VnetGoneError, KernelError, ConfigError, VirtualClock } from "../host/index.js";
import { snapshot } from "./helpers/snapshot.js";

describe("kernel boot and vnets", () => {
  test("a bare kernel boots with vnet0 and nothing else", async () => {
    const k = await Kernel.boot({ config: "BARE" });
    assert.equal(k.vnets().length, 1);
    assert.equal(k.vnets()[0], k.vnet0);
    assert.deepEqual(k.kldstat(), []);
    const zones = k.vmstatZ().map((z) => z.name);
    for (const z of ["zones", "slabs", "vnet"]) assert.ok(zones.includes(z), `zone ${z} in ${zones}`);
    k.shutdown();
  });

  test("a vnet owns exactly its data block while idle and nothing after destroy", async () => {
    const k = await Kernel.boot({ config: "BARE" });
    const before = snapshot(k);
    const v = k.createVnet("a");
    const acct = v.accounting();
    assert.equal(acct.pages, 2, "8 KiB VNET section = 2 pages");
    assert.ok(acct.bytes >= 8192 && acct.bytes <= 16384, `idle vnet bytes ${acct.bytes}`);
    v.destroy();
    assert.equal(v.alive, false);
    assert.deepEqual(snapshot(k), before);
    k.shutdown();
  });

  test("1,000 create/destroy cycles leave zero pages and zero items", async () => {
    const k = await Kernel.boot({ config: "BARE" });
    const warm = k.createVnet();
    warm.destroy();
    const before = snapshot(k);
    for (let i = 0; i < 1000; i++) {
      const vs = [k.createVnet(), k.createVnet(), k.createVnet()];
      for (const v of vs.reverse()) v.destroy();
    }
    assert.deepEqual(snapshot(k), before);
    k.shutdown();
  });

  test("destroying a vnet twice is a VnetGoneError that names it", async () => {
    const k = await Kernel.boot({ config: "BARE" });
    const v = k.createVnet("twice");
    v.destroy();
    assert.throws(() => v.destroy(), (e: unknown) => e instanceof VnetGoneError && /vnet \d+ \("twice"\) was destroyed/.test(e.message));
    assert.throws(() => v.accounting(), VnetGoneError);
    k.shutdown();
  });

  test("vnet0 cannot be destroyed", async () => {
    const k = await Kernel.boot({ config: "BARE" });
    assert.throws(() => k.vnet0.destroy(), (e: unknown) => e instanceof KernelError && e.errno === 1);
    assert.equal(k.vnet0.alive, true);
    k.shutdown();
  });

  test("vnet names are checked and unique", async () => {
    const k = await Kernel.boot({ config: "BARE" });
    k.createVnet("r1");
    assert.throws(() => k.createVnet("r1"), (e: unknown) => e instanceof ConfigError && /exists/.test(e.message));
    assert.throws(() => k.createVnet("bad name!"), ConfigError);
    k.shutdown();
  });

  test("bad boot options get messages naming the option", async () => {
    await assert.rejects(Kernel.boot({ config: "NOSUCH" }), (e: unknown) => e instanceof ConfigError && /unknown kernel configuration "NOSUCH".*GENERIC/.test(e.message));
    await assert.rejects(Kernel.boot({ vnetSectionBytes: 5000 }), (e: unknown) => e instanceof ConfigError && /vnetSectionBytes 5000/.test(e.message));
    await assert.rejects(Kernel.boot({ seed: -1 }), (e: unknown) => e instanceof ConfigError && /seed/.test(e.message));
    // @ts-expect-error wrong on purpose
    await assert.rejects(Kernel.boot({ clock: "sundial" }), (e: unknown) => e instanceof ConfigError && /clock/.test(e.message));
  });

  test("the VNET section size is a boot option", async () => {
    const k = await Kernel.boot({ config: "BARE", vnetSectionBytes: 16384 });
    const v = k.createVnet();
    assert.equal(v.accounting().pages, 4);
    k.shutdown();
  });

  test("vmstat -z prints a table with every zone", async () => {
    const k = await Kernel.boot({ config: "BARE" });
    const text = k.formatVmstatZ();
    assert.match(text.split("\n")[0], /^ITEM\s+SIZE\s+LIMIT\s+USED/);
    assert.match(text, /^vnet\s+\d+/m);
    k.shutdown();
  });
});

describe("no managed allocation after boot", () => {
  test("the runtime heap pointer does not move across 10,000 vnet cycles and module load/unload cycles", async () => {
    const k = await Kernel.boot({ config: "BARE" });
    const top = k.heapTop();
    for (let i = 0; i < 10_000; i++) k.createVnet().destroy();
    assert.equal(k.heapTop(), top);
    const live = [k.createVnet(), k.createVnet()];
    await k.kldload("vnet_demo");
    const modTop = k.module<{ kmod_heap_top(): number }>("vnet_demo").kmod_heap_top();
    for (let i = 0; i < 200; i++) {
      const v = k.createVnet();
      (k.clock as VirtualClock).advance(1_000_000);
      v.destroy();
      assert.equal(k.module<{ kmod_heap_top(): number }>("vnet_demo").kmod_heap_top(), modTop);
      k.kldunload("vnet_demo");
      await k.kldload("vnet_demo");
    }
    assert.equal(k.heapTop(), top);
    for (const v of live) v.destroy();
    k.kldunload("vnet_demo");
    assert.equal(k.heapTop(), top);
    k.shutdown();
  });
});

describe("reclaim", () => {
  test("after 1,000 vnets with a module come and go, reclaim returns kmem to its boot figure", async () => {
    const k = await Kernel.boot({ config: "BARE" });
    const boot = k.accounting().pagesInUse;
    const vs = Array.from({ length: 1000 }, () => k.createVnet());
    await k.kldload("vnet_demo");
    (k.clock as VirtualClock).advance(2_000_000);
    // This order leaves an all-free slab behind a partly used one on a zone's partial list.
    k.kldunload("vnet_demo");
    for (const v of vs.reverse()) v.destroy();
    assert.ok(k.reclaim() > 0);
    assert.equal(k.accounting().pagesInUse, boot);
    k.shutdown();
  });
});

describe("pointers from the host are checked", () => {
  test("kernel calls given wild pointers refuse instead of trapping", async () => {
    const k = await Kernel.boot({ config: "BARE" });
    const x = k.k as unknown as { vnet_destroy(v: number): number; vnet_valid(v: number): number; ifh_info(ifp: number, w: number): number; ifh_valid(ifp: number): number };
    for (const p of [0xfffffff8, 0xffff0000, 0x7ffffff8, 8, 4096 + 8]) {
      assert.equal(x.vnet_valid(p), 0, `vnet_valid(0x${p.toString(16)})`);
      assert.equal(x.vnet_destroy(p), -22);
      assert.equal(x.ifh_valid(p), 0, `ifh_valid(0x${p.toString(16)})`);
      assert.equal(x.ifh_info(p, 0), -1);
    }
    k.shutdown();
  });
});

describe("shutdown", () => {
  test("closes the sockets of vnet0 too (other vnets' go with their vnets)", async () => {
    const k = await Kernel.boot({ config: "GENERIC" });
    const a = k.createVnet("a");
    const s0 = k.vnet0.socket("inet", "dgram");
    s0.bind("127.0.0.1", 7000);
    const s1 = a.socket("inet", "dgram");
    s1.bind("127.0.0.1", 7000);
    assert.equal(k.sockets.size, 2);
    k.shutdown();
    assert.equal(k.sockets.size, 0);
    assert.equal(k.vmstatZ().find((z) => z.name === "socket")?.used, 0);
  });
});

test("cstring reads a NUL-terminated name, one that fills its field, and UTF-8", async () => {
  const k = await Kernel.boot({ config: "BARE" });
  try {
    // The last bytes of memory, put back after: the kernel's pages grow from below.
    const mem = new Uint8Array(k.memory.buffer);
    const at = mem.length - 64;
    const saved = mem.slice(at);
    try {
      const put = (bytes: number[]) => mem.set([...bytes, ...new Array(16).fill(0x7a)].slice(0, 16), at);
      put([...Buffer.from("eth0"), 0]);
      assert.equal(k.cstring(at, 16), "eth0");
      put([...Buffer.from("abcdefghijklmnop")]);
      assert.equal(k.cstring(at, 16), "abcdefghijklmnop", "no NUL: the whole field");
      put([...Buffer.from("br-é"), 0]);
      assert.equal(k.cstring(at, 16), "br-é", "UTF-8 past ASCII");
      put([0]);
      assert.equal(k.cstring(at, 16), "");
    } finally {
      mem.set(saved, at);
    }
  } finally {
    k.shutdown();
  }
});
