// uipc_mbuf: the BSD operations on mbuf chains (FreeBSD uipc_mbuf.c): pullup, prepend,
// adj, split, copym, copydata, copyback, append, cat, dup and the packet-header helpers.
// Allocation, free and charging are in kern_mbuf.ts (re-exported here, so callers import
// everything mbuf from this file); layout and accessors in sys/mbuf.ts.
//
// Operations that grow an existing chain (m_pullup, m_prepend, m_append, m_copyback,
// m_split) charge the vnet of the chain's first mbuf; m_copym and m_dup make a new packet
// for curvnet.
//
// Where this differs from FreeBSD: m_prepend updates the packet header length; a negative
// m_adj frees the mbufs it empties instead of keeping them at length 0; M_COPYFLAGS leaves
// out M_RDONLY (it describes storage, not the packet); m_copyback refuses to write into
// shared or read-only storage; m_pullup and m_prepend take a cluster when len > MHLEN; a
// zero-length m_copym returns one empty mbuf; m_free of a freed mbuf is counted, not applied.
//
// Errors. Nothing here traps on bad input: an offset or length outside the chain returns
// 0 / false and is counted in mbstat (mbuf_stat).

import {
  Mbuf, MJUM16BYTES, MHLEN, M_PKTHDR_OFF, M_PKTHDR_SIZE, M_PKTDAT_OFF, M_EXT, M_PKTHDR, M_EOR,
  M_RDONLY, M_COPYFLAGS, M_START, M_SIZE, M_WRITABLE, M_LEADINGSPACE, M_TRAILINGSPACE, M_COPYALL,
  MBS_BADARGS, MBS_PULLUP_FAIL, MBS_COPY_FAIL, MBS_NOTWRITABLE,
} from "../sys/mbuf";

import { KGLOBALS, KG_CURVNET } from "./kglobals";

import { count, extShare, imin, mbAlloc, mbAllocSize, m_free, m_freem } from "./kern_mbuf";
export * from "./kern_mbuf";

// ---------------------------------------------------------------------------------------
// Packet headers and alignment

/** m_align: place the data so that len bytes end at the end of the buffer (4-byte aligned). */
export function m_align(m: usize, len: i32): void {
  if (m == 0) return;
  const size = <i32>M_SIZE(m);
  const lead = len >= 0 && len <= size ? (size - len) & ~3 : 0;
  changetype<Mbuf>(m).m_data = M_START(m) + lead;
}

/** Copy from's packet header into to (an empty mbuf), with the packet flags. */
function copyPkthdr(to: usize, from: usize): void {
  const tt = changetype<Mbuf>(to);
  const wasHdr = tt.m_flags & M_PKTHDR;
  memory.copy(to + M_PKTHDR_OFF, from + M_PKTHDR_OFF, M_PKTHDR_SIZE);
  tt.m_flags = (tt.m_flags & (M_EXT | M_RDONLY)) | (changetype<Mbuf>(from).m_flags & M_COPYFLAGS);
  if (!wasHdr && (tt.m_flags & M_EXT) == 0) tt.m_data = to + M_PKTDAT_OFF;
}

/** m_move_pkthdr: move from's packet header to to (an empty mbuf); from loses M_PKTHDR. */
export function m_move_pkthdr(to: usize, from: usize): void {
  if (to == 0 || from == 0 || (changetype<Mbuf>(from).m_flags & M_PKTHDR) == 0) {
    count(MBS_BADARGS);
    return;
  }
  copyPkthdr(to, from);
  changetype<Mbuf>(from).m_flags &= ~M_PKTHDR;
}

/** m_dup_pkthdr: copy from's packet header to to (an empty mbuf). */
export function m_dup_pkthdr(to: usize, from: usize): void {
  if (to == 0 || from == 0 || (changetype<Mbuf>(from).m_flags & M_PKTHDR) == 0) {
    count(MBS_BADARGS);
    return;
  }
  copyPkthdr(to, from);
}

