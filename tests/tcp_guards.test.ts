// TCP's checks of what an established connection accepts, each tested so that removing it
// fails a test (the survivors of the first `npm run mutants`, issue 14): RFC 5961 5.2 ACK
// acceptability both ways, the RFC 5961 7 challenge-ACK rate limit, PAWS (RFC 7323 5), and
// the life of a SYN cookie (15 to 30 s). Segments are forged on B's epair end as if from A.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Kernel, Interface, Socket } from "../host/index.js";
import { socket, SOL_SOCKET, SO } from "../host/sockets/socket.js";
import { tcpStats, tcpState, tcpKnob, tcpConnections } from "../host/admin/tcp.js";
import { tcpHosts, connectPair, step, clock, finishTcp, tcpFrame } from "./helpers/tcp.js";

const enc = new TextEncoder();
const dec = new TextDecoder();

function readAll(s: Socket): string {
  let out = "";
  for (let r = s.recv(); r !== null && r.length > 0; r = s.recv()) out += dec.decode(r);
  return out;
}

/** Every frame B's end received while fn ran. */
async function framesIn(eb: Interface, fn: () => void): Promise<Uint8Array[]> {
  const cap = eb.capture();
  const got: Uint8Array[] = [];
  const reading = (async () => {
    for await (const f of cap) if (f.dir === "in") got.push(f.data);
  })();
  fn();
  await cap.stop();
  await reading;
  return got;
}

/** An established connection A:cport -> B:80, quiet (everything sent is acknowledged), and its sequence numbers. */
async function quiet(seed = 1) {
  const env = await tcpHosts(seed);
  const { k, A, B } = env;
  const p = connectPair(k, A, B);
  const cport = (p.cli.address() as { port: number }).port;
  p.srv.send("hello");
  p.cli.send("world");
  for (let i = 0; i < 5; i++) step(k);
  assert.equal(readAll(p.cli), "hello");
  assert.equal(readAll(p.srv), "world");
  const seqs = () => {
    const a = tcpConnections(k, A).find((c) => c.localPort === cport)!;
    const b = tcpConnections(k, B).find((c) => c.localPort === 80 && c.foreignPort === cport)!;
    assert.equal(a.sndUna, a.sndMax, "A has nothing in flight");
    assert.equal(b.sndUna, b.sndMax, "B has nothing in flight");
    // B's RCV.NXT is A's SND.MAX; B's SND.UNA = SND.MAX.
    return { rcvNxt: a.sndMax >>> 0, sndUna: b.sndUna >>> 0, sndMax: b.sndMax >>> 0 };
  };
  return { ...env, ...p, cport, seqs };
}

function dataSeg(env: Awaited<ReturnType<typeof quiet>>, seq: number, ack: number, data: string, options: number[] = []): number {
  const { ea, eb, cport } = env;
  return eb.receive(tcpFrame({ from: ea, to: eb, src: "10.0.0.1", dst: "10.0.0.2", sport: cport, dport: 80, seq: seq >>> 0, ack: ack >>> 0, flags: 0x18, payload: enc.encode(data), options }));
}

/**
 * The forged segments put B's RCV.NXT past what A sent: the two ends no longer agree and an
 * orderly close would retransmit for minutes. Close both with a RST (SO_LINGER 0), then check
 * nothing is left.
 */
function finish(k: Kernel, ...s: Socket[]): void {
  for (const x of s) if (!x.closed) x.setsockopt(SOL_SOCKET, SO.LINGER, 0);
  finishTcp(k, ...s);
}

describe("RFC 5961 5.2: ACK acceptability on an established connection", () => {
  test("an ACK of data never sent (above SND.MAX) gets a challenge ACK and the segment is dropped, data and all", async () => {
    const env = await quiet();
    const { k, B, srv, cli, lsn } = env;
    const { rcvNxt, sndMax } = env.seqs();
    const b = tcpStats(k, B);
    dataSeg(env, rcvNxt, sndMax + 1000, "forged");
    const a = tcpStats(k, B);
    assert.equal(a.rcvacktoomuch - b.rcvacktoomuch, 1, "counted in rcvacktoomuch");
    assert.equal(a.challenge_acks - b.challenge_acks, 1, "answered with a challenge ACK");
    assert.equal(readAll(srv), "", "the data of the segment was not taken");
    assert.equal(tcpState(srv), "ESTABLISHED");
    // The same segment with an acceptable ACK is taken.
    dataSeg(env, rcvNxt, sndMax, "genuine");
    assert.equal(readAll(srv), "genuine");
    finish(k, cli, srv, lsn);
  });

  test("an ACK older than SND.UNA - MAX.SND.WND gets a challenge ACK and the segment is dropped; within it, the data is taken", async () => {
    const env = await quiet();
    const { k, B, srv, cli, lsn } = env;
    const { rcvNxt, sndUna } = env.seqs();
    const b = tcpStats(k, B);
    dataSeg(env, rcvNxt, sndUna - 0x2000_0000, "ancient");
    const a = tcpStats(k, B);
    assert.equal(a.challenge_acks - b.challenge_acks, 1, "answered with a challenge ACK");
    assert.equal(readAll(srv), "", "the data of the segment was not taken");
    assert.equal(tcpState(srv), "ESTABLISHED");
    // An old but acceptable ACK (a duplicate of SND.UNA - 1) carries data that is taken.
    dataSeg(env, rcvNxt, sndUna - 1, "recent");
    assert.equal(readAll(srv), "recent");
    finish(k, cli, srv, lsn);
  });
});

