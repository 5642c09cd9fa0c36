// A Node `dgram`-compatible UDP socket over a vnet: createSocket(kernel, vnet, "udp4")
// returns an object that behaves like Node's dgram.Socket (events 'listening', 'message',
// 'connect', 'close', 'error'; bind, send, connect, disconnect, address, remoteAddress,
// close, buffer sizes, broadcast, TTL, ref/unref), so code written for node:dgram runs over
// a wavnet vnet with only the createSocket call changed:
//
//   const s = createSocket(k, vnetB, "udp4");
//   s.on("message", (msg, rinfo) => s.send(msg, rinfo.port, rinfo.address));
//   s.bind(7);
//
// It is built on host/socket.ts's Socket (a UDP socket of the kernel's socket layer): the
// kernel's event ring says when datagrams are queued ('readable'), and this object drains
// them in batches (host/udp.ts recvBatch: one Wasm call per up to 64 KiB of datagrams) and
// emits one 'message' per datagram, each from its own setImmediate (where libuv's poll
// phase would);
// other events and callbacks come on process.nextTick, as Node's do. So the order of events
// is node:dgram's (tests/udp_dgram.test.ts runs one scenario against both).
//
// Where it differs from Node on Linux:
// - The stack is FreeBSD's: a datagram larger than the send buffer (net.inet.udp.maxdgram,
//   9216 bytes by default) fails with EMSGSIZE, as node:dgram on FreeBSD does; raise it with
//   setSendBufferSize (or the sendBufferSize option) up to 65507-byte datagrams. Buffer
//   sizes are not doubled as Linux does.
// - reuseAddr sets SO_REUSEADDR and SO_REUSEPORT (what libuv does on the BSDs), so two
//   sockets with it share a port.
// - Names: dotted IPv4 addresses (udp4) or IPv6 literals (udp6), and "localhost" (no DNS);
//   a udp6 socket is IPv6 only unless ipv6Only is false or the vnet's net.inet6.ip6.v6only
//   is 0 (then dual-stack: IPv4 peers as ::ffff:a.b.c.d, docs/sockets.md) and reads its
//   datagrams with recvfrom (the batched read is IPv4's); multicast membership is not
//   available yet.
// - Buffer-size calls and setBroadcast/setTTL work before bind too.

import { EventEmitter } from "node:events";
import { checkVnet, type Kernel, type Vnet } from "../kern/kernel.js";
import { ModuleNotLoadedError } from "../lib/errors.js";
import { Socket, SocketError, socket, SOL_SOCKET, SO, IPPROTO_IPV6, IPV6_V6ONLY } from "../sockets/socket.js";
import { recvBatch, IPPROTO_UDP, UDP_MAXPAYLOAD, type UdpDatagram } from "../admin/udp.js";
import { isIPv4, isIPv6 } from "../lib/addr.js";
import { uvErrno, receivedType } from "./net_common.js";

export interface SocketOptions {
  type: "udp4" | "udp6";
  /** SO_REUSEADDR + SO_REUSEPORT: several sockets may bind the same port. */
  reuseAddr?: boolean;
  /**
   * udp6: true: IPv6 only; false: dual-stack (IPv4 peers as ::ffff:a.b.c.d, and "::" also
   * takes the port's IPv4 wildcard). Left out, the vnet's net.inet6.ip6.v6only decides (1 by
   * default: IPv6 only), as Node on FreeBSD, whose libuv sets IPV6_V6ONLY only when asked.
   */
  ipv6Only?: boolean;
  recvBufferSize?: number;
  sendBufferSize?: number;
  /** Closing the socket when the signal aborts. */
  signal?: AbortSignal;
}

export interface RemoteInfo {
  address: string;
  family: "IPv4" | "IPv6";
  port: number;
  size: number;
}

export interface AddressInfo {
  address: string;
  family: "IPv4" | "IPv6";
  port: number;
}

export interface BindOptions {
  port?: number;
  address?: string;
  exclusive?: boolean;
}

type MessageListener = (msg: Buffer, rinfo: RemoteInfo) => void;
type SendCallback = (error: Error | null, bytes?: number) => void;
type Msg = string | Uint8Array | DataView | readonly (string | Uint8Array | DataView)[];

