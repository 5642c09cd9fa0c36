// TCP at scale: what an idle connection costs and what is allocated only on demand, the
// per-vnet caps (net.inet.tcp.maxtcpcb, kern.ipc.maxsockets), ephemeral ports chosen per
// 4-tuple, and the listen table (specific address before wildcard, SO_REUSEPORT). Every
// test ends with the vnets destroyed and nothing leaked.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { type Kernel, type Socket, type Vnet } from "../host/index.js";
import { addAddress } from "../host/admin/inet.js";
import { socket, SOL_SOCKET, SO } from "../host/sockets/socket.js";
import { tcpStats, tcpConnections, tcpState, setCongestion, tcpKnob, maxSockets } from "../host/admin/tcp.js";
import { tcpHosts, clock, step, connectPair, pattern, sha256, pump } from "./helpers/tcp.js";

/** Items vnet v holds in zone z. */
function items(v: Vnet, z: string): number {
  return v.accounting().items[z] ?? 0;
}

/** The local port of a connected inet socket. */
function lport(s: Socket): number {
  const a = s.address();
  assert.ok(a && a.family === "inet", "an inet address");
  return a.port;
}

function zrow(v: Vnet, z: string) {
  const r = v.vmstatZ().find((x) => x.name === z);
  assert.ok(r, `zone ${z} is listed for ${v.name}`);
  return r;
}

/** Close everything, let TIME_WAIT run out, destroy the vnets (a leak throws) and shut down. */
function finish(k: Kernel, socks: Socket[], ...vs: Vnet[]): void {
  for (const s of socks) s.close();
  clock(k).runUntilIdle(200_000_000);
  for (const v of vs) {
    assert.equal(items(v, "tcpcb"), 0, `no tcpcb left in ${v.name}`);
    for (const z of ["tcpsb", "tcpsack", "cc_cubic"]) assert.equal(items(v, z), 0, `no ${z} item left in ${v.name}`);
    v.destroy();
  }
  k.shutdown();
}

/** Connect c to addr:port and return what the listener accepts (virtual time steps until then). */
function open(k: Kernel, c: Socket, lsn: Socket, addr: string, port: number): Socket {
  c.connect(addr, port);
  for (let i = 0; i < 100; i++) {
    const s = lsn.accept();
    if (s) return s;
    step(k);
  }
  throw new Error(`no connection to ${addr}:${port}`);
}

