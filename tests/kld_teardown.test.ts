// Issue 12: live layer-3/4 unload in the talk's three teardown checkpoints, each visible in
// kldstat -v. The far end of every connection lives in a second kernel joined by a cable
// (helpers/cable.ts): tcp is unloaded from one kernel, the other keeps it and reports what
// its sockets saw (a RST is ECONNRESET there).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Kernel, Errno, ModuleBusyError, ModuleDependencyError, SocketError, type Interface, type Vnet, type Socket, type KldCheckpoint, type KldStatVerbose } from "../host/index.js";
import { addAddress } from "../host/admin/inet.js";
import { tcpStats } from "../host/admin/tcp.js";
import { addAddress6 } from "../host/admin/inet6.js";
import { ping6 } from "../host/admin/ping.js";
import { ipfwCommand, kernelIpfwBackend } from "../host/ipfw/index.js";
import { Commands } from "../host/shell/commands.js";
import { mbufsInUse } from "./helpers/inet.js";
import { tapCable, settle } from "./helpers/cable.js";

const CONFIG = ["if_tap", "if_epair", "inet", "tcp", "udp"];

async function twoKernels(seed = 1) {
  const ka = await Kernel.boot({ config: CONFIG, seed });
  const kb = await Kernel.boot({ config: CONFIG, seed: seed + 1 });
  const A = ka.createVnet("A");
  const B = kb.createVnet("B");
  const [ta, tb] = tapCable(ka, A, kb, B);
  addAddress(ka, ta, "10.0.0.1/24");
  addAddress(kb, tb, "10.0.0.2/24");
  return { ka, kb, A, B };
}

const row = (k: Kernel, name: string): KldStatVerbose => {
  const r = k.kldstat({ verbose: true }).find((x) => x.name === name);
  assert.ok(r, `kldstat -v lists ${name}`);
  return r;
};

/** n connections from A (kernel ka) to B:port (kernel kb); returns both ends, accepted. */
async function connections(ka: Kernel, kb: Kernel, A: Vnet, B: Vnet, n: number, port: number) {
  const lsn = B.socket("inet", "stream").bind("0.0.0.0", port).listen(-1);
  const cli: Socket[] = [];
  const srv: Socket[] = [];
  for (let i = 0; i < n; i++) {
    const c = A.socket("inet", "stream");
    c.connect("10.0.0.2", port);
    cli.push(c);
    if (i % 64 === 63 || i === n - 1) {
      await settle([ka, kb], 4, 1000);
      for (let s = lsn.accept(); s; s = lsn.accept()) srv.push(s);
    }
  }
  // SYNs beyond ARP's hold queue (16) before the first reply are sent again after their RTO.
  for (let r = 0; r < 20 && srv.length < n; r++) {
    await settle([ka, kb], 4, 500_000);
    for (let s = lsn.accept(); s; s = lsn.accept()) srv.push(s);
  }
  assert.equal(srv.length, n, `B accepted all ${n} connections`);
  return { lsn, cli, srv };
}

