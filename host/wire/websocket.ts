// WebSocket ports: a tap interface (host/wire/tap.ts) whose wire is a WebSocket, so a lab in
// a browser page and a lab in a Node process (wavnet run --listen) are on one Ethernet
// segment. docs/websocket.md says how to use it.
//
// Framing: one binary message per Ethernet frame (destination MAC first, no FCS, no
// preamble), in both directions; nothing else is ever sent. It is what v86-style network
// relays speak, so no subprotocol is asked for. What arrives is never trusted: a text
// message is dropped and counted here; runts and frames longer than the interface's MTU
// allows are dropped and counted by the kernel (if_tap), before an mbuf is taken; the rest
// is Ethernet input like any other (bad sources, frames for another station, unknown
// ethertypes are ether_input's to count). A `ws` socket (Node) also refuses a message
// longer than any frame before buffering it, and closes the connection (1009).
//
// Only the web API is used (new WebSocket(url), binaryType, send, close, bufferedAmount,
// open/message/close/error events), so this runs in a browser, a worker, Node >= 22 (global
// WebSocket), and in Node 20 with the `ws` package's WebSocket, which wavnet/node installs
// as the default. A server side (host/node/ws_listen.ts) attaches each accepted connection
// (a `ws` object: the same API) with attach().

import type { Kernel, Vnet } from "../kern/kernel.js";
import { ConfigError, WavnetError } from "../lib/errors.js";
import { Emitter } from "../lib/events.js";
import { nextTurn } from "../lib/turn.js";
import { TapInterface, createTap, type TapOptions, type TapStats, type Wire } from "./tap.js";

/** The part of the web's WebSocket a port uses (a browser's, Node 22's, or the `ws` package's). */
export interface WebSocketLike {
  /** 0 CONNECTING, 1 OPEN, 2 CLOSING, 3 CLOSED. */
  readonly readyState: number;
  readonly bufferedAmount: number;
  binaryType: string;
  send(data: ArrayBufferView | ArrayBuffer): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: string, listener: (ev: any) => void): void;
  removeEventListener(type: string, listener: (ev: any) => void): void;
  /** `ws` only: drop the connection without the closing handshake. */
  terminate?(): void;
}

export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

const OPEN = 1;
/** Frames are not handed to a socket holding more than this many unsent bytes (default; per port option sendBufferBytes). */
export const WS_SEND_BUFFER = 1 << 20;
/** How long connect/reconnect waits for the handshake (default; option timeoutMs). */
export const WS_CONNECT_TIMEOUT_MS = 10_000;
/** After close(), how long a `ws` socket may take over its closing handshake before it is terminated. */
const CLOSE_GRACE_MS = 2000;

let defaultConstructor: WebSocketConstructor | undefined;

/** The WebSocket class client ports use when none is given: set by wavnet/node in Node 20 (the `ws` package); undefined removes it. */
export function setWebSocketConstructor(c: WebSocketConstructor | undefined): void {
  defaultConstructor = c;
}

/** The WebSocket class a client port uses: the one set, else the platform's global WebSocket. */
export function webSocketConstructor(): WebSocketConstructor | undefined {
  return defaultConstructor ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
}

export interface WebSocketOptions extends TapOptions {
  /** Stop handing frames to the socket while it holds more than this many unsent bytes (default 1 MiB); those frames are dropped and counted. */
  sendBufferBytes?: number;
}

export interface WebSocketConnectOptions extends WebSocketOptions {
  /** ws:// or wss:// URL of the peer (a `wavnet run --listen` endpoint is ws://HOST:PORT/NODE/IFACE). */
  url: string;
  /** WebSocket class (default: webSocketConstructor()). */
  WebSocket?: WebSocketConstructor;
  /** How long to wait for the handshake, ms (default 10000). */
  timeoutMs?: number;
}

