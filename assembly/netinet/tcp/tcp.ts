// tcp: RFC 9293 TCP as a loadable module above the network layers (FreeBSD sys/netinet/tcp_*).
//
// Files: tcp_var.ts (header view, states, struct tcpcb, per-family operations, per-vnet
// block, tcpstat), tcp_seq.ts, tcp_subr.ts (tcpcb life, lookup tables, ISN, RST/ACK
// without a connection, the output queue), tcp_input.ts (with tcp_input_syn.ts: LISTEN and
// SYN_SENT, tcp_syncache.ts: embryonic connections, and tcp_reass.ts: the reassembly queue), tcp_output.ts, tcp_timer.ts,
// tcp_usrreq.ts (the socket layer's requests), cc_newreno.ts and cc_cubic.ts (congestion
// control), tcp_sack.ts (SACK, RFC 2018 / 6675), tcp_syncookie.ts, tcp_inet.ts and
// tcp_inet6.ts (each family's glue: addresses, the family's output, the protocol-switch
// input). TCP itself never names a family: it calls the operations table of the pcb's
// family, so IPv6 adds a glue file, not a copy. Nor does it import a network module: each
// glue finds its family's entry table through domain_af_api at MOD_LOAD, so tcp loads in
// GENERIC, NOINET6 and NOINET (IPv6 only) kernels alike and serves the families present
// (at least one: without any MOD_LOAD fails with EAFNOSUPPORT). A family loaded after tcp
// is not served until tcp is loaded again.
//
// Per vnet: the block in the VNET section (TcpVnet + tcpstat, ~950 bytes), two kmem pages
// of hash heads while it has tcpcbs (a third, the listen hash, with the first listener), the tcpcbs (zone
// "tcpcb", charged to the vnet) and what hangs off them on demand ("tcpsb", "tcpsack",
// "cc_cubic"), each limited per vnet by net.inet.tcp.maxtcpcb; the syncache's table (two
// pages with the first listener) and entries ("syncache", net.inet.tcp.syncache.cachelimit). MOD_QUIESCE refuses while
// TCP sockets are open; a connection still closing without a socket (FIN_WAIT, TIME_WAIT)
// does not keep the module busy: the per-vnet uninit frees it.

import {
  vnet_data_alloc, vnet_data_alloc_zero, vnet_data_free, vnet_data_copy, vnet_master_base, vnet_sysinit_register, vnet_valid, zone_create,
  zone_destroy, kmem_alloc, kmem_free, curvnet, arc4random, CURVNET_SET, CURVNET_RESTORE, protosw_register,
  protosw_unregister, pffindproto, protosw_busy, ZONE_CHARGE, SI_SUB_PROTO_DOMAIN, SI_ORDER_MIDDLE, MOD_LOAD, MOD_UNLOAD,
  MOD_QUIESCE, EBUSY, ENOMEM, EINVAL, EAFNOSUPPORT, zone_set_vnet_limit, VNET_VNET,
} from "../../kmod/kapi";
import { AF_INET, AF_INET6, SOCK_STREAM, Socket, Sockbuf, SOCKBUF_SIZE, SB_MAX, so_rcv } from "../../sys/socket";
import {
  TcpGlobals, TcpVnet, V, VV, TP, TCPCB_SIZE, TCPSACK_SIZE, CUBIC_SIZE, TCP_MAXTCPCB_DEFAULT, TCP_AUTOBUF_MAX, TCP_RSTLIM_DEFAULT, TCP_HASH_SIZE, TCP_VNET_SIZE, TCPSTAT_SIZE, TCPS_COUNT, IPPROTO_TCP, tp_laddr, tp_faddr,
} from "./tcp_var";
import { tcp_free, tp_sndbuf, tcp_hash_resize, tcp_portcnt_destroy, tcp_tables_destroy } from "./tcp_subr";
import { tcp_usrreqs, tcp_usrreqs_init, tcp_af_register } from "./tcp_usrreq";
import { tcp_inet_ops, tcp_inet_attach, tcp_inet_detach } from "./tcp_inet";
import { tcp_inet6_ops, tcp_inet6_attach, tcp_inet6_detach } from "./tcp_inet6";
import { SYNCACHE_SIZE, SC_BUCKETLIMIT, SC_CACHELIMIT, syncache_tbl_destroy } from "./tcp_syncache";
export { kmod_heap_top } from "../../kmod/kmod";
export { kmod_teardown, kmod_teardown_count } from "./tcp_unload"; // a forced kldunload's checkpoints

