// The node commands of the shell (host/cli/commands.ts) on hand-built vnets: each one's
// output, its effect on the kernel, and one clear line for every kind of bad input.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Kernel, readPcap, readPcapng } from "../host/index.js";
import { addresses, routes, forwarding, arpTable } from "../host/admin/inet.js";
import { Commands, CommandError, CommandFailed, type CommandNode } from "../host/cli/commands.js";
import { tokenize, getopt, duration, probability, rate } from "../host/cli/args.js";
import { twoHosts, chain, bootInet } from "./helpers/inet.js";
import { routed6 } from "./helpers/inet6.js";
import { addresses6, routes6, forwarding6, ndpTable } from "../host/admin/inet6.js";

/** Run a line and return the CommandError it must fail with. */
async function fails(cmds: Commands, node: CommandNode, line: string): Promise<CommandError> {
  try {
    await cmds.exec(node, line);
  } catch (e) {
    assert.ok(e instanceof CommandError, `${line}: ${String(e)}`);
    assert.equal(e.message.split("\n").length, 1, `${line}: one line, got ${JSON.stringify(e.message)}`);
    assert.doesNotMatch(e.message, /\n\s+at /);
    return e;
  }
  assert.fail(`${line}: expected a CommandError`);
}

describe("cli words", () => {
  test("tokenize keeps quoted blanks and refuses an open quote", () => {
    assert.deepEqual(tokenize(`ping  -c 3 "10.0.0.2"  'a b' c\\ d`), ["ping", "-c", "3", "10.0.0.2", "a b", "c d"]);
    assert.deepEqual(tokenize("   "), []);
    assert.throws(() => tokenize(`ping "10.0.0.2`), /unterminated " quote/);
  });

  test("getopt takes -c5 and -c 5, stops at the first operand and at --", () => {
    const p = getopt("ping", ["-qc5", "-s", "100", "10.0.0.2", "-c", "1"], "c:s:q", "u");
    assert.deepEqual([...p.opts], [["q", true], ["c", "5"], ["s", "100"]]);
    assert.deepEqual(p.args, ["10.0.0.2", "-c", "1"]);
    assert.deepEqual(getopt("x", ["--", "-c"], "c:", "u").args, ["-c"]);
    assert.throws(() => getopt("ping", ["-z"], "c:", "ping [-c n]"), /ping: illegal option -- z; usage: ping \[-c n\]/);
    assert.throws(() => getopt("ping", ["-c"], "c:", "u"), /option requires an argument -- c/);
  });

  test("units: times, percentages and rates, and their errors", () => {
    assert.equal(duration("link", "delay", "10ms"), 10_000);
    assert.equal(duration("link", "delay", "250us"), 250);
    assert.equal(duration("link", "delay", "1.5s"), 1_500_000);
    assert.equal(duration("link", "delay", "7"), 7000);
    assert.throws(() => duration("link", "delay", "10 parsecs"), /link: delay: "10 parsecs" is not a duration: write a time in us, ms, s or m/);
    assert.equal(probability("link", "loss", "1%"), 0.01);
    assert.equal(probability("link", "loss", "0.25"), 0.25);
    assert.throws(() => probability("link", "loss", "150%"), /link: loss: "150%" is not between 0 and 1/);
    assert.equal(rate("link", "rate", "10Mbit"), 10_000_000);
    assert.equal(rate("link", "rate", "64kbit"), 64_000);
    assert.equal(rate("link", "rate", "10MB/s"), 80_000_000); // bytes where a B says so
    assert.throws(() => rate("link", "rate", "10 furlongs"), /link: rate: "10 furlongs" is not a rate: write bits per second as bit, kbit, Mbit/);
  });
});

describe("node commands", () => {
  test("ifconfig lists interfaces with addresses and topology names, and changes them", async () => {
    const { k, A, ea } = await twoHosts();
    const cmds = new Commands(k);
    const node: CommandNode = { name: "a", vnet: A, interfaces: () => [{ name: "eth0", iface: ea }] };
    const all = await cmds.exec(node, "ifconfig");
    assert.match(all, /^lo0: flags=.*<UP,LOOPBACK,RUNNING/m);
    assert.match(all, /inet 127\.0\.0\.1 netmask 0xff000000/);
    assert.match(all, /^epair0a: flags=8843<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST> mtu 1500/m);
    assert.match(all, /\tdescription: eth0\n/);
    assert.match(all, /\tinet 10\.0\.0\.1 netmask 0xffffff00 broadcast 10\.0\.0\.255/);
    assert.match(all, /\tpeer B:epair0b/);
    assert.equal(await cmds.exec(node, "ifconfig -l"), "lo0 epair0a");
    // Topology name and kernel name are the same interface.
    assert.equal(await cmds.exec(node, "ifconfig eth0"), await cmds.exec(node, "ifconfig epair0a"));
    assert.equal(await cmds.exec(node, "ifconfig eth0 inet 10.1.0.1/16 alias mtu 1400 down"), "");
    assert.deepEqual(addresses(k, ea).map((a) => a.cidr), ["10.0.0.1/24", "10.1.0.1/16"]);
    assert.equal(ea.mtu, 1400);
    assert.equal(ea.up, false);
    await cmds.exec(node, "ifconfig eth0 up inet 10.1.0.1 -alias");
    assert.equal(ea.up, true);
    assert.deepEqual(addresses(k, ea).map((a) => a.cidr), ["10.0.0.1/24"]);
    assert.match((await fails(cmds, node, "ifconfig eth9")).message, /^ifconfig: a has no interface eth9 \(it has lo0, epair0a, eth0\)$/);
    assert.match((await fails(cmds, node, "ifconfig eth0 mtu 9")).message, /ifconfig: mtu must be an integer from 72 to 65535, got "9"/);
    assert.match((await fails(cmds, node, "ifconfig eth0 inet 10.0.0.9")).message, /give the prefix length, e\.g\. 10\.0\.0\.9\/24/);
    assert.match((await fails(cmds, node, "ifconfig eth0 inet 10.0.0.0/24")).message, /network address of \/24/);
    assert.match((await fails(cmds, node, "ifconfig eth0 frob")).message, /unknown parameter "frob"/);
    k.shutdown();
  });

  test("route add/get/delete and netstat -rn", async () => {
    const { k, A } = await twoHosts();
    const cmds = new Commands(k);
    const a = { name: "a", vnet: A };
    assert.equal(await cmds.exec(a, "route add 10.9.0.0/16 10.0.0.2"), "add net 10.9.0.0/16: gateway 10.0.0.2");
    assert.match(await cmds.exec(a, "netstat -rn"), /^10\.9\.0\.0\/16\s+10\.0\.0\.2\s+UGS\s+epair0a/m);
    const get = await cmds.exec(a, "route get 10.9.3.4");
    assert.match(get, /destination: 10\.9\.0\.0\n\s+mask: 255\.255\.0\.0\n\s+gateway: 10\.0\.0\.2\n\s+interface: epair0a\n\s+flags: <UP,GATEWAY,STATIC>/);
    assert.match((await fails(cmds, a, "route add 10.8.0.0/16 192.168.1.1")).message, /not on a connected network/);
    await cmds.exec(a, "route add default -iface epair0a");
    assert.ok(routes(k, A).some((r) => r.destination === "default" && r.gateway === undefined));
    assert.equal(await cmds.exec(a, "route delete 10.9.0.0/16"), "delete net 10.9.0.0/16");
    assert.ok(!routes(k, A).some((r) => r.destination === "10.9.0.0/16"));
    assert.match((await fails(cmds, a, "route delete 10.9.0.0/16")).message, /has no route to 10\.9\.0\.0\/16/);
    assert.match((await fails(cmds, a, "route frob")).message, /route: unknown verb "frob"; usage:/);
    k.shutdown();
  });

  test("ping: replies, -c -s -m -i, and a failure that keeps ping's own output", async () => {
    const { k, A, R1 } = await chain();
    const cmds = new Commands(k);
    const a = { name: "A", vnet: A };
    const out = await cmds.exec(a, "ping -c 3 -i 0.2 -s 100 10.0.4.2");
    assert.match(out, /^PING 10\.0\.4\.2 \(10\.0\.4\.2\): 100 data bytes$/m);
    assert.equal(out.match(/^108 bytes from 10\.0\.4\.2: icmp_seq=\d ttl=61 /gm)?.length, 3);
    assert.match(out, /3 packets transmitted, 3 packets received, 0\.0% packet loss/);
    // TTL 2 dies at R2: an error, not a reply, so ping fails.
    const e = await fails(cmds, a, "ping -c 1 -m 2 10.0.4.2");
    assert.ok(e instanceof CommandFailed);
    assert.equal(e.message, "ping: no reply from 10.0.4.2 (1 sent)");
    assert.match(e.output, /10\.0\.2\.2: Time to live exceeded \(icmp_seq=0\)/);
    assert.match(e.output, /1 packets transmitted, 0 packets received, 100\.0% packet loss/);
    // -t: FreeBSD's time limit; without -c as many requests as fit (0, 0.5, ... 2.5 s).
    assert.match(await cmds.exec(a, "ping -t 3 -i 0.5 10.0.4.2"), /6 packets transmitted, 6 packets received/);
    assert.match(await cmds.exec(a, "ping -t 2 -i 0.5 -c 2 10.0.4.2"), /2 packets transmitted, 2 packets received/);
    // -q: only the summary.
    const q = await cmds.exec({ name: "R1", vnet: R1 }, "ping -q -c 2 10.0.1.1");
    assert.doesNotMatch(q, /bytes from/);
    assert.match(q, /2 packets received/);
    assert.match((await fails(cmds, a, "ping")).message, /ping: a destination is needed; usage: ping /);
    assert.match((await fails(cmds, a, "ping -c 0 10.0.4.2")).message, /ping: -c \(count\) must be an integer from 1 to 65536, got "0"/);
    assert.match((await fails(cmds, a, "ping -c 1 10.0.4")).message, /ping: "10\.0\.4" is not an IPv4 address \(a\.b\.c\.d\) nor a node/);
    assert.match((await fails(cmds, a, "ping6 ::1")).message, /^ping6: the inet6 module is not loaded .*NOINET6 has no IPv6\)$/);
    k.shutdown();
  });

  test("traceroute lists every router to the host", async () => {
    const { k, A } = await chain();
    const out = await new Commands(k).exec({ name: "A", vnet: A }, "traceroute -q 1 10.0.4.2");
    assert.match(out, /^traceroute to 10\.0\.4\.2 \(10\.0\.4\.2\), 30 hops max/);
    assert.deepEqual([...out.matchAll(/^ ?(\d+)\s+(\S+)/gm)].map((m) => `${m[1]} ${m[2]}`), ["1 10.0.1.2", "2 10.0.2.2", "3 10.0.3.2", "4 10.0.4.2"]);
    k.shutdown();
  });

  test("link: delay shows in ping's round trip, loss 100% breaks it, both and clear, bad words", async () => {
    const { k, A, B, ea, eb } = await twoHosts();
    const cmds = new Commands(k);
    const a = { name: "a", vnet: A };
    await cmds.exec(a, "ping -c 1 10.0.0.2"); // ARP resolved: the next round trip is link time only
    const set = await cmds.exec(a, "link epair0a delay 10ms jitter 0 both");
    assert.match(set, /^epair0a -> B:epair0b: delay 10ms$/m);
    assert.match(set, /^epair0b -> A:epair0a: delay 10ms$/m);
    const p = await cmds.exec(a, "ping -c 1 10.0.0.2");
    const rtt = Number(/time=([\d.]+) ms/.exec(p)![1]);
    assert.ok(rtt >= 20 && rtt < 21, `round trip ${rtt} ms over two 10 ms directions`);
    // Changing one condition keeps the others.
    await cmds.exec(a, "link epair0a loss 100%");
    assert.deepEqual([ea.conditions().delayUs, ea.conditions().loss], [10_000, 1]);
    await fails(cmds, a, "ping -c 2 -i 0.01 10.0.0.2");
    assert.ok(ea.linkStats().lost >= 2);
    assert.match(await cmds.exec(a, "link"), /epair0a -> B:epair0b: delay 10ms loss 100%\n\tsent \d+ delivered \d+ lost [2-9]/);
    await cmds.exec(a, "link epair0a rate 10Mbit limit 50");
    assert.deepEqual([ea.conditions().rateBps, ea.conditions().queueLimit], [10_000_000, 50]);
    await cmds.exec(a, "link epair0a clear both");
    assert.equal(ea.conditions().delayUs + eb.conditions().delayUs + ea.conditions().loss, 0);
    assert.match(await cmds.exec(a, "ping -c 1 10.0.0.2"), /1 packets received/);
    assert.match((await fails(cmds, a, "link lo0 delay 1ms")).message, /link: lo0 is not an epair end/);
    assert.match((await fails(cmds, a, "link epair0a delay")).message, /link: delay needs a value/);
    assert.match((await fails(cmds, a, "link epair0a wobble 3")).message, /link: unknown condition "wobble"/);
    assert.match((await fails(cmds, a, "link epair0a reorder 5%")).message, /reorder needs delayUs > 0/);
    void B;
    k.shutdown();
  });

  test("capture on/off writes a pcap (or pcapng) file with the frames that crossed", async () => {
    const dir = mkdtempSync(join(tmpdir(), "wavnet-cli-"));
    try {
      const { k, A } = await twoHosts();
      const cmds = new Commands(k, { pcapDir: dir });
      const a = { name: "a", vnet: A };
      assert.equal(await cmds.exec(a, "capture epair0a on"), `capturing on epair0a to ${join(dir, "wavnet-a-epair0a.pcap")}`);
      await cmds.exec(a, `capture lo0 on ${join(dir, "lo.pcapng")}`);
      assert.match((await fails(cmds, a, "capture epair0a on")).message, /already capturing/);
      await cmds.exec(a, "ping -c 2 -i 0.1 10.0.0.2");
      assert.match(await cmds.exec(a, "capture"), /^epair0a: \d+ frames so far, 0 dropped -> /m);
      // ARP request and reply, then two echo requests and two replies.
      assert.equal(await cmds.exec(a, "capture epair0a off"), `epair0a: 6 frames captured, 0 dropped, written to ${join(dir, "wavnet-a-epair0a.pcap")}`);
      const pcap = readPcap(readFileSync(join(dir, "wavnet-a-epair0a.pcap")));
      assert.equal(pcap.packets.length, 6);
      assert.equal(pcap.packets.filter((p) => p.data[12] === 0x08 && p.data[13] === 0x00).length, 4);
      assert.match((await fails(cmds, a, "capture epair0a off")).message, /epair0a on a is not capturing/);
      await cmds.close(); // stops lo0's capture and completes its file
      assert.equal(readPcapng(readFileSync(join(dir, "lo.pcapng"))).interfaces.length, 1);
      assert.match((await fails(cmds, a, "capture epair0a sideways")).message, /say on or off/);
      assert.equal((await fails(cmds, a, `capture epair0a on ${join(dir, "no", "such", "x.pcap")}`)).message, `capture: cannot write in ${join(dir, "no", "such")} (ENOENT)`);
      assert.match(cmds.help("ping"), /^ping /);
      assert.throws(() => cmds.help("toString"), /help: no command "toString"/);
      k.shutdown();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("netstat -an, -s, -i, sockstat and arp -an show sockets, counters and neighbours", async () => {
    const { k, A } = await twoHosts(1, ["if_epair", "inet", "udp", "tcp"]);
    const cmds = new Commands(k);
    const a = { name: "a", vnet: A };
    const lst = A.socket("inet", "stream");
    lst.bind("0.0.0.0", 8080);
    lst.listen(5);
    const u = A.socket("inet", "dgram");
    u.bind("10.0.0.1", 5353);
    const an = await cmds.exec(a, "netstat -an");
    assert.match(an, /^tcp4\s+0\s+0\s+\*\.8080\s+\*\.\*\s+LISTEN$/m);
    assert.match(an, /^udp4\s+0\s+0\s+10\.0\.0\.1\.5353\s+\*\.\*$/m);
    assert.match(await cmds.exec(a, "netstat -an -p udp"), /udp4/);
    assert.doesNotMatch(await cmds.exec(a, "netstat -an -p udp"), /tcp4/);
    assert.match(await cmds.exec(a, "sockstat -4 -l"), /\*:8080.*LISTEN/);
    assert.doesNotMatch(await cmds.exec(a, "sockstat -6"), /8080|5353/, "-6: IPv6 sockets only (none here)");
    assert.doesNotMatch(await cmds.exec(a, "sockstat -l"), /5353/);
    await cmds.exec(a, "ping -c 1 10.0.0.2");
    assert.match(await cmds.exec(a, "arp -an"), /\? \(10\.0\.0\.2\) at 02:[0-9a-f:]+ on epair0a/);
    assert.equal(arpTable(k, A).length, 1);
    const s = await cmds.exec(a, "netstat -s");
    for (const p of ["ip:", "icmp:", "arp:", "udp:", "tcp:"]) assert.ok(s.includes(`${p}\n`), p);
    assert.match(await cmds.exec(a, "netstat -s -p icmp"), /^icmp:\n[\s\S]*Input histogram:\n\t\techo reply: 1/);
    assert.match(await cmds.exec(a, "netstat -i"), /^epair0a\s+1500\s+02:/m);
    assert.match((await fails(cmds, a, "netstat -s -p sctp")).message, /netstat: unknown protocol "sctp"/);
    assert.match((await fails(cmds, a, "netstat -f inet6 -rn")).message, /not in this kernel/);
    assert.match((await fails(cmds, a, "arp")).message, /usage: arp -a/);
    lst.close();
    u.close();
    k.shutdown();
  });

  test("vmstat -z, kldstat, kldload/kldunload and sysctl", async () => {
    const { k, A } = await twoHosts();
    const cmds = new Commands(k);
    const a = { name: "a", vnet: A };
    assert.match(await cmds.exec(a, "vmstat -z"), /^ITEM\s+SIZE\s+LIMIT\s+USED/);
    assert.match(await cmds.exec(a, "vmstat -z"), /^mbuf\s+256/m);
    assert.match(await cmds.exec(a, "kldstat"), /^\s*\d+\s+\d+\s+inet\s+\d+\s+-$/m);
    assert.equal(await cmds.exec(a, "kldload vnet_demo"), "");
    assert.match(await cmds.exec(a, "kldstat"), /vnet_demo/);
    assert.equal(await cmds.exec(a, "kldunload vnet_demo"), "");
    assert.doesNotMatch(await cmds.exec(a, "kldstat"), /vnet_demo/);
    assert.match((await fails(cmds, a, "kldload no_such_module")).message, /^kldload no_such_module: no such module/);
    assert.match((await fails(cmds, a, "kldunload vnet_demo")).message, /^kldunload/);
    assert.match((await fails(cmds, a, "vmstat")).message, /only -z/);
    assert.equal(await cmds.exec(a, "sysctl net.inet.ip.forwarding=1"), "net.inet.ip.forwarding: 0 -> 1");
    assert.equal(forwarding(k, A), true);
    assert.equal(await cmds.exec(a, "sysctl net.inet.ip.forwarding"), "net.inet.ip.forwarding: 1");
    assert.match((await fails(cmds, a, "sysctl kern.hostname")).message, /unknown oid 'kern\.hostname'/);
    // The reassembly limits, FreeBSD's names (docs/conformance.md).
    assert.equal(await cmds.exec(a, "sysctl net.inet.ip.maxfragpackets"), "net.inet.ip.maxfragpackets: 512");
    assert.equal(await cmds.exec(a, "sysctl net.inet.ip.maxfragpackets=-1"), "net.inet.ip.maxfragpackets: 512 -> -1");
    assert.match((await fails(cmds, a, "sysctl net.inet.ip.maxfragsperpacket=lots")).message, /sysctl: net.inet.ip.maxfragsperpacket must be an integer from -1 to 2147483647, got "lots"/);
    k.shutdown();
  });

  test("ifconfig on a bridge: members, addm/deletem and the address table", async () => {
    const k = await Kernel.boot({ config: "GENERIC" });
    const sw = k.createVnet("sw");
    const h = k.createVnet("h");
    const [br] = sw.ifcreate("bridge");
    const [he, se] = k.epair(h, sw);
    for (const i of [br, he, se]) i.setUp();
    const cmds = new Commands(k);
    const n = { name: "sw", vnet: sw };
    await cmds.exec(n, `ifconfig ${br.name} addm ${se.name}`);
    assert.match(await cmds.exec(n, `ifconfig ${br.name}`), new RegExp(`\\tmember: ${se.name} flags=`));
    he.send(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 0x42, 0x88, 0xb5, ...new Array(50).fill(0)]));
    assert.match(await cmds.exec(n, `ifconfig ${br.name} addr`), new RegExp(`^02:00:00:00:00:42 Vlan1 ${se.name} `));
    await cmds.exec(n, `ifconfig ${br.name} deletem ${se.name}`);
    assert.doesNotMatch(await cmds.exec(n, `ifconfig ${br.name}`), /member:/);
    assert.match((await fails(cmds, n, `ifconfig ${se.name} addr`)).message, /addr is for bridges/);
    he.destroy();
    k.shutdown();
  });

  test("unknown commands and bad lines are one clear line each", async () => {
    const k = await bootInet();
    const v = k.createVnet("v");
    const cmds = new Commands(k);
    const n = { name: "v", vnet: v };
    assert.match((await fails(cmds, n, "frobnicate now")).message, /^frobnicate: unknown command \(commands: arp, capture, curl, ifconfig, ifmcstat, iperf, /);
    assert.match((await fails(cmds, n, "toString")).message, /^toString: unknown command/);
    assert.match((await fails(cmds, n, `ping "10.0.0.1`)).message, /unterminated " quote/);
    assert.equal(await cmds.exec(n, "   "), "");
    assert.match(cmds.help(), /ifconfig \[-a \| -l/);
    assert.match(cmds.help("ping"), /^ping \[-4 \| -6\] \[-c count\]/);
    v.destroy();
    assert.match((await fails(cmds, n, "ifconfig")).message, /node "v" is gone/);
    k.shutdown();
  });
});

test("every command name has help, and Kernel stays importable with the cli", async () => {
  const k = await Kernel.boot({ config: "BARE" });
  const cmds = new Commands(k);
  for (const n of cmds.names()) assert.ok(cmds.help(n).startsWith(n), n);
  k.shutdown();

});

describe("node commands, IPv6", () => {
  test("IPv6: ifconfig inet6, route -6, netstat -rn -f inet6, ndp, ping6, traceroute6, sysctl, netstat -s -p ip6", async () => {
    const { k, A, R, B, a } = await routed6();
    const cmds = new Commands(k);
    const na: CommandNode = { name: "A", vnet: A, interfaces: () => [{ name: "eth0", iface: a }] };
    const nr: CommandNode = { name: "R", vnet: R };
    (k.clock as import("../host/index.js").VirtualClock).advance(2_000_000); // DAD done: no "tentative"
    // ifconfig: inet6 lines (link-local with its zone and scope id), add and delete by topology name.
    assert.equal(await cmds.exec(na, "ifconfig eth0 inet6 fd00:1::5 alias"), "");
    assert.ok(addresses6(k, a).some((x) => x.cidr === "fd00:1::5/64"), "prefix length 64 by default");
    const show = await cmds.exec(na, "ifconfig eth0");
    assert.match(show, /^\tinet6 fe80::ff:fe00:a%epair0a prefixlen 64 scopeid 0x2$/m);
    assert.match(show, /^\tinet6 fd00:1::1 prefixlen 64$/m);
    assert.match(await cmds.exec(na, "ifconfig lo0"), /^\tinet6 ::1 prefixlen 128$/m);
    await cmds.exec(na, "ifconfig eth0 inet6 fd00:1::5 -alias");
    assert.ok(!addresses6(k, a).some((x) => x.cidr === "fd00:1::5/64"));
    assert.match((await fails(cmds, na, "ifconfig eth0 inet6 10.0.0.1/24")).message, /not an IPv6 address/);
    assert.match((await fails(cmds, na, "ifconfig eth0 inet6 ff02::1/64")).message, /multicast/);
    // route -6 / routes by their text, with a link-local gateway zoned by the topology name.
    assert.equal(await cmds.exec(na, "route -6 add fd00:7::/64 fe80::ff:fe00:b%eth0"), "add net fd00:7::/64: gateway fe80::ff:fe00:b%eth0");
    assert.equal(routes6(k, A).find((r) => r.destination === "fd00:7::/64")?.gateway, "fe80::ff:fe00:b%epair0a");
    assert.match(await cmds.exec(na, "route get fd00:7::1"), /gateway: fe80::ff:fe00:b%epair0a\n\s+interface: epair0a/);
    assert.match(await cmds.exec(na, "route -6 get fd00:2::2"), /destination: ::\n[\s\S]*source: fd00:1::1/);
    await cmds.exec(na, "route delete fd00:7::/64");
    assert.match(await cmds.exec(na, "netstat -rn -f inet6"), /^Routing tables\n\nInternet6:\n.*\n(fe80::%epair0a\/64.*\n)?.*fd00:1::\/64\s+link#2\s+U\s+epair0a/m);
    assert.match(await cmds.exec(na, "netstat -rn"), /Internet6:/);
    assert.match(await cmds.exec(na, "route -6 show"), /default\s+fd00:1::2\s+UGS\s+epair0a/);
    // ping6 and traceroute6 through R; the neighbour cache shows R.
    assert.match(await cmds.exec(na, "ping6 -c 2 -i 0.1 fd00:2::2"), /2 packets transmitted, 2 packets received/);
    assert.match(await cmds.exec(na, "ping -c 1 fd00:2::2"), /bytes from fd00:2::2, icmp_seq=0 hlim=63/);
    assert.match(await cmds.exec(na, "traceroute6 -q 1 fd00:2::2"), /^ 1\s+fd00:1::2 .*\n 2\s+fd00:2::2 /m);
    assert.match(await cmds.exec(na, "ndp -an"), /^fd00:1::2\s+02:00:00:00:00:0b\s+epair0a\s+\S+\s+R\s+R$/m);
    assert.equal(await cmds.exec(na, "ndp -d fd00:1::2"), "fd00:1::2 (fd00:1::2) deleted");
    assert.equal(ndpTable(k, A).length, 0);
    await cmds.exec(na, "ndp -s fd00:1::9 90:10:00:01:02:03");
    assert.match(await cmds.exec(na, "ndp -an"), /^fd00:1::9\s+90:10:00:01:02:03\s+epair0a\s+permanent\s+R\s*$/m);
    assert.match((await fails(cmds, na, "ndp -s fd00:1::9")).message, /give an address and a MAC/);
    await cmds.exec(na, "ndp -d fd00:1::9");
    assert.equal(ndpTable(k, A).length, 0);
    assert.match((await fails(cmds, na, "ndp")).message, /usage: ndp -a/);
    assert.match((await fails(cmds, na, "ping6 10.0.0.1")).message, /ping6: 10\.0\.0\.1 is an IPv4 address \(-6 wants IPv6\)/);
    await assert.rejects(cmds.exec(na, "ping6 -c 1 -W 50 fd00:9::1"), (e: unknown) => e instanceof CommandFailed && /ping6: no reply from fd00:9::1/.test(e.message) && /No Route to Destination/.test(e.output));
    // sysctl and counters.
    assert.equal(await cmds.exec(nr, "sysctl net.inet6.ip6.forwarding"), "net.inet6.ip6.forwarding: 1");
    assert.equal(await cmds.exec(nr, "sysctl net.inet6.ip6.forwarding=0"), "net.inet6.ip6.forwarding: 1 -> 0");
    assert.equal(forwarding6(k, R), false);
    assert.match(await cmds.exec(nr, "netstat -s -p ip6"), /^ip6:\n[\s\S]*\t\d+ packets forwarded$/m);
    assert.match(await cmds.exec(na, "netstat -s -p icmp6"), /^icmp6:\n/);
    assert.match(await cmds.exec(na, "netstat -s"), /^ip6:$/m);
    k.shutdown();
  });

  test("IPv6 sockets in netstat -an (tcp6, udp6) and sockstat -6", async () => {
    const k = await Kernel.boot({ config: "GENERIC" });
    const v = k.createVnet("v");
    const cmds = new Commands(k);
    const n: CommandNode = { name: "v", vnet: v };
    const l = v.socket("inet6", "stream");
    l.bind("::", 8080);
    l.listen(5);
    const u = v.socket("inet6", "dgram");
    u.bind("::1", 5353);
    const an = await cmds.exec(n, "netstat -an");
    assert.match(an, /^tcp6\s+0\s+0\s+\*\.8080\s+\*\.\*\s+LISTEN$/m);
    assert.match(an, /^udp6\s+0\s+0\s+::1\.5353\s+\*\.\*\s*$/m);
    assert.match(await cmds.exec(n, "sockstat -6"), /\[::1\]:5353/);
    assert.doesNotMatch(await cmds.exec(n, "sockstat -4"), /5353/);
    l.close();
    u.close();
    k.shutdown();
  });
});
