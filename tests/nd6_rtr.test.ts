// Router discovery and SLAAC (RFC 4861 6, RFC 4862 5.5; assembly/netinet6/nd6_rtr.ts): a host
// interface with accept_rtadv solicits, takes a router's advertisement (default route via
// the router's link-local address, the prefix's address from its MAC, the MTU) and ages it
// in virtual time; a router interface advertises periodically and answers solicitations;
// malformed RAs are counted (badra) and change nothing; nothing is left after a vnet goes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Kernel, type Interface, type Vnet, type VirtualClock } from "../host/index.js";
import { ip6Stats, parseIPv6, formatIPv6, addAddress6, addresses6, addRoute6, delAddress6, delRoute6, routes6, routeGet6, setForwarding6, icmp6Stats, nd6Stats, ndpTable, ifconfigInet6Lines } from "../host/admin/inet6.js";
import { setAcceptRtadv, acceptRtadvDefault, advertise, ndIfinfo, defaultRouters, prefixList6 } from "../host/admin/rtadv.js";
import { ping6 } from "../host/admin/ping.js";
import { parseMac } from "../host/admin/ifnet.js";
import { ConfigError } from "../host/lib/errors.js";
import { raPacket, ip6Packet, cksum6, cat } from "./helpers/inet6.js";
import { ether, mbufsInUse } from "./helpers/inet.js";

const clock = (k: Kernel) => k.clock as VirtualClock;
const sec = (k: Kernel, s: number) => clock(k).advance(Math.round(s * 1_000_000));
const linkLocal = (i: Interface) => addresses6(i.kernel, i).find((a) => a.linkLocal)!.address.split("%")[0];

/** prefix (a /64 such as "fd00:1::") + the modified EUI-64 identifier of the interface's MAC (RFC 4291 appendix A). */
function slaacAddr(prefix: string, i: Interface): string {
  const m = parseMac(i.mac);
  const a = parseIPv6(prefix, "prefix");
  a.set([m[0] ^ 2, m[1], m[2], 0xff, 0xfe, m[3], m[4], m[5]], 8);
  return formatIPv6(a);
}

/** H (host) - R (router) - S (server): R advertises fd00:1::/64 on rh, forwards; S is fd00:2::2 behind it. */
async function lab(adv: Parameters<typeof advertise>[2] = { prefixes: [{ prefix: "fd00:1::/64" }], mtu: 1400 }) {
  const k = await Kernel.boot({ config: ["if_epair", "inet6"], seed: 7 });
  const [H, R, S] = ["H", "R", "S"].map((n) => k.createVnet(n));
  const [h, rh] = k.epair(H, R);
  const [rs, s] = k.epair(R, S);
  for (const i of [h, rh, rs, s]) i.setUp();
  addAddress6(k, rh, "fd00:1::1/64");
  addAddress6(k, rs, "fd00:2::1/64");
  addAddress6(k, s, "fd00:2::2/64");
  addRoute6(k, S, "default", { gateway: "fd00:2::1" });
  setForwarding6(k, R, true);
  sec(k, 2); // DAD done everywhere
  if (adv) advertise(k, rh, adv);
  return { k, H, R, S, h, rh, rs, s };
}

/** An RA from a router at fe80::4242 (MAC 00:00:5e:00:53:42) arriving on e. */
function ra(e: Interface, o: Omit<Parameters<typeof raPacket>[0], "src"> & { src?: string }): number {
  return e.receive(ether("00:00:5e:00:53:42", e, 0x86dd, raPacket({ src: "fe80::4242", sll: parseMac("00:00:5e:00:53:42"), ...o })));
}

async function host() {
  const k = await Kernel.boot({ config: ["if_epair", "inet6"], seed: 3 });
  const H = k.createVnet("H");
  const [h] = k.epair(H);
  h.setUp();
  setAcceptRtadv(k, h);
  sec(k, 2);
  return { k, H, h };
}

