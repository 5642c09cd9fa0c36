// Packet capture, host side: parse the records the kernel's capture tap leaves in a byte
// range of its memory, turn them into frames with wall-clock timestamps, and hand them to
// async iterators, Web Streams and pcap/pcapng sinks as they arrive. The record layout is a
// contract with the kernel (docs/capture.md); a record that breaks it is a kernel bug and
// throws. Platform-neutral: a capture to a path opens it through the platform's openFile.

import { WavnetError, ConfigError } from "../lib/errors.js";
import { show } from "../lib/format.js";
import { platform, unsupported, type ByteSink } from "../lib/platform.js";
import { PcapWriter, PcapngWriter, LINKTYPE_ETHERNET, MAX_SNAPLEN, type PcapPacket } from "./pcap.js";

// ---------------------------------------------------------------------------------------
// Ring records

/** Ring record layout (little-endian), shared with the kernel's tap. */
export const REC = {
  RECLEN: 0, // u32: RECORD_HDR_LEN + caplen rounded up to a multiple of 8
  CAPLEN: 4, // u32: bytes of frame data that follow the header
  ORIGLEN: 8, // u32: frame length on the wire
  DIR: 12, // u16: DIR_IN or DIR_OUT
  RESERVED: 14, // u16: 0
  TS: 16, // u64: kernel time, µs since boot
  DATA: 24,
} as const;
export const RECORD_HDR_LEN = 24;
export const RECORD_ALIGN = 8;
export const DIR_IN = 1;
export const DIR_OUT = 2;

/** One record as parsed; `data` is a view into the input and is only valid until the ring is reused. */
export interface RingRecord {
  /** Offset of the record in the parsed range. */
  offset: number;
  caplen: number;
  origLen: number;
  dir: "in" | "out";
  /** Kernel time, µs since boot. */
  tsUs: number;
  data: Uint8Array;
}

/** A record in the ring breaks the contract: a kernel bug. Names the offset and the field. */
export class CaptureRecordError extends WavnetError {
  constructor(
    /** Offset of the record (plus `base`, if the caller gave one). */
    readonly offset: number,
    /** The field that is wrong: reclen, caplen, origlen, dir, reserved, ts. */
    readonly field: string,
    detail: string,
  ) {
    super(`capture ring: bad record at offset ${offset}: ${field} ${detail}`);
  }
}

export interface ParseOptions {
  /** Added to offsets in errors, e.g. the ring's address in kernel memory. */
  base?: number;
  /** If given, a caplen above it is an error (the tap must honour the snaplen). */
  snaplen?: number;
}

const roundUp8 = (n: number) => Math.ceil(n / RECORD_ALIGN) * RECORD_ALIGN;

/**
 * Walk the records laid back to back in `bytes`, checking every field, and yield each.
 * The records must tile the range exactly. Throws CaptureRecordError on the first bad one
 * (records before it have been yielded).
 */
