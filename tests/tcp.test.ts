// TCP (assembly/netinet/tcp): the state machine, data transfer, timers, RFC 5961 rules and
// malformed input, between two vnets over an epair in virtual time. Every test ends with
// the kernel shut down and nothing leaked (zones, pcbs, callouts).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Kernel, type Socket } from "../host/index.js";
import { socket, SOL_SOCKET, SO } from "../host/sockets/socket.js";
import { tcpStats, tcpConnections, tcpState, setKeepAlive, setNoDelay, setCongestion, netstatSTcp, netstatAnTcp, tcpKnob } from "../host/admin/tcp.js";
import { snapshot } from "./helpers/snapshot.js";
import { mbufsInUse } from "./helpers/inet.js";
import { tcpHosts, clock, step, connectPair, pattern, sha256, pump, tcpFrame } from "./helpers/tcp.js";

const dec = new TextDecoder();

/** Connections that are not CLOSED (a CLOSED tcpcb stays until the host closes its socket). */
function live(k: Kernel, v: import("../host/index.js").Vnet) {
  return tcpConnections(k, v).filter((c) => c.state !== "CLOSED");
}

function readAll(s: Socket): string {
  let out = "";
  for (let r = s.recv(); r !== null && r.length > 0; r = s.recv()) out += dec.decode(r);
  return out;
}

/** Close everything, let TIME_WAIT run out, and check nothing is left. */
function finish(k: Kernel, ...socks: Socket[]): void {
  for (const s of socks) s.close();
  clock(k).runUntilIdle(200_000_000);
  for (const v of k.vnets()) {
    if (v === k.vnet0) continue;
    assert.equal((k.module("tcp") as any).tcp_pcbcount(v.ptr), 0, `no tcpcb left in ${v.name}`);
  }
  k.shutdown();
}

