// The conformance suite's lab: FreeBSD's frag6.subr makes an epair, keeps end a on the host
// and moves end b into a fresh jail; here one kernel per test file, and per case a fresh
// pair of vnets, "host" and the case's jail, on an epair. Frames are injected on the jail's
// end as if from the host's wire (scapy's sendp in FreeBSD's scripts); what the jail sends
// back is captured on its end (the sniffer on end a there). Counters are read as deltas
// from the moment the case starts (FreeBSD's netstat -z).
import { test } from "node:test";
import { Kernel, ping, type Interface, type Vnet, type VirtualClock } from "../../host/index.js";
import { addAddress6 } from "../../host/admin/inet6.js";
import { ip6Stats, icmp6Stats, type Ip6Stats } from "../../host/admin/inet6.js";
import { ipStats, addAddress, type IpStats } from "../../host/admin/inet.js";
import { udpStats, type UdpStats } from "../../host/admin/udp.js";
import { ether } from "../helpers/inet.js";
import { conformanceCase } from "./cases.js";

/**
 * A test for a registered FreeBSD case: its name starts with the case id (the bench counts
 * by it). A known divergence runs as `todo` with its reason: reported, never hidden, never
 * counted as passing; a case not applicable here is skipped with its reason.
 */
export function conformanceTest(id: string, fn: () => Promise<void>): void {
  const c = conformanceCase(id);
  const name = `${c.id}: ${c.summary}`;
  // A case that fails midway still takes its jail down, so the next case starts clean.
  const run = async () => {
    try {
      await fn();
    } finally {
      for (const j of [...open]) await j.destroy();
    }
  };
  if (c.status === "not-applicable") test(name, { skip: c.reason }, () => {});
  else if (c.status === "known-divergence") test(name, { todo: c.reason }, run);
  else test(name, run);
}

/** Jails not destroyed yet. */
const open = new Set<Jail>();

export async function bootLab(modules: string[]): Promise<Kernel> {
  return Kernel.boot({ config: ["if_epair", ...modules], seed: 17 });
}

export function clock(k: Kernel): VirtualClock {
  return k.clock as VirtualClock;
}

/** One frame the jail sent, decoded enough for the checks (IPv6 ICMPv6 errors, IPv4 ICMP). */
export interface OutFrame {
  bytes: Uint8Array;
  /** ICMPv6 / ICMP type and code, or -1 when the frame carries none. */
  type: number;
  code: number;
  /** The ICMPv6 parameter problem pointer (word 4 of the message). */
  pointer: number;
}

export interface Jail {
  k: Kernel;
  host: Vnet;
  jail: Vnet;
  hostEnd: Interface;
  jailEnd: Interface;
  /** Inject an IP packet (v6 or v4) on the jail's end, from the host's MAC. */
  send(packet: Uint8Array): void;
  /** What the jail sent since the case began, ICMPv6/ICMP errors among it (after the event loop turns). */
  sent(): Promise<OutFrame[]>;
  ip6(): Ip6Stats;
  ip(): IpStats;
  udp(): UdpStats;
  /** ICMPv6 errors the jail tried to send, and what it sent per type (icmp6 output histogram). */
  icmp6(): { error: number; unreach: number; timexceed: number; paramprob: number };
  /** Let `seconds` of virtual time pass (reassembly timeouts). */
  wait(seconds: number): void;
  /** Destroy both vnets (the jail's cleanup); the caller checks nothing is left. */
  destroy(): Promise<void>;
}

const ETHERTYPE_IP = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;

function diff<T extends Record<string, number>>(now: T, base: T): T {
  const out = {} as Record<string, number>;
  for (const k of Object.keys(now)) out[k] = now[k] - base[k];
  return out as T;
}

/** The jail of one case: host fd00::1 / 10.0.0.1, jail fd00::2 / 10.0.0.2, neighbours known both ways. */
export async function jail(k: Kernel, name: string, family: "inet" | "inet6"): Promise<Jail> {
  const host = k.createVnet(`${name}-host`);
  const jailV = k.createVnet(name);
  const [hostEnd, jailEnd] = k.epair(host, jailV);
  hostEnd.setUp();
  jailEnd.setUp();
  if (family === "inet6") {
    addAddress6(k, hostEnd, "fd00::1/64");
    addAddress6(k, jailEnd, "fd00::2/64");
    clock(k).advance(5_000_000); // duplicate address detection done
    if ((await ping(k, host, "fd00::2", { count: 1 })).received !== 1) throw new Error(`${name}: the jail does not answer ping6`);
  } else {
    addAddress(k, hostEnd, "10.0.0.1/24");
    addAddress(k, jailEnd, "10.0.0.2/24");
    if ((await ping(k, host, "10.0.0.2", { count: 1 })).received !== 1) throw new Error(`${name}: the jail does not answer ping`);
  }
  const six = family === "inet6";
  const base6 = six ? ip6Stats(k, jailV) : undefined;
  const base4 = six ? undefined : ipStats(k, jailV);
  const baseUdp = udpStats(k, jailV);
  const icmp6Now = () => {
    const s = icmp6Stats(k, jailV);
    return { error: s.error, unreach: s.outhist[0], timexceed: s.outhist[2], paramprob: s.outhist[3] };
  };
  const baseIcmp6 = six ? icmp6Now() : undefined;
  const frames: Uint8Array[] = [];
  const cap = jailEnd.capture();
  const reading = (async () => {
    for await (const f of cap) if (f.dir === "out") frames.push(f.data.slice());
  })();
  const settle = async () => {
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
  };
  const j: Jail = {
    k, host, jail: jailV, hostEnd, jailEnd,
    send(packet) {
      void jailEnd.receive(ether(hostEnd, jailEnd, (packet[0] >> 4) === 6 ? ETHERTYPE_IPV6 : ETHERTYPE_IP, packet));
    },
    async sent() {
      await settle();
      return frames.map((b) => {
        const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
        const et = dv.getUint16(12);
        if (et === ETHERTYPE_IPV6 && b[20] === 58) return { bytes: b, type: b[54], code: b[55], pointer: dv.getUint32(58) };
        if (et === ETHERTYPE_IP && b[23] === 1) {
          const hl = (b[14] & 15) * 4;
          return { bytes: b, type: b[14 + hl], code: b[15 + hl], pointer: -1 };
        }
        return { bytes: b, type: -1, code: -1, pointer: -1 };
      });
    },
    ip6: () => diff(ip6Stats(k, jailV), base6!),
    ip: () => diff(ipStats(k, jailV), base4!),
    udp: () => diff(udpStats(k, jailV), baseUdp),
    icmp6: () => diff(icmp6Now(), baseIcmp6!),
    wait(seconds) {
      clock(k).advance(seconds * 1_000_000);
    },
    async destroy() {
      if (!open.delete(j)) return;
      await cap.stop();
      await reading;
      jailV.destroy();
      host.destroy();
    },
  };
  open.add(j);
  return j;
}

/** ICMPv6 errors among frames, as [type, code] (echo replies and ND left out). */
export function errors6(frames: OutFrame[]): [number, number][] {
  return frames.filter((f) => f.type >= 1 && f.type <= 4).map((f) => [f.type, f.code]);
}
