// Helpers for TCP over IPv6 tests: hand-made segments in IPv6 packets, and the inet6 host
// calls those tests use.
import type { Interface } from "../../host/index.js";
import { parseIPv6, ip6Stats, addAddress6 } from "../../host/admin/inet6.js";
import { ether } from "./inet.js";
import { ip6Packet, cksum6 } from "./inet6.js";

export { ip6Stats, addAddress6 };

/** A TCP segment from src to dst with its checksum over the IPv6 pseudo-header. */
export function tcpSegment6(o: {
  src: string; dst: string; sport: number; dport: number; seq: number; ack: number; flags: number; win?: number; options?: number[]; payload?: Uint8Array;
}): Uint8Array {
  const opts = o.options ?? [];
  const hlen = 20 + opts.length;
  const payload = o.payload ?? new Uint8Array(0);
  const seg = new Uint8Array(hlen + payload.length);
  const dv = new DataView(seg.buffer);
  dv.setUint16(0, o.sport);
  dv.setUint16(2, o.dport);
  dv.setUint32(4, o.seq >>> 0);
  dv.setUint32(8, o.ack >>> 0);
  seg[12] = (hlen / 4) << 4;
  seg[13] = o.flags;
  dv.setUint16(14, o.win ?? 65535);
  seg.set(opts, 20);
  seg.set(payload, hlen);
  dv.setUint16(16, cksum6(parseIPv6(o.src, "src"), parseIPv6(o.dst, "dst"), 6, seg));
  return ip6Packet({ src: o.src, dst: o.dst, nxt: 6, payload: seg });
}

/** The same in an Ethernet frame from `from` to `to`. */
export function tcpFrame6(o: Parameters<typeof tcpSegment6>[0] & { from: Interface; to: Interface }): Uint8Array {
  return ether(o.from, o.to, 0x86dd, tcpSegment6(o));
}
