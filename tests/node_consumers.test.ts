// Node consumers (issue 10): HTTP clients in plain Node code that go through a vnet, and an
// AbortSignal on ping/traceroute. An unmodified node:http server in vnet B; http.get from
// vnet A through vnetAgent(A), and the global fetch through vnetDispatcher(A) (undici, an
// optional peer dependency, installed here as a dev dependency). Every test ends with the
// sockets closed, TIME_WAIT run out and both vnets destroyed with nothing leaked.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import https from "node:https";
import { Kernel, vnetAgent, vnetDispatcher, vnetConnector, ping, traceroute, addAddress, addRoute, delRoute, AbortError, type PingResult, type TracerouteResult, type Interface, type Vnet, type VirtualClock } from "../host/index.js";
import { twoHosts } from "./helpers/inet.js";
import { idleClock } from "./helpers/net.js";
import { snapshot } from "./helpers/snapshot.js";

const SERVER = "10.0.0.2";

interface World {
  k: Kernel;
  A: Vnet;
  B: Vnet;
  /** A's end of the epair. */
  ea: Interface;
  /** The remote address of every connection the server accepted, in order. */
  conns: string[];
  done(): Promise<void>;
}

const settle = (ms = 5) => new Promise((r) => setTimeout(r, ms));

/** A (10.0.0.1) and B (10.0.0.2) on an epair with TCP; an http.Server in B on port 80. */
async function world(): Promise<World> {
  const { k, A, B, ea } = await twoHosts(1, ["if_epair", "inet", "tcp"]);
  // A's first ping gives it the page its ping log lives in, kept until the vnet goes: ping
  // once before the snapshot; then let ARP's entries expire.
  await ping(k, A, SERVER, { count: 1 });
  (k.clock as VirtualClock).runUntilIdle();
  const stop = idleClock(k);
  k.reclaim();
  const before = snapshot(k);
  const conns: string[] = [];
  const web = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on("data", (d: Buffer) => parts.push(d));
    req.on("end", () => {
      res.setHeader("x-served-by", "B");
      res.end(`${req.method} ${req.url} from ${req.socket.remoteAddress} to ${req.socket.localAddress}${parts.length ? `: ${Buffer.concat(parts)}` : ""}`);
    });
  });
  const listener = B.net.createServer((s) => {
    conns.push(s.remoteAddress ?? "?");
    web.emit("connection", s);
  });
  await new Promise<void>((r) => listener.listen(80, SERVER, r));
  return {
    k, A, B, ea, conns,
    async done() {
      await new Promise<void>((r) => listener.close(() => r()));
      await settle();
      assert.equal(k.sockets.size, 0, "every socket closed");
      stop();
      (k.clock as VirtualClock).runUntilIdle(); // TIME_WAIT and friends expire
      k.reclaim();
      assert.deepEqual(snapshot(k), before, "nothing left in the kernel: no socket, tcpcb, mbuf, route or callout");
      A.destroy(); // throws a LeakError if the vnet still owned anything
      B.destroy();
      k.shutdown();
    },
  };
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  reused: boolean;
}

function get(opts: http.RequestOptions): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.get(opts, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body, reused: req.reusedSocket }));
      res.on("error", reject);
    });
    req.on("error", reject);
  });
}

describe("vnetAgent: node:http clients through a vnet", () => {
  test("http.get through vnetAgent(A) reaches the server in B and reads the body", async () => {
    const w = await world();
    const agent = vnetAgent(w.A);
    const r = await get({ host: SERVER, port: 80, path: "/hello", agent });
    assert.equal(r.status, 200);
    assert.equal(r.headers["x-served-by"], "B");
    assert.equal(r.body, "GET /hello from 10.0.0.1 to 10.0.0.2");
    assert.deepEqual(w.conns, ["10.0.0.1"], "one connection, from vnet A's address");
    agent.destroy();
    await w.done();
  });

  test("keep-alive: three GETs over one connection (the server accepts once)", async () => {
    const w = await world();
    const agent = vnetAgent(w.A, { keepAlive: true, maxSockets: 1 });
    const replies: Reply[] = [];
    for (const p of ["/1", "/2", "/3"]) replies.push(await get({ host: SERVER, path: p, agent }));
    assert.deepEqual(replies.map((r) => r.body), ["/1", "/2", "/3"].map((p) => `GET ${p} from 10.0.0.1 to 10.0.0.2`));
    assert.deepEqual(replies.map((r) => r.reused), [false, true, true]);
    assert.equal(replies[0]!.headers.connection, "keep-alive");
    assert.equal(w.conns.length, 1, "the server accepted one connection");
    agent.destroy(); // closes the idle keep-alive socket
    await w.done();
  });

  test("errors reach the request: ECONNREFUSED for a closed port; https refuses an http agent", async () => {
    const w = await world();
    const agent = vnetAgent(w.A);
    await assert.rejects(get({ host: SERVER, port: 81, agent }), (e: NodeJS.ErrnoException) => e.code === "ECONNREFUSED" && e.message === "connect ECONNREFUSED 10.0.0.2:81");
    assert.throws(() => https.get({ host: SERVER, agent: agent as unknown as https.Agent }), { code: "ERR_INVALID_PROTOCOL" });
    agent.destroy();
    await w.done();
  });
});

