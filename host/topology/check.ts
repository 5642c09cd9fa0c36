// The meaning pass over a topology file that the schema accepted: names, addresses,
// prefixes, routes, sysctls, services, condition values, generator parameters, and the
// references between nodes, links and steps. Every problem found is collected with its
// place in the file; run() throws them all at once, or returns the TopologySpec.

import type {
  TopologySpec, NodeSpec, LinkSpec, InterfaceSpec, RouteSpec, ServiceSpec, StepSpec, ScheduleSpec, LinkConditions,
  GeneratorSpec, EndpointSpec, Expect, Role, ServiceKind, FirewallSpec, NatSpec,
} from "./spec.js";
import { parseRule } from "../ipfw/parse.js";
import { parseTableCommand } from "../ipfw/table.js";
import { parseNatConfig } from "../ipfw/nat.js";
import { IpfwParseError } from "../ipfw/errors.js";
import { TopologyError } from "./errors.js";
import { parseDuration, parseProbability, parseRate, parseBytes, parseCidr, parseIfAddress, parseHostPort, parseWebSocketUrl, v4, v6, isV6, v4text, mask, type Prefix } from "../lib/units.js";
import { generate, GeneratorError, GENERATOR_PARAMS, COMMON_PARAMS, REQUIRED_PARAMS } from "./generators.js";
import { bundle, dedupe, type Locator, type Path } from "./locate.js";
import { loadLinkMap } from "../kern/linkmap.js";
import { parseMac } from "../admin/ifnet.js";
import { show } from "../lib/format.js";
import { sysctlKnob, type SysctlKnob } from "../admin/sysctl.js";

type Obj = Record<string, unknown>;

const NODE_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const IF_NAME = /^[A-Za-z][A-Za-z0-9_.]{0,14}$/;
const SERVICE_PORT: Record<ServiceKind, number> = { "tcp-echo": 7, "udp-echo": 7, "tcp-discard": 9, "udp-discard": 9, http: 80 };
export const ACTIONS = ["ping", "tcp", "udp", "http", "sleep", "wait", "link", "capture", "shell"] as const;

/** The meaning pass. Collects every problem; run() throws them all at the end. */
export class Checker {
  readonly errors: TopologyError[] = [];
  readonly nodes: NodeSpec[] = [];
  readonly byName = new Map<string, NodeSpec>();
  readonly links: LinkSpec[] = [];
  readonly steps: StepSpec[] = [];
  readonly generators: GeneratorSpec[] = [];
  readonly modules: Set<string>;

  constructor(readonly loc: Locator, readonly data: Obj) {
    const lm = loadLinkMap();
    this.modules = new Set(Object.keys(lm.modules));
  }

  err(path: Path, reason: string, key = false): void {
    this.errors.push(this.loc.error(path, reason, key));
  }

  /** Run f, turning a thrown Error into a problem at path. */
  try<T>(path: Path, f: () => T, prefix = ""): T | undefined {
    try {
      return f();
    } catch (e) {
      this.err(path, prefix + (e as Error).message);
      return undefined;
    }
  }

  run(): TopologySpec {
    const d = this.data;
    const file = this.loc.file;
    const name = (d.name as string | undefined) ?? (file.startsWith("<") ? "topology" : fileStem(file));
    const kernel = (d.kernel as string | string[] | undefined) ?? "GENERIC";
    this.kernelConfig(kernel);
    ((d.nodes as Obj[] | undefined) ?? []).forEach((n, i) => this.node(n, ["nodes", i]));
    ((d.generators as Obj[] | undefined) ?? []).forEach((g, i) => this.generator(g, ["generators", i], i));
    if (this.nodes.length === 0 && this.errors.length === 0) this.err([], "no nodes: give nodes: or generators:");
    this.addressesUnique();
    const before = this.errors.length;
    ((d.links as Obj[] | undefined) ?? []).forEach((l, i) => this.link(l, ["links", i]));
    // A link that is wrong leaves some interface unlinked: saying so too would be noise.
    if (this.errors.length === before) this.everyEtherLinked();
    ((d.steps as Obj[] | undefined) ?? []).forEach((s, i) => this.step(s, ["steps", i]));
    if (this.errors.length) throw bundle(dedupe(this.errors));
    return {
      name, file, kernel,
      clock: d.clock as "virtual" | "real" | undefined,
      seed: d.seed as number | undefined,
      nodes: this.nodes, links: this.links, steps: this.steps, generators: this.generators,
    };
  }

  kernelConfig(kernel: string | string[]): void {
    const lm = loadLinkMap();
    if (typeof kernel === "string") {
      if (!lm.configs[kernel]) this.err(["kernel"], `unknown kernel configuration "${kernel}" (known: ${Object.keys(lm.configs).join(", ")}; or give a list of modules)`);
      return;
    }
    kernel.forEach((m, i) => this.moduleName(m, ["kernel", i]));
  }

  moduleName(m: string, path: Path): void {
    if (this.modules.has(m)) return;
    this.err(path, `unknown module "${m}" (known: ${[...this.modules].sort().join(", ")})`);
  }

