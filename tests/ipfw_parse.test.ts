// host/ipfw: ipfw(8)'s rule language compiled to the words of docs/ipfw_insn.md and printed as
// `ipfw list` prints them. Rules from ipfw(8)'s EXAMPLES and FreeBSD's rc.firewall (host names
// written as addresses: wavnet resolves none) with the words expected, written out here by hand
// from the contract, and the text FreeBSD prints for them; a round trip over generated rules
// (print(compile(x)) compiles to the same words); token soup and random strings that only
// ever raise IpfwParseError; error cases that name the rule and the right column.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { compileRule, compileRules, parseRule, formatRule, formatRules, IpfwParseError, decodeRule } from "../host/ipfw/index.js";

/** An instruction header as the contract lays it out, written independently of host/ipfw/insn.ts. */
const h = (op: number, len: number, arg1 = 0, flags = 0) => (op | (len << 8) | flags | (arg1 << 16)) >>> 0;
const NOT = 1 << 15;
const OR = 1 << 14;
/** Header bytes a.b.c.d loaded little-endian. */
const q = (a: number, b: number, c: number, d: number) => (a | (b << 8) | (c << 16) | (d << 24)) >>> 0;
/** A rule's words from its number, set, match instructions and action part. */
function rule(num: number, set: number, match: number[][], action: number[][]): number[] {
  const m = match.flat();
  const a = action.flat();
  return [num | (set << 16), (m.length + a.length) | (m.length << 16), ...m, ...a];
}
const words = (text: string) => [...compileRule(text)];

