import { test, describe, after } from "node:test";
import assert from "node:assert/strict";
import dgram from "node:dgram";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Kernel, ConfigError, type Vnet } from "../host/index.js";
import { createVxlan, vxlanCount, vxlanSocketsOpen, parseRemote, VXLAN_MTU, type VxlanInterface } from "../host/node/vxlan.js";
import { addAddress } from "../host/admin/inet.js";
import { ping } from "../host/admin/ping.js";
import { snapshot } from "./helpers/snapshot.js";
import { tsharkCheck, tsharkSkip } from "./helpers/tshark.js";

// Two kernels in this process, each with a vnet whose vxlan interface is bound to a UDP
// socket on 127.0.0.1: the same link as two wavnet processes (or a Linux vxlan device)
// would share. Real clocks: the wire is the host's, so time must be too.

const dir = mkdtempSync(join(tmpdir(), "wavnet-vxlan-"));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Side {
  k: Kernel;
  v: Vnet;
  vx: VxlanInterface;
  before: ReturnType<typeof snapshot>;
}

async function side(name: string, addr: string, vni = 4242): Promise<Side> {
  const k = await Kernel.boot({ clock: "real" });
  k.reclaim();
  const before = snapshot(k);
  const v = k.createVnet(name);
  // Port 0: the OS picks; the remote is set once both ends know their ports.
  const vx = await createVxlan(k, v, { vni, remote: "127.0.0.1:9", localPort: 0, localAddress: "127.0.0.1" });
  vx.setUp();
  addAddress(k, vx, addr);
  return { k, v, vx, before };
}

async function link(vni = 4242): Promise<[Side, Side]> {
  const a = await side("A", "10.66.0.1/24", vni);
  const b = await side("B", "10.66.0.2/24", vni);
  a.vx.setRemote(`127.0.0.1:${b.vx.localPort}`);
  b.vx.setRemote(`127.0.0.1:${a.vx.localPort}`);
  return [a, b];
}

/** Tear a side down and prove the kernel holds what it held before its vnet existed. */
async function teardown(s: Side): Promise<void> {
  const closed = s.vx.whenClosed();
  s.v.destroy();
  await closed;
  assert.equal(s.vx.open, false, "socket closed with the vnet");
  assert.equal(vxlanSocketsOpen(s.k), 0);
  assert.equal(vxlanCount(s.k), 0, "no vxlan interface left");
  s.k.reclaim();
  assert.deepEqual(snapshot(s.k), s.before, "no page, zone item, callout or section byte left");
  s.k.shutdown();
}

function sha(b: Uint8Array): string {
  return createHash("sha256").update(b).digest("hex");
}

