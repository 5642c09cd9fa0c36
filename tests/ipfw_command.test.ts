// host/ipfw/command.ts: `ipfw add/delete/list/show/zero/flush`, `set N ...`, -q, over an
// in-memory IpfwBackend that keeps rules as the kernel does (sorted by number, a rule added
// with an existing number after the others of that number, the default rule 65535 last).
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import {
  ipfwCommand, nextRuleNumber, compileRule, decodeRuleList, IpfwCommandError, IpfwParseError, IpfwDecodeError,
  type IpfwBackend, type IpfwRuleEntry, type IpfwStateEntry,
} from "../host/ipfw/index.js";

/** The kernel's default rule: 65535 in set 31, `deny ip from any to any` (text cannot add it). */
function defaultRule(): Uint32Array {
  const w = compileRule("1 deny ip from any to any");
  w[0] = (65535 | (31 << 16)) >>> 0;
  return w;
}

class MemoryBackend implements IpfwBackend {
  rules: IpfwRuleEntry[] = [{ words: defaultRule(), packets: 0, bytes: 0 }];
  stateList: IpfwStateEntry[] = [];
  calls: string[] = [];
  private num(e: IpfwRuleEntry) { return e.words[0]! & 0xffff; }
  private set(e: IpfwRuleEntry) { return (e.words[0]! >>> 16) & 0x1f; }
  add(words: Uint32Array): void {
    const n = words[0]! & 0xffff;
    if (n === 0 || n === 65535) throw new Error(`EINVAL: rule number ${n}`);
    this.calls.push(`add ${n}`);
    const at = this.rules.findIndex((e) => this.num(e) > n);
    this.rules.splice(at, 0, { words: Uint32Array.from(words), packets: 0, bytes: 0 });
  }
  delete(rulenum: number, set: number): number {
    this.calls.push(`delete ${rulenum} ${set}`);
    const before = this.rules.length;
    this.rules = this.rules.filter((e) => !(this.num(e) === rulenum && rulenum !== 65535 && (set < 0 || this.set(e) === set)));
    return before - this.rules.length;
  }
  flush(): void {
    this.calls.push("flush");
    this.rules = this.rules.filter((e) => this.num(e) === 65535);
    this.stateList = [];
  }
  zero(rulenum: number): void {
    this.calls.push(`zero ${rulenum}`);
    for (const e of this.rules) if (rulenum === 0 || this.num(e) === rulenum) { e.packets = 0; e.bytes = 0; }
  }
  list(): IpfwRuleEntry[] { return this.rules.map((e) => ({ ...e })); }
  states(): IpfwStateEntry[] { return this.stateList; }
  numbers(): number[] { return this.rules.map((e) => this.num(e)); }
}

