// Static neighbour entries (ndp -s; FreeBSD's LLE_STATIC): used at once without a
// solicitation, never aged, probed, changed by an advertisement or evicted to make room,
// removed by ndp -d or with their vnet. FreeBSD's ndp.sh:ndp_add_gu_success is the
// conformance case (tests/conformance/netinet6_hosts.test.ts); these are the rest.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ConfigError, type VirtualClock } from "../host/index.js";
import { delAddress6, ndpAdd, ndpDelete, ndpTable, ndpAn, nd6Stats, nd6GcThresh, parseIPv6 } from "../host/admin/inet6.js";
import { parseMac } from "../host/admin/ifnet.js";
import { twoHosts6, ip6Packet, cksum6, cat } from "./helpers/inet6.js";
import { ether, mbufsInUse } from "./helpers/inet.js";

const MAC = "90:10:00:01:02:03";

test("ndp -s: the entry is used at once (no solicitation), stays a day, and an overriding advertisement does not change it", async () => {
  const { k, A, ea } = await twoHosts6(1, ["if_epair", "inet6", "udp"]);
  const clock = k.clock as VirtualClock;
  clock.advance(2_000_000);
  ndpAdd(k, A, "fd00::99", MAC);
  const frames: Uint8Array[] = [];
  const cap = ea.capture();
  const reading = (async () => {
    for await (const f of cap) if (f.dir === "out") frames.push(f.data.slice());
  })();
  const ns0 = nd6Stats(k, A).nsout;
  const s = A.socket("inet6", "dgram");
  s.sendto("x", "fd00::99", 9);
  // An unsolicited, overriding advertisement for fd00::99 with another MAC (RFC 4861 7.2.5 would take it).
  const na = cat(new Uint8Array([136, 0, 0, 0, 0x20, 0, 0, 0]), parseIPv6("fd00::99", "t"), new Uint8Array([2, 1]), parseMac("02:00:00:00:77:77"));
  new DataView(na.buffer).setUint16(2, cksum6(parseIPv6("fd00::99", "s"), parseIPv6("ff02::1", "d"), 58, na));
  ea.receive(ether("02:00:00:00:77:77", "33:33:00:00:00:01", 0x86dd, ip6Packet({ src: "fd00::99", dst: "ff02::1", nxt: 58, hlim: 255, payload: na })));
  clock.advance(86_400_000_000 + 1_000_000);
  await new Promise((r) => setImmediate(r));
  await cap.stop();
  await reading;
  assert.equal(nd6Stats(k, A).nsout - ns0, 0, "no solicitation for it, ever");
  const udp = frames.filter((f) => f[12] === 0x86 && f[13] === 0xdd && f[20] === 17);
  assert.equal(udp.length, 1);
  assert.deepEqual([...udp[0].subarray(0, 6)], [...parseMac(MAC)], "sent to the static MAC");
  const e = ndpTable(k, A).find((n) => n.address === "fd00::99");
  assert.deepEqual([e?.state, e?.mac], ["permanent", MAC], "unchanged by the advertisement, a day later");
  assert.match(ndpAn(k, A), new RegExp(`^fd00::99\\s+${MAC}\\s+${ea.name}\\s+permanent\\s+R`, "m"));
  s.close();
  k.shutdown();
});

test("ndp -s: never evicted to make room; ndp -d removes it; an address going leaves it; the vnet going takes it", async () => {
  const { k, A, B, ea } = await twoHosts6(1, ["if_epair", "inet6", "udp"]);
  const clock = k.clock as VirtualClock;
  clock.advance(2_000_000);
  nd6GcThresh(k, A, { thresh1: 2, thresh2: 2, thresh3: 4 });
  ndpAdd(k, A, "fd00::99", MAC);
  // Our own resolutions fill the table past thresh3 many times over: each makes room by evicting.
  const s = A.socket("inet6", "dgram");
  for (let i = 0; i < 20; i++) s.sendto("x", `fd00::${(0x100 + i).toString(16)}`, 9);
  assert.ok(nd6Stats(k, A).evicted > 0, "entries were evicted");
  assert.equal(ndpTable(k, A).find((n) => n.address === "fd00::99")?.state, "permanent", "the static one never");
  assert.throws(() => ndpAdd(k, A, "fd00:9::1", MAC), ConfigError, "an address on no link of ours needs its interface named");
  assert.throws(() => ndpAdd(k, A, "fd00::98", "01:00:5e:00:00:01"), ConfigError, "a multicast MAC");
  delAddress6(k, ea, "fd00::1"); // its prefix's dynamic entries go with it (nd6_flush)
  assert.deepEqual(ndpTable(k, A).map((n) => n.address), ["fd00::99"], "the static one stays");
  ndpDelete(k, A, "fd00::99");
  assert.equal(ndpTable(k, A).find((n) => n.address === "fd00::99"), undefined, "ndp -d");
  ndpAdd(k, A, "fd00::99", MAC, ea);
  s.close();
  A.destroy();
  B.destroy();
  clock.advance(5_000_000);
  assert.equal(mbufsInUse(k), 0);
  assert.equal(k.vmstatZ().find((z) => z.name === "nd6_entry")?.used ?? 0, 0, "no neighbour entry left");
  k.shutdown();
});