describe("RFC 5961 7: challenge ACKs are rate-limited per vnet", () => {
  test("1,100 in-window RSTs in one instant draw ack_limit (1,000) challenge ACKs, the rest are counted as suppressed; a second later there is budget again", async () => {
    const env = await quiet();
    const { k, B, ea, eb, srv, cli, lsn, cport } = env;
    assert.equal(tcpKnob(k, B, "ack_limit"), 1000);
    const { rcvNxt } = env.seqs();
    const rst = (off: number) => eb.receive(tcpFrame({ from: ea, to: eb, src: "10.0.0.1", dst: "10.0.0.2", sport: cport, dport: 80, seq: (rcvNxt + off) >>> 0, ack: 0, flags: 0x04 }));
    // Start at a second boundary so the burst falls in one second.
    clock(k).advanceTo(Math.ceil((clock(k).now() + 1) / 1_000_000) * 1_000_000);
    const b = tcpStats(k, B);
    for (let i = 0; i < 1100; i++) rst(1 + (i % 100));
    const a = tcpStats(k, B);
    assert.equal(a.badrst - b.badrst, 1100, "every RST counted as bad");
    assert.equal(a.challenge_acks - b.challenge_acks, 1000, "at most ack_limit challenge ACKs a second");
    assert.equal(a.challenge_acks_limited - b.challenge_acks_limited, 100, "the rest suppressed and counted");
    assert.equal(tcpState(srv), "ESTABLISHED");
    clock(k).advance(1_000_000);
    const c = tcpStats(k, B);
    rst(5);
    assert.equal(tcpStats(k, B).challenge_acks - c.challenge_acks, 1, "the next second has budget again");
    finish(k, cli, srv, lsn);
  });
});