describe("kldunload tcp with live connections to a peer kernel (issue 12)", () => {
  test("MOD_QUIESCE says why; stop: listeners refuse (SYN gets RST), new sockets refused; clean: every peer sees a RST; gone: 0 items, 0 zones, 0 callouts, table nulled; reload and connect", async () => {
    const { ka, kb, A, B } = await twoKernels(1);
    const N = 1000;
    const { lsn, cli, srv } = await connections(ka, kb, A, B, N, 80);
    // A listens too, with one connection accepted from B.
    const alsn = A.socket("inet", "stream").bind("0.0.0.0", 81).listen(8);
    const bcli = B.socket("inet", "stream");
    bcli.connect("10.0.0.1", 81);
    await settle([ka, kb], 4, 1000);
    const asrv = alsn.accept();
    assert.ok(asrv, "A accepted B's connection");

    // MOD_QUIESCE refuses and the message counts what holds tcp.
    assert.throws(() => ka.kldunload("tcp"), (e: unknown) => e instanceof ModuleBusyError &&
      (e as Error).message === `kldunload tcp: module is busy: ${N + 1} connections, 1 listener, ${N + 2} sockets open; close what uses it or unload with force`);
    let r = row(ka, "tcp");
    assert.equal(r.state, "loaded");
    assert.equal(r.connections, N + 1);
    assert.equal(r.listeners, 1);

    // Checkpoint 1 on its own: state quiescing, nothing reaches a listener.
    ka.kldstop("tcp");
    r = row(ka, "tcp");
    assert.equal(r.state, "quiescing");
    assert.equal(r.listeners, 0, "no listener is reachable");
    assert.equal(r.connections, N + 1, "open connections go on");
    const rstBefore = tcpStats(ka, A).sndrst;
    const late = B.socket("inet", "stream");
    let lateErr = "";
    late.on("error", (e) => (lateErr = (e as SocketError).code));
    late.connect("10.0.0.1", 81);
    await settle([ka, kb], 4, 1000);
    assert.equal(lateErr, "ECONNREFUSED", "a SYN to A's listener is answered with a RST");
    assert.equal(tcpStats(ka, A).sndrst - rstBefore, 1);
    assert.throws(() => A.socket("inet", "stream"), (e: unknown) => e instanceof SocketError && e.code === "EPROTONOSUPPORT");
    // Data still flows on an open connection.
    assert.equal(cli[0].send("still here"), 10);
    await settle([ka, kb], 2, 1000);
    const got = srv.map((s) => s.recv()).filter((d) => d !== null).map((d) => Buffer.from(d!).toString());
    assert.deepEqual(got, ["still here"]);

    // The rest, forced: each checkpoint reported.
    const peerErrs = new Map<string, number>();
    for (const s of [...srv, bcli]) s.on("error", (e) => peerErrs.set((e as SocketError).code, (peerErrs.get((e as SocketError).code) ?? 0) + 1));
    let localErrs = 0;
    let localClosed = 0;
    for (const s of [...cli, asrv!]) {
      s.on("error", (e) => { if ((e as SocketError).code === "ECONNABORTED") localErrs++; });
      s.on("close", () => localClosed++);
    }
    const seen: KldCheckpoint[] = [];
    const mine = [...cli, asrv!];
    const pending = () => mine.filter((s) => !s.closed && s.info().error === Errno.ECONNABORTED).length;
    const heard: [number, number][] = []; // sockets with ECONNABORTED pending, sockets closed, at each checkpoint
    ka.kldunload("tcp", { force: true, onCheckpoint: (c) => (seen.push(c), heard.push([pending(), mine.filter((s) => s.closed).length])) });
    assert.deepEqual(heard, [[0, 0], [N + 1, 0], [0, N + 1]], "the drop comes at clean-up, the close when tcp goes");
    assert.deepEqual(seen.map((c) => c.state), ["quiescing", "cleaning", "gone"]);
    assert.equal(seen[0].connections, N + 1);
    assert.deepEqual([seen[1].connections, seen[1].listeners, seen[1].items, seen[1].callouts], [0, 0, 0, 0], "cleaning: no connection, no tcpcb, no timer");
    assert.equal(seen[1].sockets, N + 2, "the sockets are still open until the third checkpoint");
    assert.deepEqual([seen[2].sockets, seen[2].items, seen[2].zones, seen[2].callouts, seen[2].tableNulled], [0, 0, 0, 0, true]);
    r = row(ka, "tcp");
    assert.equal(r.state, "gone");
    assert.equal(r.tableNulled, true);
    await settle([ka, kb], 4, 1000);
    assert.equal(peerErrs.get("ECONNRESET"), N + 1, "every peer socket saw the RST");
    assert.equal(localErrs, N + 1, "every local socket heard ECONNABORTED");
    assert.equal(localClosed, N + 1, "and was closed");

    // tcp again: a new connection works (B's listener never went away).
    await ka.kldload("tcp");
    assert.equal(row(ka, "tcp").state, "loaded");
    const again = await connections(ka, kb, A, B, 1, 82);
    assert.equal(again.cli[0].send("again"), 5);
    await settle([ka, kb], 2, 1000);
    assert.equal(Buffer.from(again.srv[0].recv()!).toString(), "again");
    for (const s of [lsn, ...srv, bcli, late, ...again.cli, ...again.srv, again.lsn]) s.close();
    await settle([ka, kb], 2, 1000);
    assert.equal(mbufsInUse(ka), 0);
    ka.shutdown();
    kb.shutdown();
  });
});

