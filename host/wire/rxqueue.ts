// The receive queue of a host port (host/node/vxlan.ts): datagrams read from the host's
// socket wait here for the kernel, and when they come faster than the kernel takes them
// this queue drops them, counted, instead of the OS socket dropping them blind.
//
// Fair under overload, as fq_codel's flow queues: sources (outer address and port) hash
// into BUCKETS FIFOs served round robin, one datagram per visit, so a source that floods
// gets one share like any other and a quiet one (a TCP client) is served within a round.
// When the queue holds `limit` datagrams, the oldest datagram of the longest FIFO goes: the
// flooding source pays for its own excess. A Linux vxlan device sends each inner flow from
// its own UDP source port (RFC 7348 5: a hash of the inner headers), so the outer source
// separates flows too, not only peers.
//
// No allocation per datagram: slots are a fixed pool of `limit` entries linked by index.
// Platform-neutral: no Node built-in.

/** Number of per-source FIFOs (a power of two). */
export const RXQ_BUCKETS = 64;

/** A small, fast hash of a source (address text, port) to a bucket. Not secret: fairness only. */
export function rxqBucket(address: string, port: number): number {
  let h = (port * 0x9e3779b1) >>> 0;
  for (let i = 0; i < address.length; i++) h = Math.imul(h ^ address.charCodeAt(i), 0x01000193) >>> 0;
  return (h ^ (h >>> 16)) & (RXQ_BUCKETS - 1);
}

export class RxQueue {
  /** Datagrams dropped because the queue was full. */
  drops = 0;
  /** Datagrams waiting now, and the most that ever waited; bytes waiting now. */
  length = 0;
  peak = 0;
  bytes = 0;
  private readonly bufs: (Uint8Array | undefined)[];
  private readonly next: Int32Array; // slot -> next slot in its FIFO or the free list, -1 = end
  private free = 0;
  private readonly head = new Int32Array(RXQ_BUCKETS).fill(-1);
  private readonly tail = new Int32Array(RXQ_BUCKETS).fill(-1);
  private readonly count = new Int32Array(RXQ_BUCKETS);
  // Round robin of the non-empty buckets: a circular list of bucket numbers.
  private readonly rr = new Int32Array(RXQ_BUCKETS);
  private rrHead = 0;
  private rrLen = 0;

  /**
   * @param limit most datagrams held; the next one drops the oldest of the longest FIFO.
   * @param byteLimit most bytes held, the same way (a datagram larger than this is dropped).
   * @param fair false: one FIFO for every source with tail drop (what the OS socket does);
   *             only for tests that prove the fair queue is what keeps a quiet source served.
   */
  constructor(readonly limit: number, readonly byteLimit: number, private readonly fair = true) {
    if (!(Number.isInteger(limit) && limit >= 1)) throw new RangeError(`RxQueue: limit must be an integer >= 1, got ${limit}`);
    this.bufs = new Array(limit).fill(undefined);
    this.next = new Int32Array(limit);
    for (let i = 0; i < limit; i++) this.next[i] = i + 1 < limit ? i + 1 : -1;
  }

  /** Queue a datagram from bucket b (rxqBucket). The queue keeps the view until shift() returns it. */
  push(b: number, buf: Uint8Array): void {
    if (!this.fair) b = 0;
    if (buf.length > this.byteLimit) {
      this.drops++;
      return;
    }
    while (this.length >= this.limit || this.bytes + buf.length > this.byteLimit) {
      if (!this.fair) {
        this.drops++;
        return;
      }
      // The longest FIFO loses its oldest datagram (the arriving one's own FIFO if that is longest).
      let fat = b;
      for (let i = 0; i < RXQ_BUCKETS; i++) if (this.count[i] > this.count[fat]) fat = i;
      this.drops++;
      this.freeSlot(this.popHead(fat));
      if (this.count[fat] === 0) this.rrRemove(fat);
    }
    const s = this.free;
    this.free = this.next[s];
    this.bufs[s] = buf;
    this.bytes += buf.length;
    this.next[s] = -1;
    if (this.tail[b] >= 0) this.next[this.tail[b]] = s;
    else this.head[b] = s;
    this.tail[b] = s;
    if (this.count[b]++ === 0) this.rr[(this.rrHead + this.rrLen++) % RXQ_BUCKETS] = b;
    if (++this.length > this.peak) this.peak = this.length;
  }

  /** The next datagram in round-robin order over the sources, or undefined when empty. */
  shift(): Uint8Array | undefined {
    if (this.rrLen === 0) return undefined;
    const b = this.rr[this.rrHead];
    this.rrHead = (this.rrHead + 1) % RXQ_BUCKETS;
    this.rrLen--;
    const s = this.popHead(b);
    const buf = this.bufs[s];
    this.freeSlot(s);
    if (this.count[b] > 0) this.rr[(this.rrHead + this.rrLen++) % RXQ_BUCKETS] = b;
    return buf;
  }

  /** Size of the next datagram shift() returns, or -1 when empty. */
  peekLength(): number {
    if (this.rrLen === 0) return -1;
    return this.bufs[this.head[this.rr[this.rrHead]]]!.length;
  }

  /** Drop everything held (not counted as drops: the port is closing). */
  clear(): void {
    while (this.shift() !== undefined);
  }

  private popHead(b: number): number {
    const s = this.head[b];
    this.bytes -= this.bufs[s]!.length;
    this.head[b] = this.next[s];
    if (this.head[b] < 0) this.tail[b] = -1;
    this.count[b]--;
    this.length--;
    return s;
  }

  private freeSlot(s: number): void {
    this.bufs[s] = undefined;
    this.next[s] = this.free;
    this.free = s;
  }

  private rrRemove(b: number): void {
    for (let i = 0; i < this.rrLen; i++) {
      const at = (this.rrHead + i) % RXQ_BUCKETS;
      if (this.rr[at] !== b) continue;
      for (let j = i; j + 1 < this.rrLen; j++) this.rr[(this.rrHead + j) % RXQ_BUCKETS] = this.rr[(this.rrHead + j + 1) % RXQ_BUCKETS];
      this.rrLen--;
      return;
    }
  }
}
