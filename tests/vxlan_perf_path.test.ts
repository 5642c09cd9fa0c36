import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { Kernel, type Vnet } from "../host/index.js";
import { createVxlan, vxlanCount, vxlanSocketsOpen, type VxlanInterface } from "../host/node/vxlan.js";
import { addAddress } from "../host/admin/inet.js";
import { ping } from "../host/admin/ping.js";
import { socket } from "../host/sockets/socket.js";
import { sendBatch } from "../host/admin/udp.js";
import { snapshot } from "./helpers/snapshot.js";

// The fast path of a VXLAN port: frames leave the ring at the end of the kernel entry that
// made them, whichever host call it was (a socket send() too), and a burst bigger than one
// ring segment leaves whole and in order. Two kernels over 127.0.0.1, real clocks.

interface Side {
  k: Kernel;
  v: Vnet;
  vx: VxlanInterface;
  before: ReturnType<typeof snapshot>;
}

async function side(name: string, addr: string, ringSegments?: number, thread?: { txRing?: number }): Promise<Side> {
  const k = await Kernel.boot({ clock: "real" });
  k.reclaim();
  const before = snapshot(k);
  const v = k.createVnet(name);
  const vx = await createVxlan(k, v, { vni: 77, remote: "127.0.0.1:9", localPort: 0, localAddress: "127.0.0.1", ringSegments, rxThread: thread !== undefined, txRing: thread?.txRing });
  vx.setUp();
  addAddress(k, vx, addr);
  return { k, v, vx, before };
}

/** Two sides joined, ARP resolved both ways (a ping each way). */
async function link(ringSegments?: number, thread?: { txRing?: number }): Promise<[Side, Side]> {
  const a = await side("A", "10.67.0.1/24", ringSegments, thread);
  const b = await side("B", "10.67.0.2/24");
  a.vx.setRemote(`127.0.0.1:${b.vx.localPort}`);
  b.vx.setRemote(`127.0.0.1:${a.vx.localPort}`);
  const r = await ping(a.k, a.v, "10.67.0.2", { count: 1, timeoutMs: 2000 });
  assert.equal(r.received, 1, r.text);
  return [a, b];
}

async function teardown(s: Side): Promise<void> {
  const closed = s.vx.whenClosed();
  s.v.destroy();
  await closed;
  assert.equal(vxlanSocketsOpen(s.k), 0);
  assert.equal(vxlanCount(s.k), 0);
  s.k.reclaim();
  assert.deepEqual(snapshot(s.k), s.before, "no page, zone item, callout or section byte left");
  s.k.shutdown();
}

