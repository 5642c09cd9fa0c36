// MLD listener (assembly/netinet6/mld6.ts; RFC 3810, RFC 2710 queries): reports at address
// add and delete with their robustness repeat in virtual time, answers to queries within
// the Maximum Response Delay, one join for a shared solicited-node group, malformed
// messages counted, nothing left at vnet destroy.
import { test } from "node:test";
import assert from "node:assert/strict";
import { type VirtualClock, type Interface, type Kernel } from "../host/index.js";
import { addAddress6, delAddress6, mldStats, mldGroups, ifmcstat, netstatSMld, addresses6, ndpDelete } from "../host/admin/inet6.js";
import { bridgeAdd, bridgeMldSnoop, bridgeMdb, bridgeStats } from "../host/admin/bridge.js";
import { Commands } from "../host/cli/commands.js";
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

// ---------------------------------------------------------------------------------------
// MLD snooping on a bridge (assembly/modules/if_bridge/bridge_mld.ts)

/** A bridge in vnet R with 3 members; host Hi (fd00::i/64) alone on the other end of member i. */
async function bridged(snoop: boolean) {
  const k = await bootInet6(3, ["if_epair", "if_bridge", "inet6", "udp"]);
  const clock = k.clock as VirtualClock;
  const R = k.createVnet("R");
  const [br] = R.ifcreate("bridge");
  br.setUp();
  if (snoop) assert.equal(bridgeMldSnoop(k, br, true), true);
  const h: Interface[] = [];
  const p: Interface[] = [];
  const H = [];
  for (let i = 1; i <= 3; i++) {
    H[i] = k.createVnet(`H${i}`);
    const [a, b] = k.epair(R, H[i]);
    bridgeAdd(k, br, a);
    a.setUp();
    b.setUp();
    addAddress6(k, b, `fd00::${i}/64`);
    p[i] = a;
    h[i] = b;
  }
  clock.advance(3_000_000);
  return { k, clock, R, br, h, p, H };
}

/** Neighbor solicitations for fd00::2 (to its solicited-node group) each host end receives while fn runs. */
async function nsSeen(clock: VirtualClock, h: Interface[], fn: () => void): Promise<number[]> {
  const counts = [0, 0, 0, 0];
  const caps = [1, 2, 3].map((i) => {
    const cap = h[i].capture();
    const reading = (async () => {
      for await (const f of cap) {
        const d = f.data;
        if (f.dir === "in" && d[0] === 0x33 && d[2] === 0xff && d[5] === 2 && d[12] === 0x86 && d[13] === 0xdd && d[20] === 58 && d[54] === 135) counts[i]++;
      }
    })();
    return { cap, reading };
  });
  fn();
  clock.advance(5_000_000);
  await new Promise((r) => setImmediate(r));
  for (const c of caps) {
    await c.cap.stop();
    await c.reading;
  }
  return counts;
}

test("bridge mldsnoop: with 3 hosts, an NS for host 2 reaches host 2's port only; a querier's port gets it too; the membership times out", async () => {
  const { k, clock, R, br, h, p, H } = await bridged(true);
  const mdb = bridgeMdb(k, br);
  assert.ok(mdb.some((e) => e.mac === "33:33:ff:00:00:02" && e.iface.name === p[2].name && e.expiresInS > 250), JSON.stringify(mdb.map((e) => [e.mac, e.port, e.expiresInS])));
  assert.ok(!mdb.some((e) => e.mac === "33:33:ff:00:00:02" && e.iface.name !== p[2].name), "learned on host 2's port only");
  const s1 = H[1].socket("inet6", "dgram");
  const seen = await nsSeen(clock, h, () => s1.sendto("x", "fd00::2", 9));
  assert.ok(seen[2] >= 1, `host 2 is asked: ${seen}`);
  assert.equal(seen[3], 0, `host 3 hears no NS for fd00::2: ${seen}`);
  assert.ok(bridgeStats(k, br).mldSnooped >= 1);
  // A querier on member 3: its port is a router port and gets every snooped group's traffic too.
  p[3].receive(ether(RMAC, "33:33:00:00:00:01", 0x86dd, mldPacket(ROUTER, "ff02::1", query2("::", 1000))));
  ndpDelete(k, H[1], "fd00::2"); // so that the next datagram solicits again
  const withRouter = await nsSeen(clock, h, () => s1.sendto("x", "fd00::2", 9));
  assert.ok(withRouter[2] >= 1 && withRouter[3] >= 1, `host 2 and the router port: ${withRouter}`);
  // The hosts answered the query: renewed. Past the Multicast Address Listening Interval (260 s) with no query, gone: flooded.
  clock.advance(200_000_000);
  assert.ok(bridgeMdb(k, br).some((e) => e.mac === "33:33:ff:00:00:02"), "still within 260 s of the answer");
  clock.advance(100_000_000);
  assert.deepEqual(bridgeMdb(k, br), [], "timed out");
  s1.close();
  R.destroy();
  assert.equal(k.vmstatZ().find((z) => z.name === "bridge_mdb")?.used ?? 0, 0, "the bridge's table went with it");
  k.shutdown();
});

test("bridge without mldsnoop (the default): an NS for host 2 is flooded to every port", async () => {
  const { k, clock, br, h, H } = await bridged(false);
  assert.equal(bridgeMldSnoop(k, br), false, "off by default");
  assert.equal(bridgeMdb(k, br).length, 0, "nothing learned");
  const s1 = H[1].socket("inet6", "dgram");
  const seen = await nsSeen(clock, h, () => s1.sendto("x", "fd00::2", 9));
  assert.ok(seen[2] >= 1 && seen[3] >= 1, `both hear it: ${seen}`);
  s1.close();
  k.shutdown();
});

test("shell: ifmcstat -i, netstat -s -p mld, ifconfig BRIDGE mldsnoop and mdb", async () => {
  const { k, clock, R, br, p, H } = await bridged(false);
  const cmds = new Commands(k);
  const host = { name: "h1", vnet: H[1] };
  const router = { name: "r", vnet: R };
  assert.match(await cmds.exec(host, `ifmcstat -i ${H[1].interfaces().find((i) => i.name !== "lo0")!.name}`), /group ff02::1:ff00:1 refcnt 1 mode exclude\n\t\t\tmcast-macaddr 33:33:ff:00:00:01/);
  assert.match(await cmds.exec(host, "netstat -s -p mld"), /^mld:\n\t0 messages received\n[^]*\t4 membership reports sent/);
  assert.equal(await cmds.exec(router, `ifconfig ${br.name} mldsnoop`), "");
  assert.equal(bridgeMldSnoop(k, br), true);
  // Learned from the next reports: the hosts answer a query.
  p[1].receive(ether(RMAC, "33:33:00:00:00:01", 0x86dd, mldPacket(ROUTER, "ff02::1", query2("::", 1000))));
  clock.advance(2_000_000);
  assert.match(await cmds.exec(router, `ifconfig ${br.name} mdb`), new RegExp(`^33:33:ff:00:00:03 ${p[3].name} 2[0-9][0-9]$`, "m"));
  assert.match(await cmds.exec(router, `ifconfig ${br.name}`), /mldsnoop: \d+ memberships learned/);
  assert.equal(await cmds.exec(router, `ifconfig ${br.name} -mldsnoop`), "");
  assert.equal(await cmds.exec(router, `ifconfig ${br.name} mdb`), "", "forgotten when turned off");
  await assert.rejects(cmds.exec(router, `ifconfig ${p[1].name} mldsnoop`), /is for bridges/);
  k.shutdown();
});
