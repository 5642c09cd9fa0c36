// Helpers for the inet tests: topologies and hand-made IPv4/ICMP/ARP frames.
import { Kernel, parseMac, type Interface, type Vnet, type VirtualClock } from "../../host/index.js";
import { addAddress, addRoute, setForwarding, parseIPv4 } from "../../host/admin/inet.js";

export async function bootInet(seed = 1, config: string | string[] = ["if_epair", "inet"]): Promise<Kernel> {
  return Kernel.boot({ config, seed });
}

export function clockOf(k: Kernel): VirtualClock {
  return k.clock as VirtualClock;
}

/** Two vnets on one epair: A 10.0.0.1/24 on ea, B 10.0.0.2/24 on eb (config: the modules). */
export async function twoHosts(seed = 1, config: string | string[] = ["if_epair", "inet"]) {
  const k = await bootInet(seed, config);
  const A = k.createVnet("A");
  const B = k.createVnet("B");
  const [ea, eb] = k.epair(A, B);
  ea.setUp();
  eb.setUp();
  addAddress(k, ea, "10.0.0.1/24");
  addAddress(k, eb, "10.0.0.2/24");
  return { k, A, B, ea, eb };
}

/**
 * A - R1 - R2 - R3 - B: links 10.0.1.0/24 (A .1, R1 .2), 10.0.2.0/24 (R1 .1, R2 .2),
 * 10.0.3.0/24 (R2 .1, R3 .2), 10.0.4.0/24 (R3 .1, B .2); static routes, routers forward.
 * R1 knows only the networks behind it (no default): other destinations are unreachable.
 */
export async function chain(seed = 1) {
  const k = await bootInet(seed);
  const [A, R1, R2, R3, B] = ["A", "R1", "R2", "R3", "B"].map((n) => k.createVnet(n));
  const link = (x: Vnet, y: Vnet, net: number, xa: number, ya: number): [Interface, Interface] => {
    const [ex, ey] = k.epair(x, y);
    ex.setUp();
    ey.setUp();
    addAddress(k, ex, `10.0.${net}.${xa}/24`);
    addAddress(k, ey, `10.0.${net}.${ya}/24`);
    return [ex, ey];
  };
  const l1 = link(A, R1, 1, 1, 2);
  const l2 = link(R1, R2, 2, 1, 2);
  const l3 = link(R2, R3, 3, 1, 2);
  const l4 = link(R3, B, 4, 1, 2);
  addRoute(k, A, "default", { gateway: "10.0.1.2" });
  addRoute(k, R1, "10.0.3.0/24", { gateway: "10.0.2.2" });
  addRoute(k, R1, "10.0.4.0/24", { gateway: "10.0.2.2" });
  addRoute(k, R2, "10.0.1.0/24", { gateway: "10.0.2.1" });
  addRoute(k, R2, "10.0.4.0/24", { gateway: "10.0.3.2" });
  addRoute(k, R3, "default", { gateway: "10.0.3.1" });
  addRoute(k, B, "default", { gateway: "10.0.4.1" });
  for (const r of [R1, R2, R3]) setForwarding(k, r, true);
  return { k, A, R1, R2, R3, B, l1, l2, l3, l4 };
}

export function cksum(b: Uint8Array, off = 0, len = b.length - off): number {
  let s = 0;
  for (let i = 0; i + 1 < len; i += 2) s += (b[off + i] << 8) | b[off + i + 1];
  if (len & 1) s += b[off + len - 1] << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

export interface IpOpts {
  src?: string;
  dst?: string;
  proto?: number;
  ttl?: number;
  id?: number;
  /** Fragment offset in bytes (multiple of 8). */
  off?: number;
  mf?: boolean;
  df?: boolean;
  options?: number[];
  payload?: Uint8Array;
  /** Overrides applied after the header is built (bad packets). */
  vhl?: number;
  totalLen?: number;
  badSum?: boolean;
}

/** An IPv4 packet (header checksum right unless badSum). */
export function ipPacket(o: IpOpts): Uint8Array {
  const opts = o.options ?? [];
  const hlen = 20 + opts.length;
  const payload = o.payload ?? new Uint8Array(0);
  const p = new Uint8Array(hlen + payload.length);
  const dv = new DataView(p.buffer);
  p[0] = 0x40 | (hlen >> 2);
  dv.setUint16(2, o.totalLen ?? p.length);
  dv.setUint16(4, o.id ?? 0x1234);
  dv.setUint16(6, ((o.off ?? 0) >> 3) | (o.mf ? 0x2000 : 0) | (o.df ? 0x4000 : 0));
  p[8] = o.ttl ?? 64;
  p[9] = o.proto ?? 1;
  dv.setUint32(12, parseIPv4(o.src ?? "10.0.0.1", "src"));
  dv.setUint32(16, parseIPv4(o.dst ?? "10.0.0.2", "dst"));
  p.set(opts, 20);
  if (o.vhl !== undefined) p[0] = o.vhl;
  dv.setUint16(10, cksum(p, 0, Math.min(hlen, p.length)) ^ (o.badSum ? 0x5555 : 0));
  p.set(payload, hlen);
  return p;
}

/** An ICMP message (checksum right unless badSum). */
export function icmp(type: number, code: number, rest: number, data: Uint8Array = new Uint8Array(0), badSum = false): Uint8Array {
  const m = new Uint8Array(8 + data.length);
  const dv = new DataView(m.buffer);
  m[0] = type;
  m[1] = code;
  dv.setUint32(4, rest);
  m.set(data, 8);
  dv.setUint16(2, cksum(m) ^ (badSum ? 0x1111 : 0));
  return m;
}

export function echoRequest(id: number, seq: number, dataLen = 16): Uint8Array {
  const data = new Uint8Array(dataLen);
  for (let i = 0; i < dataLen; i++) data[i] = i;
  return icmp(8, 0, (id << 16) | seq, data);
}

/** An Ethernet frame from src to dst carrying etype. */
export function ether(src: Interface | string, dst: Interface | string, etype: number, payload: Uint8Array): Uint8Array {
  const f = new Uint8Array(14 + payload.length);
  f.set(parseMac(typeof dst === "string" ? dst : dst.mac), 0);
  f.set(parseMac(typeof src === "string" ? src : src.mac), 6);
  f[12] = etype >> 8;
  f[13] = etype & 0xff;
  f.set(payload, 14);
  return f;
}

export interface ArpOpts {
  hrd?: number;
  pro?: number;
  hln?: number;
  pln?: number;
  op?: number;
  sha: string;
  spa: string;
  tha?: string;
  tpa: string;
  truncate?: number;
}

export function arpPacket(o: ArpOpts): Uint8Array {
  const p = new Uint8Array(28);
  const dv = new DataView(p.buffer);
  dv.setUint16(0, o.hrd ?? 1);
  dv.setUint16(2, o.pro ?? 0x0800);
  p[4] = o.hln ?? 6;
  p[5] = o.pln ?? 4;
  dv.setUint16(6, o.op ?? 1);
  p.set(parseMac(o.sha), 8);
  dv.setUint32(14, parseIPv4(o.spa, "spa"));
  p.set(parseMac(o.tha ?? "00:00:00:00:00:00"), 18);
  dv.setUint32(24, parseIPv4(o.tpa, "tpa"));
  return o.truncate !== undefined ? p.slice(0, o.truncate) : p;
}

/** Items in use of the mbuf and cluster zones (everything that holds packets). */
export function mbufsInUse(k: Kernel): number {
  return k.vmstatZ().filter((z) => z.name.startsWith("mbuf")).reduce((a, z) => a + z.used, 0);
}