describe("kldunload udp with open sockets (issue 12)", () => {
  test("stop refuses new sockets while open ones still deliver; clean: every socket hears ECONNABORTED, not silence; gone: 0 PCBs, zone destroyed; the peer's next datagram is refused; reload works", async () => {
    const { ka, kb, A, B } = await twoKernels(3);
    const N = 100;
    const socks: Socket[] = [];
    for (let i = 0; i < N; i++) socks.push(A.socket("inet", "dgram").bind("0.0.0.0", 5000 + i));
    const peer = B.socket("inet", "dgram");
    peer.connect("10.0.0.1", 5000);
    let peerErr = "";
    peer.on("error", (e) => (peerErr = (e as SocketError).code));
    assert.equal(peer.send("one"), 3);
    await settle([ka, kb], 4, 1000);
    assert.equal(Buffer.from(socks[0].recvfrom()!.data).toString(), "one");
    assert.throws(() => ka.kldunload("udp"), (e: unknown) => e instanceof ModuleBusyError && /module is busy: 100 users/.test((e as Error).message));

    ka.kldstop("udp");
    let r = row(ka, "udp");
    assert.equal(r.state, "quiescing");
    assert.equal(r.sockets, N);
    assert.throws(() => A.socket("inet", "dgram"), (e: unknown) => e instanceof SocketError && e.code === "EPROTONOSUPPORT");
    assert.throws(() => socks[1].connect("10.0.0.2", 9), (e: unknown) => e instanceof SocketError && e.code === "ECONNABORTED");
    assert.equal(peer.send("two"), 3);
    await settle([ka, kb], 4, 1000);
    assert.equal(Buffer.from(socks[0].recvfrom()!.data).toString(), "two", "open sockets still receive while quiescing");

    const errs: string[] = [];
    let closed = 0;
    for (const s of socks) {
      s.on("error", (e) => errs.push((e as SocketError).code));
      s.on("close", () => closed++);
    }
    const seen: KldCheckpoint[] = [];
    // Sockets with ECONNABORTED pending, and sockets closed, at each checkpoint (socket state is read, not changed).
    const pending = () => socks.filter((s) => !s.closed && s.info().error === Errno.ECONNABORTED).length;
    const heard: [number, number][] = [];
    ka.kldunload("udp", { force: true, onCheckpoint: (c) => (seen.push(c), heard.push([pending(), socks.filter((s) => s.closed).length])) });
    assert.deepEqual(heard, [[0, 0], [N, 0], [0, N]], "the error comes at clean-up, the close when udp goes");
    assert.deepEqual(seen.map((c) => c.state), ["quiescing", "cleaning", "gone"]);
    assert.equal(seen[0].items, N, "one PCB per socket");
    assert.deepEqual([seen[1].items, seen[1].callouts, seen[1].sockets], [0, 0, N], "cleaning: PCBs gone, sockets not yet closed");
    assert.deepEqual([seen[2].sockets, seen[2].items, seen[2].zones, seen[2].callouts, seen[2].tableNulled], [0, 0, 0, 0, true]);
    await settle([ka, kb], 2, 1000);
    assert.equal(errs.length, N);
    assert.ok(errs.every((e) => e === "ECONNABORTED"), errs[0]);
    assert.equal(closed, N);
    assert.equal(ka.vmstatZ().find((z) => z.name === "udp_inpcb"), undefined, "the PCB zone is gone");
    // Without udp, A's IPv4 answers the peer's datagram with protocol unreachable.
    assert.equal(peer.send("three"), 5);
    await settle([ka, kb], 4, 1000);
    assert.equal(peerErr, "ECONNREFUSED", "the peer learns udp is gone");

    await ka.kldload("udp");
    const again = A.socket("inet", "dgram").bind("0.0.0.0", 5000);
    assert.throws(() => peer.send("four"), (e: unknown) => e instanceof SocketError && e.code === "ECONNREFUSED", "the error is reported once more, on the next send");
    assert.equal(peer.send("four"), 4);
    await settle([ka, kb], 4, 1000);
    assert.equal(Buffer.from(again.recvfrom()!.data).toString(), "four");
    again.close();
    peer.close();
    assert.equal(mbufsInUse(ka), 0);
    ka.shutdown();
    kb.shutdown();
  });
});

/** n pairs of vnets (2n vnets), each pair on its own epair, the same IPv4 addresses in every pair (stacks are separate). */
function pairs(k: Kernel, n: number) {
  const out: { A: Vnet; B: Vnet; ea: Interface; eb: Interface }[] = [];
  for (let i = 0; i < n; i++) {
    const A = k.createVnet(`a${i}`);
    const B = k.createVnet(`b${i}`);
    const [ea, eb] = k.epair(A, B);
    ea.setUp();
    eb.setUp();
    addAddress(k, ea, "10.0.0.1/24");
    addAddress(k, eb, "10.0.0.2/24");
    out.push({ A, B, ea, eb });
  }
  return out;
}

