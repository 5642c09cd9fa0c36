// The message protocol between a page and the worker that runs its lab (docs/web.md).
//
// Page -> worker: a Request, `{ id, op, ...arguments }`. Worker -> page: one Response per
// request, `{ id, ok: true, result }` or `{ id, ok: false, error }`, in any order (a ping
// that waits for time does not hold up a counters request), and Events, `{ event, ... }`,
// pushed as things happen: clock state, counters, packet rows of captures, flights of frames
// along links (for the animation), step progress. Everything is structured-clone data:
// plain objects, numbers (Infinity for "as fast as the work"), strings, Uint8Arrays.
// The same protocol runs over a Web Worker (the page), a MessagePort, or a Node
// worker_threads Worker (tests/web_worker.test.ts).

import type { ClockState } from "./time.js";
import type { StepEvent, StepResult, TeardownReport } from "../topology/index.js";
import type { LinkConditions, EpairStats } from "../admin/epair.js";
import type { Summary } from "./decode.js";
import type { MemFile } from "./memfs.js";

export const PROTOCOL_VERSION = 3;

export type { ClockState, MemFile, StepEvent, StepResult, TeardownReport, LinkConditions, EpairStats };

export type Direction = "a->b" | "b->a" | "both";

/** Every request the worker answers, with what it resolves with. */
export interface Ops {
  /** The protocol's version and the worker's platform. */
  hello: { args: Record<string, never>; result: { version: number; platform: string } };
  /** Parse and check a topology file without bringing it up: every problem at its line. */
  check: { args: { yaml: string; file?: string }; result: CheckResult };
  /** Tear down the lab running (if any) and bring this one up. Fails with the file's problems (error.problems). */
  load: { args: { yaml: string; file?: string; clock?: "virtual" | "real"; seed?: number }; result: LabInfo };
  /** The file with nodes and links added, brought up in the running lab (no restart); grown: false (and why) when it is not only that: load it. */
  grow: { args: { yaml: string; file?: string }; result: { grown: true; info: LabInfo; nodes: string[]; links: number } | { grown: false; why: string } };
  /** Tear the lab down; its accounting (null if none was up). */
  unload: { args: Record<string, never>; result: { teardown: TeardownReport | null } };
  /** The running lab's nodes, links and steps (null if none). */
  info: { args: Record<string, never>; result: LabInfo | null };
  /** One shell line (the `wavnet shell` language); with node, on that node's console. */
  shell: { args: { line: string; node?: string }; result: { out: string; error?: string; interrupted?: boolean } };
  /** ^C: stop the shell lines running on that node's console (without node: the shell's own); a ping prints what it has. */
  interrupt: { args: { node?: string }; result: { interrupted: number } };
  /** Completion of a shell line: candidates for its last word. */
  complete: { args: { line: string; node?: string }; result: { candidates: string[]; word: string } };
  /** Capture an interface ("node:if", topology or kernel name): rows come as "rows" events. */
  captureStart: { args: { endpoint: string }; result: { capture: number; endpoint: string; ifName: string } };
  /** Stop a capture (its rows and pcapng stay until the lab is unloaded). */
  captureStop: { args: { capture: number }; result: { frames: number; drops: number } };
  /** The capture's pcapng file so far (a running capture gives a valid file up to now). */
  capturePcapng: { args: { capture: number }; result: { bytes: Uint8Array; name: string } };
  /** Interface counters and link statistics now (also pushed as "stats" events). */
  counters: { args: Record<string, never>; result: Stats };
  /** Set a link's conditions (replacing those of the direction(s) named). */
  setConditions: { args: { link: string; dir: Direction; conditions: LinkConditions }; result: LinkInfo };
  /** Cut a link (100% loss both ways) or restore the conditions it had before the cut. */
  cut: { args: { link: string; cut: boolean }; result: LinkInfo };
  /** Run the file's steps (events "step" as they go); the result table as the CLI prints it. */
  runSteps: { args: Record<string, never>; result: { results: StepResult[]; table: string; passed: string } };
  /** Play/pause and the speed of virtual time. */
  time: { args: { playing?: boolean; speed?: number }; result: ClockState };
  /** Paused: move virtual time to the next event. */
  stepTime: { args: Record<string, never>; result: ClockState };
  /** Frames along links as "flights" events (captures on every link end), or not. */
  animate: { args: { on: boolean }; result: { on: boolean } };
  /** Files the lab wrote (shell captures, capture steps). */
  files: { args: Record<string, never>; result: { files: MemFile[] } };
  readFile: { args: { path: string }; result: { bytes: Uint8Array } };
}

export type Op = keyof Ops;
export type Request = { [K in Op]: { id: number; op: K } & Ops[K]["args"] }[Op];
export type Response =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: WireError };

/** An error as it crosses: its class name, message, and for a bad file every problem with its place. */
export interface WireError {
  name: string;
  message: string;
  problems?: Problem[];
}

/** One problem in a topology file (TopologyError's fields). */
export interface Problem {
  file: string;
  line: number;
  column: number;
  path: string;
  reason: string;
  message: string;
}

export interface CheckResult {
  ok: boolean;
  problems: Problem[];
  /** Nodes, links and steps of a good file (after generators). */
  nodes?: number;
  links?: number;
  steps?: number;
}

