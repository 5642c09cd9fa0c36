// The partitioner: which kernel (partition, one per worker) each node of a topology runs in,
// and which links therefore cross between kernels. Platform-neutral, pure: a spec in, a plan
// out. The heuristic, in order (docs/scale.md says why):
//   1. Links that cannot be cut are contracted: a link with no delay in a direction (no
//      lookahead: the kernels would have to run in lockstep per microsecond), one that
//      reorders, or has jitter with a rate or jitter not below its delay (loss, duplication
//      and jitter are drawn from the link's own stream on either side: xlink.ts), one with a
//      schedule or named by a link step, and the two ends of a tcp
//      or udp step (both halves of such a step run in one kernel). What is left are groups.
//   2. Partition hints (`partition:` on a node) pin their group; two hints in one group are
//      an error at the second node's line.
//   3. Groups are weighed: one per node plus its share of the expected traffic (the bytes
//      the steps move, counted on every node of the step's fewest-hop path, scaled so the
//      whole traffic weighs as much as all the nodes), and placed heaviest first on the partition that is lightest after
//      it, among those within the balance bound, preferring the one it has the most
//      affinity to (links to groups already there, weighted by 1/delay: cutting a short
//      link costs more synchronization than cutting a long one).
// A plan with fewer groups than partitions asked for uses as many partitions as groups.

import type { TopologySpec, LinkSpec, NodeSpec, StepSpec, Origin } from "../topology/spec.js";
import { TopologyError } from "../topology/errors.js";

export interface CutLink {
  /** Index of the link in spec.links. */
  index: number;
  link: LinkSpec;
  /** Partitions of the a and b ends. */
  pa: number;
  pb: number;
  /** Lookahead of each direction, µs: the delay less the jitter of a -> b and of b -> a (both > 0). */
  lookaheadAB: number;
  lookaheadBA: number;
}

export interface PartitionPlan {
  /** Partitions used (at most the number asked for; fewer when there are fewer groups). */
  partitions: number;
  /** Node name -> partition. */
  partitionOf: Map<string, number>;
  /** Node names per partition, in file order. */
  nodesOf: string[][];
  /** Links whose ends are in different partitions, in file order. */
  cut: CutLink[];
  /** Expected load per partition (nodes + traffic share). */
  load: number[];
  /** Why fewer partitions than asked, if so. */
  note?: string;
}

function errAt(o: Origin, reason: string): TopologyError {
  return new TopologyError(reason, o.file, o.line, o.column, o.path);
}

/** Why a link cannot be cut ("" when it can). */
export function uncuttable(l: LinkSpec): string {
  const f = l.forward;
  const r = l.reverse;
  if (!f.delayUs || !r.delayUs) return "it has no delay in both directions (no lookahead)";
  for (const c of [f, r]) {
    // Loss and duplication are drawn from the link's own stream on either side (xlink.ts).
    if (c.reorder) return "it reorders (a reordered frame arrives as it leaves: no lookahead)";
    if (c.jitterUs && c.rateBps) return "it has jitter and a rate (the jitter is drawn when a frame leaves the link)";
    if (c.jitterUs && c.jitterUs >= c.delayUs!) return "its jitter is not below its delay (delay - jitter is the lookahead)";
  }
  if (l.schedule.length) return "it has a schedule";
  return "";
}

/** Bytes a step is expected to move (both directions), for the load estimate. */
function stepBytes(s: StepSpec): number {
  switch (s.action) {
    case "tcp":
      return s.bytes;
    case "udp":
      return s.count * s.size;
    case "ping":
      return 2 * s.count * (s.size + 28);
    case "http":
      return 2048;
    default:
      return 0;
  }
}

class UnionFind {
  readonly up: number[];
  constructor(n: number) {
    this.up = Array.from({ length: n }, (_, i) => i);
  }
  find(i: number): number {
    while (this.up[i] !== i) i = this.up[i] = this.up[this.up[i]!]!;
    return i;
  }
  union(a: number, b: number): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra !== rb) this.up[Math.max(ra, rb)] = Math.min(ra, rb); // the lower index roots: deterministic
  }
}

/**
 * Place spec's nodes on up to `n` partitions. Throws a TopologyError (file:line:col) when the
 * hints cannot hold: a hint outside 0 .. n-1, or two hints in a group that cannot be cut.
 */
