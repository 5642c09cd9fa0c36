// A lab's binaries compiled by the page and handed to its worker (host/web/early.ts,
// handedModuleSource, LabServer's `handed`): what is announced is waited for and never
// fetched, what is not is fetched, a binary handed without a module falls back to a fetch,
// and anything else handed is ignored and counted; a LabServer fed this way brings a lab up.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { bytesModuleSource, handedModuleSource, type ModuleSource } from "../host/core.js";
import { LabServer } from "../host/web/server.js";
import { LabClient } from "../host/web/client.js";
import { labWorkerName, readLabWorkerName, isWasmHand } from "../host/web/early.js";
import linkmap from "../host/kern/linkmap_data.js";

const build = new URL("../build/", import.meta.url);
const GENERIC = linkmap.configs.GENERIC!;
const bytes = (name: string) => readFileSync(new URL(name === "kernel" ? "kernel.wasm" : `modules/${name}.wasm`, build));
const compiled = (name: string) => WebAssembly.compile(bytes(name));

/** A source over build/'s binaries that counts what is asked of it. */
function counting(): ModuleSource & { asked: string[] } {
  const inner = bytesModuleSource({ kernel: bytes("kernel"), modules: Object.fromEntries(GENERIC.map((n) => [n, bytes(n)])) });
  const asked: string[] = [];
  return {
    asked,
    kernel: () => (asked.push("kernel"), inner.kernel()),
    module: (n) => (asked.push(n), inner.module(n)),
  };
}

const settled = async (p: Promise<unknown>) => Promise.race([p.then(() => true), new Promise((r) => setTimeout(() => r(false), 50))]);

test("announced binaries are waited for and come from hand, never from the fallback; others are fetched", async () => {
  const fb = counting();
  const src = handedModuleSource(fb, ["kernel", "inet"]);
  const k = src.kernel();
  assert.equal(await settled(k), false, "the kernel waits for its hand");
  const m = await compiled("kernel");
  src.hand("kernel", m);
  assert.equal(await k, m, "the very module handed");
  assert.equal(await src.kernel(), m);
  await src.module("udp");
  assert.deepEqual(fb.asked, ["udp"], "only the binary not announced was fetched");
  // Handed without a module (the page could not compile it): fetched after all.
  const inet = src.module("inet");
  src.hand("inet");
  assert.ok((await inet) instanceof WebAssembly.Module);
  assert.deepEqual(fb.asked, ["udp", "inet"]);
  // A second hand, and a name never announced, are ignored and counted.
  src.hand("kernel", await compiled("inet"));
  src.hand("tcp", await compiled("tcp"));
  assert.equal(src.ignored, 2);
  assert.equal(await src.kernel(), m, "the second hand changed nothing");
});

test("the worker's name carries the binaries' folder and the handed list", () => {
  const name = labWorkerName("http://127.0.0.1:8080/lab/wasm/", ["kernel", "inet"]);
  assert.deepEqual(readLabWorkerName(name), { base: "http://127.0.0.1:8080/lab/wasm/", handed: ["kernel", "inet"] });
  assert.deepEqual(readLabWorkerName("http://x/wasm/"), { base: "http://x/wasm/", handed: [] });
  assert.deepEqual(readLabWorkerName("lab"), { handed: [] }, "a name that is no URL gives no folder");
  assert.deepEqual(readLabWorkerName("http://x/wasm/#handed=kernel,../evil,inet"), { base: "http://x/wasm/", handed: ["kernel", "inet"] }, "only module-like names");
  assert.equal(isWasmHand({ wasm: "inet" }), true);
  assert.equal(isWasmHand({ id: 1, op: "hello", wasm: "inet" }), false, "a request is never a hand");
});

test("a LabServer whose page hands it the kernel and GENERIC's modules brings a lab up without fetching them", async () => {
  const fb = counting();
  const handed = ["kernel", ...GENERIC];
  let client!: LabClient;
  const server = new LabServer((m) => queueMicrotask(() => client.receive(m)), { source: fb, handed, prefetch: "GENERIC" });
  client = new LabClient({ postMessage: (m: unknown) => void server.handle(m) });
  const yaml = readFileSync(new URL("../examples/demo.yaml", import.meta.url), "utf8");
  const loading = client.request("load", { yaml, file: "demo.yaml" });
  assert.equal(await settled(loading), false, "the load waits for the binaries");
  for (const n of handed) await server.handle({ wasm: n, module: await compiled(n) });
  const info = await loading;
  try {
    assert.equal(info.nodes.length, 6);
    await client.request("time", { speed: Infinity, playing: true });
    const r = await client.request("shell", { node: "c1", line: "ping -c 1 10.2.0.80" });
    assert.match(r.out, /1 packets transmitted, 1 packets received/);
    assert.deepEqual(fb.asked, [], "nothing was fetched: every binary the lab booted was handed");
  } finally {
    // A lab left up keeps its timers (and this process) running.
    await client.request("unload");
  }
});
