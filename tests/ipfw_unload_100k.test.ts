// ipfw's teardown at full size (issue 13): kldunload with force while UDP flows cross a router
// vnet holding 100,000 keep-state states, and vnet destroy with 100,000 states. The flows are
// made in Wasm by bench_ipv4's generator (bench_send_flows; one host call per batch), so the
// 100,000 states take well under a second; B's sink is bench_ipv4's UDP handler.
//
// Chain A - R - B (bench/groups/firewall.ts's): R forwards; its firewall is default deny with
// `check-state`, `deny udp dst-port 9` and `allow udp 10.0.1.0/24 -> 10.0.2.0/24 keep-state`.
// bench_send_flows' frames go to ports 2000+ (each flow its own state); bench_send's go to
// port 9 and are denied while ipfw is there, so they tell whether a hook is left.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { Kernel, addAddress, addRoute, setForwarding, ping, type Vnet, type Interface } from "../host/index.js";
import { ipfwAdd, ipfwSet, ipfwSetDefault, ipfwGauges } from "../host/admin/ipfw.js";
import { M, A_, rule, clock } from "./helpers/ipfw.js";

interface BenchIpv4 {
  bench_send(ifp: number, nhIfp: number, src: number, dst: number, n: number): number;
  bench_send_flows(ifp: number, nhIfp: number, src: number, dst: number, n: number, flows: number, first: number): number;
  bench_received(): number;
}

const FLOWS = 100_000;
const SRC = 0x0a000101; // 10.0.1.1
const DST = 0x0a000201; // 10.0.2.1

function link(k: Kernel, a: Vnet, b: Vnet): [Interface, Interface] {
  const [x, y] = k.epair(a, b);
  x.setUp();
  y.setUp();
  return [x, y];
}

/** A kernel with bench_ipv4 in place of udp, ipfw not loaded yet. */
async function boot(): Promise<Kernel> {
  const k = await Kernel.boot({ config: "GENERIC", clock: "virtual" });
  k.kldunload("udp");
  await k.kldload("bench_ipv4");
  return k;
}

/** A - R - B in k (names end in tag); with ipfw loaded, each vnet's firewall accepts by default. */
async function chain(k: Kernel, tag = "", fw = false) {
  const [a, r, b] = ["a", "r", "b"].map((n) => k.createVnet(n + tag)) as [Vnet, Vnet, Vnet];
  if (fw) for (const v of [a, r, b]) ipfwSetDefault(k, v, true);
  const [a0, r0] = link(k, a, r);
  const [r1, b0] = link(k, r, b);
  addAddress(k, a0, "10.0.1.1/24");
  addAddress(k, r0, "10.0.1.254/24");
  addAddress(k, r1, "10.0.2.254/24");
  addAddress(k, b0, "10.0.2.1/24");
  addRoute(k, a, "default", { gateway: "10.0.1.254" });
  addRoute(k, b, "default", { gateway: "10.0.2.254" });
  setForwarding(k, r, true);
  assert.equal((await ping(k, a, "10.0.2.1", { count: 1, intervalMs: 1 })).received, 1, "ping through R");
  const bi = k.module<BenchIpv4>("bench_ipv4");
  let flow = 0;
  return {
    k, a, r, b, a0, r0, bi,
    /** n frames of the next n flows (cycling over FLOWS); how many reached B. */
    flows(n: number): number {
      const before = bi.bench_received();
      assert.equal(bi.bench_send_flows(a0.ptr, r0.ptr, SRC, DST, n, FLOWS, flow), 0, "the driver took every frame");
      flow = (flow + n) % FLOWS;
      return bi.bench_received() - before;
    },
    /** n frames to port 9; how many reached B. */
    port9(n: number): number {
      const before = bi.bench_received();
      assert.equal(bi.bench_send(a0.ptr, r0.ptr, SRC, DST, n), 0);
      return bi.bench_received() - before;
    },
  };
}

/** R's firewall: default deny, check-state, port 9 denied, 10.0.1/24 -> 10.0.2/24 UDP kept; dyn_max above FLOWS. */
function firewallR(k: Kernel, r: Vnet): void {
  ipfwSetDefault(k, r, false);
  ipfwSet(k, r, "dyn_max", 2 * FLOWS);
  ipfwAdd(k, r, rule(10, [], [A_.checkState]));
  ipfwAdd(k, r, rule(50, [M.proto(17), M.dport([[9, 9]])], [A_.deny]));
  for (let i = 0; i < 20; i++) ipfwAdd(k, r, rule(60 + i, [M.proto(17), M.dport([[100 + i, 100 + i]])], [A_.count]));
  ipfwAdd(k, r, rule(100, [M.probe(), M.proto(17), M.src("10.0.1.0", 24), M.dst("10.0.2.0", 24), M.keep()], [A_.accept]));
}

/** ipfw's items (its zones) and pfil hooks charged to v. */
const fwItems = (v: Vnet) => Object.entries(v.accounting().items).filter(([n]) => (n.startsWith("ipfw") || n === "pfil_hook"));

/** Run the callouts until only those that repeat for ever are left (frames in flight delivered). */
function settle(k: Kernel): void {
  clock(k).advance(50_000);
}

