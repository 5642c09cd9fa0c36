// ipfw nat: in-kernel IPv4 NAPT per vnet (FreeBSD's `ipfw nat` over libalias, in idea), run by
// the O_NAT action of ip_fw2.ts. docs/ipfw_nat.md is the user's description.
//
// Instances: up to NAT_MAX_INST per vnet, configured from the host with a small binary config
// (nat_config below checks every word), kept in one kmem page of the vnet made at the first
// config. An instance has one public address, flags, and up to NAT_MAX_REDIR redirect_port
// rules (static: an inbound packet to the public address and a redirected port goes to the
// local address, and outbound packets from that local address and port leave from the public
// port; they use no table entry).
//
// Mappings (RFC 4787 / RFC 5382 endpoint-independent mapping): an entry maps (proto, local
// address, local port or ICMP echo id) to one public port, whatever the destination; the
// local port is kept when it is free (port preservation), else a port from 1024..65535 is
// probed from a hash of the key. Filtering is endpoint-independent too: once a mapping
// exists, any remote host may reach it (libalias without deny_incoming). Entries come from
// the charged zone "ipfw_nat" (each one charged to its vnet), at most nat_max per vnet (over
// it, a new flow is dropped and counted), on two hash chains in 8 kmem pages of the vnet
// (4,096 buckets each way, made with the first entry):
// by (instance, proto, local address, local port) and by (instance, proto, public port).
// Lifetimes (seconds, settable): TCP transitory (before SYN both ways, after FIN both ways or
// RST) 240 and established 7440 (RFC 5382 REQ-5), UDP 300 (RFC 4787 REQ-5), ICMP 60 (RFC
// 5508 REQ-1). One callout per vnet, every second while entries exist, frees the expired;
// lookups ignore an expired entry, so expiry is exact in virtual time.
//
// Translation edits the packet in place after m_pullup of the headers it touches, with
// checksums updated incrementally (RFC 1624 eqn. 3; the sums are byte-order independent, so
// fields are read and written as they lie in memory). A transport checksum left to the
// interface (CSUM_TCP / CSUM_UDP: the field holds the pseudo-header sum, not complemented) is
// moved by the address change only, the other way round; ports are not in the pseudo
// header. ICMP errors (RFC 5508 sections 4.2, 7): the embedded header's address, port (or
// echo id), IP checksum and, when it is inside the quoted bytes, its transport checksum are
// translated, and the ICMP checksum is recomputed over the whole message.
//
// Fragments: translated from the first fragment. The first fragment of a translated datagram
// leaves an entry keyed by (IP id, addresses, proto) for 30 s; later fragments of the same
// datagram take their address from it. A non-first fragment that arrives before its first
// fragment (or without one) is dropped and counted (no reassembly here).
//
// Hairpinning (RFC 4787 REQ-9, RFC 5382 REQ-8): an inbound translation of a packet received
// on an interface other than the instance's external interface (the one named by `if`, or
// holding the `ip` address when configured) is also translated outbound, so the inside target
// sees the public address and a mapped port as its source, and its answers come back the
// same way.

import {
  zone_alloc, zone_free, kmem_alloc, kmem_free, curvnet, ticks, callout_reset, callout_pending, m_pullup, m_freem,
  in_cksum, PFIL_OUT,
} from "../../kmod/kapi";
import { Mbuf, CSUM_TCP, CSUM_UDP } from "../../sys/mbuf";
import { if_name } from "../../sys/if";
import { Args } from "./ip_fw_args";
import { VF, FWSTAT_INC, ST_BADPKT, ST_NAT } from "./ip_fw_var";

// Per-vnet words (in the ipfw vnet block, at V_NAT: ip_fw_var.ts).
export const NV_INST: u32 = 0; // kmem page of instances, or 0
export const NV_HASH: u32 = 4; // kmem page of hash chains, or 0
export const NV_COUNT: u32 = 8; // entries
export const NV_MAX: u32 = 12; // nat_max
export const NV_LT_TCP_TRANS: u32 = 16;
export const NV_LT_TCP_EST: u32 = 20;
export const NV_LT_UDP: u32 = 24;
export const NV_LT_ICMP: u32 = 28;
export const NV_LT_FRAG: u32 = 32;
export const NV_CALLOUT: u32 = 36; // CALLOUT_SIZE (40)
export const NV_SIZE: u32 = 76;

export const NAT_MAX_DEFAULT: u32 = 65536;
export const NAT_LT_TCP_TRANS: u32 = 240;
export const NAT_LT_TCP_EST: u32 = 7440;
export const NAT_LT_UDP: u32 = 300;
export const NAT_LT_ICMP: u32 = 60;
export const NAT_LT_FRAG: u32 = 30;

export class NatGlobals {
  static base: u32 = 0; // offset of the NAT words inside the ipfw vnet block
  static zone: usize = 0;
}
@inline function NV(off: u32): usize {
  return VF(NatGlobals.base + off);
}

// Instance (256 bytes, NAT_MAX_INST of them in one page).
export const NAT_MAX_INST: u32 = 16;
export const NAT_MAX_REDIR: u32 = 8;
const I_ID: usize = 0; // u32, 0 = free slot
const I_FLAGS: usize = 4;
const I_ADDR: usize = 8; // as in the packet
const I_IFNAME: usize = 12; // 16 bytes, the external interface ('' = none)
const I_NREDIR: usize = 28;
const I_STATS: usize = 32; // NS_* u32 counters
const I_NENT: usize = 32 + 4 * 8; // entries of this instance
const I_REDIR: usize = 96; // NAT_MAX_REDIR * 20 bytes: the config's redirect words
const INST_SIZE: u32 = 256;

// Counters per instance.
const NS_OUT: u32 = 0; // packets translated outbound
const NS_IN: u32 = 1; // packets translated inbound
const NS_IN_IGNORED: u32 = 2; // inbound to the public address with no mapping: passed as they are
const NS_NEW: u32 = 3; // mappings made
const NS_FULL: u32 = 4; // new flows refused: nat_max entries, or no public port free
const NS_HAIRPIN: u32 = 5;
const NS_ICMP_ERR: u32 = 6; // ICMP errors translated
const NS_FRAG_DROP: u32 = 7; // fragments with no first fragment seen
export const NS_COUNT: u32 = 8;

