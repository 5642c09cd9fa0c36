// Malformed IPv6, extension header, ICMPv6 and ND packets, table-driven: each is injected
// on B's epair end as if it came from A's wire, and must be dropped and counted by the
// right counter (and by no other drop counter), with every mbuf back.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { Kernel, Vnet } from "../host/index.js";
import { ip6Stats, icmp6Stats, setForwarding6, parseIPv6 } from "../host/admin/inet6.js";
import { ping6 } from "../host/admin/ping.js";
import { ether, mbufsInUse, clockOf } from "./helpers/inet.js";
import { twoHosts6, ip6Packet, icmp6, echo6, extHdr, fragHdr, cat } from "./helpers/inet6.js";

const IPV6 = 0x86dd;

const IP6_DROPS = [
  "toosmall", "tooshort", "badvers", "badoptions", "badscope", "notmember", "cantforward", "fragdropped", "fragoverflow",
  "exthdrtoolong", "toomanyhdr", "noproto", "badrouting", "hdrorder", "hlimexceed", "toobig", "noroute", "odropped",
] as const;
const ICMP6_DROPS = ["badcode", "tooshort", "checksum", "badlen", "badns", "badna", "ndhlim", "canterror", "toofreq"] as const;

type Counter = `ip6.${(typeof IP6_DROPS)[number]}` | `icmp6.${(typeof ICMP6_DROPS)[number]}`;

interface Case {
  name: string;
  packet: (macA: string) => Uint8Array;
  /** The drop counter that moves by one; "error" when the ICMPv6 error sent is the only count (FreeBSD frag6_02, frag6_07). */
  counter: Counter | "error";
  also?: Counter[];
  /** ICMPv6 error type B must send about it (none when absent). */
  error?: "paramprob" | "timeexceeded";
}

function counters(k: Kernel, v: Vnet): Record<Counter, number> {
  const out = {} as Record<Counter, number>;
  const ip = ip6Stats(k, v);
  const ic = icmp6Stats(k, v);
  for (const n of IP6_DROPS) out[`ip6.${n}`] = ip[n];
  for (const n of ICMP6_DROPS) out[`icmp6.${n}`] = ic[n];
  return out;
}

const A6 = "fd00::1";
const B6 = "fd00::2";
const SOL_B = "ff02::1:ff00:2"; // B's solicited-node group (fd00::2)
const echo = echo6(9, 1, 16);
const opt = (...b: number[]) => b;
const lla = (type: number, mac: string) => [type, 1, ...mac.split(":").map((x) => parseInt(x, 16))];
/** An NS or NA body after the ICMPv6 header's first 4 bytes: target then options. */
const nd = (target: string, options: number[] = []) => Uint8Array.from([...parseIPv6(target, "target"), ...options]);
const nsFrom = (src: string, dst: string, hlim: number, body: Uint8Array, code = 0) =>
  ip6Packet({ src, dst, hlim, payload: icmp6(src, dst, 135, code, 0, body) });
const naFrom = (src: string, dst: string, hlim: number, flags: number, body: Uint8Array) =>
  ip6Packet({ src, dst, hlim, payload: icmp6(src, dst, 136, 0, flags << 24, body) });
const quoted = (n: number) => ip6Packet({ src: B6, dst: A6, payload: echo6(1, 1, 8, B6, A6) }).slice(0, n);

