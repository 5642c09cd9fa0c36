// One address-family interface (issue 12): inet registers its entry table with the kernel
// as inet6 does (domain_af_register, sys/in.ts INAPI_*), and TCP and UDP reach both families
// through those tables, importing no network module. So tcp and udp load in a NOINET kernel
// (IPv6 only), a family's kldunload is refused by its MOD_QUIESCE while a transport holds
// its protocol switch (the message names the transport), a transport with no family to
// serve refuses to load, and a forced unload of a family under a transport leaves the
// transport working over the other family.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Kernel, KernelError, ModuleBusyError, SocketError, type Vnet } from "../host/index.js";
import { addAddress } from "../host/admin/inet.js";
import { addAddress6 } from "../host/admin/inet6.js";
import { snapshot } from "./helpers/snapshot.js";
import { mbufsInUse } from "./helpers/inet.js";
import linkmap from "../host/kern/linkmap_data.js";
import { plan, CONFIGS } from "../scripts/test-configs.mjs";

const text = (b: Uint8Array) => Buffer.from(b).toString();

function pair(k: Kernel, four: boolean, six: boolean) {
  const A = k.createVnet("A");
  const B = k.createVnet("B");
  const [ea, eb] = k.epair(A, B);
  ea.setUp();
  eb.setUp();
  if (four) {
    addAddress(k, ea, "10.0.0.1/24");
    addAddress(k, eb, "10.0.0.2/24");
  }
  if (six) {
    addAddress6(k, ea, "fd00::1/64");
    addAddress6(k, eb, "fd00::2/64");
  }
  return { A, B };
}

/** A TCP connection A -> B at host:port through the socket API; "hello" crosses it both ways. */
function tcpEcho(k: Kernel, A: Vnet, B: Vnet, family: "inet" | "inet6", host: string, port: number): void {
  const lsn = B.socket(family, "stream").bind(family === "inet" ? "0.0.0.0" : "::", port).listen(4);
  const cli = A.socket(family, "stream");
  cli.connect(host, port);
  const srv = lsn.accept();
  assert.ok(srv, `B accepted the ${family} connection`);
  assert.equal(cli.send("hello"), 5);
  assert.equal(text(srv.recv()!), "hello");
  assert.equal(srv.send("olleh"), 5);
  assert.equal(text(cli.recv()!), "olleh");
  for (const s of [cli, srv, lsn]) s.close();
}

function udpEcho(A: Vnet, B: Vnet, family: "inet" | "inet6", host: string, port: number): void {
  const srv = B.socket(family, "dgram");
  srv.bind(family === "inet" ? "0.0.0.0" : "::", port);
  const cli = A.socket(family, "dgram");
  assert.equal(cli.sendto("ping", host, port), 4);
  const d = srv.recvfrom();
  assert.ok(d, `B received the ${family} datagram`);
  assert.equal(text(d.data), "ping");
  cli.close();
  srv.close();
}