export function partition(spec: TopologySpec, n: number): PartitionPlan {
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new TopologyError(`--workers must be an integer from 1 to 256, got ${n}`, spec.file);
  const nodes = spec.nodes;
  const index = new Map<string, number>(nodes.map((x, i) => [x.name, i]));
  for (const x of nodes) {
    if (x.partition !== undefined && x.partition >= n) {
      throw errAt(x.partitionOrigin ?? x.origin, `node ${x.name}: partition ${x.partition}, but the run has ${n} partition${n === 1 ? "" : "s"} (0 .. ${n - 1})`);
    }
  }
  const uf = new UnionFind(nodes.length);
  // Why two nodes were joined, for the error when their hints disagree.
  const why: { a: number; b: number; reason: string; origin: Origin }[] = [];
  const join = (a: string, b: string, reason: string, origin: Origin) => {
    const ia = index.get(a);
    const ib = index.get(b);
    if (ia === undefined || ib === undefined) return;
    why.push({ a: ia, b: ib, reason, origin });
    uf.union(ia, ib);
  };
  const linkSteps = new Set(spec.steps.filter((s) => s.action === "link").map((s) => (s as { endpoint: string }).endpoint));
  for (const l of spec.links) {
    let r = uncuttable(l);
    if (!r && (linkSteps.has(`${l.a.node}:${l.a.iface}`) || linkSteps.has(`${l.b.node}:${l.b.iface}`))) r = "a link step changes it";
    if (r) join(l.a.node, l.b.node, `link ${l.a.node}:${l.a.iface} - ${l.b.node}:${l.b.iface} (line ${l.origin.line}) cannot cross partitions: ${r}`, l.origin);
  }
  for (const s of spec.steps) {
    if (s.action === "tcp" || s.action === "udp") {
      const to = ownerName(spec, s.to);
      if (to) join(s.from, to, `the ${s.action} step at line ${s.origin.line} runs both its ends in one kernel (${s.from} and ${to})`, s.origin);
    }
  }
  // Groups, in the order of their first node.
  const groupOf = nodes.map((_, i) => uf.find(i));
  const roots = [...new Set(groupOf)];
  const members = new Map<number, number[]>(roots.map((r) => [r, []]));
  groupOf.forEach((r, i) => members.get(r)!.push(i));
  // Hints: one per group at most.
  const pinned = new Map<number, number>();
  for (const r of roots) {
    let hinted: NodeSpec | undefined;
    for (const i of members.get(r)!) {
      const x = nodes[i]!;
      if (x.partition === undefined) continue;
      if (!hinted) hinted = x;
      else if (hinted.partition !== x.partition) {
        const because = chain(why, index.get(hinted.name)!, i).map((w) => `; ${w.reason}`).join("");
        throw errAt(x.partitionOrigin ?? x.origin,
          `node ${x.name}: partition ${x.partition}, but it must share a kernel with ${hinted.name} (partition ${hinted.partition})${because}`);
      }
    }
    if (hinted) pinned.set(r, hinted.partition!);
  }
  // Weights: a node is 1; the traffic of all steps together weighs as much as all the nodes.
  // A step's bytes load every node on its path (fewest hops), the ends and the routers between.
  const traffic = new Array<number>(nodes.length).fill(0);
  const adj: number[][] = nodes.map(() => []);
  for (const l of spec.links) {
    const a = index.get(l.a.node)!;
    const b = index.get(l.b.node)!;
    adj[a]!.push(b);
    adj[b]!.push(a);
  }
  let total = 0;
  for (const s of spec.steps) {
    const b = stepBytes(s);
    const from = index.get((s as { from?: string }).from ?? "");
    const to = index.get(ownerName(spec, (s as { to?: string }).to ?? "") ?? "");
    if (!b || from === undefined) continue;
    for (const i of path(adj, from, to ?? from)) {
      traffic[i]! += b;
      total += b;
    }
  }
  const weight = (i: number) => 1 + (total ? (traffic[i]! / total) * nodes.length : 0);
  const groupWeight = new Map<number, number>(roots.map((r) => [r, members.get(r)!.reduce((a, i) => a + weight(i), 0)]));
  const parts = Math.min(n, roots.length);
  const note = parts < n ? `${n} partitions asked, ${parts} used: the links that cannot be cut leave ${roots.length} group${roots.length === 1 ? "" : "s"}` : undefined;
  // Affinity between groups: 1/delay (ms) of every cuttable link between them.
  const affinity = new Map<number, Map<number, number>>();
  for (const l of spec.links) {
    const ga = groupOf[index.get(l.a.node)!]!;
    const gb = groupOf[index.get(l.b.node)!]!;
    if (ga === gb) continue;
    const w = 1000 / Math.min(l.forward.delayUs! - (l.forward.jitterUs ?? 0), l.reverse.delayUs! - (l.reverse.jitterUs ?? 0));
    for (const [x, y] of [[ga, gb], [gb, ga]] as const) {
      const m = affinity.get(x) ?? new Map<number, number>();
      m.set(y, (m.get(y) ?? 0) + w);
      affinity.set(x, m);
    }
  }
  const load = new Array<number>(parts).fill(0);
  const placed = new Map<number, number>();
  for (const [r, p] of pinned) {
    if (p >= parts) {
      // A hint past the partitions there are groups for: every group is pinned or some partition stays empty.
      const x = nodes[members.get(r)!.find((i) => nodes[i]!.partition !== undefined)!]!;
      throw errAt(x.partitionOrigin ?? x.origin, `node ${x.name}: partition ${p}, but only ${parts} partition${parts === 1 ? "" : "s"} can be used (${note})`);
    }
    placed.set(r, p);
    load[p]! += groupWeight.get(r)!;
  }
  const sumW = [...groupWeight.values()].reduce((a, b) => a + b, 0);
  const maxW = Math.max(...groupWeight.values());
  const bound = sumW / parts + maxW / 2;
  const free = roots.filter((r) => !placed.has(r)).sort((a, b) => groupWeight.get(b)! - groupWeight.get(a)! || a - b);
  const used = new Set(placed.values());
  free.forEach((r, k) => {
    const w = groupWeight.get(r)!;
    // Every partition must get a group: while no more groups are left than empty partitions, fill those.
    const empty = load.map((_, p) => p).filter((p) => !used.has(p));
    const left = free.length - k;
    let choices = empty.length && left <= empty.length ? empty : load.map((_, p) => p);
    const within = choices.filter((p) => load[p]! + w <= bound);
    if (within.length) choices = within;
    let best = choices[0]!;
    let bestKey = [-Infinity, Infinity];
    for (const p of choices) {
      let aff = 0;
      for (const [g, a] of affinity.get(r) ?? []) if (placed.get(g) === p) aff += a;
      const key = [aff, load[p]!];
      if (key[0]! > bestKey[0]! || (key[0] === bestKey[0] && key[1]! < bestKey[1]!)) {
        best = p;
        bestKey = key;
      }
    }
    placed.set(r, best);
    used.add(best);
    load[best]! += w;
  });
  const partitionOf = new Map<string, number>();
  const nodesOf: string[][] = Array.from({ length: parts }, () => []);
  nodes.forEach((x, i) => {
    const p = placed.get(groupOf[i]!)!;
    partitionOf.set(x.name, p);
    nodesOf[p]!.push(x.name);
  });
  const cut: CutLink[] = [];
  spec.links.forEach((l, i) => {
    const pa = partitionOf.get(l.a.node)!;
    const pb = partitionOf.get(l.b.node)!;
    if (pa !== pb) cut.push({ index: i, link: l, pa, pb, lookaheadAB: l.forward.delayUs! - (l.forward.jitterUs ?? 0), lookaheadBA: l.reverse.delayUs! - (l.reverse.jitterUs ?? 0) });
  });
  return { partitions: parts, partitionOf, nodesOf, cut, load: load.map((x) => Math.round(x * 1000) / 1000), ...(note ? { note } : {}) };
}