describe("ipfw(8) examples: the words and the text FreeBSD prints", () => {
  const cases: { text: string; words?: number[]; printed: string }[] = [
    {
      text: "100 pass all from any to any via lo0",
      words: rule(100, 0, [[h(14, 5), q(0x6c, 0x6f, 0x30, 0), 0, 0, 0]], [[h(65, 1)]]),
      printed: "00100 allow ip from any to any via lo0",
    },
    {
      text: "200 deny ip from any to 127.0.0.0/8",
      words: rule(200, 0, [[h(5, 3, 1), q(127, 0, 0, 0), q(255, 0, 0, 0)]], [[h(66, 1)]]),
      printed: "00200 deny ip from any to 127.0.0.0/8",
    },
    {
      text: "300 deny tcp from 198.51.100.7 to 192.0.2.1 telnet",
      words: rule(300, 0, [
        [h(3, 1, 6)],
        [h(4, 3, 1), q(198, 51, 100, 7), 0xffffffff],
        [h(5, 3, 1), q(192, 0, 2, 1), 0xffffffff],
        [h(13, 2, 1), 23 | (23 << 16)],
      ], [[h(66, 1)]]),
      printed: "00300 deny tcp from 198.51.100.7 to 192.0.2.1 23",
    },
    {
      text: "400 deny ip from 123.45.67.0/24 to 192.0.2.1",
      printed: "00400 deny ip from 123.45.67.0/24 to 192.0.2.1",
    },
    {
      text: "500 allow tcp from any to any established",
      words: rule(500, 0, [[h(3, 1, 6)], [h(21, 1)]], [[h(65, 1)]]),
      printed: "00500 allow tcp from any to any established",
    },
    {
      text: "600 allow tcp from 10.0.0.0/8 1024-65535 to 192.0.2.0/24 22,80,443 setup",
      words: rule(600, 0, [
        [h(3, 1, 6)],
        [h(4, 3, 1), q(10, 0, 0, 0), q(255, 0, 0, 0)],
        [h(12, 2, 1), (1024 | (65535 << 16)) >>> 0],
        [h(5, 3, 1), q(192, 0, 2, 0), q(255, 255, 255, 0)],
        [h(13, 4, 3), 22 | (22 << 16), 80 | (80 << 16), 443 | (443 << 16)],
        [h(22, 1)],
      ], [[h(65, 1)]]),
      printed: "00600 allow tcp from 10.0.0.0/8 1024-65535 to 192.0.2.0/24 22,80,443 setup",
    },
    {
      text: "700 check-state",
      words: rule(700, 0, [], [[h(71, 1)]]),
      printed: "00700 check-state :default",
    },
    {
      text: "800 allow tcp from 10.0.0.0/24 to any setup keep-state",
      words: rule(800, 0, [
        [h(25, 1)], [h(3, 1, 6)], [h(4, 3, 1), q(10, 0, 0, 0), q(255, 255, 255, 0)], [h(22, 1)], [h(26, 1)],
      ], [[h(65, 1)]]),
      printed: "00800 allow tcp from 10.0.0.0/24 to any setup keep-state :default",
    },
    {
      text: "900 deny log ip from { 10.1.2.3 or 10.2.3.4 } to any in",
      words: rule(900, 0, [
        [h(4, 3, 1, OR), q(10, 1, 2, 3), 0xffffffff], [h(4, 3, 1), q(10, 2, 3, 4), 0xffffffff], [h(17, 1)],
      ], [[h(64, 1)], [h(66, 1)]]),
      printed: "00900 deny log ip from { 10.1.2.3 or 10.2.3.4 } to any in",
    },
    {
      text: "1000 count ip from 192.168.2.0/24 to any out",
      words: rule(1000, 0, [[h(4, 3, 1), q(192, 168, 2, 0), q(255, 255, 255, 0)], [h(17, 1, 0, NOT)]], [[h(69, 1)]]),
      printed: "01000 count ip from 192.168.2.0/24 to any out",
    },
    {
      text: "1100 allow ipv6-icmp from :: to ff02::/16",
      words: rule(1100, 0, [
        [h(3, 1, 58)],
        [h(8, 9, 1), 0, 0, 0, 0, ~0 >>> 0, ~0 >>> 0, ~0 >>> 0, ~0 >>> 0],
        [h(9, 9, 1), q(0xff, 0x02, 0, 0), 0, 0, 0, q(0xff, 0xff, 0, 0), 0, 0, 0],
      ], [[h(65, 1)]]),
      printed: "01100 allow ipv6-icmp from :: to ff02::/16",
    },
    {
      text: "1200 allow ipv6-icmp from any to any icmp6types 2,135,136",
      words: rule(1200, 0, [[h(3, 1, 58)], [h(24, 9), 1 << 2, 0, 0, 0, (1 << 7) | (1 << 8), 0, 0, 0]], [[h(65, 1)]]),
      printed: "01200 allow ipv6-icmp from any to any icmp6types 2,135,136",
    },
    {
      text: "1300 allow icmp from any to any icmptypes 0,3,8,11",
      words: rule(1300, 0, [[h(3, 1, 1)], [h(23, 9), (1 << 0) | (1 << 3) | (1 << 8) | (1 << 11), 0, 0, 0, 0, 0, 0, 0]], [[h(65, 1)]]),
      printed: "01300 allow icmp from any to any icmptypes 0,3,8,11",
    },
    {
      text: "1400 allow udp from me to any 53 keep-state",
      printed: "01400 allow udp from me to any 53 keep-state :default",
    },
    {
      text: "1500 allow ip from any to any frag",
      printed: "01500 allow ip from any to any frag",
    },
    {
      text: "1600 deny tcp from any to any tcpflags syn,!ack",
      printed: "01600 deny tcp from any to any setup",
    },
    {
      text: "1700 unreach host tcp from any to any",
      words: rule(1700, 0, [[h(3, 1, 6)]], [[h(67, 1, 1)]]),
      printed: "01700 reject tcp from any to any",
    },
    {
      text: "1800 reset tcp from any to me 113",
      words: rule(1800, 0, [[h(3, 1, 6)], [h(7, 1)], [h(13, 2, 1), 113 | (113 << 16)]], [[h(68, 1)]]),
      printed: "01800 reset tcp from any to me 113",
    },
    {
      text: "1900 skipto 3000 ip from any to any not recv epair*",
      words: rule(1900, 0, [[h(15, 5, 0, NOT), q(0x65, 0x70, 0x61, 0x69), q(0x72, 0x2a, 0, 0), 0, 0]], [[h(70, 1, 3000)]]),
      printed: "01900 skipto 3000 ip from any to any not recv epair*",
    },
    {
      text: "2000 set 3 allow { tcp or udp } from 10.0.0.0:255.0.255.0 to not table(7) http",
      words: rule(2000, 3, [
        [h(3, 1, 6, OR)], [h(3, 1, 17)], [h(4, 3, 1), q(10, 0, 0, 0), q(255, 0, 255, 0)], [h(11, 1, 7, NOT)], [h(13, 2, 1), 80 | (80 << 16)],
      ], [[h(65, 1)]]),
      printed: "02000 allow { tcp or udp } from 10.0.0.0:255.0.255.0 to not table(7) 80",
    },
    {
      text: "2100 allow tcp from any to any 80,443 out xmit em0 keep-state",
      printed: "02100 allow tcp from any to any 80,443 out xmit em0 keep-state :default",
    },
    {
      text: "2200 count log logamount 5 ip4 from any to any ipttl 1-2,255 ipid 0x10 iplen 20-40",
      printed: "02200 count log logamount 5 ip4 from any to any ipttl 1-2,255 ipid 16 iplen 20-40",
    },
    {
      text: "2300 unreach6 port ip6 from 2001:db8::1,2001:db8:1::/48 to any",
      printed: "02300 unreach6 port ip6 from 2001:db8::1,2001:db8:1::/48 to any",
    },
    {
      text: "2400 nat 1 ip from any to any via em0 layer2",
      words: rule(2400, 0, [[h(14, 5), q(0x65, 0x6d, 0x30, 0), 0, 0, 0], [h(31, 1)]], [[h(72, 1, 1)]]),
      printed: "02400 nat 1 ip from any to any via em0 layer2",
    },
  ];
  for (const c of cases) {
    test(c.text, () => {
      if (c.words) assert.deepEqual(words(c.text), c.words);
      assert.equal(formatRule(compileRule(c.text)), c.printed);
      assert.deepEqual(words(formatRule(compileRule(c.text), { sets: true })), words(c.text), "the printed text (with its set) reads back to the same words");
    });
  }
});

