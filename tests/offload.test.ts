// Offload between vnets (docs/tcp.md "Offload between vnets"): delayed checksums and large
// TCP segments (TSO) over an epair, and the software fallback wherever a packet leaves the
// kernel or is seen from outside: captures, forwarding to a smaller MTU or to an interface
// that does not offload, link conditions, bridges, fragmentation, lo0. Frames from the host
// never carry the offload marks: oversize and bad checksums from outside are still caught.
import { describe, test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Kernel, PcapngSink, type Interface } from "../host/index.js";
import { IFCAP, CSUM } from "../host/admin/ifnet.js";
import { socket } from "../host/sockets/socket.js";
import { tcpStats, tcpConnections } from "../host/admin/tcp.js";
import { udpStats } from "../host/admin/udp.js";
import { ipStats } from "../host/admin/inet.js";
import { ether, ipPacket, mbufsInUse } from "./helpers/inet.js";
import { tcpHosts, tcpRouted, connectPair, pattern, pump, sha256, step, finishTcp, tcpFrame } from "./helpers/tcp.js";
import { tsharkCheck, tsharkSkip } from "./helpers/tshark.js";
import { bridgeAdd, bridgeDel } from "../host/admin/bridge.js";

const dir = mkdtempSync(join(tmpdir(), "wavnet-offload-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const ALL = IFCAP.RXCSUM | IFCAP.TXCSUM | IFCAP.TSO4 | IFCAP.RXCSUM_IPV6 | IFCAP.TXCSUM_IPV6 | IFCAP.TSO6;
/** What an epair end assists with everything on: both families (IPv6: tests/offload6.test.ts). */
const HW_ALL = CSUM.TCP | CSUM.UDP | CSUM.TSO | CSUM.TCP_IPV6 | CSUM.UDP_IPV6 | CSUM.TSO6;

/** Every frame a capture file holds: interface, frame length, and tshark's checksum verdicts. */
function frames(file: string) {
  // The payload is pattern bytes to port 80: tshark's HTTP dissector would read whichever
  // segment starts the capture as a request and may throw ("Malformed Packet") on it.
  const r = tsharkCheck(file, ["frame.interface_name", "frame.len", "ip.checksum.status", "tcp.checksum.status", "udp.checksum.status", "tcp.len"],
    ["--disable-protocol", "http"]);
  return { errors: r.errors, rows: r.rows.map(([ifname, len, ipst, tcpst, udpst, tcplen]) => ({ ifname, len: Number(len), ipst, tcpst, udpst, tcplen: Number(tcplen || 0) })) };
}

async function capturing(ifs: Interface[], name: string) {
  const file = join(dir, name);
  const sink = new PcapngSink(file);
  const caps = ifs.map((i) => i.capture({ pcapng: sink, ringSegments: 64 }));
  return {
    file,
    async stop() {
      for (const c of caps) await c.stop();
      await sink.close();
    },
  };
}

describe("offload between vnets", () => {
  test("an epair offers and assists checksum offload and TSO; a bulk transfer goes as large segments and arrives intact", async () => {
    const { k, A, B, ea, eb } = await tcpHosts();
    for (const e of [ea, eb]) {
      assert.equal(e.capabilities, ALL);
      assert.equal(e.capEnable, ALL);
      assert.equal(e.hwAssist, HW_ALL);
    }
    const { cli, srv, lsn } = connectPair(k, A, B);
    const ob0 = ea.counters();
    const data = pattern(4 << 20, 11);
    assert.equal(sha256(pump(k, cli, srv, data).got), sha256(data));
    const ob1 = ea.counters();
    const frames = ob1.opackets - ob0.opackets;
    assert.ok((ob1.obytes - ob0.obytes) / frames > 8000, `large frames left ea (${frames} frames)`);
    const a = tcpStats(k, A);
    const b = tcpStats(k, B);
    // Counted in MSS units: at least one segment per 1448 bytes, though far fewer frames.
    assert.ok(a.sndpack >= Math.floor(data.length / 1448), `sndpack ${a.sndpack}`);
    assert.equal(b.rcvbadsum, 0);
    assert.equal(ipStats(k, A).swcsum, 0, "no checksum computed in software between the vnets");
    assert.equal(ipStats(k, A).gso, 0);
    assert.equal(a.sndrexmitpack, 0);
    finishTcp(k, cli, srv, lsn);
  });

  test("a capture on either end sees only MTU-sized frames with correct IP and TCP checksums (tshark), and TSO comes back after", { skip: tsharkSkip }, async () => {
    for (const end of ["sender", "receiver"] as const) {
      const { k, A, B, ea, eb } = await tcpHosts();
      const { cli, srv, lsn } = connectPair(k, A, B);
      const warm = pattern(256 << 10, 1);
      assert.equal(sha256(pump(k, cli, srv, warm).got), sha256(warm));
      const tapped = end === "sender" ? ea : eb;
      const cap = await capturing([tapped], `tcp-${end}.pcapng`);
      assert.equal(ea.hwAssist & CSUM.TSO, 0, "no TSO while a capture is on either end");
      assert.equal(eb.hwAssist & CSUM.TSO, 0);
      const data = pattern(1 << 20, 2);
      assert.equal(sha256(pump(k, cli, srv, data).got), sha256(data));
      await cap.stop();
      assert.equal(ea.hwAssist & CSUM.TSO, CSUM.TSO, "TSO again once the capture is gone");
      const f = frames(cap.file);
      assert.deepEqual(f.errors, []);
      const tcp = f.rows.filter((r) => r.tcpst !== "");
      assert.ok(tcp.length > 700, `${tcp.length} TCP frames captured`);
      assert.ok(f.rows.every((r) => r.len <= 1514), `largest frame ${Math.max(...f.rows.map((r) => r.len))}`);
      assert.ok(tcp.every((r) => r.ipst === "1" && r.tcpst === "1"), "every IP and TCP checksum verified good");
      assert.ok(tcp.filter((r) => r.tcplen === 1448).length > 600, "full-sized segments");
      finishTcp(k, cli, srv, lsn);
    }
  });

  test("forwarding to a smaller MTU with TSO on the first hop: the router refuses pieces too big (DF), TCP lowers its MSS, the data arrives", async () => {
    const { k, A, R1, B, l1, l2 } = await tcpRouted(1280);
    assert.ok((l1[0].hwAssist & CSUM.TSO) !== 0, "first hop offers TSO");
    const lsn = socket(k, B, "inet", "stream").bind("0.0.0.0", 80).listen(8);
    const cli = socket(k, A, "inet", "stream");
    cli.connect("10.0.3.2", 80);
    let srv = null;
    for (let i = 0; i < 1000 && !srv; i++) {
      srv = lsn.accept();
      if (!srv) step(k);
    }
    assert.ok(srv);
    const ob0 = l1[0].counters();
    const data = pattern(2 << 20, 3);
    assert.equal(sha256(pump(k, cli, srv, data).got), sha256(data));
    const ob1 = l1[0].counters();
    assert.ok((ob1.obytes - ob0.obytes) / (ob1.opackets - ob0.opackets) > 4000, "A sent large segments");
    assert.ok(ipStats(k, R1).cantfrag >= 1, "the router refused the first 1500-byte pieces (DF)");
    assert.equal(tcpConnections(k, A).find((x) => x.state === "ESTABLISHED")!.maxseg, 1240);
    assert.ok(l2[0].counters().obytes / l2[0].counters().opackets > 4000, "R1 passed large segments on: the next epair offloads too");
    assert.equal(tcpStats(k, B).rcvbadsum, 0);
    finishTcp(k, cli, srv, lsn);
    assert.equal(mbufsInUse(k), 0);
  });

  test("forwarding out of an interface without offload: the router cuts the large segments in software; a capture there sees MTU-sized frames with good checksums", { skip: tsharkSkip }, async () => {
    const { k, A, R1, B, l1, l2 } = await tcpRouted(1500);
    l2[0].setCapEnable(0); // R1's side toward R2: no offload at all
    assert.equal(l2[0].hwAssist, 0);
    assert.equal(l2[1].hwAssist, 0, "R2's side neither: R1's end takes no unfinished checksums (-rxcsum)");
    const lsn = socket(k, B, "inet", "stream").bind("0.0.0.0", 80).listen(8);
    const cli = socket(k, A, "inet", "stream");
    cli.connect("10.0.3.2", 80);
    let srv = null;
    for (let i = 0; i < 1000 && !srv; i++) {
      srv = lsn.accept();
      if (!srv) step(k);
    }
    assert.ok(srv);
    const cap = await capturing([l2[1]], "router-out.pcapng"); // R2's end of the second link
    // A capture on l2 turns TSO off there, never on l1: A still sends large segments.
    assert.ok((l1[0].hwAssist & CSUM.TSO) !== 0);
    const data = pattern(1 << 20, 4);
    assert.equal(sha256(pump(k, cli, srv, data).got), sha256(data));
    await cap.stop();
    assert.ok(ipStats(k, R1).gso > 600, `R1 cut ${ipStats(k, R1).gso} segments in software`);
    assert.equal(ipStats(k, R1).cantfrag, 0);
    const f = frames(cap.file);
    assert.deepEqual(f.errors, []);
    const tcp = f.rows.filter((r) => r.tcpst !== "");
    assert.ok(tcp.length > 600);
    assert.ok(f.rows.every((r) => r.len <= 1514));
    assert.ok(tcp.every((r) => r.ipst === "1" && r.tcpst === "1"));
    assert.equal(tcpStats(k, B).rcvbadsum, 0);
    finishTcp(k, cli, srv, lsn);
    assert.equal(mbufsInUse(k), 0);
  });

  test("link conditions turn TSO off for their direction: loss acts on MTU-sized frames, and the transfer still completes", async () => {
    const { k, A, B, ea, eb } = await tcpHosts();
    const { cli, srv, lsn } = connectPair(k, A, B);
    ea.setConditions({ loss: 0.01 });
    assert.equal(ea.hwAssist & CSUM.TSO, 0);
    assert.equal(ea.hwAssist & CSUM.TCP, CSUM.TCP, "checksums still offloaded");
    assert.equal(eb.hwAssist & CSUM.TSO, CSUM.TSO, "the other direction keeps TSO");
    const ob0 = ea.counters();
    const data = pattern(1 << 20, 5);
    assert.equal(sha256(pump(k, cli, srv, data).got), sha256(data));
    const ob1 = ea.counters();
    assert.ok((ob1.obytes - ob0.obytes) / (ob1.opackets - ob0.opackets) <= 1514);
    assert.ok(ea.linkStats().lost > 0);
    assert.ok(tcpStats(k, A).sndrexmitpack > 0);
    ea.setConditions({});
    assert.equal(ea.hwAssist & CSUM.TSO, CSUM.TSO, "back once the conditions are cleared");
    finishTcp(k, cli, srv, lsn);
  });

  test("TSO on the first hop, loss on the next: the router cuts the segments, loss acts per frame, SACK recovers, the data arrives", async () => {
    const { k, A, R1, B, l1, l2 } = await tcpRouted(1500);
    l2[0].setConditions({ loss: 0.02 });
    assert.equal(l2[0].hwAssist & CSUM.TSO, 0);
    const lsn = socket(k, B, "inet", "stream").bind("0.0.0.0", 80).listen(8);
    const cli = socket(k, A, "inet", "stream");
    cli.connect("10.0.3.2", 80);
    let srv = null;
    for (let i = 0; i < 2000 && !srv; i++) {
      srv = lsn.accept();
      if (!srv) step(k);
    }
    assert.ok(srv);
    const ob0 = l1[0].counters();
    const data = pattern(4 << 20, 12);
    assert.equal(sha256(pump(k, cli, srv, data).got), sha256(data));
    const ob1 = l1[0].counters();
    assert.ok((ob1.obytes - ob0.obytes) / (ob1.opackets - ob0.opackets) > 2000, "A still sent large segments");
    assert.ok(l2[0].linkStats().lost > 20, `${l2[0].linkStats().lost} frames lost`);
    assert.ok(ipStats(k, R1).gso > 2000);
    const a = tcpStats(k, A);
    assert.ok(a.sack_recovery_episode > 0 && a.sndrexmitpack > 0, "losses were repaired by SACK recovery");
    assert.equal(tcpStats(k, B).rcvbadsum, 0);
    finishTcp(k, cli, srv, lsn);
    assert.equal(mbufsInUse(k), 0);
  });

  test("a bridge member's epair stops offloading (both ends) and starts again when it leaves", async () => {
    const k = await Kernel.boot({ config: ["if_epair", "if_bridge", "inet"], seed: 1 });
    const A = k.createVnet("A");
    const S = k.createVnet("S");
    const [ea, es] = k.epair(A, S);
    const [br] = S.ifcreate("bridge");
    assert.equal(ea.hwAssist, HW_ALL);
    bridgeAdd(k, br, es);
    assert.equal(ea.hwAssist, 0);
    assert.equal(es.hwAssist, 0);
    assert.equal(br.hwAssist, 0, "the bridge itself assists nothing");
    bridgeDel(k, br, es);
    assert.equal(ea.hwAssist, HW_ALL);
    k.shutdown();
  });

  test("a frame injected from the host longer than the MTU is dropped and counted, even shaped like a TSO segment of a live connection", async () => {
    const { k, A, B, ea, eb } = await tcpHosts();
    const { cli, srv, lsn } = connectPair(k, A, B);
    const c = tcpConnections(k, A).find((x) => x.state === "ESTABLISHED")!; // its sndMax is B's RCV.NXT
    const s0 = B.etherStats();
    const e0 = eb.counters().ierrors;
    const b0 = tcpStats(k, B).rcvbyte;
    const big = tcpFrame({ from: ea, to: eb, src: "10.0.0.1", dst: "10.0.0.2", sport: c.localPort, dport: 80, seq: c.sndMax, ack: 0, flags: 0x10, payload: pattern(4000, 9) });
    eb.receive(big);
    assert.equal(B.etherStats().oversize, s0.oversize + 1);
    assert.equal(eb.counters().ierrors, e0 + 1);
    assert.equal(tcpStats(k, B).rcvbyte, b0, "nothing reached TCP");
    // Sent by the host out of A's end (a BPF write) it is refused at output.
    assert.ok(ea.send(big) < 0);
    assert.equal(tcpStats(k, B).rcvbyte, b0);
    finishTcp(k, cli, srv, lsn);
  });

  test("a corrupted TCP checksum from outside is still caught, received directly or sent by the host through the epair", async () => {
    const { k, A, B, ea, eb } = await tcpHosts();
    const { cli, srv, lsn } = connectPair(k, A, B);
    const c = tcpConnections(k, A).find((x) => x.state === "ESTABLISHED")!; // its sndMax is B's RCV.NXT
    const seg = (badSum: boolean) => tcpFrame({ from: ea, to: eb, src: "10.0.0.1", dst: "10.0.0.2", sport: c.localPort, dport: 80, seq: c.sndMax, ack: 0, flags: 0x18, payload: pattern(100, 8), badSum });
    const bad0 = tcpStats(k, B).rcvbadsum;
    eb.receive(seg(true));
    assert.equal(tcpStats(k, B).rcvbadsum, bad0 + 1);
    ea.send(seg(true)); // through the epair: no offload marks on a host frame
    assert.equal(tcpStats(k, B).rcvbadsum, bad0 + 2);
    assert.equal(srv.recv(), null, "no data delivered");
    finishTcp(k, cli, srv, lsn);
  });

  test("offload off (ifconfig -txcsum -rxcsum -tso): checksums computed and checked in software, same bytes", async () => {
    const { k, A, B, ea, eb } = await tcpHosts();
    ea.setCapEnable(0);
    eb.setCapEnable(0);
    assert.equal(ea.hwAssist, 0);
    const { cli, srv, lsn } = connectPair(k, A, B);
    const data = pattern(1 << 20, 6);
    assert.equal(sha256(pump(k, cli, srv, data).got), sha256(data));
    assert.ok(ipStats(k, A).swcsum > 700, "every segment's checksum made in software");
    assert.ok(ipStats(k, B).swcsum > 100, "and every ACK's");
    assert.equal(tcpStats(k, B).rcvbadsum, 0);
    ea.setCapEnable(ALL);
    assert.equal(ea.hwAssist, 0, "the peer still refuses unfinished checksums (-rxcsum)");
    eb.setCapEnable(IFCAP.RXCSUM);
    assert.equal(ea.hwAssist, CSUM.TCP | CSUM.UDP, "nor large frames (-tso)");
    eb.setCapEnable(IFCAP.RXCSUM | IFCAP.TSO4);
    assert.equal(ea.hwAssist, CSUM.TCP | CSUM.UDP | CSUM.TSO);
    assert.equal(eb.hwAssist, 0, "eb itself sends finished packets (-txcsum)");
    finishTcp(k, cli, srv, lsn);
  });

  test("UDP: checksums left to the epair; a capture shows them right; lo0, fragments and a bad checksum from outside are handled", { skip: tsharkSkip }, async () => {
    const { k, A, B, ea, eb } = await tcpHosts();
    await k.kldload("udp");
    const rx = socket(k, B, "inet", "dgram").bind("0.0.0.0", 7);
    const tx = socket(k, A, "inet", "dgram");
    const cap = await capturing([ea, eb], "udp.pcapng");
    const small = pattern(100, 1);
    const big = pattern(4000, 2); // fragmented: the checksum is completed before
    tx.sendto(small, "10.0.0.2", 7);
    tx.sendto(big, "10.0.0.2", 7);
    assert.equal(sha256(rx.recvfrom()!.data), sha256(small));
    assert.equal(sha256(rx.recvfrom()!.data), sha256(big));
    assert.equal(ipStats(k, A).swcsum, 1, "only the fragmented datagram's checksum was made in software");
    assert.equal(udpStats(k, B).badsum, 0);
    // Over lo0 (no offload): completed in software, delivered.
    const lo = socket(k, B, "inet", "dgram");
    lo.sendto(small, "10.0.0.2", 7);
    assert.equal(sha256(rx.recvfrom()!.data), sha256(small));
    assert.equal(udpStats(k, B).badsum, 0);
    // From outside with a wrong checksum: dropped and counted.
    const u = new Uint8Array(8 + 4);
    const dv = new DataView(u.buffer);
    dv.setUint16(0, 9999);
    dv.setUint16(2, 7);
    dv.setUint16(4, u.length);
    dv.setUint16(6, 0x1234);
    ea.send(ether(ea, eb, 0x0800, ipPacket({ src: "10.0.0.1", dst: "10.0.0.2", proto: 17, payload: u })));
    assert.equal(udpStats(k, B).badsum, 1);
    await cap.stop();
    const f = frames(cap.file);
    // The bad datagram from the host is the one expected complaint (once per end).
    assert.equal(f.errors.filter((e) => !/checksum|Bad/i.test(e)).length, 0, f.errors.join("; "));
    const udp = f.rows.filter((r) => r.udpst !== "");
    assert.equal(udp.filter((r) => r.udpst === "0").length, 2, "only the host's bad datagram, seen at both ends");
    assert.ok(udp.filter((r) => r.udpst === "1").length >= 4, "the stack's datagrams verify on both ends");
    rx.close();
    tx.close();
    lo.close();
    k.shutdown();
  });
});

