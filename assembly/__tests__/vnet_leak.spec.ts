// vnet_destroy's third checkpoint names what a vnet still owns: kmem pages charged to it
// beyond its data block are a leak (kind LEAK_PAGES, named "kmem pages"), as items and
// callouts are (those are tested from the host with tests/kmod/kmod_leaky.ts).
import { vnet_section_set_size } from "../kern/vnet_data";
import { vnet_boot, vnet_alloc, vnet_destroy } from "../kern/vnet";
import { kmem_alloc } from "../kern/kmem";
import { leak_reset, leak_count, leak_entry, LEAK_PAGES } from "../kern/leak";

describe("vnet_destroy leak accounting", () => {
  test("pages a vnet still owns are reported by name, kind and count", () => {
    expect(vnet_section_set_size(8192)).toBe(0);
    expect(vnet_boot()).toBe(0);
    const v = vnet_alloc();
    expect(v).not.toBe(0);
    expect(kmem_alloc(2, v)).not.toBe(0); // charged to v (struct vnet starts with its page account)
    leak_reset();
    expect(vnet_destroy(v)).toBe(1);
    expect(leak_count()).toBe(1);
    const e = leak_entry(0);
    expect(load<u32>(e, 24)).toBe(2);
    expect(load<u32>(e, 28)).toBe(LEAK_PAGES);
    expect(load<u8>(e)).toBe(<u8>0x6b); // "kmem pages"
    leak_reset();
  });

  test("a vnet that owns nothing but its data block goes without a report", () => {
    const v = vnet_alloc();
    leak_reset();
    expect(vnet_destroy(v)).toBe(0);
    expect(leak_count()).toBe(0);
  });
});