  addNode(n: NodeSpec, path: Path): void {
    const first = this.byName.get(n.name);
    if (first) {
      const where = `${first.origin.file === n.origin.file ? "" : `${first.origin.file}:`}${first.origin.line}`;
      const made = first.generator ? ` (made by the ${first.generator} generator at line ${where})` : ` (first at line ${where})`;
      this.err(path, `duplicate node "${n.name}"${made}`);
      return;
    }
    this.byName.set(n.name, n);
    this.nodes.push(n);
  }

  node(n: Obj, path: Path): void {
    const name = n.name as string;
    if (!NODE_NAME.test(name)) {
      this.err([...path, "name"], `bad node name ${JSON.stringify(name)}: 1-64 of letters, digits, "_", "." and "-"`);
      return;
    }
    const role = ((n.role as Role | undefined) ?? "host") as Role;
    const kernel = (n.kernel as Obj | undefined) ?? {};
    const modules = (kernel.modules as string[] | undefined) ?? [];
    modules.forEach((m, i) => this.moduleName(m, [...path, "kernel", "modules", i]));
    const sysctl: Record<string, number | string> = {};
    for (const [k, v] of Object.entries((kernel.sysctl as Obj | undefined) ?? {})) {
      // The shell's sysctl table (admin/sysctl.ts): a name known there is known here.
      let knob: SysctlKnob;
      try {
        knob = sysctlKnob(k);
      } catch (e) {
        this.err([...path, "kernel", "sysctl", k], (e as Error).message.replace(/^unknown oid '([^']*)'/, 'unknown sysctl "$1"'), true);
        continue;
      }
      if (knob.readOnly) {
        this.err([...path, "kernel", "sysctl", k], `${k} is read only`, true);
        continue;
      }
      const val = this.try([...path, "kernel", "sysctl", k], () => knob.parse(v), `${k} `);
      if (val !== undefined) sysctl[k] = val;
    }
    const spec: NodeSpec = {
      name, role, modules, sysctl,
      forwarding: (n.forwarding as boolean | undefined) ?? (sysctl["net.inet.ip.forwarding"] !== undefined ? sysctl["net.inet.ip.forwarding"] === 1 : role === "router"),
      interfaces: [], routes: [], services: [], origin: this.loc.origin(path),
    };
    if (n.partition !== undefined) {
      spec.partition = n.partition as number;
      spec.partitionOrigin = this.loc.origin([...path, "partition"]);
    }
    ((n.interfaces as Obj[] | undefined) ?? []).forEach((x, i) => this.iface(spec, x, [...path, "interfaces", i]));
    if (role === "bridge" && !spec.interfaces.some((i) => i.kind === "bridge")) {
      // A bridge node with no bridge interface of its own: bridge0 with every Ethernet interface.
      if (spec.interfaces.some((i) => i.name === "bridge0")) this.err([...path, "interfaces"], `role bridge makes a bridge0 of kind bridge; this node has a bridge0 of another kind`);
      else spec.interfaces.push({ name: "bridge0", kind: "bridge", addresses: [], up: true, members: spec.interfaces.filter((i) => i.kind === "ether" || i.kind === "websocket").map((i) => i.name), origin: spec.origin });
    }
    this.bridgeMembers(spec, path);
    ((n.routes as Obj[] | undefined) ?? []).forEach((r, i) => this.route(spec, r, [...path, "routes", i]));
    ((n.services as Obj[] | undefined) ?? []).forEach((s, i) => this.service(spec, s, [...path, "services", i]));
    if (n.firewall !== undefined || n.firewallDefault !== undefined || n.nat !== undefined) spec.firewall = this.firewall(n, path, spec);
    this.addNode(spec, path);
  }

  /** `firewall:` rules compiled as ipfw would (a bad one: the error at its column inside the string). */
  firewall(n: Obj, path: Path, node: NodeSpec): FirewallSpec {
    const rules: FirewallSpec["rules"] = [];
    ((n.firewall as string[] | undefined) ?? []).forEach((text, i) => {
      const at: Path = [...path, "firewall", i];
      try {
        // `table N ...` lines fill lookup tables (host/ipfw/table.ts); the rest are rules.
        if (/^\s*table(\s|$)/.test(text)) parseTableCommand(text);
        else parseRule(text, { index: i });
      } catch (e) {
        if (!(e instanceof IpfwParseError)) throw e;
        const what = /^\s*table(\s|$)/.test(text) ? "bad firewall table command" : "bad firewall rule";
        this.errors.push(this.loc.errorAtChar(at, e.column, `${what}: ${e.message}`));
        return;
      }
      rules.push({ text, origin: this.loc.origin(at) });
    });
    return { default: (n.firewallDefault as "allow" | "deny" | undefined) ?? "allow", rules, nat: this.nat(n, path, node) };
  }

