// UDP from the host: the udp module's per-vnet counters (netstat -s -p udp), its knobs
// (net.inet.ip.portrange.first/last), and batched send and receive on UDP sockets (one Wasm
// call per batch instead of one per datagram: the dgram object reads this way, and the
// udp_pps benchmark sends and receives through it). Typed functions over the module's
// exports (assembly/netinet/udp/udp_hostapi.ts).

import { checkVnet, checkKernel, type Kernel, type Vnet } from "../kern/kernel.js";
import { ConfigError, KernelError, ModuleNotLoadedError, Errno, errnoName } from "../lib/errors.js";
import { Socket, SocketError, SocketClosedError, sockaddrIn, SOCK_DGRAM, AF_INET, MSG } from "../sockets/socket.js";
import { formatIPv4, parseIPv4 } from "../lib/addr.js";
import { show } from "../lib/format.js";
import { integerArg } from "../lib/check.js";

export const IPPROTO_UDP = 17;
/** The largest UDP payload IPv4 carries (65535 - 20 - 8). */
export const UDP_MAXPAYLOAD = 65507;
const IOBUF_SIZE = 65536;

/** The udp module's host exports. */
export interface UdpExports {
  udp_stat(v: number, i: number): number;
  udp_get(v: number, what: number): number;
  udp_set(v: number, what: number, value: number): number;
  udp_busy(): number;
  udp_sendmmsg(so: number, n: number, salen: number, flags: number): number;
  udp_recvmmsg(so: number, max: number, keepError: number): number;
  udp_batch_error(): number;
  udp_sendmsg(so: number, len: number, salen: number, clen: number, flags: number): number;
  udp_recvmsg(so: number, maxlen: number, flags: number): number;
  udp_rcvdstaddr(): number;
}

/** The udp exports; ModuleNotLoadedError when udp is not loaded. */
export function udp(kernel: Kernel, what: string): UdpExports {
  checkKernel(kernel, what);
  if (!kernel.linker.isLoaded("udp")) throw new ModuleNotLoadedError(`${what}: the udp module is not loaded (kldload("udp"), or boot the GENERIC configuration)`);
  return kernel.module<UdpExports>("udp");
}


// ---------------------------------------------------------------------------------------
// netstat -s -p udp

/** udpstat, FreeBSD's names without the udps_ prefix (assembly/netinet/udp/udp_var.ts order). */
export const UDPSTATS = ["ipackets", "hdrops", "badsum", "nosum", "badlen", "noport", "noportbcast", "fullsock", "opackets", "delivered", "odropped"] as const;
export type UdpStats = Record<(typeof UDPSTATS)[number], number>;

export function udpStats(kernel: Kernel, vnet: Vnet): UdpStats {
  checkVnet(kernel, vnet, "netstat -s -p udp");
  const x = udp(kernel, "netstat -s -p udp");
  const out = {} as UdpStats;
  UDPSTATS.forEach((n, i) => (out[n] = x.udp_stat(vnet.ptr, i)));
  return out;
}

/** netstat -s -p udp, in FreeBSD's wording. */
export function netstatUdp(kernel: Kernel, vnet: Vnet): string {
  const s = udpStats(kernel, vnet);
  return [
    "udp:",
    `\t${s.ipackets} datagrams received`,
    `\t${s.hdrops} with incomplete header`,
    `\t${s.badlen} with bad data length field`,
    `\t${s.badsum} with bad checksum`,
    `\t${s.nosum} with no checksum`,
    `\t${s.noport} dropped due to no socket`,
    `\t${s.noportbcast} broadcast/multicast datagrams undelivered`,
    `\t${s.fullsock} dropped due to full socket buffers`,
    `\t${s.delivered} delivered`,
    `\t${s.opackets} datagrams output`,
    `\t${s.odropped} datagrams not sent (no route, not allowed, no buffers)`,
  ].join("\n");
}

// ---------------------------------------------------------------------------------------
// Knobs

/** udp_get / udp_set selectors, named as assembly/netinet/udp/udp_hostapi.ts names them (K_*). */
const K = { PORTFIRST: 0, PORTLAST: 1, PCBS: 2 } as const;

