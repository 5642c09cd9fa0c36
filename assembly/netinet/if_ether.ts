// ARP for IPv4 over Ethernet (RFC 826; FreeBSD netinet/if_ether.c).
//
// Cache: per vnet, a hash of ARP_HASH_SIZE chains keyed by (interface, IPv4 address);
// entries (Llentry, "llentry" zone, charged to the vnet) are
//   INCOMPLETE  a request is out; packets for the address wait in a hold queue of at most
//               ARP_MAXHOLD (16, arp_maxhold; the oldest is dropped when full); a request
//               goes out every second (callout), and after ARP_MAXTRIES (5) the entry is
//               given up: its packets are dropped and counted, and each one that was being
//               forwarded gets an ICMP host unreachable back to its source (as FreeBSD's
//               arptimer does);
//   REACHABLE   resolved; valid for ARP_MAXAGE_US (net.link.ether.inet.max_age, 1200 s),
//               then the entry expires (callout) and is deleted (counted as a timeout): the
//               next packet starts a new resolution.
// Entries are created by our own resolutions and by requests/replies aimed at one of our
// addresses (RFC 826: "Am I the target protocol address? ... add the triplet"); an existing
// entry is refreshed by any ARP packet from its address (RFC 826's merge flag). Every field
// of a received packet is checked before use and every drop is counted by reason (arpstat).
// A sender claiming one of our addresses is a duplicate address: counted (dupips) and
// dropped.
//
// Bound (sys/llatbl.ts, per vnet: net.link.ether.inet.gc_thresh1/2/3): an entry learned
// from someone else's packet is "unsolicited" until we use it; those are capped at
// gc_thresh2 by replacing the oldest of them, so a flood of spoofed requests (16,384 of
// them filled the table for 20 minutes before) replaces itself and cannot stop a new
// resolution; our own resolutions make room up to gc_thresh3 by eviction (counted: evicted,
// tablefull). One made past gc_thresh1 lives LLT_STALE_US (60 s) unless used.

import {
  zone_alloc, zone_free, callout_init, callout_reset, callout_stop, ticks, m_gethdr, m_freem, m_pullup,
  ether_output, VNET,
} from "../kmod/kapi";
import { Ifnet, ETHERTYPE_IP, ETHERTYPE_ARP, IFF_UP, IFF_RUNNING, if_lladdr } from "../sys/if";
import { Mbuf, M_PKTHDR, MT_DATA, mtod } from "../sys/mbuf";
import {
  ARPHRD_ETHER, ARPHRD_IEEE802, ARPOP_REQUEST, ARPOP_REPLY, ARP_ETHER_IP_LEN, ARP_HDR_MIN, AR_HLN, AR_PLN, AR_SHA, AR_SPA,
  AR_THA, AR_TPA, ar_hrd, ar_pro, ar_op, ar_spa, ar_tpa, IN_MULTICAST, IN_LOOPBACK, IN_EXPERIMENTAL, INADDR_BROADCAST,
  ICMP_UNREACH, ICMP_UNREACH_HOST,
} from "../sys/in";
import {
  Llentry, InIfaddr, InetGlobals, V, ARPHASH_OFF, ARP_HASH_SIZE, LLE_CALLOUT, LLE_INCOMPLETE, LLE_REACHABLE, LLE_STATIC, ARP_MAXAGE_US,
  ARP_RETRANS_US, ARP_MAXTRIES, ARP_MAXHOLD, MAX_LINKHDR, ARPSTAT_INC, IPSTAT_INC, IPS_ODROPPED,
  ARPS_TXREQUESTS, ARPS_TXREPLIES, ARPS_RXREQUESTS, ARPS_RXREPLIES, ARPS_RECEIVED, ARPS_DROPPED, ARPS_TIMEOUTS, ARPS_DUPIPS,
  ARPS_TOOSHORT, ARPS_BADHRD, ARPS_BADPRO, ARPS_BADLEN, ARPS_BADOP, ARPS_BADSENDER, ARPS_LOOPED, ARPS_GIVEUPS,
  ARPS_EVICTED, ARPS_TABLEFULL, ARPLLT_OFF, LLE_LRU,
} from "./ip_var";
import { in_ifaddr_first, in_ifaddr_for } from "./in";
import {
  Llt, LLT_UNSOL, LLT_INCOMPLETE, LLT_ACTIVE, LLT_STATIC, LLT_FULL, LLT_STALE_US, llt_insert, llt_remove, llt_setclass, llt_use, llt_class,
  llt_room,
} from "../sys/llatbl";
import { icmp_error } from "./ip_icmp";

