// The steps of a topology file, run in order against a running Topology. Each step becomes
// a StepResult (ok, what happened, figures); a failed expectation, a refused connection or a
// timeout is a failed step, never a throw, and the steps after it still run. Link schedules
// start with the first step: their times are measured from there.
//
// Expectations: "success" = everything arrived (every ping answered, every datagram, the
// whole TCP transfer within its time, the HTTP status and body, the shell output); "fail" =
// nothing did (no reply, no datagram, the transfer or request did not complete, the command
// failed or its output did not match); "loss<=N%" for ping and udp.

import { ping } from "../admin/ping.js";
import { Sha256 } from "../lib/sha256.js";
import { abortError, type AbortError } from "../lib/errors.js";
import { platform, unsupported } from "../lib/platform.js";
import { socket, type Socket } from "../sockets/socket.js";
import { httpGet, type HttpClientResponse } from "../sockets/http1.js";
import { listenStream, onAccept, bindDgram, connectStream, sysError, domainOf } from "./sockets.js";
import type { StepSpec, Expect, LinkConditions } from "./spec.js";
import type { StepResult, StepEvent } from "./types.js";
import type { Topology, RunOptions } from "./topology.js";
import { formatConditions } from "../admin/epair.js";

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


export async function runSteps(t: Topology, opts: RunOptions): Promise<StepResult[]> {
  const emit = opts.onEvent ?? (() => {});
  startSchedules(t, emit);
  const results: StepResult[] = [];
  const steps = t.spec.steps;
  const signal = opts.signal;
  const aborted = (): AbortError<StepResult[]> => {
    const e = abortError<StepResult[]>(signal!, "runSteps");
    e.partial = results;
    return e;
  };
  for (let index = 0; index < steps.length; index++) {
    const step = steps[index];
    if (signal?.aborted) throw aborted();
    emit({ type: "start", index, name: step.name, action: step.action, total: steps.length });
    let result: StepResult;
    try {
      result = await runStep(t, index, opts);
    } catch (e) {
      if (signal?.aborted) throw aborted(); // the step was abandoned, not failed
      throw e;
    }
    results.push(result);
    emit({ type: "end", index, result, total: steps.length });
  }
  return results;
}

/** Link schedules: each change at its time from now (the steps' start). */
export function startSchedules(t: Topology, emit: (e: StepEvent) => void): void {
  const t0 = t.time.now();
  for (const link of t.links()) {
    for (const s of link.spec.schedule) {
      t.time.at(t0 + s.atUs, () => {
        if (!link.ends[0].alive) return;
        if (s.forward) link.ends[0].setConditions(s.forward);
        if (s.reverse) link.ends[1].setConditions(s.reverse);
        emit({ type: "schedule", atMs: s.atUs / 1000, link: `${link.a} ${link.b}` });
      });
    }
  }
}

/**
 * Run step `index` of t's file: its result (a failure is a result with ok false). Rejects
 * only when opts.signal aborts it.
 */
export async function runStep(t: Topology, index: number, opts: RunOptions): Promise<StepResult> {
  const step = t.spec.steps[index]!;
  const signal = opts.signal;
  const w0 = performance.now();
  const v0 = t.time.now();
  let out: Outcome;
  try {
    out = await untilAborted(runOne(t, step, opts), signal);
  } catch (e) {
    if (signal?.aborted) throw e;
    out = { ok: false, detail: because(e) };
  }
  return {
    index, name: step.name, action: step.action, ok: out.ok,
    durationMs: round3((t.time.now() - v0) / 1000), wallMs: round3(performance.now() - w0),
    detail: out.detail, figures: out.figures ?? {}, origin: step.origin,
  };
}

/** p, or a rejection as soon as signal aborts (the work behind p is left to down()). */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}

