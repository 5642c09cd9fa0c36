// Dual-stack TCP sockets (IPV6_V6ONLY off; tcp_inet6.ts af_init/af_ctloutput/af_unmap,
// tcp_subr.ts af_sees; docs/sockets.md "Dual-stack sockets"): a listener on [::]:p accepts
// IPv4 connections whose peer shows as ::ffff:a.b.c.d, a connect to ::ffff:a.b.c.d is an
// IPv4 connection, the option's rules, the bind conflicts with AF_INET sockets, and nothing
// left afterwards.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { Kernel, type Socket, type Vnet } from "../host/index.js";
import { IPPROTO_IPV6, IPV6_V6ONLY, SOL_SOCKET, SO } from "../host/sockets/socket.js";
import { setV6only } from "../host/admin/inet6.js";
import { tcpConnections, netstatAnTcp } from "../host/admin/tcp.js";
import { mbufsInUse } from "./helpers/inet.js";
import { dualPair, dualSocket, errnoOf } from "./helpers/dualstack.js";
import { clock, step } from "./helpers/tcp.js";
import { idleClock } from "./helpers/net.js";
import { netFor } from "../host/node/net.js";

/** A (fd00::1, 10.0.0.1) and B (fd00::2, 10.0.0.2) on one epair. */
const pair = () => dualPair("tcp");

/** An AF_INET6 stream socket with IPV6_V6ONLY off. */
const dual = (v: Vnet): Socket => dualSocket(v, "stream");

function settle(k: Kernel): void {
  for (let i = 0; i < 20; i++) step(k, 10_000);
}

const dec = new TextDecoder();

/** Close everything, let TIME_WAIT run out, and check nothing is left. */
function finish(k: Kernel, ...socks: Socket[]): void {
  for (const s of socks) s.close();
  clock(k).runUntilIdle(200_000_000);
  for (const v of k.vnets()) {
    if (v === k.vnet0) continue;
    assert.equal((k.module("tcp") as any).tcp_pcbcount(v.ptr), 0, `no tcpcb left in ${v.name}`);
  }
  assert.equal(mbufsInUse(k), 0);
  k.shutdown();
}