describe("memory per connection", () => {
  test("an idle established connection holds a 320-byte tcpcb and its socket; nothing on demand", async () => {
    const { k, A, B } = await tcpHosts();
    const { cli, srv, lsn } = connectPair(k, A, B);
    clock(k).advance(1_000_000);
    assert.equal(zrow(A, "tcpcb").size, 320);
    assert.equal(items(A, "tcpcb"), 1);
    for (const z of ["tcpsb", "tcpsack", "cc_cubic"]) {
      assert.equal(items(A, z), 0, `A holds no ${z}`);
      assert.equal(items(B, z), 0, `B holds no ${z}`);
    }
    finish(k, [cli, srv, lsn], A, B);
  });

  test("the SACK scoreboard and reassembly counts exist while losses are repaired, and go when they are", async () => {
    const { k, A, B, ea, eb } = await tcpHosts(3);
    ea.setConditions({ delayUs: 1000, loss: 0.03, reorder: 0.02 });
    eb.setConditions({ delayUs: 1000, loss: 0.03, reorder: 0.02 });
    const { cli, srv, lsn } = connectPair(k, A, B);
    const data = pattern(4_000_000);
    let peakA = 0;
    let peakB = 0;
    const r = pump(k, cli, srv, data, undefined, 0, () => {
      peakA = Math.max(peakA, items(A, "tcpsack"));
      peakB = Math.max(peakB, items(B, "tcpsack"));
      return false;
    });
    assert.equal(sha256(r.got), sha256(data));
    assert.ok(tcpStats(k, A).sack_recovery_episode > 0, "SACK recovery ran");
    assert.equal(peakA, 1, "the sender took a scoreboard block");
    assert.equal(peakB, 1, "the receiver took a block for its reassembly queue");
    // Idle again: everything acknowledged, nothing out of order.
    clock(k).advance(2_000_000);
    assert.equal(items(A, "tcpsack"), 0);
    assert.equal(items(B, "tcpsack"), 0);
    finish(k, [cli, srv, lsn], A, B);
  });

  test("a connection that outlives its socket with nothing unsent takes no send buffer of its own", async () => {
    const { k, A, B } = await tcpHosts();
    const { cli, srv, lsn } = connectPair(k, A, B);
    cli.send(pattern(1000));
    step(k);
    cli.close(); // everything acknowledged: FIN_WAIT_1, then FIN_WAIT_2 without a socket
    step(k);
    assert.equal(tcpConnections(k, A)[0]?.state, "FIN_WAIT_2");
    assert.equal(items(A, "tcpsb"), 0);
    assert.equal(srv.recv()?.length, 1000);
    srv.close();
    step(k);
    assert.equal(tcpConnections(k, A)[0]?.state, "TIME_WAIT");
    assert.equal(items(A, "tcpsb"), 0);
    finish(k, [lsn], A, B);
  });

  test("a connection that outlives its socket takes its unsent data into a tcpsb item, freed when it ends", async () => {
    const { k, A, B, ea, eb } = await tcpHosts();
    ea.setConditions({ delayUs: 5000 });
    eb.setConditions({ delayUs: 5000 });
    const { cli, srv, lsn } = connectPair(k, A, B);
    const data = pattern(20_000);
    assert.equal(cli.send(data), data.length);
    cli.close(); // FIN_WAIT_1 with data not yet acknowledged
    assert.equal(items(A, "tcpsb"), 1);
    const got: Uint8Array[] = [];
    let n = 0;
    for (let i = 0; i < 200 && n < data.length; i++) {
      for (let b = srv.recv(); b !== null && b.length > 0; b = srv.recv()) {
        got.push(b);
        n += b.length;
      }
      step(k);
    }
    step(k); // the last ACK
    assert.equal(sha256(got), sha256(data));
    assert.equal(tcpConnections(k, A)[0]?.state, "FIN_WAIT_2");
    srv.close();
    step(k);
    step(k);
    assert.equal(tcpConnections(k, A)[0]?.state, "TIME_WAIT");
    clock(k).advance(61_000_000);
    assert.equal(items(A, "tcpsb"), 0, "freed with the tcpcb");
    assert.equal(items(A, "tcpcb"), 0);
    finish(k, [lsn], A, B);
  });

  test("CUBIC's state is taken with TCP_CONGESTION cubic and returned with newreno; a listener's algorithm reaches its connections", async () => {
    const { k, A, B } = await tcpHosts();
    const lsn = socket(k, B, "inet", "stream").bind("0.0.0.0", 80).listen(8);
    setCongestion(lsn, "cubic");
    assert.equal(items(B, "cc_cubic"), 1);
    const cli = socket(k, A, "inet", "stream");
    const srv = open(k, cli, lsn, "10.0.0.2", 80);
    assert.equal(items(B, "cc_cubic"), 2, "the accepted connection is CUBIC too");
    setCongestion(cli, "cubic");
    assert.equal(items(A, "cc_cubic"), 1);
    setCongestion(cli, "newreno");
    assert.equal(items(A, "cc_cubic"), 0);
    const data = pattern(1_000_000);
    const r = pump(k, srv, cli, data);
    assert.equal(sha256(r.got), sha256(data));
    finish(k, [cli, srv, lsn], A, B);
  });
});

