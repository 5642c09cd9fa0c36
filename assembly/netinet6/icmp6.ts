// ICMPv6 (RFC 4443; FreeBSD netinet6/icmp6.c), and the echo service the host's ping6 and
// traceroute6 drive without sockets.
//
// icmp6_error (RFC 4443 2.4): never about an ICMPv6 error or a redirect (e.1, e.2), a
// packet to a multicast address or sent as link-layer multicast/broadcast, except packet
// too big and parameter problem code 2 (e.3, e.4), or a packet whose source is not a
// unicast address (e.5); rate limited per vnet by a token bucket of
// net.inet6.icmp6.errppslimit errors per second (default 100, 2.4 f); quotes as much of the
// offending packet as fits a 1280-byte packet (2.4 c). Its source is the offending
// packet's destination when that is ours, else the address of the interface it came in
// on (source selection toward the origin), so traceroute6 sees each router.
//
// icmp6_input checks length and checksum (with the pseudo-header, RFC 4443 2.3), answers
// echo requests to our unicast addresses and to groups we are in (4.2), hands NS/NA to
// nd6.ts, errors to the quoted protocol's ctlinput, and logs echo replies and errors about
// our own echo requests in the vnet's ping log (a page made by the first ping6; 84
// records; the host drains it). Redirects go to nd6.ts, router solicitations and
// advertisements to nd6_rtr.ts, MLD queries and reports (130-132, 143) to mld6.ts.

import {
  m_gethdr, m_getcl, m_freem, m_pullup, m_copydata, m_append, m_adj, m_dup, in_cksum, ticks, kmem_alloc, kmem_free, if_valid,
  curvnet, in6_pseudo, in_delayed_cksum_value,
} from "../kmod/kapi";
import { Ifnet } from "../sys/if";
import { Mbuf, M_BCAST, M_MCAST, M_PKTHDR, M_WRITABLE, MT_DATA, CSUM_DELAY_DATA_IPV6, mtod } from "../sys/mbuf";
import {
  IP6_HDR_LEN, IP6_SRC, IP6_DST, IP6_NXT, IPPROTO_ICMPV6, IPPROTO_HOPOPTS, IPPROTO_ROUTING, IPPROTO_DSTOPTS,
  IPPROTO_FRAGMENT, IPV6_MAXPACKET, in6_copy, IN6_IS_ADDR_UNSPECIFIED, IN6_IS_ADDR_MULTICAST, ip6_fill, ip6_plen, ip6_nxt,
  ip6_hlim, ip6_v, ICMP6_HDR_LEN, ICMP6_TYPE, ICMP6_CODE, ICMP6_CKSUM, ICMP6_DATA, ICMP6_DST_UNREACH, ICMP6_PACKET_TOO_BIG,
  ICMP6_TIME_EXCEEDED, ICMP6_PARAM_PROB, ICMP6_PARAMPROB_OPTION, ICMP6_ECHO_REQUEST, ICMP6_ECHO_REPLY, ICMP6_IS_ERROR,
  ND_NEIGHBOR_SOLICIT, ND_NEIGHBOR_ADVERT, ND_REDIRECT, ND_ROUTER_SOLICIT, ND_ROUTER_ADVERT, IPV6_DEFHLIM,
} from "../sys/in6";
import {
  V6, Inet6Vnet, ICMP6STAT_INC, ICP6S_ERROR, ICP6S_CANTERROR, ICP6S_TOOFREQ, ICP6S_BADCODE, ICP6S_TOOSHORT, ICP6S_CHECKSUM,
  ICP6S_BADLEN, ICP6S_REFLECT, ICP6S_NOROUTE, ICP6S_INHIST, ICP6S_OUTHIST, icmp6_hist, MAX_LINKHDR, ICMP6_QUOTE_MAX,
  IPV6_REFLECT, IPV6_MINMTU, IPV6_DONTFRAG, EMSGSIZE, ENOBUFS, ia6_addr,
} from "./ip6_var";
import { in6_localip, in6_localip_anyif, in6_selectsrc_ifp } from "./in6";
import { ip6_output, in6_selectsrc } from "./ip6_output";
import { ip6proto_ctlinput } from "./ip6_input";
import { nd6_ns_input, nd6_na_input, nd6_redirect_input } from "./nd6";
import { nd6_rs_input, nd6_ra_input } from "./nd6_rtr";
import { rl_check } from "../net/ratelimit";
import { mld_input } from "./mld6";

