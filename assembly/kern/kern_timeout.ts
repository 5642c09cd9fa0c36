// PLACEHOLDER: replaced by the callout implementation (timing wheel). Do not ship.
export function callout_vnet_purge(v: usize): u32 { return 0; }
export function callout_module_purge(lo: u32, hi: u32): u32 { return 0; }
