import { test, describe } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { createHash, randomBytes } from "node:crypto";
import { Kernel, epairConditions, type Interface } from "../host/index.js";
import { netFor, type NetSocket, type VnetNet } from "../host/node/net.js";
import { addAddress } from "../host/admin/inet.js";
import { loadLinkMap } from "../host/kern/linkmap.js";
import { snapshot } from "./helpers/snapshot.js";
import { idleClock } from "./helpers/net.js";
import type { VirtualClock } from "../host/kern/clock.js";

// The proof of issue 5: Node's own, unmodified http server and client over wavnet stream
// sockets. The http.Server never listens: each socket our server accepts is handed to it
// with emit("connection"); the client's sockets come from an Agent whose createConnection
// is our connect(). First over the kmod_proto "pipe" stream protocol (127.0.0.1 in one
// vnet), then over TCP between two vnets on an epair.

const TCP_SKIP = loadLinkMap().modules.tcp ? false : "tcp module not loaded yet (no \"tcp\" in assembly/linkmap.json)";

interface World {
  k: Kernel;
  link?: [Interface, Interface];
  serverNet: VnetNet;
  clientNet: VnetNet;
  /** The address the server listens on and the client connects to. */
  host: string;
  done(): Promise<void>;
}

async function pipeWorld(): Promise<World> {
  const k = await Kernel.boot({ config: ["kmod_proto"] });
  const v = k.createVnet("web");
  k.reclaim();
  const before = snapshot(k);
  const net = netFor(k, v, { protocol: 253 });
  return {
    k, serverNet: net, clientNet: net, host: "127.0.0.1",
    async done() {
      await settle();
      assert.equal(k.sockets.size, 0, "every socket closed");
      k.reclaim();
      assert.deepEqual(snapshot(k), before, "nothing leaked");
      k.shutdown();
    },
  };
}

async function tcpWorld(): Promise<World> {
  const k = await Kernel.boot({ config: ["if_epair", "inet", "tcp"] });
  const A = k.createVnet("A");
  const B = k.createVnet("B");
  const [ea, eb] = k.epair(A, B);
  ea.setUp();
  eb.setUp();
  addAddress(k, ea, "10.0.0.1/24");
  addAddress(k, eb, "10.0.0.2/24");
  const stop = idleClock(k);
  k.reclaim();
  const before = snapshot(k);
  return {
    k, serverNet: netFor(k, A), clientNet: netFor(k, B), host: "10.0.0.1", link: [ea, eb],
    async done() {
      await settle();
      assert.equal(k.sockets.size, 0, "every socket closed");
      stop();
      (k.clock as VirtualClock).runUntilIdle(); // TIME_WAIT and friends expire
      k.reclaim();
      assert.deepEqual(snapshot(k), before, "TIME_WAIT over, the kernel holds what it held before: no socket, tcpcb, mbuf, route or page left");
      A.destroy();
      B.destroy();
      k.shutdown();
    },
  };
}

function settle(): Promise<void> {
  return new Promise((r) => setTimeout(r, 5));
}

