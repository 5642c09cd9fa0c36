// host/lib/addr.ts: the one IPv4 and the one IPv6 parser/formatter. Literal vectors (RFC
// 4291 2.2 input forms, RFC 5952 output, embedded IPv4, zones, prefixes), bad inputs
// rejected with a message naming the input, and round trips over random addresses checked
// against the WHATWG URL parser's IPv6 serializer (RFC 5952 compression) as an oracle.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import {
  parseIPv4, parseIPv4Bytes, formatIPv4, isIPv4, mask4, parseIPv6, parseIPv6Zoned, splitZone, formatIPv6, isIPv6, isIPv6Text,
  parseAddress, parsePrefix, parsePrefix6, mask6, isLinkLocal, isLinkScope,
} from "../host/lib/addr.js";
import { ConfigError } from "../host/lib/errors.js";
import * as core from "../host/core.js";
import * as units from "../host/lib/units.js";

const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
const bytes6 = (h: string) => Uint8Array.from(h.match(/../g)!.map((x) => parseInt(x, 16)));

/** Throws a ConfigError whose message matches re (and so names the input). */
function rejects(f: () => unknown, re: RegExp): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof ConfigError, `a ConfigError, got ${String(e)}`);
    assert.match(e.message, re);
    return true;
  });
}

describe("IPv4 text", () => {
  test("dotted quads to host-order numbers and network-order bytes, and back", () => {
    for (const [text, n] of [["10.0.0.1", 0x0a000001], ["0.0.0.0", 0], ["255.255.255.255", 0xffffffff], ["192.0.2.128", 0xc0000280], ["127.0.0.1", 0x7f000001]] as const) {
      assert.equal(parseIPv4(text), n, text);
      assert.equal(formatIPv4(n), text);
      assert.equal(hex(parseIPv4Bytes(text)), n.toString(16).padStart(8, "0"));
      assert.equal(formatIPv4(parseIPv4Bytes(text)), text);
      assert.ok(isIPv4(text));
    }
  });

  test("a leading zero is decimal (as every parser this one replaced read it), never octal", () => {
    assert.equal(parseIPv4("010.000.0.01"), 0x0a000001);
    assert.equal(formatIPv4(parseIPv4("010.000.0.01")), "10.0.0.1", "formatting gives the one canonical text");
  });

  test("bad inputs are ConfigErrors naming the input (and what it was, when the caller says)", () => {
    rejects(() => parseIPv4("10.0.0.256"), /^"10\.0\.0\.256" is not an IPv4 address: 256 is over 255$/);
    rejects(() => parseIPv4("999.1.1.1"), /"999\.1\.1\.1" is not an IPv4 address: 999 is over 255/);
    for (const s of ["10.0.0", "1.2.3.4.5", " 1.2.3.4", "1.2.3.4 ", "0x1.2.3.4", "1.2.3.-4", "1234.1.1.1", "", "1..2.3", "١.٢.٣.٤", "1.2.3.4/24", "::1"]) {
      rejects(() => parseIPv4(s), new RegExp(`^${JSON.stringify(s).replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")} is not an IPv4 address \\(a\\.b\\.c\\.d\\)$`));
      assert.equal(isIPv4(s), false, s);
    }
    rejects(() => parseIPv4(undefined as unknown as string), /undefined is not an IPv4 address/);
    rejects(() => parseIPv4("eth0", "ping: destination"), /^ping: destination: "eth0" is not an IPv4 address \(a\.b\.c\.d\)$/);
    assert.throws(() => formatIPv4(new Uint8Array(5)), /4 bytes, got 5/);
  });

  test("masks", () => {
    assert.equal(mask4(0), 0);
    assert.equal(mask4(24), 0xffffff00);
    assert.equal(mask4(32), 0xffffffff);
  });
});

