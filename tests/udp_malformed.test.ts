// Malformed and edge-case UDP datagrams, table-driven: each is injected on B's epair end as
// if it came from A's wire (Interface.receive), and must be counted by the right udpstat
// counter (and by no other), delivered or dropped as the case says, with every mbuf back.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Kernel, type Vnet } from "../host/index.js";
import { socket, SOL_SOCKET, SO, type Socket } from "../host/sockets/socket.js";
import { addAddress, icmpStats, parseIPv4 } from "../host/admin/inet.js";
import { udpStats, recvBatch, UDPSTATS, type UdpStats } from "../host/admin/udp.js";
import { ping } from "../host/admin/ping.js";
import { mbufsInUse, ipPacket, ether, cksum } from "./helpers/inet.js";
import { suiteConfig } from "./helpers/config.js";

const IP = 0x0800;
const A_IP = "10.0.0.1";
const B_IP = "10.0.0.2";

interface UdpOpts {
  src?: string;
  dst?: string;
  sport?: number;
  dport?: number;
  payload?: Uint8Array;
  /** Length field override (default 8 + payload). */
  ulen?: number;
  /** Checksum: "right" (default), "zero", "wrong", or a fixed value. */
  sum?: "right" | "zero" | "wrong" | number;
  /** Bytes after the datagram inside the IP payload. */
  trailer?: number;
}

/** A UDP datagram (header + payload [+ trailer]); the checksum covers the pseudo-header (RFC 768). */
function udp(o: UdpOpts): Uint8Array {
  const payload = o.payload ?? new TextEncoder().encode("hello");
  const len = 8 + payload.length;
  const u = new Uint8Array(len + (o.trailer ?? 0));
  const dv = new DataView(u.buffer);
  dv.setUint16(0, o.sport ?? 1234);
  dv.setUint16(2, o.dport ?? 9);
  dv.setUint16(4, o.ulen ?? len);
  u.set(payload, 8);
  for (let i = len; i < u.length; i++) u[i] = 0xee;
  const ph = new Uint8Array(12 + len);
  const pv = new DataView(ph.buffer);
  pv.setUint32(0, parseIPv4(o.src ?? A_IP, "src"));
  pv.setUint32(4, parseIPv4(o.dst ?? B_IP, "dst"));
  ph[9] = 17;
  pv.setUint16(10, len);
  ph.set(u.subarray(0, len), 12);
  let s = cksum(ph);
  if (s === 0) s = 0xffff;
  const sum = o.sum ?? "right";
  dv.setUint16(6, sum === "right" ? s : sum === "zero" ? 0 : sum === "wrong" ? s ^ 0x0101 : sum);
  return u;
}

const pkt = (o: UdpOpts, ip: { dst?: string; totalLen?: number } = {}) =>
  ipPacket({ proto: 17, src: o.src ?? A_IP, dst: ip.dst ?? o.dst ?? B_IP, payload: udp(o), totalLen: ip.totalLen });

type Counter = (typeof UDPSTATS)[number];
const DROPS: Counter[] = ["hdrops", "badsum", "badlen", "noport", "noportbcast", "fullsock"];

interface Case {
  name: string;
  packet: () => Uint8Array;
  /** Counters that move by one (besides ipackets, which every case moves). */
  counters: Counter[];
  /** What the socket on port 9 (bound to 0.0.0.0) receives: its payload, as text. */
  delivered?: string;
  icmpUnreach?: boolean;
}

const ZERO_SUM = zeroSumPayload();

const CASES: Case[] = [
  { name: "a valid datagram (control)", packet: () => pkt({}), counters: ["delivered"], delivered: "hello" },
  { name: "zero checksum: none computed, accepted (RFC 768)", packet: () => pkt({ sum: "zero" }), counters: ["nosum", "delivered"], delivered: "hello" },
  { name: "checksum computed as zero is sent as 0xffff and accepted", packet: () => pkt({ payload: ZERO_SUM }), counters: ["delivered"], delivered: new TextDecoder().decode(ZERO_SUM) },
  { name: "bad checksum", packet: () => pkt({ sum: "wrong" }), counters: ["badsum"] },
  { name: "bad checksum: 0xffff where the sum is something else", packet: () => pkt({ sum: 0xffff }), counters: ["badsum"] },
  { name: "bad checksum over an odd-length payload", packet: () => pkt({ payload: new Uint8Array([1, 2, 3]), sum: "wrong" }), counters: ["badsum"] },
  { name: "header cut to 4 bytes", packet: () => ipPacket({ proto: 17, payload: udp({}).slice(0, 4) }), counters: ["hdrops"] },
  { name: "no UDP header at all", packet: () => ipPacket({ proto: 17, payload: new Uint8Array(0) }), counters: ["hdrops"] },
  { name: "length field 7 (< 8)", packet: () => pkt({ ulen: 7 }), counters: ["badlen"] },
  { name: "length field 0", packet: () => pkt({ ulen: 0 }), counters: ["badlen"] },
  { name: "length field larger than the IP payload", packet: () => pkt({ ulen: 14 }), counters: ["badlen"] },
  { name: "length field 65535", packet: () => pkt({ ulen: 65535 }), counters: ["badlen"] },
  { name: "IP payload longer than the length field: trimmed, delivered (FreeBSD)", packet: () => pkt({ trailer: 5 }), counters: ["delivered"], delivered: "hello" },
  { name: "a trimmed datagram whose checksum was over the trailer too", packet: () => trailerSummed(), counters: ["badsum"] },
  { name: "unicast to a port nobody has: port unreachable", packet: () => pkt({ dport: 10 }), counters: ["noport"], icmpUnreach: true },
  { name: "destination port 0", packet: () => pkt({ dport: 0 }), counters: ["noport"], icmpUnreach: true },
  { name: "broadcast to a port nobody has: no ICMP", packet: () => pkt({ dst: "10.0.0.255", dport: 10 }), counters: ["noportbcast"] },
  { name: "limited broadcast to port 9: delivered", packet: () => pkt({ dst: "255.255.255.255" }), counters: ["delivered"], delivered: "hello" },
  { name: "receive buffer full (SO_RCVBUF 16 on port 11)", packet: () => pkt({ dport: 11 }), counters: ["fullsock"] },
];

