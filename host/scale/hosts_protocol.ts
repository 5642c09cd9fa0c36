// Messages between the --hosts coordinator (host/scale/hosts.ts) and a partition's process
// (host/scale/host_child.ts): JSON, one a line, behind LINE_PREFIX on the child's stdout.
// The answers are ScaleLab's (host/scale/protocol.ts) so the coordinator is ScaleLab itself.

import type { TopologySpec } from "../topology/spec.js";
import type { ReadyMessage, DownReply, ErrorMessage } from "./protocol.js";
import type { StepResult } from "../topology/types.js";

/** Marks a message line on a child's stdout (other lines are its log). */
export const LINE_PREFIX = "@wavnet-partition ";

export interface HostInit {
  t: "init";
  partition: number;
  /** The partition's nodes and links; each end of a cut link is a vxlan interface here. */
  spec: TopologySpec;
  seed: number;
  pcapDir?: string;
  /** Standalone (a pod): the steps this partition runs by itself, in order. */
  ownSteps?: number[];
}

export type HostToChild = HostInit | { t: "step"; step: number } | { t: "down" };

export type ChildToHost =
  | (ReadyMessage & { pid: number; ports: number[] })
  | { t: "result"; result: StepResult }
  | DownReply
  | ErrorMessage;
