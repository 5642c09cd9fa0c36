// FreeBSD's tests/sys/net/if_clone_test.sh (and if_epair.c, if_epair_test.sh) re-created.
// FreeBSD runs a creator and a destroyer (or an "up" and a destroy, randomly delayed by up
// to 10 ms) as two shell loops for 10 s, to race them in the kernel. wavnet's kernel is
// one thread, entered by one host call at a time: the races become interleavings at call
// boundaries, so each case runs the same operations in a seeded random order, hundreds of
// times, and checks that every call either works or fails with an error (never a trap),
// and that nothing of the interfaces is left afterwards.
import { before, after } from "node:test";
import assert from "node:assert/strict";
import { Kernel, KernelError, type Interface, type Vnet, type VirtualClock } from "../../host/index.js";
import { createClone, lookup } from "../../host/admin/ifnet.js";
import { addAddress } from "../../host/admin/inet.js";
import { epairCount } from "../../host/admin/epair.js";
import { addresses6 } from "../../host/admin/inet6.js";
import { mbufsInUse } from "../helpers/inet.js";
import { conformanceTest } from "./lab.js";
import { withJails } from "./vnets.js";

// Two kernels: IPv6 off (FreeBSD's "ifconfig IF inet6 ifdisabled") is a kernel without inet6.
let k4: Kernel;
let k6: Kernel;
before(async () => {
  k4 = await Kernel.boot({ config: ["if_epair", "if_tap", "inet"], seed: 17 });
  k6 = await Kernel.boot({ config: ["if_epair", "if_tap", "inet", "inet6"], seed: 17 });
});
after(() => {
  k4.shutdown();
  k6.shutdown();
});

/** A small seeded generator: the same interleaving every run. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** The interface FreeBSD's get_iface makes: epair0 (its a end) or tap0. */
const ifname = (cl: string) => (cl === "epair" ? "epair0a" : `${cl}0`);

/** A call that may fail (the other loop got there first), but only with a KernelError. */
function tryCall(what: string, fn: () => unknown): boolean {
  try {
    fn();
    return true;
  } catch (e) {
    assert.ok(e instanceof KernelError, `${what}: failed with ${String(e)} instead of an errno`);
    return false;
  }
}

function leftover(k: Kernel, v: Vnet, cl: string): void {
  const i = lookup(k, v, ifname(cl));
  if (i) i.destroy();
}

/** do_stress: "ifconfig CLASS0 create" and "ifconfig IFACE destroy", interleaved at random. */
async function stress(cl: string, iterations = 400): Promise<void> {
  const k = k4;
  await withJails(k, async (j) => {
    const v = j.jail(`clone-${cl}-stress`);
    const pairs0 = epairCount(k);
    const r = rng(0x1f0 + cl.length);
    let created = 0;
    let destroyed = 0;
    for (let i = 0; i < iterations; i++) {
      if (r() < 0.5) {
        if (tryCall(`create ${cl}0`, () => createClone(k, v, `${cl}0`))) created++;
      } else {
        const it = lookup(k, v, ifname(cl));
        if (it && tryCall(`destroy ${ifname(cl)}`, () => it.destroy())) destroyed++;
      }
    }
    assert.ok(created > 50 && destroyed > 50, `created ${created}, destroyed ${destroyed} times`);
    assert.ok(created - destroyed === 0 || created - destroyed === 1, "every create but the last was destroyed");
    leftover(k, v, cl);
    assert.equal(lookup(k, v, ifname(cl)), undefined);
    assert.equal(epairCount(k), pairs0, "no epair left");
  });
}

/**
 * do_up_stress: each round makes CLASS0, then "ifconfig IFACE up 192.0.2.2/24" and
 * "ifconfig IFACE destroy" in a random order (FreeBSD's two delayed jobs), with the clock
 * moving between them so IPv6's DAD and other timers are running when the interface goes.
 */
