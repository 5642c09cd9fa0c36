// ICMP errors quote the offending packet as the wire carried it (issue 14, item 8): a
// datagram that left its checksum to an offloading epair (CSUM_UDP) holds only the
// pseudo-header sum in its checksum field inside the kernel; the quote must hold the
// finished checksum, which is what the sender (and anything matching errors to packets)
// saw leave.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { socket, type Interface, type Kernel } from "../host/index.js";
import { twoHosts, chain, cksum, mbufsInUse } from "./helpers/inet.js";
import { twoHosts6, cksum6 } from "./helpers/inet6.js";

const IPPROTO_IP = 0;
const IP_TTL = 4;

/** Every frame through iface, in and out, while fn runs. */
async function framesDuring(iface: Interface, fn: () => void | Promise<void>): Promise<{ dir: string; data: Uint8Array }[]> {
  const got: { dir: string; data: Uint8Array }[] = [];
  const cap = iface.capture();
  const reading = (async () => {
    for await (const f of cap) got.push({ dir: f.dir, data: f.data });
  })();
  await fn();
  await cap.stop();
  await reading;
  return got;
}

const isIPv4 = (f: Uint8Array) => f[12] === 0x08 && f[13] === 0x00;
const u16 = (f: Uint8Array, o: number) => (f[o] << 8) | f[o + 1];

/** The UDP checksum of the datagram that left, and the ICMP error (type, code, quoted UDP checksum, ICMP checksum ok) that came back. */
function udpAndError(frames: { dir: string; data: Uint8Array }[]) {
  const sent = frames.find((f) => f.dir === "out" && isIPv4(f.data) && f.data[14 + 9] === 17);
  const err = frames.find((f) => f.dir === "in" && isIPv4(f.data) && f.data[14 + 9] === 1);
  assert.ok(sent, "the datagram left");
  assert.ok(err, "an ICMP error came back");
  const e = err.data;
  const icmpLen = u16(e, 14 + 2) - 20;
  return {
    sentSum: u16(sent.data, 14 + 20 + 6),
    type: e[34],
    code: e[35],
    quotedSum: u16(e, 14 + 20 + 8 + 20 + 6),
    quotedPorts: [u16(e, 14 + 20 + 8 + 20), u16(e, 14 + 20 + 8 + 20 + 2)],
    icmpSumOk: cksum(e, 34, icmpLen) === 0,
  };
}

/** The checksum a wire would carry for this UDP datagram (what the capture shows was finished by the tap). */
function expectWireSum(k: Kernel, e: ReturnType<typeof udpAndError>): void {
  assert.ok(e.icmpSumOk, "the ICMP checksum covers the quote as sent");
  assert.equal(e.quotedSum, e.sentSum, `quoted UDP checksum 0x${e.quotedSum.toString(16)} is the wire's 0x${e.sentSum.toString(16)}`);
  assert.equal(mbufsInUse(k), 0);
}

describe("ICMP errors about offloaded packets quote the wire's checksum", () => {
  test("port unreachable about a UDP datagram whose checksum the epair was to finish", async () => {
    const { k, A, ea } = await twoHosts(1, ["if_epair", "inet", "udp"]);
    const tx = socket(k, A, "inet", "dgram", 17);
    const frames = await framesDuring(ea, () => void tx.sendto(new Uint8Array(32).fill(7), "10.0.0.2", 9999));
    const e = udpAndError(frames);
    assert.deepEqual([e.type, e.code, e.quotedPorts[1]], [3, 3, 9999]);
    tx.close();
    expectWireSum(k, e);
    k.shutdown();
  });

  test("time exceeded from a router forwarding such a datagram (received with the request still set)", async () => {
    const { k, A, l1 } = await chain();
    await k.kldload("udp");
    const tx = socket(k, A, "inet", "dgram", 17);
    tx.setsockopt(IPPROTO_IP, IP_TTL, 1);
    const frames = await framesDuring(l1[0], () => void tx.sendto(new Uint8Array(100).fill(3), "10.0.4.2", 33434));
    const e = udpAndError(frames);
    assert.deepEqual([e.type, e.code, e.quotedPorts[1]], [11, 0, 33434]);
    tx.close();
    expectWireSum(k, e);
    k.shutdown();
  });

  test("IPv6: the quote holds the wire's UDP checksum (IPv6 transports finish their checksums: a guard for when they offload)", async () => {
    const { k, A, ea } = await twoHosts6(1, ["if_epair", "inet", "inet6", "udp"]);
    const tx = socket(k, A, "inet6", "dgram", 17);
    const frames = await framesDuring(ea, () => void tx.sendto(new Uint8Array(32).fill(7), "fd00::2", 9999));
    const is6 = (f: Uint8Array) => f[12] === 0x86 && f[13] === 0xdd;
    const sent = frames.find((f) => f.dir === "out" && is6(f.data) && f.data[20] === 17);
    const err = frames.find((f) => f.dir === "in" && is6(f.data) && f.data[20] === 58 && f.data[54] === 1);
    assert.ok(sent && err, "the datagram left, a destination unreachable came back");
    const e = err.data;
    assert.equal(e[55], 4, "port unreachable");
    assert.equal(cksum6(e.slice(22, 38), e.slice(38, 54), 58, e.slice(54, 54 + u16(e, 18))), 0, "the ICMPv6 checksum covers the quote as sent");
    assert.equal(u16(e, 62 + 40 + 6), u16(sent.data, 54 + 6), "quoted UDP checksum is the wire's");
    tx.close();
    assert.equal(mbufsInUse(k), 0);
    k.shutdown();
  });
});
