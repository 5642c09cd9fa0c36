// A topology brought up in one kernel: one vnet per node, one epair per link (conditions
// per direction), bridges, addresses, routes, forwarding, sysctls, services. up() is all or
// nothing: a failure tears down what was made and throws a TopologyError that points at the
// line of the file responsible. down() tears everything down and reports the accounting.

import "../vnet.js"; // the Kernel/Vnet convenience methods (epair, ifcreate, sockets) it uses
import { Kernel, type Vnet } from "../kern/kernel.js";
import { Interface } from "../admin/ifnet.js";
import { LeakError, AbortError, abortError, type LeakEntry } from "../lib/errors.js";
import { addAddress, addRoutes, setForwarding } from "../admin/inet.js";
import { sysctlKnob } from "../admin/sysctl.js";
import { setForwarding6 } from "../admin/inet6.js";
import { setAcceptRtadv, advertise } from "../admin/rtadv.js";
import { loadLinkMap } from "../kern/linkmap.js";
import { bridgeAdd } from "../admin/bridge.js";
import { ipfwSetDefault, ipfwNatConfig } from "../admin/ipfw.js";
import { ipfwCommand, kernelIpfwBackend, kernelIfnames } from "../ipfw/index.js";
import type { LinkConditions } from "../admin/epair.js";
import type { LiveCapture } from "../capture/tap.js";
import type { TopologySpec, NodeSpec, LinkSpec, Origin, InterfaceSpec } from "./spec.js";
import type { TopoNode, TopoLink, TopoInterface, LinkDirection, StepEvent, StepResult, TeardownReport } from "./types.js";
import { TopologyError } from "./errors.js";
import { ScheduleClock, TimeDriver } from "./clock.js";
import { startService, type RunningService } from "./services.js";
import { createVxlanPort, createWebSocketListener, type VxlanPort, type WebSocketListenerLike, type WebSocketListenOptions } from "./ports.js";
import { connectWebSocket, createWebSocketInterface, type WebSocketInterface } from "../wire/websocket.js";
import { runSteps } from "./steps.js";
import { turn } from "../lib/turn.js";

export interface UpOptions {
  /** Bring the topology up in this kernel (default: boot one with spec.kernel). */
  kernel?: Kernel;
  /** Clock of the kernel booted here (default: the file's, else "virtual"). */
  clock?: "virtual" | "real";
  /** Seed of the kernel booted here (default: the file's, else 1). */
  seed?: number;
  /** Folder for capture files of capture steps (default: captures are counted, not written). */
  pcapDir?: string;
  /** Abandon bring-up: what was made is torn down and up() rejects with an AbortError. */
  signal?: AbortSignal;
  /**
   * Serve the websocket interfaces with `listen: true` at ws://HOST:PORT/NODE/IFACE (Node:
   * host/node/ws_listen.ts). Needed when the file has such interfaces, refused otherwise.
   */
  listen?: WebSocketListenOptions;
  /**
   * Bring up one partition of a topology split over several kernels (host/scale/): the
   * spec holds this partition's nodes and the links between them; the hooks make the rest.
   */
  partition?: PartitionHooks;
}

/** What a partition of a split topology adds to the bring-up (host/scale/partition_worker.ts). */
export interface PartitionHooks {
  /** Before each node's vnet is made (the scale-out runner keeps vnet ids as in a one-kernel run). */
  beforeNode?(kernel: Kernel, node: NodeSpec): void;
  /** Link ends whose peer is in another kernel: node and interface names (file names). */
  foreign: { node: string; iface: string }[];
  /** Make one foreign end's interface in vnet (after the local links' epairs). */
  foreignEnd(kernel: Kernel, vnet: Vnet, node: string, iface: string): Interface;
  /** Every link end once made, local or foreign, before its node is configured (MAC, capabilities, conditions). */
  linkEnd?(kernel: Kernel, iface: Interface, node: string, ifaceName: string): void;
}

export interface RunOptions {
  onEvent?: (e: StepEvent) => void;
  /** Runs a shell step's command on a node (the CLI's command dispatcher); its output is checked. */
  exec?: (node: string, cmd: string) => Promise<string>;
  /**
   * Stop running steps: the step under way is abandoned and runSteps rejects with an
   * AbortError whose `partial` holds the results so far. The topology stays up (down() it).
   */
  signal?: AbortSignal;
}

function errAt(origin: Origin, reason: string): TopologyError {
  return new TopologyError(reason, origin.file, origin.line, origin.column, origin.path);
}

