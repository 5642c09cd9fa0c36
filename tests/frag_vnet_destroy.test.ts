// Destroying a vnet while a neighbour still holds the fragments it sent (both families, both
// orders; held in a reassembly queue, a socket buffer or a router's ARP/ND hold queue) leaves
// nothing and raises no LeakError. ip_fragment/ip6_fragment make every fragment share the
// original datagram's clusters (m_copym); each fragment crosses the epair on its own, after
// the sender has freed the original, so the clusters' last references all end up in the
// receiver. Before the fix (kern_mbuf.ts m_chargeto) the clusters stayed charged to the
// sender, and destroying it raised LeakError on mbuf_cluster and left a zombie: the host
// first for its echo requests in the jail's queue, the jail first for its fragmented echo
// replies in the host's.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { Kernel, ping, addAddress, socket, SOL_SOCKET, SO, type Vnet, type VirtualClock } from "../host/index.js";
import { ipReassKnob, inetGauges, addRoute, setForwarding } from "../host/admin/inet.js";
import { frag6Knob, inet6Gauges, setForwarding6 } from "../host/admin/inet6.js";
import { mbufsInUse } from "./helpers/inet.js";

type Family = "inet" | "inet6";
const ADDR = { inet: ["10.0.0.1/24", "10.0.0.2/24"], inet6: ["fd00::1/64", "fd00::2/64"] };

/** Host A and jail B on an epair with MTU 200 at both ends (the report's set-up). */
async function setup(family: Family, bigQueue: boolean) {
  const k = await Kernel.boot({ config: ["if_epair", "inet", "inet6", "udp"], seed: 5 });
  k.reclaim();
  const A = k.createVnet("A");
  const B = k.createVnet("B");
  const [ea, eb] = k.epair(A, B);
  ea.setUp();
  eb.setUp();
  ea.setMtu(200);
  eb.setMtu(200);
  addAddress(k, ea, ADDR[family][0]);
  addAddress(k, eb, ADDR[family][1]);
  if (bigQueue) {
    if (family === "inet") ipReassKnob(k, B, "maxfragsperpacket", 1024);
    else frag6Knob(k, B, "maxfragsperpacket", 1024);
  }
  return { k, A, B, clock: k.clock as VirtualClock };
}

function reassembling(k: Kernel, v: Vnet, family: Family): number {
  return family === "inet" ? inetGauges(k, v).reassembling : inet6Gauges(k, v).reassembling;
}

function clusters(v: Vnet): number {
  return v.accounting().items.mbuf_cluster ?? 0;
}

/** `ping -s 20000` from A to B (the echo replies come back fragmented too); returns once the clock has run on. */
async function bigPing(k: Kernel, A: Vnet, family: Family, clock: VirtualClock): Promise<void> {
  const p = ping(k, A, family === "inet" ? "10.0.0.2" : "fd00::2", { count: 3, intervalMs: 10, size: 20000, timeoutMs: 50 });
  for (let i = 0; i < 20; i++) clock.advance(5);
  await p.catch(() => undefined); // replies may be lost to the epair's queue; what is held is the point
}

