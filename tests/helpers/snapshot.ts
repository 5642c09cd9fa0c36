import type { Kernel } from "../../host/index.js";

/** What a kernel holds right now (not its history counters): pages, zones in use, section, sysinits. */
export function snapshot(k: Kernel) {
  const a = k.accounting();
  return {
    pagesInUse: a.pagesInUse,
    kernelPages: a.kernelPages,
    vnets: a.vnets,
    zombies: a.zombies,
    vnetSectionUsed: a.vnetSectionUsed,
    sysinits: a.sysinits,
    zones: k.vmstatZ().map((z) => `${z.name}:${z.used}`).sort(),
    callouts: k.k.callout_pending_count(),
  };
}
