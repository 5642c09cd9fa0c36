// The fuzzed input paths: for each, a fast-check arbitrary that makes a case (plain data, so
// a failing case shrinks, prints and saves as JSON) and a runner that turns the case into
// frames for a target (tests/fuzz/world.ts) and feeds them in.
//
// Structure-aware: headers are built field by field from pools of meaningful values (the
// target's own addresses and ports, broadcast and multicast, boundaries) mixed with random
// ones, and checksums are right unless the case says otherwise, so most inputs get past the
// first check into the code behind it. Paths: ether (Ethernet and ARP), ipv4 (options,
// fragment sets), icmp (errors quoting our own connections), udp (both families), ipv6
// (extension header chains, fragment sets), icmp6 (ND with options), tcp (stateful: the
// harness is the peer), bridge (frames into the members of a bridge), vxlan (datagrams into
// a VXLAN port over 127.0.0.1), corpus (real captured frames, mutated), mixed (a history of
// the stateless paths' cases, time passing, into one target).

import fc from "fast-check";
import dgram from "node:dgram";
import { readFileSync, readdirSync, existsSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createVxlan } from "../../host/node/vxlan.js";
import { addAddress } from "../../host/admin/inet.js";
import { SOL_SOCKET, SO, type Socket } from "../../host/sockets/socket.js";
import * as W from "./wire.js";
import { FuzzFailure, PEER_MAC, PEER4, PEER6, T4, T6, type Target, type World } from "./world.js";

type Bytes = Uint8Array;
const here = dirname(fileURLToPath(import.meta.url));
export const CORPUS_DIR = join(here, "corpus");

// ---------------------------------------------------------------------------------------
// Pools

const bytes = (max: number, min = 0) => fc.uint8Array({ minLength: min, maxLength: max });
/**
 * arb one time in n, else null (an override or a damage most cases must not have). Not
 * fc.option, whose freq is the other way round: null one time in freq.
 */
function rare<T>(arb: fc.Arbitrary<T>, n: number): fc.Arbitrary<T | null> {
  return fc.oneof({ weight: n - 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: arb });
}
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u8 = fc.integer({ min: 0, max: 255 });

/** Destination MAC: "T" (the target's), broadcast, multicast, or a literal. */
const dstMac = fc.oneof(
  { weight: 6, arbitrary: fc.constant("T") },
  fc.constantFrom("ff:ff:ff:ff:ff:ff", "33:33:00:00:00:01", "33:33:ff:00:00:02", "01:00:5e:00:00:01", "01:80:c2:00:00:00"),
  bytes(6, 6).map((b) => [...b].map((x) => x.toString(16).padStart(2, "0")).join(":")),
);
const srcMac = fc.oneof(
  { weight: 6, arbitrary: fc.constant(PEER_MAC) },
  fc.constantFrom("T", "ff:ff:ff:ff:ff:ff", "00:00:00:00:00:00", "01:00:5e:00:00:01", "02:00:00:00:00:02"),
);
function macOf(t: Target, m: string, iface = t.eT): Bytes {
  return m === "T" ? W.mac(iface.mac) : W.mac(m);
}

const addr4 = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(T4, PEER4) },
  fc.constantFrom("10.0.0.255", "255.255.255.255", "0.0.0.0", "127.0.0.1", "224.0.0.1", "10.0.1.5", "10.0.1.255", "240.0.0.1", "10.0.0.3"),
  bytes(4, 4).map((b) => [...b].join(".")),
);
const addr6 = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(T6, PEER6) },
  fc.constantFrom("fe80::1", "fe80::2", "ff02::1", "ff02::2", "ff02::1:ff00:2", "::", "::1", "fd00::3", "fd00:1::5", "2001:db8::1", "::ffff:10.0.0.1"),
);
const port = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(53, 80) }, fc.constantFrom(0, 7, 1234, 65535), u16);
const sumMode = fc.oneof({ weight: 8, arbitrary: fc.constant("ok" as const) }, fc.constantFrom("bad" as const, "zero" as const));

// ---------------------------------------------------------------------------------------
// Ethernet and ARP

const arpArb = fc.record({
  hrd: fc.oneof({ weight: 5, arbitrary: fc.constant(1) }, u16),
  pro: fc.oneof({ weight: 5, arbitrary: fc.constant(0x0800) }, u16),
  hln: fc.oneof({ weight: 5, arbitrary: fc.constant(6) }, u8),
  pln: fc.oneof({ weight: 5, arbitrary: fc.constant(4) }, u8),
  op: fc.oneof({ weight: 5, arbitrary: fc.constantFrom(1, 2) }, u16),
  sha: srcMac,
  spa: addr4,
  tha: dstMac,
  tpa: addr4,
  cut: rare(fc.integer({ min: 0, max: 28 }), 5),
  pad: bytes(20),
});
type ArpCase = typeof arpArb extends fc.Arbitrary<infer T> ? T : never;

const etherArb = fc.record({
  dst: dstMac,
  src: srcMac,
  vlan: rare(u16, 8),
  body: fc.oneof(
    { weight: 3, arbitrary: arpArb.map((a) => ({ k: "arp" as const, a })) },
    fc.record({ k: fc.constant("raw" as const), etype: fc.oneof(fc.constantFrom(0x0800, 0x0806, 0x86dd, 0x8100, 0x88cc, 0x0600, 0x05dc), u16), data: bytes(120) }),
  ),
});
type EtherCase = typeof etherArb extends fc.Arbitrary<infer T> ? T : never;

function arpBytes(t: Target, a: ArpCase): Bytes {
  const p = W.arp({ hrd: a.hrd, pro: a.pro, hln: a.hln, pln: a.pln, op: a.op, sha: macOf(t, a.sha), spa: W.ip4(a.spa), tha: macOf(t, a.tha), tpa: W.ip4(a.tpa) });
  return W.cat(a.cut === null ? p : p.slice(0, a.cut), a.pad);
}

function etherBytes(t: Target, e: EtherCase, iface = t.eT): Bytes {
  const payload = e.body.k === "arp" ? arpBytes(t, e.body.a) : e.body.data;
  const etype = e.body.k === "arp" ? 0x0806 : e.body.etype;
  return W.ether(macOf(t, e.dst, iface), macOf(t, e.src, iface), etype, payload, e.vlan ?? undefined);
}

// ---------------------------------------------------------------------------------------
// IPv4

const ip4Option = fc.oneof(
  fc.constant([1]), // NOP
  fc.constant([0]), // EOL
  fc.record({ t: fc.constantFrom(7, 68, 131, 137, 148, 130, 136), len: fc.integer({ min: 0, max: 40 }), ptr: fc.integer({ min: 0, max: 44 }), flags: u8, fill: bytes(36) })
    .map((o) => {
      const body = [o.t, o.len, o.ptr, o.flags, ...o.fill];
      return body.slice(0, Math.max(2, Math.min(o.len, body.length)));
    }),
  fc.constant([148, 4, 0, 0]), // router alert
  bytes(8, 1).map((b) => [...b]),
);
const ip4Options = fc.array(ip4Option, { maxLength: 6 }).map((os) => new Uint8Array(os.flat().slice(0, 40)));

