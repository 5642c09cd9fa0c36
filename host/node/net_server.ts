// NetServer: Node's net.Server over a listening kernel Socket (docs/net.md): every
// 'acceptable' edge accepts until the queue is empty and emits 'connection' with a NetSocket.

import { EventEmitter } from "node:events";
import type { Kernel, Vnet } from "../kern/kernel.js";
import { socket as newSocket, Socket, SocketError, SOL_SOCKET, SO, IPPROTO_IPV6, IPV6_V6ONLY, AF_INET6 } from "../sockets/socket.js";
import { IPPROTO_TCP } from "../admin/tcp.js";
import { asNetError, nodeError, RefHandle, resolveHost, toPort, inet, domainOf, type AddressInfo } from "./net_common.js";
import { NetSocket } from "./net_socket.js";

// ---------------------------------------------------------------------------------------
// The server

export interface ServerOptions {
  allowHalfOpen?: boolean;
  pauseOnConnect?: boolean;
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
  /** IP protocol (default IPPROTO_TCP). */
  protocol?: number;
}

export interface ListenOptions {
  port?: number | string;
  host?: string;
  backlog?: number;
  /**
   * With an IPv6 host: true listens for IPv6 only; false (the default, as Node's, whose libuv
   * always sets IPV6_V6ONLY on a TCP bind) is dual-stack: "::" also takes the port's IPv4
   * wildcard, and IPv4 clients show as ::ffff:a.b.c.d (docs/net.md).
   */
  ipv6Only?: boolean;
  exclusive?: boolean;
}

export class NetServer extends EventEmitter {
  readonly kernel: Kernel;
  readonly vnet: Vnet;
  readonly protocol: number;
  /** Refuse connections beyond this many (Node's maxConnections); they are closed and 'drop' is emitted. */
  maxConnections?: number;
  /** The listening socket. */
  raw?: Socket;
  readonly #opts: ServerOptions;
  readonly #connections = new Set<NetSocket>();
  #ref = new RefHandle();
  #closed = false;

  constructor(kernel: Kernel, vnet: Vnet, opts: ServerOptions = {}, connectionListener?: (s: NetSocket) => void) {
    super();
    this.kernel = kernel;
    this.vnet = vnet;
    this.#opts = opts;
    this.protocol = opts.protocol ?? IPPROTO_TCP;
    if (connectionListener) this.on("connection", connectionListener);
  }

  get listening(): boolean {
    return this.raw !== undefined && !this.raw.closed;
  }

  /** Open connections accepted by this server. */
  get connections(): number {
    return this.#connections.size;
  }

  /** listen(port?, host?, backlog?, cb?) | listen({ port, host, backlog }, cb?) | listen(cb?). */
  listen(...args: unknown[]): this {
    let port: unknown = 0;
    let host: string | undefined;
    let backlog = 511;
    let ipv6Only = false;
    let cb: (() => void) | undefined;
    if (typeof args[args.length - 1] === "function") cb = args.pop() as () => void;
    if (args.length > 0 && typeof args[0] === "object" && args[0] !== null) {
      const o = args[0] as ListenOptions;
      port = o.port ?? 0;
      host = o.host;
      backlog = o.backlog ?? backlog;
      ipv6Only = o.ipv6Only === true; // Node tests it for truth
    } else {
      if (args[0] !== undefined && args[0] !== null) port = args[0];
      if (typeof args[1] === "string") host = args[1];
      else if (typeof args[1] === "number") backlog = args[1];
      if (typeof args[2] === "number") backlog = args[2];
    }
    if (this.listening) throw nodeError("ERR_SERVER_ALREADY_LISTEN", "Listen method has been called more than once without closing.");
    const p = toPort(port, "options.port");
    if (cb) this.once("listening", cb);
    let addr: string;
    try {
      addr = resolveHost(host, "0.0.0.0");
    } catch (e) {
      process.nextTick(() => this.emit("error", e));
      return this;
    }
    let raw: Socket | undefined;
    try {
      raw = newSocket(this.kernel, this.vnet, domainOf(addr), "stream", this.protocol);
      raw.setsockopt(SOL_SOCKET, SO.REUSEADDR, true);
      if (raw.family === AF_INET6) raw.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, ipv6Only);
      try {
        raw.bind(addr, p);
      } catch (e) {
        throw asNetError(e, "listen", addr, p); // Node reports bind failures of listen() as syscall "listen"
      }
      try {
        raw.listen(backlog > 128 || backlog < 0 ? -1 : backlog);
      } catch (e) {
        throw asNetError(e, "listen", addr, p);
      }
    } catch (e) {
      raw?.close();
      process.nextTick(() => this.emit("error", e instanceof Error && "syscall" in e ? e : asNetError(e, "listen", addr, p)));
      return this;
    }
    this.raw = raw;
    this.#closed = false;
    raw.on("acceptable", () => this.#acceptAll());
    raw.on("error", (e: SocketError) => {
      // The kernel closing the listener (vnet destroyed, protocol unloaded) ends the server
      // with 'close', not an 'error' nobody may be listening for.
      if (e.code !== "ECONNABORTED") this.emit("error", asNetError(e, "accept"));
    });
    raw.on("close", () => {
      // The kernel closed the listener (vnet destroyed, protocol unloaded).
      if (this.raw === raw) this.#stop();
    });
    this.#ref.activate();
    process.nextTick(() => {
      if (this.raw === raw) this.emit("listening");
    });
    return this;
  }

