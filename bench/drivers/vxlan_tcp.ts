// A driver for profiling vxlan_tcp_gbps (root; node --cpu-prof): one TCP connection from a
// wavnet vnet through its vxlan interface to socat in a Linux namespace, as bench/vxlan.ts
// measures it, with what explains the figure: frames and datagrams each way, kernel entries,
// port drains, event-loop turns, the connection's cwnd and bytes in flight sampled every
// 50 ms, and the TCP counters that move (retransmissions, duplicate ACKs, delayed ACKs).
//
//   node --import tsx bench/drivers/vxlan_tcp.ts [runs] [MiB]
//   DIR=rx node --import tsx bench/drivers/vxlan_tcp.ts [runs] [MiB]   the other way: socat sends to wavnet
//   RXTHREAD=1 ...   the port's socket in the VXLAN thread (which sends with sendmmsg batches)
//   RXTHREAD=1 NOBATCH=1 ...   the same with a sendmsg per datagram in the thread
//   MTU=8950 ...     a jumbo underlay: veth MTU 9000, inner MTU 8950 at both ends
//   node --import tsx --cpu-prof --cpu-prof-dir=/tmp/prof bench/drivers/vxlan_tcp.ts 1 128

import { spawn } from "node:child_process";
import { Kernel } from "../../host/index.js";
import { addAddress } from "../../host/index.js";
import { createVxlan } from "../../host/index.js";
import { tcpConnections, tcpStats, TCPSTAT_NAMES } from "../../host/index.js";
import { linuxVxlan } from "../../tests/interop/netns.js";
import { SOL_SOCKET, SO } from "../../host/index.js";
import { setVxlanSendBatching } from "../../host/node/vxlan_thread.js";
import { median } from "../lib.js";

const MiB = 1 << 20;
const runs = Number(process.argv[2] ?? 3);
const mib = Number(process.argv[3] ?? 128);
/** DIR=rx: the other way, socat in the namespace sends to a wavnet listener. */
const rx = process.env.DIR === "rx";
const VNI = 5152;
const PORT = 4791;
/** SNDBUF=bytes: SO_SNDBUF of the client socket (default: the kernel's 32 KiB). */
const sndbuf = Number(process.env.SNDBUF ?? 0);
/** RXTHREAD=1: the port's socket in the VXLAN receive thread (rxThread: true), sends included. */
const rxThread = process.env.RXTHREAD === "1";
if (process.env.NOBATCH === "1") setVxlanSendBatching(false);
/** MTU=8950: a jumbo underlay (veth MTU = this + 50) and this inner MTU at both ends. */
const mtu = process.env.MTU ? Number(process.env.MTU) : undefined;