const etherbroadcast: usize = memory.data<u8>([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0]);
const etherzero: usize = memory.data<u8>([0, 0, 0, 0, 0, 0, 0, 0]);
const replyMac: usize = memory.data(8, 4);

@inline function lle(p: usize): Llentry {
  return changetype<Llentry>(p);
}

@inline function bucket(ifp: usize, addr: u32): usize {
  const h = (addr ^ (<u32>ifp >> 3)) * 0x9e3779b1;
  return VNET(InetGlobals.voff + ARPHASH_OFF) + (<usize>(h >> 26) << 2); // ARP_HASH_SIZE = 64
}

@inline function eq6(a: usize, b: usize): bool {
  return load<u32>(a) == load<u32>(b) && load<u16>(a, 4) == load<u16>(b, 4);
}

/** The MAC of a REACHABLE entry (6 bytes at this address). */
@inline export function lle_mac(p: usize): usize {
  return p + offsetof<Llentry>("la_mac_lo");
}

export function lle_lookup(ifp: usize, addr: u32): usize {
  for (let p = load<usize>(bucket(ifp, addr)); p != 0; p = lle(p).la_next) {
    if (lle(p).la_addr == addr && lle(p).la_ifp == ifp) return p;
  }
  return 0;
}

/** The current vnet's table record (sys/llatbl.ts). */
@inline function llt(): usize {
  return VNET(InetGlobals.voff + ARPLLT_OFF);
}

/**
 * A new entry for (ifp, addr), of class cls (LLT_INCOMPLETE: our resolution; LLT_UNSOL:
 * learned from the neighbour), after making room as sys/llatbl.ts says. 0 when the table
 * may not grow (counted) or there is no memory.
 */
function lle_create(ifp: usize, addr: u32, cls: u32): usize {
  const now = ticks();
  const victim = llt_room(llt(), LLE_LRU, cls != LLT_UNSOL, now);
  if (victim == LLT_FULL) {
    ARPSTAT_INC(ARPS_TABLEFULL);
    return 0;
  }
  if (victim != 0) {
    ARPSTAT_INC(ARPS_EVICTED);
    lle_free(victim);
  }
  const p = zone_alloc(InetGlobals.lleZone);
  if (p == 0) return 0;
  const e = lle(p);
  e.la_ifp = ifp;
  e.la_addr = addr;
  e.la_state = LLE_INCOMPLETE;
  e.la_mac_lo = 0;
  e.la_mac_hi = 0;
  e.la_asked = 0;
  e.la_numheld = 0;
  e.la_hold = 0;
  e.la_hold_tail = 0;
  e.la_expire = 0;
  e.la_hits = 0;
  callout_init(p + LLE_CALLOUT);
  const b = bucket(ifp, addr);
  e.la_next = load<usize>(b);
  store<usize>(b, p);
  llt_insert(llt(), p, LLE_LRU, cls, now);
  return p;
}

/** Drop the packets held by an entry; forwarded ones get an ICMP host unreachable when asked. */
function lle_drop_held(p: usize, unreach: bool): void {
  let m = lle(p).la_hold;
  lle(p).la_hold = 0;
  lle(p).la_hold_tail = 0;
  lle(p).la_numheld = 0;
  while (m != 0) {
    const next = changetype<Mbuf>(m).m_nextpkt;
    changetype<Mbuf>(m).m_nextpkt = 0;
    ARPSTAT_INC(ARPS_DROPPED);
    if (unreach && changetype<Mbuf>(m).ph_rcvif != 0) icmp_error(m, ICMP_UNREACH, ICMP_UNREACH_HOST, 0);
    else m_freem(m);
    m = next;
  }
}

