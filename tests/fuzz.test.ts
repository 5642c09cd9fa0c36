// The fuzz harness's short seeded pass (issue 14): every input path for a fixed number of
// generated cases with a fixed seed, and every saved regression case replayed. The long run
// is `npm run fuzz -- --minutes N`; see tests/fuzz/ for generators, invariants and runner.
import { test, describe, after } from "node:test";
import assert from "node:assert/strict";
import { basename } from "node:path";
import { fuzzPath, regressionFiles, replay, toJson, WorldBox } from "./fuzz/harness.js";
import { PATHS, closeRawSocket, corpus } from "./fuzz/paths.js";
import { World } from "./fuzz/world.js";

// Cases per path: enough to reach every kind of header each generator makes, small enough
// that the whole file stays well under 30 s on a loaded 2-core machine.
const RUNS: Record<string, number> = { tcp: 100, vxlan: 30, mixed: 40 };
const SEED = 20261207;

const box = new WorldBox();
after(() => {
  box.close();
  closeRawSocket();
});

describe("fuzz harness: the invariants catch what they claim to", () => {
  test("a byte changed in a bystander's data block is an isolation failure; a bad zone free is a zone failure", async () => {
    const w = await World.create(5);
    try {
      const x = w.bystanders[0];
      const at = w.k.k.vnet_base(x.ptr) + 100;
      const mem = new Uint8Array(w.k.memory.buffer);
      mem[at] ^= 1;
      assert.throws(() => w.checkBystanders(), /isolation: bystander X's memory/);
      mem[at] ^= 1;
      w.checkBystanders();
      await w.run(() => {});
      assert.equal(w.cases, 1);
      // A free of a pointer that is no item of the zone: counted as a bad free, caught by check().
      const z = w.k.k.zone_first();
      (w.k.k as unknown as { zone_free_in(z: number, item: number, vbase: number): void }).zone_free_in(z, 8, 0);
      assert.throws(() => w.check("test"), /zone: .* bad frees/);
    } finally {
      w.shutdown();
    }
  });

  test("the corpus of captured frames is there (scripts/fuzz-corpus.ts)", () => {
    assert.ok(corpus().length >= 100, `${corpus().length} frames in tests/fuzz/corpus/*.pcap`);
  });
});

describe("fuzz: saved regression cases pass", () => {
  const files = regressionFiles();
  if (files.length === 0) test("no regression case saved yet", () => {});
  for (const f of files) {
    test(basename(f), async () => {
      await replay(box, f);
    });
  }
});

describe(`fuzz: a seeded pass over every input path (seed ${SEED})`, () => {
  for (const p of PATHS) {
    test(`${p.name}: no trap, no host exception, counters consistent, bystanders untouched, nothing leaked`, async () => {
      const r = await fuzzPath(box, p, { seed: SEED, numRuns: RUNS[p.name] ?? 150 });
      if (r.failure) assert.fail(`${r.failure.message}\nminimized case (save it with npm run fuzz, or replay):\n${toJson(r.failure.case).slice(0, 4000)}`);
      assert.ok(r.cases > 0);
    });
  }
});
