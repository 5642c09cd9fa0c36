// The udp module's shared state (FreeBSD netinet/udp_var.h, in_pcb.h): the PCB, the
// per-vnet block every file reaches through V(), the udpstat counters and the knobs.
//
// Per-vnet block (one vnet_data_alloc, VNET_DEFINE style):
//   [0, offsetof<UdpVnet>())   struct UdpVnet (PCB list, port hash, knobs)
//   UDPSTAT_OFF                udpstat (UDPS_COUNT u64)
// The port hash (UDB_HASHSIZE heads, one kmem page charged to the vnet) is allocated when
// the vnet binds its first socket, so a vnet that never opens a UDP socket pays nothing for it.

import { VNET, VNET_VNET } from "../../kmod/kapi";

// ---------------------------------------------------------------------------------------
// udpstat (FreeBSD struct udpstat names)
export const UDPS_IPACKETS: u32 = 0; // datagrams received (every one udp_input saw)
export const UDPS_HDROPS: u32 = 1; // shorter than a UDP header
export const UDPS_BADSUM: u32 = 2; // checksum wrong
export const UDPS_NOSUM: u32 = 3; // no checksum (zero: accepted, RFC 768)
export const UDPS_BADLEN: u32 = 4; // length field < 8 or past the IP payload
export const UDPS_NOPORT: u32 = 5; // unicast for a port nobody has (ICMP port unreachable)
export const UDPS_NOPORTBCAST: u32 = 6; // broadcast/multicast for a port nobody has
export const UDPS_FULLSOCK: u32 = 7; // receive buffer full (also counted in the socket's sb_drops)
export const UDPS_OPACKETS: u32 = 8; // datagrams sent
export const UDPS_DELIVERED: u32 = 9; // copies queued on sockets (FreeBSD derives it; kept here)
export const UDPS_ODROPPED: u32 = 10; // sends ip_output refused (no route, EACCES, no buffers)
export const UDPS_COUNT: u32 = 11;

// ---------------------------------------------------------------------------------------
// Knobs (FreeBSD sysctl names and defaults)
export const IPPORT_EPHEMERALFIRST: u32 = 10000; // net.inet.ip.portrange.first
export const IPPORT_EPHEMERALLAST: u32 = 65535; // net.inet.ip.portrange.last
export const UDP_TTL_DEFAULT: u8 = 64; // net.inet.ip.ttl
export const UDP_MAXPAYLOAD: u32 = 65535 - 20 - 8; // 65507: the largest datagram IPv4 carries
export const UDB_HASHSIZE: u32 = 1024; // port hash heads: one 4 KiB page
export const UDB_HASHMASK: u32 = UDB_HASHSIZE - 1;
export const UDP_PCB_VNET_LIMIT: u32 = 65536; // PCBs per vnet (as sockets)

// IPPROTO_IP options (FreeBSD netinet/in.h values)
export const IPPROTO_IP: i32 = 0;
export const IP_TOS: i32 = 3;
export const IP_TTL: i32 = 4;
// IP_SENDSRCADDR: a sendmsg control message (struct in_addr), the source of that one datagram.
// IP_RECVDSTADDR: an option; each datagram then carries its destination address as a control
// message of the same type (FreeBSD gives both the number 7 on purpose: one buffer serves both).
export const IP_RECVDSTADDR: i32 = 7;
export const IP_SENDSRCADDR: i32 = 7;
// IPPROTO_IPV6 options (FreeBSD netinet6/in6.h values)
export const IPPROTO_IPV6: i32 = 41;
export const IPV6_V6ONLY: i32 = 27;

// ---------------------------------------------------------------------------------------

