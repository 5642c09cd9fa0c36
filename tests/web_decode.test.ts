// The page's packet decoder (host/web/decode.ts) and filter (host/web/filter.ts) against
// tshark on the same frames: a dual-stack lab (host/web/lab.ts, in-process) captures a TCP
// transfer, UDP datagrams, ping and ping6 (with ARP and neighbour discovery); every frame's
// row and layers must say what tshark says about addresses, ports, TCP flags, sequence and
// acknowledgment numbers, window, options, ICMP and ICMPv6 types.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import "../host/node/platform.js";
import { Lab } from "../host/web/lab.js";
import { decodeFrame, type Layer } from "../host/web/decode.js";
import { compileFilter, FilterError } from "../host/web/filter.js";
import type { Event, PacketRow } from "../host/web/protocol.js";
import { tsharkCheck, tsharkSkip } from "./helpers/tshark.js";

const YAML = `
name: decode
nodes:
  - name: a
    interfaces: [{ name: eth0, addresses: [10.0.0.1/24, "fd00::1/64"] }]
  - name: b
    interfaces: [{ name: eth0, addresses: [10.0.0.2/24, "fd00::2/64"] }]
links:
  - endpoints: [a:eth0, b:eth0]
    conditions: { delay: 1ms }
steps:
  - ping: { from: a, to: b, count: 1 }
  - ping: { from: a, to: "fd00::2", count: 1 }
  - udp: { from: a, to: b, count: 3, size: 100 }
  - tcp: { from: a, to: b, bytes: 20000 }
`;

function field(layers: Layer[], layer: string, name: string): string | undefined {
  return layers.find((l) => l.name === layer)?.fields.find((f) => f.name === name)?.value;
}

