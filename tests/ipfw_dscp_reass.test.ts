// ipfw's dscp match, setdscp and reass actions (docs/ipfw.md, docs/ipfw_insn.md O_DSCP,
// O_SETDSCP, O_REASS): the compiler's words and text, the kernel's checks, and their effect
// on packets forwarded by (or sent to) a firewall vnet.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { Kernel, ping, type Interface, type Vnet } from "../host/index.js";
import { addAddress, addRoute, setForwarding, ipStats } from "../host/admin/inet.js";
import { addAddress6, addRoute6, setForwarding6 } from "../host/admin/inet6.js";
import { ipfwAdd, ipfwList, ipfwSetDefault } from "../host/admin/ipfw.js";
import { ipfwCommand, kernelIpfwBackend, parseRule, formatRule, IpfwParseError } from "../host/ipfw/index.js";
import { clock } from "./conformance/lab.js";
import { mbufsInUse, ipPacket, icmp, cksum, ether } from "./helpers/inet.js";

const O_DSCP = 32;
const O_SETDSCP = 74;
const O_REASS = 75;
const O_DENY = 66;
const hdr = (op: number, len: number, arg = 0) => (op | (len << 8) | (arg << 16)) >>> 0;

describe("ipfw dscp / setdscp / reass: the compiler", () => {
  test("words: dscp is a 64-bit bitmap, setdscp carries the code point, reass nothing", () => {
    assert.deepEqual([...parseRule("100 deny ip from any to any dscp 9").words.slice(2, 5)], [hdr(O_DSCP, 3), 1 << 9, 0]);
    assert.deepEqual([...parseRule("100 deny ip from any to any dscp ef,cs7,1").words.slice(2, 5)], [hdr(O_DSCP, 3), 1 << 1, ((1 << (46 - 32)) | (1 << (56 - 32))) >>> 0]);
    assert.deepEqual([...parseRule("100 setdscp af41 ip from any to any").words.slice(2)], [hdr(O_SETDSCP, 1, 34)]);
    assert.deepEqual([...parseRule("100 reass all from any to any in").words.slice(2)], [hdr(17, 1), hdr(O_REASS, 1)]);
  });

  test("text: names where ipfw has one (0 is be), numbers otherwise; round trip", () => {
    for (const [inp, out] of [
      ["100 setdscp 9 ip from any to any", "00100 setdscp 9 ip from any to any"],
      ["100 setdscp 46 ip from any to any", "00100 setdscp ef ip from any to any"],
      ["100 count ip from any to any dscp cs0,af11,63", "00100 count ip from any to any dscp be,af11,63"],
      ["100 reass all from any to any in", "00100 reass ip from any to any in"],
    ]) {
      assert.equal(formatRule(parseRule(inp!).words), out);
      assert.equal(formatRule(parseRule(out!.replace(/^0+/, "")).words), out, "the printed rule parses back the same");
    }
  });

  test("refused, naming what is wrong", () => {
    for (const [r, re] of [
      ["100 setdscp 64 ip from any to any", /DSCP code point 64 is out of range 0\.\.63/],
      ["100 setdscp af99 ip from any to any", /expected a DSCP code point .* found "af99"/],
      ["100 setdscp tablearg ip from any to any", /tablearg.* not supported/],
      ["100 setdscp", /DSCP code point/],
      ["100 deny ip from any to any dscp 9,x", /expected a DSCP code point .* found "x"/],
      ["100 deny ip from any to any dscp 100", /out of range 0\.\.63/],
    ] as const) {
      assert.throws(() => parseRule(r), (e: unknown) => e instanceof IpfwParseError && re.test(e.message), r);
    }
  });
});

