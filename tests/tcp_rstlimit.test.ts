// RSTs to segments nobody wants are rate limited per vnet (net.inet.tcp.rst_limit, FreeBSD's
// badport_bandlim with icmplim 200): a flood of segments to a closed port must not become
// a flood of RSTs, each of which a VXLAN or WebSocket port pays for with a datagram (the
// audit's hping3 flood through a VXLAN port, issue 14 item 11). Frames are injected on B's
// epair end as if from A's wire.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { VirtualClock } from "../host/index.js";
import { tcpStats, tcpKnob, netstatSTcp } from "../host/admin/tcp.js";
import { twoHosts, mbufsInUse } from "./helpers/inet.js";
import * as W from "./fuzz/wire.js";

function seg(macA: string, macB: string, sport: number, flags: number): Uint8Array {
  const src = W.ip4("10.0.0.1");
  const dst = W.ip4("10.0.0.2");
  return W.ether(W.mac(macB), W.mac(macA), 0x0800, W.ipv4({
    src, dst, proto: 6, ttl: 64, id: sport,
    payload: W.tcp({ sport, dport: 9, seq: 1000, ack: 0, flags, win: 65535, data: new Uint8Array(0) }, { sum: "ok" }, { v6: false, src, dst }),
  }));
}

describe("RSTs to closed ports are rate limited (net.inet.tcp.rst_limit)", () => {
  test("1,000 SYNs to a closed port in one second get 200 RSTs, the rest counted in rstlimited; the next second gets 200 more", async () => {
    const { k, B, ea, eb } = await twoHosts(1, ["if_epair", "inet", "tcp"]);
    const clock = k.clock as VirtualClock;
    clock.advanceTo(Math.ceil(clock.now() / 1_000_000) * 1_000_000 + 1_000_000); // a whole second ahead of us
    assert.equal(tcpKnob(k, B, "rst_limit"), 200, "the default is FreeBSD's icmplim");
    const s0 = tcpStats(k, B);
    for (let i = 0; i < 1000; i++) eb.receive(seg(ea.mac, eb.mac, 20000 + i, W.TH.SYN));
    const s1 = tcpStats(k, B);
    assert.equal(s1.sndrst - s0.sndrst, 200, "200 RSTs sent");
    assert.equal(s1.rstlimited - s0.rstlimited, 800, "800 not sent, counted");
    assert.match(netstatSTcp(k, B), /800 resets not sent \(over rst_limit\)/);
    clock.advance(1_000_000);
    for (let i = 0; i < 300; i++) eb.receive(seg(ea.mac, eb.mac, 30000 + i, W.TH.ACK));
    const s2 = tcpStats(k, B);
    assert.equal(s2.sndrst - s1.sndrst, 200, "a new second, 200 more (an ACK to a closed port too)");
    assert.equal(s2.rstlimited - s1.rstlimited, 100);
    clock.advance(1_000_000);
    assert.equal(mbufsInUse(k), 0);
    k.shutdown();
  });

  test("rst_limit 0 removes the limit; a connect to a closed port is still refused at once", async () => {
    const { k, A, B, ea, eb } = await twoHosts(1, ["if_epair", "inet", "tcp"]);
    tcpKnob(k, B, "rst_limit", 0);
    const s0 = tcpStats(k, B);
    for (let i = 0; i < 500; i++) eb.receive(seg(ea.mac, eb.mac, 20000 + i, W.TH.SYN));
    assert.equal(tcpStats(k, B).sndrst - s0.sndrst, 500);
    assert.equal(tcpStats(k, B).rstlimited - s0.rstlimited, 0);
    tcpKnob(k, B, "rst_limit", 200);
    const err = await new Promise<NodeJS.ErrnoException>((resolve) => A.net.connect(9, "10.0.0.2").on("error", resolve));
    assert.equal(err.code, "ECONNREFUSED");
    (k.clock as VirtualClock).advance(1_000_000);
    k.shutdown();
  });
});
