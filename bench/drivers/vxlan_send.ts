// What sending a VXLAN datagram costs this process (root): 100,000 datagrams of 1,458 bytes
// (VXLAN header and a 1,450-byte frame, an IPv4/UDP packet to the discard port) from a
// node:dgram socket over a veth into a namespace whose Linux vxlan device decapsulates them,
// 30 per turn of the event loop, as a port sends a kernel entry's burst. Prints datagrams a
// second and user and system CPU per datagram. The sendmsg on the veth also runs Linux's
// receive path for the datagram in this process's time.
//
//   node --import tsx bench/drivers/vxlan_send.ts [plain|connected]
//   node --test-udp-no-try-send --import tsx bench/drivers/vxlan_send.ts     sends queued in libuv, sent with sendmmsg
//
// plain: send(msg, port, address), what a port does; connected: a connected socket's send(msg)
// (no address lookup, no route lookup per datagram; a port cannot use it, since it must
// receive from any source). host/node/vxlan_thread.ts runs its worker with the flag.

import dgram from "node:dgram";
import { execFileSync } from "node:child_process";
import { linuxVxlan } from "../../tests/interop/netns.js";

const mode = process.argv[2] ?? "plain";
if (mode !== "plain" && mode !== "connected") throw new Error(`mode must be plain or connected, got ${mode}`);
const N = 100_000;
const PORT = 4799;
const lx = linuxVxlan({ tag: `s${process.pid % 10000}`, vni: 77, port: PORT, linuxAddr: "10.206.0.2/24" });
try {
  const s = dgram.createSocket("udp4");
  await new Promise<void>((r) => s.bind(PORT, lx.underlayHost, () => r()));
  s.setSendBufferSize(4 << 20);
  const frame = Buffer.alloc(8 + 1450);
  frame[0] = 0x08; // I flag
  frame.writeUIntBE(77, 4, 3); // VNI
  const e = frame.subarray(8);
  e.fill(0xff, 0, 6); // broadcast
  e.set([2, 0, 0, 0, 0, 1], 6);
  e.writeUInt16BE(0x0800, 12);
  const ip = e.subarray(14);
  ip[0] = 0x45;
  ip.writeUInt16BE(1436, 2);
  ip[8] = 64;
  ip[9] = 17;
  ip.set([10, 206, 0, 1], 12);
  ip.set([10, 206, 0, 2], 16);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += ip.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  ip.writeUInt16BE(~sum & 0xffff, 10);
  ip.writeUInt16BE(5555, 20);
  ip.writeUInt16BE(9, 22); // discard: nobody listens, Linux drops it after decapsulation
  ip.writeUInt16BE(1416, 24);
  if (mode === "connected") await new Promise<void>((r) => s.connect(PORT, lx.underlayLinux, () => r()));
  const rxPackets = () => JSON.parse(execFileSync("ip", ["-n", lx.ns, "-j", "-s", "link", "show", "vx0"], { encoding: "utf8" }))[0].stats64.rx.packets as number;
  const rx0 = rxPackets();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let i = 0;
  await new Promise<void>((resolve) => {
    const burst = () => {
      for (let j = 0; j < 30 && i < N; j++, i++) {
        if (mode === "connected") s.send(frame);
        else s.send(frame, PORT, lx.underlayLinux);
      }
      if (i < N) setImmediate(burst);
      else setImmediate(resolve);
    };
    burst();
  });
  const t = performance.now() - t0;
  const c = process.cpuUsage(c0);
  await new Promise((r) => setTimeout(r, 100));
  const arrived = rxPackets() - rx0;
  console.log(
    `${mode}${process.execArgv.includes("--test-udp-no-try-send") ? " (libuv queue, sendmmsg)" : ""}: ${((N / t) * 1000).toFixed(0)} datagrams/s; ` +
      `user ${(c.user / N).toFixed(2)} us, system ${(c.system / N).toFixed(2)} us per datagram; ${arrived} of ${N} decapsulated by Linux`,
  );
  s.close();
} finally {
  lx.destroy();
}