// A -- B -- C, B forwarding, its firewall under test; frames injected on B's link to A,
// what B forwards read from a capture on C's end.
async function lab() {
  const k = await Kernel.boot({ config: ["if_epair", "inet", "inet6", "udp", "ipfw"], seed: 7 });
  const [A, B, C] = ["A", "B", "C"].map((n) => k.createVnet(n)) as [Vnet, Vnet, Vnet];
  const link = (x: Vnet, y: Vnet): [Interface, Interface] => {
    const [a, b] = k.epair(x, y);
    a.setUp();
    b.setUp();
    return [a, b];
  };
  const [a, ba] = link(A, B);
  const [bc, c] = link(B, C);
  addAddress(k, a, "10.0.0.1/24");
  addAddress(k, ba, "10.0.0.2/24");
  addAddress(k, bc, "10.0.1.2/24");
  addAddress(k, c, "10.0.1.1/24");
  addAddress6(k, a, "fd00:0::1/64");
  addAddress6(k, ba, "fd00:0::2/64");
  addAddress6(k, bc, "fd00:1::2/64");
  addAddress6(k, c, "fd00:1::1/64");
  setForwarding(k, B, true);
  setForwarding6(k, B, true);
  addRoute(k, A, "10.0.1.0/24", { gateway: "10.0.0.2" });
  addRoute(k, C, "10.0.0.0/24", { gateway: "10.0.1.2" });
  addRoute6(k, A, "fd00:1::/64", { gateway: "fd00:0::2" });
  addRoute6(k, C, "fd00:0::/64", { gateway: "fd00:1::2" });
  for (const v of [A, B, C]) ipfwSetDefault(k, v, true);
  clock(k).advance(5_000_000); // DAD done
  return { k, A, B, C, a, ba, bc, c };
}
type Lab = Awaited<ReturnType<typeof lab>>;

async function done(l: Lab): Promise<void> {
  for (const v of [l.A, l.B, l.C]) v.destroy();
  assert.equal(mbufsInUse(l.k), 0, "no mbuf left");
  l.k.shutdown();
}

async function settle(l: Lab): Promise<void> {
  clock(l.k).advance(10_000);
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
}

/** Frames C receives while fn runs. */
async function captured(l: Lab, fn: () => Promise<void>): Promise<Uint8Array[]> {
  const frames: Uint8Array[] = [];
  const cap = l.c.capture();
  const reading = (async () => {
    for await (const f of cap) if (f.dir === "in") frames.push(f.data.slice());
  })();
  try {
    await fn();
  } finally {
    await cap.stop();
    await reading;
  }
  return frames;
}

/** An IPv4 echo request with that TOS from A to C injected on B; the forwarded IPv4 headers C sees. */
async function forward4(l: Lab, tos: number): Promise<Uint8Array[]> {
  const frames = await captured(l, async () => {
    const p = ipPacket({ src: "10.0.0.1", dst: "10.0.1.1", proto: 1, payload: icmp(8, 0, 0x55550001) });
    p[1] = tos;
    p[10] = p[11] = 0;
    new DataView(p.buffer).setUint16(10, cksum(p, 0, 20));
    void l.ba.receive(ether(l.a, l.ba, 0x0800, p));
    await settle(l);
  });
  return frames.filter((f) => f[12] === 0x08 && f[13] === 0x00 && f[23] === 1 && f[34] === 8).map((f) => f.subarray(14, 34));
}