const IP_TTL = 4;
const IPPROTO_IP = 0;
const READ_BATCH = 1024;

/** Node's internal errors (ERR_SOCKET_*): an Error with a code. */
class NodeError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
  override toString(): string {
    return `Error [${this.code}]: ${this.message}`;
  }
}

/** An error from a system call, shaped like Node's (code, errno, syscall, address, port). */
export class DgramError extends Error {
  constructor(
    readonly code: string,
    readonly errno: number,
    readonly syscall: string,
    readonly address?: string,
    readonly port?: number,
    options?: { cause?: unknown },
  ) {
    super(`${syscall} ${code}${address !== undefined ? ` ${address}${port !== undefined && port !== 0 ? `:${port}` : ""}` : ""}`, options);
  }
}

/** A DgramError with Node's errno for the code (libuv's number, net_common.ts uvErrno). */
function dgramError(code: string, syscall: string, address?: string, port?: number, options?: { cause?: unknown }): DgramError {
  return new DgramError(code, uvErrno(code), syscall, address, port, options);
}

function fromSocketError(e: unknown, syscall: string, address?: string, port?: number): unknown {
  if (e instanceof SocketError) return dgramError(e.code, syscall, address, port, { cause: e });
  return e;
}

function validatePort(port: unknown, allowZero: boolean): number {
  const n = typeof port === "string" && port.trim() !== "" ? Number(port) : port;
  if (typeof n !== "number" || !Number.isInteger(n) || n < (allowZero ? 0 : 1) || n > 65535) {
    const e = new NodeError("ERR_SOCKET_BAD_PORT", `Port should be ${allowZero ? ">=" : ">"} 0 and < 65536. Received ${receivedType(port)}.`);
    Object.setPrototypeOf(e, RangeError.prototype);
    throw e;
  }
  return n;
}

/** Names this host resolves: dotted quads, IPv6 literals (with a zone or without) and "localhost". */
function resolve(address: string | undefined | null, dflt: string, six = false): string | DgramError {
  const a = address === undefined || address === null || address === "" ? dflt : address;
  if (a === "localhost") return six ? "::1" : "127.0.0.1";
  if (six ? isIPv6(a, { zone: true }) : isIPv4(a)) return a; // a zone ("fe80::1%epair0b") the socket resolves
  const e = dgramError("ENOTFOUND", "getaddrinfo", a);
  Object.assign(e, { hostname: a });
  return e;
}

function toBytes(msg: Msg): Uint8Array {
  const one = (m: string | Uint8Array | DataView): Uint8Array => {
    if (typeof m === "string") return Buffer.from(m);
    if (m instanceof Uint8Array) return m;
    if (ArrayBuffer.isView(m)) return new Uint8Array(m.buffer, m.byteOffset, m.byteLength);
    const e = new NodeError("ERR_INVALID_ARG_TYPE", `The "buffer" argument must be of type string or an instance of Buffer, TypedArray, or DataView. Received ${typeof m}`);
    Object.setPrototypeOf(e, TypeError.prototype);
    throw e;
  };
  if (Array.isArray(msg)) {
    const parts = msg.map(one);
    return parts.length === 1 ? parts[0] : Buffer.concat(parts);
  }
  return one(msg as string | Uint8Array | DataView);
}

/** A UDP socket in a vnet with node:dgram's Socket interface. */
export class DgramSocket extends EventEmitter {
  readonly #kernel: Kernel;
  readonly #sock: Socket;
  readonly #six: boolean;
  #bound = false;
  #connected = false;
  #closed = false;
  #pumpScheduled = false;
  #queue: UdpDatagram[] = [];
  #head = 0;