// Config flags (host/ipfw/nat.ts writes them).
export const NATF_SAME_PORTS: u32 = 1;
export const NATF_UNREG_ONLY: u32 = 2;
export const NATF_RESET: u32 = 4;
export const NATF_IF: u32 = 8; // the address was taken from the interface `if`
const NATF_ALL: u32 = 15;

// Entry (zone item, 64 bytes).
export const NAT_ENT_SIZE: u32 = 64;
const E_NEXT_OUT: usize = 0;
const E_NEXT_IN: usize = 4;
const E_INST: usize = 8; // u32 instance id
const E_PROTO: usize = 12; // u8; E_KIND at 13
const E_KIND: usize = 13; // K_MAP, K_FRAG_OUT, K_FRAG_IN
const E_TCP: usize = 14; // u8 TCP flags seen: SYN out 1, SYN in 2, FIN out 4, FIN in 8, RST 16
const E_LPORT: usize = 16; // u16 as in the packet (network order); frag: IP id
const E_APORT: usize = 18; // u16 as in the packet
const E_LADDR: usize = 20;
const E_RADDR: usize = 24; // last remote (shown); frag: the other end of the datagram
const E_RPORT: usize = 28; // u16
const E_EXPIRE: usize = 32; // u64 µs
const E_PKTS_OUT: usize = 40;
const E_PKTS_IN: usize = 44;
const E_BYTES_OUT: usize = 48; // u64
const E_BYTES_IN: usize = 56; // u64
const K_MAP: u8 = 0;
const K_FRAG_OUT: u8 = 1;
const K_FRAG_IN: u8 = 2;

const NBUCKETS: u32 = 4096; // out chains, then in chains: 32 KiB, HASH_PAGES kmem pages
const HASH_PAGES: u32 = (NBUCKETS * 2 * 4) / 4096;
const S: u64 = 1_000_000;
const IPPROTO_ICMP: u32 = 1;
const IPPROTO_TCP: u32 = 6;
const IPPROTO_UDP: u32 = 17;

@inline function bump(inst: usize, i: u32): void {
  const p = inst + I_STATS + (i << 2);
  store<u32>(p, load<u32>(p) + 1);
}

// ---------------------------------------------------------------------------------------
// Checksum arithmetic (RFC 1624). A delta is a ones-complement sum of ~old + new words.

@inline function fold(s: u32): u32 {
  s = (s & 0xffff) + (s >> 16);
  return (s & 0xffff) + (s >> 16);
}
@inline function d16(old: u32, nw: u32): u32 {
  return (~old & 0xffff) + (nw & 0xffff);
}
@inline function d32(old: u32, nw: u32): u32 {
  return d16(old & 0xffff, nw & 0xffff) + d16(old >> 16, nw >> 16);
}
/** A complemented checksum field at p after the words under delta d changed. */
@inline function csum_fix(p: usize, d: u32): void {
  store<u16>(p, <u16>(~fold((~<u32>load<u16>(p) & 0xffff) + fold(d)) & 0xffff));
}
/** A UDP checksum (0: none sent, and a computed 0 goes as 0xffff: RFC 768). */
@inline function udp_csum_fix(p: usize, d: u32): void {
  if (load<u16>(p) == 0) return;
  csum_fix(p, d);
  if (load<u16>(p) == 0) store<u16>(p, 0xffff);
}
/** A pseudo-header sum left for the interface (not complemented) after the addresses changed by d. */
@inline function pseudo_fix(p: usize, d: u32): void {
  store<u16>(p, <u16>fold(<u32>load<u16>(p) + fold(d)));
}

// ---------------------------------------------------------------------------------------
// Instances

function inst_find(id: u32): usize {
  const pg = load<usize>(NV(NV_INST));
  if (pg == 0) return 0;
  for (let i: u32 = 0; i < NAT_MAX_INST; i++) {
    const p = pg + i * INST_SIZE;
    if (load<u32>(p + I_ID) == id) return p;
  }
  return 0;
}

@inline function redir(inst: usize, i: u32): usize {
  return inst + I_REDIR + i * 20;
}
// Redirect words: [proto | count << 16][lport | pport << 16][laddr][raddr][rport] (ports host order).

/** Is the (public) address a of the private ranges unreg_only translates (RFC 1918, RFC 6598)? */
function unregistered(a: u32): bool {
  const h = bswap<u32>(a);
  return (h >> 24) == 10 || (h >> 20) == 0xac1 || (h >> 16) == 0xc0a8 || (h >> 22) == (0x6440 >> 6);
}

export const CFG_WORDS_MIN: u32 = 8;
export let natReason: u32 = 0;
// Why a config was refused (host/admin/ipfw.ts has the texts).
const NR_ID: u32 = 1;
const NR_FLAGS: u32 = 2;
const NR_ADDR: u32 = 3;
const NR_IFNAME: u32 = 4;
const NR_NREDIR: u32 = 5;
const NR_REDIR: u32 = 6;
const NR_OVERLAP: u32 = 7;
const NR_FULL: u32 = 8;

@inline function nrefuse(r: u32): i32 {
  natReason = r;
  return -22;
}

/**
 * ipfw nat N config: words [id][flags][addr][ifname 4 words][nredir][redirects, 5 words
 * each]. Every word is checked; a refused config changes nothing. 0 or -EINVAL (natReason),
 * -ENOMEM, -ENOSPC (NAT_MAX_INST instances).
 */
