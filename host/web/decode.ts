// A packet decoder for the page's packet list: a captured frame -> a one-line summary (source,
// destination, protocol, info, as a packet list shows it) and a per-layer breakdown
// (Ethernet, ARP, IPv4, IPv6 with its extension headers, ICMP, ICMPv6 with neighbour
// discovery options, UDP, TCP with flags, sequence numbers, window and options). Plain
// ECMAScript on Uint8Array: it runs in the worker (rows) and in the page (the selected
// packet's layers). Truncated or malformed headers are said so, never thrown.

export const LINKTYPE_NULL = 0;
export const LINKTYPE_ETHERNET = 1;

export interface Field {
  name: string;
  value: string;
}

export interface Layer {
  /** "Ethernet II", "Internet Protocol Version 4", ... */
  name: string;
  /** One line under the layer's name, as a dissector's tree shows it. */
  title: string;
  fields: Field[];
  /** Byte range of the layer's header in the frame. */
  offset: number;
  length: number;
}

export interface Summary {
  src: string;
  dst: string;
  /** The innermost protocol named: "ARP", "ICMP", "ICMPv6", "TCP", "UDP", "IPv4", "IPv6", "Ethernet". */
  proto: string;
  info: string;
  /** For filters: every protocol on the way down ("eth", "ip", "tcp", ...). */
  protos: string[];
  /** For filters: MAC and IP addresses, lower case. */
  addrs: string[];
  /** For filters: source and destination ports (UDP, TCP). */
  ports: number[];
}

export interface Decoded {
  summary: Summary;
  layers: Layer[];
}

const hex = (n: number, w: number) => `0x${n.toString(16).padStart(w, "0")}`;

export function macText(b: Uint8Array, at: number): string {
  const out: string[] = [];
  for (let i = 0; i < 6; i++) out.push((b[at + i] ?? 0).toString(16).padStart(2, "0"));
  return out.join(":");
}

