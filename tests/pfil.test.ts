import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { Kernel, LeakError, ModuleBusyError, type Interface, type Vnet } from "../host/index.js";
import { addAddress, addRoute, setForwarding } from "../host/admin/inet.js";
import { addAddress6 } from "../host/admin/inet6.js";
import { bridgeAdd } from "../host/admin/bridge.js";
import { ping } from "../host/admin/ping.js";
import { pfilStats, pfilHeadRegistered } from "../host/admin/pfil.js";

// net/pfil.ts heads and the kmod_pfil fixture's hooks (tests/kmod/kmod_pfil.ts).
const INET = 0, INET6 = 1, ETHER = 2, BRIDGE = 3;
const IN = 1, OUT = 2, FWD = 4;
const PASS = 0, DROP = 1, CONSUME = 2, REPLACE = 3;
const ENOENT = 2, EEXIST = 17, EINVAL = 22, ENOMEM = 12;

interface Pft {
  pft_add(v: number, head: number, dir: number, prio: number, slot: number, action: number): number;
  pft_add_fn(v: number, head: number, dir: number, fn: number): number;
  pft_del(v: number, head: number, dir: number, slot: number): number;
  pft_hits(slot: number): number;
  pft_last_dir(): number;
  pft_log_len(): number;
  pft_log_at(i: number): number;
  pft_reset(): void;
  pft_release(): number;
}

async function boot(config = ["if_epair", "inet", "inet6", "if_bridge", "kmod_pfil"]) {
  const k = await Kernel.boot({ config, seed: 3 });
  return { k, f: k.module<Pft>("kmod_pfil") };
}

/** A and B on one epair, both families. */
function pair(k: Kernel, A: Vnet, B: Vnet, net = 0): [Interface, Interface] {
  const [a, b] = k.epair(A, B);
  a.setUp();
  b.setUp();
  addAddress(k, a, `10.0.${net}.1/24`);
  addAddress(k, b, `10.0.${net}.2/24`);
  addAddress6(k, a, `fd00:${net}::1/64`);
  addAddress6(k, b, `fd00:${net}::2/64`);
  return [a, b];
}

async function reaches(k: Kernel, from: Vnet, to: string): Promise<boolean> {
  return (await ping(k, from, to, { count: 1, timeoutMs: 3000 })).received === 1;
}

function hookItems(v: Vnet): number {
  return v.accounting().items["pfil_hook"] ?? 0;
}

function log(f: Pft): number[] {
  return Array.from({ length: f.pft_log_len() }, (_, i) => f.pft_log_at(i));
}

