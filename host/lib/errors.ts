// Typed errors for kernel misuse. The kernel never throws: it returns negative errnos and
// records leaks; the host turns those into these classes with messages that say what is
// wrong and where.

/**
 * The one errno table: the kernel's numbers (FreeBSD's sys/errno.h, as the kernel's
 * sys/errno and netinet6/ip6_var define them) and their names. errnoName turns a kernel
 * return into the name that KernelError messages and SocketError.code carry. Node's
 * look-alikes (sockets/net_common, sockets/dgram) keep the only other numbering, libuv's,
 * and reach it from these names.
 */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EBADF: 9,
  EDEADLK: 11,
  ENOMEM: 12,
  EACCES: 13,
  EBUSY: 16,
  EEXIST: 17,
  EINVAL: 22,
  EFBIG: 27,
  ENOSPC: 28,
  EPIPE: 32,
  EAGAIN: 35,
  EINPROGRESS: 36,
  EALREADY: 37,
  EDESTADDRREQ: 39,
  EMSGSIZE: 40,
  EPROTOTYPE: 41,
  ENOPROTOOPT: 42,
  EPROTONOSUPPORT: 43,
  EOPNOTSUPP: 45,
  EAFNOSUPPORT: 47,
  EADDRINUSE: 48,
  EADDRNOTAVAIL: 49,
  ENETDOWN: 50,
  ENETUNREACH: 51,
  ECONNABORTED: 53,
  ECONNRESET: 54,
  ENOBUFS: 55,
  EISCONN: 56,
  ENOTCONN: 57,
  ETIMEDOUT: 60,
  ECONNREFUSED: 61,
  EHOSTUNREACH: 65,
} as const;

const names = new Map<number, string>(Object.entries(Errno).map(([k, v]) => [v, k]));

/** A kernel errno (either sign) -> its name, "errno N" for a number the table does not have. */
export function errnoName(e: number): string {
  return names.get(Math.abs(e)) ?? `errno ${Math.abs(e)}`;
}

export class WavnetError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A kernel call failed with an errno. */
export class KernelError extends WavnetError {
  readonly errno: number;
  constructor(what: string, errno: number) {
    super(`${what}: ${errnoName(errno)}`);
    this.errno = Math.abs(errno);
  }
}

/** The kernel trapped or aborted: a kernel bug, never bad input. */
export class KernelPanic extends WavnetError {}

/** A vnet was used or destroyed after it was destroyed. */
export class VnetGoneError extends WavnetError {}

export class UnknownModuleError extends WavnetError {}

export class UnresolvedImportError extends WavnetError {
  constructor(readonly module: string, readonly missing: string[]) {
    super(`kldload ${module}: cannot resolve ${missing.length === 1 ? "import" : "imports"} ${missing.join(", ")}`);
  }
}

export class ModuleLoadedError extends WavnetError {}
export class ModuleNotLoadedError extends WavnetError {}

/** A module asked for more VNET section space than is left. */
export class VnetSpaceError extends WavnetError {}

/** Unloading a module another loaded module depends on. */
export class ModuleDependencyError extends WavnetError {
  constructor(readonly module: string, readonly dependents: string[]) {
    super(`kldunload ${module}: ${dependents.join(", ")} ${dependents.length === 1 ? "depends" : "depend"} on it; unload ${dependents.length === 1 ? "it" : "them"} first`);
  }
}

/** MOD_QUIESCE refused: the module is in use (open sockets, hooks). */
export class ModuleBusyError extends WavnetError {}

export interface LeakEntry {
  name: string;
  count: number;
  kind: "items" | "pages" | "callouts" | "zone" | "vnet data";
}

/** Teardown found resources still owned; each is named. The object is gone regardless. */
export class LeakError extends WavnetError {
  constructor(readonly what: string, readonly leaks: LeakEntry[]) {
    super(`${what} leaked: ${leaks.map((l) => `${l.name} (${l.kind}) x${l.count}`).join(", ")}`);
  }
}

export class ConfigError extends WavnetError {}

/**
 * An operation given an AbortSignal was aborted: name "AbortError", code "ABORT_ERR" and
 * cause = signal.reason, as Node's own APIs reject. `partial` holds what the operation had
 * done so far when it has something to show (ping: the PingResult of the probes sent).
 */
export class AbortError<R = unknown> extends WavnetError {
  readonly code = "ABORT_ERR";
  partial?: R;
  constructor(message = "The operation was aborted", options?: ErrorOptions) {
    super(message, options);
  }
}

/** The AbortError for signal (its reason as the cause). */
export function abortError<R = unknown>(signal: AbortSignal, what?: string): AbortError<R> {
  return new AbortError<R>(what ? `${what}: the operation was aborted` : undefined, { cause: signal.reason });
}
