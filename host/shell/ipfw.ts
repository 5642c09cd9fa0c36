// ipfw on a node: ipfw(8)'s command line (add, delete, list, show, zero, flush, set N ...,
// -q -a -d -f -S, `log` for the log ring, `nat` passed to the backend, `table` for lookup
// tables) on the node's vnet, through host/ipfw's ipfwCommand over the kernel's backend.
// The first use in a kernel without the module loads it and says so: every live vnet then
// gets an allowing default rule, as a topology's nodes do, so loading a firewall never cuts
// a running lab off.
// Interface names in rules may be the topology's (eth0): they are given to the kernel as
// its own (epair3a), which is what `list` prints.

import { ipfwSetDefault } from "../admin/ipfw.js";
import { ipfwCommand, kernelIpfwBackend, kernelIfnames } from "../ipfw/index.js";
import { CommandError } from "./args.js";
import type { Call, Command, CommandNode } from "./commands.js";
import type { Kernel } from "../kern/kernel.js";

const USAGE = "ipfw [-adfqS] add [N] RULE | delete N[-M]... | [set N] list|show [N[-M]...] | zero [N...] | flush | log | -d show | table N|all create|add|delete|list|flush|destroy|info|lookup ...";

/** Load ipfw if needed; every vnet alive then gets default allow. Returns the line to print (or ""). */
export async function ensureIpfw(kernel: Kernel): Promise<string> {
  if (kernel.linker.isLoaded("ipfw")) return "";
  await kernel.kldload("ipfw");
  for (const v of kernel.vnets()) ipfwSetDefault(kernel, v, true);
  return "ipfw: loaded the ipfw module (kldload ipfw); the default rule of every node allows (65535 allow ip from any to any)\n";
}

/** The node's topology interface names -> kernel names. */
export function nodeIfnames(node: CommandNode): (name: string) => string | undefined {
  const m = new Map<string, string>();
  for (const t of node.interfaces?.() ?? []) if (t.iface.alive && t.iface.vnet === node.vnet) m.set(t.name, t.iface.name);
  return (n) => m.get(n);
}

async function ipfw(c: Call): Promise<string> {
  if (c.argv.length === 0) throw new CommandError(`ipfw: usage: ${USAGE}`);
  const loaded = await ensureIpfw(c.kernel);
  const line = kernelIfnames(c.argv.join(" "), nodeIfnames(c.node));
  let out: string;
  try {
    out = await ipfwCommand(kernelIpfwBackend(c.kernel, c.vnet), line);
  } catch (e) {
    const msg = (e as Error).message;
    throw new CommandError(`${loaded ? loaded.trimEnd() + "; " : ""}ipfw: ${msg.replace(/^ipfw:? /, "")}`);
  }
  return (loaded + out).replace(/\n$/, "");
}

export const IPFW: Command = { usage: USAGE, summary: "the node's firewall (ipfw(8)); loads the ipfw module on first use", run: ipfw };
