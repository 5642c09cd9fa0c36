// HTTP clients in Node code that go through a vnet: an http.Agent for node:http (http.get,
// http.request and everything built on them) and an undici Dispatcher for fetch().
//
// vnetAgent(vnet) is a plain http.Agent whose createConnection is vnet.net.connect: every
// connection it makes is a NetSocket (a stream.Duplex over the vnet's TCP), and Node's Agent
// does the rest as with real sockets (keep-alive, maxSockets, idle sockets unref'd).
//
// vnetDispatcher(vnet) is undici's Agent with a `connect` function that hands undici the
// vnet's NetSocket once it has connected; pass it to fetch (`fetch(url, { dispatcher })`),
// to undici's own request/fetch, or use vnetConnector(vnet) with undici's Client or Pool.
//
// undici is an OPTIONAL PEER dependency, not a dependency: Node's global fetch is undici
// built in, but Node does not export its undici, and its fetch takes a `dispatcher` only from
// an undici whose Dispatcher it can drive: 6.21+ and 7 on Node 20 (7 in
// tests/node_consumers.test.ts, 6.29 by hand); 8 needs Node >= 22.19, takes the same
// connect function, and is in the peer range but not exercised by the tests here. undici is ~1.5 MB that most users of wavnet (kernels,
// topologies, node:http) never load, so it is not installed for them; who wants fetch over
// a vnet runs `npm install undici`. It is loaded on the first vnetDispatcher() call, with
// require() from here (undici is CommonJS), so the call stays synchronous and resolves the
// same copy as `import "undici"` in the application; a missing undici is a clear error
// saying what to install. An application that holds its own undici passes it
// (`vnetDispatcher(vnet, { undici })`). The returned type is undici-types' Dispatcher, the
// one @types/node's global fetch declares, so `fetch(url, { dispatcher })` type-checks
// without undici's own types.
//
// Plain http: only. https (TLS over a vnet) is out of scope: vnetAgent is an http.Agent, so
// https.request refuses it (ERR_INVALID_PROTOCOL), and the dispatcher's connector fails an
// https: origin with a clear error rather than send plaintext. Host names other than IP
// literals and "localhost" fail with ENOTFOUND (the vnets have no resolver; docs/net.md).

import http from "node:http";
import type { Socket as NodeSocket } from "node:net";
import type { Duplex } from "node:stream";
import { createRequire } from "node:module";
import type { Dispatcher } from "undici-types";
import type { Vnet } from "../kern/kernel.js";
import { WavnetError } from "../lib/errors.js";
import type { ConnectOptions, NetSocket } from "./net.js";
import "./vnet_net.js";

// ---------------------------------------------------------------------------------------
// node:http

export interface VnetAgentOptions extends http.AgentOptions {
  /** Source address of every connection (also settable per request, as Node's localAddress). */
  localAddress?: string;
}

/** An http.Agent whose connections are made in one vnet (docs/net.md, "HTTP clients"). */
export class VnetAgent extends http.Agent {
  readonly vnet: Vnet;

  constructor(vnet: Vnet, opts: VnetAgentOptions = {}) {
    super(opts);
    this.vnet = vnet;
  }

  /** Node's Agent calls this for each new connection: the vnet's net.connect. */
  override createConnection(options: http.ClientRequestArgs & { localPort?: number; keepAliveInitialDelay?: number }, callback?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
    const o: ConnectOptions = { port: options.port ?? options.defaultPort ?? 80, host: options.host ?? options.hostname ?? "localhost" };
    if (options.localAddress !== undefined) o.localAddress = options.localAddress;
    if (options.localPort !== undefined) o.localPort = options.localPort;
    if (options.timeout !== undefined) o.timeout = options.timeout;
    const extra = options as { noDelay?: boolean; keepAlive?: boolean };
    if (extra.noDelay !== undefined) o.noDelay = extra.noDelay;
    if (extra.keepAlive !== undefined) o.keepAlive = extra.keepAlive;
    if (options.keepAliveInitialDelay !== undefined) o.keepAliveInitialDelay = options.keepAliveInitialDelay;
    try {
      return this.vnet.net.connect(o);
    } catch (e) {
      // A destroyed vnet, a bad port: the request's 'error', as a failed connect is.
      if (!callback) throw e;
      callback(e as Error, undefined as unknown as Duplex);
      return undefined;
    }
  }
}

