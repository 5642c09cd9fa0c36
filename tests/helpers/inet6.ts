// Helpers for the inet6 tests: topologies and hand-made IPv6/ICMPv6 packets.
import { Kernel, type Interface, type Vnet } from "../../host/index.js";
import { addAddress6, addRoute6, setForwarding6, parseIPv6 } from "../../host/admin/inet6.js";

// The IPv6 host functions tests read that host/index.ts does not export (yet): one place to
// follow host/ when it moves.
export { ip6Stats, icmp6Stats, nd6Stats, ndpTable, inet6Gauges, nd6GcThresh, parseIPv6, formatIPv6 } from "../../host/admin/inet6.js";

export async function bootInet6(seed = 1, config: string | string[] = ["if_epair", "inet6"]): Promise<Kernel> {
  return Kernel.boot({ config, seed });
}

/** Two vnets on one epair: A fd00::1/64 on ea, B fd00::2/64 on eb. */
export async function twoHosts6(seed = 1, config: string | string[] = ["if_epair", "inet6"]) {
  const k = await bootInet6(seed, config);
  const A = k.createVnet("A");
  const B = k.createVnet("B");
  const [ea, eb] = k.epair(A, B);
  ea.setUp();
  eb.setUp();
  addAddress6(k, ea, "fd00::1/64");
  addAddress6(k, eb, "fd00::2/64");
  return { k, A, B, ea, eb };
}

/** A - R - B: fd00:1::/64 (A ::1, R ::2) and fd00:2::/64 (R ::1, B ::2), R forwards, default routes at the ends. */
export async function routed6(seed = 1, config: string | string[] = ["if_epair", "inet6"]) {
  const k = await bootInet6(seed, config);
  const [A, R, B] = ["A", "R", "B"].map((n) => k.createVnet(n));
  const link = (x: Vnet, y: Vnet, net: number): [Interface, Interface] => {
    const [ex, ey] = k.epair(x, y);
    ex.setUp();
    ey.setUp();
    addAddress6(k, ex, `fd00:${net}::1/64`);
    addAddress6(k, ey, `fd00:${net}::2/64`);
    return [ex, ey];
  };
  const [a, ra] = link(A, R, 1);
  const [rb, b] = link(R, B, 2);
  addRoute6(k, A, "default", { gateway: "fd00:1::2" });
  addRoute6(k, B, "default", { gateway: "fd00:2::1" });
  setForwarding6(k, R, true);
  return { k, A, R, B, a, ra, rb, b };
}

export function sum16(b: Uint8Array, s = 0): number {
  for (let i = 0; i + 1 < b.length; i += 2) s += (b[i] << 8) | b[i + 1];
  if (b.length & 1) s += b[b.length - 1] << 8;
  return s;
}

