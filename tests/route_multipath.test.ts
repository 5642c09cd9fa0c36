// Several paths for one prefix (FreeBSD ROUTE_MPATH; assembly/net/route_nhgrp.ts, docs/route.md
// "Several paths"). First the shared table alone, through bench_route, against a naive
// reference that keeps a list of paths per prefix: inserts, paths added and removed, whole
// prefixes deleted, lookups, and which path each flow hash picks. Then the families: route
// add/delete of paths, netstat -rn, net.route.multipath, one flow on one path (UDP, TCP,
// forwarded), flows spread over the paths and by weight, IPv6, and nothing left when the
// vnet goes.
import { test, describe, after } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { Kernel, type Vnet, type Interface } from "../host/index.js";
import { addAddress, addRoute, delRoute, routes, routeMultipath, setForwarding } from "../host/admin/inet.js";
import { addAddress6, addRoute6, delRoute6, routes6 } from "../host/admin/inet6.js";
import { socket } from "../host/sockets/socket.js";
import { sysctlSet } from "../host/admin/sysctl.js";
import { Commands } from "../host/shell/commands.js";
import type { VirtualClock } from "../host/index.js";

interface BenchRoute {
  rb_open(): number;
  rb_close(): number;
  rb_flush(): void;
  rb_count(): number;
  rb_items(): number;
  rb_vnet(): number;
  rb_insert2(a: number, b: number, c: number, d: number, plen: number, v: number): number;
  rb_append(a: number, b: number, c: number, d: number, plen: number, v: number, w: number, curw: number): number;
  rb_remove(a: number, b: number, c: number, d: number, plen: number, v: number): number;
  rb_delete(a: number, b: number, c: number, d: number, plen: number): number;
  rb_paths(a: number, b: number, c: number, d: number, plen: number): number;
  rb_path(i: number): number;
  rb_weight(i: number): number;
  rb_select(h: number): number;
}

const EEXIST = -17;
const ENOENT = -2;
const ENOSPC = -28;
const NHGRP_MAX = 32;

const words = (k: bigint): [number, number, number, number] =>
  [Number((k >> 96n) & 0xffffffffn), Number((k >> 64n) & 0xffffffffn), Number((k >> 32n) & 0xffffffffn), Number(k & 0xffffffffn)];
const mask = (k: bigint, plen: number): bigint => (plen === 0 ? 0n : (k >> BigInt(128 - plen)) << BigInt(128 - plen));

type Path = { v: number; w: number };
type Op =
  | { kind: "insert" | "append"; key: bigint; plen: number; w: number }
  | { kind: "remove"; key: bigint; plen: number; pick: number }
  | { kind: "delete" | "lookup"; key: bigint; plen: number }
  | { kind: "select"; key: bigint; plen: number; h: number };

/** Few prefixes (so paths pile up on them: 2 bases x 2 low bytes x 3 lengths, nested), long sequences. */
function ops(): fc.Arbitrary<Op[]> {
  const key = fc.tuple(fc.constantFrom(0x0a000000n, 0xc6336400n), fc.constantFrom(0, 0x80)).map(([b, r]) => (b | BigInt(r)) << 96n);
  const plen = fc.constantFrom(8, 24, 32);
  const w = fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 0xffffff }));
  return fc.array(
    fc.oneof(
      fc.record({ kind: fc.constant("insert" as const), key, plen, w }),
      fc.record({ kind: fc.constant("append" as const), key, plen, w }),
      fc.record({ kind: fc.constant("append" as const), key, plen, w }),
      fc.record({ kind: fc.constant("remove" as const), key, plen, pick: fc.nat(40) }),
      fc.record({ kind: fc.constant("delete" as const), key, plen }),
      fc.record({ kind: fc.constant("lookup" as const), key, plen }),
      fc.record({ kind: fc.constant("select" as const), key, plen, h: fc.nat(0xffffffff) }),
    ),
    { minLength: 40, maxLength: 200, size: "max" },
  );
}

/** The path of `paths` that hash h takes: h mod the sum of weights, then each path's share in order. */
function refSelect(paths: Path[], h: number): number {
  let x = h % paths.reduce((n, p) => n + p.w, 0);
  for (const p of paths) {
    if (x < p.w) return p.v;
    x -= p.w;
  }
  throw new Error("unreachable");
}

