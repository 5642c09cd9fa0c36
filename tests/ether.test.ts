import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { Kernel, parseMac, type Interface, type Vnet, type EtherStats } from "../host/index.js";

function frame(dst: string, src: string, type: number, payload = 46): Uint8Array {
  const f = new Uint8Array(14 + payload);
  f.set(parseMac(dst), 0);
  f.set(parseMac(src), 6);
  f[12] = type >> 8;
  f[13] = type & 0xff;
  for (let i = 14; i < f.length; i++) f[i] = i & 0xff;
  return f;
}

function vlan(dst: string, src: string, vid: number, inner: number, payload = 46): Uint8Array {
  const f = new Uint8Array(18 + payload);
  f.set(parseMac(dst), 0);
  f.set(parseMac(src), 6);
  f.set([0x81, 0x00, (vid >> 8) & 0x0f, vid & 0xff, inner >> 8, inner & 0xff], 12);
  return f;
}

const PEER = "02:aa:bb:cc:dd:01";
const BCAST = "ff:ff:ff:ff:ff:ff";

interface Case {
  name: string;
  make(me: string): Uint8Array;
  /** The vnet counter that must go up by one. */
  stat: keyof EtherStats;
  /** The interface counter that must go up by one. */
  counter: "ierrors" | "noproto" | "iqdrops";
  down?: boolean;
}

const cases: Case[] = [
  { name: "runt: 10 bytes, shorter than a header", make: () => new Uint8Array(10).fill(0x55), stat: "runt", counter: "ierrors" },
  { name: "runt: 13 bytes", make: (me) => frame(me, PEER, 0x88b5).subarray(0, 13), stat: "runt", counter: "ierrors" },
  { name: "oversize: MTU + header + 1", make: (me) => frame(me, PEER, 0x88b5, 1501), stat: "oversize", counter: "ierrors" },
  { name: "oversize: jumbo on a 1500 link", make: (me) => frame(me, PEER, 0x88b5, 9000), stat: "oversize", counter: "ierrors" },
  { name: "802.3 length field larger than the frame", make: (me) => frame(me, PEER, 1000, 46), stat: "badlen", counter: "ierrors" },
  { name: "802.3 length field of 1499 in a short frame", make: (me) => frame(me, PEER, 1499, 100), stat: "badlen", counter: "ierrors" },
  { name: "source MAC all zeros", make: (me) => frame(me, "00:00:00:00:00:00", 0x88b5), stat: "badsrc", counter: "ierrors" },
  { name: "source MAC multicast", make: (me) => frame(me, "01:00:5e:00:00:01", 0x88b5), stat: "badsrc", counter: "ierrors" },
  { name: "source MAC broadcast", make: (me) => frame(me, BCAST, 0x88b5), stat: "badsrc", counter: "ierrors" },
  { name: "unicast to another station", make: () => frame("02:12:34:56:78:9a", PEER, 0x88b5), stat: "notforus", counter: "iqdrops" },
  { name: "802.1Q tagged, no VLAN interface", make: (me) => vlan(me, PEER, 10, 0x0800), stat: "vlan", counter: "noproto" },
  { name: "802.1Q tag cut short", make: (me) => vlan(me, PEER, 10, 0x0800).subarray(0, 16), stat: "runt", counter: "ierrors" },
  { name: "unknown ethertype (no module)", make: (me) => frame(me, PEER, 0x88b5), stat: "noproto", counter: "noproto" },
  { name: "IPv4 with inet not loaded", make: (me) => frame(me, PEER, 0x0800), stat: "noproto", counter: "noproto" },
  { name: "honest 802.3 length (no LLC handler)", make: (me) => frame(me, PEER, 46, 46), stat: "noproto", counter: "noproto" },
  { name: "interface down", make: (me) => frame(me, PEER, 0x88b5), stat: "down", counter: "iqdrops", down: true },
];

async function setup(): Promise<{ k: Kernel; a: Vnet; b: Vnet; ea: Interface; eb: Interface }> {
  const k = await Kernel.boot({ config: "BARE" });
  await k.kldload("if_epair");
  const a = k.createVnet("a");
  const b = k.createVnet("b");
  const [ea, eb] = k.epair(a, b);
  ea.setUp();
  eb.setUp();
  return { k, a, b, ea, eb };
}

describe("Ethernet input: bad frames are dropped and counted, nothing leaks", () => {
  for (const c of cases) {
    test(c.name, async () => {
      const { k, b, eb } = await setup();
      if (c.down) eb.setDown();
      const mbufs = () => k.vmstatZ().filter((z) => z.name.startsWith("mbuf")).reduce((s, z) => s + z.used, 0);
      const m0 = mbufs();
      const s0 = b.etherStats();
      const c0 = eb.counters();
      assert.equal(eb.receive(c.make(eb.mac)), 0);
      const s1 = b.etherStats();
      const c1 = eb.counters();
      assert.equal(s1[c.stat], s0[c.stat] + 1, `etherstat ${c.stat}`);
      for (const other of Object.keys(s1) as (keyof EtherStats)[]) if (other !== c.stat) assert.equal(s1[other], s0[other], `etherstat ${other} unchanged`);
      assert.equal(c1[c.counter], c0[c.counter] + 1, `if counter ${c.counter}`);
      assert.equal(mbufs(), m0, "every mbuf freed");
      k.shutdown();
    });
  }

  test("a broadcast frame is counted as a multicast reception and delivered up", async () => {
    const { k, b, eb } = await setup();
    eb.receive(frame(BCAST, PEER, 0x88b5));
    const c = eb.counters();
    assert.equal(c.imcasts, 1);
    assert.equal(c.ipackets, 1);
    assert.equal(b.etherStats().noproto, 1);
    k.shutdown();
  });

  test("frames sent on one end arrive on the other in its vnet; the largest legal frame passes", async () => {
    const { k, a, b, ea, eb } = await setup();
    assert.equal(ea.send(frame(eb.mac, ea.mac, 0x88b5, 1500)), 0);
    assert.equal(eb.counters().ipackets, 1);
    assert.equal(eb.counters().ibytes, 1514);
    assert.equal(ea.counters().opackets, 1);
    assert.equal(b.etherStats().noproto, 1);
    assert.equal(a.etherStats().noproto, 0);
    // Larger than the sender's MTU: refused at output, counted, freed.
    assert.notEqual(ea.send(frame(eb.mac, ea.mac, 0x88b5, 1600)), 0);
    assert.equal(ea.counters().oerrors, 1);
    k.shutdown();
  });
});
