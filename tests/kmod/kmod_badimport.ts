// Test fixture: imports a kernel function that no kernel exports.
export { kmod_heap_top } from "../../assembly/kmod/kmod";
@external("kernel", "no_such_kernel_function") declare function no_such_kernel_function(): i32;

export function modevent(what: i32): i32 {
  return no_such_kernel_function();
}
