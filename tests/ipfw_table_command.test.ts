// `ipfw table ...` on the host (host/ipfw/table.ts) over the kernel's backend: the command's
// output as ipfw(8) prints it (sbin/ipfw/tables.c), its errors (one line, naming the word's
// column or what the kernel refused), the shell's `NODE ipfw table ...` and topology files'
// `firewall:` lines `table N add PREFIX` (errors at file:line:col, applied at bring-up).
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import "../host/index.js"; // the Node platform (binaries from disk)
import { Kernel } from "../host/index.js";
import { parseTopology, Topology, TopologyError } from "../host/topology/index.js";
import { Commands, CommandError } from "../host/shell/commands.js";
import { ipfwCommand, kernelIpfwBackend, parseTableCommand, compileRule, formatRule, IpfwParseError, IpfwTableCommandError } from "../host/ipfw/index.js";
import { ipfwSetDefault, ipfwTableList, ipfwSet } from "../host/admin/ipfw.js";

async function fw() {
  const k = await Kernel.boot({ config: ["if_epair", "inet", "inet6", "udp", "tcp", "ipfw"] });
  const v = k.createVnet("v");
  ipfwSetDefault(k, v, true);
  const b = kernelIpfwBackend(k, v);
  const run = (line: string) => ipfwCommand(b, line);
  return { k, v, run };
}

/** The error a command ends in (an IpfwTableCommandError, or the parser's). */
async function failure(p: Promise<string>): Promise<Error & { errno?: number; output?: string }> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof Error);
    assert.equal(e.message.split("\n").length, 1, `one line: ${e.message}`);
    return e as Error & { errno?: number };
  }
  assert.fail("the command succeeded");
}

describe("ipfw table: output as ipfw prints it", () => {
  test("create, add (with values, masked), list, lookup, delete, flush, destroy", async () => {
    const { k, run } = await fw();
    assert.equal(await run("ipfw table 1 create type addr"), "");
    assert.equal(await run("ipfw table 1 add 10.0.0.0/8"), "added: 10.0.0.0/8 0\n");
    assert.equal(await run("ipfw table 1 add 10.1.2.3/16 42 192.168.1.7 0x10 2001:db8::1/32 10.0.0.1"), "added: 10.1.0.0/16 42\nadded: 192.168.1.7/32 16\nadded: 2001:db8::/32 167772161\n");
    assert.equal(await run("ipfw table 1 list"), "10.0.0.0/8 0\n10.1.0.0/16 42\n192.168.1.7/32 16\n2001:db8::/32 167772161\n");
    assert.equal(await run("ipfw table 1 lookup 10.1.9.9"), "10.1.0.0/16 42\n");
    assert.equal(await run("ipfw table 1 lookup 2001:db8:ffff::1"), "2001:db8::/32 167772161\n");
    assert.equal(await run("ipfw table 1 delete 10.1.0.0/16 192.168.1.7"), "deleted: 10.1.0.0/16 42\ndeleted: 192.168.1.7/32 16\n");
    assert.equal(await run("ipfw table 1 lookup 10.1.9.9"), "10.0.0.0/8 0\n");
    assert.equal(await run("ipfw -q table 1 add 10.0.0.0/8 7"), "", "-q updates an existing entry");
    assert.equal(await run("ipfw table 1 list"), "10.0.0.0/8 7\n2001:db8::/32 167772161\n");
    assert.equal(await run("ipfw table 1 flush"), "");
    assert.equal(await run("ipfw table 1 list"), "");
    assert.equal(await run("ipfw table 1 destroy"), "");
    assert.equal(await run("ipfw table all list"), "");
    k.shutdown();
  });

  test("table all list prints a header per table; info its counts; a rule naming a table is a reference", async () => {
    const { k, run } = await fw();
    await run("ipfw table 2 create");
    await run("ipfw table 1 create limit 10");
    await run("ipfw table 1 add 10.0.0.0/8");
    await run("ipfw table 2 add ::1");
    await run("ipfw add 100 deny ip from table(1) to table(1,5)");
    assert.equal(await run("ipfw table all list"), "--- table(1), set(0) ---\n10.0.0.0/8 0\n--- table(2), set(0) ---\n::1/128 0\n");
    assert.equal(await run("ipfw table 1 info"), [
      "--- table(1), set(0) ---", " kindex: 1, type: addr", " references: 2, valtype: legacy", " algorithm: addr:hash-lpm",
      " items: 1, size: 744", " limit: 10", "",
    ].join("\n"));
    assert.equal(await run("ipfw list"), "00100 deny ip from table(1) to table(1,5)\n65535 allow ip from any to any\n");
    k.shutdown();
  });

  test("add to a missing table creates it with ipfw's warning; all flush and all destroy", async () => {
    const { k, run } = await fw();
    assert.equal(await run("ipfw table 3 add 10.0.0.1"), "ipfw: DEPRECATED: inserting data into non-existent table 3. (auto-created)\nadded: 10.0.0.1/32 0\n");
    await run("ipfw table 4 add 10.0.0.2");
    await run("ipfw table all flush");
    assert.equal(await run("ipfw table all list"), "--- table(3), set(0) ---\n--- table(4), set(0) ---\n");
    await run("ipfw table all destroy");
    assert.equal(await run("ipfw table all list"), "");
    k.shutdown();
  });
});