describe("pfil heads: a hook that drops really drops", () => {
  for (const [head, name, dst6] of [[INET, "inet", false], [INET6, "inet6", true]] as const) {
    for (const dir of [IN, OUT]) {
      test(`${name} ${dir === IN ? "in" : "out"}: echo is dropped on the head, counted, and flows again when the hook goes`, async () => {
        const { k, f } = await boot();
        const A = k.createVnet("A");
        const B = k.createVnet("B");
        pair(k, A, B);
        const dst = dst6 ? "fd00:0::2" : "10.0.0.2";
        assert.ok(await reaches(k, A, dst), "before");
        // In: B drops the request it receives; out: A drops the request it sends.
        const at = dir === IN ? B : A;
        assert.equal(f.pft_add(at.ptr, head, dir, 0, 0, DROP), 0);
        assert.equal(pfilStats(k, at, name, dir === IN ? "in" : "out").hooks, 1);
        assert.equal(await reaches(k, A, dst), false, "dropped");
        assert.ok(f.pft_hits(0) >= 1);
        assert.ok(pfilStats(k, at, name, dir === IN ? "in" : "out").dropped >= 1);
        // The other family is untouched by this head.
        assert.ok(await reaches(k, A, dst6 ? "10.0.0.2" : "fd00:0::2"), "other family passes");
        assert.equal(f.pft_del(at.ptr, head, dir, 0), 0);
        assert.equal(f.pft_del(at.ptr, head, dir, 0), -ENOENT, "removed once");
        assert.ok(await reaches(k, A, dst), "after removal");
        assert.equal(hookItems(at), 0);
        k.shutdown();
      });
    }
  }

  test("ether in/out: layer 2 drops stop both families; ARP and ND too", async () => {
    const { k, f } = await boot();
    const A = k.createVnet("A");
    const B = k.createVnet("B");
    pair(k, A, B);
    for (const [at, dir] of [[B, IN], [A, OUT]] as const) {
      assert.equal(f.pft_add(at.ptr, ETHER, dir, 0, 1, DROP), 0);
      assert.equal(await reaches(k, A, "10.0.0.2"), false);
      assert.equal(await reaches(k, A, "fd00:0::2"), false);
      const st = pfilStats(k, at, "ether", dir === IN ? "in" : "out");
      assert.ok(st.dropped >= 2, `dropped ${st.dropped}`);
      assert.equal(f.pft_del(at.ptr, ETHER, dir, 1), 0);
      assert.ok(await reaches(k, A, "10.0.0.2"));
      assert.ok(await reaches(k, A, "fd00:0::2"));
    }
    k.shutdown();
  });

  test("bridge member in/out: a bridge in R between A and B drops what its hook drops", async () => {
    const { k, f } = await boot();
    const [A, R, B] = ["A", "R", "B"].map((n) => k.createVnet(n));
    const [br] = R.ifcreate("bridge");
    br.setUp();
    const [a, ra] = k.epair(A, R);
    const [rb, b] = k.epair(R, B);
    for (const i of [a, ra, rb, b]) i.setUp();
    bridgeAdd(k, br, ra);
    bridgeAdd(k, br, rb);
    addAddress(k, a, "10.0.0.1/24");
    addAddress(k, b, "10.0.0.2/24");
    addAddress6(k, a, "fd00::1/64");
    addAddress6(k, b, "fd00::2/64");
    assert.ok(await reaches(k, A, "10.0.0.2"));
    // A pass hook on the bridge head sees member frames in R only (not A's, not B's).
    assert.equal(f.pft_add(R.ptr, BRIDGE, IN, 0, 2, PASS), 0);
    assert.ok(await reaches(k, A, "fd00::2"));
    assert.ok(f.pft_hits(2) >= 2, "request and reply, in from a member");
    for (const dir of [IN, OUT]) {
      assert.equal(f.pft_add(R.ptr, BRIDGE, dir, 0, 3, DROP), 0);
      assert.equal(await reaches(k, A, "10.0.0.2"), false);
      assert.equal(await reaches(k, A, "fd00::2"), false);
      assert.ok(pfilStats(k, R, "bridge", dir === IN ? "in" : "out").dropped >= 2);
      assert.equal(f.pft_del(R.ptr, BRIDGE, dir, 3), 0);
      assert.ok(await reaches(k, A, "10.0.0.2"));
    }
    // The bridge owns its head: it will not unload under a hook.
    assert.throws(() => k.kldunload("if_bridge"), ModuleBusyError);
    f.pft_del(R.ptr, BRIDGE, IN, 2);
    k.shutdown();
  });

  test("forwarded packets pass the router's in and out heads (out with PFIL_FWD), both families", async () => {
    const { k, f } = await boot();
    const [A, R, B] = ["A", "R", "B"].map((n) => k.createVnet(n));
    pair(k, A, R, 1);
    const [rb, b] = k.epair(R, B);
    rb.setUp();
    b.setUp();
    addAddress(k, rb, "10.0.2.1/24");
    addAddress(k, b, "10.0.2.2/24");
    addRoute(k, A, "default", { gateway: "10.0.1.2" });
    addRoute(k, B, "default", { gateway: "10.0.2.1" });
    setForwarding(k, R, true);
    assert.ok(await reaches(k, A, "10.0.2.2"));
    assert.equal(f.pft_add(R.ptr, INET, IN, 0, 4, PASS), 0);
    assert.equal(f.pft_add(R.ptr, INET, OUT, 0, 5, PASS), 0);
    assert.ok(await reaches(k, A, "10.0.2.2"));
    assert.equal(f.pft_hits(4), 2, "request and reply in");
    assert.equal(f.pft_hits(5), 2, "request and reply out");
    assert.equal(f.pft_last_dir(), OUT | FWD);
    assert.equal(f.pft_add(R.ptr, INET, OUT, 0, 6, DROP), 0);
    assert.equal(await reaches(k, A, "10.0.2.2"), false);
    for (const [d, s] of [[IN, 4], [OUT, 5], [OUT, 6]]) assert.equal(f.pft_del(R.ptr, INET, d, s), 0);
    k.shutdown();
  });
});

