// MLD listener (assembly/netinet6/mld6.ts; RFC 3810, RFC 2710 queries): reports at address
// add and delete with their robustness repeat in virtual time, answers to queries within
// the Maximum Response Delay, one join for a shared solicited-node group, malformed
// messages counted, nothing left at vnet destroy.
import { test } from "node:test";
import assert from "node:assert/strict";
import { type VirtualClock, type Interface, type Kernel } from "../host/index.js";
import { addAddress6, delAddress6, mldStats, mldGroups, ifmcstat, netstatSMld, addresses6 } from "../host/admin/inet6.js";
import { bootInet6, ip6Packet, cksum6, cat, parseIPv6, formatIPv6 } from "./helpers/inet6.js";
import { ether, mbufsInUse } from "./helpers/inet.js";

interface Mld { t: number; type: number; hlim: number; ra: boolean; src: string; dst: string; dmac: string; records: { type: number; group: string }[]; v1group?: string }

/** The MLD messages among captured frames (Ethernet, IPv6, hop-by-hop, ICMPv6). */
function mlds(frames: { kernelTsUs: number; data: Uint8Array }[]): Mld[] {
  const out: Mld[] = [];
  for (const f of frames) {
    const d = f.data;
    if (d[12] !== 0x86 || d[13] !== 0xdd || d[20] !== 0) continue; // IPv6 with hop-by-hop first
    const hbh = 54;
    const hlen = (d[hbh + 1] + 1) * 8;
    if (d[hbh] !== 58) continue;
    const icp = hbh + hlen;
    const type = d[icp];
    if (type !== 143 && type !== 131 && type !== 132) continue;
    let ra = false;
    for (let p = hbh + 2; p < hbh + hlen; p += d[p] === 0 ? 1 : d[p + 1] + 2) if (d[p] === 5 && d[p + 1] === 2 && d[p + 2] === 0 && d[p + 3] === 0) ra = true;
    const records: { type: number; group: string }[] = [];
    const m: Mld = { t: f.kernelTsUs, type, hlim: d[21], ra, src: formatIPv6(d.slice(22, 38)), dst: formatIPv6(d.slice(38, 54)), dmac: [...d.subarray(0, 6)].map((v) => v.toString(16).padStart(2, "0")).join(":"), records };
    if (type === 143) {
      const n = (d[icp + 6] << 8) | d[icp + 7];
      let r = icp + 8;
      for (let i = 0; i < n; i++) {
        records.push({ type: d[r], group: formatIPv6(d.slice(r + 4, r + 20)) });
        r += 20 + d[r + 1] * 4 + ((d[r + 2] << 8) | d[r + 3]) * 16;
      }
    } else m.v1group = formatIPv6(d.slice(icp + 8, icp + 24));
    out.push(m);
  }
  return out;
}

async function setup(seed = 1) {
  const k = await bootInet6(seed, ["if_epair", "inet6"]);
  const clock = k.clock as VirtualClock;
  const A = k.createVnet("A");
  const B = k.createVnet("B");
  const [ea, eb] = k.epair(A, B);
  ea.setUp();
  eb.setUp();
  clock.advance(3_000_000); // the link-local addresses' joins and DAD are over
  return { k, clock, A, B, ea, eb };
}

/** Capture what ifc sends while fn runs, then until the clock has gone on by after µs. */
async function sent(clock: VirtualClock, ifc: Interface, fn: () => void, after: number) {
  const frames: { kernelTsUs: number; data: Uint8Array }[] = [];
  const cap = ifc.capture();
  const reading = (async () => {
    for await (const f of cap) if (f.dir === "out") frames.push({ kernelTsUs: f.kernelTsUs, data: f.data.slice() });
  })();
  const t0 = clock.now();
  fn();
  clock.advance(after);
  await new Promise((r) => setImmediate(r));
  await cap.stop();
  await reading;
  return { t0, frames, mld: mlds(frames) };
}

const llOf = (k: Kernel, ifc: Interface) => addresses6(k, ifc).find((a) => a.linkLocal)!.address.split("%")[0];

/** An MLD message from src to dst with hop limit hlim, after a hop-by-hop header with a Router Alert unless ra is false. */
function mldPacket(src: string, dst: string, msg: Uint8Array, o: { hlim?: number; ra?: boolean } = {}): Uint8Array {
  new DataView(msg.buffer).setUint16(2, 0);
  new DataView(msg.buffer).setUint16(2, cksum6(parseIPv6(src, "s"), parseIPv6(dst, "d"), 58, msg));
  const hbh = o.ra === false ? new Uint8Array([58, 0, 1, 4, 0, 0, 0, 0]) : new Uint8Array([58, 0, 5, 2, 0, 0, 1, 0]);
  return ip6Packet({ src, dst, nxt: 0, hlim: o.hlim ?? 1, payload: cat(hbh, msg) });
}