describe("table(N) in rules", () => {
  test("src-ip / dst-ip / lookup compile to what from / to table(N) compile to; table(N,value) keeps its value", () => {
    const same = (a: string, b: string) => assert.deepEqual([...compileRule(a)], [...compileRule(b)], `${a} vs ${b}`);
    same("100 deny ip from any to any src-ip table(3)", "100 deny ip from table(3) to any");
    same("100 deny ip from any to any dst-ip table(3,7)", "100 deny ip from any to table(3,7)");
    same("100 deny ip from any to any lookup src-ip 9", "100 deny ip from table(9) to any");
    same("100 deny ip from any to any lookup dst-ip 9", "100 deny ip from any to table(9)");
    same("100 deny ip from table(1,0x10) to any", "100 deny ip from table(1,16) to any");
    const w = compileRule("100 deny ip from table(1,4294967295) to any");
    assert.deepEqual([...w.subarray(2, 4)], [(10 | (2 << 8) | (1 << 16)) >>> 0, 4294967295], "O_IP_SRC_LOOKUP, len 2, table 1, the value");
    assert.equal(formatRule(compileRule("100 deny ip from any to any { src-ip table(1) or dst-ip table(2) }")), "00100 deny ip from any to any { src-ip table(1) or dst-ip table(2) }");
  });
});