function lle_free(p: usize): void {
  callout_stop(p + LLE_CALLOUT);
  lle_drop_held(p, false);
  const e = lle(p);
  let b = bucket(e.la_ifp, e.la_addr);
  for (let q = load<usize>(b); q != 0; q = lle(q).la_next) {
    if (q == p) {
      store<usize>(b, e.la_next);
      break;
    }
    b = q + offsetof<Llentry>("la_next");
  }
  llt_remove(llt(), p, LLE_LRU);
  zone_free(InetGlobals.lleZone, p);
}

/** Build and send an ARP packet on ifp to link address dstmac. */
function arp_send(ifp: usize, op: u16, spa: u32, tha: usize, tpa: u32, dstmac: usize): void {
  const m = m_gethdr(MT_DATA);
  if (m == 0) return;
  const mm = changetype<Mbuf>(m);
  mm.m_data += MAX_LINKHDR;
  mm.m_len = <i32>ARP_ETHER_IP_LEN;
  mm.ph_len = <i32>ARP_ETHER_IP_LEN;
  const a = mtod(m);
  store<u16>(a, bswap<u16>(ARPHRD_ETHER));
  store<u16>(a, bswap<u16>(<u16>ETHERTYPE_IP), 2);
  store<u8>(a + AR_HLN, 6);
  store<u8>(a + AR_PLN, 4);
  store<u16>(a, bswap<u16>(op), 6);
  memory.copy(a + AR_SHA, if_lladdr(ifp), 6);
  store<u32>(a + AR_SPA, bswap<u32>(spa));
  memory.copy(a + AR_THA, tha, 6);
  store<u32>(a + AR_TPA, bswap<u32>(tpa));
  ether_output(ifp, m, dstmac, ETHERTYPE_ARP);
}

/** Broadcast a request for tip from ifp's address on tip's prefix (or sip if not 0). */
function arp_request(ifp: usize, sip: u32, tip: u32): void {
  if (sip == 0) {
    const a = in_ifaddr_for(ifp, tip);
    if (a == 0) return;
    sip = changetype<InIfaddr>(a).ia_addr;
  }
  ARPSTAT_INC(ARPS_TXREQUESTS);
  arp_send(ifp, ARPOP_REQUEST, sip, etherzero, tip, etherbroadcast);
}

/** Gratuitous ARP for a new address (RFC 5227 announcement: sender = target = addr). */
export function arp_announce(ifp: usize, addr: u32): void {
  arp_request(ifp, addr, addr);
}

/** Entry timer: retransmit, give up, or expire. */
function arptimer(p: usize): void {
  const e = lle(p);
  if (e.la_state == LLE_INCOMPLETE) {
    if (e.la_asked < ARP_MAXTRIES) {
      e.la_asked++;
      arp_request(e.la_ifp, 0, e.la_addr);
      callout_reset(p + LLE_CALLOUT, ARP_RETRANS_US, arptimer.index, p);
      return;
    }
    ARPSTAT_INC(ARPS_GIVEUPS);
    lle_drop_held(p, true);
    lle_free(p);
    return;
  }
  if (e.la_expire > ticks()) {
    // Made with a short life (sys/llatbl.ts gc_thresh1) and used since: the rest of max_age.
    callout_reset(p + LLE_CALLOUT, e.la_expire - ticks(), arptimer.index, p);
    return;
  }
  ARPSTAT_INC(ARPS_TIMEOUTS);
  lle_free(p);
}

/**
 * arpresolve: the MAC to send an IPv4 packet for next hop nh out of ifp. Returns its
 * address, or 0 when m was queued behind a resolution (or dropped): m is then consumed.
 */
