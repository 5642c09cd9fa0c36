// The shared route table (assembly/net/route.ts) against a naive longest-prefix reference,
// for IPv4-shaped keys (32 bits, /0-/32) and IPv6 keys (128 bits, /0-/128): random
// sequences of inserts, deletes (also of what is not there), re-inserts and lookups,
// drawn from a few base addresses so prefixes overlap and nest. The table is driven
// through bench_route (bench/kmod/), which holds one table charged to a vnet of its own.
// Then: a table's nodes are charged to its vnet and a family's routes leave nothing when
// their vnet is destroyed.
import { test, describe, after } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { Kernel } from "../host/index.js";
import { addAddress, addRoute, routes } from "../host/admin/inet.js";
import { addAddress6, addRoute6, routes6 } from "../host/admin/inet6.js";

interface BenchRoute {
  rb_open(): number;
  rb_close(): number;
  rb_flush(): void;
  rb_count(): number;
  rb_nodes(): number;
  rb_insert(a: number, b: number, c: number, d: number, plen: number, v: number): number;
  rb_delete(a: number, b: number, c: number, d: number, plen: number): number;
  rb_lookup(a: number, b: number, c: number, d: number): number;
  rb_find(a: number, b: number, c: number, d: number, plen: number): number;
}

const EEXIST = -17;

/** A 128-bit key as a bigint; IPv4 keys are the address in the top 32 bits. */
const words = (k: bigint): [number, number, number, number] =>
  [Number((k >> 96n) & 0xffffffffn), Number((k >> 64n) & 0xffffffffn), Number((k >> 32n) & 0xffffffffn), Number(k & 0xffffffffn)];
const mask = (k: bigint, plen: number): bigint => (plen === 0 ? 0n : (k >> BigInt(128 - plen)) << BigInt(128 - plen));

type Op = { kind: "insert" | "delete" | "lookup"; key: bigint; plen: number };

/** Keys near a few bases (so prefixes nest and overlap), lengths biased to the ends. */
function ops(bits: 32 | 128): fc.Arbitrary<Op[]> {
  const shift = BigInt(128 - bits);
  const base = fc.constantFrom(0n, 0x0a000000n, 0xc0a80000n, 0xffffffffn, 0x20010db8n, 0x80000000n);
  const key = fc.tuple(base, fc.bigInt({ min: 0n, max: (1n << BigInt(bits)) - 1n }), fc.nat(bits)).map(([b, r, keep]) => {
    // The base's top bits, then random bits below bit `keep`.
    const top = bits === 32 ? b : b << 96n;
    const low = keep === 0 ? r : r & ((1n << BigInt(bits - keep)) - 1n);
    const hiMask = keep === 0 ? 0n : (((1n << BigInt(keep)) - 1n) << BigInt(bits - keep));
    return ((top & hiMask) | low) << shift;
  });
  const plen = fc.oneof(fc.constantFrom(0, bits, bits - 1, 1, bits === 32 ? 24 : 64, bits === 32 ? 8 : 48), fc.integer({ min: 0, max: bits }));
  const op = fc.record({ kind: fc.constantFrom<Op["kind"]>("insert", "insert", "delete", "lookup", "lookup"), key, plen });
  return fc.array(op, { minLength: 1, maxLength: 120 });
}

/** Runs ops on the table and on a Map of prefixes; every answer must agree. */
function check(rb: BenchRoute, list: Op[]): void {
  assert.equal(rb.rb_open(), 0);
  const ref = new Map<string, { key: bigint; plen: number; v: number }>();
  let next = 1;
  for (const o of list) {
    const k = mask(o.key, o.plen);
    const id = `${k}/${o.plen}`;
    if (o.kind === "insert") {
      const v = next++;
      const r = rb.rb_insert(...words(o.key), o.plen, v); // host bits set: the table masks them
      assert.equal(r, ref.has(id) ? EEXIST : 0, `insert ${id}`);
      if (r === 0) ref.set(id, { key: k, plen: o.plen, v });
    } else if (o.kind === "delete") {
      const r = rb.rb_delete(...words(o.key), o.plen);
      assert.equal(r, ref.get(id)?.v ?? 0, `delete ${id}`);
      ref.delete(id);
    } else {
      let best: { plen: number; v: number } | undefined;
      for (const e of ref.values()) if (mask(o.key, e.plen) === e.key && (!best || e.plen > best.plen)) best = e;
      assert.equal(rb.rb_lookup(...words(o.key)), best?.v ?? 0, `lookup ${o.key.toString(16)}`);
    }
    // Every route is found by its exact prefix; no route-less node is left without two children.
    assert.equal(rb.rb_count(), ref.size);
    assert.ok(rb.rb_nodes() <= Math.max(0, 2 * ref.size - 1), `${rb.rb_nodes()} nodes for ${ref.size} routes`);
  }
  for (const e of ref.values()) assert.equal(rb.rb_find(...words(e.key), e.plen), e.v, `find ${e.key}/${e.plen}`);
  rb.rb_flush();
  assert.equal(rb.rb_count(), 0);
  assert.equal(rb.rb_nodes(), 0);
  assert.equal(rb.rb_close(), 0, "rtnode items left in the vnet after a flush");
}

