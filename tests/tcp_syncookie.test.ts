// SYN cookies (assembly/netinet/tcp/tcp_syncookie.ts, RFC 4987 3.6): a full listen queue
// answers SYNs with cookie SYN-ACKs and keeps no state; the returning ACK (or the first data
// segment, retransmitted until the queue has room) rebuilds the connection.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Socket } from "../host/index.js";
import { socket } from "../host/sockets/socket.js";
import { tcpStats, tcpState, tcpKnob, tcpConnections } from "../host/admin/tcp.js";
import { mbufsInUse } from "./helpers/inet.js";
import { tcpHosts, step, clock, finishTcp, tcpFrame } from "./helpers/tcp.js";

const dec = new TextDecoder();

describe("SYN cookies", () => {
  test("backlog 1 and 20 SYNs: cookies answer the overflow, every client gets in once the listener accepts", async () => {
    const { k, A, B } = await tcpHosts();
    const lsn = socket(k, B, "inet", "stream").bind("0.0.0.0", 80).listen(1);
    const clients = Array.from({ length: 20 }, () => socket(k, A, "inet", "stream"));
    for (const c of clients) c.connect("10.0.0.2", 80);
    step(k);
    const st = tcpStats(k, B);
    assert.ok(st.sc_sendcookie >= 18, `${st.sc_sendcookie} cookies sent`);
    for (const c of clients) assert.equal(tcpState(c), "ESTABLISHED", "a cookie SYN-ACK completes the client's handshake");
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
    assert.ok(b.sc_recvcookie >= 18, `${b.sc_recvcookie} connections made from cookies`);
    assert.equal(b.sc_badcookie, 0);
    assert.equal(tcpConnections(k, B).filter((c) => c.state === "ESTABLISHED").length, clients.length);
    for (const s of accepted) assert.equal(tcpState(s), "ESTABLISHED");
    // The MSS went through the cookie (1460 is in its table) and came back to both ends.
    assert.deepEqual(new Set([...tcpConnections(k, A), ...tcpConnections(k, B)].filter((c) => c.state === "ESTABLISHED").map((c) => c.maxseg)), new Set([1460]));
    // Options came back through the cookie: data flows both ways on a cookie connection.
    accepted[accepted.length - 1].send("reply");
    step(k);
    const last = clients.find((c) => { const r = c.recv(); return r !== null && r.length > 0 && dec.decode(r) === "reply"; });
    assert.ok(last, "the reply reached its client");
    finishTcp(k, ...clients, ...accepted, lsn);
    assert.equal(mbufsInUse(k), 0);
  });

  test("an ACK to a listener with a forged cookie is refused with a RST and counted", async () => {
    const { k, A, B, ea, eb } = await tcpHosts();
    const lsn = socket(k, B, "inet", "stream").bind("0.0.0.0", 80).listen(1);
    const rst0 = tcpStats(k, B).sndrst;
    eb.receive(tcpFrame({ from: ea, to: eb, src: "10.0.0.1", dst: "10.0.0.2", sport: 40000, dport: 80, seq: 1000, ack: 0x12345678, flags: 0x10 }));
    assert.equal(tcpStats(k, B).sc_badcookie, 1);
    assert.equal(tcpStats(k, B).sc_recvcookie, 0);
    assert.equal(tcpStats(k, B).sndrst - rst0, 1);
    assert.equal(lsn.accept(), null);
    void A;
    finishTcp(k, lsn);
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
