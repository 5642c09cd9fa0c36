// bench_mbuf: the m_get + m_free loop, run inside Wasm (see bench_kern.ts). A module of its
// own so that bench_kern still loads into a kernel that does not export the mbuf calls:
// the kldload linker refuses a module with any unresolved import.
import { MOD_LOAD } from "../../assembly/kmod/kapi";
export { kmod_heap_top } from "../../assembly/kmod/kmod";

@external("kernel", "m_get") declare function m_get(type: u16): usize;
@external("kernel", "m_gethdr") declare function m_gethdr(type: u16): usize;
@external("kernel", "m_free") declare function m_free(m: usize): usize;

const MT_DATA: u16 = 1;

export function modevent(what: i32): i32 {
  return 0;
}

// Inlined into each export with a constant `hdr`, so neither loop tests it per iteration.
@inline function loop(n: u32, hdr: bool): u32 {
  const pin = m_get(MT_DATA);
  let bad: u32 = pin == 0 ? 1 : 0;
  for (let i: u32 = 0; i < n; i++) {
    const m = hdr ? m_gethdr(MT_DATA) : m_get(MT_DATA);
    if (m == 0) {
      bad++;
      continue;
    }
    m_free(m);
  }
  if (pin != 0) m_free(pin);
  return bad;
}

/**
 * n m_get + m_free pairs, charged to curvnet, while one other mbuf stays allocated (so the
 * zone's slab stays partial, as under traffic). Returns the failures (0 = all good).
 */
export function bench_mbuf(n: u32): u32 {
  return loop(n, false);
}

/** n m_gethdr + m_free pairs (packet header mbufs), one mbuf pinned likewise. Returns the failures. */
export function bench_mbuf_hdr(n: u32): u32 {
  return loop(n, true);
}
