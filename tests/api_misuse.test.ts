// The public API misused (issue 14 item 6), one row per misuse: the call, the error class and
// message it must get, and proof that a failed call left nothing behind: after every row the
// kernel's accounting (pages after reclaim, zone items, vnets, callouts), every vnet's
// interfaces and their settings, addresses, routes, sockets, the TCP/UDP knobs, the link
// conditions and the clock are what they were, in this kernel and in a second one whose
// handles are passed to the first.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  Kernel, Vnet, Interface, VirtualClock, Socket, ConfigError, KernelError, VnetGoneError, InterfaceGoneError, UnknownModuleError,
  ModuleNotLoadedError, SocketError, SOL_SOCKET, SO, epairConditions, epairStats, epairCount, getConditions, addAddress,
  addresses, routes, addRoute, setIcmpLimit, setForwarding, arpGcThresh, addAddress6, setIcmp6Limit, nd6GcThresh, ping,
  traceroute, setPortRange, portRange, recvBatch, sendBatch, udpStats, tcpKnob, maxSockets, setCongestion, setKeepAlive,
  IPPROTO_TCP, TCP, socket, sockaddrIn, parseSockaddr, parseDuration, bridgeAdd, bridgeSetAgeing, bridgeAddStatic,
  formatIPv4, formatMac, parseRate, parseProbability, readPcap, parseRecords, Capture, toByteSink, Emitter, bytesModuleSource,
  setPlatform, formatSockaddr, setNoDelay, tcpState, bridgeFlush, frag6Knob, ipReassKnob,
  type TcpKnob, type Frag6Knob, type IpReassKnob,
} from "../host/index.js";
import { createSocket, createVxlan, netFor, netCreateServer, vnetAgent, vnetDispatcher } from "../host/node/index.js";
import { snapshot } from "./helpers/snapshot.js";

const KNOBS: TcpKnob[] = [
  "cc.algorithm", "sack.enable", "rfc1323", "syncookies", "ack_limit", "maxtcpcb", "tcbhashsize", "sendbuf_auto", "recvbuf_auto", "sendbuf_max", "recvbuf_max",
  "syncache.bucketlimit", "syncache.cachelimit", "syncookies_only",
];

interface Ctx {
  k: Kernel;
  clock: VirtualClock;
  A: Vnet;
  B: Vnet;
  /** A destroyed vnet and a destroyed interface. */
  gone: Vnet;
  goneIf: Interface;
  ea: Interface;
  eb: Interface;
  lo: Interface;
  bridge: Interface;
  udp: Socket;
  tcp: Socket;
  /** A second kernel: its handles are foreign to k. */
  k2: Kernel;
  v2: Vnet;
  i2: Interface;
  udp2: Socket;
}

/** Everything a failed call must not have changed, as one comparable value. */
function state(c: Ctx, k: Kernel = c.k) {
  k.reclaim();
  const vnets = k.vnets().map((v) => ({
    name: v.name,
    interfaces: v.interfaces().map((i) => ({
      name: i.name, mtu: i.mtu, flags: i.flags, caps: i.capEnable, mac: i.mac,
      v4: addresses(k, i).map((a) => a.cidr),
      conditions: i.type === "ether" && i.name.startsWith("epair") ? getConditions(k, i) : undefined,
    })),
    routes: routes(k, v).map((r) => `${r.destination} ${r.gateway ?? r.iface.name}`),
    sockets: v.sockstat(),
    knobs: KNOBS.map((n) => tcpKnob(k, v, n)),
    maxSockets: maxSockets(k, v),
    ports: portRange(k, v),
    arp: arpGcThresh(k, v),
    nd6: nd6GcThresh(k, v),
  }));
  const sock = k === c.k ? { keepidle: c.tcp.getsockopt(IPPROTO_TCP, TCP.KEEPIDLE), keepcnt: c.tcp.getsockopt(IPPROTO_TCP, TCP.KEEPCNT) } : undefined;
  return { snap: snapshot(k), vnets, epairs: epairCount(k), sockets: k.sockets.size, now: k.clock.now(), next: k.k.callout_next(), sock };
}

interface Row {
  /** The call, as a reader would write it. */
  call: string;
  run: (c: Ctx) => unknown;
  error: abstract new (...args: never[]) => Error;
  message: RegExp;
  /** An error's code (Node's look-alikes). */
  code?: string;
}

const expectThrow = (row: Row) => (e: unknown) => {
  assert.ok(e instanceof row.error, `${row.call}: expected ${row.error.name}, got ${e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e)}`);
  assert.match((e as Error).message, row.message, `${row.call}: message`);
  if (row.code !== undefined) assert.equal((e as { code?: string }).code, row.code, `${row.call}: code`);
  return true;
};

const remote = "127.0.0.1:4789";

