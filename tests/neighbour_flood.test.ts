// Neighbour caches under a flood (issue 14, item 5; assembly/sys/llatbl.ts): spoofed ARP
// requests and NSs for our address make only "unsolicited" entries, which stay under
// gc_thresh2 by replacing each other, so they never push out an entry in use or a
// resolution in progress, and a new neighbour resolves within a second; our own resolutions
// evict up to gc_thresh3. The audit's numbers: 16,384 of each filled the tables for 20
// minutes (ARP) and a day (ND).
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { arpTable, arpStats, arpGcThresh, ping, socket, epairConditions } from "../host/index.js";
import { arpPacket, ether, mbufsInUse } from "./helpers/inet.js";
import { neighbourPair as pair, arpFlood, nsFlood, resolveMs, spoofMac, spoofIp } from "./helpers/floods.js";
import { ip6Packet, icmp6, cat, parseIPv6, nd6Stats, ndpTable, nd6GcThresh } from "./helpers/inet6.js";

const FLOOD = 16_384;
const ETHERTYPE_ARP = 0x0806;
const ETHERTYPE_IPV6 = 0x86dd;

describe("ARP cache under a flood of spoofed requests", () => {
  test("16,384 spoofed requests: unsolicited entries stay at gc_thresh2 (512); a new neighbour resolves within a second", async () => {
    const { k, B, eb } = await pair();
    assert.deepEqual(arpGcThresh(k, B), { thresh1: 128, thresh2: 512, thresh3: 1024 });
    arpFlood(eb, FLOOD);
    assert.equal(arpTable(k, B).length, 512);
    const s = arpStats(k, B);
    assert.equal(s.evicted, FLOOD - 512, "each request past gc_thresh2 replaced the oldest unsolicited entry");
    assert.equal(s.tablefull, 0);
    const ms = await resolveMs(k, B, "10.0.0.1");
    assert.ok(ms < 1000, `B reached its new neighbour A in ${ms} ms`);
    assert.equal(arpStats(k, B).dropped, 0);
    k.shutdown();
  });

  test("an entry in use survives the flood", async () => {
    const { k, B, eb } = await pair();
    assert.equal((await ping(k, B, "10.0.0.1", { count: 1 })).received, 1);
    const asked = arpStats(k, B).txrequests;
    arpFlood(eb, FLOOD);
    assert.equal((await ping(k, B, "10.0.0.1", { count: 1 })).received, 1);
    assert.equal(arpStats(k, B).txrequests, asked, "A's entry was kept: B did not ask again");
    k.shutdown();
  });

  test("a resolution in progress is not pushed out by the flood", async () => {
    const { k, A, B, ea, eb, clk } = await pair();
    // A resolves B (new to it); B's reply takes 20 ms, and meanwhile the flood hits A.
    epairConditions(k, eb, { delayUs: 20_000 });
    const rx = socket(k, B, "inet", "dgram").bind("0.0.0.0", 9);
    const tx = socket(k, A, "inet", "dgram");
    tx.sendto("waits for ARP", "10.0.0.2", 9);
    for (let i = 0; i < FLOOD; i++) {
      const mac = spoofMac(i);
      ea.receive(ether(mac, "ff:ff:ff:ff:ff:ff", ETHERTYPE_ARP, arpPacket({ sha: mac, spa: spoofIp(i), tpa: "10.0.0.1" })));
    }
    assert.ok(arpTable(k, A).some((e) => e.address === "10.0.0.2" && e.mac === undefined), "still resolving when the flood is over");
    clk.advance(100_000);
    assert.equal(new TextDecoder().decode(rx.recv() ?? new Uint8Array()), "waits for ARP", "delivered once B's reply came back");
    assert.equal(arpStats(k, A).dropped, 0);
    rx.close();
    tx.close();
    k.shutdown();
  });

  test("gc_thresh1/2/3 are per-vnet knobs; unsolicited entries made past gc_thresh1 go after 60 s; own resolutions evict at gc_thresh3", async () => {
    const { k, A, B, eb, clk } = await pair();
    assert.deepEqual(arpGcThresh(k, B, { thresh1: 4, thresh2: 8, thresh3: 16 }), { thresh1: 4, thresh2: 8, thresh3: 16 });
    assert.deepEqual(arpGcThresh(k, A), { thresh1: 128, thresh2: 512, thresh3: 1024 }, "A keeps its own");
    assert.throws(() => arpGcThresh(k, B, { thresh2: 20 }), /thresh1 <= thresh2 <= thresh3/);
    arpFlood(eb, 6);
    assert.equal(arpTable(k, B).length, 6);
    clk.advance(61_000_000);
    assert.equal(arpTable(k, B).length, 4, "the two made at or past gc_thresh1 lived 60 s, the first four live on");
    arpFlood(eb, 100, 6);
    assert.equal(arpTable(k, B).length, 8, "gc_thresh2: the oldest unsolicited entry makes room");
    clk.advance(61_000_000);
    assert.equal(arpTable(k, B).length, 0, "all made past gc_thresh1");
    // Own resolutions (20 addresses nobody has) evict up to gc_thresh3, then one that answers.
    const tx = socket(k, B, "inet", "dgram");
    for (let i = 0; i < 20; i++) tx.sendto("x", `10.0.200.${i}`, 9);
    assert.ok(arpTable(k, B).length <= 16);
    assert.ok(arpStats(k, B).evicted >= 8);
    const ms = await resolveMs(k, B, "10.0.0.1");
    assert.ok(ms < 1000, `${ms} ms`);
    tx.close();
    clk.advance(10_000_000);
    assert.equal(mbufsInUse(k), 0);
    k.shutdown();
  });
});