/** An upper-layer payload for IPv4 or IPv6 packets: ICMP echo, UDP to a port, TCP SYN, raw. */
const upperArb = fc.oneof(
  fc.record({ k: fc.constant("echo" as const), id: u16, seq: u16, data: bytes(64) }),
  fc.record({ k: fc.constant("udp" as const), sport: port, dport: port, data: bytes(64), sum: sumMode, len: rare(u16, 8) }),
  fc.record({ k: fc.constant("tcp" as const), sport: port, dport: port, seq: u32, ack: u32, flags: u8, win: u16, data: bytes(32), sum: sumMode }),
  fc.record({ k: fc.constant("raw" as const), proto: fc.oneof(fc.constantFrom(2, 4, 41, 47, 50, 103, 132, 255), u8), data: bytes(64) }),
);
type Upper = typeof upperArb extends fc.Arbitrary<infer T> ? T : never;

function upperBytes(u: Upper, net: { v6: boolean; src: Bytes; dst: Bytes }): { proto: number; data: Bytes } {
  switch (u.k) {
    case "echo":
      if (net.v6) return { proto: 58, data: W.icmp6(128, 0, W.cat(new Uint8Array([u.id >> 8, u.id & 255, u.seq >> 8, u.seq & 255]), u.data), net.src, net.dst) };
      return { proto: 1, data: W.icmp4(8, 0, (u.id << 16) | u.seq, u.data) };
    case "udp":
      return { proto: 17, data: W.udp(u.sport, u.dport, u.data, { sum: u.sum }, net, u.len ?? undefined) };
    case "tcp":
      return { proto: 6, data: W.tcp({ sport: u.sport, dport: u.dport, seq: u.seq, ack: u.ack, flags: u.flags, win: u.win, data: u.data }, { sum: u.sum }, net) };
    case "raw":
      return { proto: u.proto, data: u.data };
  }
}

const ip4Arb = fc.record({
  dst: dstMac,
  src: addr4,
  to: addr4,
  ttl: fc.oneof(fc.constant(64), fc.constantFrom(0, 1, 255)),
  id: fc.integer({ min: 0, max: 3 }),
  tos: rare(u8, 8),
  df: fc.boolean(),
  options: rare(ip4Options, 3),
  upper: upperArb,
  vhl: rare(u8, 12),
  totalLen: rare(u16, 12),
  cut: rare(fc.integer({ min: 0, max: 200 }), 10),
  bad: rare(fc.constant(true), 15),
});
type Ip4Case = typeof ip4Arb extends fc.Arbitrary<infer T> ? T : never;

function ip4Bytes(t: Target, c: Ip4Case): Bytes {
  const src = W.ip4(c.src);
  const dst = W.ip4(c.to);
  const up = upperBytes(c.upper, { v6: false, src, dst });
  let p = W.ipv4({ src, dst, proto: up.proto, ttl: c.ttl, id: c.id, tos: c.tos ?? 0, df: c.df, options: c.options ?? undefined, payload: up.data, vhl: c.vhl ?? undefined, totalLen: c.totalLen ?? undefined, badSum: c.bad === true });
  if (c.cut !== null) p = p.slice(0, c.cut);
  return W.ether(macOf(t, c.dst), W.mac(PEER_MAC), 0x0800, p);
}

/**
 * A fragment set: one datagram (UDP to 53 or an ICMP echo, up to 4 KiB) cut into pieces at
 * generated offsets, some overlapping, duplicated or misaligned, sent in a generated order,
 * the first maybe with options.
 */
const fragSetArb = fc.record({
  v6: fc.boolean(),
  upper: fc.oneof(
    fc.record({ k: fc.constant("udp" as const), sport: port, dport: fc.constant(53), data: bytes(4000), sum: fc.constant("ok" as const), len: fc.constant(null) }),
    fc.record({ k: fc.constant("echo" as const), id: u16, seq: u16, data: bytes(4000) }),
  ),
  cuts: fc.array(fc.integer({ min: 0, max: 4100 }), { maxLength: 8 }),
  extra: fc.array(fc.record({ off: fc.integer({ min: 0, max: 8200 }), len: fc.integer({ min: 0, max: 1500 }), mf: fc.boolean() }), { maxLength: 3 }),
  order: fc.array(fc.nat(), { maxLength: 12 }),
  dup: rare(fc.nat(), 3),
  firstOptions: rare(ip4Options, 3),
  id: fc.integer({ min: 0, max: 2 }),
  hugeOffset: rare(fc.integer({ min: 7000, max: 8191 }), 6),
});
type FragSet = typeof fragSetArb extends fc.Arbitrary<infer T> ? T : never;

function fragFrames(t: Target, c: FragSet): Bytes[] {
  const src = c.v6 ? W.ip6(PEER6) : W.ip4(PEER4);
  const dst = c.v6 ? W.ip6(T6) : W.ip4(T4);
  const up = upperBytes(c.upper as Upper, { v6: c.v6, src, dst });
  const whole = up.data;
  const cuts = [...new Set([0, ...c.cuts.map((x) => Math.min(x, whole.length)), whole.length])].sort((a, b) => a - b);
  const pieces: { off: number; data: Bytes; mf: boolean }[] = [];
  for (let i = 0; i + 1 < cuts.length; i++) {
    const off = cuts[i] & ~7;
    const end = i + 2 < cuts.length ? Math.max(off + 8, cuts[i + 1] & ~7) : whole.length;
    pieces.push({ off, data: whole.slice(off, end), mf: i + 2 < cuts.length });
  }
  for (const e of c.extra) pieces.push({ off: e.off & ~7, data: new Uint8Array(e.len).fill(0xa5), mf: e.mf });
  if (c.hugeOffset !== null) pieces.push({ off: c.hugeOffset * 8, data: new Uint8Array(64).fill(1), mf: true });
  if (c.dup !== null && pieces.length) pieces.push(pieces[c.dup % pieces.length]);
  // Order: a permutation driven by the generated numbers.
  const idx = pieces.map((_, i) => i);
  c.order.forEach((n, i) => {
    const a = i % idx.length;
    const b = n % idx.length;
    [idx[a], idx[b]] = [idx[b], idx[a]];
  });
  const ident = 0x4000 + c.id;
  return idx.map((i) => {
    const p = pieces[i];
    if (c.v6) {
      const fh = W.frag6(up.proto, p.off >> 3, p.mf, ident);
      return W.ether(W.mac(t.eT.mac), W.mac(PEER_MAC), 0x86dd, W.ipv6({ src, dst, nxt: 44, hlim: 64, payload: W.cat(fh, p.data) }));
    }
    return W.ether(W.mac(t.eT.mac), W.mac(PEER_MAC), 0x0800, W.ipv4({
      src, dst, proto: up.proto, ttl: 64, id: ident, off: p.off >> 3, mf: p.mf, payload: p.data,
      options: p.off === 0 && c.firstOptions ? c.firstOptions : undefined,
    }));
  });
}