const srcbuf = memory.data(16, 8);
const dstbuf = memory.data(16, 8);
const scratch = memory.data(8, 8);

// ---------------------------------------------------------------------------------------
// Rate limit: errppslimit errors a second, by the shared limiter (net/ratelimit.ts).

@inline function icmp6_ratelimit(): bool {
  const vv = V6();
  return rl_check(changetype<usize>(vv) + offsetof<Inet6Vnet>("icmp6_credit"), vv.errppslimit, ticks());
}

/** rcvif if it is a live interface of this vnet, else 0 (held packets can outlive it). */
function rcvif_here(m: usize): usize {
  const ifp = changetype<Mbuf>(m).ph_rcvif;
  if (ifp == 0 || !if_valid(ifp) || changetype<Ifnet>(ifp).if_vnet != curvnet()) return 0;
  return ifp;
}

/**
 * The upper-layer protocol of packet m and its offset, past hop-by-hop, routing and
 * destination options headers (at most 8); a fragment header ends the walk. Returns
 * nxt | off << 8, or 0xff when the headers run out of the packet.
 */
export function ip6_lasthdr(m: usize): u32 {
  let nxt = <u32>ip6_nxt(mtod(m));
  let off = IP6_HDR_LEN;
  const len = <u32>changetype<Mbuf>(m).ph_len;
  for (let i = 0; i < 8; i++) {
    if (nxt != IPPROTO_HOPOPTS && nxt != IPPROTO_ROUTING && nxt != IPPROTO_DSTOPTS) break;
    if (off + 8 > len || !m_copydata(m, <i32>off, 2, scratch)) return 0xff;
    nxt = load<u8>(scratch);
    off += (<u32>load<u8>(scratch + 1) + 1) << 3;
  }
  if (off > len) return 0xff;
  return nxt | (off << 8);
}

/**
 * icmp6_error: send an error of type/code about packet n (starting at its IPv6 header,
 * the 40-byte header contiguous). arg: the MTU for packet too big, the pointer for a
 * parameter problem. n is consumed.
 */
