// Capture file formats: classic pcap and pcapng, written little-endian with microsecond
// timestamps, plus minimal strict readers for tests and tools. Field layouts follow the
// specifications (libpcap's pcap-savefile(5) and draft-ietf-opsawg-pcapng); see
// docs/capture.md. The encoders are pure (bytes in, bytes out); `write` sends what they
// produce to a ByteSink (a Node Writable, or toByteSink(WritableStream) in a browser) or
// collects it for `toBuffer()`. Platform-neutral: Uint8Array and DataView, no Node built-in;
// whole-file helpers (writePcapFile, writePcapngFile) are in host/node/pcap_files.ts.

import type { ByteSink } from "../lib/platform.js";
import { show } from "../lib/format.js";

/** Link-layer header types (tcpdump.org/linktypes.html). */
export const LINKTYPE_NULL = 0; // 4-byte address family in the file's byte order, then the packet
export const LINKTYPE_ETHERNET = 1;

/** Address families for a LINKTYPE_NULL header. Wireshark knows every BSD's AF_INET6. */
export const AF_INET = 2;
export const AF_INET6 = 28; // FreeBSD's value

/** Largest snapshot length tcpdump and Wireshark use; also the default here. */
export const MAX_SNAPLEN = 262144;

/** One frame to write. */
export interface PcapPacket {
  /** Wall-clock time, integer microseconds since 1970-01-01 UTC (fits a double exactly). */
  tsUs: number;
  /** The captured bytes (at most snaplen of them are written). */
  data: Uint8Array;
  /** Length of the frame on the wire; default data.length. */
  origLen?: number;
  /** Direction as seen by the interface; pcapng writes it as epb_flags, pcap drops it. */
  dir?: "in" | "out";
}

/** The 4-byte LINKTYPE_NULL header for a little-endian file (loopback frames). */
export function loopbackHeader(af: number): Uint8Array {
  const { b, dv } = alloc(4);
  dv.setUint32(0, af, true);
  return b;
}

// ---------------------------------------------------------------------------------------
// Bytes

