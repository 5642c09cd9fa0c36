// Helpers for the flood tests and the hardening bench (issue 14): the setups several floods
// share, so a figure in bench/groups/hardening.ts measures exactly what a test checks.
import assert from "node:assert/strict";
import {
  Kernel, KernelError, addAddress, addRoute, ping, tcpKnob, socket, SOL_SOCKET, SO, type Interface, type Socket, type Vnet, type VirtualClock,
} from "../../host/index.js";
import { ether, arpPacket } from "./inet.js";
import { ip6Packet, icmp6, cat, parseIPv6 } from "./inet6.js";
import { tcpHosts, clock, step, tcpFrame, pattern, pump, sha256 } from "./tcp.js";

/** A small deterministic generator (xorshift32). */
export function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

// SYN floods (tests/tcp_syncache.test.ts).

const SYN = 0x02;
const MSS = [2, 4, 0x05, 0xb4];

export interface SynFlood {
  k: Kernel; A: Vnet; B: Vnet; ea: Interface; eb: Interface; lsn: Socket;
  /** n SYNs to B:80 from random sources in 198.18.0.0/15 and random ports. */
  spoof(n: number): void;
  /** One hand-made segment to B:80 from src:sport. */
  seg(src: string, sport: number, seq: number, ack: number, flags: number): void;
  count(): number;
}

export async function synFlood(backlog = 128, seed = 1): Promise<SynFlood> {
  const { k, A, B, ea, eb } = await tcpHosts(seed);
  addRoute(k, B, "default", { gateway: "10.0.0.1" });
  const lsn = socket(k, B, "inet", "stream").bind("0.0.0.0", 80).listen(backlog);
  const r = rng(seed * 7919);
  const seg = (src: string, sport: number, seq: number, ack: number, flags: number) =>
    eb.receive(tcpFrame({ from: ea, to: eb, src, dst: "10.0.0.2", sport, dport: 80, seq, ack, flags, options: flags === SYN ? MSS : [] }));
  return {
    k, A, B, ea, eb, lsn, seg,
    spoof(n) {
      for (let i = 0; i < n; i++) {
        const a = r();
        seg(`198.${18 + (a & 1)}.${(a >>> 1) & 255}.${((a >>> 9) % 254) + 1}`, 1024 + (r() % 64000), r(), 0, SYN);
      }
    },
    count: () => tcpKnob(k, B, "syncache.count"),
  };
}

/** Connect a client in A to B:80 and wait (virtual time) until B accepts it; returns both ends and the time it took. */
export function connectTimed(k: Kernel, A: Vnet, lsn: Socket, limitUs = 1_000_000): { cli: Socket; srv: Socket | null; us: number } {
  const t0 = clock(k).now();
  const cli = socket(k, A, "inet", "stream");
  cli.connect("10.0.0.2", 80);
  let srv = lsn.accept();
  while (!srv && clock(k).now() - t0 < limitUs) {
    step(k, 1_000);
    srv = lsn.accept();
  }
  return { cli, srv, us: clock(k).now() - t0 };
}

// Neighbour floods (tests/neighbour_flood.test.ts).

const ETHERTYPE_ARP = 0x0806;
const ETHERTYPE_IPV6 = 0x86dd;

/** A (10.0.0.1/16, fd00::1/64) and B (10.0.0.2/16, fd00::2/64) on one epair; nothing resolved yet. */
export async function neighbourPair() {
  const k = await Kernel.boot({ config: ["if_epair", "inet", "inet6", "udp"], seed: 1 });
  const A = k.createVnet("A");
  const B = k.createVnet("B");
  const [ea, eb] = k.epair(A, B);
  ea.setUp();
  eb.setUp();
  addAddress(k, ea, "10.0.0.1/16");
  addAddress(k, eb, "10.0.0.2/16");
  addAddress(k, ea, "fd00::1/64");
  addAddress(k, eb, "fd00::2/64");
  return { k, A, B, ea, eb, clk: k.clock as VirtualClock };
}

export const spoofMac = (i: number) => `02:5f:00:${((i >> 16) & 0xff).toString(16).padStart(2, "0")}:${((i >> 8) & 0xff).toString(16).padStart(2, "0")}:${(i & 0xff).toString(16).padStart(2, "0")}`;
/** 10.0.1.0 onwards: on B's /16, none of them real. */
export const spoofIp = (i: number) => `10.0.${1 + (i >> 8)}.${i & 0xff}`;

/** n spoofed ARP requests for B's address, each from its own address and MAC, into B's end. */
export function arpFlood(eb: Interface, n: number, from = 0): void {
  for (let i = from; i < from + n; i++) {
    eb.receive(ether(spoofMac(i), "ff:ff:ff:ff:ff:ff", ETHERTYPE_ARP, arpPacket({ sha: spoofMac(i), spa: spoofIp(i), tpa: "10.0.0.2" })));
  }
}

/** n spoofed NSs for fd00::2 with a source link-layer option, each from its own address and MAC. */
export function nsFlood(eb: Interface, n: number, from = 0): void {
  const dst = "ff02::1:ff00:2"; // fd00::2's solicited-node group
  for (let i = from; i < from + n; i++) {
    const src = `fd00::5f:${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}`;
    const mac = spoofMac(i);
    const body = cat(parseIPv6("fd00::2", "target"), Uint8Array.from([1, 1, ...mac.split(":").map((h) => parseInt(h, 16))]));
    const ns = icmp6(src, dst, 135, 0, 0, body);
    eb.receive(ether(mac, "33:33:ff:00:00:02", ETHERTYPE_IPV6, ip6Packet({ src, dst, hlim: 255, payload: ns })));
  }
}