export function icmp6_error(n: usize, type: u8, code: u8, arg: u32): void {
  ICMP6STAT_INC(ICP6S_ERROR);
  const nn = changetype<Mbuf>(n);
  const oip = mtod(n);
  const osrc = oip + IP6_SRC;
  const odst = oip + IP6_DST;
  const mcast = IN6_IS_ADDR_MULTICAST(odst) || (nn.m_flags & (M_BCAST | M_MCAST)) != 0;
  if (mcast && !(type == ICMP6_PACKET_TOO_BIG || (type == ICMP6_PARAM_PROB && code == ICMP6_PARAMPROB_OPTION))) {
    return cant(n);
  }
  if (IN6_IS_ADDR_UNSPECIFIED(osrc) || IN6_IS_ADDR_MULTICAST(osrc)) return cant(n);
  // Never about an ICMPv6 error or a redirect (RFC 4443 2.4 e.1, e.2).
  const lh = ip6_lasthdr(n);
  if ((lh & 0xff) == IPPROTO_ICMPV6) {
    const off = lh >> 8;
    if (off + 1 > <u32>nn.ph_len || !m_copydata(n, <i32>off, 1, scratch)) return cant(n);
    const t = load<u8>(scratch);
    if (ICMP6_IS_ERROR(t) || t == ND_REDIRECT) return cant(n);
  }
  if (!icmp6_ratelimit()) {
    ICMP6STAT_INC(ICP6S_TOOFREQ);
    m_freem(n);
    return;
  }
  // Source: the offending packet's destination when it is our unicast, else chosen toward the origin.
  const rcvif = rcvif_here(n);
  in6_copy(dstbuf, osrc);
  let ok = false;
  if (!mcast && in6_localip(odst, rcvif)) {
    in6_copy(srcbuf, odst);
    ok = true;
  } else if (rcvif != 0) {
    const a = in6_selectsrc_ifp(rcvif, osrc);
    if (a != 0) {
      in6_copy(srcbuf, ia6_addr(a));
      ok = true;
    }
  }
  if (!ok && in6_selectsrc(dstbuf, rcvif, srcbuf) != 0) {
    ICMP6STAT_INC(ICP6S_NOROUTE);
    m_freem(n);
    return;
  }
  const quote = min<u32>(<u32>nn.ph_len, ICMP6_QUOTE_MAX);
  const m = m_getcl(MT_DATA, M_PKTHDR);
  if (m == 0) {
    m_freem(n);
    return;
  }
  const mm = changetype<Mbuf>(m);
  mm.m_data += MAX_LINKHDR + IP6_HDR_LEN;
  const icp = mtod(m);
  store<u8>(icp + ICMP6_TYPE, type);
  store<u8>(icp + ICMP6_CODE, code);
  store<u16>(icp + ICMP6_CKSUM, 0);
  store<u32>(icp + ICMP6_DATA, bswap<u32>(arg));
  m_copydata(n, 0, <i32>quote, icp + ICMP6_HDR_LEN);
  if ((nn.ph_csum_flags & CSUM_DELAY_DATA_IPV6) != 0) {
    // Its transport checksum was left to an interface: quote it as a wire would carry it.
    const v = in_delayed_cksum_value(n, 0, nn.ph_csum_flags);
    if (v != 0 && (v >> 16) + 2 <= quote) store<u16>(icp + ICMP6_HDR_LEN + (v >> 16), bswap<u16>(<u16>v));
  }
  mm.m_len = <i32>(ICMP6_HDR_LEN + quote);
  mm.ph_len = mm.m_len;
  m_freem(n);
  const len = ICMP6_HDR_LEN + quote;
  store<u16>(icp + ICMP6_CKSUM, bswap<u16>(<u16>in_cksum(m, 0, len, in6_pseudo(srcbuf, dstbuf, IPPROTO_ICMPV6, len))));
  ICMP6STAT_INC(ICP6S_OUTHIST + icmp6_hist(type));
  ip6_output(m, srcbuf, dstbuf, IPPROTO_ICMPV6, IPV6_DEFHLIM, IPV6_MINMTU, rcvif);
}

function cant(n: usize): void {
  ICMP6STAT_INC(ICP6S_CANTERROR);
  m_freem(n);
}

