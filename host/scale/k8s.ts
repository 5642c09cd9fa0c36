// Kubernetes manifests for a lab over hosts.yaml (`wavnet run FILE --hosts hosts.yaml
// --emit-k8s DIR`): per partition (per host entry used), one file with
//   - a ConfigMap: the partition's init (its nodes and links, its cut links as vxlan
//     interfaces, the steps), the same message a local child gets on stdin;
//   - a headless Service (clusterIP: None) named after the lab and host: the DNS name the
//     other partitions' vxlan interfaces send to, listing the partition's VXLAN UDP ports;
//     publishNotReadyAddresses, so the name resolves as soon as the pod has an address;
//   - a Deployment of one pod running `wavnet-partition --init` on the ConfigMap.
// There is no coordinator in the cluster: each pod brings its partition up (it retries the
// peers' names until their pods exist), runs the steps it owns in file order, prints their
// results on its log, and stays up until it is deleted. Steps in different pods are not
// ordered with each other (docs/scale.md says what this means).

import type { TopologySpec } from "../topology/spec.js";
import { partition } from "./partition.js";
import { resolveSteps, stepNode } from "./lab.js";
import { assignVxlan, vxlanSpec, type ForeignEnd, type VxlanCut } from "./hosts.js";
import { DEFAULT_VXLAN_PORT, type HostsFile } from "./hosts_file.js";
import type { HostInit } from "./hosts_protocol.js";

export interface K8sOptions {
  /** Container image with wavnet installed (its `wavnet-partition` bin on PATH). */
  image?: string;
  namespace?: string;
  seed?: number;
}

export const DEFAULT_IMAGE = "wavnet:0.2.0";

export interface K8sPartition {
  partition: number;
  host: string;
  /** File name for this partition's objects. */
  file: string;
  objects: Record<string, unknown>[];
}

/** A DNS-1123 label from any name (lower case, [a-z0-9-], at most 63 characters). */
export function dnsLabel(s: string): string {
  const x = s.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "");
  return (x || "lab").slice(0, 63).replace(/-+$/, "");
}

/** The objects of every partition of spec over hosts (one per host entry used). */
export async function k8sManifests(spec: TopologySpec, hosts: HostsFile, opts: K8sOptions = {}): Promise<K8sPartition[]> {
  const lab = dnsLabel(spec.name);
  const name = (host: string) => dnsLabel(`${lab}-${host}`);
  // In the cluster a host is its Service: its name is the address, its ports are fixed.
  const entries = hosts.hosts.map((h) => ({ ...h, address: name(h.name), port: h.port ?? DEFAULT_VXLAN_PORT }));
  const plan = partition(spec, entries.length);
  const cuts: VxlanCut[] = await assignVxlan(plan, entries, async () => []);
  const steps = resolveSteps(spec);
  const ns = opts.namespace !== undefined ? { namespace: opts.namespace } : {};
  return plan.nodesOf.map((names, p) => {
    const h = entries[p]!;
    const mine = new Set(names);
    const foreign: ForeignEnd[] = [];
    for (const c of plan.cut) {
      if (c.pa === p) foreign.push({ node: c.link.a.node, iface: c.link.a.iface, link: c.index, end: 0 });
      if (c.pb === p) foreign.push({ node: c.link.b.node, iface: c.link.b.iface, link: c.index, end: 1 });
    }
    const part: TopologySpec = { ...spec, nodes: spec.nodes.filter((x) => mine.has(x.name)), links: spec.links.filter((l) => mine.has(l.a.node) && mine.has(l.b.node)), steps };
    const ownSteps = spec.steps.map((s, i) => ({ i, n: stepNode(s) })).filter(({ n }) => (n === undefined ? 0 : plan.partitionOf.get(n) ?? 0) === p).map(({ i }) => i);
    const init: HostInit = { t: "init", partition: p, spec: vxlanSpec(part, foreign, cuts), seed: opts.seed ?? spec.seed ?? 1, ownSteps };
    const ports = cuts.flatMap((c) => [c.a, c.b].filter((e) => e.partition === p).map((e) => ({ link: c.index, port: e.port })));
    const labels = { "app.kubernetes.io/name": "wavnet", "app.kubernetes.io/instance": lab, "wavnet.dev/host": h.name };
    const meta = { name: name(h.name), ...ns, labels };
    const configMap = {
      apiVersion: "v1", kind: "ConfigMap", metadata: meta,
      data: { "partition.json": JSON.stringify(init) },
    };
    const service = {
      apiVersion: "v1", kind: "Service", metadata: meta,
      spec: {
        clusterIP: "None",
        publishNotReadyAddresses: true,
        selector: labels,
        // A headless Service needs no ports; they are listed for the reader (and for network policies).
        ports: ports.map((x) => ({ name: `vxlan-${x.link}`.slice(0, 15), port: x.port, targetPort: x.port, protocol: "UDP" })),
      },
    };
    const deployment = {
      apiVersion: "apps/v1", kind: "Deployment", metadata: meta,
      spec: {
        replicas: 1,
        // Never two pods of one partition: both would claim its links.
        strategy: { type: "Recreate" },
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            containers: [{
              name: "wavnet",
              image: opts.image ?? DEFAULT_IMAGE,
              command: ["wavnet-partition", "--init", "/etc/wavnet/partition.json"],
              ports: ports.map((x) => ({ name: `vxlan-${x.link}`.slice(0, 15), containerPort: x.port, protocol: "UDP" })),
              volumeMounts: [{ name: "partition", mountPath: "/etc/wavnet", readOnly: true }],
            }],
            volumes: [{ name: "partition", configMap: { name: name(h.name) } }],
          },
        },
      },
    };
    return { partition: p, host: h.name, file: `${name(h.name)}.yaml`, objects: [configMap, service, deployment] };
  });
}
