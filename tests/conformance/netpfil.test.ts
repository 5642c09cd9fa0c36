// FreeBSD's tests/sys/netpfil/common, the ipfw cases (registry: cases_netpfil.ts), re-created.
// FreeBSD makes epairs, keeps some ends on the host and moves others into jails; the jail
// runs the firewall, configured as utils.subr's firewall_config does for ipfw: `ipfw -q -f
// flush`, then the case's ipfw command lines. Here each case makes its vnets in one kernel
// with the ipfw module and runs the same command lines through ipfwCommand on the jail's
// firewall. Every vnet's default rule accepts, as on the machines FreeBSD runs these on
// (net.inet.ip.fw.default_to_accept=1: the host's own firewall must let the pings out).
// FreeBSD's `ping -c 1 -t 1` is a ping of one request with a one-second wait; scapy's
// pft_ping.py (forward.sh) sends an echo request and looks for it on the receiving
// interface, which is what the sink's ICMP input counter sees here.
import { before, after } from "node:test";
import assert from "node:assert/strict";
import { ping, type Kernel, type Interface, type Vnet } from "../../host/index.js";
import { addAddress, addRoute, setForwarding, icmpStats, ipStats, ipReassKnob } from "../../host/admin/inet.js";
import { pfilStats } from "../../host/admin/pfil.js";
import { addAddress6 } from "../../host/admin/inet6.js";
import { ipfwSetDefault, ipfwStats } from "../../host/admin/ipfw.js";
import { ipfwCommand, kernelIpfwBackend } from "../../host/ipfw/index.js";
import { mbufsInUse, ipPacket, icmp, cksum, ether } from "../helpers/inet.js";
import { bootLab, clock, conformanceTest } from "./lab.js";

let k: Kernel;
before(async () => {
  k = await bootLab(["inet", "inet6", "udp", "ipfw"]);
});
after(() => k.shutdown());

/** The case's vnets, destroyed at its end whatever happens; then nothing may be left. */
async function withVnets(names: string[], fn: (v: Vnet[]) => Promise<void>): Promise<void> {
  const vs = names.map((n) => k.createVnet(n));
  for (const v of vs) ipfwSetDefault(k, v, true);
  try {
    await fn(vs);
  } finally {
    for (const v of vs.reverse()) v.destroy(); // LeakError names anything left
  }
  assert.equal(mbufsInUse(k), 0, "no mbuf left");
}

function link(x: Vnet, y: Vnet): [Interface, Interface] {
  const [a, b] = k.epair(x, y);
  a.setUp();
  b.setUp();
  return [a, b];
}

/** utils.subr firewall_config for ipfw: flush, then each command line. */
async function firewallConfig(jail: Vnet, ...lines: string[]): Promise<void> {
  const b = kernelIpfwBackend(k, jail);
  await ipfwCommand(b, "ipfw -q -f flush");
  for (const l of lines) await ipfwCommand(b, l);
}

/** `ping -c 1 -t 1`: one request, its reply within a second? */
async function pingOk(from: Vnet, to: string, size?: number): Promise<boolean> {
  return (await ping(k, from, to, { count: 1, timeoutMs: 1000, ...(size ? { size } : {}) })).received === 1;
}

conformanceTest("pass_block__ipfw_v4", async () => {
  await withVnets(["pb4-host", "iron"], async ([host, iron]) => {
    const [a, b] = link(host!, iron!);
    addAddress(k, a, "192.0.2.1/24");
    addAddress(k, b, "192.0.2.2/24");
    await firewallConfig(iron!, "ipfw -q add 100 deny all from any to any");
    assert.equal(await pingOk(host!, "192.0.2.2"), false, "Block All: ping fails");
    assert.ok(ipfwStats(k, iron!).denied > 0, "the firewall is what refused it");
    await firewallConfig(iron!, "ipfw -q add 100 allow all from any to any");
    assert.equal(await pingOk(host!, "192.0.2.2"), true, "Pass All: ping passes");
  });
});

