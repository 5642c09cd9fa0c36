// SACK (RFC 2018) and SACK-based loss recovery (RFC 6675): NOT DONE YET.
//
// The hooks tcp_output and tcp_input call are here so the rest of TCP is ready for it;
// SACK-permitted is never offered (net.inet.tcp.sack.enable defaults to 0 and nothing sets
// TF_SACK_REQ), so a peer never sends SACK blocks we would have to act on, and recovery
// is NewReno's (RFC 6582).

/** Next hole to retransmit as (len << 32 | offset from snd_una), or -1 for none. */
export function tcp_sack_output(tp: usize): i64 {
  return -1;
}

/** Write up to room SACK blocks describing the reassembly queue at p; returns how many. */
export function tcp_sack_fill(tp: usize, p: usize, room: u32): u32 {
  return 0;
}

export function tcp_sack_nblocks(tp: usize): u32 {
  return 0;
}
