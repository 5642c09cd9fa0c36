// Scope zones of IPv6 addresses at the socket layer (RFC 4007; FreeBSD netinet6/scope6.c,
// sa6_embedscope/sa6_recoverscope), compiled into the transports that import it (udp, tcp;
// they do not import inet6). A link-local unicast address (fe80::/10) or an interface- or
// link-local multicast address means nothing without its link; a socket names the link
// with sin6_scope_id, an interface index of the socket's vnet.
//
// Inside the transports the zone is embedded, as in FreeBSD: the 16 bytes of a pcb address
// carry the interface index in their second 16-bit word (network order), which the wire
// form keeps zero for these addresses (RFC 4291 2.5.6). So two peers fe80::1 on two links
// are two different addresses to every pcb lookup, with no field added. The embedded form
// never leaves the transport: sockaddrs going up are recovered (the word cleared, the
// index into sin6_scope_id), and addresses handed to inet6 (output, source selection, MTU,
// "is it ours") are cleared with the zone's interface passed beside them (in6_unzone).
// Input embeds the receiving interface's index before the lookups (in6_zone_in).
//
// Errors (FreeBSD with net.inet6.ip6.use_defaultzone=0): a scoped address with scope id 0
// is EINVAL; a scope id that names no interface of the vnet is ENXIO.

import { curvnet, ifnet_byindex_vnet, if_valid } from "../kmod/kapi";
import { Ifnet } from "../sys/if";
import { SIN6_ADDR, SIN6_SCOPE_ID } from "../sys/socket";
import { in6_copy, IN6_IS_ADDR_LINKLOCAL, IN6_IS_ADDR_MULTICAST, IN6_MC_SCOPE, IPV6_SCOPE_LINKLOCAL } from "../sys/in6";

const EINVAL: i32 = 22;
const ENXIO: i32 = 6;

/** a has a link for its zone: link-local unicast, or interface-/link-local multicast. */
@inline export function in6_scoped(a: usize): bool {
  return IN6_IS_ADDR_LINKLOCAL(a) || (IN6_IS_ADDR_MULTICAST(a) && IN6_MC_SCOPE(a) <= IPV6_SCOPE_LINKLOCAL);
}

/** The zone (interface index) embedded in a, 0 for none. */
@inline export function in6_zone(a: usize): u32 {
  return in6_scoped(a) ? <u32>bswap<u16>(load<u16>(a, 2)) : 0;
}

/** The interface of the zone embedded in a in the current vnet, 0 for none. */
export function in6_zone_ifp(a: usize): usize {
  const z = in6_zone(a);
  return z != 0 ? ifnet_byindex_vnet(curvnet(), z) : 0;
}

/** out = a as the wire has it (the embedded zone cleared); returns the zone's interface (0: none). */
export function in6_unzone(out: usize, a: usize): usize {
  const ifp = in6_zone_ifp(a);
  in6_copy(out, a);
  if (in6_scoped(a)) store<u16>(out, 0, 2);
  return ifp;
}

/** Embed interface ifp's index in scoped address a (in place; a wire address from input). */
export function in6_zone_in(a: usize, ifp: usize): void {
  if (!in6_scoped(a)) return;
  const z = ifp != 0 && if_valid(ifp) ? changetype<Ifnet>(ifp).if_index : 0;
  store<u16>(a, bswap<u16>(<u16>z), 2);
}

/** Embed zone z in scoped address a (in place): a source chosen for a destination of zone z. */
@inline export function in6_zone_set(a: usize, z: u32): void {
  if (in6_scoped(a)) store<u16>(a, bswap<u16>(<u16>z), 2);
}

/**
 * sa6_embedscope: the address of sockaddr_in6 sa into out, its zone embedded when it is
 * scoped. 0, -EINVAL (scoped, no scope id, or a non-zero second word: not a wire form) or
 * -ENXIO (the scope id names no interface here). A scope id on an unscoped address is
 * ignored (FreeBSD).
 */
export function sa6_embedscope(sa: usize, out: usize): i32 {
  const a = sa + SIN6_ADDR;
  in6_copy(out, a);
  if (!in6_scoped(a)) return 0;
  if (load<u16>(a, 2) != 0) return -EINVAL;
  const id = load<u32>(sa + SIN6_SCOPE_ID);
  if (id == 0) return -EINVAL;
  if (id > 0xffff || ifnet_byindex_vnet(curvnet(), id) == 0) return -ENXIO;
  store<u16>(out, bswap<u16>(<u16>id), 2);
  return 0;
}

/** sa6_recoverscope: in a filled sockaddr_in6, move an embedded zone to sin6_scope_id. */
export function sa6_recoverscope(sa: usize): void {
  const a = sa + SIN6_ADDR;
  if (!in6_scoped(a)) return;
  store<u32>(sa + SIN6_SCOPE_ID, <u32>bswap<u16>(load<u16>(a, 2)));
  store<u16>(a, 0, 2);
}
