// socketStreams: a connected TCP socket as Web Streams (the core's stream API for browsers):
// bytes arrive whole and in order with backpressure both ways, the peer's FIN ends the
// readable, the writable's close() is a FIN, and a reset errors the streams.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { socketStreams, ConfigError, SOL_SOCKET, SO } from "../host/index.js";
import { tcpHosts, connectPair, pattern } from "./helpers/tcp.js";
import { idleClock } from "./helpers/net.js";

async function drain(r: ReadableStream<Uint8Array>): Promise<{ bytes: number; sha: string; chunks: number }> {
  const h = createHash("sha256");
  let bytes = 0;
  let chunks = 0;
  for await (const c of r as unknown as AsyncIterable<Uint8Array>) {
    h.update(c);
    bytes += c.length;
    chunks++;
  }
  return { bytes, sha: h.digest("hex"), chunks };
}

describe("socketStreams", () => {
  test("4 MiB through a writable arrive whole through the peer's readable; close() is a FIN both ways", async () => {
    const { k, A, B } = await tcpHosts();
    const stop = idleClock(k);
    const { cli, srv, lsn } = connectPair(k, A, B);
    const c = socketStreams(cli);
    const s = socketStreams(srv);
    const data = pattern(4 << 20);
    const sent = (async () => {
      const w = c.writable.getWriter();
      for (let off = 0; off < data.length; off += 100_000) await w.write(data.subarray(off, off + 100_000));
      await w.close();
    })();
    const got = await drain(s.readable);
    await sent;
    assert.equal(got.bytes, data.length);
    assert.equal(got.sha, createHash("sha256").update(data).digest("hex"));
    assert.ok(got.chunks > 1, "the bytes came in several reads (the receive buffer is smaller than 4 MiB)");
    // The other way: the server answers and closes its side; the client reads to the end.
    const w = s.writable.getWriter();
    await w.write(new TextEncoder().encode("bye"));
    await w.close();
    const back = await drain(c.readable);
    assert.equal(back.bytes, 3);
    stop();
    cli.close();
    srv.close();
    lsn.close();
    k.shutdown();
  });

  test("a reset errors the reader; a datagram socket or a non-socket is refused with a clear error", async () => {
    const { k, A, B } = await tcpHosts();
    const stop = idleClock(k);
    const { cli, srv, lsn } = connectPair(k, A, B);
    const c = socketStreams(cli);
    const reader = c.readable.getReader();
    const pending = reader.read();
    srv.setsockopt(SOL_SOCKET, SO.LINGER, 0); // linger 0: close() sends a RST
    srv.close();
    await assert.rejects(pending, (e: Error) => /ECONNRESET|closed/.test(e.message));
    assert.throws(() => socketStreams({ type: 2, recv: () => null } as never), /not a stream socket/);
    assert.throws(() => socketStreams({} as never), ConfigError);
    stop();
    cli.close();
    lsn.close();
    k.shutdown();
  });
});
