// IPv6 wire formats and constants (FreeBSD netinet/in6.h, ip6.h, icmp6.h, nd6.h): the
// packet views every IPv6 module includes. An address is 16 bytes in network order,
// always handled through a pointer (a header field, a structure field, a scratch buffer);
// equality and prefix tests read it as words.

export const IPV6_VERSION: u8 = 6;
export const IP6_HDR_LEN: u32 = 40;
export const IPV6_MAXPACKET: u32 = 65535; // payload length limit (no jumbograms)
export const IPV6_MMTU: u32 = 1280; // RFC 8200 5: every link carries 1280
export const IPV6_DEFHLIM: u8 = 64;
export const IPV6_MAXHLIM: u8 = 255;

// Next header values (IANA)
export const IPPROTO_HOPOPTS: u8 = 0;
export const IPPROTO_TCP6: u8 = 6;
export const IPPROTO_UDP6: u8 = 17;
export const IPPROTO_ROUTING: u8 = 43;
export const IPPROTO_FRAGMENT: u8 = 44;
export const IPPROTO_ICMPV6: u8 = 58;
export const IPPROTO_NONE: u8 = 59;
export const IPPROTO_DSTOPTS: u8 = 60;

// Header field offsets
export const IP6_FLOW: usize = 0; // version 4 bits, traffic class 8, flow label 20
export const IP6_PLEN: usize = 4;
export const IP6_NXT: usize = 6;
export const IP6_HLIM: usize = 7;
export const IP6_SRC: usize = 8;
export const IP6_DST: usize = 24;

@inline export function ip6_v(ip: usize): u8 { return load<u8>(ip) >> 4; }
@inline export function ip6_plen(ip: usize): u32 { return <u32>bswap<u16>(load<u16>(ip + IP6_PLEN)); }
@inline export function ip6_nxt(ip: usize): u8 { return load<u8>(ip + IP6_NXT); }
@inline export function ip6_hlim(ip: usize): u8 { return load<u8>(ip + IP6_HLIM); }
@inline export function ip6_set_plen(ip: usize, n: u32): void { store<u16>(ip + IP6_PLEN, bswap<u16>(<u16>n)); }

/** Fill a header: version 6, traffic class 0, flow label 0. */
export function ip6_fill(ip: usize, plen: u32, nxt: u8, hlim: u8, src: usize, dst: usize): void {
  store<u32>(ip, 0x60); // 0x60000000 in network order
  ip6_set_plen(ip, plen);
  store<u8>(ip + IP6_NXT, nxt);
  store<u8>(ip + IP6_HLIM, hlim);
  in6_copy(ip + IP6_SRC, src);
  in6_copy(ip + IP6_DST, dst);
}

// The inet6 module's entry table for upper protocols (registered with the kernel by
// domain_af_register(AF_INET6, table) while inet6 is loaded; each entry a table slot):
export const IN6API_OUTPUT: usize = 0; // ip6_output(m, src*, dst*, nxt, hlim, flags, ifp): i32
export const IN6API_SELECTSRC: usize = 4; // in6_selectsrc(dst*, ifp, out*): i32 (0 or -errno)
export const IN6API_RTMTU: usize = 8; // in6_rtmtu(dst*, ifp): u32 (0: no route)
export const IN6API_LOCALIP: usize = 12; // in6_localip(a*, ifp): bool
export const IN6API_PROTO_REGISTER: usize = 16; // ip6proto_register(nxt, input, ctlinput): i32
export const IN6API_PROTO_UNREGISTER: usize = 20; // ip6proto_unregister(nxt): i32
export const IN6API_ERROR: usize = 24; // icmp6_error(m, type, code, arg): void
export const IN6API_V6ONLY: usize = 28; // in6_v6only(): bool, net.inet6.ip6.v6only of the current vnet
export const IN6API_RTTSO: usize = 32; // in6_rttso(dst*): u32, IF_HW_TSOMAX when the route's interface assists TSO6 now, else 0
export const IN6API_SIZE: u32 = 36;

// Fragment header (RFC 8200 4.5)
export const IP6F_LEN: u32 = 8;
export const IP6F_OFFMASK: u16 = 0xfff8; // offset in 8-byte units, shifted
export const IP6F_MORE: u16 = 0x0001;

// ---------------------------------------------------------------------------------------
// Addresses (RFC 4291)

