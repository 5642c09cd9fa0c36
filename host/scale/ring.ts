// A frame ring in a SharedArrayBuffer: one direction of a cross-partition link, written by
// one thread and read by one other (single producer, single consumer). Platform-neutral:
// SharedArrayBuffer and Atomics only, the same in worker_threads and Web Workers.
//
// Layout: a header of Int32 words, then `capacity` bytes of records. A record is
//   0 u32 len   4 u32 0   8 f64 atUs (when the frame reaches the far end, kernel µs)
//   16 data[len], padded to 8
// A record never wraps: when it does not fit before the end, the producer writes a wrap mark
// (len 0xffffffff) and starts again at 0. head (next byte the producer writes) and tail (next
// byte the consumer reads) are byte offsets; one record's worth of slack keeps head == tail
// meaning empty. The producer copies frames in and publishes head once per batch (one
// Atomics.store and, when the consumer sleeps, one notify); the consumer reads every record
// up to that head and publishes tail once. A full ring refuses a frame (counted), never
// overwrites one the consumer has not read.

const H_HEAD = 0;
const H_TAIL = 1;
/** Bumped at every publish: what a sleeping consumer waits on. */
const H_SEQ = 2;
/** 1 while the consumer sleeps in wait(): the producer notifies only then. */
const H_SLEEPING = 3;
const H_PUSHED = 4;
const H_FULL = 5;
const H_POPPED = 6;
const H_CLOSED = 7;
const HEADER_WORDS = 8;
const HEADER_BYTES = HEADER_WORDS * 4;
const REC_HDR = 16;
const WRAP = 0xffffffff;

export const RING_DEFAULT_BYTES = 1 << 20;

const pad8 = (n: number) => (n + 7) & ~7;

export interface RingStats {
  pushed: number;
  /** Frames refused because the ring was full. */
  full: number;
  popped: number;
}

export class FrameRing {
  readonly capacity: number;
  private readonly hdr: Int32Array;
  private readonly bytes: Uint8Array;
  private readonly view: DataView;
  /** Producer: head not yet published. */
  private head: number;
  /** Consumer: tail not yet published. */
  private tail: number;

  /** A new ring's memory: capacity bytes of records (a multiple of 8, at least 4 KiB). */
  static create(capacity = RING_DEFAULT_BYTES): SharedArrayBuffer {
    if (!Number.isInteger(capacity) || capacity < 4096 || capacity % 8 !== 0) throw new RangeError(`FrameRing: capacity must be a multiple of 8 of at least 4096 bytes, got ${capacity}`);
    return new SharedArrayBuffer(HEADER_BYTES + capacity);
  }

  constructor(readonly sab: SharedArrayBuffer) {
    this.capacity = sab.byteLength - HEADER_BYTES;
    this.hdr = new Int32Array(sab, 0, HEADER_WORDS);
    this.bytes = new Uint8Array(sab, HEADER_BYTES, this.capacity);
    this.view = new DataView(sab, HEADER_BYTES, this.capacity);
    this.head = Atomics.load(this.hdr, H_HEAD);
    this.tail = Atomics.load(this.hdr, H_TAIL);
  }

  /** The largest frame the ring takes (a record may use at most half of it). */
  get maxFrame(): number {
    return this.capacity / 2 - REC_HDR;
  }

  // ---- producer

  /** Copy one frame in (not visible to the consumer until publish()). False when full. */
  push(frame: Uint8Array, atUs: number): boolean {
    const need = REC_HDR + pad8(frame.length);
    if (frame.length > this.maxFrame) {
      Atomics.add(this.hdr, H_FULL, 1);
      return false;
    }
    const tail = Atomics.load(this.hdr, H_TAIL);
    let head = this.head;
    // head == tail means empty, so a write may never make them meet.
    let fits: boolean;
    if (head >= tail) {
      if (head + need < this.capacity || (head + need === this.capacity && tail !== 0)) fits = true;
      else if (need < tail) {
        this.view.setUint32(head, WRAP, true); // head < capacity and 8-aligned: the mark fits
        head = 0;
        fits = true;
      } else fits = false;
    } else fits = head + need < tail;
    if (!fits) {
      Atomics.add(this.hdr, H_FULL, 1);
      return false;
    }
    this.view.setUint32(head, frame.length, true);
    this.view.setUint32(head + 4, 0, true);
    this.view.setFloat64(head + 8, atUs, true);
    this.bytes.set(frame, head + REC_HDR);
    this.head = head + need === this.capacity ? 0 : head + need;
    Atomics.add(this.hdr, H_PUSHED, 1);
    return true;
  }

