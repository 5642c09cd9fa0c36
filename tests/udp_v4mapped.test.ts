// Dual-stack UDP sockets (IPV6_V6ONLY off, v4-mapped addresses; netinet6/udp6_usrreq.ts,
// docs/sockets.md "Dual-stack sockets"): the per-vnet default net.inet6.ip6.v6only, the
// option and when it may change, IPv4 both ways through an AF_INET6 socket with ::ffff:
// addresses, getsockname/getpeername forms, the bind conflicts between a dual socket and
// AF_INET ones, and what a kernel without inet says.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { Kernel, createSocket, type Socket, type Vnet } from "../host/index.js";
import { IPPROTO_IPV6, IPV6_V6ONLY, SOL_SOCKET, SO } from "../host/sockets/socket.js";
import { setV6only, v6only } from "../host/admin/inet6.js";
import { sysctlKnob } from "../host/admin/sysctl.js";
import { udpStats } from "../host/admin/udp.js";
import { mbufsInUse } from "./helpers/inet.js";
import { dualPair, dualSocket, errnoOf } from "./helpers/dualstack.js";

/** A (fd00::1, 10.0.0.1) and B (fd00::2, 10.0.0.2) on one epair. */
const pair = () => dualPair("udp");

/** An AF_INET6 datagram socket with IPV6_V6ONLY off. */
const dual = (v: Vnet): Socket => dualSocket(v, "dgram");

function text(d: { data: Uint8Array } | null): string {
  assert.ok(d, "a datagram is queued");
  return Buffer.from(d.data).toString();
}

