// UDP over IPv6 (netinet6/udp6_usrreq.ts, in the udp module): sockets of AF_INET6 through
// the host's socket calls, the mandatory checksum, port unreachable, fragments, shared
// port space with IPv4, and nothing left.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { Kernel, SocketError } from "../host/index.js";
import { icmp6Stats, ip6Stats } from "../host/admin/inet6.js";
import { addAddress } from "../host/admin/inet.js";
import { udpStats } from "../host/admin/udp.js";
import { snapshot } from "./helpers/snapshot.js";
import { ether, mbufsInUse } from "./helpers/inet.js";
import { ip6Packet, cksum6, twoHosts6 } from "./helpers/inet6.js";
import { suiteConfig, configHas } from "./helpers/config.js";
import { parseIPv6 } from "../host/admin/inet6.js";

async function pair() {
  const { k, A, B, ea, eb } = await twoHosts6(1, suiteConfig(["if_epair", "inet6", "udp"], "GENERIC"));
  if (k.linker.isLoaded("inet")) {
    addAddress(k, ea, "10.0.0.1/24");
    addAddress(k, eb, "10.0.0.2/24");
  }
  return { k, A, B, ea, eb };
}

function udp6(src: string, dst: string, sport: number, dport: number, data: Uint8Array, sum?: number): Uint8Array {
  const u = new Uint8Array(8 + data.length);
  const dv = new DataView(u.buffer);
  dv.setUint16(0, sport);
  dv.setUint16(2, dport);
  dv.setUint16(4, u.length);
  u.set(data, 8);
  dv.setUint16(6, sum ?? cksum6(parseIPv6(src, "src"), parseIPv6(dst, "dst"), 17, u));
  return u;
}

