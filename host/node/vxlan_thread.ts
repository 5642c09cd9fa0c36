// The receive thread of VXLAN ports (host/node/vxlan.ts, docs/vxlan.md "Receive path"): one
// worker thread per process owns the UDP sockets of every port that uses it and reads them
// while the main thread runs the kernel. Node reads a socket with one recvmsg per datagram,
// some microseconds each; on the main thread that time and the kernel's alternate, and
// while the kernel (or anything else on the loop) runs, nobody reads, so a burst beyond the
// OS socket buffer is dropped by the OS, blind. Here the worker keeps reading.
//
// Each port has a ring in a SharedArrayBuffer: the worker writes records (u32 length, u32
// receive-queue bucket of the source, the datagram, padding to 4), the main thread reads
// them into the port's fair receive queue (host/wire/rxqueue.ts). Head and tail are byte
// offsets updated with Atomics; no message per datagram: the worker posts one "rx" ping when
// it writes into a ring the main thread has asked to be woken for (WANT), and the main thread
// asks only once it found the ring empty. When the ring is full the worker drops the
// datagram and counts it (rxRingDrops): the drop is ours, counted, not the OS's.
//
// Sending goes through the worker too (the socket lives there), through a second ring of the
// same layout the other way: the port copies each frame straight from the kernel's output
// ring into it (one copy), and posts one "tx" ping only when the worker found the ring empty
// and asked (WANT), so a busy worker is never sent a message. The worker takes whatever the
// ring holds in one copy per look and sends it. It runs with Node's --test-udp-no-try-send
// where Node accepts that for a worker: then node:dgram does not try each send at once but
// queues it in libuv, which flushes its queue with sendmmsg, up to 20 datagrams a system
// call, once per turn of the worker's loop (about half the CPU per datagram of one sendmsg
// each; docs/vxlan.md "Performance"). A full tx ring drops the frame in the port, counted
// (txThreadDrops), as a NIC's full transmit ring does.
//
// One worker for all ports (a worker is a V8 isolate, some MB): started with the first port,
// terminated LINGER_MS after the last one's socket has closed (a port made again soon, as the
// fuzz harness does per case, finds it still there; while it waits it does not keep the
// process alive).

import { Worker } from "node:worker_threads";
import { rxqBucket, RXQ_BUCKETS } from "../wire/rxqueue.js";

/** Int32 slots at the start of a ring's SharedArrayBuffer. */
const HEAD = 0; // next byte the worker writes (offset in the data area)
const TAIL = 1; // next byte the main thread reads
const WANT = 2; // 1: the main thread found the ring empty and wants an "rx" ping
const DROPS = 3; // datagrams the worker dropped because the ring was full
const HDR_BYTES = 64;
/** A record's length word saying "continue at offset 0". */
const WRAP = 0xffffffff;
/** How long the worker outlives its last port. */
const LINGER_MS = 1000;
/** Datagrams the worker lets libuv queue per socket at most; beyond, it leaves the tx ring alone (which then fills and drops). */
const TX_QUEUE_MAX = 4096;
/**
 * Node's option that makes node:dgram queue every send in libuv (which sends a queue with
 * sendmmsg) instead of trying sendmsg first. Meant for Node's own tests, so checked: a Node
 * that refuses it for a worker gets a worker without it (one sendmsg per datagram).
 */
const BATCH_FLAG = "--test-udp-no-try-send";
let batchSends = true;

/** Off: the next worker started sends each datagram with its own sendmsg (drivers compare the two; the worker running keeps its mode). */
export function setVxlanSendBatching(on: boolean): void {
  batchSends = on;
}

/**
 * Write one record (u32 length, u32 word, the bytes, padding to 4) into a ring of header h
 * (HEAD, TAIL as byte offsets of the data area w/d of cap bytes); false when it does not
 * fit. The writer owns HEAD, the reader TAIL. Runs in the worker too (as its source text),
 * so it names nothing outside itself.
 */
function ringPut(h: Int32Array, w: Uint32Array, d: Uint8Array, cap: number, msg: Uint8Array, word: number): boolean {
  const need = 8 + ((msg.length + 3) & ~3);
  let head = Atomics.load(h, 0);
  const tail = Atomics.load(h, 1);
  // head == tail means empty, so a write never makes head reach tail.
  if (head >= tail) {
    const room = cap - head;
    if (!(room > need || (room === need && tail > 0))) {
      if (tail <= need) return false;
      w[head >>> 2] = 0xffffffff;
      head = 0;
    }
  } else if (tail - head <= need) return false;
  w[head >>> 2] = msg.length;
  w[(head >>> 2) + 1] = word;
  d.set(msg, head + 8);
  head += need;
  if (head === cap) head = 0;
  Atomics.store(h, 0, head);
  return true;
}

