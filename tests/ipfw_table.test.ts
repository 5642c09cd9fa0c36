// ipfw lookup tables in the kernel (assembly/netpfil/ipfw/ip_fw_table.ts, docs/ipfw.md
// "Tables"): table(N) in rules over real packets of both families, longest-prefix match,
// table(N,value), the per-table and per-vnet bounds, errors that name what is wrong, and
// teardown (table destroy, vnet destroy, kldunload) that leaves nothing.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import type { Vnet } from "../host/index.js";
import {
  ipfwAdd, ipfwDelete, ipfwGauges, ipfwSet, ipfwSetDefault, ipfwTableAdd, ipfwTableCreate, ipfwTableDelete, ipfwTableDestroy,
  ipfwTableFlush, ipfwTableInfo, ipfwTableList, ipfwTableLookup, ipfwTables, IpfwTableError, IpfwRuleError,
} from "../host/admin/ipfw.js";
import { ConfigError, Errno } from "../host/lib/errors.js";
import { M, A_, I, rule, lab, pingOk } from "./helpers/ipfw.js";

/** table(N,value): the lookup instruction with its value operand. */
const srcLookupValue = (t: number, v: number) => [I(10, 2, t), v];
const dstLookupValue = (t: number, v: number) => [I(11, 2, t), v];

const items = (v: Vnet) => Object.entries(v.accounting().items).filter(([n]) => n.startsWith("ipfw_t"));

function errno(f: () => unknown, e: number, re: RegExp): void {
  assert.throws(f, (x: unknown) => {
    assert.ok(x instanceof IpfwTableError, `an IpfwTableError, got ${String(x)}`);
    assert.equal(x.errno, e);
    assert.match(x.message, re);
    return true;
  });
}

