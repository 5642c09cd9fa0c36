// TCP's shared definitions (FreeBSD netinet/tcp.h, tcp_var.h, tcp_fsm.h, tcp_timer.h):
// the wire view of the header, states, the control block (struct tcpcb, which here is the
// inpcb too), the per-family operations table, the per-vnet block and the tcpstat counters.
//
// Addresses. A pcb keeps its local and foreign address in 16-byte fields, whatever the
// family; IPv4 uses the first 4 bytes (u32, host order) and leaves the rest zero. Only the
// family's operations (TcpAfOps, tcp_inet.ts for AF_INET) look inside; hashing and
// comparison treat the 16 bytes as opaque, so IPv6 plugs in with no change here.

import { VNET, VNET_VNET, CALLOUT_SIZE } from "../../kmod/kapi";

// ---------------------------------------------------------------------------------------
// The header (RFC 9293 3.1): offsets from the first byte of the TCP header.
export const TH_SPORT: usize = 0;
export const TH_DPORT: usize = 2;
export const TH_SEQ: usize = 4;
export const TH_ACK: usize = 8;
export const TH_OFFX: usize = 12; // data offset << 4
export const TH_FLAGSB: usize = 13;
export const TH_WIN: usize = 14;
export const TH_SUM: usize = 16;
export const TH_URP: usize = 18;
export const TCP_HDR_MIN: u32 = 20;
export const TCP_HDR_MAX: u32 = 60;

export const TH_FIN: u32 = 0x01;
export const TH_SYN: u32 = 0x02;
export const TH_RST: u32 = 0x04;
export const TH_PUSH: u32 = 0x08;
export const TH_ACKF: u32 = 0x10; // "TH_ACK" the flag (TH_ACK above is the field offset)
export const TH_URG: u32 = 0x20;
export const TH_ECE: u32 = 0x40;
export const TH_CWR: u32 = 0x80;

@inline export function th_sport(th: usize): u16 { return bswap<u16>(load<u16>(th + TH_SPORT)); }
@inline export function th_dport(th: usize): u16 { return bswap<u16>(load<u16>(th + TH_DPORT)); }
@inline export function th_seq(th: usize): u32 { return bswap<u32>(load<u32>(th + TH_SEQ)); }
@inline export function th_ack(th: usize): u32 { return bswap<u32>(load<u32>(th + TH_ACK)); }
@inline export function th_off(th: usize): u32 { return (<u32>load<u8>(th + TH_OFFX) >> 4) << 2; }
@inline export function th_flags(th: usize): u32 { return <u32>load<u8>(th + TH_FLAGSB); }
@inline export function th_win(th: usize): u32 { return <u32>bswap<u16>(load<u16>(th + TH_WIN)); }

// Options (RFC 9293 3.2, RFC 7323, RFC 2018)
export const TCPOPT_EOL: u8 = 0;
export const TCPOPT_NOP: u8 = 1;
export const TCPOPT_MAXSEG: u8 = 2;
export const TCPOLEN_MAXSEG: u32 = 4;
export const TCPOPT_WINDOW: u8 = 3;
export const TCPOLEN_WINDOW: u32 = 3;
export const TCPOPT_SACK_PERMITTED: u8 = 4;
export const TCPOLEN_SACK_PERMITTED: u32 = 2;
export const TCPOPT_SACK: u8 = 5;
export const TCPOPT_TIMESTAMP: u8 = 8;
export const TCPOLEN_TIMESTAMP: u32 = 10;
export const TCP_MAX_WINSHIFT: u32 = 14;

// Parsed options of one segment (tcp_dooptions): TO_* flags and values.
export const TOF_MSS: u32 = 1;
export const TOF_SCALE: u32 = 2;
export const TOF_SACKPERM: u32 = 4;
export const TOF_TS: u32 = 8;
export const TOF_SACK: u32 = 16;
@unmanaged export class TcpOpt {
  to_flags: u32;
  to_mss: u32;
  to_wscale: u32;
  to_tsval: u32;
  to_tsecr: u32;
  to_nsacks: u32;
  to_sacks: usize; // first SACK block in the header (8 bytes each, network order)
}