export function nat_config(p: usize, words: u32): i32 {
  natReason = 0;
  if (words < CFG_WORDS_MIN) return nrefuse(NR_NREDIR);
  const id = load<u32>(p);
  const flags = load<u32>(p, 4);
  const addr = load<u32>(p, 8);
  const nredir = load<u32>(p, 28);
  if (id == 0 || id > 65534) return nrefuse(NR_ID);
  if ((flags & ~NATF_ALL) != 0) return nrefuse(NR_FLAGS);
  const ha = bswap<u32>(addr);
  if (ha == 0 || ha == 0xffffffff || (ha >> 28) >= 14 || (ha >> 24) == 127) return nrefuse(NR_ADDR);
  // The interface name: NUL-terminated inside its 16 bytes, nothing after the NUL.
  let end = false;
  for (let i: u32 = 0; i < 16; i++) {
    const c = load<u8>(p + 12 + i);
    if (end && c != 0) return nrefuse(NR_IFNAME);
    if (c == 0) end = true;
  }
  if (!end) return nrefuse(NR_IFNAME);
  if (nredir > NAT_MAX_REDIR || words != CFG_WORDS_MIN + nredir * 5) return nrefuse(NR_NREDIR);
  for (let i: u32 = 0; i < nredir; i++) {
    const r = p + 32 + i * 20;
    const w0 = load<u32>(r);
    const proto = w0 & 0xffff;
    const cnt = w0 >> 16;
    const lport = load<u32>(r, 4) & 0xffff;
    const pport = load<u32>(r, 4) >> 16;
    const laddr = bswap<u32>(load<u32>(r, 8));
    const rport = load<u32>(r, 16);
    if ((proto != IPPROTO_TCP && proto != IPPROTO_UDP) || cnt == 0 || lport == 0 || pport == 0 ||
        lport + cnt - 1 > 65535 || pport + cnt - 1 > 65535 || laddr == 0 || laddr == 0xffffffff ||
        (laddr >> 28) >= 14 || rport > 65535) return nrefuse(NR_REDIR);
    for (let j: u32 = 0; j < i; j++) {
      const q = p + 32 + j * 20;
      const qp = load<u32>(q) & 0xffff;
      const qc = load<u32>(q) >> 16;
      const qlo = load<u32>(q, 4) >> 16;
      if (qp == proto && pport <= qlo + qc - 1 && qlo <= pport + cnt - 1) return nrefuse(NR_OVERLAP);
    }
  }
  let pg = load<usize>(NV(NV_INST));
  if (pg == 0) {
    pg = kmem_alloc(1, curvnet());
    if (pg == 0) return -12;
    memory.fill(pg, 0, NAT_MAX_INST * INST_SIZE);
    store<usize>(NV(NV_INST), pg);
  }
  let inst = inst_find(id);
  const fresh = inst == 0;
  if (fresh) {
    for (let i: u32 = 0; i < NAT_MAX_INST && inst == 0; i++) {
      if (load<u32>(pg + i * INST_SIZE + I_ID) == 0) inst = pg + i * INST_SIZE;
    }
    if (inst == 0) return nrefuse(NR_FULL);
    memory.fill(inst, 0, INST_SIZE);
  } else if ((flags & NATF_RESET) != 0 || load<u32>(inst + I_ADDR) != addr) {
    // FreeBSD's reset: the mappings go when the address changes (they name the old one).
    nat_flush_inst(id);
  }
  store<u32>(inst + I_ID, id);
  store<u32>(inst + I_FLAGS, flags);
  store<u32>(inst + I_ADDR, addr);
  memory.copy(inst + I_IFNAME, p + 12, 16);
  store<u32>(inst + I_NREDIR, nredir);
  memory.fill(inst + I_REDIR, 0, NAT_MAX_REDIR * 20);
  memory.copy(inst + I_REDIR, p + 32, nredir * 20);
  return 0;
}

/** ipfw nat N delete: the instance and its mappings. 0, or -ENOENT. */
export function nat_delete(id: u32): i32 {
  const inst = inst_find(id);
  if (inst == 0) return -2;
  nat_flush_inst(id);
  store<u32>(inst + I_ID, 0);
  return 0;
}

// ---------------------------------------------------------------------------------------
// The table

@inline function hashOut(id: u32, proto: u32, laddr: u32, lport: u32): u32 {
  let h = laddr ^ (lport << 16) ^ (proto << 8) ^ id;
  h ^= h >> 16;
  h *= 0x45d9f3b;
  h ^= h >> 16;
  return h & (NBUCKETS - 1);
}
@inline function hashIn(id: u32, proto: u32, aport: u32): u32 {
  let h = (aport << 16) ^ (proto << 8) ^ id ^ 0x9e3779b9;
  h ^= h >> 16;
  h *= 0x45d9f3b;
  h ^= h >> 16;
  return h & (NBUCKETS - 1);
}

/** The live mapping by its inside end, or 0. */
function lookupOut(id: u32, kind: u8, proto: u32, laddr: u32, lport: u32, raddr: u32): usize {
  const tab = load<usize>(NV(NV_HASH));
  if (tab == 0) return 0;
  const now = ticks();
  for (let e = load<usize>(tab + (hashOut(id, proto, laddr, lport) << 2)); e != 0; e = load<usize>(e + E_NEXT_OUT)) {
    if (load<u32>(e + E_INST) == id && load<u8>(e + E_KIND) == kind && <u32>load<u8>(e + E_PROTO) == proto &&
        load<u32>(e + E_LADDR) == laddr && <u32>load<u16>(e + E_LPORT) == lport && load<u64>(e + E_EXPIRE) > now &&
        (kind == K_MAP || load<u32>(e + E_RADDR) == raddr)) return e;
  }
  return 0;
}

/** The live mapping by its public port, or 0. */
function lookupIn(id: u32, kind: u8, proto: u32, aport: u32, raddr: u32): usize {
  const tab = load<usize>(NV(NV_HASH));
  if (tab == 0) return 0;
  const now = ticks();
  for (let e = load<usize>(tab + ((NBUCKETS + hashIn(id, proto, aport)) << 2)); e != 0; e = load<usize>(e + E_NEXT_IN)) {
    if (load<u32>(e + E_INST) == id && load<u8>(e + E_KIND) == kind && <u32>load<u8>(e + E_PROTO) == proto &&
        <u32>load<u16>(e + E_APORT) == aport && load<u64>(e + E_EXPIRE) > now &&
        (kind == K_MAP || load<u32>(e + E_RADDR) == raddr)) return e;
  }
  return 0;
}

/** Is public port aport (network order) of proto taken in instance inst (a mapping or a redirect)? */
function portBusy(inst: usize, proto: u32, aport: u32): bool {
  if (lookupIn(load<u32>(inst + I_ID), K_MAP, proto, aport, 0) != 0) return true;
  if (proto == IPPROTO_ICMP) return false;
  const hp = <u32>bswap<u16>(<u16>aport);
  const n = load<u32>(inst + I_NREDIR);
  for (let i: u32 = 0; i < n; i++) {
    const r = redir(inst, i);
    const lo = load<u32>(r, 4) >> 16;
    if ((load<u32>(r) & 0xffff) == proto && hp >= lo && hp < lo + (load<u32>(r) >> 16)) return true;
  }
  return false;
}

