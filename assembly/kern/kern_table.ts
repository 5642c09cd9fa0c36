// Small registration tables kept in static memory: fixed-size entries, packed, one u32 field
// naming the module that registered the entry. Shared by the event handler, netisr and
// cloner registries (and any other "list of hooks a module adds").

/** Remove entry i of a table of n entries of size bytes; returns the new count. */
export function tbl_remove(base: usize, n: u32, size: u32, i: u32): u32 {
  memory.copy(base + i * size, base + (i + 1) * size, (n - 1 - i) * size);
  return n - 1;
}

/**
 * Remove every entry whose u32 at modoff equals modid, keeping the others in order.
 * Returns the new count; the number removed is the old count minus it.
 */
export function tbl_purge(base: usize, n: u32, size: u32, modoff: usize, modid: u32): u32 {
  let w: u32 = 0;
  for (let r: u32 = 0; r < n; r++) {
    const e = base + r * size;
    if (load<u32>(e + modoff) == modid) continue;
    if (w != r) memory.copy(base + w * size, e, size);
    w++;
  }
  return w;
}
