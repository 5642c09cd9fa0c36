// Services a node runs while the topology is up, over the vnet's own BSD sockets: TCP and
// UDP echo (RFC 862) and discard (RFC 863), and an HTTP server (host/sockets/http1.ts).
// Each start resolves once it listens, or rejects with the reason (a port in use, no such
// address); stop() closes it and every connection it accepted.

import type { Kernel, Vnet } from "../kern/kernel.js";
import type { Socket, SockAddr } from "../sockets/socket.js";
import { createHttpServer } from "../sockets/http1.js";
import { listenStream, onAccept, bindDgram } from "./sockets.js";
import type { ServiceSpec } from "./spec.js";

export interface RunningService {
  spec: ServiceSpec;
  stop(): Promise<void>;
}

const READ_CHUNK = 65536;

/**
 * RFC 862 echo on one connection: what arrives goes back. While the peer does not take it
 * (our send buffer full), we hold at most the one read that did not fit and stop reading,
 * so TCP's window holds the sender back; the end of the peer's stream ends ours once
 * everything went back.
 */
function echo(s: Socket, done: () => void): void {
  let held: Uint8Array | undefined;
  let eof = false;
  const close = () => {
    if (!s.closed) s.close();
    done();
  };
  // Send until the kernel takes nothing: only a send that found no room (EAGAIN) arms 'writable'.
  const flush = (): boolean => {
    while (held) {
      const n = s.send(held);
      if (n === 0) return false;
      held = n < held.length ? held.subarray(n) : undefined;
    }
    return true;
  };
  const pump = () => {
    try {
      if (!flush()) return; // 'writable' resumes us
      while (!eof && !s.closed) {
        const b = s.recv(READ_CHUNK);
        if (b === null) return; // 'readable' comes again
        if (b.length === 0) eof = true;
        else {
          held = b;
          if (!flush()) return;
        }
      }
      if (eof) close();
    } catch {
      close(); // a reset: the peer is gone
    }
  };
  s.on("readable", pump);
  s.on("writable", pump);
  s.on("close", close);
  pump();
}

/** RFC 863 discard on one connection: read and drop; the end of the peer's stream ends ours. */
function discard(s: Socket, done: () => void): void {
  const close = () => {
    if (!s.closed) s.close();
    done();
  };
  const pump = () => {
    try {
      for (let b = s.recv(READ_CHUNK); b !== null; b = s.closed ? null : s.recv(READ_CHUNK)) {
        if (b.length === 0) return close();
      }
    } catch {
      close();
    }
  };
  s.on("readable", pump);
  s.on("close", close);
  pump();
}

export async function startService(kernel: Kernel, vnet: Vnet, spec: ServiceSpec, nodeName: string): Promise<RunningService> {
  const host = spec.address ?? "0.0.0.0";
  if (spec.kind === "udp-echo" || spec.kind === "udp-discard") {
    const sock = bindDgram(kernel, vnet, host, spec.port);
    if (spec.kind === "udp-echo") {
      sock.on("message", (data: Uint8Array, rinfo: { address?: SockAddr }) => {
        if (rinfo.address === undefined) return;
        try {
          sock.sendto(data, rinfo.address);
        } catch {
          // an unreachable sender must not take the service down
        }
      });
    } else sock.on("message", () => {});
    return {
      spec,
      stop: async () => sock.close(),
    };
  }
  if (spec.kind === "http") {
    const body = spec.body ?? `hello from ${nodeName}\n`;
    const web = createHttpServer(kernel, vnet, () => ({ status: 200, headers: { "Content-Type": "text/plain" }, body }));
    web.listen(spec.port, host);
    return {
      spec,
      stop: async () => web.close(),
    };
  }
  const conns = new Set<Socket>();
  const serve = spec.kind === "tcp-echo" ? echo : discard;
  const lst = listenStream(kernel, vnet, host, spec.port);
  onAccept(lst, (s) => {
    conns.add(s);
    serve(s, () => conns.delete(s));
  });
  return {
    spec,
    async stop() {
      lst.close();
      for (const s of conns) s.close();
      conns.clear();
    },
  };
}
