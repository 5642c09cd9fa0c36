// struct mbuf: layout, flags and inline accessors (FreeBSD sys/sys/mbuf.h).
//
// The kernel and every loadable module include this file, so the layout is a contract:
// change an offset and every module must be rebuilt. The operations (m_get, m_pullup, ...)
// live in kern/uipc_mbuf.ts and are kernel exports; what is here costs no call.
//
// An mbuf is MSIZE = 256 bytes from the "mbuf" zone (wasm32: pointers are 4 bytes):
//
//     0  m_hdr     32 bytes  chain links, data pointer and length, flags, type, charged vnet
//    32  m_pkthdr  48 bytes  packet header, meaningful only with M_PKTHDR
//    80  m_ext     16 bytes  external storage, meaningful only with M_EXT
//
// As in FreeBSD, m_ext sits after m_pkthdr whether or not the mbuf has a packet header, so
// every field has one fixed offset. Internal data starts at 32 (m_dat, MLEN = 224 bytes)
// without a packet header and at 80 (m_pktdat, MHLEN = 176 bytes) with one.
//
// External storage (clusters) is refcounted. An mbuf that is the only user of its cluster
// has ext_ref == 0 and the cluster is charged to the mbuf's vnet. The first time a cluster
// is shared (m_copym, m_split) it gets an ExtRef record {refcnt, vnet}; every sharer points
// at it and the cluster is freed, and uncharged from ExtRef.vnet, when the count drops to 0.
// Sharers charged to other vnets are counted (ExtRef.nalt) and the last such vnet is
// remembered (ExtRef.alt): when the charged vnet lets go of its last reference while others
// still hold the cluster, the charge moves to alt, so a sender's vnet (a TCP send buffer
// shares its clusters with the segments it sent) can be destroyed, owning nothing, while a
// receiver still holds the data.

export const MSIZE: u32 = 256;
export const MCLSHIFT: u32 = 11;
export const MCLBYTES: u32 = 1 << MCLSHIFT; // 2 KiB cluster
export const MJUMPAGESIZE: u32 = 4096; // a page
export const MJUM9BYTES: u32 = 9 * 1024; // 9k jumbo frames
export const MJUM16BYTES: u32 = 16 * 1024;

/** The mbuf. Fields are in layout order; offsets are checked at compile time below. */
@unmanaged export class Mbuf {
  // m_hdr
  m_next: usize; // next mbuf of this packet
  m_nextpkt: usize; // next packet in a queue
  m_data: usize; // first byte of data
  m_len: i32; // bytes of data in this mbuf
  m_flags: u32; // M_*
  m_type: u16; // MT_*; MT_NOTMBUF while free
  m_spare: u16;
  m_vnet: usize; // struct vnet * this mbuf is charged to
  m_spare2: u32;
  // m_pkthdr (M_PKTHDR)
  ph_rcvif: usize; // receiving interface
  ph_len: i32; // bytes in the whole packet
  ph_csum_flags: u32; // CSUM_*
  ph_csum_data: u32;
  ph_flowid: u32;
  ph_vnet: usize; // struct vnet * the packet belongs to
  ph_ether_vtag: u16; // VLAN tag (M_VLANTAG)
  ph_tso_segsz: u16;
  ph_l2hlen: u8;
  ph_l3hlen: u8;
  ph_l4hlen: u8;
  ph_rsstype: u8;
  ph_tags: usize; // reserved for m_tag lists; 0
  ph_spare: u32;
  ph_rcv_tstmp: u64; // receive time in microseconds (M_TSTMP)
  // m_ext (M_EXT)
  ext_buf: usize; // start of the buffer
  ext_size: u32; // its size
  ext_type: u16; // EXT_*
  ext_flags: u16;
  ext_ref: usize; // ExtRef of a shared buffer, 0 = this mbuf is the only user
}

/** Refcount record of a shared cluster (zone "mbuf_ext_ref"). */
@unmanaged export class ExtRef {
  refcnt: u32;
  vnet: usize; // struct vnet * the cluster (and this record) is charged to
  alt: usize; // the last other vnet a sharer was charged to (m_chargeto)
  nalt: u32; // sharers charged to a vnet other than `vnet`
}