// ---------------------------------------------------------------------------------------
// ICMP: messages, and errors quoting a header of ours (a TCP or UDP flow of the target)

const icmpArb = fc.record({
  type: fc.oneof({ weight: 3, arbitrary: fc.constantFrom(0, 3, 4, 5, 8, 11, 12, 13, 14, 17, 18) }, u8),
  code: fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 0, max: 15 }) }, u8),
  rest: u32,
  quote: rare(fc.record({
    src: fc.constantFrom(T4, PEER4, "10.0.0.9"),
    dst: fc.constantFrom(PEER4, T4, "10.0.5.5"),
    upper: upperArb,
    cut: fc.integer({ min: 0, max: 80 }),
    vhl: fc.option(u8, { freq: 6 }),
  }), 2),
  data: bytes(80),
  to: fc.oneof({ weight: 5, arbitrary: fc.constant(T4) }, fc.constantFrom("10.0.0.255", "255.255.255.255", "224.0.0.1")),
  badSum: rare(fc.constant(true), 12),
});
type IcmpCase = typeof icmpArb extends fc.Arbitrary<infer T> ? T : never;

function icmpBytes(t: Target, c: IcmpCase): Bytes {
  let data = c.data;
  if (c.quote) {
    const q = c.quote;
    const s = W.ip4(q.src);
    const d = W.ip4(q.dst);
    const up = upperBytes(q.upper, { v6: false, src: s, dst: d });
    data = W.ipv4({ src: s, dst: d, proto: up.proto, ttl: 1, id: 1, payload: up.data, vhl: q.vhl ?? undefined }).slice(0, 20 + q.cut);
  }
  const m = W.icmp4(c.type, c.code, c.rest, data, c.badSum === true);
  return W.ether(W.mac(t.eT.mac), W.mac(PEER_MAC), 0x0800, W.ipv4({ src: W.ip4(PEER4), dst: W.ip4(c.to), proto: 1, ttl: 64, id: 7, payload: m }));
}

// ---------------------------------------------------------------------------------------
// UDP (both families)

const udpArb = fc.record({
  v6: fc.boolean(),
  to: fc.oneof({ weight: 5, arbitrary: fc.constant("T") }, fc.constantFrom("bcast", "mcast")),
  sport: port,
  dport: port,
  data: bytes(600),
  sum: sumMode,
  len: rare(u16, 6),
  cut: rare(fc.integer({ min: 0, max: 700 }), 8),
});
type UdpCase = typeof udpArb extends fc.Arbitrary<infer T> ? T : never;

function udpBytes(t: Target, c: UdpCase): Bytes {
  const src = c.v6 ? W.ip6(PEER6) : W.ip4(PEER4);
  const dst = c.v6 ? W.ip6(c.to === "T" ? T6 : c.to === "mcast" ? "ff02::1" : "ff02::1:ff00:2") : W.ip4(c.to === "T" ? T4 : c.to === "bcast" ? "10.0.0.255" : "224.0.0.1");
  let u = W.udp(c.sport, c.dport, c.data, { sum: c.sum }, { v6: c.v6, src, dst }, c.len ?? undefined);
  if (c.cut !== null) u = u.slice(0, c.cut);
  const p = c.v6 ? W.ipv6({ src, dst, nxt: 17, hlim: 64, payload: u }) : W.ipv4({ src, dst, proto: 17, ttl: 64, id: 9, payload: u });
  return W.ether(W.mac(t.eT.mac), W.mac(PEER_MAC), c.v6 ? 0x86dd : 0x0800, p);
}

// ---------------------------------------------------------------------------------------
// IPv6: extension header chains

const opt6 = fc.oneof(
  fc.constant([0]), // Pad1
  fc.integer({ min: 0, max: 12 }).map((n) => [1, n, ...new Array(n).fill(0)]), // PadN
  fc.constant([5, 2, 0, 0]), // router alert
  fc.constant([0xc2, 4, 0, 1, 0, 0]), // jumbo payload
  fc.record({ t: u8, len: fc.integer({ min: 0, max: 20 }), fill: bytes(20) }).map((o) => [o.t, o.len, ...o.fill].slice(0, 2 + o.len)),
);
const ext6Arb = fc.oneof(
  fc.record({ t: fc.constantFrom(0, 60), opts: fc.array(opt6, { maxLength: 5 }) }),
  fc.record({ t: fc.constant(43), rtype: fc.constantFrom(0, 2, 3, 4, 253), left: fc.integer({ min: 0, max: 3 }), addrs: fc.array(addr6, { maxLength: 2 }) }),
  fc.record({ t: fc.constant(44), off: fc.integer({ min: 0, max: 8191 }), more: fc.boolean(), ident: u32 }),
  fc.record({ t: fc.constantFrom(50, 51, 135, 139, 140, 253), raw: bytes(16, 8) }),
);
type Ext6 = typeof ext6Arb extends fc.Arbitrary<infer T> ? T : never;

const ip6Arb = fc.record({
  dst: dstMac,
  src: addr6,
  to: addr6,
  hlim: fc.oneof(fc.constant(64), fc.constantFrom(0, 1, 255)),
  exts: fc.array(ext6Arb, { maxLength: 4 }),
  upper: fc.oneof({ weight: 5, arbitrary: upperArb }, fc.constant({ k: "none" as const })),
  plen: rare(u16, 10),
  version: rare(fc.integer({ min: 0, max: 15 }), 15),
  cut: rare(fc.integer({ min: 0, max: 300 }), 10),
});
type Ip6Case = typeof ip6Arb extends fc.Arbitrary<infer T> ? T : never;

function extBytes(e: Ext6, nxt: number): Bytes {
  if (e.t === 0 || e.t === 60) return W.ext6(nxt, new Uint8Array(e.opts.flat()));
  if (e.t === 43) {
    const body = W.cat(new Uint8Array([e.rtype, e.left, 0, 0, 0, 0]), ...e.addrs.map((a) => W.ip6(a)));
    return W.ext6(nxt, body);
  }
  if (e.t === 44) return W.frag6(nxt, e.off, e.more, e.ident);
  if (!("raw" in e)) return new Uint8Array(0);
  const r = e.raw.slice();
  r[0] = nxt;
  return r;
}

