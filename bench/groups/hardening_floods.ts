// Group "hardening", the flood figures (issue 14), kept in a file of their own so the
// group's other blocks change apart. Every figure is in virtual time, the time the kernel
// sees: the host advances the clock as real time would pass while packets arrive, so the
// figures do not depend on how fast this machine injects them. Each runs the setup of the
// test that checks the same defence (tests/helpers/floods.ts).

import { Kernel, LeakError, socket, epairConditions, addAddress, type Socket, type Vnet } from "../../host/index.js";
import { tcpStats, tcpKnob, tcpState } from "../../host/admin/tcp.js";
import { udpStats } from "../../host/admin/udp.js";
import type { GroupContext, MetricSpec } from "../lib.js";
import {
  synFlood, connectTimed, neighbourPair, arpFlood, nsFlood, resolveMs, hundredFloodedVnets, fullService, sink, floodSend, FRAME_DATAGRAM,
} from "../../tests/helpers/floods.js";
import { clock, step } from "../../tests/helpers/tcp.js";
import { snapshot } from "../../tests/helpers/snapshot.js";

const MiB = 1024 * 1024;
const SYNFLOOD_SYNS = 1_000_000;
const SYNFLOOD_CLIENTS = 100;
const FLOOD_BUDGET = 256 * MiB;
const NEIGHBOUR_FLOOD = 16_384;
const TEARDOWNS = 1_000;

export function floodMetrics(): MetricSpec[] {
  return [
    { name: "synflood_legit_connect_pct", unit: "%", target: { min: 100 }, description: `legitimate clients served (accepted, a message through) while ${SYNFLOOD_SYNS.toLocaleString("en")} spoofed random-source SYNs hit the listener; the note gives the syncache's peak memory` },
    { name: "flood_100_vnets_quiet_vnet_ok", unit: "bool", target: { min: 1 }, description: "1 if a quiet pair had full service (ping, 1 MiB TCP fetch checked by SHA-256, never refused) while 100 vnets were flooded (tests/memory_budget.test.ts's scenario)" },
    { name: "kernel_bytes_peak", unit: "B", target: { max: FLOOD_BUDGET }, description: `peak kernel memory in use during those floods, against a ${FLOOD_BUDGET / MiB} MiB budget (Kernel.boot memoryBudget)` },
    { name: "neighbour_flood_new_resolve_ms", unit: "ms", target: { max: 1000 }, description: `round trip of a ping to a new neighbour after ${NEIGHBOUR_FLOOD.toLocaleString("en")} spoofed ARP requests, and after as many NSs: the worse (virtual ms, resolution included)` },
    { name: "teardown_under_load_leaked_items", unit: "items", target: { max: 0 }, description: `zone items plus kmem pages left after destroying a vnet mid-flood ${TEARDOWNS.toLocaleString("en")} times (frames in flight on a delayed epair, sockets full, a connection being made)` },
    { name: "spoofed_syn_listener_recovery_ms", unit: "ms", target: { max: 100 }, description: "after 300 random-source SYNs, virtual time until a legitimate connect is accepted" },
  ];
}

