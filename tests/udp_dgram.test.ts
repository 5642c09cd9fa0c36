// The Node dgram-compatible socket (host/dgram.ts). The same scenario runs against
// node:dgram on the machine's loopback and against a vnet pair, and must produce the same
// events in the same order with the same shapes.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import * as nodeDgram from "node:dgram";
import { once } from "node:events";
import { constants as osConstants } from "node:os";
import { Kernel, createSocket, type Vnet } from "../host/index.js";
import { addAddress, icmpStats } from "../host/admin/inet.js";
import { udpStats } from "../host/admin/udp.js";

/** A createSocket; ours is used through node:dgram's own Socket type. */
type Make = (type: "udp4") => nodeDgram.Socket;

async function twoHosts(): Promise<{ k: Kernel; A: Vnet; B: Vnet }> {
  const k = await Kernel.boot({ config: ["if_epair", "inet", "udp"], seed: 4 });
  const A = k.createVnet("A");
  const B = k.createVnet("B");
  const [ea, eb] = k.epair(A, B);
  ea.setUp();
  eb.setUp();
  addAddress(k, ea, "10.0.0.1/24");
  addAddress(k, eb, "10.0.0.2/24");
  return { k, A, B };
}

/** The node:dgram docs' echo server and a client, with every event written down. */
async function echoScenario(makeServer: Make, makeClient: Make, serverAddress: string): Promise<string[]> {
  const log: string[] = [];
  const server = makeServer("udp4");
  server.on("error", (err) => log.push(`server error ${(err as NodeJS.ErrnoException).code}`));
  server.on("message", (msg, rinfo) => {
    log.push(`server got "${msg}" (${Buffer.isBuffer(msg)}) from ${typeof rinfo.address}:${typeof rinfo.port} ${rinfo.family} size ${rinfo.size}`);
    server.send(msg, rinfo.port, rinfo.address, (err, bytes) => log.push(`server sent ${err} ${bytes}`));
  });
  const listening = once(server, "listening");
  server.on("listening", () => log.push(`server listening ${server.address().family} ${server.address().address === serverAddress}`));
  server.bind(0, serverAddress, () => log.push("bind callback"));
  await listening;
  const port = server.address().port;

  const client = makeClient("udp4");
  const echoed = once(client, "message");
  client.on("listening", () => log.push("client listening (implicit bind)"));
  client.send(Buffer.from("hello"), port, serverAddress, (err, bytes) => log.push(`client sent ${err} ${bytes}`));
  const [msg, rinfo] = (await echoed) as [Buffer, nodeDgram.RemoteInfo];
  log.push(`client got "${msg}" from ${rinfo.address === serverAddress} ${rinfo.port === port} ${rinfo.family}`);
  // Overloads: offset/length, an array of buffers.
  const m1 = once(client, "message");
  client.send(Buffer.from("xxabcxx"), 2, 3, port, serverAddress);
  log.push(`client got "${(await m1)[0]}"`);
  const m2 = once(client, "message");
  client.send([Buffer.from("de"), Buffer.from("f")], port, serverAddress);
  log.push(`client got "${(await m2)[0]}"`);
  // connect / remoteAddress / disconnect and their errors.
  client.connect(port, serverAddress, () => log.push(`connected ${client.remoteAddress().port === port}`));
  await once(client, "connect");
  try {
    client.connect(port, serverAddress);
  } catch (e) {
    log.push(`connect again: ${(e as NodeJS.ErrnoException).code}`);
  }
  try {
    client.send("x", port, serverAddress);
  } catch (e) {
    log.push(`send with address while connected: ${(e as NodeJS.ErrnoException).code}`);
  }
  const echoed3 = once(client, "message");
  client.send("connected send", (err, bytes) => log.push(`connected send ${err} ${bytes}`));
  log.push(`client got "${(await echoed3)[0]}"`);
  client.disconnect();
  try {
    client.remoteAddress();
  } catch (e) {
    log.push(`remoteAddress after disconnect: ${(e as NodeJS.ErrnoException).code}`);
  }
  try {
    client.send("x", 0, serverAddress);
  } catch (e) {
    log.push(`port 0: ${(e as NodeJS.ErrnoException).code} ${e instanceof RangeError}`);
  }
  const closed = once(client, "close");
  client.close(() => log.push("client close callback"));
  await closed;
  try {
    client.close();
  } catch (e) {
    log.push(`close again: ${(e as NodeJS.ErrnoException).code}`);
  }
  const sclosed = once(server, "close");
  server.close();
  await sclosed;
  log.push("server closed");
  return log;
}