function ip6Bytes(t: Target, c: Ip6Case): Bytes {
  const src = W.ip6(c.src);
  const dst = W.ip6(c.to);
  let nxt = 59;
  let tail: Bytes = new Uint8Array(0);
  if (c.upper.k !== "none") {
    const up = upperBytes(c.upper as Upper, { v6: true, src, dst });
    nxt = up.proto;
    tail = up.data;
  }
  for (let i = c.exts.length - 1; i >= 0; i--) {
    tail = W.cat(extBytes(c.exts[i], nxt), tail);
    nxt = c.exts[i].t;
  }
  let p = W.ipv6({ src, dst, nxt, hlim: c.hlim, payload: tail, plenOverride: c.plen ?? undefined, version: c.version ?? undefined });
  if (c.cut !== null) p = p.slice(0, c.cut);
  return W.ether(macOf(t, c.dst), W.mac(PEER_MAC), 0x86dd, p);
}

// ---------------------------------------------------------------------------------------
// ICMPv6 and ND

const ndOpt = fc.oneof(
  fc.record({ type: fc.constantFrom(1, 2), len: fc.oneof({ weight: 4, arbitrary: fc.constant(1) }, fc.integer({ min: 0, max: 3 })), mac: srcMac }),
  fc.record({ type: fc.constant(3), len: fc.oneof({ weight: 4, arbitrary: fc.constant(4) }, fc.integer({ min: 0, max: 5 })), plen: fc.integer({ min: 0, max: 128 }), flags: u8, valid: u32, pref: u32, prefix: addr6 }),
  fc.record({ type: fc.constant(5), len: fc.oneof(fc.constant(1), fc.integer({ min: 0, max: 2 })), mtu: u32 }),
  fc.record({ type: u8, len: fc.integer({ min: 0, max: 4 }), fill: bytes(32) }),
);
type NdOpt = typeof ndOpt extends fc.Arbitrary<infer T> ? T : never;

function ndOptBytes(t: Target, o: NdOpt): Bytes {
  const b = new Uint8Array(Math.max(2, o.len * 8));
  b[0] = o.type;
  b[1] = o.len;
  if ("mac" in o) b.set(macOf(t, o.mac).subarray(0, Math.max(0, b.length - 2)), 2);
  else if ("prefix" in o) {
    const body = W.cat(new Uint8Array([o.plen, o.flags]), new Uint8Array([o.valid >>> 24, o.valid >>> 16, o.valid >>> 8, o.valid]), new Uint8Array([o.pref >>> 24, o.pref >>> 16, o.pref >>> 8, o.pref]), new Uint8Array(4), W.ip6(o.prefix));
    b.set(body.subarray(0, b.length - 2), 2);
  } else if ("mtu" in o) b.set(new Uint8Array([0, 0, o.mtu >>> 24, o.mtu >>> 16, o.mtu >>> 8, o.mtu]).subarray(0, b.length - 2), 2);
  else b.set(o.fill.subarray(0, b.length - 2), 2);
  return b;
}

const icmp6Arb = fc.record({
  type: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(133, 134, 135, 136, 137) }, fc.constantFrom(1, 2, 3, 4, 128, 129, 130, 131, 143), u8),
  code: fc.oneof({ weight: 5, arbitrary: fc.constant(0) }, u8),
  src: fc.oneof({ weight: 3, arbitrary: fc.constantFrom(PEER6, "fe80::1") }, fc.constantFrom("::", "ff02::1", T6)),
  to: fc.oneof({ weight: 3, arbitrary: fc.constantFrom(T6, "ff02::1:ff00:2", "ff02::1") }, fc.constantFrom("fe80::9", "ff02::2")),
  hlim: fc.oneof({ weight: 4, arbitrary: fc.constant(255) }, fc.constantFrom(64, 1)),
  word: u32,
  target: addr6,
  target2: addr6,
  opts: fc.array(ndOpt, { maxLength: 4 }),
  quote: rare(ip6Arb, 3),
  data: bytes(40),
  badSum: rare(fc.constant(true), 12),
});
type Icmp6Case = typeof icmp6Arb extends fc.Arbitrary<infer T> ? T : never;

function icmp6Bytes(t: Target, c: Icmp6Case): Bytes {
  const src = W.ip6(c.src);
  const dst = W.ip6(c.to);
  const word = new Uint8Array([c.word >>> 24, c.word >>> 16, c.word >>> 8, c.word]);
  const opts = W.cat(...c.opts.map((o) => ndOptBytes(t, o)));
  let body: Bytes;
  if (c.type === 135 || c.type === 136) body = W.cat(word, W.ip6(c.target), opts);
  else if (c.type === 137) body = W.cat(word, W.ip6(c.target), W.ip6(c.target2), opts);
  else if (c.type === 133) body = W.cat(word, opts);
  else if (c.type === 134) body = W.cat(word, new Uint8Array(8), opts);
  else if (c.type < 128 && c.quote) body = W.cat(word, ip6Bytes(t, c.quote).subarray(14, 14 + 1232));
  else body = W.cat(word, c.data);
  const m = W.icmp6(c.type, c.code, body, src, dst, c.badSum === true);
  return W.ether(W.mac(t.eT.mac), W.mac(PEER_MAC), 0x86dd, W.ipv6({ src, dst, nxt: 58, hlim: c.hlim, payload: m }));
}

// ---------------------------------------------------------------------------------------
// Corpus: real frames captured from the project's own traffic (scripts/fuzz-corpus.ts), mutated

let corpusFrames: Bytes[] | undefined;
/** Frames of every tests/fuzz/corpus/*.pcap (classic pcap, Ethernet). */
export function corpus(): Bytes[] {
  if (corpusFrames) return corpusFrames;
  corpusFrames = [];
  if (!existsSync(CORPUS_DIR)) return corpusFrames;
  for (const f of readdirSync(CORPUS_DIR).filter((n) => n.endsWith(".pcap")).sort()) {
    const b = new Uint8Array(readFileSync(join(CORPUS_DIR, f)));
    const dv = new DataView(b.buffer, b.byteOffset);
    for (let o = 24; o + 16 <= b.length; ) {
      const n = dv.getUint32(o + 8, true);
      corpusFrames.push(b.slice(o + 16, o + 16 + n));
      o += 16 + n;
    }
  }
  return corpusFrames;
}

