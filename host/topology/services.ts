// Services a node runs while the topology is up, over the vnet's own sockets: TCP and UDP
// echo (RFC 862) and discard (RFC 863), and an HTTP server (Node's http.Server fed the
// vnet's TCP connections). Each start resolves once it listens, or rejects with the reason
// (a port in use, no such address); stop() closes it and every connection it accepted.

import http from "node:http";
import type { Vnet } from "../kern/kernel.js";
import type { NetSocket, NetServer } from "../sockets/net.js";
import type { DgramSocket } from "../sockets/dgram.js";
import type { ServiceSpec } from "./spec.js";

export interface RunningService {
  spec: ServiceSpec;
  stop(): Promise<void>;
}

function listen(server: NetServer, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => reject(e);
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve();
    });
  });
}

function bind(sock: DgramSocket, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => reject(e);
    sock.once("error", onError);
    sock.bind(port, host, () => {
      sock.off("error", onError);
      resolve();
    });
  });
}

export async function startService(vnet: Vnet, spec: ServiceSpec, nodeName: string): Promise<RunningService> {
  const host = spec.address ?? "0.0.0.0";
  if (spec.kind === "udp-echo" || spec.kind === "udp-discard") {
    const sock = vnet.dgram("udp4");
    sock.on("error", () => {}); // a send to an unreachable peer must not take the service down
    if (spec.kind === "udp-echo") sock.on("message", (msg, rinfo) => sock.send(msg, rinfo.port, rinfo.address));
    await bind(sock, spec.port, host);
    return {
      spec,
      stop: () => new Promise<void>((r) => sock.close(() => r())),
    };
  }
  const conns = new Set<NetSocket>();
  let onConnection: (s: NetSocket) => void;
  let web: http.Server | undefined;
  switch (spec.kind) {
    case "tcp-echo":
      onConnection = (s) => s.pipe(s);
      break;
    case "tcp-discard":
      onConnection = (s) => {
        s.resume();
        s.on("end", () => s.end());
      };
      break;
    case "http": {
      const body = spec.body ?? `hello from ${nodeName}\n`;
      web = http.createServer((req, res) => {
        req.resume();
        res.setHeader("content-type", "text/plain");
        res.end(body);
      });
      const w = web;
      onConnection = (s) => w.emit("connection", s);
      break;
    }
  }
  const server = vnet.net.createServer((s: NetSocket) => {
    conns.add(s);
    s.on("error", () => {}); // a peer that resets is its own problem
    s.on("close", () => conns.delete(s));
    onConnection(s);
  });
  server.on("error", () => {});
  await listen(server, spec.port, host);
  return {
    spec,
    async stop() {
      for (const s of conns) s.destroy();
      conns.clear();
      web?.close();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