test("a SLAAC host solicits, gets its address and default route from the router's RA, and pings a remote prefix through it", async () => {
  const { k, H, R, S, h, rh } = await lab();
  sec(k, 40); // past the router's three initial RAs: the next periodic one is minutes away
  const rsin0 = nd6Stats(k, R).rsin;
  setAcceptRtadv(k, h); // ifconfig h inet6 accept_rtadv: up already, so it solicits now
  sec(k, 1.6); // the RS within 1 s (RFC 4861 6.3.7), the answer within 0.5 s (6.2.6)
  assert.equal(nd6Stats(k, H).rsout, 1, "one solicitation so far");
  assert.equal(nd6Stats(k, R).rsin - rsin0, 1, "the router heard it");
  const mine = slaacAddr("fd00:1::", h);
  const a = addresses6(k, h).find((x) => x.address === mine);
  assert.ok(a, `${mine} formed from the prefix and the MAC: ${JSON.stringify(addresses6(k, h))}`);
  assert.deepEqual([a.prefixLength, a.flags.includes("autoconf")], [64, true]);
  assert.ok(a.vltime! <= 2592000 && a.vltime! >= 2591998 && a.pltime! <= 604800 && a.pltime! >= 604798, `the default lifetimes, less the second since: ${a.vltime} ${a.pltime}`);
  const def = routes6(k, H).find((r) => r.destination === "default");
  assert.equal(def?.gateway, `${linkLocal(rh)}%${h.name}`, "default route via the router's link-local address");
  assert.equal(def?.flags, "UG");
  assert.equal(defaultRouters(k, H)[0]?.address, `${linkLocal(rh)}%${h.name}`);
  assert.equal(ndIfinfo(k, h).linkMtu, 1400, "the MTU option applies");
  assert.equal(ndpTable(k, H).find((n) => n.address === `${linkLocal(rh)}%${h.name}`)?.router, true, "the router's entry, flagged a router");
  const p = await ping6(k, H, "fd00:2::2", { count: 2 });
  assert.equal(p.received, 2, p.text);
  // The MTU option binds: 1400 bytes of echo leave in fragments although the epair's MTU is 1500.
  const f0 = ip6Stats(k, H).fragmented;
  assert.equal((await ping6(k, H, "fd00:2::2", { count: 1, size: 1400 })).received, 1);
  assert.equal(ip6Stats(k, H).fragmented - f0, 1, "fragmented to the advertised link MTU");
  assert.equal(routeGet6(k, H, "fd00:2::2")?.source, mine, "from the SLAAC address");
  sec(k, 10);
  assert.equal(nd6Stats(k, H).rsout, 1, "the answer stopped the other two solicitations (4 s apart, RFC 4861 6.3.7)");
  void S;
  k.shutdown();
});

test("a router advertises periodically, its first RAs at most 16 s apart, then within [MinRtrAdvInterval, MaxRtrAdvInterval]; it ignores RAs", async () => {
  const { k, R, rh, h, H } = await lab({ prefixes: [{ prefix: "fd00:1::/64" }], maxInterval: 100, minInterval: 60 });
  sec(k, 0.5);
  assert.equal(nd6Stats(k, R).raout, 1, "the first within MAX_RA_DELAY_TIME of starting");
  sec(k, 16);
  assert.equal(nd6Stats(k, R).raout, 2, "the second initial one 16 s later (MAX_INITIAL_RTR_ADVERT_INTERVAL)");
  sec(k, 16);
  assert.equal(nd6Stats(k, R).raout, 3);
  sec(k, 59);
  assert.equal(nd6Stats(k, R).raout, 3, "then not before MinRtrAdvInterval");
  sec(k, 41.1);
  assert.equal(nd6Stats(k, R).raout, 4, "and by MaxRtrAdvInterval");
  assert.equal(nd6Stats(k, H).rain, 0, "the host does not accept RAs until told");
  assert.deepEqual(defaultRouters(k, H), []);
  // The router's own interface ignores an RA (it advertises).
  ra(rh, { prefixes: [{ prefix: "fd00:9::" }] });
  assert.deepEqual(defaultRouters(k, R), []);
  assert.ok(!addresses6(k, rh).some((a) => a.address.startsWith("fd00:9:")));
  advertise(k, rh, false);
  const n = nd6Stats(k, R).raout;
  assert.equal(n, 5, "stopping sends a last RA (router lifetime 0)");
  sec(k, 1000);
  assert.equal(nd6Stats(k, R).raout, n, "and no more");
  void h;
  k.shutdown();
});