// The worker's program (plain JavaScript: it runs with no loader, from source or from dist/).
// rxqBucket is the queue's own hash, so the worker files each datagram as the queue would.
const WORKER_SOURCE = `
"use strict";
const { parentPort } = require("node:worker_threads");
const dgram = require("node:dgram");
const RXQ_BUCKETS = ${RXQ_BUCKETS};
const rxqBucket = ${rxqBucket.toString()};
const HEAD = ${HEAD}, TAIL = ${TAIL}, WANT = ${WANT}, DROPS = ${DROPS}, HDR_BYTES = ${HDR_BYTES}, WRAP = ${WRAP};
const TX_QUEUE_MAX = ${TX_QUEUE_MAX};
const ringPut = ${ringPut.toString()};
const socks = new Map();

function ring(sab) {
  return { h: new Int32Array(sab, 0, HDR_BYTES / 4), w: new Uint32Array(sab, HDR_BYTES), d: new Uint8Array(sab, HDR_BYTES), cap: sab.byteLength - HDR_BYTES };
}

// Send everything the port's tx ring holds: one copy out of the ring per look (the sends
// may complete later, in libuv's queue, and the ring's space is reused at once), then a
// datagram per record. Found empty, ask the port for a ping (and look once more: a record
// written just before the ask would otherwise wait unannounced).
function txDrain(p) {
  p.txScheduled = false;
  if (p.closed) return;
  const t = p.tx;
  for (;;) {
    let tail = Atomics.load(t.h, TAIL);
    const head = Atomics.load(t.h, HEAD);
    if (head === tail) {
      Atomics.store(t.h, WANT, 1);
      if (Atomics.load(t.h, HEAD) === tail) return;
      Atomics.store(t.h, WANT, 0);
      continue;
    }
    if (p.sock.getSendQueueCount() > TX_QUEUE_MAX) break;
    // [tail, end): up to head, or to the end of the data area, where a WRAP record may sit.
    const end = head > tail ? head : t.cap;
    const chunk = t.d.slice(tail, end);
    const w = new Uint32Array(chunk.buffer);
    let off = 0;
    while (off < chunk.length) {
      const len = w[off >>> 2];
      if (len === WRAP) {
        off = chunk.length;
        break;
      }
      p.sock.send(new Uint8Array(chunk.buffer, off + 8, len), p.rport, p.raddr);
      off += 8 + ((len + 3) & ~3);
    }
    tail += off;
    if (tail >= t.cap) tail = 0;
    Atomics.store(t.h, TAIL, tail);
    // Let the loop run (libuv sends what was queued) before the next look.
    break;
  }
  if (!p.txScheduled) {
    p.txScheduled = true;
    setImmediate(txDrain, p);
  }
}

parentPort.on("message", (m) => {
  if (m.t === "open") {
    const sock = dgram.createSocket({ type: m.type });
    const rx = ring(m.sab);
    const p = { sock, h: rx.h, w: rx.w, d: rx.d, cap: rx.cap, tx: ring(m.txSab), rport: m.rport, raddr: m.raddr, txScheduled: false, closed: false };
    socks.set(m.id, p);
    let bound = false;
    sock.on("error", (e) => {
      if (!bound) {
        socks.delete(m.id);
        try { sock.close(); } catch {}
        parentPort.postMessage({ t: "bindError", id: m.id, message: e.message });
      } else parentPort.postMessage({ t: "error", id: m.id, message: e.message });
    });
    sock.on("listening", () => {
      bound = true;
      try {
        sock.setRecvBufferSize(m.rcvbuf);
        sock.setSendBufferSize(m.rcvbuf);
      } catch {}
      const a = sock.address();
      parentPort.postMessage({ t: "bound", id: m.id, address: a.address, port: a.port, rcvbuf: sock.getRecvBufferSize() });
    });
    sock.on("message", (msg, rinfo) => {
      if (!ringPut(p.h, p.w, p.d, p.cap, msg, rxqBucket(rinfo.address, rinfo.port))) {
        Atomics.add(p.h, DROPS, 1);
        return;
      }
      if (Atomics.load(p.h, WANT) === 1) {
        Atomics.store(p.h, WANT, 0);
        parentPort.postMessage({ t: "rx", id: m.id });
      }
    });
    sock.on("close", () => parentPort.postMessage({ t: "closed", id: m.id }));
    sock.bind(m.port, m.address);
  } else if (m.t === "tx") {
    const p = socks.get(m.id);
    if (p && !p.txScheduled) txDrain(p);
  } else if (m.t === "remote") {
    const p = socks.get(m.id);
    if (!p) return;
    p.rport = m.rport;
    p.raddr = m.raddr;
  } else if (m.t === "close") {
    const p = socks.get(m.id);
    if (!p) return;
    socks.delete(m.id);
    p.closed = true;
    p.sock.close();
  }
});
`;

