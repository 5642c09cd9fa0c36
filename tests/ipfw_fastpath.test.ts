import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { Kernel, type Vnet } from "../host/index.js";
import { ipfwAdd, ipfwDelete, ipfwFlush, ipfwList, ipfwZero, ipfwSetDefault, ipfwGauges, ipfwSet, ipfwGet, ipfwLog, ipfwStats, type IpfwExports } from "../host/admin/ipfw.js";
import type { VirtualClock } from "../host/index.js";
import { I, F_OR, F_NOT } from "./helpers/ipfw.js";

// The kernel's walk uses an index rebuilt on every add and delete (docs/ipfw.md: prefilters
// in one array, skip steps on the protocol, runs of exact-port rules entered by a hash).
// None of that may change a verdict. A plain interpreter of docs/ipfw_insn.md written here
// (no prefilter, no index, rules tried one by one) is the reference: random rule lists,
// changed by random adds and deletes, and random IPv4 packets run through both, and the
// verdict of every packet and every rule's packet counter must agree.

const O = { proto: 3, src: 4, dst: 5, sport: 12, dport: 13, in: 17, estab: 21, setup: 22, ttl: 28 };
const A = { allow: 65, deny: 66, count: 69, skipto: 70 };
const PFIL_IN = 1;
const PFIL_OUT = 2;

interface Rule { num: number; words: number[]; actofs: number }
interface Pkt { proto: number; src: number[]; dst: number[]; sport: number; dport: number; ttl: number; flags: number; dir: number }

