// What host/net_socket.ts and host/net_server.ts share: Node-style errors, keeping Node
// alive while a server or socket is ref'd, and address helpers.

import { constants as osConstants } from "node:os";
import { isIPv4, isIPv6, isIPv6Text } from "../lib/addr.js";
import { SocketError, SocketClosedError, type SockAddr } from "../sockets/socket.js";

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

// Node reports errno as libuv's negative number for the platform it runs on (ECONNREFUSED
// is -111 on Linux, -61 on FreeBSD and macOS). The kernel's numbers are FreeBSD's and their
// names are lib/errors.ts's one table; here, and only in the Node look-alikes (net, dgram),
// a name becomes libuv's number through node:os.
const UV_ERRNO = osConstants.errno as Record<string, number>;
/** getaddrinfo's codes, which are not errnos: libuv's UV_EAI_* numbers (the same everywhere). */
const UV_EAI: Record<string, number> = { ENOTFOUND: -3008 };
/** libuv's UV_UNKNOWN, for a name this platform's libuv does not have. */
const UV_UNKNOWN = -4094;

/** The `errno` Node would put on an error with this code: libuv's negative number. */
export function uvErrno(code: string): number {
  const n = UV_ERRNO[code];
  return n !== undefined ? -n : (UV_EAI[code] ?? UV_UNKNOWN);
}

/** Build the error Node would report: `${syscall} ${code} ${address}:${port}`. */
export function netError(syscall: string, code: string, address?: string, port?: number, cause?: unknown): NetError {
  const where = address !== undefined ? ` ${address}${port !== undefined ? `:${port}` : ""}` : "";
  const e = new Error(`${syscall} ${code}${where}`, cause !== undefined ? { cause } : undefined) as NetError;
  e.code = code;
  e.errno = uvErrno(code);
  e.syscall = syscall;
  if (address !== undefined) e.address = address;
  if (port !== undefined) e.port = port;
  return e;
}

export function codeOf(e: unknown): string | undefined {
  if (e instanceof SocketError) return e.code;
  if (e instanceof SocketClosedError) return "ECONNABORTED";
  return undefined;
}

/** A kernel call's exception as a NetError (other exceptions are returned as they are). */
export function asNetError(e: unknown, syscall: string, address?: string, port?: number): Error {
  const code = codeOf(e);
  if (code === undefined) return e instanceof Error ? e : new Error(String(e));
  return netError(syscall, code, address, port, e);
}

export function nodeError(code: string, message: string): Error {
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

export class RefHandle {
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
  family: "IPv4" | "IPv6";
  port: number;
}

/** A literal address (IPv4 dotted, or IPv6 with a zone or without), "localhost", or dflt when none is given. */
export function resolveHost(host: string | undefined, dflt: string): string {
  if (host === undefined || host === null || host === "") return dflt;
  if (host === "localhost") return "127.0.0.1";
  if (isIPv4(host) || isIPv6(host, { zone: true })) return host; // "fe80::1%epair0b": the socket resolves the zone
  throw netError("getaddrinfo", "ENOTFOUND", host);
}

/** The socket domain of a resolved address. */
export function domainOf(address: string): "inet" | "inet6" {
  return isIPv6Text(address) ? "inet6" : "inet";
}

export function toPort(p: unknown, what: string): number {
  const n = typeof p === "string" && p.trim() !== "" ? Number(p) : p;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > 65535) {
    throw Object.assign(new RangeError(`${what} should be >= 0 and < 65536. Received ${receivedType(p)}.`), { code: "ERR_SOCKET_BAD_PORT" });
  }
  return n;
}

/** How Node's argument errors name a value ("type number (NaN)", "type string ('x')"). */
export function receivedType(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (typeof v === "function") return `function ${v.name}`;
  if (typeof v === "object") return `an instance of ${(v as object).constructor?.name ?? "Object"}`;
  if (typeof v === "string") return `type string ('${v.length > 28 ? `${v.slice(0, 25)}...` : v}')`;
  return `type ${typeof v} (${String(v)})`;
}

export function inet(sa: SockAddr | undefined): AddressInfo | undefined {
  if (!sa || (sa.family !== "inet" && sa.family !== "inet6")) return undefined;
  return { address: sa.address, family: sa.family === "inet" ? "IPv4" : "IPv6", port: sa.port };
}
