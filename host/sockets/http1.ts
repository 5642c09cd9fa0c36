// HTTP/1.1 (RFC 9110 semantics, RFC 9112 message syntax) over the core's stream Sockets,
// with no Node built-in: a server that answers GET and HEAD from a handler, and a client
// that fetches one URL. Enough for a topology's http service and http step, and for a
// page in a browser to talk HTTP between vnets.
//
// Limits, plainly:
// - One request per connection. Every response says `Connection: close`; the server then
//   shuts its side down and closes once the client has gone (no keep-alive, no pipelining:
//   bytes after the first request are read and dropped).
// - No request bodies: the server answers GET and HEAD; other methods get 501, a request
//   with Transfer-Encoding gets 501; a Content-Length body is read and dropped, unseen.
// - The server sends bodies with Content-Length only (no chunked coding, no trailers, no
//   Expect: 100-continue, no upgrades). The client reads a body by Content-Length or until
//   the server closes; a chunked response is an error (EPROTO), and so is a 101.
// - Header section: 16 KiB by default, larger gets 431 (server) or an error (client).
//   Lines end in CRLF or a bare LF (RFC 9112 2.2); obs-fold, a bare CR, a space before the
//   colon or a missing Host in HTTP/1.1 get 400; a major version other than 1 gets 505.
// - Addresses are literals (IPv4 dotted, IPv6 in brackets in a URL): no name resolution.
// - timeoutMs runs on the wall clock (setTimeout); under a virtual kernel clock, which moves
//   only when its driver moves it, abort through `signal` from the driver instead.

import type { Kernel, Vnet } from "../kern/kernel.js";
import { WavnetError } from "../lib/errors.js";
import { socket, Socket, SocketError, SocketClosedError, SOL_SOCKET, SO, SS, type SockAddr } from "./socket.js";

const READ_CHUNK = 65536;
const DEFAULT_MAX_HEADER_BYTES = 16 * 1024;
const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;
const ENCODER = new TextEncoder();

/** RFC 9110 15: the reason phrases the server sends. */
const REASONS: Record<number, string> = {
  100: "Continue", 200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 301: "Moved Permanently", 302: "Found",
  303: "See Other", 304: "Not Modified", 307: "Temporary Redirect", 308: "Permanent Redirect", 400: "Bad Request",
  401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 408: "Request Timeout",
  410: "Gone", 413: "Content Too Large", 414: "URI Too Long", 429: "Too Many Requests",
  431: "Request Header Fields Too Large", 500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
  503: "Service Unavailable", 504: "Gateway Timeout", 505: "HTTP Version Not Supported",
};

/** RFC 9110 5.6.2 token characters. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** RFC 9110 5.5 field-value characters (VCHAR, obs-text, SP, HTAB). */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** An HTTP failure: `code` is an errno name from the socket (ECONNREFUSED...) or ETIMEDOUT, EPROTO, ABORT_ERR. */
export class HttpError extends WavnetError {
  constructor(message: string, readonly code: string) {
    super(message);
  }
}

export type HttpHeaders = [name: string, value: string][];

function headerOf(headers: HttpHeaders, name: string): string | undefined {
  const n = name.toLowerCase();
  return headers.find(([k]) => k.toLowerCase() === n)?.[1];
}

function latin1(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 4096) s += String.fromCharCode(...b.subarray(i, i + 4096));
  return s;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** A socket call's failure as Node words it: "connect ECONNREFUSED 10.0.0.2:80". */
function sysText(syscall: string, e: unknown, address?: string, port?: number): { code: string; text: string } {
  const code = e instanceof SocketError ? e.code : e instanceof SocketClosedError ? "ECONNABORTED" : undefined;
  if (code === undefined) return { code: "EINVAL", text: e instanceof Error ? e.message : String(e) };
  const where = address === undefined ? "" : ` ${address}${port === undefined ? "" : `:${port}`}`;
  return { code, text: `${syscall} ${code}${where}` };
}

// ---------------------------------------------------------------------------------------
// The header section

interface Head {
  /** The start line (request-line or status-line). */
  start: string;
  headers: HttpHeaders;
  /** Bytes after the header section (the body's beginning). */
  rest: Uint8Array;
}

/**
 * The header section in buf, if it is complete: "" + lines until an empty line, each ending
 * in CRLF or LF; leading empty lines are skipped (RFC 9112 2.2). undefined: not complete
 * yet; a string: what is malformed.
 */
