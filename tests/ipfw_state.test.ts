import { test, describe } from "node:test";
import assert from "node:assert/strict";
import type { Kernel, Vnet, Interface } from "../host/index.js";
import { ipfwAdd, ipfwList, ipfwStats, ipfwStates, ipfwSet, ipfwGet, ipfwSetDefault, ipfwGauges, ipfwDelete, ipfwFlush } from "../host/admin/ipfw.js";
import { socket } from "../host/sockets/socket.js";
import { ether, ipPacket } from "./helpers/inet.js";
import { M, A_, rule, lab, pingOk, udpOk, tcpOk, clock } from "./helpers/ipfw.js";

const S = 1_000_000;
const ND = [M.icmp6types([133, 134, 135, 136])];

/** A's firewall: default deny, ND allowed, and `allow <proto> from me to any keep-state` (with the probe first, as ipfw compiles it). */
function statefulA(l: Awaited<ReturnType<typeof lab>>, proto: number, probe = true): void {
  ipfwSetDefault(l.k, l.A, false);
  ipfwAdd(l.k, l.A, rule(10, ND, [A_.accept]));
  ipfwAdd(l.k, l.A, rule(100, [...(probe ? [M.probe()] : []), M.proto(proto), M.srcMe(), M.keep()], [A_.accept]));
}

/** A datagram from `from` (port sport) to dst:dport, and the answer back; which arrived. */
function udpExchange(k: Kernel, from: Vnet, to: Vnet, dst: string, dport: number, sport: number): { there: boolean; back: boolean } {
  const six = dst.includes(":");
  const srv = socket(k, to, six ? "inet6" : "inet", "dgram", 17).bind(six ? "::" : "0.0.0.0", dport);
  const cli = socket(k, from, six ? "inet6" : "inet", "dgram", 17).bind(six ? "::" : "0.0.0.0", sport);
  try {
    try {
      cli.sendto("q", dst, dport);
    } catch {
      return { there: false, back: false }; // EACCES: our own firewall took it on output
    }
    clock(k).advance(10_000);
    const d = srv.recvfrom();
    if (!d) return { there: false, back: false };
    srv.sendto("a", d.address!);
    clock(k).advance(10_000);
    return { there: true, back: cli.recvfrom() !== null };
  } finally {
    cli.close();
    srv.close();
  }
}