export function arpresolve(ifp: usize, m: usize, nh: u32): usize {
  let p = lle_lookup(ifp, nh);
  if (p != 0 && lle(p).la_state >= LLE_REACHABLE) {
    lle(p).la_hits++;
    if (llt_class(p, LLE_LRU) == LLT_UNSOL) lle(p).la_expire = ticks() + ARP_MAXAGE_US; // ours now: its full life
    llt_use(llt(), p, LLE_LRU, ticks());
    return lle_mac(p);
  }
  if (p == 0) {
    p = lle_create(ifp, nh, LLT_INCOMPLETE);
    if (p == 0) {
      ARPSTAT_INC(ARPS_DROPPED);
      IPSTAT_INC(IPS_ODROPPED);
      m_freem(m);
      return 0;
    }
  }
  const e = lle(p);
  if (e.la_numheld >= ARP_MAXHOLD) {
    // Full: the oldest packet makes room (FreeBSD's arp_maxhold behaviour).
    const old = e.la_hold;
    e.la_hold = changetype<Mbuf>(old).m_nextpkt;
    changetype<Mbuf>(old).m_nextpkt = 0;
    e.la_numheld--;
    ARPSTAT_INC(ARPS_DROPPED);
    m_freem(old);
    if (e.la_hold == 0) e.la_hold_tail = 0;
  }
  changetype<Mbuf>(m).m_nextpkt = 0;
  if (e.la_hold_tail != 0) changetype<Mbuf>(e.la_hold_tail).m_nextpkt = m;
  else e.la_hold = m;
  e.la_hold_tail = m;
  e.la_numheld++;
  if (e.la_asked == 0) {
    e.la_asked = 1;
    callout_reset(p + LLE_CALLOUT, ARP_RETRANS_US, arptimer.index, p);
    arp_request(ifp, 0, nh);
  }
  return 0;
}

/**
 * The entry is resolved: record the MAC, (re)start its life (life: max_age, or the short
 * life of an unsolicited entry made past gc_thresh1), send what waited for it.
 */
function lle_resolved(p: usize, sha: usize, life: u64): void {
  const e = lle(p);
  memory.copy(lle_mac(p), sha, 6);
  e.la_state = LLE_REACHABLE;
  e.la_asked = 0;
  e.la_expire = ticks() + life;
  if (life != 0) callout_reset(p + LLE_CALLOUT, life, arptimer.index, p);
  // Our resolution answered: the entry is active (an unsolicited one stays so until used).
  if (llt_class(p, LLE_LRU) == LLT_INCOMPLETE) llt_setclass(llt(), p, LLE_LRU, LLT_ACTIVE, ticks());
  let m = e.la_hold;
  if (m == 0) return;
  e.la_hold = 0;
  e.la_hold_tail = 0;
  e.la_numheld = 0;
  const ifp = e.la_ifp;
  // Sending can re-enter ARP (a reply coming straight back) and even evict this entry to
  // make room for another: the MAC is kept here and copied out before each send (ether_output
  // copies it into the header before it transmits), and e is not touched again.
  const mac = <u64>load<u32>(lle_mac(p)) | (<u64>load<u16>(lle_mac(p) + 4) << 32);
  while (m != 0) {
    const next = changetype<Mbuf>(m).m_nextpkt;
    changetype<Mbuf>(m).m_nextpkt = 0;
    store<u32>(flushMac, <u32>mac);
    store<u16>(flushMac + 4, <u16>(mac >> 32));
    ether_output(ifp, m, flushMac, ETHERTYPE_IP);
    m = next;
  }
}

const flushMac: usize = memory.data(8, 4);

@inline function drop(m: usize, why: u32): void {
  ARPSTAT_INC(why);
  m_freem(m);
}

