import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { Kernel, ModuleBusyError, Errno, type Vnet } from "../host/index.js";
import {
  socket, sockstat, formatSockstat, sockaddrIn, parseSockaddr, Socket, SocketError, SocketClosedError,
  SOL_SOCKET, SO, MSG, type SocketExports,
} from "../host/sockets/socket.js";
import { snapshot } from "./helpers/snapshot.js";

// The socket layer through the host, over the kmod_proto fixture: protocol 253 of
// AF_INET, a "loopback echo" datagram protocol and a "pipe" stream protocol on 127.0.0.1.

const TOY = 253;
const LO = "127.0.0.1";

interface Proto {
  proto_blast(so: number, port: number, n: number, len: number): number;
  proto_counter(i: number): number;
}

async function boot(): Promise<Kernel> {
  return Kernel.boot({ config: ["kmod_proto"] });
}

/** Let the microtask that dispatches socket events run. */
function settle(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

function dgram(k: Kernel, v: Vnet, port?: number): Socket {
  const s = socket(k, v, "inet", "dgram", TOY);
  if (port !== undefined) s.bind(LO, port);
  return s;
}

function zoneUsed(k: Kernel, name: string): number {
  return k.vmstatZ().find((z) => z.name === name)?.used ?? 0;
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe("sockets", () => {
  test("datagrams go through the host: bind, sendto, recvfrom with the sender's address", async () => {
    const k = await boot();
    const v = k.createVnet("a");
    const srv = dgram(k, v, 7);
    const cli = dgram(k, v);
    assert.equal(cli.sendto("hello", LO, 7), 5);
    assert.deepEqual(cli.address(), { family: "inet", address: LO, port: 49152 }, "sendto bound the sender to an ephemeral port");
    const d = srv.recvfrom();
    assert.ok(d);
    assert.equal(text(d.data), "hello");
    assert.deepEqual(d.address, { family: "inet", address: LO, port: 49152 });
    assert.equal(d.truncated, false);
    assert.equal(srv.recvfrom(), null, "nothing more: EAGAIN is null");
    // A zero-length datagram is a datagram.
    cli.sendto(new Uint8Array(0), { family: "inet", address: LO, port: 7 });
    assert.equal(srv.recvfrom()?.data.length, 0);
    // connect() fixes the peer: send() needs no address, sendto() with one is EISCONN.
    assert.equal(cli.connect(LO, 7), true);
    assert.deepEqual(cli.remoteAddress(), { family: "inet", address: LO, port: 7 });
    cli.send("again");
    assert.equal(text(srv.recv()!), "again");
    assert.throws(() => cli.sendto("x", LO, 7), (e: SocketError) => e.code === "EISCONN");
    assert.equal(srv.getsockopt(SOL_SOCKET, SO.TYPE), 2);
    assert.equal(srv.getsockopt(TOY, 1), 4, "protocol-level options reach pru_ctloutput");
    const rows = sockstat(k, v);
    assert.deepEqual(rows.map((r) => [r.serial, r.local?.family === "inet" ? r.local.port : 0, r.foreign ? 1 : 0]), [
      [cli.serial, 49152, 1],
      [srv.serial, 7, 0],
    ]);
    assert.equal(rows[0].socket, cli);
    assert.match(formatSockstat(rows), /127\.0\.0\.1:7 +\*:\*/);
    srv.close();
    cli.close();
    assert.equal(zoneUsed(k, "socket"), 0);
    v.destroy();
    k.shutdown();
  });

  test("events are drained, not called per packet: 1,000 datagrams make one 'readable'", async () => {
    const k = await boot();
    const v = k.createVnet();
    const srv = dgram(k, v, 9);
    srv.setsockopt(SOL_SOCKET, SO.RCVBUF, 200_000); // storage for 1,000 two-mbuf records
    const cli = dgram(k, v);
    let readable = 0;
    srv.on("readable", () => readable++);
    const before = { ...k.sockets.stats };
    for (let i = 0; i < 1000; i++) cli.sendto(`dgram ${i}`, LO, 9);
    await settle();
    assert.equal(readable, 1, "readable is an edge: armed again only when the reader has emptied the buffer");
    assert.equal(k.sockets.stats.records - before.records, 1);
    let n = 0;
    while (srv.recvfrom()) n++;
    assert.equal(n, 1000);
    // Inside Wasm: 5,000 datagrams in one kernel entry, one record to the host.
    const proto = k.module<Proto>("kmod_proto");
    const mid = { ...k.sockets.stats };
    const heap = k.heapTop();
    assert.equal(k.enter(() => proto.proto_blast(cli.ptr, 9, 5000, 64)), 5000);
    await settle();
    assert.equal(readable, 2);
    assert.equal(k.sockets.stats.records - mid.records, 1);
    assert.equal(k.sockets.stats.dispatches - mid.dispatches, 1);
    assert.ok(srv.info().rcvDrops > 0, "the buffer cannot hold 5,000 datagrams");
    assert.equal(srv.info().rcvRecords + srv.info().rcvDrops, 5000);
    assert.equal(k.heapTop(), heap, "no managed allocation while traffic runs");
    k.shutdown();
  });

  test("a full receive buffer refuses datagrams and counts each drop", async () => {
    const k = await boot();
    const v = k.createVnet();
    const srv = dgram(k, v, 10);
    srv.setsockopt(SOL_SOCKET, SO.RCVBUF, 1000);
    assert.equal(srv.getsockopt(SOL_SOCKET, SO.RCVBUF), 1000);
    const cli = dgram(k, v);
    for (let i = 0; i < 20; i++) cli.sendto(new Uint8Array(100), LO, 10); // 116 bytes with the address
    const info = srv.info();
    assert.equal(info.rcvRecords, 8);
    assert.equal(info.rcvBytes, 8 * 116);
    assert.equal(info.rcvDrops, 12);
    assert.equal(sockstat(k, v).find((r) => r.serial === srv.serial)?.drops, 12);
    // Reading makes room again.
    while (srv.recv()) {}
    cli.sendto(new Uint8Array(100), LO, 10);
    assert.equal(srv.info().rcvRecords, 1);
    assert.throws(() => srv.setsockopt(SOL_SOCKET, SO.RCVBUF, 0), (e: SocketError) => e.code === "EINVAL" && /SO_RCVBUF=0/.test(e.message));
    k.shutdown();
  });

  test("a datagram longer than the buffer is cut and says so (MSG_TRUNC); MSG_PEEK leaves it", async () => {
    const k = await boot();
    const v = k.createVnet();
    const srv = dgram(k, v, 11);
    const cli = dgram(k, v);
    cli.sendto(new Uint8Array(100).fill(7), LO, 11);
    const p = srv.recvfrom(10, MSG.PEEK)!;
    assert.equal(p.truncated, true);
    assert.equal(srv.info().rcvRecords, 1);
    const d = srv.recvfrom(10)!;
    assert.equal(d.data.length, 10);
    assert.equal(d.truncated, true);
    assert.equal(srv.recvfrom(), null, "the rest of the datagram is gone");
    assert.throws(() => cli.sendto(new Uint8Array(9217), LO, 11), (e: SocketError) => e.code === "EMSGSIZE");
    k.shutdown();
  });

  test("'message' listeners get every datagram with its sender", async () => {
    const k = await boot();
    const v = k.createVnet();
    const srv = dgram(k, v, 12);
    const cli = dgram(k, v, 5000);
    const got: string[] = [];
    srv.on("message", (data: Uint8Array, rinfo: { address: { port: number } }) => got.push(`${text(data)}@${rinfo.address.port}`));
    for (const w of ["a", "b", "c"]) cli.sendto(w, LO, 12);
    await settle();
    assert.deepEqual(got, ["a@5000", "b@5000", "c@5000"]);
    cli.sendto("d", LO, 12);
    await settle();
    assert.deepEqual(got.at(-1), "d@5000");
    k.shutdown();
  });

  test("errors are typed and name the call and the address", async () => {
    const k = await boot();
    const v = k.createVnet("errs");
    const a = dgram(k, v, 53);
    const b = dgram(k, v);
    assert.throws(() => b.bind(LO, 53), (e: SocketError) => {
      assert.ok(e instanceof SocketError);
      assert.equal(e.code, "EADDRINUSE");
      assert.equal(e.errno, Errno.EADDRINUSE);
      assert.match(e.message, /^bind 127\.0\.0\.1:53 \(dgram socket #\d+ in vnet errs\): EADDRINUSE$/);
      return true;
    });
    assert.throws(() => b.bind("10.0.0.1", 54), (e: SocketError) => e.code === "EADDRNOTAVAIL");
    assert.throws(() => b.sendto("x", LO, 54), (e: SocketError) => e.code === "ECONNREFUSED" && /sendto 127\.0\.0\.1:54/.test(e.message));
    assert.throws(() => b.send("x"), (e: SocketError) => e.code === "EDESTADDRREQ");
    assert.throws(() => socket(k, v, "inet6", "dgram"), (e: SocketError) => e.code === "EAFNOSUPPORT");
    assert.throws(() => socket(k, v, "inet", "raw"), (e: SocketError) => e.code === "EPROTOTYPE");
    assert.throws(() => socket(k, v, "inet", "dgram", 17), (e: SocketError) => e.code === "EPROTONOSUPPORT" && /socket\(inet, dgram, 17\) in vnet errs/.test(e.message));
    assert.throws(() => a.listen(), (e: SocketError) => e.code === "EOPNOTSUPP");
    // SO_REUSEPORT on both lets two sockets share a port.
    const c = dgram(k, v);
    const d = dgram(k, v);
    c.setsockopt(SOL_SOCKET, SO.REUSEPORT, true);
    d.setsockopt(SOL_SOCKET, SO.REUSEPORT, true);
    c.bind(LO, 60);
    d.bind(LO, 60);
    k.shutdown();
  });

  test("a closed socket throws a clear error; the kernel refuses bad socket pointers with EBADF", async () => {
    const k = await boot();
    const v = k.createVnet("c");
    const s = dgram(k, v, 1);
    s.close();
    s.close(); // closing twice is harmless
    assert.equal(s.closed, true);
    assert.throws(() => s.sendto("x", LO, 1), (e: Error) => e instanceof SocketClosedError && /^sendto: dgram socket #\d+ in vnet c is closed$/.test(e.message));
    assert.throws(() => s.recvfrom(), SocketClosedError);
    const x = k.k as unknown as SocketExports;
    for (const bad of [0, 3, s.ptr, 0x7ffffff8, 0xfffffff8]) {
      assert.equal(x.soh_sendto(bad, 1, 0, 0), -Errno.EBADF);
      assert.equal(x.soh_recvfrom(bad, 1, 0), -Errno.EBADF);
      assert.equal(x.soh_close(bad), -Errno.EBADF);
      assert.equal(x.soh_info(bad, 0), -1);
    }
    assert.equal(x.soh_socket(12345, 2, 2, TOY), 0);
    assert.equal(x.soh_error(), -Errno.EINVAL);
    // A sockaddr whose sa_len disagrees with its length is refused.
    const t = dgram(k, v);
    new Uint8Array(k.memory.buffer, x.kern_sabuf(), 16).set(sockaddrIn(LO, 9));
    assert.equal(x.soh_bind(t.ptr, 15), -Errno.EINVAL);
    assert.equal(x.soh_bind(t.ptr, 16), 0);
    assert.deepEqual(parseSockaddr(sockaddrIn("10.1.2.3", 4242)), { family: "inet", address: "10.1.2.3", port: 4242 });
    assert.deepEqual([...sockaddrIn("10.0.0.1", 0x1234)], [16, 2, 0x12, 0x34, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    k.shutdown();
  });

  test("a vnet destroyed with sockets open closes them: 'error' ECONNABORTED, then 'close'", async () => {
    const k = await boot();
    const v = k.createVnet("doomed");
    const srv = dgram(k, v, 7);
    const cli = dgram(k, v);
    cli.sendto("pending", LO, 7);
    const seen: string[] = [];
    srv.on("error", (e: SocketError) => seen.push(`error ${e.code}`));
    srv.on("close", () => seen.push("close"));
    cli.on("close", () => seen.push("cli close")); // no 'error' listener: no throw
    const proto = k.module<Proto>("kmod_proto");
    const detaches = proto.proto_counter(1);
    v.destroy(); // no LeakError: sockets, pcbs and the queued datagram are all gone
    assert.equal(srv.closed, true, "closed as soon as the kernel entry returns");
    await settle();
    assert.deepEqual(seen.sort(), ["cli close", "close", "error ECONNABORTED"]);
    assert.equal(proto.proto_counter(1) - detaches, 2, "pru_detach ran for both");
    assert.equal(proto.proto_counter(4), 0, "the protocol's uninit found no socket left");
    assert.throws(() => srv.recvfrom(), (e: Error) => e instanceof SocketClosedError && /closed by the kernel \(ECONNABORTED/.test(e.message));
    assert.equal(zoneUsed(k, "socket"), 0);
    assert.equal(zoneUsed(k, "toy_pcb"), 0);
    assert.equal(k.sockets.size, 0);
    k.shutdown();
  });

  test("the socket registry holds many sockets: lookup, events, removal and order survive its growth", async () => {
    const k = await boot();
    const v = k.createVnet();
    // 300 sockets: the registry's table grows (64 buckets at first) with some closed between.
    const socks: Socket[] = [];
    for (let i = 0; i < 300; i++) {
      socks.push(dgram(k, v, i % 6 === 0 ? 1000 + i : undefined)); // the toy protocol binds a few dozen ports at most
      if (i % 3 === 2) socks[i - 1].close();
    }
    const open = socks.filter((s) => !s.closed);
    assert.equal(k.sockets.size, 200);
    assert.deepEqual(k.sockets.all().map((s) => s.serial), open.map((s) => s.serial), "every open socket, oldest first");
    for (const s of open) assert.equal(k.sockets.get(s.serial), s);
    for (const s of socks) if (s.closed) assert.equal(k.sockets.get(s.serial), undefined);
    // An event for every bound socket reaches it through the registry.
    let readable = 0;
    const bound = socks.filter((s, i) => i % 6 === 0);
    for (const s of bound) s.on("readable", () => readable++);
    const cli = dgram(k, v);
    for (const s of bound) cli.sendto("x", LO, 1000 + socks.indexOf(s));
    await settle();
    assert.equal(readable, bound.length);
    cli.close();
    for (const s of open) s.close();
    assert.equal(k.sockets.size, 0);
    assert.deepEqual(k.sockets.all(), []);
    k.shutdown();
  });

  test("a full event ring loses no close: the host rescans", async () => {
    const k = await boot();
    const x = k.k as unknown as SocketExports & { soevent_set_ring_size(n: number): number };
    const v = k.createVnet();
    const socks = Array.from({ length: 40 }, () => dgram(k, v));
    let closes = 0;
    for (const s of socks) s.on("close", () => closes++);
    assert.equal(x.soevent_set_ring_size(8), 1);
    v.destroy();
    await settle();
    assert.equal(closes, 40);
    assert.ok(k.sockets.stats.rescans >= 1);
    assert.equal(x.soevent_set_ring_size(0), 1);
    k.shutdown();
  });

  test("kldunload is refused while the protocol has sockets, allowed after, and leaves nothing", async () => {
    const k = await Kernel.boot({ config: "BARE" });
    k.reclaim();
    const before = snapshot(k);
    await k.kldload("kmod_proto");
    const v = k.createVnet();
    const s = dgram(k, v, 7);
    assert.throws(() => k.kldunload("kmod_proto"), (e: Error) => e instanceof ModuleBusyError && /EBUSY/.test(e.message));
    s.sendto("x", LO, 7); // still works
    assert.equal(s.recv()?.length, 1);
    s.close();
    k.kldunload("kmod_proto");
    assert.throws(() => socket(k, v, "inet", "dgram", TOY), (e: SocketError) => e.code === "EAFNOSUPPORT");
    v.destroy();
    k.reclaim();
    assert.deepEqual(snapshot(k), before);
    k.shutdown();
  });

  test("a forced kldunload closes the sockets of its protocols", async () => {
    const k = await Kernel.boot({ config: "BARE" });
    await k.kldload("kmod_proto");
    const v = k.createVnet();
    const s = dgram(k, v, 7);
    let closed = false;
    s.on("close", () => (closed = true));
    k.kldunload("kmod_proto", { force: true });
    // The linker runs kld_purge outside Kernel.enter, so the close is drained at the next
    // kernel entry (any call will do).
    k.reclaim();
    await settle();
    assert.equal(closed, true);
    assert.equal(s.closed, true);
    assert.equal(zoneUsed(k, "socket"), 0);
    v.destroy();
    k.shutdown();
  });

  test("streams: listen, connect, accept, bytes both ways, shutdown is end of stream", async () => {
    const k = await boot();
    const v = k.createVnet("s");
    const lst = socket(k, v, "inet", "stream", TOY).bind(LO, 80).listen(5);
    let acceptable = 0;
    lst.on("acceptable", () => acceptable++);
    const cli = socket(k, v, "inet", "stream", TOY);
    let connected = 0;
    cli.on("connect", () => connected++);
    assert.equal(cli.connect(LO, 80), true);
    assert.equal(cli.send("early bytes"), 11);
    await settle();
    assert.equal(connected, 1);
    assert.equal(acceptable, 1);
    assert.equal(lst.info().acceptQueue, 1);
    const srv = lst.accept()!;
    assert.ok(srv);
    assert.equal(lst.accept(), null);
    assert.deepEqual(srv.remoteAddress(), cli.address());
    let readable = 0;
    srv.on("readable", () => readable++);
    await settle();
    assert.equal(readable, 1, "data that came before accept is announced after it");
    assert.equal(text(srv.recv(5)!), "early");
    assert.equal(text(srv.recv()!), " bytes");
    assert.equal(srv.recv(), null);
    srv.send("reply");
    assert.equal(text(cli.recv()!), "reply");
    assert.ok(k.module<Proto>("kmod_proto").proto_counter(3) >= 3, "pru_rcvd after each read");
    cli.shutdown("write");
    assert.equal(srv.recv()?.length, 0, "end of stream");
    assert.throws(() => cli.send("late"), (e: SocketError) => e.code === "EPIPE");
    srv.close();
    assert.equal(cli.recv()?.length, 0, "the peer's close is end of stream too");
    const rows = sockstat(k, v);
    assert.ok(rows.some((r) => r.state.includes("LISTEN")));
    cli.close();
    lst.close();
    assert.equal(zoneUsed(k, "socket"), 0);
    k.shutdown();
  });

  test("closing a listener aborts the connections waiting on its queue", async () => {
    const k = await boot();
    const v = k.createVnet();
    const lst = socket(k, v, "inet", "stream", TOY).bind(LO, 81).listen();
    const clis = [0, 1, 2].map(() => socket(k, v, "inet", "stream", TOY));
    for (const c of clis) c.connect(LO, 81);
    assert.equal(zoneUsed(k, "socket"), 7);
    const aborts = k.module<Proto>("kmod_proto").proto_counter(2);
    lst.close();
    assert.equal(k.module<Proto>("kmod_proto").proto_counter(2) - aborts, 3);
    assert.equal(zoneUsed(k, "socket"), 3);
    for (const c of clis) assert.equal(c.recv()?.length, 0, "each client sees its connection end");
    k.shutdown();
    assert.equal(zoneUsed(k, "socket"), 0);
  });

  test("sockets are charged to their vnet and leave its accounting as they found it", async () => {
    const k = await boot();
    const v = k.createVnet();
    const before = v.accounting();
    const socks = Array.from({ length: 50 }, (_, i) => dgram(k, v, 1000 + i));
    assert.equal(v.accounting().items.socket, 50);
    for (const s of socks) s.close();
    assert.deepEqual(v.accounting(), before);
    v.destroy();
    k.shutdown();
  });
});
