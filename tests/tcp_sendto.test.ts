// sendto() on TCP sockets, as FreeBSD's tcp_usr_send treats it: on a socket that never
// connected the address is an implied connect (tests/conformance tcp_socket__implied_connect);
// on a connection under way the address is ignored and the data goes to the peer (Linux's
// tcp_sendmsg does the same), where a datagram socket says EISCONN.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Kernel } from "../host/index.js";
import { socket } from "../host/sockets/socket.js";
import type { VirtualClock } from "../host/index.js";
import { mbufsInUse } from "./helpers/inet.js";

let k: Kernel;
before(async () => {
  k = await Kernel.boot({ config: ["inet", "tcp", "udp"] });
});
after(() => k.shutdown());

function settle(): void {
  for (let i = 0; i < 10; i++) (k.clock as VirtualClock).advance(1000);
}

test("sendto with an address on a connected TCP socket sends to the peer, whatever the address", () => {
  const v = k.createVnet("tcp-sendto");
  try {
    const s = socket(k, v, "inet", "stream");
    s.bind("127.0.0.1", 0);
    const port = (s.address() as { port: number }).port;
    s.listen(-1);
    const c = socket(k, v, "inet", "stream");
    c.connect("127.0.0.1", port);
    settle();
    const a = s.accept();
    assert.ok(a, "accepted");
    assert.equal(c.sendto("one", "127.0.0.1", port), 3, "the peer's own address");
    assert.equal(c.sendto("two", "127.0.0.9", 9), 3, "another address: ignored");
    // Nagle holds "two" until "one" is acknowledged (a delayed ACK): read until both are in.
    let got = "";
    for (let i = 0; i < 50 && got.length < 6; i++) {
      settle();
      got += new TextDecoder().decode(a.recv(16) ?? new Uint8Array());
    }
    assert.equal(got, "onetwo");
    // A datagram socket keeps EISCONN (FreeBSD's udp_send).
    const u = socket(k, v, "inet", "dgram");
    u.connect("127.0.0.1", 9);
    assert.throws(() => u.sendto("x", "127.0.0.1", 9), /EISCONN/);
    for (const x of [u, a, c, s]) x.close();
    settle();
  } finally {
    v.destroy();
  }
  assert.equal(mbufsInUse(k), 0);
});
