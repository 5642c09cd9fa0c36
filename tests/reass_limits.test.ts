// Reassembly never builds a datagram over 65,535 bytes (issue 14, items 1 and 2): the size
// is the first fragment's header (IPv4 options; IPv6's unfragmentable part) plus the end of
// the payload, so a long first header must be counted whichever fragment arrives last.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { socket, ipStats, SOL_SOCKET, SO, type Kernel, type Socket, type Vnet } from "../host/index.js";
import { twoHosts, ipPacket, ether, mbufsInUse } from "./helpers/inet.js";

const ETHERTYPE_IP = 0x0800;
const NOPS40 = new Array<number>(40).fill(1);

/** A UDP datagram (checksum 0: none, RFC 768) of `data` bytes to port 9 of B. */
function udpDatagram(data: number): Uint8Array {
  const u = new Uint8Array(8 + data);
  const dv = new DataView(u.buffer);
  dv.setUint16(0, 4000);
  dv.setUint16(2, 9);
  dv.setUint16(4, u.length);
  for (let i = 8; i < u.length; i++) u[i] = i & 0xff;
  return u;
}

/**
 * The audit's repro: the first fragment has `firstOptions` (40 NOPs: IHL 15) and 1,440
 * payload bytes, the rest IHL 5 and 1,480 bytes, the payload ending at `end`.
 */
function fragments(end: number, firstOptions: number[], id: number): Uint8Array[] {
  const whole = udpDatagram(end - 8);
  const out = [ipPacket({ id, proto: 17, off: 0, mf: true, options: firstOptions, payload: whole.slice(0, 1440) })];
  for (let off = 1440; off < end; off += 1480) {
    const stop = Math.min(off + 1480, end);
    out.push(ipPacket({ id, proto: 17, off, mf: stop < end, payload: whole.slice(off, stop) }));
  }
  return out;
}

async function setup(): Promise<{ k: Kernel; B: Vnet; sock: Socket; inject: (p: Uint8Array) => void }> {
  const { k, B, ea, eb } = await twoHosts(1, ["if_epair", "inet", "udp"]);
  const sock = socket(k, B, "inet", "dgram", 17);
  sock.bind("0.0.0.0", 9);
  sock.setsockopt(SOL_SOCKET, SO.RCVBUF, 256 * 1024); // room for one 65,507-byte datagram
  return { k, B, sock, inject: (p) => void eb.receive(ether(ea, eb, ETHERTYPE_IP, p)) };
}

describe("IPv4 reassembly limit (RFC 791: 65,535 bytes with the first fragment's header)", () => {
  test("a 60-byte first header and a payload ending at 65,515 (65,575 bytes): dropped, toolong, nothing delivered", async () => {
    const { k, B, sock, inject } = await setup();
    const fr = fragments(65515, NOPS40, 0x4001);
    assert.equal(fr.length, 45);
    for (const f of fr) inject(f);
    const s = ipStats(k, B);
    assert.equal(s.reassembled, 0);
    assert.equal(s.toolong, 1);
    assert.equal(s.fragdropped, 45, "the whole datagram");
    assert.equal(sock.recv(), null, "no datagram delivered");
    assert.equal(mbufsInUse(k), 0);
    k.shutdown();
  });

  test("the same when the first fragment (with the long header) arrives last", async () => {
    const { k, B, sock, inject } = await setup();
    const fr = fragments(65515, NOPS40, 0x4002);
    for (const f of [...fr.slice(1), fr[0]]) inject(f);
    const s = ipStats(k, B);
    assert.equal(s.reassembled, 0);
    assert.equal(s.toolong, 1);
    assert.equal(s.fragdropped, 45);
    assert.equal(sock.recv(), null);
    assert.equal(mbufsInUse(k), 0);
    k.shutdown();
  });

  test("the largest datagram, 65,535 bytes (a 20-byte header, payload to 65,515), is reassembled and delivered", async () => {
    const { k, B, sock, inject } = await setup();
    for (const f of fragments(65515, [], 0x4003).reverse()) inject(f);
    assert.equal(ipStats(k, B).reassembled, 1);
    assert.equal(ipStats(k, B).toolong, 0);
    const d = sock.recv();
    assert.equal(d?.length, 65507);
    sock.close();
    assert.equal(mbufsInUse(k), 0);
    k.shutdown();
  });
});
