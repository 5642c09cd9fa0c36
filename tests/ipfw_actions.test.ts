import { test, describe } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { KernelPanic } from "../host/index.js";
import {
  ipfwAdd, ipfwDelete, ipfwFlush, ipfwZero, ipfwList, ipfwStats, ipfwLog, ipfwSetDefault, IpfwRuleError,
} from "../host/admin/ipfw.js";
import { icmpStats } from "../host/admin/inet.js";
import { pfilStats } from "../host/admin/pfil.js";
import { icmp6Stats } from "../host/admin/inet6.js";
import { socket } from "../host/sockets/socket.js";
import { ether, ipPacket } from "./helpers/inet.js";
import { M, A_, I, F_OR, F_NOT, rule, lab, pingOk, udpOk, tcpOk, clock } from "./helpers/ipfw.js";

describe("ipfw actions", () => {
  test("count and skipto go on; skipto lands on the first rule >= its target; counters and the default rule", async () => {
    const l = await lab();
    ipfwAdd(l.k, l.B, rule(100, [M.proto(1)], [A_.count]));
    ipfwAdd(l.k, l.B, rule(200, [M.proto(1)], [A_.skipto(350)]));
    ipfwAdd(l.k, l.B, rule(300, [], [A_.deny])); // skipped over by ICMP
    ipfwAdd(l.k, l.B, rule(400, [M.proto(1)], [A_.accept]));
    ipfwAdd(l.k, l.B, rule(500, [M.proto(17)], [A_.accept]));
    assert.equal(await pingOk(l.k, l.A, "10.0.0.2"), true);
    assert.equal(udpOk(l.k, l.A, l.B, "10.0.0.2", 7), false, "udp meets 300 deny");
    const c = Object.fromEntries(ipfwList(l.k, l.B).filter((r) => r.rulenum < 65535).map((r) => [r.rulenum, r.packets]));
    assert.deepEqual(c, { 100: 2, 200: 2, 300: 1, 400: 2, 500: 0 }); // (the default rule has seen IPv6 ND)
    assert.ok(ipfwList(l.k, l.B)[0].bytes >= 2 * 84);
    // Last match time: kernel seconds of the latest packet the rule took.
    clock(l.k).advance(7_000_000);
    assert.equal(await pingOk(l.k, l.A, "10.0.0.2"), true);
    assert.equal(ipfwList(l.k, l.B)[0].lastMatchS, Math.floor(clock(l.k).now() / 1_000_000));
    assert.equal(ipfwList(l.k, l.B)[4].lastMatchS, 0, "rule 500 never matched");
    assert.equal(ipfwZero(l.k, l.B, 100), 1);
    assert.equal(ipfwList(l.k, l.B)[0].packets, 0);
    assert.equal(ipfwList(l.k, l.B)[1].packets, 4, "zero of one rule leaves the others");
    ipfwFlush(l.k, l.B);
    ipfwSetDefault(l.k, l.B, false);
    assert.equal(await pingOk(l.k, l.A, "10.0.0.2"), false, "default deny");
    assert.ok(ipfwList(l.k, l.B).at(-1)!.packets >= 1);
    assert.equal(ipfwStats(l.k, l.B).default, ipfwList(l.k, l.B).at(-1)!.packets);
    l.k.shutdown();
  });

  test("reject sends ICMP unreachable (the sender sees it), unreach6 ICMPv6, reset a TCP RST (connect refused at once)", async () => {
    const l = await lab();
    ipfwAdd(l.k, l.B, rule(100, [M.ip4, M.proto(17)], [A_.reject(3)]));
    ipfwAdd(l.k, l.B, rule(110, [M.ip6, M.proto(17)], [A_.unreach6(4)]));
    ipfwAdd(l.k, l.B, rule(120, [M.proto(6), M.setup()], [A_.reset]));
    const u4 = icmpStats(l.k, l.A).inhist[3];
    assert.equal(udpOk(l.k, l.A, l.B, "10.0.0.2", 7), false);
    assert.equal(icmpStats(l.k, l.A).inhist[3], u4 + 1, "A received the port unreachable");
    const u6 = icmp6Stats(l.k, l.A).inhist[0];
    assert.equal(udpOk(l.k, l.A, l.B, "fd00:0::2", 7), false);
    assert.equal(icmp6Stats(l.k, l.A).inhist[0], u6 + 1);
    for (const dst of ["10.0.0.2", "fd00:0::2"]) {
      const six = dst.includes(":");
      const lsn = socket(l.k, l.B, six ? "inet6" : "inet", "stream").bind(six ? "::" : "0.0.0.0", 80).listen(4);
      const s = socket(l.k, l.A, six ? "inet6" : "inet", "stream");
      assert.throws(() => { s.connect(dst, 80); clock(l.k).advance(10_000); s.connect(dst, 80); }, (e: any) => e.code === "ECONNREFUSED", dst);
      s.close();
      lsn.close();
    }
    const st = ipfwStats(l.k, l.B);
    assert.equal(st.rejects, 2);
    assert.equal(st.resets, 2);
    l.k.shutdown();
  });

  test("nat (not there yet) denies and counts; log writes the ring with its limit", async () => {
    const l = await lab();
    ipfwAdd(l.k, l.B, rule(100, [M.proto(17)], [A_.nat(1)]));
    ipfwAdd(l.k, l.B, rule(200, [M.icmptypes([8])], [A_.log(2), A_.accept]));
    assert.equal(udpOk(l.k, l.A, l.B, "10.0.0.2", 7), false);
    assert.equal(ipfwStats(l.k, l.B).nat, 1);
    for (let i = 0; i < 3; i++) assert.equal(await pingOk(l.k, l.A, "10.0.0.2"), true);
    const log = ipfwLog(l.k, l.B);
    assert.equal(log.entries.length, 2, "log limit 2");
    assert.deepEqual(
      { ...log.entries[0], timeMs: 0 },
      { seq: 0, timeMs: 0, rulenum: 200, action: 65, direction: "in", forwarded: false, family: 4, proto: 1, tcpFlags: 0, src: "10.0.0.1", dst: "10.0.0.2", sport: 0, dport: 0, bytes: 84 },
    );
    assert.equal(ipfwLog(l.k, l.B, log.next).entries.length, 0);
    ipfwZero(l.k, l.B, 200); // resets the limit, as ipfw resetlog
    assert.equal(await pingOk(l.k, l.A, "10.0.0.2"), true);
    assert.equal(ipfwLog(l.k, l.B, log.next).entries.length, 1);
    l.k.shutdown();
  });

  test("delete by number and by set; list keeps the words given", async () => {
    const l = await lab();
    const r1 = rule(100, [M.proto(17)], [A_.deny], 3);
    ipfwAdd(l.k, l.B, r1);
    ipfwAdd(l.k, l.B, rule(100, [M.proto(6)], [A_.deny], 4));
    ipfwAdd(l.k, l.B, rule(50, [M.proto(1)], [A_.count], 3));
    assert.deepEqual(ipfwList(l.k, l.B)[1].words, r1, "same number: kept in the order added");
    assert.equal(ipfwDelete(l.k, l.B, 100, 4), 1);
    assert.equal(ipfwDelete(l.k, l.B, 0, 3), 2, "the whole set 3");
    assert.deepEqual(ipfwList(l.k, l.B).map((r) => r.rulenum), [65535]);
    l.k.shutdown();
  });
});