describe("ND cache under a flood of spoofed solicitations", () => {
  test("16,384 spoofed NSs with a link-layer option: unsolicited entries stay at gc_thresh2 (512); a new neighbour resolves within a second", async () => {
    const { k, B, eb } = await pair();
    assert.deepEqual(nd6GcThresh(k, B), { thresh1: 128, thresh2: 512, thresh3: 1024 });
    nsFlood(eb, FLOOD);
    assert.equal(ndpTable(k, B).length, 512);
    const s = nd6Stats(k, B);
    assert.equal(s.evicted, FLOOD - 512);
    assert.equal(s.tablefull, 0);
    const ms = await resolveMs(k, B, "fd00::1");
    assert.ok(ms < 1000, `B reached its new neighbour A in ${ms} ms`);
    assert.equal(nd6Stats(k, B).dropped, 0);
    k.shutdown();
  });

  test("a resolution in progress is not pushed out by the flood; an NS without a link-layer option or for another target makes no entry", async () => {
    const { k, A, B, ea, eb, clk } = await pair();
    epairConditions(k, eb, { delayUs: 20_000 });
    const rx = socket(k, B, "inet6", "dgram").bind("::", 9);
    const tx = socket(k, A, "inet6", "dgram");
    tx.sendto("waits for ND", "fd00::2", 9);
    // The flood goes to A this time (A is resolving B).
    const dst = "ff02::1:ff00:1";
    for (let i = 0; i < FLOOD; i++) {
      const src = `fd00::5f:${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}`;
      const mac = spoofMac(i);
      const body = cat(parseIPv6("fd00::1", "target"), Uint8Array.from([1, 1, ...mac.split(":").map((h) => parseInt(h, 16))]));
      ea.receive(ether(mac, "33:33:ff:00:00:01", ETHERTYPE_IPV6, ip6Packet({ src, dst, hlim: 255, payload: icmp6(src, dst, 135, 0, 0, body) })));
    }
    clk.advance(100_000);
    assert.equal(new TextDecoder().decode(rx.recv() ?? new Uint8Array()), "waits for ND");
    assert.equal(nd6Stats(k, A).dropped, 0);
    // RFC 4861 7.2.3: no link-layer option, or not our target: no entry.
    const before = ndpTable(k, B).length;
    const src = "fd00::77";
    eb.receive(ether(spoofMac(1), "33:33:ff:00:00:02", ETHERTYPE_IPV6, ip6Packet({ src, dst: "ff02::1:ff00:2", hlim: 255, payload: icmp6(src, "ff02::1:ff00:2", 135, 0, 0, parseIPv6("fd00::2", "t")) })));
    const body = cat(parseIPv6("fd00::99", "target"), Uint8Array.from([1, 1, 2, 0x5f, 0, 0, 0, 9]));
    eb.receive(ether(spoofMac(9), "33:33:ff:00:00:99", ETHERTYPE_IPV6, ip6Packet({ src, dst: "ff02::1:ff00:99", hlim: 255, payload: icmp6(src, "ff02::1:ff00:99", 135, 0, 0, body) })));
    assert.equal(ndpTable(k, B).length, before);
    rx.close();
    tx.close();
    k.shutdown();
  });

  test("nd6_gc_thresh1/2/3 are per-vnet knobs; unsolicited entries made past gc_thresh1 go after 60 s", async () => {
    const { k, A, B, eb, clk } = await pair();
    nd6GcThresh(k, B, { thresh1: 4, thresh2: 8, thresh3: 16 });
    assert.deepEqual(nd6GcThresh(k, A), { thresh1: 128, thresh2: 512, thresh3: 1024 });
    nsFlood(eb, 6);
    clk.advance(61_000_000);
    assert.equal(ndpTable(k, B).length, 4, "the two made at or past gc_thresh1 lived 60 s, the first four live on");
    nsFlood(eb, 100, 6);
    assert.equal(ndpTable(k, B).length, 8);
    clk.advance(61_000_000);
    assert.equal(ndpTable(k, B).length, 0);
    const ms = await resolveMs(k, B, "fd00::1");
    assert.ok(ms < 1000, `${ms} ms`);
    k.shutdown();
  });
});
