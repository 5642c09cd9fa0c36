// The packet list's filter: words, all of which must match a row (and), each one of
//   a protocol      eth arp ip ipv4 ipv6 icmp icmpv6 tcp udp
//   an address      10.0.0.1, fd00::1, 02:00:00:00:00:01 (source or destination)
//   host A / src A / dst A
//   a port          port 80, or a bare number (source or destination port)
//   text            anything else: found in the protocol or the info column
// and a word may start with ! (or the word "not" before it) to mean the opposite.
// An empty filter matches everything.

import type { Summary } from "./decode.js";

const PROTOS = new Set(["eth", "arp", "ip", "ipv4", "ipv6", "icmp", "icmpv6", "icmp6", "tcp", "udp"]);

export type RowTest = (s: Summary) => boolean;

export class FilterError extends Error {}

/** Compile a filter; throws FilterError naming the word at fault. */
export function compileFilter(text: string): RowTest {
  const words = text.trim().split(/\s+/).filter((w) => w !== "");
  const tests: RowTest[] = [];
  for (let i = 0; i < words.length; i++) {
    let w = words[i].toLowerCase();
    let neg = false;
    if (w === "not" || w === "!") {
      neg = true;
      w = (words[++i] ?? "").toLowerCase();
      if (w === "") throw new FilterError(`"${words[i - 1]}" needs a word after it`);
    } else if (w.startsWith("!")) {
      neg = true;
      w = w.slice(1);
    }
    let t: RowTest;
    if (w === "and" || w === "&&") continue;
    if (w === "host" || w === "src" || w === "dst" || w === "port") {
      const v = (words[++i] ?? "").toLowerCase();
      if (v === "") throw new FilterError(`"${w}" needs a value after it`);
      if (w === "port") {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 0 || n > 65535) throw new FilterError(`port ${v}: not a port number`);
        t = (s) => s.ports.includes(n);
      } else if (w === "host") t = (s) => s.addrs.includes(v);
      else if (w === "src") t = (s) => s.src.toLowerCase() === v;
      else t = (s) => s.dst.toLowerCase() === v;
    } else if (PROTOS.has(w)) {
      const p = w === "ipv4" ? "ip" : w === "icmp6" ? "icmpv6" : w;
      t = (s) => s.protos.includes(p) || (p === "ip" && s.protos.includes("ipv4"));
    } else if (/^\d+$/.test(w)) {
      const n = Number(w);
      t = (s) => s.ports.includes(n);
    } else if (/^[\d.]+$/.test(w) && w.split(".").length === 4 || /^[0-9a-f:]+$/.test(w) && w.includes(":")) {
      t = (s) => s.addrs.includes(w);
    } else {
      t = (s) => s.proto.toLowerCase().includes(w) || s.info.toLowerCase().includes(w);
    }
    tests.push(neg ? (s) => !t(s) : t);
  }
  return (s) => tests.every((t) => t(s));
}
