// Redirects (RFC 4861 8): accepted only from our current first hop for the destination,
// link-local, hop limit 255, well formed; they install a DYNAMIC host route via the target
// (none when the target is the destination itself: on-link) and teach the target's MAC.
// FreeBSD's redirect.sh:valid_redirect is the conformance case (tests/conformance).
import { test } from "node:test";
import assert from "node:assert/strict";
import { type Interface, type VirtualClock } from "../host/index.js";
import { addRoute6, routeGet6, ndpAdd, ndpTable, icmp6Stats, setForwarding6, addresses6, parseIPv6 } from "../host/admin/inet6.js";
import { parseMac } from "../host/admin/ifnet.js";
import { twoHosts6, ip6Packet, cksum6, cat } from "./helpers/inet6.js";
import { ether } from "./helpers/inet.js";

const RTR = "fe80::4242";
const RTR_MAC = "00:00:5e:00:53:42";
const DST = "2001:db8:6667::4242";

/** A redirect from src to our link-local address: target, destination, options; hop limit and code as given. */
function redirect(e: Interface, o: { src?: string; target: string; dst?: string; hlim?: number; code?: number; tlla?: string }): Uint8Array {
  const local = addresses6(e.kernel, e).find((a) => a.linkLocal)!.address.split("%")[0];
  const src = o.src ?? RTR;
  const opt = o.tlla ? cat(new Uint8Array([2, 1]), parseMac(o.tlla)) : new Uint8Array(0);
  const m = cat(new Uint8Array([137, o.code ?? 0, 0, 0, 0, 0, 0, 0]), parseIPv6(o.target, "t"), parseIPv6(o.dst ?? DST, "d"), opt);
  new DataView(m.buffer).setUint16(2, cksum6(parseIPv6(src, "s"), parseIPv6(local, "d"), 58, m));
  return ether(RTR_MAC, e.mac, 0x86dd, ip6Packet({ src, dst: local, nxt: 58, hlim: o.hlim ?? 255, payload: m }));
}

async function lab() {
  const { k, A, ea } = await twoHosts6();
  (k.clock as VirtualClock).advance(2_000_000);
  ndpAdd(k, A, `${RTR}%${ea.name}`, RTR_MAC);
  addRoute6(k, A, "2001:db8:6667::/64", { gateway: `${RTR}%${ea.name}` });
  return { k, A, ea };
}

test("refused: not from our first hop, hop limit 254, a global target other than the destination, a bad code; routers ignore them", async () => {
  const { k, A, ea } = await lab();
  const bad0 = icmp6Stats(k, A).badredirect;
  ea.receive(redirect(ea, { src: "fe80::99", target: "fe80::5555" }));
  ea.receive(redirect(ea, { target: "2001:db8::5", dst: DST }));
  ea.receive(redirect(ea, { target: "fe80::5555", code: 1 }));
  assert.equal(icmp6Stats(k, A).badredirect - bad0, 3);
  const hl0 = icmp6Stats(k, A).ndhlim;
  ea.receive(redirect(ea, { target: "fe80::5555", hlim: 254 }));
  assert.equal(icmp6Stats(k, A).ndhlim - hl0, 1);
  setForwarding6(k, A, true);
  ea.receive(redirect(ea, { target: "fe80::5555" }));
  setForwarding6(k, A, false);
  assert.equal(routeGet6(k, A, DST)?.prefixLength, 64, "still the /64 via the router");
  k.shutdown();
});

test("accepted: a DYNAMIC host route via the target, the target's MAC learned; a second redirect updates it; on-link; a route set by hand stands", async () => {
  const { k, A, ea } = await lab();
  ea.receive(redirect(ea, { target: "fe80::5555", tlla: "02:00:00:00:55:55" }));
  let r = routeGet6(k, A, DST);
  assert.deepEqual([r?.destination, r?.prefixLength, r?.gateway, r?.flags], [DST, 128, `fe80::5555%${ea.name}`, "UGHD"]);
  const n = ndpTable(k, A).find((e) => e.address === `fe80::5555%${ea.name}`);
  assert.deepEqual([n?.state, n?.mac], ["stale", "02:00:00:00:55:55"], "the target's entry, STALE (RFC 4861 8.3)");
  // The route's first hop is fe80::5555 now: only it may redirect dst again. It says dst is on-link.
  ea.receive(redirect(ea, { src: "fe80::5555", target: DST, dst: DST }));
  r = routeGet6(k, A, DST);
  assert.deepEqual([r?.prefixLength, r?.gateway, r?.flags], [128, undefined, "UHD"], "on-link: a host route with no gateway");
  addRoute6(k, A, "2001:db8:6667::7/128", { gateway: `${RTR}%${ea.name}` });
  ea.receive(redirect(ea, { target: "fe80::6666", dst: "2001:db8:6667::7" }));
  assert.equal(routeGet6(k, A, "2001:db8:6667::7")?.gateway, `${RTR}%${ea.name}`, "a static route is not redirected");
  k.shutdown();
});
