// TCP's defences against blind and off-path attackers, each tested so that breaking it
// fails a test (issue 14 (a)-(b)): RFC 6528 initial sequence numbers and CUBIC's window
// growth (RFC 9438). The RFC 5961 RST rule is in tests/tcp.test.ts, the SYN cookie MAC in
// tests/tcp_syncookie.test.ts.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { socket, tcpConnections, tcpStats, setCongestion, SOL_SOCKET, SO, type Kernel, type Vnet, type Socket } from "../host/index.js";
import { tcpHosts, clock, step, connectPair, pattern, finishTcp } from "./helpers/tcp.js";

/** The ISS of a connect() from 10.0.0.1:lport to 10.0.0.2:fport made now (the SYN is lost: SYN_SENT keeps snd_una = ISS). */
function issOf(k: Kernel, A: Vnet, lport: number, fport: number): { iss: number; s: Socket } {
  const s = socket(k, A, "inet", "stream");
  s.setsockopt(SOL_SOCKET, SO.REUSEADDR, 1); // one local port to many destinations
  s.bind("10.0.0.1", lport);
  s.connect("10.0.0.2", fport);
  const row = tcpConnections(k, A).find((c) => c.localPort === lport && c.foreignPort === fport && c.state === "SYN_SENT");
  assert.ok(row, `connection ${lport} -> ${fport} in SYN_SENT`);
  return { iss: row.sndUna >>> 0, s };
}

/** Two vnets whose link loses everything, so SYNs stay unanswered. */
async function lossyHosts(seed: number) {
  const env = await tcpHosts(seed);
  env.ea.setConditions({ loss: 1 });
  return env;
}

describe("RFC 6528 initial sequence numbers", () => {
  test("connections to different 4-tuples at the same instant get unrelated ISNs (the keyed hash, not the clock)", async () => {
    const { k, A } = await lossyHosts(1);
    const t0 = clock(k).now();
    const got: { iss: number; s: Socket }[] = [];
    // 16 local ports to one destination port, and one local port to 16 destination ports.
    for (let i = 0; i < 16; i++) got.push(issOf(k, A, 40000 + i, 80));
    for (let i = 0; i < 16; i++) got.push(issOf(k, A, 41000, 1000 + i));
    assert.equal(clock(k).now(), t0, "all made at one instant");
    const isns = got.map((g) => g.iss);
    assert.equal(new Set(isns).size, isns.length, "no two ISNs alike");
    // Not the clock plus something predictable from the 4-tuple: the differences between
    // neighbouring 4-tuples are neither constant nor small (a clock-only ISN makes them 0,
    // a clock plus port makes them 1).
    const diffs = isns.slice(1).map((x, i) => (x - isns[i]) >>> 0);
    assert.ok(new Set(diffs).size > diffs.length / 2, `differences repeat: ${diffs}`);
    const far = diffs.filter((d) => d > 1 << 20 && d < 2 ** 32 - (1 << 20)).length;
    assert.ok(far >= diffs.length * 0.9, `${diffs.length - far} of ${diffs.length} neighbouring ISNs within 2^20 of each other`);
    // Spread over the whole space: the top bits take many values.
    assert.ok(new Set(isns.map((x) => x >>> 28)).size >= 8, "the top 4 bits of 32 ISNs take at least 8 values");
    finishTcp(k, ...got.map((g) => g.s));
  });

  test("the same 4-tuple under another vnet's secret gets another ISN; under the same secret the same one", async () => {
    const iss = async (seed: number) => {
      const { k, A } = await lossyHosts(seed);
      clock(k).advance(1_000_000);
      const { iss, s } = issOf(k, A, 40000, 80);
      finishTcp(k, s);
      return iss;
    };
    const a1 = await iss(1);
    const a2 = await iss(1);
    const b = await iss(2);
    const c = await iss(3);
    assert.equal(a1, a2, "same seed, same key, same instant: same ISN");
    assert.notEqual(a1, b, "another key, another ISN");
    assert.notEqual(a1, c);
    assert.notEqual(b, c);
    const far = (x: number, y: number) => Math.min((x - y) >>> 0, (y - x) >>> 0) > 1 << 20;
    assert.ok(far(a1, b) && far(a1, c) && far(b, c), `ISNs ${a1} ${b} ${c} are close`);
  });

  test("for one 4-tuple the ISN moves with a 4 µs clock (RFC 6528 M), so a new incarnation starts above the old", async () => {
    const { k, A } = await lossyHosts(1);
    const first = issOf(k, A, 40000, 80);
    first.s.close();
    const dt = 4_000_000; // 4 s: the clock part moves by 1,000,000
    clock(k).advance(dt);
    const second = issOf(k, A, 40000, 80);
    assert.equal((second.iss - first.iss) >>> 0, dt / 4, "ISN(t + 4 s) - ISN(t) = 1,000,000");
    finishTcp(k, second.s);
  });
});

/**
 * One CUBIC connection from A to B over an epair with delayUs each way, always with data to
 * send; one frame is lost early in slow start. Returns cwnd (in segments) `dt` µs after
 * congestion avoidance began (cwnd back at beta W_max after the loss), W_max and the RTT.
 */