  /**
   * `nat:` configs as `ipfw nat` takes them ("1 config if eth1 ..."), parsed as ipfw would; a
   * bad one: the error at its column inside the string. `if NAME` must name an interface of
   * the node as the file writes it (bring-up gives the kernel its own name).
   */
  nat(n: Obj, path: Path, node: NodeSpec): NatSpec[] {
    const out: NatSpec[] = [];
    ((n.nat as string[] | undefined) ?? []).forEach((text, i) => {
      const at: Path = [...path, "nat", i];
      let config;
      try {
        config = parseNatConfig(text);
      } catch (e) {
        if (!(e instanceof IpfwParseError)) throw e;
        this.errors.push(this.loc.errorAtChar(at, e.column, `bad nat config: column ${e.column}: ${e.reason}`));
        return;
      }
      if (config.iface !== undefined && !node.interfaces.some((f) => f.name === config.iface)) {
        const m = /(^|\s)if\s+(\S+)/.exec(text);
        const col = m ? m.index + m[0].length - m[2]!.length + 1 : 1;
        this.errors.push(this.loc.errorAtChar(at, col, `bad nat config: node ${node.name} has no interface ${JSON.stringify(config.iface)}`));
        return;
      }
      out.push({ text, config, origin: this.loc.origin(at) });
    });
    return out;
  }

  iface(node: NodeSpec, x: Obj, path: Path): void {
    const name = x.name as string;
    if (!IF_NAME.test(name)) {
      this.err([...path, "name"], `bad interface name ${JSON.stringify(name)}: 1-15 of letters, digits, "_" and ".", starting with a letter`);
      return;
    }
    const first = node.interfaces.find((i) => i.name === name);
    if (first) {
      this.err([...path, "name"], `duplicate interface "${name}" in node ${node.name} (first at line ${first.origin.line})`);
      return;
    }
    const kind = (x.kind as InterfaceSpec["kind"] | undefined) ?? "ether";
    const addresses: string[] = [];
    ((x.addresses as string[] | undefined) ?? []).forEach((a, i) => {
      const p = this.try([...path, "addresses", i], () => parseIfAddress(a));
      if (p) addresses.push(a);
    });
    const spec: InterfaceSpec = { name, kind, addresses, up: (x.up as boolean | undefined) ?? true, origin: this.loc.origin(path) };
    if (x.mtu !== undefined) spec.mtu = x.mtu as number;
    if (x.mac !== undefined) {
      const mac = x.mac as string;
      const ok = this.try([...path, "mac"], () => {
        const b = parseMac(mac);
        if (b[0] & 1) throw new Error(`${mac} is a multicast address`);
        if (b.every((v) => v === 0)) throw new Error("the all-zero address is not an interface address");
        return true;
      }, "bad MAC address: ");
      if (ok) spec.mac = mac;
    }
    const only = (field: string, k: InterfaceSpec["kind"]) => {
      if (x[field] !== undefined && kind !== k) this.err([...path, field], `"${field}" is for interfaces of kind ${k}; this one is ${kind}`, true);
    };
    only("members", "bridge");
    only("vni", "vxlan");
    only("remote", "vxlan");
    only("localPort", "vxlan");
    only("url", "websocket");
    only("listen", "websocket");
    if (kind === "bridge") spec.members = (x.members as string[] | undefined) ?? [];
    if (kind === "vxlan") {
      if (x.vni === undefined) this.err(path, `a vxlan interface needs "vni"`);
      if (x.remote === undefined) this.err(path, `a vxlan interface needs "remote" ("address:port")`);
      else this.try([...path, "remote"], () => parseHostPort(x.remote), "bad remote: ");
      spec.vni = x.vni as number;
      spec.remote = x.remote as string;
      spec.localPort = (x.localPort as number | undefined) ?? 0;
    }
    if (kind === "websocket") {
      const listen = x.listen === true;
      if (x.url === undefined && !listen) this.err(path, `a websocket interface needs "url" (ws://... of its peer) or "listen: true" (served at /${node.name}/${name} by wavnet run --listen)`);
      else if (x.url !== undefined && listen) this.err([...path, "listen"], `a websocket interface either connects ("url") or accepts a connection ("listen: true"), not both`);
      else if (x.url !== undefined) {
        const ok = this.try([...path, "url"], () => parseWebSocketUrl(x.url), "bad url: ");
        if (ok) spec.url = x.url as string;
      }
      if (listen) spec.listen = true;
    }
    if (x.slaac === true) spec.slaac = true;
    if (x.advertise !== undefined) {
      // A list of prefixes, or { prefixes, mtu, maxInterval, ... }; each prefix "P/LEN" or { prefix, lifetimes, flags }.
      const a = x.advertise as unknown;
      const o = (Array.isArray(a) ? { prefixes: a } : { ...(a as Obj) }) as Obj;
      const at: Path = Array.isArray(a) ? [...path, "advertise"] : [...path, "advertise", "prefixes"];
      const prefixes = ((o.prefixes as unknown[] | undefined) ?? []).map((p, i) => {
        const q = (typeof p === "string" ? { prefix: p } : p) as { prefix: string };
        this.try([...at, i], () => {
          const c = parseCidr(q.prefix);
          if (c.family !== 6) throw new Error(`${q.prefix} is not an IPv6 prefix`);
          return true;
        }, "bad prefix: ");
        return q;
      });
      spec.advertise = { ...(o as object), prefixes } as NonNullable<InterfaceSpec["advertise"]>;
    }
    node.interfaces.push(spec);
  }

