// Making a vnet touches only the pages of its data block that hold something (issue 12,
// vnets_100k_generic_create_s): on pages fresh from memory.grow (zeros) vnet_alloc copies
// only the master's pieces that are not zero, and blocks of zeros (tcpstat) sit high in
// the section. A block on a destroyed vnet's pages gets the master's bytes whole. Either
// way the vnet must start the same: the same knobs, zero counters, working loopback in
// both families, and nothing left when it goes.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Kernel, type Vnet } from "../host/index.js";
import { sysctlKnobs, sysctlGet } from "../host/admin/sysctl.js";
import { tcpStats } from "../host/admin/tcp.js";
import { udpStats, portRange } from "../host/admin/udp.js";
import { ping, ping6 } from "../host/admin/ping.js";
import { socket } from "../host/sockets/socket.js";

const BLOCK = 8192; // the default VNET section

function knobs(k: Kernel, v: Vnet): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const s of sysctlKnobs(k)) if (!s.readOnly) out[s.name] = sysctlGet(k, v, s.name);
  return out;
}

function nonzero(o: Record<string, number>): string[] {
  return Object.entries(o).filter(([, n]) => n !== 0).map(([name, n]) => `${name}=${n}`);
}

/** Loopback in both families and TCP over 127.0.0.1; the counters move. */
async function works(k: Kernel, v: Vnet, what: string): Promise<void> {
  assert.equal((await ping(k, v, "127.0.0.1", { count: 1, timeoutMs: 100 })).received, 1, `${what}: ping 127.0.0.1`);
  assert.equal((await ping6(k, v, "::1", { count: 1, timeoutMs: 100 })).received, 1, `${what}: ping6 ::1`);
  const lsn = socket(k, v, "inet", "stream").bind("127.0.0.1", 80).listen();
  const c = socket(k, v, "inet", "stream");
  c.connect("127.0.0.1", 80);
  const a = lsn.accept();
  assert.ok(a, `${what}: TCP over loopback accepted`);
  a.close();
  c.close();
  lsn.close();
  assert.equal(tcpStats(k, v).accepts, 1, `${what}: tcpstat counts in its own block`);
}

/** The address of a live vnet's data block. */
function blockOf(_k: Kernel, v: Vnet): number {
  return v.base;
}

describe("vnet creation on fresh and on reused pages", () => {
  test("a vnet on fresh pages and one on a destroyed vnet's scribbled pages start the same and work", async () => {
    const k = await Kernel.boot({ config: "GENERIC" });
    try {
      const ref = knobs(k, k.vnet0);
      // Enough vnets that kmem grows memory: the last ones' blocks are fresh.
      const made: Vnet[] = [];
      let F: Vnet | undefined;
      for (let i = 0; i < 64; i++) {
        const n = k.k.vnet_fresh();
        const v = k.createVnet();
        if (k.k.vnet_fresh() === n + 1) F = v;
        made.push(v);
      }
      assert.ok(F, "some vnet was made on fresh pages");
      const fbase = blockOf(k, F);
      // Its block's second page holds nothing the vnet was given: only zeros (tcpstat).
      const page2 = new Uint8Array(k.memory.buffer, fbase + 4096, BLOCK - 4096);
      assert.ok(page2.every((b) => b === 0), "a fresh GENERIC vnet's second page is all zeros");
      for (const v of made) if (v !== F) v.destroy();

      // A vnet destroyed, its pages filled with garbage, and the next vnet on those pages.
      const X = k.createVnet();
      const xbase = blockOf(k, X);
      X.destroy();
      new Uint8Array(k.memory.buffer, xbase, BLOCK).fill(0xa5);
      const fresh1 = k.k.vnet_fresh();
      const R = k.createVnet();
      assert.equal(blockOf(k, R), xbase, "the next vnet reuses the destroyed one's block");
      assert.equal(k.k.vnet_fresh(), fresh1, "reused pages take the whole copy");

      for (const [v, what] of [[F, "fresh"], [R, "reused"]] as const) {
        assert.deepEqual(knobs(k, v), ref, `${what}: every knob at vnet0's value`);
        assert.deepEqual(nonzero(tcpStats(k, v) as unknown as Record<string, number>), [], `${what}: tcpstat zero`);
        assert.deepEqual(nonzero(udpStats(k, v) as unknown as Record<string, number>), [], `${what}: udpstat zero`);
        assert.deepEqual(portRange(k, v), portRange(k, k.vnet0), `${what}: ephemeral port range`);
        await works(k, v, what);
      }
      const base = k.accounting();
      for (const v of [F, R]) v.destroy();
      k.reclaim();
      const after = k.accounting();
      assert.equal(after.vnets, 1, "only vnet0 is left");
      assert.ok(after.pagesInUse <= base.pagesInUse - 4, "both blocks went back to kmem");
    } finally {
      k.shutdown();
    }
  });

  test("a block allocated after a vnet was made on scribbled pages reads zero there (kldload tcp)", async () => {
    const k = await Kernel.boot({ config: ["inet", "inet6", "udp"] });
    try {
      const X = k.createVnet();
      const xbase = blockOf(k, X);
      X.destroy();
      new Uint8Array(k.memory.buffer, xbase, BLOCK).fill(0x5a);
      const R = k.createVnet(); // copied up to the regions in use only: the rest is garbage
      assert.equal(blockOf(k, R), xbase);
      await k.kldload("tcp"); // tcpstat (vnet_data_alloc_zero) lands in the garbage
      assert.deepEqual(nonzero(tcpStats(k, R) as unknown as Record<string, number>), [], "tcpstat reads zero in a live vnet");
      assert.deepEqual(knobs(k, R), knobs(k, k.vnet0), "tcp's knobs copied into the live vnet");
      await works(k, R, "after kldload");
      R.destroy();
      k.kldunload("tcp");
    } finally {
      k.shutdown();
    }
  });
});
