import { vnet_section_set_size, vnet_data_alloc, vnet_data_free, vnet_data_copy, vnet_master, vnet_data_used } from "../kern/vnet_data";
import { vnet_boot, vnet_alloc, vnet_destroy, vnet_count, vnet_vnet0, vnet_valid, VNET, VNET_VNET, CURVNET_SET, curvnet, Vnet } from "../kern/vnet";
import { vnet_sysinit_register, sysinit_count, sysinit_purge_module } from "../kern/sysinit";
import { kmem_pages_inuse } from "../kern/kmem";
import { KGLOBALS, KG_CURMOD } from "../kern/kglobals";
import { leak_reset } from "../kern/leak";

let booted = false;
function boot(): void {
  if (booted) return;
  booted = true;
  expect(vnet_section_set_size(8192)).toBe(0);
  expect(vnet_boot()).toBe(0);
}

// A trace of handler calls: (tag, vnet id) pairs.
const trace = new Array<u32>();
let failInVnet: u32 = 0xffffffff;
function tag(t: u32): void {
  trace.push(t);
  trace.push(changetype<Vnet>(curvnet()).id);
}
function init_a(): i32 { tag(1); return 0; }
function init_b(): i32 { tag(2); return 0; }
function init_c(): i32 { tag(3); return changetype<Vnet>(curvnet()).id == failInVnet ? 12 : 0; }
function stop_a(): void { tag(11); }
function stop_b(): void { tag(12); }
function uninit_a(): void { tag(21); }
function uninit_b(): void { tag(22); }
function uninit_c(): void { tag(23); }

function tags(): string {
  let s = "";
  for (let i = 0; i < trace.length; i += 2) s += (i > 0 ? "," : "") + trace[i].toString();
  return s;
}

describe("vnet allocator", () => {
  test("each vnet gets its own copy of the master section", () => {
    boot();
    const off = vnet_data_alloc(8, 8);
    expect(off).toBeGreaterThanOrEqual(0);
    store<u32>(vnet_master(<u32>off), 42);
    vnet_data_copy(<u32>off, 8);
    const a = vnet_alloc();
    const b = vnet_alloc();
    expect(load<u32>(VNET_VNET(a, <u32>off))).toBe(42);
    expect(load<u32>(VNET_VNET(b, <u32>off))).toBe(42);
    const old = CURVNET_SET(a);
    store<u32>(VNET(<u32>off), 7);
    CURVNET_SET(b);
    expect(load<u32>(VNET(<u32>off))).toBe(42);
    CURVNET_SET(old);
    expect(load<u32>(VNET_VNET(a, <u32>off))).toBe(7);
    // vnet_data_copy reaches live vnets too (what a module load does).
    store<u32>(vnet_master(<u32>off) + 4, 99);
    vnet_data_copy(<u32>off, 8);
    expect(load<u32>(VNET_VNET(a, <u32>off) + 4)).toBe(99);
    expect(vnet_destroy(a)).toBe(0);
    expect(vnet_destroy(b)).toBe(0);
    vnet_data_free(<u32>off, 8);
  });

  test("create and destroy leave zero pages behind, 10,000 times", () => {
    boot();
    const pages0 = kmem_pages_inuse();
    const n0 = vnet_count();
    for (let i = 0; i < 10000; i++) {
      const v = vnet_alloc();
      expect(changetype<Vnet>(v).pages).toBe(2);
      expect(vnet_destroy(v)).toBe(0);
    }
    expect(vnet_count()).toBe(n0);
    expect(kmem_pages_inuse()).toBe(pages0);
  });

  test("destroying twice, destroying vnet0 and garbage pointers are refused", () => {
    boot();
    const v = vnet_alloc();
    expect(vnet_destroy(v)).toBe(0);
    expect(vnet_valid(v)).toBe(false);
    expect(vnet_destroy(v)).toBe(-22); // EINVAL
    expect(vnet_destroy(vnet_vnet0())).toBe(-1); // EPERM
    expect(vnet_destroy(12345)).toBe(-22);
    expect(vnet_destroy(0)).toBe(-22);
  });

  test("the section refuses what does not fit and reuses freed space", () => {
    boot();
    const used = vnet_data_used();
    expect(vnet_data_alloc(1 << 20, 8)).toBe(-28); // ENOSPC
    expect(vnet_data_alloc(8, 3)).toBe(-22); // bad alignment
    const a = vnet_data_alloc(100, 4);
    const b = vnet_data_alloc(100, 4);
    vnet_data_free(<u32>a, 100);
    const c = vnet_data_alloc(96, 4);
    expect(c).toBe(a);
    vnet_data_free(<u32>b, 100);
    vnet_data_free(<u32>c, 96);
    expect(vnet_data_used()).toBe(used);
  });
});

