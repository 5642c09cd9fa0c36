// FreeBSD's IPv4 reassembly test, tests/sys/netinet/ip_reass_test.c, re-created. FreeBSD
// writes each fragment into its loopback interface through BPF and reads net.inet.ip.stats
// around each write; here each fragment goes into a fresh jail (vnet) on its epair end, from
// 10.0.0.1 to the jail's 10.0.0.2, and ipstat is read around it.
import { before, after } from "node:test";
import assert from "node:assert/strict";
import type { Kernel } from "../../host/index.js";
import { inetGauges } from "../../host/admin/inet.js";
import { ipPacket, mbufsInUse } from "../helpers/inet.js";
import { bootLab, conformanceTest, jail } from "./lab.js";

let k: Kernel;
before(async () => {
  k = await bootLab(["inet", "udp"]);
});
after(() => k.shutdown());

/** A fragment of `len` zero bytes at byte offset off, as alloc_lopacket makes them (protocol 0, TTL 1). */
function frag(id: number, off: number, mf: boolean, len: number): Uint8Array {
  return ipPacket({ id, proto: 0, ttl: 1, off, mf, src: "10.0.0.1", dst: "10.0.0.2", payload: new Uint8Array(len) });
}

async function done(j: Awaited<ReturnType<typeof jail>>): Promise<void> {
  await j.destroy();
  assert.equal(mbufsInUse(k), 0, "destroying the jail leaves no mbuf");
  assert.equal(k.vmstatZ().find((z) => z.name === "ipq")?.used ?? 0, 0, "no reassembly queue left");
}

/** ipstat counters that moved while `fn` ran. */
function moved(j: Awaited<ReturnType<typeof jail>>, fn: () => void): Record<string, number> {
  const a = j.ip();
  fn();
  const b = j.ip();
  const out: Record<string, number> = {};
  for (const key of Object.keys(b) as (keyof typeof b)[]) if (b[key] !== a[key]) out[key] = b[key] - a[key];
  return out;
}

conformanceTest("ip_reass__multiple_last_fragments", async () => {
  const j = await jail(k, "ip-reass-1", "inet");
  const id = 0x4a11;
  j.send(frag(id, 0x10 * 8, false, 16)); // the last fragment: bytes 128..144
  assert.equal(inetGauges(k, j.jail).reassembling, 1);
  // packet2 after packet1, MF clear: another last fragment.
  assert.deepEqual(moved(j, () => j.send(frag(id, 0x20 * 8, false, 16))), { total: 1, fragments: 1, fragdropped: 1 });
  // packet2 again with MF set: data past the last fragment.
  assert.deepEqual(moved(j, () => j.send(frag(id, 0x20 * 8, true, 16))), { total: 1, fragments: 1, fragdropped: 1 });
  // packet3 before packet1, MF clear: a last fragment ending elsewhere.
  assert.deepEqual(moved(j, () => j.send(frag(id, 0x8 * 8, false, 16))), { total: 1, fragments: 1, fragdropped: 1 });
  // packet4 at packet1's offset, longer.
  assert.deepEqual(moved(j, () => j.send(frag(id, 0x10 * 8, false, 32))), { total: 1, fragments: 1, fragdropped: 1 });
  assert.equal(inetGauges(k, j.jail).reassembling, 1, "the held last fragment keeps its datagram");
  j.wait(35);
  assert.equal(j.ip().fragtimeout, 1, "only packet1 was held");
  await done(j);
});

conformanceTest("ip_reass__zero_length_fragment", async () => {
  const j = await jail(k, "ip-reass-2", "inet");
  const id = 0x0b0e;
  assert.deepEqual(moved(j, () => j.send(frag(id, 0x10 * 8, true, 0))), { total: 1, fragments: 1, toosmall: 1, fragdropped: 1 });
  assert.deepEqual(moved(j, () => j.send(frag(~id & 0xffff, 0x10 * 8, false, 0))), { total: 1, fragments: 1, toosmall: 1, fragdropped: 1 });
  assert.equal(inetGauges(k, j.jail).reassembling, 0, "neither held");
  await done(j);
});

conformanceTest("ip_reass__large_fragment", async () => {
  const j = await jail(k, "ip-reass-3", "inet");
  const id = 0x1a76;
  // 16 + (0x1fff << 3) > IP_MAXPACKET
  assert.deepEqual(moved(j, () => j.send(frag(id, 0x1fff * 8, true, 16))), { total: 1, fragments: 1, toolong: 1, fragdropped: 1 });
  assert.deepEqual(moved(j, () => j.send(frag(id, 0x1fff * 8, false, 16))), { total: 1, fragments: 1, toolong: 1, fragdropped: 1 });
  assert.equal(inetGauges(k, j.jail).reassembling, 0);
  await done(j);
});
