import { test, describe } from "node:test";
import assert from "node:assert/strict";
import {
  Kernel, VirtualClock, ConfigError, ModuleBusyError, ModuleNotLoadedError, parseMac, type Interface, type Vnet,
} from "../host/index.js";
import {
  bridgeAdd, bridgeDel, bridgeAddrs, bridgeAddStatic, bridgeDelAddr, bridgeFlush, bridgeSetAgeing, bridgeSetMaxAddr,
  bridgeStats, bridgeMembers, bridgeAddrText, bridgeText,
} from "../host/admin/bridge.js";
import { snapshot } from "./helpers/snapshot.js";

const ETYPE = 0x88b5; // IEEE local experimental: no protocol claims it, receivers count noproto
const BCAST = "ff:ff:ff:ff:ff:ff";
const MAC = (i: number) => `02:00:00:00:00:0${i}`;
const S = 1_000_000;

function frame(dst: string, src: string, payload = 46): Uint8Array {
  const f = new Uint8Array(14 + payload);
  f.set(parseMac(dst), 0);
  f.set(parseMac(src), 6);
  f[12] = ETYPE >> 8;
  f[13] = ETYPE & 0xff;
  for (let i = 14; i < f.length; i++) f[i] = i & 0xff;
  return f;
}

interface Lab {
  k: Kernel;
  clock: VirtualClock;
  R: Vnet;
  br: Interface;
  /** H ends (in H1..H4), index 1..4; [0] unused. */
  h: Interface[];
  /** Bridge members (the R ends), index 1..4. */
  p: Interface[];
  H: Vnet[];
}

/** A bridge in vnet R with 4 members, each an epair whose other end is alone in vnet Hi. */
async function lab(): Promise<Lab> {
  const k = await Kernel.boot({ config: "BARE" });
  await k.kldload("if_epair");
  await k.kldload("if_bridge");
  const R = k.createVnet("R");
  const [br] = R.ifcreate("bridge");
  br.setUp();
  const h: Interface[] = [];
  const p: Interface[] = [];
  const H: Vnet[] = [];
  for (let i = 1; i <= 4; i++) {
    H[i] = k.createVnet(`H${i}`);
    const [a, b] = k.epair(R, H[i]);
    a.setUp();
    b.setUp();
    b.setMac(MAC(i));
    bridgeAdd(k, br, a);
    p[i] = a;
    h[i] = b;
  }
  return { k, clock: k.clock as VirtualClock, R, br, h, p, H };
}

/** ipackets of H1..H4. */
function rx(l: Lab): number[] {
  return [1, 2, 3, 4].map((i) => l.h[i].counters().ipackets);
}

function table(l: Lab): string[] {
  return bridgeAddrs(l.k, l.br).map((a) => `${a.mac}@${a.port}${a.static ? "/static" : ""}`).sort();
}

