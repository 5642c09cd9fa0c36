// Interfaces a topology gets from its platform rather than from the kernel alone: VXLAN
// ports (RFC 7348 over a host UDP socket) need Node's UDP sockets, so the core only knows
// the shape of a port and asks a factory the Node entry registers
// (host/node/topology_vxlan.ts, imported by host/node/platform.ts).

import type { Kernel, Vnet } from "../kern/kernel.js";
import type { Interface } from "../admin/ifnet.js";
import { WavnetError } from "../lib/errors.js";

export interface VxlanPortOptions {
  /** Interface name in the vnet ("vx0"). */
  name: string;
  vni: number;
  /** Peer "address:port". */
  remote: string;
  /** Host UDP port to bind (0: any). */
  localPort: number;
}

/** A VXLAN port: an Interface whose destroy() also closes its host socket. */
export interface VxlanPort extends Interface {
  /** Resolves once the host socket is closed. */
  whenClosed(): Promise<void>;
}

export type VxlanPortFactory = (kernel: Kernel, vnet: Vnet, opts: VxlanPortOptions) => Promise<VxlanPort>;

let vxlanFactory: VxlanPortFactory | undefined;

/** Install the platform's VXLAN port maker (undefined removes it). */
export function setVxlanPortFactory(f: VxlanPortFactory | undefined): void {
  vxlanFactory = f;
}

/** The registered VXLAN port maker, if any. */
export function vxlanPortFactory(): VxlanPortFactory | undefined {
  return vxlanFactory;
}

/** A VXLAN port from the registered factory; rejects when the platform registered none. */
export function createVxlanPort(kernel: Kernel, vnet: Vnet, opts: VxlanPortOptions): Promise<VxlanPort> {
  if (!vxlanFactory) return Promise.reject(new WavnetError("vxlan ports need Node (import wavnet or wavnet/node)"));
  return vxlanFactory(kernel, vnet, opts);
}
