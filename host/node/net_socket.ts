// NetSocket: Node's net.Socket over a kernel stream Socket (docs/net.md; host/net.ts says
// how reading, writing and closing map onto the kernel's calls).

import { Duplex } from "node:stream";
import type { Kernel, Vnet } from "../kern/kernel.js";
import { errnoName } from "../lib/errors.js";
import { isIPv6Text } from "../lib/addr.js";
import { socket as newSocket, Socket, SocketError, SocketClosedError, SOL_SOCKET, SO, SS } from "../sockets/socket.js";
import { IPPROTO_TCP, TCP } from "../admin/tcp.js";
import { netError, codeOf, asNetError, nodeError, RefHandle, resolveHost, toPort, inet, domainOf, type AddressInfo } from "./net_common.js";
import type { NetServer } from "./net_server.js";

const READ_CHUNK = 65536; // one recv: the kernel's I/O buffer

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
  get remoteFamily(): "IPv4" | "IPv6" | undefined {
    return this.#peer ? (isIPv6Text(this.#peer.address) ? "IPv6" : "IPv4") : undefined;
  }
  get localAddress(): string | undefined {
    return this.#local?.address;
  }
  get localPort(): number | undefined {
    return this.#local?.port;
  }
  get localFamily(): "IPv4" | "IPv6" | undefined {
    return this.#local ? (isIPv6Text(this.#local.address) ? "IPv6" : "IPv4") : undefined;
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
      raw = newSocket(this.kernel, this.vnet, domainOf(address), "stream", this.protocol);
    } catch (e) {
      process.nextTick(() => this.destroy(asNetError(e, "connect", address, port)));
      return this;
    }
    this.#attach(raw);
    this.#applyOptions();
    try {
      if (o.localAddress !== undefined || o.localPort !== undefined) {
        try {
          raw.bind(resolveHost(o.localAddress, domainOf(address) === "inet6" ? "::" : "0.0.0.0"), toPort(o.localPort ?? 0, "localPort"));
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
        // A stream send takes any length (64 KiB per kernel call) until the kernel takes less.
        n = this.raw.send(job.off === 0 ? job.data : job.data.subarray(job.off));
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
