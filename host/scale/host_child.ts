#!/usr/bin/env node
// One partition of `wavnet run FILE --hosts hosts.yaml` in its own process (the package's
// `wavnet-partition` bin): started by the coordinator (host/scale/hosts.ts) as a local child
// or through ssh, or by a Kubernetes pod (host/scale/k8s.ts) with --init FILE.
//
// With the coordinator, the channel is stdin and stdout, one JSON message a line behind
// LINE_PREFIX (anything else the process prints on stdout is passed on as a log line, not
// taken for a message). In: init (the partition's spec, its cut links already VXLAN
// interfaces), step N, down. Out: ready, result, down, error. The end of stdin is the end of
// the run: the lab is torn down and the process exits, so a coordinator that dies (or an ssh
// connection that drops) leaves nothing running.
//
// Standalone (--init FILE, a pod): bring the partition up, run the steps it owns in order,
// print their results (one JSON line each), and stay up until SIGTERM or SIGINT.

import "../index.js"; // the Node platform: kernel binaries from disk, VXLAN ports on node:dgram
import { readFileSync } from "node:fs";
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { Topology } from "../topology/topology.js";
import { runStep } from "../topology/steps.js";
import { Commands } from "../shell/commands.js";
import type { TopologySpec } from "../topology/spec.js";
import type { LinkEndCounters } from "./protocol.js";
import { LINE_PREFIX, type HostInit, type HostToChild, type ChildToHost } from "./hosts_protocol.js";

let topo: Topology | undefined;
let commands: Commands | undefined;
let downing: Promise<void> | undefined;

function post(m: ChildToHost): void {
  process.stdout.write(`${LINE_PREFIX}${JSON.stringify(m)}\n`);
}

/** A vxlan remote given by name (a pod's Service, an ssh host) becomes an address: the port takes IP literals only. */
async function resolveRemotes(spec: TopologySpec, retries: number): Promise<void> {
  for (const n of spec.nodes) {
    for (const i of n.interfaces) {
      if (i.kind !== "vxlan" || !i.remote) continue;
      const m = /^(.*):(\d+)$/.exec(i.remote);
      if (!m || isIP(m[1]!.replace(/^\[(.*)\]$/, "$1"))) continue;
      // A pod's peers may not exist yet (their Service has no address until they do): retry.
      let a: { address: string; family: number } | undefined;
      for (let tries = 1; !a; tries++) {
        a = await lookup(m[1]!).catch((e: Error) => {
          if (tries >= retries) throw new Error(`${n.name}:${i.name}: cannot resolve the peer host ${m[1]} (${e.message}, ${tries} tries)`);
          return new Promise<undefined>((r) => setTimeout(() => r(undefined), 1000));
        });
      }
      i.remote = a.family === 6 ? `[${a.address}]:${m[2]}` : `${a.address}:${m[2]}`;
    }
  }
}

async function init(m: HostInit): Promise<void> {
  const t0 = performance.now();
  await resolveRemotes(m.spec, m.ownSteps !== undefined ? 300 : 1);
  topo = await Topology.up(m.spec, { clock: "real", seed: m.seed, ...(m.pcapDir !== undefined ? { pcapDir: m.pcapDir } : {}) });
  commands = new Commands(topo.kernel, m.pcapDir !== undefined ? { pcapDir: m.pcapDir } : {});
  const acc = topo.kernel.accounting();
  const ports: number[] = [];
  for (const n of topo.nodes()) for (const i of n.interfaces()) if (i.kind === "vxlan") ports.push((i.iface as unknown as { localPort: number }).localPort);
  post({ t: "ready", upMs: performance.now() - t0, nodes: topo.nodes().length, links: topo.links().length, kmemPages: acc.pagesInUse, memoryBytes: acc.memoryBytes, pid: process.pid, ports });
}

async function step(index: number): Promise<void> {
  const t = topo!;
  const result = await runStep(t, index, { exec: (node, cmd) => commands!.exec(t.node(node), cmd) });
  post({ t: "result", result });
}

/** Tear the partition down (once); reports its counters and teardown accounting. */
function down(): Promise<void> {
  downing ??= (async () => {
    if (!topo) return;
    const counters: LinkEndCounters[] = [];
    for (const node of topo.nodes()) {
      for (const i of node.interfaces()) if ((i.kind === "ether" || i.kind === "vxlan") && i.iface.alive) counters.push({ node: node.name, iface: i.name, counters: i.iface.counters() });
    }
    await commands?.close();
    const teardown = await topo.down();
    topo = undefined;
    post({ t: "down", teardown, counters, cpuMs: process.cpuUsage().user / 1000 + process.cpuUsage().system / 1000 });
  })();
  return downing;
}

function fail(e: unknown): void {
  const err = e instanceof Error ? e : new Error(String(e));
  post({ t: "error", message: err.message, ...(err.stack ? { stack: err.stack } : {}) });
}

async function withCoordinator(): Promise<void> {
  let queue: Promise<void> = Promise.resolve();
  let buf = "";
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (chunk: string) => {
    buf += chunk;
    for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!line.trim()) continue;
      let m: HostToChild;
      try {
        m = JSON.parse(line) as HostToChild;
      } catch {
        fail(new Error(`a line from the coordinator is not JSON: ${line.slice(0, 80)}`));
        continue;
      }
      // One message at a time, in order.
      queue = queue.then(() => (m.t === "init" ? init(m) : m.t === "step" ? step(m.step) : down())).catch(fail);
    }
  });
  // The coordinator is gone (it closed our stdin, exited, or its ssh connection dropped): tear down, exit.
  process.stdin.on("end", () => {
    void queue.then(() => down()).catch(() => undefined).finally(() => process.exit(0));
  });
}

async function standalone(file: string): Promise<void> {
  const m = JSON.parse(readFileSync(file, "utf8")) as HostInit;
  await init(m);
  for (const i of m.ownSteps ?? []) await step(i);
  const stop = () => void down().finally(() => process.exit(0));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

const argv = process.argv.slice(2);
if (argv[0] === "--init" && argv[1]) {
  standalone(argv[1]).catch((e: unknown) => {
    fail(e);
    process.exit(1);
  });
} else if (argv.length === 0) {
  void withCoordinator();
} else {
  process.stderr.write(`wavnet-partition: usage: wavnet-partition (the coordinator's channel on stdin) | wavnet-partition --init FILE; got ${JSON.stringify(argv.join(" "))}\n`);
  process.exit(2);
}
