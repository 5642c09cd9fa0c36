// ICMP (RFC 792, RFC 1122 3.2.2, RFC 1812 4.3; FreeBSD netinet/ip_icmp.c), and the echo
// service the host's ping and traceroute drive without sockets.
//
// icmp_error never answers an ICMP error, a fragment other than the first, a link- or
// IP-level broadcast/multicast, or a packet whose source is not a unicast host; it is
// rate limited per vnet by a token bucket of net.inet.icmp.icmplim errors per second
// (default 200) on kernel time; it quotes the IP header and the first 8 bytes of data, as
// the wire carried them (a checksum left to the interface is finished in the quote). Its
// source is the address the offending packet was sent to if that is ours, else the address
// of the interface it came in on (so traceroute sees each router's inbound address).
//
// icmp_input answers echo requests (not broadcast ones: FreeBSD's icmpbmcastecho=0),
// passes errors to the quoted protocol's ctlinput, and logs echo replies and errors about
// our own echo requests in the vnet's ping log (a page made by the first ping sent from
// the vnet; 127 records; the host drains it).

import {
  m_gethdr, m_freem, m_pullup, m_copydata, m_append, m_adj, m_dup, in_cksum, in_cksum_buf, in_cksum_update, ticks,
  kmem_alloc, kmem_free, if_valid, curvnet, in_delayed_cksum_value,
} from "../kmod/kapi";
import { Ifnet } from "../sys/if";
import { Mbuf, M_BCAST, M_MCAST, M_WRITABLE, MT_DATA, CSUM_DELAY_DATA, mtod } from "../sys/mbuf";
import {
  IP_HDR_MIN, IP_OFFMASK, IPPROTO_ICMP, INADDR_BROADCAST, INADDR_ANY, IP_MAXPACKET, IPVERSION,
  ICMP_ECHO, ICMP_ECHOREPLY, ICMP_UNREACH, ICMP_TIMXCEED, ICMP_PARAMPROB, ICMP_SOURCEQUENCH, ICMP_UNREACH_NEEDFRAG,
  ICMP_MINLEN, ICMP_ADVLENMIN, ICMP_MAXTYPE, ICMP_IS_ERROR, ICMP_TYPE, ICMP_CODE, ICMP_CKSUM, ICMP_ID, ICMP_SEQ,
  ICMP_NEXTMTU, ICMP_IP, ICMP_GWADDR, ICMP_REDIRECT, ICMP_TSTAMP, ICMP_TSTAMPREPLY, ICMP_RTIME, ICMP_TTIME, ICMP_TSLEN, IN_MULTICAST, IN_EXPERIMENTAL, ip_hl, ip_len, ip_off, ip_p, ip_src, ip_dst, ip_ttl, ip_tos, ip_v,
  ip_fill,
} from "../sys/in";
import {
  V, InetVnet, InIfaddr, ICMPSTAT_INC, ICPS_ERROR, ICPS_OLDICMP, ICPS_BADCODE, ICPS_TOOSHORT, ICPS_CHECKSUM, ICPS_BADLEN, ICPS_REFLECT,
  ICPS_BMCASTECHO, ICPS_BMCASTTSTAMP, ICPS_RATELIMIT, ICPS_NOERROR, ICPS_INHIST, ICPS_OUTHIST, MAX_LINKHDR, IP_DONTFRAG, EMSGSIZE,
  Rtentry, RTF_GATEWAY, RTF_HOST, RTF_DYNAMIC,
} from "./ip_var";
import { rt_lookup, rt_insert } from "./in_rmx";
import { in_localip, in_broadcast, in_ifaddr_for } from "./in";
import { ip_output, IP_REFLECT } from "./ip_output";
import { ipproto_ctlinput } from "./ip_input";
import { rl_check } from "../net/ratelimit";

const QUOTE_DATA: u32 = 8; // bytes of the offending datagram's data quoted after its header

// ---------------------------------------------------------------------------------------
// Rate limit: icmplim errors a second, by the shared limiter (net/ratelimit.ts).

@inline function icmp_ratelimit(): bool {
  const vv = V();
  return rl_check(changetype<usize>(vv) + offsetof<InetVnet>("icmp_credit"), vv.icmplim, ticks());
}

/** rcvif if it is a live interface of this vnet, else 0 (held packets can outlive it). */
function rcvif_here(m: usize): usize {
  const ifp = changetype<Mbuf>(m).ph_rcvif;
  if (ifp == 0 || !if_valid(ifp) || changetype<Ifnet>(ifp).if_vnet != curvnet()) return 0;
  return ifp;
}

