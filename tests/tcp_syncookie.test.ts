// SYN cookies (assembly/netinet/tcp/tcp_syncookie.ts, RFC 4987 3.6): the ISS of every SYN-ACK the
// syncache sends, and with net.inet.tcp.syncookies_only (or no room in the syncache) all that
// is sent: the returning ACK (or the first data segment, retransmitted until the listen
// queue has room) rebuilds the connection.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Socket } from "../host/index.js";
import { socket } from "../host/sockets/socket.js";
import { tcpStats, tcpState, tcpKnob, tcpConnections } from "../host/admin/tcp.js";
import { mbufsInUse } from "./helpers/inet.js";
import { tcpHosts, step, clock, finishTcp, tcpFrame } from "./helpers/tcp.js";

const dec = new TextDecoder();

describe("SYN cookies", () => {
  for (const mode of ["syncache", "cookies only"] as const) {
    test(`backlog 1 and 20 SYNs (${mode}): every client gets in once the listener accepts, data intact`, async () => {
      const { k, A, B } = await tcpHosts();
      // The syncache keeps the 18 handshakes the queue cannot take and lets them in as it
      // drains; with net.inet.tcp.syncookies_only nothing is kept and cookies do it.
      if (mode === "cookies only") tcpKnob(k, B, "syncookies_only", 1);
      const lsn = socket(k, B, "inet", "stream").bind("0.0.0.0", 80).listen(1);
      const clients = Array.from({ length: 20 }, () => socket(k, A, "inet", "stream"));
      for (const c of clients) c.connect("10.0.0.2", 80);
      step(k);
      const st = tcpStats(k, B);
      assert.equal(st.sc_sendcookie, 20, "every SYN-ACK's ISS is a cookie (FreeBSD)");
      for (const c of clients) assert.equal(tcpState(c), "ESTABLISHED", "the SYN-ACK completes the client's handshake");
      assert.equal(tcpKnob(k, B, "syncache.count"), mode === "syncache" ? 18 : 0, "what the listen queue could not take waits in the syncache");
      // Each client says who it is, 50 ms apart; a client whose ACK met a full queue is let in
      // by its data segment, which it retransmits until the listener has accepted enough.
      const accepted: Socket[] = [];
      const heard = new Set<string>();
      const drain = () => {
        for (let s = lsn.accept(); s; s = lsn.accept()) accepted.push(s);
        for (const s of accepted) for (let r = s.recv(); r && r.length; r = s.recv()) heard.add(dec.decode(r));
      };
      clients.forEach((c, i) => {
        c.send(`client ${i}`);
        for (let t = clock(k).now() + 50_000; clock(k).now() < t; ) {
          drain();
          step(k, t - clock(k).now());
        }
      });
      for (let i = 0; i < 2000 && heard.size < clients.length; i++) {
        drain();
        step(k);
      }
      assert.equal(accepted.length, clients.length, "every client was accepted once");
      assert.equal(heard.size, clients.length, "and its data arrived");
      const b = tcpStats(k, B);
      if (mode === "syncache") {
        assert.equal(b.sc_completed, 20, "every connection made from its syncache entry");
        assert.equal(b.sc_recvcookie, 0);
      } else {
        assert.ok(b.sc_recvcookie >= 18, `${b.sc_recvcookie} connections made from cookies`);
        assert.equal(b.sc_added, 0, "nothing kept");
      }
      assert.ok(b.listendrop >= 18, "the full queue was counted");
      assert.equal(b.sc_badcookie, 0);
      assert.equal(tcpKnob(k, B, "syncache.count"), 0);
      assert.equal(tcpConnections(k, B).filter((c) => c.state === "ESTABLISHED").length, clients.length);
      for (const s of accepted) assert.equal(tcpState(s), "ESTABLISHED");
      // The MSS went through the syncache or the cookie (1460 is in its table) to both ends.
      assert.deepEqual(new Set([...tcpConnections(k, A), ...tcpConnections(k, B)].filter((c) => c.state === "ESTABLISHED").map((c) => c.maxseg)), new Set([1460]));
      // Options came back: data flows both ways on these connections.
      accepted[accepted.length - 1].send("reply");
      step(k);
      const last = clients.find((c) => { const r = c.recv(); return r !== null && r.length > 0 && dec.decode(r) === "reply"; });
      assert.ok(last, "the reply reached its client");
      finishTcp(k, ...clients, ...accepted, lsn);
      assert.equal(mbufsInUse(k), 0);
    });
  }

  test("forged cookies with the right time-slot bits but a wrong MAC are refused; a real cookie only on its own 4-tuple", async () => {
    const { k, A, B, ea, eb } = await tcpHosts();
    clock(k).advance(40_000_000); // a time slot other than 0 (the slot bits must be learned, not assumed)
    // Cookies only: every ACK without an entry is checked as a cookie (otherwise one is only
    // looked at within 30 s of a syncache overflow; tests/tcp_syncache.test.ts).
    tcpKnob(k, B, "syncookies_only", 1);
    const lsn = socket(k, B, "inet", "stream").bind("0.0.0.0", 80).listen(1);
    // A SYN from a port A does not use; the SYN-ACK's ISS is a cookie (captured on A's end).
    const cap = ea.capture();
    const frames: Uint8Array[] = [];
    const reading = (async () => { for await (const f of cap) frames.push(f.data); })();
    const seg = (sport: number, seq: number, ack: number, flags: number) =>
      eb.receive(tcpFrame({ from: ea, to: eb, src: "10.0.0.1", dst: "10.0.0.2", sport, dport: 80, seq, ack, flags, options: flags === 0x02 ? [2, 4, 0x05, 0xb4] : [] }));
    seg(40000, 1000, 0, 0x02);
    step(k);
    await cap.stop();
    await reading;
    const synack = frames.map((f) => new DataView(f.buffer, f.byteOffset, f.byteLength)).find((d) =>
      d.getUint16(12) === 0x0800 && d.getUint8(23) === 6 && d.getUint16(14 + 20 + 2) === 40000 && d.getUint8(14 + 20 + 13) === 0x12);
    assert.ok(synack, "the SYN was answered with a SYN-ACK");
    const cookie = synack.getUint32(14 + 20 + 4);
    assert.equal(synack.getUint32(14 + 20 + 8), 1001, "it acknowledges the SYN");
    assert.ok(tcpStats(k, B).sc_sendcookie >= 1, "a cookie was sent");
    const slotBits = cookie & 0x3ff; // MSS index, SACK, window shift, time slot: all plausible
    const before = tcpStats(k, B);
    const rst0 = before.sndrst;
    // 64 ACKs from fresh 4-tuples: the right low 10 bits, a MAC of random bits. And the
    // real cookie on other 4-tuples (the MAC covers ports and addresses).
    let x = 0x9e3779b9;
    let sent = 0;
    for (let i = 0; i < 64; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      const forged = (((x & 0x3fffff) << 10) | slotBits) >>> 0;
      if (forged === cookie) continue;
      seg(41000 + i, 5000 + i, forged + 1, 0x10);
      sent++;
    }
    seg(42000, 1001, cookie + 1, 0x10); // another source port
    seg(40000, 1002, cookie + 1, 0x10); // another peer ISN
    step(k);
    const after = tcpStats(k, B);
    assert.equal(after.sc_recvcookie, before.sc_recvcookie, "no forged cookie made a connection");
    assert.equal(after.sc_badcookie - before.sc_badcookie, sent + 2, "each counted as a bad cookie");
    assert.equal(after.sndrst - rst0, sent + 2, "each refused with a RST");
    assert.equal(lsn.accept(), null);
    assert.equal(tcpConnections(k, B).filter((c) => c.state === "ESTABLISHED" && c.foreignPort >= 40000 && c.foreignPort < 43000).length, 0, "no connection from a forged cookie");
    // The real cookie on its own 4-tuple is good: the connection is made.
    seg(40000, 1001, cookie + 1, 0x10);
    step(k);
    assert.equal(tcpConnections(k, B).filter((c) => c.state === "ESTABLISHED" && c.foreignPort === 40000).length, 1, "the genuine cookie is accepted");
    const s = lsn.accept();
    assert.ok(s, "and its connection accepted");
    finishTcp(k, s, lsn);
    void A;
  });

  test("with net.inet.tcp.syncookies 0 no cookie is sent", async () => {
    const { k, A, B } = await tcpHosts();
    tcpKnob(k, B, "syncookies", 0);
    const lsn = socket(k, B, "inet", "stream").bind("0.0.0.0", 80).listen(1);
    const clients = Array.from({ length: 4 }, () => socket(k, A, "inet", "stream"));
    for (const c of clients) c.connect("10.0.0.2", 80);
    step(k);
    assert.equal(tcpStats(k, B).sc_sendcookie, 0);
    assert.ok(tcpStats(k, B).listendrop >= 2);
    finishTcp(k, ...clients, lsn);
  });
});
