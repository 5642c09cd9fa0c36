// The inet module's shared state (FreeBSD netinet/ip_var.h, in_var.h, icmp_var.h,
// if_ether.h): the per-vnet block every file of the module reaches through V(), the
// netstat -s counters, the structures kept in the module's zones, and the knobs.
//
// Per-vnet block (one vnet_data_alloc, VNET_DEFINE style):
//   [0, INETV_SIZE)         struct InetVnet (lists, route cache, knobs, rate limiter)
//   IPSTAT_OFF              ipstat   (IPS_COUNT u64)
//   ICMPSTAT_OFF            icmpstat (ICPS_COUNT u64: fixed counters, then in/out histograms)
//   ARPSTAT_OFF             arpstat  (ARPS_COUNT u64)
//   ARPHASH_OFF             ARP cache hash heads (ARP_HASH_SIZE pointers)
//   ARPLLT_OFF              the ARP cache's bound and eviction lists (sys/llatbl.ts Llt)

import { VNET, VNET_VNET, CALLOUT_SIZE } from "../kmod/kapi";
import { LltNode, LLT_SIZE } from "../sys/llatbl";

// ---------------------------------------------------------------------------------------
// ipstat (FreeBSD struct ipstat names)
export const IPS_TOTAL: u32 = 0; // packets received
export const IPS_BADSUM: u32 = 1; // header checksum wrong
export const IPS_TOOSHORT: u32 = 2; // frame shorter than ip_len
export const IPS_TOOSMALL: u32 = 3; // not enough data for a header (or a bad fragment length)
export const IPS_BADHLEN: u32 = 4; // IHL < 5 or past the data
export const IPS_BADLEN: u32 = 5; // ip_len < IHL
export const IPS_FRAGMENTS: u32 = 6; // fragments received
export const IPS_FRAGDROPPED: u32 = 7; // fragments dropped (duplicates, overlaps, limits)
export const IPS_FRAGTIMEOUT: u32 = 8; // fragments dropped at the reassembly timeout
export const IPS_FORWARD: u32 = 9; // packets forwarded
export const IPS_CANTFORWARD: u32 = 10; // not for us and not forwardable (host, martian, broadcast)
export const IPS_NOPROTO: u32 = 11; // no handler for the protocol
export const IPS_DELIVERED: u32 = 12; // handed to an upper protocol
export const IPS_LOCALOUT: u32 = 13; // packets this host generated
export const IPS_ODROPPED: u32 = 14; // output dropped (no memory, interface down, ARP queue)
export const IPS_REASSEMBLED: u32 = 15; // datagrams reassembled
export const IPS_FRAGMENTED: u32 = 16; // datagrams fragmented on output
export const IPS_OFRAGMENTS: u32 = 17; // fragments sent
export const IPS_CANTFRAG: u32 = 18; // DF set and larger than the MTU
export const IPS_BADOPTIONS: u32 = 19; // malformed options, or source routing (refused)
export const IPS_NOROUTE: u32 = 20; // no route to the destination
export const IPS_BADVERS: u32 = 21; // version not 4
export const IPS_RAWOUT: u32 = 22; // packets sent with a header built by the caller
export const IPS_TOOLONG: u32 = 23; // fragment or reassembled datagram (first fragment's header + end) over 65535
export const IPS_NOTMEMBER: u32 = 24; // multicast to a group we are not in
export const IPS_BADADDR: u32 = 25; // martian source or destination (RFC 1122 3.2.1.3)
export const IPS_SWCSUM: u32 = 26; // transport checksums left to an interface, computed in software after all
export const IPS_GSO: u32 = 27; // segments cut in software from large (TSO) packets
export const IPS_FASTFORWARD: u32 = 28; // of IPS_FORWARD, those with no IP options (FreeBSD's ip_tryforward path)
export const IPS_COUNT: u32 = 29;

