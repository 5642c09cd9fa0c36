// Each vnet draws its random numbers from its own stream, derived from the kernel seed and
// the vnet's id (issue 14, item 7): a seeded vnet repeats exactly whatever its neighbours do.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Kernel, socket, addAddress, ping, type Interface, type Socket, type VirtualClock } from "../host/index.js";

/**
 * One kernel: O - P on one epair (10.0.0.0/24), N - M on another (10.0.1.0/24), created in
 * that order. If busy, N opens TCP connections and sends UDP datagrams to M before and
 * between O's own actions. Returns what O drew: its ports, and every frame on its wire.
 */
async function run(seed: number, busy: boolean) {
  const k = await Kernel.boot({ config: ["if_epair", "inet", "udp", "tcp"], seed });
  const clk = k.clock as VirtualClock;
  const [O, P, N, M] = ["O", "P", "N", "M"].map((n) => k.createVnet(n));
  const link = (a: typeof O, b: typeof O, net: number): Interface => {
    const [ea, eb] = k.epair(a, b);
    ea.setUp();
    eb.setUp();
    addAddress(k, ea, `10.0.${net}.1/24`);
    addAddress(k, eb, `10.0.${net}.2/24`);
    return ea;
  };
  const eo = link(O, P, 0);
  link(N, M, 1);
  const frames: string[] = [];
  const cap = eo.capture();
  const reading = (async () => {
    for await (const f of cap) frames.push(`${f.kernelTsUs} ${f.dir} ${Buffer.from(f.data).toString("hex")}`);
  })();
  const lsnP = socket(k, P, "inet", "stream").bind("0.0.0.0", 80).listen(16);
  const lsnM = socket(k, M, "inet", "stream").bind("0.0.0.0", 80).listen(16);
  const udpM = socket(k, M, "inet", "dgram").bind("0.0.0.0", 53);
  const held: Socket[] = [];
  const neighbour = () => {
    if (!busy) return;
    for (let i = 0; i < 5; i++) {
      const c = socket(k, N, "inet", "stream");
      c.connect("10.0.1.2", 80);
      c.send("busy");
      held.push(c);
      const u = socket(k, N, "inet", "dgram");
      u.sendto("busy", "10.0.1.2", 53);
      held.push(u);
    }
  };
  const ports: number[] = [];
  neighbour();
  clk.advance(10_000);
  const tcp = socket(k, O, "inet", "stream");
  tcp.connect("10.0.0.2", 80);
  clk.advance(10_000);
  neighbour();
  tcp.send("observed");
  clk.advance(10_000);
  neighbour();
  const udp = socket(k, O, "inet", "dgram");
  udp.sendto("observed", "10.0.0.2", 9);
  ports.push((tcp.address() as { port: number }).port, (udp.address() as { port: number }).port);
  clk.advance(10_000);
  neighbour();
  await ping(k, O, "10.0.0.2", { count: 3, intervalMs: 0 });
  clk.advance(10_000);
  await cap.stop();
  await reading;
  for (const s of [tcp, udp, lsnP, lsnM, udpM, ...held]) s.close();
  k.shutdown();
  return { ports, frames: frames.length, digest: createHash("sha256").update(frames.join("\n")).digest("hex"), syn: frames.find((f) => / out /.test(f)) };
}

test("a vnet's ISNs, ephemeral ports and IP IDs are the same with a busy or a quiet neighbour (same seed)", async () => {
  const quiet = await run(7, false);
  const busy = await run(7, true);
  assert.ok(quiet.frames >= 10, `${quiet.frames} frames on O's wire`);
  assert.deepEqual(busy.ports, quiet.ports, "O's ephemeral TCP and UDP ports");
  assert.equal(busy.syn, quiet.syn, "O's SYN: ISN, IP ID, timestamp");
  assert.equal(busy.digest, quiet.digest, "every frame on O's wire, byte for byte and time for time");
  // And the observation can tell: another seed draws other numbers.
  const other = await run(8, false);
  assert.notDeepEqual(other.ports, quiet.ports);
  assert.notEqual(other.digest, quiet.digest);
});

test("vnets of one kernel draw different streams: new vnets doing the same pick different ports; a vnet's draws repeat with the seed", async () => {
  const draw = async (seed: number) => {
    const k = await Kernel.boot({ config: ["if_epair", "inet", "udp", "tcp"], seed });
    const vs = ["X", "Y", "Z"].map((n) => k.createVnet(n));
    const ports = vs.map((v) => {
      const s = socket(k, v, "inet", "dgram").bind("127.0.0.1", 0);
      const p = (s.address() as { port: number }).port;
      s.close();
      return p;
    });
    k.shutdown();
    return ports;
  };
  const a = await draw(3);
  assert.equal(new Set(a).size, 3, `ports ${a.join(", ")}: one stream per vnet`);
  assert.deepEqual(await draw(3), a, "the same seed and ids, the same draws");
});
