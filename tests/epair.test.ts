import { test, describe } from "node:test";
import assert from "node:assert/strict";
import {
  Kernel, VirtualClock, ConfigError, KernelError, ModuleBusyError, InterfaceGoneError, Errno, parseMac,
  type Interface, type Vnet,
} from "../host/index.js";
import { epairConditions, clearConditions, getConditions, epairStats, epairPeer, epairCount, epairRng, type LinkConditions } from "../host/admin/epair.js";
import { linkRandom } from "../host/scale/xlink.js";
import { snapshot } from "./helpers/snapshot.js";

const ETHERTYPE_TEST = 0x88b5; // no module handles it: the receiver counts the frame as noproto

async function boot(seed = 1): Promise<Kernel> {
  return Kernel.boot({ config: ["if_epair"], seed });
}

function clockOf(k: Kernel): VirtualClock {
  return k.clock as VirtualClock;
}

/** A frame of len bytes from src's MAC to dst's MAC ("for us" at dst, then noproto). */
function frame(src: Interface, dst: Interface, len = 64): Uint8Array {
  const f = new Uint8Array(len);
  f.set(parseMac(dst.mac), 0);
  f.set(parseMac(src.mac), 6);
  f[12] = ETHERTYPE_TEST >> 8;
  f[13] = ETHERTYPE_TEST & 0xff;
  for (let i = 14; i < len; i++) f[i] = i & 0xff;
  return f;
}

function send(src: Interface, dst: Interface, n: number, len = 64): void {
  const f = frame(src, dst, len);
  for (let i = 0; i < n; i++) assert.equal(src.send(f), 0);
}

function mbufAllocs(k: Kernel): number {
  return k.vmstatZ().find((z) => z.name === "mbuf")!.allocs;
}

function zoneUsed(k: Kernel, name: string): number {
  return k.vmstatZ().find((z) => z.name === name)?.used ?? -1;
}

/** Two vnets joined by an epair (made in vnet0, ends moved in), both ends up. */
async function pair(seed = 1): Promise<{ k: Kernel; clock: VirtualClock; A: Vnet; B: Vnet; ea: Interface; eb: Interface }> {
  const k = await boot(seed);
  const A = k.createVnet("A");
  const B = k.createVnet("B");
  const [ea, eb] = k.epair(A, B);
  ea.setUp();
  eb.setUp();
  return { k, clock: clockOf(k), A, B, ea, eb };
}

