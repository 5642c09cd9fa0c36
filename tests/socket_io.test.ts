// Moving bytes through the host socket API without waste: recvInto (the caller's buffer, no
// allocation), sends longer than the kernel's 64 KiB I/O buffer, partial sends, one-call
// socket identity (soh_stat), and the errors these calls give. TCP between two vnets over
// an epair in virtual time; datagrams over the kmod_proto fixture.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Kernel, ConfigError, Errno } from "../host/index.js";
import { socket, SocketClosedError, SocketError, SOL_SOCKET, SO, MSG, type Socket, type SocketExports } from "../host/sockets/socket.js";
import { tcpHosts, step, connectPair, pattern, sha256, finishTcp } from "./helpers/tcp.js";

const IOBUF = 65536;

/** Step the clock until the receiver holds n bytes (or give up after 1,000 steps). */
function waitFor(k: Kernel, s: Socket, n: number): void {
  for (let i = 0; i < 1000 && s.info().rcvBytes < n; i++) step(k);
  assert.equal(s.info().rcvBytes, n, `receiver holds ${n} bytes`);
}

describe("recvInto", () => {
  test("a short buffer takes exactly its length per call, in order; null when empty, 0 at end of stream", async () => {
    const { k, A, B } = await tcpHosts();
    const { cli, srv, lsn } = connectPair(k, A, B);
    const data = pattern(1000);
    assert.equal(cli.send(data), 1000);
    waitFor(k, srv, 1000);
    const buf = new Uint8Array(64);
    const got: number[] = [];
    for (let n = srv.recvInto(buf); n !== null; n = srv.recvInto(buf)) {
      assert.ok(n > 0 && n <= 64, `${n} bytes into a 64-byte buffer`);
      got.push(...buf.subarray(0, n));
    }
    assert.equal(got.length, 1000);
    assert.deepEqual(new Uint8Array(got), data, "bytes arrive whole and in order");
    assert.equal(srv.recvInto(buf), null, "EAGAIN is null");
    cli.shutdown("write");
    step(k);
    assert.equal(srv.recvInto(buf), 0, "the peer's FIN is 0");
    finishTcp(k, cli, srv, lsn);
  });

  test("a buffer larger than the 64 KiB I/O buffer is filled in one call from several kernel calls", async () => {
    const { k, A, B } = await tcpHosts();
    const lsn = socket(k, B, "inet", "stream").bind("0.0.0.0", 5001).listen(8);
    lsn.setsockopt(SOL_SOCKET, SO.RCVBUF, 1 << 20);
    const cli = socket(k, A, "inet", "stream");
    cli.setsockopt(SOL_SOCKET, SO.SNDBUF, 1 << 20);
    cli.connect("10.0.0.2", 5001);
    step(k);
    const srv = lsn.accept();
    assert.ok(srv, "accepted");
    const data = pattern(300_000, 3);
    assert.equal(cli.send(data), data.length, "one send call takes 300,000 bytes (five I/O buffers)");
    waitFor(k, srv, data.length);
    const before = srv.info().rcvBytes;
    const buf = new Uint8Array(400_000).fill(0xee);
    assert.equal(srv.recvInto(buf), 300_000, "everything queued, in one recvInto");
    assert.equal(before, 300_000);
    assert.equal(sha256(buf.subarray(0, 300_000)), sha256(data));
    assert.equal(buf[300_000], 0xee, "nothing written past what was read");
    assert.equal(srv.info().rcvBytes, 0);
    // MSG_PEEK reads once and leaves the bytes.
    cli.send(data.subarray(0, 5000));
    waitFor(k, srv, 5000);
    assert.equal(srv.recvInto(buf, MSG.PEEK), 5000);
    assert.equal(srv.info().rcvBytes, 5000, "peek left the bytes");
    assert.equal(srv.recvInto(buf), 5000);
    finishTcp(k, cli, srv, lsn);
  });

  test("an error after some bytes were read is thrown by the next call, not lost", async () => {
    const { k, A, B } = await tcpHosts();
    const lsn = socket(k, B, "inet", "stream").bind("0.0.0.0", 5001).listen(8);
    const cli = socket(k, A, "inet", "stream");
    cli.setsockopt(SOL_SOCKET, SO.RCVBUF, 1 << 20);
    cli.connect("10.0.0.2", 5001);
    step(k);
    const srv = lsn.accept()!;
    srv.setsockopt(SOL_SOCKET, SO.SNDBUF, 1 << 20);
    // Exactly one I/O buffer's worth, so recvInto's first kernel call fills what it asked
    // for and it asks again; that second call meets the RST's ECONNRESET.
    assert.equal(srv.send(pattern(IOBUF)), IOBUF);
    waitFor(k, cli, IOBUF);
    srv.setsockopt(SOL_SOCKET, SO.LINGER, 0);
    srv.close(); // RST
    step(k);
    const buf = new Uint8Array(2 * IOBUF);
    assert.equal(cli.recvInto(buf), IOBUF, "the data queued before the RST");
    assert.throws(() => cli.recvInto(buf), (e: SocketError) => e instanceof SocketError && e.code === "ECONNRESET" && /recvInto/.test(e.message));
    finishTcp(k, cli, lsn);
  });

  test("bad buffers and closed sockets give clear errors", async () => {
    const { k, A, B } = await tcpHosts();
    const { cli, srv, lsn } = connectPair(k, A, B);
    assert.throws(() => srv.recvInto(new Uint8Array(0)), (e: Error) => e instanceof ConfigError && /recvInto: buf must be a non-empty Uint8Array, got an empty one/.test(e.message));
    assert.throws(() => srv.recvInto("abc" as unknown as Uint8Array), (e: Error) => e instanceof ConfigError && /got "abc"/.test(e.message));
    srv.close();
    assert.throws(() => srv.recvInto(new Uint8Array(10)), (e: Error) => e instanceof SocketClosedError && /^recvInto: stream socket #\d+ in vnet B is closed$/.test(e.message));
    // Closed by the kernel: the vnet went away.
    A.destroy();
    assert.throws(() => cli.recvInto(new Uint8Array(10)), (e: Error) => e instanceof SocketClosedError && /closed by the kernel \(ECONNABORTED/.test(e.message));
    assert.throws(() => cli.send(new Uint8Array(10)), SocketClosedError);
    lsn.close();
    k.shutdown();
  });
});

describe("send", () => {
  test("a stream send longer than the I/O buffer goes in one call when the buffers have room", async () => {
    const { k, A, B } = await tcpHosts();
    const lsn = socket(k, B, "inet", "stream").bind("0.0.0.0", 5001).listen(8);
    lsn.setsockopt(SOL_SOCKET, SO.RCVBUF, 1 << 20);
    const cli = socket(k, A, "inet", "stream");
    cli.connect("10.0.0.2", 5001);
    step(k);
    const srv = lsn.accept()!;
    // The default 32 KiB send buffer: the kernel keeps taking while the peer's ACKs (which
    // come back inside the same call between two vnets) reopen it.
    const data = pattern(200_000, 5);
    assert.equal(cli.send(data), data.length);
    waitFor(k, srv, data.length);
    const buf = new Uint8Array(data.length);
    assert.equal(srv.recvInto(buf), data.length);
    assert.equal(sha256(buf), sha256(data));
    finishTcp(k, cli, srv, lsn);
  });

  test("a partial send returns what the kernel took; 0 when nothing fits; 'writable' when room returns", async () => {
    const { k, A, B } = await tcpHosts();
    const { cli, srv, lsn } = connectPair(k, A, B); // default buffers, nobody reads at B
    const data = pattern(1 << 20, 9);
    let sent = 0;
    const takes: number[] = [];
    for (let i = 0; i < 100; i++) {
      const n = cli.send(data.subarray(sent));
      takes.push(n);
      sent += n;
      if (n === 0) {
        step(k);
        const m = cli.send(data.subarray(sent));
        sent += m;
        if (m === 0) break;
      }
    }
    assert.ok(takes[0] > 0 && takes[0] < data.length, `the first send took part (${takes[0]} of ${data.length})`);
    assert.equal(cli.send(data.subarray(sent)), 0, "nothing fits: 0, not an error");
    let writable = 0;
    cli.on("writable", () => writable++);
    // The reader reads everything: room returns, the writer hears of it.
    const buf = new Uint8Array(1 << 20);
    let got = 0;
    for (let n = srv.recvInto(buf); n !== null && n > 0; n = srv.recvInto(buf)) got += n;
    step(k);
    await new Promise((r) => setImmediate(r));
    assert.ok(writable >= 1, "'writable' after the window opened");
    assert.ok(cli.send(data.subarray(sent)) > 0, "and the next send takes bytes");
    assert.ok(got > 0 && got <= sent, `read ${got} of the ${sent} sent`);
    finishTcp(k, cli, srv, lsn);
  });
});

describe("socket identity in one call", () => {
  test("soh_stat gives every info field at once, the same as soh_info field by field", async () => {
    const { k, A, B } = await tcpHosts();
    const { cli, srv, lsn } = connectPair(k, A, B);
    cli.send("hello");
    step(k);
    const x = k.k as unknown as SocketExports;
    for (const s of [cli, srv, lsn]) {
      assert.equal(x.soh_stat(s.ptr), 0);
      const w = new Float64Array(k.memory.buffer, x.kern_statbuf(), 21);
      const one = Array.from({ length: 21 }, (_, i) => x.soh_info(s.ptr, i));
      assert.deepEqual([...w], one, `${s}`);
      assert.equal(w[0], s.serial);
      assert.equal(w[3], s.type);
    }
    assert.equal(srv.info().rcvBytes, 5);
    assert.equal(x.soh_stat(0), -Errno.EBADF);
    assert.equal(x.soh_stat(srv.ptr + 8), -Errno.EBADF);
    finishTcp(k, cli, srv, lsn);
  });
});

describe("datagrams", () => {
  test("recvInto reads one datagram per call; a short buffer cuts it and recvTruncated says so", async () => {
    const k = await Kernel.boot({ config: ["kmod_proto"] }); // protocol 253: a loopback datagram protocol
    const v = k.createVnet("d");
    const srv = socket(k, v, "inet", "dgram", 253).bind("127.0.0.1", 7);
    const cli = socket(k, v, "inet", "dgram", 253);
    cli.sendto(pattern(100), "127.0.0.1", 7);
    cli.sendto(pattern(30, 2), "127.0.0.1", 7);
    const buf = new Uint8Array(50);
    assert.equal(srv.recvInto(buf), 50, "the first datagram, cut to 50");
    assert.equal(srv.recvTruncated, true);
    assert.deepEqual(buf, pattern(100).subarray(0, 50));
    assert.equal(srv.recvInto(buf), 30, "the second datagram, whole: not joined to the first's rest");
    assert.equal(srv.recvTruncated, false);
    assert.deepEqual(buf.subarray(0, 30), pattern(30, 2));
    assert.equal(srv.recvInto(buf), null);
    assert.throws(() => cli.sendto(new Uint8Array(IOBUF + 1), "127.0.0.1", 7), (e: SocketError) => e.code === "EMSGSIZE", "a datagram is never split across I/O buffers");
    srv.close();
    cli.close();
    v.destroy();
    k.shutdown();
  });
});

describe("kernel entry", () => {
  test("after kernel memory grows, the socket calls use the new memory (views are made again)", async () => {
    const { k, A, B } = await tcpHosts();
    const { cli, srv, lsn } = connectPair(k, A, B);
    const a = pattern(10_000, 11);
    assert.equal(cli.send(a), a.length);
    waitFor(k, srv, a.length);
    const buf = new Uint8Array(20_000);
    assert.equal(srv.recvInto(buf), a.length);
    const size0 = k.memory.buffer.byteLength;
    const extra = Array.from({ length: 3000 }, () => k.createVnet());
    assert.ok(k.memory.buffer.byteLength > size0, "memory grew");
    const b = pattern(10_000, 12);
    assert.equal(cli.send(b), b.length, "send copies into the grown memory");
    waitFor(k, srv, b.length);
    assert.equal(srv.recvInto(buf), b.length);
    assert.deepEqual(buf.subarray(0, b.length), b, "recvInto reads the grown memory");
    assert.equal(srv.info().rcvBytes, 0);
    assert.deepEqual(cli.remoteAddress(), { family: "inet", address: "10.0.0.2", port: 80 });
    for (const v of extra) v.destroy();
    finishTcp(k, cli, srv, lsn);
  });

  test("a socket call after shutdown is refused by Kernel.call as by enter; every socket is closed by then", async () => {
    const { k, A, B } = await tcpHosts();
    const { cli, srv, lsn } = connectPair(k, A, B);
    const v0 = socket(k, k.vnet0, "inet", "stream");
    k.shutdown();
    assert.equal(v0.closed, true, "vnet0's socket closed by shutdown");
    for (const s of [cli, srv, lsn]) assert.equal(s.closed, true, `${s} closed with its vnet`);
    assert.throws(() => cli.send("x"), SocketClosedError);
    assert.throws(() => socket(k, k.vnet0, "inet", "stream"), (e: Error) => /kernel was shut down/.test(e.message));
  });
});
