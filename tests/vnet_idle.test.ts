// What an idle vnet owns (issue 12, memory): a GENERIC vnet holds its VNET data block, lo0
// with its two addresses and its route, and nothing a module could make on first use. TCP's
// connection and port hashes come with the vnet's first socket, are refused with ENOMEM
// (counted) when the vnet's budget has no room for them, and go with the vnet.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { Kernel, KernelError } from "../host/index.js";
import { tcpStats } from "../host/admin/tcp.js";
import { socket } from "../host/sockets/socket.js";
import { tcpHosts, step } from "./helpers/tcp.js";

const PAGE = 4096;

describe("idle vnet footprint", () => {
  test("a GENERIC vnet idles within 12 KiB; a BARE one is its data block, struct vnet and lo0", async () => {
    const bare = await Kernel.boot({ config: "BARE" });
    const b = bare.createVnet().accounting();
    assert.deepEqual(b.items, { ifnet: 1 });
    assert.equal(b.bytes, 8480, "BARE: 2 pages + struct vnet (56) + lo0's ifnet (232)");
    bare.shutdown();

    const k = await Kernel.boot({ config: "GENERIC" });
    const v = k.createVnet();
    const a = v.accounting();
    assert.ok(a.bytes <= 12288, `GENERIC idle vnet ${a.bytes} B <= 12288`);
    assert.equal(a.pages * PAGE, k.accounting().vnetSectionBytes, "no page but its VNET data block");
    v.destroy();
    k.shutdown();
  });

  test("TCP's hashes come with the first tcpcb and go with the last one, or with the vnet", async () => {
    const k = await Kernel.boot({ config: "GENERIC" });
    const base = k.accounting().pagesInUse;
    const v = k.createVnet();
    const idle = v.accounting().pages;
    const s = socket(k, v, "inet", "stream");
    assert.equal(v.accounting().pages, idle + 2, "connection hash + port hash");
    const s6 = socket(k, v, "inet6", "stream");
    assert.equal(v.accounting().pages, idle + 2, "made once per vnet");
    s.close();
    assert.equal(v.accounting().pages, idle + 2, "kept while a tcpcb is left");
    s6.close();
    assert.equal(v.accounting().pages, idle, "gone with the last tcpcb");
    socket(k, v, "inet", "stream"); // left open: the vnet's destruction frees tables and all
    assert.equal(v.accounting().pages, idle + 2);
    v.destroy();
    k.reclaim();
    assert.equal(k.accounting().pagesInUse, base, "the vnet's destruction returned them");
    k.shutdown();
  });

  test("no room for the hashes: the first socket fails with ENOMEM, counted, and nothing is kept", async () => {
    const k = await Kernel.boot({ config: "GENERIC" });
    const v = k.createVnet();
    const a0 = v.accounting();
    // Room for the socket (charged first) and one page: the connection hash fits, the port hash not.
    v.setMemoryBudget(a0.pinnedBytes + PAGE + 1024);
    assert.throws(() => socket(k, v, "inet", "stream"), (e: unknown) => e instanceof KernelError && /ENOMEM/.test(String(e)));
    const a1 = v.accounting();
    assert.equal(a1.pages, a0.pages, "the page that was had is given back");
    assert.equal(a1.refusals.budget, 1);
    assert.equal(tcpStats(k, v).tablefail, 1);
    v.setMemoryBudget(a0.pinnedBytes + 64 * PAGE);
    socket(k, v, "inet", "stream").close();
    assert.equal(tcpStats(k, v).tablefail, 1);
    v.destroy();
    k.shutdown();
  });

  test("a SYN to a vnet that never had a socket is answered with a RST (lookups without tables)", async () => {
    const { k, A, B } = await tcpHosts();
    const pagesB = B.accounting().pages;
    // Many 4-tuples, so the lookups would hash into every bucket of a table that is not there.
    const N = 150; // under net.inet.tcp.rst_limit (200 a second)
    for (let i = 0; i < N; i++) {
      const s = socket(k, A, "inet", "stream");
      assert.throws(() => s.connect("10.0.0.2", 1000 + i), (e: any) => e.code === "ECONNREFUSED");
      s.close();
    }
    step(k);
    assert.equal(tcpStats(k, B).sndrst, N);
    assert.equal(B.accounting().pages, pagesB, "answering took no table");
    A.destroy();
    B.destroy();
    k.shutdown();
  });
});
