// What a running topology hands out: nodes, links, step results and the teardown report.

import type { Vnet } from "../kern/kernel.js";
import type { Interface } from "../admin/ifnet.js";
import type { LinkConditions } from "../admin/epair.js";
import type { LeakEntry } from "../lib/errors.js";
import type { NodeSpec, LinkSpec, Role, Origin } from "./spec.js";

export interface TopoInterface {
  /** The topology's name ("eth0"). */
  name: string;
  kind: "ether" | "bridge" | "vxlan" | "websocket";
  /** The kernel interface (its kernel name is iface.name, e.g. "epair12a"). */
  iface: Interface;
  addresses: string[];
}

export interface TopoNode {
  readonly name: string;
  readonly role: Role;
  readonly vnet: Vnet;
  readonly spec: NodeSpec;
  /** The interface the topology calls name (throws TopologyError naming the ones there are). */
  iface(name: string): Interface;
  interfaces(): TopoInterface[];
}

/** Which way conditions apply: "a->b" are the frames endpoint a sends. */
export type LinkDirection = "a->b" | "b->a" | "both";

export interface TopoLink {
  /** "node:if" of each end, as in the file. */
  readonly a: string;
  readonly b: string;
  readonly spec: LinkSpec;
  /** The epair ends: [a's end, b's end]. */
  readonly ends: [Interface, Interface];
  setConditions(dir: LinkDirection, c: LinkConditions): void;
  conditions(): { "a->b": Required<LinkConditions>; "b->a": Required<LinkConditions> };
}

export interface StepResult {
  index: number;
  /** The step's name (given, or made from the action: "ping h1 -> h2"). */
  name: string;
  action: string;
  ok: boolean;
  /** Time the step took on the topology's clock (virtual ms under a virtual clock). */
  durationMs: number;
  /** Wall-clock time it took. */
  wallMs: number;
  /** One line: what happened, and why it failed if it did. */
  detail: string;
  /** Figures worth a table column: rttMs, lossPct, mbitPerS, bytes, ... */
  figures: Record<string, number>;
  origin: Origin;
}

export type StepEvent =
  | { type: "start"; index: number; name: string; action: string; total: number }
  | { type: "end"; index: number; result: StepResult; total: number }
  | { type: "schedule"; atMs: number; link: string };

export interface TeardownReport {
  /** Vnets destroyed (one per node). */
  vnets: number;
  /** Leaks named by vnet teardown (zone, callout, page), summed over nodes. */
  leaks: LeakEntry[];
  /** kmem pages in use after teardown minus before up (0 when nothing leaked). */
  pagesLeaked: number;
  /** Zone items in use after teardown minus before up, by zone (empty when nothing leaked). */
  itemsLeaked: Record<string, number>;
  /** Sockets the topology left open in the kernel (services, steps): must be 0. */
  socketsLeft: number;
  ok: boolean;
  /** "teardown: 12 vnets destroyed, 0 pages and 0 items leaked" */
  text: string;
}
