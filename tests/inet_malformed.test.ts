// Malformed IPv4, ICMP and ARP packets, table-driven: each is injected on B's epair end as
// if it came from A's wire, and must be dropped and counted by the right counter (and by
// no other drop counter), with every mbuf back.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { Kernel, Vnet } from "../host/index.js";
import { ipStats, icmpStats, arpStats, setForwarding } from "../host/admin/inet.js";
import { ping } from "../host/admin/ping.js";
import { twoHosts, mbufsInUse, ipPacket, echoRequest, ether, icmp, arpPacket } from "./helpers/inet.js";

const IP = 0x0800;
const ARP = 0x0806;

// Drop counters: a case must move its own and nothing else here (bar `also`).
const IP_DROPS = ["badsum", "tooshort", "toosmall", "badhlen", "badlen", "fragdropped", "cantforward", "noproto", "badoptions", "noroute", "badvers", "toolong", "notmember", "badaddr", "cantfrag"] as const;
const ICMP_DROPS = ["oldicmp", "badcode", "tooshort", "checksum", "badlen", "bmcastecho", "noerror", "ratelimited"] as const;
const ARP_DROPS = ["dropped", "dupips", "tooshort", "badhrd", "badpro", "badlen", "badop", "badsender", "looped"] as const;

type Counter = `ip.${(typeof IP_DROPS)[number]}` | `icmp.${(typeof ICMP_DROPS)[number]}` | `arp.${(typeof ARP_DROPS)[number]}` | "icmp.out.timxceed";

interface Case {
  name: string;
  etype: number;
  /** The packet (after the Ethernet header); A and B are known when it is built. */
  packet: (macA: string, macB: string) => Uint8Array;
  counter: Counter;
  also?: Counter[];
}

function counters(k: Kernel, v: Vnet): Record<Counter, number> {
  const out = {} as Record<Counter, number>;
  const ip = ipStats(k, v);
  const ic = icmpStats(k, v);
  const ar = arpStats(k, v);
  for (const n of IP_DROPS) out[`ip.${n}`] = ip[n];
  for (const n of ICMP_DROPS) out[`icmp.${n}`] = ic[n];
  for (const n of ARP_DROPS) out[`arp.${n}`] = ar[n];
  out["icmp.out.timxceed"] = ic.outhist[11];
  return out;
}

const echo = echoRequest(9, 1, 16);
const A_IP = "10.0.0.1";
const B_IP = "10.0.0.2";
const arpOk = (mac: string) => ({ sha: mac, spa: A_IP, tpa: B_IP });

