// The steps of a topology file, run in order against a running Topology. Each step becomes
// a StepResult (ok, what happened, figures); a failed expectation, a refused connection or a
// timeout is a failed step, never a throw, and the steps after it still run. Link schedules
// start with the first step: their times are measured from there.
//
// Expectations: "success" = everything arrived (every ping answered, every datagram, the
// whole TCP transfer within its time, the HTTP status and body, the shell output); "fail" =
// nothing did (no reply, no datagram, the transfer or request did not complete, the command
// failed or its output did not match); "loss<=N%" for ping and udp.

import http from "node:http";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { ping } from "../admin/ping.js";
import type { NetSocket, NetServer } from "../sockets/net.js";
import type { DgramSocket } from "../sockets/dgram.js";
import type { StepSpec, Expect, ConditionSpec } from "./spec.js";
import type { StepResult } from "./types.js";
import type { Topology, RunOptions } from "./topology.js";
import { linkConditions } from "./topology.js";

type Outcome = { ok: boolean; detail: string; figures?: Record<string, number> };
type Step<A extends StepSpec["action"]> = Extract<StepSpec, { action: A }>;

function because(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function judge(expect: Expect, lossPct: number): boolean {
  if (expect.kind === "success") return lossPct === 0;
  if (expect.kind === "fail") return lossPct === 100;
  return expect.strict ? lossPct < expect.maxPct : lossPct <= expect.maxPct;
}

function expectText(e: Expect): string {
  return e.kind === "loss" ? `loss${e.strict ? "<" : "<="}${e.maxPct}%` : e.kind;
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

function usText(us: number): string {
  return us >= 1_000_000 && us % 1000 === 0 ? `${us / 1_000_000} s` : us >= 1000 ? `${us / 1000} ms` : `${us} us`;
}

function rateText(bps: number): string {
  for (const [d, u] of [[1e9, "Gbit/s"], [1e6, "Mbit/s"], [1e3, "kbit/s"]] as const) if (bps >= d) return `${round3(bps / d)} ${u}`;
  return `${bps} bit/s`;
}

/** "delay 20 ms, loss 1%, rate 50 Mbit/s" (or "none"): conditions as a file would say them. */
export function conditionsText(c: ConditionSpec): string {
  const parts: string[] = [];
  if (c.delayUs) parts.push(`delay ${usText(c.delayUs)}`);
  if (c.jitterUs) parts.push(`jitter ${usText(c.jitterUs)}`);
  if (c.loss) parts.push(`loss ${round3(c.loss * 100)}%`);
  if (c.duplicate) parts.push(`duplicate ${round3(c.duplicate * 100)}%`);
  if (c.reorder) parts.push(`reorder ${round3(c.reorder * 100)}%`);
  if (c.rateBps) parts.push(`rate ${rateText(c.rateBps)}`);
  if (c.queueLimit !== undefined) parts.push(`queue ${c.queueLimit}`);
  if (c.queueBytes) parts.push(`queueBytes ${c.queueBytes}`);
  return parts.length ? parts.join(", ") : "none";
}

export async function runSteps(t: Topology, opts: RunOptions): Promise<StepResult[]> {
  const emit = opts.onEvent ?? (() => {});
  const t0 = t.time.now();
  for (const link of t.links()) {
    for (const s of link.spec.schedule) {
      t.time.at(t0 + s.atUs, () => {
        if (!link.ends[0].alive) return;
        if (s.forward) link.ends[0].setConditions(linkConditions(s.forward));
        if (s.reverse) link.ends[1].setConditions(linkConditions(s.reverse));
        emit({ type: "schedule", atMs: s.atUs / 1000, link: `${link.a} ${link.b}` });
      });
    }
  }
  const results: StepResult[] = [];
  const steps = t.spec.steps;
  for (let index = 0; index < steps.length; index++) {
    const step = steps[index];
    emit({ type: "start", index, name: step.name, action: step.action, total: steps.length });
    const w0 = performance.now();
    const v0 = t.time.now();
    let out: Outcome;
    try {
      out = await runOne(t, step, opts);
    } catch (e) {
      out = { ok: false, detail: because(e) };
    }
    const result: StepResult = {
      index, name: step.name, action: step.action, ok: out.ok,
      durationMs: round3((t.time.now() - v0) / 1000), wallMs: round3(performance.now() - w0),
      detail: out.detail, figures: out.figures ?? {}, origin: step.origin,
    };
    results.push(result);
    emit({ type: "end", index, result, total: steps.length });
  }
  return results;
}

function runOne(t: Topology, step: StepSpec, opts: RunOptions): Promise<Outcome> {
  switch (step.action) {
    case "ping":
      return pingStep(t, step);
    case "tcp":
      return tcpStep(t, step);
    case "udp":
      return udpStep(t, step);
    case "http":
      return httpStep(t, step);
    case "sleep":
      return t.time.sleep(step.us).then(() => ({ ok: true, detail: `${step.us / 1000} ms passed` }));
    case "link":
      return Promise.resolve(linkStep(t, step));
    case "capture":
      return captureStep(t, step);
    case "shell":
      return shellStep(t, step, opts);
  }
}

function nodeOf(t: Topology, name: string) {
  const n = t.nodeByName(name);
  if (!n) throw new Error(`no node "${name}"`);
  return n;
}

/** The node that owns an address (the server side of a transfer). */
function ownerOf(t: Topology, target: string) {
  const byName = t.nodeByName(target);
  if (byName) return byName;
  for (const n of t.nodes()) {
    if (n.spec.interfaces.some((i) => i.addresses.some((a) => a.split("/")[0] === target))) return t.nodeByName(n.name)!;
  }
  throw new Error(`no node of the topology has address ${target} (a transfer needs its receiving end in the topology)`);
}

async function pingStep(t: Topology, s: Step<"ping">): Promise<Outcome> {
  const from = nodeOf(t, s.from);
  const dst = from.zoned(t.addressOf(s.to, true));
  const r = await ping(t.kernel, from.vnet, dst, { count: s.count, intervalMs: s.intervalMs, timeoutMs: s.timeoutMs, size: s.size });
  const lossPct = round3(r.lossPct);
  const ok = judge(s.expect, lossPct);
  const errs = r.errors.length ? `; ${r.errors[0].message} from ${r.errors[0].from}` : r.sendErrors.length ? `; sendto: ${r.sendErrors[0].error}` : "";
  const figures: Record<string, number> = { sent: r.transmitted, received: r.received, lossPct };
  if (r.received) Object.assign(figures, { rttMs: round3(r.avg), rttMinMs: round3(r.min), rttMaxMs: round3(r.max) });
  const rtt = r.received ? `, rtt min/avg/max ${r.min.toFixed(3)}/${r.avg.toFixed(3)}/${r.max.toFixed(3)} ms` : "";
  return { ok, detail: `${r.received}/${r.transmitted} replies from ${dst} (${lossPct}% loss${rtt})${errs}; expected ${expectText(s.expect)}`, figures };
}

/** Deterministic bytes for transfers (xorshift32), chunk by chunk. */
function* pattern(total: number, chunk = 65536, seed = 0x9e3779b9): Generator<Buffer> {
  let x = seed >>> 0;
  for (let sent = 0; sent < total; sent += chunk) {
    const n = Math.min(chunk, total - sent);
    const b = Buffer.allocUnsafe(n);
    let i = 0;
    for (; i + 4 <= n; i += 4) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      b.writeUInt32LE(x >>> 0, i);
    }
    for (; i < n; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      b[i] = x & 0xff;
    }
    yield b;
  }
}

function listen(server: NetServer, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

async function tcpStep(t: Topology, s: Step<"tcp">): Promise<Outcome> {
  const from = nodeOf(t, s.from);
  const dst = t.addressOf(s.to, true);
  const to = ownerOf(t, s.to);
  const rxHash = createHash("sha256");
  const txHash = createHash("sha256");
  let received = 0;
  let complete = false;
  let failure: string | undefined;
  let endUs = 0;
  const accepted: NetSocket[] = [];
  const server = to.vnet.net.createServer((c: NetSocket) => {
    accepted.push(c);
    c.on("data", (d: Buffer) => {
      rxHash.update(d);
      received += d.length;
    });
    c.on("end", () => {
      endUs = t.time.now();
      complete = true;
      c.end();
    });
    c.on("error", (e: Error) => (failure ??= `receiver: ${e.message}`));
  });
  try {
    await listen(server, s.port, dst);
  } catch (e) {
    return { ok: false, detail: `cannot listen on ${dst}:${s.port} in ${to.name}: ${because(e)}` };
  }
  const startUs = t.time.now();
  const client = from.vnet.net.connect({ port: s.port, host: dst });
  client.on("error", (e: Error) => (failure ??= `sender: ${e.message}`));
  client.on("close", () => (writerDone = true));
  let writerDone = false;
  const writer = (async () => {
    await new Promise<void>((resolve) => {
      client.once("connect", () => resolve());
      client.once("close", () => resolve());
    });
    for (const chunk of pattern(s.bytes)) {
      if (writerDone || failure) return;
      txHash.update(chunk);
      if (!client.write(chunk)) {
        await new Promise<void>((resolve) => {
          const go = () => {
            client.off("drain", go);
            client.off("close", go);
            resolve();
          };
          client.on("drain", go);
          client.on("close", go);
        });
      }
    }
    if (!writerDone) client.end();
  })();
  await t.time.until(() => complete || failure !== undefined, s.withinUs);
  client.destroy();
  for (const c of accepted) c.destroy();
  await new Promise<void>((r) => server.close(() => r()));
  await writer;
  const us = (complete ? endUs : t.time.now()) - startUs;
  const figures: Record<string, number> = { bytes: received, ms: round3(us / 1000) };
  if (complete && us > 0) figures.mbitPerS = round3((received * 8) / us);
  const rate = figures.mbitPerS !== undefined ? `${figures.mbitPerS} Mbit/s` : "no link delay or rate on the way: no time passed";
  const sumOk = complete && received === s.bytes && rxHash.digest("hex") === txHash.digest("hex");
  const within = complete && us <= s.withinUs;
  const done = sumOk && within;
  const what = done
    ? `${s.bytes} bytes ${from.name} -> ${dst}:${s.port} in ${(us / 1000).toFixed(3)} ms (${rate}), SHA-256 matches`
    : complete && received !== s.bytes
      ? `${received} of ${s.bytes} bytes arrived before the connection ended`
      : complete && !sumOk
        ? `all ${received} bytes arrived but the SHA-256 differs`
        : complete
          ? `took ${(us / 1000).toFixed(3)} ms, over the ${s.withinUs / 1000} ms allowed`
          : `${received} of ${s.bytes} bytes in ${(us / 1000).toFixed(3)} ms${failure ? ` (${failure})` : ", not complete within the time allowed"}`;
  return { ok: s.expect.kind === "fail" ? !done : done, detail: `${what}; expected ${expectText(s.expect)}`, figures };
}

function bind(sock: DgramSocket, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    sock.once("error", reject);
    sock.bind(port, host, () => {
      sock.off("error", reject);
      resolve();
    });
  });
}