/** net.inet.ip.portrange.first/last of a vnet: where ephemeral ports come from (default 10000-65535). */
export function portRange(kernel: Kernel, vnet: Vnet): { first: number; last: number } {
  checkVnet(kernel, vnet, "net.inet.ip.portrange");
  const x = udp(kernel, "net.inet.ip.portrange");
  return { first: x.udp_get(vnet.ptr, K.PORTFIRST), last: x.udp_get(vnet.ptr, K.PORTLAST) };
}

export function setPortRange(kernel: Kernel, vnet: Vnet, first: number, last: number): void {
  const what = `net.inet.ip.portrange ${first}-${last}`;
  checkVnet(kernel, vnet, what);
  const x = udp(kernel, what);
  for (const [n, v] of [["first", first], ["last", last]] as const) {
    if (!Number.isInteger(v) || v < 1 || v > 65535) throw new ConfigError(`${what}: ${n} must be an integer 1-65535, got ${v}`);
  }
  if (first > last) throw new ConfigError(`${what}: first is above last`);
  // Widen before narrowing so the kernel's first <= last check holds at each step.
  const cur = portRange(kernel, vnet);
  const order: [number, number][] = first > cur.last ? [[K.PORTLAST, last], [K.PORTFIRST, first]] : [[K.PORTFIRST, first], [K.PORTLAST, last]];
  for (const [w, v] of order) {
    const r = x.udp_set(vnet.ptr, w, v);
    if (r !== 0) throw new KernelError(what, r);
  }
}

/** Gauges: PCBs in the vnet. */
export function udpGauges(kernel: Kernel, vnet: Vnet): { pcbs: number } {
  checkVnet(kernel, vnet, "udp gauges");
  return { pcbs: udp(kernel, "udp gauges").udp_get(vnet.ptr, K.PCBS) };
}

/** UDP sockets open in the whole kernel (kldunload udp is refused while any is). */
export function udpSocketsOpen(kernel: Kernel): number {
  return kernel.linker.isLoaded("udp") ? kernel.module<UdpExports>("udp").udp_busy() : 0;
}

// ---------------------------------------------------------------------------------------
// Batches

export interface UdpDatagram {
  data: Uint8Array;
  address: string;
  port: number;
}

function checkUdp(kernel: Kernel, s: Socket, what: string): UdpExports {
  if (!(s instanceof Socket)) throw new ConfigError(`${what}: expected a Socket, got ${show(s)}`);
  if (s.vnet.kernel !== kernel) throw new ConfigError(`${what}: ${s} belongs to another kernel`);
  if (s.closed) throw new SocketClosedError(`${what}: ${s} is closed`);
  if (s.family !== AF_INET || s.type !== SOCK_DGRAM || s.protocol !== IPPROTO_UDP) throw new ConfigError(`${what}: ${s} is not a UDP socket`);
  return udp(kernel, what);
}

/**
 * Send datagrams from a UDP socket in as few kernel calls as the I/O buffer allows (64 KiB
 * of records per call), to address:port or, without one, the connected peer. Returns how
 * many went; throws SocketError for an error before the first one went. An error after
 * some went ends the batch: the count says how far it got (and `lastError` has the errno).
 */
export function sendBatch(kernel: Kernel, s: Socket, datagrams: readonly Uint8Array[], address?: string, port?: number): { sent: number; lastError?: string } {
  const what = `sendBatch${address !== undefined ? ` ${address}:${port}` : ""} (${s})`;
  const x = checkUdp(kernel, s, what);
  if (!Array.isArray(datagrams)) throw new ConfigError(`${what}: datagrams must be an array of Uint8Array, got ${show(datagrams)}`);
  const bad = datagrams.findIndex((d) => !(d instanceof Uint8Array));
  if (bad >= 0) throw new ConfigError(`${what}: datagram ${bad} is ${show(datagrams[bad])}, not a Uint8Array`);
  if (address !== undefined && port === undefined) throw new ConfigError(`${what}: a port is needed with address ${address}`);
  const sa = address !== undefined ? sockaddrIn(address, port!) : undefined;
  let sent = 0;
  let i = 0;
  while (i < datagrams.length) {
    const r = kernel.enter(() => {
      const k = kernel.k as unknown as { kern_iobuf(): number; kern_sabuf(): number };
      const mem = new Uint8Array(kernel.memory.buffer);
      const buf = k.kern_iobuf();
      let off = 0;
      let n = 0;
      while (i + n < datagrams.length) {
        const d = datagrams[i + n];
        if (d.length > UDP_MAXPAYLOAD) {
          if (n === 0) throw new SocketError(`${what}: a ${d.length}-byte datagram is more than UDP carries (${UDP_MAXPAYLOAD})`, -Errno.EMSGSIZE);
          break;
        }
        if (off + 2 + d.length > IOBUF_SIZE) break;
        mem[buf + off] = d.length & 0xff;
        mem[buf + off + 1] = d.length >>> 8;
        mem.set(d, buf + off + 2);
        off += 2 + d.length;
        n++;
      }
      if (sa) mem.set(sa, k.kern_sabuf());
      const got = x.udp_sendmmsg(s.ptr, n, sa ? sa.length : 0, 0);
      return { got, n };
    });
    if (r.got < 0) {
      if (sent === 0) throw new SocketError(what, r.got);
      return { sent, lastError: errnoName(r.got) };
    }
    sent += r.got;
    i += r.got;
    if (r.got < r.n) {
      const e = x.udp_batch_error();
      return { sent, lastError: e ? errnoName(e) : undefined };
    }
  }
  return { sent };
}

