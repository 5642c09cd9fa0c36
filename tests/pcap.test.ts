import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import {
  PcapWriter, PcapngWriter, readPcap, readPcapng, loopbackHeader,
  LINKTYPE_ETHERNET, LINKTYPE_NULL, AF_INET, type PcapPacket,
} from "../host/capture/pcap.js";
import {
  Capture, PcapngSink, CaptureRecordError, parseRecords, ringRecords, encodeRecords, type Frame,
} from "../host/capture/capture.js";
import { writePcapFile, writePcapngFile } from "../host/node/pcap_files.js";
import { nodePlatform } from "../host/node/platform.js"; // captures to a path open files through it
import { platform, setPlatform, toByteSink, type ByteSink } from "../host/lib/platform.js";
import { tsharkCheck, tsharkSkip } from "./helpers/tshark.js";

// The core's bytes are plain Uint8Arrays (not Buffers): the expected values are too.
const u8 = (b: Uint8Array) => new Uint8Array(b);
const hex = (s: string) => u8(Buffer.from(s.replace(/[\s|]/g, ""), "hex"));
const hexOf = (b: Uint8Array) => Buffer.from(b).toString("hex");
const concat = (...parts: Uint8Array[]) => u8(Buffer.concat(parts));
const tmp = mkdtempSync(join(tmpdir(), "wavnet-pcap-"));
process.on("exit", () => rmSync(tmp, { recursive: true, force: true }));

// 2023-11-14T22:13:20.123456Z: seconds 0x6553f100, µs 0x1e240
const T0 = 1_700_000_000_123_456;
const DEADBEEF: PcapPacket = { tsUs: T0, data: hex("deadbe"), origLen: 60 };

// ---------------------------------------------------------------------------------------
// Synthetic Ethernet frames

const MAC_A = hex("020000000001");
const MAC_B = hex("020000000002");
const BROADCAST = hex("ffffffffffff");
const IP_A = [10, 0, 0, 1];
const IP_B = [10, 0, 0, 2];

function ether(dst: Uint8Array, src: Uint8Array, type: number, payload: Uint8Array): Uint8Array {
  return concat(dst, src, Uint8Array.of(type >> 8, type & 0xff), payload);
}

