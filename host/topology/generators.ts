// Generators: common shapes expanded into nodes and links with addresses and routes, so a
// thousand-node tree is four lines of YAML. Every link gets its own /30 from the generator's
// subnet; routes are set so any node reaches any other:
//   chain  n1 - n2 - ... - nL: ends are hosts (default route), the rest routers with a route
//          to every link not their own (shortest path).
//   star   centre s0 and leaves s1..sN: a bridge centre puts every leaf on one subnet; a
//          router centre gives each leaf its own /30 and a default route through the centre.
//   tree   root t, children t-1..t-F, grandchildren t-1-1..: routers inside, hosts at the
//          leaves. Each subtree's links sit in one aligned block, so a router needs one route
//          per child (the child's block) plus a default route up: O(nodes) routes in all.
//   grid   routers g-1-1 .. g-R-C linked to their right and lower neighbours, shortest-path
//          routes to every link (O(nodes x links) routes: keep grids to a few hundred nodes).
// Interfaces are eth0, eth1, ... in the order the node's links are made; in a tree eth0 is
// the uplink and ethK leads to child K.

import type { NodeSpec, LinkSpec, InterfaceSpec, LinkConditions, Origin, Role } from "./spec.js";
import { v4text, mask } from "../lib/units.js";
import { show } from "../lib/format.js";

export const GENERATOR_PARAMS: Record<string, string[]> = {
  chain: ["length"],
  star: ["leaves", "center"],
  tree: ["depth", "fanout"],
  grid: ["rows", "cols"],
};
/** Parameters every shape takes. */
export const COMMON_PARAMS = ["shape", "name", "subnet", "conditions"];
export const REQUIRED_PARAMS: Record<string, string[]> = { chain: ["length"], star: ["leaves"], tree: ["depth", "fanout"], grid: ["rows", "cols"] };

export interface GeneratorInput {
  shape: "chain" | "star" | "tree" | "grid";
  name: string;
  params: Record<string, unknown>;
  /** Base address and prefix length of the addresses to use. */
  subnet: { addr: number; plen: number };
  conditions: LinkConditions;
  origin: Origin;
}

export interface Generated {
  nodes: NodeSpec[];
  links: LinkSpec[];
}

/** A problem with the parameters (the caller adds file and line). */
export class GeneratorError extends Error {
  constructor(message: string, readonly param?: string) {
    super(message);
  }
}

class Builder {
  readonly nodes: NodeSpec[] = [];
  readonly links: LinkSpec[] = [];
  private readonly byName = new Map<string, NodeSpec>();
  private next = 0;

  constructor(readonly g: GeneratorInput) {}

  node(name: string, role: Role): NodeSpec {
    const n: NodeSpec = {
      name, role, modules: [], sysctl: {}, forwarding: role === "router", interfaces: [], routes: [], services: [],
      generator: `${this.g.shape} ${this.g.name}`, origin: this.g.origin,
    };
    this.nodes.push(n);
    this.byName.set(name, n);
    return n;
  }

  iface(n: NodeSpec, addresses: string[], name = `eth${n.interfaces.filter((i) => i.kind === "ether").length}`): InterfaceSpec {
    const i: InterfaceSpec = { name, kind: "ether", addresses, up: true, origin: this.g.origin };
    n.interfaces.push(i);
    return i;
  }

  /** Link a and b: a new interface on each (or the ones named), addresses given in full. */
  link(a: NodeSpec, b: NodeSpec, aAddr: string[], bAddr: string[], aIf?: string, bIf?: string): LinkSpec {
    const ia = this.iface(a, aAddr, aIf);
    const ib = this.iface(b, bAddr, bIf);
    const l: LinkSpec = {
      a: { node: a.name, iface: ia.name }, b: { node: b.name, iface: ib.name },
      forward: { ...this.g.conditions }, reverse: { ...this.g.conditions }, schedule: [], origin: this.g.origin,
    };
    this.links.push(l);
    return l;
  }

  /** The next /30 of the subnet: [network, .1, .2]. */
  p2p(): [number, string, string] {
    const base = this.take(4);
    return [base, `${v4text(base + 1)}/30`, `${v4text(base + 2)}/30`];
  }

  /** n addresses (a power of two, aligned) from the subnet, in order. */
  take(n: number): number {
    const size = 2 ** (32 - this.g.subnet.plen);
    const at = Math.ceil(this.next / n) * n;
    if (at + n > size) throw new GeneratorError(`subnet ${v4text(this.g.subnet.addr)}/${this.g.subnet.plen} has ${size} addresses; this ${this.g.shape} needs more (give a larger "subnet")`, "subnet");
    this.next = at + n;
    return (this.g.subnet.addr + at) >>> 0;
  }