describe("epair cloner", () => {
  test("GENERIC loads if_epair", async () => {
    const k = await Kernel.boot();
    assert.ok(k.kldstat().some((m) => m.name === "if_epair"));
    k.shutdown();
  });

  test("ifconfig epair create makes epairNa and epairNb: Ethernet, MTU 1500, distinct local MACs, RUNNING when UP", async () => {
    const k = await boot();
    const v = k.createVnet("v");
    const [a, b] = v.ifcreate("epair");
    assert.deepEqual([a.name, b.name], ["epair0a", "epair0b"]);
    assert.equal(a.type, "ether");
    assert.equal(a.mtu, 1500);
    assert.equal(a.flags, 0x2 | 0x800 | 0x8000, "BROADCAST, SIMPLEX, MULTICAST");
    assert.notEqual(a.mac, b.mac);
    for (const e of [a, b]) {
      const mac = parseMac(e.mac);
      assert.equal(mac[0] & 3, 2, `${e.mac} is locally administered unicast`);
    }
    assert.equal(a.running, false);
    a.setUp();
    assert.equal(a.running, true);
    a.setDown();
    assert.equal(a.running, false);
    assert.equal(epairPeer(k, a).name, "epair0b");
    assert.equal(epairPeer(k, b).ptr, a.ptr);
    assert.deepEqual(v.interfaces().map((i) => i.name), ["lo0", "epair0a", "epair0b"]);
    k.shutdown();
  });

  test("units: lowest free in the vnet, an explicit unit, a taken unit is EEXIST; units are per vnet", async () => {
    const k = await boot();
    const v = k.createVnet("v");
    const w = k.createVnet("w");
    assert.equal(v.ifcreate("epair")[0].name, "epair0a");
    assert.equal(v.ifcreate("epair")[0].name, "epair1a");
    assert.deepEqual(v.ifcreate("epair5").map((i) => i.name), ["epair5a", "epair5b"]);
    assert.throws(() => v.ifcreate("epair5"), (e: unknown) => e instanceof KernelError && e.errno === Errno.EEXIST);
    assert.equal(v.ifcreate("epair")[0].name, "epair2a");
    const [w0] = w.ifcreate("epair");
    assert.equal(w0.name, "epair0a");
    assert.notEqual(w0.mac, v.interface("epair0a").mac, "the home vnet is part of the MAC");
    assert.equal(epairCount(k), 5);
    // A destroyed pair's unit is free again.
    v.interface("epair1b").destroy();
    assert.equal(v.ifcreate("epair")[0].name, "epair1a");
    assert.equal(v.ifcreate("epair")[0].name, "epair3a");
    k.shutdown();
  });

  test("MTU up to 16384; the receiver drops frames longer than its own MTU allows", async () => {
    const { k, B, ea, eb } = await pair();
    ea.setMtu(9000);
    assert.throws(() => ea.setMtu(16385), (e: unknown) => e instanceof ConfigError && /mtu epair\d+a: must be an integer from 72 to 16384 \(the epair driver's limit\), got 16385/.test((e as Error).message));
    assert.equal(ea.mtu, 9000);
    send(ea, eb, 1, 9014);
    assert.equal(eb.counters().ierrors, 1);
    assert.equal(B.etherStats().oversize, 1);
    eb.setMtu(9000);
    send(ea, eb, 1, 9014);
    assert.equal(eb.counters().ipackets, 1);
    k.shutdown();
  });
});

describe("epair data path", () => {
  test("frames cross between vnets both ways, zero copy: one mbuf per frame, made by the sender", async () => {
    const { k, A, B, ea, eb } = await pair();
    assert.equal(ea.vnet, A);
    assert.equal(eb.vnet, B);
    assert.equal(ea.home, k.vnet0);
    const allocs = mbufAllocs(k);
    send(ea, eb, 100);
    assert.equal(mbufAllocs(k) - allocs, 100, "the epair allocated nothing");
    const rb = eb.counters();
    assert.equal(rb.ipackets, 100);
    assert.equal(rb.ibytes, 6400);
    assert.equal(rb.noproto, 100);
    assert.equal(ea.counters().opackets, 100);
    assert.equal(ea.counters().obytes, 6400);
    send(eb, ea, 50);
    assert.equal(ea.counters().ipackets, 50);
    assert.equal(eb.counters().opackets, 50);
    assert.deepEqual(epairStats(k, ea), { sent: 100, delivered: 100, lost: 0, duplicated: 0, reordered: 0, queueDrops: 0, dropped: 0, queued: 0, backlog: 0, backlogBytes: 0 });
    assert.equal(epairStats(k, eb).delivered, 50);
    // A frame "from the wire" (the host injecting it) is the end's input, as one from the peer.
    assert.equal(eb.receive(frame(ea, eb)), 0);
    assert.equal(eb.counters().ipackets, 101);
    // Every frame was freed by the receiver; nothing stays charged anywhere.
    assert.equal(A.accounting().items.mbuf, undefined);
    assert.equal(B.accounting().items.mbuf, undefined);
    k.shutdown();
  });

  test("a frame toward an end that is down is dropped and counted on the sender", async () => {
    const { k, ea, eb } = await pair();
    eb.setDown();
    send(ea, eb, 3);
    assert.equal(eb.counters().ipackets, 0);
    assert.equal(ea.counters().oerrors, 3);
    assert.equal(epairStats(k, ea).dropped, 3);
    k.shutdown();
  });

  test("moving an end: frames follow it into its new vnet; its home stays where it was made", async () => {
    const k = await boot();
    const A = k.createVnet("A");
    const B = k.createVnet("B");
    const C = k.createVnet("C");
    const [a, b] = A.ifcreate("epair");
    b.moveTo(B);
    assert.equal(b.vnet, B);
    assert.equal(b.home, A);
    a.setUp();
    b.setUp();
    send(a, b, 5);
    assert.equal(b.counters().ipackets, 5);
    b.moveTo(C);
    assert.equal(b.up, false, "a move takes the interface down");
    b.setUp();
    send(b, a, 2);
    assert.equal(a.counters().ipackets, 2);
    assert.deepEqual(B.interfaces().map((i) => i.name), ["lo0"]);
    k.shutdown();
  });

  test("destroying one end destroys both, wherever each is", async () => {
    const { k, A, B, ea, eb } = await pair();
    const used = zoneUsed(k, "ifnet");
    eb.destroy();
    assert.equal(ea.alive, false);
    assert.equal(eb.alive, false);
    assert.deepEqual(A.interfaces().map((i) => i.name), ["lo0"]);
    assert.deepEqual(B.interfaces().map((i) => i.name), ["lo0"]);
    assert.equal(zoneUsed(k, "ifnet"), used - 2);
    assert.equal(zoneUsed(k, "epair"), 0);
    assert.equal(epairCount(k), 0);
    assert.throws(() => ea.destroy(), InterfaceGoneError);
    k.shutdown();
  });
});

describe("epair and vnet teardown", () => {
  test("ends moved into a dying vnet go home (down) and the pair lives on", async () => {
    const { k, A, B, ea, eb } = await pair();
    B.destroy();
    assert.ok(eb.alive);
    assert.equal(eb.vnet, k.vnet0);
    assert.equal(eb.up, false);
    assert.equal(epairCount(k), 1);
    eb.setUp();
    send(ea, eb, 4);
    assert.equal(eb.counters().ipackets, 4);
    A.destroy();
    assert.equal(ea.vnet, k.vnet0);
    ea.destroy();
    k.shutdown();
  });

  test("a pair made in a dying vnet dies with it, even with one end elsewhere", async () => {
    const k = await boot();
    const X = k.createVnet("X");
    const Y = k.createVnet("Y");
    const [xa, xb] = X.ifcreate("epair");
    xb.moveTo(Y);
    X.destroy();
    assert.equal(xa.alive, false);
    assert.equal(xb.alive, false);
    assert.deepEqual(Y.interfaces().map((i) => i.name), ["lo0"]);
    assert.equal(epairCount(k), 0);
    k.shutdown();
  });

  test("a pair made in a dying vnet dies with it even when neither end is there; its unit stays taken until then", async () => {
    const k = await boot();
    const X = k.createVnet("X");
    const Y = k.createVnet("Y");
    const Z = k.createVnet("Z");
    const [xa, xb] = X.ifcreate("epair");
    xa.moveTo(Y);
    xb.moveTo(Z);
    // epair0 belongs to X while its ends are away: they come home by those names.
    const [x1] = X.ifcreate("epair");
    assert.equal(x1.name, "epair1a");
    X.destroy();
    assert.equal(xa.alive, false);
    assert.equal(xb.alive, false);
    assert.deepEqual(Y.interfaces().map((i) => i.name), ["lo0"]);
    assert.deepEqual(Z.interfaces().map((i) => i.name), ["lo0"]);
    assert.equal(epairCount(k), 0);
    assert.equal(zoneUsed(k, "epair"), 0);
    k.shutdown();
  });

  test("destroying a vnet holding one end while frames are queued: nothing leaks, nothing is delivered into it", async () => {
    const k = await boot();
    const clock = clockOf(k);
    k.reclaim();
    const before = snapshot(k);
    const A = k.createVnet("A");
    const B = k.createVnet("B");
    const [ea, eb] = k.epair(A, B);
    ea.setUp();
    eb.setUp();
    epairConditions(k, ea, { delayUs: 10_000 });
    epairConditions(k, eb, { delayUs: 10_000 });
    send(ea, eb, 100);
    send(eb, ea, 100);
    clock.advance(5_000);
    assert.equal(epairStats(k, ea).queued, 100);
    assert.equal(epairStats(k, eb).queued, 100);
    assert.equal(A.accounting().items.mbuf, 100, "frames in flight stay charged to their sender");
    B.destroy(); // no LeakError: B's frames in flight were dropped, eb went home
    assert.equal(eb.vnet, k.vnet0);
    assert.equal(epairStats(k, eb).queued, 0);
    assert.equal(epairStats(k, eb).dropped, 100);
    clock.advance(10_000);
    assert.equal(ea.counters().ipackets, 0, "B's frames never arrived");
    assert.equal(eb.counters().ipackets, 0, "nothing was delivered to the end that went home (down)");
    assert.equal(epairStats(k, ea).dropped, 100);
    assert.equal(epairStats(k, ea).delivered, 0);
    assert.equal(A.accounting().items.mbuf, undefined);
    A.destroy();
    ea.destroy();
    assert.equal(k.accounting().zombies, 0);
    assert.equal(k.k.callout_pending_count(), 0);
    k.reclaim();
    assert.deepEqual(snapshot(k), before);
    k.shutdown();
  });

  test("destroying the home vnet while frames are queued both ways takes the pair and its frames", async () => {
    const k = await boot();
    const clock = clockOf(k);
    k.reclaim();
    const before = snapshot(k);
    const X = k.createVnet("X");
    const Y = k.createVnet("Y");
    const Z = k.createVnet("Z");
    const [a, b] = X.ifcreate("epair");
    a.moveTo(Y);
    b.moveTo(Z);
    a.setUp();
    b.setUp();
    epairConditions(k, a, { delayUs: 1_000, rateBps: 1_000_000 });
    epairConditions(k, b, { delayUs: 50_000, jitterUs: 10_000 });
    send(a, b, 20, 500);
    send(b, a, 20, 500);
    clock.advance(3_000);
    X.destroy();
    assert.equal(a.alive, false);
    assert.equal(b.alive, false);
    assert.equal(Y.accounting().items.mbuf, undefined);
    assert.equal(Z.accounting().items.mbuf, undefined);
    clock.advance(100_000);
    for (const v of [Y, Z]) v.destroy();
    k.reclaim();
    assert.deepEqual(snapshot(k), before);
    k.shutdown();
  });

  test("kldunload if_epair is refused while pairs exist and leaves nothing once they are gone", async () => {
    const k = await Kernel.boot({ config: "BARE" });
    const A = k.createVnet("A");
    k.reclaim();
    const before = snapshot(k);
    await k.kldload("if_epair");
    const [a, b] = k.epair(A);
    a.setUp();
    b.setUp();
    epairConditions(k, a, { delayUs: 1_000 });
    send(a, b, 3);
    assert.throws(() => k.kldunload("if_epair"), (e: unknown) => e instanceof ModuleBusyError && /kldunload if_epair: module is busy: EBUSY/.test(e.message));
    clockOf(k).advance(1_000);
    a.destroy();
    k.kldunload("if_epair");
    k.reclaim();
    assert.deepEqual(snapshot(k), before);
    A.destroy();
    k.shutdown();
  });

  test("a forced kldunload destroys every pair, frames in flight included, and leaves nothing", async () => {
    const k = await Kernel.boot({ config: "BARE" });
    const A = k.createVnet("A");
    const B = k.createVnet("B");
    k.reclaim();
    const before = snapshot(k);
    await k.kldload("if_epair");
    const [a, b] = k.epair(A, B);
    A.ifcreate("epair");
    a.setUp();
    b.setUp();
    epairConditions(k, a, { delayUs: 1_000 });
    send(a, b, 3);
    k.kldunload("if_epair", { force: true });
    assert.equal(a.alive, false);
    assert.deepEqual(A.interfaces().map((i) => i.name), ["lo0"]);
    k.reclaim();
    assert.deepEqual(snapshot(k), before);
    k.shutdown();
  });
});

describe("epair link conditions (virtual time)", () => {
  test("loss 10% over 100,000 frames is within 0.6% (6 binomial sd)", async () => {
    const { k, ea, eb } = await pair();
    epairConditions(k, ea, { loss: 0.1 });
    send(ea, eb, 100_000);
    const s = epairStats(k, ea);
    assert.equal(s.sent, 100_000);
    assert.ok(Math.abs(s.lost - 10_000) <= 600, `lost ${s.lost}`);
    assert.equal(s.delivered, 100_000 - s.lost);
    assert.equal(eb.counters().ipackets, s.delivered);
    assert.equal(ea.counters().opackets, 100_000, "the sender does not see the wire's losses");
    k.shutdown();
  });

  test("a direction's own stream (epair_set_rng) loses and duplicates exactly the frames the host's linkRandom draws, whatever the kernel's seed", async () => {
    const expected: string[] = [];
    const s = { rng: 12345 };
    for (let i = 0; i < 300; i++) {
      if (linkRandom(s) < Math.round(0.3 * 2 ** 32)) expected.push("lost");
      else expected.push(linkRandom(s) < Math.round(0.2 * 2 ** 32) ? "dup" : "one");
    }
    for (const seed of [1, 99]) {
      const { k, ea, eb } = await pair(seed);
      epairConditions(k, ea, { loss: 0.3, duplicate: 0.2 });
      epairRng(k, ea, 12345);
      const got: string[] = [];
      for (let i = 0; i < 300; i++) {
        const before = eb.counters().ipackets;
        send(ea, eb, 1);
        got.push(["lost", "one", "dup"][eb.counters().ipackets - before]!);
      }
      assert.deepEqual(got, expected, `kernel seed ${seed}`);
      assert.throws(() => epairRng(k, ea, -1), (e: unknown) => e instanceof ConfigError && /seed must be an integer from 0 to 4294967295/.test(e.message));
      k.shutdown();
    }
  });

  test("delay is exact: nothing 1 us early, everything on time", async () => {
    const { k, clock, ea, eb } = await pair();
    epairConditions(k, ea, { delayUs: 5_000 });
    const t0 = clock.now();
    send(ea, eb, 50);
    clock.advanceTo(t0 + 1_000);
    send(ea, eb, 7);
    clock.advanceTo(t0 + 4_999);
    assert.equal(eb.counters().ipackets, 0);
    assert.equal(epairStats(k, ea).queued, 57);
    clock.advanceTo(t0 + 5_000);
    assert.equal(eb.counters().ipackets, 50);
    clock.advanceTo(t0 + 5_999);
    assert.equal(eb.counters().ipackets, 50);
    clock.advanceTo(t0 + 6_000);
    assert.equal(eb.counters().ipackets, 57);
    assert.equal(epairStats(k, ea).queued, 0);
    assert.equal(k.k.callout_pending_count(), 0, "the callout is not left armed");
    k.shutdown();
  });

  test("jitter stays within delay +/- jitter and is spread around the delay", async () => {
    const { k, clock, ea, eb } = await pair();
    epairConditions(k, ea, { delayUs: 10_000, jitterUs: 3_000 });
    const t0 = clock.now();
    send(ea, eb, 2_000);
    clock.advanceTo(t0 + 6_999);
    assert.equal(eb.counters().ipackets, 0);
    clock.advanceTo(t0 + 10_000);
    const half = eb.counters().ipackets;
    // P(arrival <= delay) = 3001/6001; sd of the count ~22: allow 5 sd.
    assert.ok(Math.abs(half - 1000) <= 110, `by the mean delay ${half} of 2000 arrived`);
    clock.advanceTo(t0 + 13_000);
    assert.equal(eb.counters().ipackets, 2_000);
    k.shutdown();
  });

  test("jitter larger than the delay never makes a frame arrive before it was sent", async () => {
    const { k, clock, ea, eb } = await pair();
    epairConditions(k, ea, { delayUs: 100, jitterUs: 1_000 });
    const t0 = clock.now();
    send(ea, eb, 1_000);
    const now = eb.counters().ipackets;
    // [-1000, -100] clamps to 0: 901 of 2001 values.
    assert.ok(Math.abs(now - 450) <= 100, `${now} arrived at once`);
    clock.advanceTo(t0 + 1_100);
    assert.equal(eb.counters().ipackets, 1_000);
    k.shutdown();
  });

  test("duplicate 5% over 20,000 frames; each copy is a new mbuf and arrives too", async () => {
    const { k, ea, eb } = await pair();
    epairConditions(k, ea, { duplicate: 0.05 });
    const allocs = mbufAllocs(k);
    send(ea, eb, 20_000);
    const s = epairStats(k, ea);
    assert.ok(Math.abs(s.duplicated - 1_000) <= 185, `duplicated ${s.duplicated}`);
    assert.equal(s.delivered, 20_000 + s.duplicated);
    assert.equal(eb.counters().ipackets, 20_000 + s.duplicated);
    assert.equal(mbufAllocs(k) - allocs, 20_000 + s.duplicated);
    k.shutdown();
  });

  test("reorder 25%: those frames skip the delay and overtake the ones sent before them", async () => {
    const { k, clock, ea, eb } = await pair();
    epairConditions(k, ea, { delayUs: 1_000, reorder: 0.25 });
    const t0 = clock.now();
    send(ea, eb, 10_000);
    const s = epairStats(k, ea);
    assert.ok(Math.abs(s.reordered - 2_500) <= 260, `reordered ${s.reordered}`);
    assert.equal(eb.counters().ipackets, s.reordered, "the reordered frames are there already");
    clock.advanceTo(t0 + 1_000);
    assert.equal(eb.counters().ipackets, 10_000);
    k.shutdown();
  });

  test("rate: frames leave one serialization time apart (10 Mbit/s, 1000 bytes = 800 us)", async () => {
    const { k, clock, ea, eb } = await pair();
    epairConditions(k, ea, { rateBps: 10_000_000 });
    const t0 = clock.now();
    send(ea, eb, 10, 1000);
    assert.equal(epairStats(k, ea).backlog, 10);
    assert.equal(epairStats(k, ea).backlogBytes, 10_000);
    for (let i = 1; i <= 10; i++) {
      clock.advanceTo(t0 + 800 * i - 1);
      assert.equal(eb.counters().ipackets, i - 1);
      clock.advanceTo(t0 + 800 * i);
      assert.equal(eb.counters().ipackets, i);
    }
    k.shutdown();
  });

  test("rate under overload: throughput within 1% of 10 Mbit/s, the excess counted as queue drops", async () => {
    const { k, clock, ea, eb } = await pair();
    epairConditions(k, ea, { rateBps: 10_000_000, queueLimit: 50 });
    const t0 = clock.now();
    // Offer 24 Mbit/s: three 1000-byte frames every millisecond for one second.
    for (let ms = 0; ms < 1000; ms++) {
      clock.advanceTo(t0 + ms * 1000);
      send(ea, eb, 3, 1000);
    }
    clock.advanceTo(t0 + 1_000_000);
    const got = eb.counters().ipackets;
    assert.ok(Math.abs(got - 1250) <= 12.5, `delivered ${got} in 1 s, expected 1250`);
    const s = epairStats(k, ea);
    assert.equal(s.sent, 3000);
    assert.equal(s.delivered + s.queueDrops + s.queued, 3000);
    assert.ok(s.queued <= 50);
    assert.equal(ea.counters().oqdrops, s.queueDrops);
    k.shutdown();
  });

  test("a rate with a delay: serialization first, then the delay", async () => {
    const { k, clock, ea, eb } = await pair();
    epairConditions(k, ea, { rateBps: 1_000_000, delayUs: 10_000 });
    const t0 = clock.now();
    send(ea, eb, 2, 125); // 1000 us each on the link
    clock.advanceTo(t0 + 10_999);
    assert.equal(eb.counters().ipackets, 0);
    clock.advanceTo(t0 + 11_000);
    assert.equal(eb.counters().ipackets, 1);
    clock.advanceTo(t0 + 12_000);
    assert.equal(eb.counters().ipackets, 2);
    k.shutdown();
  });

  test("queue overflow: frames beyond the limit (frames or bytes) are dropped and counted", async () => {
    const { k, clock, ea, eb } = await pair();
    epairConditions(k, ea, { rateBps: 1_000_000, queueLimit: 10 });
    send(ea, eb, 100);
    let s = epairStats(k, ea);
    assert.equal(s.queueDrops, 90);
    assert.equal(s.backlog, 10);
    assert.equal(ea.counters().oqdrops, 90);
    clock.advance(1_000_000);
    assert.equal(eb.counters().ipackets, 10);
    epairConditions(k, ea, { rateBps: 1_000_000, queueBytes: 3_000 });
    send(ea, eb, 10, 1000);
    s = epairStats(k, ea);
    assert.equal(s.queueDrops, 97);
    assert.equal(s.backlogBytes, 3_000);
    clock.advance(1_000_000);
    assert.equal(eb.counters().ipackets, 13);
    k.shutdown();
  });

  test("conditions change mid-stream: queued frames keep their times, new frames get the new ones", async () => {
    const { k, clock, ea, eb } = await pair();
    epairConditions(k, ea, { delayUs: 10_000 });
    const t0 = clock.now();
    send(ea, eb, 10);
    epairConditions(k, ea, { delayUs: 2_000, loss: 0.1, duplicate: 0.25, reorder: 0.3, jitterUs: 0 });
    assert.deepEqual(getConditions(k, ea), { delayUs: 2_000, jitterUs: 0, loss: 0.1, duplicate: 0.25, reorder: 0.3, rateBps: 0, queueLimit: 1000, queueBytes: 0 });
    epairConditions(k, ea, { delayUs: 2_000 });
    send(ea, eb, 10);
    clock.advanceTo(t0 + 2_000);
    assert.equal(eb.counters().ipackets, 10, "the later frames overtook");
    clearConditions(k, ea);
    send(ea, eb, 5);
    assert.equal(eb.counters().ipackets, 15, "no conditions: at once");
    clock.advanceTo(t0 + 9_999);
    assert.equal(eb.counters().ipackets, 15);
    clock.advanceTo(t0 + 10_000);
    assert.equal(eb.counters().ipackets, 25);
    k.shutdown();
  });

  test("the same seed gives identical counters; another seed does not", async () => {
    const run = async (seed: number) => {
      const { k, clock, ea, eb } = await pair(seed);
      const c: LinkConditions = { loss: 0.2, duplicate: 0.1, delayUs: 2_000, jitterUs: 1_500, reorder: 0.1, rateBps: 50_000_000, queueLimit: 20 };
      epairConditions(k, ea, c);
      epairConditions(k, eb, c);
      for (let i = 0; i < 200; i++) {
        send(ea, eb, 5, 200 + i);
        send(eb, ea, 3, 100 + i);
        clock.advance(97);
      }
      const mid = [eb.counters().ipackets, ea.counters().ipackets];
      clock.advance(100_000);
      const out = { a: epairStats(k, ea), b: epairStats(k, eb), mid, rb: eb.counters(), ra: ea.counters() };
      k.shutdown();
      return out;
    };
    const x = await run(7);
    assert.deepEqual(await run(7), x);
    assert.notDeepEqual(await run(8), x);
    assert.equal(x.a.queued, 0);
    assert.equal(x.a.sent + x.a.duplicated, x.a.lost + x.a.queueDrops + x.a.dropped + x.a.delivered);
  });

  test("traffic with conditions allocates nothing managed in the module or the kernel", async () => {
    const { k, clock, ea, eb } = await pair();
    const m = k.module<{ kmod_heap_top(): number }>("if_epair");
    const top = m.kmod_heap_top();
    const ktop = k.heapTop();
    epairConditions(k, ea, { delayUs: 500, jitterUs: 400, loss: 0.1, duplicate: 0.1, reorder: 0.1, rateBps: 100_000_000 });
    for (let i = 0; i < 100; i++) {
      send(ea, eb, 20);
      clock.advance(50);
    }
    clock.advance(10_000);
    assert.equal(m.kmod_heap_top(), top);
    assert.equal(k.heapTop(), ktop);
    k.shutdown();
  });
});

describe("epair host API checks its arguments", () => {
  test("bad conditions are ConfigErrors naming the field", async () => {
    const { k, A, ea } = await pair();
    const bad: [LinkConditions, RegExp][] = [
      [{ loss: 1.5 }, /loss must be a probability from 0 to 1, got 1.5/],
      [{ duplicate: -0.1 }, /duplicate must be a probability/],
      [{ reorder: NaN, delayUs: 10 }, /reorder must be a probability/],
      [{ delayUs: -1 }, /delayUs must be an integer from 0 to 2147483647 microseconds, got -1/],
      [{ jitterUs: 0.5 }, /jitterUs must be an integer/],
      [{ rateBps: 1.5 }, /rateBps must be an integer/],
      [{ queueLimit: 0 }, /queueLimit must be an integer from 1/],
      [{ queueBytes: -5 }, /queueBytes must be an integer/],
      [{ reorder: 0.1 }, /reorder needs delayUs > 0/],
      [{ delay: 5 } as unknown as LinkConditions, /unknown condition "delay"/],
    ];
    for (const [c, re] of bad) {
      assert.throws(() => epairConditions(k, ea, c), (e: unknown) => e instanceof ConfigError && re.test(e.message) && /epair0a/.test(e.message), JSON.stringify(c));
    }
    assert.deepEqual(getConditions(k, ea).delayUs, 0, "nothing was set");
    assert.throws(() => epairConditions(k, A.interface("lo0"), { delayUs: 1 }), (e: unknown) => e instanceof ConfigError && /lo0 is not an epair end/.test(e.message));
    ea.destroy();
    assert.throws(() => epairStats(k, ea), InterfaceGoneError);
    k.shutdown();
  });
});