describe("ipfw tables: matching", () => {
  test("src table(1) denies both families of A's prefixes and lets C through", async () => {
    const l = await lab();
    ipfwTableCreate(l.k, l.B, 1);
    ipfwTableAdd(l.k, l.B, 1, "10.0.0.0/24");
    ipfwTableAdd(l.k, l.B, 1, "fd00:0::/64");
    ipfwAdd(l.k, l.B, rule(100, [M.srcLookup(1)], [A_.deny]));
    assert.equal(await pingOk(l.k, l.A, "10.0.0.2"), false, "IPv4 from A");
    assert.equal(await pingOk(l.k, l.A, "fd00:0::2"), false, "IPv6 from A");
    assert.equal(await pingOk(l.k, l.C, "10.0.1.2"), true, "IPv4 from C");
    assert.equal(await pingOk(l.k, l.C, "fd00:1::2"), true, "IPv6 from C");
    // Entries change what the same rule does, at once.
    ipfwTableDelete(l.k, l.B, 1, "10.0.0.0/24");
    assert.equal(await pingOk(l.k, l.A, "10.0.0.2"), true, "IPv4 from A once its prefix is gone");
    assert.equal(await pingOk(l.k, l.A, "fd00:0::2"), false, "IPv6 from A still");
    l.k.shutdown();
  });

  test("dst table(2) on a default-deny firewall allows exactly the destinations it holds", async () => {
    const l = await lab();
    ipfwSetDefault(l.k, l.B, false);
    ipfwTableCreate(l.k, l.B, 2);
    ipfwTableAdd(l.k, l.B, 2, "10.0.0.2"); // B's address on A's link: the request in
    ipfwTableAdd(l.k, l.B, 2, "10.0.0.1"); // and the reply out
    ipfwTableAdd(l.k, l.B, 2, "fd00:1::/64");
    ipfwTableAdd(l.k, l.B, 2, "ff02::/16"); // neighbour discovery's multicast
    ipfwAdd(l.k, l.B, rule(100, [M.dstLookup(2)], [A_.accept]));
    assert.equal(await pingOk(l.k, l.A, "10.0.0.2"), true, "IPv4 A -> B");
    assert.equal(await pingOk(l.k, l.C, "10.0.1.2"), false, "IPv4 C -> B: not in the table");
    assert.equal(await pingOk(l.k, l.C, "fd00:1::2"), true, "IPv6 C -> B (and back: fd00:1::1 is in the /64)");
    assert.equal(await pingOk(l.k, l.A, "fd00:0::2"), false, "IPv6 A -> B: not in the table");
    l.k.shutdown();
  });

  test("longest prefix wins, and table(N,value) matches only that entry's value (IPv4 and IPv6)", async () => {
    const l = await lab();
    ipfwTableCreate(l.k, l.B, 3);
    ipfwTableAdd(l.k, l.B, 3, "10.0.0.0/8", 1);
    ipfwTableAdd(l.k, l.B, 3, "10.0.0.0/24", 2);
    ipfwTableAdd(l.k, l.B, 3, "10.0.0.1/32", 3);
    ipfwTableAdd(l.k, l.B, 3, "fd00::/16", 1);
    ipfwTableAdd(l.k, l.B, 3, "fd00:0::/64", 2);
    ipfwTableAdd(l.k, l.B, 3, "fd00:0::1/128", 3);
    const v = (a: string) => ipfwTableLookup(l.k, l.B, 3, a)?.value;
    assert.deepEqual([v("10.0.0.1"), v("10.0.0.7"), v("10.200.0.1"), v("11.0.0.1")], [3, 2, 1, undefined]);
    assert.deepEqual([v("fd00:0::1"), v("fd00:0::7"), v("fd00:9::1"), v("fe80::1")], [3, 2, 1, undefined]);
    assert.deepEqual(ipfwTableLookup(l.k, l.B, 3, "10.0.0.9"), { family: 4, address: "10.0.0.0", prefixLength: 24, value: 2 });
    // On the packet path (in: B's own replies from 10.0.0.2 fall in the /24): A is 10.0.0.1
    // (value 3), so table(3,2) does not match it ...
    ipfwAdd(l.k, l.B, rule(100, [srcLookupValue(3, 2), M.in()], [A_.deny]));
    assert.equal(await pingOk(l.k, l.A, "10.0.0.2"), true, "the /32 (value 3) is the longest");
    assert.equal(await pingOk(l.k, l.A, "fd00:0::2"), true, "the /128 (value 3) is the longest");
    // ... until the /32 goes: then the /24 (value 2) is A's longest prefix.
    ipfwTableDelete(l.k, l.B, 3, "10.0.0.1/32");
    ipfwTableDelete(l.k, l.B, 3, "fd00:0::1/128");
    assert.equal(await pingOk(l.k, l.A, "10.0.0.2"), false, "the /24 (value 2) now");
    assert.equal(await pingOk(l.k, l.A, "fd00:0::2"), false, "the /64 (value 2) now");
    // table(3,1): C's 10.0.1.1 falls in the /8 only.
    ipfwDelete(l.k, l.B, 100);
    ipfwAdd(l.k, l.B, rule(100, [dstLookupValue(3, 1)], [A_.deny]));
    assert.equal(await pingOk(l.k, l.C, "10.0.1.2"), false, "10.0.1.2 and 10.0.1.1 match the /8, value 1");
    assert.equal(await pingOk(l.k, l.A, "10.0.0.2"), true, "10.0.0.2 and 10.0.0.1 match the /24, value 2");
    l.k.shutdown();
  });

  test("a rule naming a missing table creates it (FreeBSD); an empty table matches nothing", async () => {
    const l = await lab();
    ipfwAdd(l.k, l.B, rule(100, [M.srcLookup(7)], [A_.deny]));
    assert.deepEqual(ipfwTables(l.k, l.B), [7]);
    assert.deepEqual(ipfwTableInfo(l.k, l.B, 7), { table: 7, entries: 0, limit: 0, references: 1 });
    assert.equal(await pingOk(l.k, l.A, "10.0.0.2"), true);
    l.k.shutdown();
  });

  test("20,000 tables (tables_max raised): all listed in numeric order, then all destroyed", async () => {
    const l = await lab();
    ipfwSet(l.k, l.B, "tables_max", 65536);
    const nums = Array.from({ length: 20000 }, (_, i) => (i * 7919) % 65536);
    for (const n of nums) ipfwTableCreate(l.k, l.B, n);
    const listed = ipfwTables(l.k, l.B);
    assert.equal(listed.length, 20000);
    assert.deepEqual(listed, [...nums].sort((a, b) => a - b));
    for (const n of nums) ipfwTableDestroy(l.k, l.B, n);
    assert.deepEqual(ipfwTables(l.k, l.B), []);
    assert.deepEqual(items(l.B), []);
    l.k.shutdown();
  });

  test("tables belong to their vnet: the same number in another vnet is another table", async () => {
    const l = await lab();
    ipfwTableCreate(l.k, l.B, 1);
    ipfwTableAdd(l.k, l.B, 1, "10.0.0.0/24");
    assert.deepEqual(ipfwTables(l.k, l.C), []);
    ipfwTableCreate(l.k, l.C, 1);
    assert.equal(ipfwTableLookup(l.k, l.C, 1, "10.0.0.1"), undefined);
    assert.equal(ipfwTableLookup(l.k, l.B, 1, "10.0.0.1")?.prefixLength, 24);
    l.k.shutdown();
  });

  test("5,000 entries over both families (the hash grows to 8 pages): each found, then all deleted and the pages given back", async () => {
    const l = await lab();
    l.k.reclaim();
    const pages0 = l.B.accounting().pages;
    ipfwTableCreate(l.k, l.B, 1);
    for (let i = 0; i < 2500; i++) {
      ipfwTableAdd(l.k, l.B, 1, `10.${i >> 8}.${i & 255}.0/24`, i);
      ipfwTableAdd(l.k, l.B, 1, `fd00:${i.toString(16)}::/48`, 100000 + i);
    }
    assert.equal(ipfwGauges(l.k, l.B).tableEntries, 5000);
    assert.equal(ipfwGauges(l.k, l.B).tableHashPages, 8, "5,000 entries outnumber 4 pages' 4,096 chains");
    for (let i = 0; i < 2500; i += 7) {
      assert.equal(ipfwTableLookup(l.k, l.B, 1, `10.${i >> 8}.${i & 255}.9`)?.value, i);
      assert.equal(ipfwTableLookup(l.k, l.B, 1, `fd00:${i.toString(16)}::9`)?.value, 100000 + i);
    }
    assert.equal(ipfwTableList(l.k, l.B, 1).length, 5000);
    for (let i = 0; i < 2500; i++) {
      assert.equal(ipfwTableDelete(l.k, l.B, 1, `10.${i >> 8}.${i & 255}.0/24`), i);
      ipfwTableDelete(l.k, l.B, 1, `fd00:${i.toString(16)}::/48`);
    }
    assert.equal(ipfwTableInfo(l.k, l.B, 1).entries, 0);
    assert.equal(ipfwGauges(l.k, l.B).tableHashPages, 0, "the hash goes with the last entry");
    ipfwTableDestroy(l.k, l.B, 1);
    l.k.reclaim();
    assert.deepEqual(items(l.B), []);
    assert.equal(l.B.accounting().pages, pages0, "directory and hash pages back");
    l.k.shutdown();
  });

  test("list: IPv4 first, in address order, then by length; values kept; flush empties", async () => {
    const l = await lab();
    ipfwTableCreate(l.k, l.B, 1);
    for (const [p, v] of [["fd00::/16", 4], ["10.1.0.0/16", 2], ["10.0.0.0/8", 1], ["10.0.0.0/24", 3], ["10.1.2.3/16", 9]] as const) {
      try {
        ipfwTableAdd(l.k, l.B, 1, p, v);
      } catch (e) {
        assert.equal((e as IpfwTableError).errno, Errno.EEXIST, "10.1.2.3/16 is 10.1.0.0/16 masked");
      }
    }
    assert.deepEqual(ipfwTableList(l.k, l.B, 1).map((e) => `${e.address}/${e.prefixLength} ${e.value}`), [
      "10.0.0.0/8 1", "10.0.0.0/24 3", "10.1.0.0/16 2", "fd00::/16 4",
    ]);
    assert.equal(ipfwTableAdd(l.k, l.B, 1, "10.1.2.3/16", 9, { update: true }), "updated");
    assert.equal(ipfwTableLookup(l.k, l.B, 1, "10.1.9.9")?.value, 9);
    assert.equal(ipfwTableFlush(l.k, l.B, 1), 4);
    assert.deepEqual(ipfwTableList(l.k, l.B, 1), []);
    l.k.shutdown();
  });
});