  bridgeMembers(node: NodeSpec, path: Path): void {
    const owner = new Map<string, string>();
    node.interfaces.forEach((b, bi) => {
      if (b.kind !== "bridge") return;
      (b.members ?? []).forEach((m, i) => {
        const where = b.origin === node.origin ? [...path, "role"] : [...path, "interfaces", bi, "members", i];
        const it = node.interfaces.find((x) => x.name === m);
        if (!it) return this.err(where, `bridge ${b.name}: node ${node.name} has no interface "${m}" (it has ${node.interfaces.map((x) => x.name).join(", ")})`);
        if (it.kind === "bridge") return this.err(where, `bridge ${b.name}: member ${m} is of kind bridge; ether, vxlan and websocket interfaces join a bridge`);
        if (owner.has(m)) return this.err(where, `bridge ${b.name}: ${m} is already a member of ${owner.get(m)}`);
        owner.set(m, b.name);
      });
    });
  }

  /** The IPv4 networks a node is on (from its interface addresses). */
  networks(node: NodeSpec): { net: number; plen: number; iface: string }[] {
    const out: { net: number; plen: number; iface: string }[] = [];
    for (const i of node.interfaces) {
      for (const a of i.addresses) {
        const p = parseCidr(a);
        if (p.family === 4) out.push({ net: (p.addr & mask(p.plen)) >>> 0, plen: p.plen, iface: i.name });
      }
    }
    return out;
  }

  route(node: NodeSpec, r: Obj, path: Path): void {
    const to = r.to as string;
    const via = r.via as string | undefined;
    const dev = r.dev as string | undefined;
    let dst: Prefix | undefined;
    if (to === "default") dst = { family: via !== undefined && isV6(via) ? 6 : 4, addr: 0, plen: 0, text: "default" };
    else {
      dst = this.try([...path, "to"], () => parseCidr(to, { bare: true }), "bad route: ");
      if (!dst) return;
      if (dst.family === 4 && ((dst.addr & ~mask(dst.plen)) >>> 0) !== 0) {
        const net = `${v4text((dst.addr & mask(dst.plen)) >>> 0)}/${dst.plen}`;
        return this.err([...path, "to"], `bad route: ${to} has host bits set beyond /${dst.plen} (did you mean ${net}?)`);
      }
    }
    if (via === undefined && dev === undefined) return this.err(path, `bad route: to ${to} needs "via" (a next-hop address) or "dev" (an interface)`);
    if (dev !== undefined && !node.interfaces.some((i) => i.name === dev)) {
      return this.err([...path, "dev"], `bad route: node ${node.name} has no interface "${dev}" (it has ${node.interfaces.map((i) => i.name).join(", ") || "none"})`);
    }
    if (via !== undefined && isV6(via) !== (dst.family === 6)) {
      return this.err([...path, "via"], `bad route: gateway ${via} is IPv${isV6(via) ? 6 : 4}, the destination ${to} is IPv${dst.family}`);
    }
    if (via !== undefined && dst.family === 6) {
      // A link-local gateway names its link ("fe80::1%eth0"); the zone is checked when the route is added.
      if (this.try([...path, "via"], () => v6(via.split("%")[0]), "bad route: gateway: ") === undefined) return;
    }
    if (via !== undefined && dst.family === 4) {
      const gw = this.try([...path, "via"], () => v4(via), "bad route: gateway: ");
      if (gw === undefined) return;
      const nets = this.networks(node).filter((n) => dev === undefined || n.iface === dev);
      if (!nets.some((n) => ((gw & mask(n.plen)) >>> 0) === n.net)) {
        const list = nets.map((n) => `${v4text(n.net)}/${n.plen}`).join(", ") || "none";
        return this.err([...path, "via"], `bad route: gateway ${via} is not on a network of ${node.name}${dev ? ` ${dev}` : ""} (its networks: ${list})`);
      }
      if (nets.some((n) => ((gw & mask(n.plen)) >>> 0) === n.net && node.interfaces.some((i) => i.addresses.some((a) => a.split("/")[0] === via)))) {
        return this.err([...path, "via"], `bad route: gateway ${via} is ${node.name}'s own address`);
      }
    }
    const key = (t: string, v: string | undefined) => {
      if (t === "default") return v !== undefined && isV6(v) ? "::/0" : "0.0.0.0/0";
      const q = parseCidr(t, { bare: true });
      return q.family === 4 ? `${v4text(q.addr)}/${q.plen}` : t.toLowerCase();
    };
    const dup = node.routes.find((x) => key(x.to, x.via) === key(to, via));
    if (dup) return this.err([...path, "to"], `bad route: ${node.name} already has a route to ${to} (line ${dup.origin.line})`);
    const spec: RouteSpec = { to, origin: this.loc.origin(path) };
    if (via !== undefined) spec.via = via;
    if (dev !== undefined) spec.dev = dev;
    node.routes.push(spec);
  }