describe("dual-stack UDP (IPV6_V6ONLY off)", () => {
  test("net.inet6.ip6.v6only: 1 by default (FreeBSD's); new sockets take it, open ones keep theirs", async () => {
    const { k, A, B } = await pair();
    assert.equal(v6only(k, A), true);
    assert.equal(sysctlKnob("net.inet6.ip6.v6only").get(k, A), 1);
    const before = A.socket("inet6", "dgram");
    assert.equal(before.getsockopt(IPPROTO_IPV6, IPV6_V6ONLY), 1, "a new socket is IPv6 only");
    setV6only(k, A, false);
    assert.equal(v6only(k, B), true, "per vnet: B keeps its own");
    const after = A.socket("inet6", "dgram");
    assert.equal(after.getsockopt(IPPROTO_IPV6, IPV6_V6ONLY), 0, "a socket made after the change is dual");
    assert.equal(before.getsockopt(IPPROTO_IPV6, IPV6_V6ONLY), 1, "an open socket keeps its setting");
    // The default is what decides: a dual socket by the sysctl reaches IPv4 without setsockopt.
    const srv = B.socket("inet", "dgram").bind("0.0.0.0", 4000);
    assert.equal(after.sendto("by sysctl", "::ffff:10.0.0.2", 4000), 9);
    assert.equal(text(srv.recvfrom()), "by sysctl");
    assert.equal(errnoOf(() => before.sendto("x", "::ffff:10.0.0.2", 4000)), "EINVAL", "the v6only socket refuses a v4-mapped destination");
    sysctlKnob("net.inet6.ip6.v6only").set(k, A, 1);
    assert.equal(A.socket("inet6", "dgram").getsockopt(IPPROTO_IPV6, IPV6_V6ONLY), 1);
    assert.throws(() => sysctlKnob("net.inet6.ip6.v6only").parse(2), /0 or 1/);
    // The kernel checks the value too (inet6_set, selector 15 as host/admin/inet6.ts's K.V6ONLY).
    assert.equal((k.module("inet6") as unknown as { inet6_set(v: number, what: number, value: number): number }).inet6_set(A.ptr, 15, 2), -22);
    assert.equal(v6only(k, A), true, "unchanged by the refused value");
    k.shutdown();
  });

  test("IPV6_V6ONLY changes only before the socket is bound: EINVAL after bind, after an implicit bind, after connect", async () => {
    const { k, A } = await pair();
    const s = A.socket("inet6", "dgram");
    s.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 0);
    s.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 1);
    s.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 0);
    assert.equal(s.getsockopt(IPPROTO_IPV6, IPV6_V6ONLY), 0);
    s.bind("::", 0);
    assert.equal(errnoOf(() => s.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 1)), "EINVAL");
    assert.equal(s.getsockopt(IPPROTO_IPV6, IPV6_V6ONLY), 0, "unchanged by the refused set");
    const t = dual(A);
    t.sendto("x", "fd00::2", 9);
    assert.equal(errnoOf(() => t.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 1)), "EINVAL", "sendto bound it to a port");
    const u = dual(A);
    u.connect("::ffff:10.0.0.2", 9);
    assert.equal(errnoOf(() => u.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 1)), "EINVAL", "connect bound it");
    // Other IPv6-level options are still not there, and AF_INET sockets have no IPPROTO_IPV6.
    assert.equal(errnoOf(() => A.socket("inet6", "dgram").setsockopt(IPPROTO_IPV6, 4 /* IPV6_UNICAST_HOPS */, 1)), "ENOPROTOOPT");
    assert.equal(errnoOf(() => A.socket("inet", "dgram").setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 0)), "ENOPROTOOPT");
    k.shutdown();
  });

  test("with IPV6_V6ONLY on, v4-mapped addresses are refused: sendto, connect and bind EINVAL", async () => {
    const { k, A } = await pair();
    const s = A.socket("inet6", "dgram");
    assert.equal(errnoOf(() => s.sendto("x", "::ffff:10.0.0.2", 9)), "EINVAL");
    assert.equal(errnoOf(() => s.connect("::ffff:10.0.0.2", 9)), "EINVAL");
    assert.equal(errnoOf(() => s.bind("::ffff:10.0.0.1", 0)), "EINVAL");
    k.shutdown();
  });

  test("a dual socket on [::]:p receives IPv4 (sender ::ffff:a.b.c.d) and IPv6, and answers both", async () => {
    const { k, A, B } = await pair();
    const srv = dual(B).bind("::", 5000);
    const c4 = A.socket("inet", "dgram").bind("10.0.0.1", 6000);
    const c6 = A.socket("inet6", "dgram").bind("fd00::1", 6000);
    c4.sendto("over four", "10.0.0.2", 5000);
    c6.sendto("over six", "fd00::2", 5000);
    const d4 = srv.recvfrom();
    assert.equal(text(d4), "over four");
    assert.deepEqual(d4!.address, { family: "inet6", address: "::ffff:10.0.0.1", port: 6000 });
    const d6 = srv.recvfrom();
    assert.equal(text(d6), "over six");
    assert.deepEqual(d6!.address, { family: "inet6", address: "fd00::1", port: 6000 });
    // Replies go out by the family of the address they are sent to.
    srv.sendto("back four", d4!.address!);
    srv.sendto("back six", d6!.address!);
    const r4 = c4.recvfrom();
    assert.equal(text(r4), "back four");
    assert.deepEqual(r4!.address, { family: "inet", address: "10.0.0.2", port: 5000 }, "an IPv4 datagram from the dual socket's port");
    assert.equal(text(c6.recvfrom()), "back six");
    assert.deepEqual(srv.address(), { family: "inet6", address: "::", port: 5000 }, "still bound to the wildcard of both");
    srv.close();
    c4.close();
    c6.close();
    k.shutdown();
  });

  test("broadcast to a dual socket: delivered with a ::ffff: sender", async () => {
    const { k, A, B } = await pair();
    const srv = dual(B).bind("::", 5001);
    const c = A.socket("inet", "dgram");
    c.setsockopt(SOL_SOCKET, SO.BROADCAST, 1);
    c.sendto("to all", "10.0.0.255", 5001);
    const d = srv.recvfrom();
    assert.equal(text(d), "to all");
    assert.equal((d!.address as { address: string }).address, "::ffff:10.0.0.1");
    k.shutdown();
  });

  test("getsockname/getpeername: :: then a port after a v4-mapped sendto; ::ffff: forms when connected to or bound to a v4-mapped address", async () => {
    const { k, A, B } = await pair();
    const s = dual(A);
    assert.deepEqual(s.address(), { family: "inet6", address: "::", port: 0 }, "newborn");
    s.sendto("x", "::ffff:10.0.0.2", 9);
    const a = s.address() as { address: string; port: number };
    assert.equal(a.address, "::", "an unconnected socket keeps the wildcard");
    assert.notEqual(a.port, 0);
    const srv = B.socket("inet", "dgram").bind("10.0.0.2", 5002);
    const c = dual(A);
    c.connect("::ffff:10.0.0.2", 5002);
    assert.deepEqual(c.remoteAddress(), { family: "inet6", address: "::ffff:10.0.0.2", port: 5002 });
    const ca = c.address() as { family: string; address: string; port: number };
    assert.equal(ca.address, "::ffff:10.0.0.1", "the IPv4 source the route chose, mapped");
    c.send("connected");
    const d = srv.recvfrom();
    assert.equal(text(d), "connected");
    assert.deepEqual(d!.address, { family: "inet", address: "10.0.0.1", port: ca.port });
    // Connected over IPv4: an IPv6 destination is EISCONN, as any connected socket.
    assert.equal(errnoOf(() => c.sendto("x", "fd00::2", 9)), "EISCONN");
    // Disconnected, it stays an IPv4 socket (FreeBSD): IPv6 peers are refused.
    c.connect({ family: 0, bytes: new Uint8Array([16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]) });
    assert.equal(c.remoteAddress(), undefined, "disconnected");
    assert.equal(errnoOf(() => c.sendto("x", "fd00::2", 9)), "EINVAL");
    assert.equal(errnoOf(() => c.connect("fd00::2", 9)), "EINVAL");
    const b = dual(B).bind("::ffff:10.0.0.2", 5003);
    assert.deepEqual(b.address(), { family: "inet6", address: "::ffff:10.0.0.2", port: 5003 });
    k.shutdown();
  });

  test("bound to ::ffff:a.b.c.d: IPv4 to that address only; the port's IPv6 side stays free; not ours: EADDRNOTAVAIL", async () => {
    const { k, A, B } = await pair();
    const b = dual(B).bind("::ffff:10.0.0.2", 5004);
    const six = B.socket("inet6", "dgram").bind("::", 5004); // v6only: no conflict with an IPv4 binding
    const c4 = A.socket("inet", "dgram");
    c4.sendto("four", "10.0.0.2", 5004);
    assert.deepEqual((b.recvfrom()!.address as { address: string }).address, "::ffff:10.0.0.1");
    A.socket("inet6", "dgram").sendto("six", "fd00::2", 5004);
    assert.equal(text(six.recvfrom()), "six", "IPv6 goes to the IPv6 socket");
    assert.equal(b.recvfrom(), null, "the v4-mapped socket hears no IPv6");
    assert.equal(errnoOf(() => dual(B).bind("::ffff:10.9.9.9", 0)), "EADDRNOTAVAIL");
    assert.equal(errnoOf(() => dual(B).sendto("x", "::ffff:10.9.9.9", 0)), "EADDRNOTAVAIL", "port 0, as IPv4's sendto");
    k.shutdown();
  });

  test("bind conflicts: a dual [::]:p holds the port's IPv4 wildcard against AF_INET binds, both ways; SO_REUSEPORT shares it; v6only does not", async () => {
    const { k, A, B } = await pair();
    const d = dual(B).bind("::", 5100);
    assert.equal(errnoOf(() => B.socket("inet", "dgram").bind("0.0.0.0", 5100)), "EADDRINUSE", "AF_INET wildcard after the dual");
    assert.equal(errnoOf(() => B.socket("inet", "dgram").bind("10.0.0.2", 5100)), "EADDRINUSE", "AF_INET address after the dual");
    assert.equal(errnoOf(() => dual(B).bind("::ffff:10.0.0.2", 5100)), "EADDRINUSE", "v4-mapped address after the dual");
    assert.equal(errnoOf(() => B.socket("inet6", "dgram").bind("::", 5100)), "EADDRINUSE", "IPv6 wildcard after the dual");
    d.close();
    B.socket("inet", "dgram").bind("0.0.0.0", 5101);
    assert.equal(errnoOf(() => dual(B).bind("::", 5101)), "EADDRINUSE", "dual after an AF_INET wildcard");
    B.socket("inet", "dgram").bind("10.0.0.2", 5102);
    assert.equal(errnoOf(() => dual(B).bind("::", 5102)), "EADDRINUSE", "dual after an AF_INET address");
    dual(B).bind("::ffff:10.0.0.2", 5103);
    assert.equal(errnoOf(() => dual(B).bind("::", 5103)), "EADDRINUSE", "dual after a v4-mapped address");
    // IPV6_V6ONLY on: one binding per family, as before.
    B.socket("inet", "dgram").bind("0.0.0.0", 5104);
    B.socket("inet6", "dgram").bind("::", 5104);
    // A dual socket bound to a real IPv6 address is IPv6 only: no IPv4 side to conflict,
    // in either order, and no IPv4 datagram for it.
    B.socket("inet", "dgram").bind("0.0.0.0", 5105);
    dual(B).bind("fd00::2", 5105);
    const only6 = dual(B).bind("fd00::2", 5106);
    const four = B.socket("inet", "dgram").bind("0.0.0.0", 5106);
    four.close();
    const noport = udpStats(k, B).noport;
    A.socket("inet", "dgram").sendto("four", "10.0.0.2", 5106);
    assert.equal(only6.recvfrom(), null, "bound to fd00::2: IPv4 does not reach it");
    assert.equal(udpStats(k, B).noport, noport + 1);
    k.shutdown();
  });

  test("SO_REUSEPORT on an AF_INET and a dual wildcard: both bind, and IPv4 goes to the AF_INET socket whichever bound first (FreeBSD's order)", async () => {
    const { k, A, B } = await pair();
    const dualShared = (port: number) => {
      const d = B.socket("inet6", "dgram");
      d.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 0);
      d.setsockopt(SOL_SOCKET, SO.REUSEPORT, 1);
      return d.bind("::", port);
    };
    const fourShared = (port: number) => {
      const f = B.socket("inet", "dgram");
      f.setsockopt(SOL_SOCKET, SO.REUSEPORT, 1);
      return f.bind("0.0.0.0", port);
    };
    for (const [port, dualFirst] of [[5200, true], [5201, false]] as const) {
      const d = dualFirst ? dualShared(port) : undefined;
      const f = fourShared(port);
      const d2 = d ?? dualShared(port);
      A.socket("inet", "dgram").sendto("four", "10.0.0.2", port);
      assert.equal(text(f.recvfrom()), "four", `dual bound ${dualFirst ? "first" : "second"}`);
      assert.equal(d2.recvfrom(), null);
      A.socket("inet6", "dgram").sendto("six", "fd00::2", port);
      assert.equal(text(d2.recvfrom()), "six");
    }
    k.shutdown();
  });

  test("nothing is left: the sockets of a dual exchange go with their vnets", async () => {
    const { k, A, B } = await pair();
    const srv = dual(B).bind("::", 5300);
    const c = dual(A);
    for (let i = 0; i < 20; i++) c.sendto(`n${i}`, "::ffff:10.0.0.2", 5300);
    assert.equal(udpStats(k, B).delivered, 20);
    srv.recvfrom();
    A.destroy();
    B.destroy();
    assert.equal(mbufsInUse(k), 0);
    k.shutdown();
  });
});

