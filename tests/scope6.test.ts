// Sockets to link-local peers (netinet6/scope6.ts): sin6_scope_id on bind, connect, sendto,
// recvfrom, getsockname and getpeername for UDP and TCP; the zone kept embedded in the pcb
// address, so the same peer address on two links is two peers; a link-local destination
// leaves by its zone's interface. Errors as FreeBSD with use_defaultzone=0.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { Kernel, SocketError, type Interface, type Vnet } from "../host/index.js";
import { addAddress6 } from "../host/admin/inet6.js";
import { netFor, type NetSocket } from "../host/node/net.js";
import { sockstat } from "../host/sockets/socket.js";
import { snapshot } from "./helpers/snapshot.js";
import { mbufsInUse } from "./helpers/inet.js";
import { idleClock } from "./helpers/net.js";
import { suiteConfig } from "./helpers/config.js";

const T = { timeout: 60_000 };
const ENXIO = 6;
const EINVAL = 22;
const EADDRNOTAVAIL = 49;

async function boot(): Promise<Kernel> {
  return Kernel.boot({ config: suiteConfig(["if_epair", "inet6", "udp", "tcp"], "GENERIC"), seed: 1 });
}

/** A and B on one epair, link-local addresses only (fe80::a on ea, fe80::b on eb). */
async function linkOnly() {
  const k = await boot();
  const A = k.createVnet("A");
  const B = k.createVnet("B");
  const [ea, eb] = k.epair(A, B);
  ea.setUp();
  eb.setUp();
  addAddress6(k, ea, "fe80::a/64");
  addAddress6(k, eb, "fe80::b/64");
  return { k, A, B, ea, eb };
}

/** Every frame through iface while fn runs. */
async function framesDuring(iface: Interface, fn: () => void | Promise<void>): Promise<Uint8Array[]> {
  const got: Uint8Array[] = [];
  const cap = iface.capture();
  const reading = (async () => {
    for await (const f of cap) got.push(f.data);
  })();
  await fn();
  await cap.stop();
  await reading;
  return got;
}

const udpFrames = (fs: Uint8Array[]) => fs.filter((f) => f[12] === 0x86 && f[13] === 0xdd && f[14 + 6] === 17);

function code(e: unknown): number {
  assert.ok(e instanceof SocketError, `a SocketError, got ${e}`);
  return (e as SocketError).errno;
}