const CASES: Case[] = [
  // Fixed header (RFC 8200 3, RFC 4291)
  { name: "runt: 20 bytes, shorter than a header", packet: () => ip6Packet({ payload: echo }).slice(0, 20), counter: "ip6.toosmall" },
  { name: "version 4", packet: () => ip6Packet({ version: 4, payload: echo }), counter: "ip6.badvers" },
  { name: "payload length 1000, more than the frame", packet: () => ip6Packet({ plen: 1000, payload: echo }), counter: "ip6.tooshort" },
  { name: "jumbo payload (length 0, hop-by-hop): not implemented", packet: () => ip6Packet({ plen: 0, nxt: 0, payload: extHdr(58, opt(0xc2, 4, 0, 1, 0, 0)) }), counter: "ip6.badoptions" },
  { name: "source multicast", packet: () => ip6Packet({ src: "ff02::1", payload: echo }), counter: "ip6.badscope" },
  { name: "destination unspecified", packet: () => ip6Packet({ dst: "::", payload: echo }), counter: "ip6.badscope" },
  { name: "source ::1 on a wire", packet: () => ip6Packet({ src: "::1", payload: echo }), counter: "ip6.badscope" },
  { name: "destination ::1 on a wire", packet: () => ip6Packet({ dst: "::1", payload: echo }), counter: "ip6.badscope" },
  { name: "source is B's own address, from a wire (forged)", packet: () => ip6Packet({ src: B6, payload: echo6(9, 1, 16, B6, B6) }), counter: "ip6.badscope" },
  { name: "source IPv4-mapped", packet: () => ip6Packet({ src: "::ffff:10.0.0.1", payload: echo }), counter: "ip6.badscope" },
  { name: "destination interface-local multicast on a wire", packet: () => ip6Packet({ dst: "ff01::1", payload: echo }), counter: "ip6.badscope" },
  { name: "destination multicast of reserved scope 0", packet: () => ip6Packet({ dst: "ff00::1", payload: echo }), counter: "ip6.badscope" },
  { name: "a solicited-node group B is not in", packet: () => ip6Packet({ dst: "ff02::1:ff00:99", payload: echo }), counter: "ip6.notmember" },
  { name: "forwarded with hop limit 1: time exceeded", packet: () => ip6Packet({ dst: "fd00::99", hlim: 1, payload: echo }), counter: "ip6.hlimexceed", error: "timeexceeded" },
  { name: "someone else's link-local destination is never forwarded", packet: () => ip6Packet({ dst: "fe80::99", payload: echo }), counter: "ip6.badscope", also: ["ip6.cantforward"] },
  // Extension headers (RFC 8200 4)
  { name: "hop-by-hop option running past its header", packet: () => ip6Packet({ nxt: 0, payload: cat(extHdr(58, opt(1, 10)), echo) }), counter: "ip6.badoptions", error: "paramprob" },
  { name: "hop-by-hop unknown option, action 01: silent drop", packet: () => ip6Packet({ nxt: 0, payload: cat(extHdr(58, opt(0x41, 4, 0, 0, 0, 0)), echo) }), counter: "ip6.badoptions" },
  { name: "hop-by-hop unknown option, action 10: parameter problem", packet: () => ip6Packet({ nxt: 0, payload: cat(extHdr(58, opt(0x81, 4, 0, 0, 0, 0)), echo) }), counter: "ip6.badoptions", error: "paramprob" },
  { name: "hop-by-hop header longer than the packet", packet: () => ip6Packet({ nxt: 0, payload: cat(extHdr(58, opt(1, 4, 0, 0, 0, 0), 5), echo) }), counter: "ip6.exthdrtoolong" },
  { name: "hop-by-hop options after another header", packet: () => ip6Packet({ nxt: 60, payload: cat(extHdr(0, opt(1, 4, 0, 0, 0, 0)), extHdr(58, opt(1, 4, 0, 0, 0, 0)), echo) }), counter: "ip6.hdrorder", error: "paramprob" },
  { name: "destination options longer than the packet", packet: () => ip6Packet({ nxt: 60, payload: cat(extHdr(58, opt(1, 4, 0, 0, 0, 0), 9), echo) }), counter: "ip6.exthdrtoolong" },
  { name: "destination options unknown option, action 11, unicast: parameter problem", packet: () => ip6Packet({ nxt: 60, payload: cat(extHdr(58, opt(0xc7, 4, 0, 0, 0, 0)), echo) }), counter: "ip6.badoptions", error: "paramprob" },
  { name: "routing header type 0 with segments left (RFC 5095)", packet: () => ip6Packet({ nxt: 43, payload: cat(extHdr(58, opt(0, 1, 0, 0, 0, 0)), echo) }), counter: "ip6.badrouting", error: "paramprob" },
  { name: "20 destination options headers (nest limit 15)", packet: () => ip6Packet({ nxt: 60, payload: cat(...Array.from({ length: 20 }, (_, i) => extHdr(i === 19 ? 58 : 60, opt(1, 4, 0, 0, 0, 0))), echo) }), counter: "ip6.toomanyhdr" },
  { name: "unknown next header 253", packet: () => ip6Packet({ nxt: 253, payload: new Uint8Array(8) }), counter: "ip6.noproto", error: "paramprob" },
  { name: "fragment header cut short", packet: () => ip6Packet({ nxt: 44, payload: new Uint8Array(4) }), counter: "ip6.exthdrtoolong" },
  { name: "fragment (M set) of 12 bytes, not a multiple of 8", packet: () => ip6Packet({ nxt: 44, payload: cat(fragHdr(58, 0, true, 1), new Uint8Array(12)) }), counter: "error", error: "paramprob" },
  { name: "fragment ending past 65,535 bytes", packet: () => ip6Packet({ nxt: 44, payload: cat(fragHdr(58, 65528, true, 2), new Uint8Array(16)) }), counter: "error", error: "paramprob" },
  // ICMPv6 (RFC 4443)
  { name: "ICMPv6 bad checksum", packet: () => ip6Packet({ payload: icmp6(A6, B6, 128, 0, 0x10001, new Uint8Array(8), true) }), counter: "icmp6.checksum" },
  { name: "ICMPv6 of 4 bytes", packet: () => ip6Packet({ payload: Uint8Array.from([128, 0, 0, 0]) }), counter: "icmp6.tooshort" },
  { name: "echo request with code 1", packet: () => ip6Packet({ payload: icmp6(A6, B6, 128, 1, 0x10001, new Uint8Array(8)) }), counter: "icmp6.badcode" },
  { name: "time exceeded with code 5", packet: () => ip6Packet({ payload: icmp6(A6, B6, 3, 5, 0, quoted(48)) }), counter: "icmp6.badcode" },
  { name: "destination unreachable quoting 20 bytes (less than a header)", packet: () => ip6Packet({ payload: icmp6(A6, B6, 1, 0, 0, quoted(20)) }), counter: "icmp6.badlen" },
  { name: "packet too big with MTU 1000 (below 1280)", packet: () => ip6Packet({ payload: icmp6(A6, B6, 2, 0, 1000, quoted(48)) }), counter: "icmp6.badlen" },
  // Neighbor Discovery (RFC 4861 7.1)
  { name: "NS with hop limit 64", packet: (m) => nsFrom(A6, SOL_B, 64, nd(B6, lla(1, m))), counter: "icmp6.ndhlim" },
  { name: "NS with code 1", packet: (m) => nsFrom(A6, SOL_B, 255, nd(B6, lla(1, m)), 1), counter: "icmp6.badns" },
  { name: "NS of 20 bytes", packet: () => ip6Packet({ dst: SOL_B, hlim: 255, payload: icmp6(A6, SOL_B, 135, 0, 0, new Uint8Array(12)) }), counter: "icmp6.badns" },
  { name: "NS for a multicast target", packet: (m) => nsFrom(A6, SOL_B, 255, nd("ff02::1", lla(1, m))), counter: "icmp6.badns" },
  { name: "NS option of length 0", packet: () => nsFrom(A6, SOL_B, 255, nd(B6, [1, 0, 0, 0, 0, 0, 0, 0])), counter: "icmp6.badns" },
  { name: "NS from :: with a link-layer option", packet: (m) => nsFrom("::", SOL_B, 255, nd(B6, lla(1, m))), counter: "icmp6.badns" },
  { name: "NA with hop limit 64", packet: (m) => naFrom(A6, B6, 64, 0x60, nd(A6, lla(2, m))), counter: "icmp6.ndhlim" },
  { name: "NA solicited, to a multicast address", packet: (m) => naFrom(A6, "ff02::1", 255, 0x40, nd(A6, lla(2, m))), counter: "icmp6.badna" },
  { name: "NA option running past the message", packet: () => naFrom(A6, B6, 255, 0x60, nd(A6, [2, 2, 0, 0, 0, 0, 0, 0])), counter: "icmp6.badna" },
  { name: "NA for a multicast target", packet: (m) => naFrom(A6, B6, 255, 0x60, nd("ff02::1", lla(2, m))), counter: "icmp6.badna" },
];

