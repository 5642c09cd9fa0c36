// Helpers for the TCP tests: two vnets on an epair with TCP, a connected pair of stream
// sockets, a pump that moves bytes through them in virtual time, and hand-made segments.
import { createHash } from "node:crypto";
import { Kernel, type Socket, type Vnet, type Interface } from "../../host/index.js";
import { addAddress, addRoute, setForwarding, parseIPv4 } from "../../host/admin/inet.js";
import { socket } from "../../host/sockets/socket.js";
import { cksum, ipPacket, ether, twoHosts } from "./inet.js";
import { suiteConfig } from "./config.js";

/** The kernel of TCP over IPv4 suites: if_epair, inet, tcp (or WAVNET_TEST_CONFIG, helpers/config.ts). */
export const TCP4_CONFIG = () => suiteConfig(["if_epair", "inet", "tcp"], ["if_epair", "inet", "tcp"]);

export function tcpHosts(seed = 1) {
  return twoHosts(seed, TCP4_CONFIG());
}

export function clock(k: Kernel) {
  return k.clock as import("../../host/index.js").VirtualClock;
}

/** Advance virtual time to the next kernel deadline (or by maxUs if none is nearer). */
export function step(k: Kernel, maxUs = 1_000_000): void {
  const next = k.k.callout_next();
  const now = clock(k).now();
  clock(k).advance(next < 0 ? maxUs : Math.max(1, Math.min(maxUs, next - now)));
}

/** A listener on B:port and a client in A connected to it; returns [client, server side]. */
export function connectPair(k: Kernel, A: Vnet, B: Vnet, port = 80): { cli: Socket; srv: Socket; lsn: Socket } {
  const lsn = socket(k, B, "inet", "stream").bind("0.0.0.0", port).listen(8);
  const cli = socket(k, A, "inet", "stream");
  cli.connect("10.0.0.2", port);
  let srv: Socket | null = null;
  for (let i = 0; i < 1000 && !srv; i++) {
    srv = lsn.accept();
    if (!srv) step(k);
  }
  if (!srv) throw new Error("no connection");
  return { cli, srv, lsn };
}

/** Deterministic pseudo-random bytes. */
export function pattern(n: number, seed = 7): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

export function sha256(b: Uint8Array | Uint8Array[]): string {
  const h = createHash("sha256");
  for (const x of Array.isArray(b) ? b : [b]) h.update(x);
  return h.digest("hex");
}

/**
 * Send `data` from `from` and read it at `to` in virtual time until it has all arrived
 * (or limitUs passes). Returns the received chunks and the virtual time it took.
 */
export function pump(
  k: Kernel, from: Socket, to: Socket, data: Uint8Array, limitUs = 600_000_000, alreadySent = 0,
  /** Called after every round with the bytes received so far; true = step the clock anyway. */
  each?: (bytes: number) => boolean,
): { got: Uint8Array[]; bytes: number; us: number } {
  const t0 = clock(k).now();
  let sent = alreadySent;
  let bytes = 0;
  const got: Uint8Array[] = [];
  while (bytes < data.length && clock(k).now() - t0 < limitUs) {
    let progress = false;
    while (sent < data.length) {
      const n = from.send(data.subarray(sent, Math.min(data.length, sent + 65536)));
      if (n <= 0) break;
      sent += n;
      progress = true;
    }
    for (let r = to.recv(); r !== null && r.length > 0; r = to.recv()) {
      got.push(r);
      bytes += r.length;
      progress = true;
    }
    const force = each ? each(bytes) : false;
    if (!progress || force) step(k);
  }
  return { got, bytes, us: clock(k).now() - t0 };
}

/** A TCP segment (checksum right unless badSum) inside an IPv4 packet inside a frame from a to b. */
export function tcpFrame(o: {
  from: Interface; to: Interface; src: string; dst: string; sport: number; dport: number; seq: number; ack: number;
  flags: number; win?: number; options?: number[]; payload?: Uint8Array; dataOffset?: number; badSum?: boolean;
}): Uint8Array {
  const opts = o.options ?? [];
  const hlen = 20 + opts.length;
  const payload = o.payload ?? new Uint8Array(0);
  const seg = new Uint8Array(hlen + payload.length);
  const dv = new DataView(seg.buffer);
  dv.setUint16(0, o.sport);
  dv.setUint16(2, o.dport);
  dv.setUint32(4, o.seq >>> 0);
  dv.setUint32(8, o.ack >>> 0);
  seg[12] = ((o.dataOffset ?? hlen / 4) & 0xf) << 4;
  seg[13] = o.flags;
  dv.setUint16(14, o.win ?? 65535);
  seg.set(opts, 20);
  seg.set(payload, hlen);
  const ph = new Uint8Array(12 + seg.length);
  const pdv = new DataView(ph.buffer);
  pdv.setUint32(0, parseIPv4(o.src, "src"));
  pdv.setUint32(4, parseIPv4(o.dst, "dst"));
  ph[9] = 6;
  pdv.setUint16(10, seg.length);
  ph.set(seg, 12);
  dv.setUint16(16, cksum(ph) ^ (o.badSum ? 0x0f0f : 0));
  return ether(o.from, o.to, 0x0800, ipPacket({ src: o.src, dst: o.dst, proto: 6, payload: seg }));
}

