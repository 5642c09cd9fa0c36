// Wire formats the fuzz harness writes and reads: Ethernet, ARP, IPv4 (options, fragments),
// ICMP, UDP, TCP (options), IPv6 (extension headers, fragments), ICMPv6/ND, VXLAN. Builders
// take plain data (what the generators make, so a failing case prints and saves as JSON)
// and write checksums right unless told not to: a wrong checksum stops a packet at the
// first check, so most generated packets must pass it to reach the code behind.

export type Bytes = Uint8Array;

export function cat(...parts: Bytes[]): Bytes {
  const n = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function hex(b: Bytes): string {
  return Buffer.from(b).toString("hex");
}

export function unhex(s: string): Bytes {
  return new Uint8Array(Buffer.from(s, "hex"));
}

/** The Internet checksum (RFC 1071) of b, folded and complemented. */
export function cksum(b: Bytes, init = 0): number {
  let s = init;
  for (let i = 0; i + 1 < b.length; i += 2) s += (b[i] << 8) | b[i + 1];
  if (b.length & 1) s += b[b.length - 1] << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

function sumOf(b: Bytes): number {
  let s = 0;
  for (let i = 0; i + 1 < b.length; i += 2) s += (b[i] << 8) | b[i + 1];
  if (b.length & 1) s += b[b.length - 1] << 8;
  return s;
}

export function mac(s: string): Bytes {
  return new Uint8Array(s.split(":").map((x) => parseInt(x, 16)));
}

export function ip4(s: string): Bytes {
  return new Uint8Array(s.split(".").map(Number));
}

export function ip6(s: string): Bytes {
  const [head, tail] = s.includes("::") ? s.split("::") : [s, undefined];
  const h = head ? head.split(":") : [];
  const t = tail !== undefined && tail !== "" ? tail.split(":") : [];
  const words = tail === undefined ? h : [...h, ...new Array(8 - h.length - t.length).fill("0"), ...t];
  const out = new Uint8Array(16);
  words.forEach((w, i) => {
    const v = parseInt(w || "0", 16);
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 0xff;
  });
  return out;
}

const u16 = (v: number): Bytes => new Uint8Array([(v >> 8) & 0xff, v & 0xff]);
const u32 = (v: number): Bytes => new Uint8Array([(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]);

export function ether(dst: Bytes, src: Bytes, etype: number, payload: Bytes, vlan?: number): Bytes {
  return vlan === undefined ? cat(dst, src, u16(etype), payload) : cat(dst, src, u16(0x8100), u16(vlan), u16(etype), payload);
}

export interface Arp {
  hrd: number;
  pro: number;
  hln: number;
  pln: number;
  op: number;
  sha: Bytes;
  spa: Bytes;
  tha: Bytes;
  tpa: Bytes;
}

export function arp(a: Arp): Bytes {
  return cat(u16(a.hrd), u16(a.pro), new Uint8Array([a.hln, a.pln]), u16(a.op), a.sha, a.spa, a.tha, a.tpa);
}

export interface Ip4 {
  src: Bytes;
  dst: Bytes;
  proto: number;
  ttl: number;
  id: number;
  tos?: number;
  /** Fragment offset in 8-byte units, MF and DF. */
  off?: number;
  mf?: boolean;
  df?: boolean;
  options?: Bytes;
  payload: Bytes;
  /** Overrides for bad packets. */
  vhl?: number;
  totalLen?: number;
  badSum?: boolean;
}

export function ipv4(p: Ip4): Bytes {
  const opts = p.options ?? new Uint8Array(0);
  const padded = cat(opts, new Uint8Array((4 - (opts.length & 3)) & 3));
  const hlen = 20 + padded.length;
  const h = new Uint8Array(hlen);
  h[0] = p.vhl ?? 0x40 | ((hlen >> 2) & 0xf);
  h[1] = p.tos ?? 0;
  h.set(u16(p.totalLen ?? hlen + p.payload.length), 2);
  h.set(u16(p.id), 4);
  h.set(u16(((p.off ?? 0) & 0x1fff) | (p.mf ? 0x2000 : 0) | (p.df ? 0x4000 : 0)), 6);
  h[8] = p.ttl;
  h[9] = p.proto;
  h.set(p.src, 12);
  h.set(p.dst, 16);
  h.set(padded, 20);
  h.set(u16(cksum(h) ^ (p.badSum ? 0x5a5a : 0)), 10);
  return cat(h, p.payload);
}

function pseudo4(src: Bytes, dst: Bytes, proto: number, len: number): number {
  return sumOf(cat(src, dst, new Uint8Array([0, proto]), u16(len)));
}

function pseudo6(src: Bytes, dst: Bytes, proto: number, len: number): number {
  return sumOf(cat(src, dst, u32(len), new Uint8Array([0, 0, 0, proto])));
}

/** A transport header + payload whose checksum field sits at sumOff; fills it for the pseudo-header. */
function withSum(seg: Bytes, sumOff: number, ps: number, bad: boolean, zeroAsFfff: boolean): Bytes {
  seg[sumOff] = 0;
  seg[sumOff + 1] = 0;
  let s = cksum(seg, ps);
  if (s === 0 && zeroAsFfff) s = 0xffff;
  if (bad) s ^= 0x1234;
  seg.set(u16(s), sumOff);
  return seg;
}

export interface L4Sum {
  /** "ok" (right), "bad", or "zero" (the field left 0: no checksum for UDP over IPv4). */
  sum: "ok" | "bad" | "zero";
}

export function udp(sport: number, dport: number, data: Bytes, s: L4Sum, net: { v6: boolean; src: Bytes; dst: Bytes }, lenOverride?: number): Bytes {
  const seg = cat(u16(sport), u16(dport), u16(lenOverride ?? 8 + data.length), u16(0), data);
  if (s.sum === "zero") return seg;
  const ps = net.v6 ? pseudo6(net.src, net.dst, 17, seg.length) : pseudo4(net.src, net.dst, 17, seg.length);
  return withSum(seg, 6, ps, s.sum === "bad", true);
}

export interface TcpSeg {
  sport: number;
  dport: number;
  seq: number;
  ack: number;
  flags: number;
  win: number;
  urp?: number;
  options?: Bytes;
  data: Bytes;
  /** Data offset override (words). */
  off?: number;
}

export function tcp(t: TcpSeg, s: L4Sum, net: { v6: boolean; src: Bytes; dst: Bytes }): Bytes {
  const opts = t.options ?? new Uint8Array(0);
  const padded = cat(opts, new Uint8Array((4 - (opts.length & 3)) & 3));
  const hlen = 20 + padded.length;
  const h = new Uint8Array(hlen);
  h.set(u16(t.sport), 0);
  h.set(u16(t.dport), 2);
  h.set(u32(t.seq >>> 0), 4);
  h.set(u32(t.ack >>> 0), 8);
  h[12] = ((t.off ?? hlen >> 2) & 0xf) << 4;
  h[13] = t.flags & 0xff;
  h.set(u16(t.win), 14);
  h.set(u16(t.urp ?? 0), 18);
  h.set(padded, 20);
  const seg = cat(h, t.data);
  if (s.sum === "zero") return seg;
  const ps = net.v6 ? pseudo6(net.src, net.dst, 6, seg.length) : pseudo4(net.src, net.dst, 6, seg.length);
  return withSum(seg, 16, ps, s.sum === "bad", false);
}

/** ICMP (v4): type, code, 4 bytes of rest, data; checksum over the message. */
export function icmp4(type: number, code: number, rest: number, data: Bytes, bad = false): Bytes {
  const m = cat(new Uint8Array([type, code, 0, 0]), u32(rest), data);
  m.set(u16(cksum(m) ^ (bad ? 0x4321 : 0)), 2);
  return m;
}

export interface Ip6 {
  src: Bytes;
  dst: Bytes;
  /** Next header of the first header after the fixed one. */
  nxt: number;
  hlim: number;
  flow?: number;
  tc?: number;
  /** Extension headers and upper-layer data, already chained. */
  payload: Bytes;
  plenOverride?: number;
  version?: number;
}

export function ipv6(p: Ip6): Bytes {
  const h = new Uint8Array(40);
  const v = ((p.version ?? 6) << 28) | ((p.tc ?? 0) << 20) | ((p.flow ?? 0) & 0xfffff);
  h.set(u32(v >>> 0), 0);
  h.set(u16(p.plenOverride ?? p.payload.length), 4);
  h[6] = p.nxt;
  h[7] = p.hlim;
  h.set(p.src, 8);
  h.set(p.dst, 24);
  return cat(h, p.payload);
}

/** An extension header of the HBH / Destination options / Routing shape: nxt, len, body padded to 8. */
export function ext6(nxt: number, body: Bytes): Bytes {
  const total = (2 + body.length + 7) & ~7;
  const h = new Uint8Array(total);
  h[0] = nxt;
  h[1] = total / 8 - 1;
  h.set(body, 2);
  // Pad the rest with PadN (or Pad1 for one byte) so the options parse.
  const rest = total - 2 - body.length;
  if (rest === 1) h[2 + body.length] = 0;
  else if (rest >= 2) {
    h[2 + body.length] = 1;
    h[3 + body.length] = rest - 2;
  }
  return h;
}

export function frag6(nxt: number, offset8: number, more: boolean, ident: number): Bytes {
  return cat(new Uint8Array([nxt, 0]), u16(((offset8 & 0x1fff) << 3) | (more ? 1 : 0)), u32(ident >>> 0));
}

/** ICMPv6 with the pseudo-header checksum. */
export function icmp6(type: number, code: number, body: Bytes, src: Bytes, dst: Bytes, bad = false): Bytes {
  const m = cat(new Uint8Array([type, code, 0, 0]), body);
  return withSum(m, 2, pseudo6(src, dst, 58, m.length), bad, false);
}

/** The checksum of an upper-layer message inside IPv6 (for fixing a mutated packet). */
export function fixSum6(m: Bytes, sumOff: number, src: Bytes, dst: Bytes, proto: number): void {
  withSum(m, sumOff, pseudo6(src, dst, proto, m.length), false, proto === 17);
}

export function fixSum4(m: Bytes, sumOff: number, src: Bytes, dst: Bytes, proto: number): void {
  withSum(m, sumOff, proto === 1 ? 0 : pseudo4(src, dst, proto, m.length), false, proto === 17);
}

export function vxlan(vni: number, flags: number, frame: Bytes): Bytes {
  return cat(new Uint8Array([flags, 0, 0, 0]), u32(((vni & 0xffffff) << 8) >>> 0), frame);
}

/** Re-compute every checksum of an Ethernet frame that still parses (after a mutation), best effort. */
export function fixChecksums(f: Bytes): Bytes {
  const b = f.slice();
  if (b.length < 14) return b;
  let o = 12;
  let etype = (b[o] << 8) | b[o + 1];
  o += 2;
  if (etype === 0x8100 && b.length >= 18) {
    etype = (b[o + 2] << 8) | b[o + 3];
    o += 4;
  }
  if (etype === 0x0800 && b.length >= o + 20) {
    const hl = (b[o] & 0xf) * 4;
    if (hl < 20 || b.length < o + hl) return b;
    b[o + 10] = b[o + 11] = 0;
    b.set(u16(cksum(b.subarray(o, o + hl))), o + 10);
    const tot = Math.min((b[o + 2] << 8) | b[o + 3], b.length - o);
    const off = ((b[o + 6] << 8) | b[o + 7]) & 0x1fff;
    const mf = (b[o + 6] & 0x20) !== 0;
    if (off !== 0 || mf || tot <= hl) return b;
    const l4 = b.subarray(o + hl, o + tot);
    const src = b.slice(o + 12, o + 16);
    const dst = b.slice(o + 16, o + 20);
    const p = b[o + 9];
    if (p === 6 && l4.length >= 20) fixSum4(l4, 16, src, dst, 6);
    else if (p === 17 && l4.length >= 8 && (l4[6] | l4[7]) !== 0) fixSum4(l4, 6, src, dst, 17);
    else if (p === 1 && l4.length >= 4) fixSum4(l4, 2, src, dst, 1);
  } else if (etype === 0x86dd && b.length >= o + 40) {
    const src = b.slice(o + 8, o + 24);
    const dst = b.slice(o + 24, o + 40);
    let nxt = b[o + 6];
    let p = o + 40;
    const end = Math.min(b.length, o + 40 + ((b[o + 4] << 8) | b[o + 5]));
    for (let i = 0; i < 8 && p < end; i++) {
      if (nxt === 0 || nxt === 60 || nxt === 43) {
        if (p + 2 > end) return b;
        const n = b[p];
        p += (b[p + 1] + 1) * 8;
        nxt = n;
      } else if (nxt === 44) {
        if (p + 8 > end || (((b[p + 2] << 8) | b[p + 3]) & 0xfff9) !== 0) return b;
        nxt = b[p];
        p += 8;
      } else break;
    }
    if (p >= end) return b;
    const l4 = b.subarray(p, end);
    if (nxt === 6 && l4.length >= 20) fixSum6(l4, 16, src, dst, 6);
    else if (nxt === 17 && l4.length >= 8) fixSum6(l4, 6, src, dst, 17);
    else if (nxt === 58 && l4.length >= 4) fixSum6(l4, 2, src, dst, 58);
  }
  return b;
}

export const TH = { FIN: 1, SYN: 2, RST: 4, PSH: 8, ACK: 16, URG: 32, ECE: 64, CWR: 128 } as const;

/** A TCP segment parsed out of an Ethernet frame the target sent (IPv4 or IPv6), or null. */
export interface SegOut {
  v6: boolean;
  sport: number;
  dport: number;
  seq: number;
  ack: number;
  flags: number;
  win: number;
  len: number;
  tsval?: number;
  tsecr?: number;
  wscale?: number;
  mss?: number;
}

export function parseTcpOut(f: Bytes): SegOut | null {
  if (f.length < 14) return null;
  const et = (f[12] << 8) | f[13];
  let o = 14;
  let v6 = false;
  let l4len: number;
  if (et === 0x0800) {
    if (f[o + 9] !== 6) return null;
    const hl = (f[o] & 0xf) * 4;
    l4len = ((f[o + 2] << 8) | f[o + 3]) - hl;
    o += hl;
  } else if (et === 0x86dd) {
    if (f[o + 6] !== 6) return null;
    v6 = true;
    l4len = (f[o + 4] << 8) | f[o + 5];
    o += 40;
  } else return null;
  if (f.length < o + 20) return null;
  const dv = new DataView(f.buffer, f.byteOffset);
  const doff = (f[o + 12] >> 4) * 4;
  const s: SegOut = {
    v6, sport: dv.getUint16(o), dport: dv.getUint16(o + 2), seq: dv.getUint32(o + 4), ack: dv.getUint32(o + 8),
    flags: f[o + 13], win: dv.getUint16(o + 14), len: l4len - doff,
  };
  for (let i = o + 20; i < o + doff; ) {
    const k = f[i];
    if (k === 0) break;
    if (k === 1) {
      i++;
      continue;
    }
    const l = f[i + 1];
    if (l < 2) break;
    if (k === 2 && l === 4) s.mss = dv.getUint16(i + 2);
    if (k === 3 && l === 3) s.wscale = f[i + 2];
    if (k === 8 && l === 10) {
      s.tsval = dv.getUint32(i + 2);
      s.tsecr = dv.getUint32(i + 6);
    }
    i += l;
  }
  return s;
}