async function udpStep(t: Topology, s: Step<"udp">): Promise<Outcome> {
  const from = nodeOf(t, s.from);
  const dst = t.addressOf(s.to, true);
  const to = ownerOf(t, s.to);
  const family = dst.includes(":") ? "udp6" : "udp4";
  const rx = to.vnet.dgram(family);
  const seen = new Set<number>();
  let bad = 0;
  rx.on("message", (msg: Buffer) => {
    // Each datagram carries its sequence number; duplicates (a duplicating link) count once.
    if (msg.length >= 4 && msg.length === s.size) seen.add(msg.readUInt32BE(0));
    else if (s.size < 4 && msg.length === s.size) seen.add(seen.size);
    else bad++;
  });
  try {
    await bind(rx, s.port, dst);
  } catch (e) {
    rx.close();
    return { ok: false, detail: `cannot bind ${dst}:${s.port} in ${to.name}: ${because(e)}` };
  }
  const tx = from.vnet.dgram(family);
  let sendErrors = 0;
  tx.on("error", () => sendErrors++);
  // Paced (as iperf -u paces, default 1 ms apart): an unpaced burst of thousands overflows
  // the receiving socket's buffer (udps_fullsock), which measures the host, not the network.
  for (let i = 0; i < s.count; i++) {
    const b = Buffer.alloc(s.size);
    if (s.size >= 4) b.writeUInt32BE(i, 0);
    tx.send(b, s.port, dst, (err) => {
      if (err) sendErrors++;
    });
    if (s.intervalUs > 0 && i + 1 < s.count) await t.time.sleep(s.intervalUs);
  }
  await t.time.until(() => seen.size >= s.count, s.timeoutMs * 1000);
  await new Promise<void>((r) => tx.close(() => r()));
  await new Promise<void>((r) => rx.close(() => r()));
  const got = Math.min(seen.size, s.count);
  const lossPct = round3(((s.count - got) / s.count) * 100);
  const ok = judge(s.expect, lossPct);
  return {
    ok,
    detail: `${got}/${s.count} datagrams of ${s.size} bytes ${from.name} -> ${dst}:${s.port} (${lossPct}% loss${sendErrors ? `, ${sendErrors} send errors` : ""}${bad ? `, ${bad} unexpected datagrams` : ""}); expected ${expectText(s.expect)}`,
    figures: { sent: s.count, received: got, lossPct },
  };
}

