// `netstat -s -p tcp` text carries the SYN-cookie counters tcpStats() has (issue 14, item 12).
import { test } from "node:test";
import assert from "node:assert/strict";
import { socket, tcpStats, netstatSTcp, tcpState, tcpKnob } from "../host/index.js";
import { tcpHosts, step, tcpFrame } from "./helpers/tcp.js";

test("netstat -s -p tcp prints cookies sent, received and rejected, as tcpStats() counts them", async () => {
  const { k, A, B, ea, eb } = await tcpHosts();
  // Cookies only: every SYN is answered with a cookie and the syncache keeps nothing, so the
  // completing ACKs bring cookies back (with the syncache they would find their entries).
  tcpKnob(k, B, "syncookies_only", 1);
  const lsn = socket(k, B, "inet", "stream").bind("0.0.0.0", 80).listen(1);
  const clients = Array.from({ length: 6 }, () => socket(k, A, "inet", "stream"));
  for (const c of clients) c.connect("10.0.0.2", 80);
  step(k);
  for (const c of clients) assert.equal(tcpState(c), "ESTABLISHED");
  // The clients' data, retransmitted until the listener has room, brings their cookies back.
  for (const c of clients) c.send("hello");
  for (let i = 0; i < 200 && tcpStats(k, B).sc_recvcookie === 0; i++) {
    while (lsn.accept());
    step(k);
  }
  // A forged cookie ACK from outside: rejected.
  eb.receive(tcpFrame({ from: ea, to: eb, src: "10.0.0.1", dst: "10.0.0.2", sport: 40000, dport: 80, seq: 1000, ack: 0x12345678, flags: 0x10 }));
  const s = tcpStats(k, B);
  assert.ok(s.sc_sendcookie >= 4 && s.sc_recvcookie >= 1 && s.sc_badcookie >= 1, JSON.stringify([s.sc_sendcookie, s.sc_recvcookie, s.sc_badcookie]));
  const text = netstatSTcp(k, B);
  assert.match(text, new RegExp(`^\\t${s.sc_sendcookie} cookies sent$`, "m"));
  assert.match(text, new RegExp(`^\\t${s.sc_recvcookie} cookies received$`, "m"));
  assert.match(text, new RegExp(`^\\t${s.sc_badcookie} bad cookies rejected$`, "m"));
  for (const c of clients) c.close();
  lsn.close();
  k.shutdown();
});