describe("RFC 7323 5: PAWS", () => {
  test("a segment whose timestamp is older than TS.Recent is dropped (pawsdrop); an out-of-order one does not move TS.Recent; a newer one is taken", async () => {
    const env = await quiet();
    const { k, B, eb, srv, cli, lsn, cport } = env;
    // A's timestamp clock: read from a segment A sends.
    const frames = await framesIn(eb, () => {
      cli.send("t");
      step(k);
    });
    assert.equal(readAll(srv), "t");
    let tsval = -1;
    let tsecr = 0;
    for (const f of frames) {
      const d = new DataView(f.buffer, f.byteOffset, f.byteLength);
      if (d.getUint16(12) !== 0x0800 || f[23] !== 6 || d.getUint16(34) !== cport) continue;
      const doff = (f[46] >> 4) * 4;
      for (let i = 54; i < 34 + doff; ) {
        if (f[i] === 0) break;
        if (f[i] === 1) { i++; continue; }
        if (f[i] === 8) {
          tsval = d.getUint32(i + 2);
          tsecr = d.getUint32(i + 6);
        }
        i += Math.max(2, f[i + 1]);
      }
    }
    assert.ok(tsval >= 0, "the connection uses timestamps (RFC 7323)");
    const ts = (v: number) => [1, 1, 8, 10, (v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255, (tsecr >>> 24) & 255, (tsecr >>> 16) & 255, (tsecr >>> 8) & 255, tsecr & 255];
    const { rcvNxt, sndMax } = env.seqs();
    const b = tcpStats(k, B);
    dataSeg(env, rcvNxt, sndMax, "stale", ts(tsval - 1000));
    const a = tcpStats(k, B);
    assert.equal(a.pawsdrop - b.pawsdrop, 1, "dropped by PAWS");
    assert.equal(readAll(srv), "", "its data was not taken");
    // RFC 7323 4.3: TS.Recent is taken only from a segment that covers Last.ACK.sent. An
    // out-of-order segment with a timestamp far ahead must not move it, or every genuine
    // segment after it would fail PAWS.
    dataSeg(env, rcvNxt + 100, sndMax, "later", ts(tsval + 0x1000_0000));
    assert.equal(tcpStats(k, B).pawsdrop, a.pawsdrop, "an out-of-order segment with a newer timestamp is kept");
    dataSeg(env, rcvNxt, sndMax, "fresh", ts(tsval + 5));
    assert.equal(readAll(srv), "fresh", "a segment with a newer timestamp than TS.Recent is taken");
    assert.equal(tcpStats(k, B).pawsdrop, a.pawsdrop);
    finish(k, cli, srv, lsn);
  });
});

describe("SYN cookie life", () => {
  test("a cookie is good in its 15 s time slot and the next, and refused two slots later", async () => {
    const { k, ea, eb, B } = await tcpHosts();
    tcpKnob(k, B, "syncookies_only", 1);
    const lsn = socket(k, B, "inet", "stream").bind("0.0.0.0", 80).listen(8);
    const seg = (sport: number, seq: number, ack: number, flags: number) =>
      eb.receive(tcpFrame({ from: ea, to: eb, src: "10.0.0.1", dst: "10.0.0.2", sport, dport: 80, seq, ack, flags, options: flags === 0x02 ? [2, 4, 0x05, 0xb4] : [] }));
    /** A cookie for a SYN from sport made now (read from the SYN-ACK A's end receives). */
    const cookieFor = async (sport: number): Promise<{ cookie: number; made: number }> => {
      const made = clock(k).now();
      const cap = ea.capture();
      const frames: Uint8Array[] = [];
      const reading = (async () => { for await (const f of cap) frames.push(f.data); })();
      seg(sport, 1000, 0, 0x02);
      step(k);
      await cap.stop();
      await reading;
      const d = frames.map((f) => new DataView(f.buffer, f.byteOffset, f.byteLength)).find((x) =>
        x.getUint16(12) === 0x0800 && x.getUint8(23) === 6 && x.getUint16(36) === sport && x.getUint8(47) === 0x12);
      assert.ok(d, "a SYN-ACK");
      return { cookie: d.getUint32(38), made };
    };
    // Made at the start of a slot and returned 29 s later (the next slot): good.
    clock(k).advanceTo(Math.ceil(clock(k).now() / 15_000_000 + 1) * 15_000_000);
    const good = await cookieFor(40001);
    clock(k).advanceTo(good.made + 29_000_000);
    const b = tcpStats(k, B);
    seg(40001, 1001, good.cookie + 1, 0x10);
    assert.equal(tcpStats(k, B).sc_recvcookie - b.sc_recvcookie, 1, "a cookie from the previous slot is good");
    const s = lsn.accept();
    assert.ok(s);
    // Made at the start of a slot and returned 31 s later (two slots on): refused.
    clock(k).advanceTo(Math.ceil(clock(k).now() / 15_000_000 + 1) * 15_000_000);
    const old = await cookieFor(40002);
    clock(k).advanceTo(old.made + 31_000_000);
    const c = tcpStats(k, B);
    seg(40002, 1001, old.cookie + 1, 0x10);
    const d = tcpStats(k, B);
    assert.equal(d.sc_recvcookie, c.sc_recvcookie, "a cookie two slots old makes no connection");
    assert.equal(d.sc_badcookie - c.sc_badcookie, 1, "it is counted as bad");
    assert.equal(lsn.accept(), null);
    finishTcp(k, s, lsn);
  });
});

describe("TCP options are parsed within the header", () => {
  test("an option whose length runs past the options area is refused (rcvbadopt), whatever its kind", async () => {
    const env = await quiet();
    const { k, B, srv, cli, lsn } = env;
    const { rcvNxt, sndMax } = env.seqs();
    // Four bytes of options: two NOPs, then a kind whose proper length is more than the two
    // bytes left. The data after the header must not be read as the option's value.
    for (const [kind, len] of [[2, 4], [3, 3], [5, 10], [8, 10]]) {
      const b = tcpStats(k, B).rcvbadopt;
      dataSeg(env, rcvNxt, sndMax, "optdata", [1, 1, kind, len]);
      assert.equal(tcpStats(k, B).rcvbadopt - b, 1, `option kind ${kind} length ${len} past the header`);
      assert.equal(readAll(srv), "", "the segment was dropped");
    }
    dataSeg(env, rcvNxt, sndMax, "ok", [1, 1, 1, 1]);
    assert.equal(readAll(srv), "ok");
    finish(k, cli, srv, lsn);
  });
});