const ROWS: Row[] = [
  // Kernel and vnets
  { call: "k.epair(destroyedVnet, B)", run: (c) => c.k.epair(c.gone, c.B), error: VnetGoneError, message: /^epair: vnet a: vnet \d+ \("gone"\) was destroyed$/ },
  { call: "k.epair(A, destroyedVnet)", run: (c) => c.k.epair(c.A, c.gone), error: VnetGoneError, message: /^epair: vnet b: vnet \d+ \("gone"\) was destroyed$/ },
  { call: "k.epair({}, B)", run: (c) => c.k.epair({} as Vnet, c.B), error: ConfigError, message: /^epair: vnet a: expected a Vnet, got \{\}$/ },
  { call: 'k.epair("A")', run: (c) => c.k.epair("A" as unknown as Vnet), error: ConfigError, message: /expected a Vnet, got "A"/ },
  { call: "k.epair(A, vnetOfAnotherKernel)", run: (c) => c.k.epair(c.A, c.v2), error: ConfigError, message: /^epair: vnet b: vnet "v2" belongs to another kernel$/ },
  { call: "k.epair(undefined, B) where B has that b end's name (the move fails)", run: (c) => c.k.epair(undefined, c.B), error: KernelError, message: /^move epair\d+b into vnet "B": an interface of that name exists there: EEXIST$/ },
  { call: 'k.createVnet("a b")', run: (c) => c.k.createVnet("a b"), error: ConfigError, message: /createVnet: name must be 1-64 of/ },
  { call: 'k.createVnet("A") (taken)', run: (c) => c.k.createVnet("A"), error: ConfigError, message: /a vnet named "A" exists/ },
  { call: "destroyedVnet.destroy()", run: (c) => c.gone.destroy(), error: VnetGoneError, message: /^destroy: vnet \d+ \("gone"\) was destroyed$/ },
  { call: "k.vnet0.destroy()", run: (c) => c.k.vnet0.destroy(), error: KernelError, message: /base system vnet lives as long as the kernel/ },
  { call: "k.vmstatZ(destroyedVnet)", run: (c) => c.k.vmstatZ(c.gone), error: VnetGoneError, message: /^vmstat -z: vnet \d+ \("gone"\) was destroyed$/ },
  { call: "k.vmstatZ(vnetOfAnotherKernel)", run: (c) => c.k.vmstatZ(c.v2), error: ConfigError, message: /belongs to another kernel/ },
  { call: 'k.kldload("nope")', run: (c) => c.k.kldload("nope"), error: UnknownModuleError, message: /kldload nope: no such module/ },
  { call: 'k.kldunload("vnet_demo") (not loaded)', run: (c) => c.k.kldunload("vnet_demo"), error: ModuleNotLoadedError, message: /kldunload vnet_demo: module is not loaded/ },
  { call: 'k.module("vnet_demo")', run: (c) => c.k.module("vnet_demo"), error: ModuleNotLoadedError, message: /module vnet_demo is not loaded/ },
  { call: "Kernel.boot({ seed: NaN })", run: () => Kernel.boot({ seed: NaN }), error: ConfigError, message: /seed must be a non-negative integer, got NaN/ },
  { call: "Kernel.boot({ vnetSectionBytes: 4097 })", run: () => Kernel.boot({ config: "BARE", vnetSectionBytes: 4097 }), error: ConfigError, message: /vnetSectionBytes 4097 is not a 4 KiB multiple/ },
  { call: 'Kernel.boot({ config: "NOPE" })', run: () => Kernel.boot({ config: "NOPE" }), error: ConfigError, message: /unknown kernel configuration "NOPE"/ },
  { call: 'Kernel.boot({ clock: "fast" })', run: () => Kernel.boot({ clock: "fast" as "real" }), error: ConfigError, message: /clock must be "virtual", "real" or a Clock, got "fast"/ },
  { call: "Kernel.boot({ memoryBudget: 1 MiB })", run: () => Kernel.boot({ config: "BARE", memoryBudget: 1 << 20 }), error: ConfigError, message: /^boot: memoryBudget must be an integer from 16777216 to 4294967296 bytes \(16 MiB to 4 GiB\), got 1048576$/ },
  { call: "Kernel.boot({ vnetMemoryBudget: NaN })", run: () => Kernel.boot({ config: "BARE", vnetMemoryBudget: NaN }), error: ConfigError, message: /^boot: vnetMemoryBudget must be an integer from 0 to 4294967295 bytes, got NaN$/ },

  // Vnet methods
  { call: "A.setMemoryBudget(-1)", run: (c) => c.A.setMemoryBudget(-1), error: ConfigError, message: /^setMemoryBudget: bytes must be an integer from 0 to 4294967295, got -1$/ },
  { call: "A.setMemoryBudget(2 ** 32)", run: (c) => c.A.setMemoryBudget(2 ** 32), error: ConfigError, message: /got 4294967296$/ },
  { call: "destroyedVnet.setMemoryBudget(0)", run: (c) => c.gone.setMemoryBudget(0), error: VnetGoneError, message: /^setMemoryBudget: vnet \d+ \("gone"\) was destroyed$/ },
  { call: 'A.interface("nope0")', run: (c) => c.A.interface("nope0"), error: ConfigError, message: /vnet "A" has no interface "nope0"/ },
  { call: 'A.ifcreate("nope")', run: (c) => c.A.ifcreate("nope"), error: KernelError, message: /no cloner "nope"/ },
  { call: 'A.ifcreate("bad name")', run: (c) => c.A.ifcreate("bad name"), error: ConfigError, message: /interface name must be/ },
  { call: "destroyedVnet.interfaces()", run: (c) => c.gone.interfaces(), error: VnetGoneError, message: /interfaces: vnet \d+ \("gone"\) was destroyed/ },
  { call: 'A.socket("inet", "bogus")', run: (c) => c.A.socket("inet", "bogus" as "dgram"), error: ConfigError, message: /type must be "stream", "dgram", "raw" or a SOCK_ number, got "bogus"/ },
  { call: 'A.socket(NaN, "dgram")', run: (c) => c.A.socket(NaN, "dgram"), error: ConfigError, message: /socket: domain must be an integer from 0 to 255 \(an AF_ number\), got NaN/ },
  { call: 'A.socket("inet", "dgram", -1)', run: (c) => c.A.socket("inet", "dgram", -1), error: ConfigError, message: /socket: protocol must be an integer from 0 to 255.*got -1/ },
  { call: 'socket(k, destroyedVnet, "inet", "dgram")', run: (c) => socket(c.k, c.gone, "inet", "dgram"), error: VnetGoneError, message: /^socket: vnet \d+ \("gone"\) was destroyed$/ },
  { call: 'socket(k, vnetOfAnotherKernel, "inet", "dgram")', run: (c) => socket(c.k, c.v2, "inet", "dgram"), error: ConfigError, message: /^socket: vnet "v2" belongs to another kernel$/ },

  // Interfaces
  { call: "ea.setMtu(65535)", run: (c) => c.ea.setMtu(65535), error: ConfigError, message: /^mtu epair0a: must be an integer from 72 to 16384 \(the epair driver's limit\), got 65535$/ },
  { call: "ea.setMtu(NaN)", run: (c) => c.ea.setMtu(NaN), error: ConfigError, message: /got NaN$/ },
  { call: "ea.setMtu(1500.5)", run: (c) => c.ea.setMtu(1500.5), error: ConfigError, message: /got 1500.5$/ },
  { call: "lo0.setMtu(65536)", run: (c) => c.lo.setMtu(65536), error: ConfigError, message: /^mtu lo0: must be an integer from 72 to 65535, got 65536$/ },
  { call: "bridge.setMtu(9000) (its members have 1500)", run: (c) => c.bridge.setMtu(9000), error: KernelError, message: /mtu bridge0 9000: a bridge's MTU is its members' \(1500\)/ },
  { call: "ea.setCapEnable(NaN)", run: (c) => c.ea.setCapEnable(NaN), error: ConfigError, message: /capabilities epair0a: caps must be an integer .*got NaN/ },
  { call: "ea.setCapEnable(-1)", run: (c) => c.ea.setCapEnable(-1), error: ConfigError, message: /got -1$/ },
  { call: "ea.setCapEnable(1.5)", run: (c) => c.ea.setCapEnable(1.5), error: ConfigError, message: /got 1.5$/ },
  { call: "ea.setCapEnable(0x800)", run: (c) => c.ea.setCapEnable(0x800), error: ConfigError, message: /unknown IFCAP bits 0x800/ },
  { call: 'ea.setUp("yes")', run: (c) => c.ea.setUp("yes" as unknown as boolean), error: ConfigError, message: /must be true or false, got "yes"/ },
  { call: "ea.setPromisc(1)", run: (c) => c.ea.setPromisc(1 as unknown as boolean), error: ConfigError, message: /promisc epair0a: on must be true or false, got 1/ },
  { call: "ea.moveTo(destroyedVnet)", run: (c) => c.ea.moveTo(c.gone), error: VnetGoneError, message: /^move epair0a: target vnet: vnet \d+ \("gone"\) was destroyed$/ },
  { call: "ea.moveTo({})", run: (c) => c.ea.moveTo({} as Vnet), error: ConfigError, message: /move epair0a: target vnet: expected a Vnet, got \{\}/ },
  { call: "ea.moveTo(vnetOfAnotherKernel)", run: (c) => c.ea.moveTo(c.v2), error: ConfigError, message: /belongs to another kernel/ },
  { call: "lo0.moveTo(B)", run: (c) => c.lo.moveTo(c.B), error: KernelError, message: /a loopback interface stays in its vnet/ },
  { call: "destroyedIf.setMtu(1500)", run: (c) => c.goneIf.setMtu(1500), error: InterfaceGoneError, message: /^mtu: interface #\d+ no longer exists$/ },
  { call: 'ea.send("frame")', run: (c) => c.ea.send("frame" as unknown as Uint8Array), error: ConfigError, message: /a frame is a Uint8Array/ },
  { call: "ea.send(70000 bytes)", run: (c) => c.ea.send(new Uint8Array(70000)), error: ConfigError, message: /larger than 65536/ },
  { call: 'ea.setMac("zz")', run: (c) => c.ea.setMac("zz"), error: ConfigError, message: /MAC address must look like/ },
  { call: "ea.setConditions({ delayUs: NaN })", run: (c) => c.ea.setConditions({ delayUs: NaN }), error: ConfigError, message: /delayUs must be an integer from 0 to 2147483647 microseconds, got NaN$/ },
  { call: "ea.setConditions({ loss: NaN })", run: (c) => c.ea.setConditions({ loss: NaN }), error: ConfigError, message: /loss must be a probability from 0 to 1, got NaN$/ },
  { call: "ea.setConditions({ rateBps: Infinity })", run: (c) => c.ea.setConditions({ rateBps: Infinity }), error: ConfigError, message: /rateBps must be an integer .*got Infinity$/ },
  { call: "ea.setConditions({ bogus: 1 })", run: (c) => c.ea.setConditions({ bogus: 1 } as never), error: ConfigError, message: /unknown condition "bogus"/ },
  { call: "ea.setConditions(null)", run: (c) => c.ea.setConditions(null as never), error: ConfigError, message: /conditions must be an object, got null/ },
  { call: "epairConditions(k, lo0, {})", run: (c) => epairConditions(c.k, c.lo, {}), error: ConfigError, message: /lo0 is not an epair end/ },
  { call: "epairStats(k, interfaceOfAnotherKernel)", run: (c) => epairStats(c.k, c.i2), error: ConfigError, message: /belongs to another kernel/ },
  { call: "epairStats(k, destroyedIf)", run: (c) => epairStats(c.k, c.goneIf), error: InterfaceGoneError, message: /no longer exists/ },

  // Captures
  { call: "k.capture({})", run: (c) => c.k.capture({} as Interface), error: ConfigError, message: /^capture: expected an Interface, got \{\}$/ },
  { call: "k.capture(interfaceOfAnotherKernel)", run: (c) => c.k.capture(c.i2), error: ConfigError, message: /belongs to another kernel/ },
  { call: "destroyedIf.capture()", run: (c) => c.goneIf.capture(), error: InterfaceGoneError, message: /^capture: interface #\d+ no longer exists$/ },
  { call: "ea.capture({ snaplen: NaN })", run: (c) => c.ea.capture({ snaplen: NaN }), error: ConfigError, message: /snaplen must be an integer from 14 to 65535, got NaN/ },
  { call: "ea.capture({ ringSegments: 0 })", run: (c) => c.ea.capture({ ringSegments: 0 }), error: ConfigError, message: /ringSegments must be an integer from 1 to 64, got 0/ },
  { call: "ea.capture({ ifName: \"\" })", run: (c) => c.ea.capture({ ifName: "" }), error: ConfigError, message: /ifName must be a non-empty string, got ""/ },
  { call: "ea.capture(null)", run: (c) => c.ea.capture(null as never), error: ConfigError, message: /options must be an object, got null/ },
  { call: "ea.capture({ pcap: 42 }) (ring attached, then the sink fails)", run: (c) => c.ea.capture({ pcap: 42 as never }), error: ConfigError, message: /a destination is a file path or a ByteSink/ },

  // Bridge
  { call: "bridgeAdd(k, ea, eb) (ea is no bridge)", run: (c) => bridgeAdd(c.k, c.ea, c.eb), error: ConfigError, message: /epair0a is not a bridge/ },
  { call: "bridgeAdd(k, bridge, destroyedIf)", run: (c) => bridgeAdd(c.k, c.bridge, c.goneIf), error: InterfaceGoneError, message: /no longer exists/ },
  { call: "bridgeAdd(k, {}, ea)", run: (c) => bridgeAdd(c.k, {} as Interface, c.ea), error: ConfigError, message: /^ifconfig bridge addm: expected an Interface, got \{\}$/ },
  { call: "bridgeSetAgeing(k, bridge, NaN)", run: (c) => bridgeSetAgeing(c.k, c.bridge, NaN), error: ConfigError, message: /got NaN/ },
  { call: 'bridgeAddStatic(k, bridge, eb, "01:00:00:00:00:01")', run: (c) => bridgeAddStatic(c.k, c.bridge, c.eb, "01:00:00:00:00:01"), error: ConfigError, message: /multicast/ },

  // IPv4, IPv6
  { call: 'addAddress(k, interfaceOfAnotherKernel, "10.9.0.1/24")', run: (c) => addAddress(c.k, c.i2, "10.9.0.1/24"), error: ConfigError, message: /belongs to another kernel/ },
  { call: 'addAddress(k, destroyedIf, "10.9.0.1/24")', run: (c) => addAddress(c.k, c.goneIf, "10.9.0.1/24"), error: InterfaceGoneError, message: /no longer exists/ },
  { call: 'addAddress(k, {}, "10.9.0.1/24")', run: (c) => addAddress(c.k, {} as Interface, "10.9.0.1/24"), error: ConfigError, message: /expected an Interface, got \{\}/ },
  { call: 'addAddress(k, ea, "10.0.0.0/24")', run: (c) => addAddress(c.k, c.ea, "10.0.0.0/24"), error: ConfigError, message: /network address/ },
  { call: 'addRoute(k, destroyedVnet, "10.1.0.0/16", ...)', run: (c) => addRoute(c.k, c.gone, "10.1.0.0/16", { gateway: "10.0.0.2" }), error: VnetGoneError, message: /route add 10.1.0.0\/16: vnet \d+ \("gone"\) was destroyed/ },
  { call: 'addRoute(k, A, "10.1.0.0/16", { iface: eb }) (eb is in B)', run: (c) => addRoute(c.k, c.A, "10.1.0.0/16", { iface: c.eb }), error: ConfigError, message: /is in vnet "B", not "A"/ },
  { call: "routes(k, vnetOfAnotherKernel)", run: (c) => routes(c.k, c.v2), error: ConfigError, message: /belongs to another kernel/ },
  { call: "setIcmpLimit(k, A, NaN)", run: (c) => setIcmpLimit(c.k, c.A, NaN), error: ConfigError, message: /icmplim: must be an integer 0-1000000, got NaN/ },
  { call: 'setForwarding(k, A, "yes")', run: (c) => setForwarding(c.k, c.A, "yes" as unknown as boolean), error: ConfigError, message: /expected true or false/ },
  { call: "arpGcThresh(k, A, { thresh1: NaN })", run: (c) => arpGcThresh(c.k, c.A, { thresh1: NaN }), error: ConfigError, message: /thresh1: must be an integer 0-16384, got NaN/ },
  { call: "arpGcThresh(k, A, { thresh1: 9, thresh2: 8 })", run: (c) => arpGcThresh(c.k, c.A, { thresh1: 9, thresh2: 8 }), error: ConfigError, message: /thresh1 <= thresh2 <= thresh3/ },
  { call: 'addAddress6(k, destroyedIf, "fd00::1/64")', run: (c) => addAddress6(c.k, c.goneIf, "fd00::1/64"), error: InterfaceGoneError, message: /no longer exists/ },
  { call: "setIcmp6Limit(k, A, -1)", run: (c) => setIcmp6Limit(c.k, c.A, -1), error: ConfigError, message: /got -1/ },
  { call: "nd6GcThresh(k, destroyedVnet)", run: (c) => nd6GcThresh(c.k, c.gone), error: VnetGoneError, message: /was destroyed/ },
  { call: 'frag6Knob(k, A, "maxfrag")', run: (c) => frag6Knob(c.k, c.A, "maxfrag" as Frag6Knob), error: ConfigError, message: /unknown knob net\.inet6\.ip6\.maxfrag \(known: net\.inet6\.ip6\.maxfrags,/ },
  { call: 'frag6Knob(k, A, "maxfragpackets", 2000)', run: (c) => frag6Knob(c.k, c.A, "maxfragpackets", 2000), error: ConfigError, message: /maxfragpackets: must be an integer from -1 \(no limit\) to 1024, got 2000/ },
  { call: 'frag6Knob(k, A, "frag6_nfrags", 1)', run: (c) => frag6Knob(c.k, c.A, "frag6_nfrags", 1), error: ConfigError, message: /frag6_nfrags is read only/ },
  { call: 'ipReassKnob(k, A, "maxfragsperpacket", -2)', run: (c) => ipReassKnob(c.k, c.A, "maxfragsperpacket", -2), error: ConfigError, message: /net\.inet\.ip\.maxfragsperpacket: must be an integer from -1 \(no limit\)/ },
  { call: 'ipReassKnob(k, destroyedVnet, "maxfragpackets")', run: (c) => ipReassKnob(c.k, c.gone, "maxfragpackets" as IpReassKnob), error: VnetGoneError, message: /was destroyed/ },
  { call: 'ping(k, A, "10.0.0.2", { count: NaN })', run: (c) => ping(c.k, c.A, "10.0.0.2", { count: NaN }), error: ConfigError, message: /ping: count must be an integer from 1 to 65536, got NaN/ },
  { call: 'ping(k, A, "10.0.0.2", { intervalMs: 1e300 })', run: (c) => ping(c.k, c.A, "10.0.0.2", { intervalMs: 1e300 }), error: ConfigError, message: /intervalMs must be a number of milliseconds from 0 to 2147483647, got 1e\+300/ },
  { call: 'ping(k, destroyedVnet, "10.0.0.2")', run: (c) => ping(c.k, c.gone, "10.0.0.2"), error: VnetGoneError, message: /^ping: vnet \d+ \("gone"\) was destroyed$/ },
  { call: 'ping(k, A, "10.0.0.300")', run: (c) => ping(c.k, c.A, "10.0.0.300"), error: ConfigError, message: /10\.0\.0\.300/ },
  { call: 'traceroute(k, A, "10.0.0.2", { maxHops: 0 })', run: (c) => traceroute(c.k, c.A, "10.0.0.2", { maxHops: 0 }), error: ConfigError, message: /maxHops must be an integer from 1 to 255, got 0/ },

  // UDP, TCP
  { call: "setPortRange(k, A, 0, 10)", run: (c) => setPortRange(c.k, c.A, 0, 10), error: ConfigError, message: /first must be an integer 1-65535, got 0/ },
  { call: "setPortRange(k, A, 30000, 20000)", run: (c) => setPortRange(c.k, c.A, 30000, 20000), error: ConfigError, message: /first is above last/ },
  { call: "udpStats(k, destroyedVnet)", run: (c) => udpStats(c.k, c.gone), error: VnetGoneError, message: /was destroyed/ },
  { call: "recvBatch(k, udp, NaN)", run: (c) => recvBatch(c.k, c.udp, NaN), error: ConfigError, message: /max must be an integer .*got NaN/ },
  { call: 'sendBatch(k, udp, ["x"])', run: (c) => sendBatch(c.k, c.udp, ["x" as unknown as Uint8Array], "10.0.0.2", 7), error: ConfigError, message: /datagram 0 is "x", not a Uint8Array/ },
  { call: 'sendBatch(k, udp, [bytes], "10.0.0.2") (no port)', run: (c) => sendBatch(c.k, c.udp, [new Uint8Array(1)], "10.0.0.2"), error: ConfigError, message: /a port is needed with address 10.0.0.2/ },
  { call: "sendBatch(k, socketOfAnotherKernel, [])", run: (c) => sendBatch(c.k, c.udp2, []), error: ConfigError, message: /belongs to another kernel/ },
  { call: 'tcpKnob(k, A, "maxtcpcb", -1)', run: (c) => tcpKnob(c.k, c.A, "maxtcpcb", -1), error: ConfigError, message: /^sysctl net.inet.tcp.maxtcpcb: must be an integer from 1 to 2147483647 tcpcbs, got -1$/ },
  { call: 'tcpKnob(k, A, "maxtcpcb", 2 ** 32 - 1)', run: (c) => tcpKnob(c.k, c.A, "maxtcpcb", 2 ** 32 - 1), error: ConfigError, message: /got 4294967295/ },
  { call: 'tcpKnob(k, A, "cc.algorithm", 2)', run: (c) => tcpKnob(c.k, c.A, "cc.algorithm", 2), error: ConfigError, message: /from 0 to 1 \(0 newreno, 1 cubic\), got 2/ },
  { call: 'tcpKnob(k, A, "tcbhashsize", 3000)', run: (c) => tcpKnob(c.k, c.A, "tcbhashsize", 3000), error: ConfigError, message: /must be a power of two from 1024 to 16384, got 3000/ },
  { call: 'tcpKnob(k, A, "sendbuf_max", 1.5)', run: (c) => tcpKnob(c.k, c.A, "sendbuf_max", 1.5), error: ConfigError, message: /got 1.5/ },
  { call: 'tcpKnob(k, A, "__proto__", 1)', run: (c) => tcpKnob(c.k, c.A, "__proto__" as TcpKnob, 1), error: ConfigError, message: /unknown knob net.inet.tcp.__proto__/ },
  { call: 'tcpKnob(k, destroyedVnet, "maxtcpcb")', run: (c) => tcpKnob(c.k, c.gone, "maxtcpcb"), error: VnetGoneError, message: /was destroyed/ },
  { call: "maxSockets(k, A, NaN)", run: (c) => maxSockets(c.k, c.A, NaN), error: ConfigError, message: /maxsockets: must be an integer from 1 to 2147483647, got NaN/ },
  { call: 'setCongestion(tcp, "toString")', run: (c) => setCongestion(c.tcp, "toString" as "cubic"), error: ConfigError, message: /expected "newreno" or "cubic", got "toString"/ },
  { call: "setKeepAlive(tcp, true, { idle: 10, count: 0 }) (idle must not change)", run: (c) => setKeepAlive(c.tcp, true, { idle: 10, count: 0 }), error: ConfigError, message: /TCP_KEEPCNT: count must be an integer from 1 to 255 probes, got 0/ },
  { call: 'setKeepAlive(tcp, "on")', run: (c) => setKeepAlive(c.tcp, "on" as unknown as boolean), error: ConfigError, message: /SO_KEEPALIVE: on must be true or false/ },

  // Sockets
  { call: 'udp.bind("10.0.0.1", NaN)', run: (c) => c.udp.bind("10.0.0.1", NaN), error: ConfigError, message: /port must be an integer from 0 to 65535, got NaN/ },
  { call: "tcp.listen(NaN)", run: (c) => c.tcp.listen(NaN), error: ConfigError, message: /backlog must be an integer .*got NaN/ },
  { call: "udp.send(42)", run: (c) => c.udp.send(42 as unknown as string), error: ConfigError, message: /data must be a Uint8Array or a string, got 42/ },
  { call: 'udp.sendto("x", "10.0.0.2", 7, NaN)', run: (c) => c.udp.sendto("x", "10.0.0.2", 7, NaN), error: ConfigError, message: /flags must be an integer .*got NaN/ },
  { call: 'udp.sendto("x", {})', run: (c) => c.udp.sendto("x", {} as never), error: ConfigError, message: /an address of family undefined needs its sockaddr bytes/ },
  { call: "udp.recv(NaN)", run: (c) => c.udp.recv(NaN), error: ConfigError, message: /maxlen must be an integer from 0 to 65536, got NaN/ },
  { call: "udp.recv(100, -1)", run: (c) => c.udp.recv(100, -1), error: ConfigError, message: /flags must be an integer .*got -1/ },
  { call: 'tcp.shutdown("sideways")', run: (c) => c.tcp.shutdown("sideways" as "read"), error: ConfigError, message: /how must be "read", "write", "both" or 0, 1, 2, got "sideways"/ },
  { call: "udp.setsockopt(NaN, SO_RCVBUF, 1)", run: (c) => c.udp.setsockopt(NaN, SO.RCVBUF, 1), error: ConfigError, message: /level must be an integer .*got NaN/ },
  { call: "udp.setsockopt(SOL_SOCKET, SO_RCVBUF, 1.5)", run: (c) => c.udp.setsockopt(SOL_SOCKET, SO.RCVBUF, 1.5), error: ConfigError, message: /setsockopt SO_RCVBUF: value must be a 32-bit integer or boolean, got 1.5/ },
  { call: "udp.getsockopt(SOL_SOCKET, NaN)", run: (c) => c.udp.getsockopt(SOL_SOCKET, NaN), error: ConfigError, message: /name must be an integer .*got NaN/ },
  { call: 'sockaddrIn("10.0.0.1", NaN)', run: () => sockaddrIn("10.0.0.1", NaN), error: ConfigError, message: /port must be an integer from 0 to 65535, got NaN/ },
  { call: "parseSockaddr(undefined)", run: () => parseSockaddr(undefined as never), error: ConfigError, message: /expected sockaddr bytes/ },
  { call: 'A.dgram("udp5")', run: (c) => c.A.dgram("udp5" as "udp4"), error: TypeError, message: /Bad socket type specified/, code: "ERR_SOCKET_BAD_TYPE" },
  { call: 'createSocket(k, destroyedVnet, "udp4")', run: (c) => createSocket(c.k, c.gone, "udp4"), error: VnetGoneError, message: /^socket: vnet \d+ \("gone"\) was destroyed$/ },
  { call: 'A.dgram().send("x", NaN, "10.0.0.2")', run: (c) => { const s = c.A.dgram(); try { s.send("x", NaN, "10.0.0.2"); } finally { s.close(); } }, error: RangeError, message: /^Port should be > 0 and < 65536. Received type number \(NaN\)\.$/, code: "ERR_SOCKET_BAD_PORT" },
  { call: "A.net.connect({ port: NaN })", run: (c) => c.A.net.connect({ port: NaN }), error: RangeError, message: /Port should be >= 0 and < 65536. Received type number \(NaN\)\./, code: "ERR_SOCKET_BAD_PORT" },

  // The clock
  { call: "clock.advance(1e20)", run: (c) => c.clock.advance(1e20), error: RangeError, message: /advance: 100000000000000000000 µs from \d+ µs is past the end of virtual time \(9007199254740991 µs/ },
  { call: "clock.advance(NaN)", run: (c) => c.clock.advance(NaN), error: RangeError, message: /got NaN/ },
  { call: "clock.advance(-1)", run: (c) => c.clock.advance(-1), error: RangeError, message: /got -1/ },
  { call: "clock.advance(0.5)", run: (c) => c.clock.advance(0.5), error: RangeError, message: /must be an integer >= 0, got 0.5/ },
  { call: "clock.advanceTo(now - 1)", run: (c) => c.clock.advanceTo(c.clock.now() - 1), error: RangeError, message: /advanceTo: \d+ µs is before now \(\d+ µs\); virtual time does not go back/ },
  { call: "clock.advanceTo(NaN)", run: (c) => c.clock.advanceTo(NaN), error: RangeError, message: /advanceTo: time must be an integer number of µs, got NaN/ },
  { call: "clock.advanceTo(2 ** 53)", run: (c) => c.clock.advanceTo(2 ** 53), error: RangeError, message: /past the end of virtual time/ },
  { call: "clock.runUntilIdle(NaN)", run: (c) => c.clock.runUntilIdle(NaN), error: RangeError, message: /limitUs must be a number >= 0/ },

  // VXLAN (wavnet/node), units
  { call: "createVxlan(k, A, { vni: NaN, remote })", run: (c) => createVxlan(c.k, c.A, { vni: NaN, remote }), error: ConfigError, message: /vni must be an integer from 0 to 16777215, got NaN$/ },
  { call: "createVxlan(k, destroyedVnet, { vni: 1, remote })", run: (c) => createVxlan(c.k, c.gone, { vni: 1, remote }), error: VnetGoneError, message: /vxlan create: vnet \d+ \("gone"\) was destroyed/ },
  { call: "createVxlan(k, A, { vni: 1, remote, mtu: 20000 })", run: (c) => createVxlan(c.k, c.A, { vni: 1, remote, mtu: 20000 }), error: ConfigError, message: /mtu must be an integer from 72 to 16384, got 20000/ },
  { call: "parseDuration(NaN)", run: () => parseDuration(NaN), error: Error, message: /a duration must be a number >= 0, got NaN/ },
  { call: "parseRate(NaN)", run: () => parseRate(NaN), error: Error, message: /rate NaN must be/ },
  { call: "parseProbability(NaN)", run: () => parseProbability(NaN), error: Error, message: /^NaN is not between 0 and 1/ },

  // Wrong objects where the API takes a kernel, a socket, bytes, a sink, a function
  { call: "epairStats(5, ea)", run: (c) => epairStats(5 as unknown as Kernel, c.ea), error: ConfigError, message: /^epair stats: expected a Kernel, got 5$/ },
  { call: "tcpKnob({}, A, \"maxtcpcb\")", run: (c) => tcpKnob({} as Kernel, c.A, "maxtcpcb"), error: ConfigError, message: /expected a Kernel, got \{\}/ },
  { call: "addAddress(undefined, ea, ...)", run: (c) => addAddress(undefined as unknown as Kernel, c.ea, "10.9.0.1/24"), error: ConfigError, message: /expected a Kernel, got undefined/ },
  { call: "setNoDelay(5)", run: () => setNoDelay(5 as unknown as Socket), error: ConfigError, message: /^TCP_NODELAY: expected a Socket, got 5$/ },
  { call: "tcpState({})", run: () => tcpState({} as Socket), error: ConfigError, message: /expected a Socket, got \{\}/ },
  { call: "bridgeFlush(k, bridge, null)", run: (c) => bridgeFlush(c.k, c.bridge, null as never), error: ConfigError, message: /options are \{ all\?: boolean \}, got null/ },
  { call: "ping(k, A, \"10.0.0.2\", null)", run: (c) => ping(c.k, c.A, "10.0.0.2", null as never), error: ConfigError, message: /ping: options must be an object, got null/ },
  { call: "netFor(k, {})", run: (c) => netFor(c.k, {} as Vnet), error: ConfigError, message: /^net: expected a Vnet, got \{\}$/ },
  { call: "vnetAgent({})", run: () => vnetAgent({} as Vnet), error: ConfigError, message: /^vnetAgent: expected a Vnet, got \{\}$/ },
  { call: "vnetDispatcher(destroyedVnet)", run: (c) => vnetDispatcher(c.gone, { undici: { Agent: class {} } }), error: VnetGoneError, message: /^vnetDispatcher: vnet \d+ \("gone"\) was destroyed$/ },
  { call: 'tcpKnob(k, A, "syncache.count", 5) (read only)', run: (c) => tcpKnob(c.k, c.A, "syncache.count", 5), error: ConfigError, message: /syncache.count is read only/ },
  { call: 'tcpKnob(k, A, "syncache.cachelimit", 0)', run: (c) => tcpKnob(c.k, c.A, "syncache.cachelimit", 0), error: ConfigError, message: /from 1 to 1048576 entries, got 0/ },
  { call: "netCreateServer(k, destroyedVnet)", run: (c) => netCreateServer(c.k, c.gone), error: VnetGoneError, message: /net.createServer: vnet \d+ \("gone"\) was destroyed/ },
  { call: "formatIPv4(NaN)", run: () => formatIPv4(NaN), error: ConfigError, message: /a 32-bit number or 4 bytes, got NaN/ },
  { call: "formatMac(5)", run: () => formatMac(5 as unknown as Uint8Array), error: ConfigError, message: /a MAC address is 6 bytes, got 5/ },
  { call: "formatSockaddr(5)", run: () => formatSockaddr(5 as never), error: ConfigError, message: /expected a SockAddr/ },
  { call: "readPcap(5)", run: () => readPcap(5 as unknown as Uint8Array), error: TypeError, message: /expected the file's bytes \(a Uint8Array\), got 5/ },
  { call: "parseRecords(5, f)", run: () => parseRecords(5 as unknown as Uint8Array, () => {}), error: TypeError, message: /expected ring bytes/ },
  { call: "new Capture({ snaplen: NaN })", run: () => new Capture({ ifName: "x", snaplen: NaN }), error: RangeError, message: /snaplen must be an integer from 1 to \d+, got NaN/ },
  { call: "toByteSink(5)", run: () => toByteSink(5 as never), error: ConfigError, message: /expected a WritableStream, got 5/ },
  { call: "new Emitter().on(\"x\", 5)", run: () => new Emitter().on("x", 5 as never), error: TypeError, message: /The "listener" argument must be of type function. Received type number \(5\)/, code: "ERR_INVALID_ARG_TYPE" },
  { call: "bytesModuleSource(5)", run: () => bytesModuleSource(5 as never), error: ConfigError, message: /expected \{ kernel: bytes, modules/ },
  { call: "setPlatform(5)", run: () => setPlatform(5 as never), error: ConfigError, message: /expected a Platform/ },
];

describe("the public API refuses misuse clearly and leaves nothing behind", () => {
  let c: Ctx;

  before(async () => {
    const k = await Kernel.boot({ seed: 14 });
    const A = k.createVnet("A");
    const B = k.createVnet("B");
    const gone = k.createVnet("gone");
    gone.destroy();
    const [ea, eb] = k.epair(A, B);
    ea.setUp();
    eb.setUp();
    addAddress(k, ea, "10.0.0.1/24");
    addAddress(k, eb, "10.0.0.2/24");
    const [goneIf] = k.epair();
    goneIf.destroy();
    const bridge = A.ifcreate("bridge")[0];
    const [ba] = k.epair(A);
    bridgeAdd(k, bridge, ba);
    // B holds the names the next epair gets (the cloner takes the lowest unit free in vnet0): its b end cannot move in.
    const [probe] = k.epair();
    const unit = probe.name.slice(0, -1);
    probe.destroy();
    B.ifcreate(unit);
    const udp = socket(k, A, "inet", "dgram");
    const tcp = socket(k, A, "inet", "stream");
    const k2 = await Kernel.boot({ seed: 14 });
    const v2 = k2.createVnet("v2");
    const [i2] = k2.epair(v2);
    const udp2 = socket(k2, v2, "inet", "dgram");
    c = { k, clock: k.clock as VirtualClock, A, B, gone, goneIf, ea, eb, lo: A.interface("lo0"), bridge, udp, tcp, k2, v2, i2, udp2 };
    c.clock.advance(1_000_000);
  });

  after(() => {
    c.k.shutdown();
    c.k2.shutdown();
  });

  for (const row of ROWS) {
    test(row.call, async () => {
      const before = state(c);
      const before2 = state(c, c.k2);
      let r: unknown;
      try {
        r = row.run(c);
      } catch (e) {
        expectThrow(row)(e);
        r = undefined;
        assert.deepEqual(state(c), before, `${row.call} left something behind`);
        assert.deepEqual(state(c, c.k2), before2, `${row.call} changed the other kernel`);
        return;
      }
      assert.ok(r instanceof Promise, `${row.call} did not throw (returned ${String(r)})`);
      await assert.rejects(r as Promise<unknown>, expectThrow(row));
      await new Promise((res) => setImmediate(res));
      assert.deepEqual(state(c), before, `${row.call} left something behind`);
      assert.deepEqual(state(c, c.k2), before2, `${row.call} changed the other kernel`);
    });
  }

  test(`the table has ${ROWS.length} rows, one per call`, () => {
    assert.equal(new Set(ROWS.map((r) => r.call)).size, ROWS.length);
  });
});

describe("a dgram socket whose vnet was destroyed", () => {
  test("send() throws ERR_SOCKET_DGRAM_NOT_RUNNING synchronously, as node:dgram does for a closed socket; no 'error' is emitted later", async () => {
    const k = await Kernel.boot({ seed: 14 });
    const C = k.createVnet("C");
    const s = createSocket(k, C, "udp4");
    s.bind(5000);
    await new Promise((res) => setImmediate(res));
    const errors: unknown[] = [];
    s.on("error", (e) => errors.push(e));
    let closed = 0;
    s.on("close", () => closed++);
    C.destroy();
    for (const send of [() => s.send("x", 7, "127.0.0.1"), () => s.send("x", 7, "127.0.0.1", () => {})]) {
      assert.throws(send, (e: Error & { code?: string }) => e.code === "ERR_SOCKET_DGRAM_NOT_RUNNING" && e.message === "Not running");
    }
    assert.throws(() => s.address(), (e: Error & { code?: string }) => e.code === "ERR_SOCKET_DGRAM_NOT_RUNNING");
    s.close(); // cleanup right after the destroy closes quietly
    await new Promise((res) => setTimeout(res, 10));
    assert.deepEqual(errors, []);
    assert.equal(closed, 1, "'close' once");
    assert.throws(() => s.close(), (e: Error & { code?: string }) => e.code === "ERR_SOCKET_DGRAM_NOT_RUNNING");
    k.shutdown();
  });
});

describe("a topology's clock", () => {
  test("ScheduleClock.advanceTo(a time in the past) is refused before any scheduled event runs", async () => {
    const { ScheduleClock } = await import("../host/topology/clock.js");
    const clock = new ScheduleClock();
    const k = await Kernel.boot({ config: "BARE", clock });
    clock.advance(1000);
    const fired: number[] = [];
    clock.at(500, () => fired.push(500)); // already due: the next advanceTo runs it
    assert.throws(() => clock.advanceTo(999), (e: Error) => e instanceof RangeError && /before now \(1000 µs\)/.test(e.message));
    assert.deepEqual(fired, [], "no event ran");
    assert.equal(clock.now(), 1000);
    clock.advanceTo(2000);
    assert.deepEqual(fired, [500]);
    k.shutdown();
  });
});