const mutation = fc.oneof(
  { weight: 4, arbitrary: fc.record({ m: fc.constant("flip" as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }) },
  { weight: 3, arbitrary: fc.record({ m: fc.constant("set" as const), at: fc.nat(), v: fc.oneof(fc.constantFrom(0, 1, 0x7f, 0x80, 0xff), u8) }) },
  fc.record({ m: fc.constant("cut" as const), at: fc.nat() }),
  fc.record({ m: fc.constant("grow" as const), data: bytes(64, 1) }),
  // Length fields: IPv4 total length and IHL, IPv6 payload length, UDP length, TCP data offset.
  { weight: 2, arbitrary: fc.record({ m: fc.constant("len" as const), field: fc.constantFrom("ip_len", "ihl", "ip6_plen", "udp_len", "tcp_off"), v: fc.oneof(fc.constantFrom(0, 1, 4, 5, 15, 20, 40, 0xffff), u16) }) },
);
type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

const corpusArb = fc.array(fc.record({ pick: fc.nat(), muts: fc.array(mutation, { minLength: 1, maxLength: 4 }), fix: fc.boolean(), toT: fc.boolean() }), { minLength: 1, maxLength: 4 });
type CorpusCase = typeof corpusArb extends fc.Arbitrary<infer T> ? T : never;

function l3(f: Bytes): { et: number; o: number } {
  return { et: f.length >= 14 ? (f[12] << 8) | f[13] : 0, o: 14 };
}

function mutate(frame: Bytes, muts: Mutation[]): Bytes {
  let f: Bytes = frame.slice();
  for (const mu of muts) {
    if (f.length === 0) break;
    switch (mu.m) {
      case "flip":
        f[mu.at % f.length] ^= 1 << mu.bit;
        break;
      case "set":
        f[mu.at % f.length] = mu.v;
        break;
      case "cut":
        f = f.slice(0, mu.at % (f.length + 1));
        break;
      case "grow":
        f = W.cat(f, mu.data);
        break;
      case "len": {
        const { et, o } = l3(f);
        const put16 = (at: number, v: number) => {
          if (at + 1 < f.length) {
            f[at] = v >> 8;
            f[at + 1] = v & 0xff;
          }
        };
        if (et === 0x0800 && f.length > o + 20) {
          const hl = (f[o] & 0xf) * 4;
          if (mu.field === "ip_len") put16(o + 2, mu.v);
          else if (mu.field === "ihl") f[o] = 0x40 | (mu.v & 0xf);
          else if (mu.field === "udp_len" && f[o + 9] === 17) put16(o + hl + 4, mu.v);
          else if (mu.field === "tcp_off" && f[o + 9] === 6 && f.length > o + hl + 12) f[o + hl + 12] = (mu.v & 0xf) << 4;
        } else if (et === 0x86dd && f.length > o + 40) {
          if (mu.field === "ip6_plen") put16(o + 4, mu.v);
          else if (mu.field === "udp_len" && f[o + 6] === 17) put16(o + 44, mu.v);
          else if (mu.field === "tcp_off" && f[o + 6] === 6 && f.length > o + 52) f[o + 52] = (mu.v & 0xf) << 4;
        }
        break;
      }
    }
  }
  return f;
}

function corpusFramesFor(t: Target, c: CorpusCase): Bytes[] {
  const all = corpus();
  if (!all.length) return [];
  return c.map((x) => {
    let f = mutate(all[x.pick % all.length], x.muts);
    if (x.toT && f.length >= 6) f.set(W.mac(t.eT.mac), 0);
    if (x.fix) f = W.fixChecksums(f);
    return f;
  });
}

// ---------------------------------------------------------------------------------------
// TCP, stateful: the harness is the peer

const tcpOpt = fc.oneof(
  fc.record({ o: fc.constant("mss" as const), v: fc.oneof(fc.constantFrom(0, 1, 64, 536, 1460, 9000, 65535), u16) }),
  fc.record({ o: fc.constant("ws" as const), v: fc.integer({ min: 0, max: 20 }) }),
  fc.constant({ o: "sackok" as const }),
  fc.record({ o: fc.constant("ts" as const), val: fc.constantFrom("now", "old", "far", "zero"), ecr: fc.constantFrom("echo", "zero", "rand") }),
  fc.record({ o: fc.constant("sack" as const), blocks: fc.array(fc.tuple(fc.integer({ min: -70000, max: 70000 }), fc.integer({ min: 0, max: 70000 })), { maxLength: 4 }) }),
  fc.constant({ o: "nop" as const }),
  fc.constant({ o: "eol" as const }),
  fc.record({ o: fc.constant("raw" as const), b: bytes(12, 1) }),
);
type TcpOpt = typeof tcpOpt extends fc.Arbitrary<infer T> ? T : never;

/** A sequence or acknowledgment offset: exact, near, in or around a window, anywhere. */
const seqOff = fc.oneof(
  { weight: 6, arbitrary: fc.constant(0) },
  { weight: 3, arbitrary: fc.integer({ min: -3, max: 3 }) },
  { weight: 2, arbitrary: fc.integer({ min: -70000, max: 70000 }) },
  fc.integer({ min: -0x80000000, max: 0x7fffffff }),
);

const tcpAction = fc.oneof(
  { weight: 2, arbitrary: fc.record({ a: fc.constant("syn" as const), opts: fc.array(tcpOpt, { maxLength: 5 }), win: u16 }) },
  { weight: 2, arbitrary: fc.constant({ a: "ack" as const }) },
  { weight: 3, arbitrary: fc.record({ a: fc.constant("data" as const), len: fc.integer({ min: 1, max: 3000 }), psh: fc.boolean() }) },
  { weight: 6, arbitrary: fc.record({ a: fc.constant("seg" as const), flags: u8, seq: seqOff, ack: seqOff, len: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 1500 })), win: fc.oneof(fc.constant(65535), u16), opts: fc.array(tcpOpt, { maxLength: 4 }), urp: fc.oneof(fc.constant(0), u16) }) },
  fc.constant({ a: "fin" as const }),
  fc.constant({ a: "finold" as const }),
  fc.record({ a: fc.constant("rst" as const), seq: seqOff }),
  { weight: 3, arbitrary: fc.record({ a: fc.constant("app" as const), op: fc.constantFrom("accept", "send", "recv", "close", "shutdown", "abort", "connect"), n: fc.integer({ min: 1, max: 70000 }) }) },
  { weight: 2, arbitrary: fc.record({ a: fc.constant("synack" as const), opts: fc.array(tcpOpt, { maxLength: 5 }) }) },
  { weight: 2, arbitrary: fc.record({ a: fc.constant("time" as const), us: fc.oneof(fc.integer({ min: 1, max: 300_000 }), fc.integer({ min: 1, max: 200_000_000 })) }) },
);
type TcpAction = typeof tcpAction extends fc.Arbitrary<infer T> ? T : never;

/**
 * A start that takes the connection to a deeper state before the generated actions, so they
 * are tried in every state of RFC 9293's diagram, not mostly in LISTEN and ESTABLISHED:
 * passive (accept) or active (connect, synack), then our close and the peer's ACK and FIN
 * (or a FIN crossing ours) in the orders that give FIN_WAIT_1/2, CLOSING, TIME_WAIT,
 * CLOSE_WAIT and LAST_ACK.
 */
