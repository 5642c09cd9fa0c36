// FreeBSD's routing and output tests re-created: tests/sys/netinet/forward.sh (with
// common/sender.py), output.sh, lpm.sh, redirect.sh (with redirect.py). FreeBSD's scripts
// build jails on epairs and send with scapy from the host's end; here each case builds its
// vnets on epairs, injects the scapy frames on the jail's end as if from the host's wire,
// and captures what the jail sends on that end. Every case ends by destroying its vnets:
// no mbuf may be left.
import { before, after } from "node:test";
import assert from "node:assert/strict";
import { ping, type Kernel, type Vnet, type Interface } from "../../host/index.js";
import { addAddress, addRoute, addBlackholeRoute, routeGet, ipStats, netstatS, setForwarding, parseIPv4 } from "../../host/admin/inet.js";
import { socket } from "../../host/sockets/socket.js";
import { ipPacket, ether, echoRequest, icmp, mbufsInUse } from "../helpers/inet.js";
import { bootLab, clock, conformanceTest } from "./lab.js";

let k: Kernel;
before(async () => {
  k = await bootLab(["inet", "udp", "tcp"]);
});
after(() => k.shutdown());

const ETHERTYPE_IP = 0x0800;

/** The vnets and captures of one case; down() destroys them all and checks nothing is left. */
class Lab {
  readonly vnets: Vnet[] = [];
  readonly stops: (() => Promise<void>)[] = [];
  constructor(readonly name: string) {}
  vnet(suffix: string): Vnet {
    const v = k.createVnet(`${this.name}${suffix}`);
    this.vnets.push(v);
    return v;
  }
  epair(a: Vnet, b: Vnet): [Interface, Interface] {
    const [x, y] = k.epair(a, b);
    x.setUp();
    y.setUp();
    return [x, y];
  }
  /** Frames `end` sends from now on (the sniffer on the other end in FreeBSD's scripts). */
  sniff(end: Interface): () => Promise<Uint8Array[]> {
    const frames: Uint8Array[] = [];
    const cap = end.capture();
    const reading = (async () => {
      for await (const f of cap) if (f.dir === "out") frames.push(f.data.slice());
    })();
    this.stops.push(async () => {
      await cap.stop();
      await reading;
    });
    return async () => {
      for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
      return frames;
    };
  }
  async down(): Promise<void> {
    for (const s of this.stops) await s();
    for (const v of this.vnets.reverse()) v.destroy();
    assert.equal(mbufsInUse(k), 0, `${this.name}: no mbuf left`);
  }
}

async function withLab(name: string, fn: (l: Lab) => Promise<void>): Promise<void> {
  const l = new Lab(name);
  try {
    await fn(l);
  } finally {
    await l.down();
  }
}

/** ipstat counters of a vnet, as deltas from now on (netstat -z). */
function ipDelta(v: Vnet): () => ReturnType<typeof ipStats> {
  const base = ipStats(k, v);
  return () => {
    const now = ipStats(k, v);
    for (const key of Object.keys(now) as (keyof typeof now)[]) now[key] -= base[key];
    return now;
  };
}

// ---------------------------------------------------------------------------------------
// forward.sh: router on a stick. The host has 192.0.2.1/29 on epair a; the jail 192.0.2.2/29
// on b, net.inet.ip.forwarding=1 (and net.inet.ip.redirect=0: wavnet sends no redirects).
// An echo request from 192.0.2.3 (not a real host) with the jail's MAC as destination must
// come back out of b with the MACs swapped, the TTL one less and the payload unchanged.

/** IP option Stream ID (type 136, length 4, id 0xffff): scapy's IPOption_Stream_Id(security=0xFFFF). */
const STREAM_ID = [136, 4, 0xff, 0xff];

