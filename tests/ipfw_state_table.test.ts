import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { Kernel, type Vnet, type VirtualClock } from "../host/index.js";
import { ipfwAdd, ipfwDelete, ipfwFlush, ipfwGauges, ipfwSet, ipfwSetDefault, ipfwStates, ipfwStats, type IpfwExports } from "../host/admin/ipfw.js";
import { M, A_, rule } from "./helpers/ipfw.js";

// The state table (ip_fw_dynamic.ts) is open-addressed: a state is found by probing from
// its hash to the first empty slot, and removing one (rule deleted, expiry) pulls later
// slots of the run back. A slot left in the wrong place is a state no packet finds again.
// A model written here (a map of flows) is the reference: random flows of both families
// make states, replies ask for them, rules are deleted (their states with them) and time
// passes (states expire and the callout removes them), across the table's growth from one
// page; after every step each flow the model holds must still be found from both ends
// and no other.

const S = 1_000_000;
const PFIL_IN = 1;
const UDP_LIFE = 10 * S;
const CLASSES = 4;

interface Flow { six: boolean; src: number; dst: number; sport: number; cls: number }

const key = (f: Flow) => `${f.six ? 6 : 4} ${f.src} ${f.dst} ${f.sport} ${f.cls}`;

/** A UDP packet: forward (the flow as made: dport 7 + class) or its reply. */
function bytes(f: Flow, reply: boolean): { b: Uint8Array; af: number } {
  const sport = reply ? 7 + f.cls : f.sport;
  const dport = reply ? f.sport : 7 + f.cls;
  const udp = [sport >> 8, sport & 255, dport >> 8, dport & 255, 0, 8, 0, 0];
  // The flow's source end is net 0, its destination end net 1; a reply swaps them.
  const [s, sn, d, dn] = reply ? [f.dst, 1, f.src, 0] : [f.src, 0, f.dst, 1];
  if (!f.six) {
    const b = new Uint8Array(28);
    b.set([0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17], 0);
    b.set([10, sn, s >> 8, s & 255], 12);
    b.set([10, dn, d >> 8, d & 255], 16);
    b.set(udp, 20);
    return { b, af: 4 };
  }
  // IPv6: addresses that differ only in their last bytes (one /48), so folding them to 32
  // bits is put to work; the whole addresses decide.
  const b = new Uint8Array(48);
  b.set([0x60, 0, 0, 0, 0, 8, 17, 64], 0);
  b.set([0xfd, 0, 0, 0, 0, 0, 0, sn, 0, 0, 0, 0, 0, 0, s >> 8, s & 255], 8);
  b.set([0xfd, 0, 0, 0, 0, 0, 0, dn, 0, 0, 0, 0, 0, 0, d >> 8, d & 255], 24);
  b.set(udp, 40);
  return { b, af: 6 };
}

const flowArb: fc.Arbitrary<Flow> = fc.record({
  six: fc.boolean(),
  src: fc.integer({ min: 0, max: 15 }),
  dst: fc.integer({ min: 0, max: 15 }),
  sport: fc.integer({ min: 1000, max: 1063 }),
  cls: fc.integer({ min: 0, max: CLASSES - 1 }),
});
type Op = { make: Flow[] } | { ask: Flow } | { del: number } | { wait: number; all: boolean };
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.array(flowArb, { minLength: 1, maxLength: 120, size: "max" }).map((make) => ({ make })) },
  { weight: 3, arbitrary: flowArb.map((ask) => ({ ask })) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: CLASSES - 1 }).map((del) => ({ del })) },
  { weight: 2, arbitrary: fc.tuple(fc.integer({ min: 1, max: 8 }), fc.boolean()).map(([s, all]) => ({ wait: s * S, all })) },
);

