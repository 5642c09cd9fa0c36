// A connected stream Socket as Web Streams, for code that runs where node:stream does not (a
// browser, a worker): `readable` yields the bytes that arrive and ends at the peer's FIN;
// `writable` sends, waiting for 'writable' when the send buffer is full (backpressure), and
// its close() is shutdown(SHUT_WR). The socket stays the caller's to close; an error or the
// kernel closing it errors both streams. Node code can use the node:net look-alike instead.

import type { Socket } from "./socket.js";
import { ConfigError } from "../lib/errors.js";

export interface SocketStreams {
  readable: ReadableStream<Uint8Array>;
  writable: WritableStream<Uint8Array>;
}

/** Web Streams over a connected SOCK_STREAM socket (see the file's header). */
export function socketStreams(s: Socket): SocketStreams {
  if (s === null || typeof s !== "object" || typeof (s as Socket).recv !== "function") throw new ConfigError(`socketStreams: expected a Socket, got ${String(s)}`);
  if (s.type !== 1) throw new ConfigError(`socketStreams: ${s} is not a stream socket`);
  let failure: Error | undefined;
  const waiters: { event: "readable" | "writable"; wake: () => void }[] = [];
  const wakeAll = (event?: "readable" | "writable") => {
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (event === undefined || waiters[i]!.event === event) waiters.splice(i, 1)[0]!.wake();
    }
  };
  const onReadable = () => wakeAll("readable");
  const onWritable = () => wakeAll("writable");
  const onError = (e: Error) => {
    failure ??= e;
    wakeAll();
  };
  const onClose = () => {
    failure ??= new Error(`${s} was closed`);
    wakeAll();
  };
  s.on("readable", onReadable);
  s.on("writable", onWritable);
  s.on("error", onError);
  s.on("close", onClose);
  const wait = (event: "readable" | "writable") => new Promise<void>((wake) => waiters.push({ event, wake }));
  let open = 2;
  const done = () => {
    if (--open > 0) return;
    s.off("readable", onReadable);
    s.off("writable", onWritable);
    s.off("error", onError);
    s.off("close", onClose);
  };

  const readable = new ReadableStream<Uint8Array>({
    async pull(c) {
      for (;;) {
        if (failure) throw failure;
        const data = s.recv();
        if (data === null) {
          await wait("readable");
          continue;
        }
        if (data.length === 0) {
          c.close(); // the peer's FIN
          done();
          return;
        }
        c.enqueue(data);
        return;
      }
    },
    cancel() {
      if (!s.closed) s.shutdown("read");
      done();
    },
  });

  const writable = new WritableStream<Uint8Array>({
    async write(chunk) {
      if (!(chunk instanceof Uint8Array)) throw new ConfigError(`socketStreams: write a Uint8Array, got ${String(chunk)}`);
      let off = 0;
      while (off < chunk.length) {
        if (failure) throw failure;
        const n = s.send(off === 0 ? chunk : chunk.subarray(off));
        off += n;
        // The kernel arms 'writable' only when a send finds the buffer full (returns 0): a
        // short send is followed by another, which then either takes more or arms it.
        if (n === 0) await wait("writable");
      }
    },
    close() {
      if (!s.closed) s.shutdown("write");
      done();
    },
    abort() {
      if (!s.closed) s.close();
      done();
    },
  });
  return { readable, writable };
}
