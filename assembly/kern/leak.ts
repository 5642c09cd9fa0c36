// The leak report: what teardown found still owned (zone name and count, pages, callouts).
// The kernel never throws; the host reads this table after a destroy or unload and turns
// it into a typed error naming every entry.

const MAX_LEAKS: u32 = 32;
export const LEAK_NAME_MAX: u32 = 24;
/** Entry: name (24 bytes, NUL padded), count u32, kind u32. */
export const LEAK_ENTRY_SIZE: u32 = 32;
export const LEAK_ITEMS: u32 = 0; // items still out of a zone
export const LEAK_PAGES: u32 = 1; // kmem pages still charged
export const LEAK_CALLOUTS: u32 = 2; // callouts still pending
export const LEAK_ZONE: u32 = 3; // a per-vnet zone not destroyed
export const LEAK_VNET_DATA: u32 = 4; // VNET section space not freed by a module

const table = memory.data(MAX_LEAKS * LEAK_ENTRY_SIZE, 8);
let count: u32 = 0;
let dropped: u32 = 0;

/** Record a leak; `name` points at NUL-terminated (or 24-byte) ASCII. */
export function leak_record(name: usize, n: u32, kind: u32): void {
  if (count >= MAX_LEAKS) {
    dropped++;
    return;
  }
  const e = table + count * LEAK_ENTRY_SIZE;
  let i: u32 = 0;
  for (; i < LEAK_NAME_MAX - 1; i++) {
    const c = load<u8>(name + i);
    if (c == 0) break;
    store<u8>(e + i, c);
  }
  for (; i < LEAK_NAME_MAX; i++) store<u8>(e + i, 0);
  store<u32>(e + LEAK_NAME_MAX, n);
  store<u32>(e + LEAK_NAME_MAX + 4, kind);
  count++;
}

/** Record a leak whose name is a string literal. */
export function leak_record_str(name: string, n: u32, kind: u32): void {
  const buf = memory.data(LEAK_NAME_MAX);
  const s = changetype<usize>(name);
  const len = min<u32>(load<u32>(s - 4) >> 1, LEAK_NAME_MAX - 1);
  for (let i: u32 = 0; i < len; i++) store<u8>(buf + i, <u8>load<u16>(s + (<usize>i << 1)));
  store<u8>(buf + len, 0);
  leak_record(buf, n, kind);
}

export function leak_count(): u32 { return count; }
export function leak_dropped(): u32 { return dropped; }
export function leak_entry(i: u32): usize { return i < count ? table + i * LEAK_ENTRY_SIZE : 0; }
export function leak_reset(): void {
  count = 0;
  dropped = 0;
}
