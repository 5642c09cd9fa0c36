// TCP over IPv6: the same TCP behind the AF_INET6 glue (tcp_inet6.ts) and inet6's entry
// table. A transfer checked by SHA-256, the MSS from the IPv6 MTU, path MTU discovery from
// ICMPv6 packet too big, and nothing left afterwards.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { createHash, randomBytes } from "node:crypto";
import { Kernel, type Vnet, type VirtualClock } from "../host/index.js";
import { netFor, type NetSocket } from "../host/node/net.js";
import { tcpConnections, netstatAnTcp } from "../host/admin/tcp.js";
import { addAddress6, addRoute6, setForwarding6, ip6Stats } from "../host/admin/inet6.js";
import { snapshot } from "./helpers/snapshot.js";
import { idleClock } from "./helpers/net.js";
import { mbufsInUse } from "./helpers/inet.js";
import { twoHosts6 } from "./helpers/inet6.js";
import { suiteConfig } from "./helpers/config.js";

const T = { timeout: 60_000 };

function sha(b: Uint8Array): string {
  return createHash("sha256").update(b).digest("hex");
}

/** Send data from client vnet cv to server vnet sv at host:port; resolves with what arrived and the sockets. */
async function transfer(k: Kernel, sv: Vnet, cv: Vnet, host: string, data: Buffer, onConnect?: (c: NetSocket) => void) {
  const server = netFor(k, sv).createServer();
  server.listen(5001, host);
  await once(server, "listening");
  const got: Buffer[] = [];
  let sClosed: Promise<unknown> = Promise.resolve();
  const accepted = new Promise<NetSocket>((resolve) => server.once("connection", (s: NetSocket) => {
    s.on("data", (d: Buffer) => got.push(d));
    sClosed = once(s, "close"); // the server side closes by itself after the client's FIN (allowHalfOpen false)
    resolve(s);
  }));
  const c = netFor(k, cv).connect(5001, host);
  const cClosed = once(c, "close");
  await once(c, "connect");
  c.resume(); // nothing comes back but the FIN; a paused stream would never see it
  onConnect?.(c);
  const s = await accepted;
  c.end(data);
  await Promise.all([cClosed, sClosed]);
  await new Promise<void>((r) => server.close(() => r()));
  return { received: Buffer.concat(got), client: c, server: s };
}