describe("UDP over IPv6", () => {
  test("sendto / recvfrom between vnets with IPv6 sockaddrs; connect; getsockname/getpeername", async () => {
    const { k, A, B } = await pair();
    const before = (k.reclaim(), snapshot(k));
    const srv = B.socket("inet6", "dgram");
    srv.bind("fd00::2", 5353);
    const cli = A.socket("inet6", "dgram");
    assert.equal(cli.sendto("hello six", "fd00::2", 5353), 9);
    const d = srv.recvfrom();
    assert.ok(d);
    assert.equal(Buffer.from(d.data).toString(), "hello six");
    assert.equal(d.address?.family, "inet6");
    assert.equal((d.address as { address: string }).address, "fd00::1");
    const port = (cli.address() as { port: number }).port;
    assert.equal((d.address as { port: number }).port, port);
    // Reply on the same path, and a connected socket.
    srv.sendto("back", "fd00::1", port);
    assert.equal(Buffer.from(cli.recvfrom()!.data).toString(), "back");
    assert.equal(cli.connect("fd00::2", 5353), true);
    assert.deepEqual(cli.remoteAddress(), { family: "inet6", address: "fd00::2", port: 5353 });
    assert.deepEqual(cli.address(), { family: "inet6", address: "fd00::1", port });
    cli.send("connected");
    assert.equal(Buffer.from(srv.recvfrom()!.data).toString(), "connected");
    // [::]:0 is no peer: EADDRNOTAVAIL, disconnected by the socket layer (FreeBSD); [::] with a
    // port is this host (::1), as sendto takes it. Then back to the server for what follows.
    assert.throws(() => cli.connect("::", 0), (e: SocketError) => e.code === "EADDRNOTAVAIL");
    assert.equal(cli.remoteAddress(), undefined);
    const self = A.socket("inet6", "dgram");
    self.bind("::1", 5454);
    cli.connect("::", 5454);
    assert.deepEqual(cli.remoteAddress(), { family: "inet6", address: "::1", port: 5454 });
    cli.send("to myself");
    assert.equal(Buffer.from(self.recvfrom()!.data).toString(), "to myself");
    self.close();
    const unspec = new Uint8Array(16);
    unspec[0] = 16;
    cli.connect(unspec);
    assert.equal(cli.connect("fd00::2", 5353), true);
    // A big datagram goes in fragments and comes back whole.
    const big = new Uint8Array(8000).map((_, i) => i * 7); // under net.inet.udp.maxdgram, over the MTU
    cli.send(big);
    assert.deepEqual(srv.recvfrom(65536)!.data, big);
    assert.ok(ip6Stats(k, B).reassembled >= 1);
    assert.equal(udpStats(k, B).delivered, 3);
    cli.close();
    srv.close();
    k.reclaim();
    const after = snapshot(k);
    assert.deepEqual(after.zones.filter((z) => z.startsWith("udp_inpcb")), before.zones.filter((z) => z.startsWith("udp_inpcb")), "PCBs freed");
    A.destroy();
    B.destroy();
    assert.equal(mbufsInUse(k), 0);
    k.shutdown();
  });

  test("a port nobody has: ICMPv6 port unreachable; a connected sender sees ECONNREFUSED", async () => {
    const { k, A, B } = await pair();
    const cli = A.socket("inet6", "dgram");
    cli.connect("fd00::2", 9999);
    cli.send("anyone?");
    assert.equal(udpStats(k, B).noport, 1);
    assert.equal(icmp6Stats(k, B).outhist[0], 1, "destination unreachable sent");
    assert.throws(() => cli.send("again"), (e: unknown) => e instanceof SocketError && /ECONNREFUSED/.test(e.message));
    cli.close();
    k.shutdown();
  });

  test("IPv4 and IPv6 sockets share the port space but not their bindings; checksum 0 and bad checksums are dropped", { skip: !configHas("inet") && "the configuration has no IPv4" }, async () => {
    const { k, A, B, ea, eb } = await pair();
    const s4 = B.socket("inet", "dgram");
    s4.bind("0.0.0.0", 7000);
    const s6 = B.socket("inet6", "dgram");
    s6.bind("::", 7000); // one binding per family (IPV6_V6ONLY)
    const again = B.socket("inet6", "dgram");
    assert.throws(() => again.bind("::", 7000), (e: unknown) => e instanceof SocketError && /EADDRINUSE/.test(e.message));
    again.close();
    const c6 = A.socket("inet6", "dgram");
    c6.sendto("six", "fd00::2", 7000);
    const c4 = A.socket("inet", "dgram");
    c4.sendto("four", "10.0.0.2", 7000);
    assert.equal(Buffer.from(s6.recvfrom()!.data).toString(), "six");
    assert.equal(Buffer.from(s4.recvfrom()!.data).toString(), "four");
    assert.equal(s6.recvfrom(), null);
    // RFC 8200 8.1: no checksum is no datagram; a wrong one neither.
    const m0 = mbufsInUse(k);
    const u0 = udpStats(k, B);
    eb.receive(ether(ea, eb, 0x86dd, ip6Packet({ nxt: 17, payload: udp6("fd00::1", "fd00::2", 1234, 7000, new Uint8Array(4), 0) })));
    eb.receive(ether(ea, eb, 0x86dd, ip6Packet({ nxt: 17, payload: udp6("fd00::1", "fd00::2", 1234, 7000, new Uint8Array(4), 0x1234) })));
    eb.receive(ether(ea, eb, 0x86dd, ip6Packet({ nxt: 17, payload: udp6("fd00::1", "fd00::2", 1234, 7000, new Uint8Array(4)) })));
    const u1 = udpStats(k, B);
    assert.equal(u1.nosum - u0.nosum, 1);
    assert.equal(u1.badsum - u0.badsum, 1);
    assert.equal(s6.recvfrom()?.data.length, 4, "the good one arrived");
    assert.equal(mbufsInUse(k), m0);
    for (const s of [s4, s6, c6, c4]) s.close();
    A.destroy();
    B.destroy();
    k.shutdown();
  });

  test("NOINET6: udp loads and an IPv6 datagram socket is EAFNOSUPPORT; kldunload order udp then inet6", async () => {
    const k = await Kernel.boot({ config: "NOINET6" });
    const v = k.createVnet("v");
    assert.throws(() => v.socket("inet6", "dgram"), (e: unknown) => (e as { code?: string }).code === "EAFNOSUPPORT");
    k.shutdown();
    const g = await Kernel.boot({ config: ["if_epair", "inet", "inet6", "udp"] });
    const w = g.createVnet("w");
    const s = w.socket("inet6", "dgram");
    assert.throws(() => g.kldunload("udp"), /busy|EBUSY/i);
    s.close();
    assert.throws(() => g.kldunload("inet6"), /busy|EBUSY/i);
    g.kldunload("udp");
    g.kldunload("inet6");
    g.shutdown();
  });

  test("node:dgram look-alike: udp6 sockets bind, send and receive with IPv6 rinfo; localhost is ::1", async () => {
    const { k, A, B } = await pair();
    const srv = B.dgram("udp6");
    srv.bind(4000, "fd00::2");
    await once(srv, "listening");
    assert.deepEqual(srv.address(), { address: "fd00::2", family: "IPv6", port: 4000 });
    const cli = A.dgram({ type: "udp6" });
    const got = once(srv, "message");
    cli.send("ping six", 4000, "fd00::2");
    const [msg, rinfo] = await got;
    assert.equal(String(msg), "ping six");
    assert.equal(rinfo.family, "IPv6");
    assert.equal(rinfo.address, "fd00::1");
    const back = once(cli, "message");
    srv.send("pong", rinfo.port, rinfo.address);
    assert.equal(String((await back)[0]), "pong");
    const lo = B.dgram("udp6");
    lo.bind(7, "localhost");
    await once(lo, "listening");
    assert.equal(lo.address().address, "::1");
    const own = once(lo, "message");
    B.dgram("udp6").send("me", 7); // the default destination is ::1
    assert.equal(String((await own)[0]), "me");
    const bad = once(cli, "error");
    cli.send("x", 9, "10.0.0.2");
    assert.match(String((await bad)[0]), /ENOTFOUND|getaddrinfo/);
    for (const s of [srv, cli, lo]) s.close();
    k.shutdown();
  });
});