/** Ping dst from v once; the reply's round trip in virtual ms, or Infinity. */
export async function resolveMs(k: Kernel, v: Vnet, dst: string): Promise<number> {
  const r = await ping(k, v, dst, { count: 1, timeoutMs: 5000 });
  return r.received === 1 ? r.replies[0].rttMs : Infinity;
}

// Memory floods (tests/memory_budget.test.ts).

/** Over lo0 (MTU 16384) four fragments, whose shared 16 KiB clusters the socket counts in full. */
export const DATAGRAM = new Uint8Array(60_000);
/** One Ethernet frame's worth: an mbuf and a 2 KiB cluster. */
export const FRAME_DATAGRAM = new Uint8Array(1472);
/** A UDP socket nobody reads, with the largest receive buffer (2 MiB of storage). */
export function sink(k: Kernel, v: Vnet, addr: string, port: number): Socket {
  const r = socket(k, v, "inet", "dgram").bind(addr, port);
  r.setsockopt(SOL_SOCKET, SO.RCVBUF, 1_800_000);
  return r;
}

export function sender(k: Kernel, v: Vnet): Socket {
  const s = socket(k, v, "inet", "dgram");
  s.setsockopt(SOL_SOCKET, SO.SNDBUF, 65_536);
  return s;
}

/** Send one datagram; false when the kernel refused it (ENOBUFS). */
export function floodSend(s: Socket, addr: string, port: number, data: Uint8Array = DATAGRAM): boolean {
  try {
    s.sendto(data, addr, port);
    return true;
  } catch (e) {
    if (e instanceof KernelError && /ENOBUFS|ENOMEM/.test(e.message)) return false;
    throw e;
  }
}

/** An epair homed in a (it dies with a), its b end moved into b. */
export function link(k: Kernel, a: Vnet, b: Vnet, net: string): [Interface, Interface] {
  const [ea, eb] = a.ifcreate("epair");
  eb.moveTo(b);
  ea.setUp();
  eb.setUp();
  addAddress(k, ea, `${net}.1/24`);
  addAddress(k, eb, `${net}.2/24`);
  return [ea, eb];
}

/** A ping and a 1 MiB TCP transfer from Q to S (10.9.0.2) with the bytes checked by SHA-256. */
export async function fullService(k: Kernel, Q: Vnet, S: Vnet): Promise<void> {
  const p = await ping(k, Q, "10.9.0.2", { count: 3, intervalMs: 10, size: 1000 });
  assert.equal(p.received, 3, `ping: ${JSON.stringify(p.sendErrors)}`);
  const lsn = socket(k, S, "inet", "stream").bind("0.0.0.0", 80).listen(4);
  const cli = socket(k, Q, "inet", "stream");
  cli.connect("10.9.0.2", 80);
  let srv: Socket | null = null;
  for (let i = 0; i < 100 && !srv; i++) {
    srv = lsn.accept();
    if (!srv) step(k);
  }
  assert.ok(srv, "connection accepted");
  const data = pattern(1 << 20, 11);
  const r = pump(k, cli, srv, data, 60_000_000);
  assert.equal(r.bytes, data.length);
  assert.equal(sha256(r.got), sha256(data));
  cli.close();
  srv.close();
  lsn.close();
}

/**
 * The audit's scenario: a quiet pair Q - S (10.9.0.0/24) and 100 flooded vnets, each with
 * three sockets nobody reads (about 3.6 MiB of room, 360 MiB in all): 96 flood themselves
 * over lo0, 4 are flooded from an attacker X over epairs; all at once, until the kernel
 * refuses them (60 rounds).
 */
export function hundredFloodedVnets(k: Kernel, rounds = 60): { Q: Vnet; S: Vnet; X: Vnet; flooded: { v: Vnet; s: Socket; dst: string; data: Uint8Array; burst: number }[] } {
  const PORTS = [9000, 9001, 9002];
  const Q = k.createVnet("Q");
  const S = k.createVnet("S");
  link(k, Q, S, "10.9.0");
  const X = k.createVnet("X");
  const flooded: { v: Vnet; s: Socket; dst: string; data: Uint8Array; burst: number }[] = [];
  const fromX = sender(k, X);
  for (let i = 0; i < 100; i++) {
    const v = k.createVnet(`F${i}`);
    if (i < 4) {
      link(k, X, v, `10.3.${i}`);
      for (const port of PORTS) sink(k, v, "0.0.0.0", port);
      flooded.push({ v, s: fromX, dst: `10.3.${i}.2`, data: FRAME_DATAGRAM, burst: 24 });
    } else {
      for (const port of PORTS) sink(k, v, "127.0.0.1", port);
      flooded.push({ v, s: sender(k, v), dst: "127.0.0.1", data: DATAGRAM, burst: 1 });
    }
  }
  for (let round = 0; round < rounds; round++) {
    for (const f of flooded) {
      for (let j = 0; j < f.burst; j++) floodSend(f.s, f.dst, PORTS[(round + j) % PORTS.length], f.data);
    }
  }
  return { Q, S, X, flooded };
}
