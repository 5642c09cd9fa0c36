// Blackhole routes (route add -blackhole, RTF_BLACKHOLE): what a vnet sends to one is
// discarded without an error and nothing leaves; what it forwards to one is discarded
// without an ICMP error and counted as not forwardable (FreeBSD's semantics;
// tests/sys/netinet/forward.sh fwd_ip_blackhole in tests/conformance is the forwarded case).
import { test } from "node:test";
import assert from "node:assert/strict";
import { Kernel, ping } from "../host/index.js";
import { addAddress, addRoute, addBlackholeRoute, routeGet, ipStats, netstatRn } from "../host/admin/inet.js";
import { socket } from "../host/sockets/socket.js";
import { mbufsInUse } from "./helpers/inet.js";

test("sent into a blackhole: no error, nothing leaves, the route counts the use", async () => {
  const k = await Kernel.boot({ config: ["if_epair", "inet", "udp"], seed: 3 });
  const a = k.createVnet("a");
  const b = k.createVnet("b");
  const [ea, eb] = k.epair(a, b);
  ea.setUp();
  eb.setUp();
  addAddress(k, ea, "192.0.2.1/24");
  addAddress(k, eb, "192.0.2.2/24");
  addRoute(k, a, "default", { gateway: "192.0.2.2" });
  addBlackholeRoute(k, a, "198.51.100.0/24");
  assert.match(netstatRn(k, a), /198\.51\.100\.0\/24 .*UGSB|198\.51\.100\.0\/24 .*USB/);
  assert.equal(routeGet(k, a, "198.51.100.7")?.iface.name, "lo0", "it leaves by lo0");
  const before = ea.counters().opackets;
  const ip0 = ipStats(k, a);
  const s = socket(k, a, "inet", "dgram");
  assert.equal(s.sendto("x", "198.51.100.7", 9), 1, "the sender is told nothing");
  assert.equal((await ping(k, a, "198.51.100.7", { count: 1, timeoutMs: 500 })).received, 0);
  assert.equal(ea.counters().opackets, before, "nothing went out of the epair");
  const ip1 = ipStats(k, a);
  assert.equal(ip1.noroute, 0, "not a missing route");
  assert.equal(ip1.total - ip0.total, 0, "nothing looped back into input (FreeBSD's lo0 discards it on output)");
  assert.ok((routeGet(k, a, "198.51.100.7")?.use ?? 0) >= 2, "the route was used");
  // The rest still goes by the default route.
  assert.equal((await ping(k, a, "192.0.2.2", { count: 1 })).received, 1);
  s.close();
  a.destroy();
  b.destroy();
  assert.equal(mbufsInUse(k), 0);
  k.shutdown();
});