describe("if_bridge: cloner and members", () => {
  test("bridge create makes bridgeN, an IFT_BRIDGE interface with its own locally administered MAC", async () => {
    const k = await Kernel.boot({ config: "BARE" });
    await k.kldload("if_bridge");
    const R = k.createVnet("R");
    const [b0] = R.ifcreate("bridge");
    const [b1] = R.ifcreate("bridge");
    assert.deepEqual([b0.name, b1.name, b0.type], ["bridge0", "bridge1", "bridge"]);
    assert.match(b0.mac, /^02:/);
    assert.notEqual(b0.mac, b1.mac);
    assert.equal(b0.running, false, "created down, as FreeBSD");
    b0.setUp();
    assert.ok(b0.running);
    const [b7] = k.vnet0.ifcreate("bridge7");
    assert.equal(b7.name, "bridge7");
    assert.equal(b7.vnet, k.vnet0);
    k.shutdown();
  });

  test("GENERIC loads if_bridge at boot", async () => {
    const k = await Kernel.boot();
    assert.ok(k.kldstat().some((m) => m.name === "if_bridge"));
    k.shutdown();
  });

  test("members go promiscuous while they are members and get their old mode back", async () => {
    const l = await lab();
    const { k, br, p } = l;
    assert.deepEqual(bridgeMembers(k, br).map((i) => i.name), [1, 2, 3, 4].map((i) => p[i].name));
    for (let i = 1; i <= 4; i++) assert.ok(p[i].flags & 0x100, `${p[i].name} PROMISC`);
    bridgeDel(k, br, p[1]);
    assert.equal(p[1].flags & 0x100, 0, "not promiscuous before: not after");
    p[1].setPromisc(true);
    bridgeAdd(k, br, p[1]);
    bridgeDel(k, br, p[1]);
    assert.ok(p[1].flags & 0x100, "promiscuous before: still after");
    assert.deepEqual(bridgeMembers(k, br).map((i) => i.name), [2, 3, 4].map((i) => p[i].name));
    k.shutdown();
  });

  test("adding a member is checked: same vnet, Ethernet, one bridge at a time, matching MTU", async () => {
    const l = await lab();
    const { k, R, br, h, p } = l;
    const err = (re: RegExp) => (e: unknown) => e instanceof ConfigError && re.test(e.message);
    assert.throws(() => bridgeAdd(k, br, h[1]), err(/is in vnet "H1", the bridge in "R"; move it first/));
    assert.throws(() => bridgeAdd(k, br, R.interface("lo0")), err(/only Ethernet interfaces can be members \(it is loopback\)/));
    assert.throws(() => bridgeAdd(k, br, p[1]), err(/already a member of bridge0/));
    const [br1] = R.ifcreate("bridge");
    assert.throws(() => bridgeAdd(k, br1, p[1]), err(/already a member of bridge0/));
    assert.throws(() => bridgeAdd(k, br, br1), err(/only Ethernet interfaces/));
    assert.throws(() => bridgeAdd(k, p[1], p[2]), err(/epair\d+a is not a bridge/));
    assert.throws(() => bridgeDel(k, br1, p[1]), err(/not a member of bridge1/));
    const [x] = k.epair(R, l.H[1]);
    x.setMtu(9000);
    assert.throws(() => bridgeAdd(k, br, x), err(/MTU 9000 differs from the bridge's 1500/));
    bridgeAdd(k, br1, x); // the first member sets the bridge's MTU
    assert.equal(br1.mtu, 9000);
    assert.throws(() => bridgeSetAgeing(k, br, -1), err(/integer from 0 to 1000000/));
    assert.throws(() => bridgeSetMaxAddr(k, br, 0), err(/integer from 1 to 65536/));
    assert.throws(() => bridgeAddStatic(k, br, p[1], "01:00:5e:00:00:01"), err(/multicast address/));
    assert.throws(() => bridgeAddStatic(k, br, p[1], "00:00:00:00:00:00"), err(/all-zero/));
    assert.throws(() => bridgeAddStatic(k, br, p[1], "nope"), err(/MAC address must look like/));
    assert.throws(() => bridgeAddStatic(k, br, x, MAC(9)), err(/is not a member of bridge0/));
    assert.throws(() => bridgeDelAddr(k, br, MAC(9)), err(/no such entry in bridge0/));
    k.shutdown();
  });

  test("the host API names a missing module", async () => {
    const k = await Kernel.boot({ config: "BARE" });
    await k.kldload("if_epair");
    const [a] = k.epair();
    assert.throws(() => bridgeAdd(k, a, a), (e: unknown) => e instanceof ModuleNotLoadedError && /if_bridge module is not loaded/.test(e.message));
    k.shutdown();
  });
});

describe("if_bridge: forwarding and learning", () => {
  test("unknown unicast floods to every other member, learned unicast goes to its port only", async () => {
    const l = await lab();
    const { k, br, h, p } = l;
    assert.equal(h[1].send(frame(MAC(2), MAC(1))), 0);
    assert.deepEqual(rx(l), [0, 1, 1, 1], "flooded to H2..H4, not back to H1");
    assert.equal(h[2].counters().noproto, 1, "H2 took it (its address, no protocol for 0x88b5)");
    assert.equal(h[3].counters().iqdrops, 1, "H3 saw it, not for it");
    let s = bridgeStats(k, br);
    assert.equal(s.flooded, 1);
    assert.equal(s.learned, 1);
    for (const i of [2, 3, 4]) assert.equal(s.ports[p[i].name].flooded, 1);
    assert.equal(s.ports[p[1].name].ipackets, 1);
    assert.equal(s.ports[p[1].name].ibytes, 60);
    assert.deepEqual(table(l), [`${MAC(1)}@${p[1].name}`]);

    // H2 answers: H1's address is known, so only H1 hears it.
    assert.equal(h[2].send(frame(MAC(1), MAC(2))), 0);
    assert.deepEqual(rx(l), [1, 1, 1, 1]);
    assert.equal(h[1].counters().noproto, 1);
    assert.deepEqual(table(l), [`${MAC(1)}@${p[1].name}`, `${MAC(2)}@${p[2].name}`]);

    // Now both are known: H1 -> H2 reaches H2 only, H3 and H4 hear nothing more.
    for (let n = 0; n < 5; n++) h[1].send(frame(MAC(2), MAC(1)));
    assert.deepEqual(rx(l), [1, 6, 1, 1]);
    s = bridgeStats(k, br);
    assert.equal(s.forwarded, 6);
    assert.equal(s.flooded, 1);
    assert.equal(s.ports[p[2].name].opackets, 6);
    assert.equal(s.ports[p[3].name].opackets, 1);
    assert.equal(br.counters().ipackets, 7, "every frame a member hands the bridge counts on bridge0");
    assert.equal(br.counters().opackets, 9, "every frame the bridge puts on a member");
    k.shutdown();
  });

  test("broadcast reaches every other member, the bridge interface and the receiving member", async () => {
    const l = await lab();
    const { k, br, h, p } = l;
    h[3].send(frame(BCAST, MAC(3)));
    assert.deepEqual(rx(l), [1, 1, 0, 1]);
    for (const i of [1, 2, 4]) assert.equal(h[i].counters().noproto, 1, `H${i} took the broadcast`);
    assert.equal(br.counters().noproto, 1, "a copy delivered on bridge0");
    assert.equal(p[3].counters().noproto, 1, "and the frame itself on the member");
    assert.equal(p[1].counters().noproto, 0);
    const s = bridgeStats(k, br);
    assert.equal(s.flooded, 1);
    assert.deepEqual(table(l), [`${MAC(3)}@${p[3].name}`], "the source of a broadcast is learned");
    // A multicast group address floods the same way.
    h[1].send(frame("01:00:5e:00:00:fb", MAC(1)));
    assert.deepEqual(rx(l), [1, 2, 1, 2]);
    k.shutdown();
  });

  test("frames to the bridge's or a member's own address are delivered locally, not forwarded", async () => {
    const l = await lab();
    const { k, br, h, p } = l;
    h[1].send(frame(br.mac, MAC(1)));
    assert.deepEqual(rx(l), [0, 0, 0, 0]);
    assert.equal(br.counters().noproto, 1, "delivered on bridge0 (ether_demux on the bridge interface)");
    h[1].send(frame(p[2].mac, MAC(1)));
    assert.deepEqual(rx(l), [0, 0, 0, 0]);
    assert.equal(p[2].counters().noproto, 1, "delivered on the member that owns the address");
    h[1].send(frame(p[1].mac, MAC(1)));
    assert.equal(p[1].counters().noproto, 1);
    assert.equal(bridgeStats(k, br).local, 3);
    k.shutdown();
  });

  test("a frame for the port it came in on is dropped and counted", async () => {
    const l = await lab();
    const { k, br, h, p } = l;
    h[1].send(frame(MAC(2), MAC(1)));
    // Another station behind port 1 (a hub there) talks to H1: same port, dropped.
    h[1].send(frame(MAC(1), "02:00:00:00:00:99"));
    const s = bridgeStats(k, br);
    assert.equal(s.dropSamePort, 1);
    assert.equal(s.ports[p[1].name].dropped, 1);
    assert.deepEqual(rx(l), [0, 1, 1, 1]);
    k.shutdown();
  });

  test("a station that moves is learned on its new port", async () => {
    const l = await lab();
    const { k, br, h, p } = l;
    h[1].send(frame(BCAST, MAC(1)));
    h[2].send(frame(BCAST, MAC(1))); // MAC(1) now speaks from behind port 2
    assert.deepEqual(table(l), [`${MAC(1)}@${p[2].name}`]);
    assert.equal(bridgeStats(k, br).moved, 1);
    const before = rx(l);
    h[3].send(frame(MAC(1), MAC(3)));
    assert.deepEqual(rx(l), [before[0], before[1] + 1, before[2], before[3]]);
    k.shutdown();
  });

  test("the bridge interface's own output floods or forwards as from a port of its own, without learning", async () => {
    const l = await lab();
    const { k, br, h } = l;
    assert.equal(br.send(frame(MAC(3), br.mac)), 0);
    assert.deepEqual(rx(l), [1, 1, 1, 1], "unknown: flooded to every member");
    h[3].send(frame(br.mac, MAC(3)));
    assert.equal(br.send(frame(MAC(3), br.mac)), 0);
    assert.deepEqual(rx(l), [1, 1, 2, 1], "known: its port only");
    assert.equal(br.counters().opackets, 2, "counted once by ether_output_frame");
    assert.ok(!table(l).some((e) => e.startsWith(br.mac)), "the bridge's own address is not learned");
    // Bad source from the bridge itself: dropped and counted.
    assert.notEqual(br.send(frame(MAC(3), "00:00:00:00:00:00")), 0);
    assert.equal(bridgeStats(k, br).dropBad, 1);
    assert.deepEqual(rx(l), [1, 1, 2, 1]);
    k.shutdown();
  });

  test("a bridge that is down leaves its members as plain interfaces", async () => {
    const l = await lab();
    const { k, br, h, p } = l;
    br.setDown();
    h[1].send(frame(BCAST, MAC(1)));
    assert.deepEqual(rx(l), [0, 0, 0, 0]);
    assert.equal(p[1].counters().noproto, 1);
    assert.deepEqual(table(l), []);
    br.setUp();
    h[1].send(frame(BCAST, MAC(1)));
    assert.deepEqual(rx(l), [0, 1, 1, 1]);
    k.shutdown();
  });

  test("members that are down are skipped when flooding", async () => {
    const l = await lab();
    const { k, br, h, p } = l;
    p[4].setDown();
    h[1].send(frame(BCAST, MAC(1)));
    assert.deepEqual(rx(l), [0, 1, 1, 0]);
    assert.equal(bridgeStats(k, br).ports[p[4].name].oerrors, 0);
    k.shutdown();
  });
});

describe("if_bridge: address table", () => {
  test("entries age out after the ageing time and unicast floods again", async () => {
    const l = await lab();
    const { k, clock, br, h } = l;
    assert.equal(bridgeStats(k, br).ageingS, 1200, "net.link.bridge default");
    h[1].send(frame(MAC(2), MAC(1)));
    h[2].send(frame(MAC(1), MAC(2)));
    assert.equal(bridgeAddrs(k, br).length, 2);
    assert.deepEqual(bridgeAddrs(k, br).map((a) => a.expiresInS), [1200, 1200]);
    clock.advance(600 * S);
    h[1].send(frame(MAC(2), MAC(1))); // refreshes MAC(1) only
    assert.deepEqual(rx(l), [1, 2, 1, 1]);
    const exp = Object.fromEntries(bridgeAddrs(k, br).map((a) => [a.mac, a.expiresInS]));
    assert.deepEqual(exp, { [MAC(1)]: 1200, [MAC(2)]: 600 });
    clock.advance(601 * S);
    assert.deepEqual(table(l).map((e) => e.split("@")[0]), [MAC(1)], "MAC(2) aged out");
    assert.equal(bridgeStats(k, br).expired, 1);
    h[1].send(frame(MAC(2), MAC(1)));
    assert.deepEqual(rx(l), [1, 3, 2, 2], "H2 is unknown again: flooded");
    clock.advance(1200 * S);
    assert.deepEqual(table(l), []);
    assert.equal(bridgeStats(k, br).addresses, 0);
    assert.equal(k.k.callout_pending_count(), 0, "an empty table keeps no timer");
    k.shutdown();
  });

  test("a shorter ageing time applies to the entries already learned; 0 learns nothing", async () => {
    const l = await lab();
    const { k, clock, br, h } = l;
    h[1].send(frame(BCAST, MAC(1)));
    clock.advance(20 * S);
    bridgeSetAgeing(k, br, 30);
    assert.deepEqual(bridgeAddrs(k, br).map((a) => a.expiresInS), [10]);
    clock.advance(10 * S);
    assert.deepEqual(table(l), []);
    bridgeSetAgeing(k, br, 0);
    h[1].send(frame(BCAST, MAC(1)));
    assert.deepEqual(table(l), [], "hub mode");
    h[2].send(frame(MAC(1), MAC(2)));
    assert.deepEqual(rx(l), [1, 2, 3, 3], "everything floods");
    k.shutdown();
  });

  test("static entries never age, never move, and go only with flushall", async () => {
    const l = await lab();
    const { k, clock, br, h, p } = l;
    bridgeAddStatic(k, br, p[4], MAC(4));
    h[1].send(frame(MAC(4), MAC(1)));
    assert.deepEqual(rx(l), [0, 0, 0, 1], "forwarded by the static entry, never flooded");
    clock.advance(5000 * S);
    assert.deepEqual(table(l), [`${MAC(4)}@${p[4].name}/static`]);
    assert.equal(bridgeAddrs(k, br)[0].expiresInS, 0);
    h[2].send(frame(BCAST, MAC(4))); // MAC(4) claimed from port 2: the static entry holds
    assert.deepEqual(table(l), [`${MAC(4)}@${p[4].name}/static`]);
    h[1].send(frame(MAC(3), MAC(1)));
    assert.equal(bridgeFlush(k, br), 1, "flush: the dynamic entry");
    assert.deepEqual(table(l), [`${MAC(4)}@${p[4].name}/static`]);
    assert.equal(bridgeFlush(k, br, { all: true }), 1, "flushall: the static one too");
    assert.deepEqual(table(l), []);
    bridgeAddStatic(k, br, p[3], MAC(3));
    bridgeDelAddr(k, br, MAC(3));
    assert.deepEqual(table(l), []);
    k.shutdown();
  });

  test("maxaddr bounds the table: a full table learns nothing, a lower maxaddr trims it", async () => {
    const l = await lab();
    const { k, br, h } = l;
    bridgeSetMaxAddr(k, br, 2);
    for (let i = 1; i <= 4; i++) h[i].send(frame(BCAST, MAC(i)));
    let s = bridgeStats(k, br);
    assert.equal(s.addresses, 2);
    assert.equal(s.tableFull, 2);
    bridgeSetMaxAddr(k, br, 1);
    assert.equal(bridgeStats(k, br).addresses, 1);
    bridgeSetMaxAddr(k, br, 4096);
    for (let i = 1; i <= 4; i++) h[i].send(frame(BCAST, MAC(i)));
    s = bridgeStats(k, br);
    assert.equal(s.addresses, 4);
    k.shutdown();
  });

  test("thousands of addresses: hashed, listed in pages, all found", async () => {
    const l = await lab();
    const { k, br, h, p } = l;
    const n = 3000;
    for (let i = 0; i < n; i++) {
      const mac = `02:10:${((i >> 8) & 0xff).toString(16).padStart(2, "0")}:${(i & 0xff).toString(16).padStart(2, "0")}:00:01`;
      h[1 + (i % 4)].send(frame(BCAST, mac));
    }
    const addrs = bridgeAddrs(k, br);
    assert.equal(addrs.length, n);
    assert.equal(new Set(addrs.map((a) => a.mac)).size, n);
    assert.ok(addrs.every((a) => a.port === p[1 + (parseInt(a.mac.slice(6, 8) + a.mac.slice(9, 11), 16) % 4)].name));
    // Every one of them is now a known unicast destination: no flooding.
    const f0 = bridgeStats(k, br).flooded;
    h[1].send(frame(addrs[0].mac, MAC(1)));
    assert.equal(bridgeStats(k, br).flooded, f0);
    k.shutdown();
  });

  test("ifconfig bridge0 addr and ifconfig bridge0 text", async () => {
    const l = await lab();
    const { k, br, h, p } = l;
    h[1].send(frame(BCAST, MAC(1)));
    bridgeAddStatic(k, br, p[2], MAC(2));
    const lines = bridgeAddrText(k, br).split("\n").sort();
    assert.deepEqual(lines, [`${MAC(1)} Vlan1 ${p[1].name} 1200 flags=0<>`, `${MAC(2)} Vlan1 ${p[2].name} 0 flags=1<STATIC>`]);
    const text = bridgeText(k, br);
    assert.match(text, /^bridge0: flags=[0-9a-f]+<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST> mtu 1500\n\tether 02:/);
    assert.match(text, /maxaddr 4096 timeout 1200 addresses 2 \(1 static\)/);
    assert.match(text, new RegExp(`member: ${p[1].name} flags=3<LEARNING,DISCOVER>\\n\\t +in 1 packets 60 bytes 0 dropped`));
    k.shutdown();
  });
});

describe("if_bridge: members leaving, bad input, teardown", () => {
  test("removing a member forgets its addresses (static ones too)", async () => {
    const l = await lab();
    const { k, br, h, p } = l;
    for (let i = 1; i <= 4; i++) h[i].send(frame(BCAST, MAC(i)));
    bridgeAddStatic(k, br, p[2], "02:00:00:00:00:22");
    bridgeDel(k, br, p[2]);
    assert.ok(!table(l).some((e) => e.includes(`@${p[2].name}`)));
    assert.equal(table(l).length, 3);
    assert.equal(bridgeStats(k, br).members, 3);
    const before = rx(l);
    h[1].send(frame(MAC(2), MAC(1)));
    assert.deepEqual(rx(l), [before[0], before[1], before[2] + 1, before[3] + 1], "H2 is no longer reachable");
    k.shutdown();
  });

  test("a member moved to another vnet or destroyed leaves the bridge (departure event)", async () => {
    const l = await lab();
    const { k, br, h, p, H } = l;
    for (let i = 1; i <= 4; i++) h[i].send(frame(BCAST, MAC(i)));
    const p3 = p[3].name;
    p[3].moveTo(H[1]);
    assert.deepEqual(bridgeMembers(k, br).map((i) => i.name), [p[1].name, p[2].name, p[4].name]);
    assert.ok(!table(l).some((e) => e.includes(`@${p3}`)));
    assert.equal(p[3].flags & 0x100, 0, "promiscuous mode restored");
    p[4].destroy(); // the whole epair goes
    assert.deepEqual(bridgeMembers(k, br).map((i) => i.name), [p[1].name, p[2].name]);
    assert.equal(table(l).length, 2);
    // Moving back does not make it a member again.
    p[3].moveTo(l.R);
    assert.equal(bridgeStats(k, br).members, 2);
    bridgeAdd(k, br, p[3]);
    assert.equal(bridgeStats(k, br).members, 3);
    k.shutdown();
  });

  test("runts and zero or multicast sources are dropped before the bridge and never learned", async () => {
    const l = await lab();
    const { k, br, h, p, R } = l;
    const e0 = R.etherStats();
    h[1].send(frame(MAC(2), "00:00:00:00:00:00"));
    h[1].send(frame(MAC(2), "01:00:5e:00:00:01"));
    assert.equal(p[1].receive(new Uint8Array(10).fill(0x55)), 0);
    assert.equal(p[1].receive(frame(MAC(2), MAC(1)).subarray(0, 13)), 0);
    const e1 = R.etherStats();
    assert.equal(e1.badsrc - e0.badsrc, 2);
    assert.equal(e1.runt - e0.runt, 2);
    assert.equal(p[1].counters().ierrors, 4);
    assert.deepEqual(rx(l), [0, 0, 0, 0]);
    assert.deepEqual(table(l), []);
    assert.equal(bridgeStats(k, br).ports[p[1].name].ipackets, 0);
    // A runt from a host never leaves it.
    assert.notEqual(h[1].send(new Uint8Array(10)), 0);
    assert.equal(h[1].counters().oerrors, 1);
    k.shutdown();
  });

  test("a frame with one of the bridge's own addresses as source is dropped, not learned", async () => {
    const l = await lab();
    const { k, br, h, p } = l;
    h[1].send(frame(BCAST, br.mac));
    h[1].send(frame(BCAST, p[3].mac));
    assert.deepEqual(rx(l), [0, 0, 0, 0]);
    assert.deepEqual(table(l), []);
    const s = bridgeStats(k, br);
    assert.equal(s.dropLoop, 2);
    assert.equal(s.ports[p[1].name].dropped, 2);
    k.shutdown();
  });

  test("a loop of two bridges storms without overflowing the stack, and stops when the loop is cut", async () => {
    const k = await Kernel.boot({ config: "BARE" });
    await k.kldload("if_epair");
    await k.kldload("if_bridge");
    const clock = k.clock as VirtualClock;
    const A = k.createVnet("A");
    const B = k.createVnet("B");
    const H = k.createVnet("H");
    const [ba] = A.ifcreate("bridge");
    const [bb] = B.ifcreate("bridge");
    ba.setUp();
    bb.setUp();
    const links = [k.epair(A, B), k.epair(A, B)];
    for (const [a, b] of links) {
      a.setUp();
      b.setUp();
      bridgeAdd(k, ba, a);
      bridgeAdd(k, bb, b);
    }
    const [ha, hb] = k.epair(A, H);
    ha.setUp();
    hb.setUp();
    bridgeAdd(k, ba, ha);
    hb.send(frame(BCAST, MAC(1)));
    clock.advance(100);
    const heard = hb.counters().ipackets;
    assert.ok(heard > 10, `the broadcast keeps coming back (${heard})`);
    bridgeDel(k, bb, links[1][1]);
    clock.runUntilIdle();
    const after = hb.counters().ipackets;
    clock.advance(1000);
    assert.equal(hb.counters().ipackets, after, "quiet once the loop is cut");
    k.shutdown();
  });

  test("destroying the bridge releases its members", async () => {
    const l = await lab();
    const { k, br, h, p } = l;
    h[1].send(frame(BCAST, MAC(1)));
    br.destroy();
    for (let i = 1; i <= 4; i++) assert.equal(p[i].flags & 0x100, 0);
    const [b2] = l.R.ifcreate("bridge");
    b2.setUp();
    bridgeAdd(k, b2, p[1]); // free to join another bridge
    assert.equal(b2.name, "bridge0", "the unit is free again");
    k.shutdown();
  });

  test("destroying the bridge and every vnet leaves no items, pages or callouts behind", async () => {
    const k = await Kernel.boot({ config: "BARE" });
    await k.kldload("if_epair");
    await k.kldload("if_bridge");
    k.reclaim();
    const before = snapshot(k);
    const heapTop = () => k.module<{ kmod_heap_top(): number }>("if_bridge").kmod_heap_top();
    const top0 = heapTop();
    for (let round = 0; round < 3; round++) {
      const R = k.createVnet("R");
      const [br] = R.ifcreate("bridge");
      br.setUp();
      const hs: Interface[] = [];
      const Hs: Vnet[] = [];
      for (let i = 1; i <= 4; i++) {
        const H = k.createVnet(`H${i}`);
        const [a, b] = k.epair(R, H);
        a.setUp();
        b.setUp();
        b.setMac(MAC(i));
        bridgeAdd(k, br, a);
        hs.push(b);
        Hs.push(H);
      }
      for (let i = 0; i < 4; i++) hs[i].send(frame(BCAST, MAC(i + 1)));
      for (let i = 0; i < 100; i++) hs[i % 4].send(frame(MAC(((i + 1) % 4) + 1), MAC((i % 4) + 1), 1400));
      bridgeAddStatic(k, br, bridgeMembers(k, br)[0], "02:00:00:00:00:77");
      assert.ok(R.accounting().items["bridge_rtnode"] >= 4, "entries are charged to the bridge's vnet");
      assert.equal(R.accounting().items["bridge_softc"], 1);
      if (round === 0) br.destroy(); // explicitly, then the vnet
      R.destroy(); // round 1, 2: the bridge goes with its vnet (its members go home first)
      for (const H of Hs) H.destroy();
    }
    for (const z of k.vmstatZ().filter((z) => z.name.startsWith("bridge"))) assert.equal(z.used, 0, z.name);
    assert.equal(heapTop(), top0, "no managed allocation in the module");
    // The epairs were made in vnet0 and went home there; they go last.
    for (const i of k.vnet0.interfaces().filter((i) => i.name.startsWith("epair"))) if (i.alive) i.destroy();
    k.reclaim();
    assert.deepEqual(snapshot(k), before);
    k.kldunload("if_bridge");
    k.shutdown();
  });

  test("kldunload is refused while bridges exist; forced, it destroys them and leaves nothing", async () => {
    const k = await Kernel.boot({ config: "BARE" });
    await k.kldload("if_epair");
    k.reclaim();
    const before = snapshot(k);
    await k.kldload("if_bridge");
    const R = k.createVnet("R");
    const H = k.createVnet("H");
    const [br] = R.ifcreate("bridge");
    br.setUp();
    const [a, b] = k.epair(R, H);
    a.setUp();
    b.setUp();
    bridgeAdd(k, br, a);
    b.send(frame(BCAST, MAC(1)));
    assert.throws(() => k.kldunload("if_bridge"), ModuleBusyError);
    // A bridge moved out of its vnet loses its members (FreeBSD's bridge_reassign).
    br.moveTo(H);
    assert.equal(a.flags & 0x100, 0);
    br.moveTo(R);
    bridgeAdd(k, br, a);
    k.kldunload("if_bridge", { force: true });
    assert.equal(br.alive, false);
    assert.equal(a.flags & 0x100, 0, "member released");
    const np = a.counters().noproto;
    b.send(frame(BCAST, MAC(1))); // the hook is gone: plain Ethernet input
    assert.equal(a.counters().noproto, np + 1);
    a.destroy();
    R.destroy();
    H.destroy();
    k.reclaim();
    assert.deepEqual(snapshot(k), before);
    k.shutdown();
  });
});

// A MAC address flood (macof, issue 14): a full table does not evict, it stops learning
// (FreeBSD's bridge_rtupdate: ENOSPC, brtexceeded), so hosts learned before keep being
// forwarded to their port; a host that appears during the flood is reached by flooding.
describe("if_bridge: address flood", () => {
  test("100,000 source addresses: the table stays at maxaddr, the rest counted in tableFull, memory bounded; hosts learned before are forwarded, not flooded; a new host works by flooding; ageing frees it all", async () => {
    const N = 100_000;
    const l = await lab();
    const { k, clock, R, br, h, p } = l;
    const maxaddr = bridgeStats(k, br).maxAddresses;
    assert.equal(maxaddr, 4096);
    h[1].send(frame(BCAST, MAC(1)));
    h[2].send(frame(BCAST, MAC(2)));
    const pinned0 = R.accounting().pinnedBytes;
    const rx0 = rx(l);
    const flooded0 = bridgeStats(k, br).flooded;
    // Distinct, unicast, locally administered sources (a bijection of i), random-looking
    // destinations nobody has: every flood frame is flooded to ports 1, 2 and 4.
    const mac = (i: number) => {
      const x = Math.imul(i + 1, 0x9e3779b1) >>> 0;
      return `06:${[x >>> 24, (x >>> 16) & 255, (x >>> 8) & 255, x & 255, i & 255].map((b) => b.toString(16).padStart(2, "0")).join(":")}`;
    };
    let legit = 0;
    let peakPinned = 0;
    for (let i = 0; i < N; i++) {
      h[3].send(frame(mac(N + i), mac(i)));
      if (i % 1000 === 999) {
        // Between the flood's frames H1 and H2 talk: each frame reaches its port alone.
        const f1 = bridgeStats(k, br).flooded;
        h[1].send(frame(MAC(2), MAC(1)));
        h[2].send(frame(MAC(1), MAC(2)));
        assert.equal(bridgeStats(k, br).flooded, f1, `forwarded, not flooded (after ${i + 1} flood frames)`);
        legit++;
        peakPinned = Math.max(peakPinned, R.accounting().pinnedBytes - pinned0);
      }
    }
    let s = bridgeStats(k, br);
    assert.equal(s.addresses, maxaddr, "the table stays at maxaddr");
    assert.equal(s.learned, maxaddr, "2 hosts, then flood sources until it was full");
    assert.equal(s.tableFull, N - (maxaddr - 2), "every source after that counted, none learned");
    assert.equal(s.flooded - flooded0, N);
    const d = rx(l).map((n, i) => n - rx0[i]);
    assert.deepEqual(d, [N + legit, N + legit, 0, N], "H3 got nothing back; H4 only the flood; H1 and H2 the flood and each other's frames");
    assert.equal(R.accounting().items["bridge_rtnode"], maxaddr);
    assert.ok(peakPinned <= maxaddr * 64 + 16 * 4096, `the table pinned ${peakPinned} bytes at most (${maxaddr} entries)`);
    // A host new to the bridge (MAC(4) never seen) is not learned while the table is full:
    // frames to it flood, and it still gets them; its frames to a learned host are forwarded.
    const r1 = rx(l);
    h[4].send(frame(MAC(1), MAC(4)));
    h[1].send(frame(MAC(4), MAC(1)));
    assert.deepEqual(rx(l).map((n, i) => n - r1[i]), [1, 1, 1, 1], "H4's frame forwarded to H1; H1's answer flooded to H2, H3, H4");
    assert.ok(!table(l).some((e) => e.startsWith(MAC(4))), "not learned");
    assert.equal(bridgeStats(k, br).tableFull, s.tableFull + 1);
    // Ageing frees every entry (and the memory), after which the new host is learned.
    clock.advance(1201 * S);
    s = bridgeStats(k, br);
    assert.equal(s.addresses, 0);
    assert.equal(R.accounting().items["bridge_rtnode"] ?? 0, 0, "every entry's item freed");
    h[4].send(frame(MAC(1), MAC(4)));
    assert.deepEqual(table(l), [`${MAC(4)}@${p[4].name}`]);
    k.shutdown();
  });
});