export async function runFloods(ctx: GroupContext): Promise<void> {
  // SYN flood with legitimate clients (tests/tcp_syncache.test.ts, ten times longer).
  {
    ctx.log(`synflood: ${SYNFLOOD_SYNS} spoofed SYNs, ${SYNFLOOD_CLIENTS} clients`);
    const f = await synFlood(128, 3);
    const { k, A, B, lsn } = f;
    const bytes0 = B.accounting().bytes;
    let peakBytes = 0;
    let peakEntries = 0;
    let served = 0;
    const socks: Socket[] = [];
    for (let i = 0; i < SYNFLOOD_CLIENTS; i++) {
      f.spoof(SYNFLOOD_SYNS / SYNFLOOD_CLIENTS);
      const { cli, srv } = connectTimed(k, A, lsn);
      socks.push(cli);
      if (srv) {
        socks.push(srv);
        cli.send(`client ${i}`);
        step(k, 1_000);
        if (new TextDecoder().decode(srv.recv() ?? new Uint8Array()) === `client ${i}`) served++;
      }
      peakBytes = Math.max(peakBytes, B.accounting().bytes - bytes0);
      peakEntries = Math.max(peakEntries, f.count());
      clock(k).advance(100_000); // 1 M SYNs in about 10 s
    }
    const st = tcpStats(k, B);
    ctx.report("synflood_legit_connect_pct", (100 * served) / SYNFLOOD_CLIENTS, {
      note: `${served}/${SYNFLOOD_CLIENTS} served; syncache peak ${peakEntries} entries, listener vnet grew by ${(peakBytes / 1024).toFixed(0)} KiB at most; ${st.sc_sendcookie} cookies sent`,
    });
    for (const s of socks) s.close();
    k.shutdown();
  }
  // 100 flooded vnets and a quiet pair (tests/memory_budget.test.ts).
  {
    ctx.log("100 flooded vnets and a quiet pair");
    const k = await Kernel.boot({ config: ["if_epair", "inet", "udp", "tcp"], memoryBudget: FLOOD_BUDGET });
    const { Q, S } = hundredFloodedVnets(k);
    let ok = 1;
    let why = "";
    try {
      await fullService(k, Q, S);
    } catch (e) {
      ok = 0;
      why = `: ${(e as Error).message.split("\n")[0]}`;
    }
    for (const v of [Q, S]) {
      const r = v.accounting().refusals;
      if (r.budget + r.fairShare > 0) {
        ok = 0;
        why += `; ${v.name} refused ${r.budget + r.fairShare} times`;
      }
    }
    const a = k.accounting();
    ctx.report("flood_100_vnets_quiet_vnet_ok", ok, { note: `ping and a 1 MiB TCP fetch (SHA-256)${why}` });
    ctx.report("kernel_bytes_peak", a.memoryPeak, {
      note: `${(a.memoryPeak / MiB).toFixed(1)} MiB of a ${FLOOD_BUDGET / MiB} MiB budget (high water ${(a.memoryHighWater / MiB).toFixed(0)} MiB); fair-share refusals ${a.memoryRefusals.fairShare}, budget refusals ${a.memoryRefusals.budget}`,
    });
    k.shutdown();
  }
  // Neighbour floods (tests/neighbour_flood.test.ts).
  {
    ctx.log(`neighbour floods: ${NEIGHBOUR_FLOOD} ARP requests, then as many NSs`);
    const { k, B, eb } = await neighbourPair();
    arpFlood(eb, NEIGHBOUR_FLOOD);
    const arpMs = await resolveMs(k, B, "10.0.0.1");
    nsFlood(eb, NEIGHBOUR_FLOOD);
    const ndMs = await resolveMs(k, B, "fd00::1");
    // Over an epair without delay a resolution that needs no retransmission takes no virtual
    // time; one that waited for a free entry would show its retries (1 s apart) or Infinity.
    ctx.report("neighbour_flood_new_resolve_ms", Math.max(arpMs, ndMs), { note: `virtual ms, epair without delay (0 = answered at the first request): ARP ${arpMs}, ND ${ndMs}, each after its own flood` });
    k.shutdown();
  }
  // Destroying vnets mid-flood.
  {
    ctx.log(`teardown under load: ${TEARDOWNS} vnets destroyed mid-flood`);
    const k = await Kernel.boot({ config: ["if_epair", "inet", "udp", "tcp"], seed: 14 });
    k.reclaim();
    const before = snapshot(k);
    const X = k.createVnet("X");
    const t0 = Date.now();
    let sent = 0;
    let delivered = 0;
    let established = 0;
    // The kernel checks each vnet it destroys; what it finds is counted below with the rest.
    const leakReports: string[] = [];
    const destroy = (v: Vnet) => {
      try {
        v.destroy();
      } catch (e) {
        if (!(e instanceof LeakError)) throw e;
        if (leakReports.length < 3) leakReports.push(e.message);
      }
    };
    for (let i = 0; i < TEARDOWNS; i++) {
      const F = k.createVnet(`F${i}`);
      // An epair homed in F (it dies with F), its other end moved into X.
      const [ef, ex] = F.ifcreate("epair");
      ex.moveTo(X);
      ef.setUp();
      ex.setUp();
      addAddress(k, ef, "10.7.0.2/24");
      addAddress(k, ex, "10.7.0.1/24");
      epairConditions(k, ex, { delayUs: 2_000 }); // X's frames are in flight when F goes
      sink(k, F, "0.0.0.0", 9);
      socket(k, F, "inet", "stream").bind("0.0.0.0", 80).listen(8);
      const tx = socket(k, X, "inet", "dgram");
      const cli = socket(k, X, "inet", "stream");
      cli.connect("10.7.0.2", 80);
      const extra = socket(k, X, "inet", "stream");
      clock(k).advance(4_000); // ARP resolved, the connection made
      if (tcpState(cli) === "ESTABLISHED") established++;
      extra.connect("10.7.0.2", 80); // its SYN is in flight when F goes
      for (let j = 0; j < 40; j++) if (floodSend(tx, "10.7.0.2", 9, FRAME_DATAGRAM)) sent++;
      clock(k).advance(1_000 + (i % 3) * 500); // some delivered, the rest in flight
      for (let j = 0; j < 40; j++) if (floodSend(tx, "10.7.0.2", 9, FRAME_DATAGRAM)) sent++;
      delivered += udpStats(k, F).delivered;
      destroy(F); // its sockets, the listener, the epair and what is in flight to it
      tx.close();
      cli.close();
      extra.close();
      clock(k).advance(1_000);
    }
    clock(k).runUntilIdle(600_000_000); // X's closed connections finish
    destroy(X);
    k.reclaim();
    const after = snapshot(k);
    const zone = (snap: ReturnType<typeof snapshot>) => new Map(snap.zones.map((z) => { const i = z.lastIndexOf(":"); return [z.slice(0, i), Number(z.slice(i + 1))] as const; }));
    const z0 = zone(before);
    let items = 0;
    const named: string[] = [];
    for (const [name, used] of zone(after)) {
      const d = used - (z0.get(name) ?? 0);
      if (d !== 0) named.push(`${name} ${d > 0 ? "+" : ""}${d}`);
      items += Math.max(0, d);
    }
    const pages = Math.max(0, after.pagesInUse - before.pagesInUse);
    ctx.report("teardown_under_load_leaked_items", items + pages, {
      note: `${items} zone items, ${pages} pages, ${after.callouts - before.callouts} callouts left${named.length ? ` (${named.join(", ")})` : ""}${leakReports.length ? ` [${leakReports.join("; ")}]` : ""}; ${sent} datagrams sent, ${delivered} delivered before each destroy, the rest in flight; ${established} connections made; ${TEARDOWNS} rounds in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    });
    k.shutdown();
  }
  // 300 spoofed SYNs, then a legitimate connect (tests/tcp_syncache.test.ts).
  {
    const f = await synFlood(128, 1);
    f.spoof(300);
    const { cli, srv, us } = connectTimed(f.k, f.A, f.lsn);
    ctx.report("spoofed_syn_listener_recovery_ms", srv ? us / 1000 : Infinity, { note: `virtual time; ${tcpKnob(f.k, f.B, "syncache.count")} entries left in the syncache` });
    cli.close();
    f.k.shutdown();
  }
}