describe("ipfw's normalisations", () => {
  const same = (a: string, b: string) => test(`"${a}" compiles as "${b}"`, () => assert.deepEqual(words(a), words(b)));
  same("100 accept ip from any to any", "100 allow ip from any to any");
  same("100 permit all from any to any", "100 pass ip from any to any");
  same("100 drop ip from any to any", "100 deny ip from any to any");
  same("100 deny ip from any to any not in", "100 deny ip from any to any out");
  same("100 deny ip from any to any not out", "100 deny ip from any to any in");
  same("100 deny tcp from any to any tcpflags syn,!ack", "100 deny tcp from any to any setup");
  same("100 deny tcp from any to any estab", "100 deny tcp from any to any established");
  same("100 deny ip from any to any fragment", "100 deny ip from any to any frag");
  same("100 deny ip from any to any bridged", "100 deny ip from any to any layer2");
  same("100 deny ip from any to any !frag", "100 deny ip from any to any not frag");
  same("100 deny ip from 10.1.2.3/8 to any", "100 deny ip from 10.0.0.0/8 to any");
  same("100 deny ip from 10.0.0.1/32 to any", "100 deny ip from 10.0.0.1 to any");
  same("100 deny ip from 10.0.0.0/0 to any", "100 deny ip from any to any");
  same("100 deny ip from 10.0.0.1,0.0.0.0/0 to any", "100 deny ip from any to any");
  same("100 deny ip from any to any via any", "100 deny ip from any to any");
  same("100 deny tcp from any any to any any", "100 deny tcp from any to any");
  same("100 deny 6 from any to any", "100 deny tcp from any to any");
  same("100 deny TCP from any to any", "100 deny tcp from any to any");
  same("100 deny icmp6 from any to any", "100 deny ipv6-icmp from any to any");
  same("100 deny ipv4 from any to any", "100 deny ip4 from any to any");
  same("100 deny ipv6 from any to any", "100 deny ip6 from any to any");
  same("100 deny tcp from any to any 0x50", "100 deny tcp from any to any 80");
  same("100 deny tcp from any to any 0120", "100 deny tcp from any to any 80");
  same("100 deny tcp from any to any www", "100 deny tcp from any to any http");
  same("100 deny tcp from any to any ftp\\-data", "100 deny tcp from any to any 20");
  same("100 unreach 3 ip from any to any", "100 unreach port ip from any to any");
  same("100 unreach6 4 ip6 from any to any", "100 unreach6 port ip6 from any to any");
  same("100 deny {tcp or udp } from any to any", "100 deny { tcp or udp } from any to any");
  same("100 deny ( tcp or udp ) from any to any", "100 deny { tcp or udp } from any to any");
  same("100 allow tcp from any to any keep-state :default", "100 allow tcp from any to any keep-state");
  same("100 check-state :any", "100 check-state");
  same("100 deny log logamount 0 ip from any to any", "100 deny log ip from any to any");
  same("100 deny ip from ::/0 to any", "100 deny ip from any to any");
  same("100 deny ip from 2001:db8::1,::/0 to any", "100 deny ip from 2001:db8::1 to any");
  same("100 deny ip from 2001:db8::1/ffff:ffff:: to any", "100 deny ip from 2001:db8::/32 to any");

  test("keep-state puts the probe first and the state last, wherever it was written (as ipfw)", () => {
    const w = compileRule("100 allow tcp from any to any keep-state frag");
    const r = decodeRule(w);
    assert.deepEqual(r.match.map((x) => x.opcode), [25, 3, 18, 26]);
    assert.equal(formatRule(w), "00100 allow tcp from any to any frag keep-state :default");
    const rs = decodeRule(compileRule("100 allow tcp from any to any record-state"));
    assert.deepEqual(rs.match.map((x) => x.opcode), [3, 26], "record-state has no probe");
    assert.equal(formatRule(compileRule("100 allow tcp from any to any record-state")), "00100 allow tcp from any to any record-state :default");
  });

  test("an unnumbered rule has number 0 (add numbers it), and the set goes in bits 16-20", () => {
    const r = parseRule("set 31 allow ip from any to any");
    assert.equal(r.rulenum, 0);
    assert.equal(r.set, 31);
    assert.equal(r.words[0], 31 << 16);
    assert.equal(formatRule(r.words, { sets: true }), "00000 set 31 allow ip from any to any");
  });

  test("ports and options in or-blocks, the ports of a list printed beside their address", () => {
    const t = "100 allow tcp from any 1024-2048 to { 10.0.0.1 or 10.0.0.2 } 22 { via em0 or not recv em1 } not setup";
    assert.equal(formatRule(compileRule(t)), "00100 allow tcp from any 1024-2048 to { 10.0.0.1 or 10.0.0.2 } 22 { via em0 or not recv em1 } not setup");
  });

  test("IPv6 text printed as inet_ntop(3) prints it (RFC 5952, dotted IPv4 tails)", () => {
    for (const [a, p] of [
      ["2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"], ["::ffff:192.0.2.1", "::ffff:192.0.2.1"], ["::1", "::1"],
      ["::192.0.2.1", "::192.0.2.1"], ["1:0:0:1:0:0:0:1", "1:0:0:1::1"], ["1:0:1:0:1:0:1:0", "1:0:1:0:1:0:1:0"], ["fe80::/10", "fe80::/10"],
      ["2001:db8::/ffff:0:ffff::", "2001::/ffff:0:ffff::"],
    ]) assert.equal(formatRule(compileRule(`100 deny ip from ${a} to any`)), `00100 deny ip from ${p} to any`, a);
  });

  test("words beyond the grammar print as ipfw prints them: ports in an or-block go with the options, named", () => {
    const w = Uint32Array.from(rule(100, 0, [[h(3, 1, 6)], [h(13, 2, 1, OR), 80 | (80 << 16)], [h(13, 2, 1), 443 | (443 << 16)], [h(99, 1)]], [[h(65, 1)]]));
    assert.equal(formatRule(w), "00100 allow tcp from any to any { dst-port 80 or dst-port 443 } [opcode 99 len 1]");
    const one = Uint32Array.from(rule(100, 0, [[h(3, 1, 6)], [h(14, 5, 0, OR), q(0x65, 0x6d, 0x30, 0), 0, 0, 0], [h(13, 2, 1), 80 | (80 << 16)]], [[h(65, 1)]]));
    assert.equal(formatRule(one), "00100 allow tcp from any to any { via em0 or dst-port 80 }");
    const two = Uint32Array.from(rule(100, 0, [[h(12, 2, 1), 53 | (53 << 16)], [h(12, 2, 1, NOT), 1 | (1023 << 16)]], [[h(67, 1, 256)]]));
    assert.equal(formatRule(two), "00100 reset ip from any to any src-port 53 not src-port 1-1023");
  });

  test("an or-block of protocols prints in the order written (ip4 last included)", () => {
    for (const b of ["{ ip4 or tcp }", "{ tcp or ip4 }", "{ ip6 or ip4 or tcp }", "{ udp or not ip4 or tcp }"]) {
      assert.equal(formatRule(compileRule(`100 allow ${b} from any to any`)), `00100 allow ${b} from any to any`);
    }
  });

  test("show prints packet and byte counters in columns as wide as the widest", () => {
    const lines = formatRules([
      { words: compileRule("100 allow ip from any to any via lo0"), packets: 7, bytes: 588 },
      { words: compileRule("65534 deny ip from any to any"), packets: 12345, bytes: 9 },
    ], { counters: true });
    assert.deepEqual(lines, [
      "00100     7 588 allow ip from any to any via lo0",
      "65534 12345   9 deny ip from any to any",
    ]);
  });
});