describe("teardown", () => {
  test("vnets destroyed mid-recovery, mid-close and with CUBIC connections leave no item, page or callout", async () => {
    const { k, A, B, ea, eb } = await tcpHosts(5);
    ea.setConditions({ delayUs: 2000, loss: 0.05 });
    eb.setConditions({ delayUs: 2000, loss: 0.05 });
    const { cli, srv, lsn } = connectPair(k, A, B);
    setCongestion(cli, "cubic");
    const data = pattern(3_000_000);
    // Send without reading until both sides hold on-demand state.
    let sent = 0;
    for (let i = 0; i < 400 && !(items(A, "tcpsack") > 0 && items(B, "tcpsack") > 0); i++) {
      const n = cli.send(data.subarray(sent, sent + 65536));
      if (n > 0) sent += n;
      for (let r = srv.recv(); r !== null && r.length > 0; r = srv.recv());
      step(k);
    }
    assert.equal(items(A, "tcpsack"), 1, "A in SACK recovery");
    assert.equal(items(B, "tcpsack"), 1, "B reassembling");
    assert.equal(items(A, "cc_cubic"), 1);
    // A second connection closed with data unsent: a tcpsb item in A.
    const c2 = socket(k, A, "inet", "stream");
    const s2 = open(k, c2, lsn, "10.0.0.2", 80);
    c2.send(pattern(50_000));
    c2.close();
    assert.equal(items(A, "tcpsb"), 1);
    void s2;
    tcpKnob(k, A, "tcbhashsize", 16384); // 16 pages of heads go with the vnet too
    A.destroy(); // LeakError if anything were left
    B.destroy();
    for (const z of ["socket", "tcpcb", "tcpsb", "tcpsack", "cc_cubic"]) {
      assert.equal(k.vmstatZ().find((r) => r.name === z)?.used, 0, `no ${z} item left in the kernel`);
    }
    assert.equal(k.k.callout_next(), -1, "no callout left");
    k.shutdown();
  });
});

describe("per-vnet caps", () => {
  test("net.inet.tcp.maxtcpcb: socket() past it is ENOBUFS, a handshake past it waits in the syncache; both counted", async () => {
    const { k, A, B } = await tcpHosts();
    assert.equal(tcpKnob(k, B, "maxtcpcb"), 65536, "the default");
    tcpKnob(k, B, "maxtcpcb", 2);
    assert.equal(tcpKnob(k, B, "maxtcpcb"), 2);
    assert.equal(zrow(B, "tcpcb").limit, 2);
    const lsn = socket(k, B, "inet", "stream").bind("0.0.0.0", 80).listen(8);
    const c1 = socket(k, A, "inet", "stream");
    const s1 = open(k, c1, lsn, "10.0.0.2", 80); // B: listener + s1 = 2 tcpcbs
    const failsBefore = zrow(B, "tcpcb").fails;
    const c2 = socket(k, A, "inet", "stream");
    c2.connect("10.0.0.2", 80);
    step(k);
    assert.equal(lsn.accept(), null);
    // The SYN was answered from the syncache; the ACK that would make the connection found
    // no tcpcb to be had and was dropped, the entry kept: its SYN-ACK goes again.
    assert.equal(tcpKnob(k, B, "syncache.count"), 1, "the embryonic connection waits in the syncache");
    assert.ok(tcpStats(k, B).listendrop >= 1, "counted as listendrop");
    assert.ok(zrow(B, "tcpcb").fails > failsBefore, "and as a tcpcb zone failure");
    assert.throws(() => socket(k, B, "inet", "stream"), (e: any) => e.code === "ENOBUFS");
    // Raised again: the client's answer to the retransmitted SYN-ACK gets in.
    tcpKnob(k, B, "maxtcpcb", 10);
    let s2: Socket | null = null;
    for (let i = 0; i < 20 && !s2; i++) {
      step(k);
      s2 = lsn.accept();
    }
    assert.ok(s2, "accepted after the limit went up");
    assert.throws(() => tcpKnob(k, B, "maxtcpcb", 0), /maxtcpcb: must be an integer from 1 to 2147483647/);
    finish(k, [c1, s1, c2, s2, lsn], A, B);
  });

  test("kern.ipc.maxsockets per vnet: socket() past it is ENOBUFS and counted; other vnets are not affected", async () => {
    const { k, A, B } = await tcpHosts();
    assert.equal(maxSockets(k, A), 65536, "the default");
    const open0 = items(A, "socket");
    assert.equal(maxSockets(k, A, open0 + 1), open0 + 1);
    const s1 = socket(k, A, "inet", "stream");
    const fails = zrow(A, "socket").fails;
    assert.throws(() => socket(k, A, "inet", "stream"), (e: any) => e.code === "ENOBUFS");
    assert.equal(zrow(A, "socket").fails, fails + 1);
    assert.throws(() => maxSockets(k, A, 0), /kern\.ipc\.maxsockets: must be an integer/);
    maxSockets(k, A, 65536);
    const s2 = socket(k, A, "inet", "stream");
    // A listener whose vnet is at its limit cannot make the new connection's socket.
    const lsn = socket(k, B, "inet", "stream").bind("0.0.0.0", 80).listen(8);
    maxSockets(k, B, items(B, "socket"));
    const dropsBefore = tcpStats(k, B).listendrop;
    const bFails = zrow(B, "socket").fails;
    s2.connect("10.0.0.2", 80); // the handshake runs inside the call
    assert.equal(lsn.accept(), null);
    assert.equal(tcpKnob(k, B, "syncache.count"), 1, "no socket for it: it waits in the syncache");
    assert.equal(tcpStats(k, B).listendrop, dropsBefore + 1);
    assert.equal(zrow(B, "socket").fails, bFails + 1);
    assert.equal(items(A, "socket"), open0 + 2, "A was not touched by B's limit");
    finish(k, [s1, s2, lsn], A, B);
  });
});

