// Error numbers returned (negated) by kernel calls. Values are FreeBSD's sys/errno.h;
// host/errors.ts maps them to typed errors.
export const EPERM: i32 = 1;
export const ENOENT: i32 = 2;
export const ESRCH: i32 = 3; // ipfw: no such table
export const ENOMEM: i32 = 12;
export const EBUSY: i32 = 16;
export const EEXIST: i32 = 17;
export const EINVAL: i32 = 22;
export const EFBIG: i32 = 27; // ipfw: a table's limit is hit
export const ENOSPC: i32 = 28;
export const EDEADLK: i32 = 11;
// Sockets and networking (FreeBSD values)
export const EBADF: i32 = 9;
export const EPIPE: i32 = 32;
export const EAGAIN: i32 = 35;
export const EWOULDBLOCK: i32 = EAGAIN;
export const EINPROGRESS: i32 = 36;
export const EALREADY: i32 = 37;
export const EDESTADDRREQ: i32 = 39;
export const EMSGSIZE: i32 = 40;
export const EPROTOTYPE: i32 = 41;
export const ENOPROTOOPT: i32 = 42;
export const EPROTONOSUPPORT: i32 = 43;
export const EOPNOTSUPP: i32 = 45;
export const EAFNOSUPPORT: i32 = 47;
export const EADDRINUSE: i32 = 48;
export const EADDRNOTAVAIL: i32 = 49;
export const ENETDOWN: i32 = 50;
export const ENETUNREACH: i32 = 51;
export const ECONNABORTED: i32 = 53;
export const ECONNRESET: i32 = 54;
export const ENOBUFS: i32 = 55;
export const EISCONN: i32 = 56;
export const ENOTCONN: i32 = 57;
export const ETIMEDOUT: i32 = 60;
export const ECONNREFUSED: i32 = 61;
export const EHOSTUNREACH: i32 = 65;
