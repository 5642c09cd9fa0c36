// A topology brought up in one kernel. (skeleton: filled in by the next commits)
import type { Kernel } from "../kernel.js";
import type { TopologySpec } from "./spec.js";
import type { TopoNode, TopoLink, StepEvent, StepResult, TeardownReport } from "./types.js";
import { TopologyError } from "./errors.js";

export interface UpOptions {
  /** Bring the topology up in this kernel (default: boot one with spec.kernel). */
  kernel?: Kernel;
  /** Clock of the kernel booted here (default: the file's, else "virtual"). */
  clock?: "virtual" | "real";
  /** Seed of the kernel booted here (default: the file's, else 1). */
  seed?: number;
  /** Folder for capture files of capture steps (default: the current directory). */
  pcapDir?: string;
}

export interface RunOptions {
  onEvent?: (e: StepEvent) => void;
  /** Runs a shell step's command on a node (the CLI's command dispatcher); its output is checked. */
  exec?: (node: string, cmd: string) => Promise<string>;
}

export class Topology {
  private constructor(readonly kernel: Kernel, readonly spec: TopologySpec) {}

  static async up(spec: TopologySpec, opts: UpOptions = {}): Promise<Topology> {
    void opts;
    throw new TopologyError("not implemented yet", spec.file);
  }

  node(name: string): TopoNode {
    throw new TopologyError(`no node ${name}`, this.spec.file);
  }

  nodes(): TopoNode[] {
    return [];
  }

  link(a: string, b?: string): TopoLink {
    throw new TopologyError(`no link ${a}${b ? ` ${b}` : ""}`, this.spec.file);
  }

  links(): TopoLink[] {
    return [];
  }

  async runSteps(opts: RunOptions = {}): Promise<StepResult[]> {
    void opts;
    return [];
  }

  async down(): Promise<TeardownReport> {
    throw new TopologyError("not implemented yet", this.spec.file);
  }
}
