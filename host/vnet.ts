// The convenience face of Kernel and Vnet: what a user reaches from a kernel or a vnet handle
// (interfaces, sockets, captures, epairs; an interface's capture()), added here on top of the kernel core, so that the
// core (host/kern/) imports none of the features built on it. Importing this module (every
// public entry does) installs the methods; their types merge into Kernel and Vnet.

import { Kernel, Vnet, checkVnet } from "./kern/kernel.js";
import { ConfigError, KernelError, Errno } from "./lib/errors.js";
import { Interface, interfacesOf, lookup, createClone, ifconfigText, netstatI, etherStats, checkInterface, type EtherStats } from "./admin/ifnet.js";
import { startCapture, type LiveCapture, type CaptureStartOptions } from "./capture/tap.js";
import { registryOf, socket as newSocket, sockstat, formatSockstat, type Socket, type SocketRegistry } from "./sockets/socket.js";

declare module "./admin/ifnet.js" {
  interface Interface {
    /** Capture every frame in and out (see Kernel.capture). */
    capture(opts?: CaptureStartOptions): LiveCapture;
  }
}

declare module "./kern/kernel.js" {
  interface Vnet {
    /** The vnet's interfaces, in index order (lo0 first). */
    interfaces(): Interface[];
    /** The interface called name; throws if there is none. */
    interface(name: string): Interface;
    /** ifconfig NAME create here: every interface made (an epair: both ends). */
    ifcreate(name: string): Interface[];
    /** ifconfig's text for this vnet. */
    ifconfig(): string;
    /** netstat -i for this vnet. */
    netstatI(): string;
    /** socket(2) in this vnet: e.g. socket("inet", "dgram"). */
    socket(domain: "inet" | "inet6" | number, type: "stream" | "dgram" | "raw" | number, protocol?: number): Socket;
    /** sockstat for this vnet. */
    sockstat(): string;
    /** Ethernet frames this vnet dropped, by reason. */
    etherStats(): EtherStats;
  }
  interface Kernel {
    /** The sockets the host holds in this kernel (host/sockets/socket.ts). */
    readonly sockets: SocketRegistry;
    /**
     * An epair: both ends created in vnet0, then a moved into `a` and b into `b` (each
     * optional). Returns [a end, b end]. Both vnets are checked first, and a move that fails
     * destroys the pair: a failed call leaves no interface behind.
     */
    epair(a?: Vnet, b?: Vnet): [Interface, Interface];
    /** Capture every frame in and out of an interface (pcap/pcapng sinks, async iteration). */
    capture(iface: Interface, opts?: CaptureStartOptions): LiveCapture;
  }
}


Object.assign(Vnet.prototype, {
  interfaces(this: Vnet): Interface[] {
    this.check("interfaces");
    return interfacesOf(this.kernel, this);
  },
  interface(this: Vnet, name: string): Interface {
    this.check("interface");
    const i = lookup(this.kernel, this, name);
    if (!i) throw new ConfigError(`vnet "${this.name}" has no interface ${JSON.stringify(name)} (it has ${this.interfaces().map((x) => x.name).join(", ")})`);
    return i;
  },
  ifcreate(this: Vnet, name: string): Interface[] {
    this.check("ifconfig create");
    return createClone(this.kernel, this, name);
  },
  ifconfig(this: Vnet): string {
    this.check("ifconfig");
    return ifconfigText(this.kernel, this);
  },
  netstatI(this: Vnet): string {
    this.check("netstat -i");
    return netstatI(this.kernel, this);
  },
  socket(this: Vnet, domain: "inet" | "inet6" | number, type: "stream" | "dgram" | "raw" | number, protocol = 0): Socket {
    this.check("socket");
    return newSocket(this.kernel, this, domain, type, protocol);
  },
  sockstat(this: Vnet): string {
    this.check("sockstat");
    return formatSockstat(sockstat(this.kernel, this));
  },
  etherStats(this: Vnet): EtherStats {
    this.check("netstat -s");
    return etherStats(this.kernel, this);
  },
});

Object.assign(Interface.prototype, {
  capture(this: Interface, opts: CaptureStartOptions = {}): LiveCapture {
    return startCapture(this.kernel, checkInterface(this.kernel, this, "capture"), opts);
  },
});

Object.defineProperty(Kernel.prototype, "sockets", {
  get(this: Kernel): SocketRegistry {
    return registryOf(this);
  },
  configurable: true,
});

Object.assign(Kernel.prototype, {
  epair(this: Kernel, a?: Vnet | null, b?: Vnet | null): [Interface, Interface] {
    const va = a === undefined || a === null ? this.vnet0 : checkVnet(this, a, "epair: vnet a");
    const vb = b === undefined || b === null ? this.vnet0 : checkVnet(this, b, "epair: vnet b");
    const made = createClone(this, this.vnet0, "epair");
    const [ea, eb] = made[0]!.name.endsWith("a") ? [made[0]!, made[1]!] : [made[1]!, made[0]!];
    try {
      if (made.length !== 2) throw new KernelError(`ifconfig epair create made ${made.length} interfaces`, Errno.EINVAL);
      if (va !== this.vnet0) ea.moveTo(va);
      if (vb !== this.vnet0) eb.moveTo(vb);
    } catch (e) {
      // Destroying one end takes the pair, wherever its ends are now.
      if (ea.alive) ea.destroy();
      throw e;
    }
    return [ea, eb];
  },
  capture(this: Kernel, iface: Interface, opts: CaptureStartOptions = {}): LiveCapture {
    return startCapture(this, checkInterface(this, iface, "capture"), opts);
  },
});
