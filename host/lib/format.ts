/** A plain text table: a header row and right-aligned numbers, like BSD tools print. */
export function formatTable(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map((c) => (typeof c === "number" ? fmtNum(c) : c)))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => String(r[i] ?? "").length)));
  return cells
    .map((r, ri) => r.map((c, i) => {
      const s = String(c ?? "");
      const numeric = ri > 0 && typeof rows[ri - 1][i] === "number";
      return numeric ? s.padStart(widths[i]) : s.padEnd(widths[i]);
    }).join("  ").trimEnd())
    .join("\n");
}

function fmtNum(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(2);
}
