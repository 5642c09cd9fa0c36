// Capture file formats: classic pcap and pcapng, written little-endian with microsecond
// timestamps, plus minimal strict readers for tests and tools. Field layouts follow the
// specifications (libpcap's pcap-savefile(5) and draft-ietf-opsawg-pcapng); see
// docs/capture.md. The encoders are pure (bytes in, bytes out); `write` sends what they
// produce to a Node Writable or collects it for `toBuffer()`.

import { writeFile } from "node:fs/promises";
import type { Writable } from "node:stream";
import { finished } from "node:stream/promises";

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
export function loopbackHeader(af: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(af, 0);
  return b;
}

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
 * Where a writer's bytes go: a stream, or a list of chunks for toBuffer(). The file header
 * goes out once, before anything else (so an empty capture is still a valid file).
 */
class Output {
  private chunks: Buffer[] = [];
  private ended = false;
  private started = false;
  constructor(private readonly out: Writable | undefined, private readonly what: string, private readonly header: () => Buffer) {}

  start(): void {
    if (this.started) return;
    this.started = true;
    this.push(this.header());
  }

  push(b: Buffer): boolean {
    if (this.ended) throw new Error(`${this.what}: write after end`);
    if (this.out) return this.out.write(b);
    this.chunks.push(b);
    return true;
  }

  toBuffer(): Buffer {
    this.start();
    if (this.out) throw new Error(`${this.what}: toBuffer() is for writers without a stream`);
    return Buffer.concat(this.chunks);
  }

