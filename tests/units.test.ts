// One unit grammar (host/lib/units.ts, docs/cli.md "Units"): a word means the same in a
// topology file and in the shell's `link` command; rates are bits unless a B says bytes
// (tc's "kbps" = kilobytes is not wavnet's); errors name the value and what is accepted.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseRate, parseDuration, parseProbability, parseBytes } from "../host/lib/units.js";
import { parseTopology } from "../host/topology/index.js";
import { Commands } from "../host/shell/commands.js";
import { twoHosts } from "./helpers/inet.js";

test("rates: bit, kbit, Mbit, Gbit, /s, bps forms and a bare prefix are bits; B/s, KiB/s are bytes", () => {
  const bits: [string, number][] = [
    ["9600bit", 9600], ["64kbit", 64e3], ["10Mbit", 10e6], ["1Gbit", 1e9], ["10mbit", 10e6],
    ["10Mbit/s", 10e6], ["1Gbit/s", 1e9], ["512kbps", 512e3], ["10Mbps", 10e6], ["1Gbps", 1e9], ["9600bps", 9600],
    ["100M", 100e6], ["1.5 Gbit", 1.5e9], ["1000", 1000],
  ];
  for (const [w, v] of bits) assert.equal(parseRate(w), v, w);
  assert.equal(parseRate("10MB/s"), 80e6);
  assert.equal(parseRate("1MiB/s"), 8 * 1048576);
  assert.equal(parseRate("64kB/s"), 512e3);
  // A capital B without /s, or "Mbs": refused with what was likely meant.
  assert.throws(() => parseRate("10MBps"), /"10MBps" is not a rate: a capital B means bytes, and bytes per second are written with \/s \(10MB\/s\), or in bits \(10Mbit/);
  assert.throws(() => parseRate("10Mbs"), /"10Mbs" is not a rate: write bits per second as bit, kbit, Mbit, Gbit .*kbps, Mbps, Gbps: bits, not tc's kilobytes/);
  assert.throws(() => parseRate("2Tbit"), /rate "2Tbit" must be from 0 to 1 Tbit\/s/);
});

test("times: us, ms, s, m and a bare number of milliseconds; percentages and fractions; bytes only with a B", () => {
  assert.deepEqual(["250us", "10ms", "1.5s", "2m", "7", ".5s"].map(parseDuration), [250, 10_000, 1_500_000, 120_000_000, 7000, 500_000]);
  assert.throws(() => parseDuration("1h"), /"1h" is not a duration: write a time in us, ms, s or m \("250us", "10ms", "1.5s", "2m"; a bare number is milliseconds\)/);
  assert.deepEqual(["1%", "0.5%", "0.25"].map(parseProbability), [0.01, 0.005, 0.25]);
  assert.throws(() => parseProbability("150%"), /"150%" is not between 0 and 1 \(0% and 100%\): write a percentage/);
  assert.deepEqual(["4096", "64KiB", "1MB", "2MiB", "10 B"].map(parseBytes), [4096, 65536, 1e6, 2097152, 10]);
  assert.throws(() => parseBytes("1M"), /"1M" is not a byte count: write a number of bytes, or one with B, kB, MB, GB/);
  assert.throws(() => parseBytes("1Mbit"), /"1Mbit" is not a byte count/);
});

test("the same words in a topology file and in the shell's link command give the same conditions", async () => {
  // The words the issue found refused by `link` and taken by files.
  const words = { delay: "2m", jitter: "1.5s", rate: "10Mbps", loss: "0.5%" } as const;
  for (const rate of ["10Mbps", "1Gbit/s", "512kbps", "100M", "1MB/s"]) {
    const spec = parseTopology(`nodes:
  - { name: a, interfaces: [{ name: eth0 }] }
  - { name: b, interfaces: [{ name: eth0 }] }
links:
  - endpoints: [a:eth0, b:eth0]
    forward: { delay: ${words.delay}, jitter: ${words.jitter}, rate: ${rate}, loss: "${words.loss}" }
`, "t.yaml");
    const { k, A, ea } = await twoHosts();
    const cmds = new Commands(k);
    await cmds.exec({ name: "A", vnet: A }, `link ${ea.name} delay ${words.delay} jitter ${words.jitter} rate ${rate} loss ${words.loss}`);
    const c = ea.conditions();
    const f = spec.links[0]!.forward;
    assert.deepEqual({ delayUs: c.delayUs, jitterUs: c.jitterUs, rateBps: c.rateBps, loss: c.loss }, { delayUs: f.delayUs, jitterUs: f.jitterUs, rateBps: f.rateBps, loss: f.loss }, rate);
  }
});
