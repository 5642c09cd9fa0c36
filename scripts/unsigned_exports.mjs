// An AssemblyScript transform (scripts/build.mjs passes it to every compile): it writes a
// custom section "wavnet.unsigned" into the .wasm naming each exported function whose result
// is unsigned 32-bit in the source (u32, usize, a class reference: an address). Wasm has no
// unsigned i32, so JavaScript receives every i32 result signed, and an address at or above
// 2 GiB arrives negative; the host reads this section and takes those results `>>> 0`
// (host/kern/abi.ts unsignedView). The compiler's types are the list, so it cannot go stale.
import { Transform } from "assemblyscript/transform";

export const SECTION = "wavnet.unsigned";

export default class UnsignedExports extends Transform {
  afterCompile(module) {
    const binaryen = this.binaryen;
    const names = [];
    for (let i = 0, n = module.getNumExports(); i < n; i++) {
      const info = binaryen.getExportInfo(module.getExportByIndex(i));
      if (info.kind !== binaryen.ExternalFunction) continue;
      const fn = this.program.instancesByName.get(info.value);
      const t = fn?.signature?.returnType;
      if (!t) continue;
      const u32 = t.isUnsignedIntegerValue && !t.isShortIntegerValue && !t.isLongIntegerValue && t.size === 32;
      if (u32 || (t.isReference && t.size === 32)) names.push(info.name);
    }
    module.addCustomSection(SECTION, new TextEncoder().encode(names.sort().join("\n")));
  }
}