describe("vnetDispatcher: fetch() through a vnet (undici)", () => {
  test("fetch with the dispatcher reaches the server in B: status, headers, body; a POST carries its body", async () => {
    const w = await world();
    const dispatcher = vnetDispatcher(w.A);
    const r = await fetch(`http://${SERVER}/index.html`, { dispatcher } as RequestInit);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("x-served-by"), "B");
    assert.equal(await r.text(), "GET /index.html from 10.0.0.1 to 10.0.0.2");
    const p = await fetch(`http://${SERVER}/post`, { method: "POST", body: JSON.stringify({ a: 1 }), headers: { "content-type": "application/json" }, dispatcher } as RequestInit);
    assert.equal(await p.text(), `POST /post from 10.0.0.1 to 10.0.0.2: {"a":1}`);
    await dispatcher.close();
    await w.done();
  });

  test("keep-alive: three fetches over one connection (the server accepts once)", async () => {
    const w = await world();
    const dispatcher = vnetDispatcher(w.A);
    for (const p of ["/1", "/2", "/3"]) {
      const r = await fetch(`http://${SERVER}${p}`, { dispatcher } as RequestInit);
      assert.equal(await r.text(), `GET ${p} from 10.0.0.1 to 10.0.0.2`);
      // undici frees its connection from a setImmediate queued when the response ends (over
      // real sockets too): a fetch before that runs opens a second connection. An immediate
      // queued now runs after undici's.
      await new Promise((r) => setImmediate(r));
    }
    assert.deepEqual(w.conns, ["10.0.0.1"], "the server accepted one connection");
    await dispatcher.close();
    await w.done();
  });

  test("fetch errors: ECONNREFUSED as fetch's TypeError cause; https: refused by the connector, not sent in plaintext", async () => {
    const w = await world();
    const dispatcher = vnetDispatcher(w.A);
    await assert.rejects(fetch(`http://${SERVER}:81/`, { dispatcher } as RequestInit), (e: Error) => e instanceof TypeError && (e.cause as NodeJS.ErrnoException).code === "ECONNREFUSED");
    await assert.rejects(fetch(`https://${SERVER}/`, { dispatcher } as RequestInit), (e: Error) => e instanceof TypeError && /plain http: only/.test(String((e.cause as Error).message)));
    assert.deepEqual(w.conns, [], "nothing reached the server");
    await dispatcher.close();
    await w.done();
  });

  test("vnetConnector serves undici's Pool directly; the undici module can be passed in", async () => {
    const w = await world();
    const { Pool, Agent } = await import("undici");
    const pool = new Pool(`http://${SERVER}`, { connect: vnetConnector(w.A) });
    const r = await pool.request({ path: "/pool", method: "GET" });
    assert.equal(await r.body.text(), "GET /pool from 10.0.0.1 to 10.0.0.2");
    await pool.close();
    let made = 0;
    const dispatcher = vnetDispatcher(w.A, { undici: { Agent: class extends Agent { constructor(o: ConstructorParameters<typeof Agent>[0]) { made++; super(o); } } }, agent: { connections: 1 } });
    assert.equal(await (await fetch(`http://${SERVER}/own`, { dispatcher } as RequestInit)).text(), "GET /own from 10.0.0.1 to 10.0.0.2");
    assert.equal(made, 1);
    await dispatcher.close();
    await w.done();
  });
});

/** Timers and immediates Node holds right now (what would keep it alive). */
function timers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === "Timeout" || r === "Immediate").length;
}

