// bench_link: frame generator and sink for the link group, run inside Wasm. The generator
// builds 64-byte Ethernet frames (ethertype 0x88b5, "local experimental") and sends them out
// of an interface; the sink is the netisr handler for that ethertype and counts what arrives.
import { netisr_register, netisr_unregister, m_freem, MOD_LOAD, MOD_UNLOAD } from "../../assembly/kmod/kapi";
import { Mbuf } from "../../assembly/sys/mbuf";
import { if_lladdr } from "../../assembly/sys/if";
export { kmod_heap_top } from "../../assembly/kmod/kmod";
import { send_frames } from "./framegen";

const ETHERTYPE_BENCH: u32 = 0x88b5;
export const FRAME_LEN: i32 = 64;

let received: u32 = 0;
let receivedBytes: u64 = 0;
const template = memory.data(64, 8);

function sink(ifp: usize, m: usize): void {
  received++;
  receivedBytes += <u64>changetype<Mbuf>(m).ph_len;
  m_freem(m);
}

export function modevent(what: i32): i32 {
  if (what == MOD_LOAD) return -netisr_register(ETHERTYPE_BENCH, sink.index);
  if (what == MOD_UNLOAD) netisr_unregister(ETHERTYPE_BENCH);
  return 0;
}

/** Frames the sink has seen (all vnets). */
export function bench_received(): u32 {
  return received;
}

/**
 * Send n frames out of ifp to the MAC of dstIfp (in whatever vnet each is), charged to
 * ifp's vnet. Returns the number the driver refused (0 = all accepted).
 */
export function bench_send(ifp: usize, dstIfp: usize, n: u32): u32 {
  memory.copy(template, if_lladdr(dstIfp), 6);
  memory.copy(template + 6, if_lladdr(ifp), 6);
  store<u16>(template, bswap<u16>(<u16>ETHERTYPE_BENCH), 12);
  for (let i: i32 = 14; i < FRAME_LEN; i++) store<u8>(template + i, <u8>i);
  return send_frames(ifp, template, FRAME_LEN, n);
}
