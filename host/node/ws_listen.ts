// The Node side of WebSocket ports: an HTTP server whose WebSocket endpoints are interfaces
// (host/wire/websocket.ts WebSocketInterface). `wavnet run FILE --listen PORT` makes one;
// each interface of kind websocket with `listen: true` is served at /NODE/IFACE, and the
// connection accepted there is that interface's wire. One peer per interface: a second is
// accepted and closed at once with 4409 and a reason naming the first (a browser's
// WebSocket sees the code and the reason of a close, never an HTTP status). An unknown path
// is closed with 4404, a refused Origin with 4403. The connections are checked for life
// (a ping every heartbeatMs; a peer that has not answered the previous one is dropped), and
// messages larger than any frame close the connection (1009) before they are buffered.

import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { WebSocketServer, WebSocket as WsWebSocket } from "ws";
import { ConfigError } from "../lib/errors.js";
import { TAP_MAXFRAME } from "../wire/tap.js";
import type { WebSocketInterface, WebSocketLike } from "../wire/websocket.js";

export interface ListenOptions {
  /** TCP port (0: any free one; read listener.port). */
  port: number;
  /** Address to listen on (default 127.0.0.1: only this machine; "0.0.0.0" or "::" for every address). */
  host?: string;
  /** Ping interval, ms: a peer that misses a whole interval is dropped (default 15000; 0: no pings). */
  heartbeatMs?: number;
  /**
   * Browser origins allowed to connect ("https://lab.example.org"); "*" allows any. Default:
   * pages served from this machine only (http or https on localhost, 127.0.0.0/8 or [::1], any
   * port), so a web site the user happens to visit cannot join its lab (cross-site WebSocket
   * hijacking). Clients that send no Origin (not browsers) are always allowed.
   */
  allowOrigins?: string[];
}

/** Close codes the listener sends (4000-4999: private use, RFC 6455 7.4.2). */
export const WS_CLOSE = { notFound: 4404, busy: 4409, forbidden: 4403, tooBig: 1009, timeout: 4408, shutdown: 1001 } as const;

/** Bytes of one message the listener accepts: the longest frame. More closes the connection (1009). */
export const WS_MAX_MESSAGE = TAP_MAXFRAME;

interface Endpoint {
  iface: WebSocketInterface;
  /** Connections accepted for it over time (the last one is live while the interface is connected). */
  accepted: number;
}

function peerText(sock: Socket): string {
  const a = sock.remoteAddress ?? "?";
  return `${a.includes(":") ? `[${a}]` : a}:${sock.remotePort ?? "?"}`;
}

/** An HTTP server whose WebSocket endpoints (/NODE/IFACE) are interfaces. */
export class WebSocketListener {
  readonly host: string;
  readonly port: number;
  readonly #server: http.Server;
  readonly #wss: WebSocketServer;
  readonly #endpoints = new Map<string, Endpoint>();
  readonly #alive = new WeakMap<WsWebSocket, boolean>();
  readonly #allow: Set<string> | undefined;
  readonly #loopbackOnly: boolean;
  #timer: ReturnType<typeof setInterval> | undefined;
  #closed = false;
  /** Connections refused, by reason. */
  readonly refused = { notFound: 0, busy: 0, forbidden: 0 };
  /** Connections dropped for missing a heartbeat, and for a message larger than any frame. */
  timeouts = 0;
  tooBig = 0;

  private constructor(server: http.Server, wss: WebSocketServer, opts: ListenOptions) {
    this.#server = server;
    this.#wss = wss;
    const a = server.address() as AddressInfo;
    this.host = a.address;
    this.port = a.port;
    this.#allow = opts.allowOrigins && !opts.allowOrigins.includes("*") ? new Set(opts.allowOrigins) : undefined;
    this.#loopbackOnly = opts.allowOrigins === undefined;
    const hb = opts.heartbeatMs ?? 15_000;
    if (hb > 0) {
      this.#timer = setInterval(() => this.#heartbeat(), hb);
      this.#timer.unref();
    }
  }

