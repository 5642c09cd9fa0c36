// The syncache (assembly/netinet/tcp/tcp_syncache.ts; issue 14 item 9): SYNs to a listener
// are kept as small entries outside the socket layer, with their own bounds and timers; the
// socket is made only when the handshake completes, so spoofed SYNs never fill the listen
// queue. The spoofed SYNs come from 198.18.0.0/15 (RFC 2544 benchmark space) through B's
// default route to A, which does not forward: their SYN-ACKs die there, as on the Internet.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  socket, tcpStats, tcpKnob, tcpConnections, tcpState, addRoute, SOL_SOCKET, SO, type Kernel, type Vnet, type Socket, type Interface,
} from "../host/index.js";
import { tcpHosts, clock, step, tcpFrame, finishTcp, pattern, pump, pumpWithBurst, sha256 } from "./helpers/tcp.js";
import { synFlood as flood, connectTimed } from "./helpers/floods.js";

const SYN = 0x02;
const RST = 0x04;
const ACK = 0x10;
const MSS = [2, 4, 0x05, 0xb4];

/** The options of the first SYN-ACK to `dport` among captured frames (IPv4, no IP options). */
function synAckOptions(frames: Uint8Array[], dport: number): { iss: number; opts: Map<number, number[]> } | null {
  for (const f of frames) {
    const d = new DataView(f.buffer, f.byteOffset, f.byteLength);
    if (d.getUint16(12) !== 0x0800 || f[23] !== 6) continue;
    const th = 14 + (f[14] & 15) * 4;
    if (d.getUint16(th + 2) !== dport || f[th + 13] !== (SYN | ACK)) continue;
    const end = th + (f[th + 12] >> 4) * 4;
    const opts = new Map<number, number[]>();
    for (let i = th + 20; i < end; ) {
      if (f[i] === 0) break;
      if (f[i] === 1) {
        i++;
        continue;
      }
      opts.set(f[i], [...f.subarray(i + 2, i + f[i + 1])]);
      i += f[i + 1];
    }
    return { iss: d.getUint32(th + 4), opts };
  }
  return null;
}

async function captured<T>(iface: Interface, run: () => T): Promise<{ result: T; frames: Uint8Array[] }> {
  const cap = iface.capture();
  const frames: Uint8Array[] = [];
  const reading = (async () => { for await (const f of cap) frames.push(f.data); })();
  const result = run();
  await cap.stop();
  await reading;
  return { result, frames };
}

