// The inet6 module's shared state (FreeBSD netinet6/ip6_var.h, in6_var.h, nd6.h,
// icmp6.h): the per-vnet block every file reaches through V6(), the netstat -s counters,
// the structures kept in the module's zones, and the knobs.
//
// Per-vnet block (one vnet_data_alloc):
//   [0, IN6V_SIZE)     struct Inet6Vnet (lists, knobs, rate limiter)
//   IP6STAT_OFF        ip6stat   (IP6S_COUNT u64)
//   ICMP6STAT_OFF      icmp6stat (ICP6S_COUNT u64: fixed counters, then in/out histograms)
//   MLDSTAT_OFF        mldstat   (MLDS_COUNT u64; mld6.ts)
//   NDHASH_OFF         neighbour cache hash heads (ND_HASH_SIZE pointers)
//   NDLLT_OFF          the neighbour cache's bound and eviction lists (sys/llatbl.ts Llt)

import { VNET, VNET_VNET, CALLOUT_SIZE } from "../kmod/kapi";
import { LltNode, LLT_SIZE } from "../sys/llatbl";

// ---------------------------------------------------------------------------------------
// ip6stat (FreeBSD struct ip6stat names; a few reasons split out so every drop has one)
export const IP6S_TOTAL: u32 = 0; // packets received
export const IP6S_TOOSHORT: u32 = 1; // frame shorter than the payload length says
export const IP6S_TOOSMALL: u32 = 2; // shorter than a header
export const IP6S_FRAGMENTS: u32 = 3; // fragments received
export const IP6S_FRAGDROPPED: u32 = 4; // fragments dropped (duplicates, overlaps, limits)
export const IP6S_FRAGTIMEOUT: u32 = 5; // fragments dropped at the reassembly timeout
export const IP6S_FRAGOVERFLOW: u32 = 6; // fragments dropped over the reassembly limits
export const IP6S_FORWARD: u32 = 7; // packets forwarded
export const IP6S_CANTFORWARD: u32 = 8; // not for us and not forwardable
export const IP6S_DELIVERED: u32 = 9; // handed to an upper protocol
export const IP6S_LOCALOUT: u32 = 10; // packets this host generated
export const IP6S_ODROPPED: u32 = 11; // output dropped (no memory, interface down, ND queue)
export const IP6S_REASSEMBLED: u32 = 12; // datagrams reassembled
export const IP6S_ATOMICFRAGS: u32 = 13; // fragment headers with offset 0 and M clear (RFC 6946)
export const IP6S_FRAGMENTED: u32 = 14; // datagrams fragmented on output
export const IP6S_OFRAGMENTS: u32 = 15; // fragments sent
export const IP6S_CANTFRAG: u32 = 16; // too big and not to be fragmented
export const IP6S_BADOPTIONS: u32 = 17; // malformed or refused options (incl. jumbo payload)
export const IP6S_NOROUTE: u32 = 18; // no route to the destination
export const IP6S_BADVERS: u32 = 19; // version not 6
export const IP6S_BADSCOPE: u32 = 20; // address out of scope (loopback on a wire, multicast source, link-local forwarded)
export const IP6S_NOTMEMBER: u32 = 21; // multicast to a group we are not in
export const IP6S_TOOMANYHDR: u32 = 22; // more extension headers than IP6_HDR_NESTLIMIT
export const IP6S_EXTHDRTOOLONG: u32 = 23; // an extension header runs past the packet
export const IP6S_NOPROTO: u32 = 24; // unknown next header (parameter problem sent)
export const IP6S_BADROUTING: u32 = 25; // routing header with segments left (RH0 refused, RFC 5095)
export const IP6S_HDRORDER: u32 = 26; // hop-by-hop options not first
export const IP6S_HLIMEXCEED: u32 = 27; // hop limit reached zero while forwarding
export const IP6S_TOOBIG: u32 = 28; // forwarded packet larger than the next link's MTU
export const IP6S_SWCSUM: u32 = 29; // transport checksums left to an interface, completed in software
export const IP6S_GSO: u32 = 30; // segments cut in software from large (TSO) packets
export const IP6S_COUNT: u32 = 31;

