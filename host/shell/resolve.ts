// Node names where commands expect an address (`h1 ping h2`, as topology steps and Mininet
// take them), and the hint a host with no route gets. A name is a vnet of the kernel
// (a topology's node names are its vnets' names). The address chosen is the one on the
// path: the target's address on the interface it would send its answer out of, found by
// the target's own route lookup back to the asking node, so a router with many interfaces
// is reached at the near one. The family: IPv4 when both ends have one, else IPv6 (global);
// -4 / -6 force it.

import type { Vnet } from "../kern/kernel.js";
import type { Interface } from "../admin/ifnet.js";
import { addresses, routeGet, forwarding } from "../admin/inet.js";
import { addresses6, routeGet6, forwarding6 } from "../admin/inet6.js";
import { isIPv4, isIPv6Text, parseIPv4, mask4, parseIPv6, mask6 } from "../lib/addr.js";
import { CommandError } from "./args.js";
import type { Call } from "./commands.js";

export type Family = 4 | 6;

/** What resolving a name needs of a command call (iperf and curl pass just these). */
export type Where = Pick<Call, "kernel" | "vnet" | "cmd">;

function loaded(c: Where, m: string): boolean {
  return c.kernel.linker.isLoaded(m);
}

/** Global (not link-local, not loopback) addresses of a vnet in one family, by interface. */
function addrs(c: Where, v: Vnet, f: Family): { iface: Interface; address: string; plen: number }[] {
  const out: { iface: Interface; address: string; plen: number }[] = [];
  if (!loaded(c, f === 4 ? "inet" : "inet6")) return out;
  for (const i of v.interfaces()) {
    if (i.type === "loopback") continue;
    if (f === 4) for (const a of addresses(c.kernel, i)) out.push({ iface: i, address: a.address, plen: a.prefixLength });
    else for (const a of addresses6(c.kernel, i)) if (!a.linkLocal && !a.flags.includes("duplicated")) out.push({ iface: i, address: a.address, plen: a.prefixLength });
  }
  return out;
}

/** The vnet named `name`, if the kernel has one. */
function vnetNamed(c: Where, name: string): Vnet | undefined {
  return c.kernel.vnets().find((v) => v.name === name);
}

/** An address as typed, or a node's address on the path from this node; `family` forces one. */
export function resolveHost(c: Where, word: string, family?: Family): { address: string; family: Family; node?: string } {
  if (isIPv4(word)) {
    if (family === 6) throw new CommandError(`${c.cmd}: ${word} is an IPv4 address (-6 wants IPv6)`);
    return { address: word, family: 4 };
  }
  if (isIPv6Text(word)) {
    if (family === 4) throw new CommandError(`${c.cmd}: ${word} is an IPv6 address (-4 wants IPv4)`);
    return { address: word, family: 6 };
  }
  if (/^[\d.]+$/.test(word)) throw new CommandError(`${c.cmd}: ${JSON.stringify(word)} is not an IPv4 address (a.b.c.d) nor a node`);
  const target = vnetNamed(c, word);
  if (!target) {
    const names = c.kernel.vnets().filter((v) => v !== c.kernel.vnet0).map((v) => v.name);
    throw new CommandError(`${c.cmd}: ${JSON.stringify(word)} is neither an address nor a node (nodes: ${names.join(", ")})`);
  }
  const tried: Family[] = family ? [family] : addrs(c, c.vnet, 4).length ? [4, 6] : [6, 4];
  for (const f of tried) {
    const theirs = addrs(c, target, f);
    if (!theirs.length) continue;
    return { address: onPath(c, target, theirs, f), family: f, node: word };
  }
  throw new CommandError(`${c.cmd}: node ${word} has no ${family ? `IPv${family} ` : ""}address${family ? "" : " (IPv4 or global IPv6)"} to reach it at`);
}

/** Of the target's addresses, the one on the interface its route back to us leaves by. */
function onPath(c: Where, target: Vnet, theirs: { iface: Interface; address: string }[], f: Family): string {
  for (const mine of addrs(c, c.vnet, f)) {
    try {
      const r = f === 4 ? routeGet(c.kernel, target, mine.address) : routeGet6(c.kernel, target, mine.address);
      const hit = r && theirs.find((t) => t.iface.name === r.iface.name);
      if (hit) return hit.address;
    } catch {
      // no route back from that address: try the next
    }
  }
  return theirs[0]!.address;
}

/** Same subnet: a's prefix holds b. */
function sameNet(a: string, plen: number, b: string, f: Family): boolean {
  if (f === 4) {
    const m = mask4(plen);
    return ((parseIPv4(a) & m) >>> 0) === ((parseIPv4(b) & m) >>> 0);
  }
  const x = mask6(parseIPv6(a.split("%")[0]!), plen);
  const y = mask6(parseIPv6(b.split("%")[0]!), plen);
  return x.every((v, i) => v === y[i]);
}

/**
 * When this node has no route to dst: one line saying so and what to add, naming a router
 * on one of its links when there is one (a vnet that forwards, with an address on the
 * same subnet). Undefined when a route exists (the failure is elsewhere).
 */
export function noRouteHint(c: Call, dst: string): string | undefined {
  const f: Family = isIPv6Text(dst) ? 6 : 4;
  if (!loaded(c, f === 4 ? "inet" : "inet6")) return undefined;
  try {
    if ((f === 4 ? routeGet(c.kernel, c.vnet, dst) : routeGet6(c.kernel, c.vnet, dst)) !== undefined) return undefined;
  } catch {
    return undefined;
  }
  let via = "...";
  const mine = addrs(c, c.vnet, f);
  search: for (const v of c.kernel.vnets()) {
    if (v === c.vnet) continue;
    let fwd = false;
    try {
      fwd = f === 4 ? forwarding(c.kernel, v) : forwarding6(c.kernel, v);
    } catch {
      continue;
    }
    if (!fwd) continue;
    for (const t of addrs(c, v, f)) {
      if (mine.some((m) => sameNet(m.address, m.plen, t.address, f))) {
        via = t.address;
        break search;
      }
    }
  }
  const shell = via === "..." ? "" : `, or now: ${c.node.name} route add${f === 6 ? " -6" : ""} default ${via}`;
  return `no route to ${dst} from ${c.node.name}: add routes: [{to: default, via: ${via}}] to node ${c.node.name}${shell}`;
}