const CASES: Case[] = [
  // IPv4 header (RFC 791, RFC 1122 3.2.1)
  { name: "runt: 12 bytes, shorter than a header", etype: IP, packet: () => ipPacket({ payload: echo }).slice(0, 12), counter: "ip.toosmall" },
  { name: "version 6", etype: IP, packet: () => ipPacket({ vhl: 0x65, payload: echo }), counter: "ip.badvers" },
  { name: "IHL 4 (16 bytes)", etype: IP, packet: () => ipPacket({ vhl: 0x44, payload: echo }), counter: "ip.badhlen" },
  { name: "IHL 15 (60 bytes) past a 28-byte packet", etype: IP, packet: () => ipPacket({ vhl: 0x4f, payload: new Uint8Array(8) }), counter: "ip.badhlen" },
  { name: "bad header checksum", etype: IP, packet: () => ipPacket({ badSum: true, payload: echo }), counter: "ip.badsum" },
  { name: "total length 10, less than the header", etype: IP, packet: () => ipPacket({ totalLen: 10, payload: echo }), counter: "ip.badlen" },
  { name: "total length 1000, more than the frame", etype: IP, packet: () => ipPacket({ totalLen: 1000, payload: echo }), counter: "ip.tooshort" },
  { name: "source multicast", etype: IP, packet: () => ipPacket({ src: "224.0.0.1", payload: echo }), counter: "ip.badaddr" },
  { name: "source limited broadcast", etype: IP, packet: () => ipPacket({ src: "255.255.255.255", payload: echo }), counter: "ip.badaddr" },
  { name: "source 0.0.0.0", etype: IP, packet: () => ipPacket({ src: "0.0.0.0", payload: echo }), counter: "ip.badaddr" },
  { name: "source subnet broadcast", etype: IP, packet: () => ipPacket({ src: "10.0.0.255", payload: echo }), counter: "ip.badaddr" },
  { name: "source class E", etype: IP, packet: () => ipPacket({ src: "240.0.0.1", payload: echo }), counter: "ip.badaddr" },
  { name: "source 127.0.0.1 on a wire", etype: IP, packet: () => ipPacket({ src: "127.0.0.1", payload: echo }), counter: "ip.badaddr" },
  { name: "destination 127.0.0.1 on a wire", etype: IP, packet: () => ipPacket({ dst: "127.0.0.1", payload: echo }), counter: "ip.badaddr" },
  { name: "source is B's own address, from a wire (forged)", etype: IP, packet: () => ipPacket({ src: B_IP, payload: echo }), counter: "ip.badaddr" },
  { name: "option running past the header", etype: IP, packet: () => ipPacket({ options: [7, 10, 4, 0], payload: echo }), counter: "ip.badoptions" },
  { name: "option length 1", etype: IP, packet: () => ipPacket({ options: [68, 1, 0, 0], payload: echo }), counter: "ip.badoptions" },
  { name: "option length byte missing at the end", etype: IP, packet: () => ipPacket({ options: [1, 1, 1, 68], payload: echo }), counter: "ip.badoptions" },
  { name: "loose source route (refused)", etype: IP, packet: () => ipPacket({ options: [131, 7, 4, 10, 0, 0, 3, 0], payload: echo }), counter: "ip.badoptions" },
  { name: "TTL 1 to forward: time exceeded", etype: IP, packet: () => ipPacket({ dst: "10.0.9.9", ttl: 1, payload: echo }), counter: "icmp.out.timxceed" },
  { name: "TTL 0 to forward: time exceeded", etype: IP, packet: () => ipPacket({ dst: "10.0.9.9", ttl: 0, payload: echo }), counter: "icmp.out.timxceed" },
  { name: "no route to forward", etype: IP, packet: () => ipPacket({ dst: "10.99.0.1", payload: echo }), counter: "ip.noroute", also: ["ip.cantforward"] },
  { name: "multicast destination we are not a member of", etype: IP, packet: () => ipPacket({ dst: "224.0.0.9", payload: echo }), counter: "ip.notmember" },
  { name: "unknown protocol 200", etype: IP, packet: () => ipPacket({ proto: 200, payload: echo }), counter: "ip.noproto" },
  { name: "fragment offset + length past 65535", etype: IP, packet: () => ipPacket({ off: 65528, mf: true, payload: echo }), counter: "ip.toolong", also: ["ip.fragdropped"] },
  { name: "non-last fragment of 12 bytes (not a multiple of 8)", etype: IP, packet: () => ipPacket({ mf: true, payload: echo.slice(0, 12) }), counter: "ip.toosmall", also: ["ip.fragdropped"] },
  // ICMP (RFC 792)
  { name: "ICMP truncated to 4 bytes", etype: IP, packet: () => ipPacket({ payload: echo.slice(0, 4) }), counter: "icmp.tooshort" },
  { name: "ICMP bad checksum", etype: IP, packet: () => ipPacket({ payload: icmp(8, 0, 0x00090001, new Uint8Array(16), true) }), counter: "icmp.checksum" },
  { name: "unreachable too short to quote a header", etype: IP, packet: () => ipPacket({ payload: icmp(3, 1, 0, new Uint8Array(8)) }), counter: "icmp.badlen" },
  { name: "unreachable quoting a non-IPv4 header", etype: IP, packet: () => ipPacket({ payload: icmp(3, 1, 0, ipPacket({ vhl: 0x65, payload: new Uint8Array(8) })) }), counter: "icmp.badlen" },
  { name: "time exceeded with code 7", etype: IP, packet: () => ipPacket({ payload: icmp(11, 7, 0, ipPacket({ payload: new Uint8Array(8) })) }), counter: "icmp.badcode" },
  { name: "ICMP type 200", etype: IP, packet: () => ipPacket({ payload: icmp(200, 0, 0, new Uint8Array(8)) }), counter: "icmp.badcode" },
  { name: "echo request to the subnet broadcast", etype: IP, packet: () => ipPacket({ dst: "10.0.0.255", payload: echo }), counter: "icmp.bmcastecho" },
  // ARP (RFC 826)
  { name: "ARP of 6 bytes", etype: ARP, packet: (a) => arpPacket({ ...arpOk(a), truncate: 6 }), counter: "arp.tooshort" },
  { name: "ARP of 20 bytes", etype: ARP, packet: (a) => arpPacket({ ...arpOk(a), truncate: 20 }), counter: "arp.tooshort" },
  { name: "ARP hardware type 2", etype: ARP, packet: (a) => arpPacket({ ...arpOk(a), hrd: 2 }), counter: "arp.badhrd" },
  { name: "ARP protocol type IPv6", etype: ARP, packet: (a) => arpPacket({ ...arpOk(a), pro: 0x86dd }), counter: "arp.badpro" },
  { name: "ARP hardware length 8", etype: ARP, packet: (a) => arpPacket({ ...arpOk(a), hln: 8 }), counter: "arp.badlen" },
  { name: "ARP protocol length 16", etype: ARP, packet: (a) => arpPacket({ ...arpOk(a), pln: 16 }), counter: "arp.badlen" },
  { name: "ARP opcode 3", etype: ARP, packet: (a) => arpPacket({ ...arpOk(a), op: 3 }), counter: "arp.badop" },
  { name: "ARP sender MAC broadcast", etype: ARP, packet: () => arpPacket({ sha: "ff:ff:ff:ff:ff:ff", spa: A_IP, tpa: B_IP }), counter: "arp.badsender" },
  { name: "ARP sender MAC multicast", etype: ARP, packet: () => arpPacket({ sha: "01:00:5e:00:00:01", spa: A_IP, tpa: B_IP }), counter: "arp.badsender" },
  { name: "ARP sender MAC zero", etype: ARP, packet: () => arpPacket({ sha: "00:00:00:00:00:00", spa: A_IP, tpa: B_IP }), counter: "arp.badsender" },
  { name: "ARP sender IP multicast", etype: ARP, packet: (a) => arpPacket({ sha: a, spa: "224.1.2.3", tpa: B_IP }), counter: "arp.badsender" },
  { name: "ARP sender IP is ours (duplicate address)", etype: ARP, packet: (a) => arpPacket({ sha: a, spa: B_IP, tpa: B_IP }), counter: "arp.dupips" },
  { name: "ARP with our own MAC as sender (looped)", etype: ARP, packet: (_a, b) => arpPacket({ sha: b, spa: A_IP, tpa: B_IP }), counter: "arp.looped" },
];

