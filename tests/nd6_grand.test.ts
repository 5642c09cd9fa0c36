// A changed MAC is announced (RFC 4861 7.2.6, RFC 9131's GRAND; FreeBSD's ndp.sh:
// ndp_grand_linklayer_event is the conformance case): one unsolicited, overriding
// advertisement per address in use, to all nodes, a RetransTimer apart, link-local first.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { VirtualClock } from "../host/index.js";
import { addAddress6, formatIPv6, nd6Stats } from "../host/admin/inet6.js";
import { twoHosts6 } from "./helpers/inet6.js";
import { snapshot } from "./helpers/snapshot.js";

const NEW = "90:10:00:01:02:03";

/** The NAs among frames: [target, override, TLLA MAC, dst IPv6]. */
function nas(frames: Uint8Array[]): [string, boolean, string, string][] {
  return frames
    .filter((f) => f[12] === 0x86 && f[13] === 0xdd && f[20] === 58 && f[54] === 136)
    .map((f) => [
      formatIPv6(f.subarray(62, 78)),
      (f[58] & 0x20) !== 0,
      [...f.subarray(80, 86)].map((b) => b.toString(16).padStart(2, "0")).join(":"),
      formatIPv6(f.subarray(38, 54)),
    ]);
}

test("a new MAC: the link-local address's advertisement at once, the next address's a second later; same MAC again: none", async () => {
  const { k, A, ea } = await twoHosts6();
  const clock = k.clock as VirtualClock;
  clock.advance(2_000_000); // DAD done: fd00::1 and the link-local address preferred
  addAddress6(k, ea, "fd00:9::1/64"); // tentative: left to its DAD probe
  const frames: Uint8Array[] = [];
  const cap = ea.capture();
  const reading = (async () => {
    for await (const f of cap) if (f.dir === "out") frames.push(f.data.slice());
  })();
  const turn = () => new Promise((r) => setImmediate(r));
  ea.setMac(NEW);
  clock.advance(1); // the first callout is due now
  await turn();
  let got = nas(frames);
  assert.equal(got.length, 1, "one advertisement at once");
  assert.match(got[0][0], /^fe80::/, "the link-local address first");
  assert.deepEqual(got[0].slice(1), [true, NEW, "ff02::1"], "override set, the new MAC, to all nodes");
  clock.advance(1_000_000);
  await turn();
  got = nas(frames);
  assert.deepEqual(got.map((g) => g[0]).slice(1), ["fd00::1"], "the global address a RetransTimer later; the tentative one not");
  const out = nd6Stats(k, A).naout;
  ea.setMac(NEW); // no change
  clock.advance(3_000_000);
  await turn();
  assert.equal(nd6Stats(k, A).naout, out, "the same MAC again announces nothing");
  await cap.stop();
  await reading;
  k.shutdown();
});

test("an interface destroyed with announcements pending leaves no callout", async () => {
  const { k, A, B, ea } = await twoHosts6();
  const clock = k.clock as VirtualClock;
  clock.advance(2_000_000);
  k.reclaim();
  const before = snapshot(k);
  ea.setMac(NEW); // two announcements scheduled, the second a second away
  A.destroy();
  B.destroy();
  clock.advance(3_000_000);
  assert.ok(snapshot(k).callouts <= before.callouts, "no callout left behind");
  k.shutdown();
});
