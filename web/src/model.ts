// The topology as YAML text, and the edits the page makes to it (add and remove nodes and
// links, a node's role, forwarding, addresses and routes, a link's conditions), made on the
// YAML document so that comments and the rest of the file stay as written. The text is the
// source of truth: the worker brings up what it says.

import { parseDocument, isMap, isSeq, YAMLMap, YAMLSeq, type Document } from "yaml";
import type { LinkConditions } from "../../host/web/protocol.js";
import { formatDuration, formatRate, formatPct } from "../../host/lib/units.js";

export type Role = "host" | "router" | "bridge";

export interface IfaceEdit {
  name: string;
  addresses: string[];
  /** websocket interfaces: the peer's URL. */
  url?: string;
}

export interface RouteEdit {
  to: string;
  via?: string;
  dev?: string;
}

export class ModelError extends Error {}

function seq(doc: Document, key: string): YAMLSeq {
  let s = doc.get(key);
  if (s === undefined || s === null) {
    doc.set(key, doc.createNode([]));
    s = doc.get(key);
  }
  if (!isSeq(s)) throw new ModelError(`${key}: is not a list in the file`);
  return s as YAMLSeq;
}

function mapsOf(s: YAMLSeq): YAMLMap[] {
  return s.items.filter((x): x is YAMLMap => isMap(x));
}

function str(m: YAMLMap, k: string): string | undefined {
  const v = m.get(k);
  return typeof v === "string" ? v : v === undefined || v === null ? undefined : String(v);
}

/** Conditions in the file's words: { delay: "20ms", loss: "1%", rate: "50Mbit", ... }, only those set. */
export function conditionsYaml(c: LinkConditions): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  if (c.delayUs) out.delay = formatDuration(c.delayUs);
  if (c.jitterUs) out.jitter = formatDuration(c.jitterUs);
  if (c.loss) out.loss = formatPct(c.loss);
  if (c.duplicate) out.duplicate = formatPct(c.duplicate);
  if (c.reorder) out.reorder = formatPct(c.reorder);
  if (c.rateBps) out.rate = formatRate(c.rateBps);
  if (c.rateBps && c.queueLimit && c.queueLimit !== 1000) out.queue = c.queueLimit;
  if (c.queueBytes) out.queueBytes = c.queueBytes;
  return out;
}

export class Model {
  doc: Document;

  constructor(text: string) {
    this.doc = parseDocument(text);
    if (this.doc.errors.length) throw new ModelError(`the YAML does not parse (${this.doc.errors[0]!.message.split("\n")[0]}): fix it in the editor first`);
    if (this.doc.contents === null) this.doc.contents = this.doc.createNode({}) as never;
    if (!isMap(this.doc.contents)) throw new ModelError("the file is not a mapping at the top");
  }

  text(): string {
    // No folding: a flow map stays on one line however long ({ name: ws0, kind: websocket, url: ws://..., ... }), as people write them.
    return this.doc.toString({ lineWidth: 0 });
  }

  private nodes(): YAMLMap[] {
    return mapsOf(seq(this.doc, "nodes"));
  }

  node(name: string): YAMLMap {
    const n = this.nodes().find((m) => str(m, "name") === name);
    if (!n) throw new ModelError(`node ${name} is not in the file's nodes (made by a generator? edit the generator)`);
    return n;
  }

  hasNode(name: string): boolean {
    return this.nodes().some((m) => str(m, "name") === name);
  }

  private ifaces(n: YAMLMap): YAMLSeq {
    let s = n.get("interfaces");
    if (s === undefined || s === null) {
      n.set("interfaces", this.doc.createNode([]));
      s = n.get("interfaces");
    }
    if (!isSeq(s)) throw new ModelError(`node ${str(n, "name")}: interfaces is not a list`);
    return s as YAMLSeq;
  }

  /** A name not taken by a node: prefix1, prefix2, ... (taken: every node, generated ones too). */
  freeNodeName(prefix: string, taken: string[]): string {
    const all = new Set([...taken, ...this.nodes().map((m) => str(m, "name") ?? "")]);
    for (let i = 1; ; i++) if (!all.has(`${prefix}${i}`)) return `${prefix}${i}`;
  }