describe("pfil hooks: order, results, removal, isolation", () => {
  test("hooks run by priority, then insertion; the first drop ends the walk", async () => {
    const { k, f } = await boot();
    const A = k.createVnet("A");
    const B = k.createVnet("B");
    pair(k, A, B);
    assert.ok(await reaches(k, A, "10.0.0.2")); // ARP done
    // Insertion order 0 (prio 10), 1 (prio -5), 2 (prio 10), 3 (prio 0): run 1, 3, 0, 2.
    for (const [slot, prio] of [[0, 10], [1, -5], [2, 10], [3, 0]]) assert.equal(f.pft_add(B.ptr, INET, IN, prio, slot, PASS), 0);
    f.pft_reset();
    assert.ok(await reaches(k, A, "10.0.0.2"));
    assert.deepEqual(log(f), [1, 3, 0, 2]);
    // A drop at priority 5 stops the walk before the two at 10.
    assert.equal(f.pft_add(B.ptr, INET, IN, 5, 4, DROP), 0);
    f.pft_reset();
    assert.equal(await reaches(k, A, "10.0.0.2"), false);
    assert.deepEqual(log(f), [1, 3, 4]);
    assert.equal(f.pft_add(B.ptr, INET, IN, 5, 4, PASS), -EEXIST, "the same hook twice");
    for (const s of [0, 1, 2, 3, 4]) assert.equal(f.pft_del(B.ptr, INET, IN, s), 0);
    k.shutdown();
  });

  test("a replaced packet goes on; a consumed one stops and is the hook's (counted as consumed)", async () => {
    const { k, f } = await boot();
    const A = k.createVnet("A");
    const B = k.createVnet("B");
    pair(k, A, B);
    assert.equal(f.pft_add(B.ptr, INET, IN, 0, 0, REPLACE), 0);
    assert.equal(f.pft_add(B.ptr, INET6, OUT, 0, 1, REPLACE), 0);
    assert.ok(await reaches(k, A, "10.0.0.2"));
    assert.ok(await reaches(k, A, "fd00:0::2"));
    assert.equal(f.pft_add(A.ptr, INET6, IN, 0, 2, CONSUME), 0);
    assert.equal(await reaches(k, A, "fd00:0::2"), false);
    assert.ok(pfilStats(k, A, "inet6", "in").consumed >= 1);
    assert.ok(f.pft_release() >= 1);
    for (const [v, h, d, s] of [[B, INET, IN, 0], [B, INET6, OUT, 1], [A, INET6, IN, 2]] as const) assert.equal(f.pft_del(v.ptr, h, d, s), 0);
    k.shutdown();
  });

  test("refusals: bad head or direction, no function, a head whose owner is not loaded, the per-vnet limit", async () => {
    const { k, f } = await boot(["if_epair", "inet", "kmod_pfil"]);
    const A = k.createVnet("A");
    assert.equal(f.pft_add(A.ptr, 9, IN, 0, 0, PASS), -EINVAL);
    assert.equal(f.pft_add(A.ptr, INET, 3, 0, 0, PASS), -EINVAL);
    assert.equal(f.pft_add_fn(A.ptr, INET, IN, 0), -EINVAL);
    assert.equal(pfilHeadRegistered(k, "inet6"), false);
    assert.equal(f.pft_add(A.ptr, INET6, IN, 0, 0, PASS), -ENOENT, "inet6 is not loaded");
    assert.equal(f.pft_add(A.ptr, BRIDGE, OUT, 0, 0, PASS), -ENOENT, "if_bridge is not loaded");
    // 64 hooks a vnet: 16 slots x 2 directions x 2 heads fill it, the next is refused.
    let n = 0;
    for (const h of [INET, ETHER]) for (const d of [IN, OUT]) for (let s = 0; s < 16; s++) if (f.pft_add(A.ptr, h, d, s, s, PASS) === 0) n++;
    assert.equal(n, 64);
    const B = k.createVnet("B");
    assert.equal(f.pft_add(B.ptr, INET, IN, 0, 0, PASS), 0, "another vnet has its own limit");
    assert.equal(hookItems(A), 64);
    assert.equal(f.pft_add_fn(A.ptr, INET6 - 1, IN, 1), -ENOMEM);
    A.destroy(); // no LeakError: pfil's uninit frees what is left
    B.destroy();
    k.shutdown();
  });

  test("hooks are per vnet: a dropping hook in A leaves B and C talking", async () => {
    const { k, f } = await boot();
    const [A, B, C] = ["A", "B", "C"].map((n) => k.createVnet(n));
    pair(k, A, B, 0);
    pair(k, B, C, 1);
    assert.equal(f.pft_add(A.ptr, INET, IN, 0, 0, DROP), 0);
    assert.equal(f.pft_add(A.ptr, INET6, IN, 0, 1, DROP), 0);
    assert.equal(f.pft_add(A.ptr, ETHER, OUT, 0, 2, PASS), 0);
    assert.equal(await reaches(k, B, "10.0.0.1"), false);
    assert.equal(await reaches(k, B, "fd00:0::1"), false);
    f.pft_reset();
    assert.ok(await reaches(k, B, "10.0.1.2"));
    assert.ok(await reaches(k, C, "fd00:1::1"));
    assert.equal(f.pft_log_len(), 0, "no hook of A ran for B and C");
    for (const v of [B, C]) for (const h of ["inet", "inet6", "ether"] as const) assert.equal(pfilStats(k, v, h, "in").hooks, 0);
    k.shutdown();
  });
});