/** Protocol switch input for IPPROTO_ICMPV6: m starts at the IPv6 header, the message at off. */
export function icmp6_input(m: usize, off: u32): void {
  let mm = changetype<Mbuf>(m);
  const icmplen = <u32>mm.ph_len - off;
  if (<u32>mm.ph_len < off + ICMP6_HDR_LEN) {
    ICMP6STAT_INC(ICP6S_TOOSHORT);
    m_freem(m);
    return;
  }
  let ip = mtod(m);
  if (in_cksum(m, off, icmplen, in6_pseudo(ip + IP6_SRC, ip + IP6_DST, IPPROTO_ICMPV6, icmplen)) != 0) {
    ICMP6STAT_INC(ICP6S_CHECKSUM);
    m_freem(m);
    return;
  }
  // The message contiguous: whole for ND (they are small), header + quoted header + 8 for errors.
  const want = off + min<u32>(icmplen, 2048);
  if (<u32>mm.m_len < want) {
    m = m_pullup(m, <i32>want);
    if (m == 0) {
      ICMP6STAT_INC(ICP6S_TOOSHORT);
      return;
    }
    mm = changetype<Mbuf>(m);
    ip = mtod(m);
  }
  const icp = ip + off;
  const type = load<u8>(icp + ICMP6_TYPE);
  const code = load<u8>(icp + ICMP6_CODE);
  ICMP6STAT_INC(ICP6S_INHIST + icmp6_hist(type));
  const ifp = mm.ph_rcvif;
  if (type == ICMP6_ECHO_REQUEST) {
    if (code != 0) return bad(m, ICP6S_BADCODE);
    icmp6_reflect(m, off, icmplen);
    return;
  }
  if (type == ICMP6_ECHO_REPLY) {
    if (code != 0) return bad(m, ICP6S_BADCODE);
    ping6_log_reply(m, ip, off, icmplen);
    m_freem(m);
    return;
  }
  if (type == ND_NEIGHBOR_SOLICIT) {
    if (ifp == 0) return bad(m, ICP6S_BADLEN);
    nd6_ns_input(ifp, m, off, icmplen);
    return;
  }
  if (type == ND_NEIGHBOR_ADVERT) {
    if (ifp == 0) return bad(m, ICP6S_BADLEN);
    nd6_na_input(ifp, m, off, icmplen);
    return;
  }
  if (type == ND_REDIRECT) {
    if (ifp == 0) return bad(m, ICP6S_BADLEN);
    nd6_redirect_input(ifp, m, off, icmplen);
    return;
  }
  if (type == ND_ROUTER_SOLICIT) {
    if (ifp == 0) return bad(m, ICP6S_BADLEN);
    nd6_rs_input(ifp, m, off, icmplen);
    return;
  }
  if (type == ND_ROUTER_ADVERT) {
    if (ifp == 0) return bad(m, ICP6S_BADLEN);
    nd6_ra_input(ifp, m, off, icmplen);
    return;
  }
  if (type == 130 || type == 131 || type == 132 || type == 143) {
    if (ifp == 0) return bad(m, ICP6S_BADLEN);
    mld_input(ifp, m, off, icmplen); // MLD queries and reports (mld6.ts)
    return;
  }
  if (type == ICMP6_DST_UNREACH || type == ICMP6_PACKET_TOO_BIG || type == ICMP6_TIME_EXCEEDED || type == ICMP6_PARAM_PROB) {
    if ((type == ICMP6_DST_UNREACH && code > 6) || (type == ICMP6_PACKET_TOO_BIG && code != 0) ||
        (type == ICMP6_TIME_EXCEEDED && code > 1) || (type == ICMP6_PARAM_PROB && code > 3)) return bad(m, ICP6S_BADCODE);
    const inner = icp + ICMP6_HDR_LEN;
    if (icmplen < ICMP6_HDR_LEN + IP6_HDR_LEN || ip6_v(inner) != 6) return bad(m, ICP6S_BADLEN);
    const arg = bswap<u32>(load<u32>(icp + ICMP6_DATA));
    if (type == ICMP6_PACKET_TOO_BIG && arg < 1280) return bad(m, ICP6S_BADLEN); // RFC 8201 4: never below the IPv6 minimum
    ping6_log_error(ip, icp, inner, icmplen - ICMP6_HDR_LEN, type, code, arg);
    // Protocols get the quoted header with at least 8 bytes of theirs after it (ports, sequence).
    const ctl = ip6proto_ctlinput(ip6_nxt(inner));
    if (ctl != 0 && icmplen >= ICMP6_HDR_LEN + IP6_HDR_LEN + 8) call_indirect<void>(ctl, (<u32>type << 8) | code, inner, arg);
    m_freem(m);
    return;
  }
  m_freem(m); // unknown informational messages are ignored (RFC 4443 2.4 b)
}

@inline function bad(m: usize, why: u32): void {
  ICMP6STAT_INC(why);
  m_freem(m);
}