/** m_demote_pkthdr: m is no longer the first mbuf of a packet (its data stays in place). */
export function m_demote_pkthdr(m: usize): void {
  if (m != 0) changetype<Mbuf>(m).m_flags &= ~M_PKTHDR;
}

/** m_length: bytes in the chain. */
export function m_length(m: usize): i32 {
  let n: i32 = 0;
  while (m != 0) {
    n += changetype<Mbuf>(m).m_len;
    m = changetype<Mbuf>(m).m_next;
  }
  return n;
}

/** m_fixhdr: set the packet header's length to the chain's; returns it. */
export function m_fixhdr(m: usize): i32 {
  const n = m_length(m);
  if (m != 0 && (changetype<Mbuf>(m).m_flags & M_PKTHDR) != 0) changetype<Mbuf>(m).ph_len = n;
  return n;
}

/** Last mbuf of a chain. */
@inline function lastOf(m: usize): usize {
  while (changetype<Mbuf>(m).m_next != 0) m = changetype<Mbuf>(m).m_next;
  return m;
}

// ---------------------------------------------------------------------------------------
// Chain operations

/**
 * m_pullup: make the first len bytes contiguous in the first mbuf. Returns the (possibly
 * new) head, or 0 after freeing the chain when it holds fewer than len bytes, len is over
 * MJUM16BYTES, or memory is short (as BSD). A cluster serves when len exceeds MHLEN.
 */
export function m_pullup(m: usize, len: i32): usize {
  if (m == 0) return 0;
  const mm = changetype<Mbuf>(m);
  if (mm.m_len >= len) return m;
  if (len > <i32>MJUM16BYTES || m_length(m) < len) {
    count(MBS_BADARGS);
    count(MBS_PULLUP_FAIL);
    m_freem(m);
    return 0;
  }
  let n: usize;
  let s: usize;
  if (M_TRAILINGSPACE(m) >= len - mm.m_len) {
    n = m; // room in place (writable, since M_TRAILINGSPACE is 0 otherwise)
    s = mm.m_next;
  } else {
    const hdr = mm.m_flags & M_PKTHDR;
    n = mbAllocSize(mm.m_vnet, mm.m_type, hdr, len);
    if (n == 0) {
      count(MBS_PULLUP_FAIL);
      m_freem(m);
      return 0;
    }
    if (hdr) m_move_pkthdr(n, m);
    s = m;
  }
  const nn = changetype<Mbuf>(n);
  let want = len - nn.m_len;
  let dst = nn.m_data + nn.m_len;
  while (want > 0 && s != 0) {
    const ss = changetype<Mbuf>(s);
    const c = imin(want, ss.m_len);
    memory.copy(dst, ss.m_data, c);
    dst += c;
    want -= c;
    nn.m_len += c;
    ss.m_len -= c;
    ss.m_data += c;
    if (ss.m_len == 0) s = m_free(s);
  }
  nn.m_next = s;
  return n;
}

/**
 * m_prepend: put a new mbuf of len bytes (data uninitialised) in front of m, moving the
 * packet header to it and adding len to the packet length (BSD leaves that to M_PREPEND).
 * Returns the new head, or 0 after freeing the chain.
 */
export function m_prepend(m: usize, len: i32): usize {
  if (m == 0) return 0;
  if (len < 0 || len > <i32>MJUM16BYTES) {
    count(MBS_BADARGS);
    m_freem(m);
    return 0;
  }
  const mm = changetype<Mbuf>(m);
  const hdr = mm.m_flags & M_PKTHDR;
  const n = mbAllocSize(mm.m_vnet, mm.m_type, hdr, len);
  if (n == 0) {
    m_freem(m);
    return 0;
  }
  const nn = changetype<Mbuf>(n);
  if (hdr) m_move_pkthdr(n, m);
  nn.m_next = m;
  m_align(n, len);
  nn.m_len = len;
  if (hdr) nn.ph_len += len;
  return n;
}

