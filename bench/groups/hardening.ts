// Group "hardening" (issue 14): how well the project guards itself.
//
// - mutants_total / mutants_survived: the last full `npm run mutants` (scripts/mutants.mjs),
//   read from bench/results/mutants.json: targeted mutations of security- and correctness-
//   critical kernel code, each of which a named test must catch. Running them takes minutes
//   (a rebuild and the tests per mutant), so the bench reports the recorded run, with its
//   commit and date in the note, rather than repeating it.
// - fuzz_cases_per_s / fuzz_failures: measured here, a seeded fuzz run of every input path
//   (tests/fuzz/) for FUZZ_SECONDS: cases per second through the whole harness (a fresh
//   target vnet per case, every invariant checked after it), and the failing cases found.
// - vxlan_rx_pps, vxlan_rx_host_socket_drops, linux_vxlan_rx_pps (item 11): a flood into a
//   VXLAN port from another process; bench/vxlan_rx.ts measures them (its own block below).
// - the flood figures (synflood_*, flood_100_*, kernel_bytes_peak, neighbour_flood_*,
//   teardown_*, spoofed_syn_*): bench/groups/hardening_floods.ts; each runs the setup of the
//   test that checks the same defence (tests/helpers/floods.ts), under the virtual clock.

import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Group } from "../lib.js";
import { fuzzFor } from "../../tests/fuzz/harness.js";
import { closeRawSocket } from "../../tests/fuzz/paths.js";
import { runVxlanRxBench, runVxlanLosslessBench, VXLAN_RX_METRICS } from "../vxlan_rx.js";
import { floodMetrics, runFloods } from "./hardening_floods.js";

const FUZZ_SECONDS = 20;
const FUZZ_SEED = 14;
const mutantsFile = fileURLToPath(new URL("../results/mutants.json", import.meta.url));

const group: Group = {
  name: "hardening",
  description: "mutation check of the kernel's defences (recorded npm run mutants) and a timed fuzz run of every input path",
  metrics: [
    { name: "mutants_total", unit: "mutants", description: "targeted mutations of critical kernel code in the last full npm run mutants" },
    { name: "mutants_survived", unit: "mutants", target: { max: 0 }, description: "of those, mutations no named test caught" },
    { name: "fuzz_cases_per_s", unit: "cases/s", description: `fuzz cases per second over every input path (fresh target vnet per case, every invariant checked), ${FUZZ_SECONDS} s seeded run` },
    { name: "fuzz_failures", unit: "cases", target: { max: 0 }, description: "failing cases (trap, host exception, broken invariant, leak) in that run" },
    // VXLAN receive under a flood (issue 14 item 11): bench/vxlan_rx.ts
    ...VXLAN_RX_METRICS,
    ...floodMetrics(),
  ],
  async run(ctx) {
    if (existsSync(mutantsFile)) {
      const m = JSON.parse(readFileSync(mutantsFile, "utf8"));
      const note = `npm run mutants at ${m.commit}, ${String(m.date).slice(0, 10)}`;
      ctx.report("mutants_total", m.mutants_total, { note });
      ctx.report("mutants_survived", m.mutants_survived, { note });
    } else {
      ctx.skip("mutants_total", "no bench/results/mutants.json: run npm run mutants");
      ctx.skip("mutants_survived", "no bench/results/mutants.json: run npm run mutants");
    }
    ctx.log(`fuzzing every path for ${FUZZ_SECONDS} s`);
    const s = await fuzzFor({ seconds: FUZZ_SECONDS, seed: FUZZ_SEED, save: false });
    closeRawSocket();
    ctx.report("fuzz_cases_per_s", Math.round(s.cases / s.seconds), { note: `${s.cases} cases, seed ${FUZZ_SEED}` });
    ctx.report("fuzz_failures", s.failures.length, s.failures.length ? { note: s.failures.map((f) => `${f.path}: ${f.message.split("\n")[0]}`).join("; ").slice(0, 300) } : {});

    // VXLAN receive under a flood (issue 14 item 11): bench/vxlan_rx.ts
    ctx.log("VXLAN receive: a flood from another process into a port, and into a Linux vxlan device");
    await runVxlanRxBench(ctx);
    await runVxlanLosslessBench(ctx);
    await runFloods(ctx);
  },
};

export default group;
