// UDP protocol control blocks (FreeBSD netinet/in_pcb.c, the parts UDP uses): allocation,
// the per-vnet list and port hash, bind (specific address or wildcard, ephemeral ports,
// SO_REUSEADDR/SO_REUSEPORT), connect, disconnect, and the lookups input and ICMP use.
//
// Every function runs with curvnet = the PCB's vnet. Addresses and ports are host order.
// IPv6 PCBs share the list, the port hash and the ephemeral ports; the lookups here are
// IPv4's and see the PCBs marked INP_IPV4: AF_INET sockets' and the AF_INET6 sockets that
// take IPv4 too (IPV6_V6ONLY off: dual, or bound or connected to a v4-mapped address;
// udp_var.ts). netinet6/in6_pcb.ts has IPv6's lookups: with IPV6_V6ONLY on (FreeBSD's
// default) a port may be bound once per family.
//
// Bind conflicts follow in_pcbbind_setup: a socket with neither SO_REUSEADDR nor
// SO_REUSEPORT conflicts with any PCB on the port whose local address overlaps (equal, or
// either one the wildcard); a socket with one of them conflicts only with an unconnected
// PCB bound to exactly the same address, and even that is allowed when both sockets have
// SO_REUSEPORT (for a multicast address SO_REUSEADDR counts as SO_REUSEPORT).
// Ephemeral ports come from [portfirst, portlast] (10000-65535) starting at a random point
// (arc4random, as net.inet.ip.portrange.randomized) and take the first port no PCB uses.

import { zone_alloc, zone_free, kmem_alloc, kmem_free, curvnet, arc4random } from "../../kmod/kapi";
import { Socket, SO_REUSEADDR, SO_REUSEPORT } from "../../sys/socket";
import { INADDR_ANY, IN_MULTICAST } from "../../sys/in";
import { Inpcb, UdpGlobals, V, inp, INP_INHASH, INP_IPV4, INP_IPV6PROTO, UDB_HASHMASK, UDB_HASHSIZE, UDP_TTL_DEFAULT } from "./udp_var";

const EADDRINUSE: i32 = 48;
const EADDRNOTAVAIL: i32 = 49;
const ENOBUFS: i32 = 55;

/** A new PCB for socket so on the vnet's list (not bound: not on the hash). */
export function in_pcballoc(so: usize): usize {
  const p = zone_alloc(UdpGlobals.pcbZone);
  if (p == 0) return 0;
  memory.fill(p, 0, offsetof<Inpcb>());
  const x = inp(p);
  x.inp_socket = so;
  x.inp_ttl = UDP_TTL_DEFAULT;
  const vv = V();
  x.inp_next = vv.list;
  if (vv.list != 0) inp(vv.list).inp_prev = p;
  vv.list = p;
  vv.count++;
  changetype<Socket>(so).so_pcb = p;
  return p;
}

/** Off the hash and the list, back to the zone. */
export function in_pcbfree(p: usize): void {
  in_pcbremhash(p);
  const x = inp(p);
  const vv = V();
  if (x.inp_prev != 0) inp(x.inp_prev).inp_next = x.inp_next;
  else vv.list = x.inp_next;
  if (x.inp_next != 0) inp(x.inp_next).inp_prev = x.inp_prev;
  vv.count--;
  if (x.inp_socket != 0) changetype<Socket>(x.inp_socket).so_pcb = 0;
  x.inp_socket = 0;
  zone_free(UdpGlobals.pcbZone, p);
}

@inline function bucket(lport: u32): usize {
  return V().hash + ((<usize>lport & UDB_HASHMASK) << 2);
}

/** First PCB of lport's chain (others on the chain have other ports: compare). */
@inline export function in_pcbchain(lport: u32): usize {
  const h = V().hash;
  return h == 0 ? 0 : load<usize>(bucket(lport));
}

export function in_pcbinshash(p: usize): bool {
  const vv = V();
  if (vv.hash == 0) {
    const h = kmem_alloc(1, curvnet());
    if (h == 0) return false;
    memory.fill(h, 0, UDB_HASHSIZE * 4);
    vv.hash = h;
  }
  const x = inp(p);
  const b = bucket(x.inp_lport);
  const first = load<usize>(b);
  x.inp_hprev = 0;
  x.inp_hnext = first;
  if (first != 0) inp(first).inp_hprev = p;
  store<usize>(b, p);
  x.inp_flags |= INP_INHASH;
  return true;
}

export function in_pcbremhash(p: usize): void {
  const x = inp(p);
  if ((x.inp_flags & INP_INHASH) == 0) return;
  if (x.inp_hprev != 0) inp(x.inp_hprev).inp_hnext = x.inp_hnext;
  else store<usize>(bucket(x.inp_lport), x.inp_hnext);
  if (x.inp_hnext != 0) inp(x.inp_hnext).inp_hprev = x.inp_hprev;
  x.inp_hnext = 0;
  x.inp_hprev = 0;
  x.inp_flags &= ~INP_INHASH;
}

/** The vnet's port hash page goes (its uninit; every PCB is gone). */
export function in_pcbhash_free(): void {
  const vv = V();
  if (vv.hash != 0) kmem_free(vv.hash, 1, curvnet());
  vv.hash = 0;
}

@inline export function soopts(p: usize): u32 {
  const so = inp(p).inp_socket;
  return so != 0 ? changetype<Socket>(so).so_options : 0;
}

/**
 * in_pcblookup_local: a PCB bound to lport that a bind of (laddr, lport) would collide
 * with. wild: any overlapping local address (the binder has no reuse option); otherwise
 * only an unconnected PCB bound to exactly laddr.
 */
