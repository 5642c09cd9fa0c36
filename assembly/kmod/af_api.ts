// A transport's handle on an address family's entry table (the table a family module
// registers with domain_af_register: inet's sys/in.ts INAPI_*, inet6's sys/in6.ts IN6API_*).
// TCP and UDP reach both families only through such handles, never by importing a family
// module, so they load whichever families the kernel has.
//
// Found once at MOD_LOAD (af_attach). Before each call into the family the glue asks
// af_live: the family may have been unloaded by force since, its table window nulled, and a
// call through a stale slot would trap. The kernel bumps a generation in kglobals whenever a
// family's table comes or goes, so while nothing changed af_live is one load and a compare;
// only after a change does it ask the kernel whether the table is still the one registered.
// Input paths need no check: the family is the caller.

import { domain_af_api, kglobals } from "./kapi";

const KG_AFGEN: usize = 24; // kern/kglobals.ts

@unmanaged export class AfApi {
  af: u32;
  api: usize; // the family's entry table, 0 while detached
  gen: u32; // KG_AFGEN when api was last seen registered
}

/** Look family af up; true (h holds its table) when it is in the kernel. */
export function af_attach(h: AfApi, af: u32): bool {
  h.af = af;
  h.api = domain_af_api(af);
  h.gen = load<u32>(kglobals + KG_AFGEN);
  return h.api != 0;
}

export function af_detach(h: AfApi): void {
  h.api = 0;
}

/** h's family is still the one attached to (one load while no family came or went). */
@inline export function af_live(h: AfApi): bool {
  return load<u32>(kglobals + KG_AFGEN) == h.gen ? h.api != 0 : af_recheck(h);
}

function af_recheck(h: AfApi): bool {
  if (h.api == 0 || domain_af_api(h.af) != h.api) return false; // (gone: asked again at every call, which is rare)
  h.gen = load<u32>(kglobals + KG_AFGEN);
  return true;
}

/** Table slot `off` of h's family (valid after af_live, or on an input path). */
@inline export function af_fn(h: AfApi, off: usize): u32 {
  return load<u32>(h.api + off);
}