describe("ipfw tables: bounds and errors", () => {
  test("a table's limit: EFBIG past it, naming the table and the limit", async () => {
    const l = await lab();
    ipfwTableCreate(l.k, l.B, 1, { limit: 2 });
    ipfwTableAdd(l.k, l.B, 1, "10.0.0.1");
    ipfwTableAdd(l.k, l.B, 1, "10.0.0.2");
    errno(() => ipfwTableAdd(l.k, l.B, 1, "10.0.0.3"), Errno.EFBIG, /table 1 is at its limit \(2 entries\)/);
    assert.equal(ipfwTableInfo(l.k, l.B, 1).entries, 2);
    l.k.shutdown();
  });

  test("table_entries_max bounds a vnet over all its tables (ENOSPC); other vnets are not touched", async () => {
    const l = await lab();
    ipfwSet(l.k, l.B, "table_entries_max", 3);
    ipfwTableCreate(l.k, l.B, 1);
    ipfwTableCreate(l.k, l.B, 2);
    ipfwTableAdd(l.k, l.B, 1, "10.0.0.1");
    ipfwTableAdd(l.k, l.B, 2, "10.0.0.2");
    ipfwTableAdd(l.k, l.B, 2, "::1");
    errno(() => ipfwTableAdd(l.k, l.B, 1, "10.0.0.4"), Errno.ENOSPC, /vnet B holds table_entries_max \(3\) table entries already/);
    ipfwTableCreate(l.k, l.C, 1);
    for (let i = 0; i < 10; i++) ipfwTableAdd(l.k, l.C, 1, `10.0.0.${i}`);
    ipfwTableDelete(l.k, l.B, 2, "::1");
    ipfwTableAdd(l.k, l.B, 1, "10.0.0.4");
    l.k.shutdown();
  });

  test("tables_max bounds the tables of a vnet (ENOSPC); a rule naming new tables past it is refused and creates none", async () => {
    const l = await lab();
    ipfwSet(l.k, l.B, "tables_max", 2);
    ipfwTableCreate(l.k, l.B, 1);
    errno(() => {
      ipfwTableCreate(l.k, l.B, 2);
      ipfwTableCreate(l.k, l.B, 3);
    }, Errno.ENOSPC, /vnet B has tables_max \(2\) tables already/);
    ipfwTableDestroy(l.k, l.B, 2);
    // table(5) could be made, table(6) not: the rule is refused and table 5 goes again.
    assert.throws(() => ipfwAdd(l.k, l.B, rule(100, [M.srcLookup(5), M.dstLookup(6)], [A_.deny])), /ENOSPC/);
    assert.deepEqual(ipfwTables(l.k, l.B), [1]);
    assert.equal(ipfwGauges(l.k, l.B).rules, 0);
    l.k.shutdown();
  });

  test("the kernel takes a lookup of 1 word or 2 (the value) and refuses any other length", async () => {
    const l = await lab();
    ipfwAdd(l.k, l.B, rule(100, [M.srcLookup(1)], [A_.deny]));
    ipfwAdd(l.k, l.B, rule(200, [srcLookupValue(1, 9)], [A_.deny]));
    for (const bad of [[I(10, 3, 1), 9, 9], [I(11, 4, 1), 1, 2, 3]]) {
      assert.throws(() => ipfwAdd(l.k, l.B, rule(300, [bad], [A_.deny])), (e: unknown) => {
        assert.ok(e instanceof IpfwRuleError, String(e));
        assert.equal(e.reason, 7, e.message); // R_OPLEN
        assert.match(e.message, /wrong length for the opcode/);
        return true;
      });
    }
    assert.deepEqual(ipfwTables(l.k, l.B), [1], "a refused rule made no table");
    l.k.shutdown();
  });

  test("errors name the table and what is wrong", async () => {
    const l = await lab();
    ipfwTableCreate(l.k, l.B, 1);
    errno(() => ipfwTableCreate(l.k, l.B, 1), Errno.EEXIST, /ipfw table 1 create: table 1 already exists/);
    errno(() => ipfwTableDestroy(l.k, l.B, 2), Errno.ESRCH, /ipfw table 2 destroy: no table 2 in vnet B/);
    errno(() => ipfwTableAdd(l.k, l.B, 3, "10.0.0.0/8"), Errno.ESRCH, /no table 3 in vnet B/);
    errno(() => ipfwTableDelete(l.k, l.B, 1, "10.0.0.0/8"), Errno.ENOENT, /table 1 has no entry 10.0.0.0\/8/);
    ipfwTableAdd(l.k, l.B, 1, "10.0.0.0/8");
    errno(() => ipfwTableAdd(l.k, l.B, 1, "10.0.0.0/8"), Errno.EEXIST, /table 1 already holds 10.0.0.0\/8/);
    errno(() => ipfwTableFlush(l.k, l.B, 4), Errno.ESRCH, /no table 4/);
    errno(() => ipfwTableList(l.k, l.B, 4), Errno.ESRCH, /no table 4/);
    errno(() => ipfwTableLookup(l.k, l.B, 4, "10.0.0.1"), Errno.ESRCH, /no table 4/);
    assert.throws(() => ipfwTableAdd(l.k, l.B, 1, "10.0.0.0/33"), (e: unknown) => e instanceof ConfigError && /bad IPv4 mask width in "10.0.0.0\/33": expected 0..32/.test(e.message));
    assert.throws(() => ipfwTableAdd(l.k, l.B, 1, "fd00::/129"), /bad IPv6 mask width in "fd00::\/129": expected 0..128/);
    assert.throws(() => ipfwTableAdd(l.k, l.B, 1, "10.0.0"), ConfigError);
    assert.throws(() => ipfwTableAdd(l.k, l.B, 65536, "10.0.0.0/8"), /table number/);
    assert.throws(() => ipfwTableAdd(l.k, l.B, 1, "10.0.0.0/8", -1), /value/);
    // A table a rule names stays until the rule goes.
    ipfwAdd(l.k, l.B, rule(100, [M.dstLookup(1)], [A_.deny]));
    errno(() => ipfwTableDestroy(l.k, l.B, 1), Errno.EBUSY, /rules of vnet B name table\(1\); delete them first/);
    ipfwDelete(l.k, l.B, 100);
    ipfwTableDestroy(l.k, l.B, 1);
    assert.deepEqual(ipfwTables(l.k, l.B), []);
    l.k.shutdown();
  });
});