/**
 * M_PREPEND: len more bytes at the front of the packet, in m's leading space when it has
 * room, else in a new mbuf (m_prepend). Returns the head, or 0 after freeing the chain.
 */
export function M_PREPEND(m: usize, len: i32): usize {
  if (m == 0) return 0;
  if (len >= 0 && M_LEADINGSPACE(m) >= len) {
    const mm = changetype<Mbuf>(m);
    mm.m_data -= len;
    mm.m_len += len;
    if (mm.m_flags & M_PKTHDR) mm.ph_len += len;
    return m;
  }
  return m_prepend(m, len);
}

/**
 * m_adj: trim len bytes from the head (len > 0) or -len bytes from the tail (len < 0) and
 * fix the packet length. Head trimming leaves emptied mbufs in the chain (the head pointer
 * stays valid, as BSD); tail trimming frees the mbufs it empties.
 */
export function m_adj(m: usize, len: i32): void {
  if (m == 0 || len == 0) return;
  const mm = changetype<Mbuf>(m);
  if (len > 0) {
    let left = len;
    let n = m;
    while (n != 0 && left > 0) {
      const nn = changetype<Mbuf>(n);
      if (nn.m_len <= left) {
        left -= nn.m_len;
        nn.m_data += nn.m_len;
        nn.m_len = 0;
        n = nn.m_next;
      } else {
        nn.m_len -= left;
        nn.m_data += left;
        left = 0;
      }
    }
    if (mm.m_flags & M_PKTHDR) mm.ph_len -= len - left;
    return;
  }
  const trim: i64 = -<i64>len;
  const total = m_length(m);
  let keep: i32 = trim >= <i64>total ? 0 : total - <i32>trim;
  if (mm.m_flags & M_PKTHDR) mm.ph_len = keep;
  let n = m;
  while (true) {
    const nn = changetype<Mbuf>(n);
    if (nn.m_len >= keep || nn.m_next == 0) {
      nn.m_len = keep;
      const rest = nn.m_next;
      nn.m_next = 0;
      m_freem(rest);
      return;
    }
    keep -= nn.m_len;
    n = nn.m_next;
  }
}

/**
 * m_split: cut the chain after len0 bytes; returns the tail (with a copy of the packet
 * header when m0 has one), or 0 when len0 is past the end or memory is short, the chain
 * unchanged. A cluster cut in the middle is shared by both halves (refcount), not copied.
 * Cutting a chain with no packet header exactly at its end returns 0 as well (no tail).
 */
export function m_split(m0: usize, len0: i32): usize {
  if (m0 == 0 || len0 < 0) {
    count(MBS_BADARGS);
    return 0;
  }
  let len = len0;
  let m = m0;
  while (m != 0 && len > changetype<Mbuf>(m).m_len) {
    len -= changetype<Mbuf>(m).m_len;
    m = changetype<Mbuf>(m).m_next;
  }
  if (m == 0) {
    count(MBS_BADARGS);
    return 0;
  }
  const mm = changetype<Mbuf>(m);
  const m0m = changetype<Mbuf>(m0);
  const remain = mm.m_len - len;
  const hdr = m0m.m_flags & M_PKTHDR;
  let n: usize;
  if (hdr) {
    if (m == m0 && (mm.m_flags & M_EXT) == 0 && remain > <i32>MHLEN) {
      count(MBS_BADARGS); // a header mbuf holding more than MHLEN: not built by us
      return 0;
    }
    n = mbAlloc(m0m.m_vnet, m0m.m_type, M_PKTHDR);
    if (n == 0) return 0;
    const nn = changetype<Mbuf>(n);
    if (remain == 0 || ((mm.m_flags & M_EXT) == 0 && remain > <i32>MHLEN)) {
      // The header mbuf stays empty: the tail is m's successors, or m's own tail split off.
      let tail = mm.m_next;
      if (remain != 0) {
        tail = m_split(m, len); // m is not m0 (checked above), so this does not recurse again
        if (tail == 0) {
          m_free(n);
          return 0;
        }
      } else {
        mm.m_next = 0;
      }
      splitHdr(n, m0, len0);
      nn.m_next = tail;
      return n;
    }
  } else {
    if (remain == 0) {
      n = mm.m_next;
      mm.m_next = 0;
      return n;
    }
    n = mbAlloc(mm.m_vnet, mm.m_type, 0);
    if (n == 0) return 0;
  }
  const nn = changetype<Mbuf>(n);
  if (mm.m_flags & M_EXT) {
    if (!extShare(n, m)) {
      m_free(n);
      return 0;
    }
    nn.m_data = mm.m_data + len;
  } else {
    m_align(n, remain);
    memory.copy(nn.m_data, mm.m_data + len, remain);
  }
  if (hdr) splitHdr(n, m0, len0);
  nn.m_len = remain;
  mm.m_len = len;
  nn.m_next = mm.m_next;
  mm.m_next = 0;
  return n;
}