describe("TCP over IPv6", () => {
  test("4 MiB between two vnets over IPv6: SHA-256 equal, MSS from the IPv6 MTU (1500 - 40 - 20), nothing left", T, async () => {
    const { k, A, B } = await twoHosts6(1, suiteConfig(["if_epair", "inet6", "tcp"], "GENERIC"));
    (k.clock as VirtualClock).advance(2_000_000); // the addresses' MLD report repeats (docs/mld.md) are out: no callout pending
    const stop = idleClock(k);
    k.reclaim();
    const before = snapshot(k);
    const data = randomBytes(4 << 20);
    let seen: { family?: string; remote?: string; mss?: number; local?: unknown; netstat?: string } = {};
    const r = await transfer(k, B, A, "fd00::2", data, (c) => {
      const conn = tcpConnections(k, A).find((x) => x.state === "ESTABLISHED");
      seen = { family: c.remoteFamily, remote: c.remoteAddress, mss: conn?.maxseg, local: c.address(), netstat: netstatAnTcp(k, B) };
    });
    // netstat -an names IPv6 rows tcp6 (it said tcp4 for every row) and prints a wildcard as *.
    assert.match(seen.netstat ?? "", /tcp6 .*fd00::2\.5001 +\*\.\* +LISTEN/);
    assert.match(seen.netstat ?? "", /tcp6 .*fd00::2\.5001 +fd00::1\.\d+ +ESTABLISHED/);
    assert.equal(r.received.length, data.length);
    assert.equal(sha(r.received), sha(data));
    assert.equal(seen.family, "IPv6");
    assert.equal(seen.remote, "fd00::2");
    assert.deepEqual((seen.local as { address: string; family: string }).family, "IPv6");
    assert.equal((seen.local as { address: string }).address, "fd00::1");
    assert.ok(seen.mss !== undefined && seen.mss <= 1440 && seen.mss >= 1400, `MSS ${seen.mss} (1440 less options)`);
    // TSO6 between the vnets: segments of up to 64 KiB, so at least one per 64 KiB.
    assert.ok(ip6Stats(k, B).delivered > data.length / 65536, "the segments went through inet6");
    stop();
    // TIME_WAIT, and the neighbour entries, which stay STALE for a day (net.inet6.ip6.gctimer).
    (k.clock as VirtualClock).runUntilIdle(2 * 86_400_000_000);
    k.reclaim();
    assert.deepEqual(snapshot(k), before, "TIME_WAIT over: no socket, tcpcb, mbuf, neighbour entry or page more than before");
    A.destroy();
    B.destroy();
    assert.equal(mbufsInUse(k), 0);
    k.shutdown();
  });

  test("path MTU discovery: a 1280-byte link between two routers answers packet too big, the sender's MSS drops to 1220, the data arrives whole", T, async () => {
    const k = await Kernel.boot({ config: suiteConfig(["if_epair", "inet6", "tcp"], "GENERIC") });
    const [A, R1, R2, B] = ["A", "R1", "R2", "B"].map((n) => k.createVnet(n));
    const link = (x: Vnet, y: Vnet, net: number, mtu?: number) => {
      const [ex, ey] = k.epair(x, y);
      for (const i of [ex, ey]) {
        i.setUp();
        if (mtu) i.setMtu(mtu);
      }
      addAddress6(k, ex, `fd00:${net}::1/64`);
      addAddress6(k, ey, `fd00:${net}::2/64`);
    };
    link(A, R1, 1);
    link(R1, R2, 2, 1280);
    link(R2, B, 3);
    addRoute6(k, A, "default", { gateway: "fd00:1::2" });
    addRoute6(k, R1, "default", { gateway: "fd00:2::2" });
    addRoute6(k, R2, "default", { gateway: "fd00:2::1" });
    addRoute6(k, B, "default", { gateway: "fd00:3::1" });
    setForwarding6(k, R1, true);
    setForwarding6(k, R2, true);
    const stop = idleClock(k);
    const data = randomBytes(1 << 20);
    let mssBefore: number | undefined;
    const r = await transfer(k, B, A, "fd00:3::2", data, () => {
      mssBefore = tcpConnections(k, A).find((x) => x.foreign === "fd00:3::2")?.maxseg;
    });
    assert.equal(sha(r.received), sha(data));
    assert.ok(mssBefore !== undefined && mssBefore > 1220, `MSS before: ${mssBefore} (both ends on 1500-byte links)`);
    assert.ok(ip6Stats(k, R1).toobig >= 1, "R1 refused at least one segment with packet too big");
    const after = tcpConnections(k, A).find((x) => x.foreign === "fd00:3::2");
    if (after) assert.ok(after.maxseg <= 1220, `MSS after PMTUD: ${after.maxseg}`);
    stop();
    (k.clock as VirtualClock).runUntilIdle(2 * 86_400_000_000);
    for (const v of [A, R1, R2, B]) v.destroy();
    assert.equal(mbufsInUse(k), 0);
    k.shutdown();
  });

  test("NOINET6: tcp loads and serves IPv4 only; an IPv6 stream socket is EAFNOSUPPORT", T, async () => {
    const k = await Kernel.boot({ config: "NOINET6" });
    const v = k.createVnet("v");
    assert.throws(() => v.socket("inet6", "stream"), (e: unknown) => (e as { code?: string }).code === "EAFNOSUPPORT");
    v.socket("inet", "stream").close();
    k.shutdown();
  });

  test("kldunload inet6 is refused while tcp serves IPv6; unloading tcp first lets it go", T, async () => {
    const k = await Kernel.boot({ config: ["if_epair", "inet", "inet6", "tcp"] });
    assert.throws(() => k.kldunload("inet6"), /busy|EBUSY/i);
    k.kldunload("tcp");
    k.kldunload("inet6");
    await k.kldload("inet6");
    await k.kldload("tcp");
    const v = k.createVnet("v");
    v.socket("inet6", "stream").close();
    k.shutdown();
  });
});