// ---------------------------------------------------------------------------------------
// States (RFC 9293 3.3.2; FreeBSD tcp_fsm.h values and order)
export const TCPS_CLOSED: u32 = 0;
export const TCPS_LISTEN: u32 = 1;
export const TCPS_SYN_SENT: u32 = 2;
export const TCPS_SYN_RECEIVED: u32 = 3;
export const TCPS_ESTABLISHED: u32 = 4;
export const TCPS_CLOSE_WAIT: u32 = 5;
export const TCPS_FIN_WAIT_1: u32 = 6;
export const TCPS_CLOSING: u32 = 7;
export const TCPS_LAST_ACK: u32 = 8;
export const TCPS_FIN_WAIT_2: u32 = 9;
export const TCPS_TIME_WAIT: u32 = 10;
export const TCP_NSTATES: u32 = 11;
@inline export function TCPS_HAVERCVDSYN(s: u32): bool { return s >= TCPS_SYN_RECEIVED; }
@inline export function TCPS_HAVEESTABLISHED(s: u32): bool { return s >= TCPS_ESTABLISHED; }
@inline export function TCPS_HAVERCVDFIN(s: u32): bool {
  return s == TCPS_CLOSE_WAIT || s == TCPS_CLOSING || s == TCPS_LAST_ACK || s == TCPS_TIME_WAIT;
}

// t_flags (FreeBSD names where the meaning is the same)
export const TF_ACKNOW: u32 = 0x0001; // send an ACK now
export const TF_DELACK: u32 = 0x0002; // an ACK is being delayed
export const TF_NODELAY: u32 = 0x0004; // TCP_NODELAY: no Nagle
export const TF_NOOPT: u32 = 0x0008; // send no options
export const TF_SENTFIN: u32 = 0x0010; // our FIN has been sent
export const TF_REQ_SCALE: u32 = 0x0020; // we asked for window scaling
export const TF_RCVD_SCALE: u32 = 0x0040; // the peer agreed
export const TF_REQ_TSTMP: u32 = 0x0080; // we asked for timestamps
export const TF_RCVD_TSTMP: u32 = 0x0100; // the peer agreed
export const TF_SACK_PERMIT: u32 = 0x0200; // both sides allow SACK
export const TF_NEEDFIN: u32 = 0x0400; // send a FIN once the handshake completes
export const TF_NEEDOUTPUT: u32 = 0x0800; // input wants tcp_output at the end
export const TF_FORCEDATA: u32 = 0x1000; // persist probe: send one byte past the window
export const TF_INRECOVERY: u32 = 0x2000; // NewReno / SACK fast recovery (RFC 6582, 6675)
export const TF_WASFRECOVERY: u32 = 0x4000;
export const TF_INABORT: u32 = 0x8000; // being aborted by the socket layer: don't soabort again
export const TF_PASSIVE: u32 = 0x10000; // came from a listener (SYN_RECEIVED via sonewconn)
export const TF_KEEPALIVE: u32 = 0x20000; // SO_KEEPALIVE (copied from so_options)
export const TF_CONGRECOVERY: u32 = 0x40000; // cwnd reduced after an RTO (RFC 5681 3.1)
export const TF_PREVVALID: u32 = 0x80000; // snd_cwnd_prev valid (spurious RTO undo; unused)
export const TF_SACK_REQ: u32 = 0x100000; // we offered SACK-permitted
export const TF_LQ_OVERFLOW: u32 = 0x200000; // (syncookie) unused
export const TF_INHASH: u32 = 0x400000; // on the connection hash (has a foreign address: connection or TIME_WAIT)
export const TF_INPORT: u32 = 0x800000; // on the port hash (bound)
export const TF_INLISTEN: u32 = 0x1000000; // on the listen hash (LISTEN)
export const TF_TSO: u32 = 0x2000000; // large segments (TSO) sent: an ACK may cover many SMSS (cc)
export const TF_V6ONLY: u32 = 0x4000000; // IPV6_V6ONLY on (AF_INET6 sockets; their glue's af_ctloutput)
// Dual-stack (IPV6_V6ONLY off, unbound or bound to the wildcard, not connected): IPv4's lookups
// see this pcb of another family as their own wildcard (tcp_subr.ts af_sees; docs/sockets.md)
export const TF_DUAL: u32 = 0x8000000;

// Timers: deadlines in µs kept in the tcpcb, one callout for all (tcp_timer.ts).
export const TT_REXMT: u32 = 0;
export const TT_PERSIST: u32 = 1;
export const TT_KEEP: u32 = 2;
export const TT_2MSL: u32 = 3;
export const TT_DELACK: u32 = 4;
export const TT_COUNT: u32 = 5;