describe("route table (net/route.ts) against a naive longest-prefix reference", async () => {
  const k = await Kernel.boot({ config: "BARE", seed: 1 });
  await k.kldload("bench_route");
  const rb = k.module<BenchRoute>("bench_route");
  after(() => k.shutdown());

  test("IPv4-shaped keys: /0-/32, overlapping prefixes, deletes and re-inserts", () => {
    fc.assert(fc.property(ops(32), (list) => check(rb, list)), { numRuns: 300, seed: 4 });
  });

  test("IPv6 keys: /0-/128, overlapping prefixes, deletes and re-inserts", () => {
    fc.assert(fc.property(ops(128), (list) => check(rb, list)), { numRuns: 300, seed: 6 });
  });

  test("the default route and host routes at both ends of the key", () => {
    assert.equal(rb.rb_open(), 0);
    assert.equal(rb.rb_lookup(0x0a000001, 0, 0, 0), 0, "empty table");
    assert.equal(rb.rb_insert(0, 0, 0, 0, 0, 1), 0);
    assert.equal(rb.rb_insert(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 128, 2), 0);
    assert.equal(rb.rb_insert(0, 0, 0, 0, 128, 3), 0);
    assert.equal(rb.rb_lookup(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff), 2);
    assert.equal(rb.rb_lookup(0xffffffff, 0xffffffff, 0xffffffff, 0xfffffffe), 1);
    assert.equal(rb.rb_lookup(0, 0, 0, 0), 3);
    assert.equal(rb.rb_lookup(0, 0, 0, 1), 1);
    assert.equal(rb.rb_insert(0, 0, 0, 0, 129, 4), -22, "plen > 128 is EINVAL");
    assert.equal(rb.rb_insert(0, 0, 0, 0, 5, 0), -22, "a route is never 0");
    assert.equal(rb.rb_delete(0, 0, 0, 0, 0), 1);
    assert.equal(rb.rb_lookup(0, 0, 0, 1), 0, "the default route is gone");
    rb.rb_flush();
    assert.equal(rb.rb_close(), 0);
  });

  test("nodes are charged to the table's vnet: a vnet destroyed before its table is flushed shows them", () => {
    assert.equal(rb.rb_open(), 0);
    let added = 0;
    for (let i = 0; i < 1000; i++) if (rb.rb_insert((i * 2654435761) >>> 0, 0, 0, 0, 8 + (i % 25), i + 1) === 0) added++;
    assert.ok(added >= 900, `${added} distinct prefixes`);
    const held = rb.rb_close(); // not flushed: the vnet still holds every node
    assert.ok(held >= added, `rtnode items held by the vnet: ${held} for ${added} routes`);
  });

  test("a vnet destroyed with many IPv4 and IPv6 routes leaves no rtnode behind", async () => {
    const k2 = await Kernel.boot({ config: ["if_epair", "inet", "inet6"], seed: 2 });
    const used = () => k2.vmstatZ().find((z) => z.name === "rtnode")?.used ?? 0;
    const base = used();
    const A = k2.createVnet("A");
    const B = k2.createVnet("B");
    const [ea, eb] = k2.epair(A, B);
    ea.setUp();
    eb.setUp();
    addAddress(k2, ea, "10.0.0.1/24");
    addAddress6(k2, ea, "fd00::1/64");
    for (let i = 0; i < 2000; i++) addRoute(k2, A, `${100 + (i >> 8)}.${i & 255}.0.0/16`, { gateway: "10.0.0.2" });
    for (let i = 0; i < 2000; i++) addRoute6(k2, A, `2001:db8:${i.toString(16)}::/48`, { gateway: "fd00::2" });
    // netstat -rn pages through them longest prefix first, ties in insertion order.
    const r4 = routes(k2, A).map((r) => r.destination);
    assert.equal(r4.length, 2002);
    assert.deepEqual(r4.slice(0, 3), ["10.0.0.0/24", "100.0.0.0/16", "100.1.0.0/16"]);
    assert.equal(r4[2000], "107.207.0.0/16");
    assert.equal(r4[2001], "127.0.0.0/8");
    const r6 = routes6(k2, A).map((r) => r.destination);
    assert.deepEqual(r6.slice(0, 3), ["fe80::%epair0a/64", "fd00::/64", "2001:db8::/48"]); // /64s in insertion order, then the /48s
    assert.equal(r6.length, 2002);
    assert.equal(r6[r6.length - 1], "2001:db8:7cf::/48");
    assert.ok((A.accounting().items["rtnode"] ?? 0) >= 4000, "the routes' nodes are charged to A");
    A.destroy(); // throws a LeakError if anything of A's is left
    B.destroy();
    assert.equal(used(), base, "rtnode items back to what vnet0 holds");
    assert.equal(k2.accounting().zombies, 0);
    k2.shutdown();
  });
});