  service(node: NodeSpec, s: Obj, path: Path): void {
    const kind = s.kind as ServiceKind;
    const port = (s.port as number | undefined) ?? SERVICE_PORT[kind];
    if (s.body !== undefined && kind !== "http") this.err([...path, "body"], `"body" is for http services; this one is ${kind}`, true);
    const proto = kind.startsWith("udp") ? "udp" : "tcp";
    const dup = node.services.find((x) => (x.kind.startsWith("udp") ? "udp" : "tcp") === proto && x.port === port);
    if (dup) return this.err([...path, "port"], `${node.name} already has a ${proto} service on port ${port} (line ${dup.origin.line})`);
    const spec: ServiceSpec = { kind, port, origin: this.loc.origin(path) };
    if (s.address !== undefined) {
      const a = s.address as string;
      const ok = this.try([...path, "address"], () => v4(a), "bad address: ");
      if (ok !== undefined && ok !== 0 && !node.interfaces.some((i) => i.addresses.some((x) => x.split("/")[0] === a))) {
        return this.err([...path, "address"], `${a} is not an address of ${node.name}`);
      }
      spec.address = a;
    }
    if (s.body !== undefined) spec.body = s.body as string;
    node.services.push(spec);
  }

  generator(g: Obj, path: Path, index: number): void {
    const shape = g.shape as GeneratorSpec["shape"];
    const known = [...COMMON_PARAMS, ...GENERATOR_PARAMS[shape]];
    let bad = false;
    for (const k of Object.keys(g)) {
      if (!known.includes(k)) {
        this.err([...path, k], `unknown generator parameter "${k}" for shape ${shape} (it takes: ${known.filter((x) => x !== "shape").join(", ")})`, true);
        bad = true;
      }
    }
    for (const k of REQUIRED_PARAMS[shape]) {
      if (g[k] === undefined) {
        this.err(path, `a ${shape} generator needs "${k}"`);
        bad = true;
      }
    }
    const name = (g.name as string | undefined) ?? ({ chain: "n", star: "s", tree: "t", grid: "g" } as const)[shape];
    if (!/^[A-Za-z0-9_.-]{1,40}$/.test(name)) {
      this.err([...path, "name"], `bad generator name ${JSON.stringify(name)}: 1-40 of letters, digits, "_", "." and "-" (node names are made from it)`);
      bad = true;
    }
    let subnet = { addr: ((172 << 24) | ((16 + index) << 16)) >>> 0, plen: 16 };
    if (g.subnet !== undefined) {
      const p = this.try([...path, "subnet"], () => parseCidr(g.subnet), "bad subnet: ");
      if (!p) bad = true;
      else if (p.family !== 4) {
        this.err([...path, "subnet"], "bad subnet: generators give IPv4 addresses; use an IPv4 prefix");
        bad = true;
      } else if (((p.addr & ~mask(p.plen)) >>> 0) !== 0) {
        this.err([...path, "subnet"], `bad subnet: ${g.subnet} has host bits set beyond /${p.plen}`);
        bad = true;
      } else subnet = { addr: p.addr, plen: p.plen };
    }
    const conditions = g.conditions !== undefined ? this.conditions(g.conditions as Obj, [...path, "conditions"]) : {};
    if (bad || conditions === undefined) return;
    const origin = this.loc.origin(path);
    const params: Record<string, unknown> = {};
    for (const k of GENERATOR_PARAMS[shape]) if (g[k] !== undefined) params[k] = g[k];
    this.generators.push({ shape, name, params, origin });
    let out;
    try {
      out = generate({ shape, name, params, subnet, conditions, origin });
    } catch (e) {
      if (e instanceof GeneratorError) return this.err(e.param && g[e.param] !== undefined ? [...path, e.param] : path, e.message);
      throw e;
    }
    for (const n of out.nodes) this.addNode(n, path);
    this.links.push(...out.links);
  }

  /** Every address in the topology once. */
  addressesUnique(): void {
    const seen = new Map<string, string>();
    for (const n of this.nodes) {
      for (const i of n.interfaces) {
        for (const a of i.addresses) {
          const host = a.split("/")[0].toLowerCase();
          const other = seen.get(host);
          if (other) this.errors.push(new TopologyError(`bad address: ${host} is also on ${other}`, i.origin.file, i.origin.line, i.origin.column, `${i.origin.path}.addresses`));
          else seen.set(host, `${n.name}:${i.name} (line ${i.origin.line})`);
        }
      }
    }
  }

  endpoint(s: string, path: Path, ether = true): EndpointSpec | undefined {
    const m = /^([^:]+):(.+)$/.exec(s);
    if (!m) {
      this.err(path, `bad endpoint ${JSON.stringify(s)}: write "node:interface"`);
      return undefined;
    }
    const node = this.byName.get(m[1]);
    if (!node) {
      this.err(path, `link to a missing node "${m[1]}"${this.suggest(m[1], [...this.byName.keys()])}`);
      return undefined;
    }
    const it = node.interfaces.find((i) => i.name === m[2]);
    if (!it) {
      this.err(path, `link to a missing interface: node ${node.name} has no interface "${m[2]}" (it has ${node.interfaces.map((i) => i.name).join(", ") || "none"})`);
      return undefined;
    }
    if (ether && it.kind !== "ether") {
      this.err(path, `${s} is of kind ${it.kind}; links join ether interfaces`);
      return undefined;
    }
    return { node: node.name, iface: it.name };
  }

  suggest(name: string, names: string[]): string {
    const close = names.filter((n) => n.toLowerCase() === name.toLowerCase() || (Math.abs(n.length - name.length) <= 1 && n.startsWith(name.slice(0, Math.max(1, name.length - 1)))));
    if (close.length) return ` (did you mean ${close.slice(0, 3).map((c) => `"${c}"`).join(", ")}?)`;
    return names.length <= 10 ? ` (nodes: ${names.join(", ")})` : "";
  }

