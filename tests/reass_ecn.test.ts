// RFC 3168 5.3 in IPv4 reassembly (the IPv6 side is FreeBSD's frag6_13 in tests/conformance):
// fragments of one datagram that mix not-ECT with CE are dropped, whichever comes first;
// ECT with CE reassembles. Frames are injected on B's epair end as if from A's wire.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { VirtualClock } from "../host/index.js";
import { ipStats, inetGauges } from "../host/admin/inet.js";
import { twoHosts, ipPacket, ether, mbufsInUse } from "./helpers/inet.js";

/** A UDP-less fragment (protocol 253, experimental) with TOS tos: 16 bytes at off. */
function frag(id: number, off: number, mf: boolean, tos: number): Uint8Array {
  const p = ipPacket({ id, proto: 253, off, mf, payload: new Uint8Array(16) });
  p[1] = tos;
  // The header checksum again, over the new TOS.
  p[10] = p[11] = 0;
  let s = 0;
  for (let i = 0; i < 20; i += 2) s += (p[i] << 8) | p[i + 1];
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  p[10] = (~s >> 8) & 0xff;
  p[11] = ~s & 0xff;
  return p;
}

test("IPv4 fragments mixing not-ECT and CE are dropped (RFC 3168 5.3); ECT(0) with CE reassembles", async () => {
  const { k, B, ea, eb } = await twoHosts(1, ["if_epair", "inet"]);
  const send = (p: Uint8Array) => void eb.receive(ether(ea, eb, 0x0800, p));
  send(frag(1, 0, true, 0x00)); // not-ECT
  send(frag(1, 16, false, 0x03)); // CE: dropped
  send(frag(2, 0, true, 0x03)); // CE
  send(frag(2, 16, false, 0x00)); // not-ECT: dropped
  let s = ipStats(k, B);
  assert.equal(s.fragdropped, 2, "the second fragment of each");
  assert.equal(s.reassembled, 0);
  assert.equal(inetGauges(k, B).reassembling, 2, "the datagrams keep their first fragments");
  send(frag(3, 0, true, 0x02)); // ECT(0)
  send(frag(3, 16, false, 0x03)); // CE joins an ECT datagram
  s = ipStats(k, B);
  assert.equal(s.reassembled, 1);
  assert.equal(s.fragdropped, 2);
  (k.clock as VirtualClock).advance(60_000_000);
  assert.equal(inetGauges(k, B).reassembling, 0);
  assert.equal(mbufsInUse(k), 0);
  k.shutdown();
});