/** What a ThreadSocket tells its port. */
export interface ThreadSocketEvents {
  /** Records are waiting in the ring (the main thread asked to be told). */
  rx(): void;
  /** The socket reported an error after it was bound (a send that failed, mostly). */
  error(message: string): void;
  /** The socket is closed (asked, or the worker died). */
  closed(): void;
}

class RxThread {
  readonly worker: Worker;
  /** Whether the worker runs with BATCH_FLAG (libuv sends its queue with sendmmsg). */
  readonly batched: boolean;
  readonly socks = new Map<number, ThreadSocket>();
  private nextId = 1;
  private linger?: ReturnType<typeof setTimeout>;
  dead = false;

  constructor() {
    // No loader flags (tsx): the program is plain JavaScript, and the worker starts faster.
    let worker: Worker | undefined;
    if (batchSends) {
      try {
        worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [BATCH_FLAG] });
      } catch {
        // ERR_WORKER_INVALID_EXEC_ARGV: this Node does not have the flag; send one by one.
      }
    }
    this.worker = worker ?? new Worker(WORKER_SOURCE, { eval: true, execArgv: [] });
    this.batched = worker !== undefined;
    this.worker.on("message", (m) => this.socks.get(m.id)?.onMessage(m));
    const die = (why: string) => {
      if (this.dead) return;
      this.dead = true;
      if (shared === this) shared = undefined;
      for (const s of [...this.socks.values()]) s.onDeath(why);
      this.socks.clear();
    };
    this.worker.on("error", (e) => die(`the receive thread failed: ${e.message}`));
    this.worker.on("exit", (code) => die(`the receive thread exited (code ${code})`));
  }

  add(s: ThreadSocket): number {
    const id = this.nextId++;
    this.socks.set(id, s);
    if (this.linger !== undefined) {
      clearTimeout(this.linger);
      this.linger = undefined;
      this.worker.ref();
    }
    return id;
  }

  remove(id: number): void {
    this.socks.delete(id);
    if (this.socks.size > 0 || this.dead || this.linger !== undefined) return;
    this.worker.unref();
    this.linger = setTimeout(() => {
      this.linger = undefined;
      if (this.socks.size > 0 || this.dead) return;
      this.dead = true;
      if (shared === this) shared = undefined;
      void this.worker.terminate();
    }, LINGER_MS);
    this.linger.unref();
  }
}

let shared: RxThread | undefined;

/**
 * The receive thread's Worker while it runs (for tests and diagnostics: there is one per
 * process, and none once the last port's socket has closed).
 */
export function vxlanRxThread(): Worker | undefined {
  return shared?.worker;
}

/** One port's socket, living in the receive thread. */
export class ThreadSocket {
  private readonly thread: RxThread;
  private readonly id: number;
  private readonly sab: SharedArrayBuffer;
  private readonly h: Int32Array;
  private readonly w: Uint32Array;
  private readonly d: Uint8Array;
  private readonly cap: number;
  private readonly txSab: SharedArrayBuffer;
  private readonly txh: Int32Array;
  private readonly txw: Uint32Array;
  private readonly txd: Uint8Array;
  private readonly txCap: number;
  private rport: number;
  private raddr: string;
  private sentRemote: { port: number; address: string };
  /** Frames dropped because the tx ring to the worker was full. */
  txDrops = 0;
  private bindWaiter?: { resolve: (a: { address: string; port: number }) => void; reject: (e: Error) => void };
  private rcvbuf = 0;
  private gone = false;
  events?: ThreadSocketEvents;

  /**
   * @param ringBytes size of the ring the worker fills (a multiple of 4).
   * @param txRingBytes size of the ring the port fills with frames to send (a multiple of 4).
   * @param remote where datagrams go (setRemote changes it).
   */
  constructor(ringBytes: number, txRingBytes: number, remote: { port: number; address: string }) {
    this.thread = shared ??= new RxThread();
    this.id = this.thread.add(this);
    this.sab = new SharedArrayBuffer(HDR_BYTES + ringBytes);
    this.h = new Int32Array(this.sab, 0, HDR_BYTES / 4);
    this.w = new Uint32Array(this.sab, HDR_BYTES);
    this.d = new Uint8Array(this.sab, HDR_BYTES);
    this.cap = ringBytes;
    this.txSab = new SharedArrayBuffer(HDR_BYTES + txRingBytes);
    this.txh = new Int32Array(this.txSab, 0, HDR_BYTES / 4);
    this.txw = new Uint32Array(this.txSab, HDR_BYTES);
    this.txd = new Uint8Array(this.txSab, HDR_BYTES);
    this.txCap = txRingBytes;
    // The worker looks at the tx ring when pinged: it wants the first ping.
    Atomics.store(this.txh, WANT, 1);
    this.rport = remote.port;
    this.raddr = remote.address;
    this.sentRemote = remote;
  }