  async end(endStream: boolean): Promise<void> {
    if (this.ended) return;
    this.start();
    this.ended = true;
    if (this.out && endStream) {
      this.out.end();
      await finished(this.out, { readable: false });
    }
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
  out?: Writable;
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
  header(): Buffer {
    const b = Buffer.alloc(PCAP_HEADER_LEN);
    b.writeUInt32LE(PCAP_MAGIC_US, 0);
    b.writeUInt16LE(2, 4); // version 2.4
    b.writeUInt16LE(4, 6);
    b.writeInt32LE(0, 8); // thiszone: timestamps are UTC
    b.writeUInt32LE(0, 12); // sigfigs
    b.writeUInt32LE(this.snaplen, 16);
    b.writeUInt32LE(this.linktype, 20);
    return b;
  }

  /** One record: ts_sec, ts_usec, incl_len, orig_len, then the (truncated) data. */
  packet(p: PcapPacket): Buffer {
    checkTs(p.tsUs);
    const sec = Math.floor(p.tsUs / US_PER_S);
    if (sec >= TWO_32) throw new RangeError(`packet timestamp ${p.tsUs} µs is past 2106, beyond pcap's u32 seconds`);
    const { incl, orig } = lengths(p, this.snaplen);
    const b = Buffer.alloc(PCAP_RECORD_HEADER_LEN + incl);
    b.writeUInt32LE(sec, 0);
    b.writeUInt32LE(p.tsUs % US_PER_S, 4);
    b.writeUInt32LE(incl, 8);
    b.writeUInt32LE(orig, 12);
    b.set(p.data.subarray(0, incl), PCAP_RECORD_HEADER_LEN);
    return b;
  }

  /** Encode and emit a packet (the header goes out before the first one). Returns the stream's write() result. */
  write(p: PcapPacket): boolean {
    const rec = this.packet(p);
    this.start();
    return this.output.push(rec);
  }

  /** Emit the header if nothing was written yet (so an empty capture is still a valid file). */
  start(): void {
    this.output.start();
  }

  /** Everything written so far, for a writer made without `out`. */
  toBuffer(): Buffer {
    return this.output.toBuffer();
  }

  /** Write the header if needed and end the stream (`endStream: false` leaves it open). */
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
  value: Buffer;
}

function u32Opt(code: number, v: number): Opt {
  const value = Buffer.alloc(4);
  value.writeUInt32LE(v, 0);
  return { code, value };
}

function u64Opt(code: number, v: number): Opt {
  const value = Buffer.alloc(8);
  value.writeBigUInt64LE(BigInt(v), 0);
  return { code, value };
}

/** A pcapng timestamp (two u32, high word first) as an isb_starttime/endtime value. */
function tsOpt(code: number, tsUs: number): Opt {
  checkTs(tsUs);
  const value = Buffer.alloc(8);
  value.writeUInt32LE(Math.floor(tsUs / TWO_32), 0);
  value.writeUInt32LE(tsUs % TWO_32, 4);
  return { code, value };
}

function strOpt(code: number, s: string): Opt {
  return { code, value: Buffer.from(s, "utf8") };
}

/** Options, each padded to 32 bits, then opt_endofopt; nothing at all when there are none. */
function optionsLen(opts: Opt[]): number {
  if (opts.length === 0) return 0;
  return opts.reduce((n, o) => n + 4 + pad4(o.value.length), 0) + 4;
}

function writeOptions(b: Buffer, at: number, opts: Opt[]): number {
  if (opts.length === 0) return at;
  for (const o of opts) {
    if (o.value.length > 0xffff) throw new RangeError(`pcapng option ${o.code} is ${o.value.length} bytes, more than 65535`);
    b.writeUInt16LE(o.code, at);
    b.writeUInt16LE(o.value.length, at + 2);
    o.value.copy(b, at + 4);
    at += 4 + pad4(o.value.length); // padding bytes stay zero (Buffer.alloc)
  }
  b.writeUInt16LE(OPT_ENDOFOPT, at);
  b.writeUInt16LE(0, at + 2);
  return at + 4;
}

/** A whole block: type, total length, body, options, total length again. */
function block(type: number, body: Buffer, opts: Opt[]): Buffer {
  const total = 8 + body.length + optionsLen(opts) + 4;
  const b = Buffer.alloc(total);
  b.writeUInt32LE(type, 0);
  b.writeUInt32LE(total, 4);
  body.copy(b, 8);
  const end = writeOptions(b, 8 + body.length, opts);
  b.writeUInt32LE(total, end);
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
  out?: Writable;
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
  header(): Buffer {
    const body = Buffer.alloc(16);
    body.writeUInt32LE(BYTE_ORDER_MAGIC, 0);
    body.writeUInt16LE(1, 4);
    body.writeUInt16LE(0, 6);
    body.writeBigInt64LE(-1n, 8);
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
  interfaceBlock(id: number): Buffer {
    const i = this.iface(id);
    const body = Buffer.alloc(8);
    body.writeUInt16LE(i.linktype, 0);
    body.writeUInt16LE(0, 2);
    body.writeUInt32LE(i.snaplen, 4);
    const opts = [strOpt(OPT_IF_NAME, i.name)];
    if (i.description) opts.push(strOpt(OPT_IF_DESCRIPTION, i.description));
    opts.push({ code: OPT_IF_TSRESOL, value: Buffer.from([6]) }); // 10^-6 s
    return block(BT_IDB, body, opts);
  }

  /** An EPB: interface id, timestamp high/low (µs), captured/original length, data, epb_flags. */
  packet(ifId: number, p: PcapPacket): Buffer {
    const i = this.iface(ifId);
    checkTs(p.tsUs);
    const { incl, orig } = lengths(p, i.snaplen);
    const body = Buffer.alloc(20 + pad4(incl));
    body.writeUInt32LE(ifId, 0);
    body.writeUInt32LE(Math.floor(p.tsUs / TWO_32), 4);
    body.writeUInt32LE(p.tsUs % TWO_32, 8);
    body.writeUInt32LE(incl, 12);
    body.writeUInt32LE(orig, 16);
    body.set(p.data.subarray(0, incl), 20);
    const opts: Opt[] = [];
    if (p.dir === "in") opts.push(u32Opt(OPT_EPB_FLAGS, EPB_FLAG_INBOUND));
    else if (p.dir === "out") opts.push(u32Opt(OPT_EPB_FLAGS, EPB_FLAG_OUTBOUND));
    else if (p.dir !== undefined) throw new RangeError(`packet dir ${String(p.dir)} is not "in" or "out"`);
    return block(BT_EPB, body, opts);
  }

  /** An ISB: counters of interface `ifId` (Wireshark shows them under Capture File Properties). */
  statistics(ifId: number, s: PcapngStats): Buffer {
    this.iface(ifId);
    checkTs(s.tsUs);
    const body = Buffer.alloc(12);
    body.writeUInt32LE(ifId, 0);
    body.writeUInt32LE(Math.floor(s.tsUs / TWO_32), 4);
    body.writeUInt32LE(s.tsUs % TWO_32, 8);
    const opts: Opt[] = [];
    if (s.startUs !== undefined) opts.push(tsOpt(OPT_ISB_STARTTIME, s.startUs));
    if (s.endUs !== undefined) opts.push(tsOpt(OPT_ISB_ENDTIME, s.endUs));
    if (s.ifRecv !== undefined) opts.push(u64Opt(OPT_ISB_IFRECV, s.ifRecv));
    if (s.ifDrop !== undefined) opts.push(u64Opt(OPT_ISB_IFDROP, s.ifDrop));
    return block(BT_ISB, body, opts);
  }

  /** Encode and emit a packet of interface `ifId`. Returns the stream's write() result. */
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

  toBuffer(): Buffer {
    return this.output.toBuffer();
  }

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
// Whole files

/** Write a classic pcap file in one go. */
export async function writePcapFile(path: string, packets: Iterable<PcapPacket>, opts: Omit<PcapWriterOptions, "out"> = {}): Promise<void> {
  const w = new PcapWriter(opts);
  for (const p of packets) w.write(p);
  await writeFile(path, w.toBuffer());
}

/** Write a pcapng file in one go: interfaces in order (ids 0, 1, ...), packets name theirs by `ifId`. */
export async function writePcapngFile(path: string, interfaces: PcapngInterface[], packets: Iterable<PcapPacket & { ifId: number }>): Promise<void> {
  const w = new PcapngWriter();
  for (const i of interfaces) w.addInterface(i);
  for (const p of packets) w.write(p.ifId, p);
  await writeFile(path, w.toBuffer());
}

// ---------------------------------------------------------------------------------------
// Minimal readers: little-endian files as these writers make them, strict about lengths.

export interface ReadPacket {
  tsUs: number;
  data: Buffer;
  origLen: number;
  ifId: number;
  dir?: "in" | "out";
}

export interface PcapFile {
  linktype: number;
  snaplen: number;
  packets: ReadPacket[];
}

export function readPcap(buf: Uint8Array): PcapFile {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < PCAP_HEADER_LEN) throw new Error(`pcap: ${b.length} bytes is shorter than the 24-byte header`);
  const magic = b.readUInt32LE(0);
  if (magic !== PCAP_MAGIC_US) throw new Error(`pcap: magic 0x${magic.toString(16)} is not little-endian µs 0xa1b2c3d4`);
  if (b.readUInt16LE(4) !== 2 || b.readUInt16LE(6) !== 4) throw new Error(`pcap: version ${b.readUInt16LE(4)}.${b.readUInt16LE(6)} is not 2.4`);
  const snaplen = b.readUInt32LE(16);
  const linktype = b.readUInt32LE(20);
  const packets: ReadPacket[] = [];
  let at = PCAP_HEADER_LEN;
  while (at < b.length) {
    if (at + PCAP_RECORD_HEADER_LEN > b.length) throw new Error(`pcap: record header at ${at} runs past the end`);
    const sec = b.readUInt32LE(at);
    const usec = b.readUInt32LE(at + 4);
    const incl = b.readUInt32LE(at + 8);
    const orig = b.readUInt32LE(at + 12);
    if (usec >= US_PER_S) throw new Error(`pcap: record at ${at}: ts_usec ${usec} >= 1000000`);
    if (incl > snaplen || incl > orig) throw new Error(`pcap: record at ${at}: incl_len ${incl} > snaplen ${snaplen} or orig_len ${orig}`);
    if (at + PCAP_RECORD_HEADER_LEN + incl > b.length) throw new Error(`pcap: record at ${at}: data runs past the end`);
    const data = Buffer.from(b.subarray(at + PCAP_RECORD_HEADER_LEN, at + PCAP_RECORD_HEADER_LEN + incl));
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

function readOptions(b: Buffer, at: number, end: number, where: string): Map<number, Buffer[]> {
  const opts = new Map<number, Buffer[]>();
  while (at < end) {
    if (at + 4 > end) throw new Error(`pcapng: ${where}: option header at ${at} runs past the block`);
    const code = b.readUInt16LE(at);
    const len = b.readUInt16LE(at + 2);
    if (code === OPT_ENDOFOPT) {
      if (len !== 0 || at + 4 !== end) throw new Error(`pcapng: ${where}: opt_endofopt at ${at} is not the last 4 bytes of the options`);
      return opts;
    }
    if (at + 4 + pad4(len) > end) throw new Error(`pcapng: ${where}: option ${code} at ${at} runs past the block`);
    const list = opts.get(code) ?? [];
    list.push(Buffer.from(b.subarray(at + 4, at + 4 + len)));
    opts.set(code, list);
    at += 4 + pad4(len);
  }
  if (opts.size > 0) throw new Error(`pcapng: ${where}: options have no opt_endofopt`);
  return opts;
}

const tsOf = (v: Buffer) => v.readUInt32LE(0) * TWO_32 + v.readUInt32LE(4);

export function readPcapng(buf: Uint8Array): PcapngFile {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const file: PcapngFile = { interfaces: [], packets: [], stats: [] };
  let at = 0;
  let sawShb = false;
  while (at < b.length) {
    if (at + 12 > b.length) throw new Error(`pcapng: block at ${at} is shorter than 12 bytes`);
    const type = b.readUInt32LE(at);
    const total = b.readUInt32LE(at + 4);
    const where = `block 0x${type.toString(16)} at ${at}`;
    if (total < 12 || total % 4 !== 0 || at + total > b.length) throw new Error(`pcapng: ${where}: total length ${total} is bad`);
    if (b.readUInt32LE(at + total - 4) !== total) throw new Error(`pcapng: ${where}: trailing total length ${b.readUInt32LE(at + total - 4)} != ${total}`);
    const end = at + total - 4;
    const body = at + 8;
    if (!sawShb && type !== BT_SHB) throw new Error(`pcapng: ${where}: file does not start with a Section Header Block`);
    if (type === BT_SHB) {
      if (sawShb) throw new Error(`pcapng: ${where}: a second section is not supported`);
      sawShb = true;
      if (b.readUInt32LE(body) !== BYTE_ORDER_MAGIC) throw new Error(`pcapng: ${where}: not little-endian (byte-order magic)`);
      if (b.readUInt16LE(body + 4) !== 1) throw new Error(`pcapng: ${where}: major version ${b.readUInt16LE(body + 4)} is not 1`);
      const o = readOptions(b, body + 16, end, where);
      const ua = o.get(OPT_SHB_USERAPPL)?.[0];
      if (ua) file.userAppl = ua.toString("utf8");
    } else if (type === BT_IDB) {
      const o = readOptions(b, body + 8, end, where);
      file.interfaces.push({
        linktype: b.readUInt16LE(body),
        snaplen: b.readUInt32LE(body + 4),
        name: o.get(OPT_IF_NAME)?.[0]?.toString("utf8") ?? "",
        description: o.get(OPT_IF_DESCRIPTION)?.[0]?.toString("utf8") ?? "",
        tsresol: o.get(OPT_IF_TSRESOL)?.[0]?.[0],
      });
    } else if (type === BT_EPB) {
      const ifId = b.readUInt32LE(body);
      const iface = file.interfaces[ifId];
      if (!iface) throw new Error(`pcapng: ${where}: interface ${ifId} has no IDB before it`);
      if (iface.tsresol !== undefined && iface.tsresol !== 6) throw new Error(`pcapng: ${where}: if_tsresol ${iface.tsresol} is not 6 (µs)`);
      const incl = b.readUInt32LE(body + 12);
      const orig = b.readUInt32LE(body + 16);
      if (body + 20 + pad4(incl) > end) throw new Error(`pcapng: ${where}: captured length ${incl} runs past the block`);
      if (incl > orig) throw new Error(`pcapng: ${where}: captured length ${incl} > original length ${orig}`);
      const o = readOptions(b, body + 20 + pad4(incl), end, where);
      const flags = o.get(OPT_EPB_FLAGS)?.[0]?.readUInt32LE(0);
      const d = flags === undefined ? undefined : flags & 3;
      file.packets.push({
        ifId,
        tsUs: b.readUInt32LE(body + 4) * TWO_32 + b.readUInt32LE(body + 8),
        data: Buffer.from(b.subarray(body + 20, body + 20 + incl)),
        origLen: orig,
        ...(d === EPB_FLAG_INBOUND ? { dir: "in" as const } : d === EPB_FLAG_OUTBOUND ? { dir: "out" as const } : {}),
      });
    } else if (type === BT_ISB) {
      const ifId = b.readUInt32LE(body);
      if (!file.interfaces[ifId]) throw new Error(`pcapng: ${where}: interface ${ifId} has no IDB before it`);
      const o = readOptions(b, body + 12, end, where);
      const u64 = (code: number) => {
        const v = o.get(code)?.[0];
        return v === undefined ? undefined : Number(v.readBigUInt64LE(0));
      };
      const st: PcapngStats & { ifId: number } = { ifId, tsUs: b.readUInt32LE(body + 4) * TWO_32 + b.readUInt32LE(body + 8) };
      const s = o.get(OPT_ISB_STARTTIME)?.[0];
      const e = o.get(OPT_ISB_ENDTIME)?.[0];
      if (s) st.startUs = tsOf(s);
      if (e) st.endUs = tsOf(e);
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
