// Node's look-alike sockets on a vnet: `vnet.net` (node:net) and `vnet.dgram()` (node:dgram),
// installed on Vnet by the Node entries. They are built on node:stream and node:events, so
// the platform-neutral core does not carry them (in a browser: Socket and its Web Streams).

import { Vnet } from "../kern/kernel.js";
import { netFor, type VnetNet } from "./net.js";
import { createSocket as createDgram, type DgramSocket, type SocketOptions } from "./dgram.js";

declare module "../kern/kernel.js" {
  interface Vnet {
    /** Node's net module for this vnet (TCP): createServer, connect, createConnection, Socket. */
    readonly net: VnetNet;
    /** A Node dgram-compatible UDP socket in this vnet (host/sockets/dgram.ts). */
    dgram(type?: "udp4" | "udp6" | SocketOptions): DgramSocket;
  }
}

const nets = new WeakMap<Vnet, VnetNet>();

Object.defineProperty(Vnet.prototype, "net", {
  get(this: Vnet): VnetNet {
    this.check("net");
    let n = nets.get(this);
    if (n === undefined) nets.set(this, (n = netFor(this.kernel, this)));
    return n;
  },
  configurable: true,
});

Object.assign(Vnet.prototype, {
  dgram(this: Vnet, type: "udp4" | "udp6" | SocketOptions = "udp4"): DgramSocket {
    this.check("dgram.createSocket");
    return createDgram(this.kernel, this, type);
  },
});