const tcpPrefix = fc.constantFrom(
  [], ["accept"], ["accept", "close"], ["accept", "close", "ack"], ["accept", "fin"], ["accept", "fin", "close"],
  ["accept", "close", "fin"], ["accept", "close", "ack", "fin"], ["accept", "fin", "close", "ack"], ["accept", "close", "finold"],
  ["connect"], ["connect", "synack"], ["connect", "synack", "close"], ["connect", "synack", "close", "ack"],
  ["connect", "synack", "fin"], ["connect", "synack", "close", "fin"], ["connect", "synack", "close", "ack", "fin"],
  ["connect", "synack", "close", "finold"],
);

const tcpArb = fc.record({
  v6: fc.boolean(),
  pport: fc.integer({ min: 1024, max: 65535 }),
  handshake: fc.boolean(),
  prefix: tcpPrefix,
  actions: fc.array(tcpAction, { minLength: 1, maxLength: 24 }),
});

const FULL_OPTS: TcpOpt[] = [{ o: "mss", v: 1460 }, { o: "ws", v: 7 }, { o: "sackok" }, { o: "ts", val: "now", ecr: "echo" }];
function prefixAction(step: string): TcpAction {
  switch (step) {
    case "accept": case "close": case "connect": return { a: "app", op: step, n: 1 };
    case "synack": return { a: "synack", opts: FULL_OPTS };
    case "ack": return { a: "ack" };
    case "finold": return { a: "finold" };
    default: return { a: "fin" };
  }
}
type TcpCase = typeof tcpArb extends fc.Arbitrary<infer T> ? T : never;

/** The peer's view of one connection (to the listener, or from the target's connect). */
class Peer {
  iss = 0x10000000;
  nxt = 0x10000000; // our snd_nxt
  tnxt = 0; // the target's: highest seq (+ SYN/FIN) it sent on this 4-tuple
  tiss = 0;
  seen = false;
  tsNow = 1000;
  tsEcho = 0;
  tport = 80;
  active: Socket | null = null;
  accepted: Socket[] = [];
  constructor(readonly t: Target, readonly v6: boolean, readonly pport: number) {}

  get src(): Bytes {
    return this.v6 ? W.ip6(PEER6) : W.ip4(PEER4);
  }
  get dst(): Bytes {
    return this.v6 ? W.ip6(T6) : W.ip4(T4);
  }

  send(seg: W.TcpSeg): void {
    const net = { v6: this.v6, src: this.src, dst: this.dst };
    const l4 = W.tcp(seg, { sum: "ok" }, net);
    const p = this.v6 ? W.ipv6({ src: this.src, dst: this.dst, nxt: 6, hlim: 64, payload: l4 }) : W.ipv4({ src: this.src, dst: this.dst, proto: 6, ttl: 64, id: 1, df: true, payload: l4 });
    this.t.inject(W.ether(W.mac(this.t.eT.mac), W.mac(PEER_MAC), this.v6 ? 0x86dd : 0x0800, p));
    this.read();
  }

  /** Take what the target sent: learn its sequence numbers, answer ARP and NS for the peer. */
  read(): void {
    for (const f of this.t.take()) {
      const et = (f[12] << 8) | f[13];
      if (et === 0x0806 && f.length >= 42 && f[21] === 1 && W.hex(f.subarray(38, 42)) === W.hex(W.ip4(PEER4))) {
        const reply = W.arp({ hrd: 1, pro: 0x0800, hln: 6, pln: 4, op: 2, sha: W.mac(PEER_MAC), spa: W.ip4(PEER4), tha: f.slice(22, 28), tpa: f.slice(28, 32) });
        this.t.inject(W.ether(f.slice(6, 12), W.mac(PEER_MAC), 0x0806, reply));
        continue;
      }
      if (et === 0x86dd && f.length >= 14 + 40 + 24 && f[20] === 58 && f[54] === 135 && W.hex(f.subarray(62, 78)) === W.hex(W.ip6(PEER6))) {
        this.t.inject(naFrame(this.t, f.slice(22, 38)));
        continue;
      }
      const s = W.parseTcpOut(f);
      if (!s || s.v6 !== this.v6 || s.dport !== this.pport) continue;
      this.tport = s.sport;
      if (s.flags & W.TH.SYN) {
        this.tiss = s.seq;
        this.seen = true;
      }
      const end = (s.seq + s.len + ((s.flags & W.TH.SYN) ? 1 : 0) + ((s.flags & W.TH.FIN) ? 1 : 0)) >>> 0;
      if (!this.seen || ((end - this.tnxt) | 0) > 0) this.tnxt = end;
      this.seen = true;
      if (s.tsval !== undefined) this.tsEcho = s.tsval;
    }
  }