test("an RS is answered: a host that comes up after the initial RAs has its router within 1.5 s", async () => {
  const { k, R, H, h } = await lab({ prefixes: [{ prefix: "fd00:1::/64" }], maxInterval: 1800, minInterval: 1350 });
  sec(k, 40); // past the three initial RAs: the next periodic one is over 1,300 s away
  const out0 = nd6Stats(k, R).raout;
  h.setDown();
  setAcceptRtadv(k, h);
  h.setUp();
  sec(k, 1.5);
  assert.equal(nd6Stats(k, R).raout - out0, 1, "one RA, the answer");
  assert.equal(defaultRouters(k, H).length, 1);
  k.shutdown();
});

test("lifetimes run in virtual time: deprecated after the preferred lifetime, gone after the valid one; the router's lifetime ends", async () => {
  const { k, H, h } = await host();
  ra(h, { lifetime: 30, prefixes: [{ prefix: "2001:db8:ffff:1000::", valid: 10, preferred: 5 }] });
  const mine = slaacAddr("2001:db8:ffff:1000::", h);
  let a = addresses6(k, h).find((x) => x.address === mine);
  assert.deepEqual([a?.pltime, a?.vltime, a?.flags.includes("deprecated")], [5, 10, false]);
  assert.match(ifconfigInet6Lines(k, h).join("\n"), new RegExp(`inet6 ${mine} prefixlen 64 .*autoconf pltime 5 vltime 10`));
  sec(k, 1.1); // DAD after its random delay (at most 1 s) and RetransTimer
  sec(k, 5);
  a = addresses6(k, h).find((x) => x.address === mine);
  assert.deepEqual([a?.flags.includes("deprecated"), a?.pltime], [true, 0], "deprecated after 5 s");
  assert.match(ifconfigInet6Lines(k, h).join("\n"), new RegExp(`inet6 ${mine} prefixlen 64 deprecated autoconf pltime 0 vltime [1-9]`));
  // Deprecated: chosen only when nothing else fits (a second prefix's address is preferred).
  ra(h, { lifetime: 30, prefixes: [{ prefix: "2001:db8:ffff:2000::" }] });
  assert.equal(routeGet6(k, H, "2001:db8:ffff:1000::99")?.source, slaacAddr("2001:db8:ffff:2000::", h), "RFC 6724 rule 3");
  sec(k, 5);
  assert.ok(!addresses6(k, h).some((x) => x.address === mine), "gone after 10 s");
  assert.ok(!routes6(k, H).some((r) => r.destination === "2001:db8:ffff:1000::/64"), "its prefix route went with it");
  assert.ok(routes6(k, H).some((r) => r.destination === "default"));
  sec(k, 19);
  assert.ok(routes6(k, H).some((r) => r.destination === "default"), "the second RA renewed the router lifetime");
  sec(k, 6);
  assert.ok(!routes6(k, H).some((r) => r.destination === "default"), "the router lifetime (30 s from the second RA) ended: no default route");
  assert.deepEqual(defaultRouters(k, H), []);
  k.shutdown();
});

test("RFC 4862 5.5.3 e: a short valid lifetime does not cut a long remaining one below two hours; a longer one extends", async () => {
  const { k, h } = await host();
  const mine = slaacAddr("fd00:5::", h);
  ra(h, { prefixes: [{ prefix: "fd00:5::", valid: 10000, preferred: 100 }] });
  ra(h, { prefixes: [{ prefix: "fd00:5::", valid: 100, preferred: 50 }] });
  let a = addresses6(k, h).find((x) => x.address === mine);
  assert.deepEqual([a?.vltime, a?.pltime], [7200, 50], "two hours, not 100 s; the preferred lifetime is taken as is");
  ra(h, { prefixes: [{ prefix: "fd00:5::", valid: 9000, preferred: 50 }] });
  a = addresses6(k, h).find((x) => x.address === mine);
  assert.equal(a?.vltime, 9000, "over two hours: taken");
  ra(h, { prefixes: [{ prefix: "fd00:5::", valid: 0, preferred: 0 }] });
  a = addresses6(k, h).find((x) => x.address === mine);
  assert.equal(a?.vltime, 7200, "0 is not taken either: two hours");
  k.shutdown();
});

