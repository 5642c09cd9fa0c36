// Reassembly never builds a datagram over 65,535 bytes (issue 14, items 1 and 2): the size
// is the first fragment's header (IPv4 options; IPv6's unfragmentable part) plus the end of
// the payload, so a long first header must be counted whichever fragment arrives last.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { socket, ipStats, ping, SOL_SOCKET, SO, type Kernel, type Socket, type Vnet, type VirtualClock } from "../host/index.js";
import { twoHosts, ipPacket, ether, mbufsInUse } from "./helpers/inet.js";
import { twoHosts6, ip6Packet, fragHdr, cat, cksum6, parseIPv6, ip6Stats, icmp6Stats, inet6Gauges } from "./helpers/inet6.js";

const ETHERTYPE_IP = 0x0800;
const NOPS40 = new Array<number>(40).fill(1);

/** A UDP datagram (checksum 0: none, RFC 768) of `data` bytes to port 9 of B. */
function udpDatagram(data: number): Uint8Array {
  const u = new Uint8Array(8 + data);
  const dv = new DataView(u.buffer);
  dv.setUint16(0, 4000);
  dv.setUint16(2, 9);
  dv.setUint16(4, u.length);
  for (let i = 8; i < u.length; i++) u[i] = i & 0xff;
  return u;
}

/**
 * The audit's repro: the first fragment has `firstOptions` (40 NOPs: IHL 15) and 1,440
 * payload bytes, the rest IHL 5 and 1,480 bytes, the payload ending at `end`.
 */
function fragments(end: number, firstOptions: number[], id: number): Uint8Array[] {
  const whole = udpDatagram(end - 8);
  const out = [ipPacket({ id, proto: 17, off: 0, mf: true, options: firstOptions, payload: whole.slice(0, 1440) })];
  for (let off = 1440; off < end; off += 1480) {
    const stop = Math.min(off + 1480, end);
    out.push(ipPacket({ id, proto: 17, off, mf: stop < end, payload: whole.slice(off, stop) }));
  }
  return out;
}

async function setup(): Promise<{ k: Kernel; B: Vnet; sock: Socket; inject: (p: Uint8Array) => void }> {
  const { k, B, ea, eb } = await twoHosts(1, ["if_epair", "inet", "udp"]);
  const sock = socket(k, B, "inet", "dgram", 17);
  sock.bind("0.0.0.0", 9);
  sock.setsockopt(SOL_SOCKET, SO.RCVBUF, 256 * 1024); // room for one 65,507-byte datagram
  return { k, B, sock, inject: (p) => void eb.receive(ether(ea, eb, ETHERTYPE_IP, p)) };
}

describe("IPv4 reassembly limit (RFC 791: 65,535 bytes with the first fragment's header)", () => {
  test("a 60-byte first header and a payload ending at 65,515 (65,575 bytes): dropped, toolong, nothing delivered", async () => {
    const { k, B, sock, inject } = await setup();
    const fr = fragments(65515, NOPS40, 0x4001);
    assert.equal(fr.length, 45);
    for (const f of fr) inject(f);
    const s = ipStats(k, B);
    assert.equal(s.reassembled, 0);
    assert.equal(s.toolong, 1);
    assert.equal(s.fragdropped, 45, "the whole datagram");
    assert.equal(sock.recv(), null, "no datagram delivered");
    assert.equal(mbufsInUse(k), 0);
    k.shutdown();
  });

  test("the same when the first fragment (with the long header) arrives last", async () => {
    const { k, B, sock, inject } = await setup();
    const fr = fragments(65515, NOPS40, 0x4002);
    for (const f of [...fr.slice(1), fr[0]]) inject(f);
    const s = ipStats(k, B);
    assert.equal(s.reassembled, 0);
    assert.equal(s.toolong, 1);
    assert.equal(s.fragdropped, 45);
    assert.equal(sock.recv(), null);
    assert.equal(mbufsInUse(k), 0);
    k.shutdown();
  });

  test("the largest datagram, 65,535 bytes (a 20-byte header, payload to 65,515), is reassembled and delivered", async () => {
    const { k, B, sock, inject } = await setup();
    for (const f of fragments(65515, [], 0x4003).reverse()) inject(f);
    assert.equal(ipStats(k, B).reassembled, 1);
    assert.equal(ipStats(k, B).toolong, 0);
    const d = sock.recv();
    assert.equal(d?.length, 65507);
    sock.close();
    assert.equal(mbufsInUse(k), 0);
    k.shutdown();
  });
});