/** Runs ops on the table and on a Map of prefixes to lists of paths; every answer must agree. */
function check(rb: BenchRoute, list: Op[]): void {
  assert.equal(rb.rb_open(), 0);
  const ref = new Map<string, { key: bigint; plen: number; paths: Path[] }>();
  let next = 1;
  const agree = (id: string, key: bigint, plen: number, paths: Path[] | undefined) => {
    const n = rb.rb_paths(...words(key), plen);
    assert.equal(n, paths?.length ?? 0, `paths of ${id}`);
    if (!paths) return;
    assert.deepEqual(Array.from({ length: n }, (_, i) => rb.rb_path(i)), paths.map((p) => p.v), `paths of ${id}, in order`);
    if (n > 1) assert.deepEqual(Array.from({ length: n }, (_, i) => rb.rb_weight(i)), paths.map((p) => p.w), `weights of ${id}`);
  };
  for (const o of list) {
    const k = mask(o.key, o.plen);
    const id = `${k.toString(16)}/${o.plen}`;
    const e = ref.get(id);
    switch (o.kind) {
      case "insert": {
        const v = next++;
        assert.equal(rb.rb_insert2(...words(k), o.plen, v), e ? EEXIST : 0, `insert ${id}`);
        if (!e) ref.set(id, { key: k, plen: o.plen, paths: [{ v, w: o.w }] });
        break;
      }
      case "append": {
        const v = next++;
        const r = rb.rb_append(...words(k), o.plen, v, o.w, e?.paths[0].w ?? 1);
        assert.equal(r, !e ? ENOENT : e.paths.length >= NHGRP_MAX ? ENOSPC : 0, `append to ${id}`);
        if (r === 0) e!.paths.push({ v, w: o.w });
        break;
      }
      case "remove": {
        // A path of the prefix (pick within its list) or a value that is none of them.
        const v = e && o.pick < e.paths.length ? e.paths[o.pick].v : next + 1000;
        assert.equal(rb.rb_remove(...words(k), o.plen, v), e && o.pick < e.paths.length ? 0 : ENOENT, `remove ${v} of ${id}`);
        if (e && o.pick < e.paths.length) {
          e.paths.splice(o.pick, 1);
          if (e.paths.length === 0) ref.delete(id);
        }
        break;
      }
      case "delete": {
        const r = rb.rb_delete(...words(k), o.plen);
        if (!e) assert.equal(r, 0, `delete ${id}`);
        else if (e.paths.length === 1) assert.equal(r, e.paths[0].v << 1, `delete ${id}: its route`);
        else assert.equal(r & 1, 1, `delete ${id}: its group (tagged)`);
        ref.delete(id);
        break;
      }
      case "lookup": {
        let best: { plen: number; paths: Path[] } | undefined;
        for (const x of ref.values()) if (mask(o.key, x.plen) === x.key && (!best || x.plen > best.plen)) best = x;
        agree(`lookup ${o.key.toString(16)}`, o.key, 129, best?.paths);
        break;
      }
      case "select": {
        agree(id, k, o.plen, e?.paths);
        if (e) assert.equal(rb.rb_select(o.h), refSelect(e.paths, o.h), `hash ${o.h} on ${id}`);
        break;
      }
    }
    assert.equal(rb.rb_count(), ref.size, "prefixes");
  }
  for (const [id, e] of ref) agree(id, e.key, e.plen, e.paths);
  rb.rb_flush();
  assert.equal(rb.rb_close(), 0, "route table items (nodes, lookup arrays, next-hop groups) left in the vnet after a flush");
}