async function httpStep(t: Topology, s: Step<"http">): Promise<Outcome> {
  const from = nodeOf(t, s.from);
  const dst = t.addressOf(s.to);
  const agent = new http.Agent({ keepAlive: false });
  (agent as unknown as { createConnection: unknown }).createConnection = (o: { port: number; host: string }) => from.vnet.net.connect({ port: o.port, host: o.host });
  let status = 0;
  let body = "";
  let done = false;
  let failure: string | undefined;
  const startUs = t.time.now();
  let endUs = 0;
  const req = http.request({ host: dst, port: s.port, path: s.path, agent, method: "GET" }, (res) => {
    status = res.statusCode ?? 0;
    res.setEncoding("utf8");
    res.on("data", (d: string) => (body += d));
    res.on("end", () => {
      endUs = t.time.now();
      done = true;
    });
    res.on("error", (e) => (failure ??= e.message));
  });
  req.on("error", (e) => (failure ??= e.message));
  req.end();
  await t.time.until(() => done || failure !== undefined, s.timeoutMs * 1000);
  req.destroy();
  agent.destroy();
  const ms = round3(((done ? endUs : t.time.now()) - startUs) / 1000);
  const statusOk = done && status === s.status;
  const bodyOk = !done || s.contains === undefined || body.includes(s.contains);
  const good = statusOk && bodyOk;
  const what = !done
    ? `GET http://${dst}:${s.port}${s.path} from ${from.name}: ${failure ?? `no answer within ${s.timeoutMs} ms`}`
    : `GET http://${dst}:${s.port}${s.path} from ${from.name}: ${status}, ${body.length} bytes in ${ms} ms` +
      (statusOk ? "" : ` (expected status ${s.status})`) + (bodyOk ? "" : ` (body does not contain ${JSON.stringify(s.contains)})`);
  return { ok: s.expect.kind === "fail" ? !good : good, detail: `${what}; expected ${expectText(s.expect)}`, figures: { status, bytes: body.length, ms } };
}