// IPv6: the audit's repro has a 1,392-byte Destination Options header (unfragmentable part)
// before the Fragment header of the first fragment only; the payload ends at 65,535.
const ETHERTYPE_IPV6 = 0x86dd;

/** Destination Options of `len` bytes (a multiple of 8), filled with PadN options, naming nxt. */
function dstOpts(nxt: number, len: number): Uint8Array {
  const h = new Uint8Array(len);
  h[0] = nxt;
  h[1] = len / 8 - 1;
  for (let o = 2; o < len; ) {
    const n = Math.min(257, len - o);
    h[o] = 1; // PadN
    h[o + 1] = n - 2;
    o += n;
  }
  return h;
}

/** A UDP datagram of `data` bytes fd00::1 -> fd00::2 port 9, checksum right (RFC 8200 8.1). */
function udp6Datagram(data: number): Uint8Array {
  const u = udpDatagram(data);
  new DataView(u.buffer).setUint16(6, cksum6(parseIPv6("fd00::1", "src"), parseIPv6("fd00::2", "dst"), 17, u) || 0xffff);
  return u;
}

/** Fragments of one UDP datagram ending at `end`, the first carrying `unfrag` bytes of Destination Options, each frame at most 1,500 bytes. */
function fragments6(end: number, unfrag: number, ident: number): { packets: Uint8Array[]; offsets: number[] } {
  const whole = udp6Datagram(end - 8);
  const firstLen = Math.floor((1500 - 40 - unfrag - 8) / 8) * 8;
  const first = unfrag > 0 ? cat(dstOpts(44, unfrag), fragHdr(17, 0, true, ident), whole.slice(0, firstLen)) : cat(fragHdr(17, 0, true, ident), whole.slice(0, firstLen));
  const packets = [ip6Packet({ nxt: unfrag > 0 ? 60 : 44, payload: first })];
  const offsets = [0];
  for (let off = firstLen; off < end; off += 1448) {
    const stop = Math.min(off + 1448, end);
    packets.push(ip6Packet({ nxt: 44, payload: cat(fragHdr(17, off, stop < end, ident), whole.slice(off, stop)) }));
    offsets.push(off);
  }
  return { packets, offsets };
}

async function setup6() {
  const { k, A, B, ea, eb } = await twoHosts6(1, ["if_epair", "inet", "inet6", "udp"]);
  assert.equal((await ping(k, A, "fd00::2", { count: 1 })).received, 1); // ND both ways, so B's errors leave at once
  const sock = socket(k, B, "inet6", "dgram", 17);
  sock.bind("::", 9);
  sock.setsockopt(SOL_SOCKET, SO.RCVBUF, 256 * 1024);
  const out: Uint8Array[] = [];
  const cap = eb.capture();
  const reading = (async () => {
    for await (const f of cap) if (f.dir === "out") out.push(f.data);
  })();
  const stop = async () => {
    await cap.stop();
    await reading;
    return out;
  };
  return { k, A, B, sock, stop, inject: (p: Uint8Array) => void eb.receive(ether(ea, eb, ETHERTYPE_IPV6, p)) };
}

/** The ICMPv6 parameter problems among frames: [code, pointer, fragment offset of the quoted packet]. */
function paramProblems(frames: Uint8Array[]): [number, number, number][] {
  return frames
    .filter((f) => f[12] === 0x86 && f[13] === 0xdd && f[20] === 58 && f[54] === 4)
    .map((f) => {
      const dv = new DataView(f.buffer, f.byteOffset);
      const quoted = 62;
      assert.equal(f[quoted + 6], 44, "the quoted packet is a fragment");
      return [f[55], dv.getUint32(58), dv.getUint16(quoted + 40 + 2) & 0xfff8];
    });
}