export interface IfaceInfo {
  /** The topology's name ("eth0"). */
  name: string;
  /** The kernel's ("epair3a"). */
  kname: string;
  kind: "ether" | "bridge" | "vxlan" | "websocket";
  addresses: string[];
  mac: string;
  mtu: number;
  /** websocket: the peer it connects to (a client port), or listen (served by a Node listener: not in a page). */
  url?: string;
  listen?: boolean;
  /** websocket: a peer is attached now (as of this info). */
  connected?: boolean;
}

export interface NodeInfo {
  name: string;
  role: "host" | "router" | "bridge";
  forwarding: boolean;
  interfaces: IfaceInfo[];
  /**
   * The file's routes, one line each in its fields' order: "TO via GW", "TO dev IF" or
   * "TO via GW dev IF" (routeText; routeLines and parseRouteText read them back); "" for
   * none. One string per node: a 100-router grid has 17,640 routes, and as objects their
   * structured clone and deserialisation cost the load's answer about 100 ms each way in a
   * cold worker; as a string each, 17,640 strings still made the answer's clone and read
   * ~25 ms of CPU (a trace at load 10); as one text per node, 100 strings.
   */
  routes: string;
  services: { kind: string; port: number }[];
  /** The file's line of the node (for the editor). */
  line: number;
  /** Made by a generator (not in the file's nodes: edit the generator). */
  generated: boolean;
}

/** A route of the file as NodeInfo carries it. */
export function routeText(r: { to: string; via?: string; dev?: string }): string {
  return r.to + (r.via !== undefined ? ` via ${r.via}` : "") + (r.dev !== undefined ? ` dev ${r.dev}` : "");
}

/** NodeInfo's routes, one text per route ("" has none). */
export function routeLines(routes: string): string[] {
  return routes === "" ? [] : routes.split("\n");
}

/** A route's text back to its fields (none of them holds a space). */
export function parseRouteText(t: string): { to: string; via?: string; dev?: string } {
  const w = t.split(" ");
  const r: { to: string; via?: string; dev?: string } = { to: w[0] ?? "" };
  for (let i = 1; i + 1 < w.length; i += 2) {
    if (w[i] === "via") r.via = w[i + 1];
    else if (w[i] === "dev") r.dev = w[i + 1];
  }
  return r;
}

export interface LinkInfo {
  /** Index in the file's links (after generators). */
  index: number;
  /** "node:if" of each end. */
  a: string;
  b: string;
  /** Conditions each way (of a cut link: those its restore brings back). */
  conditions: { "a->b": Required<LinkConditions>; "b->a": Required<LinkConditions> };
  /** Cut: 100% loss both ways, on top of its conditions. */
  cut: boolean;
  line: number;
  /** Made by a generator (not in the file's links). */
  generated: boolean;
}

export interface LabInfo {
  name: string;
  clock: "virtual" | "real";
  seed: number;
  /** Wall ms in the worker: the file parsed and checked; the lab up (of which the kernel's boot, bootMs). */
  parseMs: number;
  upMs: number;
  bootMs: number;
  nodes: NodeInfo[];
  links: LinkInfo[];
  steps: { index: number; name: string; action: string; line: number }[];
}

export interface IfaceStats {
  node: string;
  name: string;
  kname: string;
  ipackets: number;
  ibytes: number;
  opackets: number;
  obytes: number;
  ierrors: number;
  oerrors: number;
  iqdrops: number;
  oqdrops: number;
}

export interface Stats {
  nowUs: number;
  /** Wall ms (performance.now) when taken. */
  wallMs: number;
  ifaces: IfaceStats[];
  links: { index: number; a: string; b: string; "a->b": EpairStats; "b->a": EpairStats }[];
}

/** One row of a packet list. */
export interface PacketRow {
  /** 1, 2, ... per capture. */
  no: number;
  /** Kernel time of the tap, µs. */
  tsUs: number;
  dir: "in" | "out";
  len: number;
  summary: Summary;
  /** The captured bytes (for the per-layer decode and hex). */
  data: Uint8Array;
  linktype: number;
}

/** A frame on a link, for the animation: it left one end at departUs; it arrives (or not). */
export type Flight =
  | { kind: "depart"; id: number; link: number; dir: "a->b" | "b->a"; atUs: number; etaUs: number; len: number; proto: string }
  | { kind: "arrive"; id: number; atUs: number }
  | { kind: "lost"; id: number; atUs: number };

export type Event =
  | { event: "clock"; state: ClockState }
  | { event: "stats"; stats: Stats }
  | { event: "rows"; capture: number; rows: PacketRow[] }
  | { event: "captureEnded"; capture: number; frames: number; drops: number }
  | { event: "flights"; flights: Flight[] }
  | { event: "step"; step: StepEvent }
  /**
   * A lab came up or grew. Counts only: the LabInfo is the load's (grow's) response, and
   * `info` asks for it again. Sending it twice cost the page of a 100-node grid (17,640
   * routes) two structured clones and two deserialisations of ~900 KB, about 100 ms.
   */
  | { event: "loaded"; name: string; nodes: number; links: number }
  | { event: "unloaded" };

/** What a port needs: Worker, MessagePort, DedicatedWorkerGlobalScope, worker_threads' parentPort (with a shim). */
export interface PortLike {
  postMessage(m: unknown, transfer?: Transferable[]): void;
}