/** Counters of one WebSocket port: the kernel's (frames, drops, carrier) and the socket's (messages). */
export interface WebSocketStats extends TapStats {
  /** Binary messages received, and their bytes. */
  messagesIn: number;
  bytesIn: number;
  /** Messages that were not binary (text): dropped, and counted in rxBadMessage too. */
  textMessages: number;
  /** Binary messages sent (one per frame), and their bytes. */
  messagesOut: number;
  bytesOut: number;
  /** Peers that attached, and connections that ended (the link went down). */
  connects: number;
  disconnects: number;
}

export interface CloseInfo {
  code: number;
  reason: string;
  /** True when the closing handshake completed. */
  wasClean: boolean;
}

function isArrayBuffer(d: unknown): d is ArrayBuffer {
  return d instanceof ArrayBuffer || Object.prototype.toString.call(d) === "[object ArrayBuffer]";
}

/** An Interface whose wire is a WebSocket: at most one peer at a time; link up while it is connected. */
export class WebSocketInterface extends TapInterface {
  /** "connect" (peer: string) when a peer attaches, "disconnect" (CloseInfo) when the connection ends. */
  readonly events = new Emitter();
  /** Where a client port connects (undefined for a port that accepts connections). */
  readonly url: string | undefined;
  readonly #ctor: WebSocketConstructor | undefined;
  readonly #timeoutMs: number;
  readonly #sendBuffer: number;
  #ws: WebSocketLike | undefined;
  #peer: string | undefined;
  #lastClose: CloseInfo | undefined;
  #closing: Promise<void> | undefined;
  #closeWaiters: (() => void)[] = [];
  #connecting = false;
  #localClose: { code: number; reason: string } | undefined;
  #s = { messagesIn: 0, bytesIn: 0, textMessages: 0, messagesOut: 0, bytesOut: 0, connects: 0, disconnects: 0 };

  /** @internal use connectWebSocket or createWebSocketInterface */
  constructor(kernel: Kernel, ptr: number, opts: { url?: string; ctor?: WebSocketConstructor; timeoutMs?: number; sendBufferBytes?: number }) {
    super(kernel, ptr);
    this.port.onGone = () => this.#gone();
    this.url = opts.url;
    this.#ctor = opts.ctor;
    this.#timeoutMs = opts.timeoutMs ?? WS_CONNECT_TIMEOUT_MS;
    this.#sendBuffer = opts.sendBufferBytes ?? WS_SEND_BUFFER;
  }

  /** True while a peer is attached. */
  get connected(): boolean {
    return this.#ws !== undefined;
  }

  /** Who the peer is: the URL of a client port, the remote address of an accepted connection. */
  get remote(): string | undefined {
    return this.#peer;
  }

  /** How the last connection ended. */
  get lastClose(): CloseInfo | undefined {
    return this.#lastClose;
  }

  /** False once the interface is gone or the kernel shut down. */
  get open(): boolean {
    return !this.port.closed;
  }

