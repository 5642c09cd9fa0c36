// Error numbers returned (negated) by kernel calls. Values are FreeBSD's sys/errno.h;
// host/errors.ts maps them to typed errors.
export const EPERM: i32 = 1;
export const ENOENT: i32 = 2;
export const ENOMEM: i32 = 12;
export const EBUSY: i32 = 16;
export const EEXIST: i32 = 17;
export const EINVAL: i32 = 22;
export const ENOSPC: i32 = 28;
export const EDEADLK: i32 = 11;