/** The tail's packet header after m_split: a copy, with its own length and no checksums. */
function splitHdr(n: usize, m0: usize, len0: i32): void {
  const nn = changetype<Mbuf>(n);
  const m0m = changetype<Mbuf>(m0);
  const data = nn.m_data;
  copyPkthdr(n, m0);
  nn.m_data = data;
  nn.m_flags &= ~M_EOR;
  nn.ph_csum_flags = 0;
  nn.ph_csum_data = 0;
  nn.ph_len = m0m.ph_len - len0;
  m0m.ph_len = len0;
}

/**
 * m_copym: a copy of len bytes (M_COPYALL: to the end) from offset off. Clusters are shared
 * by refcount, internal data is copied. The copy has a packet header when off is 0 and m
 * has one; it is charged to curvnet. Returns 0 (counted) when the range is outside the
 * chain or memory is short. A zero-length copy is one empty mbuf.
 */
export function m_copym(m: usize, off: i32, len: i32): usize {
  if (m == 0 || off < 0 || len < 0) {
    count(MBS_BADARGS);
    return 0;
  }
  const head = m;
  const copyhdr = off == 0 && (changetype<Mbuf>(m).m_flags & M_PKTHDR) != 0;
  while (m != 0 && off >= changetype<Mbuf>(m).m_len) {
    if (off == 0) break;
    off -= changetype<Mbuf>(m).m_len;
    m = changetype<Mbuf>(m).m_next;
  }
  if (m == 0 && off > 0) {
    count(MBS_BADARGS);
    count(MBS_COPY_FAIL);
    return 0;
  }
  const v = load<usize>(KGLOBALS + KG_CURVNET);
  const all = len == M_COPYALL;
  let top: usize = 0;
  let tail: usize = 0;
  let copied: i32 = 0;
  let failed = false;
  while (m != 0 && (all || len > 0)) {
    const mm = changetype<Mbuf>(m);
    let c = mm.m_len - off;
    if (!all) c = imin(c, len);
    if (c <= 0) {
      m = mm.m_next;
      off = 0;
      continue;
    }
    const n = mbAlloc(v, mm.m_type, top == 0 && copyhdr ? M_PKTHDR : 0);
    if (n == 0) {
      failed = true;
      break;
    }
    const nn = changetype<Mbuf>(n);
    if (top == 0) {
      if (copyhdr) copyPkthdr(n, head);
      top = n;
    } else {
      changetype<Mbuf>(tail).m_next = n;
    }
    tail = n;
    if (mm.m_flags & M_EXT) {
      if (!extShare(n, m)) {
        failed = true;
        break;
      }
      nn.m_data = mm.m_data + off;
    } else {
      c = imin(c, <i32>M_SIZE(n)); // a header mbuf holds less than a plain one
      memory.copy(nn.m_data, mm.m_data + off, c);
    }
    nn.m_len = c;
    copied += c;
    if (!all) len -= c;
    off += c;
    if (off >= mm.m_len) {
      m = mm.m_next;
      off = 0;
    }
  }
  if (failed || (!all && len > 0)) {
    if (!failed) count(MBS_BADARGS); // the chain is shorter than off + len
    count(MBS_COPY_FAIL);
    m_freem(top);
    return 0;
  }
  if (top == 0) {
    top = mbAlloc(v, changetype<Mbuf>(head).m_type, copyhdr ? M_PKTHDR : 0);
    if (top == 0) {
      count(MBS_COPY_FAIL);
      return 0;
    }
    if (copyhdr) copyPkthdr(top, head);
  }
  if (copyhdr) changetype<Mbuf>(top).ph_len = copied;
  return top;
}

