// The registry of benchmark groups, in the order `npm run bench` runs them. A new group is
// a file in this folder default-exporting a Group (see bench/lib.ts) plus one line here.
import type { Group } from "../lib.js";
import kernel from "./kernel.js";
import link from "./link.js";
import ipv4 from "./ipv4.js";
import tcp from "./tcp.js";
import runner from "./runner.js";
import pkg from "./package.js";
import hardening from "./hardening.js";
import conformance from "./conformance.js";
import browser from "./browser.js";
import mvns from "./mvns.js";
import shell from "./shell.js";
import firewall from "./firewall.js";
import cli from "./cli.js";
import scale from "./scale.js";

export const groups: Group[] = [
  kernel,
  link,
  ipv4,
  tcp,
  runner,
  pkg,
  hardening,
  conformance,
  browser,
  mvns,
  shell,
  firewall,
  cli,
  scale,
];
