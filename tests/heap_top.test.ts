// No garbage after boot, for every module on the packet path (issue 14): the runtime heap's
// top of the kernel and of each loaded module does not move while traffic runs through all
// of them (bridge, epair, inet, inet6, tcp, udp). And the runtime guard: a module whose
// runtime heap would leave its link-map window is stopped (assembly/rt/stub.ts), naming it,
// before it writes a byte of its neighbour's window.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { Kernel, KernelPanic, type Vnet, type Interface } from "../host/index.js";
import { addAddress } from "../host/admin/inet.js";
import { bridgeAdd } from "../host/admin/bridge.js";
import { ping, ping6 } from "../host/admin/ping.js";
import { socket, type Socket } from "../host/sockets/socket.js";
import { step, pattern, sha256, pump } from "./helpers/tcp.js";

type HeapTop = { kmod_heap_top(): number };

/** The runtime heap top of the kernel and of every loaded module, by name. */
function heapTops(k: Kernel): Record<string, number> {
  const tops: Record<string, number> = { kernel: k.heapTop() };
  for (const m of k.kldstat()) tops[m.name] = k.module<HeapTop>(m.name).kmod_heap_top();
  return tops;
}

/** A and C on one segment through a bridge in B: A =epair= B[bridge0] =epair= C. */
function bridged(k: Kernel) {
  const [A, B, C] = ["A", "B", "C"].map((n) => k.createVnet(n));
  const [br] = B.ifcreate("bridge");
  const attach = (h: Vnet, host: string): Interface => {
    const [eh, eb] = B.ifcreate("epair");
    eh.moveTo(h);
    eh.setUp();
    eb.setUp();
    bridgeAdd(k, br, eb);
    addAddress(k, eh, `10.0.0.${host}/24`);
    addAddress(k, eh, `fd00::${host}/64`);
    return eh;
  };
  br.setUp();
  attach(A, "1");
  attach(C, "3");
  return { A, B, C };
}

function tcpTransfer(k: Kernel, from: Vnet, to: Vnet, family: "inet" | "inet6", dst: string, bytes: number): void {
  const lsn = socket(k, to, family, "stream").bind(family === "inet" ? "0.0.0.0" : "::", 80).listen(4);
  const cli = socket(k, from, family, "stream");
  cli.connect(dst, 80);
  let srv: Socket | null = null;
  for (let i = 0; i < 100 && !srv; i++) {
    srv = lsn.accept();
    if (!srv) step(k);
  }
  assert.ok(srv, `${family} connection accepted`);
  const data = pattern(bytes, bytes);
  const r = pump(k, cli, srv, data);
  assert.equal(sha256(r.got), sha256(data), `${family} bytes arrived intact`);
  cli.close();
  srv.close();
  lsn.close();
  for (let i = 0; i < 5; i++) step(k);
}

function udpExchange(k: Kernel, from: Vnet, to: Vnet, family: "inet" | "inet6", dst: string): void {
  const r = socket(k, to, family, "dgram").bind(family === "inet" ? "0.0.0.0" : "::", 7);
  const s = socket(k, from, family, "dgram");
  for (let i = 0; i < 20; i++) {
    s.sendto(pattern(100 + i * 200, i), dst, 7);
    assert.deepEqual(r.recvfrom()?.data, pattern(100 + i * 200, i));
  }
  r.close();
  s.close();
}

describe("no garbage on the packet path: runtime heap tops", () => {
  test("the kernel's and every module's heap top do not move while IPv4, IPv6, TCP, UDP and ICMP cross a bridge", async () => {
    const k = await Kernel.boot({ config: "GENERIC" });
    const { A, C } = bridged(k);
    const before = heapTops(k);
    for (const name of ["if_bridge", "if_epair", "inet", "inet6", "tcp", "udp"]) assert.ok(name in before, `${name} is loaded`);
    assert.equal((await ping(k, A, "10.0.0.3", { count: 5, intervalMs: 10, size: 4000 })).received, 5);
    assert.equal((await ping6(k, A, "fd00::3", { count: 5, intervalMs: 10, size: 4000 })).received, 5);
    tcpTransfer(k, A, C, "inet", "10.0.0.3", 256 << 10);
    tcpTransfer(k, C, A, "inet6", "fd00::1", 256 << 10);
    udpExchange(k, A, C, "inet", "10.0.0.3");
    udpExchange(k, C, A, "inet6", "fd00::1");
    assert.deepEqual(heapTops(k), before);
    k.shutdown();
  });
});

describe("the runtime heap guard", () => {
  test("a module that allocates after load is stopped at its window's end, named, before it writes into its neighbour's window", async () => {
    // kmod_heapgrow's window ends where if_vxlan's begins (assembly/linkmap.json).
    const k = await Kernel.boot({ config: ["if_vxlan", "kmod_heapgrow"] });
    const e = k.linkmap.modules.kmod_heapgrow;
    const end = e.memoryBase + e.memorySize;
    assert.equal(k.linkmap.modules.if_vxlan.memoryBase, end, "the neighbour's window starts at the end of the fixture's");
    const neighbour = () => new Uint8Array(k.memory.buffer, end, k.linkmap.modules.if_vxlan.memorySize).slice();
    const was = neighbour();
    const m = k.module<HeapTop & { heapgrow_alloc(n: number): number }>("kmod_heapgrow");
    // Inside its window the stub heap still hands memory out (the heap-top tests catch that).
    const p = m.heapgrow_alloc(1024) >>> 0;
    assert.ok(p >= e.memoryBase && p + 1024 <= end);
    assert.throws(() => m.heapgrow_alloc(e.memorySize), (err: unknown) => {
      assert.ok(err instanceof KernelPanic, `a KernelPanic, got ${err}`);
      assert.match(err.message, /module kmod_heapgrow/);
      assert.match(err.message, /runtime heap would pass the end of its link-map window/);
      return true;
    });
    assert.deepEqual(neighbour(), was, "not a byte of if_vxlan's window was written");
    assert.ok(m.kmod_heap_top() >>> 0 <= end, "the heap top stayed inside the window");
    k.shutdown();
  });
});
