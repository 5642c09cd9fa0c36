// Helpers for the ipfw tests: a tiny encoder of rule words (docs/ipfw_insn.md; the real
// compiler is host/ipfw/, written separately: these tests do not depend on it), a lab of
// three vnets and traffic of each kind that says whether it got through.
import { Kernel, type Interface, type Vnet, type VirtualClock } from "../../host/index.js";
import { addAddress } from "../../host/admin/inet.js";
import { addAddress6, parseIPv6 } from "../../host/admin/inet6.js";
import { ping } from "../../host/admin/ping.js";
import { socket } from "../../host/sockets/socket.js";
import { ipfwSetDefault } from "../../host/admin/ipfw.js";

export const F_OR = 1 << 14;
export const F_NOT = 1 << 15;
/** An instruction header. */
export const I = (op: number, len = 1, arg = 0, flags = 0) => (op | (len << 8) | flags | (arg << 16)) >>> 0;
export type Insn = number[];

/** A rule: number, match instructions, action part. */
export function rule(num: number, matches: Insn[], action: Insn[], set = 0): Uint32Array {
  const m = matches.flat();
  const cmds = [...m, ...action.flat()];
  return Uint32Array.from([num | (set << 16), cmds.length | (m.length << 16), ...cmds]);
}

const le4 = (b: Uint8Array) => (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0;
const v4 = (a: string) => Uint8Array.from(a.split(".").map(Number));
function mask4(plen: number): Uint8Array {
  const m = plen === 0 ? 0 : (0xffffffff << (32 - plen)) >>> 0;
  return Uint8Array.from([m >>> 24, (m >>> 16) & 255, (m >>> 8) & 255, m & 255]);
}
function words16(b: Uint8Array): number[] {
  return [0, 4, 8, 12].map((o) => le4(b.subarray(o, o + 4)));
}
function mask6(plen: number): Uint8Array {
  const b = new Uint8Array(16);
  for (let i = 0; i < 16; i++) b[i] = plen >= (i + 1) * 8 ? 255 : plen > i * 8 ? (0xff << (8 - (plen - i * 8))) & 255 : 0;
  return b;
}
function bitmap(vals: number[]): number[] {
  const w = new Array(8).fill(0);
  for (const v of vals) w[v >> 5] = (w[v >> 5] | (1 << (v & 31))) >>> 0;
  return w;
}
function name16(n: string): number[] {
  const b = new Uint8Array(16);
  b.set(new TextEncoder().encode(n).subarray(0, 16));
  return words16(b);
}
const ranges = (rs: [number, number][]) => rs.map(([lo, hi]) => (lo | (hi << 16)) >>> 0);

export const M = {
  ip4: [I(1)], ip6: [I(2)],
  proto: (p: number, f = 0) => [I(3, 1, p, f)],
  src: (a: string, plen = 32, f = 0) => [I(4, 3, 1, f), le4(v4(a)) & le4(mask4(plen)), le4(mask4(plen))],
  dst: (a: string, plen = 32, f = 0) => [I(5, 3, 1, f), le4(v4(a)) & le4(mask4(plen)), le4(mask4(plen))],
  srcMe: (f = 0) => [I(6, 1, 0, f)], dstMe: (f = 0) => [I(7, 1, 0, f)],
  src6: (a: string, plen: number, f = 0) => [I(8, 9, 1, f), ...words16(parseIPv6(a).map((x, i) => x & mask6(plen)[i])), ...words16(mask6(plen))],
  dst6: (a: string, plen: number, f = 0) => [I(9, 9, 1, f), ...words16(parseIPv6(a).map((x, i) => x & mask6(plen)[i])), ...words16(mask6(plen))],
  srcLookup: (t: number) => [I(10, 1, t)], dstLookup: (t: number) => [I(11, 1, t)],
  sport: (rs: [number, number][], f = 0) => [I(12, 1 + rs.length, rs.length, f), ...ranges(rs)],
  dport: (rs: [number, number][], f = 0) => [I(13, 1 + rs.length, rs.length, f), ...ranges(rs)],
  via: (n: string, f = 0) => [I(14, 5, 0, f), ...name16(n)],
  recv: (n: string, f = 0) => [I(15, 5, 0, f), ...name16(n)],
  xmit: (n: string, f = 0) => [I(16, 5, 0, f), ...name16(n)],
  in: (f = 0) => [I(17, 1, 0, f)], frag: (f = 0) => [I(18, 1, 0, f)],
  tcpflags: (set: number, clear = 0, f = 0) => [I(19, 1, set | (clear << 8), f)],
  tcpopts: (set: number, clear = 0, f = 0) => [I(20, 1, set | (clear << 8), f)],
  estab: (f = 0) => [I(21, 1, 0, f)], setup: (f = 0) => [I(22, 1, 0, f)],
  icmptypes: (t: number[], f = 0) => [I(23, 9, 0, f), ...bitmap(t)],
  icmp6types: (t: number[], f = 0) => [I(24, 9, 0, f), ...bitmap(t)],
  probe: () => [I(25)], keep: () => [I(26)],
  iplen: (rs: [number, number][], f = 0) => [I(27, 1 + rs.length, rs.length, f), ...ranges(rs)],
  ttl: (rs: [number, number][], f = 0) => [I(28, 1 + rs.length, rs.length, f), ...ranges(rs)],
  ipid: (rs: [number, number][], f = 0) => [I(29, 1 + rs.length, rs.length, f), ...ranges(rs)],
  icmpcodes: (c: number[], f = 0) => [I(30, 9, 0, f), ...bitmap(c)],
  layer2: () => [I(31)],
};
export const A_ = {
  log: (limit = 0) => [I(64, 1, limit)], accept: [I(65)], deny: [I(66)], reject: (code: number) => [I(67, 1, code)],
  reset: [I(68)], count: [I(69)], skipto: (n: number) => [I(70, 1, n)], checkState: [I(71)], nat: (n: number) => [I(72, 1, n)],
  unreach6: (code: number) => [I(73, 1, code)],
};
export const TH = { FIN: 1, SYN: 2, RST: 4, PSH: 8, ACK: 16 };

export const clock = (k: Kernel) => k.clock as VirtualClock;

/**
 * A (10.0.0.1, fd00:0::1) - B (10.0.0.2, fd00:0::2; 10.0.1.2, fd00:1::2) - C (10.0.1.1,
 * fd00:1::1): two links into B, the firewalled host; every vnet's default rule accepts.
 */
export async function lab(seed = 1) {
  const k = await Kernel.boot({ config: ["if_epair", "inet", "inet6", "udp", "tcp", "ipfw"], seed });
  const [A, B, C] = ["A", "B", "C"].map((n) => k.createVnet(n));
  const link = (x: Vnet, y: Vnet, net: number): [Interface, Interface] => {
    const [a, b] = k.epair(x, y);
    a.setUp();
    b.setUp();
    addAddress(k, a, `10.0.${net}.1/24`);
    addAddress(k, b, `10.0.${net}.2/24`);
    addAddress6(k, a, `fd00:${net}::1/64`);
    addAddress6(k, b, `fd00:${net}::2/64`);
    return [a, b];
  };
  const [a, ba] = link(A, B, 0);
  const [c, bc] = link(C, B, 1);
  for (const v of [A, B, C]) ipfwSetDefault(k, v, true);
  clock(k).advance(2_000_000); // DAD done
  return { k, A, B, C, a, ba, c, bc };
}

export async function pingOk(k: Kernel, from: Vnet, to: string, opts: { size?: number; ttl?: number } = {}): Promise<boolean> {
  return (await ping(k, from, to, { count: 1, timeoutMs: 1000, ...opts })).received === 1;
}

/** One UDP datagram from `from` (bound to sport if given) to to:dport; did it arrive? */
export function udpOk(k: Kernel, from: Vnet, to: Vnet, dst: string, dport: number, sport = 0): boolean {
  const six = dst.includes(":");
  const srv = socket(k, to, six ? "inet6" : "inet", "dgram", 17).bind(six ? "::" : "0.0.0.0", dport);
  const cli = socket(k, from, six ? "inet6" : "inet", "dgram", 17);
  if (sport) cli.bind(six ? "::" : "0.0.0.0", sport);
  try {
    cli.sendto("x", dst, dport);
    clock(k).advance(50_000);
    return srv.recvfrom() !== null;
  } finally {
    cli.close();
    srv.close();
  }
}

let nextPort = 20000;
/** A TCP connection from `from` to dst:dport within 3 s of virtual time; closed after. */
export function tcpOk(k: Kernel, from: Vnet, to: Vnet, dst: string, dport: number): boolean {
  const six = dst.includes(":");
  const lsn = socket(k, to, six ? "inet6" : "inet", "stream").bind(six ? "::" : "0.0.0.0", dport).listen(8);
  const cli = socket(k, from, six ? "inet6" : "inet", "stream");
  cli.bind(six ? "::" : "0.0.0.0", nextPort++);
  let srv: ReturnType<typeof lsn.accept> = null;
  try {
    try {
      cli.connect(dst, dport);
    } catch {
      return false;
    }
    for (let i = 0; i < 30 && !srv; i++) {
      clock(k).advance(100_000);
      srv = lsn.accept();
    }
    return srv !== null;
  } finally {
    srv?.close();
    cli.close();
    lsn.close();
    clock(k).advance(100_000);
  }
}