// icmpstat (FreeBSD struct icmpstat names; then the histograms by type)
export const ICPS_ERROR: u32 = 0; // icmp_error calls
export const ICPS_OLDICMP: u32 = 1; // no error: the packet was an ICMP error
export const ICPS_BADCODE: u32 = 2; // code out of range
export const ICPS_TOOSHORT: u32 = 3; // shorter than an ICMP header
export const ICPS_CHECKSUM: u32 = 4; // bad checksum
export const ICPS_BADLEN: u32 = 5; // an error too short to hold the quoted header
export const ICPS_REFLECT: u32 = 6; // replies sent
export const ICPS_BMCASTECHO: u32 = 7; // echo requests to broadcast/multicast, ignored
export const ICPS_BADADDR: u32 = 8; // reply to a bad address refused
export const ICPS_NOROUTE: u32 = 9; // no route back
export const ICPS_RATELIMIT: u32 = 10; // errors suppressed by net.inet.icmp.icmplim
export const ICPS_NOERROR: u32 = 11; // errors not sent: fragment, broadcast, bad source (RFC 1122 3.2.2)
export const ICPS_BMCASTTSTAMP: u32 = 12; // timestamp requests to broadcast/multicast, ignored
export const ICPS_FIXED: u32 = 13;
export const ICMP_HIST: u32 = 19; // types 0..18
export const ICPS_INHIST: u32 = ICPS_FIXED;
export const ICPS_OUTHIST: u32 = ICPS_FIXED + ICMP_HIST;
export const ICPS_COUNT: u32 = ICPS_FIXED + 2 * ICMP_HIST;

// arpstat (FreeBSD struct arpstat names first)
export const ARPS_TXREQUESTS: u32 = 0;
export const ARPS_TXREPLIES: u32 = 1;
export const ARPS_RXREQUESTS: u32 = 2;
export const ARPS_RXREPLIES: u32 = 3;
export const ARPS_RECEIVED: u32 = 4;
export const ARPS_DROPPED: u32 = 5; // packets dropped waiting for resolution (queue full, gave up)
export const ARPS_TIMEOUTS: u32 = 6; // entries expired (max_age)
export const ARPS_DUPIPS: u32 = 7; // someone else uses one of our addresses
export const ARPS_TOOSHORT: u32 = 8; // shorter than an Ethernet/IPv4 ARP packet
export const ARPS_BADHRD: u32 = 9; // hardware type not Ethernet
export const ARPS_BADPRO: u32 = 10; // protocol type not IPv4
export const ARPS_BADLEN: u32 = 11; // hardware or protocol address length wrong
export const ARPS_BADOP: u32 = 12; // opcode neither request nor reply
export const ARPS_BADSENDER: u32 = 13; // sender MAC broadcast, multicast or zero; sender IP martian
export const ARPS_LOOPED: u32 = 14; // our own MAC as sender
export const ARPS_GIVEUPS: u32 = 15; // resolutions abandoned after arp_maxtries requests
export const ARPS_EVICTED: u32 = 16; // entries evicted to make room (sys/llatbl.ts)
export const ARPS_TABLEFULL: u32 = 17; // entries not made: the table full of what may not go
export const ARPS_COUNT: u32 = 18;

// ---------------------------------------------------------------------------------------
// Knobs (FreeBSD sysctl names and defaults where they exist)
export const IPFRAGTTL_US: u64 = 30_000_000; // reassembly timeout (30 s)
// Reassembly limits per vnet (ip_reass.ts). FreeBSD's maxfragpackets is nmbclusters / 32;
// a vnet's cluster limit is MBUF_VNET_CLUSTERS (16,384) here, so 512.
export const IP_MAXFRAGPACKETS: i32 = 512; // net.inet.ip.maxfragpackets: datagrams being reassembled
export const IP_MAXFRAGSPERPACKET: i32 = 64; // net.inet.ip.maxfragsperpacket (FreeBSD 16: too few for 64 KiB at 1500)
export const IP_MAXFRAGQ_ZONE: u32 = 1024; // the ipq zone's per-vnet limit: the most maxfragpackets can mean
export const IP_MAXFRAGBYTES: u32 = 1 << 20; // bytes held for reassembly per vnet
export const ARP_MAXAGE_US: u64 = 1_200_000_000; // net.link.ether.inet.max_age 1200 s
export const ARP_RETRANS_US: u64 = 1_000_000; // one request a second while unresolved
export const ARP_MAXTRIES: u32 = 5; // net.link.ether.inet.maxtries
export const ARP_MAXHOLD: u32 = 16; // net.link.ether.inet.maxhold
export const ICMPLIM_DEFAULT: u32 = 200; // net.inet.icmp.icmplim, errors per second
export const MAX_LINKHDR: i32 = 16; // room reserved for the link header (Ethernet 14, aligned)

