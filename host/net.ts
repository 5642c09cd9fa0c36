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

import { Duplex } from "node:stream";
import { EventEmitter } from "node:events";
import { constants as osConstants } from "node:os";
import type { Kernel, Vnet } from "./kernel.js";
import { Errno, errnoName } from "./errors.js";
import { socket as newSocket, Socket, SocketError, SocketClosedError, SOL_SOCKET, SO, SS, type SockAddr } from "./socket.js";
import { IPPROTO_TCP, TCP } from "./tcp.js";


const READ_CHUNK = 65536; // one recv: the kernel's I/O buffer
const WRITE_CHUNK = 65536; // one send: the same buffer

// ---------------------------------------------------------------------------------------
// Errors

/** A Node-style system error: code, errno (negative), syscall, address, port. */
export interface NetError extends Error {
  code: string;
  errno: number;
  syscall: string;
  address?: string;
  port?: number;
}

const UV_ERRNO = osConstants.errno as Record<string, number>;

/** Build the error Node would report: `${syscall} ${code} ${address}:${port}`. */
export function netError(syscall: string, code: string, address?: string, port?: number, cause?: unknown): NetError {
  const where = address !== undefined ? ` ${address}${port !== undefined ? `:${port}` : ""}` : "";
  const e = new Error(`${syscall} ${code}${where}`, cause !== undefined ? { cause } : undefined) as NetError;
  e.code = code;
  e.errno = -(UV_ERRNO[code] ?? Errno[code as keyof typeof Errno] ?? 0);
  e.syscall = syscall;
  if (address !== undefined) e.address = address;
  if (port !== undefined) e.port = port;
  return e;
}

function codeOf(e: unknown): string | undefined {
  if (e instanceof SocketError) return e.code;
  if (e instanceof SocketClosedError) return "ECONNABORTED";
  return undefined;
}

/** A kernel call's exception as a NetError (other exceptions are returned as they are). */
function asNetError(e: unknown, syscall: string, address?: string, port?: number): Error {
  const code = codeOf(e);
  if (code === undefined) return e instanceof Error ? e : new Error(String(e));
  return netError(syscall, code, address, port, e);
}

function nodeError(code: string, message: string): Error {
  const e = new Error(message) as Error & { code: string };
  e.code = code;
  return e;
}

// ---------------------------------------------------------------------------------------
// Keeping Node alive while something is ref'd (a listening server, an open socket), as
// libuv handles do. The kernel itself holds no handle, so without this a process with a
// listening server would exit.

let refs = 0;
let keepAlive: ReturnType<typeof setInterval> | undefined;
function holdRef(): void {
  if (refs++ === 0) keepAlive = setInterval(() => {}, 1 << 30);
}
function dropRef(): void {
  if (--refs === 0 && keepAlive) {
    clearInterval(keepAlive);
    keepAlive = undefined;
  }
}

class RefHandle {
  #held = false;
  #wanted = true;
  #active = false;
  /** The object exists (listening / open): hold a ref if one is wanted. */
  activate(): void {
    this.#active = true;
    this.#sync();
  }
  deactivate(): void {
    this.#active = false;
    this.#sync();
  }
  ref(): void {
    this.#wanted = true;
    this.#sync();
  }
  unref(): void {
    this.#wanted = false;
    this.#sync();
  }
  #sync(): void {
    const want = this.#active && this.#wanted;
    if (want && !this.#held) holdRef();
    if (!want && this.#held) dropRef();
    this.#held = want;
  }
}

// ---------------------------------------------------------------------------------------
// Addresses

export interface AddressInfo {
  address: string;
  family: "IPv4";
  port: number;
}

function resolveHost(host: string | undefined, dflt: string): string {
  if (host === undefined || host === null || host === "") return dflt;
  if (host === "localhost") return "127.0.0.1";
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(host) && host.split(".").every((o) => Number(o) <= 255)) return host;
  throw netError("getaddrinfo", "ENOTFOUND", host);
}

function toPort(p: unknown, what: string): number {
  const n = typeof p === "string" && p.trim() !== "" ? Number(p) : p;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > 65535) {
    throw Object.assign(new RangeError(`${what} should be >= 0 and < 65536. Received ${JSON.stringify(p)}.`), { code: "ERR_SOCKET_BAD_PORT" });
  }
  return n;
}

function inet(sa: SockAddr | undefined): AddressInfo | undefined {
  if (!sa || sa.family !== "inet") return undefined;
  return { address: sa.address, family: "IPv4", port: sa.port };
}