describe("dual-stack TCP (IPV6_V6ONLY off)", () => {
  test("a listener on [::]:p accepts IPv4 (peer ::ffff:a.b.c.d, local ::ffff:) and IPv6 connections; data both ways", async () => {
    const { k, A, B } = await pair();
    const lsn = dual(B).bind("::", 80).listen();
    assert.deepEqual(lsn.address(), { family: "inet6", address: "::", port: 80 });
    const c4 = A.socket("inet", "stream").bind("10.0.0.1", 7000);
    c4.connect("10.0.0.2", 80);
    const c6 = A.socket("inet6", "stream").bind("fd00::1", 7001);
    c6.connect("fd00::2", 80);
    settle(k);
    const s1 = lsn.accept();
    const s2 = lsn.accept();
    assert.ok(s1 && s2, "both accepted");
    const [s4, s6] = (s1!.remoteAddress() as { address: string }).address.startsWith("::ffff:") ? [s1!, s2!] : [s2!, s1!];
    assert.deepEqual(s4.remoteAddress(), { family: "inet6", address: "::ffff:10.0.0.1", port: 7000 });
    assert.deepEqual(s4.address(), { family: "inet6", address: "::ffff:10.0.0.2", port: 80 });
    assert.deepEqual(s6.remoteAddress(), { family: "inet6", address: "fd00::1", port: 7001 });
    assert.equal(s4.getsockopt(IPPROTO_IPV6, IPV6_V6ONLY), 0, "the listener's setting");
    s4.send("to four");
    s6.send("to six");
    c4.send("from four");
    settle(k);
    assert.equal(dec.decode(c4.recv()!), "to four");
    assert.equal(dec.decode(c6.recv()!), "to six");
    assert.equal(dec.decode(s4.recv()!), "from four");
    assert.deepEqual(c4.remoteAddress(), { family: "inet", address: "10.0.0.2", port: 80 }, "the AF_INET client sees plain IPv4");
    const conns = tcpConnections(k, B).filter((c) => c.state === "ESTABLISHED");
    assert.equal(conns.length, 2);
    // netstat: the dual listener is tcp46 (FreeBSD's), the IPv4 connection it accepted tcp4,
    // the IPv6 one tcp6; an IPv6-only listener beside it is tcp6.
    const only6 = B.socket("inet6", "stream").bind("::", 81).listen();
    const ns = netstatAnTcp(k, B);
    assert.match(ns, /tcp46 .*\*\.80 +\*\.\* +LISTEN/);
    assert.match(ns, /tcp6 .*\*\.81 +\*\.\* +LISTEN/);
    assert.match(ns, /tcp4 .*10\.0\.0\.2\.80 +10\.0\.0\.1\.7000 +ESTABLISHED/);
    assert.match(ns, /tcp6 .*fd00::2\.80 +fd00::1\.7001 +ESTABLISHED/);
    only6.close();
    finish(k, s4, s6, c4, c6, lsn);
  });

  test("connect to ::ffff:a.b.c.d is an IPv4 connection; getsockname/getpeername in ::ffff: form", async () => {
    const { k, A, B } = await pair();
    const lsn = B.socket("inet", "stream").bind("0.0.0.0", 81).listen();
    const c = dual(A);
    c.connect("::ffff:10.0.0.2", 81);
    settle(k);
    const s = lsn.accept();
    assert.ok(s);
    assert.deepEqual(c.remoteAddress(), { family: "inet6", address: "::ffff:10.0.0.2", port: 81 });
    const local = c.address() as { address: string; port: number };
    assert.equal(local.address, "::ffff:10.0.0.1");
    assert.deepEqual(s!.remoteAddress(), { family: "inet", address: "10.0.0.1", port: local.port });
    c.send("mapped");
    settle(k);
    assert.equal(dec.decode(s!.recv()!), "mapped");
    finish(k, c, s!, lsn);
  });

  test("IPV6_V6ONLY: net.inet6.ip6.v6only's default; EINVAL once bound; with it on, v4-mapped connect and bind EINVAL and IPv4 SYNs are refused", async () => {
    const { k, A, B } = await pair();
    const s = B.socket("inet6", "stream");
    assert.equal(s.getsockopt(IPPROTO_IPV6, IPV6_V6ONLY), 1, "FreeBSD's default");
    setV6only(k, B, false);
    const d = B.socket("inet6", "stream");
    assert.equal(d.getsockopt(IPPROTO_IPV6, IPV6_V6ONLY), 0, "from the sysctl");
    d.bind("::", 0);
    assert.equal(errnoOf(() => d.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 1)), "EINVAL");
    assert.equal(errnoOf(() => s.connect("::ffff:10.0.0.1", 80)), "EINVAL");
    const v6 = B.socket("inet6", "stream");
    v6.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 1);
    assert.equal(errnoOf(() => v6.bind("::ffff:10.0.0.2", 82)), "EINVAL");
    v6.bind("::", 82).listen();
    const c = A.socket("inet", "stream");
    assert.equal(errnoOf(() => c.connect("10.0.0.2", 82)), "ECONNREFUSED", "an IPv6-only listener hears no IPv4: RST");
    settle(k);
    assert.equal(v6.accept(), null);
    const four = A.socket("inet", "stream");
    assert.equal(errnoOf(() => four.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 0)), "ENOPROTOOPT", "no IPv6 level on AF_INET");
    const other = B.socket("inet6", "stream");
    assert.equal(errnoOf(() => other.setsockopt(IPPROTO_IPV6, 99, 1)), "ENOPROTOOPT");
    finish(k, s, d, v6, c, four, other);
  });

  test("a v4-mapped connect that fails (no route) leaves the socket as it was: dual, unbound", async () => {
    const { k, A, B } = await pair();
    const s = dual(A);
    assert.equal(errnoOf(() => s.connect("::ffff:192.0.2.9", 80)), "ENETUNREACH");
    s.bind("::", 96).listen();
    assert.deepEqual(s.address(), { family: "inet6", address: "::", port: 96 });
    const c = B.socket("inet", "stream");
    c.connect("10.0.0.1", 96);
    settle(k);
    const got = s.accept();
    assert.ok(got, "still dual: it accepts IPv4");
    finish(k, s, c, got!);
  });

  test("bind to ::ffff:a.b.c.d: IPv4 only on that address; not ours: EADDRNOTAVAIL", async () => {
    const { k, A, B } = await pair();
    const l = dual(B).bind("::ffff:10.0.0.2", 83).listen();
    assert.deepEqual(l.address(), { family: "inet6", address: "::ffff:10.0.0.2", port: 83 });
    const six = B.socket("inet6", "stream").bind("::", 83).listen(); // v6only: the IPv6 side is free
    const c4 = A.socket("inet", "stream");
    c4.connect("10.0.0.2", 83);
    const c6 = A.socket("inet6", "stream");
    c6.connect("fd00::2", 83);
    settle(k);
    const a4 = l.accept();
    assert.ok(a4);
    assert.equal((a4!.remoteAddress() as { address: string }).address, "::ffff:10.0.0.1");
    assert.equal(l.accept(), null);
    const a6 = six.accept();
    assert.ok(a6, "IPv6 went to the IPv6 listener");
    const other = dual(B);
    assert.equal(errnoOf(() => other.bind("::ffff:10.9.9.9", 0)), "EADDRNOTAVAIL");
    finish(k, l, six, c4, c6, a4!, a6!, other);
  });

  test("bind conflicts: a dual [::]:p holds the port's IPv4 wildcard, both ways; v6only and a real IPv6 address do not", async () => {
    const { k, B } = await pair();
    const socks: Socket[] = [];
    const s = (x: Socket) => (socks.push(x), x);
    s(dual(B).bind("::", 90));
    assert.equal(errnoOf(() => s(B.socket("inet", "stream")).bind("0.0.0.0", 90)), "EADDRINUSE", "AF_INET after the dual");
    assert.equal(errnoOf(() => s(B.socket("inet", "stream")).bind("10.0.0.2", 90)), "EADDRINUSE");
    assert.equal(errnoOf(() => s(dual(B)).bind("::ffff:10.0.0.2", 90)), "EADDRINUSE");
    s(B.socket("inet", "stream")).bind("0.0.0.0", 91);
    assert.equal(errnoOf(() => s(dual(B)).bind("::", 91)), "EADDRINUSE", "the dual after AF_INET");
    s(B.socket("inet6", "stream")).bind("::", 91); // v6only: one binding per family
    s(dual(B)).bind("fd00::2", 92);
    s(B.socket("inet", "stream")).bind("0.0.0.0", 92); // a dual socket on a real IPv6 address is IPv6 only
    // SO_REUSEPORT on both: shared.
    const r1 = s(dual(B));
    r1.setsockopt(SOL_SOCKET, SO.REUSEPORT, 1);
    r1.bind("::", 93);
    const r2 = s(B.socket("inet", "stream"));
    r2.setsockopt(SOL_SOCKET, SO.REUSEPORT, 1);
    r2.bind("0.0.0.0", 93);
    finish(k, ...socks);
  });

  test("an AF_INET wildcard listener wins IPv4 over a dual one on a shared port, whichever listened first (FreeBSD's order)", async () => {
    const { k, A, B } = await pair();
    const socks: Socket[] = [];
    const shared = (s: Socket, addr: string, port: number) => {
      s.setsockopt(SOL_SOCKET, SO.REUSEPORT, 1);
      socks.push(s.bind(addr, port).listen());
      return s;
    };
    for (const [port, dualFirst] of [[94, true], [95, false]] as const) {
      const d = dualFirst ? shared(dual(B), "::", port) : undefined;
      const f = shared(B.socket("inet", "stream"), "0.0.0.0", port);
      const d2 = d ?? shared(dual(B), "::", port);
      const c = A.socket("inet", "stream");
      socks.push(c);
      c.connect("10.0.0.2", port);
      settle(k);
      const got = f.accept();
      assert.ok(got, `the AF_INET listener took it (dual listened ${dualFirst ? "first" : "second"})`);
      socks.push(got!);
      assert.equal(d2.accept(), null);
    }
    finish(k, ...socks);
  });
});

