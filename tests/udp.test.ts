import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Kernel, ModuleBusyError, type Vnet } from "../host/index.js";
import { suiteConfig } from "./helpers/config.js";
import { socket, sockstat, formatSockstat, Socket, SocketError, SOL_SOCKET, SO } from "../host/sockets/socket.js";
import { addAddress, addRoute, ipStats, icmpStats } from "../host/admin/inet.js";
import { udpStats, netstatUdp, portRange, setPortRange, udpGauges, udpSocketsOpen, sendBatch, recvBatch } from "../host/admin/udp.js";
import { ping } from "../host/admin/ping.js";
import { snapshot } from "./helpers/snapshot.js";
import { chain, clockOf, mbufsInUse, twoHosts as inetTwoHosts } from "./helpers/inet.js";
import { pattern } from "./helpers/tcp.js";

// UDP (RFC 768) through the udp module: sockets of the kernel's socket layer (host/socket.ts)
// between vnets joined by epairs, IPv4 from the inet module.

const IP_TTL = 4;
const IPPROTO_IP = 0;

/** if_epair, inet, udp (or WAVNET_TEST_CONFIG, helpers/config.ts). */
const UDP4_CONFIG = () => suiteConfig(["if_epair", "inet", "udp"], ["if_epair", "inet", "udp"]);

async function boot(seed = 1): Promise<Kernel> {
  return Kernel.boot({ config: UDP4_CONFIG(), seed });
}

/** A 10.0.0.1/24 on ea, B 10.0.0.2/24 on eb, with udp. */
function twoHosts(seed = 1) {
  return inetTwoHosts(seed, UDP4_CONFIG());
}