// Times in µs (FreeBSD tcp_timer.h values unless said).
export const TCPTV_MSL: u64 = 30_000_000; // MSL 30 s: TIME_WAIT lasts 2MSL = 60 s
export const TCPTV_RTOBASE: u64 = 1_000_000; // initial RTO (RFC 6298 2.1)
export const TCPTV_MIN: u64 = 200_000; // RTO floor (FreeBSD 30 ms + 200 ms slop; we take 200 ms)
export const TCPTV_REXMTMAX: u64 = 64_000_000; // RTO ceiling
export const TCPTV_PERSMIN: u64 = 5_000_000;
export const TCPTV_PERSMAX: u64 = 60_000_000;
export const TCPTV_KEEP_INIT: u64 = 75_000_000; // connection establishment
export const TCPTV_KEEP_IDLE: u64 = 7_200_000_000; // 2 hours
export const TCPTV_KEEPINTVL: u64 = 75_000_000;
export const TCPTV_KEEPCNT: u32 = 8;
export const TCPTV_DELACK: u64 = 40_000; // delayed ACK: FreeBSD's 40 ms (net.inet.tcp.delacktime)
export const TCPTV_FINWAIT2: u64 = 60_000_000; // FIN_WAIT_2 of a closed socket (net.inet.tcp.finwait2_timeout)
export const TCP_MAXRXTSHIFT: u32 = 12;
export const TCP_MAXPERSISTIDLE: u64 = 7_200_000_000; // FreeBSD tcp_maxpersistidle

export const TCP_MSS_DEFAULT: u32 = 536; // RFC 9293 3.7.1 (IPv4)
export const TCP_MINMSS: u32 = 216; // net.inet.tcp.minmss
export const TCP_RCVBUF_DEFAULT: u32 = 65536;

// Socket options at level IPPROTO_TCP (FreeBSD netinet/tcp.h values)
export const IPPROTO_TCP: u32 = 6;
export const TCP_NODELAY: i32 = 1;
export const TCP_MAXSEG: i32 = 2;
export const TCP_NOOPT: i32 = 8;
export const TCP_INFO_STATE: i32 = 0x7f01; // wavnet: get the state (TCPS_*), for tests and netstat
export const TCP_CONGESTION: i32 = 64; // an int here: 0 = newreno, 1 = cubic
export const TCP_KEEPINIT: i32 = 128;
export const TCP_KEEPIDLE: i32 = 256; // seconds
export const TCP_KEEPINTVL: i32 = 512; // seconds
export const TCP_KEEPCNT: i32 = 1024;
export const CC_NEWRENO: u32 = 0;
export const CC_CUBIC: u32 = 1;

// ---------------------------------------------------------------------------------------
// Per-family operations (the talk's answer to tcp_subr.c's #ifdef INET6 ladders). A table
// in the family glue's memory; each entry is a table slot.
//   af_stash(m, laddr, faddr): m is a TCP segment (header first, M_PKTHDR). Put the
//     pseudo-header sum in the checksum field and ask for the rest (CSUM_TCP: the interface
//     or ip_output's software fallback completes it), and remember the addresses in the
//     packet (the packet may be queued before it is sent).
//   af_output(m): send a stashed packet (curvnet = its vnet). Owns m.
//   af_mss(faddr): u32      largest segment to faddr from the route's MTU (0: no route)
//   af_selectsrc(faddr, laddr_out): i32   the source address for faddr (0 or -errno)
//   af_localip(addr): bool  addr is one of the current vnet's addresses (or wildcard ok)
//   af_badaddr(addr): bool  never talk to it (multicast, broadcast, unspecified)
//   af_tsomax(faddr): u32   largest TCP header + data one large (TSO) segment to faddr may
//     carry now, 0 = the route's interface does not assist segmentation
// Dual-stack sockets (IPV6_V6ONLY off; only IPv6's glue does more than refuse):
//   af_init(tp): void      a new pcb of a socket of this family: its IPV6_V6ONLY default
//   af_ctloutput(tp, dir, level, name, valp): i32   the family's own socket options
//   af_unmap(addr, out): u32   addr stands for an address of another family (::ffff:a.b.c.d):
//     that family, its address written at out; 0 when it does not
//   af_map_sa(sa_out, addr, port): void   this family's sockaddr for an address of the
//     family af_unmap names (a socket of this family whose pcb went over to it)
//   af_dual (a value): the family a dual-stack socket of this family also serves, 0: none
@unmanaged export class TcpAfOps {
  af: u32;
  af_stash: u32;
  af_output: u32;
  af_mss: u32;
  af_selectsrc: u32;
  af_localip: u32;
  af_badaddr: u32;
  af_salen: u32; // sockaddr length of the family
  af_sa_to: u32; // (sa, addr_out): u16 port; 0xffffffff when sa is not of the family
  af_to_sa: u32; // (sa_out, addr, port): void
  af_tsomax: u32;
  af_init: u32;
  af_ctloutput: u32;
  af_unmap: u32;
  af_map_sa: u32;
  af_dual: u32;
}

