// What `wavnet run` and `wavnet shell` share: load a topology file, bring it up with the
// command dispatcher beside it, and tear it down again with the accounting.

import { Topology, TopologyError, TopologyErrors, type TopologySpec, type TeardownReport } from "../topology/index.js";
import { loadTopology } from "../node/topology.js";
import { Commands } from "../shell/commands.js";
import { WebSocketInterface, type CloseInfo } from "../wire/websocket.js";
import { stopLabCapture, type LabCapture } from "./capture_links.js";

export { EXIT, processIo, UsageError, write, type Io } from "./io.js";
import type { Io } from "./io.js";

export interface UpFlags {
  clock?: "virtual" | "real";
  seed?: number;
  pcapDir?: string;
  /** --listen: serve the file's websocket interfaces with `listen: true` here (ws://HOST:PORT/NODE/IFACE). */
  listen?: { host?: string; port: number; allowOrigins?: string[] };
}

export interface Session {
  spec: TopologySpec;
  topo: Topology;
  commands: Commands;
  /** Wall time of Topology.up, ms. */
  upMs: number;
  /** The seed in force (command line, else file; undefined: the kernel's default). */
  seed?: number;
  /** --pcap with no capture steps (wavnet run): every link's capture, stopped by closeSession. */
  linkCaptures?: LabCapture;
}

/** True for the errors that mean "the file is wrong": they name file:line:col and exit 2. */
export function isTopologyError(e: unknown): e is TopologyError | TopologyErrors {
  return e instanceof TopologyError || e instanceof TopologyErrors;
}

/** Load and bring up; throws TopologyError(s) for a bad file. */
export async function openSession(file: string, flags: UpFlags, given?: TopologySpec): Promise<Session> {
  const spec = given ?? loadTopology(file);
  const t0 = performance.now();
  if (flags.listen && !listenInterfaces(spec).length) {
    // A listener that serves nothing would refuse every peer (4404): say so before booting.
    throw new ListenError(`${spec.file} has no websocket interface with listen: true to serve; add one to a node, e.g. interfaces: [{ name: ws0, kind: websocket, listen: true }]`);
  }
  // The command line wins over the file; with neither, Topology.up's default (virtual, or
  // real when the file has websocket interfaces: a peer elsewhere cannot share virtual time).
  let topo: Topology;
  try {
    topo = await Topology.up(spec, { clock: flags.clock ?? spec.clock, seed: flags.seed, pcapDir: flags.pcapDir, ...(flags.listen ? { listen: flags.listen } : {}) });
  } catch (e) {
    // The port, not the file, is wrong: name the flag (the listener's reason says which port and why).
    const m = flags.listen && isTopologyError(e) ? /websocket listen: (cannot listen on .*)$/.exec(e.message) : null;
    if (m) throw new ListenError(`${m[1]}${/EADDRINUSE/.test(m[1]!) ? " (another program has it: pick another port, or 0 for any free one)" : ""}`);
    throw e;
  }
  const upMs = performance.now() - t0;
  return { spec, topo, commands: new Commands(topo.kernel, { pcapDir: flags.pcapDir }), upMs, seed: flags.seed ?? spec.seed };
}

/** --listen cannot be served (the file has nothing to serve, the port is taken or refused): exit 2. */
export class ListenError extends Error {}

/** The websocket interfaces with `listen: true`, as NODE:IFACE and the path they are served at. */
export function listenInterfaces(spec: TopologySpec): { node: string; iface: string; path: string }[] {
  return spec.nodes.flatMap((n) => n.interfaces.filter((i) => i.kind === "websocket" && i.listen).map((i) => ({ node: n.name, iface: i.name, path: `/${n.name}/${i.name}` })));
}

/** The URLs a session serves, one line each ("  gw:ws0  ws://127.0.0.1:8080/gw/ws0"), after a heading. */
export function listenText(s: Session): string {
  const l = s.topo.listener;
  if (!l) return "";
  const host = l.host.includes(":") ? `[${l.host}]` : l.host;
  const rows = listenInterfaces(s.spec).map((x) => `  ${`${x.node}:${x.iface}`.padEnd(16)} ${l.url(x.path)}`);
  return [`listening on ${host}:${l.port}: websocket interfaces (one Ethernet frame per binary message):`, ...rows].join("\n");
}

/** Say when a peer joins or leaves a listen interface; returns the stop function. */
export function watchPeers(s: Session, say: (line: string) => void): () => void {
  const undo: (() => void)[] = [];
  for (const x of listenInterfaces(s.spec)) {
    const it = s.topo.node(x.node).iface(x.iface);
    if (!(it instanceof WebSocketInterface)) continue;
    let peer = "";
    const joined = (p: string) => {
      peer = p;
      say(`${x.node}:${x.iface}: peer ${p} joined`);
    };
    const left = (c: CloseInfo) => say(`${x.node}:${x.iface}: peer ${peer} left (${c.code}${c.reason ? ` ${c.reason}` : ""})`);
    it.events.on("connect", joined);
    it.events.on("disconnect", left);
    undo.push(() => {
      it.events.off("connect", joined);
      it.events.off("disconnect", left);
    });
  }
  return () => undo.forEach((f) => f());
}

/** Stop the shell's captures, then tear the topology down. */
export async function closeSession(s: Session): Promise<TeardownReport> {
  await s.commands.close();
  if (s.linkCaptures) await stopLabCapture(s.linkCaptures);
  return s.topo.down();
}

/** The command dispatcher as Topology.runSteps wants it: node name and command line. */
export function execFor(s: Session): (node: string, cmd: string) => Promise<string> {
  return (node, cmd) => s.commands.exec(s.topo.node(node), cmd);
}