/** netisr handler for ETHERTYPE_ARP: m starts at the ARP header. */
export function arp_input(ifp: usize, m: usize): void {
  ARPSTAT_INC(ARPS_RECEIVED);
  if ((changetype<Mbuf>(m).m_flags & M_PKTHDR) == 0 || changetype<Mbuf>(m).ph_len < <i32>ARP_HDR_MIN) {
    drop(m, ARPS_TOOSHORT);
    return;
  }
  m = m_pullup(m, <i32>ARP_HDR_MIN);
  if (m == 0) {
    ARPSTAT_INC(ARPS_TOOSHORT);
    return;
  }
  let a = mtod(m);
  const hrd = ar_hrd(a);
  if (hrd != ARPHRD_ETHER && hrd != ARPHRD_IEEE802) {
    drop(m, ARPS_BADHRD);
    return;
  }
  if (ar_pro(a) != <u16>ETHERTYPE_IP) {
    drop(m, ARPS_BADPRO);
    return;
  }
  if (load<u8>(a + AR_HLN) != 6 || load<u8>(a + AR_PLN) != 4) {
    drop(m, ARPS_BADLEN);
    return;
  }
  if (changetype<Mbuf>(m).ph_len < <i32>ARP_ETHER_IP_LEN) {
    drop(m, ARPS_TOOSHORT);
    return;
  }
  m = m_pullup(m, <i32>ARP_ETHER_IP_LEN);
  if (m == 0) {
    ARPSTAT_INC(ARPS_TOOSHORT);
    return;
  }
  a = mtod(m);
  const op = ar_op(a);
  if (op != ARPOP_REQUEST && op != ARPOP_REPLY) {
    drop(m, ARPS_BADOP);
    return;
  }
  const sha = a + AR_SHA;
  if (eq6(sha, if_lladdr(ifp))) {
    drop(m, ARPS_LOOPED); // our own packet, looped back
    return;
  }
  if ((load<u8>(sha) & 1) != 0 || eq6(sha, etherzero)) {
    drop(m, ARPS_BADSENDER); // broadcast, multicast or zero link address
    return;
  }
  const sip = ar_spa(a);
  const tip = ar_tpa(a);
  if (sip == INADDR_BROADCAST || IN_MULTICAST(sip) || IN_LOOPBACK(sip) || IN_EXPERIMENTAL(sip)) {
    drop(m, ARPS_BADSENDER);
    return;
  }
  let itaddr = false;
  for (let q = in_ifaddr_first(ifp); q != 0; q = changetype<InIfaddr>(q).ia_ifnext) {
    const x = changetype<InIfaddr>(q);
    if (x.ia_addr == sip) {
      drop(m, ARPS_DUPIPS); // someone else claims our address (duplicate address detection)
      return;
    }
    if (x.ia_addr == tip) itaddr = true;
  }
  ARPSTAT_INC(op == ARPOP_REQUEST ? ARPS_RXREQUESTS : ARPS_RXREPLIES);
  if ((changetype<Ifnet>(ifp).if_flags & (IFF_UP | IFF_RUNNING)) != (IFF_UP | IFF_RUNNING) || in_ifaddr_first(ifp) == 0) {
    m_freem(m);
    return;
  }
  if (sip != 0) {
    let p = lle_lookup(ifp, sip);
    if (p != 0 && lle(p).la_state == LLE_STATIC) {
      // A permanent entry is not changed by what arrives (FreeBSD logs the attempt,
      // net.link.ether.inet.log_arp_permanent_modify).
    } else if (p != 0) {
      // RFC 826 merge. An unsolicited entry keeps its (maybe short) life: the neighbour
      // cannot extend it by repeating itself; ours get max_age again.
      const unsol = llt_class(p, LLE_LRU) == LLT_UNSOL && lle(p).la_state == LLE_REACHABLE;
      lle_resolved(p, sha, unsol ? max<u64>(lle(p).la_expire, ticks() + 1) - ticks() : ARP_MAXAGE_US);
    } else if (itaddr) {
      // Short-lived past gc_thresh1 (sys/llatbl.ts), so a flood also drains by itself.
      const life = changetype<Llt>(llt()).count >= changetype<Llt>(llt()).thresh1 ? LLT_STALE_US : ARP_MAXAGE_US;
      p = lle_create(ifp, sip, LLT_UNSOL);
      if (p != 0) lle_resolved(p, sha, life);
    }
  }
  if (op == ARPOP_REQUEST && itaddr) {
    // Copy what the reply needs before m goes (the hold flush above may have sent packets).
    const mac = replyMac; // used up by arp_send before anything can re-enter
    memory.copy(mac, sha, 6);
    m_freem(m);
    ARPSTAT_INC(ARPS_TXREPLIES);
    arp_send(ifp, ARPOP_REPLY, tip, mac, sip, mac);
    return;
  }
  m_freem(m);
}

