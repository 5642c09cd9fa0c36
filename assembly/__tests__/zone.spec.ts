import { zone_create, zone_alloc_in, zone_free_in, zone_destroy, zone_stat, zone_vnet_inuse, zone_set_vnet_limit, zone_first, zone_next, Zone, ZONE_CHARGE, ZONE_VNET, ZONE_ZERO, ZS_SLABS, zone_drain } from "../kern/zone";
import { kmem_pages_inuse, KMEM_KERNEL_ACCT } from "../kern/kmem";
import { vnet_section_set_size } from "../kern/vnet_data";
import { vnet_boot, vnet_alloc, vnet_destroy, CURVNET_SET, Vnet } from "../kern/vnet";
import { leak_count, leak_reset, leak_entry } from "../kern/leak";

let booted = false;
function boot(): void {
  if (booted) return;
  booted = true;
  vnet_section_set_size(8192);
  vnet_boot();
}

function inuse(z: usize): u32 { return changetype<Zone>(z).inuse; }

describe("zones", () => {
  test("alloc and free are O(1) items from one-page slabs with the header inline", () => {
    boot();
    const pages0 = kmem_pages_inuse();
    const z = zone_create("t_small", 100, 0, 0, 0);
    expect(changetype<Zone>(z).size).toBe(104);
    expect(changetype<Zone>(z).ppera).toBe(1);
    const items = new Array<usize>();
    for (let i = 0; i < 1000; i++) {
      const p = zone_alloc_in(z, 0);
      expect(p).toBeGreaterThan(0);
      items.push(p);
    }
    expect(inuse(z)).toBe(1000);
    expect(changetype<Zone>(z).peak).toBe(1000);
    // All distinct and 8-byte aligned.
    const seen = new Set<usize>();
    for (let i = 0; i < items.length; i++) {
      expect(items[i] & 7).toBe(0);
      expect(seen.has(items[i])).toBe(false);
      seen.add(items[i]);
    }
    for (let i = 0; i < items.length; i++) zone_free_in(z, items[i], 0);
    expect(inuse(z)).toBe(0);
    expect(changetype<Zone>(z).allocs).toBe(1000);
    expect(changetype<Zone>(z).frees).toBe(1000);
    // At most the last partial slab and one cached empty slab remain; the rest went back.
    expect(changetype<Zone>(z).nslabs).toBeLessThanOrEqual(2);
    zone_drain(z);
    expect(changetype<Zone>(z).nslabs).toBe(0);
    expect(zone_destroy(z, false)).toBe(0);
    expect(kmem_pages_inuse()).toBe(pages0);
  });

  test("2 KiB items use whole-chunk slabs with off-page headers and waste nothing", () => {
    boot();
    const z = zone_create("t_cluster", 2048, 0, 0, 0);
    expect(changetype<Zone>(z).ppera).toBe(16);
    expect(changetype<Zone>(z).ipers).toBe(32);
    const a = zone_alloc_in(z, 0);
    const b = zone_alloc_in(z, 0);
    expect(a & 2047).toBe(0);
    expect(b - a).toBe(2048);
    zone_free_in(z, b, 0);
    zone_free_in(z, a, 0);
    expect(zone_destroy(z, false)).toBe(0);
  });

  test("a zone limit makes alloc fail and counts the failure", () => {
    boot();
    const z = zone_create("t_limit", 32, 2, 0, 0);
    const a = zone_alloc_in(z, 0);
    const b = zone_alloc_in(z, 0);
    expect(zone_alloc_in(z, 0)).toBe(0);
    expect(changetype<Zone>(z).fails).toBe(1);
    zone_free_in(z, a, 0);
    zone_free_in(z, b, 0);
    zone_destroy(z, false);
  });

  test("frees of foreign, misaligned or double-freed pointers are counted, not applied", () => {
    boot();
    const z = zone_create("t_bad", 64, 0, 0, 0);
    const other = zone_create("t_other", 64, 0, 0, 0);
    const a = zone_alloc_in(z, 0);
    const o = zone_alloc_in(other, 0);
    zone_free_in(z, o, 0); // belongs to another zone
    zone_free_in(z, a + 4, 0); // not an item boundary
    expect(changetype<Zone>(z).badfrees).toBe(2);
    expect(inuse(z)).toBe(1);
    const b = zone_alloc_in(z, 0);
    zone_free_in(z, a, 0);
    zone_free_in(z, a, 0); // double free while b keeps the slab partly used
    expect(changetype<Zone>(z).badfrees).toBe(3);
    expect(inuse(z)).toBe(1);
    // The free list is intact: two allocations give two different items.
    const c = zone_alloc_in(z, 0);
    const d = zone_alloc_in(z, 0);
    expect(c).not.toBe(d);
    zone_free_in(z, b, 0);
    zone_free_in(z, c, 0);
    zone_free_in(z, d, 0);
    zone_free_in(z, d, 0); // the slab is all free now
    expect(changetype<Zone>(z).badfrees).toBe(4);
    expect(inuse(z)).toBe(0);
    zone_free_in(z, 0xfffffff0, 0); // beyond memory
    expect(changetype<Zone>(z).badfrees).toBe(5);
    zone_free_in(other, o, 0);
    zone_destroy(z, false);
    zone_destroy(other, false);
  });

  test("destroy refuses while items are out and names the zone in the leak report", () => {
    boot();
    leak_reset();
    const z = zone_create("t_busy", 64, 0, 0, 0);
    const a = zone_alloc_in(z, 0);
    expect(zone_destroy(z, false)).toBe(-16); // EBUSY
    expect(leak_count()).toBe(1);
    expect(String.UTF8.decodeUnsafe(leak_entry(0), 6)).toBe("t_busy");
    expect(load<u32>(leak_entry(0) + 24)).toBe(1);
    zone_free_in(z, a, 0);
    expect(zone_destroy(z, false)).toBe(0);
    leak_reset();
  });

  test("charged zones count items per vnet and enforce each vnet's limit", () => {
    boot();
    const z = zone_create("t_charged", 64, 0, ZONE_CHARGE, 3);
    const v1 = vnet_alloc();
    const v2 = vnet_alloc();
    const b1 = changetype<Vnet>(v1).base;
    const b2 = changetype<Vnet>(v2).base;
    const a = zone_alloc_in(z, b1);
    const b = zone_alloc_in(z, b1);
    const c = zone_alloc_in(z, b1);
    expect(zone_alloc_in(z, b1)).toBe(0); // v1 is at its limit of 3
    const d = zone_alloc_in(z, b2); // v2 is not starved by v1
    expect(d).toBeGreaterThan(0);
    expect(zone_vnet_inuse(z, b1)).toBe(3);
    expect(zone_vnet_inuse(z, b2)).toBe(1);
    zone_set_vnet_limit(z, b1, 4);
    const e = zone_alloc_in(z, b1);
    expect(e).toBeGreaterThan(0);
    zone_free_in(z, a, b1);
    zone_free_in(z, b, b1);
    zone_free_in(z, c, b1);
    zone_free_in(z, e, b1);
    zone_free_in(z, d, b2);
    expect(zone_vnet_inuse(z, b1)).toBe(0);
    expect(vnet_destroy(v1)).toBe(0);
    expect(vnet_destroy(v2)).toBe(0);
    expect(zone_destroy(z, false)).toBe(0);
  });

  test("a vnet zone charges its pages to the vnet and is reported if left behind", () => {
    boot();
    leak_reset();
    const v = vnet_alloc();
    const pages0 = changetype<Vnet>(v).pages;
    const old = CURVNET_SET(v);
    const z = zone_create("t_vnetzone", 64, 0, ZONE_VNET, 0);
    const a = zone_alloc_in(z, 0);
    CURVNET_SET(old);
    expect(changetype<Vnet>(v).pages).toBe(pages0 + 1);
    expect(a).toBeGreaterThan(0);
    // Destroying the vnet with its zone still there: reported, reclaimed.
    expect(vnet_destroy(v)).toBeGreaterThan(0);
    expect(leak_count()).toBeGreaterThan(0);
    expect(String.UTF8.decodeUnsafe(leak_entry(0), 10)).toBe("t_vnetzone");
    leak_reset();
  });

  test("ZONE_ZERO items come back zeroed", () => {
    boot();
    const z = zone_create("t_zero", 48, 0, ZONE_ZERO, 0);
    const a = zone_alloc_in(z, 0);
    memory.fill(a, 0xab, 48);
    zone_free_in(z, a, 0);
    const b = zone_alloc_in(z, 0);
    expect(b).toBe(a);
    expect(load<u64>(b + 8)).toBe(0);
    zone_free_in(z, b, 0);
    zone_destroy(z, false);
  });

  test("zone_drain gives the cached empty slab back to kmem", () => {
    boot();
    const pages0 = kmem_pages_inuse();
    const z = zone_create("t_drain", 64, 0, 0, 0);
    const a = zone_alloc_in(z, 0);
    zone_free_in(z, a, 0);
    expect(kmem_pages_inuse()).toBe(pages0 + 1); // cached empty slab
    expect(zone_drain(z)).toBe(1);
    expect(kmem_pages_inuse()).toBe(pages0);
    zone_destroy(z, false);
  });

  test("items larger than a chunk are refused", () => {
    boot();
    expect(zone_create("t_huge", 65537, 0, 0, 0)).toBe(0);
    expect(zone_create("t_none", 0, 0, 0, 0)).toBe(0);
  });
});