describe("ipfw teardown with 100,000 states", () => {
  test("kldunload (force) with live UDP flows through R and 100,000 keep-state states: zero items, pages, callouts; no hook left; kldload again works", async () => {
    const c = await chain(await boot());
    const { k, a, r, b } = c;
    settle(k);
    k.reclaim();
    const pagesR0 = r.accounting().pages;
    const pages0 = k.accounting().pagesInUse;
    const callouts0 = k.k.callout_pending_count();

    await k.kldload("ipfw");
    for (const v of [a, b]) {
      ipfwSetDefault(k, v, true);
      ipfwAdd(k, v, rule(100, [M.proto(1)], [A_.count])); // a rule: a and b are hooked too
    }
    firewallR(k, r);
    for (const v of [a, r, b]) assert.equal(ipfwGauges(k, v).hookedInet, true, `${v.name} hooked`);
    assert.equal(c.port9(100), 0, "port 9 denied at R");
    for (let i = 0; i < FLOWS; i += 25_000) assert.equal(c.flows(25_000), 25_000, "each new flow let through by keep-state");
    assert.equal(ipfwGauges(k, r).states, FLOWS);
    assert.equal(c.flows(10_000), 10_000, "known flows let through by their states");
    assert.equal(ipfwGauges(k, r).states, FLOWS, "no state made twice");
    assert.ok((r.accounting().items["ipfw_dyn"] ?? 0) === FLOWS, "states are charged to R");
    assert.ok(r.accounting().pages > pagesR0 + 16, "the state hash and slabs are R's pages");
    assert.ok(k.k.callout_pending_count() > callouts0, "the expiry callout runs");

    // Live traffic: frames A -> R wait on a 1 ms link while ipfw goes, more are sent after.
    c.a0.setConditions({ delayUs: 1000 });
    assert.equal(c.flows(2_000), 0, "in flight on the delayed link");
    assert.equal(c.port9(500), 0, "in flight too");
    k.kldunload("ipfw", { force: true }); // LeakError names anything ipfw left
    for (const v of [a, r, b]) assert.deepEqual(fwItems(v), [], `${v.name}: no ipfw item, no pfil hook`);
    const got = c.bi.bench_received();
    settle(k);
    assert.equal(c.bi.bench_received() - got, 2_500, "the frames in flight crossed R unfiltered, port 9 too");
    c.a0.clearConditions();
    assert.equal(c.port9(1_000), 1_000, "no hook in R: port 9 flows");
    assert.equal(c.flows(20_000), 20_000);
    settle(k);
    k.reclaim();
    assert.equal(r.accounting().pages, pagesR0, "R: every page of states and hash went back");
    assert.equal(k.accounting().pagesInUse, pages0, "the kernel: no page left");
    assert.equal(k.k.callout_pending_count(), callouts0, "no callout left");
    assert.equal(k.k.callout_check(), 0);

    // Load again: every live vnet gets an empty firewall; a rule works.
    await k.kldload("ipfw");
    for (const v of [a, r, b]) assert.equal(ipfwGauges(k, v).rules, 0);
    assert.equal(c.port9(100), 0, "default deny again (the module's default)");
    for (const v of [a, r, b]) ipfwSetDefault(k, v, true);
    assert.equal(c.port9(100), 100, "empty accepting firewall");
    ipfwAdd(k, r, rule(50, [M.proto(17), M.dport([[9, 9]])], [A_.deny]));
    assert.equal(c.port9(100), 0, "rule 50 denies again");
    assert.equal(c.flows(100), 100, "other ports pass");
    k.kldunload("ipfw");
    k.shutdown();
  });

  test("vnet destroy with 100,000 states and traffic just sent: zero items, zero pages, no callout", async () => {
    const k = await boot();
    await k.kldload("ipfw");
    // A first round warms the kernel's own caches (zones of other subsystems keep slabs); the
    // second must end where the first did.
    let pages0 = 0;
    let callouts0 = 0;
    for (const round of [0, 1]) {
      const c = await chain(k, String(round), true);
      firewallR(k, c.r);
      for (let i = 0; i < FLOWS; i += 25_000) assert.equal(c.flows(25_000), 25_000);
      assert.equal(ipfwGauges(k, c.r).states, FLOWS);
      assert.equal(c.r.accounting().items["ipfw_dyn"], FLOWS, "states are charged to R");
      c.a0.setConditions({ delayUs: 1000 });
      assert.equal(c.flows(1_000), 0, "in flight to R");
      for (const v of [c.r, c.a, c.b]) v.destroy(); // LeakError names anything left
      settle(k);
      k.reclaim();
      if (round === 0) {
        pages0 = k.accounting().pagesInUse;
        callouts0 = k.k.callout_pending_count();
      } else {
        assert.equal(k.accounting().pagesInUse, pages0, "the destroyed vnets left no page");
        assert.equal(k.k.callout_pending_count(), callouts0, "no callout left");
      }
    }
    assert.equal(k.k.callout_check(), 0);
    k.kldunload("ipfw");
    k.shutdown();
  });
});