  readonly linked = new Map<string, LinkSpec>();

  /** Endpoints some link names, valid or not: "on no link" is not said of them. */
  readonly mentioned = new Set<string>();

  link(l: Obj, path: Path): void {
    const eps = l.endpoints as string[];
    for (const e of eps) this.mentioned.add(e);
    const a = this.endpoint(eps[0], [...path, "endpoints", 0]);
    const b = this.endpoint(eps[1], [...path, "endpoints", 1]);
    const base = l.conditions !== undefined ? this.conditions(l.conditions as Obj, [...path, "conditions"]) : {};
    const fwd = l.forward !== undefined ? this.conditions(l.forward as Obj, [...path, "forward"], base) : base;
    const rev = l.reverse !== undefined ? this.conditions(l.reverse as Obj, [...path, "reverse"], base) : base;
    const schedule: ScheduleSpec[] = [];
    ((l.schedule as Obj[] | undefined) ?? []).forEach((s, i) => {
      const sp = [...path, "schedule", i];
      const atUs = this.try([...sp, "at"], () => parseDuration(s.at), "bad time: ");
      const dirs = this.directions(s, sp);
      if (atUs === undefined || !dirs) return;
      if (!dirs.forward && !dirs.reverse) return this.err(sp, "a schedule entry changes something: give conditions, forward or reverse");
      schedule.push({ atUs, ...dirs, origin: this.loc.origin(sp) });
    });
    if (!a || !b) return;
    for (const [e, i] of [[a, 0], [b, 1]] as const) {
      const key = `${e.node}:${e.iface}`;
      const other = this.linked.get(key);
      if (other) return this.err([...path, "endpoints", i], `${key} is already on the link at line ${other.origin.line}`);
    }
    if (a.node === b.node && a.iface === b.iface) return this.err([...path, "endpoints", 1], "a link joins two different interfaces");
    schedule.sort((x, y) => x.atUs - y.atUs);
    // Registered even when a condition is bad, so "on no link" is not reported as well.
    const spec: LinkSpec = { a, b, forward: fwd ?? {}, reverse: rev ?? {}, schedule, origin: this.loc.origin(path) };
    this.linked.set(`${a.node}:${a.iface}`, spec);
    this.linked.set(`${b.node}:${b.iface}`, spec);
    this.links.push(spec);
  }

  /** conditions / forward / reverse of a schedule entry or link step -> the directions it sets. */
  directions(s: Obj, path: Path): { forward?: LinkConditions; reverse?: LinkConditions } | undefined {
    const base = s.conditions !== undefined ? this.conditions(s.conditions as Obj, [...path, "conditions"]) : undefined;
    if (s.conditions !== undefined && base === undefined) return undefined;
    const fwd = s.forward !== undefined ? this.conditions(s.forward as Obj, [...path, "forward"], base ?? {}) : base;
    const rev = s.reverse !== undefined ? this.conditions(s.reverse as Obj, [...path, "reverse"], base ?? {}) : base;
    if ((s.forward !== undefined && !fwd) || (s.reverse !== undefined && !rev)) return undefined;
    const out: { forward?: LinkConditions; reverse?: LinkConditions } = {};
    if (fwd) out.forward = fwd;
    if (rev) out.reverse = rev;
    return out;
  }

  /** A conditions mapping in file units -> LinkConditions (merged over base); undefined if bad. */
  conditions(c: Obj, path: Path, base: LinkConditions = {}): LinkConditions | undefined {
    const out: LinkConditions = { ...base };
    let ok = true;
    const field = <T>(k: string, f: (v: unknown) => T, set: (v: T) => void) => {
      if (c[k] === undefined) return;
      const v = this.try([...path, k], () => f(c[k]), `bad condition value: ${k}: `);
      if (v === undefined) ok = false;
      else set(v);
    };
    field("delay", parseDuration, (v) => (out.delayUs = v));
    field("jitter", parseDuration, (v) => (out.jitterUs = v));
    field("loss", parseProbability, (v) => (out.loss = v));
    field("duplicate", parseProbability, (v) => (out.duplicate = v));
    field("reorder", parseProbability, (v) => (out.reorder = v));
    field("rate", parseRate, (v) => (out.rateBps = v));
    if (c.queue !== undefined) out.queueLimit = c.queue as number;
    if (c.queueBytes !== undefined) out.queueBytes = c.queueBytes as number;
    if (!ok) return undefined;
    if ((out.reorder ?? 0) > 0 && !(out.delayUs! > 0)) {
      this.err([...path, c.reorder !== undefined ? "reorder" : "delay"], "bad condition value: reorder needs a delay (a frame can only overtake frames that are delayed)");
      return undefined;
    }
    if ((out.delayUs ?? 0) > 0x7fffffff || (out.jitterUs ?? 0) > 0x7fffffff) {
      this.err(path, "bad condition value: delay and jitter are at most 2147 s");
      return undefined;
    }
    return out;
  }