  opts(list: TcpOpt[]): Bytes {
    const out: number[] = [];
    for (const o of list) {
      switch (o.o) {
        case "mss": out.push(2, 4, o.v >> 8, o.v & 255); break;
        case "ws": out.push(3, 3, o.v); break;
        case "sackok": out.push(4, 2); break;
        case "ts": {
          const v = o.val === "now" ? (this.tsNow += 10) : o.val === "old" ? this.tsNow - 100_000 : o.val === "far" ? this.tsNow + 0x7fff0000 : 0;
          const e = o.ecr === "echo" ? this.tsEcho : o.ecr === "zero" ? 0 : 0x12345678;
          out.push(8, 10, (v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255, (e >>> 24) & 255, (e >>> 16) & 255, (e >>> 8) & 255, e & 255);
          break;
        }
        case "sack": {
          const bl = o.blocks.slice(0, 4);
          out.push(5, 2 + 8 * bl.length);
          for (const [a, l] of bl) {
            const s = (this.tnxt + a) >>> 0;
            const e = (s + l) >>> 0;
            out.push(s >>> 24, (s >>> 16) & 255, (s >>> 8) & 255, s & 255, e >>> 24, (e >>> 16) & 255, (e >>> 8) & 255, e & 255);
          }
          break;
        }
        case "nop": out.push(1); break;
        case "eol": out.push(0); break;
        case "raw": out.push(...o.b); break;
      }
    }
    return new Uint8Array(out.slice(0, 40));
  }

  base(flags: number, extra: Partial<W.TcpSeg> = {}): W.TcpSeg {
    return { sport: this.pport, dport: this.tport, seq: this.nxt, ack: this.tnxt, flags, win: 65535, data: new Uint8Array(0), ...extra };
  }
}

function naFrame(t: Target, to: Bytes): Bytes {
  const body = W.cat(new Uint8Array([0x60, 0, 0, 0]), W.ip6(PEER6), new Uint8Array([2, 1]), W.mac(PEER_MAC));
  const m = W.icmp6(136, 0, body, W.ip6(PEER6), to);
  return W.ether(W.mac(t.eT.mac), W.mac(PEER_MAC), 0x86dd, W.ipv6({ src: W.ip6(PEER6), dst: to, nxt: 58, hlim: 255, payload: m }));
}

function primeNeighbours(t: Target): void {
  // ARP request and NS from the peer: the target learns its MAC (RFC 826, RFC 4861 7.2.3).
  const req = W.arp({ hrd: 1, pro: 0x0800, hln: 6, pln: 4, op: 1, sha: W.mac(PEER_MAC), spa: W.ip4(PEER4), tha: new Uint8Array(6), tpa: W.ip4(T4) });
  t.inject(W.ether(W.mac("ff:ff:ff:ff:ff:ff"), W.mac(PEER_MAC), 0x0806, req));
  const ns = W.cat(new Uint8Array(4), W.ip6(T6), new Uint8Array([1, 1]), W.mac(PEER_MAC));
  const snm = W.ip6("ff02::1:ff00:2");
  t.inject(W.ether(W.mac("33:33:ff:00:00:02"), W.mac(PEER_MAC), 0x86dd, W.ipv6({ src: W.ip6(PEER6), dst: snm, nxt: 58, hlim: 255, payload: W.icmp6(135, 0, ns, W.ip6(PEER6), snm) })));
  t.take();
}

async function runTcp(w: World, t: Target, c: TcpCase): Promise<void> {
  primeNeighbours(t);
  const p = new Peer(t, c.v6, c.pport);
  const k = t.k;
  const fam = c.v6 ? "inet6" : "inet";
  const lsn = c.v6 ? t.tcp6 : t.tcp4;
  // A passive start needs the handshake, an active one must not have it.
  const handshake = c.prefix[0] === "accept" ? true : c.prefix[0] === "connect" ? false : c.handshake;
  if (handshake) {
    p.send(p.base(W.TH.SYN, { options: p.opts([{ o: "mss", v: 1460 }, { o: "ws", v: 7 }, { o: "sackok" }, { o: "ts", val: "now", ecr: "zero" }]) }));
    p.nxt++;
    p.send(p.base(W.TH.ACK, { options: p.opts([{ o: "ts", val: "now", ecr: "echo" }]) }));
  }
  for (const a of [...c.prefix.map(prefixAction), ...c.actions]) {
    switch (a.a) {
      case "syn":
        p.nxt = p.iss;
        p.send(p.base(W.TH.SYN, { win: a.win, options: p.opts(a.opts) }));
        p.nxt = (p.iss + 1) >>> 0;
        break;
      case "synack":
        // Answer the target's active open (after app:connect), with our ISS.
        p.nxt = p.iss;
        p.send(p.base(W.TH.SYN | W.TH.ACK, { options: p.opts(a.opts) }));
        p.nxt = (p.iss + 1) >>> 0;
        break;
      case "ack":
        p.send(p.base(W.TH.ACK));
        break;
      case "data": {
        const data = new Uint8Array(a.len).fill(0x61);
        p.send(p.base(W.TH.ACK | (a.psh ? W.TH.PSH : 0), { data }));
        p.nxt = (p.nxt + a.len) >>> 0;
        break;
      }
      case "seg":
        p.send({ sport: p.pport, dport: p.tport, seq: (p.nxt + a.seq) >>> 0, ack: (p.tnxt + a.ack) >>> 0, flags: a.flags, win: a.win, urp: a.urp, options: p.opts(a.opts), data: new Uint8Array(a.len).fill(0x62) });
        break;
      case "fin":
        p.send(p.base(W.TH.FIN | W.TH.ACK));
        p.nxt = (p.nxt + 1) >>> 0;
        break;
      case "finold":
        // Our FIN crossing theirs: it does not acknowledge their FIN (simultaneous close, CLOSING).
        p.send(p.base(W.TH.FIN | W.TH.ACK, { ack: (p.tnxt - 1) >>> 0 }));
        p.nxt = (p.nxt + 1) >>> 0;
        break;
      case "rst":
        p.send(p.base(W.TH.RST | W.TH.ACK, { seq: (p.nxt + a.seq) >>> 0 }));
        break;
      case "time":
        w.guard(() => w.clock.advance(a.us));
        p.read();
        break;
      case "app": {
        const socks = [...p.accepted, ...(p.active ? [p.active] : [])];
        const s = socks[socks.length - 1];
        w.guard(() => {
          switch (a.op) {
            case "accept": {
              const n = lsn.accept();
              if (n) {
                p.accepted.push(n);
                t.sockets.push(n);
              }
              break;
            }
            case "connect":
              if (!p.active) {
                p.active = t.T.socket(fam, "stream");
                t.sockets.push(p.active);
                p.active.connect(c.v6 ? PEER6 : PEER4, p.pport);
              }
              break;
            case "send":
              s?.send(new Uint8Array(a.n).fill(0x63));
              break;
            case "recv":
              for (let i = 0; i < 64 && s && s.recv() !== null; i++);
              break;
            case "close":
              s?.close();
              break;
            case "shutdown":
              s?.shutdown("write");
              break;
            case "abort":
              if (s) {
                s.setsockopt(SOL_SOCKET, SO.LINGER, 0); // close with a RST
                s.close();
              }
              break;
          }
        });
        p.read();
        break;
      }
    }
  }
  // Close everything (the listeners too) and let every timer run out: the target must end
  // with no tcpcb.
  for (const s of [...t.sockets, t.tcp4, t.tcp6]) w.guard(() => s.close());
  for (let i = 0; i < 200 && k.k.callout_next() >= 0; i++) {
    w.guard(() => w.clock.advance(Math.max(1, Math.min(30_000_000, k.k.callout_next() - w.clock.now()))));
    p.read();
  }
  const left = (k.module("tcp") as { tcp_pcbcount(v: number): number }).tcp_pcbcount(t.T.ptr);
  // A connection whose socket is closed must go by itself (FIN_WAIT_2, LAST_ACK, TIME_WAIT, keepalive), none may stay.
  if (left !== 0 && k.k.callout_next() < 0) throw new FuzzFailure("tcp", `${left} tcpcb left in the target with no timer pending after every socket was closed`);
}

// ---------------------------------------------------------------------------------------
// Bridge and VXLAN

const bridgeArb = fc.array(fc.record({
  member: fc.integer({ min: 0, max: 1 }),
  src: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 0, max: 20 }).map((i) => `02:00:00:00:01:${i.toString(16).padStart(2, "0")}`) }, fc.constantFrom("T", "00:00:00:00:00:00", "01:00:5e:00:00:01", "ff:ff:ff:ff:ff:ff")),
  dst: fc.oneof(dstMac, fc.integer({ min: 0, max: 20 }).map((i) => `02:00:00:00:01:${i.toString(16).padStart(2, "0")}`)),
  frame: fc.oneof(etherArb, ip4Arb),
}), { minLength: 1, maxLength: 12 });
type BridgeCase = typeof bridgeArb extends fc.Arbitrary<infer T> ? T : never;

