// One kernel of the firewall group's forwarding bench, measured alone, for a profiler or
// for an A/B of two builds:
//   node --import tsx [--cpu-prof] bench/drivers/fw_walk.ts stateful 7
// runs the "stateful" kernel (or none, empty, rules) through its warm-up and then that many
// measured runs of the group's size, printing packets per second of wall time and of this
// process's CPU time: on a loaded machine the wall clock also counts the time other
// processes had the core, the CPU clock far less of it.
import { chain, type What } from "../groups/firewall.js";

const what = (process.argv[2] ?? "stateful") as What;
const runs = Number(process.argv[3] ?? 7);
const c = await chain({ log: (s) => process.stderr.write(s + "\n") }, what);
c.warm();
const wall: number[] = [];
const cpu: number[] = [];
for (let i = 0; i < runs; i++) {
  const u0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const r = c.measure();
  const ns = Number(process.hrtime.bigint() - t0);
  const u = process.cpuUsage(u0);
  wall.push(r);
  cpu.push((r * ns) / ((u.user + u.system) * 1000));
}
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const fmt = (xs: number[]) => xs.map((x) => (x / 1e6).toFixed(2)).join(" ");
process.stdout.write(`${what}: Mpps wall ${fmt(wall)} (median ${(med(wall) / 1e6).toFixed(2)}); cpu ${fmt(cpu)} (median ${(med(cpu) / 1e6).toFixed(2)})\n`);
c.k.shutdown();
