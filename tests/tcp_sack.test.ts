// SACK (RFC 2018) and SACK-based loss recovery (RFC 6675) in assembly/netinet/tcp/tcp_sack.ts:
// negotiation, blocks sent for out-of-order data, the scoreboard, and recovery from a
// burst loss with fewer retransmitted bytes than NewReno alone.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { tcpStats, tcpKnob, setCongestion, tcpConnections } from "../host/admin/tcp.js";
import { mbufsInUse } from "./helpers/inet.js";
import { tcpHosts, connectPair, pattern, sha256, pumpWithBurst, finishTcp, tcpFrame, step } from "./helpers/tcp.js";

async function burstRun(sack: boolean, cc: "newreno" | "cubic" = "newreno") {
  const { k, A, B, ea, eb } = await tcpHosts(5);
  tcpKnob(k, A, "sack.enable", sack ? 1 : 0);
  tcpKnob(k, B, "sack.enable", sack ? 1 : 0);
  ea.setConditions({ delayUs: 5000, rateBps: 100e6 }); // frames spaced, so the burst is mid-window
  eb.setConditions({ delayUs: 5000 });
  const { cli, srv, lsn } = connectPair(k, A, B);
  setCongestion(cli, cc);
  const data = pattern(4 << 20, 11);
  const r = pumpWithBurst(k, cli, srv, data, ea, 1 << 20, 12);
  assert.equal(r.bytes, data.length);
  assert.equal(sha256(r.got), sha256(data));
  const a = tcpStats(k, A);
  const b = tcpStats(k, B);
  finishTcp(k, cli, srv, lsn);
  return { a, b };
}

describe("SACK", () => {
  for (const cc of ["newreno", "cubic"] as const) {
    test(`a burst loss is repaired with fewer retransmitted bytes with SACK than without (${cc}), RFC 6675`, async () => {
      const on = await burstRun(true, cc);
      const off = await burstRun(false, cc);
      assert.ok(on.a.sack_recovery_episode >= 1, "SACK recovery ran");
      assert.ok(on.a.sack_rexmits > 0 && on.a.sack_rcv_blocks > 0, "holes retransmitted from the scoreboard");
      assert.ok(on.b.sack_send_blocks > 0, "the receiver sent SACK blocks");
      assert.equal(off.a.sack_recovery_episode, 0);
      assert.equal(off.b.sack_send_blocks, 0, "no SACK blocks when SACK is off");
      assert.ok(on.a.sndrexmitbyte < off.a.sndrexmitbyte, `SACK ${on.a.sndrexmitbyte} < NewReno ${off.a.sndrexmitbyte} bytes retransmitted`);
    });
  }

  test("the receiver SACKs out-of-order data, the block with the latest arrival first (RFC 2018 4)", async () => {
    const { k, A, B, ea, eb } = await tcpHosts();
    tcpKnob(k, A, "rfc1323", 0); // no timestamps: room for 4 blocks
    tcpKnob(k, B, "rfc1323", 0);
    const { cli, srv, lsn } = connectPair(k, A, B);
    const cport = (cli.address() as { port: number }).port;
    const c = tcpConnections(k, A).find((x) => x.localPort === cport)!;
    const s = tcpConnections(k, B).find((x) => x.foreignPort === cport)!;
    const base = c.sndMax; // B's RCV.NXT
    const cap = eb.capture();
    const it = cap[Symbol.asyncIterator]();
    const seg = (off: number) => eb.receive(tcpFrame({
      from: ea, to: eb, src: "10.0.0.1", dst: "10.0.0.2", sport: cport, dport: 80, seq: (base + off) >>> 0, ack: s.sndMax, flags: 0x10,
      payload: new Uint8Array(100),
    }));
    for (const off of [1000, 3000, 2000, 5000]) seg(off);
    step(k);
    const acks: number[][][] = [];
    while (acks.length < 4) {
      const fr = (await it.next()).value;
      if (fr.dir !== "out") continue;
      const f = fr.data as Uint8Array;
      const tcp = f.subarray(14 + (f[14] & 15) * 4);
      const dv = new DataView(tcp.buffer, tcp.byteOffset);
      const blocks: number[][] = [];
      for (let o = 20; o < (tcp[12] >> 4) * 4; ) {
        if (tcp[o] === 1) { o++; continue; }
        if (tcp[o] === 5) for (let b = o + 2; b < o + tcp[o + 1]; b += 8) blocks.push([(dv.getUint32(b) - base) >>> 0, (dv.getUint32(b + 4) - base) >>> 0]);
        o += tcp[o + 1] || 1;
      }
      assert.equal(dv.getUint32(8), base >>> 0, "every ACK is for RCV.NXT");
      acks.push(blocks);
    }
    await cap.stop();
    assert.deepEqual(acks, [
      [[1000, 1100]],
      [[3000, 3100], [1000, 1100]],
      [[2000, 2100], [3000, 3100], [1000, 1100]],
      [[5000, 5100], [3000, 3100], [2000, 2100], [1000, 1100]],
    ]);
    assert.equal(tcpStats(k, B).sack_send_blocks, 10);
    finishTcp(k, cli, srv, lsn);
  });

  test("SACK blocks whose option length lies are dropped and counted; the connection is unharmed", async () => {
    const { k, A, B, ea, eb } = await tcpHosts();
    const { cli, srv, lsn } = connectPair(k, A, B);
    const before = tcpStats(k, B).rcvbadopt;
    const cport = (cli.address() as { port: number }).port;
    const bad = [
      [1, 1, 5, 9, 0, 0, 0, 1, 0, 0, 0, 2], // length 9: not 2 + 8n
      [1, 1, 5, 18, 0, 0, 0, 1, 0, 0, 0, 2], // says 2 blocks, holds 1 (past the header)
      [1, 1, 5, 2, 0, 0, 0, 0, 0, 0, 0, 0], // no block at all
    ];
    for (const options of bad) {
      eb.receive(tcpFrame({ from: ea, to: eb, src: "10.0.0.1", dst: "10.0.0.2", sport: cport, dport: 80, seq: 1, ack: 1, flags: 0x10, options }));
    }
    step(k);
    assert.equal(tcpStats(k, B).rcvbadopt - before, bad.length);
    cli.send("still fine");
    step(k);
    assert.equal(new TextDecoder().decode(srv.recv()!), "still fine");
    finishTcp(k, cli, srv, lsn);
    assert.equal(mbufsInUse(k), 0);
  });
});