function parseHead(buf: Uint8Array): Head | string | undefined {
  const lines: string[] = [];
  let off = 0;
  for (;;) {
    const lf = buf.indexOf(0x0a, off);
    if (lf < 0) return undefined;
    const end = lf > off && buf[lf - 1] === 0x0d ? lf - 1 : lf;
    const line = latin1(buf.subarray(off, end));
    off = lf + 1;
    if (line === "") {
      if (lines.length === 0) continue; // empty lines before the start line
      break;
    }
    if (line.includes("\r")) return "bare CR in the header section";
    lines.push(line);
  }
  const headers: HttpHeaders = [];
  for (const line of lines.slice(1)) {
    if (line[0] === " " || line[0] === "\t") return "obsolete line folding";
    const colon = line.indexOf(":");
    if (colon <= 0) return `header line without a name and colon: ${JSON.stringify(line.slice(0, 40))}`;
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) return `bad header name ${JSON.stringify(name.slice(0, 40))}`;
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, "");
    if (!FIELD_VALUE.test(value)) return `bad value in header ${name}`;
    headers.push([name, value]);
  }
  return { start: lines[0], headers, rest: buf.subarray(off) };
}

/** Content-Length's value: a number, undefined if absent, or a string saying what is wrong. */
function contentLength(headers: HttpHeaders): number | undefined | string {
  const values = headers.filter(([k]) => k.toLowerCase() === "content-length").flatMap(([, v]) => v.split(",").map((x) => x.trim()));
  if (values.length === 0) return undefined;
  if (!values.every((v) => /^\d+$/.test(v)) || new Set(values).size !== 1) return `bad Content-Length ${JSON.stringify(values.join(", "))}`;
  const n = Number(values[0]);
  return Number.isSafeInteger(n) ? n : "Content-Length too large";
}

// ---------------------------------------------------------------------------------------
// A connection: a stream Socket with a read loop and a write queue

interface WireEvents {
  data(b: Uint8Array): void;
  eof(): void;
  error(e: unknown): void;
  /** The socket was closed (by close(), or by end(true) once the queue went out). */
  closed?(): void;
}

class Wire {
  #queue: Uint8Array[] = [];
  #ending = false;
  #closeAfter = false;
  #shut = false;
  #eof = false;
  #reading = false;
  #closedByUs = false;