/** An MLDv2 query (RFC 3810 5.1) for group ("::" general) with Maximum Response Code code. */
function query2(group: string, code: number): Uint8Array {
  const q = new Uint8Array(28);
  q[0] = 130;
  new DataView(q.buffer).setUint16(4, code);
  q.set(parseIPv6(group, "g"), 8);
  q[24] = 2; // QRV
  q[25] = 125; // QQIC
  return q;
}

/** An MLDv1 query (RFC 2710 3) with Maximum Response Delay ms. */
function query1(group: string, ms: number): Uint8Array {
  const q = new Uint8Array(24);
  q[0] = 130;
  new DataView(q.buffer).setUint16(4, ms);
  q.set(parseIPv6(group, "g"), 8);
  return q;
}

const ROUTER = "fe80::99";
const RMAC = "02:00:00:00:00:99";

test("an address added sends a State-Change report for its solicited-node group, hop limit 1, Router Alert, to ff02::16, twice within the Unsolicited Report Interval (RFC 3810 6.1)", async () => {
  const { k, clock, A, ea } = await setup();
  const r0 = mldStats(k, A).sndReports;
  const { t0, mld } = await sent(clock, ea, () => addAddress6(k, ea, "fd00::1:abcd/64"), 3_000_000);
  const mine = mld.filter((m) => m.records.some((r) => r.group === "ff02::1:ff01:abcd"));
  assert.equal(mine.length, 2, `[Robustness Variable] = 2 reports: ${JSON.stringify(mld)}`);
  for (const m of mine) {
    assert.equal(m.type, 143);
    assert.equal(m.hlim, 1, "hop limit 1");
    assert.ok(m.ra, "Router Alert option present");
    assert.equal(m.dst, "ff02::16");
    assert.equal(m.dmac, "33:33:00:00:00:16", "to ff02::16's Ethernet group address");
    assert.equal(m.src, llOf(k, ea), "from the link-local address (valid by now)");
    assert.deepEqual(m.records, [{ type: 4, group: "ff02::1:ff01:abcd" }], "CHANGE_TO_EXCLUDE_MODE {}: a join");
  }
  assert.equal(mine[0].t, t0, "the first at once");
  assert.ok(mine[1].t - mine[0].t <= 1_000_000, `the repeat within 1 s (${mine[1].t - mine[0].t} us)`);
  assert.equal(mldStats(k, A).sndReports - r0, 2);
  assert.equal(mld.filter((m) => m.records.some((r) => r.group === "ff02::1")).length, 0, "ff02::1 is never reported");
  k.shutdown();
});

test("the link-local address's join is reported from :: while it is still tentative (RFC 3810 5.2.13)", async () => {
  const k = await bootInet6(2, ["if_epair", "inet6"]);
  const clock = k.clock as VirtualClock;
  const A = k.createVnet("A");
  const B = k.createVnet("B");
  const [ea, eb] = k.epair(A, B);
  eb.setUp();
  const { mld } = await sent(clock, ea, () => ea.setUp(), 3_000_000);
  assert.ok(mld.length >= 2, JSON.stringify(mld));
  assert.equal(mld[0].src, "::", "the first report goes during DAD");
  assert.equal(mld[0].records.length, 1);
  assert.equal(mld[0].records[0].type, 4);
  assert.match(mld[0].records[0].group, /^ff02::1:ff/);
  k.shutdown();
});

test("an address deleted sends a leave (CHANGE_TO_INCLUDE_MODE {}) twice; the group goes after the last", async () => {
  const { k, clock, A, ea } = await setup();
  addAddress6(k, ea, "fd00::1:abcd/64");
  clock.advance(3_000_000);
  assert.ok(mldGroups(k, ea).some((g) => g.group === "ff02::1:ff01:abcd" && g.refs === 1));
  let mid: ReturnType<typeof mldGroups> = [];
  const { mld } = await sent(clock, ea, () => {
    delAddress6(k, ea, "fd00::1:abcd");
    mid = mldGroups(k, ea);
  }, 3_000_000);
  assert.deepEqual(mid.find((g) => g.group === "ff02::1:ff01:abcd"), { group: "ff02::1:ff01:abcd", refs: 0, pending: 1 }, "kept, leaving, while its repeat is due");
  const leaves = mld.filter((m) => m.records.some((r) => r.group === "ff02::1:ff01:abcd"));
  assert.equal(leaves.length, 2);
  for (const m of leaves) assert.deepEqual(m.records, [{ type: 3, group: "ff02::1:ff01:abcd" }]);
  assert.equal(mldGroups(k, ea).find((g) => g.group === "ff02::1:ff01:abcd"), undefined, "freed after the last leave");
  assert.equal(mldStats(k, A).sndLeaves, 2);
  k.shutdown();
});

