// The shell's iperf and curl on small labs: iperf3's report layout, figures that agree with
// the link's rate and with the topology's own TCP step, every TCP byte verified (and a
// corrupted stream caught), UDP loss and jitter, --json in iperf3's shape; curl's body,
// header fields, files and failures. Node names stand for addresses in both.
import { test, describe, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import "../host/index.js";
import { Topology, parseTopology } from "../host/topology/index.js";
import { Commands } from "../host/shell/commands.js";
import { ShellCore } from "../host/shell/shell.js";
import { Socket } from "../host/sockets/socket.js";

const PAIR = (conditions: string) => `name: pair
seed: 3
nodes:
  - name: h1
    interfaces: [{ name: eth0, addresses: [10.0.0.1/24] }]
  - name: h2
    interfaces: [{ name: eth0, addresses: [10.0.0.2/24] }]
    services:
      - { kind: http, body: "hello from h2\\n" }
links:
  - endpoints: [h1:eth0, h2:eth0]
${conditions ? `    conditions: ${conditions}\n` : ""}steps:
  - name: 4 MiB h2 -> h1
    tcp: { from: h2, to: h1, bytes: 4MiB, within: 30s }
`;

async function lab(conditions: string) {
  const topo = await Topology.up(parseTopology(PAIR(conditions), "pair.yaml"), { clock: "virtual" });
  const commands = new Commands(topo.kernel);
  const shell = new ShellCore({ topo, commands });
  const run = (line: string) => shell.run(line);
  const ok = async (line: string) => {
    const r = await shell.run(line);
    assert.equal(r.error, undefined, `${line}: ${r.error}\n${r.out}`);
    return r.out;
  };
  const close = async () => {
    await commands.close();
    const t = await topo.down();
    assert.equal(t.ok, true, t.text);
    assert.equal(t.socketsLeft, 0, "iperf and curl leave no socket behind");
  };
  return { topo, shell, run, ok, close };
}

/** iperf3's summary lines: [ ID] Interval Transfer Bitrate ... sender|receiver. */
function summary(out: string, who: "sender" | "receiver", id = "  1"): { from: number; to: number; bitrate: number; rest: string } {
  const re = new RegExp(`^\\[${id.replace(/[[\]]/g, "\\$&")}\\]\\s+(\\d+\\.\\d\\d)-(\\d+\\.\\d\\d)\\s+sec\\s+[\\d.]+ [KMG]?Bytes\\s+([\\d.]+) ([KMG]?)bits/sec(.*)\\s${who}$`, "m");
  const m = re.exec(out);
  assert.ok(m, `a ${who} line for [${id}] in:\n${out}`);
  const scale = { "": 1, K: 1e3, M: 1e6, G: 1e9 }[m[4] as "K"];
  return { from: Number(m[1]), to: Number(m[2]), bitrate: Number(m[3]) * scale, rest: m[5] };
}

describe("shell iperf", () => {
  test("TCP over a 20Mbit, 5 ms link: one line a second, sender and receiver, the link's rate, every byte verified, as the TCP step measures", async () => {
    const l = await lab("{ delay: 5ms, rate: 20Mbit }");
    try {
      const [step] = await l.topo.runSteps();
      assert.equal(step.ok, true, step.detail);
      await l.ok("h1 iperf -s");
      const out = await l.ok("h2 iperf -c h1 -t 3");
      assert.match(out, /^Connecting to host 10\.0\.0\.1, port 5201\n\[  1\] local 10\.0\.0\.2 port \d+ connected to 10\.0\.0\.1 port 5201\n\[ ID\] Interval {11}Transfer {5}Bitrate\n/);
      const lines = out.split("\n").filter((s) => /^\[  1\]\s+\d+\.\d\d-\d+\.\d\d\s+sec .*bits\/sec$/.test(s));
      assert.deepEqual(lines.map((s) => s.slice(5, 24).trim()), ["0.00-1.00   sec", "1.00-2.00   sec", "2.00-3.00   sec"]);
      const tx = summary(out, "sender");
      const rx = summary(out, "receiver");
      assert.equal(tx.to, 3);
      assert.ok(rx.to >= 3 && rx.to < 3.2, `the receiver's time ends when the last byte came: ${rx.to}`);
      for (const r of [tx.bitrate, rx.bitrate]) assert.ok(r > 18e6 && r <= 20.5e6, `about the link's 20 Mbit/s: ${r}`);
      // The topology's tcp step over the same link: within 10%.
      const stepBps = step.figures.mbitPerS * 1e6;
      assert.ok(Math.abs(rx.bitrate - stepBps) / stepBps < 0.1, `iperf ${rx.bitrate} vs the tcp step ${stepBps}`);
      assert.match(out, /\(virtual time; every byte verified\)\n\niperf Done\.$/);
    } finally {
      await l.close();
    }
  });

  test("-R: the server sends; -P 2: two streams and [SUM] lines", async () => {
    const l = await lab("{ delay: 2ms, rate: 10Mbit }");
    try {
      await l.ok("h1 iperf -s -p 6000");
      const rev = await l.ok("h2 iperf -c 10.0.0.1 -p 6000 -t 2 -R");
      assert.match(rev, /^Reverse mode, remote host 10\.0\.0\.1 is sending$/m);
      const r = summary(rev, "receiver");
      assert.ok(r.bitrate > 9e6 && r.bitrate <= 10.3e6, String(r.bitrate));
      assert.match(rev, /every byte verified/);
      const par = await l.ok("h2 iperf -c h1 -p 6000 -t 2 -P 2");
      assert.equal(par.match(/^\[SUM\]\s+\d+\.\d\d-\d+\.\d\d\s+sec/gm)?.length, 4, "two interval sums and two summaries");
      const a = summary(par, "receiver", "  1").bitrate;
      const b = summary(par, "receiver", "  2").bitrate;
      const sum = summary(par, "receiver", "SUM").bitrate;
      assert.ok(Math.abs(a + b - sum) / sum < 0.05, `the sum is the streams' total: ${a} + ${b} vs ${sum}`);
      assert.ok(sum > 9e6 && sum <= 10.3e6, `two streams share the 10 Mbit/s: ${sum}`);
      assert.doesNotMatch(par, /^- - .*\n- - /m, "one separator before the summary");
    } finally {
      await l.close();
    }
  });

  test("UDP: paced at -b, loss and jitter reported as iperf3 does", async () => {
    const l = await lab("{ delay: 10ms, jitter: 2ms, loss: 10% }");
    try {
      // Neighbour resolution first: a solicitation or answer lost to the link's 10% would
      // otherwise drop a second of datagrams (the hold queue) and count them as the link's loss.
      await l.run("h2 ping -c 3 -i 0.2 h1");
      await l.ok("h1 iperf -s");
      const out = await l.ok("h2 iperf -c h1 -u -b 5M -t 4");
      assert.match(out, /^\[ ID\] Interval {11}Transfer {5}Bitrate {9}Total Datagrams$/m);
      assert.match(out, /^\[ ID\] Interval {11}Transfer {5}Bitrate {9}Jitter {4}Lost\/Total Datagrams$/m);
      const tx = summary(out, "sender");
      assert.ok(Math.abs(tx.bitrate - 5e6) / 5e6 < 0.02, `sent at -b: ${tx.bitrate}`);
      const rx = summary(out, "receiver");
      const m = /([\d.]+) ms {2}(\d+)\/(\d+) \((\d+(?:\.\d+)?)%\)/.exec(rx.rest)!;
      assert.ok(m, rx.rest);
      const [jitter, lost, total, pct] = [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4])];
      assert.equal(total, Math.floor((4 * 5e6) / (1460 * 8)) + 1, "datagrams of 1460 bytes at 5 Mbit/s for 4 s");
      assert.ok(lost / total > 0.06 && lost / total < 0.14, `about the link's 10%: ${lost}/${total}`);
      assert.ok(Math.abs(pct - (100 * lost) / total) < 0.6, `the percentage is lost/total: ${pct}`);
      assert.ok(jitter > 0.3 && jitter < 2, `jitter from the link's +/-2 ms: ${jitter} ms`);
    } finally {
      await l.close();
    }
  });

  test("--json: iperf3's start, intervals and end", async () => {
    const l = await lab("{ delay: 1ms, rate: 8Mbit }");
    try {
      await l.ok("h1 iperf -s");
      const j = JSON.parse(await l.ok("h2 iperf -c h1 -t 2 --json"));
      assert.deepEqual(Object.keys(j).slice(0, 3), ["start", "intervals", "end"]);
      assert.equal(j.start.connected[0].remote_host, "10.0.0.1");
      assert.equal(j.start.test_start.protocol, "TCP");
      assert.equal(j.intervals.length, 2);
      assert.equal(j.intervals[1].sum.end, 2);
      assert.equal(j.end.sum_received.bytes, j.end.sum_sent.bytes, "everything sent arrived");
      assert.ok(j.end.sum_received.bits_per_second > 7e6 && j.end.sum_received.bits_per_second <= 8.2e6);
      assert.deepEqual(j.wavnet, { clock: "virtual", verified: true });
      const u = JSON.parse(await l.ok("h2 iperf -c h1 -u -b 1M -t 1 --json"));
      assert.equal(u.start.test_start.protocol, "UDP");
      assert.equal(u.end.sum.lost_packets, 0);
      assert.equal(u.end.sum.packets, u.end.streams[0].udp.packets);
      assert.equal(typeof u.end.sum.jitter_ms, "number");
    } finally {
      await l.close();
    }
  });

  test("a stream that arrives changed fails the run: the receiver's hash differs from the sender's", async () => {
    const l = await lab("{ delay: 1ms, rate: 50Mbit }");
    const recvInto = Socket.prototype.recvInto;
    try {
      await l.ok("h1 iperf -s");
      let seen = 0;
      // One byte flipped after 1 MB has been read anywhere: what a stack bug would do.
      Socket.prototype.recvInto = function (this: Socket, buf: Uint8Array, flags?: number) {
        const n = recvInto.call(this, buf, flags);
        if (n && seen < 1e6 && seen + n >= 1e6) buf[0] ^= 0x40;
        seen += n ?? 0;
        return n;
      };
      const r = await l.run("h2 iperf -c h1 -t 1");
      assert.match(r.error ?? "", /iperf: stream 1: the bytes received differ from the bytes sent/);
      assert.match(r.out, /receiver/, "the report is still printed");
      assert.doesNotMatch(r.out, /every byte verified|iperf Done/);
    } finally {
      Socket.prototype.recvInto = recvInto;
      await l.close();
    }
  });

  test("no rate or delay on the path: virtual time stands still, so the run is measured on the wall clock and says so", async () => {
    const l = await lab("");
    try {
      await l.ok("h1 iperf -s");
      const out = await l.ok("h2 iperf -c h1 -t 1");
      assert.match(out, /note: virtual time stood still .* wall time/);
      assert.match(out, /\(wall time; every byte verified\)/);
      const tx = summary(out, "sender");
      const rx = summary(out, "receiver");
      assert.ok(rx.bitrate > 1e8, `the host's speed, not 0 or infinity: ${rx.bitrate}`);
      assert.ok(tx.to >= 0.99 && tx.to <= 1.05, String(tx.to));
    } finally {
      await l.close();
    }
  });

  test("^C stops the sending and prints the summary of what was sent, verified", async () => {
    const l = await lab("{ delay: 1ms, rate: 100Mbit }");
    try {
      await l.ok("h1 iperf -s");
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 400);
      const r = await l.shell.run("h2 iperf -c h1 -t 1000", undefined, { signal: ac.signal });
      assert.equal(r.error, undefined, r.error);
      assert.match(r.out, /\(interrupted: the summary covers the time until \^C\)/);
      const tx = summary(r.out, "sender");
      assert.ok(tx.to > 0 && tx.to < 1000, `stopped early: ${tx.to} s`);
      assert.match(r.out, /every byte verified/);
    } finally {
      await l.close();
    }
  });

  test("bad use: one line each", async () => {
    const l = await lab("{ delay: 1ms }");
    try {
      const cases: [string, RegExp][] = [
        ["h2 iperf -c h1", /iperf: connect ECONNREFUSED 10\.0\.0\.1:5201: no iperf server there \(start one: NODE iperf -s\)/],
        ["h2 iperf", /say -s \(server\) or -c HOST/],
        ["h2 iperf -s -c h1", /say -s \(server\) or -c HOST/],
        ["h2 iperf -c h1 -R -u", /-R with -u is not supported/],
        ["h2 iperf -c h1 -b 5M", /-b and -l are for UDP/],
        ["h2 iperf -c h1 -u -b fast", /-b \(rate\): "fast" is not a rate/],
        ["h2 iperf -c nowhere", /"nowhere" is neither an address nor a node/],
        ["h2 iperf -s -t 3", /-t is a client option/],
        ["h2 iperf -s --stop", /no server on h2 port 5201/],
      ];
      for (const [line, re] of cases) {
        const r = await l.run(line);
        assert.match(r.error ?? "", re, line);
        assert.equal((r.error ?? "").split("\n").length, 1);
      }
      await l.ok("h1 iperf -s");
      assert.match((await l.run("h1 iperf -s")).error ?? "", /already listening on h1 port 5201/);
      assert.match(await l.ok("h1 iperf -s --stop"), /stopped/);
      assert.match((await l.run("h2 iperf -c h1 -t 1")).error ?? "", /no iperf server there/);
    } finally {
      await l.close();
    }
  });
});

