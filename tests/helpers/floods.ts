// Helpers for the flood tests and the hardening bench (issue 14): a seeded generator and
// the setups several floods share.

/** A small deterministic generator (xorshift32). */
export function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}