/**
 * An http.Agent for node:http whose connections are TCP connections from `vnet`:
 * `http.get({ host: "10.0.0.2", agent: vnetAgent(A) }, ...)`. `opts` are http.Agent's
 * (keepAlive, maxSockets, ...). Destroy it (agent.destroy()) to close idle keep-alive
 * sockets before the vnet goes.
 */
export function vnetAgent(vnet: Vnet, opts: VnetAgentOptions = {}): VnetAgent {
  return new VnetAgent(vnet, opts);
}

// ---------------------------------------------------------------------------------------
// undici / fetch

/** What undici passes a `connect` function (buildConnector.Options). */
export interface UndiciConnectOptions {
  hostname: string;
  host?: string;
  protocol: string;
  port: string | number;
  servername?: string | null;
  localAddress?: string | null;
}

/**
 * undici's `connect` function type: callback(err, socket) once the socket has connected. It
 * returns the socket at once, as undici's own connector does (undici 8 cancels a pending
 * connect through it).
 */
export type UndiciConnector = (options: UndiciConnectOptions, callback: (...args: [null, NodeSocket] | [Error, null]) => void) => NodeSocket | undefined;

/** The parts of the undici module vnetDispatcher uses: its Agent class. */
export interface UndiciModule {
  Agent: new (opts: { connect: UndiciConnector }) => object;
}

export interface VnetDispatcherOptions {
  /** The undici module to build on (default: require("undici") from the application). */
  undici?: UndiciModule;
  /** Options for undici's Agent (connections, pipelining, keepAliveTimeout, ...); `connect` is ours. */
  agent?: Record<string, unknown>;
}

/**
 * undici's `connect` function for a vnet: `new Pool(origin, { connect: vnetConnector(A) })`.
 * It connects with vnet.net and calls back with the NetSocket once it is connected.
 */
export function vnetConnector(vnet: Vnet): UndiciConnector {
  return (options, callback) => {
    if (options.protocol !== "http:") {
      callback(new WavnetError(`wavnet: ${options.protocol}//${options.hostname} is not supported over a vnet: plain http: only (no TLS)`), null);
      return undefined;
    }
    let socket: NetSocket;
    try {
      const o: ConnectOptions = { port: Number(options.port) || 80, host: unbracket(options.hostname) };
      if (options.localAddress) o.localAddress = options.localAddress;
      socket = vnet.net.connect(o);
    } catch (e) {
      callback(e as Error, null);
      return undefined;
    }
    const onError = (e: Error) => {
      socket.off("connect", onConnect);
      callback(e, null);
    };
    const onConnect = () => {
      socket.off("error", onError);
      callback(null, socket as unknown as NodeSocket);
    };
    socket.once("error", onError);
    socket.once("connect", onConnect);
    return socket as unknown as NodeSocket;
  };
}

/** "[fd00::2]" → "fd00::2". */
function unbracket(host: string): string {
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}

let undici: UndiciModule | undefined;

function loadUndici(): UndiciModule {
  if (undici) return undici;
  try {
    undici = createRequire(import.meta.url)("undici") as UndiciModule;
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code !== "MODULE_NOT_FOUND" && code !== "ERR_MODULE_NOT_FOUND") throw e;
    throw new WavnetError(
      "vnetDispatcher needs undici, an optional peer dependency of wavnet that is not installed: " +
      "npm install undici (^7 on Node >= 20.18.1, ^6.21 before that), or pass your own: vnetDispatcher(vnet, { undici }). " +
      "node:http clients need nothing extra: vnetAgent(vnet).",
      { cause: e },
    );
  }
  return undici;
}

/**
 * An undici Dispatcher whose connections are TCP connections from `vnet`:
 * `await fetch("http://10.0.0.2/", { dispatcher: vnetDispatcher(A) })`. Needs the optional
 * peer dependency undici. Close it (`await d.close()`) to end its keep-alive connections
 * before the vnet goes.
 */
export function vnetDispatcher(vnet: Vnet, opts: VnetDispatcherOptions = {}): Dispatcher {
  const u = opts.undici ?? loadUndici();
  return new u.Agent({ ...(opts.agent ?? {}), connect: vnetConnector(vnet) }) as Dispatcher;
}
