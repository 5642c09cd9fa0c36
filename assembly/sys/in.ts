// IPv4 wire formats and constants (FreeBSD netinet/in.h, ip.h, ip_icmp.h, udp.h): the
// packet views every IPv4 module includes. Addresses inside the kernel are u32 in HOST
// byte order (10.0.0.1 = 0x0a000001); on the wire they are network order, so every read
// or write of a header field goes through the accessors here (they swap bytes).
//
// A view is a pointer to the first byte of the header in contiguous memory (after
// m_pullup); `*_check` functions validate what a view may read before anything reads it.

export const IPVERSION: u8 = 4;
export const IP_MAXPACKET: u32 = 65535;
export const IP_HDR_MIN: u32 = 20;
export const IP_HDR_MAX: u32 = 60;
export const IP_DEFAULT_TTL: u8 = 64;

// ip_off
export const IP_RF: u16 = 0x8000; // reserved, must be zero
export const IP_DF: u16 = 0x4000;
export const IP_MF: u16 = 0x2000;
export const IP_OFFMASK: u16 = 0x1fff;

// Protocol numbers (IANA)
export const IPPROTO_ICMP: u8 = 1;
export const IPPROTO_TCP: u8 = 6;
export const IPPROTO_UDP: u8 = 17;

// The inet module's entry table for upper protocols, the sibling of sys/in6.ts IN6API_*:
// registered with the kernel by domain_af_register(AF_INET, table) while inet is loaded,
// each entry a table slot. Transports find it with domain_af_api(AF_INET) and never import
// inet, so they load in a NOINET kernel too. Addresses are u32, host order. inet hands a
// protocol's input only datagrams for one of our addresses or a broadcast, and marks a
// broadcast destination (limited or subnet-directed) M_BCAST (ip_input), so a protocol needs
// no call back into inet to tell unicast from broadcast.
export const INAPI_OUTPUT: usize = 0; // ip_output(m, src, dst, proto, ttl, tos, flags, ifp): i32 (owns m)
export const INAPI_SELECTSRC: usize = 4; // in_selectsrc(dst): u32 (0: no route)
export const INAPI_RTMTU: usize = 8; // in_rtmtu(dst): u32 (0: no route)
export const INAPI_RTTSO: usize = 12; // in_rttso(dst): u32 (largest TSO packet, 0: none)
export const INAPI_LOCALIP: usize = 16; // in_localip(a): bool
export const INAPI_BROADCAST: usize = 20; // in_broadcast(a, ifp): bool
export const INAPI_PROTO_REGISTER: usize = 24; // ipproto_register(proto, input, ctlinput): i32
export const INAPI_PROTO_UNREGISTER: usize = 28; // ipproto_unregister(proto): i32
export const INAPI_ERROR: usize = 32; // icmp_error(m, type, code, arg): void (owns m)
export const INAPI_SIZE: u32 = 36;

// Header field offsets
export const IP_VHL: usize = 0;
export const IP_TOS: usize = 1;
export const IP_LEN: usize = 2;
export const IP_ID: usize = 4;
export const IP_OFF: usize = 6;
export const IP_TTL: usize = 8;
export const IP_P: usize = 9;
export const IP_SUM: usize = 10;
export const IP_SRC: usize = 12;
export const IP_DST: usize = 16;

