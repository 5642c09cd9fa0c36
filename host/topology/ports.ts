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

// WebSocket ports: a client port (url) is the core's own (host/wire/websocket.ts, on the
// platform's WebSocket); a port that accepts connections (listen: true) needs a server,
// which only Node has: host/node/topology_ws.ts registers the maker of listeners.

/** Where a topology's listen: true interfaces are served (host/node/ws_listen.ts WebSocketListener). */
export interface WebSocketListenerLike {
  readonly host: string;
  readonly port: number;
  /** ws://HOST:PORT/PATH */
  url(path: string): string;
  serve(path: string, iface: import("../wire/websocket.js").WebSocketInterface): void;
  close(): Promise<void>;
}

export interface WebSocketListenOptions {
  /** TCP port (0: any free one). */
  port: number;
  /** Address to listen on (default 127.0.0.1). */
  host?: string;
  /** Browser origins allowed to connect (default: any). */
  allowOrigins?: string[];
  /** Ping interval, ms (default 15000; 0: none). */
  heartbeatMs?: number;
}

export type WebSocketListenerFactory = (opts: WebSocketListenOptions) => Promise<WebSocketListenerLike>;

let listenerFactory: WebSocketListenerFactory | undefined;

/** Install the platform's WebSocket listener maker (undefined removes it). */
export function setWebSocketListenerFactory(f: WebSocketListenerFactory | undefined): void {
  listenerFactory = f;
}

export function webSocketListenerFactory(): WebSocketListenerFactory | undefined {
  return listenerFactory;
}

/** A listener from the registered maker; rejects when the platform registered none. */
export function createWebSocketListener(opts: WebSocketListenOptions): Promise<WebSocketListenerLike> {
  if (!listenerFactory) return Promise.reject(new WavnetError("websocket interfaces with listen: true need a server, which only Node has (import wavnet or wavnet/node)"));
  return listenerFactory(opts);
}
