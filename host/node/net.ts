// Node `net`-compatible objects over wavnet stream sockets (docs/net.md).
//
// NetSocket is a stream.Duplex over a kernel stream Socket (host/socket.ts):
//   readable side: _read() asks for data; the socket reads (recv) until EAGAIN or until
//     push() says the consumer has enough. While nobody reads, bytes stay in the kernel's
//     receive buffer, so a paused reader closes the peer's window (back-pressure through
//     the kernel, not through an unbounded JavaScript buffer). A 0-byte read is the peer's
//     FIN: push(null).
//   writable side: _write() sends as much as the send buffer takes and waits for the
//     kernel's 'writable' edge for the rest; write()'s return value and 'drain' follow from
//     the stream's own accounting. end() runs _final: shutdown(SHUT_WR), then 'finish'.
//   close: destroy() closes the kernel socket (plain close: FIN after what is queued);
//     resetAndDestroy() sets SO_LINGER 0 first, which a protocol that implements it (TCP)
//     answers with a RST. 'close' carries hadError, as Node's does.
// NetServer is a net.Server over a listening Socket: every 'acceptable' edge accepts until
// the queue is empty and emits 'connection' with a NetSocket.
//
// Errors are Error objects with Node's fields: code ("ECONNREFUSED"), errno (negative, as
// libuv's), syscall ("connect", "listen", "read", "write"), address, port; the message is
// Node's ("connect ECONNREFUSED 10.0.0.1:80").
//
// The pieces: host/net_socket.ts (NetSocket), host/net_server.ts (NetServer),
// host/net_common.ts (errors, refs, addresses); this file has the net module's functions.

import type { Kernel, Vnet } from "../kern/kernel.js";
import { NetSocket, type NetSocketOptions, type ConnectOptions } from "./net_socket.js";
import { NetServer, type ServerOptions } from "./net_server.js";

export { netError, type NetError, type AddressInfo } from "./net_common.js";
export { NetSocket, type NetSocketOptions, type ConnectOptions } from "./net_socket.js";
export { NetServer, type ServerOptions, type ListenOptions } from "./net_server.js";

// ---------------------------------------------------------------------------------------
// Functions, as the net module has them

export function createServer(kernel: Kernel, vnet: Vnet, opts?: ServerOptions | ((s: NetSocket) => void), connectionListener?: (s: NetSocket) => void): NetServer {
  if (typeof opts === "function") return new NetServer(kernel, vnet, {}, opts);
  return new NetServer(kernel, vnet, opts ?? {}, connectionListener);
}

/** connect(k, v, { port, host, localAddress, localPort, ... }, cb?) | connect(k, v, port, host?, cb?). */
export function connect(kernel: Kernel, vnet: Vnet, options: ConnectOptions | number | string, host?: string | (() => void), cb?: () => void): NetSocket {
  const o = typeof options === "object" ? options : {};
  const s = new NetSocket(kernel, vnet, o);
  return s.connect(options, host, cb);
}

export const createConnection = connect;

/** The net-module surface of one vnet (what `vnet.net` is). */
export interface VnetNet {
  createServer(opts?: ServerOptions | ((s: NetSocket) => void), connectionListener?: (s: NetSocket) => void): NetServer;
  connect(options: ConnectOptions | number | string, host?: string | (() => void), cb?: () => void): NetSocket;
  createConnection(options: ConnectOptions | number | string, host?: string | (() => void), cb?: () => void): NetSocket;
  Socket: new (opts?: NetSocketOptions) => NetSocket;
}

/**
 * net bound to a kernel and vnet: `netFor(k, v).createServer(...)`. `defaults` apply to
 * every server and socket made through it (e.g. { protocol: 253 } for the test fixture).
 */
export function netFor(kernel: Kernel, vnet: Vnet, defaults: { protocol?: number } = {}): VnetNet {
  const withDefaults = <T extends object>(o: T | undefined): T => ({ ...defaults, ...(o ?? {}) }) as T;
  const conn = (options: ConnectOptions | number | string, host?: string | (() => void), cb?: () => void) => {
    const o: ConnectOptions = typeof options === "object" ? withDefaults(options) : { ...defaults, port: options, host: typeof host === "string" ? host : undefined };
    return connect(kernel, vnet, o, typeof host === "function" ? host : cb);
  };
  return {
    createServer: (opts, listener) => (typeof opts === "function" ? createServer(kernel, vnet, withDefaults({}), opts) : createServer(kernel, vnet, withDefaults(opts), listener)),
    connect: conn,
    createConnection: conn,
    Socket: class extends NetSocket {
      constructor(opts?: NetSocketOptions) {
        super(kernel, vnet, withDefaults(opts));
      }
    },
  };
}
