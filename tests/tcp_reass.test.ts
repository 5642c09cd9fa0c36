// The reassembly queue's limit (assembly/netinet/tcp/tcp_reass.ts): 512 out-of-order
// segments at most, but the segment at RCV.NXT is always taken (FreeBSD tcp_reass).
import { test } from "node:test";
import assert from "node:assert/strict";
import { tcpStats, SOL_SOCKET, SO } from "../host/index.js";
import { tcpHosts, connectPair, pattern, pump, pumpWithBurst, sha256, finishTcp } from "./helpers/tcp.js";

test("a full reassembly queue still takes the segment that fills the hole at RCV.NXT, so a burst loss in a 1 MiB window is repaired", async () => {
  const { k, A, B, ea, eb } = await tcpHosts();
  const { cli, srv, lsn } = connectPair(k, A, B);
  cli.setsockopt(SOL_SOCKET, SO.SNDBUF, 1 << 20);
  srv.setsockopt(SOL_SOCKET, SO.RCVBUF, 1 << 20);
  ea.setConditions({ delayUs: 5000, rateBps: 100e6 });
  eb.setConditions({ delayUs: 5000 });
  const data = pattern(4 << 20);
  // The window grows past 512 segments; then 12 frames are lost in a row.
  assert.equal(sha256(pump(k, cli, srv, data).got), sha256(data));
  const r = pumpWithBurst(k, cli, srv, data, ea, 1 << 20, 12);
  assert.equal(sha256(r.got), sha256(data), "every byte, in order");
  const a = tcpStats(k, A);
  const b = tcpStats(k, B);
  assert.ok(b.rcvreassfull > 0, "the queue was full (the case under test)");
  assert.equal(a.timeoutdrop, 0, "the connection survived");
  finishTcp(k, cli, srv, lsn);
});