function udpSock(k: Kernel, v: Vnet, address?: string, port?: number): Socket {
  const s = socket(k, v, "inet", "dgram", 17);
  if (address !== undefined) s.bind(address, port ?? 0);
  return s;
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const settle = () => new Promise<void>((r) => setImmediate(r));

describe("udp datagrams", () => {
  test("a datagram from A reaches B with A's address and an ephemeral port; the echo comes back", async () => {
    const { k, A, B } = await twoHosts();
    const srv = udpSock(k, B, "0.0.0.0", 7);
    const cli = udpSock(k, A);
    assert.equal(cli.sendto("hello", "10.0.0.2", 7), 5);
    const port = (cli.address() as { port: number }).port;
    assert.ok(port >= 10000 && port <= 65535, `ephemeral port ${port} in 10000-65535`);
    const d = srv.recvfrom();
    assert.ok(d);
    assert.equal(text(d.data), "hello");
    assert.deepEqual(d.address, { family: "inet", address: "10.0.0.1", port });
    srv.sendto(d.data, d.address!);
    const back = cli.recvfrom();
    assert.equal(text(back!.data), "hello");
    assert.deepEqual(back!.address, { family: "inet", address: "10.0.0.2", port: 7 });
    assert.equal(udpStats(k, B).ipackets, 1);
    assert.equal(udpStats(k, B).delivered, 1);
    assert.equal(udpStats(k, A).opackets, 1);
    // A zero-length datagram is a datagram.
    cli.sendto(new Uint8Array(0), "10.0.0.2", 7);
    assert.equal(srv.recvfrom()?.data.length, 0);
    k.shutdown();
  });

  test("'message' events and the event ring: 1,000 datagrams in one batch are one kernel call each way", async () => {
    const { k, A, B } = await twoHosts();
    const srv = udpSock(k, B, "10.0.0.2", 9);
    srv.setsockopt(SOL_SOCKET, SO.RCVBUF, 1 << 20);
    const cli = udpSock(k, A);
    const payloads = Array.from({ length: 1000 }, (_, i) => new TextEncoder().encode(`datagram ${i}`));
    assert.deepEqual(sendBatch(k, cli, payloads, "10.0.0.2", 9), { sent: 1000 });
    const got = recvBatch(k, srv);
    assert.equal(got.length, 1000);
    assert.deepEqual(got.map((d) => text(d.data)), payloads.map(text), "in order, byte for byte");
    assert.ok(got.every((d) => d.address === "10.0.0.1" && d.port === (cli.address() as { port: number }).port));
    assert.deepEqual(recvBatch(k, srv), []);
    k.shutdown();
  });

  test("through A - R1 - R2 - R3 - B (udp loaded into the running kernel): routed both ways", async () => {
    const t = await chain();
    await t.k.kldload("udp");
    const srv = udpSock(t.k, t.B, "10.0.4.2", 53);
    const cli = udpSock(t.k, t.A);
    cli.sendto("query", "10.0.4.2", 53);
    clockOf(t.k).advance(10_000);
    const d = srv.recvfrom();
    assert.equal(text(d!.data), "query");
    assert.equal((d!.address as { address: string }).address, "10.0.1.1");
    srv.sendto("answer", d!.address!);
    clockOf(t.k).advance(10_000);
    assert.equal(text(cli.recvfrom()!.data), "answer");
    for (const r of [t.R1, t.R2, t.R3]) assert.equal(ipStats(t.k, r).forward, 2);
    t.k.shutdown();
  });

  test("a 60,000-byte datagram is fragmented at MTU 1500 and reassembled byte-exact (SHA-256), through routers", async () => {
    const t = await chain(7);
    await t.k.kldload("udp");
    const srv = udpSock(t.k, t.B, "0.0.0.0", 9000);
    srv.setsockopt(SOL_SOCKET, SO.RCVBUF, 256 * 1024);
    const cli = udpSock(t.k, t.A);
    assert.throws(() => cli.sendto(new Uint8Array(60_000), "10.0.4.2", 9000), (e: SocketError) => e.code === "EMSGSIZE", "over net.inet.udp.maxdgram (9216) by default, as FreeBSD");
    cli.setsockopt(SOL_SOCKET, SO.SNDBUF, 65536);
    const data = new Uint8Array(60_000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7919 + (i >> 8)) & 0xff;
    assert.equal(cli.sendto(data, "10.0.4.2", 9000), 60_000);
    clockOf(t.k).advance(50_000);
    const d = srv.recvfrom();
    assert.ok(d);
    assert.equal(d.data.length, 60_000);
    const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
    assert.equal(sha(d.data), sha(data));
    const a = ipStats(t.k, t.A);
    assert.equal(a.fragmented, 1);
    assert.equal(a.ofragments, Math.ceil(60_008 / 1480));
    assert.equal(ipStats(t.k, t.B).reassembled, 1);
    // The largest datagram IPv4 carries, and one byte more.
    assert.equal(cli.sendto(new Uint8Array(65507), "10.0.4.2", 9000), 65507);
    cli.setsockopt(SOL_SOCKET, SO.SNDBUF, 100_000);
    assert.throws(() => cli.sendto(new Uint8Array(65508), "10.0.4.2", 9000), (e: SocketError) => e.code === "EMSGSIZE");
    clockOf(t.k).advance(50_000);
    assert.equal(srv.recvfrom()?.data.length, 65507);
    t.k.shutdown();
  });

  test("port unreachable: ICMP back, a connected sender gets ECONNREFUSED once, an unconnected one nothing (RFC 1122 4.1.3.3)", async () => {
    const { k, A, B } = await twoHosts();
    const conn = udpSock(k, A);
    conn.connect("10.0.0.2", 4444);
    const heard = udpSock(k, A);
    heard.connect("10.0.0.2", 4445);
    const errors: string[] = [];
    heard.on("error", (e: SocketError) => errors.push(e.code));
    const loose = udpSock(k, A);
    conn.send("anyone?");
    heard.send("anyone?");
    loose.sendto("anyone?", "10.0.0.2", 4444);
    await settle();
    assert.equal(udpStats(k, B).noport, 3);
    assert.equal(icmpStats(k, B).outhist[3], 3, "B sent three port unreachables");
    assert.equal(icmpStats(k, A).inhist[3], 3, "A received them");
    assert.deepEqual(errors, ["ECONNREFUSED"], "an 'error' listener hears it");
    assert.throws(() => conn.recvfrom(), (e: SocketError) => e.code === "ECONNREFUSED", "without one, the next read reports it");
    assert.equal(conn.recvfrom(), null, "once");
    assert.equal(loose.recvfrom(), null);
    assert.equal(loose.getsockopt(SOL_SOCKET, SO.ERROR), 0);
    // The error is reported by the next send as well (BSD: so_error on any call).
    conn.send("again");
    assert.throws(() => conn.send("and again"), (e: SocketError) => e.code === "ECONNREFUSED");
    k.shutdown();
  });

  test("TTL expiry on the way: time exceeded becomes EHOSTUNREACH on the connected socket (IP_TTL option)", async () => {
    const t = await chain();
    await t.k.kldload("udp");
    const s = udpSock(t.k, t.A);
    s.setsockopt(IPPROTO_IP, IP_TTL, 2);
    assert.equal(s.getsockopt(IPPROTO_IP, IP_TTL), 2);
    s.connect("10.0.4.2", 33434);
    s.send("probe");
    clockOf(t.k).advance(10_000);
    assert.equal(icmpStats(t.k, t.R2).outhist[11], 1, "R2 sent time exceeded");
    assert.throws(() => s.recvfrom(), (e: SocketError) => e.code === "EHOSTUNREACH");
    assert.throws(() => s.setsockopt(IPPROTO_IP, IP_TTL, 256), (e: SocketError) => e.code === "EINVAL");
    t.k.shutdown();
  });

  test("send errors come back to the sender: no route ENETUNREACH, port 0 EADDRNOTAVAIL, 0.0.0.0 and 127.0.0.1 stay in the vnet", async () => {
    const { k, A } = await twoHosts();
    const s = udpSock(k, A, "0.0.0.0", 5353);
    assert.throws(() => s.sendto("x", "192.0.2.1", 9), (e: SocketError) => e.code === "ENETUNREACH");
    assert.throws(() => s.sendto("x", "10.0.0.2", 0), (e: SocketError) => e.code === "EADDRNOTAVAIL");
    s.sendto("to myself", "127.0.0.1", 5353);
    s.sendto("to this host", "0.0.0.0", 5353);
    s.sendto("to my address", "10.0.0.1", 5353);
    const got = [s.recvfrom(), s.recvfrom(), s.recvfrom()].map((d) => `${text(d!.data)} from ${(d!.address as { address: string }).address}`);
    assert.deepEqual(got, ["to myself from 127.0.0.1", "to this host from 127.0.0.1", "to my address from 10.0.0.1"]);
    assert.equal(udpStats(k, A).odropped, 0, "refused before ip_output");
    k.shutdown();
  });

  test("per-socket receive queue limit: a full buffer drops, counted in udps_fullsock and the socket's drops", async () => {
    const { k, A, B } = await twoHosts();
    const srv = udpSock(k, B, "10.0.0.2", 9);
    srv.setsockopt(SOL_SOCKET, SO.RCVBUF, 2000);
    const cli = udpSock(k, A);
    assert.equal(sendBatch(k, cli, Array.from({ length: 50 }, () => new Uint8Array(100)), "10.0.0.2", 9).sent, 50);
    const got = recvBatch(k, srv).length;
    const info = srv.info();
    assert.ok(got > 0 && got < 50, `${got} of 50 fitted`);
    assert.equal(got, Math.floor(2000 / (16 + 100)), "sa_len + data per record against sb_hiwat");
    assert.equal(info.rcvDrops, 50 - got);
    assert.equal(udpStats(k, B).fullsock, 50 - got);
    assert.equal(udpStats(k, B).delivered, got);
    assert.equal(sockstat(k, B)[0].drops, 50 - got);
    k.shutdown();
  });

  test("sockstat shows UDP sockets with local and foreign addresses; netstat -s -p udp in FreeBSD's words", async () => {
    const { k, A, B } = await twoHosts();
    const a = udpSock(k, A, "10.0.0.1", 1111);
    a.connect("10.0.0.2", 2222);
    const b = udpSock(k, A, "0.0.0.0", 53);
    const rows = sockstat(k, A);
    assert.deepEqual(rows.map((r) => [r.local, r.foreign]), [
      [{ family: "inet", address: "0.0.0.0", port: 53 }, undefined],
      [{ family: "inet", address: "10.0.0.1", port: 1111 }, { family: "inet", address: "10.0.0.2", port: 2222 }],
    ]);
    assert.match(formatSockstat(rows), /dgram\/17\s+10\.0\.0\.1:1111\s+10\.0\.0\.2:2222\s+0\s+0\s+0\s+CONNECTED/);
    assert.match(formatSockstat(rows), /dgram\/17\s+\*:53\s+\*:\*/);
    a.send("x");
    const txt = netstatUdp(k, B);
    assert.match(txt, /^udp:$/m);
    assert.match(txt, /^\t1 datagrams received$/m);
    assert.match(txt, /^\t1 dropped due to no socket$/m);
    assert.match(txt, /^\t0 with bad checksum$/m);
    assert.match(netstatUdp(k, A), /^\t1 datagrams output$/m);
    assert.equal(udpGauges(k, A).pcbs, 2);
    b.close();
    assert.equal(udpGauges(k, A).pcbs, 1);
    k.shutdown();
  });
});

describe("udp PCBs", () => {
  test("bind: EADDRINUSE without reuse options; SO_REUSEADDR lets a specific address share a wildcard's port; SO_REUSEPORT on both shares one address", async () => {
    const { k, A } = await twoHosts();
    const code = (f: () => unknown) => {
      try {
        f();
        return "ok";
      } catch (e) {
        return (e as SocketError).code;
      }
    };
    const w = udpSock(k, A, "0.0.0.0", 5000);
    assert.equal(code(() => udpSock(k, A, "0.0.0.0", 5000)), "EADDRINUSE");
    assert.equal(code(() => udpSock(k, A, "10.0.0.1", 5000)), "EADDRINUSE", "a specific address overlaps the wildcard");
    const ra = udpSock(k, A);
    ra.setsockopt(SOL_SOCKET, SO.REUSEADDR, true);
    assert.equal(code(() => ra.bind("10.0.0.1", 5000)), "ok", "SO_REUSEADDR: a specific address next to the wildcard (BSD)");
    const rb = udpSock(k, A);
    rb.setsockopt(SOL_SOCKET, SO.REUSEADDR, true);
    assert.equal(code(() => rb.bind("10.0.0.1", 5000)), "EADDRINUSE", "SO_REUSEADDR alone never shares one unicast address");
    const p1 = udpSock(k, A);
    const p2 = udpSock(k, A);
    const p3 = udpSock(k, A);
    for (const p of [p1, p2]) p.setsockopt(SOL_SOCKET, SO.REUSEPORT, true);
    p1.bind("10.0.0.1", 6000);
    assert.equal(code(() => p2.bind("10.0.0.1", 6000)), "ok", "SO_REUSEPORT on both");
    assert.equal(code(() => p3.bind("10.0.0.1", 6000)), "EADDRINUSE", "the newcomer needs SO_REUSEPORT too");
    // A unicast datagram to a shared port goes to one socket (the newest), not both.
    udpSock(k, A).sendto("one", "10.0.0.1", 6000);
    assert.equal(text(p2.recvfrom()!.data), "one");
    assert.equal(p1.recvfrom(), null);
    // Addresses that are not ours; binding twice.
    assert.equal(code(() => udpSock(k, A, "10.0.0.99", 1)), "EADDRNOTAVAIL");
    assert.equal(code(() => udpSock(k, A, "10.0.0.255", 1)), "ok", "a broadcast address of our interface");
    assert.equal(code(() => w.bind("0.0.0.0", 5001)), "EINVAL");
    // The port frees when its socket closes.
    w.close();
    ra.close();
    assert.equal(code(() => udpSock(k, A, "0.0.0.0", 5000)), "ok");
    k.shutdown();
  });

  test("ephemeral ports come from net.inet.ip.portrange (10000-65535), randomized, distinct; an exhausted range is EADDRNOTAVAIL", async () => {
    const { k, A, B } = await twoHosts(3);
    assert.deepEqual(portRange(k, A), { first: 10000, last: 65535 });
    const ports = Array.from({ length: 20 }, () => (udpSock(k, A, "0.0.0.0", 0).address() as { port: number }).port);
    assert.ok(ports.every((p) => p >= 10000 && p <= 65535));
    assert.equal(new Set(ports).size, 20, "distinct");
    assert.ok(Math.max(...ports) - Math.min(...ports) > 1000, "a random start, not sequential from 10000");
    setPortRange(k, B, 20000, 20003);
    const got = Array.from({ length: 4 }, () => (udpSock(k, B, "0.0.0.0", 0).address() as { port: number }).port).sort();
    assert.deepEqual(got, [20000, 20001, 20002, 20003]);
    assert.throws(() => udpSock(k, B, "0.0.0.0", 0), (e: SocketError) => e.code === "EADDRNOTAVAIL");
    assert.throws(() => udpSock(k, B).sendto("x", "10.0.0.1", 9), (e: SocketError) => e.code === "EADDRNOTAVAIL", "implicit bind too");
    assert.deepEqual(portRange(k, A), { first: 10000, last: 65535 }, "per vnet");
    k.shutdown();
  });

  test("connect filters: only the peer's datagrams arrive; send needs no address; sendto with one is EISCONN; connecting to 0.0.0.0 disconnects", async () => {
    const { k, A, B } = await twoHosts();
    const b = udpSock(k, B, "0.0.0.0", 7000);
    assert.equal(b.connect("10.0.0.1", 1111), true);
    assert.deepEqual(b.address(), { family: "inet", address: "10.0.0.2", port: 7000 }, "connect chose the source address");
    assert.deepEqual(b.remoteAddress(), { family: "inet", address: "10.0.0.1", port: 1111 });
    const peer = udpSock(k, A, "10.0.0.1", 1111);
    const other = udpSock(k, A, "10.0.0.1", 2222);
    other.sendto("from 2222", "10.0.0.2", 7000);
    peer.sendto("from 1111", "10.0.0.2", 7000);
    assert.equal(text(b.recvfrom()!.data), "from 1111");
    assert.equal(b.recvfrom(), null, "the other sender was filtered");
    assert.equal(udpStats(k, B).noport, 1, "...and counted as no socket (it got a port unreachable)");
    b.send("hi peer");
    assert.equal(text(peer.recvfrom()!.data), "hi peer");
    assert.throws(() => b.sendto("x", "10.0.0.1", 2222), (e: SocketError) => e.code === "EISCONN");
    // 0.0.0.0:0 is no peer: EADDRNOTAVAIL, and the socket layer's disconnect has happened (FreeBSD).
    assert.throws(() => b.connect("0.0.0.0", 0), (e: SocketError) => e.code === "EADDRNOTAVAIL");
    assert.equal(b.remoteAddress(), undefined);
    // Disconnect (AF_UNSPEC): back to the wildcard address it was bound to (connect's choice is forgotten).
    b.connect("10.0.0.1", 1111);
    const unspec = new Uint8Array(16);
    unspec[0] = 16;
    b.connect(unspec);
    assert.equal(b.remoteAddress(), undefined);
    assert.deepEqual(b.address(), { family: "inet", address: "0.0.0.0", port: 7000 });
    other.sendto("now me", "10.0.0.2", 7000);
    assert.equal(text(b.recvfrom()!.data), "now me");
    // Reconnecting elsewhere works; a duplicate 4-tuple does not.
    const dupA = udpSock(k, B);
    dupA.setsockopt(SOL_SOCKET, SO.REUSEPORT, true);
    dupA.bind("10.0.0.2", 8000);
    dupA.connect("10.0.0.1", 1111);
    const dupB = udpSock(k, B);
    dupB.setsockopt(SOL_SOCKET, SO.REUSEPORT, true);
    dupB.bind("10.0.0.2", 8000);
    assert.throws(() => dupB.connect("10.0.0.1", 1111), (e: SocketError) => e.code === "EADDRINUSE");
    k.shutdown();
  });

  test("broadcast: EACCES without SO_BROADCAST; with it every socket on the port gets a copy; no ICMP for an unheard broadcast", async () => {
    const { k, A, B } = await twoHosts();
    addRoute(k, A, "default", { gateway: "10.0.0.2" });
    const s = udpSock(k, A);
    const EACCES = 13; // host/errors.ts has no name for it yet
    assert.throws(() => s.sendto("x", "10.0.0.255", 67), (e: SocketError) => e.errno === EACCES);
    assert.throws(() => s.sendto("x", "255.255.255.255", 67), (e: SocketError) => e.errno === EACCES);
    s.setsockopt(SOL_SOCKET, SO.BROADCAST, true);
    const shared = [udpSock(k, B), udpSock(k, B)];
    for (const x of shared) {
      x.setsockopt(SOL_SOCKET, SO.REUSEPORT, true);
      x.bind("0.0.0.0", 67);
    }
    const onBcast = udpSock(k, B);
    onBcast.setsockopt(SOL_SOCKET, SO.REUSEPORT, true);
    onBcast.bind("10.0.0.255", 67);
    const unicastOnly = udpSock(k, B);
    unicastOnly.setsockopt(SOL_SOCKET, SO.REUSEPORT, true);
    unicastOnly.bind("10.0.0.2", 67);
    s.sendto("subnet", "10.0.0.255", 67);
    s.sendto("limited", "255.255.255.255", 67);
    const read = (x: Socket) => recvBatch(k, x).map((d) => text(d.data));
    assert.deepEqual(read(shared[0]), ["subnet", "limited"]);
    assert.deepEqual(read(shared[1]), ["subnet", "limited"]);
    assert.deepEqual(read(onBcast), ["subnet"]);
    assert.deepEqual(read(unicastOnly), [], "a socket bound to a unicast address hears no broadcast");
    assert.equal(udpStats(k, B).delivered, 5);
    s.sendto("nobody", "10.0.0.255", 68);
    assert.equal(udpStats(k, B).noportbcast, 1);
    assert.equal(udpStats(k, B).noport, 0);
    assert.equal(icmpStats(k, B).outhist[3], 0, "no port unreachable for a broadcast");
    for (const x of [...shared, onBcast, unicastOnly]) x.close();
    k.shutdown();
  });
});

describe("udp as a module", () => {
  test("kldload udp into live vnets; kldunload udp (and inet) refused while sockets are open, allowed after, with zero leaks", async () => {
    const k = await Kernel.boot({ config: ["if_epair", "inet"], seed: 5 });
    const A = k.createVnet("A");
    const B = k.createVnet("B");
    const [ea, eb] = k.epair(A, B);
    ea.setUp();
    eb.setUp();
    addAddress(k, ea, "10.0.0.1/24");
    addAddress(k, eb, "10.0.0.2/24");
    assert.throws(() => socket(k, A, "inet", "dgram"), (e: SocketError) => e.code === "EAFNOSUPPORT", "no AF_INET protocol without udp");
    assert.equal((await ping(k, A, "10.0.0.2", { count: 1 })).received, 1); // ARP entries both ways, before the snapshot
    k.reclaim();
    const before = snapshot(k);
    for (let round = 0; round < 2; round++) {
      await k.kldload("udp");
      const srv = udpSock(k, B, "0.0.0.0", 9);
      const cli = socket(k, A, "inet", "dgram"); // protocol 0: UDP is the default datagram protocol
      assert.equal(cli.protocol, 17);
      cli.connect("10.0.0.2", 9);
      cli.send("ping");
      assert.equal(text(srv.recvfrom()!.data), "ping");
      cli.send("left queued on purpose");
      // No link-map dependency: inet's MOD_QUIESCE refuses while udp holds its protocol switch, and says so.
      assert.throws(() => k.kldunload("inet"), (e: unknown) => e instanceof ModuleBusyError && /^kldunload inet: module is busy: udp is registered with its protocol switch; unload it first/.test((e as Error).message));
      assert.throws(() => k.kldunload("udp"), (e: unknown) => e instanceof ModuleBusyError && /kldunload udp: module is busy: \d+ users? \(open sockets/.test((e as Error).message));
      assert.equal(udpSocketsOpen(k), 2);
      srv.close();
      assert.throws(() => k.kldunload("udp"), ModuleBusyError);
      cli.close();
      assert.equal(udpSocketsOpen(k), 0);
      k.kldunload("udp");
      k.reclaim();
      assert.deepEqual(snapshot(k), before, `round ${round}: nothing left behind`);
    }
    k.kldunload("inet");
    k.shutdown();
  });

  test("a forced kldunload udp closes open sockets (the host hears 'close'), frees their PCBs, leaks nothing", async () => {
    const { k, A, B } = await twoHosts();
    k.reclaim();
    const s = udpSock(k, B, "0.0.0.0", 9);
    udpSock(k, A).sendto("queued", "10.0.0.2", 9);
    let closed = 0;
    s.on("close", () => closed++);
    s.on("error", () => {});
    k.kldunload("udp", { force: true });
    await settle();
    assert.equal(closed, 1);
    assert.equal(s.closed, true);
    assert.equal(mbufsInUse(k), 0);
    assert.equal(k.vmstatZ().find((z) => z.name === "udp_inpcb"), undefined, "the PCB zone is gone");
    await k.kldload("udp");
    udpSock(k, B, "0.0.0.0", 9).close();
    k.shutdown();
  });

  test("a vnet destroyed with UDP sockets open (bound, connected, datagrams queued) leaks nothing", async () => {
    const { k, A, B } = await twoHosts();
    const s = udpSock(k, B, "0.0.0.0", 9);
    const c = udpSock(k, A);
    c.connect("10.0.0.2", 9);
    sendBatch(k, c, [new Uint8Array(10), new Uint8Array(3000)]);
    let closedB = false;
    s.on("close", () => (closedB = true));
    s.on("error", () => {});
    c.on("error", () => {});
    B.destroy();
    A.destroy();
    await settle();
    assert.equal(closedB, true);
    assert.equal(mbufsInUse(k), 0);
    assert.equal(k.vmstatZ().find((z) => z.name === "udp_inpcb")?.used ?? 0, 0);
    assert.equal(udpSocketsOpen(k), 0);
    k.kldunload("udp");
    k.shutdown();
  });

  test("the runtime heap does not move while UDP traffic runs (no managed allocation)", async () => {
    const { k, A, B } = await twoHosts();
    const srv = udpSock(k, B, "0.0.0.0", 9);
    const cli = udpSock(k, A);
    cli.sendto("warm up", "10.0.0.2", 9);
    recvBatch(k, srv);
    const top = k.heapTop();
    const udpTop = k.module<{ kmod_heap_top(): number }>("udp").kmod_heap_top();
    for (let i = 0; i < 20; i++) {
      sendBatch(k, cli, Array.from({ length: 100 }, (_, j) => new Uint8Array(j * 10)), "10.0.0.2", 9);
      recvBatch(k, srv);
      cli.sendto("nobody", "10.0.0.2", 10);
    }
    assert.equal(k.heapTop(), top);
    assert.equal(k.module<{ kmod_heap_top(): number }>("udp").kmod_heap_top(), udpTop);
    k.shutdown();
  });
});


describe("udp flood into a socket that never reads", () => {
  test("100,000 datagrams: the receive buffer bound holds, every drop counted in udps_fullsock, another socket of the vnet and another vnet unaffected, memory bounded, nothing left", async () => {
    const N = 100_000;
    const k = await boot(9);
    k.reclaim();
    const before = snapshot(k);
    const [A, B, C] = ["A", "B", "C"].map((n) => k.createVnet(n));
    const [ea, eb] = k.epair(A, B);
    const [ec, eb2] = k.epair(C, B);
    for (const i of [ea, eb, ec, eb2]) i.setUp();
    addAddress(k, ea, "10.0.0.1/24");
    addAddress(k, eb, "10.0.0.2/24");
    addAddress(k, ec, "10.0.1.1/24");
    addAddress(k, eb2, "10.0.1.2/24");
    const slow = udpSock(k, B, "0.0.0.0", 9); // never read, default buffer
    const other = udpSock(k, B, "0.0.0.0", 10); // read as it goes
    const cSock = udpSock(k, C, "0.0.0.0", 11); // another vnet's socket, from B
    const flood = udpSock(k, A);
    const bTx = udpSock(k, B);
    const pinned0 = B.accounting().pinnedBytes;
    const limits = slow.info();
    const batch = Array.from({ length: 1000 }, (_, i) => pattern(512, i));
    let peakPinned = 0;
    let peakMbufs = 0;
    for (let round = 0; round < N / batch.length; round++) {
      assert.equal(sendBatch(k, flood, batch, "10.0.0.2", 9).sent, batch.length);
      // The other socket of B and a vnet B talks to get every datagram, intact.
      flood.sendto(pattern(700, round), "10.0.0.2", 10);
      assert.deepEqual(other.recv(), pattern(700, round), `datagram ${round} to the other socket`);
      bTx.sendto(pattern(300, round), "10.0.1.1", 11);
      assert.deepEqual(cSock.recv(), pattern(300, round), `datagram ${round} from B to C`);
      const i = slow.info();
      assert.ok(i.rcvBytes <= i.rcvLimit && i.rcvStorage <= i.rcvStorageLimit, `round ${round}: ${i.rcvBytes}/${i.rcvLimit} bytes, ${i.rcvStorage}/${i.rcvStorageLimit} storage`);
      peakPinned = Math.max(peakPinned, B.accounting().pinnedBytes - pinned0);
      peakMbufs = Math.max(peakMbufs, mbufsInUse(k));
    }
    const info = slow.info();
    const s = udpStats(k, B);
    assert.ok(info.rcvRecords > 0 && info.rcvRecords < 100, `${info.rcvRecords} datagrams queued`);
    assert.equal(s.fullsock, N - info.rcvRecords, "every datagram that did not fit counted");
    assert.equal(info.rcvDrops, s.fullsock);
    assert.equal(s.delivered, info.rcvRecords + N / batch.length, "the queued ones and the other socket's");
    assert.deepEqual(B.accounting().refusals, { budget: 0, fairShare: 0 }, "the socket's bound acts before any budget");
    assert.ok(peakPinned <= limits.rcvStorageLimit + 64 * 1024, `B pinned ${peakPinned} bytes more at most`);
    assert.ok(peakMbufs <= 4 * info.rcvRecords + 16, `${peakMbufs} mbufs and clusters at most: a few per queued datagram, none for the dropped`);
    assert.equal(udpStats(k, C).fullsock, 0);
    for (const x of [slow, other, cSock, flood, bTx]) x.close();
    for (const v of [A, B, C]) v.destroy();
    for (const i of k.vnet0.interfaces().filter((i) => i.name.startsWith("epair"))) if (i.alive) i.destroy();
    k.reclaim();
    assert.equal(mbufsInUse(k), 0);
    assert.deepEqual(snapshot(k), before, "nothing left after destroy");
    k.shutdown();
  });
});