/**
 * Receive up to max queued datagrams from a UDP socket (as many kernel calls as 64 KiB
 * batches take). An empty array: nothing queued (the socket's 'readable' will say when).
 * A pending error (an ICMP error on a connected socket) throws SocketError once.
 */
export function recvBatch(kernel: Kernel, s: Socket, max = Infinity): UdpDatagram[] {
  const what = `recvBatch (${s})`;
  const x = checkUdp(kernel, s, what);
  if (max !== Infinity) integerArg(`${what}: max`, max, 0, Number.MAX_SAFE_INTEGER, " (or Infinity)");
  const out: UdpDatagram[] = [];
  while (out.length < max) {
    const want = Math.min(max - out.length, 0x7fffffff);
    const r = kernel.enter(() => {
      const n = x.udp_recvmmsg(s.ptr, want, out.length > 0 ? 1 : 0);
      if (n <= 0) return n;
      const buf = (kernel.k as unknown as { kern_iobuf(): number }).kern_iobuf();
      const dv = kernel.dv();
      let off = buf;
      for (let j = 0; j < n; j++) {
        const len = dv.getUint16(off, true);
        const port = dv.getUint16(off + 2, true);
        const addr = dv.getUint32(off + 4, true);
        out.push({ data: new Uint8Array(kernel.memory.buffer, off + 8, len).slice(), address: formatIPv4(addr), port });
        off += 8 + len;
      }
      return n;
    });
    if (r === -Errno.EAGAIN || r === 0) break;
    if (r < 0) {
      if (out.length > 0) break; // left pending: the next call reports it
      throw new SocketError(`recvmsg (${s})`, r);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// sendmsg / recvmsg with control messages (docs/udp-cmsg.md)

/** IPPROTO_IP option and control-message numbers (FreeBSD netinet/in.h; both are 7 on purpose). */
export const IPPROTO_IP = 0;
export const IP_RECVDSTADDR = 7;
export const IP_SENDSRCADDR = 7;

export interface UdpSendmsgOptions {
  /** The destination; without it, the connected peer. */
  address?: string;
  port?: number;
  /** IP_SENDSRCADDR: the source address of this datagram (an address of the vnet; the socket must be bound). */
  srcAddress?: string;
  /** MSG_* flags. */
  flags?: number;
  /**
   * Further control messages, raw, in wavnet's layout (docs/udp-cmsg.md): records of
   * [cmsg_len u32][cmsg_level i32][cmsg_type i32][data], little-endian, each 4-byte aligned;
   * at most 224 bytes with the IP_SENDSRCADDR record. For programs that build their own.
   */
  control?: Uint8Array;
}

export interface UdpMessage extends UdpDatagram {
  /** The datagram was longer than maxlen: the rest was discarded (MSG_TRUNC). */
  truncated: boolean;
  /** IP_RECVDSTADDR: the address the datagram was sent to, when the option was on at its arrival. */
  dstAddress?: string;
}

/**
 * sendmsg(2) on a UDP socket: one datagram, with an IP_SENDSRCADDR control message when
 * srcAddress is given. Returns the bytes sent; SocketError with FreeBSD's errno otherwise
 * (EINVAL: IP_SENDSRCADDR on a socket with no local port, EADDRNOTAVAIL: not our address).
 */
export function sendmsg(kernel: Kernel, s: Socket, data: Uint8Array, opts: UdpSendmsgOptions = {}): number {
  const what = `sendmsg (${s})`;
  const x = checkUdp(kernel, s, what);
  if (!(data instanceof Uint8Array)) throw new ConfigError(`${what}: data must be a Uint8Array, got ${show(data)}`);
  if (data.length > UDP_MAXPAYLOAD) throw new SocketError(`${what}: a ${data.length}-byte datagram is more than UDP carries (${UDP_MAXPAYLOAD})`, -Errno.EMSGSIZE);
  const { address, port, srcAddress, flags = 0, control } = opts;
  if (control !== undefined && !(control instanceof Uint8Array)) throw new ConfigError(`${what}: control must be a Uint8Array, got ${show(control)}`);
  if (control !== undefined && data.length + 16 + control.length > IOBUF_SIZE) throw new SocketError(`${what}: ${data.length} bytes of data and ${control.length} of control are more than one call carries (${IOBUF_SIZE})`, -Errno.EMSGSIZE);
  if (address !== undefined && port === undefined) throw new ConfigError(`${what}: a port is needed with address ${address}`);
  integerArg(`${what}: flags`, flags, 0, 0x7fffffff);
  const sa = address !== undefined ? sockaddrIn(address, port!) : undefined;
  let src: number | undefined;
  if (srcAddress !== undefined) src = parseIPv4(srcAddress, `${what}: srcAddress`);
  const r = kernel.enter(() => {
    const k = kernel.k as unknown as { kern_iobuf(): number; kern_sabuf(): number };
    const buf = k.kern_iobuf();
    const mem = new Uint8Array(kernel.memory.buffer);
    mem.set(data, buf);
    let clen = 0;
    if (src !== undefined) {
      // One record: cmsg_len 16, IPPROTO_IP, IP_SENDSRCADDR, the address in network order.
      const dv = kernel.dv();
      const c = buf + data.length;
      dv.setUint32(c, 16, true);
      dv.setInt32(c + 4, IPPROTO_IP, true);
      dv.setInt32(c + 8, IP_SENDSRCADDR, true);
      dv.setUint32(c + 12, src, false);
      clen = 16;
    }
    if (control !== undefined) {
      mem.set(control, buf + data.length + clen);
      clen += control.length;
    }
    if (sa) mem.set(sa, k.kern_sabuf());
    return x.udp_sendmsg(s.ptr, data.length, sa ? sa.length : 0, clen, flags);
  });
  if (r < 0) throw new SocketError(`${what}${address !== undefined ? ` to ${address}:${port}` : ""}${srcAddress !== undefined ? ` from ${srcAddress}` : ""}`, r);
  return r;
}

/**
 * recvmsg(2) on a UDP socket: one datagram of up to maxlen bytes with its sender and, when
 * IP_RECVDSTADDR was on (setsockopt(IPPROTO_IP, IP_RECVDSTADDR, 1)) as it arrived, its
 * destination address; null when nothing is queued ('readable' will say when).
 */
export function recvmsg(kernel: Kernel, s: Socket, maxlen = IOBUF_SIZE, flags = 0): UdpMessage | null {
  const what = `recvmsg (${s})`;
  const x = checkUdp(kernel, s, what);
  integerArg(`${what}: maxlen`, maxlen, 0, IOBUF_SIZE);
  integerArg(`${what}: flags`, flags, 0, 0x7fffffff);
  const r = kernel.enter(() => {
    const n = x.udp_recvmsg(s.ptr, maxlen, flags);
    if (n < 0) return n;
    const k = kernel.k as unknown as { kern_iobuf(): number; kern_sabuf(): number; soh_recvflags(): number };
    const dv = kernel.dv();
    const sa = k.kern_sabuf();
    const named = dv.getUint8(sa) !== 0;
    const dst = x.udp_rcvdstaddr();
    const m: UdpMessage = {
      data: new Uint8Array(kernel.memory.buffer, k.kern_iobuf(), n).slice(),
      address: named ? formatIPv4(dv.getUint32(sa + 4, false)) : "0.0.0.0",
      port: named ? dv.getUint16(sa + 2, false) : 0,
      truncated: (k.soh_recvflags() & MSG.TRUNC) !== 0,
    };
    if (dst >= 0) m.dstAddress = formatIPv4(dst);
    return m;
  });
  if (r === -Errno.EAGAIN) return null;
  if (typeof r === "number") throw new SocketError(what, r);
  return r;
}
