// wavnet run FILE --pcap DIR on a file with no capture steps: every link is captured, a
// pcapng file per link named after its ends, holding both directions; a file with capture
// steps keeps to them (its own files only).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { main } from "../host/cli/main.js";
import { readPcapng } from "../host/index.js";

async function wavnet(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = "";
  let stderr = "";
  out.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  err.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const code = await main(argv, { stdin: new PassThrough(), stdout: out, stderr: err, stdoutTTY: false, stdinTTY: false });
  await new Promise((r) => setImmediate(r));
  return { code, stdout, stderr };
}

let dir: string;
before(() => (dir = mkdtempSync(join(tmpdir(), "wavnet-pcap-"))));
after(() => rmSync(dir, { recursive: true, force: true }));

const CHAIN = `name: chain3
nodes:
  - name: h1
    interfaces: [{ name: eth0, addresses: [10.0.0.1/24] }]
    routes: [{ to: default, via: 10.0.0.254 }]
  - name: r1
    role: router
    interfaces: [{ name: eth0, addresses: [10.0.0.254/24] }, { name: eth1, addresses: [10.0.1.254/24] }]
  - name: h2
    interfaces: [{ name: eth0, addresses: [10.0.1.2/24] }]
    routes: [{ to: default, via: 10.0.1.254 }]
links:
  - endpoints: [h1:eth0, r1:eth0]
  - endpoints: [r1:eth1, h2:eth0]
steps:
  - ping: { from: h1, to: h2, count: 3 }
`;

test("--pcap with no capture steps: a pcapng file per link, both directions in each, listed in the report", async () => {
  const f = join(dir, "chain3.yaml");
  writeFileSync(f, CHAIN);
  const pcap = join(dir, "out");
  const r = await wavnet(["run", f, "--pcap", pcap, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as { captures: { link: string; file: string; frames: number }[] };
  assert.deepEqual(doc.captures.map((c) => c.link), ["h1:eth0 -- r1:eth0", "r1:eth1 -- h2:eth0"]);
  assert.deepEqual(readdirSync(pcap).sort(), ["h1-eth0--r1-eth0.pcapng", "r1-eth1--h2-eth0.pcapng"]);
  for (const c of doc.captures) {
    const packets = readPcapng(readFileSync(c.file)).packets;
    assert.equal(packets.length, c.frames, c.link);
    // IPv4 ICMP echo requests (type 8) and replies (type 0): 3 each way on both links.
    const icmp = packets.map((p) => p.data).filter((d) => d[12] === 0x08 && d[13] === 0x00 && d[23] === 1).map((d) => d[14 + (d[14]! & 15) * 4]);
    assert.equal(icmp.filter((t) => t === 8).length, 3, `${c.link}: requests`);
    assert.equal(icmp.filter((t) => t === 0).length, 3, `${c.link}: replies`);
  }
  const text = await wavnet(["run", f, "--pcap", join(dir, "out2")]);
  assert.match(text.stdout, /^captured 2 links to .*out2 \(a pcapng file per link, such as h1-eth0--r1-eth0\.pcapng; \d+ frames\)$/m);
});

test("--pcap with capture steps: only what the steps capture", async () => {
  const f = join(dir, "steps.yaml");
  writeFileSync(f, CHAIN.replace("steps:\n", "steps:\n  - capture: { on: h1:eth0, file: mine.pcapng }\n") + "  - capture: { off: h1:eth0 }\n");
  const pcap = join(dir, "own");
  const r = await wavnet(["run", f, "--pcap", pcap, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((JSON.parse(r.stdout) as { captures?: unknown }).captures, undefined);
  assert.deepEqual(readdirSync(pcap), ["mine.pcapng"]);
});
