import { kmem_alloc, kmem_free, kmem_pages_inuse, kmem_bad_frees, PAGE_SIZE, CHUNK_SIZE } from "../kern/kmem";

const acct = memory.data(8, 8);

describe("kmem", () => {
  test("single pages are 4 KiB aligned, charged and returned", () => {
    const before = kmem_pages_inuse();
    const a = kmem_alloc(1, acct);
    const b = kmem_alloc(1, acct);
    expect(a).toBeGreaterThan(0);
    expect(a & (PAGE_SIZE - 1)).toBe(0);
    expect(b).not.toBe(a);
    expect(load<u32>(acct)).toBe(2);
    kmem_free(a, 1, acct);
    kmem_free(b, 1, acct);
    expect(load<u32>(acct)).toBe(0);
    expect(kmem_pages_inuse()).toBe(before);
  });
});