describe("ipfw keep-state", () => {
  test("one state per flow: a later keep-state in the same walk (after a state's count let it go on) installs no second one, as FreeBSD's install looks first", async () => {
    const l = await lab();
    ipfwSetDefault(l.k, l.A, false);
    ipfwAdd(l.k, l.A, rule(10, ND, [A_.accept]));
    ipfwAdd(l.k, l.A, rule(100, [M.probe(), M.proto(17), M.srcMe(), M.keep()], [A_.count]));
    ipfwAdd(l.k, l.A, rule(200, [M.probe(), M.proto(17), M.srcMe(), M.keep()], [A_.accept]));
    for (let i = 0; i < 3; i++) assert.equal(udpExchange(l.k, l.A, l.B, "10.0.0.2", 7, 5009).there, true, `datagram ${i}`);
    const st = ipfwStates(l.k, l.A).filter((s) => s.proto === 17);
    // Three datagrams out and three answers in: each answer's probe finds the state (and
    // counts it), whose rule's count lets the walk go on to the default deny.
    assert.deepEqual(st.map((s) => `${s.src}:${s.sport} ${s.dst}:${s.dport} r${s.rulenum} p${s.packets}`), ["10.0.0.1:5009 10.0.0.2:7 r100 p6"]);
  });

  test("UDP both families: the reply comes in by the state; without the rule it does not; the state expires after dyn_udp_lifetime", async () => {
    const l = await lab();
    ipfwSetDefault(l.k, l.A, false);
    ipfwAdd(l.k, l.A, rule(10, ND, [A_.accept]));
    assert.deepEqual(udpExchange(l.k, l.A, l.B, "10.0.0.2", 7, 5000), { there: false, back: false }, "default deny");
    statefulA(l, 17);
    for (const dst of ["10.0.0.2", "fd00:0::2"]) assert.deepEqual(udpExchange(l.k, l.A, l.B, dst, 7, 5001), { there: true, back: true }, dst);
    const st = ipfwStates(l.k, l.A);
    assert.equal(st.length, 2);
    assert.deepEqual(st.map((s) => `${s.family} ${s.proto} ${s.src}:${s.sport} ${s.dst}:${s.dport} r${s.rulenum} p${s.packets}`).sort(), [
      "4 17 10.0.0.1:5001 10.0.0.2:7 r100 p2", "6 17 fd00::1:5001 fd00::2:7 r100 p2",
    ]);
    assert.ok(st.every((s) => s.expiresInMs > 9_000 && s.expiresInMs <= 10_000), "dyn_udp_lifetime 10 s");
    // B answering on the same flow after 11 s of silence: the state is gone.
    const srv = socket(l.k, l.B, "inet", "dgram", 17).bind("0.0.0.0", 7);
    const cli = socket(l.k, l.A, "inet", "dgram", 17).bind("0.0.0.0", 5001);
    clock(l.k).advance(11 * S);
    assert.equal(ipfwStates(l.k, l.A).length, 0);
    assert.equal(ipfwStats(l.k, l.A).dynExpired, 2, "the callout freed both");
    srv.sendto("late", "10.0.0.1", 5001);
    clock(l.k).advance(10_000);
    assert.equal(cli.recvfrom(), null, "expired: denied");
    cli.close();
    srv.close();
    l.k.shutdown();
  });

  test("ICMP echo with keep-state; explicit check-state rule before a keep-state rule without a probe", async () => {
    const l = await lab();
    ipfwSetDefault(l.k, l.A, false);
    ipfwAdd(l.k, l.A, rule(10, ND, [A_.accept]));
    assert.equal(await pingOk(l.k, l.A, "10.0.0.2"), false);
    ipfwAdd(l.k, l.A, rule(50, [], [A_.checkState]));
    ipfwAdd(l.k, l.A, rule(100, [M.icmptypes([8]), M.keep()], [A_.accept]));
    ipfwAdd(l.k, l.A, rule(110, [M.icmp6types([128]), M.keep()], [A_.accept]));
    assert.equal(await pingOk(l.k, l.A, "10.0.0.2"), true);
    assert.equal(await pingOk(l.k, l.A, "fd00:0::2"), true);
    const c = Object.fromEntries(ipfwList(l.k, l.A).map((r) => [r.rulenum, r.packets]));
    assert.equal(c[100], 2, "the request made the state; the reply counted on its rule");
    assert.equal(c[50], 0, "check-state is not counted itself");
    // Short lifetime (5 s) for ICMP.
    assert.ok(ipfwStates(l.k, l.A).every((s) => s.expiresInMs <= 5_000));
    l.k.shutdown();
  });

  test("TCP: the connection works through the state; its state follows SYN, FIN and the lifetimes", async () => {
    const l = await lab();
    statefulA(l, 6);
    const lsn = socket(l.k, l.B, "inet", "stream").bind("0.0.0.0", 80).listen(4);
    const cli = socket(l.k, l.A, "inet", "stream");
    try { cli.connect("10.0.0.2", 80); } catch { /* in progress */ }
    let srv = null;
    for (let i = 0; i < 20 && !srv; i++) {
      clock(l.k).advance(10_000);
      srv = lsn.accept();
    }
    assert.ok(srv, "connected through the state");
    cli.send("hello");
    clock(l.k).advance(100_000);
    assert.equal(new TextDecoder().decode(srv!.recv()!), "hello");
    srv!.send("world");
    clock(l.k).advance(100_000);
    assert.equal(new TextDecoder().decode(cli.recv()!), "world");
    let [s] = ipfwStates(l.k, l.A);
    assert.equal(s.tcpState, 0x0202, "SYN seen both ways");
    assert.ok(s.expiresInMs > 299_000, "dyn_ack_lifetime 300 s");
    cli.close();
    srv!.close();
    clock(l.k).advance(200_000);
    [s] = ipfwStates(l.k, l.A);
    assert.equal(s.tcpState & 0x0101, 0x0101, "FIN both ways");
    assert.ok(s.expiresInMs <= 1_000, "dyn_fin_lifetime 1 s");
    clock(l.k).advance(2 * S);
    assert.equal(ipfwStates(l.k, l.A).length, 0);
    lsn.close();
    // An idle established connection's state goes after dyn_ack_lifetime (shortened here);
    // B's next segment to A is then refused by A's default rule.
    ipfwSet(l.k, l.A, "dyn_ack_lifetime", 30);
    const lsn2 = socket(l.k, l.B, "inet", "stream").bind("0.0.0.0", 81).listen(4);
    const cli2 = socket(l.k, l.A, "inet", "stream");
    try { cli2.connect("10.0.0.2", 81); } catch { /* in progress */ }
    let srv2 = null;
    for (let i = 0; i < 20 && !srv2; i++) {
      clock(l.k).advance(10_000);
      srv2 = lsn2.accept();
    }
    assert.ok(srv2);
    assert.equal(ipfwStates(l.k, l.A).length, 1);
    clock(l.k).advance(29 * S);
    assert.equal(ipfwStates(l.k, l.A).length, 1, "not before 30 s");
    clock(l.k).advance(2 * S);
    assert.equal(ipfwStates(l.k, l.A).length, 0, "idle for dyn_ack_lifetime: gone");
    const denied = ipfwList(l.k, l.A).at(-1)!.packets;
    srv2!.send("late");
    clock(l.k).advance(100_000);
    assert.equal(cli2.recv(), null);
    assert.ok(ipfwList(l.k, l.A).at(-1)!.packets > denied, "the default rule dropped it");
    l.k.shutdown();
  });

  test("deleting the rule deletes its states; flush takes them all", async () => {
    const l = await lab();
    statefulA(l, 17);
    for (let p = 6000; p < 6010; p++) assert.equal(udpExchange(l.k, l.A, l.B, "10.0.0.2", 7, p).back, true);
    assert.equal(ipfwGauges(l.k, l.A).states, 10);
    assert.equal(ipfwDelete(l.k, l.A, 100), 1);
    assert.equal(ipfwGauges(l.k, l.A).states, 0);
    statefulA(l, 17);
    udpExchange(l.k, l.A, l.B, "10.0.0.2", 7, 6000);
    ipfwFlush(l.k, l.A);
    assert.equal(ipfwGauges(l.k, l.A).states, 0);
    l.k.shutdown();
  });
});