  addNode(name: string, role: Role): void {
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) throw new ModelError(`node name ${JSON.stringify(name)}: 1-64 of A-Z a-z 0-9 _ . -`);
    if (this.hasNode(name)) throw new ModelError(`there is a node ${name} already`);
    const n: Record<string, unknown> = { name };
    if (role !== "host") n.role = role;
    seq(this.doc, "nodes").add(this.doc.createNode(n));
  }

  /** Remove a node, its links (and the interfaces at their other ends), and steps that name it. */
  removeNode(name: string): { links: number; steps: number } {
    const nodes = seq(this.doc, "nodes");
    const i = nodes.items.findIndex((m) => isMap(m) && str(m, "name") === name);
    if (i < 0) throw new ModelError(`node ${name} is not in the file's nodes`);
    nodes.items.splice(i, 1);
    let links = 0;
    const ls = this.doc.get("links");
    if (isSeq(ls)) {
      for (const l of mapsOf(ls as YAMLSeq)) {
        const ends = this.endpoints(l);
        if (!ends.some((e) => e.startsWith(`${name}:`))) continue;
        for (const e of ends) if (!e.startsWith(`${name}:`)) this.dropIface(e);
        (ls as YAMLSeq).items.splice((ls as YAMLSeq).items.indexOf(l), 1);
        links++;
      }
    }
    let steps = 0;
    const ss = this.doc.get("steps");
    if (isSeq(ss)) {
      for (const s of mapsOf(ss as YAMLSeq)) {
        const act = s.items.find((p) => String((p.key as { value?: unknown })?.value ?? p.key) !== "name");
        const body = act?.value;
        const names = isMap(body) ? ["from", "to", "node", "endpoint", "on", "off"].map((k) => String((body as YAMLMap).get(k) ?? "")) : [];
        if (names.some((v) => v === name || v.startsWith(`${name}:`))) {
          (ss as YAMLSeq).items.splice((ss as YAMLSeq).items.indexOf(s), 1);
          steps++;
        }
      }
    }
    return { links, steps };
  }

  private endpoints(l: YAMLMap): string[] {
    const e = l.get("endpoints");
    return isSeq(e) ? (e as YAMLSeq).items.map((x) => String((x as { value?: unknown })?.value ?? x)) : [];
  }

  /** An interface that was a link's end goes (and leaves its bridge's member list). */
  private dropIface(endpoint: string): void {
    const [node, ifname] = endpoint.split(":");
    if (!this.hasNode(node!)) return;
    const n = this.node(node!);
    const s = this.ifaces(n);
    const i = s.items.findIndex((m) => isMap(m) && str(m, "name") === ifname);
    if (i >= 0) s.items.splice(i, 1);
    for (const m of mapsOf(s)) {
      const members = m.get("members");
      if (isSeq(members)) (members as YAMLSeq).items = (members as YAMLSeq).items.filter((x) => String((x as { value?: unknown })?.value ?? x) !== ifname);
    }
  }

  private freeIfName(n: YAMLMap, role: string): string {
    const taken = new Set(mapsOf(this.ifaces(n)).map((m) => str(m, "name")));
    const prefix = role === "bridge" ? "p" : "eth";
    for (let i = role === "bridge" ? 1 : 0; ; i++) if (!taken.has(`${prefix}${i}`)) return `${prefix}${i}`;
  }

  /**
   * Link two nodes: a new interface on each (eth0, eth1, ... ; p1, p2, ... on a bridge) and
   * a link between them. Addresses as given (e.g. from suggestAddresses).
   */
  addLink(a: string, b: string, addr: { a?: string; b?: string } = {}): { a: string; b: string } {
    if (a === b) throw new ModelError("a link joins two different nodes");
    const na = this.node(a);
    const nb = this.node(b);
    const ia = this.freeIfName(na, str(na, "role") ?? "host");
    const ib = this.freeIfName(nb, str(nb, "role") ?? "host");
    const add = (n: YAMLMap, name: string, address?: string) => {
      const i: Record<string, unknown> = { name };
      if (address) i.addresses = [address];
      const node = this.doc.createNode(i) as YAMLMap;
      node.flow = true;
      this.ifaces(n).add(node);
    };
    add(na, ia, addr.a);
    add(nb, ib, addr.b);
    const link = this.doc.createNode({ endpoints: [`${a}:${ia}`, `${b}:${ib}`] }) as YAMLMap;
    (link.get("endpoints") as YAMLSeq).flow = true;
    seq(this.doc, "links").add(link);
    return { a: `${a}:${ia}`, b: `${b}:${ib}` };
  }

  private linkNode(a: string, b: string): YAMLMap {
    const ls = this.doc.get("links");
    const l = isSeq(ls) ? mapsOf(ls as YAMLSeq).find((m) => {
      const e = this.endpoints(m);
      return (e[0] === a && e[1] === b) || (e[0] === b && e[1] === a);
    }) : undefined;
    if (!l) throw new ModelError(`link ${a} - ${b} is not in the file's links (made by a generator? edit the generator)`);
    return l;
  }

  hasLink(a: string, b: string): boolean {
    try {
      this.linkNode(a, b);
      return true;
    } catch {
      return false;
    }
  }

  removeLink(a: string, b: string): void {
    const l = this.linkNode(a, b);
    const ls = this.doc.get("links") as YAMLSeq;
    ls.items.splice(ls.items.indexOf(l), 1);
    this.dropIface(a);
    this.dropIface(b);
  }

  /** A link's conditions as they are now, in the file's words (forward, reverse; one `conditions` when equal). */
  setLinkConditions(a: string, b: string, forward: LinkConditions, reverse: LinkConditions): void {
    const l = this.linkNode(a, b);
    const flip = this.endpoints(l)[0] !== a;
    const [f, r] = flip ? [reverse, forward] : [forward, reverse];
    const fy = conditionsYaml(f);
    const ry = conditionsYaml(r);
    for (const k of ["conditions", "forward", "reverse"]) l.delete(k);
    const put = (k: string, v: Record<string, string | number>) => {
      if (Object.keys(v).length === 0) return;
      const n = this.doc.createNode(v) as YAMLMap;
      n.flow = true;
      // before a schedule, if any, as people write them
      l.set(k, n);
    };
    if (JSON.stringify(fy) === JSON.stringify(ry)) put("conditions", fy);
    else {
      put("forward", fy);
      put("reverse", ry);
    }
  }

  /** A free name for a new websocket interface: ws0, ws1, ... */
  freeWsName(node: string): string {
    const taken = new Set(mapsOf(this.ifaces(this.node(node))).map((m) => str(m, "name")));
    for (let i = 0; ; i++) if (!taken.has(`ws${i}`)) return `ws${i}`;
  }

  /** A websocket interface that connects to url (a wavnet run --listen endpoint), with its addresses. */
  addWebSocket(node: string, e: { name: string; url: string; addresses: string[] }): void {
    const n = this.node(node);
    if (mapsOf(this.ifaces(n)).some((m) => str(m, "name") === e.name)) throw new ModelError(`node ${node} has an interface ${e.name} already`);
    const i: Record<string, unknown> = { name: e.name, kind: "websocket", url: e.url };
    if (e.addresses.length) i.addresses = e.addresses;
    const m = this.doc.createNode(i) as YAMLMap;
    m.flow = true;
    this.ifaces(n).add(m);
  }

  /** Remove an interface that is no link's end (a link's ends go with the link). */
  removeInterface(node: string, name: string): void {
    const ls = this.doc.get("links");
    if (isSeq(ls) && mapsOf(ls as YAMLSeq).some((l) => this.endpoints(l).includes(`${node}:${name}`))) throw new ModelError(`${node}:${name} is a link's end: delete the link`);
    this.node(node);
    this.dropIface(`${node}:${name}`);
  }

  /** A node's role, forwarding, interfaces' addresses and routes, as the inspector edits them. */
  setNode(name: string, e: { role: Role; forwarding: boolean; interfaces: IfaceEdit[]; routes: RouteEdit[] }): void {
    const n = this.node(name);
    if (e.role === "host") n.delete("role");
    else n.set("role", e.role);
    // forwarding: written only when it differs from the role's default (on for routers)
    const def = e.role === "router";
    if (e.forwarding === def) n.delete("forwarding");
    else n.set("forwarding", e.forwarding);
    for (const ie of e.interfaces) {
      const m = mapsOf(this.ifaces(n)).find((x) => str(x, "name") === ie.name);
      if (!m) continue;
      if (ie.url !== undefined && str(m, "kind") === "websocket" && m.get("listen") !== true) m.set("url", ie.url);
      if (ie.addresses.length) {
        const s = this.doc.createNode(ie.addresses) as YAMLSeq;
        s.flow = true;
        m.set("addresses", s);
      } else m.delete("addresses");
    }
    if (e.routes.length) {
      const s = this.doc.createNode(e.routes.map((r) => ({ to: r.to, ...(r.via ? { via: r.via } : {}), ...(r.dev ? { dev: r.dev } : {}) }))) as YAMLSeq;
      s.flow = true;
      n.set("routes", s);
    } else n.delete("routes");
  }
}