async function stick(name: string, via: "iface" | "gw", options: number[]): Promise<void> {
  await withLab(name, async (l) => {
    const host = l.vnet("-host");
    const jail = l.vnet("");
    const [a, b] = l.epair(host, jail);
    addAddress(k, a, "192.0.2.1/29");
    addAddress(k, b, "192.0.2.2/29");
    setForwarding(k, jail, true);
    let dip = "192.0.2.1";
    if (via === "gw") {
      addRoute(k, jail, "192.0.2.4/32", { gateway: "192.0.2.1" });
      dip = "192.0.2.4";
    }
    // The jail learns the host's MAC first (FreeBSD's jail has it from the script's setup traffic).
    assert.equal((await ping(k, jail, "192.0.2.1", { count: 1 })).received, 1);
    const ip = ipDelta(jail);
    const sent = l.sniff(b);
    const pkt = ether(a, b, ETHERTYPE_IP, ipPacket({ src: "192.0.2.3", dst: dip, ttl: 64, options, payload: echoRequest(1, 1, 0) }));
    b.receive(pkt);
    const fwd = (await sent()).filter((f) => f[12] === 0x08 && f[13] === 0x00);
    assert.equal(fwd.length, 1, "the packet came back out");
    const f = fwd[0];
    assert.deepEqual(f.subarray(0, 6), pkt.subarray(6, 12), "to the sender's MAC");
    assert.deepEqual(f.subarray(6, 12), pkt.subarray(0, 6), "from the jail's");
    assert.equal(f.length, pkt.length, "same length");
    assert.deepEqual(f.subarray(30, 34), pkt.subarray(30, 34), "same destination");
    assert.equal(f[22], pkt[22] - 1, "TTL one less");
    const hl = (pkt[14] & 15) * 4;
    assert.deepEqual(f.subarray(14 + hl), pkt.subarray(14 + hl), "same payload");
    const s = ip();
    const fast = options.length === 0 ? 1 : 0;
    assert.equal(s.forward, 1);
    assert.equal(s.fastforward, fast);
    assert.match(netstatS(k, jail, "ip"), new RegExp(`\\t1 packet forwarded \\(${fast} packets? fast forwarded\\)`));
  });
}

conformanceTest("forward__fwd_ip_icmp_iface_fast_success", () => stick("fwd-iface-fast", "iface", []));
conformanceTest("forward__fwd_ip_icmp_gw_fast_success", () => stick("fwd-gw-fast", "gw", []));
conformanceTest("forward__fwd_ip_icmp_iface_slow_success", () => stick("fwd-iface-slow", "iface", STREAM_ID));
// FreeBSD's script runs sender.py's fwd_ip_icmp_fast here (no option) and expects the fast path.
conformanceTest("forward__fwd_ip_icmp_gw_slow_success", () => stick("fwd-gw-slow", "gw", []));

conformanceTest("forward__fwd_ip_blackhole", () =>
  withLab("fwd-blackhole", async (l) => {
    const host = l.vnet("-host");
    const jail = l.vnet("");
    const out = l.vnet("-out"); // the far side of epair_out, where 198.51.100.2 is absent
    const [a, b] = l.epair(host, jail);
    const [, ob] = l.epair(out, jail);
    addAddress(k, a, "192.0.2.2/24");
    addAddress(k, b, "192.0.2.1/24");
    addAddress(k, ob, "198.51.100.1/24");
    setForwarding(k, jail, true);
    addRoute(k, host, "default", { gateway: "192.0.2.1" });
    const ip = ipDelta(jail);
    assert.equal((await ping(k, host, "198.51.100.2", { count: 1, timeoutMs: 1000 })).received, 0);
    clock(k).advance(5_000_000); // the jail's ARP for .2 gives up
    assert.equal(ip().cantforward, 0, "forwarded into an unanswered ARP: not counted as not forwardable");
    addBlackholeRoute(k, jail, "198.51.100.2/32");
    const forwarded = ip().forward;
    const sent = l.sniff(ob);
    // ping -R (record route: type 7, length 39, pointer 4) for the slow path, then a plain ping.
    const rr = [7, 39, 4, ...new Array<number>(36).fill(0), 0];
    b.receive(ether(a, b, ETHERTYPE_IP, ipPacket({ src: "192.0.2.2", dst: "198.51.100.2", ttl: 64, options: rr, payload: echoRequest(7, 1) })));
    assert.equal(ip().cantforward, 1, "1 packet not forwardable");
    assert.equal((await ping(k, host, "198.51.100.2", { count: 1, timeoutMs: 1000 })).received, 0);
    assert.equal(ip().cantforward, 2, "2 packets not forwardable");
    assert.match(netstatS(k, jail, "ip"), /\t2 packets not forwardable/);
    assert.equal(ip().forward, forwarded, "neither counted as forwarded");
    assert.equal((await sent()).filter((f) => f[12] === 0x08).length, 0, "nothing went out towards 198.51.100.0/24");
  }));

// ---------------------------------------------------------------------------------------
// output.sh: two jails on an epair, 192.0.2.1/24 and 192.0.2.2/24.

async function pairOfJails(l: Lab): Promise<{ a: Vnet; b: Vnet }> {
  const a = l.vnet("a");
  const b = l.vnet("b");
  const [ea, eb] = l.epair(a, b);
  addAddress(k, ea, "192.0.2.1/24");
  addAddress(k, eb, "192.0.2.2/24");
  return { a, b };
}

const TEXT = "testtesttst";

