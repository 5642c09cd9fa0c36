import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  Kernel, addAddress, addRoute, tcpStats, tcpConnections, tcpKnob, ipStats, ip6Stats, sockstat, type Vnet, type Socket, type TcpStats,
} from "../../host/index.js";
import { createVxlan, type VxlanInterface } from "../../host/node/vxlan.js";
import { tsharkCheck, TSHARK } from "../helpers/tshark.js";
import { linuxVxlan, interopSkip, nsExec, scapyPython, INTEROP_TOOLS, type LinuxVxlan } from "./netns.js";

// Issue 14 items 9 and 10 from a real Linux host, the way the audit found them: hping3 and
// scapy in a network namespace whose vxlan device is joined to a wavnet node's VXLAN port
// (the in-process tests are tests/tcp_syncache.test.ts and tests/tcp_land.test.ts).
//
// Item 9: 300 SYNs from random sources at a listener must not close it: they live in the
// syncache (assembly/netinet/tcp/tcp_syncache.ts), never in the listen queue, so curl is
// served at once. wavnet's default route points at Linux, which does not forward: the
// SYN-ACKs to the spoofed sources die there, as on the Internet.
//
// Item 10: land SYNs (source = destination = wavnet's address and port 80) sent by scapy
// through vx0 are dropped by IP input as a local source arriving on a wire (ips_badaddr,
// ip6s_badscope), TCP never sees them, nothing goes back (no SYN-ACK loop), and a real
// connection's in-window RST right after still gets its challenge ACK (RFC 5961 3.2): the
// budget was not spent on the land connection.
//
// .ci/run sets WAVNET_INTEROP=1: then no root or a missing hping3/scapy is a failure.

const VNI = 4343;
const W4 = "10.210.0.1";
const L4 = "10.210.0.2";
const W6 = "fd00:210::1";
const L6 = "fd00:210::2";
const dir = mkdtempSync(join(tmpdir(), "wavnet-attacks-"));

let lx: LinuxVxlan | undefined;
let k: Kernel;
let v: Vnet;
let vx: VxlanInterface;
let linuxMac = "";
let py = "";
const servers: { close(): void }[] = [];

/** node:http in wavnet on port, answering "ok" to every request. */
async function httpIn(port: number, host: string): Promise<void> {
  const h = http.createServer((_req, res) => res.end("ok\n"));
  const s = v.net.createServer((c) => h.emit("connection", c));
  // Separate listeners per family: "::" stays IPv6 only (a dual one would take the port's IPv4
  // wildcard, which the 0.0.0.0 listener holds); an error fails the set-up instead of hanging it.
  await new Promise<void>((resolve, reject) => {
    s.once("error", reject);
    s.listen({ port, host, ipv6Only: host === "::" }, () => resolve());
  });
  servers.push(s, h);
}

/** curl from Linux; its HTTP status and total time. */
async function curl(url: string, extra: string[] = []): Promise<{ code: number | null; status: string; seconds: number; err: string }> {
  const r = await nsExec(lx!.ns, ["curl", ...extra, "-sS", "-o", "/dev/null", "-m", "3", "-w", "%{http_code} %{time_total}", url], { timeoutMs: 10_000 });
  const [status, t] = r.stdout.trim().split(" ");
  return { code: r.code, status, seconds: Number(t), err: r.stderr.trim() };
}

/** The listener's row on a port: its accept queue and incomplete queue (so_qlen, so_incqlen). */
function listenQueues(port: number): { complete: number; incomplete: number } {
  const row = sockstat(k, v).find((r) => r.state.includes("LISTEN") && r.local && "port" in r.local && r.local.port === port);
  assert.ok(row?.socket, `a listener on :${port} with a host socket`);
  const i = (row.socket as Socket).info();
  return { complete: i.acceptQueue, incomplete: i.incompleteQueue };
}