  /** @internal use createSocket() */
  constructor(kernel: Kernel, readonly vnet: Vnet, opts: SocketOptions) {
    super();
    this.#kernel = kernel;
    if (!kernel.linker.isLoaded("udp")) throw new ModuleNotLoadedError(`dgram.createSocket: the udp module is not loaded (kldload("udp"), or boot the GENERIC configuration)`);
    this.#six = opts.type === "udp6";
    if (this.#six && !kernel.linker.isLoaded("inet6")) throw new ModuleNotLoadedError(`dgram.createSocket("udp6"): the inet6 module is not loaded (a NOINET6 kernel has no IPv6)`);
    this.#sock = socket(kernel, vnet, this.#six ? "inet6" : "inet", "dgram", IPPROTO_UDP);
    try {
      if (opts.reuseAddr) {
        this.#sock.setsockopt(SOL_SOCKET, SO.REUSEADDR, true);
        this.#sock.setsockopt(SOL_SOCKET, SO.REUSEPORT, true);
      }
      if (this.#six && opts.ipv6Only !== undefined) this.#sock.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, !!opts.ipv6Only);
      if (opts.recvBufferSize !== undefined) this.setRecvBufferSize(opts.recvBufferSize);
      if (opts.sendBufferSize !== undefined) this.setSendBufferSize(opts.sendBufferSize);
    } catch (e) {
      this.#sock.close();
      throw e;
    }
    // Datagrams are emitted one per setImmediate, as a real socket's arrive one libuv
    // callback each in the poll phase: the nextTicks and promise jobs a 'message' handler
    // starts run before the next 'message', as with node:dgram.
    this.#sock.on("readable", () => this.#schedule());
    // No 'error' listener on the kernel socket: a pending error (ICMP) is read with the
    // datagrams (#pump) and emitted there. The kernel closing the socket (its vnet
    // destroyed, udp force-unloaded) ends it with 'close'.
    this.#sock.on("close", () => {
      if (this.#closed) return;
      this.#closed = true;
      this.emit("close");
    });
    if (opts.signal) {
      const sig = opts.signal;
      if (sig.aborted) process.nextTick(() => this.#closeQuietly());
      else sig.addEventListener("abort", () => this.#closeQuietly(), { once: true });
    }
  }

  /** The kernel socket underneath (the BSD-style API: setsockopt, info, ...). */
  get socket(): Socket {
    return this.#sock;
  }

  #closeQuietly(): void {
    if (!this.#closed) this.close();
  }

  /**
   * Node's healthCheck: a closed socket throws ERR_SOCKET_DGRAM_NOT_RUNNING, synchronously.
   * Closed includes closed by the kernel (its vnet destroyed, udp unloaded) before that
   * 'close' has been dispatched: otherwise a send() in between would fail later, as an
   * 'error' event that ends a process with no listener for it.
   */
  #healthCheck(): void {
    if (this.#closed || this.#sock.closed) throw new NodeError("ERR_SOCKET_DGRAM_NOT_RUNNING", "Not running");
  }

  #emitSoon(event: string, ...args: unknown[]): void {
    process.nextTick(() => this.emit(event, ...args));
  }

  #schedule(): void {
    if (this.#pumpScheduled || this.#closed) return;
    this.#pumpScheduled = true;
    setImmediate(() => {
      this.#pumpScheduled = false;
      this.#pump();
    });
  }

  /** Emit the next datagram (reading a batch when none is held); again in the next turn while any is left. */
  #pump(): void {
    if (this.#closed || this.#sock.closed) return;
    if (this.#queue.length === 0) {
      try {
        this.#queue = this.#six ? this.#read6() : recvBatch(this.#kernel, this.#sock, READ_BATCH);
      } catch (e) {
        if (this.#closed) return;
        this.#schedule(); // datagrams may be queued behind the error
        this.emit("error", fromSocketError(e, "recvmsg"));
        return;
      }
      this.#head = 0;
      // Nothing: the read returned EAGAIN and re-armed the kernel's 'readable'.
      if (this.#queue.length === 0) return;
    }
    const d = this.#queue[this.#head++];
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    }
    this.#schedule();
    const msg = Buffer.from(d.data.buffer, d.data.byteOffset, d.data.length);
    this.emit("message", msg, { address: d.address, family: this.#six ? "IPv6" : "IPv4", port: d.port, size: d.data.length } satisfies RemoteInfo);
  }

  /** udp6: up to READ_BATCH datagrams by recvfrom (an error with datagrams read is left for the next read). */
  #read6(): UdpDatagram[] {
    const out: UdpDatagram[] = [];
    while (out.length < READ_BATCH) {
      let d;
      try {
        d = this.#sock.recvfrom(UDP_MAXPAYLOAD);
      } catch (e) {
        if (out.length > 0) break;
        throw e;
      }
      if (d === null) break;
      const a = d.address;
      out.push({ data: d.data, address: a && a.family === "inet6" ? a.address : "::", port: a && a.family === "inet6" ? a.port : 0 });
    }
    return out;
  }

  /**
   * bind([port][, address][, callback]) or bind(options[, callback]). Port 0 or none: an
   * ephemeral port. 'listening' (and callback) follow; a failure is an 'error' event.
   */
  bind(port?: number | BindOptions | (() => void), address?: string | (() => void), callback?: () => void): this {
    this.#healthCheck();
    if (this.#bound) throw new NodeError("ERR_SOCKET_ALREADY_BOUND", "Socket is already bound");
    let p: unknown = port;
    let a: unknown = address;
    let cb: unknown = callback;
    if (p !== null && typeof p === "object") {
      cb = a;
      a = (p as BindOptions).address;
      p = (p as BindOptions).port ?? 0;
    } else if (typeof p === "function") {
      cb = p;
      p = 0;
      a = undefined;
    }
    if (typeof a === "function") {
      cb = a;
      a = undefined;
    }
    const portN = validatePort(p ?? 0, true);
    if (typeof cb === "function") this.once("listening", cb as () => void);
    const ip = resolve(a as string | undefined, this.#six ? "::" : "0.0.0.0", this.#six);
    if (ip instanceof DgramError) {
      this.#emitSoon("error", ip);
      return this;
    }
    try {
      this.#sock.bind(ip, portN);
    } catch (e) {
      this.#emitSoon("error", fromSocketError(e, "bind", ip, portN));
      return this;
    }
    this.#bound = true;
    this.#emitSoon("listening");
    return this;
  }

  #ensureBound(): void {
    if (!this.#bound) this.bind({ port: 0, exclusive: true });
  }

  /**
   * send(msg[, offset, length][, port][, address][, callback]). msg: Buffer, TypedArray,
   * DataView, string, or an array of them (sent as one datagram). callback(error, bytes);
   * without a callback a failure is an 'error' event.
   */
  send(msg: Msg, port?: number, address?: string, callback?: SendCallback): void;
  send(msg: Msg, port?: number, callback?: SendCallback): void;
  send(msg: Msg, callback?: SendCallback): void;
  send(msg: Msg, offset: number, length: number, port?: number, address?: string, callback?: SendCallback): void;
  send(msg: Msg, offset: number, length: number, callback?: SendCallback): void;
  send(msg: Msg, ...rest: unknown[]): void {
    let [offset, length, port, address, callback] = rest as [unknown, unknown, unknown, unknown, unknown];
    let bytes: Uint8Array;
    const slice = () => {
      const b = toBytes(msg);
      const off = Number(offset) >>> 0;
      const len = Number(length) >>> 0;
      return b.subarray(off, off + len);
    };
    if (!this.#connected) {
      if (address || (port && typeof port !== "function")) {
        bytes = slice();
      } else {
        callback = port;
        port = offset;
        address = length;
        bytes = toBytes(msg);
      }
    } else {
      // node:dgram's own argument rules for a connected socket.
      if (typeof length === "number") {
        bytes = slice();
        if (typeof port === "function") {
          callback = port;
          port = null;
        } else if (port || address) {
          throw new NodeError("ERR_SOCKET_DGRAM_IS_CONNECTED", "Already connected");
        }
      } else {
        bytes = toBytes(msg);
        callback = offset;
      }
      if (port || address) throw new NodeError("ERR_SOCKET_DGRAM_IS_CONNECTED", "Already connected");
    }
    let portN = 0;
    if (!this.#connected) portN = validatePort(port, false);
    if (typeof address === "function") {
      callback = address;
      address = undefined;
    }
    const cb = typeof callback === "function" ? (callback as SendCallback) : undefined;
    this.#healthCheck();
    this.#ensureBound();
    const fail = (e: unknown) => {
      if (cb) process.nextTick(cb, e);
      else this.#emitSoon("error", e);
    };
    let ip: string | undefined;
    if (!this.#connected) {
      const r = resolve(address as string | undefined, this.#six ? "::1" : "127.0.0.1", this.#six);
      if (r instanceof DgramError) return fail(r);
      ip = r;
    }
    if (bytes.length > UDP_MAXPAYLOAD) return fail(dgramError("EMSGSIZE", "send", ip, portN || undefined));
    let n: number;
    try {
      n = ip !== undefined ? this.#sock.sendto(bytes, ip, portN) : this.#sock.send(bytes);
    } catch (e) {
      return fail(fromSocketError(e, "send", ip, ip !== undefined ? portN : undefined));
    }
    if (cb) process.nextTick(cb, null, n);
  }

  /** connect(port[, address][, callback]): fixes the peer; only its datagrams arrive. 'connect' follows. */
  connect(port: number, address?: string | (() => void), callback?: () => void): void {
    const portN = validatePort(port, false);
    if (typeof address === "function") {
      callback = address;
      address = undefined;
    }
    this.#healthCheck();
    if (this.#connected) throw new NodeError("ERR_SOCKET_DGRAM_IS_CONNECTED", "Already connected");
    if (typeof callback === "function") this.once("connect", callback);
    this.#ensureBound();
    const ip = resolve(address, this.#six ? "::1" : "127.0.0.1", this.#six);
    const failed = (e: unknown) => {
      process.nextTick(() => {
        if (callback) this.removeListener("connect", callback);
        this.emit("error", e);
      });
    };
    if (ip instanceof DgramError) return failed(ip);
    try {
      this.#sock.connect(ip, portN);
    } catch (e) {
      return failed(fromSocketError(e, "connect", ip, portN));
    }
    this.#connected = true;
    this.#emitSoon("connect");
  }

  /** Back to unconnected (connect to AF_UNSPEC). */
  disconnect(): void {
    this.#healthCheck();
    if (!this.#connected) throw new NodeError("ERR_SOCKET_DGRAM_NOT_CONNECTED", "Not connected");
    const unspec = new Uint8Array(16);
    unspec[0] = 16;
    try {
      this.#sock.connect(unspec);
    } catch (e) {
      throw fromSocketError(e, "connect");
    }
    this.#connected = false;
  }

  remoteAddress(): AddressInfo {
    this.#healthCheck();
    if (!this.#connected) throw new NodeError("ERR_SOCKET_DGRAM_NOT_CONNECTED", "Not connected");
    const a = this.#sock.remoteAddress();
    if (!a || (a.family !== "inet" && a.family !== "inet6")) throw new NodeError("ERR_SOCKET_DGRAM_NOT_CONNECTED", "Not connected");
    return { address: a.address, family: a.family === "inet6" ? "IPv6" : "IPv4", port: a.port };
  }

  address(): AddressInfo {
    this.#healthCheck();
    if (!this.#bound) throw dgramError("EBADF", "getsockname");
    const a = this.#sock.address();
    if (!a || (a.family !== "inet" && a.family !== "inet6")) throw dgramError("EBADF", "getsockname");
    return { address: a.address, family: a.family === "inet6" ? "IPv6" : "IPv4", port: a.port };
  }

  /**
   * close([callback]): 'close' follows. Closing a closed socket throws
   * ERR_SOCKET_DGRAM_NOT_RUNNING; one the kernel closed whose 'close' has not come yet
   * closes quietly (cleanup right after destroying its vnet is not a mistake).
   */
  close(callback?: () => void): this {
    if (typeof callback === "function") this.on("close", callback);
    if (this.#closed) throw new NodeError("ERR_SOCKET_DGRAM_NOT_RUNNING", "Not running");
    this.#closed = true;
    this.#sock.close();
    this.#emitSoon("close");
    return this;
  }

  #opt(name: number, value: number, what: string): void {
    this.#healthCheck();
    try {
      this.#sock.setsockopt(SOL_SOCKET, name, value);
    } catch (e) {
      throw fromSocketError(e, what);
    }
  }

  setBroadcast(flag: boolean): void {
    this.#opt(SO.BROADCAST, flag ? 1 : 0, "setBroadcast");
  }

  setTTL(ttl: number): number {
    if (typeof ttl !== "number") {
      const e = new NodeError("ERR_INVALID_ARG_TYPE", `The "ttl" argument must be of type number. Received ${typeof ttl}`);
      Object.setPrototypeOf(e, TypeError.prototype);
      throw e;
    }
    this.#healthCheck();
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > 255) throw dgramError("EINVAL", "setTTL");
    try {
      this.#sock.setsockopt(IPPROTO_IP, IP_TTL, ttl);
    } catch (e) {
      throw fromSocketError(e, "setTTL");
    }
    return ttl;
  }

  #bufferSize(name: number, size: number | undefined, what: string): number {
    this.#healthCheck();
    if (size !== undefined) {
      if (!Number.isInteger(size) || size <= 0 || size > 0x7fffffff) {
        const e = new NodeError("ERR_SOCKET_BUFFER_SIZE", `Could not get or set buffer size: ${what} EINVAL`);
        Object.setPrototypeOf(e, TypeError.prototype);
        throw e;
      }
      try {
        this.#sock.setsockopt(SOL_SOCKET, name, size);
      } catch (e) {
        const err = new NodeError("ERR_SOCKET_BUFFER_SIZE", `Could not get or set buffer size: ${what} ${(e as SocketError).code ?? e}`);
        Object.setPrototypeOf(err, TypeError.prototype);
        throw err;
      }
    }
    return this.#sock.getsockopt(SOL_SOCKET, name);
  }

  setRecvBufferSize(size: number): void {
    this.#bufferSize(SO.RCVBUF, size, "uv_recv_buffer_size");
  }

  getRecvBufferSize(): number {
    return this.#bufferSize(SO.RCVBUF, undefined, "uv_recv_buffer_size");
  }

  setSendBufferSize(size: number): void {
    this.#bufferSize(SO.SNDBUF, size, "uv_send_buffer_size");
  }

  getSendBufferSize(): number {
    return this.#bufferSize(SO.SNDBUF, undefined, "uv_send_buffer_size");
  }

  /** Sends complete at once: nothing is ever queued in the host. */
  getSendQueueSize(): number {
    return 0;
  }

  getSendQueueCount(): number {
    return 0;
  }

  #noMulticast(what: string): never {
    throw dgramError("ENOPROTOOPT", what);
  }

  addMembership(_group: string, _iface?: string): void {
    this.#noMulticast("addMembership");
  }

  dropMembership(_group: string, _iface?: string): void {
    this.#noMulticast("dropMembership");
  }

  setMulticastTTL(_ttl: number): number {
    this.#noMulticast("setMulticastTTL");
  }

  setMulticastLoopback(_flag: boolean): boolean {
    this.#noMulticast("setMulticastLoopback");
  }

  setMulticastInterface(_iface: string): void {
    this.#noMulticast("setMulticastInterface");
  }

  /** No-ops: a vnet socket never keeps Node alive. */
  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }
}

export interface DgramSocket {
  on(event: "message", listener: MessageListener): this;
  on(event: "listening" | "close" | "connect", listener: () => void): this;
  on(event: "error", listener: (err: Error) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
  once(event: "message", listener: MessageListener): this;
  once(event: "listening" | "close" | "connect", listener: () => void): this;
  once(event: "error", listener: (err: Error) => void): this;
  once(event: string | symbol, listener: (...args: any[]) => void): this;
}

/**
 * dgram.createSocket for a vnet: createSocket(kernel, vnet, "udp4" | { type: "udp4",
 * reuseAddr, recvBufferSize, sendBufferSize, signal }[, onMessage]).
 */
export function createSocket(kernel: Kernel, vnet: Vnet, type: "udp4" | "udp6" | SocketOptions, callback?: MessageListener): DgramSocket {
  const opts: SocketOptions = typeof type === "string" ? { type } : type;
  if (!opts || (opts.type !== "udp4" && opts.type !== "udp6")) {
    const e = new NodeError("ERR_SOCKET_BAD_TYPE", "Bad socket type specified. Valid types are: udp4, udp6");
    Object.setPrototypeOf(e, TypeError.prototype);
    throw e;
  }
  checkVnet(kernel, vnet, "socket");
  const s = new DgramSocket(kernel, vnet, opts);
  if (typeof callback === "function") s.on("message", callback);
  return s;
}
