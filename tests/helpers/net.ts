// Helpers for the net tests (tests/net.test.ts, tests/net_http.test.ts).
import type { Kernel } from "../../host/index.js";
import type { VirtualClock } from "../../host/kern/clock.js";

/**
 * Virtual time moves while the host is idle (delayed ACKs, retransmissions, TIME_WAIT): from
 * deadline to deadline, one per turn of the event loop, so host code runs in between.
 */
export function idleClock(k: Kernel): () => void {
  if (k.clock.kind !== "virtual") return () => {};
  const clock = k.clock as VirtualClock;
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | ReturnType<typeof setImmediate> | undefined;
  const tick = () => {
    if (stopped) return;
    const next = k.k.callout_next();
    if (next >= 0) {
      clock.advanceTo(Math.max(next, clock.now()));
      timer = setImmediate(tick);
    } else {
      timer = setTimeout(tick, 1);
    }
  };
  tick();
  return () => {
    stopped = true;
    clearTimeout(timer as ReturnType<typeof setTimeout>);
    clearImmediate(timer as ReturnType<typeof setImmediate>);
  };
}
