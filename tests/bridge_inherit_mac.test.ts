// net.link.bridge.inherit_mac (FreeBSD's knob, per vnet): a bridge takes its first member's
// MAC, the next member's when that one leaves, its own generated MAC when none is left.
// FreeBSD's if_bridge_test.sh:inherit_mac is the conformance case (tests/conformance).
import { test } from "node:test";
import assert from "node:assert/strict";
import { Kernel } from "../host/index.js";
import { createClone } from "../host/admin/ifnet.js";
import { bridgeAdd, bridgeDel, bridgeInheritMac } from "../host/admin/bridge.js";
import { sysctlGet, sysctlSet } from "../host/admin/sysctl.js";

test("inherit_mac: off by default and per vnet; the first member's MAC, then the next one's, then the bridge's own", async () => {
  const k = await Kernel.boot({ config: ["if_epair", "if_bridge"], seed: 3 });
  const [v, w] = [k.createVnet("v"), k.createVnet("w")];
  assert.equal(sysctlGet(k, v, "net.link.bridge.inherit_mac"), 0, "off, as FreeBSD");
  sysctlSet(k, v, "net.link.bridge.inherit_mac", 1);
  assert.equal(bridgeInheritMac(k, w), false, "another vnet's knob is its own");
  const [br] = createClone(k, v, "bridge");
  const own = br.mac;
  const [a] = k.epair(v);
  const [b] = k.epair(v);
  bridgeAdd(k, br, a);
  assert.equal(br.mac, a.mac, "the first member's");
  bridgeAdd(k, br, b);
  assert.equal(br.mac, a.mac, "a second member changes nothing");
  bridgeDel(k, br, a);
  assert.equal(br.mac, b.mac, "the first left: the next one's");
  bridgeDel(k, br, b);
  assert.equal(br.mac, own, "none left: its own again");
  // Off: members leave the bridge's MAC alone.
  bridgeInheritMac(k, v, false);
  bridgeAdd(k, br, a);
  assert.equal(br.mac, own);
  const [br2] = createClone(k, w, "bridge");
  const [c] = k.epair(w);
  bridgeAdd(k, br2, c);
  assert.notEqual(br2.mac, c.mac, "vnet w never turned it on");
  k.shutdown();
});
