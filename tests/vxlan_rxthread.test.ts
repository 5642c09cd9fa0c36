// The receive thread of VXLAN ports (host/node/vxlan_thread.ts, docs/vxlan.md "Receive
// path"): a worker reads the ports' sockets into shared rings while the main thread is busy,
// so a burst the main thread cannot read in time still arrives whole; one worker serves every
// port of the process and ends a second after the last one; its death closes the ports. No root: all
// on 127.0.0.1.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Kernel } from "../host/index.js";
import { addAddress } from "../host/admin/inet.js";
import { createVxlan, vxlanSocketsOpen, type VxlanInterface } from "../host/node/vxlan.js";
import { vxlanRxThread } from "../host/node/vxlan_thread.js";

const blaster = fileURLToPath(new URL("./helpers/vxlan_blast.ts", import.meta.url));
const VNI = 7272;
// The burst: 10,000 a second for 1 s in bursts of 256, while the main thread spins for
// BLOCK_MS. The socket buffer is set to 1 MiB (Linux doubles it: some 2,000 small datagrams
// at ~1 KiB of kernel memory each), far less than the burst, so on the main thread the OS
// must drop; the receive thread reads on and its ring (8 MiB) holds them all.
const PPS = 10000;
const SECONDS = 1;
const BLOCK_MS = 1600;
const RCVBUF = Number(process.env.RCVBUF ?? 1 << 20);

/** Wait for p with the event loop held: a lingering worker does not keep the process alive. */
async function held<T>(p: Promise<T>): Promise<T> {
  const keep = setInterval(() => {}, 100);
  try {
    return await p;
  } finally {
    clearInterval(keep);
  }
}