test("bad RAs are counted in badra and change nothing: hop limit, source, code, length, option length", async () => {
  const { k, H, h } = await host();
  const pfx = [{ prefix: "fd00:7::" }];
  const bad0 = icmp6Stats(k, H).badra;
  const rain0 = nd6Stats(k, H).rain;
  ra(h, { hlim: 254, prefixes: pfx });
  ra(h, { src: "fd00::4242", prefixes: pfx });
  ra(h, { code: 1, prefixes: pfx });
  ra(h, { truncate: 12 });
  ra(h, { prefixes: pfx, extra: new Uint8Array([3, 0, 0, 0, 0, 0, 0, 0]) }); // an option of length 0
  ra(h, { prefixes: pfx, extra: new Uint8Array([3, 4, 0, 0, 0, 0, 0, 0]) }); // one running past the message
  assert.equal(icmp6Stats(k, H).badra - bad0, 6);
  assert.equal(nd6Stats(k, H).rain - rain0, 0);
  assert.deepEqual(defaultRouters(k, H), []);
  assert.deepEqual(prefixList6(k, H), []);
  // Ignored without a count: a prefix with preferred > valid, a link-local prefix; an MTU under 1280 or over the link's.
  ra(h, { lifetime: 0, mtu: 1000, prefixes: [{ prefix: "fd00:8::", valid: 10, preferred: 20 }, { prefix: "fe80::" }] });
  ra(h, { lifetime: 0, mtu: 9000 });
  assert.equal(icmp6Stats(k, H).badra - bad0, 6);
  assert.deepEqual(prefixList6(k, H), []);
  assert.equal(ndIfinfo(k, h).linkMtu, undefined);
  assert.deepEqual(defaultRouters(k, H), [], "router lifetime 0: not a default router");
  // The same RA well formed is taken.
  ra(h, { prefixes: pfx });
  assert.equal(nd6Stats(k, H).rain - rain0, 3, "the two RAs with nothing usable count as accepted, and this one");
  assert.equal(defaultRouters(k, H).length, 1);
  k.shutdown();
});

test("on-link only (L, no A) and /48 prefixes: an on-link route, no address; route flush and a new RA bring the default route back", async () => {
  const { k, H, h } = await host();
  ra(h, { prefixes: [{ prefix: "fd00:a::", flags: 0x80, valid: 20, preferred: 10 }, { prefix: "fd00:b::", plen: 48 }] });
  const rts = routes6(k, H);
  assert.ok(rts.some((r) => r.destination === "fd00:a::/64" && r.iface.name === h.name));
  assert.ok(rts.some((r) => r.destination === "fd00:b::/48"), "on-link /48");
  assert.equal(addresses6(k, h).filter((a) => !a.linkLocal).length, 0, "no address from a non-autonomous or a /48 prefix");
  ra(h, { prefixes: [{ prefix: "fd00:c::", plen: 48, flags: 0x40 }] });
  assert.ok(!prefixList6(k, H).some((p) => p.prefix === "fd00:c::/48"), "autonomous, not on-link, not a /64: not listed");
  delRoute6(k, H, "default"); // route -6 flush
  assert.ok(!routes6(k, H).some((r) => r.destination === "default"));
  ra(h, {});
  assert.ok(routes6(k, H).some((r) => r.destination === "default"), "the next RA puts it back");
  sec(k, 21);
  assert.ok(!routes6(k, H).some((r) => r.destination === "fd00:a::/64"), "on-link ended with its valid lifetime");
  k.shutdown();
});

