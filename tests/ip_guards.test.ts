// Bounds and checks of the network layer that no test caught when broken (the survivors of
// the first `npm run mutants`, issue 14): how many datagrams a vnet reassembles at once (both
// families), how many fragments one datagram may have, a non-first IPv4 fragment ending
// past 65,535 with the smallest header, and the TCP checksum over IPv6. Frames are injected
// on B's epair end as if from A's wire.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { VirtualClock } from "../host/index.js";
import { ipStats, inetGauges, ipReassKnob } from "../host/admin/inet.js";
import { ip6Stats, inet6Gauges, frag6Knob } from "../host/admin/inet6.js";
import { tcpStats } from "../host/admin/tcp.js";
import { twoHosts, mbufsInUse } from "./helpers/inet.js";
import { twoHosts6 } from "./helpers/inet6.js";
import * as W from "./fuzz/wire.js";

/** An IPv4 fragment from A (10.0.0.1) to B (10.0.0.2), UDP, id, offset in bytes. */
function frag4(macA: string, macB: string, id: number, off: number, len: number, mf: boolean): Uint8Array {
  return W.ether(W.mac(macB), W.mac(macA), 0x0800, W.ipv4({
    src: W.ip4("10.0.0.1"), dst: W.ip4("10.0.0.2"), proto: 17, ttl: 64, id, off: off >> 3, mf, payload: new Uint8Array(len).fill(0x33),
  }));
}

function frag6(macA: string, macB: string, ident: number, off: number, len: number, mf: boolean): Uint8Array {
  const src = W.ip6("fd00::1");
  const dst = W.ip6("fd00::2");
  return W.ether(W.mac(macB), W.mac(macA), 0x86dd, W.ipv6({ src, dst, nxt: 44, hlim: 64, payload: W.cat(W.frag6(17, off >> 3, mf, ident), new Uint8Array(len).fill(0x44)) }));
}

describe("IPv4 reassembly bounds", () => {
  test("at most net.inet.ip.maxfragpackets (64 here) datagrams are reassembled at once per vnet: the 65th pushes the oldest out", async () => {
    const { k, B, ea, eb } = await twoHosts(1, ["if_epair", "inet", "udp"]);
    assert.equal(ipReassKnob(k, B, "maxfragpackets"), 512, "the default");
    assert.equal(ipReassKnob(k, B, "maxfragpackets", 64), 64);
    assert.equal(ipReassKnob(k, B, "maxfragbucketsize"), 64, "the one bucket follows it");
    for (let id = 1; id <= 64; id++) eb.receive(frag4(ea.mac, eb.mac, id, 0, 64, true));
    assert.equal(inetGauges(k, B).reassembling, 64);
    const before = ipStats(k, B).fragdropped;
    eb.receive(frag4(ea.mac, eb.mac, 65, 0, 64, true));
    assert.equal(inetGauges(k, B).reassembling, 64, "still 64 held");
    assert.equal(ipStats(k, B).fragdropped - before, 1, "the oldest datagram's fragment was dropped to make room");
    // The oldest (id 1) is gone: id 2's last fragment completes it, id 1's completes nothing.
    const r0 = ipStats(k, B).reassembled;
    eb.receive(frag4(ea.mac, eb.mac, 2, 64, 8, false));
    assert.equal(ipStats(k, B).reassembled - r0, 1, "a datagram still held is completed");
    eb.receive(frag4(ea.mac, eb.mac, 1, 64, 8, false));
    assert.equal(ipStats(k, B).reassembled - r0, 1, "the one pushed out is not");
    (k.clock as VirtualClock).advance(120_000_000);
    assert.equal(inetGauges(k, B).reassembling, 0, "the rest time out");
    assert.equal(mbufsInUse(k), 0);
    k.shutdown();
  });

  test("a datagram of more than 64 fragments (IP_MAXFRAGSPERPACKET) is dropped whole", async () => {
    const { k, B, ea, eb } = await twoHosts(1, ["if_epair", "inet", "udp"]);
    for (let i = 0; i < 64; i++) eb.receive(frag4(ea.mac, eb.mac, 7, i * 8, 8, true));
    assert.equal(inetGauges(k, B).reassembling, 1);
    const before = ipStats(k, B).fragdropped;
    eb.receive(frag4(ea.mac, eb.mac, 7, 64 * 8, 8, true));
    assert.equal(inetGauges(k, B).reassembling, 0, "the datagram is gone");
    assert.equal(ipStats(k, B).fragdropped - before, 65, "its 64 fragments and the 65th counted as dropped");
    assert.equal(mbufsInUse(k), 0);
    k.shutdown();
  });

  test("a later fragment ending past 65,515 cannot fit behind even a 20-byte header: toolong before it takes a slot, so it pushes no held datagram out", async () => {
    const { k, B, ea, eb } = await twoHosts(1, ["if_epair", "inet", "udp"]);
    ipReassKnob(k, B, "maxfragpackets", 64);
    // The table full: 64 datagrams waiting for their last fragment.
    for (let id = 1; id <= 64; id++) eb.receive(frag4(ea.mac, eb.mac, id, 0, 64, true));
    const before = ipStats(k, B);
    // Offset 65,504 + 24 bytes = 65,528: 20 + 65,528 > 65,535.
    eb.receive(frag4(ea.mac, eb.mac, 100, 65504, 24, false));
    const after = ipStats(k, B);
    assert.equal(after.toolong - before.toolong, 1);
    assert.equal(inetGauges(k, B).reassembling, 64, "nothing held for it");
    // The oldest datagram was not pushed out to make room for a fragment that could never fit.
    eb.receive(frag4(ea.mac, eb.mac, 1, 64, 8, false));
    assert.equal(ipStats(k, B).reassembled - before.reassembled, 1, "the oldest held datagram still completes");
    // Ending at exactly 65,515 fits: held, waiting for the rest.
    eb.receive(frag4(ea.mac, eb.mac, 200, 65496, 19, false));
    assert.equal(ipStats(k, B).toolong, after.toolong);
    assert.equal(inetGauges(k, B).reassembling, 64);
    (k.clock as VirtualClock).advance(120_000_000);
    assert.equal(mbufsInUse(k), 0);
    k.shutdown();
  });
});

