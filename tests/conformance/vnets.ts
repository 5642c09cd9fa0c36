// Cases that need more than the lab's host + jail pair (two jails on two epairs, a bridge
// between jails, a jail of its own): the vnets a case makes, destroyed when it ends, pass or
// fail, and the check that nothing of them is left. FreeBSD's vnet.subr does the same with
// vnet_mkjail and vnet_cleanup.
import assert from "node:assert/strict";
import type { Kernel, Vnet } from "../../host/index.js";
import { mbufsInUse } from "../helpers/inet.js";

export interface Jails {
  /** A new vnet (FreeBSD's vnet_mkjail), destroyed at the end of the case. */
  jail(name: string): Vnet;
  /** Let the event loop turn (the host's socket objects and captures run there). */
  settle(): Promise<void>;
}

/**
 * Run a case's body with fresh vnets, then destroy them whatever happened and check the
 * kernel holds no mbuf afterwards (the vnets' zones and pages are checked by vnet_destroy
 * itself, which reports a leak by name).
 */
export async function withJails(k: Kernel, body: (j: Jails) => Promise<void>): Promise<void> {
  const made: Vnet[] = [];
  const settle = async () => {
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
  };
  let failed = true;
  try {
    await body({ jail: (name) => (made.push(k.createVnet(name)), made[made.length - 1]), settle });
    failed = false;
  } finally {
    await settle();
    for (const v of made.reverse()) if (v.alive) v.destroy();
  }
  if (!failed) assert.equal(mbufsInUse(k), 0, "destroying the case's vnets leaves no mbuf");
}
