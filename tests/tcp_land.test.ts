// The land attack (issue 14 item 10): a SYN whose source is the destination, address and
// port alike. On a wire, IP input drops any packet from one of the vnet's own addresses
// (Linux's martian source; ips_badaddr, ip6s_badscope); on lo0, where our own address is
// normal, TCP drops a SYN to a listener from the listener's own address and port
// (FreeBSD tcp_input; tcps_badsyn). Either way no SYN_RCVD, no segment, and the
// challenge-ACK budget stays for real connections (RFC 5961 7).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  socket, tcpStats, tcpConnections, tcpState, tcpKnob, ipStats, type Kernel, type Vnet, type Socket, type Interface,
} from "../host/index.js";
import { tcpHosts, clock, step, tcpFrame, finishTcp } from "./helpers/tcp.js";
import { twoHosts6 } from "./helpers/inet6.js";
import { tcpFrame6, ip6Stats } from "./helpers/tcp6.js";

const SYN = 0x02;
const RST = 0x04;
const MSS = [2, 4, 0x05, 0xb4];

/** A DLT_NULL frame for lo0: the family (host order), then the packet. */
function loFrame(af: number, pkt: Uint8Array): Uint8Array {
  const f = new Uint8Array(4 + pkt.length);
  new DataView(f.buffer).setUint32(0, af, true);
  f.set(pkt, 4);
  return f;
}

interface Env {
  k: Kernel; A: Vnet; B: Vnet; ea: Interface; eb: Interface; lsn: Socket; cli: Socket; srv: Socket; cport: number;
  aAddr: string; bAddr: string; family: "inet" | "inet6";
  /** A land SYN to B's listener: from `via` "wire" (eb, from ea's MAC) or "lo0". */
  land(via: "wire" | "lo0"): void;
  /** A segment from A's connection to B's (its 4-tuple), made by hand on the wire. */
  fromA(seq: number, flags: number): void;
  ipDropped(): number;
}

async function setup(family: "inet" | "inet6"): Promise<Env> {
  let k: Kernel, A: Vnet, B: Vnet, ea: Interface, eb: Interface;
  const aAddr = family === "inet" ? "10.0.0.1" : "fd00::1";
  const bAddr = family === "inet" ? "10.0.0.2" : "fd00::2";
  if (family === "inet") ({ k, A, B, ea, eb } = await tcpHosts());
  else {
    ({ k, A, B, ea, eb } = await twoHosts6(1, ["if_epair", "inet", "inet6", "tcp"]));
    clock(k).advance(2_000_000); // DAD done: the addresses are B's for good
  }
  const lsn = socket(k, B, family, "stream").bind(family === "inet" ? "0.0.0.0" : "::", 80).listen(8);
  const cli = socket(k, A, family, "stream");
  cli.connect(bAddr, 80);
  let srv: Socket | null = null;
  for (let i = 0; i < 100 && !srv; i++) {
    srv = lsn.accept();
    if (!srv) step(k);
  }
  assert.ok(srv, "connected");
  const cport = (cli.address() as { port: number }).port;
  const seg = (src: string, sport: number, seq: number, flags: number, ack = 0) =>
    family === "inet"
      ? tcpFrame({ from: ea, to: eb, src, dst: bAddr, sport, dport: 80, seq, ack, flags, options: flags === SYN ? MSS : [] })
      : tcpFrame6({ from: ea, to: eb, src, dst: bAddr, sport, dport: 80, seq, ack, flags, options: flags === SYN ? MSS : [] });
  return {
    k, A, B, ea, eb, lsn, cli, srv, cport, aAddr, bAddr, family,
    land(via) {
      const f = seg(bAddr, 80, 0x1000, SYN);
      if (via === "wire") eb.receive(f);
      else B.interface("lo0").send(loFrame(family === "inet" ? 2 : 28, f.subarray(14)));
    },
    fromA(seq, flags) {
      eb.receive(seg(aAddr, cport, seq, flags));
    },
    ipDropped() {
      return family === "inet" ? ipStats(k, B).badaddr : ip6Stats(k, B).badscope;
    },
  };
}