describe("connections", () => {
  test("three-way handshake, data both ways, orderly close from the client; states on the way", async () => {
    const { k, A, B } = await tcpHosts();
    const { cli, srv, lsn } = connectPair(k, A, B);
    assert.equal(tcpState(cli), "ESTABLISHED");
    assert.equal(tcpState(srv), "ESTABLISHED");
    assert.deepEqual(srv.remoteAddress(), cli.address());
    assert.equal(cli.send("hello"), 5);
    step(k);
    assert.equal(readAll(srv), "hello");
    assert.equal(srv.send("world"), 5);
    step(k);
    assert.equal(readAll(cli), "world");
    cli.shutdown("write");
    step(k);
    assert.equal(tcpState(cli), "FIN_WAIT_2");
    assert.equal(tcpState(srv), "CLOSE_WAIT");
    assert.equal(srv.recv()?.length, 0, "EOF");
    const closedAt = clock(k).now(); // the FIN and its ACK cross inside close(): TIME_WAIT from here
    srv.close();
    step(k);
    assert.equal(tcpState(cli), "TIME_WAIT");
    const conns = live(k, A);
    assert.equal(conns.length, 1);
    assert.equal(conns[0].state, "TIME_WAIT");
    assert.match(netstatAnTcp(k, A), /tcp4 .*10\.0\.0\.1\.\d+ +10\.0\.0\.2\.80 +TIME_WAIT/);
    const sa = tcpStats(k, A);
    assert.equal(sa.connattempt, 1);
    assert.equal(tcpStats(k, B).accepts, 1);
    assert.match(netstatSTcp(k, B), /\t1 connection accepts/);
    // TIME_WAIT lasts 2MSL = 60 s.
    clock(k).advanceTo(closedAt + 60_000_000 - 1);
    assert.equal(live(k, A).length, 1);
    clock(k).advanceTo(closedAt + 60_000_000);
    assert.equal(live(k, A).length, 0);
    assert.equal(tcpState(cli), "CLOSED");
    finish(k, cli, lsn);
  });

  test("orderly close from the server: the client sees EOF, then closes; server ends in TIME_WAIT", async () => {
    const { k, A, B } = await tcpHosts();
    const { cli, srv, lsn } = connectPair(k, A, B);
    srv.send("bye");
    srv.close();
    step(k);
    assert.equal(readAll(cli), "bye");
    assert.equal(cli.recv()?.length, 0);
    assert.equal(tcpState(cli), "CLOSE_WAIT");
    cli.close();
    step(k);
    assert.deepEqual(tcpConnections(k, B).map((c) => c.state).sort(), ["LISTEN", "TIME_WAIT"]);
    assert.deepEqual(live(k, A), []);
    finish(k, lsn);
  });

  test("connect to a closed port is refused with a RST (ECONNREFUSED)", async () => {
    const { k, A, B } = await tcpHosts();
    const s = socket(k, A, "inet", "stream");
    assert.throws(() => s.connect("10.0.0.2", 81), (e: any) => e.code === "ECONNREFUSED");
    assert.equal(tcpStats(k, B).sndrst, 1);
    finish(k, s);
  });

  test("simultaneous open: both SYN_SENT, SYNs cross, both ESTABLISHED (RFC 9293 3.5)", async () => {
    const { k, A, B, ea, eb } = await tcpHosts();
    ea.setConditions({ delayUs: 5000 });
    eb.setConditions({ delayUs: 5000 });
    const a = socket(k, A, "inet", "stream").bind("10.0.0.1", 5000);
    const b = socket(k, B, "inet", "stream").bind("10.0.0.2", 6000);
    assert.equal(a.connect("10.0.0.2", 6000), false);
    assert.equal(b.connect("10.0.0.1", 5000), false);
    // The SYNs cross (each end SYN_SENT -> SYN_RCVD), then the SYN-ACKs do.
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) {
      clock(k).advance(1000);
      seen.add(`${tcpState(a)}/${tcpState(b)}`);
    }
    assert.ok(seen.has("SYN_RCVD/SYN_RCVD"), [...seen].join(" "));
    assert.equal(tcpState(a), "ESTABLISHED");
    assert.equal(tcpState(b), "ESTABLISHED");
    for (const v of [A, B]) {
      assert.equal(tcpStats(k, v).connects, 1);
      assert.equal(tcpStats(k, v).accepts, 0);
    }
    a.send("x");
    clock(k).advance(10_000);
    assert.equal(readAll(b), "x");
    // Simultaneous close: both FIN_WAIT_1 -> CLOSING -> TIME_WAIT.
    a.shutdown("write");
    b.shutdown("write");
    clock(k).advance(6000);
    assert.equal(tcpState(a), "CLOSING");
    clock(k).advance(20_000);
    assert.equal(tcpState(a), "TIME_WAIT");
    assert.equal(tcpState(b), "TIME_WAIT");
    // Two TIME_WAIT ends must not ACK each other's ACKs (RFC 9293 3.10.7.4: only a
    // retransmitted FIN is answered there).
    const acks = tcpStats(k, A).sndacks + tcpStats(k, B).sndacks;
    clock(k).advance(1_000_000);
    assert.equal(tcpStats(k, A).sndacks + tcpStats(k, B).sndacks, acks);
    finish(k, a, b);
  });

  test("half-close: the client stops sending, still receives the server's reply", async () => {
    const { k, A, B } = await tcpHosts();
    const { cli, srv, lsn } = connectPair(k, A, B);
    cli.send("request");
    cli.shutdown("write");
    step(k);
    assert.equal(readAll(srv), "request");
    assert.equal(srv.recv()?.length, 0);
    srv.send("reply after EOF");
    step(k);
    assert.equal(readAll(cli), "reply after EOF");
    srv.close();
    step(k);
    assert.equal(cli.recv()?.length, 0);
    finish(k, cli, lsn);
  });

  test("close with unread data sends RST; so does SO_LINGER 0 (the peer sees ECONNRESET)", async () => {
    const { k, A, B } = await tcpHosts();
    const { cli, srv, lsn } = connectPair(k, A, B);
    cli.send("unread");
    step(k);
    const errs: string[] = [];
    cli.on("error", (e) => errs.push(e.code));
    srv.close();
    step(k);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(errs, ["ECONNRESET"]);
    assert.throws(() => cli.send("x"), (e: any) => e.code === "ECONNRESET" || e.code === "EPIPE");
    const p = connectPair(k, A, B, 81);
    p.cli.setsockopt(SOL_SOCKET, SO.LINGER, 0);
    p.cli.close();
    step(k);
    assert.throws(() => p.srv.recv(), (e: any) => e.code === "ECONNRESET");
    assert.equal(live(k, A).length, 0, "no TIME_WAIT after an abort");
    finish(k, cli, lsn, p.srv, p.lsn);
  });

  test("TIME_WAIT holds the port: bind refuses without SO_REUSEADDR, allows with it; a new SYN reuses the 4-tuple", async () => {
    const { k, A, B } = await tcpHosts();
    const a = socket(k, A, "inet", "stream").bind("10.0.0.1", 7000);
    const lsn = socket(k, B, "inet", "stream").bind("0.0.0.0", 80).listen();
    a.connect("10.0.0.2", 80);
    step(k);
    const s = lsn.accept()!;
    a.close(); // active close: A ends in TIME_WAIT
    step(k);
    s.close();
    step(k);
    assert.equal(tcpConnections(k, A)[0].state, "TIME_WAIT");
    const b = socket(k, A, "inet", "stream");
    assert.throws(() => b.bind("10.0.0.1", 7000), (e: any) => e.code === "EADDRINUSE");
    b.setsockopt(SOL_SOCKET, SO.REUSEADDR, 1);
    b.bind("10.0.0.1", 7000);
    // Same 4-tuple while A still has it in TIME_WAIT: refused locally.
    assert.throws(() => b.connect("10.0.0.2", 80), (e: any) => e.code === "EADDRINUSE");
    b.close();
    // From the other side: B's old connection is gone, A's TIME_WAIT sees a new SYN with a
    // higher sequence number and gives the 4-tuple to it (RFC 6191).
    lsn.close();
    const l2 = socket(k, A, "inet", "stream");
    l2.setsockopt(SOL_SOCKET, SO.REUSEADDR, 1);
    l2.bind("0.0.0.0", 7000).listen();
    const c2 = socket(k, B, "inet", "stream");
    c2.bind("10.0.0.2", 80);
    c2.connect("10.0.0.1", 7000);
    step(k);
    const got = l2.accept();
    assert.ok(got, "accepted through the TIME_WAIT 4-tuple");
    assert.equal(tcpStats(k, A).tw_recycles, 1);
    finish(k, got!, l2, c2);
  });

  test("listen queue overflow without SYN cookies: SYNs beyond 3/2 of the backlog are dropped and retried; accept drains it", async () => {
    const { k, A, B } = await tcpHosts();
    tcpKnob(k, B, "syncookies", 0); // with cookies (the default): tests/tcp_syncookie.test.ts
    const lsn = socket(k, B, "inet", "stream").bind("0.0.0.0", 80).listen(2);
    const clients = Array.from({ length: 6 }, () => socket(k, A, "inet", "stream"));
    for (const c of clients) c.connect("10.0.0.2", 80);
    // Past the first SYN retransmission (1 s): one step() may stop earlier at another
    // callout (an IPv6 kernel's MLD reports).
    clock(k).advance(1_000_000);
    assert.equal(lsn.info().acceptQueue, 4, "3/2 x backlog, as FreeBSD's sonewconn");
    assert.ok(tcpStats(k, B).listendrop >= 3);
    const accepted: Socket[] = [];
    for (let i = 0; i < 200 && accepted.length < 6; i++) {
      for (let s = lsn.accept(); s; s = lsn.accept()) accepted.push(s);
      step(k);
    }
    assert.equal(accepted.length, 6, "every client got in once the queue drained");
    for (const c of clients) assert.equal(tcpState(c), "ESTABLISHED");
    finish(k, ...clients, ...accepted, lsn);
  });
});