function lifetime(e: usize): u32 {
  const p = <u32>load<u8>(e + E_PROTO);
  if (load<u8>(e + E_KIND) != K_MAP) return load<u32>(NV(NV_LT_FRAG));
  if (p == IPPROTO_TCP) {
    const t = <u32>load<u8>(e + E_TCP);
    // RFC 5382 REQ-5: established (SYN seen both ways, no FIN both ways, no RST) long.
    if ((t & 3) == 3 && (t & 12) != 12 && (t & 16) == 0) return load<u32>(NV(NV_LT_TCP_EST));
    return load<u32>(NV(NV_LT_TCP_TRANS));
  }
  if (p == IPPROTO_UDP) return load<u32>(NV(NV_LT_UDP));
  return load<u32>(NV(NV_LT_ICMP));
}

@inline function touch(e: usize): void {
  store<u64>(e + E_EXPIRE, ticks() + <u64>lifetime(e) * S);
}

/** A new entry in both chains; 0 when nat_max is reached or memory is short (counted). */
function entryNew(inst: usize, kind: u8, proto: u32, laddr: u32, lport: u32, aport: u32, raddr: u32): usize {
  if (load<u32>(NV(NV_COUNT)) >= load<u32>(NV(NV_MAX))) {
    bump(inst, NS_FULL);
    return 0;
  }
  let tab = load<usize>(NV(NV_HASH));
  if (tab == 0) {
    tab = kmem_alloc(HASH_PAGES, curvnet());
    if (tab == 0) return 0;
    memory.fill(tab, 0, NBUCKETS << 3);
    store<usize>(NV(NV_HASH), tab);
  }
  const e = zone_alloc(NatGlobals.zone);
  if (e == 0) {
    bump(inst, NS_FULL);
    return 0;
  }
  memory.fill(e, 0, NAT_ENT_SIZE);
  const id = load<u32>(inst + I_ID);
  store<u32>(e + E_INST, id);
  store<u8>(e + E_PROTO, <u8>proto);
  store<u8>(e + E_KIND, kind);
  store<u16>(e + E_LPORT, <u16>lport);
  store<u16>(e + E_APORT, <u16>aport);
  store<u32>(e + E_LADDR, laddr);
  store<u32>(e + E_RADDR, raddr);
  const bo = tab + (hashOut(id, proto, laddr, lport) << 2);
  store<usize>(e + E_NEXT_OUT, load<usize>(bo));
  store<usize>(bo, e);
  const bi = tab + ((NBUCKETS + hashIn(id, proto, aport)) << 2);
  store<usize>(e + E_NEXT_IN, load<usize>(bi));
  store<usize>(bi, e);
  store<u32>(NV(NV_COUNT), load<u32>(NV(NV_COUNT)) + 1);
  store<u32>(inst + I_NENT, load<u32>(inst + I_NENT) + 1);
  touch(e);
  if (!callout_pending(NV(NV_CALLOUT))) callout_reset(NV(NV_CALLOUT), S, nat_tick.index, 0);
  return e;
}

/** The mapping of (proto, laddr, lport), made if there is none: port kept when free. 0: none possible. */
function mapOut(inst: usize, proto: u32, laddr: u32, lport: u32, raddr: u32): usize {
  const id = load<u32>(inst + I_ID);
  const e = lookupOut(id, K_MAP, proto, laddr, lport, 0);
  if (e != 0) return e;
  let aport = lport;
  if (portBusy(inst, proto, aport)) {
    // Probe from a hash of the key, in 1024..65535 (ICMP ids: any but the one taken).
    const h = hashOut(id, proto, laddr, lport) * 127 + (lport & 0xffff);
    let found = false;
    for (let i: u32 = 0; i < 1024 && !found; i++) {
      const hp = 1024 + (h + i * 61) % 64512;
      aport = <u32>bswap<u16>(<u16>hp);
      found = !portBusy(inst, proto, aport);
    }
    if (!found) {
      bump(inst, NS_FULL);
      return 0;
    }
  }
  const n = entryNew(inst, K_MAP, proto, laddr, lport, aport, raddr);
  if (n != 0) bump(inst, NS_NEW);
  return n;
}

function unlinkFree(e: usize): void {
  const tab = load<usize>(NV(NV_HASH));
  const id = load<u32>(e + E_INST);
  const proto = <u32>load<u8>(e + E_PROTO);
  let pp = tab + (hashOut(id, proto, load<u32>(e + E_LADDR), <u32>load<u16>(e + E_LPORT)) << 2);
  while (load<usize>(pp) != e) pp = load<usize>(pp) + E_NEXT_OUT;
  store<usize>(pp, load<usize>(e + E_NEXT_OUT));
  pp = tab + ((NBUCKETS + hashIn(id, proto, <u32>load<u16>(e + E_APORT))) << 2);
  while (load<usize>(pp) != e) pp = load<usize>(pp) + E_NEXT_IN;
  store<usize>(pp, load<usize>(e + E_NEXT_IN));
  const inst = inst_find(id);
  if (inst != 0) store<u32>(inst + I_NENT, load<u32>(inst + I_NENT) - 1);
  zone_free(NatGlobals.zone, e);
  store<u32>(NV(NV_COUNT), load<u32>(NV(NV_COUNT)) - 1);
}

/** Free entries: what 0 the expired, 1 all, 2 those of instance id. How many. */
function sweep(what: u32, id: u32): u32 {
  const tab = load<usize>(NV(NV_HASH));
  if (tab == 0) return 0;
  const now = ticks();
  let n: u32 = 0;
  for (let i: u32 = 0; i < NBUCKETS; i++) {
    let e = load<usize>(tab + (i << 2));
    while (e != 0) {
      const next = load<usize>(e + E_NEXT_OUT);
      if (what == 1 || (what == 0 ? load<u64>(e + E_EXPIRE) <= now : load<u32>(e + E_INST) == id)) {
        unlinkFree(e);
        n++;
      }
      e = next;
    }
  }
  return n;
}

function nat_tick(arg: usize): void {
  sweep(0, 0);
  if (load<u32>(NV(NV_COUNT)) != 0) callout_reset(NV(NV_CALLOUT), S, nat_tick.index, 0);
}

export function nat_flush_inst(id: u32): u32 {
  return sweep(2, id);
}