@inline export function ip_v(ip: usize): u8 { return load<u8>(ip + IP_VHL) >> 4; }
@inline export function ip_hl(ip: usize): u32 { return (<u32>load<u8>(ip + IP_VHL) & 0xf) << 2; }
@inline export function ip_len(ip: usize): u32 { return <u32>bswap<u16>(load<u16>(ip + IP_LEN)); }
@inline export function ip_id(ip: usize): u16 { return bswap<u16>(load<u16>(ip + IP_ID)); }
@inline export function ip_off(ip: usize): u16 { return bswap<u16>(load<u16>(ip + IP_OFF)); }
@inline export function ip_ttl(ip: usize): u8 { return load<u8>(ip + IP_TTL); }
@inline export function ip_p(ip: usize): u8 { return load<u8>(ip + IP_P); }
@inline export function ip_src(ip: usize): u32 { return bswap<u32>(load<u32>(ip + IP_SRC)); }
@inline export function ip_dst(ip: usize): u32 { return bswap<u32>(load<u32>(ip + IP_DST)); }
@inline export function ip_set_len(ip: usize, v: u32): void { store<u16>(ip + IP_LEN, bswap<u16>(<u16>v)); }
@inline export function ip_set_id(ip: usize, v: u16): void { store<u16>(ip + IP_ID, bswap<u16>(v)); }
@inline export function ip_set_off(ip: usize, v: u16): void { store<u16>(ip + IP_OFF, bswap<u16>(v)); }
@inline export function ip_set_src(ip: usize, a: u32): void { store<u32>(ip + IP_SRC, bswap<u32>(a)); }
@inline export function ip_set_dst(ip: usize, a: u32): void { store<u32>(ip + IP_DST, bswap<u32>(a)); }

// ICMP (RFC 792)
export const ICMP_ECHOREPLY: u8 = 0;
export const ICMP_UNREACH: u8 = 3;
export const ICMP_UNREACH_NET: u8 = 0;
export const ICMP_UNREACH_HOST: u8 = 1;
export const ICMP_UNREACH_PROTOCOL: u8 = 2;
export const ICMP_UNREACH_PORT: u8 = 3;
export const ICMP_UNREACH_NEEDFRAG: u8 = 4;
export const ICMP_ECHO: u8 = 8;
export const ICMP_TIMXCEED: u8 = 11;
export const ICMP_TIMXCEED_INTRANS: u8 = 0;
export const ICMP_TIMXCEED_REASS: u8 = 1;
export const ICMP_PARAMPROB: u8 = 12;
export const ICMP_MINLEN: u32 = 8;

// UDP (RFC 768)
export const UDP_HDR_LEN: u32 = 8;
export const UH_SPORT: usize = 0;
export const UH_DPORT: usize = 2;
export const UH_ULEN: usize = 4;
export const UH_SUM: usize = 6;

// Well-known addresses (host order)
export const INADDR_ANY: u32 = 0x00000000;
export const INADDR_BROADCAST: u32 = 0xffffffff;
export const INADDR_LOOPBACK: u32 = 0x7f000001;

@inline export function IN_MULTICAST(a: u32): bool { return (a & 0xf0000000) == 0xe0000000; }
@inline export function IN_LOOPBACK(a: u32): bool { return (a & 0xff000000) == 0x7f000000; }
@inline export function IN_ZERONET(a: u32): bool { return (a & 0xff000000) == 0; }
@inline export function IN_EXPERIMENTAL(a: u32): bool { return (a & 0xf0000000) == 0xf0000000; }

/** Netmask of a prefix length (0-32), host order. */
@inline export function in_plen2mask(plen: u32): u32 {
  return plen == 0 ? 0 : <u32>(0xffffffff << (32 - plen));
}

// ARP (RFC 826) over Ethernet
export const ARPHRD_ETHER: u16 = 1;
export const ARPOP_REQUEST: u16 = 1;
export const ARPOP_REPLY: u16 = 2;
export const ARP_ETHER_IP_LEN: u32 = 28;

// More ICMP types and codes (RFC 792, RFC 1812 5.2.7.1)
export const ICMP_UNREACH_SRCFAIL: u8 = 5;
export const ICMP_UNREACH_NET_UNKNOWN: u8 = 6;
export const ICMP_UNREACH_HOST_UNKNOWN: u8 = 7;
export const ICMP_UNREACH_FILTER_PROHIB: u8 = 13;
export const ICMP_SOURCEQUENCH: u8 = 4;
export const ICMP_REDIRECT: u8 = 5;
export const ICMP_PARAMPROB_ERRATPTR: u8 = 0;
export const ICMP_TSTAMP: u8 = 13;
export const ICMP_TSTAMPREPLY: u8 = 14;
export const ICMP_MAXTYPE: u8 = 18;
/** Smallest ICMP error worth reading: header + an IP header + 8 bytes (FreeBSD ICMP_ADVLENMIN). */
export const ICMP_ADVLENMIN: u32 = 8 + 20 + 8;

