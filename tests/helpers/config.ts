// The kernel configuration a transport suite boots. Alone, a suite boots its own minimal
// module list; scripts/test-configs.mjs runs it again under each configuration of the link
// map that has the modules it needs (WAVNET_TEST_CONFIG=GENERIC, NOINET6, NOINET), so the
// same tests prove TCP and UDP over each family whatever else is in the kernel. A suite
// asked to run under a configuration that lacks what it needs fails at once instead of
// testing something else.
import linkmap from "../../host/kern/linkmap_data.js";

export const TEST_CONFIG: string | undefined = process.env.WAVNET_TEST_CONFIG || undefined;

/** The configuration to boot: WAVNET_TEST_CONFIG when set (it must have every module of needs), else dflt. */
export function suiteConfig(needs: string[], dflt: string | string[]): string | string[] {
  if (TEST_CONFIG === undefined) return dflt;
  const mods = linkmap.configs[TEST_CONFIG];
  if (!mods) throw new Error(`WAVNET_TEST_CONFIG=${TEST_CONFIG}: no such configuration in assembly/linkmap.json`);
  const missing = needs.filter((m) => !mods.includes(m));
  if (missing.length) throw new Error(`WAVNET_TEST_CONFIG=${TEST_CONFIG} has no ${missing.join(", ")}: this suite cannot run under it`);
  return TEST_CONFIG;
}

/** The kernel a suite boots has module m (always true when no WAVNET_TEST_CONFIG is set: the suites' own lists are complete). */
export function configHas(m: string): boolean {
  return TEST_CONFIG === undefined || (linkmap.configs[TEST_CONFIG] ?? []).includes(m);
}