// icmp6stat (FreeBSD names), then the histograms by type (H_* index)
export const ICP6S_ERROR: u32 = 0; // icmp6_error calls
export const ICP6S_CANTERROR: u32 = 1; // not sent: about an error, multicast, bad source (RFC 4443 2.4 e)
export const ICP6S_TOOFREQ: u32 = 2; // not sent: rate limit (net.inet6.icmp6.errppslimit)
export const ICP6S_BADCODE: u32 = 3;
export const ICP6S_TOOSHORT: u32 = 4;
export const ICP6S_CHECKSUM: u32 = 5;
export const ICP6S_BADLEN: u32 = 6;
export const ICP6S_REFLECT: u32 = 7; // replies sent
export const ICP6S_BADNS: u32 = 8; // malformed neighbor solicitations
export const ICP6S_BADNA: u32 = 9; // malformed neighbor advertisements
export const ICP6S_NDHLIM: u32 = 10; // ND messages with a hop limit other than 255
export const ICP6S_DAD_DUP: u32 = 11; // addresses found duplicated
export const ICP6S_NOROUTE: u32 = 12; // error or reply could not be sent
export const ICP6S_BADREDIRECT: u32 = 13; // redirects refused (RFC 4861 8.1)
export const ICP6S_BADRS: u32 = 14; // router solicitations refused (RFC 4861 6.1.1)
export const ICP6S_BADRA: u32 = 15; // router advertisements refused (RFC 4861 6.1.2)
export const ICP6S_FIXED: u32 = 16;
export const ICMP6_HIST: u32 = 12;
export const ICP6S_INHIST: u32 = ICP6S_FIXED;
export const ICP6S_OUTHIST: u32 = ICP6S_FIXED + ICMP6_HIST;
export const ICP6S_COUNT: u32 = ICP6S_FIXED + 2 * ICMP6_HIST;

// nd6 counters (FreeBSD keeps these in icmp6stat and nd6 sysctls; they are a group here)
export const ND6S_NSOUT: u32 = 0;
export const ND6S_NSIN: u32 = 1;
export const ND6S_NAOUT: u32 = 2;
export const ND6S_NAIN: u32 = 3;
export const ND6S_DROPPED: u32 = 4; // packets dropped waiting for resolution
export const ND6S_GIVEUPS: u32 = 5; // resolutions abandoned after nd6_mmaxtries
export const ND6S_PROBEFAIL: u32 = 6; // reachable neighbours lost (unicast probes unanswered)
export const ND6S_GC: u32 = 7; // stale entries collected
export const ND6S_DADNS: u32 = 8; // DAD probes sent
export const ND6S_EVICTED: u32 = 9; // entries evicted to make room (sys/llatbl.ts)
export const ND6S_TABLEFULL: u32 = 10; // entries not made: the table full of what may not go
export const ND6S_RSOUT: u32 = 11; // router solicitations sent (nd6_rtr.ts)
export const ND6S_RSIN: u32 = 12; // router solicitations answered (a router's)
export const ND6S_RAOUT: u32 = 13; // router advertisements sent
export const ND6S_RAIN: u32 = 14; // router advertisements accepted (a host's)
export const ND6S_RTRFULL: u32 = 15; // a router or prefix not listed: the list at its bound
export const ND6S_COUNT: u32 = 16;