/** The address an error or reply about packet (src -> dst, arrived on rcvif) leaves from; 0 = route's. */
function reflect_src(dst: u32, src: u32, rcvif: usize): u32 {
  if (in_localip(dst)) return dst;
  if (rcvif != 0) {
    const a = in_ifaddr_for(rcvif, src);
    if (a != 0) return changetype<InIfaddr>(a).ia_addr;
  }
  return 0;
}


/**
 * icmp_error: send an error of type/code about packet n (starting at its IP header, the
 * header contiguous). arg: next-hop MTU for fragmentation needed, the pointer for a
 * parameter problem. n is consumed.
 */
export function icmp_error(n: usize, type: u8, code: u8, arg: u32): void {
  ICMPSTAT_INC(ICPS_ERROR);
  const nn = changetype<Mbuf>(n);
  const oip = mtod(n);
  const ohlen = ip_hl(oip);
  const oiplen = min<u32>(ip_len(oip), <u32>nn.ph_len);
  if ((ip_off(oip) & IP_OFFMASK) != 0 || (nn.m_flags & (M_BCAST | M_MCAST)) != 0) {
    ICMPSTAT_INC(ICPS_NOERROR);
    m_freem(n);
    return;
  }
  if (ip_p(oip) == IPPROTO_ICMP && oiplen >= ohlen + ICMP_MINLEN) {
    let t: u8 = 0;
    if (!m_copydata(n, <i32>ohlen, 1, changetype<usize>(scratch))) t = 0xff;
    else t = load<u8>(scratch);
    if (t > ICMP_MAXTYPE || ICMP_IS_ERROR(t)) {
      ICMPSTAT_INC(ICPS_OLDICMP);
      m_freem(n);
      return;
    }
  }
  const osrc = ip_src(oip);
  const odst = ip_dst(oip);
  const rcvif = rcvif_here(n);
  if (osrc == INADDR_ANY || osrc == INADDR_BROADCAST || IN_MULTICAST(osrc) || IN_EXPERIMENTAL(osrc) ||
      IN_MULTICAST(odst) || odst == INADDR_BROADCAST || (rcvif != 0 && (in_broadcast(osrc, rcvif) || in_broadcast(odst, rcvif)))) {
    ICMPSTAT_INC(ICPS_NOERROR);
    m_freem(n);
    return;
  }
  if (!icmp_ratelimit()) {
    ICMPSTAT_INC(ICPS_RATELIMIT);
    m_freem(n);
    return;
  }
  const quote = min<u32>(oiplen, ohlen + QUOTE_DATA);
  const m = m_gethdr(MT_DATA);
  if (m == 0) {
    m_freem(n);
    return;
  }
  const mm = changetype<Mbuf>(m);
  mm.m_data += MAX_LINKHDR + IP_HDR_MIN;
  const icp = mtod(m);
  store<u8>(icp + ICMP_TYPE, type);
  store<u8>(icp + ICMP_CODE, code);
  store<u16>(icp + ICMP_CKSUM, 0);
  store<u32>(icp + 4, 0);
  if (type == ICMP_UNREACH && code == ICMP_UNREACH_NEEDFRAG) store<u16>(icp + ICMP_NEXTMTU, bswap<u16>(<u16>arg));
  else if (type == ICMP_PARAMPROB) store<u8>(icp + 4, <u8>arg);
  m_copydata(n, 0, <i32>quote, icp + ICMP_IP);
  // A packet that left its transport checksum to the interface (CSUM_DELAY_DATA, an
  // epair's offload; also when received that way and forwarded) holds only the
  // pseudo-header sum in that field. The quote must be what the wire carries (RFC 792: the
  // source matches the error to its packet by these bytes; a UDP checksum is among the 8),
  // so finish it in the copy, as FreeBSD's icmp_error does (in_delayed_cksum).
  if ((nn.ph_csum_flags & CSUM_DELAY_DATA) != 0) {
    const v = in_delayed_cksum_value(n, 0, nn.ph_csum_flags);
    if (v != 0 && (v >> 16) + 2 <= quote) store<u16>(icp + ICMP_IP + (v >> 16), bswap<u16>(<u16>v));
  }
  mm.m_len = <i32>(ICMP_MINLEN + quote);
  mm.ph_len = mm.m_len;
  store<u16>(icp + ICMP_CKSUM, bswap<u16>(in_cksum_buf(icp, ICMP_MINLEN + quote)));
  const src = reflect_src(odst, osrc, rcvif);
  m_freem(n);
  if (type <= ICMP_MAXTYPE) ICMPSTAT_INC(ICPS_OUTHIST + type);
  ip_output(m, src, osrc, IPPROTO_ICMP, 64, 0, 0, 0);
}

