// bench_ipv4: IPv4 forwarding load, run inside Wasm. The generator builds complete
// Ethernet+IPv4+UDP frames (64 bytes on the wire, checksums right) addressed to the next
// hop's MAC and a destination behind it, and sends them out of an interface; the sink is
// inet's protocol handler for UDP at the destination (this module registers it, so load it
// into a kernel without the udp module) and counts what arrives.
import { m_freem, in_cksum_buf, m_gethdr, ether_output_frame, CURVNET_SET, CURVNET_RESTORE, MOD_LOAD, MOD_UNLOAD } from "../../assembly/kmod/kapi";
import { Mbuf, MT_DATA, mtod } from "../../assembly/sys/mbuf";
import { Ifnet } from "../../assembly/sys/if";
import { if_lladdr } from "../../assembly/sys/if";
export { kmod_heap_top } from "../../assembly/kmod/kmod";
import { send_frames } from "./framegen";

@external("inet", "ipproto_register") declare function ipproto_register(proto: u32, input: u32, ctlinput: u32): i32;
@external("inet", "ipproto_unregister") declare function ipproto_unregister(proto: u32): i32;

const FRAME_LEN: i32 = 64;
const IPPROTO_UDP: u32 = 17;
let received: u32 = 0;
const template = memory.data(64, 8);

function sink(m: usize, iphlen: u32): void {
  received++;
  m_freem(m);
}

export function modevent(what: i32): i32 {
  if (what == MOD_LOAD) return -ipproto_register(IPPROTO_UDP, sink.index, 0);
  if (what == MOD_UNLOAD) ipproto_unregister(IPPROTO_UDP);
  return 0;
}

export function bench_received(): u32 {
  return received;
}

/**
 * Send n frames out of ifp to next-hop MAC of nhIfp, IPv4 src -> dst (host order), UDP
 * 9 -> 9 with 22 bytes of payload. Returns how many the driver refused.
 */
export function bench_send(ifp: usize, nhIfp: usize, src: u32, dst: u32, n: u32): u32 {
  build(ifp, nhIfp, src, dst);
  return send_frames(ifp, template, FRAME_LEN, n);
}

/**
 * As bench_send, but frame k (k = 0 .. n-1) belongs to flow (first + k) % flows: UDP from
 * port 1024 + (f & 0x7fff) to port 2000 + (f >> 15), so up to 1,048,576 flows differ in
 * their ports only (the IPv4 header and its checksum stay; the UDP checksum is 0).
 */
export function bench_send_flows(ifp: usize, nhIfp: usize, src: u32, dst: u32, n: u32, flows: u32, first: u32): u32 {
  build(ifp, nhIfp, src, dst);
  const old = CURVNET_SET(changetype<Ifnet>(ifp).if_vnet);
  let refused: u32 = 0;
  let f = first % flows;
  for (let i: u32 = 0; i < n; i++) {
    const m = m_gethdr(MT_DATA);
    if (m == 0) {
      refused++;
      continue;
    }
    const mm = changetype<Mbuf>(m);
    const p = mtod(m);
    memory.copy(p, template, FRAME_LEN);
    store<u16>(p, bswap<u16>(<u16>(1024 + (f & 0x7fff))), 34);
    store<u16>(p, bswap<u16>(<u16>(2000 + (f >> 15))), 36);
    mm.m_len = FRAME_LEN;
    mm.ph_len = FRAME_LEN;
    if (ether_output_frame(ifp, m) != 0) refused++;
    if (++f == flows) f = 0;
  }
  CURVNET_RESTORE(old);
  return refused;
}

function build(ifp: usize, nhIfp: usize, src: u32, dst: u32): void {
  const t = template;
  memory.fill(t, 0, 64);
  memory.copy(t, if_lladdr(nhIfp), 6);
  memory.copy(t + 6, if_lladdr(ifp), 6);
  store<u16>(t, bswap<u16>(0x0800), 12);
  const ip = t + 14;
  store<u8>(ip, 0x45);
  store<u16>(ip, bswap<u16>(<u16>(FRAME_LEN - 14)), 2);
  store<u8>(ip, 64, 8);
  store<u8>(ip, <u8>IPPROTO_UDP, 9);
  store<u32>(ip, bswap<u32>(src), 12);
  store<u32>(ip, bswap<u32>(dst), 16);
  store<u16>(ip, bswap<u16>(in_cksum_buf(ip, 20)), 10);
  const udp = ip + 20;
  store<u16>(udp, bswap<u16>(9), 0);
  store<u16>(udp, bswap<u16>(9), 2);
  store<u16>(udp, bswap<u16>(<u16>(FRAME_LEN - 34)), 4); // checksum 0: none (RFC 768)
}