const le = (b: number[]) => (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0;
const PORTS = [22, 53, 80, 443, 8080, 9];
const PROTOS = [6, 17, 1, 47];

// ---------------------------------------------------------------------------------------
// The reference interpreter

function hasPorts(p: Pkt): boolean {
  return p.proto === 6 || p.proto === 17;
}

function inRanges(ops: number[], v: number): boolean {
  return ops.some((r) => v >= (r & 0xffff) && v <= r >>> 16);
}

function match1(h: number, ops: number[], p: Pkt): boolean {
  const op = h & 0xff;
  const arg = h >>> 16;
  switch (op) {
    case O.proto: return p.proto === arg;
    case O.src: case O.dst: {
      const a = le(op === O.src ? p.src : p.dst);
      for (let j = 0; j < arg; j++) if (((a & ops[2 * j + 1]) >>> 0) === ops[2 * j]) return true;
      return false;
    }
    case O.sport: return hasPorts(p) && inRanges(ops, p.sport);
    case O.dport: return hasPorts(p) && inRanges(ops, p.dport);
    case O.in: return p.dir === PFIL_IN;
    case O.estab: return p.proto === 6 && (p.flags & (4 | 16)) !== 0;
    case O.setup: return p.proto === 6 && (p.flags & (2 | 16)) === 2;
    case O.ttl: return inRanges(ops, p.ttl);
  }
  throw new Error(`reference: opcode ${op} not modelled`);
}

function ruleMatches(r: Rule, p: Pkt): boolean {
  const w = r.words;
  let i = 0;
  while (i < r.actofs) {
    let blk = false;
    for (;;) {
      const h = w[i];
      const len = (h >>> 8) & 0x3f;
      let m = match1(h, w.slice(i + 1, i + len), p);
      if (h & F_NOT) m = !m;
      blk ||= m;
      i += len;
      if (!(h & F_OR)) break;
    }
    if (!blk) return false;
  }
  return true;
}

/** The verdict (true: passed) and the counters it moves (index in list, or -1 for 65535). */
function reference(rules: Rule[], p: Pkt, defAccept: boolean): { pass: boolean; counted: number[] } {
  const counted: number[] = [];
  let i = 0;
  while (i < rules.length) {
    const r = rules[i];
    if (!ruleMatches(r, p)) {
      i++;
      continue;
    }
    const act = r.words[r.words.length - 1];
    counted.push(i);
    const op = act & 0xff;
    if (op === A.allow) return { pass: true, counted };
    if (op === A.deny) return { pass: false, counted };
    if (op === A.count) {
      i++;
      continue;
    }
    const target = act >>> 16; // skipto
    i++;
    while (i < rules.length && rules[i].num < target) i++;
  }
  counted.push(-1);
  return { pass: defAccept, counted };
}

// ---------------------------------------------------------------------------------------
// Packets as bytes

function bytes(p: Pkt): Uint8Array {
  const ulen = p.proto === 6 ? 20 : p.proto === 17 ? 8 : p.proto === 1 ? 8 : 4;
  const b = new Uint8Array(20 + ulen);
  b[0] = 0x45;
  b[2] = (b.length >> 8) & 255;
  b[3] = b.length & 255;
  b[8] = p.ttl;
  b[9] = p.proto;
  b.set(p.src, 12);
  b.set(p.dst, 16);
  if (p.proto === 6 || p.proto === 17) {
    b[20] = p.sport >> 8;
    b[21] = p.sport & 255;
    b[22] = p.dport >> 8;
    b[23] = p.dport & 255;
  }
  if (p.proto === 17) b[25] = 8;
  if (p.proto === 6) {
    b[32] = 5 << 4;
    b[33] = p.flags;
  }
  if (p.proto === 1) b[20] = 8;
  return b;
}

// ---------------------------------------------------------------------------------------
// Generators

const port = fc.oneof(fc.constantFrom(...PORTS), fc.integer({ min: 0, max: 65535 }));
const range = fc.oneof(
  { weight: 3, arbitrary: port.map((x) => ((x | (x << 16)) >>> 0)) },
  { weight: 1, arbitrary: fc.tuple(port, port).map(([a, b]) => ((Math.min(a, b) | (Math.max(a, b) << 16)) >>> 0)) },
);
const net4 = fc.tuple(fc.integer({ min: 0, max: 3 }), fc.constantFrom(8, 16, 24, 32), fc.integer({ min: 1, max: 2 }))
  .map(([x, plen, h]) => {
    const a = [10, 0, x, h];
    const m = (0xffffffff << (32 - plen)) >>> 0;
    const mb = [m >>> 24, (m >>> 16) & 255, (m >>> 8) & 255, m & 255];
    return [(le(a) & le(mb)) >>> 0, le(mb)];
  });
const flag = fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constant(F_NOT) });
const insn: fc.Arbitrary<number[]> = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(fc.constantFrom(...PROTOS), flag).map(([p, f]) => [I(O.proto, 1, p, f)]) },
  { weight: 4, arbitrary: fc.tuple(fc.array(range, { minLength: 1, maxLength: 2 }), flag).map(([r, f]) => [I(O.dport, 1 + r.length, r.length, f), ...r]) },
  { weight: 1, arbitrary: fc.tuple(fc.array(range, { minLength: 1, maxLength: 2 }), flag).map(([r, f]) => [I(O.sport, 1 + r.length, r.length, f), ...r]) },
  { weight: 2, arbitrary: fc.tuple(fc.array(net4, { minLength: 1, maxLength: 2 }), fc.boolean(), flag).map(([ns, s, f]) => [I(s ? O.src : O.dst, 1 + 2 * ns.length, ns.length, f), ...ns.flat()]) },
  { weight: 1, arbitrary: flag.map((f) => [I(O.in, 1, 0, f)]) },
  { weight: 1, arbitrary: flag.map((f) => [I(O.setup, 1, 0, f)]) },
  { weight: 1, arbitrary: flag.map((f) => [I(O.estab, 1, 0, f)]) },
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), flag).map(([a, b, f]) => [I(O.ttl, 2, 1, f), (Math.min(a, b) | (Math.max(a, b) << 16)) >>> 0]) },
);
/** Match parts: a few instructions, some joined into or-blocks (never the last). */
const matches = fc.tuple(fc.array(insn, { maxLength: 4 }), fc.array(fc.boolean(), { maxLength: 4 })).map(([ins, ors]) =>
  ins.map((w, i) => (i < ins.length - 1 && ors[i] ? [(w[0] | F_OR) >>> 0, ...w.slice(1)] : w)));
/** The kind of rule the index hashes: one protocol, one exact destination port. */
const exact = fc.tuple(fc.constantFrom(6, 17), fc.constantFrom(...PORTS), fc.array(insn, { maxLength: 1 }))
  .map(([p, x, more]) => [[I(O.proto, 1, p)], [I(O.dport, 2, 1), (x | (x << 16)) >>> 0], ...more]);