describe("ipfw: the state table is per vnet", () => {
  test("A's table full (dyn_max 5): A's new flows denied and counted; C's firewall and flows untouched", async () => {
    const l = await lab();
    statefulA(l, 17);
    ipfwSetDefault(l.k, l.C, false);
    ipfwAdd(l.k, l.C, rule(10, ND, [A_.accept]));
    ipfwAdd(l.k, l.C, rule(100, [M.probe(), M.proto(17), M.srcMe(), M.keep()], [A_.accept]));
    ipfwSet(l.k, l.A, "dyn_max", 5);
    assert.equal(ipfwGet(l.k, l.A, "dyn_max"), 5);
    assert.equal(ipfwGet(l.k, l.C, "dyn_max"), 16384);
    const a = Array.from({ length: 10 }, (_, i) => udpExchange(l.k, l.A, l.B, "10.0.0.2", 7, 7000 + i).there);
    assert.deepEqual(a, [true, true, true, true, true, false, false, false, false, false]);
    assert.equal(ipfwStats(l.k, l.A).dynFull, 5);
    const c = Array.from({ length: 10 }, (_, i) => udpExchange(l.k, l.C, l.B, "10.0.1.2", 7, 7000 + i));
    assert.ok(c.every((x) => x.there && x.back), "C keeps its own table");
    assert.equal(ipfwGauges(l.k, l.C).states, 10);
    assert.equal(ipfwStats(l.k, l.C).dynFull, 0);
    l.k.shutdown();
  });
});