describe("ipfw add", () => {
  test("prints the rule as the kernel holds it, and numbers unnumbered rules last + 100", async () => {
    const b = new MemoryBackend();
    assert.equal(await ipfwCommand(b, "ipfw add allow ip from any to any via lo0"), "00100 allow ip from any to any via lo0\n");
    assert.equal(await ipfwCommand(b, "add deny tcp from any to any 23"), "00200 deny tcp from any to any 23\n");
    assert.equal(await ipfwCommand(b, "add 1000 count ip from any to any"), "01000 count ip from any to any\n");
    assert.equal(await ipfwCommand(b, "add 500 count ip from any to any"), "00500 count ip from any to any\n");
    assert.equal(await ipfwCommand(b, "add check-state"), "01100 check-state :default\n", "after the highest rule, not the last added");
    assert.deepEqual(b.numbers(), [100, 200, 500, 1000, 1100, 65535]);
  });

  test("net.inet.ip.fw.autoinc_step, and no step past the default rule (the last number is reused)", async () => {
    const b = new MemoryBackend();
    await ipfwCommand(b, "add allow ip from any to any", { autoincStep: 10 });
    await ipfwCommand(b, "add allow ip from any to any", { autoincStep: 10 });
    assert.deepEqual(b.numbers(), [10, 20, 65535]);
    await ipfwCommand(b, "add 65500 allow ip from any to any");
    assert.equal(await ipfwCommand(b, "add deny ip from any to any"), "65500 deny ip from any to any\n");
    assert.equal(nextRuleNumber([], 100), 100);
    assert.equal(nextRuleNumber([{ words: compileRule("65434 allow ip from any to any"), packets: 0, bytes: 0 }], 100), 65534);
    assert.equal(nextRuleNumber([{ words: compileRule("65435 allow ip from any to any"), packets: 0, bytes: 0 }], 100), 65435);
    assert.equal(nextRuleNumber([], 5000), 1000, "the step is clamped to 1..1000 as the kernel clamps it");
  });

  test("-q prints nothing; add keeps the set; errors in the rule count columns from the rule's start", async () => {
    const b = new MemoryBackend();
    assert.equal(await ipfwCommand(b, "-q add 300 set 4 allow tcp from any to any"), "");
    assert.equal((b.rules[0]!.words[0]! >>> 16) & 0x1f, 4);
    await assert.rejects(ipfwCommand(b, "ipfw add 400 allow tcp from 80 to any"), (e: unknown) => {
      assert.ok(e instanceof IpfwParseError);
      assert.equal(e.message, `rule 400, column 20: expected an address after "from", found "80"`);
      return true;
    });
    assert.equal(b.rules.length, 2, "nothing added");
  });

  test("an auto-numbered skipto must still go forward", async () => {
    const b = new MemoryBackend();
    await ipfwCommand(b, "add 1000 allow ip from any to any");
    await assert.rejects(ipfwCommand(b, "add skipto 500 ip from any to any"), /rule 1100, column 1: skipto 500 from rule 1100 \(numbered by add\) does not go forward/);
    assert.equal(await ipfwCommand(b, "add skipto 5000 ip from any to any"), "01100 skipto 5000 ip from any to any\n");
  });
});