for (const family of ["inet", "inet6"] as const) {
  describe(`${family}: a vnet destroyed while its neighbour holds the fragments it sent`, () => {
    for (const bigQueue of [true, false]) {
      const knobs = bigQueue ? "maxfragsperpacket=1024 in the jail" : "default knobs";
      for (const first of ["jail", "host"] as const) {
        test(`${knobs}, ${first} destroyed first: no LeakError, nothing left`, async () => {
          const { k, A, B, clock } = await setup(family, bigQueue);
          await bigPing(k, A, family, clock);
          const held = reassembling(k, A, family) + reassembling(k, B, family);
          assert.ok(held > 0, `some datagrams are being reassembled (A ${reassembling(k, A, family)}, B ${reassembling(k, B, family)})`);
          // The storage of held fragments is charged to the vnet holding them, not the sender.
          if (reassembling(k, B, family) > 0 && reassembling(k, A, family) === 0) assert.equal(clusters(A), 0, "A holds nothing; B's queue's clusters are B's");
          if (reassembling(k, A, family) > 0 && reassembling(k, B, family) === 0) assert.equal(clusters(B), 0, "B holds nothing; A's queue's clusters are A's");
          const [x, y] = first === "jail" ? [B, A] : [A, B];
          x.destroy(); // threw LeakError (mbuf_cluster, mbuf_ext_ref) before the fix
          assert.equal(k.accounting().zombies, 0, "no zombie waits for storage another vnet holds");
          y.destroy();
          assert.equal(mbufsInUse(k), 0);
          k.shutdown();
        });
      }
    }

    test("the sender destroyed while the receiver's socket buffer holds the reassembled datagram", async () => {
      const { k, A, B, clock } = await setup(family, false);
      const any = family === "inet" ? "0.0.0.0" : "::";
      const srv = socket(k, B, family, "dgram", 17).bind(any, 9);
      srv.setsockopt(SOL_SOCKET, SO.RCVBUF, 256 * 1024);
      const cli = socket(k, A, family, "dgram", 17);
      cli.sendto(new Uint8Array(3000).fill(7), family === "inet" ? "10.0.0.2" : "fd00::2", 9); // 16-17 fragments at MTU 200
      clock.advance(10);
      assert.equal(clusters(A), 0, "the datagram's storage is the receiver's");
      assert.ok((B.accounting().items.mbuf ?? 0) > 0, "B's socket buffer holds the datagram");
      cli.close();
      A.destroy();
      assert.equal(k.accounting().zombies, 0);
      assert.equal(srv.recv()?.length, 3000, "the datagram survives its sender");
      srv.close();
      B.destroy();
      assert.equal(mbufsInUse(k), 0);
      k.shutdown();
    });
  });
}

// A router's neighbour hold queue (ARP, ND) holding fragments another vnet sent: A fragments
// a datagram for C at MTU 200, R forwards each fragment toward C, whose end is down, so they
// wait in R's hold queue for an address resolution that never comes.
for (const family of ["inet", "inet6"] as const) {
  test(`${family}: the sender destroyed while a router's hold queue holds its fragments`, async () => {
    const k = await Kernel.boot({ config: ["if_epair", "inet", "inet6", "udp"], seed: 5 });
    k.reclaim();
    const [A, R, C] = ["A", "R", "C"].map((n) => k.createVnet(n));
    const [a, ra] = k.epair(A, R);
    const [rc, c] = k.epair(R, C);
    for (const i of [a, ra, rc]) i.setUp();
    a.setMtu(200);
    ra.setMtu(200);
    const six = family === "inet6";
    addAddress(k, a, six ? "fd00:1::1/64" : "10.0.1.1/24");
    addAddress(k, ra, six ? "fd00:1::2/64" : "10.0.1.2/24");
    addAddress(k, rc, six ? "fd00:2::1/64" : "10.0.2.1/24");
    addAddress(k, c, six ? "fd00:2::2/64" : "10.0.2.2/24");
    addRoute(k, A, six ? "fd00:2::/64" : "10.0.2.0/24", { gateway: six ? "fd00:1::2" : "10.0.1.2" });
    if (six) setForwarding6(k, R, true);
    else setForwarding(k, R, true);
    const clock = k.clock as VirtualClock;
    clock.advance(5000); // past IPv6 DAD
    const cli = socket(k, A, family, "dgram", 17);
    cli.sendto(new Uint8Array(1500).fill(9), six ? "fd00:2::2" : "10.0.2.2", 9); // about 8 fragments
    clock.advance(1);
    assert.ok((R.accounting().items.mbuf ?? 0) > 0, "R holds A's fragments");
    assert.equal(A.accounting().items.mbuf_cluster ?? 0, 0, "their storage is R's, not A's");
    cli.close();
    A.destroy(); // threw LeakError (mbuf_cluster) before the fix
    assert.equal(k.accounting().zombies, 0);
    R.destroy();
    C.destroy();
    assert.equal(mbufsInUse(k), 0);
    k.shutdown();
  });
}
