// A/B of the transport hot paths between two builds in one process (issue 12: TCP and UDP
// reach inet through its entry table instead of a direct import; does any path get slower?).
// Whole-group benchmarks swing by a factor of 3 on a shared 2-core machine, so this runs
// short trials of both builds alternately, many times, and compares the best (minimum) and
// the median of each: the minimum is the trial least disturbed by other jobs.
//
//   node --import tsx bench/drivers/ab_transport.ts A_BUILD_DIR B_BUILD_DIR [trials] [udp,tcp,tso]
//
// Run it with the host of the build whose link map is the older one (a build where tcp and
// udp import inet needs a link map that lists the dependency; a newer build loads under an
// older map, the extra dependency only loading inet first, which the kernels here do anyway).
//
// Trials: udp (512 datagrams of 64 bytes A -> B through sendBatch/recvBatch: udp_output,
// ip_output, ip_input, udp_input), tcp (1 MiB A -> B with offloads off: MTU-sized segments,
// each through af_output and the family's input), tcp_tso (4 MiB with offloads on), udp6
// (the udp trial over IPv6: udp6_output, ip6_output with its link MTU, ip6_input; not run
// unless named).
import { Kernel, socket, SOL_SOCKET, SO, addAddress, addAddress6, sendBatch, recvBatch, type VirtualClock } from "../../host/index.js";
import { nodeModuleSource } from "../../host/node/wasm_file.js";
import { bulkPair } from "../workloads/tcp_epair.js";

const [dirA, dirB, trialsArg, which] = process.argv.slice(2);
const want = new Set((which ?? "udp,tcp,tso").split(","));
if (!dirA || !dirB) throw new Error("usage: bench/drivers/ab_transport.ts A_BUILD_DIR B_BUILD_DIR [trials]");
const TRIALS = Number(trialsArg ?? 300);

async function udpSide(dir: string, v6 = false) {
  const k = await Kernel.boot({ config: ["if_epair", "inet", "inet6", "tcp", "udp"], clock: "virtual", source: nodeModuleSource(dir) });
  const a = k.createVnet("a");
  const b = k.createVnet("b");
  const [ea, eb] = k.epair(a, b);
  ea.setUp();
  eb.setUp();
  if (v6) {
    addAddress6(k, ea, "fd00::1/64");
    addAddress6(k, eb, "fd00::2/64");
    (k.clock as VirtualClock).advance(2_000_000); // DAD done
  } else {
    addAddress(k, ea, "10.0.0.1/24");
    addAddress(k, eb, "10.0.0.2/24");
  }
  const fam = v6 ? "inet6" : "inet";
  const dst = v6 ? "fd00::2" : "10.0.0.2";
  const srv = socket(k, b, fam, "dgram", 17).bind(dst, 9);
  srv.setsockopt(SOL_SOCKET, SO.RCVBUF, 1 << 20);
  const cli = socket(k, a, fam, "dgram", 17);
  cli.connect(dst, 9);
  const payloads = Array.from({ length: 512 }, () => new Uint8Array(64));
  if (v6) {
    // sendBatch/recvBatch are IPv4's: one send and one recv call a datagram (the same for both builds).
    return () => {
      for (const p of payloads) if (cli.send(p) !== 64) throw new Error("udp6: short send");
      for (let i = 0; i < 512; i++) if (!srv.recv()) throw new Error("udp6: short read");
    };
  }
  return () => {
    if (sendBatch(k, cli, payloads).sent !== 512) throw new Error("udp: short send");
    if (recvBatch(k, srv, 512).length !== 512) throw new Error("udp: short read");
  };
}

async function tcpSide(dir: string, offload: boolean, bytes: number) {
  const p = await bulkPair({ offload, source: nodeModuleSource(dir) });
  return () => p.move(bytes, { verify: false });
}

function stats(xs: number[]) {
  const s = [...xs].sort((x, y) => x - y);
  return { min: s[0]!, median: s[s.length >> 1]! };
}

async function ab(name: string, mk: (dir: string) => Promise<() => void>, per: number, unit: string) {
  const fa = await mk(dirA!);
  const fb = await mk(dirB!);
  for (let i = 0; i < 20; i++) { fa(); fb(); } // warm: ARP, zones, JIT
  const ta: number[] = [];
  const tb: number[] = [];
  for (let i = 0; i < TRIALS; i++) {
    for (const [f, t] of (i & 1 ? [[fb, tb], [fa, ta]] : [[fa, ta], [fb, tb]]) as [() => void, number[]][]) {
      const t0 = process.hrtime.bigint();
      f();
      t.push(Number(process.hrtime.bigint() - t0) / per);
    }
  }
  const a = stats(ta);
  const b = stats(tb);
  console.log(`${name}: ns per ${unit}  A min ${a.min.toFixed(1)} median ${a.median.toFixed(1)} | B min ${b.min.toFixed(1)} median ${b.median.toFixed(1)} | B/A min ${(b.min / a.min).toFixed(3)} median ${(b.median / a.median).toFixed(3)}`);
}

console.log(`A = ${dirA}\nB = ${dirB}\n${TRIALS} alternated trials each; load average ${(await import("node:os")).loadavg().map((x) => x.toFixed(2)).join(" ")}`);
if (want.has("udp")) await ab("udp", (d) => udpSide(d), 512, "datagram");
if (want.has("udp6")) await ab("udp6", (d) => udpSide(d, true), 512, "datagram");
if (want.has("tcp")) await ab("tcp (offload off)", (d) => tcpSide(d, false, 1 << 20), (1 << 20) / 1448, "segment");
if (want.has("tso")) await ab("tcp (TSO on)", (d) => tcpSide(d, true, 4 << 20), (4 << 20) / 1448, "1448 bytes");
console.log(`load average after ${(await import("node:os")).loadavg().map((x) => x.toFixed(2)).join(" ")}`);