function spin(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

/** Blast into vx while the main thread is blocked; then wait until every datagram is accounted for. */
async function burstWhileBlocked(vx: VxlanInterface) {
  const s0 = vx.vxlanStats();
  const child = spawn(process.execPath, ["--import", "tsx", blaster, "127.0.0.1", String(vx.localPort), String(VNI), vx.mac, "10.72.0.1", String(SECONDS), "0", "0", String(PPS)], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  const exited = new Promise((r) => child.on("close", r));
  while (!out.includes("ready")) await new Promise((r) => setTimeout(r, 5));
  spin(BLOCK_MS);
  await exited;
  const sent: number = JSON.parse(out.split("\n").filter((l) => l.startsWith("{")).pop()!).sent;
  // Until everything read is through the kernel (or 10 s).
  let s1 = vx.vxlanStats();
  for (let i = 0; i < 200; i++) {
    s1 = vx.vxlanStats();
    if (s1.rxFrames - s0.rxFrames + (s1.rxSocketDrops - s0.rxSocketDrops) + (s1.rxRingDrops - s0.rxRingDrops) + (s1.rxQueueDrops - s0.rxQueueDrops) >= sent) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    sent,
    frames: s1.rxFrames - s0.rxFrames,
    socketDrops: s1.rxSocketDrops - s0.rxSocketDrops,
    ringDrops: s1.rxRingDrops - s0.rxRingDrops,
    queueDrops: s1.rxQueueDrops - s0.rxQueueDrops,
  };
}

async function port(k: Kernel, rxThread: boolean): Promise<VxlanInterface> {
  const v = k.createVnet("rx");
  // rxQueue holds the whole burst: this test is about the socket, not the fair queue's bound.
  const vx = await createVxlan(k, v, { vni: VNI, remote: "127.0.0.1:9", localAddress: "127.0.0.1", localPort: 0, recvBufferSize: RCVBUF, rxQueue: 4 * PPS * SECONDS, rxThread });
  vx.setUp();
  addAddress(k, vx, "10.72.0.1/24");
  return vx;
}

describe("the VXLAN receive thread", () => {
  test("a burst the main thread is too busy to read arrives whole: none dropped by the OS, the ring or the queue", async (t) => {
    const k = await Kernel.boot({ clock: "real" });
    try {
      const vx = await port(k, true);
      if (vx.vxlanStats().rxSocketDrops < 0) {
        t.skip("the OS does not report the socket's drops (Linux /proc/net/udp)");
        return;
      }
      const r = await burstWhileBlocked(vx);
      process.stdout.write(`# receive thread: ${JSON.stringify(r)}\n`);
      assert.ok(r.sent >= PPS * SECONDS * 0.9, `the sender sent its burst (${r.sent})`);
      assert.equal(r.socketDrops, 0, "the OS dropped nothing");
      assert.equal(r.ringDrops, 0, "the ring dropped nothing");
      assert.equal(r.queueDrops, 0, "the queue dropped nothing");
      assert.equal(r.frames, r.sent, "every datagram reached Ethernet input");
    } finally {
      k.shutdown();
    }
  });

  test("control: the same burst read on the main thread (rxThread: false) loses datagrams in the OS socket", async (t) => {
    const k = await Kernel.boot({ clock: "real" });
    try {
      const vx = await port(k, false);
      if (vx.vxlanStats().rxSocketDrops < 0) {
        t.skip("the OS does not report the socket's drops (Linux /proc/net/udp)");
        return;
      }
      const r = await burstWhileBlocked(vx);
      process.stdout.write(`# main thread: ${JSON.stringify(r)}\n`);
      assert.ok(r.socketDrops > 0, `the OS dropped some (${r.socketDrops} of ${r.sent}): the premise of the test above`);
      assert.equal(r.frames + r.socketDrops, r.sent, "what the OS did not drop reached Ethernet input");
    } finally {
      k.shutdown();
    }
  });

  test("a small ring wraps many times and no record is torn: every datagram is a drop counted somewhere or a good frame", async (t) => {
    const k = await Kernel.boot({ clock: "real" });
    try {
      const v = k.createVnet("rx");
      // 64 KiB: some 800 of these 80-byte records, so 10,000 datagrams wrap it a dozen times;
      // not a multiple of 80, so a record does not fit at the end and the wrap marker is used.
      const vx = await createVxlan(k, v, { vni: VNI, remote: "127.0.0.1:9", localAddress: "127.0.0.1", localPort: 0, rxRing: 65536 + 100, rxQueue: 4 * PPS * SECONDS, rxThread: true });
      vx.setUp();
      addAddress(k, vx, "10.72.0.1/24");
      if (vx.vxlanStats().rxSocketDrops < 0) {
        t.skip("the OS does not report the socket's drops (Linux /proc/net/udp)");
        return;
      }
      const s0 = vx.vxlanStats();
      const child = spawn(process.execPath, ["--import", "tsx", blaster, "127.0.0.1", String(vx.localPort), String(VNI), vx.mac, "10.72.0.1", String(SECONDS), "0", "0", String(PPS)], { stdio: ["ignore", "pipe", "inherit"] });
      let out = "";
      child.stdout!.on("data", (d) => (out += d));
      await new Promise((r) => child.on("close", r));
      const sent: number = JSON.parse(out.split("\n").filter((l) => l.startsWith("{")).pop()!).sent;
      let s1 = vx.vxlanStats();
      for (let i = 0; i < 100; i++) {
        s1 = vx.vxlanStats();
        if (s1.rxFrames - s0.rxFrames + (s1.rxRingDrops - s0.rxRingDrops) + (s1.rxSocketDrops - s0.rxSocketDrops) >= sent) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      const frames = s1.rxFrames - s0.rxFrames;
      const ringDrops = s1.rxRingDrops - s0.rxRingDrops;
      process.stdout.write(`# small ring: sent ${sent}, frames ${frames}, ring drops ${ringDrops}, socket drops ${s1.rxSocketDrops - s0.rxSocketDrops}\n`);
      assert.ok(frames > 65536 / 80 * 5, `the ring went round at least 5 times (${frames} frames)`);
      assert.equal(s1.rxShort + s1.rxBadFlags + s1.rxBadVni + s1.rxBadRecord, 0, "no torn or misplaced record reached the header check");
      assert.equal(frames + ringDrops + (s1.rxSocketDrops - s0.rxSocketDrops) + (s1.rxQueueDrops - s0.rxQueueDrops), sent, "every datagram sent is a frame or a counted drop");
    } finally {
      k.shutdown();
    }
  });

  test("one worker serves every port of the process and exits a second after the last socket has closed", async () => {
    const k = await Kernel.boot({ clock: "real" });
    const k2 = await Kernel.boot({ clock: "real" });
    try {
      // The tests above leave a worker that lingers for a second.
      const old = vxlanRxThread();
      if (old) await held(new Promise((r) => old.once("exit", r)));
      assert.equal(vxlanRxThread(), undefined, "no worker before the first port");
      const a = await createVxlan(k, k.createVnet("a"), { vni: 1, remote: "127.0.0.1:9", localAddress: "127.0.0.1", localPort: 0, rxThread: true });
      const w = vxlanRxThread();
      assert.ok(w, "the first port started the worker");
      const exited = new Promise<number>((r) => w.once("exit", r));
      const b = await createVxlan(k2, k2.createVnet("b"), { vni: 1, remote: "127.0.0.1:9", localAddress: "127.0.0.1", localPort: 0, rxThread: true });
      assert.equal(vxlanRxThread(), w, "a second port (of another kernel) uses the same worker");
      const c = await createVxlan(k, k.createVnet("c"), { vni: 1, remote: "127.0.0.1:9", localAddress: "127.0.0.1", localPort: 0, rxThread: false });
      assert.equal(vxlanRxThread(), w);
      a.destroy();
      await a.whenClosed();
      assert.equal(vxlanRxThread(), w, "still running for the other port");
      const e = await createVxlan(k, k.createVnet("e"), { vni: 1, remote: "127.0.0.1:9", localAddress: "127.0.0.1", localPort: 0, rxThread: true });
      e.destroy();
      await e.whenClosed();
      k2.shutdown();
      await b.whenClosed();
      assert.equal(vxlanRxThread(), w, "it lingers a while after the last port");
      const b2 = await createVxlan(k, k.createVnet("b2"), { vni: 1, remote: "127.0.0.1:9", localAddress: "127.0.0.1", localPort: 0, rxThread: true });
      assert.equal(vxlanRxThread(), w, "and a port made meanwhile uses it");
      b2.destroy();
      await b2.whenClosed();
      const t0 = performance.now();
      await held(exited);
      assert.ok(performance.now() - t0 > 500, "the worker waited before it ended");
      assert.equal(vxlanRxThread(), undefined, "the worker ended with the last threaded port");
      assert.ok(c.open, "the main-thread port is not affected");
      // And a new port starts a new one.
      const d = await createVxlan(k, k.createVnet("d"), { vni: 1, remote: "127.0.0.1:9", localAddress: "127.0.0.1", localPort: 0, rxThread: true });
      assert.ok(vxlanRxThread() && vxlanRxThread() !== w);
      const w2 = vxlanRxThread()!;
      const exited2 = new Promise((r) => w2.once("exit", r));
      k.shutdown();
      await held(Promise.all([d.whenClosed(), c.whenClosed(), exited2]));
      assert.equal(vxlanSocketsOpen(k), 0);
    } finally {
      k.shutdown();
      k2.shutdown();
    }
  });

  test("a lingering worker does not keep the process alive: a script whose last port closed exits at once", async () => {
    const vxlanUrl = new URL("../host/node/vxlan.js", import.meta.url).href;
    const indexUrl = new URL("../host/index.js", import.meta.url).href;
    const script = `
      import { Kernel } from ${JSON.stringify(indexUrl)};
      import { createVxlan } from ${JSON.stringify(vxlanUrl)};
      const k = await Kernel.boot({ clock: "real" });
      const vx = await createVxlan(k, k.createVnet("a"), { vni: 1, remote: "127.0.0.1:9", localAddress: "127.0.0.1", localPort: 0, rxThread: true });
      k.shutdown();
      await vx.whenClosed();
      process.stdout.write("closed\\n");`;
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    let closedAt = 0;
    child.stdout!.on("data", (d) => {
      if (String(d).includes("closed")) closedAt = performance.now();
    });
    const code = await new Promise((r) => child.on("close", r));
    const after = performance.now() - closedAt;
    assert.equal(code, 0);
    assert.ok(closedAt > 0, "the script's port closed");
    // The worker lingers for a second; the process must not wait for it.
    assert.ok(after < 700, `exited ${after.toFixed(0)} ms after its last port closed`);
  });

  test("traffic both ways between two threaded ports; the worker's death closes its ports and counts as their error", async () => {
    const k = await Kernel.boot({ clock: "real" });
    try {
      const A = k.createVnet("A");
      const B = k.createVnet("B");
      const a = await createVxlan(k, A, { vni: 5, remote: "127.0.0.1:9", localAddress: "127.0.0.1", localPort: 0, rxThread: true });
      const b = await createVxlan(k, B, { vni: 5, remote: `127.0.0.1:${a.localPort}`, localAddress: "127.0.0.1", localPort: 0, rxThread: true });
      a.setRemote(`127.0.0.1:${b.localPort}`);
      a.setUp();
      b.setUp();
      addAddress(k, a, "10.73.0.1/24");
      addAddress(k, b, "10.73.0.2/24");
      // The kernel's shutdown below aborts what is left of the connection: not this test's subject.
      B.net.createServer((s) => s.on("error", () => {}).end("hi\n")).listen(80, "10.73.0.2");
      const got = await new Promise<string>((resolve, reject) => {
        let d = "";
        const c = A.net.connect(80, "10.73.0.2");
        c.on("data", (x) => (d += x)).on("end", () => resolve(d)).on("error", reject);
        c.on("close", () => c.removeListener("error", reject).on("error", () => {}));
      });
      assert.equal(got, "hi\n");
      assert.ok(a.vxlanStats().sent > 0 && b.vxlanStats().rxFrames > 0);

      const e0 = a.vxlanStats().sendErrors;
      await vxlanRxThread()!.terminate();
      await Promise.all([a.whenClosed(), b.whenClosed()]);
      assert.equal(a.open, false, "port a closed with the worker");
      assert.equal(b.open, false, "port b too");
      assert.equal(a.vxlanStats().sendErrors, e0 + 1, "the death counted as an error of the port");
      assert.equal(vxlanRxThread(), undefined);
      assert.equal(vxlanSocketsOpen(k), 0);
    } finally {
      k.shutdown();
    }
  });
});
