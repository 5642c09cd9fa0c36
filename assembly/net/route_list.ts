// The list of every route a family keeps beside its table (net/route.ts), shared source:
// inet and inet6 each compile it in (no kernel call for a list step). The table answers
// lookups; the list is what flushes and `netstat -rn` walk.
//
// Contract: a route entry starts with its links (offset 0 next, offset 4 prev) and keeps
// its prefix length, interface and address at offsets the family passes in; struct
// rtlist is two words (head, tail) in the family's VNET block. Insertion order.

const E_NEXT: usize = 0;
const E_PREV: usize = 4;
const L_HEAD: usize = 0;
const L_TAIL: usize = 4;

@inline export function rtlist_head(l: usize): usize {
  return load<usize>(l, L_HEAD);
}

@inline export function rtlist_next(e: usize): usize {
  return load<usize>(e, E_NEXT);
}

/** Appends entry e (insertion order). */
export function rtlist_append(l: usize, e: usize): void {
  const tail = load<usize>(l, L_TAIL);
  store<usize>(e, 0, E_NEXT);
  store<usize>(e, tail, E_PREV);
  if (tail != 0) store<usize>(tail, e, E_NEXT);
  else store<usize>(l, e, L_HEAD);
  store<usize>(l, e, L_TAIL);
}

/** Unlinks entry e. */
export function rtlist_remove(l: usize, e: usize): void {
  const next = load<usize>(e, E_NEXT);
  const prev = load<usize>(e, E_PREV);
  if (prev != 0) store<usize>(prev, next, E_NEXT);
  else store<usize>(l, next, L_HEAD);
  if (next != 0) store<usize>(next, prev, E_PREV);
  else store<usize>(l, prev, L_TAIL);
}

/**
 * Calls drop(e) for every route that depends on address ia (ia != 0; its address field at
 * iaOff) or goes out of ifp (ifp != 0; at ifpOff); drop unlinks and frees it. Returns how many.
 */
export function rtlist_flush(l: usize, iaOff: usize, ifpOff: usize, ia: usize, ifp: usize, drop: (e: usize) => void): u32 {
  let n: u32 = 0;
  let e = load<usize>(l, L_HEAD);
  while (e != 0) {
    const next = load<usize>(e, E_NEXT);
    if ((ia != 0 && load<usize>(e + iaOff) == ia) || (ifp != 0 && load<usize>(e + ifpOff) == ifp)) {
      drop(e);
      n++;
    }
    e = next;
  }
  return n;
}

/**
 * The order `netstat -rn` shows: longest prefix first, ties in insertion order. Calls
 * emit(e, i) for the routes at positions [skip, skip + max) of that order (i counts from
 * 0) and returns how many it emitted. One pass over the list per prefix length present
 * (plen at plenOff, at most maxlen): listing is rare, and the list stays O(1) to change.
 */
export function rtlist_fill(l: usize, plenOff: usize, maxlen: u32, skip: u32, max: u32, emit: (e: usize, i: u32) => void): u32 {
  let i: u32 = 0;
  let n: u32 = 0;
  let len: i32 = <i32>maxlen;
  while (len >= 0 && n < max) {
    let lower: i32 = -1; // the longest prefix length shorter than len
    for (let e = load<usize>(l, L_HEAD); e != 0 && n < max; e = load<usize>(e, E_NEXT)) {
      const pl = <i32>load<u32>(e + plenOff);
      if (pl != len) {
        if (pl < len && pl > lower) lower = pl;
        continue;
      }
      if (i++ < skip) continue;
      emit(e, n);
      n++;
    }
    len = lower;
  }
  return n;
}
