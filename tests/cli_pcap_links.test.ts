// wavnet run FILE --pcap DIR on a file with no capture steps: every link is captured into one
// pcapng file, an interface per link end (NODE:IFACE) holding that end's frames both ways; a
// file with capture steps keeps to them (its own files only).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readPcapng } from "../host/index.js";
import { tsharkCheck, tsharkSkip } from "./helpers/tshark.js";
import { cliMain } from "./helpers/cli.js";

const wavnet = cliMain;

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

test("--pcap with no capture steps: one pcapng file, an interface per link end named NODE:IFACE, each end's frames both ways under its own id", async () => {
  const f = join(dir, "chain3.yaml");
  writeFileSync(f, CHAIN);
  const pcap = join(dir, "out");
  const r = await wavnet(["run", f, "--pcap", pcap, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as { captures: { link: string; file: string; interfaces: string[]; frames: number }[] };
  assert.deepEqual(doc.captures.map((c) => c.link), ["h1:eth0 -- r1:eth0", "r1:eth1 -- h2:eth0"]);
  assert.deepEqual(doc.captures.map((c) => c.interfaces), [["h1:eth0", "r1:eth0"], ["r1:eth1", "h2:eth0"]]);
  assert.deepEqual(readdirSync(pcap), ["chain3.pcapng"]);
  assert.equal(new Set(doc.captures.map((c) => c.file)).size, 1);
  const file = readPcapng(readFileSync(doc.captures[0]!.file));
  const names = ["h1:eth0", "r1:eth0", "r1:eth1", "h2:eth0"];
  assert.deepEqual(file.interfaces.map((i) => i.name), names);
  assert.equal(file.packets.length, doc.captures.reduce((n, c) => n + c.frames, 0));
  // ICMP type of an IPv4 ICMP frame, else undefined.
  const icmp = (d: Uint8Array) => (d[12] === 0x08 && d[13] === 0x00 && d[23] === 1 ? d[14 + (d[14]! & 15) * 4] : undefined);
  const of = (id: number, dir: "in" | "out", type: number) => file.packets.filter((p) => p.ifId === id && p.dir === dir && icmp(p.data) === type).length;
  // h1 pings h2 3 times: requests go out of h1:eth0 and r1:eth1, in at r1:eth0 and h2:eth0; replies the other way.
  const out = { "h1:eth0": 8, "r1:eth0": 0, "r1:eth1": 8, "h2:eth0": 0 } as Record<string, number>;
  names.forEach((n, id) => {
    assert.equal(of(id, "out", out[n]!), 3, `${n}: sent`);
    assert.equal(of(id, "in", 8 - out[n]!), 3, `${n}: received`);
  });
  // What one end sent is what the other end received, frame for frame.
  for (const [a, b] of [[0, 1], [1, 0], [2, 3], [3, 2]] as const) {
    const sent = file.packets.filter((p) => p.ifId === a && p.dir === "out").map((p) => Buffer.from(p.data).toString("hex"));
    const got = file.packets.filter((p) => p.ifId === b && p.dir === "in").map((p) => Buffer.from(p.data).toString("hex"));
    assert.deepEqual(got, sent, `${names[a]} -> ${names[b]}`);
  }
  const text = await wavnet(["run", f, "--pcap", join(dir, "out2")]);
  assert.match(text.stdout, /^captured 2 links to .*out2[\\/]chain3\.pcapng \(an interface per link end, named NODE:IFACE; \d+ frames\)$/m);
});

test("--pcap's one file, read by tshark: every link end's interface name, frames on each, no errors", { skip: tsharkSkip }, async () => {
  const f = join(dir, "chain3t.yaml");
  writeFileSync(f, CHAIN);
  const pcap = join(dir, "tshark");
  const r = await wavnet(["run", f, "--pcap", pcap]);
  assert.equal(r.code, 0, r.stderr);
  const t = tsharkCheck(join(pcap, "chain3.pcapng"), ["frame.interface_name", "icmp.type"]);
  assert.deepEqual(t.errors, []);
  if (t.fileType !== undefined) assert.equal(t.fileType, "pcapng");
  for (const n of ["h1:eth0", "r1:eth0", "r1:eth1", "h2:eth0"]) {
    const types = t.rows.filter((row) => row[0] === n).map((row) => row[1]);
    assert.equal(types.filter((x) => x === "8").length, 3, `${n}: echo requests`);
    assert.equal(types.filter((x) => x === "0").length, 3, `${n}: echo replies`);
  }
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