// ip_output flags (FreeBSD ip_var.h values where they exist)
export const IP_FORWARDING: u32 = 0x1; // the packet is being forwarded (header is there)
export const IP_RAWOUTPUT: u32 = 0x2; // the caller built the header
export const IP_ROUTETOIF: u32 = 0x10; // SO_DONTROUTE: only directly connected destinations
export const IP_ALLOWBROADCAST: u32 = 0x20; // SO_BROADCAST: broadcast destinations allowed
export const IP_DONTFRAG: u32 = 0x4000; // set DF (the header bit's own value)

// Errnos ip_output returns (negated), FreeBSD values.
export const EACCES: i32 = 13;
export const EMSGSIZE: i32 = 40;
export const EADDRNOTAVAIL: i32 = 49;
export const ENETDOWN: i32 = 50;
export const ENETUNREACH: i32 = 51;
export const EHOSTUNREACH: i32 = 65;
export const ENOBUFS: i32 = 55;

// ---------------------------------------------------------------------------------------
// Structures (zone items; every one is charged to the vnet it belongs to)

/** struct in_ifaddr: one IPv4 address of an interface. */
@unmanaged export class InIfaddr {
  ia_next: usize; // the vnet's address list
  ia_ifnext: usize; // the interface's list (head in ifp.if_afdata0)
  ia_ifp: usize;
  ia_addr: u32;
  ia_mask: u32;
  ia_plen: u32;
  ia_subnet: u32; // ia_addr & ia_mask
  ia_broadaddr: u32; // 0 on interfaces without broadcast
  ia_magic: u32;
  ia_garp_count: u32; // gratuitous ARPs repeated so far (net.link.ether.inet.garp_rexmit_count)
  // then the repeat's callout at IA_CALLOUT
}
export const IA_MAGIC: u32 = 0x49414452; // "IADR"
export const IA_CALLOUT: usize = (offsetof<InIfaddr>() + 7) & ~7;
export const IA_SIZE: u32 = <u32>(IA_CALLOUT + CALLOUT_SIZE);
/** The most net.link.ether.inet.garp_rexmit_count may be (FreeBSD's bound). */
export const GARP_REXMIT_MAX: u32 = 16;

// rt_flags (FreeBSD route.h values)
export const RTF_UP: u32 = 0x1;
export const RTF_GATEWAY: u32 = 0x2;
export const RTF_HOST: u32 = 0x4;
export const RTF_DYNAMIC: u32 = 0x10; // made by an ICMP redirect
export const RTF_STATIC: u32 = 0x800;
export const RTF_BLACKHOLE: u32 = 0x1000; // discard packets (route add -blackhole): silently, counted when forwarded
export const RTF_PINNED: u32 = 0x100000; // connected (interface) route of an address: not removable by hand

/** A route: destination prefix, next hop, outgoing interface and the address used as source. */
@unmanaged export class Rtentry {
  rt_next: usize; // every route of the vnet, in insertion order (the lookup is net/route.ts's)
  rt_prev: usize;
  rt_dst: u32;
  rt_mask: u32;
  rt_plen: u32;
  rt_flags: u32;
  rt_gateway: u32; // 0 for interface routes: the destination itself is the next hop
  rt_ifp: usize;
  rt_ifa: usize; // the InIfaddr the route depends on (source address)
  rt_weight: u32; // its share of its prefix's traffic when the prefix has several paths (route add -weight); in rt_use's alignment gap, so the entry stays 48 bytes
  rt_use: u64; // packets sent through it
}