export const M_HDR_SIZE: u32 = 32;
export const M_PKTHDR_OFF: u32 = 32;
export const M_PKTHDR_SIZE: u32 = 48;
export const M_EXT_OFF: u32 = 80;
export const M_DAT_OFF: u32 = M_HDR_SIZE; // m_dat
export const M_PKTDAT_OFF: u32 = M_PKTHDR_OFF + M_PKTHDR_SIZE; // m_pktdat
export const MLEN: u32 = MSIZE - M_DAT_OFF; // 224
export const MHLEN: u32 = MSIZE - M_PKTDAT_OFF; // 176
export const MINCLSIZE: u32 = MHLEN + 1; // smallest amount worth putting in a cluster

// The layout is a module ABI: fail the build, not the packet, if a field moves.
if (sizeof<usize>() != 4 || offsetof<Mbuf>("m_vnet") != 24 || offsetof<Mbuf>("ph_rcvif") != M_PKTHDR_OFF ||
    offsetof<Mbuf>("ph_rcv_tstmp") != 72 || offsetof<Mbuf>("ext_buf") != M_EXT_OFF ||
    offsetof<Mbuf>() != M_EXT_OFF + 16) {
  ERROR("struct mbuf layout changed");
}

// m_flags (FreeBSD values)
export const M_EXT: u32 = 0x00000001; // has external storage
export const M_PKTHDR: u32 = 0x00000002; // first mbuf of a packet, m_pkthdr valid
export const M_EOR: u32 = 0x00000004; // end of record
export const M_RDONLY: u32 = 0x00000008; // storage is read-only
export const M_BCAST: u32 = 0x00000010; // link-level broadcast
export const M_MCAST: u32 = 0x00000020; // link-level multicast
export const M_PROMISC: u32 = 0x00000040; // not for us (promiscuous capture)
export const M_VLANTAG: u32 = 0x00000080; // ph_ether_vtag is valid
export const M_TSTMP: u32 = 0x00000400; // ph_rcv_tstmp is valid
export const M_PROTO1: u32 = 0x00001000; // protocol-private flags
export const M_PROTO2: u32 = 0x00002000;
export const M_PROTO3: u32 = 0x00004000;
export const M_PROTO4: u32 = 0x00008000;
/**
 * Flags that belong to the packet and move with the packet header. Unlike FreeBSD, M_RDONLY
 * is not one of them: it describes an mbuf's storage, not the packet.
 */
export const M_COPYFLAGS: u32 = M_PKTHDR | M_EOR | M_BCAST | M_MCAST | M_PROMISC |
  M_VLANTAG | M_TSTMP | M_PROTO1 | M_PROTO2 | M_PROTO3 | M_PROTO4;

// m_type
export const MT_NOTMBUF: u16 = 0; // free (double frees are caught by this)
export const MT_DATA: u16 = 1;
export const MT_HEADER: u16 = MT_DATA;
export const MT_SONAME: u16 = 8;
export const MT_CONTROL: u16 = 14;
export const MT_OOBDATA: u16 = 15;

// ext_type
export const EXT_CLUSTER: u16 = 1;
export const EXT_JUMBOP: u16 = 3;
export const EXT_JUMBO9: u16 = 4;
export const EXT_JUMBO16: u16 = 5;
export const EXT_MAX: u16 = 8;

