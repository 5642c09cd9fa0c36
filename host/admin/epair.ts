// epair from the host: link conditions per direction and the link's counters, over the
// exports of the if_epair module (assembly/modules/if_epair.ts). Conditions set on an end
// apply to the frames that end SENDS; set them on both ends for a symmetric link.

import { checkKernel, type Kernel } from "../kern/kernel.js";
import { Interface, checkInterface } from "./ifnet.js";
import { ConfigError, KernelError } from "../lib/errors.js";
import { show } from "../lib/format.js";
import { formatDuration, formatRate, formatPct } from "../lib/units.js";

export interface EpairExports {
  epair_set_conditions(ifp: number, delayUs: number, jitterUs: number, loss: number, duplicate: number, reorder: number, rateBps: number, queueLimit: number, queueBytes: number): number;
  epair_clear_conditions(ifp: number): number;
  epair_set_rng(ifp: number, seed: number): number;
  epair_condition(ifp: number, which: number): number;
  epair_stat(ifp: number, which: number): number;
  epair_peer(ifp: number): number;
  epair_pairs(): number;
}

/**
 * Link conditions of one direction, in netem's order: loss, duplicate, rate (with its queue),
 * delay and jitter, reorder. Every field is optional; one left out is off.
 */
export interface LinkConditions {
  /** Added to every frame's trip, microseconds (integer, 0 .. 2147483647). */
  delayUs?: number;
  /** Each frame's delay varies uniformly within +/- this, microseconds; never below zero in total. */
  jitterUs?: number;
  /** Probability (0..1) that a frame is lost. */
  loss?: number;
  /** Probability (0..1) that a frame is duplicated (the copy travels independently). */
  duplicate?: number;
  /** Probability (0..1) that a frame skips the delay and overtakes the frames ahead of it (needs delayUs). */
  reorder?: number;
  /** Link rate in bit/s (integer); each frame occupies the link for len * 8 / rate. 0 = unlimited. */
  rateBps?: number;
  /** Frames that may wait for the link when a rate is set (default 1000); more are queue drops. */
  queueLimit?: number;
  /** Bytes that may wait for the link when a rate is set; 0 = no byte limit. */
  queueBytes?: number;
}

/**
 * Conditions in the words the `link` command and topology files take, only those that are
 * on: "delay 10ms loss 1% rate 50Mbit limit 1000"; "" when there are none.
 */
export function formatConditions(c: LinkConditions): string {
  const parts: string[] = [];
  if (c.delayUs) parts.push(`delay ${formatDuration(c.delayUs)}`);
  if (c.jitterUs) parts.push(`jitter ${formatDuration(c.jitterUs)}`);
  if (c.loss) parts.push(`loss ${formatPct(c.loss)}`);
  if (c.duplicate) parts.push(`duplicate ${formatPct(c.duplicate)}`);
  if (c.reorder) parts.push(`reorder ${formatPct(c.reorder)}`);
  if (c.rateBps) parts.push(`rate ${formatRate(c.rateBps)}${c.queueLimit !== undefined ? ` limit ${c.queueLimit}` : ""}`);
  if (c.queueBytes) parts.push(`queueBytes ${c.queueBytes}`);
  return parts.join(" ");
}

export interface EpairStats {
  /** Frames the end handed to the link. */
  sent: number;
  /** Frames handed to the other end's input. */
  delivered: number;
  /** Frames dropped by the loss condition. */
  lost: number;
  /** Copies made by the duplicate condition. */
  duplicated: number;
  /** Frames that skipped the delay line. */
  reordered: number;
  /** Frames dropped because the rate queue was full. */
  queueDrops: number;
  /** Frames dropped on arrival (other end down, its vnet going away or over its mbuf limit) or flushed. */
  dropped: number;
  /** Frames on the link now (waiting for the rate, or in the delay line). */
  queued: number;
  /** Frames waiting for (or on) the link: the rate queue, and its bytes. */
  backlog: number;
  backlogBytes: number;
}

const STATS: (keyof EpairStats)[] = ["sent", "delivered", "lost", "duplicated", "reordered", "queueDrops", "dropped", "queued", "backlog", "backlogBytes"];
const CONDITIONS: (keyof LinkConditions)[] = ["delayUs", "jitterUs", "loss", "duplicate", "reorder", "rateBps", "queueLimit", "queueBytes"];
const MAX_DELAY_US = 0x7fffffff;
const MAX_RATE = 1e12;
const QLIMIT_DEFAULT = 1000;
const QLIMIT_MAX = 1_000_000;

function exportsOf(kernel: Kernel): EpairExports {
  checkKernel(kernel, "epair");
  return kernel.module<EpairExports>("if_epair");
}

/** The interface's pointer, checked: alive, and an epair end. */
function endOf(kernel: Kernel, iface: Interface, what: string): number {
  checkInterface(kernel, iface, what);
  if (exportsOf(kernel).epair_peer(iface.ptr) === 0) throw new ConfigError(`${what}: ${iface.name} is not an epair end`);
  return iface.ptr;
}

