// What ipfw_chk knows about the packet it looks at (FreeBSD's struct ip_fw_args and the
// locals of ipfw_chk): filled once per packet by ip_fw2.ts, read by the match code and by
// the dynamic table. Addresses are kept as copies (16 bytes; IPv4 in the first 4), so no
// later pullup can move them.

export class Args {
  static af: u32 = 0; // 4 or 6
  static dir: u32 = 0; // PFIL_IN or PFIL_OUT (| PFIL_FWD)
  static ifp: usize = 0;
  static m: usize = 0;
  static proto: u32 = 0;
  static hlen: u32 = 0; // offset of the upper-layer header
  static ulp: bool = false; // the upper-layer header is whole (not a non-first fragment)
  static nonfirst: bool = false; // a non-first fragment
  static sport: u32 = 0;
  static dport: u32 = 0;
  static tcpflags: u32 = 0;
  static tcpopts: u32 = 0;
  static icmptype: u32 = 0;
  static icmpcode: u32 = 0;
  static iplen: u32 = 0;
  static ttl: u32 = 0;
  static ipid: u32 = 0;
  static dscp: u32 = 0; // the DS field's code point (RFC 2474): TOS / traffic class >> 2
  static frag4: bool = false; // an IPv4 fragment, first or not (MF set or an offset)
  static plen: u32 = 0; // bytes counted for the rule (the packet's length)
}

export const srcAddr = memory.data(16, 8);
export const dstAddr = memory.data(16, 8);