// ph_csum_flags: offload requests (outbound) and results (inbound), FreeBSD values.
export const CSUM_IP: u32 = 0x00000001; // compute the IPv4 header checksum
export const CSUM_IP_UDP: u32 = 0x00000002;
export const CSUM_IP_TCP: u32 = 0x00000004;
export const CSUM_IP_TSO: u32 = 0x00000010; // TCP segmentation: ph_tso_segsz bytes of data per segment
export const CSUM_IP6_UDP: u32 = 0x00000200;
export const CSUM_IP6_TCP: u32 = 0x00000400;
export const CSUM_IP6_TSO: u32 = 0x00001000; // TCP/IPv6 segmentation: ph_tso_segsz bytes of data per segment
export const CSUM_L3_CALC: u32 = 0x01000000; // the L3 checksum was checked
export const CSUM_L3_VALID: u32 = 0x02000000; // ... and is right
export const CSUM_L4_CALC: u32 = 0x04000000;
export const CSUM_L4_VALID: u32 = 0x08000000;
export const CSUM_IP_CHECKED: u32 = CSUM_L3_CALC;
export const CSUM_IP_VALID: u32 = CSUM_L3_VALID;
export const CSUM_DATA_VALID: u32 = CSUM_L4_VALID;
export const CSUM_PSEUDO_HDR: u32 = CSUM_L4_CALC;
export const CSUM_TCP: u32 = CSUM_IP_TCP;
export const CSUM_UDP: u32 = CSUM_IP_UDP;
export const CSUM_TSO: u32 = CSUM_IP_TSO;
export const CSUM_TCP_IPV6: u32 = CSUM_IP6_TCP;
export const CSUM_UDP_IPV6: u32 = CSUM_IP6_UDP;
/** Transport checksums left to the interface: the field holds the pseudo-header sum only. */
export const CSUM_DELAY_DATA: u32 = CSUM_TCP | CSUM_UDP;
/** The same over IPv6 (FreeBSD's CSUM_DELAY_DATA_IPV6). */
export const CSUM_DELAY_DATA_IPV6: u32 = CSUM_TCP_IPV6 | CSUM_UDP_IPV6;
/** Any transport checksum left to the interface, either family. */
export const CSUM_DELAY_ANY: u32 = CSUM_DELAY_DATA | CSUM_DELAY_DATA_IPV6;
/** A large TCP segment of either family (FreeBSD's CSUM_TSO is both; here CSUM_TSO is IPv4's). */
export const CSUM_TSO_ANY: u32 = CSUM_IP_TSO | CSUM_IP6_TSO;
/**
 * Offload between vnets (docs/tcp.md "Offload between vnets"). Outbound, a packet asks the
 * interface for CSUM_DELAY_DATA (checksum) and CSUM_TSO (cut into ph_tso_segsz segments);
 * what the interface does not assist (if_hwassist) is done in software before the frame is
 * tapped or transmitted (ether_output_frame). An epair that assists hands the packet to its
 * peer with the request bits still set (the field still holds only the pseudo-header sum)
 * plus CSUM_DATA_VALID | CSUM_PSEUDO_HDR: the receiver trusts the data, and a router that
 * forwards it out of a non-offload interface still knows the checksum is owed. CSUM_TSO on
 * a received frame marks a large segment made inside this kernel (ether_input's only
 * exception to the MTU). IPv6 asks with its own bits (CSUM_DELAY_DATA_IPV6, CSUM_IP6_TSO),
 * as in FreeBSD, so the interface can assist one family and not the other.
 */
export const CSUM_OFFLOAD4: u32 = CSUM_DELAY_DATA | CSUM_TSO;
export const CSUM_OFFLOAD6: u32 = CSUM_DELAY_DATA_IPV6 | CSUM_IP6_TSO;
export const CSUM_OFFLOAD: u32 = CSUM_OFFLOAD4 | CSUM_OFFLOAD6;

/** M_COPYALL: m_copym's "to the end of the chain". */
export const M_COPYALL: i32 = 1000000000;

@inline export function mbuf(m: usize): Mbuf {
  return changetype<Mbuf>(m);
}

/** mtod: address of the first data byte. */
@inline export function mtod(m: usize): usize {
  return changetype<Mbuf>(m).m_data;
}

/** Start of the mbuf's data buffer: the cluster, m_pktdat or m_dat. */
@inline export function M_START(m: usize): usize {
  const f = changetype<Mbuf>(m).m_flags;
  return f & M_EXT ? changetype<Mbuf>(m).ext_buf : m + (f & M_PKTHDR ? M_PKTDAT_OFF : M_DAT_OFF);
}