test("rows and layers agree with tshark, frame by frame", { skip: tsharkSkip }, async () => {
  const rows: PacketRow[] = [];
  const lab = await Lab.load(YAML, { emit: (e: Event) => void (e.event === "rows" && rows.push(...e.rows)) });
  try {
    lab.time.set({ speed: Infinity });
    const { capture } = lab.captureStart("a:eth0");
    const results = await lab.runSteps();
    assert.ok(results.results.every((r) => r.ok), results.table);
    await lab.captureStop(capture);
    await new Promise((r) => setTimeout(r, 50));
    const { bytes } = lab.capturePcapng(capture);
    const dir = mkdtempSync(join(tmpdir(), "wavnet-decode-"));
    const file = join(dir, "a.pcapng");
    writeFileSync(file, bytes);
    const fields = [
      "eth.src", "eth.dst", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "ip.ttl", "arp.opcode", "icmp.type", "icmpv6.type",
      "udp.srcport", "udp.dstport", "tcp.srcport", "tcp.dstport", "tcp.seq_raw", "tcp.ack_raw", "tcp.flags", "tcp.window_size_value", "tcp.len", "tcp.options.mss_val", "tcp.options.wscale.multiplier",
    ];
    const t = tsharkCheck(file, fields);
    assert.deepEqual(t.errors, []);
    assert.equal(t.rows.length, rows.length, "a row per frame");
    const seen = new Set<string>();
    t.rows.forEach((tr, i) => {
      const f = Object.fromEntries(fields.map((k, j) => [k, tr[j] ?? ""]));
      const row = rows[i]!;
      const d = decodeFrame(row.data, row.linktype, row.len);
      const s = d.summary;
      const where = `frame ${i + 1} (${s.proto} ${s.info})`;
      assert.equal(field(d.layers, "Ethernet II", "Source"), f["eth.src"], where);
      seen.add(s.proto);
      if (f["arp.opcode"]) {
        assert.equal(s.proto, "ARP", where);
        assert.match(s.info, f["arp.opcode"] === "1" ? /^Who has 10\.0\.0\.\d\? Tell 10\.0\.0\.\d$/ : /^10\.0\.0\.\d is at [0-9a-f:]{17}$/, where);
        return;
      }
      if (f["ip.src"]) {
        assert.deepEqual([s.src, s.dst], [f["ip.src"], f["ip.dst"]], where);
        assert.equal(field(d.layers, "Internet Protocol Version 4", "Time to live"), f["ip.ttl"], where);
      } else if (f["ipv6.src"]) {
        assert.deepEqual([s.src, s.dst], [f["ipv6.src"], f["ipv6.dst"]], where);
      }
      if (f["icmp.type"]) {
        assert.equal(s.proto, "ICMP", where);
        assert.match(field(d.layers, "Internet Control Message Protocol", "Type")!, new RegExp(`^${f["icmp.type"]} `), where);
      }
      if (f["icmpv6.type"]) {
        assert.equal(s.proto, "ICMPv6", where);
        assert.match(field(d.layers, "Internet Control Message Protocol v6", "Type")!, new RegExp(`^${f["icmpv6.type"]} `), where);
        seen.add(`icmpv6-${f["icmpv6.type"]}`);
      }
      if (f["udp.srcport"]) {
        assert.equal(s.proto, "UDP", where);
        assert.deepEqual(s.ports, [Number(f["udp.srcport"]), Number(f["udp.dstport"])], where);
      }
      if (f["tcp.srcport"]) {
        const L = "Transmission Control Protocol";
        assert.equal(s.proto, "TCP", where);
        assert.deepEqual(s.ports, [Number(f["tcp.srcport"]), Number(f["tcp.dstport"])], where);
        assert.equal(field(d.layers, L, "Sequence number"), f["tcp.seq_raw"], where);
        const flags = Number(f["tcp.flags"]);
        assert.equal(field(d.layers, L, "Flags")!.split(" ")[0], `0x${flags.toString(16).padStart(3, "0")}`, where);
        if (flags & 0x10) assert.equal(field(d.layers, L, "Acknowledgment number"), f["tcp.ack_raw"], where);
        assert.equal(field(d.layers, L, "Window"), f["tcp.window_size_value"], where);
        assert.equal(field(d.layers, L, "Payload"), `${f["tcp.len"]} bytes`, where);
        assert.match(s.info, new RegExp(`Len=${f["tcp.len"]}`), where);
        if (f["tcp.options.mss_val"]) {
          assert.match(field(d.layers, L, "Options")!, new RegExp(`MSS=${f["tcp.options.mss_val"]}`), where);
          seen.add("tcp-mss");
        }
        if (f["tcp.options.wscale.multiplier"]) assert.match(field(d.layers, L, "Options")!, new RegExp(`WS=${f["tcp.options.wscale.multiplier"]}`), where);
        if (flags & 0x02) seen.add("syn");
        if (flags & 0x01) seen.add("fin");
      }
    });
    for (const want of ["ARP", "ICMP", "ICMPv6", "icmpv6-135", "icmpv6-136", "icmpv6-128", "icmpv6-129", "UDP", "TCP", "syn", "fin", "tcp-mss"]) assert.ok(seen.has(want), `the capture has ${want}: ${[...seen].join(" ")}`);
    // The filter over these rows.
    const count = (f: string) => rows.filter((r) => compileFilter(f)(r.summary)).length;
    assert.equal(count(""), rows.length);
    assert.equal(count("icmp"), rows.filter((r) => r.summary.proto === "ICMP").length);
    assert.equal(count("icmpv6 !icmp"), rows.filter((r) => r.summary.proto === "ICMPv6").length);
    assert.equal(count("tcp port 5001"), rows.filter((r) => r.summary.proto === "TCP").length);
    assert.equal(count("udp and host 10.0.0.2"), rows.filter((r) => r.summary.proto === "UDP").length);
    assert.equal(count("not arp"), rows.filter((r) => r.summary.proto !== "ARP").length);
    assert.equal(count("fd00::2"), rows.filter((r) => r.summary.addrs.includes("fd00::2")).length);
    assert.ok(count("syn") >= 2, "free text is found in the info column");
    assert.throws(() => compileFilter("port http"), FilterError);
    assert.throws(() => compileFilter("host"), FilterError);
  } finally {
    await lab.close();
  }
});

test("truncated and odd frames decode to what they are, never a throw", () => {
  assert.equal(decodeFrame(new Uint8Array(6)).layers.at(-1)!.title, "Ethernet II (truncated: 6 of 14 bytes)");
  const ip = new Uint8Array(14 + 12);
  ip[12] = 0x08;
  ip[14] = 0x45;
  assert.match(decodeFrame(ip).layers.at(-1)!.title, /^Internet Protocol Version 4 \(truncated/);
  const lo = new Uint8Array([2, 0, 0, 0, 0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1]);
  const d = decodeFrame(lo, 0);
  assert.equal(d.layers[1]!.name, "Null/Loopback");
  assert.equal(d.summary.src, "127.0.0.1");
});
