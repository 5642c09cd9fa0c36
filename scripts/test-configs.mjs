#!/usr/bin/env node
// Runs the transport test suites once per kernel configuration of the link map, for the
// families each configuration has (issue 12): GENERIC both families, NOINET6 TCP and UDP over
// IPv4, NOINET (IPv6 only) TCP and UDP over IPv6, BARE the link-layer suites. A transport
// suite boots WAVNET_TEST_CONFIG instead of its own module list (tests/helpers/config.ts)
// and fails at once if the configuration lacks a module it needs; the link-layer suites boot
// BARE (plus the one driver they test) themselves.
//
//   node scripts/test-configs.mjs             every configuration
//   node scripts/test-configs.mjs NOINET      one (several names may be given)
//   node scripts/test-configs.mjs --list      the plan, nothing run
import { readFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** Suites and the modules they need; link: true for the link-layer suites BARE runs. */
export const SUITES = [
  {
    what: "TCP over IPv4",
    needs: ["if_epair", "inet", "tcp"],
    files: [
      "tcp", "tcp_autobuf", "tcp_defences", "tcp_guards", "tcp_icmp", "tcp_land", "tcp_reass", "tcp_sack", "tcp_scale",
      "tcp_syncache", "tcp_syncookie",
    ],
  },
  { what: "UDP over IPv4", needs: ["if_epair", "inet", "udp"], files: ["udp", "udp_malformed"] },
  { what: "TCP over IPv6", needs: ["if_epair", "inet6", "tcp"], files: ["inet6_tcp"] },
  { what: "UDP over IPv6", needs: ["if_epair", "inet6", "udp"], files: ["inet6_udp"] },
  { what: "link layer", needs: [], link: true, files: ["ifnet", "ether", "epair", "bridge"] },
];

/** config name -> the suites it runs: transports whose modules it has; link-layer ones only in a configuration without a network layer. */
export function plan(configs) {
  const out = {};
  for (const [name, mods] of Object.entries(configs)) {
    const l3 = mods.includes("inet") || mods.includes("inet6");
    out[name] = SUITES.filter((s) => (s.link ? !l3 : s.needs.every((m) => mods.includes(m))));
  }
  return out;
}

export const CONFIGS = ["GENERIC", "NOINET6", "NOINET", "BARE"];

function main(argv) {
  const linkmap = JSON.parse(readFileSync(join(root, "assembly/linkmap.json"), "utf8"));
  const names = argv.filter((a) => !a.startsWith("--"));
  const want = names.length ? names : CONFIGS;
  const all = plan(Object.fromEntries(want.map((n) => {
    if (!linkmap.configs[n]) throw new Error(`test-configs: no configuration ${n} in assembly/linkmap.json`);
    return [n, linkmap.configs[n]];
  })));
  let failed = 0;
  for (const [name, suites] of Object.entries(all)) {
    if (suites.length === 0) throw new Error(`test-configs: ${name} runs no suite (the plan is wrong)`);
    console.log(`== ${name} (${linkmap.configs[name].join(", ") || "no modules"}): ${suites.map((s) => s.what).join("; ")}`);
    if (argv.includes("--list")) continue;
    const files = suites.flatMap((s) => s.files.map((f) => `tests/${f}.test.ts`));
    const r = spawnSync(process.execPath, ["--import", "tsx", "--test", "--test-reporter=dot", ...files], {
      cwd: root, stdio: "inherit", env: { ...process.env, WAVNET_TEST_CONFIG: name },
    });
    if (r.status !== 0) {
      console.log(`== ${name}: FAILED`);
      failed++;
    }
  }
  process.exitCode = failed ? 1 : 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main(process.argv.slice(2));