function linkStep(t: Topology, s: Step<"link">): Outcome {
  const link = t.linkAt(s.endpoint);
  if (!link) return { ok: false, detail: `no link at ${s.endpoint}` };
  if (s.forward) link.ends[0].setConditions(linkConditions(s.forward));
  if (s.reverse) link.ends[1].setConditions(linkConditions(s.reverse));
  const text = (c?: ConditionSpec) => (c ? conditionsText(c) : "unchanged");
  return { ok: true, detail: `${link.a} -> ${link.b}: ${text(s.forward)}; ${link.b} -> ${link.a}: ${text(s.reverse)}` };
}

async function captureStep(t: Topology, s: Step<"capture">): Promise<Outcome> {
  const [nodeName, ifName] = s.endpoint.split(":");
  const node = nodeOf(t, nodeName);
  if (s.on) {
    if (t.captures.has(s.endpoint)) return { ok: false, detail: `${s.endpoint} is already being captured` };
    const path = t.pcapDir && s.file ? join(t.pcapDir, s.file) : undefined;
    const cap = node.iface(ifName).capture(path ? { pcapng: path } : {});
    t.captures.set(s.endpoint, cap);
    return { ok: true, detail: `capturing ${s.endpoint} (${node.iface(ifName).name})${path ? ` to ${path}` : " (counted; give a pcap folder to write a file)"}` };
  }
  const cap = t.captures.get(s.endpoint);
  if (!cap) return { ok: false, detail: `${s.endpoint} is not being captured` };
  t.captures.delete(s.endpoint);
  await cap.stop();
  return { ok: true, detail: `${s.endpoint}: ${cap.frames} frames, ${cap.bytes} bytes, ${cap.drops} dropped`, figures: { frames: cap.frames, bytes: cap.bytes, drops: cap.drops } };
}

async function shellStep(t: Topology, s: Step<"shell">, opts: RunOptions): Promise<Outcome> {
  if (!opts.exec) return { ok: false, detail: "no command runner: shell steps run under `wavnet run` (or pass exec to runSteps)" };
  let output: string | undefined;
  let failure: string | undefined;
  const p = opts.exec(s.node, s.cmd).then(
    (o) => (output = o),
    (e) => (failure = because(e)),
  );
  await t.time.until(() => output !== undefined || failure !== undefined, s.timeoutMs * 1000);
  if (output === undefined && failure === undefined) {
    void p;
    failure = `no output within ${s.timeoutMs} ms`;
  }
  const matched = output !== undefined && (s.contains === undefined || output.includes(s.contains)) && (s.match === undefined || new RegExp(s.match).test(output));
  const first = (output ?? "").split("\n").find((l) => l.trim()) ?? "";
  const what = failure !== undefined
    ? `${s.node}: ${s.cmd}: ${failure}`
    : `${s.node}: ${s.cmd}: ${matched ? "output matches" : `output does not match${s.contains !== undefined ? ` (wanted ${JSON.stringify(s.contains)})` : ""}${s.match !== undefined ? ` (wanted /${s.match}/)` : ""}`} (first line: ${JSON.stringify(first.slice(0, 80))})`;
  return { ok: s.expect.kind === "fail" ? !matched : matched, detail: `${what}; expected ${expectText(s.expect)}`, figures: { lines: (output ?? "").split("\n").length } };
}
