import { test, describe } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { Kernel, addAddress, netFor, type Vnet } from "../host/index.js";
import { socket, type Socket } from "../host/sockets/socket.js";
import { createHttpServer, httpGet, HttpError, type HttpRequest } from "../host/sockets/http1.js";
import { snapshot } from "./helpers/snapshot.js";
import { idleClock } from "./helpers/net.js";
import type { VirtualClock } from "../host/kern/clock.js";

// host/sockets/http1.ts: HTTP/1.1 over core Sockets between two vnets on an epair (A
// 10.0.0.1 serves, B 10.0.0.2 asks), raw bytes against the server's parser, and Node's own
// http client and server on the other end through the node:net look-alike.

interface World {
  k: Kernel;
  A: Vnet;
  B: Vnet;
  done(): Promise<void>;
}

async function world(): Promise<World> {
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
    k, A, B,
    async done() {
      await settle();
      assert.equal(k.sockets.size, 0, "every socket closed");
      stop();
      (k.clock as VirtualClock).runUntilIdle();
      k.reclaim();
      assert.deepEqual(snapshot(k), before, "nothing left in the kernel");
      A.destroy();
      B.destroy();
      k.shutdown();
    },
  };
}

function settle(ms = 5): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Send bytes from B to A:port over a core socket; the whole reply once the server closes. */
function raw(w: World, port: number, request: string | Uint8Array): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = socket(w.k, w.B, "inet", "stream");
    let got = "";
    const dec = new TextDecoder();
    const read = () => {
      for (let d = s.recv(); d !== null; d = s.closed ? null : s.recv()) {
        if (d.length === 0) {
          s.close();
          return resolve(got);
        }
        got += dec.decode(d);
      }
    };
    s.on("readable", read);
    s.on("error", reject);
    s.on("connect", () => {
      s.send(request);
      s.shutdown("write");
    });
    s.connect("10.0.0.1", port);
  });
}

/** A core-socket server on A:port that answers every connection with these bytes, then closes. */
function rawServer(w: World, port: number, reply: string): { close(): void } {
  const lst = socket(w.k, w.A, "inet", "stream").bind("10.0.0.1", port).listen();
  const conns: Socket[] = [];
  lst.on("acceptable", () => {
    for (let c = lst.accept(); c !== null; c = lst.accept()) {
      const s = c;
      conns.push(s);
      let buf = "";
      s.on("readable", () => {
        for (let d = s.recv(); d !== null && d.length > 0; d = s.recv()) buf += new TextDecoder().decode(d);
        if (buf.includes("\r\n\r\n") && reply) {
          s.send(reply);
          s.shutdown("write");
          buf = "";
        }
      });
    }
  });
  return {
    close() {
      for (const c of conns) c.close();
      lst.close();
    },
  };
}