/** Close every socket, let TIME_WAIT run out, check no tcpcb is left, shut the kernel down. */
export function finishTcp(k: Kernel, ...socks: Socket[]): void {
  for (const s of socks) s.close();
  clock(k).runUntilIdle(200_000_000);
  for (const v of k.vnets()) {
    if (v === k.vnet0) continue;
    const n = (k.module("tcp") as unknown as { tcp_pcbcount(v: number): number }).tcp_pcbcount(v.ptr);
    if (n !== 0) throw new Error(`${n} tcpcb left in ${v.name}`);
  }
  k.shutdown();
}

/**
 * Send `data` from `from` to `to` and, once `at` bytes have arrived, make `link` lose every
 * frame it sends until `burst` frames are gone (a burst loss in the middle of a window).
 */
export function pumpWithBurst(k: Kernel, from: Socket, to: Socket, data: Uint8Array, link: Interface, at: number, burst: number): { got: Uint8Array[]; bytes: number } {
  const base = link.conditions();
  let phase = 0; // 0 before, 1 losing, 2 after
  let lost0 = 0;
  const { got, bytes } = pump(k, from, to, data, 600_000_000, 0, (bytes) => {
    if (phase === 0 && bytes >= at) {
      lost0 = link.linkStats().lost;
      link.setConditions({ ...base, loss: 1 });
      phase = 1;
    } else if (phase === 1 && link.linkStats().lost - lost0 >= burst) {
      link.setConditions(base);
      phase = 2;
    }
    return phase === 1;
  });
  return { got, bytes };
}

/**
 * A - R1 - R2 - B with TCP: 10.0.1.0/24 (A .1, R1 .2), 10.0.2.0/24 (R1 .1, R2 .2),
 * 10.0.3.0/24 (R2 .1, B .2); routers forward. The R1-R2 link's MTU is `mtu`: a smaller MTU
 * in the middle of the path that neither end sees (path MTU discovery).
 */
export async function tcpRouted(mtu = 1500, seed = 1) {
  const k = await Kernel.boot({ config: TCP4_CONFIG(), seed });
  const [A, R1, R2, B] = ["A", "R1", "R2", "B"].map((n) => k.createVnet(n));
  const link = (x: Vnet, y: Vnet, net: number, m: number): [Interface, Interface] => {
    const [ex, ey] = k.epair(x, y);
    ex.setMtu(m);
    ey.setMtu(m);
    ex.setUp();
    ey.setUp();
    addAddress(k, ex, `10.0.${net}.1/24`);
    addAddress(k, ey, `10.0.${net}.2/24`);
    return [ex, ey];
  };
  const l1 = link(A, R1, 1, 1500);
  const l2 = link(R1, R2, 2, mtu);
  const l3 = link(R2, B, 3, 1500);
  addRoute(k, A, "default", { gateway: "10.0.1.2" });
  addRoute(k, R1, "10.0.3.0/24", { gateway: "10.0.2.2" });
  addRoute(k, R2, "10.0.1.0/24", { gateway: "10.0.2.1" });
  addRoute(k, B, "default", { gateway: "10.0.3.1" });
  setForwarding(k, R1, true);
  setForwarding(k, R2, true);
  return { k, A, R1, R2, B, l1, l2, l3 };
}

/** The first 8 bytes of a TCP header (what an ICMP error quotes). */
export function tcpQuote(sport: number, dport: number, seq: number): Uint8Array {
  const b = new Uint8Array(8);
  const dv = new DataView(b.buffer);
  dv.setUint16(0, sport);
  dv.setUint16(2, dport);
  dv.setUint32(4, seq >>> 0);
  return b;
}