function integer(what: string, field: string, v: unknown, min: number, max: number, unit: string): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new ConfigError(`${what}: ${field} must be an integer from ${min} to ${max}${unit}, got ${show(v)}`);
  }
  return v;
}

function probability(what: string, field: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0 || v > 1) {
    throw new ConfigError(`${what}: ${field} must be a probability from 0 to 1, got ${show(v)}`);
  }
  return v;
}

/**
 * Set the link conditions of the frames `iface` (an epair end) sends. Replaces every
 * condition of that direction; frames already on the link keep their times.
 */
export function epairConditions(kernel: Kernel, iface: Interface, c: LinkConditions): void {
  const what = `epair conditions ${iface instanceof Interface && iface.alive ? iface.name : "?"}`;
  if (c === null || typeof c !== "object") throw new ConfigError(`${what}: conditions must be an object, got ${show(c)}`);
  for (const key of Object.keys(c)) {
    if (!(CONDITIONS as string[]).includes(key)) throw new ConfigError(`${what}: unknown condition "${key}" (known: ${CONDITIONS.join(", ")})`);
  }
  const delayUs = integer(what, "delayUs", c.delayUs ?? 0, 0, MAX_DELAY_US, " microseconds");
  const jitterUs = integer(what, "jitterUs", c.jitterUs ?? 0, 0, MAX_DELAY_US, " microseconds");
  const loss = probability(what, "loss", c.loss ?? 0);
  const duplicate = probability(what, "duplicate", c.duplicate ?? 0);
  const reorder = probability(what, "reorder", c.reorder ?? 0);
  const rateBps = integer(what, "rateBps", c.rateBps ?? 0, 0, MAX_RATE, " bit/s (0 = no limit)");
  const queueLimit = integer(what, "queueLimit", c.queueLimit ?? QLIMIT_DEFAULT, 1, QLIMIT_MAX, " frames");
  const queueBytes = integer(what, "queueBytes", c.queueBytes ?? 0, 0, 0xffffffff, " bytes (0 = no limit)");
  if (reorder > 0 && delayUs === 0) {
    throw new ConfigError(`${what}: reorder needs delayUs > 0 (a frame can only overtake frames that are delayed)`);
  }
  const ifp = endOf(kernel, iface, what);
  const x = exportsOf(kernel);
  const r = kernel.enter(() => x.epair_set_conditions(ifp, delayUs, jitterUs, loss, duplicate, reorder, rateBps, queueLimit, queueBytes));
  if (r !== 0) throw new KernelError(what, r);
}

/** No conditions on the frames `iface` sends (frames already on the link still arrive on time). */
export function clearConditions(kernel: Kernel, iface: Interface): void {
  const what = `epair clear conditions ${iface instanceof Interface && iface.alive ? iface.name : "?"}`;
  const ifp = endOf(kernel, iface, what);
  const x = exportsOf(kernel);
  const r = kernel.enter(() => x.epair_clear_conditions(ifp));
  if (r !== 0) throw new KernelError(what, r);
}

/**
 * The random draws of the frames `iface` sends (loss, duplicate, jitter, reorder) come from
 * the direction's own stream, seeded with `seed` (0 .. 2^32-1), instead of the kernel's
 * per-vnet random numbers: what a link cut between kernels draws the same way
 * (host/scale/xlink.ts linkRandom).
 */
export function epairRng(kernel: Kernel, iface: Interface, seed: number): void {
  const what = `epair rng ${iface instanceof Interface && iface.alive ? iface.name : "?"}`;
  integer(what, "seed", seed, 0, 0xffffffff, "");
  const ifp = endOf(kernel, iface, what);
  const x = exportsOf(kernel);
  const r = kernel.enter(() => x.epair_set_rng(ifp, seed));
  if (r !== 0) throw new KernelError(what, r);
}

/** The conditions in force on the frames `iface` sends (every field filled in). */
export function getConditions(kernel: Kernel, iface: Interface): Required<LinkConditions> {
  const ifp = endOf(kernel, iface, "epair conditions");
  const x = exportsOf(kernel);
  const out = {} as Required<LinkConditions>;
  CONDITIONS.forEach((name, i) => (out[name] = x.epair_condition(ifp, i)));
  // Probabilities are kept as fractions of 2^32: give back the value that was set.
  for (const p of ["loss", "duplicate", "reorder"] as const) out[p] = Math.round(out[p] * 1e9) / 1e9;
  return out;
}

/** Counters of the direction `iface` sends on. */
export function epairStats(kernel: Kernel, iface: Interface): EpairStats {
  const ifp = endOf(kernel, iface, "epair stats");
  const x = exportsOf(kernel);
  const out = {} as EpairStats;
  STATS.forEach((name, i) => (out[name] = x.epair_stat(ifp, i)));
  return out;
}

/** The other end of the pair `iface` belongs to. */
export function epairPeer(kernel: Kernel, iface: Interface): Interface {
  const ifp = endOf(kernel, iface, "epair peer");
  return new Interface(kernel, exportsOf(kernel).epair_peer(ifp));
}

/** Pairs alive in the kernel (any vnet). */
export function epairCount(kernel: Kernel): number {
  return exportsOf(kernel).epair_pairs();
}