  constructor(readonly sock: Socket, private readonly on: WireEvents) {
    sock.on("readable", () => this.read());
    sock.on("writable", () => this.#flush());
    sock.on("error", (e: Error) => this.#fail(e));
    sock.on("close", () => this.#fail(new SocketClosedError(`${sock}: closed by the kernel`)));
  }

  get closed(): boolean {
    return this.sock.closed;
  }

  #fail(e: unknown): void {
    if (!this.#closedByUs) this.on.error(e);
  }

  /** Read until EAGAIN ('readable' comes again), the end of the stream or a close. */
  read(): void {
    if (this.#reading || this.#eof) return;
    this.#reading = true;
    try {
      while (!this.sock.closed) {
        let b: Uint8Array | null;
        try {
          b = this.sock.recv(READ_CHUNK);
        } catch (e) {
          this.#fail(e);
          return;
        }
        if (b === null) return;
        if (b.length === 0) {
          this.#eof = true;
          this.on.eof();
          return;
        }
        this.on.data(b);
      }
    } finally {
      this.#reading = false;
    }
  }

  write(b: Uint8Array): void {
    if (this.#ending) throw new Error("http1: write after end");
    this.#queue.push(b);
    this.#flush();
  }

  /**
   * Shut the write side down once the queue has gone out (the kernel still sends what it
   * holds); closeAfter: then close the socket too (the peer has finished sending, so no
   * unread bytes turn the close into a reset).
   */
  end(closeAfter = false): void {
    this.#ending = true;
    this.#closeAfter ||= closeAfter;
    this.#flush();
  }

  #flush(): void {
    while (this.#queue.length && !this.sock.closed) {
      const b = this.#queue[0];
      let n: number;
      try {
        n = this.sock.send(b);
      } catch (e) {
        this.#queue = [];
        this.#fail(e);
        return;
      }
      if (n === 0) return; // the send buffer is full: 'writable' follows
      if (n < b.length) this.#queue[0] = b.subarray(n);
      else this.#queue.shift();
    }
    if (!this.#ending || this.#queue.length > 0 || this.sock.closed) return;
    if (this.#closeAfter) return this.close();
    if (!this.#shut) {
      this.#shut = true;
      try {
        this.sock.shutdown("write");
      } catch {
        // the peer is gone already: nothing left to tell it
      }
    }
  }

  close(): void {
    if (this.#closedByUs) return;
    this.#closedByUs = true;
    this.#queue = [];
    this.sock.close();
    this.on.closed?.();
  }
}

// ---------------------------------------------------------------------------------------
// Server

export interface HttpRequest {
  method: string;
  /** The request-target as sent ("/index.html", "/?q=1"). */
  target: string;
  /** "HTTP/1.1" or "HTTP/1.0". */
  version: string;
  /** The header fields as received, in order. */
  headers: HttpHeaders;
  /** The first value of a header field (names are case-insensitive). */
  header(name: string): string | undefined;
  /** The client's address. */
  remote?: SockAddr;
}

export interface HttpResponse {
  /** Default 200. */
  status?: number;
  /** Default: the RFC 9110 phrase for the status. */
  reason?: string;
  /** Fields sent before Date, Connection and Content-Length (which the server sets itself). */
  headers?: Record<string, string>;
  body?: string | Uint8Array;
}

export type HttpHandler = (req: HttpRequest) => HttpResponse | Promise<HttpResponse>;

export interface HttpServerOptions {
  /** Largest request header section accepted (default 16 KiB); a larger one gets 431. */
  maxHeaderBytes?: number;
}

/** The response's bytes: status line, the handler's fields, Date, Connection, Content-Length, body. */
function responseBytes(res: HttpResponse, head: boolean, date: Date): Uint8Array {
  const status = res.status ?? 200;
  const reason = res.reason ?? REASONS[status] ?? "";
  const body = typeof res.body === "string" ? ENCODER.encode(res.body) : (res.body ?? new Uint8Array(0));
  const noBody = status === 204 || status === 304;
  let text = `HTTP/1.1 ${status} ${reason}\r\n`;
  for (const [k, v] of Object.entries(res.headers ?? {})) {
    if (/^(content-length|connection|date|transfer-encoding)$/i.test(k)) continue;
    if (!TOKEN.test(k) || !FIELD_VALUE.test(v) || /[^\x00-\xff]/.test(v)) throw new Error(`bad response header ${JSON.stringify(k)}`);
    text += `${k}: ${v}\r\n`;
  }
  text += `Date: ${date.toUTCString()}\r\nConnection: close\r\n`;
  if (!noBody) text += `Content-Length: ${body.length}\r\n`;
  text += "\r\n";
  const headBytes = Uint8Array.from(text, (c) => c.charCodeAt(0));
  return head || noBody ? headBytes : concat(headBytes, body);
}

class ServerConn {
  readonly wire: Wire;
  #buf: Uint8Array = new Uint8Array(0);
  #answered = false;
  #sent = false;
  #peerDone = false;

  constructor(readonly server: HttpServer, sock: Socket, private readonly maxHeaderBytes: number) {
    this.wire = new Wire(sock, {
      data: (b) => this.#data(b),
      eof: () => this.#eof(),
      error: () => this.close(),
      closed: () => this.server._forget(this),
    });
  }

  #data(b: Uint8Array): void {
    if (this.#answered) return; // a body or pipelined requests: dropped (one request per connection)
    this.#buf = concat(this.#buf, b);
    const head = parseHead(this.#buf);
    const headBytes = head === undefined || typeof head === "string" ? this.#buf.length : this.#buf.length - head.rest.length;
    if (headBytes > this.maxHeaderBytes) return this.#respond({ status: 431, body: "request header section too large\n" }, false);
    if (head === undefined) return;
    this.#buf = new Uint8Array(0);
    if (typeof head === "string") return this.#respond({ status: 400, body: `${head}\n` }, false);
    const m = /^([^ ]+) ([^ ]+) HTTP\/(\d)\.(\d)$/.exec(head.start);
    if (!m || !TOKEN.test(m[1]) || !/^[\x21-\x7e]+$/.test(m[2])) return this.#respond({ status: 400, body: "malformed request line\n" }, false);
    const [, method, target, major, minor] = m;
    if (major !== "1") return this.#respond({ status: 505, body: "HTTP/1.x only\n" }, false);
    const hosts = head.headers.filter(([k]) => k.toLowerCase() === "host").length;
    if (hosts > 1 || (hosts === 0 && minor !== "0")) return this.#respond({ status: 400, body: "an HTTP/1.1 request needs one Host field\n" }, false);
    const cl = contentLength(head.headers);
    if (typeof cl === "string") return this.#respond({ status: 400, body: `${cl}\n` }, false);
    if (headerOf(head.headers, "transfer-encoding") !== undefined) return this.#respond({ status: 501, body: "no request bodies\n" }, false);
    const isHead = method === "HEAD";
    if (method !== "GET" && !isHead) return this.#respond({ status: 501, headers: { Allow: "GET, HEAD" }, body: `${method} is not implemented\n` }, false);
    let remote: SockAddr | undefined;
    try {
      remote = this.wire.sock.remoteAddress();
    } catch {
      remote = undefined;
    }
    const req: HttpRequest = { method, target, version: `HTTP/${major}.${minor}`, headers: head.headers, header: (n) => headerOf(head.headers, n), remote };
    this.#answered = true;
    let res: HttpResponse | Promise<HttpResponse>;
    try {
      res = this.server.handler(req);
    } catch {
      res = { status: 500, body: "the handler failed\n" };
    }
    Promise.resolve(res).then(
      (r) => this.#send(r, isHead),
      () => this.#send({ status: 500, body: "the handler failed\n" }, isHead),
    );
  }

  #respond(res: HttpResponse, head: boolean): void {
    this.#answered = true;
    this.#send(res, head);
  }

  #send(res: HttpResponse, head: boolean): void {
    if (this.wire.closed) return;
    // The kernel's wall clock (a virtual clock's starts at 2000-01-01, as captures' do): a
    // seeded virtual-time run sends the same bytes every time.
    const k = this.server.kernel;
    const date = new Date(Math.floor((k.epochUs() + k.clock.now()) / 1000));
    let bytes: Uint8Array;
    try {
      bytes = responseBytes(res, head, date);
    } catch {
      bytes = responseBytes({ status: 500, body: "the handler's response was malformed\n" }, head, date);
    }
    this.#sent = true;
    this.wire.write(bytes);
    // Then read (and drop) until the client closes: closing with its bytes unread would
    // reset the connection, and the reset could overtake the response.
    this.wire.end(this.#peerDone);
  }

  #eof(): void {
    this.#peerDone = true;
    // Answered: close once the response has gone to the kernel. Half a request: there is
    // no one to answer. A handler still working: #send closes after its response.
    if (this.#sent || !this.#answered) this.wire.end(true);
  }

  close(): void {
    this.wire.close();
  }
}

export class HttpServer {
  #listener?: Socket;
  readonly #conns = new Set<ServerConn>();
  readonly #maxHeaderBytes: number;

  constructor(readonly kernel: Kernel, readonly vnet: Vnet, readonly handler: HttpHandler, opts: HttpServerOptions = {}) {
    this.#maxHeaderBytes = opts.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
  }

  /** Listen on address:port (default every IPv4 address); throws HttpError ("listen EADDRINUSE 0.0.0.0:80"). */
  listen(port = 80, address = "0.0.0.0"): this {
    if (this.#listener) throw new HttpError("http server: already listening", "EINVAL");
    let sock: Socket | undefined;
    try {
      sock = socket(this.kernel, this.vnet, address.includes(":") ? "inet6" : "inet", "stream");
      sock.setsockopt(SOL_SOCKET, SO.REUSEADDR, true);
      sock.bind(address, port);
      sock.listen();
    } catch (e) {
      sock?.close();
      const { code, text } = sysText("listen", e, address, port);
      throw new HttpError(text, code);
    }
    const lst = sock;
    this.#listener = lst;
    lst.on("acceptable", () => this.#acceptAll(lst));
    lst.on("close", () => {
      if (this.#listener === lst) this.#listener = undefined;
    });
    return this;
  }

  #acceptAll(lst: Socket): void {
    while (!lst.closed) {
      let s: Socket | null;
      try {
        s = lst.accept();
      } catch {
        return; // an aborted connection in the queue: the next 'acceptable' brings the rest
      }
      if (!s) return;
      this.#conns.add(new ServerConn(this, s, this.#maxHeaderBytes));
    }
  }

  /** @internal a connection closed. */
  _forget(c: ServerConn): void {
    this.#conns.delete(c);
  }

  get listening(): boolean {
    return this.#listener !== undefined && !this.#listener.closed;
  }

  /** Open connections. */
  get connections(): number {
    return this.#conns.size;
  }

  /** The listening address. */
  address(): SockAddr | undefined {
    return this.#listener && !this.#listener.closed ? this.#listener.address() : undefined;
  }

  /** Stop listening and close every connection. */
  close(): void {
    const lst = this.#listener;
    this.#listener = undefined;
    if (lst && !lst.closed) lst.close();
    for (const c of [...this.#conns]) c.close();
  }
}

/** An HTTP server in vnet; call listen(). */
export function createHttpServer(kernel: Kernel, vnet: Vnet, handler: HttpHandler, opts?: HttpServerOptions): HttpServer {
  return new HttpServer(kernel, vnet, handler, opts);
}

// ---------------------------------------------------------------------------------------
// Client

export interface HttpGetOptions {
  /** Default GET. */
  method?: "GET" | "HEAD";
  /** Sent after Host and Connection. */
  headers?: Record<string, string>;
  /** Give up after this many ms of wall-clock time (see the limits above). */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Largest response header section accepted (default 16 KiB). */
  maxHeaderBytes?: number;
  /** Largest body accepted (default 16 MiB). */
  maxBodyBytes?: number;
}

export interface HttpClientResponse {
  status: number;
  reason: string;
  /** "HTTP/1.1" or "HTTP/1.0". */
  version: string;
  headers: HttpHeaders;
  header(name: string): string | undefined;
  body: Uint8Array;
  /** The body as UTF-8 text. */
  text(): string;
}

export type HttpTarget = string | { host: string; port?: number; path?: string };

function target(t: HttpTarget): { host: string; port: number; path: string; hostField: string } {
  if (typeof t === "string") {
    let u: URL;
    try {
      u = new URL(t);
    } catch {
      throw new HttpError(`not a URL: ${JSON.stringify(t)}`, "EINVAL");
    }
    if (u.protocol !== "http:") throw new HttpError(`${t}: only http: URLs`, "EINVAL");
    const host = u.hostname.replace(/^\[(.*)\]$/, "$1");
    return { host, port: u.port ? Number(u.port) : 80, path: `${u.pathname || "/"}${u.search}`, hostField: u.host };
  }
  const port = t.port ?? 80;
  const bracketed = t.host.includes(":") ? `[${t.host}]` : t.host;
  return { host: t.host, port, path: t.path ?? "/", hostField: port === 80 ? bracketed : `${bracketed}:${port}` };
}

/**
 * GET (or HEAD) one URL from vnet: "http://10.0.0.2/", "http://[fd00::2]:8080/x", or
 * { host, port, path }. Resolves with the status, fields and body once the body is complete;
 * rejects with an HttpError (connect ECONNREFUSED 10.0.0.2:80, a malformed response, the
 * timeout, the signal).
 */
export function httpGet(kernel: Kernel, vnet: Vnet, url: HttpTarget, opts: HttpGetOptions = {}): Promise<HttpClientResponse> {
  return new Promise<HttpClientResponse>((resolve, reject) => {
    const method = opts.method ?? "GET";
    const maxHeader = opts.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
    const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    const t = target(url);
    let settled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let wire: Wire | undefined;
    const finish = (err: HttpError | undefined, res?: HttpClientResponse) => {
      if (settled) return;
      settled = true;
      if (timer !== undefined) clearTimeout(timer);
      opts.signal?.removeEventListener("abort", onAbort);
      if (wire && !wire.closed) wire.close();
      if (err) reject(err);
      else resolve(res!);
    };
    const onAbort = () => {
      const r: unknown = opts.signal?.reason;
      finish(new HttpError(r instanceof Error ? r.message : "request aborted", "ABORT_ERR"));
    };
    if (opts.signal?.aborted) return onAbort();
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    if (opts.timeoutMs !== undefined) timer = setTimeout(() => finish(new HttpError(`no complete response within ${opts.timeoutMs} ms`, "ETIMEDOUT")), opts.timeoutMs);

    let sock: Socket;
    try {
      sock = socket(kernel, vnet, t.host.includes(":") ? "inet6" : "inet", "stream");
    } catch (e) {
      const { code, text } = sysText("socket", e);
      return finish(new HttpError(text, code));
    }
    let connected = false;
    let buf: Uint8Array = new Uint8Array(0);
    let head: { status: number; reason: string; version: string; headers: HttpHeaders } | undefined;
    let length: number | undefined; // body bytes expected; undefined: until the server closes
    const parts: Uint8Array[] = [];
    let got = 0;

    const done = () => {
      const body = new Uint8Array(got);
      let off = 0;
      for (const p of parts) {
        body.set(p, off);
        off += p.length;
      }
      const h = head!;
      finish(undefined, { ...h, header: (n) => headerOf(h.headers, n), body, text: () => new TextDecoder().decode(body) });
    };
    const protoErr = (what: string) => finish(new HttpError(`${t.hostField}: ${what}`, "EPROTO"));

    const onBody = (b: Uint8Array) => {
      const take = length === undefined ? b : b.subarray(0, length - got);
      if (take.length) parts.push(take);
      got += take.length;
      if (got > maxBody) return protoErr(`body larger than ${maxBody} bytes`);
      if (length !== undefined && got >= length) done();
    };

    const onHead = (): void => {
      for (;;) {
        const h = parseHead(buf);
        if ((h === undefined || typeof h === "string" ? buf.length : buf.length - h.rest.length) > maxHeader) {
          return protoErr(`response header section larger than ${maxHeader} bytes`);
        }
        if (h === undefined) return;
        if (typeof h === "string") return protoErr(h);
        const m = /^HTTP\/1\.(\d) (\d{3})(?: (.*))?$/.exec(h.start);
        if (!m) return protoErr(`malformed status line ${JSON.stringify(h.start.slice(0, 60))}`);
        const status = Number(m[2]);
        buf = h.rest;
        if (status === 101) return protoErr("101 Switching Protocols is not supported");
        if (status < 200) continue; // interim (100 Continue, 103 Early Hints): the final response follows
        head = { status, reason: m[3] ?? "", version: `HTTP/1.${m[1]}`, headers: h.headers };
        if (method === "HEAD" || status === 204 || status === 304) return done();
        if (headerOf(h.headers, "transfer-encoding") !== undefined) return protoErr(`Transfer-Encoding ${headerOf(h.headers, "transfer-encoding")} is not supported`);
        const cl = contentLength(h.headers);
        if (typeof cl === "string") return protoErr(cl);
        length = cl;
        if (length === 0) return done();
        const rest = buf;
        buf = new Uint8Array(0);
        if (rest.length) onBody(rest);
        return;
      }
    };

    const failText = (e: unknown) => {
      const { code, text } = sysText(connected ? "read" : "connect", e, connected ? undefined : t.host, connected ? undefined : t.port);
      finish(new HttpError(text, code));
    };
    wire = new Wire(sock, {
      data: (b) => {
        if (settled) return;
        if (head) return onBody(b);
        buf = concat(buf, b);
        onHead();
      },
      eof: () => {
        if (settled) return;
        if (!head) return finish(new HttpError(`${t.hostField}: the connection closed before a complete response header`, "ECONNRESET"));
        if (length === undefined) return done();
        finish(new HttpError(`${t.hostField}: the connection closed after ${got} of ${length} body bytes`, "ECONNRESET"));
      },
      error: failText,
    });

    const request = () => {
      let text = `${method} ${t.path} HTTP/1.1\r\nHost: ${t.hostField}\r\nConnection: close\r\n`;
      for (const [k, v] of Object.entries(opts.headers ?? {})) {
        if (/^(host|connection)$/i.test(k)) continue;
        text += `${k}: ${v}\r\n`;
      }
      wire!.write(ENCODER.encode(`${text}\r\n`));
      wire!.read(); // data may have come with the connection
    };
    const onConnected = () => {
      if (connected || settled || sock.closed) return;
      // A connect that failed may post 'connect' with the error pending: look before sending.
      const st = sock.info().state;
      if ((st & SS.ISCONNECTED) === 0) {
        if (st & SS.ISCONNECTING) return;
        const err = sock.getsockopt(SOL_SOCKET, SO.ERROR);
        if (err) return failText(new SocketError("connect", -err));
      }
      connected = true;
      request();
    };
    sock.on("connect", onConnected);
    try {
      if (sock.connect(t.host, t.port)) queueMicrotask(onConnected);
    } catch (e) {
      failText(e);
    }
  });
}