describe("errors name the rule and the column", () => {
  const cases: [string, number, RegExp][] = [
    ["100 allow tcp from 80 to any", 20, /^rule 100, column 20: expected an address after "from", found "80"$/],
    ["100 allow tcp from any", 23, /expected ports or "to" after the source address, found the end of the rule/],
    ["100 frobnicate ip from any to any", 5, /expected an action, found "frobnicate"/],
    ["100 divert 5000 ip from any to any", 5, /action "divert" is not supported/],
    ["100 allow foo from any to any", 11, /expected a protocol, found "foo"/],
    ["100 allow ip to any", 14, /expected "from" after the protocol, found "to"/],
    ["100 allow ip from any to", 25, /expected an address after "to", found the end/],
    ["100 allow ip from 10.0.0.1/33 to any", 28, /prefix length 0..32, found "33"/],
    ["100 allow ip from 10.0.0.1,10.0.0.x to any", 28, /expected an IPv4 address in the list, found "10.0.0.x"/],
    ["100 allow ip from 010.0.0.1 to any", 19, /expected an address after "from"/],
    ["100 allow ip from host.example.org to any", 19, /expected an address after "from"/],
    ["100 allow ip6 from 10.0.0.1 to any", 20, /expected an address after "from", found "10.0.0.1"/],
    ["100 allow tcp from any to any 80,,443", 34, /expected a port or service name in the list, found ",443"/],
    ["100 allow tcp from any to any 80-", 34, /expected the end of the range/],
    ["100 allow tcp from any to any 70000", 31, /70000 is out of range 0..65535/],
    ["100 allow tcp from any to any 90-80", 31, /the range 90-80 is empty/],
    ["100 allow tcp from any to any 80 tcpflags syn,foo", 47, /expected a TCP flag .*found "foo"/],
    ["100 allow icmp from any to any icmptypes 3,32", 44, /ICMP type 32 is out of range 0..31/],
    ["100 allow ip from any to any via", 33, /expected an interface name after "via", found the end/],
    ["100 allow ip from any to any via e*m", 34, /only a trailing "\*"/],
    ["100 allow ip from any to any via averyveryverylongname", 34, /longer than 15/],
    ["100 allow ip from any to any not not frag", 34, /double "not"/],
    ["100 allow ip from any to any not", 33, /expected an option after "not", found the end/],
    ["100 allow ip from any to any { frag or", 39, /expected an option after "or"/],
    ["100 allow ip from any to any { frag", 36, /expected "}" closing the or-block opened at column 30/],
    ["100 allow ip from any to any frag or in", 35, /"or" outside an or-block/],
    ["100 allow ip from any to any }", 30, /closes no or-block/],
    ["100 allow ip from any to any { frag or keep-state }", 40, /keep-state cannot be part of an or-block/],
    ["100 allow ip from any to any keep-state keep-state", 41, /only one keep-state/],
    ["100 allow ip from any to any keep-state :mystate", 41, /named states are not supported/],
    ["100 allow ip from not any to any", 19, /"not" before "any" never matches/],
    ["100 allow { ip or tcp } from any to any", 13, /"ip" matches every packet and cannot be part of an or-block/],
    ["100 allow tcp or udp from any to any", 15, /"or" outside an or-block/],
    ["100 allow { tcp or udp from any to any", 24, /expected "}" closing the or-block opened at column 11, found "from"/],
    ["100 skipto 50 ip from any to any", 12, /skipto 50 from rule 100 does not go forward/],
    ["100 skipto ip from any to any", 12, /expected a rule number after "skipto", found "ip"/],
    ["100 unreach 16 ip from any to any", 13, /code 16 is out of range 0..15/],
    ["100 unreach bogus ip from any to any", 13, /unknown ICMP unreachable code "bogus"/],
    ["100 check-state log", 17, /expected a state name \(:default\) or the end of the rule after "check-state", found "log"/],
    ["100 check-state :default from any", 26, /expected the end of the rule after check-state, found "from"/],
    ["100 allow ip from any to any uid 0", 30, /option "uid" is not supported/],
    ["100 allow ip from any to any bogus", 30, /expected an option, found "bogus"/],
    ["100 allow log log ip from any to any", 15, /"log" given twice/],
    ["65535 allow ip from any to any", 1, /out of range 1..65534/],
    ["100 set 32 allow ip from any to any", 9, /expected a set number 0..31/],
    ["100 allow ip from me6 to any", 19, /"me6" is not supported/],
    ["100 allow ip from 10.1.2.0/24{1,2} to any", 19, /address sets .* are not supported/],
    ["100 allow ip from table(foo) to any", 19, /table names are not supported/],
    ["100 allow ip from table(1,x) to any", 27, /expected a table value 0..4294967295, found "x"/],
    ["100 allow ip from table(65536) to any", 25, /table number 65536 is out of range 0..65535/],
    ["100 allow ip from any to any lookup uid 5", 37, /lookup uid is not supported: wavnet's tables hold addresses/],
    ["100 allow ip from any to any src-ip", 36, /expected an address after "src-ip", found the end of the rule/],
    ["100 allow ip from any to any { via em0 or src-ip any }", 43, /src-ip any matches every packet and cannot be part of an or-block/],
    ["100 allow ip from any to any ipttl 300", 36, /ipttl 300 is out of range 0..255/],
    ["100 allow 256 from any to any", 11, /protocol number 256 is out of range/],
    ["100 allow tcp from any to any via any not", 42, /expected an option after "not"/],
    ["100 allow tcp from any to any not via any", 31, /"not" before "via any" never matches/],
  ];
  for (const [text, col, re] of cases) {
    test(text, () => {
      assert.throws(() => compileRule(text), (e: unknown) => {
        assert.ok(e instanceof IpfwParseError, `an IpfwParseError, got ${String(e)}`);
        assert.match(e.message, re);
        assert.equal(e.column, col, e.message);
        assert.match(e.message, new RegExp(`^(rule 100|rule), column ${col}: `));
        return true;
      });
    });
  }

  test("compileRules names the bad rule of a list by its number or its index", () => {
    assert.equal(compileRules(["100 allow ip from any to any", "deny ip from any to any"]).length, 2);
    assert.throws(() => compileRules(["100 allow ip from any to any", "deny ip from any to bogus"]), /^IpfwParseError: rule at index 1, column 21: expected an address after "to", found "bogus"$/);
    assert.throws(() => compileRules(["allow ip from any to any", "300 deny ip from any to bogus"]), /^IpfwParseError: rule 300, column 25: /);
  });

  test("an unnumbered rule of a list is named by its index", () => {
    assert.throws(() => compileRule("allow tcp from 80 to any", { index: 3 }), /^IpfwParseError: rule at index 3, column 16: expected an address after "from", found "80"$/);
    try { compileRule("allow tcp from 80 to any", { index: 3 }); } catch (e) {
      assert.ok(e instanceof IpfwParseError);
      assert.equal(e.index, 3);
      assert.equal(e.expected, `an address after "from"`);
      assert.equal(e.found, "80");
    }
  });
});

// ---------------------------------------------------------------------------------------
// Generated rules: everything the grammar builds reads back to the same words.

const octet = fc.integer({ min: 0, max: 255 });
const v4 = fc.tuple(octet, octet, octet, octet).map((a) => a.join("."));
const v4item = fc.oneof(
  v4,
  fc.tuple(v4, fc.integer({ min: 1, max: 32 })).map(([a, l]) => `${a}/${l}`),
  fc.tuple(v4, v4).map(([a, m]) => `${a}:${m}`),
);
const hex16 = fc.integer({ min: 0, max: 0xffff }).map((n) => n.toString(16));
const v6 = fc.oneof(
  fc.array(hex16, { minLength: 8, maxLength: 8 }).map((g) => g.join(":")),
  fc.tuple(fc.array(hex16, { maxLength: 3 }), fc.array(hex16, { maxLength: 3 })).map(([a, b]) => `${a.join(":")}::${b.join(":")}`),
);
const v6item = fc.oneof(v6, fc.tuple(v6, fc.integer({ min: 1, max: 128 })).map(([a, l]) => `${a}/${l}`));
const list = (item: fc.Arbitrary<string>) => fc.array(item, { minLength: 1, maxLength: 4 }).map((a) => a.join(","));
const maybeNot = (s: fc.Arbitrary<string>) => fc.tuple(fc.boolean(), s).map(([n, x]) => (n ? `not ${x}` : x));
const orBlock = (item: fc.Arbitrary<string>) => fc.array(maybeNot(item), { minLength: 1, maxLength: 3 }).map((a) => (a.length === 1 ? a[0]! : `{ ${a.join(" or ")} }`));
const table = fc.oneof(
  fc.integer({ min: 0, max: 65535 }).map((n) => `table(${n})`),
  fc.tuple(fc.integer({ min: 0, max: 65535 }), fc.integer({ min: 0, max: 0xffffffff })).map(([n, v]) => `table(${n},${v})`),
);
const addr6 = fc.oneof(fc.constant("any"), fc.constant("me"), orBlock(list(v6item)), table);
const addr4 = fc.oneof(fc.constant("any"), fc.constant("me"), orBlock(fc.oneof(list(v4item), fc.constant("me"), table)), table);
const port = fc.integer({ min: 0, max: 65535 });
const portItem = fc.oneof(port.map(String), fc.tuple(port, port).map(([a, b]) => `${Math.min(a, b)}-${Math.max(a, b)}`), fc.constantFrom("http", "https", "ssh", "domain"));
/** Ports for a protocol field: service names only where getservbyname would find them (the last protocol is TCP, UDP or none). */
function portsFor(proto: string): fc.Arbitrary<string> {
  const last = proto.split(/[\s{}]+/).filter((x) => x && x !== "or" && x !== "not").pop()!;
  const item = ["ip", "all", "ip4", "tcp", "udp", "17"].includes(last) ? portItem : fc.oneof(port.map(String), fc.tuple(port, port).map(([a, b]) => `${Math.min(a, b)}-${Math.max(a, b)}`));
  return fc.oneof(fc.constant(""), maybeNot(list(item)).map((p) => ` ${p}`));
}
const proto4 = fc.oneof(fc.constantFrom("ip", "all", "ip4", "tcp", "udp", "icmp", "gre", "17", "132"), fc.array(fc.constantFrom("tcp", "udp", "icmp", "47", "not tcp", "ip4", "not ip4"), { minLength: 2, maxLength: 3 }).map((a) => `{ ${a.join(" or ")} }`));
const name = fc.stringMatching(/^[a-z][a-z0-9]{0,12}\*?$/);
const ranges = (max: number) => list(fc.oneof(fc.integer({ min: 0, max }).map(String), fc.tuple(fc.integer({ min: 0, max }), fc.integer({ min: 0, max })).map(([a, b]) => `${Math.min(a, b)}-${Math.max(a, b)}`)));
const flagList = (names: string[]) => fc.uniqueArray(fc.constantFrom(...names), { minLength: 1, maxLength: 4 }).chain((a) => fc.tuple(...a.map((n) => fc.boolean().map((neg) => (neg ? `!${n}` : n))))).map((a) => a.join(","));
const simpleOption = fc.oneof(
  fc.constantFrom("in", "out", "frag", "layer2", "established", "setup"),
  fc.tuple(fc.constantFrom("via", "recv", "xmit"), name).map(([k, n]) => `${k} ${n}`),
  flagList(["syn", "fin", "ack", "psh", "rst", "urg"]).map((f) => `tcpflags ${f}`),
  flagList(["mss", "window", "sack", "ts", "cc"]).map((f) => `tcpoptions ${f}`),
  fc.uniqueArray(fc.integer({ min: 0, max: 31 }), { minLength: 1, maxLength: 4 }).map((t) => `icmptypes ${t.join(",")}`),
  fc.uniqueArray(fc.integer({ min: 0, max: 201 }), { minLength: 1, maxLength: 4 }).map((t) => `icmp6types ${t.join(",")}`),
  ranges(255).map((r) => `ipttl ${r}`),
  ranges(65535).map((r) => `iplen ${r}`),
  ranges(65535).map((r) => `ipid ${r}`),
  // Family-neutral addresses: an IPv4 list after an ip6 protocol is an error (as in ipfw).
  fc.tuple(fc.constantFrom("src-ip", "dst-ip"), fc.oneof(table, fc.constant("me"))).map(([k, a]) => `${k} ${a}`),
);
const option = fc.oneof(
  { weight: 4, arbitrary: maybeNot(simpleOption) },
  { weight: 1, arbitrary: fc.array(maybeNot(simpleOption), { minLength: 2, maxLength: 3 }).map((a) => `{ ${a.join(" or ")} }`) },
);
const action = fc.oneof(
  fc.constantFrom("allow", "deny", "reject", "reset", "count", "accept", "drop"),
  fc.constantFrom(...["net", "host", "port", "needfrag", "filter-prohib"].map((c) => `unreach ${c}`), "unreach 13", "unreach6 no-route", "unreach6 7"),
  fc.integer({ min: 60001, max: 65534 }).map((n) => `skipto ${n}`),
  fc.integer({ min: 1, max: 65534 }).map((n) => `nat ${n}`),
);
const logPart = fc.oneof(fc.constant(""), fc.constant(" log"), fc.integer({ min: 0, max: 65535 }).map((n) => ` log logamount ${n}`));
const head = fc.tuple(fc.integer({ min: 1, max: 60000 }), fc.oneof(fc.constant(""), fc.integer({ min: 0, max: 31 }).map((s) => ` set ${s}`)), action, logPart)
  .map(([n, s, a, l]) => `${n}${s} ${a}${l}`);
const body = fc.oneof(
  proto4.chain((p) => fc.tuple(fc.constant(p), addr4, portsFor(p), addr4, portsFor(p))).map(([p, s, sp, d, dp]) => `${p} from ${s}${sp} to ${d}${dp}`),
  fc.tuple(fc.constantFrom("ip6", "ipv6", "ipv6-icmp", "tcp"), addr6, addr6).map(([p, s, d]) => `${p} from ${s} to ${d}`),
);
const state = fc.constantFrom("", " keep-state", " record-state", " keep-state :default");
const genRule = fc.oneof(
  { weight: 9, arbitrary: fc.tuple(head, body, fc.array(option, { maxLength: 4 }), state).map(([hd, b, o, st]) => `${hd} ${b}${o.map((x) => " " + x).join("")}${st}`) },
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 1, max: 65534 }), fc.constantFrom("", " :default", " :any"), logPart).map(([n, s, l]) => `${n} check-state${s}${s ? l : ""}`) },
);