// ---------------------------------------------------------------------------------------
// The socket

export interface NetSocketOptions {
  /** Keep the writable side open when the peer ends (default false: end ours too). */
  allowHalfOpen?: boolean;
  /** IP protocol of the stream socket (default IPPROTO_TCP; tests use the fixture's 253). */
  protocol?: number;
  readableHighWaterMark?: number;
  writableHighWaterMark?: number;
  /** Node's option names, applied at connect. */
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
}

export interface ConnectOptions extends NetSocketOptions {
  port: number | string;
  host?: string;
  localAddress?: string;
  localPort?: number;
  /** Idle timeout (ms), as socket.setTimeout. */
  timeout?: number;
  /** Ignored: addresses are IPv4 literals (or "localhost"). */
  family?: number;
}

type WriteJob = { data: Uint8Array; off: number; cb: (err?: Error | null) => void };

export class NetSocket extends Duplex {
  readonly kernel: Kernel;
  readonly vnet: Vnet;
  readonly protocol: number;
  /** The kernel socket (undefined before connect()). */
  raw?: Socket;
  /** The server that accepted it, if any. */
  server?: NetServer;
  /** The socket was destroyed with an error (Node's field; http reads it). */
  _hadError = false;
  /** The idle timeout set by setTimeout (undefined: none). Node's http Agent reads it. */
  timeout?: number;
  #connecting = false;
  #connected = false;
  #bytesRead = 0;
  #bytesSent = 0;
  #wantRead = false;
  #reading = false;
  #eof = false;
  #write?: WriteJob;
  #afterConnect: (() => void)[] = [];
  #timer?: ReturnType<typeof setTimeout>;
  #reset = false;
  #peer?: AddressInfo;
  #local?: AddressInfo;
  /** Where connect() goes (for its errors). */
  #target?: { address: string; port: number };
  #ref = new RefHandle();
  #noDelay?: boolean;
  #keepAlive?: [boolean, number];

  constructor(kernel: Kernel, vnet: Vnet, opts: NetSocketOptions = {}) {
    super({
      allowHalfOpen: opts.allowHalfOpen ?? false,
      emitClose: false, // 'close' is emitted with hadError below, as net.Socket does
      autoDestroy: true,
      decodeStrings: true,
      readableHighWaterMark: opts.readableHighWaterMark,
      writableHighWaterMark: opts.writableHighWaterMark,
    });
    this.kernel = kernel;
    this.vnet = vnet;
    this.protocol = opts.protocol ?? IPPROTO_TCP;
    if (opts.noDelay) this.setNoDelay(true);
    if (opts.keepAlive) this.setKeepAlive(true, opts.keepAliveInitialDelay ?? 0);
  }

  /** @internal a connected socket that a server accepted. */
  static _accepted(server: NetServer, raw: Socket, opts: NetSocketOptions): NetSocket {
    const s = new NetSocket(server.kernel, server.vnet, { ...opts, protocol: raw.protocol });
    s.server = server;
    s.#attach(raw);
    s.#connected = true;
    s.#cacheAddresses();
    s.#ref.activate();
    s.#applyOptions();
    return s;
  }

  // --- state, as net.Socket reports it -------------------------------------------------

  get connecting(): boolean {
    return this.#connecting;
  }

  get pending(): boolean {
    return !this.raw || this.#connecting || this.raw.closed;
  }

