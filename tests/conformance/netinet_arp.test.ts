// FreeBSD's tests/sys/netinet/arp.sh re-created: each case's jails are vnets on an epair
// (198.51.100.1/24 and .2/24), the arp(8) calls are the host's arpTable / arpAn /
// arpDelete. Every case ends by destroying its vnets: no ARP entry, no held packet, no mbuf
// left.
import { before, after } from "node:test";
import assert from "node:assert/strict";
import { ping, type Kernel, type Vnet, type Interface } from "../../host/index.js";
import { addAddress, delAddress, arpTable, arpAn, arpSet, arpDelete, inetGauges } from "../../host/admin/inet.js";
import { sysctlSet } from "../../host/admin/sysctl.js";
import { mbufsInUse } from "../helpers/inet.js";
import { bootLab, clock, conformanceTest } from "./lab.js";

let k: Kernel;
before(async () => {
  k = await bootLab(["inet"]);
});
after(() => k.shutdown());

/** net.link.ether.inet.max_age: how long a learned entry lives, seconds. */
const MAX_AGE = 1200;

async function withVnets(name: string, n: number, fn: (vs: Vnet[]) => Promise<void>): Promise<void> {
  const vs: Vnet[] = [];
  for (let i = 0; i < n; i++) vs.push(k.createVnet(`${name}${"ab"[i]}`));
  try {
    await fn(vs);
  } finally {
    for (const v of vs.reverse()) if (v.alive) v.destroy();
  }
  assert.equal(mbufsInUse(k), 0, `${name}: no mbuf left (held packets freed)`);
}

function epair(a: Vnet, b: Vnet): [Interface, Interface] {
  const [x, y] = k.epair(a, b);
  x.setUp();
  y.setUp();
  return [x, y];
}

const entry = (v: Vnet, ip: string) => arpTable(k, v).find((e) => e.address === ip);

conformanceTest("arp__arp_add_success", () =>
  withVnets("arp-add", 1, async ([j]) => {
    const [, b] = epair(k.vnet0, j);
    addAddress(k, b, "198.51.100.1/24");
    arpSet(k, b, "198.51.100.2", "90:10:00:01:02:03");
    assert.match(arpAn(k, j), new RegExp(`\\? \\(198\\.51\\.100\\.2\\) at 90:10:00:01:02:03 on ${b.name} permanent`));
    assert.equal(entry(j, "198.51.100.2")?.state, "permanent");
  }));

conformanceTest("arp__arp_del_success", () =>
  withVnets("arp-del", 1, async ([j]) => {
    const [a, b] = epair(k.vnet0, j);
    a.setDown(); // nobody answers at .2
    addAddress(k, b, "198.51.100.1/24");
    await ping(k, j, "198.51.100.2", { count: 1, timeoutMs: 1000 });
    assert.equal(entry(j, "198.51.100.2")?.state, "incomplete", "the ping left an incomplete entry");
    arpDelete(k, b, "198.51.100.2"); // "198.51.100.2 (198.51.100.2) deleted"
    assert.equal(entry(j, "198.51.100.2"), undefined, "-- no entry");
    assert.throws(() => arpDelete(k, b, "198.51.100.2"), /no ARP entry for 198\.51\.100\.2/);
    a.destroy();
  }));

conformanceTest("arp__pending_delete_if", () =>
  withVnets("arp-pending", 1, async ([j]) => {
    // Epair b stays in the host (vnet0) with no address: nobody answers.
    const [a, b] = epair(j, k.vnet0);
    addAddress(k, a, "198.51.100.1/24");
    const pings: Promise<unknown>[] = [];
    for (let i = 2; i <= 200; i++) pings.push(ping(k, j, `198.51.100.${i}`, { count: 1, timeoutMs: 500 }));
    clock(k).advance(1_000_000); // "give the ping processes time to send their ARP requests"
    const pending = arpTable(k, j).filter((e) => e.state === "incomplete");
    assert.ok(pending.length >= 190, `most of the 199 hosts are pending (${pending.length})`);
    assert.ok(pending.some((e) => e.held > 0), "with packets held for them");
    arpAn(k, j);
    b.destroy(); // destroys the pair: a goes too, with its pending entries
    // At once, before any ARP timer could give up on them.
    assert.equal(inetGauges(k, j).arpEntries, 0, "no entry outlives its interface");
    await Promise.allSettled(pings);
  }));

