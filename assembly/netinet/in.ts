// IPv4 addresses of interfaces (FreeBSD netinet/in.c): several per interface, each with a
// prefix length and (on broadcast interfaces) a broadcast address.
//
// Where they live: every address is an InIfaddr from the module's "in_ifaddr" zone, charged
// to its vnet, on two lists: the interface's (head in ifp.if_afdata0, the AF_INET slot)
// and the vnet's (InetVnet.ia_head). Adding an address adds its connected route and
// announces it with a gratuitous ARP on Ethernet; deleting it removes every route that
// depends on it (connected and static), forgets the ARP entries of its prefix, and hands
// the prefix route to another address of the same prefix if there is one (in_scrubprefix).

import { zone_alloc, zone_free, callout_init, callout_reset, callout_stop } from "../kmod/kapi";
import { Ifnet, IFF_BROADCAST, IFF_LOOPBACK, IFT_ETHER, IFF_UP, IFF_RUNNING } from "../sys/if";
import { EEXIST, ENOENT, EINVAL, ENOMEM } from "../sys/errno";
import { in_plen2mask, IN_MULTICAST, IN_EXPERIMENTAL, IN_ZERONET, INADDR_BROADCAST, INADDR_ANY } from "../sys/in";
import { InIfaddr, InetVnet, IA_MAGIC, IA_CALLOUT, InetGlobals, V, RTF_PINNED } from "./ip_var";
import { sl_remove } from "../net/tailq";
import { rt_insert, rt_flush, rt_find } from "./in_rmx";
import { arp_announce, arp_flush } from "./if_ether";

@inline function ia(p: usize): InIfaddr {
  return changetype<InIfaddr>(p);
}

/** The first address of ifp (the AF_INET slot), or 0. */
@inline export function in_ifaddr_first(ifp: usize): usize {
  return changetype<Ifnet>(ifp).if_afdata0;
}

/** Our address a (any interface of the vnet), or 0. */
export function in_ifaddr_byaddr(a: u32): usize {
  for (let p = V().ia_head; p != 0; p = ia(p).ia_next) if (ia(p).ia_addr == a) return p;
  return 0;
}

/** True if a is one of this vnet's addresses (weak host model, RFC 1122 3.3.4.2). */
export function in_localip(a: u32): bool {
  for (let p = V().ia_head; p != 0; p = ia(p).ia_next) if (ia(p).ia_addr == a) return true;
  return false;
}

/**
 * in_broadcast: a is a broadcast address on ifp: the limited broadcast, 0.0.0.0 (old BSD
 * broadcast), or the broadcast or network address of one of ifp's prefixes (not /31, /32).
 */
export function in_broadcast(a: u32, ifp: usize): bool {
  if (a == INADDR_BROADCAST || a == INADDR_ANY) return true;
  if (ifp == 0) return false;
  for (let p = in_ifaddr_first(ifp); p != 0; p = ia(p).ia_ifnext) {
    const x = ia(p);
    if (x.ia_plen < 31 && (a == x.ia_broadaddr || a == x.ia_subnet)) return true;
  }
  return false;
}

/** The address of ifp to use as source toward dst: one whose prefix holds dst, else the first. */
export function in_ifaddr_for(ifp: usize, dst: u32): usize {
  const first = in_ifaddr_first(ifp);
  for (let p = first; p != 0; p = ia(p).ia_ifnext) {
    if ((dst & ia(p).ia_mask) == ia(p).ia_subnet) return p;
  }
  return first;
}

/** ifconfig IF inet addr/plen [broadcast b] (b == 0: derived from the prefix). 0 or -errno. */
export function in_control_add(ifp: usize, addr: u32, plen: u32, bcast: u32): i32 {
  if (plen > 32 || addr == INADDR_ANY || addr == INADDR_BROADCAST || IN_MULTICAST(addr) || IN_EXPERIMENTAL(addr) || IN_ZERONET(addr)) return -EINVAL;
  const ii = changetype<Ifnet>(ifp);
  const mask = in_plen2mask(plen);
  if (plen < 31 && ((addr & ~mask) == 0 || (addr & ~mask) == ~mask)) return -EINVAL; // network or broadcast address
  if (in_ifaddr_byaddr(addr) != 0) return -EEXIST;
  const p = zone_alloc(InetGlobals.iaZone);
  if (p == 0) return -ENOMEM;
  const x = ia(p);
  x.ia_magic = IA_MAGIC;
  x.ia_ifp = ifp;
  x.ia_addr = addr;
  x.ia_plen = plen;
  x.ia_mask = mask;
  x.ia_subnet = addr & mask;
  x.ia_broadaddr = (ii.if_flags & IFF_BROADCAST) != 0 && plen < 31 ? (bcast != 0 ? bcast : (addr | ~mask)) : 0;
  // Tail of the interface's list (the first address stays the primary one), head of the vnet's.
  x.ia_ifnext = 0;
  let tail = ii.if_afdata0;
  if (tail == 0) ii.if_afdata0 = p;
  else {
    while (ia(tail).ia_ifnext != 0) tail = ia(tail).ia_ifnext;
    ia(tail).ia_ifnext = p;
  }
  const vv = V();
  x.ia_next = vv.ia_head;
  vv.ia_head = p;
  vv.ia_count++;
  // The connected route; a prefix already routed (another address of it) keeps its route.
  const r = rt_insert(x.ia_subnet, plen, 0, ifp, p, RTF_PINNED);
  if (r != 0 && r != -EEXIST) {
    unlinkAddr(p);
    zone_free(InetGlobals.iaZone, p);
    return r;
  }
  callout_init(p + IA_CALLOUT);
  x.ia_garp_count = 0;
  if (ii.if_type == IFT_ETHER && (ii.if_flags & (IFF_UP | IFF_RUNNING)) == (IFF_UP | IFF_RUNNING)) {
    arp_announce(ifp, addr);
    // FreeBSD's garp_rexmit: the announcement again after 1 s, 2 s, 4 s ... count times.
    if (vv.garp_rexmit_count > 0) callout_reset(p + IA_CALLOUT, 1_000_000, garp_rexmit.index, p);
  }
  return 0;
}