// ---- addresses for a new link

function v4(s: string): number {
  const p = s.split(".").map(Number);
  return ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
}
function v4text(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

export interface NodeAddrInfo {
  name: string;
  role: Role;
  interfaces: { name: string; addresses: string[] }[];
}

/**
 * Addresses for a new link between a and b: a host joining a bridge gets a free address in
 * the subnet the bridge's other hosts use; otherwise a fresh /24 (10.N.0.0/24) with .1 and .2.
 */
export function suggestAddresses(a: NodeAddrInfo, b: NodeAddrInfo, all: NodeAddrInfo[], links: { a: string; b: string }[]): { a?: string; b?: string } {
  const used = new Set<number>();
  const prefixes: { net: number; mask: number }[] = [];
  for (const n of all) for (const i of n.interfaces) for (const x of i.addresses) {
    if (x.includes(":")) continue;
    const [ip, len] = x.split("/");
    used.add(v4(ip!));
    const plen = Number(len);
    const mask = plen === 0 ? 0 : (~0 << (32 - plen)) >>> 0;
    prefixes.push({ net: (v4(ip!) & mask) >>> 0, mask });
  }
  const bridgeSide = (br: NodeAddrInfo, other: NodeAddrInfo): string | undefined => {
    // Addresses of nodes on the bridge's other ports.
    const peers = links.flatMap((l) => {
      const [na] = l.a.split(":");
      const [nb, ib] = l.b.split(":");
      if (na === br.name) return [l.b];
      if (nb === br.name) return [l.a];
      void ib;
      return [];
    });
    for (const p of peers) {
      const [pn, pi] = p.split(":");
      const node = all.find((n) => n.name === pn);
      const addr = node?.interfaces.find((i) => i.name === pi)?.addresses.find((x) => !x.includes(":"));
      if (!addr) continue;
      const [ip, len] = addr.split("/");
      const plen = Number(len);
      const mask = plen === 0 ? 0 : (~0 << (32 - plen)) >>> 0;
      const net = (v4(ip!) & mask) >>> 0;
      const size = 2 ** (32 - plen);
      for (let h = 2; h < size - 1; h++) {
        const cand = (net + h) >>> 0;
        if (!used.has(cand)) return `${v4text(cand)}/${plen}`;
      }
    }
    void other;
    return undefined;
  };
  if (a.role === "bridge" && b.role !== "bridge") return { b: bridgeSide(a, b) };
  if (b.role === "bridge" && a.role !== "bridge") return { a: bridgeSide(b, a) };
  if (a.role === "bridge" && b.role === "bridge") return {};
  // A fresh /24 that overlaps no network in the file: 10.100.0.0/24, 10.100.1.0/24, ...
  for (let t = 100; t < 256; t++) {
    for (let y = 0; y < 256; y++) {
      const net = v4(`10.${t}.${y}.0`);
      const mask24 = 0xffffff00;
      if (prefixes.some((p) => ((net & p.mask) >>> 0) === p.net || ((p.net & mask24) >>> 0) === net)) continue;
      return { a: `${v4text(net + 1)}/24`, b: `${v4text(net + 2)}/24` };
    }
  }
  return {};
}
