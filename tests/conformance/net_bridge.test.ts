// FreeBSD's tests/sys/net/if_bridge_test.sh re-created: jails (vnets) on the members of a
// bridge, and the bridge's own commands (addm, static, deladdr, destroy). wavnet's bridge
// has no spanning tree, span ports or gif members: those cases are not applicable (cases_net.ts).
import { before, after } from "node:test";
import assert from "node:assert/strict";
import { Kernel, ping, type Interface } from "../../host/index.js";
import { addAddress } from "../../host/admin/inet.js";
import { createClone, parseMac } from "../../host/admin/ifnet.js";
import { bridgeAdd, bridgeMembers, bridgeAddStatic, bridgeDelAddr, bridgeAddrs } from "../../host/admin/bridge.js";
import { sysctlSet } from "../../host/admin/sysctl.js";
import { bootLab, conformanceTest } from "./lab.js";
import { withJails } from "./vnets.js";

let k: Kernel;
before(async () => {
  k = await bootLab(["if_bridge", "inet"]);
});
after(() => k.shutdown());

conformanceTest("if_bridge__bridge_transmit_ipv4_unicast", () => withJails(k, async (j) => {
  const host = j.jail("bridge-host");
  const alcatraz = j.jail("alcatraz");
  const singsing = j.jail("singsing");
  const [aa, ab] = k.epair(host, alcatraz);
  const [sa, sb] = k.epair(host, singsing);
  ab.setUp();
  sb.setUp();
  addAddress(k, ab, "192.0.2.1/24");
  addAddress(k, sb, "192.0.2.2/24");
  const [br] = createClone(k, host, "bridge");
  br.setUp();
  aa.setUp();
  sa.setUp();
  bridgeAdd(k, br, aa);
  bridgeAdd(k, br, sa);
  assert.equal((await ping(k, alcatraz, "192.0.2.2", { count: 3, timeoutMs: 1000 })).received, 3, "alcatraz pings singsing");
  assert.equal((await ping(k, singsing, "192.0.2.1", { count: 3, timeoutMs: 1000 })).received, 3, "singsing pings alcatraz");
}));

conformanceTest("if_bridge__stp", async () => {});
conformanceTest("if_bridge__stp_vlan", async () => {});

conformanceTest("if_bridge__static", () => withJails(k, async (j) => {
  const host = j.jail("bridge-static-host");
  const one = j.jail("one");
  const [ea, eb] = k.epair(one, host);
  eb.setUp();
  const [br] = createClone(k, one, "bridge");
  br.setUp();
  ea.setUp();
  bridgeAdd(k, br, ea);
  assert.throws(() => bridgeAddStatic(k, br, eb, "00:01:02:03:04:05"), "wrong interface: not a member");
  assert.throws(() => bridgeAddStatic(k, br, ea, "00:01:02:03:04"), "bad address format");
  bridgeAddStatic(k, br, ea, "00:01:02:03:04:05");
  const listed = bridgeAddrs(k, br).find((a) => a.mac === "00:01:02:03:04:05");
  assert.ok(listed, "ifconfig bridge addr lists it");
  assert.equal(listed.iface.name, ea.name);
  assert.throws(() => bridgeDelAddr(k, br, "00:01:02:03:04"), "deladdr: bad address format");
  assert.throws(() => bridgeDelAddr(k, br, "00:01:02:03:04:06"), "deladdr: an unlisted address");
  bridgeDelAddr(k, br, "00:01:02:03:04:05");
  assert.ok(!bridgeAddrs(k, br).some((a) => a.mac === "00:01:02:03:04:05"), "deleted");
}));

conformanceTest("if_bridge__span", async () => {});

conformanceTest("if_bridge__inherit_mac", () => withJails(k, async (j) => {
  const one = j.jail("one");
  const [ea] = k.epair(one);
  const [br] = createClone(k, one, "bridge");
  assert.equal(sysctlSet(k, one, "net.link.bridge.inherit_mac", 1), 1, "sysctl net.link.bridge.inherit_mac=1");
  addAddress(k, br, "192.0.0.1/24");
  br.setUp();
  bridgeAdd(k, br, ea);
  assert.equal(br.mac, ea.mac, "the bridge took its first member's MAC");
  assert.ok(br.alive && br.up, "and lives on");
}));

conformanceTest("if_bridge__delete_with_members", () => withJails(k, async (j) => {
  const v = j.jail("bridge-delete");
  const [br] = createClone(k, v, "bridge");
  const [ea] = k.epair(v);
  addAddress(k, br, "192.0.2.1/24");
  br.setUp();
  ea.setUp();
  bridgeAdd(k, br, ea);
  br.destroy();
  assert.ok(!br.alive, "the bridge is gone");
  assert.ok(ea.alive && ea.up, "its member stays, up");
  const [br2] = createClone(k, v, "bridge");
  bridgeAdd(k, br2, ea); // free to join another bridge: the old one let it go
  assert.deepEqual(bridgeMembers(k, br2).map((m) => m.name), [ea.name]);
}));

