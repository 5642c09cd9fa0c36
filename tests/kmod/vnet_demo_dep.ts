// Test fixture: a module that depends on vnet_demo (MODULE_DEPEND) and calls it directly.
import { MOD_LOAD } from "../../assembly/kmod/kapi";
export { kmod_heap_top } from "../../assembly/kmod/kmod";

@external("vnet_demo", "demo_answer") declare function demo_answer(v: usize): u32;

export function modevent(what: i32): i32 {
  return 0;
}

export function dep_answer_plus_one(v: usize): u32 {
  return demo_answer(v) + 1;
}