/** Size of the mbuf's data buffer. */
@inline export function M_SIZE(m: usize): u32 {
  const f = changetype<Mbuf>(m).m_flags;
  return f & M_EXT ? changetype<Mbuf>(m).ext_size : f & M_PKTHDR ? MHLEN : MLEN;
}

/** References to the mbuf's external storage (1 = only this mbuf). */
@inline export function m_extrefcnt(m: usize): u32 {
  const r = changetype<Mbuf>(m).ext_ref;
  return r == 0 ? 1 : changetype<ExtRef>(r).refcnt;
}

/** M_WRITABLE: the data may be changed in place (not read-only, cluster not shared). */
@inline export function M_WRITABLE(m: usize): bool {
  const f = changetype<Mbuf>(m).m_flags;
  return (f & M_RDONLY) == 0 && ((f & M_EXT) == 0 || m_extrefcnt(m) == 1);
}

/** Bytes free before the data; 0 when the storage is not writable. */
@inline export function M_LEADINGSPACE(m: usize): i32 {
  return M_WRITABLE(m) ? <i32>(changetype<Mbuf>(m).m_data - M_START(m)) : 0;
}

/** Bytes free after the data; 0 when the storage is not writable. */
@inline export function M_TRAILINGSPACE(m: usize): i32 {
  const mm = changetype<Mbuf>(m);
  return M_WRITABLE(m) ? <i32>(M_START(m) + M_SIZE(m) - mm.m_data) - mm.m_len : 0;
}

// Zones, for mbuf_zone(), mbuf_set_vnet_zlimit() and mbuf_vnet_inuse().
export const MBZ_MBUF: u32 = 0; // "mbuf", MSIZE
export const MBZ_CLUSTER: u32 = 1; // "mbuf_cluster", MCLBYTES
export const MBZ_JUMBOP: u32 = 2; // "mbuf_jumbo_page", MJUMPAGESIZE
export const MBZ_JUMBO9: u32 = 3; // "mbuf_jumbo_9k", MJUM9BYTES
export const MBZ_JUMBO16: u32 = 4; // "mbuf_jumbo_16k", MJUM16BYTES
export const MBZ_EXTREF: u32 = 5; // "mbuf_ext_ref", refcounts of shared clusters
export const MBZ_COUNT: u32 = 6;

// Default per-vnet limits (items); 0 would mean none. Changed per vnet with
// mbuf_set_vnet_limit / mbuf_set_vnet_zlimit.
export const MBUF_VNET_MBUFS: u32 = 32768; // 8 MiB of mbufs
export const MBUF_VNET_CLUSTERS: u32 = 16384; // 32 MiB of 2 KiB clusters
export const MBUF_VNET_JUMBOP: u32 = 8192; // 32 MiB
export const MBUF_VNET_JUMBO9: u32 = 2048; // 18 MiB
export const MBUF_VNET_JUMBO16: u32 = 1024; // 16 MiB

// mbstat: counters beyond the zones' own (allocs, fails, per-vnet fails), for mbuf_stat().
export const MBS_DROPS: u32 = 0; // allocations refused: out of memory or over a vnet's limit
export const MBS_BADARGS: u32 = 1; // offset, length or size outside what the chain holds
export const MBS_BADFREE: u32 = 2; // m_free of something that is not an allocated mbuf
export const MBS_PULLUP_FAIL: u32 = 3; // m_pullup failures (chain freed), FreeBSD's m_mpfail
export const MBS_COPY_FAIL: u32 = 4; // m_copym / m_dup failures, FreeBSD's m_mcfail
export const MBS_CHARGE_FAIL: u32 = 5; // m_chargeto refused: receiving vnet over its limit
export const MBS_ORPHANS: u32 = 6; // freed after their vnet was destroyed: left allocated
export const MBS_NOTWRITABLE: u32 = 7; // m_copyback refused: shared or read-only storage
export const MBS_SHARED: u32 = 8; // clusters that became shared (ExtRef records made)
export const MBS_COUNT: u32 = 9;