describe("ipfw state table against a model", () => {
  let k: Kernel;
  let v: Vnet;
  let e: IpfwExports & { ipfw_inject(v: number, p: number, len: number, af: number, dir: number): number };
  before(async () => {
    k = await Kernel.boot({ config: ["inet", "ipfw"], clock: "virtual" });
    v = k.createVnet("fw");
    e = k.module("ipfw");
  });
  after(() => k.shutdown());

  const inject = (f: Flow, reply: boolean): boolean => {
    const { b, af } = bytes(f, reply);
    new Uint8Array(k.memory.buffer, e.ipfw_buf(), b.length).set(b);
    const r = e.ipfw_inject(v.ptr, e.ipfw_buf(), b.length, af, PFIL_IN);
    assert.ok(r === 0 || r === 1, `ipfw_inject returned ${r}`);
    return r === 1;
  };
  /** check-state first; class c's rule keeps state for UDP to port 7 + c; default deny. */
  const addClass = (c: number) => ipfwAdd(k, v, rule(10 + c, [M.proto(17), M.dport([[7 + c, 7 + c]]), M.keep()], [A_.accept]));

  test("every state is found from both ends after adds, deletes, expiry and growth; no other flow is", () => {
    let runs = 0;
    let most = 0;
    let expired = 0;
    fc.assert(fc.property(fc.array(opArb, { minLength: 1, maxLength: 40 }), (ops) => {
      ipfwFlush(k, v);
      ipfwSetDefault(k, v, false);
      ipfwSet(k, v, "dyn_max", 100_000);
      ipfwAdd(k, v, rule(1, [], [A_.checkState]));
      for (let c = 0; c < CLASSES; c++) addClass(c);
      const clock = k.clock as VirtualClock;
      const model = new Map<string, { f: Flow; expires: number }>();
      const live = () => [...model.values()].filter((s) => s.expires > clock.now());
      for (const op of ops) {
        if ("make" in op) {
          for (const f of op.make) {
            assert.equal(inject(f, false), true, "keep-state lets the first packet through");
            model.set(key(f), { f, expires: clock.now() + UDP_LIFE });
          }
        } else if ("ask" in op) {
          const s = model.get(key(op.ask));
          const alive = s !== undefined && s.expires > clock.now();
          assert.equal(inject(op.ask, true), alive, `reply of ${key(op.ask)}: ${alive ? "has a state" : "has none"}`);
          if (alive) s!.expires = clock.now() + UDP_LIFE;
        } else if ("del" in op) {
          ipfwDelete(k, v, 10 + op.del);
          for (const [kk, s] of model) if (s.f.cls === op.del) model.delete(kk);
          addClass(op.del);
        } else {
          clock.advance(op.wait);
          for (const [kk, s] of model) if (s.expires <= clock.now()) {
            model.delete(kk);
            expired++;
          }
        }
        // After a removal (and on some waits), every state the model holds answers its
        // reply (which refreshes it); after every step the listing is the model.
        if ("del" in op || ("wait" in op && op.all)) for (const s of live()) {
          assert.equal(inject(s.f, true), true, `reply of ${key(s.f)} after ${JSON.stringify(op).slice(0, 40)}`);
          s.expires = clock.now() + UDP_LIFE;
        }
        const listed = ipfwStates(k, v).map((s) => `${s.family} ${s.src} ${s.dst} ${s.sport} ${s.dport}`).sort();
        const want = live().map(({ f }) => {
          // Addresses as the host prints them (n < 256: only the last byte is set).
          const a = (n: number, six: boolean, net: number) => (six ? `fd00:${net ? "0:0:1:" : ""}:${n ? n.toString(16) : ""}` : `10.${net}.0.${n}`);
          return `${f.six ? 6 : 4} ${a(f.src, f.six, 0)} ${a(f.dst, f.six, 1)} ${f.sport} ${7 + f.cls}`;
        }).sort();
        assert.deepEqual(listed, want);
        most = Math.max(most, model.size);
      }
      runs++;
    }), { numRuns: 40, seed: 20261207 });
    assert.ok(runs === 40);
    assert.ok(most > 128, `the table grew past its first page (at most ${most} states at once)`);
    assert.ok(expired > 100, `states expired while others lived (${expired})`);
  });

  test("a first page 4/5 full (102 states in 128 slots, runs wrapping past its end): rules deleted one by one and half the states expired, the others all found", () => {
    let runs = 0;
    const flows = fc.uniqueArray(flowArb, { minLength: 102, maxLength: 102, selector: key });
    fc.assert(fc.property(flows, fc.array(fc.integer({ min: 0, max: CLASSES - 1 }), { minLength: CLASSES, maxLength: CLASSES }), (fs, order) => {
      ipfwFlush(k, v);
      ipfwSetDefault(k, v, false);
      ipfwAdd(k, v, rule(1, [], [A_.checkState]));
      for (let c = 0; c < CLASSES; c++) addClass(c);
      const clock = k.clock as VirtualClock;
      // Half now, half 5 s later: at 12 s the first half has expired and been swept.
      fs.forEach((f, i) => i % 2 === 0 && assert.equal(inject(f, false), true));
      clock.advance(5 * S);
      fs.forEach((f, i) => i % 2 === 1 && assert.equal(inject(f, false), true));
      assert.equal(ipfwGauges(k, v).states, 102);
      clock.advance(7 * S);
      let left = fs.filter((_, i) => i % 2 === 1);
      assert.equal(ipfwGauges(k, v).states, left.length, "the callout freed the expired half");
      for (const f of left) assert.equal(inject(f, true), true, `reply of ${key(f)} after expiry`);
      for (const f of fs.filter((_, i) => i % 2 === 0)) assert.equal(inject(f, true), false, `expired ${key(f)}`);
      for (const c of order) {
        ipfwDelete(k, v, 10 + c);
        addClass(c);
        left = left.filter((f) => f.cls !== c);
        for (const f of left) assert.equal(inject(f, true), true, `reply of ${key(f)} after deleting rule ${10 + c}`);
      }
      runs++;
    }), { numRuns: 60, seed: 7 });
    assert.equal(runs, 60);
  });

  test("a state's packet count goes past 65,535 (the slot's count carried into the item) and survives the table's growth", () => {
    ipfwFlush(k, v);
    ipfwSetDefault(k, v, false);
    ipfwAdd(k, v, rule(1, [], [A_.checkState]));
    addClass(0);
    const f: Flow = { six: false, src: 1, dst: 2, sport: 1234, cls: 0 };
    for (let i = 0; i < 70_000; i++) assert.ok(inject(f, i % 2 === 1) || assert.fail(`packet ${i} denied`));
    // Enough other flows to grow the table twice: the counting slot moves.
    for (let i = 0; i < 300; i++) inject({ six: true, src: i & 15, dst: i >> 4, sport: 2000, cls: 0 }, false);
    for (let i = 0; i < 5; i++) inject(f, false);
    const [st] = ipfwStates(k, v).filter((s) => s.family === 4);
    assert.equal(st.packets, 70_005);
    assert.equal(ipfwStates(k, v).length, 301);
  });

  test("dyn_max 300 over 400 flows of both families: 100 refused and counted (dynFull), every state still found", () => {
    ipfwFlush(k, v);
    ipfwSetDefault(k, v, false);
    ipfwSet(k, v, "dyn_max", 300);
    ipfwAdd(k, v, rule(1, [], [A_.checkState]));
    addClass(0);
    const full0 = ipfwStats(k, v).dynFull;
    const flows: Flow[] = Array.from({ length: 400 }, (_, i) => ({ six: i % 3 === 0, src: i & 15, dst: i >> 4, sport: 1000 + (i % 7), cls: 0 }));
    const passed = flows.map((f) => inject(f, false));
    assert.equal(passed.filter(Boolean).length, 300);
    assert.equal(ipfwStats(k, v).dynFull - full0, 100);
    assert.equal(ipfwGauges(k, v).states, 300);
    flows.forEach((f, i) => assert.equal(inject(f, true), passed[i], `reply ${i}`));
    ipfwSet(k, v, "dyn_max", 16384);
  });
});