describe("vxlan between two kernels over 127.0.0.1", () => {
  test("a vxlan interface is Ethernet with MTU 1450 and a random locally administered MAC", async () => {
    const [a, b] = await link();
    assert.equal(a.vx.type, "ether");
    assert.equal(a.vx.mtu, VXLAN_MTU);
    assert.equal(VXLAN_MTU, 1450);
    assert.match(a.vx.name, /^vxlan\d+$/);
    assert.equal(parseInt(a.vx.mac.slice(0, 2), 16) & 3, 2, "locally administered unicast");
    assert.notEqual(a.vx.mac, b.vx.mac, "same seed, different MACs: two processes never collide");
    assert.equal(a.vx.vni, 4242);
    await teardown(a);
    await teardown(b);
  });

  test("ping both ways, and a 1422-byte ping fits the 1450 MTU without fragments", async () => {
    const [a, b] = await link();
    const r1 = await ping(a.k, a.v, "10.66.0.2", { count: 3, intervalMs: 20, timeoutMs: 2000 });
    assert.equal(r1.received, 3, r1.text);
    const r2 = await ping(b.k, b.v, "10.66.0.1", { count: 3, intervalMs: 20, timeoutMs: 2000 });
    assert.equal(r2.received, 3, r2.text);
    const big = await ping(a.k, a.v, "10.66.0.2", { count: 1, size: 1450 - 28, dontFragment: true, timeoutMs: 2000 });
    assert.equal(big.received, 1, big.text);
    const tooBig = await ping(a.k, a.v, "10.66.0.2", { count: 1, size: 1450 - 27, dontFragment: true, timeoutMs: 300 });
    assert.equal(tooBig.received, 0, "DF and one byte over the MTU: not sent");
    const s = a.vx.vxlanStats();
    assert.equal(s.txFrames, s.sent, "every frame in the ring became a datagram");
    assert.equal(s.txRingDrops, 0);
    await teardown(a);
    await teardown(b);
  });

  test("UDP datagrams cross the tunnel", async () => {
    const [a, b] = await link();
    const srv = b.v.dgram("udp4");
    const cli = a.v.dgram("udp4");
    const got: string[] = [];
    const all = new Promise<void>((resolve) => {
      srv.on("message", (msg: Uint8Array, rinfo: { address: string }) => {
        got.push(`${Buffer.from(msg).toString()} from ${rinfo.address}`);
        if (got.length === 3) resolve();
      });
    });
    await new Promise<void>((r) => srv.bind(7000, "10.66.0.2", () => r()));
    for (const m of ["one", "two", "three"]) cli.send(Buffer.from(m), 7000, "10.66.0.2");
    await all;
    assert.deepEqual(got.sort(), ["one from 10.66.0.1", "three from 10.66.0.1", "two from 10.66.0.1"]);
    srv.close();
    cli.close();
    await teardown(a);
    await teardown(b);
  });

  test("TCP: 8 MiB arrive intact (SHA-256), every frame MTU-sized with good checksums (tshark)", { skip: tsharkSkip }, async () => {
    const [a, b] = await link();
    const pcap = join(dir, "tcp.pcap");
    const cap = a.vx.capture({ pcap, snaplen: 2000 });
    const data = randomBytes(8 << 20);
    const received: Buffer[] = [];
    const server = b.v.net.createServer((s) => {
      s.on("data", (d: Buffer) => received.push(d));
      s.on("end", () => s.end());
    });
    await new Promise<void>((r) => server.listen(5001, "10.66.0.2", () => r()));
    await new Promise<void>((resolve, reject) => {
      const c = a.v.net.connect(5001, "10.66.0.2", () => c.end(data));
      c.on("error", reject);
      c.resume();
      c.on("close", () => resolve());
    });
    server.close();
    assert.equal(sha(Buffer.concat(received)), sha(data), "same bytes, same order");
    await cap.stop();
    // Random payload, declared opaque: heuristic dissectors would take some segments for Thrift & co.
    const t = tsharkCheck(pcap, ["frame.len", "ip.proto", "tcp.len"], ["-d", "tcp.port==5001,data"]);
    assert.deepEqual(t.errors, [], "no malformed frame, no bad checksum");
    const lens = t.rows.map((r) => Number(r[0]));
    assert.ok(lens.length > 5000, `captured ${lens.length} frames`);
    assert.ok(Math.max(...lens) <= 1450 + 14, `largest frame ${Math.max(...lens)} bytes: within MTU + Ethernet header`);
    assert.ok(lens.filter((l) => l === 1464).length > 5000, "full-sized segments fill the MTU");
    const s = a.vx.vxlanStats();
    assert.equal(s.txRingDrops, 0);
    assert.equal(s.sent, s.txFrames);
    await teardown(a);
    await teardown(b);
  });
});

describe("vxlan over an IPv6 underlay", () => {
  test("the outer socket may be IPv6 ([::1]); inside, IPv4 as always", async () => {
    const mk = async (name: string, addr: string) => {
      const k = await Kernel.boot({ clock: "real" });
      const v = k.createVnet(name);
      const vx = await createVxlan(k, v, { vni: 99, remote: "[::1]:9", localPort: 0, localAddress: "::1" });
      vx.setUp();
      addAddress(k, vx, addr);
      return { k, v, vx };
    };
    const a = await mk("A", "10.68.0.1/24");
    const b = await mk("B", "10.68.0.2/24");
    assert.equal(a.vx.localAddress, "::1");
    a.vx.setRemote(`[::1]:${b.vx.localPort}`);
    b.vx.setRemote(`[::1]:${a.vx.localPort}`);
    assert.throws(() => a.vx.setRemote("127.0.0.1:4789"), /the socket is IPv6/);
    const r = await ping(a.k, a.v, "10.68.0.2", { count: 2, intervalMs: 20, timeoutMs: 2000 });
    assert.equal(r.received, 2, r.text);
    a.k.shutdown();
    b.k.shutdown();
    await a.vx.whenClosed();
    await b.vx.whenClosed();
  });
});