describe("ipfw on pfil", () => {
  test("an empty firewall that accepts is not on the packet path; a rule or default deny hooks it again", async () => {
    const l = await lab();
    const hooks = () => (["inet", "inet6"] as const).flatMap((h) => (["in", "out"] as const).map((d) => pfilStats(l.k, l.B, h, d).hooks));
    assert.deepEqual(hooks(), [0, 0, 0, 0], "default accept, no rules");
    ipfwAdd(l.k, l.B, rule(100, [M.proto(17)], [A_.deny]));
    assert.deepEqual(hooks(), [1, 1, 1, 1]);
    assert.equal(udpOk(l.k, l.A, l.B, "fd00:0::2", 7), false);
    ipfwFlush(l.k, l.B);
    assert.deepEqual(hooks(), [0, 0, 0, 0]);
    ipfwSetDefault(l.k, l.B, false);
    assert.deepEqual(hooks(), [1, 1, 1, 1]);
    assert.equal(await pingOk(l.k, l.A, "10.0.0.2"), false);
    l.k.shutdown();
  });
});

describe("ipfw: malformed rules are refused, never trusted", () => {
  const N = (r: Uint32Array, i: number, v: number) => { const c = r.slice(); c[i] = v >>> 0; return c; };
  const ok = rule(100, [M.proto(17)], [A_.deny]);
  const cases: [string, Uint32Array, number][] = [
    ["rule number 0", N(ok, 0, 0), 1],
    ["rule number 65535 (the kernel's)", N(ok, 0, 65535), 1],
    ["unused bits of word 0", N(ok, 0, 100 | (1 << 25)), 2],
    ["cmd_len larger than the words given", N(ok, 1, 3 | (1 << 16)), 3],
    ["cmd_len smaller than the words given", N(ok, 1, 1 | (1 << 16)), 3],
    ["no commands at all", Uint32Array.from([100, 0]), 3],
    ["act_ofs past the end", N(ok, 1, 2 | (2 << 16)), 4],
    ["act_ofs inside an instruction", rule(100, [M.src("10.0.0.1")], [A_.deny]).map((w, i) => (i === 1 ? 4 | (1 << 16) : w)), 4],
    ["instruction length 0", N(ok, 2, 3 | (0 << 8) | (17 << 16)), 5],
    ["instruction running past the end", N(ok, 2, 3 | (5 << 8) | (17 << 16)), 5],
    ["unknown opcode 50", N(ok, 2, I(50)), 6],
    ["unknown action 99", N(ok, 3, I(99)), 6],
    ["O_IP_SRC_MASK with a count that disagrees with its length", rule(100, [[I(4, 3, 2), 1, 1]], [A_.deny]), 7],
    ["O_VIA of 3 words", rule(100, [[I(14, 4), 0, 0, 0]], [A_.deny]), 7],
    ["O_ICMPTYPE without its bitmap", rule(100, [[I(23)]], [A_.deny]), 7],
    ["an action in the match part", rule(100, [A_.accept], [A_.deny]), 8],
    ["a match in the action part", rule(100, [], [M.proto(1), A_.deny]), 9],
    ["no action (only log)", rule(100, [M.proto(1)], [A_.log()]), 10],
    ["two actions", rule(100, [M.proto(1)], [A_.accept, A_.deny]), 10],
    ["skipto backwards", rule(100, [], [A_.skipto(50)]), 11],
    ["skipto to itself", rule(100, [], [A_.skipto(100)]), 11],
    ["F_OR on the last match", rule(100, [M.proto(1, F_OR)], [A_.deny]), 12],
    ["O_PROTO 300", rule(100, [[I(3, 1, 300)]], [A_.deny]), 13],
    ["port range lo > hi", rule(100, [M.dport([[90, 80]])], [A_.deny]), 13],
    ["reject code 16", rule(100, [], [A_.reject(16)]), 13],
    ["F_NOT on an action", rule(100, [], [[I(66, 1, 0, F_NOT)]]), 14],
  ];
  test(`${cases.length} malformed rules: EINVAL with the reason, nothing stored`, async () => {
    const l = await lab();
    for (const [name, r, reason] of cases) {
      assert.throws(() => ipfwAdd(l.k, l.B, r), (e: unknown) => e instanceof IpfwRuleError && e.errno === 22 && e.reason === reason, name);
    }
    assert.deepEqual(ipfwList(l.k, l.B).map((r) => r.rulenum), [65535]);
    ipfwAdd(l.k, l.B, ok); // the unbroken one is taken
    assert.equal(udpOk(l.k, l.A, l.B, "10.0.0.2", 7), false);
    l.k.shutdown();
  });

  test("random words never trap; what is taken runs over traffic; nothing leaks (fast-check)", async () => {
    const l = await lab();
    const pool = [
      rule(100, [M.proto(17)], [A_.deny]), rule(200, [M.src("10.0.0.0", 8), M.dport([[1, 1000]])], [A_.log(3), A_.accept]),
      rule(300, [M.proto(6, F_OR), M.proto(17), M.tcpflags(2, 16)], [A_.skipto(400)]), rule(400, [M.src6("fd00::", 16), M.icmp6types([128])], [A_.count]),
      rule(500, [M.via("epair*"), M.in(F_NOT), M.iplen([[0, 100]])], [A_.reject(3)]), rule(600, [M.probe(), M.proto(17), M.keep()], [A_.accept]),
      rule(700, [M.icmptypes([8]), M.icmpcodes([0]), M.ttl([[1, 64]])], [A_.unreach6(1)]), rule(800, [], [A_.checkState]),
    ];
    const mutated = fc.tuple(fc.constantFrom(...pool), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 0xffffffff })), { maxLength: 2 }))
      .map(([r, edits]) => { const c = Array.from(r); for (const [i, v] of edits) c[i % c.length] = v; return c; });
    const words = fc.oneof(
      mutated,
      fc.array(fc.integer({ min: 0, max: 0xffffffff }), { minLength: 0, maxLength: 40 }),
      // Mostly plausible: small opcodes and lengths, so checks past the first are reached.
      fc.tuple(fc.integer({ min: 1, max: 65534 }), fc.array(fc.tuple(fc.integer({ min: 0, max: 80 }), fc.integer({ min: 0, max: 12 }), fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 3 })), { minLength: 1, maxLength: 6 }), fc.array(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: 12 }), fc.integer({ min: 0, max: 8 }))
        .map(([num, ins, pad, ao]) => {
          const cmds: number[] = [];
          for (const [op, len, arg, fl] of ins) { cmds.push(I(op, len, arg, fl << 14)); for (let i = 1; i < len && pad.length; i++) cmds.push(pad.pop()!); }
          return [num, cmds.length | (Math.min(ao, Math.max(0, cmds.length - 1)) << 16), ...cmds];
        }),
    );
    let taken = 0;
    fc.assert(fc.property(words, (w) => {
      try {
        ipfwAdd(l.k, l.B, Uint32Array.from(w.map((x) => x >>> 0)));
        taken++;
      } catch (e) {
        if (e instanceof KernelPanic) throw e;
        if (!(e instanceof IpfwRuleError) && !(e instanceof Error && /ipfw add/.test(e.message))) throw e;
      }
    }), { numRuns: 3000, seed: 42 });
    // Whatever was taken is interpreted over real packets of every kind without a trap.
    await pingOk(l.k, l.A, "10.0.0.2");
    await pingOk(l.k, l.A, "fd00:0::2", { size: 3000 });
    udpOk(l.k, l.A, l.B, "10.0.0.2", 7);
    tcpOk(l.k, l.A, l.B, "10.0.0.2", 80);
    assert.ok(taken > 0, "some random rules were valid");
    assert.equal(ipfwList(l.k, l.B).length, taken + 1);
    ipfwFlush(l.k, l.B);
    ipfwSetDefault(l.k, l.B, true);
    assert.equal(await pingOk(l.k, l.A, "10.0.0.2"), true);
    l.B.destroy();
    l.k.shutdown();
  });
});

