// A flood into a VXLAN port must not drown legitimate traffic (issue 14 item 11): the port
// reads its socket into a fair receive queue (host/wire/rxqueue.ts) and, when the kernel
// cannot keep up, drops there, counted, the flooding source's excess first; a quiet source
// (a TCP client) is served within a round. Every datagram that gets in is still checked by
// the kernel (junk counted in rxBadFlags). No root: all on 127.0.0.1.
//
// The port under test takes at most rxBurst datagrams into the kernel per turn of the event
// loop while the socket delivers up to 32 per turn (and the flood comes in bursts of 256): the kernel is the bottleneck on purpose,
// so the queue, not the OS socket, is where the flood's excess goes.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Kernel, type Vnet } from "../host/index.js";
import { addAddress } from "../host/admin/inet.js";
import { createVxlan, vxlanSocketsOpen, type VxlanInterface } from "../host/node/vxlan.js";
import { bridgeAdd } from "../host/admin/bridge.js";
import { RxQueue, RXQ_BUCKETS, rxqBucket } from "../host/wire/rxqueue.js";

const blaster = fileURLToPath(new URL("./helpers/vxlan_blast.ts", import.meta.url));
const VNI = 7171;
// As fast as the sender can (bursts of 256): far more than the port under test takes in
// (rxBurst 1), so its queue is full nearly all the time. On a busy machine the OS socket
// may drop some too (reading cannot keep up), the client's segments among them: TCP then
// resends after its RTO (1 s for a SYN, doubling), hence the generous time per fetch: 20 s
// leaves four SYN tries (8 s left three, and a fetch in about 20 failed so on a loaded
// machine). With the queue made one FIFO the quiet client is still never served.
const FLOOD_PPS = 0;
const FETCH_MS = 20_000;

function b(n: number, tag = 0): Uint8Array {
  return new Uint8Array(n).fill(tag);
}

describe("RxQueue: fair, bounded, counted", () => {
  test("sources are served round robin, one datagram per visit", () => {
    const q = new RxQueue(100, 1 << 20);
    for (let i = 0; i < 5; i++) q.push(1, b(10, 1));
    q.push(2, b(10, 2));
    q.push(3, b(10, 3));
    const order = [];
    for (let x = q.shift(); x; x = q.shift()) order.push(x[0]);
    assert.deepEqual(order, [1, 2, 3, 1, 1, 1, 1]);
    assert.equal(q.length, 0);
    assert.equal(q.bytes, 0);
  });

  test("when full, the longest source loses its oldest datagram; a quiet source loses nothing", () => {
    const q = new RxQueue(8, 1 << 20);
    const flood = 5;
    const quiet = 9;
    for (let i = 0; i < 8; i++) q.push(flood, Uint8Array.of(i));
    q.push(quiet, Uint8Array.of(100));
    q.push(quiet, Uint8Array.of(101));
    assert.equal(q.drops, 2, "two of the flood's went");
    assert.equal(q.length, 8);
    const got = [];
    for (let x = q.shift(); x; x = q.shift()) got.push(x[0]);
    assert.deepEqual(got, [2, 100, 3, 101, 4, 5, 6, 7], "the flood's oldest (0, 1) dropped, the quiet source's both kept");
    assert.equal(q.peak, 8);
  });

  test("the byte bound works the same way, and a datagram larger than it is dropped alone", () => {
    const q = new RxQueue(100, 1000);
    for (let i = 0; i < 4; i++) q.push(1, b(300));
    assert.equal(q.length, 3, "a fourth 300-byte datagram pushed the oldest out");
    assert.equal(q.bytes, 900);
    q.push(2, b(1001));
    assert.equal(q.drops, 2);
    assert.equal(q.length, 3);
  });

  test("without fairness (one FIFO, tail drop) the quiet source is what gets dropped", () => {
    const q = new RxQueue(8, 1 << 20, false);
    for (let i = 0; i < 8; i++) q.push(5, Uint8Array.of(i));
    q.push(9, Uint8Array.of(100));
    const got = [];
    for (let x = q.shift(); x; x = q.shift()) got.push(x[0]);
    assert.ok(!got.includes(100), "the comparison the fair queue exists for");
  });

  test("sources spread over the buckets", () => {
    const seen = new Set<number>();
    for (let p = 40000; p < 40256; p++) seen.add(rxqBucket("127.0.0.1", p));
    assert.ok(seen.size > RXQ_BUCKETS / 2, `256 ports hit ${seen.size} of ${RXQ_BUCKETS} buckets`);
  });
});

