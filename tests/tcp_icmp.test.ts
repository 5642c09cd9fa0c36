// ICMP errors for TCP (tcp_inet_ctlinput, tcp_ctlerror, tcp_mtudisc): hard errors end a
// connection in SYN_SENT, soft errors are kept, errors quoting no segment in flight are
// ignored (RFC 5927), and fragmentation needed lowers the segment size (RFC 1191).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { socket } from "../host/sockets/socket.js";
import { tcpStats, tcpConnections, tcpState } from "../host/admin/tcp.js";
import { ipStats } from "../host/admin/inet.js";
import { ether, icmp, ipPacket, mbufsInUse } from "./helpers/inet.js";
import { tcpHosts, tcpRouted, tcpQuote, connectPair, pattern, pump, sha256, step, finishTcp } from "./helpers/tcp.js";

describe("ICMP errors", () => {
  async function synSent() {
    const env = await tcpHosts();
    env.ea.setConditions({ loss: 1 }); // the SYN goes nowhere: the ICMP below is the only answer
    const s = socket(env.k, env.A, "inet", "stream");
    s.connect("10.0.0.2", 80);
    const c = tcpConnections(env.k, env.A)[0];
    assert.equal(c.state, "SYN_SENT");
    let err = "";
    s.on("error", (e: { code: string }) => (err = e.code));
    const icmpFrom = (type: number, code: number, seq: number) =>
      env.ea.receive(ether(env.eb, env.ea, 0x0800, ipPacket({
        src: "10.0.0.2", dst: "10.0.0.1", proto: 1,
        payload: icmp(type, code, 0, ipPacket({ src: "10.0.0.1", dst: "10.0.0.2", proto: 6, payload: tcpQuote(c.localPort, 80, seq) })),
      })));
    return { ...env, s, c, icmpFrom, err: () => err };
  }

  test("port unreachable in SYN_SENT ends the connect with ECONNREFUSED (FreeBSD icmp_may_rst)", async () => {
    const { k, A, s, c, icmpFrom, err } = await synSent();
    icmpFrom(3, 3, c.sndUna + 7); // quotes a sequence number not in flight: ignored
    assert.equal(tcpState(s), "SYN_SENT");
    assert.equal(tcpStats(k, A).icmpignored, 1);
    icmpFrom(3, 3, c.sndUna);
    await new Promise((r) => setImmediate(r));
    assert.equal(err(), "ECONNREFUSED");
    assert.equal(tcpStats(k, A).icmpdrop, 1);
    finishTcp(k, s);
  });

  test("host unreachable is a soft error: kept in SYN_SENT, reported when the connect times out", async () => {
    const { k, A, s, c, icmpFrom, err } = await synSent();
    icmpFrom(3, 1, c.sndUna);
    assert.equal(tcpState(s), "SYN_SENT");
    assert.equal(tcpStats(k, A).icmpsoft, 1);
    for (let i = 0; i < 2000 && tcpState(s) === "SYN_SENT"; i++) step(k, 100_000_000);
    await new Promise((r) => setImmediate(r));
    assert.equal(err(), "EHOSTUNREACH");
    finishTcp(k, s);
  });

  test("our own interface's MTU shrinks under a connection: ip_output's EMSGSIZE lowers the segment size and the data still arrives", async () => {
    const { k, A, B, ea, eb } = await tcpHosts();
    const { cli, srv, lsn } = connectPair(k, A, B);
    assert.equal(sha256(pump(k, cli, srv, pattern(1 << 20)).got), sha256(pattern(1 << 20)));
    ea.setMtu(1000);
    eb.setMtu(1000);
    const d = pattern(1 << 20, 5);
    assert.equal(sha256(pump(k, cli, srv, d).got), sha256(d));
    assert.equal(tcpStats(k, A).mturesent, 1);
    assert.equal(tcpConnections(k, A)[0].maxseg, 960);
    finishTcp(k, cli, srv, lsn);
  });

  test("a smaller MTU on the path: DF segments draw fragmentation needed, TCP lowers its segment size and resends (RFC 1191)", async () => {
    const { k, A, R1, B } = await tcpRouted(1280);
    const lsn = socket(k, B, "inet", "stream").bind("0.0.0.0", 80).listen(8);
    const cli = socket(k, A, "inet", "stream");
    cli.connect("10.0.3.2", 80);
    let srv = null;
    for (let i = 0; i < 1000 && !srv; i++) {
      srv = lsn.accept();
      if (!srv) step(k);
    }
    assert.ok(srv);
    assert.equal(tcpConnections(k, A)[0].maxseg, 1460, "the MSS both ends offered");
    const data = pattern(1 << 20, 3);
    const r = pump(k, cli, srv, data);
    assert.equal(sha256(r.got), sha256(data));
    const a = tcpStats(k, A);
    assert.ok(a.mturesent >= 1);
    assert.equal(tcpConnections(k, A).find((x) => x.state === "ESTABLISHED")!.maxseg, 1240, "1280 - 20 - 20");
    assert.ok(ipStats(k, R1).cantfrag >= 1, "the router refused to fragment (DF)");
    assert.equal(ipStats(k, R1).fragmented, 0, "nothing was fragmented");
    finishTcp(k, cli, srv, lsn);
    assert.equal(mbufsInUse(k), 0);
  });
});