describe("next-hop groups in the route table (net/route.ts, net/route_nhgrp.ts) against a naive reference", async () => {
  const k = await Kernel.boot({ config: "BARE", seed: 1 });
  await k.kldload("bench_route");
  const rb = k.module<BenchRoute>("bench_route");
  after(() => k.shutdown());

  test("paths added and removed, prefixes deleted, lookups and hash picks agree; a flush leaves nothing", () => {
    fc.assert(fc.property(ops(), (list) => check(rb, list)), { numRuns: 300, seed: 7 });
  });

  test("hashes spread over the paths in proportion to their weights", () => {
    assert.equal(rb.rb_open(), 0);
    const a = 0x0a000000;
    assert.equal(rb.rb_insert2(a, 0, 0, 0, 104, 1), 0);
    assert.equal(rb.rb_append(a, 0, 0, 0, 104, 2, 1, 1), 0);
    assert.equal(rb.rb_append(a, 0, 0, 0, 104, 3, 2, 1), 0);
    assert.equal(rb.rb_paths(a, 0, 0, 0, 104), 3);
    const seen = new Map<number, number>();
    for (let h = 0; h < 4000; h++) seen.set(rb.rb_select(h), (seen.get(rb.rb_select(h)) ?? 0) + 1);
    assert.deepEqual([...seen.entries()].sort(), [[1, 1000], [2, 1000], [3, 2000]]);
    // A group of 32 is full.
    for (let v = 4; v <= NHGRP_MAX; v++) assert.equal(rb.rb_append(a, 0, 0, 0, 104, v, 1, 1), 0);
    assert.equal(rb.rb_append(a, 0, 0, 0, 104, 99, 1, 1), ENOSPC);
    assert.ok(rb.rb_items() > 0);
    rb.rb_flush();
    assert.equal(rb.rb_close(), 0);
  });

  test("net.route.multipath=0: a second path is refused with EEXIST; paths already there stay", () => {
    assert.equal(rb.rb_open(), 0);
    const a = 0x0a000000;
    assert.equal(rb.rb_insert2(a, 0, 0, 0, 104, 1), 0);
    assert.equal(rb.rb_append(a, 0, 0, 0, 104, 2, 1, 1), 0);
    assert.equal(k.k.net_route_multipath(rb.rb_vnet(), 0), 0);
    assert.equal(rb.rb_append(a, 0, 0, 0, 104, 3, 1, 1), EEXIST);
    assert.equal(rb.rb_paths(a, 0, 0, 0, 104), 2, "the two paths stay");
    assert.equal(k.k.net_route_multipath(rb.rb_vnet(), -1), 0);
    assert.equal(k.k.net_route_multipath(rb.rb_vnet(), 1), 1);
    assert.equal(rb.rb_append(a, 0, 0, 0, 104, 3, 1, 1), 0);
    rb.rb_flush();
    assert.equal(rb.rb_close(), 0);
  });
});

// ---------------------------------------------------------------------------------------
// The families.

/** A with two epairs to B: 203.0.113.1/30 - .2 and 203.0.113.5/30 - .6; B answers 198.51.100.0/24 on its lo0. */
async function twoPaths(k: Kernel, name: string): Promise<{ a: Vnet; b: Vnet; e0: Interface; e1: Interface; b0: Interface; b1: Interface }> {
  const a = k.createVnet(`${name}a`);
  const b = k.createVnet(`${name}b`);
  const [e0, b0] = k.epair(a, b);
  const [e1, b1] = k.epair(a, b);
  for (const i of [e0, b0, e1, b1]) i.setUp();
  addAddress(k, e0, "203.0.113.1/30");
  addAddress(k, b0, "203.0.113.2/30");
  addAddress(k, e1, "203.0.113.5/30");
  addAddress(k, b1, "203.0.113.6/30");
  for (let i = 1; i < 64; i++) addAddress(k, b.interfaces()[0], `198.51.100.${i}/32`);
  return { a, b, e0, e1, b0, b1 };
}

function sent(...ifs: Interface[]): () => number[] {
  const base = ifs.map((i) => i.counters().opackets);
  return () => ifs.map((i, n) => i.counters().opackets - base[n]);
}

const clock = (k: Kernel) => k.clock as VirtualClock;

