import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { linuxVxlan, interopSkip, underlaySlot } from "./netns.js";

// The interop set-ups share the machine's routing table: a namespace left by a killed run
// keeps its root-side 10.201.N.1/24, and a new set-up on the same N had its packets routed into
// the stale namespace (CI saw the jumbo tunnel's ping answered and its TCP refused by one).

function rootAddrs(n: number): string[] {
  const out = spawnSync("ip", ["-o", "-4", "addr", "show"], { encoding: "utf8" }).stdout;
  return out.split("\n").filter((l) => l.includes(` 10.201.${n}.1/`));
}

/** Two tags whose hashed slots are equal. */
function sameSlotTags(prefix: string): [string, string] {
  const seen = new Map<number, string>();
  for (let i = 0; ; i++) {
    const t = `${prefix}${i}`;
    const n = underlaySlot(t);
    const other = seen.get(n);
    if (other !== undefined) return [other, t];
    seen.set(n, t);
  }
}

describe("interop set-ups claim distinct underlay slots", { skip: interopSkip() }, () => {
  test("a leftover namespace holding a slot's address (a killed run's) is removed, and the new set-up's address is the only one", () => {
    const tag = `s${process.pid % 10000}`;
    const n = underlaySlot(tag);
    const stale = `wvx-z${process.pid % 10000}`;
    const staleHost = `wvh-z${process.pid % 10000}`;
    // What a killed run leaves: a namespace, a veth whose root end has 10.201.N.1/24, no lock.
    execFileSync("ip", ["netns", "add", stale]);
    execFileSync("ip", ["link", "add", staleHost, "type", "veth", "peer", "name", "wvn-stale", "netns", stale]);
    execFileSync("ip", ["addr", "add", `10.201.${n}.1/24`, "dev", staleHost]);
    execFileSync("ip", ["link", "set", staleHost, "up"]);
    const lx = linuxVxlan({ tag, vni: 77, port: 4793, linuxAddr: "10.211.0.2/24" });
    try {
      assert.equal(existsSync(`/run/netns/${stale}`), false, "the leftover namespace is gone");
      const at = Number(lx.underlayHost.split(".")[2]);
      assert.deepEqual(rootAddrs(at).length, 1, `one interface has ${lx.underlayHost}`);
    } finally {
      lx.destroy();
      spawnSync("ip", ["netns", "del", stale], { stdio: "ignore" });
      spawnSync("ip", ["link", "del", staleHost], { stdio: "ignore" });
    }
  });

  test("two live set-ups whose tags hash to one slot get different subnets", () => {
    const [a, b] = sameSlotTags(`c${process.pid % 1000}x`);
    const la = linuxVxlan({ tag: a, vni: 78, port: 4794, linuxAddr: "10.212.0.2/24" });
    try {
      const lb = linuxVxlan({ tag: b, vni: 79, port: 4795, linuxAddr: "10.213.0.2/24" });
      try {
        assert.notEqual(la.underlayHost, lb.underlayHost);
        for (const x of [la, lb]) assert.equal(rootAddrs(Number(x.underlayHost.split(".")[2])).length, 1);
        // Each namespace reaches its own root-side end, not the other's.
        for (const x of [la, lb]) {
          const r = spawnSync("ip", ["netns", "exec", x.ns, "ping", "-c", "1", "-W", "2", x.underlayHost], { encoding: "utf8" });
          assert.equal(r.status, 0, r.stdout + r.stderr);
        }
      } finally {
        lb.destroy();
      }
    } finally {
      la.destroy();
    }
    assert.equal(existsSync(`/run/netns/wvx-${a}`), false);
    assert.equal(existsSync(`/run/netns/wvx-${b}`), false);
  });
});