/** n datagrams into B from A's address with source ports 1024.. (one state each on B). */
function flood(l: Awaited<ReturnType<typeof lab>>, n: number, into: Interface = l.ba): void {
  for (let i = 0; i < n; i++) {
    const sport = 1024 + i;
    const udp = Uint8Array.from([sport >> 8, sport & 255, 0, 9, 0, 12, 0, 0, 1, 2, 3, 4]);
    into.receive(ether(l.a, into, 0x0800, ipPacket({ src: "10.0.0.1", dst: "10.0.0.2", proto: 17, id: i & 0xffff, payload: udp })));
  }
}

describe("ipfw teardown", () => {
  test("kldunload with rules and 5,000 states in two vnets: nothing left (items, pages, callouts, hooks)", async () => {
    const l = await lab();
    for (const v of [l.B, l.C]) {
      ipfwAdd(l.k, v, rule(100, [M.proto(17), M.dstMe(), M.keep()], [A_.accept]));
      for (let i = 0; i < 50; i++) ipfwAdd(l.k, v, rule(200 + i, [M.dport([[i, i]])], [A_.count]));
    }
    ipfwSet(l.k, l.B, "dyn_max", 100000);
    flood(l, 5000);
    assert.equal(ipfwGauges(l.k, l.B).states, 5000);
    const items = (v: Vnet) => Object.entries(v.accounting().items).filter(([n]) => n.startsWith("ipfw") || n === "pfil_hook");
    assert.ok(items(l.B).length > 0);
    const pagesB = l.B.accounting().pages;
    l.k.kldunload("ipfw");
    for (const v of [l.A, l.B, l.C]) assert.deepEqual(items(v), [], v.name);
    assert.ok(l.B.accounting().pages < pagesB, "the hash page went back");
    assert.equal(l.k.k.callout_check(), 0);
    assert.ok(await pingOk(l.k, l.A, "10.0.0.2"), "no hook left: traffic flows");
    // Load again: every live vnet gets an empty firewall.
    await l.k.kldload("ipfw");
    assert.equal(ipfwGauges(l.k, l.B).rules, 0);
    assert.equal(ipfwGauges(l.k, l.B).hookedInet6, true);
    for (const v of [l.A, l.B, l.C]) ipfwSetDefault(l.k, v, true);
    for (const v of [l.A, l.B, l.C]) v.destroy();
    l.k.shutdown();
  });

  test("destroying a vnet with rules, states and a log: zero items, zero pages, no callout", async () => {
    const l = await lab();
    l.k.reclaim();
    const before = l.k.accounting().pagesInUse;
    for (let round = 0; round < 2; round++) {
      const V = l.k.createVnet("V");
      const [a, b] = l.k.epair(l.A, V);
      a.setUp();
      b.setUp();
      ipfwSetDefault(l.k, V, true);
      ipfwAdd(l.k, V, rule(100, [M.proto(17), M.keep()], [A_.log(), A_.accept]));
      flood({ ...l, a, ba: b } as any, 300, b);
      assert.equal(ipfwGauges(l.k, V).states, 300);
      assert.ok(ipfwGauges(l.k, V).logged > 0);
      V.destroy(); // LeakError names anything left
    }
    l.k.reclaim();
    assert.equal(l.k.accounting().pagesInUse, before);
    assert.equal(l.k.k.callout_check(), 0);
    l.k.shutdown();
  });
});