/** Compile, or report the generator's text that failed to compile (a parser or a generator bug). */
function compiles(text: string): Uint32Array {
  try {
    return compileRule(text);
  } catch (e) {
    throw new Error(`generated rule did not compile: ${text}\n${String(e)}`);
  }
}

test("round trip: print(compile(x)) compiles to the same words, and prints the same again", () => {
  fc.assert(fc.property(genRule, (text) => {
    const w = compiles(text);
    const printed = formatRule(w, { sets: true });
    let w2: Uint32Array;
    try {
      w2 = compileRule(printed);
    } catch (e) {
      throw new Error(`the printed text did not compile:\n  rule: ${text}\n  printed: ${printed}\n  ${String(e)}`);
    }
    assert.deepEqual([...w2], [...w], `rule: ${text}\nprinted: ${printed}`);
    assert.equal(formatRule(w2, { sets: true }), printed);
  }), { numRuns: 3000 });
});

// ---------------------------------------------------------------------------------------
// Anything at all: a rule or an IpfwParseError, never another exception.

const VOCAB = [
  "100", "0", "65534", "65535", "set", "3", "32", "allow", "deny", "reject", "reset", "count", "skipto", "nat", "check-state",
  "unreach", "unreach6", "port", "host", "log", "logamount", "ip", "all", "tcp", "udp", "icmp", "ip4", "ip6", "ipv6-icmp",
  "from", "to", "any", "me", "me6", "not", "!", "or", "{", "}", "(", ")", "{tcp", "10.0.0.1", "10.0.0.0/8", "1.2.3.4:255.0.0.255",
  "1.2.3.4,5.6.7.8", "::1", "2001:db8::/32", "fe80::1%em0", "table(1)", "table(", "80", "80-90", "80,443", "http", "-", ",",
  "in", "out", "via", "recv", "xmit", "em0", "em*", "frag", "layer2", "setup", "established", "tcpflags", "syn,!ack",
  "tcpoptions", "mss,!sack", "icmptypes", "0,3,8", "icmp6types", "128", "ipttl", "iplen", "ipid", "1-64", "keep-state",
  "record-state", ":default", ":any", "uid", "prob", "0.5", "//", "!frag", "}}", "{{", "", "\u0000", "é", "0x50",
];
const soup = fc.array(fc.constantFrom(...VOCAB), { maxLength: 16 }).map((a) => a.join(" "));