async function fetchOnce(v: Vnet, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = v.net.connect(80, "10.71.0.1");
    let got = "";
    const t = setTimeout(() => {
      c.destroy();
      reject(new Error(`no answer in ${timeoutMs} ms`));
    }, timeoutMs);
    c.on("connect", () => c.write("GET\n"));
    c.on("data", (d) => (got += d));
    c.on("end", () => {
      clearTimeout(t);
      resolve(got);
    });
    c.on("error", (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
}

describe("a flood into a VXLAN port", () => {
  test("from another process: a TCP client from another source is served every time, the flood's excess is dropped and counted in the port's queue", async () => {
    const ks = await Kernel.boot({ clock: "real" });
    const kc = await Kernel.boot({ clock: "real" });
    let child: ReturnType<typeof spawn> | undefined;
    try {
      const S = ks.createVnet("server");
      const C = kc.createVnet("client");
      const vs: VxlanInterface = await createVxlan(ks, S, { vni: VNI, remote: "127.0.0.1:9", localAddress: "127.0.0.1", localPort: 0, rxBurst: 1, rxQueue: 64 });
      const vc: VxlanInterface = await createVxlan(kc, C, { vni: VNI, remote: `127.0.0.1:${vs.localPort}`, localAddress: "127.0.0.1", localPort: 0 });
      vs.setRemote(`127.0.0.1:${vc.localPort}`);
      vs.setUp();
      vc.setUp();
      addAddress(ks, vs, "10.71.0.1/24");
      addAddress(kc, vc, "10.71.0.2/24");
      S.net.createServer((s) => s.on("error", () => {}).once("data", () => s.end("hello\n"))).listen(80, "10.71.0.1");
      assert.equal(await fetchOnce(C, 5000), "hello\n", "served before the flood");

      // The flood's source port hashes to another bucket than the client's (1 in 64 would share one).
      const clientBucket = rxqBucket("127.0.0.1", vc.localPort);
      let src = 42000 + (process.pid % 1000);
      while (rxqBucket("127.0.0.1", src) === clientBucket) src++;
      const s0 = vs.vxlanStats();
      child = spawn(process.execPath, ["--import", "tsx", blaster, "127.0.0.1", String(vs.localPort), String(VNI), vs.mac, "10.71.0.1", "20", "10", String(src), String(FLOOD_PPS)], { stdio: ["ignore", "pipe", "inherit"] });
      let out = "";
      child.stdout!.on("data", (d) => (out += d));
      const exited = new Promise((r) => child!.on("close", r));
      while (!out.includes("ready")) await new Promise((r) => setTimeout(r, 20));
      // The flood is in the queue before the client starts.
      for (let i = 0; i < 100 && vs.vxlanStats().rxQueueDrops === s0.rxQueueDrops; i++) await new Promise((r) => setTimeout(r, 20));

      const times: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        assert.equal(await fetchOnce(C, FETCH_MS), "hello\n", `fetch ${i + 1} of 5 under the flood`);
        times.push(performance.now() - t0);
      }
      const mid = vs.vxlanStats();
      child.kill();
      await exited;
      await new Promise((r) => setTimeout(r, 200));
      const s1 = vs.vxlanStats();

      assert.ok(mid.rxQueueDrops - s0.rxQueueDrops > 500, `the flood overflowed the port's queue during the fetches (dropped ${mid.rxQueueDrops - s0.rxQueueDrops})`);
      assert.ok(s1.rxBadFlags - s0.rxBadFlags > 0, "junk datagrams reached the kernel's header check and were counted");
      assert.ok(s1.rxFrames - s0.rxFrames > 100, `valid flood frames went on to Ethernet input (${s1.rxFrames - s0.rxFrames})`);
      assert.ok(s1.rxQueuePeak <= 64, "the queue held at most rxQueue datagrams");
      // Every datagram read is accounted for: in the kernel, dropped by the queue, or waiting.
      assert.equal(s1.rxRead, s1.rxDatagrams + s1.rxQueueDrops + s1.rxQueued, "read = handed in + dropped in the queue + queued");
      assert.equal(s1.rxDatagrams, s1.rxFrames + s1.rxShort + s1.rxBadFlags + s1.rxBadVni + s1.rxNoMem + s1.rxBadRecord, "every datagram handed in is a frame passed on or a counted drop");
      const cs = vc.vxlanStats();
      assert.equal(cs.rxQueueDrops, 0, "the client's port dropped nothing");
      // Informational: what the flood cost the fetches.
      process.stdout.write(`# fetch ms under flood: ${times.map((t) => t.toFixed(0)).join(" ")}; queue drops ${s1.rxQueueDrops - s0.rxQueueDrops}, socket drops ${s1.rxSocketDrops - s0.rxSocketDrops}, read ${s1.rxRead - s0.rxRead}\n`);
    } finally {
      child?.kill();
      ks.shutdown();
      kc.shutdown();
    }
    assert.equal(vxlanSocketsOpen(ks), 0);
  });

  test("that the kernel cannot keep up with: the socket is still read in full, the excess is dropped in the port's queue, not by the OS", async (t) => {
    // Broadcasts into a bridge of 63 vnets, each with a bridge of 15 more: about 1,000
    // deliveries and some hundreds of microseconds of kernel time per flood frame, 10,000
    // frames a second. The kernel takes at most as much of the event loop as reading did (docs/vxlan.md
    // "Receive path"), so reading keeps up and the queue drops what the kernel cannot take.
    const k = await Kernel.boot({ clock: "real" });
    let child: ReturnType<typeof spawn> | undefined;
    try {
      const S = k.createVnet("S");
      const vs = await createVxlan(k, S, { vni: VNI, remote: "127.0.0.1:9", localAddress: "127.0.0.1", localPort: 0, mtu: 1500, rxQueue: 1024 });
      if (vs.vxlanStats().rxSocketDrops < 0) {
        t.skip("the OS does not report the socket's drops (Linux /proc/net/udp)");
        return;
      }
      const [br] = S.ifcreate("bridge");
      bridgeAdd(k, br, vs);
      vs.setUp();
      br.setUp();
      for (let i = 0; i < 63; i++) {
        const H = k.createVnet(`H${i}`);
        const [a, b] = k.epair(S, H);
        bridgeAdd(k, br, a);
        a.setUp();
        b.setUp();
        const [hb] = H.ifcreate("bridge");
        bridgeAdd(k, hb, b);
        hb.setUp();
        for (let j = 0; j < 15; j++) {
          const [c, d] = k.epair(H, k.createVnet(`L${i}.${j}`));
          bridgeAdd(k, hb, c);
          c.setUp();
          d.setUp();
        }
      }
      const s0 = vs.vxlanStats();
      child = spawn(process.execPath, ["--import", "tsx", blaster, "127.0.0.1", String(vs.localPort), String(VNI), "ff:ff:ff:ff:ff:ff", "10.71.0.1", "3", "0", "0", "10000"], { stdio: ["ignore", "pipe", "inherit"] });
      let out = "";
      child.stdout!.on("data", (d) => (out += d));
      await new Promise((r) => child!.on("close", r));
      await new Promise((r) => setTimeout(r, 300));
      const s1 = vs.vxlanStats();
      const sent: number = JSON.parse(out.split("\n").filter((l) => l.startsWith("{")).pop()!).sent;
      const read = s1.rxRead - s0.rxRead;
      const queueDrops = s1.rxQueueDrops - s0.rxQueueDrops;
      const socketDrops = s1.rxSocketDrops - s0.rxSocketDrops;
      const frames = s1.rxFrames - s0.rxFrames;
      process.stdout.write(`# sent ${sent}, read ${read}, kernel took ${frames}, queue drops ${queueDrops}, socket drops ${socketDrops}\n`);
      assert.ok(frames < sent / 2, `the kernel could not keep up (took ${frames} of ${sent}): the test's premise`);
      // Without the time share the OS drops about half; on a loaded machine a little is normal.
      assert.ok(socketDrops <= sent / 20, `the OS dropped at most 5 % (${socketDrops} of ${sent})`);
      // (The sender's last burst of 256 may be cut short when it closes its socket.)
      assert.ok(read + socketDrops >= sent - 256, `what was sent arrived (${read} read, ${socketDrops} dropped by the OS, of ${sent})`);
      assert.ok(queueDrops >= sent / 3, `the excess was dropped in the port's queue (${queueDrops} of ${sent})`);
      assert.equal(s1.rxRead, s1.rxDatagrams + s1.rxQueueDrops + s1.rxQueued);
    } finally {
      child?.kill();
      k.shutdown();
    }
  });
});
