import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { Kernel, type Interface, type Vnet } from "../host/index.js";
import { addAddress, addRoute, setForwarding, ipStats } from "../host/admin/inet.js";
import { ping } from "../host/admin/ping.js";
import { socket } from "../host/sockets/socket.js";
import {
  ipfwAdd, ipfwSetDefault, ipfwStats, ipfwNatConfig, ipfwNatShow, ipfwNatSet, ipfwNatGet, ipfwNatDelete, formatNatShow,
} from "../host/admin/ipfw.js";
import { parseNatCommand, IpfwParseError } from "../host/ipfw/index.js";
import { rule, M, A_, clock } from "./helpers/ipfw.js";
import { ether, ipPacket, icmp, cksum } from "./helpers/inet.js";
import { pattern, sha256, pump, step } from "./helpers/tcp.js";

const S = 1_000_000;
const PUB = "203.0.113.1";
/** A datagram's inet source. */
const from = (d: { address?: unknown }) => d.address as { address: string; port: number };

/**
 * L1 (192.168.1.10) - int0 R int1 - L2 (192.168.2.20); R ext (203.0.113.1) - Srv (203.0.113.2).
 * Srv has no route to 192.168/16: only NAT gets an answer back. R: nat 1 on the ext link.
 */
function natLab(k: Kernel, tag: string, opts: { offload?: "on" | "off" | "mixed" } = {}) {
  const [L1, L2, R, Srv] = ["L1", "L2", "R", "Srv"].map((n) => k.createVnet(`${n}${tag}`));
  const link = (x: Vnet, y: Vnet, ax: string, ay: string, ext = false): [Interface, Interface] => {
    const [a, b] = k.epair(x, y);
    if (opts.offload === "off" || (opts.offload === "mixed" && ext)) for (const i of [a, b]) i.setCapEnable(0);
    a.setUp();
    b.setUp();
    addAddress(k, a, ax);
    addAddress(k, b, ay);
    return [a, b];
  };
  const [l1, int0] = link(L1!, R!, "192.168.1.10/24", "192.168.1.1/24");
  const [l2, int1] = link(L2!, R!, "192.168.2.20/24", "192.168.2.1/24");
  const [ext, srv] = link(R!, Srv!, `${PUB}/24`, "203.0.113.2/24", true);
  addRoute(k, L1!, "default", { gateway: "192.168.1.1" });
  addRoute(k, L2!, "default", { gateway: "192.168.2.1" });
  addRoute(k, R!, "198.51.100.0/24", { gateway: "203.0.113.2" });
  setForwarding(k, R!, true);
  setForwarding(k, Srv!, true); // for the ICMP error test: no route to 198.51.100/24 there
  for (const v of [L1!, L2!, R!, Srv!]) ipfwSetDefault(k, v, true);
  ipfwAdd(k, R!, rule(100, [M.via(ext.name)], [A_.nat(1)]));
  return { L1: L1!, L2: L2!, R: R!, Srv: Srv!, l1, l2, int0, int1, ext, srv };
}

async function boot(seed = 1) {
  return Kernel.boot({ config: ["if_epair", "inet", "udp", "tcp", "ipfw"], seed });
}

function accept(k: Kernel, lsn: ReturnType<typeof socket>) {
  for (let i = 0; i < 200; i++) {
    const s = lsn.accept();
    if (s) return s;
    step(k, 100_000);
  }
  throw new Error("no connection");
}

/** A TCP connection from `from` to dst:dport (listener in `to` on lport), 256 KiB each way, SHA-256 checked. */
function tcpThrough(k: Kernel, from: Vnet, to: Vnet, dst: string, dport: number, lport = dport, sport = 0) {
  const lsn = socket(k, to, "inet", "stream").bind("0.0.0.0", lport).listen(4);
  const cli = socket(k, from, "inet", "stream");
  if (sport) cli.bind("0.0.0.0", sport);
  try { cli.connect(dst, dport); } catch { /* in progress */ }
  const srv = accept(k, lsn);
  const up = pattern(256 * 1024, 3);
  const down = pattern(256 * 1024, 9);
  assert.equal(sha256(pump(k, cli, srv, up).got), sha256(up), "upload intact");
  assert.equal(sha256(pump(k, srv, cli, down).got), sha256(down), "download intact");
  const pa = srv.remoteAddress() as { address: string; port: number };
  return { cli, srv, lsn, peer: pa.address, peerPort: pa.port };
}