function runOne(t: Topology, step: StepSpec, opts: RunOptions): Promise<Outcome> {
  switch (step.action) {
    case "ping":
      return pingStep(t, step, opts.signal);
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

async function pingStep(t: Topology, s: Step<"ping">, signal?: AbortSignal): Promise<Outcome> {
  const from = nodeOf(t, s.from);
  const dst = from.zoned(t.addressOf(s.to, true));
  const r = await ping(t.kernel, from.vnet, dst, { count: s.count, intervalMs: s.intervalMs, timeoutMs: s.timeoutMs, size: s.size, ...(signal ? { signal } : {}) });
  const lossPct = round3(r.lossPct);
  const ok = judge(s.expect, lossPct);
  const errs = r.errors.length ? `; ${r.errors[0].message} from ${r.errors[0].from}` : r.sendErrors.length ? `; sendto: ${r.sendErrors[0].error}` : "";
  const figures: Record<string, number> = { sent: r.transmitted, received: r.received, lossPct };
  if (r.received) Object.assign(figures, { rttMs: round3(r.avg), rttMinMs: round3(r.min), rttMaxMs: round3(r.max) });
  const rtt = r.received ? `, rtt min/avg/max ${r.min.toFixed(3)}/${r.avg.toFixed(3)}/${r.max.toFixed(3)} ms` : "";
  return { ok, detail: `${r.received}/${r.transmitted} replies from ${dst} (${lossPct}% loss${rtt})${errs}; expected ${expectText(s.expect)}`, figures };
}

/** Deterministic bytes for transfers (xorshift32, little-endian words), chunk by chunk. */
function* pattern(total: number, chunk = 65536, seed = 0x9e3779b9): Generator<Uint8Array> {
  let x = seed >>> 0;
  for (let sent = 0; sent < total; sent += chunk) {
    const n = Math.min(chunk, total - sent);
    const b = new Uint8Array(n);
    const dv = new DataView(b.buffer);
    let i = 0;
    for (; i + 4 <= n; i += 4) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      dv.setUint32(i, x >>> 0, true);
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

const READ_CHUNK = 65536;

async function tcpStep(t: Topology, s: Step<"tcp">): Promise<Outcome> {
  const from = nodeOf(t, s.from);
  const dst = t.addressOf(s.to, true);
  const to = ownerOf(t, s.to);
  const rxHash = new Sha256();
  const txHash = new Sha256();
  let received = 0;
  let complete = false;
  let failure: string | undefined;
  let endUs = 0;
  const accepted: Socket[] = [];
  let server: Socket;
  try {
    server = listenStream(t.kernel, to.vnet, dst, s.port);
  } catch (e) {
    return { ok: false, detail: `cannot listen on ${dst}:${s.port} in ${to.name}: ${because(e)}` };
  }
  // The receiver: hash what arrives; the end of the stream is the end of the transfer.
  onAccept(server, (c) => {
    accepted.push(c);
    const read = () => {
      try {
        for (let d = c.recv(READ_CHUNK); d !== null; d = c.closed ? null : c.recv(READ_CHUNK)) {
          if (d.length === 0) {
            endUs = t.time.now();
            complete = true;
            c.shutdown("write");
            return;
          }
          rxHash.update(d);
          received += d.length;
        }
      } catch (e) {
        failure ??= `receiver: ${because(sysError("read", e))}`;
      }
    };
    c.on("readable", read);
    c.on("error", (e: Error) => (failure ??= `receiver: ${because(sysError("read", e))}`));
    read();
  });
  const startUs = t.time.now();
  // The sender: the pattern, chunk by chunk, as fast as the send buffer takes it; then FIN.
  const chunks = pattern(s.bytes);
  let chunk: Uint8Array | undefined;
  let off = 0;
  let connected = false;
  let writerDone = false;
  const write = () => {
    if (!connected || writerDone || failure !== undefined || client.closed) return;
    try {
      for (;;) {
        if (!chunk || off >= chunk.length) {
          const next = chunks.next();
          if (next.done) {
            writerDone = true;
            client.shutdown("write");
            return;
          }
          chunk = next.value;
          off = 0;
          txHash.update(chunk);
        }
        const n = client.send(off === 0 ? chunk : chunk.subarray(off));
        if (n === 0) return; // the send buffer is full: 'writable' follows
        off += n;
      }
    } catch (e) {
      writerDone = true;
      failure ??= `sender: ${because(sysError("write", e))}`;
    }
  };
  const client = connectStream(t.kernel, from.vnet, dst, s.port, {
    connected: () => {
      connected = true;
      write();
    },
    failed: (e) => (failure ??= `sender: ${because(e)}`),
  });
  client.on("writable", write);
  client.on("error", (e: Error) => {
    if (connected) failure ??= `sender: ${because(sysError("write", e))}`;
  });
  await t.time.until(() => complete || failure !== undefined, s.withinUs);
  client.close();
  for (const c of accepted) c.close();
  server.close();
  const us = (complete ? endUs : t.time.now()) - startUs;
  const figures: Record<string, number> = { bytes: received, ms: round3(us / 1000) };
  if (complete && us > 0) figures.mbitPerS = round3((received * 8) / us);
  const rate = figures.mbitPerS !== undefined ? `${figures.mbitPerS} Mbit/s` : "no link delay or rate on the way: no time passed";
  const sumOk = complete && received === s.bytes && rxHash.digest() === txHash.digest();
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

async function udpStep(t: Topology, s: Step<"udp">): Promise<Outcome> {
  const from = nodeOf(t, s.from);
  const dst = t.addressOf(s.to, true);
  const to = ownerOf(t, s.to);
  let rx: Socket;
  try {
    rx = bindDgram(t.kernel, to.vnet, dst, s.port);
  } catch (e) {
    return { ok: false, detail: `cannot bind ${dst}:${s.port} in ${to.name}: ${because(e)}` };
  }
  const seen = new Set<number>();
  let bad = 0;
  rx.on("message", (msg: Uint8Array) => {
    // Each datagram carries its sequence number; duplicates (a duplicating link) count once.
    if (msg.length >= 4 && msg.length === s.size) seen.add(new DataView(msg.buffer, msg.byteOffset, 4).getUint32(0, false));
    else if (s.size < 4 && msg.length === s.size) seen.add(seen.size);
    else bad++;
  });
  let tx: Socket;
  try {
    tx = socket(t.kernel, from.vnet, domainOf(dst), "dgram");
  } catch (e) {
    rx.close();
    return { ok: false, detail: `cannot open a UDP socket in ${from.name}: ${because(e)}` };
  }
  let sendErrors = 0;
  tx.on("error", () => sendErrors++); // ICMP unreachables reported later
  // Paced (as iperf -u paces, default 1 ms apart): an unpaced burst of thousands overflows
  // the receiving socket's buffer (udps_fullsock), which measures the host, not the network.
  for (let i = 0; i < s.count; i++) {
    const b = new Uint8Array(s.size);
    if (s.size >= 4) new DataView(b.buffer).setUint32(0, i, false);
    try {
      tx.sendto(b, dst, s.port);
    } catch {
      sendErrors++;
    }
    if (s.intervalUs > 0 && i + 1 < s.count) await t.time.sleep(s.intervalUs);
  }
  await t.time.until(() => seen.size >= s.count, s.timeoutMs * 1000);
  tx.close();
  rx.close();
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
  let res: HttpClientResponse | undefined;
  let failure: string | undefined;
  const startUs = t.time.now();
  let endUs = 0;
  // Time is the topology's: the runner decides when the request has had long enough.
  const abort = new AbortController();
  httpGet(t.kernel, from.vnet, { host: dst, port: s.port, path: s.path }, { signal: abort.signal }).then(
    (r) => {
      endUs = t.time.now();
      res = r;
    },
    (e) => (failure ??= because(e)),
  );
  await t.time.until(() => res !== undefined || failure !== undefined, s.timeoutMs * 1000);
  abort.abort();
  const done = res !== undefined;
  const status = res?.status ?? 0;
  const body = res?.text() ?? "";
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
  if (s.forward) link.ends[0].setConditions(s.forward);
  if (s.reverse) link.ends[1].setConditions(s.reverse);
  const text = (c?: LinkConditions) => (c ? formatConditions(c) || "none" : "unchanged");
  return { ok: true, detail: `${link.a} -> ${link.b}: ${text(s.forward)}; ${link.b} -> ${link.a}: ${text(s.reverse)}` };
}

async function captureStep(t: Topology, s: Step<"capture">): Promise<Outcome> {
  const [nodeName, ifName] = s.endpoint.split(":");
  const node = nodeOf(t, nodeName);
  if (s.on) {
    if (t.captures.has(s.endpoint)) return { ok: false, detail: `${s.endpoint} is already being captured` };
    const path = t.pcapDir && s.file ? joinPath(t.pcapDir, s.file) : undefined;
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

function joinPath(dir: string, file: string): string {
  const join = platform().joinPath;
  if (!join) throw unsupported("a capture file in a folder");
  return join(dir, file);
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
