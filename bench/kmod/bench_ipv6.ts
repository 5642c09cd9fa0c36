// bench_ipv6: IPv6 forwarding load, run inside Wasm; bench_ipv4's sibling for
// ipv6_forward_pps (bench/groups/mvns.ts). The generator builds complete Ethernet+IPv6+UDP
// frames (64 bytes on the wire, like bench_ipv4's, the UDP checksum right: it is mandatory
// over IPv6) from src to dst (16-byte addresses the host writes with bench_addr6), addressed
// to the next hop's MAC, and sends them out of an interface; the sink is inet6's protocol
// handler for UDP at the destination (this module registers it, so load it into a kernel
// without the udp module) and counts what arrives.
import { m_freem, in6_pseudo, MOD_LOAD, MOD_UNLOAD } from "../../assembly/kmod/kapi";
import { if_lladdr } from "../../assembly/sys/if";
export { kmod_heap_top } from "../../assembly/kmod/kmod";
import { send_frames } from "./framegen";

@external("inet6", "ip6proto_register") declare function ip6proto_register(proto: u32, input: u32, ctlinput: u32): i32;
@external("inet6", "ip6proto_unregister") declare function ip6proto_unregister(proto: u32): i32;

const FRAME_LEN: i32 = 64;
const IPPROTO_UDP: u32 = 17;
let received: u32 = 0;
const template = memory.data(64, 8);
const addrs = memory.data(32, 8); // src, dst

function sink(m: usize, off: u32): void {
  received++;
  m_freem(m);
}

export function modevent(what: i32): i32 {
  if (what == MOD_LOAD) return -ip6proto_register(IPPROTO_UDP, sink.index, 0);
  if (what == MOD_UNLOAD) ip6proto_unregister(IPPROTO_UDP);
  return 0;
}

export function bench_received(): u32 {
  return received;
}

/** Where the host writes the source and destination addresses (32 bytes) before bench_send6. */
export function bench_addr6(): usize {
  return addrs;
}

/**
 * Send n frames out of ifp to next-hop MAC of nhIfp, from the source to the destination in
 * bench_addr6, UDP 9 -> 9 with 2 bytes of payload. Returns how many the driver refused.
 */
export function bench_send6(ifp: usize, nhIfp: usize, n: u32): u32 {
  build(ifp, nhIfp);
  return send_frames(ifp, template, FRAME_LEN, n);
}

function build(ifp: usize, nhIfp: usize): void {
  const t = template;
  memory.fill(t, 0, 64);
  memory.copy(t, if_lladdr(nhIfp), 6);
  memory.copy(t + 6, if_lladdr(ifp), 6);
  store<u16>(t, bswap<u16>(0x86dd), 12);
  const ip = t + 14;
  const ulen: u32 = <u32>FRAME_LEN - 14 - 40;
  store<u8>(ip, 0x60);
  store<u16>(ip, bswap<u16>(<u16>ulen), 4);
  store<u8>(ip, <u8>IPPROTO_UDP, 6);
  store<u8>(ip, 64, 7);
  memory.copy(ip + 8, addrs, 32);
  const udp = ip + 40;
  store<u16>(udp, bswap<u16>(9), 0);
  store<u16>(udp, bswap<u16>(9), 2);
  store<u16>(udp, bswap<u16>(<u16>ulen), 4);
  // RFC 8200 8.1: the pseudo-header sum, then the header and payload (all zero but ports and length).
  let s = in6_pseudo(ip + 8, ip + 24, IPPROTO_UDP, ulen) + 9 + 9 + ulen;
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  let c = <u16>(~s & 0xffff);
  if (c == 0) c = 0xffff;
  store<u16>(udp, bswap<u16>(c), 6);
}
