import { test, describe } from "node:test";
import assert from "node:assert/strict";
import type { Kernel, Vnet } from "../host/index.js";
import { ipfwAdd, ipfwFlush, ipfwList, ipfwStats } from "../host/admin/ipfw.js";
import { M, A_, I, F_OR, F_NOT, TH, rule, lab, pingOk, udpOk, tcpOk, type Insn } from "./helpers/ipfw.js";

// Every match opcode of docs/ipfw_insn.md, on the firewall of B (in and out heads): a rule
// "100 deny <match>" (the default accepts) must stop traffic the match describes and let
// other traffic through, over real packets between vnets.

type L = Awaited<ReturnType<typeof lab>>;
type Probe = (l: L) => Promise<boolean> | boolean;

const ping4A: Probe = (l) => pingOk(l.k, l.A, "10.0.0.2");
const ping4C: Probe = (l) => pingOk(l.k, l.C, "10.0.1.2");
const ping6A: Probe = (l) => pingOk(l.k, l.A, "fd00:0::2");
const ping6C: Probe = (l) => pingOk(l.k, l.C, "fd00:1::2");
const udp4: (dport: number, sport?: number) => Probe = (dport, sport = 0) => (l) => udpOk(l.k, l.A, l.B, "10.0.0.2", dport, sport);
const udp6: (dport: number) => Probe = (dport) => (l) => udpOk(l.k, l.A, l.B, "fd00:0::2", dport);
const tcp4: (dport: number) => Probe = (dport) => (l) => tcpOk(l.k, l.A, l.B, "10.0.0.2", dport);
const tcp6: (dport: number) => Probe = (dport) => (l) => tcpOk(l.k, l.A, l.B, "fd00:0::2", dport);

interface Row {
  name: string;
  matches: (l: L) => Insn[];
  denied: Probe[];
  allowed: Probe[];
}

