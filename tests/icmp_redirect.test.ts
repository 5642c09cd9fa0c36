// ICMP redirects (RFC 792, RFC 1122 3.2.2.2): a host takes one from the router it now uses
// for the destination and adds a host route (RTF_DYNAMIC) to the new gateway; it ignores
// one from anyone else, one naming a gateway off its networks or one of its own addresses,
// and a router (forwarding on) ignores them all (FreeBSD's icmp_verify_redirect_gateway;
// tests/sys/netinet/redirect.sh in tests/conformance is the accepted case).
import { test } from "node:test";
import assert from "node:assert/strict";
import { Kernel, type Vnet, type Interface } from "../host/index.js";
import { addAddress, addRoute, routeGet, setForwarding, parseIPv4, netstatRn } from "../host/admin/inet.js";
import { ipPacket, icmp, ether, mbufsInUse } from "./helpers/inet.js";

const ETHERTYPE_IP = 0x0800;

async function lab(): Promise<{ k: Kernel; v: Vnet; b: Interface }> {
  const k = await Kernel.boot({ config: ["if_epair", "inet"], seed: 5 });
  const host = k.createVnet("host");
  const v = k.createVnet("jail");
  const [a, b] = k.epair(host, v);
  a.setUp();
  b.setUp();
  addAddress(k, a, "192.0.2.1/24");
  addAddress(k, b, "192.0.2.2/24");
  addRoute(k, v, "198.51.100.0/24", { gateway: "192.0.2.3" });
  addRoute(k, v, "203.0.113.0/24", { gateway: "192.0.2.1" }); // reachable, but not directly
  return { k, v, b };
}

/** A redirect from `from` (code 1: host) saying dst is better reached via gw. */
function redirect(b: Interface, from: string, dst: string, gw: string, code = 1): void {
  const quoted = ipPacket({ src: "192.0.2.2", dst, proto: 17, payload: new Uint8Array(8) });
  const msg = ipPacket({ src: from, dst: "192.0.2.2", proto: 1, payload: icmp(5, code, parseIPv4(gw), quoted) });
  b.receive(ether("00:00:5e:00:53:42", b, ETHERTYPE_IP, msg));
}

const via = (k: Kernel, v: Vnet, dst: string) => routeGet(k, v, dst);

test("a redirect from the router in use adds a dynamic host route to the new gateway", async () => {
  const { k, v, b } = await lab();
  redirect(b, "192.0.2.3", "198.51.100.42", "192.0.2.4");
  assert.deepEqual([via(k, v, "198.51.100.42")?.destination, via(k, v, "198.51.100.42")?.gateway, via(k, v, "198.51.100.42")?.flags], ["198.51.100.42", "192.0.2.4", "UGHD"]);
  assert.match(netstatRn(k, v), /198\.51\.100\.42 +192\.0\.2\.4 +UGHD/);
  assert.equal(via(k, v, "198.51.100.43")?.destination, "198.51.100.0/24", "only that destination");
  // A second redirect for it: the route in use is a host route now, so it is ignored.
  redirect(b, "192.0.2.4", "198.51.100.42", "192.0.2.5");
  assert.equal(via(k, v, "198.51.100.42")?.gateway, "192.0.2.4");
  k.shutdown();
});

test("redirects from another sender, to a gateway off-link or to our own address, or to a router, are ignored", async () => {
  const { k, v, b } = await lab();
  redirect(b, "192.0.2.9", "198.51.100.42", "192.0.2.4"); // not the router we use
  redirect(b, "192.0.2.3", "198.51.100.43", "203.0.113.4"); // gateway on no network of ours
  redirect(b, "192.0.2.3", "198.51.100.44", "192.0.2.2"); // ourselves
  redirect(b, "192.0.2.3", "198.51.100.45", "192.0.2.4", 4); // no such code
  for (const d of ["198.51.100.42", "198.51.100.43", "198.51.100.44", "198.51.100.45"]) assert.equal(via(k, v, d)?.destination, "198.51.100.0/24", d);
  setForwarding(k, v, true); // RFC 1812 4.3.3.2: a router does not take redirects
  redirect(b, "192.0.2.3", "198.51.100.42", "192.0.2.4");
  assert.equal(via(k, v, "198.51.100.42")?.destination, "198.51.100.0/24", "a router ignores it");
  for (const x of k.vnets()) if (x !== k.vnet0) x.destroy();
  assert.equal(mbufsInUse(k), 0);
  k.shutdown();
});