describe("ipfw tables: teardown", () => {
  test("vnet destroy with tables, entries and rules naming them: zero items, zero pages", async () => {
    const l = await lab();
    l.k.reclaim();
    const before = l.k.accounting().pagesInUse;
    for (let round = 0; round < 2; round++) {
      const V = l.k.createVnet("V");
      ipfwSetDefault(l.k, V, true);
      for (let t = 0; t < 5; t++) {
        ipfwTableCreate(l.k, V, t);
        for (let i = 0; i < 1500; i++) ipfwTableAdd(l.k, V, t, `10.${t}.${i >> 8}.${i & 255}`);
      }
      ipfwAdd(l.k, V, rule(100, [M.srcLookup(0), M.dstLookup(4)], [A_.deny]));
      assert.ok(items(V).length === 2 && items(V).every(([, n]) => n > 0), "tables and entries are on V's account");
      V.destroy(); // LeakError names anything left
    }
    l.k.reclaim();
    assert.equal(l.k.accounting().pagesInUse, before);
    l.k.shutdown();
  });

  test("kldunload ipfw with tables in two vnets leaves no table item or page; kldload gives empty tables", async () => {
    const l = await lab();
    for (const v of [l.B, l.C]) {
      ipfwTableCreate(l.k, v, 1);
      for (let i = 0; i < 2000; i++) ipfwTableAdd(l.k, v, 1, `fd00:${i.toString(16)}::/64`);
      ipfwAdd(l.k, v, rule(100, [M.srcLookup(1)], [A_.deny]));
    }
    const pagesB = l.B.accounting().pages;
    l.k.kldunload("ipfw");
    for (const v of [l.A, l.B, l.C]) assert.deepEqual(items(v), [], v.name);
    assert.ok(l.B.accounting().pages < pagesB, "the directory and hash pages went back");
    await l.k.kldload("ipfw");
    assert.deepEqual(ipfwTables(l.k, l.B), []);
    l.k.shutdown();
  });

  test("table destroy gives back every item and page the table held", async () => {
    const l = await lab();
    l.k.reclaim();
    const pages0 = l.B.accounting().pages;
    ipfwTableCreate(l.k, l.B, 9);
    for (let i = 0; i < 3000; i++) ipfwTableAdd(l.k, l.B, 9, `10.${i >> 8}.${i & 255}.0/24`);
    assert.ok(l.B.accounting().pages > pages0);
    ipfwTableDestroy(l.k, l.B, 9);
    l.k.reclaim();
    assert.deepEqual(items(l.B), []);
    assert.equal(l.B.accounting().pages, pages0);
    l.k.shutdown();
  });
});