const ruleArb: fc.Arbitrary<Rule> = fc.tuple(
  fc.integer({ min: 1, max: 400 }),
  fc.oneof({ weight: 2, arbitrary: matches }, { weight: 3, arbitrary: exact }),
  fc.constantFrom("allow", "deny", "deny", "count", "skipto"),
  fc.integer({ min: 1, max: 200 }),
).map(([num, ms, act, jump]) => {
  const m = ms.flat();
  const a = act === "skipto" ? I(A.skipto, 1, Math.min(num + jump, 65534)) : I(A[act as "allow"]);
  return { num, words: [...m, a], actofs: m.length };
});
const pktArb: fc.Arbitrary<Pkt> = fc.record({
  proto: fc.constantFrom(...PROTOS),
  src: fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 1, max: 2 })).map(([x, h]) => [10, 0, x, h]),
  dst: fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 1, max: 2 })).map(([x, h]) => [10, 0, x, h]),
  sport: port,
  dport: port,
  ttl: fc.integer({ min: 0, max: 255 }),
  flags: fc.integer({ min: 0, max: 255 }),
  dir: fc.constantFrom(PFIL_IN, PFIL_OUT),
});
type Op = { add: Rule } | { del: number } | { pkt: Pkt };
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: ruleArb.map((add) => ({ add })) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 400 }).map((del) => ({ del })) },
  { weight: 4, arbitrary: pktArb.map((pkt) => ({ pkt })) },
);

// ---------------------------------------------------------------------------------------