describe("pfil teardown", () => {
  test("unloading the hooking module removes its hooks from every vnet; the owner refuses to unload while hooked", async () => {
    const { k, f } = await boot();
    const vs = Array.from({ length: 20 }, (_, i) => k.createVnet(`v${i}`));
    for (const v of vs) {
      for (const [h, d] of [[INET, IN], [INET, OUT], [INET6, IN], [ETHER, OUT], [BRIDGE, IN]]) assert.equal(f.pft_add(v.ptr, h, d, 0, 0, PASS), 0);
    }
    assert.throws(() => k.kldunload("inet"), ModuleBusyError);
    assert.throws(() => k.kldunload("inet6"), ModuleBusyError);
    assert.ok(vs.every((v) => hookItems(v) === 5));
    k.kldunload("kmod_pfil");
    for (const v of vs) {
      assert.equal(hookItems(v), 0);
      for (const h of ["inet", "inet6", "ether", "bridge"] as const) for (const d of ["in", "out"] as const) assert.equal(pfilStats(k, v, h, d).hooks, 0);
    }
    // Now the owners may go, and the heads with them.
    k.kldunload("inet6");
    assert.equal(pfilHeadRegistered(k, "inet6"), false);
    for (const v of vs) v.destroy();
    k.shutdown();
  });

  test("destroying a vnet with hooks on every head leaves no hook entry, no page, no leak", async () => {
    const { k, f } = await boot();
    const before = k.accounting().pagesInUse;
    for (let round = 0; round < 3; round++) {
      const V = k.createVnet("V");
      for (const h of [INET, INET6, ETHER, BRIDGE]) for (const d of [IN, OUT]) for (let s = 0; s < 4; s++) assert.equal(f.pft_add(V.ptr, h, d, s, s, PASS), 0);
      assert.equal(hookItems(V), 32);
      V.destroy(); // a LeakError would name pfil_hook
    }
    k.reclaim();
    assert.equal(k.accounting().pagesInUse, before);
    assert.equal(k.accounting().zombies, 0);
    k.shutdown();
  });
});
