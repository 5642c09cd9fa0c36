// node --import tsx scripts/fuzz-corpus.ts: capture the fuzz corpus of real frames.
//
// Runs the kind of traffic the tests run (ARP and ND resolution, ping and ping6 with
// fragments, UDP over both families, TCP connections over both families with data, SACK-
// and timestamp-bearing segments, a close, a RST, ICMP errors from a router) on a small
// topology and writes what crossed each link as classic pcap files in tests/fuzz/corpus/
// (readable with Wireshark). The `corpus` fuzz path mutates these frames (bit flips,
// truncation, length fields) and replays them at a target whose addresses are the same
// (10.0.0.2, fd00::2). Seeded virtual time: the same frames every run.

import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { mkdirSync, rmSync, existsSync, readdirSync } from "node:fs";
import { Kernel, socket, type VirtualClock } from "../host/index.js";
import { addAddress, addRoute, setForwarding } from "../host/admin/inet.js";
import { addAddress6, addRoute6, setForwarding6 } from "../host/admin/inet6.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dir = join(root, "tests/fuzz/corpus");
mkdirSync(dir, { recursive: true });
for (const f of existsSync(dir) ? readdirSync(dir) : []) if (f.endsWith(".pcap")) rmSync(join(dir, f));

const k = await Kernel.boot({ config: ["if_epair", "inet", "inet6", "udp", "tcp"], seed: 3 });
const clock = k.clock as VirtualClock;
const A = k.createVnet("A");
const B = k.createVnet("B");
const R = k.createVnet("R");
const [ea, eb] = k.epair(A, B);
for (const e of [ea, eb]) e.setUp();
addAddress(k, ea, "10.0.0.1/24");
addAddress(k, eb, "10.0.0.2/24");
addAddress6(k, ea, "fd00::1/64");
addAddress6(k, eb, "fd00::2/64");
// R: a router behind B for ICMP errors (time exceeded, unreachable) and a smaller MTU.
const [rb, rr] = k.epair(B, R);
for (const e of [rb, rr]) e.setUp();
rr.setMtu(1280);
rb.setMtu(1280);
addAddress(k, rb, "10.0.9.2/24");
addAddress(k, rr, "10.0.9.1/24");
addAddress6(k, rb, "fd00:9::2/64");
addAddress6(k, rr, "fd00:9::1/64");
addRoute(k, A, "10.0.9.0/24", { gateway: "10.0.0.2" });
addRoute6(k, A, "fd00:9::/64", { gateway: "fd00::2" });
setForwarding(k, B, true);
setForwarding6(k, B, true);

const capA = ea.capture({ pcap: join(dir, "link-a.pcap") });
const capR = rb.capture({ pcap: join(dir, "link-r.pcap") });
const run = () => clock.runUntilIdle(5_000_000);
run();

// UDP both families, with a big datagram (fragments) and one to a closed port (ICMP errors).
for (const [fam, dst] of [["inet", "10.0.0.2"], ["inet6", "fd00::2"]] as const) {
  const srv = socket(k, B, fam, "dgram").bind(fam === "inet" ? "0.0.0.0" : "::", 53);
  const cli = socket(k, A, fam, "dgram");
  cli.sendto(new Uint8Array(64).fill(1), dst, 53);
  cli.sendto(new Uint8Array(3000).fill(2), dst, 53);
  cli.sendto(new Uint8Array(16).fill(3), dst, 9999);
  cli.sendto(new Uint8Array(1400).fill(4), fam === "inet" ? "10.0.9.1" : "fd00:9::1", 9); // through the router: too big / unreachable
  run();
  while (srv.recv() !== null);
  srv.close();
  cli.close();
}

// TCP both families: handshake with options, data both ways (SACK after a loss), close; and a RST.
for (const [fam, dst] of [["inet", "10.0.0.2"], ["inet6", "fd00::2"]] as const) {
  const lsn = socket(k, B, fam, "stream").bind(fam === "inet" ? "0.0.0.0" : "::", 80).listen(4);
  const cli = socket(k, A, fam, "stream");
  cli.connect(dst, 80);
  run();
  const srv = lsn.accept()!;
  cli.send(new Uint8Array(20000).fill(5));
  ea.setConditions({ loss: 0.2 });
  srv.send(new Uint8Array(8000).fill(6));
  for (let i = 0; i < 50; i++) {
    clock.advance(50_000);
    while (srv.recv() !== null);
    while (cli.recv() !== null);
  }
  ea.clearConditions();
  run();
  cli.close();
  run();
  srv.close();
  run();
  const c2 = socket(k, A, fam, "stream");
  try {
    c2.connect(dst, 81); // refused: a RST
    run();
  } catch {
    // ECONNREFUSED, as expected: the RST is in the capture
  }
  c2.close();
  lsn.close();
}
clock.runUntilIdle(300_000_000);
await capA.stop();
await capR.stop();
process.stdout.write(`fuzz corpus: ${capA.frames} frames on link A-B, ${capR.frames} on link B-R, in ${dir}\n`);
k.shutdown();