describe("syncache", () => {
  test("300 random-source spoofed SYNs leave the listen queue empty; a legitimate connect is accepted at once (within 100 ms)", async () => {
    const f = await flood();
    const { k, A, B, lsn } = f;
    f.spoof(300);
    const st = tcpStats(k, B);
    assert.equal(st.sc_added, 300);
    assert.equal(f.count(), 300, "300 embryonic connections, in the syncache");
    assert.equal(lsn.info().acceptQueue, 0);
    assert.equal(lsn.info().incompleteQueue, 0, "none of them a socket on the listen queue");
    assert.deepEqual(tcpConnections(k, B).map((c) => c.state), ["LISTEN"], "and none a tcpcb");
    const { cli, srv, us } = connectTimed(k, A, lsn);
    assert.ok(srv, "accepted");
    assert.ok(us <= 100_000, `accepted after ${us} µs of virtual time`);
    cli.send("hello");
    step(k);
    assert.equal(new TextDecoder().decode(srv.recv()!), "hello");
    // The spoofed entries retransmit three times (1, 3, 7 s) and are gone at 15 s.
    clock(k).advance(16_000_000);
    assert.equal(f.count(), 0);
    const b = tcpStats(k, B);
    assert.equal(b.sc_retransmitted, 900);
    assert.equal(b.sc_stale, 300);
    assert.equal(b.sc_completed, 1);
    finishTcp(k, cli, srv, lsn);
  });

  test("an unanswered SYN-ACK goes again after 1, 2 and 4 s; the entry goes 8 s after the last (three retransmissions, FreeBSD)", async () => {
    const f = await flood();
    const { k, B } = f;
    const t0 = clock(k).now();
    f.seg("198.18.0.1", 40000, 1000, 0, SYN);
    const at = (us: number) => {
      clock(k).advanceTo(t0 + us);
      return [tcpStats(k, B).sc_retransmitted, f.count()];
    };
    assert.deepEqual(at(999_999), [0, 1]);
    assert.deepEqual(at(1_000_000), [1, 1]);
    assert.deepEqual(at(2_999_999), [1, 1]);
    assert.deepEqual(at(3_000_000), [2, 1]);
    assert.deepEqual(at(6_999_999), [2, 1]);
    assert.deepEqual(at(7_000_000), [3, 1]);
    assert.deepEqual(at(14_999_999), [3, 1]);
    assert.deepEqual(at(15_000_000), [3, 0]);
    assert.equal(tcpStats(k, B).sc_stale, 1);
    // A retransmitted SYN is answered again and starts the timer over (sc_dupsyn).
    f.seg("198.18.0.2", 40000, 1000, 0, SYN);
    clock(k).advance(500_000);
    f.seg("198.18.0.2", 40000, 1000, 0, SYN);
    assert.equal(tcpStats(k, B).sc_dupsyn, 1);
    assert.equal(f.count(), 1);
    finishTcp(k, f.lsn);
  });

  test("a bucket holds at most syncache.bucketlimit (the oldest goes), the vnet at most syncache.cachelimit; SYNs beyond get a cookie alone, which completes", async () => {
    const f = await flood();
    const { k, A, B, lsn } = f;
    assert.equal(tcpKnob(k, B, "syncache.bucketlimit"), 30, "FreeBSD's default");
    assert.equal(tcpKnob(k, B, "syncache.cachelimit"), 512 * 30);
    tcpKnob(k, B, "syncache.bucketlimit", 2);
    tcpKnob(k, B, "syncache.cachelimit", 300);
    f.spoof(3000);
    const st = tcpStats(k, B);
    assert.ok(f.count() <= 300, `${f.count()} entries`);
    assert.ok(st.sc_bucketoverflow > 0, "buckets overflowed");
    assert.ok(st.sc_cacheoverflow > 0, "the cache overflowed");
    assert.equal(st.sc_sendcookie, 3000, "every SYN was answered, with a cookie");
    assert.equal(B.accounting().items.syncache, f.count(), "one zone item an entry");
    // A legitimate client now: whether its SYN found room or not, it gets in.
    const served: Socket[] = [];
    for (let i = 0; i < 20; i++) {
      f.spoof(100);
      const { cli, srv } = connectTimed(k, A, lsn);
      assert.ok(srv, `client ${i} accepted`);
      served.push(cli, srv);
    }
    const b = tcpStats(k, B);
    assert.equal(b.sc_completed + b.sc_recvcookie, 20, "from an entry or from its cookie");
    assert.throws(() => tcpKnob(k, B, "syncache.cachelimit", 0), /syncache\.cachelimit: must be an integer from 1 to 1048576 entries, got 0/);
    assert.throws(() => tcpKnob(k, B, "syncache.count", 5), /syncache\.count is read only/);
    finishTcp(k, ...served, lsn);
  });

  test("100,000 spoofed SYNs while 100 legitimate clients connect: every client served, the syncache's memory bounded, nothing left after", async () => {
    const f = await flood(128, 3);
    const { k, A, B, lsn } = f;
    const bytes0 = B.accounting().bytes;
    let peakBytes = 0;
    let peakCount = 0;
    const served: Socket[] = [];
    for (let i = 0; i < 100; i++) {
      f.spoof(1000);
      const { cli, srv } = connectTimed(k, A, lsn);
      assert.ok(srv, `client ${i} accepted`);
      cli.send(`client ${i}`);
      step(k, 1_000);
      assert.equal(new TextDecoder().decode(srv.recv()!), `client ${i}`);
      served.push(cli, srv);
      peakBytes = Math.max(peakBytes, B.accounting().bytes - bytes0);
      peakCount = Math.max(peakCount, f.count());
      clock(k).advance(10_000); // 100 k SYNs in about a second
    }
    const st = tcpStats(k, B);
    assert.equal(st.sc_completed + st.sc_recvcookie, 100, "every legitimate handshake completed");
    assert.equal(st.sc_sendcookie, 100_100, "every SYN was answered");
    assert.ok(peakCount <= 512 * 30, `at most cachelimit entries (${peakCount})`);
    assert.ok(st.sc_bucketoverflow + st.sc_cacheoverflow > 0, "the flood overflowed the cache");
    // 15,360 entries of about 100 bytes, their zone's slabs and the table: under 4 MiB
    // (a socket and tcpcb for each spoofed SYN would have been 50 MB, were it allowed).
    assert.ok(peakBytes < 4 << 20, `B grew by ${peakBytes} bytes`);
    assert.equal(lsn.info().acceptQueue, 0);
    assert.equal(tcpConnections(k, B).filter((c) => c.state === "ESTABLISHED").length, 100);
    // The entries expire; closing the listener frees the table; the vnet goes with no leak.
    clock(k).advance(20_000_000);
    assert.equal(f.count(), 0);
    assert.equal(B.accounting().items.syncache ?? 0, 0);
    for (const s of served) s.close();
    lsn.close();
    clock(k).runUntilIdle(200_000_000);
    B.destroy();
    A.destroy();
    k.shutdown();
  });

  test("RFC 5961 for an embryonic connection: a RST at IRS + 1 ends it (sc_reset), elsewhere in its window a challenge ACK, outside nothing", async () => {
    const f = await flood();
    const { k, B } = f;
    f.seg("198.18.0.1", 40000, 1000, 0, SYN);
    assert.equal(f.count(), 1);
    const b0 = tcpStats(k, B);
    f.seg("198.18.0.1", 40000, 1001 + 100, 0, RST);
    assert.equal(tcpStats(k, B).challenge_acks - b0.challenge_acks, 1, "in the window: a challenge ACK");
    assert.equal(f.count(), 1, "and the entry stays");
    f.seg("198.18.0.1", 40000, 1001 + 70_000, 0, RST);
    f.seg("198.18.0.1", 40000, 999, 0, RST);
    assert.equal(tcpStats(k, B).challenge_acks - b0.challenge_acks, 1, "outside it: nothing");
    assert.equal(tcpStats(k, B).badrst - b0.badrst, 3);
    assert.equal(f.count(), 1);
    f.seg("198.18.0.1", 40000, 1001, 0, RST);
    assert.equal(f.count(), 0, "at IRS + 1 it goes");
    assert.equal(tcpStats(k, B).sc_reset, 1);
    // An ACK that does not acknowledge the SYN-ACK gets a RST, and the entry stays.
    f.seg("198.18.0.3", 40000, 5000, 0, SYN);
    const rst0 = tcpStats(k, B).sndrst;
    f.seg("198.18.0.3", 40000, 5001, 12345, ACK);
    assert.equal(tcpStats(k, B).sndrst - rst0, 1);
    assert.equal(tcpStats(k, B).sc_badack, 1);
    assert.equal(f.count(), 1);
    finishTcp(k, f.lsn);
  });

  test("a good cookie whose entry is gone counts only within 30 s of an overflow (FreeBSD), so one is no replay token", async () => {
    const f = await flood();
    const { k, A, B, ea, lsn } = f;
    // A SYN from A's address and an unused port: the SYN-ACK (its ISS a cookie) reaches A,
    // whose RST (at IRS + 1) ends the entry.
    const { frames } = await captured(ea, () => f.seg("10.0.0.1", 40000, 1000, 0, SYN));
    const sa = synAckOptions(frames, 40000);
    assert.ok(sa, "SYN-ACK seen");
    assert.equal(tcpStats(k, B).sc_reset, 1);
    assert.equal(f.count(), 0);
    // Its ACK now: no entry, no overflow lately: a spurious ACK, refused without a look at the cookie.
    const b0 = tcpStats(k, B);
    f.seg("10.0.0.1", 40000, 1001, sa.iss + 1, ACK);
    assert.equal(lsn.accept(), null);
    assert.equal(tcpStats(k, B).sndrst - b0.sndrst, 1, "RST");
    assert.equal(tcpStats(k, B).sc_recvcookie, b0.sc_recvcookie);
    assert.equal(tcpStats(k, B).sc_badcookie, b0.sc_badcookie, "the cookie was not even checked");
    // After an overflow the same cookie (still within its 15-30 s) is honoured.
    tcpKnob(k, B, "syncache.cachelimit", 1);
    f.spoof(3);
    assert.ok(tcpStats(k, B).sc_cacheoverflow >= 1);
    f.seg("10.0.0.1", 40000, 1001, sa.iss + 1, ACK);
    const s = lsn.accept();
    assert.ok(s, "accepted from the cookie");
    assert.equal(tcpStats(k, B).sc_recvcookie - b0.sc_recvcookie, 1);
    void A;
    finishTcp(k, s, lsn);
  });

  for (const mode of ["syncache", "cookies only"] as const) {
    test(`options through the ${mode}: the SYN-ACK offers MSS, window scale, SACK and timestamps; both ends use them`, async () => {
      const { k, A, B, ea, eb } = await tcpHosts();
      if (mode === "cookies only") tcpKnob(k, B, "syncookies_only", 1);
      const lsn = socket(k, B, "inet", "stream").bind("0.0.0.0", 80).listen(8);
      const { result, frames } = await captured(ea, () => connectTimed(k, A, lsn));
      const { cli, srv } = result;
      assert.ok(srv, "accepted");
      const port = (cli.address() as { port: number }).port;
      const sa = synAckOptions(frames, port);
      assert.ok(sa, "SYN-ACK seen");
      assert.deepEqual(sa.opts.get(2), [0x05, 0xb4], "MSS 1460");
      assert.ok(sa.opts.has(3) && sa.opts.get(3)![0] > 0, "window scale");
      assert.ok(sa.opts.has(4), "SACK permitted");
      assert.ok(sa.opts.has(8), "timestamps");
      const rows = [...tcpConnections(k, A), ...tcpConnections(k, B)].filter((c) => c.state === "ESTABLISHED");
      assert.deepEqual(rows.map((c) => c.maxseg), [1460, 1460]);
      // A burst loss mid-window: the server's SACK blocks (it took SACK from the SYN) let the
      // client recover (as tests/tcp_sack.test.ts).
      ea.setConditions({ delayUs: 5000, rateBps: 100e6 });
      eb.setConditions({ delayUs: 5000 });
      const data = pattern(4 << 20);
      const r = pumpWithBurst(k, cli, srv, data, ea, 1 << 20, 12);
      assert.equal(sha256(r.got), sha256(data));
      const a = tcpStats(k, A);
      const b = tcpStats(k, B);
      assert.ok(a.sack_recovery_episode >= 1 && a.sack_rcv_blocks > 0, "SACK recovery on the client");
      assert.ok(b.sack_send_blocks > 0, "SACK blocks from the server");
      assert.ok(a.rttupdated > 0, "RTT samples");
      // 1 MiB buffers: more than 64 KiB in flight needs the server's window scaled.
      cli.setsockopt(SOL_SOCKET, SO.SNDBUF, 1 << 20);
      srv.setsockopt(SOL_SOCKET, SO.RCVBUF, 1 << 20);
      let flight = 0;
      const r0 = pump(k, cli, srv, data, undefined, 0, () => {
        const row = tcpConnections(k, A).find((c) => c.localPort === port)!;
        flight = Math.max(flight, (row.sndMax - row.sndUna) >>> 0);
        return false;
      });
      assert.equal(sha256(r0.got), sha256(data));
      assert.ok(flight > 65535, `${flight} bytes in flight: the window was scaled`);
      assert.equal(tcpState(srv), "ESTABLISHED");
      finishTcp(k, cli, srv, lsn);
    });
  }

  test("the syncache goes with the last listener, and with the vnet: nothing leaks", async () => {
    const f = await flood();
    const { k, A, B, lsn } = f;
    f.spoof(500);
    assert.equal(f.count(), 500);
    assert.equal(B.accounting().items.syncache, 500);
    lsn.close();
    assert.equal(f.count(), 0, "no listener: its entries could never complete");
    assert.equal(B.accounting().items.syncache ?? 0, 0);
    // Again with a listener open when the vnet goes.
    socket(k, B, "inet", "stream").bind("0.0.0.0", 80).listen(8);
    f.spoof(500);
    assert.equal(f.count(), 500);
    B.destroy(); // throws LeakError if anything were left
    A.destroy();
    k.shutdown();
  });
});