/** An IPv6 echo request with that traffic class from A to C injected on B; the traffic classes C sees. */
async function forward6(l: Lab, tc: number): Promise<number[]> {
  const frames = await captured(l, async () => {
    const p = new Uint8Array(48);
    p[0] = 0x60 | (tc >> 4);
    p[1] = (tc & 15) << 4;
    p[5] = 8; // payload length
    p[6] = 58; // ICMPv6
    p[7] = 64;
    p.set([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 8); // fd00:0::1
    p.set([0xfd, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 24); // fd00:1::1
    p[40] = 128; // echo request (B does not check its sum)
    void l.ba.receive(ether(l.a, l.ba, 0x86dd, p));
    await settle(l);
  });
  return frames.filter((f) => f[12] === 0x86 && f[13] === 0xdd && f[20] === 58 && f[54] === 128).map((f) => ((f[14]! & 15) << 4) | (f[15]! >> 4));
}

async function fw(l: Lab, ...lines: string[]): Promise<void> {
  const b = kernelIpfwBackend(l.k, l.B);
  await ipfwCommand(b, "ipfw -q -f flush");
  for (const x of lines) await ipfwCommand(b, x);
}

const packets = (l: Lab, num: number) => Number(ipfwList(l.k, l.B).find((r) => r.rulenum === num)!.packets);

describe("ipfw dscp / setdscp / reass: the kernel", () => {
  test("the kernel refuses malformed instructions (wrong length, code point > 63, an argument to reass)", async () => {
    const l = await lab();
    try {
      const bad = [
        [100, 3 | (2 << 16), hdr(O_DSCP, 2), 1, hdr(O_DENY, 1)], // dscp with one bitmap word
        [100, 4 | (3 << 16), hdr(O_DSCP, 3, 1), 1, 0, hdr(O_DENY, 1)], // dscp with an arg1
        [100, 1, hdr(O_SETDSCP, 1, 64)],
        [100, 1, hdr(O_REASS, 1, 1)],
        [100, 2 | (1 << 16), hdr(O_SETDSCP, 1, 9), hdr(O_DENY, 1)], // an action among the matches
      ];
      for (const w of bad) assert.throws(() => ipfwAdd(l.k, l.B, Uint32Array.from(w)), /EINVAL|refused|invalid/i, JSON.stringify(w));
      ipfwAdd(l.k, l.B, Uint32Array.from([100, 1, hdr(O_SETDSCP, 1, 63)])); // the largest code point is fine
    } finally {
      await done(l);
    }
  });

  test("setdscp rewrites the DS field, keeps ECN, fixes the IPv4 checksum; later rules see the new code point", async () => {
    const l = await lab();
    try {
      assert.equal((await ping(l.k, l.A, "10.0.1.1", { count: 1, timeoutMs: 1000 })).received, 1, "neighbours known");
      await fw(l, "ipfw -q add 100 setdscp 9 ip from any to any");
      for (const [tos, want] of [[0, 36], [3, 39], [0xfc, 36], [0xfd, 37]] as const) {
        const hs = await forward4(l, tos);
        assert.equal(hs.length, 1, `TOS ${tos} forwarded`);
        assert.equal(hs[0]![1], want, `TOS ${tos} -> ${want}`);
        assert.equal(cksum(hs[0]!, 0, 20), 0, `TOS ${tos}: the header checksum is right`);
      }
      // The walk goes on after setdscp: a deny of the new code point next stops the packet.
      await fw(l, "ipfw -q add 100 setdscp 9 ip from any to any", "ipfw -q add 200 deny ip from any to any dscp 9 in");
      assert.equal((await forward4(l, 0)).length, 0, "rule 200 saw code point 9 and denied");
      assert.ok(packets(l, 200) >= 1);
    } finally {
      await done(l);
    }
  });

  test("dscp matches IPv4 and IPv6 by code point, any of a list", async () => {
    const l = await lab();
    try {
      assert.equal((await ping(l.k, l.A, "10.0.1.1", { count: 1, timeoutMs: 1000 })).received, 1);
      assert.equal((await ping(l.k, l.A, "fd00:1::1", { count: 1, timeoutMs: 1000 })).received, 1);
      await fw(l, "ipfw -q add 100 deny ip from any to any dscp 9,ef");
      assert.equal((await forward4(l, 36)).length, 0, "TOS 36 (9) dropped");
      assert.equal((await forward4(l, 0xb8 | 2)).length, 0, "TOS 0xba (ef, ECN 2) dropped");
      assert.equal((await forward4(l, 32)).length, 1, "TOS 32 (8) passes");
      assert.equal((await forward4(l, 37)).length, 0, "ECN bits are not part of the code point");
      assert.deepEqual(await forward6(l, 36), [], "traffic class 36 (9) dropped");
      assert.deepEqual(await forward6(l, 0xb9), [], "traffic class 0xb9 (ef) dropped");
      assert.deepEqual(await forward6(l, 40), [40], "traffic class 40 (10) passes");
    } finally {
      await done(l);
    }
  });

  test("setdscp on IPv6 rewrites the traffic class's top six bits, keeping ECN", async () => {
    const l = await lab();
    try {
      assert.equal((await ping(l.k, l.A, "fd00:1::1", { count: 1, timeoutMs: 1000 })).received, 1);
      await fw(l, "ipfw -q add 100 setdscp 63 ip6 from any to any");
      assert.deepEqual(await forward6(l, 0), [0xfc]);
      assert.deepEqual(await forward6(l, 2), [0xfe], "ECN kept");
      await fw(l, "ipfw -q add 100 setdscp 0 ip6 from any to any");
      assert.deepEqual(await forward6(l, 0xb9), [1]);
    } finally {
      await done(l);
    }
  });

  test("reass: the whole datagram goes on with the next rule; fragments do not reach it", async () => {
    const l = await lab();
    try {
      const big = (to: string) => ping(l.k, l.A, to, { count: 1, timeoutMs: 1000, size: 3000 }).then((r) => r.received === 1);
      // Without reass the fragments themselves meet `deny ... frag`.
      await fw(l, "ipfw -q add 200 deny ip from any to any frag in");
      assert.equal(await big("10.0.0.2"), false, "non-first fragments denied");
      await fw(l, "ipfw -q add 100 reass ip from any to any in", "ipfw -q add 200 deny ip from any to any frag in");
      const frags = ipStats(l.k, l.B).fragments;
      assert.equal(await big("10.0.0.2"), true, "reassembled before rule 200");
      const n = ipStats(l.k, l.B).fragments - frags;
      assert.ok(n >= 3, `3000 bytes over MTU 1500 are 3 fragments (${n})`);
      assert.equal(packets(l, 100), n, "reass counts every fragment");
      assert.equal(packets(l, 200), 0);
      // The whole datagram's facts: its total length, not a fragment's.
      await fw(l, "ipfw -q add 100 reass ip from any to any in", "ipfw -q add 200 deny ip from any to any iplen 3000-3100 in");
      assert.equal(await big("10.0.0.2"), false, "rule 200 saw the 3028-byte datagram");
      assert.equal(packets(l, 200), 1);
      // An unfragmented packet is counted and goes on.
      await fw(l, "ipfw -q add 100 reass ip from any to any in", "ipfw -q add 200 deny icmp from any to any in");
      assert.equal((await ping(l.k, l.A, "10.0.0.2", { count: 1, timeoutMs: 1000 })).received, 0);
      assert.equal(packets(l, 100), 1);
      assert.equal(packets(l, 200), 1);
      // IPv6 is not reassembled by ipfw (FreeBSD's neither): its fragments meet rule 200.
      await fw(l, "ipfw -q add 100 reass ip from any to any in", "ipfw -q add 200 deny ip from any to any frag in");
      assert.equal(await big("fd00:0::2"), false, "IPv6 fragments reach rule 200");
      // Forwarded fragments are reassembled too (and fragmented again on the way out).
      await fw(l, "ipfw -q add 100 reass ip from any to any in", "ipfw -q add 200 deny ip from any to any frag in");
      assert.equal(await big("10.0.1.1"), true, "forwarded through B");
      // The first fragments the deny rules left in B's queues (IPv4 30 s, IPv6 60 s) hold
      // A's clusters: let them time out before A goes.
      clock(l.k).advance(61_000_000);
    } finally {
      await done(l);
    }
  });

  test("reass: a fragment held when the vnet goes leaves nothing", async () => {
    const l = await lab();
    try {
      await ping(l.k, l.A, "10.0.0.2", { count: 1, timeoutMs: 1000 });
      await fw(l, "ipfw -q add 100 reass ip from any to any in", "ipfw -q add 200 deny ip from any to any frag in");
      const p = ipPacket({ src: "10.0.0.1", dst: "10.0.0.2", proto: 17, mf: true, payload: new Uint8Array(64) });
      void l.ba.receive(ether(l.a, l.ba, 0x0800, p));
      await settle(l);
      assert.equal(packets(l, 100), 1, "the fragment reached reass");
      assert.equal(packets(l, 200), 0, "and was kept there, not passed on");
    } finally {
      await done(l); // destroys B with the fragment queued; mbufsInUse must be 0
    }
  });
});