/** Forget the entries of ifp (mask == 0: all of them) inside subnet/mask. */
export function arp_flush(ifp: usize, subnet: u32, mask: u32): void {
  const base = VNET(InetGlobals.voff + ARPHASH_OFF);
  for (let i: u32 = 0; i < ARP_HASH_SIZE; i++) {
    let p = load<usize>(base + (<usize>i << 2));
    while (p != 0) {
      const next = lle(p).la_next;
      if (lle(p).la_ifp == ifp && (lle(p).la_addr & mask) == subnet) lle_free(p);
      p = next;
    }
  }
}

/** Forget every entry of the vnet (uninit). */
export function arp_flush_all(): void {
  const base = VNET(InetGlobals.voff + ARPHASH_OFF);
  for (let i: u32 = 0; i < ARP_HASH_SIZE; i++) {
    while (load<usize>(base + (<usize>i << 2)) != 0) lle_free(load<usize>(base + (<usize>i << 2)));
  }
}

/**
 * arp -s (and -S): a permanent entry for (ifp, addr) with the MAC at mac, replacing one
 * there; packets waiting for its resolution go out to it. 0, or -ENOMEM.
 */
export function arp_set_static(ifp: usize, addr: u32, mac: usize): i32 {
  let p = lle_lookup(ifp, addr);
  if (p == 0) {
    p = lle_create(ifp, addr, LLT_STATIC);
    if (p == 0) return -12;
  }
  callout_stop(p + LLE_CALLOUT);
  if (llt_class(p, LLE_LRU) != LLT_STATIC) llt_setclass(llt(), p, LLE_LRU, LLT_STATIC, ticks());
  lle_resolved(p, mac, 0);
  const e = lle(p);
  e.la_state = LLE_STATIC;
  e.la_expire = 0;
  return 0;
}

/** arp -d: delete the entry of (ifp, addr); 0 or -ENOENT. */
export function arp_delete(ifp: usize, addr: u32): i32 {
  const p = lle_lookup(ifp, addr);
  if (p == 0) return -2;
  lle_free(p);
  return 0;
}

// ARP records for the host: 32 bytes: 0 ifp, 4 addr, 8 state, 12 MAC bytes 0-3, 16 MAC
// bytes 4-5, 20 packets held, 24 expiry (kernel us, f64).
export const LLE_REC: u32 = 32;

export function arp_fill(buf: usize, skip: u32, max: u32): u32 {
  const base = VNET(InetGlobals.voff + ARPHASH_OFF);
  let i: u32 = 0;
  let n: u32 = 0;
  for (let b: u32 = 0; b < ARP_HASH_SIZE && n < max; b++) {
    for (let p = load<usize>(base + (<usize>b << 2)); p != 0 && n < max; p = lle(p).la_next, i++) {
      if (i < skip) continue;
      const o = buf + n * LLE_REC;
      const e = lle(p);
      store<u32>(o, <u32>e.la_ifp);
      store<u32>(o, e.la_addr, 4);
      store<u32>(o, e.la_state, 8);
      store<u32>(o, e.la_mac_lo, 12);
      store<u32>(o, e.la_mac_hi, 16);
      store<u32>(o, e.la_numheld, 20);
      store<f64>(o, <f64>e.la_expire, 24);
      n++;
    }
  }
  return n;
}

export { etherbroadcast };