function onlyParseErrors(text: string): void {
  let w: Uint32Array;
  try {
    w = compileRule(text);
  } catch (e) {
    if (e instanceof IpfwParseError) {
      assert.ok(e.column >= 1 && e.column <= text.length + 1, `column ${e.column} inside the text (${text.length}): ${e.message}`);
      return;
    }
    throw new Error(`${JSON.stringify(text)} threw ${String(e)}`);
  }
  // What compiles is well formed and reads back through the printer.
  const printed = formatRule(w, { sets: true });
  assert.deepEqual([...compileRule(printed)], [...w], `${JSON.stringify(text)} printed as ${printed}`);
}

test("token soup only ever compiles or throws IpfwParseError", () => {
  // Bare soup reaches the errors of every field; after a valid head it reaches the options,
  // where about one in fifteen compiles.
  const heads = fc.constantFrom("", "100 allow ", "allow tcp from any to any ", "200 deny ip from 10.0.0.0/8 to any 80 ", "check-state ");
  fc.assert(fc.property(fc.tuple(heads, soup).map(([hd, s]) => hd + s), onlyParseErrors), { numRuns: 8000 });
});

test("random strings only ever compile or throw IpfwParseError", () => {
  fc.assert(fc.property(fc.string({ unit: "grapheme-composite", maxLength: 80 }), onlyParseErrors), { numRuns: 3000 });
  fc.assert(fc.property(fc.string({ unit: "binary", maxLength: 80 }), onlyParseErrors), { numRuns: 3000 });
  fc.assert(fc.property(fc.tuple(genRule, fc.nat(), fc.string({ maxLength: 3 })).map(([r, at, s]) => r.slice(0, at % (r.length + 1)) + s + r.slice(at % (r.length + 1))), onlyParseErrors), { numRuns: 3000 });
});
