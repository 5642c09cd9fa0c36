// The BSD-named commands a user runs on one node (one vnet): ifconfig, route, netstat,
// sockstat, arp, ndp, ping, ping6, traceroute, traceroute6, vmstat -z, kld*, sysctl, plus
// `link` (epair conditions) and `capture` (pcap files, through the platform's files: Node's,
// or a worker's in memory). Each command is a thin layer over the host functions that
// already exist (host/inet.ts, host/tcp.ts, host/ping.ts, ...): parse the words, call,
// format. Bad input of any kind is one CommandError line; a command never prints a stack.
//
// Commands.exec(node, line) is what the shell and Topology.runSteps call. Platform-neutral:
// `wavnet shell` (Node) and the browser page's consoles (host/web/) run the same table.

import type { Kernel, Vnet } from "../kern/kernel.js";
import type { KldCheckpoint } from "../kern/linker.js";
import type { Interface } from "../admin/ifnet.js";
import { flagNames, capNames, IFCAP_WORDS } from "../admin/ifnet.js";
import type { LiveCapture } from "../capture/tap.js";
import { formatConditions, type LinkConditions } from "../admin/epair.js";
import { WavnetError, AbortError } from "../lib/errors.js";
import { platform, unsupported } from "../lib/platform.js";
import {
  addAddress, delAddress, addresses, addRoute, delRoute, routeGet, netstatRn, arpAn, netstatS,
} from "../admin/inet.js";
import { isIPv6Text, splitZone, mask4 as maskOf } from "../lib/addr.js";
import { netstatSTcp, tcpConnections, tcpProto } from "../admin/tcp.js";
import {
  ifconfigInet6Lines, addAddress6, delAddress6, addRoute6, delRoute6, routeGet6, netstatRn6, netstatS6, ndpAn, ndpAdd, ndpDelete,
  netstatSMld, ifmcstat,
} from "../admin/inet6.js";
import { sockstat, formatSockstat, type SockAddr } from "../sockets/socket.js";
import { ping, traceroute } from "../admin/ping.js";
import { formatTable } from "../lib/format.js";
import { bridgeText, bridgeAddrText, bridgeAdd, bridgeDel, bridgeMldSnoop, bridgeMdb } from "../admin/bridge.js";
import {
  CommandError, tokenize, getopt, number, duration, probability, rate,
} from "./args.js";
import { iperf, IPERF_USAGE, closeIperfServers } from "./iperf.js";
import { curl, CURL_USAGE } from "./curl.js";

import { SYSCTL } from "./sysctl.js";
import { setAcceptRtadv, setNoDad, advertise, ndpR, ndpP, type AdvertiseOptions } from "../admin/rtadv.js";
import { IPFW } from "./ipfw.js";
import { resolveHost, noRouteHint } from "./resolve.js";

export { CommandError } from "./args.js";

/** What a command runs on: a node of a topology, or any named vnet. */
export interface CommandNode {
  readonly name: string;
  readonly vnet: Vnet;
  /** The names a topology gives its interfaces (eth0 for epair3a); commands accept both. */
  interfaces?(): { name: string; iface: Interface }[];
}

export interface CommandsOptions {
  /** Where `capture IF on` writes when it is given no file (default: the platform's temp folder; Node: the OS's). */
  pcapDir?: string;
}

export interface Call {
  kernel: Kernel;
  node: CommandNode;
  vnet: Vnet;
  cmd: string;
  argv: string[];
  /** ^C: a command that waits (ping, traceroute) stops and prints what it has, as BSD's do. */
  signal?: AbortSignal;
  /** Where a long command writes lines as they come (ping's replies); what it returns is the rest. */
  print?: (line: string) => void;
}

export interface Command {
  usage: string;
  summary: string;
  run(c: Call, self: Commands): string | Promise<string>;
}

/** A capture started by `capture IF on`. */
export interface ShellCapture {
  node: string;
  iface: string;
  file: string;
  capture: LiveCapture;
}

/**
 * A failed command: the message is one line. `output` is what it printed before it failed
 * (ping's replies and statistics when none came back), shown above the message.
 */
export class CommandFailed extends CommandError {
  constructor(message: string, readonly output: string) {
    super(message);
  }
}

export class Commands {
  readonly #captures = new Map<string, ShellCapture>();
  readonly pcapDir?: string;

  constructor(readonly kernel: Kernel, opts: CommandsOptions = {}) {
    this.pcapDir = opts.pcapDir;
  }

  /** The command names, sorted (for help and completion). */
  names(): string[] {
    return Object.keys(COMMANDS).sort();
  }

  /** One line per command: usage and what it does. */
  help(cmd?: string): string {
    if (cmd !== undefined) {
      const c = Object.hasOwn(COMMANDS, cmd) ? COMMANDS[cmd] : undefined;
      if (!c) throw new CommandError(`help: no command "${cmd}" (commands: ${this.names().join(", ")})`);
      return `${c.usage}\n  ${c.summary}`;
    }
    return this.names().map((n) => `  ${COMMANDS[n].usage.padEnd(52)} ${COMMANDS[n].summary}`).join("\n");
  }

