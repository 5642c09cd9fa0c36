// The IpfwBackend over a vnet's firewall in the kernel (host/admin/ipfw.ts): what `ipfw` in
// the shell, topology files' `firewall:` lists and library callers run their commands on.
// Counters, states and the log come from the kernel as they are; nothing is kept here.

import type { Kernel, Vnet } from "../kern/kernel.js";
import { ipfwAdd, ipfwDelete, ipfwFlush, ipfwZero, ipfwList, ipfwStates, ipfwLog, ipfwNatConfig, ipfwNatDelete, ipfwNatShow, formatNatShow } from "../admin/ipfw.js";
import { parseNatCommand } from "./nat.js";
import { type IpfwBackend, type IpfwLogLine } from "./command.js";

/** ipfw's commands on `vnet`'s firewall (the ipfw module must be loaded: ModuleNotLoadedError otherwise). */
export function kernelIpfwBackend(kernel: Kernel, vnet: Vnet): IpfwBackend {
  return {
    add: (words) => ipfwAdd(kernel, vnet, words),
    delete: (n, set) => ipfwDelete(kernel, vnet, n, set),
    flush: () => {
      ipfwFlush(kernel, vnet);
    },
    zero: (n) => {
      ipfwZero(kernel, vnet, n);
    },
    list: () => ipfwList(kernel, vnet).map((r) => ({ words: r.words, packets: r.packets, bytes: r.bytes, lastMatch: r.lastMatchS })),
    states: () =>
      ipfwStates(kernel, vnet).map((s) => ({
        rule: s.rulenum, proto: s.proto, src: s.src, srcPort: s.sport, dst: s.dst, dstPort: s.dport,
        packets: s.packets, expire: Math.ceil(s.expiresInMs / 1000),
      })),
    log: () => {
      const { entries, lost } = ipfwLog(kernel, vnet, 0);
      const lines: IpfwLogLine[] = entries.map((e) => ({
        seq: e.seq, rule: e.rulenum, action: e.action, direction: e.direction, proto: e.proto,
        src: e.src, srcPort: e.sport, dst: e.dst, dstPort: e.dport,
      }));
      return { lines, lost };
    },
    nat: (args) => {
      const c = parseNatCommand(["nat", ...args].join(" "));
      if (c.op === "config") {
        ipfwNatConfig(kernel, vnet, c.config);
        return "";
      }
      if (c.op === "delete") {
        ipfwNatDelete(kernel, vnet, c.id);
        return "";
      }
      return formatNatShow(ipfwNatShow(kernel, vnet), c.id);
    },
  };
}
