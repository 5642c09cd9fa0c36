// Offload between vnets over IPv6 (docs/tcp.md "Offload between vnets"): TCP and UDP leave
// their checksum to the epair (CSUM_TCP_IPV6 / CSUM_UDP_IPV6), TCP sends large segments
// (CSUM_IP6_TSO), the receiver trusts what an epair vouches for, a router passes the bits on
// or finishes the work in software, and everything seen from outside (captures, an interface
// without the capabilities, lo0, fragments) carries complete checksums. Captured frames are
// checked here by this file's own checksum code, not only by tshark.
import { describe, test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Kernel, readPcap, type Interface, type Vnet, type Socket } from "../host/index.js";
import { IFCAP, CSUM } from "../host/admin/ifnet.js";
import { socket } from "../host/sockets/socket.js";
import { tcpStats, tcpConnections } from "../host/admin/tcp.js";
import { udpStats } from "../host/admin/udp.js";
import { ip6Stats } from "../host/admin/inet6.js";
import { Commands, type CommandNode } from "../host/cli/commands.js";
import { ether, mbufsInUse } from "./helpers/inet.js";
import { cksum6, parseIPv6, twoHosts6, routed6 } from "./helpers/inet6.js";
import { pattern, pump, sha256, step, finishTcp } from "./helpers/tcp.js";
import { suiteConfig } from "./helpers/config.js";

