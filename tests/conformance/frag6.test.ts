// FreeBSD's IPv6 fragment reassembly suite, tests/sys/netinet6/frag6 (frag6_01 .. frag6_20),
// re-created: each case sends what its frag6_NN.py sends (scapy there, hand-made frames here)
// into a fresh jail (vnet) and checks what frag6_NN.sh and the script's sniffer check: the
// ICMPv6 errors that come back and the ip6stat / icmp6stat / udpstat counters that moved.
// Per-interface statistics (netstat -I) are not checked: wavnet keeps no in6_ifstat.
import { before, after } from "node:test";
import assert from "node:assert/strict";
import type { Kernel } from "../../host/index.js";
import { frag6Knob, inet6Gauges, parseIPv6 } from "../../host/admin/inet6.js";
import { ip6Packet, fragHdr, cat, cksum6 } from "../helpers/inet6.js";
import { mbufsInUse } from "../helpers/inet.js";
import { bootLab, conformanceTest, jail, errors6 } from "./lab.js";

const SRC = "fd00::1";
const DST = "fd00::2";
const NXT_FRAG = 44;
const NXT_DSTOPTS = 60;
const NXT_UDP = 17;
const PARAMPROB = 4;
const TIMEXCEED = 3;
const UNREACH = 1;

let k: Kernel;
before(async () => {
  k = await bootLab(["inet6", "udp"]);
});
after(() => k.shutdown());

/** A UDP header (6543 -> 3456, as FreeBSD's scripts) and `data` bytes of "6"; checksum over this piece alone. */
function udp(data: number, src = SRC): Uint8Array {
  const u = new Uint8Array(8 + data);
  const dv = new DataView(u.buffer);
  dv.setUint16(0, 6543);
  dv.setUint16(2, 3456);
  dv.setUint16(4, u.length);
  u.fill(0x36, 8);
  dv.setUint16(6, cksum6(parseIPv6(src, "src"), parseIPv6(DST, "dst"), NXT_UDP, u) || 0xffff);
  return u;
}

/** Destination Options with one PadN of 6 bytes: scapy pads it to 16 bytes, as frag6_03/08/20 send. */
function dstOptsPadN6(nxt: number): Uint8Array {
  const h = new Uint8Array(16);
  h[0] = nxt;
  h[1] = 1; // (1 + 1) * 8 bytes
  h[2] = 1; // PadN, 6 bytes of data
  h[3] = 6;
  h[10] = 1; // PadN filling the rest (scapy's padding)
  h[11] = 4;
  return h;
}

/** An IPv6 fragment fd00::1 -> fd00::2: Fragment header (offset in 8-byte units, as scapy) then payload. */
function frag(offset8: number, m: boolean, id: number, payload: Uint8Array, o: { nxt?: number; tc?: number; unfrag?: Uint8Array; src?: string } = {}): Uint8Array {
  const fh = fragHdr(o.nxt ?? NXT_UDP, offset8 * 8, m, id);
  const p = ip6Packet({ src: o.src ?? SRC, dst: DST, nxt: o.unfrag ? NXT_DSTOPTS : NXT_FRAG, payload: o.unfrag ? cat(o.unfrag, fh, payload) : cat(fh, payload) });
  if (o.tc !== undefined) {
    p[0] = 0x60 | (o.tc >> 4);
    p[1] = (o.tc & 15) << 4;
  }
  return p;
}

/** The common end of a case: the jail destroyed, nothing of it left in the kernel. */
async function done(j: Awaited<ReturnType<typeof jail>>): Promise<void> {
  await j.destroy();
  assert.equal(mbufsInUse(k), 0, "destroying the jail leaves no mbuf");
  assert.equal(k.vmstatZ().find((z) => z.name === "ip6q")?.used ?? 0, 0, "no reassembly queue left");
}

conformanceTest("frag6_01", async () => {});

conformanceTest("frag6_02", async () => {
  const j = await jail(k, "v6t-02", "inet6");
  j.send(frag(0, true, 5, udp(1287)));
  const sent = await j.sent();
  assert.deepEqual(errors6(sent), [[PARAMPROB, 0]]);
  assert.equal(sent.find((f) => f.type === PARAMPROB)?.pointer, 4, "pointing at the payload length");
  const s = j.ip6();
  assert.equal(s.fragments, 0, "received-fragments 0: answered before it counts");
  assert.equal(s.fragdropped, 0);
  assert.deepEqual(j.icmp6(), { error: 1, unreach: 0, timexceed: 0, paramprob: 1 });
  await done(j);
});