test("two addresses sharing a solicited-node group join it once; it is left with the last of them", async () => {
  const { k, clock, ea } = await setup();
  const first = await sent(clock, ea, () => addAddress6(k, ea, "fd00::1:abcd/64"), 3_000_000);
  const second = await sent(clock, ea, () => addAddress6(k, ea, "fd00:1::1:abcd/64"), 3_000_000);
  assert.equal(first.mld.length, 2);
  assert.equal(second.mld.length, 0, "the group is already joined: nothing to report");
  assert.equal(mldGroups(k, ea).find((g) => g.group === "ff02::1:ff01:abcd")?.refs, 2, "two references");
  const del1 = await sent(clock, ea, () => delAddress6(k, ea, "fd00::1:abcd"), 3_000_000);
  assert.equal(del1.mld.length, 0, "still wanted by the other address");
  assert.equal(mldGroups(k, ea).find((g) => g.group === "ff02::1:ff01:abcd")?.refs, 1);
  const del2 = await sent(clock, ea, () => delAddress6(k, ea, "fd00:1::1:abcd"), 3_000_000);
  assert.equal(del2.mld.length, 2, "left with the last");
  assert.ok(del2.mld.every((m) => m.records[0].type === 3));
  k.shutdown();
});

test("a general query is answered with MODE_IS_EXCLUDE for every group within the Maximum Response Delay; a group-specific one for that group only", async () => {
  const { k, clock, A, ea } = await setup();
  addAddress6(k, ea, "fd00::1:abcd/64");
  clock.advance(3_000_000);
  const groups = mldGroups(k, ea).map((g) => g.group).sort();
  assert.equal(groups.length, 2, `the link-local's and fd00::1:abcd's solicited-node groups: ${groups}`);
  const gen = await sent(clock, ea, () => ea.receive(ether(RMAC, "33:33:00:00:00:01", 0x86dd, mldPacket(ROUTER, "ff02::1", query2("::", 2000)))), 5_000_000);
  assert.equal(gen.mld.length, 2, JSON.stringify(gen.mld));
  for (const m of gen.mld) {
    assert.equal(m.type, 143);
    assert.equal(m.records[0].type, 2, "MODE_IS_EXCLUDE");
    assert.ok(m.t - gen.t0 <= 2_000_000, `within 2000 ms (${m.t - gen.t0} us)`);
  }
  assert.deepEqual(gen.mld.map((m) => m.records[0].group).sort(), groups);
  // The exponential form of the code (RFC 3810 5.1.3): 0x8000 = mant 0, exp 0 -> 0x1000 << 3 = 32768 ms.
  const exp = await sent(clock, ea, () => ea.receive(ether(RMAC, "33:33:00:00:00:01", 0x86dd, mldPacket(ROUTER, "ff02::1", query2("::", 0x8000)))), 40_000_000);
  assert.equal(exp.mld.length, 2);
  assert.ok(exp.mld.some((m) => m.t - exp.t0 > 2_000_000) && exp.mld.every((m) => m.t - exp.t0 <= 32_768_000), JSON.stringify(exp.mld.map((m) => m.t - exp.t0)));
  const spec = await sent(clock, ea, () => ea.receive(ether(RMAC, "33:33:ff:01:ab:cd", 0x86dd, mldPacket(ROUTER, "ff02::1:ff01:abcd", query2("ff02::1:ff01:abcd", 1000)))), 3_000_000);
  assert.deepEqual(spec.mld.map((m) => m.records), [[{ type: 2, group: "ff02::1:ff01:abcd" }]]);
  assert.ok(spec.mld[0].t - spec.t0 <= 1_000_000);
  const s = mldStats(k, A);
  assert.deepEqual([s.rcvV2Queries, s.rcvGenQueries, s.rcvGroupQueries], [3, 2, 1]);
  assert.match(netstatSMld(k, A), /3 V2 listener queries received/);
  k.shutdown();
});