@inline export function in6_copy(d: usize, s: usize): void {
  store<u64>(d, load<u64>(s));
  store<u64>(d, load<u64>(s, 8), 8);
}
@inline export function in6_eq(a: usize, b: usize): bool {
  return load<u64>(a) == load<u64>(b) && load<u64>(a, 8) == load<u64>(b, 8);
}
@inline export function in6_zero(d: usize): void {
  store<u64>(d, 0);
  store<u64>(d, 0, 8);
}
@inline export function IN6_IS_ADDR_UNSPECIFIED(a: usize): bool { return load<u64>(a) == 0 && load<u64>(a, 8) == 0; }
/** ::1 */
@inline export function IN6_IS_ADDR_LOOPBACK(a: usize): bool { return load<u64>(a) == 0 && load<u64>(a, 8) == 0x0100000000000000; }
@inline export function IN6_IS_ADDR_MULTICAST(a: usize): bool { return load<u8>(a) == 0xff; }
/** fe80::/10 */
@inline export function IN6_IS_ADDR_LINKLOCAL(a: usize): bool { return load<u8>(a) == 0xfe && (load<u8>(a + 1) & 0xc0) == 0x80; }
/** ::ffff:0:0/96 (never on the wire, RFC 4038 / FreeBSD ip6_input) */
@inline export function IN6_IS_ADDR_V4MAPPED(a: usize): bool { return load<u64>(a) == 0 && load<u32>(a, 8) == 0xffff0000; }
/** The multicast scope nibble (RFC 4291 2.7). */
@inline export function IN6_MC_SCOPE(a: usize): u8 { return load<u8>(a + 1) & 0xf; }
export const IPV6_SCOPE_INTFACELOCAL: u8 = 1;
export const IPV6_SCOPE_LINKLOCAL: u8 = 2;

/** True when a and b agree on their first plen bits. */
export function in6_prefix_match(a: usize, b: usize, plen: u32): bool {
  let i: u32 = 0;
  for (; plen >= 32; plen -= 32, i += 4) if (load<u32>(a + i) != load<u32>(b + i)) return false;
  if (plen == 0) return true;
  const m: u32 = 0xffffffff << (32 - plen);
  return ((bswap<u32>(load<u32>(a + i)) ^ bswap<u32>(load<u32>(b + i))) & m) == 0;
}

/** Clear the bits of a past plen (in place). */
export function in6_mask(a: usize, plen: u32): void {
  for (let i: u32 = 0; i < 16; i += 4) {
    const keep = plen >= i * 8 + 32 ? 32 : plen > i * 8 ? plen - i * 8 : 0;
    const m: u32 = keep == 0 ? 0 : keep == 32 ? 0xffffffff : 0xffffffff << (32 - keep);
    store<u32>(a + i, bswap<u32>(bswap<u32>(load<u32>(a + i)) & m));
  }
}

/** Leading bits a and b share (0-128): source selection's longest match (RFC 6724 rule 8). */
export function in6_matchlen(a: usize, b: usize): u32 {
  for (let i: u32 = 0; i < 16; i += 4) {
    const x = bswap<u32>(load<u32>(a + i)) ^ bswap<u32>(load<u32>(b + i));
    if (x != 0) return i * 8 + <u32>clz<u32>(x);
  }
  return 128;
}

/** The solicited-node group of a (ff02::1:ffXX:XXXX, RFC 4291 2.7.1) into d. */
export function in6_solicited(d: usize, a: usize): void {
  store<u64>(d, 0x02ff); // ff02:0:0:0
  store<u32>(d + 8, 0x01000000); // 0:1
  store<u8>(d + 12, 0xff);
  store<u8>(d + 13, load<u8>(a + 13));
  store<u16>(d + 14, load<u16>(a + 14));
}

/** d is a's solicited-node group. */
export function in6_is_solicited(d: usize, a: usize): bool {
  return load<u64>(d) == 0x02ff && load<u32>(d + 8) == 0x01000000 && load<u8>(d + 12) == 0xff &&
    load<u8>(d + 13) == load<u8>(a + 13) && load<u16>(d + 14) == load<u16>(a + 14);
}

