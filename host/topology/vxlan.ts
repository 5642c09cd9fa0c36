// The one place the topology reaches VXLAN ports. host/vxlan.ts (RFC 7348 over a host UDP
// socket) is written by another change; until it is in the tree, bringing up an interface
// of kind vxlan fails with "vxlan: not available" instead of the whole runner failing to
// load. The import is by a computed name so the type checker does not require the file.

import type { Kernel, Vnet } from "../kernel.js";
import type { Interface } from "../ifnet.js";

export interface VxlanOptions {
  /** Interface name in the vnet ("vxlan0"). */
  name: string;
  vni: number;
  /** Peer "address:port". */
  remote: string;
  /** Host UDP port to bind (0: any). */
  localPort: number;
}

/** What host/vxlan.ts is expected to export. */
type CreateVxlan = (kernel: Kernel, vnet: Vnet, opts: VxlanOptions) => Promise<{ iface: Interface; close(): Promise<void> | void }>;

export class VxlanUnavailable extends Error {}

export async function createVxlanPort(kernel: Kernel, vnet: Vnet, opts: VxlanOptions): Promise<{ iface: Interface; close(): Promise<void> | void }> {
  const where = "../vxlan.js";
  let mod: { createVxlan?: CreateVxlan };
  try {
    mod = (await import(where)) as { createVxlan?: CreateVxlan };
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") throw new VxlanUnavailable("vxlan: not available (host/vxlan.ts is not in this build)");
    throw e;
  }
  if (typeof mod.createVxlan !== "function") throw new VxlanUnavailable("vxlan: not available (host/vxlan.ts exports no createVxlan)");
  return mod.createVxlan(kernel, vnet, opts);
}