/** The vnet's NAT, all of it (the ipfw uninit; the callout is drained by the caller). */
export function nat_free_all(): void {
  sweep(1, 0);
  const tab = load<usize>(NV(NV_HASH));
  if (tab != 0) kmem_free(tab, HASH_PAGES, curvnet());
  store<usize>(NV(NV_HASH), 0);
  const pg = load<usize>(NV(NV_INST));
  if (pg != 0) kmem_free(pg, 1, curvnet());
  store<usize>(NV(NV_INST), 0);
}

export function nat_callout(): usize {
  return NV(NV_CALLOUT);
}

// ---------------------------------------------------------------------------------------
// Translation. ip is the IPv4 header (in the first mbuf, with everything read after it).

const TF_SYN: u32 = 2;
const TF_FIN: u32 = 1;
const TF_RST: u32 = 4;

function tcpSeen(e: usize, flags: u32, out: bool): void {
  let t = <u32>load<u8>(e + E_TCP);
  if ((flags & TF_SYN) != 0) t |= out ? 1 : 2;
  if ((flags & TF_FIN) != 0) t |= out ? 4 : 8;
  if ((flags & TF_RST) != 0) t |= 16;
  if ((flags & TF_SYN) != 0 && (flags & 16) == 0 && out) t &= ~(4 | 8 | 16); // a new connection on the mapping
  store<u8>(e + E_TCP, <u8>t);
}

/** Offset of the transport checksum in the proto's header, or 0 when there is none to keep. */
@inline function sumOff(proto: u32): u32 {
  return proto == IPPROTO_TCP ? 16 : proto == IPPROTO_UDP ? 6 : 2;
}

/**
 * Rewrite one end of the packet at ip: the address at aoff (12 source, 16 destination) to a
 * and the port (or echo id) at l4 + poff to port, fixing the IP checksum and the transport's.
 */
function rewrite(m: usize, ip: usize, hlen: u32, proto: u32, aoff: u32, a: u32, poff: u32, port: u32, l4ok: bool): void {
  const old = load<u32>(ip + aoff);
  const da = d32(old, a);
  store<u32>(ip + aoff, a);
  csum_fix(ip + 10, da);
  if (!l4ok) return;
  const l4 = ip + hlen;
  const oldp = <u32>load<u16>(l4 + poff);
  store<u16>(l4 + poff, <u16>port);
  const dp = d16(oldp, port);
  const cs = l4 + sumOff(proto);
  const cf = changetype<Mbuf>(m).ph_csum_flags;
  if (proto == IPPROTO_ICMP) {
    csum_fix(cs, dp); // no pseudo header
  } else if ((cf & (proto == IPPROTO_TCP ? CSUM_TCP : CSUM_UDP)) != 0) {
    pseudo_fix(cs, da); // left to the interface: the pseudo-header sum moves with the address
  } else if (proto == IPPROTO_UDP) {
    udp_csum_fix(cs, da + dp);
  } else {
    csum_fix(cs, da + dp);
  }
}

@inline function isQuery(t: u32): bool {
  return t == 8 || t == 0; // echo request / reply
}
@inline function isError(t: u32): bool {
  return t == 3 || t == 4 || t == 5 || t == 11 || t == 12;
}

/** Redirect i of inst whose local end is (laddr, lport host order), or -1. */
function redirByLocal(inst: usize, proto: u32, laddr: u32, hport: u32): i32 {
  const n = load<u32>(inst + I_NREDIR);
  for (let i: u32 = 0; i < n; i++) {
    const r = redir(inst, i);
    const lo = load<u32>(r, 4) & 0xffff;
    if ((load<u32>(r) & 0xffff) == proto && load<u32>(r, 8) == laddr && hport >= lo && hport < lo + (load<u32>(r) >> 16)) return <i32>i;
  }
  return -1;
}

/** Redirect i of inst for public port hport from (raddr, rport host order), or -1. */
function redirByPublic(inst: usize, proto: u32, hport: u32, raddr: u32, rport: u32): i32 {
  const n = load<u32>(inst + I_NREDIR);
  for (let i: u32 = 0; i < n; i++) {
    const r = redir(inst, i);
    const lo = load<u32>(r, 4) >> 16;
    if ((load<u32>(r) & 0xffff) != proto || hport < lo || hport >= lo + (load<u32>(r) >> 16)) continue;
    const ra = load<u32>(r, 12);
    const rp = load<u32>(r, 16);
    if ((ra == 0 || ra == raddr) && (rp == 0 || rp == rport)) return <i32>i;
  }
  return -1;
}

// What insideOf found: the inside address and port (network order) behind a public port.
let inAddr: u32 = 0;
let inPort: u32 = 0;

/**
 * The inside end behind TCP/UDP public port pport (network order) for a peer raddr:rport
 * (rport host order): a mapping's, else a redirect_port's. Sets inAddr/inPort and returns
 * the mapping (0 for a redirect), or -1 when neither exists. Replies (natIn) and the
 * packets quoted in ICMP errors about them (icmpErrIn) are looked up the same way.
 */
function insideOf(inst: usize, id: u32, proto: u32, pport: u32, raddr: u32, rport: u32): isize {
  const e = lookupIn(id, K_MAP, proto, pport, 0);
  if (e != 0) {
    inAddr = load<u32>(e + E_LADDR);
    inPort = <u32>load<u16>(e + E_LPORT);
    return <isize>e;
  }
  const hp = <u32>bswap<u16>(<u16>pport);
  const ri = redirByPublic(inst, proto, hp, raddr, rport);
  if (ri < 0) return -1;
  const r = redir(inst, <u32>ri);
  inAddr = load<u32>(r, 8);
  inPort = <u32>bswap<u16>(<u16>((load<u32>(r, 4) & 0xffff) + hp - (load<u32>(r, 4) >> 16)));
  return 0;
}

// Results of the one-way translators.
const T_PASS: i32 = 0; // not ours: unchanged
const T_DONE: i32 = 1; // translated
const T_DROP: i32 = 2; // drop (counted)