const scratch = memory.data(16, 8);

/** Send a received packet back to its source (echo reply): addresses swapped, options dropped. */
function icmp_reflect(m: usize, hlen: u32): void {
  let ip = mtod(m);
  const src = ip_src(ip);
  const dst = ip_dst(ip);
  const rcvif = rcvif_here(m);
  if (hlen > IP_HDR_MIN) {
    // Drop the options: move the fixed header up against the data.
    memory.copy(ip + hlen - IP_HDR_MIN, ip, IP_HDR_MIN);
    m_adj(m, <i32>(hlen - IP_HDR_MIN));
    ip = mtod(m);
  }
  const len = ip_len(ip) - hlen + IP_HDR_MIN;
  const from = reflect_src(dst, src, rcvif);
  ip_fill(ip, ip_tos(ip), len, <u16>V().ip_id, 0, 64, IPPROTO_ICMP, from, src);
  V().ip_id = (V().ip_id + 1) & 0xffff;
  ICMPSTAT_INC(ICPS_REFLECT);
  ip_output(m, from, src, IPPROTO_ICMP, 64, 0, IP_REFLECT, 0);
}

/** Protocol switch input for IPPROTO_ICMP. */
export function icmp_input(m: usize, hlen: u32): void {
  let ip = mtod(m);
  const icmplen = ip_len(ip) - hlen;
  if (icmplen < ICMP_MINLEN) {
    ICMPSTAT_INC(ICPS_TOOSHORT);
    m_freem(m);
    return;
  }
  if (in_cksum(m, hlen, icmplen, 0) != 0) {
    ICMPSTAT_INC(ICPS_CHECKSUM);
    m_freem(m);
    return;
  }
  // The ICMP header, and for errors the quoted header and 8 bytes, contiguous.
  const want = hlen + min<u32>(icmplen, ICMP_MINLEN + 60 + 8);
  if (<u32>changetype<Mbuf>(m).m_len < want) {
    m = m_pullup(m, <i32>want);
    if (m == 0) {
      ICMPSTAT_INC(ICPS_TOOSHORT);
      return;
    }
    ip = mtod(m);
  }
  const icp = ip + hlen;
  const type = load<u8>(icp + ICMP_TYPE);
  const code = load<u8>(icp + ICMP_CODE);
  if (type > ICMP_MAXTYPE) {
    ICMPSTAT_INC(ICPS_BADCODE);
    m_freem(m);
    return;
  }
  ICMPSTAT_INC(ICPS_INHIST + type);
  if (type == ICMP_REDIRECT) {
    icmp_redirect(m, ip, icp, icmplen, code);
    return;
  }
  if (type == ICMP_ECHO) {
    const dst = ip_dst(ip);
    if ((changetype<Mbuf>(m).m_flags & (M_BCAST | M_MCAST)) != 0 || IN_MULTICAST(dst) || !in_localip(dst)) {
      ICMPSTAT_INC(ICPS_BMCASTECHO);
      m_freem(m);
      return;
    }
    if (!M_WRITABLE(m)) {
      const d = m_dup(m);
      m_freem(m);
      if (d == 0) return;
      m = d;
      ip = mtod(m);
    }
    const p = ip + hlen;
    store<u8>(p + ICMP_TYPE, ICMP_ECHOREPLY);
    const ck = in_cksum_update(bswap<u16>(load<u16>(p + ICMP_CKSUM)), (<u16>ICMP_ECHO << 8) | code, (<u16>ICMP_ECHOREPLY << 8) | code);
    store<u16>(p + ICMP_CKSUM, bswap<u16>(ck));
    ICMPSTAT_INC(ICPS_OUTHIST + ICMP_ECHOREPLY);
    icmp_reflect(m, hlen);
    return;
  }
  if (type == ICMP_TSTAMP) {
    icmp_tstamp(m, ip, hlen, icmplen);
    return;
  }
  if (type == ICMP_ECHOREPLY) {
    ping_log_reply(m, ip, hlen, icmplen);
    m_freem(m);
    return;
  }
  if (type == ICMP_UNREACH || type == ICMP_TIMXCEED || type == ICMP_PARAMPROB || type == ICMP_SOURCEQUENCH) {
    if ((type == ICMP_UNREACH && code > 15) || (type == ICMP_TIMXCEED && code > 1) || (type == ICMP_PARAMPROB && code > 2) || (type == ICMP_SOURCEQUENCH && code != 0)) {
      ICMPSTAT_INC(ICPS_BADCODE);
      m_freem(m);
      return;
    }
    const inner = icp + ICMP_IP;
    if (!icmp_quote_ok(inner, icmplen)) {
      ICMPSTAT_INC(ICPS_BADLEN);
      m_freem(m);
      return;
    }
    let cmd = (<u32>type << 8) | code;
    let mtu: u32 = 0;
    if (type == ICMP_UNREACH && code == ICMP_UNREACH_NEEDFRAG) {
      mtu = <u32>bswap<u16>(load<u16>(icp + ICMP_NEXTMTU));
      cmd |= mtu << 16;
    }
    ping_log_error(ip, icp, inner, type, code, mtu);
    const ctl = ipproto_ctlinput(ip_p(inner));
    if (ctl != 0) call_indirect<void>(ctl, cmd, inner, ip_src(ip));
    m_freem(m);
    return;
  }
  m_freem(m); // queries we do not answer
}