const rows: Row[] = [
  { name: "O_IP4", matches: () => [M.ip4], denied: [ping4A, udp4(7)], allowed: [ping6A, udp6(7)] },
  { name: "O_IP6", matches: () => [M.ip6], denied: [ping6A, tcp6(80)], allowed: [ping4A, tcp4(80)] },
  { name: "O_PROTO udp", matches: () => [M.proto(17)], denied: [udp4(7), udp6(7)], allowed: [ping4A, tcp4(80)] },
  { name: "O_PROTO tcp", matches: () => [M.proto(6)], denied: [tcp4(80), tcp6(80)], allowed: [udp4(7), ping6A] },
  { name: "O_IP_SRC_MASK", matches: () => [M.src("10.0.0.0", 24)], denied: [ping4A, udp4(9)], allowed: [ping4C, ping6A] },
  { name: "O_IP_DST_MASK (replies out too)", matches: () => [M.dst("10.0.1.1")], denied: [ping4C], allowed: [ping4A, ping6C] },
  { name: "O_IP_SRC_ME (B's own replies)", matches: () => [M.srcMe()], denied: [ping4A, ping6C, tcp6(80)], allowed: [] },
  { name: "O_IP_SRC_ME in: never (a source is not B)", matches: () => [M.srcMe(), M.in()], denied: [], allowed: [ping4A, ping6A] },
  { name: "O_IP_DST_ME in", matches: () => [M.dstMe(), M.in()], denied: [ping4A, ping6A, udp6(7)], allowed: [] },
  { name: "O_IP_DST_ME out: never", matches: () => [M.dstMe(), M.in(F_NOT)], denied: [], allowed: [ping4A, ping6A] },
  { name: "O_IP6_SRC_MASK", matches: () => [M.src6("fd00:0::", 64)], denied: [ping6A, udp6(7)], allowed: [ping6C, ping4A] },
  { name: "O_IP6_DST_MASK", matches: () => [M.dst6("fd00:1::1", 128)], denied: [ping6C], allowed: [ping6A, ping4C] },
  { name: "O_IP_DSTPORT", matches: () => [M.dport([[7, 7], [100, 200]])], denied: [udp4(7), udp4(150), tcp4(7), udp6(7)], allowed: [udp4(9), tcp4(80), ping4A] },
  { name: "O_IP_SRCPORT", matches: () => [M.sport([[5000, 5010]])], denied: [udp4(9, 5005)], allowed: [udp4(9, 6000), ping4A] },
  { name: "O_VIA (the link to A, either direction)", matches: (l) => [M.via(l.ba.name)], denied: [ping4A, ping6A], allowed: [ping4C, ping6C] },
  { name: "O_VIA prefix with *", matches: (l) => [M.via(l.ba.name.slice(0, -1) + "*")], denied: [ping4A], allowed: [ping4C] },
  { name: "O_VIA any (all-zero name)", matches: () => [M.via("")], denied: [ping4A, ping6C], allowed: [] },
  { name: "O_RECV", matches: (l) => [M.recv(l.bc.name)], denied: [ping4C, udpC()], allowed: [ping4A] },
  { name: "O_XMIT (replies to C)", matches: (l) => [M.xmit(l.bc.name)], denied: [ping6C], allowed: [ping6A, udpC()] },
  { name: "O_IN udp (one-way datagrams in)", matches: () => [M.in(), M.proto(17)], denied: [udp4(7)], allowed: [ping4A] },
  { name: "O_IN negated: out only (one-way udp in passes)", matches: () => [M.in(F_NOT), M.proto(17)], denied: [], allowed: [udp4(7), udp6(9)] },
  { name: "O_FRAG", matches: () => [M.frag()], denied: [(l) => pingOk(l.k, l.A, "10.0.0.2", { size: 3000 }), (l) => pingOk(l.k, l.A, "fd00:0::2", { size: 3000 })], allowed: [ping4A, ping6A] },
  { name: "O_TCPFLAGS syn,!ack", matches: () => [M.tcpflags(TH.SYN, TH.ACK)], denied: [tcp4(80), tcp6(80)], allowed: [udp4(7)] },
  { name: "O_TCPFLAGS fin (not in a handshake)", matches: () => [M.tcpflags(TH.FIN)], denied: [], allowed: [tcp4(80)] },
  { name: "O_TCPOPTS mss", matches: () => [M.tcpopts(1)], denied: [tcp4(80), tcp6(80)], allowed: [ping4A] },
  { name: "O_TCPOPTS !mss on SYNs (ours carry MSS)", matches: () => [M.setup(), M.tcpopts(0, 1)], denied: [], allowed: [tcp4(80), tcp6(80)] },
  { name: "O_ESTAB (the SYN-ACK out)", matches: () => [M.estab()], denied: [tcp4(80)], allowed: [udp4(7), ping4A] },
  { name: "O_SETUP", matches: () => [M.setup()], denied: [tcp4(80), tcp6(80)], allowed: [ping6A] },
  { name: "O_ICMPTYPE echo request", matches: () => [M.icmptypes([8])], denied: [ping4A], allowed: [ping6A, udp4(7)] },
  { name: "O_ICMPTYPE timestamp only", matches: () => [M.icmptypes([13, 14])], denied: [], allowed: [ping4A] },
  { name: "O_ICMP6TYPE echo request", matches: () => [M.icmp6types([128])], denied: [ping6A], allowed: [ping4A] },
  { name: "O_ICMP6TYPE MLD only", matches: () => [M.icmp6types([130])], denied: [], allowed: [ping6A] },
  { name: "O_ICMPCODE 0", matches: () => [M.icmpcodes([0])], denied: [ping4A, ping6A], allowed: [udp4(7)] },
  { name: "O_IPLEN 1000-2000", matches: () => [M.iplen([[1000, 2000]])], denied: [(l) => pingOk(l.k, l.A, "10.0.0.2", { size: 1200 })], allowed: [ping4A] },
  { name: "O_IPTTL 64", matches: () => [M.ttl([[64, 64]]), M.in()], denied: [ping4A, ping6A], allowed: [(l) => pingOk(l.k, l.A, "10.0.0.2", { ttl: 30 })] },
  { name: "O_IPID (IPv4 only)", matches: () => [M.ipid([[0, 65535]])], denied: [ping4A], allowed: [ping6A] },
  { name: "O_IP_SRC_LOOKUP of an empty table (the rule creates it): no match", matches: () => [M.srcLookup(1)], denied: [], allowed: [ping4A] },
  { name: "O_LAYER2: ipfw is not on a layer-2 head, no match", matches: () => [M.layer2()], denied: [], allowed: [ping4A] },
];