test("an MLDv1 query is answered by an MLDv1 report to the group (RFC 2710 4)", async () => {
  const { k, clock, A, ea } = await setup();
  addAddress6(k, ea, "fd00::1:abcd/64");
  clock.advance(3_000_000);
  const q = await sent(clock, ea, () => ea.receive(ether(RMAC, "33:33:ff:01:ab:cd", 0x86dd, mldPacket(ROUTER, "ff02::1:ff01:abcd", query1("ff02::1:ff01:abcd", 500)))), 2_000_000);
  assert.equal(q.mld.length, 1);
  assert.deepEqual([q.mld[0].type, q.mld[0].v1group, q.mld[0].dst, q.mld[0].hlim, q.mld[0].ra], [131, "ff02::1:ff01:abcd", "ff02::1:ff01:abcd", 1, true]);
  assert.ok(q.mld[0].t - q.t0 <= 500_000);
  assert.equal(mldStats(k, A).rcvV1Queries, 1);
  k.shutdown();
});

test("malformed MLD is dropped and counted: hop limit not 1, no Router Alert, non-link-local source, short; none answered", async () => {
  const { k, clock, A, ea } = await setup();
  addAddress6(k, ea, "fd00::1:abcd/64");
  clock.advance(3_000_000);
  addAddress6(k, ea, "fd00::99/64"); // a global source on-link for the bad query below
  clock.advance(3_000_000);
  const s0 = mldStats(k, A);
  const bad = await sent(clock, ea, () => {
    const q = () => query2("::", 1000);
    ea.receive(ether(RMAC, "33:33:00:00:00:01", 0x86dd, mldPacket(ROUTER, "ff02::1", q(), { hlim: 255 })));
    ea.receive(ether(RMAC, "33:33:00:00:00:01", 0x86dd, mldPacket(ROUTER, "ff02::1", q(), { ra: false })));
    ea.receive(ether(RMAC, "33:33:00:00:00:01", 0x86dd, mldPacket("fd00::77", "ff02::1", q())));
    ea.receive(ether(RMAC, "33:33:00:00:00:01", 0x86dd, mldPacket(ROUTER, "ff02::1", q().slice(0, 26))));
    ea.receive(ether(RMAC, "33:33:00:00:00:01", 0x86dd, mldPacket(ROUTER, "ff02::1", query2("fd00::5", 1000)))); // group not multicast
    const rep = new Uint8Array(28);
    rep[0] = 143;
    rep[7] = 1;
    rep[8] = 4;
    rep.set(parseIPv6("ff02::1:ff00:5", "g"), 12);
    ea.receive(ether(RMAC, "33:33:00:00:00:01", 0x86dd, mldPacket("fd00::77", "ff02::1", rep))); // report from a global source
    ea.receive(ether(RMAC, "33:33:00:00:00:01", 0x86dd, mldPacket(ROUTER, "ff02::1", rep.slice()))); // a good one: heard, ignored
  }, 3_000_000);
  const s = mldStats(k, A);
  assert.equal(s.rcvTotal - s0.rcvTotal, 7);
  assert.equal(s.rcvBadttl - s0.rcvBadttl, 1, "hop limit 255");
  assert.equal(s.rcvNora - s0.rcvNora, 1, "no Router Alert");
  assert.equal(s.rcvBadqueries - s0.rcvBadqueries, 2, "global source; group not multicast");
  assert.equal(s.rcvTooshort - s0.rcvTooshort, 1, "26 bytes");
  assert.equal(s.rcvBadreports - s0.rcvBadreports, 1);
  assert.equal(s.rcvReports - s0.rcvReports, 1);
  assert.equal(s.rcvV2Queries - s0.rcvV2Queries, 0, "no query accepted");
  assert.equal(bad.mld.length, 0, "nothing answered");
  k.shutdown();
});

test("ifmcstat lists an interface's groups; a vnet destroyed with groups and reports pending leaves nothing", async () => {
  const { k, clock, A, B, ea } = await setup();
  addAddress6(k, ea, "fd00::1:abcd/64");
  ea.receive(ether(RMAC, "33:33:00:00:00:01", 0x86dd, mldPacket(ROUTER, "ff02::1", query2("::", 10000))));
  assert.ok(mldGroups(k, ea).some((g) => g.answerDue === "v2" && g.pending === 1), JSON.stringify(mldGroups(k, ea)));
  assert.match(ifmcstat(k, A), new RegExp(`^${ea.name}:\\n\\tmldv2 .*\\n(.*\\n)*\\t\\tgroup ff02::1:ff01:abcd refcnt 1 mode exclude pending 1\\n\\t\\t\\tmcast-macaddr 33:33:ff:01:ab:cd`, "m"));
  assert.equal(A.accounting().items["in6_multi"], 2);
  A.destroy();
  B.destroy();
  clock.advance(1_000);
  assert.equal(mbufsInUse(k), 0);
  assert.equal(k.k.callout_pending_count(), 0, "no MLD callout left");
  assert.equal(k.vmstatZ().find((z) => z.name === "in6_multi")?.used ?? 0, 0);
  k.shutdown();
});
