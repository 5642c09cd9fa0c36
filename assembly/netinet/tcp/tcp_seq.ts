// TCP sequence space arithmetic (FreeBSD netinet/tcp_seq.h): modulo 2^32 comparisons.

@inline export function SEQ_LT(a: u32, b: u32): bool { return <i32>(a - b) < 0; }
@inline export function SEQ_LEQ(a: u32, b: u32): bool { return <i32>(a - b) <= 0; }
@inline export function SEQ_GT(a: u32, b: u32): bool { return <i32>(a - b) > 0; }
@inline export function SEQ_GEQ(a: u32, b: u32): bool { return <i32>(a - b) >= 0; }
@inline export function SEQ_MIN(a: u32, b: u32): u32 { return SEQ_LT(a, b) ? a : b; }
@inline export function SEQ_MAX(a: u32, b: u32): u32 { return SEQ_GT(a, b) ? a : b; }