conformanceTest("frag6_03", async () => {
  const j = await jail(k, "v6t-03", "inet6");
  j.send(frag(0, false, 3, udp(0)));
  j.send(frag(0, false, 0x3001, udp(0), { unfrag: dstOptsPadN6(NXT_FRAG) }));
  assert.deepEqual(errors6(await j.sent()), [[UNREACH, 4], [UNREACH, 4]], "port unreachable for each");
  const s = j.ip6();
  assert.equal(s.fragments, 2);
  assert.equal(s.atomicfrags, 2);
  assert.equal(s.fragdropped + s.fragtimeout + s.fragoverflow + s.reassembled, 0);
  assert.equal(j.udp().noport, 2, "dropped-no-socket 2");
  await done(j);
});

conformanceTest("frag6_04", async () => {
  const j = await jail(k, "v6t-04", "inet6");
  j.send(frag(0, true, 4, new Uint8Array(0)));
  const sent = await j.sent();
  assert.deepEqual(errors6(sent), [[PARAMPROB, 0]]);
  assert.equal(sent.find((f) => f.type === PARAMPROB)?.pointer, 4);
  assert.equal(j.ip6().fragments, 1);
  assert.equal(j.ip6().fragdropped, 1);
  await done(j);
});

async function maxfrags(id: string, limit: number): Promise<void> {
  const j = await jail(k, `v6t-${id}`, "inet6");
  assert.equal(frag6Knob(k, j.jail, "maxfrags", limit), limit, "sysctl net.inet6.ip6.maxfrags set");
  for (let i = 0; i < 20; i++) j.send(frag(0, true, 0x5001 + i, udp(1280)));
  assert.equal(j.ip6().fragments, 20);
  assert.equal(j.ip6().fragdropped, 20 - limit);
  assert.equal(frag6Knob(k, j.jail, "frag6_nfrags"), limit);
  j.wait(75);
  const s = j.ip6();
  assert.equal(s.fragtimeout, limit, "dropped-fragment-after-timeout");
  assert.equal(s.fragoverflow, 0);
  assert.equal(frag6Knob(k, j.jail, "frag6_nfrags"), 0);
  assert.deepEqual(j.icmp6(), { error: limit, unreach: 0, timexceed: limit, paramprob: 0 });
  assert.equal(errors6(await j.sent()).filter(([t, c]) => t === TIMEXCEED && c === 1).length, limit, "time exceeded (reassembly) per held first fragment");
  await done(j);
}

conformanceTest("frag6_05_0", () => maxfrags("05_0", 0));
conformanceTest("frag6_05_1", () => maxfrags("05_1", 10));

conformanceTest("frag6_06_0", async () => {
  const j = await jail(k, "v6t-06_0", "inet6");
  assert.equal(frag6Knob(k, j.jail, "maxfragbucketsize", 0), 0);
  for (let i = 0; i < 20; i++) j.send(frag(i * 2, true, 6, udp(8)));
  assert.equal(j.ip6().fragments, 20);
  assert.equal(j.ip6().fragdropped, 20);
  assert.equal(inet6Gauges(k, j.jail).reassembling, 0);
  j.wait(75);
  assert.equal(j.ip6().fragtimeout, 0);
  assert.deepEqual(j.icmp6(), { error: 0, unreach: 0, timexceed: 0, paramprob: 0 });
  await done(j);
});

conformanceTest("frag6_07", async () => {
  const j = await jail(k, "v6t-07", "inet6");
  j.send(frag(0, true, 7, udp(1280)));
  j.send(frag(0x1fff, true, 7, udp(1280)));
  j.send(frag(0x1fff, true, 0x7001, udp(1280)));
  let sent = await j.sent();
  assert.deepEqual(errors6(sent), [[PARAMPROB, 0], [PARAMPROB, 0]]);
  assert.deepEqual(sent.filter((f) => f.type === PARAMPROB).map((f) => f.pointer), [42, 42], "at the Fragment Offset field");
  assert.equal(inet6Gauges(k, j.jail).reassembling, 1, "id 7 still held with its first fragment");
  j.wait(75);
  sent = await j.sent();
  assert.deepEqual(errors6(sent), [[PARAMPROB, 0], [PARAMPROB, 0], [TIMEXCEED, 1]]);
  const s = j.ip6();
  assert.equal(s.fragments, 3);
  assert.equal(s.fragdropped, 0);
  assert.equal(s.fragtimeout, 1);
  assert.deepEqual(j.icmp6(), { error: 3, unreach: 0, timexceed: 1, paramprob: 2 });
  await done(j);
});