  /**
   * Run one command line on a node; resolves with its output (possibly ""). Rejects with a
   * CommandError (one line; CommandFailed also carries the output) for anything that failed.
   */
  async exec(node: CommandNode, line: string, opts: { signal?: AbortSignal; print?: (line: string) => void } = {}): Promise<string> {
    const words = tokenize(line);
    if (words.length === 0) return "";
    const [cmd, ...argv] = words;
    const c = Object.hasOwn(COMMANDS, cmd) ? COMMANDS[cmd] : undefined;
    if (!c) throw new CommandError(`${cmd}: unknown command (commands: ${this.names().join(", ")})`);
    if (!node.vnet.alive) throw new CommandError(`${cmd}: node "${node.name}" is gone`);
    try {
      return await c.run({ kernel: this.kernel, node, vnet: node.vnet, cmd, argv, ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.print ? { print: opts.print } : {}) }, this);
    } catch (e) {
      if (e instanceof CommandError) throw e;
      // The host's own errors already say what and where; keep them to one line.
      if (e instanceof WavnetError) throw new CommandError(oneLine(e.message.startsWith(cmd) ? e.message : `${cmd}: ${e.message}`));
      throw new CommandError(`${cmd}: internal error: ${oneLine(e instanceof Error ? e.message : String(e))}`);
    }
  }

  /** Captures running now. */
  captures(): ShellCapture[] {
    return [...this.#captures.values()];
  }

  /** Stop every capture (their files are complete when this resolves). */
  async close(): Promise<void> {
    closeIperfServers(this.kernel);
    const all = [...this.#captures.values()];
    this.#captures.clear();
    await Promise.all(all.map((c) => c.capture.stop()));
  }

  /** @internal */
  startCapture(node: CommandNode, iface: Interface, file: string | undefined): ShellCapture {
    const key = `${node.name}:${iface.name}`;
    if (this.#captures.has(key)) throw new CommandError(`capture: ${iface.name} on ${node.name} is already capturing to ${this.#captures.get(key)!.file}`);
    // Paths and files come from the platform (Node: node:path, node:fs, the OS temp folder).
    const p = platform();
    if (!p.openFile) throw new CommandError(`capture: ${unsupported("a capture to a file").message}`);
    let named = file;
    if (named === undefined) {
      const dir = this.pcapDir ?? p.tempDir?.();
      if (dir === undefined || !p.joinPath) throw new CommandError(`capture: name the file (capture ${iface.name} on FILE): this platform (${p.name}) has no folder for it`);
      named = p.joinPath(dir, `wavnet-${node.name}-${iface.name}.pcap`);
    }
    const path = p.resolvePath ? p.resolvePath(named) : named;
    // The file is opened as the first frame is written: find a bad folder now, not at `off`.
    const no = p.checkWritable?.(path);
    if (no) throw new CommandError(`capture: cannot write in ${no.dir} (${no.reason})`);
    const capture = path.endsWith(".pcapng") ? iface.capture({ pcapng: path }) : iface.capture({ pcap: path });
    const c = { node: node.name, iface: iface.name, file: path, capture };
    this.#captures.set(key, c);
    return c;
  }

  /** @internal */
  async stopCapture(node: CommandNode, ifname: string): Promise<ShellCapture> {
    const key = `${node.name}:${ifname}`;
    const c = this.#captures.get(key);
    if (!c) throw new CommandError(`capture: ${ifname} on ${node.name} is not capturing`);
    this.#captures.delete(key);
    try {
      await c.capture.stop();
    } catch (e) {
      throw new CommandError(`capture: ${ifname}: writing ${c.file} failed: ${(e as Error).message}`);
    }
    return c;
  }
}

function oneLine(s: string): string {
  return s.split("\n")[0];
}

function loaded(kernel: Kernel, module: string): boolean {
  return kernel.kldstat().some((m) => m.name === module);
}

/** Topology names of the node's interfaces, by kernel name. */
function aliases(node: CommandNode): Map<string, string> {
  const m = new Map<string, string>();
  for (const t of node.interfaces?.() ?? []) if (t.iface.alive && t.iface.vnet === node.vnet && t.name !== t.iface.name) m.set(t.iface.name, t.name);
  return m;
}

/** Interface names a user may type on a node: kernel names and topology names. */
export function interfaceNames(node: CommandNode): string[] {
  const kernel = node.vnet.interfaces().map((i) => i.name);
  return [...kernel, ...aliases(node).values()];
}

function iface(c: Call, name: string | undefined): Interface {
  if (name === undefined) throw new CommandError(`${c.cmd}: an interface name is needed`);
  const all = c.vnet.interfaces();
  const found = all.find((i) => i.name === name) ?? all.find((i) => aliases(c.node).get(i.name) === name);
  if (!found) throw new CommandError(`${c.cmd}: ${c.node.name} has no interface ${name} (it has ${interfaceNames(c.node).join(", ")})`);
  return found;
}

function noMore(c: Call, args: string[], usage: string): void {
  if (args.length) throw new CommandError(`${c.cmd}: unexpected ${JSON.stringify(args[0])}; usage: ${usage}`);
}

// ---------------------------------------------------------------------------------------
// ifconfig

function hexMask(plen: number): string {
  return `0x${(maskOf(plen) >>> 0).toString(16).padStart(8, "0")}`;
}

function ifconfigOne(c: Call, i: Interface): string {
  const lines = [`${i.name}: flags=${i.flags.toString(16)}<${flagNames(i.flags)}> mtu ${i.mtu} index ${i.index}`];
  const caps = i.capEnable;
  if (caps !== 0) lines.push(`\toptions=${caps.toString(16)}<${capNames(caps)}>`);
  const alias = aliases(c.node).get(i.name);
  if (alias) lines.push(`\tdescription: ${alias}`);
  if (i.type !== "loopback") lines.push(`\tether ${i.mac}`);
  if (loaded(c.kernel, "inet")) {
    for (const a of addresses(c.kernel, i)) {
      lines.push(`\tinet ${a.address} netmask ${hexMask(a.prefixLength)}${a.broadcast ? ` broadcast ${a.broadcast}` : ""}`);
    }
  }
  if (loaded(c.kernel, "inet6")) lines.push(...ifconfigInet6Lines(c.kernel, i));
  if (loaded(c.kernel, "if_epair") && i.type === "ether" && /^epair/.test(i.name)) {
    const peer = i.peer;
    lines.push(`\tpeer ${peer.vnet.name}:${peer.name}${formatConditions(i.conditions()) ? `, conditions ${formatConditions(i.conditions())}` : ""}`);
  }
  // A bridge: its table parameters, members with their counters, forwarding counters.
  if (i.type === "bridge" && loaded(c.kernel, "if_bridge")) lines.push(...bridgeText(c.kernel, i).split("\n").slice(2));
  const s = i.counters();
  lines.push(`\tinput ${s.ipackets} packets ${s.ibytes} bytes ${s.ierrors} errors ${s.iqdrops} drops`);
  lines.push(`\toutput ${s.opackets} packets ${s.obytes} bytes ${s.oerrors} errors ${s.oqdrops} drops`);
  return lines.join("\n");
}

const IFCONFIG_USAGE = "ifconfig [-a | -l | IF [up] [down] [mtu N] [inet A/P [alias | -alias]] [inet6 A/P [alias | -alias]] [inet6 [-]accept_rtadv | [-]no_dad] [promisc | -promisc] [[-]rxcsum | [-]txcsum | [-]tso4 | [-]rxcsum6 | [-]txcsum6 | [-]tso6 | [-]tso] | BRIDGE [addr] [mdb] [addm IF] [deletem IF] [[-]mldsnoop]]";

function ifconfig(c: Call): string {
  const { opts, args } = getopt(c.cmd, c.argv, "al", IFCONFIG_USAGE);
  if (opts.has("l")) {
    noMore(c, args, IFCONFIG_USAGE);
    return c.vnet.interfaces().map((i) => i.name).join(" ");
  }
  if (args.length === 0) return c.vnet.interfaces().map((i) => ifconfigOne(c, i)).join("\n");
  const i = iface(c, args[0]);
  if (args.length === 1) return ifconfigOne(c, i);
  // Actions in order, as ifconfig applies them: `ifconfig epair0a inet 10.0.0.1/24 up`.
  const w = args.slice(1);
  for (let k = 0; k < w.length; k++) {
    const word = w[k];
    switch (word) {
      case "up":
        i.setUp(true);
        break;
      case "down":
        i.setUp(false);
        break;
      case "promisc":
      case "-promisc":
        i.setPromisc(word === "promisc");
        break;
      case "rxcsum": case "-rxcsum": case "txcsum": case "-txcsum": case "rxcsum6": case "-rxcsum6":
      case "txcsum6": case "-txcsum6": case "tso": case "-tso": case "tso4": case "-tso4": case "tso6": case "-tso6": {
        // FreeBSD ifconfig(8) offload words; bits the driver lacks are ignored, as there.
        const bits = IFCAP_WORDS[word.replace(/^-/, "")];
        i.setCapEnable(word.startsWith("-") ? i.capEnable & ~bits : (i.capEnable | bits) & i.capabilities);
        break;
      }
      case "mtu": {
        if (k + 1 >= w.length) throw new CommandError(`ifconfig: mtu needs a value; usage: ${IFCONFIG_USAGE}`);
        i.setMtu(number("ifconfig", "mtu", w[++k], 72, 65535));
        break;
      }
      case "inet": {
        const a = w[++k];
        if (a === undefined) throw new CommandError(`ifconfig: inet needs an address such as 10.0.0.1/24; usage: ${IFCONFIG_USAGE}`);
        const next = w[k + 1];
        if (next === "-alias" || next === "delete") {
          k++;
          delAddress(c.kernel, i, a);
        } else {
          if (next === "alias") k++;
          if (!a.includes("/")) throw new CommandError(`ifconfig: inet ${a}: give the prefix length, e.g. ${a}/24`);
          addAddress(c.kernel, i, a);
        }
        break;
      }
      case "inet6": {
        const a = w[++k];
        if (a === undefined) throw new CommandError(`ifconfig: inet6 needs an address such as fd00::1/64; usage: ${IFCONFIG_USAGE}`);
        // FreeBSD's per-interface ND flags (ifconfig(8) inet6 accept_rtadv, no_dad).
        if (a === "accept_rtadv" || a === "-accept_rtadv") {
          setAcceptRtadv(c.kernel, i, a === "accept_rtadv");
          break;
        }
        if (a === "no_dad" || a === "-no_dad") {
          setNoDad(c.kernel, i, a === "no_dad");
          break;
        }
        if (!isIPv6Text(a)) throw new CommandError(`ifconfig: inet6 ${a}: not an IPv6 address`);
        const next = w[k + 1];
        if (next === "-alias" || next === "delete") {
          k++;
          delAddress6(c.kernel, i, a);
        } else {
          if (next === "alias") k++;
          // FreeBSD's default prefix length for inet6 is 64.
          addAddress6(c.kernel, i, a.includes("/") ? a : `${a}/64`);
        }
        break;
      }
      case "mldsnoop":
      case "-mldsnoop":
        if (i.type !== "bridge") throw new CommandError(`ifconfig: ${word} is for bridges; ${i.name} is not one`);
        bridgeMldSnoop(c.kernel, i, word === "mldsnoop");
        break;
      case "mdb":
        if (i.type !== "bridge") throw new CommandError(`ifconfig: ${word} is for bridges; ${i.name} is not one`);
        return bridgeMdb(c.kernel, i).map((e) => `${e.mac} ${e.port} ${e.expiresInS}`).join("\n");
      case "addr":
      case "addm":
      case "deletem": {
        if (i.type !== "bridge") throw new CommandError(`ifconfig: ${word} is for bridges; ${i.name} is not one`);
        if (word === "addr") return bridgeAddrText(c.kernel, i);
        const m = iface(c, w[++k]);
        if (word === "addm") bridgeAdd(c.kernel, i, m);
        else bridgeDel(c.kernel, i, m);
        break;
      }
      default:
        throw new CommandError(`ifconfig: unknown parameter ${JSON.stringify(word)}; usage: ${IFCONFIG_USAGE}`);
    }
  }
  return "";
}

// ---------------------------------------------------------------------------------------
// route, netstat, arp, sockstat

const ROUTE_USAGE = "route [-6] add DEST GATEWAY [-weight N] | route [-6] add DEST -iface IF | route [-6] delete DEST [GATEWAY] | route [-6] get DEST | route [-6] show";

/** "fe80::1%eth0" with the node's topology name for the link -> the kernel's interface name. */
function zoned(c: Call, a: string): string {
  const { address, zone: z } = splitZone(a);
  if (z === undefined) return a;
  const found = c.vnet.interfaces().find((i) => i.name === z) ?? c.vnet.interfaces().find((i) => aliases(c.node).get(i.name) === z);
  return found ? `${address}%${found.name}` : a;
}

/** What `route` needs of one address family. */
interface RouteFamily {
  add(dst: string, via: { gateway: string; weight?: number } | { iface: Interface }): void;
  del(dst: string, gateway?: string): void;
  get(dst: string): { destination: string; prefixLength: number; gateway?: string; iface: Interface; flags: string; source?: string; use: number } | undefined;
  show(): string;
  /** A gateway or destination word as the family's calls take it (IPv6: %zone resolved). */
  word(w: string): string;
  /** route get's destination and prefix lines. */
  dstLines(r: { destination: string; prefixLength: number }): string[];
}

function routeFamily(c: Call, six: boolean): RouteFamily {
  const bare = (d: string) => d.replace(/\/\d+$/, "");
  if (six) {
    return {
      add: (dst, via) => addRoute6(c.kernel, c.vnet, dst, via),
      del: (dst, gw) => delRoute6(c.kernel, c.vnet, dst, gw),
      get: (dst) => routeGet6(c.kernel, c.vnet, dst),
      show: () => netstatRn6(c.kernel, c.vnet),
      word: (w) => zoned(c, w),
      dstLines: (r) => [`destination: ${r.destination === "default" ? "::" : bare(r.destination)}`, `     prefixlen: ${r.prefixLength}`],
    };
  }
  return {
    add: (dst, via) => addRoute(c.kernel, c.vnet, dst, via),
    del: (dst, gw) => delRoute(c.kernel, c.vnet, dst, gw),
    get: (dst) => routeGet(c.kernel, c.vnet, dst),
    show: () => netstatRn(c.kernel, c.vnet),
    word: (w) => w,
    dstLines: (r) => [`destination: ${r.destination === "default" ? "default" : bare(r.destination)}`, `       mask: ${formatMask(r.prefixLength)}`],
  };
}

function route(c: Call): string {
  const words = c.argv.filter((w) => w !== "-n" && w !== "-net" && w !== "-host");
  const six = words.includes("-6") || words.includes("-inet6");
  const [verb, ...rest] = words.filter((w) => w !== "-6" && w !== "-inet6" && w !== "-4" && w !== "-inet");
  // A node's name for the gateway (route add default r1) or the destination of route get.
  const named = (w: string | undefined) => w !== undefined && w !== "default" && c.kernel.vnets().some((v) => v.name === w);
  const fam = six ? 6 : words.includes("-4") || words.includes("-inet") ? 4 : undefined;
  if ((verb === "add" || verb === "change") && named(rest[1])) rest[1] = resolveHost(c, rest[1]!, fam ?? (isIPv6Text(rest[0]) ? 6 : undefined)).address;
  if (verb === "get" && named(rest[0])) rest[0] = resolveHost(c, rest[0]!, fam).address;
  // IPv6 when asked (-6), or when the destination or gateway is IPv6 text.
  const f = routeFamily(c, six || rest.slice(0, 2).some((w) => isIPv6Text(w)));
  switch (verb) {
    case "add":
    case "change": {
      if (rest.length < 2) throw new CommandError(`route: ${verb} needs a destination and a gateway; usage: ${ROUTE_USAGE}`);
      const [dst, via, third] = rest;
      if (verb === "change") f.del(dst);
      if (via === "-iface" || via === "-interface") {
        if (third === undefined) throw new CommandError(`route: -iface needs an interface name; usage: ${ROUTE_USAGE}`);
        noMore(c, rest.slice(3), ROUTE_USAGE);
        f.add(dst, { iface: iface(c, third) });
      } else if (third === "-weight") {
        // Another path's share when dst has several (net.route.multipath).
        const w = rest[3] !== undefined && /^\d+$/.test(rest[3]) ? Number(rest[3]) : NaN;
        if (!(w >= 1 && w <= 0xffffff)) throw new CommandError(`route: -weight needs an integer from 1 to 16777215; usage: ${ROUTE_USAGE}`);
        noMore(c, rest.slice(4), ROUTE_USAGE);
        f.add(dst, { gateway: f.word(via), weight: w });
      } else {
        noMore(c, rest.slice(2), ROUTE_USAGE);
        f.add(dst, { gateway: f.word(via) });
      }
      return `${verb} net ${dst}: gateway ${via === "-iface" || via === "-interface" ? third : via}`;
    }
    case "delete":
    case "del": {
      if (rest.length !== 1 && rest.length !== 2) throw new CommandError(`route: delete needs a destination (and the gateway of one of several paths); usage: ${ROUTE_USAGE}`);
      f.del(rest[0], rest[1] !== undefined ? f.word(rest[1]) : undefined);
      return `delete net ${rest[0]}${rest[1] !== undefined ? `: gateway ${rest[1]}` : ""}`;
    }
    case "get": {
      if (rest.length !== 1) throw new CommandError(`route: get needs one destination; usage: ${ROUTE_USAGE}`);
      const r = f.get(f.word(rest[0]));
      if (!r) throw new CommandError(`route: get ${rest[0]}: not in table`);
      return [
        `   route to: ${rest[0]}`,
        ...f.dstLines(r),
        ...(r.gateway ? [`    gateway: ${r.gateway}`] : []),
        `  interface: ${r.iface.name}`,
        `      flags: <${r.flags.split("").map((fl) => ROUTE_FLAGS[fl] ?? fl).join(",")}>`,
        ...(r.source ? [`     source: ${r.source}`] : []),
        `        use: ${r.use}`,
      ].join("\n");
    }
    case "show":
    case undefined:
      return f.show();
    default:
      throw new CommandError(`route: unknown verb ${JSON.stringify(verb)}; usage: ${ROUTE_USAGE}`);
  }
}

const ROUTE_FLAGS: Record<string, string> = { U: "UP", G: "GATEWAY", H: "HOST", S: "STATIC" };

function formatMask(plen: number): string {
  const m = maskOf(plen) >>> 0;
  return [24, 16, 8, 0].map((s) => (m >>> s) & 0xff).join(".");
}

const NETSTAT_USAGE = "netstat -rn [-f inet|inet6] | -an | -i | -s [-p ip|icmp|arp|udp|tcp|ip6|icmp6|mld]";
const NETSTAT_PROTOS = ["ip", "icmp", "arp", "udp", "tcp", "ip6", "icmp6", "mld"] as const;
const PROTO_MODULE: Record<string, string> = { ip: "inet", icmp: "inet", arp: "inet", ip6: "inet6", icmp6: "inet6", mld: "inet6" };

function bsdAddr(sa: SockAddr | undefined): string {
  if (!sa || (sa.family !== "inet" && sa.family !== "inet6")) return "*.*";
  return `${sa.address === "0.0.0.0" || sa.address === "::" ? "*" : sa.address}.${sa.port === 0 ? "*" : sa.port}`;
}

function netstat(c: Call): string {
  const { opts, args } = getopt(c.cmd, c.argv, "ranisp:f:W", NETSTAT_USAGE);
  noMore(c, args, NETSTAT_USAGE);
  const f = opts.get("f");
  if (f !== undefined && f !== "inet" && f !== "inet6") throw new CommandError(`netstat: unknown address family ${JSON.stringify(f)} (inet or inet6)`);
  if (f !== undefined && !loaded(c.kernel, f)) throw new CommandError(`netstat: address family ${f} is not in this kernel (no ${f} module)`);
  if (opts.has("r")) {
    if (f === "inet6") return netstatRn6(c.kernel, c.vnet);
    if (f === "inet") return netstatRn(c.kernel, c.vnet);
    // Both families, as FreeBSD prints them.
    const parts: string[] = [];
    if (loaded(c.kernel, "inet")) parts.push(netstatRn(c.kernel, c.vnet));
    if (loaded(c.kernel, "inet6")) parts.push(netstatRn6(c.kernel, c.vnet).replace(/^Routing tables\n\n/, parts.length ? "" : "Routing tables\n\n"));
    return parts.join("\n\n");
  }
  if (opts.has("i")) return c.vnet.netstatI();
  if (opts.has("s")) {
    const p = opts.get("p");
    if (p !== undefined && !(NETSTAT_PROTOS as readonly string[]).includes(p as string)) {
      throw new CommandError(`netstat: unknown protocol ${JSON.stringify(p)} (known: ${NETSTAT_PROTOS.join(", ")})`);
    }
    const want = p === undefined ? NETSTAT_PROTOS.filter((x) => loaded(c.kernel, PROTO_MODULE[x] ?? x)) : [p as (typeof NETSTAT_PROTOS)[number]];
    return want
      .map((x) => (x === "tcp" ? netstatSTcp(c.kernel, c.vnet) : x === "ip6" || x === "icmp6" ? netstatS6(c.kernel, c.vnet, x) : x === "mld" ? netstatSMld(c.kernel, c.vnet) : netstatS(c.kernel, c.vnet, x)))
      .join("\n");
  }
  if (opts.has("a") || opts.size === 0 || (opts.size === 1 && opts.has("n"))) {
    // TCP from its control blocks (including TIME_WAIT ones without a socket); UDP from the socket list.
    const rows: (string | number)[][] = [];
    const p = opts.get("p");
    if (loaded(c.kernel, "tcp") && (p === undefined || p === "tcp")) {
      for (const t of tcpConnections(c.kernel, c.vnet)) {
        if (!opts.has("a") && t.state === "LISTEN") continue;
        const f = t.family;
        rows.push([tcpProto(t), t.recvQ, t.sendQ, bsdAddr({ family: f, address: t.local, port: t.localPort }), bsdAddr({ family: f, address: t.foreign, port: t.foreignPort }), t.state]);
      }
    }
    if (p === undefined || p === "udp") {
      for (const s of sockstat(c.kernel, c.vnet)) {
        if (s.type !== "dgram" || (s.family !== "inet" && s.family !== "inet6")) continue;
        if (!opts.has("a") && !s.foreign) continue;
        rows.push([s.family === "inet6" ? "udp6" : "udp4", s.recvQ, s.sendQ, bsdAddr(s.local), bsdAddr(s.foreign), ""]);
      }
    }
    const title = opts.has("a") ? "Active Internet connections (including servers)" : "Active Internet connections";
    return `${title}\n${formatTable(["Proto", "Recv-Q", "Send-Q", "Local Address", "Foreign Address", "(state)"], rows)}`;
  }
  throw new CommandError(`netstat: nothing to show for these options; usage: ${NETSTAT_USAGE}`);
}

const ARP_USAGE = "arp -a [-n]";

function arp(c: Call): string {
  const { opts, args } = getopt(c.cmd, c.argv, "an", ARP_USAGE);
  noMore(c, args, ARP_USAGE);
  if (!opts.has("a")) throw new CommandError(`arp: only the whole table is shown here; usage: ${ARP_USAGE}`);
  return arpAn(c.kernel, c.vnet);
}

const NDP_USAGE = "ndp -a [-n] | ndp -d ADDRESS | ndp -s ADDRESS MAC | ndp -r | ndp -p";

function ndp(c: Call): string {
  const { opts, args } = getopt(c.cmd, c.argv, "and:srp", NDP_USAGE);
  if (opts.has("r") || opts.has("p")) {
    noMore(c, args, NDP_USAGE);
    // -r: the default router list; -p: the prefix list (router discovery, docs/slaac.md).
    return opts.has("r") ? ndpR(c.kernel, c.vnet) : ndpP(c.kernel, c.vnet);
  }
  if (opts.has("s")) {
    // ndp -s ADDRESS MAC: a static entry (FreeBSD's ndp(8) -s), listed as permanent.
    if (args.length !== 2) throw new CommandError(`ndp -s: give an address and a MAC; usage: ${NDP_USAGE}`);
    ndpAdd(c.kernel, c.vnet, zoned(c, args[0]), args[1]);
    return "";
  }
  if (opts.has("d")) {
    noMore(c, args, NDP_USAGE);
    const a = opts.get("d") as string;
    ndpDelete(c.kernel, c.vnet, zoned(c, a));
    // ndp(8) prints the host name and the address; the shell resolves no names.
    return `${a} (${a}) deleted`;
  }
  noMore(c, args, NDP_USAGE);
  if (!opts.has("a")) throw new CommandError(`ndp: show the whole table with -a, or delete with -d; usage: ${NDP_USAGE}`);
  return ndpAn(c.kernel, c.vnet);
}

const SOCKSTAT_USAGE = "sockstat [-4 | -6] [-l | -c]";

function sockstatCmd(c: Call): string {
  const { opts, args } = getopt(c.cmd, c.argv, "46lc", SOCKSTAT_USAGE);
  noMore(c, args, SOCKSTAT_USAGE);
  let rows = sockstat(c.kernel, c.vnet);
  // -4 / -6: one family (both flags, or neither: every socket).
  if (opts.has("4") !== opts.has("6")) rows = rows.filter((r) => r.family === (opts.has("6") ? "inet6" : "inet"));
  if (opts.has("l")) rows = rows.filter((r) => r.state.includes("LISTEN"));
  if (opts.has("c")) rows = rows.filter((r) => r.foreign !== undefined);
  return formatSockstat(rows);
}

// ---------------------------------------------------------------------------------------
// ping, traceroute

/** A prober's result, or on ^C the part it had (ping's statistics over the probes sent, traceroute's hops done). */
async function interruptible<R>(c: Call, p: Promise<R>): Promise<R> {
  try {
    return await p;
  } catch (e) {
    if (c.signal?.aborted && e instanceof AbortError && e.partial !== undefined) return e.partial as R;
    throw e;
  }
}

const PING_USAGE = "ping [-4 | -6] [-c count] [-i wait_s] [-s size] [-m ttl] [-t timeout_s] [-W waittime_ms] [-D] [-q] host|node";

/** -4 / -6 (ping6 and traceroute6: 6). */
function familyOpt(c: Call, opts: Map<string, string | true>): 4 | 6 | undefined {
  if (opts.has("4") && opts.has("6")) throw new CommandError(`${c.cmd}: -4 and -6 exclude each other`);
  if (c.cmd.endsWith("6")) {
    if (opts.has("4")) throw new CommandError(`${c.cmd}: -4 is for ${c.cmd.slice(0, -1)}`);
    return 6;
  }
  return opts.has("4") ? 4 : opts.has("6") ? 6 : undefined;
}

async function pingCmd(c: Call): Promise<string> {
  const { opts, args } = getopt(c.cmd, c.argv, "c:i:s:m:t:W:Dq46", PING_USAGE);
  if (args.length !== 1) throw new CommandError(`${c.cmd}: ${args.length ? "one destination only" : "a destination is needed"}; usage: ${PING_USAGE}`);
  const o = (k: string) => opts.get(k) as string | undefined;
  const intervalMs = o("i") !== undefined ? number("ping", "-i (seconds between requests)", o("i")!, 0, 3600, false) * 1000 : 1000;
  let count = o("c") !== undefined ? number("ping", "-c (count)", o("c")!, 1, 65536) : 4;
  let timeoutMs = o("W") !== undefined ? number("ping", "-W (ms to wait for a reply)", o("W")!, 0, 3_600_000) : 2000;
  if (o("t") !== undefined) {
    // FreeBSD's -t: stop after this many seconds whatever came back.
    // Without -c, as many requests as fit in the time; with -c, no more than that.
    const budget = number("ping", "-t (timeout, seconds)", o("t")!, 1, 3600) * 1000;
    const fit = intervalMs > 0 ? Math.min(65536, Math.ceil(budget / intervalMs)) : count;
    count = o("c") !== undefined ? Math.min(count, fit) : fit;
    timeoutMs = Math.max(0, Math.min(timeoutMs, budget - (count - 1) * intervalMs));
  }
  const dst = resolveHost(c, args[0], familyOpt(c, opts));
  const six = dst.family === 6;
  // BSD's first line names the host as typed: "PING h2 (10.0.0.2): 56 data bytes"; -q keeps only the statistics.
  const shown = (t: string) => {
    let x = dst.node !== undefined && !six ? t.replace(/^PING [^ ]+ \(/, `PING ${dst.node} (`) : t;
    if (opts.has("q")) x = x.split("\n").filter((l) => !/ bytes from |icmp_seq=/.test(l)).join("\n");
    return x;
  };
  // Streaming: each line printed as it comes; what is returned is what was not printed.
  let streamed = 0;
  const onLine = c.print && ((l: string) => {
    streamed++;
    const t = shown(l);
    if (t !== "") c.print!(t);
  });
  const r = await interruptible(c, ping(c.kernel, c.vnet, zoned(c, dst.address), {
    ...(onLine ? { onLine } : {}),
    count,
    intervalMs,
    timeoutMs,
    size: o("s") !== undefined ? number(c.cmd, "-s (data bytes)", o("s")!, 0, six ? 65527 : 65507) : undefined,
    ttl: o("m") !== undefined ? number("ping", "-m (ttl)", o("m")!, 1, 255) : undefined,
    dontFragment: opts.has("D"),
    ...(c.signal ? { signal: c.signal } : {}),
  }));
  const text = shown(r.text.split("\n").slice(streamed).join("\n"));
  if (r.received === 0) {
    const hint = /sendto: E(HOST|NET)UNREACH/.test(r.text) ? noRouteHint(c, dst.address) : undefined;
    throw new CommandFailed(hint ? `${c.cmd}: ${hint}` : `${c.cmd}: no reply from ${args[0]} (${r.transmitted} sent)`, text);
  }
  return text;
}

const TRACEROUTE_USAGE = "traceroute [-4 | -6] [-I] [-n] [-m max_ttl] [-q nqueries] [-w wait_s] host|node";

async function tracerouteCmd(c: Call): Promise<string> {
  const { opts, args } = getopt(c.cmd, c.argv, "Inm:q:w:46", TRACEROUTE_USAGE);
  if (args.length !== 1) throw new CommandError(`${c.cmd}: ${args.length ? "one destination only" : "a destination is needed"}; usage: ${TRACEROUTE_USAGE}`);
  const o = (k: string) => opts.get(k) as string | undefined;
  const dst = resolveHost(c, args[0], familyOpt(c, opts));
  let streamed = 0;
  const onLine = c.print && ((l: string) => {
    streamed++;
    c.print!(l);
  });
  try {
    const r = await interruptible(c, traceroute(c.kernel, c.vnet, zoned(c, dst.address), {
      ...(onLine ? { onLine } : {}),
      maxHops: o("m") !== undefined ? number("traceroute", "-m (max ttl)", o("m")!, 1, 255) : undefined,
      queries: o("q") !== undefined ? number("traceroute", "-q (queries)", o("q")!, 1, 10) : undefined,
      timeoutMs: o("w") !== undefined ? number("traceroute", "-w (seconds)", o("w")!, 0, 86400, false) * 1000 : undefined,
      ...(c.signal ? { signal: c.signal } : {}),
    }));
    return r.text.split("\n").slice(streamed).join("\n");
  } catch (e) {
    const hint = /E(HOST|NET)UNREACH/.test((e as Error).message) ? noRouteHint(c, dst.address) : undefined;
    if (hint) throw new CommandError(`${c.cmd}: ${hint}`);
    throw e;
  }
}

// ---------------------------------------------------------------------------------------
// Kernel: vmstat -z, kld*, sysctl

function vmstat(c: Call): string {
  const { opts, args } = getopt(c.cmd, c.argv, "z", "vmstat -z");
  noMore(c, args, "vmstat -z");
  if (!opts.has("z")) throw new CommandError("vmstat: only -z (zones) is here; usage: vmstat -z");
  return c.kernel.formatVmstatZ(c.vnet);
}

function kldstat(c: Call): string {
  const { opts, args } = getopt(c.cmd, c.argv, "v", "kldstat [-v]");
  noMore(c, args, "kldstat");
  if (!opts.has("v")) {
    return formatTable(
      ["Id", "Refs", "Name", "Sysinits", "Depends"],
      c.kernel.kldstat().map((m) => [m.id, m.refs, m.name, m.sysinits, m.depends.join(",") || "-"]),
    );
  }
  // -v: each module's teardown state and what it still holds; modules unloaded since, "gone".
  const n = (x: number | undefined) => (x === undefined ? "-" : x);
  return formatTable(
    ["Id", "Name", "State", "Conns", "Listen", "Sockets", "Items", "Zones", "Callouts", "Table"],
    c.kernel.kldstat({ verbose: true }).map((m) => [
      m.id, m.name, m.state, n(m.connections), n(m.listeners), m.sockets, m.items, m.zones, m.callouts,
      m.state === "gone" ? (m.tableNulled ? "nulled" : "LIVE") : "live",
    ]),
  );
}

/** One checkpoint of an unload as kldunload -f prints it. */
function checkpointLine(cp: KldCheckpoint): string {
  const parts = [
    ...(cp.connections !== undefined ? [`${cp.connections} connections`, `${cp.listeners} listeners`] : []),
    `${cp.sockets} sockets`, `${cp.items} items`, `${cp.zones} zones`, `${cp.callouts} callouts`,
    ...(cp.tableNulled !== undefined ? [cp.tableNulled ? "table nulled" : "table NOT nulled"] : []),
  ];
  return `${cp.name}: ${cp.state}: ${parts.join(", ")}`;
}

async function kldload(c: Call): Promise<string> {
  if (c.argv.length !== 1) throw new CommandError("kldload: usage: kldload MODULE");
  await c.kernel.kldload(c.argv[0]);
  return "";
}

function kldunload(c: Call): string {
  const usage = "kldunload [-f [-d]] [-s] MODULE";
  const { opts, args } = getopt(c.cmd, c.argv, "fds", usage);
  if (args.length !== 1) throw new CommandError(`kldunload: usage: ${usage}`);
  if (opts.has("s")) {
    // The first checkpoint alone: the module refuses new work and stays loaded.
    c.kernel.kldstop(args[0]);
    return "";
  }
  if (opts.has("d") && !opts.has("f")) throw new CommandError("kldunload: -d (dependents first) goes with -f");
  const lines: string[] = [];
  const force = opts.has("f");
  c.kernel.kldunload(args[0], { force, dependents: opts.has("d"), onCheckpoint: force ? (cp) => lines.push(checkpointLine(cp)) : undefined });
  return lines.join("\n");
}

// ---------------------------------------------------------------------------------------
// link conditions

const LINK_USAGE = "link [IF [clear | [delay T] [jitter T] [loss P] [duplicate P] [reorder P] [rate R] [limit N] [both]]]";

const CONDITION_WORDS: Record<string, keyof LinkConditions> = {
  delay: "delayUs", jitter: "jitterUs", loss: "loss", duplicate: "duplicate", reorder: "reorder", rate: "rateBps", limit: "queueLimit",
};

function epairEnd(c: Call, name: string): Interface {
  const i = iface(c, name);
  if (!loaded(c.kernel, "if_epair") || i.type !== "ether" || !/^epair/.test(i.name)) {
    throw new CommandError(`link: ${name} is not an epair end (conditions live on epair links)`);
  }
  return i;
}

function linkShow(i: Interface): string {
  const s = i.linkStats();
  const cond = formatConditions(i.conditions()) || "none";
  return `${i.name} -> ${i.peer.vnet.name}:${i.peer.name}: ${cond}\n\tsent ${s.sent} delivered ${s.delivered} lost ${s.lost} duplicated ${s.duplicated} reordered ${s.reordered} queue drops ${s.queueDrops} dropped ${s.dropped} on the link ${s.queued}`;
}

function link(c: Call): string {
  if (c.argv.length === 0) {
    const ends = c.vnet.interfaces().filter((i) => i.type === "ether" && /^epair/.test(i.name));
    return ends.length ? ends.map(linkShow).join("\n") : `${c.node.name} has no epair links`;
  }
  const i = epairEnd(c, c.argv[0]);
  const w = c.argv.slice(1);
  if (w.length === 0 || (w.length === 1 && w[0] === "show")) return linkShow(i);
  const both = w[w.length - 1] === "both";
  if (both) w.pop();
  const ends = both ? [i, i.peer] : [i];
  if (w.length === 1 && w[0] === "clear") {
    for (const e of ends) e.clearConditions();
    return ends.map(linkShow).join("\n");
  }
  // Only the conditions named change: `link epair0a loss 5%` keeps a delay set earlier.
  const set: LinkConditions = {};
  for (let k = 0; k < w.length; k += 2) {
    const key = CONDITION_WORDS[w[k]];
    if (!key) throw new CommandError(`link: unknown condition ${JSON.stringify(w[k])}; usage: ${LINK_USAGE}`);
    const v = w[k + 1];
    if (v === undefined) throw new CommandError(`link: ${w[k]} needs a value; usage: ${LINK_USAGE}`);
    if (key === "delayUs" || key === "jitterUs") set[key] = v === "0" || v === "off" ? 0 : duration("link", w[k], v);
    else if (key === "rateBps") set[key] = v === "0" || v === "off" ? 0 : rate("link", w[k], v);
    else if (key === "queueLimit") set[key] = number("link", "limit (frames)", v, 1, 1_000_000);
    else set[key] = v === "off" ? 0 : probability("link", w[k], v);
  }
  for (const e of ends) e.setConditions({ ...e.conditions(), ...set });
  return ends.map(linkShow).join("\n");
}

// ---------------------------------------------------------------------------------------
// capture

const CAPTURE_USAGE = "capture [IF on [FILE.pcap | FILE.pcapng] | IF off]";

async function capture(c: Call, self: Commands): Promise<string> {
  if (c.argv.length === 0) {
    const mine = self.captures().filter((x) => x.node === c.node.name);
    return mine.length ? mine.map((x) => `${x.iface}: ${x.capture.frames} frames so far, ${x.capture.drops} dropped -> ${x.file}`).join("\n") : `${c.node.name}: no captures running`;
  }
  const [name, verb, file, ...rest] = c.argv;
  noMore(c, rest, CAPTURE_USAGE);
  if (verb === "on") {
    const x = self.startCapture(c.node, iface(c, name), file);
    return `capturing on ${x.iface} to ${x.file}`;
  }
  if (verb === "off") {
    noMore(c, file === undefined ? [] : [file], CAPTURE_USAGE);
    const x = await self.stopCapture(c.node, iface(c, name).name);
    return `${x.iface}: ${x.capture.frames} frames captured, ${x.capture.drops} dropped, written to ${x.file}`;
  }
  throw new CommandError(`capture: say on or off after the interface; usage: ${CAPTURE_USAGE}`);
}

const RTADVD_USAGE = "rtadvd IF [PREFIX/LEN ...] [mtu N] [maxinterval S] [mininterval S] [lifetime S] | rtadvd -d IF";

/** rtadvd: router advertisements on an interface (FreeBSD's daemon; here the kernel sends them). */
function rtadvd(c: Call): string {
  const { opts, args } = getopt(c.cmd, c.argv, "d", RTADVD_USAGE);
  if (args.length === 0) throw new CommandError(`rtadvd: name the interface; usage: ${RTADVD_USAGE}`);
  const i = iface(c, args[0]);
  if (opts.has("d")) {
    noMore(c, args.slice(1), RTADVD_USAGE);
    advertise(c.kernel, i, false);
    return `${i.name}: advertising stopped (a last RA with router lifetime 0 went out)`;
  }
  const o: AdvertiseOptions = { prefixes: [] };
  const w = args.slice(1);
  for (let k = 0; k < w.length; k++) {
    const word = w[k];
    const val = (lo: number, hi: number) => {
      if (k + 1 >= w.length) throw new CommandError(`rtadvd: ${word} needs a value; usage: ${RTADVD_USAGE}`);
      return number("rtadvd", word, w[++k], lo, hi);
    };
    if (word === "mtu") o.mtu = val(1280, 65535);
    else if (word === "maxinterval") o.maxInterval = val(4, 1800);
    else if (word === "mininterval") o.minInterval = val(3, 1350);
    else if (word === "lifetime") o.routerLifetime = val(0, 9000);
    else if (word.includes("/") && isIPv6Text(word.split("/")[0])) o.prefixes!.push({ prefix: word });
    else throw new CommandError(`rtadvd: unknown parameter ${JSON.stringify(word)}; usage: ${RTADVD_USAGE}`);
  }
  advertise(c.kernel, i, o);
  return "";
}

const IFMCSTAT_USAGE = "ifmcstat [-i IF]";

function ifmcstatCmd(c: Call): string {
  const { opts, args } = getopt(c.cmd, c.argv, "i:", IFMCSTAT_USAGE);
  noMore(c, args, IFMCSTAT_USAGE);
  if (!loaded(c.kernel, "inet6")) throw new CommandError("ifmcstat: this kernel has no IPv6 (no inet6 module)");
  const only = opts.get("i");
  return ifmcstat(c.kernel, c.vnet, only === undefined ? undefined : iface(c, only as string).name);
}

// ---------------------------------------------------------------------------------------

const COMMANDS: Record<string, Command> = {
  ifconfig: { usage: IFCONFIG_USAGE, summary: "interfaces: list, show one, up/down, mtu, inet and inet6 addresses", run: ifconfig },
  route: { usage: ROUTE_USAGE, summary: "the routing tables (-6: IPv6)", run: route },
  netstat: { usage: NETSTAT_USAGE, summary: "routes, connections, interface counters, protocol statistics", run: netstat },
  sockstat: { usage: SOCKSTAT_USAGE, summary: "open sockets", run: sockstatCmd },
  arp: { usage: ARP_USAGE, summary: "the ARP table", run: arp },
  ping: { usage: PING_USAGE, summary: "ICMP echo (fails when no reply comes back)", run: pingCmd },
  ping6: { usage: PING_USAGE.replace(/^ping/, "ping6"), summary: "ICMPv6 echo (fails when no reply comes back)", run: pingCmd },
  ndp: { usage: NDP_USAGE, summary: "the IPv6 neighbour cache (-r: default routers, -p: prefixes)", run: ndp },
  ifmcstat: { usage: IFMCSTAT_USAGE, summary: "the IPv6 multicast groups each interface listens to (MLD)", run: ifmcstatCmd },
  rtadvd: { usage: RTADVD_USAGE, summary: "IPv6 router advertisements on an interface (prefixes for SLAAC hosts)", run: rtadvd },
  traceroute: { usage: TRACEROUTE_USAGE, summary: "the path to a host (ICMP probes)", run: tracerouteCmd },
  traceroute6: { usage: TRACEROUTE_USAGE.replace(/^traceroute/, "traceroute6"), summary: "the path to an IPv6 host (ICMPv6 probes)", run: tracerouteCmd },
  vmstat: { usage: "vmstat -z", summary: "the node's zones: items in use, limits, failures", run: vmstat },
  kldstat: { usage: "kldstat [-v]", summary: "loaded modules (kernel-wide); -v: teardown state and what each holds", run: kldstat },
  kldload: { usage: "kldload MODULE", summary: "load a module into the kernel (every node)", run: kldload },
  kldunload: { usage: "kldunload [-f [-d]] [-s] MODULE", summary: "unload a module from the kernel (every node); -f force, -d dependents first, -s stop new work only", run: kldunload },
  sysctl: SYSCTL,
  ipfw: IPFW,
  link: { usage: LINK_USAGE, summary: "conditions of frames an epair end sends (both: and its peer)", run: link },
  capture: { usage: CAPTURE_USAGE, summary: "capture an interface to a pcap/pcapng file", run: capture },
  iperf: { usage: IPERF_USAGE, summary: "throughput to another node, iperf3's reports (-s: a server in the background)", run: (c) => iperf({ kernel: c.kernel, vnet: c.vnet, node: c.node.name, argv: c.argv, signal: c.signal }) },
  curl: { usage: CURL_USAGE, summary: "fetch a URL over HTTP/1.1 from this node", run: (c) => curl({ kernel: c.kernel, vnet: c.vnet, node: c.node.name, argv: c.argv, signal: c.signal }) },
};