export function* ringRecords(bytes: Uint8Array, opts: ParseOptions = {}): Generator<RingRecord> {
  const base = opts.base ?? 0;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.byteLength;
  let at = 0;
  while (at < n) {
    const bad = (field: string, detail: string) => new CaptureRecordError(base + at, field, detail);
    const left = n - at;
    if (left < RECORD_HDR_LEN) throw bad("reclen", `unreadable: only ${left} bytes left in the range, a header is ${RECORD_HDR_LEN}`);
    const reclen = dv.getUint32(at + REC.RECLEN, true);
    const caplen = dv.getUint32(at + REC.CAPLEN, true);
    const origlen = dv.getUint32(at + REC.ORIGLEN, true);
    const dir = dv.getUint16(at + REC.DIR, true);
    const reserved = dv.getUint16(at + REC.RESERVED, true);
    const ts = dv.getBigUint64(at + REC.TS, true);
    if (reclen < RECORD_HDR_LEN) throw bad("reclen", `${reclen} is less than the ${RECORD_HDR_LEN}-byte header`);
    if (reclen % RECORD_ALIGN !== 0) throw bad("reclen", `${reclen} is not a multiple of ${RECORD_ALIGN}`);
    if (reclen > left) throw bad("reclen", `${reclen} runs past the end of the range (${left} bytes left)`);
    if (caplen > reclen - RECORD_HDR_LEN) throw bad("caplen", `${caplen} does not fit in reclen ${reclen} (at most ${reclen - RECORD_HDR_LEN})`);
    if (reclen !== roundUp8(RECORD_HDR_LEN + caplen)) throw bad("reclen", `${reclen} is not ${RECORD_HDR_LEN} + caplen ${caplen} rounded up to ${RECORD_ALIGN} (${roundUp8(RECORD_HDR_LEN + caplen)})`);
    if (caplen > origlen) throw bad("caplen", `${caplen} is more than origlen ${origlen}`);
    if (opts.snaplen !== undefined && caplen > opts.snaplen) throw bad("caplen", `${caplen} is more than the snaplen ${opts.snaplen}`);
    if (dir !== DIR_IN && dir !== DIR_OUT) throw bad("dir", `${dir} is neither ${DIR_IN} (in) nor ${DIR_OUT} (out)`);
    if (reserved !== 0) throw bad("reserved", `${reserved} is not 0`);
    if (ts > BigInt(Number.MAX_SAFE_INTEGER)) throw bad("ts", `${ts} µs is beyond 2^53 (not a plausible time since boot)`);
    yield {
      offset: base + at,
      caplen,
      origLen: origlen,
      dir: dir === DIR_IN ? "in" : "out",
      tsUs: Number(ts),
      data: bytes.subarray(at + REC.DATA, at + REC.DATA + caplen),
    };
    at += reclen;
  }
}

/** Call `onRecord` for every record in `bytes` (see ringRecords); returns how many there were. */
export function parseRecords(bytes: Uint8Array, onRecord: (r: RingRecord) => void, opts: ParseOptions = {}): number {
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`parseRecords: expected ring bytes (a Uint8Array), got ${show(bytes)}`);
  if (typeof onRecord !== "function") throw new TypeError(`parseRecords: onRecord must be a function, got ${show(onRecord)}`);
  let count = 0;
  for (const r of ringRecords(bytes, opts)) {
    onRecord(r);
    count++;
  }
  return count;
}