// ---------------------------------------------------------------------------------------
// struct tcpcb (with the inpcb fields FreeBSD keeps beside it). Every established idle
// connection pays for all of it, so it is packed: fields narrowed to what their range needs
// (u8: states, shifts, small counts and errnos; u16: ports, MSS, duplicate ACKs), and what
// only some connections need lives in its own zone item behind a pointer, allocated when
// first needed and freed when done: the send buffer of a connection that outlived its socket
// (t_sb), the SACK scoreboard and the reassembly queue's bookkeeping (t_sack, TcpSackBlk) and
// CUBIC's state (t_ccdata). docs/tcp.md "Memory per connection" has the layout and figures.
@unmanaged export class Tcpcb {
  t_flags: u32;
  t_socket: usize; // 0 once the socket is gone (closing connections, TIME_WAIT)
  t_af: usize; // TcpAfOps
  t_vnet: usize;
  // lists: every pcb of the vnet; the connection hash (4-tuple); the port hash (local port)
  t_lnext: usize;
  t_lprev: usize;
  t_hnext: usize;
  t_hprev: usize;
  t_pnext: usize;
  t_pprev: usize;
  t_sb: usize; // our own send buffer once the socket is gone ("tcpsb" zone), else 0
  t_sack: usize; // TcpSackBlk ("tcpsack" zone) while ranges or out-of-order data are held
  t_ccdata: usize; // congestion control state of an algorithm that has one (CUBIC), else 0
  t_lport: u16;
  t_fport: u16;
  t_state_: u8;
  t_cc_algo_: u8;
  t_rxtshift_: u8; // at most TCP_MAXRXTSHIFT
  t_keepsent_: u8; // keepalive probes unanswered
  snd_scale: u8; // window scaling (RFC 7323): at most 14
  rcv_scale: u8;
  request_r_scale: u8;
  t_delack_segs_: u8; // full-sized segments since the last ACK (an ACK goes at 2)
  t_softerror_: u8; // errno of the last soft ICMP error (RFC 1122 4.2.3.9), 0 = none
  t_keepcnt_: u8; // TCP_KEEPCNT, 1-255
  t_sackn_: u8; // ranges in the SACK scoreboard (t_sack), at most TCP_SACK_HOLES
  t_dupacks_: u16; // saturates at 65535
  t_maxseg_: u16; // what we send (peer's MSS, our route, options)
  t_rcvmss_: u16; // what we offered
  t_maxseg_user_: u16; // TCP_MAXSEG, 0 = none
  // send sequence space (RFC 9293 3.3.1)
  snd_una: u32;
  snd_nxt: u32;
  snd_max: u32;
  snd_wl1: u32;
  snd_wl2: u32;
  iss: u32;
  snd_wnd: u32;
  max_sndwnd: u32;
  snd_cwnd: u32;
  snd_ssthresh: u32;
  snd_recover: u32;
  t_bytes_acked: u32; // ABC byte counter in congestion avoidance (RFC 3465)
  // receive sequence space
  rcv_nxt: u32;
  rcv_wnd: u32;
  rcv_adv: u32;
  irs: u32;
  last_ack_sent: u32;
  t_segq: usize; // reassembly queue: first segment (m_nextpkt list, seq in ph_flowid); counts in t_sack
  // RTT (RFC 6298), µs
  t_srtt: u32; // 0 = no sample yet
  t_rttvar: u32;
  t_rxtcur: u32; // current RTO before backoff
  t_rtseq: u32;
  t_rtttime: u32; // low 32 bits of the µs clock when the timed segment was sent; 0 = none timed
  // timestamps (RFC 7323)
  ts_recent: u32;
  ts_recent_age: u32; // seconds of the µs clock when ts_recent was taken (the 24-day rule)
  ts_offset: u32;
  // options, in seconds
  t_keepidle: u32;
  t_keepintvl: u32;
  t_keepinit: u32;
  // SACK sender (tcp_sack.ts): the highest sequence the peer has SACKed, and the next
  // sequence to retransmit during SACK recovery (RFC 6675 NextSeg); the ranges are in t_sack
  t_sack_fack: u32;
  t_sack_rxt: u32;
  t_rcvtime: u64; // last segment received (keepalive, persist idle)
  t_sndtime: u64; // last data sent (cwnd restart after idle)
  // timers (tcp_timer.ts): keepalive as an absolute deadline (it may be hours away), the
  // other four (at most minutes away) as offsets + 1 from t_tbase; 0 = off
  t_tbase: u64;
  t_tkeep: u64;
  t_trexmt: u32;
  t_tpersist: u32;
  t_t2msl: u32;
  t_tdelack: u32;
  // The narrow fields above are read and written through these, as u32: arithmetic on
  // them (t_maxseg * t_dupacks) is done in 32 bits, never wrapped in the narrow type.
  @inline get t_state(): u32 { return <u32>this.t_state_; }
  @inline set t_state(v: u32) { this.t_state_ = <u8>v; }
  @inline get t_cc_algo(): u32 { return <u32>this.t_cc_algo_; }
  @inline set t_cc_algo(v: u32) { this.t_cc_algo_ = <u8>v; }
  @inline get t_rxtshift(): u32 { return <u32>this.t_rxtshift_; }
  @inline set t_rxtshift(v: u32) { this.t_rxtshift_ = <u8>v; }
  @inline get t_keepsent(): u32 { return <u32>this.t_keepsent_; }
  @inline set t_keepsent(v: u32) { this.t_keepsent_ = <u8>v; }
  @inline get t_delack_segs(): u32 { return <u32>this.t_delack_segs_; }
  @inline set t_delack_segs(v: u32) { this.t_delack_segs_ = <u8>v; }
  @inline get t_softerror(): u32 { return <u32>this.t_softerror_; }
  @inline set t_softerror(v: u32) { this.t_softerror_ = <u8>v; }
  @inline get t_keepcnt(): u32 { return <u32>this.t_keepcnt_; }
  @inline set t_keepcnt(v: u32) { this.t_keepcnt_ = <u8>v; }
  @inline get t_sackn(): u32 { return <u32>this.t_sackn_; }
  @inline set t_sackn(v: u32) { this.t_sackn_ = <u8>v; }
  @inline get t_dupacks(): u32 { return <u32>this.t_dupacks_; }
  @inline set t_dupacks(v: u32) { this.t_dupacks_ = <u16>v; }
  @inline get t_maxseg(): u32 { return <u32>this.t_maxseg_; }
  @inline set t_maxseg(v: u32) { this.t_maxseg_ = <u16>v; }
  @inline get t_rcvmss(): u32 { return <u32>this.t_rcvmss_; }
  @inline set t_rcvmss(v: u32) { this.t_rcvmss_ = <u16>v; }
  @inline get t_maxseg_user(): u32 { return <u32>this.t_maxseg_user_; }
  @inline set t_maxseg_user(v: u32) { this.t_maxseg_user_ = <u16>v; }
}