function bridgeFrames(t: Target, c: BridgeCase): { iface: typeof t.eT; f: Bytes }[] {
  const br = t.bridge!;
  return c.map((x) => {
    const inner = "to" in x.frame ? ip4Bytes(t, x.frame as Ip4Case) : etherBytes(t, x.frame as EtherCase);
    const f = inner.slice();
    f.set(x.dst === "T" ? W.mac(br.mac) : W.mac(x.dst), 0);
    f.set(x.src === "T" ? W.mac(br.mac) : W.mac(x.src), 6);
    return { iface: t.members[x.member], f };
  });
}

const vxlanArb = fc.array(fc.record({
  flags: fc.oneof({ weight: 5, arbitrary: fc.constant(0x08) }, u8),
  vni: fc.oneof({ weight: 5, arbitrary: fc.constant(42) }, fc.integer({ min: 0, max: 0xffffff })),
  frame: fc.oneof(etherArb, ip4Arb),
  cut: rare(fc.integer({ min: 0, max: 120 }), 6),
}), { minLength: 1, maxLength: 8 });
type VxlanCase = typeof vxlanArb extends fc.Arbitrary<infer T> ? T : never;

let raw: dgram.Socket | undefined;
async function rawSocket(): Promise<dgram.Socket> {
  if (raw) return raw;
  const s = dgram.createSocket("udp4");
  await new Promise<void>((r) => s.bind(0, "127.0.0.1", () => r()));
  s.unref();
  raw = s;
  return s;
}
export function closeRawSocket(): void {
  raw?.close();
  raw = undefined;
}

async function runVxlan(w: World, t: Target, c: VxlanCase): Promise<void> {
  const sock = await rawSocket();
  const vx = await createVxlan(t.k, t.T, { vni: 42, remote: `127.0.0.1:${sock.address().port}`, localPort: 0, localAddress: "127.0.0.1" });
  vx.setUp();
  addAddress(t.k, vx, "10.0.1.2/24");
  try {
    const before = vx.vxlanStats().rxDatagrams;
    for (const x of c) {
      let inner = "to" in x.frame ? ip4Bytes(t, x.frame as Ip4Case) : etherBytes(t, x.frame as EtherCase);
      inner = inner.slice();
      if (x.frame.dst === "T") inner.set(W.mac(vx.mac), 0);
      let d = W.vxlan(x.vni, x.flags, inner);
      if (x.cut !== null) d = d.slice(0, x.cut);
      await new Promise<void>((r) => sock.send(d, vx.localPort, "127.0.0.1", () => r()));
    }
    // Loopback does not lose a handful of datagrams; the bound is only for a loaded machine.
    const deadline = Date.now() + 10_000;
    while (vx.vxlanStats().rxDatagrams - before < c.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1));
    if (vx.vxlanStats().rxDatagrams - before < c.length) throw new FuzzFailure("vxlan", `${c.length} datagrams sent to the port over 127.0.0.1, ${vx.vxlanStats().rxDatagrams - before} reached the kernel in 10 s`);
  } finally {
    w.guard(() => vx.destroy());
    await vx.whenClosed();
  }
}

// ---------------------------------------------------------------------------------------
// The registry

export interface Path<T = unknown> {
  name: string;
  arb: fc.Arbitrary<T>;
  /** Runs of this path per run of the cheapest (vxlan is slow: it goes through a real socket). */
  weight: number;
  bridge?: boolean;
  /** Half the cases (chosen by the case's hash) run against a target that forwards. */
  router?: boolean;
  run(w: World, t: Target, c: T): void | Promise<void>;
}

function frames<T>(name: string, arb: fc.Arbitrary<T[]>, make: (t: Target, c: T) => Bytes): Path<T[]> {
  return { name, arb, weight: 1, router: true, run: (_w, t, cs) => { for (const c of cs) t.inject(make(t, c)); } };
}

export const PATHS: Path<any>[] = [
  frames("ether", fc.array(etherArb, { minLength: 1, maxLength: 8 }), etherBytes),
  frames("ipv4", fc.array(ip4Arb, { minLength: 1, maxLength: 6 }), ip4Bytes),
  { name: "fragments", arb: fragSetArb, weight: 1, router: true, run: (_w, t, c: FragSet) => { for (const f of fragFrames(t, c)) t.inject(f); } },
  frames("icmp", fc.array(icmpArb, { minLength: 1, maxLength: 6 }), icmpBytes),
  frames("udp", fc.array(udpArb, { minLength: 1, maxLength: 6 }), udpBytes),
  frames("ipv6", fc.array(ip6Arb, { minLength: 1, maxLength: 6 }), ip6Bytes),
  frames("icmp6", fc.array(icmp6Arb, { minLength: 1, maxLength: 6 }), icmp6Bytes),
  { name: "tcp", arb: tcpArb, weight: 1, run: runTcp },
  { name: "bridge", arb: bridgeArb, weight: 1, bridge: true, run: (_w, t, c: BridgeCase) => { for (const x of bridgeFrames(t, c)) t.inject(x.f, x.iface); } },
  { name: "vxlan", arb: vxlanArb, weight: 0.2, run: runVxlan },
  { name: "corpus", arb: corpusArb, weight: 1, router: true, run: (_w, t, c: CorpusCase) => { for (const f of corpusFramesFor(t, c)) t.inject(f); } },
];

/**
 * "mixed": one target takes a history, not one burst: up to 40 cases of the stateless
 * paths in a row with time passing between them (fragments waiting and timing out, tables
 * filling and ageing, ICMP rate limits), so a fault that needs state built by other
 * inputs can show. Added after the others so it can reuse their runners.
 */
const stateless = PATHS.filter((p) => p.router === true);
const mixedArb = fc.array(fc.oneof(
  ...stateless.map((p) => p.arb.map((c) => ({ k: p.name, c }))),
  fc.record({ k: fc.constant("time"), c: fc.oneof(fc.integer({ min: 1, max: 1_000_000 }), fc.integer({ min: 1, max: 120_000_000 })) }),
), { minLength: 2, maxLength: 40 });
type MixedCase = typeof mixedArb extends fc.Arbitrary<infer T> ? T : never;

PATHS.push({
  name: "mixed", arb: mixedArb, weight: 0.25, router: true,
  run: async (w, t, cs: MixedCase) => {
    for (const x of cs) {
      if (x.k === "time") w.guard(() => w.clock.advance(x.c as number));
      else await pathByName(x.k).run(w, t, x.c);
    }
    t.take();
  },
});

export function pathByName(name: string): Path<any> {
  const p = PATHS.find((x) => x.name === name);
  if (!p) throw new Error(`fuzz: no path ${name} (paths: ${PATHS.map((x) => x.name).join(", ")})`);
  return p;
}