/** Echo reply (RFC 4443 4.2): to unicast from the address asked, to a group from ours on that link. */
function icmp6_reflect(m: usize, off: u32, icmplen: u32): void {
  if (!M_WRITABLE(m)) {
    const d = m_dup(m);
    m_freem(m);
    if (d == 0) return;
    m = d;
    if (changetype<Mbuf>(m).m_len < <i32>(off + ICMP6_HDR_LEN)) {
      m = m_pullup(m, <i32>(off + ICMP6_HDR_LEN));
      if (m == 0) return;
    }
  }
  let ip = mtod(m);
  const rcvif = rcvif_here(m);
  in6_copy(dstbuf, ip + IP6_SRC);
  if (IN6_IS_ADDR_MULTICAST(ip + IP6_DST)) {
    const a = rcvif != 0 ? in6_selectsrc_ifp(rcvif, dstbuf) : 0;
    if (a == 0) {
      ICMP6STAT_INC(ICP6S_NOROUTE);
      m_freem(m);
      return;
    }
    in6_copy(srcbuf, ia6_addr(a));
  } else {
    in6_copy(srcbuf, ip + IP6_DST);
  }
  if (off > IP6_HDR_LEN) {
    // Extension headers are not echoed: the fixed header moves up against the message.
    memory.copy(ip + off - IP6_HDR_LEN, ip, IP6_HDR_LEN);
    m_adj(m, <i32>(off - IP6_HDR_LEN));
    ip = mtod(m);
  }
  ip6_fill(ip, icmplen, IPPROTO_ICMPV6, IPV6_DEFHLIM, srcbuf, dstbuf);
  const icp = ip + IP6_HDR_LEN;
  store<u8>(icp + ICMP6_TYPE, ICMP6_ECHO_REPLY);
  store<u16>(icp + ICMP6_CKSUM, 0);
  store<u16>(icp + ICMP6_CKSUM, bswap<u16>(<u16>in_cksum(m, IP6_HDR_LEN, icmplen, in6_pseudo(srcbuf, dstbuf, IPPROTO_ICMPV6, icmplen))));
  ICMP6STAT_INC(ICP6S_REFLECT);
  ICMP6STAT_INC(ICP6S_OUTHIST + icmp6_hist(ICMP6_ECHO_REPLY));
  ip6_output(m, 0, 0, 0, 0, IPV6_REFLECT, rcvif);
}

// ---------------------------------------------------------------------------------------
// The echo service (ping6, traceroute6) and its log.
//
// Records (LOG6_REC bytes): 0 kind (1 reply, 2 error), 1 type, 2 code, 3 hop limit, 4 id,
// 6 seq, 8 from (16 bytes), 24 aux (data bytes of a reply; MTU or pointer of an error), 28
// payload ok, 32 kernel time (f64), 40 the echo's destination's first 8 bytes (spare).

const LOG_HDR: u32 = 32;
export const LOG6_REC: u32 = 48;
export const LOG6_CAP: u32 = (4096 - LOG_HDR) / LOG6_REC; // 84
const pattern = memory.data(256, 8);
let patternReady = false;
const stamp = memory.data(8, 8);

function log_slot(): usize {
  const page = V6().ping_log;
  if (page == 0) return 0;
  const n = load<u32>(page);
  if (n >= LOG6_CAP) {
    store<u32>(page, load<u32>(page, 4) + 1, 4);
    return 0;
  }
  store<u32>(page, n + 1);
  return page + LOG_HDR + n * LOG6_REC;
}

