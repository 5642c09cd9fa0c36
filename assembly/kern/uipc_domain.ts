// The protocol switch (FreeBSD uipc_domain.c, protosw.h): which protocol serves a socket of
// (domain, type, protocol). A protocol module registers its user-request table
// (struct pr_usrreqs, sys/socket.ts) at MOD_LOAD; the kernel core knows no protocol.
//
// A domain exists while at least one protocol of its family is registered (no separate
// domain registration: the family number is the domain). protocol 0 asks for the default
// of (domain, type): the first one registered; a SOCK_RAW entry registered with protocol 0
// is the wildcard for raw protocols nobody registered (FreeBSD's raw IP).
//
// Entries are fixed slots (a socket keeps its entry's address in so_proto), tagged with the
// module that registered them. kld_purge drops a module's entries; sockets still open on
// one (a forced unload) are closed without calling the protocol, which is gone.

import { KGLOBALS, KG_CURMOD, KG_AFGEN } from "./kglobals";
import { EEXIST, ENOSPC, EINVAL, ENOENT, EBUSY } from "../sys/errno";
import { SOCK_SEQPACKET, SOCK_RAW, PR_STOPPING, pr_flags_for_type } from "../sys/socket";
import { so_orphan_protosw } from "./uipc_socket";

const MAX_PROTOSW: u32 = 32;
const PR_DOMAIN: usize = 0; // 0 = free slot
const PR_TYPE: usize = 4;
const PR_PROTOCOL: usize = 8;
const PR_USRREQS: usize = 12;
const PR_FLAGS: usize = 16;
const PR_MOD: usize = 20;
const PR_NSOCKETS: usize = 24;
const PR_SEQ: usize = 28;
const PRSIZE: u32 = 32;
const table = memory.data(MAX_PROTOSW * PRSIZE, 8);
let seq: u32 = 1;

@inline function pr(i: u32): usize { return table + i * PRSIZE; }

@inline function matches(p: usize, domain: u32, type: u32): bool {
  return load<u32>(p, PR_DOMAIN) == domain && load<u32>(p, PR_TYPE) == type;
}

/**
 * protosw_register: protocol `protocol` of socket type `type` in family `domain` is served
 * by the pr_usrreqs table at usrreqs (PRU_COUNT table slots in the caller's memory).
 * 0, -EINVAL, -EEXIST (already registered) or -ENOSPC.
 */
export function protosw_register(domain: u32, type: u32, protocol: u32, usrreqs: usize): i32 {
  if (domain == 0 || domain > 255 || type == 0 || type > SOCK_SEQPACKET || protocol > 255 || usrreqs == 0 || (usrreqs & 3) != 0) return -EINVAL;
  let free: i32 = -1;
  for (let i: u32 = 0; i < MAX_PROTOSW; i++) {
    const p = pr(i);
    if (load<u32>(p, PR_DOMAIN) == 0) {
      if (free < 0) free = <i32>i;
    } else if (matches(p, domain, type) && load<u32>(p, PR_PROTOCOL) == protocol) {
      return -EEXIST;
    }
  }
  if (free < 0) return -ENOSPC;
  const p = pr(<u32>free);
  store<u32>(p, domain, PR_DOMAIN);
  store<u32>(p, type, PR_TYPE);
  store<u32>(p, protocol, PR_PROTOCOL);
  store<usize>(p, usrreqs, PR_USRREQS);
  store<u32>(p, pr_flags_for_type(type), PR_FLAGS);
  store<u32>(p, load<u32>(KGLOBALS + KG_CURMOD), PR_MOD);
  store<u32>(p, 0, PR_NSOCKETS);
  store<u32>(p, seq++, PR_SEQ);
  return 0;
}

/** Remove a registration. -ENOENT, or -EBUSY while sockets are open on it. */
export function protosw_unregister(domain: u32, type: u32, protocol: u32): i32 {
  for (let i: u32 = 0; i < MAX_PROTOSW; i++) {
    const p = pr(i);
    if (matches(p, domain, type) && load<u32>(p, PR_PROTOCOL) == protocol && load<u32>(p, PR_DOMAIN) != 0) {
      if (load<u32>(p, PR_NSOCKETS) != 0) return -EBUSY;
      memory.fill(p, 0, PRSIZE);
      return 0;
    }
  }
  return -ENOENT;
}

/** pffindproto: the entry serving (domain, type, protocol), protocol 0 = default; or 0. */
export function pffindproto(domain: u32, type: u32, protocol: u32): usize {
  if (domain == 0) return 0;
  let best: usize = 0;
  let wild: usize = 0;
  for (let i: u32 = 0; i < MAX_PROTOSW; i++) {
    const p = pr(i);
    if (!matches(p, domain, type)) continue;
    const pp = load<u32>(p, PR_PROTOCOL);
    if (protocol != 0) {
      if (pp == protocol) return p;
      if (pp == 0 && type == SOCK_RAW) wild = p;
    } else if (best == 0 || load<u32>(p, PR_SEQ) < load<u32>(best, PR_SEQ)) {
      best = p;
    }
  }
  return protocol != 0 ? wild : best;
}

/** True if some protocol of family domain is registered. */
export function pffinddomain(domain: u32): bool {
  if (domain == 0) return false;
  for (let i: u32 = 0; i < MAX_PROTOSW; i++) if (load<u32>(pr(i), PR_DOMAIN) == domain) return true;
  return false;
}

/** True if some protocol of family domain serves sockets of this type. */
export function pffindtype(domain: u32, type: u32): bool {
  for (let i: u32 = 0; i < MAX_PROTOSW; i++) if (matches(pr(i), domain, type)) return true;
  return false;
}