describe("data transfer", () => {
  // The 100 MB (10^8 bytes) at both loss rates: about a second of test time each.
  for (const [loss, size] of [[0.01, 100_000_000], [0.05, 100_000_000]] as const) {
    test(`${size / 1e6} MB with ${loss * 100}% loss and 2% reordering each way in virtual time: SHA-256 equal at both ends`, async () => {
      const { k, A, B, ea, eb } = await tcpHosts(3);
      ea.setConditions({ delayUs: 1000, loss, reorder: 0.02 });
      eb.setConditions({ delayUs: 1000, loss, reorder: 0.02 });
      const { cli, srv, lsn } = connectPair(k, A, B);
      const data = pattern(size);
      const r = pump(k, cli, srv, data);
      assert.equal(r.bytes, data.length);
      assert.equal(sha256(r.got), sha256(data));
      const st = tcpStats(k, A);
      assert.ok(st.sndrexmitpack > 0, "losses were repaired");
      assert.ok(st.sack_recovery_episode > 0, "by SACK recovery (RFC 6675)");
      // And the other way.
      const back = pattern(size >> 2, 9);
      const r2 = pump(k, srv, cli, back);
      assert.equal(sha256(r2.got), sha256(back));
      finish(k, cli, srv, lsn);
      assert.equal(mbufsInUse(k), 0);
    });
  }

  test("1 MiB send and receive buffers: 32 MiB with no segment beyond the window and no retransmission", async () => {
    // Regression: the window-scale shift was sent in the SYN but not applied to our own
    // window field (rcv_scale stayed 0), so the peer scaled a raw window up by 2^5 and
    // sent past what the receiver had room for; the receiver dropped it (rcvpackafterwin).
    const { k, A, B } = await tcpHosts();
    const lsn = socket(k, B, "inet", "stream").bind("0.0.0.0", 5001).listen(8);
    lsn.setsockopt(SOL_SOCKET, SO.RCVBUF, 1 << 20); // inherited by the accepted socket
    const cli = socket(k, A, "inet", "stream");
    cli.setsockopt(SOL_SOCKET, SO.SNDBUF, 1 << 20);
    cli.connect("10.0.0.2", 5001);
    let srv: Socket | null = null;
    for (let i = 0; i < 1000 && !srv; i++) {
      srv = lsn.accept();
      if (!srv) step(k);
    }
    assert.ok(srv, "connection accepted");
    const a0 = tcpStats(k, A);
    const b0 = tcpStats(k, B);
    const total = 32 << 20;
    const chunk = pattern(65536);
    let sent = 0;
    let got = 0;
    const t0 = clock(k).now();
    while (got < total && clock(k).now() - t0 < 600_000_000) {
      let progress = false;
      while (sent < total) {
        const n = cli.send(chunk.subarray(0, Math.min(chunk.length, total - sent)));
        if (n <= 0) break;
        sent += n;
        progress = true;
      }
      for (let r = srv.recv(65536); r !== null && r.length > 0; r = srv.recv(65536)) {
        got += r.length;
        progress = true;
      }
      if (!progress) step(k);
    }
    assert.equal(got, total);
    const a1 = tcpStats(k, A);
    const b1 = tcpStats(k, B);
    assert.equal(b1.rcvpackafterwin - b0.rcvpackafterwin, 0, "no segment beyond B's window");
    assert.equal(b1.rcvbyteafterwin - b0.rcvbyteafterwin, 0, "no byte beyond B's window");
    assert.equal(a1.sndrexmitpack - a0.sndrexmitpack, 0, "no retransmission");
    assert.ok(a1.sndpack - a0.sndpack >= total / 1460, "the data went as new segments");
    finish(k, cli, srv, lsn);
    assert.equal(mbufsInUse(k), 0);
  });

  test("zero window: the sender probes (persist) and resumes when the reader reads", async () => {
    const { k, A, B } = await tcpHosts();
    const { cli, srv, lsn } = connectPair(k, A, B);
    const data = pattern(300_000);
    let sent = 0;
    for (let i = 0; i < 50; i++) {
      while (sent < data.length) {
        const n = cli.send(data.subarray(sent, sent + 65536));
        if (n <= 0) break;
        sent += n;
      }
      step(k);
    }
    const full = srv.info().rcvBytes;
    assert.ok(full >= 60000, `receiver full (${full})`);
    clock(k).advance(30_000_000);
    assert.equal(srv.info().rcvBytes, full, "nothing past the zero window");
    assert.ok(tcpStats(k, A).persisttimeo >= 2, "window probes while the window is zero");
    assert.ok(tcpStats(k, B).rcvwinprobe >= 2);
    // The reader reads: the window opens, the rest flows.
    const r = pump(k, cli, srv, data, 600_000_000, sent);
    assert.equal(sha256(r.got), sha256(data));
    finish(k, cli, srv, lsn);
  });

  test("Nagle holds small writes while data is unacknowledged; TCP_NODELAY sends them at once", async () => {
    const { k, A, B, ea, eb } = await tcpHosts();
    ea.setConditions({ delayUs: 10_000 });
    eb.setConditions({ delayUs: 10_000 });
    const { cli, srv, lsn } = connectPair(k, A, B);
    const before = tcpStats(k, A).sndpack;
    cli.send("a");
    cli.send("b");
    cli.send("c");
    assert.equal(tcpStats(k, A).sndpack - before, 1, "Nagle: one small segment outstanding");
    clock(k).advance(100_000);
    assert.equal(readAll(srv), "abc");
    setNoDelay(cli);
    const b2 = tcpStats(k, A).sndpack;
    cli.send("d");
    cli.send("e");
    assert.equal(tcpStats(k, A).sndpack - b2, 2);
    finish(k, cli, srv, lsn);
  });

  test("CUBIC is selectable per socket and moves data", async () => {
    const { k, A, B, ea } = await tcpHosts(5);
    ea.setConditions({ delayUs: 2000, loss: 0.01 });
    const { cli, srv, lsn } = connectPair(k, A, B);
    setCongestion(cli, "cubic");
    assert.equal(cli.getsockopt(6, 64), 1);
    const data = pattern(2 << 20);
    const r = pump(k, cli, srv, data);
    assert.equal(sha256(r.got), sha256(data));
    finish(k, cli, srv, lsn);
  });

  test("cwnd grows only while it limits sending (RFC 7661): a send-buffer-limited connection keeps a bounded window", async () => {
    const { k, A, B, ea, eb } = await tcpHosts(4);
    ea.setConditions({ delayUs: 1000 });
    eb.setConditions({ delayUs: 1000 });
    const { cli, srv, lsn } = connectPair(k, A, B);
    const sndbuf = 16384;
    cli.setsockopt(SOL_SOCKET, SO.SNDBUF, sndbuf);
    const data = pattern(8 << 20);
    let maxCwnd = 0;
    const r = pump(k, cli, srv, data, undefined, 0, () => {
      const c = tcpConnections(k, A).find((x) => x.state === "ESTABLISHED");
      if (c && c.cwnd > maxCwnd) maxCwnd = c.cwnd;
      return false;
    });
    assert.equal(sha256(r.got), sha256(data));
    // Never more than 16 KiB in flight: slow start may take cwnd to twice that plus one
    // ACK's worth, never to the megabytes an unlimited window would reach over 8 MiB.
    assert.ok(maxCwnd > 0, "cwnd was read");
    assert.ok(maxCwnd <= 4 * sndbuf, `cwnd reached ${maxCwnd} with at most ${sndbuf} bytes in flight`);
    finish(k, cli, srv, lsn);
  });
});

