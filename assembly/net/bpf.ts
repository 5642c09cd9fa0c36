// Capture taps (FreeBSD net/bpf.c in spirit, without filters): a descriptor attached to an
// interface copies every frame in and out, with a timestamp, into a ring of 64 KiB segments
// that the host drains (host/capture.ts parses it and writes pcap or pcapng).
//
// Ring record (little-endian), back to back in a segment, never split across segments:
//   0 u32 reclen (24 + caplen rounded up to 8)   4 u32 caplen   8 u32 origlen
//  12 u16 dir (1 in, 2 out)  14 u16 reserved   16 u64 kernel time (us)   24 data[caplen]
// When the ring is full a frame is dropped and counted, never overwritten.
//
// Offload (docs/tcp.md "Offload between vnets"): a frame whose transport checksum was left
// to the interface (CSUM_DELAY_DATA, CSUM_DELAY_DATA_IPV6) is recorded with the checksum filled in, in the copy
// only, so a capture shows what a wire would carry. Large (TSO) frames never reach a tap:
// an epair stops assisting TSO while a capture is on either end (if_capchanged below).
//
// A descriptor outlives its interface: when the interface goes away the descriptor is
// orphaned (no more frames) and the host still drains what it holds, then closes it.

import { Ifnet, BPF_D_IN, BPF_D_OUT } from "../sys/if";
import { Mbuf, M_PKTHDR, CSUM_DELAY_ANY } from "../sys/mbuf";
import { in_delayed_cksum_value } from "./in_cksum";
import { if_capchanged } from "./if";
import { m_copydata, m_length } from "../kern/uipc_mbuf";
import { kmem_alloc, kmem_free, KMEM_KERNEL_ACCT, PAGES_PER_CHUNK, CHUNK_SIZE } from "../kern/kmem";
import { zone_create, zone_alloc_in, zone_free_in, ZONE_ZERO } from "../kern/zone";
import { KGLOBALS, KG_TICKS } from "../kern/kglobals";

export const BPF_MAXSEG: u32 = 64;
const REC_HDR: u32 = 24;

@unmanaged export class BpfD {
  ifp: usize; // 0 once the interface is gone
  next: usize; // the interface's descriptor list
  snaplen: u32;
  nseg: u32;
  w: u32; // segment being written, and the offset in it
  wo: u32;
  r: u32; // segment being read, and the offset in it
  ro: u32;
  afhdr: u32; // prepend a 4-byte address family (DLT_NULL, loopback)
  pad: u32;
  frames: u64;
  bytes: u64;
  drops: u64;
  // then segs: BPF_MAXSEG x usize, seglen: BPF_MAXSEG x u32
}

const SEGS_OFF: usize = offsetof<BpfD>();
const SEGLEN_OFF: usize = SEGS_OFF + BPF_MAXSEG * sizeof<usize>();
const BPFD_SIZE: u32 = <u32>(SEGLEN_OFF + BPF_MAXSEG * 4);

let bpfzone: usize = 0;
let readPtr: usize = 0;

@inline function seg(d: usize, i: u32): usize { return load<usize>(d + SEGS_OFF + (<usize>i << 2)); }
@inline function seglenp(d: usize, i: u32): usize { return d + SEGLEN_OFF + (<usize>i << 2); }

export function bpf_boot(): i32 {
  if (bpfzone == 0) bpfzone = zone_create("bpf_d", BPFD_SIZE, 0, ZONE_ZERO, 0);
  return bpfzone != 0 ? 0 : -12; // ENOMEM
}

/** Attach a capture to ifp: snaplen bytes of each frame, a ring of nseg 64 KiB segments. */
export function bpf_attach(ifp: usize, snaplen: u32, nseg: u32, afhdr: bool): usize {
  if (nseg == 0 || nseg > BPF_MAXSEG || snaplen == 0 || bpfzone == 0) return 0;
  const d = zone_alloc_in(bpfzone, 0);
  if (d == 0) return 0;
  const dd = changetype<BpfD>(d);
  for (let i: u32 = 0; i < nseg; i++) {
    const s = kmem_alloc(PAGES_PER_CHUNK, KMEM_KERNEL_ACCT);
    if (s == 0) {
      dd.nseg = i;
      freeSegs(d);
      zone_free_in(bpfzone, d, 0);
      return 0;
    }
    store<usize>(d + SEGS_OFF + (<usize>i << 2), s);
  }
  // The largest record must fit a segment.
  dd.snaplen = min<u32>(snaplen, CHUNK_SIZE - REC_HDR - 8);
  dd.nseg = nseg;
  dd.afhdr = afhdr ? 1 : 0;
  dd.ifp = ifp;
  dd.next = changetype<Ifnet>(ifp).if_bpf;
  changetype<Ifnet>(ifp).if_bpf = d;
  if_capchanged(ifp);
  return d;
}

function freeSegs(d: usize): void {
  const n = changetype<BpfD>(d).nseg;
  for (let i: u32 = 0; i < n; i++) kmem_free(seg(d, i), PAGES_PER_CHUNK, KMEM_KERNEL_ACCT);
}

function unhook(d: usize): void {
  const dd = changetype<BpfD>(d);
  if (dd.ifp == 0) return;
  const ii = changetype<Ifnet>(dd.ifp);
  if (ii.if_bpf == d) {
    ii.if_bpf = dd.next;
  } else {
    let p = ii.if_bpf;
    while (p != 0 && changetype<BpfD>(p).next != d) p = changetype<BpfD>(p).next;
    if (p != 0) changetype<BpfD>(p).next = dd.next;
  }
  const ifp = dd.ifp;
  dd.ifp = 0;
  dd.next = 0;
  if_capchanged(ifp);
}