conformanceTest("arp__arp_lookup_host", () =>
  withVnets("arp-lookup", 2, async ([ja, jb]) => {
    const [a, b] = epair(ja, jb);
    addAddress(k, a, "198.51.100.1/24");
    addAddress(k, b, "198.51.100.2/24");
    assert.equal(entry(ja, "198.51.100.2"), undefined, "no entry yet");
    assert.equal((await ping(k, ja, "198.51.100.2", { count: 1 })).received, 1);
    const e = entry(ja, "198.51.100.2");
    assert.equal(e?.mac, b.mac, "jail b's MAC");
    assert.equal(e?.iface.name, a.name, "on jail a's interface");
    assert.match(arpAn(k, ja), new RegExp(`\\(198\\.51\\.100\\.2\\) at ${b.mac} on ${a.name}`));
  }));

conformanceTest("arp__static", () =>
  withVnets("arp-static", 2, async ([ja, jb]) => {
    const [a, b] = epair(ja, jb);
    addAddress(k, a, "198.51.100.1/24");
    const ZERO = "00:00:00:00:00:00";
    const permanent = `? (198.51.100.2) at ${ZERO} on ${a.name} permanent [ethernet]`;
    // -s first; then jail b's address, whose gratuitous ARP reaches a and must change nothing.
    arpSet(k, a, "198.51.100.2", ZERO);
    const entries = arpTable(k, ja).length;
    addAddress(k, b, "198.51.100.2/24");
    assert.equal(arpAn(k, ja), permanent);
    assert.equal(entries, 1, "the permanent entry only");
    // Then -S: delete, learn it from a ping of b's, and replace the learned entry.
    arpDelete(k, a, "198.51.100.2");
    assert.equal((await ping(k, jb, "198.51.100.1", { count: 1 })).received, 1);
    const e = entry(ja, "198.51.100.2");
    assert.equal(e?.mac, b.mac);
    assert.equal(e?.state, "reachable");
    assert.ok(e?.expiresInS !== undefined && e.expiresInS <= MAX_AGE && e.expiresInS >= MAX_AGE - 5, `expires in about ${MAX_AGE} seconds (${e?.expiresInS})`);
    arpSet(k, a, "198.51.100.2", ZERO); // arp -S: "deleted", then the permanent entry
    assert.equal(arpAn(k, ja), permanent);
    // Permanent means it outlives max_age and b's traffic.
    clock(k).advance((MAX_AGE + 10) * 1_000_000);
    assert.equal((await ping(k, jb, "198.51.100.1", { count: 1, timeoutMs: 500 })).received, 0, "a's replies go to the zero MAC");
    assert.equal(arpAn(k, ja), permanent);
  }));

/** Gratuitous ARPs (request, sender = target = addr) among frames. */
function garps(frames: Uint8Array[], addr: string): number {
  const a = addr.split(".").map(Number);
  return frames.filter((f) => f[12] === 0x08 && f[13] === 0x06 && f[21] === 1 && a.every((x, i) => f[28 + i] === x && f[38 + i] === x)).length;
}

/** Frames `end` sends while fn runs (and the event loop turns after it). */
async function sentBy(end: Interface, fn: () => void): Promise<Uint8Array[]> {
  const got: Uint8Array[] = [];
  const cap = end.capture();
  const reading = (async () => {
    for await (const f of cap) if (f.dir === "out") got.push(f.data.slice());
  })();
  fn();
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
  await cap.stop();
  await reading;
  return got;
}

conformanceTest("arp__garp", () =>
  withVnets("arp-garp", 1, async ([j]) => {
    sysctlSet(k, j, "net.link.ether.inet.garp_rexmit_count", 3);
    const [, b] = epair(k.vnet0, j);
    // FreeBSD's case: the address, then 5 s for the timer to fire; it checks nothing panics.
    const first = await sentBy(b, () => {
      addAddress(k, b, "192.0.2.1/24");
      clock(k).advance(5_000_000);
    });
    assert.equal(garps(first, "192.0.2.1"), 3, "the announcement, then again after 1 s and 3 s");
    const later = await sentBy(b, () => clock(k).advance(10_000_000));
    assert.equal(garps(later, "192.0.2.1"), 1, "the third repeat after 7 s, and no more");
    // The timer's hazard: an address removed, or its vnet destroyed, with a repeat due.
    addAddress(k, b, "192.0.2.2/24");
    delAddress(k, b, "192.0.2.2");
    addAddress(k, b, "192.0.2.3/24");
    const none = await sentBy(b, () => clock(k).advance(2_000_000));
    assert.equal(garps(none, "192.0.2.2"), 0, "no repeat for a removed address");
    assert.equal(garps(none, "192.0.2.3"), 1);
  }));