/**
 * What only some connections need, one "tcpsack" zone item: the SACK scoreboard (the
 * sender's view of the peer's out-of-order data) and the reassembly queue's counts (the
 * receiver's own), so an idle connection carries neither.
 */
@unmanaged export class TcpSackBlk {
  sb_segqlen: u32; // reassembly queue: bytes
  sb_segqn: u32; // reassembly queue: segments
  sb_last: u32; // receiver: start of the out-of-order segment that arrived last (RFC 2018 4: first block)
  // TCP_SACK_HOLES x (start, end) at TSB_HOLES
}

/** CUBIC's per-connection state ("cc_cubic" zone), t_ccdata. */
@unmanaged export class CubicData {
  cc_epoch: u64; // start of the current epoch (µs), 0 = none
  cc_wmax: u32;
  cc_k_us: u32;
  cc_wtcp: u32;
}
export const CUBIC_SIZE: u32 = (offsetof<CubicData>() + 7) & ~7;

export const TCP_SACK_HOLES: u32 = 4; // ranges of the peer's SACK scoreboard (beyond that the lowest is forgotten)
export const TSB_HOLES: usize = offsetof<TcpSackBlk>();
export const TCPSACK_SIZE: u32 = <u32>(TSB_HOLES + TCP_SACK_HOLES * 8);
export const TP_LADDR: usize = (offsetof<Tcpcb>() + 7) & ~7;
export const TP_FADDR: usize = TP_LADDR + 16;
export const TP_CALLOUT: usize = TP_FADDR + 16;
export const TCPCB_SIZE: u32 = <u32>(TP_CALLOUT + ((CALLOUT_SIZE + 7) & ~7));
// Every idle connection pays for each byte: a change here is a change of the documented
// figure (docs/tcp.md "Memory per connection", bench tcp_idle_conn_bytes).
if (TCPCB_SIZE != 320 || TP_LADDR != 248) ERROR("struct tcpcb changed size: update docs/tcp.md \"Memory per connection\"");

@inline export function TP(tp: usize): Tcpcb { return changetype<Tcpcb>(tp); }
@inline export function tp_laddr(tp: usize): usize { return tp + TP_LADDR; }
@inline export function tp_faddr(tp: usize): usize { return tp + TP_FADDR; }
@inline export function tp_callout(tp: usize): usize { return tp + TP_CALLOUT; }