describe("IPv6 text", () => {
  test("RFC 5952 4: one text per address (leading zeros, longest run as ::, first on a tie, one group not compressed, lower case)", () => {
    const cases: [string, string][] = [
      ["2001:0db8::0001", "2001:db8::1"], // 4.1
      ["2001:db8:0:0:0:0:2:1", "2001:db8::2:1"], // 4.2.1
      ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"], // 4.2.2
      ["2001:0:0:1:0:0:0:1", "2001:0:0:1::1"], // 4.2.3: the longer run
      ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"], // 4.2.3: the first of equal runs
      ["2001:DB8::ABCD:EF", "2001:db8::abcd:ef"], // 4.3
      ["2001:0db8:0000:0000:0001:0000:0000:0001", "2001:db8::1:0:0:1"],
      ["1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7"],
      ["0:0:0:0:0:0:0:0", "::"],
      ["::", "::"],
      ["::1", "::1"],
      ["1::", "1::"],
      ["fd00:0:0:1::", "fd00:0:0:1::"],
      ["fe80::1", "fe80::1"],
      ["1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"],
      ["::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"],
    ];
    for (const [text, want] of cases) assert.equal(formatIPv6(parseIPv6(text)), want, text);
    // RFC 5952 2.1 and 2.2: the same address, many texts.
    for (const t of ["2001:db8:aaaa:bbbb:cccc:dddd:eeee:0001", "2001:db8:aaaa:bbbb:cccc:dddd:eeee:001", "2001:db8:aaaa:bbbb:cccc:dddd:eeee:01", "2001:db8:aaaa:bbbb:cccc:dddd:eeee:1"]) {
      assert.equal(formatIPv6(parseIPv6(t)), "2001:db8:aaaa:bbbb:cccc:dddd:eeee:1", t);
    }
    for (const t of ["2001:db8:0:0:0::1", "2001:db8:0:0::1", "2001:db8:0::1", "2001:db8::1"]) assert.equal(formatIPv6(parseIPv6(t)), "2001:db8::1", t);
  });

  test("RFC 4291 2.2 form 3: an embedded dotted IPv4 tail (output stays in hex, as the kernel's)", () => {
    assert.equal(hex(parseIPv6("::ffff:10.0.0.1")), "00000000000000000000ffff0a000001");
    assert.equal(formatIPv6(parseIPv6("::ffff:10.0.0.1")), "::ffff:a00:1");
    assert.equal(formatIPv6(parseIPv6("64:ff9b::192.0.2.33")), "64:ff9b::c000:221");
    assert.equal(formatIPv6(parseIPv6("::1.2.3.4")), "::102:304");
    assert.equal(formatIPv6(parseIPv6("1:2:3:4:5:6:1.2.3.4")), "1:2:3:4:5:6:102:304");
    assert.equal(formatIPv6(parseIPv6("0:0:0:0:0:FFFF:129.144.52.38")), "::ffff:8190:3426");
  });

  test("bad inputs are ConfigErrors naming the input and the reason", () => {
    const bad: [string, RegExp][] = [
      ["fd00::1::2", /^"fd00::1::2" is not an IPv6 address: "::" appears more than once$/],
      ["1:2:3:4:5:6:7", /"1:2:3:4:5:6:7" is not an IPv6 address: 7 groups, not 8/],
      ["1:2:3:4:5:6:7:8:9", /9 groups, not 8/],
      ["1::2:3:4:5:6:7:8", /"1::2:3:4:5:6:7:8" is not an IPv6 address: too many groups for "::"/],
      ["12345::", /group "12345" is not 1-4 hex digits/],
      ["g::1", /group "g" is not 1-4 hex digits/],
      [":1::", /":1::" is not an IPv6 address: it starts with a single ":"/],
      ["1::2:", /it ends with a single ":"/],
      ["1:::2", /":::" is not a separator/],
      ["::ffff:1.2.3.256", /^"::ffff:1\.2\.3\.256" is not an IPv6 address: "1\.2\.3\.256" is not an IPv4 address: 256 is over 255$/],
      ["::ffff:1.2.3", /"1\.2\.3" is not an IPv4 address/],
      ["::1.2.3.4:5", /group "1\.2\.3\.4" is not 1-4 hex digits/],
      ["1:2:3:4:5:6:7:1.2.3.4", /9 groups, not 8/],
      ["1.2.3.4", /^"1\.2\.3\.4" is not an IPv6 address \(like "fd00::1"\)$/],
      ["", /^"" is not an IPv6 address/],
      ["fe80::1%eth0", /^"fe80::1%eth0" is not an IPv6 address: a zone \(%eth0\) is not taken here$/],
      [" ::1", /group " " is not 1-4 hex digits/],
    ];
    for (const [s, re] of bad) {
      rejects(() => parseIPv6(s), re);
      assert.equal(isIPv6(s), false, s);
    }
    rejects(() => parseIPv6(7 as unknown as string, "route -6 add: gateway"), /^route -6 add: gateway: expected an IPv6 address, got 7$/);
    assert.throws(() => formatIPv6(new Uint8Array(4)), /16 bytes, got 4/);
  });

  test("zones: split off where a caller takes them, appended when formatting", () => {
    assert.deepEqual(splitZone("fe80::1%epair0a"), { address: "fe80::1", zone: "epair0a" });
    assert.deepEqual(splitZone("fd00::1"), { address: "fd00::1" });
    const z = parseIPv6Zoned("FE80::0001%eth0");
    assert.equal(z.zone, "eth0");
    assert.equal(formatIPv6(z.bytes, z.zone), "fe80::1%eth0");
    assert.equal(parseIPv6Zoned("fd00::1").zone, undefined);
    rejects(() => parseIPv6Zoned("fe80::1%"), /"fe80::1%" is not an IPv6 address: the zone after "%" is empty/);
    assert.equal(isIPv6("fe80::1%eth0"), false);
    assert.equal(isIPv6("fe80::1%eth0", { zone: true }), true);
    assert.equal(isIPv6("fe80::1%", { zone: true }), false);
    assert.ok(isLinkLocal(parseIPv6("fe80::1")) && !isLinkLocal(parseIPv6("fd00::1")));
    assert.ok(isLinkScope(parseIPv6("ff02::1")) && !isLinkScope(parseIPv6("ff05::1")));
  });
});