test(`${CASES.length} malformed IPv6/ICMPv6/ND packets: each dropped and counted by the right counter, nothing leaked`, async () => {
  assert.ok(CASES.length >= 40);
  const { k, A, B, ea, eb } = await twoHosts6();
  setForwarding6(k, B, true); // so the forwarding checks (hop limit, scope) are reached
  assert.equal((await ping6(k, A, B6, { count: 1 })).received, 1); // ND resolved both ways
  clockOf(k).advance(2_000_000); // DAD done: B's address is no longer tentative
  const mbufs = mbufsInUse(k);
  for (const c of CASES) {
    const before = counters(k, B);
    const ob = icmp6Stats(k, B).outhist;
    const r = eb.receive(ether(ea, eb, IPV6, c.packet(ea.mac)));
    assert.equal(r, 0, c.name);
    const after = counters(k, B);
    const moved = (Object.keys(after) as Counter[]).filter((n) => after[n] !== before[n]).sort();
    if (c.counter === "error") {
      assert.deepEqual(moved, [...(c.also ?? [])].sort(), `${c.name}: counters moved (none: the error is the count)`);
      assert.ok(c.error, `${c.name}: an uncounted drop must send an error`);
    } else {
      assert.deepEqual(moved, [c.counter, ...(c.also ?? [])].sort(), `${c.name}: counters moved`);
      assert.equal(after[c.counter] - before[c.counter], 1, `${c.name}: ${c.counter} by one`);
    }
    const oa = icmp6Stats(k, B).outhist;
    assert.equal(oa[3] - ob[3], c.error === "paramprob" ? 1 : 0, `${c.name}: parameter problem sent?`);
    assert.equal(oa[2] - ob[2], c.error === "timeexceeded" ? 1 : 0, `${c.name}: time exceeded sent?`);
    assert.equal(mbufsInUse(k), mbufs, `${c.name}: every mbuf is back`);
  }
  // A valid echo still gets through afterwards.
  assert.equal((await ping6(k, A, B6, { count: 1 })).received, 1);
  A.destroy();
  B.destroy();
  k.shutdown();
});
