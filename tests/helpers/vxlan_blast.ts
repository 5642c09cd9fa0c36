// A VXLAN flood source, run as a child process (bench/vxlan_rx.ts, bench/drivers/vxlan_rx.ts,
// tests/vxlan_flood.test.ts): sends datagrams to host:port for `seconds` as fast as
// node:dgram takes them, from one UDP socket (one source address and port). Each datagram is a VXLAN
// header (I flag, VNI) and a 64-byte Ethernet frame: IPv4 UDP from 10.99.0.2:9999 to
// <dst>:9 (discard). argv: host port vni dstMac dstIp seconds [junkEvery] [srcPort] [pps]
// junkEvery > 0 makes every junkEvery-th datagram junk (no I flag) so the receiver counts it;
// srcPort: the port to send from (default: any); pps: at most this many a second, in bursts
// of 256 (default 0: as fast as it can).
// Prints "ready" once bound, and one JSON line at the end: { sent, seconds }.

import dgram from "node:dgram";

const [host, portS, vniS, dstMac, dstIp, secondsS, junkS, srcPortS, ppsS] = process.argv.slice(2);
const pps = Number(ppsS ?? 0);
const port = Number(portS);
const vni = Number(vniS);
const seconds = Number(secondsS);
const junkEvery = Number(junkS ?? 0);

function frame(): Buffer {
  const b = Buffer.alloc(8 + 64);
  b[0] = 0x08;
  b.writeUInt32BE(vni << 8, 4);
  const f = b.subarray(8);
  Buffer.from(dstMac.split(":").map((x) => parseInt(x, 16))).copy(f, 0);
  Buffer.from([0x02, 0, 0, 0x99, 0, 2]).copy(f, 6);
  f.writeUInt16BE(0x0800, 12);
  const ip = f.subarray(14);
  ip[0] = 0x45;
  ip.writeUInt16BE(50, 2); // 20 IP + 8 UDP + 22 payload: a 64-byte frame
  ip[8] = 64;
  ip[9] = 17;
  Buffer.from([10, 99, 0, 2]).copy(ip, 12);
  Buffer.from(dstIp.split(".").map(Number)).copy(ip, 16);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += ip.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  ip.writeUInt16BE(~sum & 0xffff, 10);
  const udp = ip.subarray(20);
  udp.writeUInt16BE(9999, 0);
  udp.writeUInt16BE(9, 2);
  udp.writeUInt16BE(30, 4);
  udp.writeUInt16BE(0, 6); // no checksum (IPv4 allows it)
  return b;
}

const good = frame();
const junk = Buffer.from(good);
junk[0] = 0;
const sock = dgram.createSocket("udp4");
sock.bind(Number(srcPortS ?? 0), () => {
  try {
    sock.setSendBufferSize(4 << 20);
  } catch {
    // capped by the OS
  }
  process.stdout.write("ready\n");
  let sent = 0;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  const burst = () => {
    // Sends complete synchronously when the socket buffer has room (libuv tries first);
    // a burst, then a turn of the event loop so completions run.
    for (let i = 0; i < 256; i++) {
      sock.send(junkEvery > 0 && sent % junkEvery === 0 ? junk : good, port, host);
      sent++;
    }
    const now = performance.now();
    if (now < end) {
      const due = pps > 0 ? t0 + (sent / pps) * 1000 - now : 0;
      if (due > 1) setTimeout(burst, due);
      else setImmediate(burst);
    } else {
      process.stdout.write(JSON.stringify({ sent, seconds: (performance.now() - t0) / 1000 }) + "\n");
      // Sends libuv could not complete at once wait in its queue; closing now would cancel them.
      setTimeout(() => sock.close(), 200);
    }
  };
  burst();
});
