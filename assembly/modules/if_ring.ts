// The output ring of an interface whose wire is the host (if_tap, if_vxlan): transmit copies
// each frame into it and the host drains it after every kernel entry and clock tick
// (host/wire/ring.ts), so there is no JavaScript call per frame inside the kernel. Compiled
// into each module that uses it; the ring lives inside the module's softc.
//
// A ring is 1 .. RING_MAXSEG segments of 64 KiB (kmem chunks charged to the interface's home
// vnet), written and read in order. Records, little-endian, back to back in a segment,
// never split across two:
//   0 u32 reclen (8 + dlen rounded up to 8)   4 u32 dlen   8 data[dlen]
// A full ring refuses a record (ring_reserve returns 0: the caller drops and counts the
// frame); it never overwrites what the host has not read.

import { kmem_alloc, kmem_free, ENOMEM, EINVAL } from "../kmod/kapi";

export const RING_SEG_SIZE: u32 = 65536; // one kmem chunk
const RING_SEG_PAGES: u32 = 16;
export const RING_REC_HDR: u32 = 8;
export const RING_MAXSEG: u32 = 64;
export const RING_DEFSEG: u32 = 16; // 1 MiB: a TCP window's burst from one kernel entry

@unmanaged export class IfRing {
  vnet: usize; // the segments are charged to it
  nseg: u32;
  w: u32; // segment being written, offset in it
  wo: u32;
  r: u32; // segment being read, offset in it
  ro: u32;
  // then segs: RING_MAXSEG x usize, seglen: RING_MAXSEG x u32 (bytes of records in each)
}

const R_SEGS: usize = (offsetof<IfRing>() + 7) & ~7;
const R_SEGLEN: usize = R_SEGS + RING_MAXSEG * sizeof<usize>();
/** Bytes a ring takes inside a softc (8-aligned). */
export const IFRING_SIZE: u32 = <u32>((R_SEGLEN + RING_MAXSEG * 4 + 7) & ~7);

let readPtr: usize = 0;

@inline function ring_(p: usize): IfRing {
  return changetype<IfRing>(p);
}

@inline function seg(ring: usize, i: u32): usize {
  return load<usize>(ring + R_SEGS + (<usize>i << 2));
}

@inline function seglenp(ring: usize, i: u32): usize {
  return ring + R_SEGLEN + (<usize>i << 2);
}

/** nseg empty segments charged to vnet; false (nothing held) when memory is short. */
export function ring_alloc(ring: usize, vnet: usize, nseg: u32): bool {
  const s = ring_(ring);
  s.vnet = vnet;
  for (let i: u32 = 0; i < nseg; i++) {
    const p = kmem_alloc(RING_SEG_PAGES, vnet);
    if (p == 0) {
      s.nseg = i;
      ring_free(ring);
      return false;
    }
    store<usize>(ring + R_SEGS + (<usize>i << 2), p);
    store<u32>(seglenp(ring, i), 0);
  }
  s.nseg = nseg;
  s.w = s.wo = s.r = s.ro = 0;
  return true;
}

/** Give the segments back (what they hold is dropped). */
export function ring_free(ring: usize): void {
  const s = ring_(ring);
  for (let i: u32 = 0; i < s.nseg; i++) kmem_free(seg(ring, i), RING_SEG_PAGES, s.vnet);
  s.nseg = 0;
}

/** Resize to nseg (1 .. RING_MAXSEG) segments, dropping what it holds: 0, -EINVAL, or -ENOMEM (the old size kept). */
export function ring_resize(ring: usize, nseg: u32): i32 {
  if (nseg < 1 || nseg > RING_MAXSEG) return -EINVAL;
  const s = ring_(ring);
  if (nseg == s.nseg) return 0;
  const old = s.nseg;
  ring_free(ring);
  if (ring_alloc(ring, s.vnet, nseg)) return 0;
  ring_alloc(ring, s.vnet, old); // pages just freed: this gets them back
  return -ENOMEM;
}

/** Room for a record of dlen bytes: where its data goes (the header is written), or 0 if the ring is full. */
export function ring_reserve(ring: usize, dlen: u32): usize {
  const s = ring_(ring);
  const reclen = (RING_REC_HDR + dlen + 7) & ~7;
  if (s.wo + reclen > RING_SEG_SIZE || s.nseg == 0) {
    const nw = s.nseg != 0 ? (s.w + 1) % s.nseg : 0;
    if (nw == s.r || reclen > RING_SEG_SIZE) return 0;
    store<u32>(seglenp(ring, s.w), s.wo);
    s.w = nw;
    s.wo = 0;
  }
  const p = seg(ring, s.w) + s.wo;
  store<u32>(p, reclen);
  store<u32>(p, dlen, 4);
  s.wo += reclen;
  store<u32>(seglenp(ring, s.w), s.wo);
  return p + RING_REC_HDR;
}

/** Bytes of records readable now in the segment being read (0: nothing); ring_read_ptr() is where they start. */
export function ring_readable(ring: usize): i32 {
  const s = ring_(ring);
  readPtr = seg(ring, s.r) + s.ro;
  const end = s.r == s.w ? s.wo : load<u32>(seglenp(ring, s.r));
  return <i32>(end - s.ro);
}

export function ring_read_ptr(): usize {
  return readPtr;
}

/** The host has taken n bytes of records from the read position. */
export function ring_consume(ring: usize, n: u32): void {
  const s = ring_(ring);
  const end = s.r == s.w ? s.wo : load<u32>(seglenp(ring, s.r));
  s.ro = min<u32>(s.ro + n, end);
  if (s.ro < end) return;
  if (s.r == s.w) {
    s.ro = 0;
    s.wo = 0;
    store<u32>(seglenp(ring, s.w), 0);
  } else {
    s.r = (s.r + 1) % s.nseg;
    s.ro = 0;
  }
}

/** Segments of the ring. */
export function ring_nseg(ring: usize): u32 {
  return ring_(ring).nseg;
}
