// The flow hash that picks one of a prefix's paths (net/route_nhgrp.ts), shared source: inet
// and inet6 each compile it in. FreeBSD hashes a flow's addresses and ports into the mbuf's
// flowid (a Toeplitz hash, fib4_calc_software_hash); any well-mixed hash of the same fields
// gives the property that matters: every packet of one flow (one TCP connection, one UDP
// 4-tuple, one pair of addresses for ICMP and raw IP) hashes alike and so takes one path,
// and distinct flows spread over the paths. This is MurmurHash3's 32-bit block step and
// finaliser over the flow's words.

@inline function rotl(x: u32, r: u32): u32 {
  return (x << r) | (x >>> (32 - r));
}

/** Mixes one 32-bit word k into hash state h. */
@inline export function flowhash_mix(h: u32, k: u32): u32 {
  k *= 0xcc9e2d51;
  k = rotl(k, 15);
  k *= 0x1b873593;
  h ^= k;
  h = rotl(h, 13);
  return h * 5 + 0xe6546b64;
}

/** The final avalanche: every input bit reaches every output bit. */
@inline export function flowhash_fin(h: u32): u32 {
  h ^= h >>> 16;
  h *= 0x85ebca6b;
  h ^= h >>> 13;
  h *= 0xc2b2ae35;
  h ^= h >>> 16;
  return h;
}
