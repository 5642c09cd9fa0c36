// A destination word of iperf and curl: an address as typed, or a node's name resolved to
// one of its addresses (the kernel's vnets carry the topology's node names). Which address:
// one on a subnet the source is on (the direct path), else the node's first IPv4 address,
// else its first global IPv6 address; `six` asks for IPv6 only.

import type { Kernel, Vnet } from "../kern/kernel.js";
import { addresses } from "../admin/inet.js";
import { addresses6 } from "../admin/inet6.js";
import { isIPv6Text } from "../lib/addr.js";
import { CommandError } from "./args.js";

function loaded(kernel: Kernel, module: string): boolean {
  return kernel.kldstat().some((m) => m.name === module);
}

interface Addr {
  address: string;
  prefixLength: number;
  six: boolean;
}

function addrsOf(kernel: Kernel, v: Vnet): Addr[] {
  const out: Addr[] = [];
  for (const i of v.interfaces()) {
    if (i.type === "loopback") continue;
    if (loaded(kernel, "inet")) for (const a of addresses(kernel, i)) out.push({ address: a.address, prefixLength: a.prefixLength, six: false });
    if (loaded(kernel, "inet6")) {
      for (const a of addresses6(kernel, i)) if (!/^fe80:/i.test(a.address)) out.push({ address: a.address, prefixLength: a.prefixLength, six: true });
    }
  }
  return out;
}

function v4(a: string): number {
  return a.split(".").reduce((x, o) => x * 256 + Number(o), 0);
}

function sameSubnet4(a: Addr, b: Addr): boolean {
  if (a.six || b.six) return false;
  const unit = 2 ** (32 - Math.min(a.prefixLength, b.prefixLength));
  return Math.floor(v4(a.address) / unit) === Math.floor(v4(b.address) / unit);
}

/** The address a destination word names, seen from vnet `from`. */
export function resolveHost(cmd: string, kernel: Kernel, from: Vnet, word: string, opts: { six?: boolean } = {}): string {
  if (/^\d+\.\d+\.\d+\.\d+$/.test(word) || isIPv6Text(word)) return word;
  const v = kernel.vnets().find((x) => x.name === word && x.alive);
  if (!v) {
    const names = kernel.vnets().filter((x) => x.alive && x.name).map((x) => x.name);
    throw new CommandError(`${cmd}: ${JSON.stringify(word)} is neither an address nor a node (nodes: ${names.join(", ")})`);
  }
  const theirs = addrsOf(kernel, v).filter((a) => (opts.six ? a.six : true));
  if (theirs.length === 0) throw new CommandError(`${cmd}: node ${word} has no ${opts.six ? "global IPv6 " : ""}address`);
  const mine = addrsOf(kernel, from);
  const near = theirs.find((t) => mine.some((m) => sameSubnet4(m, t)));
  return (near ?? theirs.find((t) => !t.six) ?? theirs[0]).address;
}