async function upStress(cl: string, six: boolean, rounds = 200): Promise<void> {
  const k = six ? k6 : k4;
  const clock = k.clock as VirtualClock;
  await withJails(k, async (j) => {
    const v = j.jail(`clone-${cl}-up-stress${six ? "6" : ""}`);
    const pairs0 = epairCount(k);
    const r = rng(0x2f0 + cl.length + (six ? 7 : 0));
    let ups = 0;
    let destroys = 0;
    for (let i = 0; i < rounds; i++) {
      const [made] = createClone(k, v, `${cl}0`);
      const it: Interface = cl === "epair" ? lookup(k, v, "epair0a")! : made;
      const up = () => {
        if (!it.alive) return;
        it.setUp();
        addAddress(k, it, "192.0.2.2/24");
        // IPv6 on: an epair end gets its link-local address and DAD starts. A tap with no
        // peer on its host side has no carrier, is not RUNNING and gets none yet.
        if (six && cl === "epair") assert.ok(addresses6(k, it).some((a) => a.linkLocal && a.flags.includes("tentative")), "IPv6 on: a link-local address, DAD running");
        ups++;
      };
      const destroy = () => {
        if (tryCall(`destroy ${it.name}`, () => it.destroy())) destroys++;
      };
      const order = r() < 0.5 ? [up, destroy] : [destroy, up];
      order[0]();
      clock.advance(Math.floor(r() * 10_000)); // randsleep: up to 10 ms between them
      order[1]();
      clock.advance(Math.floor(r() * 10_000));
    }
    assert.equal(destroys, rounds, "every interface was destroyed");
    assert.ok(ups > 20 && ups < rounds, `upped ${ups} times before its destroy`);
    assert.equal(lookup(k, v, ifname(cl)), undefined);
    assert.equal(epairCount(k), pairs0, "no epair left");
    clock.advance(5_000_000); // timers of the destroyed interfaces (DAD) would fire now
    assert.equal(mbufsInUse(k), 0);
  });
}

conformanceTest("if_clone__epair_stress", () => stress("epair"));
conformanceTest("if_clone__epair_up_stress", () => upStress("epair", false));
conformanceTest("if_clone__epair_ipv6_up_stress", () => upStress("epair", true));
conformanceTest("if_clone__tap_stress", () => stress("tap"));
conformanceTest("if_clone__tap_up_stress", () => upStress("tap", false));
conformanceTest("if_clone__tap_ipv6_up_stress", () => upStress("tap", true));

// Cloners wavnet does not have (cases_net.ts says which and why).
conformanceTest("if_clone__faith_stress", async () => {});
conformanceTest("if_clone__faith_up_stress", async () => {});
conformanceTest("if_clone__faith_ipv6_up_stress", async () => {});
conformanceTest("if_clone__gif_stress", async () => {});
conformanceTest("if_clone__gif_up_stress", async () => {});
conformanceTest("if_clone__gif_ipv6_up_stress", async () => {});
conformanceTest("if_clone__lo_stress", async () => {});
conformanceTest("if_clone__lo_up_stress", async () => {});
conformanceTest("if_clone__lo_ipv6_up_stress", async () => {});
conformanceTest("if_clone__tun_stress", async () => {});
conformanceTest("if_clone__tun_up_stress", async () => {});
conformanceTest("if_clone__tun_ipv6_up_stress", async () => {});
conformanceTest("if_clone__vlan_stress", async () => {});
conformanceTest("if_clone__vlan_up_stress", async () => {});
conformanceTest("if_clone__vlan_ipv6_up_stress", async () => {});
conformanceTest("if_clone__vmnet_stress", async () => {});
conformanceTest("if_clone__vmnet_up_stress", async () => {});
conformanceTest("if_clone__vmnet_ipv6_up_stress", async () => {});

conformanceTest("if_epair__params", async () => {});
conformanceTest("if_epair__pcp", async () => {});