async function cubicAfterLoss(delayUs: number, runUs: number) {
  const { k, A, B, ea, eb } = await tcpHosts(1);
  ea.setConditions({ delayUs });
  eb.setConditions({ delayUs });
  const { cli, srv, lsn } = connectPair(k, A, B);
  setCongestion(cli, "cubic");
  const port = (cli.address() as { port: number }).port;
  const chunk = pattern(65536);
  let got = 0;
  let phase = 0; // 0 slow start, 1 losing one frame, 2 after
  let lost0 = 0;
  let mss = 0;
  let srtt = 0;
  const samples: { t: number; cwnd: number }[] = [];
  const t0 = clock(k).now();
  while (clock(k).now() - t0 < runUs) {
    while (cli.send(chunk) === chunk.length); // always more to send than cwnd allows
    for (let r = srv.recv(); r && r.length; r = srv.recv()) got += r.length;
    if (phase === 0 && got > 60_000) {
      lost0 = ea.linkStats().lost;
      ea.setConditions({ delayUs, loss: 1 });
      phase = 1;
    } else if (phase === 1 && ea.linkStats().lost - lost0 >= 1) {
      ea.setConditions({ delayUs });
      phase = 2;
    }
    step(k, Math.min(10_000, delayUs / 4));
    const c = tcpConnections(k, A).find((x) => x.localPort === port)!;
    mss = c.maxseg;
    srtt = c.srttUs;
    samples.push({ t: clock(k).now(), cwnd: c.cwnd });
  }
  assert.ok(tcpStats(k, A).sndrexmitpack >= 1, "the loss was repaired");
  // W_max: cwnd when the loss was found (the sample before the cut).
  const low = samples.findIndex((s, i) => i > 0 && s.cwnd < samples[i - 1].cwnd / 2);
  assert.ok(low > 0, "the loss cut cwnd");
  const wmax = samples[low - 1].cwnd;
  // Congestion avoidance starts where slow start after the loss reaches ssthresh = beta W_max.
  const ca = samples.findIndex((s, i) => i > low && s.cwnd >= 0.65 * wmax);
  assert.ok(ca >= 0, "cwnd came back to beta W_max");
  const tca = samples[ca].t;
  assert.ok(samples[ca].cwnd <= 0.8 * wmax, `CA starts at ${samples[ca].cwnd} of W_max ${wmax}: beta 0.7`);
  finishTcp(k, cli, srv, lsn);
  return {
    W: wmax / mss,
    rttS: srtt / 1e6,
    caLeftS: (t0 + runUs - tca) / 1e6,
    at(dtS: number): number {
      let c = 0;
      for (const s of samples) if (s.t <= tca + dtS * 1e6) c = s.cwnd;
      return c / mss;
    },
  };
}

describe("CUBIC window growth (RFC 9438)", () => {
  test("after a loss, cwnd follows W_cubic(t) = C (t - K)^3 + W_max in congestion avoidance: concave up to W_max at K, convex beyond", async () => {
    // 200 ms RTT: W_cubic grows faster than the Reno-friendly estimate (RFC 9438 4.3), so
    // what is measured is the cubic function itself.
    const r = await cubicAfterLoss(100_000, 9_000_000);
    const { W, at } = r;
    const C = 0.4;
    const K = Math.cbrt((W * (1 - 0.7)) / C); // seconds (RFC 9438 4.2)
    const Wc = (t: number) => C * (t - K) ** 3 + W;
    assert.ok(r.caLeftS >= K + 2, `the run covers K + 2 s of congestion avoidance (${r.caLeftS} s)`);
    for (const t of [K / 3, (2 * K) / 3, K, K + 1, K + 2]) {
      const w = at(t);
      assert.ok(Math.abs(w - Wc(t)) <= 0.03 * W, `cwnd ${w.toFixed(1)} segments at t = ${t.toFixed(2)} s, W_cubic = ${Wc(t).toFixed(1)} (W_max ${W.toFixed(1)}, K ${K.toFixed(2)} s)`);
    }
    // The shape: growth slows towards W_max (concave), then speeds up past it (convex).
    const g = (a: number, b: number) => at(b) - at(a);
    assert.ok(g(0, K / 3) > g(K / 3, (2 * K) / 3) && g(K / 3, (2 * K) / 3) > g((2 * K) / 3, K), "concave before K");
    assert.ok(g(K + 1, K + 2) > g(K, K + 1) && g(K, K + 1) >= 0, "convex after K");
    assert.ok(g(0, K / 3) > 0.1 * W, "cwnd grows in congestion avoidance");
  });

  test("on a short RTT CUBIC grows at least as Reno would: W_est gains 3 (1 - beta) / (1 + beta) SMSS per RTT (RFC 9438 4.3)", async () => {
    // 20 ms RTT: W_cubic stays below W_max for K seconds while W_est, growing per RTT,
    // passes it; cwnd follows the larger.
    const r = await cubicAfterLoss(10_000, 3_500_000);
    const { W, at } = r;
    const alpha = (3 * (1 - 0.7)) / (1 + 0.7);
    const west = (t: number) => 0.7 * W + (alpha * t) / r.rttS;
    assert.ok(r.caLeftS >= 2, `the run covers 2 s of congestion avoidance (${r.caLeftS} s)`);
    for (const t of [0.5, 1, 1.5, 2]) {
      const w = at(t);
      assert.ok(Math.abs(w - west(t)) <= 0.05 * west(t), `cwnd ${w.toFixed(1)} segments at t = ${t} s, W_est = ${west(t).toFixed(1)} (W_max ${W.toFixed(1)}, RTT ${(r.rttS * 1e3).toFixed(1)} ms)`);
    }
    assert.ok(at(2) > W, "past W_max within 2 s, where W_cubic alone would still be below it");
  });
});