  wsStats(): WebSocketStats {
    return { ...this.tapStats(), ...this.#s };
  }

  /**
   * Attach an open WebSocket as this interface's wire (what a server does with each
   * connection it accepts); the link comes up. Throws if a peer is attached already.
   */
  attach(ws: WebSocketLike, peer = "peer"): void {
    if (this.port.closed) throw new WavnetError(`websocket ${peer}: the interface is gone`);
    if (this.#ws) throw new ConfigError(`websocket ${this.name}: already connected to ${this.#peer}`);
    if (ws.readyState !== OPEN) throw new ConfigError(`websocket ${this.name}: the socket is not open`);
    if (ws.binaryType === "blob") ws.binaryType = "arraybuffer";
    this.#ws = ws;
    this.#peer = peer;
    this.#closing = undefined;
    this.#localClose = undefined;
    ws.addEventListener("message", this.#onMessage);
    ws.addEventListener("close", this.#onClose);
    ws.addEventListener("error", this.#onError);
    const wire: Wire = { send: (f) => this.#send(ws, f) };
    this.port.wire = wire;
    this.#s.connects++;
    this.port.setCarrier(true);
    this.events.emit("connect", peer);
  }

  #send(ws: WebSocketLike, frame: Uint8Array): boolean {
    if (ws.readyState !== OPEN || ws.bufferedAmount > this.#sendBuffer) return false;
    ws.send(frame);
    this.#s.messagesOut++;
    this.#s.bytesOut += frame.length;
    return true;
  }

  #onMessage = (ev: { data: unknown }): void => {
    const d = ev.data;
    let b: Uint8Array;
    if (isArrayBuffer(d)) b = new Uint8Array(d);
    else if (ArrayBuffer.isView(d)) b = new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
    else {
      // A text message (or a Blob, were binaryType changed behind our back): not a frame.
      this.#s.textMessages++;
      this.port.drop("rxBadMessage");
      return;
    }
    this.#s.messagesIn++;
    this.#s.bytesIn += b.length;
    // Every length is the kernel's to judge (runt, longer than the MTU allows); one too long
    // for the I/O buffer is counted oversize by the port.
    this.port.input(b);
  };

  // 'error' is always followed by 'close' (WebSocket API): that is where the link goes down.
  // A `ws` socket (Node) refuses a message larger than any frame before buffering it and
  // closes the connection (1009): that message is counted here.
  #onError = (ev: { error?: { code?: string } }): void => {
    if (ev?.error?.code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH") {
      this.port.drop("rxOversize");
      this.#localClose = { code: 1009, reason: "message too big" };
    }
  };

  #onClose = (ev: { code?: number; reason?: string; wasClean?: boolean }): void => {
    const ws = this.#ws;
    if (!ws) return;
    const code = ev.code ?? 1006;
    // We closed it over an error of the peer's (the peer then seldom finishes the handshake):
    // say which, not just 1006.
    const local = code === 1006 ? this.#localClose : undefined;
    this.#detach(ws, { code: local?.code ?? code, reason: local?.reason ?? ev.reason ?? "", wasClean: ev.wasClean ?? false });
  };

  #detach(ws: WebSocketLike, info: CloseInfo): void {
    ws.removeEventListener("message", this.#onMessage);
    ws.removeEventListener("close", this.#onClose);
    ws.removeEventListener("error", this.#onError);
    this.#ws = undefined;
    this.port.wire = undefined;
    // Frames already queued for input from this peer still go in (they arrived).
    this.port.flush();
    this.#lastClose = info;
    this.#s.disconnects++;
    this.port.setCarrier(false);
    for (const w of this.#closeWaiters.splice(0)) w();
    this.events.emit("disconnect", info);
  }

  /**
   * Close the connection (the link goes down); resolves once the socket is closed. A `ws`
   * socket whose peer does not finish the closing handshake in 2 s is terminated.
   */
  disconnect(code = 1000, reason = ""): Promise<void> {
    const ws = this.#ws;
    if (!ws) return Promise.resolve();
    if (this.#closing) return this.#closing;
    this.#closing = new Promise<void>((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      this.#closeWaiters.push(() => {
        if (timer !== undefined) clearTimeout(timer);
        resolve();
      });
      try {
        ws.close(code, reason);
      } catch {
        ws.close();
      }
      if (typeof ws.terminate === "function") {
        timer = setTimeout(() => {
          timer = undefined;
          ws.terminate!();
        }, CLOSE_GRACE_MS);
      }
    });
    return this.#closing;
  }

  /** Resolves when no socket is attached (after disconnect(), destroy(), the vnet's teardown or kernel shutdown). */
  whenClosed(): Promise<void> {
    if (!this.#ws) return Promise.resolve();
    return new Promise((r) => this.#closeWaiters.push(r));
  }

  /**
   * A client port: connect to its URL again after the connection ended (nothing reconnects
   * by itself). Rejects if the handshake fails, the peer refuses (closes right after the
   * handshake, e.g. 4409: the interface there has a peer), or timeoutMs passes.
   */
  async reconnect(): Promise<void> {
    const url = this.url;
    const what = `websocket ${this.alive ? this.name : "?"} ${url ?? ""}`.trimEnd();
    if (url === undefined) throw new ConfigError(`${what}: this port accepts connections; only a client port reconnects`);
    if (this.port.closed) throw new WavnetError(`${what}: the interface is gone`);
    if (this.#ws || this.#connecting) throw new ConfigError(`${what}: already connected or connecting`);
    const Ctor = this.#ctor ?? webSocketConstructor();
    if (!Ctor) throw new ConfigError(`${what}: this platform has no WebSocket (Node 20: import wavnet/node, which uses the ws package)`);
    this.#connecting = true;
    try {
      const ws = await openSocket(Ctor, url, this.#timeoutMs, what);
      if (this.port.closed) {
        ws.close();
        throw new WavnetError(`${what}: the interface was destroyed while connecting`);
      }
      this.attach(ws, url);
    } finally {
      this.#connecting = false;
    }
  }

  /** The interface is gone (destroyed, its vnet torn down, the kernel shut down): close the socket. */
  #gone(): void {
    const ws = this.#ws;
    if (!ws) return;
    // No kernel calls here (the interface is gone, or we are inside a drain).
    ws.removeEventListener("message", this.#onMessage);
    const done = () => {
      ws.removeEventListener("close", done);
      ws.removeEventListener("close", this.#onClose);
      ws.removeEventListener("error", this.#onError);
      this.#ws = undefined;
      this.#s.disconnects++;
      for (const w of this.#closeWaiters.splice(0)) w();
      this.events.emit("disconnect", { code: 1000, reason: "interface destroyed", wasClean: true });
    };
    ws.removeEventListener("close", this.#onClose);
    ws.addEventListener("close", done);
    let timer: ReturnType<typeof setTimeout> | undefined;
    if (typeof ws.terminate === "function") {
      timer = setTimeout(() => ws.terminate!(), CLOSE_GRACE_MS);
      this.#closeWaiters.push(() => clearTimeout(timer));
    }
    try {
      ws.close(1000, "interface destroyed");
    } catch {
      done();
    }
  }
}

/** Open a WebSocket and wait for its handshake; rejects with a reason on failure or timeout. */
function openSocket(Ctor: WebSocketConstructor, url: string, timeoutMs: number, what: string): Promise<WebSocketLike> {
  return new Promise<WebSocketLike>((resolve, reject) => {
    let ws: WebSocketLike;
    try {
      ws = new Ctor(url);
    } catch (e) {
      reject(new ConfigError(`${what}: ${(e as Error).message}`));
      return;
    }
    ws.binaryType = "arraybuffer";
    let failed = "";
    const done = (err?: Error) => {
      clearTimeout(timer);
      ws.removeEventListener("open", onOpen);
      ws.removeEventListener("error", onError);
      ws.removeEventListener("close", onClose);
      if (err) reject(err);
      else resolve(ws);
    };
    // A server that refuses (a busy interface, an unknown path, an origin) accepts and closes
    // at once: the handshake is followed by a close. Give that close a turn to arrive and
    // report it as the failure it is.
    let opened = false;
    const onOpen = () => {
      opened = true;
      setTimeout(() => {
        if (ws.readyState === OPEN) done();
      }, 0);
    };
    const onError = (ev: { message?: string; error?: Error }) => {
      failed = ev?.message ?? ev?.error?.message ?? "";
    };
    const onClose = (ev: { code?: number; reason?: string }) => {
      const code = ev?.code ?? 1006;
      const why = opened ? `refused: ${code} ${ev?.reason || "(no reason given)"}` : failed || (ev?.reason ? `${code} ${ev.reason}` : `connection failed (code ${code})`);
      done(new WavnetError(`${what}: ${why}`));
    };
    const timer = setTimeout(() => {
      try {
        if (typeof ws.terminate === "function") ws.terminate();
        else ws.close();
      } catch {
        // closing a socket that never opened
      }
      done(new WavnetError(`${what}: no handshake within ${timeoutMs} ms`));
    }, timeoutMs);
    ws.addEventListener("open", onOpen);
    ws.addEventListener("error", onError);
    ws.addEventListener("close", onClose);
  });
}

function checkUrl(url: unknown, what: string): string {
  if (typeof url !== "string") throw new ConfigError(`${what}: url must be a ws:// or wss:// URL, got ${JSON.stringify(url)}`);
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ConfigError(`${what}: url must be a ws:// or wss:// URL, got ${JSON.stringify(url)}`);
  }
  if (u.protocol !== "ws:" && u.protocol !== "wss:") throw new ConfigError(`${what}: url must be ws:// or wss://, got ${JSON.stringify(url)}`);
  if (u.hash) throw new ConfigError(`${what}: a WebSocket URL has no fragment, got ${JSON.stringify(url)}`);
  return url;
}

function checkOptions(opts: WebSocketOptions, what: string): void {
  const b = opts.sendBufferBytes;
  if (b !== undefined && (typeof b !== "number" || !Number.isInteger(b) || b < 0)) {
    throw new ConfigError(`${what}: sendBufferBytes must be a non-negative integer, got ${JSON.stringify(b)}`);
  }
}

const CONNECT_KEYS = ["name", "mac", "mtu", "ringSegments", "sendBufferBytes", "url", "WebSocket", "timeoutMs"];

/**
 * A client port: a tap interface in `vnet` whose wire is a WebSocket to opts.url. Resolves
 * once connected (the link is up; the interface itself starts down, like every new one:
 * setUp() it). Nothing reconnects by itself: after the link goes down, call reconnect().
 */
export async function connectWebSocket(kernel: Kernel, vnet: Vnet, opts: WebSocketConnectOptions): Promise<WebSocketInterface> {
  let what = "websocket connect";
  if (opts === null || typeof opts !== "object") throw new ConfigError(`${what}: options must be an object`);
  for (const key of Object.keys(opts)) {
    if (!CONNECT_KEYS.includes(key)) throw new ConfigError(`${what}: unknown option "${key}" (known: ${CONNECT_KEYS.join(", ")})`);
  }
  if (opts.name !== undefined) what = `websocket ${opts.name}`;
  const url = checkUrl(opts.url, what);
  checkOptions(opts, what);
  const t = opts.timeoutMs;
  if (t !== undefined && (typeof t !== "number" || !(t > 0))) throw new ConfigError(`${what}: timeoutMs must be a positive number, got ${JSON.stringify(t)}`);
  if (!opts.WebSocket && !webSocketConstructor()) throw new ConfigError(`${what}: this platform has no WebSocket (Node 20: import wavnet/node, which uses the ws package)`);
  const { url: _u, WebSocket: ctor, timeoutMs, sendBufferBytes, ...tap } = opts;
  const iface = createTap(kernel, vnet, tap, (ptr) => new WebSocketInterface(kernel, ptr, { url, ctor, timeoutMs, sendBufferBytes }), "websocket create");
  try {
    await iface.reconnect();
  } catch (e) {
    if (iface.alive) iface.destroy();
    throw e;
  }
  return iface;
}

/**
 * A port that waits for connections: a tap interface in `vnet` with no peer (link down)
 * until a server attaches one (host/node/ws_listen.ts, or anything holding an open
 * WebSocket: iface.attach(ws)).
 */
export function createWebSocketInterface(kernel: Kernel, vnet: Vnet, opts: WebSocketOptions = {}): WebSocketInterface {
  const what = `websocket ${opts?.name ?? "create"}`;
  if (opts === null || typeof opts !== "object") throw new ConfigError(`${what}: options must be an object`);
  const known = ["name", "mac", "mtu", "ringSegments", "sendBufferBytes"];
  for (const key of Object.keys(opts)) {
    if (!known.includes(key)) throw new ConfigError(`${what}: unknown option "${key}" (known: ${known.join(", ")})`);
  }
  checkOptions(opts, what);
  const { sendBufferBytes, ...tap } = opts;
  return createTap(kernel, vnet, tap, (ptr) => new WebSocketInterface(kernel, ptr, { sendBufferBytes }), "websocket create");
}