conformanceTest("frag6_08", async () => {
  const j = await jail(k, "v6t-08", "inet6");
  j.send(frag(0x1ffc, false, 8, udp(15)));
  assert.equal(inet6Gauges(k, j.jail).reassembling, 1, "alone it fits: held");
  j.send(frag(0, true, 8, udp(8), { unfrag: dstOptsPadN6(NXT_FRAG) }));
  let sent = await j.sent();
  assert.deepEqual(errors6(sent), [[PARAMPROB, 0]], "the queued fragment answered at once");
  assert.equal(sent.find((f) => f.type === PARAMPROB)?.pointer, 42);
  assert.equal(inet6Gauges(k, j.jail).reassembling, 1, "the first fragment stays");
  j.wait(75);
  sent = await j.sent();
  assert.deepEqual(errors6(sent), [[PARAMPROB, 0], [TIMEXCEED, 1]]);
  const s = j.ip6();
  assert.equal(s.fragments, 2);
  assert.equal(s.fragdropped, 0);
  assert.equal(s.fragtimeout, 1);
  assert.deepEqual(j.icmp6(), { error: 2, unreach: 0, timexceed: 1, paramprob: 1 });
  await done(j);
});

async function single(id: string, offset8: number, m: boolean, ident: number, data: number, icmp: boolean): Promise<void> {
  const j = await jail(k, `v6t-${id}`, "inet6");
  j.send(frag(offset8, m, ident, udp(data)));
  assert.equal(inet6Gauges(k, j.jail).reassembling, 1, "waiting for more");
  j.wait(59);
  assert.deepEqual(errors6(await j.sent()), [], "nothing before 60 s");
  j.wait(16);
  assert.deepEqual(errors6(await j.sent()), icmp ? [[TIMEXCEED, 1]] : [], icmp ? "time exceeded (reassembly) for the first fragment" : "no ICMPv6 without the first fragment");
  const s = j.ip6();
  assert.equal(s.fragments, 1);
  assert.equal(s.fragtimeout, 1);
  assert.equal(s.fragdropped, 0);
  assert.equal(inet6Gauges(k, j.jail).reassembling, 0);
  await done(j);
}

conformanceTest("frag6_09", () => single("09", 0, true, 2, 0, true));
conformanceTest("frag6_10", () => single("10", 161, true, 7, 0, false));
conformanceTest("frag6_11", () => single("11", 321, false, 8, 0, false));
conformanceTest("frag6_12", () => single("12", 0, true, 3, 1280, true));

conformanceTest("frag6_13", async () => {
  const j = await jail(k, "v6t-13", "inet6");
  j.send(frag(0, true, 13, udp(8), { tc: 0x00 })); // not-ECT
  j.send(frag(16, false, 13, udp(8), { tc: 0x03 })); // CE
  j.send(frag(0, true, 0x1301, udp(8), { tc: 0x01 })); // ECT(1)
  j.send(frag(16, false, 0x1301, udp(8), { tc: 0x00 })); // not-ECT
  assert.equal(j.ip6().fragdropped, 2, "the second fragment of each dropped (RFC 3168 5.3)");
  assert.equal(inet6Gauges(k, j.jail).reassembling, 2);
  j.wait(75);
  const s = j.ip6();
  assert.equal(s.fragments, 4);
  assert.equal(s.fragdropped, 2);
  assert.equal(s.fragtimeout, 2);
  assert.equal(s.reassembled, 0);
  assert.deepEqual(errors6(await j.sent()), [[TIMEXCEED, 1], [TIMEXCEED, 1]]);
  await done(j);
});

conformanceTest("frag6_14", async () => {
  const j = await jail(k, "v6t-14", "inet6");
  j.send(frag(0, true, 14, udp(8)));
  j.send(frag(0x1000, false, 14, udp(8)));
  j.send(frag(16, true, 14, udp(8)));
  j.send(frag(16, true, 14, udp(8))); // exact duplicate: dropped alone
  assert.equal(j.ip6().fragdropped, 1);
  assert.equal(inet6Gauges(k, j.jail).reassembling, 1);
  j.send(frag(10, true, 0x1401, udp(8)));
  j.send(frag(9, false, 0x1401, udp(8))); // overlaps the one held: the datagram goes (RFC 5722)
  assert.equal(inet6Gauges(k, j.jail).reassembling, 1, "0x1401 dropped whole");
  j.wait(75);
  const s = j.ip6();
  assert.equal(s.fragments, 6);
  assert.equal(s.fragdropped, 2, "the duplicate and the overlapping fragment");
  assert.equal(s.fragtimeout, 3, "id 14's three fragments");
  assert.deepEqual(errors6(await j.sent()), [[TIMEXCEED, 1]]);
  await done(j);
});

