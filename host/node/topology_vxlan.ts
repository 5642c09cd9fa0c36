// The one place the topology reaches VXLAN ports (host/vxlan.ts: RFC 7348 over a host UDP
// socket). A port is an Interface whose destroy() also closes its socket.

import type { Kernel, Vnet } from "../kern/kernel.js";
import { createVxlan, type VxlanInterface } from "./vxlan.js";

export interface VxlanPortOptions {
  /** Interface name in the vnet ("vx0"). */
  name: string;
  vni: number;
  /** Peer "address:port". */
  remote: string;
  /** Host UDP port to bind (0: any). */
  localPort: number;
}

export function createVxlanPort(kernel: Kernel, vnet: Vnet, opts: VxlanPortOptions): Promise<VxlanInterface> {
  return createVxlan(kernel, vnet, { name: opts.name, vni: opts.vni, remote: opts.remote, localPort: opts.localPort });
}