  get readyState(): "opening" | "open" | "readOnly" | "writeOnly" | "closed" {
    if (this.#connecting) return "opening";
    if (this.readable && this.writable) return "open";
    if (this.readable && !this.writable) return "readOnly";
    if (!this.readable && this.writable) return "writeOnly";
    return "closed";
  }

  get bytesRead(): number {
    return this.#bytesRead;
  }

  /** Bytes the kernel took, plus what waits in this stream's buffer (as Node counts). */
  get bytesWritten(): number {
    const inJob = this.#write ? this.#write.off : 0;
    return this.#bytesSent + Math.max(0, this.writableLength - inJob);
  }

  /** Deprecated in Node; the bytes buffered for writing. */
  get bufferSize(): number {
    return this.writableLength;
  }

  get remoteAddress(): string | undefined {
    return this.#peer?.address;
  }
  get remotePort(): number | undefined {
    return this.#peer?.port;
  }
  get remoteFamily(): "IPv4" | undefined {
    return this.#peer ? "IPv4" : undefined;
  }
  get localAddress(): string | undefined {
    return this.#local?.address;
  }
  get localPort(): number | undefined {
    return this.#local?.port;
  }
  get localFamily(): "IPv4" | undefined {
    return this.#local ? "IPv4" : undefined;
  }

  /** getsockname as Node reports it ({} when there is no socket). */
  address(): AddressInfo | Record<string, never> {
    if (this.raw && !this.raw.closed) {
      try {
        const a = inet(this.raw.address());
        if (a) return a;
      } catch {
        /* fall through to what we knew */
      }
    }
    return this.#local ?? {};
  }

  // --- connect ----------------------------------------------------------------------

  /** connect(options, cb) | connect(port, host?, cb). */
  connect(options: ConnectOptions | number | string, host?: string | (() => void), cb?: () => void): this {
    const o: ConnectOptions = typeof options === "object" ? options : { port: options, host: typeof host === "string" ? host : undefined };
    const listener = typeof host === "function" ? host : cb;
    if (this.raw || this.#connecting) throw nodeError("ERR_SOCKET_CONNECTING", "Socket is already connecting or connected");
    const port = toPort(o.port, "Port"); // thrown, as net.connect throws ERR_SOCKET_BAD_PORT
    if (listener) this.once("connect", listener);
    if (o.timeout !== undefined) this.setTimeout(o.timeout);
    if (o.noDelay) this.setNoDelay(true);
    if (o.keepAlive) this.setKeepAlive(true, o.keepAliveInitialDelay ?? 0);
    this.#connecting = true;
    this.#ref.activate();
    let address: string;
    try {
      address = resolveHost(o.host, "127.0.0.1");
    } catch (e) {
      process.nextTick(() => this.destroy(e as Error));
      return this;
    }
    this.#target = { address, port };
    let raw: Socket;
    try {
      raw = newSocket(this.kernel, this.vnet, "inet", "stream", this.protocol);
    } catch (e) {
      process.nextTick(() => this.destroy(asNetError(e, "connect", address, port)));
      return this;
    }
    this.#attach(raw);
    this.#applyOptions();
    try {
      if (o.localAddress !== undefined || o.localPort !== undefined) {
        try {
          raw.bind(resolveHost(o.localAddress, "0.0.0.0"), toPort(o.localPort ?? 0, "localPort"));
        } catch (e) {
          throw asNetError(e, "bind", o.localAddress ?? "0.0.0.0", o.localPort ?? 0);
        }
      }
      let now: boolean;
      try {
        now = raw.connect(address, port);
      } catch (e) {
        throw asNetError(e, "connect", address, port);
      }
      if (now) process.nextTick(() => this.#onConnected());
      // else: 'connect' or 'error' from the kernel
    } catch (e) {
      process.nextTick(() => this.destroy(e as Error));
    }
    return this;
  }

  #attach(raw: Socket): void {
    this.raw = raw;
    raw.on("connect", () => this.#onConnected());
    raw.on("readable", () => this.#onReadable());
    raw.on("writable", () => this.#onWritable());
    raw.on("error", (e: SocketError) => this.#onKernelError(e));
    raw.on("close", () => this.#onKernelClose());
  }

  #cacheAddresses(): void {
    try {
      this.#local = inet(this.raw!.address());
      this.#peer = inet(this.raw!.remoteAddress());
    } catch {
      /* closed under us: keep what we had */
    }
  }

  #onConnected(): void {
    if (!this.#connecting || this.destroyed || !this.raw || this.raw.closed) return;
    // A connect that failed asynchronously may post 'connect' and then an error: check.
    // (A connection the peer already closed again counts as made: reads will see EOF.)
    const st = this.raw.info().state;
    if ((st & SS.ISCONNECTED) === 0) {
      if (st & SS.ISCONNECTING) return; // not yet
      const err = this.#pendingError();
      if (err) {
        this.destroy(netError("connect", err, this.#target?.address, this.#target?.port));
        return;
      }
    }
    this.#connecting = false;
    this.#connected = true;
    this.#cacheAddresses();
    this.#touch();
    const waiting = this.#afterConnect;
    this.#afterConnect = [];
    this.emit("connect");
    this.emit("ready");
    for (const f of waiting) f();
    this.#startReading();
  }

  /** Read ahead up to the high-water mark, as net.Socket does from the moment it connects. */
  #startReading(): void {
    if (this.#wantRead) this.#pump();
    else if (!this.destroyed && !this.#paused) this.read(0);
  }

  #paused = false;

  /** @internal an accepted socket starts reading after its 'connection' listeners ran. */
  _startReading(): void {
    this.#startReading();
  }

  /** @internal pauseOnConnect: do not read until resume(). */
  _pauseOnConnect(): void {
    this.#paused = true;
    this.pause();
    this.once("resume", () => (this.#paused = false));
  }

  #pendingError(): string | undefined {
    try {
      const e = this.raw!.getsockopt(SOL_SOCKET, SO.ERROR);
      return e ? errnoName(e) : undefined;
    } catch {
      return undefined;
    }
  }

  #onKernelError(e: SocketError): void {
    if (this.destroyed) return;
    const code = e.code;
    if (this.#connecting) this.destroy(netError("connect", code, this.#target?.address, this.#target?.port, e));
    else this.destroy(netError(this.#write ? "write" : "read", code, undefined, undefined, e));
  }

  /** The kernel freed the socket (vnet destroyed, protocol unloaded, aborted). */
  #onKernelClose(): void {
    if (this.destroyed) return;
    this.destroy(netError(this.#connecting ? "connect" : "read", "ECONNABORTED", this.#target?.address, this.#target?.port));
  }

  // --- reading ----------------------------------------------------------------------

  override _read(_size: number): void {
    this.#wantRead = true;
    if (this.#connected) this.#pump();
  }

  #onReadable(): void {
    if (this.#wantRead && this.#connected) this.#pump();
  }

  /** Read until EAGAIN (the kernel re-arms 'readable') or until the consumer has enough. */
  #pump(): void {
    if (this.#reading || this.#eof) return;
    this.#reading = true;
    try {
      while (this.#wantRead && !this.destroyed && this.raw && !this.raw.closed) {
        let data: Uint8Array | null;
        try {
          data = this.raw.recv(READ_CHUNK);
        } catch (e) {
          this.destroy(asNetError(e, "read"));
          return;
        }
        if (data === null) return; // EAGAIN: 'readable' will come
        if (data.length === 0) {
          this.#eof = true;
          this.#wantRead = false;
          this.push(null);
          // As net.Socket does: 'end' comes now if nothing is buffered, even with no
          // consumer, so a server that never reads still sees its peer go.
          this.read(0);
          return;
        }
        this.#bytesRead += data.length;
        this.#touch();
        if (!this.push(Buffer.from(data.buffer, data.byteOffset, data.length))) this.#wantRead = false;
      }
    } finally {
      this.#reading = false;
    }
  }

  // --- writing ----------------------------------------------------------------------

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const job: WriteJob = { data: chunk, off: 0, cb };
    if (!this.#connected) {
      this.#afterConnect.push(() => this.#startWrite(job));
      return;
    }
    this.#startWrite(job);
  }

  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    this._write(chunks.length === 1 ? chunks[0].chunk : Buffer.concat(chunks.map((c) => c.chunk)), "binary", cb);
  }

  #startWrite(job: WriteJob): void {
    this.#write = job;
    this.#flush();
  }

  #onWritable(): void {
    if (this.#write) this.#flush();
  }

  /** Send what the kernel takes; the rest waits for 'writable'. */
  #flush(): void {
    const job = this.#write;
    if (!job || this.destroyed || !this.raw) return;
    while (job.off < job.data.length) {
      let n: number;
      try {
        n = this.raw.send(job.data.subarray(job.off, Math.min(job.data.length, job.off + WRITE_CHUNK)));
      } catch (e) {
        this.#write = undefined;
        job.cb(asNetError(e, "write"));
        return;
      }
      if (n === 0) return; // send buffer full: the kernel armed 'writable'
      job.off += n;
      this.#bytesSent += n;
      this.#touch();
    }
    this.#write = undefined;
    job.cb();
  }

  override _final(cb: (err?: Error | null) => void): void {
    const go = () => {
      if (!this.raw || this.raw.closed) return cb();
      try {
        this.raw.shutdown("write");
      } catch (e) {
        const code = codeOf(e);
        if (code !== "ENOTCONN" && code !== "ECONNABORTED") return cb(asNetError(e, "shutdown"));
      }
      cb();
    };
    if (this.#connecting) this.#afterConnect.push(go);
    else go();
  }

  // --- closing ----------------------------------------------------------------------

  override _destroy(err: Error | null, cb: (err: Error | null) => void): void {
    this.#clearTimer();
    this.#connecting = false;
    const job = this.#write;
    this.#write = undefined;
    this.#afterConnect = [];
    if (this.raw && !this.raw.closed) {
      if (this.#reset) {
        try {
          this.raw.setsockopt(SOL_SOCKET, SO.LINGER, 0);
        } catch {
          /* the protocol may not do linger */
        }
      }
      this.raw.close();
    }
    this.#ref.deactivate();
    if (job) job.cb(err ?? nodeError("ERR_STREAM_DESTROYED", "Cannot call write after a stream was destroyed"));
    if (err) this._hadError = true;
    cb(err);
    process.nextTick(() => this.emit("close", this._hadError));
  }

  /** Close with a RST (SO_LINGER 0) where the protocol does that (TCP), as Node's resetAndDestroy. */
  resetAndDestroy(): this {
    this.#reset = true;
    this.destroy();
    return this;
  }

  /** End the writable side, then destroy once it has finished. */
  destroySoon(): void {
    if (this.writable) this.end();
    if (this.writableFinished) this.destroy();
    else this.once("finish", () => this.destroy());
  }

  // --- options and timers -----------------------------------------------------------

  /** TCP_NODELAY (TCP only; a no-op on other protocols, as on Node's pipes). */
  setNoDelay(noDelay = true): this {
    this.#noDelay = noDelay;
    if (this.raw && !this.raw.closed) this.#applyOptions();
    return this;
  }

  /** SO_KEEPALIVE, and TCP_KEEPIDLE (seconds, rounded down, at least 1) from initialDelay in ms. */
  setKeepAlive(enable = false, initialDelay = 0): this {
    this.#keepAlive = [enable, initialDelay];
    if (this.raw && !this.raw.closed) this.#applyOptions();
    return this;
  }

  #applyOptions(): void {
    const raw = this.raw!;
    const tcp = this.protocol === IPPROTO_TCP;
    try {
      if (this.#noDelay !== undefined && tcp) raw.setsockopt(IPPROTO_TCP, TCP.NODELAY, this.#noDelay);
      if (this.#keepAlive) {
        const [on, delay] = this.#keepAlive;
        raw.setsockopt(SOL_SOCKET, SO.KEEPALIVE, on);
        if (on && delay > 0 && tcp) raw.setsockopt(IPPROTO_TCP, TCP.KEEPIDLE, Math.max(1, Math.floor(delay / 1000)));
      }
    } catch (e) {
      // Node ignores option failures on a socket that is going away; report others.
      if (!(e instanceof SocketClosedError)) this.destroy(asNetError(e, "setsockopt"));
    }
  }

  /** Emit 'timeout' after ms of inactivity (0 disables). Node timers, real time, unref'd. */
  setTimeout(ms: number, cb?: () => void): this {
    if (typeof ms !== "number" || !(ms >= 0) || !Number.isFinite(ms)) {
      throw Object.assign(new RangeError(`The value of "msecs" is out of range. It must be a non-negative finite number. Received ${ms}`), { code: "ERR_OUT_OF_RANGE" });
    }
    this.timeout = ms;
    if (cb) {
      if (ms === 0) this.removeListener("timeout", cb);
      else this.once("timeout", cb);
    }
    this.#clearTimer();
    if (ms > 0) this.#arm();
    return this;
  }

  #arm(): void {
    if (!this.timeout || this.destroyed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.emit("timeout");
    }, this.timeout);
    this.#timer.unref();
  }

  #clearTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Activity: restart the idle timer. */
  #touch(): void {
    if (this.#timer) this.#timer.refresh();
  }

  /** @internal Node's http server calls this on parser activity. */
  _unrefTimer(): void {
    this.#touch();
  }

  ref(): this {
    this.#ref.ref();
    return this;
  }

  unref(): this {
    this.#ref.unref();
    return this;
  }
}

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
  /** Ignored (IPv4 only). */
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
    let cb: (() => void) | undefined;
    if (typeof args[args.length - 1] === "function") cb = args.pop() as () => void;
    if (args.length > 0 && typeof args[0] === "object" && args[0] !== null) {
      const o = args[0] as ListenOptions;
      port = o.port ?? 0;
      host = o.host;
      backlog = o.backlog ?? backlog;
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
      raw = newSocket(this.kernel, this.vnet, "inet", "stream", this.protocol);
      raw.setsockopt(SOL_SOCKET, SO.REUSEADDR, true);
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