// ---------------------------------------------------------------------------------------
// tcpstat (FreeBSD struct tcpstat names; a few wavnet additions are marked)
export const TCPS_CONNATTEMPT: u32 = 0; // connections initiated
export const TCPS_ACCEPTS: u32 = 1; // connections accepted
export const TCPS_CONNECTS: u32 = 2; // connections established
export const TCPS_DROPS: u32 = 3; // connections dropped
export const TCPS_CONNDROPS: u32 = 4; // embryonic connections dropped
export const TCPST_CLOSED: u32 = 5; // tcps_closed: connections closed (includes drops)
export const TCPS_SEGSTIMED: u32 = 6;
export const TCPS_RTTUPDATED: u32 = 7;
export const TCPS_DELACK: u32 = 8; // delayed ACKs sent
export const TCPS_TIMEOUTDROP: u32 = 9; // connections dropped by retransmit timeout
export const TCPS_REXMTTIMEO: u32 = 10;
export const TCPS_PERSISTTIMEO: u32 = 11;
export const TCPS_KEEPTIMEO: u32 = 12;
export const TCPS_KEEPPROBE: u32 = 13;
export const TCPS_KEEPDROPS: u32 = 14;
export const TCPS_SNDTOTAL: u32 = 15;
export const TCPS_SNDPACK: u32 = 16;
export const TCPS_SNDBYTE: u32 = 17;
export const TCPS_SNDREXMITPACK: u32 = 18;
export const TCPS_SNDREXMITBYTE: u32 = 19;
export const TCPS_SNDACKS: u32 = 20;
export const TCPS_SNDPROBE: u32 = 21;
export const TCPS_SNDWINUP: u32 = 22;
export const TCPS_SNDCTRL: u32 = 23; // control (SYN|FIN|RST) packets sent
export const TCPS_RCVTOTAL: u32 = 24;
export const TCPS_RCVPACK: u32 = 25;
export const TCPS_RCVBYTE: u32 = 26;
export const TCPS_RCVBADSUM: u32 = 27;
export const TCPS_RCVBADOFF: u32 = 28;
export const TCPS_RCVSHORT: u32 = 29;
export const TCPS_RCVDUPPACK: u32 = 30;
export const TCPS_RCVDUPBYTE: u32 = 31;
export const TCPS_RCVPARTDUPPACK: u32 = 32;
export const TCPS_RCVPARTDUPBYTE: u32 = 33;
export const TCPS_RCVOOPACK: u32 = 34;
export const TCPS_RCVOOBYTE: u32 = 35;
export const TCPS_RCVPACKAFTERWIN: u32 = 36;
export const TCPS_RCVBYTEAFTERWIN: u32 = 37;
export const TCPS_RCVAFTERCLOSE: u32 = 38;
export const TCPS_RCVWINPROBE: u32 = 39;
export const TCPS_RCVDUPACK: u32 = 40;
export const TCPS_RCVACKTOOMUCH: u32 = 41;
export const TCPS_RCVACKPACK: u32 = 42;
export const TCPS_RCVACKBYTE: u32 = 43;
export const TCPS_RCVWINUPD: u32 = 44;
export const TCPS_PAWSDROP: u32 = 45;
export const TCPS_PREDACK: u32 = 46;
export const TCPS_PREDDAT: u32 = 47;
export const TCPS_PERSISTDROP: u32 = 48;
export const TCPS_BADSYN: u32 = 49; // bogus SYN (SYN+FIN, SYN to a synchronized connection)
export const TCPS_LISTENDROP: u32 = 50; // listen queue overflows
export const TCPS_BADRST: u32 = 51; // ignored RSTs (out of window)
export const TCPS_SC_SENDCOOKIE: u32 = 52;
export const TCPS_SC_RECVCOOKIE: u32 = 53;
export const TCPS_SC_BADCOOKIE: u32 = 54; // wavnet: ACKs whose cookie did not check
export const TCPS_SACK_RECOVERY_EPISODE: u32 = 55;
export const TCPS_SACK_REXMITS: u32 = 56;
export const TCPS_SACK_REXMIT_BYTES: u32 = 57;
export const TCPS_SACK_RCV_BLOCKS: u32 = 58;
export const TCPS_SACK_SEND_BLOCKS: u32 = 59;
export const TCPS_FINWAIT2_DROPS: u32 = 60;
export const TCPS_RCVMEMDROP: u32 = 61; // dropped for lack of memory (reassembly limits)
export const TCPS_RCVREASSFULL: u32 = 62;
export const TCPS_CHALLENGEACK: u32 = 63; // wavnet: RFC 5961 challenge ACKs sent
export const TCPS_CHALLENGEACK_LIMITED: u32 = 64; // wavnet: ... suppressed by the rate limit
export const TCPS_RCVBADOPT: u32 = 65; // wavnet: options whose lengths lie (segment dropped)
export const TCPS_ECN_SHS: u32 = 66; // unused (no ECN)
export const TCPS_SNDRST: u32 = 67; // wavnet: RSTs sent
export const TCPS_TW_RECYCLES: u32 = 68; // wavnet: TIME_WAIT connections ended by a new SYN (RFC 6191)
export const TCPS_RSTLIMITED: u32 = 69; // wavnet: RSTs not sent, over net.inet.tcp.rst_limit (FreeBSD badport_bandlim)
export const TCPS_MTURESENT: u32 = 70; // resends after the path MTU went down (RFC 1191)
export const TCPS_ICMPSOFT: u32 = 71; // wavnet: ICMP errors kept as a connection's soft error
export const TCPS_ICMPIGNORED: u32 = 72; // wavnet: ICMP errors for no connection or outside SND.UNA..SND.MAX
export const TCPS_ICMPDROP: u32 = 73; // wavnet: connections dropped by an ICMP error (SYN_SENT hard errors)
// The syncache (tcp_syncache.ts; FreeBSD's tcps_sc_* names)
export const TCPS_SC_ADDED: u32 = 74; // entries added
export const TCPS_SC_RETRANSMITTED: u32 = 75; // SYN-ACKs retransmitted
export const TCPS_SC_DUPSYN: u32 = 76; // duplicate SYNs for an entry (SYN-ACK sent again)
export const TCPS_SC_DROPPED: u32 = 77; // entries dropped: no mbuf for their SYN-ACK
export const TCPS_SC_COMPLETED: u32 = 78; // entries that became connections
export const TCPS_SC_BUCKETOVERFLOW: u32 = 79; // entries dropped for a full bucket (the oldest goes)
export const TCPS_SC_CACHEOVERFLOW: u32 = 80; // SYNs that found the cache at net.inet.tcp.syncache.cachelimit
export const TCPS_SC_RESET: u32 = 81; // entries ended by a RST at IRS + 1
export const TCPS_SC_STALE: u32 = 82; // entries dropped after their last retransmission
export const TCPS_SC_BADACK: u32 = 83; // ACKs for an entry that did not acknowledge its SYN-ACK (RST sent)
export const TCPS_SC_ZONEFAIL: u32 = 84; // entries that could not be allocated below the limit (memory)
export const TCPS_TABLEFAIL: u32 = 85; // a vnet's first tcpcb refused: its connection and port hashes could not be had
export const TCPS_COUNT: u32 = 86;