describe("ipfw fast path against a reference interpreter", () => {
  let k: Kernel;
  let v: Vnet;
  let e: IpfwExports & { ipfw_inject(v: number, p: number, len: number, af: number, dir: number): number };
  before(async () => {
    k = await Kernel.boot({ config: ["inet", "ipfw"] });
    v = k.createVnet("fw");
    e = k.module("ipfw");
  });
  after(() => k.shutdown());

  const inject = (p: Pkt): boolean => {
    const b = bytes(p);
    new Uint8Array(k.memory.buffer, e.ipfw_buf(), b.length).set(b);
    const r = e.ipfw_inject(v.ptr, e.ipfw_buf(), b.length, 4, p.dir);
    assert.ok(r === 0 || r === 1, `ipfw_inject returned ${r}`);
    return r === 1;
  };

  /** Run ops on the kernel and the reference; verdicts and counters must agree. */
  const check = (ops: Op[], prefix: Rule[], defAccept: boolean): void => {
    ipfwFlush(k, v);
    ipfwZero(k, v, 0);
    ipfwSetDefault(k, v, defAccept);
    const list: (Rule & { pkts: number })[] = [];
    let def = 0;
    const add = (r: Rule) => {
      ipfwAdd(k, v, Uint32Array.from([r.num, r.words.length | (r.actofs << 16), ...r.words]));
      let at = list.length;
      while (at > 0 && list[at - 1].num > r.num) at--;
      list.splice(at, 0, { ...r, pkts: 0 });
    };
    for (const r of prefix) add(r);
    for (const op of ops) {
      if ("add" in op) {
        add(op.add);
      } else if ("del" in op) {
        const n = ipfwDelete(k, v, op.del);
        const before = list.length;
        for (let i = list.length - 1; i >= 0; i--) if (list[i].num === op.del) list.splice(i, 1);
        assert.equal(n, before - list.length, `delete ${op.del}`);
      } else {
        const want = reference(list, op.pkt, defAccept);
        for (const i of want.counted) i < 0 ? def++ : list[i].pkts++;
        assert.equal(inject(op.pkt), want.pass, `verdict for ${JSON.stringify(op.pkt)} over ${list.length} rules`);
      }
    }
    const got = ipfwList(k, v).map((r) => [r.rulenum, r.packets]);
    assert.deepEqual(got, [...list.map((r) => [r.num, r.pkts]), [65535, def]], "every rule's packet counter");
  };

  test("random rule lists, adds, deletes and packets: same verdicts and counters (fast-check)", () => {
    fc.assert(fc.property(fc.array(opArb, { minLength: 1, maxLength: 60 }), fc.boolean(), (ops, d) => check(ops, [], d)), { numRuns: 300 });
  });

  test("long runs of exact-port rules with others between them (fast-check)", () => {
    // 30-80 exact-port rules first, so runs of IX_RUN_MIN and more exist, then changes.
    const prefix = fc.array(fc.oneof({ weight: 6, arbitrary: ruleArb.filter((r) => r.actofs === 3 || r.actofs === 4) }, { weight: 1, arbitrary: ruleArb }), { minLength: 30, maxLength: 80 });
    fc.assert(fc.property(prefix, fc.array(opArb, { minLength: 1, maxLength: 40 }), fc.boolean(), (pre, ops, d) => check(ops, pre, d)), { numRuns: 100 });
  });

  test("a run entered by skipto in its middle, and left by count", () => {
    ipfwFlush(k, v);
    const ex = (num: number, proto: number, p: number, act: number) => ({ num, words: [I(O.proto, 1, proto), I(O.dport, 2, 1), (p | (p << 16)) >>> 0, act], actofs: 3 });
    const rules = [
      { num: 1, words: [I(O.proto, 1, 17), I(A.skipto, 1, 15)], actofs: 1 },
      ...[10, 11, 12, 13, 14, 15, 16, 17, 18, 19].map((n) => ex(n, 17, n === 16 ? 53 : 1000 + n, I(A.deny))),
      ex(20, 17, 53, I(A.count)), ex(21, 17, 53, I(A.allow)), ex(22, 6, 53, I(A.deny)),
    ];
    const p: Pkt = { proto: 17, src: [10, 0, 0, 1], dst: [10, 0, 1, 1], sport: 5, dport: 53, ttl: 64, flags: 0, dir: PFIL_IN };
    // Rule 1 jumps to 15, inside the run: 16 (udp 53, deny) is the first that matches.
    check([{ pkt: p }, { del: 16 }, { pkt: p }, { pkt: { ...p, proto: 6 } }, { pkt: { ...p, dport: 1012 } }], rules, true);
    assert.equal(ipfwList(k, v).find((r) => r.rulenum === 20)!.packets, 1, "count at 20, then 21 allows");
  });

  test("the index follows flush and holds at most 4096 rules", () => {
    ipfwFlush(k, v);
    ipfwSetDefault(k, v, true);
    for (let i = 0; i < 4096; i++) ipfwAdd(k, v, Uint32Array.from([1 + (i % 65534), 4 | (3 << 16), I(O.proto, 1, 17), I(O.dport, 2, 1), ((i | (i << 16)) >>> 0), I(A.deny)]));
    assert.equal(ipfwGauges(k, v).rules, 4096);
    assert.throws(() => ipfwAdd(k, v, Uint32Array.from([5000, 1, I(A.allow)])), /ENOSPC|28|no space/i);
    const p: Pkt = { proto: 17, src: [10, 0, 0, 1], dst: [10, 0, 1, 1], sport: 5, dport: 4000, ttl: 64, flags: 0, dir: PFIL_IN };
    assert.equal(inject(p), false, "rule 4001 (udp 4000) denies");
    assert.equal(ipfwDelete(k, v, 4001), 1);
    assert.equal(inject(p), true, "without rule 4001 the default accepts");
    assert.equal(inject({ ...p, dport: 3999 }), false, "rule 4000 still denies");
    ipfwFlush(k, v);
    assert.equal(ipfwGauges(k, v).rules, 0);
    assert.equal(inject({ ...p, dport: 3999 }), true);
  });

  test("states are found from both sides after the state hash grew (20,000 flows)", () => {
    ipfwFlush(k, v);
    ipfwSetDefault(k, v, false);
    ipfwSet(k, v, "dyn_max", 50_000);
    // 100 allow udp from 10.0.0.0/24 to any keep-state (O_PROBE_STATE first, as compiled)
    const [net, mask] = [le([10, 0, 0, 0]), le([255, 255, 255, 0])];
    ipfwAdd(k, v, Uint32Array.from([100, 7 | (6 << 16), I(25), I(O.proto, 1, 17), I(O.src, 3, 1), net, mask, I(26), I(A.allow)]));
    const flow = (i: number): Pkt => ({ proto: 17, src: [10, 0, 0, 1 + (i % 2)], dst: [10, 0, 1, 1], sport: 1024 + (i >> 1), dport: 53, ttl: 64, flags: 0, dir: PFIL_IN });
    const N = 20_000;
    for (let i = 0; i < N; i++) assert.equal(inject(flow(i)), true);
    assert.equal(ipfwGauges(k, v).states, N);
    for (let i = 0; i < N; i++) {
      const f = flow(i);
      const reply = { ...f, src: f.dst, dst: f.src, sport: f.dport, dport: f.sport, dir: PFIL_OUT };
      assert.equal(inject(reply), true, `the reply of flow ${i} passes on its state`);
    }
    assert.equal(inject({ ...flow(0), src: [10, 0, 1, 1], dst: [10, 0, 0, 1], sport: 53, dport: 9 }), false, "no state: denied");
    assert.equal(ipfwGauges(k, v).states, N);
    ipfwFlush(k, v);
    assert.equal(ipfwGauges(k, v).states, 0);
  });

  test("check-state first: a hit on a bare allow state ends at once; count, log and a logged check-state still go the walk's way", () => {
    // The stateful fast path (docs/ipfw.md): a bare check-state as the first rule and a
    // state whose rule's action is a bare allow end the packet before the walk. Everything
    // else must come out as the walk has it: a count state counts and goes on (here to the
    // default deny), a logged allow logs, a logged check-state logs, a miss goes on with
    // the rules after check-state without a second lookup, and a hit refreshes the state.
    ipfwFlush(k, v);
    ipfwZero(k, v, 0);
    ipfwSetDefault(k, v, false);
    const probeUdp = (dport: number) => [I(25), I(O.proto, 1, 17), I(O.dport, 2, 1), (dport | (dport << 16)) >>> 0, I(26)];
    const add = (num: number, words: number[], actofs: number) => ipfwAdd(k, v, Uint32Array.from([num, words.length | (actofs << 16), ...words]));
    add(1, [I(71)], 0); // check-state
    add(50, [...probeUdp(53), I(A.count)], 5); // count udp dst-port 53 keep-state
    add(60, [...probeUdp(54), I(64), I(A.allow)], 5); // allow log udp dst-port 54 keep-state
    add(70, [...probeUdp(55), I(A.allow)], 5); // allow udp dst-port 55 keep-state
    const fwd = (dport: number): Pkt => ({ proto: 17, src: [10, 0, 0, 1], dst: [10, 0, 1, 1], sport: 5000, dport, ttl: 64, flags: 0, dir: PFIL_IN });
    const back = (dport: number): Pkt => ({ proto: 17, src: [10, 0, 1, 1], dst: [10, 0, 0, 1], sport: dport, dport: 5000, ttl: 64, flags: 0, dir: PFIL_OUT });
    const pkts = (num: number) => ipfwList(k, v).find((r) => r.rulenum === num)!.packets;
    const logged = () => ipfwLog(k, v).entries.length;

    // count: the state is made, the walk goes on past 50 to the default deny, both ways.
    assert.equal(inject(fwd(53)), false, "count keep-state, then the default denies");
    assert.equal(inject(back(53)), false, "the reply hits the count state: counted, then denied");
    assert.equal(pkts(50), 2, "rule 50 counted both");
    // allow log: the hit logs as the walk does.
    const l0 = logged();
    assert.equal(inject(fwd(54)), true);
    assert.equal(inject(back(54)), true, "the reply passes on rule 60's state");
    assert.equal(logged() - l0, 2, "rule 60 logged the packet that made the state and the reply that hit it");
    // bare allow: the fast path.
    const acc0 = ipfwStats(k, v).accepted;
    assert.equal(inject(fwd(55)), true);
    for (let i = 0; i < 5; i++) assert.equal(inject(back(55)), true, "the reply passes on rule 70's state");
    assert.equal(pkts(70), 6, "rule 70 counts the packet that made the state and every hit");
    assert.equal(pkts(1), 0, "check-state itself counts nothing");
    assert.equal(ipfwStats(k, v).accepted - acc0, 6, "every hit counted as accepted");
    assert.equal(ipfwGauges(k, v).states, 3);
    // A hit moves the expiry: 3/4 of the lifetime, a hit, 3/4 again: still there.
    const life = ipfwGet(k, v, "dyn_udp_lifetime") * 1_000_000;
    const clk = k.clock as VirtualClock;
    clk.advance((life * 3) / 4);
    assert.equal(inject(back(55)), true, "before the expiry");
    clk.advance((life * 3) / 4);
    assert.equal(inject(back(55)), true, "the hit before moved the expiry");
    clk.advance(life + 1);
    assert.equal(inject(back(55)), false, "expired: the default denies");
    // A logged check-state logs every packet it looks at, hit or not.
    ipfwDelete(k, v, 1);
    add(1, [I(64), I(71)], 0);
    assert.equal(inject(fwd(55)), true, "a new state by rule 70");
    const l1 = logged();
    assert.equal(inject(back(55)), true);
    assert.equal(logged() - l1, 1, "the logged check-state logged the hit");
  });
});