describe("several paths in inet and inet6", async () => {
  const k = await Kernel.boot({ config: ["if_epair", "inet", "inet6", "udp", "tcp"], seed: 3 });
  after(() => k.shutdown());
  // Every route table zone, next-hop groups included.
  const items = () => k.vmstatZ().filter((z) => z.name === "rtnode" || z.name.startsWith("rtpop") || z.name === "nhgrp").reduce((n, z) => n + z.used, 0);

  test("route add twice via two gateways: two paths, each in netstat -rn; delete PREFIX GW removes one, the last goes with the prefix", async () => {
    const { a, b, e0, e1 } = await twoPaths(k, "add");
    addRoute(k, a, "198.51.100.0/24", { gateway: "203.0.113.2" });
    addRoute(k, a, "198.51.100.0/24", { gateway: "203.0.113.6", weight: 3 });
    const rows = routes(k, a).filter((r) => r.destination === "198.51.100.0/24");
    assert.deepEqual(rows.map((r) => [r.gateway, r.iface.name, r.flags]), [["203.0.113.2", e0.name, "UGS"], ["203.0.113.6", e1.name, "UGS"]]);
    assert.equal(k.vmstatZ().find((z) => z.name === "nhgrp")?.used, 1, "one group");
    // The same gateway again, an interface route, or no gateway on delete: refused.
    assert.throws(() => addRoute(k, a, "198.51.100.0/24", { gateway: "203.0.113.2" }), /already has a route to 198\.51\.100\.0\/24/);
    assert.throws(() => addRoute(k, a, "198.51.100.0/24", { iface: e1 }), /already has a route/);
    assert.throws(() => delRoute(k, a, "198.51.100.0/24"), /has several paths; name the gateway of the one to delete \(ESRCH\)/);
    assert.throws(() => delRoute(k, a, "198.51.100.0/24", "203.0.113.9"), /has no path via 203\.0\.113\.9 \(ESRCH\)/);
    assert.throws(() => addRoute(k, a, "198.51.100.0/24", { gateway: "203.0.113.6", weight: 0 }), /weight must be an integer from 1 to 16777215, got 0/);
    delRoute(k, a, "198.51.100.0/24", "203.0.113.2");
    assert.deepEqual(routes(k, a).filter((r) => r.destination === "198.51.100.0/24").map((r) => r.gateway), ["203.0.113.6"]);
    assert.equal(k.vmstatZ().find((z) => z.name === "nhgrp")?.used, 0, "one path left: no group");
    assert.throws(() => delRoute(k, a, "198.51.100.0/24", "203.0.113.2"), /no path via 203\.0\.113\.2/);
    delRoute(k, a, "198.51.100.0/24", "203.0.113.6"); // the last path: the prefix goes
    assert.equal(routes(k, a).filter((r) => r.destination === "198.51.100.0/24").length, 0);
    assert.throws(() => delRoute(k, a, "198.51.100.0/24"), /has no route to/);
    // Back to one path, then two again; delete PREFIX of a single path still works as before.
    addRoute(k, a, "198.51.100.0/24", { gateway: "203.0.113.2" });
    delRoute(k, a, "198.51.100.0/24");
    a.destroy();
    b.destroy();
  });

  test("the shell: route add ... -weight, netstat -rn shows each path, route delete DEST GATEWAY", async () => {
    const { a, b } = await twoPaths(k, "sh");
    const cmds = new Commands(k);
    const node = { name: "sha", vnet: a };
    await cmds.exec(node, "route add -net 198.51.100.0/24 203.0.113.2");
    assert.equal(await cmds.exec(node, "route add -net 198.51.100.0/24 203.0.113.6 -weight 2"), "add net 198.51.100.0/24: gateway 203.0.113.6");
    const rows = (await cmds.exec(node, "netstat -rn -f inet")).split("\n").filter((l) => l.startsWith("198.51.100.0/24"));
    assert.equal(rows.length, 2, rows.join("\n"));
    assert.match(rows[0], /203\.0\.113\.2 +UGS/);
    assert.match(rows[1], /203\.0\.113\.6 +UGS/);
    await assert.rejects(cmds.exec(node, "route delete 198.51.100.0/24"), /several paths; name the gateway/);
    await assert.rejects(cmds.exec(node, "route add 198.51.100.0/24 203.0.113.9 -weight 0"), /-weight needs an integer from 1 to 16777215/);
    assert.equal(await cmds.exec(node, "route delete 198.51.100.0/24 203.0.113.2"), "delete net 198.51.100.0/24: gateway 203.0.113.2");
    assert.equal((await cmds.exec(node, "sysctl net.route.multipath=0")), "net.route.multipath: 1 -> 0");
    await assert.rejects(cmds.exec(node, "route add 198.51.100.0/24 203.0.113.2"), /already has a route/);
    a.destroy();
    b.destroy();
  });

  test("net.route.multipath=0 refuses a second path (EEXIST), as before groups; =1 allows it again", async () => {
    const { a, b, e0, e1 } = await twoPaths(k, "knob");
    assert.equal(routeMultipath(k, a), true, "on by default");
    sysctlSet(k, a, "net.route.multipath", 0);
    assert.equal(routeMultipath(k, a), false);
    addRoute(k, a, "198.51.100.0/24", { gateway: "203.0.113.2" });
    assert.throws(() => addRoute(k, a, "198.51.100.0/24", { gateway: "203.0.113.6" }), /vnet "knoba" already has a route to 198\.51\.100\.0\/24/);
    addRoute6(k, a, "2001:db8::/32", { gateway: "fe80::1", iface: e0 });
    assert.throws(() => addRoute6(k, a, "2001:db8::/32", { gateway: "fe80::2", iface: e1 }), /already has a route to 2001:db8::\/32/);
    routeMultipath(k, a, true);
    addRoute(k, a, "198.51.100.0/24", { gateway: "203.0.113.6" });
    addRoute6(k, a, "2001:db8::/32", { gateway: "fe80::2", iface: e1 });
    assert.equal(routes(k, a).filter((r) => r.destination === "198.51.100.0/24").length, 2);
    assert.deepEqual(routes6(k, a).filter((r) => r.destination === "2001:db8::/32").map((r) => r.gateway), [`fe80::1%${e0.name}`, `fe80::2%${e1.name}`]);
    assert.equal(routeMultipath(k, b), true, "a knob per vnet");
    a.destroy();
    b.destroy();
  });

  test("one UDP flow keeps one path; 64 flows spread over both; weights 1:3 shift the share", async () => {
    const { a, b, e0, e1 } = await twoPaths(k, "udp");
    addRoute(k, a, "198.51.100.0/24", { gateway: "203.0.113.2" });
    addRoute(k, a, "198.51.100.0/24", { gateway: "203.0.113.6" });
    addRoute(k, b, "192.0.2.0/24", { gateway: "203.0.113.1" });
    const sink = socket(k, b, "inet", "dgram").bind("0.0.0.0", 9);
    // Resolve both gateways first, so the counts below are the datagrams alone.
    for (const s of [0, 1]) {
      const u = socket(k, a, "inet", "dgram");
      u.sendto("x", s === 0 ? "203.0.113.2" : "203.0.113.6", 9);
      clock(k).advance(10_000);
      u.close();
    }
    const one = socket(k, a, "inet", "dgram");
    let c = sent(e0, e1);
    for (let i = 0; i < 50; i++) one.sendto("same flow", "198.51.100.7", 9);
    const [x, y] = c();
    assert.equal(x + y, 50);
    assert.ok(x === 0 || y === 0, `one flow, one path: ${x} and ${y}`);
    one.close();
    c = sent(e0, e1);
    const flows = [];
    for (let i = 1; i <= 64; i++) {
      const s = socket(k, a, "inet", "dgram");
      s.sendto("flow", `198.51.100.${i % 63 + 1}`, 9);
      flows.push(s);
    }
    const [p, q] = c();
    assert.equal(p + q, 64);
    assert.ok(p >= 16 && q >= 16, `64 flows over two equal paths: ${p} and ${q}`);
    for (const s of flows) s.close();
    // Weights: 203.0.113.6 three times 203.0.113.2's share.
    delRoute(k, a, "198.51.100.0/24", "203.0.113.6");
    addRoute(k, a, "198.51.100.0/24", { gateway: "203.0.113.6", weight: 3 });
    c = sent(e0, e1);
    for (let i = 0; i < 400; i++) {
      const s = socket(k, a, "inet", "dgram");
      s.sendto("w", `198.51.100.${i % 63 + 1}`, 9);
      s.close();
    }
    const [w0, w1] = c();
    assert.equal(w0 + w1, 400);
    assert.ok(w1 > 2 * w0 && w1 < 4.5 * w0, `weights 1:3 give ${w0}:${w1}`);
    sink.close();
    a.destroy();
    b.destroy();
  });

  test("a TCP connection keeps one path for its life (every segment out of one epair)", async () => {
    const { a, b, e0, e1 } = await twoPaths(k, "tcp");
    addRoute(k, a, "198.51.100.0/24", { gateway: "203.0.113.2" });
    addRoute(k, a, "198.51.100.0/24", { gateway: "203.0.113.6" });
    const lsn = socket(k, b, "inet", "stream").bind("0.0.0.0", 80).listen(64);
    const used = new Set<number>();
    for (let n = 0; n < 12; n++) {
      const c = sent(e0, e1);
      const s = socket(k, a, "inet", "stream");
      s.connect(`198.51.100.${n + 1}`, 80);
      for (let i = 0; i < 200 && (s.info().state & 0x2) === 0; i++) clock(k).advance(1000);
      const srv = lsn.accept();
      assert.ok(srv, "accepted");
      for (let i = 0; i < 20; i++) {
        s.send("x".repeat(3000));
        clock(k).advance(1000);
        while (srv.recv()) { /* drain */ }
      }
      s.close();
      srv.close();
      clock(k).advance(200_000);
      const [x, y] = c();
      assert.ok(x + y > 20, `segments sent: ${x + y}`);
      // ARP for a gateway is the only other thing A may send, once per path.
      assert.ok(Math.min(x, y) <= 1, `connection ${n}: ${x} and ${y} packets out of the two paths`);
      used.add(x > y ? 0 : 1);
    }
    assert.equal(used.size, 2, "the 12 connections used both paths");
    lsn.close();
    clock(k).advance(120_000_000);
    a.destroy();
    b.destroy();
  });

  test("a router forwards by a hash of the packet's headers: a flow keeps one path, flows spread", async () => {
    // S -> R (two paths to 198.51.100.0/24 in B).
    const s = k.createVnet("fwds");
    const r = k.createVnet("fwdr");
    const b = k.createVnet("fwdb");
    const [sa, ra] = k.epair(s, r);
    const [r0, b0] = k.epair(r, b);
    const [r1, b1] = k.epair(r, b);
    for (const i of [sa, ra, r0, b0, r1, b1]) i.setUp();
    addAddress(k, sa, "192.0.2.2/24");
    addAddress(k, ra, "192.0.2.1/24");
    addAddress(k, r0, "203.0.113.1/30");
    addAddress(k, b0, "203.0.113.2/30");
    addAddress(k, r1, "203.0.113.5/30");
    addAddress(k, b1, "203.0.113.6/30");
    for (let i = 1; i < 64; i++) addAddress(k, b.interfaces()[0], `198.51.100.${i}/32`);
    setForwarding(k, r, true);
    addRoute(k, s, "default", { gateway: "192.0.2.1" });
    addRoute(k, r, "198.51.100.0/24", { gateway: "203.0.113.2" });
    addRoute(k, r, "198.51.100.0/24", { gateway: "203.0.113.6" });
    addRoute(k, b, "192.0.2.0/24", { gateway: "203.0.113.1" });
    const sink = socket(k, b, "inet", "dgram").bind("0.0.0.0", 9);
    const warm = socket(k, s, "inet", "dgram");
    for (let i = 1; i < 64; i++) warm.sendto("arp", `198.51.100.${i}`, 9);
    clock(k).advance(50_000);
    warm.close();
    const one = socket(k, s, "inet", "dgram");
    let c = sent(r0, r1);
    for (let i = 0; i < 40; i++) one.sendto("flow", "198.51.100.9", 9);
    const [x, y] = c();
    assert.equal(x + y, 40);
    assert.ok(x === 0 || y === 0, `one forwarded flow, one path: ${x} and ${y}`);
    one.close();
    c = sent(r0, r1);
    for (let i = 1; i < 64; i++) {
      const u = socket(k, s, "inet", "dgram");
      u.sendto("f", `198.51.100.${i}`, 9);
      u.close();
    }
    const [p, q] = c();
    assert.equal(p + q, 63);
    assert.ok(p >= 15 && q >= 15, `63 forwarded flows: ${p} and ${q}`);
    sink.close();
    for (const v of [s, r, b]) v.destroy();
  });

  test("IPv6: two paths, flows spread over both, a flow keeps one; delete by gateway", async () => {
    const a = k.createVnet("six-a");
    const b = k.createVnet("six-b");
    const [e0, b0] = k.epair(a, b);
    const [e1, b1] = k.epair(a, b);
    for (const i of [e0, b0, e1, b1]) i.setUp();
    addAddress6(k, e0, "fd00:0::1/64");
    addAddress6(k, b0, "fd00:0::2/64");
    addAddress6(k, e1, "fd00:1::1/64");
    addAddress6(k, b1, "fd00:1::2/64");
    for (let i = 1; i < 64; i++) addAddress6(k, b.interfaces()[0], `2001:db8::${i.toString(16)}/128`);
    addRoute6(k, a, "2001:db8::/64", { gateway: "fd00:0::2" });
    addRoute6(k, a, "2001:db8::/64", { gateway: "fd00:1::2" });
    assert.deepEqual(routes6(k, a).filter((r) => r.destination === "2001:db8::/64").map((r) => r.gateway), ["fd00::2", "fd00:1::2"]);
    assert.throws(() => addRoute6(k, a, "2001:db8::/64", { gateway: "fd00:1::2" }), /already has a route/);
    const sink = socket(k, b, "inet6", "dgram").bind("::", 9);
    for (const g of ["fd00:0::2", "fd00:1::2"]) {
      const u = socket(k, a, "inet6", "dgram");
      u.sendto("nd", g, 9);
      clock(k).advance(50_000);
      u.close();
    }
    const one = socket(k, a, "inet6", "dgram");
    let c = sent(e0, e1);
    for (let i = 0; i < 30; i++) one.sendto("flow", "2001:db8::5", 9);
    const [x, y] = c();
    assert.equal(x + y, 30);
    assert.ok(x === 0 || y === 0, `one flow, one path: ${x} and ${y}`);
    one.close();
    c = sent(e0, e1);
    for (let i = 1; i < 64; i++) {
      const u = socket(k, a, "inet6", "dgram");
      u.sendto("f", `2001:db8::${i.toString(16)}`, 9);
      u.close();
    }
    const [p, q] = c();
    assert.equal(p + q, 63);
    assert.ok(p >= 15 && q >= 15, `63 flows: ${p} and ${q}`);
    assert.throws(() => delRoute6(k, a, "2001:db8::/64"), /several paths/);
    delRoute6(k, a, "2001:db8::/64", "fd00:1::2");
    assert.deepEqual(routes6(k, a).filter((r) => r.destination === "2001:db8::/64").map((r) => r.gateway), ["fd00::2"]);
    addRoute6(k, a, "2001:db8::/64", { gateway: "fd00:1::2" }); // two again, left for the destroy
    sink.close();
    a.destroy();
    b.destroy();
  });

  test("a vnet destroyed with groups of paths (IPv4 and IPv6) leaves no route table item or group behind", async () => {
    const base = items();
    const { a, b } = await twoPaths(k, "leak");
    addAddress6(k, a.interfaces().find((i) => i.name.startsWith("epair"))!, "fd00:9::1/64");
    const e1 = a.interfaces().filter((i) => i.name.startsWith("epair"))[1];
    addAddress6(k, e1, "fd00:a::1/64");
    for (let i = 0; i < 200; i++) {
      addRoute(k, a, `10.${i}.0.0/16`, { gateway: "203.0.113.2" });
      addRoute(k, a, `10.${i}.0.0/16`, { gateway: "203.0.113.6", weight: 1 + (i % 5) });
      addRoute6(k, a, `2001:db8:${i.toString(16)}::/48`, { gateway: "fd00:9::2" });
      addRoute6(k, a, `2001:db8:${i.toString(16)}::/48`, { gateway: "fd00:a::2" });
    }
    assert.equal(a.accounting().items["nhgrp"], 400, "400 groups, charged to their vnet");
    a.destroy(); // throws a LeakError naming the zone if anything of A's is left
    b.destroy();
    assert.equal(items(), base, "route table items and groups back to what was there before");
  });
});
