// if_epair structures (FreeBSD net/if_epair.c keeps them private too). One softc per pair,
// from the module's "epair" zone; inside it one EpairDir per direction. Each end's if_softc
// points at the direction of the frames it SENDS, so transmit finds everything in one load.

import { CALLOUT_SIZE } from "../../kmod/kapi";

export const EPAIR_MAGIC: u32 = 0x45504152; // "EPAR"
/** "No time": an empty queue's head time, an unarmed callout. */
export const NO_TIME: u64 = 0xffffffffffffffff;

/** Largest delay and jitter (us, about 35 minutes): jitter draws from [0, 2 * jitter]. */
export const EPAIR_MAX_DELAY_US: u64 = 0x7fffffff;
/** Highest rate (bit/s): 1 Tbit/s. A 64-byte frame then takes 0.512 ns, kept exactly in ns. */
export const EPAIR_MAX_RATE: u64 = 1_000_000_000_000;
/** Default and highest limit of frames waiting for the link (netem's default limit is 1000). */
export const EPAIR_QLIMIT_DEFAULT: u32 = 1000;
export const EPAIR_QLIMIT_MAX: u32 = 1_000_000;
/** Largest MTU an end accepts (FreeBSD epair: ETHERMTU_JUMBO and more; 16 KiB clusters here). */
export const EPAIR_MAXMTU: u32 = 16384;
/**
 * Nested deliveries (epair -> stack -> epair -> ...) deeper than this wait for the next tick
 * instead of recursing further: a loop of forwarders must not overflow the Wasm stack.
 */
export const EPAIR_MAX_DEPTH: u32 = 32;

// Condition bits (EpairDir.cond). 0 = the fast path: deliver at once.
export const EC_LOSS: u32 = 1;
export const EC_DUP: u32 = 2;
export const EC_RATE: u32 = 4;
export const EC_DELAY: u32 = 8; // delay or jitter
export const EC_REORDER: u32 = 16;

// Counters (epair_stat). The first seven are u64 fields of EpairDir, in this order.
export const ES_SENT: u32 = 0; // frames the sending end handed to the link
export const ES_DELIVERED: u32 = 1; // frames handed to the receiving end's ether_input
export const ES_LOST: u32 = 2; // dropped by the loss condition
export const ES_DUPLICATED: u32 = 3; // copies made by the duplicate condition
export const ES_REORDERED: u32 = 4; // frames that skipped the delay line
export const ES_QDROPS: u32 = 5; // dropped because the rate queue was full
export const ES_DROPPED: u32 = 6; // dropped at delivery (peer down, vnet gone, charge refused) or flushed
export const ES_QUEUED: u32 = 7; // frames held by the link now (rate queue + delay line)
export const ES_BACKLOG: u32 = 8; // frames waiting for (or on) the link: the rate queue
export const ES_BACKLOG_BYTES: u32 = 9;
export const ES_COUNT: u32 = 10;

// Conditions read back (epair_condition).
export const EK_DELAY: u32 = 0;
export const EK_JITTER: u32 = 1;
export const EK_LOSS: u32 = 2;
export const EK_DUP: u32 = 3;
export const EK_REORDER: u32 = 4;
export const EK_RATE: u32 = 5;
export const EK_QLIMIT: u32 = 6;
export const EK_QBYTES: u32 = 7;
export const EK_COUNT: u32 = 8;

/** One direction of a pair: frames sent by ifp, received by peer. */
@unmanaged export class EpairDir {
  magic: u32;
  cond: u32; // EC_* bits; 0 = no link conditions (fast path)
  ifp: usize; // the sending end
  peer: usize; // the receiving end
  sc: usize; // the pair
  // Conditions. Probabilities are fixed point over 2^32 (2^32 = always).
  delay_us: u64;
  jitter_us: u64;
  loss: u64;
  dup: u64;
  reorder: u64;
  rate_bps: u64;
  qlimit: u32; // frames in the rate queue
  qbytes: u32; // bytes in the rate queue, 0 = no byte limit
  // Rate queue: FIFO, ph_rcv_tstmp = the time (us) the frame's last bit leaves the link.
  rq_head: usize;
  rq_tail: usize;
  rq_len: u32;
  rq_bytes: u32;
  link_free_ns: u64; // when the link has finished the last frame given to it (ns)
  // Delay line: ordered by ph_rcv_tstmp = arrival time (us), FIFO among equal times.
  dq_head: usize;
  dq_tail: usize;
  dq_len: u32;
  own_rng: u32; // 1: draws come from rng below (the link's own stream), 0: from the kernel's arc4random
  armed: u64; // deadline the callout is armed for, NO_TIME = not armed
  // Counters (ES_SENT ... ES_DROPPED).
  c_sent: u64;
  c_delivered: u64;
  c_lost: u64;
  c_duplicated: u64;
  c_reordered: u64;
  c_qdrops: u64;
  c_dropped: u64;
  rng: u32; // state of the link's own stream (epair_set_rng), mulberry32
  spare: u32;
  // then the callout (CALLOUT_SIZE bytes) at DIR_CALLOUT
}

export const DIR_COUNTERS: usize = offsetof<EpairDir>("c_sent");
export const DIR_CALLOUT: usize = (offsetof<EpairDir>() + 7) & ~7;
export const DIR_SIZE: usize = (DIR_CALLOUT + CALLOUT_SIZE + 7) & ~7;

/** A pair: list links, where it was created, its unit, and the two directions. */
@unmanaged export class EpairSoftc {
  next: usize; // the module's list of pairs
  prev: usize;
  hnext: usize; // chain of the (home, unit) hash bucket
  home: usize; // struct vnet * it was created in: it dies with that vnet
  unit: u32;
  magic: u32;
  // then EpairDir a->b at SC_DIR_A (if_softc of end a), b->a at SC_DIR_B (of end b)
}

export const SC_DIR_A: usize = (offsetof<EpairSoftc>() + 7) & ~7;
export const SC_DIR_B: usize = SC_DIR_A + DIR_SIZE;
export const SC_SIZE: u32 = <u32>(SC_DIR_B + DIR_SIZE);

@inline export function dir(p: usize): EpairDir {
  return changetype<EpairDir>(p);
}
