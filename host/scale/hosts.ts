// The --hosts coordinator: one topology over several processes or machines, one process per
// entry of hosts.yaml (host/scale/hosts_file.ts), each running one partition
// (host/scale/host_child.ts). It is ScaleLab (host/scale/lab.ts) with another way to start a
// partition: the plan, the step order, the fault handling and the teardown are ScaleLab's;
// what differs is the wire between partitions and the clock.
//
// - Every cut link becomes a VXLAN link (RFC 7348, host/node/vxlan.ts): each end is a vxlan
//   interface in its node, with the link's VNI, its own UDP port and the peer host's address
//   and port as remote. Kernel memories are in different processes: the FrameRings ScaleLab
//   makes for a cut link are not used.
// - Real time only: ScaleLab's rounds need every partition to answer within microseconds of
//   virtual time, and a cut link's delay is now whatever the network between the hosts
//   takes. A cut link's own conditions (delay, rate) are not applied: the VXLAN port has no
//   epair conditions; the run says so.
// - "Up" is every child's ready: each one's vxlan sockets are bound (a UDP tunnel has no
//   handshake: once both ends listen, frames pass).
//
// A child that dies (exits, is killed, its ssh connection drops) ends the run with a
// ScaleError naming the host entry, the partition and its nodes; the others are ended.
// Ending a child: close its stdin (it tears its lab down and exits), SIGTERM after a grace
// period, SIGKILL after another; `closed()` resolves once every child has exited.

import { spawn as spawnProcess, type ChildProcess } from "node:child_process";
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { fileURLToPath } from "node:url";
import type { TopologySpec } from "../topology/spec.js";
import { WavnetError } from "../lib/errors.js";
import { ScaleLab, type WorkerLike } from "./lab.js";
import { partition, type PartitionPlan } from "./partition.js";
import type { FromWorker, InitMessage, ToWorker } from "./protocol.js";
import { sshArgv, type HostEntry, type HostsFile } from "./hosts_file.js";
import { LINE_PREFIX, type ChildToHost, type HostInit } from "./hosts_protocol.js";

/** VNI of cut link i (the link's index in the file): distinct per link of a lab. */
export const VNI_BASE = 0x5c0000;

export interface VxlanEnd {
  partition: number;
  host: string;
  address: string;
  port: number;
}

/** A cut link as a VXLAN link: its VNI and each end's host, address and UDP port. */
export interface VxlanCut {
  /** Index of the link in the file. */
  index: number;
  /** "a:eth1 - b:eth0". */
  name: string;
  vni: number;
  a: VxlanEnd;
  b: VxlanEnd;
}

/** A link end in partition p whose peer is elsewhere. */
export interface ForeignEnd {
  node: string;
  iface: string;
  link: number;
  end: 0 | 1;
}

/**
 * Assign each cut link its VNI and UDP ports. A host with `port:` numbers its ends from it,
 * in file order; a local host without one takes the free ports given (freePorts(count) is
 * asked once for all of them).
 */
export async function assignVxlan(plan: PartitionPlan, hosts: HostEntry[], freePorts: (count: number) => Promise<number[]>): Promise<VxlanCut[]> {
  const need = plan.cut.reduce((a, c) => a + (hosts[c.pa]!.port === undefined ? 1 : 0) + (hosts[c.pb]!.port === undefined ? 1 : 0), 0);
  const pool = need ? await freePorts(need) : [];
  const next = new Map<number, number>();
  const portOf = (p: number): number => {
    const h = hosts[p]!;
    if (h.port === undefined) return pool.shift()!;
    const k = next.get(p) ?? 0;
    next.set(p, k + 1);
    if (h.port + k > 65535) throw new WavnetError(`host ${h.name}: port ${h.port} + ${k} is past 65535 (it has more cut link ends than ports above port:)`);
    return h.port + k;
  };
  return plan.cut.map((c) => {
    const end = (p: number): VxlanEnd => ({ partition: p, host: hosts[p]!.name, address: hosts[p]!.address, port: portOf(p) });
    return { index: c.index, name: `${c.link.a.node}:${c.link.a.iface} - ${c.link.b.node}:${c.link.b.iface}`, vni: VNI_BASE + c.index, a: end(c.pa), b: end(c.pb) };
  });
}

