// IPv6 protocol control blocks for UDP (FreeBSD netinet6/in6_pcb.c, the parts UDP uses):
// bind, and the lookups input and ICMPv6 use, over the PCBs marked INP_IPV6. They share
// the udp module's list, port hash and ephemeral ports with IPv4 (netinet/udp/in_pcb.ts);
// each family's lookups see only the PCBs marked for it, so with IPV6_V6ONLY on (FreeBSD's
// default) a port may be bound once per family. Addresses are 16 bytes, network order; ::
// is the wildcard. Bind conflicts follow the IPv4 rules of in_pcb.ts; a dual socket (IPV6_V6ONLY
// off) binding :: also takes the port's IPv4 wildcard, so it must pass IPv4's rules too, and
// an AF_INET bind meets it there in turn (Linux's symmetric rule: FreeBSD lets a dual bind
// follow an AF_INET wildcard one, docs/sockets.md "Dual-stack sockets").

import { Socket, SO_REUSEADDR, SO_REUSEPORT } from "../sys/socket";
import { in6_copy, in6_zero, in6_eq, IN6_IS_ADDR_UNSPECIFIED, IN6_IS_ADDR_MULTICAST } from "../sys/in6";
import { inp, INP_IPV4, INP_IPV6, in6p_laddr, in6p_faddr } from "../netinet/udp/udp_var";
import { in_pcbchain, in_pcb_lport, in_pcbinshash, in_pcblookup_local, soopts } from "../netinet/udp/in_pcb";
import { INADDR_ANY } from "../sys/in";

const EADDRINUSE: i32 = 48;
const EADDRNOTAVAIL: i32 = 49;
const ENOBUFS: i32 = 55;

@inline function v6(p: usize, lport: u32): bool {
  return (inp(p).inp_vflag & INP_IPV6) != 0 && <u32>inp(p).inp_lport == lport;
}

@inline function connected(p: usize): bool {
  return !IN6_IS_ADDR_UNSPECIFIED(in6p_faddr(p));
}

/** An IPv6 PCB on lport a bind of (laddr, lport) collides with (see in_pcblookup_local). */
export function in6_pcblookup_local(laddr: usize, lport: u32, wild: bool): usize {
  const any = IN6_IS_ADDR_UNSPECIFIED(laddr);
  let match: usize = 0;
  let matchwild: u32 = 3;
  for (let p = in_pcbchain(lport); p != 0; p = inp(p).inp_hnext) {
    if (!v6(p, lport)) continue;
    const pla = in6p_laddr(p);
    if (!wild) {
      if (!connected(p) && in6_eq(pla, laddr)) return p;
      continue;
    }
    let w: u32 = 0;
    if (connected(p)) w++;
    if (!IN6_IS_ADDR_UNSPECIFIED(pla)) {
      if (any) w++;
      else if (!in6_eq(pla, laddr)) continue;
    } else if (!any) w++;
    if (w < matchwild) {
      match = p;
      matchwild = w;
      if (w == 0) break;
    }
  }
  return match;
}

/** in6_pcbbind: bind p to laddr:lport (lport 0: ephemeral). 0, -EADDRINUSE, -EADDRNOTAVAIL, -ENOBUFS. */
export function in6_pcbbind(p: usize, laddr: usize, lport: u32): i32 {
  const x = inp(p);
  if (lport == 0) {
    lport = in_pcb_lport();
    if (lport == 0) return -EADDRNOTAVAIL;
  } else {
    const opts = soopts(p);
    let reuseport = opts & <u32>SO_REUSEPORT;
    if (IN6_IS_ADDR_MULTICAST(laddr) && (opts & <u32>SO_REUSEADDR) != 0) reuseport = <u32>(SO_REUSEADDR | SO_REUSEPORT);
    const wild = (opts & <u32>(SO_REUSEADDR | SO_REUSEPORT)) == 0;
    const t = in6_pcblookup_local(laddr, lport, wild);
    if (t != 0 && (reuseport & soopts(t)) == 0) return -EADDRINUSE;
    if ((x.inp_vflag & INP_IPV4) != 0 && IN6_IS_ADDR_UNSPECIFIED(laddr)) {
      // Dual: the IPv4 wildcard of the port as well.
      const t4 = in_pcblookup_local(INADDR_ANY, lport, wild);
      if (t4 != 0 && (reuseport & soopts(t4)) == 0) return -EADDRINUSE;
    }
  }
  in6_copy(in6p_laddr(p), laddr);
  x.inp_lport = <u16>lport;
  if (!in_pcbinshash(p)) {
    in6_zero(in6p_laddr(p));
    x.inp_lport = 0;
    return -ENOBUFS;
  }
  return 0;
}

/** Another IPv6 PCB with exactly this 4-tuple. */
export function in6_pcblookup_exact(faddr: usize, fport: u32, laddr: usize, lport: u32, except: usize): usize {
  for (let p = in_pcbchain(lport); p != 0; p = inp(p).inp_hnext) {
    if (p != except && v6(p, lport) && <u32>inp(p).inp_fport == fport && in6_eq(in6p_faddr(p), faddr) && in6_eq(in6p_laddr(p), laddr)) return p;
  }
  return 0;
}

/** The PCB for a datagram src:sport -> dst:dport: connected 4-tuple > bound to dst > wildcard. */
export function in6_pcblookup(src: usize, sport: u32, dst: usize, dport: u32): usize {
  let wildp: usize = 0;
  let local: usize = 0;
  for (let p = in_pcbchain(dport); p != 0; p = inp(p).inp_hnext) {
    if (!v6(p, dport)) continue;
    if (connected(p)) {
      if (<u32>inp(p).inp_fport == sport && in6_eq(in6p_faddr(p), src) && in6_eq(in6p_laddr(p), dst)) return p;
      continue;
    }
    if (in6_eq(in6p_laddr(p), dst)) {
      if (local == 0) local = p;
    } else if (IN6_IS_ADDR_UNSPECIFIED(in6p_laddr(p))) {
      if (wildp == 0) wildp = p;
    }
  }
  return local != 0 ? local : wildp;
}

/** A connected IPv6 PCB with this 4-tuple (ICMPv6 errors go to connected sockets only). */
export function in6_pcblookup_connected(faddr: usize, fport: u32, laddr: usize, lport: u32): usize {
  for (let p = in_pcbchain(lport); p != 0; p = inp(p).inp_hnext) {
    if (v6(p, lport) && connected(p) && <u32>inp(p).inp_fport == fport && in6_eq(in6p_faddr(p), faddr) &&
        (in6_eq(in6p_laddr(p), laddr) || IN6_IS_ADDR_UNSPECIFIED(in6p_laddr(p)))) return p;
  }
  return 0;
}

export { Socket };
