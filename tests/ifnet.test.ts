import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { Kernel, KernelError, ConfigError, InterfaceGoneError } from "../host/index.js";
import { snapshot } from "./helpers/snapshot.js";

describe("interfaces: lo0 and the interface layer", () => {
  test("every vnet gets its own lo0 from a sysinit, and loses it on destroy", async () => {
    const k = await Kernel.boot({ config: "BARE" });
    k.reclaim();
    const before = snapshot(k);
    const a = k.createVnet("a");
    const b = k.createVnet("b");
    for (const v of [k.vnet0, a, b]) {
      const ifs = v.interfaces();
      assert.deepEqual(ifs.map((i) => i.name), ["lo0"]);
      const lo = ifs[0];
      assert.equal(lo.index, 1);
      assert.equal(lo.mtu, 16384);
      assert.equal(lo.type, "loopback");
      assert.ok(lo.up && lo.running);
      assert.equal(lo.vnet, v);
    }
    assert.notEqual(a.interface("lo0").ptr, b.interface("lo0").ptr);
    assert.equal(a.accounting().items["ifnet"], 1, "lo0 is charged to its vnet");
    const lo = a.interface("lo0");
    a.destroy();
    assert.equal(lo.alive, false);
    assert.throws(() => lo.counters(), InterfaceGoneError);
    b.destroy();
    k.reclaim();
    assert.deepEqual(snapshot(k), before);
    k.shutdown();
  });

  test("describe() reads name, MAC and MTU with one liveness check, and nothing of a gone interface", async () => {
    const k = await Kernel.boot({ config: "BARE" });
    const a = k.createVnet("a");
    const lo = a.interface("lo0");
    assert.deepEqual(lo.describe(), { name: lo.name, mac: lo.mac, mtu: lo.mtu });
    assert.equal(lo.describe()?.mtu, 16384);
    a.destroy();
    assert.equal(lo.describe(), undefined, "a destroyed interface describes as gone");
    // Its memory may hold another vnet's lo0 now: still gone (the serial differs).
    const c = k.createVnet("c");
    assert.equal(lo.describe(), undefined, "a handle on a destroyed interface stays gone when its memory is reused");
    assert.equal(c.interface("lo0").describe()?.name, "lo0");
    c.destroy();
    k.shutdown();
  });

  test("lo0 cannot be destroyed or moved", async () => {
    const k = await Kernel.boot({ config: "BARE" });
    const a = k.createVnet("a");
    const lo = k.vnet0.interface("lo0");
    assert.throws(() => lo.destroy(), (e: unknown) => e instanceof KernelError && /not a cloned interface/.test(e.message));
    assert.throws(() => lo.moveTo(a), (e: unknown) => e instanceof KernelError && /loopback interface stays/.test(e.message));
    assert.equal(lo.vnet, k.vnet0);
    k.shutdown();
  });

  test("a packet sent on lo0 comes back in; with no protocol loaded it is counted as noproto", async () => {
    const k = await Kernel.boot({ config: "BARE" });
    const lo = k.vnet0.interface("lo0");
    // DLT_NULL: 4-byte address family (AF_INET = 2, host order), then the packet.
    assert.equal(lo.send(Uint8Array.from([2, 0, 0, 0, 0x45, 0, 0, 20])), 0);
    const c = lo.counters();
    assert.deepEqual([c.opackets, c.ipackets, c.noproto, c.obytes], [1, 1, 1, 4]);
    // Shorter than the family header: an output error, nothing delivered.
    assert.notEqual(lo.send(Uint8Array.from([2, 0])), 0);
    assert.equal(lo.counters().oerrors, 1);
    k.shutdown();
  });

  test("asking for a cloner no module provides names the cloner", async () => {
    const k = await Kernel.boot({ config: "BARE" });
    assert.throws(() => k.vnet0.ifcreate("tun"), (e: unknown) => e instanceof KernelError && /no cloner "tun" \(is its module loaded\?\)/.test(e.message));
    assert.throws(() => k.vnet0.ifcreate("bad name"), ConfigError);
    assert.throws(() => k.vnet0.interface("em0"), (e: unknown) => e instanceof ConfigError && /has no interface "em0".*lo0/.test(e.message));
    k.shutdown();
  });

  test("MTU and MAC changes are checked before they reach the kernel", async () => {
    const k = await Kernel.boot({ config: "BARE" });
    const lo = k.vnet0.interface("lo0");
    assert.throws(() => lo.setMtu(10), (e: unknown) => e instanceof ConfigError && /72 to 65535/.test(e.message));
    lo.setMtu(1500);
    assert.equal(lo.mtu, 1500);
    assert.throws(() => lo.setMac("nonsense"), ConfigError);
    assert.throws(() => lo.setMac("01:00:5e:00:00:01"), (e: unknown) => e instanceof ConfigError && /multicast/.test(e.message));
    assert.throws(() => lo.setMac("00:00:00:00:00:00"), (e: unknown) => e instanceof ConfigError && /all-zero/.test(e.message));
    lo.setMac("02:00:00:00:00:42");
    assert.equal(lo.mac, "02:00:00:00:00:42");
    k.shutdown();
  });

  test("ifconfig and netstat -i print every interface", async () => {
    const k = await Kernel.boot({ config: "BARE" });
    const text = k.vnet0.ifconfig();
    assert.match(text, /^lo0: flags=8049<UP,LOOPBACK,RUNNING,MULTICAST> mtu 16384 index 1$/m);
    assert.match(k.vnet0.netstatI(), /^Name\s+Mtu\s+Address\s+Ipkts/);
    k.shutdown();
  });
});
