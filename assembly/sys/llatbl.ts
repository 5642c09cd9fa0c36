// What the two neighbour caches share (ARP in netinet/if_ether.ts, ND in netinet6/nd6.ts;
// FreeBSD keeps the same in net/if_llatbl.h): the bound on a cache and the choice of the
// entry that makes room, Linux's neighbour GC (gc_thresh1/2/3) in O(1). Included by both
// modules; no state of its own: the table record lives in each family's VNET area and a
// node in each entry.
//
// Every entry is in one of four lists by class, each oldest first:
//   LLT_UNSOL       learned from a neighbour's own traffic (an ARP request for our address,
//                   RFC 826's merge; an NS with a source link-layer option, RFC 4861 7.2.3)
//                   and not used by us since: the first to go, what a spoofed flood makes;
//   LLT_INCOMPLETE  a resolution of ours, unanswered so far;
//   LLT_ACTIVE      resolved by us or used by us: least recently used first (a send moves
//                   the entry to the end);
//   LLT_STATIC      made by hand (arp -s, ndp -s): counted, never aged, never chosen to make room.
// Thresholds, per vnet and family (the knobs of the same names; Linux's defaults):
//   gc_thresh3 (1024)  hard bound: the table never holds more. Our own resolution makes room
//                      by evicting, in order: an incomplete entry unanswered for a second
//                      (one resolution interval: its neighbour is most likely gone), the
//                      oldest unsolicited entry, the least recently used active entry, and
//                      last a younger incomplete one;
//   gc_thresh2 (512)   unsolicited entries never push the table past it: a new one replaces
//                      the oldest unsolicited entry, or is not made. A flood therefore
//                      replaces itself, never pushes out an entry in use or a resolution in
//                      progress, and leaves the room above it to our own resolutions;
//   gc_thresh1 (128)   below it every entry lives its family's full life; an unsolicited
//                      entry made at or above it is collected after LLT_STALE_US (60 s,
//                      Linux's gc_staletime) unless we use it first.

export const LLT_UNSOL: u32 = 0;
export const LLT_INCOMPLETE: u32 = 1;
export const LLT_ACTIVE: u32 = 2;
/** Added by hand (arp -s, ndp -s): counted, never evicted, never aged. */
export const LLT_STATIC: u32 = 3;

export const LLT_THRESH1_DEFAULT: u32 = 128;
export const LLT_THRESH2_DEFAULT: u32 = 512;
export const LLT_THRESH3_DEFAULT: u32 = 1024;
/** The most a table may be set to hold (each family's zone limit per vnet). */
export const LLT_THRESH_MAX: u32 = 16384;
export const LLT_STALE_US: u64 = 60_000_000;
/** An incomplete entry younger than this is evicted last (one ARP/ND retransmission interval). */
export const LLT_INCOMPLETE_GRACE_US: u64 = 1_000_000;

/** Returned by llt_room when the entry may not be made. */
export const LLT_FULL: usize = 1;

/** The per-vnet table record (in the family's VNET area). */
@unmanaged export class Llt {
  count: u32;
  thresh1: u32;
  thresh2: u32;
  thresh3: u32;
  head0: usize; // LLT_UNSOL, oldest first
  tail0: usize;
  head1: usize; // LLT_INCOMPLETE
  tail1: usize;
  head2: usize; // LLT_ACTIVE, least recently used first
  tail2: usize;
  head3: usize; // LLT_STATIC: never chosen to make room
  tail3: usize;
}
export const LLT_SIZE: u32 = <u32>((offsetof<Llt>() + 7) & ~7);

/** The node every entry embeds (at an offset the family passes). */
@unmanaged export class LltNode {
  prev: usize; // entries, not nodes
  next: usize;
  cls: u32;
  spare: u32;
  stamp: u64; // kernel time the entry took its class or was last used
}

@inline function nd(e: usize, off: usize): LltNode {
  return changetype<LltNode>(e + off);
}

@inline function headp(t: usize, cls: u32): usize {
  return t + offsetof<Llt>("head0") + (<usize>cls << 3);
}

@inline function tailp(t: usize, cls: u32): usize {
  return headp(t, cls) + sizeof<usize>();
}

/** Link entry e (node at off) at the young end of class cls's list. */
export function llt_insert(t: usize, e: usize, off: usize, cls: u32, now: u64): void {
  const n = nd(e, off);
  n.cls = cls;
  n.stamp = now;
  n.next = 0;
  const tail = load<usize>(tailp(t, cls));
  n.prev = tail;
  if (tail != 0) nd(tail, off).next = e;
  else store<usize>(headp(t, cls), e);
  store<usize>(tailp(t, cls), e);
  changetype<Llt>(t).count++;
}

export function llt_remove(t: usize, e: usize, off: usize): void {
  const n = nd(e, off);
  if (n.prev != 0) nd(n.prev, off).next = n.next;
  else store<usize>(headp(t, n.cls), n.next);
  if (n.next != 0) nd(n.next, off).prev = n.prev;
  else store<usize>(tailp(t, n.cls), n.prev);
  n.prev = 0;
  n.next = 0;
  changetype<Llt>(t).count--;
}

/** Move e to class cls (the young end). */
export function llt_setclass(t: usize, e: usize, off: usize, cls: u32, now: u64): void {
  llt_remove(t, e, off);
  llt_insert(t, e, off, cls, now);
}

/** We used e to send: it is active and the most recently used. */
@inline export function llt_use(t: usize, e: usize, off: usize, now: u64): void {
  const n = nd(e, off);
  if (n.cls == LLT_STATIC) return;
  if (n.cls != LLT_ACTIVE || n.next != 0) llt_setclass(t, e, off, LLT_ACTIVE, now);
  else n.stamp = now;
}

@inline export function llt_class(e: usize, off: usize): u32 {
  return nd(e, off).cls;
}

/**
 * Before making an entry (own: for a resolution of ours; else learned from a neighbour):
 * 0 when there is room, else the entry the caller must free first, or LLT_FULL when none
 * may go. The policy is the file header's.
 */
export function llt_room(t: usize, off: usize, own: bool, now: u64): usize {
  const x = changetype<Llt>(t);
  const n = x.count;
  const hard = x.thresh3;
  if (!own) {
    const soft = min<u32>(x.thresh2, hard);
    if (n < soft) return 0;
    return x.head0 != 0 ? x.head0 : LLT_FULL;
  }
  if (n < hard) return 0;
  const inc = x.head1;
  if (inc != 0 && now - nd(inc, off).stamp >= LLT_INCOMPLETE_GRACE_US) return inc;
  if (x.head0 != 0) return x.head0;
  if (x.head2 != 0) return x.head2;
  return inc != 0 ? inc : LLT_FULL;
}

/** Knob values for a new vnet (and the master copy). */
export function llt_defaults(t: usize): void {
  const x = changetype<Llt>(t);
  x.thresh1 = LLT_THRESH1_DEFAULT;
  x.thresh2 = LLT_THRESH2_DEFAULT;
  x.thresh3 = LLT_THRESH3_DEFAULT;
}
