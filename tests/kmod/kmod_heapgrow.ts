// Test fixture: a module that allocates from its runtime heap after load, which no module
// may do (the stub heap is a bump pointer into shared memory, so it would run into the
// next module's window). heapgrow_alloc(n) takes n bytes and fills them; the heap limit in
// assembly/rt/stub.ts must abort the allocation that would leave the window, before a byte
// of the neighbour's is written.
import { MOD_LOAD } from "../../assembly/kmod/kapi";
export { kmod_heap_top } from "../../assembly/kmod/kmod";

export function modevent(what: i32): i32 {
  return what == MOD_LOAD ? 0 : 0;
}

/** Allocate n bytes from the runtime heap (never freed) and fill them with 0xa5; returns the address. */
export function heapgrow_alloc(n: u32): usize {
  const p = heap.alloc(n);
  memory.fill(p, 0xa5, n);
  return p;
}