/**
 * m_copydata: copy len bytes from offset off of the chain to dst. Returns false (counted),
 * with whatever fitted copied, when the range runs past the chain.
 */
export function m_copydata(m: usize, off: i32, len: i32, dst: usize): bool {
  if (off < 0 || len < 0) {
    count(MBS_BADARGS);
    return false;
  }
  if (len == 0) return true;
  while (m != 0 && off >= changetype<Mbuf>(m).m_len) {
    off -= changetype<Mbuf>(m).m_len;
    m = changetype<Mbuf>(m).m_next;
  }
  while (len > 0) {
    if (m == 0) {
      count(MBS_BADARGS);
      return false;
    }
    const mm = changetype<Mbuf>(m);
    const c = imin(mm.m_len - off, len);
    memory.copy(dst, mm.m_data + off, c);
    dst += c;
    len -= c;
    off = 0;
    m = mm.m_next;
  }
  return true;
}

/**
 * Fill the chain's end: `gap` zero bytes then len bytes from src, in the last mbuf's
 * trailing space and then in new mbufs (clusters for large amounts) charged to v.
 * Returns the bytes of src written.
 */
function extend(last: usize, gap: i32, src: usize, len: i32, v: usize): i32 {
  let m = last;
  let done: i32 = 0;
  let ts = M_TRAILINGSPACE(m);
  while (true) {
    const mm = changetype<Mbuf>(m);
    if (ts > 0) {
      const g = imin(gap, ts);
      if (g > 0) memory.fill(mm.m_data + mm.m_len, 0, g);
      mm.m_len += g;
      gap -= g;
      const c = imin(len - done, ts - g);
      if (c > 0) memory.copy(mm.m_data + mm.m_len, src + done, c);
      mm.m_len += c;
      done += c;
    }
    if (gap == 0 && done == len) return done;
    const n = mbAllocSize(v, mm.m_type, 0, gap + len - done);
    if (n == 0) return done;
    mm.m_next = n;
    m = n;
    ts = <i32>M_SIZE(n);
  }
}

/**
 * m_copyback: write len bytes from src at offset off, extending the chain (zero-filling any
 * gap) when the range runs past its end; the packet length grows to match. Refuses
 * (false, nothing written) when the range covers shared or read-only storage; false with
 * a partial write when memory runs short.
 */
export function m_copyback(m0: usize, off: i32, len: i32, src: usize): bool {
  if (m0 == 0 || off < 0 || len < 0 || <i64>off + len > <i64>i32.MAX_VALUE) {
    count(MBS_BADARGS);
    return false;
  }
  if (len == 0) return true;
  // Pass 1: every mbuf whose data the range covers must be writable.
  let o = off;
  let l = len;
  for (let m = m0; m != 0 && l > 0; m = changetype<Mbuf>(m).m_next) {
    const ml = changetype<Mbuf>(m).m_len;
    if (o < ml) {
      if (!M_WRITABLE(m)) {
        count(MBS_NOTWRITABLE);
        return false;
      }
      l -= imin(l, ml - o);
      o = 0;
    } else {
      o -= ml;
    }
  }
  // Pass 2: write over existing data, then extend.
  let m = m0;
  o = off;
  let done: i32 = 0;
  let ok = true;
  while (true) {
    const mm = changetype<Mbuf>(m);
    if (o < mm.m_len) {
      const c = imin(len - done, mm.m_len - o);
      memory.copy(mm.m_data + o, src + done, c);
      done += c;
      o = 0;
    } else {
      o -= mm.m_len;
    }
    if (done == len) break;
    if (mm.m_next == 0) {
      ok = extend(m, o, src + done, len - done, changetype<Mbuf>(m0).m_vnet) == len - done;
      break;
    }
    m = mm.m_next;
  }
  const h = changetype<Mbuf>(m0);
  if (h.m_flags & M_PKTHDR) {
    const t = m_length(m0);
    if (t > h.ph_len) h.ph_len = t;
  }
  return ok;
}