/** The ICMPv6/UDP checksum of msg with the IPv6 pseudo-header (RFC 8200 8.1). */
export function cksum6(src: Uint8Array, dst: Uint8Array, nxt: number, msg: Uint8Array): number {
  let s = sum16(src) + sum16(dst) + (msg.length >>> 16) + (msg.length & 0xffff) + nxt + sum16(msg);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

export interface Ip6Opts {
  src?: string;
  dst?: string;
  nxt?: number;
  hlim?: number;
  payload?: Uint8Array;
  /** Overrides (bad packets) */
  version?: number;
  plen?: number;
}

export function ip6Packet(o: Ip6Opts): Uint8Array {
  const payload = o.payload ?? new Uint8Array(0);
  const p = new Uint8Array(40 + payload.length);
  const dv = new DataView(p.buffer);
  p[0] = (o.version ?? 6) << 4;
  dv.setUint16(4, o.plen ?? payload.length);
  p[6] = o.nxt ?? 58;
  p[7] = o.hlim ?? 64;
  p.set(parseIPv6(o.src ?? "fd00::1", "src"), 8);
  p.set(parseIPv6(o.dst ?? "fd00::2", "dst"), 24);
  p.set(payload, 40);
  return p;
}

/** An ICMPv6 message with its checksum over the pseudo-header of src -> dst (wrong when badSum). */
export function icmp6(src: string, dst: string, type: number, code: number, rest: number, data: Uint8Array = new Uint8Array(0), badSum = false): Uint8Array {
  const m = new Uint8Array(8 + data.length);
  const dv = new DataView(m.buffer);
  m[0] = type;
  m[1] = code;
  dv.setUint32(4, rest >>> 0);
  m.set(data, 8);
  dv.setUint16(2, cksum6(parseIPv6(src, "src"), parseIPv6(dst, "dst"), 58, m) ^ (badSum ? 0x1111 : 0));
  return m;
}

/** An echo request A -> B (fd00::1 -> fd00::2 unless told). */
export function echo6(id: number, seq: number, dataLen = 16, src = "fd00::1", dst = "fd00::2"): Uint8Array {
  const data = new Uint8Array(dataLen);
  for (let i = 0; i < dataLen; i++) data[i] = i;
  return icmp6(src, dst, 128, 0, (id << 16) | seq, data);
}

/** An extension header: next header, then body padded to a multiple of 8 (length byte right unless lenOverride). */
export function extHdr(nxt: number, body: number[], lenOverride?: number): Uint8Array {
  const total = Math.ceil((body.length + 2) / 8) * 8;
  const h = new Uint8Array(total);
  h[0] = nxt;
  h[1] = lenOverride ?? total / 8 - 1;
  h.set(body, 2);
  return h;
}

/** A Fragment header: next header, offset in bytes, more flag, identification. */
export function fragHdr(nxt: number, off: number, more: boolean, ident: number): Uint8Array {
  const h = new Uint8Array(8);
  const dv = new DataView(h.buffer);
  h[0] = nxt;
  dv.setUint16(2, off | (more ? 1 : 0));
  dv.setUint32(4, ident);
  return h;
}

export function cat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export interface RaPrefix {
  prefix: string;
  plen?: number;
  /** L 0x80, A 0x40 (default both) */
  flags?: number;
  valid?: number;
  preferred?: number;
}

export interface RaOpts {
  src: string;
  dst?: string;
  hlim?: number;
  code?: number;
  /** router lifetime, seconds (default 1800) */
  lifetime?: number;
  prefixes?: RaPrefix[];
  mtu?: number;
  /** the source link-layer address option */
  sll?: Uint8Array;
  /** raw bytes appended after the options (a malformed option) */
  extra?: Uint8Array;
  /** cut the message to this many bytes (before the checksum) */
  truncate?: number;
}

/** A router advertisement (RFC 4861 4.2) as an IPv6 packet, checksummed (what FreeBSD's ra.py sends). */
export function raPacket(o: RaOpts): Uint8Array {
  const dst = o.dst ?? "ff02::1";
  const parts: Uint8Array[] = [];
  const head = new Uint8Array(16);
  head[0] = 134;
  head[1] = o.code ?? 0;
  head[4] = 64;
  new DataView(head.buffer).setUint16(6, o.lifetime ?? 1800);
  parts.push(head);
  if (o.sll) parts.push(cat(new Uint8Array([1, 1]), o.sll));
  if (o.mtu !== undefined) {
    const m = new Uint8Array(8);
    m[0] = 5;
    m[1] = 1;
    new DataView(m.buffer).setUint32(4, o.mtu);
    parts.push(m);
  }
  for (const p of o.prefixes ?? []) {
    const m = new Uint8Array(32);
    const dv = new DataView(m.buffer);
    m[0] = 3;
    m[1] = 4;
    m[2] = p.plen ?? 64;
    m[3] = p.flags ?? 0xc0;
    dv.setUint32(4, p.valid ?? 2592000);
    dv.setUint32(8, p.preferred ?? 604800);
    m.set(parseIPv6(p.prefix, "prefix"), 16);
    parts.push(m);
  }
  if (o.extra) parts.push(o.extra);
  let msg = cat(...parts);
  if (o.truncate !== undefined) msg = msg.slice(0, o.truncate);
  new DataView(msg.buffer).setUint16(2, cksum6(parseIPv6(o.src, "src"), parseIPv6(dst, "dst"), 58, msg));
  return ip6Packet({ src: o.src, dst, nxt: 58, hlim: o.hlim ?? 255, payload: msg });
}