/** Stop and free a capture (the host has drained what it wanted). */
export function bpf_close(d: usize): void {
  unhook(d);
  freeSegs(d);
  zone_free_in(bpfzone, d, 0);
}

/** The interface is going away: its descriptors stop capturing but stay readable. */
export function bpf_ifdetach(ifp: usize): void {
  let d = changetype<Ifnet>(ifp).if_bpf;
  while (d != 0) {
    const next = changetype<BpfD>(d).next;
    changetype<BpfD>(d).ifp = 0;
    changetype<BpfD>(d).next = 0;
    d = next;
  }
  changetype<Ifnet>(ifp).if_bpf = 0;
}

function record(d: usize, m: usize, dir: u16, af: u32): void {
  const dd = changetype<BpfD>(d);
  const mm = changetype<Mbuf>(m);
  const pktlen: u32 = mm.m_flags & M_PKTHDR ? <u32>mm.ph_len : <u32>m_length(m);
  const extra: u32 = dd.afhdr ? 4 : 0;
  const origlen = pktlen + extra;
  const caplen = min<u32>(origlen, dd.snaplen);
  const reclen = (REC_HDR + caplen + 7) & ~7;
  if (dd.wo + reclen > CHUNK_SIZE) {
    const nw = (dd.w + 1) % dd.nseg;
    if (nw == dd.r) {
      dd.drops++;
      return;
    }
    store<u32>(seglenp(d, dd.w), dd.wo);
    dd.w = nw;
    dd.wo = 0;
  }
  const p = seg(d, dd.w) + dd.wo;
  store<u32>(p, reclen);
  store<u32>(p, caplen, 4);
  store<u32>(p, origlen, 8);
  store<u16>(p, dir, 12);
  store<u16>(p, 0, 14);
  store<u64>(p, load<u64>(KGLOBALS + KG_TICKS), 16);
  if (extra != 0) store<u32>(p, af, REC_HDR);
  m_copydata(m, 0, <i32>(caplen - extra), p + REC_HDR + extra);
  if ((mm.m_flags & M_PKTHDR) != 0 && (mm.ph_csum_flags & CSUM_DELAY_ANY) != 0) fillCksum(m, p + REC_HDR + extra, caplen - extra, extra != 0);
  dd.wo += reclen;
  store<u32>(seglenp(d, dd.w), dd.wo);
  dd.frames++;
  dd.bytes += caplen;
}

/** Put the checksum the interface was left to compute into the recorded copy (data, caplen bytes). */
function fillCksum(m: usize, data: usize, caplen: u32, noether: bool): void {
  let l3off: u32 = 0;
  if (!noether) {
    // Ethernet: IPv4 or IPv6 (the families that ask for offload), no VLAN tag.
    const et = caplen >= 14 ? load<u16>(data, 12) : 0;
    if (et != 0x0008 && et != 0xdd86) return;
    l3off = 14;
  }
  const v = in_delayed_cksum_value(m, l3off, changetype<Mbuf>(m).ph_csum_flags);
  const field = v >> 16;
  if (v != 0 && field + 2 <= caplen) store<u16>(data + field, bswap<u16>(<u16>v));
}

/** bpf_mtap: give frame m (in or out of ifp) to every capture on ifp. */
export function bpf_mtap(ifp: usize, m: usize, dir: u16): void {
  for (let d = changetype<Ifnet>(ifp).if_bpf; d != 0; d = changetype<BpfD>(d).next) record(d, m, dir, 0);
}

/** bpf_mtap_af: the same with a 4-byte address family in front (loopback, DLT_NULL). */
export function bpf_mtap_af(ifp: usize, af: u32, m: usize, dir: u16): void {
  for (let d = changetype<Ifnet>(ifp).if_bpf; d != 0; d = changetype<BpfD>(d).next) record(d, m, dir, af);
}

/**
 * Bytes readable now in the segment being read (0 = nothing); bpf_read_ptr() is where
 * they start. The host copies them and calls bpf_consume.
 */
export function bpf_readable(d: usize): u32 {
  const dd = changetype<BpfD>(d);
  readPtr = seg(d, dd.r) + dd.ro;
  const end = dd.r == dd.w ? dd.wo : load<u32>(seglenp(d, dd.r));
  return end - dd.ro;
}

export function bpf_read_ptr(): usize {
  return readPtr;
}

export function bpf_consume(d: usize, n: u32): void {
  const dd = changetype<BpfD>(d);
  dd.ro += n;
  const end = dd.r == dd.w ? dd.wo : load<u32>(seglenp(d, dd.r));
  if (dd.ro < end) return;
  if (dd.r == dd.w) {
    dd.ro = 0;
    dd.wo = 0;
    store<u32>(seglenp(d, dd.w), 0);
  } else {
    dd.r = (dd.r + 1) % dd.nseg;
    dd.ro = 0;
  }
}

/** 0 frames, 1 bytes, 2 drops, 3 attached (1) or orphaned (0). */
export function bpf_stat(d: usize, what: u32): f64 {
  const dd = changetype<BpfD>(d);
  if (what == 0) return <f64>dd.frames;
  if (what == 1) return <f64>dd.bytes;
  if (what == 2) return <f64>dd.drops;
  if (what == 3) return dd.ifp != 0 ? 1 : 0;
  return -1;
}

/** Is any capture attached to ifp? (Callers skip the tap call when not.) */
@inline export function bpf_peers_present(ifp: usize): bool {
  return changetype<Ifnet>(ifp).if_bpf != 0;
}

export { BPF_D_IN, BPF_D_OUT };