describe("ipfw: malformed packets reaching the firewall are dropped and counted", () => {
  test("TCP, UDP and ICMP headers cut short, an IPv6 extension header past the end", async () => {
    const l = await lab();
    ipfwAdd(l.k, l.B, rule(100, [], [A_.count])); // with no rule at all ipfw does not parse (docs/ipfw.md)
    assert.equal(await pingOk(l.k, l.A, "10.0.0.2"), true); // ARP both ways
    assert.equal(await pingOk(l.k, l.A, "fd00:0::2"), true);
    const frames = [
      ether(l.a, l.ba, 0x0800, ipPacket({ src: "10.0.0.1", dst: "10.0.0.2", proto: 6, payload: new Uint8Array(12) })),
      ether(l.a, l.ba, 0x0800, ipPacket({ src: "10.0.0.1", dst: "10.0.0.2", proto: 17, payload: new Uint8Array(5) })),
      ether(l.a, l.ba, 0x0800, ipPacket({ src: "10.0.0.1", dst: "10.0.0.2", proto: 1, payload: new Uint8Array(2) })),
      // TCP data offset 15 (60 bytes) in a 24-byte segment.
      ether(l.a, l.ba, 0x0800, ipPacket({ src: "10.0.0.1", dst: "10.0.0.2", proto: 6, payload: Uint8Array.from({ length: 24 }, (_, i) => (i === 12 ? 0xf0 : 0)) })),
    ];
    for (const f of frames) assert.equal(l.ba.receive(f), 0);
    // IPv6: a destination options header claiming 64 bytes in a 16-byte payload.
    const v6 = new Uint8Array(56);
    v6[0] = 0x60; v6[5] = 16; v6[6] = 60; v6[7] = 64;
    v6.set([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 8);
    v6.set([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2], 24);
    v6[40] = 17; v6[41] = 7;
    assert.equal(l.ba.receive(ether(l.a, l.ba, 0x86dd, v6)), 0);
    assert.equal(ipfwStats(l.k, l.B).badpkt, 5);
    assert.equal(await pingOk(l.k, l.A, "10.0.0.2"), true, "and good traffic still flows");
    l.k.shutdown();
  });
});

export { F_NOT };