describe("ipfw table: errors", () => {
  test("ipfw's messages, one line, naming the entry or the table and the kernel's reason", async () => {
    const { k, v, run } = await fw();
    await run("ipfw table 1 create limit 1");
    let e = await failure(run("ipfw table 1 create"));
    assert.equal(e.message, "Table creation failed: File exists (ipfw table 1 create: table 1 already exists)");
    assert.equal(await run("ipfw table 1 create missing limit 1"), "", "missing: an existing compatible table is fine");
    e = await failure(run("ipfw table 1 create missing"));
    assert.equal(e.message, "The existing table is not compatible with one you are creating.");
    await run("ipfw table 1 add 10.0.0.0/8");
    e = await failure(run("ipfw table 1 add 10.0.0.0/8"));
    assert.equal(e.message, "Adding record failed: record already exists (ipfw table 1 add 10.0.0.0/8: table 1 already holds 10.0.0.0/8)");
    assert.equal(e.output, "exists: 10.0.0.0/8 0\n");
    e = await failure(run("ipfw table 1 add 10.0.0.0/9"));
    assert.equal(e.message, "Adding record failed: limit hit (ipfw table 1 add 10.0.0.0/9: table 1 is at its limit (1 entries))");
    assert.equal(e.output, "limit: 10.0.0.0/9 0\n");
    e = await failure(run("ipfw table 1 delete 11.0.0.0/8"));
    assert.equal(e.message, "Deleting record failed: record not found (ipfw table 1 delete 11.0.0.0/8: table 1 has no entry 11.0.0.0/8)");
    assert.equal(e.output, "notfound: 11.0.0.0/8 0\n");
    assert.equal(await run("ipfw -q table 1 delete 11.0.0.0/8"), "", "-q: a missing entry is no error");
    e = await failure(run("ipfw table 9 delete 10.0.0.0/8"));
    assert.equal(e.message, "Table 9 does not exist");
    e = await failure(run("ipfw table 9 list"));
    assert.equal(e.message, "failed to request table info: No such process (ipfw table 9 info: no table 9 in vnet v)");
    e = await failure(run("ipfw table 9 lookup 10.0.0.1"));
    assert.equal(e.message, "Table 9 not found");
    e = await failure(run("ipfw table 1 lookup 192.0.2.1"));
    assert.equal(e.message, "Entry 192.0.2.1 not found");
    // A missing table is a warning for destroy and flush, as in ipfw.
    assert.equal(await run("ipfw table 9 destroy"), "ipfw: failed to destroy table 9: No such process (ipfw table 9 destroy: no table 9 in vnet v)\n");
    assert.equal(await run("ipfw table 9 flush"), "ipfw: failed to flush table 9 info: No such process (ipfw table 9 flush: no table 9 in vnet v)\n");
    await run("ipfw add 100 deny ip from any to table(1)");
    e = await failure(run("ipfw table 1 destroy"));
    assert.equal(e.message, "failed to destroy table 1: Device busy (ipfw table 1 destroy: rules of vnet v name table(1); delete them first)");
    // The vnet's bounds.
    ipfwSet(k, v, "tables_max", 1);
    e = await failure(run("ipfw table 2 create"));
    assert.equal(e.message, "Table creation failed: No space left on device (ipfw table 2 create: vnet v has tables_max (1) tables already)");
    ipfwSet(k, v, "table_entries_max", 1);
    await run("ipfw table 1 flush");
    await run("ipfw table 1 create missing or-flush limit 1");
    await run("ipfw table 1 add 10.0.0.1");
    ipfwSet(k, v, "tables_max", 2);
    await run("ipfw table 2 create");
    e = await failure(run("ipfw table 2 add 10.0.0.2"));
    assert.equal(e.message, "Adding record failed: No space left on device (ipfw table 2 add 10.0.0.2/32: vnet v holds table_entries_max (1) table entries already)");
    assert.equal(e.output, "error: 10.0.0.2/32 0\n");
    assert.deepEqual(ipfwTableList(k, v, 2), []);
    k.shutdown();
  });

  test("bad words are named by their column in the line", () => {
    const cases: [string, number, RegExp][] = [
      ["table", 6, /table needs a table number 0..65535 or "all"/],
      ["table foo list", 7, /expected a table number 0..65535 or "all", found "foo" \(table names are not supported\)/],
      ["table 65536 list", 7, /table number 65536 is out of range 0..65535/],
      ["table 1", 8, /table needs a command/],
      ["table 1 frob", 9, /expected a table command \(create, add, delete, list, flush, destroy, info, lookup\), found "frob"/],
      ["table 1 swap 2", 9, /the table command "swap" is not supported/],
      ["table all add 10.0.0.1", 7, /"table all" takes only list, flush, destroy or info; add needs a table number/],
      ["table 1 add", 12, /address required/],
      ["table 1 add 10.0.0.0/33", 22, /bad IPv4 mask width: "33" \(0..32\)/],
      ["table 1 add fd00::/129", 20, /bad IPv6 mask width: "129" \(0..128\)/],
      ["table 1 add example.org", 13, /expected an IPv4 or IPv6 prefix, found "example.org" \(host names are not supported\)/],
      ["table 1 add 10.0.0.1 ten", 22, /unable to parse value "ten": a number 0..4294967295 or an IPv4 address/],
      ["table 1 add 10.0.0.1 4294967296", 22, /unable to parse value "4294967296"/],
      ["table 1 add ::10.0.0.1", 13, /use IPv4 instead of v4-compatible "::10.0.0.1"/],
      ["table 1 create type iface", 21, /table type "iface" is not supported: wavnet's tables are of type addr/],
      ["table 1 create limit", 21, /expected a limit 0..4294967295 after "limit"/],
      ["table 1 create valtype skipto", 16, /the create option "valtype" is not supported/],
      ["table 1 lookup 10.0.0.0/8", 16, /expected an address without a prefix length, found "10.0.0.0\/8"/],
      ["table 1 list now", 14, /list takes no arguments, found "now"/],
    ];
    for (const [text, col, re] of cases) {
      assert.throws(() => parseTableCommand(text), (e: unknown) => {
        assert.ok(e instanceof IpfwParseError, `${text}: ${String(e)}`);
        assert.equal(e.column, col, `${text}: ${e.message}`);
        assert.match(e.message, re, text);
        assert.ok(e.message.startsWith(`column ${col}: `), e.message);
        return true;
      });
    }
  });

  test("columns count in the whole ipfw line", async () => {
    const { k, run } = await fw();
    await assert.rejects(run("ipfw -q table 1 add 10.0.0.0/40"), (e: unknown) => e instanceof IpfwParseError && e.column === 30);
    await assert.rejects(run("ipfw table 1 lookup 10.0.0.1"), IpfwTableCommandError);
    k.shutdown();
  });
});

const PAIR = `name: pair
nodes:
  - name: a
    interfaces: [{ name: eth0, addresses: [10.0.0.1/24, "fd00::1/64"] }]
  - name: b
    interfaces: [{ name: eth0, addresses: [10.0.0.2/24, "fd00::2/64"] }]
    firewall:
      - table 1 add 10.0.0.1
      - table 1 add fd00::1
      - 100 deny ip from table(1) to any in
links:
  - endpoints: [a:eth0, b:eth0]
`;

describe("ipfw table in the shell and in topology files", () => {
  test("firewall: table lines fill the table at bring-up; the rule refuses both families; the shell changes it", async () => {
    const t = await Topology.up(parseTopology(PAIR, "pair.yaml"));
    const cmds = new Commands(t.kernel);
    try {
      const a = t.node("a");
      const b = t.node("b");
      assert.equal(await cmds.exec(b, "ipfw table 1 list"), "10.0.0.1/32 0\nfd00::1/128 0");
      const noReply = (e: unknown) => e instanceof CommandError && /no reply/.test(e.message);
      await assert.rejects(cmds.exec(a, "ping -c 1 -t 1 10.0.0.2"), noReply);
      await assert.rejects(cmds.exec(a, "ping -c 1 -t 1 fd00::2"), noReply);
      assert.equal(await cmds.exec(b, "ipfw table 1 delete 10.0.0.1"), "deleted: 10.0.0.1/32 0");
      assert.match(await cmds.exec(a, "ping -c 1 10.0.0.2"), /1 packets received/);
      await assert.rejects(cmds.exec(a, "ping -c 1 -t 1 fd00::2"), noReply);
      await assert.rejects(cmds.exec(b, "ipfw table 1 destroy"), (e: unknown) => e instanceof CommandError && /^ipfw: failed to destroy table 1: Device busy/.test(e.message));
    } finally {
      await cmds.close();
      const report = await t.down();
      assert.ok(report.ok, report.text);
    }
  });

  test("a bad table line is named at file:line:col of the word inside the string", () => {
    const text = PAIR.replace("      - table 1 add fd00::1", "      - table 1 add fd00::1/200");
    assert.throws(() => parseTopology(text, "pair.yaml"), (e: unknown) => {
      assert.ok(e instanceof TopologyError, String(e));
      assert.equal(e.line, 9);
      assert.equal(e.column, 9 + "table 1 add fd00::1/".length);
      assert.match(e.message, /^pair\.yaml:9:29: nodes\[1\]\.firewall\[1\]: bad firewall table command: column 21: bad IPv6 mask width: "200" \(0\.\.128\)/);
      return true;
    });
  });

  test("a table line the kernel refuses at bring-up names its line", async () => {
    const text = PAIR.replace("      - table 1 add 10.0.0.1", "      - table 1 create limit 1\n      - table 1 add 10.0.0.1");
    await assert.rejects(Topology.up(parseTopology(text, "pair.yaml")), (e: unknown) => {
      assert.ok(e instanceof TopologyError, String(e));
      assert.equal(e.line, 10, e.message);
      assert.match(e.message, /b firewall: ipfw table 1 add fd00::1: .*Adding record failed: limit hit/);
      return true;
    });
  });
});
