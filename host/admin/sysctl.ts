// sysctl(8) for one vnet: every per-vnet knob the kernel has, in one table, by FreeBSD's
// names. Topology files (`kernel.sysctl:`), the shell's `sysctl` (-a, -w, NAME[=VALUE]) and
// the library read the same table, so a name known in one is known in all. Each entry says
// which module holds the knob (a kernel without it has no such knob), how a value is
// written, and how it is read and set through the host functions that already exist
// (admin/inet.ts, inet6.ts, tcp.ts, udp.ts).

import { acceptRtadvDefault } from "./rtadv.js";
import type { Kernel, Vnet } from "../kern/kernel.js";
import { ConfigError } from "../lib/errors.js";
import { show } from "../lib/format.js";
import { routeMultipath, setForwarding, forwarding, setIcmpLimit, icmpLimit, setIcmpTstampRepl, icmpTstampRepl, ipReassKnob, arpGcThresh, garpRexmitCount, type IpReassKnob } from "./inet.js";
import { setForwarding6, forwarding6, setIcmp6Limit, icmp6Limit, nd6GcThresh, frag6Knob, setV6only, v6only, type Frag6Knob } from "./inet6.js";
import { tcpKnob, maxSockets, TCP_CC, type TcpKnob } from "./tcp.js";
import { portRange, setPortRange } from "./udp.js";
import { bridgeInheritMac } from "./bridge.js";

type Value = number | string;

export interface SysctlKnob {
  name: string;
  /** The module that holds it ("" for the kernel itself). */
  module: string;
  /** One line: what it is and what it takes. */
  description: string;
  readOnly?: boolean;
  /** A value as a file or a command line writes it (text, number or boolean) -> what set() takes. */
  parse(v: unknown): Value;
  get(k: Kernel, vnet: Vnet): Value;
  set(k: Kernel, vnet: Vnet, v: Value): void;
}

function boolish(v: unknown): number {
  if (v === true || v === 1 || v === "1" || v === "true") return 1;
  if (v === false || v === 0 || v === "0" || v === "false") return 0;
  throw new Error(`must be 0 or 1 (or true/false), got ${show(v)}`);
}

function intIn(lo: number, hi: number): (v: unknown) => number {
  return (v) => {
    const n = typeof v === "string" && /^-?\d+$/.test(v.trim()) ? Number(v) : v;
    if (typeof n !== "number" || !Number.isInteger(n) || n < lo || n > hi) throw new Error(`must be an integer from ${lo} to ${hi}, got ${show(v)}`);
    return n;
  };
}

const I32_MAX = 0x7fffffff;
const TCP_CC_NAMES = Object.keys(TCP_CC) as (keyof typeof TCP_CC)[];

function boolKnob(name: string, module: string, description: string, get: (k: Kernel, v: Vnet) => boolean, set: (k: Kernel, v: Vnet, on: boolean) => void): SysctlKnob {
  return { name, module, description: `${description} (0 or 1)`, parse: boolish, get: (k, v) => (get(k, v) ? 1 : 0), set: (k, v, x) => set(k, v, x === 1) };
}

function ipReass(knob: IpReassKnob, hi: number, description: string): SysctlKnob {
  return {
    name: `net.inet.ip.${knob}`, module: "inet", description: `${description} (-1: no limit)`, parse: intIn(-1, hi),
    get: (k, v) => ipReassKnob(k, v, knob), set: (k, v, x) => void ipReassKnob(k, v, knob, x as number),
  };
}

function frag6(knob: Frag6Knob, hi: number, description: string, readOnly = false): SysctlKnob {
  return {
    name: `net.inet6.ip6.${knob}`, module: "inet6", description: readOnly ? description : `${description} (-1: no limit)`, parse: intIn(-1, hi), readOnly,
    get: (k, v) => frag6Knob(k, v, knob), set: (k, v, x) => void frag6Knob(k, v, knob, x as number),
  };
}

function gc(prefix: string, module: string, which: 1 | 2 | 3, f: typeof arpGcThresh): SysctlKnob {
  const key = `thresh${which}` as const;
  const what = ["", "entries kept without collection", "entries above which old ones are collected", "hard limit of entries"][which];
  return {
    name: `${prefix}${which}`, module, description: `neighbour cache: ${what}`, parse: intIn(0, 16384),
    get: (k, v) => f(k, v)[key], set: (k, v, x) => void f(k, v, { [key]: x as number }),
  };
}

function tcp(knob: TcpKnob, parse: (v: unknown) => number, description: string, readOnly = false): SysctlKnob {
  return { name: `net.inet.tcp.${knob}`, module: "tcp", description, parse, readOnly, get: (k, v) => tcpKnob(k, v, knob), set: (k, v, x) => void tcpKnob(k, v, knob, x as number) };
}