describe("one address-family interface", () => {
  test("tcp.wasm and udp.wasm import from no network module (only env and kernel), and the link map gives them no dependency", () => {
    for (const m of ["tcp", "udp"]) {
      const mod = new WebAssembly.Module(readFileSync(new URL(`../build/modules/${m}.wasm`, import.meta.url)));
      const from = [...new Set(WebAssembly.Module.imports(mod).map((i) => i.module))].sort();
      assert.deepEqual(from, ["env", "kernel"], `${m}.wasm imports from ${from.join(", ")}`);
      assert.deepEqual(linkmap.modules[m]!.depends, [], `${m} depends on ${linkmap.modules[m]!.depends.join(", ")}`);
    }
    assert.deepEqual(linkmap.configs.NOINET!.filter((m) => m === "tcp" || m === "udp" || m === "inet"), ["tcp", "udp"], "NOINET has the transports and no inet");
  });

  test("NOINET: TCP and UDP over IPv6 between two vnets; AF_INET sockets are EAFNOSUPPORT; nothing left", async () => {
    const k = await Kernel.boot({ config: "NOINET", seed: 3 });
    assert.equal(k.linker.isLoaded("inet"), false);
    const { A, B } = pair(k, false, true);
    k.reclaim();
    const before = snapshot(k);
    tcpEcho(k, A, B, "inet6", "fd00::2", 80);
    udpEcho(A, B, "inet6", "fd00::2", 53);
    for (const type of ["stream", "dgram"] as const) {
      assert.throws(() => A.socket("inet", type), (e: unknown) => (e as { code?: string }).code === "EAFNOSUPPORT", `inet ${type}`);
    }
    (k.clock as import("../host/index.js").VirtualClock).runUntilIdle(200_000_000); // TIME_WAIT runs out
    k.reclaim();
    const transport = (z: string[]) => z.filter((x) => /^(tcpcb|tcpsb|tcpsack|syncache|udp_inpcb|socket|mbuf|mbuf_cluster):/.test(x));
    assert.deepEqual(transport(snapshot(k).zones), transport(before.zones), "no socket, pcb or mbuf left");
    k.kldunload("udp");
    k.kldunload("tcp");
    k.kldunload("inet6");
    A.destroy();
    B.destroy();
    assert.equal(mbufsInUse(k), 0);
    k.shutdown();
  });

  test("kldunload inet and inet6 are refused by MOD_QUIESCE while tcp and udp hold their protocol switches, and the message names them", async () => {
    const k = await Kernel.boot({ config: ["if_epair", "inet", "inet6", "tcp", "udp"] });
    for (const fam of ["inet", "inet6"]) {
      assert.throws(() => k.kldunload(fam), (e: unknown) => e instanceof ModuleBusyError &&
        (e as Error).message === `kldunload ${fam}: module is busy: tcp, udp are registered with its protocol switch; unload them first, or unload with force`);
    }
    k.kldunload("udp");
    assert.throws(() => k.kldunload("inet"), (e: unknown) => e instanceof ModuleBusyError && /: tcp is registered with its protocol switch; unload it first/.test((e as Error).message));
    k.kldunload("tcp");
    k.kldunload("inet"); // a LeakError here would name what the family left behind
    k.kldunload("inet6");
    assert.deepEqual(k.kldstat().map((m) => m.name), ["if_epair"]);
    // And back, in the configurations' order: the transports find both tables again.
    await k.kldload("inet");
    await k.kldload("inet6");
    await k.kldload("tcp");
    await k.kldload("udp");
    const { A, B } = pair(k, true, true);
    tcpEcho(k, A, B, "inet", "10.0.0.2", 80);
    tcpEcho(k, A, B, "inet6", "fd00::2", 81);
    udpEcho(A, B, "inet", "10.0.0.2", 53);
    udpEcho(A, B, "inet6", "fd00::2", 54);
    k.shutdown();
  });

  test("kldload tcp or udp with no network layer in the kernel is refused (EAFNOSUPPORT, saying what to load) and leaves nothing", async () => {
    const k = await Kernel.boot({ config: ["if_epair"] });
    k.createVnet("A");
    k.reclaim();
    const before = snapshot(k);
    for (const m of ["tcp", "udp"]) {
      await assert.rejects(k.kldload(m), (e: unknown) => e instanceof KernelError && (e as KernelError).errno === 47 &&
        (e as Error).message === `kldload ${m}: no address family to serve: load inet or inet6 before ${m}: EAFNOSUPPORT`);
      assert.equal(k.linker.isLoaded(m), false);
      k.reclaim();
      assert.deepEqual(snapshot(k), before, `${m}: nothing left`);
    }
    await k.kldload("inet6");
    await k.kldload("tcp"); // IPv6 alone is enough
    k.shutdown();
  });

  test("a forced kldunload inet under tcp and udp: their IPv4 output fails with ENETUNREACH instead of calling a module that is gone; IPv6 goes on", async () => {
    const k = await Kernel.boot({ config: ["if_epair", "inet", "inet6", "tcp", "udp"], seed: 4 });
    const { A, B } = pair(k, true, true);
    const u4 = A.socket("inet", "dgram");
    const t4 = A.socket("inet", "stream");
    k.kldunload("inet", { force: true });
    assert.equal(k.linker.isLoaded("inet"), false);
    assert.throws(() => u4.sendto("lost", "10.0.0.2", 9), (e: unknown) => e instanceof SocketError && e.code === "ENETUNREACH");
    assert.throws(() => t4.connect("10.0.0.2", 80), (e: unknown) => e instanceof SocketError && e.code === "ENETUNREACH");
    tcpEcho(k, A, B, "inet6", "fd00::2", 80);
    udpEcho(A, B, "inet6", "fd00::2", 53);
    u4.close();
    t4.close();
    k.kldunload("udp");
    k.kldunload("tcp");
    A.destroy();
    B.destroy();
    assert.equal(mbufsInUse(k), 0);
    k.shutdown();
  });

  test("scripts/test-configs.mjs: GENERIC runs the TCP and UDP suites of both families, NOINET6 of IPv4, NOINET of IPv6, BARE the link layer", () => {
    const p = plan(Object.fromEntries(CONFIGS.map((c: string) => [c, linkmap.configs[c]!])));
    const what = (c: string) => p[c].map((s: { what: string }) => s.what);
    assert.deepEqual(what("GENERIC"), ["TCP over IPv4", "UDP over IPv4", "TCP over IPv6", "UDP over IPv6"]);
    assert.deepEqual(what("NOINET6"), ["TCP over IPv4", "UDP over IPv4"]);
    assert.deepEqual(what("NOINET"), ["TCP over IPv6", "UDP over IPv6"]);
    assert.deepEqual(what("BARE"), ["link layer"]);
  });
});