/** A payload whose UDP checksum (A -> B, ports 1234 -> 9) computes to zero, so 0xffff is sent. */
function zeroSumPayload(): Uint8Array {
  const p = new TextEncoder().encode("zero-sum\0\0");
  const probe = udp({ payload: p, sum: "zero" });
  const ph = new Uint8Array(12 + probe.length);
  const pv = new DataView(ph.buffer);
  pv.setUint32(0, parseIPv4(A_IP, ""));
  pv.setUint32(4, parseIPv4(B_IP, ""));
  ph[9] = 17;
  pv.setUint16(10, probe.length);
  ph.set(probe, 12);
  // Choose the last two bytes so the one's-complement sum is 0xffff (checksum 0).
  const s = (~cksum(ph)) & 0xffff; // sum so far
  const need = 0xffff - s;
  p[p.length - 2] = need >> 8;
  p[p.length - 1] = need & 0xff;
  return p;
}

/** Checksum computed over the datagram plus the trailer (as if the length field lied low). */
function trailerSummed(): Uint8Array {
  const payload = new TextEncoder().encode("hello");
  const right = udp({ payload, trailer: 2 });
  // Recompute the checksum as if the trailer belonged to the datagram.
  const full = udp({ payload: new Uint8Array([...payload, 0xee, 0xee]) });
  const dv = new DataView(right.buffer);
  dv.setUint16(6, new DataView(full.buffer).getUint16(6));
  return ipPacket({ proto: 17, payload: right });
}

function counters(k: Kernel, v: Vnet): UdpStats {
  return udpStats(k, v);
}

test(`${CASES.length} malformed and edge-case UDP datagrams: each counted by the right udpstat counter, delivered or dropped, nothing leaked`, async () => {
  const k = await Kernel.boot({ config: suiteConfig(["if_epair", "inet", "udp"], ["if_epair", "inet", "udp"]), seed: 2 });
  const A = k.createVnet("A");
  const B = k.createVnet("B");
  const [ea, eb] = k.epair(A, B);
  ea.setUp();
  eb.setUp();
  addAddress(k, ea, `${A_IP}/24`);
  addAddress(k, eb, `${B_IP}/24`);
  assert.equal((await ping(k, A, B_IP, { count: 1 })).received, 1); // ARP both ways
  const sink: Socket = socket(k, B, "inet", "dgram", 17).bind("0.0.0.0", 9);
  const tiny: Socket = socket(k, B, "inet", "dgram", 17).bind("0.0.0.0", 11);
  tiny.setsockopt(SOL_SOCKET, SO.RCVBUF, 16);
  const mbufs = mbufsInUse(k);
  for (const c of CASES) {
    const before = counters(k, B);
    const unreachBefore = icmpStats(k, B).outhist[3];
    assert.equal(eb.receive(ether(ea, eb, IP, c.packet())), 0, c.name);
    const after = counters(k, B);
    const moved = UDPSTATS.filter((n) => n !== "ipackets" && n !== "opackets" && after[n] !== before[n]).sort();
    assert.deepEqual(moved, [...c.counters].sort(), `${c.name}: counters moved`);
    for (const n of c.counters) assert.equal(after[n] - before[n], 1, `${c.name}: ${n} by one`);
    assert.equal(after.ipackets - before.ipackets, 1, `${c.name}: ipackets`);
    assert.equal(icmpStats(k, B).outhist[3] - unreachBefore, c.icmpUnreach ? 1 : 0, `${c.name}: port unreachable sent or not`);
    const got = recvBatch(k, sink).map((d) => new TextDecoder().decode(d.data));
    assert.deepEqual(got, c.delivered !== undefined ? [c.delivered] : [], `${c.name}: delivered`);
    assert.equal(mbufsInUse(k), mbufs, `${c.name}: every mbuf is back`);
    assert.ok(DROPS.every((n) => after[n] >= before[n]));
  }
  assert.equal(tiny.info().rcvDrops, 1, "the full socket counted its drop");
  assert.ok(CASES.length >= 15);
  sink.close();
  tiny.close();
  A.destroy();
  B.destroy();
  assert.equal(mbufsInUse(k), 0);
  k.shutdown();
});