describe("sysinit ordering", () => {
  test("inits run ascending by (subsystem, order), uninits exactly reversed", () => {
    boot();
    store<u32>(KGLOBALS + KG_CURMOD, 900);
    expect(vnet_sysinit_register(0x8800000, 5, init_b.index, stop_b.index, uninit_b.index)).toBe(0);
    expect(vnet_sysinit_register(0x8400000, 0, init_a.index, stop_a.index, uninit_a.index)).toBe(0);
    expect(vnet_sysinit_register(0x8800000, 9, init_c.index, 0, uninit_c.index)).toBe(0);
    store<u32>(KGLOBALS + KG_CURMOD, 0);
    trace.length = 0;
    const v = vnet_alloc();
    expect(tags()).toBe("1,2,3");
    trace.length = 0;
    expect(vnet_destroy(v)).toBe(0);
    // Checkpoint 1 (stop hooks, reverse), then checkpoint 2 (uninits, reverse).
    expect(tags()).toBe("12,11,23,22,21");
    trace.length = 0;
    sysinit_purge_module(900);
  });

  test("a sysinit registered while vnets live runs in each of them at once", () => {
    boot();
    const a = vnet_alloc();
    const b = vnet_alloc();
    trace.length = 0;
    store<u32>(KGLOBALS + KG_CURMOD, 901);
    expect(vnet_sysinit_register(0x8800000, 1, init_a.index, 0, uninit_a.index)).toBe(0);
    store<u32>(KGLOBALS + KG_CURMOD, 0);
    // vnet0, a and b, in creation order.
    expect(trace.length).toBe(6);
    expect(trace[1]).toBe(changetype<Vnet>(vnet_vnet0()).id);
    expect(trace[3]).toBe(changetype<Vnet>(a).id);
    expect(trace[5]).toBe(changetype<Vnet>(b).id);
    trace.length = 0;
    expect(sysinit_purge_module(901)).toBe(1);
    expect(tags()).toBe("21,21,21");
    trace.length = 0;
    vnet_destroy(a);
    vnet_destroy(b);
    expect(trace.length).toBe(0);
  });

  test("an init failing in one live vnet undoes it everywhere and is refused", () => {
    boot();
    const n = sysinit_count();
    const a = vnet_alloc();
    const b = vnet_alloc();
    failInVnet = changetype<Vnet>(b).id;
    trace.length = 0;
    expect(vnet_sysinit_register(0x8800000, 1, init_c.index, 0, uninit_c.index)).toBe(-12);
    // ran in vnet0, a, then failed in b; uninit ran in vnet0 and a.
    expect(tags()).toBe("3,3,3,23,23");
    expect(sysinit_count()).toBe(n);
    failInVnet = 0xffffffff;
    vnet_destroy(a);
    vnet_destroy(b);
  });

  test("a vnet whose init fails is not created and leaves nothing", () => {
    boot();
    const pages0 = kmem_pages_inuse();
    const n0 = vnet_count();
    store<u32>(KGLOBALS + KG_CURMOD, 902);
    vnet_sysinit_register(0x8400000, 0, init_a.index, 0, uninit_a.index);
    vnet_sysinit_register(0x8800000, 0, init_c.index, 0, uninit_c.index);
    store<u32>(KGLOBALS + KG_CURMOD, 0);
    trace.length = 0;
    failInVnet = 0; // ids are never 0 after vnet0, so use the next id
    // The next vnet id: create one to learn it, then make the one after fail.
    const probe = vnet_alloc();
    failInVnet = changetype<Vnet>(probe).id + 1;
    trace.length = 0;
    expect(vnet_alloc()).toBe(0);
    expect(tags()).toBe("1,3,21");
    failInVnet = 0xffffffff;
    vnet_destroy(probe);
    sysinit_purge_module(902);
    expect(vnet_count()).toBe(n0);
    expect(kmem_pages_inuse()).toBe(pages0);
    leak_reset();
  });
});
