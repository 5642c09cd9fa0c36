// Linux network namespaces with vxlan devices, for the interop suite and bench/vxlan.ts.
// Everything made here is named after a tag and removed by destroy(), which also runs at
// process exit, so a failed test leaves no namespace, veth or vxlan device behind.

import { execFileSync, spawn, spawnSync } from "node:child_process";
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";

function which(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

/** Tools the interop suite runs (.ci/run installs them: iproute2, socat, curl, tshark, ethtool, iputils-ping). */
export const INTEROP_TOOLS = ["ip", "socat", "curl", "tshark", "ethtool", "ping"];

/**
 * A Python interpreter that imports scapy (Debian's python3-scapy installs it for
 * /usr/bin/python3, which a python3 earlier on PATH, a pyenv or venv, may not see), or
 * undefined.
 */
export function scapyPython(): string | undefined {
  for (const py of ["/usr/bin/python3", "python3"]) {
    if (spawnSync(py, ["-c", "import scapy"], { stdio: "ignore" }).status === 0) return py;
  }
  return undefined;
}

/** Why Linux interop cannot run here, or undefined when it can; `scapy` also asks for a Python with scapy. */
export function interopMissing(tools = INTEROP_TOOLS, o: { scapy?: boolean } = {}): string | undefined {
  if (process.platform !== "linux") return "needs Linux (network namespaces)";
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return "needs root (ip netns)";
  const missing = tools.filter((t) => !which(t));
  if (o.scapy && scapyPython() === undefined) missing.push("python3 with scapy (python3-scapy)");
  if (missing.length) return `missing tools: ${missing.join(", ")}`;
  return undefined;
}

/**
 * node:test's `skip` for the interop suite: false when it can run, else the reason. With
 * WAVNET_INTEROP=1 (what .ci/run sets) a reason is an error instead: CI skips nothing silently.
 * A test file that needs more than the common tools names them all (`tools`), and `scapy`.
 */
export function interopSkip(tools = INTEROP_TOOLS, o: { scapy?: boolean } = {}): string | false {
  const why = interopMissing(tools, o);
  if (why === undefined) return false;
  if (process.env.WAVNET_INTEROP === "1") throw new Error(`interop suite required (WAVNET_INTEROP=1) but cannot run: ${why}`);
  return why;
}

function ip(...args: string[]): void {
  execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"] });
}

function quiet(...args: string[]): void {
  spawnSync("ip", args, { stdio: "ignore" });
}

/** Remove a namespace and end what still runs in it (a socat left by a failed test). */
function delNetns(ns: string): void {
  const pids = spawnSync("ip", ["netns", "pids", ns], { encoding: "utf8" });
  for (const p of (pids.stdout ?? "").split(/\s+/).filter(Boolean)) {
    try {
      process.kill(Number(p), "SIGKILL");
    } catch {
      // gone already
    }
  }
  quiet("netns", "del", ns);
}

/** A small number from the tag, for underlay addresses that differ between concurrent users (linuxVxlan starts its search for a free slot here). */
export function underlaySlot(tag: string): number {
  return slot(tag);
}

function slot(tag: string): number {
  let h = 0;
  for (const c of tag) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return 1 + (h % 250);
}

const live = new Set<{ destroy(): void }>();
process.on("exit", () => {
  for (const x of [...live]) x.destroy();
});

/** Whether a process is alive (EPERM: alive, not ours). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

// Underlay slots. linuxVxlan's root-side address 10.201.N.1/24 is on the machine's own routing
// table, so two live set-ups with one N route each other's packets into the wrong namespace
// (ping answered by the stale one, TCP refused by it: CI saw exactly that). A set-up claims N
// with a lock file that names its pid and namespace, made with O_EXCL before the namespace; a
// namespace `wvx-*` that no live lock claims is a leftover of a killed run and is removed.
const LOCKS = "/run/wavnet-interop";

interface SlotLock {
  pid: number;
  ns: string;
  host: string;
}

function readLock(file: string): SlotLock | undefined {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as SlotLock;
  } catch {
    return undefined; // half-written by a live claimer, or removed meanwhile
  }
}

/** Remove every `wvx-<tag>` namespace (and its `wvh-<tag>` veth end) that no live lock claims. */
function sweepLeftovers(): void {
  // Namespaces first, locks second: a namespace listed here was made after its lock, so a
  // live owner's lock is seen.
  let names: string[] = [];
  try {
    names = readdirSync("/run/netns").filter((n) => /^wvx-/.test(n));
  } catch {
    return; // no namespace at all
  }
  const claimed = new Set<string>();
  for (const f of readdirSync(LOCKS)) {
    const l = readLock(join(LOCKS, f));
    if (l && alive(l.pid)) claimed.add(l.ns);
    else if (l) rmSync(join(LOCKS, f), { force: true });
  }
  for (const ns of names) {
    if (claimed.has(ns)) continue;
    delNetns(ns);
    quiet("link", "del", `wvh-${ns.slice("wvx-".length)}`);
  }
}

/** Claim a free underlay slot N (1..250), starting at the tag's; the lock is removed by release(). */
function claimSlot(tag: string, ns: string, host: string): { n: number; release(): void } {
  mkdirSync(LOCKS, { recursive: true });
  sweepLeftovers();
  const inUse = spawnSync("ip", ["-o", "-4", "addr", "show"], { encoding: "utf8" }).stdout ?? "";
  const first = slot(tag);
  for (let i = 0; i < 250; i++) {
    const n = 1 + ((first - 1 + i) % 250);
    if (inUse.includes(` 10.201.${n}.`)) continue; // someone else's address, lock or not
    const file = join(LOCKS, `slot-${n}`);
    let fd: number;
    try {
      fd = openSync(file, "wx");
    } catch {
      const l = readLock(file);
      if (l === undefined || alive(l.pid)) continue;
      rmSync(file, { force: true }); // a dead owner's (sweepLeftovers removed its namespace)
      try {
        fd = openSync(file, "wx");
      } catch {
        continue; // another claimer was quicker
      }
    }
    writeSync(fd, JSON.stringify({ pid: process.pid, ns, host } satisfies SlotLock));
    closeSync(fd);
    return { n, release: () => rmSync(file, { force: true }) };
  }
  throw new Error(`interop: no free underlay slot 10.201.N.0/24 (locks in ${LOCKS})`);
}

export interface LinuxVxlan {
  /** The namespace holding the Linux vxlan device "vx0". */
  ns: string;
  /** Underlay addresses: the root namespace's veth end (bind the wavnet socket here) and the namespace's. */
  underlayHost: string;
  underlayLinux: string;
  destroy(): void;
}

/**
 * Namespace `wvx-<tag>` with veth `wvn-<tag>` (underlay 10.201.N.2/24), whose root-side end
 * `wvh-<tag>` has 10.201.N.1/24, and a vxlan device vx0 (vni, remote 10.201.N.1:port,
 * dstport port) with linuxAddr on it. N is a slot no other live set-up holds (claimSlot).
 * underlayMtu: the veth pair's MTU (a jumbo underlay); mtu: vx0's.
 */
export function linuxVxlan(o: { tag: string; vni: number; port: number; linuxAddr: string; mtu?: number; underlayMtu?: number }): LinuxVxlan {
  const ns = `wvx-${o.tag}`;
  const host = `wvh-${o.tag}`;
  const peer = `wvn-${o.tag}`;
  // This process's own earlier set-up of the same tag goes first (its lock is live).
  delNetns(ns);
  quiet("link", "del", host);
  const claim = claimSlot(o.tag, ns, host);
  const underlayHost = `10.201.${claim.n}.1`;
  const underlayLinux = `10.201.${claim.n}.2`;
  const destroy = () => {
    delNetns(ns);
    quiet("link", "del", host); // the pair goes with the namespace, but not always at once
    claim.release();
    live.delete(handle);
  };
  const handle = { ns, underlayHost, underlayLinux, destroy };
  live.add(handle);
  try {
    ip("netns", "add", ns);
    ip("link", "add", host, "type", "veth", "peer", "name", peer, "netns", ns);
    ip("addr", "add", `${underlayHost}/24`, "dev", host);
    if (o.underlayMtu !== undefined) {
      ip("link", "set", host, "mtu", String(o.underlayMtu));
      ip("-n", ns, "link", "set", peer, "mtu", String(o.underlayMtu));
    }
    ip("link", "set", host, "up");
    ip("-n", ns, "link", "set", "lo", "up");
    ip("-n", ns, "addr", "add", `${underlayLinux}/24`, "dev", peer);
    ip("-n", ns, "link", "set", peer, "up");
    ip("-n", ns, "link", "add", "vx0", "type", "vxlan", "id", String(o.vni), "remote", underlayHost, "dstport", String(o.port), "dev", peer);
    if (o.mtu !== undefined) ip("-n", ns, "link", "set", "vx0", "mtu", String(o.mtu));
    // Linux leaves the inner TCP/UDP checksum to "hardware" (CHECKSUM_PARTIAL) when the
    // device offers tx checksumming; over a veth into a userspace socket nobody fills it in,
    // and wavnet rightly drops those segments. A real NIC would fill it: here we turn it off.
    execFileSync("ip", ["netns", "exec", ns, "ethtool", "-K", "vx0", "tx", "off"], { stdio: "ignore" });
    ip("-n", ns, "addr", "add", o.linuxAddr, "dev", "vx0");
    ip("-n", ns, "link", "set", "vx0", "up");
  } catch (e) {
    destroy();
    throw e;
  }
  return handle;
}

export interface LinuxVxlanPair {
  ns: [string, string];
  destroy(): void;
}

/**
 * Two namespaces joined by a veth (underlay 10.202.N.1/.2) and a VXLAN link over it: vx0 in
 * each, addresses 10.203.N.1/24 and 10.203.N.2/24. The same kind of link as linuxVxlan's,
 * with Linux at both ends (the peer measurement of bench/vxlan.ts). mtu: vx0's MTU, over a
 * veth of mtu + 50 (a jumbo underlay).
 */
export function linuxVxlanPair(o: { tag: string; vni: number; port: number; mtu?: number }): LinuxVxlanPair {
  const ns: [string, string] = [`wvxa-${o.tag}`, `wvxb-${o.tag}`];
  const n = slot(o.tag);
  const destroy = () => {
    for (const x of ns) delNetns(x);
    live.delete(handle);
  };
  const handle = { ns, destroy };
  destroy();
  live.add(handle);
  try {
    ip("netns", "add", ns[0]);
    ip("netns", "add", ns[1]);
    ip("link", "add", "wvp0", "netns", ns[0], "type", "veth", "peer", "name", "wvp1", "netns", ns[1]);
    for (let i = 0; i < 2; i++) {
      ip("-n", ns[i], "link", "set", "lo", "up");
      ip("-n", ns[i], "addr", "add", `10.202.${n}.${i + 1}/24`, "dev", `wvp${i}`);
      if (o.mtu !== undefined) ip("-n", ns[i], "link", "set", `wvp${i}`, "mtu", String(o.mtu + 50));
      ip("-n", ns[i], "link", "set", `wvp${i}`, "up");
      ip("-n", ns[i], "link", "add", "vx0", "type", "vxlan", "id", String(o.vni), "remote", `10.202.${n}.${2 - i}`, "dstport", String(o.port), "dev", `wvp${i}`);
      if (o.mtu !== undefined) ip("-n", ns[i], "link", "set", "vx0", "mtu", String(o.mtu));
      ip("-n", ns[i], "addr", "add", `10.203.${n}.${i + 1}/24`, "dev", "vx0");
      ip("-n", ns[i], "link", "set", "vx0", "up");
    }
  } catch (e) {
    destroy();
    throw e;
  }
  return handle;
}

/** 10.203.N.x of linuxVxlanPair for a tag. */
export function pairAddress(tag: string, i: 1 | 2): string {
  return `10.203.${slot(tag)}.${i}`;
}

/**
 * Run a command in a namespace; resolves with its exit code and output (a non-zero exit is
 * the caller's to judge: hping3 exits 1 when nothing answers). Killed after timeoutMs.
 */
export function nsExec(ns: string, args: string[], o: { input?: Buffer | string; timeoutMs?: number } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn("ip", ["netns", "exec", ns, ...args], { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    const t = setTimeout(() => p.kill("SIGKILL"), o.timeoutMs ?? 30_000);
    p.stdout.on("data", (d: Buffer) => (out += d));
    p.stderr.on("data", (d: Buffer) => (err += d));
    p.on("close", (code) => {
      clearTimeout(t);
      resolve({ code, stdout: out, stderr: err });
    });
    p.stdin.end(o.input);
  });
}