/** One repeat of a new address's gratuitous ARP; the next after twice the wait. */
function garp_rexmit(p: usize): void {
  const x = ia(p);
  if (x.ia_magic != IA_MAGIC) return;
  const ii = changetype<Ifnet>(x.ia_ifp);
  if ((ii.if_flags & (IFF_UP | IFF_RUNNING)) == (IFF_UP | IFF_RUNNING)) arp_announce(x.ia_ifp, x.ia_addr);
  x.ia_garp_count++;
  if (x.ia_garp_count < V().garp_rexmit_count) callout_reset(p + IA_CALLOUT, <u64>1_000_000 << x.ia_garp_count, garp_rexmit.index, p);
}

function unlinkAddr(p: usize): void {
  sl_remove(ia(p).ia_ifp + offsetof<Ifnet>("if_afdata0"), p, offsetof<InIfaddr>("ia_ifnext"));
  const vv = V();
  sl_remove(changetype<usize>(vv) + offsetof<InetVnet>("ia_head"), p, offsetof<InIfaddr>("ia_next"));
  vv.ia_count--;
}

function freeAddr(p: usize): void {
  const x = ia(p);
  const ifp = x.ia_ifp;
  unlinkAddr(p);
  rt_flush(p, 0);
  // ARP entries of the prefix go unless another address of ifp still covers them.
  let covered = false;
  for (let q = in_ifaddr_first(ifp); q != 0; q = ia(q).ia_ifnext) {
    if (ia(q).ia_subnet == x.ia_subnet && ia(q).ia_plen == x.ia_plen) covered = true;
  }
  if (!covered && (changetype<Ifnet>(ifp).if_flags & IFF_LOOPBACK) == 0) arp_flush(ifp, x.ia_subnet, x.ia_mask);
  // in_scrubprefix: another address of the same prefix takes the connected route over.
  if (rt_find(x.ia_subnet, x.ia_plen) == 0) {
    for (let q = V().ia_head; q != 0; q = ia(q).ia_next) {
      if (ia(q).ia_subnet == x.ia_subnet && ia(q).ia_plen == x.ia_plen) {
        rt_insert(ia(q).ia_subnet, ia(q).ia_plen, 0, ia(q).ia_ifp, q, RTF_PINNED);
        break;
      }
    }
  }
  callout_stop(p + IA_CALLOUT); // a repeat due must not fire on freed memory
  x.ia_magic = 0;
  zone_free(InetGlobals.iaZone, p);
}

/** ifconfig IF inet addr -alias. 0 or -ENOENT. */
export function in_control_del(ifp: usize, addr: u32): i32 {
  for (let p = in_ifaddr_first(ifp); p != 0; p = ia(p).ia_ifnext) {
    if (ia(p).ia_addr == addr) {
      freeAddr(p);
      return 0;
    }
  }
  return -ENOENT;
}

/** The interface is leaving the vnet (or going away): its addresses, routes and ARP entries go. */
export function in_ifdetach(ifp: usize): void {
  while (in_ifaddr_first(ifp) != 0) freeAddr(in_ifaddr_first(ifp));
  rt_flush(0, ifp);
  arp_flush(ifp, 0, 0);
  changetype<Ifnet>(ifp).if_afdata0 = 0;
}

// Address records for the host: 16 bytes each: addr, plen, broadcast, spare.
export const IA_REC: u32 = 16;

export function in_addr_fill(ifp: usize, buf: usize, max: u32): u32 {
  let n: u32 = 0;
  for (let p = in_ifaddr_first(ifp); p != 0 && n < max; p = ia(p).ia_ifnext) {
    const o = buf + n * IA_REC;
    store<u32>(o, ia(p).ia_addr);
    store<u32>(o, ia(p).ia_plen, 4);
    store<u32>(o, ia(p).ia_broadaddr, 8);
    store<u32>(o, 0, 12);
    n++;
  }
  return n;
}

export { EINVAL };