  route(n: NodeSpec, to: string, via: string): void {
    n.routes.push({ to, via, origin: this.g.origin });
  }
}

function int(g: GeneratorInput, p: string, min: number, max: number): number {
  const v = g.params[p];
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new GeneratorError(`${g.shape} ${p} must be an integer from ${min} to ${max}, got ${show(v)}`, p);
  }
  return v;
}

const MAX_NODES = 100_000;

export function generate(g: GeneratorInput): Generated {
  const b = new Builder(g);
  switch (g.shape) {
    case "chain":
      chain(b, int(g, "length", 2, MAX_NODES));
      break;
    case "star":
      star(b, int(g, "leaves", 1, 4094), (g.params.center as string | undefined) ?? "bridge");
      break;
    case "tree": {
      const depth = int(g, "depth", 1, 32);
      const fanout = int(g, "fanout", 1, 4096);
      let total = 1;
      for (let l = 1, w = 1; l <= depth; l++) total += (w *= fanout);
      if (total > MAX_NODES) throw new GeneratorError(`tree depth ${depth} fanout ${fanout} has ${total} nodes; at most ${MAX_NODES}`, "depth");
      tree(b, depth, fanout);
      break;
    }
    case "grid": {
      const rows = int(g, "rows", 1, 1000);
      const cols = int(g, "cols", 1, 1000);
      if (rows * cols > 4096) throw new GeneratorError(`grid ${rows}x${cols} has ${rows * cols} routers; at most 4096 (routes grow as nodes x links)`, "rows");
      grid(b, rows, cols);
      break;
    }
  }
  return { nodes: b.nodes, links: b.links };
}

function chain(b: Builder, length: number): void {
  const n: NodeSpec[] = [];
  for (let i = 1; i <= length; i++) n.push(b.node(`${b.g.name}${i}`, i === 1 || i === length ? "host" : "router"));
  for (let i = 0; i + 1 < length; i++) {
    const [, x, y] = b.p2p();
    b.link(n[i], n[i + 1], [x], [y]);
  }
  shortestPathRoutes(n, b.links);
}

function star(b: Builder, leaves: number, center: string): void {
  if (center !== "bridge" && center !== "router") throw new GeneratorError(`star center must be "bridge" or "router", got ${show(center)}`, "center");
  const hub = b.node(`${b.g.name}0`, center === "bridge" ? "bridge" : "router");
  if (center === "bridge") {
    let size = 4;
    while (size < leaves + 2) size *= 2;
    const net = b.take(size);
    const plen = 32 - Math.log2(size);
    for (let i = 1; i <= leaves; i++) {
      const leaf = b.node(`${b.g.name}${i}`, "host");
      b.link(hub, leaf, [], [`${v4text(net + i)}/${plen}`], `p${i}`);
    }
    hub.interfaces.push({ name: "bridge0", kind: "bridge", addresses: [], up: true, members: hub.interfaces.map((i) => i.name), origin: b.g.origin });
    return;
  }
  for (let i = 1; i <= leaves; i++) {
    const leaf = b.node(`${b.g.name}${i}`, "host");
    const [, x, y] = b.p2p();
    b.link(hub, leaf, [x], [y]);
    b.route(leaf, "default", x.slice(0, -3));
  }
}

function tree(b: Builder, depth: number, fanout: number): void {
  // Addresses a subtree rooted at level l needs (its uplink /30 and its children's blocks).
  const size: number[] = new Array(depth + 1);
  size[depth] = 4;
  for (let l = depth - 1; l >= 1; l--) size[l] = pow2((fanout + 1) * size[l + 1]);
  const rootSize = pow2(fanout * size[1]);
  const base = b.take(rootSize);
  const root = b.node(b.g.name, depth === 0 ? "host" : "router");
  // Iterative depth-first walk (a recursion 32 deep is fine, but a queue keeps the node order breadth-first).
  interface Item { node: NodeSpec; level: number; block: number }
  let frontier: Item[] = [{ node: root, level: 0, block: base }];
  for (let level = 1; level <= depth; level++) {
    const nextFrontier: Item[] = [];
    const c = size[level];
    for (const parent of frontier) {
      // The root's children start at the root block's first address; others after the uplink /30.
      const first = parent.level === 0 ? parent.block : parent.block + c;
      for (let k = 1; k <= fanout; k++) {
        const block = (first + (k - 1) * c) >>> 0;
        const child = b.node(`${parent.node.name}-${k}`, level === depth ? "host" : "router");
        const up = v4text(block + 1);
        const down = v4text(block + 2);
        b.link(parent.node, child, [`${up}/30`], [`${down}/30`], `eth${k}`, "eth0");
        b.route(child, "default", up);
        if (level < depth) b.route(parent.node, `${v4text(block)}/${32 - Math.log2(c)}`, down);
        nextFrontier.push({ node: child, level, block });
      }
    }
    frontier = nextFrontier;
  }
}