test("an address made by hand on the prefix is left alone; a SLAAC address deleted by hand takes nothing else with it", async () => {
  const { k, H, h } = await host();
  const mine = slaacAddr("fd00:c::", h);
  addAddress6(k, h, `${mine}/64`);
  ra(h, { prefixes: [{ prefix: "fd00:c::", valid: 10, preferred: 5 }] });
  sec(k, 11);
  assert.ok(addresses6(k, h).some((a) => a.address === mine), "not aged: it was not made by SLAAC");
  delAddress6(k, h, mine);
  ra(h, { prefixes: [{ prefix: "fd00:d::" }] });
  delAddress6(k, h, slaacAddr("fd00:d::", h));
  assert.ok(routes6(k, H).some((r) => r.destination === "fd00:d::/64"), "the prefix stays on-link");
  assert.equal(prefixList6(k, H).find((p) => p.prefix === "fd00:d::/64")?.hasAddress, false);
  k.shutdown();
});

test("net.inet6.ip6.accept_rtadv: interfaces that come up afterwards accept RAs", async () => {
  const { k, H, R, h } = await lab();
  acceptRtadvDefault(k, H, true);
  h.setDown();
  h.setUp();
  sec(k, 2);
  assert.equal(ndIfinfo(k, h).acceptRtadv, true);
  assert.equal(defaultRouters(k, H).length, 1);
  assert.throws(() => advertise(k, h, { maxInterval: 3 }), ConfigError);
  assert.throws(() => advertise(k, h, { prefixes: [{ prefix: "fd00::/64", validLifetime: 5, preferredLifetime: 6 }] }), /past validLifetime/);
  assert.throws(() => advertise(k, h, { prefixes: [{ prefix: "fe80::/64" }] }), /link-local/);
  void R;
  k.shutdown();
});

test("vnets destroyed with routers, prefixes, SLAAC addresses and advertising leave nothing: no items, no callouts", async () => {
  const k0 = await Kernel.boot({ config: ["if_epair", "inet6"], seed: 7 });
  const base = Object.fromEntries(k0.vmstatZ().map((x) => [x.name, x.used]));
  k0.shutdown();
  const { k, H, R, S } = await lab();
  const h = H.interfaces().find((i) => i.name.startsWith("epair"))!;
  setAcceptRtadv(k, h);
  sec(k, 2);
  ra(h, { prefixes: [{ prefix: "fd00:e::", valid: 100, preferred: 50 }] }); // a second router, a second prefix
  const acct = H.accounting();
  assert.equal(acct.items["nd_defrouter"], 2, JSON.stringify(acct.items));
  assert.equal(acct.items["nd_prefix"], 2);
  assert.equal(acct.items["nd_ifinfo"], 1);
  assert.equal(R.accounting().items["nd_ifinfo"], 1);
  for (const v of [H, R, S] as Vnet[]) v.destroy();
  assert.equal(mbufsInUse(k), 0);
  assert.equal(k.k.callout_pending_count(), 0);
  const z = Object.fromEntries(k.vmstatZ().map((x) => [x.name, x.used]));
  assert.deepEqual([z["nd_defrouter"], z["nd_prefix"], z["nd_ifinfo"], z["in6_ifaddr"], z["rt6entry"]], [0, 0, 0, base["in6_ifaddr"], base["rt6entry"]], "what vnet0 had at boot");
  k.shutdown();
});

/** A router solicitation from src on e (RFC 4861 4.1), with a source link-layer option when sll. */
function rs(e: Interface, o: { src: string; sll?: boolean; hlim?: number; code?: number }): number {
  const opt = o.sll ? cat(new Uint8Array([1, 1]), parseMac("02:00:00:00:77:77")) : new Uint8Array(0);
  const m = cat(new Uint8Array([133, o.code ?? 0, 0, 0, 0, 0, 0, 0]), opt);
  new DataView(m.buffer).setUint16(2, cksum6(parseIPv6(o.src, "s"), parseIPv6("ff02::2", "d"), 58, m));
  return e.receive(ether("02:00:00:00:77:77", "33:33:00:00:00:02", 0x86dd, ip6Packet({ src: o.src, dst: "ff02::2", nxt: 58, hlim: o.hlim ?? 255, payload: m })));
}