/** An http.Server fed by a wavnet server; returns the port and the connections seen. */
async function serve(w: World, handler: http.RequestListener) {
  const httpServer = http.createServer(handler);
  const seen: NetSocket[] = [];
  const server = w.serverNet.createServer((s) => {
    seen.push(s);
    httpServer.emit("connection", s);
  });
  await new Promise<void>((r) => server.listen(0, w.host, r));
  const port = (server.address() as { port: number }).port;
  return {
    port, seen, httpServer,
    /** After the client is done: its connections end from its side, then the server closes. */
    async close() {
      await Promise.all(seen.map((s) => (s.closed ? undefined : new Promise((r) => s.once("close", r)))));
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** An http.Agent whose connections are wavnet sockets. */
function agentFor(w: World, opts: http.AgentOptions = {}): http.Agent {
  const agent = new http.Agent(opts);
  (agent as unknown as { createConnection: unknown }).createConnection = (o: { port: number; host: string }) => w.clientNet.connect({ port: o.port, host: o.host });
  return agent;
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  reused: boolean;
}

function request(opts: http.RequestOptions, body?: Buffer | string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(opts, (res) => {
      const parts: Buffer[] = [];
      res.on("data", (d: Buffer) => parts.push(d));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(parts), reused: req.reusedSocket }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

function handler(req: http.IncomingMessage, res: http.ServerResponse): void {
  const parts: Buffer[] = [];
  req.on("data", (d: Buffer) => parts.push(d));
  req.on("end", () => {
    const body = Buffer.concat(parts);
    if (req.url === "/chunked") {
      res.writeHead(200, { "content-type": "text/plain" });
      for (let i = 0; i < 5; i++) res.write(`chunk ${i};`);
      res.end("last");
      return;
    }
    if (req.method === "POST") {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ length: body.length, sha256: sha256(body) }));
      return;
    }
    res.setHeader("x-served-by", "wavnet");
    res.end(`hello from ${req.socket.localAddress}:${req.socket.localPort} to ${req.socket.remoteAddress}, you asked for ${req.url}`);
  });
}

function suite(name: string, makeWorld: () => Promise<World>, skip: false | string) {
  describe(name, { skip }, () => {
    test("an unmodified http.createServer answers http.request: status, headers and bodies", async () => {
      const w = await makeWorld();
      const srv = await serve(w, handler);
      const agent = agentFor(w);
      const r = await request({ host: w.host, port: srv.port, path: "/index.html", agent });
      assert.equal(r.status, 200);
      assert.equal(r.headers["x-served-by"], "wavnet");
      assert.equal(r.body.toString(), `hello from ${w.host}:${srv.port} to ${srv.seen[0].remoteAddress}, you asked for /index.html`);
      agent.destroy();
      await srv.close();
      await w.done();
    });

    test("keep-alive: two requests on one connection", async () => {
      const w = await makeWorld();
      const srv = await serve(w, handler);
      const agent = agentFor(w, { keepAlive: true, maxSockets: 1 });
      const a = await request({ host: w.host, port: srv.port, path: "/one", agent });
      const b = await request({ host: w.host, port: srv.port, path: "/two", agent });
      assert.match(a.body.toString(), /asked for \/one$/);
      assert.match(b.body.toString(), /asked for \/two$/);
      assert.equal(a.headers.connection, "keep-alive");
      assert.equal(a.reused, false);
      assert.equal(b.reused, true, "the second request went over the first one's socket");
      assert.equal(srv.seen.length, 1, "the server accepted one connection");
      agent.destroy();
      await srv.close();
      await w.done();
    });

    test("a POST with a 1 MB body arrives whole (SHA-256 equal)", async () => {
      const w = await makeWorld();
      const srv = await serve(w, handler);
      const agent = agentFor(w);
      const body = randomBytes(1 << 20);
      const r = await request({ host: w.host, port: srv.port, method: "POST", path: "/upload", agent, headers: { "content-length": body.length } }, body);
      assert.equal(r.status, 200);
      assert.deepEqual(JSON.parse(r.body.toString()), { length: 1 << 20, sha256: sha256(body) });
      assert.ok(srv.seen[0].bytesRead > 1 << 20);
      agent.destroy();
      await srv.close();
      await w.done();
    });

    test("a chunked response (no content-length) is reassembled", async () => {
      const w = await makeWorld();
      const srv = await serve(w, handler);
      const agent = agentFor(w);
      const r = await request({ host: w.host, port: srv.port, path: "/chunked", agent });
      assert.equal(r.headers["transfer-encoding"], "chunked");
      assert.equal(r.headers["content-length"], undefined);
      assert.equal(r.body.toString(), "chunk 0;chunk 1;chunk 2;chunk 3;chunk 4;last");
      agent.destroy();
      await srv.close();
      await w.done();
    });

    test("a request without an agent (http.request's own createConnection) gets Connection: close", async () => {
      const w = await makeWorld();
      const srv = await serve(w, handler);
      const r = await request({ host: w.host, port: srv.port, path: "/bare", createConnection: () => w.clientNet.connect({ port: srv.port, host: w.host }) as unknown as import("node:net").Socket });
      assert.equal(r.status, 200);
      assert.equal(r.headers.connection, "close");
      await settle();
      assert.equal(srv.seen[0].destroyed, true, "the server closed the connection after the response");
      await srv.close();
      await w.done();
    });
  });
}

describe("http over TCP on a bad link", { skip: TCP_SKIP }, () => {
  test("1 ms delay, 2% loss and reordering each way: keep-alive GETs and a 1 MB POST still arrive whole", { timeout: 60_000 }, async () => {
    const w = await tcpWorld();
    for (const l of w.link!) epairConditions(w.k, l, { delayUs: 1000, jitterUs: 200, loss: 0.02, reorder: 0.02 });
    const srv = await serve(w, handler);
    const agent = agentFor(w, { keepAlive: true, maxSockets: 1 });
    const body = randomBytes(1 << 20);
    const r = await request({ host: w.host, port: srv.port, method: "POST", path: "/upload", agent, headers: { "content-length": body.length } }, body);
    assert.deepEqual(JSON.parse(r.body.toString()), { length: 1 << 20, sha256: sha256(body) });
    for (let i = 0; i < 3; i++) {
      const g = await request({ host: w.host, port: srv.port, path: `/again/${i}`, agent });
      assert.match(g.body.toString(), new RegExp(`asked for /again/${i}$`));
      assert.equal(g.reused, true);
    }
    assert.equal(srv.seen.length, 1);
    agent.destroy();
    await srv.close();
    for (const l of w.link!) epairConditions(w.k, l, {});
    await w.done();
  });
});

suite("http over wavnet sockets: kmod_proto pipe protocol, one vnet", pipeWorld, false);
suite("http over wavnet sockets: TCP between two vnets over an epair", tcpWorld, TCP_SKIP);