/** One datagram A -> B:9 in every pair; how many arrived. */
function udpRound(ps: { A: Vnet; B: Vnet }[], tx: Socket[], rx: Socket[], tag: string): number {
  let got = 0;
  for (let i = 0; i < ps.length; i++) tx[i].sendto(tag, "10.0.0.2", 9);
  for (const s of rx) for (let d = s.recvfrom(); d; d = s.recvfrom()) if (Buffer.from(d.data).toString() === tag) got++;
  return got;
}

describe("network layers: live load and forced unload, dependents first (issue 12)", () => {
  test("kldload inet6 into 1,000 live vnets while IPv4 flows, ping6 in every pair at once; force unload with its dependent tcp first: 0 items, 0 callouts; IPv4 never stops; reload", async () => {
    const k = await Kernel.boot({ config: ["if_epair", "inet", "udp"], seed: 5 });
    const P = 500;
    const ps = pairs(k, P);
    const rx = ps.map((p) => p.B.socket("inet", "dgram").bind("0.0.0.0", 9));
    const tx = ps.map((p) => p.A.socket("inet", "dgram"));
    assert.equal(udpRound(ps, tx, rx, "v4-before"), P);
    const v4 = udpRound(ps, tx, [], "v4-across"); // sent before the load, read after
    assert.equal(v4, 0);
    await k.kldload("inet6");
    let got = 0;
    for (const s of rx) for (let d = s.recvfrom(); d; d = s.recvfrom()) if (Buffer.from(d.data).toString() === "v4-across") got++;
    assert.equal(got, P, "datagrams queued across the load are all there");
    for (const p of ps) {
      addAddress6(k, p.ea, "fd00::1/64");
      addAddress6(k, p.eb, "fd00::2/64");
    }
    // ping6 in every pair at once, IPv4 datagrams between their sends.
    const pings = ps.map((p) => ping6(k, p.A, "fd00::2", { count: 2, intervalMs: 10, timeoutMs: 100 }));
    assert.equal(udpRound(ps, tx, rx, "v4-during"), P);
    const res = await Promise.all(pings);
    assert.equal(res.reduce((n, r) => n + r.received, 0), 2 * P, "every ping6 answered");
    assert.equal(udpRound(ps, tx, rx, "v4-after-ping6"), P);

    // tcp loaded now serves both families, so it holds inet6: a TCP connection over IPv6 in a few pairs.
    await k.kldload("tcp");
    const conns: Socket[] = [];
    for (const p of ps.slice(0, 10)) {
      const l = p.B.socket("inet6", "stream").bind("::", 80).listen(4);
      const c = p.A.socket("inet6", "stream");
      c.connect("fd00::2", 80);
      const a = l.accept();
      assert.ok(a, "the IPv6 connection was accepted");
      conns.push(l, c, a);
    }
    assert.throws(() => k.kldunload("inet6"), (e: unknown) => e instanceof ModuleBusyError && /tcp is registered with its protocol switch/.test((e as Error).message));
    const inet6Items = row(k, "inet6").items;
    assert.ok(inet6Items >= 4 * P, `addresses and neighbours in every vnet (${inet6Items} items)`);
    const seen: KldCheckpoint[] = [];
    k.kldunload("inet6", { force: true, dependents: true, onCheckpoint: (c) => seen.push(c) });
    assert.deepEqual(seen.map((c) => `${c.name}:${c.state}`), [
      "tcp:quiescing", "tcp:cleaning", "tcp:gone", "inet6:quiescing", "inet6:cleaning", "inet6:gone",
    ]);
    const c6 = seen.filter((c) => c.name === "inet6");
    assert.ok(c6[0].items > 4 * P && c6[0].callouts >= P, `quiescing: inet6 still holds items and timers in every vnet (${c6[0].items}, ${c6[0].callouts})`);
    assert.deepEqual([seen[0].connections, seen[0].callouts > 0], [20, true], "tcp's connections, both ends, and their timers before clean-up");
    assert.deepEqual([c6[1].items, c6[1].callouts], [0, 0], "cleaning: no address, neighbour, reassembly queue or timer left in any of the 1,000 vnets");
    assert.deepEqual([c6[2].items, c6[2].zones, c6[2].callouts, c6[2].tableNulled], [0, 0, 0, true]);
    assert.equal(seen[1].connections, 0);
    await new Promise((r) => setImmediate(r));
    assert.ok(conns.every((s) => s.closed), "every TCP socket was closed");
    assert.deepEqual(k.kldstat({ verbose: true }).filter((r) => r.state === "gone").map((r) => r.name).sort(), ["inet6", "tcp"]);
    assert.equal(udpRound(ps, tx, rx, "v4-after-unload"), P, "IPv4 goes on");
    await assert.rejects(ping6(k, ps[0].A, "fd00::2", { count: 1 }));

    await k.kldload("inet6");
    addAddress6(k, ps[0].ea, "fd00::1/64");
    addAddress6(k, ps[0].eb, "fd00::2/64");
    assert.equal((await ping6(k, ps[0].A, "fd00::2", { count: 1 })).received, 1);
    for (const s of [...rx, ...tx]) s.close();
    for (const p of ps) {
      p.A.destroy();
      p.B.destroy();
    }
    assert.equal(mbufsInUse(k), 0);
    assert.equal(k.k.callout_pending_count(), 0);
    k.shutdown();
  });

  test("force unload inet with its dependents first (ipfw by the link map, tcp and udp by its protocol switch): each passes its checkpoints, IPv6 goes on, 0 items; reload and connect over IPv4", async () => {
    const k = await Kernel.boot({ config: ["if_epair", "inet", "inet6", "tcp", "udp", "ipfw"], seed: 6 });
    const [{ A, B, ea, eb }] = pairs(k, 1);
    // ipfw denies by default: a rule in each vnet (kept in ipfw's zones until its clean-up).
    for (const v of [A, B]) await ipfwCommand(kernelIpfwBackend(k, v), "add allow ip from any to any");
    addAddress6(k, ea, "fd00::1/64");
    addAddress6(k, eb, "fd00::2/64");
    const l4 = B.socket("inet", "stream").bind("0.0.0.0", 80).listen(4);
    const c4 = A.socket("inet", "stream");
    c4.connect("10.0.0.2", 80);
    let a4 = l4.accept();
    for (let i = 0; i < 10 && !a4; i++) await settle([k], 2, 100_000), (a4 = l4.accept());
    assert.ok(a4, "the IPv4 connection was accepted");
    const u4 = B.socket("inet", "dgram").bind("0.0.0.0", 9);
    const socks = [l4, c4, a4, u4];
    const errs: string[] = [];
    for (const s of socks) s.on("error", (e) => errs.push((e as SocketError).code));
    assert.throws(() => k.kldunload("inet"), ModuleDependencyError);
    const seen: KldCheckpoint[] = [];
    k.kldunload("inet", { force: true, dependents: true, onCheckpoint: (c) => seen.push(c) });
    assert.deepEqual(seen.filter((c) => c.state === "gone").map((c) => c.name), ["ipfw", "tcp", "udp", "inet"], "dependents first");
    assert.equal(seen.length, 12, "three checkpoints each");
    for (const c of seen.filter((x) => x.state === "gone")) {
      assert.deepEqual([c.name, c.sockets, c.items, c.zones, c.callouts, c.tableNulled], [c.name, 0, 0, 0, 0, true]);
    }
    const inetClean = seen.find((c) => c.name === "inet" && c.state === "cleaning")!;
    assert.deepEqual([inetClean.items, inetClean.callouts], [0, 0], "inet's addresses, ARP entries and timers went at clean-up");
    await new Promise((r) => setImmediate(r));
    assert.ok(socks.every((s) => s.closed), "every socket closed");
    // Both ends of the connection were here: one saw the other's RST, the other was aborted.
    assert.deepEqual(errs.sort(), ["ECONNABORTED", "ECONNABORTED", "ECONNABORTED", "ECONNRESET"], "listener, one end and the UDP socket aborted; the other end saw the RST");
    assert.equal((await ping6(k, A, "fd00::2", { count: 1 })).received, 1, "IPv6 goes on");
    await k.kldload("inet");
    await k.kldload("tcp");
    addAddress(k, ea, "10.0.0.1/24");
    addAddress(k, eb, "10.0.0.2/24");
    const l = B.socket("inet", "stream").bind("0.0.0.0", 80).listen(4);
    const c = A.socket("inet", "stream");
    c.connect("10.0.0.2", 80);
    let a = l.accept();
    for (let i = 0; i < 10 && !a; i++) await settle([k], 2, 100_000), (a = l.accept());
    assert.ok(a, "the IPv4 connection was accepted after the reload");
    assert.equal(c.send("v4 again"), 8);
    await settle([k], 2, 1000);
    assert.equal(Buffer.from(a.recv()!).toString(), "v4 again");
    for (const s of [l, c, a]) s.close();
    A.destroy();
    B.destroy();
    assert.equal(mbufsInUse(k), 0);
    k.shutdown();
  });
});

