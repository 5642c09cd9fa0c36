import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Kernel, readPcap, readPcapng, PcapngSink, ConfigError } from "../host/index.js";
import { tsharkCheck, tsharkSkip } from "./helpers/tshark.js";

const dir = mkdtempSync(join(tmpdir(), "wavnet-cap-"));
process.on("exit", () => { if (!process.env.WAVNET_KEEP_CAPTURES) rmSync(dir, { recursive: true, force: true }); });

// An IPv4 header (20 bytes, checksum right) with no payload, to 127.0.0.1.
function ipv4(id: number): Uint8Array {
  const h = Uint8Array.from([0x45, 0, 0, 20, id >> 8, id & 0xff, 0, 0, 64, 253, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1]);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += (h[i] << 8) | h[i + 1];
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
  const c = ~sum & 0xffff;
  h[10] = c >> 8;
  h[11] = c & 0xff;
  return h;
}

function dltNull(af: number, pkt: Uint8Array): Uint8Array {
  const f = new Uint8Array(4 + pkt.length);
  new DataView(f.buffer).setUint32(0, af, true);
  f.set(pkt, 4);
  return f;
}

describe("capture on an interface", () => {
  test("every frame on lo0 reaches the capture with its timestamp, in order, as a pcap file", async () => {
    const k = await Kernel.boot({ config: "BARE" });
    const lo = k.vnet0.interface("lo0");
    const file = join(dir, "lo0.pcap");
    const cap = lo.capture({ pcap: file });
    const seen: number[] = [];
    const it = (async () => {
      for await (const f of cap) seen.push(f.kernelTsUs);
    })();
    for (let i = 0; i < 5; i++) {
      (k.clock as import("../host/index.js").VirtualClock).advance(1000);
      lo.send(dltNull(2, ipv4(i)));
    }
    await cap.stop();
    await it;
    assert.equal(cap.frames, 5);
    assert.equal(cap.drops, 0);
    assert.deepEqual(seen, [1000, 2000, 3000, 4000, 5000]);
    const pcap = readPcap(await import("node:fs").then((fs) => fs.readFileSync(file)));
    assert.equal(pcap.linktype, 0, "loopback captures are DLT_NULL");
    assert.equal(pcap.packets.length, 5);
    assert.deepEqual([...pcap.packets[0].data.subarray(0, 4)], [2, 0, 0, 0]);
    k.shutdown();
  });

  test("a full ring drops frames and counts them, never overwrites", async () => {
    const k = await Kernel.boot({ config: "BARE" });
    const lo = k.vnet0.interface("lo0");
    const cap = lo.capture({ ringSegments: 1 });
    // Inside one kernel entry nothing drains: 2,000 frames of 48+ bytes do not fit 64 KiB.
    const big = dltNull(2, new Uint8Array(200));
    const x = k.k as unknown as { kern_iobuf(): number; ifh_send(ifp: number, len: number): number };
    const mem = () => new Uint8Array(k.memory.buffer, x.kern_iobuf(), big.length);
    mem().set(big);
    let sent = 0;
    k.enter(() => {
      for (let i = 0; i < 2000; i++) if (x.ifh_send(lo.ptr, big.length) === 0) sent++;
    });
    await cap.stop();
    assert.equal(sent, 2000);
    assert.ok(cap.drops > 0, "some dropped");
    assert.equal(cap.frames + cap.drops, 2000);
    k.shutdown();
  });

  test("two captures into one pcapng file get an interface block each; tshark reads it cleanly", { skip: tsharkSkip }, async () => {
    const k = await Kernel.boot({ config: "BARE" });
    const a = k.createVnet("a");
    const file = join(dir, "two.pcapng");
    const sink = new PcapngSink(file);
    const c0 = k.vnet0.interface("lo0").capture({ pcapng: sink });
    const c1 = a.interface("lo0").capture({ pcapng: sink });
    k.vnet0.interface("lo0").send(dltNull(2, ipv4(1)));
    a.interface("lo0").send(dltNull(2, ipv4(2)));
    a.interface("lo0").send(dltNull(2, ipv4(3)));
    await c0.stop();
    await c1.stop();
    await sink.close();
    const r = tsharkCheck(file, ["frame.interface_name", "ip.id"]);
    assert.deepEqual(r.errors, []);
    assert.equal(r.fileType, "pcapng");
    assert.deepEqual(r.rows, [["lo0", "0x0001"], ["a:lo0", "0x0002"], ["a:lo0", "0x0003"]]);
    const png = readPcapng((await import("node:fs")).readFileSync(file));
    assert.equal(png.interfaces.length, 2);
    k.shutdown();
  });

  test("capture options are checked", async () => {
    const k = await Kernel.boot({ config: "BARE" });
    const lo = k.vnet0.interface("lo0");
    assert.throws(() => lo.capture({ snaplen: 5 }), (e: unknown) => e instanceof ConfigError && /snaplen/.test(e.message));
    assert.throws(() => lo.capture({ ringSegments: 0 }), (e: unknown) => e instanceof ConfigError && /ringSegments/.test(e.message));
    k.shutdown();
  });

  test("a capture survives its interface's vnet going away and ends cleanly", async () => {
    const k = await Kernel.boot({ config: "BARE" });
    const a = k.createVnet("a");
    const cap = a.interface("lo0").capture();
    a.interface("lo0").send(dltNull(2, ipv4(9)));
    a.destroy();
    await cap.stop();
    assert.equal(cap.frames, 1);
    k.reclaim();
    k.shutdown();
  });
});