/** Run the clock until `done` or 10 s of virtual time. */
function until(done: () => boolean): void {
  for (let i = 0; i < 10_000 && !done(); i++) clock(k).advance(1000);
}

conformanceTest("output__output_tcp_setup_success", () =>
  withLab("out-tcp", async (l) => {
    const { a, b } = await pairOfJails(l);
    const lsn = socket(k, b, "inet", "stream").bind("0.0.0.0", 4242).listen(1);
    const c = socket(k, a, "inet", "stream");
    c.connect("192.0.2.2", 4242);
    let srv = lsn.accept();
    until(() => (srv ??= lsn.accept()) !== null);
    assert.ok(srv, "the listener accepted");
    c.send(TEXT);
    c.shutdown("write"); // nc -N
    let got = "";
    until(() => {
      const r = srv!.recv();
      if (r) got += new TextDecoder().decode(r);
      return r !== null && r.length === 0;
    });
    assert.equal(got, TEXT);
    for (const s of [c, srv, lsn]) s.close();
    clock(k).advance(120_000_000);
  }));

conformanceTest("output__output_udp_setup_success", () =>
  withLab("out-udp", async (l) => {
    const { a, b } = await pairOfJails(l);
    const r = socket(k, b, "inet", "dgram").bind("0.0.0.0", 4242);
    const s = socket(k, a, "inet", "dgram");
    s.sendto(TEXT, "192.0.2.2", 4242);
    let d = r.recvfrom();
    until(() => (d ??= r.recvfrom()) !== null);
    assert.equal(new TextDecoder().decode(d?.data), TEXT);
    s.close();
    r.close();
  }));

conformanceTest("output__output_raw_success", () =>
  withLab("out-raw", async (l) => {
    const { a } = await pairOfJails(l);
    const res = await ping(k, a, "192.0.2.2", { count: 1 });
    assert.equal(res.transmitted, 1);
    assert.equal(res.received, 1);
  }));

// Multipath: jail a has two routes to 198.51.100.0/24 (via 203.0.113.2 on epair0, via
// 203.0.113.6 on epair1) with net.route.multipath=1; traffic to 32 addresses must use both.
async function mpath(l: Lab, send: (a: Vnet, dst: string, port: number) => Promise<void>): Promise<void> {
  const a = l.vnet("a");
  const b = l.vnet("b");
  const [e0a, e0b] = l.epair(a, b);
  const [e1a, e1b] = l.epair(a, b);
  addAddress(k, e0a, "203.0.113.1/30");
  addAddress(k, e1a, "203.0.113.5/30");
  addAddress(k, e0b, "203.0.113.2/30");
  addAddress(k, e1b, "203.0.113.6/30");
  addAddress(k, a.interfaces()[0], "192.0.2.1/32");
  const ips = [4, 29, 48, 53, 55, 61, 71, 80, 84, 87, 90, 91, 119, 131, 137, 153, 154, 158, 162, 169, 171, 176, 187, 197, 228, 233, 235, 236, 237, 245, 251];
  addAddress(k, b.interfaces()[0], "198.51.100.1/32");
  for (const i of ips) addAddress(k, b.interfaces()[0], `198.51.100.${i}/32`);
  addRoute(k, a, "198.51.100.0/24", { gateway: "203.0.113.2" });
  addRoute(k, a, "198.51.100.0/24", { gateway: "203.0.113.6" }); // the second path
  addRoute(k, b, "192.0.2.0/24", { gateway: "203.0.113.1" });
  const lsn = socket(k, b, "inet", "stream").bind("0.0.0.0", 4242).listen(64);
  const sink = socket(k, b, "inet", "dgram").bind("0.0.0.0", 4242);
  l.stops.push(async () => {
    lsn.close();
    sink.close();
  });
  const o0 = e0a.counters().opackets;
  const o1 = e1a.counters().opackets;
  for (const i of ips) await send(a, `198.51.100.${i}`, 4242);
  assert.ok(e0a.counters().opackets - o0 > 10 && e1a.counters().opackets - o1 > 10, "balancing over both epairs");
}

const pingOnce = async (a: Vnet, dst: string) => {
  assert.equal((await ping(k, a, dst, { count: 1 })).received, 1);
};

/** One TCP connection carrying TEXT (nc -N); the far side's listener is on the wildcard. */
const tcpOnce = async (a: Vnet, dst: string, port: number) => {
  const c = socket(k, a, "inet", "stream");
  c.connect(dst, port);
  until(() => (c.info().state & 0x2) !== 0);
  c.send(TEXT);
  c.close();
};