describe("shell curl", () => {
  const dir = mkdtempSync(join(tmpdir(), "wavnet-curl-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("the body, -I's header fields, -i, -o FILE; a node's name for the host", async () => {
    const l = await lab("{ delay: 5ms }");
    try {
      assert.equal(await l.ok("h1 curl http://h2/"), "hello from h2");
      assert.equal(await l.ok("h1 curl -s 10.0.0.2:80/any/path"), "hello from h2");
      const head = await l.ok("h1 curl -I http://h2");
      assert.match(head, /^HTTP\/1\.1 200 OK\n/);
      assert.match(head, /^Content-Length: 14$/mi);
      assert.doesNotMatch(head, /hello/);
      assert.match(await l.ok("h1 curl -i h2"), /^HTTP\/1\.1 200 OK\n[\s\S]*\n\nhello from h2$/);
      const file = join(dir, "page.txt");
      assert.match(await l.ok(`h1 curl -o ${file} http://h2/`), /14 bytes from http:\/\/10\.0\.0\.2\/ \(200\) written to /);
      assert.equal(readFileSync(file, "utf8"), "hello from h2\n");
      assert.equal(await l.ok(`h1 curl -s -o ${join(dir, "quiet.txt")} http://h2/`), "");
    } finally {
      await l.close();
    }
  });

  test("failures are curl's: refused (7), timed out (28) on the lab's clock, bad URL (3), other schemes (1)", async () => {
    const l = await lab("{ delay: 5ms }");
    try {
      const cases: [string, RegExp][] = [
        ["h1 curl http://h2:81/", /^curl: \(7\) connect ECONNREFUSED 10\.0\.0\.2:81$/],
        ["h1 curl -m 2 http://10.0.0.9/", /^curl: \(28\) operation timed out after 2 s/],
        ["h1 curl http://[zz/", /^curl: \(3\) URL rejected/],
        ["h1 curl https://h2/", /^curl: \(1\) protocol "https" not supported/],
        ["h1 curl", /a URL is needed/],
        ["h1 curl http://nohost/", /"nohost" is neither an address nor a node/],
      ];
      for (const [line, re] of cases) {
        const r = await l.run(line);
        assert.match(r.error ?? "", re, line);
      }
      // The timeout is lab time: 2 virtual seconds passed.
      const t0 = l.topo.kernel.clock.now();
      await l.run("h1 curl -m 3 http://10.0.0.9/");
      assert.ok(l.topo.kernel.clock.now() - t0 >= 3e6);
    } finally {
      await l.close();
    }
  });
});
