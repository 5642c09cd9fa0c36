// pfil from the host: how many hooks a vnet has on each head and what they dropped or kept
// (net/pfil.ts). Side-code modules add and remove the hooks themselves; the host only looks.

import { checkVnet, checkKernel, type Kernel, type Vnet } from "../kern/kernel.js";
import { ConfigError } from "../lib/errors.js";
import { show } from "../lib/format.js";

/** The heads, in the kernel's numbering (PFIL_HEAD_*). */
export const PFIL_HEADS = ["inet", "inet6", "ether", "bridge"] as const;
export type PfilHead = (typeof PFIL_HEADS)[number];
export type PfilDir = "in" | "out";

export interface PfilHeadStats {
  hooks: number;
  /** Packets a hook dropped (freed). */
  dropped: number;
  /** Packets a hook kept (consumed). */
  consumed: number;
}

function headIndex(head: unknown, what: string): number {
  const i = PFIL_HEADS.indexOf(head as PfilHead);
  if (i < 0) throw new ConfigError(`${what}: head must be one of ${PFIL_HEADS.join(", ")}, got ${show(head)}`);
  return i;
}

function dirIndex(dir: unknown, what: string): number {
  if (dir !== "in" && dir !== "out") throw new ConfigError(`${what}: direction must be "in" or "out", got ${show(dir)}`);
  return dir === "in" ? 1 : 2;
}

/** Hooks and their drops on one head and direction of a vnet. */
export function pfilStats(kernel: Kernel, vnet: Vnet, head: PfilHead, dir: PfilDir): PfilHeadStats {
  checkVnet(kernel, vnet, "pfil");
  const h = headIndex(head, "pfil");
  const d = dirIndex(dir, "pfil");
  return {
    hooks: kernel.k.pfilh_count(vnet.ptr, h, d),
    dropped: kernel.k.pfilh_stat(vnet.ptr, h, d, 0),
    consumed: kernel.k.pfilh_stat(vnet.ptr, h, d, 1),
  };
}

/** Is the head's owner loaded (inet, inet6, if_bridge; ether always)? */
export function pfilHeadRegistered(kernel: Kernel, head: PfilHead): boolean {
  checkKernel(kernel, "pfil");
  const h = headIndex(head, "pfil");
  return kernel.k.pfil_head_registered(h) !== 0;
}
