// The shared route table (assembly/net/route.ts) against a naive longest-prefix reference,
// for IPv4-shaped keys (32 bits, /0-/32) and IPv6 keys (128 bits, /0-/128): random
// sequences of inserts, deletes (also of what is not there), re-inserts and lookups,
// drawn from a few base addresses so prefixes overlap and nest. The table is driven
// through bench_route (bench/kmod/), which holds one table charged to a vnet of its own.
// Lookups are answered by the multibit trie built beside the binary one (net/route_pop.ts):
// larger nested tables check it around every prefix's edges, and a vnet budget too small
// for the table checks the -ENOMEM paths (an insert fails whole; a delete never fails, and
// lookups fall back to the binary trie until the multibit one can be rebuilt).
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
  rb_items(): number;
  rb_degraded(): number;
  rb_budget(mib: number): number;
  rb_insert(a: number, b: number, c: number, d: number, plen: number, v: number): number;
  rb_delete(a: number, b: number, c: number, d: number, plen: number): number;
  rb_lookup(a: number, b: number, c: number, d: number): number;
  rb_find(a: number, b: number, c: number, d: number, plen: number): number;
  rb_key(i: number, a: number, b: number, c: number, d: number): void;
  rb_lookup_batch(n: number): void;
  rb_result(i: number): number;
}

const EEXIST = -17;
const ENOMEM = -12;

/** A seeded generator (mulberry32): the same tables every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A naive longest-prefix reference: one Map per prefix length. */
class RefTable {
  byLen: Map<bigint, number>[];
  constructor(readonly bits: number) {
    this.byLen = Array.from({ length: bits + 1 }, () => new Map());
  }
  get size(): number {
    return this.byLen.reduce((n, m) => n + m.size, 0);
  }
  lookup(k: bigint): number {
    for (let l = this.bits; l >= 0; l--) {
      const v = this.byLen[l].get(mask(k, 128 - this.bits + l));
      if (v !== undefined) return v;
    }
    return 0;
  }
}

/** Random prefixes of `bits`-bit keys nested under a few bases, every length 0..bits. */
function prefixes(rnd: () => number, bits: 32 | 128, n: number): { key: bigint; plen: number }[] {
  const word = () => BigInt(Math.floor(rnd() * 2 ** 32));
  const rand = () => (bits === 32 ? word() << 96n : (word() << 96n) | (word() << 64n) | (word() << 32n) | word());
  const bases = Array.from({ length: 6 }, rand);
  const out = [];
  for (let i = 0; i < n; i++) {
    const plen = Math.floor(rnd() * (bits + 1));
    // Most share the top bits of a base (they nest and overlap), some are anywhere.
    const keep = rnd() < 0.9 ? Math.floor(rnd() * Math.min(plen + 1, bits === 32 ? 28 : 60)) : 0;
    const b = bases[Math.floor(rnd() * bases.length)];
    const k = mask(b, keep) | (rand() & ~mask((1n << 128n) - 1n, keep));
    out.push({ key: mask(k, 128 - bits + plen), plen: 128 - bits + plen });
  }
  return out;
}

/** Addresses at and around each prefix's edges, and random ones. */
function probes(rnd: () => number, list: { key: bigint; plen: number }[], bits: 32 | 128): bigint[] {
  const top = (1n << 128n) - 1n;
  const unit = 1n << BigInt(128 - bits);
  const out: bigint[] = [];
  for (const { key, plen } of list) {
    const span = plen === 0 ? top + 1n : 1n << BigInt(128 - plen);
    for (const a of [key, key + span - unit, key - unit, key + span]) if (a >= 0n && a <= top) out.push(a & ~(unit - 1n));
    out.push(key | (BigInt(Math.floor(rnd() * 2 ** 32)) * unit & (span - 1n)));
  }
  return out;
}

/** A 128-bit key as a bigint; IPv4 keys are the address in the top 32 bits. */
const words = (k: bigint): [number, number, number, number] =>
  [Number((k >> 96n) & 0xffffffffn), Number((k >> 64n) & 0xffffffffn), Number((k >> 32n) & 0xffffffffn), Number(k & 0xffffffffn)];
const mask = (k: bigint, plen: number): bigint => (plen === 0 ? 0n : (k >> BigInt(128 - plen)) << BigInt(128 - plen));

/**
 * The answers of rtable_lookup_n (through bench_route's 256-key batch) for addrs, in calls
 * of uneven sizes so groups of 32 lanes end part-full and single keys pass too.
 */
function lookupBatch(rb: BenchRoute, addrs: bigint[]): number[] {
  const sizes = [256, 37, 1, 16, 17, 255];
  const out: number[] = [];
  for (let i = 0, c = 0; i < addrs.length; c++) {
    const part = addrs.slice(i, i + sizes[c % sizes.length]);
    part.forEach((a, j) => rb.rb_key(j, ...words(a)));
    rb.rb_lookup_batch(part.length);
    part.forEach((_, j) => out.push(rb.rb_result(j)));
    i += part.length;
  }
  return out;
}