export function in_pcblookup_local(laddr: u32, lport: u32, wild: bool): usize {
  let match: usize = 0;
  let matchwild: u32 = 3;
  for (let p = in_pcbchain(lport); p != 0; p = inp(p).inp_hnext) {
    const x = inp(p);
    if (<u32>x.inp_lport != lport || (x.inp_vflag & INP_IPV4) == 0) continue;
    if (!wild) {
      if (x.inp_faddr == INADDR_ANY && x.inp_laddr == laddr) return p;
      continue;
    }
    let w: u32 = 0;
    if (x.inp_faddr != INADDR_ANY) w++;
    if (x.inp_laddr != INADDR_ANY) {
      if (laddr == INADDR_ANY) w++;
      else if (x.inp_laddr != laddr) continue;
    } else if (laddr != INADDR_ANY) {
      w++;
    }
    if (w < matchwild) {
      match = p;
      matchwild = w;
      if (w == 0) break;
    }
  }
  return match;
}

/** True if some PCB has local port lport (an ephemeral port must be free of them all). */
function port_used(lport: u32): bool {
  for (let p = in_pcbchain(lport); p != 0; p = inp(p).inp_hnext) if (<u32>inp(p).inp_lport == lport) return true;
  return false;
}

/** in_pcb_lport: a free ephemeral port, or 0 when the range is exhausted. */
export function in_pcb_lport(): u32 {
  const vv = V();
  const first = vv.portfirst;
  const last = vv.portlast;
  const count = last - first + 1;
  let port = first + arc4random() % count;
  for (let i: u32 = 0; i < count; i++) {
    if (!port_used(port)) return port;
    port = port == last ? first : port + 1;
  }
  return 0;
}

/**
 * in_pcbbind: bind p to laddr:lport (laddr already checked to be ours, or INADDR_ANY or
 * multicast); lport 0 = an ephemeral port. 0, -EADDRINUSE, -EADDRNOTAVAIL (no ephemeral
 * port left) or -ENOBUFS (no page for the hash).
 */
export function in_pcbbind(p: usize, laddr: u32, lport: u32): i32 {
  const x = inp(p);
  if (lport == 0) {
    lport = in_pcb_lport();
    if (lport == 0) return -EADDRNOTAVAIL;
  } else {
    const opts = soopts(p);
    let reuseport = opts & <u32>SO_REUSEPORT;
    if (IN_MULTICAST(laddr) && (opts & <u32>SO_REUSEADDR) != 0) reuseport = <u32>(SO_REUSEADDR | SO_REUSEPORT);
    const wild = (opts & <u32>(SO_REUSEADDR | SO_REUSEPORT)) == 0;
    const t = in_pcblookup_local(laddr, lport, wild);
    if (t != 0 && (reuseport & soopts(t)) == 0) return -EADDRINUSE;
  }
  x.inp_laddr = laddr;
  x.inp_lport = <u16>lport;
  if (!in_pcbinshash(p)) {
    x.inp_laddr = INADDR_ANY;
    x.inp_lport = 0;
    return -ENOBUFS;
  }
  return 0;
}

/** Another PCB with exactly this 4-tuple (connect must not make a duplicate). */
export function in_pcblookup_exact(faddr: u32, fport: u32, laddr: u32, lport: u32, except: usize): usize {
  for (let p = in_pcbchain(lport); p != 0; p = inp(p).inp_hnext) {
    const x = inp(p);
    if (p != except && (x.inp_vflag & INP_IPV4) != 0 && <u32>x.inp_lport == lport && x.inp_faddr == faddr && <u32>x.inp_fport == fport && x.inp_laddr == laddr) return p;
  }
  return 0;
}

/**
 * in_pcblookup for a received unicast datagram src:sport -> dst:dport: a connected PCB with
 * exactly that 4-tuple, else an unconnected one bound to dst, else one bound to the
 * wildcard, an AF_INET socket's before a dual AF_INET6 one's (FreeBSD's local_wild before
 * local_wild_mapped). On a shared port (SO_REUSEPORT) the most recently bound wins.
 */
export function in_pcblookup(src: u32, sport: u32, dst: u32, dport: u32): usize {
  let wildp: usize = 0;
  let local: usize = 0;
  for (let p = in_pcbchain(dport); p != 0; p = inp(p).inp_hnext) {
    const x = inp(p);
    if (<u32>x.inp_lport != dport || (x.inp_vflag & INP_IPV4) == 0) continue;
    if (x.inp_faddr != INADDR_ANY) {
      if (x.inp_faddr == src && <u32>x.inp_fport == sport && x.inp_laddr == dst) return p;
      continue;
    }
    if (x.inp_laddr == dst) {
      if (local == 0) local = p;
    } else if (x.inp_laddr == INADDR_ANY) {
      if (wildp == 0 || ((inp(wildp).inp_vflag & INP_IPV6PROTO) != 0 && (x.inp_vflag & INP_IPV6PROTO) == 0)) wildp = p;
    }
  }
  return local != 0 ? local : wildp;
}

/** A connected PCB with exactly this 4-tuple (ICMP errors go to connected sockets only). */
export function in_pcblookup_connected(faddr: u32, fport: u32, laddr: u32, lport: u32): usize {
  for (let p = in_pcbchain(lport); p != 0; p = inp(p).inp_hnext) {
    const x = inp(p);
    if ((x.inp_vflag & INP_IPV4) != 0 && <u32>x.inp_lport == lport && x.inp_faddr == faddr && x.inp_faddr != INADDR_ANY && <u32>x.inp_fport == fport &&
        (x.inp_laddr == laddr || x.inp_laddr == INADDR_ANY)) return p;
  }
  return 0;
}