/** An Ethernet frame carrying IPv4/UDP with right IPv4 and UDP checksums. */
function udpFrame(dst: Uint8Array, src: Uint8Array, id: number, payload: Uint8Array): Uint8Array {
  const ipLen = 20 + 8 + payload.length;
  const f = new Uint8Array(14 + ipLen);
  f.set(dst, 0);
  f.set(src, 6);
  f.set([0x08, 0x00], 12);
  const ip = f.subarray(14);
  ip.set([0x45, 0, ipLen >> 8, ipLen & 0xff, id >> 8, id & 0xff, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
  const sum = (b: Uint8Array, init = 0) => {
    let s = init;
    for (let i = 0; i < b.length; i += 2) s += (b[i] << 8) | (i + 1 < b.length ? b[i + 1] : 0);
    while (s > 0xffff) s = (s & 0xffff) + (s >> 16);
    return s;
  };
  const ipc = ~sum(ip.subarray(0, 20)) & 0xffff;
  ip[10] = ipc >> 8;
  ip[11] = ipc & 0xff;
  const udp = ip.subarray(20);
  const ulen = 8 + payload.length;
  // Ports 50000 -> 50001: no Wireshark dissector claims them, so the payload shows as data.
  udp.set([0xc3, 0x50, 0xc3, 0x51, ulen >> 8, ulen & 0xff, 0, 0]);
  udp.set(payload, 8);
  // Pseudo-header: addresses, protocol, UDP length.
  const pseudo = sum(Uint8Array.from([10, 0, 0, 1, 10, 0, 0, 2, 0, 17, ulen >> 8, ulen & 0xff]));
  let uc = ~sum(udp, pseudo) & 0xffff;
  if (uc === 0) uc = 0xffff;
  udp[6] = uc >> 8;
  udp[7] = uc & 0xff;
  return f;
}

describe("capture on an epair", () => {
  test("both directions of an epair, as pcapng with names and directions; tshark finds no errors", { skip: tsharkSkip }, async () => {
    const k = await Kernel.boot({ config: "GENERIC", seed: 3 });
    const a = k.createVnet("a");
    const b = k.createVnet("b");
    const [ea, eb] = k.epair(a, b);
    ea.setUp();
    eb.setUp();
    ea.setConditions({ delayUs: 2000 });
    const file = join(dir, "epair.pcapng");
    const sink = new PcapngSink(file);
    const ca = ea.capture({ pcapng: sink });
    const cb = eb.capture({ pcapng: sink });
    const macA = parseMacBytes(ea.mac);
    const macB = parseMacBytes(eb.mac);
    for (let i = 0; i < 3; i++) ea.send(udpFrame(macB, macA, 100 + i, new TextEncoder().encode(`hello ${i}`)));
    eb.send(udpFrame(macA, macB, 200, new TextEncoder().encode("back")));
    (k.clock as import("../host/index.js").VirtualClock).advance(10_000);
    await ca.stop();
    await cb.stop();
    await sink.close();
    const r = tsharkCheck(file, ["frame.interface_name", "frame.packet_flags_direction", "ip.id", "udp.length"]);
    assert.deepEqual(r.errors, []);
    // a: 3 out, 1 in; b: 3 in (2 ms later), 1 out; in time order.
    const byIf = (n: string) => r.rows.filter((row) => row[0] === n).map((row) => [row[1], row[2]]);
    assert.deepEqual(byIf("a:epair0a"), [["0x00000002", "0x0064"], ["0x00000002", "0x0065"], ["0x00000002", "0x0066"], ["0x00000001", "0x00c8"]]);
    assert.deepEqual(byIf("b:epair0b"), [["0x00000002", "0x00c8"], ["0x00000001", "0x0064"], ["0x00000001", "0x0065"], ["0x00000001", "0x0066"]]);
    const png = readPcapng((await import("node:fs")).readFileSync(file));
    const tsIn = png.packets.filter((p) => p.dir === "in" && p.ifId === 1).map((p) => p.tsUs);
    const tsOut = png.packets.filter((p) => p.dir === "out" && p.ifId === 0).map((p) => p.tsUs);
    assert.deepEqual(tsIn.map((t, i) => t - tsOut[i]), [2000, 2000, 2000], "the 2 ms delay is in the timestamps");
    k.shutdown();
  });
});

function parseMacBytes(mac: string): Uint8Array {
  return Uint8Array.from(mac.split(":").map((x) => parseInt(x, 16)));
}