describe("IPv6 reassembly bounds", () => {
  test("at most net.inet6.ip6.maxfragpackets (64 here) datagrams are reassembled at once per vnet: the 65th pushes the oldest out", async () => {
    const { k, B, ea, eb } = await twoHosts6(1, ["if_epair", "inet6", "udp"]);
    assert.equal(frag6Knob(k, B, "maxfragpackets"), 512, "the default");
    assert.equal(frag6Knob(k, B, "maxfragpackets", 64), 64);
    (k.clock as VirtualClock).advance(5_000_000); // duplicate address detection done
    for (let id = 1; id <= 64; id++) eb.receive(frag6(ea.mac, eb.mac, id, 0, 64, true));
    assert.equal(inet6Gauges(k, B).reassembling, 64);
    const before = ip6Stats(k, B) as unknown as Record<string, number>;
    eb.receive(frag6(ea.mac, eb.mac, 65, 0, 64, true));
    assert.equal(inet6Gauges(k, B).reassembling, 64, "still 64 held");
    const after = ip6Stats(k, B) as unknown as Record<string, number>;
    assert.equal(after.fragoverflow - before.fragoverflow, 1, "the oldest datagram's fragment was dropped to make room");
    (k.clock as VirtualClock).advance(120_000_000);
    assert.equal(inet6Gauges(k, B).reassembling, 0);
    assert.equal(mbufsInUse(k), 0);
    k.shutdown();
  });
});

describe("TCP over IPv6 checks its checksum", () => {
  test("a segment with a wrong checksum is dropped and counted (rcvbadsum); with the right one it is answered", async () => {
    const { k, B, ea, eb } = await twoHosts6(1, ["if_epair", "inet6", "tcp"]);
    (k.clock as VirtualClock).advance(5_000_000);
    const src = W.ip6("fd00::1");
    const dst = W.ip6("fd00::2");
    const syn = (sum: "ok" | "bad") => W.ether(W.mac(eb.mac), W.mac(ea.mac), 0x86dd, W.ipv6({
      src, dst, nxt: 6, hlim: 64,
      payload: W.tcp({ sport: 40000, dport: 7, seq: 1000, ack: 0, flags: W.TH.SYN, win: 65535, data: new Uint8Array(0) }, { sum }, { v6: true, src, dst }),
    }));
    const b = tcpStats(k, B);
    eb.receive(syn("bad"));
    const a = tcpStats(k, B);
    assert.equal(a.rcvbadsum - b.rcvbadsum, 1, "counted in rcvbadsum");
    assert.equal(a.sndrst, b.sndrst, "and not answered");
    eb.receive(syn("ok"));
    assert.equal(tcpStats(k, B).sndrst - a.sndrst, 1, "a good SYN to a closed port is refused with a RST");
    (k.clock as VirtualClock).advance(10_000_000);
    k.shutdown();
  });
});
