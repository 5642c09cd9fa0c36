// Messages between the scale-out coordinator (host/scale/lab.ts) and each partition's worker
// (host/scale/partition_worker.ts). Plain data (structured clone); rings travel as
// SharedArrayBuffers.

import type { TopologySpec, LinkConditions } from "../topology/spec.js";
import type { StepResult, TeardownReport } from "../topology/types.js";
import type { IfCounters } from "../admin/ifnet.js";

/** A link end in this partition whose peer is in another. */
export interface ForeignEndInit {
  node: string;
  iface: string;
  /** Index of the link in the whole file's links, and which end this is (0: a, 1: b). */
  link: number;
  end: 0 | 1;
  /** The far end's partition. */
  peer: number;
  /** Frames this end sends go to `out`; the far end's come from `in`. */
  out: SharedArrayBuffer;
  in: SharedArrayBuffer;
  /** Conditions of the frames this end sends. */
  conditions: LinkConditions;
}

export interface InitMessage {
  t: "init";
  partition: number;
  /** This partition's nodes and the links between them (file order kept). */
  spec: TopologySpec;
  /** Node name -> index in the whole file (vnet ids follow it). */
  nodeIndex: Record<string, number>;
  /** Index in the whole file of each of spec.links. */
  linkIndex: number[];
  foreign: ForeignEndInit[];
  clock: "virtual" | "real";
  seed: number;
  pcapDir?: string;
  /** Capture every link end of the partition into DIR/NODE_IFACE.pcap (equality tests). */
  captureLinksDir?: string;
}

/** Virtual time: move to `to` (µs), then start step `step` if given, let the host settle, report. */
export interface RoundMessage {
  t: "round";
  to: number;
  step?: number;
}

/** Real time: run step `step` and answer with its result. */
export interface StepMessage {
  t: "step";
  step: number;
}

export interface DownMessage {
  t: "down";
}

/** Tests: make the worker throw (a fault in the middle of a run). */
export interface CrashMessage {
  t: "crash";
  atUs: number;
  /** Throw outside any handler (the thread's uncaught exception) instead of from the round. */
  uncaught?: boolean;
}

export type ToWorker = InitMessage | RoundMessage | StepMessage | DownMessage | CrashMessage;

export interface ReadyMessage {
  t: "ready";
  upMs: number;
  nodes: number;
  links: number;
  kmemPages: number;
  memoryBytes: number;
}

export interface ReportMessage {
  t: "report";
  /** Kernel time now. */
  now: number;
  /** Earliest next event of this partition (kernel callout, schedule, host waiting for time), µs; -1: none. */
  next: number;
  /** Frames sent this round to other partitions: the earliest arrival time per partition. */
  sent: Record<number, number>;
  /** The step finished in this round, if one did. */
  result?: StepResult;
  /** ms this partition's thread was busy in this round (its work; the rest is waiting on the others). */
  busyMs: number;
}

export interface LinkEndCounters {
  node: string;
  iface: string;
  counters: IfCounters;
}

export interface DownReply {
  t: "down";
  teardown: TeardownReport;
  /** Every link end's interface counters, taken before the teardown. */
  counters: LinkEndCounters[];
  /** CPU ms of the worker's thread over the run (event-loop active time). */
  cpuMs: number;
}

export interface ErrorMessage {
  t: "error";
  message: string;
  stack?: string;
}

export type FromWorker = ReadyMessage | ReportMessage | DownReply | ErrorMessage | { t: "result"; result: StepResult };