/** Batched lookups of addrs answer as single ones and as the reference. */
function sameBatched(rb: BenchRoute, addrs: bigint[], ref: (a: bigint) => number, what: string): void {
  const got = lookupBatch(rb, addrs);
  addrs.forEach((a, i) => assert.equal(got[i], ref(a), `${what}: batched lookup ${a.toString(16)} (key ${i})`));
}

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
  const naive = (a: bigint) => {
    let best: { plen: number; v: number } | undefined;
    for (const e of ref.values()) if (mask(a, e.plen) === e.key && (!best || e.plen > best.plen)) best = e;
    return best?.v ?? 0;
  };
  sameBatched(rb, list.map((o) => o.key), naive, "end of sequence");
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

  for (const bits of [32, 128] as const) {
    test(`${bits}-bit keys: nested tables of 3,000 prefixes, half deleted, answer at every prefix's edges as the reference`, () => {
      const rnd = prng(bits);
      assert.equal(rb.rb_open(), 0);
      const ref = new RefTable(bits);
      const all = prefixes(rnd, bits, 3000);
      let v = 1;
      const live: { key: bigint; plen: number; v: number }[] = [];
      for (const p of all) {
        const m = ref.byLen[p.plen - (128 - bits)];
        const r = rb.rb_insert(...words(p.key), p.plen, v);
        assert.equal(r, m.has(p.key) ? EEXIST : 0);
        if (r === 0) {
          m.set(p.key, v);
          live.push({ ...p, v });
        }
        v++;
      }
      const sweep = (what: string) => {
        const addrs = probes(rnd, all, bits);
        for (const a of addrs) assert.equal(rb.rb_lookup(...words(a)), ref.lookup(a), `${what}: lookup ${a.toString(16)}`);
        sameBatched(rb, addrs, (a) => ref.lookup(a), what);
      };
      sweep("full");
      // Delete half, in random order (short prefixes too: their leaves are rewritten below them).
      for (let i = live.length - 1; i > 0; i--) {
        const j = Math.floor(rnd() * (i + 1));
        [live[i], live[j]] = [live[j], live[i]];
      }
      const gone = live.splice(0, live.length >> 1);
      for (const p of gone) {
        assert.equal(rb.rb_delete(...words(p.key), p.plen), p.v);
        ref.byLen[p.plen - (128 - bits)].delete(p.key);
      }
      sweep("half deleted");
      // Put a third of them back with new routes.
      for (const p of gone.slice(0, gone.length / 3)) {
        assert.equal(rb.rb_insert(...words(p.key), p.plen, v), 0);
        ref.byLen[p.plen - (128 - bits)].set(p.key, v++);
      }
      sweep("re-inserted");
      assert.equal(rb.rb_count(), ref.size);
      assert.equal(rb.rb_degraded(), 0, "the lookup trie answered throughout");
      rb.rb_flush();
      assert.equal(rb.rb_items(), 0, "a flush frees every node, array and the head");
      assert.equal(rb.rb_close(), 0);
    });
  }

  test("out of memory: an insert fails whole, deletes never fail, lookups stay right through the fallback, nothing leaks", () => {
    const rnd = prng(12);
    assert.equal(rb.rb_open(), 0);
    assert.equal(rb.rb_budget(1), 0); // 1 MiB for the vnet: some thousands of routes
    const ref = new RefTable(32);
    const live: { key: bigint; plen: number; v: number }[] = [];
    let refused = 0;
    let v = 1;
    for (const p of prefixes(rnd, 32, 25000)) {
      const m = ref.byLen[p.plen - 96];
      const r = rb.rb_insert(...words(p.key), p.plen, v);
      if (m.has(p.key)) assert.equal(r, EEXIST);
      else if (r === ENOMEM) refused++;
      else {
        assert.equal(r, 0);
        m.set(p.key, v);
        live.push({ ...p, v });
      }
      v++;
      assert.equal(rb.rb_count(), ref.size, "a refused insert leaves no route behind");
    }
    assert.ok(refused > 1000, `${refused} inserts refused for lack of memory (${live.length} in)`);
    const check = (what: string, n: number) => {
      const addrs = probes(rnd, live.slice(0, n), 32);
      for (const a of addrs) assert.equal(rb.rb_lookup(...words(a)), ref.lookup(a), `${what}: lookup ${a.toString(16)}`);
      sameBatched(rb, addrs, (a) => ref.lookup(a), what); // dropped: the binary trie answers each key
    };
    check("full", 3000);
    // Deletes at the budget's edge: some cannot rebuild the lookup trie and drop it.
    let degraded = 0;
    let atDrop = 0;
    while (live.length > 0) {
      const p = live.splice(Math.floor(rnd() * live.length), 1)[0];
      assert.equal(rb.rb_delete(...words(p.key), p.plen), p.v, "a delete never fails");
      ref.byLen[p.plen - 96].delete(p.key);
      if (rb.rb_degraded() !== 0) {
        degraded++;
        atDrop = rb.rb_count();
        check("lookup trie dropped", 3000);
        break;
      }
    }
    assert.equal(degraded, 1, "a delete at the budget's edge dropped the lookup trie");
    // With memory again, the lookup trie comes back after some changes.
    assert.equal(rb.rb_budget(0), 0);
    let changes = 0;
    while (rb.rb_degraded() !== 0) {
      const p = live.pop()!;
      assert.equal(rb.rb_delete(...words(p.key), p.plen), p.v);
      ref.byLen[p.plen - 96].delete(p.key);
      changes++;
    }
    assert.ok(changes <= Math.max(64, atDrop / 8), `rebuilt after ${changes} changes (${atDrop} routes when dropped)`);
    check("rebuilt", 3000);
    for (const p of live) assert.equal(rb.rb_delete(...words(p.key), p.plen), p.v);
    assert.equal(rb.rb_count(), 0);
    assert.equal(rb.rb_items(), 0, "an emptied table holds nothing (no flush)");
    assert.equal(rb.rb_close(), 0);
  });

  test("a shorter prefix added over a populated stride answers inside it, and not after its delete", () => {
    assert.equal(rb.rb_open(), 0);
    // Two /26s make a node for 10.0.0.0/24's last stride; the /20 and /0 above it must reach its leaves.
    assert.equal(rb.rb_insert(0x0a000000, 0, 0, 0, 26, 1), 0);
    assert.equal(rb.rb_insert(0x0a000040, 0, 0, 0, 26, 2), 0);
    assert.equal(rb.rb_lookup(0x0a0000c8, 0, 0, 0), 0);
    assert.equal(rb.rb_insert(0x0a000000, 0, 0, 0, 20, 3), 0);
    assert.equal(rb.rb_lookup(0x0a0000c8, 0, 0, 0), 3, "10.0.0.200 is in the /20");
    assert.equal(rb.rb_lookup(0x0a000041, 0, 0, 0), 2);
    assert.equal(rb.rb_insert(0, 0, 0, 0, 0, 4), 0);
    assert.equal(rb.rb_delete(0x0a000000, 0, 0, 0, 20), 3);
    assert.equal(rb.rb_lookup(0x0a0000c8, 0, 0, 0), 4, "back to the default route");
    // The same in IPv6's key space, below 2001:db8::/32.
    assert.equal(rb.rb_insert(0x20010db8, 0, 0, 0, 80, 5), 0);
    assert.equal(rb.rb_insert(0x20010db8, 0x8000, 0, 0, 80, 6), 0);
    assert.equal(rb.rb_insert(0x20010db8, 0, 0, 0, 32, 7), 0);
    assert.equal(rb.rb_lookup(0x20010db8, 0xc000, 0, 1), 7);
    assert.equal(rb.rb_delete(0x20010db8, 0, 0, 0, 32), 7);
    assert.equal(rb.rb_lookup(0x20010db8, 0xc000, 0, 1), 4);
    rb.rb_flush();
    assert.equal(rb.rb_close(), 0);
  });

  test("the default route and host routes at both ends of the key", () => {
    assert.equal(rb.rb_open(), 0);
    assert.equal(rb.rb_lookup(0x0a000001, 0, 0, 0), 0, "empty table");
    sameBatched(rb, [0x0a000001n << 96n, 0n], () => 0, "empty table");
    assert.equal(rb.rb_insert(0, 0, 0, 0, 0, 1), 0);
    assert.equal(rb.rb_insert(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 128, 2), 0);
    assert.equal(rb.rb_insert(0, 0, 0, 0, 128, 3), 0);
    assert.equal(rb.rb_lookup(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff), 2);
    assert.equal(rb.rb_lookup(0xffffffff, 0xffffffff, 0xffffffff, 0xfffffffe), 1);
    assert.equal(rb.rb_lookup(0, 0, 0, 0), 3);
    assert.equal(rb.rb_lookup(0, 0, 0, 1), 1);
    const top = (1n << 128n) - 1n;
    sameBatched(rb, [top, top - 1n, 0n, 1n], (a) => (a === top ? 2 : a === 0n ? 3 : 1), "both ends");
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

  test("a vnet destroyed with many IPv4 and IPv6 routes leaves no route table item behind", async () => {
    const k2 = await Kernel.boot({ config: ["if_epair", "inet", "inet6"], seed: 2 });
    // Every route table zone: binary trie nodes (rtnode), lookup trie arrays and heads (rtpop*).
    const used = () => k2.vmstatZ().filter((z) => z.name === "rtnode" || z.name.startsWith("rtpop")).reduce((n, z) => n + z.used, 0);
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
    assert.equal(used(), base, "route table items back to what vnet0 holds");
    assert.equal(k2.accounting().zombies, 0);
    k2.shutdown();
  });
});
