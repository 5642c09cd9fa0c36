import { kmem_alloc, kmem_free, kmem_pages_inuse, kmem_bad_frees, kmem_set_budget, kmem_budget_stat, KB_BUDGET, KB_REFUSED, KB_INUSE, KB_HIGHWATER, KB_PRESSURE, PAGE_SIZE, CHUNK_SIZE } from "../kern/kmem";

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

describe("kmem budget", () => {
  test("memory never grows past the budget: the growth is refused and counted, the allocation returns 0", () => {
    const have = <u32>memory.size();
    const refusedBefore = kmem_budget_stat(KB_REFUSED);
    expect(kmem_set_budget(have + 2)).toBe(0);
    const got = memory.data(64 * 4, 4);
    let n: u32 = 0;
    for (; n < 64; n++) {
      const p = kmem_alloc(16, acct);
      if (p == 0) break;
      store<usize>(got + (<usize>n << 2), p);
    }
    expect(n).toBeLessThan(64);
    expect(<u32>memory.size()).toBeLessThanOrEqual(have + 2);
    expect(kmem_budget_stat(KB_REFUSED)).toBeGreaterThan(refusedBefore);
    expect(kmem_budget_stat(KB_BUDGET)).toBe(<f64>(have + 2) * 65536);
    for (let i: u32 = 0; i < n; i++) kmem_free(load<usize>(got + (<usize>i << 2)), 16, acct);
    expect(load<u32>(acct)).toBe(0);
    // Freed memory is handed out again within the budget.
    const again = kmem_alloc(16, acct);
    expect(again).toBeGreaterThan(0);
    kmem_free(again, 16, acct);
    expect(kmem_set_budget(65537)).toBeLessThan(0);
    kmem_set_budget(0);
  });

  test("memory in use passes the high-water mark (3/4 of the budget) and the pressure flag follows it", () => {
    const have = <u32>memory.size();
    kmem_set_budget(have + 64);
    expect(kmem_budget_stat(KB_PRESSURE)).toBe(0);
    const got = memory.data(128 * 4, 4);
    let n: u32 = 0;
    while (n < 128 && kmem_budget_stat(KB_PRESSURE) == 0) {
      const p = kmem_alloc(16, acct);
      if (p == 0) break;
      store<usize>(got + (<usize>n << 2), p);
      n++;
    }
    expect(kmem_budget_stat(KB_PRESSURE)).toBe(1);
    expect(kmem_budget_stat(KB_INUSE)).toBeGreaterThanOrEqual(kmem_budget_stat(KB_HIGHWATER));
    for (let i: u32 = 0; i < n; i++) kmem_free(load<usize>(got + (<usize>i << 2)), 16, acct);
    expect(kmem_budget_stat(KB_PRESSURE)).toBe(0);
    kmem_set_budget(0);
  });
});