/** ff02::1 (all nodes, link scope) */
@inline export function IN6_IS_ALLNODES_LL(a: usize): bool { return load<u64>(a) == 0x02ff && load<u64>(a, 8) == 0x0100000000000000; }
/** ff02::2, all routers on the link. */
@inline export function IN6_IS_ALLROUTERS_LL(a: usize): bool { return load<u64>(a) == 0x02ff && load<u64>(a, 8) == 0x0200000000000000; }
/** ff01::1 (all nodes, interface scope) */
@inline export function IN6_IS_ALLNODES_IL(a: usize): bool { return load<u64>(a) == 0x01ff && load<u64>(a, 8) == 0x0100000000000000; }

/** The Ethernet address of multicast group a: 33:33 and its last 32 bits (RFC 2464 7). */
export function in6_mcast_mac(d: usize, a: usize): void {
  store<u8>(d, 0x33);
  store<u8>(d + 1, 0x33);
  store<u32>(d + 2, load<u32>(a + 12));
}

// ---------------------------------------------------------------------------------------
// ICMPv6 (RFC 4443) and Neighbor Discovery (RFC 4861)

export const ICMP6_DST_UNREACH: u8 = 1;
export const ICMP6_PACKET_TOO_BIG: u8 = 2;
export const ICMP6_TIME_EXCEEDED: u8 = 3;
export const ICMP6_PARAM_PROB: u8 = 4;
export const ICMP6_ECHO_REQUEST: u8 = 128;
export const ICMP6_ECHO_REPLY: u8 = 129;
export const ND_ROUTER_SOLICIT: u8 = 133;
export const ND_ROUTER_ADVERT: u8 = 134;
export const ND_NEIGHBOR_SOLICIT: u8 = 135;
export const ND_NEIGHBOR_ADVERT: u8 = 136;
export const ND_REDIRECT: u8 = 137;

export const ICMP6_DST_UNREACH_NOROUTE: u8 = 0;
export const ICMP6_DST_UNREACH_ADMIN: u8 = 1;
export const ICMP6_DST_UNREACH_BEYONDSCOPE: u8 = 2;
export const ICMP6_DST_UNREACH_ADDR: u8 = 3;
export const ICMP6_DST_UNREACH_NOPORT: u8 = 4;
export const ICMP6_TIME_EXCEED_TRANSIT: u8 = 0;
export const ICMP6_TIME_EXCEED_REASSEMBLY: u8 = 1;
export const ICMP6_PARAMPROB_HEADER: u8 = 0;
export const ICMP6_PARAMPROB_NEXTHEADER: u8 = 1;
export const ICMP6_PARAMPROB_OPTION: u8 = 2;

export const ICMP6_HDR_LEN: u32 = 8;
export const ICMP6_TYPE: usize = 0;
export const ICMP6_CODE: usize = 1;
export const ICMP6_CKSUM: usize = 2;
export const ICMP6_DATA: usize = 4; // id/seq (echo), MTU (too big), pointer (param prob)

@inline export function ICMP6_IS_ERROR(t: u8): bool { return t < 128; }

// ND messages: ICMPv6 header (4) + flags/reserved (4) + target (16), then options.
export const ND_MSG_LEN: u32 = 24;
export const ND_TARGET: usize = 8;
export const ND_NA_FLAG_ROUTER: u8 = 0x80;
export const ND_NA_FLAG_SOLICITED: u8 = 0x40;
export const ND_NA_FLAG_OVERRIDE: u8 = 0x20;
export const ND_OPT_SOURCE_LINKADDR: u8 = 1;
export const ND_OPT_TARGET_LINKADDR: u8 = 2;
export const ND_OPT_PREFIX_INFORMATION: u8 = 3; // RFC 4861 4.6.2: 32 bytes
export const ND_OPT_MTU: u8 = 5; // RFC 4861 4.6.4: 8 bytes
export const ND_OPT_PI_FLAG_ONLINK: u8 = 0x80;
export const ND_OPT_PI_FLAG_AUTO: u8 = 0x40;
// RFC 4861 4.1, 4.2: router solicitation (8 bytes) and advertisement (16 bytes) before their options
export const ND_RS_LEN: u32 = 8;
export const ND_RA_LEN: u32 = 16;
export const ND_RA_CURHOPLIMIT: usize = 4;
export const ND_RA_FLAGS: usize = 5;
export const ND_RA_ROUTER_LIFETIME: usize = 6; // u16, seconds
export const ND_RA_REACHABLE: usize = 8; // u32, ms
export const ND_RA_RETRANSMIT: usize = 12; // u32, ms