/**
 * An error or a redirect quotes the offending datagram's IP header and 8 bytes of what
 * followed (RFC 792): true when the quote at inner is an IPv4 header of a sane length that
 * the message holds whole with those 8 bytes.
 */
@inline function icmp_quote_ok(inner: usize, icmplen: u32): bool {
  return icmplen >= ICMP_ADVLENMIN && ip_v(inner) == IPVERSION && ip_hl(inner) >= IP_HDR_MIN && icmplen >= ICMP_MINLEN + ip_hl(inner) + 8;
}

/**
 * A redirect (RFC 792; RFC 1122 3.2.2.2: a host updates its route): a host route to the
 * quoted destination via the new gateway, when FreeBSD's icmp_verify_redirect_gateway would
 * take it: the gateway is on a connected network and not one of our addresses, and the
 * route now in use for the destination goes through the redirect's sender, on that network,
 * and is not a host route already. Every code is taken as a host redirect (RFC 1122: net
 * redirects are treated as host ones). A forwarding vnet is a router and ignores redirects
 * (RFC 1812 4.3.3.2). The route is RTF_DYNAMIC and goes with the address it leaves from;
 * it does not expire (FreeBSD's net.inet.icmp.redirtimeout). m is consumed.
 */
function icmp_redirect(m: usize, ip: usize, icp: usize, icmplen: u32, code: u32): void {
  if (code > 3) {
    ICMPSTAT_INC(ICPS_BADCODE);
    m_freem(m);
    return;
  }
  const inner = icp + ICMP_IP;
  if (!icmp_quote_ok(inner, icmplen)) {
    ICMPSTAT_INC(ICPS_BADLEN);
    m_freem(m);
    return;
  }
  const gw = bswap<u32>(load<u32>(icp + ICMP_GWADDR));
  const dst = ip_dst(inner);
  const from = ip_src(ip);
  const bmcast = (changetype<Mbuf>(m).m_flags & (M_BCAST | M_MCAST)) != 0;
  m_freem(m);
  if (V().forwarding != 0 || bmcast) return;
  if (IN_MULTICAST(dst) || dst == INADDR_BROADCAST || dst == INADDR_ANY || in_localip(gw)) return;
  const link = rt_lookup(gw);
  if (link == 0 || (changetype<Rtentry>(link).rt_flags & RTF_GATEWAY) != 0) return; // not directly reachable
  const cur = rt_lookup(dst);
  if (cur == 0) return;
  const r = changetype<Rtentry>(cur);
  if ((r.rt_flags & RTF_GATEWAY) == 0 || r.rt_gateway != from || (r.rt_flags & RTF_HOST) != 0) return; // not from our router, or a host route already
  const l = changetype<Rtentry>(link);
  if (r.rt_ifp != l.rt_ifp) return;
  rt_insert(dst, 32, gw, l.rt_ifp, l.rt_ifa, RTF_DYNAMIC);
}