/** A zeroed byte array and a DataView over it (the writers set fields little-endian). */
function alloc(n: number): { b: Uint8Array; dv: DataView } {
  const b = new Uint8Array(n);
  return { b, dv: new DataView(b.buffer) };
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

// ---------------------------------------------------------------------------------------
// Shared checks

const US_PER_S = 1_000_000;
const TWO_32 = 4294967296;

function checkTs(tsUs: number): void {
  if (!Number.isSafeInteger(tsUs) || tsUs < 0) {
    throw new RangeError(`packet timestamp ${tsUs} is not a non-negative integer count of microseconds`);
  }
}

function checkSnaplen(snaplen: number): void {
  if (!Number.isInteger(snaplen) || snaplen < 1 || snaplen > 0xffffffff) {
    throw new RangeError(`snaplen ${snaplen} is not an integer in [1, 2^32)`);
  }
}

function checkLinktype(linktype: number, max: number): void {
  if (!Number.isInteger(linktype) || linktype < 0 || linktype > max) {
    throw new RangeError(`linktype ${linktype} is not an integer in [0, ${max}]`);
  }
}

/** Captured length (data truncated to snaplen) and original length of a packet. */
function lengths(p: PcapPacket, snaplen: number): { incl: number; orig: number } {
  const orig = p.origLen ?? p.data.length;
  if (!Number.isInteger(orig) || orig < p.data.length || orig > 0xffffffff) {
    throw new RangeError(`packet origLen ${orig} is less than its ${p.data.length} captured bytes or not a u32`);
  }
  return { incl: Math.min(p.data.length, snaplen), orig };
}

/**
 * Where a writer's bytes go: a sink, or a list of chunks for toBuffer(). The file header
 * goes out once, before anything else (so an empty capture is still a valid file).
 *
 * The first error the sink reports (its 'error' event, or an error given to its end
 * callback) is kept, not thrown where it happens (an unhandled 'error' would kill a Node
 * process): later writes are dropped and end() rejects with it.
 */
class Output {
  private chunks: Uint8Array[] = [];
  private ended = false;
  private started = false;
  private failed: Error | undefined;
  private onFail: (() => void) | undefined;
  constructor(private readonly out: ByteSink | undefined, private readonly what: string, private readonly header: () => Uint8Array) {
    out?.on?.("error", (e: Error) => this.fail(e));
  }

  private fail(e: unknown): void {
    this.failed ??= e instanceof Error ? e : new Error(String(e));
    this.onFail?.();
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.push(this.header());
  }

  push(b: Uint8Array): boolean {
    if (this.ended) throw new Error(`${this.what}: write after end`);
    if (this.out) return this.failed ? false : this.out.write(b) !== false;
    this.chunks.push(b);
    return true;
  }

  toBuffer(): Uint8Array {
    this.start();
    if (this.out) throw new Error(`${this.what}: toBuffer() is for writers without a sink`);
    return concat(this.chunks);
  }

  async end(endSink: boolean): Promise<void> {
    if (!this.ended) {
      this.start();
      this.ended = true;
      const out = this.out;
      if (out && endSink) {
        // Done when the sink says it has finished, or when it reports an error instead.
        await new Promise<void>((resolve) => {
          if (this.failed) resolve();
          else this.onFail = resolve;
          out.end((e?: unknown) => {
            if (e) this.fail(e);
            resolve();
          });
        });
      }
    }
    if (this.failed) throw this.failed;
  }
}

// ---------------------------------------------------------------------------------------
// Classic pcap

/** Magic for microsecond timestamps; a reader learns the byte order from how it reads. */
export const PCAP_MAGIC_US = 0xa1b2c3d4;
export const PCAP_HEADER_LEN = 24;
export const PCAP_RECORD_HEADER_LEN = 16;

export interface PcapWriterOptions {
  /** LINKTYPE_* of every packet in the file (default LINKTYPE_ETHERNET). */
  linktype?: number;
  /** Longest packet written; longer ones are truncated (default 262144). */
  snaplen?: number;
  /** Send the file here as it is written; without it, bytes are kept for toBuffer(). */
  out?: ByteSink;
}

/**
 * A classic pcap file: one linktype, µs timestamps, no direction or interface names.
 * `header()` and `packet()` only encode; `write()` emits the header first, then packets.
 */
export class PcapWriter {
  readonly linktype: number;
  readonly snaplen: number;
  private readonly output: Output;

  constructor(opts: PcapWriterOptions = {}) {
    this.linktype = opts.linktype ?? LINKTYPE_ETHERNET;
    this.snaplen = opts.snaplen ?? MAX_SNAPLEN;
    checkLinktype(this.linktype, 0xffffffff);
    checkSnaplen(this.snaplen);
    this.output = new Output(opts.out, "pcap writer", () => this.header());
  }

  /** The 24-byte global header. */
  header(): Uint8Array {
    const { b, dv } = alloc(PCAP_HEADER_LEN);
    dv.setUint32(0, PCAP_MAGIC_US, true);
    dv.setUint16(4, 2, true); // version 2.4
    dv.setUint16(6, 4, true);
    dv.setInt32(8, 0, true); // thiszone: timestamps are UTC
    dv.setUint32(12, 0, true); // sigfigs
    dv.setUint32(16, this.snaplen, true);
    dv.setUint32(20, this.linktype, true);
    return b;
  }

  /** One record: ts_sec, ts_usec, incl_len, orig_len, then the (truncated) data. */
  packet(p: PcapPacket): Uint8Array {
    checkTs(p.tsUs);
    const sec = Math.floor(p.tsUs / US_PER_S);
    if (sec >= TWO_32) throw new RangeError(`packet timestamp ${p.tsUs} µs is past 2106, beyond pcap's u32 seconds`);
    const { incl, orig } = lengths(p, this.snaplen);
    const { b, dv } = alloc(PCAP_RECORD_HEADER_LEN + incl);
    dv.setUint32(0, sec, true);
    dv.setUint32(4, p.tsUs % US_PER_S, true);
    dv.setUint32(8, incl, true);
    dv.setUint32(12, orig, true);
    b.set(p.data.subarray(0, incl), PCAP_RECORD_HEADER_LEN);
    return b;
  }

  /**
   * Encode and emit a packet (the header goes out before the first one). False when the
   * sink asks the writer to wait (a Node Writable's backpressure) or has failed.
   */
  write(p: PcapPacket): boolean {
    const rec = this.packet(p);
    this.start();
    return this.output.push(rec);
  }

  /** Emit the header if nothing was written yet (so an empty capture is still a valid file). */
  start(): void {
    this.output.start();
  }

  /**
   * Everything written so far, for a writer made without `out`: the file's bytes as one
   * Uint8Array (not Node's byte type, despite the name, which is kept for compatibility).
   */
  toBuffer(): Uint8Array {
    return this.output.toBuffer();
  }

  /**
   * Write the header if needed and end the sink (`endStream: false` leaves it open); resolves
   * when the sink has finished, and rejects with the first error the sink reported.
   */
  async end({ endStream = true }: { endStream?: boolean } = {}): Promise<void> {
    await this.output.end(endStream);
  }
}

// ---------------------------------------------------------------------------------------
// pcapng

export const BT_SHB = 0x0a0d0d0a;
export const BT_IDB = 0x00000001;
export const BT_ISB = 0x00000005;
export const BT_EPB = 0x00000006;
export const BYTE_ORDER_MAGIC = 0x1a2b3c4d;

const OPT_ENDOFOPT = 0;
const OPT_SHB_USERAPPL = 4;
const OPT_IF_NAME = 2;
const OPT_IF_DESCRIPTION = 3;
const OPT_IF_TSRESOL = 9;
const OPT_EPB_FLAGS = 2;
const OPT_ISB_STARTTIME = 2;
const OPT_ISB_ENDTIME = 3;
const OPT_ISB_IFRECV = 4;
const OPT_ISB_IFDROP = 5;
const EPB_FLAG_INBOUND = 1;
const EPB_FLAG_OUTBOUND = 2;

const pad4 = (n: number) => (n + 3) & ~3;

interface Opt {
  code: number;
  value: Uint8Array;
}

function u32Opt(code: number, v: number): Opt {
  const { b, dv } = alloc(4);
  dv.setUint32(0, v, true);
  return { code, value: b };
}

function u64Opt(code: number, v: number): Opt {
  const { b, dv } = alloc(8);
  dv.setBigUint64(0, BigInt(v), true);
  return { code, value: b };
}

/** A pcapng timestamp (two u32, high word first) as an isb_starttime/endtime value. */
function tsOpt(code: number, tsUs: number): Opt {
  checkTs(tsUs);
  const { b, dv } = alloc(8);
  dv.setUint32(0, Math.floor(tsUs / TWO_32), true);
  dv.setUint32(4, tsUs % TWO_32, true);
  return { code, value: b };
}

function strOpt(code: number, s: string): Opt {
  return { code, value: utf8.encode(s) };
}

/** Options, each padded to 32 bits, then opt_endofopt; nothing at all when there are none. */
function optionsLen(opts: Opt[]): number {
  if (opts.length === 0) return 0;
  return opts.reduce((n, o) => n + 4 + pad4(o.value.length), 0) + 4;
}

function writeOptions(b: Uint8Array, dv: DataView, at: number, opts: Opt[]): number {
  if (opts.length === 0) return at;
  for (const o of opts) {
    if (o.value.length > 0xffff) throw new RangeError(`pcapng option ${o.code} is ${o.value.length} bytes, more than 65535`);
    dv.setUint16(at, o.code, true);
    dv.setUint16(at + 2, o.value.length, true);
    b.set(o.value, at + 4);
    at += 4 + pad4(o.value.length); // padding bytes stay zero (a new Uint8Array)
  }
  dv.setUint16(at, OPT_ENDOFOPT, true);
  dv.setUint16(at + 2, 0, true);
  return at + 4;
}

/** A whole block: type, total length, body, options, total length again. */
function block(type: number, body: Uint8Array, opts: Opt[]): Uint8Array {
  const total = 8 + body.length + optionsLen(opts) + 4;
  const { b, dv } = alloc(total);
  dv.setUint32(0, type, true);
  dv.setUint32(4, total, true);
  b.set(body, 8);
  const end = writeOptions(b, dv, 8 + body.length, opts);
  dv.setUint32(end, total, true);
  return b;
}

export interface PcapngInterface {
  /** if_name, e.g. "epair0a" or "vnet3/epair0a". */
  name: string;
  /** LINKTYPE_* (default LINKTYPE_ETHERNET). */
  linktype?: number;
  /** Longest packet written for this interface (default 262144). */
  snaplen?: number;
  /** if_description, if given. */
  description?: string;
}

export interface PcapngStats {
  /** When the statistics were taken (wall clock, µs since the epoch). */
  tsUs: number;
  /** Capture start and end (isb_starttime / isb_endtime), if known. */
  startUs?: number;
  endUs?: number;
  /** Frames the interface saw (isb_ifrecv) and the capture dropped (isb_ifdrop). */
  ifRecv?: number;
  ifDrop?: number;
}

export interface PcapngWriterOptions {
  /** Send the file here as it is written; without it, bytes are kept for toBuffer(). */
  out?: ByteSink;
  /** shb_userappl (default "wavnet"); "" writes no option. */
  userAppl?: string;
}

/**
 * A pcapng section: one Section Header Block, one Interface Description Block per
 * interface (µs resolution), Enhanced Packet Blocks with direction flags, and Interface
 * Statistics Blocks. `header()`, `interfaceBlock()`, `packet()` and `statistics()` only
 * encode; `addInterface()` and `write*()` emit in a valid order (SHB, then each IDB before
 * any packet of its interface).
 */
export class PcapngWriter {
  readonly userAppl: string;
  private readonly output: Output;
  private readonly ifaces: Required<PcapngInterface>[] = [];

  constructor(opts: PcapngWriterOptions = {}) {
    this.userAppl = opts.userAppl ?? "wavnet";
    this.output = new Output(opts.out, "pcapng writer", () => this.header());
  }

  /** The Section Header Block: byte-order magic, version 1.0, section length unknown (-1). */
  header(): Uint8Array {
    const { b: body, dv } = alloc(16);
    dv.setUint32(0, BYTE_ORDER_MAGIC, true);
    dv.setUint16(4, 1, true);
    dv.setUint16(6, 0, true);
    dv.setBigInt64(8, -1n, true);
    return block(BT_SHB, body, this.userAppl ? [strOpt(OPT_SHB_USERAPPL, this.userAppl)] : []);
  }

  /** Register an interface, emit its IDB, and return its interface id (0, 1, ...). */
  addInterface(i: PcapngInterface): number {
    const iface = { linktype: LINKTYPE_ETHERNET, snaplen: MAX_SNAPLEN, description: "", ...i };
    checkLinktype(iface.linktype, 0xffff);
    checkSnaplen(iface.snaplen);
    this.ifaces.push(iface);
    const id = this.ifaces.length - 1;
    this.start();
    this.output.push(this.interfaceBlock(id));
    return id;
  }

  /** Interfaces added so far, by id. */
  get interfaces(): readonly Readonly<Required<PcapngInterface>>[] {
    return this.ifaces;
  }

  /** The IDB of interface `id`: linktype, snaplen, if_name, if_description, if_tsresol = 6. */
  interfaceBlock(id: number): Uint8Array {
    const i = this.iface(id);
    const { b: body, dv } = alloc(8);
    dv.setUint16(0, i.linktype, true);
    dv.setUint16(2, 0, true);
    dv.setUint32(4, i.snaplen, true);
    const opts = [strOpt(OPT_IF_NAME, i.name)];
    if (i.description) opts.push(strOpt(OPT_IF_DESCRIPTION, i.description));
    opts.push({ code: OPT_IF_TSRESOL, value: Uint8Array.of(6) }); // 10^-6 s
    return block(BT_IDB, body, opts);
  }

  /** An EPB: interface id, timestamp high/low (µs), captured/original length, data, epb_flags. */
  packet(ifId: number, p: PcapPacket): Uint8Array {
    const i = this.iface(ifId);
    checkTs(p.tsUs);
    const { incl, orig } = lengths(p, i.snaplen);
    const { b: body, dv } = alloc(20 + pad4(incl));
    dv.setUint32(0, ifId, true);
    dv.setUint32(4, Math.floor(p.tsUs / TWO_32), true);
    dv.setUint32(8, p.tsUs % TWO_32, true);
    dv.setUint32(12, incl, true);
    dv.setUint32(16, orig, true);
    body.set(p.data.subarray(0, incl), 20);
    const opts: Opt[] = [];
    if (p.dir === "in") opts.push(u32Opt(OPT_EPB_FLAGS, EPB_FLAG_INBOUND));
    else if (p.dir === "out") opts.push(u32Opt(OPT_EPB_FLAGS, EPB_FLAG_OUTBOUND));
    else if (p.dir !== undefined) throw new RangeError(`packet dir ${String(p.dir)} is not "in" or "out"`);
    return block(BT_EPB, body, opts);
  }

  /** An ISB: counters of interface `ifId` (Wireshark shows them under Capture File Properties). */
  statistics(ifId: number, s: PcapngStats): Uint8Array {
    this.iface(ifId);
    checkTs(s.tsUs);
    const { b: body, dv } = alloc(12);
    dv.setUint32(0, ifId, true);
    dv.setUint32(4, Math.floor(s.tsUs / TWO_32), true);
    dv.setUint32(8, s.tsUs % TWO_32, true);
    const opts: Opt[] = [];
    if (s.startUs !== undefined) opts.push(tsOpt(OPT_ISB_STARTTIME, s.startUs));
    if (s.endUs !== undefined) opts.push(tsOpt(OPT_ISB_ENDTIME, s.endUs));
    if (s.ifRecv !== undefined) opts.push(u64Opt(OPT_ISB_IFRECV, s.ifRecv));
    if (s.ifDrop !== undefined) opts.push(u64Opt(OPT_ISB_IFDROP, s.ifDrop));
    return block(BT_ISB, body, opts);
  }

  /** Encode and emit a packet of interface `ifId`. False when the sink asks to wait or has failed. */
  write(ifId: number, p: PcapPacket): boolean {
    return this.output.push(this.packet(ifId, p));
  }

  writeStatistics(ifId: number, s: PcapngStats): boolean {
    return this.output.push(this.statistics(ifId, s));
  }

  /** Emit the SHB if nothing was written yet. */
  start(): void {
    this.output.start();
  }

  /** Everything written so far, for a writer made without `out`, as one Uint8Array (see PcapWriter.toBuffer). */
  toBuffer(): Uint8Array {
    return this.output.toBuffer();
  }

  /** End the sink (`endStream: false` leaves it open); rejects with the first error the sink reported. */
  async end({ endStream = true }: { endStream?: boolean } = {}): Promise<void> {
    await this.output.end(endStream);
  }

  private iface(id: number): Required<PcapngInterface> {
    const i = this.ifaces[id];
    if (!i) throw new RangeError(`pcapng interface ${id} was never added (${this.ifaces.length} known)`);
    return i;
  }
}

// ---------------------------------------------------------------------------------------
// Minimal readers: little-endian files as these writers make them, strict about lengths.

export interface ReadPacket {
  tsUs: number;
  /** The captured bytes (a copy, not a view into the file). */
  data: Uint8Array;
  origLen: number;
  ifId: number;
  dir?: "in" | "out";
}

export interface PcapFile {
  linktype: number;
  snaplen: number;
  packets: ReadPacket[];
}

/** A plain Uint8Array over the same bytes (slice() on Node's Uint8Array subclass makes a view; on this, a copy). */
function plain(buf: Uint8Array): Uint8Array {
  if (!(buf instanceof Uint8Array)) throw new TypeError(`expected the file's bytes (a Uint8Array), got ${show(buf)}`);
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Read a classic pcap file (any Uint8Array, Node's subclass too); packets' data are copies. */
export function readPcap(buf: Uint8Array): PcapFile {
  const b = plain(buf);
  if (b.length < PCAP_HEADER_LEN) throw new Error(`pcap: ${b.length} bytes is shorter than the 24-byte header`);
  const dv = view(b);
  const u16 = (at: number) => dv.getUint16(at, true);
  const u32 = (at: number) => dv.getUint32(at, true);
  const magic = u32(0);
  if (magic !== PCAP_MAGIC_US) throw new Error(`pcap: magic 0x${magic.toString(16)} is not little-endian µs 0xa1b2c3d4`);
  if (u16(4) !== 2 || u16(6) !== 4) throw new Error(`pcap: version ${u16(4)}.${u16(6)} is not 2.4`);
  const snaplen = u32(16);
  const linktype = u32(20);
  const packets: ReadPacket[] = [];
  let at = PCAP_HEADER_LEN;
  while (at < b.length) {
    if (at + PCAP_RECORD_HEADER_LEN > b.length) throw new Error(`pcap: record header at ${at} runs past the end`);
    const sec = u32(at);
    const usec = u32(at + 4);
    const incl = u32(at + 8);
    const orig = u32(at + 12);
    if (usec >= US_PER_S) throw new Error(`pcap: record at ${at}: ts_usec ${usec} >= 1000000`);
    if (incl > snaplen || incl > orig) throw new Error(`pcap: record at ${at}: incl_len ${incl} > snaplen ${snaplen} or orig_len ${orig}`);
    if (at + PCAP_RECORD_HEADER_LEN + incl > b.length) throw new Error(`pcap: record at ${at}: data runs past the end`);
    const data = b.slice(at + PCAP_RECORD_HEADER_LEN, at + PCAP_RECORD_HEADER_LEN + incl);
    packets.push({ tsUs: sec * US_PER_S + usec, data, origLen: orig, ifId: 0 });
    at += PCAP_RECORD_HEADER_LEN + incl;
  }
  return { linktype, snaplen, packets };
}

export interface PcapngFile {
  userAppl?: string;
  interfaces: (Required<PcapngInterface> & { tsresol?: number })[];
  packets: ReadPacket[];
  stats: (PcapngStats & { ifId: number })[];
}

function readOptions(b: Uint8Array, dv: DataView, at: number, end: number, where: string): Map<number, Uint8Array[]> {
  const opts = new Map<number, Uint8Array[]>();
  while (at < end) {
    if (at + 4 > end) throw new Error(`pcapng: ${where}: option header at ${at} runs past the block`);
    const code = dv.getUint16(at, true);
    const len = dv.getUint16(at + 2, true);
    if (code === OPT_ENDOFOPT) {
      if (len !== 0 || at + 4 !== end) throw new Error(`pcapng: ${where}: opt_endofopt at ${at} is not the last 4 bytes of the options`);
      return opts;
    }
    if (at + 4 + pad4(len) > end) throw new Error(`pcapng: ${where}: option ${code} at ${at} runs past the block`);
    const list = opts.get(code) ?? [];
    list.push(b.slice(at + 4, at + 4 + len));
    opts.set(code, list);
    at += 4 + pad4(len);
  }
  if (opts.size > 0) throw new Error(`pcapng: ${where}: options have no opt_endofopt`);
  return opts;
}

/** An option value as a number: u32, u64 (exact below 2^53), or a pcapng timestamp (high word first). */
const optU32 = (v: Uint8Array) => view(v).getUint32(0, true);
const optU64 = (v: Uint8Array) => Number(view(v).getBigUint64(0, true));
const optTs = (v: Uint8Array) => view(v).getUint32(0, true) * TWO_32 + view(v).getUint32(4, true);

/** Read a one-section pcapng file (any Uint8Array, Node's subclass too); packets' data are copies. */
export function readPcapng(buf: Uint8Array): PcapngFile {
  const b = plain(buf);
  const dv = view(b);
  const u16 = (at: number) => dv.getUint16(at, true);
  const u32 = (at: number) => dv.getUint32(at, true);
  const file: PcapngFile = { interfaces: [], packets: [], stats: [] };
  let at = 0;
  let sawShb = false;
  while (at < b.length) {
    if (at + 12 > b.length) throw new Error(`pcapng: block at ${at} is shorter than 12 bytes`);
    const type = u32(at);
    const total = u32(at + 4);
    const where = `block 0x${type.toString(16)} at ${at}`;
    if (total < 12 || total % 4 !== 0 || at + total > b.length) throw new Error(`pcapng: ${where}: total length ${total} is bad`);
    if (u32(at + total - 4) !== total) throw new Error(`pcapng: ${where}: trailing total length ${u32(at + total - 4)} != ${total}`);
    const end = at + total - 4;
    const body = at + 8;
    if (!sawShb && type !== BT_SHB) throw new Error(`pcapng: ${where}: file does not start with a Section Header Block`);
    if (type === BT_SHB) {
      if (sawShb) throw new Error(`pcapng: ${where}: a second section is not supported`);
      sawShb = true;
      if (u32(body) !== BYTE_ORDER_MAGIC) throw new Error(`pcapng: ${where}: not little-endian (byte-order magic)`);
      if (u16(body + 4) !== 1) throw new Error(`pcapng: ${where}: major version ${u16(body + 4)} is not 1`);
      const o = readOptions(b, dv, body + 16, end, where);
      const ua = o.get(OPT_SHB_USERAPPL)?.[0];
      if (ua) file.userAppl = fromUtf8.decode(ua);
    } else if (type === BT_IDB) {
      const o = readOptions(b, dv, body + 8, end, where);
      const str = (code: number) => {
        const v = o.get(code)?.[0];
        return v ? fromUtf8.decode(v) : "";
      };
      file.interfaces.push({
        linktype: u16(body),
        snaplen: u32(body + 4),
        name: str(OPT_IF_NAME),
        description: str(OPT_IF_DESCRIPTION),
        tsresol: o.get(OPT_IF_TSRESOL)?.[0]?.[0],
      });
    } else if (type === BT_EPB) {
      const ifId = u32(body);
      const iface = file.interfaces[ifId];
      if (!iface) throw new Error(`pcapng: ${where}: interface ${ifId} has no IDB before it`);
      if (iface.tsresol !== undefined && iface.tsresol !== 6) throw new Error(`pcapng: ${where}: if_tsresol ${iface.tsresol} is not 6 (µs)`);
      const incl = u32(body + 12);
      const orig = u32(body + 16);
      if (body + 20 + pad4(incl) > end) throw new Error(`pcapng: ${where}: captured length ${incl} runs past the block`);
      if (incl > orig) throw new Error(`pcapng: ${where}: captured length ${incl} > original length ${orig}`);
      const o = readOptions(b, dv, body + 20 + pad4(incl), end, where);
      const fv = o.get(OPT_EPB_FLAGS)?.[0];
      const d = fv === undefined ? undefined : optU32(fv) & 3;
      file.packets.push({
        ifId,
        tsUs: u32(body + 4) * TWO_32 + u32(body + 8),
        data: b.slice(body + 20, body + 20 + incl),
        origLen: orig,
        ...(d === EPB_FLAG_INBOUND ? { dir: "in" as const } : d === EPB_FLAG_OUTBOUND ? { dir: "out" as const } : {}),
      });
    } else if (type === BT_ISB) {
      const ifId = u32(body);
      if (!file.interfaces[ifId]) throw new Error(`pcapng: ${where}: interface ${ifId} has no IDB before it`);
      const o = readOptions(b, dv, body + 12, end, where);
      const u64 = (code: number) => {
        const v = o.get(code)?.[0];
        return v === undefined ? undefined : optU64(v);
      };
      const st: PcapngStats & { ifId: number } = { ifId, tsUs: u32(body + 4) * TWO_32 + u32(body + 8) };
      const s = o.get(OPT_ISB_STARTTIME)?.[0];
      const e = o.get(OPT_ISB_ENDTIME)?.[0];
      if (s) st.startUs = optTs(s);
      if (e) st.endUs = optTs(e);
      const r = u64(OPT_ISB_IFRECV);
      const dr = u64(OPT_ISB_IFDROP);
      if (r !== undefined) st.ifRecv = r;
      if (dr !== undefined) st.ifDrop = dr;
      file.stats.push(st);
    }
    // Other block types are skipped, as the specification asks of readers.
    at += total;
  }
  if (!sawShb) throw new Error("pcapng: empty file");
  return file;
}
