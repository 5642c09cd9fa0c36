// Link conditions in the `link` command's words, for labels (host/admin/epair.ts's
// formatConditions, without the kernel modules that file brings along).
import type { LinkConditions } from "../../host/web/protocol.js";
import { formatDuration, formatPct, formatRate } from "../../host/lib/units.js";

export function formatConditions(c: LinkConditions): string {
  const parts: string[] = [];
  if (c.delayUs) parts.push(`delay ${formatDuration(c.delayUs)}`);
  if (c.jitterUs) parts.push(`jitter ${formatDuration(c.jitterUs)}`);
  if (c.loss) parts.push(`loss ${formatPct(c.loss)}`);
  if (c.duplicate) parts.push(`duplicate ${formatPct(c.duplicate)}`);
  if (c.reorder) parts.push(`reorder ${formatPct(c.reorder)}`);
  if (c.rateBps) parts.push(`rate ${formatRate(c.rateBps)}`);
  return parts.join(" ");
}
