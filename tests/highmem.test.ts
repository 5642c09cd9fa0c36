// A kernel whose memory is past 2 GiB (issue 14 item 3): Wasm hands every i32 to JavaScript
// signed, so an address at or above 2^31 came back negative and the host broke on it
// (`RangeError: Start offset -2127597188 is outside the bounds of the buffer`, an epair left
// behind). Memory is taken past 2 GiB cheaply and honestly: a vnet ("hog") holds ~2 GiB of
// kmem chunks (kmem_alloc, charged to it), which commits almost nothing (the chunks are never
// touched); then a few filler vnets use up the low slabs the zones had from boot, so the
// vnets, interfaces, sockets, TCP connections and capture rings under test live above 2 GiB.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import "../host/node/platform.js";
import { Kernel, addAddress, ping, socket, type VirtualClock, type Vnet } from "../host/core.js";
import { snapshot } from "./helpers/snapshot.js";

const TWO_GIB = 2 ** 31;
const CHUNK_PAGES = 16;

interface Kmem {
  kmem_alloc(npages: number, acct: number): number;
  kmem_free(addr: number, npages: number, acct: number): void;
}

describe("a kernel past 2 GiB of memory", () => {
  test("epair, ping over it, a TCP connection and a capture work with every address above 2 GiB, and all of it goes away", async () => {
    // Past the default memory budgets (2 GiB for the kernel, 64 MiB for the hog).
    const k = await Kernel.boot({ config: ["if_epair", "inet", "tcp"], memoryBudget: 4 * 2 ** 30, vnetMemoryBudget: 0 });
    const kmem = k.k as unknown as Kmem;
    const clock = k.clock as VirtualClock;
    const before = snapshot(k);

    const hog = k.createVnet("hog");
    const hogPages = hog.accounting().pages;
    const chunks: number[] = [];
    while (k.memory.buffer.byteLength < TWO_GIB + 16 * 2 ** 20) {
      const p = kmem.kmem_alloc(CHUNK_PAGES, hog.ptr);
      assert.notEqual(p, 0, "kmem could not grow");
      chunks.push(p);
    }
    assert.ok(chunks.some((p) => p >= TWO_GIB), "the hog's own chunks reach past 2 GiB, read unsigned");
    assert.equal(hog.accounting().pages, hogPages + chunks.length * CHUNK_PAGES, "charged to the hog");

    // The zones' boot-time slabs are low: fill them so new items come from high slabs.
    const fillers: Vnet[] = [];
    let v = k.createVnet();
    while (v.ptr < TWO_GIB) {
      fillers.push(v);
      assert.ok(fillers.length < 1000, "vnets never landed above 2 GiB");
      v = k.createVnet();
    }
    assert.ok(v.base >= TWO_GIB, "its data block too");
    assert.equal(k.vnetByPtr(v.ptr), v);

    // The audit's repro: an epair between a high vnet and a new one.
    const [ea, eb] = k.epair(v, k.createVnet("peer"));
    const peer = eb.vnet;
    assert.equal(ea.vnet, v);
    assert.equal(peer.name, "peer");
    for (const i of [ea, eb]) assert.ok(i.ptr >= TWO_GIB, `${i.name} at ${i.ptr}`);
    assert.equal(ea.peer.ptr, eb.ptr);
    assert.deepEqual(v.interfaces().map((i) => i.name), ["lo0", ea.name]);
    assert.ok(/^02:/.test(ea.mac));
    ea.setUp();
    eb.setUp();
    addAddress(k, ea, "10.0.0.1/24");
    addAddress(k, eb, "10.0.0.2/24");

    const cap = ea.capture();
    const r = await ping(k, v, "10.0.0.2", { count: 2, intervalMs: 10 });
    assert.equal(r.received, 2, r.text);

    const lsn = socket(k, peer, "inet", "stream").bind("0.0.0.0", 80).listen(4);
    const cli = socket(k, v, "inet", "stream");
    assert.ok(cli.ptr >= TWO_GIB && lsn.ptr >= TWO_GIB, "sockets above 2 GiB");
    let connected = false;
    cli.on("connect", () => (connected = true));
    cli.connect("10.0.0.2", 80);
    let srv = lsn.accept();
    for (let i = 0; i < 100 && !srv; i++) {
      clock.advance(1000);
      srv = lsn.accept();
    }
    assert.ok(srv, "accepted");
    await new Promise((res) => setImmediate(res));
    assert.ok(connected, "'connect' reached the client (event records match the socket's address)");
    assert.equal(cli.send("hello above 2 GiB"), 17);
    clock.advance(1000);
    assert.equal(new TextDecoder().decode(srv.recv()!), "hello above 2 GiB");
    assert.deepEqual(cli.remoteAddress(), { family: "inet", address: "10.0.0.2", port: 80 });
    assert.ok(v.sockstat().includes("10.0.0.2:80"));

    await cap.stop();
    assert.ok(cap.frames >= 7, `capture saw ${cap.frames} frames (ARP, 2 echoes and replies, TCP)`);
    assert.equal(cap.drops, 0);

    cli.close();
    srv.close();
    lsn.close();
    clock.advance(300_000_000);
    ea.destroy();
    assert.ok(!ea.alive && !eb.alive);
    peer.destroy();
    v.destroy();
    for (const f of fillers.reverse()) f.destroy();
    for (const p of chunks) kmem.kmem_free(p, CHUNK_PAGES, hog.ptr);
    assert.equal(hog.accounting().pages, hogPages);
    hog.destroy();
    k.reclaim();
    const after = snapshot(k);
    assert.deepEqual({ ...after, pagesInUse: 0, kernelPages: 0 }, { ...before, pagesInUse: 0, kernelPages: 0 });
    assert.equal(after.vnets, before.vnets);
    k.shutdown();
  });
});
