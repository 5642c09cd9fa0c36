// Sockets: constants, struct socket and struct sockbuf layouts, sockaddrs, and the
// protocol switch's user-request table (FreeBSD sys/socket.h, socketvar.h, sockbuf.h,
// protosw.h). The kernel and every protocol module include this file, so the layouts are a
// contract: change one and every module must be rebuilt. The operations live in
// kern/uipc_socket.ts, kern/uipc_sockbuf.ts and kern/uipc_domain.ts (kernel exports; a
// module imports them through kmod/kapi.ts).
//
// Addresses. The socket layer treats a sockaddr as opaque bytes: sa_len (u8) then sa_family
// (u8), as BSD does, at most SOCK_MAXADDRLEN bytes. Only protocols look inside. sockaddr_in
// is BSD's 16 bytes exactly; port and address are in NETWORK byte order in memory, the
// accessors below take and return host order (the convention of sys/in.ts).

export { AF_INET, AF_INET6 } from "./if";
export const AF_UNSPEC: u32 = 0;
export const AF_LOCAL: u32 = 1;

// Socket types
export const SOCK_STREAM: u32 = 1;
export const SOCK_DGRAM: u32 = 2;
export const SOCK_RAW: u32 = 3;
export const SOCK_SEQPACKET: u32 = 5;

// Option level and socket-level options (FreeBSD values)
export const SOL_SOCKET: i32 = 0xffff;
export const SO_DEBUG: i32 = 0x0001;
export const SO_ACCEPTCONN: i32 = 0x0002; // get only: listen() was called
export const SO_REUSEADDR: i32 = 0x0004;
export const SO_KEEPALIVE: i32 = 0x0008;
export const SO_DONTROUTE: i32 = 0x0010;
export const SO_BROADCAST: i32 = 0x0020;
export const SO_LINGER: i32 = 0x0080; // int value here: seconds >= 0 = on, < 0 = off
export const SO_OOBINLINE: i32 = 0x0100;
export const SO_REUSEPORT: i32 = 0x0200;
export const SO_REUSEPORT_LB: i32 = 0x10000; // listeners sharing a port take turns by connection hash
export const SO_SNDBUF: i32 = 0x1001;
export const SO_RCVBUF: i32 = 0x1002;
export const SO_SNDLOWAT: i32 = 0x1003;
export const SO_RCVLOWAT: i32 = 0x1004;
export const SO_ERROR: i32 = 0x1007; // get only; reading clears it
export const SO_TYPE: i32 = 0x1008; // get only
export const SO_PROTOCOL: i32 = 0x1016; // get only
/** so_options bits that setsockopt turns on and off (the boolean options). */
export const SO_BOOLOPTS: u32 = 0x0001 | 0x0004 | 0x0008 | 0x0010 | 0x0020 | 0x0100 | 0x0200 | 0x10000;

// pru_ctloutput direction (sopt_dir)
export const SOPT_SET: i32 = 1;
export const SOPT_GET: i32 = 2;

// send/recv flags (FreeBSD values)
export const MSG_OOB: i32 = 0x1;
export const MSG_PEEK: i32 = 0x2;
export const MSG_DONTROUTE: i32 = 0x4;
export const MSG_EOR: i32 = 0x8;
export const MSG_TRUNC: i32 = 0x10; // out: the datagram was longer than the buffer
export const MSG_CTRUNC: i32 = 0x20;
export const MSG_WAITALL: i32 = 0x40;
export const MSG_DONTWAIT: i32 = 0x80; // every host call is non-blocking anyway
export const MSG_EOF: i32 = 0x100;
export const MSG_NOSIGNAL: i32 = 0x20000;

// shutdown(how)
export const SHUT_RD: i32 = 0;
export const SHUT_WR: i32 = 1;
export const SHUT_RDWR: i32 = 2;

// so_state (FreeBSD values; CANT* are the old SS_ bits, sb_state's SBS_ in later BSDs)
export const SS_NOFDREF: u32 = 0x0001; // no host handle (queued for accept, or closing)
export const SS_ISCONNECTED: u32 = 0x0002;
export const SS_ISCONNECTING: u32 = 0x0004;
export const SS_ISDISCONNECTING: u32 = 0x0008;
export const SS_CANTSENDMORE: u32 = 0x0010;
export const SS_CANTRCVMORE: u32 = 0x0020;
export const SS_RCVATMARK: u32 = 0x0040;
export const SS_NBIO: u32 = 0x0100; // always set: the kernel never blocks
export const SS_ISCONFIRMING: u32 = 0x0400;
export const SS_ISDISCONNECTED: u32 = 0x2000;
export const SS_PROTOREF: u32 = 0x4000; // the protocol still references the socket