/** Run scapy code in the namespace (argv after the code); resolves with stdout. */
async function scapy(code: string, args: string[], timeoutMs = 30_000): Promise<string> {
  const r = await nsExec(lx!.ns, [py, "-c", code, ...args], { timeoutMs });
  assert.equal(r.code, 0, `scapy in ${lx!.ns}: exit ${r.code}: ${r.stderr.slice(-600)}`);
  return r.stdout;
}

/** Count (and keep) the TCP frames wavnet sends into Linux's vx0 while fn runs: tshark on the Linux side. */
async function tcpFramesFromWavnet(name: string, fn: () => Promise<void>): Promise<number> {
  const pcap = join(dir, name);
  const cap: ChildProcess = spawn("ip", ["netns", "exec", lx!.ns, TSHARK!, "-n", "-q", "-i", "vx0", "-f", `ether src ${vx.mac} and (tcp or ip6 proto 6)`, "-w", pcap], { stdio: ["ignore", "ignore", "pipe"] });
  await new Promise<void>((resolve, reject) => {
    let err = "";
    const t = setTimeout(() => reject(new Error(`tshark did not start capturing: ${err}`)), 15_000);
    cap.stderr!.on("data", (d: Buffer) => {
      err += d;
      if (/Capturing on/.test(err)) {
        clearTimeout(t);
        resolve();
      }
    });
  });
  try {
    await fn();
    await new Promise((r) => setTimeout(r, 300)); // what wavnet sends in answer reaches the capture
  } finally {
    cap.kill("SIGINT");
    await new Promise((r) => cap.once("close", r));
  }
  assert.ok(existsSync(pcap), `capture ${pcap} written`);
  return tsharkCheck(pcap, ["frame.number"]).rows.length;
}

function delta(a: TcpStats, b: TcpStats, ...names: (keyof TcpStats)[]): Record<string, number> {
  return Object.fromEntries(names.map((n) => [n, b[n] - a[n]]));
}

