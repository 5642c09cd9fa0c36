// The shape of a topology once it is loaded: what parseTopology returns and Topology.up
// takes. Field names follow the YAML file (docs/topology.md); values are checked and
// normalised (durations in µs, rates in bit/s, probabilities as fractions), generators are
// already expanded into nodes and links, and every part keeps the line it came from so a
// failure at up-time or in a step can still point into the file.
import type { NatConfig } from "../ipfw/nat.js";

export type Role = "host" | "router" | "bridge";

/** Where a part of the spec came from: file, 1-based line and column, field path. */
export interface Origin {
  file: string;
  line: number;
  column: number;
  /** "nodes[2].interfaces[0]" */
  path: string;
}

/** Link conditions of one direction, normalised to the units of host/epair.ts LinkConditions. */
/** Link conditions, in the epair's own type (parsed from file units). */
export type { LinkConditions } from "../admin/epair.js";
import type { LinkConditions } from "../admin/epair.js";
import type { AdvertiseOptions } from "../admin/rtadv.js";

export interface InterfaceSpec {
  /** The name in the topology ("eth0"); the kernel's own name (epair3a) is on TopoInterface.iface. */
  name: string;
  kind: "ether" | "bridge" | "vxlan" | "websocket";
  /** "10.0.0.1/24" or "fd00::1/64" (IPv6 needs the inet6 module: refused at up-time in a NOINET6 kernel). */
  addresses: string[];
  mtu?: number;
  mac?: string;
  up: boolean;
  /** bridge: names of this node's interfaces that join it. */
  members?: string[];
  /** vxlan: RFC 7348 VNI, remote "addr:port", local UDP port. */
  vni?: number;
  remote?: string;
  localPort?: number;
  /** websocket: the peer's ws:// or wss:// URL (a client port), or listen: served at /NODE/IFACE by the topology's listener. */
  url?: string;
  listen?: boolean;
  /** IPv6 host side of router discovery: accept_rtadv (docs/slaac.md). */
  slaac?: boolean;
  /** IPv6 router side: advertise these prefixes (rtadvd; docs/slaac.md). */
  advertise?: AdvertiseOptions;
  origin: Origin;
}

export interface RouteSpec {
  /** "default", "10.1.0.0/16" or a host "10.1.0.7". */
  to: string;
  /** Next hop address. */
  via?: string;
  /** Interface (topology name) for an interface route or to pin the next hop. */
  dev?: string;
  origin: Origin;
}

export type ServiceKind = "tcp-echo" | "udp-echo" | "tcp-discard" | "udp-discard" | "http";

export interface ServiceSpec {
  kind: ServiceKind;
  port: number;
  /** Listen address (default: any). */
  address?: string;
  /** http: the body every request gets (default "hello from <node>\n"). */
  body?: string;
  origin: Origin;
}

/** One rule of a node's `firewall:` list: its text as written (compiled at load, added at bring-up). */
export interface FirewallRuleSpec {
  text: string;
  origin: Origin;
}

/** One entry of a node's `nat:` list (docs/ipfw_nat.md): parsed at load, configured at bring-up before the rules. */
export interface NatSpec {
  /** The text as written, after `ipfw nat` ("1 config if eth1 redirect_port tcp ..."). */
  text: string;
  config: NatConfig;
  origin: Origin;
}

/** A node's firewall (docs/ipfw.md): the ipfw module is loaded when any node has one. */
export interface FirewallSpec {
  /** The default rule 65535: allow unless the file says deny. */
  default: "allow" | "deny";
  rules: FirewallRuleSpec[];
  /** NAT instances, configured before the rules (a `nat N` rule needs its instance). */
  nat: NatSpec[];
}

export interface NodeSpec {
  name: string;
  role: Role;
  /** Modules this node needs, loaded into the shared kernel if the boot configuration lacks them. */
  modules: string[];
  /** sysctl name -> value (net.inet.icmp.icmplim, net.inet.tcp.*). */
  sysctl: Record<string, number | string>;
  /** IP forwarding (default: on for routers, off otherwise). */
  forwarding: boolean;
  interfaces: InterfaceSpec[];
  routes: RouteSpec[];
  services: ServiceSpec[];
  /** Present when the file gives `firewall:`, `firewallDefault:` or `nat:`. */
  firewall?: FirewallSpec;
  /** The generator that made this node, if any. */
  generator?: string;
  /** `partition:` hint for runs over several kernels (host/scale/partition.ts, docs/scale.md). */
  partition?: number;
  partitionOrigin?: Origin;
  origin: Origin;
}

export interface EndpointSpec {
  node: string;
  iface: string;
}

export interface ScheduleSpec {
  /** µs after the steps start. */
  atUs: number;
  /** Conditions from then on, a -> b and b -> a (undefined = that direction unchanged). */
  forward?: LinkConditions;
  reverse?: LinkConditions;
  origin: Origin;
}

export interface LinkSpec {
  a: EndpointSpec;
  b: EndpointSpec;
  /** Conditions on frames a sends (a -> b) and b sends (b -> a). */
  forward: LinkConditions;
  reverse: LinkConditions;
  schedule: ScheduleSpec[];
  origin: Origin;
}

export type Expect =
  | { kind: "success" }
  | { kind: "fail" }
  /** loss <= pct (or < with strict). */
  | { kind: "loss"; maxPct: number; strict: boolean };

export type StepSpec = (
  | { action: "ping"; from: string; to: string; count: number; intervalMs: number; timeoutMs: number; size: number; expect: Expect }
  | { action: "tcp"; from: string; to: string; port: number; bytes: number; withinUs: number; expect: Expect }
  | { action: "udp"; from: string; to: string; port: number; count: number; size: number; intervalUs: number; timeoutMs: number; expect: Expect }
  | { action: "http"; from: string; to: string; port: number; path: string; status: number; contains?: string; timeoutMs: number; expect: Expect }
  | { action: "sleep"; us: number }
  | { action: "link"; endpoint: string; peer?: string; forward?: LinkConditions; reverse?: LinkConditions }
  | { action: "capture"; on: boolean; endpoint: string; file?: string }
  | { action: "shell"; node: string; cmd: string; contains?: string; match?: string; timeoutMs: number; expect: Expect }
) & { name: string; origin: Origin };

export interface GeneratorSpec {
  shape: "chain" | "star" | "tree" | "grid";
  name: string;
  params: Record<string, unknown>;
  origin: Origin;
}

export interface TopologySpec {
  name: string;
  file: string;
  /** Kernel configuration booted (a name from the link map, or a module list). */
  kernel: string | string[];
  clock?: "virtual" | "real";
  seed?: number;
  nodes: NodeSpec[];
  links: LinkSpec[];
  steps: StepSpec[];
  /** The generators as written (their nodes and links are already in nodes and links). */
  generators: GeneratorSpec[];
}