describe("vxlan between two processes", () => {
  test("a wavnet process on the other end echoes 1 MiB over TCP (SHA-256), then both shut down clean", async () => {
    const peer = spawn(process.execPath, ["--import", "tsx", fileURLToPath(new URL("./helpers/vxlan_peer.ts", import.meta.url))], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    const lines = createInterface({ input: peer.stdout! })[Symbol.asyncIterator]();
    const next = async () => JSON.parse((await lines.next()).value as string);
    try {
      const { port } = await next();
      const k = await Kernel.boot({ clock: "real" });
      const v = k.createVnet("here");
      const vx = await createVxlan(k, v, { vni: 6767, remote: `127.0.0.1:${port}`, localPort: 0, localAddress: "127.0.0.1" });
      vx.setUp();
      addAddress(k, vx, "10.67.0.1/24");
      peer.stdin!.write(`${vx.localPort}\n`);
      assert.deepEqual(await next(), { ready: true });
      const data = randomBytes(1 << 20);
      const back: Buffer[] = [];
      await new Promise<void>((resolve, reject) => {
        const c = v.net.connect(7, "10.67.0.2", () => c.end(data));
        c.on("data", (d: Buffer) => back.push(d));
        c.on("error", reject);
        c.on("close", () => resolve());
      });
      assert.equal(sha(Buffer.concat(back)), sha(data));
      peer.stdin!.end();
      assert.deepEqual(await next(), { leaks: 0 }, "the other process shut down with nothing leaked");
      k.shutdown();
      await vx.whenClosed();
    } finally {
      if (peer.exitCode === null) peer.kill();
    }
  });
});

describe("vxlan input checks", () => {
  test("short, I-flag-clear and wrong-VNI datagrams are dropped and counted on the interface", async () => {
    const [a, b] = await link(100);
    const raw = dgram.createSocket("udp4");
    await new Promise<void>((r) => raw.bind(0, "127.0.0.1", () => r()));
    // A broadcast ARP request from a made-up station, so a good datagram has a visible effect.
    const frame = Buffer.alloc(42);
    frame.fill(0xff, 0, 6);
    Buffer.from([0x02, 0, 0, 0, 0, 0x99]).copy(frame, 6);
    frame.writeUInt16BE(0x0806, 12);
    Buffer.from([0, 1, 8, 0, 6, 4, 0, 1, 0x02, 0, 0, 0, 0, 0x99, 10, 66, 0, 9, 0, 0, 0, 0, 0, 0, 10, 66, 0, 2]).copy(frame, 14);
    const hdr = (flags: number, vni: number) => {
      const h = Buffer.alloc(8);
      h[0] = flags;
      h.writeUInt32BE(vni << 8, 4);
      return h;
    };
    const before = b.vx.counters();
    const send = (buf: Buffer) => new Promise<void>((r) => raw.send(buf, b.vx.localPort, "127.0.0.1", () => r()));
    await send(Buffer.from([0x08, 0, 0]));
    await send(Buffer.concat([hdr(0x00, 100), frame]));
    await send(Buffer.concat([hdr(0x08, 101), frame]));
    await send(Buffer.concat([hdr(0x08 | 0x80, 100), frame])); // reserved flag bits are ignored (RFC 7348 5)
    const deadline = Date.now() + 2000;
    while (b.vx.vxlanStats().rxDatagrams < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const s = b.vx.vxlanStats();
    assert.equal(s.rxDatagrams, 4);
    assert.equal(s.rxShort, 1);
    assert.equal(s.rxBadFlags, 1);
    assert.equal(s.rxBadVni, 1);
    assert.equal(s.rxFrames, 1);
    const c = b.vx.counters();
    assert.equal(c.ierrors - before.ierrors, 3, "three bad headers are input errors");
    assert.equal(c.ipackets - before.ipackets, 1, "the good one went to Ethernet input");
    assert.equal(c.opackets - before.opackets, 1, "and its ARP request was answered");
    // A good header around a bad frame: Ethernet input's to count (a runt, a frame over the MTU).
    const eth0 = b.v.etherStats();
    await send(Buffer.concat([hdr(0x08, 100), frame.subarray(0, 9)]));
    const big = Buffer.alloc(14 + 1451);
    frame.copy(big, 0, 0, 14);
    await send(Buffer.concat([hdr(0x08, 100), big]));
    while (b.vx.vxlanStats().rxDatagrams < 6 && Date.now() < deadline + 2000) await new Promise((r) => setTimeout(r, 10));
    const eth1 = b.v.etherStats();
    assert.equal(eth1.runt - eth0.runt, 1, "9-byte frame: a runt");
    assert.equal(eth1.oversize - eth0.oversize, 1, "1465-byte frame on a 1450 MTU: oversize");
    assert.equal(b.vx.counters().ierrors - before.ierrors, 5);
    raw.close();
    await teardown(a);
    await teardown(b);
  });
});

describe("vxlan life", () => {
  test("destroying the interface closes its socket and frees its port", async () => {
    const k = await Kernel.boot({ clock: "real" });
    k.reclaim();
    const before = snapshot(k);
    const v = k.createVnet("V");
    const vx = await createVxlan(k, v, { vni: 1, remote: "127.0.0.1:9", localPort: 0, localAddress: "127.0.0.1" });
    const port = vx.localPort;
    const closed = vx.whenClosed();
    vx.destroy();
    await closed;
    assert.equal(vx.open, false);
    assert.equal(vxlanSocketsOpen(k), 0);
    // The port is free again: bind it.
    const again = dgram.createSocket("udp4");
    await new Promise<void>((resolve, reject) => {
      again.once("error", reject);
      again.bind(port, "127.0.0.1", () => resolve());
    });
    again.close();
    v.destroy();
    k.reclaim();
    assert.deepEqual(snapshot(k), before);
    k.shutdown();
  });

  test("its ring is charged to the vnet it was made in, and given back on destroy", async () => {
    const k = await Kernel.boot({ clock: "real" });
    const v = k.createVnet("V");
    const p0 = v.accounting().pages;
    const vx = await createVxlan(k, v, { vni: 1, remote: "127.0.0.1:9", localPort: 0, localAddress: "127.0.0.1", ringSegments: 4 });
    assert.equal(v.accounting().pages - p0, 4 * 16, "four 64 KiB segments");
    assert.equal(v.accounting().items.vxlan_softc, 1);
    vx.destroy();
    await vx.whenClosed();
    assert.equal(v.accounting().pages, p0);
    assert.equal(v.accounting().items.vxlan_softc, undefined);
    v.destroy();
    k.shutdown();
  });

  test("moved into another vnet it carries traffic there, and comes home (socket open) when that vnet dies", async () => {
    const [a, b] = await link();
    const guest = a.k.createVnet("guest");
    a.vx.moveTo(guest);
    a.vx.setUp();
    addAddress(a.k, a.vx, "10.66.0.1/24");
    const r = await ping(a.k, guest, "10.66.0.2", { count: 2, intervalMs: 20, timeoutMs: 2000 });
    assert.equal(r.received, 2, r.text);
    guest.destroy();
    assert.equal(a.vx.vnet, a.v, "back in its home vnet");
    assert.equal(a.vx.open, true, "the socket stays with the interface");
    await teardown(a);
    await teardown(b);
  });

  test("1,000 ifconfig vxlan create/destroy cycles: no heap growth, nothing left", async () => {
    const k = await Kernel.boot();
    const v = k.createVnet("V");
    k.reclaim();
    const before = snapshot(k);
    const mod = k.module<{ kmod_heap_top(): number; vxlan_stat(ifp: number, which: number): number }>("if_vxlan");
    const heap = k.heapTop();
    const modHeap = mod.kmod_heap_top();
    for (let i = 0; i < 1000; i++) {
      const [vx] = v.ifcreate("vxlan");
      vx.setUp();
      // Coming up, inet6 already queued its DAD probe for the new link-local address.
      const queued = mod.vxlan_stat(vx.ptr, 0);
      // A frame into the ring with no socket to drain it: freed with the interface.
      assert.equal(vx.send(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x88, 0xb5, 1, 2, 3, 4])), 0);
      if (i === 0) assert.equal(mod.vxlan_stat(vx.ptr, 0), queued + 1, "the frame is in the ring");
      vx.destroy();
    }
    assert.equal(k.heapTop(), heap, "the kernel's runtime heap did not move");
    assert.equal(mod.kmod_heap_top(), modHeap, "nor the module's");
    k.reclaim();
    assert.deepEqual(snapshot(k), before);
    v.destroy();
    k.shutdown();
  });

  test("kldunload if_vxlan is refused while a vxlan interface exists", async () => {
    const k = await Kernel.boot({ clock: "real" });
    const v = k.createVnet("V");
    const vx = await createVxlan(k, v, { vni: 1, remote: "127.0.0.1:9", localPort: 0, localAddress: "127.0.0.1" });
    assert.throws(() => k.kldunload("if_vxlan"), /busy|EBUSY/i);
    vx.destroy();
    k.kldunload("if_vxlan");
    assert.ok(!k.kldstat().some((m) => m.name === "if_vxlan"));
    v.destroy();
    k.shutdown();
  });

  test("kernel shutdown closes the sockets of vxlan interfaces in vnet0", async () => {
    const k = await Kernel.boot({ clock: "real" });
    const vx = await createVxlan(k, k.vnet0, { vni: 7, remote: "127.0.0.1:9", localPort: 0, localAddress: "127.0.0.1" });
    const closed = vx.whenClosed();
    k.shutdown();
    await closed;
    assert.equal(vx.open, false);
    assert.equal(vxlanSocketsOpen(k), 0);
  });

  test("a custom name, an MTU and a ring size are taken; a taken name is refused and nothing is left", async () => {
    const k = await Kernel.boot({ clock: "real" });
    const v = k.createVnet("V");
    const vx = await createVxlan(k, v, { name: "ext0", vni: 9, remote: "127.0.0.1:9", localPort: 0, localAddress: "127.0.0.1", mtu: 9000, ringSegments: 2 });
    assert.equal(vx.name, "ext0");
    assert.equal(vx.mtu, 9000);
    assert.equal(v.interface("ext0").ptr, vx.ptr);
    await assert.rejects(createVxlan(k, v, { name: "ext0", vni: 9, remote: "127.0.0.1:9", localPort: 0 }), /has an interface called ext0/);
    assert.equal(vxlanCount(k), 1, "the refused one was destroyed");
    // Binding a port that is in use fails with its address, and leaves no interface behind.
    await assert.rejects(createVxlan(k, v, { vni: 9, remote: "127.0.0.1:9", localPort: vx.localPort, localAddress: "127.0.0.1" }), (e: Error) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, new RegExp(`cannot bind UDP 127\\.0\\.0\\.1:${vx.localPort}`));
      return true;
    });
    assert.equal(vxlanCount(k), 1);
    assert.equal(vxlanSocketsOpen(k), 1);
    v.destroy();
    assert.equal(vxlanCount(k), 0);
    await vx.whenClosed();
    k.shutdown();
  });

  test("bad options give one clear error each", async () => {
    const k = await Kernel.boot({ clock: "real" });
    const v = k.createVnet("V");
    const base = { vni: 1, remote: "127.0.0.1:4789", localPort: 0 };
    const cases: [object, RegExp][] = [
      [{ ...base, vni: 1 << 24 }, /vni must be an integer from 0 to 16777215/],
      [{ ...base, vni: -1 }, /vni must be/],
      [{ ...base, remote: "127.0.0.1" }, /remote must be "address:port"/],
      [{ ...base, remote: "127.0.0.1:0" }, /remote must be "address:port"/],
      [{ ...base, remote: "example.com:4789" }, /IPv4 literal/],
      [{ ...base, remote: "::1:4789" }, /remote must be|IPv4 literal/],
      [{ ...base, localPort: 70000 }, /localPort must be an integer from 0 to 65535/],
      [{ ...base, localAddress: "::1" }, /localAddress must be an IPv4 literal/],
      [{ ...base, mtu: 20000 }, /mtu must be an integer from 72 to 16384/],
      [{ ...base, ringSegments: 0 }, /ringSegments must be an integer from 1 to 64/],
      [{ ...base, colour: "red" }, /unknown option "colour"/],
      [{ ...base, name: "bad name" }, /interface name must be/],
    ];
    for (const [opts, re] of cases) {
      await assert.rejects(createVxlan(k, v, opts as never), (e: Error) => e instanceof ConfigError && re.test(e.message), JSON.stringify(opts));
    }
    assert.equal(vxlanCount(k), 0, "nothing made");
    assert.deepEqual(parseRemote("[::1]:4789"), { address: "::1", port: 4789, family: 6 });
    v.destroy();
    k.shutdown();
  });

  test("without if_vxlan loaded the error says which module to load", async () => {
    const k = await Kernel.boot({ clock: "real", config: ["if_epair"] });
    await assert.rejects(createVxlan(k, k.vnet0, { vni: 1, remote: "127.0.0.1:4789" }), /if_vxlan module is not loaded/);
    k.shutdown();
  });
});