export function ipv4Text(b: Uint8Array, at: number): string {
  return `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
}

/** RFC 5952 text of 16 bytes (the longest run of zero groups, 2 or more, as ::). */
export function ipv6Text(b: Uint8Array, at: number): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((b[at + 2 * i] << 8) | b[at + 2 * i + 1]);
  let bestAt = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  // IPv4-mapped: ::ffff:a.b.c.d
  if (bestAt === 0 && bestLen === 5 && g[5] === 0xffff) return `::ffff:${ipv4Text(b, at + 12)}`;
  const part = (from: number, to: number) => g.slice(from, to).map((x) => x.toString(16)).join(":");
  if (bestAt < 0) return part(0, 8);
  return `${part(0, bestAt)}::${part(bestAt + bestLen, 8)}`;
}

const u16 = (b: Uint8Array, at: number) => (b[at] << 8) | b[at + 1];
const u32 = (b: Uint8Array, at: number) => ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;

const ETHERTYPES: Record<number, string> = { 0x0800: "IPv4", 0x0806: "ARP", 0x86dd: "IPv6", 0x8100: "802.1Q" };
const IPPROTO: Record<number, string> = { 1: "ICMP", 2: "IGMP", 6: "TCP", 17: "UDP", 58: "ICMPv6", 0: "Hop-by-Hop", 43: "Routing", 44: "Fragment", 59: "No Next Header", 60: "Destination Options" };

const ICMP_TYPES: Record<number, string> = {
  0: "Echo (ping) reply", 3: "Destination unreachable", 4: "Source quench", 5: "Redirect", 8: "Echo (ping) request", 9: "Router advertisement",
  10: "Router solicitation", 11: "Time-to-live exceeded", 12: "Parameter problem", 13: "Timestamp request", 14: "Timestamp reply",
};
const ICMP_UNREACH: Record<number, string> = {
  0: "Network unreachable", 1: "Host unreachable", 2: "Protocol unreachable", 3: "Port unreachable", 4: "Fragmentation needed", 5: "Source route failed",
  9: "Network administratively prohibited", 10: "Host administratively prohibited", 13: "Communication administratively filtered",
};
const ICMP6_TYPES: Record<number, string> = {
  1: "Destination Unreachable", 2: "Packet Too Big", 3: "Time Exceeded", 4: "Parameter Problem", 128: "Echo (ping) request", 129: "Echo (ping) reply",
  133: "Router Solicitation", 134: "Router Advertisement", 135: "Neighbor Solicitation", 136: "Neighbor Advertisement", 137: "Redirect",
  143: "Multicast Listener Report Message v2", 130: "Multicast Listener Query", 131: "Multicast Listener Report", 132: "Multicast Listener Done",
};
const ICMP6_UNREACH: Record<number, string> = {
  0: "no route to destination", 1: "administratively prohibited", 2: "beyond scope of source address", 3: "address unreachable", 4: "port unreachable",
};

interface Ctx {
  b: Uint8Array;
  layers: Layer[];
  s: Summary;
}

function truncated(ctx: Ctx, name: string, at: number, need: number): boolean {
  if (ctx.b.length >= at + need) return false;
  ctx.layers.push({ name, title: `${name} (truncated: ${ctx.b.length - at} of ${need} bytes)`, fields: [], offset: at, length: Math.max(0, ctx.b.length - at) });
  ctx.s.info = ctx.s.info || `[truncated ${name}]`;
  return true;
}

/** Decode a captured frame (Ethernet, or BSD loopback for LINKTYPE_NULL). */
export function decodeFrame(data: Uint8Array, linktype = LINKTYPE_ETHERNET, origLen = data.length): Decoded {
  const ctx: Ctx = {
    b: data,
    layers: [],
    s: { src: "", dst: "", proto: "Ethernet", info: "", protos: [], addrs: [], ports: [] },
  };
  ctx.layers.push({
    name: "Frame",
    title: `Frame: ${origLen} bytes on wire, ${data.length} bytes captured`,
    fields: [{ name: "Length on wire", value: `${origLen} bytes` }, { name: "Captured", value: `${data.length} bytes` }],
    offset: 0,
    length: data.length,
  });
  if (linktype === LINKTYPE_NULL) {
    if (truncated(ctx, "Null/Loopback", 0, 4)) return { summary: ctx.s, layers: ctx.layers };
    const af = data[0] | (data[1] << 8) | (data[2] << 16) | (data[3] << 24);
    ctx.layers.push({ name: "Null/Loopback", title: `Null/Loopback, family ${af}`, fields: [{ name: "Family", value: `${af} (${af === 2 ? "IPv4" : af === 24 || af === 28 || af === 30 ? "IPv6" : "?"})` }], offset: 0, length: 4 });
    ctx.s.proto = "Loopback";
    if (af === 2) ipv4(ctx, 4);
    else if (af === 24 || af === 28 || af === 30) ipv6(ctx, 4);
    return { summary: ctx.s, layers: ctx.layers };
  }
  ethernet(ctx);
  return { summary: ctx.s, layers: ctx.layers };
}

function ethernet(ctx: Ctx): void {
  const b = ctx.b;
  if (truncated(ctx, "Ethernet II", 0, 14)) return;
  const dst = macText(b, 0);
  const src = macText(b, 6);
  let type = u16(b, 12);
  let at = 14;
  const fields: Field[] = [
    { name: "Destination", value: dst + (b[0] & 1 ? (dst === "ff:ff:ff:ff:ff:ff" ? " (broadcast)" : " (multicast)") : "") },
    { name: "Source", value: src },
  ];
  if (type === 0x8100 && b.length >= 18) {
    fields.push({ name: "802.1Q VLAN", value: `${u16(b, 14) & 0xfff} (priority ${u16(b, 14) >> 13})` });
    type = u16(b, 16);
    at = 18;
  }
  fields.push({ name: "Type", value: `${ETHERTYPES[type] ?? "unknown"} (${hex(type, 4)})` });
  ctx.layers.push({ name: "Ethernet II", title: `Ethernet II, Src: ${src}, Dst: ${dst}`, fields, offset: 0, length: at });
  Object.assign(ctx.s, { src, dst, proto: "Ethernet", info: `Ethernet type ${hex(type, 4)}` });
  ctx.s.protos.push("eth");
  ctx.s.addrs.push(src, dst);
  if (type === 0x0806) arp(ctx, at);
  else if (type === 0x0800) ipv4(ctx, at);
  else if (type === 0x86dd) ipv6(ctx, at);
}

function arp(ctx: Ctx, at: number): void {
  const b = ctx.b;
  ctx.s.protos.push("arp");
  ctx.s.proto = "ARP";
  if (truncated(ctx, "ARP", at, 28)) return;
  const op = u16(b, at + 6);
  const sha = macText(b, at + 8);
  const spa = ipv4Text(b, at + 14);
  const tha = macText(b, at + 18);
  const tpa = ipv4Text(b, at + 24);
  const opName = op === 1 ? "request" : op === 2 ? "reply" : `opcode ${op}`;
  ctx.layers.push({
    name: "ARP",
    title: `Address Resolution Protocol (${opName})`,
    fields: [
      { name: "Hardware type", value: `${u16(b, at)} (Ethernet)` },
      { name: "Protocol type", value: hex(u16(b, at + 2), 4) },
      { name: "Opcode", value: `${opName} (${op})` },
      { name: "Sender MAC", value: sha },
      { name: "Sender IP", value: spa },
      { name: "Target MAC", value: tha },
      { name: "Target IP", value: tpa },
    ],
    offset: at,
    length: 28,
  });
  ctx.s.addrs.push(spa, tpa);
  ctx.s.info = op === 1 ? (spa === tpa ? `Gratuitous ARP for ${spa} (Request)` : `Who has ${tpa}? Tell ${spa}`) : op === 2 ? `${spa} is at ${sha}` : `ARP ${opName}`;
}

function ipv4(ctx: Ctx, at: number): void {
  const b = ctx.b;
  ctx.s.protos.push("ip", "ipv4");
  ctx.s.proto = "IPv4";
  if (truncated(ctx, "Internet Protocol Version 4", at, 20)) return;
  const ihl = (b[at] & 15) * 4;
  const total = u16(b, at + 2);
  const id = u16(b, at + 4);
  const fragw = u16(b, at + 6);
  const ttl = b[at + 8];
  const proto = b[at + 9];
  const src = ipv4Text(b, at + 12);
  const dst = ipv4Text(b, at + 16);
  const flags = [(fragw & 0x4000) && "DF", (fragw & 0x2000) && "MF"].filter(Boolean).join(", ") || "none";
  const fragOff = (fragw & 0x1fff) * 8;
  ctx.layers.push({
    name: "Internet Protocol Version 4",
    title: `Internet Protocol Version 4, Src: ${src}, Dst: ${dst}`,
    fields: [
      { name: "Version", value: String(b[at] >> 4) },
      { name: "Header length", value: `${ihl} bytes` },
      { name: "DSCP/ECN", value: `${hex(b[at + 1] >> 2, 2)} / ${b[at + 1] & 3}` },
      { name: "Total length", value: String(total) },
      { name: "Identification", value: `${hex(id, 4)} (${id})` },
      { name: "Flags", value: flags },
      { name: "Fragment offset", value: String(fragOff) },
      { name: "Time to live", value: String(ttl) },
      { name: "Protocol", value: `${IPPROTO[proto] ?? "unknown"} (${proto})` },
      { name: "Header checksum", value: hex(u16(b, at + 10), 4) },
      { name: "Source", value: src },
      { name: "Destination", value: dst },
      ...(ihl > 20 ? [{ name: "Options", value: `${ihl - 20} bytes` }] : []),
    ],
    offset: at,
    length: ihl,
  });
  Object.assign(ctx.s, { src, dst });
  ctx.s.addrs.push(src, dst);
  ctx.s.info = `${IPPROTO[proto] ?? `protocol ${proto}`}`;
  if (ihl < 20) {
    ctx.s.info = `bad IPv4 header length ${ihl}`;
    return;
  }
  const payloadEnd = Math.min(b.length, at + Math.max(total, ihl));
  if (fragOff > 0) {
    ctx.s.info = `Fragmented IP protocol (proto=${IPPROTO[proto] ?? proto} ${proto}, off=${fragOff}, ID=${hex(id, 4)})`;
    return;
  }
  const mf = (fragw & 0x2000) !== 0;
  transport(ctx, proto, at + ihl, payloadEnd, ttl, false);
  if (mf) ctx.s.info += ` [first fragment, ID=${hex(id, 4)}]`;
}

function ipv6(ctx: Ctx, at: number): void {
  const b = ctx.b;
  ctx.s.protos.push("ipv6");
  ctx.s.proto = "IPv6";
  if (truncated(ctx, "Internet Protocol Version 6", at, 40)) return;
  const vtf = u32(b, at);
  const plen = u16(b, at + 4);
  let next = b[at + 6];
  const hlim = b[at + 7];
  const src = ipv6Text(b, at + 8);
  const dst = ipv6Text(b, at + 24);
  ctx.layers.push({
    name: "Internet Protocol Version 6",
    title: `Internet Protocol Version 6, Src: ${src}, Dst: ${dst}`,
    fields: [
      { name: "Version", value: String(vtf >>> 28) },
      { name: "Traffic class", value: hex((vtf >>> 20) & 0xff, 2) },
      { name: "Flow label", value: hex(vtf & 0xfffff, 5) },
      { name: "Payload length", value: String(plen) },
      { name: "Next header", value: `${IPPROTO[next] ?? "unknown"} (${next})` },
      { name: "Hop limit", value: String(hlim) },
      { name: "Source", value: src },
      { name: "Destination", value: dst },
    ],
    offset: at,
    length: 40,
  });
  Object.assign(ctx.s, { src, dst });
  ctx.s.addrs.push(src, dst);
  const end = Math.min(b.length, at + 40 + plen);
  let p = at + 40;
  // Extension headers: hop-by-hop, routing, destination options (8-byte units), fragment.
  for (let guard = 0; guard < 8; guard++) {
    if (next === 0 || next === 43 || next === 60) {
      if (truncated(ctx, IPPROTO[next], p, 8)) return;
      const len = (b[p + 1] + 1) * 8;
      ctx.layers.push({ name: `IPv6 ${IPPROTO[next]}`, title: `IPv6 ${IPPROTO[next]} (${len} bytes)`, fields: [{ name: "Next header", value: `${IPPROTO[b[p]] ?? "unknown"} (${b[p]})` }, { name: "Length", value: `${len} bytes` }], offset: p, length: len });
      next = b[p];
      p += len;
      continue;
    }
    if (next === 44) {
      if (truncated(ctx, "Fragment", p, 8)) return;
      const off = u16(b, p + 2) & 0xfff8;
      const m = (u16(b, p + 2) & 1) !== 0;
      const id = u32(b, p + 4);
      ctx.layers.push({
        name: "IPv6 Fragment",
        title: `Fragment Header, offset ${off}, ${m ? "more fragments" : "last fragment"}, ID ${hex(id, 8)}`,
        fields: [{ name: "Next header", value: `${IPPROTO[b[p]] ?? "unknown"} (${b[p]})` }, { name: "Offset", value: String(off) }, { name: "More fragments", value: m ? "yes" : "no" }, { name: "Identification", value: hex(id, 8) }],
        offset: p,
        length: 8,
      });
      if (off > 0) {
        ctx.s.info = `IPv6 fragment (off=${off}, nxt=${b[p]}, ID=${hex(id, 8)})`;
        return;
      }
      next = b[p];
      p += 8;
      continue;
    }
    break;
  }
  ctx.s.info = IPPROTO[next] ?? `next header ${next}`;
  transport(ctx, next, p, end, hlim, true);
}

function transport(ctx: Ctx, proto: number, at: number, end: number, ttl: number, v6: boolean): void {
  if (proto === 1 && !v6) icmp(ctx, at, end, ttl);
  else if (proto === 58 && v6) icmp6(ctx, at, end, ttl);
  else if (proto === 17) udp(ctx, at, end);
  else if (proto === 6) tcp(ctx, at, end);
}

function icmp(ctx: Ctx, at: number, end: number, ttl: number): void {
  const b = ctx.b;
  ctx.s.protos.push("icmp");
  ctx.s.proto = "ICMP";
  if (truncated(ctx, "Internet Control Message Protocol", at, 8)) return;
  const type = b[at];
  const code = b[at + 1];
  const name = ICMP_TYPES[type] ?? `type ${type}`;
  const fields: Field[] = [
    { name: "Type", value: `${type} (${name})` },
    { name: "Code", value: `${code}${type === 3 ? ` (${ICMP_UNREACH[code] ?? "?"})` : ""}` },
    { name: "Checksum", value: hex(u16(b, at + 2), 4) },
  ];
  let info = name;
  if (type === 0 || type === 8 || type === 13 || type === 14) {
    const id = u16(b, at + 4);
    const seq = u16(b, at + 6);
    fields.push({ name: "Identifier", value: `${id} (${hex(id, 4)})` }, { name: "Sequence number", value: String(seq) });
    if (type === 0 || type === 8) fields.push({ name: "Data", value: `${Math.max(0, end - at - 8)} bytes` });
    info = `${name}  id=${hex(id, 4)}, seq=${seq}, ttl=${ttl}`;
  } else if (type === 3 || type === 11 || type === 12) {
    if (type === 3) info = `${name} (${ICMP_UNREACH[code] ?? `code ${code}`})`;
    if (type === 3 && code === 4) fields.push({ name: "MTU of next hop", value: String(u16(b, at + 6)) });
    if (type === 11) info = `${name} (${code === 0 ? "Time to live exceeded in transit" : "Fragment reassembly time exceeded"})`;
    // The quoted datagram: its header and first 8 bytes.
    if (end - at >= 28 && (b[at + 8] >> 4) === 4) {
      const q = at + 8;
      fields.push({ name: "Quoted", value: `${IPPROTO[b[q + 9]] ?? b[q + 9]} ${ipv4Text(b, q + 12)} -> ${ipv4Text(b, q + 16)}` });
    }
  }
  ctx.layers.push({ name: "Internet Control Message Protocol", title: `Internet Control Message Protocol: ${name}`, fields, offset: at, length: Math.max(8, end - at) });
  ctx.s.info = info;
}

function icmp6(ctx: Ctx, at: number, end: number, hlim: number): void {
  const b = ctx.b;
  ctx.s.protos.push("icmpv6", "icmp6");
  ctx.s.proto = "ICMPv6";
  if (truncated(ctx, "Internet Control Message Protocol v6", at, 4)) return;
  const type = b[at];
  const code = b[at + 1];
  const name = ICMP6_TYPES[type] ?? `type ${type}`;
  const fields: Field[] = [
    { name: "Type", value: `${type} (${name})` },
    { name: "Code", value: `${code}${type === 1 ? ` (${ICMP6_UNREACH[code] ?? "?"})` : ""}` },
    { name: "Checksum", value: hex(u16(b, at + 2), 4) },
  ];
  let info = name;
  let optsAt = -1;
  if ((type === 128 || type === 129) && end - at >= 8) {
    const id = u16(b, at + 4);
    const seq = u16(b, at + 6);
    fields.push({ name: "Identifier", value: `${id} (${hex(id, 4)})` }, { name: "Sequence", value: String(seq) }, { name: "Data", value: `${Math.max(0, end - at - 8)} bytes` });
    info = `${name} id=${hex(id, 4)}, seq=${seq}, hop limit=${hlim}`;
  } else if ((type === 135 || type === 136) && end - at >= 24) {
    const target = ipv6Text(b, at + 8);
    ctx.s.addrs.push(target);
    fields.push({ name: "Target", value: target });
    if (type === 136) {
      const f = b[at + 4];
      const fl = [(f & 0x80) && "router", (f & 0x40) && "solicited", (f & 0x20) && "override"].filter(Boolean).join(", ");
      fields.push({ name: "Flags", value: fl || "none" });
      info = `${name} ${target}${fl ? ` (${fl.replace("router", "rtr").replace("solicited", "sol").replace("override", "ovr")})` : ""}`;
    } else info = `${name} for ${target}`;
    optsAt = at + 24;
  } else if (type === 133 && end - at >= 8) {
    optsAt = at + 8;
  } else if (type === 134 && end - at >= 16) {
    fields.push({ name: "Cur hop limit", value: String(b[at + 4]) }, { name: "Router lifetime", value: `${u16(b, at + 6)} s` });
    optsAt = at + 16;
  } else if (type === 2 && end - at >= 8) {
    fields.push({ name: "MTU", value: String(u32(b, at + 4)) });
    info = `${name} (MTU ${u32(b, at + 4)})`;
  } else if (type === 1) {
    info = `${name} (${ICMP6_UNREACH[code] ?? `code ${code}`})`;
  }
  // Neighbour discovery options: source/target link-layer address, prefix information, MTU.
  for (let p = optsAt; p >= 0 && p + 2 <= end; ) {
    const t = b[p];
    const len = b[p + 1] * 8;
    if (len === 0 || p + len > end) break;
    if ((t === 1 || t === 2) && len >= 8) {
      const mac = macText(b, p + 2);
      fields.push({ name: t === 1 ? "Source link-layer address" : "Target link-layer address", value: mac });
      if (type === 135 || type === 136) info += ` ${t === 1 ? "from" : "is at"} ${mac}`;
    } else if (t === 3 && len >= 32) fields.push({ name: "Prefix", value: `${ipv6Text(b, p + 16)}/${b[p + 2]}` });
    else if (t === 5 && len >= 8) fields.push({ name: "MTU option", value: String(u32(b, p + 4)) });
    else fields.push({ name: `Option ${t}`, value: `${len} bytes` });
    p += len;
  }
  ctx.layers.push({ name: "Internet Control Message Protocol v6", title: `Internet Control Message Protocol v6: ${name}`, fields, offset: at, length: Math.max(4, end - at) });
  ctx.s.info = info;
}

function udp(ctx: Ctx, at: number, end: number): void {
  const b = ctx.b;
  ctx.s.protos.push("udp");
  ctx.s.proto = "UDP";
  if (truncated(ctx, "User Datagram Protocol", at, 8)) return;
  const sp = u16(b, at);
  const dp = u16(b, at + 2);
  const len = u16(b, at + 4);
  ctx.layers.push({
    name: "User Datagram Protocol",
    title: `User Datagram Protocol, Src Port: ${sp}, Dst Port: ${dp}`,
    fields: [
      { name: "Source port", value: String(sp) },
      { name: "Destination port", value: String(dp) },
      { name: "Length", value: String(len) },
      { name: "Checksum", value: hex(u16(b, at + 6), 4) },
      { name: "Payload", value: `${Math.max(0, len - 8)} bytes` },
    ],
    offset: at,
    length: 8,
  });
  ctx.s.ports.push(sp, dp);
  ctx.s.info = `${sp} → ${dp} Len=${Math.max(0, len - 8)}`;
  void end;
}

const TCP_FLAGS: [number, string][] = [[0x100, "AE"], [0x80, "CWR"], [0x40, "ECE"], [0x20, "URG"], [0x10, "ACK"], [0x08, "PSH"], [0x04, "RST"], [0x02, "SYN"], [0x01, "FIN"]];

export function tcpFlagNames(f: number): string[] {
  return TCP_FLAGS.filter(([bit]) => f & bit).map(([, n]) => n);
}

function tcp(ctx: Ctx, at: number, end: number): void {
  const b = ctx.b;
  ctx.s.protos.push("tcp");
  ctx.s.proto = "TCP";
  if (truncated(ctx, "Transmission Control Protocol", at, 20)) return;
  const sp = u16(b, at);
  const dp = u16(b, at + 2);
  const seq = u32(b, at + 4);
  const ack = u32(b, at + 8);
  const off = (b[at + 12] >> 4) * 4;
  const flags = ((b[at + 12] & 1) << 8) | b[at + 13];
  const win = u16(b, at + 14);
  const names = tcpFlagNames(flags);
  const payload = Math.max(0, end - at - off);
  const fields: Field[] = [
    { name: "Source port", value: String(sp) },
    { name: "Destination port", value: String(dp) },
    { name: "Sequence number", value: String(seq) },
    { name: "Acknowledgment number", value: flags & 0x10 ? String(ack) : `${ack} (ACK not set)` },
    { name: "Header length", value: `${off} bytes` },
    { name: "Flags", value: `${hex(flags, 3)} (${names.join(", ") || "none"})` },
    { name: "Window", value: String(win) },
    { name: "Checksum", value: hex(u16(b, at + 16), 4) },
    { name: "Urgent pointer", value: String(u16(b, at + 18)) },
  ];
  const opts: string[] = [];
  for (let p = at + 20; p < at + off && p < b.length; ) {
    const kind = b[p];
    if (kind === 0) {
      opts.push("EOL");
      break;
    }
    if (kind === 1) {
      opts.push("NOP");
      p++;
      continue;
    }
    const len = b[p + 1];
    if (!len || len < 2 || p + len > at + off) {
      opts.push(`bad option ${kind}`);
      break;
    }
    if (kind === 2 && len === 4) opts.push(`MSS=${u16(b, p + 2)}`);
    else if (kind === 3 && len === 3) opts.push(`WS=${1 << b[p + 2]}`);
    else if (kind === 4) opts.push("SACK_PERM");
    else if (kind === 5) {
      const blocks: string[] = [];
      for (let q = p + 2; q + 8 <= p + len; q += 8) blocks.push(`${u32(b, q)}-${u32(b, q + 4)}`);
      opts.push(`SACK=${blocks.join(",")}`);
    } else if (kind === 8 && len === 10) opts.push(`TSval=${u32(b, p + 2)} TSecr=${u32(b, p + 6)}`);
    else opts.push(`option ${kind} (${len} bytes)`);
    p += len;
  }
  if (opts.length) fields.push({ name: "Options", value: opts.join(", ") });
  fields.push({ name: "Payload", value: `${payload} bytes` });
  ctx.layers.push({
    name: "Transmission Control Protocol",
    title: `Transmission Control Protocol, Src Port: ${sp}, Dst Port: ${dp}, Seq: ${seq}${flags & 0x10 ? `, Ack: ${ack}` : ""}, Len: ${payload}`,
    fields,
    offset: at,
    length: off,
  });
  ctx.s.ports.push(sp, dp);
  const shown = opts.filter((o) => o !== "NOP" && o !== "EOL" && !o.startsWith("TSval"));
  ctx.s.info = `${sp} → ${dp} [${names.join(", ")}] Seq=${seq}${flags & 0x10 ? ` Ack=${ack}` : ""} Win=${win} Len=${payload}${shown.length ? ` ${shown.join(" ")}` : ""}`;
}
