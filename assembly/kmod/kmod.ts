// Every module includes this: the runtime-heap probe the host uses to check that the
// module's static data fits its link-map window and that it never allocates after load.
export function kmod_heap_top(): usize {
  const p = heap.alloc(0);
  heap.free(p);
  return p;
}