// mldstat (FreeBSD struct mldstat names, mld6.ts): what a listener heard and sent
export const MLDS_RCV_TOTAL: u32 = 0; // MLD messages received (queries and reports)
export const MLDS_RCV_TOOSHORT: u32 = 1; // shorter than their type needs
export const MLDS_RCV_BADTTL: u32 = 2; // hop limit not 1 (RFC 3810 5.1.14, 5.2.14)
export const MLDS_RCV_NORA: u32 = 3; // no router alert hop-by-hop option (RFC 3810 5)
export const MLDS_RCV_V1_QUERIES: u32 = 4; // MLDv1 (RFC 2710) queries accepted
export const MLDS_RCV_V2_QUERIES: u32 = 5; // MLDv2 queries accepted
export const MLDS_RCV_BADQUERIES: u32 = 6; // queries refused: source not link-local, group not multicast
export const MLDS_RCV_GEN_QUERIES: u32 = 7; // general queries accepted
export const MLDS_RCV_GROUP_QUERIES: u32 = 8; // group-specific (and group-and-source) queries accepted
export const MLDS_RCV_REPORTS: u32 = 9; // reports heard (a listener ignores them)
export const MLDS_RCV_BADREPORTS: u32 = 10; // reports refused: source neither link-local nor ::
export const MLDS_SND_REPORTS: u32 = 11; // reports sent (state changes, answers, leaves)
export const MLDS_SND_LEAVES: u32 = 12; // of them, the leaves (TO_IN {})
export const MLDS_COUNT: u32 = 13;

/** The histogram slot of an ICMPv6 type. */
export function icmp6_hist(t: u8): u32 {
  if (t >= 1 && t <= 4) return <u32>t - 1;
  if (t == 128) return 4;
  if (t == 129) return 5;
  if (t >= 133 && t <= 137) return <u32>t - 133 + 6;
  return 11;
}

// ---------------------------------------------------------------------------------------
// Knobs (FreeBSD sysctl names and defaults where they exist)
export const IP6_FRAGTTL_US: u64 = 60_000_000; // RFC 8200 4.5: 60 s
// Reassembly limits, per vnet (frag6.ts; docs/conformance.md says why these defaults).
// FreeBSD derives maxfrags from nmbclusters (/32); here a vnet's cluster limit is
// MBUF_VNET_CLUSTERS (16,384), so 16,384 / 32 = 512. maxfragpackets is FreeBSD's
// min(maxfrags, ...) = 512; maxfragbucketsize follows it (one list per vnet: one bucket).
// net.inet6.ip6.maxfrags: fragments held per vnet (-1: no limit). Over it a fragment is
// refused, as FreeBSD: a flood that reaches it shuts out every real fragment until the
// flood's time out. So by default it cannot bind before the datagram and per-datagram
// limits do (maxfragpackets x maxfragsperpacket), whose least-recently-fed eviction keeps a
// datagram still arriving alive (tests/frag_flood.test.ts); memory stays bounded by those,
// the 1 MiB byte limit and the vnet's mbuf limit and budget. Set it and FreeBSD's rule applies.
export const IP6_MAXFRAGS: i32 = 512 * 64;
export const IP6_MAXFRAGPACKETS: i32 = 512; // net.inet6.ip6.maxfragpackets: datagrams being reassembled
export const IP6_MAXFRAGSPERPACKET: i32 = 64; // net.inet6.ip6.maxfragsperpacket (FreeBSD's default)
export const IP6_MAXFRAGQ_ZONE: u32 = 1024; // the ip6q zone's per-vnet limit: the most maxfragpackets can mean
export const IP6_MAXFRAGBYTES: u32 = 1 << 20;
export const IP6_HDR_NESTLIMIT: u32 = 15; // extension headers walked per packet
export const ICMP6_ERRPPSLIMIT: u32 = 100; // net.inet6.icmp6.errppslimit
export const ICMP6_QUOTE_MAX: u32 = 1280 - 40 - 8; // RFC 4443 2.4 c: as much as fits 1280
// RFC 4861 10 (protocol constants)
export const ND6_REACHABLE_US: u64 = 30_000_000; // REACHABLE_TIME
export const ND6_RETRANS_US: u64 = 1_000_000; // RETRANS_TIMER
export const ND6_DELAY_US: u64 = 5_000_000; // DELAY_FIRST_PROBE_TIME
export const ND6_MMAXTRIES: u32 = 3; // MAX_MULTICAST_SOLICIT
export const ND6_UMAXTRIES: u32 = 3; // MAX_UNICAST_SOLICIT
export const ND6_GCTIMER_US: u64 = 86_400_000_000; // net.inet6.ip6.gctimer: STALE entries live a day
export const ND6_MAXHOLD: u32 = 16; // packets waiting for one resolution
export const MAX_LINKHDR: i32 = 16;