// ---------------------------------------------------------------------------------------
// The per-vnet block (one vnet_data_alloc): TcpVnet, then tcpstat.
export const TCP_HASH_SIZE: u32 = 1024; // connection hash buckets by default (one 4 KiB page of heads)
export const TCP_HASH_MAX: u32 = 16384; // net.inet.tcp.tcbhashsize at most (16 pages, one kmem allocation)
export const TCP_PORTHASH_SIZE: u32 = 1024; // local-port hash buckets
export const TCP_EPH_FIRST: u32 = 49152; // ephemeral ports: net.inet.ip.portrange.hifirst .. 65535
export const TCP_EPH_COUNT: u32 = 65536 - TCP_EPH_FIRST;
export const TCP_PORTCNT_PAGES: u32 = TCP_EPH_COUNT >> 12; // a u8 per ephemeral port
export const TCP_PORTCNT_MANY: u8 = 255; // sticky: this many or more; the port hash knows
export const TCP_PORTCNT_MIN: u32 = 256; // pcbs on ephemeral ports that make the counts worth their pages
export const TCP_LISTENHASH_SIZE: u32 = 256; // listen hash buckets (a page, allocated with the first listener)
export const TCP_MAXTCPCB_DEFAULT: u32 = 65536; // net.inet.tcp.maxtcpcb: tcpcbs per vnet
// Buffer autotuning (FreeBSD's defaults): growth step of a send buffer, and both maxima.
export const TCP_SENDBUF_INC: u32 = 8192; // net.inet.tcp.sendbuf_inc
export const TCP_AUTOBUF_MAX: u32 = 2 * 1024 * 1024; // net.inet.tcp.sendbuf_max, recvbuf_max
/** net.inet.tcp.rst_limit: FreeBSD bounds these RSTs by net.inet.icmp.icmplim, 200 a second. */
export const TCP_RSTLIM_DEFAULT: u32 = 200;
@unmanaged export class TcpVnet {
  up: u32;
  pcbcount: u32;
  pcblist: usize; // every tcpcb of the vnet
  hashtbl: usize; // hashmask + 1 heads (kmem pages), allocated with the vnet's first tcpcb, else 0
  hashmask: u32; // net.inet.tcp.tcbhashsize - 1
  porthash: usize; // TCP_PORTHASH_SIZE heads (kmem page), with hashtbl, else 0
  portcnt: usize; // pcbs per ephemeral port, u8 each (TCP_PORTCNT_PAGES), while neph is large; else 0
  neph: u32; // pcbs on ephemeral ports
  listhash: usize; // TCP_LISTENHASH_SIZE heads (kmem page) while the vnet has listeners, else 0
  nlisten: u32; // listeners in listhash
  maxtcpcb: u32; // net.inet.tcp.maxtcpcb (the per-vnet limit of the tcpcb zone and its companions)
  isn_key0: u64; // RFC 6528 secret (arc4random at vnet creation)
  isn_key1: u64;
  cookie_key0: u64; // SYN cookie secret
  cookie_key1: u64;
  lastport: u32;
  ack_second: u64; // challenge ACK rate limit window (RFC 5961 7); these three as rst_*: tcp_subr.ts persec_take
  ack_count: u32;
  ack_limit: u32;
  syncookies: u32; // net.inet.tcp.syncookies
  cc_default: u32; // net.inet.tcp.cc.algorithm (0 newreno, 1 cubic)
  use_sack: u32; // net.inet.tcp.sack.enable
  use_rfc1323: u32; // net.inet.tcp.rfc1323 (window scaling and timestamps)
  sendbuf_auto: u32; // net.inet.tcp.sendbuf_auto: grow send buffers (tcp_output)
  recvbuf_auto: u32; // net.inet.tcp.recvbuf_auto: grow receive buffers (tcp_input)
  sendbuf_max: u32; // net.inet.tcp.sendbuf_max: the most a send buffer grows to
  recvbuf_max: u32; // net.inet.tcp.recvbuf_max: the most a receive buffer grows to
  // The syncache (tcp_syncache.ts)
  sc_tbl: usize; // SyncacheTbl (kmem pages) while the vnet has a listener, else 0
  sc_count: u32; // entries (net.inet.tcp.syncache.count)
  sc_bucketlimit: u32; // net.inet.tcp.syncache.bucketlimit
  sc_cachelimit: u32; // net.inet.tcp.syncache.cachelimit
  syncookies_only: u32; // net.inet.tcp.syncookies_only: no entries, every SYN gets a cookie
  sc_overflow: u64; // µs + 1 of the last overflow (0 = never): a cookie without an entry counts for 30 s after
  // RSTs for segments nobody wants, at most rst_limit a second (tcp_input.ts dropwithreset)
  rst_second: u64;
  rst_count: u32;
  rst_limit: u32; // net.inet.tcp.rst_limit (0 = no limit)
}
// persec_take (tcp_subr.ts) reads each (second, count, limit) triple as u64, u32, u32.
if (offsetof<TcpVnet>("ack_limit") != offsetof<TcpVnet>("ack_second") + 12 || offsetof<TcpVnet>("rst_limit") != offsetof<TcpVnet>("rst_second") + 12) ERROR("TcpVnet: a rate limit's fields moved apart");
export const TCPV_SIZE: u32 = (offsetof<TcpVnet>() + 7) & ~7;
// tcpstat is a block of its own (TcpGlobals.statoff), all zeros at vnet creation: placed
// high in the VNET section (vnet_data_alloc_zero), so a new vnet does not touch its page.
export const TCPSTAT_SIZE: u32 = TCPS_COUNT * 8;
export const TCP_VNET_SIZE: u32 = TCPV_SIZE;

export class TcpGlobals {
  static voff: u32 = 0;
  static statoff: u32 = 0; // tcpstat's block
  static zone: usize = 0; // "tcpcb"
  static sbzone: usize = 0; // "tcpsb": send buffers of connections that outlived their socket
  static sackzone: usize = 0; // "tcpsack": TcpSackBlk
  static cczone: usize = 0; // "cc_cubic": CubicData
  static sczone: usize = 0; // "syncache": Syncache entries (tcp_syncache.ts)
}

@inline export function V(): TcpVnet { return changetype<TcpVnet>(VNET(TcpGlobals.voff)); }
@inline export function VV(v: usize): TcpVnet { return changetype<TcpVnet>(VNET_VNET(v, TcpGlobals.voff)); }
@inline export function TCPSTAT_INC(i: u32): void {
  const p = VNET(TcpGlobals.statoff) + (<usize>i << 3);
  store<u64>(p, load<u64>(p) + 1);
}
@inline export function TCPSTAT_ADD(i: u32, n: u64): void {
  const p = VNET(TcpGlobals.statoff) + (<usize>i << 3);
  store<u64>(p, load<u64>(p) + n);
}