describe("dual-stack UDP without inet (NOINET)", () => {
  test("IPV6_V6ONLY may be turned off, but IPv4 has nowhere to go: sendto/connect ENETUNREACH, bind EADDRNOTAVAIL", async () => {
    const k = await Kernel.boot({ config: ["if_epair", "inet6", "udp"] });
    const v = k.createVnet("solo");
    const s = dual(v);
    assert.equal(errnoOf(() => s.sendto("x", "::ffff:127.0.0.1", 9)), "ENETUNREACH");
    assert.equal(errnoOf(() => s.connect("::ffff:127.0.0.1", 9)), "ENETUNREACH");
    assert.equal(errnoOf(() => dual(v).bind("::ffff:127.0.0.1", 0)), "EADDRNOTAVAIL");
    // IPv6 still works through it.
    const r = v.socket("inet6", "dgram").bind("::1", 7);
    s.sendto("six", "::1", 7);
    assert.equal(text(r.recvfrom()), "six");
    k.shutdown();
  });
});

describe("dgram.createSocket({ type: 'udp6', ipv6Only })", () => {
  test("ipv6Only false: dual-stack, IPv4 senders as ::ffff:a.b.c.d with family IPv6; true or left out (v6only=1): IPv6 only", { timeout: 60_000 }, async () => {
    const { k, A, B } = await pair();
    const dual6 = createSocket(k, B, { type: "udp6", ipv6Only: false });
    dual6.bind(5400, "::");
    await once(dual6, "listening");
    const got = once(dual6, "message");
    A.socket("inet", "dgram").bind("10.0.0.1", 6400).sendto("hi", "10.0.0.2", 5400);
    const [msg, rinfo] = await got;
    assert.equal(Buffer.from(msg).toString(), "hi");
    assert.deepEqual(rinfo, { address: "::ffff:10.0.0.1", family: "IPv6", port: 6400, size: 2 });
    // The reply to that address leaves over IPv4.
    const back = A.socket("inet", "dgram").bind("10.0.0.1", 6401);
    await new Promise<void>((r, j) => dual6.send("yo", 6401, "::ffff:10.0.0.1", (e) => (e ? j(e) : r())));
    assert.equal(text(back.recvfrom()), "yo");
    assert.equal(dual6.socket.getsockopt(IPPROTO_IPV6, IPV6_V6ONLY), 0);
    for (const opts of [{ type: "udp6" as const, ipv6Only: true }, { type: "udp6" as const }]) {
      const s = createSocket(k, B, opts);
      assert.equal(s.socket.getsockopt(IPPROTO_IPV6, IPV6_V6ONLY), 1, JSON.stringify(opts));
      s.close();
    }
    // Left out, the vnet's net.inet6.ip6.v6only decides (Node on FreeBSD: libuv sets it only when asked).
    setV6only(k, B, false);
    const byDefault = createSocket(k, B, "udp6");
    assert.equal(byDefault.socket.getsockopt(IPPROTO_IPV6, IPV6_V6ONLY), 0);
    byDefault.close();
    dual6.close();
    k.shutdown();
  });
});