// ip6_output flags
export const IPV6_FORWARDING: u32 = 0x1; // being forwarded: header present, hop limit done
export const IPV6_REFLECT: u32 = 0x2; // header built by the caller (echo reply, ND)
export const IPV6_DONTFRAG: u32 = 0x4; // too big -> EMSGSIZE, never fragment
export const IPV6_UNSPECSRC: u32 = 0x8; // the unspecified source is meant (DAD)
export const IPV6_MINMTU: u32 = 0x10; // fragment to 1280 (ICMPv6 errors are never bigger)

// Errnos (FreeBSD values)
export const EACCES: i32 = 13;
export const EMSGSIZE: i32 = 40;
export const EADDRNOTAVAIL: i32 = 49;
export const ENETDOWN: i32 = 50;
export const ENETUNREACH: i32 = 51;
export const ENOBUFS: i32 = 55;
export const EHOSTUNREACH: i32 = 65;

// ---------------------------------------------------------------------------------------
// Structures (zone items; every one is charged to the vnet it belongs to)

// ia6_flags (FreeBSD in6_var.h values)
export const IN6_IFF_TENTATIVE: u32 = 0x02; // DAD probe not yet answered (still usable: optimistic)
export const IN6_IFF_DUPLICATED: u32 = 0x04; // another node has it: never used as a source
export const IN6_IFF_DEPRECATED: u32 = 0x10; // past its preferred lifetime: chosen as a source only when nothing else fits (RFC 4862 5.5.4)
export const IN6_IFF_AUTOCONF: u32 = 0x40; // made by the kernel (link-local from the MAC)
export const IN6_IFF_OPTIMISTIC: u32 = 0x4000; // RFC 4429

/** struct in6_ifaddr: one IPv6 address of an interface. */
@unmanaged export class In6Ifaddr {
  ia_next: usize; // the vnet's list
  ia_ifnext: usize; // the interface's list (head in ifp.if_afdata1)
  ia_ifp: usize;
  ia_plen: u32;
  ia_flags: u32;
  ia_magic: u32;
  ia_pad: u32;
  ia_addr0: u64; // the address (16 bytes, network order)
  ia_addr1: u64;
  ia_prefix0: u64; // the address masked to its prefix
  ia_prefix1: u64;
  ia_vexpire: u64; // kernel time the address goes (valid lifetime, RFC 4862 5.5.4); 0: never
  ia_pexpire: u64; // kernel time it becomes deprecated (preferred lifetime); 0: never
  // then the DAD callout at IA6_CALLOUT
}
export const IA6_MAGIC: u32 = 0x49413644; // "IA6D"
export const IA6_CALLOUT: usize = (offsetof<In6Ifaddr>() + 7) & ~7;
export const IA6_SIZE: u32 = <u32>(IA6_CALLOUT + CALLOUT_SIZE);
@inline export function ia6_addr(p: usize): usize { return p + offsetof<In6Ifaddr>("ia_addr0"); }
@inline export function ia6_prefix(p: usize): usize { return p + offsetof<In6Ifaddr>("ia_prefix0"); }

// rt_flags (FreeBSD route.h values, as in inet)
export const RTF_UP: u32 = 0x1;
export const RTF_GATEWAY: u32 = 0x2;
export const RTF_HOST: u32 = 0x4;
export const RTF_DYNAMIC: u32 = 0x10; // made by a redirect (RFC 4861 8.3)
export const RTF_STATIC: u32 = 0x800;
export const RTF_PINNED: u32 = 0x100000;