describe("either family and prefixes", () => {
  test("parseAddress picks the family by a colon", () => {
    assert.deepEqual(parseAddress("10.0.0.1"), { family: 4, bytes: Uint8Array.of(10, 0, 0, 1) });
    const six = parseAddress("fd00::1");
    assert.equal(six.family, 6);
    assert.equal(hex(six.bytes), "fd000000000000000000000000000001");
    assert.ok(isIPv6Text("::") && !isIPv6Text("10.0.0.1") && !isIPv6Text(undefined));
    rejects(() => parseAddress("10.0.0.1:80", "connect"), /^connect: "10\.0\.0\.1:80" is not an IPv6 address/);
  });

  test("prefixes: default, bare addresses, lengths checked per family", () => {
    assert.deepEqual(parsePrefix("10.1.0.0/16"), [0x0a010000, 16]);
    assert.deepEqual(parsePrefix("default"), [0, 0]);
    assert.deepEqual(parsePrefix("10.0.0.1"), [0x0a000001, 32]);
    rejects(() => parsePrefix("10.0.0.1", "ifconfig", false), /^ifconfig: "10\.0\.0\.1" needs a prefix length \("\/24"\)$/);
    rejects(() => parsePrefix("10.0.0.0/33", "route"), /^route: prefix length "33" in "10\.0\.0\.0\/33" is not 0-32$/);
    rejects(() => parsePrefix("10.0.0.0/x"), /prefix length "x"/);
    rejects(() => parsePrefix("10.0.0.300/8"), /"10\.0\.0\.300" is not an IPv4 address: 300 is over 255/);
    const [a, p] = parsePrefix6("fd00:1::/64");
    assert.equal(formatIPv6(a), "fd00:1::");
    assert.equal(p, 64);
    assert.equal(parsePrefix6("default")[1], 0);
    assert.equal(parsePrefix6("::1")[1], 128);
    rejects(() => parsePrefix6("fd00::/129"), /prefix length "129" in "fd00::\/129" is not 0-128/);
    rejects(() => parsePrefix6("fd00::9", "ifconfig", false), /needs a prefix length \("\/64"\)/);
    assert.equal(formatIPv6(mask6(parseIPv6("fd00:1:2:3:4:5:6:7"), 52)), "fd00:1:2::");
  });

  test("the public names keep working: core's exports and units' topology aliases are lib/addr.ts's", () => {
    assert.equal(core.parseIPv4, parseIPv4);
    assert.equal(core.formatIPv6, formatIPv6);
    assert.equal(core.parsePrefix6, parsePrefix6);
    assert.equal(core.parseIPv4("10.0.0.1", "x"), 0x0a000001);
    assert.equal(units.v4("10.0.0.1"), 0x0a000001);
    assert.equal(units.v4text(0x0a000001), "10.0.0.1");
    assert.deepEqual(units.v6("fd00::1"), [0xfd00, 0, 0, 0, 0, 0, 0, 1]);
    assert.ok(units.isV6("fd00::1") && !units.isV6("10.0.0.1"));
    assert.equal(units.mask(8), 0xff000000);
    assert.throws(() => units.v4("10.0.0.256"), /: "10\.0\.0\.256" is not an IPv4 address: 256 is over 255$/);
  });
});

