// ipfw wired to the rest: the kernel backend under the shell's `ipfw` (output as ipfw prints
// it, real counters, states, the log, module loaded on first use, topology interface names),
// topology files' `firewall:` lists (errors at the rule's line and column inside the string,
// `wavnet check` naming file:line:col, rules added at bring-up) and examples/firewall.yaml,
// whose refused steps pass only because the firewall refuses them.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import "../host/index.js"; // the Node platform (binaries from disk)
import { parseTopology, Topology, TopologyError, type TopologySpec } from "../host/topology/index.js";
import { Commands, CommandError } from "../host/shell/commands.js";
import { main } from "../host/cli/main.js";
import { ipfwList, ipfwGet, ipfwStats } from "../host/admin/ipfw.js";

const EXAMPLE = readFileSync(new URL("../examples/firewall.yaml", import.meta.url), "utf8");

const PAIR = `name: pair
nodes:
  - name: a
    interfaces: [{ name: eth0, addresses: [10.0.0.1/24] }]
  - name: b
    interfaces: [{ name: eth0, addresses: [10.0.0.2/24] }]
    services: [{ kind: tcp-echo }]
links:
  - endpoints: [a:eth0, b:eth0]
`;

/** The problem a file must be refused with (exactly one). */
function refused(text: string): TopologyError {
  try {
    parseTopology(text, "fw.yaml");
  } catch (e) {
    assert.ok(e instanceof TopologyError, String(e));
    return e;
  }
  assert.fail("the file was accepted");
}