describe("Linux attacker over VXLAN: spoofed SYN flood and land attack (issue 14 items 9, 10)", { skip: interopSkip([...INTEROP_TOOLS, "hping3"], { scapy: true }) }, () => {
  before(async () => {
    py = scapyPython()!;
    lx = linuxVxlan({ tag: `a${process.pid % 10000}`, vni: VNI, port: 4789, linuxAddr: `${L4}/24` });
    k = await Kernel.boot({ clock: "real" });
    v = k.createVnet("target");
    vx = await createVxlan(k, v, { vni: VNI, remote: `${lx.underlayLinux}:4789`, localAddress: lx.underlayHost, localPort: 4789 });
    vx.setUp();
    addAddress(k, vx, `${W4}/24`);
    addAddress(k, vx, `${W6}/64`);
    addRoute(k, v, "default", { gateway: L4 });
    const r = await nsExec(lx.ns, ["sh", "-c", `ip -6 addr add ${L6}/64 dev vx0 nodad && cat /sys/class/net/vx0/address`]);
    assert.equal(r.code, 0, r.stderr);
    linuxMac = r.stdout.trim();
    await httpIn(80, "0.0.0.0");
    await httpIn(80, "::");
    // Both ends know each other (ARP, ND) before any test counts frames.
    const warm = await curl(`http://${W4}/`);
    assert.equal(warm.status, "200", `curl before any attack: ${warm.err}`);
    const warm6 = await curl(`http://[${W6}]/`, ["-g"]);
    assert.equal(warm6.status, "200", `curl -6 before any attack: ${warm6.err}`);
    // The warm-up connections finish closing (wavnet's FIN, Linux's last ACK) before a test
    // counts segments: only the listeners are left.
    for (let i = 0; i < 100 && tcpConnections(k, v).some((c) => c.state !== "LISTEN"); i++) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(tcpConnections(k, v).filter((c) => c.state !== "LISTEN"), [], "the warm-up connections are closed");
  });

  after(() => {
    for (const s of servers) s.close();
    try {
      k?.shutdown();
    } finally {
      lx?.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("land SYNs from scapy (IPv4 and IPv6) are dropped and counted by IP input: no connection to itself, no SYN-ACK loop, the challenge-ACK budget intact", async (t) => {
    const N = 50;
    const land = `
import sys
from scapy.all import Ether, IP, IPv6, TCP, sendp, conf
conf.verb = 0
iface, src, dst, a4, a6, n = sys.argv[1:7]
n = int(n)
pk = [Ether(src=src, dst=dst) / IP(src=a4, dst=a4) / TCP(sport=80, dport=80, flags="S", seq=1000 + i) for i in range(n)]
pk += [Ether(src=src, dst=dst) / IPv6(src=a6, dst=a6) / TCP(sport=80, dport=80, flags="S", seq=1000 + i) for i in range(n)]
sendp(pk, iface=iface)
print(len(pk))
`;
    const t0 = tcpStats(k, v);
    const ip0 = ipStats(k, v).badaddr;
    const ip60 = ip6Stats(k, v).badscope;
    const lo = v.interface("lo0");
    const lo0 = lo.counters().opackets;
    const ch0 = { acks: t0.challenge_acks, limited: t0.challenge_acks_limited };
    const frames = await tcpFramesFromWavnet("land.pcap", async () => {
      const out = await scapy(land, ["vx0", linuxMac, vx.mac, W4, W6, String(N)]);
      assert.equal(out.trim(), String(2 * N), "scapy sent every land SYN");
      await new Promise((r) => setTimeout(r, 200)); // a loop, if there were one, runs within ms
    });
    const t1 = tcpStats(k, v);
    // Everything that moved, in every message: a failure says what happened.
    const seen = `badaddr +${ipStats(k, v).badaddr - ip0}, badscope +${ip6Stats(k, v).badscope - ip60}, tcp ${JSON.stringify(delta(t0, t1, "rcvtotal", "sndtotal", "badsyn", "sc_added", "sndrst", "challenge_acks"))}, ` +
      `${frames} TCP frames to Linux, lo0 +${lo.counters().opackets - lo0}, vxlan ${JSON.stringify(vx.vxlanStats())}`;
    assert.equal(ipStats(k, v).badaddr - ip0, N, `each IPv4 land SYN counted by IP input (ips_badaddr: our own source from a wire): ${seen}`);
    assert.equal(ip6Stats(k, v).badscope - ip60, N, `each IPv6 land SYN counted by IPv6 input (ip6s_badscope): ${seen}`);
    assert.equal(t1.rcvtotal, t0.rcvtotal, `TCP never saw one: ${seen}`);
    assert.equal(t1.sndtotal, t0.sndtotal, `TCP sent nothing: ${seen}`);
    assert.equal(frames, 0, `no TCP frame from wavnet reached Linux while the land SYNs came in: ${seen}`);
    assert.equal(lo.counters().opackets, lo0, `nothing looped over lo0: ${seen}`);
    const self = tcpConnections(k, v).filter((c) => c.foreign === W4 || c.foreign === W6 || c.state === "SYN_RCVD");
    assert.deepEqual(self, [], `no connection to itself: ${seen}`);
    assert.equal(t1.challenge_acks, ch0.acks, "no challenge ACK spent");
    assert.equal(t1.challenge_acks_limited, ch0.limited);

    // Then a real connection from Linux, and one scapy script that learns wavnet's RCV.NXT
    // from a segment wavnet sends on it, fires another burst of land SYNs and, at once, an
    // in-window (not exact) RST for the real connection: wavnet must answer with a challenge
    // ACK (RFC 5961 3.2), which the audit saw suppressed when the land loop had spent the budget.
    let conn: { write(s: string): unknown; destroy(): unknown } | undefined;
    const got = new Promise<void>((resolve) => {
      const s = v.net.createServer((c) => {
        conn = c;
        c.resume();
        resolve();
      });
      s.listen(81, W4);
      servers.push(s);
    });
    // socat -u only reads: the connection stays open until wavnet closes it.
    const client = nsExec(lx!.ns, ["socat", "-u", `TCP:${W4}:81`, "STDOUT"], { timeoutMs: 30_000 });
    await got;
    const rst = `
import sys, time
from scapy.all import Ether, IP, IPv6, TCP, AsyncSniffer, sendp, conf
conf.verb = 0
iface, lmac, wmac, lip, wip, wip6, n = sys.argv[1:8]
n = int(n)
sn = AsyncSniffer(iface=iface, count=1, timeout=10,
                  lfilter=lambda p: TCP in p and IP in p and p[IP].src == wip and p[TCP].sport == 81)
sn.start()
time.sleep(1.0)
print("ready", flush=True)
sn.join()
p = sn.results[0]
e = Ether(src=lmac, dst=wmac)
land = [e / IP(src=wip, dst=wip) / TCP(sport=80, dport=80, flags="S", seq=5000 + i) for i in range(n)]
land += [e / IPv6(src=wip6, dst=wip6) / TCP(sport=80, dport=80, flags="S", seq=5000 + i) for i in range(n)]
sendp(land + [e / IP(src=lip, dst=wip) / TCP(sport=p[TCP].dport, dport=81, flags="R", seq=p[TCP].ack + 10)], iface=iface)
print("rst", p[TCP].dport, p[TCP].ack, flush=True)
`;
    const r0 = tcpStats(k, v);
    const b0 = ipStats(k, v).badaddr;
    const b60 = ip6Stats(k, v).badscope;
    const sniffing = nsExec(lx!.ns, [py, "-c", rst, "vx0", linuxMac, vx.mac, L4, W4, W6, String(N)], { timeoutMs: 30_000 });
    // The sniffer needs a segment from wavnet's :81 to learn RCV.NXT: one byte of data, sent
    // every 500 ms until the script has seen one (it says "ready" after 1 s; scapy's import
    // takes longer than that).
    const poke = setInterval(() => conn!.write("x"), 500);
    let out;
    try {
      out = await sniffing;
    } finally {
      clearInterval(poke);
    }
    assert.equal(out.code, 0, `the RST script: ${out.stderr.slice(-600)}`);
    assert.match(out.stdout, /^rst \d+ \d+/m);
    const port = Number(/^rst (\d+)/m.exec(out.stdout)![1]);
    await new Promise((r) => setTimeout(r, 200));
    const r1 = tcpStats(k, v);
    assert.equal(ipStats(k, v).badaddr - b0, N, "the second burst dropped by IP input too");
    assert.equal(ip6Stats(k, v).badscope - b60, N);
    assert.equal(r1.challenge_acks - r0.challenge_acks, 1, "the in-window RST right after the land SYNs got its challenge ACK");
    assert.equal(r1.challenge_acks_limited, r0.challenge_acks_limited, "not suppressed by the rate limit");
    t.diagnostic(`land: 2 x ${N} SYNs per family dropped by IP input; challenge ACK for the RST right after: ${r1.challenge_acks - r0.challenge_acks}`);
    const row = tcpConnections(k, v).find((c) => c.localPort === 81 && c.foreignPort === port);
    assert.equal(row?.state, "ESTABLISHED", "the RST did not end the real connection");
    conn!.destroy();
    assert.equal((await client).code, 0, "socat saw the connection end cleanly");
    // And the listener on :80 still serves.
    const c = await curl(`http://${W4}/`);
    assert.equal(c.status, "200", `curl after the land SYNs: ${c.err}`);
  });

  test("300 random-source SYNs (hping3) go to the syncache, not the listen queue; curl is served at once, 5 times in a row", async (t) => {
    const s0 = tcpStats(k, v);
    const bad0 = ipStats(k, v).badaddr;
    let maxIncomplete = 0;
    let maxSynRcvd = 0;
    let maxCache = 0;
    // Sample while hping3 runs: the listen queue must never hold an embryonic connection.
    const sampler = setInterval(() => {
      maxIncomplete = Math.max(maxIncomplete, listenQueues(80).incomplete);
      maxSynRcvd = Math.max(maxSynRcvd, tcpConnections(k, v).filter((c) => c.state === "SYN_RCVD").length);
      maxCache = Math.max(maxCache, tcpKnob(k, v, "syncache.count"));
    }, 5);
    let h;
    try {
      h = await nsExec(lx!.ns, ["hping3", "-S", "-p", "80", "--rand-source", "-c", "300", "-i", "u1000", W4], { timeoutMs: 30_000 });
    } finally {
      clearInterval(sampler);
    }
    // hping3 exits 1 when nothing answers it (the SYN-ACKs went to the spoofed sources).
    const sent = /(\d+) packets transmitted/.exec(h.stdout + h.stderr);
    assert.ok(sent, `hping3 ran: exit ${h.code}: ${h.stderr.slice(-400)}`);
    assert.equal(Number(sent[1]), 300, "hping3 sent 300 SYNs");
    const s1 = tcpStats(k, v);
    const d = delta(s0, s1, "sc_added", "sc_dupsyn", "sc_sendcookie", "sc_bucketoverflow", "sc_cacheoverflow", "listendrop", "accepts");
    // About one random source in eight is a martian (multicast, class E, 0/8, 127/8) that IP
    // input drops first (ips_badaddr); every other SYN reaches the syncache. A datagram lost
    // on the underlay would show as fewer; none is on one veth.
    const martians = ipStats(k, v).badaddr - bad0;
    assert.ok(martians < 100, `${martians} martian sources of 300`);
    assert.equal(d.sc_added + d.sc_dupsyn + d.sc_bucketoverflow + d.sc_cacheoverflow + martians, 300, `every SYN reached the syncache or was a martian: ${JSON.stringify(d)}, martians ${martians}`);
    assert.ok(d.sc_added >= 200, `${d.sc_added} entries added`);
    assert.equal(d.listendrop, 0, "no listen queue overflow");
    assert.equal(d.accepts, 0, "no connection made from a spoofed SYN");
    const held = tcpKnob(k, v, "syncache.count");
    assert.ok(held >= 200 && maxCache >= held, `the syncache holds the half-open connections (${held} now, ${maxCache} at most)`);
    // What the audit saw instead: 193 SYN_RCVD (NOFDREF) sockets on :80.
    assert.equal(maxIncomplete, 0, "the listen queue never held an embryonic connection");
    assert.equal(maxSynRcvd, 0, "no SYN_RCVD tcpcb at any time");
    const on80 = sockstat(k, v).filter((r) => r.local && "port" in r.local && r.local.port === 80);
    assert.equal(on80.filter((r) => r.state.includes("NOFDREF")).length, 0, "no NOFDREF socket on :80");
    assert.deepEqual(listenQueues(80), { complete: 0, incomplete: 0 });

    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const c = await curl(`http://${W4}/`);
      assert.equal(c.status, "200", `curl ${i + 1} of 5 after the flood: exit ${c.code} ${c.err}`);
      times.push(c.seconds);
    }
    // -m 3 is the bound the issue names; "at once" is well under it (curl's own start included).
    assert.ok(Math.max(...times) < 1, `each curl served at once: ${times.map((t) => t.toFixed(3)).join(", ")} s`);
    t.diagnostic(`hping3: 300 SYNs: ${d.sc_added} syncache entries (at most ${maxCache} held), ${martians} martian sources dropped by IP; curl after: ${times.map((x) => x.toFixed(3)).join(", ")} s`);
    const s2 = tcpStats(k, v);
    assert.ok(s2.accepts - s1.accepts >= 5, "the 5 connections were accepted");
    assert.equal(s2.listendrop, s1.listendrop);
  });
});