/** An IPv6 route: prefix, next hop, outgoing interface, the address it depends on. */
@unmanaged export class Rt6entry {
  rt_next: usize; // every route of the vnet, in insertion order (the lookup is net/route.ts's)
  rt_prev: usize;
  rt_dup: usize; // the next route of the same prefix out of another interface (link-local: one per zone)
  rt_plen: u32;
  rt_flags: u32;
  rt_ifp: usize;
  rt_ifa: usize; // the In6Ifaddr the route depends on (0: a static route out of an interface)
  rt_weight: u32; // its share of its prefix's traffic when the prefix has several paths
  rt_use: u64;
  rt_dst0: u64;
  rt_dst1: u64;
  rt_gw0: u64; // next hop (all zero: on-link)
  rt_gw1: u64;
}
@inline export function rt6_dst(p: usize): usize { return p + offsetof<Rt6entry>("rt_dst0"); }
@inline export function rt6_gw(p: usize): usize { return p + offsetof<Rt6entry>("rt_gw0"); }

// Neighbour cache states (RFC 4861 7.3.2; FreeBSD ND6_LLINFO_* values)
export const ND6_LLINFO_INCOMPLETE: u32 = 0;
export const ND6_LLINFO_REACHABLE: u32 = 1;
export const ND6_LLINFO_STALE: u32 = 2;
export const ND6_LLINFO_DELAY: u32 = 3;
export const ND6_LLINFO_PROBE: u32 = 4;
/** ndp -s: FreeBSD keeps such an entry REACHABLE with LLE_STATIC; here a state of its own, no timer, never changed by ND. */
export const ND6_LLINFO_PERMANENT: u32 = 5;

/** A neighbour cache entry, keyed by (interface, IPv6 address). */
@unmanaged export class Nd6entry {
  ln_next: usize; // hash chain
  ln_ifp: usize;
  ln_state: u32;
  ln_asked: u32; // solicitations sent in this state
  ln_mac_lo: u32; // MAC bytes 0-3 (wire order in memory)
  ln_mac_hi: u32;
  ln_numheld: u32;
  ln_router: u32; // the neighbour said it is a router (NA R flag)
  ln_hold: usize; // packets waiting (m_nextpkt list), oldest first
  ln_hold_tail: usize;
  ln_expire: u64; // kernel time the current state's timer fires
  ln_hits: u64;
  ln_addr0: u64;
  ln_addr1: u64;
  ln_lru_prev: usize; // an LltNode (sys/llatbl.ts): class list, eviction order
  ln_lru_next: usize;
  ln_lru_cls: u32;
  ln_lru_spare: u32;
  ln_lru_stamp: u64;
  // then the callout at ND6_CALLOUT
}
/** Where an Nd6entry's sys/llatbl.ts node starts. */
export const ND6_LRU: usize = offsetof<Nd6entry>("ln_lru_prev");
if (offsetof<Nd6entry>("ln_lru_stamp") - ND6_LRU != offsetof<LltNode>("stamp")) ERROR("Nd6entry: the LltNode fields are out of line");
export const ND6_CALLOUT: usize = (offsetof<Nd6entry>() + 7) & ~7;
export const ND6_SIZE: u32 = <u32>(ND6_CALLOUT + CALLOUT_SIZE);
@inline export function ln_addr(p: usize): usize { return p + offsetof<Nd6entry>("ln_addr0"); }
@inline export function ln_mac(p: usize): usize { return p + offsetof<Nd6entry>("ln_mac_lo"); }

// Router discovery (nd6_rtr.ts; RFC 4861 6, RFC 4862 5.5)

// ndi_flags (FreeBSD nd6.h value for ACCEPT_RTADV; ADVERTISE is rtadvd's job there)
export const ND6_IFF_ACCEPT_RTADV: u32 = 0x2; // a host interface: RAs are processed, RSs sent at up
export const ND6_IFF_NO_DAD: u32 = 0x100; // ifconfig IF inet6 no_dad: addresses added here skip DAD
export const ND6_IFF_ADVERTISE: u32 = 0x10000; // a router interface: RAs sent, RSs answered, RAs ignored
export const ND6_ADV_PREFIX_MAX: u32 = 8; // prefixes one interface advertises
export const ND6_ADV_PFX_REC: u32 = 32; // 0 prefix (16), 16 plen u8, 17 flags u8 (L 0x80, A 0x40), 20 valid s, 24 preferred s
export const ND6_MAXDEFROUTERS: u32 = 16; // default routers listed per vnet (a flood of fake routers stops here)
export const ND6_MAXPREFIXES: u32 = 64; // prefixes listed per vnet

