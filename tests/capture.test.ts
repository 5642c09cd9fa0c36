import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Kernel, readPcap, readPcapng, PcapngSink, ConfigError } from "../host/index.js";
import { tsharkCheck, tsharkSkip } from "./helpers/tshark.js";

const dir = mkdtempSync(join(tmpdir(), "wavnet-cap-"));
process.on("exit", () => rmSync(dir, { recursive: true, force: true }));

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