test("router solicitations are checked (RFC 4861 6.1.1): from :: without a link-layer option, hop limit 255, code 0; hosts ignore them", async () => {
  const { k, R, rh, h, H } = await lab();
  sec(k, 40);
  const s0 = icmp6Stats(k, R);
  const n0 = nd6Stats(k, R);
  rs(rh, { src: "::", sll: true });
  rs(rh, { src: "fe80::7777", code: 1 });
  assert.equal(icmp6Stats(k, R).badrs - s0.badrs, 2);
  rs(rh, { src: "fe80::7777", sll: true, hlim: 64 });
  assert.equal(icmp6Stats(k, R).ndhlim - s0.ndhlim, 1);
  assert.equal(nd6Stats(k, R).rsin - n0.rsin, 0);
  sec(k, 1);
  assert.equal(nd6Stats(k, R).raout - n0.raout, 0, "no answer to a bad one");
  rs(rh, { src: "fe80::7777", sll: true });
  assert.equal(nd6Stats(k, R).rsin - n0.rsin, 1);
  assert.equal(ndpTable(k, R).find((e) => e.address === `fe80::7777%${rh.name}`)?.mac, "02:00:00:00:77:77", "the solicitor's MAC learned");
  rs(rh, { src: "::" });
  sec(k, 0.6);
  assert.equal(nd6Stats(k, R).raout - n0.raout, 1, "two solicitations at once, one answer within MAX_RA_DELAY_TIME");
  rs(rh, { src: "::" });
  sec(k, 2.3);
  assert.equal(nd6Stats(k, R).raout - n0.raout, 1, "the next answer waits for MIN_DELAY_BETWEEN_RAS (3 s)");
  sec(k, 0.8);
  assert.equal(nd6Stats(k, R).raout - n0.raout, 2, "and then comes");
  rs(h, { src: "fe80::7777", sll: true });
  assert.equal(nd6Stats(k, H).rsin, 0, "a host discards solicitations");
  k.shutdown();
});

test("a flood of RAs from different routers lists at most 16 (counted rtrfull); SLAAC's DAD probe waits a random delay", async () => {
  const { k, H, h } = await host();
  for (let i = 0; i < 20; i++) {
    const src = `fe80::99:${i + 1}`;
    h.receive(ether("00:00:5e:00:53:42", h, 0x86dd, raPacket({ src, prefixes: [{ prefix: `fd00:99:${i}::` }] })));
  }
  assert.equal(defaultRouters(k, H).length, 16);
  assert.equal(prefixList6(k, H).length, 20);
  assert.equal(nd6Stats(k, H).rtrfull, 4);
  for (let i = 20; i < 70; i++) h.receive(ether("00:00:5e:00:53:42", h, 0x86dd, raPacket({ src: "fe80::99:1", prefixes: [{ prefix: `fd00:99:${i}::` }] })));
  assert.equal(prefixList6(k, H).length, 64, "prefixes stop at 64");
  k.shutdown();
  const t = await host();
  const d0 = nd6Stats(t.k, t.H).dadns;
  ra(t.h, { prefixes: [{ prefix: "fd00:f::" }] });
  assert.equal(nd6Stats(t.k, t.H).dadns - d0, 0, "no probe at once (RFC 4862 5.4.2)");
  assert.ok(addresses6(t.k, t.h).find((a) => a.address === slaacAddr("fd00:f::", t.h))?.flags.includes("tentative"));
  sec(t.k, 1);
  assert.equal(nd6Stats(t.k, t.H).dadns - d0, 1, "within MAX_RTR_SOLICITATION_DELAY");
  sec(t.k, 1);
  assert.ok(!addresses6(t.k, t.h).find((a) => a.address === slaacAddr("fd00:f::", t.h))?.flags.includes("tentative"), "preferred after RetransTimer");
  t.k.shutdown();
});