/**
 * m_append: add len bytes from src at the end of the chain (packet length included).
 * false when memory runs short; what was appended stays.
 */
export function m_append(m0: usize, len: i32, src: usize): bool {
  if (m0 == 0 || len < 0) {
    count(MBS_BADARGS);
    return false;
  }
  if (len == 0) return true;
  const h = changetype<Mbuf>(m0);
  const done = extend(lastOf(m0), 0, src, len, h.m_vnet);
  if (h.m_flags & M_PKTHDR) h.ph_len += done;
  return done == len;
}

/**
 * m_cat: append chain n to chain m. n's data is copied into m's last mbuf while it fits
 * (and n's mbufs freed), the rest is linked. Packet lengths are not touched (m_catpkt).
 */
export function m_cat(m: usize, n: usize): void {
  if (m == 0) {
    if (n != 0) count(MBS_BADARGS);
    return;
  }
  if (n == 0) return;
  m = lastOf(m);
  while (n != 0) {
    const nn = changetype<Mbuf>(n);
    if (M_TRAILINGSPACE(m) < nn.m_len) {
      nn.m_flags &= ~M_PKTHDR; // n is no longer a packet of its own
      changetype<Mbuf>(m).m_next = n;
      return;
    }
    const mm = changetype<Mbuf>(m);
    memory.copy(mm.m_data + mm.m_len, nn.m_data, nn.m_len);
    mm.m_len += nn.m_len;
    mm.m_flags |= nn.m_flags & M_EOR;
    n = m_free(n);
  }
}

/** m_catpkt: append packet n to packet m, adding its length to m's packet header. */
export function m_catpkt(m: usize, n: usize): void {
  if (m == 0 || n == 0) {
    if (n != 0) count(MBS_BADARGS);
    return;
  }
  const mm = changetype<Mbuf>(m);
  if (mm.m_flags & M_PKTHDR) {
    mm.ph_len += changetype<Mbuf>(n).m_flags & M_PKTHDR ? changetype<Mbuf>(n).ph_len : m_length(n);
  }
  m_cat(m, n);
}

/**
 * m_dup: a deep, writable copy of a chain (packet header included), charged to curvnet and
 * packed into as few buffers as fit. 0 (counted) when memory is short.
 */
export function m_dup(m: usize): usize {
  if (m == 0) return 0;
  const mm = changetype<Mbuf>(m);
  const hdr = mm.m_flags & M_PKTHDR;
  const total = m_length(m);
  const n = mbAllocSize(load<usize>(KGLOBALS + KG_CURVNET), mm.m_type, hdr, total);
  if (n == 0) {
    count(MBS_COPY_FAIL);
    return 0;
  }
  const nn = changetype<Mbuf>(n);
  if (hdr) {
    const data = nn.m_data;
    copyPkthdr(n, m);
    nn.m_data = data;
  }
  let last = n;
  for (let s = m; s != 0; s = changetype<Mbuf>(s).m_next) {
    const ss = changetype<Mbuf>(s);
    if (ss.m_len == 0) continue;
    if (extend(last, 0, ss.m_data, ss.m_len, nn.m_vnet) != ss.m_len) {
      count(MBS_COPY_FAIL);
      m_freem(n);
      return 0;
    }
    last = lastOf(last);
  }
  if (hdr) nn.ph_len = total;
  return n;
}

