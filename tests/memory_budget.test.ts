// Memory budgets (issue 14 item 4): the kernel's budget bounds linear memory, a vnet's byte
// budget bounds what it pins (its pages and the mbufs, clusters and sockets charged to
// it), and near the kernel's budget the vnets over their fair share are refused first, so
// flooded vnets cannot starve a quiet one. kern/kern_racct.ts has the design.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { Kernel, KernelError, ConfigError, type Vnet, type Interface } from "../host/index.js";
import { addAddress } from "../host/admin/inet.js";
import { ping } from "../host/admin/ping.js";
import { tcpKnob } from "../host/admin/tcp.js";
import { socket, SOL_SOCKET, SO, type Socket } from "../host/sockets/socket.js";
import { mbufsInUse, ipPacket, ether } from "./helpers/inet.js";
import { pattern } from "./helpers/tcp.js";
import { sink, sender, floodSend as flood, link, fullService, hundredFloodedVnets, FRAME_DATAGRAM } from "./helpers/floods.js";

const MiB = 1024 * 1024;
/** sizeof(struct vnet): VnetAccounting.bytes counts it, pinnedBytes does not. */
const VNET_STRUCT = 56;

/** The running figure a budget is checked against agrees with the one summed over every zone. */
function assertPinnedConsistent(k: Kernel, vnets: Vnet[]): void {
  for (const v of vnets) {
    const a = v.accounting();
    assert.equal(a.bytes, a.pinnedBytes + VNET_STRUCT, `vnet ${v.name}: pinned ${a.pinnedBytes} vs counted ${a.bytes}`);
  }
}

/** Destroy vnets; everything they pinned comes back (zero items, zero pages of theirs). */
function destroyAll(k: Kernel, vnets: Vnet[], pagesBefore: number): void {
  for (const s of k.sockets.all()) s.close();
  for (const v of vnets) v.destroy();
  k.reclaim();
  assert.equal(mbufsInUse(k), 0, "no mbuf or cluster left");
  assert.equal(k.accounting().zombies, 0);
  assert.equal(k.accounting().pagesInUse, pagesBefore, "every page came back");
}