describe("timers", () => {
  test("RTO backs off exponentially (RFC 6298 5.5) and the connection times out after 12 retransmissions", async () => {
    const { k, A, B, ea } = await tcpHosts();
    const { cli, srv, lsn } = connectPair(k, A, B);
    ea.setConditions({ loss: 1 });
    const t0 = clock(k).now();
    cli.send("lost");
    const times: number[] = [];
    let last = 0;
    for (let i = 0; i < 400 && times.length < 5; i++) {
      step(k);
      const n = tcpStats(k, A).rexmttimeo;
      if (n !== last) {
        times.push(clock(k).now() - t0);
        last = n;
      }
    }
    // RTO floor 200 ms (srtt ~ 0 on an epair): 0.2, 0.6, 1.4, 3.0, 6.2 s.
    assert.deepEqual(times, [200_000, 600_000, 1_400_000, 3_000_000, 6_200_000]);
    let err = "";
    cli.on("error", (e) => (err = e.code));
    clock(k).advance(600_000_000);
    await new Promise((r) => setImmediate(r));
    assert.equal(err, "ETIMEDOUT");
    assert.equal(tcpStats(k, A).timeoutdrop, 1);
    ea.clearConditions();
    finish(k, cli, srv, lsn);
  });

  test("delayed ACK: one ACK for two segments, or after 40 ms for one", async () => {
    const { k, A, B } = await tcpHosts();
    const { cli, srv, lsn } = connectPair(k, A, B);
    setNoDelay(cli);
    const acks0 = tcpStats(k, B).sndacks + tcpStats(k, B).delack;
    cli.send("1");
    clock(k).advance(39_000);
    assert.equal(tcpStats(k, B).delack, 0);
    clock(k).advance(2_000);
    assert.equal(tcpStats(k, B).delack, 1);
    void acks0;
    finish(k, cli, srv, lsn);
  });

  test("keepalive drops a dead peer after idle + count x interval", async () => {
    const { k, A, B, ea, eb } = await tcpHosts();
    const { cli, srv, lsn } = connectPair(k, A, B);
    setKeepAlive(cli, true, { idle: 10, interval: 2, count: 3 });
    let err = "";
    cli.on("error", (e) => (err = e.code));
    // A live peer answers the probes: nothing happens.
    clock(k).advance(60_000_000);
    assert.ok(tcpStats(k, A).keepprobe >= 1);
    assert.equal(err, "");
    ea.setConditions({ loss: 1 });
    eb.setConditions({ loss: 1 });
    const t0 = clock(k).now();
    while (err === "" && clock(k).now() - t0 < 100_000_000) {
      step(k);
      await new Promise((r) => setImmediate(r));
    }
    assert.equal(err, "ETIMEDOUT");
    const took = clock(k).now() - t0;
    assert.ok(took >= 14_000_000 && took <= 17_000_000, `dropped after ${took} us`);
    assert.equal(tcpStats(k, A).keepdrops, 1);
    ea.clearConditions();
    eb.clearConditions();
    finish(k, cli, srv, lsn);
  });
});

