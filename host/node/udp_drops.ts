// Datagrams the OS dropped on one of this process's UDP sockets because its receive buffer
// was full: Linux counts them per socket, the last column ("drops") of /proc/net/udp and
// /proc/net/udp6. Node does not give a socket's descriptor or inode, so the socket is found
// by its bound address and port (unique for a bound socket in this network namespace).

import { readFileSync } from "node:fs";
import { endianness } from "node:os";
import { isIPv4, parseIPv4Bytes, parseIPv6Zoned } from "../lib/addr.js";

/** /proc's text of an address: each 32-bit word in host byte order, as hex. */
function procAddress(family: 4 | 6, address: string): string {
  const bytes: Uint8Array = family === 4 ? parseIPv4Bytes(address) : parseIPv6Zoned(address).bytes;
  let out = "";
  for (let w = 0; w < bytes.length; w += 4) {
    const word = endianness() === "LE" ? [bytes[w + 3], bytes[w + 2], bytes[w + 1], bytes[w]] : [bytes[w], bytes[w + 1], bytes[w + 2], bytes[w + 3]];
    out += word.map((b) => b.toString(16).toUpperCase().padStart(2, "0")).join("");
  }
  return out;
}

/** Drops of the UDP socket bound to address:port, or -1 where the OS does not say (not Linux, no such line). */
export function socketDrops(family: 4 | 6, address: string, port: number): number {
  if (process.platform !== "linux") return -1;
  let text: string;
  try {
    text = readFileSync(family === 4 ? "/proc/net/udp" : "/proc/net/udp6", "utf8");
  } catch {
    return -1;
  }
  const want = `${procAddress(family, family === 4 && !isIPv4(address) ? "0.0.0.0" : address)}:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f[1] === want) return Number(f[f.length - 1]);
  }
  return -1;
}