/**
 * A timestamp request (RFC 792): answered, as FreeBSD does by default, unless the vnet's
 * net.inet.icmp.tstamprepl is 0; never to a broadcast or multicast (as echo, FreeBSD's
 * icmpbmcastecho=0). The kernel knows no time of day, only its own clock, so the receive
 * and transmit times are milliseconds since boot with the high-order bit set: RFC 792's
 * mark for "not milliseconds since midnight UT". Not rate limited, like echo: the reply is
 * no larger than the request. m is consumed.
 */
function icmp_tstamp(m: usize, ip: usize, hlen: u32, icmplen: u32): void {
  if (V().tstamprepl == 0) {
    m_freem(m);
    return;
  }
  const dst = ip_dst(ip);
  if ((changetype<Mbuf>(m).m_flags & (M_BCAST | M_MCAST)) != 0 || IN_MULTICAST(dst) || !in_localip(dst)) {
    ICMPSTAT_INC(ICPS_BMCASTTSTAMP);
    m_freem(m);
    return;
  }
  if (icmplen < ICMP_TSLEN) {
    ICMPSTAT_INC(ICPS_BADLEN);
    m_freem(m);
    return;
  }
  if (!M_WRITABLE(m)) {
    const d = m_dup(m);
    m_freem(m);
    if (d == 0) return;
    m = d;
    ip = mtod(m);
  }
  const p = ip + hlen;
  const now = bswap<u32>(0x80000000 | <u32>((ticks() / 1000) & 0x7fffffff));
  store<u8>(p + ICMP_TYPE, ICMP_TSTAMPREPLY);
  store<u32>(p + ICMP_RTIME, now);
  store<u32>(p + ICMP_TTIME, now);
  store<u16>(p + ICMP_CKSUM, 0);
  // icmp_input made the first ICMP_TSLEN bytes contiguous; the sum walks the whole chain.
  store<u16>(p + ICMP_CKSUM, bswap<u16>(<u16>in_cksum(m, hlen, icmplen, 0)));
  ICMPSTAT_INC(ICPS_OUTHIST + ICMP_TSTAMPREPLY);
  icmp_reflect(m, hlen);
}

// ---------------------------------------------------------------------------------------
// The echo service (ping, traceroute -I) and its log.

const LOG_HDR: u32 = 32;
export const LOG_REC: u32 = 32;
export const LOG_CAP: u32 = (4096 - LOG_HDR) / LOG_REC; // 127
export const PING_REPLY: u8 = 1;
export const PING_ERROR: u8 = 2;
const pattern = memory.data(256, 8);
let patternReady = false;
const stamp = memory.data(8, 8);

function log_slot(): usize {
  const page = V().ping_log;
  if (page == 0) return 0;
  const n = load<u32>(page);
  if (n >= LOG_CAP) {
    store<u32>(page, load<u32>(page, 4) + 1, 4);
    return 0;
  }
  store<u32>(page, n + 1);
  return page + LOG_HDR + n * LOG_REC;
}

/** True when bytes [8, size) of the echo data starting at off are the pattern ping sent. */
function payload_ok(m: usize, off: u32, size: u32): bool {
  let pos: u32 = 0; // position in the echo data
  let skip = off;
  for (let n = m; n != 0; n = changetype<Mbuf>(n).m_next) {
    const nn = changetype<Mbuf>(n);
    let l = <u32>nn.m_len;
    let p = nn.m_data;
    if (skip >= l) {
      skip -= l;
      continue;
    }
    p += skip;
    l -= skip;
    skip = 0;
    for (let i: u32 = 0; i < l && pos < size; i++, pos++) {
      if (pos >= 8 && load<u8>(p + i) != <u8>pos) return false;
    }
    if (pos >= size) return true;
  }
  return pos >= size;
}

function ping_log_reply(m: usize, ip: usize, hlen: u32, icmplen: u32): void {
  const r = log_slot();
  if (r == 0) return;
  const icp = ip + hlen;
  const size = icmplen - ICMP_MINLEN;
  store<u8>(r, PING_REPLY);
  store<u8>(r + 1, ICMP_ECHOREPLY);
  store<u8>(r + 2, load<u8>(icp + ICMP_CODE));
  store<u8>(r + 3, ip_ttl(ip));
  store<u16>(r + 4, bswap<u16>(load<u16>(icp + ICMP_ID)));
  store<u16>(r + 6, bswap<u16>(load<u16>(icp + ICMP_SEQ)));
  store<u32>(r + 8, ip_src(ip));
  store<u32>(r + 12, size);
  store<f64>(r + 16, <f64>ticks());
  store<u32>(r + 24, payload_ok(m, hlen + ICMP_MINLEN, size) ? 1 : 0);
  store<u32>(r + 28, ip_dst(ip));
}