describe("ipfw list, show, delete, zero, flush", () => {
  async function filled(): Promise<MemoryBackend> {
    const b = new MemoryBackend();
    for (const r of ["100 allow ip from any to any via lo0", "200 set 2 deny tcp from any to any 23", "200 count ip from any to any", "300 set 2 allow udp from any to any 53 keep-state"]) {
      await ipfwCommand(b, ["add", ...r.split(" ")]);
    }
    b.rules[0]!.packets = 12; b.rules[0]!.bytes = 1008;
    b.rules[1]!.packets = 3; b.rules[1]!.bytes = 180;
    return b;
  }

  test("list prints every rule, the default one last; show adds counter columns", async () => {
    const b = await filled();
    assert.equal(await ipfwCommand(b, "list"), [
      "00100 allow ip from any to any via lo0",
      "00200 deny tcp from any to any 23",
      "00200 count ip from any to any",
      "00300 allow udp from any to any 53 keep-state :default",
      "65535 deny ip from any to any",
    ].map((l) => l + "\n").join(""));
    assert.equal(await ipfwCommand(b, "show 100-200"), [
      "00100 12 1008 allow ip from any to any via lo0",
      "00200  3  180 deny tcp from any to any 23",
      "00200  0    0 count ip from any to any",
    ].map((l) => l + "\n").join(""));
    assert.equal(await ipfwCommand(b, "-a list 300"), "00300 0 0 allow udp from any to any 53 keep-state :default\n");
    assert.equal(await ipfwCommand(b, "-S list 200"), "00200 set 2 deny tcp from any to any 23\n00200 set 0 count ip from any to any\n");
    assert.equal(await ipfwCommand(b, "set 2 list"), "00200 deny tcp from any to any 23\n00300 allow udp from any to any 53 keep-state :default\n");
    await assert.rejects(ipfwCommand(b, "list 150"), (e: unknown) => e instanceof IpfwCommandError && /rule 150 does not exist/.test(e.message));
  });

  test("-d lists the dynamic states after the rules", async () => {
    const b = await filled();
    b.stateList = [{ rule: 300, proto: 17, src: "10.0.0.2", srcPort: 5353, dst: "10.0.0.1", dstPort: 53, packets: 4, bytes: 312, expire: 7 }];
    const out = await ipfwCommand(b, "-d show 300");
    assert.equal(out, "00300 0 0 allow udp from any to any 53 keep-state :default\n## Dynamic rules (1):\n00300 4 312 (7s) STATE udp 10.0.0.2 5353 <-> 10.0.0.1 53\n");
  });

  test("delete: numbers, ranges, a set; a missing rule is an error unless -f", async () => {
    let b = await filled();
    assert.equal(await ipfwCommand(b, "delete 200"), "");
    assert.deepEqual(b.numbers(), [100, 300, 65535], "both rules numbered 200 go");
    await assert.rejects(ipfwCommand(b, "delete 250"), /rule 250 not found/);
    assert.equal(await ipfwCommand(b, "-f delete 250"), "");
    await assert.rejects(ipfwCommand(b, "delete 65535"), /default rule/);
    b = await filled();
    await ipfwCommand(b, "delete 150-250");
    assert.deepEqual(b.numbers(), [100, 300, 65535]);
    b = await filled();
    await ipfwCommand(b, "delete set 2");
    assert.deepEqual(b.numbers(), [100, 200, 65535]);
    assert.ok(b.calls.includes("delete 200 2") && b.calls.includes("delete 300 2"), b.calls.join(", "));
    b = await filled();
    await ipfwCommand(b, "set 2 delete 200");
    assert.deepEqual(b.numbers(), [100, 200, 300, 65535], "only set 2's rule 200");
    b = await filled();
    await ipfwCommand(b, "set 2 delete");
    assert.deepEqual(b.numbers(), [100, 200, 65535]);
    b = await filled();
    await ipfwCommand(b, "set 2 flush");
    assert.deepEqual(b.numbers(), [100, 200, 65535]);
    await assert.rejects(ipfwCommand(b, "delete"), /missing rule specification/);
  });

  test("zero: all counters or one rule's; flush keeps the default rule", async () => {
    const b = await filled();
    assert.equal(await ipfwCommand(b, "zero 100"), "Entry 100 cleared.\n");
    assert.equal(b.rules[0]!.packets, 0);
    assert.equal(b.rules[1]!.packets, 3);
    await assert.rejects(ipfwCommand(b, "zero 150"), /Entry 150 not found/);
    assert.equal(await ipfwCommand(b, "zero"), "Accounting cleared.\n");
    assert.equal(b.rules[1]!.packets, 0);
    assert.equal(await ipfwCommand(b, "-q zero"), "");
    assert.equal(await ipfwCommand(b, "flush"), "Flushed all rules.\n");
    assert.deepEqual(b.numbers(), [65535]);
    assert.equal(await ipfwCommand(b, "-q flush"), "");
  });

  test("unknown commands and flags are usage errors", async () => {
    const b = new MemoryBackend();
    await assert.rejects(ipfwCommand(b, "frob"), (e: unknown) => e instanceof IpfwCommandError && /unknown command "frob"/.test(e.message));
    await assert.rejects(ipfwCommand(b, "-x list"), /unknown flag -x/);
    await assert.rejects(ipfwCommand(b, ""), /usage: ipfw/);
    await assert.rejects(ipfwCommand(b, "set 40 list"), /invalid set number 40/);
  });
});