/** True when bytes [8, size) of the echo data starting at off are the pattern ping6 sent. */
function payload_ok(m: usize, off: u32, size: u32): bool {
  let pos: u32 = 0;
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

function ping6_log_reply(m: usize, ip: usize, off: u32, icmplen: u32): void {
  const r = log_slot();
  if (r == 0) return;
  const icp = ip + off;
  const size = icmplen - ICMP6_HDR_LEN;
  store<u8>(r, 1);
  store<u8>(r + 1, ICMP6_ECHO_REPLY);
  store<u8>(r + 2, 0);
  store<u8>(r + 3, ip6_hlim(ip));
  store<u16>(r + 4, bswap<u16>(load<u16>(icp + 4)));
  store<u16>(r + 6, bswap<u16>(load<u16>(icp + 6)));
  in6_copy(r + 8, ip + IP6_SRC);
  store<u32>(r + 24, size);
  store<u32>(r + 28, payload_ok(m, off + ICMP6_HDR_LEN, size) ? 1 : 0);
  store<f64>(r + 32, <f64>ticks());
  store<u64>(r + 40, 0);
}

function ping6_log_error(ip: usize, icp: usize, inner: usize, qlen: u32, type: u8, code: u8, arg: u32): void {
  if (V6().ping_log == 0 || ip6_nxt(inner) != IPPROTO_ICMPV6 || qlen < IP6_HDR_LEN + ICMP6_HDR_LEN) return;
  const iicp = inner + IP6_HDR_LEN;
  if (load<u8>(iicp + ICMP6_TYPE) != ICMP6_ECHO_REQUEST || !in6_localip(inner + IP6_SRC, 0) && !isLocalLL(inner + IP6_SRC)) return;
  const r = log_slot();
  if (r == 0) return;
  store<u8>(r, 2);
  store<u8>(r + 1, type);
  store<u8>(r + 2, code);
  store<u8>(r + 3, ip6_hlim(ip));
  store<u16>(r + 4, bswap<u16>(load<u16>(iicp + 4)));
  store<u16>(r + 6, bswap<u16>(load<u16>(iicp + 6)));
  in6_copy(r + 8, ip + IP6_SRC);
  store<u32>(r + 24, arg);
  store<u32>(r + 28, 0);
  store<f64>(r + 32, <f64>ticks());
  store<u64>(r + 40, 0);
}

/** A link-local source of ours on any interface (the quoted echo came from one of them). */
function isLocalLL(a: usize): bool {
  return load<u8>(a) == 0xfe && (load<u8>(a + 1) & 0xc0) == 0x80 && in6_localip_anyif(a);
}

export function ping6_log_free(): void {
  const p = V6().ping_log;
  if (p != 0) {
    kmem_free(p, 1, curvnet());
    V6().ping_log = 0;
  }
}

export function ping6_log_read(buf: usize): u32 {
  const page = V6().ping_log;
  if (page == 0) return 0;
  const n = load<u32>(page);
  memory.copy(buf, page + LOG_HDR, n * LOG6_REC);
  store<u32>(page, 0);
  return n;
}

export function ping6_log_dropped(): u32 {
  const page = V6().ping_log;
  return page != 0 ? load<u32>(page, 4) : 0;
}

/**
 * Send an ICMPv6 echo request from the current vnet to dst (link-local and link-scope
 * multicast destinations need ifp, their zone): size data bytes (the first 8 the send
 * time, then byte i = i & 0xff), identifier id, sequence seq, hop limit hlim, no
 * fragmentation when df. Starts the vnet's log. 0 or -errno.
 */
export function ping6_send(dst: usize, ifp: usize, id: u32, seq: u32, size: u32, hlim: u32, df: bool): i32 {
  if (size > IPV6_MAXPACKET - ICMP6_HDR_LEN) return -EMSGSIZE;
  in6_copy(dstbuf, dst);
  const e = in6_selectsrc(dstbuf, ifp, srcbuf);
  if (e != 0) return e;
  const vv = V6();
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
  if (m == 0) return -ENOBUFS;
  const mm = changetype<Mbuf>(m);
  mm.m_data += MAX_LINKHDR + IP6_HDR_LEN;
  const icp = mtod(m);
  store<u8>(icp + ICMP6_TYPE, ICMP6_ECHO_REQUEST);
  store<u8>(icp + ICMP6_CODE, 0);
  store<u16>(icp + ICMP6_CKSUM, 0);
  store<u16>(icp + 4, bswap<u16>(<u16>id));
  store<u16>(icp + 6, bswap<u16>(<u16>seq));
  mm.m_len = <i32>ICMP6_HDR_LEN;
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
    return -ENOBUFS;
  }
  const len = ICMP6_HDR_LEN + size;
  store<u16>(icp + ICMP6_CKSUM, bswap<u16>(<u16>in_cksum(m, 0, len, in6_pseudo(srcbuf, dstbuf, IPPROTO_ICMPV6, len))));
  ICMP6STAT_INC(ICP6S_OUTHIST + icmp6_hist(ICMP6_ECHO_REQUEST));
  return ip6_output(m, srcbuf, dstbuf, IPPROTO_ICMPV6, hlim, df ? IPV6_DONTFRAG : 0, ifp);
}

export { IP6_NXT };