// ARP entry states
export const LLE_INCOMPLETE: u32 = 1; // asked, no answer yet; packets wait in the hold queue
export const LLE_REACHABLE: u32 = 2; // resolved, valid until la_expire
export const LLE_STATIC: u32 = 3; // arp -s: permanent, never changed by what arrives

/** struct llentry: one ARP cache entry, keyed by (interface, IPv4 address). */
@unmanaged export class Llentry {
  la_next: usize; // hash chain
  la_ifp: usize;
  la_addr: u32;
  la_state: u32;
  la_mac_lo: u32; // MAC bytes 0-3 (wire order in memory)
  la_mac_hi: u32; // MAC bytes 4-5
  la_asked: u32; // requests sent for this resolution
  la_numheld: u32;
  la_hold: usize; // packets waiting (m_nextpkt list), oldest first
  la_hold_tail: usize;
  la_expire: u64; // kernel time it stops being valid (REACHABLE)
  la_hits: u64;
  la_lru_prev: usize; // an LltNode (sys/llatbl.ts): class list, eviction order
  la_lru_next: usize;
  la_lru_cls: u32;
  la_lru_spare: u32;
  la_lru_stamp: u64;
  // then the callout at LLE_CALLOUT
}
/** Where an Llentry's sys/llatbl.ts node starts. */
export const LLE_LRU: usize = offsetof<Llentry>("la_lru_prev");
if (offsetof<Llentry>("la_lru_stamp") - LLE_LRU != offsetof<LltNode>("stamp")) ERROR("Llentry: the LltNode fields are out of line");
export const LLE_CALLOUT: usize = (offsetof<Llentry>() + 7) & ~7;
export const LLE_SIZE: u32 = <u32>(LLE_CALLOUT + CALLOUT_SIZE);

/** A datagram being reassembled (struct ipq), keyed (src, dst, id, proto). */
@unmanaged export class Ipq {
  ipq_next: usize; // next, prev first: net/tailq.ts
  ipq_prev: usize;
  ipq_src: u32;
  ipq_dst: u32;
  ipq_id: u32;
  ipq_p: u32;
  ipq_nfrags: u32;
  ipq_bytes: u32; // payload bytes held
  ipq_total: u32; // payload length once the last fragment (MF clear) came; 0 = unknown
  ipq_frags: usize; // fragments (m_nextpkt), ordered by offset; offset in ph_flowid, end in ph_csum_data
  ipq_ecn: u32; // ECN codepoint of the fragment that made the queue; CE once a CE fragment joined (RFC 3168 5.3)
  // then the callout at IPQ_CALLOUT
}
export const IPQ_CALLOUT: usize = (offsetof<Ipq>() + 7) & ~7;
export const IPQ_SIZE: u32 = <u32>(IPQ_CALLOUT + CALLOUT_SIZE);