/** Outbound: the source becomes the public address and a mapped port. */
function natOut(m: usize, inst: usize, ip: usize, hlen: u32, iplen: u32): i32 {
  const proto = <u32>load<u8>(ip + 9);
  const src = load<u32>(ip + 12);
  const dst = load<u32>(ip + 16);
  const addr = load<u32>(inst + I_ADDR);
  const id = load<u32>(inst + I_ID);
  if ((load<u32>(inst + I_FLAGS) & NATF_UNREG_ONLY) != 0 && !unregistered(src)) return T_PASS;
  const offw = <u32>bswap<u16>(load<u16>(ip + 6));
  const ipid = <u32>load<u16>(ip + 4);
  if ((offw & 0x1fff) != 0) {
    // A later fragment: the address its first fragment got.
    const f = lookupOut(id, K_FRAG_OUT, proto, src, ipid, dst);
    if (f == 0) {
      bump(inst, NS_FRAG_DROP);
      return T_DROP;
    }
    rewrite(m, ip, hlen, proto, 12, addr, 0, 0, false);
    bump(inst, NS_OUT);
    return T_DONE;
  }
  const l4 = ip + hlen;
  let e: usize = 0;
  let poff: u32 = 0;
  let nport: u32 = 0;
  if (proto == IPPROTO_TCP || proto == IPPROTO_UDP) {
    const sport = <u32>load<u16>(l4);
    const ri = redirByLocal(inst, proto, src, <u32>bswap<u16>(<u16>sport));
    if (ri >= 0) {
      const r = redir(inst, <u32>ri);
      const hp = (load<u32>(r, 4) >> 16) + (<u32>bswap<u16>(<u16>sport) - (load<u32>(r, 4) & 0xffff));
      nport = <u32>bswap<u16>(<u16>hp);
    } else {
      e = mapOut(inst, proto, src, sport, dst);
      if (e == 0) return T_DROP;
      nport = <u32>load<u16>(e + E_APORT);
      if (proto == IPPROTO_TCP) tcpSeen(e, <u32>load<u8>(l4 + 13), true);
    }
    poff = 0;
  } else if (proto == IPPROTO_ICMP) {
    const t = <u32>load<u8>(l4);
    if (isError(t)) return icmpErrOut(m, inst, ip, hlen, iplen);
    if (t != 8) return T_PASS; // replies and other queries: no mapping to make
    e = mapOut(inst, proto, src, <u32>load<u16>(l4 + 4), dst);
    if (e == 0) return T_DROP;
    nport = <u32>load<u16>(e + E_APORT);
    poff = 4;
  } else {
    return T_PASS;
  }
  if ((offw & 0x2000) != 0 && lookupOut(id, K_FRAG_OUT, proto, src, ipid, dst) == 0) {
    // A first fragment: its followers find their address by (id, addresses, proto).
    entryNew(inst, K_FRAG_OUT, proto, src, ipid, ipid, dst);
  }
  rewrite(m, ip, hlen, proto, 12, addr, poff, nport, true);
  if (e != 0) {
    store<u32>(e + E_RADDR, dst);
    store<u16>(e + E_RPORT, proto == IPPROTO_ICMP ? 0 : load<u16>(l4 + 2));
    store<u32>(e + E_PKTS_OUT, load<u32>(e + E_PKTS_OUT) + 1);
    store<u64>(e + E_BYTES_OUT, load<u64>(e + E_BYTES_OUT) + iplen);
    touch(e);
  }
  bump(inst, NS_OUT);
  return T_DONE;
}

/** Inbound to the public address: the destination becomes the inside end of its mapping or redirect. */
function natIn(m: usize, inst: usize, ip: usize, hlen: u32, iplen: u32): i32 {
  const addr = load<u32>(inst + I_ADDR);
  if (load<u32>(ip + 16) != addr) return T_PASS;
  const proto = <u32>load<u8>(ip + 9);
  const src = load<u32>(ip + 12);
  const id = load<u32>(inst + I_ID);
  const offw = <u32>bswap<u16>(load<u16>(ip + 6));
  const ipid = <u32>load<u16>(ip + 4);
  if ((offw & 0x1fff) != 0) {
    const f = lookupIn(id, K_FRAG_IN, proto, ipid, src);
    if (f == 0) {
      bump(inst, NS_IN_IGNORED);
      return T_PASS; // perhaps the router's own
    }
    rewrite(m, ip, hlen, proto, 16, load<u32>(f + E_LADDR), 0, 0, false);
    bump(inst, NS_IN);
    return T_DONE;
  }
  const l4 = ip + hlen;
  let laddr: u32 = 0;
  let lport: u32 = 0;
  let poff: u32 = 2;
  let e: usize = 0;
  if (proto == IPPROTO_TCP || proto == IPPROTO_UDP) {
    const found = insideOf(inst, id, proto, <u32>load<u16>(l4 + 2), src, <u32>bswap<u16>(load<u16>(l4)));
    if (found < 0) {
      bump(inst, NS_IN_IGNORED);
      return T_PASS;
    }
    e = <usize>found;
    laddr = inAddr;
    lport = inPort;
    if (e != 0 && proto == IPPROTO_TCP) tcpSeen(e, <u32>load<u8>(l4 + 13), false);
  } else if (proto == IPPROTO_ICMP) {
    const t = <u32>load<u8>(l4);
    if (isError(t)) return icmpErrIn(m, inst, ip, hlen, iplen);
    if (t != 0) {
      bump(inst, NS_IN_IGNORED);
      return T_PASS;
    }
    e = lookupIn(id, K_MAP, proto, <u32>load<u16>(l4 + 4), 0);
    if (e == 0) {
      bump(inst, NS_IN_IGNORED);
      return T_PASS;
    }
    laddr = load<u32>(e + E_LADDR);
    lport = <u32>load<u16>(e + E_LPORT);
    poff = 4;
  } else {
    bump(inst, NS_IN_IGNORED);
    return T_PASS;
  }
  if ((offw & 0x2000) != 0 && lookupIn(id, K_FRAG_IN, proto, ipid, src) == 0) {
    entryNew(inst, K_FRAG_IN, proto, laddr, ipid, ipid, src);
  }
  rewrite(m, ip, hlen, proto, 16, laddr, poff, lport, true);
  if (e != 0) {
    store<u32>(e + E_PKTS_IN, load<u32>(e + E_PKTS_IN) + 1);
    store<u64>(e + E_BYTES_IN, load<u64>(e + E_BYTES_IN) + iplen);
    touch(e);
  }
  bump(inst, NS_IN);
  return T_DONE;
}

