// Where the time of a lab's load goes, step by step: the browser group runs this in a fresh
// page's worker and in Node, so the note of browser_topology_100_up_ms can say which steps
// cost what on each. Platform-neutral (wavnet/core only).

import { Kernel, parseTopology, Topology, ping, TOPOLOGY_SCHEMA, platform, setPlatform, type ModuleSource } from "../../host/core.js";
import AjvModule from "ajv";

// ajv is CommonJS (as in host/topology/parse.ts).
const Ajv = ((AjvModule as unknown as { default?: typeof AjvModule }).default ?? AjvModule) as unknown as new (o: object) => { compile(s: object): unknown };

/**
 * The steps of a lab's load timed one by one, in a realm that has loaded no lab yet (so the
 * first parse compiles the schema validator and the first boot fetches and compiles the
 * kernel): parse and check; the schema validator compiled again alone; parse and check
 * again; a GENERIC kernel booted twice (the second from compiled modules); the topology
 * up; one ping from `from` to `to`.
 */
export async function topologySplit(yaml: string, from: string, to: string, source?: ModuleSource): Promise<Record<string, number>> {
  // The bench worker loads this bundle with a core of its own, whose platform has no
  // binaries: the topology's boot below takes them from source too.
  if (source) setPlatform({ ...platform(), defaultModuleSource: () => source });
  const t: Record<string, number> = {};
  let t0 = performance.now();
  const lap = (name: string) => {
    const t1 = performance.now();
    t[name] = t1 - t0;
    t0 = t1;
  };
  parseTopology(yaml, "split.yaml");
  lap("parseFirst");
  // The schema validator alone, compiled again as parse.ts compiles it (ajv's own code warm by now).
  new Ajv({ allErrors: true, strict: true, allowUnionTypes: true, verbose: true }).compile(structuredClone(TOPOLOGY_SCHEMA));
  lap("schemaCompile");
  const spec = parseTopology(yaml, "split.yaml");
  lap("parse");
  (await Kernel.boot({ config: "GENERIC", ...(source ? { source } : {}) })).shutdown();
  lap("bootFirst");
  (await Kernel.boot({ config: "GENERIC", ...(source ? { source } : {}) })).shutdown();
  lap("boot");
  const topo = await Topology.up(spec); // the platform's binaries (source's, when given)
  lap("up");
  const r = await ping(topo.kernel, topo.node(from).vnet, topo.addressOf(to), { count: 1, timeoutMs: 1000 });
  lap("ping");
  if (r.received !== 1) throw new Error(`topologySplit: ping ${from} -> ${to} failed:\n${r.text}`);
  await topo.down();
  return t;
}
