// ICMP timestamp requests (RFC 792) are answered, as FreeBSD does by default, unless the
// vnet's net.inet.icmp.tstamprepl is off (issue 14, item 12).
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { icmpStats, netstatS, setIcmpTstampRepl, icmpTstampRepl, type Interface, type VirtualClock } from "../host/index.js";
import { twoHosts, ipPacket, icmp, ether, cksum, mbufsInUse } from "./helpers/inet.js";

const ETHERTYPE_IP = 0x0800;

/** A timestamp request (type 13) from 10.0.0.1, id/seq and an originate time, to dst. */
function tstampRequest(dst = "10.0.0.2", dataLen = 12): Uint8Array {
  const times = new Uint8Array(dataLen);
  new DataView(times.buffer).setUint32(0, 0x01020304); // originate
  return ipPacket({ dst, payload: icmp(13, 0, (0x77 << 16) | 5, times) });
}

/** Frames leaving `out` while fn runs. */
async function sent(out: Interface, fn: () => void): Promise<Uint8Array[]> {
  const got: Uint8Array[] = [];
  const cap = out.capture();
  const reading = (async () => {
    for await (const f of cap) if (f.dir === "out") got.push(f.data);
  })();
  fn();
  await cap.stop();
  await reading;
  return got;
}

const icmpOut = (frames: Uint8Array[]) => frames.filter((f) => f[12] === 8 && f[13] === 0 && f[23] === 1);

describe("ICMP timestamp (RFC 792)", () => {
  test("a request is answered by default: type 14, id/seq and originate kept, receive = transmit = ms since boot with the high bit set; counted", async () => {
    const { k, A, B, ea, eb } = await twoHosts();
    assert.equal(icmpTstampRepl(k, B), true, "net.inet.icmp.tstamprepl defaults to 1");
    const clk = k.clock as VirtualClock;
    clk.advance(12_345_678); // kernel time 12,345.678 ms
    const before = icmpStats(k, B);
    const frames = icmpOut(await sent(eb, () => void eb.receive(ether(ea, eb, ETHERTYPE_IP, tstampRequest()))));
    assert.equal(frames.length, 1, "one reply");
    const f = frames[0];
    const dv = new DataView(f.buffer, f.byteOffset);
    const icmpAt = 14 + 20;
    assert.deepEqual([f[icmpAt], f[icmpAt + 1], dv.getUint16(icmpAt + 4), dv.getUint16(icmpAt + 6)], [14, 0, 0x77, 5]);
    assert.equal(dv.getUint32(26), 0x0a000002, "from B");
    assert.equal(dv.getUint32(30), 0x0a000001, "to A");
    assert.equal(dv.getUint32(icmpAt + 8), 0x01020304, "originate time echoed");
    const ms = Math.floor(clk.now() / 1000);
    assert.equal(dv.getUint32(icmpAt + 12), (0x80000000 | ms) >>> 0, "receive time");
    assert.equal(dv.getUint32(icmpAt + 16), (0x80000000 | ms) >>> 0, "transmit time");
    assert.equal(cksum(f, icmpAt, 20), 0, "ICMP checksum");
    const after = icmpStats(k, B);
    assert.equal(after.inhist[13] - before.inhist[13], 1);
    assert.equal(after.outhist[14] - before.outhist[14], 1);
    assert.equal(after.reflect - before.reflect, 1);
    assert.match(netstatS(k, B, "icmp"), /\t\ttime stamp reply: 1/);
    assert.equal(icmpStats(k, A).inhist[14], 1, "A received it");
    assert.equal(mbufsInUse(k), 0);
    k.shutdown();
  });

  test("net.inet.icmp.tstamprepl=0 silences them, per vnet; back on, answered again", async () => {
    const { k, A, B, ea, eb } = await twoHosts();
    setIcmpTstampRepl(k, B, false);
    assert.equal(icmpTstampRepl(k, B), false);
    assert.equal(icmpTstampRepl(k, A), true, "A's knob is its own");
    const inject = () => void eb.receive(ether(ea, eb, ETHERTYPE_IP, tstampRequest()));
    assert.equal(icmpOut(await sent(eb, inject)).length, 0);
    assert.equal(icmpStats(k, B).outhist[14], 0);
    assert.equal(icmpStats(k, B).inhist[13], 1, "received and counted all the same");
    setIcmpTstampRepl(k, B, true);
    assert.equal(icmpOut(await sent(eb, inject)).length, 1);
    assert.equal(icmpStats(k, B).outhist[14], 1);
    assert.equal(mbufsInUse(k), 0);
    k.shutdown();
  });

  test("never to a broadcast (bmcasttstamp), never from a message too short for three times (badlen)", async () => {
    const { k, B, ea, eb } = await twoHosts();
    const frames = await sent(eb, () => {
      eb.receive(ether(ea, "ff:ff:ff:ff:ff:ff", ETHERTYPE_IP, tstampRequest("10.0.0.255")));
      eb.receive(ether(ea, eb, ETHERTYPE_IP, tstampRequest("10.0.0.2", 8)));
    });
    assert.equal(icmpOut(frames).length, 0);
    const s = icmpStats(k, B);
    assert.equal(s.bmcasttstamp, 1);
    assert.equal(s.badlen, 1);
    assert.equal(s.outhist[14], 0);
    assert.match(netstatS(k, B, "icmp"), /\t1 multicast timestamp requests ignored/);
    assert.equal(mbufsInUse(k), 0);
    k.shutdown();
  });
});