/** Per-interface router-discovery state (FreeBSD's nd_ifinfo, plus rtadvd's per-interface configuration). */
@unmanaged export class NdIfinfo {
  ndi_next: usize;
  ndi_ifp: usize;
  ndi_flags: u32;
  ndi_linkmtu: u32; // from an RA's MTU option (0: the interface's own)
  ndi_rs_count: u32; // solicitations sent since the interface came up
  ndi_adv_count: u32; // advertisements sent since advertising began (the first few come faster)
  ndi_adv_last: u64; // kernel time of the last advertisement sent
  ndi_ra_at: u64; // kernel time the RA callout fires (an RS answer may bring it forward)
  ndi_maxint: u32; // MaxRtrAdvInterval, seconds
  ndi_minint: u32; // MinRtrAdvInterval, seconds
  ndi_lifetime: u32; // AdvDefaultLifetime, seconds
  ndi_advmtu: u32; // AdvLinkMTU (0: no MTU option)
  ndi_hlim: u32; // AdvCurHopLimit
  ndi_npfx: u32;
  // then ND6_ADV_PREFIX_MAX prefix records at NDI_PFX, the RS callout, the RA callout
}
export const NDI_PFX: usize = (offsetof<NdIfinfo>() + 7) & ~7;
export const NDI_RS_CALLOUT: usize = NDI_PFX + ND6_ADV_PREFIX_MAX * ND6_ADV_PFX_REC;
export const NDI_RA_CALLOUT: usize = NDI_RS_CALLOUT + CALLOUT_SIZE;
export const NDI_SIZE: u32 = <u32>(NDI_RA_CALLOUT + CALLOUT_SIZE);

/** A default router (RFC 4861 6.3.4), learned from an RA. */
@unmanaged export class NdDefrouter {
  dr_next: usize;
  dr_ifp: usize;
  dr_expire: u64; // kernel time its router lifetime ends
  dr_addr0: u64; // its link-local address
  dr_addr1: u64;
  // then the lifetime callout
}
export const DR_CALLOUT: usize = (offsetof<NdDefrouter>() + 7) & ~7;
export const DR_SIZE: u32 = <u32>(DR_CALLOUT + CALLOUT_SIZE);
@inline export function dr_addr(p: usize): usize { return p + offsetof<NdDefrouter>("dr_addr0"); }

// pr_flags
export const PR_ONLINK: u32 = 0x80; // the L flag was set: the prefix is on-link until pr_vexpire
export const PR_AUTO: u32 = 0x40; // the A flag was set
export const PR_ROUTE: u32 = 0x1; // we put its on-link route in (no address of the prefix held it)

/** A prefix (RFC 4861 6.3.4 prefix list; RFC 4862 5.5.3), with the address SLAAC made from it. */
@unmanaged export class NdPrefix {
  pr_next: usize;
  pr_ifp: usize;
  pr_ia: usize; // the autoconfigured In6Ifaddr (0: none)
  pr_plen: u32;
  pr_flags: u32;
  pr_vexpire: u64; // end of on-link validity (0: never)
  pr_pexpire: u64; // the advertised preferred lifetime's end (shown by ndp -p)
  pr_prefix0: u64;
  pr_prefix1: u64;
  // then the callout that runs the lifetimes of the prefix and its address
}
export const PR_CALLOUT: usize = (offsetof<NdPrefix>() + 7) & ~7;
export const PR_SIZE: u32 = <u32>(PR_CALLOUT + CALLOUT_SIZE);
@inline export function pr_prefix(p: usize): usize { return p + offsetof<NdPrefix>("pr_prefix0"); }

