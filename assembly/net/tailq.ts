// Intrusive lists of sys/queue.h, shared by the families: a tail queue (TAILQ) for the lists
// that keep an order (IPv4 and IPv6 reassembly: least recently fed first), and the removal
// from a singly linked list (SLIST_REMOVE) that the address lists of both families need.
// Compiled into each module that imports it; nothing here is per family.
//
// A tail queue's head at h: first (usize), last (usize), count (u32), in that order. An
// element's first two words: next, prev (usize each). 0 is the end of the list both ways.

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

/**
 * Take p out of the singly linked list whose first element's address is stored at head, its
 * elements linked by the usize at offset link (0 ends the list). A walk from the head: the
 * lists it serves are short (an interface's or a vnet's addresses). False when p is not there.
 */
export function sl_remove(head: usize, p: usize, link: usize): bool {
  const after = load<usize>(p + link);
  if (load<usize>(head) == p) {
    store<usize>(head, after);
    return true;
  }
  for (let q = load<usize>(head); q != 0; q = load<usize>(q + link)) {
    if (load<usize>(q + link) == p) {
      store<usize>(q + link, after);
      return true;
    }
  }
  return false;
}