/** RFC 1071 ones' complement sum, folded, complemented. */
function inetChecksum(...parts: Uint8Array[]): number {
  const b = Buffer.concat(parts);
  let sum = 0;
  for (let i = 0; i < b.length; i += 2) sum += (b[i] << 8) | (i + 1 < b.length ? b[i + 1] : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function arpRequest(): Uint8Array {
  const arp = Buffer.concat([
    hex("0001 0800 06 04 0001"), // Ethernet, IPv4, hlen 6, plen 4, request (RFC 826)
    MAC_A, Buffer.from(IP_A), Buffer.alloc(6), Buffer.from(IP_B),
  ]);
  return ether(BROADCAST, MAC_A, 0x0806, arp);
}

function udpPacket(payload: string): Uint8Array {
  const data = Buffer.from(payload);
  const udp = Buffer.alloc(8 + data.length);
  udp.writeUInt16BE(40000, 0);
  udp.writeUInt16BE(7, 2);
  udp.writeUInt16BE(udp.length, 4);
  data.copy(udp, 8);
  const pseudo = Buffer.concat([Buffer.from(IP_A), Buffer.from(IP_B), hex("0011"), Buffer.from([udp.length >> 8, udp.length & 0xff])]);
  udp.writeUInt16BE(inetChecksum(pseudo, udp) || 0xffff, 6); // RFC 768: a computed 0 is sent as all ones
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + udp.length, 2);
  ip.writeUInt16BE(0x1234, 4);
  ip.writeUInt16BE(0x4000, 6); // DF
  ip[8] = 64;
  ip[9] = 17;
  Buffer.from(IP_A).copy(ip, 12);
  Buffer.from(IP_B).copy(ip, 16);
  ip.writeUInt16BE(inetChecksum(ip), 10);
  return ether(MAC_B, MAC_A, 0x0800, Buffer.concat([ip, udp]));
}

function unknownEthertype(): Uint8Array {
  return ether(MAC_B, MAC_A, 0x88b5, Buffer.from("IEEE 802 local experimental ethertype 1, no dissector"));
}

// ---------------------------------------------------------------------------------------

describe("classic pcap writer", () => {
  test("global header: µs magic, version 2.4, zone 0, sigfigs 0, snaplen, linktype", () => {
    const w = new PcapWriter({ linktype: LINKTYPE_ETHERNET, snaplen: 65535 });
    assert.deepEqual(w.header(), hex("d4c3b2a1 0200 0400 00000000 00000000 ffff0000 01000000"));
    assert.deepEqual(new PcapWriter({ linktype: LINKTYPE_NULL }).header(), hex("d4c3b2a1 0200 0400 00000000 00000000 00000400 00000000"));
  });

  test("record: ts_sec, ts_usec, incl_len, orig_len, data", () => {
    const w = new PcapWriter();
    assert.deepEqual(w.packet(DEADBEEF), hex("00f15365 40e20100 03000000 3c000000 deadbe"));
  });

  test("truncates data to snaplen and keeps orig_len", () => {
    const w = new PcapWriter({ snaplen: 2 });
    assert.deepEqual(w.packet(DEADBEEF), hex("00f15365 40e20100 02000000 3c000000 dead"));
  });

  test("refuses bad timestamps and lengths", () => {
    const w = new PcapWriter();
    assert.throws(() => w.packet({ ...DEADBEEF, tsUs: -1 }), /timestamp -1/);
    assert.throws(() => w.packet({ ...DEADBEEF, tsUs: 1.5 }), /timestamp 1.5/);
    assert.throws(() => w.packet({ ...DEADBEEF, tsUs: 2 ** 32 * 1e6 }), /past 2106/);
    assert.throws(() => w.packet({ ...DEADBEEF, origLen: 2 }), /origLen 2 is less than its 3 captured bytes/);
    assert.throws(() => new PcapWriter({ snaplen: 0 }), /snaplen 0/);
  });

  test("an empty capture is a valid file: just the header", () => {
    assert.deepEqual(new PcapWriter().toBuffer().length, 24);
    assert.deepEqual(readPcap(new PcapWriter().toBuffer()).packets, []);
  });

  test("toBuffer() and the encoders give plain Uint8Arrays, not Node Buffers (the core has none)", () => {
    const w = new PcapWriter();
    w.write(DEADBEEF);
    for (const b of [w.toBuffer(), w.header(), w.packet(DEADBEEF), loopbackHeader(AF_INET), new PcapngWriter().toBuffer()]) {
      assert.equal(Object.getPrototypeOf(b), Uint8Array.prototype);
    }
    // readers take a Buffer too, and give copies as plain Uint8Arrays
    const f = readPcap(Buffer.from(w.toBuffer()));
    assert.equal(Object.getPrototypeOf(f.packets[0].data), Uint8Array.prototype);
    assert.deepEqual(f.packets[0].data, hex("deadbe"));
  });

  test("loopback header is the address family in the file's (little-endian) order", () => {
    assert.deepEqual(loopbackHeader(AF_INET), hex("02000000"));
  });

  test("round trip through readPcap", () => {
    const w = new PcapWriter({ snaplen: 1500 });
    const pkts = [arpRequest(), udpPacket("hello"), unknownEthertype()].map((data, i) => ({ tsUs: T0 + i * 1_000_001, data, origLen: data.length }));
    for (const p of pkts) w.write(p);
    const f = readPcap(w.toBuffer());
    assert.equal(f.linktype, LINKTYPE_ETHERNET);
    assert.equal(f.snaplen, 1500);
    assert.deepEqual(f.packets, pkts.map((p) => ({ ...p, ifId: 0 })));
  });
});

describe("pcapng writer", () => {
  test("section header block: magic, 1.0, length -1, shb_userappl, endofopt, trailing length", () => {
    assert.deepEqual(new PcapngWriter().header(), hex(
      "0a0d0d0a 2c000000 4d3c2b1a 0100 0000 ffffffffffffffff" +
      "0400 0600 7761766e6574 0000 | 0000 0000 | 2c000000",
    ));
    // no options at all: no opt_endofopt either
    assert.deepEqual(new PcapngWriter({ userAppl: "" }).header(), hex("0a0d0d0a 1c000000 4d3c2b1a 0100 0000 ffffffffffffffff 1c000000"));
  });

  test("interface description block: linktype, snaplen, if_name, if_tsresol 6", () => {
    const w = new PcapngWriter();
    assert.equal(w.addInterface({ name: "eth0", snaplen: 65535 }), 0);
    assert.deepEqual(w.interfaceBlock(0), hex(
      "01000000 28000000 0100 0000 ffff0000 | 0200 0400 65746830 | 0900 0100 06000000 | 0000 0000 | 28000000",
    ));
  });

  test("interface description block with if_description", () => {
    const w = new PcapngWriter();
    w.addInterface({ name: "lo0", linktype: LINKTYPE_NULL, snaplen: 65535, description: "vnet a" });
    assert.deepEqual(w.interfaceBlock(0), hex(
      "01000000 34000000 0000 0000 ffff0000 | 0200 0300 6c6f3000 | 0300 0600 766e65742061 0000 | 0900 0100 06000000 | 0000 0000 | 34000000",
    ));
  });

  test("enhanced packet block: interface, timestamp high/low, lengths, padded data, epb_flags", () => {
    const w = new PcapngWriter();
    w.addInterface({ name: "eth0" });
    const ts = 2 ** 32 + 5; // high word 1, low word 5
    assert.deepEqual(w.packet(0, { ...DEADBEEF, tsUs: ts, dir: "out" }), hex(
      "06000000 30000000 00000000 01000000 05000000 03000000 3c000000 deadbe00 | 0200 0400 02000000 | 0000 0000 | 30000000",
    ));
    assert.deepEqual(w.packet(0, { ...DEADBEEF, tsUs: ts, dir: "in" }).subarray(32, 40), hex("0200 0400 01000000"));
    // no direction: no options
    assert.deepEqual(w.packet(0, { ...DEADBEEF, tsUs: ts }), hex(
      "06000000 24000000 00000000 01000000 05000000 03000000 3c000000 deadbe00 24000000",
    ));
  });

  test("interface statistics block: isb_ifrecv, isb_ifdrop", () => {
    const w = new PcapngWriter();
    w.addInterface({ name: "eth0" });
    assert.deepEqual(w.statistics(0, { tsUs: 7, ifRecv: 10, ifDrop: 3 }), hex(
      "05000000 34000000 00000000 00000000 07000000 | 0400 0800 0a00000000000000 | 0500 0800 0300000000000000 | 0000 0000 | 34000000",
    ));
  });

  test("refuses a packet of an interface never added, and a bad direction", () => {
    const w = new PcapngWriter();
    assert.throws(() => w.packet(0, DEADBEEF), /interface 0 was never added/);
    w.addInterface({ name: "eth0" });
    assert.throws(() => w.packet(0, { ...DEADBEEF, dir: "sideways" as "in" }), /dir sideways/);
  });

  test("the stream gets SHB, IDBs in order, then packets", async () => {
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on("data", (c: Buffer) => chunks.push(c));
    const w = new PcapngWriter({ out });
    w.addInterface({ name: "a" });
    w.write(0, DEADBEEF);
    await w.end();
    const f = readPcapng(Buffer.concat(chunks));
    assert.deepEqual(f.interfaces.map((i) => i.name), ["a"]);
    assert.equal(f.packets.length, 1);
    assert.equal(f.userAppl, "wavnet");
  });

  test("a web WritableStream (toByteSink) gets the same bytes; end() waits for it to close", async () => {
    const chunks: Uint8Array[] = [];
    let closed = false;
    const ws = new WritableStream<Uint8Array>({
      write: async (c) => {
        await new Promise((r) => setTimeout(r, 1)); // a slow consumer
        chunks.push(c);
      },
      close: () => void (closed = true),
    });
    const w = new PcapngWriter({ out: toByteSink(ws) });
    w.addInterface({ name: "a" });
    w.write(0, DEADBEEF);
    await w.end();
    assert.equal(closed, true);
    const ref = new PcapngWriter();
    ref.addInterface({ name: "a" });
    ref.write(0, DEADBEEF);
    assert.deepEqual(concat(...chunks), ref.toBuffer());
  });

  test("an error the sink reports is kept, later writes are dropped, and end() rejects with it", async () => {
    // a WritableStream that fails its second write
    let n = 0;
    const ws = new WritableStream<Uint8Array>({ write: () => { if (++n === 2) throw new Error("disk full"); } });
    const w = new PcapWriter({ out: toByteSink(ws) });
    w.write(DEADBEEF);
    await new Promise((r) => setTimeout(r, 5));
    assert.equal(w.write(DEADBEEF), false); // the sink failed: nothing more goes to it
    await assert.rejects(w.end(), /disk full/);
    // a sink that reports the error to its end callback only
    const quiet: ByteSink = { write: () => true, end: (cb?: (e?: Error) => void) => cb?.(new Error("close failed")) };
    await assert.rejects(new PcapWriter({ out: quiet }).end(), /close failed/);
    // endStream: false leaves the sink open but still reports its error
    const listeners: ((e: Error) => void)[] = [];
    let ended = false;
    const open: ByteSink = { write: () => true, end: () => void (ended = true), on: (_e, l) => void listeners.push(l) };
    const w2 = new PcapWriter({ out: open });
    w2.start();
    for (const l of listeners) l(new Error("EPIPE"));
    await assert.rejects(w2.end({ endStream: false }), /EPIPE/);
    assert.equal(ended, false);
  });

  test("round trip through readPcapng: two interfaces, both directions, truncation", () => {
    const w = new PcapngWriter();
    w.addInterface({ name: "epair0a", description: "vnet a" });
    w.addInterface({ name: "epair0b", snaplen: 64 });
    const big = udpPacket("x".repeat(100));
    const pkts = [
      { ifId: 0, tsUs: T0, data: arpRequest(), dir: "out" as const },
      { ifId: 1, tsUs: T0 + 1, data: arpRequest(), dir: "in" as const },
      { ifId: 1, tsUs: 2 ** 40 + 3, data: big, dir: "out" as const },
      { ifId: 0, tsUs: T0 + 3, data: unknownEthertype() },
    ];
    for (const p of pkts) w.write(p.ifId, p);
    const f = readPcapng(w.toBuffer());
    assert.deepEqual(f.interfaces, [
      { name: "epair0a", description: "vnet a", linktype: 1, snaplen: 262144, tsresol: 6 },
      { name: "epair0b", description: "", linktype: 1, snaplen: 64, tsresol: 6 },
    ]);
    assert.deepEqual(f.packets, pkts.map((p) => ({
      ...p,
      origLen: p.data.length,
      data: p.ifId === 1 ? p.data.subarray(0, 64) : p.data,
    })));
  });
});

// ---------------------------------------------------------------------------------------

describe("capture ring records", () => {
  // Two records written by hand: caplen 3 (reclen 32, five padding bytes), then caplen 0.
  const RING = hex(
    "20000000 03000000 3c000000 0100 0000 e803000000000000 deadbe 0000000000" +
    "18000000 00000000 00000000 0200 0000 0100000001000000",
  );

  test("parses records laid back to back, data as views", () => {
    const got: unknown[] = [];
    assert.equal(parseRecords(RING, (r) => got.push({ ...r, data: r.data.slice() })), 2);
    assert.deepEqual(got, [
      { offset: 0, caplen: 3, origLen: 60, dir: "in", tsUs: 1000, data: hex("deadbe") },
      { offset: 32, caplen: 0, origLen: 0, dir: "out", tsUs: 2 ** 32 + 1, data: new Uint8Array(0) },
    ]);
    assert.equal(parseRecords(new Uint8Array(0), () => assert.fail("no records")), 0);
  });

  test("encodeRecords writes the same bytes as the hand-made ring", () => {
    const enc = encodeRecords([
      { data: hex("deadbe"), origLen: 60, dir: "in", tsUs: 1000 },
      { data: new Uint8Array(0), origLen: 0, dir: "out", tsUs: 2 ** 32 + 1 },
    ]);
    assert.deepEqual(enc, RING);
  });

  test("offsets in errors and records add the base (the ring's kernel address)", () => {
    assert.deepEqual([...ringRecords(RING, { base: 0x10000 })].map((r) => r.offset), [0x10000, 0x10020]);
  });

  /** RING with `patch(view)` applied to a copy; the error must name `offset` and `field`. */
  function rejects(name: string, patch: (dv: DataView) => void, offset: number, field: string, msg: RegExp, bytes: Uint8Array = RING, snaplen?: number) {
    test(`rejects ${name}`, () => {
      const b = bytes.slice();
      patch(new DataView(b.buffer, b.byteOffset, b.byteLength));
      assert.throws(() => parseRecords(b, () => {}, { snaplen }), (e: unknown) => {
        assert.ok(e instanceof CaptureRecordError, String(e));
        assert.equal(e.offset, offset);
        assert.equal(e.field, field);
        assert.match(e.message, new RegExp(`^capture ring: bad record at offset ${offset}: ${field} `));
        assert.match(e.message, msg);
        return true;
      });
    });
  }
  const u32 = (at: number, v: number) => (dv: DataView) => dv.setUint32(at, v, true);
  const u16 = (at: number, v: number) => (dv: DataView) => dv.setUint16(at, v, true);

  rejects("reclen below the header size", u32(0, 16), 0, "reclen", /16 is less than the 24-byte header/);
  rejects("reclen not a multiple of 8", u32(32, 28), 32, "reclen", /28 is not a multiple of 8/);
  rejects("reclen past the end of the range", u32(32, 32), 32, "reclen", /32 runs past the end of the range \(24 bytes left\)/);
  rejects("a header cut short at the end of the range", () => {}, 56, "reclen", /only 8 bytes left/, concat(RING, new Uint8Array(8)));
  rejects("caplen that does not fit in reclen", u32(4, 9), 0, "caplen", /9 does not fit in reclen 32 \(at most 8\)/);
  rejects("reclen with more padding than caplen needs", u32(32 + 4, 0), 0, "reclen", /40 is not 24 \+ caplen 3 rounded up to 8 \(32\)/,
    // one 40-byte record with caplen 3 (patch keeps the second record's caplen 0 at 36)
    concat(hex("28000000 03000000 3c000000 0100 0000 e803000000000000"), new Uint8Array(16)));
  rejects("caplen above origlen", u32(8, 2), 0, "caplen", /3 is more than origlen 2/);
  rejects("caplen above the snaplen", () => {}, 0, "caplen", /3 is more than the snaplen 2/, RING, 2);
  rejects("direction 0", u16(12, 0), 0, "dir", /0 is neither 1 \(in\) nor 2 \(out\)/);
  rejects("direction 3 in the second record", u16(32 + 12, 3), 32, "dir", /3 is neither/);
  rejects("a non-zero reserved field", u16(14, 1), 0, "reserved", /1 is not 0/);
  rejects("a timestamp beyond 2^53 µs", (dv) => dv.setBigUint64(16, 1n << 60n, true), 0, "ts", /beyond 2\^53/);
});

// ---------------------------------------------------------------------------------------

/** A ring batch as the kernel would leave it: frames with kernel times. */
function ring(frames: { data: Uint8Array; dir: "in" | "out"; tsUs: number; origLen?: number }[]): Uint8Array {
  return encodeRecords(frames);
}

const EPOCH = 1_700_000_000_000_000;

describe("Capture", () => {
  test("ingest stamps wall-clock time, copies data out of the ring, counts", async () => {
    const c = new Capture({ ifName: "epair0a", epochUs: EPOCH });
    const seen: Frame[] = [];
    c.toPcapng(new PassThrough().resume());
    const it = c[Symbol.asyncIterator]();
    const bytes = ring([{ data: arpRequest(), dir: "out", tsUs: 5 }, { data: hex("0102"), origLen: 1514, dir: "in", tsUs: 9 }]);
    assert.equal(c.ingest(bytes), 2);
    bytes.fill(0); // the kernel reuses the ring
    seen.push((await it.next()).value, (await it.next()).value);
    assert.deepEqual(seen.map((f) => [f.ifName, f.tsUs, f.kernelTsUs, f.dir, hexOf(f.data), f.origLen]), [
      ["epair0a", EPOCH + 5, 5, "out", hexOf(arpRequest()), 42],
      ["epair0a", EPOCH + 9, 9, "in", "0102", 1514],
    ]);
    assert.deepEqual([c.frames, c.bytes, c.capturedBytes, c.drops], [2, 42 + 1514, 44, 0]);
    await c.stop();
  });

  test("a bad record delivers nothing from its batch and throws", async () => {
    const c = new Capture({ ifName: "x" });
    const it = c[Symbol.asyncIterator]();
    const b = ring([{ data: hex("01"), dir: "in", tsUs: 1 }, { data: hex("02"), dir: "in", tsUs: 2 }]);
    b[32 + 12] = 7;
    assert.throws(() => c.ingest(b, { base: 4096 }), /bad record at offset 4128: dir 7/);
    assert.equal(c.frames, 0);
    await c.stop();
    assert.equal((await it.next()).done, true);
  });

  test("caplen above the capture's snaplen is a kernel bug", () => {
    const c = new Capture({ ifName: "x", snaplen: 64 });
    assert.throws(() => c.ingest(ring([{ data: Buffer.alloc(65), dir: "in", tsUs: 1 }])), /caplen 65 is more than the snaplen 64/);
  });

  test("for await gets frames as they arrive and ends at stop(), after the queue drains", async () => {
    const c = new Capture({ ifName: "x" });
    const got: number[] = [];
    const done = (async () => {
      for await (const f of c) got.push(f.kernelTsUs);
    })();
    c.ingest(ring([{ data: hex("01"), dir: "in", tsUs: 1 }]));
    await new Promise((r) => setImmediate(r));
    c.ingest(ring([{ data: hex("02"), dir: "in", tsUs: 2 }, { data: hex("03"), dir: "out", tsUs: 3 }]));
    await c.stop();
    await done;
    assert.deepEqual(got, [1, 2, 3]);
    assert.throws(() => c.ingest(ring([])), /ingest after stop/);
  });

  test("breaking out of for await unsubscribes; a slow iterator's overflow is counted, not kept", async () => {
    const c = new Capture({ ifName: "x", queueLimit: 2 });
    const it = c[Symbol.asyncIterator]();
    c.ingest(ring([1, 2, 3].map((t) => ({ data: hex("00"), dir: "in" as const, tsUs: t }))));
    assert.equal(c.queueDrops, 1);
    assert.equal((await it.next()).value.kernelTsUs, 1);
    await it.return!();
    assert.equal((await it.next()).done, true);
    await c.stop();
  });

  test("toPcap and toPcapng write files as frames arrive; stop() closes them", async () => {
    const c = new Capture({ ifName: "epair0a", epochUs: EPOCH, snaplen: 1500 });
    const pcap = join(tmp, "cap.pcap");
    const pcapng = join(tmp, "cap.pcapng");
    c.toPcap(pcap).toPcapng(pcapng);
    c.ingest(ring([{ data: arpRequest(), dir: "out", tsUs: 10 }]));
    c.ingest(ring([{ data: udpPacket("hi"), dir: "in", tsUs: 20 }]));
    c.drops = 4;
    await c.stop({ kernelNowUs: 30 });
    const p = readPcap(readFileSync(pcap));
    assert.deepEqual(p.packets.map((x) => [x.tsUs, x.data.length]), [[EPOCH + 10, 42], [EPOCH + 20, 44]]);
    assert.equal(p.snaplen, 1500);
    const n = readPcapng(readFileSync(pcapng));
    assert.deepEqual(n.interfaces.map((i) => [i.name, i.snaplen]), [["epair0a", 1500]]);
    assert.deepEqual(n.packets.map((x) => [x.tsUs, x.dir]), [[EPOCH + 10, "out"], [EPOCH + 20, "in"]]);
    assert.deepEqual(n.stats, [{ ifId: 0, tsUs: EPOCH + 30, ifRecv: 6, ifDrop: 4 }]);
  });

  test("several captures share one pcapng file, one IDB each", async () => {
    const file = join(tmp, "shared.pcapng");
    const sink = new PcapngSink(file);
    const a = new Capture({ ifName: "epair0a", description: "vnet a", epochUs: EPOCH }).toPcapng(sink);
    const b = new Capture({ ifName: "epair0b", description: "vnet b", epochUs: EPOCH }).toPcapng(sink);
    a.ingest(ring([{ data: arpRequest(), dir: "out", tsUs: 1 }]));
    b.ingest(ring([{ data: arpRequest(), dir: "in", tsUs: 2 }]));
    await a.stop();
    b.ingest(ring([{ data: udpPacket("x"), dir: "in", tsUs: 3 }]));
    await sink.close(); // b still attached: its statistics are written now
    await b.stop();
    const f = readPcapng(readFileSync(file));
    assert.deepEqual(f.interfaces.map((i) => [i.name, i.description]), [["epair0a", "vnet a"], ["epair0b", "vnet b"]]);
    assert.deepEqual(f.packets.map((p) => [p.ifId, p.dir, p.tsUs - EPOCH]), [[0, "out", 1], [1, "in", 2], [1, "in", 3]]);
    assert.deepEqual(f.stats.map((s) => [s.ifId, s.ifRecv, s.ifDrop]), [[0, 1, 0], [1, 2, 0]]);
  });

  test("a sink that cannot be opened fails stop(), not the process", async () => {
    const c = new Capture({ ifName: "x" }).toPcap(join(tmp, "no-such-dir", "x.pcap"));
    await assert.rejects(c.stop(), /ENOENT/);
  });

  test("a capture to a path needs the platform's openFile (a browser has none): a clear error", () => {
    const prev = platform();
    assert.equal(prev, nodePlatform);
    setPlatform({ name: "browser" });
    try {
      const c = new Capture({ ifName: "x" });
      assert.throws(() => c.toPcap(join(tmp, "never.pcap")), /a capture to a file needs Node .*\(browser\) has no such support/);
      assert.throws(() => new PcapngSink(join(tmp, "never.pcapng")), /a capture to a file needs Node/);
      c.toPcapng(toByteSink(new WritableStream())); // a sink is fine anywhere
    } finally {
      setPlatform(prev);
    }
    assert.equal(existsSync(join(tmp, "never.pcap")), false);
  });

  test("readable(): a ReadableStream of frames from now on, closed at stop()", async () => {
    const c = new Capture({ ifName: "epair0a", epochUs: EPOCH });
    c.ingest(ring([{ data: hex("00"), dir: "in", tsUs: 1 }])); // before the stream: not in it
    const rs = c.readable();
    c.ingest(ring([{ data: arpRequest(), dir: "out", tsUs: 2 }, { data: hex("0102"), origLen: 60, dir: "in", tsUs: 3 }]));
    const reader = rs.getReader();
    const first = await reader.read();
    assert.equal(first.done, false);
    assert.deepEqual([first.value!.kernelTsUs, first.value!.dir, hexOf(first.value!.data)], [2, "out", hexOf(arpRequest())]);
    c.ingest(ring([{ data: hex("03"), dir: "out", tsUs: 4 }]));
    await c.stop();
    const rest: number[] = [];
    for (let r = await reader.read(); !r.done; r = await reader.read()) rest.push(r.value.kernelTsUs);
    assert.deepEqual(rest, [3, 4]); // what was queued, then the end
  });

  test("readable(): cancelling the stream unsubscribes it, the capture goes on", async () => {
    const c = new Capture({ ifName: "x", queueLimit: 1 });
    const rs = c.readable();
    const other = c[Symbol.asyncIterator]();
    await rs.cancel();
    c.ingest(ring([1, 2].map((t) => ({ data: hex("00"), dir: "in" as const, tsUs: t }))));
    assert.equal(c.queueDrops, 1); // only the iterator's queue is full: the stream's is gone
    assert.equal((await other.next()).value.kernelTsUs, 1);
    await c.stop();
  });

  for (const format of ["pcap", "pcapng"] as const) {
    test(`readable("${format}"): the file's bytes as frames arrive, closed at stop()`, async () => {
      const c = new Capture({ ifName: "epair0a", epochUs: EPOCH, snaplen: 1500 });
      const rs = c.readable(format);
      c.ingest(ring([{ data: arpRequest(), dir: "out", tsUs: 10 }, { data: udpPacket("hi"), dir: "in", tsUs: 20 }]));
      c.drops = 1;
      await c.stop({ kernelNowUs: 30 });
      const bytes = new Uint8Array(await new Response(rs).arrayBuffer());
      if (format === "pcap") {
        const p = readPcap(bytes);
        assert.equal(p.snaplen, 1500);
        assert.deepEqual(p.packets.map((x) => [x.tsUs - EPOCH, hexOf(x.data)]), [[10, hexOf(arpRequest())], [20, hexOf(udpPacket("hi"))]]);
      } else {
        const n = readPcapng(bytes);
        assert.deepEqual(n.interfaces.map((i) => i.name), ["epair0a"]);
        assert.deepEqual(n.packets.map((x) => [x.tsUs - EPOCH, x.dir]), [[10, "out"], [20, "in"]]);
        assert.deepEqual(n.stats, [{ ifId: 0, tsUs: EPOCH + 30, ifRecv: 3, ifDrop: 1 }]);
      }
    });
  }

  test('readable("pcapng") cancelled by its reader: later frames are dropped, stop() still succeeds', async () => {
    const c = new Capture({ ifName: "x" });
    const rs = c.readable("pcapng");
    await rs.cancel();
    c.ingest(ring([{ data: hex("01"), dir: "in", tsUs: 1 }]));
    await c.stop();
    assert.equal(c.frames, 1);
  });
});

// ---------------------------------------------------------------------------------------

describe("tshark reads what we write", () => {
  // frame.packet_flags_direction as tshark prints it (epb_flags bits 0-1)
  const IN = "0x00000001";
  const OUT = "0x00000002";
  const frames = () => [
    { ifId: 0, tsUs: T0, data: arpRequest(), dir: "out" as const },
    { ifId: 1, tsUs: T0 + 10, data: arpRequest(), dir: "in" as const },
    { ifId: 0, tsUs: T0 + 20, data: udpPacket("hello, wavnet"), dir: "out" as const },
    { ifId: 1, tsUs: T0 + 30, data: udpPacket("hello, wavnet"), dir: "in" as const },
    { ifId: 0, tsUs: T0 + 40, data: unknownEthertype(), dir: "out" as const },
  ];

  test("pcap: ARP, UDP/IPv4 with good checksums, unknown ethertype", { skip: tsharkSkip }, async () => {
    const file = join(tmp, "tshark.pcap");
    await writePcapFile(file, frames());
    const r = tsharkCheck(file, ["eth.type", "ip.checksum.status", "udp.checksum.status", "frame.time_epoch"]);
    assert.equal(r.fileType, "pcap");
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.warnings, []);
    assert.deepEqual(r.rows, [
      ["0x0806", "", "", "1700000000.123456000"],
      ["0x0806", "", "", "1700000000.123466000"],
      ["0x0800", "1", "1", "1700000000.123476000"], // checksum status 1 = good
      ["0x0800", "1", "1", "1700000000.123486000"],
      ["0x88b5", "", "", "1700000000.123496000"],
    ]);
  });

  test("pcapng: two named interfaces, descriptions, directions, good checksums", { skip: tsharkSkip }, async () => {
    const file = join(tmp, "tshark.pcapng");
    await writePcapngFile(file, [{ name: "epair0a", description: "vnet a" }, { name: "epair0b" }], frames());
    const r = tsharkCheck(file);
    assert.equal(r.fileType, "pcapng");
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.warnings, []);
    assert.deepEqual(r.rows, [
      ["epair0a", "0x0806"],
      ["epair0b", "0x0806"],
      ["epair0a", "0x0800"],
      ["epair0b", "0x0800"],
      ["epair0a", "0x88b5"],
    ]);
    const d = tsharkCheck(file, ["frame.interface_description", "frame.packet_flags_direction", "ip.checksum.status", "udp.checksum.status"]);
    assert.deepEqual(d.rows, [
      ["vnet a", OUT, "", ""],
      ["", IN, "", ""],
      ["vnet a", OUT, "1", "1"],
      ["", IN, "1", "1"],
      ["vnet a", OUT, "", ""],
    ]);
  });

  test("Capture into a shared PcapngSink reads back in tshark, with a statistics block each", { skip: tsharkSkip }, async () => {
    const file = join(tmp, "tshark-capture.pcapng");
    const sink = new PcapngSink(file);
    const a = new Capture({ ifName: "epair0a", epochUs: EPOCH }).toPcapng(sink);
    const b = new Capture({ ifName: "epair0b", epochUs: EPOCH }).toPcapng(sink);
    a.ingest(ring([{ data: arpRequest(), dir: "out", tsUs: 1 }, { data: udpPacket("q"), dir: "out", tsUs: 3 }]));
    b.ingest(ring([{ data: arpRequest(), dir: "in", tsUs: 2 }, { data: udpPacket("q"), dir: "in", tsUs: 4 }]));
    b.drops = 5;
    await a.stop();
    await b.stop();
    await sink.close();
    const r = tsharkCheck(file, ["frame.interface_name", "eth.type", "frame.packet_flags_direction"]);
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.rows, [
      ["epair0a", "0x0806", OUT],
      ["epair0a", "0x0800", OUT],
      ["epair0b", "0x0806", IN],
      ["epair0b", "0x0800", IN],
    ]);
    assert.deepEqual(readPcapng(readFileSync(file)).stats.map((s) => [s.ifId, s.ifRecv, s.ifDrop]), [[0, 2, 0], [1, 7, 5]]);
  });

  test("loopback: LINKTYPE_NULL with a little-endian AF_INET header decodes as IPv4", { skip: tsharkSkip }, async () => {
    const ipUdp = udpPacket("lo").subarray(14);
    const data = concat(loopbackHeader(AF_INET), ipUdp);
    const pcap = join(tmp, "lo0.pcap");
    const pcapng = join(tmp, "lo0.pcapng");
    await writePcapFile(pcap, [{ tsUs: T0, data }], { linktype: LINKTYPE_NULL });
    await writePcapngFile(pcapng, [{ name: "lo0", linktype: LINKTYPE_NULL }], [{ ifId: 0, tsUs: T0, data, dir: "out" }]);
    for (const file of [pcap, pcapng]) {
      const r = tsharkCheck(file, ["null.family", "ip.proto", "udp.checksum.status"]);
      assert.deepEqual(r.errors, [], file);
      assert.deepEqual(r.rows, [["2", "17", "1"]], file);
    }
  });

  test("a damaged file is reported as an error, not as rows", { skip: tsharkSkip }, async () => {
    const file = join(tmp, "damaged.pcapng");
    const w = new PcapngWriter();
    w.addInterface({ name: "eth0" });
    w.write(0, { tsUs: T0, data: udpPacket("x") });
    const b = w.toBuffer();
    new DataView(b.buffer, b.byteOffset, b.byteLength).setUint32(b.length - 4, 9999, true); // trailing total length no longer matches
    await writeFile(file, b);
    const r = tsharkCheck(file);
    assert.equal(r.errors.length, 1, JSON.stringify(r));
    assert.match(r.errors[0], /damaged|corrupt|length/i);
  });

  test("a file Wireshark takes for another format is an error", { skip: tsharkSkip }, async () => {
    const file = join(tmp, "garbage.pcapng");
    await writeFile(file, "garbage");
    const r = tsharkCheck(file);
    assert.ok(r.errors.some((e) => /not pcap or pcapng/.test(e)), JSON.stringify(r));
  });

  test("a bad UDP checksum is an expert error", { skip: tsharkSkip }, async () => {
    const file = join(tmp, "badsum.pcap");
    const bad = udpPacket("x");
    bad[bad.length - 3] ^= 0xff; // UDP checksum field: 8-byte UDP header ends 1 byte of payload earlier
    await writePcapFile(file, [{ tsUs: T0, data: bad }]);
    const r = tsharkCheck(file);
    assert.ok(r.errors.some((e) => /^frame 1: .*checksum/i.test(e)), JSON.stringify(r));
  });
});