describe("connection hash size", () => {
  test("net.inet.tcp.tcbhashsize: resized under live connections, every one is still found", async () => {
    const { k, A, B } = await tcpHosts();
    assert.equal(tcpKnob(k, A, "tcbhashsize"), 1024, "the default");
    const lsn = socket(k, B, "inet", "stream").bind("0.0.0.0", 80).listen(128);
    const pairs: [Socket, Socket][] = [];
    for (let i = 0; i < 300; i++) {
      const c = socket(k, A, "inet", "stream");
      pairs.push([c, open(k, c, lsn, "10.0.0.2", 80)]);
    }
    const pagesBefore = A.accounting().pages;
    tcpKnob(k, A, "tcbhashsize", 16384);
    tcpKnob(k, B, "tcbhashsize", 4096);
    assert.equal(tcpKnob(k, A, "tcbhashsize"), 16384);
    assert.equal(A.accounting().pages, pagesBefore + 15, "16 pages of heads instead of 1");
    const ping = (grown: string) => {
      for (const [c, s] of pairs) {
        c.send("x");
        s.send("y");
      }
      step(k);
      for (const [c, s] of pairs) {
        assert.equal(s.recv()?.length, 1, `server side found after ${grown}`);
        assert.equal(c.recv()?.length, 1, `client side found after ${grown}`);
      }
    };
    ping("growing");
    tcpKnob(k, A, "tcbhashsize", 1024);
    assert.equal(A.accounting().pages, pagesBefore);
    ping("shrinking");
    for (const bad of [0, 1000, 2048 + 1, 32768]) {
      assert.throws(() => tcpKnob(k, A, "tcbhashsize", bad), /tcbhashsize: must be (an integer from 1024 to 16384|a power of two)/, `${bad} refused`);
    }
    assert.equal(tcpKnob(k, A, "tcbhashsize"), 1024);
    finish(k, [...pairs.flat(), lsn], A, B);
  });
});