function portEnd(end: "first" | "last"): SysctlKnob {
  return {
    name: `net.inet.ip.portrange.${end}`, module: "udp", description: `ephemeral ports: the ${end} one (1 to 65535)`, parse: intIn(1, 65535),
    get: (k, v) => portRange(k, v)[end],
    set: (k, v, x) => {
      const r = portRange(k, v);
      setPortRange(k, v, end === "first" ? (x as number) : r.first, end === "last" ? (x as number) : r.last);
    },
  };
}

/** Every per-vnet knob, sorted by name (sysctl -a's order). */
const LIST: SysctlKnob[] = [
  {
    name: "kern.ipc.maxsockets", module: "", description: "sockets of any kind the vnet may hold", parse: intIn(1, I32_MAX),
    get: (k, v) => maxSockets(k, v), set: (k, v, x) => void maxSockets(k, v, x as number),
  },
  boolKnob("net.inet.ip.forwarding", "inet", "forward IPv4 packets not addressed to this vnet", forwarding, setForwarding),
  {
    name: "net.inet.icmp.icmplim", module: "inet", description: "ICMP errors sent per second (0: no limit)", parse: intIn(0, 1_000_000),
    get: icmpLimit, set: (k, v, x) => setIcmpLimit(k, v, x as number),
  },
  boolKnob("net.inet.icmp.tstamprepl", "inet", "answer ICMP timestamp requests", icmpTstampRepl, setIcmpTstampRepl),
  ipReass("maxfragpackets", 1024, "IPv4 datagrams being reassembled at once"),
  ipReass("maxfragbucketsize", 1024, "IPv4 datagrams per reassembly bucket"),
  ipReass("maxfragsperpacket", I32_MAX, "fragments per IPv4 datagram"),
  portEnd("first"),
  portEnd("last"),
  tcp("cc.algorithm", (v) => {
    if (typeof v === "string" && Object.hasOwn(TCP_CC, v)) return TCP_CC[v as keyof typeof TCP_CC];
    if (v === 0 || v === 1 || v === "0" || v === "1") return Number(v);
    throw new Error(`must be ${TCP_CC_NAMES.map((n) => JSON.stringify(n)).join(" or ")}, got ${show(v)}`);
  }, "congestion control of new connections (newreno or cubic)"),
  tcp("sack.enable", boolish, "selective acknowledgements, RFC 2018 (0 or 1)"),
  tcp("rfc1323", boolish, "window scaling and timestamps, RFC 7323 (0 or 1)"),
  tcp("syncookies", boolish, "SYN cookies when the syncache is full (0 or 1)"),
  tcp("syncookies_only", boolish, "answer every SYN with a cookie, keep nothing (0 or 1)"),
  tcp("ack_limit", intIn(0, I32_MAX), "challenge ACKs sent per second"),
  tcp("rst_limit", intIn(0, I32_MAX), "RSTs sent per second to unwanted segments (0: no limit)"),
  tcp("maxtcpcb", intIn(1, I32_MAX), "TCP control blocks the vnet may hold"),
  tcp("tcbhashsize", intIn(1024, 16384), "connection hash buckets (a power of two, 1024 to 16384)"),
  tcp("sendbuf_auto", boolish, "grow send buffers while a connection fills them (0 or 1)"),
  tcp("recvbuf_auto", boolish, "grow receive buffers while a connection fills them (0 or 1)"),
  tcp("sendbuf_max", intIn(1, 2097152), "largest send buffer autotuning grows to, bytes"),
  tcp("recvbuf_max", intIn(1, 2097152), "largest receive buffer autotuning grows to, bytes"),
  tcp("syncache.bucketlimit", intIn(1, 65535), "embryonic connections per syncache bucket"),
  tcp("syncache.cachelimit", intIn(1, 1 << 20), "embryonic connections in the syncache"),
  tcp("syncache.count", intIn(0, 0), "embryonic connections held now", true),
  {
    name: "net.link.ether.inet.garp_rexmit_count", module: "inet", description: "times a new address's gratuitous ARP is repeated, after 1, 2, 4 ... s (0 to 16)", parse: intIn(0, 16),
    get: (k, v) => garpRexmitCount(k, v), set: (k, v, x) => void garpRexmitCount(k, v, x as number),
  },
  gc("net.link.ether.inet.gc_thresh", "inet", 1, arpGcThresh),
  gc("net.link.ether.inet.gc_thresh", "inet", 2, arpGcThresh),
  gc("net.link.ether.inet.gc_thresh", "inet", 3, arpGcThresh),
  boolKnob("net.route.multipath", "", "a second gateway route to a prefix adds another path (flows spread by hash; 0: EEXIST)", (k, v) => routeMultipath(k, v), (k, v, on) => void routeMultipath(k, v, on)),
  boolKnob("net.link.bridge.inherit_mac", "if_bridge", "a bridge takes its first member's MAC", (k, v) => bridgeInheritMac(k, v), (k, v, on) => void bridgeInheritMac(k, v, on)),
  boolKnob("net.inet6.ip6.forwarding", "inet6", "forward IPv6 packets not addressed to this vnet", forwarding6, setForwarding6),
  boolKnob("net.inet6.ip6.v6only", "inet6", "new AF_INET6 sockets are IPv6 only (IPV6_V6ONLY); 0: dual-stack, IPv4 as ::ffff:a.b.c.d", v6only, setV6only),
  boolKnob("net.inet6.ip6.accept_rtadv", "inet6", "interfaces that come up from now on accept router advertisements (SLAAC; docs/slaac.md)", (k, v) => acceptRtadvDefault(k, v), (k, v, on) => void acceptRtadvDefault(k, v, on)),
  {
    name: "net.inet6.icmp6.errppslimit", module: "inet6", description: "ICMPv6 errors sent per second (0: no limit)", parse: intIn(0, 1_000_000),
    get: icmp6Limit, set: (k, v, x) => setIcmp6Limit(k, v, x as number),
  },
  gc("net.inet6.icmp6.nd6_gc_thresh", "inet6", 1, nd6GcThresh),
  gc("net.inet6.icmp6.nd6_gc_thresh", "inet6", 2, nd6GcThresh),
  gc("net.inet6.icmp6.nd6_gc_thresh", "inet6", 3, nd6GcThresh),
  frag6("maxfrags", I32_MAX, "IPv6 fragments held at once"),
  frag6("maxfragpackets", 1024, "IPv6 datagrams being reassembled at once"),
  frag6("maxfragbucketsize", 1024, "IPv6 datagrams per reassembly bucket"),
  frag6("maxfragsperpacket", I32_MAX, "fragments per IPv6 datagram"),
  frag6("frag6_nfrags", 0, "IPv6 fragments held now", true),
];
export const SYSCTLS: readonly SysctlKnob[] = LIST.sort((a, b) => (a.name < b.name ? -1 : 1));