conformanceTest("if_bridge__mac_conflict", () => withJails(k, async (j) => {
  const one = j.jail("bridge_mac_conflict_one");
  const two = j.jail("bridge_mac_conflict_two");
  const [ea, eb] = k.epair(one, two);
  const [b1] = createClone(k, one, "bridge");
  const [b2] = createClone(k, two, "bridge");
  assert.deepEqual([b1.name, b2.name], ["bridge0", "bridge0"], "each jail has its own bridge0");
  addAddress(k, b1, "192.0.2.1/24");
  b1.setUp();
  bridgeAdd(k, b1, ea);
  ea.setUp();
  addAddress(k, b2, "192.0.2.2/24");
  b2.setUp();
  bridgeAdd(k, b2, eb);
  eb.setUp();
  assert.notEqual(b1.mac, b2.mac, "different MACs");
  assert.equal((await ping(k, one, "192.0.2.2", { count: 3, timeoutMs: 1000 })).received, 3, "ping -c 3 192.0.2.2 from one");
}));

/** An 802.3 frame with LLC (STP's SAP 0x42) and a configuration BPDU, as scapy's STP() builds it; times in seconds. */
function bpdu(t: { maxage: number; hellotime: number; fwddelay: number }): Uint8Array {
  const b = new Uint8Array(35);
  const dv = new DataView(b.buffer);
  // protocol 0, version 0, type 0 (configuration), flags 0
  dv.setUint16(5, 32768); // root id: priority, then MAC
  b.set(parseMac("00:0c:29:01:01:01"), 7);
  dv.setUint32(13, 0); // path cost
  dv.setUint16(17, 32768);
  b.set(parseMac("00:0c:29:01:01:01"), 19);
  dv.setUint16(25, 0x8007); // port id
  dv.setUint16(27, 1 * 256); // message age (scapy's default 1 s)
  dv.setUint16(29, t.maxage * 256);
  dv.setUint16(31, t.hellotime * 256);
  dv.setUint16(33, t.fwddelay * 256);
  const f = new Uint8Array(14 + 3 + b.length);
  f.set(parseMac("01:80:c2:00:00:00"), 0);
  f.set(parseMac("00:0c:29:0b:91:0a"), 6);
  new DataView(f.buffer).setUint16(12, 3 + b.length); // 802.3 length
  f.set([0x42, 0x42, 0x03], 14);
  f.set(b, 17);
  return f;
}

conformanceTest("if_bridge__stp_validation", () => withJails(k, async (j) => {
  const host = j.jail("stp-host");
  const v = j.jail("stp-bridge");
  const [oneA, oneB] = k.epair(v, host);
  const [twoA, twoB] = k.epair(v, host);
  const [br] = createClone(k, v, "bridge");
  br.setUp();
  bridgeAdd(k, br, oneA);
  bridgeAdd(k, br, twoA);
  for (const e of [oneA, oneB, twoA, twoB] as Interface[]) e.setUp();
  const seen: Uint8Array[] = [];
  const cap = twoB.capture();
  const reading = (async () => {
    for await (const f of cap) if (f.dir === "in") seen.push(f.data.slice());
  })();
  for (const t of [
    { maxage: 41, hellotime: 2, fwddelay: 30 }, { maxage: 5, hellotime: 2, fwddelay: 30 },
    { maxage: 40, hellotime: 3, fwddelay: 30 }, { maxage: 40, hellotime: 1, fwddelay: 30 },
    { maxage: 40, hellotime: 2, fwddelay: 31 }, { maxage: 40, hellotime: 2, fwddelay: 3 },
  ]) oneB.send(bpdu(t));
  // A control: a broadcast frame sent the same way does cross the bridge, so the capture sees what crosses.
  const ctl = new Uint8Array(60);
  ctl.set(parseMac("ff:ff:ff:ff:ff:ff"), 0);
  ctl.set(parseMac("00:0c:29:0b:91:0a"), 6);
  ctl.set([0x88, 0xb5], 12);
  oneB.send(ctl);
  await j.settle();
  await cap.stop();
  await reading;
  const stp = seen.filter((f) => f[0] === 0x01 && f[1] === 0x80 && f[2] === 0xc2);
  assert.equal(stp.length, 0, "no BPDU repeated on the other member");
  assert.equal(seen.filter((f) => f[12] === 0x88 && f[13] === 0xb5).length, 1, "the control frame crossed");
}));

conformanceTest("if_bridge__gif", async () => {});