const dir = mkdtempSync(join(tmpdir(), "wavnet-offload6-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const CONFIG = () => suiteConfig(["if_epair", "inet6", "tcp", "udp"], "GENERIC");
const CAPS6 = IFCAP.RXCSUM_IPV6 | IFCAP.TXCSUM_IPV6 | IFCAP.TSO6;
const HW6 = CSUM.TCP_IPV6 | CSUM.UDP_IPV6 | CSUM.TSO6;

/** A fd00::1/64 and B fd00::2/64 on one epair (helpers/inet6.ts), in this suite's kernel. */
const hosts6 = (seed = 1) => twoHosts6(seed, CONFIG());

/** A - R - B over IPv6 (helpers/inet6.ts's routed6 in this suite's kernel): l1 is A-R, l2 is R-B. */
async function routed6k(seed = 1) {
  const { k, A, R, B, a, ra, rb, b } = await routed6(seed, CONFIG());
  return { k, A, R, B, l1: [a, ra] as [Interface, Interface], l2: [rb, b] as [Interface, Interface] };
}

function connectPair6(k: Kernel, A: Vnet, B: Vnet, dst: string, port = 80): { cli: Socket; srv: Socket; lsn: Socket } {
  const lsn = socket(k, B, "inet6", "stream").bind("::", port).listen(8);
  const cli = socket(k, A, "inet6", "stream");
  cli.connect(dst, port);
  let srv: Socket | null = null;
  for (let i = 0; i < 2000 && !srv; i++) {
    srv = lsn.accept();
    if (!srv) step(k);
  }
  if (!srv) throw new Error("no connection");
  return { cli, srv, lsn };
}

interface Seen {
  len: number; // frame length
  plen: number; // IPv6 payload length
  nxt: number;
  sumOk: boolean; // the transport checksum verifies (pseudo-header included)
  tcpData: number; // TCP payload bytes (0 for UDP)
}

/** Parse an Ethernet/IPv6 frame and verify its TCP or UDP checksum independently. */
function inspect(f: Uint8Array): Seen | undefined {
  if (f.length < 54 || ((f[12] << 8) | f[13]) !== 0x86dd) return undefined;
  const ip = f.subarray(14);
  const plen = (ip[4] << 8) | ip[5];
  const nxt = ip[6];
  if (nxt !== 6 && nxt !== 17) return undefined;
  assert.equal(f.length, 14 + 40 + plen, "the frame is exactly as long as the payload length says");
  const l4 = ip.subarray(40, 40 + plen);
  const field = nxt === 6 ? (l4[16] << 8) | l4[17] : (l4[6] << 8) | l4[7];
  const sumOk = field !== 0 && cksum6(ip.subarray(8, 24), ip.subarray(24, 40), nxt, l4) === 0;
  const tcpData = nxt === 6 ? plen - ((l4[12] >> 4) << 2) : 0;
  return { len: f.length, plen, nxt, sumOk, tcpData };
}

async function capture(i: Interface, name: string) {
  const file = join(dir, name);
  const cap = i.capture({ pcap: file, ringSegments: 64 });
  return {
    async frames(): Promise<Seen[]> {
      await cap.stop();
      return readPcap(readFileSync(file)).packets.map((p) => inspect(p.data)).filter((x): x is Seen => x !== undefined);
    },
  };
}

describe("offload between vnets over IPv6", () => {
  test("an epair offers and assists IPv6 checksum offload and TSO6; a bulk transfer goes as large segments, SHA-256 equal, no software work", async () => {
    const { k, A, B, ea, eb } = await hosts6();
    for (const e of [ea, eb]) {
      assert.equal(e.capabilities & CAPS6, CAPS6);
      assert.equal(e.capEnable & CAPS6, CAPS6);
      assert.equal(e.hwAssist & HW6, HW6);
    }
    const { cli, srv, lsn } = connectPair6(k, A, B, "fd00::2");
    const ob0 = ea.counters();
    const data = pattern(4 << 20, 21);
    assert.equal(sha256(pump(k, cli, srv, data).got), sha256(data));
    const ob1 = ea.counters();
    const frames = ob1.opackets - ob0.opackets;
    assert.ok((ob1.obytes - ob0.obytes) / frames > 8000, `large frames left ea (${frames} frames)`);
    assert.ok(tcpStats(k, A).sndpack >= Math.floor(data.length / 1440), "counted in MSS-sized segments");
    assert.equal(tcpStats(k, B).rcvbadsum, 0);
    assert.equal(ip6Stats(k, A).swcsum, 0, "no checksum computed in software between the vnets");
    assert.equal(ip6Stats(k, A).gso, 0);
    assert.equal(ip6Stats(k, B).swcsum, 0, "nor for B's ACKs");
    finishTcp(k, cli, srv, lsn);
  });

  test("a capture on the sender's end: TSO6 stops, every frame MTU-sized with a correct TCP checksum and payload length, TSO6 back after", async () => {
    const { k, A, B, ea, eb } = await hosts6();
    const { cli, srv, lsn } = connectPair6(k, A, B, "fd00::2");
    const cap = await capture(ea, "tcp6-sender.pcap");
    assert.equal(ea.hwAssist & CSUM.TSO6, 0, "no TSO6 while a capture is on either end");
    assert.equal(eb.hwAssist & CSUM.TSO6, 0);
    assert.equal(ea.hwAssist & CSUM.TCP_IPV6, CSUM.TCP_IPV6, "checksums are still left to the epair");
    const data = pattern(1 << 20, 22);
    assert.equal(sha256(pump(k, cli, srv, data).got), sha256(data));
    const f = await cap.frames();
    assert.equal(ea.hwAssist & CSUM.TSO6, CSUM.TSO6, "TSO6 again once the capture is gone");
    const tcp = f.filter((x) => x.nxt === 6);
    assert.ok(tcp.length > 700, `${tcp.length} TCP frames captured`);
    assert.ok(tcp.every((x) => x.len <= 1514), `largest frame ${Math.max(...tcp.map((x) => x.len))}`);
    assert.deepEqual(tcp.filter((x) => !x.sumOk).length, 0, "every TCP checksum verifies (filled in for the capture)");
    assert.ok(tcp.filter((x) => x.tcpData === 1428 || x.tcpData === 1440).length > 600, "full-sized segments");
    assert.equal(ip6Stats(k, A).swcsum, 0, "the packets themselves went unfinished: only the capture's copy was filled in");
    finishTcp(k, cli, srv, lsn);
  });

  test("software fallback at the sender: an end without txcsum6/tso6 gets finished MSS-sized segments; a capture at the receiver verifies them", async () => {
    const { k, A, B, ea, eb } = await hosts6();
    ea.setCapEnable(ea.capEnable & ~(IFCAP.TXCSUM_IPV6 | IFCAP.TSO6));
    assert.equal(ea.hwAssist & HW6, 0);
    assert.equal(ea.hwAssist & CSUM.TSO, CSUM.TSO, "IPv4 offload is separate and stays");
    const { cli, srv, lsn } = connectPair6(k, A, B, "fd00::2");
    const cap = await capture(eb, "tcp6-fallback.pcap");
    const data = pattern(1 << 20, 23);
    assert.equal(sha256(pump(k, cli, srv, data).got), sha256(data));
    const f = (await cap.frames()).filter((x) => x.nxt === 6);
    assert.ok(ip6Stats(k, A).swcsum > 700, `A completed ${ip6Stats(k, A).swcsum} checksums in software`);
    assert.ok(f.length > 700 && f.every((x) => x.sumOk && x.len <= 1514));
    assert.equal(tcpStats(k, B).rcvbadsum, 0);
    finishTcp(k, cli, srv, lsn);
  });

  test("a router between two offloading epairs passes TSO6 segments on untouched; out of an interface without the caps it cuts them: payload lengths, sizes and checksums right", async () => {
    const { k, A, R, B, l1, l2 } = await routed6k();
    const { cli, srv, lsn } = connectPair6(k, A, B, "fd00:2::2");
    let data = pattern(2 << 20, 24);
    let o0 = l2[0].counters();
    assert.equal(sha256(pump(k, cli, srv, data).got), sha256(data));
    let o1 = l2[0].counters();
    assert.ok((o1.obytes - o0.obytes) / (o1.opackets - o0.opackets) > 8000, "R forwarded large segments");
    assert.equal(ip6Stats(k, R).gso, 0);
    assert.equal(ip6Stats(k, R).swcsum, 0);
    // R's end toward B loses its IPv6 offload: R finishes every segment itself.
    l2[0].setCapEnable(l2[0].capEnable & ~CAPS6);
    assert.equal(l2[0].hwAssist & HW6, 0);
    assert.ok((l1[0].hwAssist & CSUM.TSO6) !== 0, "A still sends large segments");
    const cap = await capture(l2[1], "tcp6-router-out.pcap");
    data = pattern(1 << 20, 25);
    o0 = l1[0].counters();
    assert.equal(sha256(pump(k, cli, srv, data).got), sha256(data));
    o1 = l1[0].counters();
    assert.ok((o1.obytes - o0.obytes) / (o1.opackets - o0.opackets) > 4000, "A sent large segments");
    const f = (await cap.frames()).filter((x) => x.nxt === 6);
    assert.ok(ip6Stats(k, R).gso > 600, `R cut ${ip6Stats(k, R).gso} segments in software`);
    assert.ok(f.length > 600);
    assert.ok(f.every((x) => x.len <= 1514 && x.sumOk), "MTU-sized, checksums complete");
    const mss = tcpConnections(k, A).find((x) => x.state === "ESTABLISHED")!.maxseg;
    // Pieces of ph_tso_segsz = MSS less the options each segment carries (timestamps).
    const sizes = f.filter((x) => x.tcpData > 0).map((x) => x.tcpData);
    const top = Math.max(...sizes);
    assert.ok(top <= mss && top >= mss - 40, `largest piece ${top}, MSS ${mss}`);
    assert.ok(sizes.filter((n) => n === top).length > 600, "nearly all pieces full-sized");
    assert.equal(ip6Stats(k, R).toobig, 0);
    assert.equal(tcpStats(k, B).rcvbadsum, 0);
    finishTcp(k, cli, srv, lsn);
    assert.equal(mbufsInUse(k), 0);
  });

  test("a smaller MTU out of the router: pieces too big get packet too big, TCP lowers its MSS, TSO6 goes on with smaller pieces", async () => {
    const { k, A, R, B, l1, l2 } = await routed6k();
    l2[0].setMtu(1280); // R's end only: B still advertises an MSS for 1500, A learns from R
    const { cli, srv, lsn } = connectPair6(k, A, B, "fd00:2::2");
    const data = pattern(2 << 20, 26);
    const o0 = l1[0].counters();
    assert.equal(sha256(pump(k, cli, srv, data).got), sha256(data));
    const o1 = l1[0].counters();
    assert.ok((o1.obytes - o0.obytes) / (o1.opackets - o0.opackets) > 4000, "A still sent large segments");
    assert.ok(ip6Stats(k, R).toobig >= 1, "R refused the first 1500-byte pieces");
    assert.ok(tcpConnections(k, A).find((x) => x.state === "ESTABLISHED")!.maxseg <= 1220);
    assert.equal(tcpStats(k, B).rcvbadsum, 0);
    finishTcp(k, cli, srv, lsn);
  });

  test("offload off on both ends: checksums computed and checked in software, same bytes", async () => {
    const { k, A, B, ea, eb } = await hosts6();
    ea.setCapEnable(ea.capEnable & ~CAPS6);
    eb.setCapEnable(eb.capEnable & ~CAPS6);
    assert.equal(ea.hwAssist & HW6, 0);
    const { cli, srv, lsn } = connectPair6(k, A, B, "fd00::2");
    const data = pattern(1 << 20, 27);
    assert.equal(sha256(pump(k, cli, srv, data).got), sha256(data));
    assert.ok(ip6Stats(k, A).swcsum > 700, "every segment's checksum made in software");
    assert.ok(ip6Stats(k, B).swcsum > 100, "and every ACK's");
    assert.equal(ip6Stats(k, A).gso, 0, "no TSO6 asked for: nothing to cut");
    assert.equal(tcpStats(k, B).rcvbadsum, 0);
    // The peer must take unfinished checksums (rxcsum6) before an end may leave them.
    ea.setCapEnable(ea.capEnable | CAPS6);
    assert.equal(ea.hwAssist & HW6, 0, "eb refuses (-rxcsum6)");
    eb.setCapEnable(eb.capEnable | IFCAP.RXCSUM_IPV6);
    assert.equal(ea.hwAssist & HW6, CSUM.TCP_IPV6 | CSUM.UDP_IPV6, "nor large frames (-tso6)");
    eb.setCapEnable(eb.capEnable | IFCAP.TSO6);
    assert.equal(ea.hwAssist & HW6, HW6);
    finishTcp(k, cli, srv, lsn);
  });

  test("a corrupted TCP/IPv6 checksum from outside is still caught: host frames carry no offload marks", async () => {
    const { k, A, B, ea, eb } = await hosts6();
    const { cli, srv, lsn } = connectPair6(k, A, B, "fd00::2");
    const c = tcpConnections(k, A).find((x) => x.state === "ESTABLISHED")!;
    const seg = new Uint8Array(20 + 50);
    const dv = new DataView(seg.buffer);
    dv.setUint16(0, c.localPort);
    dv.setUint16(2, 80);
    dv.setUint32(4, c.sndMax);
    seg[12] = 5 << 4;
    seg[13] = 0x18;
    dv.setUint16(14, 65535);
    const src = parseIPv6("fd00::1");
    const dst = parseIPv6("fd00::2");
    dv.setUint16(16, cksum6(src, dst, 6, seg) ^ 0x5555); // wrong on purpose
    const ip = new Uint8Array(40 + seg.length);
    ip[0] = 0x60;
    ip[4] = seg.length >> 8;
    ip[5] = seg.length & 0xff;
    ip[6] = 6;
    ip[7] = 64;
    ip.set(src, 8);
    ip.set(dst, 24);
    ip.set(seg, 40);
    const bad0 = tcpStats(k, B).rcvbadsum;
    eb.receive(ether(ea, eb, 0x86dd, ip));
    assert.equal(tcpStats(k, B).rcvbadsum, bad0 + 1);
    ea.send(ether(ea, eb, 0x86dd, ip)); // through the epair
    assert.equal(tcpStats(k, B).rcvbadsum, bad0 + 2);
    assert.equal(srv.recv(), null, "no data delivered");
    finishTcp(k, cli, srv, lsn);
  });

  test("UDP over IPv6: checksums left to the epair and trusted by the receiver; a capture, lo0 and a fragmented datagram see them complete; a bad one from outside is dropped", async () => {
    const { k, A, B, ea, eb } = await hosts6();
    const rx = socket(k, B, "inet6", "dgram").bind("::", 7);
    const tx = socket(k, A, "inet6", "dgram");
    const cap = await capture(eb, "udp6.pcap");
    const small = pattern(100, 1);
    const big = pattern(4000, 2); // fragmented: the checksum is completed before
    tx.sendto(small, "fd00::2", 7);
    tx.sendto(big, "fd00::2", 7);
    assert.equal(sha256(rx.recvfrom()!.data), sha256(small));
    assert.equal(sha256(rx.recvfrom()!.data), sha256(big));
    assert.equal(ip6Stats(k, A).swcsum, 1, "only the fragmented datagram's checksum was made in software");
    assert.equal(udpStats(k, B).badsum, 0);
    const lo = socket(k, B, "inet6", "dgram");
    lo.sendto(small, "fd00::2", 7); // our own address: lo0, which assists nothing
    assert.equal(sha256(rx.recvfrom()!.data), sha256(small));
    assert.equal(ip6Stats(k, B).swcsum, 1, "completed for lo0");
    assert.equal(udpStats(k, B).badsum, 0);
    const u = new Uint8Array(8 + 4);
    const dv = new DataView(u.buffer);
    dv.setUint16(0, 9999);
    dv.setUint16(2, 7);
    dv.setUint16(4, u.length);
    dv.setUint16(6, 0x1234);
    const ip = new Uint8Array(40 + u.length);
    ip[0] = 0x60;
    ip[5] = u.length;
    ip[6] = 17;
    ip[7] = 64;
    ip.set(parseIPv6("fd00::1"), 8);
    ip.set(parseIPv6("fd00::2"), 24);
    ip.set(u, 40);
    ea.send(ether(ea, eb, 0x86dd, ip));
    assert.equal(udpStats(k, B).badsum, 1);
    const f = (await cap.frames()).filter((x) => x.nxt === 17);
    assert.equal(f.length, 2, "the small datagram and the host's bad one (the big one went as fragments)");
    assert.equal(f.filter((x) => x.sumOk).length, 1, "the stack's datagram verifies, the host's does not");
    rx.close();
    tx.close();
    lo.close();
    k.shutdown();
  });

  test("ifconfig shows the IPv6 offload options and sets txcsum6, rxcsum6, tso6 like FreeBSD", async () => {
    const { k, A, ea, eb } = await hosts6();
    const cmds = new Commands(k);
    const node: CommandNode = { name: "a", vnet: A, interfaces: () => [{ name: "eth0", iface: ea }] };
    const out = await cmds.exec(node, "ifconfig eth0");
    assert.match(out, /\n\toptions=600303<RXCSUM,TXCSUM,TSO4,TSO6,RXCSUM_IPV6,TXCSUM_IPV6>\n/);
    assert.equal(await cmds.exec(node, "ifconfig eth0 -txcsum6 -tso6"), "");
    assert.equal(ea.capEnable & CAPS6, IFCAP.RXCSUM_IPV6);
    assert.equal(ea.hwAssist & HW6, 0);
    assert.match(await cmds.exec(node, "ifconfig eth0"), /\toptions=200103<RXCSUM,TXCSUM,TSO4,RXCSUM_IPV6>/);
    assert.equal(await cmds.exec(node, "ifconfig eth0 txcsum6 tso6"), "");
    assert.equal(ea.hwAssist & HW6, HW6);
    assert.equal(await cmds.exec(node, "ifconfig eth0 -tso"), "");
    assert.equal(ea.hwAssist & (CSUM.TSO | CSUM.TSO6), 0, "-tso: both TSO4 and TSO6");
    assert.equal(eb.hwAssist & (CSUM.TSO | CSUM.TSO6), 0, "the peer sends no large frames to an end without TSO either");
    k.shutdown();
  });
});