conformanceTest("pass_block__ipfw_v6", async () => {
  await withVnets(["pb6-host", "iron"], async ([host, iron]) => {
    const [a, b] = link(host!, iron!);
    addAddress6(k, a, "fd7a:803f:cc4b::1/64");
    addAddress6(k, b, "fd7a:803f:cc4b::2/64");
    clock(k).advance(5_000_000); // FreeBSD: no_dad
    await firewallConfig(iron!, "ipfw -q add 100 deny all from any to any");
    assert.equal(await pingOk(host!, "fd7a:803f:cc4b::2"), false, "Block All: ping6 fails");
    assert.ok(ipfwStats(k, iron!).denied > 0, "the firewall is what refused it");
    await firewallConfig(iron!, "ipfw -q add 100 allow all from any to any");
    assert.equal(await pingOk(host!, "fd7a:803f:cc4b::2"), true, "Pass All: ping6 passes");
  });
});

conformanceTest("nat__ipfw_basic", async () => {
  await withVnets(["nat-host", "nat", "client1", "client2"], async ([host, nat, c1, c2]) => {
    const [hostA, hostB] = link(host!, nat!);
    const [c1A, c1B] = link(nat!, c1!);
    const [c2A, c2B] = link(nat!, c2!);
    addAddress(k, hostA, "198.51.100.2/24");
    addAddress(k, hostB, "198.51.100.1/24");
    addAddress(k, c1A, "192.0.2.1/24");
    addAddress(k, c1B, "192.0.2.2/24");
    addAddress(k, c2A, "192.0.3.1/24");
    addAddress(k, c2B, "192.0.3.2/24");
    setForwarding(k, nat!, true);
    addRoute(k, c1!, "198.51.100.0/24", { gateway: "192.0.2.1" });
    addRoute(k, c2!, "198.51.100.0/24", { gateway: "192.0.3.1" });
    // The host has no route back to the client nets: without NAT the replies go nowhere.
    assert.equal(await pingOk(c1!, "198.51.100.2"), false, "client1 without NAT");
    assert.equal(await pingOk(c2!, "198.51.100.2"), false, "client2 without NAT");
    await firewallConfig(nat!, `ipfw -q nat 123 config if ${hostB.name}`, "ipfw -q add 1000 nat 123 all from any to any");
    assert.equal(await pingOk(c1!, "198.51.100.2"), true, "client1 through NAT");
    assert.equal(await pingOk(c2!, "198.51.100.2"), true, "client2 through NAT");
  });
});

conformanceTest("fragments__ipfw_fragments", async () => {
  await withVnets(["frag-host", "iron"], async ([host, iron]) => {
    const [b, a] = link(host!, iron!);
    addAddress(k, b, "192.0.2.1/24");
    addAddress(k, a, "192.0.2.2/24");
    b.setMtu(200);
    a.setMtu(200);
    await firewallConfig(iron!, "ipfw -q add 100 reass all from any to any in");
    ipReassKnob(k, iron!, "maxfragsperpacket", 1024);
    assert.equal(await pingOk(host!, "192.0.2.2"), true);
    // Not in FreeBSD's script: the firewall is what put the fragments together (pfil kept
    // every fragment but the last, and ip_input saw no fragment), not ip_input.
    const kept = pfilStats(k, iron!, "inet", "in").consumed;
    const frags = ipStats(k, iron!).fragments;
    assert.equal(await pingOk(host!, "192.0.2.2", 800), true);
    const n = ipStats(k, iron!).fragments - frags;
    assert.ok(n >= 5, `800 bytes over MTU 200 come in 5 or more fragments (${n})`);
    assert.equal(pfilStats(k, iron!, "inet", "in").consumed - kept, n - 1, "every fragment but the completing one kept by reass");
    assert.equal(await pingOk(host!, "192.0.2.2", 20000), false, "too many fragments");
    // The host's limit (maxfragsperpacket 16) refused the 20008-byte reply; the fragments
    // that came after the refusal wait in its queue: let them time out before the vnets go,
    // they hold iron's cluster.
    clock(k).advance(31_000_000);
  });
});

