// The IpfwBackend over a vnet's firewall in the kernel (host/admin/ipfw.ts): what `ipfw` in
// the shell, topology files' `firewall:` lists and library callers run their commands on.
// Counters, states and the log come from the kernel as they are; nothing is kept here.

import type { Kernel, Vnet } from "../kern/kernel.js";
import {
  ipfwAdd, ipfwDelete, ipfwFlush, ipfwZero, ipfwList, ipfwStates, ipfwLog, ipfwNatConfig, ipfwNatDelete, ipfwNatShow, formatNatShow,
  ipfwTableCreate, ipfwTableDestroy, ipfwTableFlush, ipfwTableAdd, ipfwTableDelete, ipfwTableList, ipfwTableInfo, ipfwTables,
  ipfwTableLookup, parseTablePrefix, type IpfwTableEntry,
} from "../admin/ipfw.js";
import { parseNatCommand } from "./nat.js";
import { formatTableKey, type TableEntry, type IpfwTableBackend } from "./table.js";
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
    table: kernelTableBackend(kernel, vnet),
  };
}

/** `ipfw table` over the kernel's tables (host/admin/ipfw.ts), prefixes passed as their text. */
function kernelTableBackend(kernel: Kernel, vnet: Vnet): IpfwTableBackend {
  const entry = (e: IpfwTableEntry): TableEntry => {
    const k = parseTablePrefix("ipfw table", `${e.address}/${e.prefixLength}`);
    return { family: k.family, prefixLength: k.prefixLength, bytes: k.bytes, value: e.value };
  };
  return {
    create: (n, limit) => ipfwTableCreate(kernel, vnet, n, { limit }),
    destroy: (n) => ipfwTableDestroy(kernel, vnet, n),
    flush: (n) => ipfwTableFlush(kernel, vnet, n),
    add: (n, key, value, update) => ipfwTableAdd(kernel, vnet, n, formatTableKey(key), value, { update }),
    delete: (n, key) => ipfwTableDelete(kernel, vnet, n, formatTableKey(key)),
    list: (n) => ipfwTableList(kernel, vnet, n).map(entry),
    info: (n) => ipfwTableInfo(kernel, vnet, n),
    tables: () => ipfwTables(kernel, vnet),
    lookup: (n, key) => {
      const e = ipfwTableLookup(kernel, vnet, n, formatTableKey(key).replace(/\/\d+$/, ""));
      return e && entry(e);
    },
  };
}