describe("http1: server and client between two vnets", () => {
  test("GET and HEAD: status, fields, the body by Content-Length; the handler sees method, target, Host and the peer", async () => {
    const w = await world();
    const seen: HttpRequest[] = [];
    const server = createHttpServer(w.k, w.A, (req) => {
      seen.push(req);
      if (req.target === "/missing") return { status: 404, body: "no such page\n" };
      return { headers: { "Content-Type": "text/plain", "X-Path": req.target }, body: `hello ${req.target}\n` };
    }).listen(8080, "10.0.0.1");
    try {
      const r = await httpGet(w.k, w.B, "http://10.0.0.1:8080/a/b?c=d", { headers: { "X-Test": "1" } });
      assert.equal(r.status, 200);
      assert.equal(r.reason, "OK");
      assert.equal(r.version, "HTTP/1.1");
      assert.equal(r.text(), "hello /a/b?c=d\n");
      assert.equal(r.header("content-type"), "text/plain");
      assert.equal(r.header("x-path"), "/a/b?c=d");
      assert.equal(r.header("Content-Length"), "15");
      assert.equal(r.header("connection"), "close");
      assert.match(r.header("date")!, /^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$/);
      assert.equal(seen[0].method, "GET");
      assert.equal(seen[0].header("host"), "10.0.0.1:8080");
      assert.equal(seen[0].header("x-test"), "1");
      assert.deepEqual(seen[0].remote && { family: seen[0].remote.family, address: (seen[0].remote as { address: string }).address }, { family: "inet", address: "10.0.0.2" });

      const h = await httpGet(w.k, w.B, { host: "10.0.0.1", port: 8080, path: "/x" }, { method: "HEAD" });
      assert.equal(h.status, 200);
      assert.equal(h.header("content-length"), "9");
      assert.equal(h.body.length, 0);
      assert.equal(seen[1].method, "HEAD");

      const nf = await httpGet(w.k, w.B, "http://10.0.0.1:8080/missing");
      assert.equal(nf.status, 404);
      assert.equal(nf.reason, "Not Found");
      assert.equal(nf.text(), "no such page\n");
      await settle();
      assert.equal(server.connections, 0, "each connection closed after its one request");
    } finally {
      server.close();
      await w.done();
    }
  });

  test("a larger body than one send buffer arrives whole; an async handler and one that throws (500)", async () => {
    const w = await world();
    const big = new Uint8Array(3 * 1024 * 1024).map((_, i) => (i * 7) & 0xff);
    const server = createHttpServer(w.k, w.A, async (req) => {
      if (req.target === "/boom") throw new Error("boom");
      await settle(1);
      return { body: big };
    }).listen(80);
    try {
      const r = await httpGet(w.k, w.B, "http://10.0.0.1/big");
      assert.equal(r.status, 200);
      assert.equal(r.body.length, big.length);
      assert.deepEqual(r.body, big);
      const e = await httpGet(w.k, w.B, "http://10.0.0.1/boom");
      assert.equal(e.status, 500);
      // The client's FIN comes before the async handler answers: the answer still goes out.
      const early = await raw(w, 80, "GET /small HTTP/1.1\r\nHost: a\r\n\r\n");
      assert.match(early, /^HTTP\/1\.1 200 OK\r\n[^]*Content-Length: 3145728\r\n\r\n/);
      assert.ok(early.length > early.indexOf("\r\n\r\n") + 4, "and its body");
    } finally {
      server.close();
      await w.done();
    }
  });

  test("malformed requests get 400; an oversized header section 431; POST 501; HTTP/2.0 505", async () => {
    const w = await world();
    let calls = 0;
    const server = createHttpServer(w.k, w.A, () => {
      calls++;
      return { body: "ok" };
    }, { maxHeaderBytes: 1024 }).listen(80);
    const status = async (req: string) => (await raw(w, 80, req)).split("\r\n")[0];
    try {
      assert.equal(await status("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), "HTTP/1.1 200 OK");
      // HTTP/1.0 needs no Host; bare LF line ends and leading empty lines are accepted (RFC 9112 2.2).
      assert.equal(await status("\r\nGET / HTTP/1.0\n\n"), "HTTP/1.1 200 OK");
      for (const bad of [
        "GET /\r\nHost: a\r\n\r\n", // no version
        "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", // two spaces
        "GET / HTTP/1.1 extra\r\nHost: a\r\n\r\n",
        "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", // not a token
        "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET / HTTP/1.1\r\nHost : a\r\n\r\n", // space before the colon
        "GET / HTTP/1.1\r\nHost: a\r\nX-Fold: a\r\n b\r\n\r\n", // obs-fold
        "GET / HTTP/1.1\r\nHost: a\r\nno colon here\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", // bare CR
        "GET / HTTP/1.1\r\n\r\n", // HTTP/1.1 without Host
        "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
      ]) {
        assert.equal(await status(bad), "HTTP/1.1 400 Bad Request", JSON.stringify(bad));
      }
      assert.equal(await status(`GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${"x".repeat(2000)}\r\n\r\n`), "HTTP/1.1 431 Request Header Fields Too Large");
      assert.equal(await status("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n"), "HTTP/1.1 501 Not Implemented");
      assert.equal(await status("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), "HTTP/1.1 501 Not Implemented");
      assert.equal(await status("GET / HTTP/2.0\r\nHost: a\r\n\r\n"), "HTTP/1.1 505 HTTP Version Not Supported");
      assert.equal(calls, 2, "only the well-formed GETs reach the handler");
      // A body the server does not want is read and dropped; the answer still arrives whole.
      const withBody = await raw(w, 80, `GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n${"y".repeat(100000)}`);
      assert.match(withBody, /^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nok$/);
      // Half a request, then the client's FIN: the server closes without an answer.
      assert.equal(await raw(w, 80, "GET / HTTP/1.1\r\nHo"), "");
      await settle();
      assert.equal(server.connections, 0);
    } finally {
      server.close();
      await w.done();
    }
  });

  test("the client: a body until close without Content-Length; interim 100; chunked and garbage are EPROTO", async () => {
    const w = await world();
    const untilClose = rawServer(w, 81, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end");
    const interim = rawServer(w, 82, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nhi");
    const chunked = rawServer(w, 83, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n");
    const garbage = rawServer(w, 84, "SSH-2.0-OpenSSH\r\n\r\n");
    const short = rawServer(w, 85, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
    try {
      const a = await httpGet(w.k, w.B, "http://10.0.0.1:81/");
      assert.equal(a.version, "HTTP/1.0");
      assert.equal(a.text(), "until the end");
      const b = await httpGet(w.k, w.B, "http://10.0.0.1:82/");
      assert.equal(b.status, 201);
      assert.equal(b.text(), "hi");
      await assert.rejects(httpGet(w.k, w.B, "http://10.0.0.1:83/"), (e: HttpError) => e.code === "EPROTO" && /Transfer-Encoding chunked/.test(e.message));
      await assert.rejects(httpGet(w.k, w.B, "http://10.0.0.1:84/"), (e: HttpError) => e.code === "EPROTO" && /malformed status line/.test(e.message));
      await assert.rejects(httpGet(w.k, w.B, "http://10.0.0.1:85/"), (e: HttpError) => e.code === "ECONNRESET" && /after 3 of 10 body bytes/.test(e.message));
      await assert.rejects(httpGet(w.k, w.B, "http://10.0.0.1:81/", { maxBodyBytes: 5 }), (e: HttpError) => e.code === "EPROTO" && /body larger than 5 bytes/.test(e.message));
      await assert.rejects(httpGet(w.k, w.B, "http://10.0.0.1:81/", { maxHeaderBytes: 20 }), (e: HttpError) => e.code === "EPROTO" && /header section larger than 20 bytes/.test(e.message));
    } finally {
      for (const s of [untilClose, interim, chunked, garbage, short]) s.close();
      await w.done();
    }
  });

  test("the client's failures: refused, a wall-clock timeout, an abort, a URL it cannot use", async () => {
    const w = await world();
    const silent = rawServer(w, 86, ""); // accepts, never answers
    try {
      await assert.rejects(httpGet(w.k, w.B, "http://10.0.0.1:81/"), (e: HttpError) => e.code === "ECONNREFUSED" && e.message === "connect ECONNREFUSED 10.0.0.1:81");
      await assert.rejects(httpGet(w.k, w.B, "http://10.0.0.1:86/", { timeoutMs: 30 }), (e: HttpError) => e.code === "ETIMEDOUT");
      const ac = new AbortController();
      const p = httpGet(w.k, w.B, "http://10.0.0.1:86/", { signal: ac.signal });
      setTimeout(() => ac.abort(), 10);
      await assert.rejects(p, (e: HttpError) => e.code === "ABORT_ERR");
      await assert.rejects(httpGet(w.k, w.B, "https://10.0.0.1/"), /only http: URLs/);
      await assert.rejects(httpGet(w.k, w.B, "not a url"), /not a URL/);
    } finally {
      silent.close();
      await w.done();
    }
  });
});

describe("http1: with Node's http on the other end (node:net look-alike)", () => {
  test("Node's http client gets the server's answers, GET and HEAD", async () => {
    const w = await world();
    const server = createHttpServer(w.k, w.A, (req) => ({ headers: { "Content-Type": "text/plain" }, body: `you asked for ${req.target}\n` })).listen(80);
    const agent = new http.Agent({ keepAlive: false });
    const net = netFor(w.k, w.B);
    (agent as unknown as { createConnection: unknown }).createConnection = (o: { port: number; host: string }) => net.connect({ port: o.port, host: o.host });
    const ask = (method: string, path: string) =>
      new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
        const req = http.request({ host: "10.0.0.1", port: 80, path, method, agent }, (res) => {
          let body = "";
          res.setEncoding("utf8");
          res.on("data", (d: string) => (body += d));
          res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body }));
        });
        req.on("error", reject);
        req.end();
      });
    try {
      const r = await ask("GET", "/page");
      assert.equal(r.status, 200);
      assert.equal(r.body, "you asked for /page\n");
      assert.equal(r.headers["content-type"], "text/plain");
      assert.equal(r.headers["content-length"], "20");
      const h = await ask("HEAD", "/page");
      assert.equal(h.status, 200);
      assert.equal(h.body, "");
      const p = await ask("POST", "/page");
      assert.equal(p.status, 501);
      await settle(20);
    } finally {
      agent.destroy();
      server.close();
      await w.done();
    }
  });

  test("the client fetches from Node's http.Server fed the vnet's connections", async () => {
    const w = await world();
    const web = http.createServer((req, res) => {
      res.setHeader("content-type", "text/plain");
      res.end(`node says ${req.method} ${req.url}\n`);
    });
    const server = netFor(w.k, w.A).createServer((s) => web.emit("connection", s));
    await new Promise<void>((r) => server.listen(8080, "10.0.0.1", r));
    try {
      const r = await httpGet(w.k, w.B, "http://10.0.0.1:8080/hi");
      assert.equal(r.status, 200);
      assert.equal(r.text(), "node says GET /hi\n");
      assert.equal(r.header("connection"), "close");
    } finally {
      await settle(20);
      web.close();
      await new Promise<void>((r) => server.close(() => r()));
      await w.done();
    }
  });
});