/** The per-vnet part of the module (at offset 0 of its VNET space). */
@unmanaged export class InetVnet {
  ia_head: usize; // every address of the vnet
  ia_count: u32;
  rt_head: usize; // every route, in insertion order (rt_fill lists them longest prefix first)
  rt_tail: usize;
  rt_count: u32;
  rt_tab_root: usize; // struct rtable (net/route.ts, RTABLE_SIZE bytes): the longest-prefix-match table
  rt_tab_routes: u32;
  rt_tab_head: usize; // binary trie node count, lookup trie root (net/route.ts)
  rt_tab_gen: u32; // bumped on every change: invalidates the lookup cache
  rc_dst: u32; // one-entry lookup cache
  rc_rt: usize;
  rc_gen: u32;
  forwarding: u32; // net.inet.ip.forwarding
  ip_id: u32; // next IP id (random start)
  icmplim: u32; // net.inet.icmp.icmplim (errors/s, 0 = no limit)
  tstamprepl: u32; // net.inet.icmp.tstamprepl (answer timestamp requests; default 1)
  garp_rexmit_count: u32; // net.link.ether.inet.garp_rexmit_count (repeats of a new address's gratuitous ARP; default 0)
  icmp_credit: u64; // icmp_error's bucket (net/ratelimit.ts): credit then last, in that order
  icmp_last: u64;
  ipq_head: usize; // datagrams being reassembled, least recently fed first; head, tail, count in net/tailq.ts's order
  ipq_tail: usize;
  ipq_count: u32;
  ipq_bytes: u32;
  maxfragpackets: i32; // net.inet.ip.maxfragpackets (-1: up to the zone's limit)
  maxfragbucketsize: i32; // net.inet.ip.maxfragbucketsize (one bucket per vnet)
  maxfragsperpacket: i32; // net.inet.ip.maxfragsperpacket
  ping_log: usize; // echo reply/error log page, made by the first ping from this vnet
  up: u32; // 1 between the vnet init and uninit
}
if (offsetof<InetVnet>("icmp_last") != offsetof<InetVnet>("icmp_credit") + 8) ERROR("InetVnet: the rate limiter's bucket fields moved apart");

export const INETV_SIZE: u32 = <u32>((offsetof<InetVnet>() + 7) & ~7);
export const IPSTAT_OFF: u32 = INETV_SIZE;
export const ICMPSTAT_OFF: u32 = IPSTAT_OFF + IPS_COUNT * 8;
export const ARPSTAT_OFF: u32 = ICMPSTAT_OFF + ICPS_COUNT * 8;
export const ARP_HASH_SIZE: u32 = 64;
export const ARPHASH_OFF: u32 = ARPSTAT_OFF + ARPS_COUNT * 8;
export const ARPLLT_OFF: u32 = (ARPHASH_OFF + ARP_HASH_SIZE * 4 + 7) & ~7;
export const INET_VNET_SIZE: u32 = ARPLLT_OFF + LLT_SIZE;

// ---------------------------------------------------------------------------------------
// Module globals shared by the files (set by inet.ts at MOD_LOAD)

export class InetGlobals {
  static voff: u32 = 0; // this module's VNET offset
  static iaZone: usize = 0;
  static rtZone: usize = 0;
  static lleZone: usize = 0;
  static ipqZone: usize = 0;
}

/** The current vnet's InetVnet. */
@inline export function V(): InetVnet {
  return changetype<InetVnet>(VNET(InetGlobals.voff));
}

/** The current vnet's IPv4 route table (struct rtable). */
@inline export function rtab(): usize {
  return VNET(InetGlobals.voff) + offsetof<InetVnet>("rt_tab_root");
}

@inline export function Vbase(): usize {
  return VNET(InetGlobals.voff);
}

@inline export function VV(v: usize): usize {
  return VNET_VNET(v, InetGlobals.voff);
}

@inline export function IPSTAT_INC(i: u32): void {
  const p = VNET(InetGlobals.voff + IPSTAT_OFF) + (<usize>i << 3);
  store<u64>(p, load<u64>(p) + 1);
}

@inline export function IPSTAT_ADD(i: u32, n: u64): void {
  const p = VNET(InetGlobals.voff + IPSTAT_OFF) + (<usize>i << 3);
  store<u64>(p, load<u64>(p) + n);
}

@inline export function ICMPSTAT_INC(i: u32): void {
  const p = VNET(InetGlobals.voff + ICMPSTAT_OFF) + (<usize>i << 3);
  store<u64>(p, load<u64>(p) + 1);
}

@inline export function ARPSTAT_INC(i: u32): void {
  const p = VNET(InetGlobals.voff + ARPSTAT_OFF) + (<usize>i << 3);
  store<u64>(p, load<u64>(p) + 1);
}

@inline export function ARPSTAT_ADD(i: u32, n: u64): void {
  const p = VNET(InetGlobals.voff + ARPSTAT_OFF) + (<usize>i << 3);
  store<u64>(p, load<u64>(p) + n);
}