// ICMP header field offsets (from the start of the ICMP header)
export const ICMP_TYPE: usize = 0;
export const ICMP_CODE: usize = 1;
export const ICMP_CKSUM: usize = 2;
export const ICMP_ID: usize = 4; // echo: identifier
export const ICMP_SEQ: usize = 6; // echo: sequence number
export const ICMP_GWADDR: usize = 4; // redirect: the new gateway
export const ICMP_NEXTMTU: usize = 6; // unreach needfrag: next-hop MTU (RFC 1191)
export const ICMP_PPTR: usize = 4; // parameter problem: pointer
export const ICMP_IP: usize = 8; // errors: the quoted IP header
export const ICMP_OTIME: usize = 8; // timestamp: originate, receive, transmit (RFC 792)
export const ICMP_RTIME: usize = 12;
export const ICMP_TTIME: usize = 16;
export const ICMP_TSLEN: u32 = 20; // a timestamp message: header + three 32-bit times

/** True for the ICMP types that report an error (never answered with another error). */
@inline export function ICMP_IS_ERROR(t: u8): bool {
  return t == ICMP_UNREACH || t == ICMP_SOURCEQUENCH || t == ICMP_REDIRECT || t == ICMP_TIMXCEED || t == ICMP_PARAMPROB;
}

// IP options (RFC 791 3.1)
export const IPOPT_EOL: u8 = 0;
export const IPOPT_NOP: u8 = 1;
export const IPOPT_RR: u8 = 7;
export const IPOPT_TS: u8 = 68;
export const IPOPT_LSRR: u8 = 131;
export const IPOPT_SSRR: u8 = 137;
export const IPOPT_SECURITY: u8 = 130;

@inline export function ip_sum(ip: usize): u16 { return bswap<u16>(load<u16>(ip + IP_SUM)); }
@inline export function ip_set_sum(ip: usize, v: u16): void { store<u16>(ip + IP_SUM, bswap<u16>(v)); }
@inline export function ip_tos(ip: usize): u8 { return load<u8>(ip + IP_TOS); }

/** Fill a 20-byte IPv4 header without options (checksum left zero). */
@inline export function ip_fill(ip: usize, tos: u8, len: u32, id: u16, off: u16, ttl: u8, p: u8, src: u32, dst: u32): void {
  store<u8>(ip + IP_VHL, 0x45);
  store<u8>(ip + IP_TOS, tos);
  ip_set_len(ip, len);
  ip_set_id(ip, id);
  ip_set_off(ip, off);
  store<u8>(ip + IP_TTL, ttl);
  store<u8>(ip + IP_P, p);
  store<u16>(ip + IP_SUM, 0);
  ip_set_src(ip, src);
  ip_set_dst(ip, dst);
}

// ARP packet over Ethernet/IPv4 (RFC 826): offsets from the start of the ARP header.
export const ARPHRD_IEEE802: u16 = 6;
export const AR_HRD: usize = 0;
export const AR_PRO: usize = 2;
export const AR_HLN: usize = 4;
export const AR_PLN: usize = 5;
export const AR_OP: usize = 6;
export const AR_SHA: usize = 8;
export const AR_SPA: usize = 14;
export const AR_THA: usize = 18;
export const AR_TPA: usize = 24;
export const ARP_HDR_MIN: u32 = 8; // the fixed part, before the addresses

@inline export function ar_hrd(a: usize): u16 { return bswap<u16>(load<u16>(a + AR_HRD)); }
@inline export function ar_pro(a: usize): u16 { return bswap<u16>(load<u16>(a + AR_PRO)); }
@inline export function ar_op(a: usize): u16 { return bswap<u16>(load<u16>(a + AR_OP)); }
/** Sender and target protocol addresses (host order; unaligned loads are fine in Wasm). */
@inline export function ar_spa(a: usize): u32 { return bswap<u32>(load<u32>(a + AR_SPA)); }
@inline export function ar_tpa(a: usize): u32 { return bswap<u32>(load<u32>(a + AR_TPA)); }