describe("AbortSignal on ping and traceroute", () => {
  test("an already-aborted signal rejects with AbortError (cause = reason) and sends nothing", async () => {
    const w = await world();
    const reason = new Error("not now");
    const signal = AbortSignal.abort(reason);
    const sentBefore = w.ea.counters().opackets;
    await assert.rejects(ping(w.k, w.A, SERVER, { signal }), (e: Error) => e instanceof AbortError && e.name === "AbortError" && (e as AbortError).code === "ABORT_ERR" && e.cause === reason);
    await assert.rejects(traceroute(w.k, w.A, SERVER, { signal }), (e: Error) => e.name === "AbortError" && e.cause === reason);
    assert.equal(w.ea.counters().opackets, sentBefore, "nothing was sent");
    await w.done();
  });

  test("virtual clock: a ping of 60000 probes aborted by AbortSignal.timeout stops early, with the statistics so far", async () => {
    const w = await world();
    const signal = AbortSignal.timeout(30);
    const t0 = performance.now();
    const e = await ping(w.k, w.A, SERVER, { count: 60_000, intervalMs: 1000, signal }).then(() => assert.fail("resolved"), (x: unknown) => x as AbortError<PingResult>);
    assert.equal(e.name, "AbortError");
    assert.equal((e.cause as Error).name, "TimeoutError", "cause: the signal's reason");
    assert.ok(performance.now() - t0 < 5000, "stopped soon after the abort");
    const r = e.partial!;
    assert.ok(r.transmitted >= 1 && r.transmitted < 60_000, `transmitted ${r.transmitted}`);
    assert.ok(r.received >= r.transmitted - 1, `received ${r.received} of ${r.transmitted}`);
    assert.match(r.text, new RegExp(`^${r.transmitted} packets transmitted, ${r.received} packets received`, "m"));
    await w.done();
  });

  test("real clock: aborting while waiting for replies clears the timer at once; nothing is left behind", async () => {
    const held = timers();
    const w2 = await twoHostsReal();
    addRoute(w2.k, w2.A, "10.9.0.0/24", { gateway: SERVER }); // B does not forward: silence
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 30);
    const t0 = performance.now();
    const e = await ping(w2.k, w2.A, "10.9.0.1", { count: 2, intervalMs: 10, timeoutMs: 10_000, signal: ac.signal }).then(() => assert.fail("resolved"), (x: unknown) => x as AbortError<PingResult>);
    const took = performance.now() - t0;
    assert.equal(e.name, "AbortError");
    assert.ok(took < 5000, `rejected ${took.toFixed(0)} ms after starting, not after the 10 s timeout`);
    assert.ok(e.partial!.transmitted >= 1 && e.partial!.transmitted <= 2, `transmitted ${e.partial!.transmitted}`);
    assert.equal(e.partial!.received, 0);
    // traceroute aborted the same way, mid-probe
    const ac2 = new AbortController();
    setTimeout(() => ac2.abort(), 30);
    const te = await traceroute(w2.k, w2.A, "10.9.0.1", { timeoutMs: 10_000, signal: ac2.signal }).then(() => assert.fail("resolved"), (x: unknown) => x as AbortError<TracerouteResult>);
    assert.equal(te.name, "AbortError");
    assert.deepEqual(te.partial!.hops, [], "no hop finished");
    assert.equal(te.partial!.reached, false);
    w2.A.destroy();
    w2.B.destroy();
    w2.k.shutdown();
    await settle(1);
    assert.equal(timers(), held, "no timer of ping's left");
  });

  test("virtual clock: traceroute into silence, aborted, returns the hops done so far", async () => {
    const w = await world();
    addRoute(w.k, w.A, "10.9.0.0/24", { gateway: SERVER });
    const signal = AbortSignal.timeout(50);
    const e = await traceroute(w.k, w.A, "10.9.0.1", { maxHops: 255, timeoutMs: 5000, signal }).then(() => assert.fail("resolved"), (x: unknown) => x as AbortError<TracerouteResult>);
    assert.equal(e.name, "AbortError");
    const r = e.partial!;
    assert.ok(r.hops.length < 255);
    for (const h of r.hops) assert.deepEqual(h.probes, [{}, {}, {}], "B drops what it does not forward: every probe unanswered");
    assert.equal(r.text.split("\n").length, 1 + r.hops.length);
    delRoute(w.k, w.A, "10.9.0.0/24");
    await w.done();
  });
});

/** twoHosts on a real clock. */
async function twoHostsReal() {
  const k = await Kernel.boot({ config: ["if_epair", "inet"], clock: "real" });
  const A = k.createVnet("A");
  const B = k.createVnet("B");
  const [ea, eb] = k.epair(A, B);
  ea.setUp();
  eb.setUp();
  addAddress(k, ea, "10.0.0.1/24");
  addAddress(k, eb, "10.0.0.2/24");
  return { k, A, B };
}