/** The joins that tie node a to node b (a fewest-join path), for the error that names them. */
function chain(why: { a: number; b: number; reason: string }[], a: number, b: number): { reason: string }[] {
  const prev = new Map<number, { from: number; w: { reason: string } } | null>([[a, null]]);
  const queue = [a];
  for (let q = 0; q < queue.length && !prev.has(b); q++) {
    const x = queue[q]!;
    for (const w of why) {
      const y = w.a === x ? w.b : w.b === x ? w.a : -1;
      if (y < 0 || prev.has(y)) continue;
      prev.set(y, { from: x, w });
      queue.push(y);
    }
  }
  const out: { reason: string }[] = [];
  for (let p = prev.get(b); p; p = prev.get(p.from)) out.unshift(p.w);
  return out;
}

/** Nodes on a fewest-hop path from a to b (BFS; just a when b is unreachable). */
function path(adj: number[][], a: number, b: number): number[] {
  const prev = new Map<number, number>([[a, -1]]);
  const queue = [a];
  for (let q = 0; q < queue.length && !prev.has(b); q++) {
    for (const y of adj[queue[q]!]!) {
      if (prev.has(y)) continue;
      prev.set(y, queue[q]!);
      queue.push(y);
    }
  }
  if (!prev.has(b)) return [a];
  const out: number[] = [];
  for (let x = b; x !== -1; x = prev.get(x)!) out.push(x);
  return out;
}

/** The node a step's `to` names: a node name, or the node that has the address. */
function ownerName(spec: TopologySpec, to: string): string | undefined {
  if (spec.nodes.some((x) => x.name === to)) return to;
  for (const x of spec.nodes) if (x.interfaces.some((i) => i.addresses.some((a) => a.split("/")[0] === to))) return x.name;
  return undefined;
}

/** One line per partition: "p0: 5 nodes (h1, r1, ...), load 6.2". */
export function planText(plan: PartitionPlan): string {
  const lines = plan.nodesOf.map((ns, p) => `p${p}: ${ns.length} node${ns.length === 1 ? "" : "s"} (${ns.slice(0, 6).join(", ")}${ns.length > 6 ? ", ..." : ""}), load ${plan.load[p]}`);
  lines.push(`${plan.cut.length} link${plan.cut.length === 1 ? " crosses" : "s cross"} partitions`);
  if (plan.note) lines.push(plan.note);
  return lines.join("\n");
}
