// What `wavnet run` and `wavnet shell` share: load a topology file, bring it up with the
// command dispatcher beside it, and tear it down again with the accounting.

import { Topology, TopologyError, TopologyErrors, type TopologySpec, type TeardownReport } from "../topology/index.js";
import { loadTopology } from "../node/topology.js";
import { Commands } from "../shell/commands.js";

export { EXIT, processIo, UsageError, write, type Io } from "./io.js";
import type { Io } from "./io.js";

export interface UpFlags {
  clock?: "virtual" | "real";
  seed?: number;
  pcapDir?: string;
}

export interface Session {
  spec: TopologySpec;
  topo: Topology;
  commands: Commands;
  /** Wall time of Topology.up, ms. */
  upMs: number;
  /** The seed in force (command line, else file; undefined: the kernel's default). */
  seed?: number;
}

/** True for the errors that mean "the file is wrong": they name file:line:col and exit 2. */
export function isTopologyError(e: unknown): e is TopologyError | TopologyErrors {
  return e instanceof TopologyError || e instanceof TopologyErrors;
}

/** Load and bring up; throws TopologyError(s) for a bad file. */
export async function openSession(file: string, flags: UpFlags): Promise<Session> {
  const spec = loadTopology(file);
  const t0 = performance.now();
  // The command line wins over the file; with neither, the file format's default (virtual).
  const topo = await Topology.up(spec, { clock: flags.clock ?? spec.clock ?? "virtual", seed: flags.seed, pcapDir: flags.pcapDir });
  const upMs = performance.now() - t0;
  return { spec, topo, commands: new Commands(topo.kernel, { pcapDir: flags.pcapDir }), upMs, seed: flags.seed ?? spec.seed };
}

/** Stop the shell's captures, then tear the topology down. */
export async function closeSession(s: Session): Promise<TeardownReport> {
  await s.commands.close();
  return s.topo.down();
}

/** The command dispatcher as Topology.runSteps wants it: node name and command line. */
export function execFor(s: Session): (node: string, cmd: string) => Promise<string> {
  return (node, cmd) => s.commands.exec(s.topo.node(node), cmd);
}