/** A datagram being reassembled (struct ip6q), keyed (src, dst, identification). */
@unmanaged export class Ip6q {
  q_next: usize; // next, prev first: net/tailq.ts
  q_prev: usize;
  q_ident: u32;
  q_nfrags: u32;
  q_bytes: u32; // fragmentable bytes held
  q_total: u32; // fragmentable length once the last fragment came; 0 = unknown
  q_frags: usize; // fragments (m_nextpkt) by offset; offset in ph_flowid, end in ph_csum_data
  q_ecn: u32; // ECN codepoint of the fragment that made the queue; CE once a CE fragment joined (RFC 3168 5.3)
  q_pad: u32;
  q_src0: u64;
  q_src1: u64;
  q_dst0: u64;
  q_dst1: u64;
  // then the callout at IP6Q_CALLOUT
}
export const IP6Q_CALLOUT: usize = (offsetof<Ip6q>() + 7) & ~7;
export const IP6Q_SIZE: u32 = <u32>(IP6Q_CALLOUT + CALLOUT_SIZE);
@inline export function q6_src(p: usize): usize { return p + offsetof<Ip6q>("q_src0"); }
@inline export function q6_dst(p: usize): usize { return p + offsetof<Ip6q>("q_dst0"); }

/** struct in6_multi: a group an interface listens to (mld6.ts), on the vnet's list. */
@unmanaged export class In6Multi {
  inm_next: usize;
  inm_ifp: usize;
  inm_refcount: u32; // addresses that want it (0: leaving, kept until the leave reports are out)
  inm_scrv: u32; // state-change reports still to send (RFC 3810 6.1: [Robustness Variable] in all)
  inm_sctype: u32; // the record of the pending state change: CHANGE_TO_EXCLUDE (join), CHANGE_TO_INCLUDE (leave)
  inm_qver: u32; // an answer to a query is due: 1 MLDv1 (RFC 2710), 2 MLDv2; 0 none
  inm_addr0: u64; // the group (16 bytes, network order)
  inm_addr1: u64;
  // then the state-change callout at INM_SC_CALLOUT, the query-answer callout at INM_Q_CALLOUT
}
export const INM_SC_CALLOUT: usize = (offsetof<In6Multi>() + 7) & ~7;
export const INM_Q_CALLOUT: usize = INM_SC_CALLOUT + CALLOUT_SIZE;
export const INM_SIZE: u32 = <u32>(INM_Q_CALLOUT + CALLOUT_SIZE);
@inline export function inm_addr(p: usize): usize { return p + offsetof<In6Multi>("inm_addr0"); }

/** The per-vnet part of the module (at offset 0 of its VNET space). */
@unmanaged export class Inet6Vnet {
  ia_head: usize; // every address of the vnet
  ia_count: u32;
  rt_head: usize; // every route, in insertion order (rt6_fill lists them longest prefix first)
  rt_tail: usize;
  rt_count: u32;
  rt_tab_root: usize; // struct rtable (net/route.ts, RTABLE_SIZE bytes): the longest-prefix-match table
  rt_tab_routes: u32;
  rt_tab_head: usize; // binary trie node count, lookup trie root (net/route.ts)
  rt_tab_gen: u32; // bumped on every change: invalidates the lookup cache
  rc_rt: usize; // one-entry lookup cache (lookups without a zone)
  rc_gen: u32;
  rc_dst0: u64;
  rc_dst1: u64;
  forwarding: u32; // net.inet6.ip6.forwarding
  errppslimit: u32; // net.inet6.icmp6.errppslimit (0 = no limit)
  icmp6_credit: u64; // icmp6_error's bucket (net/ratelimit.ts): credit then last, in that order
  icmp6_last: u64;
  q_head: usize; // datagrams being reassembled, least recently fed first; head, tail, count in net/tailq.ts's order
  q_tail: usize;
  q_count: u32;
  q_bytes: u32;
  frag_ident: u32; // next fragment identification (random start)
  q_nfrags: u32; // fragments held in every queue (bounded by maxfrags)
  maxfrags: i32; // net.inet6.ip6.maxfrags (-1: no limit)
  maxfragpackets: i32; // net.inet6.ip6.maxfragpackets (-1: up to the zone's limit)
  maxfragbucketsize: i32; // net.inet6.ip6.maxfragbucketsize (one bucket per vnet)
  maxfragsperpacket: i32; // net.inet6.ip6.maxfragsperpacket
  ping_log: usize; // echo reply/error log page, made by the first ping6 from this vnet
  v6only: u32; // net.inet6.ip6.v6only: IPV6_V6ONLY of a new AF_INET6 socket (1, FreeBSD's default)
  up: u32; // 1 between the vnet init and uninit
  ndi_head: usize; // NdIfinfo list: interfaces with router-discovery state (nd6_rtr.ts)
  dr_head: usize; // default router list (NdDefrouter)
  pr_head: usize; // prefix list (NdPrefix)
  dr_count: u32;
  pr_count: u32;
  ndi_mtu: u32; // interfaces whose IPv6 link MTU an RA lowered: 0 keeps in6_ifmtu one load
  accept_rtadv: u32; // net.inet6.ip6.accept_rtadv: the default for interfaces that get RD state
  inm_head: usize; // every group of every interface (In6Multi, mld6.ts)
  inm_count: u32;
}
if (offsetof<Inet6Vnet>("icmp6_last") != offsetof<Inet6Vnet>("icmp6_credit") + 8) ERROR("Inet6Vnet: the rate limiter's bucket fields moved apart");