  /** Listen on opts.port (and host); resolves once listening. */
  static async listen(opts: ListenOptions): Promise<WebSocketListener> {
    const what = "websocket listen";
    if (opts === null || typeof opts !== "object") throw new ConfigError(`${what}: options must be an object`);
    const { port, host = "127.0.0.1", heartbeatMs, allowOrigins } = opts;
    if (typeof port !== "number" || !Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`${what}: port must be an integer from 0 to 65535, got ${JSON.stringify(port)}`);
    if (typeof host !== "string" || host === "") throw new ConfigError(`${what}: host must be an address, got ${JSON.stringify(host)}`);
    if (heartbeatMs !== undefined && (typeof heartbeatMs !== "number" || !(heartbeatMs >= 0))) throw new ConfigError(`${what}: heartbeatMs must be a number of ms (0: none), got ${JSON.stringify(heartbeatMs)}`);
    if (allowOrigins !== undefined && (!Array.isArray(allowOrigins) || allowOrigins.some((o) => typeof o !== "string"))) throw new ConfigError(`${what}: allowOrigins must be a list of origins`);
    const server = http.createServer();
    const wss = new WebSocketServer({ noServer: true, maxPayload: WS_MAX_MESSAGE, perMessageDeflate: false, clientTracking: true });
    await new Promise<void>((resolve, reject) => {
      const onError = (e: Error) => reject(new ConfigError(`${what}: cannot listen on ${host.includes(":") ? `[${host}]` : host}:${port}: ${e.message}`));
      server.once("error", onError);
      server.listen(port, host, () => {
        server.off("error", onError);
        resolve();
      });
    });
    const l = new WebSocketListener(server, wss, { ...opts, host });
    server.on("request", (req, res) => l.#page(req, res));
    server.on("upgrade", (req, sock: Socket, head) => l.#upgrade(req, sock, head));
    // A client error on the raw socket (a bad request line, a reset) must not take the process down.
    server.on("clientError", (_e, sock: Socket) => {
      if (sock.writable) sock.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
      else sock.destroy();
    });
    return l;
  }

  /** ws://HOST:PORT/PATH (the host as listened on; 0.0.0.0 and :: read as 127.0.0.1 and [::1]). */
  url(path = "/"): string {
    const h = this.host === "0.0.0.0" ? "127.0.0.1" : this.host === "::" ? "::1" : this.host;
    return `ws://${h.includes(":") ? `[${h}]` : h}:${this.port}${path.startsWith("/") ? path : `/${path}`}`;
  }

  /** Serve iface at path ("/r1/ws0"). */
  serve(path: string, iface: WebSocketInterface): void {
    if (this.#closed) throw new ConfigError(`websocket listen: the listener is closed`);
    if (!/^\/[A-Za-z0-9_.\-\/]+$/.test(path)) throw new ConfigError(`websocket listen: path must be /NAME[/NAME...], got ${JSON.stringify(path)}`);
    if (this.#endpoints.has(path)) throw new ConfigError(`websocket listen: ${path} is served already`);
    this.#endpoints.set(path, { iface, accepted: 0 });
  }

  /** Stop serving path (its connection, if any, stays with its interface). */
  unserve(path: string): void {
    this.#endpoints.delete(path);
  }

  /** The paths served, and whether each has a peer now. */
  endpoints(): { path: string; url: string; connected: boolean; remote?: string }[] {
    return [...this.#endpoints].map(([path, e]) => ({
      path, url: this.url(path), connected: e.iface.connected, ...(e.iface.connected ? { remote: e.iface.remote } : {}),
    }));
  }

  /** Plain HTTP: what is served here, as text (426: this is a WebSocket server). */
  #page(req: http.IncomingMessage, res: http.ServerResponse): void {
    const lines = this.endpoints().map((e) => `${e.url}  ${e.connected ? `connected (${e.remote})` : "free"}`);
    const body = `wavnet: WebSocket endpoints (one Ethernet frame per binary message):\n${lines.join("\n")}\n`;
    res.writeHead(req.url === "/" ? 426 : 404, { "content-type": "text/plain; charset=utf-8", upgrade: "websocket", connection: "close" });
    res.end(req.method === "HEAD" ? undefined : body);
  }

  #upgrade(req: http.IncomingMessage, sock: Socket, head: Buffer): void {
    sock.on("error", () => sock.destroy());
    if (this.#closed) {
      sock.destroy();
      return;
    }
    let path = "/";
    try {
      path = new URL(req.url ?? "/", "ws://x").pathname.replace(/\/+$/, "") || "/";
    } catch {
      // a request target URL cannot read: an unknown path
    }
    const origin = req.headers.origin;
    const peer = peerText(sock);
    this.#wss.handleUpgrade(req, sock, head, (ws) => {
      const refuse = (code: number, reason: string) => {
        // A close reason is at most 123 bytes.
        ws.close(code, reason.length > 120 ? `${reason.slice(0, 117)}...` : reason);
      };
      if (this.#closed) return refuse(WS_CLOSE.shutdown, "shutting down");
      if (origin !== undefined && (this.#loopbackOnly ? !loopbackOrigin(origin) : this.#allow && !this.#allow.has(origin))) {
        this.refused.forbidden++;
        return refuse(WS_CLOSE.forbidden, `origin ${origin} is not allowed`);
      }
      const e = this.#endpoints.get(path);
      if (!e || !e.iface.open) {
        this.refused.notFound++;
        const known = [...this.#endpoints.keys()].join(" ");
        return refuse(WS_CLOSE.notFound, `no interface at ${path} (served: ${known || "none"})`);
      }
      if (e.iface.connected) {
        this.refused.busy++;
        return refuse(WS_CLOSE.busy, `${path.slice(1).replace("/", ":")} already has a peer (${e.iface.remote})`);
      }
      ws.on("error", (err: Error & { code?: string }) => {
        // A protocol error from the peer (a bad frame, a message larger than any frame): ws
        // closes the connection, the interface counts it and sees 'close'.
        if (err.code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH") this.tooBig++;
      });
      this.#alive.set(ws, true);
      ws.on("pong", () => this.#alive.set(ws, true));
      e.accepted++;
      e.iface.attach(ws as unknown as WebSocketLike, peer);
    });
  }

  #heartbeat(): void {
    for (const ws of this.#wss.clients) {
      if (this.#alive.get(ws) === false) {
        this.timeouts++;
        ws.terminate();
        continue;
      }
      this.#alive.set(ws, false);
      try {
        ws.ping();
      } catch {
        // closing already
      }
    }
  }

  /** Stop listening and end every connection (their interfaces' links go down); resolves when every socket is closed. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#endpoints.clear();
    const waits: Promise<void>[] = [];
    for (const ws of this.#wss.clients) {
      waits.push(new Promise<void>((r) => {
        if (ws.readyState === WsWebSocket.CLOSED) r();
        else ws.once("close", () => r());
      }));
      // No closing handshake to wait for: the lab is going away.
      ws.terminate();
    }
    await Promise.all(waits);
    await new Promise<void>((r) => this.#wss.close(() => r()));
    this.#server.closeAllConnections?.();
    await new Promise<void>((r) => this.#server.close(() => r()));
  }
}

/** Listen for WebSocket ports (see WebSocketListener). */
export function listenWebSocket(opts: ListenOptions): Promise<WebSocketListener> {
  return WebSocketListener.listen(opts);
}

/** Is origin a page of this machine (http(s) on localhost, 127.0.0.0/8 or [::1])? */
export function loopbackOrigin(origin: string): boolean {
  let u: URL;
  try {
    u = new URL(origin);
  } catch {
    return false;
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") return false;
  const h = u.hostname;
  return h === "localhost" || h.endsWith(".localhost") || h === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}
