// SYN cookies (RFC 4987 3.6, FreeBSD tcp_syncache.c syncookies): a SYN-ACK whose ISS carries
// what the connection needs, so that the ACK returning it (seq = IRS + 1, ack = ISS + 1)
// can rebuild the connection with no state kept. The syncache (tcp_syncache.ts) uses one as
// the ISS of every entry, and answers with a cookie alone when it has no room.
//
// The ISS, low bit first:
//   bits 0-2   the peer's MSS, as an index into cookie_mss (rounded down)
//   bit 3      the peer sent SACK-permitted
//   bits 4-7   the peer's window shift (0-14), 15 = no window scale option
//   bits 8-9   the low two bits of the 15 s time slot it was made in
//   bits 10-31 22 bits of SipHash-2-4 over the 4-tuple, the peer's ISN, the slot and
//              bits 0-9, under the vnet's cookie key (arc4random at vnet creation)
// A cookie is good in its slot and the next one: 15 to 30 s. Timestamps: when the SYN had
// one, the SYN-ACK has one, and the ACK's says they were agreed; the connection's timestamp
// offset is a keyed hash of its 4-tuple (tcp_ts_offset), so it needs no room in the cookie.

import { ticks } from "../../kmod/kapi";
import { V, TCPSTAT_INC, TCPS_SC_SENDCOOKIE } from "./tcp_var";
import { tcp_siphash } from "./tcp_subr";

const cookie_mss = memory.data<u16>([216, 536, 1200, 1360, 1400, 1440, 1452, 1460]);
const SLOT_US: u64 = 15_000_000;
const NO_WSCALE: u32 = 15;

@inline function slot_now(): u32 { return <u32>(ticks() / SLOT_US); }

/** The 64-bit MAC of a cookie's low 10 bits made in slot. */
function cookie_mac(laddr: usize, faddr: usize, lport: u16, fport: u16, irs: u32, slot: u32, low: u32): u64 {
  const vv = V();
  return tcp_siphash(vv.cookie_key0 ^ <u64>slot, vv.cookie_key1 ^ (<u64>low << 32), laddr, faddr, lport, fport, irs);
}

/** The ISS for a SYN (peer's mss, sack, wscale (NO_WSCALE: none)), the MAC's high word above it. */
function cookie_make(laddr: usize, faddr: usize, lport: u16, fport: u16, irs: u32, mss: u32, sack: bool, wscale: u32, slot: u32): u64 {
  let i: u32 = 7;
  while (i > 0 && <u32>load<u16>(cookie_mss + (<usize>i << 1)) > mss) i--;
  const low = i | (sack ? 8 : 0) | (wscale << 4) | ((slot & 3) << 8);
  const h = cookie_mac(laddr, faddr, lport, fport, irs, slot, low);
  // The ISS, and the timestamp offset in the high word.
  return ((h >> 32) << 32) | <u64>(((<u32>h & 0x3fffff) << 10) | low);
}

/**
 * The cookie ISS for a SYN from faddr:fport (peer ISN irs) to laddr:lport, with what the
 * connection will need: the peer's MSS, whether both sides take SACK, the peer's window
 * shift (NO_WSCALE: no scaling). The ISS is the low 32 bits. Counted in
 * tcps_sc_sendcookie, as FreeBSD's syncookie_generate: with cookies on, every SYN-ACK the
 * syncache sends carries one, so a SYN whose entry is lost can still complete.
 */
export function syncookie_generate(laddr: usize, faddr: usize, lport: u16, fport: u16, irs: u32, mss: u32, sack: bool, wscale: u32): u64 {
  TCPSTAT_INC(TCPS_SC_SENDCOOKIE);
  return cookie_make(laddr, faddr, lport, fport, irs, mss, sack, wscale, slot_now());
}

/**
 * Check the cookie an ACK returns (iss = ack - 1, irs = seq - 1). 0 when it does not check;
 * else 1 << 31 | mss index | sack << 3 | wscale << 4 in the low bits.
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
  return 0x80000000 | <u64>(low & 0xff);
}

/** The MSS a cookie's index stands for. */
export function syncookie_mss(idx: u32): u32 {
  return <u32>load<u16>(cookie_mss + (<usize>(idx & 7) << 1));
}

export { NO_WSCALE as SYNCOOKIE_NO_WSCALE };