describe("ephemeral ports per 4-tuple", () => {
  test("a local port serves several destinations; exhausted for one destination, the others still connect", async () => {
    const { k, A, B } = await tcpHosts();
    const l80 = socket(k, B, "inet", "stream").bind("0.0.0.0", 80).listen(128);
    const l81 = socket(k, B, "inet", "stream").bind("0.0.0.0", 81).listen(128);
    const held: Socket[] = [];
    const ports = new Set<number>();
    // All 16,384 ephemeral ports (49152-65535) to B:80.
    for (let i = 0; i < 16384; i++) {
      const c = socket(k, A, "inet", "stream");
      const s = open(k, c, l80, "10.0.0.2", 80);
      ports.add(lport(c));
      held.push(c, s);
    }
    assert.equal(ports.size, 16384);
    // None left for B:80 ...
    const c = socket(k, A, "inet", "stream");
    assert.throws(() => c.connect("10.0.0.2", 80), (e: any) => e.code === "EADDRNOTAVAIL");
    c.close();
    // ... but B:81 is another 4-tuple: it takes a port already used towards B:80.
    const d = socket(k, A, "inet", "stream");
    const t = open(k, d, l81, "10.0.0.2", 81);
    assert.ok(ports.has(lport(d)), "a port reused for another destination");
    assert.equal(tcpState(d), "ESTABLISHED");
    held.push(d, t);
    finish(k, [...held, l80, l81], A, B);
  });

  test("a port someone bound or listens on is never taken as ephemeral; bind() still sees connections' ports", async () => {
    const { k, A, B } = await tcpHosts();
    const lsn = socket(k, B, "inet", "stream").bind("0.0.0.0", 80).listen(8);
    const c1 = socket(k, A, "inet", "stream");
    const s1 = open(k, c1, lsn, "10.0.0.2", 80);
    const p = lport(c1);
    // The next two ports: one merely bound, one listening (on the wildcard).
    const next1 = p === 65535 ? 49152 : p + 1;
    const next2 = next1 === 65535 ? 49152 : next1 + 1;
    const b1 = socket(k, A, "inet", "stream").bind("10.0.0.1", next1);
    const b2 = socket(k, A, "inet", "stream").bind("0.0.0.0", next2).listen(1);
    const c2 = socket(k, A, "inet", "stream");
    const s2 = open(k, c2, lsn, "10.0.0.2", 80);
    assert.notEqual(lport(c2), next1);
    assert.notEqual(lport(c2), next2);
    // bind() semantics are unchanged: a connection's port conflicts unless SO_REUSEADDR.
    const b3 = socket(k, A, "inet", "stream");
    assert.throws(() => b3.bind("10.0.0.1", p), (e: any) => e.code === "EADDRINUSE");
    b3.setsockopt(SOL_SOCKET, SO.REUSEADDR, 1);
    b3.bind("10.0.0.1", p);
    finish(k, [c1, s1, c2, s2, b1, b2, b3, lsn], A, B);
  });
});

describe("ephemeral ports with many connections", () => {
  test("past 256 connections on ephemeral ports (per-port counts): bound and listened ports are still skipped, a TIME_WAIT port is not retaken for its 4-tuple, and the counts' pages go with the last connection", async () => {
    const { k, A, B } = await tcpHosts();
    const lsn = socket(k, B, "inet", "stream").bind("0.0.0.0", 80).listen(128);
    const l81 = socket(k, B, "inet", "stream").bind("0.0.0.0", 81).listen(8);
    const pages0 = A.accounting().pages;
    const held: Socket[] = [];
    for (let i = 0; i < 300; i++) {
      const c = socket(k, A, "inet", "stream");
      held.push(c, open(k, c, lsn, "10.0.0.2", 80));
    }
    assert.ok(A.accounting().pages >= pages0 + 4, "the counts' 4 pages are held");
    const p = lport(held[held.length - 2]);
    // The next two ports: one merely bound, one listening (on the wildcard).
    const next1 = p === 65535 ? 49152 : p + 1;
    const next2 = next1 === 65535 ? 49152 : next1 + 1;
    const b1 = socket(k, A, "inet", "stream").bind("10.0.0.1", next1);
    const b2 = socket(k, A, "inet", "stream").bind("0.0.0.0", next2).listen(1);
    const c2 = socket(k, A, "inet", "stream");
    const s2 = open(k, c2, lsn, "10.0.0.2", 80);
    assert.notEqual(lport(c2), next1);
    assert.notEqual(lport(c2), next2);
    // Every port once round (the other connections in TIME_WAIT): each next connect to B:80
    // skips the TIME_WAIT 4-tuples; one to B:81 may take such a port again.
    const first = held[0];
    const fp = lport(first);
    first.close();
    held[1].close();
    assert.ok(tcpConnections(k, A).some((r) => r.state === "TIME_WAIT" && r.localPort === fp), "its port held in TIME_WAIT");
    held.splice(0, 2);
    const seen = new Set<number>();
    for (let i = 0; i < 16384 - 300 - 3; i++) {
      const c = socket(k, A, "inet", "stream");
      const s = open(k, c, lsn, "10.0.0.2", 80);
      seen.add(lport(c));
      c.close();
      s.close(); // client first: each leaves a TIME_WAIT in A
    }
    assert.ok(!seen.has(fp), "the TIME_WAIT 4-tuple's port was not taken for B:80");
    const c3 = socket(k, A, "inet", "stream");
    assert.throws(() => c3.connect("10.0.0.2", 80), (e: any) => e.code === "EADDRNOTAVAIL");
    c3.close();
    const d = socket(k, A, "inet", "stream");
    const t = open(k, d, l81, "10.0.0.2", 81);
    assert.equal(tcpState(d), "ESTABLISHED");
    for (const s of [...held, c2, s2, b1, b2, d, t]) s.close();
    clock(k).runUntilIdle(200_000_000);
    assert.equal(items(A, "tcpcb"), 0);
    assert.equal(A.accounting().pages, pages0, "the counts' pages are gone with the last pcb on an ephemeral port");
    finish(k, [lsn, l81], A, B);
  });
});