describe("unload orders the linker does not choose", () => {
  test("tcp forced out after its network layer was: the RSTs it cannot send are dropped, not a trap; nothing leaks", async () => {
    const k = await Kernel.boot({ config: ["if_epair", "inet", "tcp"], seed: 8 });
    const [{ A, B }] = pairs(k, 1);
    const l = B.socket("inet", "stream").bind("0.0.0.0", 80).listen(4);
    const c = A.socket("inet", "stream");
    c.connect("10.0.0.2", 80);
    let a = l.accept();
    for (let i = 0; i < 10 && !a; i++) await settle([k], 2, 100_000), (a = l.accept());
    assert.ok(a, "connected");
    k.kldunload("inet", { force: true }); // tcp stays, IPv4 is gone under it
    const seen: KldCheckpoint[] = [];
    k.kldunload("tcp", { force: true, onCheckpoint: (cp) => seen.push(cp) });
    assert.deepEqual(seen.map((cp) => [cp.state, cp.connections ?? "-", cp.items, cp.callouts]), [
      ["quiescing", 2, 3, seen[0].callouts], ["cleaning", 0, 0, 0], ["gone", "-", 0, 0],
    ]);
    await new Promise((r) => setImmediate(r));
    assert.ok([l, c, a].every((s) => s.closed));
    A.destroy();
    B.destroy();
    assert.equal(mbufsInUse(k), 0);
    k.shutdown();
  });
});