conformanceTest("frag6_15", async () => {
  const j = await jail(k, "v6t-15", "inet6");
  assert.equal(frag6Knob(k, j.jail, "maxfragsperpacket", 3), 3);
  for (let i = 0; i < 4; i++) j.send(frag(16 + i * (0x100 + 2), true, 15, udp(8)));
  assert.equal(inet6Gauges(k, j.jail).reassembling, 0, "the 4th flushed the datagram");
  assert.deepEqual(errors6(await j.sent()), [], "no first fragment: no ICMPv6");
  for (let i = 0; i < 4; i++) j.send(frag(i * 2, true, 0x1501, udp(8)));
  assert.deepEqual(errors6(await j.sent()), [[TIMEXCEED, 1]], "time exceeded for the held first fragment");
  j.wait(75);
  const s = j.ip6();
  assert.equal(s.fragments, 8);
  assert.equal(s.fragdropped, 8);
  assert.equal(s.fragtimeout, 0);
  assert.equal(s.fragoverflow, 0);
  assert.deepEqual(j.icmp6(), { error: 1, unreach: 0, timexceed: 1, paramprob: 0 });
  await done(j);
});

conformanceTest("frag6_16", async () => {
  const j = await jail(k, "v6t-16", "inet6");
  const whole = udp(1280 * 30); // the datagram's checksum, over all of it
  j.send(frag(0, true, 16, whole.slice(0, 1288)));
  for (let i = 1, off = 1288; i < 30; i++, off += 1280) j.send(frag(off / 8, i < 29, 16, whole.slice(off, off + 1280)));
  assert.deepEqual(errors6(await j.sent()), [[UNREACH, 4]], "reassembled, then port unreachable");
  const s = j.ip6();
  assert.equal(s.fragments, 30);
  assert.equal(s.reassembled, 1);
  assert.equal(s.fragdropped + s.fragtimeout + s.fragoverflow, 0);
  assert.equal(j.udp().noport, 1);
  await done(j);
});

conformanceTest("frag6_17", async () => {});

conformanceTest("frag6_18", async () => {
  const j = await jail(k, "v6t-18", "inet6");
  let seed = 0x18;
  const rnd = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  for (let i = 0; i < 127; i++) {
    const src = `2001:db8:${rnd(0x10000).toString(16)}:${rnd(0x10000).toString(16)}::${rnd(0x10000).toString(16)}`;
    j.send(frag(rnd(0x2000), rnd(2) === 1, rnd(0x10000), udp(0, src), { src }));
  }
  assert.equal(j.ip6().fragments, 127);
  assert.ok(inet6Gauges(k, j.jail).reassembling > 0, "fragments held when the jail goes");
  await done(j);
});

conformanceTest("frag6_19", async () => {
  const j = await jail(k, "v6t-19", "inet6");
  for (let i = 0; i < 127; i++) j.send(frag(1, true, i, new Uint8Array(8).fill(0x36), { nxt: 59 }));
  assert.equal(inet6Gauges(k, j.jail).reassembling, 127, "127 datagrams held at once");
  j.wait(75);
  const s = j.ip6();
  assert.equal(s.fragments, 127);
  assert.equal(s.fragdropped, 0);
  assert.equal(s.fragoverflow, 0);
  assert.equal(s.fragtimeout, 127);
  assert.deepEqual(j.icmp6(), { error: 0, unreach: 0, timexceed: 0, paramprob: 0 });
  await done(j);
});

conformanceTest("frag6_20", async () => {
  const j = await jail(k, "v6t-20", "inet6");
  j.send(frag(0, true, 20, udp(8)));
  j.send(frag(0x1ffc, false, 20, udp(15)));
  j.send(frag(0, true, 20, udp(8), { unfrag: dstOptsPadN6(NXT_FRAG) }));
  assert.deepEqual(errors6(await j.sent()), [], "no parameter problem: the first fragment held decides the unfragmentable part");
  assert.equal(j.ip6().fragdropped, 1, "the second first fragment dropped as a duplicate");
  j.wait(75);
  const s = j.ip6();
  assert.equal(s.fragments, 3);
  assert.equal(s.fragtimeout, 2);
  assert.deepEqual(errors6(await j.sent()), [[TIMEXCEED, 1]]);
  await done(j);
});
