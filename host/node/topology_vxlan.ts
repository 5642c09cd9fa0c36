// VXLAN ports for topologies in Node (host/node/vxlan.ts: RFC 7348 over a node:dgram
// socket), registered with the core's port registry (host/topology/ports.ts) on import.

import { setVxlanPortFactory } from "../topology/ports.js";
import { createVxlan } from "./vxlan.js";

setVxlanPortFactory((kernel, vnet, opts) => createVxlan(kernel, vnet, { name: opts.name, vni: opts.vni, remote: opts.remote, localPort: opts.localPort }));
