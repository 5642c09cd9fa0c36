// pingall, Mininet's: every host pings every other host once, one row per host as its
// pings end ("h1 -> h2 h3 X": X for no reply), then the loss line as Mininet prints it
// ("*** Results: 0% dropped (6/6 received)"). Hosts are the nodes of role host; each is
// reached at its address on the path (shell/resolve.ts). One ping at a time, as Mininet
// does: a burst towards a next hop not yet resolved loses all but one packet (ARP and ND
// hold one per neighbour, FreeBSD's la_hold), which would mark reachable hosts X.

import { ping } from "../admin/ping.js";
import { AbortError } from "../lib/errors.js";
import { CommandError, getopt, number } from "./args.js";
import { resolveHost, type Family } from "./resolve.js";
import type { Call } from "./commands.js";
import type { ShellSession } from "./shell.js";

export const PINGALL_USAGE = "pingall [-4 | -6] [-W waittime_ms]";

/** Pings in flight at once from one row (see the header: more would lose some to ARP). */
const PARALLEL = 1;

export interface PingallResult {
  /** Row by row, then the results line. */
  text: string;
  sent: number;
  received: number;
}

export async function pingall(s: ShellSession, argv: string[], opts: { signal?: AbortSignal; print?: (line: string) => void } = {}): Promise<PingallResult> {
  const { opts: o, args } = getopt("pingall", argv, "46W:", PINGALL_USAGE);
  if (args.length) throw new CommandError(`pingall: unexpected ${JSON.stringify(args[0])}; usage: ${PINGALL_USAGE}`);
  if (o.has("4") && o.has("6")) throw new CommandError("pingall: -4 and -6 exclude each other");
  const family: Family | undefined = o.has("4") ? 4 : o.has("6") ? 6 : undefined;
  const waitMs = o.has("W") ? number("pingall", "-W (ms to wait for a reply)", o.get("W") as string, 1, 60_000) : 1000;
  const hosts = s.topo.nodes().filter((n) => n.role === "host");
  if (hosts.length < 2) throw new CommandError(`pingall: it takes two hosts (nodes of role host); this topology has ${hosts.length}`);
  const k = s.topo.kernel;
  const lines: string[] = [];
  const say = (l: string) => {
    lines.push(l);
    opts.print?.(l);
  };
  say("*** Ping: testing ping reachability");
  let sent = 0;
  let received = 0;
  for (const src of hosts) {
    if (opts.signal?.aborted) break;
    const call: Call = { kernel: k, node: src, vnet: src.vnet, cmd: "pingall", argv: [] };
    const cells: string[] = new Array(hosts.length - 1).fill("X");
    const others = hosts.filter((h) => h !== src);
    let next = 0;
    const worker = async () => {
      while (next < others.length && !opts.signal?.aborted) {
        const i = next++;
        const dst = others[i]!;
        let ok = false;
        try {
          const a = resolveHost(call, dst.name, family);
          const r = await ping(k, src.vnet, a.address, { count: 1, timeoutMs: waitMs, ...(opts.signal ? { signal: opts.signal } : {}) });
          ok = r.received > 0;
        } catch (e) {
          // ^C: the row stops here; no address or no route: a miss, as in Mininet.
          if (e instanceof AbortError) return;
        }
        sent++;
        if (ok) received++;
        cells[i] = ok ? dst.name : "X";
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL, others.length) }, worker));
    if (opts.signal?.aborted) break;
    say(`${src.name} -> ${cells.join(" ")}`);
  }
  const lost = sent - received;
  say(`*** Results: ${sent ? Math.trunc((100 * lost) / sent) : 0}% dropped (${received}/${sent} received)`);
  return { text: lines.join("\n"), sent, received };
}