conformanceTest("forward__ipfw_v4", async () => {
  await withVnets(["fwd-host", "iron", "fwd-sink"], async ([host, iron, sink]) => {
    const [sendA, sendB] = link(host!, iron!);
    const [recvB, recvA] = link(iron!, sink!);
    addAddress(k, sendA, "192.0.2.1/24");
    addAddress(k, sendB, "192.0.2.2/24");
    addAddress(k, recvB, "198.51.100.2/24");
    // FreeBSD keeps recv's far end on the host with no address and gives the jail a static
    // ARP entry for 198.51.100.3; here a sink vnet holds 198.51.100.3 and answers ARP.
    addAddress(k, recvA, "198.51.100.3/24");
    setForwarding(k, iron!, true);
    addRoute(k, host!, "198.51.100.0/24", { gateway: "192.0.2.2" });
    /** pft_ping.py: did the echo request reach the receiving interface? */
    const arrives = async () => {
      const before = icmpStats(k, sink!).inhist[8]!;
      await ping(k, host!, "198.51.100.3", { count: 1, timeoutMs: 1000 });
      return icmpStats(k, sink!).inhist[8]! - before === 1;
    };
    assert.equal(await arrives(), true, "forwarded with no rule");
    await firewallConfig(iron!, "ipfw -q add 100 deny all from any to any in");
    assert.equal(await arrives(), false, "deny in");
    await firewallConfig(iron!, "ipfw -q add 100 deny all from any to any out");
    assert.equal(await arrives(), false, "deny out");
    await firewallConfig(iron!);
    assert.equal(await arrives(), true, "forwarded again once flushed (not in FreeBSD's script: shows the rules were what stopped it)");
  });
});

conformanceTest("tos__ipfw_tos", async () => {
  await withVnets(["tos-host", "iron", "tos-sink"], async ([host, iron, sink]) => {
    const [sendA, sendB] = link(host!, iron!);
    const [recvB, recvA] = link(iron!, sink!);
    addAddress(k, sendA, "192.0.2.1/24");
    addAddress(k, sendB, "192.0.2.2/24");
    addAddress(k, recvB, "198.51.100.2/24");
    addAddress(k, recvA, "198.51.100.3/24"); // as in forward__ipfw_v4: the sink instead of arp -s
    setForwarding(k, iron!, true);
    addRoute(k, host!, "198.51.100.0/24", { gateway: "192.0.2.2" });
    addRoute(k, sink!, "192.0.2.0/24", { gateway: "198.51.100.2" });
    assert.equal(await pingOk(host!, "198.51.100.3"), true, "neighbours known both ways");
    // pft_ping.py --send-tc / --expect-tc: an echo request with that TOS into the jail, and
    // the TOS of what arrives on the far link (nothing: the list is empty).
    const frames: Uint8Array[] = [];
    const cap = recvA.capture();
    const reading = (async () => {
      for await (const f of cap) if (f.dir === "in") frames.push(f.data.slice());
    })();
    const forwardedTos = async (tos: number): Promise<number[]> => {
      frames.length = 0;
      const p = ipPacket({ src: "192.0.2.1", dst: "198.51.100.3", proto: 1, payload: icmp(8, 0, 0x77770001) });
      p[1] = tos;
      p[10] = p[11] = 0;
      new DataView(p.buffer).setUint16(10, cksum(p, 0, 20));
      void sendB.receive(ether(sendA, sendB, 0x0800, p));
      clock(k).advance(10_000);
      for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
      return frames.filter((f) => f[12] === 0x08 && f[13] === 0x00 && f[23] === 1 && f[34] === 8).map((f) => f[15]!);
    };
    try {
      await firewallConfig(iron!, "ipfw -q add 100 setdscp 9 ip from any to any");
      assert.deepEqual(await forwardedTos(0), [36], "DSCP 9 is TOS 36");
      assert.deepEqual(await forwardedTos(3), [39], "the ECN bits kept");
      await firewallConfig(iron!, "ipfw -q add 100 deny all from any to any dscp 9");
      assert.deepEqual(await forwardedTos(36), [], "DSCP 9 dropped");
      assert.deepEqual(await forwardedTos(32), [32], "DSCP 8 passes");
    } finally {
      await cap.stop();
      await reading;
    }
  });
});

// The registry's other netpfil cases (pf, ipf, ipfnat, natd): skipped with their reason.
conformanceTest("pass_block__pf_v4", async () => {});
conformanceTest("pass_block__ipf_v4", async () => {});
conformanceTest("pass_block__pf_v6", async () => {});
conformanceTest("pass_block__ipf_v6", async () => {});
conformanceTest("nat__pf_basic", async () => {});
conformanceTest("nat__ipfnat_basic", async () => {});
conformanceTest("nat__ipfw_userspace_nat", async () => {});
conformanceTest("fragments__pf_fragments", async () => {});
conformanceTest("fragments__ipf_fragments", async () => {});
conformanceTest("forward__pf_v4", async () => {});
conformanceTest("forward__ipf_v4", async () => {});
conformanceTest("tos__pf_tos", async () => {});
