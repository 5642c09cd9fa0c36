// What the services and steps share over the core's BSD sockets: a listening stream socket,
// a bound datagram socket, a connect that reports how it ended, and socket failures worded
// as Node words them ("listen EADDRINUSE 10.0.0.2:7"), which is what step results say.

import type { Kernel, Vnet } from "../kern/kernel.js";
import { socket, Socket, SocketError, SocketClosedError, SOL_SOCKET, SO, SS } from "../sockets/socket.js";

/** "inet6" for an address with a colon, else "inet". */
export function domainOf(address: string): "inet" | "inet6" {
  return address.includes(":") ? "inet6" : "inet";
}

/** A socket call's failure: "connect ECONNREFUSED 10.0.0.2:80", "read ECONNRESET"; other errors by their message. */
export function sysError(syscall: string, e: unknown, address?: string, port?: number): Error {
  const code = e instanceof SocketError ? e.code : e instanceof SocketClosedError ? "ECONNABORTED" : undefined;
  if (code === undefined) return e instanceof Error ? e : new Error(String(e));
  const where = address === undefined ? "" : ` ${address}${port === undefined ? "" : `:${port}`}`;
  return Object.assign(new Error(`${syscall} ${code}${where}`, { cause: e }), { code });
}

/** A TCP socket listening on address:port (SO_REUSEADDR, as servers set it); throws sysError("listen", ...). */
export function listenStream(kernel: Kernel, vnet: Vnet, address: string, port: number): Socket {
  let s: Socket | undefined;
  try {
    s = socket(kernel, vnet, domainOf(address), "stream");
    s.setsockopt(SOL_SOCKET, SO.REUSEADDR, true);
    s.bind(address, port);
    s.listen();
    return s;
  } catch (e) {
    s?.close();
    throw sysError("listen", e, address, port);
  }
}

/** Accept every queued connection on each 'acceptable'. */
export function onAccept(lst: Socket, handle: (s: Socket) => void): void {
  lst.on("acceptable", () => {
    while (!lst.closed) {
      let s: Socket | null;
      try {
        s = lst.accept();
      } catch {
        return; // a connection aborted in the queue: the next 'acceptable' brings the rest
      }
      if (!s) return;
      handle(s);
    }
  });
}

/** A UDP socket bound to address:port; throws sysError("bind", ...). */
export function bindDgram(kernel: Kernel, vnet: Vnet, address: string, port: number): Socket {
  let s: Socket | undefined;
  try {
    s = socket(kernel, vnet, domainOf(address), "dgram");
    s.bind(address, port);
    return s;
  } catch (e) {
    s?.close();
    throw sysError("bind", e, address, port);
  }
}

/**
 * connect(2) from vnet to address:port without blocking: connected() once the connection is
 * made, failed(e) if it is refused, times out or the kernel closes the socket first.
 */
export function connectStream(kernel: Kernel, vnet: Vnet, address: string, port: number, on: { connected(): void; failed(e: Error): void }): Socket {
  const s = socket(kernel, vnet, domainOf(address), "stream");
  let state: "connecting" | "connected" | "failed" = "connecting";
  const fail = (e: unknown) => {
    if (state !== "connecting") return;
    state = "failed";
    on.failed(sysError("connect", e, address, port));
  };
  const check = () => {
    if (state !== "connecting" || s.closed) return;
    // A connect that failed may post 'connect' with its error pending: look first.
    const st = s.info().state;
    if ((st & SS.ISCONNECTED) === 0) {
      if (st & SS.ISCONNECTING) return;
      const err = s.getsockopt(SOL_SOCKET, SO.ERROR);
      if (err) return fail(new SocketError("connect", -err));
    }
    state = "connected";
    on.connected();
  };
  s.on("connect", check);
  s.on("error", fail);
  s.on("close", () => fail(new SocketClosedError(`${s} closed by the kernel`)));
  try {
    if (s.connect(address, port)) queueMicrotask(check);
  } catch (e) {
    queueMicrotask(() => fail(e));
  }
  return s;
}