/**
 * The quoted packet of an ICMP error at ip (RFC 792: the IP header and at least 8 bytes).
 * Returns its header's offset from ip, or 0 when it is too short or not IPv4 (dropped).
 */
function quoted(ip: usize, hlen: u32, iplen: u32): u32 {
  const q = hlen + 8;
  if (iplen < q + 20) return 0;
  const vhl = <u32>load<u8>(ip + q);
  const qhl = (vhl & 15) << 2;
  if ((vhl >> 4) != 4 || qhl < 20 || iplen < q + qhl + 8) return 0;
  return q;
}

/**
 * Rewrite the quoted packet's end (aoff 12 source or 16 destination; port at poff of its
 * transport header) and the outer address at outerOff, then recompute the ICMP checksum.
 */
function rewriteQuoted(m: usize, ip: usize, hlen: u32, iplen: u32, q: u32, aoff: u32, a: u32, poff: u32, port: u32, outerOff: u32, outer: u32): void {
  const qip = ip + q;
  const qhl = (<u32>load<u8>(qip) & 15) << 2;
  const qproto = <u32>load<u8>(qip + 9);
  const ql4 = qip + qhl;
  const old = load<u32>(qip + aoff);
  const da = d32(old, a);
  store<u32>(qip + aoff, a);
  csum_fix(qip + 10, da);
  const oldp = <u32>load<u16>(ql4 + poff);
  store<u16>(ql4 + poff, <u16>port);
  const dp = d16(oldp, port);
  // The quoted transport checksum, when the quote holds it (UDP always; TCP's at 16 only if quoted).
  const avail = iplen - q - qhl;
  if (qproto == IPPROTO_UDP) udp_csum_fix(ql4 + 6, da + dp);
  else if (qproto == IPPROTO_TCP && avail >= 18) csum_fix(ql4 + 16, da + dp);
  else if (qproto == IPPROTO_ICMP) csum_fix(ql4 + 2, dp);
  const oo = load<u32>(ip + outerOff);
  store<u32>(ip + outerOff, outer);
  csum_fix(ip + 10, d32(oo, outer));
  const l4 = ip + hlen;
  store<u16>(l4 + 2, 0);
  const s = in_cksum(m, hlen, iplen - hlen, 0);
  store<u16>(l4 + 2, bswap<u16>(<u16>s));
}

/** An ICMP error coming in about a packet we sent out translated: RFC 5508 section 4.2. */
function icmpErrIn(m: usize, inst: usize, ip: usize, hlen: u32, iplen: u32): i32 {
  const q = quoted(ip, hlen, iplen);
  if (q == 0) return T_DROP;
  const qip = ip + q;
  const qhl = (<u32>load<u8>(qip) & 15) << 2;
  const qproto = <u32>load<u8>(qip + 9);
  if (load<u32>(qip + 12) != load<u32>(inst + I_ADDR)) {
    bump(inst, NS_IN_IGNORED);
    return T_PASS;
  }
  const ql4 = qip + qhl;
  const id = load<u32>(inst + I_ID);
  let laddr: u32 = 0;
  let lport: u32 = 0;
  let poff: u32 = 0;
  if (qproto == IPPROTO_TCP || qproto == IPPROTO_UDP) {
    // The quoted packet went out from the public side: its source is the public port.
    if (insideOf(inst, id, qproto, <u32>load<u16>(ql4), load<u32>(qip + 16), <u32>bswap<u16>(load<u16>(ql4 + 2))) < 0) {
      bump(inst, NS_IN_IGNORED);
      return T_PASS;
    }
    laddr = inAddr;
    lport = inPort;
  } else if (qproto == IPPROTO_ICMP && load<u8>(ql4) == 8) {
    const e = lookupIn(id, K_MAP, qproto, <u32>load<u16>(ql4 + 4), 0);
    if (e == 0) {
      bump(inst, NS_IN_IGNORED);
      return T_PASS;
    }
    laddr = load<u32>(e + E_LADDR);
    lport = <u32>load<u16>(e + E_LPORT);
    poff = 4;
  } else {
    bump(inst, NS_IN_IGNORED);
    return T_PASS;
  }
  rewriteQuoted(m, ip, hlen, iplen, q, 12, laddr, poff, lport, 16, laddr);
  bump(inst, NS_ICMP_ERR);
  bump(inst, NS_IN);
  return T_DONE;
}

/** An ICMP error going out from inside about a packet that came in translated. */
function icmpErrOut(m: usize, inst: usize, ip: usize, hlen: u32, iplen: u32): i32 {
  const q = quoted(ip, hlen, iplen);
  if (q == 0) return T_DROP;
  const qip = ip + q;
  const qhl = (<u32>load<u8>(qip) & 15) << 2;
  const qproto = <u32>load<u8>(qip + 9);
  const ql4 = qip + qhl;
  const qdst = load<u32>(qip + 16);
  const id = load<u32>(inst + I_ID);
  let nport: u32 = 0;
  let poff: u32 = 2;
  if (qproto == IPPROTO_TCP || qproto == IPPROTO_UDP) {
    const dport = <u32>load<u16>(ql4 + 2);
    const e = lookupOut(id, K_MAP, qproto, qdst, dport, 0);
    if (e != 0) {
      nport = <u32>load<u16>(e + E_APORT);
    } else {
      const ri = redirByLocal(inst, qproto, qdst, <u32>bswap<u16>(<u16>dport));
      if (ri < 0) return T_PASS;
      const r = redir(inst, <u32>ri);
      nport = <u32>bswap<u16>(<u16>((load<u32>(r, 4) >> 16) + <u32>bswap<u16>(<u16>dport) - (load<u32>(r, 4) & 0xffff)));
    }
  } else if (qproto == IPPROTO_ICMP && load<u8>(ql4) == 0) {
    const e = lookupOut(id, K_MAP, qproto, qdst, <u32>load<u16>(ql4 + 4), 0);
    if (e == 0) return T_PASS;
    nport = <u32>load<u16>(e + E_APORT);
    poff = 4;
  } else {
    return T_PASS;
  }
  const addr = load<u32>(inst + I_ADDR);
  rewriteQuoted(m, ip, hlen, iplen, q, 16, addr, poff, nport, 12, load<u32>(ip + 12) == qdst ? addr : load<u32>(ip + 12));
  bump(inst, NS_ICMP_ERR);
  bump(inst, NS_OUT);
  return T_DONE;
}

