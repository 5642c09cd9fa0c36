// SYN cookies (RFC 4987 3.6, FreeBSD tcp_syncache.c syncookies): when a listener's queue
// is full, answer a SYN with a SYN-ACK whose ISS carries what the connection needs, and keep
// no state; the ACK that returns it (seq = IRS + 1, ack = ISS + 1) rebuilds the connection.
//
// The ISS, low bit first:
//   bits 0-2   the peer's MSS, as an index into cookie_mss (rounded down)
//   bit 3      the peer sent SACK-permitted
//   bits 4-7   the peer's window shift (0-14), 15 = no window scale option
//   bits 8-9   the low two bits of the 15 s time slot it was made in
//   bits 10-31 22 bits of SipHash-2-4 over the 4-tuple, the peer's ISN, the slot and
//              bits 0-9, under the vnet's cookie key (arc4random at vnet creation)
// A cookie is good in its slot and the next one: 15 to 30 s. Timestamps: when the SYN had
// one, the SYN-ACK has one, and the connection's timestamp offset is other bits of the same
// hash, so it comes back too.

import { ticks } from "../../kmod/kapi";
import { TP, V, TCPSTAT_INC, TCPS_SC_SENDCOOKIE, TCP_HDR_MIN, TH_SYN, TH_ACKF, TCPOPT_MAXSEG, TCPOPT_NOP, TCPOPT_WINDOW,
  TCPOPT_SACK_PERMITTED, TCPOPT_TIMESTAMP, TCPS_SNDCTRL, TF_REQ_SCALE, TF_SACK_REQ, TF_REQ_TSTMP } from "./tcp_var";
import { tcp_siphash, tcp_gethdr, tcp_fillhdr, tcp_queue } from "./tcp_subr";
import { mtod } from "../../sys/mbuf";

const cookie_mss = memory.data<u16>([216, 536, 1200, 1360, 1400, 1440, 1452, 1460]);
const SLOT_US: u64 = 15_000_000;
const NO_WSCALE: u32 = 15;

@inline function slot_now(): u32 { return <u32>(ticks() / SLOT_US); }

/** The 64-bit MAC of a cookie's low 10 bits made in slot. */
function cookie_mac(laddr: usize, faddr: usize, lport: u16, fport: u16, irs: u32, slot: u32, low: u32): u64 {
  const vv = V();
  return tcp_siphash(vv.cookie_key0 ^ <u64>slot, vv.cookie_key1 ^ (<u64>low << 32), laddr, faddr, lport, fport, irs);
}

/** The ISS for a SYN (peer's mss, sack, wscale (NO_WSCALE: none)). */
function cookie_make(laddr: usize, faddr: usize, lport: u16, fport: u16, irs: u32, mss: u32, sack: bool, wscale: u32, slot: u32): u64 {
  let i: u32 = 7;
  while (i > 0 && <u32>load<u16>(cookie_mss + (<usize>i << 1)) > mss) i--;
  const low = i | (sack ? 8 : 0) | (wscale << 4) | ((slot & 3) << 8);
  const h = cookie_mac(laddr, faddr, lport, fport, irs, slot, low);
  // The ISS, and the timestamp offset in the high word.
  return ((h >> 32) << 32) | <u64>(((<u32>h & 0x3fffff) << 10) | low);
}

/**
 * Answer a SYN (peer ISN irs, its options as given) to listener lp with a cookie SYN-ACK:
 * the queue is full. rcvwin: the window to offer (unscaled, as in any SYN); ourmss: the
 * MSS to offer.
 */
export function syncookie_send(lp: usize, ops: usize, laddr: usize, faddr: usize, fport: u16, irs: u32, hasmss: bool, mss: u32, hasws: bool, wscale: u32, sackperm: bool, hasts: bool, tsval: u32, rcvwin: u32, ourmss: u32): void {
  const lt = TP(lp);
  const usews = hasws && (lt.t_flags & TF_REQ_SCALE) != 0;
  const usesack = sackperm && (lt.t_flags & TF_SACK_REQ) != 0;
  const usets = hasts && (lt.t_flags & TF_REQ_TSTMP) != 0;
  const c = cookie_make(laddr, faddr, lt.t_lport, fport, irs, hasmss ? mss : 536, usesack, usews ? wscale : NO_WSCALE, slot_now());
  let optlen: u32 = 4;
  if (usews) optlen += 4;
  if (usesack) optlen += 4;
  if (usets) optlen += 12;
  const m = tcp_gethdr(TCP_HDR_MIN + optlen);
  if (m == 0) return;
  const th = mtod(m);
  tcp_fillhdr(th, lt.t_lport, fport, <u32>c, irs + 1, TCP_HDR_MIN + optlen, TH_SYN | TH_ACKF, min<u32>(rcvwin, 65535));
  let o = th + TCP_HDR_MIN;
  store<u8>(o, TCPOPT_MAXSEG);
  store<u8>(o + 1, 4);
  store<u16>(o + 2, bswap<u16>(<u16>ourmss));
  o += 4;
  if (usews) {
    store<u8>(o, TCPOPT_NOP);
    store<u8>(o + 1, TCPOPT_WINDOW);
    store<u8>(o + 2, 3);
    store<u8>(o + 3, lt.request_r_scale);
    o += 4;
  }
  if (usesack) {
    store<u8>(o, TCPOPT_NOP);
    store<u8>(o + 1, TCPOPT_NOP);
    store<u8>(o + 2, TCPOPT_SACK_PERMITTED);
    store<u8>(o + 3, 2);
    o += 4;
  }
  if (usets) {
    store<u8>(o, TCPOPT_NOP);
    store<u8>(o + 1, TCPOPT_NOP);
    store<u8>(o + 2, TCPOPT_TIMESTAMP);
    store<u8>(o + 3, 10);
    store<u32>(o + 4, bswap<u32>(<u32>(ticks() / 1000) + <u32>(c >> 32)));
    store<u32>(o + 8, bswap<u32>(tsval));
  }
  TCPSTAT_INC(TCPS_SC_SENDCOOKIE);
  TCPSTAT_INC(TCPS_SNDCTRL);
  tcp_queue(m, ops, laddr, faddr);
}

/**
 * Check the cookie an ACK returns (iss = ack - 1, irs = seq - 1). 0 when it does not check;
 * else (tsoffset << 32) | 1 << 31 | mss index | sack << 3 | wscale << 4 in the low bits.
 */
export function syncookie_check(laddr: usize, faddr: usize, lport: u16, fport: u16, seq: u32, ack: u32): u64 {
  const iss = ack - 1;
  const irs = seq - 1;
  const low = iss & 0x3ff;
  const cur = slot_now();
  const bits = (low >> 8) & 3;
  let slot: u32;
  if (bits == (cur & 3)) slot = cur;
  else if (bits == ((cur - 1) & 3)) slot = cur - 1;
  else return 0;
  const h = cookie_mac(laddr, faddr, lport, fport, irs, slot, low);
  if ((<u32>h & 0x3fffff) != (iss >> 10)) return 0;
  return ((h >> 32) << 32) | 0x80000000 | <u64>(low & 0xff);
}

/** The MSS a cookie's index stands for. */
export function syncookie_mss(idx: u32): u32 {
  return <u32>load<u16>(cookie_mss + (<usize>(idx & 7) << 1));
}

export { NO_WSCALE as SYNCOOKIE_NO_WSCALE };