describe("listen table", () => {
  test("a SYN finds the listener bound to its address before the wildcard one", async () => {
    const { k, A, B, eb } = await tcpHosts();
    addAddress(k, eb, "10.0.0.3/24");
    const wild = socket(k, B, "inet", "stream");
    wild.setsockopt(SOL_SOCKET, SO.REUSEPORT, 1);
    wild.bind("0.0.0.0", 90).listen(8);
    const spec = socket(k, B, "inet", "stream");
    spec.setsockopt(SOL_SOCKET, SO.REUSEPORT, 1);
    spec.bind("10.0.0.2", 90).listen(8);
    const c1 = socket(k, A, "inet", "stream");
    const s1 = open(k, c1, spec, "10.0.0.2", 90);
    assert.equal(wild.accept(), null, "not the wildcard listener");
    const c2 = socket(k, A, "inet", "stream");
    const s2 = open(k, c2, wild, "10.0.0.3", 90);
    assert.equal(spec.accept(), null);
    // Connections accepted on port 90 stay out of the listen table: the listener is still found.
    const more: Socket[] = [];
    for (let i = 0; i < 50; i++) {
      const c = socket(k, A, "inet", "stream");
      more.push(c, open(k, c, spec, "10.0.0.2", 90));
    }
    // Closed, the specific listener leaves the table and the wildcard takes its address.
    spec.close();
    const c3 = socket(k, A, "inet", "stream");
    const s3 = open(k, c3, wild, "10.0.0.2", 90);
    finish(k, [c1, s1, c2, s2, c3, s3, wild, ...more], A, B);
  });

  test("SO_REUSEPORT: of two listeners on one address and port the last to listen gets the SYN; closed, the other does", async () => {
    const { k, A, B } = await tcpHosts();
    const mk = () => {
      const l = socket(k, B, "inet", "stream");
      l.setsockopt(SOL_SOCKET, SO.REUSEPORT, 1);
      return l.bind("10.0.0.2", 91).listen(8);
    };
    const first = mk();
    const second = mk();
    const c1 = socket(k, A, "inet", "stream");
    const s1 = open(k, c1, second, "10.0.0.2", 91);
    assert.equal(first.accept(), null);
    second.close();
    const c2 = socket(k, A, "inet", "stream");
    const s2 = open(k, c2, first, "10.0.0.2", 91);
    // Without SO_REUSEPORT the second bind is refused, as before.
    const third = socket(k, B, "inet", "stream");
    assert.throws(() => third.bind("10.0.0.2", 91), (e: any) => e.code === "EADDRINUSE");
    // No listener at all: refused.
    first.close();
    const c3 = socket(k, A, "inet", "stream");
    assert.throws(() => c3.connect("10.0.0.2", 91), (e: any) => e.code === "ECONNREFUSED");
    finish(k, [c1, s1, c2, s2, third, c3], A, B);
  });
});
