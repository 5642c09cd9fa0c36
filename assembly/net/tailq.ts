// An intrusive tail queue (FreeBSD's TAILQ of sys/queue.h), shared by the families' lists
// that keep an order (IPv4 and IPv6 reassembly: least recently fed first). Compiled into each
// module that imports it; nothing here is per family.
//
// The head at h: first (usize), last (usize), count (u32), in that order. An element's
// first two words: next, prev (usize each). 0 is the end of the list both ways.

const W: usize = sizeof<usize>();

@inline function next(p: usize): usize {
  return load<usize>(p);
}
@inline function prev(p: usize): usize {
  return load<usize>(p, W);
}

/** Append p (not in a list) at the tail. */
export function tq_insert_tail(h: usize, p: usize): void {
  const last = load<usize>(h, W);
  store<usize>(p, 0);
  store<usize>(p, last, W);
  if (last != 0) store<usize>(last, p);
  else store<usize>(h, p);
  store<usize>(h, p, W);
  store<u32>(h, load<u32>(h, 2 * W) + 1, 2 * W);
}

/** Take p out of the list. */
export function tq_remove(h: usize, p: usize): void {
  const n = next(p);
  const b = prev(p);
  if (b != 0) store<usize>(b, n);
  else store<usize>(h, n);
  if (n != 0) store<usize>(n, b, W);
  else store<usize>(h, b, W);
  store<u32>(h, load<u32>(h, 2 * W) - 1, 2 * W);
}

/** Move p (in the list) to the tail: the last to be taken from the head. */
export function tq_move_tail(h: usize, p: usize): void {
  if (load<usize>(h, W) == p) return;
  tq_remove(h, p);
  tq_insert_tail(h, p);
}