export const IN6V_SIZE: u32 = <u32>((offsetof<Inet6Vnet>() + 7) & ~7);
export const IP6STAT_OFF: u32 = IN6V_SIZE;
export const ICMP6STAT_OFF: u32 = IP6STAT_OFF + IP6S_COUNT * 8;
export const ND6STAT_OFF: u32 = ICMP6STAT_OFF + ICP6S_COUNT * 8;
export const ND_HASH_SIZE: u32 = 64;
export const MLDSTAT_OFF: u32 = ND6STAT_OFF + ND6S_COUNT * 8;
export const NDHASH_OFF: u32 = MLDSTAT_OFF + MLDS_COUNT * 8;
export const NDLLT_OFF: u32 = (NDHASH_OFF + ND_HASH_SIZE * 4 + 7) & ~7;
export const INET6_VNET_SIZE: u32 = NDLLT_OFF + LLT_SIZE;

// ---------------------------------------------------------------------------------------
// Module globals shared by the files (set by inet6.ts at MOD_LOAD)

export class Inet6Globals {
  static voff: u32 = 0;
  static iaZone: usize = 0;
  static rtZone: usize = 0;
  static ndZone: usize = 0;
  static qZone: usize = 0;
  static ndiZone: usize = 0;
  static drZone: usize = 0;
  static prZone: usize = 0;
  static inmZone: usize = 0;
}

/** The current vnet's IPv6 route table (struct rtable). */
@inline export function rtab6(): usize {
  return VNET(Inet6Globals.voff) + offsetof<Inet6Vnet>("rt_tab_root");
}

@inline export function V6(): Inet6Vnet {
  return changetype<Inet6Vnet>(VNET(Inet6Globals.voff));
}

@inline export function VV6(v: usize): usize {
  return VNET_VNET(v, Inet6Globals.voff);
}

@inline export function IP6STAT_INC(i: u32): void {
  const p = VNET(Inet6Globals.voff + IP6STAT_OFF) + (<usize>i << 3);
  store<u64>(p, load<u64>(p) + 1);
}

@inline export function IP6STAT_ADD(i: u32, n: u64): void {
  const p = VNET(Inet6Globals.voff + IP6STAT_OFF) + (<usize>i << 3);
  store<u64>(p, load<u64>(p) + n);
}

@inline export function ICMP6STAT_INC(i: u32): void {
  const p = VNET(Inet6Globals.voff + ICMP6STAT_OFF) + (<usize>i << 3);
  store<u64>(p, load<u64>(p) + 1);
}

@inline export function MLDSTAT_INC(i: u32): void {
  const p = VNET(Inet6Globals.voff + MLDSTAT_OFF) + (<usize>i << 3);
  store<u64>(p, load<u64>(p) + 1);
}

@inline export function ND6STAT_INC(i: u32): void {
  const p = VNET(Inet6Globals.voff + ND6STAT_OFF) + (<usize>i << 3);
  store<u64>(p, load<u64>(p) + 1);
}