describe("link-local sockets (scope ids)", () => {
  test("UDP echo over link-local only: the scope on sendto, recvfrom, getsockname, getpeername; destroy leaves nothing", T, async () => {
    const { k, A, B, ea, eb } = await linkOnly();
    const before = (k.reclaim(), snapshot(k));
    const srv = B.socket("inet6", "dgram");
    srv.bind(`fe80::b%${eb.name}`, 7);
    assert.deepEqual(srv.address(), { family: "inet6", address: `fe80::b%${eb.name}`, port: 7, scopeId: eb.index });
    const cli = A.socket("inet6", "dgram");
    assert.equal(cli.sendto("ping", `fe80::b%${ea.name}`, 7), 4);
    const d = srv.recvfrom();
    assert.ok(d, "the datagram arrived");
    assert.equal(Buffer.from(d.data).toString(), "ping");
    const from = d.address as { address: string; port: number; scopeId?: number };
    assert.equal(from.address, `fe80::a%${eb.name}`, "the sender carries the link it came in on");
    assert.equal(from.scopeId, eb.index);
    srv.sendto("pong", from.address, from.port);
    const r = cli.recvfrom();
    assert.ok(r);
    assert.equal(Buffer.from(r.data).toString(), "pong");
    assert.equal((r.address as { address: string }).address, `fe80::b%${ea.name}`);
    // A number is a zone too; connect keeps it, getpeername reports it by name.
    const c2 = A.socket("inet6", "dgram");
    c2.connect(`fe80::b%${ea.index}`, 7);
    assert.deepEqual(c2.remoteAddress(), { family: "inet6", address: `fe80::b%${ea.name}`, port: 7, scopeId: ea.index });
    assert.equal((c2.address() as { address: string }).address, `fe80::a%${ea.name}`, "source selection on the zone's link");
    c2.send("x");
    assert.equal(Buffer.from(srv.recvfrom()!.data).toString(), "x");
    // The scopeId field of an address object.
    assert.equal(cli.sendto("y", { family: "inet6", address: "fe80::b", port: 7, scopeId: ea.index }), 1);
    assert.equal(Buffer.from(srv.recvfrom()!.data).toString(), "y");
    // netstat/sockstat shows the zone.
    assert.ok(sockstat(k, A).some((s) => (s.foreign as { address?: string } | undefined)?.address === `fe80::b%${ea.name}`), "sockstat shows %if");
    for (const s of [cli, c2, srv]) s.close();
    A.destroy();
    B.destroy();
    k.reclaim();
    const after = snapshot(k);
    assert.deepEqual(after.zones.filter((z) => z.startsWith("udp_inpcb")), before.zones.filter((z) => z.startsWith("udp_inpcb")), "PCBs freed");
    assert.equal(mbufsInUse(k), 0);
    k.shutdown();
  });

  test("TCP echo over link-local only; remoteAddress carries the zone", T, async () => {
    const { k, A, B, ea, eb } = await linkOnly();
    const stop = idleClock(k);
    const server = netFor(k, B).createServer((s: NetSocket) => s.pipe(s));
    server.listen(7, `fe80::b%${eb.name}`);
    await once(server, "listening");
    const accepted = new Promise<NetSocket>((res) => server.once("connection", res));
    const c = netFor(k, A).connect(7, `fe80::b%${ea.name}`);
    await once(c, "connect");
    const s = await accepted;
    assert.equal(s.remoteAddress, `fe80::a%${eb.name}`);
    assert.equal(c.remoteAddress, `fe80::b%${ea.name}`);
    assert.equal(c.localAddress, `fe80::a%${ea.name}`);
    c.write("hello over the link");
    const [echo] = await once(c, "data");
    assert.equal(String(echo), "hello over the link");
    c.end();
    await once(c, "close");
    await new Promise<void>((r) => server.close(() => r()));
    stop();
    A.destroy();
    B.destroy();
    assert.equal(mbufsInUse(k), 0);
    k.shutdown();
  });

  test("the same peer address on two links: each reached by its scope, the other link sees nothing (UDP and TCP)", T, async () => {
    const k = await boot();
    const H = k.createVnet("H");
    const P = k.createVnet("P");
    const Q = k.createVnet("Q");
    const [h1, p] = k.epair(H, P);
    const [h2, q] = k.epair(H, Q);
    for (const i of [h1, p, h2, q]) i.setUp();
    addAddress6(k, h1, "fe80::1/64");
    addAddress6(k, h2, "fe80::1/64");
    addAddress6(k, p, "fe80::99/64");
    addAddress6(k, q, "fe80::99/64");
    const sp = P.socket("inet6", "dgram");
    sp.bind("::", 9);
    const sq = Q.socket("inet6", "dgram");
    sq.bind("::", 9);
    const cli = H.socket("inet6", "dgram");
    cli.bind("::", 5000);
    const onH2 = await framesDuring(h2, () => {
      cli.sendto("to P", `fe80::99%${h1.name}`, 9);
    });
    assert.equal(udpFrames(onH2).length, 0, "nothing on the other link");
    assert.equal(Buffer.from(sp.recvfrom()!.data).toString(), "to P");
    assert.equal(sq.recvfrom(), null);
    const onH1 = await framesDuring(h1, () => {
      cli.sendto("to Q", `fe80::99%${h2.name}`, 9);
    });
    assert.equal(udpFrames(onH1).length, 0, "nothing on the first link");
    assert.equal(Buffer.from(sq.recvfrom()!.data).toString(), "to Q");
    assert.equal(sp.recvfrom(), null);
    // Replies from both peers (same address, same port) reach H's one socket, told apart by scope.
    sp.sendto("from P", `fe80::1%${p.name}`, 5000);
    sq.sendto("from Q", `fe80::1%${q.name}`, 5000);
    const got = [cli.recvfrom()!, cli.recvfrom()!].map((d) => `${Buffer.from(d.data)} ${(d.address as { address: string }).address}`).sort();
    assert.deepEqual(got, [`from P fe80::99%${h1.name}`, `from Q fe80::99%${h2.name}`]);
    // TCP: two connections to fe80::99 port 7, one per link (two pcbs whose addresses differ
    // only by zone), each answered by its own link's peer.
    const stop = idleClock(k);
    const serverSides: Promise<unknown>[] = [];
    const servers = ([[P, "P"], [Q, "Q"]] as [Vnet, string][]).map(([v, name]) => {
      const srv = netFor(k, v).createServer((s: NetSocket) => {
        serverSides.push(once(s, "close"));
        s.end(name);
      });
      srv.listen(7, "::");
      return srv;
    });
    const ask = async (iface: Interface) => {
      const c = netFor(k, H).connect(7, `fe80::99%${iface.name}`);
      const parts: Buffer[] = [];
      c.on("data", (d: Buffer) => parts.push(d));
      await once(c, "close");
      return Buffer.concat(parts).toString();
    };
    assert.deepEqual(await Promise.all([ask(h1), ask(h2)]), ["P", "Q"]);
    await Promise.all(serverSides);
    await Promise.all(servers.map((srv) => new Promise<void>((r) => srv.close(() => r()))));
    stop();
    for (const s of [sp, sq, cli]) s.close();
    for (const v of [H, P, Q]) v.destroy();
    assert.equal(mbufsInUse(k), 0);
    k.shutdown();
  });

  test("errors: no scope id EINVAL, a scope id naming no interface ENXIO, another interface's link-local EADDRNOTAVAIL", T, async () => {
    const { k, A, ea } = await linkOnly();
    const [x] = k.epair(A, k.createVnet("C"));
    x.setUp();
    for (const type of ["dgram", "stream"] as const) {
      const s = A.socket("inet6", type);
      assert.equal(code(catchErr(() => s.connect({ family: "inet6", address: "fe80::b", port: 7 }))), EINVAL, `${type} connect without a scope`);
      assert.equal(code(catchErr(() => s.connect("fe80::b%999", 7))), ENXIO, `${type} connect to scope 999`);
      assert.equal(code(catchErr(() => s.bind(`fe80::a%${x.name}`, 0))), EADDRNOTAVAIL, `${type} bind fe80::a on the wrong link`);
      s.close();
    }
    const u = A.socket("inet6", "dgram");
    assert.equal(code(catchErr(() => u.sendto("x", { family: "inet6", address: "fe80::b", port: 7 }))), EINVAL, "sendto without a scope");
    assert.equal(code(catchErr(() => u.sendto("x", "fe80::b%999", 7))), ENXIO, "sendto scope 999");
    u.bind(`fe80::a%${ea.name}`, 0); // its own link: fine
    u.close();
    assert.throws(() => A.socket("inet6", "dgram").connect("fe80::b%nosuch0", 7), /vnet "A" has no interface nosuch0/);
    k.shutdown();
  });
});

function catchErr(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  assert.fail("no error");
}