describe("topology firewall: lists", () => {
  test("a bad rule is named at file:line:col of the character inside the string (plain, quoted, flow)", () => {
    // Plain scalar: "80" where an address belongs is column 27 of the rule; the rule starts at column 9.
    let e = refused(PAIR.replace("    services:", "    firewall:\n      - 100 allow tcp from any to 80\n    services:"));
    assert.equal(e.line, 8);
    assert.equal(e.column, 9 + 26);
    assert.equal(e.path, "nodes[1].firewall[0]");
    assert.match(e.message, /^fw\.yaml:8:35: nodes\[1\]\.firewall\[0\]: bad firewall rule: rule 100, column 27: expected an address after "to", found "80"/);
    // Double-quoted with an escape before the fault: the column counts the escape's two characters.
    e = refused(PAIR.replace("    services:", '    firewall:\n      - "allow tcp from \\x61ny to any 99999"\n    services:'));
    assert.equal(e.line, 8);
    // rule column 27 ("99999"); the string opens at column 9; "\x61" is 4 characters in the file for 1 in the rule.
    assert.equal(e.column, 9 + 1 + 26 + 3);
    assert.match(e.message, /rule at index 0, column 27/);
    // A flow list, second rule.
    e = refused(PAIR.replace("    services:", "    firewall: [100 check-state, 200 allow tcp from any to any setup keep-stat]\n    services:"));
    assert.equal(e.line, 7);
    const col = "    firewall: [100 check-state, ".length + 1 + "200 allow tcp from any to any setup ".length;
    assert.equal(e.column, col);
    assert.equal(e.path, "nodes[1].firewall[1]");
  });

  test("firewallDefault takes allow or deny; firewall takes strings (schema)", () => {
    assert.match(refused(PAIR.replace("    services:", "    firewallDefault: block\n    services:")).message, /fw\.yaml:7:\d+: nodes\[1\]\.firewallDefault: must be one of "allow", "deny"; got "block"/);
    assert.match(refused(PAIR.replace("    services:", "    firewall: [{ rule: 1 }]\n    services:")).message, /nodes\[1\]\.firewall\[0\]: must be a string/);
    const spec = parseTopology(PAIR.replace("    services:", "    firewall: [100 allow ip from any to any]\n    services:"), "fw.yaml");
    assert.deepEqual(spec.nodes[1]!.firewall!.rules.map((r) => [r.text, r.origin.line]), [["100 allow ip from any to any", 7]]);
    assert.equal(spec.nodes[1]!.firewall!.default, "allow");
    assert.equal(spec.nodes[0]!.firewall, undefined);
  });

  test("wavnet check on a bad rule names file:line:col and exits 2", async () => {
    const dir = mkdtempSync(join(tmpdir(), "wavnet-fw-"));
    try {
      const f = join(dir, "bad.yaml");
      writeFileSync(f, EXAMPLE.replace("80,443 setup", "80,443 setpu"));
      const out = new PassThrough();
      const err = new PassThrough();
      let text = "";
      out.setEncoding("utf8").on("data", (d: string) => (text += d));
      err.setEncoding("utf8").on("data", (d: string) => (text += d));
      const code = await main(["check", f], { stdin: new PassThrough(), stdout: out, stderr: err, stdoutTTY: false, stdinTTY: false });
      await new Promise((r) => setImmediate(r));
      assert.equal(code, 2, text);
      const line = EXAMPLE.split("\n").findIndex((l) => l.includes("80,443 setup")) + 1;
      const col = EXAMPLE.split("\n")[line - 1]!.indexOf("setup") + 1;
      assert.match(text, new RegExp(`bad\\.yaml:${line}:${col}: nodes\\[3\\]\\.firewall\\[1\\]: bad firewall rule: rule 200, column \\d+: .*"setpu"`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** The example without its firewall: what its refusing steps see with nothing in the way. */
function withoutFirewall(spec: TopologySpec): TopologySpec {
  return { ...spec, nodes: spec.nodes.map((n) => ({ ...n, firewall: undefined })) };
}

describe("examples/firewall.yaml", () => {
  test("every step passes: allowed traffic passes, refused traffic fails, counters and log show it; no leaks", async () => {
    const spec = parseTopology(EXAMPLE, "examples/firewall.yaml");
    const t = await Topology.up(spec);
    const cmds = new Commands(t.kernel);
    try {
      const gw = t.node("gw");
      // Rules as the file numbered them, the default rule denying.
      assert.deepEqual(ipfwList(t.kernel, gw.vnet).map((r) => r.rulenum), [100, 200, 300, 400, 65000, 65535]);
      assert.equal(ipfwGet(t.kernel, gw.vnet, "default_to_accept"), 0);
      // Nodes without a firewall allow (the module is loaded kernel-wide).
      assert.equal(ipfwGet(t.kernel, t.node("h1").vnet, "default_to_accept"), 1);
      // Nothing was refused while the nodes came up (a new vnet starts denying until its rules are in).
      for (const n of t.nodes()) assert.equal(ipfwStats(t.kernel, n.vnet).denied, 0, `${n.name} denied during bring-up`);
      const results = await t.runSteps({ exec: (node, cmd) => cmds.exec(t.node(node), cmd) });
      assert.deepEqual(results.filter((r) => !r.ok).map((r) => `${r.name}: ${r.detail}`), []);
      assert.equal(results.length, 9);
    } finally {
      await cmds.close();
      const report = await t.down();
      assert.ok(report.ok, report.text);
    }
  });

  test("without the firewall the refused steps fail: the firewall is what refuses them", async () => {
    const spec = withoutFirewall(parseTopology(EXAMPLE, "examples/firewall.yaml"));
    const t = await Topology.up(spec);
    const cmds = new Commands(t.kernel);
    try {
      const results = await t.runSteps({ exec: (node, cmd) => cmds.exec(t.node(node), cmd) });
      const failed = results.filter((r) => !r.ok).map((r) => r.index + 1);
      // 3, 4, 5, 7 expect failure and now get through; 8 and 9 find no counted denial and no log.
      assert.deepEqual(failed, [3, 4, 5, 7, 8, 9]);
    } finally {
      await cmds.close();
      await t.down();
    }
  });

  test("a rule the kernel refuses at bring-up names its line; nothing is left", async () => {
    // Autonumbered after 65000 there is no room for a skipto forward: refused by `ipfw add`.
    const text = EXAMPLE.replace("      - 65000 deny log ip from any to any", "      - 65000 deny log ip from any to any\n      - skipto 65100 ip from any to any");
    await assert.rejects(Topology.up(parseTopology(text, "examples/firewall.yaml")), (e: unknown) => {
      assert.ok(e instanceof TopologyError, String(e));
      const line = text.split("\n").findIndex((l) => l.includes("skipto 65100")) + 1;
      assert.equal(e.line, line, e.message);
      assert.match(e.message, /gw firewall: ipfw add skipto 65100 ip from any to any: .*skipto 65100 from rule 65100.*does not go forward/);
      return true;
    });
  });
});

describe("the shell's ipfw", () => {
  test("loads the module on first use, adds, shows real counters, states and the log, as ipfw prints them", async () => {
    const t = await Topology.up(parseTopology(PAIR, "pair.yaml"));
    const cmds = new Commands(t.kernel);
    try {
      const a = t.node("a");
      assert.equal(t.kernel.linker.isLoaded("ipfw"), false);
      const first = await cmds.exec(a, "ipfw list");
      assert.equal(first, "ipfw: loaded the ipfw module (kldload ipfw); the default rule of every node allows (65535 allow ip from any to any)\n65535 allow ip from any to any");
      assert.equal(await cmds.exec(a, "ipfw list"), "65535 allow ip from any to any");
      assert.equal(await cmds.exec(a, "ipfw add 100 allow icmp from any to any keep-state"), "00100 allow icmp from any to any keep-state :default");
      assert.equal(await cmds.exec(a, "ipfw add deny log tcp from any to any 7 via eth0"), `00200 deny log tcp from any to any 7 via ${a.interfaces().find((i) => i.name === "eth0")!.iface.name}`);
      assert.equal(await cmds.exec(a, "ipfw -q add 300 count ip from any to any"), "");
      await cmds.exec(a, "ping -c 2 10.0.0.2");
      await assert.rejects(cmds.exec(a, "curl -m 2 http://10.0.0.2:7/"), CommandError);
      // Two echo requests out and two replies in, 84 bytes each (20 IP + 8 ICMP + 56).
      const shown = await cmds.exec(a, "ipfw show");
      const lines = shown.split("\n");
      assert.equal(lines[0], "00100 4 336 allow icmp from any to any keep-state :default");
      assert.match(lines[1]!, /^00200 [1-9]\d* +[1-9]\d* deny log tcp from any to any 7 via epair\d+a$/);
      // Nothing else but IPv6 MLD reports (76 bytes each, docs/mld.md) the link-local addresses
      // may still be repeating when the rules go in (this topology runs on the wall clock).
      assert.match(lines[2]!, /^00300 +\d+ +\d+ count ip from any to any$/);
      assert.match(lines[3]!, /^65535 +\d+ +\d+ allow ip from any to any$/);
      for (const l of [lines[2]!, lines[3]!]) {
        const [, n, b] = /^\d+ +(\d+) +(\d+)/.exec(l)!;
        assert.equal(Number(b), 76 * Number(n), `only MLD reports: ${l}`);
      }
      // Dynamic states: the ping's, from rule 100 (the kernel counts no bytes per state: 0, docs/ipfw.md).
      const d = await cmds.exec(a, "ipfw -d show 100");
      assert.match(d, /^00100 4 336 allow icmp from any to any keep-state :default\n## Dynamic rules \(1\):\n00100 4 0 \(\d+s\) STATE icmp 10\.0\.0\.1 0 <-> 10\.0\.0\.2 0$/);
      const log = await cmds.exec(a, "ipfw log");
      assert.match(log.split("\n")[0]!, /^ipfw: 200 Deny TCP 10\.0\.0\.1:\d+ 10\.0\.0\.2:7 out$/);
      assert.equal(await cmds.exec(a, "ipfw zero 100"), "Entry 100 cleared.");
      assert.match(await cmds.exec(a, "ipfw show 100"), /^00100 0 0 allow icmp/);
      assert.equal(await cmds.exec(a, "ipfw delete 200"), "");
      assert.equal(await cmds.exec(a, "ipfw flush"), "Flushed all rules.");
      assert.equal(await cmds.exec(a, "ipfw list"), "65535 allow ip from any to any");
      // b was never touched: its default allows, its list is the default rule alone.
      assert.equal(await cmds.exec(t.node("b"), "ipfw show"), "65535 0 0 allow ip from any to any");
    } finally {
      await cmds.close();
      await t.down();
    }
  });

  test("bad input is one line: rule text with its column, unknown commands, a bad nat config; a good one shows", async () => {
    const t = await Topology.up(parseTopology(PAIR, "pair.yaml"));
    const cmds = new Commands(t.kernel);
    try {
      const a = t.node("a");
      const msg = async (line: string) => {
        try {
          await cmds.exec(a, line);
        } catch (e) {
          assert.ok(e instanceof CommandError);
          assert.equal(e.message.split("\n").length, 1, e.message);
          return e.message;
        }
        assert.fail(`${line}: accepted`);
      };
      assert.match(await msg("ipfw add 100 allow tcp from any to 80"), /loaded the ipfw module.*; ipfw: rule 100, column 27: expected an address after "to", found "80"$/);
      assert.equal(await msg("ipfw frobnicate"), `ipfw: unknown command "frobnicate"; usage: ipfw [-adfqS] {add [N] RULE | delete [set] N[-M] ... | [set N] {list|show} [N[-M] ...] | zero [N ...] | flush | set N {delete [N ...] | flush} | log | nat N ... | table {N | all} ...}`);
      assert.equal(await msg("ipfw delete 4242"), "ipfw: rule 4242 not found");
      assert.match(await msg("ipfw nat 1 config ip 198.51.100"), /^ipfw: .*198\.51\.100/);
      assert.equal(await cmds.exec(a, "ipfw nat 1 config ip 198.51.100.1 redirect_port tcp 10.0.0.1:80 8080"), "");
      assert.match(await cmds.exec(a, "ipfw nat 1 show"), /198\.51\.100\.1/);
      assert.match(await cmds.exec(a, "ipfw nat 1 show"), /8080/);
      assert.match(await msg("ipfw"), /^ipfw: usage: /);
    } finally {
      await cmds.close();
      await t.down();
    }
  });
});