function tcp_vnet_init(): i32 {
  const vv = V();
  const v = curvnet();
  // The connection and port hashes (two pages) come with the vnet's first tcpcb and go
  // with its last (tcp_subr.ts tcp_tables_create): most vnets of a large lab never open a
  // TCP socket.
  vv.hashtbl = 0;
  vv.porthash = 0;
  vv.hashmask = TCP_HASH_SIZE - 1;
  vv.isn_key0 = (<u64>arc4random() << 32) | <u64>arc4random();
  vv.isn_key1 = (<u64>arc4random() << 32) | <u64>arc4random();
  vv.cookie_key0 = (<u64>arc4random() << 32) | <u64>arc4random();
  vv.cookie_key1 = (<u64>arc4random() << 32) | <u64>arc4random();
  vv.lastport = 49152 + arc4random() % 16384;
  tcp_set_maxtcpcb(v, vv.maxtcpcb);
  zone_set_vnet_limit(TcpGlobals.sczone, VNET_VNET(v, 0), vv.sc_cachelimit);
  vv.sc_count = 0;
  vv.sc_overflow = 0;
  vv.up = 1;
  return 0;
}

function tcp_vnet_uninit(): void {
  const vv = V();
  // The socket layer's uninit has aborted every socket; what is left has none (closing
  // connections, TIME_WAIT), or, after a forced unload, sockets the layer frees without us.
  while (vv.pcblist != 0) tcp_free(vv.pcblist);
  const v = curvnet();
  tcp_tables_destroy(vv, v);
  if (vv.listhash != 0) kmem_free(vv.listhash, 1, v);
  syncache_tbl_destroy(vv, v);
  tcp_portcnt_destroy(vv, v);
  vv.listhash = 0;
  vv.nlisten = 0;
  vv.neph = 0;
  vv.up = 0;
}

function tcp_zones_destroy(): void {
  if (TcpGlobals.sczone != 0) zone_destroy(TcpGlobals.sczone, false);
  if (TcpGlobals.cczone != 0) zone_destroy(TcpGlobals.cczone, false);
  if (TcpGlobals.sackzone != 0) zone_destroy(TcpGlobals.sackzone, false);
  if (TcpGlobals.sbzone != 0) zone_destroy(TcpGlobals.sbzone, false);
  if (TcpGlobals.zone != 0) zone_destroy(TcpGlobals.zone, false);
  TcpGlobals.zone = TcpGlobals.sbzone = TcpGlobals.sackzone = TcpGlobals.cczone = TcpGlobals.sczone = 0;
}

/**
 * net.inet.tcp.maxtcpcb of vnet v: the most tcpcbs it may hold (listeners, connections,
 * TIME_WAIT), and so the most of each on-demand companion. Beyond it a socket() or a
 * passive open fails with ENOBUFS and the zone counts the failure (vmstat -z).
 */
function tcp_set_maxtcpcb(v: usize, n: u32): void {
  const b = VNET_VNET(v, 0);
  VV(v).maxtcpcb = n;
  zone_set_vnet_limit(TcpGlobals.zone, b, n);
  zone_set_vnet_limit(TcpGlobals.sbzone, b, n);
  zone_set_vnet_limit(TcpGlobals.sackzone, b, n);
  zone_set_vnet_limit(TcpGlobals.cczone, b, n);
}

