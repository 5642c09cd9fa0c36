// Interface names in rule text: a topology calls its interfaces eth0, the kernel epair3a.
// Rules from a topology file or typed at a node may use either; the kernel matches its own.

import { tokenize } from "./parse.js";

/**
 * The rule text with the topology's interface names after via/recv/xmit replaced by the
 * kernel's (a trailing * kept); any other word is left as written.
 */
export function kernelIfnames(text: string, rename: (name: string) => string | undefined): string {
  let out = "";
  let at = 0;
  const toks = tokenize(text);
  for (let i = 1; i < toks.length; i++) {
    if (!/^(via|recv|xmit)$/.test(toks[i - 1]!.text)) continue;
    const t = toks[i]!;
    const star = t.text.endsWith("*") ? "*" : "";
    const k = rename(star ? t.text.slice(0, -1) : t.text);
    if (k === undefined) continue;
    out += text.slice(at, t.col - 1) + k + star;
    at = t.col - 1 + t.text.length;
  }
  return out + text.slice(at);
}