describe("IPv6 reassembly limit (RFC 8200 4.5: unfragmentable part + offset + length <= 65,535)", () => {
  const UNFRAG = 1392;

  // FreeBSD's rules (frag6_07, frag6_08 in tests/conformance): each fragment that would end
  // past 65,535 gets its parameter problem and leaves, uncounted in ip6stat; the datagram
  // stays and times out with a time exceeded for its first fragment.
  test("a 1,392-byte unfragmentable part and a payload ending at 65,535: a parameter problem at each offending fragment's offset field, nothing delivered, the rest times out", async () => {
    const { k, B, sock, stop, inject } = await setup6();
    const { packets, offsets } = fragments6(65535, UNFRAG, 0x6001);
    const before = icmp6Stats(k, B).outhist;
    for (const p of packets) inject(p);
    // Those ending past 65,535 - 1,392 = 64,143.
    const bad = offsets.filter((o, i) => i > 0 && UNFRAG + Math.min(o + 1448, 65535) > 65535);
    assert.equal(bad.length, 2);
    assert.equal(icmp6Stats(k, B).outhist[3] - before[3], bad.length, "one parameter problem per offending fragment");
    assert.equal(ip6Stats(k, B).fragdropped, 0, "as FreeBSD, the error is their count");
    assert.equal(inet6Gauges(k, B).reassembling, 1, "the datagram stays, waiting");
    (k.clock as VirtualClock).advance(60_000_000);
    const s = ip6Stats(k, B);
    assert.equal(s.reassembled, 0);
    assert.equal(s.fragtimeout, packets.length - bad.length);
    assert.equal(icmp6Stats(k, B).outhist[2] - before[2], 1, "time exceeded for the first fragment");
    assert.deepEqual(paramProblems(await stop()), bad.map((o) => [0, 42, o]), "code 0, pointer at the Fragment Offset field (40 + 2)");
    assert.equal(sock.recv(), null);
    assert.equal(inet6Gauges(k, B).reassembling, 0);
    sock.close();
    assert.equal(mbufsInUse(k), 0);
    k.shutdown();
  });

  test("the first fragment arriving last re-checks the fragments held: each pushed past 65,535 gets a parameter problem and leaves, the first stays", async () => {
    const { k, B, sock, stop, inject } = await setup6();
    const { packets, offsets } = fragments6(65535, UNFRAG, 0x6002);
    const before = icmp6Stats(k, B).outhist;
    for (const p of packets.slice(1)) inject(p);
    assert.equal(inet6Gauges(k, B).reassembling, 1, "held: without the first fragment each is within 65,535");
    inject(packets[0]);
    assert.equal(icmp6Stats(k, B).outhist[3] - before[3], 2, "at once, for the two held fragments past 64,143");
    assert.equal(inet6Gauges(k, B).reassembling, 1, "the first fragment and the others stay");
    assert.equal(ip6Stats(k, B).fragdropped, 0);
    (k.clock as VirtualClock).advance(60_000_000);
    const s = ip6Stats(k, B);
    assert.equal(s.reassembled, 0);
    assert.equal(s.fragtimeout, packets.length - 2);
    assert.deepEqual(paramProblems(await stop()), offsets.slice(-2).map((o) => [0, 42, o]));
    assert.equal(sock.recv(), null);
    sock.close();
    assert.equal(mbufsInUse(k), 0);
    k.shutdown();
  });

  test("without the options header the same fragments make the largest payload, 65,535 bytes, delivered whole", async () => {
    const { k, B, sock, stop, inject } = await setup6();
    const { packets } = fragments6(65535, 0, 0x6003);
    for (const p of packets.reverse()) inject(p);
    assert.equal(ip6Stats(k, B).reassembled, 1);
    assert.deepEqual(paramProblems(await stop()), []);
    assert.equal(sock.recv()?.length, 65527);
    sock.close();
    assert.equal(mbufsInUse(k), 0);
    k.shutdown();
  });
});