test(`${CASES.length} malformed IPv4/ICMP/ARP packets: each dropped and counted by the right counter, nothing leaked`, async () => {
  assert.ok(CASES.length >= 25);
  const { k, A, B, ea, eb } = await twoHosts();
  setForwarding(k, B, true); // so the forwarding checks (TTL, no route) are reached
  assert.equal((await ping(k, A, B_IP, { count: 1 })).received, 1); // ARP resolved both ways
  const mbufs = mbufsInUse(k);
  for (const c of CASES) {
    const before = counters(k, B);
    const r = eb.receive(ether(ea, eb, c.etype, c.packet(ea.mac, eb.mac)));
    assert.equal(r, 0, c.name);
    const after = counters(k, B);
    const moved = (Object.keys(after) as Counter[]).filter((n) => after[n] !== before[n]).sort();
    assert.deepEqual(moved, [c.counter, ...(c.also ?? [])].sort(), `${c.name}: counters moved`);
    assert.equal(after[c.counter] - before[c.counter], 1, `${c.name}: ${c.counter} by one`);
    assert.equal(mbufsInUse(k), mbufs, `${c.name}: every mbuf is back`);
  }
  // A valid echo still gets through afterwards.
  assert.equal((await ping(k, A, B_IP, { count: 1 })).received, 1);
  A.destroy();
  B.destroy();
  k.shutdown();
});