/** Sockets open on entry p (a module's MOD_QUIESCE refuses with EBUSY while nonzero). */
export function protosw_busy(p: usize): u32 {
  if (!protosw_valid(p)) return 0;
  return load<u32>(p, PR_NSOCKETS);
}

/** p is a registered entry (host and modules pass entries back in). */
export function protosw_valid(p: usize): bool {
  return p >= table && p < table + MAX_PROTOSW * PRSIZE && ((p - table) % PRSIZE) == 0 && load<u32>(p, PR_DOMAIN) != 0;
}

@inline export function pr_usrreqs(p: usize): usize { return load<usize>(p, PR_USRREQS); }
@inline export function pr_flags(p: usize): u32 { return load<u32>(p, PR_FLAGS); }
@inline export function pr_protocol(p: usize): u32 { return load<u32>(p, PR_PROTOCOL); }
@inline export function pr_ref(p: usize): void { store<u32>(p, load<u32>(p, PR_NSOCKETS) + 1, PR_NSOCKETS); }
@inline export function pr_unref(p: usize): void { store<u32>(p, load<u32>(p, PR_NSOCKETS) - 1, PR_NSOCKETS); }

/** Table slot of user request `which` (PRU_* offset) of entry p, 0 if unsupported. */
@inline export function pr_req(p: usize, which: usize): u32 {
  const u = load<usize>(p, PR_USRREQS);
  return u != 0 ? load<u32>(u + which) : 0;
}

/**
 * kld_purge: drop every entry module modid registered. Sockets still open on one (only
 * possible after a forced unload) are freed without calling the protocol, and the host
 * hears SE_CLOSED|SE_ERROR (ECONNABORTED). Returns the number of sockets closed so.
 */
export function protosw_purge_module(modid: u32): u32 {
  domain_af_purge_module(modid);
  let n: u32 = 0;
  for (let i: u32 = 0; i < MAX_PROTOSW; i++) {
    const p = pr(i);
    if (load<u32>(p, PR_DOMAIN) == 0 || load<u32>(p, PR_MOD) != modid) continue;
    // The module's code is gone (or going): its sockets are freed without calling it.
    store<usize>(p, 0, PR_USRREQS);
    if (load<u32>(p, PR_NSOCKETS) != 0) n += so_orphan_protosw(p);
    memory.fill(p, 0, PRSIZE);
  }
  return n;
}

/**
 * kldunload's first checkpoint ("stop new work") for module modid: its entries refuse new
 * sockets, connects and listens (PR_STOPPING); sockets already open go on. Returns the
 * number of entries marked.
 */
export function protosw_stop_module(modid: u32): u32 {
  let n: u32 = 0;
  for (let i: u32 = 0; i < MAX_PROTOSW; i++) {
    const p = pr(i);
    if (load<u32>(p, PR_DOMAIN) == 0 || load<u32>(p, PR_MOD) != modid) continue;
    store<u32>(p, load<u32>(p, PR_FLAGS) | PR_STOPPING, PR_FLAGS);
    n++;
  }
  return n;
}

/** Sockets open on the entries module modid registered (kldstat -v: what a forced unload will close). */
export function protosw_sockets_module(modid: u32): u32 {
  let n: u32 = 0;
  for (let i: u32 = 0; i < MAX_PROTOSW; i++) {
    const p = pr(i);
    if (load<u32>(p, PR_DOMAIN) != 0 && load<u32>(p, PR_MOD) == modid) n += load<u32>(p, PR_NSOCKETS);
  }
  return n;
}

// ---------------------------------------------------------------------------------------
// Address families' network-layer entry points (FreeBSD's struct domain, in small). A family
// module (inet6) registers a table of table slots its upper protocols call (output, source
// selection, path MTU, protocol switch, ICMP errors; the layout is the family's, e.g.
// IN6API_* in sys/in6.ts). A transport module can then serve a family that may or may not
// be in the kernel (GENERIC vs NOINET6) without importing it, which the linker would turn
// into a hard dependency. Entries are tagged with the module and go with it.
const MAX_AF: u32 = 32;
const afTable = memory.data(MAX_AF * 8, 4); // [api pointer, module id] per family

/** domain_af_register: family af's entry table is at api. 0, -EINVAL or -EEXIST. */
export function domain_af_register(af: u32, api: usize): i32 {
  if (af == 0 || af >= MAX_AF || api == 0) return -EINVAL;
  const p = afTable + af * 8;
  if (load<usize>(p) != 0) return -EEXIST;
  store<usize>(p, api);
  store<u32>(p, load<u32>(KGLOBALS + KG_CURMOD), 4);
  afgen_bump();
  return 0;
}

export function domain_af_unregister(af: u32): void {
  if (af != 0 && af < MAX_AF) store<u64>(afTable + af * 8, 0);
  afgen_bump();
}

@inline function afgen_bump(): void {
  store<u32>(KGLOBALS + KG_AFGEN, load<u32>(KGLOBALS + KG_AFGEN) + 1);
}

/** The entry table family af registered, or 0 when the family is not in the kernel. */
export function domain_af_api(af: u32): usize {
  return af != 0 && af < MAX_AF ? load<usize>(afTable + af * 8) : 0;
}

function domain_af_purge_module(modid: u32): void {
  for (let af: u32 = 1; af < MAX_AF; af++) {
    if (load<u32>(afTable + af * 8, 4) != modid) continue;
    store<u64>(afTable + af * 8, 0);
    afgen_bump();
  }
}

/** Registered entries (for tests and the host). */
export function protosw_count(): u32 {
  let n: u32 = 0;
  for (let i: u32 = 0; i < MAX_PROTOSW; i++) if (load<u32>(pr(i), PR_DOMAIN) != 0) n++;
  return n;
}