  /** Make what was pushed visible; wake the consumer if it sleeps. */
  publish(): void {
    if (Atomics.load(this.hdr, H_HEAD) === this.head) return;
    Atomics.store(this.hdr, H_HEAD, this.head);
    Atomics.add(this.hdr, H_SEQ, 1);
    if (Atomics.load(this.hdr, H_SLEEPING)) Atomics.notify(this.hdr, H_SEQ);
  }

  // ---- consumer

  /** Records published and not read yet. */
  pending(): boolean {
    return Atomics.load(this.hdr, H_HEAD) !== this.tail;
  }

  /**
   * Read every published record (at most max): fn gets a view of the frame in the ring
   * (valid only during the call: copy what you keep) and its arrival time. Returns frames read.
   */
  pop(fn: (frame: Uint8Array, atUs: number) => void, max = Infinity): number {
    const head = Atomics.load(this.hdr, H_HEAD);
    let tail = this.tail;
    let n = 0;
    while (tail !== head && n < max) {
      if (this.view.getUint32(tail, true) === WRAP) {
        tail = 0;
        continue;
      }
      const len = this.view.getUint32(tail, true);
      const at = this.view.getFloat64(tail + 8, true);
      fn(this.bytes.subarray(tail + REC_HDR, tail + REC_HDR + len), at);
      tail += REC_HDR + pad8(len);
      if (tail === this.capacity) tail = 0;
      n++;
    }
    this.tail = tail;
    Atomics.store(this.hdr, H_TAIL, tail);
    if (n) Atomics.add(this.hdr, H_POPPED, n);
    return n;
  }

  /** The sequence a consumer passes to wait()/waitAsync() (read it before checking pending()). */
  seq(): number {
    return Atomics.load(this.hdr, H_SEQ);
  }

  /**
   * Resolve when the producer publishes after `seq` (or timeoutMs passes, or the ring is
   * closed): Atomics.waitAsync, so the consumer's event loop goes on meanwhile.
   */
  async waitAsync(seq: number, timeoutMs: number): Promise<void> {
    Atomics.store(this.hdr, H_SLEEPING, 1);
    try {
      const w = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number, t: number): { async: boolean; value: Promise<string> | string } }).waitAsync(this.hdr, H_SEQ, seq, timeoutMs);
      if (w.async) await w.value;
    } finally {
      Atomics.store(this.hdr, H_SLEEPING, 0);
    }
  }

  /** wait() blocking the thread (a worker with nothing else to do; never a page's main thread). */
  wait(seq: number, timeoutMs: number): void {
    Atomics.store(this.hdr, H_SLEEPING, 1);
    Atomics.wait(this.hdr, H_SEQ, seq, timeoutMs);
    Atomics.store(this.hdr, H_SLEEPING, 0);
  }

  /** Either side: no more frames (a consumer waiting wakes). */
  close(): void {
    Atomics.store(this.hdr, H_CLOSED, 1);
    Atomics.add(this.hdr, H_SEQ, 1);
    Atomics.notify(this.hdr, H_SEQ);
  }

  get closed(): boolean {
    return Atomics.load(this.hdr, H_CLOSED) === 1;
  }

  stats(): RingStats {
    return { pushed: Atomics.load(this.hdr, H_PUSHED), full: Atomics.load(this.hdr, H_FULL), popped: Atomics.load(this.hdr, H_POPPED) };
  }
}