describe("ipfw nat", () => {
  const modes = {
    on: "offload on everywhere: trusted between vnets",
    off: "offload off: full checksums updated by NAT, checked by each receiver",
    mixed: "offload on the LAN, off on the outside link: the pseudo-header sum NAT moved is completed in software there and checked by the server",
  } as const;
  for (const offload of ["on", "off", "mixed"] as const) {
    test(`TCP from the LAN through the NAT router, SHA-256 both ways; the server sees the public address, port preserved (${modes[offload]})`, async () => {
      const k = await boot();
      const l = natLab(k, "", { offload });
      ipfwNatConfig(k, l.R, `nat 1 config ip ${PUB}`);
      const t = tcpThrough(k, l.L1, l.Srv, "203.0.113.2", 80, 80, 40000);
      assert.equal(t.peer, PUB);
      assert.equal(t.peerPort, 40000, "RFC 4787 port preservation: the local port was free");
      const { instances, entries } = ipfwNatShow(k, l.R);
      assert.equal(instances.length, 1);
      assert.equal(instances[0]!.address, PUB);
      assert.equal(instances[0]!.iface, l.ext.name, "the interface holding the address is the external one");
      const e = entries.find((x) => x.proto === 6)!;
      assert.deepEqual([e.localAddress, e.localPort, e.publicPort, e.remoteAddress, e.remotePort], ["192.168.1.10", 40000, 40000, "203.0.113.2", 80]);
      assert.equal(e.tcpSeen & 3, 3, "SYN both ways: established");
      assert.ok(e.packetsOut > 10 && e.packetsIn > 10);
      assert.ok(e.expiresInMs > 7_000_000, "established lifetime (RFC 5382: > 2 h 4 min)");
      assert.equal(ipfwStats(k, l.R).badpkt, 0);
      const text = formatNatShow(ipfwNatShow(k, l.R)).split("\n");
      assert.match(text[0]!, new RegExp(`^nat 1: ${PUB} \\(${l.ext.name}\\), 1 entries; out \\d+, in \\d+`));
      assert.equal(text[1], `  ipfw nat 1 config ip ${PUB}`);
      assert.match(text[2]!, /^ {2}tcp 192\.168\.1\.10:40000 -> 203\.0\.113\.1:40000 \(last 203\.0\.113\.2:80\) out \d+\/\d+ in \d+\/\d+ expires 74\d\d s$/);
      t.cli.close();
      t.srv.close();
      t.lsn.close();
      k.shutdown();
    });
  }

  test("UDP: endpoint-independent mapping (one public port for every destination), a busy port remapped, replies translated back, mapping expires after nat_udp_lifetime", async () => {
    const k = await boot();
    const l = natLab(k, "");
    addAddress(k, l.srv, "203.0.113.3/32");
    ipfwNatConfig(k, l.R, `nat 1 config ip ${PUB}`);
    const s7 = socket(k, l.Srv, "inet", "dgram", 17).bind("0.0.0.0", 7);
    const s8 = socket(k, l.Srv, "inet", "dgram", 17).bind("0.0.0.0", 8);
    const c1 = socket(k, l.L1, "inet", "dgram", 17).bind("0.0.0.0", 5000);
    const c2 = socket(k, l.L2, "inet", "dgram", 17).bind("0.0.0.0", 5000);
    c1.sendto("a", "203.0.113.2", 7);
    c1.sendto("b", "203.0.113.3", 8); // another address and port of the outside
    c2.sendto("c", "203.0.113.2", 7);
    clock(k).advance(10_000);
    const d7a = s7.recvfrom()!;
    const d8 = s8.recvfrom()!;
    const d7c = s7.recvfrom()!;
    assert.equal(from(d7a).address, PUB);
    assert.equal(from(d7a).port, 5000, "port preserved");
    assert.equal(from(d8).port, 5000, "the same mapping for another destination (RFC 4787 REQ-1)");
    assert.equal(from(d7c).address, PUB);
    assert.notEqual(from(d7c).port, 5000, "L2's 5000 is remapped: the public 5000 is L1's");
    s7.sendto("to1", PUB, 5000);
    s8.sendto("to2", PUB, from(d7c).port);
    clock(k).advance(10_000);
    assert.equal(new TextDecoder().decode(c1.recvfrom()!.data), "to1");
    assert.equal(new TextDecoder().decode(c2.recvfrom()!.data), "to2", "endpoint-independent filtering: another server reaches the mapping");
    assert.equal(ipfwNatGet(k, l.R, "entries"), 2);
    clock(k).advance(299 * S);
    assert.equal(ipfwNatGet(k, l.R, "entries"), 2, "RFC 4787 REQ-5: at least 2 min (300 s here)");
    clock(k).advance(2 * S);
    assert.equal(ipfwNatGet(k, l.R, "entries"), 0, "expired by the callout in virtual time");
    s7.sendto("late", PUB, 5000);
    clock(k).advance(10_000);
    assert.equal(c1.recvfrom(), null, "no mapping: not translated (delivered to R, nobody listens)");
    k.shutdown();
  });

  test("ICMP echo: the id is mapped; a second pinger with the same id gets another", async () => {
    const k = await boot();
    const l = natLab(k, "");
    ipfwNatConfig(k, l.R, `nat 1 config ip ${PUB}`);
    const r1 = await ping(k, l.L1, "203.0.113.2", { count: 2, timeoutMs: 1000 });
    assert.equal(r1.received, 2);
    const r2 = await ping(k, l.L2, "203.0.113.2", { count: 1, timeoutMs: 1000 });
    assert.equal(r2.received, 1);
    const icmpMaps = ipfwNatShow(k, l.R).entries.filter((e) => e.proto === 1);
    assert.equal(icmpMaps.length, 2);
    assert.ok(icmpMaps.every((e) => e.packetsIn >= 1));
    k.shutdown();
  });

  test("an ICMP error about a NATed echo reaches the inside host with the quoted header translated back (RFC 5508)", async () => {
    const k = await boot();
    const l = natLab(k, "");
    ipfwNatConfig(k, l.R, `nat 1 config ip ${PUB}`);
    addRoute(k, l.L1, "198.51.100.0/24", { gateway: "192.168.1.1" });
    // Srv forwards but has no route to 198.51.100/24: it answers the public address with "net unreachable".
    const r = await ping(k, l.L1, "198.51.100.5", { count: 1, timeoutMs: 1000 });
    assert.equal(r.errors.length, 1, "L1 took the error as about its own echo: the quoted source is 192.168.1.10 again");
    assert.equal(r.errors[0]!.from, "203.0.113.2");
    assert.equal(r.errors[0]!.type, 3);
    assert.equal(ipfwNatShow(k, l.R).instances[0]!.stats.icmpErrors, 1);
    k.shutdown();
  });

  test("port unreachable both ways through NAT reaches the connected UDP socket of the 4-tuple (the quoted header translated, RFC 5508)", async () => {
    const k = await boot();
    const l = natLab(k, "");
    ipfwNatConfig(k, l.R, `nat 1 config ip ${PUB} redirect_port udp 192.168.1.10:5353 53`);
    // In: L1 -> Srv:9, nobody there; Srv's error names 203.0.113.1:5002 and must come back as 192.168.1.10:5002.
    const c = socket(k, l.L1, "inet", "dgram", 17).bind("0.0.0.0", 5002);
    c.connect("203.0.113.2", 9);
    c.send("anyone?");
    clock(k).advance(20_000);
    assert.throws(() => c.recvfrom(), (e: { code?: string }) => e.code === "ECONNREFUSED", "L1's socket heard the translated error");
    // Out: Srv -> 203.0.113.1:53 -> L1:5353, nobody there; L1's error names 192.168.1.10:5353 and must leave as 203.0.113.1:53.
    const o = socket(k, l.Srv, "inet", "dgram", 17).bind("0.0.0.0", 9999);
    o.connect(PUB, 53);
    o.send("anyone?");
    clock(k).advance(20_000);
    assert.throws(() => o.recvfrom(), (e: { code?: string }) => e.code === "ECONNREFUSED", "Srv's socket heard the translated error");
    assert.equal(ipfwNatShow(k, l.R).instances[0]!.stats.icmpErrors, 2);
    k.shutdown();
  });

  test("redirect_port: an outside client reaches the inside server through the public port; the server answers from it", async () => {
    const k = await boot();
    const l = natLab(k, "");
    ipfwNatConfig(k, l.R, `nat 1 config ip ${PUB} redirect_port tcp 192.168.1.10:8080 80 redirect_port udp 192.168.1.10:5353 53`);
    const t = tcpThrough(k, l.Srv, l.L1, PUB, 80, 8080);
    assert.equal(t.peer, "203.0.113.2", "the inside server sees the real client");
    const u = socket(k, l.L1, "inet", "dgram", 17).bind("0.0.0.0", 5353);
    const c = socket(k, l.Srv, "inet", "dgram", 17).bind("0.0.0.0", 9999);
    c.sendto("q", PUB, 53);
    clock(k).advance(10_000);
    const q = u.recvfrom()!;
    u.sendto("r", q.address!);
    clock(k).advance(10_000);
    const a = c.recvfrom()!;
    assert.equal(from(a).address, PUB);
    assert.equal(from(a).port, 53, "the answer leaves from the public port");
    const inst = ipfwNatShow(k, l.R).instances[0]!;
    assert.deepEqual(inst.redirects.map((r) => `${r.proto} ${r.localAddress}:${r.localPort} ${r.publicPort}`), ["tcp 192.168.1.10:8080 80", "udp 192.168.1.10:5353 53"]);
    k.shutdown();
  });

  test("hairpinning: L2 reaches L1's forwarded port through the public address and L1 sees the public address (RFC 5382 REQ-8)", async () => {
    const k = await boot();
    const l = natLab(k, "");
    ipfwNatConfig(k, l.R, `nat 1 config ip ${PUB} redirect_port tcp 192.168.1.10:8080 80`);
    // FreeBSD's way: the inside interfaces also pass traffic to the public address through nat.
    ipfwAdd(k, l.R, rule(90, [M.src("192.168.0.0", 16), M.dst(PUB), M.in()], [A_.nat(1)]));
    const t = tcpThrough(k, l.L2, l.L1, PUB, 80, 8080);
    assert.equal(t.peer, PUB, "translated both ways");
    assert.ok(ipfwNatShow(k, l.R).instances[0]!.stats.hairpin > 0);
    k.shutdown();
  });

  test("table exhaustion in one vnet (nat_max) drops and counts new flows there; another vnet's NAT keeps working", async () => {
    const k = await boot();
    const a = natLab(k, "a");
    const b = natLab(k, "b");
    for (const x of [a, b]) ipfwNatConfig(k, x.R, `nat 1 config ip ${PUB}`);
    ipfwNatSet(k, a.R, "nat_max", 20);
    const srv = socket(k, a.Srv, "inet", "dgram", 17).bind("0.0.0.0", 7);
    const cs = [];
    for (let i = 0; i < 50; i++) {
      const c = socket(k, a.L1, "inet", "dgram", 17).bind("0.0.0.0", 6000 + i);
      c.sendto("x", "203.0.113.2", 7);
      cs.push(c);
    }
    clock(k).advance(10_000);
    let got = 0;
    while (srv.recvfrom()) got++;
    assert.equal(got, 20, "only nat_max flows got through");
    assert.equal(ipfwNatGet(k, a.R, "entries"), 20);
    assert.equal(ipfwNatShow(k, a.R).instances[0]!.stats.full, 30);
    assert.equal(ipfwStats(k, a.R).nat, 30, "dropped by nat, counted");
    const t = tcpThrough(k, b.L1, b.Srv, "203.0.113.2", 80);
    assert.equal(t.peer, PUB, "the other vnet's NAT is untouched");
    assert.equal((await ping(k, b.L1, "203.0.113.2", { count: 1, timeoutMs: 1000 })).received, 1);
    k.shutdown();
  });

  test("malformed packets at the NAT are dropped and counted, never translated", async () => {
    const k = await boot();
    const l = natLab(k, "");
    ipfwNatConfig(k, l.R, `nat 1 config ip ${PUB}`);
    const before = ipfwStats(k, l.R).badpkt;
    const srvIn = ipStats(k, l.Srv).total;
    // An ICMP unreachable to the public address quoting only 4 bytes of an IP header.
    const shortQuote = icmp(3, 3, 0, Uint8Array.of(0x45, 0, 0, 28));
    l.ext.receive(ether(l.srv, l.ext, 0x0800, ipPacket({ src: "203.0.113.2", dst: PUB, proto: 1, payload: shortQuote })));
    // A TCP header cut to 10 bytes.
    l.ext.receive(ether(l.srv, l.ext, 0x0800, ipPacket({ src: "203.0.113.2", dst: PUB, proto: 6, payload: new Uint8Array(10) })));
    // A later fragment of a datagram whose first fragment was never seen, from inside.
    const udpFrag = ipPacket({ src: "192.168.1.10", dst: "203.0.113.2", proto: 17, off: 64, id: 77, payload: new Uint8Array(16) });
    l.int0.receive(ether(l.l1, l.int0, 0x0800, udpFrag));
    clock(k).advance(10_000);
    assert.equal(ipfwStats(k, l.R).badpkt - before, 2, "the short quote and the cut TCP header");
    assert.equal(ipfwNatShow(k, l.R).instances[0]!.stats.fragDropped, 1, "the lone fragment");
    assert.equal(ipStats(k, l.Srv).total, srvIn, "nothing reached the server (the fragment would have carried L1's private address)");
    assert.equal(ipfwNatGet(k, l.R, "entries"), 0);
    void cksum;
    k.shutdown();
  });

  test("fragments: a UDP datagram larger than the MTU goes out through NAT in fragments and its answer comes back", async () => {
    const k = await boot();
    const l = natLab(k, "");
    ipfwNatConfig(k, l.R, `nat 1 config ip ${PUB}`);
    const srv = socket(k, l.Srv, "inet", "dgram", 17).bind("0.0.0.0", 7);
    const c = socket(k, l.L1, "inet", "dgram", 17).bind("0.0.0.0", 5001);
    const big = pattern(4000, 5);
    c.sendto(big, "203.0.113.2", 7);
    clock(k).advance(10_000);
    const d = srv.recvfrom();
    assert.ok(d, "reassembled at the server after NAT");
    assert.equal(sha256(d!.data), sha256(big));
    assert.equal(from(d).address, PUB);
    srv.sendto(big, PUB, 5001);
    clock(k).advance(10_000);
    const back = c.recvfrom();
    assert.ok(back, "the fragmented answer was translated back");
    assert.equal(sha256(back!.data), sha256(big));
    const kinds = ipfwNatShow(k, l.R).entries.map((e) => e.kind).sort();
    assert.deepEqual(kinds, ["frag-in", "frag-out", "map"]);
    k.shutdown();
  });

  test("config: refused configs name the reason; delete; the parser takes FreeBSD's grammar and names the column", async () => {
    const k = await boot();
    const l = natLab(k, "");
    assert.throws(() => ipfwNatConfig(k, l.R, `nat 1 config ip 224.0.0.1`), /multicast/);
    assert.throws(() => ipfwNatConfig(k, l.R, `nat 1 config ip ${PUB} redirect_port tcp 192.168.1.10:80 80 redirect_port tcp 192.168.1.11:80 80`), /overlap/);
    assert.throws(() => parseNatCommand("nat 1 config ip 1.2.3.4 deny_in"), (e: unknown) => e instanceof IpfwParseError && e.column === 25 && /not supported/.test(e.message));
    assert.throws(() => parseNatCommand("nat 1 config ip 1.2.3.4 redirect_port tcp 10.0.0.1:80-81 80"), /as long as/);
    assert.deepEqual(parseNatCommand("nat show"), { op: "show" });
    assert.deepEqual(parseNatCommand("nat 3 show"), { op: "show", id: 3 });
    assert.deepEqual(parseNatCommand("nat 3 delete"), { op: "delete", id: 3 });
    assert.throws(() => parseNatCommand("nat 0 config ip 1.2.3.4"), (e: unknown) => e instanceof IpfwParseError && e.column === 5);
    assert.throws(() => parseNatCommand("nat 1 config same_ports"), /needs an address/);
    assert.throws(() => parseNatCommand("nat 1 config ip 1.2.3"), (e: unknown) => e instanceof IpfwParseError && e.column === 17);
    assert.throws(() => parseNatCommand("nat 1 config ip 1.2.3.4 redirect_port icmp 10.0.0.1:80 80"), /"tcp" or "udp"/);
    assert.throws(() => parseNatCommand("nat 1 config ip 1.2.3.4 redirect_port tcp 10.0.0.1:80 5.6.7.8:80"), /alias address must be/);
    assert.throws(() => parseNatCommand("nat 1 config ip 1.2.3.4 redirect_port tcp 10.0.0.1:80 80 9.9.9.9:1-2"), /ranges are not supported/);
    assert.throws(() => parseNatCommand("nat 1 show now"), /nothing may follow/);
    const c = parseNatCommand(`nat 7 config ip ${PUB} same_ports unreg_only reset redirect_port tcp 192.168.1.10:8000-8001 ${PUB}:80-81 198.51.100.9`);
    assert.equal(c.op, "config");
    ipfwNatConfig(k, l.R, c.op === "config" ? c.config : (null as never));
    const i = ipfwNatShow(k, l.R).instances[0]!;
    assert.equal(i.id, 7);
    assert.equal(i.address, PUB);
    assert.equal(i.iface, l.ext.name, "the interface holding the address");
    assert.deepEqual(i.flags, { samePorts: true, unregOnly: true, reset: true, fromInterface: false });
    ipfwNatConfig(k, l.R, `nat 8 config if ${l.ext.name}`);
    assert.equal(ipfwNatShow(k, l.R).instances[1]!.address, PUB, "if: the interface's address");
    ipfwNatDelete(k, l.R, 8);
    assert.deepEqual(i.redirects[0], { proto: "tcp", localAddress: "192.168.1.10", localPort: 8000, count: 2, publicPort: 80, remoteAddress: "198.51.100.9" });
    ipfwNatDelete(k, l.R, 7);
    assert.equal(ipfwNatShow(k, l.R).instances.length, 0);
    assert.throws(() => ipfwNatDelete(k, l.R, 7), /no instance 7/);
    k.shutdown();
  });

  test("vnet destroy with live mappings, then kldunload with live mappings: zero items, zero pages, no callout", async () => {
    const k = await boot();
    const live = async (tag: string) => {
      const l = natLab(k, tag);
      ipfwNatConfig(k, l.R, `nat 1 config ip ${PUB}`);
      const t = tcpThrough(k, l.L1, l.Srv, "203.0.113.2", 80);
      assert.equal((await ping(k, l.L1, "203.0.113.2", { count: 1, timeoutMs: 1000 })).received, 1);
      assert.ok(ipfwNatGet(k, l.R, "entries") >= 2);
      assert.ok((l.R.accounting().items["ipfw_nat"] ?? 0) >= 2, "entries are charged to the vnet");
      t.cli.close();
      t.srv.close();
      t.lsn.close();
      return l;
    };
    // A first round warms the kernel's own caches (zones of other subsystems keep slabs); the
    // second must end where the first did.
    let pages0 = 0;
    for (const round of [0, 1]) {
      const a = await live(`d${round}`);
      for (const v of [a.L1, a.L2, a.R, a.Srv]) v.destroy(); // LeakError names anything left
      k.reclaim();
      if (round === 0) pages0 = k.accounting().pagesInUse;
      else assert.equal(k.accounting().pagesInUse, pages0, "the destroyed vnets left no page");
    }
    assert.equal(k.k.callout_check(), 0);
    const b = await live("u");
    const pagesR = b.R.accounting().pages;
    k.kldunload("ipfw");
    assert.deepEqual(Object.entries(b.R.accounting().items).filter(([n]) => n.startsWith("ipfw")), [], "no ipfw item left");
    assert.ok(b.R.accounting().pages <= pagesR - 2, "the instance and hash pages went back");
    assert.equal(k.k.callout_check(), 0);
    assert.equal((await ping(k, b.L1, "203.0.113.2", { count: 1, timeoutMs: 1000 })).received, 0, "no NAT any more: no way back");
    for (const v of [b.L1, b.L2, b.R, b.Srv]) v.destroy();
    k.shutdown();
  });
});