function because(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

class Node implements TopoNode {
  readonly ifaces = new Map<string, TopoInterface>();
  /** The file's node (replaced by Topology.grow with the same node of the grown file). */
  spec: NodeSpec;
  constructor(readonly name: string, readonly vnet: Vnet, spec: NodeSpec) {
    this.spec = spec;
  }

  get role() {
    return this.spec.role;
  }

  /** A link-local address's zone in the file names the node's interface: the kernel knows it by its own name. */
  zoned(addr: string): string {
    const pct = addr.indexOf("%");
    if (pct < 0) return addr;
    const z = addr.slice(pct + 1);
    return this.ifaces.has(z) ? `${addr.slice(0, pct)}%${this.iface(z).name}` : addr;
  }

  iface(name: string): Interface {
    const i = this.ifaces.get(name);
    if (!i) throw new TopologyError(`node ${this.name} has no interface "${name}" (it has ${[...this.ifaces.keys()].join(", ") || "none"})`, "<topology>");
    return i.iface;
  }

  interfaces(): TopoInterface[] {
    return [...this.ifaces.values()];
  }
}

class Link implements TopoLink {
  readonly a: string;
  readonly b: string;
  constructor(readonly spec: LinkSpec, readonly ends: [Interface, Interface]) {
    this.a = `${spec.a.node}:${spec.a.iface}`;
    this.b = `${spec.b.node}:${spec.b.iface}`;
  }

  setConditions(dir: LinkDirection, c: LinkConditions): void {
    if (dir === "a->b" || dir === "both") this.ends[0].setConditions(c);
    if (dir === "b->a" || dir === "both") this.ends[1].setConditions(c);
  }

  conditions() {
    return { "a->b": this.ends[0].conditions(), "b->a": this.ends[1].conditions() };
  }
}


interface Baseline {
  pages: number;
  zones: Map<string, number>;
}

function zonesInUse(k: Kernel): Map<string, number> {
  const m = new Map<string, number>();
  for (const z of k.vmstatZ()) m.set(z.name, (m.get(z.name) ?? 0) + z.used);
  return m;
}

/** JSON of a spec part without where it was written (origins move when lines are added above). */
function shape(x: unknown, drop: (k: string) => boolean = () => false): string {
  return JSON.stringify(x, (k, v) => (k === "origin" || k === "addressOrigins" || drop(k) ? undefined : v));
}

/** Why next is not prev with nodes, links and link ends added (Topology.grow); "" when it is. */
function growthProblem(prev: TopologySpec, next: TopologySpec): string {
  if (shape(prev.kernel) !== shape(next.kernel) || prev.clock !== next.clock || prev.seed !== next.seed) return "the kernel, clock or seed changed";
  if (next.links.length < prev.links.length) return "a link was removed";
  for (let i = 0; i < prev.links.length; i++) {
    if (shape(prev.links[i]) !== shape(next.links[i])) return `link ${prev.links[i]!.a.node}:${prev.links[i]!.a.iface} - ${prev.links[i]!.b.node}:${prev.links[i]!.b.iface} changed`;
  }
  // Ports to other processes have bring-up rules of their own (a real clock, a listener): a new lab checks them.
  for (const n of next.nodes) {
    if (prev.nodes.some((p) => p.name === n.name)) continue;
    const port = n.interfaces.find((i) => i.kind === "websocket" || i.kind === "vxlan");
    if (port) return `new node ${n.name} has a ${port.kind} interface (${port.name})`;
  }
  const newEnds = new Set(next.links.slice(prev.links.length).flatMap((l) => [`${l.a.node}:${l.a.iface}`, `${l.b.node}:${l.b.iface}`]));
  for (const p of prev.nodes) {
    const n = next.nodes.find((x) => x.name === p.name);
    if (!n) return `node ${p.name} was removed`;
    if (shape(p, (k) => k === "interfaces") !== shape(n, (k) => k === "interfaces")) return `node ${p.name} changed`;
    for (const pi of p.interfaces) {
      const ni = n.interfaces.find((x) => x.name === pi.name);
      if (!ni) return `${p.name}:${pi.name} was removed`;
      if (shape(pi, (k) => k === "members") !== shape(ni, (k) => k === "members")) return `${p.name}:${pi.name} changed`;
      const grew = (ni.members ?? []).filter((m) => !(pi.members ?? []).includes(m));
      if ((pi.members ?? []).some((m) => !(ni.members ?? []).includes(m)) || grew.some((m) => !newEnds.has(`${p.name}:${m}`))) return `bridge ${p.name}:${pi.name}'s members changed`;
    }
    for (const ni of n.interfaces) {
      if (p.interfaces.some((x) => x.name === ni.name)) continue;
      if (ni.kind !== "ether" || !newEnds.has(`${p.name}:${ni.name}`)) return `${p.name}:${ni.name} is new and not the end of a new link`;
    }
  }
  return "";
}

export class Topology {
  readonly time: TimeDriver;
  /** Wall ms up() spent booting the kernel (0 when it was given one): the rest of up() is the build. */
  bootMs = 0;
  private readonly byName = new Map<string, Node>();
  private readonly linkList: Link[] = [];
  private readonly byEndpoint = new Map<string, Link>();
  private readonly services: RunningService[] = [];
  private readonly vxlans: { close(): Promise<void> | void }[] = [];
  private readonly websockets: WebSocketInterface[] = [];
  #listener: WebSocketListenerLike | undefined;
  #hooks: PartitionHooks | undefined;
  /** Captures started by capture steps, by "node:if". */
  readonly captures = new Map<string, LiveCapture>();
  private baseline?: Baseline;
  private isDown = false;

  #spec: TopologySpec;

  private constructor(
    readonly kernel: Kernel,
    spec: TopologySpec,
    private readonly ownKernel: boolean,
    readonly pcapDir: string | undefined,
  ) {
    this.#spec = spec;
    this.time = new TimeDriver(kernel);
  }

  /** The file this topology runs (after grow(): the grown one). */
  get spec(): TopologySpec {
    return this.#spec;
  }

  /**
   * Bring up what `next` adds to the running file, without touching the rest: new nodes
   * (everything a node can have), new links (appended after the old ones) and, on old
   * nodes, the new interfaces that are ends of those links (joining the node's bridge when
   * its members list grew by them). Anything else that differs (a node or link removed or
   * changed, addresses, routes, forwarding, the kernel, the clock) is not a growth: returns
   * the first such difference as text and changes nothing, and the caller brings `next` up
   * from scratch. The steps may differ freely. Kernel time, captures, sockets and
   * connections go on. A failure part way leaves what was made (down() takes it all).
   */
  async grow(next: TopologySpec): Promise<{ grown: true; nodes: string[]; links: number } | { grown: false; why: string }> {
    if (this.isDown) throw new TopologyError("grow: the topology was torn down", this.spec.file);
    const why = growthProblem(this.#spec, next);
    if (why) return { grown: false, why };
    const k = this.kernel;
    const fresh = next.nodes.filter((n) => !this.byName.has(n.name));
    for (const n of fresh) {
      for (const m of n.modules) {
        if (k.linker.isLoaded(m)) continue;
        try {
          await k.kldload(m);
        } catch (e) {
          throw errAt(n.origin, `kldload ${m}: ${because(e)}`);
        }
      }
    }
    await this.loadFirewall(fresh);
    for (const n of fresh) this.makeNode(n);
    // Old nodes see the grown file's node (new interfaces, new lines).
    const old = new Map<string, NodeSpec>();
    for (const n of next.nodes) {
      const node = this.byName.get(n.name)!;
      if (!fresh.includes(n)) old.set(n.name, node.spec);
      node.spec = n;
    }
    const newLinks = next.links.slice(this.linkList.length);
    const made: Link[] = [];
    for (const l of newLinks) made.push(this.makeLink(l));
    for (const n of fresh) await this.configure(this.byName.get(n.name)!);
    // The new link ends of old nodes: up, their MTU and MAC, into the bridge, then addresses.
    const added: { node: Node; s: InterfaceSpec }[] = [];
    for (const [name, was] of old) {
      const node = this.byName.get(name)!;
      for (const s of node.spec.interfaces) {
        const before = was.interfaces.find((i) => i.name === s.name);
        if (!before) {
          added.push({ node, s });
          const iface = node.iface(s.name);
          const what = `interface ${name}:${s.name}`;
          if (s.mtu !== undefined) this.step(s.origin, `${what} mtu`, () => iface.setMtu(s.mtu!));
          if (s.mac !== undefined) this.step(s.origin, `${what} ether`, () => iface.setMac(s.mac!));
          if (s.up) this.step(s.origin, `${what} up`, () => iface.setUp());
        } else if (s.kind === "bridge") {
          const bridge = node.iface(s.name);
          for (const m of s.members ?? []) if (!(before.members ?? []).includes(m)) this.step(s.origin, `interface ${name}:${s.name} addm ${m}`, () => bridgeAdd(k, bridge, node.iface(m)));
        }
      }
    }
    for (const n of fresh) this.configureInet(this.byName.get(n.name)!);
    for (const n of fresh) await this.configureFirewall(this.byName.get(n.name)!);
    for (const { node, s } of added) {
      const iface = node.iface(s.name);
      s.addresses.forEach((a, i) => this.step(addressOrigin(s, i), `${node.name}:${s.name} ${a}`, () => addAddress(k, iface, a)));
    }
    for (const link of made) {
      const { forward, reverse } = link.spec;
      try {
        if (Object.keys(forward).length) link.ends[0].setConditions(forward);
        if (Object.keys(reverse).length) link.ends[1].setConditions(reverse);
      } catch (e) {
        throw errAt(link.spec.origin, `bad condition value: ${because(e)}`);
      }
    }
    for (const n of fresh) {
      const node = this.byName.get(n.name)!;
      for (const sv of n.services) {
        try {
          this.services.push(await startService(k, node.vnet, sv, n.name));
        } catch (e) {
          throw errAt(sv.origin, `service ${sv.kind} on port ${sv.port}: ${because(e)}`);
        }
      }
    }
    // Old links keep their objects and counters; their specs are the grown file's (lines).
    next.links.forEach((l, i) => {
      if (i < this.linkList.length - made.length) (this.linkList[i] as { spec: LinkSpec }).spec = l;
    });
    this.#spec = next;
    return { grown: true, nodes: fresh.map((n) => n.name), links: made.length };
  }

  /** Where the websocket interfaces with `listen: true` are served (undefined: none are). */
  get listener(): { host: string; port: number; url(path: string): string } | undefined {
    return this.#listener;
  }

  /** Bring spec up; on any failure everything made so far is torn down and a TopologyError names the line. */
  static async up(spec: TopologySpec, opts: UpOptions = {}): Promise<Topology> {
    const signal = opts.signal;
    if (signal?.aborted) throw abortError(signal, "Topology.up");
    preflight(spec, opts);
    let kernel = opts.kernel;
    const own = !kernel;
    const t0 = performance.now();
    if (!kernel) {
      // A peer in another process or page cannot share virtual time: with websocket
      // interfaces the default clock is real (and a virtual one is refused by preflight).
      const clockKind = opts.clock ?? spec.clock ?? (webSocketsOf(spec).length ? "real" : "virtual");
      try {
        kernel = await Kernel.boot({ config: spec.kernel, clock: clockKind === "virtual" ? new ScheduleClock() : "real", seed: opts.seed ?? spec.seed ?? 1 });
      } catch (e) {
        throw new TopologyError(`kernel ${JSON.stringify(spec.kernel)}: ${because(e)}`, spec.file);
      }
    }
    const t = new Topology(kernel, spec, own, opts.pcapDir);
    t.#hooks = opts.partition;
    t.bootMs = own ? performance.now() - t0 : 0;
    try {
      const listens = webSocketsOf(spec).filter((w) => w.iface.listen);
      if (listens.length) {
        try {
          t.#listener = await createWebSocketListener(opts.listen!);
        } catch (e) {
          throw errAt(listens[0].iface.origin, `${listens[0].node}:${listens[0].iface.name}: ${because(e)}`);
        }
      }
      await t.build(signal);
    } catch (e) {
      try {
        await t.down();
      } catch {
        // the build error is the one worth reporting
      }
      throw e instanceof TopologyError || e instanceof AbortError ? e : new TopologyError(because(e), spec.file);
    }
    return t;
  }

  /** Build in phases; between them, and before each service, an abort is honoured. */
  private async build(signal?: AbortSignal): Promise<void> {
    const check = () => {
      if (signal?.aborted) throw abortError(signal, "Topology.up");
    };
    const k = this.kernel;
    const spec = this.spec;
    // Modules the nodes ask for that the boot configuration lacks.
    for (const n of spec.nodes) {
      for (const m of n.modules) {
        if (k.linker.isLoaded(m)) continue;
        try {
          await k.kldload(m);
        } catch (e) {
          throw errAt(n.origin, `kldload ${m}: ${because(e)}`);
        }
      }
    }
    await this.loadFirewall(spec.nodes);
    check();
    k.reclaim();
    this.baseline = { pages: k.accounting().pagesInUse, zones: zonesInUse(k) };

    const hooks = this.#hooks;
    for (const n of spec.nodes) {
      hooks?.beforeNode?.(k, n);
      this.makeNode(n);
    }
    for (const l of spec.links) this.makeLink(l);
    if (hooks) {
      for (const f of hooks.foreign) {
        const node = this.byName.get(f.node)!;
        const s = node.spec.interfaces.find((i) => i.name === f.iface)!;
        this.attach(node, f.iface, this.step(s.origin, `interface ${f.node}:${f.iface}`, () => hooks.foreignEnd(k, node.vnet, f.node, f.iface)));
      }
      for (const node of this.byName.values()) {
        for (const [name, i] of node.ifaces) hooks.linkEnd?.(k, i.iface, node.name, name);
      }
    }
    check();
    // Every node's interfaces first, then addresses and routes: the gratuitous ARPs and the
    // floods they cause then find every link end up (no bring-up errors in the counters).
    for (const n of spec.nodes) await this.configure(this.byName.get(n.name)!);
    check();
    for (const n of spec.nodes) this.configureInet(this.byName.get(n.name)!);
    for (const n of spec.nodes) await this.configureFirewall(this.byName.get(n.name)!);
    for (const link of this.linkList) {
      const { forward, reverse } = link.spec;
      try {
        if (Object.keys(forward).length) link.ends[0].setConditions(forward);
        if (Object.keys(reverse).length) link.ends[1].setConditions(reverse);
      } catch (e) {
        throw errAt(link.spec.origin, `bad condition value: ${because(e)}`);
      }
    }
    for (const n of spec.nodes) {
      const node = this.byName.get(n.name)!;
      for (const s of n.services) {
        check();
        try {
          this.services.push(await startService(k, node.vnet, s, n.name));
        } catch (e) {
          throw errAt(s.origin, `service ${s.kind} on port ${s.port}: ${because(e)}`);
        }
      }
    }
  }

  /** A node's vnet, named after it (an error at the node's line). */
  private makeNode(n: NodeSpec): Node {
    let vnet: Vnet;
    try {
      vnet = this.kernel.createVnet(n.name);
    } catch (e) {
      throw errAt(n.origin, `node ${n.name}: ${because(e)}`);
    }
    const node = new Node(n.name, vnet, n);
    this.byName.set(n.name, node);
    // A vnet made while ipfw is loaded starts denying: open it until its rules are in (configureFirewall).
    if (this.kernel.linker.isLoaded("ipfw")) this.step(n.origin, `${n.name} firewall default`, () => ipfwSetDefault(this.kernel, vnet, true));
    return node;
  }

  /** A link's epair between its nodes, each end attached under the file's interface name. */
  private makeLink(l: LinkSpec): Link {
    const na = this.byName.get(l.a.node)!;
    const nb = this.byName.get(l.b.node)!;
    let ends: [Interface, Interface];
    try {
      ends = this.kernel.epair(na.vnet, nb.vnet);
    } catch (e) {
      throw errAt(l.origin, `link ${l.a.node}:${l.a.iface} - ${l.b.node}:${l.b.iface}: ${because(e)}`);
    }
    const link = new Link(l, ends);
    this.linkList.push(link);
    this.byEndpoint.set(link.a, link);
    this.byEndpoint.set(link.b, link);
    this.attach(na, l.a.iface, ends[0]);
    this.attach(nb, l.b.iface, ends[1]);
    return link;
  }

  private attach(node: Node, name: string, iface: Interface): void {
    const s = node.spec.interfaces.find((i) => i.name === name)!;
    node.ifaces.set(name, { name, kind: s.kind, iface, addresses: s.addresses });
  }

  /** Interfaces of one node: bridges and vxlan ports made, MTU, MAC, members, up. */
  private async configure(node: Node): Promise<void> {
    const k = this.kernel;
    const n = node.spec;
    // Interfaces that are not link ends: bridges and VXLAN ports, in file order.
    for (const s of n.interfaces) {
      if (s.kind === "bridge") {
        const made = this.step(s.origin, `bridge ${s.name}`, () => node.vnet.ifcreate("bridge"));
        node.ifaces.set(s.name, { name: s.name, kind: "bridge", iface: made[0], addresses: s.addresses });
      } else if (s.kind === "vxlan") {
        let port: VxlanPort;
        try {
          port = await createVxlanPort(k, node.vnet, { name: s.name, vni: s.vni!, remote: s.remote!, localPort: s.localPort ?? 0 });
        } catch (e) {
          throw errAt(s.origin, because(e));
        }
        this.vxlans.push({
          close: async () => {
            if (port.alive) port.destroy();
            await port.whenClosed();
          },
        });
        node.ifaces.set(s.name, { name: s.name, kind: "vxlan", iface: port, addresses: s.addresses });
      } else if (s.kind === "websocket") {
        let ws: WebSocketInterface;
        try {
          if (s.url !== undefined) ws = await connectWebSocket(k, node.vnet, { name: s.name, url: s.url });
          else {
            ws = createWebSocketInterface(k, node.vnet, { name: s.name });
            this.#listener!.serve(`/${n.name}/${s.name}`, ws);
          }
        } catch (e) {
          throw errAt(s.origin, because(e));
        }
        this.websockets.push(ws);
        node.ifaces.set(s.name, { name: s.name, kind: "websocket", iface: ws, addresses: s.addresses });
      }
    }
    for (const s of n.interfaces) {
      const iface = node.ifaces.get(s.name)!.iface;
      const what = `interface ${n.name}:${s.name}`;
      if (s.mtu !== undefined) this.step(s.origin, `${what} mtu`, () => iface.setMtu(s.mtu!));
      if (s.mac !== undefined) this.step(s.origin, `${what} ether`, () => iface.setMac(s.mac!));
      if (s.kind === "bridge") for (const m of s.members ?? []) this.step(s.origin, `${what} addm ${m}`, () => bridgeAdd(k, iface, node.iface(m)));
      if (s.up) this.step(s.origin, `${what} up`, () => iface.setUp());
    }
  }

  /** Addresses, forwarding, sysctls and routes of one node (every interface is up by now). */
  private configureInet(node: Node): void {
    const k = this.kernel;
    const n = node.spec;
    for (const s of n.interfaces) {
      const iface = node.ifaces.get(s.name)!.iface;
      s.addresses.forEach((a, i) => {
        const origin = addressOrigin(s, i);
        this.step(origin, `${n.name}:${s.name} ${a}`, () => addAddress(k, iface, a));
      });
      // Router discovery (docs/slaac.md): a host interface solicits at once, a router's sends its first RA within 0.5 s.
      if (s.slaac) this.step(s.origin, `${n.name}:${s.name} accept_rtadv`, () => setAcceptRtadv(k, iface, true));
      if (s.advertise) this.step(s.origin, `${n.name}:${s.name} advertise`, () => advertise(k, iface, s.advertise!));
    }
    if (n.forwarding) {
      // A router forwards every family the kernel has.
      if (k.linker.isLoaded("inet")) this.step(n.origin, `${n.name} forwarding`, () => setForwarding(k, node.vnet, true));
      if (k.linker.isLoaded("inet6")) this.step(n.origin, `${n.name} forwarding (inet6)`, () => setForwarding6(k, node.vnet, true));
    }
    for (const [name, v] of Object.entries(n.sysctl)) {
      this.step(n.origin, `${n.name} sysctl ${name}`, () => sysctlKnob(name).set(k, node.vnet, v));
    }
    // All of a node's routes in one call (batched into the kernel); a refused one names its line.
    const routes = n.routes.map((r) => {
      const dev = r.dev !== undefined ? this.step(r.origin, `${n.name} route ${r.to}`, () => node.iface(r.dev!)) : undefined;
      return { to: r.to, via: r.via !== undefined ? { gateway: node.zoned(r.via), iface: dev } : { iface: dev! } };
    });
    addRoutes(k, node.vnet, routes, (i, e) => {
      throw errAt(n.routes[i]!.origin, `${n.name} route ${n.routes[i]!.to}: ${because(e)}`);
    });
  }

  /** kldload ipfw when one of nodes has a firewall or NAT (after the nodes' own modules: inet6 first, so IPv6 is filtered too). */
  private async loadFirewall(nodes: NodeSpec[]): Promise<void> {
    const first = nodes.find((n) => n.firewall);
    if (!first || this.kernel.linker.isLoaded("ipfw")) return;
    try {
      await this.kernel.kldload("ipfw");
    } catch (e) {
      throw errAt(first.origin, `kldload ipfw (for the firewall of ${first.name}): ${because(e)}`);
    }
  }

  /**
   * A node's firewall: its default rule (allow unless the file says deny; also for nodes
   * without a firewall while the module is loaded, whose vnets it would otherwise make deny
   * everything) and its rules in order, numbered as `ipfw add` numbers them. A refused rule
   * names its line.
   */
  private async configureFirewall(node: Node): Promise<void> {
    const k = this.kernel;
    if (!k.linker.isLoaded("ipfw")) return;
    const fw = node.spec.firewall;
    const backend = kernelIpfwBackend(k, node.vnet);
    const rename = (name: string) => (node.ifaces.has(name) ? node.iface(name).name : undefined);
    // NAT instances before the rules: a `nat N` rule sends packets to an instance that must exist.
    for (const n of fw?.nat ?? []) {
      const cfg = n.config.iface === undefined ? n.config : { ...n.config, iface: rename(n.config.iface) ?? n.config.iface };
      try {
        ipfwNatConfig(k, node.vnet, cfg);
      } catch (e) {
        throw errAt(n.origin, `${node.name} nat: ipfw nat ${n.text}: ${because(e)}`);
      }
    }
    for (const r of fw?.rules ?? []) {
      // `table N ...` lines fill tables, in list order with the rules (a rule naming a table
      // that is not there yet makes it empty, as ipfw does).
      const table = /^\s*table(\s|$)/.test(r.text);
      try {
        if (table) await ipfwCommand(backend, ["-q", r.text.trim()]);
        else await ipfwCommand(backend, ["add", kernelIfnames(r.text, rename)]);
      } catch (e) {
        throw errAt(r.origin, `${node.name} firewall: ipfw ${table ? "" : "add "}${r.text}: ${because(e)}`);
      }
    }
    // The default last: a deny set before the rules would refuse what the kernel sends in between.
    this.step(node.spec.origin, `${node.name} firewall default`, () => ipfwSetDefault(k, node.vnet, fw?.default !== "deny"));
  }

  /** Run one configuration call; its failure becomes a TopologyError at origin. */
  private step<T>(origin: Origin, what: string, f: () => T): T {
    try {
      return f();
    } catch (e) {
      throw errAt(origin, `${what}: ${because(e)}`);
    }
  }

  node(name: string): TopoNode {
    const n = this.byName.get(name);
    if (!n) throw new TopologyError(`no node "${name}" in topology ${this.spec.name}`, this.spec.file);
    return n;
  }

  nodes(): TopoNode[] {
    return [...this.byName.values()];
  }

  /**
   * A link by one endpoint ("r1:eth0"), or by both ends ("r1:eth0", "h1:eth0"), or by two
   * node names ("r1", "h1": the first link between them).
   */
  link(a: string, b?: string): TopoLink {
    if (b === undefined) {
      const l = this.byEndpoint.get(a);
      if (!l) throw new TopologyError(`no link at ${JSON.stringify(a)} (write "node:interface")`, this.spec.file);
      return l;
    }
    const match = (end: string, x: string) => end === x || end.split(":")[0] === x;
    const l = this.linkList.find((l) => (match(l.a, a) && match(l.b, b)) || (match(l.a, b) && match(l.b, a)));
    if (!l) throw new TopologyError(`no link between ${a} and ${b}`, this.spec.file);
    return l;
  }

  links(): TopoLink[] {
    return [...this.linkList];
  }

  /** The first IPv4 address of a node ("10.0.0.1"), or the text itself if it is an address. */
  addressOf(target: string, v6ok = false): string {
    if (/^\d+\.\d+\.\d+\.\d+$/.test(target) || (v6ok && target.includes(":"))) return target;
    const n = this.byName.get(target);
    if (!n) throw new TopologyError(`no node "${target}"`, this.spec.file);
    for (const i of n.spec.interfaces) for (const a of i.addresses) if (!a.includes(":")) return a.split("/")[0];
    // A node with IPv6 only: its first global address (a ping step may aim at it).
    if (v6ok) for (const i of n.spec.interfaces) for (const a of i.addresses) if (a.includes(":") && !/^fe80:/i.test(a)) return a.split("/")[0];
    throw new TopologyError(`node ${target} has no IPv4 address`, this.spec.file);
  }

  /** Run the file's steps in order; a step that fails is a result with ok false, never a throw. */
  async runSteps(opts: RunOptions = {}): Promise<StepResult[]> {
    if (this.isDown) throw new TopologyError("runSteps: the topology was torn down", this.spec.file);
    return runSteps(this, opts);
  }

  /** Tear everything down: services, captures, links, vnets (and the kernel if up() booted it). */
  async down(): Promise<TeardownReport> {
    if (this.isDown) throw new TopologyError("down: the topology was already torn down", this.spec.file);
    this.isDown = true;
    const k = this.kernel;
    this.time.cancel();
    for (const s of this.services.splice(0)) await s.stop().catch(() => {});
    for (const c of this.captures.values()) await c.stop().catch(() => {});
    this.captures.clear();
    for (const v of this.vxlans.splice(0)) await v.close();
    // WebSocket ports: the listener's connections end with it; client ports close theirs.
    const listener = this.#listener;
    this.#listener = undefined;
    if (listener) await listener.close();
    for (const ws of this.websockets.splice(0)) {
      await ws.disconnect();
      if (ws.alive) ws.destroy();
      await ws.whenClosed();
    }
    // Give stream callbacks (closes, FINs) a turn, then close whatever host socket is left.
    await turn();
    const ours = new Set([...this.byName.values()].map((n) => n.vnet));
    let socketsLeft = 0;
    for (const so of k.sockets.all()) {
      if (ours.has(so.vnet)) {
        socketsLeft++;
        so.close();
      }
    }
    // The epairs first (each goes with both ends), then the vnets in reverse order.
    for (const l of this.linkList) if (l.ends[0].alive) l.ends[0].destroy();
    const leaks: LeakEntry[] = [];
    let vnets = 0;
    for (const n of [...this.byName.values()].reverse()) {
      if (!n.vnet.alive) continue;
      try {
        n.vnet.destroy();
      } catch (e) {
        if (e instanceof LeakError) leaks.push(...e.leaks);
        else throw e;
      }
      vnets++;
    }
    let pagesLeaked = 0;
    const itemsLeaked: Record<string, number> = {};
    if (this.baseline) {
      k.reclaim();
      pagesLeaked = k.accounting().pagesInUse - this.baseline.pages;
      for (const [z, used] of zonesInUse(k)) {
        const d = used - (this.baseline.zones.get(z) ?? 0);
        if (d !== 0) itemsLeaked[z] = d;
      }
    }
    if (this.ownKernel) k.shutdown();
    const ok = leaks.length === 0 && pagesLeaked === 0 && Object.keys(itemsLeaked).length === 0 && socketsLeft === 0;
    const items = Object.values(itemsLeaked).reduce((a, b) => a + b, 0);
    const text = `teardown: ${vnets} vnets destroyed, ${pagesLeaked} pages and ${items} items leaked` +
      (socketsLeft ? `, ${socketsLeft} sockets left open` : "") +
      (leaks.length ? `; leaks: ${leaks.map((l) => `${l.name} (${l.kind}) x${l.count}`).join(", ")}` : "") +
      (items ? `; items: ${Object.entries(itemsLeaked).map(([z, n]) => `${z} ${n}`).join(", ")}` : "");
    return { vnets, leaks, pagesLeaked, itemsLeaked, socketsLeft, ok, text };
  }

  /** @internal for the step runner */
  nodeByName(name: string): Node | undefined {
    return this.byName.get(name);
  }

  /** @internal for the step runner */
  linkAt(endpoint: string): Link | undefined {
    return this.byEndpoint.get(endpoint);
  }
}

function addressOrigin(s: InterfaceSpec, i: number): Origin {
  // Generated interfaces share their generator's origin; file interfaces name the address.
  return s.origin.path.startsWith("generators") ? s.origin : { ...s.origin, path: `${s.origin.path}.addresses[${i}]` };
}

/**
 * Checks that need the kernel's facts, before anything is made: IPv6 needs the inet6
 * module (a NOINET6 kernel has none: a clear error at the line, nothing made), and vnet
 * names already taken in a kernel the caller brought.
 */
function preflight(spec: TopologySpec, opts: UpOptions): void {
  const kernel = opts.kernel;
  const lm = loadLinkMap();
  const bootList = typeof spec.kernel === "string" ? lm.configs[spec.kernel] ?? [] : spec.kernel ?? lm.configs.GENERIC ?? [];
  const asked = spec.nodes.some((n) => n.modules.includes("inet6"));
  const hasInet6 = asked || (kernel ? kernel.linker.isLoaded("inet6") : bootList.includes("inet6"));
  const which = kernel ? "the kernel given" : `kernel ${JSON.stringify(spec.kernel ?? "GENERIC")}`;
  const why = `inet6 is not in this kernel (${which} has no inet6 module: boot GENERIC, or add inet6 to the node's modules)`;
  for (const n of spec.nodes) {
    if (hasInet6) break;
    for (const i of n.interfaces) {
      i.addresses.forEach((a, j) => {
        if (a.includes(":")) throw errAt(addressOrigin(i, j), `${n.name}:${i.name} ${a}: ${why}; IPv6 addresses cannot be configured`);
      });
      if (i.slaac || i.advertise) throw errAt(i.origin, `${n.name}:${i.name} ${i.slaac ? "slaac" : "advertise"}: ${why}; router discovery is IPv6`);
    }
    for (const r of n.routes) {
      if (r.to.includes(":") || (r.via ?? "").includes(":")) throw errAt(r.origin, `${n.name} route ${r.to}: ${why}`);
    }
  }
  const websockets = webSocketsOf(spec);
  const clock = kernel ? kernel.clock.kind : opts.clock ?? spec.clock ?? (websockets.length ? "real" : "virtual");
  if (websockets.length && clock !== "real") {
    const w = websockets[0];
    throw errAt(w.iface.origin, `${w.node}:${w.iface.name}: websocket interfaces need a real clock (clock: real, or --real-time): a peer in another process or page cannot share virtual time`);
  }
  const listens = websockets.filter((w) => w.iface.listen);
  if (listens.length && !opts.listen) {
    const w = listens[0];
    throw errAt(w.iface.origin, `${w.node}:${w.iface.name}: listen: true needs a listener (wavnet run --listen PORT, or Topology.up(spec, { listen: { port } }))`);
  }
  if (!listens.length && opts.listen) {
    throw new TopologyError(`listen: ${spec.name} has no websocket interface with listen: true to serve`, spec.file);
  }
  if (kernel) {
    const taken = new Set(kernel.vnets().map((v) => v.name));
    for (const n of spec.nodes) if (taken.has(n.name)) throw errAt(n.origin, `node ${n.name}: the kernel already has a vnet of that name`);
  }
}

/** The websocket interfaces of a spec, with their nodes' names. */
function webSocketsOf(spec: TopologySpec): { node: string; iface: InterfaceSpec }[] {
  const out: { node: string; iface: InterfaceSpec }[] = [];
  for (const n of spec.nodes) for (const i of n.interfaces) if (i.kind === "websocket") out.push({ node: n.name, iface: i });
  return out;
}
