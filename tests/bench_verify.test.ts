// The tcp bench's transfer checks what it moves (bench/groups/tcp.ts bulkPair, issue 14
// "benchmarks that state their honesty"): a CRC-32 of every byte sent against every byte read.
// These prove the check can fail: one flipped byte in what B reads throws, with offloads on
// and off; and that the offload-off pair really sends MTU-sized segments.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { bulkPair, bulkUnverifiable } from "../bench/groups/tcp.js";

const MiB = 2 ** 20;

describe("tcp bench: the bulk transfer verifies its bytes", { skip: bulkUnverifiable() ?? false }, () => {
  for (const offload of [true, false]) {
    const what = offload ? "offloads on" : "offloads off";
    test(`${what}: 8 MiB moved and verified; one flipped byte in what B reads throws`, async () => {
      const good = await bulkPair({ offload });
      const c0 = good.ea.counters();
      good.move(8 * MiB);
      const c1 = good.ea.counters();
      const frames = c1.opackets - c0.opackets;
      const avg = (c1.obytes - c0.obytes) / frames; // A sends data; B the ACKs
      if (offload) assert.ok(avg > 4000, `large frames with TSO: ${Math.round(avg)} B on average`);
      else assert.ok(avg <= 1514 && avg > 1400 && frames >= (8 * MiB) / 1460, `MTU-sized frames without TSO: ${frames} of ${Math.round(avg)} B on average`);
      good.move(3 * MiB + 17, { copyOut: true }); // recv() and an odd length too
      good.close();

      const bad = await bulkPair({ offload, corruptAt: 5 * MiB + 3 });
      assert.throws(() => bad.move(8 * MiB), /the 8388608 bytes read are not the bytes sent: CRC-32/);
      bad.close();
    });
  }
});
