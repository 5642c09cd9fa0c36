// The link map (assembly/linkmap.json): every module's memory and table window, its
// dependencies, and the named kernel configurations. The host takes it as data
// (linkmap_data.ts, written by the build from the JSON), so no file is read at run time.
import { ConfigError } from "../lib/errors.js";
import linkmapData from "./linkmap_data.js";

export interface ModuleEntry {
  source: string;
  memoryBase: number;
  memorySize: number;
  tableBase: number;
  tableSlots: number;
  depends: string[];
  description?: string;
}

export interface LinkMap {
  $comment?: string;
  kernel: { source: string; memoryBase: number; staticLimit: number; tableBase: number; tableSlots: number };
  initialPages: number;
  tableSlots: number;
  modules: Record<string, ModuleEntry>;
  configs: Record<string, string[]>;
}

let checked = false;

export function loadLinkMap(): LinkMap {
  if (!checked) {
    checkLinkMap(linkmapData, "assembly/linkmap.json");
    checked = true;
  }
  return linkmapData;
}

/** Windows must not overlap and must sit between the kernel's static limit and kmem. */
export function checkLinkMap(map: LinkMap, file: string): void {
  const spans: [string, number, number, number, number][] = [];
  const memEnd = map.initialPages * 65536;
  for (const [name, m] of Object.entries(map.modules)) {
    if (m.memoryBase < map.kernel.staticLimit || m.memoryBase + m.memorySize > memEnd) {
      throw new ConfigError(`${file}: module ${name}: memory window [${m.memoryBase}, ${m.memoryBase + m.memorySize}) is outside [${map.kernel.staticLimit}, ${memEnd})`);
    }
    if (m.tableBase < map.kernel.tableBase + map.kernel.tableSlots || m.tableBase + m.tableSlots > map.tableSlots) {
      throw new ConfigError(`${file}: module ${name}: table window [${m.tableBase}, ${m.tableBase + m.tableSlots}) is outside the module range`);
    }
    for (const d of m.depends) if (!map.modules[d]) throw new ConfigError(`${file}: module ${name} depends on unknown module ${d}`);
    spans.push([name, m.memoryBase, m.memoryBase + m.memorySize, m.tableBase, m.tableBase + m.tableSlots]);
  }
  for (let i = 0; i < spans.length; i++) {
    for (let j = i + 1; j < spans.length; j++) {
      const [a, am0, am1, at0, at1] = spans[i];
      const [b, bm0, bm1, bt0, bt1] = spans[j];
      if (am0 < bm1 && bm0 < am1) throw new ConfigError(`${file}: memory windows of ${a} and ${b} overlap`);
      if (at0 < bt1 && bt0 < at1) throw new ConfigError(`${file}: table windows of ${a} and ${b} overlap`);
    }
  }
  for (const [c, list] of Object.entries(map.configs)) {
    for (const name of list) if (!map.modules[name]) throw new ConfigError(`${file}: configuration ${c} names unknown module ${name}`);
  }
}