const udpOnce = async (a: Vnet, dst: string, port: number) => {
  const s = socket(k, a, "inet", "dgram");
  s.sendto(TEXT, dst, port);
  s.close();
};

conformanceTest("output__output_tcp_flowid_mpath_success", () => withLab("out-mpath-tcp", (l) => mpath(l, tcpOnce)));
conformanceTest("output__output_udp_flowid_mpath_success", () => withLab("out-mpath-udp", (l) => mpath(l, udpOnce)));
conformanceTest("output__output_raw_flowid_mpath_success", () => withLab("out-mpath-raw", (l) => mpath(l, pingOnce)));

// ---------------------------------------------------------------------------------------
// lpm.sh: jail a has epair0 (203.0.113.1/30) and epair1 (203.0.113.5/30) to jail b, whose
// addresses sit on a loopback (wavnet has no loopback cloner: its lo0). 20 pings each;
// the output packet counts of the epairs say which route was taken.

async function lpmCase(l: Lab, bAddrs: string[], routes: [string, string][], checks: [string, 0 | 1][]): Promise<void> {
  const a = l.vnet("a");
  const b = l.vnet("b");
  const [e0a, e0b] = l.epair(a, b);
  const [e1a, e1b] = l.epair(a, b);
  addAddress(k, e0a, "203.0.113.1/30");
  addAddress(k, e1a, "203.0.113.5/30");
  addAddress(k, e0b, "203.0.113.2/30");
  addAddress(k, e1b, "203.0.113.6/30");
  for (const x of bAddrs) addAddress(k, b.interfaces()[0], x);
  for (const [dst, gw] of routes) addRoute(k, a, dst, { gateway: gw });
  const count = 20;
  for (const [dst, which] of checks) {
    const before = [e0a.counters().opackets, e1a.counters().opackets];
    const r = await ping(k, a, dst, { count, intervalMs: 10 });
    assert.equal(r.received, count, `${count} packets transmitted, ${count} packets received (${dst})`);
    const sent = [e0a.counters().opackets - before[0], e1a.counters().opackets - before[1]];
    assert.ok(sent[which] >= count, `${dst} left by epair${which} (epair0 ${sent[0]}, epair1 ${sent[1]})`);
    assert.ok(sent[1 - which] < count, `${dst} not by epair${1 - which} (epair0 ${sent[0]}, epair1 ${sent[1]})`);
  }
}

conformanceTest("lpm__lpm_test1_success", () =>
  withLab("lpm1", (l) => lpmCase(l, ["198.51.100.0/32", "198.51.100.2/32"],
    [["198.51.100.0/30", "203.0.113.2"], ["198.51.100.0/31", "203.0.113.6"]],
    [["198.51.100.0", 1], ["198.51.100.2", 0]])));

conformanceTest("lpm__lpm_test2_success", () =>
  withLab("lpm2", (l) => lpmCase(l, ["198.51.100.0/32", "198.51.100.1/32"],
    [["198.51.100.0/32", "203.0.113.2"], ["198.51.100.1/32", "203.0.113.6"]],
    [["198.51.100.0", 0], ["198.51.100.1", 1]])));

// ---------------------------------------------------------------------------------------
// redirect.sh: the jail (192.0.2.2/24) reaches 198.51.100.0/24 via 192.0.2.3; a redirect
// from 192.0.2.3 (type 5 code 1, host) says 198.51.100.42 is better reached via 192.0.2.4.
// The script's static ARP entry for the router (arp -s) only spares an ARP exchange: the
// redirect needs none.

conformanceTest("redirect__valid_redirect", () =>
  withLab("redirect", async (l) => {
    const host = l.vnet("-host");
    const jail = l.vnet("");
    const [a, b] = l.epair(host, jail);
    addAddress(k, a, "192.0.2.1/24");
    addAddress(k, b, "192.0.2.2/24");
    addRoute(k, jail, "198.51.100.0/24", { gateway: "192.0.2.3" });
    assert.equal(routeGet(k, jail, "198.51.100.42")?.destination, "198.51.100.0/24");
    const quoted = ipPacket({ src: "192.0.2.3", dst: "198.51.100.42", proto: 17, payload: new Uint8Array(8) });
    const gw = parseIPv4("192.0.2.4");
    const msg = ipPacket({ src: "192.0.2.3", dst: "192.0.2.2", proto: 1, payload: icmp(5, 1, gw, quoted) });
    b.receive(ether("00:00:5e:00:53:42", b, ETHERTYPE_IP, msg));
    const r = routeGet(k, jail, "198.51.100.42");
    assert.equal(r?.destination, "198.51.100.42", "a host route to the redirected destination");
    assert.equal(r?.gateway, "192.0.2.4");
  }));
