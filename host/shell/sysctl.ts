// sysctl on a node: every per-vnet knob of admin/sysctl.ts's table (the one topology files'
// `kernel.sysctl:` use), read, listed (-a, or a prefix such as net.inet.tcp), described (-d)
// or set (NAME=VALUE, with or without -w), FreeBSD's output: "name: value", "name: old -> new".

import { SYSCTLS, sysctlKnobs, sysctlKnob, sysctlGet, sysctlSet } from "../admin/sysctl.js";
import { CommandError, getopt } from "./args.js";
import type { Call, Command } from "./commands.js";

const USAGE = "sysctl [-n] [-d] -a | sysctl [-n] [-d] NAME... | sysctl [-w] NAME=VALUE...";

function sysctl(c: Call): string {
  const { opts, args } = getopt(c.cmd, c.argv, "adnw", USAGE);
  const line = (name: string, v: string | number) => (opts.has("n") ? String(v) : `${name}: ${v}`);
  const describe = (name: string) => (opts.has("n") ? sysctlKnob(name).description : `${name}: ${sysctlKnob(name).description}`);
  const show = (name: string) => (opts.has("d") ? describe(name) : line(name, sysctlGet(c.kernel, c.vnet, name)));
  if (opts.has("a")) {
    if (args.length) throw new CommandError(`sysctl: -a lists every knob; give names without it; usage: ${USAGE}`);
    return sysctlKnobs(c.kernel).map((s) => show(s.name)).join("\n");
  }
  if (args.length === 0) throw new CommandError(`sysctl: a name is needed (sysctl -a lists them); usage: ${USAGE}`);
  const out: string[] = [];
  for (const a of args) {
    const eq = a.indexOf("=");
    if (eq < 0) {
      if (opts.has("w")) throw new CommandError(`sysctl: -w wants NAME=VALUE, got ${JSON.stringify(a)}`);
      // A name, or a prefix of names (sysctl net.inet.tcp), as FreeBSD's sysctl takes it.
      const under = sysctlKnobs(c.kernel).filter((s) => s.name.startsWith(`${a}.`));
      if (under.length && !SYSCTLS.some((s) => s.name === a)) out.push(...under.map((s) => show(s.name)));
      else out.push(show(wrap(() => sysctlKnob(a)).name));
      continue;
    }
    const name = a.slice(0, eq);
    const value = a.slice(eq + 1);
    const old = wrap(() => sysctlGet(c.kernel, c.vnet, name));
    const now = wrap(() => sysctlSet(c.kernel, c.vnet, name, value));
    out.push(opts.has("n") ? String(now) : `${name}: ${old} -> ${now}`);
  }
  return out.join("\n");
}

/** The table's errors as the command's one line. */
function wrap<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw new CommandError(`sysctl: ${(e as Error).message.replace(/^sysctl:? /, "")}`);
  }
}

export const SYSCTL: Command = { usage: USAGE, summary: "the node's kernel knobs: -a lists every one, NAME=VALUE sets (also -w)", run: sysctl };