const BY_NAME = new Map(SYSCTLS.map((s) => [s.name, s]));

/** The knob of that name, or a ConfigError that lists the names with the same start (or all). */
export function sysctlKnob(name: string): SysctlKnob {
  const s = BY_NAME.get(name);
  if (s) return s;
  const near = SYSCTLS.filter((x) => x.name.startsWith(name.split(".").slice(0, 3).join("."))).map((x) => x.name);
  throw new ConfigError(`unknown oid '${name}' (${near.length ? `near it: ${near.join(", ")}` : `known: ${SYSCTLS.map((x) => x.name).join(", ")}`}; sysctl -a lists them)`);
}

/** The knobs this kernel has (their module loaded). */
export function sysctlKnobs(kernel: Kernel): SysctlKnob[] {
  return SYSCTLS.filter((s) => s.module === "" || kernel.linker.isLoaded(s.module));
}

function present(kernel: Kernel, s: SysctlKnob): void {
  if (s.module !== "" && !kernel.linker.isLoaded(s.module)) throw new ConfigError(`${s.name}: this kernel has no ${s.module} module (kldload ${s.module})`);
}

/** Read one knob of a vnet (cc.algorithm as its name). */
export function sysctlGet(kernel: Kernel, vnet: Vnet, name: string): Value {
  const s = sysctlKnob(name);
  present(kernel, s);
  const v = s.get(kernel, vnet);
  return s.name === "net.inet.tcp.cc.algorithm" ? (TCP_CC_NAMES.find((n) => TCP_CC[n] === v) ?? v) : v;
}

/** Set one knob of a vnet from a value as written (text, number, boolean); returns the value read back. */
export function sysctlSet(kernel: Kernel, vnet: Vnet, name: string, value: unknown): Value {
  const s = sysctlKnob(name);
  present(kernel, s);
  if (s.readOnly) throw new ConfigError(`${name} is read only`);
  let v: Value;
  try {
    v = s.parse(value);
  } catch (e) {
    throw new ConfigError(`${name} ${(e as Error).message}`);
  }
  s.set(kernel, vnet, v);
  return sysctlGet(kernel, vnet, name);
}