  everyEtherLinked(): void {
    for (const n of this.nodes) {
      if (n.generator) continue;
      for (const i of n.interfaces) {
        const key = `${n.name}:${i.name}`;
        if (i.kind === "ether" && !this.linked.has(key) && !this.mentioned.has(key)) {
          this.errors.push(new TopologyError(`interface ${n.name}:${i.name} is on no link (an ether interface is one end of a link)`, i.origin.file, i.origin.line, i.origin.column, i.origin.path));
        }
      }
    }
  }

  nodeRef(v: unknown, path: Path): string | undefined {
    const s = v as string;
    if (!this.byName.has(s)) {
      this.err(path, `no node "${s}"${this.suggest(s, [...this.byName.keys()])}`);
      return undefined;
    }
    return s;
  }

  /**
   * A step's "to": a node with an IPv4 address, or an IPv4 address; with v6ok (ping, tcp, udp) also an
   * IPv6 address (a link-local one with its zone) or a node with only IPv6 addresses.
   */
  target(v: unknown, path: Path, v6ok = false): string | undefined {
    const s = v as string;
    if (/^\d+\.\d+\.\d+\.\d+$/.test(s)) return this.try(path, () => (v4(s), s), "bad address: ");
    if (typeof s === "string" && isV6(s)) {
      if (!v6ok) {
        this.err(path, `${s}: http steps take IPv4 destinations only (ping, tcp and udp take IPv6)`);
        return undefined;
      }
      return this.try(path, () => (v6(s.split("%")[0]), s), "bad address: ");
    }
    const n = this.nodeRef(s, path);
    if (!n) return undefined;
    if (v6ok && !this.firstV4(this.byName.get(n)!) && this.byName.get(n)!.interfaces.some((i) => i.addresses.some(isV6))) return n;
    if (!this.firstV4(this.byName.get(n)!)) {
      this.err(path, `node ${n} has no IPv4 address to reach`);
      return undefined;
    }
    return n;
  }

  firstV4(n: NodeSpec): string | undefined {
    for (const i of n.interfaces) for (const a of i.addresses) if (!a.includes(":")) return a.split("/")[0];
    return undefined;
  }

  expect(v: unknown, path: Path, dflt: Expect = { kind: "success" }): Expect | undefined {
    if (v === undefined) return dflt;
    const s = String(v).replace(/\s+/g, "");
    if (s === "success") return { kind: "success" };
    if (s === "fail") return { kind: "fail" };
    const m = /^loss(<=|<)(\d+(?:\.\d+)?)%$/.exec(s);
    if (m && Number(m[2]) <= 100) return { kind: "loss", maxPct: Number(m[2]), strict: m[1] === "<" };
    this.err(path, `bad expectation ${JSON.stringify(v)}: "success", "fail", or "loss<=N%" / "loss<N%"`);
    return undefined;
  }

  dur(v: unknown, path: Path, dflt: number): number | undefined {
    if (v === undefined) return dflt;
    return this.try(path, () => parseDuration(v), "bad duration: ");
  }