describe("RFC 5961 and malformed segments", () => {
  async function established() {
    const env = await tcpHosts();
    const p = connectPair(env.k, env.A, env.B);
    const cport = (p.cli.address() as any).port as number;
    return { ...env, ...p, cport };
  }

  test("malformed segments are dropped and counted; the connection is unharmed", async () => {
    const { k, A, B, ea, eb, cli, srv, lsn, cport } = await established();
    const base = { from: ea, to: eb, src: "10.0.0.1", dst: "10.0.0.2", sport: cport, dport: 80, seq: 1, ack: 1, flags: 0x10 };
    const cases: [string, Parameters<typeof tcpFrame>[0], keyof ReturnType<typeof tcpStats>][] = [
      ["bad data offset (3)", { ...base, dataOffset: 3 }, "rcvbadoff"],
      ["data offset past the segment", { ...base, dataOffset: 15 }, "rcvbadoff"],
      ["bad checksum", { ...base, badSum: true, payload: new Uint8Array([1, 2, 3]) }, "rcvbadsum"],
      ["SYN+FIN", { ...base, flags: 0x03 }, "badsyn"],
      ["option length past the header", { ...base, options: [2, 8, 5, 0xb4] }, "rcvbadopt"],
      ["option length 0", { ...base, options: [8, 0, 0, 0] }, "rcvbadopt"],
      ["MSS option of the wrong length", { ...base, flags: 0x02, options: [2, 3, 5, 1] }, "rcvbadopt"],
    ];
    for (const [name, f, counter] of cases) {
      const before = tcpStats(k, B)[counter];
      eb.receive(tcpFrame(f));
      assert.equal(tcpStats(k, B)[counter] - before, 1, name);
    }
    assert.equal(tcpState(srv), "ESTABLISHED");
    cli.send("still fine");
    step(k);
    assert.equal(readAll(srv), "still fine");
    finish(k, cli, srv, lsn);
    void A;
  });

  test("an in-window RST that is not exact gets a challenge ACK and the connection lives; an out-of-window one is ignored; only RCV.NXT resets (RFC 5961 3.2)", async () => {
    const { k, A, B, ea, eb, cli, srv, lsn, cport } = await established();
    cli.send("x");
    step(k);
    assert.equal(readAll(srv), "x");
    // Everything A sent is acknowledged, so B's RCV.NXT is A's SND.MAX.
    const ca = tcpConnections(k, A).find((c) => c.localPort === cport)!;
    assert.equal(ca.sndUna, ca.sndMax, "nothing in flight");
    const rcvNxt = ca.sndMax >>> 0;
    const rst = (seq: number) => eb.receive(tcpFrame({ from: ea, to: eb, src: "10.0.0.1", dst: "10.0.0.2", sport: cport, dport: 80, seq: seq >>> 0, ack: 0, flags: 0x04 }));
    const st = () => tcpStats(k, B);
    // In the window but not at RCV.NXT: a challenge ACK, which reaches A; the connection stays.
    for (const off of [1, 1000, 30_000]) {
      const b = st();
      const a0 = tcpStats(k, A).rcvtotal;
      rst(rcvNxt + off);
      step(k);
      assert.equal(tcpState(srv), "ESTABLISHED", `RST at RCV.NXT + ${off} ignored`);
      assert.equal(st().challenge_acks - b.challenge_acks, 1, `RST at RCV.NXT + ${off}: one challenge ACK`);
      assert.equal(st().badrst - b.badrst, 1);
      assert.equal(tcpStats(k, A).rcvtotal - a0, 1, "the challenge ACK reached the peer");
    }
    // Out of the window (below RCV.NXT, or far above): ignored without an answer.
    for (const seq of [rcvNxt - 1, rcvNxt + 0x4000_0000]) {
      const b = st();
      rst(seq);
      step(k);
      assert.equal(tcpState(srv), "ESTABLISHED");
      assert.equal(st().challenge_acks, b.challenge_acks, "no challenge ACK outside the window");
      assert.equal(st().badrst - b.badrst, 1);
    }
    // A SYN on a synchronized connection: a challenge ACK (RFC 5961 4.2).
    const b = st();
    eb.receive(tcpFrame({ from: ea, to: eb, src: "10.0.0.1", dst: "10.0.0.2", sport: cport, dport: 80, seq: 0x1234_5678, ack: 0, flags: 0x02 }));
    assert.equal(st().challenge_acks - b.challenge_acks, 1, "SYN on an established connection: challenge ACK");
    assert.equal(tcpState(srv), "ESTABLISHED");
    cli.send("y");
    step(k);
    assert.equal(readAll(srv), "y", "data still flows");
    // Exactly RCV.NXT (now one byte further): the connection is reset.
    let err = "";
    srv.on("error", (e) => (err = e.code));
    rst(rcvNxt + 1);
    await new Promise((r) => setImmediate(r));
    assert.equal(err, "ECONNRESET", "a RST at RCV.NXT resets");
    assert.notEqual(tcpState(srv), "ESTABLISHED");
    finish(k, cli, srv, lsn);
  });
});

describe("module", () => {
  test("kldunload tcp is refused while sockets are open, then leaves nothing", async () => {
    const k = await Kernel.boot({ config: ["if_epair", "inet"], seed: 1 });
    k.reclaim();
    const before = snapshot(k);
    await k.kldload("tcp");
    const A = k.createVnet("A");
    const s = socket(k, A, "inet", "stream").bind("127.0.0.1", 80).listen();
    const c = socket(k, A, "inet", "stream");
    c.connect("127.0.0.1", 80);
    const a = s.accept()!;
    a.send("loopback");
    assert.equal(readAll(c), "loopback");
    assert.throws(() => k.kldunload("tcp"), /busy|EBUSY/i);
    c.close();
    a.close();
    s.close();
    // The closing connection (TIME_WAIT) does not hold the module.
    k.kldunload("tcp");
    A.destroy();
    k.reclaim();
    assert.deepEqual(snapshot(k), before);
    assert.equal(tcpKnob.length > 0, true);
    k.shutdown();
  });
});
