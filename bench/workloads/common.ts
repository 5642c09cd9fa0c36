// What the shared workloads (bench/workloads/) need and Node's bench/lib.ts would give them,
// without any Node built-in: these files run in Node's bench groups and, bundled, in a Web
// Worker of headless Chromium (bench/browser/), so both measure the very same loop.

/** A monotonic clock in nanoseconds (Node: process.hrtime; a browser: performance.now). */
export type NowNs = () => number;

/** performance.now in ns: everywhere, at the platform's resolution (5 µs in an isolated Chromium page). */
export const perfNowNs: NowNs = () => performance.now() * 1e6;

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length & 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Round for display: 3 significant digits, at most 3 decimals (bench/lib.ts round). */
export function round(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const digits = Math.max(0, Math.min(3, 2 - Math.floor(Math.log10(Math.abs(x)))));
  return Number(x.toFixed(digits));
}