  #acceptAll(): void {
    const lst = this.raw;
    if (!lst) return;
    for (;;) {
      let raw: Socket | null;
      try {
        raw = lst.closed ? null : lst.accept();
      } catch (e) {
        this.emit("error", asNetError(e, "accept"));
        return;
      }
      if (!raw) return;
      if (this.maxConnections !== undefined && this.#connections.size >= this.maxConnections) {
        const peer = inet(raw.remoteAddress());
        const local = inet(raw.address());
        raw.close();
        this.emit("drop", { localAddress: local?.address, localPort: local?.port, localFamily: "IPv4", remoteAddress: peer?.address, remotePort: peer?.port, remoteFamily: "IPv4" });
        continue;
      }
      const s = NetSocket._accepted(this, raw, {
        allowHalfOpen: this.#opts.allowHalfOpen,
        noDelay: this.#opts.noDelay,
        keepAlive: this.#opts.keepAlive,
        keepAliveInitialDelay: this.#opts.keepAliveInitialDelay,
      });
      this.#connections.add(s);
      s.once("close", () => {
        this.#connections.delete(s);
        this.#emitCloseIfDrained();
      });
      if (this.#opts.pauseOnConnect) s._pauseOnConnect();
      this.emit("connection", s);
      s._startReading();
    }
  }

  /** { address, family, port } while listening, else null. */
  address(): AddressInfo | null {
    if (!this.listening) return null;
    return inet(this.raw!.address()) ?? null;
  }

  /** Stop accepting; 'close' (and cb) once every connection has ended. */
  close(cb?: (err?: Error) => void): this {
    if (cb) {
      if (!this.listening) this.once("close", () => cb(nodeError("ERR_SERVER_NOT_RUNNING", "Server is not running.")));
      else this.once("close", cb);
    }
    this.#stop();
    return this;
  }

  #stop(): void {
    if (this.raw) {
      const raw = this.raw;
      this.raw = undefined;
      raw.close(); // connections still in its queue are aborted by the kernel
    }
    this.#ref.deactivate();
    this.#closed = true;
    this.#emitCloseIfDrained();
  }

  #emitCloseIfDrained(): void {
    if (this.raw || !this.#closed || this.#connections.size > 0) return;
    this.#closed = false; // one 'close' per close()
    process.nextTick(() => this.emit("close"));
  }

  getConnections(cb: (err: Error | null, count: number) => void): this {
    const n = this.#connections.size;
    process.nextTick(() => cb(null, n));
    return this;
  }

  ref(): this {
    this.#ref.ref();
    return this;
  }

  unref(): this {
    this.#ref.unref();
    return this;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.listening) return;
    await new Promise<void>((r) => this.close(() => r()));
  }
}
