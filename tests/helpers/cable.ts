// Two kernels joined by a cable: a tap interface in a vnet of each, whose wires hand every
// frame to the other's port (copied: the ring it was drained from is reused). A module
// unloaded from one kernel is still loaded in the other, so the far side of a connection
// keeps running and can be asked what it saw (docs/modules.md, "Who sees the RST").
import { Kernel, TapInterface, createTap, type Vnet, type VirtualClock } from "../../host/index.js";

export function tapCable(ka: Kernel, va: Vnet, kb: Kernel, vb: Vnet): [TapInterface, TapInterface] {
  const ta = createTap(ka, va, { name: "cable0" }, (p) => new TapInterface(ka, p));
  const tb = createTap(kb, vb, { name: "cable0" }, (p) => new TapInterface(kb, p));
  ta.port.wire = { send: (f) => (tb.port.input(f.slice()), true) };
  tb.port.wire = { send: (f) => (ta.port.input(f.slice()), true) };
  for (const t of [ta, tb]) {
    t.setUp();
    t.port.setCarrier(true);
  }
  return [ta, tb];
}

/** Let frames cross (microtasks, then an event-loop turn) and both clocks move by up to stepUs, `rounds` times. */
export async function settle(kernels: Kernel[], rounds = 10, stepUs = 10_000): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    await new Promise((r) => setImmediate(r));
    for (const k of kernels) {
      const c = k.clock as VirtualClock;
      const next = k.k.callout_next();
      c.advance(next < 0 ? stepUs : Math.max(1, Math.min(stepUs, next - c.now())));
    }
  }
  await new Promise((r) => setImmediate(r));
}
