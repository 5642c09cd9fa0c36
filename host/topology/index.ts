// Topology files and the Topology runner: parse and check a YAML topology (schema, lines,
// field paths), expand its generators, bring it up in one kernel, run its steps, tear it
// down with the accounting. See docs/topology.md.
export { TopologyError, TopologyErrors } from "./errors.js";
export { parseTopology, TOPOLOGY_SCHEMA } from "./parse.js";
export { Topology, type UpOptions, type RunOptions } from "./topology.js";
export type {
  TopologySpec, NodeSpec, LinkSpec, InterfaceSpec, RouteSpec, ServiceSpec, StepSpec, ScheduleSpec, LinkConditions,
  GeneratorSpec, EndpointSpec, Expect, Origin, Role, ServiceKind,
} from "./spec.js";
export type { TopoNode, TopoLink, TopoInterface, LinkDirection, StepEvent, StepResult, TeardownReport } from "./types.js";