/** Did m come in on the instance's external interface (or is none known)? */
function onExternal(inst: usize): bool {
  if (load<u8>(inst + I_IFNAME) == 0 || Args.ifp == 0) return true;
  const name = if_name(Args.ifp);
  for (let j: u32 = 0; j < 16; j++) {
    const c = load<u8>(inst + I_IFNAME + j);
    if (load<u8>(name + j) != c) return false;
    if (c == 0) return true;
  }
  return true;
}

/**
 * The O_NAT action (ip_fw2.ts): translate m through instance id, in the direction of the
 * hook. Takes ownership of m; returns the packet to pass on (perhaps a new chain head after
 * m_pullup), or 0 when it was dropped (counted: no such instance, malformed, table full, a
 * lone fragment). IPv6 packets pass untranslated.
 */
export function ipfw_nat(m: usize, id: u32): usize {
  const inst = inst_find(id);
  if (inst == 0) {
    FWSTAT_INC(ST_NAT); // FreeBSD: a nat rule naming no instance denies
    m_freem(m);
    return 0;
  }
  if (Args.af != 4) return m;
  // Everything translated lies in the first mbuf: the IP header, the transport header (or an
  // ICMP error's quote: its IP header and 8 bytes) as far as the datagram holds them.
  const iplen = Args.iplen;
  const hlen = Args.hlen;
  let need = hlen + (Args.proto == IPPROTO_TCP ? 20 : 8);
  if (Args.proto == IPPROTO_ICMP) need = hlen + 8 + 60 + 20;
  if (Args.nonfirst) need = hlen;
  if (need > iplen) need = iplen;
  if (Args.ulp && Args.proto == IPPROTO_ICMP && isError(Args.icmptype) && iplen < hlen + 8 + 28) {
    FWSTAT_INC(ST_BADPKT); // an error quoting less than an IP header and 8 bytes
    m_freem(m);
    return 0;
  }
  if (changetype<Mbuf>(m).m_len < <i32>need) {
    m = m_pullup(m, <i32>need);
    if (m == 0) {
      FWSTAT_INC(ST_BADPKT);
      return 0;
    }
  }
  const ip = changetype<Mbuf>(m).m_data;
  let r: i32;
  if ((Args.dir & PFIL_OUT) != 0) {
    r = natOut(m, inst, ip, hlen, iplen);
  } else {
    r = natIn(m, inst, ip, hlen, iplen);
    if (r == T_DONE && !onExternal(inst)) {
      // Hairpinning: from inside to the public address; the source is translated too.
      r = natOut(m, inst, ip, hlen, iplen);
      if (r != T_DROP) {
        bump(inst, NS_HAIRPIN);
        r = T_DONE;
      }
    }
  }
  if (r == T_DROP) {
    FWSTAT_INC(ST_NAT);
    m_freem(m);
    return 0;
  }
  return m;
}

// ---------------------------------------------------------------------------------------
// Listing (ipfw nat show)

/**
 * Instances then entries into out (words), at most cap words: per instance [id][flags][addr]
 * [ifname 4][nredir][entries][NS_COUNT counters][redirects 8 * 5] (60 words); then a word
 * 0xffffffff; then entries after `skip` of them, 16 words each: [inst][proto | kind << 8 |
 * tcp << 16][laddr][lport | aport << 16][raddr][rport][ms to expiry][pkts out][pkts in]
 * [bytes out lo, hi][bytes in lo, hi][0 0 0]. Returns words written.
 */
export function nat_list(out: usize, cap: u32, skip: u32): u32 {
  let n: u32 = 0;
  const pg = load<usize>(NV(NV_INST));
  if (pg != 0) {
    for (let i: u32 = 0; i < NAT_MAX_INST; i++) {
      const inst = pg + i * INST_SIZE;
      if (load<u32>(inst + I_ID) == 0) continue;
      if (n + 60 > cap) return n;
      const o = out + (n << 2);
      memory.copy(o, inst, 32); // id, flags, addr, ifname, nredir
      store<u32>(o, load<u32>(inst + I_NENT), 32);
      memory.copy(o + 36, inst + I_STATS, NS_COUNT << 2);
      memory.copy(o + 36 + (NS_COUNT << 2), inst + I_REDIR, NAT_MAX_REDIR * 20);
      n += 9 + NS_COUNT + NAT_MAX_REDIR * 5;
    }
  }
  if (n + 1 > cap) return n;
  store<u32>(out + (n << 2), 0xffffffff);
  n++;
  const tab = load<usize>(NV(NV_HASH));
  if (tab == 0) return n;
  const now = ticks();
  let seen: u32 = 0;
  for (let i: u32 = 0; i < NBUCKETS; i++) {
    for (let e = load<usize>(tab + (i << 2)); e != 0; e = load<usize>(e + E_NEXT_OUT)) {
      const exp = load<u64>(e + E_EXPIRE);
      if (exp <= now) continue;
      if (seen++ < skip) continue;
      if (n + 16 > cap) return n;
      const o = out + (n << 2);
      store<u32>(o, load<u32>(e + E_INST));
      store<u32>(o, <u32>load<u8>(e + E_PROTO) | (<u32>load<u8>(e + E_KIND) << 8) | (<u32>load<u8>(e + E_TCP) << 16), 4);
      store<u32>(o, load<u32>(e + E_LADDR), 8);
      store<u32>(o, <u32>bswap<u16>(load<u16>(e + E_LPORT)) | (<u32>bswap<u16>(load<u16>(e + E_APORT)) << 16), 12);
      store<u32>(o, load<u32>(e + E_RADDR), 16);
      store<u32>(o, <u32>bswap<u16>(load<u16>(e + E_RPORT)), 20);
      store<u32>(o, <u32>((exp - now + 999) / 1000), 24);
      store<u32>(o, load<u32>(e + E_PKTS_OUT), 28);
      store<u32>(o, load<u32>(e + E_PKTS_IN), 32);
      store<u64>(o, load<u64>(e + E_BYTES_OUT), 36);
      store<u64>(o, load<u64>(e + E_BYTES_IN), 44);
      store<u32>(o, 0, 52);
      store<u64>(o, 0, 56);
      n += 16;
    }
  }
  return n;
}

export { ST_BADPKT };
