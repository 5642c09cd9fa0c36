// npm start: boot a kernel, fill it with vnets, load a module into all of them while they
// run, let virtual time pass, tear everything down and show that nothing is left. Then run
// the shipped example topology (examples/demo.yaml) exactly as `wavnet run` does.
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { Kernel, VirtualClock, PcapngSink, bridgeAdd, bridgeAddrText, parseMac } from "../host/index.js";
import { run } from "../host/cli/run.js";
import { processIo } from "../host/cli/session.js";

const N = 1000;
const fmtBytes = (b: number) => (b >= 1 << 20 ? `${(b / (1 << 20)).toFixed(1)} MiB` : `${(b / 1024).toFixed(1)} KiB`);
const ms = (t0: number) => `${(performance.now() - t0).toFixed(1)} ms`;

const t0 = performance.now();
const k = await Kernel.boot({ config: "GENERIC", clock: "virtual", seed: 42 });
const clock = k.clock as VirtualClock;
console.log(`wavnet: kernel booted in ${ms(t0)} (config GENERIC: ${k.kldstat().map((m) => m.name).join(", ")}; virtual clock, seed 42)`);
const base = k.accounting();
const usedAtBoot = new Map(k.vmstatZ().map((z) => [z.name, z.used]));
console.log(`  kmem pages in use ${base.pagesInUse}, VNET section ${base.vnetSectionBytes} bytes, vnet0 only\n`);

let t = performance.now();
const vnets = Array.from({ length: N }, (_, i) => k.createVnet(`node${i}`));
console.log(`created ${N} vnets in ${ms(t)}`);
const one = vnets[0].accounting();
const a1 = k.accounting();
console.log(`  an idle vnet owns ${one.pages} pages, ${one.bytes} bytes; the kernel now uses ${fmtBytes(a1.pagesInUse * 4096)} of kmem pages\n`);

t = performance.now();
await k.kldload("vnet_demo");
console.log(`kldload vnet_demo into ${N + 1} live vnets in ${ms(t)}: its VNET_SYSINIT ran in each`);
const demo = k.module<{ demo_ticks(v: number): number; demo_answer(v: number): number }>("vnet_demo");
t = performance.now();
const fired = clock.advance(10_000_000);
console.log(`  10 s of virtual time in ${ms(t)}: ${fired} callouts fired; node0 ticked ${demo.demo_ticks(vnets[0].ptr)} times, node${N - 1} ${demo.demo_ticks(vnets[N - 1].ptr)}`);
console.log(`  node7's demo_answer is ${demo.demo_answer(vnets[7].ptr)} (the module's initial value, copied into every vnet)\n`);

// A small network among them: node0 is a switch (bridge0), node1-3 hang off it over epairs;
// node1's link has 5 ms delay and 1% loss. node2 captures what it receives.
const sw = vnets[0];
const [br] = sw.ifcreate("bridge");
br.setUp();
const hosts = [vnets[1], vnets[2], vnets[3]].map((h) => {
  const [he, se] = k.epair(h, sw);
  he.setUp();
  se.setUp();
  bridgeAdd(k, br, se);
  return he;
});
hosts[0].setConditions({ delayUs: 5000, loss: 0.01 });
const file = join(tmpdir(), "wavnet-demo.pcapng");
const sink = new PcapngSink(file);
const cap = hosts[1].capture({ pcapng: sink });
const frame = (dst: string, src: string, i: number) => {
  const f = new Uint8Array(64);
  f.set(parseMac(dst), 0);
  f.set(parseMac(src), 6);
  f.set([0x88, 0xb5, i >> 8, i & 0xff], 12);
  return f;
};
t = performance.now();
hosts[1].send(frame("ff:ff:ff:ff:ff:ff", hosts[1].mac, 0)); // node2 announces itself
for (let i = 1; i <= 1000; i++) hosts[0].send(frame(hosts[1].mac, hosts[0].mac, i));
clock.advance(10_000);
await cap.stop();
await sink.close();
const ls = hosts[0].linkStats();
console.log(`node1 -> switch -> node2: 1000 frames in ${ms(t)}; the link lost ${ls.lost}, delivered ${ls.delivered} 5 ms later;`);
console.log(`  node2 received ${hosts[1].counters().ipackets}, node3 ${hosts[2].counters().ipackets} (only the first, flooded before the switch learned node2)`);
console.log(`  node2's capture: ${cap.frames} frames in ${file}`);
console.log(`bridge0 address table (ifconfig bridge0 addr):\n${bridgeAddrText(k, br)}\n`);

console.log(`vmstat -z for node0:\n${k.formatVmstatZ(vnets[0])}\n`);
console.log(`kldstat:\n${k.kldstat().map((m) => `  ${m.id}  ${m.name}  sysinits ${m.sysinits}  window 0x${m.memoryBase.toString(16)}+${m.memorySize}`).join("\n")}\n`);

// The epairs were made in vnet0 (Kernel.epair), so they outlive the vnets their ends are
// in (those ends go home to vnet0): destroy them, as ifconfig epairNa destroy would.
for (const h of hosts) h.destroy();

t = performance.now();
k.kldunload("vnet_demo");
console.log(`kldunload vnet_demo in ${ms(t)}: uninit ran in every vnet, no leaks`);
t = performance.now();
for (const v of vnets.reverse()) v.destroy();
console.log(`destroyed ${N} vnets in ${ms(t)}`);
const cached = k.reclaim();
console.log(`  zones gave back ${cached} cached empty slab pages (uma_reclaim)`);
const end = k.accounting();
console.log(`  kmem pages in use ${end.pagesInUse} (at boot ${base.pagesInUse}), vnets ${end.vnets}, pending callouts ${k.k.callout_pending_count()}`);
const leftover = k.vmstatZ().filter((z) => z.used !== (usedAtBoot.get(z.name) ?? 0));
console.log(`  zones whose items in use differ from boot (vnet0 and the kernel only): ${leftover.length === 0 ? "none" : leftover.map((z) => `${z.name}=${z.used}`).join(", ")}`);
if (end.pagesInUse !== base.pagesInUse || end.vnets !== 1 || leftover.length > 0) {
  console.error("LEAK: the kernel did not return to its boot state");
  process.exit(1);
}
k.shutdown();
console.log(`\nkernel demo done in ${ms(t0)}`);

// The example topology, through the same code as `wavnet run examples/demo.yaml --virtual-time`:
// load and check the file, bring it up in a kernel of its own, run its steps, print the
// result table and the teardown accounting.
const topo = relative(process.cwd(), fileURLToPath(new URL("../examples/demo.yaml", import.meta.url)));
console.log(`\n$ wavnet run ${topo} --virtual-time`);
const code = await run(topo, { clock: "virtual" }, processIo());
console.log(`\ndone in ${ms(t0)}`);
process.exitCode = code;