/** Nothing of the land SYNs: no embryonic connection to B itself, no segment sent, no challenge ACK spent. */
function assertNoLand(e: Env, before: ReturnType<typeof tcpStats>, what: string): void {
  const { k, B, bAddr } = e;
  const after = tcpStats(k, B);
  const self = tcpConnections(k, B).filter((c) => c.state === "SYN_RCVD" || c.foreign === bAddr);
  assert.deepEqual(self, [], `${what}: no connection to itself`);
  assert.equal(tcpKnob(k, B, "syncache.count"), 0, `${what}: nothing in the syncache`);
  assert.equal(after.sndtotal, before.sndtotal, `${what}: TCP sent nothing`);
  assert.equal(after.challenge_acks, before.challenge_acks, `${what}: no challenge ACK spent`);
  assert.equal(after.challenge_acks_limited, before.challenge_acks_limited);
}

/** A real connection still gets its challenge ACK for an in-window RST afterwards (the budget is there). */
function assertChallengeAckStill(e: Env): void {
  const { k, A, B, cport, srv } = e;
  const row = tcpConnections(k, A).find((c) => c.localPort === cport)!;
  const b = tcpStats(k, B);
  e.fromA(row.sndMax + 10, RST);
  assert.equal(tcpStats(k, B).challenge_acks - b.challenge_acks, 1, "the real connection's in-window RST got its challenge ACK");
  assert.equal(tcpStats(k, B).challenge_acks_limited, b.challenge_acks_limited);
  assert.equal(tcpState(srv), "ESTABLISHED");
}

for (const family of ["inet", "inet6"] as const) {
  describe(`land attack over ${family === "inet" ? "IPv4" : "IPv6"}`, () => {
    test(`SYNs from B's own address and port arriving on a wire are dropped by IP input (${family === "inet" ? "ips_badaddr" : "ip6s_badscope"})`, async () => {
      const e = await setup(family);
      const { k, B, eb } = e;
      const before = tcpStats(k, B);
      const ip0 = e.ipDropped();
      const out0 = eb.counters().opackets;
      for (let i = 0; i < 20; i++) e.land("wire");
      clock(k).advance(100_000);
      assert.equal(e.ipDropped() - ip0, 20, "each counted by IP input");
      assert.equal(tcpStats(k, B).rcvtotal, before.rcvtotal, "TCP never saw them");
      assertNoLand(e, before, "wire");
      assert.equal(eb.counters().opackets, out0, "nothing left B on the wire");
      // 75 s later (keepinit; SYN-ACK retransmissions) still nothing.
      clock(k).advance(75_000_000);
      assertNoLand(e, before, "wire, 75 s later");
      assertChallengeAckStill(e);
      finishTcp(k, e.cli, e.srv, e.lsn);
    });

    test("a land SYN on lo0 passes IP (our own address is normal there) and TCP drops it (tcps_badsyn)", async () => {
      const e = await setup(family);
      const { k, B } = e;
      const lo = B.interface("lo0");
      const before = tcpStats(k, B);
      const lo0 = lo.counters().opackets;
      for (let i = 0; i < 20; i++) e.land("lo0");
      clock(k).advance(100_000);
      assert.equal(tcpStats(k, B).badsyn - before.badsyn, 20, "each counted as a bad SYN");
      assert.equal(lo.counters().opackets - lo0, 20, "only the 20 injected frames crossed lo0: no storm");
      assertNoLand(e, before, "lo0");
      clock(k).advance(75_000_000);
      assertNoLand(e, before, "lo0, 75 s later");
      assert.equal(lo.counters().opackets - lo0, 20);
      assertChallengeAckStill(e);
      finishTcp(k, e.cli, e.srv, e.lsn);
    });
  });
}