// Events to the host (ORed into so_evbits, delivered through the event ring)
export const SE_READABLE: u32 = 1; // data, a datagram, EOF or an error to read
export const SE_WRITABLE: u32 = 2; // send space after a send returned EAGAIN
export const SE_CONNECTED: u32 = 4;
export const SE_CLOSED: u32 = 8; // the kernel freed the socket (vnet teardown, abort)
export const SE_ERROR: u32 = 16; // so_error was set
export const SE_ACCEPTABLE: u32 = 32; // a connection waits on a listening socket
export const SE_ALL: u32 = 63;

// sb_flags
export const SB_SEL: u16 = 0x0008; // the host waits for this buffer: next wakeup posts an event
export const SB_AUTOSIZE: u16 = 0x0800; // the protocol may grow sb_hiwat (TCP autotuning); SO_SNDBUF/SO_RCVBUF clear it
export const SB_STREAM: u16 = 0x1000; // byte stream (one record), not records

// pr_flags, derived from the socket type at registration (FreeBSD protosw.h values)
export const PR_ATOMIC: u32 = 0x01; // each send is one record
export const PR_ADDR: u32 = 0x02; // records carry the sender's address
export const PR_CONNREQUIRED: u32 = 0x04;
export const PR_WANTRCVD: u32 = 0x08; // call pru_rcvd after data is read
export const PR_IMPLOPCL: u32 = 0x20;
// Kernel-only: the module serving the entry is being unloaded (kldunload's first checkpoint):
// socket() on it is refused (EPROTONOSUPPORT), and so are connect() and listen() (ECONNABORTED).
export const PR_STOPPING: u32 = 0x8000;

// Buffer sizes. The socket layer sets these by type before pru_attach; a protocol that
// wants others calls soreserve() there (as FreeBSD's udp_attach/tcp_attach do).
export const SB_MAX: u32 = 2 * 1024 * 1024; // kern.ipc.maxsockbuf
export const SB_MAX_ADJ: u32 = <u32>(<u64>SB_MAX * 2048 / (2048 + 256)); // sb_max_adj = 1864135: data part of sb_max
export const DGRAM_SENDSPACE: u32 = 9216; // net.inet.udp.maxdgram
export const DGRAM_RECVSPACE: u32 = 40 * (1024 + 28); // net.inet.udp.recvspace = 42080
export const STREAM_SENDSPACE: u32 = 32768; // net.inet.tcp.sendspace
export const STREAM_RECVSPACE: u32 = 65536; // net.inet.tcp.recvspace
export const SOMAXCONN: u32 = 128; // kern.ipc.soacceptqueue
export const SB_MBCNT_FACTOR: u32 = 8; // sb_mbmax = 8 * sb_hiwat (FreeBSD sb_efficiency)

// sockaddr (opaque to the socket layer: length and family only)
export const SOCK_MAXADDRLEN: u32 = 128; // what the socket layer copies (sockaddr_storage)
export const SA_LEN: usize = 0;
export const SA_FAMILY: usize = 1;
@inline export function sa_len(sa: usize): u32 { return <u32>load<u8>(sa + SA_LEN); }
@inline export function sa_family(sa: usize): u32 { return <u32>load<u8>(sa + SA_FAMILY); }

// struct sockaddr_in: 16 bytes, port and address in network order
export const SOCKADDR_IN_SIZE: u32 = 16;
export const SIN_PORT: usize = 2;
export const SIN_ADDR: usize = 4;
export const SIN_ZERO: usize = 8;
@inline export function sin_port(sa: usize): u16 { return bswap<u16>(load<u16>(sa + SIN_PORT)); }
@inline export function sin_addr(sa: usize): u32 { return bswap<u32>(load<u32>(sa + SIN_ADDR)); }

/** Write a sockaddr_in for addr:port (host order) at sa. */
@inline export function sockaddr_in_set(sa: usize, addr: u32, port: u16): void {
  store<u8>(sa + SA_LEN, <u8>SOCKADDR_IN_SIZE);
  store<u8>(sa + SA_FAMILY, 2);
  store<u16>(sa + SIN_PORT, bswap<u16>(port));
  store<u32>(sa + SIN_ADDR, bswap<u32>(addr));
  store<u64>(sa + SIN_ZERO, 0);
}