describe("dual-stack TCP without inet (NOINET)", () => {
  test("IPV6_V6ONLY may be off, but a v4-mapped connect is ENETUNREACH and a bind EADDRNOTAVAIL", async () => {
    const k = await Kernel.boot({ config: ["if_epair", "inet6", "tcp"] });
    const v = k.createVnet("solo");
    const s = dual(v);
    assert.equal(errnoOf(() => s.connect("::ffff:127.0.0.1", 80)), "ENETUNREACH");
    assert.equal(errnoOf(() => dual(v).bind("::ffff:127.0.0.1", 0)), "EADDRNOTAVAIL");
    // The failed connect left it as it was: dual, unbound.
    s.bind("::", 80);
    assert.deepEqual(s.address(), { family: "inet6", address: "::", port: 80 });
    s.close();
    k.shutdown();
  });
});

describe("net.Server listen({ host: '::', ipv6Only })", () => {
  test("dual-stack by default (Node's): an IPv4 client's remoteAddress is ::ffff:a.b.c.d, remoteFamily IPv6; ipv6Only: true leaves the IPv4 side to others", { timeout: 60_000 }, async () => {
    const { k, A, B } = await pair();
    const stop = idleClock(k);
    const server = netFor(k, B).createServer((s) => s.end(`hello ${s.remoteAddress} ${s.remoteFamily}`));
    server.listen({ port: 8080, host: "::" });
    await once(server, "listening");
    assert.equal(server.raw!.getsockopt(IPPROTO_IPV6, IPV6_V6ONLY), 0);
    const c = netFor(k, A).connect(8080, "10.0.0.2");
    const chunks: Buffer[] = [];
    c.on("data", (d: Buffer) => chunks.push(d));
    await once(c, "end");
    assert.equal(Buffer.concat(chunks).toString(), "hello ::ffff:10.0.0.1 IPv6");
    c.destroy();
    // The port's IPv4 wildcard is the dual server's: an IPv4 server on it is refused.
    const four = netFor(k, B).createServer();
    four.listen(8080, "0.0.0.0");
    const [err] = await once(four, "error");
    assert.equal((err as { code: string }).code, "EADDRINUSE");
    await new Promise<void>((r) => server.close(() => r()));
    // ipv6Only: true: IPv6 only, and an IPv4 server shares the port number.
    const six = netFor(k, B).createServer();
    six.listen({ port: 8081, host: "::", ipv6Only: true });
    await once(six, "listening");
    assert.equal(six.raw!.getsockopt(IPPROTO_IPV6, IPV6_V6ONLY), 1);
    const v4 = netFor(k, B).createServer((s) => s.end("four"));
    v4.listen(8081, "0.0.0.0");
    await once(v4, "listening");
    const c2 = netFor(k, A).connect(8081, "10.0.0.2");
    const got: Buffer[] = [];
    c2.on("data", (d: Buffer) => got.push(d));
    await once(c2, "end");
    assert.equal(Buffer.concat(got).toString(), "four");
    c2.destroy();
    await new Promise<void>((r) => six.close(() => r()));
    await new Promise<void>((r) => v4.close(() => r()));
    stop();
    finish(k);
  });
});