  /** Whether the worker sends with sendmmsg batches (Node took --test-udp-no-try-send for it). */
  get batched(): boolean {
    return this.thread.batched;
  }

  /** Bind in the worker; resolves with the bound address, rejects with the OS's message. */
  bind(type: "udp4" | "udp6", port: number, address: string, rcvbuf: number): Promise<{ address: string; port: number }> {
    return new Promise((resolve, reject) => {
      this.bindWaiter = { resolve, reject };
      this.thread.worker.postMessage({ t: "open", id: this.id, type, port, address, rcvbuf, sab: this.sab, txSab: this.txSab, rport: this.rport, raddr: this.raddr });
    });
  }

  onMessage(m: { t: string; message?: string; address?: string; port?: number; rcvbuf?: number }): void {
    switch (m.t) {
      case "rx":
        this.events?.rx();
        break;
      case "bound":
        this.rcvbuf = m.rcvbuf!;
        this.bindWaiter?.resolve({ address: m.address!, port: m.port! });
        this.bindWaiter = undefined;
        break;
      case "bindError":
        this.gone = true;
        this.thread.remove(this.id);
        this.bindWaiter?.reject(new Error(m.message));
        this.bindWaiter = undefined;
        break;
      case "error":
        this.events?.error(m.message!);
        break;
      case "closed":
        this.gone = true;
        this.thread.remove(this.id);
        this.events?.closed();
        break;
    }
  }

  onDeath(why: string): void {
    if (this.gone) return;
    this.gone = true;
    this.bindWaiter?.reject(new Error(why));
    this.bindWaiter = undefined;
    this.events?.error(why);
    this.events?.closed();
  }

  /** Copy one datagram into the tx ring (d may be a view of kernel memory); false: the ring was full and it was dropped (counted). */
  send(d: Uint8Array): boolean {
    if (ringPut(this.txh, this.txw, this.txd, this.txCap, d, 0)) return true;
    this.txDrops++;
    return false;
  }

  /** Where datagrams go from the worker's next look at the tx ring on. */
  setRemote(port: number, address: string): void {
    this.rport = port;
    this.raddr = address;
  }

  /** After a kernel entry's send()s: tell the worker, if it is waiting for a ping (one message, not one per datagram). */
  sendFlush(): void {
    if (this.gone) return;
    if (this.sentRemote.port !== this.rport || this.sentRemote.address !== this.raddr) {
      this.sentRemote = { port: this.rport, address: this.raddr };
      this.thread.worker.postMessage({ t: "remote", id: this.id, rport: this.rport, raddr: this.raddr });
    }
    if (Atomics.load(this.txh, HEAD) === Atomics.load(this.txh, TAIL)) return;
    if (Atomics.load(this.txh, WANT) === 1) {
      Atomics.store(this.txh, WANT, 0);
      this.thread.worker.postMessage({ t: "tx", id: this.id });
    }
  }

  /**
   * Take up to `max` datagrams from the ring, oldest first: each(bucket, copy). When the ring
   * is found empty, ask the worker for an "rx" ping (then look once more: a datagram written
   * just before the ask would otherwise wait unannounced). Returns the datagrams taken.
   */
  take(max: number, each: (bucket: number, d: Uint8Array) => void): number {
    let n = 0;
    let tail = Atomics.load(this.h, TAIL);
    for (let asked = false; n < max; ) {
      const head = Atomics.load(this.h, HEAD);
      if (head === tail) {
        if (asked) break;
        Atomics.store(this.h, TAIL, tail);
        Atomics.store(this.h, WANT, 1);
        asked = true;
        continue;
      }
      const len = this.w[tail >>> 2];
      if (len === WRAP) {
        tail = 0;
        continue;
      }
      each(this.w[(tail >>> 2) + 1], this.d.slice(tail + 8, tail + 8 + len));
      n++;
      tail += 8 + ((len + 3) & ~3);
      if (tail === this.cap) tail = 0;
      // Free the space as we go: the worker may be writing right now.
      if ((n & 63) === 0) Atomics.store(this.h, TAIL, tail);
    }
    Atomics.store(this.h, TAIL, tail);
    return n;
  }

  /** Datagrams the worker dropped because the ring was full. */
  get ringDrops(): number {
    return Atomics.load(this.h, DROPS);
  }

  /** The socket's receive buffer as the OS gave it (Linux reports twice what was set). */
  recvBufferSize(): number {
    return this.gone ? 0 : this.rcvbuf;
  }

  close(): void {
    if (this.gone) return;
    this.thread.worker.postMessage({ t: "close", id: this.id });
  }
}