// struct sockaddr_in6: 28 bytes (for IPv6, later)
export const SOCKADDR_IN6_SIZE: u32 = 28;
export const SIN6_PORT: usize = 2;
export const SIN6_FLOWINFO: usize = 4;
export const SIN6_ADDR: usize = 8;
export const SIN6_SCOPE_ID: usize = 24;

/** Write a sockaddr_in6 for the v4-mapped address ::ffff:addr, port (host order) at sa (RFC 4291 2.5.5.2). */
export function sockaddr_in6_mapped(sa: usize, addr: u32, port: u16): void {
  store<u8>(sa + SA_LEN, <u8>SOCKADDR_IN6_SIZE);
  store<u8>(sa + SA_FAMILY, 28); // AF_INET6
  store<u16>(sa + SIN6_PORT, bswap<u16>(port));
  store<u32>(sa + SIN6_FLOWINFO, 0);
  store<u64>(sa + SIN6_ADDR, 0);
  store<u32>(sa + SIN6_ADDR + 8, bswap<u32>(0xffff));
  store<u32>(sa + SIN6_ADDR + 12, bswap<u32>(addr));
  store<u32>(sa + SIN6_SCOPE_ID, 0);
}

/**
 * struct sockbuf: one direction of a socket's data. Datagram sockets keep records (each an
 * MT_SONAME mbuf with the sender's address, then the data) linked through m_nextpkt; stream
 * sockets keep one chain of data linked through m_next.
 */
@unmanaged export class Sockbuf {
  sb_mb: usize; // first record (stream: first mbuf)
  sb_mbtail: usize; // last mbuf of the last record
  sb_lastrecord: usize; // first mbuf of the last record
  sb_cc: u32; // bytes in the buffer (addresses and data, as FreeBSD's sb_ccc)
  sb_ctl: u32; // of which non-data (addresses, control)
  sb_hiwat: u32; // limit of sb_cc
  sb_lowat: u32;
  sb_mbcnt: u32; // storage used: MSIZE per mbuf plus cluster sizes
  sb_mbmax: u32; // limit of sb_mbcnt
  sb_flags: u16; // SB_*
  sb_spare: u16; // free for the protocol (TCP: the receive buffer's autotuning RTT start)
  sb_drops: u32; // records refused for lack of space (sbappendaddr)
}

/**
 * struct socket. Allocated by the kernel from the "socket" zone (ZONE_CHARGE, charged to the
 * vnet it was created in); the two sockbufs follow the header at SO_RCV and SO_SND.
 * Protocols read and write so_pcb, so_error, so_state (through soisconnected & co.) and the
 * sockbufs; the rest is the socket layer's.
 */
@unmanaged export class Socket {
  so_magic: u32; // SO_MAGIC while allocated
  so_serial: u32; // never reused: host handles and event records name a socket by it
  so_type: u16; // SOCK_*
  so_family: u16; // AF_* (the domain)
  so_protocol: u16; // protocol number the protosw was registered with
  so_qstate: u16; // SQ_* on a listening socket's queue
  so_proto: usize; // protosw entry (kernel; pffindproto)
  so_pcb: usize; // the protocol's control block
  so_vnet: usize; // struct vnet * the socket lives and is charged in
  so_state: u32; // SS_*
  so_options: u32; // SO_* bits
  so_error: i32; // positive errno, reported once (SO_ERROR, next send/recv)
  so_linger: i32; // seconds (SO_LINGER)
  so_evbits: u32; // SE_* pending for the host
  so_evslot: u32; // event ring slot + 1, 0 = not queued, EVSLOT_LOST = did not fit
  so_next: usize; // the vnet's sockets
  so_prev: usize;
  so_head: usize; // the listening socket this one waits on (accept queue)
  so_qnext: usize; // accept queue links (on the head: first of the queue)
  so_qprev: usize;
  so_qlen: u32; // head: complete connections queued
  so_incqlen: u32; // head: incomplete connections queued
  so_qlimit: u32; // head: listen backlog
  so_qtail: usize; // head: last of the queue
  so_proto_spare: usize; // free for the protocol (TCP: bytes received in the autotuning RTT)
}

export const SO_MAGIC: u32 = 0x534f434b; // "SOCK"
export const SQ_INCOMP: u16 = 1;
export const SQ_COMP: u16 = 2;
export const EVSLOT_LOST: u32 = 0xffffffff;