function udpC(): Probe {
  return (l) => udpOk(l.k, l.C, l.B, "10.0.1.2", 7);
}

describe("ipfw: each match opcode denies what it describes and lets the rest through", () => {
  for (const r of rows) {
    test(r.name, async () => {
      const l = await lab();
      ipfwAdd(l.k, l.B, rule(100, r.matches(l), [A_.deny]));
      for (const [i, p] of r.denied.entries()) assert.equal(await p(l), false, `denied[${i}]`);
      for (const [i, p] of r.allowed.entries()) assert.equal(await p(l), true, `allowed[${i}]`);
      const hits = ipfwList(l.k, l.B)[0].packets;
      if (r.denied.length > 0) assert.ok(hits > 0, "the rule counted its matches");
      // Without the rule, the denied traffic flows: the rule, not the lab, stopped it.
      ipfwFlush(l.k, l.B);
      for (const [i, p] of r.denied.entries()) assert.equal(await p(l), true, `denied[${i}] flows without the rule`);
      l.k.shutdown();
    });
  }
});

describe("ipfw: or-blocks, F_NOT, allow before deny", () => {
  test("{ udp or icmp } denies both and not tcp; F_NOT inside a block", async () => {
    const l = await lab();
    ipfwAdd(l.k, l.B, rule(100, [M.proto(17, F_OR), M.proto(1)], [A_.deny]));
    assert.equal(udpOk(l.k, l.A, l.B, "10.0.0.2", 7), false);
    assert.equal(await pingOk(l.k, l.A, "10.0.0.2"), false);
    assert.equal(tcpOk(l.k, l.A, l.B, "10.0.0.2", 80), true);
    assert.equal(await pingOk(l.k, l.A, "fd00:0::2"), true, "icmp6 is not proto 1");
    ipfwFlush(l.k, l.B);
    // deny { not src 10.0.0.0/24 or icmp } and ip4: C (10.0.1.1) denied, A's ICMP denied, A's UDP passes.
    ipfwAdd(l.k, l.B, rule(100, [M.ip4, M.src("10.0.0.0", 24, F_NOT | F_OR), M.proto(1)], [A_.deny]));
    assert.equal(await pingOk(l.k, l.C, "10.0.1.2"), false);
    assert.equal(await pingOk(l.k, l.A, "10.0.0.2"), false);
    assert.equal(udpOk(l.k, l.A, l.B, "10.0.0.2", 7), true);
    assert.equal(await pingOk(l.k, l.C, "fd00:1::2"), true);
    l.k.shutdown();
  });

  test("first match wins: allow 100 before deny 200; the default deny 65535 counts the rest", async () => {
    const l = await lab();
    ipfwAdd(l.k, l.B, rule(200, [], [A_.deny]));
    ipfwAdd(l.k, l.B, rule(100, [M.proto(1)], [A_.accept]));
    assert.equal(await pingOk(l.k, l.A, "10.0.0.2"), true);
    assert.equal(udpOk(l.k, l.A, l.B, "10.0.0.2", 7), false);
    const list = ipfwList(l.k, l.B);
    assert.deepEqual(list.map((r) => r.rulenum), [100, 200, 65535]);
    assert.equal(list[0].packets, 2, "request in, reply out");
    assert.ok(list[1].packets >= 1);
    assert.ok(ipfwStats(l.k, l.B).denied >= 1);
    l.k.shutdown();
  });
});

export { I };