describe("the shell's kldstat -v and kldunload -s / -f / -d", () => {
  test("state and counts per module, one line per checkpoint, gone rows with the table nulled", async () => {
    const k = await Kernel.boot({ config: ["if_epair", "inet", "inet6", "tcp", "udp"], seed: 7 });
    const [{ A }] = pairs(k, 1);
    const cmds = new Commands(k);
    const a = { name: "a", vnet: A };
    const u = A.socket("inet", "dgram").bind("0.0.0.0", 9);
    assert.match(await cmds.exec(a, "kldstat -v"), /^Id\s+Name\s+State\s+Conns\s+Listen\s+Sockets\s+Items\s+Zones\s+Callouts\s+Table$/m);
    assert.match(await cmds.exec(a, "kldstat -v"), /^\s*\d+\s+udp\s+loaded\s+-\s+-\s+1\s+1\s+1\s+0\s+live$/m);
    await assert.rejects(cmds.exec(a, "kldunload udp"), /module is busy: 1 user/);
    assert.equal(await cmds.exec(a, "kldunload -s udp"), "");
    assert.match(await cmds.exec(a, "kldstat -v"), /^\s*\d+\s+udp\s+quiescing\s/m);
    assert.equal(await cmds.exec(a, "kldunload -f udp"), [
      "udp: quiescing: 1 sockets, 1 items, 1 zones, 0 callouts",
      "udp: cleaning: 1 sockets, 0 items, 1 zones, 0 callouts",
      "udp: gone: 0 sockets, 0 items, 0 zones, 0 callouts, table nulled",
    ].join("\n"));
    assert.ok(u.closed);
    assert.match(await cmds.exec(a, "kldstat -v"), /^\s*\d+\s+udp\s+gone\s+-\s+-\s+0\s+0\s+0\s+0\s+nulled$/m);
    await assert.rejects(cmds.exec(a, "kldunload -d inet6"), /-d \(dependents first\) goes with -f/);
    const out = (await cmds.exec(a, "kldunload -f -d inet6")).split("\n").map((l) => l.split(":").slice(0, 2).join(":"));
    assert.deepEqual(out, ["tcp: quiescing", "tcp: cleaning", "tcp: gone", "inet6: quiescing", "inet6: cleaning", "inet6: gone"]);
    await cmds.exec(a, "kldload udp");
    assert.doesNotMatch(await cmds.exec(a, "kldstat -v"), /udp\s+gone/, "a module loaded again is not gone");
    k.shutdown();
  });
});

