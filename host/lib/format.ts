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

/**
 * A value as an error message shows it: numbers as JavaScript prints them (NaN, Infinity, -1,
 * 1e+21; JSON.stringify would say null for NaN), strings quoted, objects by their class.
 */
export function show(v: unknown): string {
  switch (typeof v) {
    case "number":
      return Object.is(v, -0) ? "-0" : String(v);
    case "bigint":
      return `${v}n`;
    case "string":
      return JSON.stringify(v.length > 80 ? `${v.slice(0, 77)}...` : v);
    case "undefined":
    case "boolean":
    case "symbol":
      return String(v);
    case "function":
      return `a function${v.name ? ` (${v.name})` : ""}`;
  }
  if (v === null) return "null";
  const name = (v as object).constructor?.name;
  if (!Array.isArray(v) && name && name !== "Object") return `a ${name}`;
  try {
    const s = JSON.stringify(v);
    if (s.length <= 80) return s;
  } catch {
    // cyclic
  }
  return Array.isArray(v) ? `an array of ${v.length}` : "an object";
}