describe("round trips over random addresses", () => {
  /** mulberry32: a small seeded generator, so a failure names a reproducible seed. */
  function rng(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }
  const SEED = 0x5952;
  const N = 3000;

  test("IPv4: format then parse is the identity, on numbers and bytes", () => {
    const r = rng(SEED);
    for (let i = 0; i < N; i++) {
      const a = Math.floor(r() * 2 ** 32);
      const text = formatIPv4(a);
      assert.equal(parseIPv4(text), a, `seed ${SEED} #${i}: ${text}`);
      assert.equal(new URL(`http://${text}/`).hostname, text, "the URL parser reads the same address");
      assert.equal(formatIPv4(parseIPv4Bytes(text)), text);
    }
  });

  test("IPv4 and IPv4 prefixes: random near-miss texts are taken or refused exactly as the dotted-quad rule says (the fast path agrees with it)", () => {
    // The rule, written out: four groups of 1-3 ASCII digits, each 0-255; a prefix is such
    // an address, "/", 1-3 digits, 0-32. Texts are made of the characters that matter.
    const quadRule = (t: string) => {
      const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(t);
      return m && m.slice(1).every((p) => Number(p) <= 255) ? m.slice(1).reduce((a, p) => a * 256 + Number(p), 0) : undefined;
    };
    const r = rng(SEED + 7);
    const alphabet = "0123456789012345678901234567890123456789....//  a-٣";
    let taken = 0;
    for (let i = 0; i < 40_000; i++) {
      const len = 1 + Math.floor(r() * 20);
      let t = "";
      for (let j = 0; j < len; j++) t += alphabet[Math.floor(r() * alphabet.length)];
      const n = () => `${r() < 0.1 ? "0" : ""}${Math.floor(r() * 300)}`;
      const pick = r();
      if (pick < 0.3) t = `${n()}.${n()}.${n()}.${t}`;
      else if (pick < 0.7) t = `${n()}.${n()}.${n()}.${n()}/${Math.floor(r() * 40)}${r() < 0.2 ? t : ""}`;
      const want = quadRule(t);
      if (want === undefined) assert.throws(() => parseIPv4(t), ConfigError, `seed ${SEED + 7} #${i}: ${JSON.stringify(t)} is not an address`);
      else assert.equal(parseIPv4(t), want, `seed ${SEED + 7} #${i}: ${JSON.stringify(t)}`);
      const slash = t.indexOf("/");
      const addr = slash < 0 ? undefined : quadRule(t.slice(0, slash));
      const plen = slash < 0 ? "" : t.slice(slash + 1);
      if (slash >= 0 && addr !== undefined && /^\d{1,3}$/.test(plen) && Number(plen) <= 32) {
        taken++;
        assert.deepEqual(parsePrefix(t), [addr, Number(plen)], `seed ${SEED + 7} #${i}: ${JSON.stringify(t)}`);
      } else if (slash >= 0) assert.throws(() => parsePrefix(t), ConfigError, `seed ${SEED + 7} #${i}: ${JSON.stringify(t)} is not a prefix`);
    }
    assert.ok(taken > 1000, `enough prefixes were taken to compare (${taken})`);
  });

  test("IPv6: parse(format(b)) = b, format is RFC 5952's (the URL serializer agrees), and every other text of b parses to b", () => {
    const r = rng(SEED + 1);
    const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)];
    for (let i = 0; i < N; i++) {
      // Groups zero often (runs of zeros are where the rules are), small or full otherwise.
      const g = Array.from({ length: 8 }, () => (r() < 0.45 ? 0 : r() < 0.3 ? Math.floor(r() * 16) : Math.floor(r() * 65536)));
      const b = new Uint8Array(16);
      g.forEach((x, j) => ((b[2 * j] = x >> 8), (b[2 * j + 1] = x & 255)));
      const at = `seed ${SEED + 1} #${i}: ${g.map((x) => x.toString(16)).join(":")}`;
      const text = formatIPv6(b);
      assert.deepEqual(parseIPv6(text), b, at);
      assert.equal(text, new URL(`http://[${text}]/`).hostname.slice(1, -1), `${at}: RFC 5952 text`);
      assert.ok(isIPv6(text), at);
      // The uncompressed text, groups padded and cased at random.
      const full = g.map((x) => { const h = x.toString(16).padStart(pick([1, 2, 3, 4]), "0"); return r() < 0.5 ? h.toUpperCase() : h; }).join(":");
      assert.deepEqual(parseIPv6(full), b, `${at}: ${full}`);
      assert.equal(formatIPv6(parseIPv6(full)), text, `${at}: ${full}`);
      // Any zero run of the groups compressed (not only the longest).
      const z = g.findIndex((x) => x === 0);
      if (z >= 0) {
        let e = z;
        while (e < 8 && g[e] === 0) e++;
        const cut = `${g.slice(0, z).map((x) => x.toString(16)).join(":")}::${g.slice(e).map((x) => x.toString(16)).join(":")}`;
        assert.deepEqual(parseIPv6(cut), b, `${at}: ${cut}`);
      }
      // The last 32 bits as a dotted IPv4 tail.
      const dotted = `${g.slice(0, 6).map((x) => x.toString(16)).join(":")}:${formatIPv4(((g[6] << 16) | g[7]) >>> 0)}`;
      assert.deepEqual(parseIPv6(dotted), b, `${at}: ${dotted}`);
      // A zone rides along.
      const zt = formatIPv6(b, "eth0");
      assert.deepEqual(parseIPv6Zoned(zt), { bytes: b, zone: "eth0" }, at);
    }
  });

  test("IPv6: random bytes never format to text the parser rejects (and random text never throws anything but a ConfigError)", () => {
    const r = rng(SEED + 2);
    const alphabet = "0123456789abcdefABCDEF:.%x ";
    for (let i = 0; i < N; i++) {
      const s = Array.from({ length: 1 + Math.floor(r() * 24) }, () => alphabet[Math.floor(r() * alphabet.length)]).join("");
      try {
        const b = parseIPv6(s);
        assert.deepEqual(parseIPv6(formatIPv6(b)), b, s);
      } catch (e) {
        assert.ok(e instanceof ConfigError, `${JSON.stringify(s)}: ${String(e)}`);
        assert.ok(e.message.includes(JSON.stringify(s)), `the message names the input: ${e.message}`);
      }
    }
  });
});