for (const threaded of [false, true]) describe(`vxlan port fast path, ${threaded ? "socket in the thread (rxThread: true)" : "socket on the main thread"}`, () => {
  test("a socket send() puts its frame on the wire before the call returns", async () => {
    const [a, b] = await link(undefined, threaded ? {} : undefined);
    const s = socket(a.k, a.v, "inet", "dgram", 17);
    const before = a.vx.vxlanStats();
    // No await between the send and the check: no later kernel entry or clock tick may do it.
    s.sendto(new Uint8Array(100), "10.67.0.2", 9);
    const after = a.vx.vxlanStats();
    assert.equal(after.txFrames - before.txFrames, 1, "one frame into the ring");
    assert.equal(after.sent - before.sent, 1, "and out to the socket in the same call");
    s.close();
    await teardown(a);
    await teardown(b);
  });

  test("a burst over two ring segments in one kernel entry arrives whole and in order", async () => {
    // Two 64 KiB segments; one sendBatch call fills up to 64 KiB of 1,200-byte datagrams,
    // whose frames (with record and VXLAN headers) take more than one segment.
    const [a, b] = await link(2, threaded ? {} : undefined);
    const N = 150;
    const rx = b.v.dgram({ type: "udp4", recvBufferSize: 1 << 20 });
    await new Promise<void>((r) => rx.bind(7001, "10.67.0.2", () => r()));
    const got: number[] = [];
    const all = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${got.length} of ${N} arrived`)), 5000);
      rx.on("message", (msg: Uint8Array) => {
        got.push(new DataView(msg.buffer, msg.byteOffset, msg.byteLength).getUint32(0));
        if (got.length === N) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    const tx = socket(a.k, a.v, "inet", "dgram", 17);
    const dgrams = Array.from({ length: N }, (_, i) => {
      const d = new Uint8Array(1200).fill(i & 0xff);
      new DataView(d.buffer).setUint32(0, i);
      return d;
    });
    const s0 = a.vx.vxlanStats();
    const r = sendBatch(a.k, tx, dgrams, "10.67.0.2", 7001);
    assert.equal(r.sent, N);
    const s1 = a.vx.vxlanStats();
    assert.equal(s1.txFrames - s0.txFrames, N, "every datagram made one frame");
    assert.equal(s1.txRingDrops, 0, "two segments held each entry's burst");
    assert.equal(s1.sent - s0.sent, N, "the ring was empty again when sendBatch returned");
    await all;
    assert.deepEqual(got, Array.from({ length: N }, (_, i) => i), "in order, none missing or repeated");
    const rb = b.vx.vxlanStats();
    assert.ok(rb.rxFrames >= N, `receiver passed on ${rb.rxFrames} frames`);
    assert.equal(rb.rxBadRecord + rb.rxNoMem + rb.rxShort + rb.rxBadFlags + rb.rxBadVni, 0);
    tx.close();
    rx.close();
    await teardown(a);
    await teardown(b);
  });

  test("a burst bigger than the ring is cut and counted, and what fits leaves", async () => {
    // One segment. 54 datagrams of 1,200 bytes fill one sendBatch call (2 + 1,200 bytes
    // each); their ring records take 1,264 bytes each (8 record, 8 VXLAN, 14 Ethernet, 20
    // IP, 8 UDP), 68,256 in all: more than a 64 KiB segment. The frame that finds the ring
    // full is dropped and counted, and its ENOBUFS ends the batch, as ip_output reports it.
    const [a, b] = await link(1);
    const tx = socket(a.k, a.v, "inet", "dgram", 17);
    const dgrams = Array.from({ length: 54 }, () => new Uint8Array(1200));
    const s0 = a.vx.vxlanStats();
    const r = sendBatch(a.k, tx, dgrams, "10.67.0.2", 7002);
    const s1 = a.vx.vxlanStats();
    assert.equal(r.sent, Math.floor(65536 / 1264), "the datagrams whose frames fit one segment");
    assert.equal(r.lastError, "ENOBUFS");
    assert.equal(s1.txRingDrops - s0.txRingDrops, 1, "the frame that did not fit");
    assert.equal(s1.txFrames - s0.txFrames, r.sent);
    assert.equal(s1.sent - s0.sent, r.sent, "what went in went out");
    assert.equal(a.vx.counters().oqdrops, s1.txRingDrops);
    tx.close();
    await teardown(a);
    await teardown(b);
  });
});

describe("vxlan port fast path, the thread's tx ring", () => {
  test("a burst bigger than the ring to the thread is cut and counted (txThreadDrops), and what fits arrives in order", async () => {
    // The smallest tx ring (64 KiB + 64) and a kernel ring of 4 segments: one sendBatch of
    // 150 datagrams of 1,200 bytes (1,260 bytes a record in the tx ring) fills the tx ring
    // after about 52 frames within one kernel entry (the worker is only told at the end of
    // it), and the rest are dropped there, counted, never sent.
    const [a, b] = await link(4, { txRing: 65536 + 64 });
    const N = 150;
    const rx = b.v.dgram({ type: "udp4", recvBufferSize: 1 << 20 });
    await new Promise<void>((r) => rx.bind(7003, "10.67.0.2", () => r()));
    const got: number[] = [];
    rx.on("message", (msg: Uint8Array) => got.push(new DataView(msg.buffer, msg.byteOffset, msg.byteLength).getUint32(0)));
    const tx = socket(a.k, a.v, "inet", "dgram", 17);
    const dgrams = Array.from({ length: N }, (_, i) => {
      const d = new Uint8Array(1200);
      new DataView(d.buffer).setUint32(0, i);
      return d;
    });
    const s0 = a.vx.vxlanStats();
    // sendBatch fills up to 64 KiB of datagrams per kernel entry: three calls, one entry each.
    let done = 0;
    while (done < N) done += sendBatch(a.k, tx, dgrams.slice(done), "10.67.0.2", 7003).sent;
    const s1 = a.vx.vxlanStats();
    const dropped = s1.txThreadDrops - s0.txThreadDrops;
    const sent = s1.sent - s0.sent;
    assert.equal(s1.txFrames - s0.txFrames, N, "every datagram made a frame");
    assert.equal(s1.txRingDrops - s0.txRingDrops, 0, "the kernel's ring held each entry's burst");
    assert.ok(dropped > 0, "the tx ring to the thread overflowed");
    assert.equal(sent + dropped, N, "each frame was sent or dropped and counted");
    const deadline = Date.now() + 5000;
    while (got.length < sent && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(got.length, sent, "what was handed to the thread arrived, nothing else");
    assert.deepEqual([...got].sort((x, y) => x - y), got, "in order");
    tx.close();
    rx.close();
    await teardown(a);
    await teardown(b);
  });
});