/** Encode records in the ring layout: the kernel's side of the contract, for tests and tools. */
export function encodeRecords(recs: { data: Uint8Array; origLen?: number; dir: "in" | "out"; tsUs: number }[]): Uint8Array {
  const total = recs.reduce((n, r) => n + roundUp8(RECORD_HDR_LEN + r.data.length), 0);
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  let at = 0;
  for (const r of recs) {
    const reclen = roundUp8(RECORD_HDR_LEN + r.data.length);
    dv.setUint32(at + REC.RECLEN, reclen, true);
    dv.setUint32(at + REC.CAPLEN, r.data.length, true);
    dv.setUint32(at + REC.ORIGLEN, r.origLen ?? r.data.length, true);
    dv.setUint16(at + REC.DIR, r.dir === "in" ? DIR_IN : DIR_OUT, true);
    dv.setBigUint64(at + REC.TS, BigInt(r.tsUs), true);
    out.set(r.data, at + REC.DATA);
    at += reclen;
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Frames and captures

/** A captured frame, with its data copied out of kernel memory. */
export interface Frame extends PcapPacket {
  ifName: string;
  /** Wall clock: epochUs + kernelTsUs. */
  tsUs: number;
  /** Kernel time of the tap, µs since boot. */
  kernelTsUs: number;
  dir: "in" | "out";
  data: Uint8Array;
  origLen: number;
}

export interface CaptureOptions {
  /** Interface name as the user knows it; becomes the pcapng if_name. */
  ifName: string;
  /** pcapng if_description (e.g. "vnet a, epair0a"). */
  description?: string;
  /** LINKTYPE_* of the frames (default LINKTYPE_ETHERNET). */
  linktype?: number;
  /** Longest frame the tap copies (default 262144). */
  snaplen?: number;
  /** µs added to kernel time to get wall-clock µs since the epoch (default 0). */
  epochUs?: number;
  /** Frames an iterator may have waiting before new ones are dropped for it (default 65536). */
  queueLimit?: number;
}

export interface StopOptions {
  /** Kernel time at stop, for the pcapng statistics block (default: last frame's time). */
  kernelNowUs?: number;
}

interface SinkLink {
  write(f: Frame): void;
  /** Capture stopped: write its statistics, and close the sink if the capture owns it. */
  stop(c: Capture, tsUs: number): Promise<void>;
}

interface Subscriber {
  queue: Frame[];
  wake: (() => void) | null;
}

/**
 * One interface's capture. The kernel side drains its ring into `ingest()`; frames then go
 * to every async iterator and every sink. Counters: `frames`, `bytes` (on the wire),
 * `capturedBytes`, `drops` (set from the kernel's own count), `queueDrops` (frames a slow
 * iterator did not take in time).
 *
 * An iterator sees frames ingested after it was created; `for await` creates it at once.
 */
export class Capture implements AsyncIterable<Frame> {
  readonly ifName: string;
  readonly description: string;
  readonly linktype: number;
  readonly snaplen: number;
  readonly epochUs: number;
  readonly queueLimit: number;
  frames = 0;
  bytes = 0;
  capturedBytes = 0;
  /** Frames the kernel tap could not record (ring full); the kernel wiring sets this. */
  drops = 0;
  queueDrops = 0;
  #lastFrameUs: number | undefined;
  private readonly subs = new Set<Subscriber>();
  private readonly sinks: SinkLink[] = [];
  private stopping: Promise<void> | undefined;

  constructor(opts: CaptureOptions) {
    this.ifName = opts.ifName;
    this.description = opts.description ?? "";
    this.linktype = opts.linktype ?? LINKTYPE_ETHERNET;
    this.snaplen = opts.snaplen ?? MAX_SNAPLEN;
    this.epochUs = opts.epochUs ?? 0;
    this.queueLimit = opts.queueLimit ?? 65536;
    if (!Number.isSafeInteger(this.epochUs) || this.epochUs < 0) {
      throw new RangeError(`capture ${this.ifName}: epochUs ${show(this.epochUs)} is not a non-negative integer of µs`);
    }
    if (!Number.isInteger(this.snaplen) || this.snaplen < 1 || this.snaplen > MAX_SNAPLEN) throw new RangeError(`capture ${this.ifName}: snaplen must be an integer from 1 to ${MAX_SNAPLEN}, got ${show(this.snaplen)}`);
    if (!Number.isInteger(this.linktype) || this.linktype < 0 || this.linktype > 0xffffffff) throw new RangeError(`capture ${this.ifName}: linktype must be a LINKTYPE_ number, got ${show(this.linktype)}`);
    if (!Number.isInteger(this.queueLimit) || this.queueLimit < 1) throw new RangeError(`capture ${this.ifName}: queueLimit must be an integer >= 1, got ${show(this.queueLimit)}`);
  }

  /** Wall-clock time of the last frame ingested. */
  get lastFrameUs(): number | undefined {
    return this.#lastFrameUs;
  }

  get stopped(): boolean {
    return this.stopping !== undefined;
  }

  /**
   * Parse ring records and deliver their frames. The whole range is checked before any
   * frame is delivered, so a bad record delivers nothing and throws CaptureRecordError.
   * Returns the number of frames.
   */
  ingest(bytes: Uint8Array, opts: { base?: number } = {}): number {
    if (this.stopped) throw new WavnetError(`capture ${this.ifName}: ingest after stop`);
    const recs = [...ringRecords(bytes, { base: opts.base, snaplen: this.snaplen })];
    for (const r of recs) {
      const f: Frame = {
        ifName: this.ifName,
        tsUs: this.epochUs + r.tsUs,
        kernelTsUs: r.tsUs,
        dir: r.dir,
        data: r.data.slice(), // out of kernel memory: the ring will be reused
        origLen: r.origLen,
      };
      this.deliver(f);
    }
    return recs.length;
  }

  private deliver(f: Frame): void {
    this.frames++;
    this.bytes += f.origLen;
    this.capturedBytes += f.data.length;
    this.#lastFrameUs = f.tsUs;
    for (const s of this.sinks) s.write(f);
    for (const sub of this.subs) {
      if (sub.queue.length >= this.queueLimit) {
        this.queueDrops++;
        continue;
      }
      sub.queue.push(f);
      const w = sub.wake;
      sub.wake = null;
      w?.();
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<Frame> {
    const sub: Subscriber = { queue: [], wake: null };
    if (!this.stopped) this.subs.add(sub);
    const next = async (): Promise<IteratorResult<Frame>> => {
      for (;;) {
        const f = sub.queue.shift();
        if (f) return { value: f, done: false };
        if (!this.subs.has(sub)) return { value: undefined, done: true };
        await new Promise<void>((resolve) => (sub.wake = resolve));
      }
    };
    return {
      next,
      return: async () => {
        this.subs.delete(sub);
        sub.queue.length = 0;
        return { value: undefined, done: true };
      },
    };
  }

  /**
   * Write frames, as they arrive, to a classic pcap file (a path, opened with the platform's
   * openFile: Node only) or a ByteSink (a Node Writable, toByteSink(WritableStream)).
   * stop() ends the sink unless `end: false`, and rejects with an error the sink reported.
   */
  toPcap(dest: string | ByteSink, opts: { end?: boolean } = {}): this {
    this.checkLive("toPcap");
    const d = openDest(dest, opts.end);
    const w = new PcapWriter({ linktype: this.linktype, snaplen: this.snaplen, out: d.out });
    w.start();
    this.sinks.push({
      write: (f) => void w.write(f),
      stop: () => w.end({ endStream: d.end }),
    });
    return this;
  }

  /**
   * Write frames, as they arrive, to a pcapng file (path) or ByteSink of its own, or to a
   * shared PcapngSink (one IDB per attached capture). A sink of its own closes at stop();
   * a shared one stays open for its owner to close.
   */
  toPcapng(dest: string | ByteSink | PcapngSink, opts: { end?: boolean } = {}): this {
    this.checkLive("toPcapng");
    const own = !(dest instanceof PcapngSink);
    const sink = dest instanceof PcapngSink ? dest : new PcapngSink(dest, opts);
    const ifId = sink.attach(this);
    this.sinks.push({
      write: (f) => sink.write(ifId, f),
      stop: async (c, tsUs) => {
        sink.detach(ifId, c, tsUs);
        if (own) await sink.close();
      },
    });
    return this;
  }

  /**
   * A Web Streams view (browsers, or any code that prefers streams to `for await`): with no
   * argument, the frames from now on, closed at stop(); with "pcap" or "pcapng", the bytes
   * of a capture file written as frames arrive (the file's header at once), closed at stop()
   * (e.g. `new Response(cap.readable("pcapng")).blob()`). Frames wait for the reader in the
   * capture's queue (queueLimit, as an iterator's do); file bytes wait in the stream's queue.
   * Cancelling the stream stops the view, not the capture.
   */
  readable(): ReadableStream<Frame>;
  readable(format: "pcap" | "pcapng"): ReadableStream<Uint8Array>;
  readable(format?: "pcap" | "pcapng"): ReadableStream<Frame> | ReadableStream<Uint8Array> {
    if (format === undefined) {
      const it = this[Symbol.asyncIterator]();
      return new ReadableStream<Frame>(
        {
          async pull(c) {
            const r = await it.next();
            if (r.done) c.close();
            else c.enqueue(r.value);
          },
          async cancel() {
            await it.return?.();
          },
        },
        { highWaterMark: 0 }, // nothing is pulled ahead: frames stay in the capture's queue
      );
    }
    if (format !== "pcap" && format !== "pcapng") throw new RangeError(`capture ${this.ifName}: readable(${String(format)}): the format is "pcap" or "pcapng"`);
    const { sink, readable } = byteStream();
    if (format === "pcap") this.toPcap(sink);
    else this.toPcapng(sink);
    return readable;
  }

  /** End every iterator (after it has taken what is queued) and flush and close own sinks. */
  stop(opts: StopOptions = {}): Promise<void> {
    if (this.stopping) return this.stopping;
    const tsUs = opts.kernelNowUs !== undefined ? this.epochUs + opts.kernelNowUs : (this.#lastFrameUs ?? this.epochUs);
    for (const sub of this.subs) {
      const w = sub.wake;
      sub.wake = null;
      w?.();
    }
    this.subs.clear();
    this.stopping = (async () => {
      const errors: unknown[] = [];
      for (const s of this.sinks) {
        try {
          await s.stop(this, tsUs);
        } catch (e) {
          errors.push(e);
        }
      }
      if (errors.length) throw errors[0];
    })();
    return this.stopping;
  }

  private checkLive(what: string): void {
    if (this.stopped) throw new WavnetError(`capture ${this.ifName}: ${what} after stop`);
  }
}

/**
 * One pcapng file that several captures write into, each with its own interface (IDB).
 * Create it, pass it to `capture.toPcapng(sink)` for each capture, and `close()` it when
 * done; captures still attached then get their statistics block written.
 */
export class PcapngSink {
  private readonly dest: Dest;
  private readonly w: PcapngWriter;
  private readonly attached = new Map<number, Capture>();
  private closing: Promise<void> | undefined;

  /** `dest`: a path (opened with the platform's openFile: Node only) or a ByteSink. */
  constructor(dest: string | ByteSink, opts: { end?: boolean; userAppl?: string } = {}) {
    this.dest = openDest(dest, opts.end);
    this.w = new PcapngWriter({ out: this.dest.out, userAppl: opts.userAppl });
    this.w.start();
  }

  /** Add an IDB for `c` and return its interface id. */
  attach(c: Capture): number {
    if (this.closing) throw new WavnetError(`pcapng sink: capture ${c.ifName} attached after close`);
    const id = this.w.addInterface({ name: c.ifName, description: c.description, linktype: c.linktype, snaplen: c.snaplen });
    this.attached.set(id, c);
    return id;
  }

  write(ifId: number, f: Frame): void {
    if (!this.attached.has(ifId)) return; // detached by close(): the file is finished
    this.w.write(ifId, f);
  }

  /** Write the capture's statistics block (frames seen and dropped) and stop taking its frames. */
  detach(ifId: number, c: Capture, tsUs: number): void {
    if (this.attached.get(ifId) !== c) return;
    this.attached.delete(ifId);
    this.w.writeStatistics(ifId, { tsUs, ifRecv: c.frames + c.drops, ifDrop: c.drops });
  }

  /** Detach every capture still attached, flush, and end the sink; rejects with an error the sink reported. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    for (const [id, c] of [...this.attached]) this.detach(id, c, c.lastFrameUs ?? c.epochUs);
    this.closing = this.w.end({ endStream: this.dest.end });
    return this.closing;
  }
}

/**
 * Where a capture file goes. Errors the sink reports are kept by the writer (an unhandled
 * Node 'error' event would kill the process) and rethrown by stop()/close().
 */
interface Dest {
  out: ByteSink;
  /** End the sink when the capture stops (false for a sink its caller keeps open, e.g. Node's stdout). */
  end: boolean;
}

function openDest(dest: string | ByteSink, end: boolean | undefined): Dest {
  let out: ByteSink;
  if (typeof dest === "string") {
    const open = platform().openFile;
    if (!open) throw unsupported("a capture to a file");
    out = open(dest);
  } else if (dest !== null && typeof dest === "object" && typeof dest.write === "function" && typeof dest.end === "function") {
    out = dest;
  } else {
    throw new ConfigError(`capture: a destination is a file path or a ByteSink (write(bytes), end()), got ${show(dest)}`);
  }
  return { out, end: end ?? true };
}

/** A ByteSink whose bytes come out of a ReadableStream; ending the sink closes the stream. */
function byteStream(): { sink: ByteSink; readable: ReadableStream<Uint8Array> } {
  let ctl: ReadableStreamDefaultController<Uint8Array> | undefined;
  let open = true;
  const readable = new ReadableStream<Uint8Array>({
    start: (c) => void (ctl = c), // called at once, by the constructor
    cancel: () => void (open = false), // the reader is gone: later bytes are dropped
  });
  const sink: ByteSink = {
    write(chunk) {
      if (open) ctl!.enqueue(chunk);
      return true;
    },
    end(cb) {
      if (open) ctl!.close();
      open = false;
      cb?.();
    },
  };
  return { sink, readable };
}
