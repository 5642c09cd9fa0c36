// npm start: boot a kernel, fill it with vnets, load a module into all of them while they
// run, let virtual time pass, tear everything down and show that nothing is left.
import { Kernel, VirtualClock } from "../host/index.js";

const N = 1000;
const fmtBytes = (b: number) => (b >= 1 << 20 ? `${(b / (1 << 20)).toFixed(1)} MiB` : `${(b / 1024).toFixed(1)} KiB`);
const ms = (t0: number) => `${(performance.now() - t0).toFixed(1)} ms`;

const t0 = performance.now();
const k = await Kernel.boot({ config: "BARE", clock: "virtual", seed: 42 });
const clock = k.clock as VirtualClock;
console.log(`wavnet: kernel booted in ${ms(t0)} (config BARE, virtual clock, seed 42)`);
const base = k.accounting();
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

console.log(`vmstat -z for node0:\n${k.formatVmstatZ(vnets[0])}\n`);
console.log(`kldstat:\n${k.kldstat().map((m) => `  ${m.id}  ${m.name}  sysinits ${m.sysinits}  window 0x${m.memoryBase.toString(16)}+${m.memorySize}`).join("\n")}\n`);

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
const leftover = k.vmstatZ().filter((z) => z.used > 0 && z.name !== "vnet" && z.name !== "zones");
console.log(`  zones with items out besides vnet0's own: ${leftover.length === 0 ? "none" : leftover.map((z) => `${z.name}=${z.used}`).join(", ")}`);
if (end.pagesInUse !== base.pagesInUse || end.vnets !== 1) {
  console.error("LEAK: the kernel did not return to its boot state");
  process.exit(1);
}
k.shutdown();
console.log(`\ndone in ${ms(t0)}`);