export const SOCKBUF_SIZE: u32 = offsetof<Sockbuf>();
export const SO_RCV: usize = (offsetof<Socket>() + 7) & ~7;
export const SO_SND: usize = SO_RCV + ((SOCKBUF_SIZE + 7) & ~7);
export const SOCKET_SIZE: u32 = <u32>(SO_SND + ((SOCKBUF_SIZE + 7) & ~7));

if (sizeof<usize>() != 4 || SOCKBUF_SIZE != 44 || offsetof<Socket>("so_pcb") != 20 || offsetof<Socket>("so_vnet") != 24 ||
    offsetof<Socket>("so_state") != 28 || offsetof<Socket>("so_error") != 36) {
  ERROR("struct socket / struct sockbuf layout changed: rebuild every protocol module and update host/socket.ts");
}

@inline export function sosocket(so: usize): Socket { return changetype<Socket>(so); }
@inline export function so_rcv(so: usize): usize { return so + SO_RCV; }
@inline export function so_snd(so: usize): usize { return so + SO_SND; }
@inline export function sockbuf(sb: usize): Sockbuf { return changetype<Sockbuf>(sb); }

/** sbspace: bytes that may still be appended (the smaller of the byte and storage limits). */
@inline export function sbspace(sb: usize): i32 {
  const s = changetype<Sockbuf>(sb);
  const bleft = <i32>s.sb_hiwat - <i32>s.sb_cc;
  const mleft = <i32>s.sb_mbmax - <i32>s.sb_mbcnt;
  return bleft < mleft ? bleft : mleft;
}

/**
 * struct pr_usrreqs: the table a protocol module hands to protosw_register, in its own
 * memory: PRU_COUNT u32 table slots (Function#index), 0 = not supported (-EOPNOTSUPP).
 * Every request returns 0 or a negative errno; curvnet is the socket's vnet.
 *
 *   pru_attach(so, proto: i32): i32        make the pcb (so_pcb); may call soreserve
 *   pru_detach(so): void                   free the pcb; the socket is freed right after and
 *                                          the protocol must keep no reference to it
 *   pru_bind(so, sa): i32
 *   pru_connect(so, sa): i32               call soisconnecting / soisconnected
 *   pru_disconnect(so): i32
 *   pru_listen(so, backlog: i32): i32      before the socket layer marks it listening
 *   pru_accept(so, sa_out): i32            the peer's address into sa_out (SOCK_MAXADDRLEN)
 *   pru_send(so, m, sa, control, flags: i32): i32
 *                                          always takes ownership of m and control; sa is 0
 *                                          when none was given (connected socket)
 *   pru_rcvd(so, flags: i32): void         data was read (PR_WANTRCVD: stream sockets)
 *   pru_shutdown(so): i32                  no more sends (socantsendmore was called)
 *   pru_sockaddr(so, sa_out): i32
 *   pru_peeraddr(so, sa_out): i32
 *   pru_ctloutput(so, dir: i32, level: i32, name: i32, valp: usize): i32
 *                                          SOPT_SET/SOPT_GET of an int at valp; also told of
 *                                          SOL_SOCKET sets after the socket layer applied them
 *                                          (its result is ignored then)
 *   pru_abort(so): void                    drop the connection now (teardown, accept queue
 *                                          of a closed listener); pru_detach follows
 */
export const PRU_ATTACH: usize = 0;
export const PRU_DETACH: usize = 4;
export const PRU_BIND: usize = 8;
export const PRU_CONNECT: usize = 12;
export const PRU_DISCONNECT: usize = 16;
export const PRU_LISTEN: usize = 20;
export const PRU_ACCEPT: usize = 24;
export const PRU_SEND: usize = 28;
export const PRU_RCVD: usize = 32;
export const PRU_SHUTDOWN: usize = 36;
export const PRU_SOCKADDR: usize = 40;
export const PRU_PEERADDR: usize = 44;
export const PRU_CTLOUTPUT: usize = 48;
export const PRU_ABORT: usize = 52;
export const PRU_COUNT: u32 = 14;
export const PRU_SIZE: u32 = PRU_COUNT * 4;

/** pr_flags for a socket type (what FreeBSD's protosw entries declare for UDP, TCP, raw). */
@inline export function pr_flags_for_type(type: u32): u32 {
  return type == SOCK_STREAM ? PR_CONNREQUIRED | PR_WANTRCVD | PR_IMPLOPCL :
    type == SOCK_SEQPACKET ? PR_CONNREQUIRED | PR_ATOMIC | PR_WANTRCVD : PR_ATOMIC | PR_ADDR;
}