describe("memory budgets", () => {
  test("boot checks the budgets; accounting reports them", async () => {
    await assert.rejects(Kernel.boot({ memoryBudget: 1 * MiB }), ConfigError);
    await assert.rejects(Kernel.boot({ memoryBudget: 5 * 1024 * MiB }), ConfigError);
    await assert.rejects(Kernel.boot({ memoryBudget: 1.5 }), ConfigError);
    await assert.rejects(Kernel.boot({ vnetMemoryBudget: -1 }), ConfigError);
    const k = await Kernel.boot({ config: "BARE" });
    const a = k.accounting();
    assert.equal(a.memoryBudget, 2048 * MiB, "default: 2 GiB");
    assert.equal(a.memoryHighWater >= 1536 * MiB - 65536 && a.memoryHighWater <= 1536 * MiB, true);
    assert.ok(a.memoryInUse > 0 && a.memoryInUse <= a.memoryBytes && a.memoryPeak >= a.memoryInUse);
    assert.deepEqual(a.memoryRefusals, { budget: 0, vnetBudget: 0, fairShare: 0 });
    const v = k.createVnet();
    assert.equal(v.accounting().memoryBudget, 64 * MiB, "default vnet budget: 64 MiB");
    v.setMemoryBudget(8 * MiB);
    assert.equal(v.accounting().memoryBudget, 8 * MiB);
    assert.throws(() => v.setMemoryBudget(-5), ConfigError);
    assert.throws(() => v.setMemoryBudget(2 ** 32), ConfigError);
    assertPinnedConsistent(k, [k.vnet0, v]);
    k.shutdown();
  });

  test("the kernel budget bounds linear memory: vnets are refused with ENOMEM near it, never a trap", async () => {
    const k = await Kernel.boot({ memoryBudget: 16 * MiB });
    const pagesBefore = k.accounting().pagesInUse;
    const vnets: Vnet[] = [];
    let refused: unknown;
    for (let i = 0; i < 5000 && !refused; i++) {
      try {
        vnets.push(k.createVnet());
      } catch (e) {
        refused = e;
      }
    }
    assert.ok(refused instanceof KernelError && /ENOMEM/.test((refused as Error).message), `refused with ENOMEM: ${refused}`);
    const a = k.accounting();
    assert.ok(a.memoryBytes <= 16 * MiB, `memory ${a.memoryBytes} within the budget`);
    assert.ok(a.memoryPeak <= 16 * MiB);
    // The shrinking fair share refuses the newest vnet's charges before kmem runs dry.
    assert.ok(a.memoryRefusals.fairShare + a.memoryRefusals.budget > 0, "the refusal is counted");
    assertPinnedConsistent(k, vnets.slice(0, 5));
    destroyAll(k, vnets, pagesBefore);
    // Memory came back: vnets can be made again.
    k.createVnet().destroy();
    k.shutdown();
  });

  test("a vnet's budget refuses the flooder, not its neighbour (charges moved by epair too)", async () => {
    const k = await Kernel.boot({ config: ["if_epair", "inet", "udp"] });
    const pagesBefore = k.accounting().pagesInUse;
    const [X, F, N] = ["X", "F", "N"].map((n) => k.createVnet(n));
    link(k, X, F, "10.1.0");
    link(k, X, N, "10.2.0");
    F.setMemoryBudget(2 * MiB);
    N.setMemoryBudget(2 * MiB);
    // F: two sockets nobody reads (4 MiB of room), flooded from X with datagrams that fit a
    // frame: each one's mbuf and cluster become F's in epair's m_chargeto.
    sink(k, F, "0.0.0.0", 9000);
    sink(k, F, "0.0.0.0", 9001);
    const fromX = sender(k, X);
    for (let i = 0; i < 2000; i++) fromX.sendto(FRAME_DATAGRAM, "10.1.0.2", 9000 + (i & 1));
    const f = F.accounting();
    assert.ok(f.pinnedBytes <= 2 * MiB, `F pins ${f.pinnedBytes}, within its budget`);
    assert.ok(f.refusals.budget > 0, "F's refusals are counted");
    assert.equal(f.refusals.fairShare, 0);
    // F floods itself too (over lo0: allocations charged to F directly): refused.
    const self = sender(k, F);
    let refusedSelf = 0;
    for (let i = 0; i < 20; i++) if (!flood(self, "127.0.0.1", 9001)) refusedSelf++;
    assert.ok(refusedSelf > 0, "F's own sends are refused");
    assert.ok(F.accounting().pinnedBytes <= 2 * MiB);
    // N, beside it, has the same budget and full service: every datagram X sends it arrives.
    const rN = socket(k, N, "inet", "dgram").bind("0.0.0.0", 7);
    for (let i = 0; i < 20; i++) {
      fromX.sendto(pattern(1000, i), "10.2.0.2", 7);
      const d = rN.recvfrom();
      assert.ok(d, `datagram ${i} arrived`);
      assert.deepEqual(d.data, pattern(1000, i));
    }
    assert.equal((await ping(k, X, "10.2.0.2", { count: 2, intervalMs: 10 })).received, 2);
    assert.deepEqual(N.accounting().refusals, { budget: 0, fairShare: 0 });
    assert.equal(X.accounting().refusals.budget, 0, "the sender is not charged for what F refused");
    assertPinnedConsistent(k, [X, F, N]);
    destroyAll(k, [X, F, N], pagesBefore);
    k.shutdown();
  });

  test("packets epair hands over count against the receiver's budget (fragments held for reassembly)", async () => {
    const k = await Kernel.boot({ config: ["if_epair", "inet"] });
    const [X, F] = ["X", "F"].map((n) => k.createVnet(n));
    const [ex, ef] = link(k, X, F, "10.1.0");
    F.setMemoryBudget(1 * MiB);
    // First fragments of datagrams that never complete: F keeps each one (an mbuf and a
    // cluster moved to it by m_chargeto) without allocating anything for it.
    for (let id = 1; id <= 20; id++) {
      for (let j = 0; j < 40; j++) {
        const frag = ipPacket({ src: "10.1.0.1", dst: "10.1.0.2", proto: 17, id, off: j * 1480, mf: true, payload: new Uint8Array(1480) });
        ex.send(ether(ex, ef, 0x0800, frag));
      }
    }
    const f = F.accounting();
    assert.ok(f.pinnedBytes <= 1 * MiB, `F pins ${f.pinnedBytes}, within its budget`);
    assert.ok(f.refusals.budget > 0, "the fragments past it were refused at the crossing");
    assert.equal(X.accounting().refusals.budget, 0);
    assertPinnedConsistent(k, [X, F]);
    X.destroy();
    F.destroy();
    assert.equal(mbufsInUse(k), 0);
    k.shutdown();
  });

  test("a dying vnet's interfaces go home even when home is at its budget; a user's move there is refused", async () => {
    const k = await Kernel.boot({ config: ["if_epair", "inet"] });
    const [H, F, G] = ["H", "F", "G"].map((n) => k.createVnet(n));
    link(k, H, F, "10.1.0");
    const [, gb] = link(k, H, G, "10.2.0");
    H.setMemoryBudget(H.accounting().pinnedBytes);
    assert.throws(() => gb.moveTo(H), /ENOMEM/, "a move into a vnet at its budget is refused");
    F.destroy(); // must not leak: epair1b... goes back to H
    assert.equal(H.interfaces().filter((i) => i.name.startsWith("epair")).length, 3);
    assert.ok(H.accounting().pinnedBytes > H.accounting().memoryBudget, "home took it past its budget");
    G.destroy();
    H.destroy();
    k.shutdown();
  });

  test("a vnet's budget counts its own pages (per-vnet zones, tables), not only its packets", async () => {
    const k = await Kernel.boot({ config: ["inet", "tcp"] });
    const v = k.createVnet();
    const budget = v.accounting().pinnedBytes + 48 * 1024;
    v.setMemoryBudget(budget);
    // The first socket makes the connection and port hashes (two pages charged to v).
    const socks: Socket[] = [socket(k, v, "inet", "stream")];
    // A 64 KiB connection hash (16 pages charged to v) does not fit; an 8 KiB one does.
    assert.throws(() => tcpKnob(k, v, "tcbhashsize", 16384), /ENOMEM|ENOBUFS/);
    assert.ok(v.accounting().pinnedBytes <= budget);
    assert.equal(v.accounting().refusals.budget, 1);
    tcpKnob(k, v, "tcbhashsize", 2048);
    // Then sockets (items charged to v, tcpcbs from its own zone's pages) until refused.
    let refused: unknown;
    for (let i = 0; i < 2000 && !refused; i++) {
      try {
        socks.push(socket(k, v, "inet", "stream"));
      } catch (e) {
        refused = e;
      }
    }
    assert.ok(refused instanceof KernelError, `a socket is refused at last: ${refused}`);
    const a = v.accounting();
    assert.ok(a.pinnedBytes <= budget, `pinned ${a.pinnedBytes} <= ${budget}`);
    assert.ok(a.pages * 4096 <= budget);
    assert.ok(a.refusals.budget > 0);
    assertPinnedConsistent(k, [v]);
    for (const s of socks) s.close();
    v.destroy();
    k.shutdown();
  });

  test("100 flooded vnets: a quiet pair keeps full service (ping, TCP with SHA-256) and the kernel stays under its budget", async () => {
    const BUDGET = 256 * MiB;
    const k = await Kernel.boot({ config: ["if_epair", "inet", "udp", "tcp"], memoryBudget: BUDGET });
    const pagesBefore = k.accounting().pagesInUse;
    const { Q, S, X, flooded } = hundredFloodedVnets(k);
    // The quiet pair has full service while the floods hold their memory, and was never refused.
    await fullService(k, Q, S);
    for (const v of [Q, S]) assert.deepEqual(v.accounting().refusals, { budget: 0, fairShare: 0 }, `${v.name} was never refused`);
    const a = k.accounting();
    assert.ok(a.memoryBytes <= BUDGET && a.memoryPeak <= BUDGET, `kernel ${a.memoryPeak} under its budget`);
    assert.equal(a.memoryRefusals.budget, 0, "the hard budget was never reached");
    assert.ok(a.memoryPeak >= a.memoryHighWater, "the floods reached the high-water mark");
    assert.ok(a.memoryRefusals.fairShare > 0, "vnets over their fair share were refused");
    // Flooded at the same rate, each holds about its share at the mark (high water / vnets).
    const share = a.memoryHighWater / k.vnets().length;
    for (const f of flooded) {
      const fa = f.v.accounting();
      assert.ok(fa.pinnedBytes > share / 2, `${f.v.name} was flooded (${fa.pinnedBytes})`);
      assert.ok(fa.pinnedBytes <= share + 128 * 1024, `${f.v.name} pinned ${fa.pinnedBytes}, about its share ${share}`);
      assert.ok(fa.refusals.fairShare > 0, `${f.v.name} was refused`);
    }
    assertPinnedConsistent(k, [Q, S, X, ...flooded.slice(0, 8).map((f) => f.v)]);
    destroyAll(k, [Q, S, X, ...flooded.map((f) => f.v)], pagesBefore);
    k.shutdown();
  });
});