function grid(b: Builder, rows: number, cols: number): void {
  const at: NodeSpec[][] = [];
  for (let r = 1; r <= rows; r++) {
    at.push([]);
    for (let c = 1; c <= cols; c++) at[r - 1].push(b.node(`${b.g.name}-${r}-${c}`, "router"));
  }
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      if (c + 1 < cols) {
        const [, x, y] = b.p2p();
        b.link(at[r][c], at[r][c + 1], [x], [y]);
      }
      if (r + 1 < rows) {
        const [, x, y] = b.p2p();
        b.link(at[r][c], at[r + 1][c], [x], [y]);
      }
    }
  }
  shortestPathRoutes(at.flat(), b.links);
}

function pow2(n: number): number {
  let p = 4;
  while (p < n) p *= 2;
  return p;
}

/**
 * Static routes along shortest paths (breadth-first from every router): each router gets a
 * route to every link subnet it is not on, through the neighbour on its shortest path to
 * that link; a host with one link gets a default route through its neighbour.
 */
export function shortestPathRoutes(nodes: NodeSpec[], links: LinkSpec[]): void {
  const index = new Map(nodes.map((n, i) => [n.name, i]));
  const addrOf = (node: string, iface: string) => {
    const n = nodes[index.get(node)!];
    return n.interfaces.find((i) => i.name === iface)!.addresses[0];
  };
  // adjacency: node -> [neighbour index, neighbour's address on the shared link]
  const adj: [number, string][][] = nodes.map(() => []);
  const nets: { net: string; ends: [number, number] }[] = [];
  for (const l of links) {
    const a = index.get(l.a.node)!;
    const bb = index.get(l.b.node)!;
    const aa = addrOf(l.a.node, l.a.iface);
    const ba = addrOf(l.b.node, l.b.iface);
    adj[a].push([bb, ba.split("/")[0]]);
    adj[bb].push([a, aa.split("/")[0]]);
    const [ip, plen] = aa.split("/");
    const p = Number(plen);
    const net = (ipNum(ip) & mask(p)) >>> 0;
    nets.push({ net: `${v4text(net)}/${p}`, ends: [a, bb] });
  }
  // Plain indexed loops over flat arrays: a 10 x 10 grid runs the inner loop 17,800 times,
  // in a worker whose code is still cold (for-of with destructuring there took ~100x the
  // time it takes warm).
  const nNets = nets.length;
  const netText = nets.map((x) => x.net);
  const endA = Int32Array.from(nets, (x) => x.ends[0]);
  const endB = Int32Array.from(nets, (x) => x.ends[1]);
  const dist = new Int32Array(nodes.length);
  const hop: string[] = new Array<string>(nodes.length).fill("");
  const q = new Int32Array(nodes.length);
  for (let s = 0; s < nodes.length; s++) {
    const n = nodes[s];
    if (n.role !== "router") {
      if (adj[s].length === 1) n.routes.push({ to: "default", via: adj[s][0][1], origin: n.origin });
      continue;
    }
    // BFS: first hop (address) towards every node.
    dist.fill(-1);
    dist[s] = 0;
    q[0] = s;
    let tail = 1;
    for (let h = 0; h < tail; h++) {
      const u = q[h];
      const nb = adj[u];
      for (let j = 0; j < nb.length; j++) {
        const v = nb[j][0];
        if (dist[v] >= 0) continue;
        dist[v] = dist[u] + 1;
        hop[v] = u === s ? nb[j][1] : hop[u];
        q[tail++] = v;
      }
    }
    const routes = n.routes;
    const origin = n.origin;
    for (let i = 0; i < nNets; i++) {
      const x = endA[i];
      const y = endB[i];
      if (x === s || y === s) continue;
      const near = dist[x] < 0 ? y : dist[y] < 0 ? x : dist[x] <= dist[y] ? x : y;
      if (dist[near] < 0) continue;
      routes.push({ to: netText[i], via: hop[near], origin });
    }
  }
}

function ipNum(s: string): number {
  const b = s.split(".").map(Number);
  return ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
}