describe("decodeRuleList: ipfw_list's words", () => {
  test("each rule's words then packets lo/hi, bytes lo/hi, last match", () => {
    const a = compileRule("100 allow tcp from any to any 80 keep-state");
    const d = defaultRule();
    const buf = Uint32Array.from([...a, 5, 0, 700, 0, 1234, ...d, 0xffffffff, 0x1fffff, 0, 1, 0]);
    const list = decodeRuleList(buf);
    assert.equal(list.length, 2);
    assert.deepEqual([...list[0]!.words], [...a]);
    assert.equal(list[0]!.packets, 5);
    assert.equal(list[0]!.bytes, 700);
    assert.equal(list[0]!.lastMatch, 1234);
    assert.equal(list[1]!.packets, 2 ** 53 - 1, "2^53 - 1 is still a number");
    assert.equal(list[1]!.bytes, 2 ** 32);
    const big = decodeRuleList(Uint32Array.from([...d, 0, 0x200000, 0, 0, 0]));
    assert.equal(big[0]!.packets, 1n << 53n, "past 2^53 a bigint");
    assert.deepEqual(decodeRuleList(new Uint32Array(0)), []);
  });

  test("a list cut short or a rule whose length runs past its words is an IpfwDecodeError", () => {
    const a = compileRule("100 allow ip from any to any via em0");
    for (const cut of [1, a.length, a.length + 4]) {
      assert.throws(() => decodeRuleList(Uint32Array.from([...a, 0, 0, 0, 0, 0]).subarray(0, cut)), IpfwDecodeError, `cut at ${cut}`);
    }
    const bad = Uint32Array.from([...a, 0, 0, 0, 0, 0]);
    bad[2] = (bad[2]! & ~0x3f00) | (40 << 8); // the via instruction claims 40 words
    assert.throws(() => decodeRuleList(bad), /past the end/);
  });
});

describe("ipfw log and nat over a backend", () => {
  test("log prints the ring as ipfw_log's syslog lines; a backend without one says so", async () => {
    const b = new MemoryBackend();
    await assert.rejects(ipfwCommand(b, "ipfw log"), /log: this backend keeps no log/);
    const withLog: IpfwBackend = Object.assign(b, {
      log: () => ({
        lost: 3,
        lines: [
          { seq: 3, rule: 500, action: 66, direction: "in" as const, proto: 6, src: "10.0.0.1", srcPort: 4000, dst: "10.0.0.2", dstPort: 22 },
          { seq: 4, rule: 600, action: 65, direction: "out" as const, proto: 17, src: "fd00::1", srcPort: 53, dst: "fd00::2", dstPort: 5353 },
          { seq: 5, rule: 700, action: 68, direction: "in" as const, proto: 1, src: "10.0.0.1", srcPort: 0, dst: "10.0.0.2", dstPort: 0 },
          { seq: 6, rule: 800, action: 69, direction: "out" as const, proto: 47, src: "10.0.0.1", srcPort: 0, dst: "10.0.0.2", dstPort: 0 },
        ],
      }),
    });
    assert.equal(await ipfwCommand(withLog, "ipfw log"), [
      "ipfw: 3 earlier records were overwritten (the ring keeps the last 64)",
      "ipfw: 500 Deny TCP 10.0.0.1:4000 10.0.0.2:22 in",
      "ipfw: 600 Accept UDP [fd00::1]:53 [fd00::2]:5353 out",
      "ipfw: 700 Reset ICMP 10.0.0.1 10.0.0.2 in",
      "ipfw: 800 Count P:47 10.0.0.1 10.0.0.2 out",
      "",
    ].join("\n"));
    await assert.rejects(ipfwCommand(withLog, "ipfw log 5"), /log takes no arguments/);
  });

  test("nat goes to the backend's nat(), words after \"nat\"; without one it is not supported", async () => {
    const b = new MemoryBackend();
    await assert.rejects(ipfwCommand(b, "ipfw nat 1 config ip 192.0.2.1"), (e: unknown) => e instanceof IpfwCommandError && /nat: not supported by this backend/.test(e.message));
    const seen: string[][] = [];
    const withNat: IpfwBackend = Object.assign(b, { nat: (args: string[]) => (seen.push(args), "ipfw nat 1 config ip 192.0.2.1\n") });
    assert.equal(await ipfwCommand(withNat, "ipfw nat 1 config ip 192.0.2.1"), "ipfw nat 1 config ip 192.0.2.1\n");
    assert.deepEqual(seen, [["1", "config", "ip", "192.0.2.1"]]);
  });
});