describe("dgram compatibility", () => {
  test("the node:dgram echo server and client: same events, same order, same shapes as node:dgram on the loopback", async () => {
    const real = await echoScenario((o) => nodeDgram.createSocket(o), (o) => nodeDgram.createSocket(o), "127.0.0.1");
    const { k, A, B } = await twoHosts();
    const ours = await echoScenario((o) => createSocket(k, B, o) as unknown as nodeDgram.Socket, (o) => createSocket(k, A, o) as unknown as nodeDgram.Socket, "10.0.0.2");
    assert.deepEqual(ours, real);
    assert.ok(real.length > 15);
    assert.equal(udpStats(k, B).delivered, 5, "hello, abc, def, x (node:dgram sends it to the connected peer: its argument rules), connected send");
    k.shutdown();
  });

  test("bind errors are 'error' events shaped like Node's (code, errno, syscall, address, port); reuseAddr shares a port", async () => {
    const { k, B } = await twoHosts();
    const a = createSocket(k, B, "udp4");
    a.bind(5000);
    await once(a, "listening");
    const b = createSocket(k, B, "udp4");
    b.bind(5000);
    const [err] = (await once(b, "error")) as [NodeJS.ErrnoException & { address: string; port: number }];
    assert.equal(err.code, "EADDRINUSE");
    assert.equal(err.syscall, "bind");
    assert.equal(err.errno, -osConstants.errno.EADDRINUSE, "libuv's number for this platform, as node:dgram reports it");
    assert.equal(err.address, "0.0.0.0");
    assert.equal(err.port, 5000);
    assert.equal(err.message, "bind EADDRINUSE 0.0.0.0:5000");
    const r1 = createSocket(k, B, { type: "udp4", reuseAddr: true });
    const r2 = createSocket(k, B, { type: "udp4", reuseAddr: true });
    r1.bind(6000);
    r2.bind(6000);
    await Promise.all([once(r1, "listening"), once(r2, "listening")]);
    assert.equal(r2.address().port, 6000);
    assert.throws(() => r2.bind(6001), (e: NodeJS.ErrnoException) => e.code === "ERR_SOCKET_ALREADY_BOUND");
    for (const s of [a, b, r1, r2]) s.close();
    k.shutdown();
  });

  test("a connected socket hears ICMP port unreachable as an 'error' (ECONNREFUSED, syscall recvmsg), as Node on Linux does", async () => {
    const { k, A, B } = await twoHosts();
    const c = createSocket(k, A, "udp4");
    c.connect(9999, "10.0.0.2");
    await once(c, "connect");
    const gotError = once(c, "error");
    c.send("anyone?");
    const [err] = (await gotError) as [NodeJS.ErrnoException];
    assert.equal(err.code, "ECONNREFUSED");
    assert.equal(err.syscall, "recvmsg");
    assert.equal(icmpStats(k, B).outhist[3], 1);
    // An unconnected socket hears nothing.
    const u = createSocket(k, A, "udp4");
    let errors = 0;
    u.on("error", () => errors++);
    await new Promise<void>((r) => u.send("anyone?", 9999, "10.0.0.2", () => r()));
    await new Promise((r) => setImmediate(r));
    assert.equal(errors, 0);
    c.close();
    u.close();
    k.shutdown();
  });

  test("send errors go to the callback, or to 'error' without one: EMSGSIZE over the send buffer, broadcast without setBroadcast, bad names", async () => {
    const { k, A, B } = await twoHosts();
    const srv = createSocket(k, B, "udp4");
    srv.bind(7);
    await once(srv, "listening");
    const s = createSocket(k, A, "udp4");
    const big = Buffer.alloc(20_000);
    const [e1] = await new Promise<[NodeJS.ErrnoException | null]>((r) => s.send(big, 7, "10.0.0.2", (e) => r([e])));
    assert.equal(e1?.code, "EMSGSIZE");
    assert.equal(e1?.syscall, "send");
    assert.equal(s.getSendBufferSize(), 9216);
    s.setSendBufferSize(65536);
    const got = once(srv, "message");
    s.send(big, 7, "10.0.0.2");
    assert.equal(((await got)[0] as Buffer).length, 20_000, "fragmented and reassembled");
    s.send("x", 7, "10.0.0.255");
    const [e2] = (await once(s, "error")) as [NodeJS.ErrnoException];
    assert.equal(e2.errno, -osConstants.errno.EACCES, "EACCES without SO_BROADCAST");
    s.setBroadcast(true);
    const bc = once(srv, "message");
    s.send("to all", 7, "10.0.0.255");
    assert.equal(String((await bc)[0]), "to all");
    const [e3] = await new Promise<[NodeJS.ErrnoException | null]>((r) => s.send("x", 7, "no.such.host", (e) => r([e])));
    assert.equal(e3?.code, "ENOTFOUND");
    const lo = createSocket(k, A, "udp4");
    lo.bind(7, "localhost");
    await once(lo, "listening");
    const own = once(lo, "message");
    s.send("me", 7); // the default address is 127.0.0.1, as node:dgram's
    assert.equal(String((await own)[0]), "me");
    assert.equal(s.setTTL(9), 9);
    srv.setRecvBufferSize(100_000);
    assert.equal(srv.getRecvBufferSize(), 100_000);
    assert.throws(() => s.addMembership("224.0.0.1"), (e: NodeJS.ErrnoException) => e.code === "ENOPROTOOPT");
    assert.equal(s.ref(), s);
    assert.equal(s.unref(), s);
    assert.throws(() => createSocket(k, A, "udp6"), /the inet6 module is not loaded/, "udp6 needs inet6 (this kernel has none)");
    for (const x of [srv, s, lo]) x.close();
    k.shutdown();
  });

  test("a vnet destroyed under a dgram socket ends it with 'close'", async () => {
    const { k, A } = await twoHosts();
    const s = createSocket(k, A, "udp4");
    s.bind(1234);
    await once(s, "listening");
    const closed = once(s, "close");
    A.destroy();
    await closed;
    assert.throws(() => s.send("x", 1, "10.0.0.2"), (e: NodeJS.ErrnoException) => e.code === "ERR_SOCKET_DGRAM_NOT_RUNNING");
    k.shutdown();
  });
});