  step(s: Obj, path: Path): void {
    const actions = ACTIONS.filter((a) => s[a] !== undefined);
    if (actions.length !== 1) {
      return this.err(path, actions.length === 0 ? `a step needs one action (${ACTIONS.join(", ")})` : `a step has one action; this one has ${actions.join(" and ")} (make them separate steps)`);
    }
    const action = actions[0];
    const p: Path = [...path, action];
    const x = (s[action] ?? {}) as Obj;
    const origin = this.loc.origin(path);
    const named = (auto: string) => (s.name as string | undefined) ?? auto;
    const ms = (us: number | undefined) => (us === undefined ? undefined : us / 1000);
    switch (action) {
      case "ping": {
        const from = this.nodeRef(x.from, [...p, "from"]);
        const to = this.target(x.to, [...p, "to"], true);
        const intervalMs = ms(this.dur(x.interval, [...p, "interval"], 100_000));
        const timeoutMs = ms(this.dur(x.timeout, [...p, "timeout"], 2_000_000));
        const expect = this.expect(x.expect, [...p, "expect"]);
        if (!from || !to || intervalMs === undefined || timeoutMs === undefined || !expect) return;
        this.steps.push({ action, from, to, count: (x.count as number | undefined) ?? 3, intervalMs, timeoutMs, size: (x.size as number | undefined) ?? 56, expect, name: named(`ping ${from} -> ${to}`), origin });
        return;
      }
      case "tcp": {
        const from = this.nodeRef(x.from, [...p, "from"]);
        const to = this.target(x.to, [...p, "to"], true);
        const bytes = this.try([...p, "bytes"], () => parseBytes(x.bytes), "bad byte count: ");
        const withinUs = this.dur(x.within, [...p, "within"], 60_000_000);
        const expect = this.expect(x.expect, [...p, "expect"]);
        if (expect?.kind === "loss") return this.err([...p, "expect"], `a tcp step expects "success" or "fail"`);
        if (!from || !to || bytes === undefined || withinUs === undefined || !expect) return;
        this.steps.push({ action, from, to, port: (x.port as number | undefined) ?? 5001, bytes, withinUs, expect, name: named(`tcp ${from} -> ${to} ${bytes} bytes`), origin });
        return;
      }
      case "udp": {
        const from = this.nodeRef(x.from, [...p, "from"]);
        const to = this.target(x.to, [...p, "to"], true);
        const timeoutMs = ms(this.dur(x.timeout, [...p, "timeout"], 1_000_000));
        const intervalUs = this.dur(x.interval, [...p, "interval"], 1000);
        const expect = this.expect(x.expect, [...p, "expect"]);
        if (!from || !to || timeoutMs === undefined || intervalUs === undefined || !expect) return;
        const count = (x.count as number | undefined) ?? 10;
        this.steps.push({ action, from, to, port: (x.port as number | undefined) ?? 5002, count, size: (x.size as number | undefined) ?? 64, intervalUs, timeoutMs, expect, name: named(`udp ${from} -> ${to} ${count} datagrams`), origin });
        return;
      }
      case "http": {
        const from = this.nodeRef(x.from, [...p, "from"]);
        const to = this.target(x.to, [...p, "to"]);
        const timeoutMs = ms(this.dur(x.timeout, [...p, "timeout"], 5_000_000));
        const expect = this.expect(x.expect, [...p, "expect"]);
        if (expect?.kind === "loss") return this.err([...p, "expect"], `an http step expects "success" or "fail"`);
        const path0 = (x.path as string | undefined) ?? "/";
        if (!path0.startsWith("/")) return this.err([...p, "path"], `an http path starts with "/", got ${show(path0)}`);
        if (!from || !to || timeoutMs === undefined || !expect) return;
        const step: StepSpec = { action, from, to, port: (x.port as number | undefined) ?? 80, path: path0, status: (x.status as number | undefined) ?? 200, timeoutMs, expect, name: named(`http ${from} -> ${to}${path0}`), origin };
        if (x.contains !== undefined) step.contains = x.contains as string;
        this.steps.push(step);
        return;
      }
      case "sleep":
      case "wait": {
        const us = this.dur(s[action], p, 0);
        if (us === undefined) return;
        this.steps.push({ action: "sleep", us, name: named(`${action} ${us / 1000} ms`), origin });
        return;
      }
      case "link": {
        const ep = this.endpoint(x.endpoint as string, [...p, "endpoint"]);
        if (!ep) return;
        const link = this.linked.get(`${ep.node}:${ep.iface}`);
        if (!link) return this.err([...p, "endpoint"], `${x.endpoint} is on no link`);
        const dirs = this.directions(x, p);
        if (!dirs) return;
        if (!dirs.forward && !dirs.reverse) return this.err(p, "a link step changes something: give conditions, forward or reverse");
        this.steps.push({ action, endpoint: `${link.a.node}:${link.a.iface}`, peer: `${link.b.node}:${link.b.iface}`, ...dirs, name: named(`link ${link.a.node}:${link.a.iface} ${link.b.node}:${link.b.iface}`), origin });
        return;
      }
      case "capture": {
        const on = x.on !== undefined;
        if (on === (x.off !== undefined)) return this.err(p, `a capture step has "on: node:if" or "off: node:if"`);
        const which = on ? "on" : "off";
        const ep = this.endpoint(x[which] as string, [...p, which], false);
        if (!ep) return;
        if (!on && x.file !== undefined) return this.err([...p, "file"], `"file" goes with "on"`, true);
        const file = (x.file as string | undefined) ?? `${ep.node}-${ep.iface}.pcapng`;
        // A file is a name inside the pcap folder the runner was given, never a path: a file
        // from elsewhere must not write where its user did not point (../x, /etc/x, C:x).
        if (file === "." || file === ".." || file.length > 255 || /[\\/:\x00-\x1f]/.test(file)) {
          return this.err([...p, "file"], `bad capture file ${JSON.stringify(file)}: a file name inside the pcap folder, not a path (no "/", "\\" or ":", not "." or "..", at most 255 characters)`);
        }
        this.steps.push({ action, on, endpoint: `${ep.node}:${ep.iface}`, ...(on ? { file } : {}), name: named(`capture ${which} ${ep.node}:${ep.iface}`), origin });
        return;
      }
      case "shell": {
        const node = this.nodeRef(x.node, [...p, "node"]);
        const timeoutMs = ms(this.dur(x.timeout, [...p, "timeout"], 10_000_000));
        const expect = this.expect(x.expect, [...p, "expect"]);
        if (expect?.kind === "loss") return this.err([...p, "expect"], `a shell step expects "success" or "fail"`);
        if (x.match !== undefined) {
          if (this.try([...p, "match"], () => new RegExp(x.match as string), "bad regular expression: ") === undefined) return;
        }
        if (!node || timeoutMs === undefined || !expect) return;
        const step: StepSpec = { action, node, cmd: x.cmd as string, timeoutMs, expect, name: named(`${node}: ${x.cmd}`), origin };
        if (x.contains !== undefined) step.contains = x.contains as string;
        if (x.match !== undefined) step.match = x.match as string;
        this.steps.push(step);
        return;
      }
    }
  }
}

/** A file's name without its folder and extension ("examples/demo.yaml" -> "demo"), as path.basename(f, path.extname(f)) says it. */
function fileStem(file: string): string {
  const base = file.replace(/[\\/]+$/, "").split(/[\\/]/).pop() ?? "";
  const dot = base.lastIndexOf(".");
  return dot > 0 ? base.slice(0, dot) : base;
}