async function once(bytes: number): Promise<number> {
  const lx = linuxVxlan({ tag: `d${process.pid % 10000}`, vni: VNI, port: PORT, linuxAddr: "10.205.0.2/24", mtu, underlayMtu: mtu !== undefined ? mtu + 50 : undefined });
  const k = await Kernel.boot({ clock: "real" });
  try {
    const v = k.createVnet("drv");
    const vx = await createVxlan(k, v, { vni: VNI, remote: `${lx.underlayLinux}:${PORT}`, localAddress: lx.underlayHost, localPort: PORT, rxThread, mtu });
    vx.setUp();
    addAddress(k, vx, "10.205.0.1/24");
    // Counts of kernel entries and port drains (wrapped on this instance only).
    let enters = 0;
    let drains = 0;
    const kk = k as unknown as { enter: (f: () => unknown) => unknown; call: (...a: unknown[]) => number; drainPorts: () => void };
    const enter0 = kk.enter.bind(k);
    const call0 = kk.call.bind(k);
    const drain0 = kk.drainPorts.bind(k);
    kk.enter = (f) => (enters++, enter0(f));
    kk.call = (...a) => (enters++, call0(...a));
    kk.drainPorts = () => (drains++, drain0());
    let done: Promise<number | null>;
    if (!rx) {
      const sink = spawn("ip", ["netns", "exec", lx.ns, "socat", "-u", "TCP-LISTEN:5202,bind=10.205.0.2,reuseaddr", "OPEN:/dev/null"], { stdio: "ignore" });
      done = new Promise<number | null>((r) => sink.on("close", (c) => r(c)));
      await new Promise((r) => setTimeout(r, 300));
    } else {
      done = Promise.resolve(0);
    }
    const s0 = tcpStats(k, v);
    const x0 = vx.vxlanStats();
    const chunk = Buffer.alloc(MiB, 0x5a);
    const cw: number[] = [];
    const fl: number[] = [];
    const sampler = setInterval(() => {
      const c = tcpConnections(k, v).find((t) => t.foreignPort === 5202 || t.localPort === 5202);
      if (c) {
        cw.push(c.cwnd);
        fl.push(rx ? c.recvQ : (c.sndMax - c.sndUna) >>> 0);
      }
    }, 50);
    const t0 = process.hrtime.bigint();
    const c0 = process.cpuUsage();
    if (rx) {
      // head -c bytes of zeros from the namespace to a wavnet listener that counts them.
      await new Promise<void>((resolve, reject) => {
        let got = 0;
        const srv = v.net.createServer((s) => {
          s.on("data", (d: Buffer) => {
            got += d.length;
          });
          s.on("end", () => {
            srv.close();
            if (got === bytes) resolve();
            else reject(new Error(`received ${got} of ${bytes}`));
          });
        });
        srv.listen(5202, "10.205.0.1", () => {
          const src = spawn("ip", ["netns", "exec", lx.ns, "sh", "-c", `head -c ${bytes} /dev/zero | socat -u - TCP:10.205.0.1:5202`], { stdio: "ignore" });
          src.on("close", (c) => c !== 0 && reject(new Error(`socat exited ${c}`)));
        });
      });
    } else await new Promise<void>((resolve, reject) => {
      const c = v.net.connect(5202, "10.205.0.2");
      c.on("error", reject);
      c.on("connect", () => {
        if (sndbuf) c.raw!.setsockopt(SOL_SOCKET, SO.SNDBUF, sndbuf);
        let left = bytes;
        const pump = () => {
          while (left > 0) {
            const n = Math.min(left, chunk.length);
            left -= n;
            if (!c.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
              c.once("drain", pump);
              return;
            }
          }
          c.end();
          resolve();
        };
        pump();
      });
      c.resume();
    });
    const code = await done;
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(c0);
    clearInterval(sampler);
    if (code !== 0) throw new Error(`socat exited ${code}`);
    const s1 = tcpStats(k, v);
    const x1 = vx.vxlanStats();
    const gbps = (bytes * 8) / secs / 1e9;
    const moved = TCPSTAT_NAMES.filter((n) => s1[n] !== s0[n] && n !== "sndbyte" && n !== "rcvackbyte").map((n) => `${n}=${s1[n] - s0[n]}`);
    const d = (n: keyof typeof x1) => x1[n] - x0[n];
    console.log(
      `${gbps.toFixed(3)} Gbit/s in ${secs.toFixed(2)} s (cpu user ${(cpu.user / 1e6).toFixed(2)} s sys ${(cpu.system / 1e6).toFixed(2)} s)\n` +
        `  frames out ${d("txFrames")} (${(d("txFrames") / secs).toFixed(0)}/s), ring drops ${d("txRingDrops")}, sent ${d("sent")}, send errors ${d("sendErrors")}; datagrams in ${d("rxDatagrams")} (${(d("rxDatagrams") / secs).toFixed(0)}/s)\n` +
        `  kernel entries ${enters}, port drains ${drains}, ${(d("txFrames") / drains).toFixed(1)} frames/drain\n` +
        `  cwnd median ${median(cw)} max ${Math.max(...cw)}; ${rx ? "receive queue" : "in flight"} median ${median(fl)} max ${Math.max(...fl)} (${cw.length} samples)\n` +
        `  tcp: ${moved.join(" ")}`,
    );
    return gbps;
  } finally {
    k.shutdown();
    lx.destroy();
  }
}

const all: number[] = [];
for (let i = 0; i < runs; i++) all.push(await once(mib * MiB));
console.log(`median ${median(all).toFixed(3)} Gbit/s of ${runs} (${all.map((g) => g.toFixed(3)).join(", ")})`);