function ping_log_error(ip: usize, icp: usize, inner: usize, type: u8, code: u8, mtu: u32): void {
  if (V().ping_log == 0 || ip_p(inner) != IPPROTO_ICMP) return;
  const iicp = inner + ip_hl(inner);
  if (load<u8>(iicp + ICMP_TYPE) != ICMP_ECHO || !in_localip(ip_src(inner))) return;
  const r = log_slot();
  if (r == 0) return;
  store<u8>(r, PING_ERROR);
  store<u8>(r + 1, type);
  store<u8>(r + 2, code);
  store<u8>(r + 3, ip_ttl(ip));
  store<u16>(r + 4, bswap<u16>(load<u16>(iicp + ICMP_ID)));
  store<u16>(r + 6, bswap<u16>(load<u16>(iicp + ICMP_SEQ)));
  store<u32>(r + 8, ip_src(ip));
  store<u32>(r + 12, mtu);
  store<f64>(r + 16, <f64>ticks());
  store<u32>(r + 24, 0);
  store<u32>(r + 28, ip_dst(inner));
}

/** Free the vnet's ping log (uninit). */
export function ping_log_free(): void {
  const p = V().ping_log;
  if (p != 0) {
    kmem_free(p, 1, curvnet());
    V().ping_log = 0;
  }
}

/** Copy the log's records to buf (room for LOG_CAP) and empty it; returns how many. */
export function ping_log_read(buf: usize): u32 {
  const page = V().ping_log;
  if (page == 0) return 0;
  const n = load<u32>(page);
  memory.copy(buf, page + LOG_HDR, n * LOG_REC);
  store<u32>(page, 0);
  return n;
}

export function ping_log_dropped(): u32 {
  const page = V().ping_log;
  return page != 0 ? load<u32>(page, 4) : 0;
}

/**
 * Send an ICMP echo request from the current vnet: size data bytes (the first 8 the send
 * time, then BSD ping's pattern: byte i = i & 0xff), identifier id, sequence seq, TTL ttl,
 * DF when df. Starts the vnet's log. 0 or -errno (ip_output's).
 */
export function ping_send(dst: u32, id: u32, seq: u32, size: u32, ttl: u32, df: bool): i32 {
  if (size > IP_MAXPACKET - IP_HDR_MIN - ICMP_MINLEN) return -EMSGSIZE;
  const vv = V();
  if (vv.ping_log == 0) {
    const p = kmem_alloc(1, curvnet());
    if (p == 0) return -12;
    memory.fill(p, 0, 4096);
    vv.ping_log = p;
  }
  if (!patternReady) {
    for (let i: u32 = 0; i < 256; i++) store<u8>(pattern + i, <u8>i);
    patternReady = true;
  }
  const m = m_gethdr(MT_DATA);
  if (m == 0) return -55;
  const mm = changetype<Mbuf>(m);
  mm.m_data += MAX_LINKHDR + IP_HDR_MIN;
  const icp = mtod(m);
  store<u8>(icp + ICMP_TYPE, ICMP_ECHO);
  store<u8>(icp + ICMP_CODE, 0);
  store<u16>(icp + ICMP_CKSUM, 0);
  store<u16>(icp + ICMP_ID, bswap<u16>(<u16>id));
  store<u16>(icp + ICMP_SEQ, bswap<u16>(<u16>seq));
  mm.m_len = <i32>ICMP_MINLEN;
  mm.ph_len = mm.m_len;
  store<u64>(stamp, ticks());
  let ok = m_append(m, <i32>min<u32>(size, 8), stamp);
  for (let i: u32 = 8; ok && i < size; ) {
    const k = min<u32>(256 - (i & 0xff), size - i);
    ok = m_append(m, <i32>k, pattern + (i & 0xff));
    i += k;
  }
  if (!ok) {
    m_freem(m);
    return -55; // ENOBUFS
  }
  store<u16>(icp + ICMP_CKSUM, bswap<u16>(<u16>in_cksum(m, 0, ICMP_MINLEN + size, 0)));
  ICMPSTAT_INC(ICPS_OUTHIST + ICMP_ECHO);
  return ip_output(m, 0, dst, IPPROTO_ICMP, ttl, 0, df ? IP_DONTFRAG : 0, 0);
}