const hostPort = (address: string, port: number) => (address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`);

/**
 * A partition's spec with each end of a cut link turned into a vxlan interface: the link's
 * VNI, its own UDP port, the peer's address and port as remote, the link end's MTU (1500 by
 * default, as the epair it replaces: a frame of the one-process run fits; over a real
 * 1500-byte network the host fragments the datagram).
 */
export function vxlanSpec(spec: TopologySpec, foreign: ForeignEnd[], cuts: VxlanCut[]): TopologySpec {
  const byLink = new Map(cuts.map((c) => [c.index, c]));
  const nodes = spec.nodes.map((n) => {
    const mine = foreign.filter((f) => f.node === n.name);
    if (!mine.length) return n;
    return {
      ...n,
      interfaces: n.interfaces.map((i) => {
        const f = mine.find((x) => x.iface === i.name);
        if (!f) return i;
        const c = byLink.get(f.link)!;
        const [me, peer] = f.end === 0 ? [c.a, c.b] : [c.b, c.a];
        return { ...i, kind: "vxlan" as const, vni: c.vni, remote: hostPort(peer.address, peer.port), localPort: me.port, mtu: i.mtu ?? 1500 };
      }),
    };
  });
  return { ...spec, nodes };
}

/** Ask the OS for `count` distinct free UDP ports (bound together, then released). */
export async function freeUdpPorts(count: number): Promise<number[]> {
  const socks: UdpSocket[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const s = createSocket("udp4");
      socks.push(s);
      await new Promise<void>((res, rej) => {
        s.once("error", rej);
        s.bind(0, "0.0.0.0", () => res());
      });
    }
    return socks.map((s) => s.address().port);
  } finally {
    await Promise.all(socks.map((s) => new Promise<void>((res) => s.close(() => res()))));
  }
}

/** The argv that starts host h's partition process ([program, ...args]). */
export function childArgv(h: HostEntry): string[] {
  if (h.kind === "ssh") return sshArgv(h);
  const ts = import.meta.url.endsWith(".ts");
  const entry = fileURLToPath(new URL(ts ? "./host_child.ts" : "./host_child.js", import.meta.url));
  // From the TypeScript sources (tests, tsx) the child loads them the same way.
  return [process.execPath, ...(ts ? ["--import", "tsx"] : []), entry];
}

/** The package's root (tsx is found from there when run from sources). */
const ROOT = fileURLToPath(new URL("../..", import.meta.url));

export interface ChildInfo {
  host: HostEntry;
  partition: number;
  /** The process this coordinator started (for ssh: the ssh client). */
  pid: number | undefined;
  /** Pid and VXLAN ports as the partition's process reported them (for ssh: on the remote). */
  remotePid?: number;
  ports: number[];
  exited: Promise<void>;
}

export interface HostsUpOptions {
  seed?: number;
  pcapDir?: string;
  /** A line the child printed (its stderr, or stdout that is not a message). */
  log?: (host: string, line: string) => void;
  /** Grace before SIGTERM, and before SIGKILL after it, when ending a child (ms; default 3000). */
  graceMs?: number;
}

/** A lab over the processes of hosts.yaml: ScaleLab's steps and teardown, plus the children. */
export interface HostsRun {
  lab: ScaleLab;
  hosts: HostsFile;
  cuts: VxlanCut[];
  children: ChildInfo[];
  /** Resolves once every child process has exited. */
  closed(): Promise<void>;
}

/** One partition's process as ScaleLab sees a worker. */
class ChildWorker implements WorkerLike {
  readonly proc: ChildProcess;
  private ended = false;
  private exitedFlag = false;
  private faultFn: ((why: string) => void) | undefined;
  private tail: string[] = [];
  private messageFn: ((m: FromWorker) => void) | undefined;
  readonly info: ChildInfo;

  constructor(readonly host: HostEntry, readonly p: number, private readonly file: string, private readonly toInit: (m: InitMessage) => HostInit, private readonly opts: HostsUpOptions) {
    const [prog, ...args] = childArgv(host);
    this.proc = spawnProcess(prog!, args, { stdio: ["pipe", "pipe", "pipe"], cwd: ROOT });
    let resolveExit!: () => void;
    this.info = { host, partition: p, pid: this.proc.pid, ports: [], exited: new Promise<void>((r) => (resolveExit = r)) };
    this.proc.on("exit", (code, signal) => {
      this.exitedFlag = true;
      resolveExit();
      if (this.ended) return;
      const last = this.tail.length ? `; its last words: ${this.tail.join(" | ")}` : "";
      this.faultFn?.(`${this.label()}: its process ${signal ? `was killed (${signal})` : `exited (code ${code})`}${last}`);
    });
    this.proc.on("error", (e) => {
      if (!this.proc.pid) resolveExit(); // never started: no exit event follows
      if (!this.ended) this.faultFn?.(`${this.label()}: cannot start ${prog}: ${e.message}`);
    });
    this.proc.stdin!.on("error", () => undefined); // a child gone before it read: its exit says why
    lines(this.proc.stdout!, (line) => {
      if (!line.startsWith(LINE_PREFIX)) return this.log(line);
      const m = JSON.parse(line.slice(LINE_PREFIX.length)) as ChildToHost;
      if (m.t === "ready") {
        this.info.remotePid = m.pid;
        this.info.ports = m.ports;
      }
      if (m.t === "error") m.message = `${this.label()}: ${m.message}`;
      this.messageFn?.(m as FromWorker);
    });
    lines(this.proc.stderr!, (line) => this.log(line));
  }

  private log(line: string): void {
    this.tail.push(line.slice(0, 200));
    if (this.tail.length > 3) this.tail.shift();
    this.opts.log?.(this.host.name, line);
  }

  label(): string {
    const where = this.host.kind === "ssh" ? `ssh ${this.host.ssh}` : "local";
    return `host ${this.host.name} (${this.file}:${this.host.line}, ${where}, pid ${this.proc.pid ?? "none"})`;
  }

  post(m: ToWorker): void {
    let out: unknown = m;
    if (m.t === "init") out = this.toInit(m);
    else if (m.t === "round" || m.t === "crash") throw new WavnetError(`--hosts runs in real time: a ${m.t} message has no place here (a bug)`);
    if (this.proc.stdin!.writable) this.proc.stdin!.write(`${JSON.stringify(out)}\n`);
  }

  onMessage(fn: (m: FromWorker) => void): void {
    this.messageFn = fn;
  }

  onFault(fn: (why: string) => void): void {
    this.faultFn = fn;
  }

  /** Close stdin (the child tears down and exits), then SIGTERM, then SIGKILL. */
  async terminate(): Promise<void> {
    this.ended = true;
    if (this.exitedFlag || !this.proc.pid) return;
    const grace = this.opts.graceMs ?? 3000;
    const gone = (ms: number) => Promise.race([this.info.exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms).unref())]);
    this.proc.stdin!.end();
    if (await gone(grace)) return;
    this.proc.kill("SIGTERM");
    if (await gone(grace)) return;
    this.proc.kill("SIGKILL");
    await this.info.exited;
  }
}

/** Split a stream into lines. */
function lines(s: NodeJS.ReadableStream, fn: (line: string) => void): void {
  let buf = "";
  s.setEncoding("utf8");
  s.on("data", (chunk: string) => {
    buf += chunk;
    for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
      fn(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
    }
  });
  s.on("end", () => {
    if (buf) fn(buf);
  });
}

/**
 * Partition spec over hosts.hosts (one partition per entry; fewer when the file has fewer
 * groups: the last entries are then not used), start a process per partition, bring each
 * part up with its cut links as VXLAN links, and return when every process is ready.
 */
export async function hostsUp(spec: TopologySpec, hosts: HostsFile, opts: HostsUpOptions = {}): Promise<HostsRun> {
  const n = hosts.hosts.length;
  const plan = partition(spec, n);
  const cuts = await assignVxlan(plan, hosts.hosts, freeUdpPorts);
  const workers: ChildWorker[] = [];
  const toInit = (p: number) => (m: InitMessage): HostInit => ({
    t: "init", partition: p,
    spec: vxlanSpec(m.spec, m.foreign.map((f) => ({ node: f.node, iface: f.iface, link: f.link, end: f.end })), cuts),
    seed: m.seed,
    ...(m.pcapDir !== undefined ? { pcapDir: m.pcapDir } : {}),
  });
  const closed = () => Promise.all(workers.map((w) => w.info.exited)).then(() => undefined);
  let lab: ScaleLab;
  try {
    lab = await ScaleLab.up(spec, {
      workers: n, clock: "real",
      spawn: (p) => {
        const w = new ChildWorker(hosts.hosts[p]!, p, hosts.file, toInit(p), opts);
        workers[p] = w;
        return w;
      },
      // Rings of one frame: ScaleLab makes them for every cut link, VXLAN carries the frames.
      ringBytes: 4096,
      ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
      ...(opts.pcapDir !== undefined ? { pcapDir: opts.pcapDir } : {}),
    });
  } catch (e) {
    await Promise.all(workers.map((w) => w.terminate()));
    throw e;
  }
  return { lab, hosts, cuts, children: workers.map((w) => w.info), closed };
}
