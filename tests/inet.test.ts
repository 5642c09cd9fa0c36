import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { Kernel, ConfigError, KernelError, ModuleBusyError, ModuleNotLoadedError } from "../host/index.js";
import {
  addAddress, delAddress, addresses, addRoute, addRoutes, delRoute, routes, routeGet, netstatRn, setForwarding, forwarding, arpTable,
  arpAn, arpDelete, ipStats, icmpStats, arpStats, netstatS, inetGauges, setIcmpLimit,
} from "../host/admin/inet.js";
import { addAddress6, routes6 } from "../host/admin/inet6.js";
import { ping, traceroute } from "../host/admin/ping.js";
import { snapshot } from "./helpers/snapshot.js";
import { bootInet, twoHosts, chain, clockOf, mbufsInUse, ipPacket, echoRequest, ether, icmp } from "./helpers/inet.js";

const ETHERTYPE_IP = 0x0800;

describe("inet addresses and routes", () => {
  test("every vnet gets 127.0.0.1/8 on lo0, including vnet0 and vnets made later", async () => {
    const k = await bootInet();
    const v = k.createVnet("v");
    for (const x of [k.vnet0, v]) {
      assert.deepEqual(addresses(k, x.interface("lo0")), [{ address: "127.0.0.1", prefixLength: 8, cidr: "127.0.0.1/8" }]);
      assert.deepEqual(routes(k, x).map((r) => `${r.destination} ${r.iface.name} ${r.flags}`), ["127.0.0.0/8 lo0 U"]);
    }
    const r = await ping(k, v, "127.0.0.1", { count: 2, intervalMs: 10 });
    assert.equal(r.received, 2);
    k.shutdown();
  });

  test("an address brings its connected route and broadcast; several per interface; delete takes the route with it", async () => {
    const { k, A, ea } = await twoHosts();
    addAddress(k, ea, "192.168.5.1/16");
    assert.deepEqual(addresses(k, ea), [
      { address: "10.0.0.1", prefixLength: 24, broadcast: "10.0.0.255", cidr: "10.0.0.1/24" },
      { address: "192.168.5.1", prefixLength: 16, broadcast: "192.168.255.255", cidr: "192.168.5.1/16" },
    ]);
    assert.deepEqual(routes(k, A).map((r) => r.destination), ["10.0.0.0/24", "192.168.0.0/16", "127.0.0.0/8"]);
    assert.equal(routes(k, A)[0].connected, true);
    delAddress(k, ea, "192.168.5.1");
    assert.deepEqual(routes(k, A).map((r) => r.destination), ["10.0.0.0/24", "127.0.0.0/8"]);
    assert.match(netstatRn(k, A), /10\.0\.0\.0\/24\s+link#2\s+U\s+epair0a/);
    k.shutdown();
  });

  test("addRoutes: many routes in batches of 512 make the table one-by-one addRoute makes; the first refused stops it with addRoute's error and its index", async () => {
    const { k, A, B, ea, eb } = await twoHosts(1, ["if_epair", "inet", "inet6"]);
    // 1,300 /24s through 10.0.0.2 (three buffers' worth), an IPv6 route among them.
    addAddress6(k, ea, "fd00::1/64");
    addAddress6(k, eb, "fd00::2/64");
    const list = Array.from({ length: 1300 }, (_, i) => ({ to: `172.${16 + (i >> 8)}.${i & 255}.0/24`, via: { gateway: "10.0.0.2" } }));
    list.splice(600, 0, { to: "fd00:9::/64", via: { gateway: "fd00::2" } });
    addRoutes(k, A, list);
    for (const r of list) addRoute(k, B, r.to, { gateway: r.to.includes(":") ? "fd00::1" : "10.0.0.1" });
    const table = (v: typeof A) => routes(k, v).map((r) => `${r.destination} ${r.flags}`).sort();
    assert.equal(routes(k, A).length, 1 + 1 + 1300, "the connected route, lo0's and every IPv4 one");
    assert.deepEqual(table(A), table(B));
    assert.ok(routes6(k, A).some((r) => r.destination === "fd00:9::/64"), "the IPv6 route in the middle went in too");

    // Refusals: by the kernel in the second buffer (a duplicate), and by the host (bad text).
    const again = Array.from({ length: 700 }, (_, i) => ({ to: `192.168.${i >> 6}.${(i & 63) * 4}/30`, via: { gateway: "10.0.0.2" } }));
    again[650] = { to: "172.16.5.0/24", via: { gateway: "10.0.0.2" } };
    let want: Error | undefined;
    try {
      addRoute(k, A, again[650]!.to, again[650]!.via);
    } catch (e) {
      want = e as Error;
    }
    let at = -1;
    assert.throws(() => addRoutes(k, A, again, (i, e) => {
      at = i;
      throw e;
    }), (e: unknown) => e instanceof KernelError && e.message === want!.message && /already has a route to 172\.16\.5\.0\/24/.test(e.message));
    assert.equal(at, 650);
    const have = new Set(routes(k, A).map((r) => r.destination));
    assert.ok(again.slice(0, 650).every((r) => have.has(r.to)), "the routes before the refused one are in");
    assert.ok(again.slice(651).every((r) => !have.has(r.to)), "none after it");
    assert.throws(() => addRoutes(k, A, [{ to: "10.7.0.0/16", via: { gateway: "10.0.0.2" } }, { to: "10.8.0.0/16", via: { gateway: "10.0.0.256" } }], (i, e) => {
      throw new Error(`#${i}: ${(e as Error).message}`);
    }), /^Error: #1: route add 10\.8\.0\.0\/16: gateway: "10\.0\.0\.256" is not an IPv4 address: 256 is over 255$/);
    assert.ok(routes(k, A).some((r) => r.destination === "10.7.0.0/16"), "the route before the bad text is in");
    assert.throws(() => addRoutes(k, A, [{ to: "10.9.0.0/16", via: { gateway: "10.5.0.2" } }]), (e: unknown) => e instanceof KernelError && /route add 10\.9\.0\.0\/16: gateway 10\.5\.0\.2 is not on a connected network/.test(e.message));
    k.shutdown();
  });

  test("bad addresses and routes are ConfigErrors naming the field; kernel refusals are KernelErrors", async () => {
    const { k, A, ea } = await twoHosts();
    assert.throws(() => addAddress(k, ea, "10.0.0.300/24"), (e: unknown) => e instanceof ConfigError && /"10\.0\.0\.300" is not an IPv4 address: 300 is over 255/.test(e.message));
    assert.throws(() => addAddress(k, ea, "10.0.0.9"), (e: unknown) => e instanceof ConfigError && /prefix length/.test(e.message));
    assert.throws(() => addAddress(k, ea, "10.0.0.9/33"), (e: unknown) => e instanceof ConfigError && /0-32/.test(e.message));
    assert.throws(() => addAddress(k, ea, "224.0.0.1/24"), (e: unknown) => e instanceof ConfigError && /multicast/.test(e.message));
    assert.throws(() => addAddress(k, ea, "10.0.0.255/24"), (e: unknown) => e instanceof ConfigError && /broadcast address/.test(e.message));
    assert.throws(() => addAddress(k, ea, "10.0.0.1/24"), (e: unknown) => e instanceof KernelError && /already an address/.test(e.message));
    assert.throws(() => addRoute(k, A, "10.1.0.1/16", { gateway: "10.0.0.2" }), (e: unknown) => e instanceof ConfigError && /host bits/.test(e.message));
    assert.throws(() => addRoute(k, A, "10.1.0.0/16", { gateway: "10.5.0.2" }), (e: unknown) => e instanceof KernelError && /not on a connected network/.test(e.message));
    assert.throws(() => addRoute(k, A, "10.1.0.0/16", {} as never), (e: unknown) => e instanceof ConfigError && /gateway/.test(e.message));
    addRoute(k, A, "10.1.0.0/16", { gateway: "10.0.0.2" });
    assert.throws(() => addRoute(k, A, "10.1.0.0/16", { gateway: "10.0.0.2" }), (e: unknown) => e instanceof KernelError && /already has a route/.test(e.message));
    assert.throws(() => delRoute(k, A, "10.0.0.0/24"), (e: unknown) => e instanceof KernelError && /connected route/.test(e.message));
    assert.throws(() => delRoute(k, A, "10.9.0.0/16"), (e: unknown) => e instanceof KernelError && /no route/.test(e.message));
    delRoute(k, A, "10.1.0.0/16");
    k.shutdown();
  });

  test("longest prefix wins; default route; interface routes; a static route goes with the address it depends on", async () => {
    const { k, A, ea } = await twoHosts();
    addRoute(k, A, "default", { gateway: "10.0.0.2" });
    addRoute(k, A, "10.8.0.0/16", { iface: ea });
    addRoute(k, A, "10.8.1.0/24", { gateway: "10.0.0.3" });
    addRoute(k, A, "10.8.1.7", { gateway: "10.0.0.4" });
    assert.equal(routeGet(k, A, "10.8.1.7")?.gateway, "10.0.0.4");
    assert.equal(routeGet(k, A, "10.8.1.8")?.gateway, "10.0.0.3");
    assert.equal(routeGet(k, A, "10.8.2.1")?.gateway, undefined);
    assert.equal(routeGet(k, A, "10.8.2.1")?.flags, "US");
    assert.equal(routeGet(k, A, "8.8.8.8")?.destination, "default");
    assert.equal(routeGet(k, A, "10.8.1.7")?.flags, "UGHS");
    delAddress(k, ea, "10.0.0.1");
    assert.deepEqual(routes(k, A).map((r) => r.destination), ["127.0.0.0/8"]);
    k.shutdown();
  });

  test("an interface leaving the vnet takes its addresses, routes and ARP entries", async () => {
    const { k, A, B, ea } = await twoHosts();
    await ping(k, A, "10.0.0.2", { count: 1 });
    assert.equal(arpTable(k, A).length, 1);
    addRoute(k, A, "10.7.0.0/16", { gateway: "10.0.0.2" });
    ea.moveTo(B);
    assert.deepEqual(routes(k, A).map((r) => r.destination), ["127.0.0.0/8"]);
    assert.equal(arpTable(k, A).length, 0);
    assert.deepEqual(addresses(k, ea), []);
    k.shutdown();
  });

  test("forwarding knob defaults off and is per vnet", async () => {
    const { k, A, B } = await twoHosts();
    assert.equal(forwarding(k, A), false);
    setForwarding(k, A, true);
    assert.equal(forwarding(k, A), true);
    assert.equal(forwarding(k, B), false);
    assert.throws(() => setForwarding(k, A, 1 as never), ConfigError);
    k.shutdown();
  });

  test("without the module the host API says so", async () => {
    const k = await Kernel.boot({ config: ["if_epair"] });
    assert.throws(() => routes(k, k.vnet0), ModuleNotLoadedError);
    k.shutdown();
  });
});

describe("ping and ARP", () => {
  test("ping between two vnets over an epair: ARP resolves, BSD ping text, rtt from kernel time with link delay", async () => {
    const { k, A, B, ea, eb } = await twoHosts();
    ea.setConditions({ delayUs: 250 });
    eb.setConditions({ delayUs: 250 });
    const r = await ping(k, A, "10.0.0.2", { count: 3, intervalMs: 1000 });
    assert.equal(r.transmitted, 3);
    assert.equal(r.received, 3);
    assert.deepEqual(r.replies.map((x) => x.seq), [0, 1, 2]);
    // First: ARP request and reply (2 x 250 us) before the echo goes out.
    assert.equal(r.replies[0].rttMs, 1);
    assert.equal(r.replies[1].rttMs, 0.5);
    assert.ok(r.replies.every((x) => x.ttl === 64 && x.bytes === 64 && x.payloadOk));
    assert.match(r.text, /^PING 10\.0\.0\.2 \(10\.0\.0\.2\): 56 data bytes$/m);
    assert.match(r.text, /^64 bytes from 10\.0\.0\.2: icmp_seq=1 ttl=64 time=0\.500 ms$/m);
    assert.match(r.text, /^--- 10\.0\.0\.2 ping statistics ---$/m);
    assert.match(r.text, /^3 packets transmitted, 3 packets received, 0\.0% packet loss$/m);
    assert.match(r.text, /^round-trip min\/avg\/max\/stddev = 0\.500\/0\.667\/1\.000\/0\.236 ms$/m);
    const arp = arpTable(k, A);
    assert.equal(arp.length, 1);
    assert.equal(arp[0].address, "10.0.0.2");
    assert.equal(arp[0].mac, eb.mac);
    assert.equal(arp[0].state, "reachable");
    assert.match(arpAn(k, A), /^\? \(10\.0\.0\.2\) at 02:00:00:00:00:0b on epair0a expires in 1198 seconds \[ethernet\]$/);
    // B learned A from A's request (it was the target).
    assert.equal(arpTable(k, B)[0].mac, ea.mac);
    assert.equal(arpStats(k, A).txrequests, 2, "gratuitous on address add + one resolution");
    assert.equal(arpStats(k, A).rxreplies, 1);
    assert.equal(icmpStats(k, B).reflect, 3);
    k.shutdown();
  });

  test("ARP entries expire after max_age (1200 s); the next packet resolves again", async () => {
    const { k, A } = await twoHosts();
    await ping(k, A, "10.0.0.2", { count: 1 });
    clockOf(k).advance(1_199_000_000);
    assert.equal(arpTable(k, A).length, 1);
    clockOf(k).advance(1_000_000);
    assert.equal(arpTable(k, A).length, 0);
    assert.equal(arpStats(k, A).timeouts, 1);
    const r = await ping(k, A, "10.0.0.2", { count: 1 });
    assert.equal(r.received, 1);
    assert.equal(arpStats(k, A).txrequests, 3);
    k.shutdown();
  });

  test("an unanswered ARP: a request a second, given up after 5, held packets dropped and counted; bounded hold queue", async () => {
    const { k, A } = await twoHosts();
    const r = await ping(k, A, "10.0.0.77", { count: 20, intervalMs: 0, timeoutMs: 10_000 });
    assert.equal(r.received, 0);
    const s = arpStats(k, A);
    assert.equal(s.txrequests, 1 + 5);
    assert.equal(s.giveups, 1);
    assert.equal(s.dropped, 20, "4 pushed out of the 16-packet hold queue, 16 dropped at give-up");
    assert.equal(arpTable(k, A).length, 0);
    assert.equal(mbufsInUse(k), 0);
    k.shutdown();
  });

  test("arp -d removes an entry", async () => {
    const { k, A, ea } = await twoHosts();
    await ping(k, A, "10.0.0.2", { count: 1 });
    arpDelete(k, ea, "10.0.0.2");
    assert.equal(arpTable(k, A).length, 0);
    assert.throws(() => arpDelete(k, ea, "10.0.0.2"), KernelError);
    k.shutdown();
  });

  test("ping works on a real clock", async () => {
    const k = await Kernel.boot({ config: ["if_epair", "inet"], clock: "real" });
    const A = k.createVnet("A");
    const B = k.createVnet("B");
    const [ea, eb] = k.epair(A, B);
    ea.setUp();
    eb.setUp();
    addAddress(k, ea, "10.0.0.1/24");
    addAddress(k, eb, "10.0.0.2/24");
    ea.setConditions({ delayUs: 2000 });
    const r = await ping(k, A, "10.0.0.2", { count: 2, intervalMs: 20, timeoutMs: 500 });
    assert.equal(r.received, 2);
    assert.ok(r.replies.every((x) => x.rttMs >= 2), `rtts ${r.replies.map((x) => x.rttMs)}`);
    k.shutdown();
  });
});

describe("forwarding through routers", () => {
  test("ping through A - R1 - R2 - R3 - B with static routes: TTL decremented per hop", async () => {
    const { k, A, R1, R2, R3 } = await chain();
    const r = await ping(k, A, "10.0.4.2", { count: 3, intervalMs: 100 });
    assert.equal(r.received, 3);
    assert.equal(r.replies[0].ttl, 64 - 3);
    for (const v of [R1, R2, R3]) assert.equal(ipStats(k, v).forward, 6, `${v.name} forwarded 3 requests and 3 replies`);
    assert.equal(mbufsInUse(k), 0);
    k.shutdown();
  });

  test("traceroute lists each hop's inbound address in order and reaches the destination", async () => {
    const { k, A } = await chain();
    const t = await traceroute(k, A, "10.0.4.2", { maxHops: 8 });
    assert.equal(t.reached, true);
    assert.deepEqual(t.hops.map((h) => h.address), ["10.0.1.2", "10.0.2.2", "10.0.3.2", "10.0.4.2"]);
    assert.ok(t.hops.every((h) => h.probes.length === 3 && h.probes.every((p) => p.from === h.address)));
    assert.match(t.text, /^traceroute to 10\.0\.4\.2 \(10\.0\.4\.2\), 8 hops max, 60 byte packets$/m);
    assert.match(t.text, /^ 2  10\.0\.2\.2  0\.000 ms  0\.000 ms  0\.000 ms$/m);
    k.shutdown();
  });

  test("TTL expiry: time exceeded from the router where it ran out (RFC 1812 5.3.1)", async () => {
    const { k, A, R2 } = await chain();
    const r = await ping(k, A, "10.0.4.2", { count: 1, ttl: 2 });
    assert.equal(r.received, 0);
    assert.deepEqual(r.errors.map((e) => [e.from, e.type, e.code, e.message]), [["10.0.2.2", 11, 0, "Time to live exceeded"]]);
    assert.match(r.text, /^10\.0\.2\.2: Time to live exceeded \(icmp_seq=0\)$/m);
    assert.equal(icmpStats(k, R2).outhist[11], 1);
    k.shutdown();
  });

  test("no route at a router: host unreachable back to the source; no route at the host: EHOSTUNREACH", async () => {
    const { k, A, R1 } = await chain();
    const r = await ping(k, A, "10.99.0.1", { count: 1 });
    assert.deepEqual(r.errors.map((e) => [e.from, e.message]), [["10.0.1.2", "Destination Host Unreachable"]]);
    assert.equal(ipStats(k, R1).noroute, 1);
    assert.equal(ipStats(k, R1).cantforward, 1);
    const B = k.vnets().find((v) => v.name === "B")!;
    delRoute(k, B, "default");
    const r2 = await ping(k, B, "10.99.0.1", { count: 1 });
    assert.deepEqual(r2.sendErrors, [{ seq: 0, error: "EHOSTUNREACH" }]);
    assert.match(r2.text, /ping: sendto: EHOSTUNREACH/);
    k.shutdown();
  });

  test("a router whose next hop never answers ARP sends host unreachable for the held packet", async () => {
    const { k, A, R1 } = await chain();
    const r = await ping(k, A, "10.0.2.99", { count: 1, timeoutMs: 8000 });
    assert.deepEqual(r.errors.map((e) => [e.from, e.message]), [["10.0.1.2", "Destination Host Unreachable"]]);
    assert.equal(arpStats(k, R1).giveups, 1);
    k.shutdown();
  });

  test("a host does not forward (ips_cantforward); routers never forward link-local or martian destinations", async () => {
    const { k, A, ea, eb } = await twoHosts();
    const B = eb.vnet;
    const pkt = ipPacket({ src: "10.0.0.1", dst: "10.5.5.5", payload: echoRequest(1, 1) });
    eb.receive(ether(ea, eb, ETHERTYPE_IP, pkt));
    assert.equal(ipStats(k, B).cantforward, 1);
    setForwarding(k, B, true);
    eb.receive(ether(ea, eb, ETHERTYPE_IP, ipPacket({ src: "10.0.0.1", dst: "169.254.1.1", payload: echoRequest(1, 1) })));
    assert.equal(ipStats(k, B).cantforward, 2);
    assert.equal(ipStats(k, A).total, 0);
    assert.equal(mbufsInUse(k), 0);
    k.shutdown();
  });
});

describe("fragmentation and reassembly", () => {
  test("a 60,000-byte echo is fragmented at MTU 1500 and reassembled byte-exact, both ways, through routers", async () => {
    const { k, A, B, R2 } = await chain();
    const r = await ping(k, A, "10.0.4.2", { count: 1, size: 60000 });
    assert.equal(r.received, 1);
    assert.equal(r.replies[0].bytes, 60008);
    assert.equal(r.replies[0].payloadOk, true, "every data byte came back as sent");
    const sa = ipStats(k, A);
    assert.equal(sa.fragmented, 1);
    assert.equal(sa.ofragments, Math.ceil(60008 / 1480));
    assert.equal(sa.reassembled, 1);
    assert.equal(ipStats(k, B).reassembled, 1);
    assert.equal(ipStats(k, R2).forward, 2 * Math.ceil(60008 / 1480), "routers forward fragments as they are");
    assert.equal(mbufsInUse(k), 0);
    k.shutdown();
  });

  test("a smaller MTU on the path: routers fragment again; with DF, fragmentation needed carries the next-hop MTU (RFC 1191)", async () => {
    const { k, A, R2, l3 } = await chain();
    l3[0].setMtu(1400);
    l3[1].setMtu(1400);
    const r = await ping(k, A, "10.0.4.2", { count: 1, size: 1472 });
    assert.equal(r.received, 1);
    assert.equal(r.replies[0].payloadOk, true);
    assert.equal(ipStats(k, R2).fragmented, 1);
    const d = await ping(k, A, "10.0.4.2", { count: 1, size: 1472, dontFragment: true });
    assert.equal(d.received, 0);
    assert.deepEqual(d.errors.map((e) => [e.from, e.type, e.code, e.mtu]), [["10.0.2.2", 3, 4, 1400]]);
    assert.match(d.text, /Frag needed and DF set \(MTU 1400\)/);
    assert.equal(ipStats(k, R2).cantfrag, 1);
    // DF on the sending host's own link: EMSGSIZE at once.
    const e = await ping(k, A, "10.0.4.2", { count: 1, size: 1473, dontFragment: true });
    assert.deepEqual(e.sendErrors, [{ seq: 0, error: "EMSGSIZE" }]);
    k.shutdown();
  });

  function frags(id: number, parts: [number, number, boolean][]): Uint8Array[] {
    // An echo request of 32 data bytes (40 ICMP bytes) cut as told: [offset, length, more].
    const whole = echoRequest(7, 1, 32);
    return parts.map(([off, len, mf]) => ipPacket({ id, off, mf, payload: whole.slice(off, off + len) }));
  }

  test("reassembly in any order delivers the datagram; the reply comes back", async () => {
    const { k, A, B, ea, eb } = await twoHosts();
    await ping(k, A, "10.0.0.2", { count: 1 });
    const before = icmpStats(k, B).reflect;
    for (const f of frags(0x100, [[24, 16, false], [0, 16, true], [16, 8, true]])) eb.receive(ether(ea, eb, ETHERTYPE_IP, f));
    assert.equal(ipStats(k, B).reassembled, 1);
    assert.equal(icmpStats(k, B).reflect, before + 1);
    assert.equal(inetGauges(k, B).reassembling, 0);
    assert.equal(mbufsInUse(k), 0);
    k.shutdown();
  });

  test("reassembly timeout after 30 s: fragments dropped, ICMP time exceeded (reassembly) for the first fragment", async () => {
    const { k, A, B, ea, eb } = await twoHosts();
    await ping(k, A, "10.0.0.2", { count: 1 });
    for (const f of frags(0x200, [[0, 16, true], [16, 8, true]])) eb.receive(ether(ea, eb, ETHERTYPE_IP, f));
    assert.equal(inetGauges(k, B).reassembling, 1);
    clockOf(k).advance(29_999_999);
    assert.equal(inetGauges(k, B).reassembling, 1);
    clockOf(k).advance(1);
    assert.equal(inetGauges(k, B).reassembling, 0);
    assert.equal(ipStats(k, B).fragtimeout, 2);
    assert.equal(icmpStats(k, B).outhist[11], 1);
    assert.equal(icmpStats(k, A).inhist[11], 1, "A got the time exceeded (reassembly)");
    assert.equal(mbufsInUse(k), 0);
    // Without the first fragment there is no error to send.
    eb.receive(ether(ea, eb, ETHERTYPE_IP, frags(0x201, [[16, 8, true]])[0]));
    clockOf(k).advance(30_000_000);
    assert.equal(icmpStats(k, B).outhist[11], 1);
    assert.equal(ipStats(k, B).fragtimeout, 3);
    k.shutdown();
  });

  test("overlapping fragments drop the whole datagram; an exact duplicate is dropped alone", async () => {
    const { k, A, B, ea, eb } = await twoHosts();
    await ping(k, A, "10.0.0.2", { count: 1 });
    for (const f of frags(0x300, [[0, 16, true], [8, 16, true]])) eb.receive(ether(ea, eb, ETHERTYPE_IP, f));
    assert.equal(ipStats(k, B).fragdropped, 2);
    assert.equal(inetGauges(k, B).reassembling, 0);
    // The rest of that datagram arrives: never reassembled.
    eb.receive(ether(ea, eb, ETHERTYPE_IP, frags(0x300, [[24, 16, false]])[0]));
    assert.equal(ipStats(k, B).reassembled, 0);
    clockOf(k).advance(30_000_000);
    const dup = frags(0x301, [[0, 16, true], [0, 16, true], [16, 8, true], [24, 16, false]]);
    for (const f of dup) eb.receive(ether(ea, eb, ETHERTYPE_IP, f));
    assert.equal(ipStats(k, B).fragdropped, 2 + 1, "the overlap (both fragments), then the duplicate");
    assert.equal(ipStats(k, B).fragtimeout, 1, "the straggler of the overlapping datagram");
    assert.equal(ipStats(k, B).reassembled, 1);
    assert.equal(mbufsInUse(k), 0);
    k.shutdown();
  });
});

describe("ICMP", () => {
  test("errors are rate limited per vnet (net.inet.icmp.icmplim)", async () => {
    const { k, A, R1 } = await chain();
    setIcmpLimit(k, R1, 5);
    const r = await ping(k, A, "10.0.4.2", { count: 20, intervalMs: 0, ttl: 1, timeoutMs: 100 });
    assert.equal(r.errors.length, 5);
    assert.equal(icmpStats(k, R1).ratelimited, 15);
    clockOf(k).advance(1_000_000);
    const r2 = await ping(k, A, "10.0.4.2", { count: 3, intervalMs: 0, ttl: 1, timeoutMs: 100 });
    assert.equal(r2.errors.length, 3, "the bucket refilled");
    k.shutdown();
  });

  test("unknown protocol: ICMP protocol unreachable, counted as ips_noproto", async () => {
    const { k, A, B, ea, eb } = await twoHosts();
    await ping(k, A, "10.0.0.2", { count: 1 });
    eb.receive(ether(ea, eb, ETHERTYPE_IP, ipPacket({ proto: 200, payload: new Uint8Array(12) })));
    assert.equal(ipStats(k, B).noproto, 1);
    assert.equal(icmpStats(k, B).outhist[3], 1);
    assert.equal(icmpStats(k, A).inhist[3], 1);
    k.shutdown();
  });

  test("never an error about an ICMP error (RFC 1122 3.2.2)", async () => {
    const { k, A, B, ea, eb } = await twoHosts();
    await ping(k, A, "10.0.0.2", { count: 1 });
    // A time exceeded message, sent to a protocol-less destination behind no route: B has
    // no route, but must not answer an ICMP error with another.
    const inner = ipPacket({ src: "10.0.0.2", dst: "10.0.0.1", payload: echoRequest(1, 1, 8) });
    const err = icmp(11, 0, 0, inner);
    setForwarding(k, B, true);
    eb.receive(ether(ea, eb, ETHERTYPE_IP, ipPacket({ dst: "10.50.0.1", payload: err })));
    assert.equal(icmpStats(k, B).oldicmp, 1);
    assert.equal(icmpStats(k, B).outhist[3], 0);
    k.shutdown();
  });

  test("netstat -s text for ip, icmp and arp", async () => {
    const { k, A } = await twoHosts();
    await ping(k, A, "10.0.0.2", { count: 2, intervalMs: 10 });
    const ip = netstatS(k, A, "ip");
    assert.match(ip, /^\t2 total packets received$/m);
    assert.match(ip, /^\t2 packets sent from this host$/m);
    assert.match(netstatS(k, A, "icmp"), /Output histogram:\n\t\techo: 2/);
    assert.match(netstatS(k, A, "arp"), /^\t2 ARP requests sent$/m);
    assert.throws(() => netstatS(k, A, "sctp" as never), ConfigError);
    k.shutdown();
  });
});

describe("inet as a module", () => {
  test("kldload inet into live vnets gives each IPv4; kldunload removes it everywhere with zero leaks", async () => {
    const k = await Kernel.boot({ config: ["if_epair"] });
    const A = k.createVnet("A");
    const B = k.createVnet("B");
    const [ea, eb] = k.epair(A, B);
    ea.setUp();
    eb.setUp();
    k.reclaim();
    const before = snapshot(k);
    for (let round = 0; round < 2; round++) {
      await k.kldload("inet");
      for (const v of [k.vnet0, A, B]) assert.equal(addresses(k, v.interface("lo0"))[0].cidr, "127.0.0.1/8");
      addAddress(k, ea, "10.0.0.1/24");
      addAddress(k, eb, "10.0.0.2/24");
      addRoute(k, A, "default", { gateway: "10.0.0.2" });
      const r = await ping(k, A, "10.0.0.2", { count: 2, intervalMs: 100, size: 3000 });
      assert.equal(r.received, 2);
      // Leave state behind on purpose: a pending ARP resolution with a held packet, a
      // datagram being reassembled, the ping log.
      await ping(k, A, "10.0.0.66", { count: 1, timeoutMs: 0 });
      eb.receive(ether(ea, eb, ETHERTYPE_IP, ipPacket({ off: 0, mf: true, payload: new Uint8Array(16) })));
      k.kldunload("inet");
      k.reclaim();
      assert.deepEqual(snapshot(k), before, `round ${round}: nothing left behind`);
    }
    k.shutdown();
  });

  test("a vnet destroyed with routes, ARP entries, held packets, fragments and a ping log leaks nothing", async () => {
    const { k, A, B, ea, eb } = await twoHosts();
    await ping(k, A, "10.0.0.2", { count: 1 });
    await ping(k, A, "10.0.0.66", { count: 3, intervalMs: 0, timeoutMs: 0 });
    addRoute(k, A, "default", { gateway: "10.0.0.2" });
    eb.receive(ether(ea, eb, ETHERTYPE_IP, ipPacket({ off: 0, mf: true, payload: new Uint8Array(16) })));
    A.destroy();
    B.destroy();
    assert.equal(mbufsInUse(k), 0);
    assert.equal(k.k.callout_pending_count(), 0);
    k.shutdown();
  });

  test("MOD_QUIESCE refuses while an upper protocol is registered", async () => {
    const k = await bootInet();
    const x = k.module<{ ipproto_register(p: number, i: number, c: number): number; ipproto_unregister(p: number): number }>("inet");
    assert.equal(x.ipproto_register(253, 1, 0), 0);
    assert.equal(x.ipproto_register(253, 1, 0), -17);
    assert.throws(() => k.kldunload("inet"), ModuleBusyError);
    assert.equal(x.ipproto_unregister(253), 0);
    k.kldunload("inet");
    k.shutdown();
  });

  test("the runtime heap does not move while traffic runs (no managed allocation)", async () => {
    // (tests/heap_top.test.ts does the same for every module of GENERIC.)
    const { k, A } = await chain();
    const tops = () => [k.heapTop(), ...k.kldstat().map((m) => k.module<{ kmod_heap_top(): number }>(m.name).kmod_heap_top())];
    const before = tops();
    await ping(k, A, "10.0.4.2", { count: 20, intervalMs: 10, size: 4000 });
    await traceroute(k, A, "10.0.4.2", { maxHops: 5, queries: 1 });
    assert.deepEqual(tops(), before, "the kernel's, inet's and if_epair's heap tops");
    k.shutdown();
  });
});