/** struct inpcb for UDP: one per socket, from the "udp_inpcb" zone, charged to the socket's vnet. */
@unmanaged export class Inpcb {
  inp_hnext: usize; // port hash chain (bucket lport & UDB_HASHMASK)
  inp_hprev: usize;
  inp_next: usize; // the vnet's PCB list
  inp_prev: usize;
  inp_socket: usize;
  inp_laddr: u32; // host order; INADDR_ANY = wildcard
  inp_faddr: u32; // connected peer; INADDR_ANY = not connected
  inp_lport: u16; // 0 = not bound
  inp_fport: u16;
  inp_flags: u32; // INP_*
  inp_ttl: u8; // IPv6: the hop limit
  inp_tos: u8;
  inp_vflag: u8; // INP_IPV4: IPv4 lookups see it (inp_laddr/inp_faddr); INP_IPV6: IPv6 ones (the 16-byte fields below)
  inp_spare: u8;
  inp_laddr6_0: u64; // IPv6 local address (network order); :: = wildcard
  inp_laddr6_1: u64;
  inp_faddr6_0: u64; // IPv6 peer; :: = not connected
  inp_faddr6_1: u64;
}
// inp_vflag (FreeBSD's values). An AF_INET socket's PCB is INP_IPV4; an AF_INET6 socket's is
// INP_IPV6PROTO with INP_IPV6, and also INP_IPV4 while IPV6_V6ONLY is off and it is unbound or
// bound to :: (dual: both families' lookups see it, with inp_laddr 0 = the IPv4 wildcard). An
// AF_INET6 socket bound or connected to a v4-mapped address (::ffff:a.b.c.d) is INP_IPV4 |
// INP_IPV6PROTO: an IPv4 PCB (inp_laddr/inp_faddr) whose addresses the socket shows mapped.
export const INP_IPV4: u8 = 0x1;
export const INP_IPV6: u8 = 0x2;
export const INP_IPV6PROTO: u8 = 0x4;
@inline export function in6p_laddr(p: usize): usize { return p + offsetof<Inpcb>("inp_laddr6_0"); }
@inline export function in6p_faddr(p: usize): usize { return p + offsetof<Inpcb>("inp_faddr6_0"); }
export const INP_INHASH: u32 = 0x1; // on the port hash
export const INP_BOUNDADDR: u32 = 0x2; // laddr was given to bind() (kept by disconnect)
export const INP_RECVDSTADDR: u32 = 0x4; // IP_RECVDSTADDR: note each datagram's destination
export const INP_IPV6_V6ONLY: u32 = 0x8; // IPV6_V6ONLY on (FreeBSD's IN6P_IPV6_V6ONLY): no IPv4 through this AF_INET6 socket

/** The per-vnet part of the module (at offset 0 of its VNET space). */
@unmanaged export class UdpVnet {
  hash: usize; // UDB_HASHSIZE chain heads, or 0 until the first bind
  list: usize; // every PCB of the vnet
  count: u32;
  portfirst: u32;
  portlast: u32;
  up: u32; // initialised (the module's init ran here)
}
export const UDPSTAT_OFF: u32 = (<u32>offsetof<UdpVnet>() + 7) & ~7;
export const UDP_VNET_SIZE: u32 = UDPSTAT_OFF + UDPS_COUNT * 8;

/** Module-global state. */
export class UdpGlobals {
  static voff: u32 = 0; // offset of the block in the VNET section
  static pcbZone: usize = 0;
  static protosw: usize = 0; // our protocol switch entry
}

/** The current vnet's block. */
@inline export function V(): UdpVnet {
  return changetype<UdpVnet>(VNET(UdpGlobals.voff));
}

/** Vnet v's block. */
@inline export function VV(v: usize): usize {
  return VNET_VNET(v, UdpGlobals.voff);
}

@inline export function UDPSTAT_INC(i: u32): void {
  const p = VNET(UdpGlobals.voff) + UDPSTAT_OFF + (<usize>i << 3);
  store<u64>(p, load<u64>(p) + 1);
}

@inline export function inp(p: usize): Inpcb {
  return changetype<Inpcb>(p);
}