test("topology files: slaac and advertise on an interface; a bad prefix is an error at its line, and so is either in a NOINET6 kernel", async () => {
  const { parseTopology, Topology, TopologyError } = await import("../host/topology/index.js");
  const file = (kernel: string, pfx: string) => `kernel: ${kernel}
nodes:
  - name: h
    interfaces:
      - { name: eth0, slaac: true }
  - name: r
    role: router
    interfaces:
      - { name: eth0, advertise: ["${pfx}"] }
links:
  - endpoints: [h:eth0, r:eth0]
`;
  assert.throws(() => parseTopology(file("GENERIC", "10.0.0.0/24")), (e: Error) => e instanceof TopologyError && /:9:35: nodes\[1\].interfaces\[0\].advertise\[0\]/.test(e.message) && /IPv6 prefix/.test(e.message));
  await assert.rejects(Topology.up(parseTopology(file("NOINET6", "fd00:1::/64"))), /slaac: inet6 is not in this kernel/);
  const t = await Topology.up(parseTopology(file("GENERIC", "fd00:1::/64")));
  clock(t.kernel).advance(3_000_000);
  const h = t.node("h");
  const mine = slaacAddr("fd00:1::", h.iface("eth0"));
  assert.ok(addresses6(t.kernel, h.iface("eth0")).some((a) => a.address === mine), "h formed its address from r's prefix");
  assert.equal(defaultRouters(t.kernel, h.vnet).length, 1);
  const report = await t.down();
  assert.ok(report.ok, report.text);
});

test("shell: rtadvd IF PREFIX mtu N, ifconfig IF inet6 accept_rtadv / no_dad, ndp -r and ndp -p", async () => {
  const { Commands } = await import("../host/shell/commands.js");
  const { k, H, R, h, rh } = await lab(false);
  const cmds = new Commands(k);
  const run = (v: Vnet, cmd: string) => cmds.exec({ name: v.name, vnet: v }, cmd);
  await run(R, `rtadvd ${rh.name} fd00:1::/64 fd00:3::/64 mtu 1400 maxinterval 60`);
  await run(H, `ifconfig ${h.name} inet6 accept_rtadv`);
  sec(k, 3);
  assert.match(await run(H, "ndp -r"), new RegExp(`^${linkLocal(rh)}%${h.name} if=${h.name}, expire=`));
  const p = await run(H, "ndp -p");
  assert.match(p, /fd00:1::\/64 +\S+ +LA +\d+s +\d+s +yes/);
  assert.match(p, /fd00:3::\/64/);
  assert.match(await run(H, `ifconfig ${h.name}`), new RegExp(`inet6 ${slaacAddr("fd00:3::", h)} prefixlen 64 autoconf`));
  await run(H, `ifconfig ${h.name} inet6 no_dad`);
  assert.equal(ndIfinfo(k, h).noDad, true);
  await assert.rejects(run(R, `rtadvd ${rh.name} fd00:1::/64 mtu 99`), /mtu/, "an MTU under 1280 is refused");
  await run(R, `rtadvd -d ${rh.name}`);
  assert.equal(ndIfinfo(k, rh).advertise, false);
  await cmds.close();
  k.shutdown();
});

test("kldunload inet6 with routers, prefixes, SLAAC addresses and an advertising interface leaves nothing; loading it again works", async () => {
  const { snapshot } = await import("./helpers/snapshot.js");
  const k = await Kernel.boot({ config: ["if_epair"], seed: 5 });
  const H = k.createVnet("H");
  const R = k.createVnet("R");
  const [h, rh] = k.epair(H, R);
  h.setUp();
  rh.setUp();
  k.reclaim();
  const before = snapshot(k);
  for (let round = 0; round < 2; round++) {
    await k.kldload("inet6");
    setForwarding6(k, R, true);
    advertise(k, rh, { prefixes: [{ prefix: "fd00:1::/64", validLifetime: 100, preferredLifetime: 50 }], mtu: 1400 });
    setAcceptRtadv(k, h);
    sec(k, 3);
    assert.equal(defaultRouters(k, H).length, 1, `round ${round}`);
    assert.ok(addresses6(k, h).some((a) => a.flags.includes("autoconf") && !a.linkLocal));
    k.kldunload("inet6");
    k.reclaim();
    assert.deepEqual(snapshot(k), before, `round ${round}: nothing left behind`);
  }
  k.shutdown();
});