export function modevent(what: i32): i32 {
  if (what == MOD_LOAD) {
    const off = vnet_data_alloc(TCP_VNET_SIZE, 8);
    if (off < 0) return -off;
    TcpGlobals.voff = <u32>off;
    const master = changetype<TcpVnet>(vnet_master_base() + <usize>off);
    memory.fill(changetype<usize>(master), 0, TCP_VNET_SIZE);
    master.ack_limit = 1000; // net.inet.tcp.ack_war... RFC 5961 7 rate limit, per second
    master.rst_limit = TCP_RSTLIM_DEFAULT;
    master.use_rfc1323 = 1;
    master.use_sack = 1;
    master.syncookies = 1;
    master.cc_default = 0;
    master.maxtcpcb = TCP_MAXTCPCB_DEFAULT;
    master.sendbuf_auto = 1;
    master.recvbuf_auto = 1;
    master.sendbuf_max = TCP_AUTOBUF_MAX;
    master.recvbuf_max = TCP_AUTOBUF_MAX;
    master.sc_bucketlimit = SC_BUCKETLIMIT;
    master.sc_cachelimit = SC_CACHELIMIT;
    vnet_data_copy(<u32>off, TCP_VNET_SIZE);
    const soff = vnet_data_alloc_zero(TCPSTAT_SIZE, 8);
    if (soff < 0) {
      vnet_data_free(<u32>off, TCP_VNET_SIZE);
      return -soff;
    }
    TcpGlobals.statoff = <u32>soff;
    // The tcpcb and what hangs off one on demand; each per-vnet limit is maxtcpcb.
    TcpGlobals.zone = zone_create("tcpcb", TCPCB_SIZE, 0, ZONE_CHARGE, TCP_MAXTCPCB_DEFAULT);
    TcpGlobals.sbzone = zone_create("tcpsb", SOCKBUF_SIZE, 0, ZONE_CHARGE, TCP_MAXTCPCB_DEFAULT);
    TcpGlobals.sackzone = zone_create("tcpsack", TCPSACK_SIZE, 0, ZONE_CHARGE, TCP_MAXTCPCB_DEFAULT);
    TcpGlobals.cczone = zone_create("cc_cubic", CUBIC_SIZE, 0, ZONE_CHARGE, TCP_MAXTCPCB_DEFAULT);
    // Embryonic connections, each vnet up to its net.inet.tcp.syncache.cachelimit.
    TcpGlobals.sczone = zone_create("syncache", SYNCACHE_SIZE, 0, ZONE_CHARGE, SC_CACHELIMIT);
    if (TcpGlobals.zone == 0 || TcpGlobals.sbzone == 0 || TcpGlobals.sackzone == 0 || TcpGlobals.cczone == 0 || TcpGlobals.sczone == 0) {
      tcp_zones_destroy();
      vnet_data_free(<u32>soff, TCPSTAT_SIZE);
      vnet_data_free(<u32>off, TCP_VNET_SIZE);
      return ENOMEM;
    }
    tcp_usrreqs_init();
    // Each family in the kernel (loaded before tcp, as the configurations do), the same way:
    // its glue attaches to the family's protocol switch through the entry table the family
    // registered, then sockets of (family, SOCK_STREAM) reach tcp.
    let r: i32 = 0;
    let families = 0;
    if (tcp_inet_attach()) {
      tcp_af_register(AF_INET, tcp_inet_ops());
      r = protosw_register(AF_INET, SOCK_STREAM, IPPROTO_TCP, tcp_usrreqs);
      if (r != 0) tcp_inet_detach();
      else families++;
    }
    if (r == 0 && tcp_inet6_attach()) {
      tcp_af_register(AF_INET6, tcp_inet6_ops());
      r = protosw_register(AF_INET6, SOCK_STREAM, IPPROTO_TCP, tcp_usrreqs);
      if (r != 0) tcp_inet6_detach();
      else families++;
    }
    if (r == 0 && families == 0) r = -EAFNOSUPPORT; // no network layer to serve: load inet or inet6 first
    if (r == 0) r = vnet_sysinit_register(SI_SUB_PROTO_DOMAIN, SI_ORDER_MIDDLE, tcp_vnet_init.index, 0, tcp_vnet_uninit.index);
    if (r != 0) {
      protosw_unregister(AF_INET6, SOCK_STREAM, IPPROTO_TCP);
      tcp_inet6_detach();
      protosw_unregister(AF_INET, SOCK_STREAM, IPPROTO_TCP);
      tcp_inet_detach();
      tcp_zones_destroy();
      vnet_data_free(<u32>soff, TCPSTAT_SIZE);
      vnet_data_free(<u32>off, TCP_VNET_SIZE);
      return r < 0 ? -r : r;
    }
    return 0;
  }
  if (what == MOD_QUIESCE) {
    return protosw_busy(pffindproto(AF_INET, SOCK_STREAM, IPPROTO_TCP)) != 0 || protosw_busy(pffindproto(AF_INET6, SOCK_STREAM, IPPROTO_TCP)) != 0 ? EBUSY : 0;
  }
  if (what == MOD_UNLOAD) {
    protosw_unregister(AF_INET6, SOCK_STREAM, IPPROTO_TCP);
    tcp_inet6_detach();
    protosw_unregister(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    tcp_inet_detach();
    tcp_zones_destroy();
    vnet_data_free(TcpGlobals.statoff, TCPSTAT_SIZE);
    vnet_data_free(TcpGlobals.voff, TCP_VNET_SIZE);
  }
  return 0;
}

// ---------------------------------------------------------------------------------------
// Host entry points (host/tcp.ts)

@inline function vOk(v: usize): bool {
  return vnet_valid(v) && VV(v).up != 0;
}

/** tcpstat counter i of vnet v; -1 out of range or bad vnet. */
export function tcp_stat(v: usize, i: u32): f64 {
  if (!vOk(v) || i >= TCPS_COUNT) return -1;
  return <f64>load<u64>(VNET_VNET(v, TcpGlobals.statoff) + (<usize>i << 3));
}

const PCB_REC: u32 = 80;
const BUF_RECS: u32 = 128;
const pcbbuf = memory.data(<i32>(PCB_REC * BUF_RECS), 8);

export function tcp_buf(): usize {
  return pcbbuf;
}

/**
 * netstat -an rows of vnet v from index skip: 80-byte records: laddr[16], faddr[16],
 * lport u16, fport u16, state u32, rcvq u32, sndq u32, socket serial u32 (0: none), af u32,
 * snd_cwnd u32, srtt µs u32, snd_una u32, snd_max u32, t_maxseg u32, flags u32 (1: dual-stack,
 * an AF_INET6 pcb IPv4's lookups also see; netstat's tcp46). Returns how many (-1: bad vnet).
 */
export function tcp_pcblist(v: usize, skip: u32): i32 {
  if (!vOk(v)) return -1;
  let n: u32 = 0;
  let i: u32 = 0;
  for (let tp = VV(v).pcblist; tp != 0 && n < BUF_RECS; tp = TP(tp).t_lnext, i++) {
    if (i < skip) continue;
    const r = pcbbuf + n * PCB_REC;
    const t = TP(tp);
    memory.copy(r, tp_laddr(tp), 16);
    memory.copy(r + 16, tp_faddr(tp), 16);
    store<u16>(r, t.t_lport, 32);
    store<u16>(r, t.t_fport, 34);
    store<u32>(r, t.t_state, 36);
    const so = t.t_socket;
    store<u32>(r, so != 0 ? changetype<Sockbuf>(so_rcv(so)).sb_cc : 0, 40);
    store<u32>(r, changetype<Sockbuf>(tp_sndbuf(tp)).sb_cc, 44);
    store<u32>(r, so != 0 ? changetype<Socket>(so).so_serial : 0, 48);
    store<u32>(r, changetype<TcpVnetOps>(t.t_af).af, 52);
    store<u32>(r, t.snd_cwnd, 56);
    store<u32>(r, t.t_srtt, 60);
    store<u32>(r, t.snd_una, 64);
    store<u32>(r, t.snd_max, 68);
    store<u32>(r, t.t_maxseg, 72);
    store<u32>(r, (t.t_flags & TF_DUAL) != 0 ? 1 : 0, 76);
    n++;
  }
  return <i32>n;
}

import { TcpAfOps as TcpVnetOps, TF_DUAL } from "./tcp_var";

/** tcpcbs in vnet v (with or without a socket); -1 bad vnet. */
export function tcp_pcbcount(v: usize): i32 {
  return vOk(v) ? <i32>VV(v).pcbcount : -1;
}

// Knobs (sysctl net.inet.tcp.*): 0 cc default, 1 sack.enable, 2 rfc1323, 3 syncookies, 4 ack limit/s,
// 5 maxtcpcb, 6 tcbhashsize (connection hash buckets), 7 sendbuf_auto, 8 recvbuf_auto,
// 9 sendbuf_max, 10 recvbuf_max (bytes, 1 .. kern.ipc.maxsockbuf), 11 syncache.bucketlimit,
// 12 syncache.cachelimit (FreeBSD's are boot tunables; here they apply from the next SYN),
// 13 syncookies_only, 14 syncache.count (read only), 15 rst_limit (RSTs a second to unwanted segments)
export function tcp_get(v: usize, what: u32): f64 {
  if (!vOk(v)) return -1;
  const vv = VV(v);
  switch (what) {
    case 0: return <f64>vv.cc_default;
    case 1: return <f64>vv.use_sack;
    case 2: return <f64>vv.use_rfc1323;
    case 3: return <f64>vv.syncookies;
    case 4: return <f64>vv.ack_limit;
    case 5: return <f64>vv.maxtcpcb;
    case 6: return <f64>(vv.hashmask + 1);
    case 7: return <f64>vv.sendbuf_auto;
    case 8: return <f64>vv.recvbuf_auto;
    case 9: return <f64>vv.sendbuf_max;
    case 10: return <f64>vv.recvbuf_max;
    case 11: return <f64>vv.sc_bucketlimit;
    case 12: return <f64>vv.sc_cachelimit;
    case 13: return <f64>vv.syncookies_only;
    case 14: return <f64>vv.sc_count;
    case 15: return <f64>vv.rst_limit;
  }
  return -1;
}

export function tcp_set(v: usize, what: u32, value: u32): i32 {
  if (!vOk(v)) return -EINVAL;
  const vv = VV(v);
  if (what == 0 && value <= 1) vv.cc_default = value;
  else if (what == 1 && value <= 1) vv.use_sack = value;
  else if (what == 2 && value <= 1) vv.use_rfc1323 = value;
  else if (what == 3 && value <= 1) vv.syncookies = value;
  else if (what == 4) vv.ack_limit = value;
  else if (what == 5 && value >= 1) tcp_set_maxtcpcb(v, value);
  else if (what == 7 && value <= 1) vv.sendbuf_auto = value;
  else if (what == 8 && value <= 1) vv.recvbuf_auto = value;
  else if (what == 9 && value >= 1 && value <= SB_MAX) vv.sendbuf_max = value;
  else if (what == 10 && value >= 1 && value <= SB_MAX) vv.recvbuf_max = value;
  else if (what == 11 && value >= 1 && value <= 65535) vv.sc_bucketlimit = value;
  else if (what == 12 && value >= 1 && value <= 1 << 20) {
    vv.sc_cachelimit = value;
    zone_set_vnet_limit(TcpGlobals.sczone, VNET_VNET(v, 0), value);
  } else if (what == 13 && value <= 1) vv.syncookies_only = value;
  else if (what == 15) vv.rst_limit = value;
  else if (what == 6) {
    const old = CURVNET_SET(v);
    const r = tcp_hash_resize(value);
    CURVNET_RESTORE(old);
    return r;
  } else return -EINVAL;
  return 0;
}

export { CURVNET_SET, CURVNET_RESTORE };
