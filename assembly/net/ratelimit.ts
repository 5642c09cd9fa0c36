// The error rate limiter both ICMP families use (FreeBSD's badport_bandlim/ppsratecheck
// idea: at most N a second), as a token bucket with a budget of one second kept in
// microseconds of kernel time. Compiled into each module that imports it; nothing here
// is per family. Each family owns a bucket in its per-vnet data and its own limit (a
// sysctl: net.inet.icmp.icmplim, net.inet6.icmp6.errppslimit), and passes the limit and
// the time in, so this file reads no vnet or clock of its own.
//
// The bucket at b: credit (u64, microseconds of budget), last (u64, kernel time of the
// last check), in that order.

const RL_FULL: u64 = 1_000_000; // a full bucket: one second of budget

/** Start a bucket full at time now: a burst of `limit` errors may go at once. */
export function rl_init(b: usize, now: u64): void {
  store<u64>(b, RL_FULL);
  store<u64>(b, now, 8);
}

/**
 * May one more go at time now, at most lim a second (0: no limit)? Takes its cost from
 * the bucket when it may. Time that runs backwards adds nothing.
 */
export function rl_check(b: usize, lim: u32, now: u64): bool {
  if (lim == 0) return true;
  const last = load<u64>(b, 8);
  let credit = load<u64>(b);
  if (now > last) credit += now - last;
  if (credit > RL_FULL) credit = RL_FULL;
  store<u64>(b, now, 8);
  const cost = RL_FULL / <u64>lim;
  if (credit < cost) {
    store<u64>(b, credit);
    return false;
  }
  store<u64>(b, credit - cost);
  return true;
}
